//! What the placement and node calls exchange: CPU bitmaps, vCPU and I/O thread records.

/// A host CPU bitmap as libvirt's API carries it: bit `n % 8` of byte `n / 8` set when CPU
/// `n` is in the set.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct CpuMap(pub Vec<u8>);

impl CpuMap {
    /// An empty map of `maplen` bytes.
    pub fn new(maplen: usize) -> Self {
        CpuMap(vec![0; maplen])
    }

    /// A map of `maplen` bytes with `cpus` set (CPUs past the map are dropped).
    pub fn from_cpus(maplen: usize, cpus: impl IntoIterator<Item = u32>) -> Self {
        let mut map = CpuMap::new(maplen);
        for cpu in cpus {
            map.set(cpu);
        }
        map
    }

    /// Adds CPU `cpu` if the map is long enough.
    pub fn set(&mut self, cpu: u32) {
        let (byte, bit) = ((cpu / 8) as usize, cpu % 8);
        if let Some(b) = self.0.get_mut(byte) {
            *b |= 1 << bit;
        }
    }

    /// Whether CPU `cpu` is in the map.
    pub fn contains(&self, cpu: u32) -> bool {
        let (byte, bit) = ((cpu / 8) as usize, cpu % 8);
        self.0.get(byte).is_some_and(|b| b & (1 << bit) != 0)
    }

    /// The CPUs in the map, in order.
    pub fn cpus(&self) -> Vec<u32> {
        (0..self.0.len() as u32 * 8)
            .filter(|&c| self.contains(c))
            .collect()
    }

    /// Whether no CPU is set.
    pub fn is_empty(&self) -> bool {
        self.0.iter().all(|&b| b == 0)
    }
}

/// `virNodeGetCPUMap`'s answer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NodeCpuMap {
    /// How many CPUs the host has (present, online or not): the map's width.
    pub cpus: u32,
    /// The online CPUs.
    pub online_map: CpuMap,
    /// How many are online.
    pub online: u32,
}

/// `virVcpuInfo`: one vCPU of a running domain.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct VcpuInfo {
    /// The vCPU's number.
    pub number: u32,
    /// `virVcpuState`: 0 offline, 1 running, 2 blocked.
    pub state: i32,
    /// CPU time used, in nanoseconds.
    pub cpu_time_ns: u64,
    /// The host CPU it last ran on (`-1` when unknown).
    pub cpu: i32,
}

/// `virDomainIOThreadInfo`: one I/O thread and its affinity.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IothreadInfo {
    /// The I/O thread's id.
    pub id: u32,
    /// The host CPUs it may run on.
    pub cpumap: CpuMap,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cpu_map_bits_are_libvirts() {
        let m = CpuMap::from_cpus(2, [0, 3, 9, 40]);
        assert_eq!(m.0, vec![0b1001, 0b10]);
        assert_eq!(m.cpus(), vec![0, 3, 9]);
        assert!(m.contains(9) && !m.contains(8) && !m.contains(40));
        assert!(CpuMap::new(3).is_empty());
    }
}
