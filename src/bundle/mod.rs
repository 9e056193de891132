//! The TF tensor bundle (checkpoint V2) format. See `shared/specs/tf_formats.md` §1–3.
//!
//! ```text
//! P.index                  SSTable: ""  -> BundleHeaderProto
//!                                   key -> BundleEntryProto {dtype, shape, shard_id, offset, size, crc32c, slices}
//! P.data-00000-of-00002    raw tensor bytes, concatenated, no header
//! P.data-00001-of-00002
//! dir/checkpoint           text CheckpointState (latest prefix)
//! ```
mod entry;
pub mod naming;
pub mod reader;
mod slices;
pub mod state;
mod strings;
pub mod table;
pub mod writer;

pub use reader::{BundleReader, EntryInfo};
pub use writer::{write_bundle, WriteOptions};
