//! Graph tests built from the decoded TF examples in tf_formats.md §4.4 and keras_formats.md §5.4.

use prost::Message;

use super::*;
use crate::error::Error;
use crate::proto::tensorflow::trackable_object_graph::trackable_object::{
    ObjectReference, SerializedTensor, SlotVariableReference,
};
use crate::proto::tensorflow::trackable_object_graph::TrackableObject;
use crate::proto::tensorflow::TrackableObjectGraph;

const VV: &str = "/.ATTRIBUTES/VARIABLE_VALUE";

/// A node with `children` (name, id) and one VARIABLE_VALUE attribute per stored key.
fn node(children: &[(&str, i32)], keys: &[&str]) -> TrackableObject {
    TrackableObject {
        children: children
            .iter()
            .map(|&(name, id)| ObjectReference {
                node_id: id,
                local_name: name.into(),
            })
            .collect(),
        attributes: keys
            .iter()
            .map(|&k| SerializedTensor {
                name: VARIABLE_VALUE_KEY.into(),
                full_name: format!("full/{k}"),
                checkpoint_key: k.into(),
            })
            .collect(),
        ..Default::default()
    }
}

fn key(path: &str) -> String {
    format!("{path}{VV}")
}

/// tf_formats.md §4.4: tf_keras Sequential + new Adam in `tf.train.Checkpoint(model, optimizer)`,
/// node for node, with the keys TF stored.
fn tf_keras_new_adam_graph() -> TrackableObjectGraph {
    let k = |p: &str| key(p);
    let mut nodes = vec![
        node(&[("model", 1), ("optimizer", 2), ("save_counter", 3)], &[]),
        node(
            &[
                ("layer_with_weights-0", 4),
                ("layer-0", 4),
                ("layer_with_weights-1", 5),
                ("layer-1", 5),
                ("optimizer", 2),
                ("train_tf_function", 6),
                ("train_function", 6),
            ],
            &[],
        ),
        node(
            &[
                ("_variables", 7),
                ("_iterations", 8),
                ("_learning_rate", 9),
                ("_index_dict", 10),
                ("_momentums", 11),
                ("_velocities", 12),
            ],
            &[],
        ),
        node(&[], &[&k("save_counter")]),
        node(&[("kernel", 13), ("bias", 14)], &[]),
        node(&[("kernel", 15), ("bias", 16)], &[]),
        node(&[], &[]),
        node(
            &[
                ("0", 8),
                ("1", 17),
                ("2", 18),
                ("3", 19),
                ("4", 20),
                ("5", 21),
                ("6", 22),
                ("7", 23),
                ("8", 24),
            ],
            &[],
        ),
        node(&[], &[&k("optimizer/_iterations")]),
        node(&[], &[&k("optimizer/_learning_rate")]),
        node(&[], &[]),
        node(&[("0", 17), ("1", 19), ("2", 21), ("3", 23)], &[]),
        node(&[("0", 18), ("1", 20), ("2", 22), ("3", 24)], &[]),
        node(&[], &[&k("model/layer_with_weights-0/kernel")]),
        node(&[], &[&k("model/layer_with_weights-0/bias")]),
        node(&[], &[&k("model/layer_with_weights-1/kernel")]),
        node(&[], &[&k("model/layer_with_weights-1/bias")]),
    ];
    for i in 1..=8 {
        nodes.push(node(&[], &[&k(&format!("optimizer/_variables/{i}"))]));
    }
    TrackableObjectGraph { nodes }
}

#[test]
fn view_of_tf_keras_graph_derives_the_stored_keys() {
    let view = ObjectGraphView::new(tf_keras_new_adam_graph()).unwrap();
    assert_eq!(view.num_nodes(), 25);
    assert_eq!(view.variables().len(), 15);
    assert!(
        view.mismatched_keys().is_empty(),
        "{:?}",
        view.mismatched_keys()
    );
    for v in view.variables_ref() {
        assert_eq!(
            view.derived_key(v.node, &v.attribute).unwrap(),
            v.checkpoint_key
        );
        assert_eq!(view.by_key(&v.checkpoint_key), Some(v));
        assert_eq!(v.slot, None);
    }
    // First path wins: `optimizer` under the root, not `model/optimizer`; `_iterations` at
    // depth 2 beats `_variables/0`; the alias `layer-0` loses to `layer_with_weights-0`.
    assert_eq!(view.node_path(2).unwrap(), ["optimizer"]);
    assert_eq!(view.node_path(8).unwrap(), ["optimizer", "_iterations"]);
    assert_eq!(
        view.node_path(13).unwrap(),
        ["model", "layer_with_weights-0", "kernel"]
    );
    assert_eq!(
        view.node_path(17).unwrap(),
        ["optimizer", "_variables", "1"]
    );
    assert_eq!(view.node_path(0).unwrap(), Vec::<String>::new().as_slice());
    assert_eq!(view.node_path(25), None);
    assert_eq!(view.object_path(6), Some("model/train_tf_function"));
    // Walking aliases works like TF's restore.
    assert_eq!(
        view.path_to_key(&["model", "layer-1", "bias"], VARIABLE_VALUE_KEY),
        Some("model/layer_with_weights-1/bias/.ATTRIBUTES/VARIABLE_VALUE")
    );
    assert_eq!(
        view.node_at(&["model", "optimizer", "_momentums", "3"]),
        Some(23)
    );
    assert_eq!(view.node_at(&["model", "nope"]), None);
    let v = view
        .by_key("optimizer/_variables/3/.ATTRIBUTES/VARIABLE_VALUE")
        .unwrap();
    assert_eq!(
        (v.node, v.path.join("/")),
        (19, "optimizer/_variables/3".to_string())
    );
    assert_eq!(view.unreachable_nodes(), 0);
    let summary = view.summary();
    assert!(
        summary.contains("25 nodes, 15 attributes (0 slot variables)"),
        "{summary}"
    );
    assert!(
        summary.contains("root children: model, optimizer, save_counter"),
        "{summary}"
    );
}

/// tf_formats.md §4.4 / keras_formats.md §5.4: the legacy-Adam key list, in bundle (sorted) order.
fn legacy_adam_keys() -> Vec<String> {
    let mut keys = vec![OBJECT_GRAPH_PROTO_KEY.to_string()];
    for layer in ["model/layer_with_weights-0", "model/layer_with_weights-1"] {
        for var in ["bias", "kernel"] {
            keys.push(key(&format!("{layer}/{var}")));
            for slot in ["m", "v"] {
                keys.push(key(&format!(
                    "{layer}/{var}/.OPTIMIZER_SLOT/optimizer/{slot}"
                )));
            }
        }
    }
    for var in ["beta_1", "beta_2", "decay", "iter", "learning_rate"] {
        keys.push(key(&format!("optimizer/{var}")));
    }
    keys.push(key("save_counter"));
    keys
}

#[test]
fn built_graph_has_tf_shape_and_round_trips() {
    let keys = legacy_adam_keys();
    let refs: Vec<&str> = keys.iter().map(String::as_str).collect();
    let graph = build_object_graph(&refs).unwrap();

    // 15 tree nodes in BFS order + 8 slot nodes.
    assert_eq!(graph.nodes.len(), 23);
    let names = |i: usize| -> Vec<(&str, i32)> {
        graph.nodes[i]
            .children
            .iter()
            .map(|c| (c.local_name.as_str(), c.node_id))
            .collect()
    };
    assert_eq!(
        names(0),
        [("model", 1), ("optimizer", 2), ("save_counter", 3)]
    );
    assert_eq!(
        names(1),
        [("layer_with_weights-0", 4), ("layer_with_weights-1", 5)]
    );
    assert_eq!(
        names(2),
        [
            ("beta_1", 6),
            ("beta_2", 7),
            ("decay", 8),
            ("iter", 9),
            ("learning_rate", 10)
        ]
    );
    assert_eq!(names(4), [("bias", 11), ("kernel", 12)]);
    assert_eq!(names(5), [("bias", 13), ("kernel", 14)]);
    // Slots on the optimizer node, TF's order: slot name, then variable in BFS order.
    let slots: Vec<(i32, &str, i32)> = graph.nodes[2]
        .slot_variables
        .iter()
        .map(|s| {
            (
                s.original_variable_node_id,
                s.slot_name.as_str(),
                s.slot_variable_node_id,
            )
        })
        .collect();
    assert_eq!(
        slots,
        [
            (11, "m", 15),
            (12, "m", 16),
            (13, "m", 17),
            (14, "m", 18),
            (11, "v", 19),
            (12, "v", 20),
            (13, "v", 21),
            (14, "v", 22)
        ]
    );
    assert!(graph.nodes[15..].iter().all(|n| n.children.is_empty()));
    assert!(graph
        .nodes
        .iter()
        .all(|n| n.has_checkpoint_values == Some(true)));
    assert_eq!(
        graph.nodes[12].attributes,
        [SerializedTensor {
            name: "VARIABLE_VALUE".into(),
            full_name: "model/layer_with_weights-0/kernel".into(),
            checkpoint_key: key("model/layer_with_weights-0/kernel"),
        }]
    );

    // Survives encoding, and a reader derives every key back.
    let graph = TrackableObjectGraph::decode(graph.encode_to_vec().as_slice()).unwrap();
    let view = ObjectGraphView::new(graph).unwrap();
    let mut stored: Vec<&str> = view
        .variables_ref()
        .iter()
        .map(|v| v.checkpoint_key.as_str())
        .collect();
    stored.sort_unstable();
    assert_eq!(stored, refs[1..]);
    assert!(view.mismatched_keys().is_empty());
    let slot = view
        .by_key(&key(
            "model/layer_with_weights-1/kernel/.OPTIMIZER_SLOT/optimizer/v",
        ))
        .unwrap();
    assert_eq!(slot.node, 22);
    assert_eq!(
        slot.slot,
        Some(SlotInfo {
            original_node: 14,
            optimizer_node: 2,
            slot_name: "v".into()
        })
    );
    assert_eq!(
        slot.path,
        [
            "model",
            "layer_with_weights-1",
            "kernel",
            ".OPTIMIZER_SLOT",
            "optimizer",
            "v"
        ]
    );
    assert!(view
        .summary()
        .contains("23 nodes, 18 attributes (8 slot variables)"));
}

#[test]
fn built_graph_keeps_first_appearance_order_and_escapes() {
    let keys = [
        "z/.ATTRIBUTES/VARIABLE_VALUE",
        "my..obj.S1/.ATTRIBUTES/x....y..Sz",
        "a/b/.ATTRIBUTES/VARIABLE_VALUE",
        "a/.ATTRIBUTES/VARIABLE_VALUE",
        "/.ATTRIBUTES/root_attr",
        "t/.ATTRIBUTES/table-keys",
    ];
    let graph = build_object_graph(&keys).unwrap();
    let root: Vec<&str> = graph.nodes[0]
        .children
        .iter()
        .map(|c| c.local_name.as_str())
        .collect();
    assert_eq!(root, ["z", "my.obj/1", "a", "t"]);
    assert_eq!(graph.nodes[0].attributes[0].name, "root_attr");
    let obj = &graph.nodes[2];
    assert_eq!(obj.attributes[0].name, "x..y.Sz");
    assert_eq!(obj.attributes[0].full_name, "my.obj/1");
    let view = ObjectGraphView::new(graph).unwrap();
    assert!(
        view.mismatched_keys().is_empty(),
        "{:?}",
        view.mismatched_keys()
    );
    for k in keys {
        assert_eq!(view.by_key(k).unwrap().checkpoint_key, k);
    }
    assert_eq!(view.node_path(5).unwrap(), ["a", "b"]);
}

#[test]
fn built_graph_with_names_and_no_keys() {
    let graph = build_object_graph_with_names(&[(&key("w"), "dense/kernel")]).unwrap();
    assert_eq!(graph.nodes[1].attributes[0].full_name, "dense/kernel");
    let empty = build_object_graph(&[OBJECT_GRAPH_PROTO_KEY]).unwrap();
    assert_eq!(empty.nodes.len(), 1);
    assert_eq!(empty.nodes[0].has_checkpoint_values, Some(false));
}

#[test]
fn build_rejects_bad_keys() {
    for (bad, needle) in [
        ("dense/kernel", "not an object-based checkpoint key"),
        ("a./.ATTRIBUTES/VARIABLE_VALUE", "bad checkpoint key"),
        (
            "v/.OPTIMIZER_SLOT/m/.ATTRIBUTES/VARIABLE_VALUE",
            "bad checkpoint key",
        ),
    ] {
        let err = build_object_graph(&[&key("ok"), bad]).unwrap_err();
        assert!(matches!(err, Error::InvalidArgument(_)), "{err}");
        assert!(
            err.to_string().contains(needle) && err.to_string().contains(bad),
            "{err}"
        );
    }
    let err = build_object_graph(&[&key("w"), &key("w")]).unwrap_err();
    assert!(matches!(err, Error::InvalidArgument(_)) && err.to_string().contains("twice"));
}

#[test]
fn prefix_keys_fall_back_to_the_longest_stored_prefix() {
    let graph = TrackableObjectGraph {
        nodes: vec![
            node(&[("t", 1)], &[]),
            node(&[], &["t/.ATTRIBUTES/table", "t/.ATTRIBUTES/"]),
        ],
    };
    let view = ObjectGraphView::new(graph).unwrap();
    let hit = |k: &str| view.by_key(k).map(|v| v.checkpoint_key.as_str());
    assert_eq!(hit("t/.ATTRIBUTES/table-keys"), Some("t/.ATTRIBUTES/table"));
    assert_eq!(hit("t/.ATTRIBUTES/other"), Some("t/.ATTRIBUTES/"));
    assert_eq!(hit("u/.ATTRIBUTES/table-keys"), None);
    assert_eq!(hit("t/table-keys"), None);
}

#[test]
fn bad_node_ids_are_corrupt() {
    let cases = [
        TrackableObjectGraph { nodes: vec![] },
        TrackableObjectGraph {
            nodes: vec![node(&[("a", 1)], &[])],
        },
        TrackableObjectGraph {
            nodes: vec![node(&[("a", -1)], &[])],
        },
        TrackableObjectGraph {
            nodes: vec![node(&[("a", i32::MAX)], &[])],
        },
    ];
    let slot = |orig, slot| {
        let mut n = node(&[("v", 1)], &[]);
        n.slot_variables.push(SlotVariableReference {
            original_variable_node_id: orig,
            slot_name: "m".into(),
            slot_variable_node_id: slot,
        });
        TrackableObjectGraph {
            nodes: vec![n, node(&[], &[])],
        }
    };
    for graph in cases
        .into_iter()
        .chain([slot(1, 2), slot(-5, 1), slot(1, i32::MIN)])
    {
        let err = ObjectGraphView::new(graph).unwrap_err();
        assert!(matches!(err, Error::Corrupt { .. }), "{err}");
    }
}

#[test]
fn cycles_self_edges_and_unreachable_nodes() {
    let graph = TrackableObjectGraph {
        nodes: vec![
            node(&[("root", 0), ("a", 1)], &[]),
            node(&[("back", 0), ("b", 2), ("self", 1)], &[]),
            node(&[("a_again", 1)], &[&key("a/b")]),
            node(&[("b", 2)], &["lost/.ATTRIBUTES/VARIABLE_VALUE"]),
        ],
    };
    let view = ObjectGraphView::new(graph).unwrap();
    assert_eq!(view.node_path(2).unwrap(), ["a", "b"]);
    assert_eq!(view.node_path(3), None);
    assert_eq!(view.unreachable_nodes(), 1);
    assert_eq!(view.variables().len(), 1);
    assert!(view.summary().contains("1 unreachable nodes"));
    assert_eq!(view.node_at(&["root", "root", "a", "self", "b"]), Some(2));
}

#[test]
fn slot_paths_need_reachable_owners() {
    // The optimizer (node 2) is unreachable, so its slot (node 3) gets no path.
    let mut optimizer = node(&[], &[]);
    optimizer.slot_variables.push(SlotVariableReference {
        original_variable_node_id: 1,
        slot_name: "m".into(),
        slot_variable_node_id: 3,
    });
    let graph = TrackableObjectGraph {
        nodes: vec![
            node(&[("v", 1)], &[]),
            node(&[], &[&key("v")]),
            optimizer,
            node(&[], &["x"]),
        ],
    };
    let view = ObjectGraphView::new(graph).unwrap();
    assert_eq!(view.node_path(3), None);
    assert_eq!(view.slot_info(3).unwrap().slot_name, "m");
    assert_eq!(view.variables().len(), 1);
}

#[test]
fn stored_keys_that_differ_are_reported() {
    let graph = TrackableObjectGraph {
        nodes: vec![
            node(&[("w", 1)], &[]),
            node(&[], &["custom/.ATTRIBUTES/VARIABLE_VALUE"]),
        ],
    };
    let view = ObjectGraphView::new(graph).unwrap();
    let mismatched = view.mismatched_keys();
    assert_eq!(mismatched.len(), 1);
    assert_eq!(mismatched[0].1, key("w"));
    // Restore uses the stored key, so lookups do too.
    assert_eq!(
        view.by_key("custom/.ATTRIBUTES/VARIABLE_VALUE")
            .unwrap()
            .node,
        1
    );
    assert_eq!(
        view.path_to_key(&["w"], VARIABLE_VALUE_KEY),
        Some("custom/.ATTRIBUTES/VARIABLE_VALUE")
    );
}

/// A chain has quadratic total path length; a long one must fail cleanly, not exhaust memory.
fn chain(len: usize) -> TrackableObjectGraph {
    let mut nodes: Vec<TrackableObject> = (1..len).map(|i| node(&[("x", i as i32)], &[])).collect();
    nodes.push(node(&[], &[]));
    TrackableObjectGraph { nodes }
}

#[test]
fn deep_chains_are_bounded() {
    let view = ObjectGraphView::new(chain(500)).unwrap();
    assert_eq!(view.node_path(499).unwrap().len(), 499);
    let err = ObjectGraphView::new(chain(5000)).unwrap_err();
    assert!(err.to_string().contains("paths are too long"), "{err}");
}

/// One checkpoint of a `tests/data/tf/*/expected.json`: its tensor keys and its object graph.
struct Fixture {
    name: String,
    keys: Vec<String>,
    graph: Option<TrackableObjectGraph>,
}

/// `"...": {` -> the unescaped key (JSON escapes, `\uXXXX` as UTF-16 with surrogate pairs).
fn json_key(line: &str) -> Option<String> {
    let body = line.trim().strip_prefix('"')?.strip_suffix("\": {")?;
    let mut units: Vec<u16> = Vec::new();
    let mut chars = body.chars();
    while let Some(c) = chars.next() {
        if c != '\\' {
            let mut buf = [0u16; 2];
            units.extend_from_slice(c.encode_utf16(&mut buf));
            continue;
        }
        match chars.next() {
            Some('u') => {
                let digits: String = chars.by_ref().take(4).collect();
                units.push(u16::from_str_radix(&digits, 16).unwrap());
            }
            Some(e @ ('\\' | '"' | '/')) => units.push(e as u16),
            other => panic!("unhandled JSON escape \\{other:?} in {line}"),
        }
    }
    Some(String::from_utf16(&units).unwrap())
}

fn hex(s: &str) -> Vec<u8> {
    (0..s.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&s[i..i + 2], 16).unwrap())
        .collect()
}

/// Reads the TF-written fixtures without a JSON library: `expected.json` is indented one space
/// per level by `json.dump(indent=1)`, so a `"tensors": {` block's keys sit one level deeper.
fn tf_fixtures() -> Vec<Fixture> {
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/data/tf");
    let mut dirs: Vec<_> = std::fs::read_dir(&root)
        .unwrap()
        .map(|e| e.unwrap().path().join("expected.json"))
        .filter(|p| p.exists())
        .collect();
    dirs.sort();
    let mut out = Vec::new();
    for path in dirs {
        let text = std::fs::read_to_string(&path).unwrap();
        let lines: Vec<&str> = text.lines().collect();
        let indent = |l: &str| l.len() - l.trim_start().len();
        for (i, line) in lines.iter().enumerate() {
            if line.trim() != "\"tensors\": {" {
                continue;
            }
            let depth = indent(line) + 1;
            let mut fixture = Fixture {
                name: format!("{}:{}", path.display(), i + 1),
                keys: Vec::new(),
                graph: None,
            };
            let mut j = i + 1;
            while j < lines.len() && indent(lines[j]) >= depth {
                if indent(lines[j]) == depth {
                    if let Some(key) = json_key(lines[j]) {
                        if key == OBJECT_GRAPH_PROTO_KEY {
                            let strings = (j..lines.len())
                                .find(|&k| lines[k].trim() == "\"strings\": [")
                                .unwrap();
                            let bytes = hex(lines[strings + 1].trim().trim_matches('"'));
                            fixture.graph =
                                Some(TrackableObjectGraph::decode(bytes.as_slice()).unwrap());
                        }
                        fixture.keys.push(key);
                    }
                }
                j += 1;
            }
            out.push(fixture);
        }
    }
    out
}

#[test]
fn tf_written_graphs_derive_their_keys() {
    let fixtures = tf_fixtures();
    let with_graphs = fixtures.iter().filter(|f| f.graph.is_some()).count();
    assert!(with_graphs >= 8, "found only {with_graphs} object graphs");
    for f in fixtures {
        let Some(graph) = f.graph.clone() else {
            continue;
        };
        let view = ObjectGraphView::new(graph).unwrap_or_else(|e| panic!("{}: {e}", f.name));
        assert!(
            view.mismatched_keys().is_empty(),
            "{}: {:?}",
            f.name,
            view.mismatched_keys()
        );
        assert_eq!(view.unreachable_nodes(), 0, "{}", f.name);
        for key in f.keys.iter().filter(|k| k.contains("/.ATTRIBUTES/")) {
            let v = view
                .by_key(key)
                .unwrap_or_else(|| panic!("{}: {key} not found", f.name));
            assert!(key.starts_with(&v.checkpoint_key), "{}: {key}", f.name);
            // The key parses back to the path BFS gave the node.
            let parsed = parse_checkpoint_key(&v.checkpoint_key).unwrap().unwrap();
            let path = match parsed.owner {
                KeyOwner::Object(path) => path,
                KeyOwner::Slot {
                    variable,
                    optimizer,
                    slot_name,
                } => {
                    let mut path = variable;
                    path.push(OPTIMIZER_SLOTS_NAME.into());
                    path.extend(optimizer);
                    path.push(slot_name);
                    path
                }
            };
            assert_eq!(path, v.path, "{}: {key}", f.name);
            assert_eq!(parsed.attribute, v.attribute, "{}: {key}", f.name);
        }
        // TF's has_checkpoint_values rule, recomputed, gives what TF stored.
        let mut recomputed = f.graph.clone().unwrap();
        fill_has_checkpoint_values(&mut recomputed);
        assert_eq!(&recomputed, f.graph.as_ref().unwrap(), "{}", f.name);
        // Every attribute's key is a bundle key, or a prefix of some (lookup tables).
        for v in view.variables_ref() {
            assert!(
                f.keys.iter().any(|k| k.starts_with(&v.checkpoint_key)),
                "{}: {} has no tensor",
                f.name,
                v.checkpoint_key
            );
        }
    }
}

#[test]
fn graphs_built_from_tf_key_lists_resolve_like_tf() {
    for f in tf_fixtures() {
        let Some(graph) = f.graph.clone() else {
            continue;
        };
        let real = ObjectGraphView::new(graph).unwrap();
        let keys: Vec<&str> = f.keys.iter().map(String::as_str).collect();
        let built = build_object_graph(&keys).unwrap_or_else(|e| panic!("{}: {e}", f.name));
        let built = ObjectGraphView::new(built).unwrap();
        assert!(built.mismatched_keys().is_empty(), "{}", f.name);
        let slots = |v: &ObjectGraphView| {
            let mut s: Vec<(Vec<String>, Vec<String>, String)> = v
                .variables_ref()
                .iter()
                .filter_map(|x| {
                    let s = x.slot.as_ref()?;
                    Some((
                        v.node_path(s.original_node)?.to_vec(),
                        v.node_path(s.optimizer_node)?.to_vec(),
                        s.slot_name.clone(),
                    ))
                })
                .collect();
            s.sort();
            s
        };
        assert_eq!(slots(&real), slots(&built), "{}", f.name);
        for key in keys.iter().filter(|k| k.contains("/.ATTRIBUTES/")) {
            let b = built.by_key(key).unwrap();
            assert_eq!(b.checkpoint_key, *key);
            let r = real.by_key(key).unwrap();
            if r.checkpoint_key == *key {
                // Same object path, attribute and slot role as in TF's own graph.
                assert_eq!(
                    (&b.path, &b.attribute),
                    (&r.path, &r.attribute),
                    "{}",
                    f.name
                );
                assert_eq!(b.slot.is_some(), r.slot.is_some(), "{}: {key}", f.name);
                if b.slot.is_none() {
                    assert_eq!(built.path_to_key(&b.path, &b.attribute), Some(*key));
                }
            }
        }
    }
}
