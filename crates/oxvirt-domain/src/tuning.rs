//! vCPUs and their placement: `<vcpu>`, `<vcpus>`, `<iothreads>`, `<cputune>`, `<numatune>`.

use oxvirt_xml::{Builder, Context, Cursor, Element, Result, Unknown, XmlModel};

/// The number of vCPUs (`<vcpu>`).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Vcpu {
    /// What the model does not know, kept as written.
    pub unknown: Unknown,
}

impl XmlModel for Vcpu {
    fn from_element(el: &Element, ctx: &mut Context) -> Result<Self> {
        let c = Cursor::new(el);
        Ok(Vcpu {
            unknown: c.finish(ctx),
        })
    }

    fn to_element(&self) -> Element {
        Builder::new("vcpu").finish(&self.unknown)
    }
}

/// CPU tuning (`<cputune>`).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Cputune {
    /// What the model does not know, kept as written.
    pub unknown: Unknown,
}

impl XmlModel for Cputune {
    fn from_element(el: &Element, ctx: &mut Context) -> Result<Self> {
        let c = Cursor::new(el);
        Ok(Cputune {
            unknown: c.finish(ctx),
        })
    }

    fn to_element(&self) -> Element {
        Builder::new("cputune").finish(&self.unknown)
    }
}

/// NUMA memory placement (`<numatune>`).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Numatune {
    /// What the model does not know, kept as written.
    pub unknown: Unknown,
}

impl XmlModel for Numatune {
    fn from_element(el: &Element, ctx: &mut Context) -> Result<Self> {
        let c = Cursor::new(el);
        Ok(Numatune {
            unknown: c.finish(ctx),
        })
    }

    fn to_element(&self) -> Element {
        Builder::new("numatune").finish(&self.unknown)
    }
}
