//! `.keras` archives: what `ArchiveWriter` writes reads back (here, in the `zip` crate, in
//! Python's `zipfile`, and in Keras 3 itself), and archives other tools write (DEFLATED, ZIP64,
//! directory entries) read here.

use std::borrow::Cow;
use std::fs;
use std::io::{Read, Write};
use std::path::{Path, PathBuf};
use std::process::Command;

use kerasave::archive::{ArchiveWriter, KerasArchive, Method, WEIGHTS_ALIGNMENT};

/// Deterministic incompressible bytes.
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

fn le16(b: &[u8], at: usize) -> u16 {
    u16::from_le_bytes([b[at], b[at + 1]])
}
fn le32(b: &[u8], at: usize) -> u32 {
    u32::from_le_bytes(b[at..at + 4].try_into().unwrap())
}

/// Members of a Keras-like archive, in Keras's order, with the weights and one asset on disk.
struct Fixture {
    path: PathBuf,
    members: Vec<(String, Vec<u8>)>,
}

fn write_keras_like(dir: &Path, file: &str, force_zip64: bool) -> Fixture {
    let metadata = br#"{"keras_version": "3.15.1", "date_saved": "2026-11-22@17:15:25"}"#.to_vec();
    let config = br#"{"module": "keras", "class_name": "Sequential", "config": {}}"#.to_vec();
    let weights = [b"\x89HDF\r\n\x1a\n".to_vec(), noise(100_003, 1)].concat();
    let vocab = b"\n[UNK]\nworld\nhello".to_vec();
    let unicode = "ünïcode ✓".as_bytes().to_vec();
    let weights_file = dir.join(format!("{file}.weights.tmp"));
    let vocab_file = dir.join(format!("{file}.vocab.tmp"));
    fs::write(&weights_file, &weights).unwrap();
    fs::write(&vocab_file, &vocab).unwrap();

    let path = dir.join(file);
    let mut w = ArchiveWriter::create(&path).unwrap();
    w.force_zip64(force_zip64);
    w.add_bytes("metadata.json", &metadata).unwrap();
    w.add_bytes("config.json", &config).unwrap();
    w.add_file("model.weights.h5", &weights_file, WEIGHTS_ALIGNMENT)
        .unwrap();
    w.add_file("assets/layers/tv/vocabulary.txt", &vocab_file, 0)
        .unwrap();
    w.add_bytes_aligned("assets/ünï/t.txt", &unicode, 64)
        .unwrap();
    w.add_bytes("assets/empty", b"").unwrap();
    w.finish().unwrap();
    fs::remove_file(weights_file).unwrap();
    fs::remove_file(vocab_file).unwrap();
    Fixture {
        path,
        members: vec![
            ("metadata.json".into(), metadata),
            ("config.json".into(), config),
            ("model.weights.h5".into(), weights),
            ("assets/layers/tv/vocabulary.txt".into(), vocab),
            ("assets/ünï/t.txt".into(), unicode),
            ("assets/empty".into(), vec![]),
        ],
    }
}

fn check_reads_back(f: &Fixture) {
    let a = KerasArchive::open(&f.path).unwrap();
    let names: Vec<&str> = a.members().iter().map(|m| m.name.as_str()).collect();
    let expected: Vec<&str> = f.members.iter().map(|(n, _)| n.as_str()).collect();
    assert_eq!(names, expected, "order is the order added");
    for (name, bytes) in &f.members {
        let m = a.member(name).unwrap();
        assert_eq!(m.method, Method::Stored);
        assert_eq!(
            (m.size, m.compressed_size),
            (bytes.len() as u64, bytes.len() as u64)
        );
        assert_eq!(m.crc32, crc32fast::hash(bytes));
        let got = a.read(name).unwrap();
        assert!(
            matches!(got, Cow::Borrowed(_)),
            "STORED reads are zero-copy"
        );
        assert_eq!(&*got, &bytes[..], "{name}");
        assert_eq!(&*a.read_verified(name).unwrap(), &bytes[..]);
        assert_eq!(a.stored_range(name), Some((m.data_offset, m.size)));
        assert_eq!(a.mapped().range(m.data_offset, m.size).unwrap(), &bytes[..]);
    }
    let w = a.member("model.weights.h5").unwrap();
    assert_eq!(
        w.data_offset % WEIGHTS_ALIGNMENT,
        0,
        "weights are page-aligned"
    );
    assert!(w.data_offset > 0);
    assert_eq!(a.member("assets/ünï/t.txt").unwrap().data_offset % 64, 0);
    a.verify_all().unwrap();
    assert!(a.member("nope").is_none());
    assert!(a.stored_range("nope").is_none());
    assert!(matches!(
        a.read("nope"),
        Err(kerasave::Error::KeyNotFound { .. })
    ));
}

#[test]
fn written_archive_reads_back() {
    let dir = tempfile::tempdir().unwrap();
    let f = write_keras_like(dir.path(), "m.keras", false);
    check_reads_back(&f);

    // Same inputs, same bytes (dates are fixed at 1980-01-01).
    let g = write_keras_like(dir.path(), "again.keras", false);
    assert_eq!(fs::read(&f.path).unwrap(), fs::read(&g.path).unwrap());
    // Only the two archives are left: no temp files.
    assert_eq!(fs::read_dir(dir.path()).unwrap().count(), 2);
}

#[test]
fn headers_match_what_zipfile_writes_for_keras() {
    let dir = tempfile::tempdir().unwrap();
    let f = write_keras_like(dir.path(), "m.keras", false);
    let b = fs::read(&f.path).unwrap();
    // First local header: metadata.json at offset 0, data at 43 exactly as Keras's (spec §1.1).
    assert_eq!(le32(&b, 0), 0x0403_4b50);
    assert_eq!(le16(&b, 4), 20, "version needed");
    assert_eq!(le16(&b, 6), 0, "flags");
    assert_eq!(le16(&b, 8), 0, "STORED");
    assert_eq!((le16(&b, 10), le16(&b, 12)), (0, 0x21), "1980-01-01 00:00");
    assert_eq!((le16(&b, 26), le16(&b, 28)), (13, 0), "name_len, extra_len");
    assert_eq!(&b[30..43], b"metadata.json");
    // Central directory entries: made by Unix / 2.0, 0o600 permissions.
    let a = KerasArchive::open(&f.path).unwrap();
    let end = b.len() - 22;
    let mut p = le32(&b, end + 16) as usize;
    for m in a.members() {
        assert_eq!(le32(&b, p), 0x0201_4b50);
        assert_eq!(le16(&b, p + 4), 0x0314, "made by");
        let utf8 = if m.name.is_ascii() { 0 } else { 0x800 };
        assert_eq!(le16(&b, p + 8), utf8, "flags");
        assert_eq!(le32(&b, p + 38), 0o600 << 16, "external attributes");
        assert_eq!(le16(&b, p + 30), 0, "no central extra without ZIP64");
        p += 46 + le16(&b, p + 28) as usize + le16(&b, p + 30) as usize;
    }
    // The weights' local extra is one zipalign field: id 0xD935, alignment 4096.
    let w = a.member("model.weights.h5").unwrap();
    let h = w.header_offset as usize;
    let extra_at = h + 30 + le16(&b, h + 26) as usize;
    assert_eq!(le16(&b, extra_at), 0xD935);
    assert_eq!(
        le16(&b, extra_at + 2) as usize,
        le16(&b, h + 28) as usize - 4
    );
    assert_eq!(le16(&b, extra_at + 4), 4096);
}

#[test]
fn forced_zip64_reads_back() {
    let dir = tempfile::tempdir().unwrap();
    let f = write_keras_like(dir.path(), "z.keras", true);
    check_reads_back(&f);
    let b = fs::read(&f.path).unwrap();
    // Local header: version 45, both sizes 0xFFFFFFFF, ZIP64 extra first.
    assert_eq!(le16(&b, 4), 45);
    assert_eq!((le32(&b, 18), le32(&b, 22)), (u32::MAX, u32::MAX));
    assert_eq!(&b[30 + 13..30 + 13 + 4], &[1, 0, 16, 0]);
    // End: ZIP64 record, locator, classic record.
    let end = b.len() - 22;
    assert_eq!(le32(&b, end - 20), 0x0706_4b50);
    assert_eq!(le32(&b, end - 20 - 56), 0x0606_4b50);
}

#[test]
fn zip_crate_reads_ours() {
    let dir = tempfile::tempdir().unwrap();
    for force in [false, true] {
        let f = write_keras_like(dir.path(), &format!("m{force}.keras"), force);
        let ours = KerasArchive::open(&f.path).unwrap();
        let mut z = zip::ZipArchive::new(fs::File::open(&f.path).unwrap()).unwrap();
        assert_eq!(z.len(), f.members.len());
        for (i, (name, bytes)) in f.members.iter().enumerate() {
            let mut e = z.by_index(i).unwrap();
            assert_eq!(e.name().unwrap(), name.as_str());
            assert_eq!(e.data_start(), Some(ours.member(name).unwrap().data_offset));
            let mut got = Vec::new();
            e.read_to_end(&mut got).unwrap();
            assert_eq!(&got, bytes);
        }
    }
}

/// `python3`, if there is one on PATH.
fn python() -> Option<Command> {
    let ok = Command::new("python3")
        .arg("-c")
        .arg("import zipfile")
        .output()
        .map(|o| o.status.success())
        .unwrap_or(false);
    ok.then(|| Command::new("python3"))
}

fn run_python(script: &str, args: &[&Path]) -> Option<String> {
    let mut cmd = python()?;
    let out = cmd.arg("-c").arg(script).args(args).output().unwrap();
    assert!(
        out.status.success(),
        "python failed:\n{}\n{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    Some(String::from_utf8(out.stdout).unwrap())
}

#[test]
fn python_zipfile_reads_ours() {
    let dir = tempfile::tempdir().unwrap();
    let plain = write_keras_like(dir.path(), "m.keras", false);
    let zip64 = write_keras_like(dir.path(), "z.keras", true);
    let script = r#"
import sys, zipfile
for p in sys.argv[1:]:
    with zipfile.ZipFile(p) as z:
        assert z.testzip() is None, p
        for i in z.infolist():
            data = z.read(i)
            print(i.filename, i.file_size, i.compress_type, "%08x" % i.CRC, i.header_offset, len(data))
"#;
    let Some(out) = run_python(script, &[&plain.path, &zip64.path]) else {
        eprintln!("skipped: no python3");
        return;
    };
    let mut expected = String::new();
    for f in [&plain, &zip64] {
        let a = KerasArchive::open(&f.path).unwrap();
        for m in a.members() {
            expected += &format!(
                "{} {} 0 {:08x} {} {}\n",
                m.name, m.size, m.crc32, m.header_offset, m.size
            );
        }
    }
    assert_eq!(out, expected);
}

#[test]
fn deflated_and_zip64_members_from_the_zip_crate() {
    use zip::write::SimpleFileOptions;
    use zip::CompressionMethod;
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("d.keras");
    let text: Vec<u8> = (0..5000)
        .flat_map(|i| format!("{{\"layer\": {i}, \"units\": 64}}\n").into_bytes())
        .collect();
    let members: Vec<(&str, CompressionMethod, bool, Vec<u8>)> = vec![
        (
            "config.json",
            CompressionMethod::Deflated,
            false,
            text.clone(),
        ),
        (
            "model.weights.h5",
            CompressionMethod::Stored,
            false,
            noise(70_000, 2),
        ),
        (
            "assets/noise",
            CompressionMethod::Deflated,
            false,
            noise(300_000, 3),
        ),
        ("assets/empty", CompressionMethod::Deflated, false, vec![]),
        (
            "assets/big64",
            CompressionMethod::Deflated,
            true,
            text.clone(),
        ),
        (
            "assets/stored64",
            CompressionMethod::Stored,
            true,
            noise(1000, 4),
        ),
    ];
    {
        let mut z = zip::ZipWriter::new(fs::File::create(&path).unwrap());
        z.add_directory("assets/", SimpleFileOptions::default())
            .unwrap();
        for (name, method, large, bytes) in &members {
            let opts = SimpleFileOptions::default()
                .compression_method(*method)
                .large_file(*large);
            z.start_file(*name, opts).unwrap();
            z.write_all(bytes).unwrap();
        }
        z.finish().unwrap();
    }
    let a = KerasArchive::open(&path).unwrap();
    assert_eq!(a.members().len(), members.len() + 1);
    assert!(a.member("assets/").unwrap().is_dir());
    assert_eq!(&*a.read("assets/").unwrap(), b"");
    for (name, method, _, bytes) in &members {
        let m = a.member(name).unwrap();
        let got = a.read(name).unwrap();
        assert_eq!(&*got, &bytes[..], "{name}");
        if *method == CompressionMethod::Deflated {
            assert_eq!(m.method, Method::Deflated);
            assert!(matches!(got, Cow::Owned(_)));
            assert!(
                a.stored_range(name).is_none(),
                "no in-place range when compressed"
            );
        } else {
            assert_eq!(m.method, Method::Stored);
            assert_eq!(
                a.stored_range(name),
                Some((m.data_offset, bytes.len() as u64))
            );
        }
    }
    assert!(a.member("config.json").unwrap().compressed_size < text.len() as u64 / 5);
    a.verify_all().unwrap();
}

#[test]
fn python_written_deflated_archive_reads() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("py.keras");
    let script = r#"
import sys, zipfile
with zipfile.ZipFile(sys.argv[1], "w", compression=zipfile.ZIP_DEFLATED) as z:
    z.writestr("metadata.json", '{"keras_version": "3.15.1"}')
    z.writestr("config.json", '{"a": 1}' * 1000)
    z.writestr("assets/", "")
    z.writestr("assets/caf\u00e9.txt", "x" * 10)
    z.writestr(zipfile.ZipInfo("model.weights.h5"), bytes(range(256)) * 64, compress_type=zipfile.ZIP_STORED)
    with z.open("assets/forced64", "w", force_zip64=True) as f:
        f.write(b"y" * 100)
"#;
    if run_python(script, &[&path]).is_none() {
        eprintln!("skipped: no python3");
        return;
    }
    let a = KerasArchive::open(&path).unwrap();
    let names: Vec<&str> = a.members().iter().map(|m| m.name.as_str()).collect();
    assert_eq!(
        names,
        [
            "metadata.json",
            "config.json",
            "assets/",
            "assets/café.txt",
            "model.weights.h5",
            "assets/forced64"
        ]
    );
    assert_eq!(
        &*a.read("config.json").unwrap(),
        "{\"a\": 1}".repeat(1000).as_bytes()
    );
    assert_eq!(&*a.read("assets/café.txt").unwrap(), b"xxxxxxxxxx");
    assert_eq!(&*a.read("assets/forced64").unwrap(), &[b'y'; 100][..]);
    let w: Vec<u8> = (0..64).flat_map(|_| 0..=255u8).collect();
    assert_eq!(&*a.read_verified("model.weights.h5").unwrap(), &w[..]);
    a.verify_all().unwrap();
}

/// Keras 3 saves a model, we read its archive in place and rewrite it with the weights aligned,
/// and Keras loads our archive with the same weights. Needs python3 with Keras; skipped without
/// it unless KERASAVE_REQUIRE_INTEROP=1 (CI), where a missing Keras fails.
#[test]
fn keras_loads_our_rewrite_of_its_archive() {
    let have_keras = python()
        .map(|mut c| {
            c.args(["-c", "import keras"])
                .output()
                .map(|o| o.status.success())
                .unwrap_or(false)
        })
        .unwrap_or(false);
    if !have_keras {
        assert_ne!(
            std::env::var("KERASAVE_REQUIRE_INTEROP").as_deref(),
            Ok("1"),
            "KERASAVE_REQUIRE_INTEROP=1 but python3 cannot import keras"
        );
        eprintln!("skipped: no keras");
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let theirs = dir.path().join("theirs.keras");
    let ours = dir.path().join("ours.keras");
    let save = r#"
import sys, keras, numpy as np
keras.utils.set_random_seed(0)
m = keras.Sequential([keras.Input((4,)), keras.layers.Dense(3, activation="relu"), keras.layers.Dense(2)])
m.compile(optimizer="adam", loss="mse")
m.fit(np.ones((8, 4)), np.ones((8, 2)), epochs=1, verbose=0)
m.save(sys.argv[1])
"#;
    run_python(save, &[&theirs]).unwrap();

    let a = KerasArchive::open(&theirs).unwrap();
    let names: Vec<&str> = a.members().iter().map(|m| m.name.as_str()).collect();
    assert_eq!(names, ["metadata.json", "config.json", "model.weights.h5"]);
    let (off, len) = a.stored_range("model.weights.h5").unwrap();
    assert_eq!(&a.mapped().range(off, 8).unwrap(), b"\x89HDF\r\n\x1a\n");
    let weights_file = dir.path().join("weights.h5");
    fs::write(&weights_file, a.mapped().range(off, len).unwrap()).unwrap();
    let mut w = ArchiveWriter::create(&ours).unwrap();
    w.add_bytes("metadata.json", &a.read_verified("metadata.json").unwrap())
        .unwrap();
    w.add_bytes("config.json", &a.read_verified("config.json").unwrap())
        .unwrap();
    w.add_file("model.weights.h5", &weights_file, WEIGHTS_ALIGNMENT)
        .unwrap();
    w.finish().unwrap();
    let (off, _) = KerasArchive::open(&ours)
        .unwrap()
        .stored_range("model.weights.h5")
        .unwrap();
    assert_eq!(off % WEIGHTS_ALIGNMENT, 0);

    let load = r#"
import sys, keras, numpy as np
a = keras.saving.load_model(sys.argv[1])
b = keras.saving.load_model(sys.argv[2])
wa, wb = a.get_weights(), b.get_weights()
assert len(wa) == len(wb) == 4
assert all(np.array_equal(x, y) for x, y in zip(wa, wb))
ow_a = [v.numpy() for v in a.optimizer.variables]
ow_b = [v.numpy() for v in b.optimizer.variables]
assert len(ow_a) == len(ow_b) and all(np.array_equal(x, y) for x, y in zip(ow_a, ow_b))
print("ok")
"#;
    assert_eq!(
        run_python(load, &[&theirs, &ours]).unwrap().trim_end(),
        "ok"
    );
}

#[test]
fn replacing_a_mapped_archive_keeps_the_old_map_valid() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("m.keras");
    let mut w = ArchiveWriter::create(&path).unwrap();
    w.add_bytes("a", b"old bytes").unwrap();
    w.finish().unwrap();
    let old = KerasArchive::open(&path).unwrap();
    let mut w = ArchiveWriter::create(&path).unwrap();
    w.add_bytes("a", b"new").unwrap();
    w.finish().unwrap();
    assert_eq!(&*old.read_verified("a").unwrap(), b"old bytes");
    assert_eq!(
        &*KerasArchive::open(&path).unwrap().read("a").unwrap(),
        b"new"
    );
}

/// Every `.keras` fixture written by real Keras (tests/data/keras, see make_keras_fixtures.py).
fn keras_fixtures() -> Vec<PathBuf> {
    fn walk(dir: &Path, out: &mut Vec<PathBuf>) {
        for e in fs::read_dir(dir).into_iter().flatten().flatten() {
            let p = e.path();
            if p.is_dir() {
                walk(&p, out);
            } else if p.extension().is_some_and(|x| x == "keras") {
                out.push(p);
            }
        }
    }
    let mut out = Vec::new();
    walk(
        &Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/data/keras"),
        &mut out,
    );
    out.sort();
    out
}

#[test]
fn real_keras_archives_read_in_place() {
    let fixtures = keras_fixtures();
    assert!(!fixtures.is_empty(), "no tests/data/keras/**/*.keras");
    for path in &fixtures {
        let a = KerasArchive::open(path).unwrap_or_else(|e| panic!("{e}"));
        a.verify_all().unwrap();
        // The zip crate agrees on every member and data offset.
        let mut z = zip::ZipArchive::new(fs::File::open(path).unwrap()).unwrap();
        assert_eq!(z.len(), a.members().len());
        for (i, m) in a.members().iter().enumerate() {
            let mut e = z.by_index(i).unwrap();
            assert_eq!(e.name().unwrap(), m.name.as_str());
            assert_eq!(
                (e.size(), e.compressed_size(), e.crc32()),
                (m.size, m.compressed_size, m.crc32)
            );
            assert_eq!(
                e.data_start(),
                Some(m.data_offset),
                "{}: {}",
                path.display(),
                m.name
            );
            let mut bytes = Vec::new();
            e.read_to_end(&mut bytes).unwrap();
            assert_eq!(&*a.read(&m.name).unwrap(), &bytes[..]);
        }
        let names: Vec<&str> = a.members().iter().map(|m| m.name.as_str()).collect();
        assert_eq!(
            &names[..2],
            ["metadata.json", "config.json"],
            "{}",
            path.display()
        );
        if let Some((off, _)) = a.stored_range("model.weights.h5") {
            // The HDF5 superblock is right at the member's data: it can be opened in place.
            assert_eq!(a.mapped().range(off, 8).unwrap(), b"\x89HDF\r\n\x1a\n");
        }
        if let Some((off, len)) = a.stored_range("model.weights.npz") {
            // numpy's npz is itself a zip, with ZIP64 local extras and none in its directory.
            let npz = a.mapped().range(off, len).unwrap();
            let inner = kerasave::archive::parse_members(npz).unwrap();
            assert!(!inner.is_empty());
            for m in &inner {
                kerasave::archive::verify_member(npz, m).unwrap();
                assert_eq!(
                    m.data_offset - m.header_offset,
                    30 + m.name.len() as u64 + 20
                );
            }
        }
    }
    // The DEFLATED copy of k3_seq holds the same weights.
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/data/keras");
    if let (Ok(plain), Ok(deflated)) = (
        KerasArchive::open(&dir.join("k3_seq/k3_seq.keras")),
        KerasArchive::open(&dir.join("derived/k3_seq_deflated.keras")),
    ) {
        for name in ["metadata.json", "config.json", "model.weights.h5"] {
            assert_eq!(deflated.member(name).unwrap().method, Method::Deflated);
            assert!(deflated.stored_range(name).is_none());
            // (metadata.json has another date, config.json other shared_object_ids.)
            if name == "model.weights.h5" {
                let (p, d) = (plain.read(name).unwrap(), deflated.read(name).unwrap());
                assert_eq!(p, d);
            }
        }
    }
}

/// A real ZIP64 archive: a sparse 4 GiB + 1 byte weights file, and a member after it whose
/// offset needs 64 bits. Writes 4 GiB, so only on demand: `cargo test -- --ignored`.
#[test]
#[ignore]
fn real_zip64_over_4_gib() {
    let dir = tempfile::tempdir().unwrap();
    let big = dir.path().join("big.h5");
    let size = (4u64 << 30) + 1;
    {
        let f = fs::File::create(&big).unwrap();
        f.set_len(size).unwrap();
    }
    let path = dir.path().join("big.keras");
    let mut w = ArchiveWriter::create(&path).unwrap();
    w.add_bytes("metadata.json", b"{}").unwrap();
    w.add_file("model.weights.h5", &big, WEIGHTS_ALIGNMENT)
        .unwrap();
    w.add_bytes("assets/after", b"after the weights").unwrap();
    w.finish().unwrap();
    fs::remove_file(&big).unwrap();

    let a = KerasArchive::open(&path).unwrap();
    let (off, len) = a.stored_range("model.weights.h5").unwrap();
    assert_eq!((off % WEIGHTS_ALIGNMENT, len), (0, size));
    let after = a.member("assets/after").unwrap();
    assert!(after.header_offset > u32::MAX as u64);
    assert_eq!(
        &*a.read_verified("assets/after").unwrap(),
        b"after the weights"
    );
    a.verify_all().unwrap();
    let mut z = zip::ZipArchive::new(fs::File::open(&path).unwrap()).unwrap();
    let mut s = String::new();
    z.by_name("assets/after")
        .unwrap()
        .read_to_string(&mut s)
        .unwrap();
    assert_eq!(s, "after the weights");
    assert_eq!(
        z.by_name("model.weights.h5").unwrap().data_start(),
        Some(off)
    );
    let script = r#"
import sys, zipfile
z = zipfile.ZipFile(sys.argv[1])
i = z.getinfo("model.weights.h5")
print(i.file_size, z.read("assets/after").decode(), z.testzip())
"#;
    if let Some(out) = run_python(script, &[&path]) {
        assert_eq!(out.trim_end(), format!("{size} after the weights None"));
    }
}
