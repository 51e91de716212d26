//! Tests of the whole command line on small inline domains.

use oxvirt_domain::Domain;

use super::{build, env, format_args, BuildContext, Caps, Monitor};

fn argv_of(xml: &str, ctx: &BuildContext) -> Vec<String> {
    let domain = Domain::parse(xml).expect("parse").domain;
    build(&domain, ctx).expect("build")
}

const GUEST: &str = "<domain type='qemu'><name>g</name>\
    <uuid>c7a5fdbd-edaf-9455-926a-d65c16db1809</uuid>\
    <memory unit='KiB'>219100</memory><vcpu>2</vcpu>\
    <os><type arch='x86_64' machine='pc'>hvm</type><boot dev='hd'/></os>\
    <devices><emulator>/usr/bin/qemu-system-x86_64</emulator>\
    <disk type='file' device='disk'><driver name='qemu' type='qcow2' cache='none'/>\
    <source file='/var/lib/g.qcow2'/><target dev='vda' bus='virtio'/></disk>\
    <interface type='user'><mac address='52:54:00:00:00:01'/><model type='virtio'/></interface>\
    <serial type='pty'/></devices></domain>";

#[test]
fn builds_a_small_guest_in_libvirt_order() {
    let ctx = BuildContext::libvirt_test("g");
    let text = format_args(&ctx.env(), &argv_of(GUEST, &ctx));
    let tail = text.split_once("-boot strict=on \\\n").expect("boot").1;
    assert_eq!(
        tail,
        "-usb \\\n\
         -blockdev '{\"driver\":\"file\",\"filename\":\"/var/lib/g.qcow2\",\
         \"node-name\":\"libvirt-1-storage\",\"cache\":{\"direct\":true,\"no-flush\":false},\
         \"auto-read-only\":true,\"discard\":\"unmap\"}' \\\n\
         -blockdev '{\"node-name\":\"libvirt-1-format\",\"read-only\":false,\
         \"cache\":{\"direct\":true,\"no-flush\":false},\"driver\":\"qcow2\",\
         \"file\":\"libvirt-1-storage\"}' \\\n\
         -device virtio-blk-pci,bus=pci.0,addr=0x3,drive=libvirt-1-format,id=virtio-disk0,\
         bootindex=1,write-cache=on \\\n\
         -netdev user,id=hostnet0 \\\n\
         -device virtio-net-pci,netdev=hostnet0,id=net0,mac=52:54:00:00:00:01,bus=pci.0,\
         addr=0x2 \\\n\
         -chardev pty,id=charserial0 \\\n\
         -device isa-serial,chardev=charserial0,id=serial0,index=0 \\\n\
         -audiodev '{\"id\":\"audio1\",\"driver\":\"none\"}' \\\n\
         -device virtio-balloon-pci,id=balloon0,bus=pci.0,addr=0x4 \\\n\
         -msg timestamp=on\n"
    );
    assert!(text.contains("-m 214 \\\n"));
    assert!(text.contains("-smp 2,sockets=2,cores=1,threads=1 \\\n"));
}

#[test]
fn qemu_7_2_caps_change_machine_smp_and_usb() {
    let ctx = BuildContext {
        emulator: "/usr/bin/qemu-system-x86_64".to_string(),
        private_dir: "/var/lib/libvirt/qemu/domain-1-g".to_string(),
        monitor: Monitor::Path("/run/g.monitor".to_string()),
        caps: Caps::qemu_7_2(),
        spice_tls_x509_dir: None,
        incoming: None,
    };
    let argv = argv_of(GUEST, &ctx);
    let pos = |s: &str| argv.iter().position(|a| a == s).expect(s);
    assert_eq!(
        argv[pos("-machine") + 1],
        "pc,usb=off,dump-guest-core=off,acpi=off"
    );
    assert_eq!(
        argv[pos("-smp") + 1],
        "2,sockets=2,dies=1,cores=1,threads=1"
    );
    assert_eq!(
        argv[pos("-chardev") + 1],
        "socket,id=charmonitor,path=/run/g.monitor,server=on,wait=off"
    );
    assert!(!argv.iter().any(|a| a == "-no-acpi" || a == "-usb"));
    assert!(argv
        .iter()
        .any(|a| a == "piix3-usb-uhci,id=usb,bus=pci.0,addr=0x1.0x2"));
    let domain = Domain::parse(GUEST).expect("parse").domain;
    assert_eq!(env(&domain, &ctx)[2].1, "/var/lib/libvirt/qemu/domain-1-g");
}

#[test]
fn refuses_what_it_does_not_build() {
    let xml = GUEST.replace("<serial type='pty'/>", "<watchdog model='i6300esb'/>");
    let domain = Domain::parse(&xml).expect("parse").domain;
    let err = build(&domain, &BuildContext::libvirt_test("g")).expect_err("watchdog");
    assert_eq!(
        err.to_string(),
        "unsupported configuration: watchdog devices"
    );
    let xml = GUEST.replace(
        "<serial type='pty'/>",
        "<graphics type='spice' tlsPort='5901' autoport='no'/>",
    );
    let domain = Domain::parse(&xml).expect("parse").domain;
    let mut ctx = BuildContext::libvirt_test("g");
    ctx.spice_tls_x509_dir = None;
    let err = build(&domain, &ctx).expect_err("tls");
    assert_eq!(
        err.to_string(),
        "unsupported configuration: spice TLS port set in XML configuration, but TLS is \
         disabled in qemu.conf"
    );
}

#[test]
fn numa_cells_of_new_machine_types_get_memory_backends() {
    // QEMU 7.2 refuses `-numa node,mem=` for machine types from 5.1 on; libvirt then backs
    // each cell with `memory-backend-ram,id=ram-nodeN` (the RAM block a migration names).
    let numa = |machine: &str| {
        let xml = GUEST
            .replace("machine='pc'", &format!("machine='{machine}'"))
            .replace(
                "<os>",
                "<cpu><numa><cell id='0' cpus='0' memory='131072' unit='KiB'/>\
                 <cell id='1' cpus='1' memory='87028' unit='KiB'/></numa></cpu><os>",
            );
        let ctx = BuildContext {
            caps: Caps::qemu_7_2(),
            ..BuildContext::libvirt_test("g")
        };
        let argv = argv_of(&xml, &ctx);
        argv.windows(2)
            .filter(|w| w[0] == "-numa" || w[1].starts_with("memory-backend-ram"))
            .map(|w| w[1].clone())
            .collect::<Vec<_>>()
    };
    let modern = [
        "memory-backend-ram,id=ram-node0,size=134217728",
        "node,nodeid=0,cpus=0,memdev=ram-node0",
        "memory-backend-ram,id=ram-node1,size=89128960",
        "node,nodeid=1,cpus=1,memdev=ram-node1",
    ];
    assert_eq!(numa("pc-i440fx-7.2"), modern);
    assert_eq!(numa("pc"), modern);
    assert_eq!(numa("pc-i440fx-5.1").len(), 4);
    assert_eq!(
        numa("pc-i440fx-5.0"),
        [
            "node,nodeid=0,cpus=0,mem=128",
            "node,nodeid=1,cpus=1,mem=85"
        ]
    );
    assert_eq!(
        numa("pc-1.0"),
        [
            "node,nodeid=0,cpus=0,mem=128",
            "node,nodeid=1,cpus=1,mem=85"
        ]
    );
}
