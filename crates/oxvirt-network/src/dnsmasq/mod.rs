//! dnsmasq for a network: configuration, hosts files, leases.
