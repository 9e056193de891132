//! A whole bundle from arbitrary bytes: `BundleReader::open`, then every key read with verify on
//! and off, `verify_all` and the object graph.
//!
//! Input layout: `index bytes || data bytes`, split right after the first SSTable footer magic
//! (`57 fb 80 8b 24 75 47 db`); without a magic the whole input is the index and the shard is
//! empty. A seed is therefore simply `cat ckpt.index ckpt.data-00000-of-00001`.
//! The files go to a per-process directory in /dev/shm (tmpfs), rewritten each run. The data
//! bytes are written as shard 0 of 1 and as both shards of 2, so multi-shard headers get data.
#![no_main]

use std::path::PathBuf;
use std::sync::OnceLock;

use kerasave::bundle::reader::BundleReader;
use kerasave::tensor::{Tensor, TensorData};
use libfuzzer_sys::fuzz_target;

const MAGIC: [u8; 8] = [0x57, 0xfb, 0x80, 0x8b, 0x24, 0x75, 0x47, 0xdb];

fn dir() -> &'static PathBuf {
    static DIR: OnceLock<PathBuf> = OnceLock::new();
    DIR.get_or_init(|| {
        let base = if std::path::Path::new("/dev/shm").is_dir() {
            PathBuf::from("/dev/shm")
        } else {
            std::env::temp_dir()
        };
        let d = base.join(format!("kerasave-fuzz-bundle-{}", std::process::id()));
        std::fs::create_dir_all(&d).unwrap();
        d
    })
}

fn split(data: &[u8]) -> (&[u8], &[u8]) {
    match data.windows(MAGIC.len()).position(|w| w == MAGIC) {
        Some(i) => data.split_at(i + MAGIC.len()),
        None => (data, &[]),
    }
}

/// Same dtype, shape and contents. Also exercises `num_elements` and `bytes` on what came back.
fn same(a: &Tensor, b: &Tensor) -> bool {
    let _ = (a.num_elements(), b.num_elements());
    let elems = |t: &Tensor| match &t.data {
        TensorData::Strings(v) | TensorData::Variants(v) => Some(v.clone()),
        _ => None,
    };
    a.dtype == b.dtype && a.shape == b.shape && a.bytes() == b.bytes() && elems(a) == elems(b)
}

fuzz_target!(|data: &[u8]| {
    let (index, shard) = split(data);
    let d = dir();
    let prefix = d.join("ckpt");
    std::fs::write(d.join("ckpt.index"), index).unwrap();
    for name in [
        "ckpt.data-00000-of-00001",
        "ckpt.data-00000-of-00002",
        "ckpt.data-00001-of-00002",
    ] {
        std::fs::write(d.join(name), shard).unwrap();
    }

    let Ok(reader) = BundleReader::open(&prefix) else {
        return;
    };
    let _ = reader.num_shards();
    let _ = reader.is_big_endian();
    let keys: Vec<Vec<u8>> = reader.keys().into_iter().map(<[u8]>::to_vec).collect();
    for key in &keys {
        let _ = reader.entry(key);
        let plain = reader.read(key, false);
        let checked = reader.read(key, true);
        // A read that passes verification must agree with the unverified one.
        if let (Ok(a), Ok(b)) = (&plain, &checked) {
            assert!(same(a, b), "verified and unverified reads differ");
        }
    }
    let refs: Vec<&[u8]> = keys.iter().map(Vec::as_slice).collect();
    let _ = reader.read_many(&refs, true);
    let _ = reader.verify_all();
    let _ = reader.object_graph();
});
