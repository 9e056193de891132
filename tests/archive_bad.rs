//! Bad `.keras` archives: each is a typed error (never a panic), opening writes nothing, and the
//! writer refuses what would make a bad archive while leaving nothing behind.

use std::fs;
use std::io::Write;

use flate2::write::DeflateEncoder;
use flate2::Compression;
use kerasave::archive::{parse_members, read_member, verify_member, ArchiveWriter, KerasArchive};
use kerasave::Error;

const GIB: u64 = 1 << 30;

/// A member as it will be laid out, with every field that a bad archive may want to lie about.
#[derive(Clone)]
struct Raw {
    name: Vec<u8>,
    method: u16,
    flags: u16,
    /// The bytes in the archive (compressed if DEFLATED).
    data: Vec<u8>,
    crc: u32,
    size: u64,
    csize: u64,
    zip64: bool,
    local_name: Option<Vec<u8>>,
    local_method: Option<u16>,
    local_flags: Option<u16>,
    local_crc: Option<u32>,
    local_size: Option<u64>,
}

impl Raw {
    fn stored(name: &str, data: &[u8]) -> Raw {
        Raw {
            name: name.as_bytes().to_vec(),
            method: 0,
            flags: 0,
            data: data.to_vec(),
            crc: crc32fast::hash(data),
            size: data.len() as u64,
            csize: data.len() as u64,
            zip64: false,
            local_name: None,
            local_method: None,
            local_flags: None,
            local_crc: None,
            local_size: None,
        }
    }

    fn deflated(name: &str, plain: &[u8]) -> Raw {
        let mut e = DeflateEncoder::new(Vec::new(), Compression::best());
        e.write_all(plain).unwrap();
        let data = e.finish().unwrap();
        Raw {
            method: 8,
            csize: data.len() as u64,
            data,
            ..Raw::stored(name, plain)
        }
    }
}

fn put16(v: &mut Vec<u8>, x: u16) {
    v.extend_from_slice(&x.to_le_bytes());
}
fn put32(v: &mut Vec<u8>, x: u32) {
    v.extend_from_slice(&x.to_le_bytes());
}
fn put64(v: &mut Vec<u8>, x: u64) {
    v.extend_from_slice(&x.to_le_bytes());
}

/// Local headers and data, then the central directory and the end record.
fn assemble(members: &[Raw]) -> Vec<u8> {
    let mut out = Vec::new();
    let mut cd = Vec::new();
    for m in members {
        let offset = out.len() as u32;
        let size = m.local_size.unwrap_or(m.size);
        let field = |v: u64| if m.zip64 { u32::MAX } else { v as u32 };
        let zip64_extra = |v: &mut Vec<u8>, usize_: u64, csize: u64| {
            if m.zip64 {
                put16(v, 1);
                put16(v, 16);
                put64(v, usize_);
                put64(v, csize);
            }
        };
        let local_name = m.local_name.as_ref().unwrap_or(&m.name);
        let mut extra = Vec::new();
        zip64_extra(&mut extra, size, m.csize);
        put32(&mut out, 0x0403_4b50);
        put16(&mut out, 20);
        put16(&mut out, m.local_flags.unwrap_or(m.flags));
        put16(&mut out, m.local_method.unwrap_or(m.method));
        put32(&mut out, 0x0021_0000);
        put32(&mut out, m.local_crc.unwrap_or(m.crc));
        put32(&mut out, field(m.csize));
        put32(&mut out, field(size));
        put16(&mut out, local_name.len() as u16);
        put16(&mut out, extra.len() as u16);
        out.extend_from_slice(local_name);
        out.extend_from_slice(&extra);
        out.extend_from_slice(&m.data);

        let mut extra = Vec::new();
        zip64_extra(&mut extra, m.size, m.csize);
        put32(&mut cd, 0x0201_4b50);
        put16(&mut cd, 0x0314);
        put16(&mut cd, 20);
        put16(&mut cd, m.flags);
        put16(&mut cd, m.method);
        put32(&mut cd, 0x0021_0000);
        put32(&mut cd, m.crc);
        put32(&mut cd, field(m.csize));
        put32(&mut cd, field(m.size));
        put16(&mut cd, m.name.len() as u16);
        put16(&mut cd, extra.len() as u16);
        put16(&mut cd, 0);
        put16(&mut cd, 0);
        put16(&mut cd, 0);
        put32(&mut cd, 0o600 << 16);
        put32(&mut cd, offset);
        cd.extend_from_slice(&m.name);
        cd.extend_from_slice(&extra);
    }
    let cd_offset = out.len() as u32;
    out.extend_from_slice(&cd);
    put32(&mut out, 0x0605_4b50);
    put32(&mut out, 0);
    put16(&mut out, members.len() as u16);
    put16(&mut out, members.len() as u16);
    put32(&mut out, cd.len() as u32);
    put32(&mut out, cd_offset);
    put16(&mut out, 0);
    out
}

fn good() -> Vec<Raw> {
    vec![
        Raw::stored("metadata.json", br#"{"keras_version": "3.15.1"}"#),
        Raw::deflated("config.json", &br#"{"layers": []}"#.repeat(20)),
        Raw::stored("model.weights.h5", b"\x89HDF\r\n\x1a\nweights"),
    ]
}

/// Opens `bytes` from a file in a fresh directory; asserts the directory is unchanged after.
fn open_bytes(bytes: &[u8]) -> kerasave::Result<KerasArchive> {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("bad.keras");
    fs::write(&path, bytes).unwrap();
    let result = KerasArchive::open(&path);
    let left: Vec<_> = fs::read_dir(dir.path()).unwrap().collect();
    assert_eq!(left.len(), 1, "opening wrote nothing");
    if let Err(Error::Corrupt { at, .. } | Error::Unsupported { at, .. }) = &result {
        assert_eq!(
            at.file.as_deref(),
            Some(path.as_path()),
            "errors name the file"
        );
    }
    result
}

#[track_caller]
fn corrupt(bytes: &[u8], needle: &str) {
    match open_bytes(bytes) {
        Err(Error::Corrupt { detail, .. }) => {
            assert!(detail.contains(needle), "{detail:?} lacks {needle:?}")
        }
        other => panic!("expected Corrupt({needle:?}), got {other:?}"),
    }
}

#[track_caller]
fn unsupported(bytes: &[u8], needle: &str) {
    match open_bytes(bytes) {
        Err(Error::Unsupported { detail, .. }) => {
            assert!(detail.contains(needle), "{detail:?} lacks {needle:?}")
        }
        other => panic!("expected Unsupported({needle:?}), got {other:?}"),
    }
}

#[track_caller]
fn read_corrupt(a: &KerasArchive, name: &str, needle: &str) {
    match a.read(name) {
        Err(Error::Corrupt { detail, at }) => {
            assert!(detail.contains(needle), "{detail:?} lacks {needle:?}");
            assert_eq!(at.key.as_deref(), Some(name));
        }
        other => panic!("expected Corrupt({needle:?}), got {other:?}"),
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
fn the_good_archive_is_good() {
    let a = open_bytes(&assemble(&good())).unwrap();
    assert_eq!(a.members().len(), 3);
    assert_eq!(
        &*a.read("config.json").unwrap(),
        &br#"{"layers": []}"#.repeat(20)[..]
    );
    a.verify_all().unwrap();
}

#[test]
fn empty_short_and_garbage_files() {
    corrupt(b"", "empty file");
    corrupt(b"PK", "not a zip archive");
    corrupt(&noise(10_000, 7), "not a zip archive");
    corrupt(b"PK\x03\x04 and then nothing much", "truncated zip archive");
    // An end record alone that points at a directory that is not there.
    let mut eocd = b"PK\x05\x06".to_vec();
    eocd.extend_from_slice(&[0, 0, 0, 0, 1, 0, 1, 0, 46, 0, 0, 0, 0, 0, 0, 0, 0, 0]);
    corrupt(&eocd, "central directory");
    // An empty archive is fine: zero members.
    let mut empty = b"PK\x05\x06".to_vec();
    empty.extend_from_slice(&[0; 18]);
    assert!(open_bytes(&empty).unwrap().members().is_empty());
}

#[test]
fn every_truncation_is_corrupt() {
    let bytes = assemble(&good());
    for len in 0..bytes.len() {
        match parse_members(&bytes[..len]) {
            Err(Error::Corrupt { .. }) => {}
            other => panic!("truncated to {len}: {other:?}"),
        }
    }
}

#[test]
fn no_byte_flip_panics() {
    let mut members = good();
    members[1].zip64 = true;
    let bytes = assemble(&members);
    for i in 0..bytes.len() {
        for flip in [0xFF, 0x01, 0x80] {
            let mut b = bytes.clone();
            b[i] ^= flip;
            if let Ok(ms) = parse_members(&b) {
                for m in &ms {
                    let _ = read_member(&b, m, true);
                    let _ = verify_member(&b, m);
                }
            }
        }
    }
}

#[test]
fn unsafe_names_refuse_the_archive() {
    for name in [
        "../evil",
        "assets/../../evil",
        "/abs",
        "/etc/passwd",
        "C:\\x",
        "c:x",
        "\\\\server\\share",
        "assets\\x",
        "a\0b",
        "a//b",
        "./a",
    ] {
        let mut ms = good();
        ms.push(Raw::stored(name, b"x"));
        corrupt(&assemble(&ms), "member name");
    }
    // Invalid UTF-8 under the UTF-8 flag.
    let mut bad = Raw::stored("x", b"x");
    bad.name = b"\xff\xfe".to_vec();
    bad.flags = 0x800;
    corrupt(&assemble(&[bad]), "flagged UTF-8");
}

#[test]
fn duplicates_and_file_directory_clashes() {
    let mut ms = good();
    ms.push(Raw::stored("config.json", b"{}"));
    corrupt(&assemble(&ms), "duplicate member name \"config.json\"");
    let ms = [
        Raw::stored("assets/a", b"1"),
        Raw::stored("assets/a/b", b"2"),
    ];
    corrupt(&assemble(&ms), "both a file and a directory");
}

#[test]
fn encryption_and_other_methods_are_unsupported() {
    let mut ms = good();
    ms[0].flags = 1;
    unsupported(&assemble(&ms), "encrypted");
    for (method, name) in [
        (12, "bzip2"),
        (14, "lzma"),
        (93, "zstd"),
        (99, "AES"),
        (9, "deflate64"),
    ] {
        let mut ms = good();
        ms[2].method = method;
        unsupported(&assemble(&ms), name);
    }
}

#[test]
fn zip_bombs_are_refused_at_open() {
    let zeros = vec![0u8; 1 << 16];
    // Declares 10 GiB from a few hundred bytes.
    let mut bomb = Raw::deflated("model.weights.h5", &zeros);
    bomb.size = 10 * GIB;
    bomb.zip64 = true;
    corrupt(&assemble(&[bomb.clone()]), "zip bomb");
    // Just over the 256 MiB floor.
    bomb.size = (256 << 20) + 1;
    corrupt(&assemble(&[bomb.clone()]), "zip bomb");
    // Under the floor it opens, but the stream is held to the declared size on read.
    bomb.size = 200 << 20;
    bomb.zip64 = false;
    let a = open_bytes(&assemble(&[bomb])).unwrap();
    read_corrupt(
        &a,
        "model.weights.h5",
        "inflates to 65536 bytes but declares",
    );
}

#[test]
fn inflating_is_held_to_the_declared_size_and_crc() {
    let plain = vec![7u8; 1 << 20];
    // Declares less than the stream holds: stops at the declared size.
    let mut liar = Raw::deflated("a", &plain);
    liar.size = 10;
    let a = open_bytes(&assemble(&[liar])).unwrap();
    read_corrupt(&a, "a", "more than its declared size of 10 bytes");
    // Declares more than the stream holds.
    let mut short = Raw::deflated("a", &plain);
    short.size = plain.len() as u64 + 1;
    let a = open_bytes(&assemble(&[short])).unwrap();
    read_corrupt(&a, "a", "inflates to 1048576 bytes but declares 1048577");
    // A cut stream.
    let mut cut = Raw::deflated("a", &noise(100_000, 3));
    cut.data.truncate(cut.data.len() / 2);
    cut.csize = cut.data.len() as u64;
    let a = open_bytes(&assemble(&[cut])).unwrap();
    read_corrupt(&a, "a", "truncated");
    // Not DEFLATE at all.
    let mut junk = Raw::deflated("a", b"hello");
    junk.data = vec![0xFF; 32];
    junk.csize = 32;
    let a = open_bytes(&assemble(&[junk])).unwrap();
    read_corrupt(&a, "a", "bad DEFLATE data");
    // Wrong CRC: DEFLATED reads always check it; STORED ones when asked.
    let mut ms = good();
    ms[1].crc ^= 1;
    ms[2].crc ^= 1;
    let a = open_bytes(&assemble(&ms)).unwrap();
    read_corrupt(&a, "config.json", "CRC-32 mismatch");
    assert!(
        a.read("model.weights.h5").is_ok(),
        "unverified zero-copy read"
    );
    assert!(matches!(
        a.read_verified("model.weights.h5"),
        Err(Error::Corrupt { .. })
    ));
    assert!(a.verify_all().is_err());
}

#[test]
fn local_headers_must_agree_with_the_directory() {
    type Patch = Box<dyn Fn(&mut Raw)>;
    let cases: Vec<(Patch, &str)> = vec![
        (
            Box::new(|m| m.local_name = Some(b"model.weights.h6".to_vec())),
            "local header names",
        ),
        (
            Box::new(|m| m.local_method = Some(8)),
            "local header says method 8",
        ),
        (
            Box::new(|m| m.local_crc = Some(0)),
            "disagrees with the central",
        ),
        (
            Box::new(|m| m.local_size = Some(3)),
            "disagrees with the central",
        ),
        (Box::new(|m| m.local_flags = Some(8)), "flags"),
        (Box::new(|m| m.local_flags = Some(1)), "flags"),
    ];
    for (patch, needle) in cases {
        let mut ms = good();
        patch(&mut ms[2]);
        corrupt(&assemble(&ms), needle);
    }
    // With a data descriptor (flag 3 in both), the local CRC and sizes are not compared.
    let mut ms = good();
    ms[2].flags = 8;
    ms[2].local_crc = Some(0);
    ms[2].local_size = Some(0);
    let a = open_bytes(&assemble(&ms)).unwrap();
    assert_eq!(
        &*a.read_verified("model.weights.h5").unwrap(),
        b"\x89HDF\r\n\x1a\nweights"
    );
}

#[test]
fn data_must_stay_in_its_place() {
    // Past the end of the file (and so through the central directory).
    let mut ms = good();
    ms[2].size = 1 << 40;
    ms[2].csize = 1 << 40;
    ms[2].zip64 = true;
    corrupt(&assemble(&ms), "runs past the central directory");
    // The last member's data running into the directory.
    let mut ms = good();
    ms[2].size += 10;
    ms[2].csize += 10;
    corrupt(&assemble(&ms), "runs past the central directory");
    // One member's data covering the next one's header.
    let mut ms = good();
    ms[0].size += 40;
    ms[0].csize += 40;
    corrupt(&assemble(&ms), "overlap");
    // STORED with two different sizes.
    let mut ms = good();
    ms[2].csize -= 1;
    corrupt(&assemble(&ms), "STORED member with compressed size");
    // A size marker without its ZIP64 field.
    let mut ms = good();
    ms[2].size = u32::MAX as u64;
    ms[2].csize = u32::MAX as u64;
    corrupt(&assemble(&ms), "no ZIP64 extra field");
}

fn eocd_at(b: &[u8]) -> usize {
    b.len() - 22
}

#[test]
fn end_records_must_add_up() {
    let bytes = assemble(&good());
    let e = eocd_at(&bytes);
    // Trailing bytes after the end record (its comment length no longer reaches EOF).
    let mut b = bytes.clone();
    b.extend_from_slice(b"trailing");
    corrupt(&b, "no end of central directory record");
    // Bytes prepended: every offset is off.
    let mut b = b"#!/bin/sh\n".to_vec();
    b.extend_from_slice(&bytes);
    corrupt(&b, "prepended");
    // Too many entries for the directory's size.
    let mut b = bytes.clone();
    b[e + 8..e + 12].copy_from_slice(&[0xFF, 0xFF, 0xFF, 0xFF]);
    corrupt(&b, "holds at most");
    // One entry too many / too few.
    let mut b = bytes.clone();
    b[e + 8..e + 12].copy_from_slice(&[4, 0, 4, 0]);
    corrupt(&b, "holds at most 3");
    let mut b = bytes.clone();
    b[e + 8..e + 12].copy_from_slice(&[2, 0, 2, 0]);
    corrupt(&b, "bytes after its 2 entries");
    // Directory offset past the end records.
    let mut b = bytes.clone();
    b[e + 16..e + 20].copy_from_slice(&(e as u32).to_le_bytes());
    corrupt(&b, "runs past the end records");
    // Spanned archives.
    let mut b = bytes.clone();
    b[e + 4] = 1;
    unsupported(&b, "multi-disk");
    // A ZIP64 locator that points nowhere.
    let mut b = bytes[..e].to_vec();
    b.extend_from_slice(b"PK\x06\x07");
    b.extend_from_slice(&[0; 4]);
    b.extend_from_slice(&(1u64 << 40).to_le_bytes());
    b.extend_from_slice(&[1, 0, 0, 0]);
    b.extend_from_slice(&bytes[e..]);
    corrupt(&b, "no ZIP64 end of central directory record");
}

#[test]
fn the_writer_refuses_bad_members_and_leaves_nothing() {
    let root = tempfile::tempdir().unwrap();
    let dir = root.path().join("out");
    fs::create_dir(&dir).unwrap();
    let path = dir.join("m.keras");
    let src = root.path().join("weights.h5");
    fs::write(&src, b"\x89HDF\r\n\x1a\n").unwrap();
    let mut w = ArchiveWriter::create(&path).unwrap();
    w.add_bytes("metadata.json", b"{}").unwrap();
    for name in [
        "../evil",
        "/abs",
        "C:\\x",
        "a\\b",
        "a\0b",
        "dir/",
        "",
        "a/./b",
        "metadata.json",
        "metadata.json/x",
    ] {
        assert!(
            matches!(w.add_bytes(name, b"x"), Err(Error::InvalidArgument(_))),
            "{name:?}"
        );
    }
    for align in [3, 4095, 1 << 16] {
        assert!(matches!(
            w.add_file("model.weights.h5", &src, align),
            Err(Error::InvalidArgument(_))
        ));
    }
    match w.add_file("x", &root.path().join("missing"), 1) {
        Err(Error::Io { source, .. }) => assert_eq!(source.kind(), std::io::ErrorKind::NotFound),
        other => panic!("{other:?}"),
    }
    assert!(matches!(
        w.add_file("x", root.path(), 1),
        Err(Error::InvalidArgument(_))
    ));
    // Nothing on disk but the temp file, and no target yet.
    assert!(!path.exists());
    // Refusals leave the writer usable.
    w.add_file("model.weights.h5", &src, 4096).unwrap();
    drop(w);
    assert_eq!(
        fs::read_dir(&dir).unwrap().count(),
        0,
        "unfinished: nothing left"
    );
    let mut w = ArchiveWriter::create(&path).unwrap();
    w.add_bytes("metadata.json", b"{}").unwrap();
    assert!(w.add_bytes("../evil", b"x").is_err());
    w.finish().unwrap();
    let names: Vec<String> = KerasArchive::open(&path)
        .unwrap()
        .members()
        .iter()
        .map(|m| m.name.clone())
        .collect();
    assert_eq!(names, ["metadata.json"]);
    assert_eq!(fs::read_dir(&dir).unwrap().count(), 1);
    // Nothing escaped into the parent either.
    let mut top: Vec<String> = fs::read_dir(root.path())
        .unwrap()
        .map(|e| e.unwrap().file_name().into_string().unwrap())
        .collect();
    top.sort();
    assert_eq!(top, ["out", "weights.h5"]);
}

#[test]
fn too_many_members_is_unsupported() {
    // 2^20 + 1 entries claimed by a ZIP64 end record over a directory big enough to hold them.
    let n: u64 = (1 << 20) + 1;
    let cd_size = n * 46;
    let mut b = vec![0u8; cd_size as usize];
    let z64 = b.len() as u64;
    b.extend_from_slice(b"PK\x06\x06");
    b.extend_from_slice(&44u64.to_le_bytes());
    b.extend_from_slice(&[45, 3, 45, 0, 0, 0, 0, 0, 0, 0, 0, 0]);
    b.extend_from_slice(&n.to_le_bytes());
    b.extend_from_slice(&n.to_le_bytes());
    b.extend_from_slice(&cd_size.to_le_bytes());
    b.extend_from_slice(&0u64.to_le_bytes());
    b.extend_from_slice(b"PK\x06\x07\0\0\0\0");
    b.extend_from_slice(&z64.to_le_bytes());
    b.extend_from_slice(&[1, 0, 0, 0]);
    b.extend_from_slice(b"PK\x05\x06\0\0\0\0\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\0\0");
    unsupported(&b, "members (more than 1048576)");
}
