use super::*;
use oxvirt::event::{DefinedDetail, StoppedDetail};
use oxvirt::state::{PausedReason, RunningReason, ShutoffReason};
use oxvirt::{ErrorCode, ErrorDomain};

fn cells(v: &[&str]) -> Vec<String> {
    v.iter().map(|s| (*s).to_owned()).collect()
}

#[test]
fn table_matches_virsh_list() {
    let mut t = Table::new(&["Id", "Name", "State"]);
    t.row(cells(&["1", "test", "running"]));
    assert_eq!(
        t.render(false),
        " Id   Name   State\n----------------------\n 1    test   running\n"
    );
    let mut t = Table::new(&["Id", "Name", "State", "Title"]);
    t.row(cells(&["1", "test", "running", ""]));
    t.row(cells(&["-", "zed", "shut off", "My title"]));
    assert_eq!(
        t.render(false),
        " Id   Name   State      Title\n\
         ----------------------------------\n \
         1    test   running    \n \
         -    zed    shut off   My title\n"
    );
}

#[test]
fn empty_table_and_quiet_table() {
    let t = Table::new(&["Id", "Name", "State"]);
    assert_eq!(
        t.render(false),
        " Id   Name   State\n--------------------\n"
    );
    let mut t = Table::new(&["Id", "Name", "State"]);
    t.row(cells(&["1", "test", "running"]));
    // -q: no header, and the header's widths do not count
    assert_eq!(t.render(true), " 1   test   running\n");
}

#[test]
fn state_and_reason_words() {
    assert_eq!(state_name(DomainState::Shutoff), "shut off");
    assert_eq!(state_name(DomainState::Blocked), "idle");
    assert_eq!(state_name(DomainState::Shutdown), "in shutdown");
    assert_eq!(
        reason_name(StateReason::Running(RunningReason::Booted)),
        "booted"
    );
    assert_eq!(
        reason_name(StateReason::Running(RunningReason::Wakeup)),
        "event wakeup"
    );
    assert_eq!(reason_name(StateReason::Paused(PausedReason::User)), "user");
    assert_eq!(
        reason_name(StateReason::Paused(PausedReason::Snapshot)),
        "creating snapshot"
    );
    assert_eq!(
        reason_name(StateReason::Shutoff(ShutoffReason::Destroyed)),
        "destroyed"
    );
    assert_eq!(
        reason_name(StateReason::Shutoff(ShutoffReason::FromSnapshot)),
        "from snapshot"
    );
}

#[test]
fn lifecycle_event_words() {
    assert_eq!(
        lifecycle_words(Lifecycle::Stopped(StoppedDetail::Destroyed)),
        ("Stopped", "Destroyed")
    );
    assert_eq!(
        lifecycle_words(Lifecycle::Defined(DefinedDetail::FromSnapshot)),
        ("Defined", "Snapshot")
    );
    assert_eq!(
        lifecycle_words(Lifecycle::Shutdown(ShutdownDetail::Guest)),
        ("Shutdown", "Finished after guest request")
    );
}

#[test]
fn errors_as_text_and_json() {
    let cause = VirError::new(
        ErrorDomain::Domain,
        ErrorCode::NoDomain,
        "no domain with matching name 'x'",
    );
    let e = CmdError::instead("failed to get domain 'x'", cause.clone());
    assert_eq!(e.text_lines(), vec!["failed to get domain 'x'"]);
    assert_eq!(
        e.to_json().to_string(),
        format!(
            r#"{{"error":{{"code":42,"context":["failed to get domain 'x'"],"domain":{},"message":"Domain not found: no domain with matching name 'x'"}}}}"#,
            ErrorDomain::Domain.number()
        )
    );
    let e = CmdError::with("Failed to start domain 'foo'", cause);
    assert_eq!(
        e.text_lines(),
        vec![
            "Failed to start domain 'foo'",
            "Domain not found: no domain with matching name 'x'"
        ]
    );
    let e = CmdError::msg("Domain is already active");
    assert_eq!(
        e.to_json().to_string(),
        r#"{"error":{"code":0,"domain":0,"message":"Domain is already active"}}"#
    );
    assert!(CmdError::silent("event loop timed out")
        .text_lines()
        .is_empty());
}

#[test]
fn times_and_versions() {
    assert_eq!(format_time(0), "1970-01-01 00:00:00 +0000");
    assert_eq!(format_time(1_795_689_831), "2026-11-26 10:43:51 +0000");
    assert_eq!(format_time(951_782_400), "2000-02-29 00:00:00 +0000");
    assert_eq!(version_string(9_000_000), "9.0.0");
    assert_eq!(version_string(2), "0.0.2");
    assert_eq!(version_string(1_002_003), "1.2.3");
}

#[test]
fn io_errors_read_like_strerror() {
    let e = std::io::Error::from_raw_os_error(2);
    assert_eq!(io_error_text(&e), "No such file or directory");
}
