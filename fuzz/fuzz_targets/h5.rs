//! HDF5 from arbitrary bytes: `H5File::open` on a file in a per-process dir in /dev/shm, then
//! `datasets`, `groups`, every attribute of every group and dataset (and the Keras string-list
//! attributes), and a read of every dataset up to a size cap. libhdf5 (C) parses the metadata,
//! so a crash here may be in libhdf5 itself; such inputs are safety findings.
//!
//! Checks: a contiguous dataset lies inside the file; a read returns the declared shape and
//! dtype with exactly `elements x itemsize` bytes.
#![no_main]

use std::path::PathBuf;
use std::sync::OnceLock;

use kerasave::h5::{H5File, Layout};
use libfuzzer_sys::fuzz_target;

fn path() -> &'static PathBuf {
    static PATH: OnceLock<PathBuf> = OnceLock::new();
    PATH.get_or_init(|| {
        let base = if std::path::Path::new("/dev/shm").is_dir() {
            PathBuf::from("/dev/shm")
        } else {
            std::env::temp_dir()
        };
        let d = base.join(format!("kerasave-fuzz-h5-{}", std::process::id()));
        std::fs::create_dir_all(&d).unwrap();
        d.join("x.weights.h5")
    })
}

/// Tensors bigger than this are listed but not read.
const READ_CAP: u64 = 64 << 20;

fuzz_target!(|data: &[u8]| {
    let p = path();
    std::fs::write(p, data).unwrap();
    let Ok(h5) = H5File::open(p) else {
        return;
    };
    let (_, image_len) = h5.image_range();
    assert_eq!(image_len, data.len() as u64);
    for g in h5.groups().unwrap_or_default() {
        let _ = h5.attrs(&g);
        let _ = h5.attr(&g, "name");
        for name in ["layer_names", "weight_names"] {
            let _ = h5.string_list_attr(&g, name);
        }
    }
    for d in h5.datasets().unwrap_or_default() {
        let _ = h5.attrs(&d.path);
        let _ = h5.attr(&d.path, "dtype");
        let again = h5.dataset(&d.path).expect("a listed dataset is found");
        assert_eq!(again, d);
        if let Layout::Contiguous { offset, len } = d.layout {
            assert!(offset.checked_add(len).is_some_and(|end| end <= data.len() as u64));
        }
        let n: Option<u64> = d.shape.iter().try_fold(1u64, |a, &b| a.checked_mul(b));
        let item = d.dtype.item_size().map(|s| s as u64);
        let bytes = match (n, item) {
            (Some(n), Some(s)) => n.checked_mul(s),
            (Some(n), None) => n.checked_mul(16),
            _ => None,
        };
        if bytes.is_some_and(|b| b <= READ_CAP) {
            if let Ok(t) = h5.read(&d.path) {
                assert_eq!(t.dtype, d.dtype);
                assert_eq!(t.shape, d.shape);
                if let (Some(b), Some(want)) = (t.bytes(), bytes.filter(|_| item.is_some())) {
                    assert_eq!(b.len() as u64, want, "read size != shape x itemsize");
                }
            }
        }
    }
});
