//! The network driver of `qemu:///system`.
