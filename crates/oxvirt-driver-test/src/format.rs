//! Formatting definitions: the test driver shows them as every driver does.

pub(crate) use oxvirt_domain::format::{format_domain, format_snapshot};
