//! `KerasArchive` and `ArchiveWriter`: thin wrappers over [`crate::archive`]. The GIL is released
//! around parsing, inflating, CRC checks and writing.
//!
//! ```text
//! KerasArchive(path)        validated zip over one memory map
//!   .view(name) -> ndarray  uint8 view of a STORED member (base: the archive's MappedBuffer)
//!   .read(name) -> bytes    a copy (DEFLATED members inflated, CRC checked)
//! ArchiveWriter(path)       STORED members, Keras's zipfile bytes, optional alignment, atomic
//! ```

use std::path::PathBuf;
use std::sync::Arc;

use memmap2::Mmap;
use pyo3::prelude::*;
use pyo3::sync::PyOnceLock;
use pyo3::types::{PyBytes, PyDict, PyList, PyModule, PyTuple};

use super::array::{self, MappedBuffer};
use super::writer::finish_once_writer;
use crate::archive::{ArchiveWriter, KerasArchive, Member, Method};
use crate::error::Error;
use crate::tensor::TensorData;

/// A `.keras` (or any) zip archive, validated as a whole when opened: member names that could
/// escape a directory, overlapping or inconsistent headers, encryption and zip bombs are refused.
///
/// Args:
///     path: The archive.
#[pyclass(frozen, module = "kerasave._core", name = "KerasArchive")]
pub struct PyKerasArchive {
    inner: Arc<KerasArchive>,
    owner: PyOnceLock<Py<MappedBuffer>>,
}

impl PyKerasArchive {
    pub(crate) fn archive(&self) -> &Arc<KerasArchive> {
        &self.inner
    }

    fn member(&self, name: &str) -> PyResult<&Member> {
        self.inner.member(name).ok_or_else(|| {
            Error::KeyNotFound {
                at: crate::error::Location {
                    file: Some(self.inner.path().to_path_buf()),
                    key: Some(name.to_owned()),
                },
            }
            .into()
        })
    }
}

fn method_name(m: Method) -> &'static str {
    match m {
        Method::Stored => "stored",
        Method::Deflated => "deflated",
    }
}

#[pymethods]
impl PyKerasArchive {
    #[new]
    fn new(py: Python<'_>, path: PathBuf) -> PyResult<Self> {
        let archive = py.detach(|| KerasArchive::open(&path))?;
        Ok(PyKerasArchive {
            inner: Arc::new(archive),
            owner: PyOnceLock::new(),
        })
    }

    /// The archive's path.
    #[getter]
    fn path(&self) -> PathBuf {
        self.inner.path().to_path_buf()
    }

    /// Size of the archive in bytes.
    #[getter]
    fn size(&self) -> usize {
        self.inner.mapped().bytes().len()
    }

    /// Member names in central-directory (= write) order.
    fn names(&self) -> Vec<String> {
        self.inner
            .members()
            .iter()
            .map(|m| m.name.clone())
            .collect()
    }

    /// Every member as `(name, method, data_offset, size, compressed_size)`, in central-directory
    /// order; `method` is "stored" or "deflated", `data_offset` absolute in the archive.
    fn members<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyList>> {
        let rows = self
            .inner
            .members()
            .iter()
            .map(|m| {
                (
                    m.name.as_str(),
                    method_name(m.method),
                    m.data_offset,
                    m.size,
                    m.compressed_size,
                )
                    .into_pyobject(py)
            })
            .collect::<PyResult<Vec<Bound<'py, PyTuple>>>>()?;
        PyList::new(py, rows)
    }

    /// Everything known about member `name`: name, method, header_offset, data_offset, size,
    /// compressed_size, crc32, is_dir.
    fn member_info<'py>(&self, py: Python<'py>, name: &str) -> PyResult<Bound<'py, PyDict>> {
        let m = self.member(name)?;
        let d = PyDict::new(py);
        d.set_item("name", &m.name)?;
        d.set_item("method", method_name(m.method))?;
        d.set_item("header_offset", m.header_offset)?;
        d.set_item("data_offset", m.data_offset)?;
        d.set_item("size", m.size)?;
        d.set_item("compressed_size", m.compressed_size)?;
        d.set_item("crc32", m.crc32)?;
        d.set_item("is_dir", m.is_dir())?;
        Ok(d)
    }

    fn __contains__(&self, name: &str) -> bool {
        self.inner.member(name).is_some()
    }

    fn __len__(&self) -> usize {
        self.inner.members().len()
    }

    /// The bytes of member `name` as a copy. `verify`: check the CRC-32 of a STORED member too
    /// (DEFLATED members are always checked).
    #[pyo3(signature = (name, verify = true))]
    fn read<'py>(
        &self,
        py: Python<'py>,
        name: &str,
        verify: bool,
    ) -> PyResult<Bound<'py, PyBytes>> {
        let archive = &self.inner;
        let data = py.detach(|| -> Result<Vec<u8>, Error> {
            let cow = if verify {
                archive.read_verified(name)?
            } else {
                archive.read(name)?
            };
            Ok(cow.into_owned())
        })?;
        Ok(PyBytes::new(py, &data))
    }

    /// Member `name` as a read-only uint8 array: a view of the archive's map for a STORED member
    /// (no copy, no CRC check), else the inflated bytes.
    fn view<'py>(&self, py: Python<'py>, name: &str) -> PyResult<Bound<'py, PyAny>> {
        let archive = &self.inner;
        let data = py.detach(|| -> Result<TensorData, Error> {
            if let (Some((offset, len)), Some(map)) =
                (archive.stored_range(name), archive.mapped().shared_map())
            {
                let offset = usize::try_from(offset)
                    .map_err(|_| Error::unsupported("member offset beyond the address space"))?;
                let len = usize::try_from(len)
                    .map_err(|_| Error::unsupported("member size beyond the address space"))?;
                return Ok(TensorData::Mapped {
                    map: Arc::clone(map),
                    offset,
                    len,
                });
            }
            Ok(TensorData::Owned(archive.read(name)?.into_owned()))
        })?;
        let owner_for = |map: &Arc<Mmap>| {
            array::shared_owner(py, &self.owner, map, || {
                self.inner.path().to_string_lossy().into_owned()
            })
        };
        array::byte_array(py, data, &owner_for)
    }

    /// `(offset, length)` of a STORED member's bytes in the archive, None if it is compressed.
    fn stored_range(&self, name: &str) -> PyResult<Option<(u64, u64)>> {
        self.member(name)?;
        Ok(self.inner.stored_range(name))
    }

    /// Checks the CRC-32 of member `name`.
    fn verify(&self, py: Python<'_>, name: &str) -> PyResult<()> {
        let archive = &self.inner;
        py.detach(|| archive.read_verified(name).map(drop))?;
        Ok(())
    }

    /// Checks every member's CRC-32 (DEFLATED members are inflated into scratch space).
    fn verify_all(&self, py: Python<'_>) -> PyResult<()> {
        let archive = &self.inner;
        py.detach(|| archive.verify_all())?;
        Ok(())
    }

    fn __repr__(&self) -> String {
        format!(
            "<KerasArchive {:?} ({} members)>",
            self.inner.path(),
            self.inner.members().len()
        )
    }
}

finish_once_writer! {
    /// Writes a zip archive the way Keras's `zipfile` does (every member STORED, in the order
    /// added), to a temp file renamed over `path` by `finish()`. Usable as a context manager:
    /// leaving the block normally finishes, an exception aborts (nothing is left behind).
    ///
    /// Args:
    ///     path: The target (its directory must exist).
    pub struct PyArchiveWriter(ArchiveWriter) as "ArchiveWriter";
    finish = "Writes the central directory and renames the archive into place.";
    abort = "Drops the half-written archive; the target is untouched. Harmless after `finish`.";
    methods {
        /// Writes ZIP64 records even where the sizes fit 32 bits (zipfile's `force_zip64`).
        fn force_zip64(&self, py: Python<'_>, on: bool) -> PyResult<()> {
            self.slot.with(py, |w| {
                w.force_zip64(on);
                Ok(())
            })
        }

        /// Adds member `name` from memory, its data at a multiple of `align` (1: anywhere; else a
        /// power of two up to 32768).
        #[pyo3(signature = (name, data, align = 1))]
        fn add_bytes(&self, py: Python<'_>, name: &str, data: &[u8], align: u64) -> PyResult<()> {
            self.slot.with(py, |w| w.add_bytes_aligned(name, data, align))
        }

        /// Starts member `name` as an HDF5 file written straight into the archive (no temp file,
        /// no copy): returns an `H5Writer` whose data lands at a power-of-two offset, a multiple
        /// of `align`, or None when the members before it are too large for that (write a temp
        /// file and use `add_file`). Fill the writer, then call `end_hdf5(writer)`; nothing
        /// else may be added in between.
        #[pyo3(signature = (name, align = 4096))]
        fn begin_hdf5(
            &self,
            py: Python<'_>,
            name: &str,
            align: u64,
        ) -> PyResult<Option<super::h5::PyH5Writer>> {
            let made = self.slot.with(py, |w| {
                let Some(start) = w.begin_external(name, align)? else {
                    return Ok(None);
                };
                let temp = w.temp_path().to_path_buf();
                let h5 = crate::h5::H5Writer::create_in_place(&temp, start)?;
                Ok(Some(h5))
            })?;
            Ok(made.map(|h5| super::h5::PyH5Writer {
                slot: super::writer::WriterSlot::from_writer(
                    h5,
                    self.slot.path().join(name),
                ),
            }))
        }

        /// Closes the `H5Writer` from `begin_hdf5` and completes its member (CRC, header).
        fn end_hdf5(&self, py: Python<'_>, writer: &super::h5::PyH5Writer) -> PyResult<()> {
            let h5 = writer.slot.take().ok_or_else(|| {
                pyo3::exceptions::PyValueError::new_err("the H5Writer is already finished")
            })?;
            self.slot.with(py, move |w| {
                h5.finish()?;
                w.finish_external()
            })
        }

        /// Adds the file at `path` as member `name` (streamed, never held in memory), its data at
        /// a multiple of `align` (4096 for Keras weights).
        #[pyo3(signature = (name, path, align = 1))]
        fn add_file(&self, py: Python<'_>, name: &str, path: PathBuf, align: u64) -> PyResult<()> {
            self.slot.with(py, |w| w.add_file(name, &path, align))
        }
    }
}

pub(crate) fn register(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add_class::<PyKerasArchive>()?;
    m.add_class::<PyArchiveWriter>()?;
    Ok(())
}
