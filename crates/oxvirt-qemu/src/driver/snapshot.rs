//! Snapshots: their metadata kept per domain under `STATE/qemu/snapshot/NAME/`.

use std::path::PathBuf;

use super::QemuDriver;

impl QemuDriver {
    /// Where the snapshot metadata of domain `name` is kept.
    pub(crate) fn snapshot_dir(&self, name: &str) -> PathBuf {
        self.inner.config.state_dir.join("snapshot").join(name)
    }

    /// Removes the snapshot metadata of domain `name` (it is being undefined).
    pub(crate) fn delete_snapshot_files(&self, name: &str) {
        let _ = std::fs::remove_dir_all(self.snapshot_dir(name));
    }
}
