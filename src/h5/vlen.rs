//! Checks the on-disk descriptors of variable-length strings before libhdf5 converts them.
//!
//! A vlen string is stored as a descriptor `[u32 length][address of a global heap collection]
//! [u32 object index]`; the characters are the heap object. libhdf5's conversion
//! (`H5T__conv_vlen`) sizes and zero-fills its buffer from `length` *before* it reads the heap
//! object and finds that the sizes differ, so a 16 KB file whose descriptor says 4 GiB costs
//! 4 GiB (fuzz finding 5; h5py the same). We therefore read the descriptors themselves first:
//!
//! ```text
//!   H5Aread / H5Dread(mem type = opaque "kerasave vlen descriptor", size 8 + sizeof_addr)
//!     -> libhdf5 finds no built-in conversion vlen string -> opaque, asks the soft
//!        conversion registered here (`raw_descriptors`), which accepts only that tag and
//!        leaves the bytes as they are: the caller gets the raw descriptors
//!   each descriptor: length <= MAX_VLEN_BYTES and <= file size, and the collection at the
//!   address (+ the superblock's base) holds object `index` of at least `length` bytes
//! ```
//!
//! Only then is the real read (with allocations by libhdf5) done.

use std::ffi::{c_void, CString};
use std::sync::OnceLock;

use hdf5_metno_sys::h5::herr_t;
use hdf5_metno_sys::h5i::hid_t;
use hdf5_metno_sys::h5t::{self, H5T_bkg_t, H5T_cdata_t, H5T_class_t, H5T_pers_t};

use super::handle::{locked, take_h5_string, Hid, Kind};
use crate::error::{Error, Result};

/// Largest vlen string we let libhdf5 allocate for (besides: at most the file's size).
pub(crate) const MAX_VLEN_BYTES: u64 = 256 << 20;
/// The opaque tag that selects the raw-descriptor conversion.
const TAG: &str = "kerasave vlen descriptor";
const GCOL_VERSION: u8 = 1;

const CMD_INIT: i32 = 0;
const CMD_CONV: i32 = 1;
const CMD_FREE: i32 = 2;

/// The soft conversion "vlen string -> our opaque": an identity on the stored bytes.
extern "C" fn raw_descriptors(
    src: hid_t,
    dst: hid_t,
    cdata: *mut H5T_cdata_t,
    _nelmts: usize,
    _buf_stride: usize,
    _bkg_stride: usize,
    _buf: *mut c_void,
    _bkg: *mut c_void,
    _dxpl: hid_t,
) -> herr_t {
    if cdata.is_null() {
        return -1;
    }
    // SAFETY: libhdf5 passes a valid cdata; `command` is a C enum (int) read as i32 so that an
    // unexpected value is not an invalid Rust enum.
    let cmd = unsafe { std::ptr::read(std::ptr::addr_of!((*cdata).command).cast::<i32>()) };
    match cmd {
        CMD_INIT => {
            // SAFETY: queries on the type ids libhdf5 registered for this call.
            let ok = unsafe {
                h5t::H5Tis_variable_str(src) > 0
                    && h5t::H5Tget_class(dst) == H5T_class_t::H5T_OPAQUE
                    && take_h5_string(h5t::H5Tget_tag(dst)).as_deref() == Some(TAG.as_bytes())
            };
            if !ok {
                return -1;
            }
            // SAFETY: as above; need_bkg is a plain field of the valid cdata.
            unsafe { (*cdata).need_bkg = H5T_bkg_t::H5T_BKG_NO };
            0
        }
        CMD_CONV => {
            // Same size: the stored descriptors are the result, in place.
            // SAFETY: size queries on valid type ids.
            let (s, d) = unsafe { (h5t::H5Tget_size(src), h5t::H5Tget_size(dst)) };
            if s == d && s != 0 {
                0
            } else {
                -1
            }
        }
        CMD_FREE => 0,
        _ => -1,
    }
}

fn register() -> Result<()> {
    static DONE: OnceLock<std::result::Result<(), String>> = OnceLock::new();
    DONE.get_or_init(|| {
        locked(|| {
            let name = CString::new("kerasave_vlen_raw").map_err(|e| e.to_string())?;
            // SAFETY: creating template types (closed by the guards; libhdf5 keeps only their
            // classes) and registering a function that matches H5T_conv_t.
            unsafe {
                let src = Hid::new(
                    h5t::H5Tcopy(*hdf5_metno::globals::H5T_C_S1),
                    Kind::Datatype,
                    "H5Tcopy",
                )
                .map_err(|e| e.to_string())?;
                if h5t::H5Tset_size(src.id(), h5t::H5T_VARIABLE) < 0 {
                    return Err(super::handle::stack_message());
                }
                let dst = Hid::new(
                    h5t::H5Tcreate(H5T_class_t::H5T_OPAQUE, 16),
                    Kind::Datatype,
                    "H5Tcreate",
                )
                .map_err(|e| e.to_string())?;
                if h5t::H5Tregister(
                    H5T_pers_t::H5T_PERS_SOFT,
                    name.as_ptr(),
                    src.id(),
                    dst.id(),
                    Some(raw_descriptors),
                ) < 0
                {
                    return Err(super::handle::stack_message());
                }
            }
            Ok(())
        })
    })
    .clone()
    .map_err(|e| Error::unsupported(format!("cannot register the vlen check: {e}")))
}

/// The memory type whose read gives the raw descriptors of `desc` bytes each.
fn descriptor_type(desc: usize) -> Result<Hid> {
    register()?;
    // SAFETY: creating an opaque type of `desc` (> 0) bytes and tagging it.
    let t = Hid::new(
        unsafe { h5t::H5Tcreate(H5T_class_t::H5T_OPAQUE, desc) },
        Kind::Datatype,
        "H5Tcreate",
    )?;
    let tag = CString::new(TAG).map_err(|e| Error::unsupported(e.to_string()))?;
    // SAFETY: valid type; NUL-terminated tag (copied by libhdf5).
    super::handle::check(
        unsafe { h5t::H5Tset_tag(t.id(), tag.as_ptr()) },
        "H5Tset_tag",
    )?;
    Ok(t)
}

/// Where addresses start and how wide they are: `(base, sizeof_addr, sizeof_size)` from the
/// superblock (found at 0, 512, 1024, ... as libhdf5 looks; the base address is where it is).
pub(crate) fn superblock(img: &[u8]) -> Option<(u64, usize, usize)> {
    const SIG: &[u8; 8] = b"\x89HDF\r\n\x1a\n";
    let mut at = 0usize;
    loop {
        if img.get(at..at.checked_add(8)?) == Some(&SIG[..]) {
            let (a, s) = match img.get(at + 8)? {
                0 | 1 => (img.get(at + 13)?, img.get(at + 14)?),
                2 | 3 => (img.get(at + 9)?, img.get(at + 10)?),
                _ => return None,
            };
            return Some((at as u64, usize::from(*a), usize::from(*s)));
        }
        at = if at == 0 { 512 } else { at.checked_mul(2)? };
        if at >= img.len() {
            return None;
        }
    }
}

fn le(b: &[u8]) -> u64 {
    b.iter()
        .rev()
        .fold(0u64, |acc, &x| (acc << 8) | u64::from(x))
}

/// The size of object `index` of the global heap collection at `at` in `img`, if there is one.
pub(crate) fn heap_object_size(img: &[u8], at: u64, index: u64, ss: usize) -> Option<u64> {
    let at = usize::try_from(at).ok()?;
    let rest = img.get(at..)?;
    if rest.get(..4)? != b"GCOL" || *rest.get(4)? != GCOL_VERSION {
        return None;
    }
    let size = usize::try_from(le(rest.get(8..8 + ss)?)).ok()?;
    let coll = rest.get(..size)?; // the whole collection lies in the file
    let objhdr = 8usize.checked_add(ss)?;
    let mut p = objhdr; // magic, version, reserved, size = 8 + ss
    while p.checked_add(objhdr)? <= coll.len() {
        let idx = le(coll.get(p..p + 2)?);
        let osize = le(coll.get(p + 8..p + 8 + ss)?);
        if idx == 0 {
            // Free space: its size counts its header (as libhdf5 walks it).
            let step = usize::try_from(osize).ok().filter(|&n| n > 0)?;
            p = p.checked_add(step)?;
            continue;
        }
        if idx == index {
            // The object's bytes must lie in the collection.
            let end = (p + objhdr).checked_add(usize::try_from(osize).ok()?)?;
            return (end <= coll.len()).then_some(osize);
        }
        let padded = usize::try_from(osize.checked_add(7)? / 8 * 8).ok()?;
        p = p.checked_add(objhdr)?.checked_add(padded)?;
    }
    None
}

/// Reads the `count` raw vlen descriptors of an attribute or dataset (`reader` = its
/// H5Aread/H5Dread) and refuses any whose length is not backed by its global heap object.
pub(crate) fn check_descriptors(
    count: usize,
    img: &[u8],
    what: &str,
    reader: &dyn Fn(hid_t, *mut c_void) -> i32,
) -> Result<()> {
    if count == 0 {
        return Ok(());
    }
    let (base, sa, ss) = superblock(img)
        .filter(|&(_, a, s)| (1..=8).contains(&a) && (1..=8).contains(&s))
        .ok_or_else(|| Error::corrupt(format!("{what}: no usable superblock")))?;
    let desc = 8 + sa;
    let limit = img.len() as u64;
    let total = count
        .checked_mul(desc)
        .filter(|&b| b as u64 <= limit)
        .ok_or_else(|| {
            Error::corrupt(format!(
                "{what}: {count} strings cannot be stored in {limit} bytes"
            ))
        })?;
    let t = descriptor_type(desc)?;
    let mut buf = vec![0u8; total];
    if reader(t.id(), buf.as_mut_ptr().cast()) < 0 {
        return Err(super::handle::corrupt(what));
    }
    let max = MAX_VLEN_BYTES.min(limit);
    for (i, d) in buf.chunks_exact(desc).enumerate() {
        let len = le(&d[..4]);
        let addr = le(&d[4..4 + sa]);
        let index = le(&d[4 + sa..]);
        if len == 0 {
            continue; // empty or null: nothing is allocated
        }
        if len > max {
            return Err(Error::corrupt(format!(
                "{what}: string {i} declares {len} bytes, more than the file could hold ({max})"
            )));
        }
        let obj = base
            .checked_add(addr)
            .and_then(|at| heap_object_size(img, at, index, ss));
        match obj {
            Some(size) if size >= len => {}
            Some(size) => {
                return Err(Error::corrupt(format!(
                "{what}: string {i} declares {len} bytes but its global heap object holds {size}"
            )))
            }
            None => {
                // Say why libhdf5 could not parse the collection, when we know.
                let coll = usize::try_from(base.saturating_add(addr))
                    .ok()
                    .and_then(|at| img.get(at..))
                    .filter(|c| c.starts_with(b"GCOL"));
                if let Some(Err(msg)) = coll.map(|c| super::vfd::check_global_heap(c, ss)) {
                    return Err(Error::corrupt(format!(
                        "{what}: global heap collection at address {addr}: {msg}"
                    )));
                }
                return Err(Error::corrupt(format!(
                    "{what}: string {i} points to no global heap object (collection {addr}, index {index})"
                )));
            }
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn gcol() -> Vec<u8> {
        let mut b = vec![0u8; 4096];
        b[..8].copy_from_slice(b"GCOL\x01\0\0\0");
        b[8..16].copy_from_slice(&4096u64.to_le_bytes());
        // object 1: 5 bytes at 32..37 (padded to 40)
        b[16..18].copy_from_slice(&1u16.to_le_bytes());
        b[24..32].copy_from_slice(&5u64.to_le_bytes());
        // object 2: 8 bytes at 56..64
        b[40..42].copy_from_slice(&2u16.to_le_bytes());
        b[48..56].copy_from_slice(&8u64.to_le_bytes());
        // free space
        b[72..80].copy_from_slice(&(4096u64 - 64).to_le_bytes());
        b
    }

    #[test]
    fn heap_objects() {
        let mut img = vec![0u8; 100];
        img.extend(gcol());
        assert_eq!(heap_object_size(&img, 100, 1, 8), Some(5));
        assert_eq!(heap_object_size(&img, 100, 2, 8), Some(8));
        assert_eq!(heap_object_size(&img, 100, 3, 8), None);
        assert_eq!(heap_object_size(&img, 0, 1, 8), None);
        assert_eq!(heap_object_size(&img, u64::MAX, 1, 8), None);
        // Free space of size 0 first: libhdf5 would loop; nothing is found.
        let mut zero = img.clone();
        zero[100 + 16..100 + 18].copy_from_slice(&0u16.to_le_bytes());
        zero[100 + 24..100 + 32].copy_from_slice(&0u64.to_le_bytes());
        assert_eq!(heap_object_size(&zero, 100, 2, 8), None);
        // A collection running past the file.
        assert_eq!(heap_object_size(&img[..2000], 100, 1, 8), None);
    }

    #[test]
    fn superblock_fields() {
        let mut v0 = vec![0u8; 64];
        v0[..8].copy_from_slice(b"\x89HDF\r\n\x1a\n");
        v0[13] = 8;
        v0[14] = 4;
        assert_eq!(superblock(&v0), Some((0, 8, 4)));
        let mut ub = vec![0u8; 1024];
        ub[512..520].copy_from_slice(b"\x89HDF\r\n\x1a\n");
        ub[520] = 2;
        ub[521] = 8;
        ub[522] = 8;
        assert_eq!(superblock(&ub), Some((512, 8, 8)));
        assert_eq!(superblock(b"junk"), None);
    }
}
