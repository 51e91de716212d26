//! The `net-*` commands through `oxvirsh -c test:///default` and libvirt's own
//! `virsh -c test:///default`: identical stdout, stderr and exit status, character for
//! character. Each case is one command line (commands separated by `;` share a node).
//!
//! Without virsh installed the test prints "SKIPPED: virsh not installed" and passes.

mod common;

use std::process::{Command, Stdio};

use common::{libvirtd_usable, run_line, virsh_installed, LIBVIRTD};

const OXVIRSH: &str = env!("CARGO_BIN_EXE_oxvirsh");

const N2: &str = "<network>\n  <name>n2</name>\n  \
    <uuid>9f1c1b3e-2f4a-4d6b-8c1e-0a1b2c3d4e5f</uuid>\n  <bridge name='virbr5'/>\n  \
    <ip address='192.168.150.1' netmask='255.255.255.0'/>\n</network>\n";

fn run(program: &str, line: &str) -> (String, String, Option<i32>) {
    run_line(program, "test:///default", line)
}

#[test]
fn net_commands_match_virsh_character_for_character() {
    if !virsh_installed() {
        eprintln!("SKIPPED: virsh not installed");
        return;
    }
    let dir = std::env::temp_dir().join(format!("oxvirsh-net-parity-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("temp dir");
    let n2 = dir.join("n2.xml");
    std::fs::write(&n2, N2).expect("n2.xml");
    let n2 = n2.to_string_lossy().into_owned();
    // default's UUID with another bridge: a new definition of the same network.
    let same = dir.join("same.xml");
    std::fs::write(
        &same,
        "<network>\n  <name>default</name>\n  \
         <uuid>dd8fe884-6c02-601e-7551-cca97df1c5df</uuid>\n  \
         <bridge name='virbr9'/>\n</network>\n",
    )
    .expect("same.xml");
    let same = same.to_string_lossy().into_owned();
    let lines = [
        "net-list".to_owned(),
        "net-list --all".into(),
        "net-list --inactive".into(),
        "net-list --name".into(),
        "net-list --uuid --all".into(),
        "net-list --table --name".into(),
        "net-list --transient --all".into(),
        "net-list --all --no-autostart".into(),
        "net-info default".into(),
        "net-info dd8fe884-6c02-601e-7551-cca97df1c5df".into(),
        "net-info nope".into(),
        "net-uuid default".into(),
        "net-name dd8fe884-6c02-601e-7551-cca97df1c5df".into(),
        "net-name 00000000-0000-0000-0000-000000000000".into(),
        "net-dumpxml default".into(),
        "net-dumpxml default --inactive".into(),
        "net-dhcp-leases default".into(),
        "net-autostart default; net-list --autostart --all; net-autostart default --disable".into(),
        "net-undefine default".into(),
        "net-destroy default; net-info default; net-list --inactive; net-destroy default".into(),
        "net-start default".into(),
        "net-start nope".into(),
        format!("net-define {n2}; net-list --all; net-start n2; net-info n2; net-create {n2}"),
        format!("net-define {n2}; net-undefine n2; net-info n2"),
        format!("net-create {n2}; net-list --transient; net-destroy n2; net-list --all"),
        format!("net-define {n2}; net-start n2; net-define {n2}; net-info n2"),
        "net-define /nonexistent/n.xml".into(),
        "net-update default add ip-dhcp-host \"<host mac='52:54:00:00:00:01' ip='192.168.122.5'/>\" --live; net-dumpxml default".into(),
        "net-update default add-first ip-dhcp-host \"<host mac='52:54:00:00:00:03' ip='192.168.122.7'/>\" --config".into(),
        "net-update default add ip-dhcp-host \"<host mac='52:54:00:00:00:04' ip='192.168.122.8'/>\" --config --live".into(),
        "net-update default add ip-dhcp-host \"<host mac='52:54:00:00:00:02' ip='192.168.122.6'/>\"".into(),
        "net-update default bogus ip x".into(),
        "net-update default add bogus x".into(),
        "net-update default add ip-dhcp-host /nonexistent".into(),
        "net-destroy default; net-update default add ip-dhcp-host \"<host mac='52:54:00:00:00:01' ip='192.168.122.5'/>\" --live; net-update default add ip-dhcp-host \"<host mac='52:54:00:00:00:01' ip='192.168.122.5'/>\"; net-dumpxml default; net-start default; net-update default add ip-dhcp-host \"<host mac='52:54:00:00:00:02' ip='192.168.122.6'/>\" --config; net-dumpxml default; net-destroy default; net-dumpxml default".into(),
        format!("net-define {same}; net-dumpxml default; net-destroy default; net-dumpxml default; net-start default; net-destroy default; net-create {same}; net-info default; net-update default add dns-host \"<host ip='10.0.0.1'><hostname>x</hostname></host>\" --config; net-destroy default; net-list --all"),
        "net-event --timeout 1".into(),
        "net-event --list".into(),
        "net-event --event foo".into(),
        "net-event --event lifecycle --timeout 1".into(),
    ];
    let mut failures = Vec::new();
    for line in &lines {
        let ours = run(OXVIRSH, line);
        let theirs = run("virsh", line);
        if ours != theirs {
            failures.push(format!(
                "{line}\n  oxvirsh: {ours:?}\n  virsh:   {theirs:?}"
            ));
        }
    }
    let _ = std::fs::remove_dir_all(&dir);
    eprintln!(
        "net parity: {}/{} command lines identical",
        lines.len() - failures.len(),
        lines.len()
    );
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

/// A network that is only defined, never started (nothing on the host changes), with
/// everything libvirt would generate given.
const REMOTE_NET: &str = "<network>\n  <name>oxvt-netparity-t</name>\n  \
    <uuid>1f1c1b3e-2f4a-4d6b-8c1e-0a1b2c3d4e5f</uuid>\n  <bridge name='oxvtnp0'/>\n  \
    <mac address='52:54:00:d6:50:56'/>\n</network>\n";

/// oxvirsh's remote network driver against a real libvirtd on qemu:///system: the same
/// text as virsh for a defined (never started) network's whole life.
#[test]
fn net_commands_over_rpc_match_virsh_against_libvirtd() {
    if !libvirtd_usable("net_commands_over_rpc_match_virsh_against_libvirtd") {
        return;
    }
    let uri = LIBVIRTD;
    let path = std::env::temp_dir().join(format!("oxvt-netparity-{}.xml", std::process::id()));
    std::fs::write(&path, REMOTE_NET).expect("network XML");
    let file = path.to_string_lossy().into_owned();
    let name = "oxvt-netparity-t";
    let script = [
        format!("net-define {file}"),
        "net-list --all --inactive --name".to_owned(),
        format!("net-autostart {name}"),
        format!("net-info {name}"),
        format!("net-autostart {name} --disable"),
        format!("net-dumpxml {name} --inactive"),
        format!(
            "net-update {name} add dns-host \"<host ip='10.0.0.1'><hostname>x</hostname></host>\" --config"
        ),
        format!("net-dumpxml {name}"),
        format!(
            "net-update {name} add dns-host \"<host ip='10.0.0.2'><hostname>y</hostname></host>\" --live"
        ),
        format!("net-destroy {name}"),
        "net-name 1f1c1b3e-2f4a-4d6b-8c1e-0a1b2c3d4e5f".to_owned(),
        format!("net-undefine {name}"),
        format!("net-info {name}"),
    ]
    .join(" ; ");
    let theirs = run_line("virsh", uri, &script);
    let ours = run_line(OXVIRSH, uri, &script);
    // Whatever happened, leave nothing behind.
    let _ = run_line("virsh", uri, &format!("net-undefine {name}"));
    let _ = std::fs::remove_file(&path);
    assert_eq!(ours, theirs);
    assert!(theirs
        .0
        .contains(&format!("Network {name} has been undefined")));
}

/// oxvirsh's `net-event` receives a real libvirtd's network lifecycle events through the
/// remote network driver's callback registration.
#[test]
fn net_event_over_rpc_sees_libvirtd_events() {
    if !libvirtd_usable("net_event_over_rpc_sees_libvirtd_events") {
        return;
    }
    let uri = LIBVIRTD;
    let name = "oxvt-netevent-t";
    let xml = REMOTE_NET
        .replace("oxvt-netparity-t", name)
        .replace("1f1c1b3e", "2f1c1b3e")
        .replace("oxvtnp0", "oxvtne0")
        .replace("d6:50:56", "d6:50:57");
    let path = std::env::temp_dir().join(format!("oxvt-netevent-{}.xml", std::process::id()));
    std::fs::write(&path, xml).expect("network XML");
    let watcher = Command::new(OXVIRSH)
        .args(["-c", uri, "net-event --event lifecycle --loop --timeout 4"])
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("oxvirsh net-event");
    std::thread::sleep(std::time::Duration::from_millis(1500));
    let file = path.to_string_lossy().into_owned();
    let done = run_line(
        "virsh",
        uri,
        &format!("net-define {file} ; net-undefine {name}"),
    );
    let out = watcher.wait_with_output().expect("net-event ends");
    let _ = run_line("virsh", uri, &format!("net-undefine {name}"));
    let _ = std::fs::remove_file(&path);
    assert_eq!(done.2, Some(0), "{done:?}");
    assert_eq!(
        String::from_utf8_lossy(&out.stdout),
        format!(
            "event 'lifecycle' for network {name}: Defined\n\
             event 'lifecycle' for network {name}: Undefined\n\
             event loop timed out\nevents received: 2\n\n"
        ),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// `--json` prints the networks as objects, and errors as virsh's lines with libvirt's
/// code and domain.
#[test]
fn net_commands_print_json() {
    let run_json = |line: &str| {
        let out = Command::new(OXVIRSH)
            .args(["--json", "-c", "test:///default", line])
            .env_remove("LIBVIRT_DEFAULT_URI")
            .stdin(Stdio::null())
            .output()
            .expect("oxvirsh runs");
        (
            String::from_utf8_lossy(&out.stdout).into_owned(),
            String::from_utf8_lossy(&out.stderr).into_owned(),
            out.status.code(),
        )
    };
    let uuid = "dd8fe884-6c02-601e-7551-cca97df1c5df";
    assert_eq!(
        run_json("net-list --all").0,
        format!(
            "[{{\"active\":true,\"autostart\":false,\"name\":\"default\",\
             \"persistent\":true,\"state\":\"active\",\"uuid\":\"{uuid}\"}}]\n"
        )
    );
    assert_eq!(
        run_json("net-info default").0,
        format!(
            "{{\"active\":true,\"autostart\":false,\"bridge\":\"virbr0\",\"name\":\"default\",\
             \"persistent\":true,\"uuid\":\"{uuid}\"}}\n"
        )
    );
    let (out, err, code) = run_json("net-info nope");
    assert_eq!(code, Some(1));
    assert!(
        (out.clone() + &err)
            .contains("\"code\":43,\"context\":[\"failed to get network 'nope'\"],\"domain\":19"),
        "{out}{err}"
    );
}
