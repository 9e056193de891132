//! The pure-Rust fast walk of Keras's HDF5 subset (`h5::fast::parse`) on arbitrary bytes, parse
//! only (no libhdf5, no files). The input's length picks a `base` (the image's offset in a larger
//! mapped file) so offset arithmetic near the top of u64 is exercised too.
//!
//! Checks: `/` is the first group, every path is absolute and unique, shapes stay within 2^40
//! elements, a contiguous dataset's bytes lie inside the image (shifted by `base`) and are
//! exactly `elements x itemsize`, `direct` only for contiguous non-empty data, nothing filtered.
#![no_main]

use std::collections::HashSet;

use kerasave::h5::{fast, Layout};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|input: &[u8]| {
    // The base comes from the length, so the input is the image itself (seeds start with the
    // HDF5 signature): odd lengths put the image just below u64::MAX.
    let data = input;
    let base = match data.len() % 4 {
        1 => u64::MAX - data.len() as u64 / 2,
        2 => 3119,
        3 => 1 << 40,
        _ => 0,
    };
    let Some(tree) = fast::parse(data, base) else {
        return;
    };
    assert_eq!(tree.groups.first().map(String::as_str), Some("/"));
    let mut seen = HashSet::new();
    for g in &tree.groups {
        assert!(g.starts_with('/'));
        assert!(seen.insert(g.clone()), "group listed twice: {g}");
    }
    for e in &tree.datasets {
        let d = &e.info;
        assert!(d.path.starts_with('/') && d.path.len() > 1);
        assert!(seen.insert(d.path.clone()), "path listed twice: {}", d.path);
        assert!(!d.filtered);
        let n = d
            .shape
            .iter()
            .try_fold(1u64, |a, &b| a.checked_mul(b))
            .expect("element count overflows");
        assert!(n <= 1 << 40);
        let item = d.dtype.item_size().expect("fixed-size dtype") as u64;
        match d.layout {
            Layout::Contiguous { offset, len } => {
                assert_eq!(len, n * item);
                let rel = offset.checked_sub(base).expect("offset below base");
                assert!(rel
                    .checked_add(len)
                    .is_some_and(|end| end <= data.len() as u64));
                assert_eq!(e.direct, len > 0);
            }
            _ => assert!(!e.direct),
        }
    }
});
