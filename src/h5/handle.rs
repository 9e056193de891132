//! The thin layer over the libhdf5 C API: one global lock, RAII ids, errors from the error stack.
//!
//! libhdf5 is built without its thread-safety option, so every call, including the `close` in a
//! guard's `Drop`, runs under hdf5-metno's reentrant global lock ([`locked`]); hdf5-metno takes
//! the same lock, so the two can share the library. The lock's first use on each thread also
//! turns off libhdf5's automatic printing of its error stack: failures come back as [`Error`]s
//! carrying the stack's message, never as text on stderr.

use std::ffi::{c_char, CStr, CString};

use hdf5_metno_sys::h5::herr_t;
use hdf5_metno_sys::h5e::{H5Eclear2, H5E_DEFAULT};
use hdf5_metno_sys::h5i::hid_t;

use crate::error::{Error, Result};

/// Runs `f` holding the library lock (reentrant: nested calls and libhdf5's callbacks into our
/// code on the same thread are fine). Also initialises the library and silences its error
/// printing the first time a thread gets here.
pub(crate) fn locked<T>(f: impl FnOnce() -> T) -> T {
    hdf5_metno::sync::sync(f)
}

/// The message of the current libhdf5 error stack ("outermost: innermost", e.g.
/// `unable to open file: truncated file: eof = 100, ...`), which is then cleared. Call under
/// the lock, right after the failing call.
pub(crate) fn stack_message() -> String {
    let msg = match hdf5_metno::Error::query() {
        Ok(e) => match e.stack() {
            Some(stack) if !stack.is_empty() => stack.description().to_owned(),
            _ => "unknown HDF5 library error".to_owned(),
        },
        Err(_) => "unknown HDF5 library error".to_owned(),
    };
    // SAFETY: clearing the default error stack has no preconditions; we hold the lock.
    unsafe { H5Eclear2(H5E_DEFAULT) };
    msg
}

/// Drops whatever a tolerated failure left on the error stack (cheap; no message is built).
pub(crate) fn clear_errors() {
    // SAFETY: clearing the default error stack has no preconditions; callers hold the lock.
    unsafe { H5Eclear2(H5E_DEFAULT) };
}

/// A libhdf5 failure while reading: the file is not what it claims (Corrupt).
pub(crate) fn corrupt(what: &str) -> Error {
    Error::corrupt(format!("{what}: {}", stack_message()))
}

/// Checks an `herr_t`; on failure, a Corrupt error with `what` and the library's message.
pub(crate) fn check(ret: herr_t, what: &str) -> Result<()> {
    if ret < 0 {
        Err(corrupt(what))
    } else {
        Ok(())
    }
}

/// Which `H5?close` releases an id.
#[derive(Clone, Copy, Debug)]
pub(crate) enum Kind {
    File,
    Group,
    Dataset,
    Attribute,
    Datatype,
    Dataspace,
    Plist,
    Object,
}

/// An open libhdf5 id, closed on drop (under the lock).
#[derive(Debug)]
pub(crate) struct Hid {
    id: hid_t,
    kind: Kind,
}

impl Hid {
    /// Wraps the id a libhdf5 call returned; a negative id is the call's failure, reported as
    /// Corrupt with `what` and the library's message.
    pub(crate) fn new(id: hid_t, kind: Kind, what: &str) -> Result<Hid> {
        if id < 0 {
            Err(corrupt(what))
        } else {
            Ok(Hid { id, kind })
        }
    }

    pub(crate) fn id(&self) -> hid_t {
        self.id
    }

    /// Closes now, reporting a failure (files: the final flush of a writer happens here).
    pub(crate) fn close(self) -> Result<()> {
        let this = std::mem::ManuallyDrop::new(self);
        let ret = locked(|| close_id(this.id, this.kind));
        check(ret, "cannot close HDF5 object")
    }
}

fn close_id(id: hid_t, kind: Kind) -> herr_t {
    use hdf5_metno_sys::{h5a, h5d, h5f, h5g, h5o, h5p, h5s, h5t};
    // SAFETY: `id` came from a successful libhdf5 call of the matching kind and is closed
    // exactly once (Hid is not Clone; `close` suppresses the Drop).
    unsafe {
        match kind {
            Kind::File => h5f::H5Fclose(id),
            Kind::Group => h5g::H5Gclose(id),
            Kind::Dataset => h5d::H5Dclose(id),
            Kind::Attribute => h5a::H5Aclose(id),
            Kind::Datatype => h5t::H5Tclose(id),
            Kind::Dataspace => h5s::H5Sclose(id),
            Kind::Plist => h5p::H5Pclose(id),
            Kind::Object => h5o::H5Oclose(id),
        }
    }
}

impl Drop for Hid {
    fn drop(&mut self) {
        let (id, kind) = (self.id, self.kind);
        locked(|| {
            if close_id(id, kind) < 0 {
                // Nothing to report to from a destructor; keep the stack clean for the next call.
                // SAFETY: as in stack_message.
                unsafe { H5Eclear2(H5E_DEFAULT) };
            }
        });
    }
}

/// A NUL-terminated copy of a path or name for the C API; an interior NUL is the caller's error.
pub(crate) fn cstring(s: &str) -> Result<CString> {
    CString::new(s).map_err(|_| Error::InvalidArgument(format!("name {s:?} contains a NUL byte")))
}

/// Copies and frees a string that libhdf5 allocated (H5Tget_tag, H5Tget_member_name).
///
/// # Safety
/// `p` is null or a NUL-terminated string allocated by libhdf5 and owned by the caller.
pub(crate) unsafe fn take_h5_string(p: *mut c_char) -> Option<Vec<u8>> {
    if p.is_null() {
        return None;
    }
    // SAFETY: per the contract, `p` is a valid NUL-terminated string.
    let bytes = unsafe { CStr::from_ptr(p) }.to_bytes().to_vec();
    // SAFETY: libhdf5 allocated it and hands ownership to us; H5free_memory is its free.
    unsafe { hdf5_metno_sys::h5::H5free_memory(p.cast()) };
    Some(bytes)
}

/// A zeroed `H5O_info2_t` out-parameter (all-zero is valid: `type_` 0 is `H5O_TYPE_GROUP`).
pub(crate) fn zeroed_obj_info() -> hdf5_metno_sys::h5o::H5O_info2_t {
    // SAFETY: a repr(C) struct of integers, a byte array and a C enum whose 0 is a variant.
    unsafe { std::mem::MaybeUninit::zeroed().assume_init() }
}
