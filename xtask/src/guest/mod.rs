//! `cargo xtask guest [--boot]`: the project's test guest, built from Debian packages and
//! cached under `target/guest/`.
//!
//! The kernel is Debian's cloud kernel (the `linux-image-6.1.0-*-cloud-amd64` package that
//! `linux-image-cloud-amd64` depends on), the initramfs is busybox-static, a few modules of
//! the same kernel and our own `/init` (`xtask/data/guest-init.sh`), written as a newc cpio
//! archive by the code below (deterministic: no timestamps, no owners) and gzipped.
//!
//! The cache is rebuilt only when its stamp changes: the init script, the package versions,
//! or this builder. With `--boot` the guest is booted once under TCG to prove it: the ready
//! marker, the disk report and an ACPI shutdown through QMP.

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::Instant;

use anyhow::{bail, Context, Result};

mod boot;
mod cpio;

use boot::boot_once;
use cpio::{write_gzip, Cpio};

/// The `/init` script of the guest.
const INIT_SCRIPT: &str = include_str!("../../data/guest-init.sh");
/// This builder's own source: a change to it rebuilds the cache.
const BUILDER_SOURCE: &str = concat!(
    include_str!("mod.rs"),
    include_str!("boot.rs"),
    include_str!("cpio.rs")
);
/// The package whose dependency names the kernel package.
const KERNEL_META: &str = "linux-image-cloud-amd64";
/// The package that gives the guest its userspace.
const BUSYBOX_PKG: &str = "busybox-static";
/// The modules the initramfs carries (the init script loads them in its own order).
const MODULES: &[&str] = &[
    "button",
    "evdev",
    "virtio_ring",
    "virtio",
    "virtio_pci_modern_dev",
    "virtio_pci_legacy_dev",
    "virtio_pci",
    "virtio_blk",
    "failover",
    "net_failover",
    "virtio_net",
];
/// The line the init script prints once userspace runs.
const MARKER: &str = "OXVIRT-GUEST-READY";
/// The prefix of the init script's disk reports.
const DISKS: &str = "OXVIRT-DISKS:";

/// What `cargo xtask guest` made: the kernel and the initramfs.
struct Guest {
    kernel: PathBuf,
    initrd: PathBuf,
}

/// `cargo xtask guest [--boot]`.
pub fn guest(root: &Path, args: &[String]) -> Result<()> {
    let mut boot = false;
    for arg in args {
        match arg.as_str() {
            "--boot" => boot = true,
            other => bail!("guest: unknown argument '{other}' (usage: cargo xtask guest [--boot])"),
        }
    }
    let dir = root.join("target/guest");
    let started = Instant::now();
    let guest = build(&dir)?;
    let build_time = started.elapsed();
    println!("kernel: {}", guest.kernel.display());
    println!("initrd: {}", guest.initrd.display());
    let size = |p: &Path| std::fs::metadata(p).map(|m| m.len()).unwrap_or(0);
    println!(
        "cache:  {} ({} in the kernel and initrd)",
        dir.display(),
        human_bytes(size(&guest.kernel) + size(&guest.initrd)),
    );
    println!("build:  {build_time:.2?}");
    if boot {
        boot_once(&dir, &guest)?;
    }
    Ok(())
}

/// Builds the guest into `dir` unless the stamp there says it is up to date.
fn build(dir: &Path) -> Result<Guest> {
    std::fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
    for tool in ["apt-get", "apt-cache", "dpkg-deb", "dpkg-query", "gzip"] {
        if !on_path(tool) {
            bail!("guest: `{tool}` is not installed: the guest is built from Debian packages, on a Debian host");
        }
    }
    let busybox_version = ensure_busybox()?;
    let kernel_pkg = kernel_package()?;
    let kernel_version = candidate_version(&kernel_pkg)?;
    let stamp = format!(
        "builder {:016x}\ninit {:016x}\nkernel {kernel_pkg} {kernel_version}\nbusybox {BUSYBOX_PKG} {busybox_version}\n",
        fnv1a(BUILDER_SOURCE.as_bytes()),
        fnv1a(INIT_SCRIPT.as_bytes()),
    );
    let guest = Guest {
        kernel: dir.join("vmlinuz"),
        initrd: dir.join("initrd.gz"),
    };
    let stamp_file = dir.join("stamp");
    let cached = std::fs::read_to_string(&stamp_file).unwrap_or_default();
    if cached == stamp && guest.kernel.is_file() && guest.initrd.is_file() {
        eprintln!(
            "guest: up to date ({kernel_pkg} {kernel_version}, {BUSYBOX_PKG} {busybox_version})"
        );
        return Ok(guest);
    }
    eprintln!("guest: building ({kernel_pkg} {kernel_version}, {BUSYBOX_PKG} {busybox_version})");
    let _ = std::fs::remove_file(&stamp_file);
    let modules = fetch_kernel(dir, &kernel_pkg, &guest.kernel)?;
    let cpio = initramfs(&modules)?;
    write_gzip(&cpio, &guest.initrd)?;
    std::fs::write(&stamp_file, stamp).context("writing the guest's stamp")?;
    Ok(guest)
}

/// Makes sure busybox-static is installed (installing it if not) and returns its version.
fn ensure_busybox() -> Result<String> {
    if let Some(version) = installed_version(BUSYBOX_PKG) {
        return Ok(version);
    }
    eprintln!("guest: installing {BUSYBOX_PKG}");
    let install = || {
        let mut c = Command::new("apt-get");
        c.args(["install", "-y", "--no-install-recommends", BUSYBOX_PKG])
            .env("DEBIAN_FRONTEND", "noninteractive");
        c
    };
    if !run_quiet(install())? {
        // A fresh machine may have no (or old) package lists.
        apt_update()?;
        if !run_loud(install())? {
            bail!("guest: `apt-get install -y --no-install-recommends {BUSYBOX_PKG}` failed (are we root, with Debian's package lists?)");
        }
    }
    installed_version(BUSYBOX_PKG).with_context(|| {
        format!("guest: {BUSYBOX_PKG} is still not installed after apt-get install")
    })
}

/// The version of an installed Debian package, if it is installed.
fn installed_version(pkg: &str) -> Option<String> {
    let out = Command::new("dpkg-query")
        .args(["-W", "-f=${db:Status-Status} ${Version}", pkg])
        .stderr(Stdio::null())
        .output()
        .ok()?;
    let text = String::from_utf8_lossy(&out.stdout);
    let version = text.strip_prefix("installed ")?.trim();
    (out.status.success() && !version.is_empty()).then(|| version.to_string())
}

/// The kernel package `linux-image-cloud-amd64` depends on, updating the package lists once
/// if apt does not know it.
fn kernel_package() -> Result<String> {
    if let Some(pkg) = kernel_dependency()? {
        return Ok(pkg);
    }
    apt_update()?;
    kernel_dependency()?.with_context(|| {
        format!(
            "guest: `apt-cache depends {KERNEL_META}` names no linux-image-*-cloud-amd64 package"
        )
    })
}

fn kernel_dependency() -> Result<Option<String>> {
    let out = Command::new("apt-cache")
        .args(["depends", KERNEL_META])
        .stderr(Stdio::null())
        .output()
        .context("guest: could not run apt-cache")?;
    Ok(parse_kernel_dependency(&String::from_utf8_lossy(
        &out.stdout,
    )))
}

/// The `linux-image-*-cloud-amd64` package among the `Depends:` lines of `apt-cache depends`.
fn parse_kernel_dependency(text: &str) -> Option<String> {
    text.lines()
        .filter_map(|l| l.trim().strip_prefix("Depends:"))
        .map(str::trim)
        .find(|p| p.starts_with("linux-image-") && p.ends_with("-cloud-amd64"))
        .map(str::to_string)
}

/// The version `apt-get download` would fetch (the candidate of `apt-cache policy`).
fn candidate_version(pkg: &str) -> Result<String> {
    let out = Command::new("apt-cache")
        .args(["policy", pkg])
        .output()
        .context("guest: could not run apt-cache")?;
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .filter_map(|l| l.trim().strip_prefix("Candidate:"))
        .map(str::trim)
        .find(|v| !v.is_empty() && *v != "(none)")
        .map(str::to_string)
        .with_context(|| format!("guest: apt has no candidate version of {pkg}"))
}

fn apt_update() -> Result<()> {
    eprintln!("guest: apt-get update");
    if !run_loud({
        let mut c = Command::new("apt-get");
        c.arg("update");
        c
    })? {
        bail!("guest: `apt-get update` failed");
    }
    Ok(())
}

/// Downloads and unpacks the kernel package, copies its vmlinuz to `kernel` and returns the
/// modules (name, uncompressed bytes) in [`MODULES`] order.
fn fetch_kernel(dir: &Path, pkg: &str, kernel: &Path) -> Result<Vec<(String, Vec<u8>)>> {
    let work = dir.join("work");
    let _ = std::fs::remove_dir_all(&work);
    std::fs::create_dir_all(&work).context("creating target/guest/work")?;
    let result = fetch_kernel_in(&work, pkg, kernel);
    let _ = std::fs::remove_dir_all(&work);
    result
}

fn fetch_kernel_in(work: &Path, pkg: &str, kernel: &Path) -> Result<Vec<(String, Vec<u8>)>> {
    let mut download = Command::new("apt-get");
    download.args(["download", pkg]).current_dir(work);
    if !run_quiet(download)? {
        bail!("guest: `apt-get download {pkg}` failed");
    }
    let deb = std::fs::read_dir(work)?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .find(|p| p.extension().is_some_and(|e| e == "deb"))
        .with_context(|| format!("guest: `apt-get download {pkg}` left no .deb"))?;
    let tree = work.join("tree");
    let mut extract = Command::new("dpkg-deb");
    extract.arg("-x").arg(&deb).arg(&tree);
    if !run_loud(extract)? {
        bail!("guest: `dpkg-deb -x {}` failed", deb.display());
    }
    let vmlinuz = std::fs::read_dir(tree.join("boot"))
        .context("guest: the kernel package has no boot/")?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .find(|p| {
            p.file_name()
                .is_some_and(|n| n.to_string_lossy().starts_with("vmlinuz-"))
        })
        .context("guest: the kernel package has no boot/vmlinuz-*")?;
    std::fs::copy(&vmlinuz, kernel)
        .with_context(|| format!("copying {} to {}", vmlinuz.display(), kernel.display()))?;
    let mut files = Vec::new();
    for version in read_dir_paths(&tree.join("lib/modules"))? {
        collect_files(&version.join("kernel"), &mut files)?;
    }
    let mut modules = Vec::new();
    for name in MODULES {
        let file = files
            .iter()
            .find(|p| {
                p.file_name().is_some_and(|n| {
                    n == format!("{name}.ko").as_str() || n == format!("{name}.ko.xz").as_str()
                })
            })
            .with_context(|| format!("guest: {pkg} has no module {name}.ko"))?;
        modules.push((name.to_string(), read_module(file)?));
    }
    Ok(modules)
}

/// A module's bytes, decompressed with `xz` if it is a `.ko.xz`.
fn read_module(file: &Path) -> Result<Vec<u8>> {
    if file.extension().is_some_and(|e| e == "xz") {
        let out = Command::new("xz")
            .arg("-dc")
            .arg(file)
            .output()
            .context("guest: the kernel's modules are xz-compressed and `xz` is not installed (apt-get install xz-utils)")?;
        if !out.status.success() {
            bail!("guest: `xz -dc {}` failed", file.display());
        }
        return Ok(out.stdout);
    }
    std::fs::read(file).with_context(|| format!("reading {}", file.display()))
}

/// The initramfs as a newc cpio archive: busybox and its applet links, `/init`, the acpid
/// handler for the power button, the modules and `/dev/console`.
fn initramfs(modules: &[(String, Vec<u8>)]) -> Result<Vec<u8>> {
    let busybox = std::fs::read("/bin/busybox").context("guest: reading /bin/busybox")?;
    let mut cpio = Cpio::default();
    for d in [
        "bin",
        "dev",
        "etc",
        "etc/acpi",
        "etc/acpi/PWRF",
        "lib",
        "lib/modules",
        "proc",
        "root",
        "run",
        "sbin",
        "sys",
        "tmp",
        "usr",
        "usr/bin",
        "usr/sbin",
        "var",
        "var/log",
    ] {
        cpio.dir(d);
    }
    cpio.char_dev("dev/console", 5, 1);
    cpio.file("bin/busybox", 0o755, &busybox);
    for applet in applets()? {
        let path = applet.trim_start_matches('/');
        if path != "bin/busybox" && !path.is_empty() {
            let depth = path.matches('/').count();
            let target = format!("{}bin/busybox", "../".repeat(depth));
            cpio.symlink(path, &target);
        }
    }
    cpio.file("init", 0o755, INIT_SCRIPT.as_bytes());
    cpio.file(
        "etc/acpi/PWRF/00000080",
        0o755,
        b"#!/bin/sh\n# The ACPI power button (QMP system_powerdown): turn off at once.\nexec poweroff -f\n",
    );
    for (name, bytes) in modules {
        cpio.file(&format!("lib/modules/{name}.ko"), 0o644, bytes);
    }
    Ok(cpio.finish())
}

/// The applets of the installed busybox with their full paths (`busybox --list-full`).
fn applets() -> Result<Vec<String>> {
    let out = Command::new("/bin/busybox")
        .arg("--list-full")
        .output()
        .context("guest: running /bin/busybox --list-full")?;
    if !out.status.success() {
        bail!("guest: `/bin/busybox --list-full` failed");
    }
    let mut list: Vec<String> = String::from_utf8_lossy(&out.stdout)
        .lines()
        .map(str::to_string)
        .collect();
    list.sort();
    list.dedup();
    for needed in [
        "bin/sh",
        "sbin/insmod",
        "sbin/acpid",
        "sbin/poweroff",
        "bin/mount",
    ] {
        if !list.iter().any(|a| a == needed) {
            bail!("guest: /bin/busybox has no applet {needed}");
        }
    }
    Ok(list)
}

/// Runs `c` with its output hidden; whether it succeeded.
fn run_quiet(mut c: Command) -> Result<bool> {
    let line = crate::show(&c);
    eprintln!("$ {line}");
    let out = c
        .stdin(Stdio::null())
        .output()
        .with_context(|| format!("could not start `{line}`"))?;
    if !out.status.success() {
        eprint!("{}", String::from_utf8_lossy(&out.stderr));
    }
    Ok(out.status.success())
}

/// Runs `c` with its output shown; whether it succeeded.
fn run_loud(mut c: Command) -> Result<bool> {
    let line = crate::show(&c);
    eprintln!("$ {line}");
    let status = c
        .stdin(Stdio::null())
        .status()
        .with_context(|| format!("could not start `{line}`"))?;
    Ok(status.success())
}

fn on_path(tool: &str) -> bool {
    std::env::var_os("PATH")
        .is_some_and(|paths| std::env::split_paths(&paths).any(|d| d.join(tool).is_file()))
}

fn read_dir_paths(dir: &Path) -> Result<Vec<PathBuf>> {
    let mut paths: Vec<PathBuf> = std::fs::read_dir(dir)
        .with_context(|| format!("reading {}", dir.display()))?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .collect();
    paths.sort();
    Ok(paths)
}

fn collect_files(dir: &Path, out: &mut Vec<PathBuf>) -> Result<()> {
    for path in read_dir_paths(dir)? {
        if path.is_dir() {
            collect_files(&path, out)?;
        } else {
            out.push(path);
        }
    }
    Ok(())
}

fn human_bytes(n: u64) -> String {
    format!("{:.1} MiB", n as f64 / (1024.0 * 1024.0))
}

/// FNV-1a, 64 bits: a stable hash for the stamp (std's hasher may change between releases).
fn fnv1a(data: &[u8]) -> u64 {
    data.iter().fold(0xcbf2_9ce4_8422_2325, |h, b| {
        (h ^ u64::from(*b)).wrapping_mul(0x0100_0000_01b3)
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn kernel_dependency_is_the_cloud_image() {
        let text = "linux-image-cloud-amd64\n  Depends: linux-image-6.1.0-56-cloud-amd64\n";
        assert_eq!(
            parse_kernel_dependency(text).as_deref(),
            Some("linux-image-6.1.0-56-cloud-amd64")
        );
        assert_eq!(parse_kernel_dependency("linux-image-cloud-amd64\n"), None);
    }

    #[test]
    fn init_script_prints_the_lines_boot_waits_for() {
        assert!(INIT_SCRIPT.contains(&format!("echo \"{MARKER}\"")));
        assert!(INIT_SCRIPT.contains(&format!("line=\"{DISKS}\"")));
        for m in MODULES {
            assert!(INIT_SCRIPT.contains(m), "the init script does not load {m}");
        }
    }

    #[test]
    fn fnv1a_is_stable() {
        assert_eq!(fnv1a(b""), 0xcbf2_9ce4_8422_2325);
        assert_eq!(fnv1a(b"a"), 0xaf63_dc4c_8601_ec8c);
    }
}
