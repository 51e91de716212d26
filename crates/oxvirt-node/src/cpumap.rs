//! The host's present and online CPUs (`virNodeGetCPUMap`), from
//! `/sys/devices/system/cpu/{present,online}` as libvirt's `virHostCPUGetMap` reads them.

use oxvirt_xml::types::cpuset::CpuSet;
use oxvirt_xml::{ErrorCode, ErrorDomain, VirError};

use crate::stats::system_error;
use crate::Host;

/// `virNodeGetCPUMap`'s answer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HostCpuMap {
    /// The map's width: the highest present CPU + 1 (`virHostCPUGetCount`).
    pub cpus: u32,
    /// The online CPUs.
    pub online: CpuSet,
}

impl HostCpuMap {
    /// How many CPUs are online.
    pub fn online_count(&self) -> u32 {
        self.online.len() as u32
    }

    /// The online map as libvirt's API carries it: bit `n % 8` of byte `n / 8` for CPU
    /// `n`, `ceil(cpus / 8)` bytes.
    pub fn online_bytes(&self) -> Vec<u8> {
        let mut bytes = vec![0u8; self.cpus.div_ceil(8) as usize];
        for cpu in self.online.iter() {
            if let Some(b) = bytes.get_mut((cpu / 8) as usize) {
                *b |= 1 << (cpu % 8);
            }
        }
        bytes
    }
}

/// A CPU list file of `/sys/devices/system/cpu` (`present`, `online`, `possible`).
pub fn read_cpu_list(host: &Host, name: &str) -> Result<CpuSet, VirError> {
    let path = format!("/sys/devices/system/cpu/{name}");
    let text = host
        .read(&path)
        .map_err(|e| system_error(&format!("cannot open {path}"), &e))?;
    CpuSet::parse_unlimited(text.trim_end()).map_err(|_| {
        VirError::new(
            ErrorDomain::None,
            ErrorCode::InvalidArg,
            format!("Failed to parse bitmap '{}'", text.trim_end()),
        )
    })
}

/// The present CPUs (`virHostCPUGetPresentBitmap`).
pub fn present_cpus(host: &Host) -> Result<CpuSet, VirError> {
    read_cpu_list(host, "present")
}

/// The online CPUs (`virHostCPUGetOnlineBitmap`).
pub fn online_cpus(host: &Host) -> Result<CpuSet, VirError> {
    read_cpu_list(host, "online")
}

/// `virNodeGetCPUMap`: the map width (highest present CPU + 1) and the online CPUs. An
/// unreadable list fails with a system error, an unparsable one with "Failed to parse
/// bitmap".
pub fn cpu_map(host: &Host) -> Result<HostCpuMap, VirError> {
    let online = online_cpus(host)?;
    let present = present_cpus(host)?;
    Ok(HostCpuMap {
        cpus: present.last().map_or(0, |l| l + 1),
        online,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bytes_are_libvirts() {
        let m = HostCpuMap {
            cpus: 10,
            online: CpuSet::parse("0-2,8").unwrap(),
        };
        assert_eq!(m.online_bytes(), vec![0b111, 0b1]);
        assert_eq!(m.online_count(), 4);
    }
}
