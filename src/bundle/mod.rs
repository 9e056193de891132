//! The TF tensor bundle (checkpoint V2) format. See `shared/specs/tf_formats.md` §1–3.
//!
//! ```text
//! P.index                  SSTable: ""  -> BundleHeaderProto
//!                                   key -> BundleEntryProto {dtype, shape, shard_id, offset, size, crc32c, slices}
//! P.data-00000-of-00002    raw tensor bytes, concatenated, no header
//! P.data-00001-of-00002
//! dir/checkpoint           text CheckpointState (latest prefix)
//! ```
pub mod naming;
pub mod table;
mod slices;
mod strings;
