//! In-process `test:///default` connections carry the test node's storage pools, as
//! libvirt's test driver: one node for every connection of the process, pool events from
//! one connection seen on another, a node file's pools private to its connection. (A file
//! of its own: this test changes the shared node, which no other test may see.)

use oxvirt::Connect;
use oxvirt_storage::api::{PoolEventKind, PoolEventWhat, PoolState};

#[tokio::test]
async fn default_connections_share_the_test_nodes_pools() {
    let first = Connect::open("test:///default").await.unwrap();
    let second = Connect::open("test:///default").await.unwrap();
    let mut events = second.storage_pool_events().unwrap();

    let pool = first
        .lookup_storage_pool_by_name("default-pool")
        .await
        .unwrap();
    let vol = pool
        .create_volume_xml(
            "<volume><name>shared</name><capacity unit='M'>1</capacity></volume>",
            0,
        )
        .await
        .unwrap();
    assert_eq!(vol.key(), "/default-pool/shared");
    assert_eq!(vol.path().await.unwrap(), "/default-pool/shared");

    let seen = second
        .lookup_storage_pool_by_name("default-pool")
        .await
        .unwrap();
    let names: Vec<String> = seen
        .list_all_volumes(0)
        .await
        .unwrap()
        .iter()
        .map(|v| v.name().to_string())
        .collect();
    assert_eq!(names, ["shared"]);
    assert_eq!(seen.info().await.unwrap().allocation, 1024 * 1024);

    pool.destroy().await.unwrap();
    assert_eq!(seen.info().await.unwrap().state, PoolState::Inactive);
    let event = events.next().await.unwrap();
    assert_eq!(event.pool.name, "default-pool");
    assert_eq!(event.what, PoolEventWhat::Lifecycle(PoolEventKind::Stopped));
    pool.create(0).await.unwrap();
    vol.delete(0).await.unwrap();

    // A node file's pools belong to its connection.
    let dir = std::env::temp_dir().join(format!("oxvirt-pools-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let node = dir.join("node.xml");
    std::fs::write(
        &node,
        "<node><pool type='dir'><name>p</name><target><path>/p</path></target>\
         <volume><name>v</name><capacity>10</capacity></volume></pool></node>",
    )
    .unwrap();
    let uri = format!("test://{}", node.display());
    let a = Connect::open(&uri).await.unwrap();
    let b = Connect::open(&uri).await.unwrap();
    let _ = std::fs::remove_dir_all(&dir);
    a.lookup_storage_pool_by_name("p")
        .await
        .unwrap()
        .destroy()
        .await
        .unwrap();
    let p = b.lookup_storage_pool_by_name("p").await.unwrap();
    assert_eq!(p.info().await.unwrap().state, PoolState::Running);
    assert!(a.lookup_storage_pool_by_name("default-pool").await.is_err());
}
