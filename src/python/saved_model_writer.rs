//! Bindings for writing SavedModel directories: `encode_saved_model`, `encode_keras_metadata`.
//!
//! Python builds the object graph (`kerasave.saving.saved_model`); these functions only convert
//! the spec dicts into [`crate::saved_model::writer`] types and hand back bytes.

use pyo3::exceptions::PyValueError;
use pyo3::prelude::*;
use pyo3::types::{PyBytes, PyDict, PyList};

use crate::dtype::DType;
use crate::saved_model::writer::{
    self, MetadataSpec, NodeKind, NodeSpec, SavedModelSpec, VariableSpec,
};

fn item<'py>(d: &Bound<'py, PyDict>, key: &str, at: &str) -> PyResult<Bound<'py, PyAny>> {
    d.get_item(key)?
        .ok_or_else(|| PyValueError::new_err(format!("{at}: missing field {key:?}")))
}

/// The field, or `None` when it is missing or `None`.
fn opt_item<'py>(d: &Bound<'py, PyDict>, key: &str) -> PyResult<Option<Bound<'py, PyAny>>> {
    Ok(d.get_item(key)?.filter(|v| !v.is_none()))
}

fn node_spec(d: &Bound<'_, PyDict>, index: usize) -> PyResult<NodeSpec> {
    let at = format!("node {index}");
    let kind: String = item(d, "kind", &at)?.extract()?;
    let kind = match kind.as_str() {
        "user_object" => {
            let (producer, min_consumer): (i32, i32) = match opt_item(d, "version")? {
                Some(v) => v.extract()?,
                None => (1, 1),
            };
            NodeKind::UserObject {
                identifier: item(d, "identifier", &at)?.extract()?,
                producer,
                min_consumer,
            }
        }
        "variable" => {
            let dtype: String = item(d, "dtype", &at)?.extract()?;
            let dtype = DType::from_name(&dtype)
                .ok_or_else(|| PyValueError::new_err(format!("{at}: unknown dtype {dtype:?}")))?;
            NodeKind::Variable(VariableSpec {
                name: item(d, "name", &at)?.extract()?,
                dtype,
                shape: item(d, "shape", &at)?.extract()?,
                trainable: opt_item(d, "trainable")?
                    .map(|v| v.extract())
                    .transpose()?
                    .unwrap_or(true),
                synchronization: opt_item(d, "synchronization")?
                    .map(|v| v.extract())
                    .transpose()?
                    .unwrap_or(0),
                aggregation: opt_item(d, "aggregation")?
                    .map(|v| v.extract())
                    .transpose()?
                    .unwrap_or(0),
            })
        }
        other => {
            return Err(PyValueError::new_err(format!(
                "{at}: kind {other:?} is not 'user_object' or 'variable'"
            )))
        }
    };
    Ok(NodeSpec {
        kind,
        children: opt_item(d, "children")?
            .map(|v| v.extract())
            .transpose()?
            .unwrap_or_default(),
        slot_variables: opt_item(d, "slot_variables")?
            .map(|v| v.extract())
            .transpose()?
            .unwrap_or_default(),
        registered_name: opt_item(d, "registered_name")?
            .map(|v| v.extract())
            .transpose()?
            .unwrap_or_default(),
    })
}

/// Encodes a function-free SavedModel.
///
/// Args:
///     spec: `{"tags": [...], "tensorflow_version": str, "tensorflow_git_version": str,
///         "nodes": [node, ...]}`; node 0 is the root. A node is
///         `{"kind": "user_object", "identifier": str, "version": (producer, min_consumer),
///         "children": [(local_name, id)], "slot_variables": [(orig, slot_name, slot)],
///         "registered_name": str}` or `{"kind": "variable", "name", "dtype", "shape",
///         "trainable", "synchronization", "aggregation"}`.
///
/// Returns:
///     `(saved_model_pb: bytes, object_graph: bytes, checkpoint_keys: {node_id: key})`: the
///     `saved_model.pb` bytes, the `_CHECKPOINTABLE_OBJECT_GRAPH` for `variables/` (same nodes)
///     and the bundle key of every variable node.
///
/// Raises:
///     ValueError: A malformed spec (ids out of range, unreachable variables, ...).
#[pyfunction]
fn encode_saved_model<'py>(
    py: Python<'py>,
    spec: &Bound<'py, PyDict>,
) -> PyResult<(Bound<'py, PyBytes>, Bound<'py, PyBytes>, Bound<'py, PyDict>)> {
    let at = "SavedModel spec";
    let nodes = item(spec, "nodes", at)?.cast_into::<PyList>()?;
    let mut specs = Vec::with_capacity(nodes.len());
    for (i, node) in nodes.iter().enumerate() {
        let node = node
            .cast_into::<PyDict>()
            .map_err(|_| PyValueError::new_err(format!("node {i} is not a dict")))?;
        specs.push(node_spec(&node, i)?);
    }
    let spec = SavedModelSpec {
        tags: opt_item(spec, "tags")?
            .map(|v| v.extract())
            .transpose()?
            .unwrap_or_else(|| vec!["serve".to_string()]),
        tensorflow_version: opt_item(spec, "tensorflow_version")?
            .map(|v| v.extract())
            .transpose()?
            .unwrap_or_default(),
        tensorflow_git_version: opt_item(spec, "tensorflow_git_version")?
            .map(|v| v.extract())
            .transpose()?
            .unwrap_or_default(),
        nodes: specs,
    };
    let enc = py.detach(|| writer::encode_saved_model(&spec))?;
    let keys = PyDict::new(py);
    for (node, key) in &enc.checkpoint_keys {
        keys.set_item(node, key)?;
    }
    Ok((
        PyBytes::new(py, &enc.saved_model),
        PyBytes::new(py, &enc.object_graph),
        keys,
    ))
}

/// Encodes `keras_metadata.pb`.
///
/// Args:
///     nodes: `[(node_id, node_path, identifier, metadata_json), ...]`.
///
/// Returns:
///     The serialized `SavedMetadata` (each node with version `{producer: 2, min_consumer: 1}`).
#[pyfunction]
fn encode_keras_metadata<'py>(
    py: Python<'py>,
    nodes: Vec<(i32, String, String, String)>,
) -> PyResult<Bound<'py, PyBytes>> {
    let specs: Vec<MetadataSpec> = nodes
        .into_iter()
        .map(|(node_id, node_path, identifier, metadata)| MetadataSpec {
            node_id,
            node_path,
            identifier,
            metadata,
        })
        .collect();
    let bytes = py.detach(|| writer::encode_keras_metadata(&specs))?;
    Ok(PyBytes::new(py, &bytes))
}

/// Encodes `fingerprint.pb` for a SavedModel whose `variables/variables.index` holds
/// `index_bytes`: `checkpoint_hash` = FarmHash Fingerprint64 of those bytes (as TF computes it),
/// `uuid`, `version {producer: 4}`; the graph hashes stay 0 (kerasave writes no graph).
#[pyfunction]
fn encode_fingerprint<'py>(py: Python<'py>, index_bytes: &[u8], uuid: &str) -> Bound<'py, PyBytes> {
    PyBytes::new(py, &writer::encode_fingerprint(index_bytes, uuid))
}

/// FarmHash `Fingerprint64` (TF's `tf.fingerprint(..., "farmhash64")` per string).
#[pyfunction]
fn fingerprint64(data: &[u8]) -> u64 {
    writer::fingerprint64(data)
}

pub(crate) fn register(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add_function(wrap_pyfunction!(encode_saved_model, m)?)?;
    m.add_function(wrap_pyfunction!(encode_keras_metadata, m)?)?;
    m.add_function(wrap_pyfunction!(encode_fingerprint, m)?)?;
    m.add_function(wrap_pyfunction!(fingerprint64, m)?)?;
    Ok(())
}
