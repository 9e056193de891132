//! Writing: STORED members in the order added, any of them aligned, the file replaced atomically.
//!
//! The bytes are what CPython's `zipfile` writes for Keras's JSON members (keras_formats.md §1.1):
//! version 20 (45 with ZIP64), creator Unix, flags 0 (bit 11 for non-ASCII names), date
//! 1980-01-01 00:00, external attributes `0o600 << 16`, CRC and sizes in the local header (no data
//! descriptor), no comments. Dates are fixed so the same inputs give the same bytes.
//!
//! Alignment pads the *local* extra field with Android zipalign's field (id 0xD935: `u16`
//! alignment, then zeros): `zipfile`, Keras and every reader skip unknown extra ids, and the
//! central directory does not need it.

use std::fs::File;
use std::io::{Read, Seek, SeekFrom, Write};
use std::path::Path;

use super::format::{
    field32, CentralHeader, Eocd, LocalHeader, PutLe, Zip64Eocd, Zip64Locator, ALIGN_EXTRA_ID,
    CENTRAL_SIG, DOS_DATE_1980, EOCD_SIG, FLAG_UTF8, LOCAL_LEN, LOCAL_SIG, MARK16, METHOD_STORED,
    ZIP64_EOCD_LEN, ZIP64_EOCD_SIG, ZIP64_EXTRA_ID, ZIP64_LOCATOR_SIG,
};
use super::names::{check_member_name, NameSet};
use crate::error::{Error, Result};
use crate::io::AtomicFile;

/// CPython's `zipfile.ZIP64_LIMIT`: a size or offset above it gets ZIP64 records. The format
/// allows 32-bit fields up to 0xFFFFFFFE, but readers that take them as signed stop at 2 GiB.
pub(crate) const ZIP64_LIMIT: u64 = (1 << 31) - 1;
const VERSION_DEFAULT: u16 = 20;
const VERSION_ZIP64: u16 = 45;
/// "Version made by" high byte: 3 = Unix, so the external attributes are Unix mode bits.
const MADE_BY_UNIX: u16 = 3 << 8;
/// `?rw-------`, what `zipfile` gives members written with `writestr`/`open(name, "w")`.
const EXTERNAL_ATTR: u32 = 0o600 << 16;
/// The alignment is recorded in a `u16`; 32 KiB covers every page size in use but 64 KiB.
const MAX_ALIGN: u64 = 1 << 15;
const COPY_CHUNK: usize = 1 << 20;

/// Writes a `.keras` (ZIP) archive to a temp file beside the target, renamed over it by
/// [`ArchiveWriter::finish`]; dropped unfinished, it leaves nothing behind.
pub struct ArchiveWriter {
    out: AtomicFile,
    /// Bytes written so far: the next local header's offset.
    offset: u64,
    entries: Vec<Entry>,
    names: NameSet,
    force_zip64: bool,
    /// Set while a member is half written; a failure then leaves the archive unusable.
    broken: bool,
    /// Sync before the rename on finish (see [`ArchiveWriter::set_durable`]).
    durable: bool,
    /// A member being written into the file by someone else (see
    /// [`ArchiveWriter::begin_external`]).
    external: Option<External>,
}

/// The member between [`ArchiveWriter::begin_external`] and [`ArchiveWriter::finish_external`].
struct External {
    name: String,
    align: u64,
    header_offset: u64,
    data_offset: u64,
    /// The members written before it, rewritten after the other writer truncated the file:
    /// in front of it (from offset 0), or after it when `relocate`.
    prefix: Vec<u8>,
    /// The earlier members did not fit before a power-of-two offset: they move behind this
    /// member (their central-directory order, which is what readers list, is kept).
    relocate: bool,
}

/// The largest padding field [`ArchiveWriter::begin_external`] accepts: a local extra field
/// holds at most 65535 bytes, and 20 of them may become a ZIP64 field once the size is known.
const MAX_EXTERNAL_PAD: u64 = 65535 - 6 - 20;
/// HDF5 superblock v0: base address and end-of-file address (keras_formats.md; the file
/// format spec, "Superblock Format Version 0").
const SB_BASE: usize = 24;
const SB_EOF: usize = 40;
const HDF5_SIGNATURE: &[u8; 8] = b"\x89HDF\r\n\x1a\n";

/// What the central directory needs to know about a written member.
struct Entry {
    name: String,
    crc32: u32,
    size: u64,
    header_offset: u64,
    /// Written with an alignment > 1 (its padding depends on where it is; it cannot move).
    aligned: bool,
}

impl ArchiveWriter {
    /// Starts writing `path` (its directory must exist; an existing file is replaced on finish).
    pub fn create(path: &Path) -> Result<Self> {
        Ok(ArchiveWriter {
            out: AtomicFile::create(path)?,
            offset: 0,
            entries: Vec::new(),
            names: NameSet::default(),
            force_zip64: false,
            broken: false,
            durable: true,
            external: None,
        })
    }

    /// Whether [`ArchiveWriter::finish`] syncs the archive before renaming it (default on).
    /// Off, the write is still atomic (temp + rename), as `zipfile`'s and Keras's are not even
    /// that, but a power cut may leave the new name over unwritten blocks.
    pub fn set_durable(&mut self, on: bool) {
        self.durable = on;
    }

    /// The temp file the archive is written to (renamed over the target by `finish`).
    pub fn temp_path(&self) -> &Path {
        self.out.temp_path()
    }

    /// Reserves member `name` for an HDF5 file that libhdf5 writes straight into the archive's
    /// temp file, its superblock at the returned offset `U` (a power of two, a multiple of
    /// `align`): open an [`crate::h5::H5Writer::create_in_place`] on [`Self::temp_path`] with
    /// userblock `U`, write it, finish it, then call [`Self::finish_external`].
    ///
    /// libhdf5 creates the file afresh (the temp name is unlinked first), so the members
    /// written so far are kept in memory and put back afterwards. When the padding between them and the next power of
    /// two would not fit the local header's extra field (a config.json of more than ~64 KiB),
    /// the new member is placed first in the file and the earlier members are written after
    /// it; the central directory keeps the order they were added in. Returns `None` (and
    /// changes nothing) if that is impossible too (an earlier member was aligned): the caller
    /// then writes the file elsewhere and uses [`Self::add_file`].
    pub fn begin_external(&mut self, name: &str, align: u64) -> Result<Option<u64>> {
        self.check_new(name, align)?;
        let placement = |at: u64| -> Result<(u64, u64)> {
            // Header, name, the padding field's 6 bytes, and room for a ZIP64 field.
            let min_end = [LOCAL_LEN as u64, name.len() as u64, 6, 20]
                .into_iter()
                .try_fold(at, checked_add)?;
            let start = min_end
                .max(align)
                .max(512)
                .checked_next_power_of_two()
                .ok_or_else(|| Error::InvalidArgument("archive offset overflows".into()))?;
            Ok((min_end, start))
        };
        let (min_end, mut start) = placement(self.offset)?;
        let mut header_offset = self.offset;
        let relocate = start - min_end > MAX_EXTERNAL_PAD;
        if relocate {
            if self.entries.iter().any(|e| e.aligned) {
                return Ok(None);
            }
            header_offset = 0;
            start = placement(0)?.1;
        }
        let mut prefix = vec![
            0u8;
            usize::try_from(self.offset).map_err(|_| {
                Error::InvalidArgument("archive prefix beyond the address space".into())
            })?
        ];
        use std::os::unix::fs::FileExt;
        let target = self.out.target().to_path_buf();
        let file = self.out.flushed_file().map_err(|e| Error::io(&target, e))?;
        file.read_exact_at(&mut prefix, 0)
            .map_err(|e| Error::io(&target, e))?;
        // libhdf5 creates the file afresh under the temp name (see `AtomicFile::unlink_temp`).
        self.out.unlink_temp().map_err(|e| Error::io(&target, e))?;
        self.names.insert(name).map_err(Error::InvalidArgument)?;
        self.broken = true;
        self.external = Some(External {
            name: name.to_string(),
            align,
            header_offset,
            data_offset: start,
            prefix,
            relocate,
        });
        Ok(Some(start))
    }

    /// Completes the member begun by [`Self::begin_external`] once the HDF5 file is closed:
    /// the file from `U` on is the member. Its superblock's base address is set back to 0 and
    /// its end-of-file address made relative, so the member's bytes are exactly the HDF5 file
    /// libhdf5 writes without a userblock. Then the members before it and its local header
    /// (CRC over the member, read back) are written in front, and appending resumes at the end.
    pub fn finish_external(&mut self) -> Result<()> {
        use std::os::unix::fs::FileExt;
        let ext = self.external.take().ok_or_else(|| {
            Error::InvalidArgument("no member was begun with begin_external".into())
        })?;
        let target = self.out.target().to_path_buf();
        let io_err = |e: std::io::Error| Error::io(&target, e);
        let bad =
            |what: String| Error::corrupt(format!("member {}: {what}", ext.name)).in_file(&target);
        self.out.reopen_temp().map_err(io_err)?;
        let file = self.out.flushed_file().map_err(io_err)?;
        let len = file.metadata().map_err(io_err)?.len();
        let u = ext.data_offset;
        if len < u + 56 {
            return Err(bad(format!(
                "HDF5 file ends at {len}, before its superblock"
            )));
        }
        let mut sb = [0u8; 56];
        file.read_exact_at(&mut sb, u).map_err(io_err)?;
        let field = |at: usize| u64::from_le_bytes(sb[at..at + 8].try_into().unwrap_or([0; 8]));
        if &sb[..8] != HDF5_SIGNATURE || sb[8] != 0 || sb[13] != 8 {
            return Err(bad("not an HDF5 superblock v0 with 8-byte offsets".into()));
        }
        if field(SB_BASE) != u || field(SB_EOF) != len {
            return Err(bad(format!(
                "superblock base {} / end {} do not match userblock {u} / file length {len}",
                field(SB_BASE),
                field(SB_EOF)
            )));
        }
        let size = len - u;
        sb[SB_BASE..SB_BASE + 8].copy_from_slice(&0u64.to_le_bytes());
        sb[SB_EOF..SB_EOF + 8].copy_from_slice(&size.to_le_bytes());
        file.write_all_at(&sb, u).map_err(io_err)?;

        let mut crc = crc32fast::Hasher::new();
        let mut buf = vec![0u8; COPY_CHUNK];
        let mut at = u;
        while at < len {
            let n = usize::try_from((len - at).min(COPY_CHUNK as u64)).unwrap_or(COPY_CHUNK);
            let chunk = buf.get_mut(..n).unwrap_or(&mut []);
            file.read_exact_at(chunk, at).map_err(io_err)?;
            crc.update(chunk);
            at += n as u64;
        }
        let crc = crc.finalize();
        let zip64 = self.force_zip64 || size > ZIP64_LIMIT;
        let mut header = Vec::with_capacity(usize::try_from(u).unwrap_or(0));
        if !ext.relocate {
            header.extend_from_slice(&ext.prefix);
        }
        let fixed = [LOCAL_LEN as u64, ext.name.len() as u64]
            .into_iter()
            .try_fold(ext.header_offset, checked_add)?;
        let extra_len = u - fixed;
        let mut extra = Vec::with_capacity(extra_len as usize);
        if zip64 {
            extra.put16(ZIP64_EXTRA_ID);
            extra.put16(16);
            extra.put64(size);
            extra.put64(size);
        }
        let pad = extra_len - extra.len() as u64 - 6;
        extra.put16(ALIGN_EXTRA_ID);
        extra.put16(2 + pad as u16); // pad <= MAX_EXTERNAL_PAD + 20
        extra.put16(ext.align.clamp(1, MAX_ALIGN) as u16);
        extra.resize(extra_len as usize, 0);
        LocalHeader {
            signature: LOCAL_SIG,
            version_needed: if zip64 {
                VERSION_ZIP64
            } else {
                VERSION_DEFAULT
            },
            flags: name_flags(&ext.name),
            method: METHOD_STORED,
            time: 0,
            date: DOS_DATE_1980,
            crc32: crc,
            compressed_size: field32(size, zip64),
            size: field32(size, zip64),
            name_len: u16_len(ext.name.len())?,
            extra_len: u16_len(extra.len())?,
        }
        .encode(&mut header);
        header.extend_from_slice(ext.name.as_bytes());
        header.extend_from_slice(&extra);
        debug_assert_eq!(header.len() as u64, u);
        file.write_all_at(&header, 0).map_err(io_err)?;
        let mut end = len;
        if ext.relocate {
            file.write_all_at(&ext.prefix, len).map_err(io_err)?;
            for e in &mut self.entries {
                e.header_offset = checked_add(e.header_offset, len)?;
            }
            end = checked_add(len, ext.prefix.len() as u64)?;
        }
        file.seek(SeekFrom::Start(end)).map_err(io_err)?;
        self.entries.push(Entry {
            name: ext.name,
            crc32: crc,
            size,
            header_offset: ext.header_offset,
            aligned: true,
        });
        self.offset = end;
        self.broken = false;
        Ok(())
    }

    /// Writes ZIP64 records for every member and the end of the archive, even where the sizes
    /// fit 32 bits (like `zipfile`'s `force_zip64`); for tests and picky consumers.
    pub fn force_zip64(&mut self, on: bool) {
        self.force_zip64 = on;
    }

    /// Adds a member from memory.
    pub fn add_bytes(&mut self, name: &str, bytes: &[u8]) -> Result<()> {
        self.add_bytes_aligned(name, bytes, 1)
    }

    /// Adds a member from memory whose data starts at a multiple of `align` (0 or 1: anywhere;
    /// else a power of two up to 32768).
    pub fn add_bytes_aligned(&mut self, name: &str, bytes: &[u8], align: u64) -> Result<()> {
        self.check_new(name, align)?;
        let crc = crc32fast::hash(bytes);
        self.begin(name, bytes.len() as u64, crc, align)?;
        self.write(bytes)?;
        self.broken = false;
        Ok(())
    }

    /// Adds the file at `path` as member `name`, its data at a multiple of `align` (see
    /// [`ArchiveWriter::add_bytes_aligned`]; [`super::WEIGHTS_ALIGNMENT`] for the weights).
    ///
    /// The file is streamed twice through a 1 MiB buffer and never held in memory: once for the
    /// CRC, which the local header carries before the data, and once to copy it. (A data
    /// descriptor would save the first pass, but then the local header holds no sizes and
    /// streaming readers such as Java's `ZipInputStream` refuse STORED members.) A file that
    /// changes between the passes is an error and leaves the archive unusable.
    pub fn add_file(&mut self, name: &str, path: &Path, align: u64) -> Result<()> {
        self.check_new(name, align)?;
        let io_err = |e: std::io::Error| Error::io(path, e);
        let mut file = File::open(path).map_err(io_err)?;
        let meta = file.metadata().map_err(io_err)?;
        if !meta.is_file() {
            return Err(Error::InvalidArgument(format!(
                "not a regular file: {}",
                path.display()
            )));
        }
        let size = meta.len();
        let mut buf = vec![0u8; COPY_CHUNK];
        let mut crc = crc32fast::Hasher::new();
        let seen = stream(&mut file, path, &mut buf, |chunk| {
            crc.update(chunk);
            Ok(())
        })?;
        let crc = crc.finalize();
        let changed = || {
            Error::io(
                path,
                std::io::Error::other("the file changed while it was being added to the archive"),
            )
        };
        if seen != size {
            return Err(changed());
        }
        file.seek(SeekFrom::Start(0)).map_err(io_err)?;

        self.begin(name, size, crc, align)?;
        let mut again = crc32fast::Hasher::new();
        let out = &mut self.out;
        let copied = stream(&mut file, path, &mut buf, |chunk| {
            again.update(chunk);
            out.write_all(chunk).map_err(|e| Error::io(out.target(), e))
        })?;
        if copied != size || again.finalize() != crc {
            return Err(changed());
        }
        self.offset = checked_add(self.offset, size)?;
        self.broken = false;
        Ok(())
    }

    /// Writes the central directory and end records and renames the file into place.
    pub fn finish(mut self) -> Result<()> {
        if self.broken {
            return Err(Error::InvalidArgument(
                "an earlier member failed half-way; the archive is incomplete".into(),
            ));
        }
        let cd_offset = self.offset;
        let mut cd = Vec::new();
        for e in &self.entries {
            let zip64_sizes = self.force_zip64 || e.size > ZIP64_LIMIT;
            let zip64_offset = self.force_zip64 || e.header_offset > ZIP64_LIMIT;
            let mut extra = Vec::new();
            if zip64_sizes || zip64_offset {
                let n = 8 * (2 * u16::from(zip64_sizes) + u16::from(zip64_offset));
                extra.put16(ZIP64_EXTRA_ID);
                extra.put16(n);
                if zip64_sizes {
                    extra.put64(e.size);
                    extra.put64(e.size);
                }
                if zip64_offset {
                    extra.put64(e.header_offset);
                }
            }
            let version = if extra.is_empty() {
                VERSION_DEFAULT
            } else {
                VERSION_ZIP64
            };
            CentralHeader {
                signature: CENTRAL_SIG,
                version_made_by: MADE_BY_UNIX | version,
                version_needed: version,
                flags: name_flags(&e.name),
                method: METHOD_STORED,
                time: 0,
                date: DOS_DATE_1980,
                crc32: e.crc32,
                compressed_size: field32(e.size, zip64_sizes),
                size: field32(e.size, zip64_sizes),
                name_len: u16_len(e.name.len())?,
                extra_len: u16_len(extra.len())?,
                comment_len: 0,
                disk_start: 0,
                internal_attr: 0,
                external_attr: EXTERNAL_ATTR,
                header_offset: field32(e.header_offset, zip64_offset),
            }
            .encode(&mut cd);
            cd.extend_from_slice(e.name.as_bytes());
            cd.extend_from_slice(&extra);
        }
        let cd_size = cd.len() as u64;
        let count = self.entries.len() as u64;
        let zip64_end = self.force_zip64
            || count >= u64::from(MARK16)
            || cd_size > ZIP64_LIMIT
            || cd_offset > ZIP64_LIMIT;
        if zip64_end {
            Zip64Eocd {
                signature: ZIP64_EOCD_SIG,
                record_size: (ZIP64_EOCD_LEN - 12) as u64,
                version_made_by: MADE_BY_UNIX | VERSION_ZIP64,
                version_needed: VERSION_ZIP64,
                disk: 0,
                cd_disk: 0,
                disk_entries: count,
                entries: count,
                cd_size,
                cd_offset,
            }
            .encode(&mut cd);
            Zip64Locator {
                signature: ZIP64_LOCATOR_SIG,
                eocd_disk: 0,
                eocd_offset: checked_add(cd_offset, cd_size)?,
                total_disks: 1,
            }
            .encode(&mut cd);
        }
        // With the ZIP64 record present, fields that fit still carry their value (as `zipfile`
        // writes them); the rest carry the marker.
        let count16 = u16::try_from(count).unwrap_or(MARK16);
        Eocd {
            signature: EOCD_SIG,
            disk: 0,
            cd_disk: 0,
            disk_entries: count16,
            entries: count16,
            cd_size: field32(cd_size, false),
            cd_offset: field32(cd_offset, false),
            comment_len: 0,
        }
        .encode(&mut cd);
        self.write(&cd)?;
        self.out.commit_with(self.durable)
    }

    /// Validates a new member before anything is written, so a refused one leaves the writer
    /// usable.
    fn check_new(&self, name: &str, align: u64) -> Result<()> {
        if self.broken {
            return Err(Error::InvalidArgument(
                "an earlier member failed half-way; the archive is incomplete".into(),
            ));
        }
        check_member_name(name).map_err(Error::InvalidArgument)?;
        if name.ends_with('/') {
            return Err(Error::InvalidArgument(format!(
                "member name {name:?}: directory entries are not written (Keras writes none)"
            )));
        }
        u16_len(name.len())?;
        if align > MAX_ALIGN || (align > 1 && !align.is_power_of_two()) {
            return Err(Error::InvalidArgument(format!(
                "alignment {align} is not 0, 1 or a power of two up to {MAX_ALIGN}"
            )));
        }
        self.names.check(name).map_err(Error::InvalidArgument)?;
        Ok(())
    }

    /// Writes the local header of a member of `size` bytes, padded so its data starts at a
    /// multiple of `align`, and records the member. Leaves `broken` set until the data is in.
    fn begin(&mut self, name: &str, size: u64, crc32: u32, align: u64) -> Result<()> {
        let zip64 = self.force_zip64 || size > ZIP64_LIMIT;
        let header_offset = self.offset;
        let mut extra = Vec::new();
        if zip64 {
            // APPNOTE 4.5.3: in a local header the ZIP64 field holds both sizes.
            extra.put16(ZIP64_EXTRA_ID);
            extra.put16(16);
            extra.put64(size);
            extra.put64(size);
        }
        if align > 1 {
            // The data starts after the fixed header, the name, what extra we have, and the
            // 6 bytes of the padding field's id, length and alignment value.
            let unpadded = [LOCAL_LEN as u64, name.len() as u64, extra.len() as u64, 6]
                .into_iter()
                .try_fold(header_offset, checked_add)?;
            let pad = (align - unpadded % align) % align;
            extra.put16(ALIGN_EXTRA_ID);
            extra.put16(2 + pad as u16); // pad < align <= 32768
            extra.put16(align as u16); // align <= 32768
            extra.resize(extra.len() + pad as usize, 0);
        }
        let mut header = Vec::with_capacity(LOCAL_LEN + name.len() + extra.len());
        LocalHeader {
            signature: LOCAL_SIG,
            version_needed: if zip64 {
                VERSION_ZIP64
            } else {
                VERSION_DEFAULT
            },
            flags: name_flags(name),
            method: METHOD_STORED,
            time: 0,
            date: DOS_DATE_1980,
            crc32,
            compressed_size: field32(size, zip64),
            size: field32(size, zip64),
            name_len: u16_len(name.len())?,
            extra_len: u16_len(extra.len())?,
        }
        .encode(&mut header);
        header.extend_from_slice(name.as_bytes());
        header.extend_from_slice(&extra);

        self.names.insert(name).map_err(Error::InvalidArgument)?;
        self.entries.push(Entry {
            name: name.to_string(),
            crc32,
            size,
            header_offset,
            aligned: align > 1,
        });
        self.broken = true;
        self.write(&header)
    }

    fn write(&mut self, bytes: &[u8]) -> Result<()> {
        self.out
            .write_all(bytes)
            .map_err(|e| Error::io(self.out.target(), e))?;
        self.offset = checked_add(self.offset, bytes.len() as u64)?;
        Ok(())
    }
}

/// Flag bit 11 (UTF-8) for non-ASCII names, as `zipfile` sets it.
fn name_flags(name: &str) -> u16 {
    if name.is_ascii() {
        0
    } else {
        FLAG_UTF8
    }
}

fn u16_len(len: usize) -> Result<u16> {
    u16::try_from(len)
        .map_err(|_| Error::InvalidArgument(format!("{len} bytes do not fit a 16-bit ZIP field")))
}

fn checked_add(a: u64, b: u64) -> Result<u64> {
    a.checked_add(b)
        .ok_or_else(|| Error::InvalidArgument("archive larger than 2^64 bytes".into()))
}

/// Reads `file` (at `path`, for errors) to its end in `buf`-sized chunks; returns the byte count.
fn stream(
    file: &mut File,
    path: &Path,
    buf: &mut [u8],
    mut each: impl FnMut(&[u8]) -> Result<()>,
) -> Result<u64> {
    let mut total: u64 = 0;
    loop {
        let n = match file.read(buf) {
            Ok(0) => return Ok(total),
            Ok(n) => n,
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(Error::io(path, e)),
        };
        each(buf.get(..n).unwrap_or(&[]))?;
        total = total.saturating_add(n as u64);
    }
}
