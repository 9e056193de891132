//! The malformed checkpoints under `tests/data/bad/` (written by `tests/data/make_bad_files.py`)
//! against the pure-Rust layers: every case gives a typed error with the right detail, never a
//! panic. `tests/test_bad_files.py` checks the same files through the Python API and the CLI.
//!
//! `CASES` must list every folder of `tests/data/bad/` (and nothing else); a new case without an
//! expectation here fails `every_case_is_listed`.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

use kerasave::bundle::reader::BundleReader;
use kerasave::bundle::state::resolve_prefix;
use kerasave::bundle::table::read_table;
use kerasave::Error;

fn bad_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/data/bad")
}

/// What `read_table` on `<case>/ckpt.index` gives: `None` = a sound table (the case is broken at
/// the bundle level), `Some(detail)` = `Error::Corrupt` whose message contains `detail`.
#[rustfmt::skip]
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
    ("slice_huge_past_shard_end", None),
    ("slice_out_of_bounds", None),
    ("string_bad_length_crc", None),
    ("string_bad_varint", None),
    ("string_count_past_shard_end", None),
    ("string_flipped_byte", None),
    ("string_huge_count", None),
    ("string_huge_length", None),
    ("string_lengths_past_size", None),
    ("truncated_index", Some("not an sstable (bad magic number")),
    ("unknown_dtype", None),
    ("unknown_endianness", None),
    ("variant_length_past_size", None),
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

/// The error class, as the Python bindings map it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Kind {
    Corrupt,
    Unsupported,
    NotFound,
}

/// When a case fails through `BundleReader`, and how.
#[derive(Clone, Copy, Debug)]
enum When {
    /// `BundleReader::open` fails.
    Open,
    /// Opens; `read(key, verify)` fails with verify on and off.
    Read(&'static str),
    /// Opens; `read(key, false)` works, `read(key, true)` fails.
    Verify(&'static str),
    /// Opens and reads; `object_graph()` fails.
    Graph,
    /// `resolve_prefix` on the case folder (a directory with a `checkpoint` file) fails.
    Resolve,
}

use Kind::*;
use When::*;

/// `(case, when, kind, message substring)`. The message must also name the case's file.
#[rustfmt::skip]
const READER: &[(&str, When, Kind, &str)] = &[
    ("absurd_shape", Open, Corrupt, "expected size 8796093022208"),
    ("bad_block_crc", Open, Corrupt, "block checksum mismatch"),
    ("bad_block_type", Open, Corrupt, "bad block type 7"),
    ("bad_entry_proto", Open, Corrupt, "bundle entry"),
    ("bad_header_proto", Open, Corrupt, "bad bundle header"),
    ("bad_magic", Open, Corrupt, "bad magic number"),
    ("bad_restart_offset", Open, Corrupt, "first restart point is 200"),
    ("bad_restarts", Open, Corrupt, "1000 restart points do not fit"),
    ("bad_shared", Open, Corrupt, "bad entry in block"),
    ("bad_snappy_block", Open, Corrupt, "corrupted compressed block contents"),
    ("bad_value_length", Open, Corrupt, "bad entry in block"),
    ("duplicate_key", Open, Corrupt, "keys not in strictly increasing order"),
    ("empty_index", Open, Corrupt, "file is too short to be an sstable"),
    ("entry_offset_overflow", Open, Corrupt, "overflows"),
    ("entry_past_shard_end", Read("w"), Corrupt, "past the end of the data file"),
    ("flipped_tensor_byte", Verify("w"), Corrupt, "Checksum does not match"),
    ("footer_handle_past_eof", Open, Corrupt, "truncated block read"),
    ("garbage_object_graph", Graph, Corrupt, "TrackableObjectGraph"),
    ("garbage_state", Resolve, Corrupt, "checkpoint"),
    ("huge_num_shards", Read("w"), NotFound, "ckpt.data-00000-of-2147483647"),
    ("index_handle_huge", Open, Corrupt, "truncated block read"),
    ("index_handle_past_eof", Open, Corrupt, "truncated block read"),
    ("invalid_dtype", Open, Corrupt, "DT_INVALID"),
    ("keys_out_of_order", Open, Corrupt, "keys not in strictly increasing order"),
    ("missing_shard", Read("w"), NotFound, "ckpt.data-00000-of-00001"),
    ("negative_dim", Open, Corrupt, "negative dimension -1"),
    ("negative_num_shards", Open, Corrupt, "bad num_shards -1"),
    ("negative_offset", Open, Corrupt, "negative offset -8"),
    ("no_header", Open, Corrupt, "missing bundle header"),
    ("overflow_shape", Open, Corrupt, "overflows"),
    ("resource_dtype", Open, Unsupported, "RESOURCE tensors cannot be stored"),
    ("shard_id_out_of_range", Open, Corrupt, "shard_id 3 out of range"),
    ("short_index", Open, Corrupt, "file is too short to be an sstable"),
    ("size_mismatch", Open, Corrupt, "stored size 12; expected size 8"),
    ("slice_missing", Open, Corrupt, "has no slice entry"),
    ("slice_huge_past_shard_end", Read("w"), Corrupt, "past the end of the data file"),
    ("slice_out_of_bounds", Open, Corrupt, "does not fit in shape [2]"),
    ("string_bad_length_crc", Verify("s"), Corrupt, "string length checksum does not match"),
    ("string_bad_varint", Read("s"), Corrupt, "varint"),
    ("string_count_past_shard_end", Read("s"), Corrupt, "past the end of the data file"),
    ("string_flipped_byte", Verify("s"), Corrupt, "Checksum does not match"),
    ("string_huge_count", Open, Corrupt, "1099511627776 elements"),
    ("string_huge_length", Read("s"), Corrupt, "string lengths add up to 4611686018427387904"),
    ("string_lengths_past_size", Read("s"), Corrupt, "string lengths add up to 205 bytes"),
    ("truncated_index", Open, Corrupt, "bad magic number"),
    ("unknown_dtype", Open, Unsupported, "unknown TF dtype code 99"),
    ("unknown_endianness", Open, Corrupt, "unknown endianness 7"),
    ("variant_length_past_size", Read("s"), Corrupt, "length 1000 runs past the payload"),
    ("version_bad_consumers", Open, Unsupported, "disallows consumer version 1"),
    ("version_min_consumer", Open, Unsupported, "min consumer version 2 above current version 1"),
    ("version_negative_producer", Open, Corrupt, "producer version -1 below min producer 0"),
    ("zero_num_shards", Open, Corrupt, "bad num_shards 0"),
];

/// Cases where the library is known to answer differently; each must still fail *somehow*
/// (typed, no panic). Remove an entry once the library is fixed (the test then says so).
/// `(case, bug)`.
const KNOWN_BUGS: &[(&str, &str)] = &[];

fn kind_of(e: &Error) -> Option<Kind> {
    match e {
        Error::Corrupt { .. } => Some(Corrupt),
        Error::Unsupported { .. } => Some(Unsupported),
        Error::Io { source, .. } if source.kind() == std::io::ErrorKind::NotFound => Some(NotFound),
        _ => None,
    }
}

/// Checks one error against the expectation; `Err(why)` when it does not match.
fn check(e: &Error, kind: Kind, want: &str) -> Result<(), String> {
    let msg = e.to_string();
    if kind_of(e) != Some(kind) {
        return Err(format!("{e:?}: expected {kind:?}"));
    }
    if !msg.contains(want) {
        return Err(format!("{msg:?} lacks {want:?}"));
    }
    if !msg.contains("tests/data/bad/") {
        return Err(format!("{msg:?} does not name the file"));
    }
    Ok(())
}

fn run_case(case: &str, when: When, kind: Kind, want: &str) -> Result<(), String> {
    let dir = bad_dir().join(case);
    let prefix = dir.join("ckpt");
    if let Resolve = when {
        return match resolve_prefix(&dir) {
            Ok(p) => Err(format!("resolve_prefix gave {}", p.display())),
            Err(e) => check(&e, kind, want),
        };
    }
    let reader = match (BundleReader::open(&prefix), when) {
        (Err(e), Open) => return check(&e, kind, want),
        (Ok(_), Open) => return Err("opened".into()),
        (Err(e), _) => return Err(format!("open failed: {e}")),
        (Ok(r), _) => r,
    };
    match when {
        Read(key) => {
            for verify in [false, true] {
                match reader.read(key.as_bytes(), verify) {
                    Ok(_) => return Err(format!("read({key}, verify={verify}) worked")),
                    Err(e) => check(&e, kind, want)?,
                }
            }
        }
        Verify(key) => {
            reader
                .read(key.as_bytes(), false)
                .map_err(|e| format!("unverified read failed: {e}"))?;
            match reader.read(key.as_bytes(), true) {
                Ok(_) => return Err(format!("verified read of {key} worked")),
                Err(e) => check(&e, kind, want)?,
            }
        }
        Graph => {
            for key in reader.keys() {
                reader
                    .read(key, true)
                    .map_err(|e| format!("read failed: {e}"))?;
            }
            match reader.object_graph() {
                Ok(_) => return Err("object_graph() worked".into()),
                Err(e) => check(&e, kind, want)?,
            }
        }
        Open | Resolve => unreachable!(),
    }
    // Whatever a read finds, a full verification finds too.
    match reader.verify_all() {
        Ok(()) => Err("verify_all passed".into()),
        Err(e) => check(&e, kind, want),
    }
}

#[test]
fn reader_on_every_case() {
    let listed: BTreeSet<&str> = READER.iter().map(|r| r.0).collect();
    let all: BTreeSet<&str> = CASES.iter().map(|r| r.0).collect();
    assert_eq!(listed, all, "READER and CASES must list the same cases");

    let mut failures = Vec::new();
    for &(case, when, kind, want) in READER {
        let outcome = std::panic::catch_unwind(|| run_case(case, when, kind, want))
            .unwrap_or_else(|_| Err("panicked".into()));
        let bug = KNOWN_BUGS.iter().find(|b| b.0 == case);
        match (outcome, bug) {
            (Ok(()), None) => {}
            (Err(why), None) => failures.push(format!("{case}: {why}")),
            (Ok(()), Some(_)) => failures.push(format!("{case}: fixed; remove it from KNOWN_BUGS")),
            (Err(_), Some(_)) => {}
        }
    }
    assert!(failures.is_empty(), "\n{}", failures.join("\n"));
}

/// The known bugs still fail in a typed way (no panic, no success).
#[test]
fn known_bugs_still_fail_typed() {
    for &(case, _) in KNOWN_BUGS {
        let dir = bad_dir().join(case);
        let e = resolve_prefix(&dir)
            .map(|_| ())
            .and_then(|_| BundleReader::open(&dir.join("ckpt")).map(|_| ()));
        let e = e.expect_err(case);
        assert!(kind_of(&e).is_some(), "{case}: {e:?}");
    }
}
