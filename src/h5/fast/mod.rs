//! A pure-Rust walk of the HDF5 subset Keras, tf_keras and h5py write by default, used before
//! libhdf5's own walk when a file is opened (libhdf5 costs ~50 µs per dataset there).
//!
//! The subset (`/work/shared/specs/keras_formats.md` §2.1): superblock v0 at offset 0 with 8-byte
//! offsets and lengths, base address 0, no driver block; symbol-table groups (v1 B-tree of group
//! nodes, SNOD leaves, local heap names); version-1 object headers with continuation blocks;
//! dataspace v1/v2; datatypes that are already canonical little-endian (IEEE f16/bf16/f32/f64,
//! full-precision integers, h5py's bool enum over a 1-byte integer); data layout v3, contiguous
//! or compact. Attribute messages are skipped here (attributes are read later through libhdf5).
//!
//! Anything else, and anything that libhdf5's walk would report as an error, makes [`parse`]
//! return `None` ("not in the subset"): the caller then walks the file with libhdf5 exactly as
//! before, so errors and unusual files behave as they always did. That includes filter
//! pipelines, chunked layouts, external storage, new-style groups (link messages, fractal heaps,
//! v2 B-trees), shared messages, soft links, non-UTF-8 or unsorted names, size mismatches and
//! any message type not listed in [`Header::parse`].
//!
//! Every offset and size read from the file is checked against the image before use; nothing is
//! allocated from a file-declared count before the bytes it describes are known to exist; B-tree
//! nodes and SNODs are visited at most once, group depth and continuation chains are bounded.

use std::collections::HashSet;

use super::{join, DatasetInfo, Layout};
use crate::dtype::DType;
use crate::tensor::MAX_ELEMENTS;

/// Same bound as the libhdf5 walk.
const MAX_DEPTH: usize = 512;
/// Largest rank libhdf5 allows.
const MAX_RANK: usize = 32;
/// Continuation blocks one object header may have.
const MAX_CHUNKS: usize = 256;
/// Height of a group B-tree (levels are strictly decreasing, so this bounds recursion).
const MAX_BTREE_LEVEL: u8 = 32;
/// The undefined address.
const UNDEF: u64 = u64::MAX;

const SIGNATURE: &[u8; 8] = b"\x89HDF\r\n\x1a\n";

/// A dataset as the fast walk found it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct FastEntry {
    pub info: DatasetInfo,
    /// Contiguous, in the image, canonical bytes, at least one byte: a view of the map.
    pub direct: bool,
}

/// The tree the libhdf5 walk would produce: groups (`/` first) and datasets, depth-first in name
/// order.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct FastTree {
    pub groups: Vec<String>,
    pub datasets: Vec<FastEntry>,
}

/// Walks `img` (the HDF5 file's bytes; `base` is their offset in the mapped file, added to
/// dataset offsets). `None`: not in the subset, use libhdf5.
pub fn parse(img: &[u8], base: u64) -> Option<FastTree> {
    let sb = Superblock::parse(img)?;
    let data_limit = img.len() as u64;
    let img = img.get(..usize::try_from(sb.eoa).ok()?.min(img.len()))?;
    let mut w = Walk {
        img,
        data_limit,
        base,
        leaf_k: sb.leaf_k,
        internal_k: sb.internal_k,
        tree: FastTree::default(),
        visited_groups: HashSet::new(),
        visited_nodes: HashSet::new(),
    };
    let root = Header::parse(img, sb.root)?;
    let Object::Group { btree, heap } = root.object()? else {
        return None;
    };
    w.visited_groups.insert(sb.root);
    w.tree.groups.push("/".to_owned());
    w.group(btree, heap, "/", 0)?;
    Some(w.tree)
}

/// Bytes `[off, off+len)` of `img`, if they are all inside.
fn slice(img: &[u8], off: u64, len: u64) -> Option<&[u8]> {
    let start = usize::try_from(off).ok()?;
    let len = usize::try_from(len).ok()?;
    let end = start.checked_add(len)?;
    img.get(start..end)
}

/// Little-endian reads at a cursor over one structure's bytes.
struct Cur<'a> {
    b: &'a [u8],
    pos: usize,
}

impl<'a> Cur<'a> {
    fn new(b: &'a [u8]) -> Self {
        Cur { b, pos: 0 }
    }
    fn bytes(&mut self, n: usize) -> Option<&'a [u8]> {
        let end = self.pos.checked_add(n)?;
        let s = self.b.get(self.pos..end)?;
        self.pos = end;
        Some(s)
    }
    fn u8(&mut self) -> Option<u8> {
        Some(self.bytes(1)?[0])
    }
    fn u16(&mut self) -> Option<u16> {
        Some(u16::from_le_bytes(self.bytes(2)?.try_into().ok()?))
    }
    fn u32(&mut self) -> Option<u32> {
        Some(u32::from_le_bytes(self.bytes(4)?.try_into().ok()?))
    }
    fn u64(&mut self) -> Option<u64> {
        Some(u64::from_le_bytes(self.bytes(8)?.try_into().ok()?))
    }
}

struct Superblock {
    leaf_k: u16,
    internal_k: u16,
    root: u64,
    /// End of allocated space: libhdf5 reads no metadata past it.
    eoa: u64,
}

impl Superblock {
    fn parse(img: &[u8]) -> Option<Self> {
        let mut c = Cur::new(img);
        if c.bytes(8)? != SIGNATURE {
            return None;
        }
        let version = c.u8()?;
        let (freespace, root_stab, _reserved, shared) = (c.u8()?, c.u8()?, c.u8()?, c.u8()?);
        let (size_offsets, size_lengths, _reserved2) = (c.u8()?, c.u8()?, c.u8()?);
        if version != 0 || freespace != 0 || root_stab != 0 || shared != 0 {
            return None;
        }
        if size_offsets != 8 || size_lengths != 8 {
            return None;
        }
        let leaf_k = c.u16()?;
        let internal_k = c.u16()?;
        let _flags = c.u32()?;
        let base = c.u64()?;
        let _freespace_addr = c.u64()?;
        let eoa = c.u64()?;
        let driver = c.u64()?;
        if base != 0 || driver != UNDEF || leaf_k == 0 || internal_k == 0 {
            return None;
        }
        // Root symbol table entry: name offset, object header address, cache, scratch.
        let _name = c.u64()?;
        let root = c.u64()?;
        let cache = c.u32()?;
        if cache > 1 || root == UNDEF {
            return None;
        }
        Some(Superblock {
            leaf_k,
            internal_k,
            root,
            eoa,
        })
    }
}

/// What an object header describes.
enum Object {
    Group { btree: u64, heap: u64 },
    Dataset { info: Box<DatasetParts> },
    NamedDatatype,
}

struct DatasetParts {
    dtype: DType,
    /// `None` for a null dataspace.
    shape: Option<Vec<u64>>,
    layout: RawLayout,
}

enum RawLayout {
    Contiguous { addr: u64, size: u64 },
    Compact { size: u64 },
}

/// The messages of a version-1 object header that the subset needs.
#[derive(Default)]
struct Header<'a> {
    dataspace: Option<&'a [u8]>,
    datatype: Option<&'a [u8]>,
    layout: Option<&'a [u8]>,
    stab: Option<&'a [u8]>,
    fill: Option<&'a [u8]>,
    fill_old: Option<&'a [u8]>,
}

fn set_once<'a>(slot: &mut Option<&'a [u8]>, v: &'a [u8]) -> Option<()> {
    if slot.is_some() {
        return None;
    }
    *slot = Some(v);
    Some(())
}

impl<'a> Header<'a> {
    fn parse(img: &'a [u8], addr: u64) -> Option<Self> {
        let prefix = slice(img, addr, 16)?;
        let mut c = Cur::new(prefix);
        let version = c.u8()?;
        let _reserved = c.u8()?;
        let nmesgs = c.u16()?;
        let _refcount = c.u32()?;
        let size = c.u32()?;
        if version != 1 {
            return None;
        }
        let mut h = Header::default();
        let mut chunks: Vec<(u64, u64)> = vec![(addr.checked_add(16)?, u64::from(size))];
        let mut count: u32 = 0;
        let mut i = 0;
        while let Some(&(start, len)) = chunks.get(i) {
            i += 1;
            if chunks.len() > MAX_CHUNKS {
                return None;
            }
            let chunk = slice(img, start, len)?;
            let mut c = Cur::new(chunk);
            while chunk.len() - c.pos >= 8 {
                let ty = c.u16()?;
                let msize = c.u16()?;
                let flags = c.u8()?;
                let _reserved = c.bytes(3)?;
                let data = c.bytes(usize::from(msize))?;
                count += 1;
                // Shared messages (bit 1) live elsewhere; bits 3 and 7 ask for understanding,
                // which only matters for types we do not know, and those decline anyway.
                if flags & 0x02 != 0 {
                    return None;
                }
                match ty {
                    0x0000 => {}                                 // NIL
                    0x0001 => set_once(&mut h.dataspace, data)?, // dataspace
                    0x0003 => set_once(&mut h.datatype, data)?,  // datatype
                    0x0004 => set_once(&mut h.fill_old, data)?,  // fill value (old)
                    0x0005 => set_once(&mut h.fill, data)?,      // fill value
                    0x0008 => set_once(&mut h.layout, data)?,    // data layout
                    0x000C => {}                                 // attribute (read via libhdf5)
                    0x000D | 0x000E | 0x0012 => {}               // comment, modification times
                    0x0010 => {
                        // Continuation: offset, length.
                        let mut d = Cur::new(data);
                        let off = d.u64()?;
                        let clen = d.u64()?;
                        if off == UNDEF || clen == 0 {
                            return None;
                        }
                        slice(img, off, clen)?;
                        // A block visited twice is a loop (at most MAX_CHUNKS, so this scan is
                        // bounded and cheaper than a set for the usual one or two blocks).
                        if chunks.iter().any(|&(s, _)| s == off) {
                            return None;
                        }
                        chunks.push((off, clen));
                    }
                    0x0011 => set_once(&mut h.stab, data)?, // symbol table
                    0x0013 => {}                            // B-tree 'K' values
                    _ => return None,
                }
            }
            if c.pos != chunk.len() {
                return None;
            }
        }
        if count != u32::from(nmesgs) {
            return None;
        }
        Some(h)
    }

    fn object(&self) -> Option<Object> {
        match (self.stab, self.datatype, self.dataspace, self.layout) {
            (Some(stab), None, None, None) => {
                let mut c = Cur::new(stab);
                let btree = c.u64()?;
                let heap = c.u64()?;
                Some(Object::Group { btree, heap })
            }
            (None, Some(dt), Some(ds), Some(layout)) => {
                let (dtype, item) = datatype(dt)?;
                let shape = dataspace(ds)?;
                let layout = data_layout(layout)?;
                if let Some(f) = self.fill {
                    fill_value(f, item)?;
                }
                if let Some(f) = self.fill_old {
                    let mut c = Cur::new(f);
                    let size = usize::try_from(c.u32()?).ok()?;
                    if size != 0 && size != item {
                        return None;
                    }
                    c.bytes(size)?;
                }
                Some(Object::Dataset {
                    info: Box::new(DatasetParts {
                        dtype,
                        shape,
                        layout,
                    }),
                })
            }
            (None, Some(_), None, None) => Some(Object::NamedDatatype),
            _ => None,
        }
    }
}

/// Dataspace message v1/v2: `Some(shape)` (empty for a scalar), `None` inside for null.
fn dataspace(d: &[u8]) -> Option<Option<Vec<u64>>> {
    let mut c = Cur::new(d);
    let version = c.u8()?;
    let rank = usize::from(c.u8()?);
    let flags = c.u8()?;
    if rank > MAX_RANK || flags & !0x01 != 0 {
        return None;
    }
    let null = match version {
        1 => {
            c.bytes(5)?;
            false
        }
        2 => match c.u8()? {
            0 if rank == 0 => false,
            1 if rank > 0 => false,
            2 if rank == 0 => true,
            _ => return None,
        },
        _ => return None,
    };
    if null {
        return Some(None);
    }
    // Bounded by MAX_RANK (checked above).
    let mut dims = Vec::with_capacity(rank);
    for _ in 0..rank {
        dims.push(c.u64()?);
    }
    if flags & 0x01 != 0 {
        for &dim in &dims {
            let max = c.u64()?;
            if max != UNDEF && max < dim {
                return None;
            }
        }
    }
    let mut n: u64 = 1;
    for &dim in &dims {
        n = n.checked_mul(dim).filter(|&n| n <= MAX_ELEMENTS)?;
    }
    Some(Some(dims))
}

/// Datatype message: the dtype and item size, only for types whose stored bytes are already
/// the canonical (little-endian, full-precision) bytes.
fn datatype(d: &[u8]) -> Option<(DType, usize)> {
    let mut c = Cur::new(d);
    let b0 = c.u8()?;
    let (version, class) = (b0 >> 4, b0 & 0x0f);
    if !(1..=3).contains(&version) {
        return None;
    }
    let bits = c.bytes(3)?;
    let (b1, b2) = (bits[0], bits[1]);
    let size = usize::try_from(c.u32()?).ok()?;
    match class {
        0 => {
            // Fixed-point: bit 0 byte order, bits 1-2 padding, bit 3 signed.
            let offset = c.u16()?;
            let precision = c.u16()?;
            let le = b1 & 0x01 == 0;
            let signed = b1 & 0x08 != 0;
            let dtype = match (size, signed) {
                (1, true) => DType::Int8,
                (2, true) => DType::Int16,
                (4, true) => DType::Int32,
                (8, true) => DType::Int64,
                (1, false) => DType::UInt8,
                (2, false) => DType::UInt16,
                (4, false) => DType::UInt32,
                (8, false) => DType::UInt64,
                _ => return None,
            };
            let exact = usize::from(precision) == size * 8 && offset == 0 && b1 & 0x06 == 0;
            (exact && (le || size == 1)).then_some((dtype, size))
        }
        1 => {
            // Floating point: bits 0 and 6 byte order, 1-3 padding, 4-5 normalization,
            // bits 8-15 sign location.
            let offset = c.u16()?;
            let precision = c.u16()?;
            let epos = c.u8()?;
            let esize = c.u8()?;
            let mpos = c.u8()?;
            let msize = c.u8()?;
            let ebias = c.u32()?;
            let le = b1 & 0x41 == 0;
            let pads_zero = b1 & 0x06 == 0;
            let implied = (b1 >> 4) & 0x03 == 2;
            if !le || !pads_zero || !implied || offset != 0 || usize::from(precision) != size * 8 {
                return None;
            }
            let dtype = match (size, b2, epos, esize, mpos, msize, ebias) {
                (2, 15, 10, 5, 0, 10, 15) => DType::Float16,
                (2, 15, 7, 8, 0, 7, 127) => DType::BFloat16,
                (4, 31, 23, 8, 0, 23, 127) => DType::Float32,
                (8, 63, 52, 11, 0, 52, 1023) => DType::Float64,
                _ => return None,
            };
            Some((dtype, size))
        }
        8 => {
            // Enumeration: numpy bool is exactly { FALSE = 0, TRUE = 1 } over a 1-byte integer.
            let nmembers = u16::from_le_bytes([b1, b2]);
            if nmembers != 2 || size != 1 {
                return None;
            }
            let base_start = c.pos;
            let base = d.get(base_start..)?;
            let (base_dtype, base_size) = datatype(base)?;
            if base_size != 1 || !matches!(base_dtype, DType::Int8 | DType::UInt8) {
                return None;
            }
            // A fixed-point base message is 8 + 4 bytes.
            c.bytes(12)?;
            let mut names: [&[u8]; 2] = [&[], &[]];
            for name in &mut names {
                let rest = d.get(c.pos..)?;
                let nul = rest.iter().position(|&b| b == 0)?;
                *name = rest.get(..nul)?;
                let used = if version < 3 {
                    (nul + 1).div_ceil(8) * 8
                } else {
                    nul + 1
                };
                c.bytes(used)?;
            }
            let values = c.bytes(2)?;
            let mut seen = [false; 2];
            for (name, &value) in names.iter().zip(values) {
                match (*name, value) {
                    (b"FALSE", 0) => seen[0] = true,
                    (b"TRUE", 1) => seen[1] = true,
                    _ => return None,
                }
            }
            (seen == [true, true]).then_some((DType::Bool, 1))
        }
        _ => None,
    }
}

/// Fill value message v1-v3: decoded as libhdf5 decodes it when the dataset is opened (its
/// bytes must be there; a defined value must be one element of the dataset's type).
fn fill_value(d: &[u8], item: usize) -> Option<()> {
    let mut c = Cur::new(d);
    let version = c.u8()?;
    let size = match version {
        1 | 2 => {
            let _alloc = c.u8()?;
            let _write = c.u8()?;
            let defined = c.u8()?;
            if version == 1 || defined != 0 {
                Some(c.u32()?)
            } else {
                None
            }
        }
        3 => {
            let flags = c.u8()?;
            if flags & !0x3f != 0 {
                return None;
            }
            if flags & 0x20 != 0 {
                Some(c.u32()?)
            } else {
                None
            }
        }
        _ => return None,
    };
    if let Some(size) = size {
        let size = usize::try_from(size).ok()?;
        if size != 0 && size != item {
            return None;
        }
        c.bytes(size)?;
    }
    Some(())
}

/// Data layout message version 3: contiguous (address, size) or compact (size).
fn data_layout(d: &[u8]) -> Option<RawLayout> {
    let mut c = Cur::new(d);
    if c.u8()? != 3 {
        return None;
    }
    match c.u8()? {
        0 => {
            let size = c.u16()?;
            c.bytes(usize::from(size))?;
            Some(RawLayout::Compact {
                size: u64::from(size),
            })
        }
        1 => {
            let addr = c.u64()?;
            let size = c.u64()?;
            Some(RawLayout::Contiguous { addr, size })
        }
        _ => None,
    }
}

struct Walk<'a> {
    /// The file up to its end-of-allocation address (metadata must lie inside).
    img: &'a [u8],
    /// The whole image's length (dataset bytes must lie inside, as the libhdf5 walk checks).
    data_limit: u64,
    base: u64,
    leaf_k: u16,
    internal_k: u16,
    tree: FastTree,
    visited_groups: HashSet<u64>,
    visited_nodes: HashSet<u64>,
}

impl<'a> Walk<'a> {
    fn group(&mut self, btree: u64, heap: u64, path: &str, depth: usize) -> Option<()> {
        if depth > MAX_DEPTH {
            return None;
        }
        let img: &'a [u8] = self.img;
        let heap_data = local_heap(img, heap)?;
        let mut named: Vec<(&'a str, u64)> = Vec::new();
        self.btree(btree, None, heap_data, &mut named)?;
        // The B-tree holds names in strictly increasing (strcmp) order; libhdf5 lists them in
        // that order. Anything else is not an honest file: let libhdf5 decide.
        if named
            .windows(2)
            .any(|w| w[0].0.as_bytes() >= w[1].0.as_bytes())
        {
            return None;
        }
        for (name, addr) in named {
            let child = join(path, name);
            let header = Header::parse(self.img, addr)?;
            match header.object()? {
                Object::Group { btree, heap } => {
                    if self.visited_groups.insert(addr) {
                        self.tree.groups.push(child.clone());
                        self.group(btree, heap, &child, depth + 1)?;
                    }
                }
                Object::Dataset { info } => {
                    let entry = self.dataset(*info, child)?;
                    self.tree.datasets.push(entry);
                }
                Object::NamedDatatype => {}
            }
        }
        Some(())
    }

    fn dataset(&self, parts: DatasetParts, path: String) -> Option<FastEntry> {
        let DatasetParts {
            dtype,
            shape,
            layout,
        } = parts;
        let item = dtype.item_size()? as u64;
        let (shape, n) = match shape {
            Some(s) => {
                let n = s.iter().try_fold(1u64, |a, &d| a.checked_mul(d))?;
                (s, n)
            }
            None => (vec![0], 0),
        };
        let nbytes = n.checked_mul(item)?;
        let limit = self.data_limit;
        let layout = match layout {
            RawLayout::Contiguous { addr: UNDEF, .. } => Layout::Unallocated,
            RawLayout::Contiguous { addr, size } => {
                if size != nbytes || nbytes == 0 {
                    return None;
                }
                if addr.checked_add(size)? > limit {
                    return None;
                }
                Layout::Contiguous {
                    offset: self.base.checked_add(addr)?,
                    len: size,
                }
            }
            RawLayout::Compact { size } => {
                if size != nbytes {
                    return None;
                }
                Layout::Compact
            }
        };
        let direct = nbytes > 0 && matches!(layout, Layout::Contiguous { .. });
        Some(FastEntry {
            info: DatasetInfo {
                path,
                dtype,
                shape,
                layout,
                filtered: false,
            },
            direct,
        })
    }

    /// Collects (name offset, object header address) of every symbol under the B-tree node at
    /// `addr`, in key order. `level` is the level the parent expects (`None` for the root).
    fn btree(
        &mut self,
        addr: u64,
        level: Option<u8>,
        heap: &'a [u8],
        out: &mut Vec<(&'a str, u64)>,
    ) -> Option<()> {
        if !self.visited_nodes.insert(addr) {
            return None;
        }
        // libhdf5 reads the node at its full size (2K entries), whatever is in use.
        let full = 24 + u64::from(self.internal_k) * 32 + 8;
        slice(self.img, addr, full)?;
        let head = slice(self.img, addr, 24)?;
        let mut c = Cur::new(head);
        if c.bytes(4)? != b"TREE" || c.u8()? != 0 {
            return None;
        }
        let node_level = c.u8()?;
        let used = c.u16()?;
        if node_level > MAX_BTREE_LEVEL || level.is_some_and(|l| l != node_level) {
            return None;
        }
        if used == 0 {
            // An empty group: a root leaf with no children.
            return (level.is_none() && node_level == 0).then_some(());
        }
        if used > 2 * self.internal_k {
            return None;
        }
        // Keys and children interleaved: key0, child0, ..., child(n-1), key(n); 8 bytes each.
        let body_len = (2 * u64::from(used) + 1) * 8;
        let body = slice(self.img, addr.checked_add(24)?, body_len)?;
        let mut c = Cur::new(body);
        let mut children = Vec::with_capacity(usize::from(used));
        let mut keys = Vec::with_capacity(usize::from(used) + 1);
        for _ in 0..used {
            keys.push(heap_name(heap, c.u64()?)?);
            children.push(c.u64()?);
        }
        keys.push(heap_name(heap, c.u64()?)?);
        for (i, child) in children.into_iter().enumerate() {
            let start = out.len();
            if node_level == 0 {
                self.snod(child, heap, out)?;
            } else {
                self.btree(child, Some(node_level - 1), heap, out)?;
            }
            // libhdf5 finds a name by descending where left key < name <= right key: every
            // name must be findable that way, or lookups by name fail where listing succeeds.
            let (lo, hi) = (keys.get(i)?.as_bytes(), keys.get(i + 1)?.as_bytes());
            if out
                .get(start..)?
                .iter()
                .any(|(n, _)| n.as_bytes() <= lo || n.as_bytes() > hi)
            {
                return None;
            }
        }
        Some(())
    }

    fn snod(&mut self, addr: u64, heap: &'a [u8], out: &mut Vec<(&'a str, u64)>) -> Option<()> {
        if !self.visited_nodes.insert(addr) {
            return None;
        }
        slice(self.img, addr, 8 + u64::from(self.leaf_k) * 80)?;
        let mut c = Cur::new(slice(self.img, addr, 8)?);
        if c.bytes(4)? != b"SNOD" || c.u8()? != 1 {
            return None;
        }
        c.u8()?;
        let n = c.u16()?;
        if n == 0 || n > 2 * self.leaf_k {
            return None;
        }
        let entries = slice(self.img, addr.checked_add(8)?, u64::from(n) * 40)?;
        let mut c = Cur::new(entries);
        for _ in 0..n {
            let name = c.u64()?;
            let obj = c.u64()?;
            let cache = c.u32()?;
            c.bytes(4 + 16)?;
            // Cache type 2 is a soft link: libhdf5 refuses it with its own message.
            if cache > 1 || obj == UNDEF {
                return None;
            }
            let name = heap_name(heap, name)?;
            if name.is_empty() || name.contains('/') || name == "." || name == ".." {
                return None;
            }
            out.push((name, obj));
        }
        Some(())
    }
}

/// The data segment of the local heap at `addr`.
fn local_heap(img: &[u8], addr: u64) -> Option<&[u8]> {
    let mut c = Cur::new(slice(img, addr, 32)?);
    if c.bytes(4)? != b"HEAP" || c.u8()? != 0 {
        return None;
    }
    c.bytes(3)?;
    let size = c.u64()?;
    let mut free = c.u64()?;
    let addr = c.u64()?;
    let data = slice(img, addr, size)?;
    // The free list, as libhdf5 checks it when it loads the heap (offset, then at that offset:
    // next offset, block size; 1 ends the list).
    let mut steps = 0;
    while free != 1 {
        steps += 1;
        if steps > 4096 {
            return None;
        }
        let mut f = Cur::new(slice(data, free, 16)?);
        let next = f.u64()?;
        let block = f.u64()?;
        if free.checked_add(block)? > size {
            return None;
        }
        free = next;
    }
    Some(data)
}

/// The NUL-terminated UTF-8 string at `off` of a local heap's data segment.
fn heap_name(heap: &[u8], off: u64) -> Option<&str> {
    let rest = heap.get(usize::try_from(off).ok()?..)?;
    let nul = rest.iter().position(|&b| b == 0)?;
    std::str::from_utf8(rest.get(..nul)?).ok()
}
