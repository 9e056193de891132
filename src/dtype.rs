//! Element types: TF `DataType` codes <-> kerasave [`DType`] <-> numpy dtype names.
//!
//! TF stores sub-byte types (int4, uint4, int2, uint2, float4_e2m1fn) *unpacked*, one element per
//! byte, which is also how `ml_dtypes` lays them out, so every fixed-size type maps onto one numpy
//! dtype without repacking.

use crate::error::{Error, Result};

macro_rules! dtypes {
    ($( $variant:ident = $code:literal, $name:literal, $size:expr, $numpy:expr; )+) => {
        /// A tensor element type. Codes are TF's `DataType` enum (types.proto).
        #[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
        #[non_exhaustive]
        pub enum DType { $( $variant ),+ }

        impl DType {
            /// Every dtype, in TF code order.
            pub const ALL: &'static [DType] = &[ $( DType::$variant ),+ ];

            /// From a TF `DataType` code; `None` for 0 (DT_INVALID), `*_REF` and unknown codes.
            pub fn from_tf(code: i32) -> Option<DType> {
                match code { $( $code => Some(DType::$variant), )+ _ => None }
            }

            /// The TF `DataType` code.
            pub fn tf_code(self) -> i32 {
                match self { $( DType::$variant => $code ),+ }
            }

            /// Short lowercase name, as numpy/ml_dtypes spell it ("float32", "bfloat16", "string").
            pub fn name(self) -> &'static str {
                match self { $( DType::$variant => $name ),+ }
            }

            /// Bytes per element for fixed-size types; `None` for string, variant and resource.
            pub fn item_size(self) -> Option<usize> {
                match self { $( DType::$variant => $size ),+ }
            }

            /// The numpy dtype string (`"<f4"`, or an ml_dtypes name such as `"bfloat16"`);
            /// `None` where numpy has no fixed-size equivalent (strings become object arrays).
            pub fn numpy_name(self) -> Option<&'static str> {
                match self { $( DType::$variant => $numpy ),+ }
            }
        }
    };
}

dtypes! {
    Float32 = 1, "float32", Some(4), Some("<f4");
    Float64 = 2, "float64", Some(8), Some("<f8");
    Int32 = 3, "int32", Some(4), Some("<i4");
    UInt8 = 4, "uint8", Some(1), Some("|u1");
    Int16 = 5, "int16", Some(2), Some("<i2");
    Int8 = 6, "int8", Some(1), Some("|i1");
    String = 7, "string", None, None;
    Complex64 = 8, "complex64", Some(8), Some("<c8");
    Int64 = 9, "int64", Some(8), Some("<i8");
    Bool = 10, "bool", Some(1), Some("|b1");
    QInt8 = 11, "qint8", Some(1), Some("|i1");
    QUInt8 = 12, "quint8", Some(1), Some("|u1");
    QInt32 = 13, "qint32", Some(4), Some("<i4");
    BFloat16 = 14, "bfloat16", Some(2), Some("bfloat16");
    QInt16 = 15, "qint16", Some(2), Some("<i2");
    QUInt16 = 16, "quint16", Some(2), Some("<u2");
    UInt16 = 17, "uint16", Some(2), Some("<u2");
    Complex128 = 18, "complex128", Some(16), Some("<c16");
    Float16 = 19, "float16", Some(2), Some("<f2");
    Resource = 20, "resource", None, None;
    Variant = 21, "variant", None, None;
    UInt32 = 22, "uint32", Some(4), Some("<u4");
    UInt64 = 23, "uint64", Some(8), Some("<u8");
    Float8E5M2 = 24, "float8_e5m2", Some(1), Some("float8_e5m2");
    Float8E4M3FN = 25, "float8_e4m3fn", Some(1), Some("float8_e4m3fn");
    Float8E4M3FNUZ = 26, "float8_e4m3fnuz", Some(1), Some("float8_e4m3fnuz");
    Float8E4M3B11FNUZ = 27, "float8_e4m3b11fnuz", Some(1), Some("float8_e4m3b11fnuz");
    Float8E5M2FNUZ = 28, "float8_e5m2fnuz", Some(1), Some("float8_e5m2fnuz");
    Int4 = 29, "int4", Some(1), Some("int4");
    UInt4 = 30, "uint4", Some(1), Some("uint4");
    Int2 = 31, "int2", Some(1), Some("int2");
    UInt2 = 32, "uint2", Some(1), Some("uint2");
    Float4E2M1FN = 33, "float4_e2m1fn", Some(1), Some("float4_e2m1fn");
}

impl DType {
    /// Like [`DType::from_tf`] but an error naming the code.
    pub fn try_from_tf(code: i32) -> Result<DType> {
        DType::from_tf(code).ok_or_else(|| {
            if (101..=133).contains(&code) {
                Error::corrupt(format!(
                    "reference dtype {code} cannot be stored in a checkpoint"
                ))
            } else {
                Error::unsupported(format!("unknown TF dtype code {code}"))
            }
        })
    }

    /// From a name as [`DType::name`] gives it, or a numpy dtype string ("<f4", "float32", "f4").
    pub fn from_name(name: &str) -> Option<DType> {
        if let Some(d) = DType::ALL.iter().copied().find(|d| d.name() == name) {
            return Some(d);
        }
        let canonical = match name.trim_start_matches(['<', '=', '|']) {
            "f4" => "float32",
            "f8" => "float64",
            "f2" | "half" => "float16",
            "i1" => "int8",
            "i2" => "int16",
            "i4" => "int32",
            "i8" => "int64",
            "u1" => "uint8",
            "u2" => "uint16",
            "u4" => "uint32",
            "u8" => "uint64",
            "b1" | "?" => "bool",
            "c8" => "complex64",
            "c16" => "complex128",
            _ => return None,
        };
        DType::from_name(canonical)
    }

    /// Unit for byte swapping: the element size, or half of it for complex numbers.
    /// `None` where TF itself cannot byte-swap (strings, variants, 8-bit and sub-byte floats/ints
    /// are 1-byte so they need no swap and return `Some(1)`).
    pub fn swap_unit(self) -> Option<usize> {
        match self {
            DType::Complex64 => Some(4),
            DType::Complex128 => Some(8),
            other => other.item_size(),
        }
    }

    /// Whether the payload is the raw element bytes (TF's "memcpy-able" types).
    pub fn is_fixed_size(self) -> bool {
        self.item_size().is_some()
    }
}

impl std::fmt::Display for DType {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_round_trip() {
        for &d in DType::ALL {
            assert_eq!(DType::from_tf(d.tf_code()), Some(d));
            assert_eq!(DType::from_name(d.name()), Some(d));
        }
        assert_eq!(DType::from_tf(0), None);
        assert_eq!(DType::from_tf(101), None);
        assert_eq!(DType::from_name("<f4"), Some(DType::Float32));
    }
}
