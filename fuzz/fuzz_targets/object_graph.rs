//! prost-decode a `TrackableObjectGraph` from arbitrary bytes, then validate it with
//! `ObjectGraphView::new` and walk every variable and path.
#![no_main]

use kerasave::object_graph::ObjectGraphView;
use kerasave::proto::tensorflow::TrackableObjectGraph;
use libfuzzer_sys::fuzz_target;
use prost::Message;

fuzz_target!(|data: &[u8]| {
    let Ok(graph) = TrackableObjectGraph::decode(data) else {
        return;
    };
    let Ok(view) = ObjectGraphView::new(graph) else {
        return;
    };
    let n = view.graph().nodes.len();
    for node in 0..n {
        let _ = view.node_path(node);
    }
    for var in view.variables() {
        assert!(var.node < n);
    }
});
