# Lifecycle and reboot events of a real QEMU guest: URI XMLFILE RUNDIR
# Defines the guest of XMLFILE, takes it through create, suspend, resume, shutdown, create,
# reboot, destroy, create, a killed QEMU (pid from RUNDIR/qemu/NAME.xml) and undefine,
# printing for each step the events a listener on another connection got, in order.
# The same script runs against Debian's libvirtd 9.0 (RUNDIR /var/run/libvirt).
import os
import re
import signal
import sys
import threading
import time

import libvirt

uri, xml_file, rundir = sys.argv[1:4]
xml = open(xml_file).read()
name = re.search(r"<name>([^<]+)</name>", xml).group(1)

libvirt.virEventRegisterDefaultImpl()


def event_loop():
    while True:
        libvirt.virEventRunDefaultImpl()


threading.Thread(target=event_loop, daemon=True).start()

EVENTS = ["DEFINED", "UNDEFINED", "STARTED", "SUSPENDED", "RESUMED", "STOPPED", "SHUTDOWN"]
DETAILS = [
    ["ADDED", "UPDATED", "RENAMED", "FROM_SNAPSHOT"],
    ["REMOVED", "RENAMED"],
    ["BOOTED", "MIGRATED", "RESTORED", "FROM_SNAPSHOT", "WAKEUP"],
    ["PAUSED", "MIGRATED", "IOERROR", "WATCHDOG", "RESTORED", "FROM_SNAPSHOT", "API_ERROR"],
    ["UNPAUSED", "MIGRATED", "FROM_SNAPSHOT", "POSTCOPY"],
    ["SHUTDOWN", "DESTROYED", "CRASHED", "MIGRATED", "SAVED", "FAILED", "FROM_SNAPSHOT"],
    ["FINISHED", "GUEST", "HOST"],
]

listener = libvirt.open(uri)
conn = libvirt.open(uri)
got = []
cond = threading.Condition()


def on_lifecycle(_conn, dom, event, detail, _opaque):
    if dom.name() != name:
        return
    try:
        text = "%s/%s" % (EVENTS[event], DETAILS[event][detail])
    except IndexError:
        text = "%d/%d" % (event, detail)
    with cond:
        got.append(text)
        cond.notify_all()


def on_reboot(_conn, dom, _opaque):
    if dom.name() != name:
        return
    with cond:
        got.append("REBOOT")
        cond.notify_all()


listener.domainEventRegisterAny(None, libvirt.VIR_DOMAIN_EVENT_ID_LIFECYCLE, on_lifecycle, None)
listener.domainEventRegisterAny(None, libvirt.VIR_DOMAIN_EVENT_ID_REBOOT, on_reboot, None)


def step(label, action, count, settle=0.7):
    """Runs action, waits for `count` events (30 s at most) and `settle` s more for extra
    ones."""
    with cond:
        del got[:]
    action()
    with cond:
        cond.wait_for(lambda: len(got) >= count, 30)
    time.sleep(settle)
    with cond:
        print("%s: %s" % (label, " ".join(got)), flush=True)


consoles = []


def console_watch(dom, text):
    """Opens the console and watches for `text`; returns a wait(secs) telling whether it
    came."""
    # One session at a time: end the previous one first.
    if consoles:
        try:
            consoles.pop().abort()
        except libvirt.libvirtError:
            pass
    stream = conn.newStream(0)
    dom.openConsole(None, stream, libvirt.VIR_DOMAIN_CONSOLE_FORCE)
    consoles.append(stream)
    buf = bytearray()
    seen = threading.Event()

    def reader():
        while True:
            try:
                data = stream.recv(4096)
            except libvirt.libvirtError:
                break
            if isinstance(data, int) or not data:
                break
            buf.extend(data)
            if text.encode() in buf:
                break
        seen.set()

    threading.Thread(target=reader, daemon=True).start()

    def wait(secs=60):
        seen.wait(secs)
        return text.encode() in buf

    return wait


def report_boot(came):
    print("booted" if came else "NOT booted", flush=True)


def booted(dom):
    report_boot(console_watch(dom, "OXVIRT-DISKS:")())


def state(dom):
    print("state: %s" % dom.state(), flush=True)


def qemu_pid():
    status = open(os.path.join(rundir, "qemu", name + ".xml")).read()
    return int(re.search(r" pid='(\d+)'", status).group(1))


holder = {}
step("define", lambda: holder.setdefault("dom", conn.defineXML(xml)), 1)
dom = holder["dom"]
step("create", dom.create, 2)
booted(dom)
state(dom)
step("suspend", dom.suspend, 1)
state(dom)
step("resume", dom.resume, 1)
state(dom)
step("shutdown", dom.shutdown, 2)
state(dom)
step("create", dom.create, 2)
booted(dom)
# The reboot's events come once the guest has powered off and been reset (one per QMP
# RESET: libvirtd 9.0 gives 2 or 3 with this guest, SeaBIOS resets again); count 1 waits
# for the first, and the guest's next boot, watched from before the reboot, shows it
# really restarted.
rebooted = console_watch(dom, "OXVIRT-DISKS:")
step("reboot", dom.reboot, 1, 3)
report_boot(rebooted())
state(dom)
step("destroy", dom.destroy, 2)
state(dom)
step("create", dom.create, 2)
booted(dom)
step("kill QEMU", lambda: os.kill(qemu_pid(), signal.SIGKILL), 1)
state(dom)
step("undefine", dom.undefine, 1)
print("done", flush=True)
os._exit(0)
