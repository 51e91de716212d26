"""Storage latencies through python3-libvirt on oxvirtd and Debian's libvirtd, same client,
same run, same file system. Each daemon gets its own `dir` pool under SCRATCH/<daemon>/.

For each daemon, the two taking turns: CYCLES timed pool-start (virStoragePoolCreate of an
empty dir pool) and pool-destroy; CYCLES timed vol-create-as of a 1 GiB qcow2 volume
(virStorageVolCreateXML, qemu-img underneath on both) each deleted after; then VOLUMES raw
files put in the pool directory, CYCLES timed pool refreshes, and CYCLES timed vol-list: what
`virsh vol-list` does (virStoragePoolListAllVolumes, then each volume's path), and the bare
listing. Every operation is timed CYCLES times per daemon, the daemons taking turns.
Medians (min-max) in milliseconds, the ratio libvirtd / oxvirtd, JSON in JSON_OUT.

Usage: storage_bench.py CYCLES VOLUMES SCRATCH JSON_OUT OXVIRTD_URI LIBVIRTD_URI
"""
import json, os, statistics, sys, time
import libvirt

cycles, volumes = int(sys.argv[1]), int(sys.argv[2])
scratch, json_out = sys.argv[3], sys.argv[4]
daemons = [("oxvirtd", sys.argv[5]), ("libvirtd", sys.argv[6])]
OPS = ["pool-start", "pool-destroy", "vol-create-as qcow2", "pool-refresh",
       "vol-list", "list-all-volumes"]


def pool_xml(d):
    return (f"<pool type='dir'><name>oxbench-{d}</name>"
            f"<target><path>{scratch}/{d}/pool</path></target></pool>")


def vol_xml(name):
    return (f"<volume><name>{name}</name><capacity unit='G'>1</capacity>"
            f"<target><format type='qcow2'/></target></volume>")


def timed(fn):
    t = time.perf_counter()
    r = fn()
    return time.perf_counter() - t, r


conns = {d: libvirt.open(uri) for d, uri in daemons}
times = {d: {op: [] for op in OPS} for d, _ in daemons}
pools = {}
for d, _ in daemons:
    os.makedirs(f"{scratch}/{d}", exist_ok=True)
    pool = conns[d].storagePoolDefineXML(pool_xml(d))
    pool.build(0)
    pool.create(0)
    pool.destroy()
    pools[d] = pool
try:
    for _ in range(cycles):
        for d, _ in daemons:
            took, _ = timed(lambda: pools[d].create(0))
            times[d]["pool-start"].append(took)
            took, _ = timed(lambda: pools[d].destroy())
            times[d]["pool-destroy"].append(took)
    for d, _ in daemons:
        pools[d].create(0)
    for i in range(cycles):
        for d, _ in daemons:
            took, vol = timed(lambda: pools[d].createXML(vol_xml(f"q{i}.qcow2"), 0))
            times[d]["vol-create-as qcow2"].append(took)
            vol.delete(0)
    for d, _ in daemons:
        for i in range(volumes):
            with open(f"{scratch}/{d}/pool/v{i:04}.img", "wb") as f:
                f.truncate(1 << 20)
    for _ in range(cycles):
        for d, _ in daemons:
            took, _ = timed(lambda: pools[d].refresh(0))
            times[d]["pool-refresh"].append(took)
    counts = {}
    for _ in range(cycles):
        for d, _ in daemons:
            def vol_list():
                vols = pools[d].listAllVolumes(0)
                return [(v.name(), v.path()) for v in vols]
            took, listed = timed(vol_list)
            times[d]["vol-list"].append(took)
            counts[d] = len(listed)
            took, _ = timed(lambda: pools[d].listAllVolumes(0))
            times[d]["list-all-volumes"].append(took)
finally:
    for d, _ in daemons:
        try:
            if pools[d].isActive():
                pools[d].destroy()
            pools[d].undefine()
        except libvirt.libvirtError as e:
            print(f"{d}: cleanup: {e}", file=sys.stderr)
    for c in conns.values():
        c.close()

ms = lambda xs: statistics.median(xs) * 1e3
print(f"{cycles} rounds per operation and daemon, a dir pool on the same file system, "
      f"vol-list over {volumes} volumes; medians (min-max) in ms")
print("%-20s %24s %24s %9s" % ("operation", "oxvirtd", "libvirtd 9.0", "lv / ox"))
result = {}
for op in OPS:
    a, b = times["oxvirtd"][op], times["libvirtd"][op]
    cell = lambda xs: "%9.2f (%.2f-%.2f)" % (ms(xs), min(xs) * 1e3, max(xs) * 1e3)
    print("%-20s %24s %24s %8.2fx" % (op, cell(a), cell(b), ms(b) / ms(a)))
    result[op] = {"oxvirtd_ms": ms(a), "libvirtd_ms": ms(b), "ratio": ms(b) / ms(a),
                  "oxvirtd_all_ms": [x * 1e3 for x in a],
                  "libvirtd_all_ms": [x * 1e3 for x in b]}
print("vol-list: virStoragePoolListAllVolumes then virStorageVolGetPath for each volume, "
      "as `virsh vol-list` does; list-all-volumes: the listing call alone")
for d, n in counts.items():
    print(f"{d}: vol-list saw {n} volumes")
json.dump(result, open(json_out, "w"), indent=1)
print(f"JSON: {json_out}")
if counts.get("oxvirtd") != volumes or counts.get("libvirtd") != volumes:
    sys.exit(f"vol-list did not see the {volumes} volumes: {counts}")
