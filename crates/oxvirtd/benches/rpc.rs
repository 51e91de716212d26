//! `cargo xtask bench rpc`: one workload against oxvirtd and against Debian's libvirtd, in
//! the same run, through the same raw protocol client, printing both and the ratio.
//!
//! The workload: connect (AUTH_LIST, CONNECT_OPEN, CONNECT_CLOSE on a fresh socket),
//! getHostname, lookupByName + getInfo, listAllDomains with 1,000 domains defined, and
//! lookupByName + getInfo from 8 connections in parallel. Both daemons serve
//! `test:///default`, so only the daemons differ. Idle RSS is read from /proc after start.

use std::io::{Read, Write};
use std::os::unix::net::UnixStream;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use oxvirt_rpc::packet::{KEEPALIVE_PING, KEEPALIVE_PONG, PROGRAM_KEEPALIVE, PROGRAM_REMOTE};
use oxvirt_rpc::remote::*;
use oxvirt_rpc::xdr::{decode_from, encode_to_vec};
use oxvirt_rpc::{
    Header, MessageStatus, MessageType, Packet, PacketDecoder, RemoteError, RemoteProcedure as P,
    XdrDecode, XdrEncode,
};

/// The domains defined for the listing workload.
const DOMAINS: usize = 1000;
/// Parallel connections.
const PARALLEL: usize = 8;
/// How long each throughput phase runs.
const PHASE: Duration = Duration::from_secs(2);

type Res<T> = Result<T, String>;

/// A blocking client: one call at a time on one socket.
struct Raw {
    sock: UnixStream,
    dec: PacketDecoder,
    serial: u32,
    buf: Vec<u8>,
}

impl Raw {
    fn connect(path: &Path) -> Res<Raw> {
        let sock = UnixStream::connect(path).map_err(|e| format!("{}: {e}", path.display()))?;
        sock.set_read_timeout(Some(Duration::from_secs(30)))
            .map_err(|e| e.to_string())?;
        Ok(Raw {
            sock,
            dec: PacketDecoder::new(),
            serial: 0,
            buf: vec![0; 256 * 1024],
        })
    }

    fn call<A: XdrEncode, R: XdrDecode>(&mut self, proc: P, args: &A) -> Res<R> {
        let header = Header {
            prog: PROGRAM_REMOTE,
            vers: 1,
            procedure: proc.number(),
            kind: MessageType::Call,
            serial: self.serial,
            status: MessageStatus::Ok,
        };
        self.serial += 1;
        let bytes = Packet::new(header, encode_to_vec(args))
            .encode()
            .map_err(|e| e.to_string())?;
        self.sock.write_all(&bytes).map_err(|e| e.to_string())?;
        loop {
            if let Some(p) = self.dec.next_packet().map_err(|e| e.to_string())? {
                if p.header.kind != MessageType::Reply || p.header.serial != header.serial {
                    continue;
                }
                if p.header.status != MessageStatus::Ok {
                    let err: RemoteError = decode_from(&p.payload).map_err(|e| e.to_string())?;
                    return Err(format!("{:?}", err.message));
                }
                return decode_from(&p.payload).map_err(|e| e.to_string());
            }
            let n = self.sock.read(&mut self.buf).map_err(|e| e.to_string())?;
            if n == 0 {
                return Err("the daemon closed the connection".into());
            }
            self.dec.feed(&self.buf[..n]);
        }
    }

    /// A keepalive PING and its PONG: the round trip with no call behind it.
    fn ping(&mut self) -> Res<()> {
        let header = Header {
            prog: PROGRAM_KEEPALIVE,
            vers: 1,
            procedure: KEEPALIVE_PING,
            kind: MessageType::Message,
            serial: 0,
            status: MessageStatus::Ok,
        };
        let bytes = Packet::new(header, Vec::new())
            .encode()
            .map_err(|e| e.to_string())?;
        self.sock.write_all(&bytes).map_err(|e| e.to_string())?;
        loop {
            if let Some(p) = self.dec.next_packet().map_err(|e| e.to_string())? {
                if p.header.prog == PROGRAM_KEEPALIVE && p.header.procedure == KEEPALIVE_PONG {
                    return Ok(());
                }
                continue;
            }
            let n = self.sock.read(&mut self.buf).map_err(|e| e.to_string())?;
            if n == 0 {
                return Err("the daemon closed the connection".into());
            }
            self.dec.feed(&self.buf[..n]);
        }
    }

    fn open(path: &Path) -> Res<Raw> {
        let mut c = Raw::connect(path)?;
        let _: AuthListRet = c.call(P::AuthList, &())?;
        let args = ConnectOpenArgs {
            name: Some("test:///default".into()),
            flags: 0,
        };
        let () = c.call(P::ConnectOpen, &args)?;
        Ok(c)
    }

    fn close(mut self) -> Res<()> {
        self.call(P::ConnectClose, &())
    }

    fn lookup_info(&mut self, name: &str) -> Res<()> {
        let r: DomainLookupByNameRet = self.call(
            P::DomainLookupByName,
            &DomainLookupByNameArgs { name: name.into() },
        )?;
        let _: DomainGetInfoRet = self.call(P::DomainGetInfo, &DomainGetInfoArgs { dom: r.dom })?;
        Ok(())
    }
}

/// getHostname through `oxvirt::Connect` (our remote driver) on `sock`: what a Rust
/// program using the facade sees, client library included.
fn through_our_client(sock: &Path) -> Res<Timing> {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(|e| e.to_string())?;
    let uri = format!("test+unix:///default?socket={}", sock.display());
    rt.block_on(async {
        let conn = oxvirt::Connect::open(&uri)
            .await
            .map_err(|e| e.to_string())?;
        let mut samples = Vec::with_capacity(3000);
        for i in 0..3020 {
            let t = Instant::now();
            conn.hostname().await.map_err(|e| e.to_string())?;
            if i >= 20 {
                samples.push(t.elapsed());
            }
        }
        samples.sort();
        Ok(Timing { samples })
    })
}

/// Timings of one workload: per-operation latencies.
struct Timing {
    samples: Vec<Duration>,
}

impl Timing {
    fn run(n: usize, mut op: impl FnMut() -> Res<()>) -> Res<Timing> {
        for _ in 0..n.min(20) {
            op()?; // warm-up
        }
        let mut samples = Vec::with_capacity(n);
        for _ in 0..n {
            let t = Instant::now();
            op()?;
            samples.push(t.elapsed());
        }
        samples.sort();
        Ok(Timing { samples })
    }

    fn median_us(&self) -> f64 {
        self.samples[self.samples.len() / 2].as_secs_f64() * 1e6
    }

    fn per_sec(&self) -> f64 {
        let total: Duration = self.samples.iter().sum();
        self.samples.len() as f64 / total.as_secs_f64()
    }
}

/// The figures for one daemon.
struct Figures {
    rss_kib: u64,
    /// getHostname through our own client library (`oxvirt::Connect`, the remote driver).
    client: Timing,
    ping: Timing,
    connect: Timing,
    hostname: Timing,
    lookup_info: Timing,
    list_all: Timing,
    parallel_ops: f64,
}

fn rss_kib(pid: u32) -> u64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap_or_default();
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.split_whitespace().next()?.parse().ok())
        .unwrap_or(0)
}

fn domain_xml(i: usize) -> String {
    format!(
        "<domain type='test'><name>bench-{i}</name><memory>65536</memory>\
         <os><type>hvm</type></os></domain>"
    )
}

fn measure(sock: &Path, pid: u32) -> Res<Figures> {
    std::thread::sleep(Duration::from_millis(500));
    let rss = rss_kib(pid);
    // The holder keeps test:///default (and its 1,000 domains) alive for the whole run.
    let mut holder = Raw::open(sock)?;
    for i in 0..DOMAINS {
        let _: DomainDefineXmlRet = holder.call(
            P::DomainDefineXml,
            &DomainDefineXmlArgs { xml: domain_xml(i) },
        )?;
    }
    let connect = Timing::run(300, || Raw::open(sock)?.close())?;
    let mut c = Raw::open(sock)?;
    let ping = Timing::run(3000, || c.ping())?;
    let client = through_our_client(sock)?;
    let hostname = Timing::run(3000, || {
        let _: ConnectGetHostnameRet = c.call(P::ConnectGetHostname, &())?;
        Ok(())
    })?;
    let lookup_info = Timing::run(3000, || c.lookup_info("test"))?;
    let list_all = Timing::run(100, || {
        let r: ConnectListAllDomainsRet = c.call(
            P::ConnectListAllDomains,
            &ConnectListAllDomainsArgs {
                need_results: 1,
                flags: 0,
            },
        )?;
        if r.domains.len() != DOMAINS + 1 {
            return Err(format!("listed {} domains", r.domains.len()));
        }
        Ok(())
    })?;
    let start = Instant::now();
    let workers: Vec<_> = (0..PARALLEL)
        .map(|_| {
            let sock = sock.to_path_buf();
            std::thread::spawn(move || -> Res<u64> {
                let mut c = Raw::open(&sock)?;
                let mut n = 0;
                while start.elapsed() < PHASE {
                    c.lookup_info("test")?;
                    n += 1;
                }
                c.close()?;
                Ok(n)
            })
        })
        .collect();
    let mut total = 0;
    for w in workers {
        total += w.join().map_err(|_| "a worker panicked".to_string())??;
    }
    let parallel_ops = total as f64 / start.elapsed().as_secs_f64();
    c.close()?;
    for i in 0..DOMAINS {
        let r: DomainLookupByNameRet = holder.call(
            P::DomainLookupByName,
            &DomainLookupByNameArgs {
                name: format!("bench-{i}"),
            },
        )?;
        let () = holder.call(P::DomainUndefine, &DomainUndefineArgs { dom: r.dom })?;
    }
    holder.close()?;
    Ok(Figures {
        rss_kib: rss,
        client,
        ping,
        connect,
        hostname,
        lookup_info,
        list_all,
        parallel_ops,
    })
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
        if UnixStream::connect(path).is_ok() {
            return true;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    false
}

fn oxvirtd() -> Res<(Started, PathBuf, u32)> {
    let dir = std::env::temp_dir().join(format!("oxvirt-bench-rpc-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).map_err(|e| e.to_string())?;
    let child = Command::new(env!("CARGO_BIN_EXE_oxvirtd"))
        .arg("--runtime-dir")
        .arg(&dir)
        .arg("--state-dir")
        .arg(dir.join("state"))
        .stderr(Stdio::null())
        .spawn()
        .map_err(|e| format!("oxvirtd: {e}"))?;
    let pid = child.id();
    let sock = dir.join("libvirt-sock");
    if !wait_for(&sock) {
        return Err("oxvirtd did not listen".into());
    }
    Ok((Started(Some(child), Some(dir)), sock, pid))
}

const LIBVIRT_SOCK: &str = "/var/run/libvirt/libvirt-sock";

/// Debian's libvirtd on its system socket, started (with virtlogd) if it is not running.
fn libvirtd() -> Res<(Started, PathBuf, u32)> {
    let sock = PathBuf::from(LIBVIRT_SOCK);
    let pid_of = || {
        std::fs::read_to_string("/var/run/libvirtd.pid")
            .ok()
            .and_then(|s| s.trim().parse::<u32>().ok())
    };
    if UnixStream::connect(&sock).is_ok() {
        let pid = pid_of().ok_or("libvirtd runs but /var/run/libvirtd.pid is unreadable")?;
        return Ok((Started(None, None), sock, pid));
    }
    let _ = Command::new("virtlogd").arg("-d").status();
    let child = Command::new("libvirtd")
        .stderr(Stdio::null())
        .stdout(Stdio::null())
        .spawn()
        .map_err(|e| format!("libvirtd: {e} (install libvirt-daemon-system)"))?;
    let pid = child.id();
    if !wait_for(&sock) {
        return Err("libvirtd did not listen".into());
    }
    Ok((Started(Some(child), None), sock, pid))
}

/// Rounds per daemon, alternating between them; each figure is the best round's (the
/// least disturbed by this VM's noise).
const ROUNDS: usize = 3;

fn main() {
    // `cargo bench` passes `--bench`; the filter, if any, is ignored.
    let ours = match oxvirtd() {
        Ok(d) => d,
        Err(e) => {
            eprintln!("oxvirtd did not start: {e}");
            std::process::exit(1);
        }
    };
    let theirs = libvirtd()
        .map_err(|e| eprintln!("SKIPPED libvirtd: {e}"))
        .ok();
    let mut our_rounds = Vec::new();
    let mut their_rounds = Vec::new();
    for round in 1..=ROUNDS {
        eprintln!("round {round} of {ROUNDS}");
        match measure(&ours.1, ours.2) {
            Ok(f) => our_rounds.push(f),
            Err(e) => {
                eprintln!("oxvirtd bench failed: {e}");
                std::process::exit(1);
            }
        }
        if let Some((_, sock, pid)) = &theirs {
            match measure(sock, *pid) {
                Ok(f) => their_rounds.push(f),
                Err(e) => eprintln!("libvirtd round failed: {e}"),
            }
        }
    }
    drop(ours);
    drop(theirs);
    let best_ours = best(our_rounds);
    let best_theirs = (!their_rounds.is_empty()).then(|| best(their_rounds));
    report(&best_ours, best_theirs.as_ref());
}

/// The best of several rounds, figure by figure: the lowest median latency, the highest
/// parallel rate, the first round's idle RSS.
fn best(rounds: Vec<Figures>) -> Figures {
    let mut rounds = rounds.into_iter();
    let mut b = rounds.next().expect("at least one round");
    for r in rounds {
        let pick = |a: Timing, b: Timing| if b.median_us() < a.median_us() { b } else { a };
        b.ping = pick(b.ping, r.ping);
        b.client = pick(b.client, r.client);
        b.connect = pick(b.connect, r.connect);
        b.hostname = pick(b.hostname, r.hostname);
        b.lookup_info = pick(b.lookup_info, r.lookup_info);
        b.list_all = pick(b.list_all, r.list_all);
        b.parallel_ops = b.parallel_ops.max(r.parallel_ops);
    }
    b
}

fn report(ours: &Figures, theirs: Option<&Figures>) {
    println!("\n| workload | oxvirtd | libvirtd 9.0 | ratio (oxvirtd better by) |");
    println!("|---|---|---|---|");
    let lat = |name: &str, o: &Timing, t: Option<&Timing>| {
        let (tv, ratio) = match t {
            Some(t) => (
                format!("{:.1} µs ({:.0}/s)", t.median_us(), t.per_sec()),
                format!("{:.1}x", t.median_us() / o.median_us()),
            ),
            None => ("-".into(), "-".into()),
        };
        println!(
            "| {name} (median latency, rate) | {:.1} µs ({:.0}/s) | {tv} | {ratio} |",
            o.median_us(),
            o.per_sec()
        );
    };
    lat(
        "keepalive ping/pong (the transport, no call)",
        &ours.ping,
        theirs.map(|t| &t.ping),
    );
    lat(
        "getHostname through oxvirt::Connect (our client library)",
        &ours.client,
        theirs.map(|t| &t.client),
    );
    lat(
        "connect+open+close",
        &ours.connect,
        theirs.map(|t| &t.connect),
    );
    lat("getHostname", &ours.hostname, theirs.map(|t| &t.hostname));
    lat(
        "lookupByName+getInfo",
        &ours.lookup_info,
        theirs.map(|t| &t.lookup_info),
    );
    lat(
        "listAllDomains (1,001)",
        &ours.list_all,
        theirs.map(|t| &t.list_all),
    );
    match theirs {
        Some(t) => {
            println!(
                "| {PARALLEL} connections lookupByName+getInfo | {:.0}/s | {:.0}/s | {:.1}x |",
                ours.parallel_ops,
                t.parallel_ops,
                ours.parallel_ops / t.parallel_ops
            );
            println!(
                "| idle RSS | {:.1} MB | {:.1} MB | {:.1}x smaller |",
                ours.rss_kib as f64 / 1024.0,
                t.rss_kib as f64 / 1024.0,
                t.rss_kib as f64 / ours.rss_kib.max(1) as f64
            );
        }
        None => {
            println!(
                "| {PARALLEL} connections lookupByName+getInfo | {:.0}/s | - | - |",
                ours.parallel_ops
            );
            println!(
                "| idle RSS | {:.1} MB | - | - |",
                ours.rss_kib as f64 / 1024.0
            );
        }
    }
}
