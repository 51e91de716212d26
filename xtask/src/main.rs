//! The project's task runner: `cargo xtask <command>` (the alias is in `.cargo/config.toml`).
//!
//! Every command is printed before it runs; the first one that fails stops the task with a
//! message saying which step failed.

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::Instant;

use anyhow::{bail, Context, Result};

mod bench_migrate;
mod bench_network;
mod bench_remote;
mod bench_storage;
mod guest;
mod nodes;
mod remote_job;
mod storage_job;

const HELP: &str = "\
usage: cargo xtask <command>

commands:
  run [FILE.xml...]        the main job: oxvirtd serves the built-in test node on a private
                           socket and oxvirsh, over libvirt's wire protocol, drives a guest
                           through its life (define, start, snapshot, setmem, suspend,
                           save/restore, managed save, shutdown, undefine) while virsh
                           watches the events; then a real TCG guest on qemu:///system;
                           then a dir pool there: volumes, upload/download, a clone, a
                           TCG guest whose disk is a volume; then (as root) a second oxvirtd in a network namespace of its
                           own starts a NAT network, a client namespace on its bridge and
                           a TCG guest on it get DHCP leases (net-dhcp-leases, domifaddr),
                           and net-destroy leaves nothing behind; with files, read
                           each domain XML, check it as libvirt does when defining it, and
                           print it as libvirt would store it
  ci                       everything CI checks: rustfmt, clippy, the test guest (cargo
                           xtask guest), the tests (with OXVIRT_REQUIRE_GUEST=1: the real
                           QEMU guest tests must run), the conformance suites with their
                           counts, and building the fuzz targets
  conformance              the conformance suites against ../shared, with their counts
  bench [ARGS...]          the criterion benchmarks (ARGS go to criterion, e.g.
                           --warm-up-time 1 --measurement-time 3)
  bench rpc                one client workload against oxvirtd and Debian's libvirtd in
                           the same run: latencies, throughput, idle RSS and the ratios
  bench node               node info, capabilities, domain capabilities, free memory, CPU
                           map and statistics on oxvirtd and Debian's libvirtd
                           (qemu:///system), same python3-libvirt client, same run
  bench qemu               define/start/destroy/undefine of an idle TCG guest on oxvirtd
                           and on Debian's libvirtd (qemu:///system), same client, same run:
                           median/p90/min/max per operation and the ratio; JSON in
                           target/bench-qemu.json (OXBENCH_ROUNDS, OXBENCH_BUDGET_SECS,
                           OXBENCH_CALL_TIMEOUT_SECS)
  bench network            a NAT network with DHCP on a release oxvirtd and on a private
                           Debian libvirtd 9.0, each in its own network namespace (nothing
                           in the root one), same python3-libvirt client, same run: median
                           net-start and net-destroy over 20 cycles, DHCP lease time of a
                           busybox udhcpc client namespace on the bridge (5 leases), and
                           the ratio; JSON in target/bench-network.json (root; needs
                           iproute2, nftables, dnsmasq-base, iptables, busybox)
  bench storage            a dir pool on a release oxvirtd and on a private Debian libvirtd
                           9.0 (each in its own namespace, pools on the same file system),
                           same python3-libvirt client, same run: median pool-start,
                           pool-destroy, vol-create-as of a 1 GiB qcow2, pool-refresh and
                           vol-list over 1,000 volumes, and the ratio; JSON in
                           target/bench-storage.json (root)
  bench migrate            `virsh migrate --live` (plain, --p2p, --p2p --tunnelled) of a
                           booted 256 MiB TCG guest between two release oxvirtd nodes and
                           between two private Debian libvirtd 9.0 nodes (namespaces on a
                           bridge, TCP), and raw QEMU to raw QEMU, same run: median wall
                           time and downtime per mode, the ratio and the gap to raw QEMU
                           (each daemon migration is followed by a raw QEMU one in the same
                           namespaces); in target/bench/migrate.txt (root; OXBENCH_ROUNDS,
                           6 by default; OXBENCH_NO_BUILD=1 keeps target/release/oxvirtd)
  bench remote             remote access on a release oxvirtd and a private Debian libvirtd
                           9.0 (TLS with certtool's certificates, sshd, in a network
                           namespace), same python3-libvirt process, same run: median
                           connect+open+call+close over unix, TLS and SSH, calls/s on
                           one open connection, and the per-call cost of access control
                           (a 5-rule policy; libvirtd with polkit) for a non-root uid and
                           a TLS DN; in target/bench/remote.txt (root; OXBENCH_ROUNDS, 200
                           by default; OXBENCH_NO_BUILD=1)
  fuzz [SECONDS] [TARGET...]
                           seed fuzz/corpus/<target> from ../shared's XML, then run each
                           target (all by default) for SECONDS (60 by default); needs a
                           nightly toolchain and cargo-fuzz
  guest [--boot]           build the test guest (Debian's cloud kernel, busybox, our /init)
                           into target/guest, cached; --boot boots it once under TCG and
                           checks the ready marker, the disk report and ACPI shutdown
  nodes up|down|status     two release oxvirtd nodes on one machine (root): network
                           namespaces oxvt-node-a/-b on a bridge (192.168.250.1 and .2,
                           the host .254), each daemon with its own target/nodes/{a,b}
                           directories and host UUID, on its unix socket and TCP 16509;
                           `up` prints the URIs (also in target/nodes/env), `down` stops
                           and removes everything, `status` says what runs
  help                     this text

environment:
  OXVIRT_CONFORMANCE       where libvirt's test data is (default: ../shared/conformance)
";

/// The fuzz targets and the folders their seed corpora come from: under the conformance
/// data, or under the project with `project:`.
const FUZZ_TARGETS: &[(&str, &[&str])] = &[
    (
        "domain_xml",
        &[
            "libvirt-9.0.0/domain/qemuxml2argvdata",
            "libvirt-9.0.0/domain/qemuxml2xmloutdata",
            "libvirt-9.0.0/domain/genericxml2xmlindata",
            "libvirt-9.0.0/domain/genericxml2xmloutdata",
            "libvirt-9.0.0/domain/domainschemadata",
        ],
    ),
    (
        "snapshot_xml",
        &[
            "libvirt-9.0.0/domain/qemudomainsnapshotxml2xmlin",
            "libvirt-9.0.0/domain/qemudomainsnapshotxml2xmlout",
        ],
    ),
    ("xml_tree", &["libvirt-9.0.0"]),
    (
        "host_text",
        &[
            "libvirt-9.0.0/node/sysinfodata",
            "libvirt-9.0.0/node/virhostcpudata",
        ],
    ),
    (
        "node_xml",
        &["project:crates/oxvirt-driver-test/tests/data"],
    ),
    ("uri", &["project:fuzz/seeds/uri"]),
    ("rpc_packet", &["project:fuzz/seeds/rpc"]),
    ("x509_dn", &["project:fuzz/seeds/x509"]),
    ("access_policy", &["project:fuzz/seeds/policy"]),
    (
        "network_xml",
        &[
            "libvirt-9.0.0/network/networkxml2xmlin",
            "libvirt-9.0.0/network/networkxml2xmlout",
        ],
    ),
    ("storage_xml", &["libvirt-9.0.0/storage"]),
    (
        "migration_cookie",
        &["libvirt-9.0.0/qemu/qemumigrationcookiexmldata"],
    ),
];

/// Seed files larger than this are left out: libFuzzer mutates small inputs best.
const MAX_SEED_BYTES: u64 = 64 * 1024;

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let started = Instant::now();
    match run(&args) {
        Ok(()) => eprintln!("xtask: done in {:.0?}", started.elapsed()),
        Err(e) => {
            eprintln!("xtask: FAILED: {e:#}");
            std::process::exit(1);
        }
    }
}

fn run(args: &[String]) -> Result<()> {
    let root = project_root()?;
    let rest = args.get(1..).unwrap_or_default();
    match args.first().map(String::as_str) {
        Some("run") => run_main_job(&root, rest),
        Some("ci") => ci(&root),
        Some("conformance") => conformance(&root),
        Some("bench") => bench(&root, rest),
        Some("fuzz") => fuzz(&root, rest),
        Some("guest") => guest::guest(&root, rest),
        Some("nodes") => nodes::nodes(&root, rest),
        Some("help" | "--help" | "-h") | None => {
            print!("{HELP}");
            Ok(())
        }
        Some(other) => {
            eprint!("{HELP}");
            bail!("unknown command '{other}'")
        }
    }
}

/// The workspace root: the parent of this crate's folder.
fn project_root() -> Result<PathBuf> {
    let manifest = std::env::var_os("CARGO_MANIFEST_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(env!("CARGO_MANIFEST_DIR")));
    manifest
        .parent()
        .map(Path::to_path_buf)
        .context("xtask's folder has no parent")
}

/// A command to run in `dir`, without the toolchain choice of the `cargo run` that started
/// the xtask, so that `+nightly` and rustup's defaults apply as on a command line.
fn cmd(dir: &Path, program: &str, args: &[&str]) -> Command {
    let mut c = Command::new(program);
    c.args(args).current_dir(dir).env_remove("RUSTUP_TOOLCHAIN");
    c
}

fn cargo(dir: &Path, args: &[&str]) -> Command {
    cmd(dir, "cargo", args)
}

fn show(c: &Command) -> String {
    let mut parts: Vec<String> = vec![c.get_program().to_string_lossy().into_owned()];
    parts.extend(c.get_args().map(|a| a.to_string_lossy().into_owned()));
    parts.join(" ")
}

/// Runs a step, printing it first; fails with the step's name when it fails.
fn step(step: &str, mut c: Command) -> Result<()> {
    let line = show(&c);
    eprintln!("\n==> {step}\n$ {line}");
    let started = Instant::now();
    let status = c
        .status()
        .with_context(|| format!("step '{step}': could not start `{line}`"))?;
    if !status.success() {
        bail!("step '{step}' failed ({status}): `{line}`");
    }
    eprintln!("==> {step}: ok in {:.0?}", started.elapsed());
    Ok(())
}

/// Whether `c` runs and exits with success, its output hidden.
fn works(mut c: Command) -> bool {
    c.stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success())
}

fn has_nightly(root: &Path) -> bool {
    works(cargo(root, &["+nightly", "--version"]))
}

fn has_cargo_fuzz(root: &Path) -> bool {
    works(cargo(root, &["+nightly", "fuzz", "--version"]))
}

fn run_main_job(root: &Path, files: &[String]) -> Result<()> {
    if files.is_empty() {
        return run_workload(root);
    }
    for file in files {
        let mut c = cargo(
            root,
            &[
                "run",
                "-q",
                "--release",
                "-p",
                "oxvirt-domain",
                "--example",
                "domcheck",
                "--",
            ],
        );
        c.arg(file);
        step(&format!("domcheck {file}"), c)?;
    }
    Ok(())
}

/// The main job without arguments: `oxvirtd` serves the built-in test node
/// (`test:///default`) on a private socket, and `oxvirsh`, connected through libvirt's
/// wire protocol, drives a guest through its whole life: define, start, snapshot, memory,
/// pause, save/restore, managed save, shutdown, undefine. Then the same daemon runs a real
/// QEMU guest ([`qemu_workload`]) and storage pool work with a guest on a volume
/// ([`storage_job::storage_workload`]); a second daemon serves TLS clients under an access
/// policy ([`remote_job::remote_workload`]); and a NAT network with a DHCP client and a guest runs
/// on an oxvirtd inside a network namespace ([`bench_network::network_workload`]). Where Debian's virsh
/// is installed, `virsh event --loop --all` watches the same daemon and prints the events.
fn run_workload(root: &Path) -> Result<()> {
    let scratch = root.join("target/xtask-run");
    // A fresh node each time: the state dir of the last run would carry its domains over.
    let _ = std::fs::remove_dir_all(scratch.join("run"));
    let _ = std::fs::remove_dir_all(scratch.join("state"));
    std::fs::create_dir_all(&scratch).context("creating target/xtask-run")?;
    let save = scratch.join("demo.save");
    let _ = std::fs::remove_file(&save);
    let script = std::fs::read_to_string(root.join("xtask/data/workload.oxvirsh"))
        .context("reading xtask/data/workload.oxvirsh")?
        .replace(
            "@GUEST@",
            &root.join("xtask/data/guest.xml").display().to_string(),
        )
        .replace("@SAVE@", &save.display().to_string());
    let script_file = scratch.join("workload.oxvirsh");
    std::fs::write(&script_file, script).context("writing the workload")?;
    step(
        "build oxvirtd and oxvirsh",
        cargo(
            root,
            &[
                "build",
                "-q",
                "--release",
                "-j2",
                "-p",
                "oxvirtd",
                "-p",
                "oxvirsh",
            ],
        ),
    )?;
    let run_dir = scratch.join("run");
    let state_dir = scratch.join("state");
    let sock = run_dir.join("libvirt-sock");
    eprintln!(
        "\n==> oxvirtd --runtime-dir {} --state-dir {}",
        run_dir.display(),
        state_dir.display()
    );
    let daemon = Daemon(
        Command::new(root.join("target/release/oxvirtd"))
            .arg("--runtime-dir")
            .arg(&run_dir)
            .arg("--state-dir")
            .arg(&state_dir)
            .spawn()
            .context("starting oxvirtd")?,
    );
    wait_for_socket(&sock)?;
    let uri = format!("test+unix:///default?socket={}", sock.display());
    let watcher = Command::new("virsh")
        .args(["-c", &uri, "event", "--loop", "--all", "--timeout", "30"])
        .stdout(Stdio::piped())
        .spawn()
        .ok();
    // Let the watcher register its callbacks before the first event.
    std::thread::sleep(std::time::Duration::from_millis(500));
    let mut c = cmd(
        root,
        &root.join("target/release/oxvirsh").display().to_string(),
        &["-c", &uri],
    );
    c.stdin(Stdio::from(
        std::fs::File::open(&script_file).context("opening the workload")?,
    ));
    let mut result = step(&format!("oxvirsh workload on {uri}"), c);
    if result.is_ok() {
        result = qemu_workload(root, &scratch, &sock);
    }
    if result.is_ok() {
        result = storage_job::storage_workload(root, &scratch, &sock);
    }
    if result.is_ok() {
        result = remote_job::remote_workload(root, &scratch);
    }
    if result.is_ok() {
        let oxvirsh = root.join("target/release/oxvirsh").display().to_string();
        result = bench_network::network_workload(root, &scratch, &oxvirsh);
    }
    if let Some(watcher) = watcher {
        std::thread::sleep(std::time::Duration::from_millis(300));
        // virsh stops its event loop on SIGINT and prints what it counted.
        let _ = Command::new("kill")
            .args(["-INT", &watcher.id().to_string()])
            .status();
        if let Ok(out) = watcher.wait_with_output() {
            eprintln!("\n==> what `virsh event --loop --all` saw meanwhile");
            print!("{}", String::from_utf8_lossy(&out.stdout));
        }
    }
    drop(daemon);
    result
}

/// The main job's second half: the same daemon runs a real guest under QEMU (TCG) through
/// `qemu:///system`: define, start, the guest's boot marker in its serial log, pause and
/// resume, save and restore, an ACPI shutdown the guest answers, undefine.
fn qemu_workload(root: &Path, scratch: &Path, sock: &Path) -> Result<()> {
    guest::guest(root, &[])?;
    let guest_dir = root.join("target/guest");
    let serial_log = scratch.join("tiny-serial.log");
    let _ = std::fs::remove_file(&serial_log);
    let xml = std::fs::read_to_string(root.join("xtask/data/qemu-guest.xml"))
        .context("reading xtask/data/qemu-guest.xml")?
        .replace("@KERNEL@", &guest_dir.join("vmlinuz").display().to_string())
        .replace(
            "@INITRD@",
            &guest_dir.join("initrd.gz").display().to_string(),
        )
        .replace("@SERIALLOG@", &serial_log.display().to_string());
    let xml_file = scratch.join("tiny.xml");
    std::fs::write(&xml_file, xml).context("writing the QEMU guest")?;
    let save = scratch.join("tiny.save");
    let _ = std::fs::remove_file(&save);
    let uri = format!("qemu+unix:///system?socket={}", sock.display());
    let oxvirsh = root.join("target/release/oxvirsh").display().to_string();
    let script = |what: &str, lines: &[String]| -> Result<()> {
        let file = scratch.join("qemu.oxvirsh");
        std::fs::write(&file, lines.join("\n") + "\n").context("writing the QEMU workload")?;
        let mut c = cmd(root, &oxvirsh, &["-c", &uri]);
        c.stdin(Stdio::from(
            std::fs::File::open(&file).context("opening the QEMU workload")?,
        ));
        step(&format!("{what} on {uri}"), c)
    };
    let domstate = || -> String {
        Command::new(&oxvirsh)
            .args(["-c", &uri, "domstate", "tiny"])
            .output()
            .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_string())
            .unwrap_or_default()
    };
    let s = |x: &str| x.to_string();
    script(
        "the node, then define, start and pin a QEMU guest",
        &[
            s("nodeinfo"),
            s("nodecpumap"),
            s("freecell --all"),
            format!("define {}", xml_file.display()),
            s("start tiny"),
            s("dominfo tiny"),
            s("vcpupin tiny 0 0 --live"),
            s("vcpuinfo tiny"),
            s("emulatorpin tiny"),
        ],
    )?;
    eprintln!(
        "\n==> waiting for the guest's boot marker in {}",
        serial_log.display()
    );
    let started = Instant::now();
    loop {
        let log = std::fs::read_to_string(&serial_log).unwrap_or_default();
        if let Some(line) = log.lines().find(|l| l.contains("OXVIRT-GUEST-READY")) {
            eprintln!("{line} (after {:.1} s)", started.elapsed().as_secs_f64());
            break;
        }
        if started.elapsed().as_secs() > 60 {
            bail!("the guest printed no OXVIRT-GUEST-READY within 60 s");
        }
        std::thread::sleep(std::time::Duration::from_millis(100));
    }
    // Let the guest's init start its ACPI daemon before the power button is pressed.
    let acpi_ready = Instant::now();
    while !std::fs::read_to_string(&serial_log)
        .unwrap_or_default()
        .contains("OXVIRT-DISKS")
        && acpi_ready.elapsed().as_secs() < 30
    {
        std::thread::sleep(std::time::Duration::from_millis(100));
    }
    script(
        "pause, save and restore the QEMU guest",
        &[
            s("suspend tiny"),
            s("domstate tiny --reason"),
            s("resume tiny"),
            s("domstate tiny --reason"),
            format!("save tiny {}", save.display()),
            s("domstate tiny --reason"),
            format!("restore {}", save.display()),
            s("domstate tiny --reason"),
            s("dominfo tiny"),
            s("shutdown tiny"),
        ],
    )?;
    eprintln!("\n==> waiting for the guest to power off");
    let stopping = Instant::now();
    while domstate() != "shut off" {
        if stopping.elapsed().as_secs() > 30 {
            let _ = Command::new(&oxvirsh)
                .args(["-c", &uri, "destroy", "tiny"])
                .status();
            bail!("the guest did not power off within 30 s of the ACPI shutdown");
        }
        std::thread::sleep(std::time::Duration::from_millis(100));
    }
    eprintln!("shut off after {:.1} s", stopping.elapsed().as_secs_f64());
    let _ = std::fs::remove_file(&save);
    script(
        "undefine the QEMU guest",
        &[
            s("domstate tiny --reason"),
            s("undefine tiny"),
            s("list --all"),
        ],
    )
}

/// A daemon the main job started: SIGTERM (a graceful stop) when dropped.
struct Daemon(std::process::Child);

impl Drop for Daemon {
    fn drop(&mut self) {
        let _ = Command::new("kill")
            .args(["-TERM", &self.0.id().to_string()])
            .status();
        let _ = self.0.wait();
    }
}

fn wait_for_socket(sock: &Path) -> Result<()> {
    for _ in 0..250 {
        if std::os::unix::net::UnixStream::connect(sock).is_ok() {
            return Ok(());
        }
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
    bail!("oxvirtd did not listen on {} within 5 s", sock.display())
}

fn ci(root: &Path) -> Result<()> {
    step(
        "rustfmt",
        cargo(root, &["fmt", "--all", "--", "--check", "--color", "never"]),
    )?;
    step(
        "rustfmt (fuzz crate)",
        cargo(
            root,
            &[
                "fmt",
                "--manifest-path",
                "fuzz/Cargo.toml",
                "--",
                "--check",
                "--color",
                "never",
            ],
        ),
    )?;
    step(
        "clippy",
        cargo(
            root,
            &[
                "clippy",
                "--workspace",
                "--all-targets",
                "-j2",
                "--",
                "-D",
                "warnings",
            ],
        ),
    )?;
    // The QEMU driver's acceptance tests boot the test guest: build it first, and make
    // those tests fail (not skip) without it.
    eprintln!("\n==> test guest (target/guest)");
    guest::guest(root, &[])?;
    // Uncaptured, so that the conformance suites' counts show; the other tests print
    // nothing when they pass. One run, not a second one just for the counts.
    let mut tests = cargo(root, &["test", "--workspace", "-j2", "--", "--nocapture"]);
    tests.env("OXVIRT_REQUIRE_GUEST", "1");
    step("tests (with the conformance counts)", tests)?;
    if has_nightly(root) && has_cargo_fuzz(root) {
        let mut build = cargo(&root.join("fuzz"), &["+nightly", "fuzz", "build"]);
        build.env("CARGO_BUILD_JOBS", "2");
        step("fuzz targets build", build)?;
    } else {
        eprintln!("\nnightly toolchain or cargo-fuzz missing: checking the fuzz crate only");
        step(
            "fuzz targets check",
            cargo(
                root,
                &[
                    "check",
                    "--manifest-path",
                    "fuzz/Cargo.toml",
                    "-j2",
                    "--bins",
                ],
            ),
        )?;
    }
    Ok(())
}

/// Every `crates/<crate>/tests/*conformance*.rs`, as (crate folder name, test name).
fn conformance_suites(root: &Path) -> Result<Vec<(String, String)>> {
    let mut suites = Vec::new();
    let crates = root.join("crates");
    for krate in read_dir_sorted(&crates)? {
        let tests = krate.join("tests");
        if !tests.is_dir() {
            continue;
        }
        for file in read_dir_sorted(&tests)? {
            let is_suite = file.extension().is_some_and(|e| e == "rs")
                && file
                    .file_stem()
                    .is_some_and(|s| s.to_string_lossy().contains("conformance"));
            if let (true, Some(t)) = (is_suite, file.file_stem()) {
                suites.push((package_name(&krate)?, t.to_string_lossy().into_owned()));
            }
        }
    }
    Ok(suites)
}

/// The `name` of the package whose manifest is in `dir`.
fn package_name(dir: &Path) -> Result<String> {
    let manifest = dir.join("Cargo.toml");
    let text = std::fs::read_to_string(&manifest)
        .with_context(|| format!("reading {}", manifest.display()))?;
    text.lines()
        .filter_map(|l| l.trim().strip_prefix("name"))
        .filter_map(|rest| rest.trim_start().strip_prefix('='))
        .map(|v| v.trim().trim_matches('"').to_string())
        .next()
        .with_context(|| format!("no package name in {}", manifest.display()))
}

fn conformance(root: &Path) -> Result<()> {
    let suites = conformance_suites(root)?;
    if suites.is_empty() {
        bail!(
            "no conformance suites found under {}",
            root.join("crates").display()
        );
    }
    for (krate, test) in suites {
        step(
            &format!("conformance {krate}/{test}"),
            cargo(
                root,
                &[
                    "test",
                    "-j2",
                    "-p",
                    &krate,
                    "--test",
                    &test,
                    "--",
                    "--nocapture",
                ],
            ),
        )?;
    }
    Ok(())
}

/// Gives `/dev/kvm` the mode and group Debian's udev rule gives it (0660, group kvm) when
/// it is still the kernel's 0600 root:root (no udev on these machines). Without it,
/// libvirtd's QEMU user cannot open `/dev/kvm`, libvirtd decides its capability cache is
/// stale on every call and re-probes QEMU (seconds per define and start), which would
/// make the comparison meaningless.
fn kvm_node_as_udev_leaves_it() {
    use std::os::unix::fs::PermissionsExt;
    let Ok(meta) = std::fs::metadata("/dev/kvm") else {
        return;
    };
    if meta.permissions().mode() & 0o777 != 0o600 {
        return;
    }
    eprintln!("note: /dev/kvm is 0600 root:root (no udev here); giving it udev's 0660 root:kvm");
    let group = Command::new("chgrp").args(["kvm", "/dev/kvm"]).status();
    let mode = Command::new("chmod").args(["0660", "/dev/kvm"]).status();
    if !matches!((group, mode), (Ok(g), Ok(m)) if g.success() && m.success()) {
        eprintln!("note: could not change /dev/kvm; libvirtd's figures will include re-probing");
    }
}

fn bench(root: &Path, args: &[String]) -> Result<()> {
    if args.first().map(String::as_str) == Some("rpc") {
        return step(
            "rpc workload: oxvirtd and libvirtd",
            cargo(root, &["bench", "-j2", "-p", "oxvirtd", "--bench", "rpc"]),
        );
    }
    if args.first().map(String::as_str) == Some("node") {
        return bench_node(root);
    }
    if args.first().map(String::as_str) == Some("network") {
        return bench_network::bench_network(root);
    }
    if args.first().map(String::as_str) == Some("storage") {
        return bench_storage::bench_storage(root);
    }
    if args.first().map(String::as_str) == Some("migrate") {
        return bench_migrate::bench_migrate(root);
    }
    if args.first().map(String::as_str) == Some("remote") {
        return bench_remote::bench_remote(root);
    }
    if args.first().map(String::as_str) == Some("qemu") {
        kvm_node_as_udev_leaves_it();
        let mut c = cargo(root, &["bench", "-j2", "-p", "oxvirtd", "--bench", "qemu"]);
        c.env("OXBENCH_JSON", root.join("target/bench-qemu.json"));
        return step("qemu lifecycle: oxvirtd and libvirtd", c);
    }
    // `--bench '*'`: only criterion's bench targets, not the libraries' test harnesses,
    // which reject criterion's options.
    let mut c = cargo(root, &["bench", "--workspace", "-j2", "--bench", "*"]);
    if !args.is_empty() {
        c.arg("--").args(args);
    }
    step("benchmarks", c)?;
    compare_with_libvirt(root)
}

/// The node calls (node info, capabilities, domain capabilities, free memory, CPU map,
/// statistics) through python3-libvirt against a release oxvirtd and Debian's libvirtd.
fn bench_node(root: &Path) -> Result<()> {
    step(
        "build oxvirtd (release)",
        cargo(root, &["build", "--release", "-j2", "-p", "oxvirtd"]),
    )?;
    let scratch = std::env::temp_dir().join(format!("oxvirt-bench-node-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&scratch);
    let run = scratch.join("run");
    let mut daemon = Command::new(root.join("target/release/oxvirtd"))
        .arg("--runtime-dir")
        .arg(&run)
        .arg("--state-dir")
        .arg(scratch.join("state"))
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .context("starting oxvirtd")?;
    let sock = run.join("libvirt-sock");
    let started = Instant::now();
    while std::os::unix::net::UnixStream::connect(&sock).is_err() {
        if started.elapsed().as_secs() > 10 {
            let _ = daemon.kill();
            bail!("oxvirtd did not listen on {}", sock.display());
        }
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
    let ours = format!("qemu+unix:///system?socket={}", sock.display());
    let result = step(
        "node calls: oxvirtd and libvirtd",
        cmd(
            root,
            "/usr/bin/python3",
            &["xtask/data/node_bench.py", &ours, "qemu:///system"],
        ),
    );
    let _ = daemon.kill();
    let _ = daemon.wait();
    let _ = std::fs::remove_dir_all(&scratch);
    result
}

/// Times libvirt's own test driver on the test-driver bench's operations (through
/// python3-libvirt) and prints ours against it as a ratio, from criterion's medians.
fn compare_with_libvirt(root: &Path) -> Result<()> {
    let script = root.join("crates/oxvirt-driver-test/benches/libvirt_reference.py");
    eprintln!("\n==> libvirt's test driver on the same operations");
    let out = match Command::new("/usr/bin/python3").arg(&script).output() {
        Ok(out) if out.status.success() => String::from_utf8_lossy(&out.stdout).into_owned(),
        Ok(out) => {
            eprintln!(
                "SKIPPED: the libvirt reference failed (is python3-libvirt installed?): {}",
                String::from_utf8_lossy(&out.stderr).trim()
            );
            return Ok(());
        }
        Err(e) => {
            eprintln!("SKIPPED: /usr/bin/python3 did not start: {e}");
            return Ok(());
        }
    };
    println!("| operation | oxvirt | libvirt 9.0 | libvirt / oxvirt |");
    println!("|---|---|---|---|");
    for (op, dir) in [
        ("define+undefine", "define+undefine"),
        ("lookup_by_name", "lookup_by_name"),
        ("lookup_by_uuid", "lookup_by_uuid"),
        ("lookup_by_id", "lookup_by_id"),
        ("list_all(1001)", "list_all(1001)"),
    ] {
        let theirs = json_number(&out, &format!("\"{op}\":"));
        let estimates = root.join(format!(
            "target/criterion/test-driver/{dir}/new/estimates.json"
        ));
        let ours = std::fs::read_to_string(&estimates).ok().and_then(|text| {
            let at = text.find("\"median\"")?;
            json_number(&text[at..], "\"point_estimate\":")
        });
        match (ours, theirs) {
            (Some(ours), Some(theirs)) => println!(
                "| {op} | {} | {} | {:.1}x |",
                nanos(ours),
                nanos(theirs),
                theirs / ours
            ),
            _ => println!("| {op} | ? | ? | (no figure) |"),
        }
    }
    Ok(())
}

/// The number right after the first `key` in a JSON text (no JSON parser needed for
/// criterion's and the reference's flat figures).
fn json_number(text: &str, key: &str) -> Option<f64> {
    let start = text.find(key)? + key.len();
    let rest = text[start..].trim_start();
    let end = rest
        .find(|c: char| !(c.is_ascii_digit() || matches!(c, '.' | '-' | 'e' | 'E' | '+')))
        .unwrap_or(rest.len());
    rest[..end].parse().ok()
}

fn nanos(ns: f64) -> String {
    if ns >= 1_000_000.0 {
        format!("{:.2} ms", ns / 1_000_000.0)
    } else if ns >= 1_000.0 {
        format!("{:.1} µs", ns / 1_000.0)
    } else {
        format!("{ns:.0} ns")
    }
}

fn conformance_dir(root: &Path) -> PathBuf {
    match std::env::var_os("OXVIRT_CONFORMANCE") {
        Some(p) => PathBuf::from(p),
        None => root.join("../shared/conformance"),
    }
}

fn fuzz(root: &Path, args: &[String]) -> Result<()> {
    let (seconds, targets) = match args.first().map(|a| a.parse::<u64>()) {
        Some(Ok(s)) => (s, &args[1..]),
        _ => (60, args),
    };
    let known: Vec<&str> = FUZZ_TARGETS.iter().map(|(t, _)| *t).collect();
    let targets: Vec<&str> = if targets.is_empty() {
        known.clone()
    } else {
        targets.iter().map(String::as_str).collect()
    };
    if let Some(bad) = targets.iter().find(|t| !known.contains(t)) {
        bail!("unknown fuzz target '{bad}' (known: {})", known.join(", "));
    }
    if !has_nightly(root) {
        bail!("fuzzing needs a nightly toolchain: rustup toolchain install nightly");
    }
    if !has_cargo_fuzz(root) {
        bail!("fuzzing needs cargo-fuzz: cargo install cargo-fuzz --locked");
    }
    let data = conformance_dir(root);
    for target in targets {
        let folders = FUZZ_TARGETS
            .iter()
            .find(|(t, _)| *t == target)
            .map(|(_, f)| *f)
            .unwrap_or_default();
        let corpus = root.join("fuzz/corpus").join(target);
        let seeded = seed_corpus(root, &data, folders, &corpus)?;
        eprintln!("\n{target}: {seeded} seed files in {}", corpus.display());
        let time = format!("-max_total_time={seconds}");
        let mut run = cargo(
            &root.join("fuzz"),
            &["+nightly", "fuzz", "run", target, "--", &time],
        );
        run.env("CARGO_BUILD_JOBS", "2");
        step(&format!("fuzz {target} for {seconds} s"), run).with_context(|| {
            format!(
                "if the target crashed, its input is in {}",
                root.join("fuzz/artifacts").join(target).display()
            )
        })?;
    }
    Ok(())
}

/// Copies every `.xml`, `.txt` and `.bin` file under `folders` (recursively) into `corpus`, named
/// after its path; returns how many there are. A folder is under the conformance data
/// `data`, or under the project `root` when it starts with `project:`. Missing data is
/// reported, not an error.
fn seed_corpus(root: &Path, data: &Path, folders: &[&str], corpus: &Path) -> Result<usize> {
    std::fs::create_dir_all(corpus).with_context(|| format!("creating {}", corpus.display()))?;
    let mut count = 0;
    for folder in folders {
        let (base, dir) = match folder.strip_prefix("project:") {
            Some(rel) => (root, root.join(rel)),
            None => (data, data.join(folder)),
        };
        if !dir.is_dir() {
            eprintln!(
                "SKIPPED seeds: {} not found (set OXVIRT_CONFORMANCE)",
                dir.display()
            );
            continue;
        }
        let mut files = Vec::new();
        collect_xml(&dir, &mut files)?;
        for file in files {
            let size = std::fs::metadata(&file)
                .map(|m| m.len())
                .unwrap_or(u64::MAX);
            if size > MAX_SEED_BYTES {
                continue;
            }
            let rel = file.strip_prefix(base).unwrap_or(&file);
            let name: String = rel
                .to_string_lossy()
                .chars()
                .map(|c| if c == '/' { '_' } else { c })
                .collect();
            std::fs::copy(&file, corpus.join(&name))
                .with_context(|| format!("copying {}", file.display()))?;
            count += 1;
        }
    }
    Ok(count)
}

fn collect_xml(dir: &Path, out: &mut Vec<PathBuf>) -> Result<()> {
    for path in read_dir_sorted(dir)? {
        if path.is_dir() {
            collect_xml(&path, out)?;
        } else if path
            .extension()
            .is_some_and(|e| e == "xml" || e == "txt" || e == "bin")
        {
            out.push(path);
        }
    }
    Ok(())
}

fn read_dir_sorted(dir: &Path) -> Result<Vec<PathBuf>> {
    let mut paths = std::fs::read_dir(dir)
        .with_context(|| format!("reading {}", dir.display()))?
        .map(|e| e.map(|e| e.path()))
        .collect::<Result<Vec<_>, std::io::Error>>()
        .with_context(|| format!("reading {}", dir.display()))?;
    paths.sort();
    Ok(paths)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finds_the_conformance_suites() {
        let root = project_root().unwrap();
        let suites = conformance_suites(&root).unwrap();
        assert!(suites.contains(&("oxvirt-domain".into(), "conformance".into())));
    }

    #[test]
    fn shows_commands_as_typed() {
        let c = cargo(Path::new("."), &["fmt", "--all"]);
        assert_eq!(show(&c), "cargo fmt --all");
    }

    #[test]
    fn unknown_commands_fail() {
        let err = run(&["frobnicate".to_string()]).unwrap_err();
        assert_eq!(err.to_string(), "unknown command 'frobnicate'");
    }
}
