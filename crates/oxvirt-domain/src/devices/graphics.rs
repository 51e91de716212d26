//! A graphical console (`<graphics>`).
use oxvirt_xml::{Builder, Context, Cursor, Element, Result, Unknown, XmlModel};
use crate::address::DeviceAddress;

/// A graphical console (`<graphics>`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Graphics {
    /// The `type` or `model` attribute that selects the kind, as written.
    pub kind: Option<String>,
    /// Where the device sits on its bus.
    pub address: Option<DeviceAddress>,
    /// What the model does not know, kept as written.
    pub unknown: Unknown,
}

impl XmlModel for Graphics {
    fn from_element(el: &Element, ctx: &mut Context) -> Result<Self> {
        let mut c = Cursor::new(el);
        let kind = c.attr_string("type");
        let address = c.model("address", ctx)?;
        Ok(Graphics {
            kind,
            address,
            unknown: c.finish(ctx),
        })
    }

    fn to_element(&self) -> Element {
        let mut b = Builder::new("graphics");
        b.opt_attr("type", self.kind.as_deref());
        b.model(self.address.as_ref());
        b.finish(&self.unknown)
    }
}
