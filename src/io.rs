//! Byte sources and atomic writes.
//!
//! Reads go through read-only memory maps so tensors can be served as views; a map lives as long
//! as any `Arc` to it (the Python side holds one per array owner). Writes never touch the target
//! in place: they go to a temp file beside it, are synced, then renamed over it, so a reader that
//! has the old file mapped keeps valid bytes and a crash never leaves a half-written file.

use std::fs::{self, File};
use std::io::{self, Write};
use std::ops::Deref;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use memmap2::Mmap;

use crate::error::{Error, Result};

/// An immutable, shareable view of a whole file.
#[derive(Clone, Debug)]
pub struct MappedFile {
    path: Arc<PathBuf>,
    map: Option<Arc<Mmap>>, // None for an empty file: mmap of length 0 is an error on Linux.
}

impl MappedFile {
    /// Maps `path` read-only.
    pub fn open(path: &Path) -> Result<Self> {
        let file = File::open(path).map_err(|e| Error::io(path, e))?;
        let len = file.metadata().map_err(|e| Error::io(path, e))?.len();
        let map = if len == 0 {
            None
        } else {
            // SAFETY: the map is read-only and we never write through it. Another process could
            // still truncate the file under us (SIGBUS on access); every writer in this crate
            // replaces files by rename instead of truncating, and the same caveat holds for every
            // mmap-based reader (numpy.memmap, safetensors).
            let map = unsafe { Mmap::map(&file) }.map_err(|e| Error::io(path, e))?;
            Some(Arc::new(map))
        };
        Ok(MappedFile {
            path: Arc::new(path.to_path_buf()),
            map,
        })
    }

    /// A read-only anonymous map holding a copy of `bytes` (an inflated zip member, say), so that
    /// code written for mapped files (zero-copy views, [`crate::h5::H5File::open_in`]) serves
    /// bytes that exist only in memory. `path` names it in error messages.
    pub fn from_bytes(path: &Path, bytes: &[u8]) -> Result<Self> {
        let map = if bytes.is_empty() {
            None
        } else {
            let mut anon =
                memmap2::MmapMut::map_anon(bytes.len()).map_err(|e| Error::io(path, e))?;
            anon.copy_from_slice(bytes);
            Some(Arc::new(
                anon.make_read_only().map_err(|e| Error::io(path, e))?,
            ))
        };
        Ok(MappedFile {
            path: Arc::new(path.to_path_buf()),
            map,
        })
    }

    /// The file's path, for error messages.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// The whole file.
    pub fn bytes(&self) -> &[u8] {
        self.map.as_deref().map(|m| &m[..]).unwrap_or(&[])
    }

    /// The shared map, for zero-copy views that must outlive this handle (`None` if empty).
    pub fn shared_map(&self) -> Option<&Arc<Mmap>> {
        self.map.as_ref()
    }

    /// `len` bytes at `offset`, or a corruption error naming the file if they are not all there.
    pub fn range(&self, offset: u64, len: u64) -> Result<&[u8]> {
        let bytes = self.bytes();
        let start = usize::try_from(offset).ok();
        let end = start.and_then(|s| usize::try_from(len).ok().and_then(|l| s.checked_add(l)));
        match (start, end) {
            (Some(s), Some(e)) if e <= bytes.len() => Ok(&bytes[s..e]),
            _ => Err(Error::corrupt(format!(
                "range {offset}+{len} is past the end of the file ({} bytes)",
                bytes.len()
            ))
            .in_file(&self.path)),
        }
    }
}

impl Deref for MappedFile {
    type Target = [u8];
    fn deref(&self) -> &[u8] {
        self.bytes()
    }
}

/// A file being written: bytes go to `<target>.tmp-<pid>-<n>` and appear at `target` only on
/// [`AtomicFile::commit`]. Dropping it uncommitted removes the temp file.
pub struct AtomicFile {
    target: PathBuf,
    temp: PathBuf,
    file: Option<io::BufWriter<File>>,
}

impl AtomicFile {
    /// Starts writing `target` (its directory must exist).
    pub fn create(target: &Path) -> Result<Self> {
        use std::sync::atomic::{AtomicU64, Ordering};
        static COUNTER: AtomicU64 = AtomicU64::new(0);
        let n = COUNTER.fetch_add(1, Ordering::Relaxed);
        let name = target.file_name().ok_or_else(|| {
            Error::InvalidArgument(format!("not a file path: {}", target.display()))
        })?;
        let mut temp_name = name.to_os_string();
        temp_name.push(format!(".tmp-{}-{n}", std::process::id()));
        let temp = target.with_file_name(temp_name);
        // Readable too: a writer may read back what it wrote (a member's CRC).
        let file = fs::OpenOptions::new()
            .read(true)
            .write(true)
            .create(true)
            .truncate(true)
            .open(&temp)
            .map_err(|e| Error::io(&temp, e))?;
        Ok(AtomicFile {
            target: target.to_path_buf(),
            temp,
            file: Some(io::BufWriter::with_capacity(1 << 20, file)),
        })
    }

    /// The path the file will have once committed.
    pub fn target(&self) -> &Path {
        &self.target
    }

    /// The temp file's path (where the bytes are until committed).
    pub fn temp_path(&self) -> &Path {
        &self.temp
    }

    /// Flushes the buffer and gives the underlying file, for positioned writes and reads (a
    /// member written by another library straight into the temp file, then patched). The caller
    /// must leave the file position where the next buffered write belongs.
    pub fn flushed_file(&mut self) -> io::Result<&mut File> {
        let writer = self.file.as_mut().expect("AtomicFile used after commit");
        writer.flush()?;
        Ok(writer.get_mut())
    }

    /// Flushes and unlinks the temp file, keeping its (now nameless) file open, so that another
    /// library can create a fresh file under the temp name; [`AtomicFile::reopen_temp`] then
    /// adopts that file. (Letting the other library truncate ours instead would make ext4's
    /// `auto_da_alloc` start writeback of everything it writes when it closes the file: a
    /// truncated-then-rewritten file is flushed on close, which costs as much as a sync.)
    pub fn unlink_temp(&mut self) -> io::Result<()> {
        self.flushed_file()?;
        fs::remove_file(&self.temp)
    }

    /// Opens the file now at the temp name (read and write, not truncated) and writes there from
    /// now on, at its start; the previous file is closed. See [`AtomicFile::unlink_temp`].
    pub fn reopen_temp(&mut self) -> io::Result<()> {
        let file = fs::OpenOptions::new()
            .read(true)
            .write(true)
            .open(&self.temp)?;
        let old = self
            .file
            .replace(io::BufWriter::with_capacity(1 << 20, file));
        if let Some(old) = old {
            old.into_inner().map_err(|e| e.into_error())?;
        }
        Ok(())
    }

    /// Flushes, syncs and renames over the target.
    pub fn commit(self) -> Result<()> {
        self.commit_with(true)
    }

    /// Flushes and renames over the target; `durable` also syncs the data to disk first, so a
    /// power cut cannot leave the new name pointing at unwritten blocks. Without it the rename
    /// is still atomic for every process on the machine (what TF, numpy and safetensors give).
    pub fn commit_with(mut self, durable: bool) -> Result<()> {
        let writer = self.file.take().expect("AtomicFile committed twice");
        let file = writer
            .into_inner()
            .map_err(|e| Error::io(&self.temp, e.into_error()))?;
        if durable {
            file.sync_all().map_err(|e| Error::io(&self.temp, e))?;
        }
        drop(file);
        fs::rename(&self.temp, &self.target).map_err(|e| Error::io(&self.target, e))?;
        Ok(())
    }
}

impl Write for AtomicFile {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        self.file.as_mut().expect("write after commit").write(buf)
    }
    fn write_all(&mut self, buf: &[u8]) -> io::Result<()> {
        self.file
            .as_mut()
            .expect("write after commit")
            .write_all(buf)
    }
    fn flush(&mut self) -> io::Result<()> {
        self.file.as_mut().expect("flush after commit").flush()
    }
}

impl Drop for AtomicFile {
    fn drop(&mut self) {
        if self.file.take().is_some() {
            let _ = fs::remove_file(&self.temp);
        }
    }
}

/// Writes `bytes` to `target` atomically (and durably).
pub fn write_atomic(target: &Path, bytes: &[u8]) -> Result<()> {
    write_atomic_with(target, bytes, true)
}

/// Writes `bytes` to `target` atomically; see [`AtomicFile::commit_with`] for `durable`.
pub fn write_atomic_with(target: &Path, bytes: &[u8], durable: bool) -> Result<()> {
    let mut f = AtomicFile::create(target)?;
    f.write_all(bytes).map_err(|e| Error::io(target, e))?;
    f.commit_with(durable)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn atomic_write_and_map() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("a.bin");
        write_atomic(&p, b"hello").unwrap();
        let m = MappedFile::open(&p).unwrap();
        assert_eq!(m.bytes(), b"hello");
        assert_eq!(m.range(1, 3).unwrap(), b"ell");
        assert!(m.range(3, 3).is_err());
        assert!(m.range(u64::MAX, 1).is_err());
        // Only the target is left behind.
        assert_eq!(fs::read_dir(dir.path()).unwrap().count(), 1);
    }

    #[test]
    fn uncommitted_write_leaves_nothing() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("b.bin");
        {
            let mut f = AtomicFile::create(&p).unwrap();
            f.write_all(b"x").unwrap();
        }
        assert_eq!(fs::read_dir(dir.path()).unwrap().count(), 0);
    }

    #[test]
    fn flushed_file_and_lazy_commit() {
        use std::io::{Seek, SeekFrom};
        use std::os::unix::fs::FileExt;
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("c.bin");
        let mut f = AtomicFile::create(&p).unwrap();
        f.write_all(b"abc").unwrap();
        assert!(f.temp_path().exists());
        let file = f.flushed_file().unwrap();
        file.write_all_at(b"X", 0).unwrap();
        file.seek(SeekFrom::End(0)).unwrap();
        f.write_all(b"d").unwrap();
        f.commit_with(false).unwrap();
        assert_eq!(fs::read(&p).unwrap(), b"Xbcd");
        assert_eq!(fs::read_dir(dir.path()).unwrap().count(), 1);
    }

    #[test]
    fn temp_replaced_by_another_writer() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("r.bin");
        let mut f = AtomicFile::create(&p).unwrap();
        f.write_all(b"old").unwrap();
        f.unlink_temp().unwrap();
        assert!(!f.temp_path().exists());
        assert!(f.reopen_temp().is_err(), "nothing there yet");
        fs::write(f.temp_path(), b"new").unwrap();
        f.reopen_temp().unwrap();
        f.write_all(b"N").unwrap(); // at the start: the caller seeks where it wants
        f.commit_with(false).unwrap();
        assert_eq!(fs::read(&p).unwrap(), b"New");
    }

    #[test]
    fn empty_file_maps() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("e");
        fs::write(&p, b"").unwrap();
        assert_eq!(MappedFile::open(&p).unwrap().bytes(), b"");
    }

    #[test]
    fn bytes_map_anonymously() {
        let m = MappedFile::from_bytes(Path::new("mem"), b"abc").unwrap();
        assert_eq!(m.bytes(), b"abc");
        assert!(m.shared_map().is_some());
        assert_eq!(m.path(), Path::new("mem"));
        assert_eq!(
            MappedFile::from_bytes(Path::new("e"), b"").unwrap().bytes(),
            b""
        );
    }
}
