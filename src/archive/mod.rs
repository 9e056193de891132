//! `.keras` archives: the ZIP container, read in place and written atomically.
//!
//! Keras 3 writes a `.keras` file with Python's `zipfile`: every member STORED, in the order
//! `metadata.json`, `config.json`, `model.weights.h5`, `assets/...` (keras_formats.md §1.1).
//! A STORED member is a byte-exact slice of the archive, so the weights HDF5 file is opened where
//! it lies ([`KerasArchive::stored_range`]) and its tensors are views of the archive's memory map.
//!
//! ```text
//!  offset 0
//!  +----------------------------------------------+
//!  | local file header      "PK\3\4"   30 bytes   |  version, flags, method, DOS time/date,
//!  |   name                 name_len bytes        |  crc32, csize, usize (0xFFFFFFFF: ZIP64)
//!  |   extra                extra_len bytes       |  [0x0001 ZIP64: usize, csize]
//!  |                                              |  [0xD935 alignment padding (ours)]
//!  +----------------------------------------------+ <- data_offset = header + 30 + name_len
//!  | member data: STORED bytes | raw DEFLATE      |                   + extra_len  (LOCAL lengths)
//!  +----------------------------------------------+
//!  | [data descriptor, only with flag bit 3]      |
//!  +----------------------------------------------+
//!  | local header 2, data 2, ...                  |
//!  +==============================================+ <- cd_offset
//!  | central directory header "PK\1\2"  46 bytes  |  the same fields again, plus the local
//!  |   name, extra, comment                       |  header's offset and the file attributes;
//!  |                                              |  extra [0x0001: usize, csize, offset, each
//!  | central directory header 2, ...              |   only if its 32-bit field is 0xFFFFFFFF]
//!  +==============================================+ <- cd_offset + cd_size
//!  | [ZIP64 end of central dir  "PK\6\6" 56 bytes]|  64-bit count, cd_size, cd_offset
//!  | [ZIP64 EOCD locator        "PK\6\7" 20 bytes]|  offset of the record above
//!  | end of central directory   "PK\5\6" 22 bytes |  16/32-bit count, cd_size, cd_offset
//!  |   comment                  comment_len bytes |  (0xFFFF / 0xFFFFFFFF: see the ZIP64 record)
//!  +----------------------------------------------+ EOF
//! ```
//!
//! Readers trust the central directory and seek to each local header, so that is what
//! [`KerasArchive::open`] does, and then it refuses every archive where a second reader could see
//! different contents: a local header that disagrees with its directory entry, members that
//! overlap each other or the directory, bytes between the directory and its end record. The data
//! offset comes from the LOCAL header's name and extra lengths; the central extra may differ
//! (numpy's `savez` writes a ZIP64 local extra and none in the directory).
//!
//! Names are refused (the whole archive, not one member) when extracting them could write outside
//! a target directory: `..` components, absolute or drive paths, backslashes, NUL bytes, and names
//! that are both a file and a directory. Only STORED and DEFLATED members are read; a DEFLATED
//! member is a copy, inflated into exactly its declared size and checked against its CRC-32.

mod format;
mod names;
mod reader;
mod writer;

pub use names::check_member_name;
pub use reader::{parse_members, read_member, verify_member, KerasArchive};
pub use writer::ArchiveWriter;

/// A DEFLATED member may declare at most this many times its compressed size ...
pub const MAX_DEFLATE_RATIO: u64 = 100;
/// ... unless it declares at most this many bytes (256 MiB). Both together are Keras's
/// extract-to-disk rule (`saving_lib`), and DEFLATE's own limit is about 1032:1, so a member over
/// both is a zip bomb or a lie; refusing it at `open` keeps `read` from allocating its size.
pub const DEFLATE_RATIO_FLOOR: u64 = 256 << 20;

/// Most members an archive may have. Keras writes three plus its assets; the cap keeps the
/// bookkeeping (about 4 copies of each name and 200 bytes per member) from growing to several
/// times the size of a file made of nothing but tiny entries.
pub const MAX_MEMBERS: u64 = 1 << 20;

/// Alignment Keras-compatible writers use for the weights member: a page, so that the embedded
/// HDF5 file (and often its datasets) can be mapped and viewed without unaligned slices.
pub const WEIGHTS_ALIGNMENT: u64 = 4096;

/// How a member's bytes are stored.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Method {
    /// Method 0: the data is the member, byte for byte (what Keras writes).
    Stored,
    /// Method 8: raw DEFLATE (what `zip -r` or `zipfile.ZIP_DEFLATED` write).
    Deflated,
}

/// One member of an archive, validated against its local header.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Member {
    /// The name as Python's `zipfile` decodes it (UTF-8 with flag bit 11, else CP437).
    pub name: String,
    pub method: Method,
    /// Absolute offset of the local file header.
    pub header_offset: u64,
    /// Absolute offset of the first data byte, computed from the local header.
    pub data_offset: u64,
    /// Bytes of data in the archive (`== size` when STORED).
    pub compressed_size: u64,
    /// Bytes of the member once decompressed.
    pub size: u64,
    /// CRC-32 (IEEE) of the decompressed bytes, from the central directory.
    pub crc32: u32,
}

impl Member {
    /// A directory entry (`assets/`), which `zip -r` writes and Keras does not.
    pub fn is_dir(&self) -> bool {
        self.name.ends_with('/')
    }

    /// `(offset, len)` of the member's bytes in the archive when it can be used in place.
    pub fn stored_range(&self) -> Option<(u64, u64)> {
        (self.method == Method::Stored).then_some((self.data_offset, self.size))
    }
}
