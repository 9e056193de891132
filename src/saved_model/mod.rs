//! SavedModel directories (`saved_model.pb`, `keras_metadata.pb`, `fingerprint.pb`, `variables/`).
//!
//! * [`reader`]: decode the protos (bounded), validate the object graph, map the `variables/`
//!   bundle onto the object-graph nodes.
//! * [`writer`]: encode a function-free SavedModel (object graph of user objects and variables)
//!   plus `keras_metadata.pb`, the subset tf_keras `load_model` and `tf.saved_model.load` accept
//!   (tf_formats.md §5.6–5.7).

mod lite;
pub mod reader;
pub mod writer;

pub use reader::{
    parse_fingerprint, parse_keras_metadata, parse_saved_model, read_saved_model, Fingerprint,
    KerasNode, Node, NodeKind, SavedModelInfo, Signature, TensorSpec, VariableSpec,
};
