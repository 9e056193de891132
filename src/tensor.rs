//! Tensors as the readers hand them out and the writers take them in.
//!
//! A read tensor either *views* a shared memory map (the zero-copy case: fixed-size little-endian
//! elements stored contiguously) or owns its bytes (assembled from slices, byte-swapped, or
//! decompressed). Strings and variants are always owned element lists.

use std::sync::Arc;

use memmap2::Mmap;

use crate::dtype::DType;
use crate::error::{Error, Result};

/// Bytes of a tensor that was read.
#[derive(Clone, Debug)]
pub enum TensorData {
    /// Little-endian fixed-size elements at `map[offset..offset + len]`, not necessarily aligned.
    Mapped {
        map: Arc<Mmap>,
        offset: usize,
        len: usize,
    },
    /// Little-endian fixed-size elements that had to be copied (slices assembled, byte-swapped).
    Owned(Vec<u8>),
    /// DT_STRING: one byte string per element, row-major.
    Strings(Vec<Vec<u8>>),
    /// DT_VARIANT: one serialized `VariantTensorDataProto` per element.
    Variants(Vec<Vec<u8>>),
}

/// A tensor that was read.
#[derive(Clone, Debug)]
pub struct Tensor {
    pub dtype: DType,
    pub shape: Vec<u64>,
    pub data: TensorData,
}

impl Tensor {
    /// Number of elements (1 for a scalar).
    pub fn num_elements(&self) -> u64 {
        self.shape.iter().product()
    }

    /// The raw little-endian element bytes of a fixed-size tensor; `None` for strings/variants.
    pub fn bytes(&self) -> Option<&[u8]> {
        match &self.data {
            TensorData::Mapped { map, offset, len } => map.get(*offset..offset + len),
            TensorData::Owned(v) => Some(v),
            TensorData::Strings(_) | TensorData::Variants(_) => None,
        }
    }

    /// Whether the bytes view a memory map (no copy was made).
    pub fn is_zero_copy(&self) -> bool {
        matches!(self.data, TensorData::Mapped { .. })
    }
}

/// Payload of a tensor to be written.
#[derive(Clone, Copy, Debug)]
pub enum Payload<'a> {
    /// Little-endian fixed-size elements, row-major (C order).
    Raw(&'a [u8]),
    /// DT_STRING elements, row-major.
    Strings(&'a [&'a [u8]]),
}

/// A tensor to be written, borrowed from the caller.
#[derive(Clone, Copy, Debug)]
pub struct TensorRef<'a> {
    pub key: &'a [u8],
    pub dtype: DType,
    pub shape: &'a [u64],
    pub payload: Payload<'a>,
}

/// Largest element count accepted from a file: 2^40 elements is already 4 TiB of float32, and a
/// shape product beyond it is either corrupt or not something we can serve.
pub const MAX_ELEMENTS: u64 = 1 << 40;

/// Element count of `shape`, refusing negative dims, overflow and absurd sizes.
pub fn checked_num_elements(shape: &[i64]) -> Result<u64> {
    let mut n: u64 = 1;
    for &d in shape {
        let d = u64::try_from(d)
            .map_err(|_| Error::corrupt(format!("negative dimension {d} in shape {shape:?}")))?;
        n = n
            .checked_mul(d)
            .filter(|&n| n <= MAX_ELEMENTS)
            .ok_or_else(|| {
                Error::corrupt(format!("shape {shape:?} has more than 2^40 elements"))
            })?;
    }
    Ok(n)
}

/// Byte size of `num_elements` elements of `dtype` (fixed-size types only).
pub fn checked_byte_size(dtype: DType, num_elements: u64) -> Result<u64> {
    let item = dtype
        .item_size()
        .ok_or_else(|| Error::InvalidArgument(format!("{dtype} has no fixed element size")))?;
    num_elements.checked_mul(item as u64).ok_or_else(|| {
        Error::corrupt(format!(
            "{num_elements} elements of {dtype} overflow 64 bits"
        ))
    })
}

impl<'a> TensorRef<'a> {
    /// Checks that the payload matches dtype and shape.
    pub fn validate(&self) -> Result<()> {
        let shape: Vec<i64> = self.shape.iter().map(|&d| d as i64).collect();
        let n = checked_num_elements(&shape).map_err(|e| Error::InvalidArgument(e.to_string()))?;
        match (self.payload, self.dtype) {
            (Payload::Strings(s), DType::String) => {
                if s.len() as u64 != n {
                    return Err(Error::InvalidArgument(format!(
                        "{}: {} strings for shape {:?}",
                        crate::error::display_key(self.key),
                        s.len(),
                        self.shape
                    )));
                }
            }
            (Payload::Raw(b), d) if d.is_fixed_size() => {
                let want = checked_byte_size(d, n)?;
                if b.len() as u64 != want {
                    return Err(Error::InvalidArgument(format!(
                        "{}: {} bytes for {d}{:?} (want {want})",
                        crate::error::display_key(self.key),
                        b.len(),
                        self.shape
                    )));
                }
            }
            (_, d) => {
                return Err(Error::InvalidArgument(format!(
                    "{}: cannot write dtype {d} with this payload",
                    crate::error::display_key(self.key)
                )))
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn element_counts() {
        assert_eq!(checked_num_elements(&[]).unwrap(), 1);
        assert_eq!(checked_num_elements(&[2, 0, 3]).unwrap(), 0);
        assert!(checked_num_elements(&[-1]).is_err());
        assert!(checked_num_elements(&[1 << 20, 1 << 21]).is_err());
        assert!(checked_num_elements(&[i64::MAX, i64::MAX]).is_err());
    }
}
