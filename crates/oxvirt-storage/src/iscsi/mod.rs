//! A userspace iSCSI initiator (RFC 7143), enough for libvirt's `iscsi-direct` pools.
