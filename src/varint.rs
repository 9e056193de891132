//! Base-128 varints (LevelDB / protobuf), bounds-checked.

use crate::error::{Error, Result};

/// Decodes a varint64 at the start of `buf`; returns the value and the bytes consumed.
pub fn decode_u64(buf: &[u8]) -> Result<(u64, usize)> {
    let mut value: u64 = 0;
    for (i, &byte) in buf.iter().enumerate().take(10) {
        let bits = u64::from(byte & 0x7f);
        let shift = 7 * i as u32;
        if i == 9 && byte > 1 {
            return Err(Error::corrupt("varint64 overflows 64 bits"));
        }
        value |= bits << shift;
        if byte & 0x80 == 0 {
            return Ok((value, i + 1));
        }
    }
    Err(Error::corrupt(if buf.len() < 10 {
        "truncated varint"
    } else {
        "varint longer than 10 bytes"
    }))
}

/// Decodes a varint32 (LevelDB rejects values that need more than 5 bytes or 32 bits).
pub fn decode_u32(buf: &[u8]) -> Result<(u32, usize)> {
    let (v, n) = decode_u64(&buf[..buf.len().min(5)])?;
    let v = u32::try_from(v).map_err(|_| Error::corrupt("varint32 out of range"))?;
    Ok((v, n))
}

/// Appends `value` as a varint.
pub fn encode_u64(out: &mut Vec<u8>, mut value: u64) {
    while value >= 0x80 {
        out.push((value as u8) | 0x80);
        value >>= 7;
    }
    out.push(value as u8);
}

/// A cursor that decodes varints from a slice, advancing past each.
#[derive(Debug, Clone)]
pub struct Cursor<'a> {
    buf: &'a [u8],
    pos: usize,
}

impl<'a> Cursor<'a> {
    pub fn new(buf: &'a [u8]) -> Self {
        Cursor { buf, pos: 0 }
    }
    pub fn position(&self) -> usize {
        self.pos
    }
    pub fn remaining(&self) -> &'a [u8] {
        &self.buf[self.pos..]
    }
    pub fn u64(&mut self) -> Result<u64> {
        let (v, n) = decode_u64(self.remaining())?;
        self.pos += n;
        Ok(v)
    }
    pub fn u32(&mut self) -> Result<u32> {
        let (v, n) = decode_u32(self.remaining())?;
        self.pos += n;
        Ok(v)
    }
    /// The next `len` bytes.
    pub fn bytes(&mut self, len: usize) -> Result<&'a [u8]> {
        let end = self.pos.checked_add(len).filter(|&e| e <= self.buf.len());
        let end = end.ok_or_else(|| Error::corrupt("length runs past the end of the buffer"))?;
        let out = &self.buf[self.pos..end];
        self.pos = end;
        Ok(out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trip() {
        for v in [0u64, 1, 127, 128, 200, 300, u32::MAX as u64, u64::MAX] {
            let mut b = Vec::new();
            encode_u64(&mut b, v);
            assert_eq!(decode_u64(&b).unwrap(), (v, b.len()));
        }
        assert!(decode_u64(&[0x80]).is_err());
        assert!(decode_u64(&[0xff; 11]).is_err());
        assert!(decode_u32(&[0xff, 0xff, 0xff, 0xff, 0x1f]).is_err());
        assert_eq!(decode_u64(&[0xc8, 0x01]).unwrap(), (200, 2));
    }
}
