//! `bundle::writer` + `bundle::reader` end to end: TF's exact bytes (tf_formats.md §1.7), every
//! dtype, strings, scalars, empty tensors, shards, hand-built big-endian and partitioned bundles,
//! corruption (typed errors, no panics), and the TF-written fixtures under `tests/data/tf/`
//! (values against `expected.json`; single-shard ones re-written byte for byte).

use std::fs;
use std::path::{Path, PathBuf};

use kerasave::bundle::naming::{data_path, encode_slice_key, index_path};
use kerasave::bundle::table::TableBuilder;
use kerasave::bundle::{write_bundle, BundleReader, WriteOptions};
use kerasave::checksum::{crc32c, crc32c_extend, mask};
use kerasave::proto::tensorflow::{
    tensor_shape_proto::Dim, tensor_slice_proto::extent::HasLengthHack, tensor_slice_proto::Extent,
    BundleEntryProto, BundleHeaderProto, TensorShapeProto, TensorSliceProto, TrackableObjectGraph,
    VersionDef,
};
use kerasave::tensor::{Payload, Tensor, TensorData, TensorRef};
use kerasave::{DType, Error};
use prost::Message;

// ---------------------------------------------------------------------------------------------
// helpers

fn raw<'a>(key: &'a str, dtype: DType, shape: &'a [u64], bytes: &'a [u8]) -> TensorRef<'a> {
    TensorRef {
        key: key.as_bytes(),
        dtype,
        shape,
        payload: Payload::Raw(bytes),
    }
}

fn strs<'a>(key: &'a str, shape: &'a [u64], s: &'a [&'a [u8]]) -> TensorRef<'a> {
    TensorRef {
        key: key.as_bytes(),
        dtype: DType::String,
        shape,
        payload: Payload::Strings(s),
    }
}

fn f32_bytes(v: &[f32]) -> Vec<u8> {
    v.iter().flat_map(|x| x.to_le_bytes()).collect()
}

fn bytes_of(t: &Tensor) -> &[u8] {
    t.bytes().expect("fixed-size tensor")
}

fn strings_of(t: &Tensor) -> &[Vec<u8>] {
    match &t.data {
        TensorData::Strings(s) => s,
        other => panic!("not strings: {other:?}"),
    }
}

fn hex(s: &str) -> Vec<u8> {
    let s: String = s.split_whitespace().collect();
    (0..s.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&s[i..i + 2], 16).unwrap())
        .collect()
}

fn shape_proto(dims: &[i64]) -> Option<TensorShapeProto> {
    Some(TensorShapeProto {
        dim: dims
            .iter()
            .map(|&size| Dim {
                size,
                name: String::new(),
            })
            .collect(),
        unknown_rank: false,
    })
}

/// A hand-built bundle: header, entries (any order; sorted here) and shard contents.
fn write_raw_bundle(
    prefix: &Path,
    header: BundleHeaderProto,
    entries: Vec<(Vec<u8>, BundleEntryProto)>,
    shards: &[Vec<u8>],
) {
    let mut entries = entries;
    entries.sort_by(|a, b| a.0.cmp(&b.0));
    let mut t = TableBuilder::new();
    t.add(b"", &header.encode_to_vec()).unwrap();
    for (k, e) in &entries {
        t.add(k, &e.encode_to_vec()).unwrap();
    }
    fs::write(index_path(prefix), t.finish()).unwrap();
    for (i, data) in shards.iter().enumerate() {
        fs::write(data_path(prefix, i as u32, shards.len() as u32), data).unwrap();
    }
}

fn header(num_shards: i32, endianness: i32) -> BundleHeaderProto {
    BundleHeaderProto {
        num_shards,
        endianness,
        version: Some(VersionDef {
            producer: 1,
            ..Default::default()
        }),
    }
}

/// Appends `payload` to `data` and returns its entry.
fn push_entry(
    data: &mut Vec<u8>,
    dtype: DType,
    dims: &[i64],
    shard: i32,
    payload: &[u8],
    crc: u32,
) -> BundleEntryProto {
    let e = BundleEntryProto {
        dtype: dtype.tf_code(),
        shape: shape_proto(dims),
        shard_id: shard,
        offset: data.len() as i64,
        size: payload.len() as i64,
        crc32c: crc,
        slices: vec![],
    };
    data.extend_from_slice(payload);
    e
}

fn corrupt_detail(e: &Error) -> &str {
    match e {
        Error::Corrupt { detail, .. } => detail,
        other => panic!("expected Error::Corrupt, got {other:?}"),
    }
}

// ---------------------------------------------------------------------------------------------
// TF's exact bytes

#[test]
fn tf_worked_example_is_byte_identical() {
    // tf_formats.md §1.7: w = float32[2] [1, 2], s = string ["ab", ""], SaveV2 order [w, s].
    // (The prose says [1,2]; TF's bytes say shape [2] (`12 02 08 02`), which is what we match.)
    let dir = tempfile::tempdir().unwrap();
    let prefix = dir.path().join("ckpt");
    let w = f32_bytes(&[1.0, 2.0]);
    let s: [&[u8]; 2] = [b"ab", b""];
    let n = write_bundle(
        &prefix,
        &[raw("w", DType::Float32, &[2], &w), strs("s", &[2], &s)],
        &WriteOptions::default(),
    )
    .unwrap();
    assert_eq!(n, 1);
    let index = hex("000006 08011a020801
         000111 73 08071204120208022008280835 9188b04d
         00010f 77 080112041202080228083559 3ce535
         00000000 01000000
         004d7fa807
         0000000001000000 00c0f2a1b0
         000102 78 0039 00000000 01000000 0053ee0f5d
         3e084b0e");
    let mut index = index;
    index.extend_from_slice(&[0; 36]);
    index.extend_from_slice(&hex("57fb808b247547db"));
    assert_eq!(index.len(), 142);
    assert_eq!(fs::read(dir.path().join("ckpt.index")).unwrap(), index);
    assert_eq!(
        fs::read(dir.path().join("ckpt.data-00000-of-00001")).unwrap(),
        hex("0000803f00000040 0200 78270b34 6162")
    );
    // Only the two files: no temp files left behind.
    assert_eq!(fs::read_dir(dir.path()).unwrap().count(), 2);

    let r = BundleReader::open(&prefix).unwrap();
    assert_eq!(r.keys(), vec![&b"s"[..], b"w"]);
    let w_back = r.read(b"w", true).unwrap();
    assert!(w_back.is_zero_copy());
    assert_eq!(bytes_of(&w_back), &w[..]);
    assert_eq!(
        strings_of(&r.read(b"s", true).unwrap()),
        &[b"ab".to_vec(), vec![]]
    );
    r.verify_all().unwrap();
}

// ---------------------------------------------------------------------------------------------
// round trips

#[test]
fn every_fixed_dtype_round_trips() {
    let dir = tempfile::tempdir().unwrap();
    let prefix = dir.path().join("all");
    let fixed: Vec<DType> = DType::ALL
        .iter()
        .copied()
        .filter(|d| d.is_fixed_size())
        .collect();
    let payloads: Vec<(String, DType, Vec<u8>)> = fixed
        .iter()
        .map(|&d| {
            let n = 6 * d.item_size().unwrap();
            let bytes = (0..n)
                .map(|i| (i * 37 + d.tf_code() as usize) as u8)
                .collect();
            (format!("t/{}", d.name()), d, bytes)
        })
        .collect();
    let shape = [3u64, 2];
    let refs: Vec<TensorRef> = payloads
        .iter()
        .map(|(k, d, b)| raw(k, *d, &shape, b))
        .collect();
    write_bundle(&prefix, &refs, &WriteOptions::default()).unwrap();

    let r = BundleReader::open(&prefix).unwrap();
    assert_eq!(r.keys().len(), fixed.len());
    for (k, d, b) in &payloads {
        let t = r.read(k.as_bytes(), true).unwrap();
        assert_eq!((t.dtype, &t.shape[..]), (*d, &shape[..]), "{k}");
        assert_eq!(bytes_of(&t), &b[..], "{k}");
        assert!(t.is_zero_copy(), "{k}");
        let e = r.entry(k.as_bytes()).unwrap();
        assert_eq!(e.size, b.len() as u64);
        assert_eq!(e.crc32c, mask(crc32c(b)));
    }
    // read_many keeps the order asked for.
    let keys: Vec<&[u8]> = payloads
        .iter()
        .rev()
        .map(|(k, _, _)| k.as_bytes())
        .collect();
    let many = r.read_many(&keys, true).unwrap();
    for (t, (_, d, b)) in many.iter().zip(payloads.iter().rev()) {
        assert_eq!((t.dtype, bytes_of(t)), (*d, &b[..]));
    }
    r.verify_all().unwrap();
}

#[test]
fn strings_scalars_and_empty_tensors() {
    let dir = tempfile::tempdir().unwrap();
    let prefix = dir.path().join("s");
    let long = vec![b'x'; 200];
    let mixed: [&[u8]; 4] = [b"hello", b"", b"w\0rld", &long];
    let odd: [&[u8]; 4] = [b"\xff", b"\x00\xff\x00", b"\xff\xfe", b""];
    let scalar: [&[u8]; 1] = [b"just one"];
    let none: [&[u8]; 0] = [];
    let f = f32_bytes(&[3.5]);
    let i = 7i64.to_le_bytes();
    let tensors = [
        raw("scalar_f32", DType::Float32, &[], &f),
        strs("mixed", &[4], &mixed),
        raw("empty_f32", DType::Float32, &[0, 3], &[]),
        strs("odd", &[2, 2], &odd),
        strs("empty_s", &[0], &none),
        strs("scalar_s", &[], &scalar),
        raw("scalar_i64", DType::Int64, &[], &i),
        strs("empty_s_0x3", &[0, 3], &none),
    ];
    write_bundle(&prefix, &tensors, &WriteOptions::default()).unwrap();
    let data = fs::read(data_path(&prefix, 0, 1)).unwrap();
    let r = BundleReader::open(&prefix).unwrap();

    // §2.4 example: lengths 05 00 05 c8 01, length crc 0e 0d 99 05.
    let e = r.entry(b"mixed").unwrap();
    let at = e.offset as usize;
    assert_eq!(&data[at..at + 9], &hex("05 00 05 c8 01 0e 0d 99 05")[..]);
    assert_eq!(e.size, 9 + 5 + 5 + 200);
    // Empty string tensor: just Mask(0).
    let e = r.entry(b"empty_s").unwrap();
    assert_eq!(e.size, 4);
    assert_eq!(&data[e.offset as usize..][..4], &hex("d8 ea 82 a2")[..]);
    // Empty numeric tensor: size 0 at the current position, crc Mask(0).
    let e = r.entry(b"empty_f32").unwrap();
    assert_eq!((e.size, e.offset, e.crc32c), (0, 4 + 219, 0xA282_EAD8));
    // Scalars: shape [].
    assert_eq!(r.entry(b"scalar_i64").unwrap().shape, Vec::<u64>::new());

    for verify in [false, true] {
        assert_eq!(
            strings_of(&r.read(b"mixed", verify).unwrap()),
            &mixed.map(<[u8]>::to_vec)[..]
        );
        assert_eq!(
            strings_of(&r.read(b"odd", verify).unwrap()),
            &odd.map(<[u8]>::to_vec)[..]
        );
        assert_eq!(
            strings_of(&r.read(b"scalar_s", verify).unwrap()),
            &[b"just one".to_vec()]
        );
        assert!(strings_of(&r.read(b"empty_s", verify).unwrap()).is_empty());
        assert!(strings_of(&r.read(b"empty_s_0x3", verify).unwrap()).is_empty());
        let t = r.read(b"empty_f32", verify).unwrap();
        assert_eq!((t.shape.clone(), bytes_of(&t).len()), (vec![0, 3], 0));
        assert_eq!(bytes_of(&r.read(b"scalar_f32", verify).unwrap()), &f[..]);
        assert_eq!(bytes_of(&r.read(b"scalar_i64", verify).unwrap()), &i[..]);
    }
    r.verify_all().unwrap();
}

#[test]
fn multi_shard_write_and_read() {
    let dir = tempfile::tempdir().unwrap();
    let prefix = dir.path().join("sub/dir/ckpt-7"); // the directory is created, like TF
    let blobs: Vec<Vec<u8>> = (0..5u8).map(|i| vec![i; 100]).collect();
    let big = vec![9u8; 1000];
    let s: [&[u8]; 2] = [b"left", b"right"];
    let mut tensors: Vec<TensorRef> = blobs
        .iter()
        .enumerate()
        .map(|(i, b)| TensorRef {
            key: ["a", "b", "c", "d", "e"][i].as_bytes(),
            dtype: DType::UInt8,
            shape: &[100],
            payload: Payload::Raw(b),
        })
        .collect();
    tensors.insert(2, raw("big", DType::Int32, &[250], &big));
    tensors.push(strs("s", &[2], &s));
    let opts = WriteOptions {
        max_shard_size: Some(250),
        ..Default::default()
    };
    // a b | big | c d | e s
    assert_eq!(write_bundle(&prefix, &tensors, &opts).unwrap(), 4);
    for shard in 0..4 {
        assert!(data_path(&prefix, shard, 4).exists());
    }
    let r = BundleReader::open(&prefix).unwrap();
    assert_eq!(r.num_shards(), 4);
    let where_: Vec<(u32, u64)> = ["a", "b", "big", "c", "d", "e", "s"]
        .iter()
        .map(|k| {
            let e = r.entry(k.as_bytes()).unwrap();
            (e.shard_id, e.offset)
        })
        .collect();
    assert_eq!(
        where_,
        vec![(0, 0), (0, 100), (1, 0), (2, 0), (2, 100), (3, 0), (3, 100)]
    );
    for t in &tensors {
        let back = r.read(t.key, true).unwrap();
        match t.payload {
            Payload::Raw(b) => assert_eq!(bytes_of(&back), b),
            Payload::Strings(s) => assert_eq!(
                strings_of(&back),
                &s.iter().map(|x| x.to_vec()).collect::<Vec<_>>()[..]
            ),
        }
    }
    r.verify_all().unwrap();
}

#[test]
fn overwriting_keeps_old_views_valid() {
    // Files are replaced by rename, never rewritten in place: a zero-copy tensor of the old
    // bundle keeps its bytes (its map holds the old inode).
    let dir = tempfile::tempdir().unwrap();
    let prefix = dir.path().join("ckpt");
    let (old_a, new_a) = (vec![1u8; 100], vec![2u8; 100]);
    write_bundle(
        &prefix,
        &[raw("a", DType::UInt8, &[100], &old_a)],
        &WriteOptions::default(),
    )
    .unwrap();
    let old = BundleReader::open(&prefix)
        .unwrap()
        .read(b"a", true)
        .unwrap();
    assert!(old.is_zero_copy());
    write_bundle(
        &prefix,
        &[raw("a", DType::UInt8, &[100], &new_a)],
        &WriteOptions::default(),
    )
    .unwrap();
    assert_eq!(bytes_of(&old), &old_a[..]);
    let new = BundleReader::open(&prefix)
        .unwrap()
        .read(b"a", true)
        .unwrap();
    assert_eq!(bytes_of(&new), &new_a[..]);
    assert_eq!(fs::read_dir(dir.path()).unwrap().count(), 2);
}

#[test]
fn writer_rejects_bad_input() {
    let dir = tempfile::tempdir().unwrap();
    let prefix = dir.path().join("x");
    let b = [0u8; 4];
    let one: [&[u8]; 1] = [b"a"];
    let cases: Vec<Vec<TensorRef>> = vec![
        vec![
            raw("a", DType::Float32, &[1], &b),
            raw("a", DType::Float32, &[1], &b),
        ],
        vec![raw("", DType::Float32, &[1], &b)],
        vec![raw("\0slice", DType::Float32, &[1], &b)],
        vec![raw("a", DType::Float32, &[2], &b)],
        vec![raw("a", DType::String, &[1], &b)],
        vec![strs("a", &[2], &one)],
        vec![raw("a", DType::Variant, &[1], &b)],
    ];
    for tensors in cases {
        let e = write_bundle(&prefix, &tensors, &WriteOptions::default()).unwrap_err();
        assert!(matches!(e, Error::InvalidArgument(_)), "{e:?}");
    }
    // Nothing was written.
    assert_eq!(fs::read_dir(dir.path()).unwrap().count(), 0);
}

#[test]
fn object_graph_round_trip() {
    let dir = tempfile::tempdir().unwrap();
    let prefix = dir.path().join("og");
    let graph = TrackableObjectGraph::default();
    let mut graph = graph;
    graph.nodes.push(Default::default());
    let bytes = graph.encode_to_vec();
    let og: [&[u8]; 1] = [&bytes];
    let v = f32_bytes(&[1.0]);
    write_bundle(
        &prefix,
        &[
            raw("v", DType::Float32, &[1], &v),
            strs("_CHECKPOINTABLE_OBJECT_GRAPH", &[], &og),
        ],
        &WriteOptions::default(),
    )
    .unwrap();
    let r = BundleReader::open(&prefix).unwrap();
    assert_eq!(r.object_graph().unwrap(), Some(graph));

    // No graph: None. A graph that does not parse: Corrupt naming the key and the data file.
    let plain = dir.path().join("plain");
    write_bundle(
        &plain,
        &[raw("v", DType::Float32, &[1], &v)],
        &WriteOptions::default(),
    )
    .unwrap();
    assert_eq!(
        BundleReader::open(&plain).unwrap().object_graph().unwrap(),
        None
    );
    let garbage = dir.path().join("garbage");
    let junk: [&[u8]; 1] = [b"\xff\xff\xff\xff junk"];
    write_bundle(
        &garbage,
        &[strs("_CHECKPOINTABLE_OBJECT_GRAPH", &[], &junk)],
        &WriteOptions::default(),
    )
    .unwrap();
    let r = BundleReader::open(&garbage).unwrap();
    let e = r.object_graph().unwrap_err();
    let msg = e.to_string();
    assert!(corrupt_detail(&e).contains("object graph"), "{msg}");
    assert!(
        msg.contains("_CHECKPOINTABLE_OBJECT_GRAPH") && msg.contains("garbage.data-00000-of-00001"),
        "{msg}"
    );
    assert!(r.verify_all().is_err());
}

// ---------------------------------------------------------------------------------------------
// hand-built bundles TF can read but we never write

#[test]
fn big_endian_bundle() {
    let dir = tempfile::tempdir().unwrap();
    let prefix = dir.path().join("be");
    let mut data = Vec::new();
    let mut entries = Vec::new();
    let mut add = |key: &str, dtype: DType, dims: &[i64], payload: Vec<u8>, crc: u32| {
        entries.push((
            key.as_bytes().to_vec(),
            push_entry(&mut data, dtype, dims, 0, &payload, crc),
        ));
    };
    let be = |b: Vec<u8>| {
        let c = mask(crc32c(&b));
        (b, c)
    };
    let (f, c) = be([1.0f32, -2.5]
        .iter()
        .flat_map(|x| x.to_be_bytes())
        .collect());
    add("f", DType::Float32, &[2], f, c);
    let (h, c) = be([1i16, -2, 300]
        .iter()
        .flat_map(|x| x.to_be_bytes())
        .collect());
    add("h", DType::Int16, &[3], h, c);
    let (cx, c) = be([1.5f32, -0.25]
        .iter()
        .flat_map(|x| x.to_be_bytes())
        .collect());
    add("c", DType::Complex64, &[], cx, c);
    let (d, c) = be(u64::MAX.wrapping_sub(5).to_be_bytes().to_vec());
    add("d", DType::UInt64, &[1], d, c);
    let (u, c) = be(vec![1, 2, 3]);
    add("u", DType::UInt8, &[3], u, c);
    // Strings: varint lengths, but the length CRC is over BIG-endian u32s and stored big-endian.
    let strings: [&[u8]; 2] = [b"ab", b"\xff\x00\x01"];
    let mut payload = vec![2u8, 3];
    let mut crc = 0;
    for s in strings {
        crc = crc32c_extend(crc, &(s.len() as u32).to_be_bytes());
    }
    let stored = mask(crc).to_be_bytes();
    payload.extend_from_slice(&stored);
    crc = crc32c_extend(crc, &stored);
    for s in strings {
        payload.extend_from_slice(s);
        crc = crc32c_extend(crc, s);
    }
    add("s", DType::String, &[2], payload, mask(crc));
    add("v", DType::Variant, &[0], vec![], mask(0));
    write_raw_bundle(&prefix, header(1, 1), entries, &[data]);

    let r = BundleReader::open(&prefix).unwrap();
    assert!(r.is_big_endian());
    for verify in [true, false] {
        let f = r.read(b"f", verify).unwrap();
        assert!(!f.is_zero_copy());
        assert_eq!(bytes_of(&f), &f32_bytes(&[1.0, -2.5])[..]);
        let h: Vec<u8> = [1i16, -2, 300]
            .iter()
            .flat_map(|x| x.to_le_bytes())
            .collect();
        assert_eq!(bytes_of(&r.read(b"h", verify).unwrap()), &h[..]);
        assert_eq!(
            bytes_of(&r.read(b"c", verify).unwrap()),
            &f32_bytes(&[1.5, -0.25])[..]
        );
        assert_eq!(
            bytes_of(&r.read(b"d", verify).unwrap()),
            &u64::MAX.wrapping_sub(5).to_le_bytes()[..]
        );
        let u = r.read(b"u", verify).unwrap();
        assert_eq!(bytes_of(&u), &[1, 2, 3]); // 1-byte elements: nothing to swap
        assert_eq!(
            strings_of(&r.read(b"s", verify).unwrap()),
            &[b"ab".to_vec(), b"\xff\x00\x01".to_vec()]
        );
        // TF refuses variants across endianness.
        assert!(matches!(
            r.read(b"v", verify),
            Err(Error::Unsupported { .. })
        ));
    }
}

#[test]
fn partitioned_bundle_across_two_shards() {
    let dir = tempfile::tempdir().unwrap();
    let prefix = dir.path().join("part");
    let full: Vec<f32> = (0..12).map(|i| i as f32).collect(); // [4,3] row-major
    let (mut d0, mut d1) = (Vec::new(), Vec::new());
    let mut entries = Vec::new();

    // p: rows 0..2 (full extent spelled as "no length") in shard 0, rows 2..4 (full extent spelled
    // explicitly, as TF1's Saver does) in shard 1, after an ordinary tensor.
    let n = f32_bytes(&[7.0]);
    entries.push((
        b"n".to_vec(),
        push_entry(&mut d0, DType::Float32, &[1], 0, &n, mask(crc32c(&n))),
    ));
    let rows01 = f32_bytes(&full[..6]);
    let rows23 = f32_bytes(&full[6..]);
    let ext_a = [(0i64, 2i64), (0, -1)];
    let ext_b = [(2i64, 2i64), (0, 3)];
    entries.push((
        encode_slice_key(b"p", &ext_a),
        push_entry(
            &mut d0,
            DType::Float32,
            &[2, 3],
            0,
            &rows01,
            mask(crc32c(&rows01)),
        ),
    ));
    entries.push((
        encode_slice_key(b"p", &ext_b),
        push_entry(
            &mut d1,
            DType::Float32,
            &[2, 3],
            1,
            &rows23,
            mask(crc32c(&rows23)),
        ),
    ));
    let slice = |ext: &[(i64, i64)]| TensorSliceProto {
        extent: ext
            .iter()
            .map(|&(start, len)| Extent {
                start,
                has_length_hack: (len >= 0).then_some(HasLengthHack::Length(len)),
            })
            .collect(),
    };
    entries.push((
        b"p".to_vec(),
        BundleEntryProto {
            dtype: DType::Float32.tf_code(),
            shape: shape_proto(&[4, 3]),
            shard_id: 5, // meaningless for a partitioned tensor (MergeBundles writes such)
            slices: vec![slice(&ext_a), slice(&ext_b)],
            ..Default::default()
        },
    ));
    // q: a [2,2] string tensor split by columns, one column per shard.
    let col = |strings: [&[u8]; 2]| {
        let mut crc = 0;
        let mut out = vec![strings[0].len() as u8, strings[1].len() as u8];
        for s in strings {
            crc = crc32c_extend(crc, &(s.len() as u32).to_le_bytes());
        }
        out.extend_from_slice(&mask(crc).to_le_bytes());
        crc = crc32c_extend(crc, &mask(crc).to_le_bytes());
        for s in strings {
            out.extend_from_slice(s);
            crc = crc32c_extend(crc, s);
        }
        (out, mask(crc))
    };
    let (c0, k0) = col([b"r0c0", b"r1c0"]);
    let (c1, k1) = col([b"r0c1", b""]);
    let q0 = [(0i64, -1i64), (0, 1)];
    let q1 = [(0i64, -1i64), (1, 1)];
    entries.push((
        encode_slice_key(b"q", &q0),
        push_entry(&mut d1, DType::String, &[2, 1], 1, &c0, k0),
    ));
    entries.push((
        encode_slice_key(b"q", &q1),
        push_entry(&mut d0, DType::String, &[2, 1], 0, &c1, k1),
    ));
    entries.push((
        b"q".to_vec(),
        BundleEntryProto {
            dtype: DType::String.tf_code(),
            shape: shape_proto(&[2, 2]),
            slices: vec![slice(&q0), slice(&q1)],
            ..Default::default()
        },
    ));
    write_raw_bundle(&prefix, header(2, 0), entries, &[d0.clone(), d1.clone()]);

    let r = BundleReader::open(&prefix).unwrap();
    assert_eq!(r.keys(), vec![&b"n"[..], b"p", b"q"]); // slice keys hidden
    assert_eq!(
        r.entry(b"p").unwrap().slices,
        vec![ext_a.to_vec(), ext_b.to_vec()]
    );
    for verify in [true, false] {
        let p = r.read(b"p", verify).unwrap();
        assert_eq!((p.dtype, &p.shape[..]), (DType::Float32, &[4u64, 3][..]));
        assert_eq!(bytes_of(&p), &f32_bytes(&full)[..]);
        let q = r.read(b"q", verify).unwrap();
        let want: Vec<Vec<u8>> = [&b"r0c0"[..], b"r0c1", b"r1c0", b""]
            .iter()
            .map(|s| s.to_vec())
            .collect();
        assert_eq!(strings_of(&q), &want[..]);
    }
    r.verify_all().unwrap();

    // A flipped byte in a slice payload: verified reads of `p` fail, naming the data file.
    let mut bad = d1.clone();
    bad[0] ^= 0x40;
    fs::write(data_path(&prefix, 1, 2), &bad).unwrap();
    let r = BundleReader::open(&prefix).unwrap();
    let e = r.read(b"p", true).unwrap_err();
    assert!(
        corrupt_detail(&e).contains("Checksum does not match"),
        "{e}"
    );
    assert!(e.to_string().contains("part.data-00001-of-00002"), "{e}");
    assert!(r.read(b"p", false).is_ok());
    assert!(r.verify_all().is_err());

    // A missing slice entry, or slices that do not cover the tensor: refused at open.
    let lonely = dir.path().join("lonely");
    let entry = BundleEntryProto {
        dtype: DType::Float32.tf_code(),
        shape: shape_proto(&[4, 3]),
        slices: vec![slice(&ext_a)],
        ..Default::default()
    };
    let mut d = Vec::new();
    let se = push_entry(
        &mut d,
        DType::Float32,
        &[2, 3],
        0,
        &rows01,
        mask(crc32c(&rows01)),
    );
    write_raw_bundle(
        &lonely,
        header(1, 0),
        vec![
            (b"p".to_vec(), entry.clone()),
            (encode_slice_key(b"p", &ext_a), se.clone()),
        ],
        &[d.clone()],
    );
    let e = BundleReader::open(&lonely).unwrap_err();
    assert!(corrupt_detail(&e).contains("slices"), "{e}");
    write_raw_bundle(
        &lonely,
        header(1, 0),
        vec![
            (
                b"p".to_vec(),
                BundleEntryProto {
                    slices: vec![slice(&ext_a), slice(&ext_b)],
                    ..entry
                },
            ),
            (encode_slice_key(b"p", &ext_a), se),
        ],
        &[d],
    );
    let e = BundleReader::open(&lonely).unwrap_err();
    assert!(corrupt_detail(&e).contains("slice"), "{e}");
}

// ---------------------------------------------------------------------------------------------
// corruption: typed errors, never a panic

fn good_bundle(dir: &Path) -> PathBuf {
    let prefix = dir.join("ckpt");
    let w = f32_bytes(&[1.0, 2.0]);
    let s: [&[u8]; 3] = [b"abc", b"", b"de"];
    write_bundle(
        &prefix,
        &[raw("w", DType::Float32, &[2], &w), strs("s", &[3], &s)],
        &WriteOptions::default(),
    )
    .unwrap();
    prefix
}

#[test]
fn flipped_data_byte_is_a_checksum_error() {
    let dir = tempfile::tempdir().unwrap();
    let prefix = good_bundle(dir.path());
    let path = data_path(&prefix, 0, 1);
    let mut data = fs::read(&path).unwrap();
    data[1] ^= 0x01; // inside w
    let last = data.len() - 1;
    data[last] ^= 0x01; // inside s's string bytes
    fs::write(&path, &data).unwrap();
    let r = BundleReader::open(&prefix).unwrap();
    for key in ["w", "s"] {
        let e = r.read(key.as_bytes(), true).unwrap_err();
        assert!(
            corrupt_detail(&e).contains("Checksum does not match"),
            "{e}"
        );
        let msg = e.to_string();
        assert!(
            msg.contains(&format!("key \"{key}\"")) && msg.contains("ckpt.data-00000-of-00001"),
            "{msg}"
        );
        // Unverified reads trust the file.
        assert!(r.read(key.as_bytes(), false).is_ok());
    }
    let e = r.verify_all().unwrap_err();
    assert!(
        e.to_string().contains("key \"s\""),
        "first error in key order: {e}"
    );
}

#[test]
fn truncated_and_missing_data() {
    let dir = tempfile::tempdir().unwrap();
    let prefix = good_bundle(dir.path());
    let path = data_path(&prefix, 0, 1);
    let data = fs::read(&path).unwrap();
    fs::write(&path, &data[..10]).unwrap();
    let r = BundleReader::open(&prefix).unwrap();
    assert_eq!(
        bytes_of(&r.read(b"w", true).unwrap()),
        &f32_bytes(&[1.0, 2.0])[..]
    );
    let e = r.read(b"s", false).unwrap_err();
    assert!(corrupt_detail(&e).contains("past the end"), "{e}");
    assert!(e.to_string().contains("ckpt.data-00000-of-00001"), "{e}");

    fs::remove_file(&path).unwrap();
    let r = BundleReader::open(&prefix).unwrap(); // like TF: only a read notices
    match r.read(b"w", false).unwrap_err() {
        Error::Io { path: p, source } => {
            assert_eq!(source.kind(), std::io::ErrorKind::NotFound);
            assert_eq!(p, path);
        }
        other => panic!("expected Io NotFound, got {other:?}"),
    }
    assert!(matches!(r.verify_all(), Err(Error::Io { .. })));
    assert!(matches!(
        r.read(b"nope", false),
        Err(Error::KeyNotFound { .. })
    ));
    assert!(matches!(r.entry(b"nope"), Err(Error::KeyNotFound { .. })));
}

/// The §1.7 bundle with `w`'s entry replaced.
fn with_entry(
    dir: &Path,
    name: &str,
    key: &str,
    entry: BundleEntryProto,
    data: Vec<u8>,
    hdr: BundleHeaderProto,
) -> PathBuf {
    let prefix = dir.join(name);
    write_raw_bundle(
        &prefix,
        hdr,
        vec![(key.as_bytes().to_vec(), entry)],
        &[data],
    );
    prefix
}

#[test]
fn index_level_corruption_is_refused_at_open() {
    let dir = tempfile::tempdir().unwrap();
    let w = f32_bytes(&[1.0, 2.0]);
    let crc = mask(crc32c(&w));
    let e = |dims: &[i64], size: i64| BundleEntryProto {
        dtype: 1,
        shape: shape_proto(dims),
        size,
        crc32c: crc,
        ..Default::default()
    };
    let open = |name: &str, entry: BundleEntryProto, hdr: BundleHeaderProto| {
        BundleReader::open(&with_entry(dir.path(), name, "w", entry, w.clone(), hdr)).unwrap_err()
    };
    let h = || header(1, 0);

    let err = open("size", e(&[2], 12), h());
    assert!(
        corrupt_detail(&err)
            .contains("Invalid size in bundle entry: key w; stored size 12; expected size 8"),
        "{err}"
    );
    assert!(err.to_string().contains("size.index"), "{err}");
    let err = open("absurd", e(&[1 << 21, 1 << 20], 8), h());
    assert!(corrupt_detail(&err).contains("size"), "{err}");
    let err = open("overflow", e(&[1 << 32, 1 << 32, 1 << 32], 8), h());
    assert!(corrupt_detail(&err).contains("overflow"), "{err}");
    let err = open("neg", e(&[-1, 2], 8), h());
    assert!(corrupt_detail(&err).contains("negative dimension"), "{err}");
    let err = open(
        "dtype0",
        BundleEntryProto {
            dtype: 0,
            ..e(&[2], 8)
        },
        h(),
    );
    assert!(corrupt_detail(&err).contains("DT_INVALID"), "{err}");
    assert!(matches!(
        open(
            "dtype99",
            BundleEntryProto {
                dtype: 99,
                ..e(&[2], 8)
            },
            h()
        ),
        Error::Unsupported { .. }
    ));
    assert!(matches!(
        open(
            "res",
            BundleEntryProto {
                dtype: 20,
                ..e(&[2], 8)
            },
            h()
        ),
        Error::Unsupported { .. }
    ));
    corrupt_detail(&open(
        "shard",
        BundleEntryProto {
            shard_id: 1,
            ..e(&[2], 8)
        },
        h(),
    ));
    corrupt_detail(&open(
        "off",
        BundleEntryProto {
            offset: i64::MAX - 4,
            ..e(&[2], 8)
        },
        h(),
    ));
    corrupt_detail(&open(
        "negoff",
        BundleEntryProto {
            offset: -8,
            ..e(&[2], 8)
        },
        h(),
    ));
    // A string tensor claiming 2^40 elements in 10 bytes: refused before any allocation.
    let err = open(
        "strcount",
        BundleEntryProto {
            dtype: 7,
            ..e(&[1 << 40], 10)
        },
        h(),
    );
    assert!(corrupt_detail(&err).contains("string"), "{err}");

    // Versions (§1.8).
    let v = |producer, min_consumer, bad: Vec<i32>| BundleHeaderProto {
        version: Some(VersionDef {
            producer,
            min_consumer,
            bad_consumers: bad,
        }),
        ..header(1, 0)
    };
    let err = open("minc", e(&[2], 8), v(1, 2, vec![]));
    assert!(
        matches!(&err, Error::Unsupported { detail, .. } if detail.contains("min consumer version 2 above current version 1")),
        "{err}"
    );
    assert!(matches!(
        open("badc", e(&[2], 8), v(1, 0, vec![1])),
        Error::Unsupported { .. }
    ));
    corrupt_detail(&open("negp", e(&[2], 8), v(-1, 0, vec![])));
    for ok in [v(0, 0, vec![]), v(5, 1, vec![2])] {
        let p = with_entry(dir.path(), "vok", "w", e(&[2], 8), w.clone(), ok);
        BundleReader::open(&p).unwrap().verify_all().unwrap();
    }
    corrupt_detail(&open("shards0", e(&[2], 8), header(0, 0)));
    corrupt_detail(&open("endian", e(&[2], 8), header(1, 7)));

    // The header must be the first key.
    let p = dir.path().join("nohdr");
    let mut t = TableBuilder::new();
    t.add(b"w", &e(&[2], 8).encode_to_vec()).unwrap();
    fs::write(index_path(&p), t.finish()).unwrap();
    assert!(corrupt_detail(&BundleReader::open(&p).unwrap_err()).contains("header"));
    // No index at all: Io NotFound.
    assert!(matches!(
        BundleReader::open(&dir.path().join("absent")),
        Err(Error::Io { .. })
    ));
}

#[test]
fn bad_string_payloads_are_read_errors() {
    let dir = tempfile::tempdir().unwrap();
    let cases: Vec<(&str, Vec<u8>, &str)> = vec![
        // lengths [5, 200] but 2 bytes of strings
        (
            "past",
            hex("05 c8 01 00000000 6162"),
            "string lengths add up",
        ),
        // a length of 2^62
        (
            "huge",
            hex("80808080808080804000000000 6162"),
            "string lengths add up",
        ),
        // unterminated varint
        ("varint", vec![0xff; 12], "varint"),
    ];
    for (name, payload, want) in cases {
        let n = if name == "past" { 2 } else { 1 };
        let entry = BundleEntryProto {
            dtype: 7,
            shape: shape_proto(&[n]),
            size: payload.len() as i64,
            crc32c: mask(crc32c(&payload)),
            ..Default::default()
        };
        let p = with_entry(dir.path(), name, "s", entry, payload, header(1, 0));
        let r = BundleReader::open(&p).unwrap();
        for verify in [false, true] {
            let e = r.read(b"s", verify).unwrap_err();
            assert!(corrupt_detail(&e).contains(want), "{name}: {e}");
        }
    }
}

/// Every malformed file under tests/data/bad/: open, verify, read everything and the object
/// graph, with and without verification. Nothing panics and every case fails somewhere.
#[test]
fn bad_fixture_files_never_panic() {
    let bad = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/data/bad");
    let mut cases: Vec<PathBuf> = fs::read_dir(&bad)
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    cases.sort();
    assert!(cases.len() > 40);
    let mut silent = Vec::new();
    for case in cases {
        let prefix = case.join("ckpt");
        let outcome = std::panic::catch_unwind(|| -> Vec<Error> {
            let mut errors = Vec::new();
            let r = match BundleReader::open(&prefix) {
                Ok(r) => r,
                Err(e) => return vec![e],
            };
            for verify in [false, true] {
                for key in r.keys() {
                    errors.extend(r.read(key, verify).err());
                }
            }
            errors.extend(r.object_graph().err());
            errors.extend(r.verify_all().err());
            errors
        });
        let name = case.file_name().unwrap().to_string_lossy().into_owned();
        match outcome {
            Err(_) => panic!("{name}: panicked"),
            Ok(errors) if errors.is_empty() && name != "garbage_state" => silent.push(name),
            Ok(_) => {}
        }
    }
    assert!(silent.is_empty(), "bad cases that read cleanly: {silent:?}");
}

#[test]
fn bad_fixture_files_give_the_expected_variant() {
    let bad = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/data/bad");
    let open = |case: &str| BundleReader::open(&bad.join(case).join("ckpt"));
    for (case, unsupported) in [
        ("version_min_consumer", true),
        ("version_bad_consumers", true),
        ("unknown_dtype", true),
        ("resource_dtype", true),
        ("version_negative_producer", false),
        ("size_mismatch", false),
        ("absurd_shape", false),
        ("overflow_shape", false),
        ("negative_dim", false),
        ("string_huge_count", false),
        ("slice_missing", false),
        ("slice_out_of_bounds", false),
        ("no_header", false),
    ] {
        match (open(case).unwrap_err(), unsupported) {
            (Error::Unsupported { .. }, true) | (Error::Corrupt { .. }, false) => {}
            (e, _) => panic!("{case}: {e:?}"),
        }
    }
    // Opens (no per-shard state is allocated), then the read names the missing file.
    let r = open("huge_num_shards").unwrap();
    match r.read(b"w", false).unwrap_err() {
        Error::Io { path, source } => {
            assert_eq!(source.kind(), std::io::ErrorKind::NotFound);
            assert!(path.ends_with("ckpt.data-00000-of-2147483647"));
        }
        e => panic!("{e:?}"),
    }
}

// ---------------------------------------------------------------------------------------------
// TF-written fixtures

#[test]
fn tf_fixtures_match_expected_json() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/data/tf");
    let mut checked = 0;
    let mut cases: Vec<PathBuf> = fs::read_dir(&root)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.is_dir())
        .collect();
    cases.sort();
    for case in cases {
        let expected = json::parse(&fs::read_to_string(case.join("expected.json")).unwrap());
        for (rel, ck) in expected.get("checkpoints").obj() {
            let prefix = case.join(rel);
            let what = prefix.display().to_string();
            let r = BundleReader::open(&prefix).unwrap_or_else(|e| panic!("{what}: {e}"));
            assert_eq!(r.num_shards() as f64, ck.get("num_shards").num(), "{what}");
            let tensors = ck.get("tensors").obj();
            let keys: Vec<&[u8]> = tensors.keys().map(|k| k.as_bytes()).collect();
            assert_eq!(r.keys(), keys, "{what}");
            let partitioned = ck.get("partitioned").obj();
            for (key, want) in tensors {
                let t = r
                    .read(key.as_bytes(), true)
                    .unwrap_or_else(|e| panic!("{what}: {e}"));
                assert_eq!(t.dtype.name(), want.get("tf_dtype").str(), "{what} {key}");
                let shape: Vec<u64> = want
                    .get("shape")
                    .arr()
                    .iter()
                    .map(|d| d.num() as u64)
                    .collect();
                assert_eq!(t.shape, shape, "{what} {key}");
                if let Some(strings) = want.opt("strings") {
                    let want: Vec<Vec<u8>> = strings.arr().iter().map(|s| hex(s.str())).collect();
                    assert_eq!(strings_of(&t), &want[..], "{what} {key}");
                } else {
                    assert_eq!(
                        sha256::hex_digest(bytes_of(&t)),
                        want.get("sha256").str(),
                        "{what} {key}"
                    );
                }
                let slices = r.entry(key.as_bytes()).unwrap().slices.len();
                let want_slices = partitioned.get(key).map_or(0.0, |n| n.num());
                assert_eq!(slices as f64, want_slices, "{what} {key}");
                checked += 1;
            }
            r.verify_all().unwrap_or_else(|e| panic!("{what}: {e}"));
            if let Some(graph) = ck.opt("object_graph") {
                let g = r.object_graph().unwrap().expect("object graph");
                assert_eq!(g.nodes.len() as f64, graph.get("num_nodes").num(), "{what}");
            }
        }
    }
    assert!(checked > 100, "only {checked} tensors checked");
}

/// Reading a TF single-shard bundle and writing it back in the same data order reproduces TF's
/// `.index` and `.data` byte for byte.
#[test]
fn tf_fixtures_rewrite_byte_identically() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/data/tf");
    let prefixes = [
        "dtypes/ckpt",
        "variables/ckpt",
        "escaping/ckpt",
        "tfkeras_adam/ckpt",
        "tfkeras_legacy_adam/ckpt",
        "tfkeras_functional/ckpt",
        "manager/ckpt-5",
    ];
    let out = tempfile::tempdir().unwrap();
    for rel in prefixes {
        let prefix = root.join(rel);
        let r = BundleReader::open(&prefix).unwrap();
        assert_eq!(r.num_shards(), 1);
        // SaveV2 argument order = data order; a zero-size tensor sits where the next one starts.
        let mut keys = r.keys();
        keys.sort_by_key(|k| {
            let e = r.entry(k).unwrap();
            (e.offset, e.size > 0)
        });
        let tensors = r.read_many(&keys, true).unwrap();
        let strings: Vec<Vec<&[u8]>> = tensors
            .iter()
            .map(|t| match &t.data {
                TensorData::Strings(s) => s.iter().map(Vec::as_slice).collect(),
                _ => Vec::new(),
            })
            .collect();
        let refs: Vec<TensorRef> = keys
            .iter()
            .zip(&tensors)
            .zip(&strings)
            .map(|((k, t), s)| TensorRef {
                key: k,
                dtype: t.dtype,
                shape: &t.shape,
                payload: match &t.data {
                    TensorData::Strings(_) => Payload::Strings(s),
                    _ => Payload::Raw(t.bytes().unwrap()),
                },
            })
            .collect();
        let copy = out.path().join(rel.replace('/', "_"));
        write_bundle(&copy, &refs, &WriteOptions::default()).unwrap();
        assert!(
            fs::read(index_path(&copy)).unwrap() == fs::read(index_path(&prefix)).unwrap(),
            "{rel}: index differs"
        );
        assert!(
            fs::read(data_path(&copy, 0, 1)).unwrap()
                == fs::read(data_path(&prefix, 0, 1)).unwrap(),
            "{rel}: data differs"
        );
    }
}

// ---------------------------------------------------------------------------------------------
// tiny JSON reader and SHA-256 for expected.json (no extra dev-dependencies)

mod json {
    use std::collections::BTreeMap;

    #[derive(Debug, Clone)]
    #[allow(dead_code)] // payloads are only inspected through Debug
    pub enum Value {
        Null,
        Bool(bool),
        Num(f64),
        Str(String),
        Arr(Vec<Value>),
        Obj(BTreeMap<String, Value>),
    }

    impl Value {
        pub fn opt(&self, k: &str) -> Option<&Value> {
            match self {
                Value::Obj(m) => m.get(k).filter(|v| !matches!(v, Value::Null)),
                _ => None,
            }
        }
        pub fn get(&self, k: &str) -> &Value {
            self.opt(k).unwrap_or_else(|| panic!("no key {k:?}"))
        }
        pub fn obj(&self) -> &BTreeMap<String, Value> {
            match self {
                Value::Obj(m) => m,
                v => panic!("not an object: {v:?}"),
            }
        }
        pub fn arr(&self) -> &[Value] {
            match self {
                Value::Arr(a) => a,
                v => panic!("not an array: {v:?}"),
            }
        }
        pub fn str(&self) -> &str {
            match self {
                Value::Str(s) => s,
                v => panic!("not a string: {v:?}"),
            }
        }
        pub fn num(&self) -> f64 {
            match self {
                Value::Num(n) => *n,
                v => panic!("not a number: {v:?}"),
            }
        }
    }

    pub fn parse(s: &str) -> Value {
        let mut p = Parser {
            s: s.as_bytes(),
            i: 0,
        };
        p.value()
    }

    struct Parser<'a> {
        s: &'a [u8],
        i: usize,
    }

    impl Parser<'_> {
        fn ws(&mut self) {
            while self.s[self.i].is_ascii_whitespace() {
                self.i += 1;
            }
        }
        fn value(&mut self) -> Value {
            self.ws();
            match self.s[self.i] {
                b'{' => {
                    self.i += 1;
                    let mut m = BTreeMap::new();
                    loop {
                        self.ws();
                        if self.s[self.i] == b'}' {
                            self.i += 1;
                            return Value::Obj(m);
                        }
                        if self.s[self.i] == b',' {
                            self.i += 1;
                            continue;
                        }
                        let k = self.string();
                        self.ws();
                        assert_eq!(self.s[self.i], b':');
                        self.i += 1;
                        m.insert(k, self.value());
                    }
                }
                b'[' => {
                    self.i += 1;
                    let mut a = Vec::new();
                    loop {
                        self.ws();
                        match self.s[self.i] {
                            b']' => {
                                self.i += 1;
                                return Value::Arr(a);
                            }
                            b',' => self.i += 1,
                            _ => a.push(self.value()),
                        }
                    }
                }
                b'"' => Value::Str(self.string()),
                b't' => {
                    self.i += 4;
                    Value::Bool(true)
                }
                b'f' => {
                    self.i += 5;
                    Value::Bool(false)
                }
                b'n' => {
                    self.i += 4;
                    Value::Null
                }
                _ => {
                    let start = self.i;
                    while self.i < self.s.len() && b"+-.eE0123456789".contains(&self.s[self.i]) {
                        self.i += 1;
                    }
                    Value::Num(
                        std::str::from_utf8(&self.s[start..self.i])
                            .unwrap()
                            .parse()
                            .unwrap(),
                    )
                }
            }
        }
        fn string(&mut self) -> String {
            assert_eq!(self.s[self.i], b'"');
            self.i += 1;
            let mut out = Vec::new();
            let mut utf16 = Vec::new();
            loop {
                let c = self.s[self.i];
                self.i += 1;
                if c != b'\\' && !utf16.is_empty() {
                    out.extend(String::from_utf16(&utf16).unwrap().bytes());
                    utf16.clear();
                }
                match c {
                    b'"' => return String::from_utf8(out).unwrap(),
                    b'\\' => {
                        let e = self.s[self.i];
                        self.i += 1;
                        if e == b'u' {
                            let h = std::str::from_utf8(&self.s[self.i..self.i + 4]).unwrap();
                            utf16.push(u16::from_str_radix(h, 16).unwrap());
                            self.i += 4;
                            continue;
                        }
                        if !utf16.is_empty() {
                            out.extend(String::from_utf16(&utf16).unwrap().bytes());
                            utf16.clear();
                        }
                        out.push(match e {
                            b'n' => b'\n',
                            b't' => b'\t',
                            b'r' => b'\r',
                            b'b' => 8,
                            b'f' => 12,
                            other => other,
                        });
                    }
                    other => out.push(other),
                }
            }
        }
    }
}

mod sha256 {
    const K: [u32; 64] = [
        0x428a2f98, 0x71374491, 0xb5c0fbcf, 0xe9b5dba5, 0x3956c25b, 0x59f111f1, 0x923f82a4,
        0xab1c5ed5, 0xd807aa98, 0x12835b01, 0x243185be, 0x550c7dc3, 0x72be5d74, 0x80deb1fe,
        0x9bdc06a7, 0xc19bf174, 0xe49b69c1, 0xefbe4786, 0x0fc19dc6, 0x240ca1cc, 0x2de92c6f,
        0x4a7484aa, 0x5cb0a9dc, 0x76f988da, 0x983e5152, 0xa831c66d, 0xb00327c8, 0xbf597fc7,
        0xc6e00bf3, 0xd5a79147, 0x06ca6351, 0x14292967, 0x27b70a85, 0x2e1b2138, 0x4d2c6dfc,
        0x53380d13, 0x650a7354, 0x766a0abb, 0x81c2c92e, 0x92722c85, 0xa2bfe8a1, 0xa81a664b,
        0xc24b8b70, 0xc76c51a3, 0xd192e819, 0xd6990624, 0xf40e3585, 0x106aa070, 0x19a4c116,
        0x1e376c08, 0x2748774c, 0x34b0bcb5, 0x391c0cb3, 0x4ed8aa4a, 0x5b9cca4f, 0x682e6ff3,
        0x748f82ee, 0x78a5636f, 0x84c87814, 0x8cc70208, 0x90befffa, 0xa4506ceb, 0xbef9a3f7,
        0xc67178f2,
    ];

    pub fn hex_digest(data: &[u8]) -> String {
        let mut h: [u32; 8] = [
            0x6a09e667, 0xbb67ae85, 0x3c6ef372, 0xa54ff53a, 0x510e527f, 0x9b05688c, 0x1f83d9ab,
            0x5be0cd19,
        ];
        let mut msg = data.to_vec();
        msg.push(0x80);
        while msg.len() % 64 != 56 {
            msg.push(0);
        }
        msg.extend_from_slice(&((data.len() as u64) * 8).to_be_bytes());
        for block in msg.chunks(64) {
            let mut w = [0u32; 64];
            for i in 0..16 {
                w[i] = u32::from_be_bytes(block[4 * i..4 * i + 4].try_into().unwrap());
            }
            for i in 16..64 {
                let s0 = w[i - 15].rotate_right(7) ^ w[i - 15].rotate_right(18) ^ (w[i - 15] >> 3);
                let s1 = w[i - 2].rotate_right(17) ^ w[i - 2].rotate_right(19) ^ (w[i - 2] >> 10);
                w[i] = w[i - 16]
                    .wrapping_add(s0)
                    .wrapping_add(w[i - 7])
                    .wrapping_add(s1);
            }
            let mut v = h;
            for i in 0..64 {
                let s1 = v[4].rotate_right(6) ^ v[4].rotate_right(11) ^ v[4].rotate_right(25);
                let ch = (v[4] & v[5]) ^ (!v[4] & v[6]);
                let t1 = v[7]
                    .wrapping_add(s1)
                    .wrapping_add(ch)
                    .wrapping_add(K[i])
                    .wrapping_add(w[i]);
                let s0 = v[0].rotate_right(2) ^ v[0].rotate_right(13) ^ v[0].rotate_right(22);
                let maj = (v[0] & v[1]) ^ (v[0] & v[2]) ^ (v[1] & v[2]);
                let t2 = s0.wrapping_add(maj);
                v = [
                    t1.wrapping_add(t2),
                    v[0],
                    v[1],
                    v[2],
                    v[3].wrapping_add(t1),
                    v[4],
                    v[5],
                    v[6],
                ];
            }
            for (a, b) in h.iter_mut().zip(v) {
                *a = a.wrapping_add(b);
            }
        }
        h.iter().map(|x| format!("{x:08x}")).collect()
    }

    #[test]
    fn known_digests() {
        assert_eq!(
            hex_digest(b""),
            "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
        );
        assert_eq!(
            hex_digest(b"abc"),
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
        );
        let long = hex_digest(&[b'a'; 1000]);
        assert_eq!(
            long,
            "41edece42d63e8d9bf515a9ba6932e1c20cbc9f5a5d134645adb5db1b9737ea3"
        );
    }
}
