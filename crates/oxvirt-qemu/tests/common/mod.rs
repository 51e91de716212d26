//! What the QEMU tests share: libvirt's test data and its comparison (re-exported for the
//! suites that use them), scratch directories, a QEMU reaper, and the skip-or-require rule.

#![allow(dead_code, unused_imports)]

use std::path::PathBuf;

pub use oxvirt_xml::testdata::{conformance, first_diff, Tally};

/// Whether a test that needs the host to have something (`ok`) can run; if not it says
/// `SKIPPED <test>: <why>`, unless `OXVIRT_REQUIRE_GUEST` is set (`cargo xtask ci`), where
/// real QEMU must be tested and the test fails instead.
pub fn usable(test: &str, ok: bool, why: &str) -> bool {
    if !ok {
        assert!(
            std::env::var_os("OXVIRT_REQUIRE_GUEST").is_none(),
            "{test}: {why} (OXVIRT_REQUIRE_GUEST is set: it must run here)"
        );
        eprintln!("SKIPPED {test}: {why}");
    }
    ok
}

/// The QEMU binary the tests run.
pub const QEMU: &str = "/usr/bin/qemu-system-x86_64";

/// Whether QEMU is installed, by the rule of [`usable`].
pub fn have_qemu(test: &str) -> bool {
    usable(
        test,
        std::path::Path::new(QEMU).exists(),
        &format!("{QEMU} is not installed (apt-get install qemu-system-x86)"),
    )
}

/// The test guest's kernel and initramfs (`cargo xtask guest` builds them there).
pub fn guest_dir() -> PathBuf {
    std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../target/guest")
}

/// A TCG domain `name` of 256 MiB booting the test guest with its console on ttyS0:
/// `before_os` stands between `<memory>` and `<os>` (`<vcpu>` and tuning), `devices`
/// inside `<devices>`.
pub fn guest_domain(name: &str, before_os: &str, devices: &str) -> String {
    let g = guest_dir();
    format!(
        "<domain type='qemu'><name>{name}</name><memory unit='MiB'>256</memory>\
         {before_os}<os><type arch='x86_64' machine='pc'>hvm</type>\
         <kernel>{}/vmlinuz</kernel><initrd>{}/initrd.gz</initrd>\
         <cmdline>console=ttyS0 panic=-1</cmdline></os><features><acpi/></features>\
         <devices>{devices}</devices></domain>",
        g.display(),
        g.display(),
    )
}

/// The pty of a running guest's serial port, from its live XML.
pub fn serial_pty(xml: &str) -> String {
    xml.split("<source path='")
        .nth(1)
        .and_then(|r| r.split('\'').next())
        .expect("pty path")
        .to_string()
}

/// A test's state and runtime directories (and any images), removed at the end.
pub struct Scratch(pub PathBuf);

impl Scratch {
    /// A fresh directory for `tag` of the test file `kind`.
    pub fn new(kind: &str, tag: &str) -> Scratch {
        let dir = std::env::temp_dir().join(format!("oxvirt-{kind}-{}-{tag}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap_or_else(|e| panic!("{}: {e}", dir.display()));
        Scratch(dir)
    }

    /// The QEMU driver's directories under it.
    pub fn config(&self) -> oxvirt_qemu::driver::QemuConfig {
        oxvirt_qemu::driver::QemuConfig::under(&self.0.join("state"), &self.0.join("run"))
    }
}

impl Drop for Scratch {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// Kills the QEMUs (pids) a failed test left running.
pub struct Reaper(pub Vec<i32>);

impl Drop for Reaper {
    fn drop(&mut self) {
        for pid in &self.0 {
            let _ = std::process::Command::new("kill")
                .args(["-9", &pid.to_string()])
                .stderr(std::process::Stdio::null())
                .status();
        }
    }
}
