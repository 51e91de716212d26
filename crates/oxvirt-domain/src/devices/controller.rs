//! A bus controller (`<controller>`), as libvirt's `virDomainControllerDefParseXML` reads it
//! and `virDomainControllerDefFormat` writes it, with the checks libvirt makes across all
//! controllers of a domain.

use oxvirt_xml::model::{str_to_long_ullp, PropFlags};
use oxvirt_xml::{
    xml_enum, Builder, Context, Cursor, Element, Result, Unknown, XmlError, XmlModel,
};

use super::info::{DeviceInfo, Master, VirtioOptions};

xml_enum! {
    /// The kind of bus a controller provides (`<controller type=...>`, default `ide`).
    pub enum ControllerType {
        Ide = "ide", Fdc = "fdc", Scsi = "scsi", Sata = "sata", VirtioSerial = "virtio-serial",
        Ccid = "ccid", Usb = "usb", Pci = "pci", Xenbus = "xenbus", Isa = "isa",
    }
}

impl ControllerType {
    /// The models libvirt accepts for this type (empty: no model may be given).
    pub fn models(self) -> &'static [&'static str] {
        match self {
            ControllerType::Scsi => &[
                "auto",
                "buslogic",
                "lsilogic",
                "lsisas1068",
                "vmpvscsi",
                "ibmvscsi",
                "virtio-scsi",
                "lsisas1078",
                "virtio-transitional",
                "virtio-non-transitional",
                "ncr53c90",
                "dc390",
                "am53c974",
            ],
            ControllerType::Usb => &[
                "piix3-uhci",
                "piix4-uhci",
                "ehci",
                "ich9-ehci1",
                "ich9-uhci1",
                "ich9-uhci2",
                "ich9-uhci3",
                "vt82c686b-uhci",
                "pci-ohci",
                "nec-xhci",
                "qusb1",
                "qusb2",
                "qemu-xhci",
                "none",
            ],
            ControllerType::Pci => &[
                "pci-root",
                "pcie-root",
                "pci-bridge",
                "dmi-to-pci-bridge",
                "pcie-to-pci-bridge",
                "pcie-root-port",
                "pcie-switch-upstream-port",
                "pcie-switch-downstream-port",
                "pci-expander-bus",
                "pcie-expander-bus",
            ],
            ControllerType::Ide => &["piix3", "piix4", "ich6"],
            ControllerType::VirtioSerial => {
                &["virtio", "virtio-transitional", "virtio-non-transitional"]
            }
            ControllerType::Fdc
            | ControllerType::Sata
            | ControllerType::Ccid
            | ControllerType::Xenbus
            | ControllerType::Isa => &[],
        }
    }
}

xml_enum! {
    /// The device implementing a PCI controller (`<model name=...>`).
    pub enum PciModelName {
        PciBridge = "pci-bridge", I82801b11Bridge = "i82801b11-bridge", Ioh3420 = "ioh3420",
        X3130Upstream = "x3130-upstream", Xio3130Downstream = "xio3130-downstream", Pxb = "pxb",
        PxbPcie = "pxb-pcie", PcieRootPort = "pcie-root-port",
        SpaprPciHostBridge = "spapr-pci-host-bridge", PciePciBridge = "pcie-pci-bridge",
    }
}

/// The device implementing a PCI controller (`<model name='pcie-root-port'/>`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PciModel {
    /// The device name.
    pub name: PciModelName,
    /// What the model does not know, kept as written.
    pub unknown: Unknown,
}

impl XmlModel for PciModel {
    fn from_element(el: &Element, ctx: &mut Context) -> Result<Self> {
        let mut c = Cursor::new(el);
        let name = c.required_enum_attr("name")?;
        Ok(PciModel {
            name,
            unknown: c.finish(ctx),
        })
    }

    fn to_element(&self) -> Element {
        let mut b = Builder::new("model");
        b.attr("name", self.name);
        b.finish(&self.unknown)
    }
}

/// Settings of the bus a PCI controller provides (`<target chassis='1' port='0x10'/>`).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct PciTarget {
    /// `chassisNr` (pci-bridge), 1-255.
    pub chassis_nr: Option<u32>,
    /// `chassis` (root and downstream ports), 0-255.
    pub chassis: Option<u32>,
    /// `port` (root and downstream ports), written in hex.
    pub port: Option<u32>,
    /// `busNr`: the first bus number of an expander bus, 1-254.
    pub bus_nr: Option<u32>,
    /// `index`: the PHB index of a pSeries host bridge.
    pub index: Option<u32>,
    /// `hotplug='on|off'`.
    pub hotplug: Option<bool>,
    /// `<node>`: the NUMA node of an expander bus.
    pub node: Option<u32>,
    /// What the model does not know, kept as written.
    pub unknown: Unknown,
}

/// `virXMLPropInt` with `VIR_XML_PROP_NONNEGATIVE`, kept as the unsigned number it then is.
fn nonnegative(c: &mut Cursor<'_>, name: &str, base: u32) -> Result<Option<u32>> {
    Ok(c.prop_int(name, base, PropFlags::NONNEGATIVE)?
        .map(i32::unsigned_abs))
}

impl XmlModel for PciTarget {
    fn from_element(el: &Element, ctx: &mut Context) -> Result<Self> {
        let mut c = Cursor::new(el);
        let mut t = PciTarget {
            chassis_nr: nonnegative(&mut c, "chassisNr", 0)?,
            chassis: nonnegative(&mut c, "chassis", 0)?,
            port: nonnegative(&mut c, "port", 0)?,
            bus_nr: nonnegative(&mut c, "busNr", 0)?,
            hotplug: c.prop_on_off("hotplug", PropFlags::NONE)?,
            index: nonnegative(&mut c, "index", 0)?,
            ..PciTarget::default()
        };
        t.node = numa_node(&mut c)?;
        t.unknown = c.finish(ctx);
        Ok(t)
    }

    fn to_element(&self) -> Element {
        let mut b = Builder::new("target");
        b.opt_attr("chassisNr", self.chassis_nr)
            .opt_attr("chassis", self.chassis)
            .opt_attr("port", self.port.map(|p| format!("0x{p:x}")))
            .opt_attr("busNr", self.bus_nr)
            .opt_attr("index", self.index)
            .on_off("hotplug", self.hotplug)
            .opt_text_child("node", self.node);
        b.finish(&self.unknown)
    }
}

/// Reads `<node>` of a controller `<target>` as libvirt's `virXPathInt` does.
fn numa_node(c: &mut Cursor<'_>) -> Result<Option<u32>> {
    let Some(node) = c.element().child("node") else {
        return Ok(None);
    };
    let text = node.text();
    let value = text.trim();
    if value.is_empty() {
        return Ok(None);
    }
    let n = match value.strip_prefix('-') {
        Some(rest) if str_to_long_ullp(rest, 10).is_some() => None,
        _ => str_to_long_ullp(value, 10).and_then(|n| u32::try_from(n).ok()),
    };
    match n {
        Some(n) => {
            c.child("node");
            Ok(Some(n))
        }
        None => Err(XmlError::xml("invalid NUMA node in target").at(node.position)),
    }
}

/// How the hypervisor runs a controller (`<driver queues='4' iothread='1'/>`).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct ControllerDriver {
    /// Number of request queues.
    pub queues: Option<u32>,
    /// `cmd_per_lun` (virtio-scsi).
    pub cmd_per_lun: Option<u32>,
    /// `max_sectors` (virtio-scsi).
    pub max_sectors: Option<u32>,
    /// `ioeventfd='on|off'`.
    pub ioeventfd: Option<bool>,
    /// The IOThread serving the controller.
    pub iothread: Option<u32>,
    /// The virtio options.
    pub virtio: VirtioOptions,
    /// What the model does not know, kept as written.
    pub unknown: Unknown,
}

impl XmlModel for ControllerDriver {
    fn from_element(el: &Element, ctx: &mut Context) -> Result<Self> {
        let mut c = Cursor::new(el);
        let nonzero = |v: Option<u32>| v.filter(|n| *n != 0);
        Ok(ControllerDriver {
            queues: nonzero(c.prop_uint("queues", 10, PropFlags::NONE)?),
            cmd_per_lun: nonzero(c.prop_uint("cmd_per_lun", 10, PropFlags::NONE)?),
            max_sectors: nonzero(c.prop_uint("max_sectors", 10, PropFlags::NONE)?),
            ioeventfd: c.prop_on_off("ioeventfd", PropFlags::NONE)?,
            iothread: nonzero(c.prop_uint("iothread", 10, PropFlags::NONE)?),
            virtio: VirtioOptions::parse(&mut c)?,
            unknown: c.finish_known(ctx, &["iothreads"]),
        })
    }

    fn to_element(&self) -> Element {
        let mut b = Builder::new("driver");
        b.opt_attr("queues", self.queues)
            .opt_attr("cmd_per_lun", self.cmd_per_lun)
            .opt_attr("max_sectors", self.max_sectors)
            .on_off("ioeventfd", self.ioeventfd)
            .opt_attr("iothread", self.iothread);
        self.virtio.format(&mut b);
        b.finish(&self.unknown)
    }
}

/// A bus controller (`<controller>`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Controller {
    /// The bus type (`type`, default `ide`).
    pub kind: ControllerType,
    /// The index among controllers of this type; `None` until libvirt's defaults assign one
    /// ([`assign_controller_indexes`]).
    pub index: Option<u32>,
    /// The model (`pci-root`, `virtio-scsi`, `qemu-xhci`, ...), checked against
    /// [`ControllerType::models`].
    pub model: Option<String>,
    /// `ports` (USB and virtio-serial).
    pub ports: Option<u32>,
    /// `vectors` (virtio-serial).
    pub vectors: Option<u32>,
    /// `maxGrantFrames` (xenbus).
    pub max_grant_frames: Option<u32>,
    /// `maxEventChannels` (xenbus).
    pub max_event_channels: Option<u32>,
    /// `<model name=...>` (PCI).
    pub pci_model: Option<PciModel>,
    /// `<target>` (PCI).
    pub target: Option<PciTarget>,
    /// `<driver>`.
    pub driver: Option<ControllerDriver>,
    /// `<alias>`, `<master>`, `<acpi>`, `<address>`.
    pub info: DeviceInfo,
    /// `<pcihole64>` in KiB (pci-root and pcie-root).
    pub pcihole64_kib: Option<u64>,
    /// What the model does not know, kept as written.
    pub unknown: Unknown,
}

fn is_root(kind: ControllerType, model: Option<&str>) -> bool {
    kind == ControllerType::Pci && matches!(model, Some("pci-root" | "pcie-root"))
}

impl XmlModel for Controller {
    fn from_element(el: &Element, ctx: &mut Context) -> Result<Self> {
        let mut c = Cursor::new(el);
        let kind = c.enum_attr("type")?.unwrap_or(ControllerType::Ide);
        let model = c.attr_string("model");
        if let Some(m) = &model {
            if !kind.models().contains(&m.as_str()) {
                return Err(
                    XmlError::unsupported(format!("Unknown model type '{m}'")).at(el.position)
                );
            }
        }
        let index = nonnegative(&mut c, "index", 10)?;
        let driver = c.model("driver", ctx)?;
        for what in ["model", "target"] {
            if el.elements().filter(|e| e.name == what).count() > 1 {
                return Err(c.error(format!(
                    "Multiple <{what}> elements in controller definition not allowed"
                )));
            }
        }
        let (pci_model, target) = if kind == ControllerType::Pci {
            let pci_model = match el.child("model").and_then(|m| m.attr("name")) {
                Some("none") => {
                    c.child("model");
                    None
                }
                _ => c.model("model", ctx)?,
            };
            (pci_model, c.model("target", ctx)?)
        } else {
            if let Some(t) = el.child("target") {
                numa_node(&mut Cursor::new(t))?;
            }
            (None, None)
        };
        let mut info = DeviceInfo::parse(&mut c, ctx, false, false)?;
        let ports = match kind {
            ControllerType::Usb | ControllerType::VirtioSerial => nonnegative(&mut c, "ports", 10)?,
            _ => None,
        };
        let vectors = match kind {
            ControllerType::VirtioSerial => nonnegative(&mut c, "vectors", 10)?,
            _ => None,
        };
        let (max_grant_frames, max_event_channels) = match kind {
            ControllerType::Xenbus => (
                nonnegative(&mut c, "maxGrantFrames", 10)?,
                nonnegative(&mut c, "maxEventChannels", 10)?,
            ),
            _ => (None, None),
        };
        if kind == ControllerType::Usb && info.master.is_none() {
            let startport = match model.as_deref() {
                Some("ich9-uhci1") => Some(0),
                Some("ich9-uhci2") => Some(2),
                Some("ich9-uhci3") => Some(4),
                _ => None,
            };
            info.master = startport.map(|startport| Master {
                startport,
                unknown: Unknown::default(),
            });
        }
        let pcihole64_kib = if is_root(kind, model.as_deref()) {
            match c.child("pcihole64") {
                None => None,
                Some(h) => {
                    let mut hc = Cursor::new(h);
                    let unit = hc.attr("unit");
                    let text = hc.text();
                    let bytes = oxvirt_xml::types::size::parse_scaled_for(
                        text.trim(),
                        unit,
                        1024,
                        u64::MAX,
                        "./pcihole64",
                    )
                    .map_err(|e| e.at(h.position))?;
                    Some(bytes.div_ceil(1024))
                }
            }
        } else {
            None
        };
        Ok(Controller {
            kind,
            index,
            model,
            ports,
            vectors,
            max_grant_frames,
            max_event_channels,
            pci_model,
            target,
            driver,
            info,
            pcihole64_kib,
            unknown: c.finish(ctx),
        })
    }

    fn to_element(&self) -> Element {
        let mut b = Builder::new("controller");
        b.attr("type", self.kind)
            .opt_attr("index", self.index)
            .opt_attr("model", self.model.as_deref())
            .opt_attr("ports", self.ports)
            .opt_attr("vectors", self.vectors)
            .opt_attr("maxGrantFrames", self.max_grant_frames)
            .opt_attr("maxEventChannels", self.max_event_channels);
        b.model(self.pci_model.as_ref());
        if let Some(t) = self.target.as_ref().map(XmlModel::to_element) {
            if !t.is_empty() {
                b.child(t);
            }
        }
        if let Some(d) = self.driver.as_ref().map(XmlModel::to_element) {
            if !d.is_empty() {
                b.child(d);
            }
        }
        self.info.format(&mut b);
        if let Some(kib) = self.pcihole64_kib {
            b.child(
                Element::new("pcihole64")
                    .with_attr("unit", "KiB")
                    .with_text(kib.to_string()),
            );
        }
        b.finish(&self.unknown)
    }
}

impl Controller {
    /// A controller of type `kind` with index `index` and nothing else set.
    pub fn new(kind: ControllerType, index: u32) -> Self {
        Controller {
            kind,
            index: Some(index),
            model: None,
            ports: None,
            vectors: None,
            max_grant_frames: None,
            max_event_channels: None,
            pci_model: None,
            target: None,
            driver: None,
            info: DeviceInfo::default(),
            pcihole64_kib: None,
            unknown: Unknown::default(),
        }
    }

    /// Whether this is a `pci-root` or `pcie-root` controller.
    pub fn is_pci_root(&self) -> bool {
        is_root(self.kind, self.model.as_deref())
    }

    /// The master controller's start port, for USB companion controllers.
    pub fn master_startport(&self) -> Option<u32> {
        self.info.master.as_ref().map(|m| m.startport)
    }

    /// Checks one controller as libvirt's generic validation does.
    pub fn validate(&self) -> Result<()> {
        if self.kind != ControllerType::Pci {
            return Ok(());
        }
        let idx = self.index.unwrap_or(0);
        if self.is_pci_root() && self.info.address.is_some() {
            return Err(XmlError::unsupported(
                "pci-root and pcie-root controllers should not have an address",
            ));
        }
        let Some(t) = &self.target else {
            return Ok(());
        };
        if let Some(ti) = t.index {
            if ti > 30 {
                return Err(XmlError::unsupported(format!(
                    "PCI controller target index '{ti}' out of range - must be 0-30"
                )));
            }
            if (idx == 0) != (ti == 0) {
                return Err(XmlError::unsupported(
                    "Only the PCI controller with index 0 can have target index 0, and vice versa",
                ));
            }
        }
        let ranges = [
            ("chassisNr", t.chassis_nr, 1, 255),
            ("chassis", t.chassis, 0, 255),
            ("port", t.port, 0, 255),
            ("busNr", t.bus_nr, 1, 254),
        ];
        for (name, value, lo, hi) in ranges {
            if let Some(v) = value.filter(|v| *v < lo || *v > hi) {
                return Err(XmlError::unsupported(format!(
                    "PCI controller {name} '{v}' out of range - must be {lo}-{hi}"
                )));
            }
        }
        if t.node.is_some() && idx == 0 {
            return Err(XmlError::unsupported(
                "The PCI controller with index=0 can't be associated with a NUMA node",
            ));
        }
        Ok(())
    }

    /// Inserts `controller` where libvirt's parser puts it
    /// (`virDomainControllerInsertPreAlloced`): grouped by type, in index order, a master
    /// before its companions.
    pub fn insert_sorted(controllers: &mut Vec<Controller>, controller: Controller) {
        let mut insert_at = None;
        for (i, cur) in controllers.iter().enumerate().rev() {
            if cur.kind != controller.kind {
                continue;
            }
            let Some(new_idx) = controller.index else {
                insert_at = Some(i + 1);
                break;
            };
            let cur_idx = cur.index.map_or(-1, i64::from);
            let after = cur_idx > i64::from(new_idx);
            // A master goes before the companions already at its index.
            let companion_of_new = controller.info.master.is_none()
                && cur.info.master.is_some()
                && cur_idx == i64::from(new_idx);
            if after || companion_of_new {
                insert_at = Some(i);
            } else if insert_at.is_none() {
                insert_at = Some(i + 1);
            }
        }
        match insert_at {
            Some(i) => controllers.insert(i, controller),
            None => controllers.push(controller),
        }
    }
}

/// The checks libvirt makes across all controllers: each valid ([`Controller::validate`]),
/// a lone PCI root at index 0, and no two controllers of one type (USB excepted) with the
/// same index.
pub fn validate_controllers(controllers: &[Controller]) -> Result<()> {
    for c in controllers {
        c.validate()?;
    }
    // pSeries guests have one pci-root per host bridge; elsewhere the only root is index 0.
    let mut roots = controllers.iter().filter(|c| c.is_pci_root());
    if let (Some(root), None) = (roots.next(), roots.next()) {
        let spapr = root
            .pci_model
            .as_ref()
            .is_some_and(|m| m.name == PciModelName::SpaprPciHostBridge);
        if root.index.is_some_and(|i| i > 0) && !spapr {
            return Err(XmlError::xml(
                "pci-root and pcie-root controllers should have index 0",
            ));
        }
    }
    for (i, a) in controllers.iter().enumerate() {
        let Some(idx) = a.index else { continue };
        if a.kind == ControllerType::Usb {
            continue;
        }
        if controllers[..i]
            .iter()
            .any(|b| b.kind == a.kind && b.index == Some(idx))
        {
            return Err(XmlError::xml(format!(
                "Multiple '{}' controllers with index '{idx}'",
                a.kind
            )));
        }
    }
    Ok(())
}

fn is_ich9(model: Option<&str>) -> bool {
    matches!(
        model,
        Some("ich9-ehci1" | "ich9-uhci1" | "ich9-uhci2" | "ich9-uhci3")
    )
}

/// Gives every controller without an index the one libvirt gives it: the lowest unused
/// index of its type, except that an ICH9 USB controller following another of its family
/// joins that one's index unless a controller of the same model already has it.
pub fn assign_controller_indexes(controllers: &mut [Controller]) {
    let mut prev_usb: Option<(Option<String>, u32)> = None;
    for i in 0..controllers.len() {
        if controllers[i].index.is_none() {
            let cur = &controllers[i];
            let used = |idx: u32, model: Option<&str>| {
                controllers.iter().enumerate().any(|(j, c)| {
                    j != i
                        && c.kind == cur.kind
                        && c.index == Some(idx)
                        && (model.is_none() || c.model.as_deref() == model)
                })
            };
            let mut chosen = None;
            if cur.kind == ControllerType::Usb && is_ich9(cur.model.as_deref()) {
                if let Some((prev_model, prev_idx)) = &prev_usb {
                    if is_ich9(prev_model.as_deref()) && !used(*prev_idx, cur.model.as_deref()) {
                        chosen = Some(*prev_idx);
                    }
                }
            }
            let idx = chosen.unwrap_or_else(|| (0..).find(|n| !used(*n, None)).unwrap_or(0));
            controllers[i].index = Some(idx);
        }
        let cur = &controllers[i];
        if cur.kind == ControllerType::Usb {
            prev_usb = cur.index.map(|n| (cur.model.clone(), n));
        }
    }
}

#[cfg(test)]
mod tests;
