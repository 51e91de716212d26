//! Argument and result structs of `REMOTE_PROC_DOMAIN_INTERFACE_ADDRESSES` (353,
//! `virDomainInterfaceAddresses`), laid out as libvirt 9.0's `remote_protocol.x`.

use crate::types::NonnullDomain;
use crate::Xdr;

/// `REMOTE_DOMAIN_INTERFACE_MAX`: the most interfaces one reply carries.
pub const DOMAIN_INTERFACE_MAX: usize = 2048;
/// `REMOTE_DOMAIN_IP_ADDR_MAX`: the most addresses of one interface.
pub const DOMAIN_IP_ADDR_MAX: usize = 2048;

/// `remote_domain_interface_addresses_args`: the arguments of procedure 353.
#[derive(Debug, Clone, PartialEq, Eq, Xdr)]
pub struct DomainInterfaceAddressesArgs {
    /// The domain.
    pub dom: NonnullDomain,
    /// `VIR_DOMAIN_INTERFACE_ADDRESSES_SRC_*` (lease 0, agent 1, arp 2).
    pub source: u32,
    /// The call's flags.
    pub flags: u32,
}

/// `remote_domain_ip_addr`: one address.
#[derive(Debug, Clone, PartialEq, Eq, Xdr)]
pub struct DomainIpAddr {
    /// `VIR_IP_ADDR_TYPE_IPV4` (0) or `_IPV6` (1).
    pub r#type: i32,
    /// The address.
    pub addr: String,
    /// Its prefix length.
    pub prefix: u32,
}

/// `remote_domain_interface`: one interface and its addresses.
#[derive(Debug, Clone, PartialEq, Eq, Xdr)]
pub struct DomainInterfaceWire {
    /// The interface's name.
    pub name: String,
    /// Its MAC address.
    pub hwaddr: Option<String>,
    /// Its addresses.
    #[xdr(max = DOMAIN_IP_ADDR_MAX)]
    pub addrs: Vec<DomainIpAddr>,
}

/// `remote_domain_interface_addresses_ret`: the result of procedure 353.
#[derive(Debug, Clone, PartialEq, Eq, Xdr)]
pub struct DomainInterfaceAddressesRet {
    /// The interfaces.
    #[xdr(max = DOMAIN_INTERFACE_MAX)]
    pub ifaces: Vec<DomainInterfaceWire>,
}

#[cfg(test)]
mod tests {
    use super::super::tests::{dom, Sample};
    use super::*;
    use crate::xdr::encode_to_vec;

    #[test]
    fn interface_addresses_round_trip() {
        let ret = DomainInterfaceAddressesRet {
            ifaces: vec![DomainInterfaceWire {
                name: "vnet0".into(),
                hwaddr: Some("52:54:00:11:22:33".into()),
                addrs: vec![DomainIpAddr {
                    r#type: 0,
                    addr: "192.168.122.50".into(),
                    prefix: 24,
                }],
            }],
        };
        ret.round_trip().expect("ret");
        let args = DomainInterfaceAddressesArgs {
            dom: dom(),
            source: 2,
            flags: 0,
        };
        args.round_trip().expect("args");
        // The count, then name, optional hwaddr, address count, type, addr, prefix.
        let bytes = encode_to_vec(&ret);
        assert_eq!(&bytes[..4], &[0, 0, 0, 1]);
        assert_eq!(&bytes[4..8], &[0, 0, 0, 5]);
        assert_eq!(&bytes[8..13], b"vnet0");
        assert_eq!(&bytes[16..20], &[0, 0, 0, 1]);
        assert_eq!(bytes.len(), 4 + 12 + 4 + 24 + 4 + 4 + 20 + 4);
    }
}
