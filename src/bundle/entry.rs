//! `BundleHeaderProto` / `BundleEntryProto` <-> [`EntryInfo`], with every structural rule a
//! reader needs checked here, eagerly, so that reads can trust the entry (tf_formats.md §1.8, §2).
//!
//! Pure: takes the serialized proto bytes, returns errors without a file (the reader attaches it).

use prost::Message;

use super::reader::EntryInfo;
use crate::dtype::DType;
use crate::error::{display_key, Error, Result};
use crate::proto::tensorflow::{
    bundle_header_proto::Endianness, tensor_shape_proto::Dim,
    tensor_slice_proto::extent::HasLengthHack, tensor_slice_proto::Extent, BundleEntryProto,
    BundleHeaderProto, TensorShapeProto, TensorSliceProto, VersionDef,
};
use crate::tensor::MAX_ELEMENTS;

use super::strings::{min_string_size, min_variant_size};

/// `kTensorBundleVersion`: the format version this code reads and writes.
pub(crate) const BUNDLE_VERSION: i32 = 1;
/// `kTensorBundleMinProducer`.
const MIN_PRODUCER: i32 = 0;

/// What the reader needs from the header.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Header {
    pub num_shards: u32,
    pub big_endian: bool,
}

/// Decodes and checks the header: TF's `CheckVersions`, shard count, endianness.
pub(crate) fn parse_header(bytes: &[u8]) -> Result<Header> {
    let h = BundleHeaderProto::decode(bytes)
        .map_err(|e| Error::corrupt(format!("bad bundle header: {e}")))?;
    let v = h.version.unwrap_or_default();
    // No writer ever produced a negative version: that is damage, not a newer format.
    if v.producer < MIN_PRODUCER {
        return Err(Error::corrupt(format!(
            "Checkpoint producer version {} below min producer {MIN_PRODUCER} supported by this reader",
            v.producer
        )));
    }
    if v.min_consumer > BUNDLE_VERSION {
        return Err(Error::unsupported(format!(
            "Checkpoint min consumer version {} above current version {BUNDLE_VERSION}",
            v.min_consumer
        )));
    }
    if v.bad_consumers.contains(&BUNDLE_VERSION) {
        return Err(Error::unsupported(format!(
            "Checkpoint disallows consumer version {BUNDLE_VERSION} (a bad consumer per its header)"
        )));
    }
    // Any positive count is accepted: the reader keeps state only for shards that entries use,
    // so a huge count costs nothing until a read names its (missing) file, as in TF.
    let num_shards = u32::try_from(h.num_shards)
        .ok()
        .filter(|&n| n >= 1)
        .ok_or_else(|| {
            Error::corrupt(format!("bad num_shards {} in bundle header", h.num_shards))
        })?;
    let big_endian = match Endianness::try_from(h.endianness) {
        Ok(Endianness::Little) => false,
        Ok(Endianness::Big) => true,
        Err(_) => {
            return Err(Error::corrupt(format!(
                "unknown endianness {} in bundle header",
                h.endianness
            )))
        }
    };
    Ok(Header {
        num_shards,
        big_endian,
    })
}

/// The header TF writes: `{num_shards, version{producer: 1}}` (LITTLE endianness is the default).
pub(crate) fn header_proto(num_shards: u32) -> BundleHeaderProto {
    BundleHeaderProto {
        num_shards: num_shards as i32,
        endianness: Endianness::Little as i32,
        version: Some(VersionDef {
            producer: BUNDLE_VERSION,
            min_consumer: 0,
            bad_consumers: Vec::new(),
        }),
    }
}

/// Decodes one entry and checks it against the header. Sliced (partitioned) entries only get
/// their dtype/shape/extents checked: their location fields are meaningless (§2.6); the reader
/// checks their slice entries once it has seen the whole index.
pub(crate) fn parse_entry(key: &[u8], bytes: &[u8], num_shards: u32) -> Result<EntryInfo> {
    let p = BundleEntryProto::decode(bytes)
        .map_err(|e| Error::corrupt(format!("bad bundle entry (bad protobuf: {e})")))?;
    let dtype = match p.dtype {
        0 => return Err(Error::corrupt("dtype DT_INVALID (0) in bundle entry")),
        code => DType::try_from_tf(code)?,
    };
    if !(dtype.is_fixed_size() || matches!(dtype, DType::String | DType::Variant)) {
        return Err(Error::unsupported(format!(
            "DT_{} tensors cannot be stored in a bundle",
            dtype.name().to_uppercase()
        )));
    }
    // A missing shape is TF's default TensorShape: a scalar.
    let shape_proto = p.shape.unwrap_or_default();
    if shape_proto.unknown_rank {
        return Err(Error::corrupt("shape of unknown rank in a bundle entry"));
    }
    let (shape, num_elements) = shape_and_count(&shape_proto.dim)?;
    let slices: Vec<Vec<(i64, i64)>> = p.slices.iter().map(slice_extents).collect();
    let shard_id = u32::try_from(p.shard_id)
        .map_err(|_| Error::corrupt(format!("negative shard_id {} in bundle entry", p.shard_id)))?;
    let offset = u64::try_from(p.offset)
        .map_err(|_| Error::corrupt(format!("negative offset {} in bundle entry", p.offset)))?;
    let size = u64::try_from(p.size)
        .map_err(|_| Error::corrupt(format!("negative size {} in bundle entry", p.size)))?;
    let info = EntryInfo {
        dtype,
        shape,
        shard_id,
        offset,
        size,
        crc32c: p.crc32c,
        slices,
    };
    if info.slices.is_empty() {
        check_location(&info, num_elements, num_shards, &display_key(key))?;
    }
    // After the size rules, so that a shape the size contradicts gets the size message; for a
    // partitioned tensor this bounds the buffer it is assembled in.
    if num_elements > MAX_ELEMENTS {
        return Err(Error::corrupt(format!(
            "shape {:?} has {num_elements} elements, more than the 2^40 this reader accepts",
            info.shape
        )));
    }
    Ok(info)
}

/// The shape and its element count; negative dims and a count beyond 64 bits are corrupt.
fn shape_and_count(dims: &[Dim]) -> Result<(Vec<u64>, u64)> {
    let mut shape = Vec::with_capacity(dims.len());
    let mut n: u64 = 1;
    for d in dims {
        let size = u64::try_from(d.size).map_err(|_| {
            Error::corrupt(format!(
                "negative dimension {} in bundle entry shape",
                d.size
            ))
        })?;
        n = n.checked_mul(size).ok_or_else(|| {
            Error::corrupt("element count of the bundle entry shape overflows 64 bits")
        })?;
        shape.push(size);
    }
    Ok((shape, n))
}

/// Rules for an unpartitioned entry: shard in range, offset + size representable, and a size
/// that matches the dtype (exact for fixed-size types, a lower bound for strings and variants,
/// so a huge element count is refused before anything is allocated for it).
fn check_location(info: &EntryInfo, num_elements: u64, num_shards: u32, key: &str) -> Result<()> {
    let (shard_id, offset, size) = (info.shard_id, info.offset, info.size);
    if shard_id >= num_shards {
        return Err(Error::corrupt(format!(
            "shard_id {shard_id} out of range: the bundle has {num_shards} shards"
        )));
    }
    if offset
        .checked_add(size)
        .is_none_or(|end| end > i64::MAX as u64)
    {
        return Err(Error::corrupt(format!(
            "offset {offset} + size {size} overflows"
        )));
    }
    let (kind, min) = match info.dtype {
        DType::String => ("string", min_string_size(num_elements)),
        DType::Variant => ("variant", min_variant_size(num_elements)),
        dtype => {
            let expected = num_elements.checked_mul(dtype.item_size().unwrap_or(1) as u64);
            return match expected {
                Some(expected) if expected == size => Ok(()),
                Some(expected) => Err(Error::corrupt(format!(
                    "Invalid size in bundle entry: key {key}; stored size {size}; expected size {expected}"
                ))),
                None => Err(Error::corrupt(format!(
                    "Invalid size in bundle entry: key {key}; stored size {size}; \
                     expected size overflows 64 bits"
                ))),
            };
        }
    };
    match min {
        Some(min) if size >= min => Ok(()),
        _ => Err(Error::corrupt(format!(
            "Invalid size in bundle entry: key {key}; stored size {size}; \
             a {kind} tensor of {num_elements} elements needs at least {}",
            min.map_or("2^64".to_string(), |m| m.to_string())
        ))),
    }
}

/// Extents as `(start, length)`, a full extent (no `length`) as `(start, -1)` like TF's
/// `TensorSlice`, so that `encode_slice_key` reproduces the key TF wrote.
fn slice_extents(s: &TensorSliceProto) -> Vec<(i64, i64)> {
    s.extent
        .iter()
        .map(|e| match e.has_length_hack {
            Some(HasLengthHack::Length(l)) => (e.start, l),
            None => (e.start, -1),
        })
        .collect()
}

/// The proto TF would write for `info` (shape always present, even for scalars: §1.8).
pub(crate) fn entry_proto(info: &EntryInfo) -> BundleEntryProto {
    BundleEntryProto {
        dtype: info.dtype.tf_code(),
        shape: Some(TensorShapeProto {
            dim: info
                .shape
                .iter()
                .map(|&d| Dim {
                    size: d as i64,
                    name: String::new(),
                })
                .collect(),
            unknown_rank: false,
        }),
        shard_id: info.shard_id as i32,
        offset: info.offset as i64,
        size: info.size as i64,
        crc32c: info.crc32c,
        slices: info
            .slices
            .iter()
            .map(|extents| TensorSliceProto {
                extent: extents
                    .iter()
                    .map(|&(start, len)| Extent {
                        start,
                        has_length_hack: (len != -1).then_some(HasLengthHack::Length(len)),
                    })
                    .collect(),
            })
            .collect(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn entry(dtype: i32, dims: &[i64], size: i64) -> Vec<u8> {
        BundleEntryProto {
            dtype,
            shape: Some(TensorShapeProto {
                dim: dims
                    .iter()
                    .map(|&size| Dim {
                        size,
                        name: String::new(),
                    })
                    .collect(),
                unknown_rank: false,
            }),
            size,
            ..Default::default()
        }
        .encode_to_vec()
    }

    #[test]
    fn tf_header_bytes() {
        assert_eq!(
            header_proto(1).encode_to_vec(),
            [0x08, 0x01, 0x1a, 0x02, 0x08, 0x01]
        );
        assert_eq!(
            parse_header(&[0x08, 0x01, 0x1a, 0x02, 0x08, 0x01]).unwrap(),
            Header {
                num_shards: 1,
                big_endian: false
            }
        );
    }

    #[test]
    fn versions() {
        let with = |v: VersionDef| {
            BundleHeaderProto {
                num_shards: 1,
                endianness: 0,
                version: Some(v),
            }
            .encode_to_vec()
        };
        let ok = |v| parse_header(&with(v)).is_ok();
        assert!(ok(VersionDef {
            producer: 0,
            ..Default::default()
        }));
        assert!(ok(VersionDef {
            producer: 5,
            min_consumer: 1,
            bad_consumers: vec![]
        }));
        let e = parse_header(&with(VersionDef {
            producer: -1,
            ..Default::default()
        }))
        .unwrap_err();
        assert!(matches!(e, Error::Corrupt { .. }), "{e}");
        let e = parse_header(&with(VersionDef {
            producer: 1,
            min_consumer: 2,
            bad_consumers: vec![],
        }))
        .unwrap_err();
        assert!(matches!(e, Error::Unsupported { .. }));
        assert!(
            e.to_string()
                .contains("Checkpoint min consumer version 2 above current version 1"),
            "{e}"
        );
        assert!(!ok(VersionDef {
            producer: 1,
            min_consumer: 0,
            bad_consumers: vec![1]
        }));
        let shards = |n| {
            BundleHeaderProto {
                num_shards: n,
                ..header_proto(1)
            }
            .encode_to_vec()
        };
        assert!(parse_header(&shards(0)).is_err());
        assert!(parse_header(&shards(-3)).is_err());
        // Accepted: nothing is allocated per shard; reads report the missing file.
        assert_eq!(
            parse_header(&shards(i32::MAX)).unwrap().num_shards,
            i32::MAX as u32
        );
        let big = BundleHeaderProto {
            endianness: 1,
            ..header_proto(2)
        }
        .encode_to_vec();
        assert_eq!(
            parse_header(&big).unwrap(),
            Header {
                num_shards: 2,
                big_endian: true
            }
        );
        let weird = BundleHeaderProto {
            endianness: 7,
            ..header_proto(2)
        }
        .encode_to_vec();
        assert!(parse_header(&weird).is_err());
        assert!(parse_header(&[0xff]).is_err());
    }

    #[test]
    fn entry_rules() {
        assert_eq!(
            parse_entry(b"a", &entry(1, &[2], 8), 1).unwrap().shape,
            vec![2]
        );
        let e = parse_entry(b"a", &entry(1, &[2], 12), 1).unwrap_err();
        assert_eq!(
            e.to_string(),
            "Invalid size in bundle entry: key a; stored size 12; expected size 8"
        );
        assert!(parse_entry(b"a", &entry(1, &[-1], 0), 1).is_err());
        assert!(parse_entry(b"a", &entry(1, &[1 << 30, 1 << 30], 0), 1).is_err());
        assert!(parse_entry(b"a", &entry(0, &[], 0), 1).is_err());
        assert!(parse_entry(b"a", &entry(20, &[], 0), 1).is_err());
        assert!(parse_entry(b"a", &entry(101, &[], 4), 1).is_err());
        // Strings: a huge element count is refused from the size alone.
        assert!(parse_entry(b"s", &entry(7, &[1 << 39], 100), 1).is_err());
        assert!(parse_entry(b"s", &entry(7, &[2], 6), 1).is_ok());
        assert!(parse_entry(b"s", &entry(7, &[2], 5), 1).is_err());
        assert!(parse_entry(b"v", &entry(21, &[2], 9), 1).is_err());
        // Location fields.
        let p = |f: fn(&mut BundleEntryProto)| {
            let mut e = BundleEntryProto::decode(&entry(1, &[2], 8)[..]).unwrap();
            f(&mut e);
            parse_entry(b"a", &e.encode_to_vec(), 2)
        };
        assert!(p(|e| e.shard_id = 1).is_ok());
        assert!(p(|e| e.shard_id = 2).is_err());
        assert!(p(|e| e.shard_id = -1).is_err());
        assert!(p(|e| e.offset = -1).is_err());
        assert!(p(|e| e.offset = i64::MAX).is_err());
        assert!(p(|e| e.shape.as_mut().unwrap().unknown_rank = true).is_err());
    }

    #[test]
    fn entry_proto_round_trip() {
        let info = EntryInfo {
            dtype: DType::Float32,
            shape: vec![4, 3],
            shard_id: 0,
            offset: 0,
            size: 0,
            crc32c: 0,
            slices: vec![vec![(0, 2), (0, -1)], vec![(2, 2), (0, 3)]],
        };
        let back = parse_entry(b"k", &entry_proto(&info).encode_to_vec(), 1).unwrap();
        assert_eq!(back, info);
        // Scalars keep an empty shape message: `12 00`.
        let scalar = EntryInfo {
            shape: vec![],
            slices: vec![],
            size: 4,
            ..info
        };
        let bytes = entry_proto(&scalar).encode_to_vec();
        assert_eq!(&bytes[..4], &[0x08, 0x01, 0x12, 0x00]);
    }
}
