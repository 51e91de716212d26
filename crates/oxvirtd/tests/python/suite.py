"""python3-libvirt against oxvirtd: threads, events, errors, read-only.

usage: suite.py RW_URI RO_URI
Prints one line per check; exits non-zero on the first failure.
"""
import sys
import threading
import time

import libvirt

RW, RO = sys.argv[1], sys.argv[2]
# Errors are checked through exceptions; keep libvirt from printing them too.
libvirt.registerErrorHandler(lambda ctx, err: None, None)


def check(name, cond, detail=""):
    if not cond:
        print(f"FAIL {name} {detail}")
        sys.exit(1)
    print(f"ok {name}")


def expect_error(name, fn, code, domain, message):
    try:
        fn()
    except libvirt.libvirtError as e:
        got = (e.get_error_code(), e.get_error_domain(), e.get_error_message())
        check(name, got == (code, domain, message), repr(got))
        return
    check(name, False, "no error")


# Events need the default event loop, registered before any connection is opened.
libvirt.virEventRegisterDefaultImpl()
running = True


def loop():
    while running:
        libvirt.virEventRunDefaultImpl()


threading.Thread(target=loop, daemon=True).start()

# 1. Several connections from several threads at once.
errors = []
counts = []


def worker(n):
    try:
        conn = libvirt.open(RW)
        for i in range(50):
            dom = conn.lookupByName("test")
            info = dom.info()
            assert info[0] == libvirt.VIR_DOMAIN_RUNNING, info
            assert conn.getHostname()
            name = f"py-{n}-{i}"
            d = conn.defineXML(
                f"<domain type='test'><name>{name}</name><memory>1024</memory>"
                "<os><type>hvm</type></os></domain>"
            )
            assert conn.lookupByName(name).UUIDString() == d.UUIDString()
            d.undefine()
        counts.append(n)
        conn.close()
    except Exception as e:  # reported below
        errors.append(repr(e))


threads = [threading.Thread(target=worker, args=(n,)) for n in range(8)]
for t in threads:
    t.start()
for t in threads:
    t.join()
check("8 threads x 50 define/lookup/undefine", not errors and len(counts) == 8, errors[:3])

# 2. Event callbacks.
conn = libvirt.open(RW)
seen = []
lock = threading.Condition()


def lifecycle(c, dom, event, detail, opaque):
    with lock:
        seen.append((dom.name(), event, detail))
        lock.notify_all()


cb = conn.domainEventRegisterAny(None, libvirt.VIR_DOMAIN_EVENT_ID_LIFECYCLE, lifecycle, None)
other = libvirt.open(RW)
dom = other.lookupByName("test")
dom.suspend()
dom.resume()
dom.destroy()
dom.create()
want = [
    ("test", libvirt.VIR_DOMAIN_EVENT_SUSPENDED, libvirt.VIR_DOMAIN_EVENT_SUSPENDED_PAUSED),
    ("test", libvirt.VIR_DOMAIN_EVENT_RESUMED, libvirt.VIR_DOMAIN_EVENT_RESUMED_UNPAUSED),
    ("test", libvirt.VIR_DOMAIN_EVENT_STOPPED, libvirt.VIR_DOMAIN_EVENT_STOPPED_DESTROYED),
    ("test", libvirt.VIR_DOMAIN_EVENT_STARTED, libvirt.VIR_DOMAIN_EVENT_STARTED_BOOTED),
]
deadline = time.time() + 5
with lock:
    while len(seen) < len(want) and time.time() < deadline:
        lock.wait(0.1)
check("lifecycle callbacks from another connection's calls", seen == want, seen)
conn.domainEventDeregisterAny(cb)
dom.suspend()
dom.resume()
time.sleep(0.3)
check("no callbacks after deregistering", len(seen) == len(want), seen)
expect_error(
    "deregistering an unknown callback",
    lambda: conn.domainEventDeregisterAny(cb),
    libvirt.VIR_ERR_INVALID_ARG,
    libvirt.VIR_FROM_NONE,
    f"invalid argument: event callback id {cb} not registered",
)

# 3. Errors carry libvirt's code and domain.
expect_error(
    "missing name",
    lambda: conn.lookupByName("nosuch"),
    libvirt.VIR_ERR_NO_DOMAIN,
    libvirt.VIR_FROM_TEST,
    "Domain not found",
)
expect_error(
    "missing UUID",
    lambda: conn.lookupByUUIDString("11111111-2222-3333-4444-555555555555"),
    libvirt.VIR_ERR_NO_DOMAIN,
    libvirt.VIR_FROM_TEST,
    "Domain not found",
)
expect_error(
    "starting a running domain",
    lambda: conn.lookupByName("test").create(),
    libvirt.VIR_ERR_INTERNAL_ERROR,
    libvirt.VIR_FROM_TEST,
    "internal error: Domain 'test' is already running",
)
try:
    conn.defineXML("<domain")
    check("malformed XML refused", False, "accepted")
except libvirt.libvirtError as e:
    check(
        "malformed XML refused",
        e.get_error_code() == libvirt.VIR_ERR_XML_DETAIL and e.get_error_domain() == libvirt.VIR_FROM_DOMAIN,
        (e.get_error_code(), e.get_error_domain(), e.get_error_message()),
    )

# 4. Read-only connections: reads work, writes are refused.
ro = libvirt.openReadOnly(RO)
check("read-only lists", [d.name() for d in ro.listAllDomains()] == ["test"])
expect_error(
    "read-only destroy",
    lambda: ro.lookupByName("test").destroy(),
    libvirt.VIR_ERR_OPERATION_DENIED,
    libvirt.VIR_FROM_DOMAIN,
    "operation forbidden: read only access prevents virDomainDestroy",
)
expect_error(
    "read-only define",
    lambda: ro.defineXML("<domain type='test'><name>x</name><memory>1024</memory></domain>"),
    libvirt.VIR_ERR_OPERATION_DENIED,
    libvirt.VIR_FROM_DOMAIN,
    "operation forbidden: read only access prevents virDomainDefineXML",
)
ro_on_rw = libvirt.openReadOnly(RW)
expect_error(
    "VIR_CONNECT_RO on the read-write socket",
    lambda: ro_on_rw.lookupByName("test").suspend(),
    libvirt.VIR_ERR_OPERATION_DENIED,
    libvirt.VIR_FROM_DOMAIN,
    "operation forbidden: read only access prevents virDomainSuspend",
)
check("domain still running", conn.lookupByName("test").info()[0] == libvirt.VIR_DOMAIN_RUNNING)
running = False
print("done")
