//! SPICE and VNC servers of real guests run by `QemuDriver` (under TCG, no disk: the
//! firmware just waits): the devices virt-install gives a Debian guest by default (SPICE
//! with its agent channel, audio and USB redirection, an HDA sound card, QXL video), the
//! automatic ports taken from 5900 up, written into the live definition, and freed when a
//! guest stops.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use common::{Reaper, Scratch};

use std::io::Read;
use std::net::TcpStream;
use std::path::Path;
use std::time::Duration;

use oxvirt_domain::driver::{DomainRef, Hypervisor};
use oxvirt_qemu::driver::QemuDriver;

/// Held by the tests that take ports, so that one's expectations about which port is free
/// are not upset by another running at the same time.
static PORTS: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());

fn have_qemu(test: &str) -> bool {
    common::usable(
        test,
        Path::new("/usr/bin/qemu-system-x86_64").exists(),
        "no /usr/bin/qemu-system-x86_64",
    )
}

/// What `virt-install --import --disk none --memory 128 --osinfo detect=on,require=off`
/// defines on Debian 12, on the `pc` machine and without a network.
fn spice_xml(name: &str) -> String {
    format!(
        "<domain type='qemu'><name>{name}</name><memory>131072</memory>\
         <currentMemory>131072</currentMemory><vcpu>1</vcpu>\
         <os><type arch='x86_64' machine='pc'>hvm</type><boot dev='hd'/></os>\
         <features><acpi/><apic/><vmport state='off'/></features>\
         <clock offset='utc'><timer name='rtc' tickpolicy='catchup'/>\
         <timer name='pit' tickpolicy='delay'/><timer name='hpet' present='no'/></clock>\
         <pm><suspend-to-mem enabled='no'/><suspend-to-disk enabled='no'/></pm>\
         <devices><emulator>/usr/bin/qemu-system-x86_64</emulator>\
         <controller type='usb' model='ich9-ehci1'/>\
         <controller type='usb' model='ich9-uhci1'><master startport='0'/></controller>\
         <controller type='usb' model='ich9-uhci2'><master startport='2'/></controller>\
         <controller type='usb' model='ich9-uhci3'><master startport='4'/></controller>\
         <console type='pty'/>\
         <channel type='spicevmc'><target type='virtio' name='com.redhat.spice.0'/></channel>\
         <input type='tablet' bus='usb'/>\
         <graphics type='spice' port='-1' tlsPort='-1' autoport='yes'>\
         <image compression='off'/></graphics>\
         <sound model='ich6'/><video><model type='qxl'/></video>\
         <redirdev bus='usb' type='spicevmc'/><redirdev bus='usb' type='spicevmc'/>\
         </devices></domain>"
    )
}

fn vnc_xml(name: &str) -> String {
    format!(
        "<domain type='qemu'><name>{name}</name><memory>131072</memory><vcpu>1</vcpu>\
         <os><type arch='x86_64' machine='pc'>hvm</type></os>\
         <devices><graphics type='vnc' port='-1' autoport='yes'/>\
         <video><model type='vga'/></video></devices></domain>"
    )
}

/// The port and legacy listen address of the first `<graphics>` of a live definition, and
/// its `<listen>` element.
fn graphics_of(xml: &str) -> (u16, String, String) {
    let start = xml.find("<graphics ").expect("graphics");
    let tag = &xml[start..start + xml[start..].find('>').unwrap()];
    let attr = |name: &str| {
        tag.split(&format!(" {name}='"))
            .nth(1)
            .and_then(|r| r.split('\'').next())
            .unwrap_or_else(|| panic!("{name} in {tag}"))
            .to_string()
    };
    assert_eq!(attr("autoport"), "yes", "{tag}");
    let rest = &xml[start..];
    let listen = rest
        .find("<listen ")
        .map(|i| rest[i..i + rest[i..].find("/>").unwrap() + 2].to_string())
        .expect("listen");
    (attr("port").parse().unwrap(), attr("listen"), listen)
}

async fn start(driver: &QemuDriver, xml: &str, reaper: &mut Reaper) -> (DomainRef, String) {
    let dom = driver.define_xml(xml, 0).await.unwrap();
    driver.create(&dom, 0).await.unwrap();
    reaper.0 = driver.running_pids();
    let live = driver.xml_desc(&dom, 0).await.unwrap();
    (dom, live)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn spice_and_vnc_guests_take_and_free_display_ports() {
    if !have_qemu("spice_and_vnc_guests_take_and_free_display_ports") {
        return;
    }
    let _ports = PORTS.lock().await;
    let scratch = Scratch::new("graphics", "ports");
    let driver = QemuDriver::open(scratch.config()).await.unwrap();
    let mut reaper = Reaper(Vec::new());

    // virt-install's default devices start; the SPICE server listens on its port.
    let (d1, live1) = start(&driver, &spice_xml("gs1"), &mut reaper).await;
    let (p1, listen1, el1) = graphics_of(&live1);
    assert!(p1 >= 5900, "{live1}");
    assert_eq!(listen1, "127.0.0.1");
    assert_eq!(el1, "<listen type='address' address='127.0.0.1'/>");
    assert!(live1.contains("<audio id='1' type='spice'/>"), "{live1}");
    drop(TcpStream::connect(("127.0.0.1", p1)).expect("SPICE port"));
    let log = std::fs::read_to_string(scratch.config().log_path("gs1")).unwrap();
    for want in [
        "-chardev spicevmc,id=charchannel0,name=vdagent",
        "-audiodev {\"id\":\"audio1\",\"driver\":\"spice\"}",
        &format!(
            "-spice port={p1},addr=127.0.0.1,disable-ticketing=on,image-compression=off,\
             seamless-migration=on"
        ),
        "-device intel-hda,id=sound0,bus=pci.0,addr=0x4",
        "-device hda-duplex,id=sound0-codec0,bus=sound0.0,cad=0,audiodev=audio1",
        "-chardev spicevmc,id=charredir0,name=usbredir",
        "-device usb-redir,chardev=charredir0,id=redir0,bus=usb.0,port=2",
        "-device usb-redir,chardev=charredir1,id=redir1,bus=usb.0,port=3",
    ] {
        assert!(log.contains(want), "{want} not in {log}");
    }

    // A second one takes a later port.
    let (d2, live2) = start(&driver, &spice_xml("gs2"), &mut reaper).await;
    let (p2, _, _) = graphics_of(&live2);
    assert!(p2 > p1, "{p2} after {p1}");
    drop(TcpStream::connect(("127.0.0.1", p2)).expect("second SPICE port"));

    // Stopping the first frees its port: a VNC guest takes it, and speaks RFB there.
    driver.destroy(&d1, 0).await.unwrap();
    let inactive = driver.xml_desc(&d1, 0).await.unwrap();
    assert!(!inactive.contains(&format!("port='{p1}'")), "{inactive}");
    let (d3, live3) = start(&driver, &vnc_xml("gv3"), &mut reaper).await;
    let (p3, listen3, el3) = graphics_of(&live3);
    assert_eq!(p3, p1, "{live3}");
    assert_eq!(listen3, "127.0.0.1");
    assert_eq!(el3, "<listen type='address' address='127.0.0.1'/>");
    let mut rfb = TcpStream::connect(("127.0.0.1", p3)).expect("VNC port");
    rfb.set_read_timeout(Some(Duration::from_secs(20))).unwrap();
    let mut banner = [0u8; 12];
    rfb.read_exact(&mut banner).unwrap();
    assert_eq!(&banner[..4], b"RFB ");
    drop(rfb);

    // A second VNC guest skips both ports in use; its WebSocket gets a port from 5700.
    let xml = vnc_xml("gv4").replace("autoport='yes'/>", "autoport='yes' websocket='-1'/>");
    let (d4, live4) = start(&driver, &xml, &mut reaper).await;
    let (p4, _, _) = graphics_of(&live4);
    assert!(p4 != p1 && p4 != p2, "{p4} with {p1} and {p2} in use");
    let ws: u16 = live4
        .split(" websocket='")
        .nth(1)
        .and_then(|r| r.split('\'').next())
        .expect("websocket port")
        .parse()
        .unwrap();
    assert!((5700..5900).contains(&ws), "{live4}");
    drop(TcpStream::connect(("127.0.0.1", ws)).expect("WebSocket port"));

    for d in [&d2, &d3, &d4] {
        driver.destroy(d, 0).await.unwrap();
    }
    for d in [&d1, &d2, &d3, &d4] {
        driver.undefine(d, 0).await.unwrap();
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn refuses_spice_tls_and_gl() {
    if !have_qemu("refuses_spice_tls_and_gl") {
        return;
    }
    let scratch = Scratch::new("graphics", "refuse");
    let driver = QemuDriver::open(scratch.config()).await.unwrap();
    let xml = spice_xml("gt1").replace(
        "<graphics type='spice' port='-1' tlsPort='-1' autoport='yes'>",
        "<graphics type='spice' port='5999' tlsPort='5998' autoport='no'>",
    );
    let dom = driver.define_xml(&xml, 0).await.unwrap();
    let err = driver.create(&dom, 0).await.expect_err("TLS");
    assert_eq!(err.code, oxvirt_xml::ErrorCode::ConfigUnsupported, "{err}");
    assert_eq!(
        err.message,
        "unsupported configuration: spice TLS port set in XML configuration, but TLS is \
         disabled in qemu.conf"
    );
    assert!(driver.running_pids().is_empty());
    driver.undefine(&dom, 0).await.unwrap();

    let xml = spice_xml("gt2").replace(
        "<image compression='off'/>",
        "<image compression='off'/><gl enable='yes'/>",
    );
    let dom = driver.define_xml(&xml, 0).await.unwrap();
    let err = driver.create(&dom, 0).await.expect_err("GL");
    assert_eq!(err.code, oxvirt_xml::ErrorCode::ConfigUnsupported, "{err}");
    assert_eq!(
        err.message, "unsupported configuration: SPICE OpenGL",
        "{err}"
    );
    assert!(driver.running_pids().is_empty());
    driver.undefine(&dom, 0).await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn vnc_on_a_unix_socket_takes_no_port() {
    if !have_qemu("vnc_on_a_unix_socket_takes_no_port") {
        return;
    }
    let scratch = Scratch::new("graphics", "socket");
    let driver = QemuDriver::open(scratch.config()).await.unwrap();
    let mut reaper = Reaper(Vec::new());
    let sock = scratch.0.join("vnc.sock");
    let xml = vnc_xml("gu1").replace(
        "<graphics type='vnc' port='-1' autoport='yes'/>",
        &format!(
            "<graphics type='vnc'><listen type='socket' socket='{}'/></graphics>",
            sock.display()
        ),
    );
    let (dom, live) = start(&driver, &xml, &mut reaper).await;
    assert!(!live.contains(" port="), "{live}");
    assert!(
        live.contains(&format!(
            "<listen type='socket' socket='{}'/>",
            sock.display()
        )),
        "{live}"
    );
    let mut rfb = std::os::unix::net::UnixStream::connect(&sock).expect("VNC socket");
    rfb.set_read_timeout(Some(Duration::from_secs(20))).unwrap();
    let mut banner = [0u8; 4];
    rfb.read_exact(&mut banner).unwrap();
    assert_eq!(&banner, b"RFB ");
    driver.destroy(&dom, 0).await.unwrap();
    driver.undefine(&dom, 0).await.unwrap();
}

/// The `-spice` option of QEMU 7.2 as Debian's libvirtd 9.0 writes it (`virsh
/// domxml-to-native qemu-argv`) for a server with every setting built here.
#[test]
fn spice_options_in_libvirts_order() {
    use oxvirt_qemu::command::{build, BuildContext, Caps};
    let xml = vnc_xml("go1").replace(
        "<graphics type='vnc' port='-1' autoport='yes'/>",
        "<graphics type='spice' port='5901' autoport='no' listen='127.0.0.1' \
         defaultMode='insecure'><image compression='off'/><mouse mode='server'/>\
         <channel name='inputs' mode='insecure'/><clipboard copypaste='no'/>\
         <filetransfer enable='no'/><streaming mode='filter'/>\
         <playback compression='on'/></graphics>",
    );
    let domain = oxvirt_domain::Domain::parse(&xml).unwrap().domain;
    let mut ctx = BuildContext::libvirt_test("go1");
    ctx.caps = Caps::qemu_7_2();
    let argv = build(&domain, &ctx).unwrap();
    let spice = argv.iter().position(|a| a == "-spice").expect("-spice");
    assert_eq!(
        argv[spice + 1],
        "port=5901,addr=127.0.0.1,agent-mouse=off,disable-ticketing=on,\
         plaintext-channel=default,plaintext-channel=inputs,image-compression=off,\
         playback-compression=on,streaming-video=filter,disable-copy-paste=on,\
         disable-agent-file-xfer=on,seamless-migration=on"
    );
}

/// The security types a VNC server offers, after the RFB 3.8 version handshake.
fn vnc_security_types(mut s: impl Read + std::io::Write) -> Vec<u8> {
    let mut banner = [0u8; 12];
    s.read_exact(&mut banner).unwrap();
    assert_eq!(&banner[..4], b"RFB ");
    s.write_all(b"RFB 003.008\n").unwrap();
    let mut n = [0u8; 1];
    s.read_exact(&mut n).unwrap();
    let mut types = vec![0u8; usize::from(n[0])];
    s.read_exact(&mut types).unwrap();
    types
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn vnc_and_spice_passwords_are_set_over_the_monitor() {
    if !have_qemu("vnc_and_spice_passwords_are_set_over_the_monitor") {
        return;
    }
    let _ports = PORTS.lock().await;
    let scratch = Scratch::new("graphics", "passwd");
    let driver = QemuDriver::open(scratch.config()).await.unwrap();
    let mut reaper = Reaper(Vec::new());
    let xml = vnc_xml("gp1").replace(
        "<graphics type='vnc' port='-1' autoport='yes'/>",
        "<graphics type='vnc' port='-1' autoport='yes' passwd='s3cret' keymap='de'/>",
    );
    let (dom, live) = start(&driver, &xml, &mut reaper).await;
    let (port, _, _) = graphics_of(&live);
    let log = std::fs::read_to_string(scratch.config().log_path("gp1")).unwrap();
    assert!(log.contains(",password=on,audiodev=audio1"), "{log}");
    assert!(log.contains("-k de"), "{log}");
    let s = TcpStream::connect(("127.0.0.1", port)).expect("VNC port");
    s.set_read_timeout(Some(Duration::from_secs(20))).unwrap();
    // Type 2 is VNC authentication (a password); without one QEMU offers 1 (none).
    assert_eq!(vnc_security_types(s), vec![2]);
    driver.destroy(&dom, 0).await.unwrap();

    let xml = vnc_xml("gp2");
    let (dom2, live) = start(&driver, &xml, &mut reaper).await;
    let (port, _, _) = graphics_of(&live);
    let s = TcpStream::connect(("127.0.0.1", port)).expect("VNC port");
    s.set_read_timeout(Some(Duration::from_secs(20))).unwrap();
    assert_eq!(vnc_security_types(s), vec![1]);
    driver.destroy(&dom2, 0).await.unwrap();

    let xml = spice_xml("gp3").replace(
        "autoport='yes'>",
        "autoport='yes' passwd='s3cret' passwdValidTo='2099-01-01T00:00:00'>",
    );
    let (dom3, _) = start(&driver, &xml, &mut reaper).await;
    let log = std::fs::read_to_string(scratch.config().log_path("gp3")).unwrap();
    assert!(!log.contains("disable-ticketing"), "{log}");
    driver.destroy(&dom3, 0).await.unwrap();
    for d in [&dom, &dom2, &dom3] {
        driver.undefine(d, 0).await.unwrap();
    }
}
