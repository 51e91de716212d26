//! Argument and result structs of the node statistics, domain capabilities and placement
//! procedures (host CPU stats and map, free pages, vCPU/emulator/I/O thread pinning, NUMA
//! parameters), laid out as libvirt 9.0's `remote_protocol.x`.

use crate::types::NonnullDomain;
use crate::xdr::Opaque;
use crate::Xdr;

use super::{TypedParam, NODE_MAX_CELLS};

/// `REMOTE_CPUMAP_MAX`: the longest single CPU bitmap (bytes).
pub const CPUMAP_MAX: usize = 2048;
/// `REMOTE_CPUMAPS_MAX`: the longest run of CPU bitmaps (bytes).
pub const CPUMAPS_MAX: usize = 8_388_608;
/// `REMOTE_VCPUINFO_MAX`: the most vCPU records DOMAIN_GET_VCPUS returns.
pub const VCPUINFO_MAX: usize = 16384;
/// `REMOTE_IOTHREAD_INFO_MAX`: the most I/O thread records.
pub const IOTHREAD_INFO_MAX: usize = 16384;
/// `REMOTE_NODE_CPU_STATS_MAX`.
pub const NODE_CPU_STATS_MAX: usize = 16;
/// `REMOTE_NODE_MEMORY_STATS_MAX`.
pub const NODE_MEMORY_STATS_MAX: usize = 16;
/// `REMOTE_DOMAIN_NUMA_PARAMETERS_MAX`.
pub const DOMAIN_NUMA_PARAMETERS_MAX: usize = 16;

/// `remote_node_get_cpu_stats`: one named counter.
#[derive(Debug, Clone, PartialEq, Eq, Xdr)]
pub struct NodeGetCpuStats {
    /// The counter's name (`kernel`, `user`, `idle`, `iowait`, ...).
    pub field: String,
    /// Its value.
    pub value: u64,
}

/// `remote_node_get_cpu_stats_args`: the arguments of procedure 227 (`REMOTE_PROC_NODE_GET_CPU_STATS`).
#[derive(Debug, Clone, PartialEq, Eq, Xdr)]
pub struct NodeGetCpuStatsArgs {
    /// The host CPU, `-1` for all of them.
    pub cpu_num: i32,
    /// How many counters the caller has room for (`0`: only ask how many there are).
    pub nparams: i32,
    /// The call's flags.
    pub flags: u32,
}

/// `remote_node_get_cpu_stats_ret`: the result of procedure 227.
#[derive(Debug, Clone, PartialEq, Eq, Xdr)]
pub struct NodeGetCpuStatsRet {
    /// The counters (none when `nparams` was 0).
    #[xdr(max = NODE_CPU_STATS_MAX)]
    pub params: Vec<NodeGetCpuStats>,
    /// How many counters there are.
    pub nparams: i32,
}

/// `remote_node_get_memory_stats`: one named amount (KiB).
#[derive(Debug, Clone, PartialEq, Eq, Xdr)]
pub struct NodeGetMemoryStats {
    /// The amount's name (`total`, `free`, `buffers`, `cached`).
    pub field: String,
    /// Its value.
    pub value: u64,
}

/// `remote_node_get_memory_stats_args`: the arguments of procedure 228 (`REMOTE_PROC_NODE_GET_MEMORY_STATS`).
#[derive(Debug, Clone, PartialEq, Eq, Xdr)]
pub struct NodeGetMemoryStatsArgs {
    /// How many amounts the caller has room for (`0`: only ask how many there are).
    pub nparams: i32,
    /// The NUMA cell, `-1` for the whole host.
    pub cell_num: i32,
    /// The call's flags.
    pub flags: u32,
}

/// `remote_node_get_memory_stats_ret`: the result of procedure 228.
#[derive(Debug, Clone, PartialEq, Eq, Xdr)]
pub struct NodeGetMemoryStatsRet {
    /// The amounts (none when `nparams` was 0).
    #[xdr(max = NODE_MEMORY_STATS_MAX)]
    pub params: Vec<NodeGetMemoryStats>,
    /// How many amounts there are.
    pub nparams: i32,
}

/// `remote_node_get_cpu_map_args`: the arguments of procedure 293 (`REMOTE_PROC_NODE_GET_CPU_MAP`).
#[derive(Debug, Clone, PartialEq, Eq, Xdr)]
pub struct NodeGetCpuMapArgs {
    /// Non-zero to get the online map.
    pub need_map: i32,
    /// Non-zero to get the online count.
    pub need_online: i32,
    /// The call's flags.
    pub flags: u32,
}

/// `remote_node_get_cpu_map_ret`: the result of procedure 293.
#[derive(Debug, Clone, PartialEq, Eq, Xdr)]
pub struct NodeGetCpuMapRet {
    /// The online CPUs (empty unless asked for).
    #[xdr(max = CPUMAP_MAX)]
    pub cpumap: Opaque,
    /// How many are online (0 unless asked for).
    pub online: u32,
    /// How many CPUs the host has.
    pub ret: i32,
}

/// `remote_node_get_free_pages_args`: the arguments of procedure 340 (`REMOTE_PROC_NODE_GET_FREE_PAGES`).
#[derive(Debug, Clone, PartialEq, Eq, Xdr)]
pub struct NodeGetFreePagesArgs {
    /// The page sizes (KiB).
    #[xdr(max = NODE_MAX_CELLS)]
    pub pages: Vec<u32>,
    /// The first NUMA cell.
    pub start_cell: i32,
    /// How many cells.
    pub cell_count: u32,
    /// The call's flags.
    pub flags: u32,
}

/// `remote_node_get_free_pages_ret`: the result of procedure 340.
#[derive(Debug, Clone, PartialEq, Eq, Xdr)]
pub struct NodeGetFreePagesRet {
    /// Free pages, cell by cell, each cell's sizes in the order asked.
    #[xdr(max = NODE_MAX_CELLS)]
    pub counts: Vec<u64>,
}

/// `remote_connect_get_domain_capabilities_args`: the arguments of procedure 342 (`REMOTE_PROC_CONNECT_GET_DOMAIN_CAPABILITIES`).
#[derive(Debug, Clone, PartialEq, Eq, Xdr)]
pub struct ConnectGetDomainCapabilitiesArgs {
    /// The emulator binary, `None` for the default.
    pub emulatorbin: Option<String>,
    /// The guest architecture, `None` for the default.
    pub arch: Option<String>,
    /// The machine type, `None` for the default.
    pub machine: Option<String>,
    /// The virtualization type, `None` for the default.
    pub virttype: Option<String>,
    /// The call's flags.
    pub flags: u32,
}

/// `remote_connect_get_domain_capabilities_ret`: the result of procedure 342.
#[derive(Debug, Clone, PartialEq, Eq, Xdr)]
pub struct ConnectGetDomainCapabilitiesRet {
    /// The `<domainCapabilities>` XML.
    pub capabilities: String,
}

/// `remote_domain_get_vcpus_args`: the arguments of procedure 20 (`REMOTE_PROC_DOMAIN_GET_VCPUS`).
#[derive(Debug, Clone, PartialEq, Eq, Xdr)]
pub struct DomainGetVcpusArgs {
    /// The domain.
    pub dom: NonnullDomain,
    /// The most vCPU records wanted.
    pub maxinfo: i32,
    /// The bytes of each CPU map (0: no maps).
    pub maplen: i32,
}

/// `remote_vcpu_info`: one vCPU of a running domain.
#[derive(Debug, Clone, PartialEq, Eq, Xdr)]
pub struct VcpuInfoWire {
    /// The vCPU's number.
    pub number: u32,
    /// `virVcpuState`.
    pub state: i32,
    /// CPU time used (ns).
    pub cpu_time: u64,
    /// The host CPU it runs on.
    pub cpu: i32,
}

/// `remote_domain_get_vcpus_ret`: the result of procedure 20.
#[derive(Debug, Clone, PartialEq, Eq, Xdr)]
pub struct DomainGetVcpusRet {
    /// The vCPUs.
    #[xdr(max = VCPUINFO_MAX)]
    pub info: Vec<VcpuInfoWire>,
    /// `maxinfo * maplen` bytes: each vCPU's affinity map, one after the other.
    #[xdr(max = CPUMAPS_MAX)]
    pub cpumaps: Opaque,
}

/// `remote_domain_pin_vcpu_args`: the arguments of procedure 26 (`REMOTE_PROC_DOMAIN_PIN_VCPU`).
#[derive(Debug, Clone, PartialEq, Eq, Xdr)]
pub struct DomainPinVcpuArgs {
    /// The domain.
    pub dom: NonnullDomain,
    /// The vCPU.
    pub vcpu: u32,
    /// Its new affinity.
    #[xdr(max = CPUMAP_MAX)]
    pub cpumap: Opaque,
}

/// `remote_domain_pin_vcpu_flags_args`: the arguments of procedure 225 (`REMOTE_PROC_DOMAIN_PIN_VCPU_FLAGS`).
#[derive(Debug, Clone, PartialEq, Eq, Xdr)]
pub struct DomainPinVcpuFlagsArgs {
    /// The domain.
    pub dom: NonnullDomain,
    /// The vCPU.
    pub vcpu: u32,
    /// Its new affinity.
    #[xdr(max = CPUMAP_MAX)]
    pub cpumap: Opaque,
    /// `VIR_DOMAIN_AFFECT_*`.
    pub flags: u32,
}

/// `remote_domain_get_vcpu_pin_info_args`: the arguments of procedure 230 (`REMOTE_PROC_DOMAIN_GET_VCPU_PIN_INFO`).
#[derive(Debug, Clone, PartialEq, Eq, Xdr)]
pub struct DomainGetVcpuPinInfoArgs {
    /// The domain.
    pub dom: NonnullDomain,
    /// The most maps wanted.
    pub ncpumaps: i32,
    /// The bytes of each map.
    pub maplen: i32,
    /// `VIR_DOMAIN_AFFECT_*`.
    pub flags: u32,
}

/// `remote_domain_get_vcpu_pin_info_ret`: the result of procedure 230.
#[derive(Debug, Clone, PartialEq, Eq, Xdr)]
pub struct DomainGetVcpuPinInfoRet {
    /// `ncpumaps * maplen` bytes.
    #[xdr(max = CPUMAPS_MAX)]
    pub cpumaps: Opaque,
    /// How many vCPUs' maps are filled in.
    pub num: i32,
}

/// `remote_domain_pin_emulator_args`: the arguments of procedure 279 (`REMOTE_PROC_DOMAIN_PIN_EMULATOR`).
#[derive(Debug, Clone, PartialEq, Eq, Xdr)]
pub struct DomainPinEmulatorArgs {
    /// The domain.
    pub dom: NonnullDomain,
    /// The emulator threads' new affinity.
    #[xdr(max = CPUMAP_MAX)]
    pub cpumap: Opaque,
    /// `VIR_DOMAIN_AFFECT_*`.
    pub flags: u32,
}

/// `remote_domain_get_emulator_pin_info_args`: the arguments of procedure 280 (`REMOTE_PROC_DOMAIN_GET_EMULATOR_PIN_INFO`).
#[derive(Debug, Clone, PartialEq, Eq, Xdr)]
pub struct DomainGetEmulatorPinInfoArgs {
    /// The domain.
    pub dom: NonnullDomain,
    /// The bytes of the map.
    pub maplen: i32,
    /// `VIR_DOMAIN_AFFECT_*`.
    pub flags: u32,
}

/// `remote_domain_get_emulator_pin_info_ret`: the result of procedure 280.
#[derive(Debug, Clone, PartialEq, Eq, Xdr)]
pub struct DomainGetEmulatorPinInfoRet {
    /// `maplen` bytes.
    #[xdr(max = CPUMAPS_MAX)]
    pub cpumaps: Opaque,
    /// 1 when a map is given.
    pub ret: i32,
}

/// `remote_domain_iothread_info`: one I/O thread.
#[derive(Debug, Clone, PartialEq, Eq, Xdr)]
pub struct DomainIothreadInfo {
    /// Its id.
    pub iothread_id: u32,
    /// Its affinity.
    #[xdr(max = CPUMAP_MAX)]
    pub cpumap: Opaque,
}

/// `remote_domain_get_iothread_info_args`: the arguments of procedure 351 (`REMOTE_PROC_DOMAIN_GET_IOTHREAD_INFO`).
#[derive(Debug, Clone, PartialEq, Eq, Xdr)]
pub struct DomainGetIothreadInfoArgs {
    /// The domain.
    pub dom: NonnullDomain,
    /// `VIR_DOMAIN_AFFECT_*`.
    pub flags: u32,
}

/// `remote_domain_get_iothread_info_ret`: the result of procedure 351.
#[derive(Debug, Clone, PartialEq, Eq, Xdr)]
pub struct DomainGetIothreadInfoRet {
    /// The I/O threads.
    #[xdr(max = IOTHREAD_INFO_MAX)]
    pub info: Vec<DomainIothreadInfo>,
    /// How many.
    pub ret: u32,
}

/// `remote_domain_pin_iothread_args`: the arguments of procedure 352 (`REMOTE_PROC_DOMAIN_PIN_IOTHREAD`).
#[derive(Debug, Clone, PartialEq, Eq, Xdr)]
pub struct DomainPinIothreadArgs {
    /// The domain.
    pub dom: NonnullDomain,
    /// The I/O thread's id.
    pub iothreads_id: u32,
    /// Its new affinity.
    #[xdr(max = CPUMAP_MAX)]
    pub cpumap: Opaque,
    /// `VIR_DOMAIN_AFFECT_*`.
    pub flags: u32,
}

/// `remote_domain_set_numa_parameters_args`: the arguments of procedure 254 (`REMOTE_PROC_DOMAIN_SET_NUMA_PARAMETERS`).
#[derive(Debug, Clone, PartialEq, Xdr)]
pub struct DomainSetNumaParametersArgs {
    /// The domain.
    pub dom: NonnullDomain,
    /// `numa_mode`, `numa_nodeset`.
    #[xdr(max = DOMAIN_NUMA_PARAMETERS_MAX)]
    pub params: Vec<TypedParam>,
    /// `VIR_DOMAIN_AFFECT_*`.
    pub flags: u32,
}

/// `remote_domain_get_numa_parameters_args`: the arguments of procedure 255 (`REMOTE_PROC_DOMAIN_GET_NUMA_PARAMETERS`).
#[derive(Debug, Clone, PartialEq, Eq, Xdr)]
pub struct DomainGetNumaParametersArgs {
    /// The domain.
    pub dom: NonnullDomain,
    /// How many parameters the caller has room for (`0`: only ask how many).
    pub nparams: i32,
    /// `VIR_DOMAIN_AFFECT_*` and `VIR_TYPED_PARAM_STRING_OKAY`.
    pub flags: u32,
}

/// `remote_domain_get_numa_parameters_ret`: the result of procedure 255.
#[derive(Debug, Clone, PartialEq, Xdr)]
pub struct DomainGetNumaParametersRet {
    /// The parameters (none when `nparams` was 0).
    #[xdr(max = DOMAIN_NUMA_PARAMETERS_MAX)]
    pub params: Vec<TypedParam>,
    /// How many there are.
    pub nparams: i32,
}

#[cfg(test)]
mod tests {
    use super::super::tests::{dom, params, Sample};
    use super::*;
    use crate::xdr::{decode_from, encode_to_vec};

    #[test]
    fn placement_samples_round_trip() {
        let map = || Opaque(vec![0b1011, 0x80, 1]);
        let samples: Vec<Box<dyn Sample>> = vec![
            Box::new(NodeGetCpuStatsArgs {
                cpu_num: -1,
                nparams: 0,
                flags: 0,
            }),
            Box::new(NodeGetCpuStatsRet {
                params: vec![NodeGetCpuStats {
                    field: "kernel".into(),
                    value: 0x0102_0304_0506_0708,
                }],
                nparams: 4,
            }),
            Box::new(NodeGetMemoryStatsArgs {
                nparams: 4,
                cell_num: -1,
                flags: 0,
            }),
            Box::new(NodeGetMemoryStatsRet {
                params: vec![NodeGetMemoryStats {
                    field: "total".into(),
                    value: 8_388_608,
                }],
                nparams: 1,
            }),
            Box::new(NodeGetCpuMapArgs {
                need_map: 1,
                need_online: 1,
                flags: 0,
            }),
            Box::new(NodeGetCpuMapRet {
                cpumap: map(),
                online: 3,
                ret: 17,
            }),
            Box::new(NodeGetFreePagesArgs {
                pages: vec![4, 2048],
                start_cell: -1,
                cell_count: 2,
                flags: 0,
            }),
            Box::new(NodeGetFreePagesRet {
                counts: vec![1, 2, 3, 4],
            }),
            Box::new(ConnectGetDomainCapabilitiesArgs {
                emulatorbin: None,
                arch: Some("x86_64".into()),
                machine: None,
                virttype: Some("qemu".into()),
                flags: 0,
            }),
            Box::new(ConnectGetDomainCapabilitiesRet {
                capabilities: "<domainCapabilities/>".into(),
            }),
            Box::new(DomainGetVcpusArgs {
                dom: dom(),
                maxinfo: 2,
                maplen: 1,
            }),
            Box::new(DomainGetVcpusRet {
                info: vec![VcpuInfoWire {
                    number: 1,
                    state: 1,
                    cpu_time: 0x0102_0304_0506_0708,
                    cpu: -1,
                }],
                cpumaps: map(),
            }),
            Box::new(DomainPinVcpuArgs {
                dom: dom(),
                vcpu: 1,
                cpumap: map(),
            }),
            Box::new(DomainPinVcpuFlagsArgs {
                dom: dom(),
                vcpu: 1,
                cpumap: map(),
                flags: 3,
            }),
            Box::new(DomainGetVcpuPinInfoArgs {
                dom: dom(),
                ncpumaps: 2,
                maplen: 1,
                flags: 2,
            }),
            Box::new(DomainGetVcpuPinInfoRet {
                cpumaps: map(),
                num: 2,
            }),
            Box::new(DomainPinEmulatorArgs {
                dom: dom(),
                cpumap: map(),
                flags: 1,
            }),
            Box::new(DomainGetEmulatorPinInfoArgs {
                dom: dom(),
                maplen: 1,
                flags: 0,
            }),
            Box::new(DomainGetEmulatorPinInfoRet {
                cpumaps: map(),
                ret: 1,
            }),
            Box::new(DomainGetIothreadInfoArgs {
                dom: dom(),
                flags: 0,
            }),
            Box::new(DomainGetIothreadInfoRet {
                info: vec![DomainIothreadInfo {
                    iothread_id: 2,
                    cpumap: map(),
                }],
                ret: 1,
            }),
            Box::new(DomainPinIothreadArgs {
                dom: dom(),
                iothreads_id: 2,
                cpumap: map(),
                flags: 0,
            }),
            Box::new(DomainSetNumaParametersArgs {
                dom: dom(),
                params: params(),
                flags: 1,
            }),
            Box::new(DomainGetNumaParametersArgs {
                dom: dom(),
                nparams: 0,
                flags: 4,
            }),
            Box::new(DomainGetNumaParametersRet {
                params: params(),
                nparams: 2,
            }),
        ];
        for s in samples {
            s.round_trip().expect("round trip");
        }
    }

    #[test]
    fn pin_args_are_libvirts_bytes() {
        let a = DomainPinVcpuFlagsArgs {
            dom: dom(),
            vcpu: 1,
            cpumap: Opaque(vec![0x05]),
            flags: 2,
        };
        let bytes = encode_to_vec(&a);
        // dom (4 + 4 "test", 16 uuid, 4 id), vcpu, opaque<1> padded, flags
        assert_eq!(bytes.len(), 8 + 16 + 4 + 4 + 8 + 4);
        assert_eq!(&bytes[28..40], &[0, 0, 0, 1, 0, 0, 0, 1, 5, 0, 0, 0]);
        assert_eq!(&bytes[40..], &[0, 0, 0, 2]);
    }

    #[test]
    fn oversize_lists_are_refused() {
        let too_many = NodeGetCpuStatsRet {
            params: (0..17)
                .map(|i| NodeGetCpuStats {
                    field: format!("f{i}"),
                    value: i,
                })
                .collect(),
            nparams: 17,
        };
        assert!(decode_from::<NodeGetCpuStatsRet>(&encode_to_vec(&too_many)).is_err());
        let big_map = DomainPinEmulatorArgs {
            dom: dom(),
            cpumap: Opaque(vec![1; CPUMAP_MAX + 1]),
            flags: 0,
        };
        assert!(decode_from::<DomainPinEmulatorArgs>(&encode_to_vec(&big_map)).is_err());
        let ok_map = DomainPinEmulatorArgs {
            dom: dom(),
            cpumap: Opaque(vec![1; CPUMAP_MAX]),
            flags: 0,
        };
        assert_eq!(
            decode_from::<DomainPinEmulatorArgs>(&encode_to_vec(&ok_map)).expect("decodes"),
            ok_map
        );
    }
}
