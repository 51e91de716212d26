//! libvirt 9.0's storagepoolxml2xmltest: every `storagepoolxml2xmlin` document with an
//! expected `storagepoolxml2xmlout` must parse and format to exactly those bytes (and one
//! without, to what libvirt 9.0's pool-define writes for it); the documents of
//! `storagepoolschemadata` are refused by libvirt, and must fail to parse or validate. Also checks that parsing what we write gives the same pool back.

use oxvirt_storage::model::Pool;
use oxvirt_xml::testdata::{
    case_name as name_of, conformance, read_data, xml_files as cases, Tally,
};

/// The cases that must keep matching byte for byte (a floor; the list is printed).
const MIN_MATCHED: usize = 39;
/// The refused inputs that must keep failing.
const MIN_REFUSED: usize = 1;

/// An input without expected output that libvirt 9.0 accepts all the same, and what its
/// `virsh pool-define` + `pool-dumpxml` write for it (checked against Debian's libvirtd).
const ACCEPTED: (&str, &str) = (
    "pool-netfs-gluster-without-slash",
    "<pool type='netfs'>
  <name>netfs-gluster</name>
  <uuid>d5609ced-94b1-489e-b218-eff35c30336a</uuid>
  <capacity unit='bytes'>0</capacity>
  <allocation unit='bytes'>0</allocation>
  <available unit='bytes'>0</available>
  <source>
    <host name='example.com'/>
    <dir path='volume'/>
    <format type='glusterfs'/>
  </source>
  <target>
    <path>/mnt/gluster</path>
  </target>
</pool>
",
);

fn parse_valid(xml: &str) -> Result<Pool, String> {
    Pool::parse(xml)
        .and_then(|p| p.validate().map(|()| p))
        .map_err(|e| e.message)
}

#[test]
fn storagepoolxml2xml_conformance() {
    let input = conformance("storage/storagepoolxml2xmlin");
    let output = conformance("storage/storagepoolxml2xmlout");
    if !input.is_dir() {
        eprintln!(
            "SKIPPED storagepoolxml2xml_conformance: no {}",
            input.display()
        );
        return;
    }
    let mut tally = Tally::default();
    let mut refused = Vec::new();
    let mut accepted = Vec::new();
    let mut refusing = cases(&conformance("storage/storagepoolschemadata"));
    for path in cases(&input) {
        let name = name_of(&path);
        let want_path = output.join(format!("{name}.xml"));
        let xml = read_data(&path);
        let want = if name == ACCEPTED.0 {
            ACCEPTED.1.to_string()
        } else if want_path.exists() {
            read_data(&want_path)
        } else {
            refusing.push(path);
            continue;
        };
        tally.record(&name, &want, parse_valid(&xml).map(|p| p.to_xml()));
    }
    for path in refusing {
        match parse_valid(&read_data(&path)) {
            Err(e) => refused.push(format!("{} ({e})", name_of(&path))),
            Ok(_) => accepted.push(name_of(&path)),
        }
    }
    println!("refused as libvirt does: {}", refused.join("; "));
    assert!(
        accepted.is_empty(),
        "accepted documents libvirt refuses: {accepted:?}"
    );
    assert!(refused.len() >= MIN_REFUSED, "refused {refused:?}");
    tally.report(50, "STORAGEPOOLXML_ALL", &[], MIN_MATCHED);
}

#[test]
fn parsing_what_we_write_gives_the_same_pool() {
    let input = conformance("storage/storagepoolxml2xmlin");
    if !input.is_dir() {
        eprintln!(
            "SKIPPED parsing_what_we_write_gives_the_same_pool: no {}",
            input.display()
        );
        return;
    }
    let mut checked = 0;
    for path in cases(&input) {
        let Ok(pool) = Pool::parse(&read_data(&path)) else {
            continue;
        };
        let xml = pool.to_xml();
        let again = Pool::parse(&xml)
            .unwrap_or_else(|e| panic!("{}: {} in\n{xml}", path.display(), e.message));
        assert_eq!(again, pool, "{}", path.display());
        assert_eq!(again.to_xml(), xml, "{}", path.display());
        checked += 1;
    }
    assert!(checked >= MIN_MATCHED, "only {checked} round trips");
}
