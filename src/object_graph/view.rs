//! A validated `TrackableObjectGraph` with every node's path, as TF's saver derives it.
//!
//! ```text
//! node 0 (root, path [])
//!   -- BFS over `children` in order; a node keeps the first path that reaches it --
//!   node k: path [name, name, ...]    object path "esc(name)/esc(name)/..."
//! slot nodes (listed in an optimizer's `slot_variables`, nobody's child):
//!   path(variable) + [".OPTIMIZER_SLOT"] + path(optimizer) + [slot_name]
//! ```
//! Children may legitimately form cycles and aliases (`model.optimizer` next to the root's
//! `optimizer`, a functional model's `root` self-edge, `layer-0` next to
//! `layer_with_weights-0`); BFS skips visited nodes, so every node is placed once.

use std::collections::{HashMap, VecDeque};

use prost::Message;

use super::keys::{checkpoint_key, escape_local_name, slot_variable_path, OPTIMIZER_SLOTS_NAME};
use crate::ensure_corrupt;
use crate::error::{Error, Result};
use crate::proto::tensorflow::TrackableObjectGraph;

/// Most nodes a graph may have. Real models have thousands; the cap bounds the per-node tables
/// built here before anything else is checked.
pub const MAX_NODES: usize = 10_000_000;

/// Where a slot variable comes from: `optimizer_node.slot_variables` holds
/// `(original_node, slot_name, this node)`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SlotInfo {
    pub original_node: usize,
    pub optimizer_node: usize,
    pub slot_name: String,
}

/// One `SerializedTensor` of one reachable node. Every attribute is listed, not only
/// `VARIABLE_VALUE` ones (lookup tables, `py_state`, `_serialize_to_tensors` tensors).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VariableInfo {
    /// Node id in the graph.
    pub node: usize,
    /// Unescaped local names from the root. A slot variable's path is
    /// `variable path + [".OPTIMIZER_SLOT"] + optimizer path + [slot name]`; `slot` tells it
    /// apart from a user object that happens to be named `.OPTIMIZER_SLOT`.
    pub path: Vec<String>,
    /// `SerializedTensor.name` as stored (`VARIABLE_VALUE`, or an already-escaped tensor name).
    pub attribute: String,
    /// The bundle key as stored. Usually equal to the derived key, but TF restores by this one,
    /// and for a multi-tensor legacy saveable it is only a prefix of the bundle keys.
    pub checkpoint_key: String,
    /// The variable's own name (`dense_a/kernel`), without `:0`.
    pub full_name: String,
    pub slot: Option<SlotInfo>,
}

/// A graph whose node ids were all checked, with paths computed. See the module doc.
#[derive(Debug, Clone)]
pub struct ObjectGraphView {
    graph: TrackableObjectGraph,
    /// Unescaped path per node; `None` for nodes that neither BFS nor a slot reference reaches
    /// (TF's restore never visits those).
    paths: Vec<Option<Vec<String>>>,
    /// The escaped object path per node, TF's `object_names`.
    object_paths: Vec<Option<String>>,
    slots: Vec<Option<SlotInfo>>,
    variables: Vec<VariableInfo>,
    by_key: HashMap<String, usize>,
}

/// A proto `int32` node id -> an index, or why not.
fn node_index(id: i32, len: usize, what: &str, at: usize) -> Result<usize> {
    usize::try_from(id)
        .ok()
        .filter(|&i| i < len)
        .ok_or_else(|| {
            Error::corrupt(format!(
                "object graph: node {at}: {what} node id {id} out of range (graph has {len} nodes)"
            ))
        })
}

fn escaped_len(name: &str) -> usize {
    name.len() + name.bytes().filter(|&b| b == b'.' || b == b'/').count()
}

/// How a node got its path: the parent and edge (BFS) or a slot reference.
#[derive(Clone, Copy)]
enum Origin {
    Root,
    Child { parent: usize, edge: usize },
    Slot { optimizer: usize, reference: usize },
}

impl ObjectGraphView {
    /// Validates `graph` and computes every node's path.
    ///
    /// [`Error::Corrupt`] when there is no root node, more than [`MAX_NODES`] nodes, a child or
    /// slot reference names a node id outside the graph, or the paths would take far more memory
    /// than the graph itself (a deep chain has quadratic total path length).
    pub fn new(graph: TrackableObjectGraph) -> Result<Self> {
        let n = graph.nodes.len();
        ensure_corrupt!(n > 0, "object graph has no nodes (no root object)");
        ensure_corrupt!(
            n <= MAX_NODES,
            "object graph has {n} nodes, more than {MAX_NODES}"
        );

        // Check every id up front so the walks below can index freely.
        let mut slot_refs = Vec::new(); // (optimizer, reference index, original, slot node)
        for (at, node) in graph.nodes.iter().enumerate() {
            for child in &node.children {
                node_index(child.node_id, n, "child", at)?;
            }
            for (r, slot) in node.slot_variables.iter().enumerate() {
                let original = node_index(slot.original_variable_node_id, n, "slot original", at)?;
                let slot_node = node_index(slot.slot_variable_node_id, n, "slot variable", at)?;
                slot_refs.push((at, r, original, slot_node));
            }
        }

        // BFS from the root; first path wins. `order` is parents-before-children.
        let mut origin: Vec<Option<Origin>> = vec![None; n];
        origin[0] = Some(Origin::Root);
        let mut order = Vec::new();
        let mut queue = VecDeque::from([0usize]);
        while let Some(u) = queue.pop_front() {
            order.push(u);
            for (edge, child) in graph.nodes[u].children.iter().enumerate() {
                let v = child.node_id as usize; // checked above
                if origin[v].is_none() {
                    origin[v] = Some(Origin::Child { parent: u, edge });
                    queue.push_back(v);
                }
            }
        }

        // Slot variables, after all BFS nodes, as TF names them: only slots of reachable
        // optimizers for reachable (non-slot) variables get a path; a slot node that is also
        // somebody's child keeps its BFS path (TF refuses to save such a graph).
        let mut slots: Vec<Option<SlotInfo>> = vec![None; n];
        for &(optimizer, reference, original, slot_node) in &slot_refs {
            if slots[slot_node].is_none() {
                slots[slot_node] = Some(SlotInfo {
                    original_node: original,
                    optimizer_node: optimizer,
                    slot_name: graph.nodes[optimizer].slot_variables[reference]
                        .slot_name
                        .clone(),
                });
            }
            let placed = |i: usize| matches!(origin[i], Some(Origin::Root | Origin::Child { .. }));
            if origin[slot_node].is_none() && placed(optimizer) && placed(original) {
                origin[slot_node] = Some(Origin::Slot {
                    optimizer,
                    reference,
                });
                order.push(slot_node);
            }
        }

        // Budget the paths before building them: components and bytes per node, summed over
        // the node itself and each of its attributes (each VariableInfo holds a copy).
        let mut comps = vec![0u64; n];
        let mut bytes = vec![0u64; n];
        let mut cost: u64 = 0;
        for &v in &order {
            let (c, b) = match origin[v] {
                Some(Origin::Child { parent, edge }) => {
                    let name = &graph.nodes[parent].children[edge].local_name;
                    (
                        comps[parent] + 1,
                        bytes[parent] + escaped_len(name) as u64 + 1,
                    )
                }
                Some(Origin::Slot {
                    optimizer,
                    reference,
                }) => {
                    let r = &graph.nodes[optimizer].slot_variables[reference];
                    let original = r.original_variable_node_id as usize;
                    (
                        comps[original] + comps[optimizer] + 2,
                        bytes[original]
                            + bytes[optimizer]
                            + OPTIMIZER_SLOTS_NAME.len() as u64
                            + escaped_len(&r.slot_name) as u64
                            + 3,
                    )
                }
                Some(Origin::Root) | None => (0, 0),
            };
            comps[v] = c;
            bytes[v] = b;
            let copies = 2 + 2 * graph.nodes[v].attributes.len() as u64;
            let per_copy = c.saturating_mul(32).saturating_add(b);
            cost = cost.saturating_add(per_copy.saturating_mul(copies));
        }
        let encoded = graph.encoded_len() as u64;
        let budget = (64u64 << 20)
            .saturating_add(32u64.saturating_mul(encoded))
            .min(4u64 << 30);
        ensure_corrupt!(
            cost <= budget,
            "object graph paths are too long: about {cost} bytes of paths for a graph of {encoded} bytes"
        );

        let mut paths: Vec<Option<Vec<String>>> = vec![None; n];
        let mut object_paths: Vec<Option<String>> = vec![None; n];
        for &v in &order {
            let (path, object_path) = match origin[v] {
                Some(Origin::Root) | None => (Vec::new(), String::new()),
                Some(Origin::Child { parent, edge }) => {
                    let name = &graph.nodes[parent].children[edge].local_name;
                    let mut path = paths[parent].clone().unwrap_or_default();
                    path.push(name.clone());
                    let parent_path = object_paths[parent].as_deref().unwrap_or_default();
                    let object_path = if path.len() == 1 {
                        escape_local_name(name)
                    } else {
                        format!("{parent_path}/{}", escape_local_name(name))
                    };
                    (path, object_path)
                }
                Some(Origin::Slot {
                    optimizer,
                    reference,
                }) => {
                    let r = &graph.nodes[optimizer].slot_variables[reference];
                    let original = r.original_variable_node_id as usize;
                    let mut path = paths[original].clone().unwrap_or_default();
                    path.push(OPTIMIZER_SLOTS_NAME.to_owned());
                    path.extend(paths[optimizer].iter().flatten().cloned());
                    path.push(r.slot_name.clone());
                    let object_path = slot_variable_path(
                        object_paths[original].as_deref().unwrap_or_default(),
                        object_paths[optimizer].as_deref().unwrap_or_default(),
                        &r.slot_name,
                    );
                    (path, object_path)
                }
            };
            paths[v] = Some(path);
            object_paths[v] = Some(object_path);
        }

        let mut variables = Vec::new();
        let mut by_key = HashMap::new();
        for (node, proto) in graph.nodes.iter().enumerate() {
            let Some(path) = &paths[node] else { continue };
            for attribute in &proto.attributes {
                by_key
                    .entry(attribute.checkpoint_key.clone())
                    .or_insert(variables.len());
                variables.push(VariableInfo {
                    node,
                    path: path.clone(),
                    attribute: attribute.name.clone(),
                    checkpoint_key: attribute.checkpoint_key.clone(),
                    full_name: attribute.full_name.clone(),
                    slot: slots[node].clone(),
                });
            }
        }
        Ok(ObjectGraphView {
            graph,
            paths,
            object_paths,
            slots,
            variables,
            by_key,
        })
    }

    /// The graph as decoded.
    pub fn graph(&self) -> &TrackableObjectGraph {
        &self.graph
    }

    /// Gives the graph back (for rewriting it).
    pub fn into_graph(self) -> TrackableObjectGraph {
        self.graph
    }

    pub fn num_nodes(&self) -> usize {
        self.graph.nodes.len()
    }

    /// Unescaped local names from the root (`[]` for the root); `None` for an id out of range or
    /// a node that restore would never reach.
    pub fn node_path(&self, node: usize) -> Option<&[String]> {
        self.paths.get(node)?.as_deref()
    }

    /// The escaped object path TF builds keys from (`"model/layer_with_weights-0/kernel"`, `""`
    /// for the root).
    pub fn object_path(&self, node: usize) -> Option<&str> {
        self.object_paths.get(node)?.as_deref()
    }

    /// Set when `node` is listed in some optimizer's `slot_variables` (the first listing).
    pub fn slot_info(&self, node: usize) -> Option<&SlotInfo> {
        self.slots.get(node)?.as_ref()
    }

    /// Every attribute of every reachable node, in node order then attribute order.
    pub fn variables(&self) -> Vec<VariableInfo> {
        self.variables.clone()
    }

    /// [`Self::variables`] without the copy.
    pub fn variables_ref(&self) -> &[VariableInfo] {
        &self.variables
    }

    /// The attribute stored under `key`. Falls back to the longest stored `checkpoint_key` that
    /// is a prefix of `key`, because a legacy multi-tensor saveable records only a prefix
    /// (`t/.ATTRIBUTES/table` for the bundle keys `t/.ATTRIBUTES/table-keys`, `-values`).
    pub fn by_key(&self, key: &str) -> Option<&VariableInfo> {
        if let Some(&i) = self.by_key.get(key) {
            return self.variables.get(i);
        }
        let start = key.find("/.ATTRIBUTES/")? + "/.ATTRIBUTES/".len();
        (start..key.len())
            .rev()
            .filter(|&end| key.is_char_boundary(end))
            .find_map(|end| self.by_key.get(&key[..end]))
            .and_then(|&i| self.variables.get(i))
    }

    /// The node reached from the root by following `children` named `path`, the way TF's
    /// restore walks a checkpoint: any edge counts, aliases included (`layer-0` as well as
    /// `layer_with_weights-0`). Slot variables are not children and are not found this way.
    pub fn node_at<S: AsRef<str>>(&self, path: &[S]) -> Option<usize> {
        let mut node = 0usize;
        for name in path {
            let child = self
                .graph
                .nodes
                .get(node)?
                .children
                .iter()
                .find(|c| c.local_name == name.as_ref())?;
            node = child.node_id as usize; // validated in `new`
        }
        Some(node)
    }

    /// The stored `checkpoint_key` of `attribute` (usually `VARIABLE_VALUE`) on the object at
    /// `path` (unescaped local names, walked as in [`Self::node_at`]).
    pub fn path_to_key<S: AsRef<str>>(&self, path: &[S], attribute: &str) -> Option<&str> {
        let node = self.node_at(path)?;
        self.graph.nodes[node]
            .attributes
            .iter()
            .find(|a| a.name == attribute)
            .map(|a| a.checkpoint_key.as_str())
    }

    /// The key TF would derive today for `attribute` on `node`, from the node's path. For a
    /// TF-written graph it equals the stored key (tf_formats.md §4.4); a mismatch means the graph
    /// was written by something else (restore still uses the stored key).
    pub fn derived_key(&self, node: usize, attribute: &str) -> Option<String> {
        Some(checkpoint_key(self.object_path(node)?, attribute))
    }

    /// Attributes whose stored key differs from the derived one, with the derived key.
    pub fn mismatched_keys(&self) -> Vec<(&VariableInfo, String)> {
        self.variables
            .iter()
            .filter_map(|v| {
                let derived = self.derived_key(v.node, &v.attribute)?;
                (derived != v.checkpoint_key).then_some((v, derived))
            })
            .collect()
    }

    /// Nodes that restore never visits (no BFS path, no slot path).
    pub fn unreachable_nodes(&self) -> usize {
        self.paths.iter().filter(|p| p.is_none()).count()
    }

    /// A few human lines for the CLI: counts and the root's children.
    pub fn summary(&self) -> String {
        let slot_variables = self.variables.iter().filter(|v| v.slot.is_some()).count();
        let mut out = format!(
            "object graph: {} nodes, {} attributes ({} slot variables)",
            self.num_nodes(),
            self.variables.len(),
            slot_variables
        );
        let unreachable = self.unreachable_nodes();
        if unreachable > 0 {
            out.push_str(&format!(", {unreachable} unreachable nodes"));
        }
        const SHOWN: usize = 20;
        let children = &self.graph.nodes[0].children;
        let mut names: Vec<&str> = children
            .iter()
            .take(SHOWN)
            .map(|c| c.local_name.as_str())
            .collect();
        let more = children.len().saturating_sub(SHOWN);
        let more = format!("... ({more} more)");
        if children.len() > SHOWN {
            names.push(&more);
        }
        out.push_str("\nroot children: ");
        out.push_str(&names.join(", "));
        out
    }
}
