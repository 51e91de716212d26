//! Changing a domain's resources and metadata: memory, vCPUs, metadata, devices.

use oxvirt_domain::driver::event::EventKind;
use oxvirt_domain::driver::flags::{affect, device, memory, vcpu};
use oxvirt_domain::driver::{DomainEvent, DomainRef, Result};
use oxvirt_domain::memory::MemorySize;
use oxvirt_domain::objects::{devices, metadata};
use oxvirt_domain::tuning::Vcpu;
use oxvirt_domain::Domain;
use oxvirt_xml::{ErrorCode, ErrorDomain, VirError};

use crate::alias::{self, DeviceDoc};
use crate::driver::{api_invalid_arg, check_flags, invalid, TestDriver};
use crate::hypervisor::TEST_MAX_VCPUS;
use crate::query::{memory_current, memory_total, vcpus_current, vcpus_max};

/// `VIR_ERR_INVALID_ARG` from the test driver.
fn test_invalid_arg(detail: impl AsRef<str>) -> VirError {
    VirError::new(ErrorDomain::Test, ErrorCode::InvalidArg, detail)
}

/// Sets the vCPUs online (`virDomainDefSetVcpus`); the caller checked the maximum.
fn set_vcpus(def: &mut Domain, count: u32) {
    let v = def.vcpu.get_or_insert_with(Vcpu::default);
    v.current = (count < v.count).then_some(count);
}

/// Sets the most vCPUs the definition allows (`virDomainDefSetVcpusMax`): vCPUs above it
/// go; added ones are offline.
fn set_vcpus_max(def: &mut Domain, max: u32) {
    let v = def.vcpu.get_or_insert_with(Vcpu::default);
    let online = v.current.unwrap_or(v.count).min(max);
    v.count = max;
    v.current = (online < max).then_some(online);
}

/// The largest memory size in KiB the public API accepts (`virMemoryMaxValue(true) / 1024`).
const MAX_MEMORY_KIB: u64 = (i64::MAX as u64) / 1024;

impl TestDriver {
    /// `virDomainSetMemoryFlags` (`testDomainSetMemoryFlags`), in KiB: the current memory,
    /// or with `VIR_DOMAIN_MEM_MAXIMUM` the total memory of an inactive definition.
    pub fn set_memory_sync(&self, dom: &DomainRef, kib: u64, flags: u32) -> Result<()> {
        if kib == 0 {
            return Err(api_invalid_arg(
                "memory in virDomainSetMemoryFlags must not be zero",
            ));
        }
        if kib > MAX_MEMORY_KIB {
            return Err(VirError::new(
                ErrorDomain::Domain,
                ErrorCode::Overflow,
                format!("input too large: {kib}"),
            ));
        }
        check_flags(
            flags,
            affect::LIVE | affect::CONFIG | memory::MAXIMUM,
            "testDomainSetMemoryFlags",
        )?;
        let mut node = self.lock();
        let (mut def, live) = node.obj_mut(dom)?.one_def_mut(flags & !memory::MAXIMUM)?;
        if flags & memory::MAXIMUM != 0 {
            if live {
                return Err(invalid(
                    "cannot resize the maximum memory on an active domain",
                ));
            }
            if def.cpu.as_ref().is_some_and(|c| c.numa_cells() > 0) {
                return Err(invalid(
                    "initial memory size of a domain with NUMA nodes cannot be modified with \
                     this API",
                ));
            }
            if def
                .max_memory
                .as_ref()
                .is_some_and(|m| m.kib > 0 && m.kib < kib)
            {
                return Err(invalid(
                    "cannot set initial memory size greater than the maximum memory size",
                ));
            }
            def.memory.get_or_insert_with(MemorySize::default).kib = kib;
            if memory_current(&def) > kib {
                def.current_memory = Some(kib);
            }
        } else {
            if kib > memory_total(&def) {
                return Err(test_invalid_arg("cannot set memory higher than max memory"));
            }
            def.current_memory = Some(kib);
        }
        Ok(())
    }

    /// `virDomainSetVcpusFlags` (`testDomainSetVcpusFlags`).
    pub fn set_vcpus_sync(&self, dom: &DomainRef, count: u32, flags: u32) -> Result<()> {
        if flags & vcpu::MAXIMUM != 0 && flags & affect::CONFIG == 0 {
            return Err(api_invalid_arg(
                "Flag 'VIR_DOMAIN_AFFECT_CONFIG' is required by flag 'VIR_DOMAIN_VCPU_MAXIMUM'",
            ));
        }
        if count == 0 {
            return Err(api_invalid_arg(
                "nvcpus in virDomainSetVcpusFlags must not be zero",
            ));
        }
        check_flags(
            flags,
            affect::LIVE | affect::CONFIG | vcpu::MAXIMUM,
            "testDomainSetVcpusFlags",
        )?;
        if count > TEST_MAX_VCPUS {
            return Err(test_invalid_arg(format!(
                "requested cpu amount exceeds maximum supported amount ({count} > \
                 {TEST_MAX_VCPUS})"
            )));
        }
        let mut node = self.lock();
        let (live, config) = node.obj_mut(dom)?.defs_mut(flags & !vcpu::MAXIMUM)?;
        let exceeds = |max: u32| {
            test_invalid_arg(format!(
                "requested cpu amount exceeds maximum ({count} > {max})"
            ))
        };
        if let Some(def) = live.as_deref() {
            if vcpus_max(def) < count {
                return Err(exceeds(vcpus_max(def)));
            }
        }
        if let Some(def) = config.as_deref() {
            if flags & vcpu::MAXIMUM == 0 && vcpus_max(def) < count {
                return Err(exceeds(vcpus_max(def)));
            }
        }
        if let Some(mut def) = live {
            set_vcpus(&mut def, count);
        }
        if let Some(mut def) = config {
            if flags & vcpu::MAXIMUM != 0 {
                set_vcpus_max(&mut def, count);
            } else {
                set_vcpus(&mut def, count);
            }
        }
        Ok(())
    }

    /// `virDomainGetVcpusFlags` (`testDomainGetVcpusFlags`).
    pub fn vcpus_sync(&self, dom: &DomainRef, flags: u32) -> Result<u32> {
        check_flags(
            flags,
            affect::LIVE | affect::CONFIG | vcpu::MAXIMUM,
            "testDomainGetVcpusFlags",
        )?;
        let node = self.lock();
        let (def, _) = node.obj(dom)?.one_def(flags & !vcpu::MAXIMUM)?;
        Ok(if flags & vcpu::MAXIMUM != 0 {
            vcpus_max(def)
        } else {
            vcpus_current(def)
        })
    }

    /// `virDomainSetMetadata` (`testDomainSetMetadata`): changes the live and/or persistent
    /// definition and reports a metadata-change event.
    // The arguments are those of libvirt's call.
    #[allow(clippy::too_many_arguments)]
    pub fn set_metadata_sync(
        &self,
        dom: &DomainRef,
        kind: i32,
        value: Option<&str>,
        key: Option<&str>,
        uri: Option<&str>,
        flags: u32,
    ) -> Result<()> {
        check_flags(
            flags,
            affect::LIVE | affect::CONFIG,
            "testDomainSetMetadata",
        )?;
        let mut node = self.lock();
        let obj = node.obj_mut(dom)?;
        let domain = obj.to_ref();
        let (live, config) = obj.defs_mut(flags)?;
        if let Some(mut def) = live {
            metadata::set_metadata(&mut def, kind, value, key, uri)?;
        }
        if let Some(mut def) = config {
            metadata::set_metadata(&mut def, kind, value, key, uri)?;
        }
        let event = DomainEvent {
            domain,
            kind: EventKind::MetadataChange {
                kind,
                nsuri: uri.map(str::to_string),
            },
        };
        self.emit(vec![event]);
        Ok(())
    }

    /// `virDomainGetMetadata` (`testDomainGetMetadata`).
    pub fn metadata_sync(
        &self,
        dom: &DomainRef,
        kind: i32,
        uri: Option<&str>,
        flags: u32,
    ) -> Result<String> {
        check_flags(
            flags,
            affect::LIVE | affect::CONFIG,
            "testDomainGetMetadata",
        )?;
        let node = self.lock();
        let (def, _) = node.obj(dom)?.one_def(flags)?;
        metadata::get_metadata(def, kind, uri)
    }

    /// `virDomainAttachDeviceFlags`. libvirt 9.0's test driver lacks this call; this one
    /// adds the device to the definitions the flags name (the persistent one first) and,
    /// for the live one, reports `device-added` with the device's alias as libvirt's QEMU
    /// driver does: its user alias, or the one the QEMU driver gives it (which the live
    /// definition then shows).
    pub fn attach_device_sync(&self, dom: &DomainRef, xml: &str, flags: u32) -> Result<()> {
        check_flags(
            flags,
            affect::LIVE | affect::CONFIG,
            "testDomainAttachDeviceFlags",
        )?;
        let doc = DeviceDoc::new(xml);
        self.change_devices(dom, flags, |def, live| {
            // The device gets the test driver's post-parse step (drive addresses, implicit
            // controllers), as libvirt's QEMU driver gives an attached device its own.
            let policy = crate::parse::policy(def);
            if !live {
                devices::attach_device_with(def, doc.xml(), &policy)?;
                return Ok(None);
            }
            let (xml, alias) = doc.for_live_attach(def);
            devices::attach_device_with(def, &xml, &policy)?;
            Ok(alias.map(|alias| EventKind::DeviceAdded { alias }))
        })
    }

    /// `virDomainDetachDeviceFlags`. libvirt 9.0's test driver lacks this call; this one
    /// removes the device from the definitions the flags name (the persistent one first)
    /// and, for the live one, reports `device-removed` with the alias of the device that
    /// went, as libvirt's QEMU driver does (for a device without one, the alias the QEMU
    /// driver gave it when the domain started).
    pub fn detach_device_sync(&self, dom: &DomainRef, xml: &str, flags: u32) -> Result<()> {
        check_flags(
            flags,
            affect::LIVE | affect::CONFIG,
            "testDomainDetachDeviceFlags",
        )?;
        let doc = DeviceDoc::new(xml);
        self.change_devices(dom, flags, |def, live| {
            let alias = if live {
                alias::detached_alias(def, &doc)
            } else {
                None
            };
            devices::detach_device(def, doc.xml())?;
            Ok(alias.map(|alias| EventKind::DeviceRemoved { alias }))
        })
    }

    /// `virDomainUpdateDeviceFlags`. libvirt 9.0's test driver lacks this call; this one
    /// changes the device in the definitions the flags name.
    pub fn update_device_sync(&self, dom: &DomainRef, xml: &str, flags: u32) -> Result<()> {
        check_flags(
            flags,
            affect::LIVE | affect::CONFIG | device::FORCE,
            "testDomainUpdateDeviceFlags",
        )?;
        let doc = DeviceDoc::new(xml);
        self.change_devices(dom, flags & !device::FORCE, |def, _| {
            devices::update_device(def, doc.xml())?;
            Ok(None)
        })
    }

    /// Applies `change` to the definitions `flags` name, the persistent one first and each
    /// on a copy, so that a failure changes nothing; `change` is told whether it changes
    /// the live definition, and returns the event to report for it. The events are sent
    /// once both definitions are changed.
    fn change_devices(
        &self,
        dom: &DomainRef,
        flags: u32,
        change: impl Fn(&mut Domain, bool) -> Result<Option<EventKind>>,
    ) -> Result<()> {
        let mut node = self.lock();
        let obj = node.obj_mut(dom)?;
        let domain = obj.to_ref();
        let (live, config) = obj.defs_mut(flags)?;
        let mut new_config = config.as_deref().cloned();
        if let Some(def) = new_config.as_mut() {
            change(def, false)?;
        }
        let mut new_live = live.as_deref().cloned();
        let event = match new_live.as_mut() {
            Some(def) => change(def, true)?,
            None => None,
        };
        if let (Some(mut slot), Some(def)) = (config, new_config) {
            *slot = def;
        }
        if let (Some(mut slot), Some(def)) = (live, new_live) {
            *slot = def;
        }
        if let Some(kind) = event {
            self.emit(vec![DomainEvent { domain, kind }]);
        }
        Ok(())
    }
}
