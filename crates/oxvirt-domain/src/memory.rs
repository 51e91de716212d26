//! Guest memory: `<memory>`, `<currentMemory>`, `<maxMemory>`, `<memoryBacking>`,
//! `<memtune>`.

mod backing;

pub use backing::{
    Allocation, AllocationMode, Flag, HugePage, Hugepages, MemoryAccess, MemoryBacking,
    MemorySource, Memtune, MEMORY_UNLIMITED,
};

use oxvirt_xml::model::PropFlags;
use oxvirt_xml::types::size::parse_memory_kib_for;
use oxvirt_xml::{Builder, Context, Cursor, Element, Result, Unknown, XmlModel};

/// A memory size element (`<memory unit='KiB'>1048576</memory>`), read in any unit and
/// written in KiB as libvirt writes it.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct MemorySize {
    /// The size in KiB.
    pub kib: u64,
    /// `dumpCore='on|off'` (on `<memory>` only).
    pub dump_core: Option<bool>,
    /// What the model does not know, kept as written.
    pub unknown: Unknown,
}

impl MemorySize {
    /// A size of `kib` KiB.
    pub fn kib(kib: u64) -> Self {
        MemorySize {
            kib,
            ..MemorySize::default()
        }
    }

    /// The element, named `name` (`memory`, `currentMemory`).
    pub fn to_element_named(&self, name: &str) -> Element {
        let mut b = Builder::new(name);
        b.on_off("dumpCore", self.dump_core);
        b.attr("unit", "KiB");
        b.text(self.kib.to_string());
        b.finish(&self.unknown)
    }
}

/// Reads the text of `el` as a memory size in KiB, honouring its `unit` attribute.
pub(crate) fn read_kib(c: &mut Cursor<'_>) -> Result<u64> {
    let el = c.element();
    let unit = c.attr("unit");
    let text = c.text();
    parse_memory_kib_for(text.trim(), unit, &format!("./{}[1]", el.name))
        .map_err(|e| e.at(el.position))
}

impl XmlModel for MemorySize {
    fn from_element(el: &Element, ctx: &mut Context) -> Result<Self> {
        let mut c = Cursor::new(el);
        let kib = read_kib(&mut c)?;
        let dump_core = c.prop_on_off("dumpCore", PropFlags::NONE)?;
        Ok(MemorySize {
            kib,
            dump_core,
            unknown: c.finish(ctx),
        })
    }

    fn to_element(&self) -> Element {
        self.to_element_named("memory")
    }
}

/// The most memory a guest can grow to by hotplug (`<maxMemory slots='16'>`).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct MaxMemory {
    /// The size in KiB.
    pub kib: u64,
    /// The number of hotplug slots.
    pub slots: Option<u32>,
    /// What the model does not know, kept as written.
    pub unknown: Unknown,
}

impl XmlModel for MaxMemory {
    fn from_element(el: &Element, ctx: &mut Context) -> Result<Self> {
        let mut c = Cursor::new(el);
        let kib = read_kib(&mut c)?;
        let slots = c.prop_uint("slots", 10, oxvirt_xml::model::PropFlags::NONE)?;
        Ok(MaxMemory {
            kib,
            slots,
            unknown: c.finish(ctx),
        })
    }

    fn to_element(&self) -> Element {
        let mut b = Builder::new("maxMemory");
        b.opt_attr("slots", self.slots);
        b.attr("unit", "KiB");
        b.text(self.kib.to_string());
        b.finish(&self.unknown)
    }
}
