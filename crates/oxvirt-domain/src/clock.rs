//! The guest clock: `<clock>`.

use oxvirt_xml::{Builder, Context, Cursor, Element, Result, Unknown, XmlModel};

/// The guest clock and its timers (`<clock>`).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Clock {
    /// What the model does not know, kept as written.
    pub unknown: Unknown,
}

impl XmlModel for Clock {
    fn from_element(el: &Element, ctx: &mut Context) -> Result<Self> {
        let c = Cursor::new(el);
        Ok(Clock {
            unknown: c.finish(ctx),
        })
    }

    fn to_element(&self) -> Element {
        Builder::new("clock").finish(&self.unknown)
    }
}
