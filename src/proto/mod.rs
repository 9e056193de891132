//! prost code generated from the vendored `.proto` files under `proto/` by `tools/protogen`.
//!
//! Do not edit the generated `*.rs` files here; re-run
//! `cargo run --manifest-path tools/protogen/Cargo.toml` from the repository root.
//!
//! * protobuf package `tensorflow` is [`tensorflow`];
//! * protobuf package `third_party.py.tf_keras.protobuf` (tf-keras `saved_metadata.proto`) is
//!   [`third_party::py::tf_keras::protobuf`], re-exported as [`tf_keras`].
//!
//! `google.protobuf.Any` maps to [`prost_types::Any`] and `google.protobuf.BoolValue` to
//! `Option<bool>`; enum fields are `i32` (use `DataType::try_from(x)`).

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

/// Module nesting for the dotted protobuf package `third_party.py.tf_keras.protobuf`.
#[allow(missing_docs)]
pub mod third_party {
    pub mod py {
        pub mod tf_keras {
            /// Generated code for protobuf package `third_party.py.tf_keras.protobuf`.
            #[allow(
                clippy::all,
                clippy::pedantic,
                missing_docs,
                rustdoc::all,
                unreachable_pub
            )]
            pub mod protobuf {
                include!("third_party.py.tf_keras.protobuf.rs");
            }
        }
    }
}

/// tf-keras SavedModel metadata (`keras_metadata.pb`): `SavedMetadata`, `SavedObject`,
/// `VersionDef` of package `third_party.py.tf_keras.protobuf`.
pub use third_party::py::tf_keras::protobuf as tf_keras;

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
    fn saved_model_closure_round_trip() {
        use super::tensorflow::{
            saved_object::Kind,
            tensor_shape_proto::Dim,
            tensor_slice_proto::{extent::HasLengthHack, Extent},
            BundleEntryProto, DataType, MetaGraphDef, SavedModel, SavedObject, SavedObjectGraph,
            SavedVariable, TensorShapeProto, TensorSliceProto,
        };
        let entry = BundleEntryProto {
            dtype: DataType::DtFloat as i32,
            shape: Some(TensorShapeProto {
                dim: vec![Dim {
                    size: 3,
                    name: String::new(),
                }],
                unknown_rank: false,
            }),
            slices: vec![TensorSliceProto {
                extent: vec![
                    Extent {
                        start: 0,
                        has_length_hack: Some(HasLengthHack::Length(2)),
                    },
                    Extent {
                        start: 0,
                        has_length_hack: None,
                    },
                ],
            }],
            crc32c: 0xA282_EAD8,
            ..Default::default()
        };
        let bytes = entry.encode_to_vec();
        assert_eq!(BundleEntryProto::decode(&bytes[..]).unwrap(), entry);

        let sm = SavedModel {
            saved_model_schema_version: 1,
            meta_graphs: vec![MetaGraphDef {
                object_graph_def: Some(SavedObjectGraph {
                    nodes: vec![SavedObject {
                        kind: Some(Kind::Variable(SavedVariable {
                            dtype: DataType::DtFloat as i32,
                            name: "v".into(),
                            ..Default::default()
                        })),
                        ..Default::default()
                    }],
                    ..Default::default()
                }),
                ..Default::default()
            }],
        };
        let bytes = sm.encode_to_vec();
        assert_eq!(SavedModel::decode(&bytes[..]).unwrap(), sm);

        let md = super::tf_keras::SavedMetadata {
            nodes: vec![super::tf_keras::SavedObject {
                node_id: 1,
                node_path: "root.layer".into(),
                identifier: "_tf_keras_layer".into(),
                metadata: "{}".into(),
                version: Some(super::tf_keras::VersionDef {
                    producer: 2,
                    min_consumer: 1,
                    bad_consumers: vec![],
                }),
            }],
        };
        let bytes = md.encode_to_vec();
        assert_eq!(
            super::tf_keras::SavedMetadata::decode(&bytes[..]).unwrap(),
            md
        );
    }

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
