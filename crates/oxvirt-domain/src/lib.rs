//! libvirt's domain XML as typed Rust models.
//!
//! [`Domain::parse`] reads a `<domain>` document as `virDomainDefineXML` does, rejecting
//! what libvirt rejects with libvirt's error codes; [`Domain::to_xml`] writes it back in
//! libvirt's style and element order. Whatever the model does not type is kept as written
//! and reported as a warning, so nothing a user wrote is lost.
//!
//! ```
//! use oxvirt_domain::Domain;
//! let xml = "<domain type='qemu'><name>demo</name><memory unit='MiB'>256</memory></domain>";
//! let parsed = Domain::parse(xml).unwrap();
//! assert_eq!(parsed.domain.memory.as_ref().unwrap().kib, 262144);
//! assert!(parsed.domain.to_xml().contains("<memory unit='KiB'>262144</memory>"));
//! ```

pub mod address;
pub mod clock;
pub mod cpu;
pub mod defaults;
pub mod devices;
pub mod domain;
pub mod driver;
pub mod features;
pub mod format;
pub mod fsio;
pub mod memory;
pub mod objects;
pub mod os;
pub mod snapshot;
pub mod tuning;
mod util;
mod validate;

pub use address::{DeviceAddress, PciAddress};
pub use devices::Devices;
pub use domain::{Domain, LifecycleAction, Metadata, Parsed, VirtType};
pub use oxvirt_xml::{ErrorCode, Warning, XmlError};
