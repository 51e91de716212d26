//! `<guest>` entries of the capabilities XML (libvirt's `virCapsGuest` and
//! `virCapabilitiesFormatGuestXML`).

use std::fmt::Write as _;

/// One `<guest>`: an OS type on an architecture with its emulator (filled in by the
/// driver's probing).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Guest {
    /// `<os_type>` (`hvm`).
    pub os_type: String,
    /// `<arch name=...>` in libvirt's spelling (`i686`, `x86_64`, `aarch64`).
    pub arch: String,
    /// `<wordsize>`: 32 or 64.
    pub wordsize: u32,
    /// `<emulator>`; omitted when empty.
    pub emulator: String,
    /// `<loader>`; omitted when `None`.
    pub loader: Option<String>,
    /// `<machine>` entries, in order.
    pub machines: Vec<GuestMachine>,
    /// `<domain type=...>` entries, in order.
    pub domains: Vec<GuestDomain>,
    /// `<features>`; omitted when no feature is present.
    pub features: GuestFeatures,
}

/// A `<machine>` of a guest or guest domain.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct GuestMachine {
    /// The machine type named (`pc`, `pc-q35-7.2`).
    pub name: String,
    /// `canonical=`: the machine an alias stands for.
    pub canonical: Option<String>,
    /// `maxCpus=`; omitted when 0.
    pub max_cpus: u32,
    /// `deprecated='yes'`.
    pub deprecated: bool,
}

/// A `<domain type=...>`: a virtualization type serving the guest, with its own emulator
/// and machines only where they differ from the guest's.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct GuestDomain {
    /// `type=` (`qemu`, `kvm`).
    pub virt_type: String,
    /// `<emulator>` for this type only.
    pub emulator: Option<String>,
    /// `<machine>` entries for this type only.
    pub machines: Vec<GuestMachine>,
}

/// A toggleable feature: `default='on|off' toggle='yes|no'`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Toggle {
    /// `default='on'`.
    pub default_on: bool,
    /// `toggle='yes'`.
    pub toggle: bool,
}

/// `<features>` of a guest, written in libvirt's order (pae, nonpae, ia64_be, acpi,
/// apic, cpuselection, deviceboot, disksnapshot, hap).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct GuestFeatures {
    /// `<pae/>`.
    pub pae: bool,
    /// `<nonpae/>`.
    pub nonpae: bool,
    /// `<ia64_be/>`.
    pub ia64_be: bool,
    /// `<acpi .../>`.
    pub acpi: Option<Toggle>,
    /// `<apic .../>`.
    pub apic: Option<Toggle>,
    /// `<cpuselection/>`.
    pub cpuselection: bool,
    /// `<deviceboot/>`.
    pub deviceboot: bool,
    /// `<disksnapshot .../>`.
    pub disksnapshot: Option<Toggle>,
    /// `<hap .../>`.
    pub hap: Option<Toggle>,
}

fn escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '\'' => out.push_str("&apos;"),
            '"' => out.push_str("&quot;"),
            c => out.push(c),
        }
    }
    out
}

fn write_machines(out: &mut String, indent: &str, machines: &[GuestMachine]) {
    for m in machines {
        let _ = write!(out, "{indent}<machine");
        if let Some(canonical) = &m.canonical {
            let _ = write!(out, " canonical='{}'", escape(canonical));
        }
        if m.max_cpus > 0 {
            let _ = write!(out, " maxCpus='{}'", m.max_cpus);
        }
        if m.deprecated {
            out.push_str(" deprecated='yes'");
        }
        let _ = writeln!(out, ">{}</machine>", escape(&m.name));
    }
}

fn write_toggle(out: &mut String, name: &str, toggle: Option<Toggle>) {
    if let Some(t) = toggle {
        let _ = writeln!(
            out,
            "      <{name} default='{}' toggle='{}'/>",
            if t.default_on { "on" } else { "off" },
            if t.toggle { "yes" } else { "no" }
        );
    }
}

impl Guest {
    /// Appends `  <guest>...</guest>\n` (indented as a child of `<capabilities>`) to `out`.
    /// libvirt follows each guest with a blank line; that is the caller's part.
    pub fn write_xml(&self, out: &mut String) {
        out.push_str("  <guest>\n");
        let _ = writeln!(out, "    <os_type>{}</os_type>", escape(&self.os_type));
        let _ = writeln!(out, "    <arch name='{}'>", escape(&self.arch));
        let _ = writeln!(out, "      <wordsize>{}</wordsize>", self.wordsize);
        if !self.emulator.is_empty() {
            let _ = writeln!(out, "      <emulator>{}</emulator>", escape(&self.emulator));
        }
        if let Some(loader) = &self.loader {
            let _ = writeln!(out, "      <loader>{}</loader>", escape(loader));
        }
        write_machines(out, "      ", &self.machines);
        for d in &self.domains {
            let _ = write!(out, "      <domain type='{}'", escape(&d.virt_type));
            if d.emulator.is_none() && d.machines.is_empty() {
                out.push_str("/>\n");
                continue;
            }
            out.push_str(">\n");
            if let Some(emulator) = &d.emulator {
                let _ = writeln!(out, "        <emulator>{}</emulator>", escape(emulator));
            }
            write_machines(out, "        ", &d.machines);
            out.push_str("      </domain>\n");
        }
        out.push_str("    </arch>\n");
        let f = &self.features;
        let any = f.pae
            || f.nonpae
            || f.ia64_be
            || f.acpi.is_some()
            || f.apic.is_some()
            || f.cpuselection
            || f.deviceboot
            || f.disksnapshot.is_some()
            || f.hap.is_some();
        if any {
            out.push_str("    <features>\n");
            for (on, name) in [(f.pae, "pae"), (f.nonpae, "nonpae"), (f.ia64_be, "ia64_be")] {
                if on {
                    let _ = writeln!(out, "      <{name}/>");
                }
            }
            write_toggle(out, "acpi", f.acpi);
            write_toggle(out, "apic", f.apic);
            for (on, name) in [
                (f.cpuselection, "cpuselection"),
                (f.deviceboot, "deviceboot"),
            ] {
                if on {
                    let _ = writeln!(out, "      <{name}/>");
                }
            }
            write_toggle(out, "disksnapshot", f.disksnapshot);
            write_toggle(out, "hap", f.hap);
            out.push_str("    </features>\n");
        }
        out.push_str("  </guest>\n");
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn machine(name: &str, canonical: Option<&str>, max_cpus: u32) -> GuestMachine {
        GuestMachine {
            name: name.to_owned(),
            canonical: canonical.map(str::to_owned),
            max_cpus,
            deprecated: false,
        }
    }

    /// The i686 guest of libvirt's `capabilityschemadata/caps-qemu-kvm.xml`.
    #[test]
    fn formats_like_libvirt() {
        let machines = vec![
            machine("pc-0.11", None, 255),
            machine("pc", Some("pc-0.11"), 255),
            machine("pc-0.10", None, 255),
            machine("isapc", None, 1),
        ];
        let guest = Guest {
            os_type: "hvm".into(),
            arch: "i686".into(),
            wordsize: 32,
            emulator: "/usr/bin/qemu-system-i386".into(),
            loader: None,
            machines: machines.clone(),
            domains: vec![
                GuestDomain {
                    virt_type: "qemu".into(),
                    ..GuestDomain::default()
                },
                GuestDomain {
                    virt_type: "kvm".into(),
                    emulator: Some("/usr/bin/qemu-system-i386".into()),
                    machines,
                },
            ],
            features: GuestFeatures {
                pae: true,
                nonpae: true,
                acpi: Some(Toggle {
                    default_on: true,
                    toggle: true,
                }),
                apic: Some(Toggle {
                    default_on: true,
                    toggle: false,
                }),
                ..GuestFeatures::default()
            },
        };
        let mut out = String::new();
        guest.write_xml(&mut out);
        let expected = "  <guest>
    <os_type>hvm</os_type>
    <arch name='i686'>
      <wordsize>32</wordsize>
      <emulator>/usr/bin/qemu-system-i386</emulator>
      <machine maxCpus='255'>pc-0.11</machine>
      <machine canonical='pc-0.11' maxCpus='255'>pc</machine>
      <machine maxCpus='255'>pc-0.10</machine>
      <machine maxCpus='1'>isapc</machine>
      <domain type='qemu'/>
      <domain type='kvm'>
        <emulator>/usr/bin/qemu-system-i386</emulator>
        <machine maxCpus='255'>pc-0.11</machine>
        <machine canonical='pc-0.11' maxCpus='255'>pc</machine>
        <machine maxCpus='255'>pc-0.10</machine>
        <machine maxCpus='1'>isapc</machine>
      </domain>
    </arch>
    <features>
      <pae/>
      <nonpae/>
      <acpi default='on' toggle='yes'/>
      <apic default='on' toggle='no'/>
    </features>
  </guest>
";
        assert_eq!(out, expected);
    }

    #[test]
    fn deprecated_machines_and_toggles() {
        let guest = Guest {
            os_type: "hvm".into(),
            arch: "x86_64".into(),
            wordsize: 64,
            emulator: "/usr/bin/qemu-system-x86_64".into(),
            machines: vec![GuestMachine {
                name: "pc-i440fx-1.4".into(),
                canonical: None,
                max_cpus: 255,
                deprecated: true,
            }],
            domains: vec![GuestDomain {
                virt_type: "qemu".into(),
                ..GuestDomain::default()
            }],
            features: GuestFeatures {
                cpuselection: true,
                deviceboot: true,
                disksnapshot: Some(Toggle {
                    default_on: true,
                    toggle: false,
                }),
                ..GuestFeatures::default()
            },
            ..Guest::default()
        };
        let mut out = String::new();
        guest.write_xml(&mut out);
        assert!(
            out.contains("      <machine maxCpus='255' deprecated='yes'>pc-i440fx-1.4</machine>\n")
        );
        assert!(out.ends_with(
            "    <features>\n      <cpuselection/>\n      <deviceboot/>\n      <disksnapshot default='on' toggle='no'/>\n    </features>\n  </guest>\n"
        ));
    }
}
