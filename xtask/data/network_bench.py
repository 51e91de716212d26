"""Virtual network latencies through python3-libvirt on oxvirtd and Debian's libvirtd, same
client, same run. Each daemon runs inside its own network namespace (made by
`cargo xtask bench network`); nothing here touches the root namespace.

For each daemon: the NAT network of XML is defined once; one untimed start/destroy; then
CYCLES timed net-start (virNetworkCreate) and net-destroy (virNetworkDestroy), the two
daemons taking turns; then, with the network running, LEASES DHCP leases: each time a new
client namespace with a veth whose peer is enslaved to the network's bridge (in the daemon's
namespace), and the time from `busybox udhcpc` starting to it exiting with a lease.
Medians (and min/max) in milliseconds, the ratio libvirtd / oxvirtd, JSON in JSON_OUT.

Usage: network_bench.py CYCLES LEASES XML CLIENT_PREFIX JSON_OUT
                        OXVIRTD_URI OXVIRTD_NETNS LIBVIRTD_URI LIBVIRTD_NETNS
"""
import json, re, statistics, subprocess, sys, time
import libvirt

cycles, leases = int(sys.argv[1]), int(sys.argv[2])
xml = open(sys.argv[3]).read()
client_prefix, json_out = sys.argv[4], sys.argv[5]
daemons = [("oxvirtd", sys.argv[6], sys.argv[7]), ("libvirtd", sys.argv[8], sys.argv[9])]
name = re.search(r"<name>([^<]+)</name>", xml).group(1)
bridge = re.search(r"<bridge name='([^']+)'", xml).group(1)


def sh(*args, check=True):
    return subprocess.run(args, check=check, capture_output=True, text=True)


def netns_pids(ns):
    return [int(p) for p in sh("ip", "netns", "pids", ns).stdout.split()]


def comm(pid):
    try:
        return open(f"/proc/{pid}/comm").read().strip()
    except OSError:
        return ""


def lease_once(ns, i):
    """A client namespace on the bridge; seconds from udhcpc's start to its lease."""
    client = f"{client_prefix}-{i}"
    port = f"oxbv{i}"
    sh("ip", "netns", "add", client)
    try:
        sh("ip", "-n", ns, "link", "add", port, "type", "veth", "peer", "name", "eth0",
           "netns", client)
        sh("ip", "-n", ns, "link", "set", port, "master", bridge, "up")
        sh("ip", "-n", client, "link", "set", "lo", "up")
        sh("ip", "-n", client, "link", "set", "eth0", "up")
        # The port forwarding first: the lease time is DHCP's, not the bridge's.
        deadline = time.monotonic() + 10
        while "state forwarding" not in sh("bridge", "-n", ns, "link", "show", "dev",
                                           port).stdout:
            if time.monotonic() > deadline:
                raise RuntimeError(f"{port} on {bridge} never forwarded")
            time.sleep(0.01)
        t = time.perf_counter()
        got = sh("ip", "netns", "exec", client, "busybox", "udhcpc", "-i", "eth0", "-n",
                 "-q", "-f", "-s", "/bin/true", "-t", "5", check=False)
        took = time.perf_counter() - t
        if got.returncode != 0:
            raise RuntimeError(f"udhcpc got no lease on {bridge}: {got.stderr.strip()}")
        return took
    finally:
        sh("ip", "netns", "del", client, check=False)


def bench(conns):
    times = {d: {"net-start": [], "net-destroy": [], "dhcp-lease": []} for d, _, _ in daemons}
    nets = {}
    for d, _, _ in daemons:
        net = conns[d].networkDefineXML(xml)
        net.create()
        time.sleep(0.1)
        net.destroy()
        nets[d] = net
    for _ in range(cycles):
        for d, _, _ in daemons:
            net = nets[d]
            t = time.perf_counter(); net.create(); took = time.perf_counter() - t
            times[d]["net-start"].append(took)
            time.sleep(0.1)
            t = time.perf_counter(); net.destroy(); took = time.perf_counter() - t
            times[d]["net-destroy"].append(took)
            time.sleep(0.05)
    checks = {}
    for i, (d, _, ns) in enumerate(daemons):
        net = nets[d]
        net.create()
        time.sleep(0.2)
        for j in range(leases):
            times[d]["dhcp-lease"].append(lease_once(ns, i * 100 + j))
        shown = len(net.DHCPLeases())
        net.destroy()
        time.sleep(0.2)
        left = [comm(p) for p in netns_pids(ns) if comm(p) == "dnsmasq"]
        has_bridge = sh("ip", "-n", ns, "link", "show", "dev", bridge, check=False).returncode == 0
        tables = sh("ip", "netns", "exec", ns, "nft", "list", "tables").stdout.split("\n")
        tables = [t.removeprefix("table ").strip() for t in tables if t.strip()]
        checks[d] = (shown, has_bridge, left, tables)
        net.undefine()
    return times, checks


conns = {d: libvirt.open(uri) for d, uri, _ in daemons}
times, checks = bench(conns)
for c in conns.values():
    c.close()

ms = lambda xs: statistics.median(xs) * 1e3
print(f"{cycles} start/destroy cycles and {leases} leases per daemon; NAT network with DHCP, "
      f"each daemon in its own network namespace; medians (min-max) in ms")
print("%-12s %22s %22s %9s" % ("operation", "oxvirtd", "libvirtd 9.0", "lv / ox"))
result = {}
for op in ["net-start", "net-destroy", "dhcp-lease"]:
    a, b = times["oxvirtd"][op], times["libvirtd"][op]
    cell = lambda xs: "%8.1f (%.1f-%.1f)" % (ms(xs), min(xs) * 1e3, max(xs) * 1e3)
    print("%-12s %22s %22s %8.2fx" % (op, cell(a), cell(b), ms(b) / ms(a)))
    result[op] = {"oxvirtd_ms": ms(a), "libvirtd_ms": ms(b), "ratio": ms(b) / ms(a),
                  "oxvirtd_all_ms": [x * 1e3 for x in a],
                  "libvirtd_all_ms": [x * 1e3 for x in b]}
print("dhcp-lease: udhcpc start to lease; both daemons' dnsmasq ping an address before "
      "offering it (libvirt's dnsmasq.conf has no no-ping), which takes most of it")
bad = []
for d, (shown, has_bridge, left, tables) in checks.items():
    print(f"{d}: net-dhcp-leases showed {shown} of {leases}; after net-destroy: "
          f"bridge {'LEFT' if has_bridge else 'gone'}, "
          f"dnsmasq {'LEFT' if left else 'gone'}, "
          f"nft tables in its namespace: {', '.join(tables) or 'none'}")
    if shown < 1 or has_bridge or left or (d == "oxvirtd" and "inet oxvirt" in tables):
        bad.append(d)
json.dump(result, open(json_out, "w"), indent=1)
print(f"JSON: {json_out}")
if "oxvirtd" in bad:
    sys.exit("oxvirtd: leases not shown or something left after net-destroy")
