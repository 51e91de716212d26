//! placeholder

use crate::api::{UpdateCommand, UpdateSection};
use oxvirt_xml::VirError;

use super::Network;

/// `virNetworkDefUpdateSection`: applies `command` with the element `xml` to `section`
/// of `net`; `parent_index` picks the `<ip>` (-1: the first that fits).
pub fn update(
    _net: &mut Network,
    _command: UpdateCommand,
    _section: UpdateSection,
    _parent_index: i32,
    _xml: &str,
) -> Result<(), VirError> {
    Err(super::err(
        oxvirt_xml::ErrorCode::NoSupport,
        "network update",
    ))
}
