"""The node calls through python3-libvirt on oxvirtd and Debian's libvirtd (qemu:///system),
same client, same run: median microseconds per call over N calls, and the ratio.

Usage: node_bench.py OXVIRTD_URI LIBVIRTD_URI [N]
"""
import libvirt, sys, time, statistics
def bench(uri, n=200):
    c = libvirt.open(uri)
    out = {}
    for name, f in [("getInfo (nodeinfo)", lambda: c.getInfo()),
                    ("getCapabilities", lambda: c.getCapabilities()),
                    ("getDomainCapabilities", lambda: c.getDomainCapabilities(None, None, None, "qemu")),
                    ("getCellsFreeMemory", lambda: c.getCellsFreeMemory(0, 1)),
                    ("getCPUMap", lambda: c.getCPUMap()),
                    ("getCPUStats(-1)", lambda: c.getCPUStats(-1)),
                    ("getMemoryStats(-1)", lambda: c.getMemoryStats(-1))]:
        f()
        ts = []
        for _ in range(n):
            t = time.perf_counter(); f(); ts.append(time.perf_counter() - t)
        out[name] = statistics.median(ts) * 1e6
    c.close()
    return out
n = int(sys.argv[3]) if len(sys.argv) > 3 else 500
a = bench(sys.argv[1], n); b = bench(sys.argv[2], n)
print("%-24s %12s %12s %8s" % ("call", "oxvirtd us", "libvirtd us", "ratio"))
for k in a:
    print("%-24s %12.1f %12.1f %8.1fx" % (k, a[k], b[k], b[k] / a[k]))
