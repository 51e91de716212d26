//! An input device (`<input>`).
//!
//! When no `bus` is given, libvirt picks one from the guest's OS type and architecture;
//! [`Input::apply_defaults`] does the same once the domain is known.

use oxvirt_xml::model::PropFlags;
use oxvirt_xml::{Builder, Context, Cursor, Element, Result, Unknown, XmlError, XmlModel};

use crate::devices::info::{DeviceInfo, VirtioDriver};
use crate::os::OsType;
use crate::util::{enum_unsupported, finish_leaf, sanitize_path};

oxvirt_xml::xml_enum! {
    /// The kind of input device (`type`).
    pub enum InputType {
        /// A mouse.
        Mouse = "mouse",
        /// A tablet (absolute pointer).
        Tablet = "tablet",
        /// A keyboard.
        Keyboard = "keyboard",
        /// A host evdev device passed through as virtio-input.
        Passthrough = "passthrough",
        /// A host evdev device grabbed by QEMU.
        Evdev = "evdev",
    }
}

oxvirt_xml::xml_enum! {
    /// The bus an input device is on (`bus`).
    pub enum InputBus {
        /// PS/2.
        Ps2 = "ps2",
        /// USB.
        Usb = "usb",
        /// Xen.
        Xen = "xen",
        /// Parallels.
        Parallels = "parallels",
        /// virtio.
        Virtio = "virtio",
        /// No bus (evdev); never written.
        None = "none",
    }
}

oxvirt_xml::xml_enum! {
    /// The virtio device model (`model`).
    pub enum InputModel {
        /// virtio.
        Virtio = "virtio",
        /// Transitional virtio.
        VirtioTransitional = "virtio-transitional",
        /// Non-transitional virtio.
        VirtioNonTransitional = "virtio-non-transitional",
    }
}

oxvirt_xml::xml_enum! {
    /// What an evdev device grabs (`<source grab=...>`).
    pub enum InputGrab {
        /// Every device.
        All = "all",
    }
}

oxvirt_xml::xml_enum! {
    /// The key combination that toggles an evdev grab (`<source grabToggle=...>`).
    pub enum InputGrabToggle {
        /// Both Ctrl keys.
        CtrlCtrl = "ctrl-ctrl",
        /// Both Alt keys.
        AltAlt = "alt-alt",
        /// Both Shift keys.
        ShiftShift = "shift-shift",
        /// Both Meta keys.
        MetaMeta = "meta-meta",
        /// Scroll Lock.
        Scrolllock = "scrolllock",
        /// Ctrl and Scroll Lock.
        CtrlScrolllock = "ctrl-scrolllock",
    }
}

/// The host device behind a passthrough or evdev input (`<source>`).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct InputSource {
    /// The evdev path (`evdev` for passthrough, `dev` for evdev), sanitized as libvirt does.
    pub evdev: Option<String>,
    /// `grab` (evdev only).
    pub grab: Option<InputGrab>,
    /// `grabToggle` (evdev only).
    pub grab_toggle: Option<InputGrabToggle>,
    /// `repeat='on|off'` (evdev only).
    pub repeat: Option<bool>,
}

/// An input device (`<input>`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Input {
    /// `type`.
    pub kind: InputType,
    /// `bus`; filled in by [`Input::apply_defaults`] when absent.
    pub bus: Option<InputBus>,
    /// `model`.
    pub model: Option<InputModel>,
    /// `<driver>` virtio options.
    pub driver: Option<VirtioDriver>,
    /// `<source>`.
    pub source: Option<InputSource>,
    /// `<alias>`, `<address>` and the rest of libvirt's device info.
    pub info: DeviceInfo,
    /// What the model does not know, kept as written.
    pub unknown: Unknown,
}

impl Input {
    /// An input device of `kind` with nothing else set.
    pub fn new(kind: InputType) -> Self {
        Input {
            kind,
            bus: None,
            model: None,
            driver: None,
            source: None,
            info: DeviceInfo::default(),
            unknown: Unknown::default(),
        }
    }

    /// libvirt's bus for an input device without one: PS/2 for a mouse or keyboard of an x86
    /// HVM guest, virtio on s390 and for passthrough, none for evdev, USB otherwise; Xen for
    /// Xen guests; Parallels for Parallels and Virtuozzo containers.
    pub fn apply_defaults(&mut self, os_type: Option<OsType>, arch: Option<&str>, virt_type: &str) {
        if self.bus.is_some() {
            return;
        }
        let x86 = matches!(arch, None | Some("i686") | Some("x86_64"));
        let s390 = matches!(arch, Some("s390") | Some("s390x"));
        self.bus = match os_type {
            Some(OsType::Hvm) => Some(match self.kind {
                InputType::Mouse | InputType::Keyboard if x86 => InputBus::Ps2,
                InputType::Passthrough => InputBus::Virtio,
                _ if s390 => InputBus::Virtio,
                InputType::Evdev => InputBus::None,
                _ => InputBus::Usb,
            }),
            Some(OsType::Xen) | Some(OsType::Xenpvh) => Some(InputBus::Xen),
            _ if matches!(virt_type, "vz" | "parallels") => Some(InputBus::Parallels),
            _ => None,
        };
    }

    /// libvirt's checks of an input device (`virDomainInputDefValidate`, and the USB
    /// address check libvirt makes once the bus is known).
    pub fn validate(&self, os_type: Option<OsType>, virt_type: &str) -> Result<()> {
        let bus = self.bus.unwrap_or(InputBus::None);
        let kind = self.kind;
        if bus == InputBus::Usb
            && self
                .info
                .address
                .as_ref()
                .is_some_and(|a| a.kind() != "usb")
        {
            return Err(XmlError::xml("Invalid address for a USB device"));
        }
        match os_type {
            Some(OsType::Hvm) => {
                if bus == InputBus::Ps2 && !matches!(kind, InputType::Mouse | InputType::Keyboard) {
                    return Err(XmlError::internal(format!(
                        "ps2 bus does not support {kind} input device"
                    )));
                }
                if bus == InputBus::Xen {
                    return Err(XmlError::internal(format!("unsupported input bus {bus}")));
                }
            }
            Some(OsType::Xen) | Some(OsType::Xenpvh) => {
                if bus != InputBus::Xen {
                    return Err(XmlError::internal(format!("unsupported input bus {bus}")));
                }
                if !matches!(kind, InputType::Mouse | InputType::Keyboard) {
                    return Err(XmlError::internal(format!(
                        "xen bus does not support {kind} input device"
                    )));
                }
            }
            _ if matches!(virt_type, "vz" | "parallels") => {
                if bus != InputBus::Parallels {
                    return Err(XmlError::internal(format!(
                        "parallels containers don't support input bus {bus}"
                    )));
                }
                if !matches!(kind, InputType::Mouse | InputType::Keyboard) {
                    return Err(XmlError::internal(format!(
                        "parallels bus does not support {kind} input device"
                    )));
                }
            }
            _ => {
                return Err(XmlError::internal(
                    "Input devices are not supported by this virtualization driver.",
                ))
            }
        }
        let evdev = self.source.as_ref().and_then(|s| s.evdev.as_ref());
        match kind {
            InputType::Mouse | InputType::Tablet | InputType::Keyboard if evdev.is_some() => {
                return Err(XmlError::unsupported(
                    "setting source evdev path only supported for passthrough input devices",
                ))
            }
            InputType::Passthrough if bus != InputBus::Virtio => {
                return Err(XmlError::unsupported(
                    "only bus 'virtio' is supported for 'passthrough' input devices",
                ))
            }
            InputType::Evdev if bus != InputBus::None => {
                return Err(XmlError::unsupported(
                    "input evdev doesn't support bus element",
                ))
            }
            _ => {}
        }
        if let Some(model) = self.model {
            if bus != InputBus::Virtio {
                return Err(XmlError::unsupported(format!(
                    "only bus 'virtio' is supported for input model '{model}'"
                )));
            }
        }
        Ok(())
    }
}

fn read_source(kind: InputType, el: &Element, ctx: &mut Context) -> Result<InputSource> {
    let mut c = Cursor::new(el);
    let evdev = match kind {
        InputType::Passthrough => c.attr("evdev"),
        InputType::Evdev => c.attr("dev"),
        _ => None,
    };
    let mut source = InputSource {
        evdev: evdev.map(sanitize_path),
        ..InputSource::default()
    };
    if matches!(kind, InputType::Passthrough | InputType::Evdev) && source.evdev.is_none() {
        return Err(XmlError::xml("Missing evdev path for input device").at(el.position));
    }
    if kind == InputType::Evdev {
        source.grab = c.enum_attr("grab")?;
        source.grab_toggle = c.enum_attr("grabToggle")?;
        source.repeat = c.prop_on_off("repeat", PropFlags::NONE)?;
    }
    finish_leaf(c, ctx);
    Ok(source)
}

impl XmlModel for Input {
    fn from_element(el: &Element, ctx: &mut Context) -> Result<Self> {
        let mut c = Cursor::new(el);
        let Some(kind) = enum_unsupported(&mut c, "type", "input device type")? else {
            return Err(XmlError::internal("missing input device type").at(el.position));
        };
        let model = enum_unsupported(&mut c, "model", "input model")?;
        let bus = enum_unsupported(&mut c, "bus", "input bus type")?;
        let mut input = Input::new(kind);
        input.model = model;
        input.bus = bus;
        input.info = DeviceInfo::parse(&mut c, ctx, false, false)?;
        if input.bus == Some(InputBus::Usb)
            && input
                .info
                .address
                .as_ref()
                .is_some_and(|a| a.kind() != "usb")
        {
            return Err(XmlError::xml("Invalid address for a USB device").at(el.position));
        }
        if let Some(s) = c.child("source") {
            input.source = Some(read_source(kind, s, ctx)?);
        }
        input.driver = c.model("driver", ctx)?;
        input.unknown = c.finish(ctx);
        Ok(input)
    }

    fn to_element(&self) -> Element {
        let mut b = Builder::new("input");
        b.attr("type", self.kind);
        b.opt_attr("bus", self.bus.filter(|b| *b != InputBus::None));
        b.opt_attr("model", self.model);
        b.opt_child(VirtioDriver::element(self.driver.as_ref()));
        if let Some(s) = &self.source {
            let mut e = Element::new("source");
            if let Some(p) = &s.evdev {
                e.set_attr(
                    if self.kind == InputType::Evdev {
                        "dev"
                    } else {
                        "evdev"
                    },
                    p.as_str(),
                );
            }
            if let Some(g) = s.grab {
                e.set_attr("grab", g.to_string());
            }
            if let Some(t) = s.grab_toggle {
                e.set_attr("grabToggle", t.to_string());
            }
            if let Some(r) = s.repeat {
                e.set_attr("repeat", if r { "on" } else { "off" });
            }
            if !e.attributes.is_empty() {
                b.child(e);
            }
        }
        self.info.format(&mut b);
        b.finish(&self.unknown)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use oxvirt_xml::ErrorCode;

    fn read(xml: &str) -> Result<Input> {
        Input::from_element(&oxvirt_xml::parse(xml)?, &mut Context::default())
    }

    fn write(i: &Input) -> String {
        oxvirt_xml::to_string(&i.to_element())
    }

    #[test]
    fn libvirt_output_is_written_back_unchanged() {
        for xml in [
            "<input type='mouse' bus='ps2'/>\n",
            "<input type='tablet' bus='usb'>\n  <alias name='ua-tablet'/>\n  \
             <address type='usb' bus='0' port='1'/>\n</input>\n",
            "<input type='passthrough' bus='virtio'>\n  <source evdev='/dev/input/event1234'/>\n  \
             <address type='pci' domain='0x0000' bus='0x00' slot='0x03' function='0x0'/>\n</input>\n",
            "<input type='keyboard' bus='virtio' model='virtio-non-transitional'>\n  \
             <driver iommu='on' ats='on' packed='on'/>\n</input>\n",
            "<input type='evdev'>\n  <source dev='/dev/input/event1' grab='all' grabToggle='ctrl-ctrl' \
             repeat='on'/>\n</input>\n",
        ] {
            let i = read(xml).unwrap();
            assert_eq!(write(&i), xml);
            assert_eq!(read(&write(&i)).unwrap(), i);
        }
    }

    #[test]
    fn the_bus_defaults_like_libvirt() {
        let bus = |xml: &str, os: Option<OsType>, arch: Option<&str>, virt: &str| {
            let mut i = read(xml).unwrap();
            i.apply_defaults(os, arch, virt);
            i.bus
        };
        let hvm = Some(OsType::Hvm);
        assert_eq!(
            bus("<input type='mouse'/>", hvm, Some("x86_64"), "kvm"),
            Some(InputBus::Ps2)
        );
        assert_eq!(
            bus("<input type='keyboard'/>", hvm, Some("aarch64"), "kvm"),
            Some(InputBus::Usb)
        );
        assert_eq!(
            bus("<input type='tablet'/>", hvm, Some("x86_64"), "kvm"),
            Some(InputBus::Usb)
        );
        assert_eq!(
            bus("<input type='mouse'/>", hvm, Some("s390x"), "kvm"),
            Some(InputBus::Virtio)
        );
        assert_eq!(
            bus(
                "<input type='evdev'><source dev='/dev/input/e'/></input>",
                hvm,
                Some("x86_64"),
                "kvm"
            ),
            Some(InputBus::None)
        );
        assert_eq!(
            bus("<input type='mouse'/>", Some(OsType::Xen), None, "xen"),
            Some(InputBus::Xen)
        );
        assert_eq!(
            bus("<input type='mouse'/>", Some(OsType::Exe), None, "vz"),
            Some(InputBus::Parallels)
        );
        assert_eq!(
            bus(
                "<input type='mouse' bus='usb'/>",
                hvm,
                Some("x86_64"),
                "kvm"
            ),
            Some(InputBus::Usb)
        );
    }

    #[test]
    fn parse_errors_use_libvirts_words() {
        let cases: &[(&str, ErrorCode, &str)] = &[
            (
                "<input/>",
                ErrorCode::InternalError,
                "missing input device type",
            ),
            (
                "<input type='pen'/>",
                ErrorCode::ConfigUnsupported,
                "unknown input device type 'pen'",
            ),
            (
                "<input type='mouse' bus='isa'/>",
                ErrorCode::ConfigUnsupported,
                "unknown input bus type 'isa'",
            ),
            (
                "<input type='mouse' model='x'/>",
                ErrorCode::ConfigUnsupported,
                "unknown input model 'x'",
            ),
            (
                "<input type='tablet' bus='usb'><address type='pci' slot='3'/></input>",
                ErrorCode::XmlError,
                "Invalid address for a USB device",
            ),
            (
                "<input type='passthrough' bus='virtio'><source/></input>",
                ErrorCode::XmlError,
                "Missing evdev path for input device",
            ),
            (
                "<input type='evdev'><source dev='/d' grab='default'/></input>",
                ErrorCode::XmlError,
                "Invalid value for attribute 'grab' in element 'source': 'default'.",
            ),
        ];
        for (xml, code, msg) in cases {
            let err = read(xml).unwrap_err();
            assert_eq!((err.code, err.message.as_str()), (*code, *msg), "{xml}");
        }
    }

    #[test]
    fn validation_matches_libvirt() {
        let check = |xml: &str| {
            let mut i = read(xml).unwrap();
            i.apply_defaults(Some(OsType::Hvm), Some("x86_64"), "kvm");
            i.validate(Some(OsType::Hvm), "kvm").map_err(|e| e.message)
        };
        assert_eq!(
            check("<input type='tablet' bus='ps2'/>").unwrap_err(),
            "ps2 bus does not support tablet input device"
        );
        assert_eq!(
            check("<input type='passthrough' bus='usb'><source evdev='/e'/></input>").unwrap_err(),
            "only bus 'virtio' is supported for 'passthrough' input devices"
        );
        assert_eq!(
            check("<input type='keyboard' bus='usb' model='virtio'/>").unwrap_err(),
            "only bus 'virtio' is supported for input model 'virtio'"
        );
        assert!(check("<input type='mouse'/>").is_ok());
    }
}
