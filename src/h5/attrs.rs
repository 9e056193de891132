//! Attributes: reading any attribute into an [`AttrValue`], writing them the way h5py does, and
//! Keras's chunking of long string lists (`layer_names0`, `layer_names1`, ...).
//!
//! ```text
//! stored attribute                                   AttrValue
//! scalar string (vlen or fixed, ASCII or UTF-8)      String          (not UTF-8: Bytes)
//! 1-D/N-D string array                               Strings         (row-major)
//! integers, bool/other enums over integers           Int             (i64; scalars are 1 element)
//! floats                                             Float           (f64; np.asarray([]) is Float([]))
//! opaque / compound / bitfield                       Bytes           (stored bytes, row-major)
//! null dataspace (h5py.Empty)                        the empty value of the class
//! ```

use std::ffi::{c_char, c_void, CStr};

use hdf5_metno_sys::h5::{hsize_t, H5_index_t, H5_iter_order_t};
use hdf5_metno_sys::h5a::{self, H5A_info_t};
use hdf5_metno_sys::h5i::hid_t;
use hdf5_metno_sys::h5p::H5P_DEFAULT;
use hdf5_metno_sys::h5s::{self, H5S_class_t};
use hdf5_metno_sys::h5t::{self, H5T_class_t, H5T_cset_t, H5T_order_t, H5T_sign_t, H5T_str_t};

use super::handle::{check, corrupt, cstring, Hid, Kind};
use super::types::string_type;
use super::AttrValue;
use crate::error::{Error, Result};

/// Keras's `HDF5_OBJECT_HEADER_LIMIT`: a string-list attribute whose fixed-length numpy array
/// would exceed it is split into numbered chunks.
pub const HDF5_OBJECT_HEADER_LIMIT: usize = 64512;

/// Largest number of dimensions libhdf5 allows (H5S_MAX_RANK).
const MAX_RANK: usize = 32;

/// The shape of a dataspace; `None` for a null dataspace (no elements, no shape).
pub(crate) fn dataspace_shape(space: hid_t, what: &str) -> Result<Option<Vec<u64>>> {
    // SAFETY: getters on a valid dataspace; `dims` has room for MAX_RANK entries and the rank is
    // checked against it first.
    unsafe {
        match h5s::H5Sget_simple_extent_type(space) {
            H5S_class_t::H5S_NULL => Ok(None),
            H5S_class_t::H5S_SCALAR => Ok(Some(Vec::new())),
            H5S_class_t::H5S_SIMPLE => {
                let rank = h5s::H5Sget_simple_extent_ndims(space);
                let rank = usize::try_from(rank).map_err(|_| corrupt(what))?;
                if rank > MAX_RANK {
                    return Err(Error::corrupt(format!("{what}: rank {rank} > {MAX_RANK}")));
                }
                let mut dims = [0 as hsize_t; MAX_RANK];
                let got =
                    h5s::H5Sget_simple_extent_dims(space, dims.as_mut_ptr(), std::ptr::null_mut());
                if got < 0 {
                    return Err(corrupt(what));
                }
                Ok(Some(dims[..rank].to_vec()))
            }
            _ => Err(corrupt(what)),
        }
    }
}

/// Element count of a shape, capped like tensor shapes (2^40), else Corrupt.
pub(crate) fn element_count(shape: &[u64], what: &str) -> Result<u64> {
    let mut n: u64 = 1;
    for &d in shape {
        n = n
            .checked_mul(d)
            .filter(|&n| n <= crate::tensor::MAX_ELEMENTS)
            .ok_or_else(|| {
                Error::corrupt(format!(
                    "{what}: shape {shape:?} has more than 2^40 elements"
                ))
            })?;
    }
    Ok(n)
}

/// `n * item` bytes, refused when they could not have come from a file of `limit` bytes.
fn capped_bytes(n: u64, item: usize, limit: u64, what: &str) -> Result<usize> {
    n.checked_mul(item as u64)
        .filter(|&b| b <= limit)
        .and_then(|b| usize::try_from(b).ok())
        .ok_or_else(|| {
            Error::corrupt(format!(
                "{what}: {n} elements of {item} bytes cannot be stored in {limit} bytes"
            ))
        })
}

/// Names of the attributes of an object, in name order.
pub(crate) fn attr_names(obj: hid_t, what: &str) -> Result<Vec<String>> {
    /// # Safety
    /// Called by libhdf5 during the iteration below with `data` = the Vec passed to it.
    unsafe extern "C" fn collect(
        _loc: hid_t,
        name: *const c_char,
        _info: *const H5A_info_t,
        data: *mut c_void,
    ) -> i32 {
        // SAFETY: `data` is the Vec passed below, `name` a NUL-terminated attribute name; both
        // valid for the duration of this callback. Pushing cannot unwind except on OOM (abort).
        unsafe {
            let names = &mut *(data as *mut Vec<Vec<u8>>);
            names.push(CStr::from_ptr(name).to_bytes().to_vec());
        }
        0
    }
    let mut names: Vec<Vec<u8>> = Vec::new();
    let mut idx: hsize_t = 0;
    // SAFETY: valid object id; the callback matches H5A_operator2_t and only touches `names`.
    let ret = unsafe {
        h5a::H5Aiterate2(
            obj,
            H5_index_t::H5_INDEX_NAME,
            H5_iter_order_t::H5_ITER_INC,
            &mut idx,
            Some(collect),
            (&mut names as *mut Vec<Vec<u8>>).cast(),
        )
    };
    check(ret, &format!("{what}: cannot list attributes"))?;
    names
        .into_iter()
        .map(|n| {
            String::from_utf8(n).map_err(|e| {
                Error::corrupt(format!(
                    "{what}: attribute name {:?} is not UTF-8",
                    e.as_bytes().escape_ascii().to_string()
                ))
            })
        })
        .collect()
}

/// Whether `obj` has an attribute `name`.
pub(crate) fn attr_exists(obj: hid_t, name: &str, what: &str) -> Result<bool> {
    let c = cstring(name)?;
    // SAFETY: valid object id and NUL-terminated name.
    let r = unsafe { h5a::H5Aexists(obj, c.as_ptr()) };
    if r < 0 {
        return Err(corrupt(&format!("{what}: attribute {name:?}")));
    }
    Ok(r > 0)
}

/// Reads attribute `name` of `obj`. `img` is the HDF5 file's bytes: no attribute can hold more
/// bytes than the file, so larger declared sizes are corrupt and are refused before allocating
/// (vlen strings are checked against their global heap objects in `img`).
pub(crate) fn read_attr(obj: hid_t, name: &str, img: &[u8], what: &str) -> Result<AttrValue> {
    let limit = img.len() as u64;
    let what = format!("{what}: attribute {name:?}");
    let what = what.as_str();
    let c = cstring(name)?;
    // SAFETY: valid object id and NUL-terminated name; ids are closed by the guards.
    let attr = Hid::new(
        unsafe { h5a::H5Aopen(obj, c.as_ptr(), H5P_DEFAULT) },
        Kind::Attribute,
        what,
    )?;
    // SAFETY: as above.
    let ftype = Hid::new(unsafe { h5a::H5Aget_type(attr.id()) }, Kind::Datatype, what)?;
    // SAFETY: as above.
    let space = Hid::new(
        unsafe { h5a::H5Aget_space(attr.id()) },
        Kind::Dataspace,
        what,
    )?;
    let shape = dataspace_shape(space.id(), what)?;
    let n = match &shape {
        None => 0,
        Some(s) => element_count(s, what)?,
    };
    let scalar = shape.as_ref().is_some_and(|s| s.is_empty());
    // SAFETY: getters on a valid type.
    let (class, size) = unsafe { (h5t::H5Tget_class(ftype.id()), h5t::H5Tget_size(ftype.id())) };
    match class {
        H5T_class_t::H5T_STRING => {
            let strings = read_strings(&attr, ftype.id(), &space, n, img, what)?;
            if scalar {
                let raw = strings.into_iter().next().unwrap_or_default();
                Ok(match String::from_utf8(raw) {
                    Ok(s) => AttrValue::String(s),
                    Err(e) => AttrValue::Bytes(e.into_bytes()),
                })
            } else {
                let v = strings
                    .into_iter()
                    .map(|s| {
                        String::from_utf8(s)
                            .map_err(|_| Error::corrupt(format!("{what}: string is not UTF-8")))
                    })
                    .collect::<Result<Vec<_>>>()?;
                Ok(AttrValue::Strings(v))
            }
        }
        H5T_class_t::H5T_INTEGER => {
            // Each element is stored in the file, so n is bounded by its size.
            let count = capped_bytes(n, size.max(1), limit, what)? / size.max(1);
            let mut v = vec![0i64; count];
            if n > 0 {
                // SAFETY: `v` holds n i64 values, the size of n NATIVE_INT64 elements.
                check(
                    unsafe {
                        h5a::H5Aread(
                            attr.id(),
                            *hdf5_metno::globals::H5T_NATIVE_INT64,
                            v.as_mut_ptr().cast(),
                        )
                    },
                    what,
                )?;
            }
            Ok(AttrValue::Int(v))
        }
        H5T_class_t::H5T_FLOAT => {
            // Each element is stored in the file, so n is bounded by its size.
            let count = capped_bytes(n, size.max(1), limit, what)? / size.max(1);
            let mut v = vec![0f64; count];
            if n > 0 {
                // SAFETY: `v` holds n f64 values, the size of n NATIVE_DOUBLE elements.
                check(
                    unsafe {
                        h5a::H5Aread(
                            attr.id(),
                            *hdf5_metno::globals::H5T_NATIVE_DOUBLE,
                            v.as_mut_ptr().cast(),
                        )
                    },
                    what,
                )?;
            }
            Ok(AttrValue::Float(v))
        }
        H5T_class_t::H5T_ENUM => {
            let raw = read_raw(&attr, ftype.id(), n, size, limit, what)?;
            // SAFETY: the base type of an enum is an integer type; closed by the guard.
            let base = Hid::new(
                unsafe { h5t::H5Tget_super(ftype.id()) },
                Kind::Datatype,
                what,
            )?;
            // SAFETY: getters on a valid integer type.
            let (be, signed) = unsafe {
                (
                    h5t::H5Tget_order(base.id()) == H5T_order_t::H5T_ORDER_BE,
                    h5t::H5Tget_sign(base.id()) == H5T_sign_t::H5T_SGN_2,
                )
            };
            if size == 0 || size > 8 {
                return Err(Error::unsupported(format!("{what}: enum of {size} bytes")));
            }
            Ok(AttrValue::Int(
                raw.chunks_exact(size)
                    .map(|c| decode_int(c, be, signed))
                    .collect(),
            ))
        }
        H5T_class_t::H5T_OPAQUE | H5T_class_t::H5T_COMPOUND | H5T_class_t::H5T_BITFIELD => {
            // Pointers (vlen, references) inside would be memory addresses, not file bytes.
            // SAFETY: detection queries on a valid type.
            let has_pointers = unsafe {
                h5t::H5Tdetect_class(ftype.id(), H5T_class_t::H5T_VLEN) != 0
                    || h5t::H5Tdetect_class(ftype.id(), H5T_class_t::H5T_REFERENCE) != 0
                    || h5t::H5Tis_variable_str(ftype.id()) != 0
                    || h5t::H5Tdetect_class(ftype.id(), H5T_class_t::H5T_STRING) != 0
            };
            if has_pointers {
                return Err(Error::unsupported(format!(
                    "{what}: {class:?} with strings or references"
                )));
            }
            Ok(AttrValue::Bytes(read_raw(
                &attr,
                ftype.id(),
                n,
                size,
                limit,
                what,
            )?))
        }
        other => Err(Error::unsupported(format!(
            "{what}: HDF5 type class {other:?}"
        ))),
    }
}

fn decode_int(c: &[u8], be: bool, signed: bool) -> i64 {
    let mut v: u64 = 0;
    if be {
        for &b in c {
            v = (v << 8) | u64::from(b);
        }
    } else {
        for &b in c.iter().rev() {
            v = (v << 8) | u64::from(b);
        }
    }
    let bits = c.len() * 8;
    if signed && bits < 64 && (v >> (bits - 1)) & 1 == 1 {
        (v | (!0u64 << bits)) as i64
    } else {
        v as i64
    }
}

/// The stored bytes of `n` elements of `size` bytes, read with the stored type (no conversion).
fn read_raw(
    attr: &Hid,
    ftype: hid_t,
    n: u64,
    size: usize,
    limit: u64,
    what: &str,
) -> Result<Vec<u8>> {
    let len = capped_bytes(n, size, limit, what)?;
    let mut buf = vec![0u8; len];
    if len > 0 {
        // SAFETY: `buf` holds n elements of the stored type's size.
        check(
            unsafe { h5a::H5Aread(attr.id(), ftype, buf.as_mut_ptr().cast()) },
            what,
        )?;
    }
    Ok(buf)
}

/// Reads `n` strings of an attribute or dataset (`reader` does the H5Aread/H5Dread). `limit`
/// bounds the bytes allocated; `img` is the HDF5 file (vlen descriptors are checked in it first).
pub(crate) fn read_string_elements(
    ftype: hid_t,
    space: hid_t,
    n: u64,
    limit: u64,
    img: &[u8],
    what: &str,
    reader: &dyn Fn(hid_t, *mut c_void) -> i32,
) -> Result<Vec<Vec<u8>>> {
    // SAFETY: getters on a valid string type.
    let (vlen, size, pad, cset) = unsafe {
        (
            h5t::H5Tis_variable_str(ftype),
            h5t::H5Tget_size(ftype),
            h5t::H5Tget_strpad(ftype),
            h5t::H5Tget_cset(ftype),
        )
    };
    if vlen < 0 {
        return Err(corrupt(what));
    }
    if vlen > 0 {
        // A vlen element occupies at least 16 bytes of the file (length + global heap id).
        capped_bytes(n, 16, limit, what)?;
        let count =
            usize::try_from(n).map_err(|_| Error::corrupt(format!("{what}: too many strings")))?;
        // libhdf5 would size its buffers by the stored lengths before checking them.
        super::vlen::check_descriptors(count, img, what, reader)?;
        let mem = string_type(None, cset == H5T_cset_t::H5T_CSET_UTF8)?;
        // SAFETY: our own string type; match the stored cset (libhdf5 does not convert csets).
        check(unsafe { h5t::H5Tset_cset(mem.id(), cset) }, what)?;
        let mut ptrs: Vec<*mut c_char> = vec![std::ptr::null_mut(); count];
        let ret = if count > 0 {
            reader(mem.id(), ptrs.as_mut_ptr().cast())
        } else {
            0
        };
        let out = if ret < 0 {
            Err(corrupt(what))
        } else {
            Ok(ptrs
                .iter()
                .map(|&p| {
                    if p.is_null() {
                        Vec::new()
                    } else {
                        // SAFETY: libhdf5 filled `p` with a NUL-terminated string it allocated.
                        unsafe { CStr::from_ptr(p) }.to_bytes().to_vec()
                    }
                })
                .collect())
        };
        if count > 0 {
            // SAFETY: frees what the read allocated; null entries (never filled) are skipped.
            unsafe { h5t::H5Treclaim(mem.id(), space, H5P_DEFAULT, ptrs.as_mut_ptr().cast()) };
            super::handle::clear_errors(); // a failed reclaim leaves nothing we can act on
        }
        out
    } else {
        if size == 0 {
            // libhdf5 has no zero-length fixed strings; 0 is its error value.
            return Err(corrupt(what));
        }
        let len = capped_bytes(n, size, limit, what)?;
        let mut buf = vec![0u8; len];
        if len > 0 && reader(ftype, buf.as_mut_ptr().cast()) < 0 {
            return Err(corrupt(what));
        }
        Ok(buf
            .chunks_exact(size)
            .map(|c| strip_fixed(c, pad))
            .collect())
    }
}

fn read_strings(
    attr: &Hid,
    ftype: hid_t,
    space: &Hid,
    n: u64,
    img: &[u8],
    what: &str,
) -> Result<Vec<Vec<u8>>> {
    let id = attr.id();
    read_string_elements(
        ftype,
        space.id(),
        n,
        img.len() as u64,
        img,
        what,
        &|mem, buf| {
            // SAFETY: `buf` has room for n elements of `mem` (sized by read_string_elements).
            unsafe { h5a::H5Aread(id, mem, buf) }
        },
    )
}

/// A fixed-length string element as numpy shows it: NULLTERM up to the first NUL, NULLPAD
/// without trailing NULs, SPACEPAD without trailing spaces.
fn strip_fixed(c: &[u8], pad: H5T_str_t) -> Vec<u8> {
    match pad {
        H5T_str_t::H5T_STR_NULLTERM => c.split(|&b| b == 0).next().unwrap_or(&[]).to_vec(),
        H5T_str_t::H5T_STR_SPACEPAD => {
            let end = c.iter().rposition(|&b| b != b' ').map_or(0, |i| i + 1);
            c[..end].to_vec()
        }
        _ => {
            let end = c.iter().rposition(|&b| b != 0).map_or(0, |i| i + 1);
            c[..end].to_vec()
        }
    }
}

/// Writes (replacing) attribute `name` on `obj` as h5py would store `value`:
/// String -> scalar vlen string; Strings -> 1-D vlen strings (UTF-8, or ASCII when `ascii`,
/// as h5py stores `bytes`); Int -> 1-D int64; Float -> 1-D float64 (empty: shape (0,), like
/// `np.asarray([])`); Bytes -> scalar opaque of that many bytes (empty: null dataspace).
pub(crate) fn write_attr(
    obj: hid_t,
    name: &str,
    value: &AttrValue,
    ascii: bool,
    what: &str,
) -> Result<()> {
    match value {
        AttrValue::String(s) => write_vlen_strings(obj, name, &[s.as_str()], None, ascii, what),
        AttrValue::Strings(v) => {
            let refs: Vec<&str> = v.iter().map(String::as_str).collect();
            write_vlen_strings(obj, name, &refs, Some(v.len()), ascii, what)
        }
        AttrValue::Int(v) => write_numeric(
            obj,
            name,
            *hdf5_metno::globals::H5T_STD_I64LE,
            *hdf5_metno::globals::H5T_NATIVE_INT64,
            v.len(),
            v.as_ptr().cast(),
            what,
        ),
        AttrValue::Float(v) => write_numeric(
            obj,
            name,
            *hdf5_metno::globals::H5T_IEEE_F64LE,
            *hdf5_metno::globals::H5T_NATIVE_DOUBLE,
            v.len(),
            v.as_ptr().cast(),
            what,
        ),
        AttrValue::Bytes(b) => {
            let t = super::types::opaque(b.len().max(1))?;
            let space = if b.is_empty() {
                null_space()?
            } else {
                simple_space(None)?
            };
            let attr = create_attr(obj, name, t.id(), space.id(), what)?;
            if !b.is_empty() {
                // SAFETY: one opaque element of b.len() bytes from `b`.
                check(
                    unsafe { h5a::H5Awrite(attr.id(), t.id(), b.as_ptr().cast()) },
                    what,
                )
                .map_err(write_error)?;
            }
            Ok(())
        }
    }
}

/// Fixed-length NULLPAD ASCII strings of `width` bytes (numpy `S<width>`), as one 1-D attribute.
pub(crate) fn write_fixed_strings(
    obj: hid_t,
    name: &str,
    items: &[&str],
    width: usize,
    what: &str,
) -> Result<()> {
    let t = string_type(Some(width), false)?;
    let space = simple_space(Some(items.len()))?;
    let total = items
        .len()
        .checked_mul(width)
        .ok_or_else(|| Error::InvalidArgument(format!("{what}: string list too large")))?;
    let mut buf = vec![0u8; total];
    for (slot, s) in buf.chunks_exact_mut(width.max(1)).zip(items) {
        let b = s.as_bytes();
        let dst = slot.get_mut(..b.len()).ok_or_else(|| {
            Error::InvalidArgument(format!("{what}: {s:?} longer than {width} bytes"))
        })?;
        dst.copy_from_slice(b);
    }
    let attr = create_attr(obj, name, t.id(), space.id(), what)?;
    if !buf.is_empty() {
        // SAFETY: `buf` holds items.len() elements of `width` bytes.
        check(
            unsafe { h5a::H5Awrite(attr.id(), t.id(), buf.as_ptr().cast()) },
            what,
        )
        .map_err(write_error)?;
    }
    Ok(())
}

/// Deletes attribute `name` of `obj` if present.
pub(crate) fn delete_attr(obj: hid_t, name: &str, what: &str) -> Result<()> {
    if attr_exists(obj, name, what)? {
        let c = cstring(name)?;
        // SAFETY: valid object id, existing attribute.
        check(unsafe { h5a::H5Adelete(obj, c.as_ptr()) }, what).map_err(write_error)?;
    }
    Ok(())
}

/// Writing failures are not corrupt input: report them as I/O-ish invalid operations.
pub(crate) fn write_error(e: Error) -> Error {
    match e {
        Error::Corrupt { at, detail } => {
            Error::InvalidArgument(format!("{at}HDF5 write failed: {detail}"))
        }
        other => other,
    }
}

fn simple_space(n: Option<usize>) -> Result<Hid> {
    // SAFETY: creating a scalar or 1-D dataspace from a local dims array.
    unsafe {
        match n {
            None => Hid::new(
                h5s::H5Screate(H5S_class_t::H5S_SCALAR),
                Kind::Dataspace,
                "H5Screate",
            ),
            Some(n) => {
                let dims = [n as hsize_t];
                Hid::new(
                    h5s::H5Screate_simple(1, dims.as_ptr(), std::ptr::null()),
                    Kind::Dataspace,
                    "H5Screate_simple",
                )
            }
        }
    }
}

fn null_space() -> Result<Hid> {
    // SAFETY: creating a null dataspace.
    Hid::new(
        unsafe { h5s::H5Screate(H5S_class_t::H5S_NULL) },
        Kind::Dataspace,
        "H5Screate",
    )
}

fn create_attr(obj: hid_t, name: &str, t: hid_t, space: hid_t, what: &str) -> Result<Hid> {
    delete_attr(obj, name, what)?;
    let c = cstring(name)?;
    // SAFETY: valid ids; NUL-terminated name.
    Hid::new(
        unsafe { h5a::H5Acreate2(obj, c.as_ptr(), t, space, H5P_DEFAULT, H5P_DEFAULT) },
        Kind::Attribute,
        &format!("{what}: cannot create attribute {name:?}"),
    )
    .map_err(write_error)
}

fn write_vlen_strings(
    obj: hid_t,
    name: &str,
    items: &[&str],
    n: Option<usize>,
    ascii: bool,
    what: &str,
) -> Result<()> {
    let cs: Vec<_> = items.iter().map(|s| cstring(s)).collect::<Result<_>>()?;
    let ptrs: Vec<*const c_char> = cs.iter().map(|c| c.as_ptr()).collect();
    let t = string_type(None, !ascii)?;
    let space = simple_space(n)?;
    let attr = create_attr(obj, name, t.id(), space.id(), what)?;
    if !ptrs.is_empty() {
        // SAFETY: `ptrs` holds one valid C string pointer per element; `cs` keeps them alive.
        check(
            unsafe { h5a::H5Awrite(attr.id(), t.id(), ptrs.as_ptr().cast()) },
            what,
        )
        .map_err(write_error)?;
    }
    Ok(())
}

fn write_numeric(
    obj: hid_t,
    name: &str,
    file_t: hid_t,
    mem_t: hid_t,
    n: usize,
    data: *const c_void,
    what: &str,
) -> Result<()> {
    // SAFETY: copying a predefined type so the guard may close it.
    let t = Hid::new(unsafe { h5t::H5Tcopy(file_t) }, Kind::Datatype, "H5Tcopy")?;
    let space = simple_space(Some(n))?;
    let attr = create_attr(obj, name, t.id(), space.id(), what)?;
    if n > 0 {
        // SAFETY: `data` points at n elements of the native memory type.
        check(unsafe { h5a::H5Awrite(attr.id(), mem_t, data) }, what).map_err(write_error)?;
    }
    Ok(())
}

/// Keras's `save_attributes_to_hdf5_group` split: the smallest `k` such that every piece of
/// `np.array_split(np.asarray(items), k)` (fixed-length `S<maxlen>`) has at most
/// [`HDF5_OBJECT_HEADER_LIMIT`] bytes. Returns `(k, maxlen)`. An item longer than the limit is an
/// error, as in Keras.
pub fn chunk_plan(items: &[String]) -> Result<(usize, usize)> {
    if let Some(big) = items.iter().find(|s| s.len() > HDF5_OBJECT_HEADER_LIMIT) {
        return Err(Error::InvalidArgument(format!(
            "string attribute item of {} bytes exceeds the HDF5 object header limit of {} bytes: {:?}...",
            big.len(),
            HDF5_OBJECT_HEADER_LIMIT,
            big.chars().take(40).collect::<String>()
        )));
    }
    // numpy's `S` itemsize is at least 1, even for empty strings.
    let maxlen = items.iter().map(String::len).max().unwrap_or(0).max(1);
    let n = items.len();
    let mut k = 1usize;
    // The largest piece of array_split(n, k) has ceil(n / k) items.
    while n.div_ceil(k).saturating_mul(maxlen) > HDF5_OBJECT_HEADER_LIMIT {
        k += 1;
    }
    Ok((k, maxlen))
}

/// `np.array_split` piece sizes: the first `n % k` pieces get one extra item.
pub fn array_split_sizes(n: usize, k: usize) -> Vec<usize> {
    let k = k.max(1);
    (0..k).map(|i| n / k + usize::from(i < n % k)).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn names(n: usize, len: usize) -> Vec<String> {
        (0..n).map(|i| format!("{i:0len$}")).collect()
    }

    #[test]
    fn chunking_matches_keras() {
        // 330 names of 205 bytes = 67650 bytes: two chunks of 165 (k3_chunked.h5).
        assert_eq!(chunk_plan(&names(330, 205)).unwrap(), (2, 205));
        assert_eq!(array_split_sizes(330, 2), vec![165, 165]);
        assert_eq!(chunk_plan(&names(3, 5)).unwrap(), (1, 5));
        assert_eq!(chunk_plan(&[]).unwrap(), (1, 1));
        // Exactly at the limit stays whole.
        assert_eq!(chunk_plan(&names(63, 1024)).unwrap(), (1, 1024));
        assert_eq!(chunk_plan(&names(64, 1024)).unwrap().0, 2);
        assert_eq!(array_split_sizes(7, 3), vec![3, 2, 2]);
        assert!(chunk_plan(&["x".repeat(HDF5_OBJECT_HEADER_LIMIT + 1)]).is_err());
        assert_eq!(
            chunk_plan(&["x".repeat(HDF5_OBJECT_HEADER_LIMIT)]).unwrap(),
            (1, 64512)
        );
    }

    #[test]
    fn ints_decode() {
        assert_eq!(decode_int(&[0xff], false, true), -1);
        assert_eq!(decode_int(&[0xff], false, false), 255);
        assert_eq!(decode_int(&[0x01, 0x00], true, true), 256);
        assert_eq!(
            decode_int(
                &[0xfe, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff],
                false,
                true
            ),
            -2
        );
    }
}
