//! Small devices: watchdog, rng, tpm, memballoon, panic, vsock.
use oxvirt_xml::{Builder, Context, Cursor, Element, Result, Unknown, XmlModel};
use crate::address::DeviceAddress;

/// A watchdog device (`<watchdog>`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Watchdog {
    /// The `type` or `model` attribute that selects the kind, as written.
    pub kind: Option<String>,
    /// Where the device sits on its bus.
    pub address: Option<DeviceAddress>,
    /// What the model does not know, kept as written.
    pub unknown: Unknown,
}

impl XmlModel for Watchdog {
    fn from_element(el: &Element, ctx: &mut Context) -> Result<Self> {
        let mut c = Cursor::new(el);
        let kind = c.attr_string("type");
        let address = c.model("address", ctx)?;
        Ok(Watchdog {
            kind,
            address,
            unknown: c.finish(ctx),
        })
    }

    fn to_element(&self) -> Element {
        let mut b = Builder::new("watchdog");
        b.opt_attr("type", self.kind.as_deref());
        b.model(self.address.as_ref());
        b.finish(&self.unknown)
    }
}

/// A random number generator (`<rng>`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Rng {
    /// The `type` or `model` attribute that selects the kind, as written.
    pub kind: Option<String>,
    /// Where the device sits on its bus.
    pub address: Option<DeviceAddress>,
    /// What the model does not know, kept as written.
    pub unknown: Unknown,
}

impl XmlModel for Rng {
    fn from_element(el: &Element, ctx: &mut Context) -> Result<Self> {
        let mut c = Cursor::new(el);
        let kind = c.attr_string("type");
        let address = c.model("address", ctx)?;
        Ok(Rng {
            kind,
            address,
            unknown: c.finish(ctx),
        })
    }

    fn to_element(&self) -> Element {
        let mut b = Builder::new("rng");
        b.opt_attr("type", self.kind.as_deref());
        b.model(self.address.as_ref());
        b.finish(&self.unknown)
    }
}

/// A TPM (`<tpm>`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Tpm {
    /// The `type` or `model` attribute that selects the kind, as written.
    pub kind: Option<String>,
    /// Where the device sits on its bus.
    pub address: Option<DeviceAddress>,
    /// What the model does not know, kept as written.
    pub unknown: Unknown,
}

impl XmlModel for Tpm {
    fn from_element(el: &Element, ctx: &mut Context) -> Result<Self> {
        let mut c = Cursor::new(el);
        let kind = c.attr_string("type");
        let address = c.model("address", ctx)?;
        Ok(Tpm {
            kind,
            address,
            unknown: c.finish(ctx),
        })
    }

    fn to_element(&self) -> Element {
        let mut b = Builder::new("tpm");
        b.opt_attr("type", self.kind.as_deref());
        b.model(self.address.as_ref());
        b.finish(&self.unknown)
    }
}

/// The memory balloon (`<memballoon>`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Memballoon {
    /// The `type` or `model` attribute that selects the kind, as written.
    pub kind: Option<String>,
    /// Where the device sits on its bus.
    pub address: Option<DeviceAddress>,
    /// What the model does not know, kept as written.
    pub unknown: Unknown,
}

impl XmlModel for Memballoon {
    fn from_element(el: &Element, ctx: &mut Context) -> Result<Self> {
        let mut c = Cursor::new(el);
        let kind = c.attr_string("type");
        let address = c.model("address", ctx)?;
        Ok(Memballoon {
            kind,
            address,
            unknown: c.finish(ctx),
        })
    }

    fn to_element(&self) -> Element {
        let mut b = Builder::new("memballoon");
        b.opt_attr("type", self.kind.as_deref());
        b.model(self.address.as_ref());
        b.finish(&self.unknown)
    }
}

/// A panic notifier (`<panic>`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Panic {
    /// The `type` or `model` attribute that selects the kind, as written.
    pub kind: Option<String>,
    /// Where the device sits on its bus.
    pub address: Option<DeviceAddress>,
    /// What the model does not know, kept as written.
    pub unknown: Unknown,
}

impl XmlModel for Panic {
    fn from_element(el: &Element, ctx: &mut Context) -> Result<Self> {
        let mut c = Cursor::new(el);
        let kind = c.attr_string("type");
        let address = c.model("address", ctx)?;
        Ok(Panic {
            kind,
            address,
            unknown: c.finish(ctx),
        })
    }

    fn to_element(&self) -> Element {
        let mut b = Builder::new("panic");
        b.opt_attr("type", self.kind.as_deref());
        b.model(self.address.as_ref());
        b.finish(&self.unknown)
    }
}

/// A virtio vsock device (`<vsock>`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Vsock {
    /// The `type` or `model` attribute that selects the kind, as written.
    pub kind: Option<String>,
    /// Where the device sits on its bus.
    pub address: Option<DeviceAddress>,
    /// What the model does not know, kept as written.
    pub unknown: Unknown,
}

impl XmlModel for Vsock {
    fn from_element(el: &Element, ctx: &mut Context) -> Result<Self> {
        let mut c = Cursor::new(el);
        let kind = c.attr_string("type");
        let address = c.model("address", ctx)?;
        Ok(Vsock {
            kind,
            address,
            unknown: c.finish(ctx),
        })
    }

    fn to_element(&self) -> Element {
        let mut b = Builder::new("vsock");
        b.opt_attr("type", self.kind.as_deref());
        b.model(self.address.as_ref());
        b.finish(&self.unknown)
    }
}
