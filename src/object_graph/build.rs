//! Building a `TrackableObjectGraph` from checkpoint keys, for writers.
//!
//! TF restores by walking the checkpoint's graph from the root and matching children by name
//! (tf_formats.md §4.3), so a bundle without a graph cannot be restored by
//! `tf.train.Checkpoint`. The keys already spell out the tree:
//!
//! ```text
//! model/dense/kernel/.ATTRIBUTES/VARIABLE_VALUE           root -model-> n -dense-> n -kernel-> n
//! model/dense/kernel/.OPTIMIZER_SLOT/optimizer/m/.ATTRIBUTES/VARIABLE_VALUE
//!         -> a slot node (no parent) + SlotVariableReference(kernel, "m", slot) on `optimizer`
//! ```
//! The graph is shaped as TF writes it: node ids in BFS order (children in first-appearance
//! order of the keys), slot nodes after all tree nodes, ordered by optimizer, then slot name,
//! then variable, and `has_checkpoint_values` on every node.

use std::collections::{HashMap, HashSet, VecDeque};

use super::keys::{parse_checkpoint_key, KeyOwner, OBJECT_GRAPH_PROTO_KEY};
use crate::error::{Error, Result};
use crate::proto::tensorflow::trackable_object_graph::trackable_object::{
    ObjectReference, SerializedTensor, SlotVariableReference,
};
use crate::proto::tensorflow::trackable_object_graph::TrackableObject;
use crate::proto::tensorflow::TrackableObjectGraph;

/// A graph whose BFS paths reproduce `keys` exactly, so `tf.train.Checkpoint.restore()` finds
/// every tensor. `full_name`s are the unescaped object paths (the variables' own names are not
/// in the keys; see [`build_object_graph_with_names`]).
///
/// [`Error::InvalidArgument`] for a key that is not an object-based checkpoint key (no
/// `/.ATTRIBUTES/`, or a name no escaping produces) and for a repeated key. The
/// `_CHECKPOINTABLE_OBJECT_GRAPH` key itself is skipped.
pub fn build_object_graph(keys: &[&str]) -> Result<TrackableObjectGraph> {
    build(keys.iter().map(|&k| (k, None)))
}

/// [`build_object_graph`] with a `full_name` per key (the variable's name, such as
/// `dense/kernel`), which TF shows in `tf.train.list_variables` tooling and name-based restores.
pub fn build_object_graph_with_names(entries: &[(&str, &str)]) -> Result<TrackableObjectGraph> {
    build(entries.iter().map(|&(k, n)| (k, Some(n))))
}

#[derive(Default)]
struct TreeNode {
    children: Vec<(String, usize)>,
    child_by_name: HashMap<String, usize>,
    attributes: Vec<SerializedTensor>,
}

struct Slot {
    optimizer: usize,
    slot_name: String,
    variable: usize,
    attributes: Vec<SerializedTensor>,
}

struct Tree {
    nodes: Vec<TreeNode>,
}

impl Tree {
    /// The node at `path`, creating missing nodes (in order, so children keep the order in
    /// which keys first mention them).
    fn node_for(&mut self, path: &[String]) -> usize {
        let mut node = 0;
        for name in path {
            node = match self.nodes[node].child_by_name.get(name) {
                Some(&child) => child,
                None => {
                    let child = self.nodes.len();
                    self.nodes.push(TreeNode::default());
                    let parent = &mut self.nodes[node];
                    parent.children.push((name.clone(), child));
                    parent.child_by_name.insert(name.clone(), child);
                    child
                }
            };
        }
        node
    }
}

fn build<'a>(
    entries: impl Iterator<Item = (&'a str, Option<&'a str>)>,
) -> Result<TrackableObjectGraph> {
    let mut tree = Tree {
        nodes: vec![TreeNode::default()],
    };
    let mut slots: Vec<Slot> = Vec::new();
    let mut slot_by_id: HashMap<(usize, String, usize), usize> = HashMap::new();
    let mut seen: HashSet<&str> = HashSet::new();

    for (key, full_name) in entries {
        if key == OBJECT_GRAPH_PROTO_KEY {
            continue;
        }
        let parsed = match parse_checkpoint_key(key) {
            Ok(Some(parsed)) => parsed,
            Ok(None) => {
                return Err(Error::InvalidArgument(format!(
                    "{key:?} is not an object-based checkpoint key (no \"/.ATTRIBUTES/\")"
                )))
            }
            Err(e) => return Err(Error::InvalidArgument(format!("bad checkpoint key: {e}"))),
        };
        if !seen.insert(key) {
            return Err(Error::InvalidArgument(format!(
                "checkpoint key {key:?} given twice"
            )));
        }
        let default_name = || match &parsed.owner {
            KeyOwner::Object(path) => path.join("/"),
            KeyOwner::Slot {
                variable,
                slot_name,
                ..
            } => format!("{}/{slot_name}", variable.join("/")),
        };
        let tensor = SerializedTensor {
            name: parsed.attribute.clone(),
            full_name: full_name.map_or_else(default_name, str::to_owned),
            checkpoint_key: key.to_owned(),
        };
        match &parsed.owner {
            KeyOwner::Object(path) => {
                let node = tree.node_for(path);
                tree.nodes[node].attributes.push(tensor);
            }
            KeyOwner::Slot {
                variable,
                optimizer,
                slot_name,
            } => {
                let variable = tree.node_for(variable);
                let optimizer = tree.node_for(optimizer);
                let id = (optimizer, slot_name.clone(), variable);
                let at = *slot_by_id.entry(id).or_insert_with(|| {
                    slots.push(Slot {
                        optimizer,
                        slot_name: slot_name.clone(),
                        variable,
                        attributes: Vec::new(),
                    });
                    slots.len() - 1
                });
                slots[at].attributes.push(tensor);
            }
        }
    }

    // Final ids: BFS dequeue order. In a tree this is also enqueue order, and each node is met
    // once, so the BFS a reader runs gives every node back the path it was created under.
    let mut final_id = vec![0usize; tree.nodes.len()];
    let mut order = Vec::with_capacity(tree.nodes.len());
    let mut queue = VecDeque::from([0usize]);
    while let Some(u) = queue.pop_front() {
        final_id[u] = order.len();
        order.push(u);
        queue.extend(tree.nodes[u].children.iter().map(|&(_, c)| c));
    }

    // Slot nodes as TF's `serialize_slot_variables` numbers them: optimizers in BFS order, each
    // optimizer's slot names in the order first seen, variables in BFS order.
    let mut slot_order: Vec<usize> = (0..slots.len()).collect();
    let mut name_rank: HashMap<(usize, &str), usize> = HashMap::new();
    for s in &slots {
        let next = name_rank.len();
        name_rank
            .entry((s.optimizer, s.slot_name.as_str()))
            .or_insert(next);
    }
    slot_order.sort_by_key(|&i| {
        let s = &slots[i];
        (
            final_id[s.optimizer],
            name_rank[&(s.optimizer, s.slot_name.as_str())],
            final_id[s.variable],
        )
    });

    let total = order.len() + slots.len();
    let as_id = |i: usize| {
        i32::try_from(i).map_err(|_| {
            Error::InvalidArgument(format!("{total} objects do not fit an int32 node id"))
        })
    };

    let mut slot_refs: Vec<Vec<SlotVariableReference>> = vec![Vec::new(); order.len()];
    let mut slot_nodes = Vec::with_capacity(slots.len());
    for (k, &i) in slot_order.iter().enumerate() {
        let s = &mut slots[i];
        slot_refs[final_id[s.optimizer]].push(SlotVariableReference {
            original_variable_node_id: as_id(final_id[s.variable])?,
            slot_name: s.slot_name.clone(),
            slot_variable_node_id: as_id(order.len() + k)?,
        });
        slot_nodes.push(TrackableObject {
            attributes: std::mem::take(&mut s.attributes),
            ..Default::default()
        });
    }

    let mut nodes: Vec<TrackableObject> = Vec::with_capacity(total);
    for (id, &u) in order.iter().enumerate() {
        let tree_node = &mut tree.nodes[u];
        let children = tree_node
            .children
            .iter()
            .map(|(name, c)| {
                Ok(ObjectReference {
                    node_id: as_id(final_id[*c])?,
                    local_name: name.clone(),
                })
            })
            .collect::<Result<Vec<_>>>()?;
        nodes.push(TrackableObject {
            children,
            attributes: std::mem::take(&mut tree_node.attributes),
            slot_variables: std::mem::take(&mut slot_refs[id]),
            ..Default::default()
        });
    }

    nodes.extend(slot_nodes);
    let mut graph = TrackableObjectGraph { nodes };
    fill_has_checkpoint_values(&mut graph);
    Ok(graph)
}

/// Sets `has_checkpoint_values` on every node as TF's `add_checkpoint_values_check` does: true
/// for a node with attributes, slot variables or a registered saver, and for every node from
/// which one is reachable over `children` (cycles included); false elsewhere. TF's restore skips
/// subtrees marked false. Out-of-range child ids are ignored.
pub fn fill_has_checkpoint_values(graph: &mut TrackableObjectGraph) {
    let n = graph.nodes.len();
    let mut parents: Vec<Vec<usize>> = vec![Vec::new(); n];
    for (id, node) in graph.nodes.iter().enumerate() {
        for child in &node.children {
            if let Some(p) = usize::try_from(child.node_id)
                .ok()
                .and_then(|c| parents.get_mut(c))
            {
                p.push(id);
            }
        }
    }
    let mut marked: Vec<bool> = graph
        .nodes
        .iter()
        .map(|node| {
            !node.attributes.is_empty()
                || !node.slot_variables.is_empty()
                || node.registered_saver.is_some()
        })
        .collect();
    let mut stack: Vec<usize> = (0..n).filter(|&i| marked[i]).collect();
    while let Some(v) = stack.pop() {
        for &p in &parents[v] {
            if !marked[p] {
                marked[p] = true;
                stack.push(p);
            }
        }
    }
    for (node, mark) in graph.nodes.iter_mut().zip(marked) {
        node.has_checkpoint_values = Some(mark);
    }
}
