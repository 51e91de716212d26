//! Operating system booting: `<os>`.

use oxvirt_xml::{Builder, Context, Cursor, Element, Result, Unknown, XmlModel};

/// How the guest boots (`<os>`).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Os {
    /// What the model does not know, kept as written.
    pub unknown: Unknown,
}

impl XmlModel for Os {
    fn from_element(el: &Element, ctx: &mut Context) -> Result<Self> {
        let c = Cursor::new(el);
        Ok(Os {
            unknown: c.finish(ctx),
        })
    }

    fn to_element(&self) -> Element {
        Builder::new("os").finish(&self.unknown)
    }
}
