# Every storage procedure through python3-libvirt: a dir pool in a private directory,
# its life with pool events, volumes, transfers, the legacy list calls, read-only refusals
# and the errors libvirt's dispatch gives. Prints one line per step; the same script run
# against Debian's libvirtd 9.0 prints the same lines.
#
# usage: storage_calls.py URI POOL_NAME TARGET_DIR
import sys
import threading
import time

import libvirt

uri, name, target = sys.argv[1], sys.argv[2], sys.argv[3]
libvirt.registerErrorHandler(lambda *_: None, None)
libvirt.virEventRegisterDefaultImpl()


def loop():
    while True:
        libvirt.virEventRunDefaultImpl()


threading.Thread(target=loop, daemon=True).start()

c = libvirt.open(uri)
events = []
LIFE = ["DEFINED", "UNDEFINED", "STARTED", "STOPPED", "CREATED", "DELETED"]


def on_life(conn, pool, event, detail, opaque):
    if pool.name() == name:
        events.append("%s/%d" % (LIFE[event], detail))


def on_refresh(conn, pool, opaque):
    if pool.name() == name:
        events.append("REFRESH")


life_id = c.storagePoolEventRegisterAny(
    None, libvirt.VIR_STORAGE_POOL_EVENT_ID_LIFECYCLE, on_life, None
)
refresh_id = c.storagePoolEventRegisterAny(
    None, libvirt.VIR_STORAGE_POOL_EVENT_ID_REFRESH, on_refresh, None
)


def flush(step):
    deadline = time.time() + 3
    while time.time() < deadline and not events:
        time.sleep(0.02)
    time.sleep(0.2)
    print("%s: %s" % (step, " ".join(events) or "-"))
    del events[:]


def err(step, f):
    try:
        f()
        print("%s: no error" % step)
    except libvirt.libvirtError as e:
        print("%s: %d %d %s" % (step, e.get_error_code(), e.get_error_domain(), e))


def ours(names):
    return [n for n in names if n == name]


xml = (
    "<pool type='dir'><name>%s</name><target><path>%s</path></target></pool>"
    % (name, target)
)
p = c.storagePoolDefineXML(xml, 0)
flush("define")
print("lookup:", c.storagePoolLookupByName(name).name(),
      c.storagePoolLookupByUUID(p.UUID()).name(),
      c.storagePoolLookupByUUIDString(p.UUIDString()).name())
print("state:", p.isActive(), p.isPersistent(), p.autostart(), p.info()[0])
print("defined:", ours(c.listDefinedStoragePools()), ours(c.listStoragePools()))
print("all inactive:", ours([x.name() for x in c.listAllStoragePools(
    libvirt.VIR_CONNECT_LIST_STORAGE_POOLS_INACTIVE)]))
p.build(0)
flush("build")
p.create(0)
flush("start")
print("running:", ours(c.listStoragePools()), ours(c.listDefinedStoragePools()),
      p.isActive(), p.info()[0])
print("all active dir:", ours([x.name() for x in c.listAllStoragePools(
    libvirt.VIR_CONNECT_LIST_STORAGE_POOLS_ACTIVE | libvirt.VIR_CONNECT_LIST_STORAGE_POOLS_DIR)]))
print("by path:", c.storagePoolLookupByTargetPath(target).name())
p.refresh(0)
flush("refresh")
p.setAutostart(1)
print("autostart:", p.autostart())
p.setAutostart(0)

vxml = ("<volume><name>v1</name><capacity>1048576</capacity>"
        "<target><format type='raw'/></target></volume>")
v = p.createXML(vxml, 0)
print("volumes:", p.numOfVolumes(), p.listVolumes(), [x.name() for x in p.listAllVolumes(0)])
path = v.path()
print("vol:", v.name(), path == target + "/v1", v.key() == path, v.info())
print("vol lookups:", c.storageVolLookupByPath(path).name(), c.storageVolLookupByKey(path).name(),
      p.storageVolLookupByName("v1").name(), v.storagePoolLookupByVolume().name())
print("vol xml:", "<name>v1</name>" in v.XMLDesc(0), "<volume type='file'>" in v.XMLDesc(0))

data = bytes(range(256)) * 4096
st = c.newStream(0)
v.upload(st, 0, len(data), 0)
st.send(data)
st.finish()
st = c.newStream(0)
v.download(st, 0, 0, 0)
got = b""
while True:
    chunk = st.recv(262144)
    if not chunk:
        break
    got += chunk
st.finish()
print("transfer:", len(got), got == data)
st = c.newStream(0)
v.download(st, 4096, 10, 0)
part = st.recv(262144)
rest = st.recv(262144)
st.finish()
print("ranged:", part == data[4096:4106], rest)

v.resize(2 * 1048576, 0)
print("resized:", v.info()[1])
v.wipe(0)
v.wipePattern(libvirt.VIR_STORAGE_VOL_WIPE_ALG_ZERO, 0)
clone = p.createXMLFrom(vxml.replace("v1", "v2"), v, 0)
print("clone:", clone.name(), p.numOfVolumes())
clone.delete(0)
print("after delete:", p.listVolumes())

err("no pool", lambda: c.storagePoolLookupByName("no-such-pool"))
err("no vol", lambda: p.storageVolLookupByName("no-such-vol"))
err("no path", lambda: c.storageVolLookupByPath(target + "/no-such-vol"))
err("list flags", lambda: p.listAllVolumes(1))

ro = libvirt.openReadOnly(uri)
rp = ro.storagePoolLookupByName(name)
print("ro reads:", rp.isActive(), ro.storageVolLookupByPath(path).name())
err("ro destroy", rp.destroy)
err("ro vol delete", lambda: ro.storageVolLookupByPath(path).delete(0))
err("ro define", lambda: ro.storagePoolDefineXML(xml, 0))
err("ro find", lambda: ro.findStoragePoolSources("logical", None, 0))
err("ro upload", lambda: ro.storageVolLookupByPath(path).upload(ro.newStream(0), 0, 0, 0))
ro.close()

v.delete(0)
p.destroy()
flush("destroy")
err("inactive list", p.listVolumes)
p.delete(0)
flush("delete")
p.undefine()
flush("undefine")
c.storagePoolEventDeregisterAny(life_id)
c.storagePoolEventDeregisterAny(refresh_id)
err("deregistered", lambda: c.storagePoolEventDeregisterAny(refresh_id))
print("done")
