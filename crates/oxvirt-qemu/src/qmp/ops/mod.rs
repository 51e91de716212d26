//! The QMP operations the QEMU driver needs beyond the basic lifecycle: descriptor passing,
//! migration to/from files, internal snapshots, hotplug, and statistics queries. All are
//! methods on [`Qmp`](crate::qmp::Qmp).

pub(crate) mod fd;
mod hotplug;
mod migration;
mod query;
mod snapshot;

#[cfg(test)]
mod tests;

use serde_json::Value;

use crate::qmp::QmpError;

pub use hotplug::{is_device_deleted, PciDevice};
pub use migration::{
    MigrationAddress, MigrationEvent, MigrationInfo, MigrationParameters, BANDWIDTH_MAX_MIB,
};
pub use query::{BlockInfo, BlockInserted, BlockStats, Chardev};
pub use snapshot::JobInfo;

/// A reply that does not have the shape a typed helper expects.
fn bad_reply(command: &str, ret: &Value) -> QmpError {
    QmpError::Protocol(format!(
        "unexpected reply to QEMU command '{command}': {ret}"
    ))
}
