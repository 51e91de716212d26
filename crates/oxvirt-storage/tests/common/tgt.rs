//! A real iSCSI target for tests: tgt's `tgtd` on a free port with a private control
//! port, one target whose LUNs are sparse files; everything removed when dropped.

#![allow(dead_code)]

use std::net::{SocketAddr, TcpListener};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use oxvirt_xml::testdata::{have, is_root, unavailable};

/// A port no one listens on now.
pub fn free_port() -> u16 {
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind a free port");
    listener.local_addr().expect("local address").port()
}

/// A running `tgtd` with its target and backing files.
pub struct Tgt {
    child: Child,
    control: String,
    /// The portal tgtd listens on.
    pub portal: SocketAddr,
    /// The target's name.
    pub iqn: String,
    /// The directory of the LUNs' backing files (`lunN.img`).
    pub dir: PathBuf,
}

impl Tgt {
    /// Runs `tgtadm` on this tgtd.
    pub fn adm(&self, args: &[&str]) -> Result<String, String> {
        let out = Command::new("tgtadm")
            .args(["-C", &self.control])
            .args(args)
            .output()
            .map_err(|e| format!("tgtadm: {e}"))?;
        if out.status.success() {
            Ok(String::from_utf8_lossy(&out.stdout).into_owned())
        } else {
            Err(format!(
                "tgtadm {args:?}: {}",
                String::from_utf8_lossy(&out.stderr).trim()
            ))
        }
    }

    /// Starts tgtd (control port `control_base + pid % 10000`, below 32768 as tgtadm
    /// wants) and makes a target whose LUN n is backed by a sparse file of `sizes[n-1]`
    /// bytes that begins with `pattern(n)`.
    pub fn start(sizes: &[u64], control_base: u32) -> Tgt {
        let port = free_port();
        let control = (control_base + std::process::id() % 10_000).to_string();
        let child = Command::new("tgtd")
            .args(["-f", "-C", &control, "--iscsi"])
            .arg(format!("portal=127.0.0.1:{port}"))
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("spawn tgtd");
        let id = format!("{}-{control}", std::process::id());
        let tgt = Tgt {
            child,
            control,
            portal: SocketAddr::from(([127, 0, 0, 1], port)),
            iqn: format!("iqn.2024-01.org.oxvirt:tgt-{id}"),
            dir: std::env::temp_dir().join(format!("oxvirt-iscsi-{id}")),
        };
        // The first start on a machine can be slow (tgtd probes RDMA).
        let deadline = Instant::now() + Duration::from_secs(30);
        while let Err(e) = tgt.adm(&["--lld", "iscsi", "--op", "show", "--mode", "target"]) {
            assert!(Instant::now() < deadline, "tgtd did not come up: {e}");
            std::thread::sleep(Duration::from_millis(50));
        }
        std::fs::create_dir_all(&tgt.dir).expect("make the backing directory");
        tgt.adm(&[
            "--lld", "iscsi", "--op", "new", "--mode", "target", "--tid", "1", "-T", &tgt.iqn,
        ])
        .expect("new target");
        for (i, size) in sizes.iter().enumerate() {
            let lun = i + 1;
            let path = tgt.dir.join(format!("lun{lun}.img"));
            let file = std::fs::File::create(&path).expect("create backing file");
            std::fs::write(&path, pattern(lun as u64)).expect("write pattern");
            file.set_len(*size).expect("size backing file");
            let path = path.to_string_lossy().into_owned();
            let lun = lun.to_string();
            tgt.adm(&[
                "--lld",
                "iscsi",
                "--op",
                "new",
                "--mode",
                "logicalunit",
                "--tid",
                "1",
                "--lun",
                &lun,
                "-b",
                &path,
            ])
            .expect("new logical unit");
        }
        tgt.adm(&[
            "--lld", "iscsi", "--op", "bind", "--mode", "target", "--tid", "1", "-I", "ALL",
        ])
        .expect("bind target");
        tgt
    }
}

impl Drop for Tgt {
    fn drop(&mut self) {
        // tgtd ignores SIGTERM: take it offline, remove its targets, then delete the
        // system.
        let shown = self
            .adm(&["--lld", "iscsi", "--op", "show", "--mode", "target"])
            .unwrap_or_default();
        for tid in shown.lines().filter_map(|l| {
            l.strip_prefix("Target ")?
                .split(':')
                .next()?
                .trim()
                .parse::<u32>()
                .ok()
        }) {
            let tid = tid.to_string();
            let _ = self.adm(&[
                "--lld", "iscsi", "--op", "delete", "--mode", "target", "--tid", &tid, "--force",
            ]);
        }
        let _ = self.adm(&[
            "--op", "update", "--mode", "sys", "--name", "State", "-v", "offline",
        ]);
        let _ = self.adm(&["--op", "delete", "--mode", "system"]);
        let deadline = Instant::now() + Duration::from_secs(3);
        loop {
            match self.child.try_wait() {
                Ok(Some(_)) => break,
                Ok(None) if Instant::now() < deadline => {
                    std::thread::sleep(Duration::from_millis(200));
                    let _ = self.adm(&["--op", "delete", "--mode", "system"]);
                }
                _ => {
                    eprintln!("tgtd {} did not exit: killing it", self.child.id());
                    let _ = self.child.kill();
                    let _ = self.child.wait();
                    break;
                }
            }
        }
        let _ = std::fs::remove_dir_all(&self.dir);
        for suffix in ["", ".lock"] {
            let _ = std::fs::remove_file(format!("/var/run/tgtd/socket.{}{suffix}", self.control));
        }
    }
}

/// The first bytes of LUN `lun`'s backing file: a name, then 1000 bytes counting up.
pub fn pattern(lun: u64) -> Vec<u8> {
    let mut p = format!("OXVIRT-ISCSI-LUN{lun}:").into_bytes();
    p.extend((0..1000u32).map(|i| (i as u64 * 7 + lun) as u8));
    p
}

/// Whether tgtd can run here (root, tgt installed); says why not otherwise.
pub fn usable(test: &str) -> bool {
    if !is_root() {
        unavailable(test, "needs root for tgtd");
        return false;
    }
    for program in ["tgtd", "tgtadm"] {
        if !have(program) {
            unavailable(test, &format!("{program} is not installed"));
            return false;
        }
    }
    true
}

static TURNS: std::sync::Mutex<()> = std::sync::Mutex::new(());

/// The tests of one binary take turns: a port found free for one must not be the one
/// another's tgtd listens on.
pub fn turn() -> std::sync::MutexGuard<'static, ()> {
    TURNS
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
}
