//! Bindings for SavedModel directories: `read_saved_model` turns the pure-Rust
//! [`SavedModelInfo`](crate::saved_model::SavedModelInfo) into plain dicts (the shape is
//! documented on the function and in `_core.pyi`).

use std::path::PathBuf;

use pyo3::prelude::*;
use pyo3::types::{PyDict, PyList};

use crate::saved_model::reader::{self, SavedModelInfo, TensorSpec};

fn shape_obj<'py>(py: Python<'py>, shape: &Option<Vec<i64>>) -> PyResult<Bound<'py, PyAny>> {
    match shape {
        None => Ok(py.None().into_bound(py)),
        Some(dims) => Ok(PyList::new(py, dims)?.into_any()),
    }
}

fn specs<'py>(
    py: Python<'py>,
    specs: &std::collections::BTreeMap<String, TensorSpec>,
) -> PyResult<Bound<'py, PyDict>> {
    let d = PyDict::new(py);
    for (k, s) in specs {
        let e = PyDict::new(py);
        e.set_item("name", &s.name)?;
        e.set_item("dtype", &s.dtype)?;
        e.set_item("shape", shape_obj(py, &s.shape)?)?;
        d.set_item(k, e)?;
    }
    Ok(d)
}

fn to_dict<'py>(py: Python<'py>, info: &SavedModelInfo) -> PyResult<Bound<'py, PyDict>> {
    let d = PyDict::new(py);
    d.set_item("schema_version", info.schema_version)?;
    d.set_item("tags", PyList::new(py, &info.tags)?)?;
    d.set_item("tensorflow_version", &info.tensorflow_version)?;
    d.set_item("tensorflow_git_version", &info.tensorflow_git_version)?;
    let sigs = PyDict::new(py);
    for (name, s) in &info.signatures {
        let e = PyDict::new(py);
        e.set_item("method_name", &s.method_name)?;
        e.set_item("inputs", specs(py, &s.inputs)?)?;
        e.set_item("outputs", specs(py, &s.outputs)?)?;
        sigs.set_item(name, e)?;
    }
    d.set_item("signatures", sigs)?;
    let nodes = PyList::empty(py);
    for n in &info.nodes {
        let e = PyDict::new(py);
        e.set_item("id", n.id)?;
        e.set_item("kind", n.kind.as_str())?;
        let children = PyList::empty(py);
        for (name, id) in &n.children {
            children.append((name.as_str(), *id).into_pyobject(py)?)?;
        }
        e.set_item("children", children)?;
        let slots = PyList::empty(py);
        for (orig, name, slot) in &n.slot_variables {
            slots.append((*orig, name.as_str(), *slot).into_pyobject(py)?)?;
        }
        e.set_item("slot_variables", slots)?;
        e.set_item("identifier", &n.identifier)?;
        e.set_item("registered_name", &n.registered_name)?;
        match &n.variable {
            None => e.set_item("variable", py.None())?,
            Some(v) => {
                let vd = PyDict::new(py);
                vd.set_item("name", &v.name)?;
                vd.set_item("dtype", &v.dtype)?;
                vd.set_item("shape", shape_obj(py, &v.shape)?)?;
                vd.set_item("trainable", v.trainable)?;
                vd.set_item("synchronization", v.synchronization)?;
                vd.set_item("aggregation", v.aggregation)?;
                e.set_item("variable", vd)?;
            }
        }
        e.set_item("checkpoint_key", &n.checkpoint_key)?;
        nodes.append(e)?;
    }
    d.set_item("nodes", nodes)?;
    d.set_item("function_library", PyList::new(py, &info.function_library)?)?;
    d.set_item("ops", PyList::new(py, &info.ops)?)?;
    d.set_item(
        "concrete_functions",
        PyList::new(py, &info.concrete_functions)?,
    )?;
    d.set_item("asset_files", PyList::new(py, &info.asset_files)?)?;
    match &info.keras_metadata {
        None => d.set_item("keras_metadata", py.None())?,
        Some(md) => {
            let l = PyList::empty(py);
            for n in md {
                let e = PyDict::new(py);
                e.set_item("node_id", n.node_id)?;
                e.set_item("node_path", &n.node_path)?;
                e.set_item("identifier", &n.identifier)?;
                e.set_item("metadata", &n.metadata)?;
                e.set_item("version", n.version)?;
                l.append(e)?;
            }
            d.set_item("keras_metadata", l)?;
        }
    }
    match &info.fingerprint {
        None => d.set_item("fingerprint", py.None())?,
        Some(f) => {
            let e = PyDict::new(py);
            e.set_item("saved_model_checksum", f.saved_model_checksum)?;
            e.set_item("graph_def_program_hash", f.graph_def_program_hash)?;
            e.set_item("signature_def_hash", f.signature_def_hash)?;
            e.set_item("saved_object_graph_hash", f.saved_object_graph_hash)?;
            e.set_item("checkpoint_hash", f.checkpoint_hash)?;
            e.set_item("uuid", &f.uuid)?;
            e.set_item("producer", f.producer)?;
            d.set_item("fingerprint", e)?;
        }
    }
    Ok(d)
}

/// Reads a SavedModel directory (or the path of its `saved_model.pb`) without tensor data.
///
/// Returns a dict: `schema_version`, `tags`, `tensorflow_version`, `tensorflow_git_version`,
/// `signatures` ({name: {method_name, inputs, outputs: {key: {name, dtype, shape}}}}), `nodes`
/// (one dict per SavedObjectGraph node: id, kind, children [(local_name, id)], slot_variables
/// [(original_id, slot_name, slot_id)], identifier, registered_name, variable, checkpoint_key),
/// `function_library`, `ops` (op types used, sorted), `concrete_functions`, `asset_files`, `keras_metadata` (None or a list of
/// {node_id, node_path, identifier, metadata, version}) and `fingerprint` (None or a dict).
///
/// Raises:
///     CorruptFileError: undecodable protos, node ids out of range, variables missing from
///         `variables/`.
///     UnsupportedFormatError: `saved_model.pbtxt` / `.cpb`, several MetaGraphDefs, TF1 models.
///     FileNotFoundError: no `saved_model.pb`.
#[pyfunction]
fn read_saved_model<'py>(py: Python<'py>, path: PathBuf) -> PyResult<Bound<'py, PyDict>> {
    let info = py.detach(|| reader::read_saved_model(&path))?;
    to_dict(py, &info)
}

/// Like `read_saved_model`, and also decodes every part of `saved_model.pb` that reading skips
/// (graph nodes, attributes, constants). Returns None.
///
/// Raises:
///     CorruptFileError, UnsupportedFormatError, FileNotFoundError: as `read_saved_model`.
#[pyfunction]
fn verify_saved_model(py: Python<'_>, path: PathBuf) -> PyResult<()> {
    py.detach(|| reader::verify_saved_model(&path))?;
    Ok(())
}

pub(crate) fn register(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add_function(wrap_pyfunction!(read_saved_model, m)?)?;
    m.add_function(wrap_pyfunction!(verify_saved_model, m)?)?;
    Ok(())
}
