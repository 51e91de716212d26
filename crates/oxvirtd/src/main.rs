//! `oxvirtd`: serves libvirt's remote protocol on `DIR/libvirt-sock` (read-write, 0600),
//! `DIR/libvirt-sock-ro` (read-only, 0666) and optionally TCP, backed by oxvirt's test
//! driver.

mod access;
mod client;
mod config;
mod conn;
mod dispatch;
mod extra;
mod frame;
mod keepalive;
mod listen;
mod log;
mod registry;
mod server;

use std::sync::Arc;
use std::time::Duration;

use tokio::signal::unix::{signal, SignalKind};

use oxvirt_domain::driver::ports::NetworkPorts;
use oxvirt_domain::driver::volumes::StorageVolumes;
use oxvirt_network::driver::{BridgeDriver, NetworkConfig};
use oxvirt_qemu::driver::{Attach, MigrateTlsConfig, QemuConfig, QemuDriver};
use oxvirt_storage::driver::{PoolDriver, StorageConfig};

use crate::config::Config;
use crate::listen::Listener;
use crate::log::{info, warning};
use crate::server::Server;

/// The libvirt version reported by CONNECT_GET_LIB_VERSION (9.0.0).
pub const LIB_VERSION: u64 = 9_000_000;

/// How long SIGTERM waits for running calls before the daemon exits anyway.
const DRAIN_LIMIT: Duration = Duration::from_secs(10);

const USAGE: &str = "\
usage: oxvirtd [OPTIONS]

Serves libvirt's RPC protocol for the QEMU driver (qemu:///system: QEMU guests, the
node, virtual networks) and the test driver (test:///default, test:///path/node.xml) on
RUNTIME_DIR/libvirt-sock (read-write) and RUNTIME_DIR/libvirt-sock-ro (read-only), and on
TCP with --listen-tcp, TLS with --listen-tls. Clients:
  virsh -c 'qemu+unix:///system?socket=RUNTIME_DIR/libvirt-sock'
  virsh -c 'test+unix:///default?socket=RUNTIME_DIR/libvirt-sock'
  virsh -c 'test+tcp://127.0.0.1:16509/default'
  virsh -c 'qemu+tls://HOST/system?pkipath=DIR'

Options (each is also a key of the --config file, with '_' for '-'):
  --config FILE              TOML file of `key = value` lines (flags override it);
                             unknown keys are an error
  --runtime-dir DIR          where the sockets go (default: /run/oxvirt as root,
                             else $XDG_RUNTIME_DIR/oxvirt)
  --state-dir DIR            where persistent state goes (default: /var/lib/oxvirt as
                             root, else $XDG_DATA_HOME/oxvirt or ~/.local/share/oxvirt)
  --listen-tcp ADDR:PORT     also listen on TCP, without authentication; only loopback
                             addresses unless --allow-remote-tcp
  --allow-remote-tcp         allow a non-loopback --listen-tcp address (logged as a
                             warning: plain TCP has no authentication nor encryption)
  --listen-tls ADDR:PORT     also listen for TLS clients (qemu+tls://); `true` means
                             LISTEN_ADDR:TLS_PORT; client certificates are required
  --listen-addr ADDR         the address of `--listen-tls true` (default 0.0.0.0)
  --tls-port PORT            the port of `--listen-tls true` (default 16514)
  --ca-file FILE             CA certificate of TLS peers (default /etc/pki/CA/cacert.pem)
  --cert-file FILE           the daemon's TLS certificate
                             (default /etc/pki/libvirt/servercert.pem)
  --key-file FILE            its private key
                             (default /etc/pki/libvirt/private/serverkey.pem)
  --crl-file FILE            revoked certificates (default /etc/pki/CA/cacrl.pem if
                             it exists)
  --tls-no-verify-certificate BOOL
                             let TLS clients in without a valid certificate (default
                             false; they then get no x509 identity)
  --tls-allowed-dn-list PATTERN
                             a client certificate's subject DN must match one of these
                             globs (repeat the flag; the file takes a list of strings)
  --max-anonymous-clients N  connections not yet authenticated (TLS handshake,
                             CONNECT_OPEN) kept at once; more close the oldest (default
                             20; 0: no limit)
  --unix-sock-group GROUP    group of both unix sockets (name or number); without an
                             access policy, its members may use the read-write socket
  --access-policy FILE       access-control rules (TOML; see docs/security.md); without
                             one, only root, the daemon's user and --unix-sock-group
                             may open the read-write socket
  --log-level LEVEL          error, warn (default), info (start, stop, listeners) or
                             debug (every call with its duration); lines go to stderr
  --max-clients N            connections beyond N are closed at once (default 5000)
  --max-client-requests N    calls one client may have running; its socket is not read
                             meanwhile (default 5)
  --max-workers N            calls running at once over all clients; others wait
                             (default 20)
  --keepalive-interval SECS  ping clients that asked for keepalive after SECS idle
                             (default 5; 0 or less: never); also the keepalive of the
                             connection to a peer-to-peer migration's destination
  --keepalive-count N        close after N unanswered pings (default 5)
  --unix-sock-rw-perms MODE  mode of libvirt-sock, octal (default \"0600\")
  --unix-sock-ro-perms MODE  mode of libvirt-sock-ro, octal (default \"0666\")
  --host-uuid UUID           the host UUID of `virsh capabilities` and migration
                             (default: SMBIOS's, else /etc/machine-id); not all one digit
  --migrate-tls-x509-cert-dir DIR
                             credentials of `virsh migrate --tls`: ca-cert.pem,
                             server-cert.pem/-key.pem (destination), client-cert.pem/
                             -key.pem (source) (default /etc/pki/qemu)
  --migrate-tls-x509-verify BOOL
                             the destination requires the source's client certificate
                             (default true)
  --migrate-tls-force BOOL   refuse migrations without --tls (default false)
  -h, --help                 this text

SIGTERM or SIGINT stops accepting clients, lets running calls finish (up to 10 s),
removes the sockets and exits 0.";

async fn run(config: Config) -> Result<(), String> {
    crate::log::set_level(config.log_level);
    // The policy first: a bad file stops the daemon, naming the file and the line.
    // The local accounts are read once: for the sockets' group and the policy's names.
    let accounts = oxvirt_access::Accounts::system();
    let sock_gid = match &config.unix_sock_group {
        Some(name) => Some(listen::group_id(name, &accounts)?),
        None => None,
    };
    access::install(config.access_policy.as_deref(), sock_gid, accounts)?;
    std::fs::create_dir_all(&config.runtime_dir)
        .map_err(|e| format!("{}: {e}", config.runtime_dir.display()))?;
    std::fs::create_dir_all(&config.state_dir)
        .map_err(|e| format!("{}: {e}", config.state_dir.display()))?;
    // Networks first: guests that start with the QEMU driver (autostart) take ports on them.
    let network_config = NetworkConfig::under(&config.state_dir, &config.runtime_dir);
    let networks = match BridgeDriver::open(network_config).await {
        Ok(driver) => {
            let running = driver.running().await.len();
            if running > 0 {
                info!("network: {running} networks running");
            }
            client::set_network_driver(Arc::new(driver.clone()));
            Some(driver)
        }
        Err(err) => {
            warning!("virtual networks are unavailable: {}", err.message);
            None
        }
    };
    let ports = networks.map(|n| Arc::new(n) as Arc<dyn NetworkPorts>);
    // Storage pools next: autostart guests may use their volumes.
    let storage_config = StorageConfig::under(&config.state_dir, &config.runtime_dir);
    let volumes = match PoolDriver::open(storage_config).await {
        Ok(driver) => {
            let running = driver.running_count().await;
            if running > 0 {
                info!("storage: {running} pools running");
            }
            for (pool, err) in driver.startup_errors() {
                warning!("storage pool '{pool}': {}", err.message);
            }
            client::set_storage_driver(Arc::new(driver.clone()));
            Some(Arc::new(driver) as Arc<dyn StorageVolumes>)
        }
        Err(err) => {
            warning!("storage pools are unavailable: {}", err.message);
            None
        }
    };
    // The connections this daemon opens (a peer-to-peer migration's to its destination)
    // keep alive as its clients must: libvirt's QEMU driver uses qemu.conf's
    // keepalive_interval / keepalive_count there, 5 and 5 by default as here.
    oxvirt_remote::set_client_keepalive((config.keepalive_interval > 0).then(|| {
        (
            std::time::Duration::from_secs(config.keepalive_interval as u64),
            config.keepalive_count,
        )
    }));
    let mut qemu_config = QemuConfig::under(&config.state_dir, &config.runtime_dir);
    qemu_config.host_uuid = config.host_uuid;
    qemu_config.migrate_tls = MigrateTlsConfig {
        cert_dir: config.migrate_tls_x509_cert_dir.clone(),
        verify: config.migrate_tls_x509_verify,
        force: config.migrate_tls_force,
    };
    match QemuDriver::open_with(qemu_config, Attach { ports, volumes }).await {
        Ok(driver) => {
            let running = driver.running_pids().len();
            if running > 0 {
                info!("qemu: reattached to {running} running domains");
            }
            client::set_qemu_driver(driver);
        }
        Err(err) => warning!("qemu:///system is unavailable: {}", err.message),
    }
    // TLS before the sockets: a missing credential file stops the daemon, naming it.
    let tls = match config.listen_tls {
        Some(addr) => {
            let tls = Arc::new(listen::tls_server(&config)?);
            Some((listen::bind_tcp(addr).await?, tls))
        }
        None => None,
    };
    let rw_path = config.runtime_dir.join("libvirt-sock");
    let ro_path = config.runtime_dir.join("libvirt-sock-ro");
    let rw = listen::bind_unix(&rw_path, config.unix_sock_rw_perms, sock_gid)?;
    let ro = match listen::bind_unix(&ro_path, config.unix_sock_ro_perms, sock_gid) {
        Ok(ro) => ro,
        Err(err) => {
            let _ = std::fs::remove_file(&rw_path);
            return Err(err);
        }
    };
    let tcp = match config.listen_tcp {
        Some(addr) => match listen::bind_tcp(addr).await {
            Ok(l) => Some(l),
            Err(err) => {
                let _ = std::fs::remove_file(&rw_path);
                let _ = std::fs::remove_file(&ro_path);
                return Err(err);
            }
        },
        None => None,
    };
    let mut term = signal(SignalKind::terminate()).map_err(|e| e.to_string())?;
    let mut int = signal(SignalKind::interrupt()).map_err(|e| e.to_string())?;
    info!(
        "oxvirtd {} starting (pid {})",
        env!("CARGO_PKG_VERSION"),
        std::process::id()
    );
    info!("listening on {} (read-write)", rw_path.display());
    info!("listening on {} (read-only)", ro_path.display());
    let server = Server::new(config.clone());
    let mut tasks = vec![
        tokio::spawn(Arc::clone(&server).serve(Listener::Unix {
            listener: rw,
            readonly: false,
        })),
        tokio::spawn(Arc::clone(&server).serve(Listener::Unix {
            listener: ro,
            readonly: true,
        })),
    ];
    if let Some(tcp) = tcp {
        if let Ok(addr) = tcp.local_addr() {
            if addr.ip().is_loopback() {
                info!("listening on tcp {addr} (read-write, no authentication)");
            } else {
                warning!(
                    "listening on tcp {addr} without TLS: anyone who can reach this address \
                     has full, unauthenticated, unencrypted access (allow_remote_tcp); use \
                     listen_tls instead"
                );
            }
        }
        tasks.push(tokio::spawn(Arc::clone(&server).serve(Listener::Tcp(tcp))));
    }
    if let Some((listener, tls)) = tls {
        if let Ok(addr) = listener.local_addr() {
            info!("listening on tls {addr}");
        }
        tasks.push(tokio::spawn(
            Arc::clone(&server).serve(Listener::Tls { listener, tls }),
        ));
    }
    let signal = tokio::select! {
        _ = term.recv() => "SIGTERM",
        _ = int.recv() => "SIGINT",
    };
    info!(
        "{signal}: stopping; {} calls running",
        server.calls_in_flight()
    );
    server.stop_accepting();
    for task in tasks {
        let _ = task.await;
    }
    let _ = std::fs::remove_file(&rw_path);
    let _ = std::fs::remove_file(&ro_path);
    if !server.drain(DRAIN_LIMIT).await {
        warning!(
            "{} calls still running after {DRAIN_LIMIT:?}; exiting anyway",
            server.calls_in_flight()
        );
    }
    info!("stopped");
    Ok(())
}

#[tokio::main]
async fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let parsed = match config::parse_args(&args) {
        Ok(parsed) => parsed,
        Err(err) => {
            eprintln!("oxvirtd: {err}\n{USAGE}");
            std::process::exit(1);
        }
    };
    if parsed.help {
        println!("{USAGE}");
        return;
    }
    let env = |name: &str| std::env::var(name).ok();
    let result = match config::load(&parsed, &env) {
        Ok(config) => run(config).await,
        Err(err) => Err(err),
    };
    if let Err(err) = result {
        eprintln!("oxvirtd: {err}");
        std::process::exit(1);
    }
    std::process::exit(0);
}
