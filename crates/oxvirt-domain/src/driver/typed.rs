//! libvirt's typed parameters (`virTypedParameter`) and the records built from them:
//! domain statistics (`virDomainStatsRecord`) and job information.

use super::DomainRef;

/// A typed parameter's value (`virTypedParameterType`, tags 1 to 7 on the wire).
#[derive(Debug, Clone, PartialEq)]
pub enum TypedValue {
    /// `VIR_TYPED_PARAM_INT`.
    Int(i32),
    /// `VIR_TYPED_PARAM_UINT`.
    UInt(u32),
    /// `VIR_TYPED_PARAM_LLONG`.
    LLong(i64),
    /// `VIR_TYPED_PARAM_ULLONG`.
    ULLong(u64),
    /// `VIR_TYPED_PARAM_DOUBLE`.
    Double(f64),
    /// `VIR_TYPED_PARAM_BOOLEAN`.
    Boolean(bool),
    /// `VIR_TYPED_PARAM_STRING`.
    String(String),
}

/// One named value, e.g. `state.state` = `UInt(1)`... as libvirt names its fields.
#[derive(Debug, Clone, PartialEq)]
pub struct TypedParam {
    /// The field name (at most 80 bytes in libvirt).
    pub field: String,
    /// The value.
    pub value: TypedValue,
}

impl TypedParam {
    /// A parameter named `field`.
    pub fn new(field: impl Into<String>, value: TypedValue) -> Self {
        TypedParam {
            field: field.into(),
            value,
        }
    }
}

/// `virDomainStatsRecord`: one domain's statistics, in the order the driver produced them.
#[derive(Debug, Clone, PartialEq)]
pub struct DomainStats {
    /// The domain, as it was when its statistics were read.
    pub domain: DomainRef,
    /// The statistics (`state.state`, `state.reason`, ...).
    pub params: Vec<TypedParam>,
}

/// `virDomainJobInfo`: the progress of a domain's current job (all zero but `kind` when
/// there is none).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct JobInfo {
    /// `virDomainJobType`: 0 none, 1 bounded, 2 unbounded, 3 completed, 4 failed,
    /// 5 cancelled.
    pub kind: i32,
    /// Milliseconds since the job started.
    pub time_elapsed: u64,
    /// Estimated milliseconds left (bounded jobs).
    pub time_remaining: u64,
    /// Bytes to transfer in total.
    pub data_total: u64,
    /// Bytes transferred.
    pub data_processed: u64,
    /// Bytes left.
    pub data_remaining: u64,
    /// Guest memory to transfer, in bytes.
    pub mem_total: u64,
    /// Guest memory transferred.
    pub mem_processed: u64,
    /// Guest memory left.
    pub mem_remaining: u64,
    /// File data to transfer, in bytes.
    pub file_total: u64,
    /// File data transferred.
    pub file_processed: u64,
    /// File data left.
    pub file_remaining: u64,
}
