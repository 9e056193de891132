//! Opening HDF5 bytes that are already in memory (our read-only map) as a libhdf5 *file image*,
//! without libhdf5 copying them.
//!
//! libhdf5's core driver can open a file image: a buffer set on the file-access property list
//! with `H5Pset_file_image`. By default the library copies that buffer twice (into the property
//! list, then into the driver). The file-image callbacks let the application replace those
//! allocations and copies; HDF5's own `H5LTopen_file_image(.., DONT_COPY | DONT_RELEASE)` uses
//! them to make every "copy" the application's buffer itself. We do the same, simplified because
//! the buffer outlives every libhdf5 use of it (the [`ImageGuard`] is dropped only after the file
//! is closed, with close degree STRONG, so no id can keep the driver alive):
//!
//! ```text
//!  op (file_image_op)          image_malloc(size)       image_memcpy(dest, src, size)   image_free(ptr)
//!  PROPERTY_LIST_SET           -> our ptr (size == len)  dest == src == our ptr: no-op    -
//!  PROPERTY_LIST_COPY          -> our ptr                same                              -
//!  PROPERTY_LIST_CLOSE         -                         -                                 no-op
//!  FILE_OPEN                   -> our ptr                same                              -
//!  FILE_CLOSE                  -                         -                                 no-op
//!  PROPERTY_LIST_GET, RESIZE   -> NULL (refused)         NULL (refused)                    -
//!  udata_copy / udata_free: the same pointer / no-op (we own the udata box)
//! ```
//!
//! The file is opened `H5F_ACC_RDONLY`, so libhdf5 never writes through the pointer (the map is
//! `PROT_READ`; a write would fault rather than corrupt anything) and never resizes the image.
//! Every read the core driver makes is bounds-checked by it against the image length.

use std::ffi::c_void;
use std::ptr;
use std::sync::atomic::{AtomicU64, Ordering};

use hdf5_metno_sys::h5::herr_t;
use hdf5_metno_sys::h5f::{H5F_close_degree_t, H5Fopen, H5F_ACC_RDONLY};
use hdf5_metno_sys::h5fd::{H5FD_file_image_callbacks_t, H5FD_file_image_op_t};
use hdf5_metno_sys::h5p::{
    H5Pcreate, H5Pset_fapl_core, H5Pset_fclose_degree, H5Pset_file_image,
    H5Pset_file_image_callbacks,
};

use super::handle::{check, cstring, locked, Hid, Kind};
use crate::error::{Error, Result};

/// What the callbacks compare against: the image's address and length. Boxed so its address is
/// stable; must outlive the file id (see [`ImageGuard`]).
#[derive(Debug)]
struct Image {
    ptr: *mut c_void,
    len: usize,
}

/// Keeps the callbacks' user data alive; drop it only after the file id is closed.
#[derive(Debug)]
pub(crate) struct ImageGuard {
    _image: Box<Image>,
}

/// An open file image: the file id and the callbacks' data, in drop order. Fields drop in
/// declaration order, so the id is closed (libhdf5 calls `image_free` with the udata) before
/// the udata box is freed, on every path, including early returns of the caller.
#[derive(Debug)]
pub(crate) struct ImageFile {
    pub(crate) fid: Hid,
    _guard: ImageGuard,
}

// SAFETY: the raw pointer inside is only compared, never dereferenced by us; libhdf5 reads
// through it under the global lock while the owner (H5File) keeps the map alive.
unsafe impl Send for ImageGuard {}
// SAFETY: as above; there is no interior mutability.
unsafe impl Sync for ImageGuard {}

/// Whether an op is one where the library "allocates" a copy of the image we hand it.
fn is_share_op(op: H5FD_file_image_op_t) -> bool {
    matches!(
        op,
        H5FD_file_image_op_t::H5FD_FILE_IMAGE_OP_PROPERTY_LIST_SET
            | H5FD_file_image_op_t::H5FD_FILE_IMAGE_OP_PROPERTY_LIST_COPY
            | H5FD_file_image_op_t::H5FD_FILE_IMAGE_OP_FILE_OPEN
    )
}

/// # Safety (of the callbacks)
/// libhdf5 passes back the `udata` pointer we registered: a live `Box<Image>` (the box outlives
/// the file and every property list that refers to it). The callbacks never panic.
fn image_of<'a>(udata: *mut c_void) -> Option<&'a Image> {
    // SAFETY: see above; null is handled by `as_ref`.
    unsafe { (udata as *const Image).as_ref() }
}

extern "C" fn image_malloc(
    size: usize,
    op: H5FD_file_image_op_t,
    udata: *mut c_void,
) -> *mut c_void {
    match image_of(udata) {
        Some(img) if is_share_op(op) && size == img.len => img.ptr,
        _ => ptr::null_mut(),
    }
}

extern "C" fn image_memcpy(
    dest: *mut c_void,
    src: *const c_void,
    size: usize,
    op: H5FD_file_image_op_t,
    udata: *mut c_void,
) -> *mut c_void {
    match image_of(udata) {
        // The "copy" is onto itself: nothing to do.
        Some(img)
            if is_share_op(op)
                && size == img.len
                && dest == img.ptr
                && std::ptr::eq(src, img.ptr.cast_const()) =>
        {
            dest
        }
        _ => ptr::null_mut(),
    }
}

extern "C" fn image_realloc(
    _ptr: *mut c_void,
    _size: usize,
    _op: H5FD_file_image_op_t,
    _udata: *mut c_void,
) -> *mut c_void {
    // Read-only image: never grown.
    ptr::null_mut()
}

extern "C" fn image_free(
    ptr: *mut c_void,
    _op: H5FD_file_image_op_t,
    udata: *mut c_void,
) -> herr_t {
    match image_of(udata) {
        // Our map is released by its owner, not by libhdf5.
        Some(img) if ptr == img.ptr || ptr.is_null() => 0,
        _ => -1,
    }
}

/// # Safety
/// Called by libhdf5 only, with the udata registered in [`open_image`]; it is shared, not copied.
unsafe extern "C" fn udata_copy(udata: *mut c_void) -> *mut c_void {
    udata
}

/// # Safety
/// Called by libhdf5 only; the udata box is owned and freed by [`ImageGuard`].
unsafe extern "C" fn udata_free(_udata: *mut c_void) -> herr_t {
    0
}

/// Opens `bytes` read-only as an HDF5 file without copying them.
///
/// # Safety
/// `bytes` must stay valid and unchanged until the returned [`ImageFile`] is dropped.
pub(crate) unsafe fn open_image(bytes: &[u8]) -> Result<ImageFile> {
    static COUNTER: AtomicU64 = AtomicU64::new(0);
    if bytes.is_empty() {
        return Err(Error::corrupt("empty file: not an HDF5 file"));
    }
    // Declared first so it is dropped last, after the property list below (whose close calls
    // image_free with this udata).
    let image = Box::new(Image {
        ptr: bytes.as_ptr().cast_mut().cast(),
        len: bytes.len(),
    });
    // libhdf5 recognises an already-open file by name when there is no backing file; a fresh
    // name per open keeps two images from being taken for one file.
    let name = cstring(&format!(
        "kerasave-image-{}-{}",
        std::process::id(),
        COUNTER.fetch_add(1, Ordering::Relaxed)
    ))?;
    let fid = locked(|| {
        // SAFETY: plain property-list creation; the class id comes from the initialised library.
        let fapl = Hid::new(
            unsafe { H5Pcreate(*hdf5_metno::globals::H5P_FILE_ACCESS) },
            Kind::Plist,
            "cannot create a file access property list",
        )?;
        // SAFETY: fapl is a valid file-access list. Increment 64 KiB is unused (never grows).
        check(
            unsafe { H5Pset_fapl_core(fapl.id(), 1 << 16, 0) },
            "cannot select the core driver",
        )?;
        // SAFETY: as above.
        check(
            unsafe { H5Pset_fclose_degree(fapl.id(), H5F_close_degree_t::H5F_CLOSE_STRONG) },
            "cannot set the close degree",
        )?;
        let mut callbacks = H5FD_file_image_callbacks_t {
            image_malloc: Some(image_malloc),
            image_memcpy: Some(image_memcpy),
            image_realloc: Some(image_realloc),
            image_free: Some(image_free),
            udata_copy: Some(udata_copy),
            udata_free: Some(udata_free),
            udata: (&*image as *const Image).cast_mut().cast(),
        };
        // SAFETY: the callbacks never panic and honour the contract in the module docs;
        // `callbacks` is read during the call only; udata lives in `image` (outlives the file).
        check(
            unsafe { H5Pset_file_image_callbacks(fapl.id(), &mut callbacks) },
            "cannot set file image callbacks",
        )?;
        // SAFETY: with the callbacks above libhdf5 keeps `image.ptr` instead of copying, reads it
        // only (read-only open below), and the caller keeps the bytes alive.
        check(
            unsafe { H5Pset_file_image(fapl.id(), image.ptr, image.len) },
            "cannot set the file image",
        )?;
        // SAFETY: `name` is NUL-terminated; fapl is configured above.
        let fid = Hid::new(
            unsafe { H5Fopen(name.as_ptr(), H5F_ACC_RDONLY, fapl.id()) },
            Kind::File,
            "not a readable HDF5 file",
        )?;
        drop(fapl);
        Ok::<Hid, Error>(fid)
    })?;
    Ok(ImageFile {
        fid,
        _guard: ImageGuard { _image: image },
    })
}
