use oxvirt_domain::driver::event::{Lifecycle, StartedDetail, StoppedDetail};
use oxvirt_domain::driver::flags::list;
use oxvirt_domain::driver::state::{RunningReason, ShutoffReason, StateReason};
use oxvirt_domain::driver::Hypervisor;
use oxvirt_xml::{ErrorCode, ErrorDomain};

use super::{default_conn, dom_xml, err, ev, lifecycle_events};
use crate::save::SAVE_MAGIC;

/// A path for a save image in a directory of its own, removed when the test ends.
struct Scratch {
    dir: std::path::PathBuf,
    path: String,
}

impl std::ops::Deref for Scratch {
    type Target = str;

    fn deref(&self) -> &str {
        &self.path
    }
}

impl std::fmt::Display for Scratch {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.path)
    }
}

impl AsRef<std::path::Path> for Scratch {
    fn as_ref(&self) -> &std::path::Path {
        std::path::Path::new(&self.path)
    }
}

impl Drop for Scratch {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

fn scratch(name: &str) -> Scratch {
    let dir = std::env::temp_dir().join(format!("oxvirt-test-save-{}-{name}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join(name).to_string_lossy().into_owned();
    Scratch { dir, path }
}

#[tokio::test]
async fn save_writes_libvirts_image_and_restore_reads_it() {
    let conn = default_conn();
    let mut rx = conn.subscribe();
    let d = conn.define_xml(&dom_xml("d1", 1), 0).await.unwrap();
    let d = conn.create(&d, 0).await.unwrap();
    let path = scratch("image1");
    conn.save(&d, &path, None, 0).await.unwrap();
    assert_eq!(
        conn.state(&d, 0).await.unwrap(),
        StateReason::Shutoff(ShutoffReason::Saved)
    );
    assert!(!conn.has_managed_save(&d, 0).await.unwrap());
    let bytes = std::fs::read(&path).unwrap();
    assert_eq!(&bytes[..15], SAVE_MAGIC);
    let len = i32::from_ne_bytes(bytes[15..19].try_into().unwrap()) as usize;
    assert_eq!(len, bytes.len() - 19);
    assert!(bytes[19..].starts_with(b"<domain type='test' id='2'>"));
    let image_xml = conn.save_image_xml(&path, 0).await.unwrap();
    assert!(image_xml.starts_with("<domain type='test'>\n  <name>d1</name>"));
    conn.restore(&path, None, 0).await.unwrap();
    assert_eq!(
        conn.state(&d, 0).await.unwrap(),
        StateReason::Running(RunningReason::Restored)
    );
    assert_eq!(
        lifecycle_events(&mut rx)[2..],
        [
            ev("d1", -1, Lifecycle::Stopped(StoppedDetail::Saved)),
            ev("d1", 3, Lifecycle::Started(StartedDetail::Restored)),
        ]
    );
    assert_eq!(
        err(conn.restore(&path, None, 0).await),
        (
            ErrorCode::OperationInvalid,
            ErrorDomain::Domain,
            "Requested operation is not valid: domain 'd1' is already active".into()
        )
    );
    // A transient domain goes away when saved and comes back transient.
    let t = conn.create_xml(&dom_xml("t", 2), 0).await.unwrap();
    let tpath = scratch("image2");
    conn.save(&t, &tpath, None, 0).await.unwrap();
    assert!(conn.lookup_by_name("t").await.is_err());
    conn.restore(&tpath, None, 0).await.unwrap();
    let t = conn.lookup_by_name("t").await.unwrap();
    assert!(!conn.is_persistent(&t).await.unwrap());
}

#[tokio::test]
async fn save_and_restore_errors() {
    let conn = default_conn();
    let d = conn.lookup_by_name("test").await.unwrap();
    let path = scratch("image3");
    assert_eq!(
        err(conn.save(&d, &path, Some("<domain/>"), 0).await),
        (
            ErrorCode::ArgumentUnsupported,
            ErrorDomain::Test,
            "argument unsupported: xml modification unsupported".into()
        )
    );
    assert_eq!(
        err(conn.save(&d, &path, None, 2).await).2,
        "unsupported flags (0x2) in function testDomainSaveFlags"
    );
    assert_eq!(
        err(conn.save(&d, &path, None, 6).await),
        (
            ErrorCode::InvalidArg,
            ErrorDomain::Domain,
            "Flags 'VIR_DOMAIN_SAVE_RUNNING' and 'VIR_DOMAIN_SAVE_PAUSED' are mutually exclusive"
                .into()
        )
    );
    assert_eq!(
        err(conn.save(&d, "/nonexistent/dir/x", None, 0).await),
        (
            ErrorCode::SystemError,
            ErrorDomain::Test,
            "saving domain 'test' to '/nonexistent/dir/x': open failed: No such file or directory"
                .into()
        )
    );
    let missing = scratch("missing");
    assert_eq!(
        err(conn.restore(&missing, None, 0).await),
        (
            ErrorCode::SystemError,
            ErrorDomain::Test,
            format!("cannot read domain image '{missing}': No such file or directory")
        )
    );
    let bad = scratch("bad");
    std::fs::write(&bad, "hello world, not a save image").unwrap();
    assert_eq!(
        err(conn.restore(&bad, None, 0).await),
        (
            ErrorCode::InternalError,
            ErrorDomain::Test,
            "internal error: mismatched header magic".into()
        )
    );
    std::fs::write(&bad, "Test").unwrap();
    assert_eq!(
        err(conn.restore(&bad, None, 0).await).2,
        format!("incomplete save header in '{bad}': Success")
    );
    let mut long = SAVE_MAGIC.to_vec();
    long.extend_from_slice(&9000i32.to_ne_bytes());
    std::fs::write(&bad, &long).unwrap();
    assert_eq!(
        err(conn.restore(&bad, None, 0).await).2,
        "internal error: length of metadata out of range"
    );
    assert_eq!(
        err(conn.restore(&bad, Some("<domain/>"), 0).await).0,
        ErrorCode::ArgumentUnsupported
    );
}

#[tokio::test]
async fn managed_save() {
    let conn = default_conn();
    let mut rx = conn.subscribe();
    let d = conn.lookup_by_name("test").await.unwrap();
    conn.managed_save(&d, 0).await.unwrap();
    assert_eq!(
        conn.state(&d, 0).await.unwrap(),
        StateReason::Shutoff(ShutoffReason::Saved)
    );
    assert!(conn.has_managed_save(&d, 0).await.unwrap());
    let listed = conn.list_all(list::MANAGEDSAVE).await.unwrap();
    assert_eq!(listed.len(), 1);
    assert_eq!(
        err(conn.undefine(&d, 0).await),
        (
            ErrorCode::OperationInvalid,
            ErrorDomain::Test,
            "Requested operation is not valid: Refusing to undefine while domain managed save \
             image exists"
                .into()
        )
    );
    // Starting boots afresh (libvirt's test driver keeps no image) and drops the image.
    let d = conn.create(&d, 0).await.unwrap();
    assert_eq!(
        conn.state(&d, 0).await.unwrap(),
        StateReason::Running(RunningReason::Booted)
    );
    assert!(!conn.has_managed_save(&d, 0).await.unwrap());
    assert_eq!(
        lifecycle_events(&mut rx),
        [
            ev("test", -1, Lifecycle::Stopped(StoppedDetail::Saved)),
            ev("test", 2, Lifecycle::Started(StartedDetail::Booted)),
        ]
    );
    assert_eq!(
        err(conn.managed_save(&d, 7).await).2,
        "Flags 'VIR_DOMAIN_SAVE_RUNNING' and 'VIR_DOMAIN_SAVE_PAUSED' are mutually exclusive"
    );
    assert_eq!(
        err(conn.managed_save(&d, 8).await).2,
        "unsupported flags (0x8) in function testDomainManagedSave"
    );
    conn.managed_save(&d, 0).await.unwrap();
    conn.managed_save_remove(&d, 0).await.unwrap();
    assert!(!conn.has_managed_save(&d, 0).await.unwrap());
    conn.managed_save(&conn.create(&d, 0).await.unwrap(), 0)
        .await
        .unwrap();
    conn.undefine(&d, 1).await.unwrap();
    assert!(conn.lookup_by_name("test").await.is_err());

    let t = conn.create_xml(&dom_xml("t", 2), 0).await.unwrap();
    assert_eq!(
        err(conn.managed_save(&t, 0).await),
        (
            ErrorCode::OperationInvalid,
            ErrorDomain::Test,
            "Requested operation is not valid: cannot do managed save for transient domain".into()
        )
    );
}

#[tokio::test]
async fn save_image_define_xml_replaces_the_images_definition() {
    let conn = default_conn();
    let d = conn.lookup_by_name("test").await.unwrap();
    let path = scratch("image-define");
    conn.save(&d, &path, None, 0).await.unwrap();
    let xml = conn.save_image_xml(&path, 0).await.unwrap();
    let titled = xml.replacen(
        "<name>test</name>",
        "<name>test</name>\n  <title>T</title>",
        1,
    );
    conn.save_image_define_xml_sync(&path, &titled, 0).unwrap();
    let now = conn.save_image_xml(&path, 0).await.unwrap();
    assert!(now.contains("</uuid>\n  <title>T</title>\n"), "{now}");
    let missing = scratch("image-define-missing");
    let e = conn
        .save_image_define_xml_sync(&missing, &titled, 0)
        .unwrap_err();
    assert_eq!(
        (e.code, e.domain, e.message),
        (
            ErrorCode::SystemError,
            ErrorDomain::Test,
            format!("cannot read domain image '{missing}': No such file or directory")
        )
    );
    let e = conn
        .save_image_define_xml_sync(&path, &titled, 2 | 4)
        .unwrap_err();
    assert_eq!(
        (e.code, e.domain, e.message),
        (
            ErrorCode::InvalidArg,
            ErrorDomain::Domain,
            "Flags 'VIR_DOMAIN_SAVE_RUNNING' and 'VIR_DOMAIN_SAVE_PAUSED' are mutually exclusive"
                .to_string()
        )
    );
}
