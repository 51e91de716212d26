//! The `pool-*`, `vol-*` and `find-storage-pool-sources*` commands through
//! `oxvirsh -c test:///default` (oxvirt's test driver in process) and libvirt's own
//! `virsh -c test:///default` (libvirt's test driver in process): identical stdout, stderr
//! and exit status, character for character, once the UUIDs of newly defined pools
//! (random on both sides) are masked. Each case is one command line (commands separated
//! by `;` share a node), and a node file with pools and volumes is read by both.
//!
//! Without virsh installed the test prints "SKIPPED <test>: virsh not installed" and passes.

mod common;

use common::{run_line, virsh_installed};

const OXVIRSH: &str = env!("CARGO_BIN_EXE_oxvirsh");

/// A node with a logical pool holding two volumes and a stopped-pool-free dir pool.
const NODE: &str = "<node>
  <pool type='dir'>
    <name>p1</name>
    <uuid>35bb2ad9-388a-cdfe-461a-b8907f6e53fe</uuid>
    <target><path>/p1</path></target>
    <volume>
      <name>v1</name>
      <capacity unit='M'>100</capacity>
      <allocation unit='M'>20</allocation>
    </volume>
    <volume>
      <name>v2</name>
      <key>my-key</key>
      <capacity>1000</capacity>
      <target><path>/elsewhere/v2</path></target>
    </volume>
  </pool>
  <pool type='logical'>
    <name>vg</name>
    <uuid>35bb2ad9-388a-cdfe-461a-b8907f6e53ff</uuid>
    <source><name>vg</name><format type='lvm2'/></source>
    <target><path>/dev/vg</path></target>
    <volume><name>lv</name><capacity unit='G'>1</capacity></volume>
  </pool>
</node>
";

/// UUIDs replaced by a fixed word.
fn mask(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while !rest.is_empty() {
        if rest.len() >= 36 && is_uuid(&rest[..36]) {
            out.push_str("UUID");
            rest = &rest[36..];
        } else {
            let c = rest.chars().next().unwrap_or(' ');
            out.push(c);
            rest = &rest[c.len_utf8()..];
        }
    }
    out
}

fn is_uuid(s: &str) -> bool {
    s.bytes().enumerate().all(|(i, b)| {
        if [8, 13, 18, 23].contains(&i) {
            b == b'-'
        } else {
            b.is_ascii_hexdigit()
        }
    })
}

/// libvirt's own log lines (`... : info : ...`, `... : warning : ...`: the driver's
/// test node has old-style snapshots libvirt warns about) left out of stderr.
fn without_log(err: &str) -> String {
    err.split_inclusive('\n')
        .filter(|l| !(l.contains(": info : ") || l.contains(": warning : ")))
        .collect()
}

fn run(program: &str, uri: &str, line: &str) -> (String, String, Option<i32>) {
    let (out, err, code) = run_line(program, uri, line);
    (mask(&out), mask(&without_log(&err)), code)
}

fn compare(uri: &str, lines: &[String], failures: &mut Vec<String>) {
    for line in lines {
        let ours = run(OXVIRSH, uri, line);
        let theirs = run("virsh", uri, line);
        if ours != theirs {
            failures.push(format!(
                "{uri}: {line}\n  oxvirsh: {ours:?}\n  virsh:   {theirs:?}"
            ));
        }
    }
}

#[test]
fn storage_commands_match_virsh_on_the_test_driver() {
    if !virsh_installed() {
        eprintln!("SKIPPED storage_commands_match_virsh_on_the_test_driver: virsh not installed");
        return;
    }
    let dir = std::env::temp_dir().join(format!("oxvirsh-pool-parity-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("temp dir");
    let node = dir.join("node.xml");
    std::fs::write(&node, NODE).expect("node.xml");
    let node_uri = format!("test://{}", node.to_string_lossy());
    let pool_xml = dir.join("pool.xml");
    std::fs::write(
        &pool_xml,
        "<pool type='dir'>\n  <name>px</name>\n  \
         <uuid>11111111-2222-3333-4444-555555555555</uuid>\n  \
         <target>\n    <path>/px</path>\n  </target>\n</pool>\n",
    )
    .expect("pool.xml");
    let pool_xml = pool_xml.to_string_lossy().into_owned();
    let vol_xml = dir.join("vol.xml");
    std::fs::write(
        &vol_xml,
        "<volume>\n  <name>vx</name>\n  <capacity unit='K'>64</capacity>\n  \
         <allocation>0</allocation>\n</volume>\n",
    )
    .expect("vol.xml");
    let vol_xml = vol_xml.to_string_lossy().into_owned();
    // default-pool's UUID with another target: a new definition of the same pool.
    let same = dir.join("same.xml");
    std::fs::write(
        &same,
        "<pool type='dir'>\n  <name>default-pool</name>\n  \
         <uuid>dfe224cb-28fb-8dd0-c4b2-64eb3f0f4566</uuid>\n  \
         <target>\n    <path>/other</path>\n  </target>\n</pool>\n",
    )
    .expect("same.xml");
    let same = same.to_string_lossy().into_owned();
    let default_lines: Vec<String> = vec![
        format!("vol-create-as default-pool a 1M; pool-define {same}; pool-dumpxml default-pool; pool-destroy default-pool; pool-dumpxml default-pool; pool-start default-pool; vol-list default-pool; pool-info default-pool; pool-destroy default-pool; pool-define {same}; pool-dumpxml default-pool; pool-create {same}; pool-list --all --persistent; pool-list --transient; pool-destroy default-pool; pool-list --all"),
        "pool-list".into(),
        "pool-list --all".into(),
        "pool-list --all --details".into(),
        "pool-list --inactive".into(),
        "pool-list --transient --all".into(),
        "pool-list --autostart --all".into(),
        "pool-list --no-autostart --all --name".into(),
        "pool-list --type dir --uuid".into(),
        "pool-list --type logical,netfs".into(),
        "pool-info default-pool".into(),
        "pool-info dfe224cb-28fb-8dd0-c4b2-64eb3f0f4566".into(),
        "pool-info nope".into(),
        "pool-uuid default-pool".into(),
        "pool-name dfe224cb-28fb-8dd0-c4b2-64eb3f0f4566".into(),
        "pool-name 00000000-0000-0000-0000-000000000000".into(),
        "pool-dumpxml default-pool".into(),
        "pool-dumpxml default-pool --inactive".into(),
        "pool-dumpxml nope".into(),
        "pool-autostart default-pool; pool-info default-pool; pool-list --autostart; pool-autostart default-pool --disable; pool-info default-pool".into(),
        "pool-start default-pool".into(),
        "pool-build default-pool".into(),
        "pool-build default-pool --overwrite".into(),
        "pool-delete default-pool".into(),
        "pool-undefine default-pool".into(),
        "pool-refresh default-pool".into(),
        "pool-destroy default-pool; pool-info default-pool; pool-list --inactive; vol-list default-pool; pool-refresh default-pool; pool-destroy default-pool; pool-build default-pool; pool-delete default-pool; pool-start default-pool; pool-list".into(),
        "pool-destroy default-pool; pool-undefine default-pool; pool-list --all; pool-info default-pool".into(),
        "vol-list default-pool".into(),
        "vol-list default-pool --details".into(),
        "vol-list nope".into(),
        "vol-create-as default-pool a 10M; vol-list default-pool; vol-list default-pool --details; vol-info a --pool default-pool; vol-dumpxml a --pool default-pool; vol-path a --pool default-pool; vol-key a --pool default-pool; vol-name /default-pool/a; vol-pool /default-pool/a; vol-pool /default-pool/a --uuid; pool-info default-pool; pool-dumpxml default-pool".into(),
        "vol-create-as default-pool a 10M; vol-clone a b --pool default-pool; vol-list default-pool --details; pool-info default-pool; vol-dumpxml b --pool default-pool; vol-delete a --pool default-pool; vol-delete b --pool default-pool; vol-list default-pool; pool-info default-pool".into(),
        "vol-create-as default-pool a 1G --allocation 1M; vol-create-as default-pool a 1G; vol-create-as default-pool big 200G; vol-info a --pool default-pool; vol-info /default-pool/a".into(),
        "vol-create-as default-pool q 1M --format qcow2; vol-dumpxml q --pool default-pool; vol-info q --pool default-pool".into(),
        "vol-create-as default-pool a 10M; vol-resize a 20M --pool default-pool; vol-wipe a --pool default-pool; vol-wipe a --pool default-pool --algorithm nnsa; vol-upload a /etc/hostname --pool default-pool; vol-info a --pool default-pool --physical".into(),
        format!("vol-create default-pool {vol_xml}; vol-info vx --pool default-pool; vol-dumpxml vx --pool default-pool; vol-create default-pool {vol_xml}"),
        "vol-info nope --pool default-pool".into(),
        "vol-info /default-pool/nope".into(),
        "vol-dumpxml nope --pool default-pool".into(),
        "vol-delete nope --pool default-pool".into(),
        "vol-path nope --pool nope".into(),
        "pool-define-as x dir --target /x; pool-list --all; pool-info x; pool-start x; pool-list; pool-build x; pool-destroy x; pool-build x; pool-delete x; pool-refresh x; pool-autostart x; pool-list --all --autostart; pool-undefine x; pool-info x".into(),
        "pool-define-as x dir --target /x; pool-start x; vol-create-as x v 1M; pool-destroy x; vol-list x; vol-info v --pool x; pool-start x; vol-list x --details".into(),
        "pool-define-as y dir --target /default-pool".into(),
        "pool-define-as default-pool dir --target /z".into(),
        "pool-create-as t dir --target /t; pool-list --all --transient; pool-info t; pool-autostart t; pool-dumpxml t; pool-destroy t; pool-list --all; pool-info t".into(),
        format!("pool-define {pool_xml}; pool-dumpxml px; pool-create {pool_xml}; pool-start px; pool-create {pool_xml}; pool-define {pool_xml}; pool-info px"),
        format!("pool-create {pool_xml}; pool-list --transient --uuid; pool-destroy px; pool-list --all"),
        "pool-define-as q logical; pool-start q; vol-create-as q v 1M; vol-info v --pool q; vol-dumpxml v --pool q; pool-dumpxml q; pool-destroy q; vol-info /dev/q/v".into(),
        "pool-define-as n netfs --source-host h --source-path /e --target /n; pool-start n; vol-create-as n v 1M; vol-info v --pool n; pool-dumpxml n".into(),
        "find-storage-pool-sources logical".into(),
        "find-storage-pool-sources netfs".into(),
        "find-storage-pool-sources-as netfs host1".into(),
        "find-storage-pool-sources-as netfs".into(),
        "find-storage-pool-sources dir".into(),
        "find-storage-pool-sources iscsi".into(),
        "find-storage-pool-sources foo".into(),
        "pool-event --list".into(),
        "pool-event --timeout 1".into(),
        "pool-event --event lifecycle --timeout 1".into(),
    ];
    let node_lines: Vec<String> = vec![
        "pool-list --all --details".into(),
        "pool-info p1".into(),
        "pool-dumpxml p1".into(),
        "pool-dumpxml vg".into(),
        "vol-list p1 --details".into(),
        "vol-list vg --details".into(),
        "vol-info v1 --pool p1".into(),
        "vol-dumpxml v1 --pool p1".into(),
        "vol-dumpxml v2 --pool p1".into(),
        "vol-key v2 --pool p1".into(),
        "vol-path v2 --pool p1".into(),
        "vol-info my-key".into(),
        "vol-info /elsewhere/v2".into(),
        "vol-info /p1/v2".into(),
        "vol-dumpxml lv --pool vg".into(),
        "vol-info lv --pool vg".into(),
        "vol-delete v1 --pool p1; pool-info p1; vol-list p1".into(),
        "vol-create-as vg big 100G".into(),
    ];
    // The driver's own test node, and node files libvirt refuses to open.
    let data = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../oxvirt-driver-test/tests/data/node.xml");
    let data_uri = format!("test://{}", data.to_string_lossy());
    let data_lines: Vec<String> = vec![
        "pool-list --all --details; pool-dumpxml pool1; vol-list pool1 --details; vol-dumpxml disk1.img --pool pool1; vol-info /pool1/disk1.img".into(),
        "vol-create-as pool1 x 1M; pool-info pool1; vol-delete disk1.img --pool pool1; pool-info pool1".into(),
    ];
    let bad_pool = dir.join("bad-pool.xml");
    std::fs::write(
        &bad_pool,
        "<node><pool type='dir'><name>p</name></pool></node>",
    )
    .expect("bad-pool.xml");
    let bad_vol = dir.join("bad-vol.xml");
    std::fs::write(
        &bad_vol,
        "<node><pool type='dir'><name>p</name><target><path>/p</path></target>\
         <volume><name>v</name></volume></pool></node>",
    )
    .expect("bad-vol.xml");
    let no_uuid = dir.join("no-uuid.xml");
    std::fs::write(
        &no_uuid,
        "<node><pool type='dir'><name>p</name><target><path>/p</path></target>\
         <volume><name>v</name><capacity>5</capacity></volume></pool></node>",
    )
    .expect("no-uuid.xml");
    let mut failures = Vec::new();
    compare("test:///default", &default_lines, &mut failures);
    compare(&node_uri, &node_lines, &mut failures);
    compare(&data_uri, &data_lines, &mut failures);
    let mut others = 0;
    for file in [&bad_pool, &bad_vol, &no_uuid] {
        let uri = format!("test://{}", file.to_string_lossy());
        let lines = vec!["pool-list --all --uuid; vol-list p --details; pool-info p".to_string()];
        others += lines.len();
        compare(&uri, &lines, &mut failures);
    }
    let _ = std::fs::remove_dir_all(&dir);
    let total = default_lines.len() + node_lines.len() + data_lines.len() + others;
    eprintln!(
        "storage test driver parity: {}/{total} command lines identical",
        total - failures.len()
    );
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}
