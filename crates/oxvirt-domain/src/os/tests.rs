use super::*;
use oxvirt_xml::ErrorCode;

fn read(xml: &str) -> Result<Os> {
    Os::from_element(&oxvirt_xml::parse(xml)?, &mut Context::default())
}

fn write(os: &Os) -> String {
    oxvirt_xml::to_string(&os.to_element())
}

fn assert_round_trip(xml: &str) {
    let os = read(xml).unwrap();
    assert_eq!(write(&os), xml);
    assert_eq!(read(&write(&os)).unwrap(), os);
}

#[test]
fn libvirt_output_is_written_back_unchanged() {
    assert_round_trip(
        "<os firmware='efi'>\n  <type arch='x86_64' machine='pc-q35-4.0'>hvm</type>\n  <firmware>\n    \
         <feature enabled='yes' name='enrolled-keys'/>\n    <feature enabled='yes' name='secure-boot'/>\n  \
         </firmware>\n  <boot dev='hd'/>\n</os>\n",
    );
    assert_round_trip(
        "<os>\n  <type arch='x86_64' machine='pc'>hvm</type>\n  \
         <loader readonly='yes' type='pflash'>/usr/share/OVMF/OVMF_CODE.fd</loader>\n  \
         <nvram type='file'>\n    <source file='/var/lib/libvirt/nvram/guest_VARS.fd'/>\n  </nvram>\n  \
         <boot dev='hd'/>\n</os>\n",
    );
    assert_round_trip(
        "<os>\n  <type arch='aarch64' machine='virt'>hvm</type>\n  <kernel>/aarch64.kernel</kernel>\n  \
         <initrd>/aarch64.initrd</initrd>\n  <cmdline>earlyprintk console=ttyAMA0,115200n8</cmdline>\n  \
         <dtb>/aarch64.dtb</dtb>\n  <acpi>\n    <table type='slic'>/var/lib/libvirt/acpi/slic.dat</table>\n  \
         </acpi>\n  <boot dev='cdrom'/>\n  <boot dev='hd'/>\n  <bootmenu enable='yes' timeout='3000'/>\n  \
         <bios useserial='yes' rebootTimeout='0'/>\n  <smbios mode='sysinfo'/>\n</os>\n",
    );
    assert_round_trip(
        "<os>\n  <type arch='x86_64'>exe</type>\n  <init>/bin/sh</init>\n  <initarg>-c</initarg>\n  \
         <initenv name='FOO'>bar</initenv>\n  <initdir>/root</initdir>\n  <inituser>root</inituser>\n  \
         <initgroup>root</initgroup>\n</os>\n",
    );
}

#[test]
fn children_are_written_in_libvirts_order() {
    let os = read(
        "<os><boot dev='network'/><smbios mode='host'/><kernel>/k</kernel><type>hvm</type>\
         <loader>/l</loader><bootmenu enable='no' timeout='5'/></os>",
    )
    .unwrap();
    assert_eq!(
        write(&os),
        "<os>\n  <type>hvm</type>\n  <loader>/l</loader>\n  <kernel>/k</kernel>\n  \
         <boot dev='network'/>\n  <bootmenu enable='no'/>\n  <smbios mode='host'/>\n</os>\n"
    );
}

#[test]
fn what_libvirt_drops_is_dropped() {
    let os = read(
        "<os><type>hvm</type><kernel></kernel><bootmenu timeout='10'/><smbios mode='none'/>\
         <boot dev='hd'/><boot dev='hd'/><boot dev='hd'/><boot dev='hd'/><boot dev='fd'/>\
         <firmware/></os>",
    )
    .unwrap();
    assert_eq!(os.kernel, None);
    assert_eq!(os.bootmenu, None);
    assert_eq!(os.smbios, None);
    assert_eq!(os.boot.len(), 4);
    assert!(os.firmware_features.is_empty());
}

#[test]
fn parse_errors_use_libvirts_words() {
    let cases: &[(&str, ErrorCode, &str)] = &[
        ("<os firmware='none'><type>hvm</type></os>", ErrorCode::XmlError, "unknown firmware value none"),
        ("<os><type>hvmx</type></os>", ErrorCode::ConfigUnsupported, "unknown OS type 'hvmx'"),
        ("<os><type arch='x86'>hvm</type></os>", ErrorCode::ConfigUnsupported, "Unknown architecture x86"),
        (
            "<os><type>hvm</type><boot dev='usb'/></os>",
            ErrorCode::XmlError,
            "Invalid value for attribute 'dev' in element 'boot': 'usb'.",
        ),
        (
            "<os><type>hvm</type><boot/></os>",
            ErrorCode::XmlError,
            "Missing required attribute 'dev' in element 'boot'",
        ),
        (
            "<os><type>hvm</type><bootmenu enable='yes' timeout='-1'/></os>",
            ErrorCode::XmlError,
            "Invalid value for attribute 'timeout' in element 'bootmenu': '-1'. Expected non-negative integer value",
        ),
        (
            "<os><type>hvm</type><smbios mode='x'/></os>",
            ErrorCode::ConfigUnsupported,
            "unknown smbios mode 'x'",
        ),
        (
            "<os><type>hvm</type><acpi><table>/x</table></acpi></os>",
            ErrorCode::XmlError,
            "Missing acpi table type",
        ),
        (
            "<os><type>hvm</type><acpi><table type='msdm'>/x</table></acpi></os>",
            ErrorCode::XmlError,
            "Unknown acpi table type: msdm",
        ),
        (
            "<os><type>exe</type><initenv>x</initenv></os>",
            ErrorCode::XmlError,
            "No name supplied for <initenv> element",
        ),
        (
            "<os><type>exe</type><initarg/></os>",
            ErrorCode::XmlError,
            "No data supplied for <initarg> element",
        ),
        (
            "<os firmware='efi'><type>hvm</type><firmware><feature name='secure-boot'/></firmware></os>",
            ErrorCode::XmlError,
            "Missing required attribute 'enabled' in element 'feature'",
        ),
    ];
    for (xml, code, msg) in cases {
        let err = read(xml).unwrap_err();
        assert_eq!((err.code, err.message.as_str()), (*code, *msg), "{xml}");
    }
}

#[test]
fn defaults_fill_arch_boot_device_and_loader_type() {
    let mut os = read("<os><type>hvm</type><loader>/bios.bin</loader></os>").unwrap();
    os.apply_defaults("x86_64", false);
    assert_eq!(
        write(&os),
        "<os>\n  <type arch='x86_64'>hvm</type>\n  <loader type='rom'>/bios.bin</loader>\n  \
         <boot dev='hd'/>\n</os>\n"
    );
    let mut os = read("<os><type arch='aarch64'>hvm</type></os>").unwrap();
    os.apply_defaults("x86_64", true);
    assert_eq!(os.arch.as_deref(), Some("aarch64"));
    assert!(os.boot.is_empty());
    let mut os = read("<os><type>exe</type><init>/bin/sh</init></os>").unwrap();
    os.apply_defaults("x86_64", false);
    assert!(os.boot.is_empty());
}

#[test]
fn validation_matches_libvirt() {
    let check = |xml: &str, device_boot: bool| {
        let mut os = read(xml).unwrap();
        os.apply_defaults("x86_64", device_boot);
        os.validate(device_boot).map_err(|e| (e.code, e.message))
    };
    assert_eq!(
        check(
            "<os><type>hvm</type><bootmenu enable='yes' timeout='65536'/></os>",
            false
        ),
        Err((
            ErrorCode::ConfigUnsupported,
            "invalid value for boot menu timeout, must be in range [0,65535]".to_string()
        ))
    );
    assert!(check(
        "<os><type>hvm</type><bootmenu enable='yes' timeout='65535'/></os>",
        false
    )
    .is_ok());
    assert_eq!(
        check("<os><type>hvm</type><bios rebootTimeout='-2'/></os>", false)
            .unwrap_err()
            .1,
        "invalid value for rebootTimeout, must be in range [-1,65535]"
    );
    assert_eq!(
        check("<os><type>hvm</type><boot dev='hd'/></os>", true)
            .unwrap_err()
            .1,
        "per-device boot elements cannot be used together with os/boot elements"
    );
    assert_eq!(
        check("<os><type>exe</type></os>", false).unwrap_err().1,
        "init binary must be specified"
    );
    assert_eq!(
        check(
            "<os><type>hvm</type><loader readonly='yes' type='pflash'/></os>",
            false
        )
        .unwrap_err()
        .1,
        "no loader path specified and firmware auto selection disabled"
    );
    assert_eq!(
        check(
            "<os><type>hvm</type><loader stateless='no'>/b</loader></os>",
            false
        )
        .unwrap_err()
        .1,
        "Only pflash loader type permits NVRAM"
    );
    assert_eq!(
        check(
            "<os firmware='bios'><type>hvm</type><nvram>/x</nvram></os>",
            false
        )
        .unwrap_err()
        .1,
        "firmware type 'bios' does not support nvram"
    );
    assert_eq!(
        check(
            "<os><type>hvm</type><loader stateless='yes' type='pflash'>/c</loader><nvram>/v</nvram></os>",
            false
        )
        .unwrap_err()
        .1,
        "NVRAM is not permitted when loader is stateless"
    );
    assert!(check(
        "<os firmware='efi'><type>hvm</type><loader secure='yes'/></os>",
        false
    )
    .is_ok());
}

#[test]
fn unknown_content_is_kept_in_place() {
    assert_round_trip(
        "<os>\n  <type>hvm</type>\n  <!-- note -->\n  <boot dev='hd'/>\n  <extra/>\n</os>\n",
    );
}

#[test]
fn a_type_is_required_without_a_bootloader() {
    let os = read("<os><boot dev='hd'/></os>").unwrap();
    assert_eq!(
        Os::check_type(Some(&os), false).unwrap_err().message,
        "an os <type> must be specified"
    );
    assert!(Os::check_type(None, true).is_ok());
    assert!(Os::check_type(Some(&read("<os><type>hvm</type></os>").unwrap()), false).is_ok());
}
