//! PyO3 bindings: the module `kerasave._core` (feature `python`).
//!
//! Thin by design: every format rule lives in the pure-Rust modules; this layer converts
//! arguments, releases the GIL (`py.detach`) around every piece of Rust work, turns tensors into
//! numpy arrays (zero-copy where the bytes allow, see [`array`]) and maps errors onto
//! `kerasave.errors` ([`errors`]).
//!
//! ```text
//! kerasave._core
//!   MappedBuffer       owner of one shard's Arc<Mmap>; `.base` of every array viewing that shard
//!   OwnedBuffer        owner of bytes that had to be copied (assembled slices, byte-swapped)
//!   map_file           a whole file as a uint8 view of its map (pure-Python readers: safetensors)
//!   CheckpointReader   BundleReader + per-shard MappedBuffer cache
//!   save_checkpoint, build_object_graph, describe_object_graph, latest_checkpoint,
//!   resolve_prefix, escape_local_name, unescape_local_name, checkpoint_key
//!   H5File, H5Writer   HDF5 files over a map (zip members in place) / h5py-style writer (h5.rs)
//!   KerasArchive, ArchiveWriter   validated .keras zips / Keras-style atomic writer (archive.rs)
//! ```
//! The two writers share their finish-once / context-manager protocol ([`writer`]).

mod archive;
mod array;
mod checkpoint;
mod errors;
mod h5;
mod saved_model;
mod saved_model_writer;
mod writer;

use pyo3::prelude::*;

/// Rust core of kerasave: TF checkpoint reading and writing, zero-copy numpy arrays.
#[pymodule]
#[pyo3(name = "_core")]
fn core_module(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add("__version__", env!("CARGO_PKG_VERSION"))?;
    array::register(m)?;
    checkpoint::register(m)?;
    h5::register(m)?;
    archive::register(m)?;
    saved_model::register(m)?;
    saved_model_writer::register(m)?;
    Ok(())
}
