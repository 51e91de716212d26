//! `remote_typed_param`: a named value whose type is an XDR union tag (1-7, the C
//! `virTypedParameterType` values, no default arm).

use crate::xdr::{Reader, XdrDecode, XdrEncode, XdrError};
use crate::Xdr;

/// `VIR_TYPED_PARAM_INT`.
pub const TYPED_PARAM_INT: i32 = 1;
/// `VIR_TYPED_PARAM_UINT`.
pub const TYPED_PARAM_UINT: i32 = 2;
/// `VIR_TYPED_PARAM_LLONG`.
pub const TYPED_PARAM_LLONG: i32 = 3;
/// `VIR_TYPED_PARAM_ULLONG`.
pub const TYPED_PARAM_ULLONG: i32 = 4;
/// `VIR_TYPED_PARAM_DOUBLE`.
pub const TYPED_PARAM_DOUBLE: i32 = 5;
/// `VIR_TYPED_PARAM_BOOLEAN`.
pub const TYPED_PARAM_BOOLEAN: i32 = 6;
/// `VIR_TYPED_PARAM_STRING`.
pub const TYPED_PARAM_STRING: i32 = 7;

/// `remote_typed_param_value`: the union, discriminant first, then the arm.
#[derive(Debug, Clone, PartialEq)]
pub enum TypedParamValue {
    /// Tag 1: `int`.
    Int(i32),
    /// Tag 2: `unsigned int`.
    UInt(u32),
    /// Tag 3: `hyper`.
    LLong(i64),
    /// Tag 4: `unsigned hyper`.
    ULLong(u64),
    /// Tag 5: `double`.
    Double(f64),
    /// Tag 6: boolean, carried as an `int` (kept as sent; non-zero is true).
    Boolean(i32),
    /// Tag 7: `remote_nonnull_string`.
    String(String),
}

impl TypedParamValue {
    /// The union tag (`virTypedParameterType`).
    pub fn tag(&self) -> i32 {
        match self {
            TypedParamValue::Int(_) => TYPED_PARAM_INT,
            TypedParamValue::UInt(_) => TYPED_PARAM_UINT,
            TypedParamValue::LLong(_) => TYPED_PARAM_LLONG,
            TypedParamValue::ULLong(_) => TYPED_PARAM_ULLONG,
            TypedParamValue::Double(_) => TYPED_PARAM_DOUBLE,
            TypedParamValue::Boolean(_) => TYPED_PARAM_BOOLEAN,
            TypedParamValue::String(_) => TYPED_PARAM_STRING,
        }
    }
}

impl XdrEncode for TypedParamValue {
    fn encode(&self, out: &mut Vec<u8>) {
        self.tag().encode(out);
        match self {
            TypedParamValue::Int(v) | TypedParamValue::Boolean(v) => v.encode(out),
            TypedParamValue::UInt(v) => v.encode(out),
            TypedParamValue::LLong(v) => v.encode(out),
            TypedParamValue::ULLong(v) => v.encode(out),
            TypedParamValue::Double(v) => v.encode(out),
            TypedParamValue::String(v) => v.encode(out),
        }
    }
}

impl XdrDecode for TypedParamValue {
    /// An unknown tag is refused (`XdrError::BadEnum`, which libvirt reports as
    /// `VIR_ERR_RPC`), as libtirpc's `xdr_union` does without a default arm.
    fn decode(r: &mut Reader<'_>) -> Result<Self, XdrError> {
        Ok(match i32::decode(r)? {
            TYPED_PARAM_INT => TypedParamValue::Int(i32::decode(r)?),
            TYPED_PARAM_UINT => TypedParamValue::UInt(u32::decode(r)?),
            TYPED_PARAM_LLONG => TypedParamValue::LLong(i64::decode(r)?),
            TYPED_PARAM_ULLONG => TypedParamValue::ULLong(u64::decode(r)?),
            TYPED_PARAM_DOUBLE => TypedParamValue::Double(f64::decode(r)?),
            TYPED_PARAM_BOOLEAN => TypedParamValue::Boolean(i32::decode(r)?),
            TYPED_PARAM_STRING => TypedParamValue::String(String::decode(r)?),
            value => {
                return Err(XdrError::BadEnum {
                    name: "TypedParamValue",
                    value,
                })
            }
        })
    }
}

/// `remote_typed_param`: `{field; value}`.
#[derive(Debug, Clone, PartialEq, Xdr)]
pub struct TypedParam {
    /// The parameter's name (e.g. `migrate_uri`, `state.state`).
    pub field: String,
    /// Its typed value.
    pub value: TypedParamValue,
}

impl TypedParam {
    /// A parameter named `field` with `value`.
    pub fn new(field: impl Into<String>, value: TypedParamValue) -> Self {
        TypedParam {
            field: field.into(),
            value,
        }
    }
}
