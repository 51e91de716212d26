//! Parse and format benchmarks of the domain and snapshot models.
//!
//! Run with `cargo bench -p oxvirt-domain` (or `cargo xtask bench`). The minimal domain is
//! libvirt's own `qemuxml2argvdata/minimal.xml` when `../shared/conformance` (or
//! `OXVIRT_CONFORMANCE`) has it, else an equivalent embedded here; the large domain (62
//! devices) is `benches/data/large-domain.xml`.

use std::hint::black_box;
use std::path::{Path, PathBuf};

use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use oxvirt_domain::snapshot::DomainSnapshot;
use oxvirt_domain::Domain;

/// Used when libvirt's test data is not beside the project.
const MINIMAL_FALLBACK: &str = "<domain type='qemu'>
  <name>bench-minimal</name>
  <uuid>0d4f1a52-6a3e-4c3b-9a61-7e2f3b8c5d10</uuid>
  <memory unit='KiB'>262144</memory>
  <currentMemory unit='KiB'>262144</currentMemory>
  <vcpu placement='static'>1</vcpu>
  <os>
    <type arch='x86_64' machine='pc'>hvm</type>
    <boot dev='hd'/>
  </os>
  <clock offset='utc'/>
  <on_poweroff>destroy</on_poweroff>
  <on_reboot>restart</on_reboot>
  <on_crash>destroy</on_crash>
  <devices>
    <emulator>/usr/bin/qemu-system-x86_64</emulator>
    <disk type='file' device='disk'>
      <source file='/var/lib/oxvirt/images/minimal.img'/>
      <target dev='hda' bus='ide'/>
    </disk>
    <controller type='ide' index='0'/>
    <memballoon model='virtio'/>
  </devices>
</domain>
";

const LARGE: &str = include_str!("data/large-domain.xml");

/// A snapshot of a guest that is not recorded whole: name, state, memory and disks.
const SMALL_SNAPSHOT: &str = "<domainsnapshot>
  <name>before-upgrade</name>
  <description>Taken before the package upgrade</description>
  <state>running</state>
  <parent>
    <name>installed</name>
  </parent>
  <creationTime>1700000000</creationTime>
  <memory snapshot='external' file='/var/lib/oxvirt/snapshots/before-upgrade.mem'/>
  <disks>
    <disk name='vda' snapshot='external' type='file'>
      <driver type='qcow2'/>
      <source file='/var/lib/oxvirt/images/vda.before-upgrade'/>
    </disk>
    <disk name='vdb' snapshot='no'/>
  </disks>
  <domain>
    <uuid>0d4f1a52-6a3e-4c3b-9a61-7e2f3b8c5d10</uuid>
  </domain>
</domainsnapshot>
";

fn conformance_file(rel: &str) -> Option<String> {
    let base = match std::env::var_os("OXVIRT_CONFORMANCE") {
        Some(p) => PathBuf::from(p),
        None => Path::new(env!("CARGO_MANIFEST_DIR")).join("../../../shared/conformance"),
    };
    std::fs::read_to_string(base.join("libvirt-9.0.0/domain").join(rel)).ok()
}

/// A snapshot recording the large domain whole, with an entry for each of its 12 disks.
fn large_snapshot() -> String {
    let disks: String = (0..8)
        .map(|i| format!("vd{}", char::from(b'a' + i)))
        .chain((0..4).map(|i| format!("sd{}", char::from(b'a' + i))))
        .map(|d| {
            format!(
                "    <disk name='{d}' snapshot='external' type='file'>\n      \
                 <driver type='qcow2'/>\n      <source file='/snap/{d}.s1'/>\n    </disk>\n"
            )
        })
        .collect();
    let domain: String = LARGE.lines().map(|l| format!("  {l}\n")).collect();
    format!(
        "<domainsnapshot>\n  <name>s1</name>\n  <state>running</state>\n  \
         <creationTime>1700000000</creationTime>\n  <memory snapshot='internal'/>\n  \
         <disks>\n{disks}  </disks>\n{domain}</domainsnapshot>\n"
    )
}

fn parse_domain(xml: &str) -> Domain {
    match Domain::parse(xml) {
        Ok(p) => p.domain,
        Err(e) => panic!("benchmark domain rejected: {e}"),
    }
}

fn parse_snapshot(xml: &str) -> DomainSnapshot {
    match DomainSnapshot::parse(xml) {
        Ok(p) => p.snapshot,
        Err(e) => panic!("benchmark snapshot rejected: {e}"),
    }
}

fn domains(c: &mut Criterion) {
    let minimal = conformance_file("qemuxml2argvdata/minimal.xml").unwrap_or_else(|| {
        eprintln!("minimal.xml not found beside the project; using the embedded minimal domain");
        MINIMAL_FALLBACK.to_string()
    });
    for (name, xml) in [("minimal", minimal.as_str()), ("large", LARGE)] {
        let parsed = parse_domain(xml);
        let mut g = c.benchmark_group(format!("domain/{name}"));
        g.throughput(Throughput::Bytes(xml.len() as u64));
        g.bench_function("parse", |b| b.iter(|| parse_domain(black_box(xml))));
        g.bench_function("format", |b| b.iter(|| black_box(&parsed).to_xml()));
        g.bench_function("parse+format", |b| {
            b.iter(|| parse_domain(black_box(xml)).to_xml())
        });
        g.finish();
    }
}

fn snapshots(c: &mut Criterion) {
    let large = large_snapshot();
    for (name, xml) in [("small", SMALL_SNAPSHOT), ("large-domain", large.as_str())] {
        let parsed = parse_snapshot(xml);
        let mut g = c.benchmark_group(format!("snapshot/{name}"));
        g.throughput(Throughput::Bytes(xml.len() as u64));
        g.bench_function("parse", |b| b.iter(|| parse_snapshot(black_box(xml))));
        g.bench_function("format", |b| b.iter(|| black_box(&parsed).to_xml()));
        g.finish();
    }
}

criterion_group!(benches, domains, snapshots);
criterion_main!(benches);
