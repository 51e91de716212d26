#!/usr/bin/env python3
"""Generates the argument/result structs of src/remote/*.rs for the 88 core procedures.

The spec below is transcribed from ../shared/docs/protocol-core-procedures.md (field names
as in libvirt's remote_protocol.x). Run from the workspace root, then `cargo fmt`.
"""
import pathlib
import re

OUT = pathlib.Path(__file__).resolve().parents[1] / "src" / "remote"

# (area, number, Name, args, ret); fields "name:type[:max]"; "-" = void.
SPEC = [
    ("connect", 1, "ConnectOpen", "name:str?, flags:u32", "-"),
    ("connect", 2, "ConnectClose", "-", "-"),
    ("connect", 3, "ConnectGetType", "-", "type:str"),
    ("connect", 4, "ConnectGetVersion", "-", "hv_ver:u64"),
    ("node", 6, "NodeGetInfo", "-", "model:char32, memory:u64, cpus:int, mhz:int, nodes:int, sockets:int, cores:int, threads:int"),
    ("connect", 7, "ConnectGetCapabilities", "-", "capabilities:str"),
    ("domain", 9, "DomainCreate", "dom:dom", "-"),
    ("domain", 11, "DomainDefineXml", "xml:str", "dom:dom"),
    ("domain", 12, "DomainDestroy", "dom:dom", "-"),
    ("domain", 14, "DomainGetXmlDesc", "dom:dom, flags:u32", "xml:str"),
    ("domain", 15, "DomainGetAutostart", "dom:dom", "autostart:int"),
    ("domain", 16, "DomainGetInfo", "dom:dom", "state:uchar, maxMem:u64, memory:u64, nrVirtCpu:ushort, cpuTime:u64"),
    ("domain", 19, "DomainGetOsType", "dom:dom", "type:str"),
    ("domain", 22, "DomainLookupById", "id:int", "dom:dom"),
    ("domain", 23, "DomainLookupByName", "name:str", "dom:dom"),
    ("domain", 24, "DomainLookupByUuid", "uuid:uuid", "dom:dom"),
    ("domain", 27, "DomainReboot", "dom:dom, flags:u32", "-"),
    ("domain", 28, "DomainResume", "dom:dom", "-"),
    ("domain", 33, "DomainShutdown", "dom:dom", "-"),
    ("domain", 34, "DomainSuspend", "dom:dom", "-"),
    ("network", 39, "NetworkCreate", "net:net", "-"),
    ("network", 41, "NetworkDefineXml", "xml:str", "net:net"),
    ("network", 42, "NetworkDestroy", "net:net", "-"),
    ("network", 43, "NetworkGetXmlDesc", "net:net, flags:u32", "xml:str"),
    ("network", 44, "NetworkGetAutostart", "net:net", "autostart:int"),
    ("network", 46, "NetworkLookupByName", "name:str", "net:net"),
    ("network", 47, "NetworkLookupByUuid", "uuid:uuid", "net:net"),
    ("domain", 54, "DomainRestore", "from:str", "-"),
    ("domain", 55, "DomainSave", "dom:dom, to:str", "-"),
    ("connect", 59, "ConnectGetHostname", "-", "hostname:str"),
    ("connect", 60, "ConnectSupportsFeature", "feature:int", "supported:int"),
    ("connect", 66, "AuthList", "-", "types:authtype:AUTH_TYPE_LIST_MAX"),
    ("connect", 70, "AuthPolkit", "-", "complete:int"),
    ("storage", 77, "StoragePoolDefineXml", "xml:str, flags:u32", "pool:pool"),
    ("storage", 78, "StoragePoolCreate", "pool:pool, flags:u32", "-"),
    ("storage", 84, "StoragePoolLookupByName", "name:str", "pool:pool"),
    ("storage", 85, "StoragePoolLookupByUuid", "uuid:uuid", "pool:pool"),
    ("storage", 86, "StoragePoolLookupByVolume", "vol:vol", "pool:pool"),
    ("storage", 87, "StoragePoolGetInfo", "pool:pool", "state:uchar, capacity:u64, allocation:u64, available:u64"),
    ("storage", 89, "StoragePoolGetAutostart", "pool:pool", "autostart:int"),
    ("storage", 93, "StorageVolCreateXml", "pool:pool, xml:str, flags:u32", "vol:vol"),
    ("storage", 94, "StorageVolDelete", "vol:vol, flags:u32", "-"),
    ("storage", 95, "StorageVolLookupByName", "pool:pool, name:str", "vol:vol"),
    ("storage", 96, "StorageVolLookupByKey", "key:str", "vol:vol"),
    ("storage", 97, "StorageVolLookupByPath", "path:str", "vol:vol"),
    ("storage", 100, "StorageVolGetPath", "vol:vol", "name:str"),
    ("connect", 110, "ConnectGetUri", "-", "uri:str"),
    ("domain", 121, "DomainGetSecurityLabel", "dom:dom", "label:chars:SECURITY_LABEL_MAX, enforcing:int"),
    ("node", 122, "NodeGetSecurityModel", "-", "model:chars:SECURITY_MODEL_MAX, doi:chars:SECURITY_DOI_MAX"),
    ("domain", 150, "DomainIsActive", "dom:dom", "active:int"),
    ("domain", 151, "DomainIsPersistent", "dom:dom", "persistent:int"),
    ("network", 152, "NetworkIsActive", "net:net", "active:int"),
    ("network", 153, "NetworkIsPersistent", "net:net", "persistent:int"),
    ("storage", 154, "StoragePoolIsActive", "pool:pool", "active:int"),
    ("connect", 157, "ConnectGetLibVersion", "-", "lib_ver:u64"),
    ("domain", 163, "DomainGetJobInfo", "dom:dom", "type:int, timeElapsed:u64, timeRemaining:u64, dataTotal:u64, dataProcessed:u64, dataRemaining:u64, memTotal:u64, memProcessed:u64, memRemaining:u64, fileTotal:u64, fileProcessed:u64, fileRemaining:u64"),
    ("domain", 164, "DomainAbortJob", "dom:dom", "-"),
    ("domain", 183, "DomainHasManagedSaveImage", "dom:dom, flags:u32", "result:int"),
    ("snapshot", 185, "DomainSnapshotCreateXml", "dom:dom, xml_desc:str, flags:u32", "snap:snap"),
    ("snapshot", 186, "DomainSnapshotGetXmlDesc", "snap:snap, flags:u32", "xml:str"),
    ("snapshot", 187, "DomainSnapshotNum", "dom:dom, flags:u32", "num:int"),
    ("domain", 196, "DomainCreateWithFlags", "dom:dom, flags:u32", "dom:dom"),
    ("domain", 212, "DomainGetState", "dom:dom, flags:u32", "state:int, reason:int"),
    ("domain", 231, "DomainUndefineFlags", "dom:dom, flags:u32", "-"),
    ("domain", 232, "DomainSaveFlags", "dom:dom, to:str, dxml:str?, flags:u32", "-"),
    ("domain", 233, "DomainRestoreFlags", "from:str, dxml:str?, flags:u32", "-"),
    ("domain", 234, "DomainDestroyFlags", "dom:dom, flags:u32", "-"),
    ("domain", 258, "DomainShutdownFlags", "dom:dom, flags:u32", "-"),
    ("connect", 273, "ConnectListAllDomains", "need_results:int, flags:u32", "domains:doms:DOMAIN_LIST_MAX, ret:u32"),
    ("snapshot", 274, "DomainListAllSnapshots", "dom:dom, need_results:int, flags:u32", "snapshots:snaps:DOMAIN_SNAPSHOT_LIST_MAX, ret:int"),
    ("connect", 281, "ConnectListAllStoragePools", "need_results:int, flags:u32", "pools:pools:STORAGE_POOL_LIST_MAX, ret:u32"),
    ("storage", 282, "StoragePoolListAllVolumes", "pool:pool, need_results:int, flags:u32", "vols:vols:STORAGE_VOL_LIST_MAX, ret:u32"),
    ("connect", 283, "ConnectListAllNetworks", "need_results:int, flags:u32", "nets:nets:NETWORK_LIST_MAX, ret:u32"),
    ("migrate", 302, "DomainMigrateBegin3Params", "dom:dom, params:tparam:DOMAIN_MIGRATE_PARAM_LIST_MAX, flags:u32", "cookie_out:opaque:MIGRATE_COOKIE_MAX, xml:str"),
    ("migrate", 303, "DomainMigratePrepare3Params", "params:tparam:DOMAIN_MIGRATE_PARAM_LIST_MAX, cookie_in:opaque:MIGRATE_COOKIE_MAX, flags:u32", "cookie_out:opaque:MIGRATE_COOKIE_MAX, uri_out:str?"),
    ("migrate", 304, "DomainMigratePrepareTunnel3Params", "params:tparam:DOMAIN_MIGRATE_PARAM_LIST_MAX, cookie_in:opaque:MIGRATE_COOKIE_MAX, flags:u32", "cookie_out:opaque:MIGRATE_COOKIE_MAX"),
    ("migrate", 305, "DomainMigratePerform3Params", "dom:dom, dconnuri:str?, params:tparam:DOMAIN_MIGRATE_PARAM_LIST_MAX, cookie_in:opaque:MIGRATE_COOKIE_MAX, flags:u32", "cookie_out:opaque:MIGRATE_COOKIE_MAX"),
    ("migrate", 306, "DomainMigrateFinish3Params", "params:tparam:DOMAIN_MIGRATE_PARAM_LIST_MAX, cookie_in:opaque:MIGRATE_COOKIE_MAX, flags:u32, cancelled:int", "dom:dom, cookie_out:opaque:MIGRATE_COOKIE_MAX"),
    ("migrate", 307, "DomainMigrateConfirm3Params", "dom:dom, params:tparam:DOMAIN_MIGRATE_PARAM_LIST_MAX, cookie_in:opaque:MIGRATE_COOKIE_MAX, flags:u32, cancelled:int", "-"),
    ("events", 316, "ConnectDomainEventCallbackRegisterAny", "eventID:int, dom:dom?", "callbackID:int"),
    ("events", 317, "ConnectDomainEventCallbackDeregisterAny", "callbackID:int", "-"),
    ("events", 318, "DomainEventCallbackLifecycle", "-", "-"),
    ("domain", 344, "ConnectGetAllDomainStats", "doms:doms:DOMAIN_LIST_MAX, stats:u32, flags:u32", "retStats:statsrecs:DOMAIN_LIST_MAX"),
    ("domain", 350, "DomainDefineXmlFlags", "xml:str, flags:u32", "dom:dom"),
    ("connect", 360, "ConnectRegisterCloseCallback", "-", "-"),
    ("connect", 361, "ConnectUnregisterCloseCallback", "-", "-"),
    ("domain", 426, "DomainGetMessages", "dom:dom, flags:u32", "msgs:strs:DOMAIN_MESSAGES_MAX"),
    ("network", 432, "NetworkDefineXmlFlags", "xml:str, flags:u32", "net:net"),
]

TYPES = {
    "str": "String", "str?": "Option<String>", "u32": "u32", "int": "i32", "u64": "u64",
    "uchar": "u8", "ushort": "u16", "dom": "NonnullDomain", "dom?": "Option<NonnullDomain>",
    "net": "NonnullNetwork", "pool": "NonnullStoragePool", "vol": "NonnullStorageVol",
    "snap": "NonnullDomainSnapshot", "uuid": "Uuid", "char32": "FixedChars<32>",
    "chars": "CharArray", "opaque": "Opaque", "tparam": "Vec<TypedParam>",
    "doms": "Vec<NonnullDomain>", "nets": "Vec<NonnullNetwork>",
    "pools": "Vec<NonnullStoragePool>", "vols": "Vec<NonnullStorageVol>",
    "snaps": "Vec<NonnullDomainSnapshot>", "strs": "Vec<String>",
    "statsrecs": "Vec<DomainStatsRecord>", "authtype": "Vec<AuthType>",
}

DOCS = {
    "dom": "The domain.", "net": "The network.", "pool": "The storage pool.",
    "vol": "The storage volume.", "snap": "The snapshot.",
    "flags": "The call's flags (libvirt's `unsigned int flags`).",
    "xml": "The XML document.", "name": "The object's name.", "uuid": "The object's UUID.",
    "autostart": "1 when the object starts with the daemon, else 0.",
    "need_results": "0 asks only for the count; non-zero asks for the list too.",
    "ret": "How many objects matched.", "active": "1 when active, else 0.",
    "persistent": "1 when persistent, else 0.", "params": "Typed parameters.",
    "cookie_in": "Migration cookie from the other side.",
    "cookie_out": "Migration cookie for the other side.",
    "cancelled": "Non-zero when the migration was cancelled.",
    "dxml": "Replacement domain XML, if any.", "type": "The type string or number.",
    "state": "The object's state number.", "memory": "Memory (KiB).",
}

CAMEL_RE = re.compile(r"(?<=[a-z])(?=[A-Z])")


def snake(name):
    s = CAMEL_RE.sub("_", name).lower()
    return "r#type" if s == "type" else s


def fields(spec):
    if spec == "-":
        return []
    out = []
    for item in spec.split(", "):
        parts = item.split(":")
        name, ty = parts[0], parts[1]
        mx = parts[2] if len(parts) > 2 else None
        out.append((name, snake(name), TYPES[ty], mx))
    return out


def has_float(fs):
    return any("TypedParam" in t or "DomainStatsRecord" in t for _, _, t, _ in fs)


def struct(name, kind, number, wire, fs):
    derive = "Debug, Clone, PartialEq, Xdr" if has_float(fs) else "Debug, Clone, PartialEq, Eq, Xdr"
    c = wire.lower()
    lines = [f"/// `remote_{c}_{kind.lower()}`: the {'arguments' if kind == 'Args' else 'result'} of procedure {number} (`REMOTE_PROC_{wire}`).",
             f"#[derive({derive})]", f"pub struct {name}{kind} {{"]
    for orig, rust, ty, mx in fs:
        doc = DOCS.get(rust.replace("r#", ""), f"`{orig}`.")
        lines.append(f"    /// {doc}")
        if mx:
            lines.append(f"    #[xdr(max = crate::remote::{mx})]")
        lines.append(f"    pub {rust}: {ty},")
    lines.append("}")
    return "\n".join(lines)


TSV = pathlib.Path(__file__).resolve().parents[4] / "shared" / "docs" / "remote-procedures.tsv"
WIRE = {}
for line in TSV.read_text().splitlines():
    if line.strip():
        num, full = line.split("\t")
        WIRE[int(num)] = full.strip()[len("REMOTE_PROC_"):]

SAMPLES = {
    "String": lambda f: f'"{f}-value".into()',
    "Option<String>": lambda f: f'Some("{f}-opt".into())',
    "u32": lambda f: "0xdead_beef", "i32": lambda f: "-7", "u64": lambda f: "0x0102_0304_0506_0708",
    "u8": lambda f: "5", "u16": lambda f: "513",
    "NonnullDomain": lambda f: "dom()", "Option<NonnullDomain>": lambda f: "Some(dom())",
    "NonnullNetwork": lambda f: "net()", "NonnullStoragePool": lambda f: "pool()",
    "NonnullStorageVol": lambda f: "vol()", "NonnullDomainSnapshot": lambda f: "snap()",
    "Uuid": lambda f: "UUID", "FixedChars<32>": lambda f: 'FixedChars("i686".into())',
    "CharArray": lambda f: f'CharArray("{f}".into())', "Opaque": lambda f: "Opaque(vec![1, 2, 3, 4, 5])",
    "Vec<TypedParam>": lambda f: "params()", "Vec<NonnullDomain>": lambda f: "vec![dom(), dom()]",
    "Vec<NonnullNetwork>": lambda f: "vec![net()]", "Vec<NonnullStoragePool>": lambda f: "vec![pool()]",
    "Vec<NonnullStorageVol>": lambda f: "vec![vol(), vol()]",
    "Vec<NonnullDomainSnapshot>": lambda f: "vec![snap()]",
    "Vec<String>": lambda f: 'vec!["a".into(), "bcdef".into()]',
    "Vec<DomainStatsRecord>": lambda f: "vec![DomainStatsRecord { dom: dom(), params: params() }]",
    "Vec<AuthType>": lambda f: "vec![AuthType::None, AuthType::Polkit]",
}


by_area = {}
counts = {"args": 0, "ret": 0}
registry = []
for area, number, name, args, ret in SPEC:
    wire = WIRE[number]
    items = by_area.setdefault(area, [])
    for kind, spec in (("Args", args), ("Ret", ret)):
        fs = fields(spec)
        if fs:
            items.append(struct(name, kind, number, wire, fs))
            counts["args" if kind == "Args" else "ret"] += 1
            sample = ", ".join(f"{rust}: {SAMPLES[ty](orig)}" for orig, rust, ty, _ in fs)
            registry.append(f"        rt({name}{kind} {{ {sample} }});")

HEADERS = {
    "connect": "Connection-level procedures: open/close, identity, features, auth, listing.",
    "node": "Host (node) information.",
    "domain": "Domain procedures: lookup, define, lifecycle, info, save/restore, stats.",
    "network": "Virtual network procedures.",
    "storage": "Storage pool and volume procedures.",
    "snapshot": "Domain snapshot procedures.",
    "migrate": "Migration (version 3, typed-parameter) procedures.",
    "events": "Domain event callback registration.",
}
for area, items in by_area.items():
    text = f"//! {HEADERS[area]}\n//!\n//! Generated by `scripts/gen_remote.py`; procedure numbers are in the doc comments.\n\n"
    body = "\n\n".join(items)
    uses = []
    remote = [t for t in ("AuthType", "DomainStatsRecord", "NonnullDomainSnapshot", "NonnullStoragePool", "NonnullStorageVol", "TypedParam") if re.search(r"\b" + t + r"\b", body)]
    if remote:
        uses.append("use crate::remote::{" + ", ".join(remote) + "};")
    types = [t for t in ("NonnullDomain", "NonnullNetwork", "Uuid") if re.search(r"\b" + t + r"\b", body)]
    if types:
        uses.append("use crate::types::{" + ", ".join(types) + "};")
    xdr = [t for t in ("CharArray", "FixedChars", "Opaque") if re.search(r"\b" + t + r"\b", body)]
    if xdr:
        uses.append("use crate::xdr::{" + ", ".join(xdr) + "};")
    uses.append("use crate::Xdr;")
    text += "\n".join(uses) + "\n\n"
    text += body + "\n"
    (OUT / f"{area}.rs").write_text(text)

rt_text = ("//! Generated by `scripts/gen_remote.py`: one sample value per argument/result struct.\n\n"
           "use super::tests::{dom, net, params, pool, snap, vol, Sample, UUID};\nuse super::*;\nuse crate::xdr::{CharArray, FixedChars, Opaque};\n\n/// Round-trips one sample of every struct through `rt`.\n"
           "pub(super) fn all_samples(mut rt: impl FnMut(&dyn Sample)) {\n"
           + "\n".join(registry).replace("        rt(", "    rt(&") + "\n}\n")
(OUT / "samples.rs").write_text(rt_text)
print(counts, len(SPEC))

core = ["//! Generated by `scripts/gen_remote.py`: the 88 core procedures.", "",
        "use crate::procedures::RemoteProcedure;", "",
        "/// The core procedures of `protocol-core-procedures.md`, in number order; each has its",
        "/// `...Args`/`...Ret` structs in this module (none when that side is void).",
        f"pub const CORE_PROCEDURES: [RemoteProcedure; {len(SPEC)}] = ["]
core += [f"    RemoteProcedure::{name}," for _, _, name, _, _ in SPEC]
core += ["];", ""]
(OUT / "core.rs").write_text("\n".join(core))
