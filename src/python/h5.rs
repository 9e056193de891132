//! `H5File` and `H5Writer`: thin wrappers over [`crate::h5`]. The GIL is released around every
//! libhdf5 call, read and write; it is held only to convert arguments and build Python objects.
//!
//! ```text
//! H5File(path)                     a .weights.h5 / legacy .h5 file, memory-mapped
//! H5File.open_in(src, off, len)    the HDF5 bytes at [off, off+len) of a file or KerasArchive map
//! H5File.open_member(archive, n)   member n of a .keras: STORED in place, DEFLATED inflated once
//!   .get(path) -> ndarray          zero-copy view (base: one MappedBuffer per file) where the
//!                                  dataset is contiguous, unfiltered and little-endian
//! H5Writer(path)                   h5py-style file, renamed into place by finish()
//! ```

use std::path::{Path, PathBuf};
use std::sync::Arc;

use memmap2::Mmap;
use numpy::{PyArray1, PyArrayDescr, PyArrayDescrMethods, PyUntypedArray, PyUntypedArrayMethods};
use pyo3::exceptions::{PyTypeError, PyValueError};
use pyo3::prelude::*;
use pyo3::sync::PyOnceLock;
use pyo3::types::{PyBool, PyBytes, PyDict, PyFloat, PyInt, PyList, PyModule, PyString, PyTuple};

use super::archive::PyKerasArchive;
use super::array::{self, MappedBuffer};
use super::writer::finish_once_writer;
use crate::dtype::DType;
use crate::error::Error;
use crate::h5::{AttrValue, DatasetInfo, H5File, H5Writer, Layout};
use crate::io::MappedFile;

/// An HDF5 file opened read-only over a memory map: a whole file, or a zip member in place.
///
/// Everything is listed and validated when it is opened (links, layouts, storage sizes); reads
/// of contiguous little-endian datasets are views of the map and never call libhdf5.
///
/// Args:
///     path: The HDF5 file.
#[pyclass(frozen, module = "kerasave._core", name = "H5File")]
pub struct PyH5File {
    inner: Arc<H5File>,
    /// The one `MappedBuffer` that is the base of every zero-copy array of this file.
    owner: PyOnceLock<Py<MappedBuffer>>,
}

impl PyH5File {
    fn wrap(file: H5File) -> Self {
        PyH5File {
            inner: Arc::new(file),
            owner: PyOnceLock::new(),
        }
    }

    fn owner<'py>(&self, py: Python<'py>, map: &Arc<Mmap>) -> PyResult<Bound<'py, MappedBuffer>> {
        array::shared_owner(py, &self.owner, map, || {
            self.inner.mapped().path().to_string_lossy().into_owned()
        })
    }

    fn info(&self, py: Python<'_>, path: &str) -> PyResult<DatasetInfo> {
        let file = &self.inner;
        Ok(py.detach(|| file.dataset(path))?)
    }

    fn to_array<'py>(
        &self,
        py: Python<'py>,
        tensor: crate::tensor::Tensor,
        copy: bool,
    ) -> PyResult<Bound<'py, PyAny>> {
        let owner_for = |map: &Arc<Mmap>| self.owner(py, map);
        array::tensor_to_array(py, tensor, copy, &owner_for)
    }
}

fn layout_name(layout: Layout) -> &'static str {
    match layout {
        Layout::Contiguous { .. } => "contiguous",
        Layout::Chunked => "chunked",
        Layout::Compact => "compact",
        Layout::Unallocated => "unallocated",
    }
}

fn nbytes_of(info: &DatasetInfo) -> u64 {
    let n = info
        .shape
        .iter()
        .try_fold(1u64, |acc, &d| acc.checked_mul(d))
        .unwrap_or(u64::MAX);
    n.saturating_mul(info.dtype.item_size().unwrap_or(0) as u64)
}

/// Keras's string-list attributes; stored as an empty float64 array when the list is empty.
const STRING_LIST_ATTRS: [&str; 2] = ["layer_names", "weight_names"];

/// An attribute value as Python sees it: str, list[str], int64/float64 arrays, bytes; Keras's
/// empty `weight_names`/`layer_names` (an empty float64 array) is `[]`.
fn attr_to_py<'py>(py: Python<'py>, name: &str, value: AttrValue) -> PyResult<Bound<'py, PyAny>> {
    Ok(match value {
        AttrValue::Float(v) if v.is_empty() && STRING_LIST_ATTRS.contains(&name) => {
            PyList::empty(py).into_any()
        }
        AttrValue::String(s) => PyString::new(py, &s).into_any(),
        AttrValue::Strings(v) => PyList::new(py, v)?.into_any(),
        AttrValue::Int(v) => PyArray1::from_vec(py, v).into_any(),
        AttrValue::Float(v) => PyArray1::from_vec(py, v).into_any(),
        AttrValue::Bytes(b) => PyBytes::new(py, &b).into_any(),
    })
}

/// Python value -> (AttrValue, stored as ASCII). `bytes` are ASCII strings, as h5py stores them.
fn attr_from_py(name: &str, value: &Bound<'_, PyAny>) -> PyResult<(AttrValue, bool)> {
    let bad = |what: String| {
        PyTypeError::new_err(format!(
            "attribute {name:?}: cannot store {what} (use str, bytes, int, float, a list of \
             those, or a numeric/string numpy array)"
        ))
    };
    if let Ok(s) = value.cast::<PyString>() {
        return Ok((AttrValue::String(s.to_str()?.to_owned()), false));
    }
    if let Ok(b) = value.cast::<PyBytes>() {
        return Ok((AttrValue::String(utf8(name, b.as_bytes())?), true));
    }
    if value.is_instance_of::<PyBool>() || value.is_instance_of::<PyInt>() {
        return Ok((AttrValue::Int(vec![value.extract::<i64>()?]), false));
    }
    if value.is_instance_of::<PyFloat>() {
        return Ok((AttrValue::Float(vec![value.extract::<f64>()?]), false));
    }
    // numpy arrays and scalars: go through a flat Python list.
    let items: Vec<Bound<'_, PyAny>> = if value.hasattr("dtype")? && value.hasattr("ravel")? {
        let kind: String = value.getattr("dtype")?.getattr("kind")?.extract()?;
        if kind == "f" && value.getattr("size")?.extract::<usize>()? == 0 {
            return Ok((AttrValue::Float(Vec::new()), false));
        }
        value
            .call_method0("ravel")?
            .call_method0("tolist")?
            .try_iter()?
            .collect::<PyResult<_>>()?
    } else if value.is_instance_of::<PyList>() || value.is_instance_of::<PyTuple>() {
        value.try_iter()?.collect::<PyResult<_>>()?
    } else {
        return Err(bad(value.get_type().name()?.to_string()));
    };
    if items.is_empty() {
        // np.asarray([]) is float64: what Keras stores for an empty `weight_names`.
        return Ok((AttrValue::Float(Vec::new()), false));
    }
    let is_int = |i: &Bound<'_, PyAny>| i.is_instance_of::<PyInt>() || i.is_instance_of::<PyBool>();
    if let Some(v) = all_as(&items, |i| i.is_instance_of::<PyString>(), |i| i.extract())? {
        return Ok((AttrValue::Strings(v), false));
    }
    let bytes_utf8 = |i: &Bound<'_, PyAny>| utf8(name, i.cast::<PyBytes>()?.as_bytes());
    if let Some(v) = all_as(&items, |i| i.is_instance_of::<PyBytes>(), bytes_utf8)? {
        return Ok((AttrValue::Strings(v), true));
    }
    if let Some(v) = all_as(&items, is_int, |i| i.extract())? {
        return Ok((AttrValue::Int(v), false));
    }
    if let Some(v) = all_as(
        &items,
        |i| is_int(i) || i.is_instance_of::<PyFloat>(),
        |i| i.extract(),
    )? {
        return Ok((AttrValue::Float(v), false));
    }
    Err(bad("a list of mixed or unsupported items".to_owned()))
}

/// `Some(get(item) for every item)` when every item passes `is`, else None.
fn all_as<'py, T>(
    items: &[Bound<'py, PyAny>],
    is: impl Fn(&Bound<'py, PyAny>) -> bool,
    get: impl Fn(&Bound<'py, PyAny>) -> PyResult<T>,
) -> PyResult<Option<Vec<T>>> {
    if !items.iter().all(is) {
        return Ok(None);
    }
    items.iter().map(get).collect::<PyResult<_>>().map(Some)
}

fn utf8(name: &str, b: &[u8]) -> PyResult<String> {
    String::from_utf8(b.to_vec()).map_err(|_| {
        PyValueError::new_err(format!(
            "attribute {name:?}: bytes that are not UTF-8 cannot be stored as an HDF5 string"
        ))
    })
}

/// The dtype, shape and element bytes of a numpy array about to be written.
///
/// The slice borrows the array's buffer: the caller keeps `obj` alive while it is used.
fn array_bytes<'a>(what: &str, obj: &'a Bound<'_, PyAny>) -> PyResult<(DType, Vec<u64>, &'a [u8])> {
    let array = obj
        .cast::<PyUntypedArray>()
        .map_err(|_| PyTypeError::new_err(format!("{what}: expected a numpy array")))?;
    let descr = array.dtype();
    let name: String = descr.getattr("name")?.extract()?;
    let dtype = DType::from_name(&name)
        .filter(|d| d.is_fixed_size())
        .ok_or_else(|| {
            PyTypeError::new_err(format!(
                "{what}: numpy dtype {name} cannot be stored in an HDF5 dataset"
            ))
        })?;
    if descr.byteorder() == b'>' || descr.itemsize() != dtype.item_size().unwrap_or(0) {
        return Err(PyValueError::new_err(format!(
            "{what}: pass little-endian {name} data (got byte order {:?}, item size {})",
            descr.byteorder() as char,
            descr.itemsize()
        )));
    }
    let shape: Vec<u64> = array.shape().iter().map(|&d| d as u64).collect();
    // SAFETY: `array` borrows `obj`, which the caller holds for as long as it uses the slice.
    let bytes: &'a [u8] = unsafe { super::array::contiguous_bytes(array, what)? };
    Ok((dtype, shape, bytes))
}

#[pymethods]
impl PyH5File {
    #[new]
    fn new(py: Python<'_>, path: PathBuf) -> PyResult<Self> {
        let file = py.detach(|| H5File::open(&path))?;
        Ok(Self::wrap(file))
    }

    /// Opens the HDF5 file stored as `length` bytes at `offset` of `source` (a path, or a
    /// `KerasArchive`, whose memory map is shared), without copying it.
    #[staticmethod]
    fn open_in(
        py: Python<'_>,
        source: &Bound<'_, PyAny>,
        offset: u64,
        length: u64,
    ) -> PyResult<Self> {
        let mapped = if let Ok(archive) = source.cast::<PyKerasArchive>() {
            Some(archive.get().archive().mapped().clone())
        } else {
            None
        };
        let path: Option<PathBuf> =
            match mapped {
                Some(_) => None,
                None => Some(source.extract().map_err(|_| {
                    PyTypeError::new_err("source must be a path or a KerasArchive")
                })?),
            };
        let file = py.detach(|| -> Result<H5File, Error> {
            let mapped = match (mapped, path) {
                (Some(m), _) => m,
                (None, Some(p)) => MappedFile::open(&p)?,
                (None, None) => unreachable!("one of them is set above"),
            };
            H5File::open_in(mapped, offset, length)
        })?;
        Ok(Self::wrap(file))
    }

    /// Opens member `name` of a `.keras` archive as HDF5: a STORED member in place (tensors are
    /// views of the archive's map), a DEFLATED one inflated once into memory (CRC checked).
    #[staticmethod]
    fn open_member(
        py: Python<'_>,
        archive: &Bound<'_, PyKerasArchive>,
        name: &str,
    ) -> PyResult<Self> {
        let archive = archive.get().archive().clone();
        let file = py.detach(|| -> Result<H5File, Error> {
            if let Some((offset, len)) = archive.stored_range(name) {
                return H5File::open_in(archive.mapped().clone(), offset, len)
                    .map_err(|e| e.for_key(name.as_bytes()));
            }
            let bytes = archive.read(name)?;
            let label = Path::new(archive.path()).join(name);
            let mapped = MappedFile::from_bytes(&label, &bytes)?;
            drop(bytes);
            let len = mapped.bytes().len() as u64;
            // Errors name the archive and the member, not the in-memory label.
            H5File::open_in(mapped, 0, len).map_err(|e| {
                match e {
                    Error::Corrupt { detail, .. } => Error::corrupt(detail),
                    Error::Unsupported { detail, .. } => Error::unsupported(detail),
                    other => other,
                }
                .in_file(archive.path())
                .for_key(name.as_bytes())
            })
        })?;
        Ok(Self::wrap(file))
    }

    /// The mapped file (for a DEFLATED member: `<archive>/<member>`).
    #[getter]
    fn path(&self) -> PathBuf {
        self.inner.mapped().path().to_path_buf()
    }

    /// `(offset, length)` of the HDF5 bytes within the mapped file.
    #[getter]
    fn image_range(&self) -> (u64, u64) {
        self.inner.image_range()
    }

    /// Every dataset, depth-first in name order, as
    /// `(path, dtype_name, shape, zero_copy, nbytes)`; paths are absolute ("/layers/dense/vars/0").
    fn datasets<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyList>> {
        let file = &self.inner;
        let rows = py.detach(|| -> Result<Vec<(DatasetInfo, bool)>, Error> {
            file.datasets()?
                .into_iter()
                .map(|d| {
                    let z = file.is_zero_copy(&d.path)?;
                    Ok((d, z))
                })
                .collect()
        })?;
        let items = rows
            .into_iter()
            .map(|(d, zero_copy)| {
                let nbytes = nbytes_of(&d);
                let shape = PyTuple::new(py, &d.shape)?;
                PyTuple::new(
                    py,
                    [
                        PyString::new(py, &d.path).into_any(),
                        PyString::new(py, d.dtype.name()).into_any(),
                        shape.into_any(),
                        PyBool::new(py, zero_copy).to_owned().into_any(),
                        nbytes.into_pyobject(py)?.into_any(),
                    ],
                )
            })
            .collect::<PyResult<Vec<_>>>()?;
        PyList::new(py, items)
    }

    /// Every group path, "/" first, depth-first in name order.
    fn groups(&self, py: Python<'_>) -> PyResult<Vec<String>> {
        let file = &self.inner;
        Ok(py.detach(|| file.groups())?)
    }

    fn __contains__(&self, path: &str) -> bool {
        self.inner.dataset(path).is_ok()
    }

    /// Whether `path` names a dataset.
    fn has_dataset(&self, path: &str) -> bool {
        self.inner.dataset(path).is_ok()
    }

    /// The shape of dataset `path` (`()` for a scalar).
    fn shape<'py>(&self, py: Python<'py>, path: &str) -> PyResult<Bound<'py, PyTuple>> {
        let info = self.info(py, path)?;
        PyTuple::new(py, &info.shape)
    }

    /// The numpy dtype of the array `get` returns (ml_dtypes types for bfloat16 and co.,
    /// object for strings).
    fn dtype<'py>(&self, py: Python<'py>, path: &str) -> PyResult<Bound<'py, PyArrayDescr>> {
        let info = self.info(py, path)?;
        array::descr(py, info.dtype)
    }

    /// The dtype name ("float32", "bfloat16", "string", ...).
    fn dtype_name(&self, py: Python<'_>, path: &str) -> PyResult<&'static str> {
        Ok(self.info(py, path)?.dtype.name())
    }

    /// Elements x item size (0 for strings).
    fn nbytes(&self, py: Python<'_>, path: &str) -> PyResult<u64> {
        Ok(nbytes_of(&self.info(py, path)?))
    }

    /// Whether `get(path)` is a view of the map (no copy).
    fn is_zero_copy(&self, py: Python<'_>, path: &str) -> PyResult<bool> {
        let file = &self.inner;
        Ok(py.detach(|| file.is_zero_copy(path))?)
    }

    /// "contiguous", "chunked", "compact" or "unallocated".
    fn layout(&self, py: Python<'_>, path: &str) -> PyResult<&'static str> {
        Ok(layout_name(self.info(py, path)?.layout))
    }

    /// `(offset, length)` of a contiguous dataset's bytes, absolute in the mapped file (the
    /// archive, for a member opened in place); None for other layouts.
    fn location(&self, py: Python<'_>, path: &str) -> PyResult<Option<(u64, u64)>> {
        Ok(match self.info(py, path)?.layout {
            Layout::Contiguous { offset, len } => Some((offset, len)),
            _ => None,
        })
    }

    /// Reads dataset `path`.
    ///
    /// Args:
    ///     path: The dataset path, with or without the leading "/".
    ///     copy: Return a private writable copy instead of a read-only view.
    #[pyo3(signature = (path, copy = false))]
    fn get<'py>(&self, py: Python<'py>, path: &str, copy: bool) -> PyResult<Bound<'py, PyAny>> {
        let file = &self.inner;
        let tensor = py.detach(|| file.read(path))?;
        self.to_array(py, tensor, copy)
    }

    /// Reads several datasets, in the order of `paths`.
    #[pyo3(signature = (paths, copy = false))]
    fn get_many<'py>(
        &self,
        py: Python<'py>,
        paths: Vec<String>,
        copy: bool,
    ) -> PyResult<Bound<'py, PyList>> {
        let file = &self.inner;
        let tensors = py.detach(|| {
            paths
                .iter()
                .map(|p| file.read(p))
                .collect::<Result<Vec<_>, Error>>()
        })?;
        let arrays = tensors
            .into_iter()
            .map(|t| self.to_array(py, t, copy))
            .collect::<PyResult<Vec<_>>>()?;
        PyList::new(py, arrays)
    }

    /// Every attribute of the group or dataset at `object_path` as a dict: strings are `str`,
    /// string arrays `list[str]`, numbers 1-D int64/float64 arrays (but Keras's empty
    /// `weight_names`/`layer_names`, an empty float64 array, is `[]`), anything else `bytes`.
    /// Chunked lists stay chunked here (see `string_list_attr`).
    fn attrs<'py>(&self, py: Python<'py>, object_path: &str) -> PyResult<Bound<'py, PyDict>> {
        let file = &self.inner;
        let attrs = py.detach(|| file.attrs(object_path))?;
        let out = PyDict::new(py);
        for (name, value) in attrs {
            let value = attr_to_py(py, &name, value)?;
            out.set_item(name, value)?;
        }
        Ok(out)
    }

    /// Attribute `name` of `object_path` (converted as in `attrs`), or None.
    fn attr<'py>(
        &self,
        py: Python<'py>,
        object_path: &str,
        name: &str,
    ) -> PyResult<Option<Bound<'py, PyAny>>> {
        let file = &self.inner;
        let value = py.detach(|| file.attr(object_path, name))?;
        value.map(|v| attr_to_py(py, name, v)).transpose()
    }

    /// Keras's chunked string list: attribute `name`, else `name0`, `name1`, ... concatenated;
    /// an empty numeric array is `[]`; None when neither `name` nor `name0` exists.
    fn string_list_attr(
        &self,
        py: Python<'_>,
        object_path: &str,
        name: &str,
    ) -> PyResult<Option<Vec<String>>> {
        let file = &self.inner;
        Ok(py.detach(|| file.string_list_attr(object_path, name))?)
    }

    fn __repr__(&self) -> String {
        let (offset, len) = self.inner.image_range();
        format!(
            "<H5File {:?} ({} bytes at {offset})>",
            self.inner.mapped().path(),
            len
        )
    }
}

finish_once_writer! {
    /// Writes an HDF5 file the way h5py does for Keras (superblock v0, contiguous datasets, no
    /// timestamps) into a temp file beside `path`, renamed over it by `finish()`. Usable as a
    /// context manager: leaving the block normally finishes, an exception aborts (nothing is
    /// left).
    ///
    /// Args:
    ///     path: The target (its directory must exist).
    pub struct PyH5Writer(H5Writer) as "H5Writer";
    finish = "Closes the file and renames it over the target.";
    abort = "Drops the half-written file; the target is untouched. Harmless after `finish`.";
    methods {
        /// Creates the group at `path` and any missing parents (existing groups are fine).
        fn create_group(&self, py: Python<'_>, path: &str) -> PyResult<()> {
            self.slot.with(py, |w| w.create_group(path))
        }

        /// Writes `array` (C-contiguous, little-endian, any fixed-size numpy or ml_dtypes dtype)
        /// as a contiguous dataset at `path`; parents are created. bfloat16 and the other
        /// ml_dtypes types are stored as Keras does: an opaque type plus a `dtype` attribute.
        fn write_dataset(
            &self,
            py: Python<'_>,
            path: &str,
            array: &Bound<'_, PyAny>,
        ) -> PyResult<()> {
            let (dtype, shape, bytes) = array_bytes(path, array)?;
            self.slot.with(py, |w| w.write_dataset(path, dtype, &shape, bytes))
        }

        /// Sets attribute `name` on the group or dataset at `object_path`, replacing it.
        ///
        /// `str` is a scalar variable-length UTF-8 string (ASCII with `ascii=True`); `bytes` an
        /// ASCII string, as h5py stores them; lists of those are 1-D string arrays;
        /// `int`/`float` and numeric arrays are 1-D int64/float64 arrays (an empty list: an empty
        /// float64 array).
        #[pyo3(signature = (object_path, name, value, ascii = false))]
        fn set_attr(
            &self,
            py: Python<'_>,
            object_path: &str,
            name: &str,
            value: &Bound<'_, PyAny>,
            ascii: bool,
        ) -> PyResult<()> {
            let (value, forced_ascii) = attr_from_py(name, value)?;
            let ascii = ascii || forced_ascii;
            self.slot.with(py, |w| w.set_attr(object_path, name, &value, ascii))
        }

        /// Keras's `save_attributes_to_hdf5_group`: the list as one vlen ASCII array, or split
        /// into `name0`, `name1`, ... fixed-length chunks when it would pass 64512 bytes; an
        /// empty list is an empty float64 array.
        fn set_string_list_attr(
            &self,
            py: Python<'_>,
            object_path: &str,
            name: &str,
            items: Vec<String>,
        ) -> PyResult<()> {
            self.slot.with(py, |w| w.set_string_list_attr(object_path, name, &items))
        }
    }
}

pub(crate) fn register(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add_class::<PyH5File>()?;
    m.add_class::<PyH5Writer>()?;
    Ok(())
}
