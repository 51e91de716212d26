//! Live migration of a real guest between two `QemuDriver`s (two "hosts": separate state
//! directories, separate QEMU processes) over TCP loopback, under TCG: the phases of
//! `oxvirt_qemu::driver::migration` end to end, and a cancelled migration.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use common::{guest_dir, guest_domain, serial_pty, Reaper, Scratch};

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use oxvirt_domain::driver::event::{ResumedDetail, StartedDetail, StoppedDetail, SuspendedDetail};
use oxvirt_domain::driver::state::{PausedReason, RunningReason, ShutoffReason};
use oxvirt_domain::driver::{
    DomainRef, EventKind, EventReceiver, Hypervisor, Lifecycle, StateReason,
};
use oxvirt_qemu::driver::{MigrateOptions, MigrationProgress, QemuDriver};
use oxvirt_xml::ErrorCode;

fn have_guest(test: &str) -> bool {
    let ok = guest_dir().join("vmlinuz").exists() && Path::new(common::QEMU).exists();
    common::usable(
        test,
        ok,
        "no test guest under target/guest (cargo xtask guest) or no QEMU",
    )
}

fn domain_xml(name: &str) -> String {
    guest_domain(name, "<vcpu>1</vcpu>", "<serial type='pty'/>")
}

/// Copies the serial pty of `dom` into `out` in the background.
async fn log_serial(driver: &QemuDriver, dom: &DomainRef, out: PathBuf) {
    let xml = driver.xml_desc(dom, 0).await.unwrap();
    let pty = serial_pty(&xml);
    std::fs::write(&out, b"").unwrap();
    std::thread::spawn(move || {
        use std::io::{Read, Write};
        let Ok(mut input) = std::fs::File::open(&pty) else {
            return;
        };
        let mut file = std::fs::OpenOptions::new().append(true).open(&out).unwrap();
        let mut buf = [0u8; 4096];
        while let Ok(n) = input.read(&mut buf) {
            if n == 0 || file.write_all(&buf[..n]).is_err() {
                break;
            }
        }
    });
}

async fn wait_serial(path: &Path, want: &str, secs: u64) -> bool {
    let start = Instant::now();
    while start.elapsed() < Duration::from_secs(secs) {
        let text = std::fs::read_to_string(path).unwrap_or_default();
        if text.contains(want) {
            return true;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    false
}

/// A free TCP port on the loopback.
fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// Two drivers ("hosts") on scratch directories, and a booted guest `name` on the first.
struct Hosts {
    src: QemuDriver,
    dst: QemuDriver,
    dom: DomainRef,
    serial: PathBuf,
    _reaper: Reaper,
    scratch: Scratch,
}

async fn boot(tag: &str, name: &str) -> Hosts {
    let scratch = Scratch::new("migrate", tag);
    let config = |host: &str| {
        oxvirt_qemu::driver::QemuConfig::under(
            &scratch.0.join(host).join("state"),
            &scratch.0.join(host).join("run"),
        )
    };
    let src = QemuDriver::open(config("src")).await.unwrap();
    let dst = QemuDriver::open(config("dst")).await.unwrap();
    let dom = src.define_xml(&domain_xml(name), 0).await.unwrap();
    src.create(&dom, 0).await.unwrap();
    let reaper = Reaper(src.running_pids());
    let serial = scratch.0.join("src-serial.log");
    log_serial(&src, &dom, serial.clone()).await;
    assert!(
        wait_serial(&serial, "OXVIRT-GUEST-READY", 60).await,
        "guest did not boot"
    );
    // The guest is up once it reports its disks (acpid then watches the power button).
    assert!(
        wait_serial(&serial, "OXVIRT-DISKS:", 60).await,
        "guest did not report its disks"
    );
    let dom = src.lookup_by_name(name).await.unwrap();
    Hosts {
        src,
        dst,
        dom,
        serial,
        _reaper: reaper,
        scratch,
    }
}

/// The lifecycle events received so far.
fn drain(rx: &mut EventReceiver) -> Vec<Lifecycle> {
    let mut out = Vec::new();
    while let Ok(e) = rx.try_recv() {
        if let EventKind::Lifecycle(l) = e.kind {
            out.push(l);
        }
    }
    out
}

fn pid_alive(pid: i32) -> bool {
    Path::new(&format!("/proc/{pid}")).exists()
        && !std::fs::read_to_string(format!("/proc/{pid}/stat"))
            .unwrap_or_default()
            .contains(") Z ")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn live_migration_over_tcp_moves_a_running_guest() {
    if !have_guest("live_migration_over_tcp_moves_a_running_guest") {
        return;
    }
    let h = boot("live", "mig1").await;
    let xml = h.src.xml_desc(&h.dom, 0).await.unwrap();
    let port = free_port();
    let opts = MigrateOptions::default();
    let mut src_events = h.src.subscribe();
    let mut dst_events = h.dst.subscribe();

    let wall = Instant::now();
    let prepare_start = Instant::now();
    let ddom = h
        .dst
        .migration_prepare(&xml, &format!("tcp:127.0.0.1:{port}"), &opts)
        .await
        .unwrap();
    let prepare_wall = prepare_start.elapsed();
    let mut reaper = Reaper(h.dst.running_pids());
    assert_eq!(
        h.dst.state(&ddom, 0).await.unwrap(),
        StateReason::Paused(PausedReason::Migration)
    );
    assert_eq!(h.dst.qemu_run_state(&ddom).await.unwrap(), "inmigrate");
    assert_eq!(
        drain(&mut dst_events),
        [Lifecycle::Started(StartedDetail::Migrated)]
    );

    let (tx, rx) = tokio::sync::watch::channel(MigrationProgress::default());
    let perform_start = Instant::now();
    let out = h
        .src
        .migration_perform(&h.dom, &format!("tcp:127.0.0.1:{port}"), &opts, Some(&tx))
        .await
        .unwrap();
    let perform_wall = perform_start.elapsed();
    assert_eq!(out.status, "completed");
    assert_eq!(rx.borrow().status, "completed");
    // The source: stopped in QEMU's postmigrate, paused for reason migration.
    assert_eq!(h.src.qemu_run_state(&h.dom).await.unwrap(), "postmigrate");
    assert_eq!(
        h.src.state(&h.dom, 0).await.unwrap(),
        StateReason::Paused(PausedReason::Migration)
    );
    assert_eq!(
        drain(&mut src_events),
        [Lifecycle::Suspended(SuspendedDetail::Migrated)]
    );

    let incoming = h
        .dst
        .migration_finish(&ddom, true, Duration::from_millis(10))
        .await
        .unwrap();
    let wall = wall.elapsed();
    assert_eq!(incoming.status, "completed");
    assert_eq!(h.dst.qemu_run_state(&ddom).await.unwrap(), "running");
    assert_eq!(
        h.dst.state(&ddom, 0).await.unwrap(),
        StateReason::Running(RunningReason::Migrated)
    );
    assert_eq!(
        drain(&mut dst_events),
        [Lifecycle::Resumed(ResumedDetail::Migrated)]
    );

    // What QEMU reported: the totals and the downtime.
    let downtime = out
        .downtime_ms
        .unwrap_or_else(|| panic!("no downtime reported: {out:?}"));
    assert!(out.time_elapsed_ms > 0, "{out:?}");
    assert!(out.mem_total >= 256 << 20, "{out:?}");
    assert!(out.mem_processed > 0, "{out:?}");
    assert_eq!(out.mem_remaining, 0, "{out:?}");
    assert_eq!(out.data_total, out.mem_total);
    eprintln!(
        "live migration of a 256 MiB TCG guest: QEMU total {} ms, downtime {downtime} ms, \
         setup {} ms, {} MB sent, {} pages constant, {} passes; prepare (QEMU start) {} ms, \
         perform {} ms, prepare..finish wall {} ms",
        out.time_elapsed_ms,
        out.setup_time_ms,
        out.mem_processed / 1_000_000,
        out.mem_constant,
        out.mem_iteration,
        prepare_wall.as_millis(),
        perform_wall.as_millis(),
        wall.as_millis()
    );

    // Confirm: the source QEMU goes, the persistent source domain is shut off (migrated).
    let src_pids = h.src.running_pids();
    h.src.migration_confirm(&h.dom, true).await.unwrap();
    assert!(h.src.running_pids().is_empty());
    assert!(src_pids.iter().all(|p| !pid_alive(*p)));
    assert_eq!(
        h.src.state(&h.dom, 0).await.unwrap(),
        StateReason::Shutoff(ShutoffReason::Migrated)
    );
    assert_eq!(
        drain(&mut src_events),
        [Lifecycle::Stopped(StoppedDetail::Migrated)]
    );

    // The guest runs on the destination: its userland answers the power button there.
    let dserial = h.scratch.0.join("dst-serial.log");
    log_serial(&h.dst, &ddom, dserial.clone()).await;
    h.dst.shutdown(&ddom, 0).await.unwrap();
    assert!(
        wait_serial(&dserial, "reboot: Power down", 60).await,
        "the migrated guest did not power off: {}",
        std::fs::read_to_string(&dserial).unwrap_or_default()
    );
    let start = Instant::now();
    while h.dst.lookup_by_name("mig1").await.is_ok() && start.elapsed() < Duration::from_secs(30) {
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    // A transient domain: gone once it stopped.
    assert_eq!(
        h.dst.lookup_by_name("mig1").await.unwrap_err().code,
        ErrorCode::NoDomain
    );
    assert!(h.dst.running_pids().is_empty());
    reaper.0.clear();
    let _ = &h.serial;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cancelled_and_failed_migrations_leave_the_source_running() {
    if !have_guest("cancelled_and_failed_migrations_leave_the_source_running") {
        return;
    }
    let h = boot("cancel", "mig2").await;
    let xml = h.src.xml_desc(&h.dom, 0).await.unwrap();
    let port = free_port();
    // 1 MiB/s: the guest's memory takes minutes to send.
    let opts = MigrateOptions {
        bandwidth_mib: Some(1),
        ..MigrateOptions::default()
    };
    let ddom = h
        .dst
        .migration_prepare(&xml, &format!("tcp:127.0.0.1:{port}"), &opts)
        .await
        .unwrap();
    let _reaper = Reaper(h.dst.running_pids());
    let dst_pids = h.dst.running_pids();

    let src = h.src.clone();
    let dom = h.dom.clone();
    let uri = format!("tcp:127.0.0.1:{port}");
    let perform = tokio::spawn(async move { src.migration_perform(&dom, &uri, &opts, None).await });
    // Wait until memory is moving.
    let start = Instant::now();
    loop {
        let p = h.src.migration_job(&h.dom).await.unwrap();
        if p.status == "active" && p.mem_processed > 0 {
            assert!(p.mem_remaining > 0, "{p:?}");
            break;
        }
        assert!(
            start.elapsed() < Duration::from_secs(30),
            "migration did not start: {p:?}"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    h.src.migration_cancel(&h.dom).await.unwrap();
    let err = perform.await.unwrap().unwrap_err();
    assert_eq!(err.code, ErrorCode::OperationAborted, "{}", err.message);
    assert_eq!(
        err.message,
        "operation aborted: migration out job: canceled by client"
    );
    assert_eq!(
        h.src.migration_job(&h.dom).await.unwrap().status,
        "cancelled"
    );
    // The source still runs the guest.
    assert_eq!(h.src.qemu_run_state(&h.dom).await.unwrap(), "running");
    assert_eq!(
        h.src.state(&h.dom, 0).await.unwrap(),
        StateReason::Running(RunningReason::Booted)
    );
    // Nothing to cancel any more.
    assert_eq!(
        h.src.migration_cancel(&h.dom).await.unwrap_err().code,
        ErrorCode::OperationInvalid
    );

    // The destination is dropped (its QEMU may already have exited when the stream broke).
    if let Err(e) = h.dst.migration_abort_incoming(&ddom).await {
        assert!(
            matches!(e.code, ErrorCode::OperationInvalid | ErrorCode::NoDomain),
            "{}",
            e.message
        );
    }
    let start = Instant::now();
    while h.dst.lookup_by_name("mig2").await.is_ok() && start.elapsed() < Duration::from_secs(10) {
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert_eq!(
        h.dst.lookup_by_name("mig2").await.unwrap_err().code,
        ErrorCode::NoDomain
    );
    assert!(h.dst.running_pids().is_empty());
    assert!(dst_pids.iter().all(|p| !pid_alive(*p)));

    // A destination that does not answer: the migration fails, the source runs on.
    let closed = free_port();
    let err = h
        .src
        .migration_perform(
            &h.dom,
            &format!("tcp:127.0.0.1:{closed}"),
            &MigrateOptions::default(),
            None,
        )
        .await
        .unwrap_err();
    assert_eq!(err.code, ErrorCode::OperationFailed, "{}", err.message);
    assert!(
        err.message
            .starts_with("operation failed: migration out job: "),
        "{}",
        err.message
    );
    assert_eq!(h.src.qemu_run_state(&h.dom).await.unwrap(), "running");

    // A completed migration whose destination then fails to finish: confirming the
    // failure runs the source again.
    let port = free_port();
    let opts = MigrateOptions::default();
    let ddom = h
        .dst
        .migration_prepare(&xml, &format!("tcp:127.0.0.1:{port}"), &opts)
        .await
        .unwrap();
    let _reaper2 = Reaper(h.dst.running_pids());
    let mut dst_events = h.dst.subscribe();
    let out = h
        .src
        .migration_perform(&h.dom, &format!("tcp:127.0.0.1:{port}"), &opts, None)
        .await
        .unwrap();
    assert_eq!(out.status, "completed");
    assert_eq!(h.src.qemu_run_state(&h.dom).await.unwrap(), "postmigrate");
    // Finished without resuming (VIR_MIGRATE_PAUSED): paused by the user.
    h.dst
        .migration_finish(&ddom, false, Duration::from_millis(10))
        .await
        .unwrap();
    assert_eq!(h.dst.qemu_run_state(&ddom).await.unwrap(), "paused");
    assert_eq!(
        h.dst.state(&ddom, 0).await.unwrap(),
        StateReason::Paused(PausedReason::User)
    );
    h.dst.migration_abort_incoming(&ddom).await.unwrap();
    assert!(h.dst.running_pids().is_empty());
    assert_eq!(
        drain(&mut dst_events),
        [
            Lifecycle::Suspended(SuspendedDetail::Paused),
            Lifecycle::Stopped(StoppedDetail::Failed)
        ]
    );
    h.src.migration_confirm(&h.dom, false).await.unwrap();
    assert_eq!(h.src.qemu_run_state(&h.dom).await.unwrap(), "running");
    assert_eq!(
        h.src.state(&h.dom, 0).await.unwrap(),
        StateReason::Running(RunningReason::MigrationCanceled)
    );

    // The guest still answers on the source.
    h.src.shutdown(&h.dom, 0).await.unwrap();
    assert!(
        wait_serial(&h.serial, "reboot: Power down", 60).await,
        "the source guest did not power off"
    );
    let start = Instant::now();
    while !h.src.running_pids().is_empty() && start.elapsed() < Duration::from_secs(30) {
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert!(h.src.running_pids().is_empty());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postcopy_migration_completes() {
    if !have_guest("postcopy_migration_completes") {
        return;
    }
    let h = boot("postcopy", "mig3").await;
    let xml = h.src.xml_desc(&h.dom, 0).await.unwrap();
    let port = free_port();
    // 8 MiB/s: pre-copy alone would take seconds.
    let opts = MigrateOptions {
        bandwidth_mib: Some(8),
        postcopy: true,
        postcopy_bandwidth_mib: Some(8),
        ..MigrateOptions::default()
    };
    let ddom = match h
        .dst
        .migration_prepare(&xml, &format!("tcp:127.0.0.1:{port}"), &opts)
        .await
    {
        Ok(d) => d,
        Err(e) => {
            // QEMU refuses postcopy-ram without userfaultfd.
            common::usable("postcopy_migration_completes", false, &e.message);
            return;
        }
    };
    let _reaper = Reaper(h.dst.running_pids());
    let src = h.src.clone();
    let dom = h.dom.clone();
    let uri = format!("tcp:127.0.0.1:{port}");
    let started = Instant::now();
    let perform = tokio::spawn(async move { src.migration_perform(&dom, &uri, &opts, None).await });
    let start = Instant::now();
    loop {
        let p = h.src.migration_job(&h.dom).await.unwrap();
        if p.status == "active" && p.mem_processed > 0 {
            break;
        }
        assert!(
            start.elapsed() < Duration::from_secs(30),
            "migration did not start: {p:?}"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    h.src.migration_start_postcopy(&h.dom).await.unwrap();
    // The perform phase returns once post-copy runs: the source is paused for good.
    let out = perform.await.unwrap().unwrap();
    assert_eq!(out.status, "postcopy-active");
    assert_eq!(
        h.src.state(&h.dom, 0).await.unwrap(),
        StateReason::Paused(PausedReason::Postcopy)
    );
    // The destination runs the guest while its memory still arrives (at 8 MiB/s for
    // post-copy too, so this lasts).
    h.dst
        .migration_finish(&ddom, true, Duration::from_millis(10))
        .await
        .unwrap();
    assert_eq!(h.dst.qemu_run_state(&ddom).await.unwrap(), "running");
    assert_eq!(
        h.dst.migration_job(&ddom).await.unwrap().status,
        "postcopy-active",
        "post-copy ended before the destination ran"
    );
    assert_eq!(
        h.dst.state(&ddom, 0).await.unwrap(),
        StateReason::Running(RunningReason::Postcopy)
    );
    // The confirm phase waits for the last page before it kills the source.
    h.src.migration_confirm(&h.dom, true).await.unwrap();
    let start = Instant::now();
    while h.dst.state(&ddom, 0).await.unwrap() != StateReason::Running(RunningReason::Migrated) {
        assert!(
            start.elapsed() < Duration::from_secs(30),
            "the destination never completed"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert_eq!(
        h.dst.migration_job(&ddom).await.unwrap().status,
        "completed"
    );
    eprintln!(
        "post-copy migration at 8 MiB/s: switched after {} ms, {} MB sent before; wall {} ms \
         (the destination ran the guest meanwhile)",
        out.time_elapsed_ms,
        out.mem_processed / 1_000_000,
        started.elapsed().as_millis()
    );
    h.dst.destroy(&ddom, 0).await.unwrap();
    assert!(h.dst.running_pids().is_empty());
    assert!(h.src.running_pids().is_empty());
}
