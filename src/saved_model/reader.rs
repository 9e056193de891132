//! Decoding SavedModel directories (see the module docs).
//!
//! ```text
//! DIR/saved_model.pb     SavedModel { schema_version, meta_graphs: [MetaGraphDef] }
//!                          MetaGraphDef { meta_info_def (tags, TF version), graph_def (function
//!                            library), signature_def {name: SignatureDef}, asset_file_def,
//!                            object_graph_def: SavedObjectGraph { nodes, concrete_functions } }
//! DIR/keras_metadata.pb  SavedMetadata { nodes: [(node_id, node_path, identifier, JSON)] }  tf_keras
//! DIR/fingerprint.pb     FingerprintDef (hashes, uuid)                                     optional
//! DIR/variables/variables.{index,data-*}   a tensor bundle whose _CHECKPOINTABLE_OBJECT_GRAPH
//!                                          mirrors the SavedObjectGraph (matched by walking both)
//! ```
//!
//! The pure parsers ([`parse_saved_model`], [`parse_keras_metadata`], [`parse_fingerprint`],
//! [`map_checkpoint_keys`]) take bytes / decoded protos and never panic; [`read_saved_model`]
//! does the I/O and attaches the file to every error. Protobuf decoding is bounded: prost's
//! recursion limit (100 nested messages) is on (the crate never enables `no-recursion-limit`),
//! a `.pb` larger than protobuf's 2 GiB limit is refused before it is mapped, and every node id
//! read from a file is checked against the node count before it is used.

use std::collections::hash_map::Entry;
use std::collections::{BTreeMap, HashMap, VecDeque};
use std::path::{Path, PathBuf};

use prost::Message;

use crate::bundle::BundleReader;
use crate::dtype::DType;
use crate::error::{Error, Result};
use crate::io::MappedFile;
use crate::object_graph::keys::{checkpoint_key, object_path_string, VARIABLE_VALUE_KEY};
use crate::object_graph::MAX_NODES;
use crate::proto::tensorflow::{
    saved_object::Kind, tensor_info::Encoding, FingerprintDef, SavedModel, TensorInfo,
    TensorShapeProto, TrackableObjectGraph,
};
use crate::proto::tf_keras::SavedMetadata;
use crate::saved_model::lite::SavedModelLite;

/// Total bytes of the fallback object paths [`map_checkpoint_keys`] may build.
pub const FALLBACK_PATH_BUDGET: u64 = 16 << 20;

/// Protobuf's own limit on a serialized message; TF writes `saved_model.cpb` beyond it.
pub const MAX_PROTO_BYTES: u64 = (1 << 31) - 1;

/// The file names inside a SavedModel directory.
pub const SAVED_MODEL_PB: &str = "saved_model.pb";
pub const SAVED_MODEL_PBTXT: &str = "saved_model.pbtxt";
pub const SAVED_MODEL_CPB: &str = "saved_model.cpb";
pub const KERAS_METADATA_PB: &str = "keras_metadata.pb";
pub const FINGERPRINT_PB: &str = "fingerprint.pb";

/// One input or output of a signature.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TensorSpec {
    /// Graph tensor name (`serving_default_x:0`); for a sparse tensor its values tensor, for a
    /// composite tensor the empty string.
    pub name: String,
    /// [`dtype_name`] of the TF dtype code.
    pub dtype: String,
    /// `None` = unknown rank; `-1` = unknown dimension.
    pub shape: Option<Vec<i64>>,
}

/// A `SignatureDef`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Signature {
    pub method_name: String,
    pub inputs: BTreeMap<String, TensorSpec>,
    pub outputs: BTreeMap<String, TensorSpec>,
}

/// Which `SavedObject.kind` a node has.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum NodeKind {
    UserObject,
    Asset,
    Function,
    Variable,
    BareConcreteFunction,
    Constant,
    Resource,
    CapturedTensor,
    /// No kind set (TF treats it as an empty user object).
    None,
}

impl NodeKind {
    /// The `oneof kind` field name (`"user_object"`, ...), `"none"` when unset.
    pub fn as_str(self) -> &'static str {
        match self {
            NodeKind::UserObject => "user_object",
            NodeKind::Asset => "asset",
            NodeKind::Function => "function",
            NodeKind::Variable => "variable",
            NodeKind::BareConcreteFunction => "bare_concrete_function",
            NodeKind::Constant => "constant",
            NodeKind::Resource => "resource",
            NodeKind::CapturedTensor => "captured_tensor",
            NodeKind::None => "none",
        }
    }
}

/// A `SavedVariable`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VariableSpec {
    pub name: String,
    /// [`dtype_name`] of the TF dtype code.
    pub dtype: String,
    /// `None` = unknown rank; `-1` = unknown dimension.
    pub shape: Option<Vec<i64>>,
    pub trainable: bool,
    /// `VariableSynchronization` enum value (0 AUTO, 1 NONE, 2 ON_WRITE, 3 ON_READ).
    pub synchronization: i32,
    /// `VariableAggregation` enum value (0 NONE, 1 SUM, 2 MEAN, 3 ONLY_FIRST_REPLICA).
    pub aggregation: i32,
}

/// One `SavedObject`, with its ids checked.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Node {
    pub id: usize,
    pub kind: NodeKind,
    /// `(local_name, node_id)` in stored order.
    pub children: Vec<(String, usize)>,
    /// `(original_variable_node_id, slot_name, slot_variable_node_id)`.
    pub slot_variables: Vec<(usize, String, usize)>,
    /// `SavedUserObject.identifier` ("" for other kinds).
    pub identifier: String,
    pub registered_name: String,
    pub variable: Option<VariableSpec>,
    /// For variables: the `VARIABLE_VALUE` key of this node in `variables/` (set by
    /// [`map_checkpoint_keys`]).
    pub checkpoint_key: Option<String>,
}

/// One `keras_metadata.pb` node.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KerasNode {
    pub node_id: usize,
    pub node_path: String,
    pub identifier: String,
    /// The JSON text, unparsed (the Python layer parses it).
    pub metadata: String,
    /// `(producer, min_consumer)`.
    pub version: (i32, i32),
}

/// `fingerprint.pb`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Fingerprint {
    pub saved_model_checksum: u64,
    pub graph_def_program_hash: u64,
    pub signature_def_hash: u64,
    pub saved_object_graph_hash: u64,
    pub checkpoint_hash: u64,
    pub uuid: String,
    pub producer: i32,
}

/// Everything read from a SavedModel directory except tensor data.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SavedModelInfo {
    pub schema_version: i64,
    pub tags: Vec<String>,
    pub tensorflow_version: String,
    pub tensorflow_git_version: String,
    pub signatures: BTreeMap<String, Signature>,
    pub nodes: Vec<Node>,
    /// Names of the `FunctionDef`s in the graph's function library, sorted.
    pub function_library: Vec<String>,
    /// Op types the graph and its functions use (sorted), as `saved_model_cli show --all` lists.
    pub ops: Vec<String>,
    /// Keys of `SavedObjectGraph.concrete_functions`, sorted.
    pub concrete_functions: Vec<String>,
    /// `AssetFileDef.filename` in stored order (relative to `assets/`).
    pub asset_files: Vec<String>,
    pub keras_metadata: Option<Vec<KerasNode>>,
    pub fingerprint: Option<Fingerprint>,
}

impl SavedModelInfo {
    /// The breadth-first tree over `children` from the root (see [`BfsTree`]).
    pub fn bfs_tree(&self) -> BfsTree {
        BfsTree::new(&self.nodes)
    }

    /// The BFS path of local names from the root to `id` (empty for the root), or `None` when
    /// `id` is not reachable through children. O(nodes); for many nodes use [`Self::bfs_tree`].
    pub fn node_path(&self, id: usize) -> Option<Vec<String>> {
        self.bfs_tree().path(&self.nodes, id)
    }
}

/// Breadth-first search over `children` from node 0, as TF's object-graph view walks: each
/// node's first-found parent. Paths are built on demand, never all at once (a chain of n nodes
/// has paths of n^2/2 names in total). Cycles are fine: every node is visited once.
#[derive(Debug, Clone)]
pub struct BfsTree {
    /// `(parent, index into the parent's children)`; `None` for the root and unreachable nodes.
    parent: Vec<Option<(usize, usize)>>,
    reached: Vec<bool>,
    /// Bytes of the path's names plus one separator per name (saturating).
    path_bytes: Vec<u64>,
}

impl BfsTree {
    /// Walks `nodes` (whose child ids must be in range, as [`parse_saved_model`] checks).
    pub fn new(nodes: &[Node]) -> Self {
        let mut parent = vec![None; nodes.len()];
        let mut reached = vec![false; nodes.len()];
        let mut path_bytes = vec![0u64; nodes.len()];
        if nodes.is_empty() {
            return BfsTree {
                parent,
                reached,
                path_bytes,
            };
        }
        reached[0] = true;
        let mut queue = VecDeque::from([0usize]);
        while let Some(id) = queue.pop_front() {
            for (i, (name, child)) in nodes[id].children.iter().enumerate() {
                if let Some(seen) = reached.get_mut(*child) {
                    if !*seen {
                        *seen = true;
                        parent[*child] = Some((id, i));
                        path_bytes[*child] = path_bytes[id].saturating_add(name.len() as u64 + 1);
                        queue.push_back(*child);
                    }
                }
            }
        }
        BfsTree {
            parent,
            reached,
            path_bytes,
        }
    }

    /// Whether `id` is reachable from the root through children.
    pub fn is_reachable(&self, id: usize) -> bool {
        self.reached.get(id).copied().unwrap_or(false)
    }

    /// The size of `id`'s path: its names' bytes plus one per name; 0 when unreachable.
    pub fn path_bytes(&self, id: usize) -> u64 {
        self.path_bytes.get(id).copied().unwrap_or(0)
    }

    /// The path of local names from the root to `id`; `None` when unreachable.
    pub fn path(&self, nodes: &[Node], id: usize) -> Option<Vec<String>> {
        if !self.is_reachable(id) {
            return None;
        }
        let mut names = Vec::new();
        let mut at = id;
        while let Some((p, i)) = self.parent[at] {
            names.push(nodes[p].children[i].0.clone());
            at = p;
        }
        names.reverse();
        Some(names)
    }
}

/// `"float32"`, `"string"`, `"resource"`, ... ([`DType::name`]); `"invalid"` for `DT_INVALID`
/// (the `__saved_model_init_op` output), `"<name>_ref"` for reference types, `"dtype_<code>"`
/// for codes this crate does not know.
pub fn dtype_name(code: i32) -> String {
    if code == 0 {
        return "invalid".to_owned();
    }
    if let Some(d) = DType::from_tf(code) {
        return d.name().to_owned();
    }
    if let Some(d) = code.checked_sub(100).and_then(DType::from_tf) {
        return format!("{}_ref", d.name());
    }
    format!("dtype_{code}")
}

fn shape_of(
    shape: Option<&TensorShapeProto>,
    what: &dyn Fn() -> String,
) -> Result<Option<Vec<i64>>> {
    let Some(shape) = shape else {
        // An absent TensorShapeProto is the scalar shape (proto3 default: no dims, known rank).
        return Ok(Some(Vec::new()));
    };
    if shape.unknown_rank {
        return Ok(None);
    }
    let mut dims = Vec::with_capacity(shape.dim.len());
    for d in &shape.dim {
        if d.size < -1 {
            return Err(Error::corrupt(format!(
                "{}: dimension {} < -1",
                what(),
                d.size
            )));
        }
        dims.push(d.size);
    }
    Ok(Some(dims))
}

fn tensor_spec(info: &TensorInfo, what: &dyn Fn() -> String) -> Result<TensorSpec> {
    let name = match &info.encoding {
        Some(Encoding::Name(n)) => n.clone(),
        Some(Encoding::CooSparse(c)) => c.values_tensor_name.clone(),
        Some(Encoding::CompositeTensor(_)) | None => String::new(),
    };
    Ok(TensorSpec {
        name,
        dtype: dtype_name(info.dtype),
        shape: shape_of(info.tensor_shape.as_ref(), what)?,
    })
}

/// prost's message lists every enclosing field; past the recursion limit that is 100 of them.
/// Keep the first and last few.
fn decode_error(message: &str, e: &prost::DecodeError) -> Error {
    let text = e.to_string();
    let text = text
        .strip_prefix("failed to decode Protobuf message: ")
        .unwrap_or(&text);
    let parts: Vec<&str> = text.split(": ").collect();
    let shown = if parts.len() > 8 {
        format!(
            "{}: ... ({} more fields) ...: {}",
            parts[..3].join(": "),
            parts.len() - 6,
            parts[parts.len() - 3..].join(": ")
        )
    } else {
        text.to_owned()
    };
    Error::corrupt(format!("bad {message} protobuf: {shown}"))
}

fn node_index(raw: i32, count: usize, what: &dyn Fn() -> String) -> Result<usize> {
    usize::try_from(raw)
        .ok()
        .filter(|&i| i < count)
        .ok_or_else(|| {
            Error::corrupt(format!(
                "{}: node id {raw} out of range (the object graph has {count} nodes)",
                what()
            ))
        })
}

/// Decodes and validates `saved_model.pb` bytes. Checkpoint keys are left `None` (see
/// [`map_checkpoint_keys`]); `keras_metadata` and `fingerprint` are `None`.
///
/// Errors: `Corrupt` for undecodable protobuf (including nesting deeper than prost's limit),
/// no MetaGraphDef, an empty object graph, node ids out of range, dimensions < -1, an asset
/// index out of range or a function naming a concrete function the graph does not list;
/// `Unsupported` for schema versions other than 1, a MetaGraphDef without an object graph (TF1)
/// and several MetaGraphDefs (TF 1 multi-tag exports; the message names each one's tags).
pub fn parse_saved_model(bytes: &[u8]) -> Result<SavedModelInfo> {
    let sm = SavedModelLite::decode(bytes).map_err(|e| decode_error("SavedModel", &e))?;
    if sm.meta_graphs.is_empty() {
        return Err(Error::corrupt("SavedModel has no MetaGraphDef"));
    }
    if sm.saved_model_schema_version != 1 {
        return Err(Error::unsupported(format!(
            "saved_model_schema_version {} (only 1 exists)",
            sm.saved_model_schema_version
        )));
    }
    let mut metas = sm.meta_graphs;
    if metas.len() > 1 {
        let tags: Vec<String> = metas
            .iter()
            .map(|m| {
                let t = m
                    .meta_info_def
                    .as_ref()
                    .map(|i| i.tags.join(","))
                    .unwrap_or_default();
                format!("[{t}]")
            })
            .collect();
        return Err(Error::unsupported(format!(
            "{} MetaGraphDefs (tags {}); only single-MetaGraphDef (TF2) SavedModels are read",
            metas.len(),
            tags.join(" ")
        )));
    }
    let Some(meta) = metas.pop() else {
        return Err(Error::corrupt("SavedModel has no MetaGraphDef"));
    };
    let info = meta.meta_info_def.unwrap_or_default();
    let Some(graph) = meta.object_graph_def else {
        return Err(Error::unsupported(
            "the MetaGraphDef has no object_graph_def (a TF1 SavedModel; TF loads it with \
             load_v1_in_v2, which needs graph execution)",
        ));
    };
    let count = graph.nodes.len();
    if count == 0 {
        return Err(Error::corrupt("the object graph has no nodes (no root)"));
    }
    if count > MAX_NODES {
        return Err(Error::corrupt(format!(
            "the object graph has {count} nodes (limit {MAX_NODES})"
        )));
    }

    let mut signatures = BTreeMap::new();
    for (name, sig) in &meta.signature_def {
        let convert = |m: &BTreeMap<String, TensorInfo>, side: &str| -> Result<_> {
            let mut out = BTreeMap::new();
            for (k, v) in m {
                let what = || format!("signature {name:?} {side} {k:?}");
                out.insert(k.clone(), tensor_spec(v, &what)?);
            }
            Ok(out)
        };
        let inputs = convert(&sig.inputs, "input")?;
        let outputs = convert(&sig.outputs, "output")?;
        signatures.insert(
            name.clone(),
            Signature {
                method_name: sig.method_name.clone(),
                inputs,
                outputs,
            },
        );
    }

    let asset_count = meta.asset_file_def.len();
    let mut nodes = Vec::with_capacity(count);
    for (id, obj) in graph.nodes.iter().enumerate() {
        let what = || format!("object graph node {id}");
        let mut children = Vec::with_capacity(obj.children.len());
        for c in &obj.children {
            let at = || format!("object graph node {id} child {:?}", c.local_name);
            children.push((c.local_name.clone(), node_index(c.node_id, count, &at)?));
        }
        for c in &obj.dependencies {
            let at = || format!("object graph node {id} dependency {:?}", c.local_name);
            node_index(c.node_id, count, &at)?;
        }
        let mut slot_variables = Vec::with_capacity(obj.slot_variables.len());
        for s in &obj.slot_variables {
            let at = || format!("object graph node {id} slot variable {:?}", s.slot_name);
            slot_variables.push((
                node_index(s.original_variable_node_id, count, &at)?,
                s.slot_name.clone(),
                node_index(s.slot_variable_node_id, count, &at)?,
            ));
        }
        for (name, saveable) in &obj.saveable_objects {
            let at = || format!("object graph node {id} saveable object {name:?}");
            node_index(saveable.save_function, count, &at)?;
            node_index(saveable.restore_function, count, &at)?;
        }
        let mut identifier = String::new();
        let mut variable = None;
        let check_fn = |name: &str| -> Result<()> {
            if graph.concrete_functions.contains_key(name) {
                Ok(())
            } else {
                Err(Error::corrupt(format!(
                    "{}: concrete function {name:?} is not in the object graph's \
                     concrete_functions",
                    what()
                )))
            }
        };
        let kind = match &obj.kind {
            Some(Kind::UserObject(u)) => {
                identifier = u.identifier.clone();
                NodeKind::UserObject
            }
            Some(Kind::Asset(a)) => {
                if usize::try_from(a.asset_file_def_index).map_or(true, |i| i >= asset_count) {
                    return Err(Error::corrupt(format!(
                        "{}: asset_file_def_index {} out of range ({asset_count} asset files)",
                        what(),
                        a.asset_file_def_index
                    )));
                }
                NodeKind::Asset
            }
            Some(Kind::Function(f)) => {
                for name in &f.concrete_functions {
                    check_fn(name)?;
                }
                NodeKind::Function
            }
            Some(Kind::Variable(v)) => {
                variable = Some(VariableSpec {
                    name: v.name.clone(),
                    dtype: dtype_name(v.dtype),
                    shape: shape_of(v.shape.as_ref(), &what)?,
                    trainable: v.trainable,
                    synchronization: v.synchronization,
                    aggregation: v.aggregation,
                });
                NodeKind::Variable
            }
            Some(Kind::BareConcreteFunction(b)) => {
                check_fn(&b.concrete_function_name)?;
                NodeKind::BareConcreteFunction
            }
            Some(Kind::Constant(_)) => NodeKind::Constant,
            Some(Kind::Resource(_)) => NodeKind::Resource,
            Some(Kind::CapturedTensor(_)) => NodeKind::CapturedTensor,
            None => NodeKind::None,
        };
        nodes.push(Node {
            id,
            kind,
            children,
            slot_variables,
            identifier,
            registered_name: obj.registered_name.clone(),
            variable,
            checkpoint_key: None,
        });
    }
    for (name, f) in &graph.concrete_functions {
        for &b in &f.bound_inputs {
            let at = || format!("concrete function {name:?} bound input");
            node_index(b, count, &at)?;
        }
    }

    let mut function_library: Vec<String> = meta
        .graph_def
        .as_ref()
        .and_then(|g| g.library.as_ref())
        .map(|l| {
            l.function
                .iter()
                .filter_map(|f| f.signature.as_ref().map(|s| s.name.clone()))
                .collect()
        })
        .unwrap_or_default();
    function_library.sort();
    // saved_model_cli's "ops used": graph and function-body node ops, minus calls of library
    // functions by name (meta_graph.ops_used_by_graph_def).
    let mut ops = std::collections::BTreeSet::new();
    if let Some(g) = meta.graph_def.as_ref() {
        let fn_names: std::collections::HashSet<&str> =
            function_library.iter().map(String::as_str).collect();
        let bodies = g
            .library
            .iter()
            .flat_map(|l| l.function.iter())
            .flat_map(|f| f.node_def.iter());
        for n in g.node.iter().chain(bodies) {
            if !fn_names.contains(n.op.as_str()) {
                ops.insert(n.op.clone());
            }
        }
    }

    Ok(SavedModelInfo {
        schema_version: sm.saved_model_schema_version,
        tags: info.tags,
        tensorflow_version: info.tensorflow_version,
        tensorflow_git_version: info.tensorflow_git_version,
        signatures,
        nodes,
        function_library,
        ops: ops.into_iter().collect(),
        concrete_functions: graph.concrete_functions.keys().cloned().collect(),
        asset_files: meta
            .asset_file_def
            .into_iter()
            .map(|a| a.filename)
            .collect(),
        keras_metadata: None,
        fingerprint: None,
    })
}

/// Decodes all of `saved_model.pb` with the complete generated types (graph nodes, attributes,
/// constants, the op list), which [`parse_saved_model`] skips; for `verify`.
pub fn check_full_decode(bytes: &[u8]) -> Result<()> {
    SavedModel::decode(bytes)
        .map(drop)
        .map_err(|e| decode_error("SavedModel", &e))
}

/// Decodes `keras_metadata.pb` and checks every node id against `node_count` (the object
/// graph's). The metadata JSON is kept as text.
pub fn parse_keras_metadata(bytes: &[u8], node_count: usize) -> Result<Vec<KerasNode>> {
    let md = SavedMetadata::decode(bytes).map_err(|e| decode_error("SavedMetadata", &e))?;
    let mut out = Vec::with_capacity(md.nodes.len());
    for n in md.nodes {
        let at = || format!("keras metadata node {:?}", n.node_path);
        let node_id = node_index(n.node_id, node_count, &at)?;
        let version = n
            .version
            .map(|v| (v.producer, v.min_consumer))
            .unwrap_or((0, 0));
        out.push(KerasNode {
            node_id,
            node_path: n.node_path,
            identifier: n.identifier,
            metadata: n.metadata,
            version,
        });
    }
    Ok(out)
}

/// Decodes `fingerprint.pb`.
pub fn parse_fingerprint(bytes: &[u8]) -> Result<Fingerprint> {
    let f = FingerprintDef::decode(bytes).map_err(|e| decode_error("FingerprintDef", &e))?;
    Ok(Fingerprint {
        saved_model_checksum: f.saved_model_checksum,
        graph_def_program_hash: f.graph_def_program_hash,
        signature_def_hash: f.signature_def_hash,
        saved_object_graph_hash: f.saved_object_graph_hash,
        checkpoint_hash: f.checkpoint_hash,
        uuid: f.uuid,
        producer: f.version.map_or(0, |v| v.producer),
    })
}

/// Matches the SavedObjectGraph onto the bundle's object graph the way TF's restore does:
/// both are walked from their roots together, a child matching the child of the same local
/// name; then slot variables are matched through (optimizer, original variable, slot name).
/// Returns, per SavedObjectGraph node, the bundle node id. Node ids of `bundle` are checked.
/// Every node is visited once, so cycles terminate.
pub fn match_bundle_graph(
    nodes: &[Node],
    bundle: &TrackableObjectGraph,
) -> Result<Vec<Option<usize>>> {
    let count = bundle.nodes.len();
    let mut map: Vec<Option<usize>> = vec![None; nodes.len()];
    if nodes.is_empty() || count == 0 {
        return Ok(map);
    }
    map[0] = Some(0);
    let mut queue = VecDeque::from([0usize]);
    // Children by name per bundle node, built once (several nodes may match one bundle node).
    let mut child_maps: HashMap<usize, HashMap<&str, usize>> = HashMap::new();
    while let Some(s) = queue.pop_front() {
        let Some(c) = map[s] else { continue };
        if let Entry::Vacant(slot) = child_maps.entry(c) {
            let mut by_name = HashMap::new();
            for r in &bundle.nodes[c].children {
                let at = || format!("checkpoint object graph node {c} child {:?}", r.local_name);
                let id = node_index(r.node_id, count, &at)?;
                by_name.entry(r.local_name.as_str()).or_insert(id);
            }
            slot.insert(by_name);
        }
        let by_name = &child_maps[&c];
        for (name, child) in &nodes[s].children {
            if map[*child].is_none() {
                if let Some(&cc) = by_name.get(name.as_str()) {
                    map[*child] = Some(cc);
                    queue.push_back(*child);
                }
            }
        }
    }
    // Slot variables: one pass per level of slot-of-slot nesting; each pass that changes
    // anything maps at least one more node, and real graphs need one pass (bounded anyway).
    // Per bundle node, (original variable, slot name) -> slot node, built once: one hash lookup
    // per slot, so many slots (or many nodes matched onto one bundle node) cost linear time.
    let mut slot_maps: HashMap<usize, HashMap<(usize, &str), usize>> = HashMap::new();
    for _ in 0..16 {
        let mut changed = false;
        for node in nodes {
            if node.slot_variables.is_empty() {
                continue;
            }
            let Some(c) = map[node.id] else { continue };
            if let Entry::Vacant(entry) = slot_maps.entry(c) {
                let mut by_key = HashMap::new();
                for r in &bundle.nodes[c].slot_variables {
                    let at = || format!("checkpoint object graph node {c} slot {:?}", r.slot_name);
                    let orig_c = node_index(r.original_variable_node_id, count, &at)?;
                    let slot_c = node_index(r.slot_variable_node_id, count, &at)?;
                    by_key
                        .entry((orig_c, r.slot_name.as_str()))
                        .or_insert(slot_c);
                }
                entry.insert(by_key);
            }
            let by_key = &slot_maps[&c];
            for (orig, slot_name, slot) in &node.slot_variables {
                if map[*slot].is_some() {
                    continue;
                }
                let Some(orig_c) = map[*orig] else { continue };
                if let Some(&slot_c) = by_key.get(&(orig_c, slot_name.as_str())) {
                    map[*slot] = Some(slot_c);
                    changed = true;
                }
            }
        }
        if !changed {
            break;
        }
    }
    Ok(map)
}

/// Sets `checkpoint_key` on every variable node. With the bundle's object graph, the key is the
/// `VARIABLE_VALUE` attribute of the matched bundle node ([`match_bundle_graph`]); without one
/// (or for a node the walk does not reach) it falls back to the BFS object path of the node,
/// `path/.ATTRIBUTES/VARIABLE_VALUE`, when `has_key` says the bundle holds that key.
pub fn map_checkpoint_keys(
    info: &mut SavedModelInfo,
    bundle_graph: Option<&TrackableObjectGraph>,
    has_key: &dyn Fn(&str) -> bool,
) -> Result<()> {
    let matched = match bundle_graph {
        Some(g) => match_bundle_graph(&info.nodes, g)?,
        None => vec![None; info.nodes.len()],
    };
    let from_graph: Vec<Option<String>> = (0..info.nodes.len())
        .map(|id| {
            if info.nodes[id].kind != NodeKind::Variable {
                return None;
            }
            let c = matched[id]?;
            bundle_graph?.nodes[c]
                .attributes
                .iter()
                .find(|a| a.name == VARIABLE_VALUE_KEY)
                .map(|a| a.checkpoint_key.clone())
        })
        .collect();
    // Fallback paths: a long chain of variable nodes makes their total size quadratic, so the
    // total is computed first (O(nodes)) and refused past a budget before any path is built.
    let tree = info.bfs_tree();
    let needs_path: Vec<bool> = (0..info.nodes.len())
        .map(|id| {
            info.nodes[id].kind == NodeKind::Variable
                && from_graph[id].is_none()
                && tree.is_reachable(id)
        })
        .collect();
    let total = (0..info.nodes.len())
        .filter(|&id| needs_path[id])
        .fold(0u64, |acc, id| acc.saturating_add(tree.path_bytes(id)));
    if total > FALLBACK_PATH_BUDGET {
        return Err(Error::corrupt(format!(
            "object paths of the variables exceed {FALLBACK_PATH_BUDGET} bytes ({total} bytes; \
             a chain of nested variable nodes?)"
        )));
    }
    let mut keys = Vec::with_capacity(info.nodes.len());
    for (id, found) in from_graph.into_iter().enumerate() {
        if found.is_some() || !needs_path[id] {
            keys.push(found);
            continue;
        }
        let key = tree
            .path(&info.nodes, id)
            .map(|path| checkpoint_key(&object_path_string(&path), VARIABLE_VALUE_KEY));
        keys.push(key.filter(|k| has_key(k)));
    }
    for (node, key) in info.nodes.iter_mut().zip(keys) {
        node.checkpoint_key = key;
    }
    Ok(())
}

/// The SavedModel directory for `path`: the directory itself, or the parent of a path naming
/// `saved_model.pb`. A directory with only `saved_model.pbtxt` / `saved_model.cpb` is
/// `Unsupported`; one with none of them is `Io(NotFound)` on `saved_model.pb`.
pub fn resolve_dir(path: &Path) -> Result<PathBuf> {
    if path.is_file() {
        let name = path.file_name().and_then(|n| n.to_str()).unwrap_or("");
        return match name {
            SAVED_MODEL_PB => Ok(path.parent().map(Path::to_path_buf).unwrap_or_default()),
            SAVED_MODEL_PBTXT | SAVED_MODEL_CPB => Err(unsupported_variant(name).in_file(path)),
            _ => Err(Error::unsupported(
                "not a SavedModel (expected a directory or saved_model.pb)",
            )
            .in_file(path)),
        };
    }
    if path.join(SAVED_MODEL_PB).is_file() {
        return Ok(path.to_path_buf());
    }
    for alt in [SAVED_MODEL_PBTXT, SAVED_MODEL_CPB] {
        let p = path.join(alt);
        if p.is_file() {
            return Err(unsupported_variant(alt).in_file(&p));
        }
    }
    let pb = path.join(SAVED_MODEL_PB);
    Err(Error::io(
        pb,
        std::io::Error::new(
            std::io::ErrorKind::NotFound,
            "no saved_model.pb in the directory",
        ),
    ))
}

fn unsupported_variant(name: &str) -> Error {
    if name == SAVED_MODEL_PBTXT {
        Error::unsupported("saved_model.pbtxt (text-format SavedModel); re-save in binary form")
    } else {
        Error::unsupported(
            "saved_model.cpb (chunked SavedModel for protos over 2 GiB, riegeli + proto splitter)",
        )
    }
}

fn map_bounded(path: &Path) -> Result<MappedFile> {
    let len = std::fs::metadata(path)
        .map_err(|e| Error::io(path, e))?
        .len();
    if len > MAX_PROTO_BYTES {
        return Err(Error::unsupported(format!(
            "{len} bytes is over protobuf's 2 GiB message limit"
        ))
        .in_file(path));
    }
    MappedFile::open(path)
}

fn read_optional(dir: &Path, name: &str) -> Result<Option<MappedFile>> {
    let p = dir.join(name);
    if p.is_file() {
        Ok(Some(map_bounded(&p)?))
    } else {
        Ok(None)
    }
}

/// The prefix of the variables bundle of a SavedModel directory.
pub fn variables_prefix(dir: &Path) -> PathBuf {
    dir.join("variables").join("variables")
}

/// Reads a SavedModel directory (or its `saved_model.pb`): the decoded protos, checkpoint keys
/// for every variable node, keras metadata and fingerprint when present.
///
/// The bundle is opened (index only) when `variables/variables.index` exists. Errors name the
/// file: `Corrupt` if a variable node's key is missing from the bundle, if the graph has
/// variables but there is no bundle, or if the bundle's object graph is bad.
pub fn read_saved_model(path: &Path) -> Result<SavedModelInfo> {
    let dir = resolve_dir(path)?;
    let pb = dir.join(SAVED_MODEL_PB);
    let mapped = map_bounded(&pb)?;
    let mut info = parse_saved_model(mapped.bytes()).map_err(|e| e.in_file(&pb))?;
    drop(mapped);
    if let Some(m) = read_optional(&dir, KERAS_METADATA_PB)? {
        let at = dir.join(KERAS_METADATA_PB);
        info.keras_metadata =
            Some(parse_keras_metadata(m.bytes(), info.nodes.len()).map_err(|e| e.in_file(&at))?);
    }
    if let Some(m) = read_optional(&dir, FINGERPRINT_PB)? {
        let at = dir.join(FINGERPRINT_PB);
        info.fingerprint = Some(parse_fingerprint(m.bytes()).map_err(|e| e.in_file(&at))?);
    }
    let prefix = variables_prefix(&dir);
    let index = crate::bundle::naming::index_path(&prefix);
    let has_variables = info.nodes.iter().any(|n| n.kind == NodeKind::Variable);
    if !index.is_file() {
        if has_variables {
            return Err(Error::corrupt(
                "the object graph has variables but variables/variables.index is missing",
            )
            .in_file(&dir));
        }
        return Ok(info);
    }
    let bundle = BundleReader::open(&prefix)?;
    let graph = bundle.object_graph()?;
    let has_key = |k: &str| bundle.entry(k.as_bytes()).is_ok();
    map_checkpoint_keys(&mut info, graph.as_ref(), &has_key).map_err(|e| e.in_file(&index))?;
    let tree = info.bfs_tree();
    for node in &info.nodes {
        if node.kind != NodeKind::Variable {
            continue;
        }
        if node.checkpoint_key.as_deref().is_some_and(has_key) {
            continue;
        }
        let name = node.variable.as_ref().map_or("", |v| v.name.as_str());
        let where_ = tree
            .path(&info.nodes, node.id)
            .map(|p| format!("path {:?}", p.join("/")))
            .unwrap_or_else(|| "unreachable from the root".to_owned());
        match &node.checkpoint_key {
            None => {
                return Err(Error::corrupt(format!(
                    "variable node {} ({name:?}, {where_}) has no value in variables/",
                    node.id
                ))
                .in_file(&index))
            }
            Some(k) if !has_key(k) => {
                return Err(Error::corrupt(format!(
                    "variable node {} ({name:?}, {where_}): key {k:?} is missing from variables/",
                    node.id
                ))
                .in_file(&index))
            }
            Some(_) => {}
        }
    }
    Ok(info)
}

/// Everything [`read_saved_model`] checks, plus a complete decode of `saved_model.pb` (graph
/// nodes, attributes and constants that reading skips). The tensor data is not read; the bundle
/// has its own `verify_all`.
pub fn verify_saved_model(path: &Path) -> Result<SavedModelInfo> {
    let info = read_saved_model(path)?;
    let pb = resolve_dir(path)?.join(SAVED_MODEL_PB);
    let mapped = map_bounded(&pb)?;
    check_full_decode(mapped.bytes()).map_err(|e| e.in_file(&pb))?;
    Ok(info)
}
