//! `ArchiveWriter::begin_external` + `H5Writer::create_in_place`: an HDF5 member written by
//! libhdf5 straight into the archive's temp file (a userblock), completed by
//! `finish_external`. The member must be byte-identical to the same file written standalone,
//! STORED at a 4096-aligned offset, with a correct CRC, whether the JSON members fit before the
//! userblock or had to move behind the member.

use std::fs;
use std::path::Path;

use kerasave::archive::{ArchiveWriter, KerasArchive, WEIGHTS_ALIGNMENT};
use kerasave::dtype::DType;
use kerasave::h5::{AttrValue, H5Writer};

fn fill(w: &mut H5Writer) {
    w.create_group("/layers/dense/vars").unwrap();
    w.set_attr(
        "/layers/dense/vars",
        "name",
        &AttrValue::String("dense".into()),
        false,
    )
    .unwrap();
    let data: Vec<u8> = (0..3 * 5 * 4u32).map(|i| (i * 7) as u8).collect();
    w.write_dataset("/layers/dense/vars/0", DType::Float32, &[3, 5], &data)
        .unwrap();
}

fn standalone(dir: &Path) -> Vec<u8> {
    let p = dir.join("plain.weights.h5");
    let mut w = H5Writer::create(&p).unwrap();
    w.set_durable(false);
    fill(&mut w);
    w.finish().unwrap();
    fs::read(&p).unwrap()
}

/// Writes metadata.json, config.json (`config_len` bytes), the HDF5 member and an asset.
fn write(dir: &Path, config_len: usize, zip64: bool) -> (KerasArchive, Vec<u8>) {
    let path = dir.join(format!("m{config_len}-{zip64}.keras"));
    let config = vec![b' '; config_len];
    let mut z = ArchiveWriter::create(&path).unwrap();
    z.force_zip64(zip64);
    z.set_durable(false);
    z.add_bytes("metadata.json", b"{}").unwrap();
    z.add_bytes("config.json", &config).unwrap();
    let start = z
        .begin_external("model.weights.h5", WEIGHTS_ALIGNMENT)
        .unwrap()
        .unwrap();
    assert!(start.is_power_of_two() && start % WEIGHTS_ALIGNMENT == 0);
    // Nothing else may be added while the member is open.
    assert!(z.add_bytes("x", b"y").is_err());
    let mut h5 = H5Writer::create_in_place(z.temp_path(), start).unwrap();
    fill(&mut h5);
    h5.finish().unwrap();
    z.finish_external().unwrap();
    z.add_bytes("assets/a.txt", b"asset").unwrap();
    z.finish().unwrap();
    let names = fs::read_dir(dir).unwrap().count();
    assert!(names >= 1);
    (KerasArchive::open(&path).unwrap(), config)
}

#[test]
fn member_is_the_standalone_file() {
    let dir = tempfile::tempdir().unwrap();
    let plain = standalone(dir.path());
    // Small config (fits before 4096), medium (fits before a larger power of two), large
    // (moved behind the member), and forced ZIP64 records.
    for (config_len, zip64) in [(10, false), (20_000, false), (300_000, false), (10, true)] {
        let (a, config) = write(dir.path(), config_len, zip64);
        let names: Vec<&str> = a.members().iter().map(|m| m.name.as_str()).collect();
        assert_eq!(
            names,
            [
                "metadata.json",
                "config.json",
                "model.weights.h5",
                "assets/a.txt"
            ],
            "central-directory order is the order added"
        );
        a.verify_all().unwrap();
        let (offset, len) = a.stored_range("model.weights.h5").unwrap();
        assert_eq!(offset % WEIGHTS_ALIGNMENT, 0, "{config_len}");
        assert_eq!(len, plain.len() as u64);
        assert_eq!(&*a.read_verified("model.weights.h5").unwrap(), &plain[..]);
        assert_eq!(&*a.read_verified("config.json").unwrap(), &config[..]);
        assert_eq!(&*a.read_verified("metadata.json").unwrap(), b"{}");
        assert_eq!(&*a.read_verified("assets/a.txt").unwrap(), b"asset");
        let moved = a.member("model.weights.h5").unwrap().header_offset == 0;
        assert_eq!(moved, config_len == 300_000);
    }
    // Only the archives (and the standalone file) are left: no temp files.
    let left: Vec<_> = fs::read_dir(dir.path())
        .unwrap()
        .map(|e| e.unwrap().file_name().into_string().unwrap())
        .filter(|n| n.contains(".tmp-"))
        .collect();
    assert!(left.is_empty(), "{left:?}");
}

#[test]
fn abandoned_member_leaves_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("x.keras");
    {
        let mut z = ArchiveWriter::create(&path).unwrap();
        z.add_bytes("metadata.json", b"{}").unwrap();
        let start = z.begin_external("model.weights.h5", 4096).unwrap().unwrap();
        let mut h5 = H5Writer::create_in_place(z.temp_path(), start).unwrap();
        fill(&mut h5);
        drop(h5); // closed, not finished: the archive's temp file is still the archive's
        assert!(z.temp_path().exists());
    }
    assert_eq!(fs::read_dir(dir.path()).unwrap().count(), 0);
}

#[test]
fn finish_external_checks_the_superblock() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("y.keras");
    let mut z = ArchiveWriter::create(&path).unwrap();
    z.add_bytes("metadata.json", b"{}").unwrap();
    assert!(z.finish_external().is_err(), "nothing was begun");
    z.begin_external("model.weights.h5", 4096).unwrap().unwrap();
    // No HDF5 file was written at the reserved offset: refused, not patched blindly.
    assert!(z.finish_external().is_err());
    assert!(
        H5Writer::create_in_place(&path, 1000).is_err(),
        "not a power of two"
    );
}
