# One console session per domain, as libvirt's chrdev handling does: URI NAME
# NAME runs (booting, started paused). A opens its console; B without FORCE is refused;
# C with FORCE takes over: A's stream ends, and the whole boot output goes to C.
import os
import sys
import threading
import time

import libvirt

uri, name = sys.argv[1:3]
conn = libvirt.open(uri)
dom = conn.lookupByName(name)


def reader(stream, buf, ended):
    while True:
        try:
            data = stream.recv(4096)
        except libvirt.libvirtError:
            break
        if isinstance(data, int) or not data:
            break
        buf.extend(data)
    ended.set()


a = conn.newStream(0)
dom.openConsole(None, a, 0)
a_buf, a_end = bytearray(), threading.Event()
threading.Thread(target=reader, args=(a, a_buf, a_end), daemon=True).start()
b = conn.newStream(0)
try:
    dom.openConsole(None, b, 0)
    print("second session without FORCE: opened")
except libvirt.libvirtError as e:
    print("second session without FORCE: %d %d %s"
          % (e.get_error_code(), e.get_error_domain(), e.get_error_message()))
c = conn.newStream(0)
dom.openConsole(None, c, libvirt.VIR_DOMAIN_CONSOLE_FORCE)
c_buf, c_end = bytearray(), threading.Event()
threading.Thread(target=reader, args=(c, c_buf, c_end), daemon=True).start()
print("first session ended by FORCE: %s" % a_end.wait(5))
a_len = len(a_buf)
dom.resume()
deadline = time.time() + 30
while b"OXVIRT-DISKS:" not in c_buf and time.time() < deadline:
    time.sleep(0.1)
print("boot output on the forcing session: %s" % (b"OXVIRT-GUEST-READY" in c_buf
                                                     and b"OXVIRT-DISKS:" in c_buf))
print("boot output on the first session: %d bytes" % (len(a_buf) - a_len))
sys.stdout.flush()
os._exit(0)
