//! Fuzz findings 4 and 5 (fuzz/README.md): files whose sizes would make libhdf5 allocate without
//! bound are refused with a typed error naming the dataset or attribute, before libhdf5 reads.

use std::path::PathBuf;

use kerasave::h5::H5File;
use kerasave::Error;

fn bad(case: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("tests/data/bad_keras")
        .join(case)
        .join("x.weights.h5")
}

/// Opens, lists and reads everything; the first error.
fn use_everything(case: &str) -> Error {
    let f = match H5File::open(&bad(case)) {
        Ok(f) => f,
        Err(e) => return e,
    };
    for g in f.groups().unwrap() {
        if let Err(e) = f.attrs(&g) {
            return e;
        }
    }
    for d in f.datasets().unwrap() {
        if let Err(e) = f.attrs(&d.path).and_then(|_| f.read(&d.path)) {
            return e;
        }
    }
    panic!("{case}: no error");
}

#[test]
fn chunk_rank_mismatch_is_refused() {
    let e = use_everything("chunk_rank_mismatch");
    let msg = e.to_string();
    assert!(matches!(e, Error::Corrupt { .. }), "{msg}");
    assert!(msg.contains("layers/dense/vars/0"), "{msg}");
    assert!(
        msg.contains("chunks of rank 2 for a dataspace of rank 1"),
        "{msg}"
    );
}

#[test]
fn vlen_length_bomb_is_refused() {
    let e = use_everything("vlen_length_bomb");
    let msg = e.to_string();
    assert!(matches!(e, Error::Corrupt { .. }), "{msg}");
    assert!(msg.contains("layers/dense/vars/0"), "{msg}");
    assert!(msg.contains("\"dtype\""), "{msg}");
    assert!(msg.contains("declares 1610612736 bytes"), "{msg}");
}
