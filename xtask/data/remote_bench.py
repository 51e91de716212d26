"""The remote-access figures of `cargo xtask bench remote`, from one long-lived
python3-libvirt process (its start-up is not timed).

Usage: remote_bench.py ROUNDS REPEATS CALLS DOMAIN [ro:]LABEL=URI...

For every LABEL, interleaved with the others (so all see the same machine load):
  connect  ROUNDS times open + getLibVersion() + close, each timed (ms)
  version  REPEATS times CALLS getLibVersion() on one open connection (calls/s)
  info     REPEATS times CALLS DOMAIN.info() on that connection (calls/s)
after 3 untimed warm-up rounds. `ro:` opens read-only. A REPEATS of 0 skips the call
throughput. Prints `RESULT LABEL METRIC MEDIAN MIN MAX COUNT` lines.
"""
import libvirt, statistics, sys, time

libvirt.registerErrorHandler(lambda _ctx, _err: None, None)
rounds, repeats, calls = int(sys.argv[1]), int(sys.argv[2]), int(sys.argv[3])
domain = sys.argv[4]
targets = []
for arg in sys.argv[5:]:
    ro = arg.startswith("ro:")
    label, uri = (arg[3:] if ro else arg).split("=", 1)
    targets.append((label, uri, ro))


def opener(uri, ro):
    return libvirt.openReadOnly(uri) if ro else libvirt.open(uri)


def once(uri, ro):
    t = time.perf_counter()
    c = opener(uri, ro)
    c.getLibVersion()
    c.close()
    return (time.perf_counter() - t) * 1e3


def report(label, metric, values):
    print("RESULT %s %s %.6g %.6g %.6g %d" % (label, metric, statistics.median(values),
                                            min(values), max(values), len(values)),
          flush=True)


connect = {label: [] for label, _, _ in targets}
for i in range(3 + rounds):
    for label, uri, ro in targets:
        ms = once(uri, ro)
        if i >= 3:
            connect[label].append(ms)
for label, _, _ in targets:
    report(label, "connect_ms", connect[label])

if repeats > 0:
    conns = {label: opener(uri, ro) for label, uri, ro in targets}
    doms = {label: c.lookupByName(domain) for label, c in conns.items()}
    rates = {(label, m): [] for label, _, _ in targets for m in ("version", "info")}
    for i in range(1 + repeats):
        for label, _, _ in targets:
            c, d = conns[label], doms[label]
            for metric, call in (("version", c.getLibVersion), ("info", d.info)):
                t = time.perf_counter()
                for _ in range(calls):
                    call()
                rate = calls / (time.perf_counter() - t)
                if i > 0:
                    rates[(label, metric)].append(rate)
    for label, _, _ in targets:
        for metric in ("version", "info"):
            report(label, metric + "_per_s", rates[(label, metric)])
    for c in conns.values():
        c.close()
