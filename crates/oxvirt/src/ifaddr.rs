//! `virDomainInterfaceAddresses` on a [`Domain`].

use oxvirt_domain::driver::ifaddr::{DomainInterface, SRC_AGENT};

use crate::domain_handle::Domain;
use crate::Result;

impl Domain {
    /// `virDomainInterfaceAddresses`: the addresses of the running domain's interfaces from
    /// `source` (`oxvirt::domain::driver::ifaddr::SRC_*`). As libvirt's public API, the
    /// guest agent source needs a connection that is not read-only.
    pub async fn interface_addresses(
        &self,
        source: u32,
        flags: u32,
    ) -> Result<Vec<DomainInterface>> {
        if source == SRC_AGENT {
            self.writable("virDomainInterfaceAddresses")?;
        }
        self.driver()
            .interface_addresses(&self.to_ref(), source, flags)
            .await
    }
}

#[cfg(test)]
mod tests {
    use oxvirt_domain::driver::ifaddr::{SRC_AGENT, SRC_LEASE};
    use oxvirt_xml::ErrorCode;

    use crate::Connect;

    #[tokio::test]
    async fn the_agent_source_needs_a_writable_connection() {
        let conn = Connect::open_read_only("test:///default").await.unwrap();
        let dom = conn.lookup_domain_by_name("test").await.unwrap();
        let e = dom.interface_addresses(SRC_AGENT, 0).await.unwrap_err();
        assert_eq!(e.code, ErrorCode::OperationDenied);
        assert_eq!(
            e.message,
            "operation forbidden: read only access prevents virDomainInterfaceAddresses"
        );
        // The lease source reaches the driver (the test driver lacks the call).
        let e = dom.interface_addresses(SRC_LEASE, 0).await.unwrap_err();
        assert_eq!(e.code, ErrorCode::NoSupport);
    }
}
