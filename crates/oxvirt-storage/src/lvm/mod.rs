//! The `logical` backend: LVM through its tools.
