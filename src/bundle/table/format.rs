//! Block handles, the footer and the per-block trailer (CRC + compression type).
//!
//! ```text
//! block:   [contents: size bytes][type: u8][masked crc32c(contents ++ type): u32 LE]
//! handle:  varint64 offset, varint64 size          (size excludes the 5-byte trailer)
//! footer:  [metaindex handle][index handle][zero padding to 40 bytes][magic: u64 LE] = 48 bytes
//! ```

use std::borrow::Cow;

use crate::checksum;
use crate::error::{Error, Result};
use crate::varint;

/// Bytes after every block: one type byte and a masked CRC32C.
pub const BLOCK_TRAILER_LEN: usize = 5;
/// The footer is always the last 48 bytes: two handles of at most 20 bytes each, padded, + magic.
pub const FOOTER_LEN: usize = 48;
/// The most bytes a varint64-encoded handle can take (2 * 10).
const MAX_HANDLE_LEN: usize = 20;
/// LevelDB's table magic number, stored little-endian in the footer's last 8 bytes.
pub const TABLE_MAGIC: u64 = 0xdb47_7524_8b80_fb57;

/// Trailer type byte: block stored as is.
pub const NO_COMPRESSION: u8 = 0;
/// Trailer type byte: block compressed with Snappy (raw format, no framing). TF never writes it
/// for bundles but its reader accepts it, so we do too.
pub const SNAPPY_COMPRESSION: u8 = 1;

/// A Snappy block may claim at most this many uncompressed bytes. TF's writer cuts blocks at
/// 256 KiB, so a real table is far below this; the cap stops a 20-byte header from asking for
/// gigabytes before anything is checked.
pub const MAX_UNCOMPRESSED_BLOCK: usize = 64 << 20;

/// Where a block lives in the file. `size` does not count the trailer.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct BlockHandle {
    pub offset: u64,
    pub size: u64,
}

impl BlockHandle {
    /// Appends the varint encoding (what index values and the footer hold).
    pub fn encode_to(&self, out: &mut Vec<u8>) {
        varint::encode_u64(out, self.offset);
        varint::encode_u64(out, self.size);
    }

    /// Decodes a handle at the start of `buf`; returns it and the bytes consumed. Trailing bytes
    /// are left alone (TF ignores whatever follows a handle in an index value).
    pub fn decode(buf: &[u8]) -> Result<(Self, usize)> {
        let bad = |e: Error| Error::corrupt(format!("bad block handle: {}", detail(&e)));
        let (offset, n1) = varint::decode_u64(buf).map_err(bad)?;
        let rest = buf.get(n1..).unwrap_or(&[]);
        let (size, n2) = varint::decode_u64(rest).map_err(bad)?;
        Ok((BlockHandle { offset, size }, n1 + n2))
    }
}

/// The last 48 bytes of a table.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Footer {
    pub metaindex: BlockHandle,
    pub index: BlockHandle,
}

impl Footer {
    /// The exact 48 bytes TF writes: handles, zero padding, magic.
    pub fn encode(&self) -> [u8; FOOTER_LEN] {
        let mut handles = Vec::with_capacity(MAX_HANDLE_LEN * 2);
        self.metaindex.encode_to(&mut handles);
        self.index.encode_to(&mut handles);
        let mut out = [0u8; FOOTER_LEN];
        // Two handles take at most 40 bytes, so this never truncates.
        let n = handles.len().min(FOOTER_LEN - 8);
        out[..n].copy_from_slice(&handles[..n]);
        out[FOOTER_LEN - 8..].copy_from_slice(&TABLE_MAGIC.to_le_bytes());
        out
    }

    /// Decodes the footer from the last [`FOOTER_LEN`] bytes of `file`. The magic is checked
    /// first, as TF does, so a truncated file reports "bad magic number". The padding is not
    /// checked (TF does not either).
    pub fn decode(file: &[u8]) -> Result<Self> {
        let start = file.len().checked_sub(FOOTER_LEN).ok_or_else(|| {
            Error::corrupt(format!(
                "file is too short to be an sstable ({} bytes, the footer alone is {FOOTER_LEN})",
                file.len()
            ))
        })?;
        let footer = file.get(start..).unwrap_or(&[]);
        let magic = footer
            .get(FOOTER_LEN - 8..)
            .and_then(|m| <[u8; 8]>::try_from(m).ok())
            .map(u64::from_le_bytes)
            .unwrap_or(0);
        if magic != TABLE_MAGIC {
            return Err(Error::corrupt(format!(
                "not an sstable (bad magic number {magic:#018x} at offset {})",
                start + FOOTER_LEN - 8
            )));
        }
        let handles = footer.get(..FOOTER_LEN - 8).unwrap_or(&[]);
        let (metaindex, n) = BlockHandle::decode(handles)?;
        let (index, _) = BlockHandle::decode(handles.get(n..).unwrap_or(&[]))?;
        Ok(Footer { metaindex, index })
    }
}

/// The 5-byte trailer for `contents` stored with compression `kind`.
pub fn block_trailer(contents: &[u8], kind: u8) -> [u8; BLOCK_TRAILER_LEN] {
    let crc = checksum::crc32c_extend(checksum::crc32c(contents), &[kind]);
    let mut t = [0u8; BLOCK_TRAILER_LEN];
    t[0] = kind;
    t[1..].copy_from_slice(&checksum::mask(crc).to_le_bytes());
    t
}

/// Reads the block at `handle`, which with its trailer must lie within `file[..limit]`, checks
/// the trailer CRC and undoes Snappy compression. Raw blocks are borrowed, never copied.
pub fn read_block<'a>(file: &'a [u8], handle: BlockHandle, limit: usize) -> Result<Cow<'a, [u8]>> {
    let BlockHandle { offset, size } = handle;
    let end = offset
        .checked_add(size)
        .and_then(|e| e.checked_add(BLOCK_TRAILER_LEN as u64))
        .filter(|&e| e <= limit as u64);
    let (start, end) = match end {
        Some(end) => (offset as usize, end as usize), // both <= limit <= usize::MAX
        None => {
            return Err(Error::corrupt(format!(
            "truncated block read: block at offset {offset} of {size} bytes (+{BLOCK_TRAILER_LEN} \
                 trailer) runs past the end of the blocks region ({limit} bytes)"
        )))
        }
    };
    let whole = file
        .get(start..end)
        .ok_or_else(|| Error::corrupt("truncated block read"))?;
    let (contents, trailer) = whole.split_at(whole.len() - BLOCK_TRAILER_LEN);
    let kind = trailer[0];
    let stored = u32::from_le_bytes([trailer[1], trailer[2], trailer[3], trailer[4]]);
    let actual = checksum::crc32c_extend(checksum::crc32c(contents), &[kind]);
    if checksum::unmask(stored) != actual {
        return Err(Error::corrupt(format!(
            "block checksum mismatch: block at offset {offset} ({size} bytes): stored {:#010x}, \
             computed {:#010x}",
            checksum::unmask(stored),
            actual
        )));
    }
    match kind {
        NO_COMPRESSION => Ok(Cow::Borrowed(contents)),
        SNAPPY_COMPRESSION => decompress(contents, offset).map(Cow::Owned),
        other => Err(Error::corrupt(format!(
            "bad block type {other} for block at offset {offset}"
        ))),
    }
}

fn decompress(contents: &[u8], offset: u64) -> Result<Vec<u8>> {
    let corrupted = |why: String| {
        Error::corrupt(format!(
            "corrupted compressed block contents: block at offset {offset}: {why}"
        ))
    };
    let claimed = snap::raw::decompress_len(contents).map_err(|e| corrupted(e.to_string()))?;
    if claimed > MAX_UNCOMPRESSED_BLOCK {
        return Err(corrupted(format!(
            "claims {claimed} uncompressed bytes, more than the {MAX_UNCOMPRESSED_BLOCK} allowed"
        )));
    }
    let mut out = vec![0u8; claimed];
    let n = snap::raw::Decoder::new()
        .decompress(contents, &mut out)
        .map_err(|e| corrupted(e.to_string()))?;
    if n != claimed {
        return Err(corrupted(format!(
            "decompressed to {n} bytes, header said {claimed}"
        )));
    }
    Ok(out)
}

/// The message of a corruption error without its (empty) location prefix.
fn detail(e: &Error) -> String {
    match e {
        Error::Corrupt { detail, .. } => detail.clone(),
        other => other.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn footer_round_trip_and_bytes() {
        let f = Footer {
            metaindex: BlockHandle {
                offset: 62,
                size: 8,
            },
            index: BlockHandle {
                offset: 75,
                size: 14,
            },
        };
        let bytes = f.encode();
        assert_eq!(&bytes[..4], &[0x3e, 0x08, 0x4b, 0x0e]);
        assert!(bytes[4..40].iter().all(|&b| b == 0));
        assert_eq!(
            &bytes[40..],
            &[0x57, 0xfb, 0x80, 0x8b, 0x24, 0x75, 0x47, 0xdb]
        );
        assert_eq!(Footer::decode(&bytes).unwrap(), f);
        let big = Footer {
            metaindex: BlockHandle {
                offset: u64::MAX,
                size: u64::MAX,
            },
            index: BlockHandle {
                offset: u64::MAX,
                size: u64::MAX,
            },
        };
        assert_eq!(Footer::decode(&big.encode()).unwrap(), big);
    }

    #[test]
    fn metaindex_trailer_matches_tf() {
        // tf_formats.md §1.7: the empty metaindex block's trailer.
        assert_eq!(
            block_trailer(&[0, 0, 0, 0, 1, 0, 0, 0], 0),
            [0x00, 0xc0, 0xf2, 0xa1, 0xb0]
        );
    }

    #[test]
    fn handle_errors() {
        assert!(BlockHandle::decode(&[0x80]).is_err());
        assert!(BlockHandle::decode(&[0x01]).is_err());
        assert_eq!(
            BlockHandle::decode(&[1, 2, 9, 9]).unwrap(),
            (BlockHandle { offset: 1, size: 2 }, 2)
        );
    }

    #[test]
    fn block_bounds_are_checked() {
        let mut file = b"abc".to_vec();
        file.extend_from_slice(&block_trailer(b"abc", 0));
        let h = BlockHandle { offset: 0, size: 3 };
        assert_eq!(&*read_block(&file, h, file.len()).unwrap(), b"abc");
        for h in [
            BlockHandle { offset: 0, size: 4 },
            BlockHandle { offset: 1, size: 3 },
            BlockHandle {
                offset: u64::MAX,
                size: 1,
            },
            BlockHandle {
                offset: 1,
                size: u64::MAX,
            },
        ] {
            let e = read_block(&file, h, file.len()).unwrap_err().to_string();
            assert!(e.contains("truncated block read"), "{e}");
        }
        file[1] ^= 1;
        let e = read_block(&file, h, file.len()).unwrap_err().to_string();
        assert!(e.contains("block checksum mismatch"), "{e}");
    }

    #[test]
    fn bad_type_and_snappy() {
        let raw = b"hello hello hello hello hello hello".to_vec();
        let packed = snap::raw::Encoder::new().compress_vec(&raw).unwrap();
        let mut file = packed.clone();
        file.extend_from_slice(&block_trailer(&packed, SNAPPY_COMPRESSION));
        let h = BlockHandle {
            offset: 0,
            size: packed.len() as u64,
        };
        assert_eq!(&*read_block(&file, h, file.len()).unwrap(), &raw[..]);

        let mut file = packed.clone();
        file.extend_from_slice(&block_trailer(&packed, 7));
        let e = read_block(&file, h, file.len()).unwrap_err().to_string();
        assert!(e.contains("bad block type 7"), "{e}");

        // A header claiming 2^32 bytes is refused before any allocation.
        let bomb = [0x80, 0x80, 0x80, 0x80, 0x10, 0x00];
        let mut file = bomb.to_vec();
        file.extend_from_slice(&block_trailer(&bomb, SNAPPY_COMPRESSION));
        let h = BlockHandle {
            offset: 0,
            size: bomb.len() as u64,
        };
        let e = read_block(&file, h, file.len()).unwrap_err().to_string();
        assert!(e.contains("corrupted compressed block contents"), "{e}");

        // Garbage that passes the CRC but does not decompress.
        let junk = [0x05, 0xff, 0xff];
        let mut file = junk.to_vec();
        file.extend_from_slice(&block_trailer(&junk, SNAPPY_COMPRESSION));
        let h = BlockHandle {
            offset: 0,
            size: junk.len() as u64,
        };
        assert!(read_block(&file, h, file.len()).is_err());
    }
}
