//! `CheckpointReader` and the checkpoint module functions: thin wrappers over `bundle` and
//! `object_graph`. The GIL is released around every read, CRC check, decode and write; it is held
//! only to convert arguments and to build the resulting Python objects.

use std::collections::HashMap;
use std::ffi::OsString;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use memmap2::Mmap;
use numpy::{PyArrayDescr, PyArrayDescrMethods, PyUntypedArray, PyUntypedArrayMethods};
use prost::Message;
use pyo3::exceptions::{PyTypeError, PyValueError};
use pyo3::prelude::*;
use pyo3::types::{PyBytes, PyDict, PyList, PyModule, PyString, PyTuple};

use super::array::{self, MappedBuffer};
use crate::bundle::reader::BundleReader;
use crate::bundle::writer::{write_bundle, WriteOptions};
use crate::bundle::{naming, state};
use crate::dtype::DType;
use crate::error::Error;
use crate::object_graph::{self, ObjectGraphView};
use crate::proto::tensorflow::TrackableObjectGraph;
use crate::tensor::{Payload, Tensor, TensorRef};

/// A key argument: `str` (UTF-8 encoded) or `bytes`.
fn key_arg(key: &Bound<'_, PyAny>) -> PyResult<Vec<u8>> {
    if let Ok(s) = key.cast::<PyString>() {
        Ok(s.to_str()?.as_bytes().to_vec())
    } else if let Ok(b) = key.cast::<PyBytes>() {
        Ok(b.as_bytes().to_vec())
    } else {
        Err(PyTypeError::new_err(format!(
            "checkpoint keys are str or bytes, not {}",
            key.get_type().name()?
        )))
    }
}

/// A key as Python sees it: `str` when it is UTF-8 (every normal key), else `bytes`.
fn key_to_py<'py>(py: Python<'py>, key: &[u8]) -> PyResult<Bound<'py, PyAny>> {
    match std::str::from_utf8(key) {
        Ok(s) => Ok(PyString::new(py, s).into_any()),
        Err(_) => Ok(PyBytes::new(py, key).into_any()),
    }
}

fn path_str(path: &Path) -> OsString {
    path.as_os_str().to_os_string()
}

/// A TF tensor bundle (checkpoint V2) opened for reading.
///
/// The index is read and validated when the reader is created; data shards are memory-mapped on
/// first use. Arrays returned by `get` view the maps (read-only, zero-copy) where the bytes allow
/// and keep them alive on their own.
///
/// Args:
///     path: A prefix (`ckpt-3`), its `.index` or `.data-*` file, or a directory with a
///         `checkpoint` state file.
#[pyclass(frozen, module = "kerasave._core", name = "CheckpointReader")]
pub struct PyCheckpointReader {
    inner: Arc<BundleReader>,
    /// One `MappedBuffer` per shard map (keyed by the map's address, which the `Arc` held by the
    /// buffer keeps unique), so every array of a shard shares one base.
    owners: Mutex<HashMap<usize, Py<MappedBuffer>>>,
}

impl PyCheckpointReader {
    fn owner_for<'py>(
        &self,
        py: Python<'py>,
        map: &Arc<Mmap>,
        shard_id: u32,
    ) -> PyResult<Bound<'py, MappedBuffer>> {
        let id = Arc::as_ptr(map) as usize;
        if let Some(owner) = self.lock_owners().get(&id) {
            return Ok(owner.bind(py).clone());
        }
        // Created outside the lock: allocating may run arbitrary Python code (GC).
        let path = naming::data_path(self.inner.prefix(), shard_id, self.inner.num_shards());
        let created = Bound::new(
            py,
            MappedBuffer::new(Arc::clone(map), path.to_string_lossy().into_owned()),
        )?;
        let mut owners = self.lock_owners();
        let owner = owners.entry(id).or_insert_with(|| created.clone().unbind());
        Ok(owner.bind(py).clone())
    }

    fn lock_owners(&self) -> std::sync::MutexGuard<'_, HashMap<usize, Py<MappedBuffer>>> {
        // A poisoned map cache is still a valid cache.
        self.owners.lock().unwrap_or_else(|e| e.into_inner())
    }

    fn shard_of(&self, key: &[u8]) -> u32 {
        self.inner.entry(key).map(|e| e.shard_id).unwrap_or(0)
    }

    fn to_array<'py>(
        &self,
        py: Python<'py>,
        key: &[u8],
        tensor: Tensor,
        copy: bool,
    ) -> PyResult<Bound<'py, PyAny>> {
        let owner_for = |map: &Arc<Mmap>| self.owner_for(py, map, self.shard_of(key));
        array::tensor_to_array(py, tensor, copy, &owner_for)
    }
}

#[pymethods]
impl PyCheckpointReader {
    #[new]
    fn new(py: Python<'_>, path: PathBuf) -> PyResult<Self> {
        let reader = py.detach(|| {
            let prefix = state::resolve_prefix(&path)?;
            BundleReader::open(&prefix)
        })?;
        Ok(PyCheckpointReader {
            inner: Arc::new(reader),
            owners: Mutex::new(HashMap::new()),
        })
    }

    /// The checkpoint prefix (`P` of `P.index`).
    #[getter]
    fn prefix(&self) -> OsString {
        path_str(self.inner.prefix())
    }

    /// Number of `.data-*` shards.
    #[getter]
    fn num_shards(&self) -> u32 {
        self.inner.num_shards()
    }

    /// Whether the header marks the data as big-endian (values are converted on read).
    #[getter]
    fn big_endian(&self) -> bool {
        self.inner.is_big_endian()
    }

    /// `(producer, min_consumer, bad_consumers)` of the bundle header, or None if unknown.
    fn version(&self) -> Option<(i32, i32, Vec<i32>)> {
        None
    }

    /// Every tensor key, sorted bytewise: `str`, or `bytes` for keys that are not UTF-8.
    fn keys<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyList>> {
        let keys = self.inner.keys();
        let items = keys
            .iter()
            .map(|k| key_to_py(py, k))
            .collect::<PyResult<Vec<_>>>()?;
        PyList::new(py, items)
    }

    fn __len__(&self) -> usize {
        self.inner.keys().len()
    }

    fn __contains__(&self, key: &Bound<'_, PyAny>) -> bool {
        key_arg(key)
            .map(|k| self.inner.entry(&k).is_ok())
            .unwrap_or(false)
    }

    /// Whether `key` names a tensor.
    fn has_key(&self, key: &Bound<'_, PyAny>) -> PyResult<bool> {
        Ok(self.inner.entry(&key_arg(key)?).is_ok())
    }

    /// The dtype name ("float32", "bfloat16", "string", ...).
    fn dtype_name(&self, key: &Bound<'_, PyAny>) -> PyResult<&'static str> {
        Ok(self.inner.entry(&key_arg(key)?)?.dtype.name())
    }

    /// The numpy dtype of the array `get` returns (object for strings).
    fn dtype<'py>(
        &self,
        py: Python<'py>,
        key: &Bound<'py, PyAny>,
    ) -> PyResult<Bound<'py, PyArrayDescr>> {
        let dtype = self.inner.entry(&key_arg(key)?)?.dtype;
        array::descr(py, dtype)
    }

    /// The shape as a tuple of ints (`()` for a scalar).
    fn shape<'py>(
        &self,
        py: Python<'py>,
        key: &Bound<'py, PyAny>,
    ) -> PyResult<Bound<'py, PyTuple>> {
        PyTuple::new(py, &self.inner.entry(&key_arg(key)?)?.shape)
    }

    /// Bytes of the tensor: elements x item size for fixed-size types, the stored payload size for
    /// strings and variants.
    fn nbytes(&self, key: &Bound<'_, PyAny>) -> PyResult<u64> {
        let entry = self.inner.entry(&key_arg(key)?)?;
        Ok(match entry.dtype.item_size() {
            Some(item) => entry.num_elements().saturating_mul(item as u64),
            None => entry.size,
        })
    }

    /// `(shard_id, offset, size, masked_crc32c)` as the index stores them (meaningless for a
    /// partitioned tensor). Sorting keys by it gives the order the data was written in.
    fn location(&self, key: &Bound<'_, PyAny>) -> PyResult<(u32, u64, u64, u32)> {
        let entry = self.inner.entry(&key_arg(key)?)?;
        Ok((entry.shard_id, entry.offset, entry.size, entry.crc32c))
    }

    /// Whether the tensor is partitioned (assembled from slices on read, so never zero-copy).
    fn is_partitioned(&self, key: &Bound<'_, PyAny>) -> PyResult<bool> {
        Ok(self.inner.entry(&key_arg(key)?)?.is_partitioned())
    }

    /// Reads one tensor.
    ///
    /// Args:
    ///     key: The checkpoint key (str or bytes).
    ///     verify: Check the CRC32C the first time this key is read.
    ///     copy: Return a private writable copy instead of a read-only view.
    #[pyo3(signature = (key, verify = true, copy = false))]
    fn get<'py>(
        &self,
        py: Python<'py>,
        key: &Bound<'py, PyAny>,
        verify: bool,
        copy: bool,
    ) -> PyResult<Bound<'py, PyAny>> {
        let key = key_arg(key)?;
        let reader = &self.inner;
        let tensor = py.detach(|| reader.read(&key, verify))?;
        self.to_array(py, &key, tensor, copy)
    }

    /// Reads several tensors in one call (in parallel), in the order of `keys`.
    #[pyo3(signature = (keys, verify = true, copy = false))]
    fn get_many<'py>(
        &self,
        py: Python<'py>,
        keys: &Bound<'py, PyAny>,
        verify: bool,
        copy: bool,
    ) -> PyResult<Bound<'py, PyList>> {
        let keys: Vec<Vec<u8>> = keys
            .try_iter()?
            .map(|k| key_arg(&k?))
            .collect::<PyResult<_>>()?;
        let refs: Vec<&[u8]> = keys.iter().map(Vec::as_slice).collect();
        let reader = &self.inner;
        let tensors = py.detach(|| reader.read_many(&refs, verify))?;
        let arrays = keys
            .iter()
            .zip(tensors)
            .map(|(key, tensor)| self.to_array(py, key, tensor, copy))
            .collect::<PyResult<Vec<_>>>()?;
        PyList::new(py, arrays)
    }

    /// Checks every checksum and structural rule; raises CorruptFileError on the first problem.
    fn verify_all(&self, py: Python<'_>) -> PyResult<()> {
        let reader = &self.inner;
        py.detach(|| reader.verify_all())?;
        Ok(())
    }

    /// The decoded `_CHECKPOINTABLE_OBJECT_GRAPH` as a dict (see `describe_object_graph`), or
    /// None when the checkpoint has none.
    fn object_graph<'py>(&self, py: Python<'py>) -> PyResult<Option<Bound<'py, PyDict>>> {
        let reader = &self.inner;
        let view = py.detach(|| -> Result<Option<ObjectGraphView>, Error> {
            reader.object_graph()?.map(ObjectGraphView::new).transpose()
        })?;
        view.map(|v| describe_view(py, &v)).transpose()
    }

    fn __repr__(&self) -> String {
        format!(
            "<CheckpointReader {:?} ({} tensors)>",
            self.inner.prefix(),
            self.inner.keys().len()
        )
    }
}

/// `{"nodes": [{"id", "path", "object_path", "children", "attributes", "slot_variables",
/// "registered_saver"}]}`.
fn describe_view<'py>(py: Python<'py>, view: &ObjectGraphView) -> PyResult<Bound<'py, PyDict>> {
    let nodes = PyList::empty(py);
    for (id, node) in view.graph().nodes.iter().enumerate() {
        let d = PyDict::new(py);
        d.set_item("id", id)?;
        // `path` is the BFS path of local names; slot variables have none (no edge reaches them)
        // but do have the `object_path` TF builds their keys from.
        let path = if view.slot_info(id).is_some() {
            None
        } else {
            view.node_path(id)
        };
        d.set_item("path", path.map(|p| p.to_vec()))?;
        d.set_item("object_path", view.object_path(id))?;
        let children: Vec<(&str, i32)> = node
            .children
            .iter()
            .map(|c| (c.local_name.as_str(), c.node_id))
            .collect();
        d.set_item("children", children)?;
        let attributes: Vec<(&str, &str, &str)> = node
            .attributes
            .iter()
            .map(|a| {
                (
                    a.name.as_str(),
                    a.full_name.as_str(),
                    a.checkpoint_key.as_str(),
                )
            })
            .collect();
        d.set_item("attributes", attributes)?;
        let slots: Vec<(i32, &str, i32)> = node
            .slot_variables
            .iter()
            .map(|s| {
                (
                    s.original_variable_node_id,
                    s.slot_name.as_str(),
                    s.slot_variable_node_id,
                )
            })
            .collect();
        d.set_item("slot_variables", slots)?;
        let saver = node
            .registered_saver
            .as_ref()
            .map(|r| (r.name.as_str(), r.object_name.as_str()));
        d.set_item("registered_saver", saver)?;
        nodes.append(d)?;
    }
    let out = PyDict::new(py);
    out.set_item("nodes", nodes)?;
    Ok(out)
}

/// Decodes a serialized `TrackableObjectGraph` into the dict `CheckpointReader.object_graph`
/// returns.
#[pyfunction]
fn describe_object_graph<'py>(py: Python<'py>, serialized: &[u8]) -> PyResult<Bound<'py, PyDict>> {
    let view = py.detach(|| -> Result<ObjectGraphView, Error> {
        let graph = TrackableObjectGraph::decode(serialized)?;
        ObjectGraphView::new(graph)
    })?;
    describe_view(py, &view)
}

/// The DType of a numpy array about to be written, refusing what a bundle cannot hold.
fn array_dtype(key: &[u8], descr: &Bound<'_, PyArrayDescr>) -> PyResult<DType> {
    let name: String = descr.getattr("name")?.extract()?;
    let dtype = DType::from_name(&name)
        .filter(|d| d.is_fixed_size())
        .ok_or_else(|| {
            PyTypeError::new_err(format!(
                "{}: numpy dtype {name} cannot be stored in a TF checkpoint",
                crate::error::display_key(key)
            ))
        })?;
    if descr.byteorder() == b'>' || descr.itemsize() != dtype.item_size().unwrap_or(0) {
        return Err(PyValueError::new_err(format!(
            "{}: pass little-endian {name} data (got byte order {:?}, item size {})",
            crate::error::display_key(key),
            descr.byteorder() as char,
            descr.itemsize()
        )));
    }
    Ok(dtype)
}

/// What one tensor to be written borrows from Python.
enum Held<'py> {
    Raw(&'py [u8]),
    Strings(Vec<Bound<'py, PyBytes>>),
}

/// Writes a checkpoint (data shards first, the index last, each atomically).
///
/// Args:
///     prefix: The prefix `P` (its directory must exist).
///     keys: Keys, in data order (str or bytes).
///     arrays: One numpy array per key: C-contiguous little-endian fixed-size elements, or an
///         object array of `bytes` for DT_STRING.
///     max_shard_size: Pack whole tensors into shards of at most this many bytes.
///     fsync: Sync each file to disk before renaming it into place (durable on power loss).
///
/// Returns:
///     The number of data shards written.
#[pyfunction]
#[pyo3(signature = (prefix, keys, arrays, max_shard_size = None, fsync = true))]
fn save_checkpoint<'py>(
    py: Python<'py>,
    prefix: PathBuf,
    keys: Vec<Bound<'py, PyAny>>,
    arrays: Vec<Bound<'py, PyAny>>,
    max_shard_size: Option<u64>,
    fsync: bool,
) -> PyResult<u32> {
    if keys.len() != arrays.len() {
        return Err(PyValueError::new_err(format!(
            "{} keys but {} arrays",
            keys.len(),
            arrays.len()
        )));
    }
    let keys: Vec<Vec<u8>> = keys.iter().map(key_arg).collect::<PyResult<_>>()?;
    let mut dtypes = Vec::with_capacity(arrays.len());
    let mut shapes: Vec<Vec<u64>> = Vec::with_capacity(arrays.len());
    let mut held: Vec<Held<'_>> = Vec::with_capacity(arrays.len());
    for (key, obj) in keys.iter().zip(&arrays) {
        let array = obj.cast::<PyUntypedArray>().map_err(|_| {
            PyTypeError::new_err(format!(
                "{}: expected a numpy array",
                crate::error::display_key(key)
            ))
        })?;
        shapes.push(array.shape().iter().map(|&d| d as u64).collect());
        let descr = array.dtype();
        if descr.is_equiv_to(&PyArrayDescr::object(py)) {
            let mut items = Vec::with_capacity(array.len());
            for item in array.call_method0("ravel")?.try_iter()? {
                let item = item?;
                let bytes = item.cast_into::<PyBytes>().map_err(|e| {
                    PyTypeError::new_err(format!(
                        "{}: an object array must hold bytes (DT_STRING), found {}",
                        crate::error::display_key(key),
                        e.into_inner()
                            .get_type()
                            .name()
                            .map(|n| n.to_string())
                            .unwrap_or_default()
                    ))
                })?;
                items.push(bytes);
            }
            dtypes.push(DType::String);
            held.push(Held::Strings(items));
        } else {
            let dtype = array_dtype(key, &descr)?;
            // SAFETY: every array is an item of `arrays`, which outlives every use of `bytes`.
            let bytes: &[u8] =
                unsafe { super::array::contiguous_bytes(array, &crate::error::display_key(key))? };
            dtypes.push(dtype);
            held.push(Held::Raw(bytes));
        }
    }
    let strings: Vec<Option<Vec<&[u8]>>> = held
        .iter()
        .map(|h| match h {
            Held::Strings(items) => Some(items.iter().map(|b| b.as_bytes()).collect()),
            Held::Raw(_) => None,
        })
        .collect();
    let tensors: Vec<TensorRef<'_>> = (0..keys.len())
        .map(|i| TensorRef {
            key: &keys[i],
            dtype: dtypes[i],
            shape: &shapes[i],
            payload: match (&held[i], &strings[i]) {
                (Held::Raw(bytes), _) => Payload::Raw(bytes),
                (Held::Strings(_), Some(items)) => Payload::Strings(items),
                (Held::Strings(_), None) => unreachable!("strings collected above"),
            },
        })
        .collect();
    let options = WriteOptions {
        max_shard_size,
        skip_fsync: !fsync,
    };
    let shards = py.detach(|| write_bundle(&prefix, &tensors, &options))?;
    Ok(shards)
}

/// Serializes a `TrackableObjectGraph` whose BFS reproduces `keys` (object-path keys with
/// `/.ATTRIBUTES/`; `.OPTIMIZER_SLOT` keys become slot variables).
#[pyfunction]
fn build_object_graph<'py>(py: Python<'py>, keys: Vec<String>) -> PyResult<Bound<'py, PyBytes>> {
    let encoded = py.detach(|| -> Result<Vec<u8>, Error> {
        let refs: Vec<&str> = keys.iter().map(String::as_str).collect();
        Ok(object_graph::build_object_graph(&refs)?.encode_to_vec())
    })?;
    Ok(PyBytes::new(py, &encoded))
}

/// The latest checkpoint prefix recorded in `directory/checkpoint`, or None
/// (`tf.train.latest_checkpoint`).
#[pyfunction]
fn latest_checkpoint(py: Python<'_>, directory: PathBuf) -> PyResult<Option<OsString>> {
    let found = py.detach(|| state::latest_checkpoint(&directory))?;
    Ok(found.map(PathBuf::into_os_string))
}

/// The `directory/checkpoint` state as a dict (paths as stored), or None when the file is
/// missing or does not parse (`tf.train.get_checkpoint_state`).
#[pyfunction]
fn read_checkpoint_state<'py>(
    py: Python<'py>,
    directory: PathBuf,
) -> PyResult<Option<Bound<'py, PyDict>>> {
    let Some(found) = py.detach(|| state::read_state(&directory))? else {
        return Ok(None);
    };
    let out = PyDict::new(py);
    out.set_item("model_checkpoint_path", found.model_checkpoint_path)?;
    out.set_item(
        "all_model_checkpoint_paths",
        found.all_model_checkpoint_paths,
    )?;
    out.set_item(
        "all_model_checkpoint_timestamps",
        found.all_model_checkpoint_timestamps,
    )?;
    out.set_item("last_preserved_timestamp", found.last_preserved_timestamp)?;
    Ok(Some(out))
}

/// Writes `directory/checkpoint` atomically, in TF's text format.
#[pyfunction]
#[pyo3(signature = (directory, model_checkpoint_path, all_model_checkpoint_paths, all_model_checkpoint_timestamps, last_preserved_timestamp))]
fn write_checkpoint_state(
    py: Python<'_>,
    directory: PathBuf,
    model_checkpoint_path: String,
    all_model_checkpoint_paths: Vec<String>,
    all_model_checkpoint_timestamps: Vec<f64>,
    last_preserved_timestamp: f64,
) -> PyResult<()> {
    let new_state = state::CheckpointState {
        model_checkpoint_path,
        all_model_checkpoint_paths,
        all_model_checkpoint_timestamps,
        last_preserved_timestamp,
    };
    py.detach(|| state::write_state(&directory, &new_state))?;
    Ok(())
}

/// A directory (via its `checkpoint` file), `P`, `P.index` or `P.data-...` -> the prefix `P`.
#[pyfunction]
fn resolve_prefix(py: Python<'_>, path: PathBuf) -> PyResult<OsString> {
    let prefix = py.detach(|| state::resolve_prefix(&path))?;
    Ok(prefix.into_os_string())
}

/// TF's local-name escaping: "." -> "..", "/" -> ".S".
#[pyfunction]
fn escape_local_name(name: &str) -> String {
    object_graph::escape_local_name(name)
}

/// Inverse of `escape_local_name`; a malformed escape (a lone ".") raises CorruptFileError.
#[pyfunction]
fn unescape_local_name(escaped: &str) -> PyResult<String> {
    Ok(object_graph::unescape_local_name(escaped)?)
}

/// `f"{object_path}/.ATTRIBUTES/{escape(attribute)}"` (TF's checkpoint key of an attribute).
#[pyfunction]
fn checkpoint_key(object_path: &str, attribute: &str) -> String {
    object_graph::checkpoint_key(object_path, attribute)
}

pub(crate) fn register(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add_class::<PyCheckpointReader>()?;
    m.add_function(wrap_pyfunction!(save_checkpoint, m)?)?;
    m.add_function(wrap_pyfunction!(build_object_graph, m)?)?;
    m.add_function(wrap_pyfunction!(describe_object_graph, m)?)?;
    m.add_function(wrap_pyfunction!(latest_checkpoint, m)?)?;
    m.add_function(wrap_pyfunction!(resolve_prefix, m)?)?;
    m.add_function(wrap_pyfunction!(read_checkpoint_state, m)?)?;
    m.add_function(wrap_pyfunction!(write_checkpoint_state, m)?)?;
    m.add_function(wrap_pyfunction!(escape_local_name, m)?)?;
    m.add_function(wrap_pyfunction!(unescape_local_name, m)?)?;
    m.add_function(wrap_pyfunction!(checkpoint_key, m)?)?;
    Ok(())
}
