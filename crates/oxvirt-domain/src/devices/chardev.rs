//! Character devices: `<serial>`, `<parallel>`, `<console>` and `<channel>`.

use oxvirt_xml::{Builder, Context, Cursor, Element, Result, Unknown, XmlModel};

use crate::address::DeviceAddress;

/// A character device; `element` says which of the four it is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Chardev {
    /// `serial`, `parallel`, `console` or `channel`.
    pub element: String,
    /// The host side's type (`pty`, `file`, `unix`, `tcp`, ...).
    pub kind: Option<String>,
    /// Where the device sits on its bus.
    pub address: Option<DeviceAddress>,
    /// What the model does not know, kept as written.
    pub unknown: Unknown,
}

impl XmlModel for Chardev {
    fn from_element(el: &Element, ctx: &mut Context) -> Result<Self> {
        let mut c = Cursor::new(el);
        let kind = c.attr_string("type");
        let address = c.model("address", ctx)?;
        Ok(Chardev {
            element: el.name.clone(),
            kind,
            address,
            unknown: c.finish(ctx),
        })
    }

    fn to_element(&self) -> Element {
        let mut b = Builder::new(&self.element);
        b.opt_attr("type", self.kind.as_deref());
        b.model(self.address.as_ref());
        b.finish(&self.unknown)
    }
}
