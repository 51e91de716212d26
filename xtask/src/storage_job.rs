//! The main job's storage part, on the daemon that just ran the QEMU guest
//! (`qemu:///system`): a `dir` pool built and started through `oxvirsh`, a qcow2 and a raw
//! volume, a file uploaded into the raw one and downloaded back byte for byte, a clone, a
//! TCG guest whose disk is `<disk type='volume'>` (it reports the volume's size), a
//! refused delete while the guest runs, then everything removed again.

use std::path::Path;
use std::process::{Command, Stdio};
use std::time::Instant;

use anyhow::{bail, Context, Result};

use crate::{cmd, step};

/// Size of the raw volume the guest gets, in MiB.
const DATA_MIB: u64 = 16;

/// Runs the storage part against `sock` (the main job's daemon), scratch files in `scratch`.
pub(crate) fn storage_workload(root: &Path, scratch: &Path, sock: &Path) -> Result<()> {
    let uri = format!("qemu+unix:///system?socket={}", sock.display());
    let oxvirsh = root.join("target/release/oxvirsh").display().to_string();
    let dir = scratch.join("storage");
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).context("creating the storage scratch folder")?;
    let pool = dir.join("pool");
    let script = |what: &str, lines: &[String]| -> Result<()> {
        let file = dir.join("storage.oxvirsh");
        std::fs::write(&file, lines.join("\n") + "\n").context("writing the storage workload")?;
        let mut c = cmd(root, &oxvirsh, &["-c", &uri]);
        c.stdin(Stdio::from(
            std::fs::File::open(&file).context("opening the storage workload")?,
        ));
        step(&format!("{what} on {uri}"), c)
    };
    let s = |x: &str| x.to_string();

    // Data with a recognizable head, a hole of zeroes and a tail.
    let mib = 1usize << 20;
    let mut data: Vec<u8> = (0..DATA_MIB as usize * mib)
        .map(|i| (i % 251) as u8)
        .collect();
    data[..16].copy_from_slice(b"OXVIRT-MAIN-JOB!");
    data[4 * mib..12 * mib].fill(0);
    let upload = dir.join("upload.bin");
    let download = dir.join("download.bin");
    std::fs::write(&upload, &data).context("writing the upload file")?;
    script(
        "a dir pool with a qcow2 and a raw volume, upload and download",
        &[
            format!("pool-define-as jobpool dir --target {}", pool.display()),
            s("pool-build jobpool"),
            s("pool-start jobpool"),
            s("pool-autostart jobpool"),
            s("pool-list --all --details"),
            s("vol-create-as jobpool base.qcow2 1G --format qcow2"),
            format!("vol-create-as jobpool data.img {DATA_MIB}M"),
            format!("vol-upload --pool jobpool data.img {}", upload.display()),
            format!(
                "vol-download --pool jobpool data.img {} --sparse",
                download.display()
            ),
            s("vol-clone --pool jobpool data.img copy.img"),
            s("vol-list jobpool --details"),
            s("vol-info --pool jobpool base.qcow2"),
            s("pool-info jobpool"),
        ],
    )?;
    let back = std::fs::read(&download).context("reading the downloaded volume")?;
    if back != data {
        bail!("vol-download gave back different bytes than vol-upload sent");
    }
    eprintln!("vol-download gave back the {DATA_MIB} MiB vol-upload sent, byte for byte");

    let guest_dir = root.join("target/guest");
    let serial_log = dir.join("stor-serial.log");
    let xml = std::fs::read_to_string(root.join("xtask/data/qemu-guest.xml"))
        .context("reading xtask/data/qemu-guest.xml")?
        .replace("<name>tiny</name>", "<name>stor</name>")
        .replace("@KERNEL@", &guest_dir.join("vmlinuz").display().to_string())
        .replace(
            "@INITRD@",
            &guest_dir.join("initrd.gz").display().to_string(),
        )
        .replace("@SERIALLOG@", &serial_log.display().to_string())
        .replace(
            "<devices>",
            "<devices>\n    <disk type='volume' device='disk'>\n      \
             <source pool='jobpool' volume='copy.img'/>\n      \
             <target dev='vda' bus='virtio'/>\n    </disk>",
        );
    let xml_file = dir.join("stor.xml");
    std::fs::write(&xml_file, xml).context("writing the guest with a volume")?;
    script(
        "a TCG guest whose disk is a pool volume",
        &[
            format!("define {}", xml_file.display()),
            s("start stor"),
            s("domstate stor --reason"),
        ],
    )?;
    eprintln!(
        "\n==> waiting for the guest's disk report in {}",
        serial_log.display()
    );
    let started = Instant::now();
    let want = format!("vda={}", DATA_MIB * 2048);
    let line = loop {
        let log = std::fs::read_to_string(&serial_log).unwrap_or_default();
        if let Some(line) = log.lines().find(|l| l.contains("OXVIRT-DISK-SIZES:")) {
            break line.trim().to_string();
        }
        if started.elapsed().as_secs() > 60 {
            let _ = Command::new(&oxvirsh)
                .args(["-c", &uri, "destroy", "stor"])
                .status();
            bail!("the guest reported no disks within 60 s");
        }
        std::thread::sleep(std::time::Duration::from_millis(100));
    };
    eprintln!("{line} (after {:.1} s)", started.elapsed().as_secs_f64());
    if !line.split_whitespace().any(|w| w == want) {
        let _ = Command::new(&oxvirsh)
            .args(["-c", &uri, "destroy", "stor"])
            .status();
        bail!("the guest does not see the {DATA_MIB} MiB volume as vda ({want}): {line}");
    }
    eprintln!("\n==> vol-delete of the volume the running guest uses (refused)");
    let refused = Command::new(&oxvirsh)
        .args(["-c", &uri, "vol-delete", "--pool", "jobpool", "copy.img"])
        .output()
        .context("running oxvirsh vol-delete")?;
    eprint!("{}", String::from_utf8_lossy(&refused.stderr));
    if refused.status.success() {
        bail!("vol-delete removed a volume a running guest uses");
    }
    script(
        "stop the guest, remove the volumes and the pool",
        &[
            s("destroy stor"),
            s("undefine stor"),
            s("vol-delete --pool jobpool copy.img"),
            s("vol-delete --pool jobpool data.img"),
            s("vol-delete --pool jobpool base.qcow2"),
            s("pool-destroy jobpool"),
            s("pool-delete jobpool"),
            s("pool-undefine jobpool"),
            s("pool-list --all"),
        ],
    )?;
    if pool.exists() {
        bail!("pool-delete left {}", pool.display());
    }
    let _ = std::fs::remove_dir_all(&dir);
    Ok(())
}
