//! Keeping `test:///default` under a state directory across reopenings.

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU32, Ordering};

use oxvirt_domain::driver::flags::{affect, metadata, undefine, xml};
use oxvirt_domain::driver::{DomainRef, Hypervisor};
use oxvirt_xml::{ErrorCode, ErrorDomain};

use super::{dom_xml, err, DEFAULT_NODE_LOCK};
use crate::TestDriver;

/// A fresh directory under the system's temporary directory, removed on drop.
struct TempDir(PathBuf);

impl TempDir {
    fn new() -> TempDir {
        static N: AtomicU32 = AtomicU32::new(0);
        let path = std::env::temp_dir().join(format!(
            "oxvirt-driver-test-{}-{}",
            std::process::id(),
            N.fetch_add(1, Ordering::SeqCst)
        ));
        let _ = std::fs::remove_dir_all(&path);
        std::fs::create_dir_all(&path).unwrap();
        TempDir(path)
    }

    fn path(&self) -> &Path {
        &self.0
    }

    /// `domains/` of the default node's state.
    fn domains(&self) -> PathBuf {
        self.0.join("test/default/domains")
    }

    fn domain_file(&self, dom: &DomainRef) -> PathBuf {
        self.domains().join(format!("{}.xml", dom.uuid))
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

fn open(dir: &TempDir) -> TestDriver {
    TestDriver::open_isolated_with_state(dir.path()).unwrap()
}

/// Everything a client sees of every domain, in list order.
async fn view(conn: &TestDriver) -> Vec<String> {
    let mut out = Vec::new();
    for d in conn.list_all(0).await.unwrap() {
        let persistent = conn.is_persistent(&d).await.unwrap();
        let inactive = if persistent {
            conn.xml_desc(&d, xml::INACTIVE | xml::SECURE)
                .await
                .unwrap()
        } else {
            String::new()
        };
        let snaps = conn.snapshot_list(&d, 0).await.unwrap();
        let mut snap_xml = Vec::new();
        for s in &snaps {
            snap_xml.push(conn.snapshot_xml(s, 0).await.unwrap());
        }
        let current = conn.snapshot_current(&d, 0).await.map(|s| s.name).ok();
        out.push(format!(
            "{} id={} state={:?} persistent={persistent} autostart={} managedsave={} \
             current={current:?}\n{}\n{inactive}\n{snap_xml:?}",
            d.name,
            d.id,
            conn.state(&d, 0).await.unwrap(),
            conn.autostart(&d).await.unwrap(),
            conn.has_managed_save(&d, 0).await.unwrap(),
            conn.xml_desc(&d, xml::SECURE).await.unwrap(),
        ));
    }
    out
}

#[tokio::test]
async fn a_fresh_state_dir_gets_the_default_node() {
    let dir = TempDir::new();
    let conn = open(&dir);
    let test = conn.lookup_by_name("test").await.unwrap();
    assert_eq!(test.id, 1);
    let base = dir.path().join("test/default");
    assert_eq!(
        std::fs::read_to_string(base.join("format-version")).unwrap(),
        "1\n"
    );
    assert_eq!(
        std::fs::read_to_string(base.join("node.txt")).unwrap(),
        "next_id=2\n"
    );
    let text = std::fs::read_to_string(dir.domain_file(&test)).unwrap();
    assert!(
        text.contains("state='1' reason='0' id='1' persistent='yes'"),
        "{text}"
    );
}

#[tokio::test]
async fn define_writes_the_inactive_definition() {
    let dir = TempDir::new();
    let conn = open(&dir);
    let d = conn.define_xml(&dom_xml("d1", 1), 0).await.unwrap();
    let text = std::fs::read_to_string(dir.domain_file(&d)).unwrap();
    let inactive = conn
        .xml_desc(&d, xml::INACTIVE | xml::SECURE)
        .await
        .unwrap();
    assert!(
        text.contains(&format!("<config>\n{inactive}</config>")),
        "{text}"
    );
    assert!(!text.contains("<live>"));
    assert!(text.contains("state='5' reason='0' id='-1'"), "{text}");
    // A config change through the running domain's persistent definition is written too.
    conn.create(&d, 0).await.unwrap();
    conn.set_memory(&d, 524288, affect::CONFIG).await.unwrap();
    let text = std::fs::read_to_string(dir.domain_file(&d)).unwrap();
    assert!(text.contains("<currentMemory unit='KiB'>524288</currentMemory>"));
    assert!(text.contains("<live>"));
    // No write is left half done.
    let leftovers: Vec<_> = std::fs::read_dir(dir.domains())
        .unwrap()
        .flatten()
        .filter(|e| e.file_name().to_string_lossy().ends_with(".tmp"))
        .collect();
    assert!(leftovers.is_empty());
}

#[tokio::test]
async fn reopening_shows_every_domain_as_it_was() {
    let dir = TempDir::new();
    let before;
    {
        let conn = open(&dir);
        let test = conn.lookup_by_name("test").await.unwrap();
        conn.snapshot_create(&test, "<domainsnapshot><name>s1</name></domainsnapshot>", 0)
            .await
            .unwrap();
        conn.snapshot_create(&test, "<domainsnapshot><name>s2</name></domainsnapshot>", 0)
            .await
            .unwrap();
        let s1 = conn.snapshot_lookup(&test, "s1", 0).await.unwrap();
        conn.snapshot_revert(&s1, 0).await.unwrap();
        let d1 = conn.define_xml(&dom_xml("d1", 1), 0).await.unwrap();
        let d1 = conn.create(&d1, 0).await.unwrap();
        conn.suspend(&d1).await.unwrap();
        let d2 = conn.define_xml(&dom_xml("d2", 2), 0).await.unwrap();
        conn.set_autostart(&d2, true).await.unwrap();
        let d3 = conn.define_xml(&dom_xml("d3", 3), 0).await.unwrap();
        let d3 = conn.create(&d3, 0).await.unwrap();
        conn.managed_save(&d3, 0).await.unwrap();
        conn.create_xml(&dom_xml("t", 4), 0).await.unwrap();
        let d5 = conn.define_xml(&dom_xml("d5", 5), 0).await.unwrap();
        let d5 = conn.create(&d5, 0).await.unwrap();
        conn.destroy(&d5, 0).await.unwrap();
        // A running domain whose persistent definition differs from its live one.
        conn.set_vcpus(&d1, 3, affect::CONFIG).await.unwrap();
        before = view(&conn).await;
    }
    let conn = open(&dir);
    assert_eq!(view(&conn).await, before);
    let names: Vec<_> = conn
        .list_all(0)
        .await
        .unwrap()
        .into_iter()
        .map(|d| (d.name, d.id))
        .collect();
    assert_eq!(
        names,
        [
            ("test".into(), 2),
            ("d1".into(), 3),
            ("d2".into(), -1),
            ("d3".into(), -1),
            ("t".into(), 5),
            ("d5".into(), -1)
        ]
    );
    // IDs go on from where they were, never reused.
    let d5 = conn.lookup_by_name("d5").await.unwrap();
    assert_eq!(conn.create(&d5, 0).await.unwrap().id, 7);
    // The current snapshot and managed-save image came back.
    let test = conn.lookup_by_name("test").await.unwrap();
    assert_eq!(conn.snapshot_current(&test, 0).await.unwrap().name, "s1");
    let d3 = conn.lookup_by_name("d3").await.unwrap();
    assert!(conn.has_managed_save(&d3, 0).await.unwrap());
    let d3 = conn.create(&d3, 0).await.unwrap();
    assert_eq!(d3.id, 8);
}

#[tokio::test]
async fn undefine_removes_the_file_and_everything_with_it() {
    let dir = TempDir::new();
    let conn = open(&dir);
    let d = conn.define_xml(&dom_xml("d1", 1), 0).await.unwrap();
    let d = conn.create(&d, 0).await.unwrap();
    conn.snapshot_create(&d, "<domainsnapshot><name>s</name></domainsnapshot>", 0)
        .await
        .unwrap();
    conn.managed_save(&d, 0).await.unwrap();
    assert!(dir.domain_file(&d).exists());
    conn.undefine(&d, undefine::MANAGED_SAVE | undefine::SNAPSHOTS_METADATA)
        .await
        .unwrap();
    assert!(!dir.domain_file(&d).exists());
    // A running domain that is undefined stays, transient, until it stops.
    let d = conn.define_xml(&dom_xml("d2", 2), 0).await.unwrap();
    let d = conn.create(&d, 0).await.unwrap();
    conn.undefine(&d, 0).await.unwrap();
    let text = std::fs::read_to_string(dir.domain_file(&d)).unwrap();
    assert!(text.contains("persistent='no'") && !text.contains("<config>"));
    drop(conn);
    let conn = open(&dir);
    let again = conn.lookup_by_name("d2").await.unwrap();
    assert!(!conn.is_persistent(&again).await.unwrap());
    conn.destroy(&again, 0).await.unwrap();
    assert!(!dir.domain_file(&d).exists());
    drop(conn);
    let conn = open(&dir);
    assert!(conn.lookup_by_name("d2").await.is_err());
}

#[tokio::test]
async fn a_corrupt_file_is_skipped_and_the_rest_loads() {
    let dir = TempDir::new();
    let (d1, d2) = {
        let conn = open(&dir);
        let d1 = conn.define_xml(&dom_xml("d1", 1), 0).await.unwrap();
        let d2 = conn.define_xml(&dom_xml("d2", 2), 0).await.unwrap();
        (d1, d2)
    };
    std::fs::write(dir.domain_file(&d1), "<oxvirt-test-domain format='1'").unwrap();
    std::fs::write(dir.domains().join("junk.xml"), "<domain/>").unwrap();
    let conn = open(&dir);
    let names: Vec<_> = conn
        .list_all(0)
        .await
        .unwrap()
        .into_iter()
        .map(|d| d.name)
        .collect();
    assert_eq!(names, ["test", "d2"]);
    assert_eq!(conn.lookup_by_name("d2").await.unwrap(), d2);
    // The skipped domain can be defined again, replacing its bad file.
    conn.define_xml(&dom_xml("d1", 1), 0).await.unwrap();
    drop(conn);
    assert_eq!(open(&dir).lookup_by_name("d1").await.unwrap().uuid, d1.uuid);
}

#[tokio::test]
async fn an_interrupted_write_is_ignored() {
    let dir = TempDir::new();
    let d = {
        let conn = open(&dir);
        conn.define_xml(&dom_xml("d1", 1), 0).await.unwrap()
    };
    let file = dir.domain_file(&d);
    let tmp = file.with_extension("xml.tmp");
    // Half of a newer version of the file, as a crash during the write leaves it.
    let text = std::fs::read_to_string(&file).unwrap();
    std::fs::write(&tmp, &text[..text.len() / 2]).unwrap();
    let conn = open(&dir);
    let again = conn.lookup_by_name("d1").await.unwrap();
    assert_eq!(again, d);
    assert!(!tmp.exists());
}

#[tokio::test]
async fn a_failed_write_fails_the_call_and_undoes_it() {
    let dir = TempDir::new();
    let conn = open(&dir);
    let d = conn.define_xml(&dom_xml("d1", 1), 0).await.unwrap();
    // A directory where the temporary file must go makes the write fail, even for root.
    let tmp = dir.domain_file(&d).with_extension("xml.tmp");
    std::fs::create_dir(&tmp).unwrap();
    let expected = (
        ErrorCode::SystemError,
        ErrorDomain::None,
        format!("cannot create file '{}': Is a directory", tmp.display()),
    );
    assert_eq!(err(conn.set_autostart(&d, true).await), expected);
    assert!(!conn.autostart(&d).await.unwrap());
    assert_eq!(err(conn.create(&d, 0).await), expected);
    assert!(!conn.is_active(&d).await.unwrap());
    assert_eq!(conn.lookup_by_name("d1").await.unwrap(), d);
    // A new domain whose file cannot be written is not defined.
    let new = dom_xml("d9", 9);
    let uuid = "11111111-2222-3333-4444-000000000009";
    let tmp9 = dir.domains().join(format!("{uuid}.xml.tmp"));
    std::fs::create_dir(&tmp9).unwrap();
    assert_eq!(
        err(conn.define_xml(&new, 0).await).0,
        ErrorCode::SystemError
    );
    assert!(conn.lookup_by_name("d9").await.is_err());
    std::fs::remove_dir(&tmp).unwrap();
    conn.set_autostart(&d, true).await.unwrap();
    drop(conn);
    assert!(open(&dir).autostart(&d).await.unwrap());
}

#[tokio::test]
async fn an_unfinished_setup_is_done_again() {
    let dir = TempDir::new();
    {
        let conn = open(&dir);
        conn.define_xml(&dom_xml("d1", 1), 0).await.unwrap();
    }
    std::fs::remove_file(dir.path().join("test/default/format-version")).unwrap();
    let conn = open(&dir);
    assert!(conn.lookup_by_name("d1").await.is_err());
    assert_eq!(conn.list_all(0).await.unwrap().len(), 1);
    std::fs::write(dir.path().join("test/default/format-version"), "99\n").unwrap();
    drop(conn);
    let e = TestDriver::open_isolated_with_state(dir.path()).unwrap_err();
    assert_eq!(
        (e.code, e.domain),
        (ErrorCode::OperationFailed, ErrorDomain::Test)
    );
    assert!(
        e.message.contains("unsupported state format version '99'"),
        "{}",
        e.message
    );
}

#[tokio::test]
async fn the_shared_default_node_is_kept_in_the_state_dir() {
    let _guard = DEFAULT_NODE_LOCK.lock().await;
    let dir = TempDir::new();
    {
        let a = TestDriver::open_with_state("/default", dir.path()).unwrap();
        let b = TestDriver::open("/default").unwrap();
        let d = b.define_xml(&dom_xml("kept", 1), 0).await.unwrap();
        assert_eq!(a.lookup_by_name("kept").await.unwrap(), d);
        assert!(dir.domain_file(&d).exists());
    }
    // Every connection closed: the shared node is gone, and comes back from the disk.
    let c = TestDriver::open_with_state("/default", dir.path()).unwrap();
    assert!(c.lookup_by_name("kept").await.is_ok());
    drop(c);
    // Without a state dir the shared node starts from the built-in one again.
    let plain = TestDriver::open("/default").unwrap();
    assert!(plain.lookup_by_name("kept").await.is_err());
}

#[test]
fn node_files_ignore_the_state_dir() {
    let dir = TempDir::new();
    let e = TestDriver::open_with_state("/nonexistent/node.xml", dir.path()).unwrap_err();
    assert_eq!(e.code, ErrorCode::XmlError);
    assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 0);
}

#[tokio::test]
async fn device_metadata_snapshot_and_save_changes_survive() {
    const DISK: &str = "<disk type='file' device='disk'><source file='/x.img'/>\
                        <target dev='vdb' bus='virtio'/><alias name='ua-extra'/></disk>";
    let dir = TempDir::new();
    let image = dir.path().join("saved.img");
    let image = image.to_str().unwrap();
    let mut expected = Vec::new();
    {
        let conn = open(&dir);
        let test = conn.lookup_by_name("test").await.unwrap();
        // Live and config changes of a running domain.
        conn.attach_device(&test, DISK, affect::LIVE | affect::CONFIG)
            .await
            .unwrap();
        conn.set_metadata(&test, metadata::TITLE, Some("kept"), None, None, 0)
            .await
            .unwrap();
        let d = conn.define_xml(&dom_xml("d1", 1), 0).await.unwrap();
        conn.set_metadata(
            &d,
            metadata::ELEMENT,
            Some("<app><x y='1'/></app>"),
            Some("app"),
            Some("http://example.org/app"),
            0,
        )
        .await
        .unwrap();
        for name in ["a", "b", "c"] {
            let xml = format!("<domainsnapshot><name>{name}</name></domainsnapshot>");
            conn.snapshot_create(&test, &xml, 0).await.unwrap();
        }
        let b = conn.snapshot_lookup(&test, "b", 0).await.unwrap();
        conn.snapshot_delete(&b, 0).await.unwrap();
        // Saved and restored: stopped, then running again with a new ID.
        conn.save(&test, image, None, 0).await.unwrap();
        expected.push(view(&conn).await);
    }
    {
        let conn = open(&dir);
        assert_eq!(view(&conn).await, expected[0]);
        conn.restore(image, None, 0).await.unwrap();
        let test = conn.lookup_by_name("test").await.unwrap();
        assert_eq!(test.id, 2);
        let d = conn.lookup_by_name("d1").await.unwrap();
        conn.set_vcpus(&d, 3, affect::CONFIG).await.unwrap();
        expected.push(view(&conn).await);
    }
    let conn = open(&dir);
    assert_eq!(view(&conn).await, expected[1]);
    let test = conn.lookup_by_name("test").await.unwrap();
    let snaps: Vec<_> = conn
        .snapshot_list(&test, 0)
        .await
        .unwrap()
        .into_iter()
        .map(|s| s.name)
        .collect();
    assert_eq!(snaps, ["a", "c"]);
    let title = conn
        .metadata(&test, metadata::TITLE, None, 0)
        .await
        .unwrap();
    assert_eq!(title, "kept");
}

#[test]
fn a_state_dir_that_cannot_be_created_is_a_system_error() {
    let dir = TempDir::new();
    let file = dir.path().join("plain-file");
    std::fs::write(&file, "").unwrap();
    let e = TestDriver::open_isolated_with_state(&file).unwrap_err();
    assert_eq!(
        (e.code, e.domain),
        (ErrorCode::SystemError, ErrorDomain::None)
    );
    assert_eq!(
        e.message,
        format!(
            "cannot create config directory '{}': Not a directory",
            file.join("test/default/domains").display()
        )
    );
}
