//! HDF5 datatypes <-> [`DType`].
//!
//! The *canonical* HDF5 type of a dtype is what h5py writes for the numpy dtype (and therefore
//! what Keras files hold), and also the memory type we read into, so a stored type equal to it
//! means the file bytes are already the tensor bytes (zero-copy):
//!
//! ```text
//! float16/32/64        IEEE little-endian (float16: h5py's F32LE copy with fields 15,10,5,0,10, ebias 15)
//! (u)int8..64          STD_[IU]{8..64}LE
//! bool                 ENUM over int8 { FALSE = 0, TRUE = 1 }             (numpy bool via h5py)
//! complex64/128        COMPOUND { r: F32LE @0, i: F32LE @4 } / { r: F64LE @0, i: F64LE @8 }
//! bfloat16, float8_*,  OPAQUE of the item size, empty tag, plus a dataset attribute
//!  int4, uint4, ...      dtype = "<name>" (Keras writes exactly this for bfloat16)
//! ```
//!
//! Readers also accept big-endian and odd-precision integers/floats, big-endian complex
//! compounds and enums whose base is a wider integer: those are converted by libhdf5 into the
//! canonical type on a copying read. HDF5 2.0's native complex class is accepted when it is
//! little-endian IEEE. Anything else (references, vlen sequences, arrays, bitfields, time,
//! other enums) is Unsupported.

use std::ffi::c_void;

use hdf5_metno_sys::h5i::hid_t;
use hdf5_metno_sys::h5t::{
    self, H5T_class_t, H5T_cset_t, H5T_norm_t, H5T_order_t, H5T_pad_t, H5T_sign_t, H5T_str_t,
};

use super::handle::{check, take_h5_string, Hid, Kind};
use crate::dtype::DType;
use crate::error::{Error, Result};

/// How the elements of a stored type become tensor elements.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Class {
    /// A numeric type; `direct` when the stored bytes are already canonical (no conversion).
    Fixed { dtype: DType, direct: bool },
    /// Bytes taken as they are (opaque ml_dtypes types, native complex): always direct; a copy
    /// reads with the stored type itself as the memory type.
    Raw { dtype: DType },
    /// Variable-length strings (`cset` must be matched by the memory type).
    VlenStr { cset: H5T_cset_t },
    /// Fixed-length strings of `size` bytes.
    FixedStr { size: usize, pad: H5T_str_t },
}

impl Class {
    pub(crate) fn dtype(self) -> DType {
        match self {
            Class::Fixed { dtype, .. } | Class::Raw { dtype } => dtype,
            Class::VlenStr { .. } | Class::FixedStr { .. } => DType::String,
        }
    }
}

/// Dtypes numpy cannot name without ml_dtypes, stored as OPAQUE + `dtype` attribute.
pub(crate) fn is_opaque_dtype(d: DType) -> bool {
    matches!(
        d,
        DType::BFloat16
            | DType::Float8E5M2
            | DType::Float8E4M3FN
            | DType::Float8E4M3FNUZ
            | DType::Float8E4M3B11FNUZ
            | DType::Float8E5M2FNUZ
            | DType::Int4
            | DType::UInt4
            | DType::Int2
            | DType::UInt2
            | DType::Float4E2M1FN
    )
}

fn copy_of(predefined: hid_t) -> Result<Hid> {
    // SAFETY: copying a predefined (initialised, via hdf5_metno::globals) type.
    Hid::new(
        unsafe { h5t::H5Tcopy(predefined) },
        Kind::Datatype,
        "cannot copy a datatype",
    )
}

fn float16_le() -> Result<Hid> {
    let t = copy_of(*hdf5_metno::globals::H5T_IEEE_F32LE)?;
    // SAFETY: t is our own modifiable copy; the sequence is h5py's (fields fit in 32 bits,
    // shrinking the size then brings the precision to 16).
    unsafe {
        check(
            h5t::H5Tset_fields(t.id(), 15, 10, 5, 0, 10),
            "H5Tset_fields",
        )?;
        check(h5t::H5Tset_size(t.id(), 2), "H5Tset_size")?;
        check(h5t::H5Tset_ebias(t.id(), 15), "H5Tset_ebias")?;
    }
    Ok(t)
}

fn complex(size: usize) -> Result<Hid> {
    let half = size / 2;
    let part = if half == 4 {
        *hdf5_metno::globals::H5T_IEEE_F32LE
    } else {
        *hdf5_metno::globals::H5T_IEEE_F64LE
    };
    // SAFETY: creating and filling our own compound type; names are NUL-terminated literals.
    unsafe {
        let t = Hid::new(
            h5t::H5Tcreate(H5T_class_t::H5T_COMPOUND, size),
            Kind::Datatype,
            "cannot create a compound type",
        )?;
        check(h5t::H5Tinsert(t.id(), c"r".as_ptr(), 0, part), "H5Tinsert")?;
        check(
            h5t::H5Tinsert(t.id(), c"i".as_ptr(), half, part),
            "H5Tinsert",
        )?;
        Ok(t)
    }
}

fn bool_enum() -> Result<Hid> {
    // SAFETY: our own enum type over int8; values are 1-byte locals read during the call.
    unsafe {
        let t = Hid::new(
            h5t::H5Tenum_create(*hdf5_metno::globals::H5T_STD_I8LE),
            Kind::Datatype,
            "cannot create an enum type",
        )?;
        let (f, tr) = (0i8, 1i8);
        check(
            h5t::H5Tenum_insert(
                t.id(),
                c"FALSE".as_ptr(),
                (&f as *const i8).cast::<c_void>(),
            ),
            "H5Tenum_insert",
        )?;
        check(
            h5t::H5Tenum_insert(
                t.id(),
                c"TRUE".as_ptr(),
                (&tr as *const i8).cast::<c_void>(),
            ),
            "H5Tenum_insert",
        )?;
        Ok(t)
    }
}

pub(crate) fn opaque(size: usize) -> Result<Hid> {
    // SAFETY: creating our own opaque type of a positive size.
    Hid::new(
        unsafe { h5t::H5Tcreate(H5T_class_t::H5T_OPAQUE, size) },
        Kind::Datatype,
        "cannot create an opaque type",
    )
}

/// The canonical HDF5 type of `dtype` (see the module docs); InvalidArgument for dtypes HDF5
/// files do not hold (strings go through [`string_type`], quantized and resource types not at all).
pub(crate) fn canonical(dtype: DType) -> Result<Hid> {
    use hdf5_metno::globals as g;
    let predefined = match dtype {
        DType::Float32 => *g::H5T_IEEE_F32LE,
        DType::Float64 => *g::H5T_IEEE_F64LE,
        DType::Int8 => *g::H5T_STD_I8LE,
        DType::Int16 => *g::H5T_STD_I16LE,
        DType::Int32 => *g::H5T_STD_I32LE,
        DType::Int64 => *g::H5T_STD_I64LE,
        DType::UInt8 => *g::H5T_STD_U8LE,
        DType::UInt16 => *g::H5T_STD_U16LE,
        DType::UInt32 => *g::H5T_STD_U32LE,
        DType::UInt64 => *g::H5T_STD_U64LE,
        DType::Float16 => return float16_le(),
        DType::Bool => return bool_enum(),
        DType::Complex64 => return complex(8),
        DType::Complex128 => return complex(16),
        d if is_opaque_dtype(d) => return opaque(d.item_size().unwrap_or(1)),
        d => {
            return Err(Error::InvalidArgument(format!(
                "dtype {d} cannot be stored in an HDF5 dataset"
            )))
        }
    };
    copy_of(predefined)
}

/// A string type: variable-length or `fixed` bytes (NULLPAD, like numpy `S`), ASCII or UTF-8.
pub(crate) fn string_type(fixed: Option<usize>, utf8: bool) -> Result<Hid> {
    let t = copy_of(*hdf5_metno::globals::H5T_C_S1)?;
    let (size, pad) = match fixed {
        Some(n) => (n.max(1), H5T_str_t::H5T_STR_NULLPAD),
        None => (h5t::H5T_VARIABLE, H5T_str_t::H5T_STR_NULLTERM),
    };
    let cset = if utf8 {
        H5T_cset_t::H5T_CSET_UTF8
    } else {
        H5T_cset_t::H5T_CSET_ASCII
    };
    // SAFETY: t is our own modifiable copy of C_S1.
    unsafe {
        check(h5t::H5Tset_size(t.id(), size), "H5Tset_size")?;
        check(h5t::H5Tset_strpad(t.id(), pad), "H5Tset_strpad")?;
        check(h5t::H5Tset_cset(t.id(), cset), "H5Tset_cset")?;
    }
    Ok(t)
}

/// Properties of an integer or float type, for layout comparisons without H5Tequal (which also
/// compares things that do not change the bytes, e.g. how a type was created).
#[derive(Debug, PartialEq, Eq)]
struct Atomic {
    size: usize,
    order: H5T_order_t,
    precision: usize,
    offset: i32,
}

fn atomic(t: hid_t) -> Atomic {
    // SAFETY: property getters on a valid type id; failures give sentinel values that fail
    // every comparison below.
    unsafe {
        Atomic {
            size: h5t::H5Tget_size(t),
            order: h5t::H5Tget_order(t),
            precision: h5t::H5Tget_precision(t),
            offset: h5t::H5Tget_offset(t),
        }
    }
}

/// Which IEEE-style float layout `t` has, by its bit fields: f16, f32, f64 or bfloat16.
fn float_dtype(t: hid_t) -> Option<DType> {
    let a = atomic(t);
    let (mut spos, mut epos, mut esize, mut mpos, mut msize) = (0, 0, 0, 0, 0);
    // SAFETY: out-pointers to locals; t is a valid float type.
    let ok =
        unsafe { h5t::H5Tget_fields(t, &mut spos, &mut epos, &mut esize, &mut mpos, &mut msize) };
    // SAFETY: getters on a valid type.
    let (ebias, norm) = unsafe { (h5t::H5Tget_ebias(t), h5t::H5Tget_norm(t)) };
    if ok < 0 || a.offset != 0 || a.precision != a.size * 8 || norm != H5T_norm_t::H5T_NORM_IMPLIED
    {
        return None;
    }
    match (a.size, spos, epos, esize, mpos, msize, ebias) {
        (2, 15, 10, 5, 0, 10, 15) => Some(DType::Float16),
        (2, 15, 7, 8, 0, 7, 127) => Some(DType::BFloat16),
        (4, 31, 23, 8, 0, 23, 127) => Some(DType::Float32),
        (8, 63, 52, 11, 0, 52, 1023) => Some(DType::Float64),
        _ => None,
    }
}

fn pads_zero(t: hid_t) -> bool {
    let (mut lsb, mut msb) = (H5T_pad_t::H5T_PAD_ERROR, H5T_pad_t::H5T_PAD_ERROR);
    // SAFETY: out-pointers to locals.
    let ok = unsafe { h5t::H5Tget_pad(t, &mut lsb, &mut msb) };
    ok >= 0 && lsb == H5T_pad_t::H5T_PAD_ZERO && msb == H5T_pad_t::H5T_PAD_ZERO
}

fn int_dtype(size: usize, signed: bool) -> Option<DType> {
    Some(match (size, signed) {
        (1, true) => DType::Int8,
        (2, true) => DType::Int16,
        (4, true) => DType::Int32,
        (8, true) => DType::Int64,
        (1, false) => DType::UInt8,
        (2, false) => DType::UInt16,
        (4, false) => DType::UInt32,
        (8, false) => DType::UInt64,
        _ => return None,
    })
}

fn class_of(t: hid_t) -> H5T_class_t {
    // SAFETY: getter on a valid type id.
    unsafe { h5t::H5Tget_class(t) }
}

/// Classifies a numeric member/base type: (dtype, bytes already canonical).
fn numeric(t: hid_t) -> Option<(DType, bool)> {
    let a = atomic(t);
    let le = a.order == H5T_order_t::H5T_ORDER_LE;
    let be = a.order == H5T_order_t::H5T_ORDER_BE;
    match class_of(t) {
        H5T_class_t::H5T_INTEGER => {
            // SAFETY: getter on a valid integer type.
            let signed = unsafe { h5t::H5Tget_sign(t) } == H5T_sign_t::H5T_SGN_2;
            let d = int_dtype(a.size, signed)?;
            let exact = a.precision == a.size * 8 && a.offset == 0 && pads_zero(t);
            (le || be || a.size == 1).then_some((d, exact && (le || a.size == 1)))
        }
        H5T_class_t::H5T_FLOAT => {
            let d = float_dtype(t)?;
            (le || be).then_some((d, le && pads_zero(t)))
        }
        _ => None,
    }
}

fn member_name(t: hid_t, i: u32) -> Option<Vec<u8>> {
    // SAFETY: i < nmembers (checked by callers); the returned string is ours to free.
    unsafe { take_h5_string(h5t::H5Tget_member_name(t, i)) }
}

/// A compound `{r, i}` of two equal IEEE floats at offsets 0 and size/2: numpy complex via h5py.
fn complex_compound(t: hid_t) -> Option<Class> {
    // SAFETY: getters on a valid compound type; member indices are < nmembers.
    unsafe {
        if h5t::H5Tget_nmembers(t) != 2 {
            return None;
        }
        if member_name(t, 0)?.as_slice() != b"r" || member_name(t, 1)?.as_slice() != b"i" {
            return None;
        }
        let size = h5t::H5Tget_size(t);
        let half = size / 2;
        if h5t::H5Tget_member_offset(t, 0) != 0 || h5t::H5Tget_member_offset(t, 1) != half {
            return None;
        }
        let r = Hid::new(h5t::H5Tget_member_type(t, 0), Kind::Datatype, "member").ok()?;
        let i = Hid::new(h5t::H5Tget_member_type(t, 1), Kind::Datatype, "member").ok()?;
        let (rd, rdirect) = numeric(r.id())?;
        let (id, idirect) = numeric(i.id())?;
        let dtype = match (rd, id, size) {
            (DType::Float32, DType::Float32, 8) => DType::Complex64,
            (DType::Float64, DType::Float64, 16) => DType::Complex128,
            _ => return None,
        };
        Some(Class::Fixed {
            dtype,
            direct: rdirect && idirect,
        })
    }
}

/// numpy bool through h5py: an enum of exactly FALSE = 0 and TRUE = 1 over an integer.
fn bool_enum_class(t: hid_t) -> Option<Class> {
    // SAFETY: getters on a valid enum type; member values are read into an 8-byte buffer, and
    // the base integer is at most 8 bytes (checked first).
    unsafe {
        if h5t::H5Tget_nmembers(t) != 2 {
            return None;
        }
        let base = Hid::new(h5t::H5Tget_super(t), Kind::Datatype, "enum base").ok()?;
        let (bd, bdirect) = numeric(base.id())?;
        let size = bd.item_size()?;
        if !matches!(
            bd,
            DType::Int8
                | DType::UInt8
                | DType::Int16
                | DType::UInt16
                | DType::Int32
                | DType::UInt32
                | DType::Int64
                | DType::UInt64
        ) {
            return None;
        }
        let mut seen = [false; 2];
        for i in 0..2u32 {
            let name = member_name(t, i)?;
            let mut v = [0u8; 8];
            if h5t::H5Tget_member_value(t, i, v.as_mut_ptr().cast()) < 0 {
                return None;
            }
            let is_be = h5t::H5Tget_order(base.id()) == H5T_order_t::H5T_ORDER_BE;
            let bytes = v.get(..size)?;
            let value: u64 = if is_be {
                bytes.iter().fold(0, |acc, &b| (acc << 8) | u64::from(b))
            } else {
                bytes
                    .iter()
                    .rev()
                    .fold(0, |acc, &b| (acc << 8) | u64::from(b))
            };
            match (name.as_slice(), value) {
                (b"FALSE", 0) => seen[0] = true,
                (b"TRUE", 1) => seen[1] = true,
                _ => return None,
            }
        }
        (seen == [true, true]).then_some(Class::Fixed {
            dtype: DType::Bool,
            direct: size == 1 && bdirect,
        })
    }
}

/// Classifies a stored dataset type. `dtype_attr` is the dataset's `dtype` attribute if it is a
/// string (it names the type of an OPAQUE dataset). `what` names the dataset in errors.
pub(crate) fn classify(t: hid_t, dtype_attr: Option<&str>, what: &str) -> Result<Class> {
    let unsupported = |detail: String| Error::unsupported(format!("{what}: {detail}"));
    match class_of(t) {
        H5T_class_t::H5T_INTEGER | H5T_class_t::H5T_FLOAT => match numeric(t) {
            Some((dtype, direct)) => Ok(Class::Fixed { dtype, direct }),
            None => Err(unsupported(format!("numeric HDF5 type {:?}", atomic(t)))),
        },
        H5T_class_t::H5T_ENUM => {
            bool_enum_class(t).ok_or_else(|| unsupported("enum type other than numpy bool".into()))
        }
        H5T_class_t::H5T_COMPOUND => complex_compound(t)
            .ok_or_else(|| unsupported("compound type other than numpy complex".into())),
        H5T_class_t::H5T_OPAQUE => {
            // SAFETY: getter on a valid type.
            let size = unsafe { h5t::H5Tget_size(t) };
            let named = dtype_attr.and_then(DType::from_name);
            match named {
                Some(d) if is_opaque_dtype(d) && d.item_size() == Some(size) => {
                    Ok(Class::Raw { dtype: d })
                }
                _ => Err(unsupported(format!(
                    "opaque type of {size} bytes with dtype attribute {dtype_attr:?}"
                ))),
            }
        }
        H5T_class_t::H5T_STRING => {
            // SAFETY: getters on a valid string type.
            unsafe {
                let cset = h5t::H5Tget_cset(t);
                match h5t::H5Tis_variable_str(t) {
                    v if v > 0 => Ok(Class::VlenStr { cset }),
                    0 => Ok(Class::FixedStr {
                        size: h5t::H5Tget_size(t),
                        pad: h5t::H5Tget_strpad(t),
                    }),
                    _ => Err(super::handle::corrupt(what)),
                }
            }
        }
        H5T_class_t::H5T_COMPLEX => {
            // SAFETY: the base type of a complex type is a float; closed by the guard.
            let base = Hid::new(unsafe { h5t::H5Tget_super(t) }, Kind::Datatype, what)?;
            match (numeric(base.id()), atomic(t).size) {
                (Some((DType::Float32, true)), 8) => Ok(Class::Raw {
                    dtype: DType::Complex64,
                }),
                (Some((DType::Float64, true)), 16) => Ok(Class::Raw {
                    dtype: DType::Complex128,
                }),
                _ => Err(unsupported(
                    "complex type that is not little-endian IEEE".into(),
                )),
            }
        }
        other => Err(unsupported(format!("HDF5 type class {other:?}"))),
    }
}

/// The memory type to read a `Fixed`/`Raw` class into (canonical, or the stored type itself).
pub(crate) fn memory_type(class: Class, stored: hid_t) -> Result<Hid> {
    match class {
        Class::Fixed { dtype, .. } => canonical(dtype),
        Class::Raw { .. } => copy_of(stored),
        Class::VlenStr { cset } => {
            let t = string_type(None, cset == H5T_cset_t::H5T_CSET_UTF8)?;
            // SAFETY: our own copy; keep the stored cset (libhdf5 refuses cset conversion).
            check(unsafe { h5t::H5Tset_cset(t.id(), cset) }, "H5Tset_cset")?;
            Ok(t)
        }
        Class::FixedStr { .. } => copy_of(stored),
    }
}
