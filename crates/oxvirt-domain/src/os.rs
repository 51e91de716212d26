//! Operating system booting: `<os>`.
//!
//! The element is read as `virDomainDefParseBootOptions` reads it and written in the order
//! `virDomainDefFormatInternal` writes it: type, firmware features, container init, loader
//! and NVRAM, kernel, initrd, command line, DTB, root, ACPI tables, boot devices, boot
//! menu, BIOS settings and SMBIOS mode.

mod loader;

use oxvirt_xml::model::PropFlags;
use oxvirt_xml::{Builder, Context, Cursor, Element, Result, Unknown, XmlError, XmlModel};

use crate::util::{self, child_string, finish_leaf};

pub use loader::{Loader, LoaderType, Nvram, NvramStore, NVRAM_STORAGE_TYPES};

oxvirt_xml::xml_enum! {
    /// The kind of guest (`<type>` text).
    pub enum OsType {
        /// Hardware virtualization.
        Hvm = "hvm",
        /// Xen paravirtualization.
        Xen = "xen",
        /// Old name for Xen paravirtualization.
        Linux = "linux",
        /// A container running one process.
        Exe = "exe",
        /// User-mode Linux.
        Uml = "uml",
        /// Xen PVH.
        Xenpvh = "xenpvh",
    }
}

oxvirt_xml::xml_enum! {
    /// Firmware autoselection (`<os firmware=...>`).
    pub enum Firmware {
        /// A legacy BIOS.
        Bios = "bios",
        /// UEFI.
        Efi = "efi",
    }
}

oxvirt_xml::xml_enum! {
    /// A firmware feature to select by (`<firmware><feature name=...>`), in libvirt's order.
    pub enum FirmwareFeatureName {
        /// Secure Boot keys enrolled in the variable store.
        EnrolledKeys = "enrolled-keys",
        /// Secure Boot support.
        SecureBoot = "secure-boot",
    }
}

oxvirt_xml::xml_enum! {
    /// A device to boot from (`<boot dev=...>`).
    pub enum BootDev {
        /// Floppy.
        Fd = "fd",
        /// CD-ROM.
        Cdrom = "cdrom",
        /// Hard disk.
        Hd = "hd",
        /// Network (PXE).
        Network = "network",
    }
}

oxvirt_xml::xml_enum! {
    /// Where the guest's SMBIOS tables come from (`<smbios mode=...>`).
    pub enum SmbiosMode {
        /// Nothing (never written).
        None = "none",
        /// The hypervisor's own values.
        Emulate = "emulate",
        /// The host's values.
        Host = "host",
        /// The domain's `<sysinfo>`.
        Sysinfo = "sysinfo",
    }
}

/// Architectures libvirt knows (`virArch`), as written in `<type arch=...>`.
pub const ARCHES: &[&str] = &[
    "alpha",
    "armv6l",
    "armv7l",
    "armv7b",
    "aarch64",
    "cris",
    "i686",
    "ia64",
    "lm32",
    "loongarch64",
    "m68k",
    "microblaze",
    "microblazeel",
    "mips",
    "mipsel",
    "mips64",
    "mips64el",
    "openrisc",
    "parisc",
    "parisc64",
    "ppc",
    "ppcle",
    "ppc64",
    "ppc64le",
    "ppcemb",
    "riscv32",
    "riscv64",
    "s390",
    "s390x",
    "sh4",
    "sh4eb",
    "sparc",
    "sparc64",
    "unicore32",
    "x86_64",
    "xtensa",
    "xtensaeb",
];

/// Most boot devices libvirt keeps; further `<boot>` elements are ignored.
const MAX_BOOT_DEVS: usize = 4;

/// A firmware feature requirement (`<feature enabled=... name=...>`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FirmwareFeature {
    /// The feature.
    pub name: FirmwareFeatureName,
    /// Whether it must be present (`yes`) or absent (`no`).
    pub enabled: bool,
}

/// An environment variable for a container's init (`<initenv name=...>value</initenv>`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InitEnv {
    /// The variable name.
    pub name: String,
    /// Its value.
    pub value: String,
}

/// The boot menu (`<bootmenu enable=... timeout=...>`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BootMenu {
    /// Whether the menu is shown.
    pub enable: bool,
    /// How long it is shown, in milliseconds (kept only when enabled).
    pub timeout: Option<u32>,
}

/// SeaBIOS settings (`<bios useserial=... rebootTimeout=...>`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Bios {
    /// `useserial='yes|no'`: BIOS output on the serial port.
    pub useserial: Option<bool>,
    /// `rebootTimeout`: milliseconds before rebooting after a failed boot, -1 for never.
    pub reboot_timeout: Option<i32>,
}

/// How the guest boots (`<os>`).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Os {
    /// `firmware`: firmware autoselection.
    pub firmware: Option<Firmware>,
    /// The guest kind (`<type>` text). libvirt requires it unless a `<bootloader>` is set.
    pub os_type: Option<OsType>,
    /// `<type arch=...>`, one of [`ARCHES`].
    pub arch: Option<String>,
    /// `<type machine=...>`.
    pub machine: Option<String>,
    /// `<firmware><feature/></firmware>`, in libvirt's order, each feature at most once.
    pub firmware_features: Vec<FirmwareFeature>,
    /// `<init>`: the container's init binary.
    pub init: Option<String>,
    /// `<initarg>`s.
    pub init_args: Vec<String>,
    /// `<initenv>`s.
    pub init_env: Vec<InitEnv>,
    /// `<initdir>`.
    pub init_dir: Option<String>,
    /// `<inituser>`.
    pub init_user: Option<String>,
    /// `<initgroup>`.
    pub init_group: Option<String>,
    /// `<loader>`.
    pub loader: Option<Loader>,
    /// `<nvram>`.
    pub nvram: Option<Nvram>,
    /// `<kernel>`.
    pub kernel: Option<String>,
    /// `<initrd>`.
    pub initrd: Option<String>,
    /// `<cmdline>`: the kernel's (or the container init's) command line.
    pub cmdline: Option<String>,
    /// `<dtb>`: a device tree blob.
    pub dtb: Option<String>,
    /// `<root>`.
    pub root: Option<String>,
    /// `<acpi><table type='slic'>`: a SLIC table path.
    pub slic_table: Option<String>,
    /// `<boot dev=...>`s, at most four.
    pub boot: Vec<BootDev>,
    /// `<bootmenu>`, kept only when `enable` is given.
    pub bootmenu: Option<BootMenu>,
    /// `<bios>`.
    pub bios: Option<Bios>,
    /// `<smbios mode=...>` (never `none`, which libvirt does not write).
    pub smbios: Option<SmbiosMode>,
    /// What the model does not know, kept as written.
    pub unknown: Unknown,
}

/// Children libvirt reads that this model folds into its fields.
const KNOWN: &[&str] = &["acpi", "firmware"];

impl XmlModel for Os {
    fn from_element(el: &Element, ctx: &mut Context) -> Result<Self> {
        let mut c = Cursor::new(el);
        let firmware = match c.attr("firmware") {
            None => None,
            Some(v) => Some(
                oxvirt_xml::XmlEnum::from_xml_str(v)
                    .ok_or_else(|| c.error(format!("unknown firmware value {v}")))?,
            ),
        };
        let mut os = Os {
            firmware,
            ..Os::default()
        };
        if let Some(t) = c.child("type") {
            read_type(&mut os, t, ctx)?;
        }
        os.firmware_features = read_firmware_features(&mut c, ctx)?;
        read_init(&mut os, &mut c, ctx)?;
        os.loader = c.model("loader", ctx)?;
        os.nvram = c.model("nvram", ctx)?;
        os.kernel = child_string(&mut c, "kernel", ctx);
        os.initrd = child_string(&mut c, "initrd", ctx);
        os.cmdline = child_string(&mut c, "cmdline", ctx);
        os.dtb = child_string(&mut c, "dtb", ctx);
        os.root = child_string(&mut c, "root", ctx);
        os.slic_table = read_acpi(&mut c)?;
        read_boot(&mut os, &mut c, ctx)?;
        os.smbios = read_smbios(&mut c, ctx)?;
        os.unknown = c.finish_known(ctx, KNOWN);
        Ok(os)
    }

    fn to_element(&self) -> Element {
        let mut b = Builder::new("os");
        b.opt_attr("firmware", self.firmware);
        let mut t = Element::new("type");
        if let Some(a) = &self.arch {
            t.set_attr("arch", a.as_str());
        }
        if let Some(m) = &self.machine {
            t.set_attr("machine", m.as_str());
        }
        if let Some(ty) = self.os_type {
            t = t.with_text(ty.to_string());
        }
        b.child(t);
        if !self.firmware_features.is_empty() {
            let mut fw = Element::new("firmware");
            for f in &self.firmware_features {
                fw.push(
                    Element::new("feature")
                        .with_attr("enabled", oxvirt_xml::model::yes_no(f.enabled))
                        .with_attr("name", f.name.to_string()),
                );
            }
            b.child(fw);
        }
        b.opt_text_child("init", self.init.as_deref());
        for a in &self.init_args {
            b.text_child("initarg", a);
        }
        for e in &self.init_env {
            b.child(
                Element::new("initenv")
                    .with_attr("name", e.name.as_str())
                    .with_text(e.value.as_str()),
            );
        }
        b.opt_text_child("initdir", self.init_dir.as_deref());
        b.opt_text_child("inituser", self.init_user.as_deref());
        b.opt_text_child("initgroup", self.init_group.as_deref());
        if let Some(l) = self.loader.as_ref().filter(|l| !l.is_empty()) {
            b.child(l.to_element());
        }
        if let Some(n) = self.nvram.as_ref().filter(|n| !n.is_empty()) {
            b.child(n.to_element());
        }
        b.opt_text_child("kernel", self.kernel.as_deref());
        b.opt_text_child("initrd", self.initrd.as_deref());
        b.opt_text_child("cmdline", self.cmdline.as_deref());
        b.opt_text_child("dtb", self.dtb.as_deref());
        b.opt_text_child("root", self.root.as_deref());
        if let Some(slic) = &self.slic_table {
            b.child(
                Element::new("acpi").with_child(
                    Element::new("table")
                        .with_attr("type", "slic")
                        .with_text(slic),
                ),
            );
        }
        for dev in &self.boot {
            b.child(Element::new("boot").with_attr("dev", dev.to_string()));
        }
        if let Some(m) = &self.bootmenu {
            let mut e =
                Element::new("bootmenu").with_attr("enable", oxvirt_xml::model::yes_no(m.enable));
            if let Some(t) = m.timeout {
                e.set_attr("timeout", t.to_string());
            }
            b.child(e);
        }
        if let Some(bios) = self
            .bios
            .filter(|b| b.useserial.is_some() || b.reboot_timeout.is_some())
        {
            let mut e = Element::new("bios");
            if let Some(u) = bios.useserial {
                e.set_attr("useserial", oxvirt_xml::model::yes_no(u));
            }
            if let Some(t) = bios.reboot_timeout {
                e.set_attr("rebootTimeout", t.to_string());
            }
            b.child(e);
        }
        if let Some(mode) = self.smbios {
            b.child(Element::new("smbios").with_attr("mode", mode.to_string()));
        }
        b.finish(&self.unknown)
    }
}

fn read_type(os: &mut Os, t: &Element, ctx: &mut Context) -> Result<()> {
    let mut tc = Cursor::new(t);
    if let Some(arch) = tc.attr("arch") {
        if !ARCHES.contains(&arch) {
            return Err(
                XmlError::unsupported(format!("Unknown architecture {arch}")).at(t.position),
            );
        }
        os.arch = Some(arch.to_string());
    }
    os.machine = tc.attr_string("machine");
    let text = tc.text();
    if !text.is_empty() {
        let ty = oxvirt_xml::XmlEnum::from_xml_str(&text).ok_or_else(|| {
            XmlError::unsupported(format!("unknown OS type '{text}'")).at(t.position)
        })?;
        os.os_type = Some(ty);
    }
    finish_leaf(tc, ctx);
    Ok(())
}

fn read_firmware_features(c: &mut Cursor<'_>, ctx: &mut Context) -> Result<Vec<FirmwareFeature>> {
    let mut found: Vec<FirmwareFeature> = Vec::new();
    for fw in c.children("firmware") {
        for f in fw.elements().filter(|e| e.name == "feature") {
            let mut fc = Cursor::new(f);
            let name: FirmwareFeatureName = fc.required_enum_attr("name")?;
            let enabled = fc.required_yes_no("enabled")?;
            finish_leaf(fc, ctx);
            found.retain(|x| x.name != name);
            found.push(FirmwareFeature { name, enabled });
        }
    }
    let order = [
        FirmwareFeatureName::EnrolledKeys,
        FirmwareFeatureName::SecureBoot,
    ];
    found.sort_by_key(|f| order.iter().position(|o| *o == f.name));
    Ok(found)
}

fn read_init(os: &mut Os, c: &mut Cursor<'_>, ctx: &mut Context) -> Result<()> {
    os.init = child_string(c, "init", ctx);
    for a in c.children("initarg") {
        let text = a.text();
        if text.is_empty() {
            return Err(XmlError::xml("No data supplied for <initarg> element").at(a.position));
        }
        os.init_args.push(text);
    }
    for e in c.children("initenv") {
        let mut ec = Cursor::new(e);
        let Some(name) = ec.attr_string("name") else {
            return Err(XmlError::xml("No name supplied for <initenv> element").at(e.position));
        };
        let value = ec.text();
        if value.is_empty() {
            return Err(XmlError::xml(format!(
                "No value supplied for <initenv name='{name}'> element"
            ))
            .at(e.position));
        }
        finish_leaf(ec, ctx);
        os.init_env.push(InitEnv { name, value });
    }
    os.init_dir = child_string(c, "initdir", ctx);
    os.init_user = child_string(c, "inituser", ctx);
    os.init_group = child_string(c, "initgroup", ctx);
    Ok(())
}

fn read_acpi(c: &mut Cursor<'_>) -> Result<Option<String>> {
    let Some(acpi) = c.child("acpi") else {
        return Ok(None);
    };
    let tables: Vec<&Element> = acpi.elements().filter(|e| e.name == "table").collect();
    match tables.as_slice() {
        [] => Ok(None),
        [table] => match table.attr("type") {
            None => Err(XmlError::xml("Missing acpi table type").at(table.position)),
            Some("slic") => Ok(Some(util::sanitize_path(&table.text()))),
            Some(other) => {
                Err(XmlError::xml(format!("Unknown acpi table type: {other}")).at(table.position))
            }
        },
        _ => Err(XmlError::xml("Only one acpi table is supported").at(acpi.position)),
    }
}

fn read_boot(os: &mut Os, c: &mut Cursor<'_>, ctx: &mut Context) -> Result<()> {
    for (i, boot) in c.children("boot").into_iter().enumerate() {
        if i >= MAX_BOOT_DEVS {
            ctx.warnings.push(oxvirt_xml::Warning {
                position: boot.position,
                message: "more than four <boot> devices: the rest are ignored".to_string(),
            });
            continue;
        }
        let mut bc = Cursor::new(boot);
        os.boot.push(bc.required_enum_attr("dev")?);
        finish_leaf(bc, ctx);
    }
    if let Some(menu) = c.child("bootmenu") {
        let mut mc = Cursor::new(menu);
        let enable = mc.prop_yes_no("enable", PropFlags::NONE)?;
        if let Some(enable) = enable {
            let timeout = if enable {
                mc.prop_uint("timeout", 10, PropFlags::NONE)?
            } else {
                None
            };
            os.bootmenu = Some(BootMenu { enable, timeout });
        }
        mc.attr("timeout");
        finish_leaf(mc, ctx);
    }
    if let Some(bios) = c.child("bios") {
        let mut bc = Cursor::new(bios);
        // libvirt reports a bad useserial but goes on with 'no'.
        let useserial = bc
            .prop_yes_no("useserial", PropFlags::NONE)
            .unwrap_or(Some(false));
        let reboot_timeout = bc.prop_int("rebootTimeout", 10, PropFlags::NONE)?;
        finish_leaf(bc, ctx);
        os.bios = Some(Bios {
            useserial,
            reboot_timeout,
        });
    }
    Ok(())
}

fn read_smbios(c: &mut Cursor<'_>, ctx: &mut Context) -> Result<Option<SmbiosMode>> {
    let Some(s) = c.child("smbios") else {
        return Ok(None);
    };
    let mut sc = Cursor::new(s);
    let mode = match sc.attr("mode") {
        None => None,
        Some(v) => match oxvirt_xml::XmlEnum::from_xml_str(v) {
            Some(SmbiosMode::None) => None,
            Some(m) => Some(m),
            None => {
                return Err(
                    XmlError::unsupported(format!("unknown smbios mode '{v}'")).at(s.position)
                )
            }
        },
    };
    finish_leaf(sc, ctx);
    Ok(mode)
}

impl Os {
    /// libvirt's requirement of an OS type: `<os><type>` must be given unless the domain has
    /// a `<bootloader>` (which makes it a Xen guest). `os` is the domain's `<os>`.
    pub fn check_type(os: Option<&Os>, has_bootloader: bool) -> Result<()> {
        if os.and_then(|o| o.os_type).is_none() && !has_bootloader {
            return Err(XmlError::xml("an os <type> must be specified"));
        }
        Ok(())
    }

    /// libvirt's defaults for `<os>`: the host architecture when none is given (done while
    /// parsing, `virDomainDefParseCaps`), `type='rom'` for a loader with a path
    /// (`virDomainDefPostParseOs`), and booting from the first hard disk for an HVM guest
    /// with neither `<boot>` elements nor per-device `<boot order>`
    /// (`virDomainDefBootOrderPostParse`).
    pub fn apply_defaults(&mut self, host_arch: &str, has_device_boot: bool) {
        if self.arch.is_none() {
            self.arch = Some(host_arch.to_string());
        }
        if let Some(l) = self.loader.as_mut() {
            if l.path.is_some() && l.kind.is_none() {
                l.kind = Some(LoaderType::Rom);
            }
        }
        if self.os_type == Some(OsType::Hvm) && self.boot.is_empty() && !has_device_boot {
            self.boot.push(BootDev::Hd);
        }
    }

    /// libvirt's checks of `<os>` made when a domain is defined: boot order conflicts, the
    /// container init, boot menu and reboot timeouts (`virDomainDefBootValidate`), and
    /// firmware, loader and NVRAM consistency (`virDomainDefOSValidate`).
    pub fn validate(&self, has_device_boot: bool) -> Result<()> {
        if self.os_type == Some(OsType::Hvm) && has_device_boot && !self.boot.is_empty() {
            return Err(XmlError::unsupported(
                "per-device boot elements cannot be used together with os/boot elements",
            ));
        }
        if self.os_type == Some(OsType::Exe) && self.init.is_none() {
            return Err(XmlError::xml("init binary must be specified"));
        }
        if self
            .bootmenu
            .and_then(|m| m.timeout)
            .is_some_and(|t| t > 65535)
        {
            return Err(XmlError::unsupported(
                "invalid value for boot menu timeout, must be in range [0,65535]",
            ));
        }
        if let Some(t) = self.bios.and_then(|b| b.reboot_timeout) {
            if !(-1..=65535).contains(&t) {
                return Err(XmlError::unsupported(
                    "invalid value for rebootTimeout, must be in range [-1,65535]",
                ));
            }
        }
        self.validate_firmware()
    }

    fn validate_firmware(&self) -> Result<()> {
        let detail = |m: &str| XmlError::new(oxvirt_xml::ErrorCode::XmlDetail, m);
        let feature = |name| {
            self.firmware_features
                .iter()
                .find(|f| f.name == name)
                .map(|f| f.enabled)
        };
        let has_nvram = self
            .nvram
            .as_ref()
            .is_some_and(|n| n.store != NvramStore::Unset);
        let has_template = self.nvram.as_ref().is_some_and(|n| n.template.is_some());
        match self.firmware {
            Some(fw) => {
                if feature(FirmwareFeatureName::EnrolledKeys) == Some(true)
                    && feature(FirmwareFeatureName::SecureBoot) == Some(false)
                {
                    return Err(detail("firmware feature 'enrolled-keys' cannot be enabled when firmware feature 'secure-boot' is disabled"));
                }
                if self.loader.is_none() && self.nvram.is_none() {
                    return Ok(());
                }
                if has_nvram && fw != Firmware::Efi {
                    return Err(detail(&format!(
                        "firmware type '{fw}' does not support nvram"
                    )));
                }
            }
            None => {
                if !self.firmware_features.is_empty() {
                    return Err(detail("cannot use feature-based firmware autoselection when firmware autoselection is disabled"));
                }
                if self.loader.is_none() && self.nvram.is_none() {
                    return Ok(());
                }
                if self.loader.as_ref().and_then(|l| l.path.as_ref()).is_none() {
                    return Err(detail(
                        "no loader path specified and firmware auto selection disabled",
                    ));
                }
            }
        }
        let loader = self.loader.clone().unwrap_or_default();
        match loader.stateless {
            Some(true) if has_template => Err(detail(
                "NVRAM template is not permitted when loader is stateless",
            )),
            Some(true) if has_nvram => {
                Err(detail("NVRAM is not permitted when loader is stateless"))
            }
            Some(false) if self.firmware.is_none() && loader.kind != Some(LoaderType::Pflash) => {
                Err(detail("Only pflash loader type permits NVRAM"))
            }
            Some(false) if self.firmware.is_some_and(|f| f != Firmware::Efi) => {
                Err(detail("Only EFI firmware permits NVRAM"))
            }
            _ => Ok(()),
        }
    }
}

#[cfg(test)]
mod tests;
