//! Argument and result structs of the few non-core procedures the daemon answers (the
//! legacy listing calls and friends), laid out as libvirt 9.0's `remote_protocol.x`.

use oxvirt_rpc::types::NonnullDomain;
use oxvirt_rpc::Xdr;

/// `REMOTE_DOMAIN_LIST_MAX`: the most IDs or names a legacy listing returns.
pub const LIST_MAX: usize = 16384;

/// `remote_connect_get_max_vcpus_args` (procedure 5).
#[derive(Debug, Clone, PartialEq, Eq, Xdr)]
pub struct GetMaxVcpusArgs {
    /// The guest type, `None` for the default.
    pub r#type: Option<String>,
}

/// `remote_connect_get_max_vcpus_ret`.
#[derive(Debug, Clone, PartialEq, Eq, Xdr)]
pub struct GetMaxVcpusRet {
    /// The limit.
    pub max_vcpus: i32,
}

/// `remote_domain_create_xml_args` (procedure 10).
#[derive(Debug, Clone, PartialEq, Eq, Xdr)]
pub struct CreateXmlArgs {
    /// The domain XML.
    pub xml_desc: String,
    /// `virDomainCreateFlags`.
    pub flags: u32,
}

/// A result holding one domain (`remote_domain_create_xml_ret`...).
#[derive(Debug, Clone, PartialEq, Eq, Xdr)]
pub struct DomRet {
    /// The domain.
    pub dom: NonnullDomain,
}

/// An argument list holding one domain (`remote_domain_undefine_args`...).
#[derive(Debug, Clone, PartialEq, Eq, Xdr)]
pub struct DomArgs {
    /// The domain.
    pub dom: NonnullDomain,
}

/// `remote_domain_set_autostart_args` (procedure 29).
#[derive(Debug, Clone, PartialEq, Eq, Xdr)]
pub struct SetAutostartArgs {
    /// The domain.
    pub dom: NonnullDomain,
    /// Non-zero to autostart.
    pub autostart: i32,
}

/// `remote_connect_list_domains_args` (37) and `..._list_defined_domains_args` (21).
#[derive(Debug, Clone, PartialEq, Eq, Xdr)]
pub struct MaxArgs {
    /// The most entries wanted.
    pub max: i32,
}

/// `remote_connect_list_domains_ret` (37).
#[derive(Debug, Clone, PartialEq, Eq, Xdr)]
pub struct ListIdsRet {
    /// The running domains' IDs.
    #[xdr(max = LIST_MAX)]
    pub ids: Vec<i32>,
}

/// `remote_connect_list_defined_domains_ret` (21).
#[derive(Debug, Clone, PartialEq, Eq, Xdr)]
pub struct ListNamesRet {
    /// The inactive domains' names.
    #[xdr(max = LIST_MAX)]
    pub names: Vec<String>,
}

/// `remote_connect_num_of_domains_ret` (51) and `..._num_of_defined_domains_ret` (25).
#[derive(Debug, Clone, PartialEq, Eq, Xdr)]
pub struct NumRet {
    /// The count.
    pub num: i32,
}

#[cfg(test)]
mod tests {
    use super::*;
    use oxvirt_rpc::xdr::{decode_from, encode_to_vec};

    #[test]
    fn list_ids_layout() {
        let bytes = encode_to_vec(&ListIdsRet { ids: vec![1, 7] });
        assert_eq!(bytes, [0, 0, 0, 2, 0, 0, 0, 1, 0, 0, 0, 7]);
    }

    #[test]
    fn max_vcpus_args_optional_string() {
        let args: GetMaxVcpusArgs = decode_from(&[0, 0, 0, 0]).unwrap();
        assert_eq!(args.r#type, None);
        let args: GetMaxVcpusArgs =
            decode_from(&[0, 0, 0, 1, 0, 0, 0, 3, b'k', b'v', b'm', 0]).unwrap();
        assert_eq!(args.r#type.as_deref(), Some("kvm"));
    }
}
