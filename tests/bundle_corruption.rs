//! The malformed checkpoints under `tests/data/bad/` (written by `tests/data/make_bad_files.py`)
//! against the pure-Rust layers: every case gives a typed error with the right detail, never a
//! panic. `tests/test_bad_files.py` checks the same files through the Python API and the CLI.
//!
//! `CASES` must list every folder of `tests/data/bad/` (and nothing else); a new case without an
//! expectation here fails `every_case_is_listed`.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

use kerasave::bundle::table::read_table;
use kerasave::Error;

fn bad_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/data/bad")
}

/// What `read_table` on `<case>/ckpt.index` gives: `None` = a sound table (the case is broken at
/// the bundle level), `Some(detail)` = `Error::Corrupt` whose message contains `detail`.
const CASES: &[(&str, Option<&str>)] = &[
    ("absurd_shape", None),
    ("bad_block_crc", Some("block checksum mismatch")),
    ("bad_block_type", Some("bad block type 7")),
    ("bad_entry_proto", None),
    ("bad_header_proto", None),
    ("bad_magic", Some("not an sstable (bad magic number")),
    ("bad_restart_offset", Some("restart")),
    ("bad_restarts", Some("restart")),
    ("bad_shared", Some("bad entry in block")),
    (
        "bad_snappy_block",
        Some("corrupted compressed block contents"),
    ),
    ("bad_value_length", Some("bad entry in block")),
    (
        "duplicate_key",
        Some("keys not in strictly increasing order"),
    ),
    ("empty_index", Some("file is too short to be an sstable")),
    ("entry_offset_overflow", None),
    ("entry_past_shard_end", None),
    ("flipped_tensor_byte", None),
    ("footer_handle_past_eof", Some("truncated block read")),
    ("garbage_object_graph", None),
    ("garbage_state", None),
    ("huge_num_shards", None),
    ("index_handle_huge", Some("truncated block read")),
    ("index_handle_past_eof", Some("truncated block read")),
    ("invalid_dtype", None),
    (
        "keys_out_of_order",
        Some("keys not in strictly increasing order"),
    ),
    ("missing_shard", None),
    ("negative_dim", None),
    ("negative_num_shards", None),
    ("negative_offset", None),
    ("no_header", None),
    ("overflow_shape", None),
    ("resource_dtype", None),
    ("shard_id_out_of_range", None),
    ("short_index", Some("file is too short to be an sstable")),
    ("size_mismatch", None),
    ("slice_missing", None),
    ("slice_out_of_bounds", None),
    ("string_bad_length_crc", None),
    ("string_bad_varint", None),
    ("string_flipped_byte", None),
    ("string_huge_count", None),
    ("string_huge_length", None),
    ("string_lengths_past_size", None),
    ("truncated_index", Some("not an sstable (bad magic number")),
    ("unknown_dtype", None),
    ("unknown_endianness", None),
    ("version_bad_consumers", None),
    ("version_min_consumer", None),
    ("version_negative_producer", None),
    ("zero_num_shards", None),
];

#[test]
fn every_case_is_listed() {
    let on_disk: BTreeSet<String> = std::fs::read_dir(bad_dir())
        .expect("tests/data/bad exists (python3 tests/data/make_bad_files.py)")
        .map(|e| e.unwrap())
        .filter(|e| e.file_type().unwrap().is_dir())
        .map(|e| e.file_name().into_string().unwrap())
        .collect();
    let listed: BTreeSet<String> = CASES.iter().map(|(c, _)| c.to_string()).collect();
    let missing: Vec<_> = on_disk.difference(&listed).collect();
    let stale: Vec<_> = listed.difference(&on_disk).collect();
    assert!(
        missing.is_empty(),
        "cases in tests/data/bad without an entry in CASES: {missing:?}"
    );
    assert!(
        stale.is_empty(),
        "CASES entries without a folder: {stale:?}"
    );
}

#[test]
fn read_table_on_every_case() {
    let mut failures = Vec::new();
    for &(case, expected) in CASES {
        let index = bad_dir().join(case).join("ckpt.index");
        let bytes = std::fs::read(&index).unwrap();
        let got = std::panic::catch_unwind(|| read_table(&bytes));
        let outcome = match (got, expected) {
            (Err(_), _) => Err("panicked".to_string()),
            (Ok(Ok(entries)), None) => {
                if entries.windows(2).all(|w| w[0].0 < w[1].0) {
                    Ok(())
                } else {
                    Err("keys not sorted".into())
                }
            }
            (Ok(Ok(_)), Some(want)) => Err(format!("read fine, expected an error with {want:?}")),
            (Ok(Err(e)), None) => Err(format!("unexpected error: {e}")),
            (Ok(Err(Error::Corrupt { detail, .. })), Some(want)) if detail.contains(want) => Ok(()),
            (Ok(Err(e)), Some(want)) => Err(format!("{e:?}, expected Corrupt with {want:?}")),
        };
        if let Err(why) = outcome {
            failures.push(format!("{case}: {why}"));
        }
    }
    assert!(failures.is_empty(), "\n{}", failures.join("\n"));
}
