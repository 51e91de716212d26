# Bad input through python3-libvirt: URI KERNEL INITRD MISSINGDISK
# Each case prints "CASE: code domain message" (or "CASE: ok") then what runs; the daemon
# must still answer after each.
import sys
import libvirt

uri, kernel, initrd, missing = sys.argv[1:5]
conn = libvirt.open(uri)
U1 = "0b3c8b1e-5d55-4b7e-9b1e-0c1a2b3c4d5e"
U2 = "6f1e2d3c-4b5a-4978-8a6b-5c4d3e2f1a0b"


def xml(name, uuid=None, typ="qemu", devices=""):
    return (
        "<domain type='%s'><name>%s</name>%s<memory unit='MiB'>256</memory><vcpu>1</vcpu>"
        "<os><type arch='x86_64' machine='pc'>hvm</type><kernel>%s</kernel>"
        "<initrd>%s</initrd><cmdline>console=ttyS0 panic=-1</cmdline></os>"
        "<features><acpi/></features><devices>%s<serial type='pty'/><console type='pty'/>"
        "</devices></domain>"
        % (typ, name, "<uuid>%s</uuid>" % uuid if uuid else "", kernel, initrd, devices)
    )


def attempt(label, fn):
    try:
        fn()
        print("%s: ok" % label)
    except libvirt.libvirtError as e:
        print("%s: %d %d %s" % (label, e.get_error_code(), e.get_error_domain(),
                                e.get_error_message()))
    print("  running: %s, defined: %s" % (sorted(conn.listDomainsID()),
                                           sorted(conn.listDefinedDomains())))
    sys.stdout.flush()


attempt("missing emulator",
        lambda: conn.defineXML(xml("bad-emu", devices="<emulator>/nonexistent</emulator>")))

d = conn.defineXML(xml("bad-disk", devices="<disk type='file' device='disk'><source file='%s'/>"
                                        "<target dev='vda' bus='virtio'/></disk>" % missing))
attempt("missing disk", d.create)
print("  state: %s" % d.state())
d.undefine()

conn.defineXML(xml("x", U1))
attempt("same name, other uuid", lambda: conn.defineXML(xml("x", U2)))
attempt("same uuid, other name", lambda: conn.defineXML(xml("y", U1)))
conn.lookupByName("x").create()
attempt("same name while running", lambda: conn.defineXML(xml("x", U2)))
attempt("same uuid, other name while running", lambda: conn.defineXML(xml("y", U1)))
conn.lookupByName("x").destroy()
conn.lookupByName("x").undefine()

d = conn.defineXML(xml("kvm", typ="kvm"))
attempt("kvm", d.create)
d.undefine()
print("still serving: %s" % (conn.getVersion() > 0 and conn.isAlive() == 1))
print("done")
