# Tunable events of a running QEMU guest: URI NAME CPUS
# NAME runs (2 vCPUs, I/O thread 1); CPUS is the CPU list the pins use ("0-1").
# Pins its vCPU 0, emulator and I/O thread 1 live, then vCPU 1 in the persistent definition
# only, and prints for each step the tunable events a listener on another connection got:
# the domain's name and ID, then each parameter as FIELD=VALUE (python's repr).
# The same script runs against Debian's libvirtd 9.0.
import sys
import threading
import time

import libvirt

uri, name, cpus = sys.argv[1:4]

libvirt.virEventRegisterDefaultImpl()


def event_loop():
    while True:
        libvirt.virEventRunDefaultImpl()


threading.Thread(target=event_loop, daemon=True).start()

listener = libvirt.open(uri)
conn = libvirt.open(uri)
got = []
cond = threading.Condition()


def on_tunable(_conn, dom, params, _opaque):
    text = "%s/%d" % (dom.name(), dom.ID())
    for field in params:
        text += " %s=%r" % (field, params[field])
    with cond:
        got.append(text)
        cond.notify_all()


listener.domainEventRegisterAny(None, libvirt.VIR_DOMAIN_EVENT_ID_TUNABLE, on_tunable, None)
dom = conn.lookupByName(name)
ncpus = conn.getInfo()[2]
cpuset = set()
for part in cpus.split(","):
    lo, _, hi = part.partition("-")
    cpuset.update(range(int(lo), int(hi or lo) + 1))
cpumap = tuple(i in cpuset for i in range(ncpus))
live = libvirt.VIR_DOMAIN_AFFECT_LIVE
config = libvirt.VIR_DOMAIN_AFFECT_CONFIG


def step(what, action, expect):
    with cond:
        del got[:]
    try:
        action()
    except libvirt.libvirtError as e:
        print("%s: error %s" % (what, e.get_error_message()))
        return
    until = time.time() + (5 if expect else 1)
    with cond:
        while len(got) < expect and time.time() < until:
            cond.wait(0.1)
        # Anything more than expected would come now.
        cond.wait(0.3)
        print("%s: %s" % (what, " | ".join(got) if got else "none"))


step("vcpupin live", lambda: dom.pinVcpuFlags(0, cpumap, live), 1)
step("emulatorpin live", lambda: dom.pinEmulator(cpumap, live), 1)
step("iothreadpin live", lambda: dom.pinIOThread(1, cpumap, live), 1)
step("vcpupin config", lambda: dom.pinVcpuFlags(1, cpumap, config), 0)
step("emulatorpin live+config", lambda: dom.pinEmulator(cpumap, live | config), 1)
print("done")
