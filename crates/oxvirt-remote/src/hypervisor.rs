//! [`Hypervisor`] for [`RemoteDriver`]: each call is the REMOTE procedure libvirt's client
//! uses for the same public function (the flag-less legacy procedure when the flags are 0
//! and libvirt's client or virsh would call the legacy function, as for `virDomainCreate`).

use async_trait::async_trait;
use oxvirt_domain::driver::{
    ConsoleIo, CpuMap, DomainInfo, DomainRef, DomainState, DomainStats, EventReceiver, Hypervisor,
    IothreadInfo, JobInfo, NodeCpuMap, NodeInfo, Result, Screenshot, SecurityLabel, SecurityModel,
    SnapshotRef, StateReason, TypedParam, VcpuInfo,
};
use oxvirt_rpc::remote::TypedParam as WireParam;
use oxvirt_rpc::remote::*;
use oxvirt_rpc::stream::{DomainOpenConsoleArgs, DomainScreenshotArgs, DomainScreenshotRet};
use oxvirt_rpc::xdr::{decode_from, encode_to_vec, Opaque};
use oxvirt_rpc::RemoteProcedure as P;
use oxvirt_xml::types::Uuid;
use oxvirt_xml::{ErrorCode, ErrorDomain, VirError};

use crate::driver::{dref, snap_ref, snap_wire, wire, RemoteDriver};
use crate::msgs::{DomArgs, DomFlagsArgs, DomRet, IntRet, SnapFlagsArgs, SnapRet};

impl RemoteDriver {
    async fn dom_call<A, R>(&self, p: P, args: &A) -> Result<R>
    where
        A: oxvirt_rpc::XdrEncode,
        R: oxvirt_rpc::XdrDecode,
    {
        self.conn.call(p, args).await
    }

    async fn void_call<A: oxvirt_rpc::XdrEncode>(&self, p: P, args: &A) -> Result<()> {
        self.conn.call::<A, ()>(p, args).await
    }

    async fn int_call<A: oxvirt_rpc::XdrEncode>(&self, p: P, args: &A) -> Result<bool> {
        Ok(self.conn.call::<A, IntRet>(p, args).await?.value != 0)
    }
}

fn df(dom: &DomainRef, flags: u32) -> DomFlagsArgs {
    DomFlagsArgs {
        dom: wire(dom),
        flags,
    }
}

fn d(dom: &DomainRef) -> DomArgs {
    DomArgs { dom: wire(dom) }
}

fn sf(snap: &SnapshotRef, flags: u32) -> SnapFlagsArgs {
    SnapFlagsArgs {
        snap: snap_wire(snap),
        flags,
    }
}

/// libvirt's client-side refusal of a request or reply over the protocol's limits
/// (`VIR_ERR_RPC` from the remote driver).
fn rpc_limit(message: String) -> oxvirt_xml::VirError {
    VirError::new(ErrorDomain::Remote, ErrorCode::Rpc, message)
}

/// Splits `bytes` into `count` maps of `maplen` bytes.
fn split_maps(bytes: &[u8], count: usize, maplen: usize) -> Vec<CpuMap> {
    (0..count)
        .map(|i| {
            let mut m = bytes
                .get(i * maplen..)
                .unwrap_or_default()
                .iter()
                .take(maplen)
                .copied()
                .collect::<Vec<u8>>();
            m.resize(maplen, 0);
            CpuMap(m)
        })
        .collect()
}

/// `maxinfo * maplen` as libvirt's client checks it.
fn maps_fit(count: u32, maplen: usize) -> Result<()> {
    if count as usize > VCPUINFO_MAX {
        return Err(rpc_limit(format!(
            "vCPU count exceeds maximum: {count} > {VCPUINFO_MAX}"
        )));
    }
    let total = count as usize * maplen;
    if total > CPUMAPS_MAX {
        return Err(rpc_limit(format!(
            "vCPU map buffer length exceeds maximum: {total} > {CPUMAPS_MAX}"
        )));
    }
    Ok(())
}

#[async_trait]
impl Hypervisor for RemoteDriver {
    fn uri(&self) -> String {
        self.uri_str()
    }

    fn hypervisor_type(&self) -> &str {
        self.type_str()
    }

    async fn supports_feature(&self, feature: i32) -> Result<bool> {
        let r: ConnectSupportsFeatureRet = self
            .dom_call(
                P::ConnectSupportsFeature,
                &ConnectSupportsFeatureArgs { feature },
            )
            .await?;
        Ok(r.supported != 0)
    }

    async fn version(&self) -> Result<u64> {
        let r: ConnectGetVersionRet = self.dom_call(P::ConnectGetVersion, &()).await?;
        Ok(r.hv_ver)
    }

    async fn hostname(&self) -> Result<String> {
        let r: ConnectGetHostnameRet = self.dom_call(P::ConnectGetHostname, &()).await?;
        Ok(r.hostname)
    }

    async fn node_info(&self) -> Result<NodeInfo> {
        let n: NodeGetInfoRet = self.dom_call(P::NodeGetInfo, &()).await?;
        let u = |v: i32| u32::try_from(v).unwrap_or(0);
        Ok(NodeInfo {
            model: n.model.0,
            memory_kib: n.memory,
            cpus: u(n.cpus),
            mhz: u(n.mhz),
            nodes: u(n.nodes),
            sockets: u(n.sockets),
            cores: u(n.cores),
            threads: u(n.threads),
        })
    }

    async fn capabilities(&self) -> Result<String> {
        let r: ConnectGetCapabilitiesRet = self.dom_call(P::ConnectGetCapabilities, &()).await?;
        Ok(r.capabilities)
    }

    async fn max_vcpus(&self, kind: Option<&str>) -> Result<u32> {
        let args = ConnectGetMaxVcpusArgs {
            r#type: kind.map(str::to_owned),
        };
        let r: ConnectGetMaxVcpusRet = self.dom_call(P::ConnectGetMaxVcpus, &args).await?;
        Ok(u32::try_from(r.max_vcpus).unwrap_or(0))
    }

    async fn free_memory(&self) -> Result<u64> {
        let r: NodeGetFreeMemoryRet = self.dom_call(P::NodeGetFreeMemory, &()).await?;
        Ok(r.free_mem)
    }

    async fn cells_free_memory(&self, start: i32, max: i32) -> Result<Vec<u64>> {
        let args = NodeGetCellsFreeMemoryArgs {
            start_cell: start,
            maxcells: max,
        };
        let r: NodeGetCellsFreeMemoryRet = self.dom_call(P::NodeGetCellsFreeMemory, &args).await?;
        Ok(r.cells)
    }

    async fn sysinfo(&self, flags: u32) -> Result<String> {
        let r: ConnectGetSysinfoRet = self
            .dom_call(P::ConnectGetSysinfo, &ConnectGetSysinfoArgs { flags })
            .await?;
        Ok(r.sysinfo)
    }

    async fn security_model(&self) -> Result<SecurityModel> {
        let r: NodeGetSecurityModelRet = self.dom_call(P::NodeGetSecurityModel, &()).await?;
        Ok(SecurityModel {
            model: r.model.0,
            doi: r.doi.0,
        })
    }

    fn subscribe(&self) -> EventReceiver {
        self.subscribe_events()
    }

    async fn lookup_by_name(&self, name: &str) -> Result<DomainRef> {
        let args = DomainLookupByNameArgs {
            name: name.to_owned(),
        };
        let r: DomainLookupByNameRet = self.dom_call(P::DomainLookupByName, &args).await?;
        Ok(dref(r.dom))
    }

    async fn lookup_by_uuid(&self, uuid: &Uuid) -> Result<DomainRef> {
        let args = DomainLookupByUuidArgs {
            uuid: (*uuid).into(),
        };
        let r: DomainLookupByUuidRet = self.dom_call(P::DomainLookupByUuid, &args).await?;
        Ok(dref(r.dom))
    }

    async fn lookup_by_id(&self, id: i32) -> Result<DomainRef> {
        let args = DomainLookupByIdArgs { id };
        let r: DomainLookupByIdRet = self.dom_call(P::DomainLookupById, &args).await?;
        Ok(dref(r.dom))
    }

    async fn list_all(&self, flags: u32) -> Result<Vec<DomainRef>> {
        let args = ConnectListAllDomainsArgs {
            need_results: 1,
            flags,
        };
        let r: ConnectListAllDomainsRet = self.dom_call(P::ConnectListAllDomains, &args).await?;
        Ok(r.domains.into_iter().map(dref).collect())
    }

    async fn define_xml(&self, xml: &str, flags: u32) -> Result<DomainRef> {
        let r: DomRet = if flags == 0 {
            let args = DomainDefineXmlArgs {
                xml: xml.to_owned(),
            };
            self.dom_call(P::DomainDefineXml, &args).await?
        } else {
            let args = DomainDefineXmlFlagsArgs {
                xml: xml.to_owned(),
                flags,
            };
            self.dom_call(P::DomainDefineXmlFlags, &args).await?
        };
        Ok(dref(r.dom))
    }

    async fn undefine(&self, dom: &DomainRef, flags: u32) -> Result<()> {
        self.void_call(P::DomainUndefineFlags, &df(dom, flags))
            .await
    }

    async fn create_xml(&self, xml: &str, flags: u32) -> Result<DomainRef> {
        let args = DomainCreateXmlArgs {
            xml_desc: xml.to_owned(),
            flags,
        };
        let r: DomainCreateXmlRet = self.dom_call(P::DomainCreateXml, &args).await?;
        Ok(dref(r.dom))
    }

    async fn create(&self, dom: &DomainRef, flags: u32) -> Result<DomainRef> {
        if flags == 0 {
            // virDomainCreate returns nothing: libvirt's client looks the domain up by
            // UUID again for its new ID.
            self.void_call(P::DomainCreate, &d(dom)).await?;
            return self.lookup_by_uuid(&dom.uuid).await;
        }
        let r: DomRet = self
            .dom_call(P::DomainCreateWithFlags, &df(dom, flags))
            .await?;
        Ok(dref(r.dom))
    }

    async fn destroy(&self, dom: &DomainRef, flags: u32) -> Result<()> {
        if flags == 0 {
            self.void_call(P::DomainDestroy, &d(dom)).await
        } else {
            self.void_call(P::DomainDestroyFlags, &df(dom, flags)).await
        }
    }

    async fn shutdown(&self, dom: &DomainRef, flags: u32) -> Result<()> {
        if flags == 0 {
            self.void_call(P::DomainShutdown, &d(dom)).await
        } else {
            self.void_call(P::DomainShutdownFlags, &df(dom, flags))
                .await
        }
    }

    async fn reboot(&self, dom: &DomainRef, flags: u32) -> Result<()> {
        self.void_call(P::DomainReboot, &df(dom, flags)).await
    }

    async fn reset(&self, dom: &DomainRef, flags: u32) -> Result<()> {
        self.void_call(P::DomainReset, &df(dom, flags)).await
    }

    async fn suspend(&self, dom: &DomainRef) -> Result<()> {
        self.void_call(P::DomainSuspend, &d(dom)).await
    }

    async fn resume(&self, dom: &DomainRef) -> Result<()> {
        self.void_call(P::DomainResume, &d(dom)).await
    }

    async fn save(
        &self,
        dom: &DomainRef,
        path: &str,
        dxml: Option<&str>,
        flags: u32,
    ) -> Result<()> {
        if dxml.is_none() && flags == 0 {
            let args = DomainSaveArgs {
                dom: wire(dom),
                to: path.to_owned(),
            };
            return self.void_call(P::DomainSave, &args).await;
        }
        let args = DomainSaveFlagsArgs {
            dom: wire(dom),
            to: path.to_owned(),
            dxml: dxml.map(str::to_owned),
            flags,
        };
        self.void_call(P::DomainSaveFlags, &args).await
    }

    async fn restore(&self, path: &str, dxml: Option<&str>, flags: u32) -> Result<()> {
        if dxml.is_none() && flags == 0 {
            let args = DomainRestoreArgs {
                from: path.to_owned(),
            };
            return self.void_call(P::DomainRestore, &args).await;
        }
        let args = DomainRestoreFlagsArgs {
            from: path.to_owned(),
            dxml: dxml.map(str::to_owned),
            flags,
        };
        self.void_call(P::DomainRestoreFlags, &args).await
    }

    async fn save_image_xml(&self, path: &str, flags: u32) -> Result<String> {
        let args = DomainSaveImageGetXmlDescArgs {
            file: path.to_owned(),
            flags,
        };
        let r: DomainSaveImageGetXmlDescRet =
            self.dom_call(P::DomainSaveImageGetXmlDesc, &args).await?;
        Ok(r.xml)
    }

    async fn save_image_define_xml(&self, path: &str, dxml: &str, flags: u32) -> Result<()> {
        let args = DomainSaveImageDefineXmlArgs {
            file: path.to_owned(),
            dxml: dxml.to_owned(),
            flags,
        };
        self.void_call(P::DomainSaveImageDefineXml, &args).await
    }

    async fn managed_save(&self, dom: &DomainRef, flags: u32) -> Result<()> {
        self.void_call(P::DomainManagedSave, &df(dom, flags)).await
    }

    async fn has_managed_save(&self, dom: &DomainRef, flags: u32) -> Result<bool> {
        self.int_call(P::DomainHasManagedSaveImage, &df(dom, flags))
            .await
    }

    async fn managed_save_remove(&self, dom: &DomainRef, flags: u32) -> Result<()> {
        self.void_call(P::DomainManagedSaveRemove, &df(dom, flags))
            .await
    }

    async fn info(&self, dom: &DomainRef) -> Result<DomainInfo> {
        let r: DomainGetInfoRet = self.dom_call(P::DomainGetInfo, &d(dom)).await?;
        Ok(DomainInfo {
            state: DomainState::from_number(i32::from(r.state)).unwrap_or(DomainState::Nostate),
            max_mem_kib: r.max_mem,
            memory_kib: r.memory,
            nr_virt_cpu: u32::from(r.nr_virt_cpu),
            cpu_time_ns: r.cpu_time,
        })
    }

    async fn state(&self, dom: &DomainRef, flags: u32) -> Result<StateReason> {
        let r: DomainGetStateRet = self.dom_call(P::DomainGetState, &df(dom, flags)).await?;
        // A reason this build does not know keeps the state, with the reason "unknown".
        StateReason::from_numbers(r.state, r.reason)
            .or_else(|| StateReason::from_numbers(r.state, 0))
            .ok_or_else(|| {
                VirError::new(
                    ErrorDomain::Rpc,
                    ErrorCode::InternalError,
                    format!("unknown domain state {}", r.state),
                )
            })
    }

    async fn xml_desc(&self, dom: &DomainRef, flags: u32) -> Result<String> {
        let r: DomainGetXmlDescRet = self.dom_call(P::DomainGetXmlDesc, &df(dom, flags)).await?;
        Ok(r.xml)
    }

    async fn os_type(&self, dom: &DomainRef) -> Result<String> {
        let r: DomainGetOsTypeRet = self.dom_call(P::DomainGetOsType, &d(dom)).await?;
        Ok(r.r#type)
    }

    async fn is_active(&self, dom: &DomainRef) -> Result<bool> {
        self.int_call(P::DomainIsActive, &d(dom)).await
    }

    async fn is_persistent(&self, dom: &DomainRef) -> Result<bool> {
        self.int_call(P::DomainIsPersistent, &d(dom)).await
    }

    async fn is_updated(&self, dom: &DomainRef) -> Result<bool> {
        self.int_call(P::DomainIsUpdated, &d(dom)).await
    }

    async fn autostart(&self, dom: &DomainRef) -> Result<bool> {
        self.int_call(P::DomainGetAutostart, &d(dom)).await
    }

    async fn set_autostart(&self, dom: &DomainRef, autostart: bool) -> Result<()> {
        let args = DomainSetAutostartArgs {
            dom: wire(dom),
            autostart: i32::from(autostart),
        };
        self.void_call(P::DomainSetAutostart, &args).await
    }

    async fn security_label(&self, dom: &DomainRef) -> Result<SecurityLabel> {
        let r: DomainGetSecurityLabelRet =
            self.dom_call(P::DomainGetSecurityLabel, &d(dom)).await?;
        Ok(SecurityLabel {
            label: r.label.0,
            enforcing: r.enforcing != 0,
        })
    }

    async fn open_console(
        &self,
        dom: &DomainRef,
        dev_name: Option<&str>,
        flags: u32,
    ) -> Result<ConsoleIo> {
        let args = DomainOpenConsoleArgs {
            dom: wire(dom),
            dev_name: dev_name.map(str::to_owned),
            flags,
        };
        let (_, stream) = self
            .conn
            .call_stream(P::DomainOpenConsole.number(), encode_to_vec(&args))
            .await?;
        Ok(crate::console::console_io(stream))
    }

    async fn screenshot(&self, dom: &DomainRef, screen: u32, flags: u32) -> Result<Screenshot> {
        let args = DomainScreenshotArgs {
            dom: wire(dom),
            screen,
            flags,
        };
        let (reply, stream) = self
            .conn
            .call_stream(P::DomainScreenshot.number(), encode_to_vec(&args))
            .await?;
        let ret: DomainScreenshotRet = decode_from(&reply).map_err(|e| e.to_vir_error())?;
        let data = stream.recv_all().await?;
        Ok(Screenshot {
            mime: ret.mime.unwrap_or_default(),
            data,
        })
    }

    async fn max_memory(&self, dom: &DomainRef) -> Result<u64> {
        let args = DomainGetMaxMemoryArgs { dom: wire(dom) };
        let r: DomainGetMaxMemoryRet = self.dom_call(P::DomainGetMaxMemory, &args).await?;
        Ok(r.memory)
    }

    async fn set_memory(&self, dom: &DomainRef, kib: u64, flags: u32) -> Result<()> {
        let args = DomainSetMemoryFlagsArgs {
            dom: wire(dom),
            memory: kib,
            flags,
        };
        self.void_call(P::DomainSetMemoryFlags, &args).await
    }

    async fn set_vcpus(&self, dom: &DomainRef, count: u32, flags: u32) -> Result<()> {
        let args = DomainSetVcpusFlagsArgs {
            dom: wire(dom),
            nvcpus: count,
            flags,
        };
        self.void_call(P::DomainSetVcpusFlags, &args).await
    }

    async fn vcpus(&self, dom: &DomainRef, flags: u32) -> Result<u32> {
        let args = DomainGetVcpusFlagsArgs {
            dom: wire(dom),
            flags,
        };
        let r: DomainGetVcpusFlagsRet = self.dom_call(P::DomainGetVcpusFlags, &args).await?;
        Ok(u32::try_from(r.num).unwrap_or(0))
    }

    async fn attach_device(&self, dom: &DomainRef, xml: &str, flags: u32) -> Result<()> {
        let args = DomainAttachDeviceFlagsArgs {
            dom: wire(dom),
            xml: xml.to_owned(),
            flags,
        };
        self.void_call(P::DomainAttachDeviceFlags, &args).await
    }

    async fn detach_device(&self, dom: &DomainRef, xml: &str, flags: u32) -> Result<()> {
        let args = DomainDetachDeviceFlagsArgs {
            dom: wire(dom),
            xml: xml.to_owned(),
            flags,
        };
        self.void_call(P::DomainDetachDeviceFlags, &args).await
    }

    async fn update_device(&self, dom: &DomainRef, xml: &str, flags: u32) -> Result<()> {
        let args = DomainUpdateDeviceFlagsArgs {
            dom: wire(dom),
            xml: xml.to_owned(),
            flags,
        };
        self.void_call(P::DomainUpdateDeviceFlags, &args).await
    }

    async fn set_metadata(
        &self,
        dom: &DomainRef,
        kind: i32,
        metadata: Option<&str>,
        key: Option<&str>,
        uri: Option<&str>,
        flags: u32,
    ) -> Result<()> {
        let args = DomainSetMetadataArgs {
            dom: wire(dom),
            r#type: kind,
            metadata: metadata.map(str::to_owned),
            key: key.map(str::to_owned),
            uri: uri.map(str::to_owned),
            flags,
        };
        self.void_call(P::DomainSetMetadata, &args).await
    }

    async fn metadata(
        &self,
        dom: &DomainRef,
        kind: i32,
        uri: Option<&str>,
        flags: u32,
    ) -> Result<String> {
        let args = DomainGetMetadataArgs {
            dom: wire(dom),
            r#type: kind,
            uri: uri.map(str::to_owned),
            flags,
        };
        let r: DomainGetMetadataRet = self.dom_call(P::DomainGetMetadata, &args).await?;
        Ok(r.metadata)
    }

    async fn snapshot_create(&self, dom: &DomainRef, xml: &str, flags: u32) -> Result<SnapshotRef> {
        let args = DomainSnapshotCreateXmlArgs {
            dom: wire(dom),
            xml_desc: xml.to_owned(),
            flags,
        };
        let r: DomainSnapshotCreateXmlRet =
            self.dom_call(P::DomainSnapshotCreateXml, &args).await?;
        Ok(snap_ref(r.snap))
    }

    async fn snapshot_list(&self, dom: &DomainRef, flags: u32) -> Result<Vec<SnapshotRef>> {
        let args = DomainListAllSnapshotsArgs {
            dom: wire(dom),
            need_results: 1,
            flags,
        };
        let r: DomainListAllSnapshotsRet = self.dom_call(P::DomainListAllSnapshots, &args).await?;
        Ok(r.snapshots.into_iter().map(snap_ref).collect())
    }

    async fn snapshot_list_children(
        &self,
        snap: &SnapshotRef,
        flags: u32,
    ) -> Result<Vec<SnapshotRef>> {
        let args = DomainSnapshotListAllChildrenArgs {
            snapshot: snap_wire(snap),
            need_results: 1,
            flags,
        };
        let r: DomainSnapshotListAllChildrenRet = self
            .dom_call(P::DomainSnapshotListAllChildren, &args)
            .await?;
        Ok(r.snapshots.into_iter().map(snap_ref).collect())
    }

    async fn snapshot_lookup(
        &self,
        dom: &DomainRef,
        name: &str,
        flags: u32,
    ) -> Result<SnapshotRef> {
        let args = DomainSnapshotLookupByNameArgs {
            dom: wire(dom),
            name: name.to_owned(),
            flags,
        };
        let r: DomainSnapshotLookupByNameRet =
            self.dom_call(P::DomainSnapshotLookupByName, &args).await?;
        Ok(snap_ref(r.snap))
    }

    async fn snapshot_xml(&self, snap: &SnapshotRef, flags: u32) -> Result<String> {
        let args = DomainSnapshotGetXmlDescArgs {
            snap: snap_wire(snap),
            flags,
        };
        let r: DomainSnapshotGetXmlDescRet =
            self.dom_call(P::DomainSnapshotGetXmlDesc, &args).await?;
        Ok(r.xml)
    }

    async fn snapshot_current(&self, dom: &DomainRef, flags: u32) -> Result<SnapshotRef> {
        let r: SnapRet = self
            .dom_call(P::DomainSnapshotCurrent, &df(dom, flags))
            .await?;
        Ok(snap_ref(r.snap))
    }

    async fn has_current_snapshot(&self, dom: &DomainRef, flags: u32) -> Result<bool> {
        self.int_call(P::DomainHasCurrentSnapshot, &df(dom, flags))
            .await
    }

    async fn snapshot_parent(&self, snap: &SnapshotRef, flags: u32) -> Result<SnapshotRef> {
        let r: SnapRet = self
            .dom_call(P::DomainSnapshotGetParent, &sf(snap, flags))
            .await?;
        Ok(snap_ref(r.snap))
    }

    async fn snapshot_is_current(&self, snap: &SnapshotRef, flags: u32) -> Result<bool> {
        self.int_call(P::DomainSnapshotIsCurrent, &sf(snap, flags))
            .await
    }

    async fn snapshot_has_metadata(&self, snap: &SnapshotRef, flags: u32) -> Result<bool> {
        self.int_call(P::DomainSnapshotHasMetadata, &sf(snap, flags))
            .await
    }

    async fn snapshot_revert(&self, snap: &SnapshotRef, flags: u32) -> Result<()> {
        self.void_call(P::DomainRevertToSnapshot, &sf(snap, flags))
            .await
    }

    async fn snapshot_delete(&self, snap: &SnapshotRef, flags: u32) -> Result<()> {
        self.void_call(P::DomainSnapshotDelete, &sf(snap, flags))
            .await
    }

    async fn domain_stats(
        &self,
        doms: &[DomainRef],
        stats: u32,
        flags: u32,
    ) -> Result<Vec<DomainStats>> {
        let args = ConnectGetAllDomainStatsArgs {
            doms: doms.iter().map(wire).collect(),
            stats,
            flags,
        };
        let r: ConnectGetAllDomainStatsRet =
            self.dom_call(P::ConnectGetAllDomainStats, &args).await?;
        Ok(r.ret_stats
            .into_iter()
            .map(|rec| DomainStats {
                domain: dref(rec.dom),
                params: rec.params.into_iter().map(TypedParam::from).collect(),
            })
            .collect())
    }

    async fn job_info(&self, dom: &DomainRef) -> Result<JobInfo> {
        let r: DomainGetJobInfoRet = self.dom_call(P::DomainGetJobInfo, &d(dom)).await?;
        Ok(JobInfo {
            kind: r.r#type,
            time_elapsed: r.time_elapsed,
            time_remaining: r.time_remaining,
            data_total: r.data_total,
            data_processed: r.data_processed,
            data_remaining: r.data_remaining,
            mem_total: r.mem_total,
            mem_processed: r.mem_processed,
            mem_remaining: r.mem_remaining,
            file_total: r.file_total,
            file_processed: r.file_processed,
            file_remaining: r.file_remaining,
        })
    }

    async fn job_stats(&self, dom: &DomainRef, flags: u32) -> Result<(i32, Vec<TypedParam>)> {
        let r: DomainGetJobStatsRet = self.dom_call(P::DomainGetJobStats, &df(dom, flags)).await?;
        Ok((
            r.r#type,
            r.params.into_iter().map(TypedParam::from).collect(),
        ))
    }

    async fn migrate_set_max_speed(&self, dom: &DomainRef, mib: u64, flags: u32) -> Result<()> {
        let args = DomainMigrateSetMaxSpeedArgs {
            dom: wire(dom),
            bandwidth: mib,
            flags,
        };
        self.void_call(P::DomainMigrateSetMaxSpeed, &args).await
    }

    async fn migrate_get_max_speed(&self, dom: &DomainRef, flags: u32) -> Result<u64> {
        let r: DomainMigrateGetMaxSpeedRet = self
            .dom_call(P::DomainMigrateGetMaxSpeed, &df(dom, flags))
            .await?;
        Ok(r.bandwidth)
    }

    async fn migrate_set_max_downtime(&self, dom: &DomainRef, ms: u64, flags: u32) -> Result<()> {
        let args = DomainMigrateSetMaxDowntimeArgs {
            dom: wire(dom),
            downtime: ms,
            flags,
        };
        self.void_call(P::DomainMigrateSetMaxDowntime, &args).await
    }

    async fn migrate_get_max_downtime(&self, dom: &DomainRef, flags: u32) -> Result<u64> {
        let r: DomainMigrateGetMaxDowntimeRet = self
            .dom_call(P::DomainMigrateGetMaxDowntime, &df(dom, flags))
            .await?;
        Ok(r.downtime)
    }

    async fn migrate_start_post_copy(&self, dom: &DomainRef, flags: u32) -> Result<()> {
        self.void_call(P::DomainMigrateStartPostCopy, &df(dom, flags))
            .await
    }

    async fn abort_job(&self, dom: &DomainRef) -> Result<()> {
        self.void_call(P::DomainAbortJob, &d(dom)).await
    }

    async fn messages(&self, dom: &DomainRef, flags: u32) -> Result<Vec<String>> {
        let r: DomainGetMessagesRet = self.dom_call(P::DomainGetMessages, &df(dom, flags)).await?;
        Ok(r.msgs)
    }

    async fn node_cpu_stats(&self, cpu: i32, flags: u32) -> Result<Vec<(String, u64)>> {
        let mut args = NodeGetCpuStatsArgs {
            cpu_num: cpu,
            nparams: 0,
            flags,
        };
        let count: NodeGetCpuStatsRet = self.dom_call(P::NodeGetCpuStats, &args).await?;
        if count.nparams <= 0 {
            return Ok(Vec::new());
        }
        args.nparams = count.nparams.min(NODE_CPU_STATS_MAX as i32);
        let r: NodeGetCpuStatsRet = self.dom_call(P::NodeGetCpuStats, &args).await?;
        if r.params.len() > args.nparams as usize {
            return Err(rpc_limit(
                "remoteNodeGetCPUStats: returned number of stats exceeds limit".into(),
            ));
        }
        Ok(r.params.into_iter().map(|p| (p.field, p.value)).collect())
    }

    async fn node_memory_stats(&self, cell: i32, flags: u32) -> Result<Vec<(String, u64)>> {
        let mut args = NodeGetMemoryStatsArgs {
            nparams: 0,
            cell_num: cell,
            flags,
        };
        let count: NodeGetMemoryStatsRet = self.dom_call(P::NodeGetMemoryStats, &args).await?;
        if count.nparams <= 0 {
            return Ok(Vec::new());
        }
        args.nparams = count.nparams.min(NODE_MEMORY_STATS_MAX as i32);
        let r: NodeGetMemoryStatsRet = self.dom_call(P::NodeGetMemoryStats, &args).await?;
        if r.params.len() > args.nparams as usize {
            return Err(rpc_limit(
                "remoteNodeGetMemoryStats: returned number of stats exceeds limit".into(),
            ));
        }
        Ok(r.params.into_iter().map(|p| (p.field, p.value)).collect())
    }

    async fn node_free_pages(
        &self,
        pages: &[u32],
        start_cell: i32,
        cell_count: u32,
        flags: u32,
    ) -> Result<Vec<u64>> {
        let total = pages.len() as u64 * u64::from(cell_count);
        if total > NODE_MAX_CELLS as u64 {
            return Err(rpc_limit(format!(
                "too many NUMA cells: {total} > {NODE_MAX_CELLS}"
            )));
        }
        let args = NodeGetFreePagesArgs {
            pages: pages.to_vec(),
            start_cell,
            cell_count,
            flags,
        };
        let r: NodeGetFreePagesRet = self.dom_call(P::NodeGetFreePages, &args).await?;
        Ok(r.counts)
    }

    async fn node_cpu_map(&self, flags: u32) -> Result<NodeCpuMap> {
        let args = NodeGetCpuMapArgs {
            need_map: 1,
            need_online: 1,
            flags,
        };
        let r: NodeGetCpuMapRet = self.dom_call(P::NodeGetCpuMap, &args).await?;
        Ok(NodeCpuMap {
            cpus: u32::try_from(r.ret).unwrap_or(0),
            online_map: CpuMap(r.cpumap.0),
            online: r.online,
        })
    }

    async fn domain_capabilities(
        &self,
        emulator: Option<&str>,
        arch: Option<&str>,
        machine: Option<&str>,
        virttype: Option<&str>,
        flags: u32,
    ) -> Result<String> {
        let args = ConnectGetDomainCapabilitiesArgs {
            emulatorbin: emulator.map(str::to_owned),
            arch: arch.map(str::to_owned),
            machine: machine.map(str::to_owned),
            virttype: virttype.map(str::to_owned),
            flags,
        };
        let r: ConnectGetDomainCapabilitiesRet = self
            .dom_call(P::ConnectGetDomainCapabilities, &args)
            .await?;
        Ok(r.capabilities)
    }

    async fn vcpu_info(
        &self,
        dom: &DomainRef,
        max_info: u32,
        maplen: usize,
    ) -> Result<(Vec<VcpuInfo>, Vec<CpuMap>)> {
        maps_fit(max_info, maplen)?;
        let args = DomainGetVcpusArgs {
            dom: wire(dom),
            maxinfo: max_info as i32,
            maplen: maplen as i32,
        };
        let r: DomainGetVcpusRet = self.dom_call(P::DomainGetVcpus, &args).await?;
        if r.info.len() > max_info as usize {
            return Err(rpc_limit(format!(
                "host reports too many vCPUs: {} > {max_info}",
                r.info.len()
            )));
        }
        if r.cpumaps.0.len() > max_info as usize * maplen {
            return Err(rpc_limit(format!(
                "host reports map buffer length exceeds maximum: {} > {}",
                r.cpumaps.0.len(),
                max_info as usize * maplen
            )));
        }
        let maps = if maplen == 0 {
            Vec::new()
        } else {
            split_maps(&r.cpumaps.0, r.info.len(), maplen)
        };
        let info = r
            .info
            .into_iter()
            .map(|v| VcpuInfo {
                number: v.number,
                state: v.state,
                cpu_time_ns: v.cpu_time,
                cpu: v.cpu,
            })
            .collect();
        Ok((info, maps))
    }

    async fn pin_vcpu(
        &self,
        dom: &DomainRef,
        vcpu: u32,
        cpumap: &CpuMap,
        flags: u32,
    ) -> Result<()> {
        if cpumap.0.len() > CPUMAP_MAX {
            return Err(rpc_limit(format!(
                "cpumap length exceeds maximum: {} > {CPUMAP_MAX}",
                cpumap.0.len()
            )));
        }
        let args = DomainPinVcpuFlagsArgs {
            dom: wire(dom),
            vcpu,
            cpumap: Opaque(cpumap.0.clone()),
            flags,
        };
        self.void_call(P::DomainPinVcpuFlags, &args).await
    }

    async fn vcpu_pin_info(
        &self,
        dom: &DomainRef,
        max_vcpus: u32,
        maplen: usize,
        flags: u32,
    ) -> Result<Vec<CpuMap>> {
        maps_fit(max_vcpus, maplen)?;
        let args = DomainGetVcpuPinInfoArgs {
            dom: wire(dom),
            ncpumaps: max_vcpus as i32,
            maplen: maplen as i32,
            flags,
        };
        let r: DomainGetVcpuPinInfoRet = self.dom_call(P::DomainGetVcpuPinInfo, &args).await?;
        if r.num < 0 || r.num as u32 > max_vcpus {
            return Err(rpc_limit(format!(
                "host reports too many vCPUs: {} > {max_vcpus}",
                r.num
            )));
        }
        if r.cpumaps.0.len() > max_vcpus as usize * maplen {
            return Err(rpc_limit(format!(
                "host reports map buffer length exceeds maximum: {} > {}",
                r.cpumaps.0.len(),
                max_vcpus as usize * maplen
            )));
        }
        Ok(split_maps(&r.cpumaps.0, r.num as usize, maplen))
    }

    async fn pin_emulator(&self, dom: &DomainRef, cpumap: &CpuMap, flags: u32) -> Result<()> {
        let args = DomainPinEmulatorArgs {
            dom: wire(dom),
            cpumap: Opaque(cpumap.0.clone()),
            flags,
        };
        self.void_call(P::DomainPinEmulator, &args).await
    }

    async fn emulator_pin_info(
        &self,
        dom: &DomainRef,
        maplen: usize,
        flags: u32,
    ) -> Result<CpuMap> {
        if maplen > CPUMAPS_MAX {
            return Err(rpc_limit(format!(
                "vCPU map buffer length exceeds maximum: {maplen} > {CPUMAPS_MAX}"
            )));
        }
        let args = DomainGetEmulatorPinInfoArgs {
            dom: wire(dom),
            maplen: maplen as i32,
            flags,
        };
        let r: DomainGetEmulatorPinInfoRet =
            self.dom_call(P::DomainGetEmulatorPinInfo, &args).await?;
        if r.cpumaps.0.len() > maplen {
            return Err(rpc_limit(format!(
                "host reports map buffer length exceeds maximum: {} > {maplen}",
                r.cpumaps.0.len()
            )));
        }
        Ok(split_maps(&r.cpumaps.0, 1, maplen).remove(0))
    }

    async fn iothread_info(&self, dom: &DomainRef, flags: u32) -> Result<Vec<IothreadInfo>> {
        let r: DomainGetIothreadInfoRet = self
            .dom_call(P::DomainGetIothreadInfo, &df(dom, flags))
            .await?;
        Ok(r.info
            .into_iter()
            .map(|t| IothreadInfo {
                id: t.iothread_id,
                cpumap: CpuMap(t.cpumap.0),
            })
            .collect())
    }

    async fn pin_iothread(
        &self,
        dom: &DomainRef,
        iothread: u32,
        cpumap: &CpuMap,
        flags: u32,
    ) -> Result<()> {
        let args = DomainPinIothreadArgs {
            dom: wire(dom),
            iothreads_id: iothread,
            cpumap: Opaque(cpumap.0.clone()),
            flags,
        };
        self.void_call(P::DomainPinIothread, &args).await
    }

    async fn set_numa_parameters(
        &self,
        dom: &DomainRef,
        params: &[TypedParam],
        flags: u32,
    ) -> Result<()> {
        if params.len() > DOMAIN_NUMA_PARAMETERS_MAX {
            return Err(rpc_limit(format!(
                "too many parameters '{}' for limit '{DOMAIN_NUMA_PARAMETERS_MAX}'",
                params.len()
            )));
        }
        let args = DomainSetNumaParametersArgs {
            dom: wire(dom),
            params: params.iter().cloned().map(WireParam::from).collect(),
            flags,
        };
        self.void_call(P::DomainSetNumaParameters, &args).await
    }

    async fn interface_addresses(
        &self,
        dom: &DomainRef,
        source: u32,
        flags: u32,
    ) -> Result<Vec<oxvirt_domain::driver::ifaddr::DomainInterface>> {
        use oxvirt_domain::driver::ifaddr::{DomainInterface, IpAddress};
        let args = DomainInterfaceAddressesArgs {
            dom: wire(dom),
            source,
            flags,
        };
        let r: DomainInterfaceAddressesRet =
            self.dom_call(P::DomainInterfaceAddresses, &args).await?;
        Ok(r.ifaces
            .into_iter()
            .map(|i| DomainInterface {
                name: i.name,
                hwaddr: i.hwaddr,
                addrs: i
                    .addrs
                    .into_iter()
                    .map(|a| IpAddress {
                        kind: a.r#type,
                        addr: a.addr,
                        prefix: a.prefix,
                    })
                    .collect(),
            })
            .collect())
    }

    async fn numa_parameters(&self, dom: &DomainRef, flags: u32) -> Result<Vec<TypedParam>> {
        let mut args = DomainGetNumaParametersArgs {
            dom: wire(dom),
            nparams: 0,
            flags,
        };
        let count: DomainGetNumaParametersRet =
            self.dom_call(P::DomainGetNumaParameters, &args).await?;
        if count.nparams <= 0 {
            return Ok(Vec::new());
        }
        args.nparams = count.nparams.min(DOMAIN_NUMA_PARAMETERS_MAX as i32);
        let r: DomainGetNumaParametersRet =
            self.dom_call(P::DomainGetNumaParameters, &args).await?;
        Ok(r.params.into_iter().map(TypedParam::from).collect())
    }

    async fn migrate_begin3_params(
        &self,
        dom: &DomainRef,
        params: &[TypedParam],
        flags: u32,
    ) -> Result<(String, Vec<u8>)> {
        let args = DomainMigrateBegin3ParamsArgs {
            dom: wire(dom),
            params: params.iter().cloned().map(WireParam::from).collect(),
            flags,
        };
        let r: DomainMigrateBegin3ParamsRet =
            self.dom_call(P::DomainMigrateBegin3Params, &args).await?;
        Ok((r.xml, r.cookie_out.0))
    }

    async fn migrate_prepare3_params(
        &self,
        params: &[TypedParam],
        cookie_in: &[u8],
        flags: u32,
    ) -> Result<(Vec<u8>, Option<String>)> {
        let args = DomainMigratePrepare3ParamsArgs {
            params: params.iter().cloned().map(WireParam::from).collect(),
            cookie_in: Opaque(cookie_in.to_vec()),
            flags,
        };
        let r: DomainMigratePrepare3ParamsRet =
            self.dom_call(P::DomainMigratePrepare3Params, &args).await?;
        Ok((r.cookie_out.0, r.uri_out))
    }

    async fn migrate_prepare_tunnel3_params(
        &self,
        params: &[TypedParam],
        cookie_in: &[u8],
        flags: u32,
    ) -> Result<(Vec<u8>, oxvirt_domain::driver::tunnel::MigrationTunnel)> {
        crate::migrate_tunnel::prepare(&self.conn, params, cookie_in, flags).await
    }

    async fn migrate_perform3_params(
        &self,
        dom: &DomainRef,
        dconnuri: Option<&str>,
        params: &[TypedParam],
        cookie_in: &[u8],
        flags: u32,
    ) -> Result<Vec<u8>> {
        let args = DomainMigratePerform3ParamsArgs {
            dom: wire(dom),
            dconnuri: dconnuri.map(str::to_owned),
            params: params.iter().cloned().map(WireParam::from).collect(),
            cookie_in: Opaque(cookie_in.to_vec()),
            flags,
        };
        let r: DomainMigratePerform3ParamsRet =
            self.dom_call(P::DomainMigratePerform3Params, &args).await?;
        Ok(r.cookie_out.0)
    }

    async fn migrate_finish3_params(
        &self,
        params: &[TypedParam],
        cookie_in: &[u8],
        flags: u32,
        cancelled: bool,
    ) -> Result<(DomainRef, Vec<u8>)> {
        let args = DomainMigrateFinish3ParamsArgs {
            params: params.iter().cloned().map(WireParam::from).collect(),
            cookie_in: Opaque(cookie_in.to_vec()),
            flags,
            cancelled: i32::from(cancelled),
        };
        let r: DomainMigrateFinish3ParamsRet =
            self.dom_call(P::DomainMigrateFinish3Params, &args).await?;
        Ok((dref(r.dom), r.cookie_out.0))
    }

    async fn migrate_confirm3_params(
        &self,
        dom: &DomainRef,
        params: &[TypedParam],
        cookie_in: &[u8],
        flags: u32,
        cancelled: bool,
    ) -> Result<()> {
        let args = DomainMigrateConfirm3ParamsArgs {
            dom: wire(dom),
            params: params.iter().cloned().map(WireParam::from).collect(),
            cookie_in: Opaque(cookie_in.to_vec()),
            flags,
            cancelled: i32::from(cancelled),
        };
        self.dom_call::<_, ()>(P::DomainMigrateConfirm3Params, &args)
            .await
    }
}

#[cfg(test)]
#[path = "hypervisor_tests.rs"]
mod tests;
