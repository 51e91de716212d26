//! Event callback registration: the procedures that subscribe a connection to domain
//! events and the messages that carry them.

use std::sync::Arc;

use oxvirt_domain::driver::Hypervisor;
use oxvirt_rpc::RemoteProcedure as P;
use oxvirt_xml::VirError;

use crate::client::Client;

/// Answers the event registration procedures; `None` for every other procedure.
pub(crate) async fn dispatch_events(
    _client: &Client,
    _drv: &Arc<dyn Hypervisor>,
    _procedure: P,
    _payload: &[u8],
) -> Option<Result<Vec<u8>, VirError>> {
    None
}
