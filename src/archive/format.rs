//! The fixed-size ZIP records (APPNOTE.TXT 6.3) and extra fields, decoded and encoded.
//!
//! Decoding takes exactly-sized arrays, so a record can only be decoded after its bytes were
//! shown to be in the file; nothing here can index out of bounds.

use crate::error::{Error, Result};

pub const LOCAL_SIG: u32 = 0x0403_4b50;
pub const CENTRAL_SIG: u32 = 0x0201_4b50;
pub const EOCD_SIG: u32 = 0x0605_4b50;
pub const ZIP64_EOCD_SIG: u32 = 0x0606_4b50;
pub const ZIP64_LOCATOR_SIG: u32 = 0x0706_4b50;

pub const LOCAL_LEN: usize = 30;
pub const CENTRAL_LEN: usize = 46;
pub const EOCD_LEN: usize = 22;
/// The ZIP64 end record without its extensible data; its own size field counts from byte 12.
pub const ZIP64_EOCD_LEN: usize = 56;
pub const ZIP64_LOCATOR_LEN: usize = 20;

/// A 32-bit size or offset of this value means "see the ZIP64 extra field".
pub const MARK32: u32 = 0xFFFF_FFFF;
/// A 16-bit entry count of this value means "see the ZIP64 end record".
pub const MARK16: u16 = 0xFFFF;

pub const ZIP64_EXTRA_ID: u16 = 0x0001;
/// Android's zipalign padding field: `u16 alignment`, then zero bytes. Readers skip unknown ids.
pub const ALIGN_EXTRA_ID: u16 = 0xD935;

pub const FLAG_ENCRYPTED: u16 = 1 << 0;
pub const FLAG_DATA_DESCRIPTOR: u16 = 1 << 3;
pub const FLAG_STRONG_ENCRYPTION: u16 = 1 << 6;
pub const FLAG_UTF8: u16 = 1 << 11;
/// Central directory encryption: local header fields are masked.
pub const FLAG_MASKED_HEADERS: u16 = 1 << 13;

pub const METHOD_STORED: u16 = 0;
pub const METHOD_DEFLATED: u16 = 8;

/// A cursor over a record whose length was checked; a read past its end yields zeros rather than
/// a panic (it cannot happen with the constant layouts below).
struct Fields<'a> {
    bytes: &'a [u8],
    pos: usize,
}

impl<'a> Fields<'a> {
    fn new(bytes: &'a [u8]) -> Self {
        Fields { bytes, pos: 0 }
    }
    fn take<const K: usize>(&mut self) -> [u8; K] {
        let end = self.pos.saturating_add(K);
        let out = self
            .bytes
            .get(self.pos..end)
            .and_then(|s| <[u8; K]>::try_from(s).ok())
            .unwrap_or([0; K]);
        self.pos = end;
        out
    }
    fn u16(&mut self) -> u16 {
        u16::from_le_bytes(self.take())
    }
    fn u32(&mut self) -> u32 {
        u32::from_le_bytes(self.take())
    }
    fn u64(&mut self) -> u64 {
        u64::from_le_bytes(self.take())
    }
}

/// Appends little-endian fields.
pub trait PutLe {
    fn put16(&mut self, v: u16);
    fn put32(&mut self, v: u32);
    fn put64(&mut self, v: u64);
}

impl PutLe for Vec<u8> {
    fn put16(&mut self, v: u16) {
        self.extend_from_slice(&v.to_le_bytes());
    }
    fn put32(&mut self, v: u32) {
        self.extend_from_slice(&v.to_le_bytes());
    }
    fn put64(&mut self, v: u64) {
        self.extend_from_slice(&v.to_le_bytes());
    }
}

/// The 30 fixed bytes of a local file header.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct LocalHeader {
    pub signature: u32,
    pub version_needed: u16,
    pub flags: u16,
    pub method: u16,
    pub time: u16,
    pub date: u16,
    pub crc32: u32,
    pub compressed_size: u32,
    pub size: u32,
    pub name_len: u16,
    pub extra_len: u16,
}

impl LocalHeader {
    pub fn decode(b: &[u8; LOCAL_LEN]) -> Self {
        let mut f = Fields::new(b);
        LocalHeader {
            signature: f.u32(),
            version_needed: f.u16(),
            flags: f.u16(),
            method: f.u16(),
            time: f.u16(),
            date: f.u16(),
            crc32: f.u32(),
            compressed_size: f.u32(),
            size: f.u32(),
            name_len: f.u16(),
            extra_len: f.u16(),
        }
    }

    pub fn encode(&self, out: &mut Vec<u8>) {
        out.put32(LOCAL_SIG);
        out.put16(self.version_needed);
        out.put16(self.flags);
        out.put16(self.method);
        out.put16(self.time);
        out.put16(self.date);
        out.put32(self.crc32);
        out.put32(self.compressed_size);
        out.put32(self.size);
        out.put16(self.name_len);
        out.put16(self.extra_len);
    }
}

/// The 46 fixed bytes of a central directory header.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct CentralHeader {
    pub signature: u32,
    pub version_made_by: u16,
    pub version_needed: u16,
    pub flags: u16,
    pub method: u16,
    pub time: u16,
    pub date: u16,
    pub crc32: u32,
    pub compressed_size: u32,
    pub size: u32,
    pub name_len: u16,
    pub extra_len: u16,
    pub comment_len: u16,
    pub disk_start: u16,
    pub internal_attr: u16,
    pub external_attr: u32,
    pub header_offset: u32,
}

impl CentralHeader {
    pub fn decode(b: &[u8; CENTRAL_LEN]) -> Self {
        let mut f = Fields::new(b);
        CentralHeader {
            signature: f.u32(),
            version_made_by: f.u16(),
            version_needed: f.u16(),
            flags: f.u16(),
            method: f.u16(),
            time: f.u16(),
            date: f.u16(),
            crc32: f.u32(),
            compressed_size: f.u32(),
            size: f.u32(),
            name_len: f.u16(),
            extra_len: f.u16(),
            comment_len: f.u16(),
            disk_start: f.u16(),
            internal_attr: f.u16(),
            external_attr: f.u32(),
            header_offset: f.u32(),
        }
    }

    pub fn encode(&self, out: &mut Vec<u8>) {
        out.put32(CENTRAL_SIG);
        out.put16(self.version_made_by);
        out.put16(self.version_needed);
        out.put16(self.flags);
        out.put16(self.method);
        out.put16(self.time);
        out.put16(self.date);
        out.put32(self.crc32);
        out.put32(self.compressed_size);
        out.put32(self.size);
        out.put16(self.name_len);
        out.put16(self.extra_len);
        out.put16(self.comment_len);
        out.put16(self.disk_start);
        out.put16(self.internal_attr);
        out.put32(self.external_attr);
        out.put32(self.header_offset);
    }
}

/// The 22 fixed bytes of the end of central directory record.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Eocd {
    pub signature: u32,
    pub disk: u16,
    pub cd_disk: u16,
    pub disk_entries: u16,
    pub entries: u16,
    pub cd_size: u32,
    pub cd_offset: u32,
    pub comment_len: u16,
}

impl Eocd {
    pub fn decode(b: &[u8; EOCD_LEN]) -> Self {
        let mut f = Fields::new(b);
        Eocd {
            signature: f.u32(),
            disk: f.u16(),
            cd_disk: f.u16(),
            disk_entries: f.u16(),
            entries: f.u16(),
            cd_size: f.u32(),
            cd_offset: f.u32(),
            comment_len: f.u16(),
        }
    }

    pub fn encode(&self, out: &mut Vec<u8>) {
        out.put32(EOCD_SIG);
        out.put16(self.disk);
        out.put16(self.cd_disk);
        out.put16(self.disk_entries);
        out.put16(self.entries);
        out.put32(self.cd_size);
        out.put32(self.cd_offset);
        out.put16(self.comment_len);
    }
}

/// The 56 fixed bytes of the ZIP64 end of central directory record.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Zip64Eocd {
    pub signature: u32,
    /// Size of the rest of the record: 44 plus any extensible data.
    pub record_size: u64,
    pub version_made_by: u16,
    pub version_needed: u16,
    pub disk: u32,
    pub cd_disk: u32,
    pub disk_entries: u64,
    pub entries: u64,
    pub cd_size: u64,
    pub cd_offset: u64,
}

impl Zip64Eocd {
    pub fn decode(b: &[u8; ZIP64_EOCD_LEN]) -> Self {
        let mut f = Fields::new(b);
        Zip64Eocd {
            signature: f.u32(),
            record_size: f.u64(),
            version_made_by: f.u16(),
            version_needed: f.u16(),
            disk: f.u32(),
            cd_disk: f.u32(),
            disk_entries: f.u64(),
            entries: f.u64(),
            cd_size: f.u64(),
            cd_offset: f.u64(),
        }
    }

    pub fn encode(&self, out: &mut Vec<u8>) {
        out.put32(ZIP64_EOCD_SIG);
        out.put64(self.record_size);
        out.put16(self.version_made_by);
        out.put16(self.version_needed);
        out.put32(self.disk);
        out.put32(self.cd_disk);
        out.put64(self.disk_entries);
        out.put64(self.entries);
        out.put64(self.cd_size);
        out.put64(self.cd_offset);
    }
}

/// The 20 bytes of the ZIP64 end of central directory locator.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Zip64Locator {
    pub signature: u32,
    pub eocd_disk: u32,
    pub eocd_offset: u64,
    pub total_disks: u32,
}

impl Zip64Locator {
    pub fn decode(b: &[u8; ZIP64_LOCATOR_LEN]) -> Self {
        let mut f = Fields::new(b);
        Zip64Locator {
            signature: f.u32(),
            eocd_disk: f.u32(),
            eocd_offset: f.u64(),
            total_disks: f.u32(),
        }
    }

    pub fn encode(&self, out: &mut Vec<u8>) {
        out.put32(ZIP64_LOCATOR_SIG);
        out.put32(self.eocd_disk);
        out.put64(self.eocd_offset);
        out.put32(self.total_disks);
    }
}

/// `bytes[offset..offset + N]` as an array, if it is all there.
pub fn array_at<const N: usize>(bytes: &[u8], offset: u64) -> Option<&[u8; N]> {
    let start = usize::try_from(offset).ok()?;
    let end = start.checked_add(N)?;
    bytes.get(start..end)?.try_into().ok()
}

/// `bytes[offset..offset + len]`, if it is all there.
pub fn slice_at(bytes: &[u8], offset: u64, len: u64) -> Option<&[u8]> {
    let start = usize::try_from(offset).ok()?;
    let end = start.checked_add(usize::try_from(len).ok()?)?;
    bytes.get(start..end)
}

/// The data of the first extra field with id `id`.
///
/// A field whose length runs past the extra area is corrupt. Fewer than 4 bytes left over are
/// ignored, as Python's `zipfile` does: old zipalign versions padded with bare zero bytes.
pub fn find_extra(extra: &[u8], id: u16) -> Result<Option<&[u8]>> {
    let mut rest = extra;
    while rest.len() >= 4 {
        let mut f = Fields::new(rest);
        let (tag, len) = (f.u16(), usize::from(f.u16()));
        let data = rest.get(4..4 + len).ok_or_else(|| {
            Error::corrupt(format!(
                "extra field 0x{tag:04x} declares {len} bytes but only {} follow",
                rest.len() - 4
            ))
        })?;
        if tag == id {
            return Ok(Some(data));
        }
        rest = rest.get(4 + len..).unwrap_or(&[]);
    }
    Ok(None)
}

/// Replaces each of `fields` that holds its 32-bit marker with the next 64-bit value of the ZIP64
/// extra field, in order (usize, csize, header offset), as APPNOTE 4.5.3 lays them out.
pub fn apply_zip64(extra: &[u8], fields: &mut [&mut u64]) -> Result<()> {
    if !fields.iter().any(|v| **v == u64::from(MARK32)) {
        return Ok(());
    }
    let data = find_extra(extra, ZIP64_EXTRA_ID)?.ok_or_else(|| {
        Error::corrupt("a size or offset is 0xFFFFFFFF but there is no ZIP64 extra field")
    })?;
    let mut values = data.chunks_exact(8);
    for field in fields.iter_mut().filter(|v| ***v == u64::from(MARK32)) {
        let chunk = values.next().ok_or_else(|| {
            Error::corrupt(format!(
                "ZIP64 extra field too short ({} bytes)",
                data.len()
            ))
        })?;
        let mut f = Fields::new(chunk);
        **field = f.u64();
    }
    Ok(())
}

/// The 32-bit field for `value`: the marker when the ZIP64 extra holds it (or it cannot fit).
pub fn field32(value: u64, zip64: bool) -> u32 {
    if zip64 {
        MARK32
    } else {
        u32::try_from(value).unwrap_or(MARK32)
    }
}

/// MS-DOS date of 1980-01-01, the earliest it can express; Keras's JSON members carry it.
pub const DOS_DATE_1980: u16 = (1 << 5) | 1;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn records_round_trip() {
        let lh = LocalHeader {
            signature: LOCAL_SIG,
            version_needed: 20,
            flags: FLAG_UTF8,
            method: 8,
            time: 1,
            date: DOS_DATE_1980,
            crc32: 0xdeadbeef,
            compressed_size: 7,
            size: 9,
            name_len: 3,
            extra_len: 4,
        };
        let mut v = Vec::new();
        lh.encode(&mut v);
        assert_eq!(v.len(), LOCAL_LEN);
        assert_eq!(LocalHeader::decode(array_at(&v, 0).unwrap()), lh);

        let z = Zip64Eocd {
            signature: ZIP64_EOCD_SIG,
            record_size: 44,
            version_made_by: 0x032d,
            version_needed: 45,
            disk: 0,
            cd_disk: 0,
            disk_entries: 3,
            entries: 3,
            cd_size: 1 << 33,
            cd_offset: 1 << 34,
        };
        let mut v = Vec::new();
        z.encode(&mut v);
        assert_eq!(v.len(), ZIP64_EOCD_LEN);
        assert_eq!(Zip64Eocd::decode(array_at(&v, 0).unwrap()), z);

        let l = Zip64Locator {
            signature: ZIP64_LOCATOR_SIG,
            eocd_disk: 0,
            eocd_offset: 1 << 40,
            total_disks: 1,
        };
        let mut v = Vec::new();
        l.encode(&mut v);
        assert_eq!(v.len(), ZIP64_LOCATOR_LEN);
        assert_eq!(Zip64Locator::decode(array_at(&v, 0).unwrap()), l);
    }

    #[test]
    fn zip64_extra_fills_only_marked_fields() {
        let mut extra = Vec::new();
        extra.put16(0xcafe); // an unrelated field first
        extra.put16(2);
        extra.put16(0);
        extra.put16(ZIP64_EXTRA_ID);
        extra.put16(16);
        extra.put64(5 << 32);
        extra.put64(6 << 32);
        let (mut size, mut csize, mut off) = (u64::from(MARK32), 10, u64::from(MARK32));
        apply_zip64(&extra, &mut [&mut size, &mut csize, &mut off]).unwrap();
        assert_eq!((size, csize, off), (5 << 32, 10, 6 << 32));

        let (mut a, mut b) = (u64::from(MARK32), u64::from(MARK32));
        let short = [1u8, 0, 8, 0, 1, 2, 3, 4, 5, 6, 7, 8];
        assert!(apply_zip64(&short, &mut [&mut a, &mut b]).is_err());
        let mut c = u64::from(MARK32);
        assert!(apply_zip64(&[], &mut [&mut c]).is_err());
        // A field running past the end is corrupt; a 1-3 byte tail is padding.
        assert!(find_extra(&[1, 0, 9, 0, 0], 1).is_err());
        assert_eq!(find_extra(&[0, 0, 0], 1).unwrap(), None);
    }

    #[test]
    fn bounds_are_checked() {
        assert!(array_at::<4>(&[1, 2, 3], 0).is_none());
        assert!(array_at::<4>(&[1, 2, 3, 4], u64::MAX).is_none());
        assert!(slice_at(&[1, 2, 3], 2, u64::MAX).is_none());
        assert_eq!(slice_at(&[1, 2, 3], 1, 2), Some(&[2u8, 3][..]));
    }
}
