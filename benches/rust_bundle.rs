//! Criterion benches for the Rust hot paths of the tensor bundle (no Python involved).
//!
//! * `table/read_table_6000_keys`: parse + CRC-check the SSTable `.index` of a 6000-tensor bundle.
//! * `table/bundle_open_6000_keys`: `BundleReader::open` on it (table parse + every entry validated).
//! * `crc32c/raw_64MiB`: `checksum::crc32c` over 64 MiB in memory.
//! * `crc32c/read_verify_64MiB`: open a bundle + `read(key, verify=true)` of one 64 MiB tensor
//!   (page cache warm; a new reader each time because verification is cached per key).
//! * `write_bundle/64MiB_1_tensor` and `/64MiB_1024_tensors`: `write_bundle` to a temp dir,
//!   including its fsync + rename.
//!
//! Run: `cargo bench --bench rust_bundle` (small sample sizes, ~1 min); see benches/README.md.

use std::hint::black_box;
use std::path::Path;
use std::time::Duration;

use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use kerasave::bundle::table::read_table;
use kerasave::bundle::{write_bundle, BundleReader, WriteOptions};
use kerasave::checksum::crc32c;
use kerasave::tensor::{Payload, TensorRef};
use kerasave::DType;

const MIB: usize = 1 << 20;

/// Deterministic non-constant bytes (a constant buffer would flatter nothing here, but keep the
/// data realistic anyway).
fn payload(len: usize, seed: u64) -> Vec<u8> {
    let mut x = seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1;
    let mut out = Vec::with_capacity(len);
    while out.len() < len {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        out.extend_from_slice(&x.to_le_bytes());
    }
    out.truncate(len);
    out
}

/// Writes `count` float32 tensors of `each` bytes under Keras-like object-path keys.
fn write(prefix: &Path, bufs: &[Vec<u8>], shapes: &[[u64; 1]], keys: &[String]) -> u32 {
    let refs: Vec<TensorRef> = bufs
        .iter()
        .zip(shapes)
        .zip(keys)
        .map(|((b, s), k)| TensorRef {
            key: k.as_bytes(),
            dtype: DType::Float32,
            shape: s,
            payload: Payload::Raw(b),
        })
        .collect();
    write_bundle(prefix, &refs, &WriteOptions::default()).expect("write_bundle")
}

fn tensors(count: usize, each: usize) -> (Vec<Vec<u8>>, Vec<[u64; 1]>, Vec<String>) {
    let bufs: Vec<Vec<u8>> = (0..count).map(|i| payload(each, i as u64)).collect();
    let shapes = vec![[(each / 4) as u64]; count];
    let keys = (0..count)
        .map(|i| format!("model/layer_with_weights-{i}/kernel/.ATTRIBUTES/VARIABLE_VALUE"))
        .collect();
    (bufs, shapes, keys)
}

fn bench_table(c: &mut Criterion) {
    let dir = tempfile::tempdir().unwrap();
    let prefix = dir.path().join("ckpt");
    let (bufs, shapes, keys) = tensors(6000, 16);
    write(&prefix, &bufs, &shapes, &keys);
    let index = std::fs::read(dir.path().join("ckpt.index")).unwrap();
    let mut g = c.benchmark_group("table");
    g.throughput(Throughput::Bytes(index.len() as u64));
    g.bench_function("read_table_6000_keys", |b| {
        b.iter(|| black_box(read_table(black_box(&index)).unwrap()))
    });
    g.bench_function("bundle_open_6000_keys", |b| {
        b.iter(|| black_box(BundleReader::open(&prefix).unwrap()))
    });
    g.finish();
}

fn bench_crc(c: &mut Criterion) {
    let buf = payload(64 * MIB, 7);
    let dir = tempfile::tempdir().unwrap();
    let prefix = dir.path().join("ckpt");
    let key = "big/.ATTRIBUTES/VARIABLE_VALUE".to_string();
    write(
        &prefix,
        std::slice::from_ref(&buf),
        &[[(buf.len() / 4) as u64]],
        std::slice::from_ref(&key),
    );
    let mut g = c.benchmark_group("crc32c");
    g.throughput(Throughput::Bytes(buf.len() as u64));
    g.bench_function("raw_64MiB", |b| {
        b.iter(|| black_box(crc32c(black_box(&buf))))
    });
    g.bench_function("read_verify_64MiB", |b| {
        b.iter(|| {
            let r = BundleReader::open(&prefix).unwrap();
            black_box(r.read(key.as_bytes(), true).unwrap())
        })
    });
    g.finish();
}

fn bench_write(c: &mut Criterion) {
    let dir = tempfile::tempdir().unwrap();
    let prefix = dir.path().join("ckpt");
    let mut g = c.benchmark_group("write_bundle");
    g.throughput(Throughput::Bytes(64 * MIB as u64));
    for (name, count) in [("64MiB_1_tensor", 1usize), ("64MiB_1024_tensors", 1024)] {
        let (bufs, shapes, keys) = tensors(count, 64 * MIB / count);
        g.bench_function(name, |b| b.iter(|| write(&prefix, &bufs, &shapes, &keys)));
    }
    g.finish();
}

fn config() -> Criterion {
    // Small and quick: the machine is shared, and these are regressions guards, not papers.
    Criterion::default()
        .sample_size(10)
        .warm_up_time(Duration::from_millis(500))
        .measurement_time(Duration::from_secs(3))
}

criterion_group! {
    name = benches;
    config = config();
    targets = bench_table, bench_crc, bench_write
}
criterion_main!(benches);
