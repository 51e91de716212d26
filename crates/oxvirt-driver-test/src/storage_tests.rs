//! The test node's storage pools and volumes, with the answers `virsh -c test:///default`
//! (libvirt 9.0) gives.

use oxvirt_storage::api::{
    flags, PoolEvent, PoolEventKind, PoolEventWhat, PoolState, StorageDriver, VolType,
};
use oxvirt_xml::ErrorCode;

use crate::{TestDriver, TestStorage, DEFAULT_POOL_CAPACITY};

const DEFAULT_POOL_XML: &str = "<pool type='dir'>
  <name>default-pool</name>
  <uuid>dfe224cb-28fb-8dd0-c4b2-64eb3f0f4566</uuid>
  <capacity unit='bytes'>107374182400</capacity>
  <allocation unit='bytes'>0</allocation>
  <available unit='bytes'>107374182400</available>
  <source>
  </source>
  <target>
    <path>/default-pool</path>
  </target>
</pool>
";

const VOL_A: &str = "<volume>\n  <name>a</name>\n  \
    <capacity unit='bytes'>10485760</capacity>\n</volume>\n";

const VOL_A_XML: &str = "<volume type='file'>
  <name>a</name>
  <key>/default-pool/a</key>
  <capacity unit='bytes'>10485760</capacity>
  <allocation unit='bytes'>10485760</allocation>
  <target>
    <path>/default-pool/a</path>
    <format type='raw'/>
  </target>
</volume>
";

const X: &str = "<pool type='dir'>\n  <name>x</name>\n  \
    <target>\n    <path>/x</path>\n  </target>\n</pool>\n";

fn storage() -> TestStorage {
    TestDriver::open_isolated("/default")
        .unwrap()
        .storage_driver()
}

#[tokio::test]
async fn the_default_pool_is_libvirts() {
    let s = storage();
    let all = s.list_all_pools(0).await.unwrap();
    assert_eq!(all.len(), 1);
    let p = &all[0];
    assert_eq!(p.name, "default-pool");
    assert_eq!(p.uuid.to_string(), "dfe224cb-28fb-8dd0-c4b2-64eb3f0f4566");
    assert_eq!(s.pool_xml_desc(p, 0).await.unwrap(), DEFAULT_POOL_XML);
    assert!(s.pool_is_active(p).await.unwrap());
    assert!(s.pool_is_persistent(p).await.unwrap());
    assert!(!s.pool_autostart(p).await.unwrap());
    let info = s.pool_info(p).await.unwrap();
    assert_eq!(info.state, PoolState::Running);
    assert_eq!(
        (info.capacity, info.allocation, info.available),
        (DEFAULT_POOL_CAPACITY, 0, DEFAULT_POOL_CAPACITY)
    );
    assert!(s.pool_list_volumes(p).await.unwrap().is_empty());
    let e = s.pool_xml_desc(p, flags::xml::INACTIVE).await.unwrap_err();
    assert_eq!(
        e.message,
        "unsupported flags (0x1) in function testStoragePoolGetXMLDesc"
    );
    let e = s.pool_lookup_by_name("nope").await.unwrap_err();
    assert_eq!(
        (e.code, e.message.as_str()),
        (
            ErrorCode::NoStoragePool,
            "Storage pool not found: no storage pool with matching name 'nope'"
        )
    );
    assert_eq!(
        s.list_all_pools(flags::list::INACTIVE).await.unwrap().len(),
        0
    );
    assert_eq!(
        s.list_all_pools(flags::list::type_bit("logical").unwrap())
            .await
            .unwrap()
            .len(),
        0
    );
    assert_eq!(s.list_all_pools(flags::list::DIR).await.unwrap().len(), 1);
}

#[tokio::test]
async fn volumes_are_created_listed_cloned_and_deleted() {
    let s = storage();
    let p = s.pool_lookup_by_name("default-pool").await.unwrap();
    let a = s.vol_create_xml(&p, VOL_A, 0).await.unwrap();
    assert_eq!(
        (a.pool.as_str(), a.name.as_str(), a.key.as_str()),
        ("default-pool", "a", "/default-pool/a")
    );
    assert_eq!(s.vol_xml_desc(&a, 0).await.unwrap(), VOL_A_XML);
    assert_eq!(s.vol_path(&a).await.unwrap(), "/default-pool/a");
    let info = s.vol_info(&a, 0).await.unwrap();
    assert_eq!(
        (info.kind, info.capacity, info.allocation),
        (VolType::File, 10485760, 10485760)
    );
    assert_eq!(s.pool_info(&p).await.unwrap().allocation, 10485760);
    let e = s.vol_create_xml(&p, VOL_A, 0).await.unwrap_err();
    assert_eq!(e.message, "operation failed: storage vol already exists");
    let big = "<volume><name>big</name><capacity unit='G'>200</capacity></volume>";
    let e = s.vol_create_xml(&p, big, 0).await.unwrap_err();
    assert_eq!(
        e.message,
        "internal error: Not enough free space in pool for volume 'big'"
    );
    let b = s
        .vol_create_xml_from(&p, &VOL_A_XML.replace(">a<", ">b<"), &a, 0)
        .await
        .unwrap();
    assert_eq!(b.key, "/default-pool/b");
    assert_eq!(s.pool_info(&p).await.unwrap().allocation, 2 * 10485760);
    let names: Vec<String> = s
        .pool_list_volumes(&p)
        .await
        .unwrap()
        .into_iter()
        .map(|v| v.name)
        .collect();
    assert_eq!(names, ["a", "b"]);
    assert_eq!(s.vol_lookup_by_key("/default-pool/b").await.unwrap(), b);
    assert_eq!(s.vol_lookup_by_path("/default-pool/a").await.unwrap(), a);
    assert_eq!(s.vol_lookup_by_name(&p, "a").await.unwrap(), a);
    assert_eq!(s.pool_lookup_by_volume(&a).await.unwrap(), p);
    let e = s.vol_lookup_by_path("/default-pool/zz").await.unwrap_err();
    assert_eq!(
        (e.code, e.message.as_str()),
        (
            ErrorCode::NoStorageVol,
            "Storage volume not found: no storage vol with matching path '/default-pool/zz'"
        )
    );
    let e = s.vol_resize(&a, 1, 0).await.unwrap_err();
    assert_eq!(
        e.message,
        "this function is not supported by the connection driver: virStorageVolResize"
    );
    let e = s.vol_wipe(&a, 0, 0).await.unwrap_err();
    assert_eq!(
        e.message,
        "this function is not supported by the connection driver: virStorageVolWipe"
    );
    s.vol_delete(&a, 0).await.unwrap();
    let e = s.vol_delete(&a, 0).await.unwrap_err();
    assert_eq!(
        e.message,
        "Storage volume not found: no storage vol with matching name 'a'"
    );
    assert_eq!(s.pool_info(&p).await.unwrap().allocation, 10485760);
}

fn lifecycle(e: PoolEvent) -> (String, PoolEventWhat) {
    (e.pool.name, e.what)
}

#[tokio::test]
async fn pools_are_defined_started_stopped_and_undefined_with_events() {
    use PoolEventKind::*;
    let s = storage();
    let mut events = s.subscribe();
    let x = s.pool_define_xml(X, 0).await.unwrap();
    assert!(!s.pool_is_active(&x).await.unwrap());
    assert_eq!(
        s.list_all_pools(flags::list::INACTIVE).await.unwrap(),
        std::slice::from_ref(&x)
    );
    s.pool_build(&x, 0).await.unwrap();
    s.pool_create(&x, 0).await.unwrap();
    let e = s.pool_create(&x, 0).await.unwrap_err();
    assert_eq!(
        e.message,
        "Requested operation is not valid: storage pool 'x' is active"
    );
    let e = s.pool_undefine(&x).await.unwrap_err();
    assert_eq!(e.code, ErrorCode::OperationInvalid);
    s.pool_refresh(&x, 0).await.unwrap();
    s.pool_destroy(&x).await.unwrap();
    let e = s.pool_refresh(&x, 0).await.unwrap_err();
    assert_eq!(
        e.message,
        "Requested operation is not valid: storage pool 'x' is not active"
    );
    let e = s.pool_list_volumes(&x).await.unwrap_err();
    assert_eq!(
        e.message,
        "Requested operation is not valid: storage pool is not active"
    );
    s.pool_delete(&x, 0).await.unwrap();
    s.pool_set_autostart(&x, true).await.unwrap();
    assert!(s.pool_autostart(&x).await.unwrap());
    s.pool_undefine(&x).await.unwrap();
    assert!(s.pool_lookup_by_name("x").await.is_err());
    let mut seen = Vec::new();
    while let Ok(e) = events.try_recv() {
        seen.push(lifecycle(e));
    }
    let l = |k| ("x".to_string(), PoolEventWhat::Lifecycle(k));
    assert_eq!(
        seen,
        [
            l(Defined),
            l(Created),
            l(Started),
            ("x".to_string(), PoolEventWhat::Refresh),
            l(Stopped),
            l(Deleted),
            l(Undefined)
        ]
    );
}

#[tokio::test]
async fn duplicates_and_transient_pools_answer_as_libvirt() {
    let s = storage();
    let e = s
        .pool_define_xml(&X.replace("/x", "/default-pool"), 0)
        .await
        .unwrap_err();
    assert_eq!(
        e.message,
        "operation failed: Storage source conflict with pool: 'default-pool'"
    );
    let e = s
        .pool_define_xml(&X.replace(">x<", ">default-pool<"), 0)
        .await
        .unwrap_err();
    assert_eq!(
        e.message,
        "operation failed: pool 'default-pool' already exists with uuid \
         dfe224cb-28fb-8dd0-c4b2-64eb3f0f4566"
    );
    let t = s.pool_create_xml(X, 0).await.unwrap();
    assert!(!s.pool_is_persistent(&t).await.unwrap());
    let e = s.pool_set_autostart(&t, true).await.unwrap_err();
    assert_eq!(e.message, "invalid argument: pool has no config file");
    assert_eq!(
        s.list_all_pools(flags::list::TRANSIENT).await.unwrap(),
        std::slice::from_ref(&t)
    );
    s.pool_destroy(&t).await.unwrap();
    assert!(s.pool_lookup_by_name("x").await.is_err());
}

#[tokio::test]
async fn source_discovery_is_the_test_drivers() {
    let s = storage();
    let logical = s.find_pool_sources("logical", None, 0).await.unwrap();
    assert!(logical.contains("<name>testvg2</name>"));
    let e = s.find_pool_sources("netfs", None, 0).await.unwrap_err();
    assert_eq!(
        e.message,
        "invalid argument: hostname must be specified for netfs sources"
    );
    let netfs = s
        .find_pool_sources("netfs", Some("<source><host name='h1'/></source>"), 0)
        .await
        .unwrap();
    assert!(netfs.contains("<host name='h1'/>"));
    let e = s.find_pool_sources("dir", None, 0).await.unwrap_err();
    assert_eq!(e.message, "internal error: unknown storage pool type dir");
    let e = s.find_pool_sources("iscsi", None, 0).await.unwrap_err();
    assert_eq!(e.code, ErrorCode::NoSupport);
}

#[tokio::test]
async fn a_node_files_volumes_count_in_their_pool() {
    let xml = "<node><pool type='dir'><name>p</name><target><path>/p</path></target>\
        <volume><name>v</name><capacity>1000</capacity><allocation>500</allocation></volume>\
        </pool></node>";
    let s = TestDriver::open_xml(xml).unwrap().storage_driver();
    let p = s.pool_lookup_by_name("p").await.unwrap();
    assert_eq!(s.pool_info(&p).await.unwrap().allocation, 500);
    let v = s.vol_lookup_by_name(&p, "v").await.unwrap();
    assert_eq!(v.key, "/p/v");
    let info = s.vol_info(&v, 0).await.unwrap();
    assert_eq!((info.capacity, info.allocation), (1000, 500));
}

#[test]
fn a_node_file_with_a_bad_pool_or_volume_does_not_open() {
    let e =
        TestDriver::open_xml("<node><pool type='dir'><name>p</name></pool></node>").unwrap_err();
    assert_eq!(e.message, "XML error: missing storage pool target path");
    let e = TestDriver::open_xml(
        "<node><pool type='dir'><name>p</name><target><path>/p</path></target>\
         <volume><name>v</name></volume></pool></node>",
    )
    .unwrap_err();
    assert_eq!(e.message, "XML error: missing capacity element");
}

#[tokio::test]
async fn a_source_spec_of_another_root_is_an_xml_error() {
    let e = storage()
        .find_pool_sources("netfs", Some("<bogus/>"), 0)
        .await
        .unwrap_err();
    assert_eq!(
        (e.domain, e.message.as_str()),
        (
            oxvirt_xml::ErrorDomain::Xml,
            "XML error: expecting root element of 'source', not 'bogus'"
        )
    );
}
