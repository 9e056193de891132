//! `.keras` zips from arbitrary bytes: the pure `parse_members` / `read_member` /
//! `verify_member` entry points, then the same bytes as a file through `KerasArchive::open`
//! (written to a per-process dir in /dev/shm), every member read plain and verified, and a STORED
//! `model.weights.h5` opened in place with `H5File::open_in` as `ks.open` does.
//!
//! Checks: whatever `parse_members` accepts, `KerasArchive::open` accepts with the same members;
//! a STORED read is exactly `data_offset..+size`; a DEFLATED read is exactly `size` bytes; a read
//! that passes verification equals the unverified one.
#![no_main]

use std::path::PathBuf;
use std::sync::OnceLock;

use kerasave::archive::{parse_members, read_member, verify_member, KerasArchive, Method};
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
        let d = base.join(format!("kerasave-fuzz-archive-{}", std::process::id()));
        std::fs::create_dir_all(&d).unwrap();
        d.join("model.keras")
    })
}

/// Tensors bigger than this are not read (the library's own caps are what is being tested for
/// the rest: listing them must still work).
const READ_CAP: u64 = 64 << 20;

fuzz_target!(|data: &[u8]| {
    let Ok(members) = parse_members(data) else {
        return;
    };
    for m in &members {
        let _ = m.is_dir();
        let plain = read_member(data, m, false);
        let checked = read_member(data, m, true);
        if let Ok(bytes) = &plain {
            assert_eq!(bytes.len() as u64, m.size, "read length != declared size");
            if m.method == Method::Stored {
                let (off, len) = m.stored_range().expect("stored member has a range");
                assert_eq!(&data[off as usize..(off + len) as usize], &bytes[..]);
            }
        }
        if let (Ok(a), Ok(b)) = (&plain, &checked) {
            assert_eq!(a, b, "verified and unverified reads differ");
        }
        let v = verify_member(data, m);
        assert_eq!(v.is_ok(), checked.is_ok(), "verify_member disagrees with a verified read");
    }

    // The same bytes as a file: what `ks.open` does.
    let p = path();
    std::fs::write(p, data).unwrap();
    let archive = KerasArchive::open(p).expect("parse_members accepted these bytes");
    assert_eq!(archive.members(), &members[..]);
    for m in &members {
        let _ = archive.read(&m.name);
        let _ = archive.read_verified(&m.name);
    }
    let _ = archive.verify_all();
    if let Some((offset, len)) = archive.stored_range("model.weights.h5") {
        if let Ok(h5) = H5File::open_in(archive.mapped().clone(), offset, len) {
            for d in h5.datasets().unwrap_or_default() {
                if let Layout::Contiguous { offset: o, len: l } = d.layout {
                    assert!(o >= offset && o + l <= offset + len, "dataset outside the member");
                }
                let n: Option<u64> = d.shape.iter().try_fold(1u64, |a, &b| a.checked_mul(b));
                let size = d.dtype.item_size().map(|s| s as u64).unwrap_or(8);
                if n.and_then(|n| n.checked_mul(size)).is_some_and(|b| b <= READ_CAP) {
                    let _ = h5.read(&d.path);
                }
            }
        }
    }
});
