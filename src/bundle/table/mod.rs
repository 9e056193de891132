//! The LevelDB-style SSTable that holds a bundle's `.index`, as TF's TSL writes it
//! (tf_formats.md §1).
//!
//! ```text
//! offset 0
//! +--------------------+---------+
//! | data block 0       | trailer |   trailer = [type u8: 0 raw, 1 snappy][masked crc32c u32 LE]
//! +--------------------+---------+             crc over block bytes ++ type byte
//! | data block 1 ...   | trailer |   data blocks: cut once the size estimate reaches 256 KiB
//! +--------------------+---------+
//! | metaindex (empty)  | trailer |   always 8 bytes: 00000000 01000000
//! +--------------------+---------+
//! | index block        | trailer |   key = separator >= last key of block i, < first of i+1
//! +--------------------+---------+         value = varint64 offset, varint64 size of block i
//! | footer (48 bytes)            |   metaindex handle, index handle, zero pad to 40,
//! +------------------------------+   magic 57 fb 80 8b 24 75 47 db
//!
//! block = entry* ++ restarts: u32 LE[n] ++ n: u32 LE
//! entry = varint32 shared ++ varint32 unshared ++ varint32 value_len ++ key[shared..] ++ value
//! ```
//! All multi-byte integers are little-endian whatever the platform. Parsing is pure (byte slice
//! in, entries out) so it can be fuzzed; [`read_table`] copies keys and values out because keys
//! are prefix-compressed and the index is small.

mod block;
mod builder;
mod format;
mod reader;

pub use builder::{find_short_successor, find_shortest_separator, TableBuilder};
pub use format::{
    BlockHandle, Footer, BLOCK_TRAILER_LEN, FOOTER_LEN, MAX_UNCOMPRESSED_BLOCK, NO_COMPRESSION,
    SNAPPY_COMPRESSION, TABLE_MAGIC,
};
pub use reader::read_table;

/// TSL's default `Options::block_size`, which bundles keep (LevelDB's own default is 4 KiB).
pub const BLOCK_SIZE: usize = 262_144;

#[cfg(test)]
mod tests {
    use super::format::block_trailer;
    use super::*;
    use crate::varint;

    fn hex(s: &str) -> Vec<u8> {
        s.split_whitespace()
            .map(|b| u8::from_str_radix(b, 16).unwrap())
            .collect()
    }

    /// tf_formats.md §1.7: the index of a TF checkpoint holding `w` and `s`.
    fn worked_example() -> Vec<u8> {
        let mut t = TableBuilder::new();
        t.add(b"", &hex("08 01 1a 02 08 01")).unwrap();
        t.add(
            b"s",
            &hex("08 07 12 04 12 02 08 02 20 08 28 08 35 91 88 b0 4d"),
        )
        .unwrap();
        t.add(b"w", &hex("08 01 12 04 12 02 08 02 28 08 35 59 3c e5 35"))
            .unwrap();
        t.finish()
    }

    #[test]
    fn worked_example_is_byte_identical() {
        let mut expected = hex("00 00 06 08 01 1a 02 08 01
             00 01 11 73 08 07 12 04 12 02 08 02 20 08 28 08 35 91 88 b0 4d
             00 01 0f 77 08 01 12 04 12 02 08 02 28 08 35 59 3c e5 35
             00 00 00 00 01 00 00 00
             00 4d 7f a8 07
             00 00 00 00 01 00 00 00 00 c0 f2 a1 b0
             00 01 02 78 00 39 00 00 00 00 01 00 00 00 00 53 ee 0f 5d
             3e 08 4b 0e");
        expected.resize(94 + 40, 0);
        expected.extend_from_slice(&hex("57 fb 80 8b 24 75 47 db"));
        let got = worked_example();
        assert_eq!(got.len(), 142);
        assert_eq!(got, expected);

        let entries = read_table(&got).unwrap();
        let keys: Vec<&[u8]> = entries.iter().map(|(k, _)| k.as_slice()).collect();
        assert_eq!(keys, [&b""[..], b"s", b"w"]);
        assert_eq!(entries[0].1, hex("08 01 1a 02 08 01"));
    }

    #[test]
    fn empty_table() {
        let bytes = TableBuilder::new().finish();
        // metaindex (8+5), index (8+5), footer.
        assert_eq!(bytes.len(), 13 + 13 + 48);
        assert!(read_table(&bytes).unwrap().is_empty());
    }

    type Entries = Vec<(Vec<u8>, Vec<u8>)>;

    fn big_table(n: usize) -> (Entries, Vec<u8>) {
        let mut t = TableBuilder::new();
        let mut kv = Vec::new();
        for i in 0..n {
            let k = format!("v{i:05}").into_bytes();
            // ~40-byte values, like a BundleEntryProto.
            let v = format!("{:040}", i as u64 * 7919).into_bytes();
            t.add(&k, &v).unwrap();
            kv.push((k, v));
        }
        (kv, t.finish())
    }

    /// Walks the index block by hand: (separator, handle) per data block.
    fn index_entries(bytes: &[u8]) -> Vec<(Vec<u8>, BlockHandle)> {
        let footer = Footer::decode(bytes).unwrap();
        let start = footer.index.offset as usize;
        let block = &bytes[start..start + footer.index.size as usize];
        let mut out = Vec::new();
        super::block::parse_block(block, 0, |k, v| {
            out.push((k.to_vec(), BlockHandle::decode(v).unwrap().0));
            Ok(())
        })
        .unwrap();
        out
    }

    #[test]
    fn multi_block_round_trip() {
        let (kv, bytes) = big_table(6000);
        assert_eq!(read_table(&bytes).unwrap(), kv);
        let index = index_entries(&bytes);
        assert!(index.len() >= 2, "{} blocks", index.len());
        for (i, (sep, handle)) in index.iter().enumerate() {
            let last = i + 1 == index.len();
            if !last {
                // The cut rule: a block is written once its estimate reaches BLOCK_SIZE; the
                // estimate equals the finished size, so every block but the last is >= it.
                assert!(
                    handle.size as usize >= BLOCK_SIZE,
                    "block {i}: {}",
                    handle.size
                );
                assert!(
                    handle.size as usize <= BLOCK_SIZE + 64,
                    "block {i}: {}",
                    handle.size
                );
            }
            assert!(handle.offset < bytes.len() as u64);
            let _ = sep;
        }
        // The first separator sits between the last key of block 0 and the first of block 1.
        assert_eq!(index[0].1.offset, 0);
        let last = index.last().unwrap();
        assert_eq!(last.0, b"w"); // successor of "v05999"
    }

    #[test]
    fn block_is_cut_at_the_first_entry_reaching_block_size() {
        let (_, bytes) = big_table(6000);
        let first = index_entries(&bytes)[0].1.size as usize;
        assert!(first >= BLOCK_SIZE);
        // Re-walk the first block: without its last entry (and the restart that entry may have
        // opened) the estimate was still under the limit.
        let n = u32::from_le_bytes(bytes[first - 4..first].try_into().unwrap()) as usize;
        let entries_end = first - 4 - 4 * n;
        let mut ends = Vec::new();
        let mut pos = 0;
        while pos < entries_end {
            let mut c = varint::Cursor::new(&bytes[pos..entries_end]);
            let (_shared, unshared, value) = (c.u32().unwrap(), c.u32().unwrap(), c.u32().unwrap());
            pos += c.position() + unshared as usize + value as usize;
            ends.push(pos);
        }
        assert_eq!(pos, entries_end);
        let count = ends.len();
        assert_eq!(n, count.div_ceil(16));
        let before = ends[count - 2] + 4 * (count - 1).div_ceil(16) + 4;
        assert!(before < BLOCK_SIZE, "{before}");
    }

    #[test]
    fn huge_entry_gets_its_own_block() {
        let mut t = TableBuilder::new();
        t.add(b"a", b"small").unwrap();
        let big = vec![7u8; 2 * BLOCK_SIZE];
        t.add(b"b", &big).unwrap();
        t.add(b"c", b"small").unwrap();
        let bytes = t.finish();
        let index = index_entries(&bytes);
        assert_eq!(index.len(), 3);
        let entries = read_table(&bytes).unwrap();
        assert_eq!(entries[1].1, big);
    }

    #[test]
    fn keys_with_ff_and_prefixes_round_trip() {
        let keys: Vec<Vec<u8>> = vec![
            b"".to_vec(),
            b"\x00".to_vec(),
            b"\x00\xff".to_vec(),
            b"a".to_vec(),
            b"a\x00".to_vec(),
            b"ab".to_vec(),
            b"\xff".to_vec(),
            b"\xff\xff".to_vec(),
            b"\xff\xff\xff".to_vec(),
        ];
        let mut t = TableBuilder::new();
        let mut kv = Vec::new();
        for k in &keys {
            // Values large enough to force several blocks.
            let v = vec![k.len() as u8; BLOCK_SIZE / 3];
            t.add(k, &v).unwrap();
            kv.push((k.clone(), v));
        }
        let bytes = t.finish();
        assert_eq!(read_table(&bytes).unwrap(), kv);
        // The last separator of an all-0xff key is the key itself.
        assert_eq!(index_entries(&bytes).last().unwrap().0, b"\xff\xff\xff");
    }

    fn err(bytes: &[u8]) -> String {
        read_table(bytes).unwrap_err().to_string()
    }

    #[test]
    fn footer_errors() {
        let good = worked_example();
        assert!(err(&good[..20]).contains("file is too short to be an sstable"));
        assert!(err(&[]).contains("file is too short to be an sstable"));
        assert!(err(&good[..good.len() - 10]).contains("not an sstable (bad magic number"));
        let mut bad = good.clone();
        *bad.last_mut().unwrap() ^= 1;
        assert!(err(&bad).contains("bad magic number"));
        // A footer whose handle varint never ends.
        let mut bad = good.clone();
        bad[94..134].fill(0xff);
        assert!(err(&bad).contains("bad block handle"), "{}", err(&bad));
    }

    #[test]
    fn every_flipped_byte_is_caught() {
        let good = worked_example();
        for i in 0..good.len() {
            let mut bad = good.clone();
            bad[i] ^= 0x10;
            match read_table(&bad) {
                Err(e) => {
                    let s = e.to_string();
                    // Bytes in blocks break the CRC; bytes in the footer break the magic or a
                    // handle. Footer padding is ignored, like TF does.
                    assert!(
                        s.contains("checksum mismatch")
                            || s.contains("magic")
                            || s.contains("block read")
                            || s.contains("bad block")
                            || s.contains("handle"),
                        "byte {i}: {s}"
                    );
                }
                Ok(_) => assert!((98..134).contains(&i), "byte {i} flipped unnoticed"),
            }
        }
        let mut bad = good.clone();
        bad[20] ^= 1;
        assert!(err(&bad).contains("block checksum mismatch: block at offset 0"));
    }

    /// Blocks laid end to end, each with its trailer.
    fn rebuild(blocks: &[(Vec<u8>, u8)]) -> Vec<u8> {
        let mut out = Vec::new();
        for (b, kind) in blocks {
            out.extend_from_slice(b);
            out.extend_from_slice(&block_trailer(b, *kind));
        }
        out
    }

    /// A table from raw parts: one data block (type `kind`), an index with `index_key`.
    fn table_from(data: &[u8], kind: u8, index_key: &[u8], handle: Option<BlockHandle>) -> Vec<u8> {
        let mut out = rebuild(&[(data.to_vec(), kind)]);
        let h = handle.unwrap_or(BlockHandle {
            offset: 0,
            size: data.len() as u64,
        });
        let meta = vec![0, 0, 0, 0, 1, 0, 0, 0];
        let metaindex = BlockHandle {
            offset: out.len() as u64,
            size: 8,
        };
        out.extend_from_slice(&meta);
        out.extend_from_slice(&block_trailer(&meta, 0));
        let mut value = Vec::new();
        h.encode_to(&mut value);
        let mut index = vec![0, index_key.len() as u8, value.len() as u8];
        index.extend_from_slice(index_key);
        index.extend_from_slice(&value);
        index.extend_from_slice(&[0, 0, 0, 0, 1, 0, 0, 0]);
        let ih = BlockHandle {
            offset: out.len() as u64,
            size: index.len() as u64,
        };
        out.extend_from_slice(&index);
        out.extend_from_slice(&block_trailer(&index, 0));
        out.extend_from_slice(
            &Footer {
                metaindex,
                index: ih,
            }
            .encode(),
        );
        out
    }

    fn data_block(entries: &[(&[u8], &[u8])]) -> Vec<u8> {
        let mut b = super::block::BlockBuilder::new(16);
        for (k, v) in entries {
            b.add(k, v);
        }
        b.finish()
    }

    #[test]
    fn hand_built_table_reads() {
        let data = data_block(&[(b"", b"h"), (b"k", b"v")]);
        let t = table_from(&data, NO_COMPRESSION, b"l", None);
        assert_eq!(read_table(&t).unwrap().len(), 2);
    }

    #[test]
    fn snappy_block() {
        let data = data_block(&[(b"", b"header"), (b"key", &[b'z'; 300])]);
        let packed = snap::raw::Encoder::new().compress_vec(&data).unwrap();
        assert!(packed.len() < data.len());
        let t = table_from(&packed, SNAPPY_COMPRESSION, b"l", None);
        let entries = read_table(&t).unwrap();
        assert_eq!(entries[1], (b"key".to_vec(), vec![b'z'; 300]));
        // Same block, CRC fine, but type byte says raw: parsing the compressed bytes fails.
        let t = table_from(&packed, NO_COMPRESSION, b"l", None);
        assert!(read_table(&t).is_err());
    }

    #[test]
    fn structural_errors() {
        let data = data_block(&[(b"", b"h"), (b"k", b"v")]);
        // Handle past the end, and one whose offset + size overflows.
        for h in [
            BlockHandle {
                offset: 0,
                size: 1000,
            },
            BlockHandle {
                offset: u64::MAX - 2,
                size: 10,
            },
        ] {
            let t = table_from(&data, 0, b"l", Some(h));
            assert!(err(&t).contains("truncated block read"), "{}", err(&t));
        }
        // Index key smaller than the block's last key.
        let t = table_from(&data, 0, b"a", None);
        assert!(err(&t).contains("does not separate"), "{}", err(&t));
        // Bad restart count (patched, CRC recomputed by table_from).
        let mut bad = data.clone();
        let n = bad.len();
        bad[n - 4] = 50;
        let t = table_from(&bad, 0, b"l", None);
        assert!(err(&t).contains("do not fit"), "{}", err(&t));
        // shared > previous key length.
        let bad = [0u8, 1, 0, b'a', 5, 1, 0, b'b', 0, 0, 0, 0, 1, 0, 0, 0];
        let t = table_from(&bad, 0, b"l", None);
        assert!(err(&t).contains("bad entry in block"), "{}", err(&t));
        // Non-increasing keys inside a block.
        let bad = [0u8, 1, 0, b'b', 0, 1, 0, b'a', 0, 0, 0, 0, 1, 0, 0, 0];
        let t = table_from(&bad, 0, b"l", None);
        assert!(err(&t).contains("strictly increasing"), "{}", err(&t));
        // Truncated varint in an entry.
        let bad = [0u8, 1, 0, b'a', 0x80, 0, 0, 0, 0, 1, 0, 0, 0];
        let t = table_from(&bad, 0, b"l", None);
        assert!(err(&t).contains("varint32"), "{}", err(&t));
    }

    #[test]
    fn keys_must_increase_across_blocks() {
        // Two data blocks with the same key, linked by a valid-looking index.
        let b0 = data_block(&[(b"k", b"1")]);
        let b1 = data_block(&[(b"k", b"2")]);
        let mut out = rebuild(&[(b0.clone(), 0), (b1.clone(), 0)]);
        let h0 = BlockHandle {
            offset: 0,
            size: b0.len() as u64,
        };
        let h1 = BlockHandle {
            offset: (b0.len() + 5) as u64,
            size: b1.len() as u64,
        };
        let meta = vec![0, 0, 0, 0, 1, 0, 0, 0];
        let metaindex = BlockHandle {
            offset: out.len() as u64,
            size: 8,
        };
        out.extend_from_slice(&meta);
        out.extend_from_slice(&block_trailer(&meta, 0));
        let mut index = super::block::BlockBuilder::new(1);
        for (k, h) in [(&b"k"[..], h0), (b"l", h1)] {
            let mut v = Vec::new();
            h.encode_to(&mut v);
            index.add(k, &v);
        }
        let index = index.finish();
        let ih = BlockHandle {
            offset: out.len() as u64,
            size: index.len() as u64,
        };
        out.extend_from_slice(&index);
        out.extend_from_slice(&block_trailer(&index, 0));
        out.extend_from_slice(
            &Footer {
                metaindex,
                index: ih,
            }
            .encode(),
        );
        assert!(err(&out).contains("strictly increasing"), "{}", err(&out));
    }

    #[test]
    fn truncated_inputs_never_panic() {
        let (_, bytes) = big_table(300);
        for cut in (0..bytes.len()).step_by(97) {
            let _ = read_table(&bytes[..cut]);
            let _ = read_table(&bytes[cut..]);
        }
        let good = worked_example();
        for i in 0..good.len() {
            for v in [0u8, 0x7f, 0x80, 0xff] {
                let mut bad = good.clone();
                bad[i] = v;
                let _ = read_table(&bad);
            }
        }
    }

    #[test]
    fn prefix_compression_bomb_is_refused() {
        // A 1 MiB key followed by many 4-byte entries that each share all but its last byte.
        let long = vec![b'a'; 1 << 20];
        let mut block = Vec::new();
        varint::encode_u64(&mut block, 0);
        varint::encode_u64(&mut block, long.len() as u64);
        varint::encode_u64(&mut block, 0);
        block.extend_from_slice(&long);
        for i in 0..100u8 {
            // shared = len - 1, unshared = 1 (an increasing last byte), empty value.
            varint::encode_u64(&mut block, long.len() as u64 - 1);
            varint::encode_u64(&mut block, 1);
            varint::encode_u64(&mut block, 0);
            block.push(b'b' + i);
        }
        block.extend_from_slice(&[0, 0, 0, 0, 1, 0, 0, 0]);
        let t = table_from(&block, 0, b"b", None);
        assert!(err(&t).contains("expands to far more"), "{}", err(&t));
    }
}

/// Every `.index` TF wrote for the fixtures (tests/data) must parse, and rebuilding it from its
/// entries must give back the same bytes: the strongest check that the builder is TF's.
#[cfg(test)]
mod fixtures {
    use super::*;
    use std::path::{Path, PathBuf};

    fn index_files(dir: &Path, out: &mut Vec<PathBuf>) {
        let Ok(entries) = std::fs::read_dir(dir) else {
            return;
        };
        for e in entries.flatten() {
            let p = e.path();
            if p.is_dir() {
                index_files(&p, out);
            } else if p.extension().is_some_and(|x| x == "index") && !p.starts_with(dir.join("bad"))
            {
                out.push(p);
            }
        }
    }

    #[test]
    fn tf_written_indexes_rebuild_byte_for_byte() {
        let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/data");
        let mut files = Vec::new();
        index_files(&root.join("tf"), &mut files);
        if let Ok(extra) = std::env::var("KERASAVE_EXTRA_INDEX") {
            files.push(PathBuf::from(extra));
        }
        for f in &files {
            let bytes = std::fs::read(f).unwrap();
            let entries = read_table(&bytes).unwrap_or_else(|e| panic!("{}: {e}", f.display()));
            let mut t = TableBuilder::new();
            for (k, v) in &entries {
                t.add(k, v).unwrap();
            }
            assert!(t.finish() == bytes, "{}: rebuilt bytes differ", f.display());
        }
        eprintln!("{} TF-written indexes rebuilt", files.len());
    }
}
