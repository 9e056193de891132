//! `h5` against files other writers make (built here with libhdf5 through hdf5-metno, so no
//! Python is needed): chunked, deflated, compact, big-endian, unallocated and string datasets
//! read with a copy and equal values; links and storage that would read other files are refused;
//! datasets whose layout disagrees with their shape are corrupt.

use std::fs;
use std::path::Path;

use hdf5_metno as hdf5;
use hdf5_metno_sys::{h5d, h5p, h5s, h5t};
use kerasave::h5::{AttrValue, H5File, H5Writer, Layout};
use kerasave::tensor::TensorData;
use kerasave::{DType, Error};

fn f32_bytes(v: &[f32]) -> Vec<u8> {
    v.iter().flat_map(|x| x.to_le_bytes()).collect()
}

fn make(path: &Path, build: impl FnOnce(&hdf5::File)) {
    let f = hdf5::File::create(path).unwrap();
    build(&f);
    f.close().unwrap();
}

/// A dataset of `stored` type holding `values` converted from native f32/i16 by libhdf5.
fn raw_dataset(
    file: &hdf5::File,
    name: &str,
    stored: hdf5_metno_sys::h5i::hid_t,
    mem: hdf5_metno_sys::h5i::hid_t,
    n: u64,
    data: *const u8,
) {
    let cname = std::ffi::CString::new(name).unwrap();
    hdf5::sync::sync(|| unsafe {
        let dims = [n];
        let space = h5s::H5Screate_simple(1, dims.as_ptr(), std::ptr::null());
        let d = h5d::H5Dcreate2(
            file.id(),
            cname.as_ptr(),
            stored,
            space,
            h5p::H5P_DEFAULT,
            h5p::H5P_DEFAULT,
            h5p::H5P_DEFAULT,
        );
        assert!(d >= 0);
        assert!(
            h5d::H5Dwrite(
                d,
                mem,
                h5s::H5S_ALL,
                h5s::H5S_ALL,
                h5p::H5P_DEFAULT,
                data.cast()
            ) >= 0
        );
        h5d::H5Dclose(d);
        h5s::H5Sclose(space);
    });
}

#[test]
fn other_layouts_read_with_a_copy() {
    let dir = tempfile::tempdir().unwrap();
    let p = dir.path().join("layouts.h5");
    let vals: Vec<f32> = (0..12).map(|i| i as f32 * 0.25 - 1.0).collect();
    let arr = &vals[..];
    make(&p, |f| {
        f.new_dataset::<f32>()
            .shape((4, 3))
            .chunk((2, 3))
            .deflate(4)
            .create("deflated")
            .unwrap()
            .write_raw(arr)
            .unwrap();
        f.new_dataset::<f32>()
            .shape((4, 3))
            .chunk((1, 3))
            .create("chunked")
            .unwrap()
            .write_raw(arr)
            .unwrap();
        f.new_dataset::<f32>()
            .shape((4, 3))
            .layout(hdf5::plist::dataset_create::Layout::Compact)
            .create("compact")
            .unwrap()
            .write_raw(arr)
            .unwrap();
        f.new_dataset::<f32>()
            .shape(5)
            .create("unallocated")
            .unwrap();
        f.new_dataset::<bool>()
            .shape(3)
            .create("bools")
            .unwrap()
            .write(&[true, false, true])
            .unwrap();
        let words: Vec<hdf5::types::VarLenUnicode> = ["héllo", "", "world"]
            .iter()
            .map(|s| s.parse().unwrap())
            .collect();
        f.new_dataset::<hdf5::types::VarLenUnicode>()
            .shape(3)
            .create("words")
            .unwrap()
            .write(&words)
            .unwrap();
        let fixed: Vec<hdf5::types::FixedAscii<8>> = ["ab", "cdefgh"]
            .iter()
            .map(|s| hdf5::types::FixedAscii::from_ascii(s).unwrap())
            .collect();
        f.new_dataset::<hdf5::types::FixedAscii<8>>()
            .shape(2)
            .create("fixed")
            .unwrap()
            .write(&fixed)
            .unwrap();
        let be = [1.5f32, -2.0, 3.25];
        raw_dataset(
            f,
            "be_f32",
            *hdf5::globals::H5T_IEEE_F32BE,
            *hdf5::globals::H5T_NATIVE_FLOAT,
            3,
            be.as_ptr().cast(),
        );
        let bi = [-2i16, 300, 7];
        raw_dataset(
            f,
            "be_i16",
            *hdf5::globals::H5T_STD_I16BE,
            *hdf5::globals::H5T_NATIVE_SHORT,
            3,
            bi.as_ptr().cast(),
        );
    });
    let f = H5File::open(&p).unwrap();
    let expect = f32_bytes(&vals);
    for (name, layout, filtered) in [
        ("/deflated", Layout::Chunked, true),
        ("/chunked", Layout::Chunked, false),
        ("/compact", Layout::Compact, false),
    ] {
        let info = f.dataset(name).unwrap();
        assert_eq!(
            (info.dtype, &info.shape[..], info.layout, info.filtered),
            (DType::Float32, &[4u64, 3][..], layout, filtered),
            "{name}"
        );
        let t = f.read(name).unwrap();
        assert!(!t.is_zero_copy(), "{name}");
        assert_eq!(t.bytes().unwrap(), &expect[..], "{name}");
    }
    let u = f.read("/unallocated").unwrap();
    assert_eq!(
        f.dataset("/unallocated").unwrap().layout,
        Layout::Unallocated
    );
    assert_eq!(u.bytes().unwrap(), &[0u8; 20][..]);

    let b = f.read("/bools").unwrap();
    assert_eq!(
        (b.dtype, b.is_zero_copy(), b.bytes().unwrap()),
        (DType::Bool, true, &[1u8, 0, 1][..])
    );

    let w = f.read("/words").unwrap();
    assert_eq!(w.dtype, DType::String);
    match &w.data {
        TensorData::Strings(s) => {
            assert_eq!(s, &[b"h\xc3\xa9llo".to_vec(), vec![], b"world".to_vec()])
        }
        other => panic!("{other:?}"),
    }
    match &f.read("/fixed").unwrap().data {
        TensorData::Strings(s) => assert_eq!(s, &[b"ab".to_vec(), b"cdefgh".to_vec()]),
        other => panic!("{other:?}"),
    }

    // Big-endian: listed with the little-endian dtype, read converted, never a view.
    let t = f.read("/be_f32").unwrap();
    assert!(matches!(
        f.dataset("/be_f32").unwrap().layout,
        Layout::Contiguous { .. }
    ));
    assert!(!t.is_zero_copy());
    assert_eq!(
        (t.dtype, t.bytes().unwrap()),
        (DType::Float32, &f32_bytes(&[1.5, -2.0, 3.25])[..])
    );
    let t = f.read("/be_i16").unwrap();
    let le: Vec<u8> = [-2i16, 300, 7]
        .iter()
        .flat_map(|x| x.to_le_bytes())
        .collect();
    assert_eq!((t.dtype, t.bytes().unwrap()), (DType::Int16, &le[..]));
}

fn assert_unsupported(path: &Path, needle: &str) {
    match H5File::open(path) {
        Err(Error::Unsupported { at, detail }) => {
            assert_eq!(at.file.as_deref(), Some(path));
            assert!(
                detail.contains(needle),
                "{detail:?} should mention {needle:?}"
            );
        }
        other => panic!("{}: {other:?}", path.display()),
    }
}

#[test]
fn links_and_storage_into_other_files_are_refused() {
    let dir = tempfile::tempdir().unwrap();
    let target = dir.path().join("target.h5");
    make(&target, |f| {
        f.new_dataset::<f32>()
            .shape(4)
            .create("x")
            .unwrap()
            .write(&[1.0f32, 2.0, 3.0, 4.0])
            .unwrap();
    });
    fs::write(dir.path().join("raw.bin"), f32_bytes(&[9.0; 4])).unwrap();

    let soft = dir.path().join("soft.h5");
    make(&soft, |f| {
        f.create_group("g").unwrap();
        f.new_dataset::<f32>().shape(4).create("g/x").unwrap();
        f.link_soft("/g/x", "alias").unwrap();
    });
    assert_unsupported(&soft, "/alias is a soft link");

    let external = dir.path().join("external.h5");
    make(&external, |f| {
        f.create_group("layers")
            .unwrap()
            .link_external(target.to_str().unwrap(), "/x", "w")
            .unwrap();
    });
    assert_unsupported(&external, "/layers/w is an external link");

    let storage = dir.path().join("storage.h5");
    make(&storage, |f| {
        f.new_dataset::<f32>()
            .shape(4)
            .external(dir.path().join("raw.bin").to_str().unwrap(), 0, 16)
            .create("ext")
            .unwrap();
    });
    assert_unsupported(&storage, "/ext stores its data in external files");

    let vds = dir.path().join("vds.h5");
    make(&vds, |f| {
        f.new_dataset::<f32>()
            .shape(4)
            .virtual_map(target.to_str().unwrap(), "/x", 4, .., 4, ..)
            .create("v")
            .unwrap();
    });
    assert_unsupported(&vds, "/v is a virtual dataset");

    // An opaque type without a `dtype` attribute naming an ml_dtypes type has no meaning.
    let opaque = dir.path().join("opaque.h5");
    make(&opaque, |f| {
        let t = hdf5::sync::sync(|| unsafe { h5t::H5Tcreate(h5t::H5T_class_t::H5T_OPAQUE, 2) });
        raw_dataset(f, "blob", t, t, 2, [1u8, 2, 3, 4].as_ptr());
        hdf5::sync::sync(|| unsafe { h5t::H5Tclose(t) });
    });
    assert_unsupported(&opaque, "/blob: opaque type of 2 bytes");
    // A hard-link cycle is walked once and terminates.
    let cycle = dir.path().join("cycle.h5");
    make(&cycle, |f| {
        f.create_group("a/b").unwrap();
        f.link_hard("/a", "a/b/up").unwrap();
        f.new_dataset::<f32>()
            .shape(1)
            .create("a/x")
            .unwrap()
            .write(&[5.0f32])
            .unwrap();
    });
    let c = H5File::open(&cycle).unwrap();
    assert_eq!(c.groups().unwrap(), ["/", "/a", "/a/b"]);
    let paths: Vec<String> = c.datasets().unwrap().into_iter().map(|d| d.path).collect();
    assert_eq!(paths, ["/a/x"]);
}

/// Finds the contiguous layout message (version 3, class 1, address, size) of a dataset.
fn layout_message(bytes: &[u8], addr: u64, size: u64) -> usize {
    let mut pat = vec![3u8, 1];
    pat.extend_from_slice(&addr.to_le_bytes());
    pat.extend_from_slice(&size.to_le_bytes());
    let hits: Vec<usize> = bytes
        .windows(pat.len())
        .enumerate()
        .filter(|(_, w)| *w == &pat[..])
        .map(|(i, _)| i)
        .collect();
    assert_eq!(hits.len(), 1, "layout message not found exactly once");
    hits[0]
}

#[test]
fn layouts_that_disagree_with_the_shape_are_corrupt() {
    let dir = tempfile::tempdir().unwrap();
    let good = dir.path().join("good.h5");
    let mut w = H5Writer::create(&good).unwrap();
    w.write_dataset(
        "/w",
        DType::Float32,
        &[4],
        &f32_bytes(&[1.0, 2.0, 3.0, 4.0]),
    )
    .unwrap();
    w.set_attr("/w", "name", &AttrValue::String("w".into()), false)
        .unwrap();
    w.finish().unwrap();
    let bytes = fs::read(&good).unwrap();
    let addr = match H5File::open(&good).unwrap().dataset("/w").unwrap().layout {
        Layout::Contiguous { offset, len } => {
            assert_eq!(len, 16);
            offset
        }
        other => panic!("{other:?}"),
    };
    let at = layout_message(&bytes, addr, 16);
    let cases: Vec<(&str, u64, u64)> = vec![
        ("size_short", addr, 12),
        ("size_long", addr, 20),
        ("addr_past_end", bytes.len() as u64 + 64, 16),
        ("addr_straddles_end", bytes.len() as u64 - 8, 16),
        ("addr_huge", u64::MAX - 4, 16),
    ];
    for (name, a, s) in cases {
        let mut b = bytes.clone();
        b[at + 2..at + 10].copy_from_slice(&a.to_le_bytes());
        b[at + 10..at + 18].copy_from_slice(&s.to_le_bytes());
        let p = dir.path().join(name);
        fs::write(&p, &b).unwrap();
        let outcome = H5File::open(&p).and_then(|f| f.read("/w").map(|_| ()));
        match outcome {
            Err(Error::Corrupt { at, detail }) => {
                assert_eq!(at.file.as_deref(), Some(p.as_path()), "{name}");
                assert!(detail.starts_with("/w: "), "{name}: {detail}");
            }
            other => panic!("{name}: {other:?}"),
        }
    }
}
