//! XML for oxvirt: reading documents into a small tree with positions and namespaces,
//! writing them back in libvirt's style, the machinery typed models are built with, and the
//! value types libvirt's formats share.
//!
//! ```
//! let root = oxvirt_xml::parse("<domain type='kvm'><name>vm</name></domain>").unwrap();
//! assert_eq!(root.child("name").unwrap().text(), "vm");
//! assert_eq!(
//!     oxvirt_xml::to_string(&root),
//!     "<domain type='kvm'>\n  <name>vm</name>\n</domain>\n"
//! );
//! ```

pub mod error;
pub mod model;
pub mod reader;
pub mod testdata;
pub mod tree;
pub mod types;
pub mod writer;

pub use error::{ErrorCode, ErrorDomain, ErrorLevel, Position, Result, VirError, XmlError};
pub use model::{Builder, Context, Cursor, Unknown, Warning, XmlEnum, XmlModel};
pub use reader::parse;
pub use tree::{Attribute, Element, Node};
pub use writer::to_string;
