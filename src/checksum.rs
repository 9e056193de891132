//! CRC-32C (Castagnoli) and LevelDB's masking, shared by the SSTable and the data files.
//!
//! TF stores *masked* CRCs so that a CRC computed over data that itself contains CRCs stays
//! well distributed: `mask(c) = rotr(c, 15) + 0xa282ead8`.

const MASK_DELTA: u32 = 0xa282_ead8;

/// CRC-32C of `data` (hardware-accelerated where the CPU has it).
#[inline]
pub fn crc32c(data: &[u8]) -> u32 {
    crc32c::crc32c(data)
}

/// Below this size one core computes the CRC; above it the buffer is split across rayon's
/// threads and the pieces are combined (a combine costs ~log2(len) steps, far less than hashing).
const PARALLEL_THRESHOLD: usize = 8 << 20;
const PARALLEL_CHUNK: usize = 4 << 20;

/// CRC-32C of `data`, using every core for large buffers: hashing a 1 GiB tensor is the whole
/// cost of a verified read, and one core tops out at ~10 GB/s.
pub fn crc32c_parallel(data: &[u8]) -> u32 {
    use rayon::prelude::*;
    if data.len() < PARALLEL_THRESHOLD {
        return crc32c(data);
    }
    data.par_chunks(PARALLEL_CHUNK)
        .map(|chunk| (crc32c(chunk), chunk.len()))
        .collect::<Vec<_>>()
        .into_iter()
        .fold(None, |acc, (crc, len)| match acc {
            None => Some(crc),
            Some(prev) => Some(crc32c::crc32c_combine(prev, crc, len)),
        })
        .unwrap_or_else(|| crc32c(&[]))
}

/// Continues a CRC-32C over more bytes (`extend(crc(a), b) == crc(a ++ b)`).
#[inline]
pub fn crc32c_extend(crc: u32, data: &[u8]) -> u32 {
    crc32c::crc32c_append(crc, data)
}

/// The masked form TF writes to disk.
#[inline]
pub fn mask(crc: u32) -> u32 {
    crc.rotate_right(15).wrapping_add(MASK_DELTA)
}

/// Inverse of [`mask`].
#[inline]
pub fn unmask(masked: u32) -> u32 {
    masked.wrapping_sub(MASK_DELTA).rotate_left(15)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn known_values() {
        assert_eq!(crc32c(b"123456789"), 0xE306_9283);
        assert_eq!(mask(0), 0xA282_EAD8);
        for c in [0u32, 1, 0xdead_beef, u32::MAX] {
            assert_eq!(unmask(mask(c)), c);
        }
        assert_eq!(
            crc32c_extend(crc32c(b"1234"), b"56789"),
            crc32c(b"123456789")
        );
    }

    #[test]
    fn parallel_equals_serial() {
        let data: Vec<u8> = (0..(PARALLEL_THRESHOLD * 2 + 12345))
            .map(|i| (i * 31 % 251) as u8)
            .collect();
        assert_eq!(crc32c_parallel(&data), crc32c(&data));
        assert_eq!(crc32c_parallel(&data[..100]), crc32c(&data[..100]));
    }
}
