//! Writing a tensor bundle byte-identical to TF's `SaveV2` (single shard) or a multi-shard one
//! that TF reads the same way.
//!
//! ```text
//! tensors (argument order)        P.data-00000-of-00002            P.data-00001-of-00002
//!   a  f32[2]      8 B  ------->  +---------+--------------+       +----------------------+
//!   s  string[2]  10 B  ------->  | a: 8 B  | s: 10 B      |  -->  | big: whole shard     |
//!   big f32[1M]   4 MB  --------------------------------------------^  (> max_shard_size)
//!                                 dense: alignment 1, no header, offsets restart per shard
//! P.index: TableBuilder over  "" -> header {num_shards, version{producer 1}},
//!                             then keys sorted bytewise -> BundleEntryProto
//! ```
//!
//! The payload sizes (and string length prefixes) are known up front, so offsets are assigned
//! first; then the CRCs are computed in parallel (rayon) *while* the data files are streamed out
//! on another thread straight from the caller's buffers: no copy of the tensors is made. Every
//! file goes through a temp file + rename, data shards first and the index last, so a crash
//! never leaves an index that points at missing data.

use std::collections::HashSet;
use std::io::Write;
use std::path::Path;

use prost::Message;
use rayon::prelude::*;

use super::entry::{entry_proto, header_proto};
use super::naming::{data_path, index_path};
use super::reader::EntryInfo;
use super::strings::string_header;
use super::table::TableBuilder;
use crate::checksum::{crc32c_extend, crc32c_parallel, mask};
use crate::error::{display_key, Error, Result};
use crate::io::{write_atomic_with, AtomicFile};
use crate::tensor::{Payload, TensorRef};

/// Options for [`write_bundle`].
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct WriteOptions {
    /// Pack whole tensors greedily, in order, into data shards of at most this many bytes; a
    /// tensor larger than the limit gets a shard of its own. `None`: one shard (TF's default).
    pub max_shard_size: Option<u64>,
    /// Skip the fsync before each rename. The files still appear atomically to every process;
    /// only a power cut right after the write could lose them. TF's own writer never syncs.
    pub skip_fsync: bool,
}

/// Where one tensor goes and the bytes that precede its string data.
struct Planned<'a> {
    tensor: &'a TensorRef<'a>,
    /// DT_STRING: varint lengths + stored length CRC, and the running CRC after them.
    string_header: Option<(Vec<u8>, u32)>,
    shard: u32,
    offset: u64,
    size: u64,
}

/// Writes `tensors` as the bundle `prefix` (`P.index` + `P.data-*`), data in argument order (like
/// `SaveV2`), index sorted. Returns the number of shards. Creates the parent directory like TF.
pub fn write_bundle(prefix: &Path, tensors: &[TensorRef], options: &WriteOptions) -> Result<u32> {
    check_tensors(tensors)?;
    let (plans, num_shards) = plan(tensors, options.max_shard_size)?;
    if let Some(dir) = prefix.parent().filter(|d| !d.as_os_str().is_empty()) {
        std::fs::create_dir_all(dir).map_err(|e| Error::io(dir, e))?;
    }

    // The CRC pass and the write pass read the same caller buffers; run them side by side.
    let (crcs, written) = rayon::join(
        || plans.par_iter().map(payload_crc).collect::<Vec<u32>>(),
        || write_data(prefix, &plans, num_shards, options.skip_fsync),
    );
    written?;

    let mut order: Vec<usize> = (0..plans.len()).collect();
    order.sort_unstable_by(|&a, &b| plans[a].tensor.key.cmp(plans[b].tensor.key));
    let mut table = TableBuilder::new();
    table.add(b"", &header_proto(num_shards).encode_to_vec())?;
    for i in order {
        let (p, crc) = (&plans[i], crcs[i]);
        let info = EntryInfo {
            dtype: p.tensor.dtype,
            shape: p.tensor.shape.to_vec(),
            shard_id: p.shard,
            offset: p.offset,
            size: p.size,
            crc32c: crc,
            slices: Vec::new(),
        };
        table.add(p.tensor.key, &entry_proto(&info).encode_to_vec())?;
    }
    write_atomic_with(&index_path(prefix), &table.finish(), !options.skip_fsync)?;
    Ok(num_shards)
}

/// Payloads match their dtype and shape; keys are unique, non-empty (`""` is the header) and do
/// not start with 0x00 (reserved for slice keys).
fn check_tensors(tensors: &[TensorRef]) -> Result<()> {
    let mut seen = HashSet::with_capacity(tensors.len());
    for t in tensors {
        t.validate()?;
        match t.key.first() {
            None => {
                return Err(Error::InvalidArgument(
                    "empty tensor key (\"\" holds the bundle header)".into(),
                ))
            }
            Some(0) => {
                return Err(Error::InvalidArgument(format!(
                    "tensor key {} starts with a NUL byte (reserved for slice keys)",
                    display_key(t.key)
                )))
            }
            Some(_) => {}
        }
        if !seen.insert(t.key) {
            return Err(Error::InvalidArgument(format!(
                "duplicate tensor key {}",
                display_key(t.key)
            )));
        }
    }
    Ok(())
}

/// Assigns shards and offsets; returns the plans and the shard count (at least 1).
fn plan<'a>(
    tensors: &'a [TensorRef<'a>],
    max_shard_size: Option<u64>,
) -> Result<(Vec<Planned<'a>>, u32)> {
    let mut plans = Vec::with_capacity(tensors.len());
    let (mut shard, mut used) = (0u32, 0u64);
    for tensor in tensors {
        let (string_header, size) = match tensor.payload {
            Payload::Raw(bytes) => (None, bytes.len() as u64),
            Payload::Strings(strings) => {
                let (header, crc) = string_header(strings, false);
                let data: u64 = strings.iter().map(|s| s.len() as u64).sum();
                let size = header.len() as u64 + data;
                (Some((header, crc)), size)
            }
        };
        if max_shard_size.is_some_and(|max| used > 0 && used.saturating_add(size) > max) {
            shard += 1;
            used = 0;
        }
        plans.push(Planned {
            tensor,
            string_header,
            shard,
            offset: used,
            size,
        });
        used += size;
    }
    let num_shards = shard + 1;
    if num_shards > i32::MAX as u32 {
        return Err(Error::InvalidArgument(format!(
            "{num_shards} shards do not fit in the header's int32; raise max_shard_size"
        )));
    }
    Ok((plans, num_shards))
}

/// Masked CRC of one planned payload, computed over the caller's buffers.
fn payload_crc(p: &Planned) -> u32 {
    match p.tensor.payload {
        Payload::Raw(bytes) => mask(crc32c_parallel(bytes)),
        Payload::Strings(strings) => {
            // The CRC continues from the length header (tf_formats.md §2.4).
            let start = p.string_header.as_ref().map_or(0, |(_, crc)| *crc);
            mask(strings.iter().fold(start, |crc, s| crc32c_extend(crc, s)))
        }
    }
}

/// Streams every shard's payloads to its data file, in plan order.
fn write_data(prefix: &Path, plans: &[Planned], num_shards: u32, skip_fsync: bool) -> Result<()> {
    let mut rest = plans;
    for shard in 0..num_shards {
        let path = data_path(prefix, shard, num_shards);
        let count = rest.iter().take_while(|p| p.shard == shard).count();
        let (these, later) = rest.split_at(count);
        rest = later;
        let mut file = AtomicFile::create(&path)?;
        for p in these {
            let io = |e| Error::io(&path, e);
            match (p.tensor.payload, &p.string_header) {
                (Payload::Raw(bytes), _) => file.write_all(bytes).map_err(io)?,
                (Payload::Strings(strings), Some((header, _))) => {
                    file.write_all(header).map_err(io)?;
                    for s in strings {
                        file.write_all(s).map_err(io)?;
                    }
                }
                (Payload::Strings(_), None) => {
                    return Err(Error::InvalidArgument(
                        "string tensor without a planned header".into(),
                    ))
                }
            }
        }
        file.commit_with(!skip_fsync)?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::dtype::DType;

    #[test]
    fn greedy_sharding() {
        let small = [0u8; 4];
        let big = [0u8; 40];
        let t = |key: &'static [u8], b: &'static [u8]| TensorRef {
            key,
            dtype: DType::UInt8,
            shape: Box::leak(Box::new([b.len() as u64])),
            payload: Payload::Raw(b),
        };
        let small: &'static [u8] = Box::leak(Box::new(small));
        let big: &'static [u8] = Box::leak(Box::new(big));
        let tensors = [
            t(b"a", small),
            t(b"b", small),
            t(b"c", small),
            t(b"d", big),
            t(b"e", small),
            t(b"f", &[]),
        ];
        let (plans, n) = plan(&tensors, Some(10)).unwrap();
        let where_: Vec<(u32, u64)> = plans.iter().map(|p| (p.shard, p.offset)).collect();
        assert_eq!(where_, vec![(0, 0), (0, 4), (1, 0), (2, 0), (3, 0), (3, 4)]);
        assert_eq!(n, 4);
        let (_, n) = plan(&tensors, None).unwrap();
        assert_eq!(n, 1);
        let (_, n) = plan(&[], Some(1)).unwrap();
        assert_eq!(n, 1);
    }

    #[test]
    fn bad_keys() {
        let t = |key: &'static [u8]| TensorRef {
            key,
            dtype: DType::UInt8,
            shape: &[],
            payload: Payload::Raw(&[1]),
        };
        assert!(check_tensors(&[t(b"a"), t(b"b")]).is_ok());
        for bad in [vec![t(b"a"), t(b"a")], vec![t(b"")], vec![t(b"\0x")]] {
            assert!(matches!(
                check_tensors(&bad),
                Err(Error::InvalidArgument(_))
            ));
        }
    }
}
