//! Statistics, jobs, setmem and disk/interface hotplug of a real guest run by `QemuDriver`
//! (the test guest of `cargo xtask guest`, under TCG).

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use common::{guest_dir, guest_domain, serial_pty, Reaper, Scratch};

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use oxvirt_domain::driver::{DomainRef, Hypervisor, TypedValue};
use oxvirt_qemu::driver::{QemuConfig, QemuDriver};
use oxvirt_xml::ErrorCode;

fn have_guest(test: &str) -> bool {
    let ok =
        guest_dir().join("vmlinuz").exists() && Path::new("/usr/bin/qemu-system-x86_64").exists();
    common::usable(
        test,
        ok,
        "no test guest under target/guest (cargo xtask guest) or no QEMU",
    )
}

fn domain_xml(name: &str) -> String {
    guest_domain(
        name,
        "<vcpu>1</vcpu>",
        "<serial type='pty'/><memballoon model='virtio'/>",
    )
}

async fn wait_serial(path: &Path, want: &str, after: usize, secs: u64) -> bool {
    let start = Instant::now();
    while start.elapsed() < Duration::from_secs(secs) {
        let text = std::fs::read_to_string(path).unwrap_or_default();
        if text.get(after..).is_some_and(|t| t.contains(want)) {
            return true;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    false
}

fn serial_len(path: &Path) -> usize {
    std::fs::read_to_string(path).map(|t| t.len()).unwrap_or(0)
}

fn field<'a>(
    params: &'a [oxvirt_domain::driver::TypedParam],
    name: &str,
) -> Option<&'a TypedValue> {
    params.iter().find(|p| p.field == name).map(|p| &p.value)
}

fn ull(params: &[oxvirt_domain::driver::TypedParam], name: &str) -> u64 {
    match field(params, name) {
        Some(TypedValue::ULLong(v)) => *v,
        other => panic!("{name}: {other:?}"),
    }
}

async fn start(scratch: &Scratch, name: &str) -> (QemuDriver, DomainRef, PathBuf, Reaper) {
    let config = QemuConfig::under(&scratch.0.join("state"), &scratch.0.join("run"));
    let driver = QemuDriver::open(config).await.unwrap();
    let serial = scratch.0.join("serial.log");
    let dom = driver.define_xml(&domain_xml(name), 0).await.unwrap();
    driver.create(&dom, 0).await.unwrap();
    let reaper = Reaper(driver.running_pids());
    // Copy the serial pty into a file the test reads.
    let xml = driver.xml_desc(&dom, 0).await.unwrap();
    let pty = serial_pty(&xml);
    let out = serial.clone();
    std::thread::spawn(move || {
        use std::io::{Read, Write};
        let Ok(mut input) = std::fs::File::open(&pty) else {
            return;
        };
        let mut file = std::fs::File::create(&out).unwrap();
        let mut buf = [0u8; 4096];
        while let Ok(n) = input.read(&mut buf) {
            if n == 0 || file.write_all(&buf[..n]).is_err() {
                break;
            }
        }
    });
    assert!(
        wait_serial(&serial, "OXVIRT-GUEST-READY", 0, 60).await,
        "guest did not boot"
    );
    let dom = driver.lookup_by_name(name).await.unwrap();
    (driver, dom, serial, reaper)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn stats_setmem_and_jobs_of_a_running_guest() {
    if !have_guest("stats_setmem_and_jobs_of_a_running_guest") {
        return;
    }
    let scratch = Scratch::new("devs", "stats");
    let (driver, dom, _serial, _reaper) = start(&scratch, "st1").await;

    let recs = driver
        .domain_stats(std::slice::from_ref(&dom), 0, 0)
        .await
        .unwrap();
    assert_eq!(recs.len(), 1);
    let p = &recs[0].params;
    let names: Vec<&str> = p.iter().map(|x| x.field.as_str()).collect();
    let want_prefix = [
        "state.state",
        "state.reason",
        "cpu.time",
        "cpu.user",
        "cpu.system",
        "cpu.cache.monitor.count",
        "cpu.haltpoll.success.time",
        "cpu.haltpoll.fail.time",
        "balloon.current",
        "balloon.maximum",
        "balloon.last-update",
        "balloon.rss",
        "vcpu.current",
        "vcpu.maximum",
        "vcpu.0.state",
        "vcpu.0.time",
        "vcpu.0.wait",
        "vcpu.0.delay",
        "net.count",
        "block.count",
        "dirtyrate.calc_status",
        "dirtyrate.calc_start_time",
        "dirtyrate.calc_period",
        "dirtyrate.calc_mode",
    ];
    assert_eq!(names, want_prefix);
    assert_eq!(field(p, "state.state"), Some(&TypedValue::Int(1)));
    assert_eq!(field(p, "state.reason"), Some(&TypedValue::Int(1)));
    assert_eq!(field(p, "vcpu.current"), Some(&TypedValue::UInt(1)));
    assert_eq!(field(p, "net.count"), Some(&TypedValue::UInt(0)));
    assert_eq!(field(p, "block.count"), Some(&TypedValue::UInt(0)));
    assert_eq!(field(p, "vcpu.0.state"), Some(&TypedValue::Int(1)));
    assert_eq!(ull(p, "balloon.current"), 262144);
    assert_eq!(ull(p, "balloon.maximum"), 262144);
    assert!(ull(p, "balloon.rss") > 10_000);
    assert_eq!(
        field(p, "dirtyrate.calc_mode"),
        Some(&TypedValue::String("page-sampling".into()))
    );
    let t1 = ull(p, "cpu.time");
    assert!(t1 > 0);
    assert_eq!(t1, ull(p, "cpu.user") + ull(p, "cpu.system"));
    assert!(ull(p, "vcpu.0.time") > 0);
    tokio::time::sleep(Duration::from_millis(600)).await;
    let recs = driver
        .domain_stats(&[], oxvirt_domain::driver::flags::stats::CPU_TOTAL, 0)
        .await
        .unwrap();
    assert_eq!(recs[0].params.len(), 6);
    assert!(ull(&recs[0].params, "cpu.time") > t1, "cpu.time grows");

    // Filters and enforced groups.
    let none = driver
        .domain_stats(&[], 0, oxvirt_domain::driver::flags::all_stats::SHUTOFF)
        .await
        .unwrap();
    assert!(none.is_empty());
    let e = driver
        .domain_stats(
            &[],
            1 << 20,
            oxvirt_domain::driver::flags::all_stats::ENFORCE_STATS,
        )
        .await
        .unwrap_err();
    assert_eq!(e.code, ErrorCode::ArgumentUnsupported);
    assert_eq!(
        e.message,
        "argument unsupported: Stats types bits 0x100000 are not supported by this daemon"
    );

    // setmem.
    let e = driver.set_memory(&dom, 300_000, 0).await.unwrap_err();
    assert_eq!(e.code, ErrorCode::InvalidArg);
    assert_eq!(
        e.message,
        "invalid argument: cannot set memory higher than max memory"
    );
    let e = driver.set_memory(&dom, 100_000, 4 | 1).await.unwrap_err();
    assert_eq!(
        e.message,
        "Requested operation is not valid: cannot resize the maximum memory on an active domain"
    );
    driver.set_memory(&dom, 200_000, 0).await.unwrap();
    driver.set_memory(&dom, 180_000, 2).await.unwrap();
    let inactive = driver.xml_desc(&dom, 2).await.unwrap();
    assert!(
        inactive.contains("<currentMemory unit='KiB'>180000</currentMemory>"),
        "{inactive}"
    );
    let saved = std::fs::read_to_string(scratch.0.join("state/qemu/config/st1.xml")).unwrap();
    assert!(saved.contains("180000"), "{saved}");

    // No job.
    let job = driver.job_info(&dom).await.unwrap();
    assert_eq!(job.kind, 0);
    let e = driver.abort_job(&dom).await.unwrap_err();
    assert_eq!(
        e.message,
        "Requested operation is not valid: no job is active on the domain"
    );

    // A save in progress is an unbounded job with QEMU's figures; an abort cancels it.
    let saver = {
        let driver = driver.clone();
        let dom = dom.clone();
        let path = scratch.0.join("st1.save");
        tokio::spawn(async move { driver.save(&dom, path.to_str().unwrap(), None, 0).await })
    };
    let start = Instant::now();
    let mut seen = None;
    while start.elapsed() < Duration::from_secs(10) && !saver.is_finished() {
        let job = driver.job_info(&dom).await.unwrap();
        if job.kind == 2 && job.data_total > 0 {
            seen = Some(job);
            break;
        }
        tokio::time::sleep(Duration::from_millis(2)).await;
    }
    let job = seen.expect("no unbounded job seen during the save");
    assert_eq!(job.data_total, job.mem_total);
    assert_eq!(job.data_processed, job.mem_processed);
    assert!(job.data_total >= 256 << 20, "{job:?}");
    driver.abort_job(&dom).await.unwrap();
    let e = saver.await.unwrap().unwrap_err();
    assert_eq!(e.code, ErrorCode::OperationAborted, "{}", e.message);
    assert_eq!(
        e.message,
        "operation aborted: job 'domain save' canceled by client"
    );
    assert!(!scratch.0.join("st1.save").exists());
    assert_eq!(
        driver.state(&dom, 0).await.unwrap(),
        oxvirt_domain::driver::StateReason::Running(
            oxvirt_domain::driver::state::RunningReason::SaveCanceled
        )
    );
    assert_eq!(driver.job_info(&dom).await.unwrap().kind, 0);

    // A disk in the persistent definition only shows its files' sizes once shut off.
    let disk = scratch.0.join("cfg.raw");
    std::fs::File::create(&disk)
        .unwrap()
        .set_len(8 << 20)
        .unwrap();
    let disk_xml = format!(
        "<disk type='file' device='disk'><driver name='qemu' type='raw'/>\
         <source file='{}'/><target dev='vda' bus='virtio'/></disk>",
        disk.display()
    );
    driver.attach_device(&dom, &disk_xml, 2).await.unwrap();

    driver.destroy(&dom, 0).await.unwrap();
    assert!(driver.running_pids().is_empty());
    let recs = driver
        .domain_stats(
            std::slice::from_ref(&dom),
            oxvirt_domain::driver::flags::stats::BLOCK,
            0,
        )
        .await
        .unwrap();
    assert_eq!(
        recs[0].params,
        [
            oxvirt_domain::driver::TypedParam::new("block.count", TypedValue::UInt(1)),
            oxvirt_domain::driver::TypedParam::new(
                "block.0.name",
                TypedValue::String("vda".into())
            ),
            oxvirt_domain::driver::TypedParam::new(
                "block.0.path",
                TypedValue::String(disk.display().to_string())
            ),
            oxvirt_domain::driver::TypedParam::new("block.0.capacity", TypedValue::ULLong(8 << 20)),
            oxvirt_domain::driver::TypedParam::new("block.0.physical", TypedValue::ULLong(8 << 20)),
        ]
    );
    driver.detach_device(&dom, &disk_xml, 0).await.unwrap();

    // Shut off: the groups libvirt gives.
    let recs = driver
        .domain_stats(std::slice::from_ref(&dom), 0, 0)
        .await
        .unwrap();
    let names: Vec<&str> = recs[0].params.iter().map(|x| x.field.as_str()).collect();
    assert_eq!(
        names,
        [
            "state.state",
            "state.reason",
            "cpu.time",
            "cpu.user",
            "cpu.system",
            "balloon.current",
            "balloon.maximum",
            "vcpu.current",
            "vcpu.maximum",
            "block.count"
        ]
    );
    assert_eq!(
        field(&recs[0].params, "state.state"),
        Some(&TypedValue::Int(5))
    );
    assert_eq!(ull(&recs[0].params, "balloon.current"), 180_000);
    let e = driver.set_memory(&dom, 100_000, 1).await.unwrap_err();
    assert_eq!(
        e.message,
        "Requested operation is not valid: domain is not running"
    );
    let e = driver.job_info(&dom).await.unwrap_err();
    assert_eq!(
        e.message,
        "Requested operation is not valid: domain is not running"
    );
    driver.set_memory(&dom, 150_000, 0).await.unwrap();
    assert!(driver
        .xml_desc(&dom, 0)
        .await
        .unwrap()
        .contains("<currentMemory unit='KiB'>150000</currentMemory>"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn disk_and_interface_hotplug() {
    if !have_guest("disk_and_interface_hotplug") {
        return;
    }
    let scratch = Scratch::new("devs", "hotplug");
    let (driver, dom, serial, _reaper) = start(&scratch, "hp1").await;
    let mut events = driver.subscribe();
    let disk = scratch.0.join("disk.raw");
    std::fs::File::create(&disk)
        .unwrap()
        .set_len(16 << 20)
        .unwrap();
    let disk_xml = format!(
        "<disk type='file' device='disk'><driver name='qemu' type='raw'/>\
         <source file='{}'/><target dev='vda' bus='virtio'/></disk>",
        disk.display()
    );
    let mark = serial_len(&serial);
    driver.attach_device(&dom, &disk_xml, 1).await.unwrap();
    assert!(
        wait_serial(&serial, "OXVIRT-DISKS: vda", mark, 30).await,
        "guest never saw vda"
    );
    let xml = driver.xml_desc(&dom, 0).await.unwrap();
    assert!(xml.contains("<alias name='virtio-disk0'/>"), "{xml}");
    assert!(
        xml.contains("<address type='pci' domain='0x0000' bus='0x00' slot='0x03' function='0x0'/>"),
        "{xml}"
    );
    let ev = tokio::time::timeout(Duration::from_secs(5), events.recv())
        .await
        .unwrap()
        .unwrap();
    assert_eq!(
        ev.kind,
        oxvirt_domain::driver::EventKind::DeviceAdded {
            alias: "virtio-disk0".into()
        }
    );
    // The persistent definition is untouched (LIVE only).
    assert!(!driver.xml_desc(&dom, 2).await.unwrap().contains("disk.raw"));

    let recs = driver
        .domain_stats(
            std::slice::from_ref(&dom),
            oxvirt_domain::driver::flags::stats::BLOCK,
            0,
        )
        .await
        .unwrap();
    let p = &recs[0].params;
    assert_eq!(field(p, "block.count"), Some(&TypedValue::UInt(1)));
    assert_eq!(
        field(p, "block.0.name"),
        Some(&TypedValue::String("vda".into()))
    );
    assert_eq!(
        field(p, "block.0.path"),
        Some(&TypedValue::String(disk.display().to_string()))
    );
    assert_eq!(field(p, "block.0.backingIndex"), Some(&TypedValue::UInt(1)));
    assert!(ull(p, "block.0.rd.reqs") >= 1);
    assert_eq!(ull(p, "block.0.capacity"), 16 << 20);
    let names: Vec<&str> = p.iter().map(|x| x.field.as_str()).collect();
    assert_eq!(
        names,
        [
            "block.count",
            "block.0.name",
            "block.0.path",
            "block.0.backingIndex",
            "block.0.rd.reqs",
            "block.0.rd.bytes",
            "block.0.rd.times",
            "block.0.wr.reqs",
            "block.0.wr.bytes",
            "block.0.wr.times",
            "block.0.fl.reqs",
            "block.0.fl.times",
            "block.0.allocation",
            "block.0.capacity",
            "block.0.physical"
        ]
    );

    // Errors.
    let e = driver.attach_device(&dom, &disk_xml, 1).await.unwrap_err();
    assert_eq!(e.code, ErrorCode::XmlError);
    assert_eq!(
        e.message,
        format!(
            "XML error: target 'vda' duplicated for disk sources '{0}' and '{0}'",
            disk.display()
        )
    );
    let ide = format!(
        "<disk type='file' device='disk'><source file='{}'/><target dev='hdb' bus='ide'/></disk>",
        disk.display()
    );
    let e = driver.attach_device(&dom, &ide, 1).await.unwrap_err();
    assert_eq!(e.code, ErrorCode::InternalError);
    assert_eq!(
        e.message,
        "internal error: unable to execute QEMU command 'device_add': \
         Bus 'ide.0' does not support hotplugging"
    );
    let sata = ide.replace("hdb", "sdb").replace("ide", "sata");
    let e = driver.attach_device(&dom, &sata, 1).await.unwrap_err();
    assert_eq!(
        e.message,
        "internal error: Could not find sata controller with index 0 required for device"
    );

    // An interface.
    let nic = "<interface type='user'><mac address='52:54:00:11:22:33'/><model type='virtio'/></interface>";
    driver.attach_device(&dom, nic, 0).await.unwrap();
    let xml = driver.xml_desc(&dom, 0).await.unwrap();
    assert!(xml.contains("<alias name='net0'/>"), "{xml}");
    let recs = driver
        .domain_stats(
            std::slice::from_ref(&dom),
            oxvirt_domain::driver::flags::stats::INTERFACE,
            0,
        )
        .await
        .unwrap();
    assert_eq!(
        field(&recs[0].params, "net.count"),
        Some(&TypedValue::UInt(1))
    );
    let e = driver
        .attach_device(
            &dom,
            "<interface type='network'><source network='default'/></interface>",
            0,
        )
        .await
        .unwrap_err();
    // A driver without virtual networks finds none.
    assert_eq!(e.code, ErrorCode::NoNetwork);

    // Detach: the guest releases the disk.
    let mark = serial_len(&serial);
    while events.try_recv().is_ok() {}
    driver.detach_device(&dom, &disk_xml, 1).await.unwrap();
    let xml = driver.xml_desc(&dom, 0).await.unwrap();
    assert!(!xml.contains("disk.raw"), "{xml}");
    assert!(
        wait_serial(&serial, "OXVIRT-DISKS: \n", mark, 30).await || {
            let t = std::fs::read_to_string(&serial).unwrap();
            t[mark..].contains("OXVIRT-DISKS:") && !t[mark..].contains("OXVIRT-DISKS: vda")
        }
    );
    let mut removed = false;
    while let Ok(Some(ev)) = tokio::time::timeout(Duration::from_secs(1), events.recv()).await {
        if ev.kind
            == (oxvirt_domain::driver::EventKind::DeviceRemoved {
                alias: "virtio-disk0".into(),
            })
        {
            removed = true;
            break;
        }
    }
    assert!(removed, "no DEVICE_REMOVED");
    driver.detach_device(&dom, nic, 0).await.unwrap();
    assert!(!driver
        .xml_desc(&dom, 0)
        .await
        .unwrap()
        .contains("<interface"));

    // CONFIG only: the persistent definition.
    driver.attach_device(&dom, &disk_xml, 2).await.unwrap();
    assert!(driver.xml_desc(&dom, 2).await.unwrap().contains("disk.raw"));
    assert!(!driver.xml_desc(&dom, 0).await.unwrap().contains("disk.raw"));
    driver.detach_device(&dom, &disk_xml, 2).await.unwrap();
    assert!(!driver.xml_desc(&dom, 2).await.unwrap().contains("disk.raw"));

    driver.destroy(&dom, 0).await.unwrap();
    assert!(driver.running_pids().is_empty());
    let e = driver.attach_device(&dom, &disk_xml, 1).await.unwrap_err();
    assert_eq!(
        e.message,
        "Requested operation is not valid: domain is not running"
    );
}
