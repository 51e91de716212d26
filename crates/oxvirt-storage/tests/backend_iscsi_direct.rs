//! The `iscsi-direct` backend against a real target (tgt's `tgtd`): refresh, content
//! through READ/WRITE(16) at unaligned offsets, wipe, discovery, CHAP, errors.

#[path = "common/tgt.rs"]
mod tgt;

use std::io::{Read, Write};

use oxvirt_storage::backend::iscsi_direct::IscsiDirectBackend;
use oxvirt_storage::backend::Backend;
use oxvirt_storage::model::{AuthSecret, Pool, PoolType, Volume};
use oxvirt_xml::{ErrorCode, VirError};
use tgt::{pattern, turn, usable, Tgt};

const INITIATOR: &str = "iqn.2024-01.org.oxvirt:direct-initiator";
const MIB: u64 = 1 << 20;

fn pool_xml(tgt: &Tgt, target: &str, auth: &str) -> Pool {
    Pool::parse(&format!(
        "<pool type='iscsi-direct'><name>direct</name><source>\
         <host name='127.0.0.1' port='{}'/><device path='{target}'/>{auth}\
         <initiator><iqn name='{INITIATOR}'/></initiator></source></pool>",
        tgt.portal.port()
    ))
    .expect("pool XML")
}

fn read_all(b: &IscsiDirectBackend, pool: &Pool, vol: &Volume, offset: u64, len: u64) -> Vec<u8> {
    let mut r = b.open_read(pool, vol, offset, len).expect("open_read");
    let mut out = Vec::new();
    r.read_to_end(&mut out).expect("read");
    out
}

fn write_at(b: &IscsiDirectBackend, pool: &Pool, vol: &Volume, offset: u64, data: &[u8]) {
    let mut w = b.open_write(pool, vol, offset, 0).expect("open_write");
    w.write_all(data).expect("write");
    w.finish().expect("finish");
}

#[test]
fn iscsi_direct_pool_on_tgt() {
    let _turn = turn();
    if !usable("iscsi_direct_pool_on_tgt") {
        return;
    }
    let tgt = Tgt::start(&[64 * MIB, 100 * MIB], 21_000);
    let b = IscsiDirectBackend::new();
    let pool = pool_xml(&tgt, &tgt.iqn, "");
    let portal = format!("127.0.0.1:{}", tgt.portal.port());

    assert!(b.check(&pool).expect("check"));
    b.build(&pool, 0).expect("build is a no-op");
    b.start(&pool).expect("start");

    // One volume per LUN, named and keyed as libvirt does; tgt's LUN 0 is its controller
    // (not a disk: capacity 0, as libvirt lists it).
    let r = b.refresh(&pool).expect("refresh");
    let seen: Vec<(String, u64)> = r
        .volumes
        .iter()
        .map(|v| (v.name.clone(), v.capacity))
        .collect();
    assert_eq!(
        seen,
        vec![
            ("unit:0:0:0".to_string(), 0),
            ("unit:0:0:1".to_string(), 64 * MIB),
            ("unit:0:0:2".to_string(), 100 * MIB),
        ]
    );
    for v in &r.volumes {
        let lun = v.name.rsplit(':').next().unwrap();
        let path = format!("ip-{portal}-iscsi-{}-lun-{lun}", tgt.iqn);
        assert_eq!(v.key.as_deref(), Some(path.as_str()));
        assert_eq!(v.target.path.as_deref(), Some(path.as_str()));
        assert_eq!(v.allocation, v.capacity);
        assert_eq!(v.pool_type, PoolType::IscsiDirect);
        eprintln!("{}", v.to_xml());
    }
    assert_eq!(
        (r.capacity, r.allocation, r.available),
        (164 * MIB, 164 * MIB, 0)
    );
    let lun1 = r.volumes[1].clone();
    let lun2 = r.volumes[2].clone();

    // Reads start anywhere.
    let want = pattern(2);
    assert_eq!(read_all(&b, &pool, &lun2, 0, want.len() as u64), want);
    assert_eq!(read_all(&b, &pool, &lun2, 5, 100), want[5..105].to_vec());
    let end = read_all(&b, &pool, &lun2, 100 * MIB - 10, 0);
    assert_eq!(end, vec![0; 10], "read to the end of the LUN");

    // A write that starts and ends inside blocks keeps the bytes around it.
    write_at(&b, &pool, &lun2, 5632, &[0xab; 512]);
    let blob: Vec<u8> = (0..5000u32).map(|i| (i % 253) as u8).collect();
    write_at(&b, &pool, &lun2, 1000, &blob);
    assert_eq!(read_all(&b, &pool, &lun2, 1000, 5000), blob);
    let around = read_all(&b, &pool, &lun2, 0, 6144);
    assert_eq!(
        &around[..1000],
        &want[..1000],
        "head of the first block kept"
    );
    assert_eq!(&around[6000..], &[0xab; 144], "tail of the last block kept");
    // A large write (several chunks) at an odd offset, checked in the backing file.
    let big: Vec<u8> = (0..3 * MIB as usize + 333)
        .map(|i| (i % 241) as u8)
        .collect();
    let at = MIB + 7;
    write_at(&b, &pool, &lun2, at, &big);
    assert!(
        read_all(&b, &pool, &lun2, at, big.len() as u64) == big,
        "read back differs"
    );
    let file = std::fs::read(tgt.dir.join("lun2.img")).expect("backing file");
    assert!(
        file[at as usize..at as usize + big.len()] == big[..],
        "backing file differs"
    );
    assert!(file[1000..6000] == blob[..]);

    // A write past the end of the LUN is refused.
    let mut w = b
        .open_write(&pool, &lun2, 100 * MIB - 4, 0)
        .expect("open at the end");
    assert!(w.write_all(&[1; 8]).is_err());

    // Wipe: zeroes over the whole LUN.
    b.wipe_volume(&pool, &lun1, 0, 0).expect("wipe");
    let file = std::fs::read(tgt.dir.join("lun1.img")).expect("backing file");
    assert_eq!(file.len() as u64, 64 * MIB);
    assert!(file.iter().all(|&x| x == 0), "LUN 1 not zeroed");

    // Discovery at the host lists the target.
    let found = b.find_sources(Some(&pool.source), 0).expect("find sources");
    let xml = oxvirt_storage::model::sources_to_xml(PoolType::IscsiDirect, &found);
    eprintln!("{xml}");
    assert!(
        found.iter().any(|s| s.devices[0].path == tgt.iqn
            && s.hosts[0].port == i32::from(tgt.portal.port())
            && s.initiator_iqn.as_deref() == Some(INITIATOR)),
        "{xml}"
    );

    // What these pools cannot do.
    let e = b.create_volume(&pool, &lun1, 0).unwrap_err();
    assert_eq!(e.code, ErrorCode::NoSupport);
    let e = b.delete_volume(&pool, &lun1, 0).unwrap_err();
    assert_eq!(e.code, ErrorCode::NoSupport);

    // A target that does not exist: not active, and start says why.
    let missing = pool_xml(&tgt, "iqn.2024-01.org.oxvirt:nope", "");
    assert!(!b.check(&missing).expect("check"));
    let e = b.start(&missing).unwrap_err();
    assert!(e.message.contains("target not found"), "{}", e.message);

    // CHAP: a second target with an account; without a secret store the secret is
    // missing, with one the login works.
    let chap_iqn = format!("{}-chap", tgt.iqn);
    for args in [
        vec![
            "--lld", "iscsi", "--op", "new", "--mode", "target", "--tid", "2", "-T", &chap_iqn,
        ],
        vec![
            "--lld", "iscsi", "--op", "bind", "--mode", "target", "--tid", "2", "-I", "ALL",
        ],
        vec![
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
        ],
        vec![
            "--lld", "iscsi", "--op", "bind", "--mode", "account", "--tid", "2", "--user", "oxuser",
        ],
    ] {
        tgt.adm(&args).expect("CHAP target setup");
    }
    let auth = "<auth type='chap' username='oxuser'><secret usage='oxchap'/></auth>";
    let chap_pool = pool_xml(&tgt, &chap_iqn, auth);
    let e = b.start(&chap_pool).unwrap_err();
    assert_eq!(e.code, ErrorCode::NoSecret);
    assert_eq!(
        e.message,
        "Secret not found: no secret with matching usage 'oxchap'"
    );
    let with = IscsiDirectBackend::with_secrets(Box::new(|s: &AuthSecret| match s {
        AuthSecret::Usage(u) if u == "oxchap" => Ok(b"oxsecret-12345".to_vec()),
        _ => Err(VirError::new(
            oxvirt_xml::ErrorDomain::Secret,
            ErrorCode::NoSecret,
            "no such secret",
        )),
    }));
    with.start(&chap_pool).expect("CHAP login");
    let r = with.refresh(&chap_pool).expect("refresh CHAP pool");
    assert_eq!(r.volumes.len(), 1, "only the controller LUN");
    b.stop(&pool).expect("stop");
}
