#!/usr/bin/python3
"""Run one differential scenario against libvirt's own test driver and print its transcript.

Usage: /usr/bin/python3 libvirt_runner.py SCENARIO.json [--tmpdir DIR]

The scenario's steps run, in order, on a fresh in-process `test:///default` connection (one
process per scenario, so no state leaks between scenarios). The transcript is JSON on
stdout; its format, and the normalisations applied, are described in docs/differential.md and
must match what the Rust runner (crates/oxvirt-difftest/src) prints for oxvirt.

Needs only the standard library and python3-libvirt.
"""

import json
import os
import re
import shutil
import sys
import tempfile
import time

import libvirt

# Keep libvirt from printing every error on stderr: errors are reported in the transcript.
libvirt.registerErrorHandler(lambda _ctx, _err: None, None)

UUID_RE = re.compile(r"[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}")
DIGITS_RE = re.compile(r"\d+")

# The step arguments that may be `@file` texts.
TEXT_KEYS = ("xml", "dxml", "value")

# UUIDs fixed by the test driver's default configuration: never normalised.
FIXED_UUIDS = {"6695eb01-f6a4-8304-79aa-97f2502e193f"}

# What the transcript says about the normalisations; the Rust runner prints the same list.
NORMALISED = [
    "info: cpu_time is replaced by @CPU-TIME@ (the test driver reports the time of day)",
    "UUIDs that appear in no scenario input (nor are the default domain's) are replaced by "
    "@UUID-1@, @UUID-2@, ... in order of first appearance (walking steps in order; result, "
    "then error, then events; object keys sorted)",
    "integers between the run's start and end times, in seconds since the epoch, are replaced "
    "by @TIME@ (snapshot creation times and the default snapshot names made of them)",
    "the run's temporary directory is replaced by @TMP@",
]

# Lists whose libvirt order means nothing (hash-table order) are sorted in run_op:
# list_all by name, list_ids numerically, list_defined, snapshot_list, snapshot_names and
# snapshot_children by name.


class StepError(Exception):
    """A scenario that cannot be run as written (not a libvirt error)."""


class MissingHandle(Exception):
    """A step names a handle that no earlier step kept (because that step failed)."""


def dom_summary(dom):
    """A domain handle as results show it: name, UUID, and the ID the handle carries."""
    return {"name": dom.name(), "uuid": dom.UUIDString(), "id": dom.ID()}


class Runner:
    def __init__(self, scenario_path, tmpdir):
        self.base = os.path.dirname(os.path.abspath(scenario_path))
        with open(scenario_path, encoding="utf-8") as f:
            self.scenario = json.load(f)
        self.name = os.path.splitext(os.path.basename(scenario_path))[0]
        self.tmpdir = tmpdir
        self.handles = {}
        self.events = []
        libvirt.virEventRegisterDefaultImpl()
        self.conn = libvirt.open("test:///default")
        self._register_events()

    # ---- events ----

    def _register_events(self):
        c = self.conn

        def lifecycle(_c, dom, event, detail, _o):
            self.events.append(
                {"event": "lifecycle", "dom": dom.name(), "id": dom.ID(), "type": event,
                 "detail": detail}
            )

        def reboot(_c, dom, _o):
            self.events.append({"event": "reboot", "dom": dom.name()})

        def added(_c, dom, alias, _o):
            self.events.append({"event": "device-added", "dom": dom.name(), "alias": alias})

        def removed(_c, dom, alias, _o):
            self.events.append({"event": "device-removed", "dom": dom.name(), "alias": alias})

        def metadata(_c, dom, mtype, nsuri, _o):
            self.events.append(
                {"event": "metadata-change", "dom": dom.name(), "type": mtype, "nsuri": nsuri}
            )

        c.domainEventRegisterAny(None, libvirt.VIR_DOMAIN_EVENT_ID_LIFECYCLE, lifecycle, None)
        c.domainEventRegisterAny(None, libvirt.VIR_DOMAIN_EVENT_ID_REBOOT, reboot, None)
        c.domainEventRegisterAny(None, libvirt.VIR_DOMAIN_EVENT_ID_DEVICE_ADDED, added, None)
        c.domainEventRegisterAny(None, libvirt.VIR_DOMAIN_EVENT_ID_DEVICE_REMOVED, removed, None)
        c.domainEventRegisterAny(
            None, libvirt.VIR_DOMAIN_EVENT_ID_METADATA_CHANGE, metadata, None
        )

    def drain_events(self):
        """Run the event loop until an iteration that ends on our 10 ms timer dispatches
        nothing new; returns the events received since the last drain."""
        fired = [False]

        def tick(_timer, _opaque):
            fired[0] = True

        timer = libvirt.virEventAddTimeout(10, tick, None)
        try:
            for _ in range(1000):
                before = len(self.events)
                fired[0] = False
                libvirt.virEventRunDefaultImpl()
                if fired[0] and len(self.events) == before:
                    break
        finally:
            libvirt.virEventRemoveTimeout(timer)
        got, self.events = self.events, []
        return got

    # ---- arguments ----

    def text(self, step, key, default=None):
        """A text argument: inline, or `@file` read from beside the scenario."""
        value = step.get(key, default)
        if isinstance(value, str) and value.startswith("@"):
            with open(os.path.join(self.base, value[1:]), encoding="utf-8") as f:
                value = f.read()
        return value

    def path(self, step):
        value = step["path"]
        if value.startswith("@tmp/"):
            return os.path.join(self.tmpdir, value[len("@tmp/"):])
        return value

    def handle(self, ref):
        if ref[1:] not in self.handles:
            raise MissingHandle("no handle '%s': the step that keeps it failed" % ref[1:])
        return self.handles[ref[1:]]

    def dom(self, step):
        ref = step["dom"]
        if ref.startswith("$"):
            return self.handle(ref)
        return self.conn.lookupByName(ref)

    def snap(self, step):
        ref = step["snap"]
        if ref.startswith("$"):
            return self.handle(ref)
        return self.dom(step).snapshotLookupByName(ref, 0)

    # ---- operations ----

    def run_op(self, step):  # noqa: C901 (one branch per operation, on purpose)
        op = step["op"]
        flags = step.get("flags", 0)
        c = self.conn
        keep = None  # a handle to remember under step["as"]
        result = None

        # connection
        if op == "hostname":
            result = c.getHostname()
        elif op == "node_info":
            i = c.getInfo()
            result = {
                "model": i[0], "memory_mib": i[1], "cpus": i[2], "mhz": i[3],
                "nodes": i[4], "sockets": i[5], "cores": i[6], "threads": i[7],
            }
        elif op == "version":
            result = c.getVersion()
        elif op == "type":
            result = c.getType()
        elif op == "uri":
            result = c.getURI()
        elif op == "max_vcpus":
            result = c.getMaxVcpus(step.get("kind"))
        elif op == "free_memory":
            result = c.getFreeMemory()
        elif op == "capabilities":
            result = c.getCapabilities()
        elif op == "num_domains":
            result = c.numOfDomains()
        elif op == "num_defined":
            result = c.numOfDefinedDomains()
        elif op == "list_ids":
            result = sorted(c.listDomainsID())
        elif op == "list_defined":
            result = sorted(c.listDefinedDomains())
        elif op == "list_all":
            result = sorted((dom_summary(d) for d in c.listAllDomains(flags)),
                            key=lambda d: d["name"])
        # finding domains
        elif op == "lookup_name":
            keep = c.lookupByName(step["name"])
            result = dom_summary(keep)
        elif op == "lookup_uuid":
            keep = c.lookupByUUIDString(step["uuid"])
            result = dom_summary(keep)
        elif op == "lookup_id":
            keep = c.lookupByID(step["id"])
            result = dom_summary(keep)
        # defining and starting
        elif op == "define":
            xml = self.text(step, "xml")
            keep = c.defineXMLFlags(xml, flags) if "flags" in step else c.defineXML(xml)
            result = dom_summary(keep)
        elif op == "create_xml":
            keep = c.createXML(self.text(step, "xml"), flags)
            result = dom_summary(keep)
        elif op == "restore":
            dxml = self.text(step, "dxml")
            if dxml is None and "flags" not in step:
                c.restore(self.path(step))
            else:
                c.restoreFlags(self.path(step), dxml, flags)
        elif op == "save_image_xml":
            result = c.saveImageGetXMLDesc(self.path(step), flags)
        elif op == "undefine":
            d = self.dom(step)
            d.undefineFlags(flags) if "flags" in step else d.undefine()
        elif op == "create":
            d = self.dom(step)
            d.createWithFlags(flags) if "flags" in step else d.create()
        # lifecycle
        elif op == "destroy":
            d = self.dom(step)
            d.destroyFlags(flags) if "flags" in step else d.destroy()
        elif op == "shutdown":
            d = self.dom(step)
            d.shutdownFlags(flags) if "flags" in step else d.shutdown()
        elif op == "reboot":
            self.dom(step).reboot(flags)
        elif op == "reset":
            self.dom(step).reset(flags)
        elif op == "suspend":
            self.dom(step).suspend()
        elif op == "resume":
            self.dom(step).resume()
        elif op == "save":
            d = self.dom(step)
            dxml = self.text(step, "dxml")
            if dxml is None and "flags" not in step:
                d.save(self.path(step))
            else:
                d.saveFlags(self.path(step), dxml, flags)
        elif op == "managed_save":
            self.dom(step).managedSave(flags)
        elif op == "has_managed_save":
            result = bool(self.dom(step).hasManagedSaveImage(flags))
        elif op == "managed_save_remove":
            self.dom(step).managedSaveRemove(flags)
        # reading
        elif op == "name":
            result = self.dom(step).name()
        elif op == "uuid":
            result = self.dom(step).UUIDString()
        elif op == "id":
            result = self.dom(step).ID()
        elif op == "info":
            i = self.dom(step).info()
            result = {
                "state": i[0], "max_mem_kib": i[1], "memory_kib": i[2],
                "nr_virt_cpu": i[3], "cpu_time": "@CPU-TIME@",
            }
        elif op == "state":
            result = self.dom(step).state(flags)
        elif op == "xml":
            result = self.dom(step).XMLDesc(flags)
        elif op == "os_type":
            result = self.dom(step).OSType()
        elif op == "is_active":
            result = bool(self.dom(step).isActive())
        elif op == "is_persistent":
            result = bool(self.dom(step).isPersistent())
        elif op == "is_updated":
            result = bool(self.dom(step).isUpdated())
        elif op == "autostart":
            result = bool(self.dom(step).autostart())
        elif op == "set_autostart":
            self.dom(step).setAutostart(1 if step["value"] else 0)
        elif op == "max_memory":
            result = self.dom(step).maxMemory()
        # resources
        elif op == "set_memory":
            d = self.dom(step)
            d.setMemoryFlags(step["kib"], flags) if "flags" in step else d.setMemory(step["kib"])
        elif op == "set_max_memory":
            self.dom(step).setMaxMemory(step["kib"])
        elif op == "vcpus":
            result = self.dom(step).vcpusFlags(flags)
        elif op == "dom_max_vcpus":
            result = self.dom(step).maxVcpus()
        elif op == "set_vcpus":
            d = self.dom(step)
            d.setVcpusFlags(step["count"], flags) if "flags" in step else d.setVcpus(step["count"])
        elif op == "attach_device":
            self.dom(step).attachDeviceFlags(self.text(step, "xml"), flags)
        elif op == "detach_device":
            self.dom(step).detachDeviceFlags(self.text(step, "xml"), flags)
        elif op == "update_device":
            self.dom(step).updateDeviceFlags(self.text(step, "xml"), flags)
        elif op == "metadata":
            result = self.dom(step).metadata(step["kind"], step.get("uri"), flags)
        elif op == "set_metadata":
            self.dom(step).setMetadata(
                step["kind"], self.text(step, "value"), step.get("key"), step.get("uri"), flags
            )
        # snapshots
        elif op == "snapshot_create":
            keep = self.dom(step).snapshotCreateXML(self.text(step, "xml", ""), flags)
            result = keep.getName()
        elif op == "snapshot_list":
            result = sorted(s.getName() for s in self.dom(step).listAllSnapshots(flags))
        elif op == "snapshot_names":
            result = sorted(self.dom(step).snapshotListNames(flags))
        elif op == "snapshot_num":
            result = self.dom(step).snapshotNum(flags)
        elif op == "snapshot_lookup":
            keep = self.dom(step).snapshotLookupByName(step["name"], flags)
            result = keep.getName()
        elif op == "snapshot_current":
            keep = self.dom(step).snapshotCurrent(flags)
            result = keep.getName()
        elif op == "has_current_snapshot":
            result = bool(self.dom(step).hasCurrentSnapshot(flags))
        elif op == "snapshot_parent":
            keep = self.snap(step).getParent(flags)
            result = keep.getName()
        elif op == "snapshot_children":
            result = sorted(s.getName() for s in self.snap(step).listAllChildren(flags))
        elif op == "snapshot_num_children":
            result = self.snap(step).numChildren(flags)
        elif op == "snapshot_xml":
            result = self.snap(step).getXMLDesc(flags)
        elif op == "snapshot_is_current":
            result = bool(self.snap(step).isCurrent(flags))
        elif op == "snapshot_has_metadata":
            result = bool(self.snap(step).hasMetadata(flags))
        elif op == "snapshot_revert":
            self.dom(step).revertToSnapshot(self.snap(step), flags)
        elif op == "snapshot_delete":
            self.snap(step).delete(flags)
        else:
            raise StepError("unknown operation %r" % op)

        if "as" in step:
            if keep is None:
                raise StepError("operation %r returns no handle to keep" % op)
            self.handles[step["as"]] = keep
        return result

    def input_uuids(self):
        """The UUIDs the scenario supplies, in its steps and the files they name."""
        found = set()
        for step in self.scenario["steps"]:
            for key, value in step.items():
                if not isinstance(value, str):
                    continue
                if key in TEXT_KEYS:
                    value = self.text(step, key)
                found.update(u.lower() for u in UUID_RE.findall(value))
        return found

    def run(self):
        steps = []
        self.drain_events()  # nothing should be pending; anything would be dropped
        for index, step in enumerate(self.scenario["steps"], start=1):
            entry = {"step": index, "op": step["op"]}
            try:
                entry["result"] = self.run_op(step)
            except libvirt.libvirtError as e:
                entry["error"] = {
                    "code": e.get_error_code(),
                    "domain": e.get_error_domain(),
                    "message": e.get_error_message(),
                }
            except MissingHandle as e:
                entry["error"] = {"code": -1, "domain": -1, "message": str(e)}
            entry["events"] = self.drain_events()
            steps.append(entry)
        return steps


def normalise(steps, start, end, input_uuids, tmpdir):
    """The normalisations listed in NORMALISED, applied to every string in the steps."""
    known = set(FIXED_UUIDS) | input_uuids
    labels = {}

    def uuid(m):
        u = m.group(0).lower()
        if u in known:
            return m.group(0)
        if u not in labels:
            labels[u] = "@UUID-%d@" % (len(labels) + 1)
        return labels[u]

    def digits(m):
        return "@TIME@" if start <= int(m.group(0)) <= end else m.group(0)

    def fix(s):
        s = s.replace(tmpdir, "@TMP@")
        s = UUID_RE.sub(uuid, s)
        return DIGITS_RE.sub(digits, s)

    def walk(v):
        if isinstance(v, str):
            return fix(v)
        if isinstance(v, list):
            return [walk(x) for x in v]
        if isinstance(v, dict):
            return {k: walk(v[k]) for k in sorted(v)}
        return v

    out = []
    for step in steps:
        fixed = {"step": step["step"], "op": step["op"]}
        for key in ("result", "error", "events"):
            if key in step:
                fixed[key] = walk(step[key])
        out.append(fixed)
    return out


def main(argv):
    if len(argv) < 2:
        sys.stderr.write(__doc__)
        return 2
    scenario = argv[1]
    if "--tmpdir" in argv:
        tmpdir = os.path.abspath(argv[argv.index("--tmpdir") + 1])
        own_tmp = False
    else:
        tmpdir = tempfile.mkdtemp(prefix="difftest-libvirt-")
        own_tmp = True
    try:
        start = int(time.time()) - 1
        runner = Runner(scenario, tmpdir)
        steps = runner.run()
        end = int(time.time()) + 1
        transcript = {
            "scenario": runner.name,
            "runner": "libvirt %d (python3-libvirt, test:///default)" % libvirt.getVersion(),
            "normalised": NORMALISED,
            "steps": normalise(steps, start, end, runner.input_uuids(), tmpdir),
        }
        runner.conn.close()
    finally:
        if own_tmp:
            shutil.rmtree(tmpdir, ignore_errors=True)
    json.dump(transcript, sys.stdout, indent=1, sort_keys=True)
    sys.stdout.write("\n")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
