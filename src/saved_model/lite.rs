//! Partial views of `SavedModel` for reading: the same field numbers as the generated types in
//! `crate::proto::tensorflow`, but the GraphDef keeps only op types and function names, and the
//! MetaInfoDef only tags and versions. prost skips every other field without building it (node
//! attributes, constant tensors, the stripped op list are most of a `saved_model.pb`), which
//! makes reading several times faster. Skipping still walks the wire format, so truncation and
//! bad lengths are still errors; [`crate::saved_model::reader::check_full_decode`] decodes
//! everything for `verify`.

use std::collections::BTreeMap;

use crate::proto::tensorflow::{AssetFileDef, SavedObjectGraph, SignatureDef};

#[derive(Clone, PartialEq, prost::Message)]
pub struct SavedModelLite {
    #[prost(int64, tag = "1")]
    pub saved_model_schema_version: i64,
    #[prost(message, repeated, tag = "2")]
    pub meta_graphs: Vec<MetaGraphLite>,
}

#[derive(Clone, PartialEq, prost::Message)]
pub struct MetaGraphLite {
    #[prost(message, optional, tag = "1")]
    pub meta_info_def: Option<MetaInfoLite>,
    #[prost(message, optional, tag = "2")]
    pub graph_def: Option<GraphLite>,
    #[prost(btree_map = "string, message", tag = "5")]
    pub signature_def: BTreeMap<String, SignatureDef>,
    #[prost(message, repeated, tag = "6")]
    pub asset_file_def: Vec<AssetFileDef>,
    #[prost(message, optional, tag = "7")]
    pub object_graph_def: Option<SavedObjectGraph>,
}

#[derive(Clone, PartialEq, prost::Message)]
pub struct MetaInfoLite {
    #[prost(string, repeated, tag = "4")]
    pub tags: Vec<String>,
    #[prost(string, tag = "5")]
    pub tensorflow_version: String,
    #[prost(string, tag = "6")]
    pub tensorflow_git_version: String,
}

#[derive(Clone, PartialEq, prost::Message)]
pub struct GraphLite {
    #[prost(message, repeated, tag = "1")]
    pub node: Vec<NodeLite>,
    #[prost(message, optional, tag = "2")]
    pub library: Option<LibraryLite>,
}

#[derive(Clone, PartialEq, prost::Message)]
pub struct NodeLite {
    #[prost(string, tag = "2")]
    pub op: String,
}

#[derive(Clone, PartialEq, prost::Message)]
pub struct LibraryLite {
    #[prost(message, repeated, tag = "1")]
    pub function: Vec<FunctionLite>,
}

#[derive(Clone, PartialEq, prost::Message)]
pub struct FunctionLite {
    #[prost(message, optional, tag = "1")]
    pub signature: Option<OpDefLite>,
    #[prost(message, repeated, tag = "3")]
    pub node_def: Vec<NodeLite>,
}

#[derive(Clone, PartialEq, prost::Message)]
pub struct OpDefLite {
    #[prost(string, tag = "1")]
    pub name: String,
}
