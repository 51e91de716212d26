# Console helper for the QEMU tests: URI NAME EXPECT SECS ACTION [CMD...]
# Opens NAME's console through the RPC stream (virDomainOpenConsole, forced), then does
# ACTION: none, resume, shutdown, reboot, or run (CMD, its output printed after the result).
# Reads until EXPECT appears or SECS pass; prints "found" or "missing: <tail>".
import os
import subprocess
import sys
import threading
import time

START = time.time()


def progress(what):
    # On stderr: a test that fails shows how far the script got.
    sys.stderr.write("[%.1fs] %s\n" % (time.time() - START, what))
    sys.stderr.flush()


import libvirt

uri, name, expect, secs, action = sys.argv[1:6]
cmd = sys.argv[6:]
conn = libvirt.open(uri)
dom = conn.lookupByName(name)
stream = conn.newStream(0)
dom.openConsole(None, stream, libvirt.VIR_DOMAIN_CONSOLE_FORCE)
progress("console open")

buf = bytearray()
seen = threading.Event()


def reader():
    while True:
        try:
            data = stream.recv(4096)
        except libvirt.libvirtError as e:
            buf.extend(("<<recv error: %s>>" % e.get_error_message()).encode())
            break
        if isinstance(data, int) or not data:
            break
        buf.extend(data)
        if expect.encode() in buf:
            seen.set()
    seen.set()


threading.Thread(target=reader, daemon=True).start()
# The action goes through a second connection, as a second virsh would do it: the first
# one's thread is blocked in the console stream's recv.
dom = libvirt.open(uri).lookupByName(name)
ran = ""
if action == "resume":
    dom.resume()
elif action == "shutdown":
    dom.shutdown()
elif action == "reboot":
    dom.reboot()
elif action == "run":
    p = subprocess.run(cmd, capture_output=True, text=True)
    ran = "rc=%d\n%s%s" % (p.returncode, p.stdout, p.stderr)
elif action != "none":
    sys.exit("unknown action " + action)
progress("%s done" % action)
seen.wait(float(secs))
if expect.encode() in buf:
    print("found")
else:
    print("missing: %r" % bytes(buf[-600:]))
sys.stdout.write(ran)
sys.stdout.flush()
os._exit(0)
