//! Reading a tensor bundle: `P.index` parsed and validated eagerly, data shards mapped lazily.
//!
//! ```text
//! P.index  (SSTable, sorted keys)                 P.data-00000-of-00002 (no header, no padding
//!   ""            -> BundleHeaderProto              in practice; only `offset` locates a tensor)
//!   "\0part\0.."  -> slice entry  ----------+     +------------+---------+------------+--
//!   "a"           -> {shard 0, off 0, sz 8} --|---> | a: 8 bytes | b: ...  | slice of p | ...
//!   "b"           -> {shard 0, off 8, ...}    +-----------------------------^
//!   "p"           -> {dtype, full shape, slices: [extents...]}  (location fields ignored)
//!
//! payload by dtype:  fixed-size  raw row-major elements, header byte order; crc = Mask(crc32c)
//!                    DT_STRING   varint lens | u32 length crc | bytes      (see `strings`)
//!                    DT_VARIANT  per element: varint len | proto | u32 crc (see `strings`)
//! ```
//!
//! Every rule that can be checked from the index alone is checked in [`BundleReader::open`], so
//! that a read only has to check what depends on the data files: that the bytes are there and
//! that their CRC matches. Shards are mapped on first use (TF also reports a missing shard only
//! when a tensor in it is read) and shared by every zero-copy tensor that views them.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::OnceLock;

use prost::Message;
use rayon::prelude::*;

use super::entry::{parse_entry, parse_header};
use super::naming::{data_path, encode_slice_key, index_path};
use super::slices::{check_cover, for_each_run, resolve, Region};
use super::strings::{checksum_error, decode_strings, decode_variants};
use super::table::read_table;
use crate::checksum::{crc32c_parallel, mask};
use crate::dtype::DType;
use crate::error::{display_key, Error, Location, Result};
use crate::io::MappedFile;
use crate::proto::tensorflow::TrackableObjectGraph;
use crate::tensor::{Tensor, TensorData};

/// Key of the serialized `TrackableObjectGraph` (a string scalar) in object-based checkpoints.
const OBJECT_GRAPH_KEY: &[u8] = b"_CHECKPOINTABLE_OBJECT_GRAPH";

/// One index entry, decoded and validated.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct EntryInfo {
    pub dtype: DType,
    /// The full shape (for a partitioned tensor too).
    pub shape: Vec<u64>,
    pub shard_id: u32,
    pub offset: u64,
    pub size: u64,
    /// Masked CRC32C, as stored.
    pub crc32c: u32,
    /// Non-empty for a partitioned tensor: one `(start, length)` list per slice, a full extent
    /// as `(0, -1)`. Then `shard_id`/`offset`/`size`/`crc32c` mean nothing (tf_formats.md §2.6).
    pub slices: Vec<Vec<(i64, i64)>>,
}

impl EntryInfo {
    /// Number of elements of the (full) tensor.
    pub fn num_elements(&self) -> u64 {
        self.shape.iter().product()
    }

    /// Whether this is a partitioned tensor assembled from slice entries.
    pub fn is_partitioned(&self) -> bool {
        !self.slices.is_empty()
    }
}

/// An entry plus read-time state.
#[derive(Debug)]
struct Entry {
    info: EntryInfo,
    /// Set once the CRC has been checked, so repeated verified reads cost nothing.
    verified: AtomicBool,
    /// Partitioned tensors: the slice entry keys and where each slice goes.
    parts: Vec<(Vec<u8>, Region)>,
}

/// A tensor bundle opened for reading. `Send + Sync`: share it across threads behind an `Arc`.
#[derive(Debug)]
pub struct BundleReader {
    prefix: PathBuf,
    index_path: PathBuf,
    num_shards: u32,
    big_endian: bool,
    /// Visible tensors, sorted by key.
    entries: BTreeMap<Vec<u8>, Entry>,
    /// Slice entries of partitioned tensors (keys start with 0x00); hidden from `keys()`.
    slice_entries: BTreeMap<Vec<u8>, Entry>,
    /// A lazily mapped file for each shard that some entry uses, sorted by shard id. Sparse:
    /// the header's `num_shards` is file data and may be absurd.
    shards: Vec<(u32, OnceLock<MappedFile>)>,
}

/// How a payload's CRC is to be handled on this read.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Check {
    /// Check unless this entry was already checked.
    IfUnverified,
    /// Check even if it was (`verify_all`).
    Always,
    Never,
}

impl BundleReader {
    /// Opens the bundle at `prefix` (`P`, reading `P.index`), validating the whole index: header
    /// version and shard count, every entry's dtype, shape, size and location, and for
    /// partitioned tensors that every slice entry exists and that the slices tile the shape.
    pub fn open(prefix: &Path) -> Result<Self> {
        let index_path = index_path(prefix);
        let index = MappedFile::open(&index_path)?;
        Self::from_index_bytes(prefix, index_path.clone(), index.bytes())
            .map_err(|e| e.in_file(&index_path))
    }

    fn from_index_bytes(prefix: &Path, index_path: PathBuf, bytes: &[u8]) -> Result<Self> {
        let mut rows = read_table(bytes)?.into_iter();
        let header = match rows.next() {
            Some((key, value)) if key.is_empty() => parse_header(&value)?,
            _ => {
                return Err(Error::corrupt(
                    "missing bundle header (the first key is not \"\")",
                ))
            }
        };
        let mut entries = BTreeMap::new();
        let mut slice_entries = BTreeMap::new();
        for (key, value) in rows {
            let info = parse_entry(&key, &value, header.num_shards).map_err(|e| e.for_key(&key))?;
            let entry = Entry {
                info,
                verified: AtomicBool::new(false),
                parts: Vec::new(),
            };
            if key.first() == Some(&0) {
                if entry.info.is_partitioned() {
                    return Err(Error::corrupt("a slice entry is itself partitioned").for_key(&key));
                }
                slice_entries.insert(key, entry);
            } else {
                entries.insert(key, entry);
            }
        }
        for (key, entry) in entries.iter_mut() {
            if entry.info.is_partitioned() {
                entry.parts =
                    link_slices(key, &entry.info, &slice_entries).map_err(|e| e.for_key(key))?;
            }
        }
        let used: BTreeSet<u32> = entries
            .values()
            .chain(slice_entries.values())
            .filter(|e| !e.info.is_partitioned())
            .map(|e| e.info.shard_id)
            .collect();
        let shards = used.into_iter().map(|id| (id, OnceLock::new())).collect();
        Ok(BundleReader {
            prefix: prefix.to_path_buf(),
            index_path,
            num_shards: header.num_shards,
            big_endian: header.big_endian,
            entries,
            slice_entries,
            shards,
        })
    }

    /// The prefix `P` this bundle was opened from.
    pub fn prefix(&self) -> &Path {
        &self.prefix
    }

    /// Number of data shards, from the header.
    pub fn num_shards(&self) -> u32 {
        self.num_shards
    }

    /// Whether the data was written on a big-endian host (reads byte-swap it).
    pub fn is_big_endian(&self) -> bool {
        self.big_endian
    }

    /// Tensor keys, sorted bytewise; the header and the slice entries are not listed.
    pub fn keys(&self) -> Vec<&[u8]> {
        self.entries.keys().map(Vec::as_slice).collect()
    }

    /// The index entry of `key`.
    pub fn entry(&self, key: &[u8]) -> Result<&EntryInfo> {
        self.get(key).map(|e| &e.info)
    }

    fn get(&self, key: &[u8]) -> Result<&Entry> {
        self.entries.get(key).ok_or_else(|| Error::KeyNotFound {
            at: Location {
                file: Some(self.index_path.clone()),
                key: Some(display_key(key)),
            },
        })
    }

    /// Reads one tensor. Little-endian fixed-size tensors come back zero-copy
    /// ([`TensorData::Mapped`]); big-endian ones, strings, variants and partitioned tensors are
    /// copied. With `verify`, the CRC is checked the first time this key is read.
    pub fn read(&self, key: &[u8], verify: bool) -> Result<Tensor> {
        let entry = self.get(key)?;
        let check = if verify {
            Check::IfUnverified
        } else {
            Check::Never
        };
        self.read_entry(key, entry, check)
    }

    /// Reads several tensors in parallel (CRC checking is the cost), in the order given.
    pub fn read_many(&self, keys: &[&[u8]], verify: bool) -> Result<Vec<Tensor>> {
        keys.par_iter().map(|k| self.read(k, verify)).collect()
    }

    /// Checks every CRC in the bundle (every tensor and every slice entry, even ones already
    /// verified), that every payload decodes, and that the object graph (if any) parses.
    /// Returns the first error in key order.
    pub fn verify_all(&self) -> Result<()> {
        // In key order; a partitioned tensor is checked through its slices, whose errors name
        // the tensor. Slice entries no tensor refers to are checked last, under their own keys.
        let mut referenced = BTreeSet::new();
        let mut work: Vec<(&[u8], &Entry)> = Vec::new();
        for (key, entry) in &self.entries {
            if entry.info.is_partitioned() {
                for (slice_key, _) in &entry.parts {
                    if let Some(slice) = self.slice_entries.get(slice_key) {
                        referenced.insert(slice_key.as_slice());
                        work.push((key, slice));
                    }
                }
            } else {
                work.push((key, entry));
            }
        }
        for (slice_key, slice) in &self.slice_entries {
            if !referenced.contains(slice_key.as_slice()) {
                work.push((slice_key, slice));
            }
        }
        let results: Vec<Result<()>> = work
            .par_iter()
            .map(|(k, e)| self.verify_entry(k, e))
            .collect();
        results.into_iter().collect::<Result<()>>()?;
        self.object_graph().map(drop)
    }

    /// The `TrackableObjectGraph` of an object-based checkpoint, if it has one. Errors name the
    /// data file that holds it.
    pub fn object_graph(&self) -> Result<Option<TrackableObjectGraph>> {
        let Some(entry) = self.entries.get(OBJECT_GRAPH_KEY) else {
            return Ok(None);
        };
        let tensor = self.read(OBJECT_GRAPH_KEY, true)?;
        let file = if entry.info.is_partitioned() {
            self.index_path.clone()
        } else {
            self.data_path(entry.info.shard_id)
        };
        let at = |e: Error| e.for_key(OBJECT_GRAPH_KEY).in_file(&file);
        let bytes = match &tensor.data {
            TensorData::Strings(v) if v.len() == 1 => &v[0],
            _ => {
                return Err(at(Error::corrupt(format!(
                    "bad object graph: expected a string scalar, found {}{:?}",
                    tensor.dtype, tensor.shape
                ))))
            }
        };
        TrackableObjectGraph::decode(bytes.as_slice())
            .map(Some)
            .map_err(|e| {
                at(Error::corrupt(format!(
                    "bad object graph (TrackableObjectGraph protobuf): {e}"
                )))
            })
    }

    /// The mapped data file of `shard`, mapping it on first use. `key` is the tensor that needs
    /// it: an I/O error names it (keeping its kind, so a missing shard stays `NotFound`).
    fn shard(&self, shard: u32, key: &[u8]) -> Result<&MappedFile> {
        let cell = self
            .shards
            .binary_search_by_key(&shard, |(id, _)| *id)
            .ok()
            .and_then(|i| self.shards.get(i))
            .map(|(_, cell)| cell)
            .ok_or_else(|| Error::corrupt(format!("shard {shard} is not used by any entry")))?;
        if let Some(file) = cell.get() {
            return Ok(file);
        }
        let file = MappedFile::open(&self.data_path(shard)).map_err(|e| match e {
            Error::Io { path, source } => {
                let detail = format!("{source}; needed by key {:?}", display_key(key));
                Error::io(path, std::io::Error::new(source.kind(), detail))
            }
            other => other,
        })?;
        // Another thread may have won the race; either map is fine, keep the first.
        let _ = cell.set(file);
        cell.get()
            .ok_or_else(|| Error::corrupt(format!("shard {shard} could not be mapped")))
    }

    fn data_path(&self, shard: u32) -> PathBuf {
        data_path(&self.prefix, shard, self.num_shards)
    }

    /// The payload bytes of an unpartitioned entry, and the file they are in.
    fn payload(&self, key: &[u8], info: &EntryInfo) -> Result<(&MappedFile, &[u8])> {
        let file = self.shard(info.shard_id, key)?;
        let bytes = file.range(info.offset, info.size).map_err(|_| {
            Error::corrupt(format!(
                "entry at offset {} size {} is past the end of the data file ({} bytes)",
                info.offset,
                info.size,
                file.bytes().len()
            ))
            .for_key(key)
            .in_file(file.path())
        })?;
        Ok((file, bytes))
    }

    fn read_entry(&self, key: &[u8], entry: &Entry, check: Check) -> Result<Tensor> {
        let result = if entry.info.is_partitioned() {
            self.read_partitioned(key, entry, check)
        } else {
            self.read_plain(key, entry, check)
        };
        result.map_err(|e| e.for_key(key).in_file(&self.index_path))
    }

    fn wants_check(entry: &Entry, check: Check) -> bool {
        match check {
            Check::Never => false,
            Check::Always => true,
            Check::IfUnverified => !entry.verified.load(Ordering::Acquire),
        }
    }

    /// Checks the CRC of an entry's bytes (fixed-size) or decodes it with CRC checks (strings,
    /// variants), then marks it verified.
    fn verify_entry(&self, key: &[u8], entry: &Entry) -> Result<()> {
        let info = &entry.info;
        let result = if info.dtype.is_fixed_size() {
            self.payload(key, info).and_then(|(file, bytes)| {
                check_crc(bytes, info.crc32c).map_err(|e| e.in_file(file.path()))
            })
        } else {
            self.read_plain(key, entry, Check::Always).map(drop)
        };
        result.map_err(|e| e.for_key(key).in_file(&self.index_path))?;
        entry.verified.store(true, Ordering::Release);
        Ok(())
    }

    fn read_plain(&self, key: &[u8], entry: &Entry, check: Check) -> Result<Tensor> {
        let info = &entry.info;
        let (file, bytes) = self.payload(key, info)?;
        let checking = Self::wants_check(entry, check);
        let expected = checking.then_some(info.crc32c);
        let in_data = |e: Error| e.for_key(key).in_file(file.path());
        let data = match info.dtype {
            DType::String => TensorData::Strings(
                decode_strings(bytes, info.num_elements(), self.big_endian, expected)
                    .map_err(in_data)?,
            ),
            DType::Variant => {
                if self.big_endian {
                    return Err(Error::unsupported(
                        "DT_VARIANT tensors in a big-endian bundle",
                    ));
                }
                TensorData::Variants(
                    decode_variants(bytes, info.num_elements(), expected).map_err(in_data)?,
                )
            }
            dtype => {
                if checking {
                    check_crc(bytes, info.crc32c).map_err(in_data)?;
                }
                self.fixed_data(dtype, file, info.offset, bytes)?
            }
        };
        if checking {
            entry.verified.store(true, Ordering::Release);
        }
        Ok(Tensor {
            dtype: info.dtype,
            shape: info.shape.clone(),
            data,
        })
    }

    /// Fixed-size elements: a view of the map when the byte order is already little-endian.
    fn fixed_data(
        &self,
        dtype: DType,
        file: &MappedFile,
        offset: u64,
        bytes: &[u8],
    ) -> Result<TensorData> {
        if bytes.is_empty() {
            return Ok(TensorData::Owned(Vec::new()));
        }
        let unit = self.swap_unit(dtype)?;
        if unit > 1 {
            let mut owned = bytes.to_vec();
            byte_swap(&mut owned, unit);
            return Ok(TensorData::Owned(owned));
        }
        match file.shared_map() {
            // `payload` checked offset + len against this map, so both fit in usize.
            Some(map) => Ok(TensorData::Mapped {
                map: map.clone(),
                offset: offset as usize,
                len: bytes.len(),
            }),
            None => Ok(TensorData::Owned(bytes.to_vec())),
        }
    }

    /// Bytes to reverse per element: 1 (nothing to do) for little-endian bundles.
    fn swap_unit(&self, dtype: DType) -> Result<usize> {
        if !self.big_endian {
            return Ok(1);
        }
        dtype.swap_unit().ok_or_else(|| {
            Error::unsupported(format!("cannot byte-swap {dtype} from a big-endian bundle"))
        })
    }

    /// Assembles a partitioned tensor from its slices (tf_formats.md §2.6). Errors name the
    /// tensor's own `key`, not the binary slice keys, which mean nothing to a user.
    fn read_partitioned(&self, key: &[u8], entry: &Entry, check: Check) -> Result<Tensor> {
        let info = &entry.info;
        let total = info.num_elements();
        let slice = |k: &[u8]| {
            self.slice_entries
                .get(k)
                .ok_or_else(|| Error::corrupt(format!("missing slice entry {}", display_key(k))))
        };
        let data = match info.dtype {
            DType::String => {
                // Decode every slice first: each is bounded by bytes that exist, and together
                // they hold exactly `total` elements (checked at open).
                let mut pieces = Vec::with_capacity(entry.parts.len());
                for (k, _) in &entry.parts {
                    match self.read_plain(key, slice(k)?, check)?.data {
                        TensorData::Strings(v) => pieces.push(v),
                        _ => return Err(Error::corrupt("string slice did not decode to strings")),
                    }
                }
                let mut full = vec![Vec::new(); usize_of(total)?];
                for ((_, region), mut piece) in entry.parts.iter().zip(pieces) {
                    for_each_run(region, &info.shape, |dst, src, run| {
                        let d = full.get_mut(range(dst, run)?).ok_or_else(run_error)?;
                        let s = piece.get_mut(range(src, run)?).ok_or_else(run_error)?;
                        for (a, b) in d.iter_mut().zip(s) {
                            *a = std::mem::take(b);
                        }
                        Ok(())
                    })?;
                }
                TensorData::Strings(full)
            }
            DType::Variant => return Err(Error::unsupported("partitioned DT_VARIANT tensors")),
            dtype => {
                let item = dtype
                    .item_size()
                    .ok_or_else(|| Error::unsupported(format!("partitioned {dtype} tensors")))?;
                let mut pieces = Vec::with_capacity(entry.parts.len());
                for (k, _) in &entry.parts {
                    let e = slice(k)?;
                    let (file, bytes) = self.payload(key, &e.info)?;
                    if Self::wants_check(e, check) {
                        check_crc(bytes, e.info.crc32c)
                            .map_err(|err| err.for_key(key).in_file(file.path()))?;
                        e.verified.store(true, Ordering::Release);
                    }
                    pieces.push(bytes);
                }
                // Bounded: the slices' bytes exist and add up to exactly this many.
                let mut full = vec![0u8; usize_of(total)?.checked_mul(item).ok_or_else(run_error)?];
                let item = item as u64;
                for ((_, region), piece) in entry.parts.iter().zip(pieces) {
                    for_each_run(region, &info.shape, |dst, src, run| {
                        let d = full
                            .get_mut(range(dst * item, run * item)?)
                            .ok_or_else(run_error)?;
                        let s = piece
                            .get(range(src * item, run * item)?)
                            .ok_or_else(run_error)?;
                        d.copy_from_slice(s);
                        Ok(())
                    })?;
                }
                byte_swap(&mut full, self.swap_unit(dtype)?);
                TensorData::Owned(full)
            }
        };
        Ok(Tensor {
            dtype: info.dtype,
            shape: info.shape.clone(),
            data,
        })
    }
}

/// Resolves and checks the slices of partitioned tensor `key` against the slice entries.
fn link_slices(
    key: &[u8],
    info: &EntryInfo,
    slice_entries: &BTreeMap<Vec<u8>, Entry>,
) -> Result<Vec<(Vec<u8>, Region)>> {
    let mut parts = Vec::with_capacity(info.slices.len());
    for extents in &info.slices {
        let region = resolve(extents, &info.shape)?;
        let slice_key = encode_slice_key(key, extents);
        let slice = slice_entries.get(&slice_key).ok_or_else(|| {
            Error::corrupt(format!(
                "partitioned tensor: slice {extents:?} has no slice entry {}",
                display_key(&slice_key)
            ))
        })?;
        if slice.info.dtype != info.dtype || slice.info.shape != region.len {
            return Err(Error::corrupt(format!(
                "slice entry {} is {}{:?}, expected {}{:?}",
                display_key(&slice_key),
                slice.info.dtype,
                slice.info.shape,
                info.dtype,
                region.len
            )));
        }
        parts.push((slice_key, region));
    }
    let regions: Vec<Region> = parts.iter().map(|(_, r)| r.clone()).collect();
    check_cover(&regions, info.num_elements())?;
    Ok(parts)
}

/// Compares `Mask(crc32c(bytes))` with the stored masked CRC.
fn check_crc(bytes: &[u8], stored: u32) -> Result<()> {
    let actual = crc32c_parallel(bytes);
    if mask(actual) != stored {
        return Err(checksum_error(stored, actual));
    }
    Ok(())
}

/// Reverses each `unit`-byte group in place (big-endian file -> little-endian memory).
fn byte_swap(bytes: &mut [u8], unit: usize) {
    if unit > 1 {
        for chunk in bytes.chunks_exact_mut(unit) {
            chunk.reverse();
        }
    }
}

fn usize_of(n: u64) -> Result<usize> {
    usize::try_from(n).map_err(|_| Error::corrupt(format!("{n} elements do not fit in memory")))
}

fn range(start: u64, len: u64) -> Result<std::ops::Range<usize>> {
    let s = usize_of(start)?;
    let e = s.checked_add(usize_of(len)?).ok_or_else(run_error)?;
    Ok(s..e)
}

fn run_error() -> Error {
    Error::corrupt("slice does not fit the partitioned tensor")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reader_is_send_and_sync() {
        fn assert_send_sync<T: Send + Sync>() {}
        assert_send_sync::<BundleReader>();
    }

    #[test]
    fn byte_swap_units() {
        let mut b = [1, 2, 3, 4, 5, 6, 7, 8];
        byte_swap(&mut b, 4);
        assert_eq!(b, [4, 3, 2, 1, 8, 7, 6, 5]);
        byte_swap(&mut b, 1);
        assert_eq!(b, [4, 3, 2, 1, 8, 7, 6, 5]);
    }
}
