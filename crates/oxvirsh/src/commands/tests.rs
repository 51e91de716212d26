//! Commands run against a private copy of the test driver's default node; the expected
//! texts are what `virsh -c test:///default` (libvirt 9.0) prints.

use std::time::Duration;

use crate::ctl::Options;
use crate::testing::{normalise_cpu_time, Outcome, Session};

const UUID: &str = "6695eb01-f6a4-8304-79aa-97f2502e193f";

fn temp_file(name: &str, content: &str) -> String {
    let dir = std::env::temp_dir().join(format!("oxvirsh-test-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join(name);
    std::fs::write(&path, content).unwrap();
    path.to_string_lossy().into_owned()
}

const FOO_XML: &str = "<domain type='test'>\n  <name>foo</name>\n  \
    <memory unit='KiB'>1048576</memory>\n  <vcpu>2</vcpu>\n  <os><type>hvm</type></os>\n</domain>\n";

#[test]
fn list_forms() {
    let mut s = Session::new();
    assert_eq!(
        s.ok("list"),
        " Id   Name   State\n----------------------\n 1    test   running\n\n"
    );
    assert_eq!(s.ok("list --name"), "test\n\n");
    assert_eq!(s.ok("list --uuid"), format!("{UUID}\n\n"));
    assert_eq!(
        s.ok("list --uuid --id --name"),
        format!("{UUID} 1 test\n\n")
    );
    assert_eq!(
        s.ok("list --title"),
        " Id   Name   State     Title\n------------------------------\n 1    test   running   \n\n"
    );
    assert_eq!(
        s.run("list --table --name"),
        Outcome {
            out: "\n".into(),
            err: "error: Options --table and --name are mutually exclusive\n".into(),
            ok: false
        }
    );
}

#[test]
fn list_sorts_running_by_id_then_inactive_by_name() {
    let mut s = Session::new();
    for name in ["beta", "Alpha", "gamma"] {
        let path = temp_file(&format!("{name}.xml"), &FOO_XML.replace("foo", name));
        s.ok(&format!("define {path}"));
    }
    s.ok("start gamma");
    assert_eq!(
        s.ok("list --all --name"),
        "test\ngamma\nAlpha\nbeta\n\n",
        "active by ID first, then inactive by name ignoring case"
    );
    assert_eq!(s.ok("list --inactive --id"), "\n");
    assert_eq!(
        s.ok("list --state-shutoff"),
        " Id   Name    State\n------------------------\n -    Alpha   shut off\n -    beta    shut off\n\n"
    );
}

#[test]
fn quiet_drops_headers_and_blank_lines() {
    let mut s = Session::with(Options {
        quiet: true,
        ..Options::default()
    });
    assert_eq!(s.ok("list; uri"), " 1   test   running\ntest:///default\n");
    assert_eq!(s.ok("destroy test"), "");
}

#[test]
fn dominfo_and_states() {
    let mut s = Session::new();
    assert_eq!(
        normalise_cpu_time(&s.ok("dominfo test")),
        format!(
            "Id:             1\nName:           test\nUUID:           {UUID}\n\
             OS Type:        linux\nState:          running\nCPU(s):         2\n\
             CPU time:       X\nMax memory:     8388608 KiB\nUsed memory:    2097152 KiB\n\
             Persistent:     yes\nAutostart:      disable\nManaged save:   no\n\
             Security model: testSecurity\nSecurity DOI:   \n\
             Security label: libvirt-test (enforcing)\n\n"
        )
    );
    assert_eq!(s.ok("domstate test"), "running\n\n");
    assert_eq!(
        s.ok(&format!("domstate --reason {UUID}")),
        "running (unknown)\n\n"
    );
    assert_eq!(s.ok("domid test"), "1\n\n");
    assert_eq!(s.ok("domname 1"), "test\n\n");
    assert_eq!(s.ok("domuuid 1"), format!("{UUID}\n\n"));
}

#[test]
fn lookups_follow_virshs_rules() {
    let mut s = Session::new();
    let failed = |arg: &str| Outcome {
        out: "\n".into(),
        err: format!("error: failed to get domain '{arg}'\n"),
        ok: false,
    };
    assert_eq!(s.run("dominfo x"), failed("x"));
    // domname takes an ID or a UUID, domid a name or a UUID
    assert_eq!(s.run("domname test"), failed("test"));
    assert_eq!(s.run("domid 1"), failed("1"));
    // start takes a name or a UUID only
    assert_eq!(s.run("start 1"), failed("1"));
}

#[test]
fn lifecycle_messages() {
    let mut s = Session::new();
    assert_eq!(
        s.run("start test"),
        Outcome {
            out: "\n".into(),
            err: "error: Domain is already active\n".into(),
            ok: false
        }
    );
    assert_eq!(s.ok("destroy test"), "Domain 'test' destroyed\n\n");
    assert_eq!(s.ok("domstate --reason test"), "shut off (destroyed)\n\n");
    assert_eq!(s.ok("domid test"), "-\n\n");
    assert_eq!(s.ok("start test"), "Domain 'test' started\n\n");
    assert_eq!(s.ok("suspend test"), "Domain 'test' suspended\n\n");
    assert_eq!(s.ok("domstate test --reason"), "paused (user)\n\n");
    assert_eq!(s.ok("resume test"), "Domain 'test' resumed\n\n");
    let again = s.run("resume test");
    assert_eq!(
        again.err,
        "error: Failed to resume domain 'test'\nerror: internal error: domain 'test' not paused\n"
    );
    assert_eq!(s.ok("reboot test"), "Domain 'test' is being rebooted\n\n");
    assert_eq!(s.ok("shutdown test"), "Domain 'test' is being shutdown\n\n");
    assert_eq!(s.ok("domstate --reason test"), "shut off (shutdown)\n\n");
    assert_eq!(
        s.run("shutdown test --mode bogus").err,
        "error: Unknown mode bogus value, expecting 'acpi', 'agent', 'initctl', 'signal', or 'paravirt'\n"
    );
    assert_eq!(
        s.ok("autostart test"),
        "Domain 'test' marked as autostarted\n\n"
    );
    assert_eq!(
        s.ok("autostart --disable test"),
        "Domain 'test' unmarked as autostarted\n\n"
    );
}

#[test]
fn define_undefine_and_errors_reading_files() {
    let mut s = Session::new();
    let path = temp_file("foo.xml", FOO_XML);
    assert_eq!(
        s.ok(&format!("define {path}")),
        format!("Domain 'foo' defined from {path}\n\n")
    );
    assert_eq!(s.ok("undefine foo"), "Domain 'foo' has been undefined\n\n");
    assert_eq!(
        s.ok(&format!("define --file {path} --validate")),
        format!("Domain 'foo' defined from {path}\n\n")
    );
    assert_eq!(
        s.run("define /nonexistent/x.xml").err,
        "error: Failed to open file '/nonexistent/x.xml': No such file or directory\n"
    );
    assert_eq!(
        s.run("undefine test --nvram --keep-nvram").err,
        "error: Options --nvram and --keep-nvram are mutually exclusive\n"
    );
    assert_eq!(
        s.run("undefine test --remove-all-storage").err,
        "error: Storage volume deletion is supported only on stopped domains\n"
    );
}

#[test]
fn save_restore_and_managed_save() {
    let mut s = Session::new();
    let img = temp_file("test.img", "");
    std::fs::remove_file(&img).unwrap();
    assert_eq!(
        s.ok(&format!("save test {img}")),
        format!("\nDomain 'test' saved to {img}\n\n")
    );
    assert_eq!(s.ok("domstate --reason test"), "shut off (saved)\n\n");
    assert_eq!(
        s.ok(&format!("restore {img}")),
        format!("Domain restored from {img}\n\n")
    );
    assert_eq!(s.ok("domstate --reason test"), "running (restored)\n\n");
    assert_eq!(
        s.ok("managedsave test"),
        "\nDomain 'test' state saved by libvirt\n\n"
    );
    assert_eq!(
        s.ok("list --all --managed-save"),
        " Id   Name   State\n--------------------\n -    test   saved\n\n"
    );
    assert_eq!(s.ok("start test"), "Domain 'test' started\n\n");
    // libvirt's test driver says "booted" after starting from a managed save image
    assert_eq!(s.ok("domstate --reason test"), "running (booted)\n\n");
}

#[test]
fn setmem_and_setvcpus() {
    let mut s = Session::new();
    assert_eq!(s.ok("setmem test 1G"), "\n");
    assert!(s
        .ok("dominfo test")
        .contains("Used memory:    1048576 KiB\n"));
    assert_eq!(s.ok("setmem test --size=524288"), "\n");
    assert!(s
        .ok("dominfo test")
        .contains("Used memory:    524288 KiB\n"));
    assert_eq!(
        s.run("setmem test 1xyz").err,
        "error: Scaled numeric value '1xyz' for <size> option is malformed or out of range\n\
         error: invalid argument: unknown suffix 'xyz'\n"
    );
    assert_eq!(
        s.run("setmem test 1000 --current --live").err,
        "error: Options --current and --live are mutually exclusive\n"
    );
    assert_eq!(s.ok("setvcpus test 1"), "\n");
    assert!(s.ok("dominfo test").contains("CPU(s):         1\n"));
    assert_eq!(
        s.run("setvcpus test 3 --maximum").err,
        "error: Option --config is required by option --maximum\n"
    );
    assert_eq!(
        s.run("setvcpus test 0").err,
        "error: Can't set 0 processors for a VM\n"
    );
}

#[test]
fn snapshots() {
    let mut s = Session::new();
    assert_eq!(
        s.ok("snapshot-create-as test a desc"),
        "Domain snapshot a created\n"
    );
    s.ok("snapshot-create-as test b; snapshot-create-as test c");
    assert_eq!(
        s.ok("snapshot-current test --snapshotname a"),
        "Snapshot a set as current\n"
    );
    s.ok("snapshot-create-as test d");
    assert_eq!(
        s.ok("snapshot-list test --tree"),
        "a\n  |\n  +- b\n  |   |\n  |   +- c\n  |     \n  +- d\n    \n\n"
    );
    assert_eq!(s.ok("snapshot-list test --leaves --name"), "c\nd\n\n");
    assert_eq!(
        s.ok("snapshot-list test --from a --descendants --name"),
        "b\nc\nd\n\n"
    );
    assert_eq!(s.ok("snapshot-list test --current --tree"), "d\n\n\n");
    let table = s.ok("snapshot-list test --parent");
    let lines: Vec<&str> = table.lines().collect();
    assert_eq!(
        lines[0],
        " Name   Creation Time               State     Parent"
    );
    assert_eq!(lines[1], "-".repeat(54));
    assert!(lines[3].starts_with(" b      ") && lines[3].ends_with("   running   a"));
    assert_eq!(s.ok("snapshot-current test --name"), "d\n");
    let xml = s.ok("snapshot-dumpxml test a");
    assert!(
        xml.starts_with("<domainsnapshot>\n  <name>a</name>\n  <description>desc</description>\n")
    );
    assert_eq!(
        s.ok("snapshot-revert test a"),
        "Domain snapshot a reverted\n\n"
    );
    assert_eq!(
        s.ok("snapshot-delete test b --children-only"),
        "Domain snapshot b children deleted\n\n"
    );
    assert_eq!(
        s.ok("snapshot-delete --current test"),
        "Domain snapshot a deleted\n\n"
    );
    assert_eq!(
        s.run("snapshot-revert test").err,
        "error: --snapshotname or --current is required\n"
    );
    assert_eq!(
        s.run("snapshot-dumpxml test nope").err,
        "error: Domain snapshot not found: no domain snapshot with matching name 'nope'\n"
    );
    assert_eq!(
        s.run("snapshot-list test --tree --leaves").err,
        "error: --leaves and --tree are mutually exclusive\n"
    );
}

#[test]
fn snapshot_xml_from_arguments() {
    let mut s = Session::new();
    assert_eq!(
        s.ok("snapshot-create-as test 'x<y' 'd&e' --print-xml"),
        "<domainsnapshot>\n  <name>x&lt;y</name>\n  <description>d&amp;e</description>\n</domainsnapshot>\n\n\n"
    );
    assert_eq!(
        s.ok("snapshot-create-as test x --memspec /tmp/m,snapshot=external --diskspec vda,snapshot=external,file=/tmp/d.qcow2,driver=qcow2 --print-xml"),
        "<domainsnapshot>\n  <name>x</name>\n  <memory snapshot='external' file='/tmp/m'/>\n  <disks>\n    \
         <disk name='vda' snapshot='external'>\n      <driver type='qcow2'/>\n      \
         <source file='/tmp/d.qcow2'/>\n    </disk>\n  </disks>\n</domainsnapshot>\n\n\n"
    );
    // `,,` is a comma inside a value; control characters are dropped, as virsh does.
    assert_eq!(
        s.ok("snapshot-create-as test 'a\u{1}b' --diskspec vda,file=/tmp/a,,b --print-xml"),
        "<domainsnapshot>\n  <name>ab</name>\n  <disks>\n    <disk name='vda'>\n      \
         <source file='/tmp/a,b'/>\n    </disk>\n  </disks>\n</domainsnapshot>\n\n\n"
    );
    assert_eq!(
        s.run("snapshot-create-as test x --memspec bogus").err,
        "error: unable to parse memspec: bogus\n"
    );
}

#[test]
fn json_output_and_errors() {
    let mut s = Session::with(Options {
        json: true,
        ..Options::default()
    });
    assert_eq!(
        s.ok("list"),
        format!("[{{\"id\":1,\"name\":\"test\",\"state\":\"running\",\"uuid\":\"{UUID}\"}}]\n")
    );
    let state: serde_json::Value = serde_json::from_str(&s.ok("domstate test")).unwrap();
    assert_eq!(state["reason"], "unknown");
    assert_eq!(state["state_code"], 1);
    let o = s.run("dominfo nosuch");
    assert!(!o.ok && o.out.is_empty());
    let e: serde_json::Value = serde_json::from_str(&o.err).unwrap();
    assert_eq!(e["error"]["code"], 42);
    assert_eq!(e["error"]["context"][0], "failed to get domain 'nosuch'");
    let o = s.run("start test");
    assert_eq!(
        o.err,
        "{\"error\":{\"code\":0,\"domain\":0,\"message\":\"Domain is already active\"}}\n"
    );
    // --json on one command only
    let mut s = Session::new();
    assert_eq!(
        s.ok("uri --json; uri"),
        "{\"uri\":\"test:///default\"}\ntest:///default\n\n"
    );
}

#[test]
fn host_commands() {
    let mut s = Session::new();
    assert_eq!(s.ok("uri"), "test:///default\n\n");
    assert_eq!(
        s.ok("nodeinfo"),
        "CPU model:           i686\nCPU(s):              16\nCPU frequency:       1400 MHz\n\
         CPU socket(s):       2\nCore(s) per socket:  2\nThread(s) per core:  2\n\
         NUMA cell(s):        2\nMemory size:         3145728 KiB\n\n"
    );
    assert_eq!(
        s.ok("version"),
        format!(
            "Compiled against library: libvirt 9.0.0\nUsing library: oxvirt {}\n\
             Using API: TEST 9.0.0\nRunning hypervisor: TEST 0.0.2\n\n",
            env!("CARGO_PKG_VERSION")
        )
    );
}

#[test]
fn help_texts() {
    let mut s = Session::new();
    assert_eq!(
        s.ok("help setmem"),
        "  NAME\n    setmem - change memory allocation\n\n  SYNOPSIS\n    \
         setmem <domain> <size> [--config] [--live] [--current]\n\n  DESCRIPTION\n    \
         Change the current memory allocation in the guest domain.\n\n  OPTIONS\n    \
         [--domain] <string>  domain name, id or uuid\n    \
         [--size] <number>  new memory size, as scaled integer (default KiB)\n    \
         --config         affect next boot\n    --live           affect running domain\n    \
         --current        affect current domain\n\n\n"
    );
    assert_eq!(
        s.ok("uri --help"),
        "  NAME\n    uri - print the hypervisor canonical URI\n\n  SYNOPSIS\n    uri\n\n\n"
    );
    assert!(s
        .ok("help snapshot-create-as")
        .contains("[--memspec <string>] [[--diskspec] <string>]...\n"));
    assert_eq!(
        s.ok("help events"),
        " Domain Events (help keyword 'events'):\n    event                          Domain Events\n\n"
    );
    assert_eq!(
        s.run("help bogus").err,
        "error: command or command group 'bogus' doesn't exist\n"
    );
}

#[test]
fn event_lists_and_validates() {
    let mut s = Session::new();
    let names = s.ok("event --list");
    assert!(names.starts_with("lifecycle\nreboot\nrtc-change\n"));
    assert!(names.ends_with("memory-device-size-change\n\n"));
    assert_eq!(
        s.run("event").err,
        "error: one of --list, --all, or --event <type> is required\n"
    );
    assert_eq!(
        s.run("event --event bogus").err,
        "error: unknown event type bogus\n"
    );
    assert_eq!(
        s.run("event --all --timeout 0").err,
        "error: Numeric value '0' for <timeout> option is malformed or out of range\n"
    );
    assert_eq!(
        s.run("event --list --all").err,
        "error: Options --list and --all are mutually exclusive\n"
    );
}

#[test]
fn event_prints_what_happens_while_it_waits() {
    let mut s = Session::new();
    let conn = s.ctl.conn.clone().unwrap();
    let _guard = s.rt.enter();
    s.rt.spawn(async move {
        tokio::time::sleep(Duration::from_millis(50)).await;
        let dom = conn.lookup_domain_by_name("test").await.unwrap();
        dom.destroy(0).await.unwrap();
        dom.create(0).await.unwrap();
    });
    assert_eq!(
        s.ok("event --event lifecycle --domain test --loop --timeout 1"),
        "event 'lifecycle' for domain 'test': Stopped Destroyed\n\
         event 'lifecycle' for domain 'test': Started Booted\n\
         event loop timed out\nevents received: 2\n\n"
    );
    let o = s.run("event --all --timeout 1");
    assert_eq!(
        o,
        Outcome {
            out: "event loop timed out\nevents received: 0\n\n".into(),
            err: String::new(),
            ok: false
        }
    );
}

#[test]
fn read_only_connections_refuse_changes() {
    let mut s = Session::with(Options {
        readonly: true,
        ..Options::default()
    });
    assert_eq!(
        s.run("destroy test").err,
        "error: Failed to destroy domain 'test'\n\
         error: operation forbidden: read only access prevents virDomainDestroy\n"
    );
    assert!(s.ok("list").contains(" 1    test   running\n"));
}

#[test]
fn shell_transcript_when_stdin_is_not_a_terminal() {
    let mut s = Session::new();
    let input = std::io::Cursor::new("uri\nbogus\n\ndominfo x; uri\nquit\nuri\n");
    s.rt.block_on(crate::shell::run(&mut s.ctl, input, true));
    assert_eq!(
        s.out.take(),
        format!(
            "{}oxvirsh # uri\ntest:///default\n\noxvirsh # bogus\noxvirsh # \n\
             oxvirsh # dominfo x; uri\n\ntest:///default\n\noxvirsh # quit\n\n",
            crate::shell::BANNER
        )
    );
    assert_eq!(
        s.err.take(),
        "error: unknown command: 'bogus'\nerror: failed to get domain 'x'\n"
    );
}

#[test]
fn screenshot_saves_the_image_as_virsh_prints_it() {
    let mut s = Session::new();
    let path = temp_file("shot.png", "");
    assert_eq!(
        s.ok(&format!("screenshot test {path}")),
        format!("Screenshot saved to {path}, with type of image/png\n\n")
    );
    let png = std::fs::read(&path).unwrap();
    assert_eq!(png, oxvirt_driver_test::screenshot_png());
    assert_eq!(
        s.ok(&format!("screenshot test --file {path} --screen 2")),
        format!("Screenshot saved to {path}, with type of image/png\n\n")
    );
    let o = s.run("screenshot test /nonexistent-dir/x.png");
    assert!(!o.ok);
    assert_eq!(o.err, "error: cannot create file /nonexistent-dir/x.png\n");
    let o = s.run("screenshot test --screen abc x.png");
    assert_eq!(
        o.err,
        "error: Numeric value 'abc' for <screen> option is malformed or out of range\n"
    );
    let mut ro = Session::with(Options {
        readonly: true,
        ..Options::default()
    });
    let o = ro.run(&format!("screenshot test {path}"));
    assert_eq!(
        o.err,
        "error: could not take a screenshot of test\n\
         error: operation forbidden: read only access prevents virDomainScreenshot\n"
    );
}

#[test]
fn screenshot_default_file_name_is_virshs() {
    use crate::commands::domain::screenshot_file_name;
    // `date -u -d @1795046805`.
    let at = std::time::UNIX_EPOCH + Duration::from_secs(1_795_046_805);
    assert_eq!(
        screenshot_file_name("test", "image/png", at),
        "test-2026-11-19-00:06:45.png"
    );
    let epoch = std::time::UNIX_EPOCH;
    assert_eq!(
        screenshot_file_name("vm", "image/x-portable-pixmap", epoch),
        "vm-1970-01-01-00:00:00.ppm"
    );
    assert_eq!(
        screenshot_file_name("vm", "image/jpeg", epoch + Duration::from_secs(951_782_400)),
        "vm-2000-02-29-00:00:00"
    );
}
