//! Hypervisor features (`<features>`) and power management (`<pm>`).

use oxvirt_xml::{Builder, Context, Cursor, Element, Result, Unknown, XmlModel};

/// Hypervisor features the guest sees (`<features>`).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Features {
    /// What the model does not know, kept as written.
    pub unknown: Unknown,
}

impl XmlModel for Features {
    fn from_element(el: &Element, ctx: &mut Context) -> Result<Self> {
        let c = Cursor::new(el);
        Ok(Features {
            unknown: c.finish(ctx),
        })
    }

    fn to_element(&self) -> Element {
        Builder::new("features").finish(&self.unknown)
    }
}

/// Guest power management (`<pm>`).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Pm {
    /// What the model does not know, kept as written.
    pub unknown: Unknown,
}

impl XmlModel for Pm {
    fn from_element(el: &Element, ctx: &mut Context) -> Result<Self> {
        let c = Cursor::new(el);
        Ok(Pm {
            unknown: c.finish(ctx),
        })
    }

    fn to_element(&self) -> Element {
        Builder::new("pm").finish(&self.unknown)
    }
}
