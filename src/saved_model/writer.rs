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
    FingerprintDef, MetaGraphDef, SavedModel, SavedObject, SavedObjectGraph, SavedUserObject,
    SavedVariable, TensorShapeProto, TrackableObjectGraph, VersionDef,
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

/// `fingerprint.pb`: a `FingerprintDef` with only `checkpoint_hash` (FarmHash `Fingerprint64` of
/// `variables/variables.index`, as TF computes it), `uuid` and `version {producer: 4}`. TF only
/// logs fingerprints; the other hashes cover regularized graphs kerasave does not write
/// (tf_formats.md §5.8), so they stay 0.
pub fn encode_fingerprint(index_bytes: &[u8], uuid: &str) -> Vec<u8> {
    FingerprintDef {
        checkpoint_hash: fingerprint64(index_bytes),
        uuid: uuid.to_string(),
        version: Some(VersionDef {
            producer: 4,
            ..Default::default()
        }),
        ..Default::default()
    }
    .encode_to_vec()
}

// FarmHash `Fingerprint64` (= `farmhashna::Hash64`), the hash TF's `tsl::Fingerprint64` and
// `tf.fingerprint(..., "farmhash64")` use. Checked against TF-written fingerprint.pb files.
const K0: u64 = 0xc3a5_c85c_97cb_3127;
const K1: u64 = 0xb492_b66f_be98_f273;
const K2: u64 = 0x9ae1_6a3b_2f90_404f;

fn fetch64(s: &[u8], at: usize) -> u64 {
    let mut b = [0u8; 8];
    b.copy_from_slice(&s[at..at + 8]);
    u64::from_le_bytes(b)
}

fn fetch32(s: &[u8], at: usize) -> u64 {
    let mut b = [0u8; 4];
    b.copy_from_slice(&s[at..at + 4]);
    u64::from(u32::from_le_bytes(b))
}

fn shift_mix(v: u64) -> u64 {
    v ^ (v >> 47)
}

fn hash_len16(u: u64, v: u64, mul: u64) -> u64 {
    let mut a = (u ^ v).wrapping_mul(mul);
    a ^= a >> 47;
    let mut b = (v ^ a).wrapping_mul(mul);
    b ^= b >> 47;
    b.wrapping_mul(mul)
}

fn hash_len0to16(s: &[u8]) -> u64 {
    let len = s.len();
    let len64 = len as u64;
    if len >= 8 {
        let mul = K2.wrapping_add(len64.wrapping_mul(2));
        let a = fetch64(s, 0).wrapping_add(K2);
        let b = fetch64(s, len - 8);
        let c = b.rotate_right(37).wrapping_mul(mul).wrapping_add(a);
        let d = a.rotate_right(25).wrapping_add(b).wrapping_mul(mul);
        return hash_len16(c, d, mul);
    }
    if len >= 4 {
        let mul = K2.wrapping_add(len64.wrapping_mul(2));
        let a = fetch32(s, 0);
        return hash_len16(len64.wrapping_add(a << 3), fetch32(s, len - 4), mul);
    }
    if len > 0 {
        let a = u64::from(s[0]);
        let b = u64::from(s[len >> 1]);
        let c = u64::from(s[len - 1]);
        let y = a.wrapping_add(b << 8);
        let z = len64.wrapping_add(c << 2);
        return shift_mix(y.wrapping_mul(K2) ^ z.wrapping_mul(K0)).wrapping_mul(K2);
    }
    K2
}

fn hash_len17to32(s: &[u8]) -> u64 {
    let len = s.len();
    let mul = K2.wrapping_add((len as u64).wrapping_mul(2));
    let a = fetch64(s, 0).wrapping_mul(K1);
    let b = fetch64(s, 8);
    let c = fetch64(s, len - 8).wrapping_mul(mul);
    let d = fetch64(s, len - 16).wrapping_mul(K2);
    hash_len16(
        a.wrapping_add(b)
            .rotate_right(43)
            .wrapping_add(c.rotate_right(30))
            .wrapping_add(d),
        a.wrapping_add(b.wrapping_add(K2).rotate_right(18))
            .wrapping_add(c),
        mul,
    )
}

fn hash_len33to64(s: &[u8]) -> u64 {
    let len = s.len();
    let mul = K2.wrapping_add((len as u64).wrapping_mul(2));
    let a = fetch64(s, 0).wrapping_mul(K2);
    let b = fetch64(s, 8);
    let c = fetch64(s, len - 8).wrapping_mul(mul);
    let d = fetch64(s, len - 16).wrapping_mul(K2);
    let y = a
        .wrapping_add(b)
        .rotate_right(43)
        .wrapping_add(c.rotate_right(30))
        .wrapping_add(d);
    let z = hash_len16(
        y,
        a.wrapping_add(b.wrapping_add(K2).rotate_right(18))
            .wrapping_add(c),
        mul,
    );
    let e = fetch64(s, 16).wrapping_mul(mul);
    let f = fetch64(s, 24);
    let g = y.wrapping_add(fetch64(s, len - 32)).wrapping_mul(mul);
    let h = z.wrapping_add(fetch64(s, len - 24)).wrapping_mul(mul);
    hash_len16(
        e.wrapping_add(f)
            .rotate_right(43)
            .wrapping_add(g.rotate_right(30))
            .wrapping_add(h),
        e.wrapping_add(f.wrapping_add(a).rotate_right(18))
            .wrapping_add(g),
        mul,
    )
}

fn weak_hash_len32_with_seeds(s: &[u8], at: usize, a: u64, b: u64) -> (u64, u64) {
    let w = fetch64(s, at);
    let x = fetch64(s, at + 8);
    let y = fetch64(s, at + 16);
    let z = fetch64(s, at + 24);
    let mut a = a.wrapping_add(w);
    let mut b = b.wrapping_add(a).wrapping_add(z).rotate_right(21);
    let c = a;
    a = a.wrapping_add(x);
    a = a.wrapping_add(y);
    b = b.wrapping_add(a.rotate_right(44));
    (a.wrapping_add(z), b.wrapping_add(c))
}

/// FarmHash `Fingerprint64` of `s`.
pub fn fingerprint64(s: &[u8]) -> u64 {
    let len = s.len();
    if len <= 16 {
        return hash_len0to16(s);
    }
    if len <= 32 {
        return hash_len17to32(s);
    }
    if len <= 64 {
        return hash_len33to64(s);
    }
    const SEED: u64 = 81;
    let mut x = SEED;
    let mut y = SEED.wrapping_mul(K1).wrapping_add(113);
    let mut z = shift_mix(y.wrapping_mul(K2).wrapping_add(113)).wrapping_mul(K2);
    let mut v = (0u64, 0u64);
    let mut w = (0u64, 0u64);
    x = x.wrapping_mul(K2).wrapping_add(fetch64(s, 0));
    let end = ((len - 1) / 64) * 64;
    let last64 = end + ((len - 1) & 63) - 63;
    let mut at = 0;
    loop {
        x = x
            .wrapping_add(y)
            .wrapping_add(v.0)
            .wrapping_add(fetch64(s, at + 8))
            .rotate_right(37)
            .wrapping_mul(K1);
        y = y
            .wrapping_add(v.1)
            .wrapping_add(fetch64(s, at + 48))
            .rotate_right(42)
            .wrapping_mul(K1);
        x ^= w.1;
        y = y.wrapping_add(v.0).wrapping_add(fetch64(s, at + 40));
        z = z.wrapping_add(w.0).rotate_right(33).wrapping_mul(K1);
        v = weak_hash_len32_with_seeds(s, at, v.1.wrapping_mul(K1), x.wrapping_add(w.0));
        w = weak_hash_len32_with_seeds(
            s,
            at + 32,
            z.wrapping_add(w.1),
            y.wrapping_add(fetch64(s, at + 16)),
        );
        std::mem::swap(&mut z, &mut x);
        at += 64;
        if at == end {
            break;
        }
    }
    let mul = K1.wrapping_add((z & 0xff) << 1);
    let at = last64;
    w.0 = w.0.wrapping_add(((len - 1) & 63) as u64);
    v.0 = v.0.wrapping_add(w.0);
    w.0 = w.0.wrapping_add(v.0);
    x = x
        .wrapping_add(y)
        .wrapping_add(v.0)
        .wrapping_add(fetch64(s, at + 8))
        .rotate_right(37)
        .wrapping_mul(mul);
    y = y
        .wrapping_add(v.1)
        .wrapping_add(fetch64(s, at + 48))
        .rotate_right(42)
        .wrapping_mul(mul);
    x ^= w.1.wrapping_mul(9);
    y = y
        .wrapping_add(v.0.wrapping_mul(9))
        .wrapping_add(fetch64(s, at + 40));
    z = z.wrapping_add(w.0).rotate_right(33).wrapping_mul(mul);
    v = weak_hash_len32_with_seeds(s, at, v.1.wrapping_mul(mul), x.wrapping_add(w.0));
    w = weak_hash_len32_with_seeds(
        s,
        at + 32,
        z.wrapping_add(w.1),
        y.wrapping_add(fetch64(s, at + 16)),
    );
    std::mem::swap(&mut z, &mut x);
    hash_len16(
        hash_len16(v.0, w.0, mul)
            .wrapping_add(shift_mix(y).wrapping_mul(K0))
            .wrapping_add(z),
        hash_len16(v.1, w.1, mul).wrapping_add(x),
        mul,
    )
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

    /// Values from TF 2.21's `tf.fingerprint(..., "farmhash64")`, one per length class.
    #[test]
    fn fingerprint64_matches_tf() {
        let pattern: Vec<u8> = (0..=255u8).collect();
        let cases: [(Vec<u8>, u64); 8] = [
            (b"".to_vec(), 0x9ae1_6a3b_2f90_404f),
            (b"a".to_vec(), 0xb345_4265_b6df_75e3),
            (b"abcd".to_vec(), 0x1a55_02de_4a1f_8101),
            (b"hello world!".to_vec(), 0x3f87_e91e_111f_cf64),
            (vec![b'x'; 20], 0x7241_ce1f_8ef7_4dc4),
            (vec![b'y'; 40], 0x03d5_9636_9a03_cfde),
            (pattern[..100].to_vec(), 0x3cff_0f88_6d8d_6195),
            (pattern.repeat(3), 0x1d08_6370_75cf_ea20),
        ];
        for (bytes, want) in cases {
            assert_eq!(fingerprint64(&bytes), want, "length {}", bytes.len());
        }
        let fp = FingerprintDef::decode(&encode_fingerprint(b"abcd", "42")[..]).unwrap();
        assert_eq!(fp.checkpoint_hash, 0x1a55_02de_4a1f_8101);
        assert_eq!(fp.uuid, "42");
        assert_eq!(fp.version.unwrap().producer, 4);
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
