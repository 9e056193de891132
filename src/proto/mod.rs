//! prost code generated from the vendored `.proto` files under `proto/` by `tools/protogen`.
//!
//! Do not edit the generated `*.rs` files here; re-run
//! `cargo run --manifest-path tools/protogen/Cargo.toml` from the repository root.
//! Package `tensorflow` is [`tensorflow`].

/// Generated code for protobuf package `tensorflow`.
#[allow(
    clippy::all,
    clippy::pedantic,
    missing_docs,
    rustdoc::all,
    unreachable_pub
)]
pub mod tensorflow {
    include!("tensorflow.rs");
}

#[cfg(test)]
mod tests {
    use super::tensorflow::{
        bundle_header_proto::Endianness,
        trackable_object_graph::{
            trackable_object::{ObjectReference, SerializedTensor, SlotVariableReference},
            TrackableObject,
        },
        BundleHeaderProto, RegisteredSaver, TrackableObjectGraph, VersionDef,
    };
    use prost::Message;

    #[test]
    fn bundle_header_bytes() {
        let h = BundleHeaderProto {
            num_shards: 1,
            endianness: Endianness::Little as i32,
            version: Some(VersionDef {
                producer: 1,
                ..Default::default()
            }),
        };
        let bytes = h.encode_to_vec();
        assert_eq!(bytes, [0x08, 0x01, 0x1a, 0x02, 0x08, 0x01]);
        assert_eq!(BundleHeaderProto::decode(&bytes[..]).unwrap(), h);
    }

    #[test]
    fn trackable_object_graph_round_trip() {
        let g = TrackableObjectGraph {
            nodes: vec![
                TrackableObject {
                    children: vec![ObjectReference {
                        node_id: 1,
                        local_name: "kernel".into(),
                    }],
                    has_checkpoint_values: Some(true),
                    ..Default::default()
                },
                TrackableObject {
                    attributes: vec![SerializedTensor {
                        name: "VARIABLE_VALUE".into(),
                        full_name: "dense/kernel".into(),
                        checkpoint_key: "layer/kernel/.ATTRIBUTES/VARIABLE_VALUE".into(),
                    }],
                    slot_variables: vec![SlotVariableReference {
                        original_variable_node_id: 1,
                        slot_name: "m".into(),
                        slot_variable_node_id: 2,
                    }],
                    registered_saver: Some(RegisteredSaver {
                        name: "saver".into(),
                        object_name: "obj".into(),
                    }),
                    has_checkpoint_values: Some(false),
                    ..Default::default()
                },
            ],
        };
        let bytes = g.encode_to_vec();
        assert_eq!(TrackableObjectGraph::decode(&bytes[..]).unwrap(), g);
    }
}
