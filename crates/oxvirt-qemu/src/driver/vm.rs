//! A running domain's QEMU as the driver holds it: the process, its monitor, and what the
//! driver asked of it (so the monitor task can tell a requested stop from a crash).

use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, AtomicU8, Ordering};
use std::sync::Mutex;

use tokio::sync::watch;

use crate::process::QemuProcess;
use crate::qmp::Qmp;

/// Why the driver is stopping a domain, if it is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[repr(u8)]
pub(crate) enum Stopping {
    /// Not stopping: an exit now is a crash.
    No = 0,
    /// Destroyed by the user.
    Destroyed = 1,
    /// The guest powered off (`on_poweroff` destroy) or the user shut it down.
    Shutdown = 2,
    /// Saved to a file.
    Saved = 3,
    /// Stopped to revert to a snapshot.
    FromSnapshot = 4,
    /// The guest crashed and `<on_crash>` stops it.
    Crashed = 5,
    /// Migrated away: the destination runs the guest now.
    Migrated = 6,
    /// A migration's destination whose incoming migration failed.
    Failed = 7,
}

impl Stopping {
    fn from_u8(v: u8) -> Stopping {
        match v {
            1 => Stopping::Destroyed,
            2 => Stopping::Shutdown,
            3 => Stopping::Saved,
            4 => Stopping::FromSnapshot,
            5 => Stopping::Crashed,
            6 => Stopping::Migrated,
            7 => Stopping::Failed,
            _ => Stopping::No,
        }
    }
}

/// One running QEMU.
#[derive(Debug)]
pub struct Vm {
    process: QemuProcess,
    /// The monitor socket.
    pub(crate) monitor: PathBuf,
    /// The domain's private directory.
    pub(crate) private_dir: PathBuf,
    stopping: AtomicU8,
    /// The guest sent a SHUTDOWN event (it powered off, or QEMU was asked to quit).
    got_shutdown: AtomicBool,
    /// A reboot asked for by the user through ACPI (`on_reboot` restart with a guest that
    /// shuts down): reset and continue instead of stopping (libvirt's fake reboot).
    fake_reboot: AtomicBool,
    /// A call is stopping or starting the CPUs and reports the change itself: the
    /// monitor leaves QEMU's STOP and RESUME events to it.
    cpus_by_call: AtomicBool,
    /// Set once the domain is stopped and cleaned up.
    done: watch::Sender<bool>,
    /// The host threads of its vCPUs and I/O threads, once known.
    threads: Mutex<Option<super::placement::Threads>>,
    /// The status of QEMU's last `MIGRATION` event (`None` before any).
    migration: watch::Sender<Option<String>>,
}

impl Vm {
    pub(crate) fn new(process: QemuProcess, monitor: PathBuf, private_dir: PathBuf) -> Self {
        Vm {
            process,
            monitor,
            private_dir,
            stopping: AtomicU8::new(Stopping::No as u8),
            got_shutdown: AtomicBool::new(false),
            fake_reboot: AtomicBool::new(false),
            cpus_by_call: AtomicBool::new(false),
            done: watch::channel(false).0,
            threads: Mutex::new(None),
            migration: watch::channel(None).0,
        }
    }

    /// QEMU's process id.
    pub fn pid(&self) -> i32 {
        self.process.pid()
    }

    /// The monitor.
    pub fn qmp(&self) -> &Qmp {
        self.process.qmp()
    }

    /// The process.
    pub(crate) fn process(&self) -> &QemuProcess {
        &self.process
    }

    pub(crate) fn stopping(&self) -> Stopping {
        Stopping::from_u8(self.stopping.load(Ordering::SeqCst))
    }

    /// Records why the driver stops the domain; the first cause wins.
    pub(crate) fn set_stopping(&self, why: Stopping) {
        let _ = self.stopping.compare_exchange(
            Stopping::No as u8,
            why as u8,
            Ordering::SeqCst,
            Ordering::SeqCst,
        );
    }

    pub(crate) fn got_shutdown(&self) -> bool {
        self.got_shutdown.load(Ordering::SeqCst)
    }

    pub(crate) fn set_got_shutdown(&self, v: bool) {
        self.got_shutdown.store(v, Ordering::SeqCst);
    }

    pub(crate) fn fake_reboot(&self) -> bool {
        self.fake_reboot.load(Ordering::SeqCst)
    }

    pub(crate) fn set_fake_reboot(&self, v: bool) {
        self.fake_reboot.store(v, Ordering::SeqCst);
    }

    pub(crate) fn cpus_by_call(&self) -> bool {
        self.cpus_by_call.load(Ordering::SeqCst)
    }

    pub(crate) fn set_cpus_by_call(&self, v: bool) {
        self.cpus_by_call.store(v, Ordering::SeqCst);
    }

    /// The host threads of its vCPUs and I/O threads, if known.
    pub(crate) fn threads(&self) -> Option<super::placement::Threads> {
        super::lock(&self.threads).clone()
    }

    pub(crate) fn set_threads(&self, threads: super::placement::Threads) {
        *super::lock(&self.threads) = Some(threads);
    }

    /// Records the status of a `MIGRATION` event.
    pub(crate) fn set_migration_status(&self, status: String) {
        self.migration.send_replace(Some(status));
    }

    /// Follows the statuses of QEMU's `MIGRATION` events.
    pub(crate) fn migration_events(&self) -> watch::Receiver<Option<String>> {
        self.migration.subscribe()
    }

    /// The domain is stopped and cleaned up.
    pub(crate) fn mark_done(&self) {
        self.done.send_replace(true);
    }

    /// Waits until the domain is stopped and cleaned up.
    pub(crate) async fn wait_done(&self) {
        let mut rx = self.done.subscribe();
        let _ = rx.wait_for(|d| *d).await;
    }
}
