//! Where a domain's threads run: vCPU information and pinning, emulator and I/O thread
//! pinning, NUMA tuning. The limits and argument checks are libvirtd's and libvirt's
//! public API's (which libvirtd calls on the server side too).

use oxvirt_domain::driver::placement::{pin_inactive_error, vcpu_fits};
use oxvirt_domain::driver::{flags, CpuMap, Hypervisor, TypedParam as DriverParam, TypedValue};
use oxvirt_rpc::remote::*;
use oxvirt_rpc::xdr::Opaque;
use oxvirt_rpc::RemoteProcedure as P;
use oxvirt_xml::VirError;

use super::node::{internal, invalid_arg};
use super::{args, dref, ret, void};

/// `VIR_TYPED_PARAM_STRING_OKAY`: the caller understands string parameters.
pub const TYPED_PARAM_STRING_OKAY: u32 = 1 << 2;

fn positive(value: i32, arg: &str, function: &str) -> Result<(), VirError> {
    if value <= 0 {
        return Err(invalid_arg(format!(
            "{arg} in {function} must be greater than zero"
        )));
    }
    Ok(())
}

/// libvirt's check (`VIR_EXCLUSIVE_FLAGS_GOTO`) that at most one of `VIR_DOMAIN_AFFECT_LIVE` and `_CONFIG` is set.
fn live_or_config(flags: u32) -> Result<(), VirError> {
    if flags & flags::affect::LIVE != 0 && flags & flags::affect::CONFIG != 0 {
        return Err(invalid_arg(
            "Flags 'VIR_DOMAIN_AFFECT_LIVE' and 'VIR_DOMAIN_AFFECT_CONFIG' are mutually exclusive"
                .into(),
        ));
    }
    Ok(())
}

/// A CPU map from the wire; it must not be empty (`maplen` positive).
fn cpumap(map: Opaque, function: &str) -> Result<CpuMap, VirError> {
    positive(map.0.len() as i32, "maplen", function)?;
    Ok(CpuMap(map.0))
}

/// `maps` laid one after the other, each `maplen` bytes, `count` of them.
fn lay_out(maps: &[CpuMap], count: usize, maplen: usize) -> Vec<u8> {
    let mut out = vec![0u8; count * maplen];
    for (i, m) in maps.iter().take(count).enumerate() {
        let n = m.0.len().min(maplen);
        out[i * maplen..i * maplen + n].copy_from_slice(&m.0[..n]);
    }
    out
}

/// `virDomainPinVcpu` (no flags) works on the running domain only: libvirt's drivers
/// refuse an inactive one ("domain is not running"; the test driver has its own words),
/// then pin the live vCPU.
pub(crate) async fn legacy_pin_needs_running(
    drv: &dyn Hypervisor,
    dom: &oxvirt_domain::driver::DomainRef,
) -> Result<(), VirError> {
    if drv.is_active(dom).await? {
        return Ok(());
    }
    Err(pin_inactive_error(drv.hypervisor_type()))
}

/// libvirt's test driver answers the "how many" NUMA parameter call before it looks at
/// the domain or the flags.
const TEST_NUMA_PARAMS: i32 = 2;

/// Serves the placement procedures; anything else is a procedure the daemon does not serve.
pub(crate) async fn dispatch_placement(
    drv: &dyn Hypervisor,
    procedure: P,
    payload: &[u8],
) -> Result<Vec<u8>, VirError> {
    match procedure {
        P::DomainGetVcpus => {
            let a: DomainGetVcpusArgs = args(payload)?;
            if a.maxinfo > VCPUINFO_MAX as i32 {
                return Err(internal("maxinfo > REMOTE_VCPUINFO_MAX"));
            }
            if i64::from(a.maxinfo) * i64::from(a.maplen) > CPUMAPS_MAX as i64 {
                return Err(internal("maxinfo * maplen > REMOTE_CPUMAPS_MAX"));
            }
            positive(a.maxinfo, "maxinfo", "virDomainGetVcpus")?;
            if a.maplen < 0 {
                return Err(invalid_arg(
                    "maplen in virDomainGetVcpus must be zero".into(),
                ));
            }
            let (maxinfo, maplen) = (a.maxinfo as usize, a.maplen as usize);
            let (info, maps) = drv
                .vcpu_info(&dref(a.dom), a.maxinfo as u32, maplen)
                .await?;
            let info: Vec<VcpuInfoWire> = info
                .into_iter()
                .take(maxinfo)
                .map(|v| VcpuInfoWire {
                    number: v.number,
                    state: v.state,
                    cpu_time: v.cpu_time_ns,
                    cpu: v.cpu,
                })
                .collect();
            ret(&DomainGetVcpusRet {
                info,
                cpumaps: Opaque(lay_out(&maps, maxinfo, maplen)),
            })
        }
        P::DomainGetVcpuPinInfo => {
            let a: DomainGetVcpuPinInfoArgs = args(payload)?;
            if a.ncpumaps > VCPUINFO_MAX as i32 {
                return Err(internal("ncpumaps > REMOTE_VCPUINFO_MAX"));
            }
            if i64::from(a.ncpumaps) * i64::from(a.maplen) > CPUMAPS_MAX as i64 {
                return Err(internal("maxinfo * maplen > REMOTE_CPUMAPS_MAX"));
            }
            let f = "virDomainGetVcpuPinInfo";
            if a.maplen <= 0 {
                return Err(invalid_arg(format!("cpumaps in {f} must not be NULL")));
            }
            positive(a.ncpumaps, "ncpumaps", f)?;
            live_or_config(a.flags)?;
            let (n, maplen) = (a.ncpumaps as usize, a.maplen as usize);
            let maps = drv
                .vcpu_pin_info(&dref(a.dom), a.ncpumaps as u32, maplen, a.flags)
                .await?;
            let num = maps.len().min(n);
            ret(&DomainGetVcpuPinInfoRet {
                cpumaps: Opaque(lay_out(&maps, n, maplen)),
                num: num as i32,
            })
        }
        P::DomainPinVcpu => {
            let a: DomainPinVcpuArgs = args(payload)?;
            let map = cpumap(a.cpumap, "virDomainPinVcpu")?;
            vcpu_fits(a.vcpu)?;
            let dom = dref(a.dom);
            legacy_pin_needs_running(drv, &dom).await?;
            drv.pin_vcpu(&dom, a.vcpu, &map, flags::affect::CURRENT)
                .await?;
            void()
        }
        P::DomainPinVcpuFlags => {
            let a: DomainPinVcpuFlagsArgs = args(payload)?;
            let map = cpumap(a.cpumap, "virDomainPinVcpuFlags")?;
            vcpu_fits(a.vcpu)?;
            drv.pin_vcpu(&dref(a.dom), a.vcpu, &map, a.flags).await?;
            void()
        }
        P::DomainPinEmulator => {
            let a: DomainPinEmulatorArgs = args(payload)?;
            let map = cpumap(a.cpumap, "virDomainPinEmulator")?;
            drv.pin_emulator(&dref(a.dom), &map, a.flags).await?;
            void()
        }
        P::DomainGetEmulatorPinInfo => {
            let a: DomainGetEmulatorPinInfoArgs = args(payload)?;
            let f = "virDomainGetEmulatorPinInfo";
            if a.maplen <= 0 {
                return Err(invalid_arg(format!("cpumap in {f} must not be NULL")));
            }
            live_or_config(a.flags)?;
            let maplen = a.maplen as usize;
            let map = drv.emulator_pin_info(&dref(a.dom), maplen, a.flags).await?;
            ret(&DomainGetEmulatorPinInfoRet {
                cpumaps: Opaque(lay_out(&[map], 1, maplen)),
                ret: 1,
            })
        }
        P::DomainGetIothreadInfo => {
            let a: DomainGetIothreadInfoArgs = args(payload)?;
            live_or_config(a.flags)?;
            let info = drv.iothread_info(&dref(a.dom), a.flags).await?;
            if info.len() > IOTHREAD_INFO_MAX {
                return Err(internal(&format!(
                    "Too many IOThreads in info: {} for limit {IOTHREAD_INFO_MAX}",
                    info.len()
                )));
            }
            let count = info.len() as u32;
            ret(&DomainGetIothreadInfoRet {
                info: info
                    .into_iter()
                    .map(|t| DomainIothreadInfo {
                        iothread_id: t.id,
                        cpumap: Opaque(t.cpumap.0),
                    })
                    .collect(),
                ret: count,
            })
        }
        P::DomainPinIothread => {
            let a: DomainPinIothreadArgs = args(payload)?;
            let map = cpumap(a.cpumap, "virDomainPinIOThread")?;
            drv.pin_iothread(&dref(a.dom), a.iothreads_id, &map, a.flags)
                .await?;
            void()
        }
        P::DomainSetNumaParameters => {
            let a: DomainSetNumaParametersArgs = args(payload)?;
            positive(
                a.params.len() as i32,
                "nparams",
                "virDomainSetNumaParameters",
            )?;
            let params: Vec<DriverParam> = a.params.into_iter().map(DriverParam::from).collect();
            drv.set_numa_parameters(&dref(a.dom), &params, a.flags)
                .await?;
            void()
        }
        P::DomainGetNumaParameters => {
            let a: DomainGetNumaParametersArgs = args(payload)?;
            if a.nparams > DOMAIN_NUMA_PARAMETERS_MAX as i32 {
                return Err(internal("nparams too large"));
            }
            if a.nparams < 0 {
                return Err(invalid_arg(
                    "nparams in virDomainGetNumaParameters must be zero or greater".into(),
                ));
            }
            if a.nparams == 0 && drv.hypervisor_type() == "TEST" {
                return ret(&DomainGetNumaParametersRet {
                    params: Vec::new(),
                    nparams: TEST_NUMA_PARAMS,
                });
            }
            let all = drv.numa_parameters(&dref(a.dom), a.flags).await?;
            if a.nparams == 0 {
                return ret(&DomainGetNumaParametersRet {
                    params: Vec::new(),
                    nparams: all.len() as i32,
                });
            }
            let strings = a.flags & TYPED_PARAM_STRING_OKAY != 0;
            let params = all
                .into_iter()
                .take(a.nparams as usize)
                .filter(|p| strings || !matches!(p.value, TypedValue::String(_)))
                .map(TypedParam::from)
                .collect();
            ret(&DomainGetNumaParametersRet { params, nparams: 0 })
        }
        other => super::ifaddr::dispatch_ifaddr(drv, other, payload).await,
    }
}
