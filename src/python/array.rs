//! Tensors -> numpy arrays, zero-copy where the bytes allow.
//!
//! ```text
//! ndarray (read-only, C order, data -> map[offset..])  --base-->  MappedBuffer { Arc<Mmap> }
//! ndarray (read-only)                                   --base-->  OwnedBuffer  { Box<[u8]> }
//! ndarray (dtype=object, elements: bytes)               owns its data
//! ```
//! A `MappedBuffer` is created once per shard map and shared by every array that views it, so the
//! map lives exactly as long as the last array (or the reader). Views are often unaligned (TF packs
//! tensors densely): numpy computes the ALIGNED flag itself and copes; this module never casts the
//! bytes to typed references. `MappedBuffer` deliberately exposes no buffer protocol, so numpy
//! refuses `arr.flags.writeable = True` on a view of the read-only map.

use std::ffi::{c_int, c_void, CString};
use std::path::PathBuf;
use std::ptr;
use std::sync::Arc;

use memmap2::Mmap;
use numpy::npyffi::{
    self, npy_intp, NpyTypes, NPY_ARRAY_C_CONTIGUOUS, NPY_ARRAY_WRITEABLE, NPY_ORDER, PY_ARRAY_API,
};
use numpy::{PyArrayDescr, PyArrayDescrMethods};
use pyo3::exceptions::{PyRuntimeError, PyValueError};
use pyo3::prelude::*;
use pyo3::sync::PyOnceLock;
use pyo3::types::{PyBytes, PyModule};

use crate::dtype::DType;
use crate::io::MappedFile;
use crate::tensor::{Tensor, TensorData};

/// Owner of one read-only memory map (a checkpoint data shard); the `base` of every zero-copy
/// array that views it. The map is unmapped when the last such array and the reader are gone.
#[pyclass(frozen, weakref, module = "kerasave._core", name = "MappedBuffer")]
pub struct MappedBuffer {
    map: Arc<Mmap>,
    path: String,
}

impl MappedBuffer {
    pub(crate) fn new(map: Arc<Mmap>, path: String) -> Self {
        MappedBuffer { map, path }
    }
}

#[pymethods]
impl MappedBuffer {
    /// Size of the mapped file in bytes.
    #[getter]
    fn nbytes(&self) -> usize {
        self.map.len()
    }

    /// The mapped file ("" when unknown).
    #[getter]
    fn path(&self) -> &str {
        &self.path
    }

    fn __len__(&self) -> usize {
        self.map.len()
    }

    fn __repr__(&self) -> String {
        format!("<MappedBuffer {:?} ({} bytes)>", self.path, self.map.len())
    }
}

/// Owner of tensor bytes that had to be copied out of the file (assembled from slices,
/// byte-swapped); the `base` of the read-only array that views them.
#[pyclass(frozen, weakref, module = "kerasave._core", name = "OwnedBuffer")]
pub struct OwnedBuffer {
    data: Box<[u8]>,
}

#[pymethods]
impl OwnedBuffer {
    /// Size in bytes.
    #[getter]
    fn nbytes(&self) -> usize {
        self.data.len()
    }

    fn __len__(&self) -> usize {
        self.data.len()
    }

    fn __repr__(&self) -> String {
        format!("<OwnedBuffer ({} bytes)>", self.data.len())
    }
}

/// The one `MappedBuffer` of a file's map, made on first use and kept in `cell`, so that every
/// array viewing that file has the same base. `path` names the file in its `repr`.
pub(crate) fn shared_owner<'py>(
    py: Python<'py>,
    cell: &PyOnceLock<Py<MappedBuffer>>,
    map: &Arc<Mmap>,
    path: impl FnOnce() -> String,
) -> PyResult<Bound<'py, MappedBuffer>> {
    let owner = cell.get_or_try_init(py, || {
        Py::new(py, MappedBuffer::new(Arc::clone(map), path()))
    })?;
    Ok(owner.bind(py).clone())
}

/// Raw bytes (`Mapped` or `Owned`) as a read-only 1-D uint8 array; see [`tensor_to_array`].
pub(crate) fn byte_array<'py>(
    py: Python<'py>,
    data: TensorData,
    owner_for: &dyn Fn(&Arc<Mmap>) -> PyResult<Bound<'py, MappedBuffer>>,
) -> PyResult<Bound<'py, PyAny>> {
    let len = match &data {
        TensorData::Mapped { len, .. } => *len,
        TensorData::Owned(v) => v.len(),
        _ => 0,
    };
    let tensor = Tensor {
        dtype: DType::UInt8,
        shape: vec![len as u64],
        data,
    };
    tensor_to_array(py, tensor, false, owner_for)
}

/// Maps the file at `path` read-only and returns all its bytes as a read-only uint8 array that
/// views the map (its `base` is a `MappedBuffer`; an empty file gives an empty array). Slices and
/// `.view(dtype)` of it are views of the map too: this is how pure-Python readers (safetensors)
/// hand out zero-copy tensors with the same owner as the native ones.
#[pyfunction]
fn map_file(py: Python<'_>, path: PathBuf) -> PyResult<Bound<'_, PyAny>> {
    let mapped = py.detach(|| MappedFile::open(&path))?;
    let data = match mapped.shared_map() {
        Some(map) => TensorData::Mapped {
            map: Arc::clone(map),
            offset: 0,
            len: map.len(),
        },
        None => TensorData::Owned(Vec::new()),
    };
    let label = path.to_string_lossy().into_owned();
    let owner_for =
        |map: &Arc<Mmap>| Bound::new(py, MappedBuffer::new(Arc::clone(map), label.clone()));
    byte_array(py, data, &owner_for)
}

pub(crate) fn register(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add_class::<MappedBuffer>()?;
    m.add_class::<OwnedBuffer>()?;
    m.add_function(wrap_pyfunction!(map_file, m)?)?;
    Ok(())
}

// -- dtype descriptors ---------------------------------------------------------------------------

/// One cached descriptor per TF dtype code (codes are 1..=33 today; room to grow).
const DESCR_SLOTS: usize = 64;
static DESCRS: [PyOnceLock<Py<PyArrayDescr>>; DESCR_SLOTS] =
    [const { PyOnceLock::new() }; DESCR_SLOTS];
/// `ml_dtypes`, or None when it is not installed (imported once).
static ML_DTYPES: PyOnceLock<Option<Py<PyModule>>> = PyOnceLock::new();

/// The numpy dtype of `dtype`'s arrays (object for strings and variants), cached.
pub(crate) fn descr(py: Python<'_>, dtype: DType) -> PyResult<Bound<'_, PyArrayDescr>> {
    match usize::try_from(dtype.tf_code())
        .ok()
        .and_then(|i| DESCRS.get(i))
    {
        Some(cell) => cell
            .get_or_try_init(py, || make_descr(py, dtype).map(Bound::unbind))
            .map(|d| d.bind(py).clone()),
        None => make_descr(py, dtype),
    }
}

fn make_descr(py: Python<'_>, dtype: DType) -> PyResult<Bound<'_, PyArrayDescr>> {
    let Some(name) = dtype.numpy_name() else {
        return Ok(PyArrayDescr::object(py));
    };
    // Plain numpy types are spelled with a byte-order character ("<f4", "|u1"); the others are
    // ml_dtypes names ("bfloat16", "float8_e4m3fn", "int4", ...).
    if name.starts_with(['<', '>', '|', '=']) {
        return PyArrayDescr::new(py, name);
    }
    let ml_dtypes = ML_DTYPES.get_or_init(py, || {
        PyModule::import(py, "ml_dtypes").ok().map(Bound::unbind)
    });
    if let Some(module) = ml_dtypes {
        if let Ok(scalar_type) = module.bind(py).getattr(name) {
            return PyArrayDescr::new(py, scalar_type);
        }
    }
    // No ml_dtypes (or one too old for this type): hand out the raw bits, and say so once per type.
    let size = dtype.item_size().unwrap_or(1);
    let raw = if size == 1 {
        "|u1".to_owned()
    } else {
        format!("<u{size}")
    };
    let message = format!(
        "{name} tensors are returned as raw {raw} bits because ml_dtypes is not installed or \
         has no {name}; `pip install ml_dtypes` to get real {name} arrays"
    );
    let message = CString::new(message).map_err(|e| PyValueError::new_err(e.to_string()))?;
    let category = super::errors::warning_class(py)?;
    PyErr::warn(py, category.as_any(), &message, 1)?;
    PyArrayDescr::new(py, raw.as_str())
}

// -- arrays --------------------------------------------------------------------------------------

fn dims(shape: &[u64]) -> PyResult<Vec<npy_intp>> {
    shape
        .iter()
        .map(|&d| {
            npy_intp::try_from(d)
                .map_err(|_| PyValueError::new_err(format!("dimension {d} is too large")))
        })
        .collect()
}

fn num_elements(shape: &[u64]) -> PyResult<usize> {
    shape
        .iter()
        .try_fold(1usize, |n, &d| {
            usize::try_from(d).ok().and_then(|d| n.checked_mul(d))
        })
        .ok_or_else(|| PyValueError::new_err(format!("shape {shape:?} is too large")))
}

/// A new array from `PyArray_NewFromDescr`: a view of `data` if non-null, else freshly allocated.
///
/// # Safety
/// If `data` is non-null it must point at `product(shape) * descr.itemsize` readable bytes that
/// stay valid and unmodified for as long as the returned array (or its base) lives; the caller
/// must set a base object that keeps them alive before handing the array out.
unsafe fn new_array<'py>(
    py: Python<'py>,
    descr: &Bound<'py, PyArrayDescr>,
    shape: &[u64],
    data: *mut c_void,
    flags: c_int,
) -> PyResult<Bound<'py, PyAny>> {
    let mut dims = dims(shape)?;
    // SAFETY: the API table is initialised by `get_type_object`/the call itself (numpy imported on
    // first use); `into_dtype_ptr` hands over the new reference that NewFromDescr steals; `dims`
    // has `nd` entries and outlives the call; NULL strides mean C order; the caller guarantees
    // `data` as documented above.
    let raw = unsafe {
        let subtype = npyffi::get_type_object(py, NpyTypes::PyArray_Type);
        PY_ARRAY_API.PyArray_NewFromDescr(
            py,
            subtype,
            descr.clone().into_dtype_ptr(),
            dims.len() as c_int,
            dims.as_mut_ptr(),
            ptr::null_mut(),
            data,
            flags,
            ptr::null_mut(),
        )
    };
    // SAFETY: `raw` is a new (owned) reference or NULL with a Python error set.
    unsafe { Bound::from_owned_ptr_or_err(py, raw) }
}

/// A read-only C-order view of `bytes`, with `owner` as its `base`.
///
/// # Safety
/// `bytes` must stay valid and unmodified for as long as `owner` lives (it is owned by `owner`).
unsafe fn view<'py>(
    py: Python<'py>,
    dtype: DType,
    shape: &[u64],
    bytes: &[u8],
    owner: Bound<'py, PyAny>,
) -> PyResult<Bound<'py, PyAny>> {
    let descr = descr(py, dtype)?;
    let want = num_elements(shape)?.checked_mul(descr.itemsize());
    if want != Some(bytes.len()) {
        return Err(PyRuntimeError::new_err(format!(
            "internal error: {} bytes for a {dtype}{shape:?} tensor",
            bytes.len()
        )));
    }
    // Flags without NPY_ARRAY_WRITEABLE: the array is read-only. numpy recomputes ALIGNED itself.
    // SAFETY: `bytes` has exactly the size the shape and dtype need (checked above) and is kept
    // alive by `owner`, which becomes the base right below before anyone else sees the array;
    // numpy never writes through a non-writeable array.
    let array = unsafe {
        new_array(
            py,
            &descr,
            shape,
            bytes.as_ptr() as *mut c_void,
            NPY_ARRAY_C_CONTIGUOUS,
        )?
    };
    // SAFETY: `array` is a fresh ndarray with no base; SetBaseObject steals the owner reference
    // (also on failure, when it returns -1 with an error set).
    let rc = unsafe {
        PY_ARRAY_API.PyArray_SetBaseObject(
            py,
            array.as_ptr().cast::<npyffi::PyArrayObject>(),
            owner.into_ptr(),
        )
    };
    if rc < 0 {
        return Err(PyErr::fetch(py));
    }
    Ok(array)
}

/// A private, writable, aligned copy of `array`.
fn copy_of<'py>(array: &Bound<'py, PyAny>) -> PyResult<Bound<'py, PyAny>> {
    let py = array.py();
    // SAFETY: `array` is an ndarray (we made it); NewCopy returns a new reference or NULL.
    unsafe {
        let raw = PY_ARRAY_API.PyArray_NewCopy(py, array.as_ptr().cast(), NPY_ORDER::NPY_CORDER);
        Bound::from_owned_ptr_or_err(py, raw)
    }
}

/// An object array of `bytes` (DT_STRING / DT_VARIANT elements).
fn object_array<'py>(
    py: Python<'py>,
    shape: &[u64],
    items: &[Vec<u8>],
    writable: bool,
) -> PyResult<Bound<'py, PyAny>> {
    if num_elements(shape)? != items.len() {
        return Err(PyRuntimeError::new_err(format!(
            "internal error: {} strings for shape {shape:?}",
            items.len()
        )));
    }
    let descr = PyArrayDescr::object(py);
    // SAFETY: NULL data: numpy allocates (and, for object dtype, zero-fills) the elements.
    let array = unsafe { new_array(py, &descr, shape, ptr::null_mut(), 0)? };
    // SAFETY: the array is ours alone; its data is a C-contiguous, pointer-aligned buffer of
    // `items.len()` PyObject* slots (NULL or owned references), each replaced by an owned
    // reference to a new bytes object, releasing whatever was there.
    unsafe {
        let fields = npyffi::_PyArray_GET_ITEM_DATA(array.as_ptr().cast());
        let slots = (*fields).data.cast::<*mut pyo3::ffi::PyObject>();
        for (i, item) in items.iter().enumerate() {
            let slot = slots.add(i);
            let old = slot.read();
            slot.write(PyBytes::new(py, item).into_ptr());
            pyo3::ffi::Py_XDECREF(old);
        }
        if !writable {
            (*fields).flags &= !NPY_ARRAY_WRITEABLE;
        }
    }
    Ok(array)
}

/// Converts a read tensor.
///
/// `owner_for` gives the shared `MappedBuffer` of a map (so every array of a shard has the same
/// base). `copy`: return a private writable copy instead of a read-only view.
pub(crate) fn tensor_to_array<'py>(
    py: Python<'py>,
    tensor: Tensor,
    copy: bool,
    owner_for: &dyn Fn(&Arc<Mmap>) -> PyResult<Bound<'py, MappedBuffer>>,
) -> PyResult<Bound<'py, PyAny>> {
    let Tensor { dtype, shape, data } = tensor;
    match data {
        TensorData::Mapped { map, offset, len } => {
            let bytes = offset
                .checked_add(len)
                .and_then(|end| map.get(offset..end))
                .ok_or_else(|| {
                    PyRuntimeError::new_err("internal error: tensor range outside its map")
                })?;
            let owner = owner_for(&map)?;
            // SAFETY: `bytes` lies in `map`, which `owner` keeps mapped (read-only) while it lives.
            let array = unsafe { view(py, dtype, &shape, bytes, owner.into_any())? };
            if copy {
                copy_of(&array)
            } else {
                Ok(array)
            }
        }
        TensorData::Owned(vec) => {
            let owner = Bound::new(
                py,
                OwnedBuffer {
                    data: vec.into_boxed_slice(),
                },
            )?;
            let bytes: &[u8] = &owner.get().data;
            // SAFETY: the boxed bytes belong to the frozen `owner`, which never changes or frees
            // them while it lives and becomes the array's base.
            let array = unsafe { view(py, dtype, &shape, bytes, owner.clone().into_any())? };
            if copy {
                copy_of(&array)
            } else {
                Ok(array)
            }
        }
        TensorData::Strings(items) | TensorData::Variants(items) => {
            object_array(py, &shape, &items, copy)
        }
    }
}

/// The raw bytes of a C-contiguous numpy array, without copying (for the writers).
///
/// # Safety
/// The returned slice borrows the array's buffer for `'a`, which the compiler cannot tie to the
/// Python object: the caller must keep `array` alive (and unresized) for as long as it uses the
/// slice.
pub(crate) unsafe fn contiguous_bytes<'a>(
    array: &Bound<'_, numpy::PyUntypedArray>,
    what: &str,
) -> PyResult<&'a [u8]> {
    use numpy::PyUntypedArrayMethods;
    if !array.is_c_contiguous() {
        return Err(PyValueError::new_err(format!(
            "{what}: array is not C-contiguous (use np.ascontiguousarray)"
        )));
    }
    let nbytes = array
        .shape()
        .iter()
        .try_fold(array.dtype().itemsize(), |n, &d| n.checked_mul(d))
        .ok_or_else(|| PyValueError::new_err(format!("{what}: array too large")))?;
    if nbytes == 0 {
        return Ok(&[]);
    }
    // SAFETY: a C-contiguous array's data pointer addresses `size * itemsize` bytes; the caller
    // keeps the array alive for `'a`. Only bytes (u8, no alignment needs) are read. As with every
    // GIL-releasing numpy consumer, another thread mutating the array during a write would see
    // its own bytes written.
    unsafe {
        let fields = npyffi::_PyArray_GET_ITEM_DATA(array.as_array_ptr());
        Ok(std::slice::from_raw_parts(
            (*fields).data as *const u8,
            nbytes,
        ))
    }
}
