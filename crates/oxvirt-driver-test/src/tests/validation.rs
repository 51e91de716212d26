//! What the test driver checks and fills in when it reads a definition, with libvirt 9.0's
//! codes, domains and words (python3-libvirt on `test:///default`), and what an attached
//! disk gets from the post-parse step.

use oxvirt_domain::driver::flags::{affect, snapshot_create};
use oxvirt_domain::driver::{EventKind, Hypervisor};
use oxvirt_xml::{ErrorCode, ErrorDomain};

use super::{default_conn, drain, err};

fn domain(extra: &str, devices: &str) -> String {
    format!(
        "<domain type='test'><name>v</name><memory>1024</memory><os><type>hvm</type></os>\
         {extra}<devices>{devices}</devices></domain>"
    )
}

#[tokio::test]
async fn definitions_libvirt_refuses() {
    let conn = default_conn();
    let disk = |dev: &str, extra: &str| {
        format!("<disk type='file' device='{dev}'><source file='/a'/>{extra}</disk>")
    };
    let cases = [
        (
            domain("<on_poweroff>coredump-destroy</on_poweroff>", ""),
            ErrorCode::ConfigUnsupported,
            ErrorDomain::Domain,
            "unsupported configuration: Lifecycle event 'poweroff' doesn't support \
             'coredump-destroy' action",
        ),
        (
            domain("<on_reboot>coredump-restart</on_reboot>", ""),
            ErrorCode::ConfigUnsupported,
            ErrorDomain::Domain,
            "unsupported configuration: Lifecycle event 'reboot' doesn't support \
             'coredump-restart' action",
        ),
        (
            domain("<on_crash>x</on_crash>", ""),
            ErrorCode::ConfigUnsupported,
            ErrorDomain::Domain,
            "unsupported configuration: unknown on_crash action: x",
        ),
        (
            domain(
                "",
                "<disk type='file' device='disk'><source file='/a'/><target dev='vda'/>\
                 <alias name='ua-x'/></disk><shmem name='s'><alias name='ua-x'/></shmem>",
            ),
            ErrorCode::ConfigUnsupported,
            ErrorDomain::Domain,
            "unsupported configuration: non unique alias detected: ua-x",
        ),
        (
            domain("", &disk("floppy", "<target dev='hda'/>")),
            ErrorCode::InternalError,
            ErrorDomain::Domain,
            "internal error: Invalid floppy device name: hda",
        ),
        (
            domain("", &disk("floppy", "<target dev='fda' bus='ide'/>")),
            ErrorCode::InternalError,
            ErrorDomain::Domain,
            "internal error: Invalid bus type 'ide' for floppy disk",
        ),
        (
            domain(
                "",
                &disk(
                    "disk",
                    "<target dev='foo' bus='virtio'/>\
                     <address type='pci' domain='0' bus='0' slot='5' function='0'/>",
                ),
            ),
            ErrorCode::InternalError,
            ErrorDomain::Domain,
            "internal error: Invalid harddisk device name: foo",
        ),
        (
            domain("", &disk("disk", "<target dev='sda'/><wwn>zz</wwn>")),
            ErrorCode::InternalError,
            ErrorDomain::None,
            "internal error: Malformed wwn: zz",
        ),
        (
            domain("", "<shmem name='..'/>"),
            ErrorCode::ConfigUnsupported,
            ErrorDomain::Domain,
            "unsupported configuration: shmem name cannot be equal to '..'",
        ),
        (
            domain("", "<shmem name='x'><model type='bogus'/></shmem>"),
            ErrorCode::XmlError,
            ErrorDomain::Xml,
            "XML error: Invalid value for attribute 'type' in element 'model': 'bogus'.",
        ),
    ];
    for (xml, code, domain, message) in cases {
        assert_eq!(
            err(conn.define_xml(&xml, 0).await),
            (code, domain, message.to_string()),
            "{xml}"
        );
    }
}

/// What the QEMU driver alone refuses, the test driver takes.
#[tokio::test]
async fn definitions_only_qemu_refuses() {
    let conn = default_conn();
    let xml = domain(
        "",
        "<disk type='file' device='disk'><source file='/a'/><target dev='hda1'/></disk>\
         <disk type='file' device='disk'><source file='/b'/><target dev='vdb'/>\
         <vendor>ACME</vendor></disk>\
         <shmem name='s'><size unit='K'>512</size></shmem>",
    );
    let d = conn.define_xml(&xml, 0).await.unwrap();
    let out = conn.xml_desc(&d, 0).await.unwrap();
    assert!(out.contains(
        "      <target dev='hda1' bus='ide'/>\n      \
         <address type='drive' controller='0' bus='0' target='0' unit='0'/>\n"
    ));
    assert!(out.contains("      <vendor>ACME</vendor>\n"));
    assert!(out.contains(
        "    <shmem name='s'>\n      <model type='ivshmem'/>\n      \
         <size unit='K'>512</size>\n    </shmem>\n"
    ));
}

#[tokio::test]
async fn shared_memory_gets_its_model() {
    let conn = default_conn();
    let d = conn
        .define_xml(&domain("", "<shmem name='x' role='peer'/>"), 0)
        .await
        .unwrap();
    let out = conn.xml_desc(&d, 0).await.unwrap();
    assert!(
        out.contains(
            "  <devices>\n    <shmem name='x'>\n      <model type='ivshmem'/>\n    </shmem>\n"
        ),
        "{out}"
    );
}

/// The domain a redefined snapshot records is read with the test driver's defaults: an
/// i686 guest, a cirrus adapter for graphics, only user aliases (as libvirt 9.0 shows it).
#[tokio::test]
async fn a_redefined_snapshot_domain_gets_the_test_drivers_defaults() {
    let conn = default_conn();
    let d = conn.lookup_by_name("test").await.unwrap();
    let xml = "<domainsnapshot><name>s</name><state>running</state>\
               <creationTime>1</creationTime><domain type='test'><name>test</name>\
               <uuid>6695eb01-f6a4-8304-79aa-97f2502e193f</uuid><memory>1024</memory>\
               <os><type>hvm</type></os><devices><disk type='file' device='disk'>\
               <source file='/a'/><target dev='hda'/><alias name='ide0-0-0'/></disk>\
               <graphics type='vnc'/></devices></domain></domainsnapshot>";
    let s = conn
        .snapshot_create(&d, xml, snapshot_create::REDEFINE)
        .await
        .unwrap();
    let out = conn.snapshot_xml(&s, 0).await.unwrap();
    assert!(
        out.contains("      <type arch='i686'>hvm</type>\n"),
        "{out}"
    );
    assert!(out.contains("        <model type='cirrus' vram='16384' heads='1' primary='yes'/>\n"));
    assert!(!out.contains("ide0-0-0"));
    assert!(out.contains(
        "        <target dev='hda' bus='ide'/>\n        \
         <address type='drive' controller='0' bus='0' target='0' unit='0'/>\n"
    ));
}

/// An attached SCSI disk gets its drive address and its controller, live and persistent
/// alike, as libvirt's QEMU driver gives them (libvirt's test driver has no attach).
#[tokio::test]
async fn an_attached_scsi_disk_gets_its_address_and_controller() {
    let conn = default_conn();
    let d = conn.lookup_by_name("test").await.unwrap();
    let mut rx = conn.subscribe();
    let disk = "<disk type='file' device='disk'><source file='/s.img'/><target dev='sdb'/></disk>";
    conn.attach_device(&d, disk, affect::LIVE | affect::CONFIG)
        .await
        .unwrap();
    for flags in [0, 2] {
        let out = conn.xml_desc(&d, flags).await.unwrap();
        // (The live definition also shows the alias the QEMU driver gave the disk.)
        assert!(
            out.contains("      <target dev='sdb' bus='scsi'/>\n"),
            "{out}"
        );
        assert!(
            out.contains(
                "      <address type='drive' controller='0' bus='0' target='0' unit='1'/>\n    \
                 </disk>\n    <controller type='scsi' index='0'/>\n"
            ),
            "{out}"
        );
        assert!(
            out.contains("    <controller type='scsi' index='0'/>\n"),
            "{out}"
        );
    }
    let added: Vec<EventKind> = drain(&mut rx).into_iter().map(|e| e.kind).collect();
    assert_eq!(
        added,
        [EventKind::DeviceAdded {
            alias: "scsi0-0-1".into()
        }]
    );
}
