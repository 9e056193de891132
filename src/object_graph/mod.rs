//! `_CHECKPOINTABLE_OBJECT_GRAPH` and the object path <-> checkpoint key maps
//! (tf_formats.md §4, keras_formats.md §5).
//!
//! ```text
//! bundle key _CHECKPOINTABLE_OBJECT_GRAPH -> TrackableObjectGraph { nodes[0] = root, ... }
//!   node { children: [(node_id, local_name)], attributes: [(name, full_name, checkpoint_key)],
//!          slot_variables: [(original_variable_node_id, slot_name, slot_variable_node_id)] }
//! key = "/".join(escape(local_name) along the first BFS path) + "/.ATTRIBUTES/" + escape(name)
//! ```
//! * [`keys`]: the pure string rules (escaping, keys, key parsing).
//! * [`view`]: reading: a validated graph with every node's path ([`ObjectGraphView`]).
//! * [`build`]: writing: a graph from a list of keys ([`build_object_graph`]).

pub mod build;
pub mod keys;
pub mod view;

pub use build::{build_object_graph, build_object_graph_with_names, fill_has_checkpoint_values};
pub use keys::{
    checkpoint_key, escape_local_name, object_path_string, parse_checkpoint_key,
    slot_variable_path, unescape_local_name, KeyOwner, ParsedKey, OBJECT_ATTRIBUTES_NAME,
    OBJECT_GRAPH_PROTO_KEY, OPTIMIZER_SLOTS_NAME, SERIALIZE_TO_TENSORS_NAME, VARIABLE_VALUE_KEY,
};
pub use view::{ObjectGraphView, SlotInfo, VariableInfo, MAX_NODES};

#[cfg(test)]
mod tests;
