//! [`H5File`]: open (eagerly walking and validating the link tree), list, read, attributes.

use std::collections::{HashMap, HashSet};
use std::ffi::{c_char, c_void, CStr};
use std::path::Path;

use hdf5_metno_sys::h5::{hsize_t, H5_index_t, H5_iter_order_t, HADDR_UNDEF};
use hdf5_metno_sys::h5d::{self, H5D_layout_t};
use hdf5_metno_sys::h5g;
use hdf5_metno_sys::h5i::hid_t;
use hdf5_metno_sys::h5l::{self, H5L_info2_t};
use hdf5_metno_sys::h5o::{self, H5O_info2_t, H5O_type_t, H5O_INFO_BASIC};
use hdf5_metno_sys::h5p::{self, H5P_DEFAULT};
use hdf5_metno_sys::h5s::H5S_ALL;
use hdf5_metno_sys::h5t::{self, H5T_class_t};
use hdf5_metno_sys::h5z;

use super::attrs::{self, dataspace_shape, element_count};
use super::handle::{check, corrupt, cstring, locked, Hid, Kind};
use super::types::{self, Class};
use super::vfd::open_mapped;
use super::{check_expansion, join, normalize_path, AttrValue, DatasetInfo, Layout};
use crate::error::{Error, Location, Result};
use crate::io::MappedFile;
use crate::tensor::{Tensor, TensorData};

/// Groups nested deeper than this are refused (a symbol table cannot be that deep honestly).
const MAX_DEPTH: usize = 512;

#[derive(Debug)]
struct Entry {
    info: DatasetInfo,
    /// Contiguous, in the image, canonical bytes: served as a view of the map.
    direct: bool,
}

/// An HDF5 file opened read-only from a memory map (a whole file, or a zip member in place).
///
/// `Send + Sync`: the listing is computed once at open; zero-copy reads touch only the map;
/// everything else calls libhdf5 under its global lock.
#[derive(Debug)]
pub struct H5File {
    // Field order is drop order: the file id is closed (STRONG: everything in it, and the
    // driver's last read) before the map can go.
    fid: Hid,
    file: MappedFile,
    base: u64,
    len: u64,
    groups: Vec<String>,
    group_set: HashSet<String>,
    datasets: Vec<Entry>,
    index: HashMap<String, usize>,
    /// Walked by [`super::fast`] rather than libhdf5.
    fast: bool,
}

impl H5File {
    /// Opens a file on disk. libhdf5 reads the bytes in place from our memory map through a
    /// read-only driver of ours (no copy of the file), so the same code serves a `.weights.h5`
    /// and the STORED `model.weights.h5` member of a `.keras` zip.
    pub fn open(path: &Path) -> Result<Self> {
        let file = MappedFile::open(path)?;
        let len = file.bytes().len() as u64;
        Self::open_in(file, 0, len)
    }

    /// The HDF5 file that is `len` bytes at `offset` of `file` (a zip member).
    pub fn open_in(file: MappedFile, offset: u64, len: u64) -> Result<Self> {
        let path = file.path().to_path_buf();
        Self::open_inner(file, offset, len, true).map_err(|e| e.in_file(&path))
    }

    /// Like [`H5File::open`] but always walks the file with libhdf5, never with the pure-Rust
    /// fast path (for tests comparing the two).
    #[doc(hidden)]
    pub fn open_libhdf5_walk(path: &Path) -> Result<Self> {
        let file = MappedFile::open(path)?;
        let len = file.bytes().len() as u64;
        Self::open_inner(file, 0, len, false).map_err(|e| e.in_file(path))
    }

    /// [`H5File::open_in`] always walked by libhdf5 (for tests comparing the two walks).
    #[doc(hidden)]
    pub fn open_in_libhdf5_walk(file: MappedFile, offset: u64, len: u64) -> Result<Self> {
        let path = file.path().to_path_buf();
        Self::open_inner(file, offset, len, false).map_err(|e| e.in_file(&path))
    }

    /// Whether this file was walked by the pure-Rust fast path.
    #[doc(hidden)]
    pub fn opened_fast(&self) -> bool {
        self.fast
    }

    fn open_inner(file: MappedFile, base: u64, len: u64, try_fast: bool) -> Result<Self> {
        let bytes = file.range(base, len)?;
        if bytes.is_empty() {
            return Err(Error::corrupt("empty file: not an HDF5 file"));
        }
        // SAFETY: `bytes` lies in the map that `file` shares (Arc<Mmap>: its address does not
        // change when `file` moves). `fid` is closed before `file` goes on every path: an early
        // return drops locals before parameters, and H5File declares `fid` before `file`.
        let fid = unsafe { open_mapped(bytes)? };
        // The pure-Rust walk of Keras's HDF5 subset first; anything outside it (or anything
        // libhdf5 would refuse) is walked by libhdf5 exactly as before.
        let fast_tree = if try_fast {
            super::fast::parse(bytes, base)
        } else {
            None
        };
        let fast = fast_tree.is_some();
        let (groups, datasets) = match fast_tree {
            Some(t) => (
                t.groups,
                t.datasets
                    .into_iter()
                    .map(|e| Entry {
                        info: e.info,
                        direct: e.direct,
                    })
                    .collect::<Vec<_>>(),
            ),
            None => {
                let mut walker = Walker {
                    img: bytes,
                    limit: len,
                    base,
                    groups: Vec::new(),
                    datasets: Vec::new(),
                    visited: HashSet::new(),
                };
                locked(|| walker.walk_root(fid.id()))?;
                (walker.groups, walker.datasets)
            }
        };
        let index = datasets
            .iter()
            .enumerate()
            .map(|(i, e)| (e.info.path.clone(), i))
            .collect();
        let group_set = groups.iter().cloned().collect();
        Ok(H5File {
            fid,
            file,
            base,
            len,
            groups,
            group_set,
            datasets,
            index,
            fast,
        })
    }

    /// The mapped file this HDF5 file lies in.
    pub fn mapped(&self) -> &MappedFile {
        &self.file
    }

    /// `(offset, len)` of the HDF5 bytes within [`H5File::mapped`].
    pub fn image_range(&self) -> (u64, u64) {
        (self.base, self.len)
    }

    /// Every dataset, depth-first, in name order (bytewise: `vars/10` sorts before `vars/2`).
    pub fn datasets(&self) -> Result<Vec<DatasetInfo>> {
        Ok(self.datasets.iter().map(|e| e.info.clone()).collect())
    }

    /// Every group path, `/` first, depth-first in name order.
    pub fn groups(&self) -> Result<Vec<String>> {
        Ok(self.groups.clone())
    }

    /// The dataset at `path` (with or without the leading `/`), else `Error::KeyNotFound`.
    pub fn dataset(&self, path: &str) -> Result<DatasetInfo> {
        Ok(self.entry(path)?.info.clone())
    }

    /// Whether [`H5File::read`] of `path` returns a view of the map (contiguous, unfiltered,
    /// canonical little-endian bytes inside the file) rather than a copy.
    pub fn is_zero_copy(&self, path: &str) -> Result<bool> {
        let e = self.entry(path)?;
        Ok(e.direct
            && matches!(e.info.layout, Layout::Contiguous { .. })
            && self.file.shared_map().is_some())
    }

    fn entry(&self, path: &str) -> Result<&Entry> {
        let p = normalize_path(path)?;
        self.index
            .get(&p)
            .and_then(|&i| self.datasets.get(i))
            .ok_or_else(|| self.not_found(&p))
    }

    fn not_found(&self, path: &str) -> Error {
        Error::KeyNotFound {
            at: Location {
                file: Some(self.file.path().to_path_buf()),
                key: Some(path.to_owned()),
            },
        }
    }

    /// Reads a dataset. Contiguous, unfiltered, canonical (little-endian) data comes back as
    /// `TensorData::Mapped` over the file's map, without libhdf5; anything else is read through
    /// `H5Dread` into `Owned` bytes (converted to little-endian) or `Strings`.
    pub fn read(&self, path: &str) -> Result<Tensor> {
        let e = self.entry(path)?;
        let info = &e.info;
        if let (true, Layout::Contiguous { offset, len }) = (e.direct, info.layout) {
            if let Some(map) = self.file.shared_map() {
                // Checked at open: within the image, which is within the map.
                let offset = usize::try_from(offset).map_err(|_| self.too_big(info))?;
                let len = usize::try_from(len).map_err(|_| self.too_big(info))?;
                if offset.checked_add(len).is_some_and(|end| end <= map.len()) {
                    return Ok(Tensor {
                        dtype: info.dtype,
                        shape: info.shape.clone(),
                        data: TensorData::Mapped {
                            map: map.clone(),
                            offset,
                            len,
                        },
                    });
                }
            }
            return Err(
                Error::corrupt(format!("{}: data is outside the file", info.path))
                    .in_file(self.file.path()),
            );
        }
        locked(|| self.read_copy(info)).map_err(|e| e.in_file(self.file.path()))
    }

    /// The HDF5 file's bytes (checked at open to lie in the map).
    fn image(&self) -> Result<&[u8]> {
        self.file.range(self.base, self.len)
    }

    fn too_big(&self, info: &DatasetInfo) -> Error {
        Error::unsupported(format!(
            "{}: larger than this platform's address space",
            info.path
        ))
        .in_file(self.file.path())
    }

    fn read_copy(&self, info: &DatasetInfo) -> Result<Tensor> {
        let what = info.path.as_str();
        let c = cstring(what)?;
        // SAFETY: valid file id, NUL-terminated path (validated at open: hard links only).
        let did = Hid::new(
            unsafe { h5d::H5Dopen2(self.fid.id(), c.as_ptr(), H5P_DEFAULT) },
            Kind::Dataset,
            what,
        )?;
        // SAFETY: getters on a valid dataset; ids closed by guards.
        let ftype = Hid::new(unsafe { h5d::H5Dget_type(did.id()) }, Kind::Datatype, what)?;
        // SAFETY: as above.
        let space = Hid::new(
            unsafe { h5d::H5Dget_space(did.id()) },
            Kind::Dataspace,
            what,
        )?;
        let img = self.image()?;
        let class = classify_dataset(did.id(), ftype.id(), img, what)?;
        let n = match dataspace_shape(space.id(), what)? {
            Some(shape) => element_count(&shape, what)?,
            None => 0,
        };
        if info.filtered || info.layout == Layout::Chunked {
            // SAFETY: getter on a valid dataset.
            let dcpl = Hid::new(
                unsafe { h5d::H5Dget_create_plist(did.id()) },
                Kind::Plist,
                what,
            )?;
            if info.filtered {
                require_filters(dcpl.id(), what)?;
            }
            // SAFETY: getter on a valid dataset.
            if unsafe { h5p::H5Pget_layout(dcpl.id()) } == H5D_layout_t::H5D_CHUNKED {
                let shape = dataspace_shape(space.id(), what)?;
                // SAFETY: getter on a valid type.
                let item = unsafe { h5t::H5Tget_size(ftype.id()) } as u64;
                check_chunks(dcpl.id(), shape.as_deref(), item, self.len, what)?;
            }
        }
        // SAFETY: getter on a valid dataset (0 also for "unknown"; only used as a bound).
        let stored = unsafe { h5d::H5Dget_storage_size(did.id()) };
        let data = match class {
            Class::Fixed { dtype, .. } | Class::Raw { dtype } => {
                let item = dtype.item_size().unwrap_or(1) as u64;
                let nbytes = n
                    .checked_mul(item)
                    .ok_or_else(|| Error::corrupt(format!("{what}: size overflows")))?;
                check_expansion(nbytes, stored, what)?;
                let len = usize::try_from(nbytes).map_err(|_| self.too_big(info))?;
                let mut buf: Vec<u8> = Vec::new();
                buf.try_reserve_exact(len).map_err(|_| {
                    Error::unsupported(format!("{what}: cannot allocate {len} bytes"))
                })?;
                buf.resize(len, 0);
                if len > 0 {
                    let mem = types::memory_type(class, ftype.id())?;
                    // SAFETY: `buf` holds n elements of the memory type (n x itemsize bytes), and
                    // the selections are the whole dataspace.
                    check(
                        unsafe {
                            h5d::H5Dread(
                                did.id(),
                                mem.id(),
                                H5S_ALL,
                                H5S_ALL,
                                H5P_DEFAULT,
                                buf.as_mut_ptr().cast(),
                            )
                        },
                        &format!("{what}: cannot read"),
                    )?;
                }
                TensorData::Owned(buf)
            }
            Class::VlenStr { .. } | Class::FixedStr { .. } => {
                // Same bound as numbers: at most 16 GiB and 1000x what is stored, per 16 bytes.
                let declared = n.saturating_mul(16);
                check_expansion(declared, stored, what)?;
                let d = did.id();
                let strings = attrs::read_string_elements(
                    ftype.id(),
                    space.id(),
                    n,
                    declared,
                    img,
                    what,
                    &|mem, buf| {
                        // SAFETY: `buf` has room for n elements of `mem`.
                        unsafe { h5d::H5Dread(d, mem, H5S_ALL, H5S_ALL, H5P_DEFAULT, buf) }
                    },
                )?;
                TensorData::Strings(strings)
            }
        };
        Ok(Tensor {
            dtype: info.dtype,
            shape: info.shape.clone(),
            data,
        })
    }

    /// Every attribute of the group or dataset at `object_path`, in name order.
    pub fn attrs(&self, object_path: &str) -> Result<Vec<(String, AttrValue)>> {
        let p = self.object(object_path)?;
        locked(|| {
            let obj = self.open_object(&p)?;
            let names = attrs::attr_names(obj.id(), &p)?;
            names
                .into_iter()
                .map(|n| {
                    let v = attrs::read_attr(obj.id(), &n, self.image()?, &p)?;
                    Ok((n, v))
                })
                .collect::<Result<Vec<_>>>()
        })
        .map_err(|e| e.in_file(self.file.path()))
    }

    /// Attribute `name` of the object at `object_path`, `None` if it has no such attribute.
    pub fn attr(&self, object_path: &str, name: &str) -> Result<Option<AttrValue>> {
        let p = self.object(object_path)?;
        locked(|| {
            let obj = self.open_object(&p)?;
            if !attrs::attr_exists(obj.id(), name, &p)? {
                return Ok(None);
            }
            attrs::read_attr(obj.id(), name, self.image()?, &p).map(Some)
        })
        .map_err(|e| e.in_file(self.file.path()))
    }

    /// Keras's chunked string-list attribute: `name`, else `name0`, `name1`, … concatenated
    /// (until the first missing index); `None` when neither `name` nor `name0` exists. An empty
    /// numeric array (Keras's `weight_names` of a layer without weights) is an empty list.
    pub fn string_list_attr(&self, object_path: &str, name: &str) -> Result<Option<Vec<String>>> {
        let p = self.object(object_path)?;
        let what = format!("{p}: attribute {name:?}");
        let as_list = |v: AttrValue| -> Result<Vec<String>> {
            match v {
                AttrValue::Strings(s) => Ok(s),
                AttrValue::String(s) => Ok(vec![s]),
                AttrValue::Float(f) if f.is_empty() => Ok(Vec::new()),
                AttrValue::Int(i) if i.is_empty() => Ok(Vec::new()),
                other => Err(Error::corrupt(format!(
                    "{what}: expected a list of strings, found {}",
                    kind_name(&other)
                ))),
            }
        };
        locked(|| {
            let obj = self.open_object(&p)?;
            if attrs::attr_exists(obj.id(), name, &p)? {
                return as_list(attrs::read_attr(obj.id(), name, self.image()?, &p)?).map(Some);
            }
            let mut out: Option<Vec<String>> = None;
            for i in 0usize.. {
                let chunk = format!("{name}{i}");
                if !attrs::attr_exists(obj.id(), &chunk, &p)? {
                    break;
                }
                let part = as_list(attrs::read_attr(obj.id(), &chunk, self.image()?, &p)?)?;
                out.get_or_insert_with(Vec::new).extend(part);
            }
            Ok(out)
        })
        .map_err(|e| e.in_file(self.file.path()))
    }

    fn object(&self, object_path: &str) -> Result<String> {
        let p = normalize_path(object_path)?;
        if self.group_set.contains(&p) || self.index.contains_key(&p) {
            Ok(p)
        } else {
            Err(self.not_found(&p))
        }
    }

    fn open_object(&self, p: &str) -> Result<Hid> {
        let c = cstring(p)?;
        // SAFETY: valid file id; the path was seen in the walk (hard links only).
        Hid::new(
            unsafe { h5o::H5Oopen(self.fid.id(), c.as_ptr(), H5P_DEFAULT) },
            Kind::Object,
            p,
        )
    }
}

fn kind_name(v: &AttrValue) -> &'static str {
    match v {
        AttrValue::String(_) => "a string",
        AttrValue::Strings(_) => "strings",
        AttrValue::Int(_) => "integers",
        AttrValue::Float(_) => "floats",
        AttrValue::Bytes(_) => "bytes",
    }
}

/// Classifies a dataset's stored type, reading its `dtype` attribute for opaque types.
fn classify_dataset(did: hid_t, ftype: hid_t, img: &[u8], what: &str) -> Result<Class> {
    // SAFETY: getter on a valid type.
    let dtype_attr = if unsafe { h5t::H5Tget_class(ftype) } == H5T_class_t::H5T_OPAQUE
        && attrs::attr_exists(did, "dtype", what)?
    {
        match attrs::read_attr(did, "dtype", img, what)? {
            AttrValue::String(s) => Some(s),
            _ => None,
        }
    } else {
        None
    };
    types::classify(ftype, dtype_attr.as_deref(), what)
}

/// Most chunks a chunked dataset may have (libhdf5 walks and indexes each one).
const MAX_CHUNKS: u64 = 1 << 24;
/// libhdf5's own bound on a chunk's size (its chunk sizes are 32-bit).
const MAX_CHUNK_BYTES: u64 = (1 << 32) - 1;

/// Checks a chunked dataset's chunk layout before libhdf5 reads it (fuzz finding 4: chunk dims
/// of another rank than the dataspace make `H5Dread` allocate without bound): the chunk rank is
/// the dataspace's, every chunk dimension is at least 1, there are at most [`MAX_CHUNKS`]
/// chunks, and one chunk is at most 4 GiB and passes the expansion rule against the file size.
fn check_chunks(
    dcpl: hid_t,
    shape: Option<&[u64]>,
    item: u64,
    file_len: u64,
    what: &str,
) -> Result<()> {
    let mut dims = [0 as hsize_t; 32];
    // SAFETY: `dims` has room for 32 entries; libhdf5 writes at most max_ndims of them.
    let rank = unsafe { h5p::H5Pget_chunk(dcpl, dims.len() as i32, dims.as_mut_ptr()) };
    let rank = usize::try_from(rank).map_err(|_| corrupt(what))?;
    let shape = shape.unwrap_or(&[]);
    if rank != shape.len() || rank > dims.len() {
        return Err(Error::corrupt(format!(
            "{what}: chunks of rank {rank} for a dataspace of rank {}",
            shape.len()
        )));
    }
    let chunk = &dims[..rank];
    if chunk.contains(&0) {
        return Err(Error::corrupt(format!(
            "{what}: chunk shape {chunk:?} has a 0"
        )));
    }
    let mut nchunks: u64 = 1;
    let mut elems: u64 = 1;
    for (&d, &c) in shape.iter().zip(chunk) {
        nchunks = nchunks.saturating_mul(d.div_ceil(c));
        elems = elems.saturating_mul(c);
    }
    if nchunks > MAX_CHUNKS {
        return Err(Error::corrupt(format!(
            "{what}: shape {shape:?} in chunks of {chunk:?} makes {nchunks} chunks (more than {MAX_CHUNKS})"
        )));
    }
    let bytes = elems.saturating_mul(item.max(1));
    if bytes > MAX_CHUNK_BYTES {
        return Err(Error::corrupt(format!(
            "{what}: chunks of {chunk:?} are {bytes} bytes (more than {MAX_CHUNK_BYTES})"
        )));
    }
    check_expansion(bytes, file_len, &format!("{what}: one chunk"))
}

/// Refuses a filtered dataset whose filters are not compiled in (lzf, blosc, szip, ...).
fn require_filters(dcpl: hid_t, what: &str) -> Result<()> {
    // SAFETY: getter on a valid dataset creation property list.
    let n = unsafe { h5p::H5Pget_nfilters(dcpl) };
    for i in 0..u32::try_from(n).unwrap_or(0) {
        let mut flags = 0u32;
        let mut nelmts = 0usize;
        let mut name = [0 as c_char; 64];
        let mut config = 0u32;
        // SAFETY: cd_values may be null when cd_nelmts is 0 (we ask for none); `name` has 64
        // bytes and libhdf5 writes at most namelen.
        let id = unsafe {
            h5p::H5Pget_filter2(
                dcpl,
                i,
                &mut flags,
                &mut nelmts,
                std::ptr::null_mut(),
                name.len(),
                name.as_mut_ptr(),
                &mut config,
            )
        };
        if id < 0 {
            return Err(corrupt(what));
        }
        // SAFETY: query on a filter id.
        if unsafe { h5z::H5Zfilter_avail(id) } <= 0 {
            super::handle::clear_errors();
            // SAFETY: libhdf5 NUL-terminates within `name` (zeroed, 64 bytes).
            let fname = unsafe { CStr::from_ptr(name.as_ptr()) }
                .to_string_lossy()
                .into_owned();
            return Err(Error::unsupported(format!(
                "{what}: compressed with HDF5 filter {id} ({fname}), which is not built in"
            )));
        }
    }
    Ok(())
}

struct Walker<'a> {
    img: &'a [u8],
    limit: u64,
    base: u64,
    groups: Vec<String>,
    datasets: Vec<Entry>,
    visited: HashSet<[u8; 16]>,
}

fn token_bytes(info: &H5O_info2_t) -> [u8; 16] {
    // SAFETY: H5O_token_t is repr(C) around exactly [u8; H5O_MAX_TOKEN_SIZE = 16].
    unsafe { std::ptr::read((&info.token as *const h5o::H5O_token_t).cast::<[u8; 16]>()) }
}

impl Walker<'_> {
    fn walk_root(&mut self, fid: hid_t) -> Result<()> {
        // SAFETY: valid file id; "/" is NUL-terminated.
        let root = Hid::new(
            unsafe { h5g::H5Gopen2(fid, c"/".as_ptr(), H5P_DEFAULT) },
            Kind::Group,
            "cannot open the root group",
        )?;
        let mut info = super::handle::zeroed_obj_info();
        // SAFETY: valid object id; `info` is a local out-parameter.
        check(
            unsafe { h5o::H5Oget_info3(root.id(), &mut info, H5O_INFO_BASIC) },
            "root group",
        )?;
        self.visited.insert(token_bytes(&info));
        self.groups.push("/".to_owned());
        self.group(root.id(), "/", 0)
    }

    fn group(&mut self, gid: hid_t, path: &str, depth: usize) -> Result<()> {
        if depth > MAX_DEPTH {
            return Err(Error::corrupt(format!(
                "{path}: groups nested deeper than {MAX_DEPTH}"
            )));
        }
        for (name, ty) in list_links(gid, path)? {
            let name = String::from_utf8(name).map_err(|e| {
                Error::corrupt(format!(
                    "{path}: link name {} is not UTF-8",
                    e.as_bytes().escape_ascii()
                ))
            })?;
            let child = join(path, &name);
            let cname = cstring(&name)?;
            match ty {
                LINK_HARD => {}
                LINK_SOFT => {
                    return Err(Error::unsupported(format!(
                        "{child} is a soft link; soft links are not followed"
                    )))
                }
                LINK_EXTERNAL => {
                    return Err(Error::unsupported(format!(
                        "{child} is an external link into another file; refused"
                    )))
                }
                _ => {
                    return Err(Error::unsupported(format!(
                        "{child} is a user-defined link; refused"
                    )))
                }
            }
            let mut info = super::handle::zeroed_obj_info();
            // SAFETY: valid group id, NUL-terminated name of a hard link; local out-parameter.
            check(
                unsafe {
                    h5o::H5Oget_info_by_name3(
                        gid,
                        cname.as_ptr(),
                        &mut info,
                        H5O_INFO_BASIC,
                        H5P_DEFAULT,
                    )
                },
                &child,
            )?;
            match info.type_ {
                H5O_type_t::H5O_TYPE_GROUP => {
                    // A group reachable twice (hard links, cycles) is listed and walked once.
                    if self.visited.insert(token_bytes(&info)) {
                        self.groups.push(child.clone());
                        // SAFETY: as above; closed by the guard.
                        let g = Hid::new(
                            unsafe { h5g::H5Gopen2(gid, cname.as_ptr(), H5P_DEFAULT) },
                            Kind::Group,
                            &child,
                        )?;
                        self.group(g.id(), &child, depth + 1)?;
                    }
                }
                H5O_type_t::H5O_TYPE_DATASET => {
                    let entry = self.dataset(gid, &cname, child)?;
                    self.datasets.push(entry);
                }
                // Committed datatypes hold no data.
                H5O_type_t::H5O_TYPE_NAMED_DATATYPE => {}
                other => {
                    return Err(Error::unsupported(format!(
                        "{child}: HDF5 object type {other:?}"
                    )))
                }
            }
        }
        Ok(())
    }

    fn dataset(&mut self, gid: hid_t, cname: &CStr, path: String) -> Result<Entry> {
        let what = path.as_str();
        // SAFETY: valid group id and NUL-terminated name; ids closed by guards.
        let did = Hid::new(
            unsafe { h5d::H5Dopen2(gid, cname.as_ptr(), H5P_DEFAULT) },
            Kind::Dataset,
            what,
        )?;
        // SAFETY: getters on a valid dataset.
        let dcpl = Hid::new(
            unsafe { h5d::H5Dget_create_plist(did.id()) },
            Kind::Plist,
            what,
        )?;
        // SAFETY: getters on a valid dataset creation property list.
        let (layout, external, nfilters) = unsafe {
            (
                h5p::H5Pget_layout(dcpl.id()),
                h5p::H5Pget_external_count(dcpl.id()),
                h5p::H5Pget_nfilters(dcpl.id()),
            )
        };
        if external != 0 {
            return Err(Error::unsupported(format!(
                "{what} stores its data in external files; refused"
            )));
        }
        if nfilters < 0 {
            return Err(corrupt(what));
        }
        // SAFETY: as above.
        let ftype = Hid::new(unsafe { h5d::H5Dget_type(did.id()) }, Kind::Datatype, what)?;
        // SAFETY: as above.
        let space = Hid::new(
            unsafe { h5d::H5Dget_space(did.id()) },
            Kind::Dataspace,
            what,
        )?;
        let class = classify_dataset(did.id(), ftype.id(), self.img, what)?;
        let dtype = class.dtype();
        let (shape, n) = match dataspace_shape(space.id(), what)? {
            Some(shape) => {
                let n = element_count(&shape, what)?;
                (shape, n)
            }
            None => (vec![0], 0),
        };
        let direct_type = match class {
            Class::Fixed { direct, .. } => direct,
            Class::Raw { .. } => true,
            Class::VlenStr { .. } | Class::FixedStr { .. } => false,
        };
        let nbytes = dtype
            .item_size()
            .map(|item| {
                n.checked_mul(item as u64)
                    .ok_or_else(|| Error::corrupt(format!("{what}: size overflows")))
            })
            .transpose()?;
        // SAFETY: getters on a valid dataset.
        let (stored, addr) = unsafe {
            (
                h5d::H5Dget_storage_size(did.id()),
                h5d::H5Dget_offset(did.id()),
            )
        };
        let layout = match layout {
            H5D_layout_t::H5D_CONTIGUOUS => {
                if addr == HADDR_UNDEF {
                    // H5Dget_offset reports unallocated storage as a failure too.
                    super::handle::clear_errors();
                    if stored != 0 {
                        return Err(Error::corrupt(format!(
                            "{what}: {stored} bytes stored at no address"
                        )));
                    }
                    Layout::Unallocated
                } else {
                    let len = match nbytes {
                        Some(nb) if nb != stored => {
                            return Err(Error::corrupt(format!(
                                "{what}: shape {shape:?} of {dtype} needs {nb} bytes but the dataset stores {stored}"
                            )))
                        }
                        Some(nb) => nb,
                        None => stored,
                    };
                    addr.checked_add(len).filter(|&e| e <= self.limit).ok_or_else(|| {
                        Error::corrupt(format!(
                            "{what}: data at {addr}+{len} is past the end of the HDF5 file ({} bytes)",
                            self.limit
                        ))
                    })?;
                    let offset = self
                        .base
                        .checked_add(addr)
                        .ok_or_else(|| Error::corrupt(format!("{what}: offset overflows")))?;
                    Layout::Contiguous { offset, len }
                }
            }
            H5D_layout_t::H5D_CHUNKED => {
                let shape = dataspace_shape(space.id(), what)?;
                // SAFETY: getter on a valid type.
                let item = unsafe { h5t::H5Tget_size(ftype.id()) } as u64;
                check_chunks(dcpl.id(), shape.as_deref(), item, self.limit, what)?;
                Layout::Chunked
            }
            H5D_layout_t::H5D_COMPACT => Layout::Compact,
            H5D_layout_t::H5D_VIRTUAL => {
                return Err(Error::unsupported(format!(
                "{what} is a virtual dataset (its data lives in other datasets or files); refused"
            )))
            }
            _ => return Err(corrupt(what)),
        };
        let direct = direct_type
            && nfilters == 0
            && nbytes.is_some_and(|nb| nb > 0)
            && matches!(layout, Layout::Contiguous { .. });
        Ok(Entry {
            info: DatasetInfo {
                path,
                dtype,
                shape,
                layout,
                filtered: nfilters > 0,
            },
            direct,
        })
    }
}

/// Link classes (`H5L_type_t` values; user-defined links use 65..=255, which the Rust enum
/// cannot hold, so the raw value is read).
const LINK_HARD: i32 = 0;
const LINK_SOFT: i32 = 1;
const LINK_EXTERNAL: i32 = 64;

/// The links of a group, in name order: (name bytes, raw link type).
fn list_links(gid: hid_t, path: &str) -> Result<Vec<(Vec<u8>, i32)>> {
    /// # Safety
    /// Called by libhdf5 during the iteration below with `data` = the Vec passed to it.
    unsafe extern "C" fn collect(
        _group: hid_t,
        name: *const c_char,
        info: *const H5L_info2_t,
        data: *mut c_void,
    ) -> i32 {
        if info.is_null() || name.is_null() {
            return -1;
        }
        // SAFETY: `data` is the Vec passed below; `name` and `info` are valid for the callback;
        // `type_` is the first field of the repr(C) struct, a C enum (int-sized), read as i32 so
        // that user-defined link classes are not invalid Rust enum values. Nothing here unwinds
        // (a failed allocation aborts).
        unsafe {
            let out = &mut *(data as *mut Vec<(Vec<u8>, i32)>);
            let ty = std::ptr::read(info.cast::<i32>());
            out.push((CStr::from_ptr(name).to_bytes().to_vec(), ty));
        }
        0
    }
    let mut out: Vec<(Vec<u8>, i32)> = Vec::new();
    let mut idx: hsize_t = 0;
    // SAFETY: valid group id; the callback matches H5L_iterate2_t and only touches `out`.
    let ret = unsafe {
        h5l::H5Literate2(
            gid,
            H5_index_t::H5_INDEX_NAME,
            H5_iter_order_t::H5_ITER_INC,
            &mut idx,
            Some(collect),
            (&mut out as *mut Vec<(Vec<u8>, i32)>).cast(),
        )
    };
    check(ret, &format!("{path}: cannot list the group"))?;
    Ok(out)
}
