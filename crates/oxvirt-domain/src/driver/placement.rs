//! What every driver's placement calls share: the NUMA parameters' names and mode numbers
//! (`virDomainGetNumaParameters`/`virDomainSetNumaParameters`), their nodeset parsing and
//! type checks, and the conversion between API CPU maps and CPU sets.

use oxvirt_xml::types::cpuset::CpuSet;
use oxvirt_xml::{ErrorCode, ErrorDomain, VirError};

use super::node::CpuMap;
use super::typed::{TypedParam, TypedValue};
use crate::domain::Domain;
use crate::tuning::NumaMode;

/// `VIR_DOMAIN_NUMA_MODE`: the `<numatune><memory mode>` as a number.
pub const NUMA_MODE: &str = "numa_mode";
/// `VIR_DOMAIN_NUMA_NODESET`: the `<numatune><memory nodeset>`.
pub const NUMA_NODESET: &str = "numa_nodeset";

/// `VIR_TYPED_PARAM_STRING_OKAY`: the caller takes string parameters.
pub const STRING_OKAY: u32 = 1 << 2;

/// `virDomainGetNumaParameters` of a definition: `numa_mode` (strict without a
/// `<numatune><memory>`) and `numa_nodeset` (empty without a nodeset).
pub fn numa_parameters(def: &Domain) -> Vec<TypedParam> {
    let memory = def.numatune.as_ref().and_then(|n| n.memory.as_ref());
    let mode = memory.map_or(NumaMode::Strict, |m| m.mode);
    let nodeset = memory
        .and_then(|m| m.nodeset.as_ref())
        .map(ToString::to_string)
        .unwrap_or_default();
    vec![
        TypedParam::new(NUMA_MODE, TypedValue::Int(numa_mode_number(mode))),
        TypedParam::new(NUMA_NODESET, TypedValue::String(nodeset)),
    ]
}

/// `virDomainNumatuneMemMode` number of `mode` (strict 0 ... restrictive 3).
pub fn numa_mode_number(mode: NumaMode) -> i32 {
    match mode {
        NumaMode::Strict => 0,
        NumaMode::Preferred => 1,
        NumaMode::Interleave => 2,
        NumaMode::Restrictive => 3,
    }
}

/// The mode of a `virDomainNumatuneMemMode` number, if it names one.
pub fn numa_mode_of(number: i32) -> Option<NumaMode> {
    Some(match number {
        0 => NumaMode::Strict,
        1 => NumaMode::Preferred,
        2 => NumaMode::Interleave,
        3 => NumaMode::Restrictive,
        _ => return None,
    })
}

/// A `numa_nodeset` value as a set (`virBitmapParse`), refused as libvirt refuses it:
/// "Failed to parse bitmap '...'". An empty set is returned as such.
pub fn parse_nodeset(text: &str) -> Result<CpuSet, VirError> {
    CpuSet::parse(text).map_err(|_| {
        VirError::new(
            ErrorDomain::None,
            ErrorCode::InvalidArg,
            format!("Failed to parse bitmap '{text}'"),
        )
    })
}

/// `virTypedParameterTypeToString` of a value's type.
pub fn type_name(value: &TypedValue) -> &'static str {
    match value {
        TypedValue::Int(_) => "int",
        TypedValue::UInt(_) => "uint",
        TypedValue::LLong(_) => "llong",
        TypedValue::ULLong(_) => "ullong",
        TypedValue::Double(_) => "double",
        TypedValue::Boolean(_) => "boolean",
        TypedValue::String(_) => "string",
    }
}

/// Checks that `param` has the type `want` (`"int"`, `"string"` ...), as
/// `virTypedParamsValidate` does, with its message.
pub fn expect_type(param: &TypedParam, want: &str) -> Result<(), VirError> {
    let have = type_name(&param.value);
    if have == want {
        return Ok(());
    }
    Err(VirError::new(
        ErrorDomain::None,
        ErrorCode::InvalidArg,
        format!(
            "invalid type '{have}' for parameter '{}', expected '{want}'",
            param.field
        ),
    ))
}

/// The CPUs a CPU map names, as a set.
pub fn map_to_set(map: &CpuMap) -> CpuSet {
    let mut set = CpuSet::new();
    for cpu in map.cpus() {
        set.insert(cpu);
    }
    set
}

/// `set` as a CPU map of `maplen` bytes (`virBitmapToDataBuf`).
pub fn set_to_map(set: &CpuSet, maplen: usize) -> CpuMap {
    CpuMap::from_cpus(maplen, set.iter())
}

/// A vCPU number must fit libvirt's 16 bits (`VIR_ERR_OVERFLOW`, "input too large").
pub fn vcpu_fits(vcpu: u32) -> Result<(), VirError> {
    if vcpu > u32::from(u16::MAX) {
        return Err(VirError::new(
            ErrorDomain::Domain,
            ErrorCode::Overflow,
            format!("input too large: {vcpu}"),
        ));
    }
    Ok(())
}

/// libvirt's refusal of `virDomainPinVcpu` (no flags) for an inactive domain of the driver
/// of `hypervisor_type`: the test driver's own words, else "domain is not running".
pub fn pin_inactive_error(hypervisor_type: &str) -> VirError {
    if hypervisor_type == "TEST" {
        VirError::new(
            ErrorDomain::Test,
            ErrorCode::OperationInvalid,
            "cannot pin vcpus on an inactive domain",
        )
    } else {
        VirError::new(
            ErrorDomain::Qemu,
            ErrorCode::OperationInvalid,
            "domain is not running",
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn numa_modes_round_trip() {
        for n in 0..4 {
            let mode = numa_mode_of(n).expect("a mode");
            assert_eq!(numa_mode_number(mode), n);
        }
        assert_eq!(numa_mode_of(4), None);
        assert_eq!(numa_mode_of(-1), None);
    }

    #[test]
    fn nodesets_and_types_are_checked() {
        assert_eq!(parse_nodeset("0-1").expect("parses").to_string(), "0-1");
        let err = parse_nodeset("x").expect_err("refused");
        assert!(
            err.to_string().contains("Failed to parse bitmap 'x'"),
            "{err}"
        );
        let p = TypedParam::new(NUMA_MODE, TypedValue::String("1".into()));
        assert!(expect_type(&p, "string").is_ok());
        let err = expect_type(&p, "int").expect_err("wrong type");
        assert!(
            err.to_string()
                .contains("invalid type 'string' for parameter 'numa_mode', expected 'int'"),
            "{err}"
        );
    }

    #[test]
    fn vcpu_numbers_and_inactive_pins_are_refused() {
        assert!(vcpu_fits(65535).is_ok());
        let err = vcpu_fits(65536).expect_err("too large");
        assert_eq!(err.code, ErrorCode::Overflow);
        assert!(err.to_string().contains("input too large: 65536"), "{err}");
        assert_eq!(pin_inactive_error("TEST").domain, ErrorDomain::Test);
        let err = pin_inactive_error("QEMU");
        assert_eq!(
            (err.domain, err.code),
            (ErrorDomain::Qemu, ErrorCode::OperationInvalid)
        );
        assert!(err.to_string().contains("domain is not running"), "{err}");
    }

    #[test]
    fn maps_and_sets_convert() {
        let set = CpuSet::parse("0,2,9").expect("parses");
        let map = set_to_map(&set, 2);
        assert_eq!(map.0, vec![0b101, 0b10]);
        assert_eq!(map_to_set(&map), set);
    }
}
