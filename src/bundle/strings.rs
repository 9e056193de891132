//! DT_STRING and DT_VARIANT payload codecs (tf_formats.md §2.4, §2.5).
//!
//! ```text
//! DT_STRING, n elements (n = 1 for a scalar):
//! +--------------+-----+----------------+------------------+------------------------------+
//! | varint64 l0  | ... | varint64 l n-1 | u32 Mask(crc_L)  | s0 || s1 || ... || s n-1     |
//! +--------------+-----+----------------+------------------+------------------------------+
//!   crc_L     = crc32c over the lengths as FIXED-WIDTH ints (u32 if <= u32::MAX, else u64),
//!               in the header's byte order (not over the varint bytes)
//!   entry crc = Mask(extend(extend(crc_L, the 4 stored bytes), s0 .. s n-1))
//!
//! DT_VARIANT, per element (little-endian bundles only):
//! +--------------+------------------------------------------+------------------------+
//! | varint64 len | len bytes: serialized VariantTensorData  | u32 Mask(running crc)  |
//! +--------------+------------------------------------------+------------------------+
//!   running crc extends over len as u64 (8 bytes), the payload, then the 4 stored bytes;
//!   entry crc = Mask(final running crc)
//! ```
//!
//! Decoders take the payload slice and the element count from the (already validated) entry and
//! check every length against the bytes that are actually there *before* allocating, so a corrupt
//! entry can never make us reserve more than the payload size.

use crate::checksum::{crc32c_extend, mask};
use crate::error::{Error, Result};
use crate::varint::{encode_u64, Cursor};

/// Smallest possible string payload for `n` elements: one varint byte each plus the length CRC.
pub(crate) fn min_string_size(n: u64) -> Option<u64> {
    n.checked_add(4)
}

/// Smallest possible variant payload for `n` elements: one varint byte plus a 4-byte CRC each.
pub(crate) fn min_variant_size(n: u64) -> Option<u64> {
    n.checked_mul(5)
}

/// Extends `crc` with a string length the way TF checksums it: 4 bytes when it fits in u32
/// (older checkpoints only had u32 lengths), else 8, in the bundle's byte order.
fn extend_with_length(crc: u32, len: u64, big_endian: bool) -> u32 {
    match u32::try_from(len) {
        Ok(l) => {
            let b = if big_endian {
                l.to_be_bytes()
            } else {
                l.to_le_bytes()
            };
            crc32c_extend(crc, &b)
        }
        Err(_) => {
            let b = if big_endian {
                len.to_be_bytes()
            } else {
                len.to_le_bytes()
            };
            crc32c_extend(crc, &b)
        }
    }
}

/// The part of a string payload before the string bytes (varint lengths + stored length CRC),
/// and the running (unmasked) entry CRC after it. The writer streams the strings after this
/// header and continues the CRC over them, so it never builds the whole payload in memory.
pub(crate) fn string_header(strings: &[&[u8]], big_endian: bool) -> (Vec<u8>, u32) {
    let mut header = Vec::with_capacity(strings.len().saturating_add(4));
    let mut crc = 0u32;
    for s in strings {
        let len = s.len() as u64;
        encode_u64(&mut header, len);
        crc = extend_with_length(crc, len, big_endian);
    }
    let stored = mask(crc);
    let stored = if big_endian {
        stored.to_be_bytes()
    } else {
        stored.to_le_bytes()
    };
    header.extend_from_slice(&stored);
    (header, crc32c_extend(crc, &stored))
}

/// Complete string payload and its masked entry CRC (tests and small tensors).
#[cfg(test)]
pub(crate) fn encode_strings(strings: &[&[u8]], big_endian: bool) -> (Vec<u8>, u32) {
    let (mut out, mut crc) = string_header(strings, big_endian);
    for s in strings {
        out.extend_from_slice(s);
        crc = crc32c_extend(crc, s);
    }
    (out, mask(crc))
}

/// The "Checksum does not match" error, worded like TF's DataLoss. Both values are masked so
/// they can be compared with what the index stores.
pub(crate) fn checksum_error(stored_masked: u32, actual_unmasked: u32) -> Error {
    Error::corrupt(format!(
        "Checksum does not match: stored {stored_masked:#010x} vs. calculated on the restored bytes {:#010x}",
        mask(actual_unmasked)
    ))
}

/// Decodes a DT_STRING payload of `n` elements. `expected_crc` (masked, from the entry) turns on
/// verification of both the length CRC and the entry CRC.
///
/// Like TF, bytes after the last string are tolerated (TF only checks `size >= n + sum(len)`) and
/// are not covered by the CRC.
pub(crate) fn decode_strings(
    buf: &[u8],
    n: u64,
    big_endian: bool,
    expected_crc: Option<u32>,
) -> Result<Vec<Vec<u8>>> {
    let fits = min_string_size(n).is_some_and(|min| min <= buf.len() as u64);
    if !fits {
        return Err(Error::corrupt(format!(
            "string tensor of {n} elements cannot fit in {} bytes",
            buf.len()
        )));
    }
    // n <= buf.len() now, so this reservation is bounded by the payload.
    let count = n as usize;
    let mut lengths = Vec::with_capacity(count);
    let mut cur = Cursor::new(buf);
    let mut crc = 0u32;
    let mut total: u64 = 0;
    for i in 0..count {
        let len = cur
            .u64()
            .map_err(|e| Error::corrupt(format!("string length {i}: {e}")))?;
        if expected_crc.is_some() {
            crc = extend_with_length(crc, len, big_endian);
        }
        total = total
            .checked_add(len)
            .ok_or_else(|| Error::corrupt("string lengths overflow 64 bits"))?;
        lengths.push(len);
    }
    let stored_bytes = cur
        .bytes(4)
        .map_err(|_| Error::corrupt("string tensor: missing length checksum"))?;
    let stored_arr: [u8; 4] = stored_bytes
        .try_into()
        .map_err(|_| Error::corrupt("short length checksum"))?;
    let stored = if big_endian {
        u32::from_be_bytes(stored_arr)
    } else {
        u32::from_le_bytes(stored_arr)
    };
    let remaining = cur.remaining().len() as u64;
    if total > remaining {
        return Err(Error::corrupt(format!(
            "string lengths add up to {total} bytes but only {remaining} bytes follow them"
        )));
    }
    if expected_crc.is_some() {
        if stored != mask(crc) {
            return Err(Error::corrupt(format!(
                "string length checksum does not match: stored {stored:#010x} vs. calculated {:#010x}",
                mask(crc)
            )));
        }
        crc = crc32c_extend(crc, stored_bytes);
    }
    let mut out = Vec::with_capacity(count);
    for len in lengths {
        // total <= remaining, so every len fits in usize and in the buffer.
        let s = cur.bytes(len as usize)?;
        if expected_crc.is_some() {
            crc = crc32c_extend(crc, s);
        }
        out.push(s.to_vec());
    }
    if let Some(expected) = expected_crc {
        if mask(crc) != expected {
            return Err(checksum_error(expected, crc));
        }
    }
    Ok(out)
}

/// Decodes a DT_VARIANT payload of `n` elements into the serialized `VariantTensorDataProto`s.
/// Only little-endian bundles (TF refuses variants across endianness; the caller checks).
pub(crate) fn decode_variants(
    buf: &[u8],
    n: u64,
    expected_crc: Option<u32>,
) -> Result<Vec<Vec<u8>>> {
    let fits = min_variant_size(n).is_some_and(|min| min <= buf.len() as u64);
    if !fits {
        return Err(Error::corrupt(format!(
            "variant tensor of {n} elements cannot fit in {} bytes",
            buf.len()
        )));
    }
    let count = n as usize;
    let mut out = Vec::with_capacity(count);
    let mut cur = Cursor::new(buf);
    let mut crc = 0u32;
    for i in 0..count {
        let len = cur
            .u64()
            .map_err(|e| Error::corrupt(format!("variant element {i}: {e}")))?;
        let len_usize = usize::try_from(len)
            .ok()
            .filter(|&l| l <= cur.remaining().len())
            .ok_or_else(|| {
                Error::corrupt(format!(
                    "variant element {i}: length {len} runs past the payload"
                ))
            })?;
        let payload = cur.bytes(len_usize)?;
        let stored_bytes = cur
            .bytes(4)
            .map_err(|_| Error::corrupt(format!("variant element {i}: missing checksum")))?;
        if expected_crc.is_some() {
            crc = crc32c_extend(crc, &len.to_le_bytes());
            crc = crc32c_extend(crc, payload);
            let arr: [u8; 4] = stored_bytes
                .try_into()
                .map_err(|_| Error::corrupt("short variant checksum"))?;
            let stored = u32::from_le_bytes(arr);
            if stored != mask(crc) {
                return Err(Error::corrupt(format!(
                    "variant element {i}: checksum does not match: stored {stored:#010x} vs. calculated {:#010x}",
                    mask(crc)
                )));
            }
            crc = crc32c_extend(crc, stored_bytes);
        }
        out.push(payload.to_vec());
    }
    if let Some(expected) = expected_crc {
        if mask(crc) != expected {
            return Err(checksum_error(expected, crc));
        }
    }
    Ok(out)
}

/// Encodes a DT_VARIANT payload (tests: TF's own writer is the only producer in practice).
#[cfg(test)]
pub(crate) fn encode_variants(elements: &[&[u8]]) -> (Vec<u8>, u32) {
    let mut out = Vec::new();
    let mut crc = 0u32;
    for e in elements {
        encode_u64(&mut out, e.len() as u64);
        crc = crc32c_extend(crc, &(e.len() as u64).to_le_bytes());
        out.extend_from_slice(e);
        crc = crc32c_extend(crc, e);
        let stored = mask(crc).to_le_bytes();
        out.extend_from_slice(&stored);
        crc = crc32c_extend(crc, &stored);
    }
    (out, mask(crc))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tf_worked_example() {
        // tf_formats.md §1.7: s = ["ab", ""] -> 02 00 | 78 27 0b 34 | 61 62, crc 4db08891.
        let (bytes, crc) = encode_strings(&[b"ab", b""], false);
        assert_eq!(bytes, [0x02, 0x00, 0x78, 0x27, 0x0b, 0x34, 0x61, 0x62]);
        assert_eq!(crc, 0x4db0_8891);
        let back = decode_strings(&bytes, 2, false, Some(crc)).unwrap();
        assert_eq!(back, vec![b"ab".to_vec(), vec![]]);
    }

    #[test]
    fn spec_example_lengths() {
        let long = vec![b'x'; 200];
        let (bytes, crc) = encode_strings(&[b"hello", b"", b"w\0rld", &long], false);
        assert_eq!(
            &bytes[..9],
            &[0x05, 0x00, 0x05, 0xc8, 0x01, 0x0e, 0x0d, 0x99, 0x05]
        );
        assert_eq!(
            decode_strings(&bytes, 4, false, Some(crc)).unwrap()[3],
            long
        );
    }

    #[test]
    fn empty_string_tensor() {
        let (bytes, crc) = encode_strings(&[], false);
        assert_eq!(bytes, [0xd8, 0xea, 0x82, 0xa2]);
        assert!(decode_strings(&bytes, 0, false, Some(crc))
            .unwrap()
            .is_empty());
    }

    #[test]
    fn big_endian_strings() {
        let (bytes, crc) = encode_strings(&[b"ab", b"\xff\x00"], true);
        assert_eq!(
            decode_strings(&bytes, 2, true, Some(crc)).unwrap()[1],
            b"\xff\x00"
        );
        // Read with the wrong byte order: the length checksum no longer matches.
        assert!(decode_strings(&bytes, 2, false, Some(crc)).is_err());
    }

    #[test]
    fn bad_strings_are_errors() {
        let (bytes, crc) = encode_strings(&[b"abc", b"de"], false);
        // Too many elements for the bytes, without allocating for them.
        assert!(decode_strings(&bytes, 1 << 40, false, None).is_err());
        assert!(decode_strings(&bytes, u64::MAX, false, None).is_err());
        // Truncated payload.
        assert!(decode_strings(&bytes[..bytes.len() - 1], 2, false, None).is_err());
        // Flipped string byte: entry checksum.
        let mut flipped = bytes.clone();
        *flipped.last_mut().unwrap() ^= 1;
        let e = decode_strings(&flipped, 2, false, Some(crc)).unwrap_err();
        assert!(e.to_string().contains("Checksum does not match"), "{e}");
        // Length that claims more than is there.
        let mut long = bytes.clone();
        long[0] = 0x7f;
        assert!(decode_strings(&long, 2, false, None).is_err());
        // Length checksum.
        let mut lc = bytes.clone();
        lc[2] ^= 1;
        assert!(decode_strings(&lc, 2, false, Some(crc)).is_err());
        // Unterminated varint.
        assert!(decode_strings(&[0xff, 0xff, 0xff, 0xff, 0xff], 1, false, None).is_err());
    }

    #[test]
    fn variants_round_trip_and_checks() {
        let (bytes, crc) = encode_variants(&[b"\x0a\x03abc", b""]);
        let back = decode_variants(&bytes, 2, Some(crc)).unwrap();
        assert_eq!(back, vec![b"\x0a\x03abc".to_vec(), vec![]]);
        let mut bad = bytes.clone();
        bad[2] ^= 1;
        assert!(decode_variants(&bad, 2, Some(crc)).is_err());
        assert!(decode_variants(&bytes, 3, Some(crc)).is_err());
        assert!(decode_variants(&bytes, u64::MAX, None).is_err());
        assert!(decode_variants(&bytes[..bytes.len() - 1], 2, None).is_err());
    }
}
