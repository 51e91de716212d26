//! The nftables firewall of the active networks.
