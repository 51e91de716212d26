//! The defaults libvirt fills in after parsing a domain, so that its formatted XML says
//! what will actually be used.
//!
//! libvirt's post-parse step (`virDomainDefPostParse`) runs, in this order: the driver's
//! domain callback; every device's post-parse (`virDomainDeviceDefPostParse`: the driver's
//! device callback, then `virDomainDeviceDefPostParseCommon`, which among others gives
//! disks and SCSI host devices their drive addresses); then `virDomainDefPostParseCommon`,
//! which adds the implicit devices (`virDomainDefAddImplicitDevices`: the console
//! compatibility serial port, the controllers the devices need, a video adapter for
//! graphics) and makes the first video adapter primary. [`Domain::add_implicit_devices`]
//! does the drive addresses and the implicit devices in that order, with what differs by
//! driver given as a [`DriverDefaults`]; [`Domain::apply_defaults_with`] does it all.
//!
//! The order matters: the implicit controllers follow the drive addresses they are added
//! for, and are appended after the written ones in the order libvirt adds them.

mod controllers;
mod drives;
mod policy;
mod video;

#[cfg(test)]
mod tests;

pub use controllers::{add_implicit_controllers, maybe_add_controller};
pub use drives::{assign_drive_addresses, disk_post_parse, Drive};
pub use policy::DriverDefaults;
pub use video::add_implicit_video;

use oxvirt_xml::types::uuid::Uuid;
use oxvirt_xml::Result;

use crate::clock::Clock;
use crate::devices::{controller, DeviceContext};
use crate::domain::{Domain, LifecycleAction};
use crate::memory::MemorySize;
use crate::tuning::apply_tuning_defaults;

/// The host architecture in libvirt's spelling (`x86_64`, `aarch64`, `ppc64le`, ...).
pub fn host_arch() -> &'static str {
    match std::env::consts::ARCH {
        "x86" => "i686",
        "powerpc64" if cfg!(target_endian = "little") => "ppc64le",
        "powerpc64" => "ppc64",
        other => other,
    }
}

impl Domain {
    /// Fills in what libvirt's generic parse and post-parse steps fill in, for a guest of
    /// this host's architecture: see [`Domain::apply_defaults_for`].
    pub fn apply_defaults(&mut self) -> Result<()> {
        self.apply_defaults_for(host_arch())
    }

    /// [`Domain::apply_defaults_with`] as libvirt's generic code behaves without a driver
    /// ([`DriverDefaults::GENERIC`]).
    pub fn apply_defaults_for(&mut self, host_arch: &str) -> Result<()> {
        self.apply_defaults_with(host_arch, &DriverDefaults::GENERIC)
    }

    /// Fills in what libvirt's generic parse and post-parse steps fill in: a UUID and a VM
    /// generation ID where asked for, current memory, lifecycle actions, the clock, the
    /// guest architecture (`host_arch` when none is given) and boot device, drive
    /// addresses and implicit devices ([`Domain::add_implicit_devices`], with the driver's
    /// `policy`), and each device's own defaults. What only a driver does (machine types,
    /// PCI addresses, USB controllers) belongs to the drivers.
    ///
    /// Fails where libvirt's post-parse step fails (for example a second console that
    /// claims to be a serial port, or a disk name that gives no drive address).
    pub fn apply_defaults_with(&mut self, host_arch: &str, policy: &DriverDefaults) -> Result<()> {
        if self.uuid.is_none() {
            self.uuid = Uuid::new_v4().ok();
        }
        if self.genid.as_deref() == Some("") {
            self.genid = Uuid::new_v4().ok().map(|u| u.to_string());
        }
        let numa_kib = self.cpu.as_ref().map_or(0, |c| c.numa_memory_kib());
        if numa_kib > 0 {
            // With guest NUMA cells, the memory size is theirs (virDomainDefPostParseMemory).
            self.memory.get_or_insert_with(MemorySize::default).kib = numa_kib;
        }
        let numa_cells = self.cpu.as_ref().map_or(0, |c| c.numa_cells());
        if let Some(b) = self.memory_backing.as_mut() {
            b.apply_defaults(numa_cells);
        }
        apply_tuning_defaults(
            &mut self.vcpu,
            &mut self.vcpus,
            &mut self.iothreads,
            &mut self.iothreadids,
            &mut self.cputune,
            &mut self.numatune,
        );
        if self.cputune.as_ref().is_some_and(|t| t.is_empty()) {
            self.cputune = None;
        }
        if self.numatune.as_ref().is_some_and(|t| t.is_empty()) {
            self.numatune = None;
        }
        if let Some(total) = self.memory.as_ref().map(|m| m.kib) {
            match self.current_memory {
                Some(cur) if cur > 0 && cur <= total => {}
                _ => self.current_memory = Some(total),
            }
        }
        self.on_poweroff.get_or_insert(LifecycleAction::Destroy);
        self.on_reboot.get_or_insert(LifecycleAction::Restart);
        self.on_crash.get_or_insert(LifecycleAction::Destroy);
        self.clock.get_or_insert_with(Clock::default);
        let device_boot = self.devices.has_boot_order();
        if let Some(os) = self.os.as_mut() {
            os.apply_defaults(host_arch, device_boot);
        }
        self.add_implicit_devices(policy)?;
        let cx = DeviceContext {
            os_type: self.os.as_ref().and_then(|o| o.os_type),
            arch: self.os.as_ref().and_then(|o| o.arch.as_deref()),
            virt_type: oxvirt_xml::XmlEnum::as_xml_str(&self.virt_type),
        };
        self.devices.apply_defaults(cx)
    }

    /// Gives disks and SCSI host devices their drive addresses and adds the devices libvirt
    /// adds to every definition, in libvirt's order:
    ///
    /// 1. controllers written without an index get one (libvirt's parser does this);
    /// 2. each disk, then each SCSI host device, gets its drive address
    ///    ([`assign_drive_addresses`]; `virDomainDiskDefAssignAddress`,
    ///    `virDomainHostdevAssignAddress`, from the per-device post-parse step), and CD-ROMs
    ///    become read-only as libvirt's parser makes them;
    /// 3. the controllers those devices need, smartcards their CCID slots
    ///    ([`add_implicit_controllers`]; `virDomainDefAddImplicitControllers`);
    /// 4. a video adapter of the driver's model if there are graphics and no video
    ///    ([`add_implicit_video`]; `virDomainDefAddImplicitVideo`).
    ///
    /// libvirt's console compatibility (`virDomainDefAddConsoleCompat`, first of the
    /// implicit devices) and the primary flag and video memory of the first adapter come
    /// with the device defaults ([`crate::Devices::apply_defaults`]); neither depends on
    /// these steps nor changes what they do. Running this again adds nothing.
    pub fn add_implicit_devices(&mut self, policy: &DriverDefaults) -> Result<()> {
        let devices = &mut self.devices;
        controller::assign_controller_indexes(&mut devices.controllers);
        assign_drive_addresses(devices, policy)?;
        add_implicit_controllers(devices);
        add_implicit_video(devices, policy);
        Ok(())
    }
}
