//! The network XML model (`<network>`), as libvirt 9.0's `virNetworkDef`.
