//! SavedModel reading: the real fixtures under tests/data/saved_model/ (written by TF 2.21,
//! tf_keras 2.21 and Keras 3.15.1) and every malformed case under tests/data/bad_saved_model/.
//! The full comparison against TF's own decoding (expected.json) is in
//! tests/test_saved_model_store.py; here are the facts that need no JSON parser.

use std::path::{Path, PathBuf};

use kerasave::error::Error;
use kerasave::saved_model::reader::{
    parse_keras_metadata, parse_saved_model, read_saved_model, verify_saved_model, NodeKind,
};

fn data(rel: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/data")
        .join(rel)
}

fn count(info: &kerasave::saved_model::SavedModelInfo, kind: NodeKind) -> usize {
    info.nodes.iter().filter(|n| n.kind == kind).count()
}

#[test]
fn tfk_seq() {
    let info = read_saved_model(&data("saved_model/tfk_seq/model")).unwrap();
    assert_eq!(info.schema_version, 1);
    assert_eq!(info.tags, ["serve"]);
    assert_eq!(info.tensorflow_version, "2.21.0");
    assert_eq!(info.nodes.len(), 78);
    assert_eq!(count(&info, NodeKind::Variable), 18);
    assert_eq!(count(&info, NodeKind::Function), 7);
    assert_eq!(count(&info, NodeKind::BareConcreteFunction), 10);
    assert_eq!(info.concrete_functions.len(), 10);
    assert_eq!(info.function_library.len(), 14);
    let sig = &info.signatures["serving_default"];
    assert_eq!(sig.method_name, "tensorflow/serving/predict");
    let x = &sig.inputs["d1_input"];
    assert_eq!(x.name, "serving_default_d1_input:0");
    assert_eq!(x.dtype, "float32");
    assert_eq!(x.shape, Some(vec![-1, 3]));
    let init = &info.signatures["__saved_model_init_op"].outputs["__saved_model_init_op"];
    assert_eq!((init.dtype.as_str(), &init.shape), ("invalid", &None));
    assert_eq!(info.nodes[0].identifier, "_tf_keras_sequential");
    let md = info.keras_metadata.as_ref().unwrap();
    assert_eq!(md[0].node_id, 0);
    assert_eq!(md[0].node_path, "root");
    assert_eq!(md[0].version, (2, 1));
    assert!(md[0].metadata.starts_with('{'));
    let fp = info.fingerprint.as_ref().unwrap();
    assert_eq!(fp.producer, 4);
    // Every variable has a key, and the layer kernel is where tf_keras puts it.
    assert!(info
        .nodes
        .iter()
        .all(|n| (n.kind == NodeKind::Variable) == n.checkpoint_key.is_some()));
    let kernel = info
        .nodes
        .iter()
        .find(|n| n.variable.as_ref().is_some_and(|v| v.name == "d1/kernel"))
        .unwrap();
    assert_eq!(
        kernel.checkpoint_key.as_deref(),
        Some("layer_with_weights-0/kernel/.ATTRIBUTES/VARIABLE_VALUE")
    );
    let v = kernel.variable.as_ref().unwrap();
    assert_eq!(
        (v.dtype.as_str(), v.shape.clone(), v.trainable),
        ("float32", Some(vec![3, 4]), true)
    );
    // saved_model.pb itself is accepted too.
    let again = read_saved_model(&data("saved_model/tfk_seq/model/saved_model.pb")).unwrap();
    assert_eq!(again, info);
}

#[test]
fn legacy_optimizer_slot_variables_map_to_their_keys() {
    let info = read_saved_model(&data("saved_model/tfk_legacy_opt/model")).unwrap();
    let slots: Vec<_> = info
        .nodes
        .iter()
        .flat_map(|n| n.slot_variables.iter())
        .collect();
    assert_eq!(slots.len(), 4, "m and v for kernel and bias");
    for (orig, name, slot) in slots {
        let key = info.nodes[*slot].checkpoint_key.as_deref().unwrap();
        let orig_key = info.nodes[*orig].checkpoint_key.as_deref().unwrap();
        let orig_path = orig_key
            .strip_suffix("/.ATTRIBUTES/VARIABLE_VALUE")
            .unwrap();
        assert_eq!(
            key,
            format!("{orig_path}/.OPTIMIZER_SLOT/optimizer/{name}/.ATTRIBUTES/VARIABLE_VALUE")
        );
    }
}

#[test]
fn keras3_export_and_tf_module() {
    let info = read_saved_model(&data("saved_model/k3_export/model")).unwrap();
    assert!(info.keras_metadata.is_none());
    assert_eq!(count(&info, NodeKind::Variable), 8);
    let keys: Vec<_> = info
        .nodes
        .iter()
        .filter_map(|n| n.checkpoint_key.as_deref())
        .collect();
    assert!(keys.contains(&"_all_variables/0/.ATTRIBUTES/VARIABLE_VALUE"));
    assert!(keys.contains(&"variables/0/.ATTRIBUTES/VARIABLE_VALUE"));
    assert_eq!(
        info.signatures["serve"].outputs["output_0"].shape,
        Some(vec![-1, 2])
    );

    let info = read_saved_model(&data("saved_model/tf_module/model")).unwrap();
    assert_eq!(info.asset_files, ["vocab.txt", "vocab.txt"]);
    assert_eq!(count(&info, NodeKind::Asset), 2);
    assert_eq!(count(&info, NodeKind::Constant), 2);
    let table = info
        .nodes
        .iter()
        .find(|n| n.kind == NodeKind::Resource)
        .unwrap();
    assert_eq!(table.registered_name, "tf.StaticHashTable");
    let words = &info.signatures["serving_default"].inputs["words"];
    assert_eq!(
        (words.dtype.as_str(), words.shape.clone()),
        ("string", Some(vec![-1]))
    );
}

#[test]
fn nested_functional_model() {
    let info = read_saved_model(&data("saved_model/tfk_func_nested/model")).unwrap();
    let md = info.keras_metadata.as_ref().unwrap();
    let paths: Vec<_> = md.iter().map(|n| n.node_path.as_str()).collect();
    assert!(paths.contains(&"root"));
    assert!(paths
        .iter()
        .any(|p| p.starts_with("root.layer_with_weights-0.layer")));
    for n in md {
        assert!(n.node_id < info.nodes.len());
    }
}

#[test]
fn cycles_terminate_and_keep_bfs_paths() {
    let info = read_saved_model(&data("bad_saved_model/child_cycle")).unwrap();
    let layer = info.nodes[0].children[0].1;
    assert_eq!(
        info.node_path(layer),
        Some(vec!["layer_with_weights-0".to_owned()])
    );
    assert_eq!(info.node_path(0), Some(vec![]));
    assert!(info.nodes[layer].children.iter().any(|c| c.1 == 0));
}

enum Want {
    Corrupt(&'static str),
    Unsupported(&'static str),
}

const BAD: &[(&str, Want)] = &[
    ("truncated_pb", Want::Corrupt("bad SavedModel protobuf")),
    ("garbage_pb", Want::Corrupt("bad SavedModel protobuf")),
    ("empty_pb", Want::Corrupt("SavedModel has no MetaGraphDef")),
    (
        "schema_version_2",
        Want::Unsupported("saved_model_schema_version 2"),
    ),
    (
        "two_meta_graphs",
        Want::Unsupported("2 MetaGraphDefs (tags [serve] [serve,gpu])"),
    ),
    (
        "tf1_no_object_graph",
        Want::Unsupported("no object_graph_def"),
    ),
    (
        "empty_object_graph",
        Want::Corrupt("the object graph has no nodes"),
    ),
    (
        "child_out_of_range",
        Want::Corrupt("node 0 child \"layer-0\": node id 9999 out of range"),
    ),
    ("child_negative", Want::Corrupt("node id -1 out of range")),
    (
        "slot_out_of_range",
        Want::Corrupt("slot variable \"m\": node id 500 out of range"),
    ),
    (
        "asset_index_out_of_range",
        Want::Corrupt("asset_file_def_index 3 out of range"),
    ),
    (
        "unknown_concrete_function",
        Want::Corrupt("\"__inference_missing_42\" is not in"),
    ),
    (
        "bound_input_out_of_range",
        Want::Corrupt("bound input: node id 777 out of range"),
    ),
    ("bad_signature_dim", Want::Corrupt("dimension -5 < -1")),
    ("deep_nesting", Want::Corrupt("recursion limit reached")),
    (
        "variable_not_in_bundle",
        Want::Corrupt("variable node 24 (\"ghost\", path \"ghost\") has no value"),
    ),
    (
        "missing_variable_key",
        Want::Corrupt("key \"layer_with_weights-0/kernel/.ATTRIBUTES/VARIABLE_VALUE\" is missing"),
    ),
    (
        "no_variables_dir",
        Want::Corrupt("variables/variables.index is missing"),
    ),
    (
        "bundle_graph_out_of_range",
        Want::Corrupt(
            "checkpoint object graph node 0 child \"layer_with_weights-0\": node id 4242",
        ),
    ),
    (
        "keras_metadata_node_out_of_range",
        Want::Corrupt("node id 100000 out of range"),
    ),
    (
        "keras_metadata_truncated",
        Want::Corrupt("bad SavedMetadata protobuf"),
    ),
    (
        "fingerprint_garbage",
        Want::Corrupt("bad FingerprintDef protobuf"),
    ),
    ("pbtxt_only", Want::Unsupported("saved_model.pbtxt")),
    ("cpb_only", Want::Unsupported("saved_model.cpb")),
];

/// Cases whose damage only the Python layer sees (metadata JSON) or that are valid.
const NOT_RUST_ERRORS: &[&str] = &[
    "child_cycle",
    "keras_metadata_garbage_json",
    "keras_metadata_not_object",
    "graph_attr_garbage",
];

#[test]
fn bad_saved_models() {
    for (case, want) in BAD {
        let dir = data("bad_saved_model").join(case);
        let err = read_saved_model(&dir).expect_err(case);
        let text = err.to_string();
        let (ok, fragment) = match (want, &err) {
            (Want::Corrupt(f), Error::Corrupt { at, .. }) => (at.file.is_some(), f),
            (Want::Unsupported(f), Error::Unsupported { at, .. }) => (at.file.is_some(), f),
            _ => (false, &""),
        };
        assert!(ok, "{case}: wrong error kind or no file: {err:?}");
        assert!(
            text.contains(fragment),
            "{case}: {text:?} lacks {fragment:?}"
        );
        assert!(
            text.contains(case),
            "{case}: the message does not name the file: {text}"
        );
        assert!(text.len() < 600, "{case}: message too long: {text}");
    }
    for (case, _) in BAD {
        assert!(!NOT_RUST_ERRORS.contains(case));
    }
    for case in NOT_RUST_ERRORS {
        read_saved_model(&data("bad_saved_model").join(case)).unwrap();
    }
    // Every case directory has an entry above.
    for entry in std::fs::read_dir(data("bad_saved_model")).unwrap() {
        let entry = entry.unwrap();
        if entry.file_type().unwrap().is_dir() {
            let name = entry.file_name().into_string().unwrap();
            assert!(
                BAD.iter().any(|(c, _)| *c == name) || NOT_RUST_ERRORS.contains(&name.as_str()),
                "bad_saved_model/{name} has no test"
            );
        }
    }
}

#[test]
fn missing_directory_is_not_found() {
    let err = read_saved_model(&data("saved_model/no_such_model")).unwrap_err();
    match err {
        Error::Io { source, .. } => assert_eq!(source.kind(), std::io::ErrorKind::NotFound),
        other => panic!("{other:?}"),
    }
}

/// Hand-encoded protobuf helpers for the pure parsers.
fn field(tag: u32, payload: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    let mut put = |mut n: u64| loop {
        let b = (n & 0x7f) as u8;
        n >>= 7;
        if n == 0 {
            out.push(b);
            break;
        }
        out.push(b | 0x80);
    };
    put(u64::from(tag) << 3 | 2);
    put(payload.len() as u64);
    out.extend_from_slice(payload);
    out
}

#[test]
fn nesting_is_bounded_without_overflowing_the_stack() {
    // StructuredValue list_value (51) > ListValue values (1) nested 3000 deep, as a concrete
    // function's output signature: prost stops at its recursion limit.
    let mut value = Vec::new();
    for _ in 0..3_000 {
        value = field(51, &field(1, &value));
    }
    let entry = [field(1, b"f"), field(2, &field(4, &value))].concat();
    let graph = field(2, &entry);
    let meta = field(7, &graph);
    let sm = [vec![0x08, 0x01], field(2, &meta)].concat();
    let err = parse_saved_model(&sm).unwrap_err();
    assert!(err.to_string().contains("recursion limit reached"), "{err}");
}

#[test]
fn pure_parsers_reject_what_they_must() {
    // A node (field 1 of SavedObjectGraph) with a child (field 1) naming node 5 of 1.
    let child = [vec![0x08, 0x05], field(2, b"x")].concat();
    let node = field(1, &child);
    let meta = field(7, &field(1, &node));
    let sm = [vec![0x08, 0x01], field(2, &meta)].concat();
    let err = parse_saved_model(&sm).unwrap_err();
    assert!(
        err.to_string()
            .contains("node id 5 out of range (the object graph has 1 nodes)"),
        "{err}"
    );
    // SavedMetadata with a node id past the graph.
    let md = field(1, &[vec![0x10, 0x03], field(3, b"root.x")].concat());
    let err = parse_keras_metadata(&md, 2).unwrap_err();
    assert!(
        err.to_string()
            .contains("keras metadata node \"root.x\": node id 3"),
        "{err}"
    );
    assert!(parse_keras_metadata(&md, 4).is_ok());
}

#[test]
fn verify_decodes_the_graph_that_reading_skips() {
    let dir = data("bad_saved_model/graph_attr_garbage");
    read_saved_model(&dir).unwrap();
    let err = verify_saved_model(&dir).unwrap_err();
    assert!(matches!(err, Error::Corrupt { .. }), "{err:?}");
    assert!(
        err.to_string()
            .contains("saved_model.pb: bad SavedModel protobuf"),
        "{err}"
    );
    for case in ["tfk_seq", "tfk_func_nested", "k3_export", "tf_module"] {
        verify_saved_model(&data(&format!("saved_model/{case}/model"))).unwrap();
    }
}

#[test]
fn long_variable_chain_is_budgeted_not_quadratic() {
    // 20 000 variable nodes, each the child "x" of the previous one: the fallback object paths
    // (no bundle graph) would total 20 000^2 / 2 names; the budget stops it with an error.
    use kerasave::proto::tensorflow::{
        saved_object::Kind, trackable_object_graph::trackable_object::ObjectReference,
        MetaGraphDef, SavedModel, SavedObject, SavedObjectGraph, SavedVariable,
    };
    use kerasave::saved_model::reader::map_checkpoint_keys;
    use prost::Message;
    let n = 20_000;
    let nodes = (0..n)
        .map(|i| SavedObject {
            children: if i + 1 < n {
                vec![ObjectReference {
                    node_id: i + 1,
                    local_name: "x".into(),
                }]
            } else {
                vec![]
            },
            kind: Some(Kind::Variable(SavedVariable {
                dtype: 1,
                ..Default::default()
            })),
            ..Default::default()
        })
        .collect();
    let sm = SavedModel {
        saved_model_schema_version: 1,
        meta_graphs: vec![MetaGraphDef {
            object_graph_def: Some(SavedObjectGraph {
                nodes,
                ..Default::default()
            }),
            ..Default::default()
        }],
    };
    let mut info = parse_saved_model(&sm.encode_to_vec()).unwrap();
    let start = std::time::Instant::now();
    let err = map_checkpoint_keys(&mut info, None, &|_| true).unwrap_err();
    assert!(
        err.to_string()
            .contains("object paths of the variables exceed"),
        "{err}"
    );
    assert!(start.elapsed().as_secs() < 10);
    // A short chain is fine and gets x/x/.../.ATTRIBUTES/VARIABLE_VALUE keys.
    info.nodes.truncate(3);
    info.nodes[2].children.clear();
    map_checkpoint_keys(&mut info, None, &|_| true).unwrap();
    assert_eq!(
        info.nodes[2].checkpoint_key.as_deref(),
        Some("x/x/.ATTRIBUTES/VARIABLE_VALUE")
    );
}
