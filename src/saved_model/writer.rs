//! Encoding function-free SavedModels (see the module docs).
//!
//! ```text
//! SavedModelSpec { tags, tensorflow_version, nodes }        (typed, built by the caller)
//!   node 0 = root user_object; children (local_name, node id); variables are leaves
//!        |
//!        v  encode_saved_model
//! saved_model.pb   SavedModel { schema 1, meta_graphs: [ MetaGraphDef {
//!                      meta_info_def { tags, tensorflow_version, tensorflow_git_version },
//!                      object_graph_def { nodes } } ] }        (no graph_def, no functions)
//! object graph     TrackableObjectGraph: the same nodes, ids and children; each variable
//!                  node carries VARIABLE_VALUE with the key TF derives by BFS (tf_formats.md
//!                  §4.3, §5.2); has_checkpoint_values filled as TF does
//! checkpoint_keys  (variable node id, bundle key) for the caller's variables/ bundle
//! ```
//! This is the subset `tf.saved_model.load` and tf_keras `load_model` accept (tf_formats.md
//! §5.6–5.7): exactly one MetaGraphDef with `object_graph_def` present, and a bundle whose
//! `_CHECKPOINTABLE_OBJECT_GRAPH` mirrors the SavedObjectGraph node for node.

use prost::Message;

use crate::dtype::DType;
use crate::error::{Error, Result};
use crate::object_graph::{fill_has_checkpoint_values, ObjectGraphView, VARIABLE_VALUE_KEY};
use crate::proto::tensorflow::{
    meta_graph_def::MetaInfoDef,
    saved_object::Kind,
    tensor_shape_proto::Dim,
    trackable_object_graph::{
        trackable_object::{ObjectReference, SerializedTensor, SlotVariableReference},
        TrackableObject,
    },
    MetaGraphDef, SavedModel, SavedObject, SavedObjectGraph, SavedUserObject, SavedVariable,
    TensorShapeProto, TrackableObjectGraph, VersionDef,
};
use crate::proto::tf_keras;

/// Most nodes a spec may have (the reader's cap on object graphs).
pub const MAX_NODES: usize = crate::object_graph::view::MAX_NODES;

/// A variable node: `SavedVariable` fields.
#[derive(Debug, Clone, PartialEq)]
pub struct VariableSpec {
    /// `SavedVariable.name`, such as `dense/kernel`.
    pub name: String,
    pub dtype: DType,
    /// Dimensions; every one must be known (>= 0).
    pub shape: Vec<i64>,
    pub trainable: bool,
    /// `VariableSynchronization` (0 AUTO, 1 NONE, 2 ON_WRITE, 3 ON_READ).
    pub synchronization: i32,
    /// `VariableAggregation` (0 NONE, 1 SUM, 2 MEAN, 3 ONLY_FIRST_REPLICA).
    pub aggregation: i32,
}

/// What a node is.
#[derive(Debug, Clone, PartialEq)]
pub enum NodeKind {
    /// `SavedUserObject { identifier, version {producer, min_consumer} }`.
    UserObject {
        identifier: String,
        producer: i32,
        min_consumer: i32,
    },
    Variable(VariableSpec),
}

/// One object-graph node.
#[derive(Debug, Clone, PartialEq)]
pub struct NodeSpec {
    pub kind: NodeKind,
    /// `(local_name, node id)` in the order TF lists `_trackable_children()`.
    pub children: Vec<(String, usize)>,
    /// `(original variable node, slot name, slot variable node)`, on an optimizer node.
    pub slot_variables: Vec<(usize, String, usize)>,
    /// `SavedObject.registered_name` (empty for Keras objects).
    pub registered_name: String,
}

/// A whole function-free SavedModel.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct SavedModelSpec {
    pub tags: Vec<String>,
    pub tensorflow_version: String,
    pub tensorflow_git_version: String,
    /// Node 0 is the root and must be a user object.
    pub nodes: Vec<NodeSpec>,
}

/// The encoded pieces of a SavedModel directory except the bundle data.
#[derive(Debug, Clone, PartialEq)]
pub struct EncodedSavedModel {
    /// `saved_model.pb` bytes.
    pub saved_model: Vec<u8>,
    /// The serialized `TrackableObjectGraph` for `variables/` (`_CHECKPOINTABLE_OBJECT_GRAPH`).
    pub object_graph: Vec<u8>,
    /// `(variable node id, bundle key)`, in node order.
    pub checkpoint_keys: Vec<(usize, String)>,
}

fn invalid(msg: String) -> Error {
    Error::InvalidArgument(msg)
}

fn node_id(id: usize, n: usize, what: &str, at: usize) -> Result<i32> {
    if id >= n {
        return Err(invalid(format!(
            "SavedModel spec: node {at}: {what} refers to node {id}, but there are {n} nodes"
        )));
    }
    i32::try_from(id).map_err(|_| invalid(format!("SavedModel spec: node id {id} too large")))
}

fn shape_proto(shape: &[i64]) -> TensorShapeProto {
    TensorShapeProto {
        dim: shape
            .iter()
            .map(|&size| Dim {
                size,
                name: String::new(),
            })
            .collect(),
        unknown_rank: false,
    }
}

fn check_spec(spec: &SavedModelSpec) -> Result<()> {
    let n = spec.nodes.len();
    if n == 0 {
        return Err(invalid("SavedModel spec has no nodes (no root)".into()));
    }
    if n > MAX_NODES {
        return Err(invalid(format!(
            "SavedModel spec has {n} nodes, more than {MAX_NODES}"
        )));
    }
    if !matches!(spec.nodes[0].kind, NodeKind::UserObject { .. }) {
        return Err(invalid(
            "SavedModel spec: node 0 (the root) must be a user object".into(),
        ));
    }
    for (at, node) in spec.nodes.iter().enumerate() {
        for (name, child) in &node.children {
            node_id(*child, n, "a child", at)?;
            if name.is_empty() {
                return Err(invalid(format!(
                    "SavedModel spec: node {at} has a child with an empty name"
                )));
            }
        }
        for (orig, slot_name, slot) in &node.slot_variables {
            node_id(*orig, n, "a slot's original variable", at)?;
            node_id(*slot, n, "a slot variable", at)?;
            if slot_name.is_empty() {
                return Err(invalid(format!(
                    "SavedModel spec: node {at} has a slot variable with an empty name"
                )));
            }
        }
        if let NodeKind::Variable(v) = &node.kind {
            if !node.children.is_empty() {
                return Err(invalid(format!(
                    "SavedModel spec: variable node {at} ({}) has children",
                    v.name
                )));
            }
            if let Some(d) = v.shape.iter().find(|&&d| d < 0) {
                return Err(invalid(format!(
                    "SavedModel spec: variable node {at} ({}) has dimension {d}",
                    v.name
                )));
            }
            if !v.dtype.is_fixed_size() && v.dtype != DType::String {
                return Err(invalid(format!(
                    "SavedModel spec: variable node {at} ({}) has dtype {}, which a variable \
                     cannot hold",
                    v.name,
                    v.dtype.name()
                )));
            }
        }
    }
    Ok(())
}

/// Encodes `saved_model.pb` and the bundle's object graph for `spec` (see the module doc).
///
/// Every variable node must be reachable from the root (over children, or as a slot variable of
/// a reachable optimizer), since its bundle key is derived from the path that reaches it.
///
/// # Errors
/// `Error::InvalidArgument` for a malformed spec: no root, a root that is not a user object,
/// node ids out of range, empty names, variables with children or negative dimensions, or an
/// unreachable variable.
pub fn encode_saved_model(spec: &SavedModelSpec) -> Result<EncodedSavedModel> {
    check_spec(spec)?;
    let n = spec.nodes.len();
    let mut saved_nodes = Vec::with_capacity(n);
    let mut tracked_nodes = Vec::with_capacity(n);
    for (at, node) in spec.nodes.iter().enumerate() {
        let children = node
            .children
            .iter()
            .map(|(name, id)| {
                Ok(ObjectReference {
                    node_id: node_id(*id, n, "a child", at)?,
                    local_name: name.clone(),
                })
            })
            .collect::<Result<Vec<_>>>()?;
        let slot_variables = node
            .slot_variables
            .iter()
            .map(|(orig, name, slot)| {
                Ok(SlotVariableReference {
                    original_variable_node_id: node_id(*orig, n, "a slot", at)?,
                    slot_name: name.clone(),
                    slot_variable_node_id: node_id(*slot, n, "a slot", at)?,
                })
            })
            .collect::<Result<Vec<_>>>()?;
        let kind = match &node.kind {
            NodeKind::UserObject {
                identifier,
                producer,
                min_consumer,
            } => Kind::UserObject(SavedUserObject {
                identifier: identifier.clone(),
                version: Some(VersionDef {
                    producer: *producer,
                    min_consumer: *min_consumer,
                    bad_consumers: vec![],
                }),
                ..Default::default()
            }),
            NodeKind::Variable(v) => Kind::Variable(SavedVariable {
                dtype: v.dtype.tf_code(),
                shape: Some(shape_proto(&v.shape)),
                trainable: v.trainable,
                synchronization: v.synchronization,
                aggregation: v.aggregation,
                name: v.name.clone(),
                ..Default::default()
            }),
        };
        saved_nodes.push(SavedObject {
            children: children.clone(),
            slot_variables: slot_variables.clone(),
            kind: Some(kind),
            registered_name: node.registered_name.clone(),
            ..Default::default()
        });
        tracked_nodes.push(TrackableObject {
            children,
            slot_variables,
            ..Default::default()
        });
    }

    // Keys as TF derives them: BFS paths (slot paths for slot variables).
    let view = ObjectGraphView::new(TrackableObjectGraph {
        nodes: tracked_nodes,
    })
    .map_err(|e| invalid(format!("SavedModel spec: {e}")))?;
    let mut keys = Vec::new();
    for (at, node) in spec.nodes.iter().enumerate() {
        if let NodeKind::Variable(v) = &node.kind {
            let key = view.derived_key(at, VARIABLE_VALUE_KEY).ok_or_else(|| {
                invalid(format!(
                    "SavedModel spec: variable node {at} ({}) is not reachable from the root",
                    v.name
                ))
            })?;
            keys.push((at, key));
        }
    }
    let mut graph = view.into_graph();
    for (at, key) in &keys {
        if let NodeKind::Variable(v) = &spec.nodes[*at].kind {
            graph.nodes[*at].attributes.push(SerializedTensor {
                name: VARIABLE_VALUE_KEY.to_string(),
                full_name: v.name.clone(),
                checkpoint_key: key.clone(),
            });
        }
    }
    fill_has_checkpoint_values(&mut graph);

    let saved_model = SavedModel {
        saved_model_schema_version: 1,
        meta_graphs: vec![MetaGraphDef {
            meta_info_def: Some(MetaInfoDef {
                tags: spec.tags.clone(),
                tensorflow_version: spec.tensorflow_version.clone(),
                tensorflow_git_version: spec.tensorflow_git_version.clone(),
                ..Default::default()
            }),
            object_graph_def: Some(SavedObjectGraph {
                nodes: saved_nodes,
                ..Default::default()
            }),
            ..Default::default()
        }],
    };
    Ok(EncodedSavedModel {
        saved_model: saved_model.encode_to_vec(),
        object_graph: graph.encode_to_vec(),
        checkpoint_keys: keys,
    })
}

/// One `keras_metadata.pb` entry (a Layer or Metric node of the object graph).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MetadataSpec {
    /// Index into the SavedObjectGraph's nodes.
    pub node_id: i32,
    /// `"root"` + `"."`-joined local names.
    pub node_path: String,
    /// `_tf_keras_layer`, `_tf_keras_sequential`, ...
    pub identifier: String,
    /// The JSON string.
    pub metadata: String,
}

/// Encodes `keras_metadata.pb` (`SavedMetadata`); each node gets tf_keras's version
/// `{producer: 2, min_consumer: 1}` (keras_formats.md §4.2).
///
/// # Errors
/// `Error::InvalidArgument` for a negative node id.
pub fn encode_keras_metadata(nodes: &[MetadataSpec]) -> Result<Vec<u8>> {
    let mut out = Vec::with_capacity(nodes.len());
    for node in nodes {
        if node.node_id < 0 {
            return Err(invalid(format!(
                "keras metadata node {:?} has negative node id {}",
                node.node_path, node.node_id
            )));
        }
        out.push(tf_keras::SavedObject {
            node_id: node.node_id,
            node_path: node.node_path.clone(),
            identifier: node.identifier.clone(),
            metadata: node.metadata.clone(),
            version: Some(tf_keras::VersionDef {
                producer: 2,
                min_consumer: 1,
                bad_consumers: vec![],
            }),
        });
    }
    Ok(tf_keras::SavedMetadata { nodes: out }.encode_to_vec())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn user(identifier: &str, children: &[(&str, usize)]) -> NodeSpec {
        NodeSpec {
            kind: NodeKind::UserObject {
                identifier: identifier.into(),
                producer: 1,
                min_consumer: 1,
            },
            children: children.iter().map(|(n, i)| (n.to_string(), *i)).collect(),
            slot_variables: vec![],
            registered_name: String::new(),
        }
    }

    fn var(name: &str, shape: &[i64]) -> NodeSpec {
        NodeSpec {
            kind: NodeKind::Variable(VariableSpec {
                name: name.into(),
                dtype: DType::Float32,
                shape: shape.to_vec(),
                trainable: true,
                synchronization: 0,
                aggregation: 0,
            }),
            children: vec![],
            slot_variables: vec![],
            registered_name: String::new(),
        }
    }

    /// The 7-node Sequential of tf_formats.md §5.7.
    fn seven() -> SavedModelSpec {
        SavedModelSpec {
            tags: vec!["serve".into()],
            tensorflow_version: "2.21.0".into(),
            tensorflow_git_version: String::new(),
            nodes: vec![
                user(
                    "_tf_keras_sequential",
                    &[
                        ("layer_with_weights-0", 1),
                        ("layer-0", 1),
                        ("layer_with_weights-1", 2),
                        ("layer-1", 2),
                    ],
                ),
                user("_tf_keras_layer", &[("kernel", 3), ("bias", 4)]),
                user("_tf_keras_layer", &[("kernel", 5), ("bias", 6)]),
                var("d1/kernel", &[3, 4]),
                var("d1/bias", &[4]),
                var("d2/kernel", &[4, 2]),
                var("d2/bias", &[2]),
            ],
        }
    }

    #[test]
    fn seven_node_sequential() {
        let enc = encode_saved_model(&seven()).unwrap();
        let keys: Vec<&str> = enc
            .checkpoint_keys
            .iter()
            .map(|(_, k)| k.as_str())
            .collect();
        assert_eq!(
            keys,
            [
                "layer_with_weights-0/kernel/.ATTRIBUTES/VARIABLE_VALUE",
                "layer_with_weights-0/bias/.ATTRIBUTES/VARIABLE_VALUE",
                "layer_with_weights-1/kernel/.ATTRIBUTES/VARIABLE_VALUE",
                "layer_with_weights-1/bias/.ATTRIBUTES/VARIABLE_VALUE",
            ]
        );
        let sm = SavedModel::decode(&enc.saved_model[..]).unwrap();
        assert_eq!(sm.saved_model_schema_version, 1);
        assert_eq!(sm.meta_graphs.len(), 1);
        let og = sm.meta_graphs[0].object_graph_def.as_ref().unwrap();
        assert_eq!(og.nodes.len(), 7);
        let graph = TrackableObjectGraph::decode(&enc.object_graph[..]).unwrap();
        assert_eq!(graph.nodes.len(), 7);
        for (saved, tracked) in og.nodes.iter().zip(&graph.nodes) {
            assert_eq!(saved.children, tracked.children);
        }
        assert_eq!(graph.nodes[0].has_checkpoint_values, Some(true));
        assert_eq!(
            graph.nodes[3].attributes[0].checkpoint_key,
            "layer_with_weights-0/kernel/.ATTRIBUTES/VARIABLE_VALUE"
        );
        assert_eq!(graph.nodes[3].attributes[0].full_name, "d1/kernel");
    }

    #[test]
    fn escaped_names_and_unreachable_variables() {
        let mut spec = seven();
        spec.nodes[1].children[0].0 = "a/b.c".into();
        let enc = encode_saved_model(&spec).unwrap();
        assert_eq!(
            enc.checkpoint_keys[0].1,
            "layer_with_weights-0/a.Sb..c/.ATTRIBUTES/VARIABLE_VALUE"
        );

        spec.nodes.push(var("lost", &[1]));
        let err = encode_saved_model(&spec).unwrap_err().to_string();
        assert!(err.contains("not reachable"), "{err}");
    }

    #[test]
    fn bad_specs() {
        let mut spec = seven();
        spec.nodes[0].children.push(("x".into(), 99));
        assert!(encode_saved_model(&spec)
            .unwrap_err()
            .to_string()
            .contains("node 99"));
        let mut spec = seven();
        spec.nodes.swap(0, 3);
        assert!(encode_saved_model(&spec).is_err());
        let mut spec = seven();
        if let NodeKind::Variable(v) = &mut spec.nodes[3].kind {
            v.shape = vec![-1];
        }
        assert!(encode_saved_model(&spec).is_err());
        assert!(encode_saved_model(&SavedModelSpec::default()).is_err());
    }

    #[test]
    fn slot_variables_get_slot_keys() {
        let mut spec = seven();
        spec.nodes[0].children.push(("optimizer".into(), 7));
        spec.nodes.push(user("_generic_user_object", &[]));
        spec.nodes.push(var("d1/kernel/m", &[3, 4]));
        spec.nodes[7].slot_variables.push((3, "m".into(), 8));
        let enc = encode_saved_model(&spec).unwrap();
        assert_eq!(
            enc.checkpoint_keys.last().unwrap().1,
            "layer_with_weights-0/kernel/.OPTIMIZER_SLOT/optimizer/m/.ATTRIBUTES/VARIABLE_VALUE"
        );
    }

    #[test]
    fn metadata_bytes() {
        let bytes = encode_keras_metadata(&[MetadataSpec {
            node_id: 0,
            node_path: "root".into(),
            identifier: "_tf_keras_sequential".into(),
            metadata: "{}".into(),
        }])
        .unwrap();
        // node_id 0 is omitted (proto3 default), as tf_keras's deterministic serialization does.
        assert_eq!(
            bytes,
            [
                0x0a, 0x26, 0x1a, 0x04, b'r', b'o', b'o', b't', 0x22, 0x14, b'_', b't', b'f', b'_',
                b'k', b'e', b'r', b'a', b's', b'_', b's', b'e', b'q', b'u', b'e', b'n', b't', b'i',
                b'a', b'l', 0x2a, 0x02, b'{', b'}', 0x32, 0x04, 0x08, 0x02, 0x10, 0x01
            ]
        );
    }
}
