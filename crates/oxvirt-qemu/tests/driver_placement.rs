//! vCPU, emulator and I/O thread pinning, `virDomainGetVcpus` and the NUMA parameters of a
//! real guest run by `QemuDriver` (the test guest of `cargo xtask guest`, under TCG), checked
//! against the affinity the kernel reports for QEMU's threads.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use common::{guest_dir, guest_domain, Reaper, Scratch};

use std::path::Path;
use std::time::Duration;

use oxvirt_domain::driver::flags::affect::{CONFIG, LIVE};
use oxvirt_domain::driver::{CpuMap, DomainRef, Hypervisor, TypedParam, TypedValue};
use oxvirt_qemu::driver::{QemuConfig, QemuDriver};
use oxvirt_xml::ErrorCode;

/// `VIR_DOMAIN_XML_INACTIVE`.
const XML_INACTIVE: u32 = 2;

/// The host must have CPUs 0 and 1 for the pins of the test.
fn usable(test: &str) -> bool {
    let online = std::fs::read_to_string("/sys/devices/system/cpu/online").unwrap_or_default();
    let two = online.trim().starts_with("0-") || online.trim().starts_with("0,1");
    let ok = guest_dir().join("vmlinuz").exists()
        && Path::new("/usr/bin/qemu-system-x86_64").exists()
        && two;
    common::usable(
        test,
        ok,
        "no test guest under target/guest (cargo xtask guest), no QEMU, or fewer than 2 CPUs",
    )
}

fn domain_xml(name: &str) -> String {
    guest_domain(
        name,
        "<vcpu>2</vcpu><iothreads>1</iothreads>\
         <cputune><vcpupin vcpu='0' cpuset='1'/><vcpupin vcpu='1' cpuset='0'/>\
         <emulatorpin cpuset='1'/><iothreadpin iothread='1' cpuset='0'/></cputune>",
        "<serial type='pty'/><memballoon model='none'/>",
    )
}

/// Each thread of `pid`: its name (`comm`) and `Cpus_allowed_list`.
fn threads(pid: i32) -> Vec<(String, String)> {
    let mut out = Vec::new();
    for e in std::fs::read_dir(format!("/proc/{pid}/task")).unwrap() {
        let dir = e.unwrap().path();
        let comm = std::fs::read_to_string(dir.join("comm")).unwrap_or_default();
        let status = std::fs::read_to_string(dir.join("status")).unwrap_or_default();
        let allowed = status
            .lines()
            .find_map(|l| l.strip_prefix("Cpus_allowed_list:"))
            .unwrap_or_default()
            .trim()
            .to_string();
        out.push((comm.trim().to_string(), allowed));
    }
    out
}

/// The affinity of the thread named `name`.
fn allowed(pid: i32, name: &str) -> String {
    threads(pid)
        .into_iter()
        .find(|(c, _)| c == name)
        .unwrap_or_else(|| panic!("no thread {name}: {:?}", threads(pid)))
        .1
}

/// The affinity of every thread that is neither a vCPU nor an I/O thread.
fn emulator_allowed(pid: i32) -> Vec<String> {
    threads(pid)
        .into_iter()
        .filter(|(c, _)| !c.starts_with("CPU ") && !c.starts_with("IO iothread"))
        .map(|(_, a)| a)
        .collect()
}

fn map(cpu: u32) -> CpuMap {
    CpuMap::from_cpus(1, [cpu])
}

fn err_text(e: &oxvirt_xml::VirError) -> String {
    format!("{:?} {}", e.code, e.message)
}

async fn xml(driver: &QemuDriver, dom: &DomainRef, flags: u32) -> String {
    driver.xml_desc(dom, flags).await.unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pins_of_a_running_guest_reach_its_threads() {
    if !usable("pins_of_a_running_guest_reach_its_threads") {
        return;
    }
    let scratch = Scratch::new("placement", "pins");
    let config = QemuConfig::under(&scratch.0.join("state"), &scratch.0.join("run"));
    let driver = QemuDriver::open(config).await.unwrap();
    let dom = driver.define_xml(&domain_xml("pin1"), 0).await.unwrap();

    // Inactive: the definition answers; live calls are refused as libvirt refuses them.
    let maps = driver.vcpu_pin_info(&dom, 4, 1, 0).await.unwrap();
    assert_eq!(maps, vec![map(1), map(0)]);
    assert_eq!(driver.emulator_pin_info(&dom, 1, 0).await.unwrap(), map(1));
    let e = driver.vcpu_info(&dom, 2, 1).await.unwrap_err();
    assert_eq!(e.code, ErrorCode::OperationInvalid);
    assert!(
        e.message
            .contains("cannot retrieve vcpu information for inactive domain"),
        "{}",
        err_text(&e)
    );
    let e = driver.pin_vcpu(&dom, 0, &map(0), LIVE).await.unwrap_err();
    assert!(
        e.message.contains("domain is not running"),
        "{}",
        err_text(&e)
    );
    let io = driver.iothread_info(&dom, 0).await.unwrap();
    assert_eq!(io.len(), 1);
    assert_eq!((io[0].id, io[0].cpumap.cpus()), (1, vec![0]));

    driver.create(&dom, 0).await.unwrap();
    let pid = driver.running_pids()[0];
    let _reaper = Reaper(vec![pid]);
    let dom = driver.lookup_by_name("pin1").await.unwrap();

    // At start: each vCPU on its pin, the I/O thread on its pin, the rest on the emulator's.
    assert_eq!(allowed(pid, "CPU 0/TCG"), "1");
    assert_eq!(allowed(pid, "CPU 1/TCG"), "0");
    assert_eq!(allowed(pid, "IO iothread1"), "0");
    let emu = emulator_allowed(pid);
    assert!(!emu.is_empty());
    assert!(emu.iter().all(|a| a == "1"), "{emu:?}");

    // vcpu_info: two running vCPUs whose CPU time grows, with their threads' affinity.
    let (infos, maps) = driver.vcpu_info(&dom, 8, 1).await.unwrap();
    assert_eq!(infos.len(), 2);
    assert_eq!(maps, vec![map(1), map(0)]);
    assert_eq!((infos[0].number, infos[1].number), (0, 1));
    assert!(infos
        .iter()
        .all(|i| i.state == 1 && i.cpu >= 0 && i.cpu <= 1));
    tokio::time::sleep(Duration::from_millis(1500)).await;
    let (later, _) = driver.vcpu_info(&dom, 8, 1).await.unwrap();
    let total =
        |v: &[oxvirt_domain::driver::VcpuInfo]| v.iter().map(|i| i.cpu_time_ns).sum::<u64>();
    assert!(total(&later) > total(&infos), "{infos:?} then {later:?}");
    let (one, _) = driver.vcpu_info(&dom, 1, 1).await.unwrap();
    assert_eq!(one.len(), 1);

    // A live vCPU pin reaches the thread and the live definition only.
    driver.pin_vcpu(&dom, 0, &map(0), LIVE).await.unwrap();
    assert_eq!(allowed(pid, "CPU 0/TCG"), "0");
    assert!(xml(&driver, &dom, 0)
        .await
        .contains("<vcpupin vcpu='0' cpuset='0'/>"));
    assert!(xml(&driver, &dom, XML_INACTIVE)
        .await
        .contains("<vcpupin vcpu='0' cpuset='1'/>"));
    // A persistent one reaches the persistent definition (and its file) only.
    driver.pin_vcpu(&dom, 1, &map(1), CONFIG).await.unwrap();
    assert_eq!(allowed(pid, "CPU 1/TCG"), "0");
    assert!(xml(&driver, &dom, 0)
        .await
        .contains("<vcpupin vcpu='1' cpuset='0'/>"));
    assert!(xml(&driver, &dom, XML_INACTIVE)
        .await
        .contains("<vcpupin vcpu='1' cpuset='1'/>"));
    let file = std::fs::read_to_string(scratch.0.join("state/qemu/config/pin1.xml")).unwrap();
    assert!(file.contains("<vcpupin vcpu='1' cpuset='1'/>"), "{file}");
    assert_eq!(
        driver.vcpu_pin_info(&dom, 2, 1, LIVE).await.unwrap(),
        vec![map(0), map(0)]
    );
    assert_eq!(
        driver.vcpu_pin_info(&dom, 2, 1, CONFIG).await.unwrap(),
        vec![map(1), map(1)]
    );
    // The status file keeps the live pins.
    let status = std::fs::read_to_string(scratch.0.join("run/qemu/pin1.xml")).unwrap();
    assert!(
        status.contains("<vcpupin vcpu='0' cpuset='0'/>"),
        "{status}"
    );

    // Both at once.
    driver
        .pin_vcpu(&dom, 1, &map(1), LIVE | CONFIG)
        .await
        .unwrap();
    assert_eq!(allowed(pid, "CPU 1/TCG"), "1");
    assert!(xml(&driver, &dom, 0)
        .await
        .contains("<vcpupin vcpu='1' cpuset='1'/>"));

    // The emulator pin moves every emulator thread and nothing else.
    driver.pin_emulator(&dom, &map(0), LIVE).await.unwrap();
    let emu = emulator_allowed(pid);
    assert!(emu.iter().all(|a| a == "0"), "{emu:?}");
    assert_eq!(allowed(pid, "CPU 1/TCG"), "1");
    assert!(xml(&driver, &dom, 0)
        .await
        .contains("<emulatorpin cpuset='0'/>"));
    assert!(xml(&driver, &dom, XML_INACTIVE)
        .await
        .contains("<emulatorpin cpuset='1'/>"));
    assert_eq!(
        driver.emulator_pin_info(&dom, 1, LIVE).await.unwrap(),
        map(0)
    );
    assert_eq!(
        driver.emulator_pin_info(&dom, 1, CONFIG).await.unwrap(),
        map(1)
    );

    // I/O threads.
    driver.pin_iothread(&dom, 1, &map(1), LIVE).await.unwrap();
    assert_eq!(allowed(pid, "IO iothread1"), "1");
    let io = driver.iothread_info(&dom, LIVE).await.unwrap();
    assert_eq!((io[0].id, io[0].cpumap.cpus()), (1, vec![1]));
    assert!(xml(&driver, &dom, 0)
        .await
        .contains("<iothreadpin iothread='1' cpuset='1'/>"));

    // libvirt's errors.
    let e = driver.pin_vcpu(&dom, 5, &map(0), LIVE).await.unwrap_err();
    assert_eq!(e.code, ErrorCode::InvalidArg);
    assert!(
        e.message
            .contains("vcpu 5 is out of range of live cpu count 2"),
        "{}",
        err_text(&e)
    );
    let e = driver.pin_vcpu(&dom, 5, &map(0), CONFIG).await.unwrap_err();
    assert!(
        e.message
            .contains("vcpu 5 is out of range of persistent cpu count 2"),
        "{}",
        err_text(&e)
    );
    let e = driver
        .pin_vcpu(&dom, 0, &CpuMap::new(1), LIVE)
        .await
        .unwrap_err();
    assert_eq!(e.code, ErrorCode::InvalidArg);
    assert!(
        e.message.contains("Empty cpu list for pinning"),
        "{}",
        err_text(&e)
    );
    let e = driver
        .pin_emulator(&dom, &CpuMap::new(1), LIVE)
        .await
        .unwrap_err();
    assert!(
        e.message.contains("Empty cpu list for pinning"),
        "{}",
        err_text(&e)
    );
    let e = driver
        .pin_iothread(&dom, 1, &CpuMap::new(1), LIVE)
        .await
        .unwrap_err();
    assert!(
        e.message.contains("Empty iothread cpumap list for pinning"),
        "{}",
        err_text(&e)
    );
    let e = driver
        .pin_iothread(&dom, 7, &map(0), LIVE)
        .await
        .unwrap_err();
    assert!(
        e.message.contains("iothread 7 not found"),
        "{}",
        err_text(&e)
    );
    let e = driver
        .pin_iothread(&dom, 7, &map(0), CONFIG)
        .await
        .unwrap_err();
    assert!(
        e.message.contains("iothreadid 7 not found"),
        "{}",
        err_text(&e)
    );
    // A CPU the host does not have: the kernel refuses the affinity.
    let e = driver.pin_vcpu(&dom, 0, &map(7), LIVE).await.unwrap_err();
    assert_eq!(e.code, ErrorCode::SystemError);
    assert!(
        e.message.contains("cannot set CPU affinity on process"),
        "{}",
        err_text(&e)
    );
    assert_eq!(allowed(pid, "CPU 0/TCG"), "0");
    assert!(xml(&driver, &dom, 0)
        .await
        .contains("<vcpupin vcpu='0' cpuset='0'/>"));
    let e = driver
        .pin_vcpu(&dom, 0, &map(0), LIVE | 8)
        .await
        .unwrap_err();
    assert_eq!(e.code, ErrorCode::InvalidArg);

    // NUMA parameters, with libvirt's rules (measured against libvirtd 9.0): strict with no
    // nodeset by default; a running domain without <numatune> takes a nodeset (every host
    // node here), then neither its mode nor (outside restrictive mode) its nodeset changes.
    let params = driver.numa_parameters(&dom, 0).await.unwrap();
    assert_eq!(
        params,
        vec![
            TypedParam::new("numa_mode", TypedValue::Int(0)),
            TypedParam::new("numa_nodeset", TypedValue::String(String::new())),
        ]
    );
    let mode = |m: i32| TypedParam::new("numa_mode", TypedValue::Int(m));
    let nodes = |n: &str| TypedParam::new("numa_nodeset", TypedValue::String(n.into()));
    let e = driver
        .set_numa_parameters(&dom, &[mode(2)], LIVE)
        .await
        .unwrap_err();
    assert_eq!(e.code, ErrorCode::ConfigUnsupported);
    assert!(
        e.message
            .contains("nodeset for NUMA memory tuning must be set if 'placement' is 'static'"),
        "{}",
        err_text(&e)
    );
    driver
        .set_numa_parameters(&dom, &[mode(2), nodes("0")], LIVE)
        .await
        .unwrap();
    let live = xml(&driver, &dom, 0).await;
    assert!(
        live.contains("<memory mode='interleave' nodeset='0'/>"),
        "{live}"
    );
    assert!(!xml(&driver, &dom, XML_INACTIVE)
        .await
        .contains("<numatune>"));
    let params = driver.numa_parameters(&dom, LIVE).await.unwrap();
    assert_eq!(params[0].value, TypedValue::Int(2));
    assert_eq!(params[1].value, TypedValue::String("0".into()));
    let e = driver
        .set_numa_parameters(&dom, &[nodes("0")], LIVE)
        .await
        .unwrap_err();
    assert!(
        e.message
            .contains("change of nodeset for running domain requires restrictive numa mode"),
        "{}",
        err_text(&e)
    );
    let e = driver
        .set_numa_parameters(&dom, &[mode(0)], LIVE)
        .await
        .unwrap_err();
    assert!(
        e.message
            .contains("can't change numatune mode for running domain"),
        "{}",
        err_text(&e)
    );
    let e = driver
        .set_numa_parameters(&dom, &[mode(9)], CONFIG)
        .await
        .unwrap_err();
    assert!(
        e.message.contains("unsupported numatune mode: '9'"),
        "{}",
        err_text(&e)
    );
    let e = driver
        .set_numa_parameters(&dom, &[nodes("0,^0")], CONFIG)
        .await
        .unwrap_err();
    assert!(
        e.message.contains("Invalid nodeset of 'numatune': 0,^0"),
        "{}",
        err_text(&e)
    );
    driver
        .set_numa_parameters(&dom, &[mode(3), nodes("0")], CONFIG)
        .await
        .unwrap();
    let inactive = xml(&driver, &dom, XML_INACTIVE).await;
    assert!(
        inactive.contains("<memory mode='restrictive' nodeset='0'/>"),
        "{inactive}"
    );
    let params = driver.numa_parameters(&dom, CONFIG).await.unwrap();
    assert_eq!(params[0].value, TypedValue::Int(3));

    driver.destroy(&dom, 0).await.unwrap();
    // The persistent definition kept the persistent pins.
    let inactive = xml(&driver, &dom, 0).await;
    assert!(
        inactive.contains("<vcpupin vcpu='0' cpuset='1'/>"),
        "{inactive}"
    );
    assert!(
        inactive.contains("<vcpupin vcpu='1' cpuset='1'/>"),
        "{inactive}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn vcpu_cpuset_is_the_default_of_every_thread() {
    if !usable("vcpu_cpuset_is_the_default_of_every_thread") {
        return;
    }
    let scratch = Scratch::new("placement", "cpuset");
    let config = QemuConfig::under(&scratch.0.join("state"), &scratch.0.join("run"));
    let driver = QemuDriver::open(config).await.unwrap();
    let g = guest_dir();
    let xml_text = format!(
        "<domain type='qemu'><name>pin2</name><memory unit='MiB'>128</memory>\
         <vcpu cpuset='1'>2</vcpu><cputune><vcpupin vcpu='1' cpuset='0'/></cputune>\
         <os><type arch='x86_64' machine='pc'>hvm</type>\
         <kernel>{}/vmlinuz</kernel><initrd>{}/initrd.gz</initrd></os>\
         <devices><memballoon model='none'/></devices></domain>",
        g.display(),
        g.display(),
    );
    let dom = driver.define_xml(&xml_text, 0).await.unwrap();
    // Without a pin: <vcpu cpuset> (libvirt's default before all host CPUs).
    assert_eq!(
        driver.vcpu_pin_info(&dom, 2, 1, 0).await.unwrap(),
        vec![map(1), map(0)]
    );
    assert_eq!(driver.emulator_pin_info(&dom, 1, 0).await.unwrap(), map(1));
    driver.create(&dom, 0).await.unwrap();
    let pid = driver.running_pids()[0];
    let _reaper = Reaper(vec![pid]);
    let dom = driver.lookup_by_name("pin2").await.unwrap();
    assert_eq!(allowed(pid, "CPU 0/TCG"), "1");
    assert_eq!(allowed(pid, "CPU 1/TCG"), "0");
    let emu = emulator_allowed(pid);
    assert!(emu.iter().all(|a| a == "1"), "{emu:?}");
    // No I/O threads: an empty list.
    assert!(driver.iothread_info(&dom, 0).await.unwrap().is_empty());
    // CONFIG on a running domain: the persistent definition changes, the threads do not.
    driver.pin_emulator(&dom, &map(0), CONFIG).await.unwrap();
    assert!(emulator_allowed(pid).iter().all(|a| a == "1"));
    assert_eq!(
        driver.emulator_pin_info(&dom, 1, CONFIG).await.unwrap(),
        map(0)
    );
    assert_eq!(
        driver.emulator_pin_info(&dom, 1, LIVE).await.unwrap(),
        map(1)
    );
    driver.destroy(&dom, 0).await.unwrap();
    let e = driver.vcpu_info(&dom, 2, 1).await.unwrap_err();
    assert_eq!(e.code, ErrorCode::OperationInvalid);

    // A nodeset naming a node the host lacks: the start is refused before QEMU runs.
    let bad = xml_text.replace(
        "<os>",
        "<numatune><memory mode='strict' nodeset='5'/></numatune><os>",
    );
    let bad = bad.replace("pin2", "pin3");
    let dom = driver.define_xml(&bad, 0).await.unwrap();
    let e = driver.create(&dom, 0).await.unwrap_err();
    assert_eq!(e.code, ErrorCode::ConfigUnsupported);
    assert!(
        e.message.contains("NUMA node 5 is unavailable"),
        "{}",
        err_text(&e)
    );
    assert!(driver.running_pids().is_empty());
}
