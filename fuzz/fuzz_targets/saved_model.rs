//! The SavedModel decoders on arbitrary bytes: `parse_saved_model`, then everything that walks
//! the decoded graph (`bfs_tree` paths, `map_checkpoint_keys` against a bundle object graph), plus
//! `parse_keras_metadata` and `parse_fingerprint`.
//!
//! Input: `saved_model.pb bytes ‖ "#REST#" ‖ rest`; `rest` is decoded both as the bundle's
//! `TrackableObjectGraph` and as `keras_metadata.pb` (without the separator it is empty).
//! Checks: every node id handed out is in range, paths exist exactly for reachable nodes (the
//! root's is empty), keras metadata ids are in range, and nothing panics, hangs or overflows.
#![no_main]

use kerasave::proto::tensorflow::TrackableObjectGraph;
use kerasave::saved_model::reader::{
    map_checkpoint_keys, parse_fingerprint, parse_keras_metadata, parse_saved_model, NodeKind,
};
use libfuzzer_sys::fuzz_target;
use prost::Message;

const SEP: &[u8] = b"#REST#";

fuzz_target!(|data: &[u8]| {
    let (pb, rest) = match data.windows(SEP.len()).position(|w| w == SEP) {
        Some(i) => (&data[..i], &data[i + SEP.len()..]),
        None => (data, &[][..]),
    };
    let _ = parse_fingerprint(pb);
    let Ok(mut info) = parse_saved_model(pb) else {
        return;
    };
    let n = info.nodes.len();
    assert!(n > 0);
    for (id, node) in info.nodes.iter().enumerate() {
        assert_eq!(node.id, id);
        assert!(node.children.iter().all(|(_, c)| *c < n));
        assert!(node.slot_variables.iter().all(|(o, _, s)| *o < n && *s < n));
        assert_eq!(node.kind == NodeKind::Variable, node.variable.is_some());
    }
    let tree = info.bfs_tree();
    assert_eq!(tree.path(&info.nodes, 0).as_deref(), Some(&[][..]));
    // A path's names lead from the root to the node.
    for id in [n / 2, n - 1] {
        if let Some(path) = tree.path(&info.nodes, id) {
            let mut at = 0;
            for name in &path {
                at = info.nodes[at]
                    .children
                    .iter()
                    .find(|c| &c.0 == name)
                    .unwrap()
                    .1;
            }
            assert!(tree.is_reachable(at));
        }
    }
    if let Ok(md) = parse_keras_metadata(rest, n) {
        assert!(md.iter().all(|m| m.node_id < n));
    }
    let graph = TrackableObjectGraph::decode(rest).ok();
    let has_key = |k: &str| k.len() % 3 != 0;
    if map_checkpoint_keys(&mut info, graph.as_ref(), &has_key).is_ok() {
        for node in &info.nodes {
            if node.checkpoint_key.is_some() {
                assert_eq!(node.kind, NodeKind::Variable);
            }
        }
    }
});
