//! `/proc/sys/net` as libvirt's network driver writes it (`networkEnableIPForwarding`,
//! `networkSetIPv6Sysctls` in `bridge_driver.c`).

use std::io;
use std::path::{Path, PathBuf};

use oxvirt_xml::{ErrorCode, ErrorDomain, VirError};

/// The sysctl tree below a root (`/` on the host; a scratch directory in tests). The
/// files under `/proc/sys/net` are those of the network namespace of the thread that
/// opens them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProcSys {
    root: PathBuf,
}

impl Default for ProcSys {
    fn default() -> Self {
        ProcSys::host()
    }
}

/// A system error of the network driver (`VIR_FROM_NETWORK`).
fn network_system(detail: String, e: &io::Error) -> VirError {
    VirError::new(
        ErrorDomain::Network,
        ErrorCode::SystemError,
        format!("{detail}: {}", oxvirt_domain::fsio::strerror(e)),
    )
}

impl ProcSys {
    /// The host's `/proc/sys`.
    pub fn host() -> Self {
        ProcSys {
            root: PathBuf::from("/"),
        }
    }

    /// The tree below `root` (`root/proc/sys/...`).
    pub fn new(root: impl Into<PathBuf>) -> Self {
        ProcSys { root: root.into() }
    }

    /// The real path of `/proc/sys/...` path `path`.
    pub fn path(&self, path: &str) -> PathBuf {
        self.root.join(path.trim_start_matches('/'))
    }

    /// Writes `value` to `/proc/sys/...` file `path`.
    fn write(&self, path: &str, value: &str) -> io::Result<()> {
        std::fs::write(self.path(path), value)
    }

    /// Turns on IPv4 (`/proc/sys/net/ipv4/ip_forward`) and/or IPv6
    /// (`/proc/sys/net/ipv6/conf/all/forwarding`) forwarding, as libvirt does when it
    /// starts a NAT or routed network; never turns it off. The error is libvirt's.
    pub fn ip_forward(&self, v4: bool, v6: bool) -> Result<(), VirError> {
        let mut result = Ok(());
        if v4 {
            result = self.write("/proc/sys/net/ipv4/ip_forward", "1\n");
        }
        if v6 && result.is_ok() {
            result = self.write("/proc/sys/net/ipv6/conf/all/forwarding", "1\n");
        }
        result.map_err(|e| network_system("failed to enable IP forwarding".to_string(), &e))
    }

    /// libvirt's `networkSetIPv6Sysctls` for `bridge`: `disable_ipv6` is `0` if the
    /// network has an IPv6 address (`enable_ipv6`), `1` if not (nothing more is done if
    /// the file is missing: IPv6 is off on the host); then `accept_ra` and `autoconf` are
    /// `0` (guests must not steer the host's routes, and a gateway never autoconfigures).
    pub fn ipv6_sysctls(&self, bridge: &str, enable_ipv6: bool) -> Result<(), VirError> {
        let disable = format!("/proc/sys/net/ipv6/conf/{bridge}/disable_ipv6");
        if !Path::new(&self.path(&disable)).exists() {
            return Ok(());
        }
        for (field, value) in [
            (disable, if enable_ipv6 { "0" } else { "1" }),
            (format!("/proc/sys/net/ipv6/conf/{bridge}/accept_ra"), "0"),
            (format!("/proc/sys/net/ipv6/conf/{bridge}/autoconf"), "0"),
        ] {
            self.write(&field, value).map_err(|e| {
                network_system(
                    format!("cannot write to '{field}' on bridge '{bridge}'"),
                    &e,
                )
            })?;
        }
        Ok(())
    }
}

/// [`ProcSys::ip_forward`] on the host's `/proc/sys` (of the calling thread's network
/// namespace).
pub fn ip_forward(v4: bool, v6: bool) -> Result<(), VirError> {
    ProcSys::host().ip_forward(v4, v6)
}

/// [`ProcSys::ipv6_sysctls`] on the host's `/proc/sys` (of the calling thread's network
/// namespace).
pub fn ipv6_sysctls(bridge: &str, enable_ipv6: bool) -> Result<(), VirError> {
    ProcSys::host().ipv6_sysctls(bridge, enable_ipv6)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn scratch(name: &str) -> PathBuf {
        let dir =
            std::env::temp_dir().join(format!("oxvirt-procsys-{name}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        for d in [
            "proc/sys/net/ipv4",
            "proc/sys/net/ipv6/conf/all",
            "proc/sys/net/ipv6/conf/virbr9",
        ] {
            std::fs::create_dir_all(dir.join(d)).expect("mkdir");
        }
        for (f, v) in [
            ("proc/sys/net/ipv4/ip_forward", "0\n"),
            ("proc/sys/net/ipv6/conf/all/forwarding", "0\n"),
            ("proc/sys/net/ipv6/conf/virbr9/disable_ipv6", "0\n"),
            ("proc/sys/net/ipv6/conf/virbr9/accept_ra", "1\n"),
            ("proc/sys/net/ipv6/conf/virbr9/autoconf", "1\n"),
        ] {
            std::fs::write(dir.join(f), v).expect("write");
        }
        dir
    }

    fn read(dir: &Path, f: &str) -> String {
        std::fs::read_to_string(dir.join(f)).expect("read")
    }

    #[test]
    fn forwarding_only_turns_on_what_is_asked() {
        let dir = scratch("fwd");
        let sys = ProcSys::new(&dir);
        sys.ip_forward(true, false).expect("v4");
        assert_eq!(read(&dir, "proc/sys/net/ipv4/ip_forward"), "1\n");
        assert_eq!(read(&dir, "proc/sys/net/ipv6/conf/all/forwarding"), "0\n");
        sys.ip_forward(false, true).expect("v6");
        assert_eq!(read(&dir, "proc/sys/net/ipv4/ip_forward"), "1\n");
        assert_eq!(read(&dir, "proc/sys/net/ipv6/conf/all/forwarding"), "1\n");
        let _ = std::fs::remove_dir_all(&dir);
    }

    #[test]
    fn forwarding_error_is_libvirts() {
        let sys = ProcSys::new("/nonexistent-oxvirt-root");
        let e = sys.ip_forward(true, true).expect_err("must fail");
        assert_eq!(e.code, ErrorCode::SystemError);
        assert_eq!(e.domain, ErrorDomain::Network);
        assert_eq!(
            e.message,
            "failed to enable IP forwarding: No such file or directory"
        );
    }

    #[test]
    fn ipv6_sysctls_as_libvirt() {
        let dir = scratch("v6");
        let sys = ProcSys::new(&dir);
        sys.ipv6_sysctls("virbr9", false).expect("sysctls");
        assert_eq!(
            read(&dir, "proc/sys/net/ipv6/conf/virbr9/disable_ipv6"),
            "1"
        );
        assert_eq!(read(&dir, "proc/sys/net/ipv6/conf/virbr9/accept_ra"), "0");
        assert_eq!(read(&dir, "proc/sys/net/ipv6/conf/virbr9/autoconf"), "0");
        sys.ipv6_sysctls("virbr9", true).expect("sysctls");
        assert_eq!(
            read(&dir, "proc/sys/net/ipv6/conf/virbr9/disable_ipv6"),
            "0"
        );
        // A bridge without IPv6 sysctls (IPv6 off on the host) is left alone.
        sys.ipv6_sysctls("virbr7", true).expect("missing is fine");
        let _ = std::fs::remove_dir_all(&dir);
    }
}
