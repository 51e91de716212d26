//! Snapshot XML (`<domainsnapshot>`).
