//! File names of a bundle and the keys of partitioned-tensor slices (tf_formats.md §0, §2.6).
//!
//! ```text
//! prefix P (may contain dots: "ckpt-3", "model.ckpt")
//!   P.index                      the SSTable
//!   P.data-00000-of-00002        shard 0 of 2 ("%05d", widens past 5 digits)
//!
//! slice key (TF's EncodeTensorNameSlice, OrderedCode "increasing" encodings):
//!   NumIncreasing(0) ++ String(name) ++ NumIncreasing(rank)
//!     ++ for each dim: SignedNumIncreasing(start) ++ SignedNumIncreasing(length)   // full = (0, -1)
//!   NumIncreasing(v)       [len: u8 (0..=8)][v big-endian, no leading zero bytes]
//!   String(s)              s with 00 -> 00 ff and ff -> ff 00, then 00 01
//!   SignedNumIncreasing(v) 1..=10 bytes; the leading bits of (v < 0 ? ~v : v)'s encoding give
//!                          the length in unary; negative numbers are the bitwise complement
//!   e.g. "part_var" rows 0..2 of [4, 3]:  00 | 'part_var' 00 01 | 01 02 | 80 82 | 80 7f
//! ```
//! All slice keys start with 0x00, so they sort right after the header key "".

use std::ffi::OsString;
use std::path::{Path, PathBuf};

use crate::error::{Error, Result};

/// `P.index`. The suffix is appended to the whole prefix, never swapped for an extension:
/// `model.ckpt` must give `model.ckpt.index`.
pub fn index_path(prefix: &Path) -> PathBuf {
    with_suffix(prefix, ".index")
}

/// `P.data-{shard:05}-of-{num_shards:05}`, as TF builds it from the header's `num_shards`.
pub fn data_path(prefix: &Path, shard: u32, num_shards: u32) -> PathBuf {
    with_suffix(prefix, &format!(".data-{shard:05}-of-{num_shards:05}"))
}

fn with_suffix(prefix: &Path, suffix: &str) -> PathBuf {
    let mut s: OsString = prefix.as_os_str().to_os_string();
    s.push(suffix);
    PathBuf::from(s)
}

/// If `name` (a file name, not a path) is `X.data-NNNNN-of-MMMMM`, returns `X`; used to turn a
/// data shard path someone passed in back into its prefix.
pub fn strip_data_suffix(name: &str) -> Option<&str> {
    let at = name.rfind(".data-")?;
    let rest = name.get(at + ".data-".len()..)?;
    let (shard, num) = rest.split_once("-of-")?;
    let digits = |s: &str| s.len() >= 5 && s.bytes().all(|b| b.is_ascii_digit());
    (digits(shard) && digits(num)).then(|| &name[..at])
}

/// `(start, length)` per dimension; `(0, -1)` is a full dimension.
pub type Extents = Vec<(i64, i64)>;

/// TF's `EncodeTensorNameSlice`: the bundle key of one slice of a partitioned tensor.
/// `extents` are `(start, length)` per dimension; a full dimension is `(0, -1)`.
pub fn encode_slice_key(name: &[u8], extents: &[(i64, i64)]) -> Vec<u8> {
    let mut out = Vec::with_capacity(name.len() + 4 + 4 * extents.len());
    write_num_increasing(&mut out, 0);
    write_string(&mut out, name);
    write_num_increasing(&mut out, extents.len() as u64);
    for &(start, length) in extents {
        write_signed_num_increasing(&mut out, start);
        write_signed_num_increasing(&mut out, length);
    }
    out
}

/// Inverse of [`encode_slice_key`]. Rejects anything [`encode_slice_key`] would not produce
/// (trailing bytes, non-minimal numbers): TF finds slices by re-encoding, so such a key could
/// never be looked up.
pub fn decode_slice_key(key: &[u8]) -> Result<(Vec<u8>, Extents)> {
    let bad = |why: &str| {
        Error::corrupt(format!(
            "bad tensor slice key {}: {why}",
            key.escape_ascii()
        ))
    };
    let mut rest = key;
    let tag = read_num_increasing(&mut rest).ok_or_else(|| bad("truncated leading number"))?;
    if tag != 0 {
        return Err(bad("does not start with 0"));
    }
    let name = read_string(&mut rest).ok_or_else(|| bad("bad or unterminated name"))?;
    let rank = read_num_increasing(&mut rest).ok_or_else(|| bad("truncated rank"))?;
    // Each dimension takes at least two bytes; check before allocating.
    if rank > (rest.len() / 2) as u64 {
        return Err(bad(&format!(
            "rank {rank} does not fit in {} bytes",
            rest.len()
        )));
    }
    let mut extents = Vec::with_capacity(rank as usize);
    for d in 0..rank {
        let start = read_signed_num_increasing(&mut rest);
        let length = read_signed_num_increasing(&mut rest);
        match (start, length) {
            (Some(s), Some(l)) => extents.push((s, l)),
            _ => return Err(bad(&format!("bad extent for dimension {d}"))),
        }
    }
    if !rest.is_empty() {
        return Err(bad(&format!("{} trailing bytes", rest.len())));
    }
    if encode_slice_key(&name, &extents) != key {
        return Err(bad("not in canonical form"));
    }
    Ok((name, extents))
}

fn write_num_increasing(out: &mut Vec<u8>, v: u64) {
    let bytes = v.to_be_bytes();
    let skip = (v.leading_zeros() / 8) as usize; // 8 for v == 0
    out.push((8 - skip) as u8);
    out.extend_from_slice(&bytes[skip..]);
}

fn read_num_increasing(src: &mut &[u8]) -> Option<u64> {
    let (&len, rest) = src.split_first()?;
    let len = usize::from(len);
    if len > 8 {
        return None;
    }
    let digits = rest.get(..len)?;
    let v = digits
        .iter()
        .fold(0u64, |acc, &b| (acc << 8) | u64::from(b));
    *src = &rest[len..];
    Some(v)
}

fn write_string(out: &mut Vec<u8>, s: &[u8]) {
    for &b in s {
        match b {
            0x00 => out.extend_from_slice(&[0x00, 0xff]),
            0xff => out.extend_from_slice(&[0xff, 0x00]),
            b => out.push(b),
        }
    }
    out.extend_from_slice(&[0x00, 0x01]);
}

fn read_string(src: &mut &[u8]) -> Option<Vec<u8>> {
    let mut out = Vec::new();
    let mut i = 0;
    loop {
        match *src.get(i)? {
            0x00 => match *src.get(i + 1)? {
                0x01 => {
                    *src = &src[i + 2..];
                    return Some(out);
                }
                0xff => out.push(0x00),
                _ => return None,
            },
            0xff => match *src.get(i + 1)? {
                0x00 => out.push(0xff),
                _ => return None,
            },
            b => {
                out.push(b);
                i += 1;
                continue;
            }
        }
        i += 2;
    }
}

/// Length in bytes of the signed encoding of a non-negative `x` (`v` or `!v`): one byte per 7
/// significant bits, counting the sign bit (TF's `kBitsToLength`).
fn signed_len(x: u64) -> usize {
    let bits = 64 - x.leading_zeros() as usize; // 0..=63, since x < 2^63
    bits / 7 + 1
}

fn write_signed_num_increasing(out: &mut Vec<u8>, v: i64) {
    let x = if v < 0 { !v as u64 } else { v as u64 };
    let len = signed_len(x);
    // `len` header bits (ones) on top of the 80-bit sign extension of `v`, then the last `len`
    // bytes. For negative numbers the sign-extension ones make the header bits zeros.
    let wide = i128::from(v) as u128; // sign-extended two's complement
    let header: u128 = (!0u128) << (128 - len);
    let shifted_header = header >> (128 - 8 * len);
    let encoded = (wide ^ shifted_header).to_be_bytes();
    out.extend_from_slice(&encoded[16 - len..]);
}

fn read_signed_num_increasing(src: &mut &[u8]) -> Option<i64> {
    let &first = src.first()?;
    let negative = first & 0x80 == 0;
    let flip = if negative { 0xffu8 } else { 0 };
    // In the "positive form" (all bytes of a negative number complemented) the length is the
    // number of leading one bits, followed by a zero bit.
    let b0 = first ^ flip;
    let b1 = src.get(1).map_or(0, |b| b ^ flip);
    let ones = u16::from_be_bytes([b0, b1]).leading_ones() as usize;
    let len = ones;
    if !(1..=10).contains(&len) {
        return None;
    }
    let bytes = src.get(..len)?;
    let mut positive: u128 = 0;
    for &b in bytes {
        positive = (positive << 8) | u128::from(b ^ flip);
    }
    let payload_bits = 8 * len - len; // drop the header bits
    let x = positive & ((1u128 << payload_bits) - 1);
    let x = u64::try_from(x).ok().filter(|&x| x <= i64::MAX as u64)?;
    *src = &src[len..];
    Some(if negative { !(x as i64) } else { x as i64 })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn enc_signed(v: i64) -> Vec<u8> {
        let mut out = Vec::new();
        write_signed_num_increasing(&mut out, v);
        out
    }

    #[test]
    fn paths() {
        let p = Path::new("/d/model.ckpt");
        assert_eq!(index_path(p), Path::new("/d/model.ckpt.index"));
        assert_eq!(
            data_path(p, 0, 1),
            Path::new("/d/model.ckpt.data-00000-of-00001")
        );
        let p = Path::new("ckpt-3");
        assert_eq!(
            data_path(p, 12, 123456),
            Path::new("ckpt-3.data-00012-of-123456")
        );
        assert_eq!(index_path(p), Path::new("ckpt-3.index"));
    }

    #[test]
    fn strip_data() {
        assert_eq!(
            strip_data_suffix("ckpt-3.data-00000-of-00001"),
            Some("ckpt-3")
        );
        assert_eq!(
            strip_data_suffix("a.data-1.data-00001-of-000002"),
            Some("a.data-1")
        );
        assert_eq!(strip_data_suffix("a.data-0000-of-00001"), None);
        assert_eq!(strip_data_suffix("a.data-00000-of-0000x"), None);
        assert_eq!(strip_data_suffix("a.index"), None);
    }

    #[test]
    fn spec_example() {
        let key = encode_slice_key(b"part_var", &[(0, 2), (0, -1)]);
        let mut expected = vec![0x00];
        expected.extend_from_slice(b"part_var");
        expected.extend_from_slice(&[0x00, 0x01, 0x01, 0x02, 0x80, 0x82, 0x80, 0x7f]);
        assert_eq!(key, expected);
        assert_eq!(
            decode_slice_key(&key).unwrap(),
            (b"part_var".to_vec(), vec![(0, 2), (0, -1)])
        );
    }

    #[test]
    fn num_increasing() {
        for (v, bytes) in [
            (0u64, &[0u8][..]),
            (1, &[1, 1]),
            (255, &[1, 255]),
            (256, &[2, 1, 0]),
            (u64::MAX, &[8, 255, 255, 255, 255, 255, 255, 255, 255]),
        ] {
            let mut out = Vec::new();
            write_num_increasing(&mut out, v);
            assert_eq!(out, bytes);
            let mut s = &out[..];
            assert_eq!(read_num_increasing(&mut s), Some(v));
            assert!(s.is_empty());
        }
        assert_eq!(
            read_num_increasing(&mut &[9u8, 0, 0, 0, 0, 0, 0, 0, 0, 0][..]),
            None
        );
        assert_eq!(read_num_increasing(&mut &[2u8, 0][..]), None);
    }

    #[test]
    fn signed_known_encodings() {
        // From the header table in tf_formats.md §2.6 and OrderedCode's own tests.
        assert_eq!(enc_signed(0), [0x80]);
        assert_eq!(enc_signed(2), [0x82]);
        assert_eq!(enc_signed(-1), [0x7f]);
        assert_eq!(enc_signed(63), [0xbf]);
        assert_eq!(enc_signed(-64), [0x40]);
        assert_eq!(enc_signed(64), [0xc0, 0x40]);
        assert_eq!(enc_signed(-65), [0x3f, 0xbf]);
        assert_eq!(enc_signed(8191), [0xdf, 0xff]);
        assert_eq!(enc_signed(8192), [0xe0, 0x20, 0x00]);
        assert_eq!(enc_signed(-8192), [0x20, 0x00]);
        assert_eq!(enc_signed(-8193), [0x1f, 0xdf, 0xff]);
        assert_eq!(
            enc_signed(i64::MAX),
            [0xff, 0xc0, 0x7f, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff]
        );
        assert_eq!(
            enc_signed(i64::MIN),
            [0x00, 0x3f, 0x80, 0, 0, 0, 0, 0, 0, 0]
        );
        assert_eq!(enc_signed(1 << 55).len(), 9);
        assert_eq!(enc_signed(1 << 55)[..2], [0xff, 0x80]);
        assert_eq!(enc_signed((1 << 55) - 1).len(), 8);
        assert_eq!(enc_signed((1 << 55) - 1)[..2], [0xff, 0x7f]);
    }

    #[test]
    fn signed_round_trip_and_order() {
        let mut values: Vec<i64> = vec![
            0,
            1,
            -1,
            63,
            64,
            -63,
            -64,
            -65,
            8191,
            8192,
            -8191,
            -8192,
            -8193,
            i64::MAX,
            i64::MIN,
            i64::MAX - 1,
            i64::MIN + 1,
        ];
        for shift in 0..63 {
            for delta in [-1i64, 0, 1] {
                values.push((1i64 << shift).wrapping_add(delta));
                values.push((-(1i64 << shift)).wrapping_add(delta));
            }
        }
        let mut x: u64 = 0x9e37_79b9_7f4a_7c15;
        for _ in 0..2000 {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            values.push(x as i64 >> (x % 64));
        }
        for &v in &values {
            let e = enc_signed(v);
            let mut s = &e[..];
            assert_eq!(read_signed_num_increasing(&mut s), Some(v), "{v}: {e:02x?}");
            assert!(s.is_empty());
        }
        // "Increasing": the byte order of the encodings is the numeric order.
        values.sort_unstable();
        values.dedup();
        for w in values.windows(2) {
            assert!(enc_signed(w[0]) < enc_signed(w[1]), "{} vs {}", w[0], w[1]);
        }
    }

    #[test]
    fn names_with_escapes_round_trip() {
        for name in [
            &b""[..],
            b"\x00",
            b"\xff",
            b"a\x00\xffb",
            b"\x00\x01",
            b"\xff\x00",
            b"layer/kernel",
        ] {
            for extents in [vec![], vec![(0, -1)], vec![(-5, 3), (i64::MIN, i64::MAX)]] {
                let key = encode_slice_key(name, &extents);
                assert_eq!(key[0], 0);
                assert_eq!(decode_slice_key(&key).unwrap(), (name.to_vec(), extents));
            }
        }
        assert_eq!(
            encode_slice_key(b"a\x00\xff", &[]),
            [0x00, b'a', 0x00, 0xff, 0xff, 0x00, 0x00, 0x01, 0x00]
        );
    }

    #[test]
    fn garbage_is_an_error_not_a_panic() {
        let good = encode_slice_key(b"w\x00", &[(3, 4), (-70000, 1 << 40)]);
        for cut in 0..good.len() {
            assert!(decode_slice_key(&good[..cut]).is_err(), "cut {cut}");
        }
        let mut trailing = good.clone();
        trailing.push(0x80);
        assert!(decode_slice_key(&trailing).is_err());
        for bad in [
            &b"\x01\x00"[..],                     // does not start with 0
            b"\x00a\x00\x02\x00",                 // bad escape in name
            b"\x00a\xff\x01\x00\x01\x00",         // bad escape after ff
            b"\x00a\x00\x01\xff\x80",             // rank with 255 length bytes
            b"\x00a\x00\x01\x01\x05\x80\x80",     // rank 5, data for 1
            b"\x00a\x00\x01\x01\x01\xff\xff\xff", // over-long signed header
            b"\x00a\x00\x01\x01\x01\xc0\x01\x80", // 2-byte encoding of 1: not canonical
            b"\x01\x00a\x00\x01\x00",             // num 0 with a zero digit: not canonical
        ] {
            assert!(decode_slice_key(bad).is_err(), "{bad:02x?}");
        }
        let mut x: u64 = 12345;
        for _ in 0..20000 {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            let len = (x % 24) as usize;
            let bytes: Vec<u8> = (0..len)
                .map(|i| (x >> (i % 8 * 8)) as u8 ^ i as u8)
                .collect();
            let mut key = vec![0u8];
            key.extend_from_slice(&bytes);
            let _ = decode_slice_key(&key);
            let _ = decode_slice_key(&bytes);
        }
    }
}
