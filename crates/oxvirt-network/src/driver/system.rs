//! The real host: bridges over rtnetlink, the firewall through `nft`, dnsmasq supervised.
//!
//! One netlink connection is opened per operation, in the calling thread's network
//! namespace (the daemon's), so the host follows the daemon wherever it runs.

use std::collections::HashMap;
use std::path::{Path, PathBuf};

use async_trait::async_trait;
use tokio::sync::Mutex;

use super::host::{BridgePlan, Host, Result};
use crate::dnsmasq::{Backoff, Dnsmasq, Launcher, Paths, Supervisor};
use crate::firewall::{self, FirewallNet, Nft};
use crate::model::Network;
use crate::netlink::{BridgeSpec, Netlink, ProcSys, Route};

/// The node's own network stack.
pub struct SystemHost {
    paths: Paths,
    launcher: Launcher,
    nft: Nft,
    sys: ProcSys,
    dnsmasq: Mutex<HashMap<String, Supervisor>>,
}

impl std::fmt::Debug for SystemHost {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SystemHost")
            .field("paths", &self.paths)
            .finish_non_exhaustive()
    }
}

impl SystemHost {
    /// The host, with dnsmasq's files, pid files and leases under `runtime_dir`
    /// (`RUNTIME/network`, in `dnsmasq/`).
    pub fn new(runtime_dir: &Path) -> Self {
        let dir: PathBuf = runtime_dir.join("dnsmasq");
        SystemHost {
            paths: Paths::oxvirt(dir.clone(), dir),
            launcher: Launcher::default(),
            nft: Nft::default(),
            sys: ProcSys::host(),
            dnsmasq: Mutex::new(HashMap::new()),
        }
    }

    /// Where dnsmasq's files go.
    pub fn paths(&self) -> &Paths {
        &self.paths
    }

    fn ensure_dir(&self) -> Result<()> {
        oxvirt_domain::fsio::make_dir(&self.paths.config_dir)
    }
}

#[async_trait]
impl Host for SystemHost {
    async fn routes(&self) -> Result<Vec<Route>> {
        Netlink::connect()?.routes().await
    }

    async fn link_exists(&self, name: &str) -> Result<bool> {
        Netlink::connect()?.link_exists(name).await
    }

    async fn create_bridge(&self, plan: &BridgePlan) -> Result<()> {
        let nl = Netlink::connect()?;
        nl.create_bridge(&BridgeSpec {
            name: plan.name.clone(),
            mac: plan.mac,
            mtu: plan.mtu,
            stp: plan.stp,
            forward_delay_ms: plan.delay_ms,
        })
        .await?;
        // libvirt's networkSetIPv6Sysctls: the bridge takes no router advertisements and
        // configures no address of its own; IPv6 is off on it unless the network has it.
        self.sys.ipv6_sysctls(&plan.name, plan.ipv6)?;
        for (addr, prefix) in &plan.addresses {
            nl.add_address(&plan.name, *addr, *prefix).await?;
        }
        nl.set_up(&plan.name, true).await?;
        for (dest, prefix, gateway, _metric) in &plan.routes {
            nl.add_route(*dest, *prefix, *gateway, &plan.name).await?;
        }
        Ok(())
    }

    async fn delete_bridge(&self, name: &str) -> Result<()> {
        Netlink::connect()?.delete_link(name).await.map(|_| ())
    }

    async fn enable_forwarding(&self, v4: bool, v6: bool) -> Result<()> {
        self.sys.ip_forward(v4, v6)
    }

    async fn firewall(&self, nets: &[FirewallNet]) -> Result<()> {
        let script = if nets.is_empty() {
            firewall::teardown()
        } else {
            firewall::ruleset(nets)
        };
        self.nft.apply(&script).await
    }

    async fn start_dnsmasq(&self, net: &Network) -> Result<()> {
        self.ensure_dir()?;
        let mut all = self.dnsmasq.lock().await;
        if let Some(old) = all.remove(&net.name) {
            old.stop().await;
        }
        let dnsmasq = Dnsmasq::start(net, &self.paths, &self.launcher).await?;
        all.insert(
            net.name.clone(),
            Supervisor::spawn(dnsmasq, Backoff::default()),
        );
        Ok(())
    }

    async fn reattach_dnsmasq(&self, net: &Network) -> Result<bool> {
        let Some(dnsmasq) = Dnsmasq::find(&net.name, &self.paths, &self.launcher) else {
            return Ok(false);
        };
        // The files may predate a change to the definition made while the daemon was
        // away; rewrite them so the next reload reads the current ones.
        crate::dnsmasq::process::write_files(net, &self.paths)?;
        self.dnsmasq.lock().await.insert(
            net.name.clone(),
            Supervisor::spawn(dnsmasq, Backoff::default()),
        );
        Ok(true)
    }

    async fn reload_dnsmasq(&self, net: &Network) -> Result<()> {
        crate::dnsmasq::process::write_hosts(net, &self.paths)?;
        match self.dnsmasq.lock().await.get(&net.name) {
            Some(s) => s.reload(),
            None => Ok(()),
        }
    }

    async fn stop_dnsmasq(&self, name: &str) -> Result<()> {
        let supervisor = self.dnsmasq.lock().await.remove(name);
        match supervisor {
            Some(s) => s.stop().await,
            None => {
                // One a previous daemon left without a definition that still runs.
                if let Some(d) = Dnsmasq::find(name, &self.paths, &self.launcher) {
                    d.stop().await?;
                }
            }
        }
        for path in [
            Some(self.paths.conf_file(name)),
            Some(self.paths.hosts_file(name)),
            Some(self.paths.addn_hosts_file(name)),
        ]
        .into_iter()
        .flatten()
        {
            let _ = std::fs::remove_file(path);
        }
        Ok(())
    }

    async fn lease_file(&self, name: &str) -> Result<String> {
        let Some(path) = self.paths.lease_file(name) else {
            return Ok(String::new());
        };
        match tokio::fs::read_to_string(&path).await {
            Ok(text) => Ok(text),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(String::new()),
            Err(e) => Err(oxvirt_domain::fsio::system_error(
                format!("Unable to read leases file: {}", path.display()),
                &e,
            )),
        }
    }
}
