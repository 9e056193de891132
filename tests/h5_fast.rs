//! The pure-Rust fast walk of Keras's HDF5 subset (`h5::fast`) against libhdf5's walk: for every
//! `.h5`/`.weights.h5` fixture under tests/data, every `.keras` weights member, and files written
//! by `H5Writer`, both give the same groups, datasets (dtype, shape, layout, byte range), zero-copy
//! status, tensor bytes and attributes, or the same error. The fast path may decline (and then
//! libhdf5 walks the file); it must actually be taken for the files Keras and our writer produce.

use std::path::{Path, PathBuf};

use kerasave::archive::KerasArchive;
use kerasave::h5::{fast, AttrValue, H5File, H5Writer};
use kerasave::io::MappedFile;
use kerasave::DType;

fn data_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/data")
}

fn walk_files(dir: &Path, out: &mut Vec<PathBuf>) {
    let Ok(rd) = std::fs::read_dir(dir) else {
        return;
    };
    let mut entries: Vec<PathBuf> = rd.filter_map(|e| e.ok().map(|e| e.path())).collect();
    entries.sort();
    for p in entries {
        if p.is_dir() {
            walk_files(&p, out);
        } else {
            out.push(p);
        }
    }
}

/// Everything a reader can observe about an opened file.
#[derive(Debug, PartialEq)]
struct View {
    groups: Vec<String>,
    datasets: Vec<String>,
    zero_copy: Vec<bool>,
    bytes: Vec<Result<Option<Vec<u8>>, String>>,
    attrs: Vec<Result<Vec<(String, AttrValue)>, String>>,
}

fn view(f: &H5File, with_attrs: bool) -> View {
    let groups = f.groups().unwrap();
    let ds = f.datasets().unwrap();
    let mut zero_copy = Vec::new();
    let mut bytes = Vec::new();
    let mut attrs = Vec::new();
    for d in &ds {
        zero_copy.push(f.is_zero_copy(&d.path).unwrap());
        bytes.push(
            f.read(&d.path)
                .map(|t| t.bytes().map(<[u8]>::to_vec))
                .map_err(|e| e.to_string()),
        );
        if with_attrs {
            attrs.push(f.attrs(&d.path).map_err(|e| e.to_string()));
        }
    }
    for g in groups.iter().filter(|_| with_attrs) {
        attrs.push(f.attrs(g).map_err(|e| e.to_string()));
    }
    View {
        groups,
        datasets: ds.iter().map(|d| format!("{d:?}")).collect(),
        zero_copy,
        bytes,
        attrs,
    }
}

/// Opens `len` bytes at `off` of `path` both ways and compares; returns whether fast was taken.
fn compare(path: &Path, member: Option<(u64, u64)>) -> bool {
    compare_with(path, member, true)
}

/// [`compare`]; `with_attrs` false skips attribute reads (both walks leave attributes to
/// libhdf5, and on damaged files a debug build of libhdf5 can abort on an assertion in its
/// global heap code, `H5HG__cache_heap_get_final_load_size`, before returning an error).
fn compare_with(path: &Path, member: Option<(u64, u64)>, with_attrs: bool) -> bool {
    let open = |fastpath: bool| {
        let file = MappedFile::open(path).unwrap();
        let (off, len) = member.unwrap_or((0, file.bytes().len() as u64));
        if fastpath {
            H5File::open_in(file, off, len)
        } else {
            H5File::open_in_libhdf5_walk(file, off, len)
        }
    };
    let (a, b) = (open(true), open(false));
    match (a, b) {
        (Ok(a), Ok(b)) => {
            assert!(!b.opened_fast());
            assert_eq!(
                view(&a, with_attrs),
                view(&b, with_attrs),
                "{}",
                path.display()
            );
            a.opened_fast()
        }
        (Err(a), Err(b)) => {
            assert_eq!(a.to_string(), b.to_string(), "{}", path.display());
            false
        }
        (a, b) => panic!(
            "{}: fast walk gave {:?}, libhdf5 walk {:?}",
            path.display(),
            a.map(|f| f.opened_fast()),
            b.map(|f| f.opened_fast())
        ),
    }
}

#[test]
fn fixtures_walk_identically() {
    let mut files = Vec::new();
    walk_files(&data_dir(), &mut files);
    let (mut h5, mut fast_h5, mut keras, mut fast_keras) = (0, 0, 0, 0);
    let mut declined = Vec::new();
    for p in &files {
        let name = p.to_string_lossy();
        if name.ends_with(".h5") {
            h5 += 1;
            if compare(p, None) {
                fast_h5 += 1;
            } else {
                declined.push(name.into_owned());
            }
        } else if name.ends_with(".keras") {
            let Ok(ar) = KerasArchive::open(p) else {
                continue;
            };
            let Some(range) = ar.stored_range("model.weights.h5") else {
                continue;
            };
            keras += 1;
            if compare(p, Some(range)) {
                fast_keras += 1;
            } else {
                declined.push(name.into_owned());
            }
        }
    }
    eprintln!(
        "fast walk: {fast_h5}/{h5} .h5 files, {fast_keras}/{keras} .keras members; declined: {declined:#?}"
    );
    assert!(
        h5 >= 40 && keras >= 20,
        "fixtures missing: {h5} .h5, {keras} .keras"
    );
    // Every Keras 3 / tf_keras fixture of the subset takes the fast path.
    for p in &declined {
        assert!(
            p.contains("bad_keras") || p.contains("bf16") || p.contains("derived"),
            "fast path declined a plain Keras file: {p}"
        );
    }
}

fn noise(len: usize, seed: u64) -> Vec<u8> {
    let mut x = seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1;
    (0..len)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            x as u8
        })
        .collect()
}

#[test]
fn writer_files_walk_identically() {
    let dir = tempfile::tempdir().unwrap();
    let p = dir.path().join("w.weights.h5");
    let mut w = H5Writer::create(&p).unwrap();
    let dtypes = [
        DType::Float16,
        DType::Float32,
        DType::Float64,
        DType::Int8,
        DType::Int16,
        DType::Int32,
        DType::Int64,
        DType::UInt8,
        DType::UInt16,
        DType::UInt32,
        DType::UInt64,
    ];
    for (i, &d) in dtypes.iter().enumerate() {
        let item = d.item_size().unwrap();
        let g = format!("/layers/t_{}/vars", d.name());
        w.write_dataset(&format!("{g}/0"), d, &[3, 5], &noise(15 * item, i as u64))
            .unwrap();
        w.write_dataset(&format!("{g}/1"), d, &[], &noise(item, 50 + i as u64))
            .unwrap();
    }
    let bools: Vec<u8> = (0..12).map(|i| (i % 3 == 0) as u8).collect();
    w.write_dataset("/bools", DType::Bool, &[4, 3], &bools)
        .unwrap();
    w.write_dataset("/empty/vars/0", DType::Float32, &[0], &[])
        .unwrap();
    w.write_dataset(
        "/deep/a/b/c/d/kernel:0",
        DType::Float32,
        &[7, 2],
        &noise(56, 7),
    )
    .unwrap();
    // Enough names for a multi-level group B-tree and many SNODs.
    for i in 0..1500u64 {
        w.write_dataset(
            &format!("/many/vars/{i}"),
            DType::Float32,
            &[2],
            &noise(8, 1000 + i),
        )
        .unwrap();
    }
    w.create_group("/layers/empty").unwrap();
    w.set_attr(
        "/",
        "keras_version",
        &AttrValue::String("3.15.1".into()),
        false,
    )
    .unwrap();
    w.set_attr("/bools", "n", &AttrValue::Int(vec![1, 2, 3]), false)
        .unwrap();
    w.finish().unwrap();
    assert!(
        compare(&p, None),
        "the writer's file must take the fast path"
    );
    let f = H5File::open(&p).unwrap();
    assert!(f.opened_fast());
    assert_eq!(f.datasets().unwrap().len(), dtypes.len() * 2 + 3 + 1500);
}

#[test]
fn truncations_and_bit_flips_never_disagree() {
    // Damage a small writer file at many places: the fast walk either declines or agrees with
    // libhdf5 (it must never accept what libhdf5 refuses, nor list something else).
    let dir = tempfile::tempdir().unwrap();
    let p = dir.path().join("small.h5");
    let mut w = H5Writer::create(&p).unwrap();
    for i in 0..12u64 {
        w.write_dataset(&format!("/l/v/{i}"), DType::Float32, &[2, 2], &noise(16, i))
            .unwrap();
    }
    w.write_dataset("/l/b", DType::Bool, &[3], &[1, 0, 1])
        .unwrap();
    w.write_dataset("/l/h", DType::Float16, &[], &[0, 0x3c])
        .unwrap();
    w.write_dataset("/l/i", DType::Int64, &[0], &[]).unwrap();
    w.set_attr(
        "/l",
        "names",
        &AttrValue::Strings(vec!["a".into(), "b".into()]),
        false,
    )
    .unwrap();
    w.finish().unwrap();
    let good = std::fs::read(&p).unwrap();
    let meta_end = good.len().min(4096);
    let q = dir.path().join("bad.h5");
    let mut parsed = 0;
    for i in 0..meta_end {
        for flip in [0x01u8, 0xff] {
            let mut bad = good.clone();
            bad[i] ^= flip;
            std::fs::write(&q, &bad).unwrap();
            if fast::parse(&bad, 0).is_some() {
                parsed += 1;
            }
            compare_with(&q, None, false);
        }
    }
    for cut in (0..good.len()).step_by(97) {
        std::fs::write(&q, &good[..cut]).unwrap();
        compare_with(&q, None, false);
    }
    eprintln!("bit flips the fast walk still parsed: {parsed}");
}
