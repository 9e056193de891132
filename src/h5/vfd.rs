//! A read-only libhdf5 *virtual file driver* over bytes we already have mapped: libhdf5 opens
//! the `.weights.h5` file, or a STORED zip member in place, with no copy of the file.
//!
//! First version used the core driver with a "file image" whose allocation callbacks handed
//! back our pointer (HDF5's `H5LTopen_file_image(DONT_COPY)` trick). A driver of our own does the
//! same with less machinery *and* sees every read libhdf5 makes, which is where the one known
//! libhdf5 hang is stopped (below).
//!
//! ```text
//!   libhdf5 (metadata cache, B-trees, heaps)
//!        | read(type, addr, size, buf)          addr < EOA (checked by libhdf5)
//!        v
//!   mapped_read: memcpy from map[base + addr ..], zero-fill past the end (like sec2/core);
//!                a read at a "GCOL" global heap collection is refused when libhdf5's parser
//!                would loop on it
//!        ^
//!   [superblock .... object headers .... GCOL .... data ....]   the image = map[base .. base+len]
//! ```
//!
//! **The global-heap hang.** `H5HG__cache_heap_deserialize` walks the objects of a collection
//! with `p = begin + need`, where `need` for object 0 (free space) is its stored size: a size of 0
//! never advances (found by fuzzing; h5py with libhdf5 1.14.6 hangs the same way), and a huge one
//! moves `p` backwards. libhdf5 reads global heap collections as raw data (`H5FD_MEM_GHEAP` is
//! mapped to `H5FD_MEM_DRAW` in `H5Fio.c`), always at the collection's address, so every raw read
//! that starts with `GCOL` version 1 is checked by replaying that loop over the whole collection:
//! a step that does not move forward, or runs past the collection, fails the read; libhdf5 then
//! reports a read error for the attribute and nothing spins. (A dataset chunk that happens to
//! start with such bytes would be refused too; that needs adversarial data.)
//!
//! The struct layouts below mirror `H5FDdevelop.h` of the libhdf5 we build (2.x: class struct
//! version 1 with `version` first). hdf5-metno-sys's `H5FD_class_t` predates that layout, so it is
//! not used.

use std::ffi::{c_char, c_int, c_uint, c_ulong, c_void};
use std::sync::OnceLock;

use hdf5_metno_sys::h5::{haddr_t, herr_t, hsize_t};
use hdf5_metno_sys::h5f::{H5Fopen, H5F_ACC_RDONLY};
use hdf5_metno_sys::h5i::hid_t;
use hdf5_metno_sys::h5p::{H5Pcreate, H5Pget_driver_info, H5Pset_driver, H5Pset_fclose_degree};

use super::handle::{check, cstring, locked, Hid, Kind};
use crate::error::{Error, Result};

/// `H5FD_mem_t` values we use (a C enum: int).
const MEM_DRAW: c_int = 3;
const MEM_SUPER: c_int = 1;
/// `H5FD_CLASS_VERSION` of the libhdf5 we build.
const CLASS_VERSION: c_uint = 1;
/// A driver value in the range HDF5 leaves for testing/private drivers (256..=511).
const DRIVER_VALUE: c_int = 473;
/// Flags that ask for writing (`H5F_ACC_RDWR | H5F_ACC_TRUNC | H5F_ACC_EXCL | H5F_ACC_CREAT`).
const WRITE_FLAGS: c_uint = 0x0001 | 0x0002 | 0x0004 | 0x0010;
/// Largest address (sec2's, a signed 64-bit file offset).
const MAXADDR: haddr_t = (1 << 63) - 1;
/// Global heap collection constants (H5HGpkg.h).
const GCOL_MAGIC: &[u8; 4] = b"GCOL";
const GCOL_VERSION: u8 = 1;
const GCOL_MINSIZE: u64 = 4096;

type AnyFn = Option<unsafe extern "C" fn()>;

/// `H5FD_t`: the public part of an open file; libhdf5 fills it after `open` returns.
#[repr(C)]
struct PublicFile {
    driver_id: hid_t,
    cls: *const c_void,
    fileno: c_ulong,
    access_flags: c_uint,
    feature_flags: c_ulong,
    maxaddr: haddr_t,
    base_addr: haddr_t,
    threshold: hsize_t,
    alignment: hsize_t,
    paged_aggr: bool,
}

/// Our open file: the public part first (libhdf5 casts between the two), then the image.
#[repr(C)]
struct MappedFile {
    public: PublicFile,
    ptr: *const u8,
    len: usize,
    sizeof_size: usize,
    eoa: haddr_t,
}

/// Driver info carried by the file-access property list (copied there with memcpy).
#[repr(C)]
#[derive(Clone, Copy)]
struct Info {
    ptr: *const u8,
    len: usize,
    sizeof_size: usize,
}

/// `H5FD_class_t` (H5FDdevelop.h, class version 1).
#[repr(C)]
struct Class {
    version: c_uint,
    value: c_int,
    name: *const c_char,
    maxaddr: haddr_t,
    fc_degree: c_int,
    terminate: AnyFn,
    sb_size: AnyFn,
    sb_encode: AnyFn,
    sb_decode: AnyFn,
    fapl_size: usize,
    fapl_get: AnyFn,
    fapl_copy: AnyFn,
    fapl_free: AnyFn,
    dxpl_size: usize,
    dxpl_copy: AnyFn,
    dxpl_free: AnyFn,
    open: Option<unsafe extern "C" fn(*const c_char, c_uint, hid_t, haddr_t) -> *mut PublicFile>,
    close: Option<unsafe extern "C" fn(*mut PublicFile) -> herr_t>,
    cmp: AnyFn,
    query: AnyFn,
    get_type_map: AnyFn,
    alloc: AnyFn,
    free: AnyFn,
    get_eoa: Option<unsafe extern "C" fn(*const PublicFile, c_int) -> haddr_t>,
    set_eoa: Option<unsafe extern "C" fn(*mut PublicFile, c_int, haddr_t) -> herr_t>,
    get_eof: Option<unsafe extern "C" fn(*const PublicFile, c_int) -> haddr_t>,
    get_handle: AnyFn,
    read: Option<
        unsafe extern "C" fn(*mut PublicFile, c_int, hid_t, haddr_t, usize, *mut c_void) -> herr_t,
    >,
    write: Option<
        unsafe extern "C" fn(
            *mut PublicFile,
            c_int,
            hid_t,
            haddr_t,
            usize,
            *const c_void,
        ) -> herr_t,
    >,
    read_vector: AnyFn,
    write_vector: AnyFn,
    read_selection: AnyFn,
    write_selection: AnyFn,
    flush: AnyFn,
    truncate: AnyFn,
    lock: AnyFn,
    unlock: AnyFn,
    del: AnyFn,
    ctl: AnyFn,
    fl_map: [c_int; 7],
}

unsafe extern "C" {
    // The same symbol as hdf5-metno-sys's, declared with our (2.x) class layout.
    fn H5FDregister(cls: *const Class) -> hid_t;
}

unsafe extern "C" fn open(
    name: *const c_char,
    flags: c_uint,
    fapl: hid_t,
    _maxaddr: haddr_t,
) -> *mut PublicFile {
    let _ = name;
    if flags & WRITE_FLAGS != 0 {
        return std::ptr::null_mut();
    }
    // SAFETY: libhdf5 passes the file-access list we configured with H5Pset_driver; its driver
    // info is our `Info` (memcpy'd, fapl_size bytes) or null.
    let info = unsafe { (H5Pget_driver_info(fapl) as *const Info).as_ref() };
    let Some(info) = info.copied() else {
        return std::ptr::null_mut();
    };
    let file = Box::new(MappedFile {
        // SAFETY: all-zero is a valid PublicFile (integers, a null pointer, false).
        public: unsafe { std::mem::MaybeUninit::zeroed().assume_init() },
        ptr: info.ptr,
        len: info.len,
        sizeof_size: info.sizeof_size,
        eoa: 0,
    });
    Box::into_raw(file).cast()
}

unsafe extern "C" fn close(file: *mut PublicFile) -> herr_t {
    if !file.is_null() {
        // SAFETY: `file` came from Box::into_raw in `open` (PublicFile is MappedFile's first
        // field, repr(C)) and libhdf5 closes a file once.
        drop(unsafe { Box::from_raw(file.cast::<MappedFile>()) });
    }
    0
}

/// # Safety
/// `file` is a live file returned by `open`.
unsafe fn this<'a>(file: *const PublicFile) -> &'a MappedFile {
    // SAFETY: per the contract; MappedFile starts with PublicFile (repr(C)).
    unsafe { &*file.cast::<MappedFile>() }
}

unsafe extern "C" fn get_eoa(file: *const PublicFile, _type: c_int) -> haddr_t {
    // SAFETY: libhdf5 passes a file this driver opened.
    unsafe { this(file) }.eoa
}

unsafe extern "C" fn set_eoa(file: *mut PublicFile, _type: c_int, addr: haddr_t) -> herr_t {
    // SAFETY: as above; libhdf5 holds the only reference during the call.
    unsafe { (*file.cast::<MappedFile>()).eoa = addr };
    0
}

unsafe extern "C" fn get_eof(file: *const PublicFile, _type: c_int) -> haddr_t {
    // SAFETY: as above.
    unsafe { this(file) }.len as haddr_t
}

unsafe extern "C" fn read(
    file: *mut PublicFile,
    mem_type: c_int,
    _dxpl: hid_t,
    addr: haddr_t,
    size: usize,
    buf: *mut c_void,
) -> herr_t {
    // SAFETY: libhdf5 passes a file this driver opened; the image outlives it (the owner closes
    // the file before dropping the map).
    let f = unsafe { this(file) };
    // SAFETY: `ptr`/`len` describe the mapped image, valid while the file is open.
    let image = unsafe { std::slice::from_raw_parts(f.ptr, f.len) };
    if buf.is_null() && size > 0 {
        return -1;
    }
    // SAFETY: libhdf5 hands a writable buffer of `size` bytes.
    let out = unsafe { std::slice::from_raw_parts_mut(buf.cast::<u8>(), size) };
    let start = usize::try_from(addr).ok().filter(|&a| a <= image.len());
    let avail = start.map_or(&[][..], |a| &image[a..]);
    let n = avail.len().min(size);
    out[..n].copy_from_slice(&avail[..n]);
    // Past the end of the file reads as zeros (sec2 and core do the same; libhdf5's speculative
    // reads rely on it).
    out[n..].fill(0);
    if mem_type == MEM_DRAW && avail.starts_with(GCOL_MAGIC) {
        if let Err(msg) = check_global_heap(avail, f.sizeof_size) {
            push_error(&format!("global heap collection at address {addr}: {msg}"));
            return -1;
        }
    }
    0
}

unsafe extern "C" fn write(
    _file: *mut PublicFile,
    _type: c_int,
    _dxpl: hid_t,
    _addr: haddr_t,
    _size: usize,
    _buf: *const c_void,
) -> herr_t {
    push_error("the file is opened read-only");
    -1
}

/// Puts our message on libhdf5's error stack, so it ends up in the Error we report.
fn push_error(msg: &str) {
    let Ok(c) = cstring(msg) else { return };
    use hdf5_metno::globals as g;
    // SAFETY: the format is "%s" with one NUL-terminated argument; class/major/minor ids are
    // libhdf5's predefined ones (the library is initialised: we are inside one of its calls).
    unsafe {
        hdf5_metno_sys::h5e::H5Epush2(
            hdf5_metno_sys::h5e::H5E_DEFAULT,
            c"kerasave/h5/vfd.rs".as_ptr(),
            c"mapped_read".as_ptr(),
            0,
            *g::H5E_ERR_CLS,
            *g::H5E_VFL,
            *g::H5E_READERROR,
            c"%s".as_ptr(),
            c.as_ptr(),
        );
    }
}

/// Replays the object walk of libhdf5's `H5HG__cache_heap_deserialize` over the collection that
/// starts `bytes` and refuses one on which that walk would not terminate or would leave the
/// collection. Everything else is left to libhdf5's own checks.
pub(crate) fn check_global_heap(
    bytes: &[u8],
    sizeof_size: usize,
) -> std::result::Result<(), String> {
    if bytes.get(4) != Some(&GCOL_VERSION) {
        return Ok(()); // libhdf5 refuses other versions itself
    }
    let le = |at: usize, n: usize| -> Option<u64> {
        let s = bytes.get(at..at.checked_add(n)?)?;
        Some(
            s.iter()
                .rev()
                .fold(0u64, |acc, &b| (acc << 8) | u64::from(b)),
        )
    };
    let hdr = 8 + sizeof_size; // magic, version, 3 reserved, size
    let objhdr = 8 + sizeof_size; // index u16, nrefs u16, 4 reserved, size
    let size = match le(8, sizeof_size) {
        Some(s) if s >= GCOL_MINSIZE => s,
        _ => return Ok(()), // too small or truncated: libhdf5 refuses it
    };
    // libhdf5 parses `size` bytes (its read of them is bounded by the file's EOA).
    let size = usize::try_from(size).map_err(|_| format!("size {size} too large"))?;
    let mut p = hdr;
    let mut steps = 0usize;
    while p < size {
        steps += 1;
        if steps > size {
            return Err("object list does not terminate".into());
        }
        let begin = p;
        if p + objhdr > size {
            break; // the trailing free space: libhdf5 jumps to the end
        }
        let (Some(idx), Some(obj_size)) = (le(p, 2), le(p + 8, sizeof_size)) else {
            return Ok(()); // past the bytes we have: libhdf5's read fails first
        };
        let need: u128 = if idx > 0 {
            objhdr as u128 + u128::from(obj_size).div_ceil(8) * 8
        } else {
            u128::from(obj_size)
        };
        if need == 0 {
            return Err(format!(
                "object {idx} at offset {begin} has size 0 (libhdf5 would loop)"
            ));
        }
        if begin as u128 + need > size as u128 {
            return Err(format!(
                "object {idx} at offset {begin} of {need} bytes runs past the collection ({size} bytes)"
            ));
        }
        p = begin + need as usize;
    }
    Ok(())
}

/// Reads `sizeof_size` (bytes per length field) from the superblock, as libhdf5 will: the
/// signature at 0, 512, 1024, ...; versions 0/1 keep it at byte 14, versions 2/3 at byte 10.
fn sizeof_size(bytes: &[u8]) -> usize {
    const SIG: &[u8; 8] = b"\x89HDF\r\n\x1a\n";
    let mut at = 0usize;
    loop {
        if bytes.get(at..at + 8) == Some(&SIG[..]) {
            let v = match bytes.get(at + 8) {
                Some(0) | Some(1) => bytes.get(at + 14),
                Some(2) | Some(3) => bytes.get(at + 10),
                _ => None,
            };
            return v.map_or(8, |&s| usize::from(s));
        }
        at = if at == 0 { 512 } else { at * 2 };
        if at >= bytes.len() {
            return 8;
        }
    }
}

fn driver_id() -> Result<hid_t> {
    static ID: OnceLock<std::result::Result<hid_t, String>> = OnceLock::new();
    ID.get_or_init(|| {
        let cls = Class {
            version: CLASS_VERSION,
            value: DRIVER_VALUE,
            name: c"kerasave_mapped".as_ptr(),
            maxaddr: MAXADDR,
            fc_degree: 1, // H5F_CLOSE_WEAK, as the core driver; our list asks for STRONG
            terminate: None,
            sb_size: None,
            sb_encode: None,
            sb_decode: None,
            fapl_size: std::mem::size_of::<Info>(),
            fapl_get: None,
            fapl_copy: None,
            fapl_free: None,
            dxpl_size: 0,
            dxpl_copy: None,
            dxpl_free: None,
            open: Some(open),
            close: Some(close),
            cmp: None,
            query: None,
            get_type_map: None,
            alloc: None,
            free: None,
            get_eoa: Some(get_eoa),
            set_eoa: Some(set_eoa),
            get_eof: Some(get_eof),
            get_handle: None,
            read: Some(read),
            write: Some(write),
            read_vector: None,
            write_vector: None,
            read_selection: None,
            write_selection: None,
            flush: None,
            truncate: None,
            lock: None,
            unlock: None,
            del: None,
            ctl: None,
            // H5FD_FLMAP_DICHOTOMY (unused: nothing is allocated in a read-only file).
            fl_map: [
                MEM_SUPER, MEM_SUPER, MEM_SUPER, MEM_DRAW, MEM_DRAW, MEM_SUPER, MEM_SUPER,
            ],
        };
        locked(|| {
            // SAFETY: `cls` matches H5FDdevelop.h's layout; libhdf5 copies the struct, and
            // `name` is a 'static literal.
            let id = unsafe { H5FDregister(&cls) };
            if id < 0 {
                Err(super::handle::stack_message())
            } else {
                Ok(id)
            }
        })
    })
    .clone()
    .map_err(|e| Error::unsupported(format!("cannot register the HDF5 driver: {e}")))
}

/// Opens `bytes` read-only as an HDF5 file, reading them in place.
///
/// # Safety
/// `bytes` must stay valid and unchanged until the returned id is closed.
pub(crate) unsafe fn open_mapped(bytes: &[u8]) -> Result<Hid> {
    use std::sync::atomic::{AtomicU64, Ordering};
    static COUNTER: AtomicU64 = AtomicU64::new(0);
    if bytes.is_empty() {
        return Err(Error::corrupt("empty file: not an HDF5 file"));
    }
    let driver = driver_id()?;
    let info = Info {
        ptr: bytes.as_ptr(),
        len: bytes.len(),
        sizeof_size: sizeof_size(bytes),
    };
    // The name only labels the file; a fresh one per open keeps libhdf5 from treating two
    // opens as one file.
    let name = cstring(&format!(
        "kerasave-mapped-{}-{}",
        std::process::id(),
        COUNTER.fetch_add(1, Ordering::Relaxed)
    ))?;
    locked(|| {
        // SAFETY: plain property-list creation.
        let fapl = Hid::new(
            unsafe { H5Pcreate(*hdf5_metno::globals::H5P_FILE_ACCESS) },
            Kind::Plist,
            "cannot create a file access property list",
        )?;
        // SAFETY: `info` is read (memcpy'd, fapl_size bytes) during the call.
        check(
            unsafe { H5Pset_driver(fapl.id(), driver, (&info as *const Info).cast()) },
            "cannot select the mapped-file driver",
        )?;
        // SAFETY: fapl is a valid file-access list.
        check(
            unsafe {
                H5Pset_fclose_degree(
                    fapl.id(),
                    hdf5_metno_sys::h5f::H5F_close_degree_t::H5F_CLOSE_STRONG,
                )
            },
            "cannot set the close degree",
        )?;
        // SAFETY: NUL-terminated name; the driver reads `bytes`, which the caller keeps alive
        // until this id is closed; read-only open.
        Hid::new(
            unsafe { H5Fopen(name.as_ptr(), H5F_ACC_RDONLY, fapl.id()) },
            Kind::File,
            "not a readable HDF5 file",
        )
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A 4096-byte collection: one 5-byte object (index 1), then the free space (index 0)
    /// whose stored size is `free`.
    fn gcol(free: u64) -> Vec<u8> {
        let mut b = vec![0u8; 4096];
        b[..8].copy_from_slice(b"GCOL\x01\0\0\0");
        b[8..16].copy_from_slice(&4096u64.to_le_bytes());
        b[16..18].copy_from_slice(&1u16.to_le_bytes());
        b[24..32].copy_from_slice(&5u64.to_le_bytes());
        // object 1 data: 8 bytes (5 aligned up) at 32..40; free space header at 40
        b[48..56].copy_from_slice(&free.to_le_bytes());
        b
    }

    #[test]
    fn global_heap_walk() {
        assert_eq!(check_global_heap(&gcol(4096 - 40), 8), Ok(()));
        // Free space of size 0: libhdf5 would spin.
        assert!(check_global_heap(&gcol(0), 8)
            .unwrap_err()
            .contains("size 0"));
        // Huge free space: p would move backwards in C.
        assert!(check_global_heap(&gcol(u64::MAX), 8).is_err());
        assert!(check_global_heap(&gcol(4097), 8).is_err());
        // Not something libhdf5 would parse as a collection: left to libhdf5.
        assert_eq!(check_global_heap(b"GCOL\x02", 8), Ok(()));
        assert_eq!(check_global_heap(&gcol(0)[..20], 8), Ok(()));
    }

    #[test]
    fn superblock_sizes() {
        let mut v0 = vec![0u8; 64];
        v0[..8].copy_from_slice(b"\x89HDF\r\n\x1a\n");
        v0[13] = 8;
        v0[14] = 4;
        assert_eq!(sizeof_size(&v0), 4);
        let mut ub = vec![0u8; 1024];
        ub[512..520].copy_from_slice(b"\x89HDF\r\n\x1a\n");
        ub[520] = 2;
        ub[522] = 8;
        assert_eq!(sizeof_size(&ub), 8);
        assert_eq!(sizeof_size(b"junk"), 8);
    }
}
