//! Driver-side bookkeeping shared by every hypervisor backend: the list of domain objects
//! with their live and persistent definitions, snapshot trees, device and metadata edits of
//! a definition. libvirt keeps the same logic in its `conf/` layer, below the drivers.

pub mod devices;
pub mod domains;
pub mod metadata;
pub mod snapshots;
