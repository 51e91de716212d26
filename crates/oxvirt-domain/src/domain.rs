//! The `<domain>` element: a guest's whole definition.

use std::str::FromStr;

use oxvirt_xml::model::XmlEnum;
use oxvirt_xml::types::uuid::Uuid;
use oxvirt_xml::{
    Builder, Context, Cursor, Element, ErrorCode, Node, Result, Unknown, Warning, XmlError,
    XmlModel,
};

use crate::clock::Clock;
use crate::cpu::Cpu;
use crate::devices::Devices;
use crate::features::{Features, Pm};
use crate::memory::{MaxMemory, MemoryBacking, MemorySize, Memtune};
use crate::os::Os;
use crate::tuning::{Cputune, IothreadIds, Iothreads, Numatune, Vcpu, Vcpus};

oxvirt_xml::xml_enum! {
    /// The hypervisor a domain runs on (`<domain type=...>`).
    pub enum VirtType {
        /// No hypervisor.
        None = "none",
        /// QEMU with TCG.
        Qemu = "qemu",
        /// kqemu (obsolete).
        Kqemu = "kqemu",
        /// QEMU with KVM.
        Kvm = "kvm",
        /// Xen.
        Xen = "xen",
        /// Linux containers.
        Lxc = "lxc",
        /// User-mode Linux.
        Uml = "uml",
        /// OpenVZ.
        Openvz = "openvz",
        /// libvirt's test driver.
        Test = "test",
        /// VMware.
        Vmware = "vmware",
        /// Hyper-V.
        Hyperv = "hyperv",
        /// VirtualBox.
        Vbox = "vbox",
        /// IBM PowerVM.
        Phyp = "phyp",
        /// Parallels.
        Parallels = "parallels",
        /// bhyve.
        Bhyve = "bhyve",
        /// Virtuozzo.
        Vz = "vz",
        /// Apple's Hypervisor.framework.
        Hvf = "hvf",
    }
}

oxvirt_xml::xml_enum! {
    /// What to do when the guest powers off, reboots or crashes.
    pub enum LifecycleAction {
        /// Stop the domain.
        Destroy = "destroy",
        /// Start it again.
        Restart = "restart",
        /// Start it again with its persistent configuration.
        RenameRestart = "rename-restart",
        /// Keep it, paused.
        Preserve = "preserve",
        /// Dump core, then stop it.
        CoredumpDestroy = "coredump-destroy",
        /// Dump core, then start it again.
        CoredumpRestart = "coredump-restart",
    }
}

/// The `<metadata>` element: applications' own XML, kept byte for byte.
#[derive(Debug, Clone, Eq)]
pub struct Metadata {
    /// The element as a tree, to look into it.
    pub element: Element,
    /// The element exactly as it was written, when it was read from a document.
    pub raw: Option<String>,
}

impl PartialEq for Metadata {
    fn eq(&self, other: &Self) -> bool {
        self.element == other.element
    }
}

/// Top-level elements libvirt knows that this model keeps as written, without warning.
const UNTYPED: &[&str] = &[
    "blkiotune",
    "defaultiothread",
    "resource",
    "sysinfo",
    "bootloader",
    "bootloader_args",
    "idmap",
    "on_lockfailure",
    "perf",
    "seclabel",
    "keywrap",
    "launchSecurity",
    "throttlegroups",
];

/// A domain definition, as libvirt's `<domain>` XML describes it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Domain {
    /// The hypervisor (`type`).
    pub virt_type: VirtType,
    /// The running domain's ID (`id`), in live XML only.
    pub id: Option<i32>,
    /// The unique name.
    pub name: String,
    /// The unique UUID; generated when absent.
    pub uuid: Option<Uuid>,
    /// The VM generation ID (`<genid>`); empty text asks for one to be generated.
    pub genid: Option<String>,
    /// A short title.
    pub title: Option<String>,
    /// A free-form description.
    pub description: Option<String>,
    /// Applications' metadata, kept byte for byte.
    pub metadata: Option<Metadata>,
    /// Maximum memory for hotplug (`<maxMemory>`).
    pub max_memory: Option<MaxMemory>,
    /// Memory at boot (`<memory>`).
    pub memory: Option<MemorySize>,
    /// Memory currently given to the guest (`<currentMemory>`), in KiB.
    pub current_memory: Option<u64>,
    /// Memory limits (`<memtune>`).
    pub memtune: Option<Memtune>,
    /// Memory backing (`<memoryBacking>`).
    pub memory_backing: Option<MemoryBacking>,
    /// The vCPU count and placement (`<vcpu>`).
    pub vcpu: Option<Vcpu>,
    /// Each vCPU's state (`<vcpus>`).
    pub vcpus: Option<Vcpus>,
    /// The number of I/O threads (`<iothreads>`).
    pub iothreads: Option<Iothreads>,
    /// The I/O threads by id (`<iothreadids>`).
    pub iothreadids: Option<IothreadIds>,
    /// CPU tuning (`<cputune>`).
    pub cputune: Option<Cputune>,
    /// NUMA memory placement (`<numatune>`).
    pub numatune: Option<Numatune>,
    /// How the guest boots (`<os>`).
    pub os: Option<Os>,
    /// Hypervisor features (`<features>`).
    pub features: Option<Features>,
    /// The guest CPU (`<cpu>`).
    pub cpu: Option<Cpu>,
    /// The guest clock (`<clock>`).
    pub clock: Option<Clock>,
    /// `<on_poweroff>`.
    pub on_poweroff: Option<LifecycleAction>,
    /// `<on_reboot>`.
    pub on_reboot: Option<LifecycleAction>,
    /// `<on_crash>`.
    pub on_crash: Option<LifecycleAction>,
    /// Power management (`<pm>`).
    pub pm: Option<Pm>,
    /// The devices.
    pub devices: Devices,
    /// Elements in other namespaces (`<qemu:commandline>`, ...), written last.
    pub namespaced: Vec<Element>,
    /// What the model does not type, kept as written.
    pub unknown: Unknown,
}

/// A domain read from XML, with what was kept without being understood.
#[derive(Debug, Clone)]
pub struct Parsed {
    /// The domain.
    pub domain: Domain,
    /// Unknown elements and attributes, kept and written back.
    pub warnings: Vec<Warning>,
}

impl Domain {
    /// The vCPUs online (`virDomainDefGetVcpus`).
    pub fn vcpus_current(&self) -> u32 {
        self.vcpu
            .as_ref()
            .map_or(1, |v| v.current.unwrap_or(v.count))
    }

    /// The most vCPUs the definition allows (`virDomainDefGetVcpusMax`).
    pub fn vcpus_max(&self) -> u32 {
        self.vcpu.as_ref().map_or(1, |v| v.count)
    }

    /// The total memory in KiB (`virDomainDefGetMemoryTotal`).
    pub fn memory_total(&self) -> u64 {
        self.memory.as_ref().map_or(0, |m| m.kib)
    }

    /// The memory the guest has now, in KiB (`<currentMemory>`, else the total).
    pub fn memory_current(&self) -> u64 {
        self.current_memory.unwrap_or_else(|| self.memory_total())
    }
}

impl Domain {
    /// A minimal domain: a name, a hypervisor, and nothing else.
    pub fn new(name: impl Into<String>, virt_type: VirtType) -> Self {
        Domain {
            virt_type,
            id: None,
            name: name.into(),
            uuid: None,
            genid: None,
            title: None,
            description: None,
            metadata: None,
            max_memory: None,
            memory: None,
            current_memory: None,
            memtune: None,
            memory_backing: None,
            vcpu: None,
            vcpus: None,
            iothreads: None,
            iothreadids: None,
            cputune: None,
            numatune: None,
            os: None,
            features: None,
            cpu: None,
            clock: None,
            on_poweroff: None,
            on_reboot: None,
            on_crash: None,
            pm: None,
            devices: Devices::default(),
            namespaced: Vec::new(),
            unknown: Unknown::default(),
        }
    }

    /// Reads a domain from its XML, as `virDomainDefineXML` would, without applying
    /// defaults. Unknown content is kept and listed in [`Parsed::warnings`].
    pub fn parse(xml: &str) -> Result<Parsed> {
        let root = oxvirt_xml::parse(xml)?;
        if root.name != "domain" {
            return Err(XmlError::xml(format!(
                "expecting root element of 'domain', not '{}'",
                root.name
            ))
            .from_domain(oxvirt_xml::ErrorDomain::Xml)
            .at(root.position));
        }
        let mut ctx = Context::default();
        let mut domain = Domain::from_element(&root, &mut ctx)?;
        if let (Some(meta), Some(span)) = (domain.metadata.as_mut(), metadata_span(&root)) {
            // Kept verbatim only if the slice is the element itself.
            meta.raw = xml
                .get(span)
                .filter(|r| r.starts_with("<metadata") && r.ends_with('>'))
                .map(str::to_string);
        }
        let mut warnings = ctx.warnings;
        warnings.sort_by_key(|w| w.position);
        Ok(Parsed { domain, warnings })
    }

    /// Writes the domain as libvirt formats it, ending with a newline.
    pub fn to_xml(&self) -> String {
        oxvirt_xml::to_string(&self.to_element())
    }
}

fn metadata_span(root: &Element) -> Option<std::ops::Range<usize>> {
    root.child("metadata").and_then(|m| m.span.clone())
}

/// Reads `<on_poweroff>`, `<on_reboot>` or `<on_crash>` as libvirt's
/// `virDomainEventActionParseXML` does: the text as written (not trimmed), empty as absent.
fn lifecycle(c: &mut Cursor<'_>, name: &str) -> Result<Option<LifecycleAction>> {
    let Some(el) = c.child(name) else {
        return Ok(None);
    };
    let text = el.text();
    if text.is_empty() {
        return Ok(None);
    }
    match LifecycleAction::from_xml_str(&text) {
        Some(a) => Ok(Some(a)),
        None => {
            Err(XmlError::unsupported(format!("unknown {name} action: {text}")).at(el.position))
        }
    }
}

impl XmlModel for Domain {
    fn from_element(el: &Element, ctx: &mut Context) -> Result<Self> {
        let mut c = Cursor::new(el);
        let virt_type = c.required_enum_attr::<VirtType>("type")?;
        let id = c.prop_int("id", 10, oxvirt_xml::model::PropFlags::NONE)?;
        let name_el = c.child("name");
        // An empty <name/> is missing too: libvirt reads the element's text.
        let name = match name_el.map(Element::text).filter(|n| !n.is_empty()) {
            Some(n) => n,
            None => {
                return Err(
                    XmlError::new(ErrorCode::NoName, "missing name information").at(el.position)
                )
            }
        };
        if name.contains('/') {
            return Err(XmlError::xml(format!("name {name} cannot contain '/'"))
                .at(name_el.map(|n| n.position).unwrap_or_default()));
        }
        let uuid = match c.child("uuid") {
            Some(u) => Some(
                Uuid::from_str(u.text().trim())
                    .map_err(|_| XmlError::internal("malformed uuid element").at(u.position))?,
            ),
            None => None,
        };
        let genid = c.child_text("genid");
        let title = c.child_text("title");
        if title.as_deref().is_some_and(|t| t.contains('\n')) {
            return Err(c.error("Domain title can't contain newlines"));
        }
        let description = c.child_text("description");
        let metadata = c.child("metadata").map(|m| Metadata {
            element: m.clone(),
            raw: None,
        });
        let max_memory = c.model("maxMemory", ctx)?;
        let memory = c.model("memory", ctx)?;
        let current_memory = match c.child("currentMemory") {
            Some(m) => Some(MemorySize::from_element(m, ctx)?.kib),
            None => None,
        };
        // libvirt writes none of these when empty, so an empty one reads as absent.
        let memtune = c
            .model::<Memtune>("memtune", ctx)?
            .filter(|m| !m.is_empty());
        let memory_backing = c
            .model::<MemoryBacking>("memoryBacking", ctx)?
            .filter(|m| !m.is_empty());
        let vcpu = c.model("vcpu", ctx)?;
        let vcpus = c.model("vcpus", ctx)?;
        let iothreads = c.model("iothreads", ctx)?;
        let iothreadids = c.model("iothreadids", ctx)?;
        let cputune = c
            .model::<Cputune>("cputune", ctx)?
            .filter(|t| !t.is_empty());
        let numatune = c
            .model::<Numatune>("numatune", ctx)?
            .filter(|t| !t.is_empty());
        let os = c.model("os", ctx)?;
        // libvirt writes no empty <features> or <pm>, so an empty one reads as absent.
        let features = c
            .model::<Features>("features", ctx)?
            .filter(|f| !f.is_empty());
        let cpu = c.model::<Cpu>("cpu", ctx)?.filter(|c| !c.is_empty());
        let clock = c.model("clock", ctx)?;
        // libvirt reads them in this order, which decides which error is reported.
        let on_reboot = lifecycle(&mut c, "on_reboot")?;
        let on_poweroff = lifecycle(&mut c, "on_poweroff")?;
        let on_crash = lifecycle(&mut c, "on_crash")?;
        let pm = c.model::<Pm>("pm", ctx)?.filter(|p| !p.is_empty());
        let devices = match c.child("devices") {
            Some(d) => Devices::from_element(d, ctx)?,
            None => Devices::default(),
        };
        let namespaced = c
            .children_where(|e| e.namespace.is_some())
            .into_iter()
            .cloned()
            .collect();
        Ok(Domain {
            virt_type,
            id,
            name,
            uuid,
            genid,
            title,
            description,
            metadata,
            max_memory,
            memory,
            current_memory,
            memtune,
            memory_backing,
            vcpu,
            vcpus,
            iothreads,
            iothreadids,
            cputune,
            numatune,
            os,
            features,
            cpu,
            clock,
            on_poweroff,
            on_reboot,
            on_crash,
            pm,
            devices,
            namespaced,
            unknown: c.finish_known(ctx, UNTYPED),
        })
    }

    fn to_element(&self) -> Element {
        let mut b = Builder::new("domain");
        b.attr("type", self.virt_type).opt_attr("id", self.id);
        b.text_child("name", &self.name);
        b.opt_text_child("uuid", self.uuid.as_ref());
        if let Some(g) = &self.genid {
            if g.is_empty() {
                b.child(Element::new("genid"));
            } else {
                b.text_child("genid", g);
            }
        }
        b.opt_text_child("title", self.title.as_deref());
        b.opt_text_child("description", self.description.as_deref());
        // The element goes in as a tree, so that what followed it is put back after it; it
        // is swapped for the text it was read from below.
        if let Some(m) = &self.metadata {
            b.child(m.element.clone());
        }
        b.model(self.max_memory.as_ref());
        b.model(self.memory.as_ref());
        if let Some(kib) = self.current_memory {
            b.child(MemorySize::kib(kib).to_element_named("currentMemory"));
        }
        b.model(self.memtune.as_ref());
        b.model(self.memory_backing.as_ref());
        b.model(self.vcpu.as_ref());
        b.model(self.vcpus.as_ref());
        b.model(self.iothreads.as_ref());
        b.model(self.iothreadids.as_ref());
        b.model(self.cputune.as_ref());
        b.model(self.numatune.as_ref());
        b.model(self.os.as_ref());
        b.model(self.features.as_ref());
        b.model(self.cpu.as_ref());
        b.model(self.clock.as_ref());
        b.opt_text_child("on_poweroff", self.on_poweroff);
        b.opt_text_child("on_reboot", self.on_reboot);
        b.opt_text_child("on_crash", self.on_crash);
        b.model(self.pm.as_ref());
        // libvirt always writes <devices>, with an open and a close tag even when empty.
        let mut devices = self.devices.to_element();
        if devices.children.is_empty() {
            devices.children.push(Node::Verbatim(String::new()));
        }
        b.child(devices);
        let mut el = b.finish(&self.unknown);
        if let Some(raw) = self.metadata.as_ref().and_then(|m| m.raw.as_ref()) {
            let slot = el
                .children
                .iter_mut()
                .find(|n| n.as_element().is_some_and(|e| e.name == "metadata"));
            if let Some(slot) = slot {
                *slot = Node::Verbatim(raw.clone());
            }
        }
        el.children
            .extend(self.namespaced.iter().cloned().map(Node::Element));
        el
    }
}
