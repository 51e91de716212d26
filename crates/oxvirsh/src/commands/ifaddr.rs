//! `domifaddr`: the addresses of a running domain's interfaces, as virsh 9.0's
//! `cmdDomIfAddr` prints them.

use oxvirt::domain::driver::ifaddr::{
    DomainInterface, ADDR_IPV4, ADDR_IPV6, SRC_AGENT, SRC_ARP, SRC_LEASE,
};
use serde_json::{json, Value};

use super::cmd_domain;
use crate::args::Cmd;
use crate::ctl::{CmdResult, Ctl};
use crate::output::CmdError;

/// virsh's name of an address type (an unknown one prints as `(null)`).
fn protocol(kind: i32) -> &'static str {
    match kind {
        ADDR_IPV4 => "ipv4",
        ADDR_IPV6 => "ipv6",
        _ => "(null)",
    }
}

/// The source `--source` names.
pub fn source(name: Option<&str>) -> Result<u32, CmdError> {
    match name {
        None | Some("lease") => Ok(SRC_LEASE),
        Some("agent") => Ok(SRC_AGENT),
        Some("arp") => Ok(SRC_ARP),
        Some(other) => Err(CmdError::msg(format!("Unknown data source '{other}'"))),
    }
}

/// virsh's table header.
pub fn header() -> String {
    format!(
        " {:<10} {:<20} {:<8}     {}\n{}\n",
        "Name",
        "MAC address",
        "Protocol",
        "Address",
        "-".repeat(79)
    )
}

/// virsh's rows of `ifaces` (only interface `only` if given); with `full`, every row
/// repeats the name and MAC address.
pub fn rows(ifaces: &[DomainInterface], only: Option<&str>, full: bool) -> String {
    let mut out = String::new();
    for iface in ifaces {
        if only.is_some_and(|o| o != iface.name) {
            continue;
        }
        if iface.addrs.is_empty() {
            out.push_str(&format!(
                " {:<10} {:<17}    {:<12} N/A\n",
                iface.name,
                iface.hwaddr.as_deref().unwrap_or("N/A"),
                "N/A"
            ));
            continue;
        }
        for (j, a) in iface.addrs.iter().enumerate() {
            let addr = format!("{:<12} {}/{}", protocol(a.kind), a.addr, a.prefix);
            if full || j == 0 {
                out.push_str(&format!(
                    " {:<10} {:<17}    {addr}\n",
                    iface.name,
                    iface.hwaddr.as_deref().unwrap_or("")
                ));
            } else {
                out.push_str(&format!(" {:<10} {:<17}    {addr}\n", "-", "-"));
            }
        }
    }
    out
}

/// `domifaddr DOMAIN [--interface NAME] [--full] [--source lease|agent|arp]`.
pub async fn domifaddr(ctl: &mut Ctl, cmd: &Cmd) -> CmdResult {
    let (_conn, dom) = cmd_domain(ctl, cmd).await?;
    let only = cmd.string("interface").map_err(CmdError::msg)?;
    let full = cmd.has("full");
    let src = source(cmd.string("source").map_err(CmdError::msg)?)?;
    let ifaces = dom
        .interface_addresses(src, 0)
        .await
        .map_err(|e| CmdError::with("Failed to query for interfaces addresses", e))?;
    ctl.print_extra(&header());
    ctl.print(&rows(&ifaces, only, full));
    ctl.print("\n");
    let list: Vec<Value> = ifaces
        .iter()
        .filter(|i| only.is_none_or(|o| o == i.name))
        .map(|i| {
            json!({
                "name": i.name,
                "hwaddr": i.hwaddr,
                "addrs": i.addrs.iter().map(|a| json!({
                    "type": protocol(a.kind),
                    "addr": a.addr,
                    "prefix": a.prefix,
                })).collect::<Vec<_>>(),
            })
        })
        .collect();
    Ok(Value::Array(list))
}

#[cfg(test)]
mod tests {
    use super::*;
    use oxvirt::domain::driver::ifaddr::IpAddress;

    fn iface(name: &str, addrs: &[&str]) -> DomainInterface {
        DomainInterface {
            name: name.into(),
            hwaddr: Some("52:54:00:aa:bb:01".into()),
            addrs: addrs
                .iter()
                .map(|a| IpAddress {
                    kind: if a.contains(':') {
                        ADDR_IPV6
                    } else {
                        ADDR_IPV4
                    },
                    addr: (*a).into(),
                    prefix: 24,
                })
                .collect(),
        }
    }

    #[test]
    fn the_table_is_virshs() {
        // virsh 9.0 against test:///default.
        assert_eq!(
            header(),
            " Name       MAC address          Protocol     Address\n\
             -------------------------------------------------------------------------------\n"
        );
        let ifaces = [
            iface("vnet0", &["192.168.122.3", "fd00::3"]),
            iface("vnet1", &[]),
        ];
        assert_eq!(
            rows(&ifaces, None, false),
            " vnet0      52:54:00:aa:bb:01    ipv4         192.168.122.3/24\n \
             -          -                    ipv6         fd00::3/24\n \
             vnet1      52:54:00:aa:bb:01    N/A          N/A\n"
        );
        assert_eq!(
            rows(&ifaces, Some("vnet0"), true),
            " vnet0      52:54:00:aa:bb:01    ipv4         192.168.122.3/24\n \
             vnet0      52:54:00:aa:bb:01    ipv6         fd00::3/24\n"
        );
    }

    #[test]
    fn unknown_sources_are_refused() {
        assert_eq!(source(Some("arp")).ok(), Some(SRC_ARP));
        assert!(source(Some("xyz")).is_err());
    }
}
