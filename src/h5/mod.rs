//! HDF5 files as Keras writes them (`.weights.h5`, legacy `.h5`, the `model.weights.h5` member
//! of a `.keras` zip): groups, datasets, attributes; zero-copy tensors; a writer.
//!
//! libhdf5 (built from source and linked statically through hdf5-metno) parses the metadata:
//! superblock, object headers, B-trees, heaps, attributes. It never copies the file: the reader
//! maps the file and libhdf5 reads the mapped bytes through a small read-only virtual file driver
//! of ours ([`vfd`]), so a zip member is opened where it lies, and every libhdf5 read is seen by
//! us (it is where a libhdf5 infinite loop on a bad global heap is stopped). Tensor bytes of contiguous, unfiltered, little-endian datasets are not read through
//! libhdf5 at all: their address comes from `H5Dget_offset` and the tensor is a view of the map.
//!
//! ```text
//!  .keras file (memory-mapped once, Arc<Mmap>)
//!  +-------------+-------------+----------------------------------------------------+-----+
//!  | zip headers | config.json | model.weights.h5 (STORED)                          | CD  |
//!  +-------------+-------------+----------------------------------------------------+-----+
//!                              ^ base = member data offset (e.g. 3119, unaligned)
//!                              |  superblock v0 | object headers, B-trees, heaps | data |
//!                              |                                 H5Dget_offset(d) ^
//!                              |<------------------- image (libhdf5 sees only this) ---->|
//!  tensor = TensorData::Mapped { map, offset: base + H5Dget_offset(d), len: n * itemsize }
//! ```
//!
//! What libhdf5 would read from *other* files is refused when the file is opened (the whole link
//! tree is walked once, eagerly): external links, soft links (not followed: a name must not
//! resolve somewhere else), user-defined links, datasets with external storage and virtual
//! datasets. A contiguous dataset must have exactly `shape x itemsize` bytes of storage inside
//! the image. Chunked, compact, filtered (compressed) or non-canonical (big-endian, ...) datasets
//! are read with a copy through `H5Dread`, after a size check (at most 16 GiB, and at most
//! 1000x the stored bytes beyond 16 MiB: Keras's bomb rule). libhdf5 never prints its error
//! stack; its messages end up in [`Error`](crate::Error)s.
//!
//! Writing ([`H5Writer`]) uses libhdf5 normally, with h5py's defaults (superblock v0,
//! symbol-table groups, contiguous datasets, no timestamps), into a temp file renamed on finish.

mod attrs;
pub mod fast;
mod handle;
mod reader;
mod types;
mod vfd;
mod vlen;
mod writer;

pub use attrs::{array_split_sizes, chunk_plan, HDF5_OBJECT_HEADER_LIMIT};
pub use reader::H5File;
pub use writer::H5Writer;

use crate::dtype::DType;
use crate::error::{Error, Result};

/// An attribute value (see [`H5File::attrs`] for how stored types map onto these).
#[derive(Clone, Debug, PartialEq)]
pub enum AttrValue {
    /// A scalar string.
    String(String),
    /// An array of strings, row-major.
    Strings(Vec<String>),
    /// Integers (enums included), row-major; a scalar is one element.
    Int(Vec<i64>),
    /// Floats, row-major; Keras's empty `weight_names` is `Float(vec![])`.
    Float(Vec<f64>),
    /// The stored bytes of anything else (opaque, compound), or a scalar string that is not UTF-8.
    Bytes(Vec<u8>),
}

/// Where a dataset's elements are stored.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Layout {
    /// One run of `len` bytes at `offset`, absolute in the mapped file (member offset included).
    Contiguous { offset: u64, len: u64 },
    /// Chunks (possibly filtered); read with a copy.
    Chunked,
    /// Inside the object header; read with a copy.
    Compact,
    /// Never written: reads give the fill value (zeros by default).
    Unallocated,
}

/// A dataset as listed by [`H5File::datasets`].
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DatasetInfo {
    /// Absolute path, e.g. `/layers/dense/vars/0`.
    pub path: String,
    pub dtype: DType,
    /// Empty for a scalar; `[0]` for a null dataspace (h5py.Empty).
    pub shape: Vec<u64>,
    pub layout: Layout,
    /// Whether a filter (compression, shuffle, checksum) is applied.
    pub filtered: bool,
}

/// Largest tensor a copying read will allocate.
pub const MAX_COPY_BYTES: u64 = 16 << 30;
/// A copying read larger than [`SMALL_READ_BYTES`] must have at least 1/1000 of its size stored.
pub const MAX_EXPANSION: u64 = 1000;
/// Reads up to this size are allowed whatever the stored size (fill values, tiny chunks).
pub const SMALL_READ_BYTES: u64 = 16 << 20;

/// Refuses reads that would allocate far more than the file holds (decompression/fill bombs).
pub(crate) fn check_expansion(nbytes: u64, stored: u64, what: &str) -> Result<()> {
    if nbytes > MAX_COPY_BYTES {
        return Err(Error::corrupt(format!(
            "{what}: declares {nbytes} bytes, more than the {MAX_COPY_BYTES}-byte limit for a copying read"
        )));
    }
    if nbytes > SMALL_READ_BYTES && nbytes / MAX_EXPANSION > stored {
        return Err(Error::corrupt(format!(
            "{what}: declares {nbytes} bytes but stores only {stored} (more than {MAX_EXPANSION}x expansion)"
        )));
    }
    Ok(())
}

/// `a/b`, `/a/b/`, `//a//b` -> `/a/b`; `""` and `/` -> `/`. "." and ".." components are refused
/// (libhdf5 would resolve them; Keras names never contain them).
pub(crate) fn normalize_path(path: &str) -> Result<String> {
    let mut out = String::with_capacity(path.len() + 1);
    for part in path.split('/').filter(|p| !p.is_empty()) {
        if part == "." || part == ".." {
            return Err(Error::InvalidArgument(format!(
                "HDF5 path {path:?} has a {part:?} component"
            )));
        }
        if part.contains('\0') {
            return Err(Error::InvalidArgument(format!(
                "HDF5 path {path:?} contains a NUL byte"
            )));
        }
        out.push('/');
        out.push_str(part);
    }
    if out.is_empty() {
        out.push('/');
    }
    Ok(out)
}

/// `parent` + `/` + `name` for normalized paths.
pub(crate) fn join(parent: &str, name: &str) -> String {
    if parent == "/" {
        format!("/{name}")
    } else {
        format!("{parent}/{name}")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paths_normalize() {
        assert_eq!(normalize_path("").unwrap(), "/");
        assert_eq!(normalize_path("/").unwrap(), "/");
        assert_eq!(normalize_path("a/b").unwrap(), "/a/b");
        assert_eq!(normalize_path("//a//b/").unwrap(), "/a/b");
        assert_eq!(normalize_path("dense/kernel:0").unwrap(), "/dense/kernel:0");
        assert!(normalize_path("a/../b").is_err());
        assert_eq!(join("/", "a"), "/a");
        assert_eq!(join("/a", "b"), "/a/b");
    }

    #[test]
    fn expansion_rule() {
        assert!(check_expansion(1 << 20, 0, "x").is_ok());
        assert!(check_expansion(1 << 30, 2 << 20, "x").is_ok());
        assert!(check_expansion(1 << 30, 1000, "x").is_err());
        assert!(check_expansion(MAX_COPY_BYTES + 1, MAX_COPY_BYTES, "x").is_err());
    }
}
