//! `cargo xtask guest --boot`: the guest booted once under TCG, with the ready marker, the
//! disk report and an ACPI shutdown over QMP checked.

use std::io::{BufRead, BufReader, Write};
use std::os::unix::net::UnixStream;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use anyhow::{bail, Context, Result};

use super::{Guest, DISKS, MARKER};

/// A QEMU process that is killed and reaped whenever this goes out of scope.
struct Qemu(Child);

impl Drop for Qemu {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// Boots the guest once under TCG: waits for the marker and the disk report, then asks for
/// an ACPI shutdown over QMP and checks QEMU exits by itself.
pub(super) fn boot_once(dir: &Path, guest: &Guest) -> Result<()> {
    let run = dir.join("boot");
    let _ = std::fs::remove_dir_all(&run);
    std::fs::create_dir_all(&run).context("creating target/guest/boot")?;
    let log = run.join("serial.log");
    let sock = run.join("qmp.sock");
    let scratch = run.join("scratch.img");
    std::fs::File::create(&scratch)
        .and_then(|f| f.set_len(1 << 20))
        .context("creating the scratch disk")?;
    let mut c = Command::new("qemu-system-x86_64");
    c.args([
        "-machine",
        "q35",
        "-accel",
        "tcg",
        "-m",
        "256",
        "-nodefaults",
    ])
    .args(["-display", "none", "-kernel"])
    .arg(&guest.kernel)
    .arg("-initrd")
    .arg(&guest.initrd)
    .args(["-append", "console=ttyS0 panic=-1", "-serial"])
    .arg(format!("file:{}", log.display()))
    .arg("-qmp")
    .arg(format!("unix:{},server=on,wait=off", sock.display()))
    .arg("-drive")
    .arg(format!("file={},if=virtio,format=raw", scratch.display()))
    .stdin(Stdio::null());
    eprintln!("$ {}", crate::show(&c));
    let started = Instant::now();
    let mut qemu =
        Qemu(c.spawn().context(
            "guest: could not start qemu-system-x86_64 (apt-get install qemu-system-x86)",
        )?);
    wait_for_line(&mut qemu, &log, Duration::from_secs(60), |l| l == MARKER)
        .context("guest: no ready marker")?;
    let to_marker = started.elapsed();
    eprintln!("guest: {MARKER} after {to_marker:.2?}");
    let disks = wait_for_line(&mut qemu, &log, Duration::from_secs(30), |l| {
        l.starts_with(DISKS)
    })
    .context("guest: no disk report")?;
    let to_disks = started.elapsed();
    eprintln!("guest: {disks} after {to_disks:.2?}");
    if disks.trim() != format!("{DISKS} vda") {
        bail!("guest: expected `{DISKS} vda` for the one scratch disk, got `{disks}`");
    }
    let powerdown = Instant::now();
    qmp_powerdown(&sock)?;
    let deadline = powerdown + Duration::from_secs(20);
    loop {
        if let Some(status) = qemu.0.try_wait().context("waiting for qemu")? {
            let to_exit = powerdown.elapsed();
            if !status.success() {
                bail!("guest: qemu exited with {status} after system_powerdown");
            }
            println!("boot-to-marker:    {to_marker:.2?}");
            println!("boot-to-disks:     {to_disks:.2?}");
            println!("powerdown-to-exit: {to_exit:.2?}");
            println!("serial log:        {}", log.display());
            return Ok(());
        }
        if Instant::now() >= deadline {
            bail!("guest: QEMU still runs 20 s after system_powerdown: ACPI shutdown did not work (killed it; see {})", log.display());
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// Polls the serial log until a line matches, failing if QEMU exits or time runs out.
fn wait_for_line(
    qemu: &mut Qemu,
    log: &Path,
    timeout: Duration,
    want: impl Fn(&str) -> bool,
) -> Result<String> {
    let deadline = Instant::now() + timeout;
    loop {
        let text = std::fs::read(log).unwrap_or_default();
        let text = String::from_utf8_lossy(&text);
        // Only whole lines: the last one may still be being written.
        let whole = text.rfind('\n').map_or("", |end| &text[..end]);
        if let Some(line) = whole
            .lines()
            .map(|l| l.trim_end_matches('\r'))
            .find(|l| want(l))
        {
            return Ok(line.to_string());
        }
        if let Some(status) = qemu.0.try_wait().context("waiting for qemu")? {
            bail!("qemu exited ({status}); see {}", log.display());
        }
        if Instant::now() >= deadline {
            bail!("timed out after {timeout:?}; see {}", log.display());
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// `qmp_capabilities` then `system_powerdown` over the QMP socket.
fn qmp_powerdown(sock: &Path) -> Result<()> {
    let stream = UnixStream::connect(sock)
        .with_context(|| format!("guest: connecting to QMP at {}", sock.display()))?;
    stream.set_read_timeout(Some(Duration::from_secs(10)))?;
    let mut writer = stream.try_clone()?;
    let mut reader = BufReader::new(stream);
    let mut line = String::new();
    reader
        .read_line(&mut line)
        .context("reading the QMP greeting")?;
    if !line.contains("\"QMP\"") {
        bail!("guest: unexpected QMP greeting: {line}");
    }
    for command in ["qmp_capabilities", "system_powerdown"] {
        writeln!(writer, "{{\"execute\":\"{command}\"}}")?;
        loop {
            line.clear();
            if reader.read_line(&mut line)? == 0 {
                bail!("guest: QMP closed before answering {command}");
            }
            if line.contains("\"return\"") {
                break;
            }
            if line.contains("\"error\"") {
                bail!("guest: QMP {command} failed: {}", line.trim());
            }
            // An event: keep reading.
        }
    }
    Ok(())
}
