#!/usr/bin/python3
"""libvirt's own test driver on the operations of benches/driver.rs, for the ratio.

Times define+undefine and lookups through python3-libvirt against test:///default with the
same population (1000 running domains beside 'test') and the same XML, and prints one JSON
object: operation -> nanoseconds per call (the median of 5 runs). The python binding adds
about a microsecond per call, which favours nobody much at these sizes; say so when quoting.
"""
import json
import statistics
import sys
import time

import libvirt

POPULATION = 1000


def domain_xml(name, uuid_tail):
    return f"""<domain type='test'>
  <name>{name}</name>
  <uuid>9b1e3c2a-5d4f-4e6a-8b7c-{uuid_tail:012x}</uuid>
  <memory unit='MiB'>512</memory>
  <vcpu>2</vcpu>
  <os><type arch='i686'>hvm</type><boot dev='hd'/></os>
  <devices>
    <disk type='file' device='disk'>
      <source file='/var/lib/images/{name}.img'/>
      <target dev='vda' bus='virtio'/>
    </disk>
    <interface type='network'>
      <mac address='52:54:00:12:34:56'/>
      <source network='default'/>
    </interface>
  </devices>
</domain>"""


def per_call(fn, n):
    runs = []
    for _ in range(5):
        start = time.perf_counter_ns()
        for _ in range(n):
            fn()
        runs.append((time.perf_counter_ns() - start) / n)
    return statistics.median(runs)


def main():
    libvirt.registerErrorHandler(lambda *_: None, None)
    conn = libvirt.open("test:///default")
    doms = []
    for i in range(POPULATION):
        d = conn.defineXML(domain_xml(f"pop{i}", i))
        d.create()
        doms.append(d)
    probe = doms[POPULATION // 2]
    name, uuid, ident = probe.name(), probe.UUID(), probe.ID()
    xml = domain_xml("bench-define", 0xFFFFFFFF)

    def define_undefine():
        conn.defineXML(xml).undefine()

    result = {
        "define+undefine": per_call(define_undefine, 2000),
        "lookup_by_name": per_call(lambda: conn.lookupByName(name), 20000),
        "lookup_by_uuid": per_call(lambda: conn.lookupByUUID(uuid), 20000),
        "lookup_by_id": per_call(lambda: conn.lookupByID(ident), 20000),
        "list_all(1001)": per_call(lambda: conn.listAllDomains(0), 200),
    }
    json.dump(result, sys.stdout)
    print()


if __name__ == "__main__":
    main()
