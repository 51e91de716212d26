//! Every `test:///default` connection of a process sees one node, as in libvirt: a change
//! made through one connection, and its event, reach the others. (A file of its own: this
//! test changes the shared node, which no other test may see.)

use oxvirt::event::{ResumedDetail, SuspendedDetail};
use oxvirt::state::{PausedReason, RunningReason};
use oxvirt::{Connect, EventKind, Lifecycle, StateReason};

#[tokio::test]
async fn default_connections_share_one_node() {
    let first = Connect::open("test:///default").await.unwrap();
    let second = Connect::open_read_only("test:///default").await.unwrap();
    assert!(!first.same_connection(&second));
    let mut events = second.events();

    first
        .lookup_domain_by_name("test")
        .await
        .unwrap()
        .suspend()
        .await
        .unwrap();
    let seen = second.lookup_domain_by_name("test").await.unwrap();
    assert_eq!(
        seen.state().await.unwrap(),
        StateReason::Paused(PausedReason::User)
    );
    let event = events.next().await.unwrap();
    assert_eq!(event.domain.name, "test");
    assert_eq!(
        event.kind,
        EventKind::Lifecycle(Lifecycle::Suspended(SuspendedDetail::Paused))
    );

    first
        .lookup_domain_by_name("test")
        .await
        .unwrap()
        .resume()
        .await
        .unwrap();
    assert_eq!(
        seen.state().await.unwrap(),
        StateReason::Running(RunningReason::Unpaused)
    );
    assert_eq!(
        events.next().await.unwrap().kind,
        EventKind::Lifecycle(Lifecycle::Resumed(ResumedDetail::Unpaused))
    );
}
