//! `cargo xtask bench qemu`: the QEMU lifecycle latencies of oxvirtd and of Debian's libvirtd,
//! in the same run, through the same client (`oxvirt::Connect`, our remote driver).
//!
//! Each round, on an idle TCG guest (machine `pc`, 128 MiB, 1 vCPU, no kernel, no disk:
//! SeaBIOS idles): define (`virDomainDefineXML`), start (`virDomainCreate`; the state is then
//! checked to be running), destroy (`virDomainDestroy`; the state is then checked to be shut
//! off), undefine. Rounds alternate between the daemons. One unmeasured warm-up round per
//! daemon comes first.
//!
//! Environment: `OXBENCH_ROUNDS` (default 20), `OXBENCH_BUDGET_SECS` (default 40: the time
//! each daemon's rounds, warm-up included, may take; rounds stop early past it),
//! `OXBENCH_CALL_TIMEOUT_SECS` (default 60: a call slower than that ends the daemon's rounds),
//! `OXBENCH_JSON` (where the numbers go; default `target/bench-qemu.json`).

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use oxvirt::Connect;
use oxvirt::DomainState;

type Res<T> = Result<T, String>;

/// The operations of a round, in order.
const OPS: [&str; 4] = ["define", "start", "destroy", "undefine"];

/// The longest any one call may take before the round is abandoned
/// (`OXBENCH_CALL_TIMEOUT_SECS`, 60 by default).
fn call_timeout() -> Duration {
    static SECS: std::sync::OnceLock<u64> = std::sync::OnceLock::new();
    Duration::from_secs(*SECS.get_or_init(|| env_num("OXBENCH_CALL_TIMEOUT_SECS", 60)))
}

const LIBVIRT_SOCK: &str = "/var/run/libvirt/libvirt-sock";

fn domain_xml(name: &str) -> String {
    format!(
        "<domain type='qemu'><name>{name}</name><memory unit='MiB'>128</memory>\
         <vcpu>1</vcpu><os><type arch='x86_64' machine='pc'>hvm</type></os></domain>"
    )
}

/// One daemon under test: its connection, the names it still has defined, its samples.
struct Daemon {
    label: &'static str,
    conn: Connect,
    /// Domains defined by this run and not yet undefined (cleaned up at the end).
    leftover: Vec<String>,
    /// Per operation (in `OPS` order), the measured latencies.
    samples: [Vec<Duration>; 4],
    /// The warm-up round's latencies, if it completed.
    warmup: Option<[Duration; 4]>,
    /// Time spent in measured rounds.
    spent: Duration,
    /// Why this daemon stopped early, if it did.
    stopped: Option<String>,
}

async fn timed<T>(
    what: &str,
    fut: impl std::future::Future<Output = oxvirt::Result<T>>,
) -> Res<(T, Duration)> {
    let t = Instant::now();
    match tokio::time::timeout(call_timeout(), fut).await {
        Ok(Ok(v)) => Ok((v, t.elapsed())),
        Ok(Err(e)) => Err(format!("{what}: {e}")),
        Err(_) => Err(format!("{what}: no answer in {:?}", call_timeout())),
    }
}

impl Daemon {
    async fn open(label: &'static str, sock: &Path) -> Res<Daemon> {
        let uri = format!("qemu+unix:///system?socket={}", sock.display());
        let conn = tokio::time::timeout(Duration::from_secs(10), Connect::open(&uri))
            .await
            .map_err(|_| format!("{uri}: no answer"))?
            .map_err(|e| format!("{uri}: {e}"))?;
        Ok(Daemon {
            label,
            conn,
            leftover: Vec::new(),
            samples: Default::default(),
            warmup: None,
            spent: Duration::ZERO,
            stopped: None,
        })
    }

    /// One define/start/destroy/undefine round on a fresh name.
    async fn round(&mut self, name: &str) -> Res<[Duration; 4]> {
        let xml = domain_xml(name);
        self.leftover.push(name.to_owned());
        let (dom, define) = timed("define", self.conn.define_domain_xml(&xml, 0)).await?;
        let ((), start) = timed("start", dom.create(0)).await?;
        let (state, _) = timed("state after start", dom.state()).await?;
        if state.state() != DomainState::Running {
            return Err(format!("after start the state is {state:?}, not running"));
        }
        let ((), destroy) = timed("destroy", dom.destroy(0)).await?;
        let (state, _) = timed("state after destroy", dom.state()).await?;
        if state.state() != DomainState::Shutoff {
            return Err(format!(
                "after destroy the state is {state:?}, not shut off"
            ));
        }
        let ((), undefine) = timed("undefine", dom.undefine(0)).await?;
        self.leftover.retain(|n| n != name);
        Ok([define, start, destroy, undefine])
    }

    /// Destroys and undefines whatever this run left defined on the daemon. After a call
    /// that timed out, a define may still land late: lookups are retried for a while then.
    async fn cleanup(&mut self) {
        let timed_out = self
            .stopped
            .as_deref()
            .is_some_and(|why| why.contains("no answer"));
        for name in std::mem::take(&mut self.leftover) {
            let deadline = Instant::now() + call_timeout();
            let dom = loop {
                match tokio::time::timeout(call_timeout(), self.conn.lookup_domain_by_name(&name))
                    .await
                {
                    Ok(Ok(dom)) => break Some(dom),
                    _ if timed_out && Instant::now() < deadline => {
                        tokio::time::sleep(Duration::from_secs(1)).await;
                    }
                    _ => break None,
                }
            };
            let Some(dom) = dom else {
                continue;
            };
            let running = matches!(
                tokio::time::timeout(call_timeout(), dom.state()).await,
                Ok(Ok(s)) if s.state() != DomainState::Shutoff
            );
            if running {
                if let Err(e) = timed("destroy", dom.destroy(0)).await {
                    eprintln!("{}: cleanup of {name}: {e}", self.label);
                }
            }
            if let Err(e) = timed("undefine", dom.undefine(0)).await {
                eprintln!("{}: cleanup of {name}: {e}", self.label);
            }
            eprintln!("{}: cleaned up {name}", self.label);
        }
    }
}

/// A daemon this bench started, stopped when dropped (with its scratch directory, if any).
struct Started(Option<Child>, Option<PathBuf>);

impl Drop for Started {
    fn drop(&mut self) {
        if let Some(child) = &mut self.0 {
            let _ = Command::new("kill")
                .arg("-TERM")
                .arg(child.id().to_string())
                .status();
            let _ = child.wait();
        }
        if let Some(dir) = &self.1 {
            let _ = std::fs::remove_dir_all(dir);
        }
    }
}

fn wait_for(path: &Path) -> bool {
    for _ in 0..200 {
        if std::os::unix::net::UnixStream::connect(path).is_ok() {
            return true;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    false
}

fn oxvirtd() -> Res<(Started, PathBuf)> {
    let dir = std::env::temp_dir().join(format!("oxvirt-bench-qemu-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).map_err(|e| e.to_string())?;
    let child = Command::new(env!("CARGO_BIN_EXE_oxvirtd"))
        .arg("--runtime-dir")
        .arg(dir.join("run"))
        .arg("--state-dir")
        .arg(dir.join("state"))
        .stderr(Stdio::null())
        .spawn()
        .map_err(|e| format!("oxvirtd: {e}"))?;
    let started = Started(Some(child), Some(dir.clone()));
    let sock = dir.join("run/libvirt-sock");
    if !wait_for(&sock) {
        return Err("oxvirtd did not listen".into());
    }
    Ok((started, sock))
}

/// Debian's libvirtd on its system socket, started (with virtlogd) if it is not running.
fn libvirtd() -> Res<(Started, PathBuf)> {
    let sock = PathBuf::from(LIBVIRT_SOCK);
    if std::os::unix::net::UnixStream::connect(&sock).is_ok() {
        return Ok((Started(None, None), sock));
    }
    let _ = Command::new("virtlogd").arg("-d").status();
    let child = Command::new("libvirtd")
        .stderr(Stdio::null())
        .stdout(Stdio::null())
        .spawn()
        .map_err(|e| format!("libvirtd: {e} (install libvirt-daemon-system)"))?;
    let started = Started(Some(child), None);
    if !wait_for(&sock) {
        return Err(format!("libvirtd did not listen on {LIBVIRT_SOCK}"));
    }
    Ok((started, sock))
}

fn env_num(name: &str, default: u64) -> u64 {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

fn main() {
    // `cargo bench` passes `--bench`; the filter, if any, is ignored.
    let rounds = env_num("OXBENCH_ROUNDS", 20).max(1) as usize;
    let budget = Duration::from_secs(env_num("OXBENCH_BUDGET_SECS", 40));
    let (ours_proc, ours_sock) = match oxvirtd() {
        Ok(d) => d,
        Err(e) => {
            eprintln!("oxvirtd did not start: {e}");
            std::process::exit(1);
        }
    };
    let theirs_proc = match libvirtd() {
        Ok(d) => Some(d),
        Err(e) => {
            eprintln!("SKIPPED libvirtd (only oxvirtd is measured): {e}");
            None
        }
    };
    let rt = match tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("tokio: {e}");
            std::process::exit(1);
        }
    };
    let sockets = (ours_sock, theirs_proc.as_ref().map(|t| t.1.clone()));
    let result = rt.block_on(run(sockets, rounds, budget));
    drop(ours_proc);
    drop(theirs_proc);
    match result {
        Ok(daemons) => {
            report(&daemons, rounds);
            if let Err(e) = write_json(&daemons, rounds) {
                eprintln!("could not write the JSON: {e}");
            }
            if daemons[0].samples[0].is_empty() {
                std::process::exit(1);
            }
        }
        Err(e) => {
            eprintln!("oxvirtd bench failed: {e}");
            std::process::exit(1);
        }
    }
}

async fn run(
    (ours_sock, theirs_sock): (PathBuf, Option<PathBuf>),
    rounds: usize,
    budget: Duration,
) -> Res<Vec<Daemon>> {
    let mut daemons = vec![Daemon::open("oxvirtd", &ours_sock).await?];
    if let Some(sock) = theirs_sock {
        match Daemon::open("libvirtd", &sock).await {
            Ok(d) => daemons.push(d),
            Err(e) => eprintln!("SKIPPED libvirtd (only oxvirtd is measured): {e}"),
        }
    }
    if daemons.len() > 1 {
        warn_kvm_access();
    }
    let pid = std::process::id();
    // Warm-up: one unmeasured round each (libvirtd may (re)probe QEMU's capabilities here).
    for d in daemons.iter_mut() {
        let t = Instant::now();
        match d.round(&format!("oxbench-{pid}-warmup")).await {
            Ok(times) => d.warmup = Some(times),
            Err(e) => d.stopped = Some(format!("warm-up round failed: {e}")),
        }
        d.spent += t.elapsed();
        eprintln!("{}: warm-up round took {:.2?}", d.label, t.elapsed());
    }
    for i in 0..rounds {
        for d in daemons.iter_mut() {
            if d.stopped.is_some() {
                continue;
            }
            if d.spent > budget {
                d.stopped = Some(format!("time budget ({budget:?}) spent after {i} rounds"));
                continue;
            }
            let t = Instant::now();
            match d.round(&format!("oxbench-{pid}-{i}")).await {
                Ok(times) => {
                    for (s, t) in d.samples.iter_mut().zip(times) {
                        s.push(t);
                    }
                }
                Err(e) => d.stopped = Some(format!("round {i} failed: {e}")),
            }
            d.spent += t.elapsed();
        }
    }
    for d in daemons.iter_mut() {
        d.cleanup().await;
        if let Some(why) = &d.stopped {
            eprintln!("{}: stopped early: {why}", d.label);
        }
    }
    Ok(daemons)
}

/// libvirt 9.0 re-probes QEMU's capabilities (seconds each) on every lookup when it
/// probed with KVM but its QEMU user cannot open /dev/kvm ("KVM was enabled when probing
/// ..., but it is not available now"): without udev, /dev/kvm stays root-only 0600.
fn warn_kvm_access() {
    use std::os::unix::fs::MetadataExt;
    let Ok(meta) = std::fs::metadata("/dev/kvm") else {
        return;
    };
    if meta.mode() & 0o006 != 0o006 && (meta.gid() == 0 || meta.mode() & 0o060 != 0o060) {
        eprintln!(
            "NOTE: /dev/kvm is mode {:o}, gid {}: libvirtd's QEMU user cannot open it, so \
             libvirtd 9.0 re-probes QEMU's capabilities on every call that looks them up \
             (its figures below include that; Debian's udev rule would make it 0660 group kvm)",
            meta.mode() & 0o7777,
            meta.gid()
        );
    }
}

/// Median, p90, min and max of some samples (nearest-rank), in milliseconds.
struct Stats {
    median: f64,
    p90: f64,
    min: f64,
    max: f64,
    n: usize,
}

fn stats(samples: &[Duration]) -> Option<Stats> {
    if samples.is_empty() {
        return None;
    }
    let mut v: Vec<f64> = samples.iter().map(|d| d.as_secs_f64() * 1e3).collect();
    v.sort_by(f64::total_cmp);
    let rank = |p: f64| v[((p * v.len() as f64).ceil() as usize).clamp(1, v.len()) - 1];
    Some(Stats {
        median: rank(0.5),
        p90: rank(0.9),
        min: v[0],
        max: v[v.len() - 1],
        n: v.len(),
    })
}

fn cell(s: Option<&Stats>) -> String {
    match s {
        Some(s) => format!(
            "{:.1} / {:.1} / {:.1} / {:.1}",
            s.median, s.p90, s.min, s.max
        ),
        None => "-".into(),
    }
}

fn report(daemons: &[Daemon], rounds: usize) {
    let ours = &daemons[0];
    let theirs = daemons.get(1);
    println!(
        "\nQEMU lifecycle, idle TCG guest (pc, 128 MiB, 1 vCPU, no disk), {rounds} rounds asked; \
         oxvirtd {} rounds, libvirtd {}",
        ours.samples[0].len(),
        theirs.map_or("not measured".into(), |t| format!(
            "{} rounds",
            t.samples[0].len()
        ))
    );
    println!(
        "\n| operation | oxvirtd ms (median / p90 / min / max) | libvirtd 9.0 ms (median / p90 / \
         min / max) | oxvirtd/libvirtd (median) |"
    );
    println!("|---|---|---|---|");
    for (i, op) in OPS.iter().enumerate() {
        let o = stats(&ours.samples[i]);
        let t = theirs.and_then(|t| stats(&t.samples[i]));
        let ratio = match (&o, &t) {
            (Some(o), Some(t)) if t.median > 0.0 => {
                let r = o.median / t.median;
                format!(
                    "{r:.prec$} ({:.0}x faster)",
                    1.0 / r,
                    prec = if r < 0.01 { 5 } else { 3 }
                )
            }
            _ => "-".into(),
        };
        println!(
            "| {op} | {} | {} | {ratio} |",
            cell(o.as_ref()),
            cell(t.as_ref())
        );
    }
    for d in daemons {
        if let Some(w) = d.warmup {
            println!(
                "{} warm-up round (not counted): define {:.1} ms, start {:.1} ms, destroy {:.1} \
                 ms, undefine {:.1} ms",
                d.label,
                w[0].as_secs_f64() * 1e3,
                w[1].as_secs_f64() * 1e3,
                w[2].as_secs_f64() * 1e3,
                w[3].as_secs_f64() * 1e3
            );
        }
        if let Some(why) = &d.stopped {
            println!("{} stopped early: {why}", d.label);
        }
    }
}

fn json_stats(s: Option<Stats>) -> String {
    match s {
        Some(s) => format!(
            "{{\"n\": {}, \"median_ms\": {:.3}, \"p90_ms\": {:.3}, \"min_ms\": {:.3}, \
             \"max_ms\": {:.3}}}",
            s.n, s.median, s.p90, s.min, s.max
        ),
        None => "null".into(),
    }
}

fn json_string(s: &str) -> String {
    let mut out = String::from("\"");
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            c if (c as u32) < 0x20 => out.push_str(&format!("\\u{:04x}", c as u32)),
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

fn write_json(daemons: &[Daemon], rounds: usize) -> Res<()> {
    let path = std::env::var_os("OXBENCH_JSON")
        .map(PathBuf::from)
        .unwrap_or_else(|| {
            Path::new(env!("CARGO_MANIFEST_DIR")).join("../../target/bench-qemu.json")
        });
    let mut per_daemon = Vec::new();
    for d in daemons {
        let ops: Vec<String> = OPS
            .iter()
            .enumerate()
            .map(|(i, op)| format!("      \"{op}\": {}", json_stats(stats(&d.samples[i]))))
            .collect();
        let stopped = d.stopped.as_deref().map_or("null".into(), json_string);
        per_daemon.push(format!(
            "    \"{}\": {{\n{},\n      \"stopped_early\": {stopped}\n    }}",
            d.label,
            ops.join(",\n")
        ));
    }
    let mut ratios = Vec::new();
    if let Some(t) = daemons.get(1) {
        for (i, op) in OPS.iter().enumerate() {
            if let (Some(o), Some(t)) = (stats(&daemons[0].samples[i]), stats(&t.samples[i])) {
                ratios.push(format!("    \"{op}\": {:.6}", o.median / t.median));
            }
        }
    }
    let json = format!(
        "{{\n  \"guest\": \"type=qemu (TCG), machine=pc, 128 MiB, 1 vCPU, no kernel, no disk\",\n  \
         \"rounds\": {rounds},\n  \"daemons\": {{\n{}\n  }},\n  \
         \"ratio_oxvirtd_over_libvirtd_median\": {{\n{}\n  }}\n}}\n",
        per_daemon.join(",\n"),
        ratios.join(",\n")
    );
    std::fs::write(&path, json).map_err(|e| format!("{}: {e}", path.display()))?;
    eprintln!("numbers written to {}", path.display());
    Ok(())
}
