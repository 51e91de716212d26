//! The guest CPU model and topology: `<cpu>`.

use oxvirt_xml::{Builder, Context, Cursor, Element, Result, Unknown, XmlModel};

/// The guest CPU (`<cpu>`).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Cpu {
    /// What the model does not know, kept as written.
    pub unknown: Unknown,
}

impl XmlModel for Cpu {
    fn from_element(el: &Element, ctx: &mut Context) -> Result<Self> {
        let c = Cursor::new(el);
        Ok(Cpu {
            unknown: c.finish(ctx),
        })
    }

    fn to_element(&self) -> Element {
        Builder::new("cpu").finish(&self.unknown)
    }
}
