use super::*;
use oxvirt_xml::ErrorCode;

fn read(xml: &str) -> Result<Features> {
    Features::from_element(&oxvirt_xml::parse(xml)?, &mut Context::default())
}

/// Formats as inside a domain, where `<features>` sits one level down.
fn write(f: &Features) -> String {
    let domain = Element::new("domain").with_child(f.to_element());
    oxvirt_xml::to_string(&domain)
        .lines()
        .filter(|l| *l != "<domain>" && *l != "</domain>")
        .map(|l| format!("{}\n", &l[2..]))
        .collect()
}

fn assert_round_trip(xml: &str) {
    let f = read(xml).unwrap();
    assert_eq!(write(&f), xml);
    assert_eq!(read(&write(&f)).unwrap(), f);
}

#[test]
fn libvirt_output_is_written_back_unchanged() {
    assert_round_trip(
        "<features>\n  <acpi/>\n  <hyperv mode='custom'>\n    <relaxed state='on'/>\n    \
         <vapic state='on'/>\n    <spinlocks state='on' retries='12287'/>\n    <vpindex state='on'/>\n    \
         <runtime state='on'/>\n    <synic state='on'/>\n    <stimer state='on'>\n      \
         <direct state='on'/>\n    </stimer>\n    <reset state='on'/>\n    \
         <vendor_id state='on' value='KVM Hv'/>\n    <frequencies state='on'/>\n    \
         <reenlightenment state='on'/>\n    <tlbflush state='on'/>\n    <ipi state='on'/>\n    \
         <evmcs state='on'/>\n    <avic state='on'/>\n  </hyperv>\n</features>\n",
    );
    assert_round_trip(
        "<features>\n  <acpi/>\n  <hyperv mode='passthrough'>\n  </hyperv>\n</features>\n",
    );
    assert_round_trip(
        "<features>\n  <hpt resizing='required'>\n    <maxpagesize unit='KiB'>1048576</maxpagesize>\n  \
         </hpt>\n  <htm state='on'/>\n  <nested-hv state='off'/>\n  <ccf-assist state='on'/>\n  \
         <cfpc value='fixed'/>\n  <sbbc value='broken'/>\n  <ibs value='fixed-ccd'/>\n</features>\n",
    );
    assert_round_trip(
        "<features>\n  <smm state='on'>\n    <tseg unit='MiB'>48</tseg>\n  </smm>\n</features>\n",
    );
    assert_round_trip(
        "<features>\n  <acpi/>\n  <apic eoi='on'/>\n  <pae/>\n  <hap state='off'/>\n  <viridian/>\n  \
         <privnet/>\n  <kvm>\n    <hidden state='on'/>\n    <hint-dedicated state='on'/>\n    \
         <poll-control state='on'/>\n    <pv-ipi state='off'/>\n    <dirty-ring state='on' size='4096'/>\n  \
         </kvm>\n  <pvspinlock state='on'/>\n  <pmu state='off'/>\n  <vmport state='off'/>\n  \
         <gic version='3'/>\n  <ioapic driver='qemu'/>\n  <vmcoreinfo state='on'/>\n  \
         <msrs unknown='ignore'/>\n  <tcg>\n    <tb-cache unit='KiB'>131072</tb-cache>\n  </tcg>\n</features>\n",
    );
    assert_round_trip(
        "<features>\n  <capabilities policy='deny'>\n    <chown state='on'/>\n    <kill state='off'/>\n  \
         </capabilities>\n  <xen>\n    <e820_host state='on'/>\n    <passthrough state='on' mode='sync_pt'/>\n  \
         </xen>\n</features>\n",
    );
}

#[test]
fn features_are_written_in_libvirts_order_with_their_state() {
    let f = read(
        "<features><pmu/><gic/><apic/><acpi/><smm><tseg unit='KiB'>16384</tseg></smm>\
         <hyperv><vapic state='on'/><relaxed state='on'/></hyperv></features>",
    )
    .unwrap();
    assert_eq!(
        write(&f),
        "<features>\n  <acpi/>\n  <apic/>\n  <hyperv mode='custom'>\n    <relaxed state='on'/>\n    \
         <vapic state='on'/>\n  </hyperv>\n  <pmu state='on'/>\n  <gic/>\n  <smm state='on'>\n    \
         <tseg unit='MiB'>16</tseg>\n  </smm>\n</features>\n"
    );
}

#[test]
fn what_libvirt_drops_is_dropped() {
    let f = read(
        "<features><ioapic/><cfpc/><hpt/><tcg/><capabilities policy='default'/>\
         <smm state='off'><tseg>4</tseg></smm><hyperv><spinlocks state='off' retries='1'/></hyperv></features>",
    )
    .unwrap();
    assert_eq!(
        write(&f),
        "<features>\n  <hyperv mode='custom'>\n    <spinlocks state='off'/>\n  </hyperv>\n  \
         <smm state='off'/>\n</features>\n"
    );
    assert!(read("<features><ioapic/><capabilities/></features>")
        .unwrap()
        .is_empty());
    assert!(!read("<features><acpi/></features>").unwrap().is_empty());
}

#[test]
fn parse_errors_use_libvirts_words() {
    let cases: &[(&str, ErrorCode, &str)] = &[
        (
            "<features><gic version='none'/></features>",
            ErrorCode::XmlError,
            "Invalid value for attribute 'version' in element 'gic': 'none'.",
        ),
        (
            "<features><foo/></features>",
            ErrorCode::ConfigUnsupported,
            "unexpected feature 'foo'",
        ),
        (
            "<features><htm/></features>",
            ErrorCode::XmlError,
            "Missing required attribute 'state' in element 'htm'",
        ),
        (
            "<features><hyperv mode='none'/></features>",
            ErrorCode::XmlError,
            "Invalid value for attribute 'mode' in element 'hyperv': 'none'.",
        ),
        (
            "<features><hyperv><foo state='on'/></hyperv></features>",
            ErrorCode::ConfigUnsupported,
            "unsupported HyperV Enlightenment feature: foo",
        ),
        (
            "<features><hyperv><spinlocks state='on' retries='100'/></hyperv></features>",
            ErrorCode::XmlError,
            "HyperV spinlock retry count must be at least 4095",
        ),
        (
            "<features><hyperv><vendor_id state='on'/></hyperv></features>",
            ErrorCode::XmlError,
            "missing 'value' attribute for HyperV feature 'vendor_id'",
        ),
        (
            "<features><hyperv><vendor_id state='on' value='1234567890123'/></hyperv></features>",
            ErrorCode::XmlError,
            "HyperV vendor_id value must not be more than 12 characters.",
        ),
        (
            "<features><hyperv><stimer state='on'><x/></stimer></hyperv></features>",
            ErrorCode::ConfigUnsupported,
            "unsupported Hyper-V stimer feature: x",
        ),
        (
            "<features><kvm><dirty-ring state='on' size='1000'/></kvm></features>",
            ErrorCode::XmlError,
            "dirty ring must be power of 2 and ranges [1024, 65536]",
        ),
        (
            "<features><kvm><cold state='on'/></kvm></features>",
            ErrorCode::ConfigUnsupported,
            "unsupported KVM feature: cold",
        ),
        (
            "<features><capabilities><fly/></capabilities></features>",
            ErrorCode::ConfigUnsupported,
            "unexpected capability feature 'fly'",
        ),
        (
            "<features><hpt><maxpagesize unit='X'>1</maxpagesize></hpt></features>",
            ErrorCode::ConfigUnsupported,
            "Unable to parse HPT maxpagesize setting",
        ),
        (
            "<features><msrs/></features>",
            ErrorCode::XmlError,
            "Missing required attribute 'unknown' in element 'msrs'",
        ),
    ];
    for (xml, code, msg) in cases {
        let err = read(xml).unwrap_err();
        assert_eq!((err.code, err.message.as_str()), (*code, *msg), "{xml}");
    }
}

#[test]
fn comments_are_kept() {
    let f = read("<features><!-- x --><acpi/></features>").unwrap();
    assert!(write(&f).contains("<!-- x -->"));
}

#[test]
fn power_management() {
    let xml = "<pm>\n  <suspend-to-mem enabled='yes'/>\n  <suspend-to-disk enabled='no'/>\n</pm>\n";
    let pm = Pm::from_element(&oxvirt_xml::parse(xml).unwrap(), &mut Context::default()).unwrap();
    assert_eq!(oxvirt_xml::to_string(&pm.to_element()), xml);
    let pm = Pm::from_element(
        &oxvirt_xml::parse("<pm><suspend-to-disk enabled='no'/><suspend-to-mem/></pm>").unwrap(),
        &mut Context::default(),
    )
    .unwrap();
    assert_eq!(
        oxvirt_xml::to_string(&pm.to_element()),
        "<pm>\n  <suspend-to-disk enabled='no'/>\n</pm>\n"
    );
    let err = Pm::from_element(
        &oxvirt_xml::parse("<pm><suspend-to-mem enabled='on'/></pm>").unwrap(),
        &mut Context::default(),
    )
    .unwrap_err();
    assert_eq!(
        err.message,
        "Invalid value for attribute 'enabled' in element 'suspend-to-mem': 'on'."
    );
    assert!(Pm::default().is_empty());
}
