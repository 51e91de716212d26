//! `REMOTE_PROC_DOMAIN_INTERFACE_ADDRESSES` (`virDomainInterfaceAddresses`).

use oxvirt_domain::driver::Hypervisor;
use oxvirt_rpc::remote::*;
use oxvirt_rpc::RemoteProcedure as P;
use oxvirt_xml::VirError;

use super::node::internal;
use super::{args, dref, ret};

/// Serves the interface address procedure; anything else is a procedure the daemon does
/// not serve.
pub(crate) async fn dispatch_ifaddr(
    drv: &dyn Hypervisor,
    procedure: P,
    payload: &[u8],
) -> Result<Vec<u8>, VirError> {
    match procedure {
        P::DomainInterfaceAddresses => {
            let a: DomainInterfaceAddressesArgs = args(payload)?;
            let ifaces = drv
                .interface_addresses(&dref(a.dom), a.source, a.flags)
                .await?;
            // libvirtd's remoteSerializeDomainInterface limits.
            if ifaces.len() > DOMAIN_INTERFACE_MAX {
                return Err(internal(&format!(
                    "Number of interfaces, {}, exceeds the max limit: {DOMAIN_INTERFACE_MAX}",
                    ifaces.len()
                )));
            }
            let mut wire = Vec::with_capacity(ifaces.len());
            for i in ifaces {
                if i.addrs.len() > DOMAIN_IP_ADDR_MAX {
                    return Err(internal(&format!(
                        "Number of addresses, {}, exceeds the max limit: {DOMAIN_IP_ADDR_MAX}",
                        i.addrs.len()
                    )));
                }
                wire.push(DomainInterfaceWire {
                    name: i.name,
                    hwaddr: i.hwaddr,
                    addrs: i
                        .addrs
                        .into_iter()
                        .map(|a| DomainIpAddr {
                            r#type: a.kind,
                            addr: a.addr,
                            prefix: a.prefix,
                        })
                        .collect(),
                });
            }
            ret(&DomainInterfaceAddressesRet { ifaces: wire })
        }
        other => Err(crate::extra::not_served(other)),
    }
}

#[cfg(test)]
mod tests {
    use async_trait::async_trait;
    use oxvirt_domain::driver::ifaddr::{DomainInterface, IpAddress};
    use oxvirt_domain::driver::{DomainRef, EventBus, EventReceiver, Result};
    use oxvirt_rpc::types::NonnullDomain;
    use oxvirt_rpc::xdr::{decode_from, encode_to_vec};

    use super::*;

    /// A hypervisor whose domains each have one interface with two addresses.
    struct Fake(EventBus);

    #[async_trait]
    impl Hypervisor for Fake {
        fn uri(&self) -> String {
            "fake:///".into()
        }

        fn hypervisor_type(&self) -> &str {
            "FAKE"
        }

        fn subscribe(&self) -> EventReceiver {
            self.0.subscribe()
        }

        async fn interface_addresses(
            &self,
            dom: &DomainRef,
            source: u32,
            flags: u32,
        ) -> Result<Vec<DomainInterface>> {
            Ok(vec![DomainInterface {
                name: format!("vnet-{}-{source}-{flags}", dom.name),
                hwaddr: Some("52:54:00:00:00:01".into()),
                addrs: vec![
                    IpAddress {
                        kind: 0,
                        addr: "192.168.122.50".into(),
                        prefix: 24,
                    },
                    IpAddress {
                        kind: 1,
                        addr: "fd00::50".into(),
                        prefix: 64,
                    },
                ],
            }])
        }
    }

    #[tokio::test]
    async fn interface_addresses_reach_the_driver_and_come_back_on_the_wire() {
        let drv = Fake(EventBus::new());
        let payload = encode_to_vec(&DomainInterfaceAddressesArgs {
            dom: NonnullDomain {
                name: "vm".into(),
                uuid: [7; 16],
                id: 1,
            },
            source: 2,
            flags: 0,
        });
        let out = dispatch_ifaddr(&drv, P::DomainInterfaceAddresses, &payload)
            .await
            .unwrap();
        let r: DomainInterfaceAddressesRet = decode_from(&out).unwrap();
        assert_eq!(r.ifaces.len(), 1);
        assert_eq!(r.ifaces[0].name, "vnet-vm-2-0");
        assert_eq!(r.ifaces[0].hwaddr.as_deref(), Some("52:54:00:00:00:01"));
        assert_eq!(
            r.ifaces[0].addrs[1],
            DomainIpAddr {
                r#type: 1,
                addr: "fd00::50".into(),
                prefix: 64
            }
        );
    }
}
