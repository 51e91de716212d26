//! A volume group on a loop device for the logical backend's tests: a sparse file, its
//! loop device and the VG a test makes on it, all removed when dropped; and the host's VG
//! names, to check that nothing else was touched.

#![allow(dead_code)]

use std::path::PathBuf;
use std::process::Command;

const MIB: u64 = 1 << 20;

/// Runs an LVM tool (`args[0]`), without its warnings about inherited descriptors.
pub fn lvm_tool(args: &[&str]) -> std::process::Output {
    Command::new(args[0])
        .args(&args[1..])
        .env("LVM_SUPPRESS_FD_WARNINGS", "1")
        .output()
        .expect("run an LVM tool")
}

/// The names of the host's volume groups.
pub fn vg_names() -> Vec<String> {
    let out = lvm_tool(&["vgs", "--noheadings", "-o", "vg_name"]);
    let mut names: Vec<String> = String::from_utf8_lossy(&out.stdout)
        .split_whitespace()
        .map(str::to_string)
        .collect();
    names.sort();
    names
}

/// A sparse 64 MiB file on a loop device, and the volume group the test makes on it: all
/// removed when dropped.
pub struct LoopVg {
    file: PathBuf,
    /// The loop device (`/dev/loopN`).
    pub device: String,
    /// The name the test gives its volume group (`oxvt_TAG_PID`).
    pub vg: String,
}

impl LoopVg {
    /// A loop device over a new file named after `tag`, or why there is none.
    pub fn new(tag: &str) -> Result<Self, String> {
        let file = std::env::temp_dir().join(format!("oxvirt-{tag}-{}.img", std::process::id()));
        let f = std::fs::File::create(&file).map_err(|e| format!("create {file:?}: {e}"))?;
        f.set_len(64 * MIB).map_err(|e| format!("truncate: {e}"))?;
        drop(f);
        let out = Command::new("losetup")
            .args(["-f", "--show"])
            .arg(&file)
            .output()
            .map_err(|e| format!("losetup: {e}"))?;
        if !out.status.success() {
            let _ = std::fs::remove_file(&file);
            return Err(format!(
                "no free loop device: {}",
                String::from_utf8_lossy(&out.stderr).trim()
            ));
        }
        Ok(LoopVg {
            file,
            device: String::from_utf8_lossy(&out.stdout).trim().to_string(),
            vg: format!("oxvt_{tag}_{}", std::process::id()),
        })
    }
}

impl Drop for LoopVg {
    fn drop(&mut self) {
        if vg_names().contains(&self.vg) {
            let _ = lvm_tool(&["vgremove", "-f", &self.vg]);
        }
        let _ = lvm_tool(&["pvremove", "-ff", "-y", &self.device]);
        let _ = Command::new("losetup").args(["-d", &self.device]).output();
        let _ = std::fs::remove_file(&self.file);
    }
}
