//! The iSCSI initiator against a real target: tgt's `tgtd` on a free port with a private
//! control port, one target with two file-backed LUNs (the fixture in `common/tgt.rs`).

#[path = "common/tgt.rs"]
mod tgt;

use std::net::SocketAddr;
use std::time::Instant;

use oxvirt_storage::iscsi::{Chap, Session};
use tgt::{free_port, pattern, turn, usable, Tgt};

const INITIATOR: &str = "iqn.2024-01.org.oxvirt:test-initiator";
const MIB: u64 = 1 << 20;

#[test]
fn tgt_discover_login_luns_read_write() {
    let _turn = turn();
    if !usable("tgt_discover_login_luns_read_write") {
        return;
    }
    let tgt = Tgt::start(&[64 * MIB, 100 * MIB], 1_000);

    // Discovery lists the target at the portal tgtd listens on.
    let targets = Session::discover(tgt.portal, INITIATOR).expect("discover");
    let found = targets
        .iter()
        .find(|t| t.name == tgt.iqn)
        .unwrap_or_else(|| panic!("{} not in {targets:?}", tgt.iqn));
    assert!(
        found
            .portals
            .iter()
            .any(|p| p.address == tgt.portal.to_string()),
        "portal {} not in {:?}",
        tgt.portal,
        found.portals
    );

    let started = Instant::now();
    let mut session = Session::login(tgt.portal, INITIATOR, &tgt.iqn).expect("login");
    eprintln!(
        "login to {} took {} us; negotiated {:?}",
        tgt.iqn,
        started.elapsed().as_micros(),
        session.negotiated()
    );
    assert_ne!(session.tsih(), 0);

    // LUN 0 is tgt's controller; 1 and 2 are the disks.
    assert_eq!(session.report_luns().expect("report luns"), vec![0, 1, 2]);
    let controller = session.inquiry(0).expect("inquiry lun 0");
    assert_eq!(controller.device_type, 0x0c, "{controller:?}");
    let disk = session.inquiry(1).expect("inquiry lun 1");
    assert_eq!(
        (disk.vendor.as_str(), disk.device_type),
        ("IET", 0),
        "{disk:?}"
    );
    eprintln!("LUN 1: {disk:?}");
    assert!(
        disk.serial.as_deref().is_some_and(|s| !s.is_empty()),
        "{disk:?}"
    );
    assert!(
        disk.designators
            .iter()
            .any(|d| d.kind == 3 && !d.value.is_empty()),
        "no NAA designator: {disk:?}"
    );
    session.test_unit_ready(1).expect("test unit ready");

    let cap1 = session.read_capacity(1).expect("capacity lun 1");
    let cap2 = session.read_capacity(2).expect("capacity lun 2");
    eprintln!(
        "LUN 1: {cap1:?} = {} bytes; LUN 2: {cap2:?} = {} bytes",
        cap1.bytes(),
        cap2.bytes()
    );
    assert_eq!(cap1.bytes(), 64 * MIB);
    assert_eq!(cap2.bytes(), 100 * MIB);

    for lun in [1, 2] {
        let data = session.read(lun, 0, 4).expect("read");
        assert_eq!(data.len(), 4 * cap1.block_size as usize);
        let want = pattern(lun);
        assert_eq!(&data[..want.len()], &want[..], "LUN {lun}'s first bytes");
        assert!(data[want.len()..].iter().all(|&b| b == 0));
    }

    // A write larger than the target's data segment and first burst goes through
    // immediate data, R2Ts and Data-Out; it lands in the file and reads back.
    let bs = cap2.block_size as usize;
    let blob: Vec<u8> = (0..600 * 1024).map(|i: usize| (i % 251) as u8).collect();
    let lba = 1000;
    session.write(2, lba, &blob).expect("write");
    let back = session
        .read(2, lba, (blob.len() / bs) as u32)
        .expect("read back");
    assert!(back == blob, "read back differs");
    let file = std::fs::read(tgt.dir.join("lun2.img")).expect("backing file");
    let at = lba as usize * bs;
    assert!(
        file[at..at + blob.len()] == blob[..],
        "backing file differs"
    );

    session.logout().expect("logout");

    // A target that does not exist: the login fails and says so.
    let err = Session::login(tgt.portal, INITIATOR, "iqn.2024-01.org.oxvirt:nope")
        .expect_err("login to a missing target");
    assert!(
        err.message.contains("iqn.2024-01.org.oxvirt:nope")
            && err.message.contains("target not found")
            && err.message.contains(&tgt.portal.to_string()),
        "{}",
        err.message
    );
    eprintln!("{}", err.message);

    // A second target that wants CHAP: the right secret logs in, a wrong one does not,
    // and neither does a login without CHAP.
    let chap_iqn = format!("{}-chap", tgt.iqn);
    tgt.adm(&[
        "--lld", "iscsi", "--op", "new", "--mode", "target", "--tid", "2", "-T", &chap_iqn,
    ])
    .expect("new chap target");
    tgt.adm(&[
        "--lld", "iscsi", "--op", "bind", "--mode", "target", "--tid", "2", "-I", "ALL",
    ])
    .expect("bind chap target");
    tgt.adm(&[
        "--lld",
        "iscsi",
        "--op",
        "new",
        "--mode",
        "account",
        "--user",
        "oxuser",
        "--password",
        "oxsecret-12345",
    ])
    .expect("new account");
    tgt.adm(&[
        "--lld", "iscsi", "--op", "bind", "--mode", "account", "--tid", "2", "--user", "oxuser",
    ])
    .expect("bind account");
    let chap = Chap {
        username: "oxuser".into(),
        password: "oxsecret-12345".into(),
    };
    let mut session =
        Session::login_chap(tgt.portal, INITIATOR, &chap_iqn, &chap).expect("CHAP login");
    assert_eq!(session.report_luns().expect("report luns"), vec![0]);
    session.logout().expect("logout");
    let wrong = Chap {
        password: "not-the-secret".into(),
        ..chap
    };
    let err = Session::login_chap(tgt.portal, INITIATOR, &chap_iqn, &wrong)
        .expect_err("wrong CHAP secret");
    assert!(
        err.message.contains("authentication failed"),
        "{}",
        err.message
    );
    eprintln!("{}", err.message);
    let err = Session::login(tgt.portal, INITIATOR, &chap_iqn).expect_err("no CHAP");
    assert!(err.message.contains(&chap_iqn), "{}", err.message);
    eprintln!("{}", err.message);
}

#[test]
fn closed_port_is_a_clear_error() {
    let _turn = turn();
    let portal = SocketAddr::from(([127, 0, 0, 1], free_port()));
    let err =
        Session::login(portal, INITIATOR, "iqn.2024-01.org.oxvirt:any").expect_err("no target");
    assert!(
        err.message
            .starts_with("internal error: Failed to connect to iSCSI target")
            && err.message.contains(&portal.to_string()),
        "{}",
        err.message
    );
    let err = Session::discover(portal, INITIATOR).expect_err("no portal");
    assert!(
        err.message.contains(&format!("iSCSI portal {portal}")),
        "{}",
        err.message
    );
}
