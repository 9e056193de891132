//! kerasave: Keras and TensorFlow model artifacts without TensorFlow.
//!
//! Layers, bottom up:
//! * [`checksum`], [`varint`], [`io`]: CRC-32C with TF's masking, LevelDB varints, memory maps and
//!   atomic writes.
//! * [`dtype`]: TF `DataType` <-> numpy names.
//! * [`proto`]: prost code generated from the vendored TensorFlow `.proto` files (`proto/`).
//! * [`bundle`]: the TF tensor bundle (checkpoint) format: the SSTable `.index`, the
//!   `.data-SSSSS-of-NNNNN` shards, the `checkpoint` state file.
//! * [`object_graph`]: `_CHECKPOINTABLE_OBJECT_GRAPH` and the object path <-> checkpoint key maps.
//! * [`saved_model`]: SavedModel directories (object graph, signatures, Keras metadata).
//! * `python` (feature `python`): thin PyO3 bindings, the only place that knows about Python.
//!
//! Every parser takes a byte slice and returns [`Error`]; nothing here panics on file data.

pub mod archive;
pub mod bundle;
pub mod checksum;
pub mod dtype;
pub mod error;
pub mod h5;
pub mod io;
pub mod object_graph;
pub mod proto;
pub mod saved_model;
pub mod tensor;
pub mod varint;

#[cfg(feature = "python")]
mod python;

pub use dtype::DType;
pub use error::{Error, Result};
