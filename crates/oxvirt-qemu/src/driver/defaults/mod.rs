//! The QEMU driver's own post-parse step (libvirt's `qemuDomainDefPostParse`,
//! `qemuDomainDefAddDefaultDevices`, the per-device `qemuDomainDeviceDefPostParse`) and its
//! PCI address assignment (`qemuDomainAssignAddresses`), for x86 `pc` (i440FX) and `q35`
//! machines.
//!
//! What depends on the emulator's capabilities comes in as a [`QemuDefaults`], so that
//! libvirt's own test data (built against fake capabilities) can be checked without a QEMU.

mod pci;
mod vioserial;

pub use pci::{assign_pci_addresses, hotplug_address};
pub use vioserial::assign_virtio_serial_ports;

use oxvirt_domain::cpu::{Cpu, CpuCheck, CpuMatch, CpuMode, CpuModel};
use oxvirt_domain::devices::chardev::{ChardevTargetType, SerialTargetModel, SerialTargetType};
use oxvirt_domain::devices::controller::{self, Controller, ControllerType};
use oxvirt_domain::devices::graphics::GraphicsType;
use oxvirt_domain::devices::input::{InputBus, InputType};
use oxvirt_domain::devices::misc::{MemballoonModel, PanicModel};
use oxvirt_domain::devices::video::VideoModelType;
use oxvirt_domain::devices::{Input, Memballoon};
use oxvirt_domain::Domain;
use oxvirt_xml::Element;

/// The capability-dependent choices of the post-parse step.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct QemuDefaults {
    /// The machine's default CPU model (`qemu64` for QEMU's x86 PCs), or `None` when the
    /// capabilities do not say (libvirt then adds no `<cpu>`).
    pub default_cpu: Option<&'static str>,
    /// Whether the USB controller libvirt adds gets an explicit model (`piix3-uhci` on
    /// i440FX, `qemu-xhci` on Q35); without it the model stays unwritten.
    pub usb_models: bool,
    /// Whether serial ports get `isa-serial` as target type and model.
    pub serial_targets: bool,
    /// Whether the emulator can make a host-passthrough CPU migratable: the default of
    /// `migratable` for such CPUs.
    pub cpu_migratable: bool,
}

impl QemuDefaults {
    /// What libvirt decides with QEMU 7.2's capabilities.
    pub const QEMU_7_2: QemuDefaults = QemuDefaults {
        default_cpu: Some("qemu64"),
        usb_models: true,
        serial_targets: true,
        cpu_migratable: true,
    };
    /// The fixed fake capabilities of libvirt's `qemuxml2xmltest` plain cases.
    pub const LIBVIRT_TEST: QemuDefaults = QemuDefaults {
        default_cpu: None,
        usb_models: false,
        serial_targets: true,
        cpu_migratable: false,
    };
}

/// The machine family the defaults depend on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Machine {
    /// `pc`, `pc-i440fx-*`, `pc-0.x`, `pc-1.x`.
    I440fx,
    /// `q35`, `pc-q35-*`.
    Q35,
    /// Anything else (`isapc`, `microvm`, other architectures): left alone.
    Other,
}

/// The machine family of a definition.
pub fn machine_of(def: &Domain) -> Machine {
    let os = def.os.as_ref();
    let arch = os.and_then(|o| o.arch.as_deref()).unwrap_or("x86_64");
    if !matches!(arch, "x86_64" | "i686") {
        return Machine::Other;
    }
    let machine = os.and_then(|o| o.machine.as_deref()).unwrap_or("pc");
    if machine == "q35" || machine.starts_with("pc-q35") {
        Machine::Q35
    } else if machine == "pc"
        || machine.starts_with("pc-i440fx")
        || machine.starts_with("pc-0.")
        || machine.starts_with("pc-1.")
    {
        Machine::I440fx
    } else {
        Machine::Other
    }
}

/// The domain-level defaults, run before libvirt's generic ones
/// (`qemuDomainDefPostParse`): the default CPU, the implicit PS/2 inputs, USB, SATA and
/// PCI root controllers, the virtio memory balloon and the audio backend.
pub fn add_default_devices(def: &mut Domain, caps: &QemuDefaults) {
    let machine = machine_of(def);
    if machine == Machine::Other {
        return;
    }
    set_default_cpu(def, caps);
    let devs = &mut def.devices;
    controller::assign_controller_indexes(&mut devs.controllers);
    maybe_add_input(&mut devs.inputs, InputType::Mouse, InputBus::Ps2);
    maybe_add_input(&mut devs.inputs, InputType::Keyboard, InputBus::Ps2);
    let has = |c: &[Controller], kind: ControllerType, index: u32| {
        c.iter().any(|c| c.kind == kind && c.index == Some(index))
    };
    if !has(&devs.controllers, ControllerType::Usb, 0) {
        let mut usb = Controller::new(ControllerType::Usb, 0);
        if caps.usb_models {
            usb.model = Some(default_usb_model(machine).to_string());
        }
        devs.controllers.push(usb);
    }
    if machine == Machine::Q35 && !has(&devs.controllers, ControllerType::Sata, 0) {
        devs.controllers
            .push(Controller::new(ControllerType::Sata, 0));
    }
    if !has(&devs.controllers, ControllerType::Pci, 0) {
        let mut root = Controller::new(ControllerType::Pci, 0);
        root.model = Some(
            match machine {
                Machine::Q35 => "pcie-root",
                _ => "pci-root",
            }
            .to_string(),
        );
        devs.controllers.push(root);
    }
    if devs.memballoon.is_none() {
        devs.memballoon = Some(Memballoon {
            model: MemballoonModel::Virtio,
            autodeflate: None,
            free_page_reporting: None,
            stats_period: None,
            info: Default::default(),
            driver: None,
            unknown: Default::default(),
        });
    }
    if !devs.others.iter().any(|e| e.name == "audio") {
        // qemuDomainDefAddDefaultAudioBackend: without graphics or with VNC an audio
        // backend of type none, with SPICE one of type spice, with other graphics none.
        let kind = if devs.graphics.is_empty() {
            Some("none")
        } else {
            devs.graphics.iter().find_map(|g| match g.kind {
                GraphicsType::Vnc => Some("none"),
                GraphicsType::Spice => Some("spice"),
                _ => None,
            })
        };
        if let Some(kind) = kind {
            devs.others.push(
                Element::new("audio")
                    .with_attr("id", "1")
                    .with_attr("type", kind),
            );
        }
    }
}

/// The model libvirt gives the USB controller it adds.
fn default_usb_model(machine: Machine) -> &'static str {
    match machine {
        Machine::Q35 => "qemu-xhci",
        _ => "piix3-uhci",
    }
}

/// `qemuDomainDefSetDefaultCPU` for a model other than `host`.
fn set_default_cpu(def: &mut Domain, caps: &QemuDefaults) {
    let Some(model) = caps.default_cpu else {
        return;
    };
    if let Some(cpu) = &def.cpu {
        if cpu.mode != CpuMode::Custom || cpu.model.as_ref().is_some_and(|m| m.name.is_some()) {
            return;
        }
    }
    let cpu = def.cpu.get_or_insert_with(Cpu::default);
    cpu.check = Some(CpuCheck::None);
    cpu.mode = CpuMode::Custom;
    cpu.cpu_match = Some(CpuMatch::Exact);
    let m = cpu.model.get_or_insert_with(CpuModel::default);
    m.fallback = Some(oxvirt_domain::cpu::CpuFallback::Forbid);
    m.name = Some(model.to_string());
}

/// Appends an input of `kind` on `bus` unless one exists (`virDomainDefMaybeAddInput`).
fn maybe_add_input(inputs: &mut Vec<Input>, kind: InputType, bus: InputBus) {
    if inputs.iter().any(|i| i.kind == kind && i.bus == Some(bus)) {
        return;
    }
    inputs.push(Input {
        kind,
        bus: Some(bus),
        model: None,
        driver: None,
        source: None,
        info: Default::default(),
        unknown: Default::default(),
    });
}

/// The per-device defaults that follow libvirt's generic ones
/// (`qemuDomainDeviceDefPostParse`): serial ports' target type and model, the model of
/// a USB controller 0 written without one.
pub fn device_defaults(def: &mut Domain, caps: &QemuDefaults) {
    let machine = machine_of(def);
    if machine == Machine::Other {
        return;
    }
    if caps.serial_targets {
        for serial in &mut def.devices.serials {
            let target = serial.target.get_or_insert_with(Default::default);
            if matches!(
                target.kind,
                None | Some(ChardevTargetType::Serial(SerialTargetType::None))
            ) {
                target.kind = Some(ChardevTargetType::Serial(SerialTargetType::IsaSerial));
            }
            if target.model.is_none() {
                target.model = match target.kind {
                    Some(ChardevTargetType::Serial(t)) => serial_model(t),
                    _ => None,
                };
            }
        }
    }
    set_cpu_check(def, caps);
    for c in &mut def.devices.controllers {
        if c.kind == ControllerType::Scsi && c.model.is_none() {
            c.model = Some("lsilogic".to_string());
        }
    }
    for p in &mut def.devices.panics {
        if p.model.is_none() {
            p.model = Some(PanicModel::Isa);
        }
    }
    for v in &mut def.devices.videos {
        if let Some(m) = v.model.as_mut() {
            if m.kind == Some(VideoModelType::Qxl) && m.vgamem.is_none() {
                m.vgamem = Some(16384);
            }
        }
    }
    for disk in &mut def.devices.disks {
        let volume = disk.kind.to_string() == "volume";
        let driver = disk.driver.get_or_insert_with(Default::default);
        driver.name.get_or_insert_with(|| "qemu".to_string());
        if driver.format.is_none() && !volume {
            driver.format = Some(oxvirt_domain::devices::disk::common::StorageFormat::Raw);
        }
    }
    if caps.usb_models {
        for c in &mut def.devices.controllers {
            if c.kind == ControllerType::Usb && c.model.is_none() {
                c.model = Some(default_usb_model(machine).to_string());
            }
        }
    }
}

/// The whole of the QEMU post-parse step on a parsed definition: the driver's domain
/// defaults, libvirt's generic ones (`host_arch`, `policy`), the driver's device defaults
/// and the PCI addresses.
pub fn qemu_post_parse(
    def: &mut Domain,
    caps: &QemuDefaults,
    host_arch: &str,
    policy: &oxvirt_domain::defaults::DriverDefaults,
) -> Result<(), oxvirt_xml::VirError> {
    if let Some(os) = def.os.as_mut() {
        let x86 = matches!(os.arch.as_deref(), None | Some("x86_64" | "i686"));
        if x86 && os.machine.is_none() {
            os.machine = Some("pc".to_string());
        }
    }
    add_default_devices(def, caps);
    def.apply_defaults_with(host_arch, policy)
        .map_err(|e| oxvirt_xml::VirError::from_xml(e, oxvirt_xml::ErrorDomain::Domain))?;
    device_defaults(def, caps);
    assign_virtio_serial_ports(def);
    assign_pci_addresses(def)
}

/// The model of a serial port's target type (`qemuDomainChrSerialTargetModel`).
fn serial_model(t: SerialTargetType) -> Option<SerialTargetModel> {
    Some(match t {
        SerialTargetType::IsaSerial => SerialTargetModel::IsaSerial,
        SerialTargetType::UsbSerial => SerialTargetModel::UsbSerial,
        SerialTargetType::PciSerial => SerialTargetModel::PciSerial,
        SerialTargetType::IsaDebug => SerialTargetModel::IsaDebugcon,
        _ => return None,
    })
}

/// The CPU check mode libvirt chooses when none is written (`qemuDomainDefCPUPostParse`):
/// none for host-passthrough (and `migratable` as the capabilities allow), partial for
/// host-model, and for a custom model none under TCG, partial under KVM.
fn set_cpu_check(def: &mut Domain, caps: &QemuDefaults) {
    let tcg = def.virt_type == oxvirt_domain::VirtType::Qemu;
    let Some(cpu) = def.cpu.as_mut() else { return };
    if matches!(cpu.mode, CpuMode::HostPassthrough | CpuMode::Maximum) {
        cpu.migratable.get_or_insert(caps.cpu_migratable);
    }
    if cpu.check.is_some() {
        return;
    }
    cpu.check = match cpu.mode {
        CpuMode::HostPassthrough | CpuMode::Maximum => Some(CpuCheck::None),
        CpuMode::HostModel => Some(CpuCheck::Partial),
        CpuMode::Custom if cpu.model.as_ref().is_some_and(|m| m.name.is_some()) => Some(if tcg {
            CpuCheck::None
        } else {
            CpuCheck::Partial
        }),
        _ => None,
    };
}
