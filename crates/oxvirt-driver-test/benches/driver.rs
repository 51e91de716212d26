//! Test-driver benchmarks: define + undefine throughput and lookup latency.
//!
//! Run with `cargo bench -p oxvirt-driver-test` (or `cargo xtask bench`, which also times
//! libvirt's own test driver on the same operations through python3-libvirt, with
//! `benches/libvirt_reference.py`, and prints the ratios).
//!
//! The population is the default node plus [`POPULATION`] defined domains, so lookups and
//! defines pay for a realistic list, not an empty one.

use std::hint::black_box;

use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use oxvirt_domain::driver::{DomainRef, Hypervisor};
use oxvirt_driver_test::TestDriver;
use tokio::runtime::Runtime;

/// Domains defined beside the default one before measuring.
const POPULATION: usize = 1000;

/// A small but complete guest, as virt-install would define it.
fn domain_xml(name: &str, uuid_tail: usize) -> String {
    format!(
        "<domain type='test'>
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
</domain>"
    )
}

fn populated(rt: &Runtime) -> (TestDriver, Vec<DomainRef>) {
    let conn = TestDriver::open_isolated("/default").expect("the default node opens");
    let doms = rt.block_on(async {
        let mut doms = Vec::with_capacity(POPULATION);
        for i in 0..POPULATION {
            let xml = domain_xml(&format!("pop{i}"), i);
            let dom = conn.define_xml(&xml, 0).await.expect("define");
            doms.push(conn.create(&dom, 0).await.expect("start"));
        }
        doms
    });
    (conn, doms)
}

fn benches(c: &mut Criterion) {
    let rt = tokio::runtime::Builder::new_current_thread()
        .build()
        .expect("a current-thread runtime");
    let (conn, doms) = populated(&rt);
    let probe = &doms[POPULATION / 2];

    let mut g = c.benchmark_group("test-driver");
    g.throughput(Throughput::Elements(1));
    let xml = domain_xml("bench-define", 0xffff_ffff);
    g.bench_function("define+undefine", |b| {
        b.iter(|| {
            rt.block_on(async {
                let dom = conn.define_xml(black_box(&xml), 0).await.expect("define");
                conn.undefine(&dom, 0).await.expect("undefine");
            })
        })
    });
    g.bench_function("lookup_by_name", |b| {
        b.iter(|| {
            rt.block_on(conn.lookup_by_name(black_box(&probe.name)))
                .expect("found")
        })
    });
    g.bench_function("lookup_by_uuid", |b| {
        b.iter(|| {
            rt.block_on(conn.lookup_by_uuid(black_box(&probe.uuid)))
                .expect("found")
        })
    });
    g.bench_function("lookup_by_id", |b| {
        b.iter(|| {
            rt.block_on(conn.lookup_by_id(black_box(probe.id)))
                .expect("found")
        })
    });
    g.bench_function("list_all(1001)", |b| {
        b.iter(|| rt.block_on(conn.list_all(black_box(0))).expect("listed"))
    });
    g.finish();
}

criterion_group!(driver, benches);
criterion_main!(driver);
