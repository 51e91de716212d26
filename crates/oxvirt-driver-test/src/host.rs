//! The host as the test driver describes it: capabilities XML, host name, free memory.

use std::fmt::Write as _;

use oxvirt_xml::{ErrorCode, ErrorDomain, VirError};

use crate::node::Cell;

/// The host's name as libvirt's `virGetHostname` gives it: the kernel's host name, made
/// canonical through `/etc/hosts` when it is short and not `localhost`.
///
/// The answer is kept while the kernel's name stays the same, `/etc/hosts` is looked at
/// again (its modification time) at most once a second: a call costs one system call
/// rather than reading two files.
pub fn hostname() -> String {
    let uts = rustix::system::uname();
    let name = uts.nodename().to_string_lossy().trim().to_string();
    if name.is_empty() || name.starts_with("localhost") || name.contains('.') {
        return name;
    }
    let mut cache = HOSTNAME
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner);
    if let Some(known) = cache.as_ref() {
        if known.name == name && known.checked.elapsed() < HOSTS_RECHECK {
            return known.canonical.clone();
        }
    }
    let mtime = std::fs::metadata("/etc/hosts")
        .and_then(|m| m.modified())
        .ok();
    if let Some(known) = cache.as_mut() {
        if known.name == name && known.hosts_mtime == mtime {
            known.checked = std::time::Instant::now();
            return known.canonical.clone();
        }
    }
    let hosts = std::fs::read_to_string("/etc/hosts").unwrap_or_default();
    let canonical = canonical_name(&name, &hosts).unwrap_or_else(|| name.clone());
    *cache = Some(KnownHostname {
        name,
        hosts_mtime: mtime,
        checked: std::time::Instant::now(),
        canonical: canonical.clone(),
    });
    canonical
}

/// The last host name worked out, and what it was worked out from.
struct KnownHostname {
    name: String,
    hosts_mtime: Option<std::time::SystemTime>,
    /// When `hosts_mtime` was last compared with the file's.
    checked: std::time::Instant,
    canonical: String,
}

/// How long a host name is trusted before `/etc/hosts` is looked at again.
const HOSTS_RECHECK: std::time::Duration = std::time::Duration::from_secs(1);

static HOSTNAME: std::sync::Mutex<Option<KnownHostname>> = std::sync::Mutex::new(None);

/// The canonical name `/etc/hosts` gives `name` (the first name of the first line listing
/// it), unless that is a `localhost` name.
fn canonical_name(name: &str, hosts: &str) -> Option<String> {
    hosts
        .lines()
        .map(|l| l.split('#').next().unwrap_or_default())
        .find_map(|l| {
            let mut fields = l.split_whitespace().skip(1);
            let canonical = fields.next()?;
            let listed = canonical == name || fields.any(|f| f == name);
            listed.then(|| canonical.to_string())
        })
        .filter(|c| !c.starts_with("localhost"))
}

/// The capabilities XML of the test driver (libvirt's `testBuildCapabilities` as
/// `virCapabilitiesFormatXML` writes it) for a host with `cells`.
pub fn capabilities(cells: &[Cell]) -> String {
    let mut x = String::from("<capabilities>\n\n  <host>\n    <cpu>\n      <arch>i686</arch>\n");
    x.push_str("      <features>\n        <pae/>\n        <nonpae/>\n      </features>\n");
    for size in [4, 8, 2048, 1_048_576] {
        let _ = writeln!(x, "      <pages unit='KiB' size='{size}'/>");
    }
    x.push_str("    </cpu>\n    <power_management/>\n    <iommu support='no'/>\n");
    let _ = writeln!(x, "    <topology>\n      <cells num='{}'>", cells.len());
    for (i, cell) in cells.iter().enumerate() {
        let _ = writeln!(x, "        <cell id='{i}'>");
        let _ = writeln!(
            x,
            "          <memory unit='KiB'>{}</memory>",
            cell.memory_kib
        );
        // The first page size of cell 1 is 8 KiB, of the others 4 KiB.
        let small = if i == 1 { 8 } else { 4 };
        let _ = writeln!(
            x,
            "          <pages unit='KiB' size='{small}'>{}</pages>",
            cell.memory_kib / small
        );
        x.push_str("          <pages unit='KiB' size='2048'>0</pages>\n");
        x.push_str("          <pages unit='KiB' size='1048576'>0</pages>\n");
        let _ = writeln!(x, "          <cpus num='{}'>", cell.cpus.len());
        for (id, socket, core) in &cell.cpus {
            let _ = writeln!(
                x,
                "            <cpu id='{id}' socket_id='{socket}' die_id='0' core_id='{core}' \
                 siblings='{id}'/>"
            );
        }
        x.push_str("          </cpus>\n        </cell>\n");
    }
    x.push_str("      </cells>\n    </topology>\n");
    x.push_str("    <secmodel>\n      <model>testSecurity</model>\n      <doi></doi>\n");
    x.push_str("    </secmodel>\n  </host>\n\n");
    for os in ["hvm", "xen"] {
        let _ = write!(
            x,
            "  <guest>\n    <os_type>{os}</os_type>\n    <arch name='i686'>\n      \
             <wordsize>32</wordsize>\n      <emulator>/usr/bin/test-hv</emulator>\n      \
             <domain type='test'/>\n    </arch>\n    <features>\n      <pae/>\n      \
             <nonpae/>\n    </features>\n  </guest>\n\n"
        );
    }
    x.push_str("</capabilities>\n");
    x
}

/// Free memory as the test driver reports it: the sum of its cells' free memory (in KiB,
/// though the call's unit is bytes).
pub fn free_memory(cells: &[Cell]) -> u64 {
    // libvirt adds them up in an unsigned int.
    cells
        .iter()
        .fold(0u32, |acc, c| acc.wrapping_add(c.free_kib as u32)) as u64
}

/// libvirt's test driver's `virNodeGetCellsFreeMemory`: each cell's memory (its total, in
/// the node's KiB figures, reported as the API's bytes, as libvirt does) from `start`, at
/// most `max` of them; no cell in range is an error.
pub fn cells_free_memory(cells: &[Cell], start: i32, max: i32) -> Result<Vec<u64>, VirError> {
    let found: Vec<u64> = usize::try_from(start)
        .ok()
        .map(|start| {
            cells
                .iter()
                .skip(start)
                .take(usize::try_from(max).unwrap_or(0))
                .map(|c| c.memory_kib)
                .collect()
        })
        .unwrap_or_default();
    if found.is_empty() {
        return Err(VirError::new(
            ErrorDomain::Test,
            ErrorCode::InvalidArg,
            "Range exceeds available cells",
        ));
    }
    Ok(found)
}

/// The SMBIOS data libvirt's test driver reports (`virsh sysinfo`).
pub const SYSINFO: &str = "<sysinfo type='smbios'>
  <bios>
    <entry name='vendor'>LENOVO</entry>
    <entry name='version'>G4ETA1WW (2.61 )</entry>
    <entry name='date'>05/07/2014</entry>
    <entry name='release'>2.61</entry>
  </bios>
</sysinfo>
";

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cells_free_memory_as_libvirt() {
        let cell = |kib| Cell {
            memory_kib: kib,
            free_kib: 0,
            cpus: Vec::new(),
        };
        let cells = [cell(2_097_152), cell(4_194_304)];
        assert_eq!(
            cells_free_memory(&cells, 0, 8).unwrap(),
            vec![2_097_152, 4_194_304]
        );
        assert_eq!(cells_free_memory(&cells, 1, 1).unwrap(), vec![4_194_304]);
        for (start, max) in [(2, 1), (-1, 2), (0, 0), (0, -1)] {
            let err = cells_free_memory(&cells, start, max).unwrap_err();
            assert_eq!(
                (err.code, err.domain, err.message.as_str()),
                (
                    ErrorCode::InvalidArg,
                    ErrorDomain::Test,
                    "invalid argument: Range exceeds available cells"
                ),
                "{start} {max}"
            );
        }
    }

    #[test]
    fn canonical_names_come_from_etc_hosts() {
        let hosts = "127.0.0.1 localhost\n# 10.0.0.1 vm.example.org vm\n10.0.0.2 vm.lan vm\n";
        assert_eq!(canonical_name("vm", hosts).as_deref(), Some("vm.lan"));
        assert_eq!(canonical_name("other", hosts), None);
        assert_eq!(
            canonical_name("vm", "127.0.0.1 vm\n").as_deref(),
            Some("vm")
        );
        assert_eq!(
            canonical_name("vm", "127.0.0.1 localhost.localdomain vm\n"),
            None
        );
    }
}
