//! The migration cookie against libvirt 9.0's qemumigrationcookiexmldata:
//!
//! - `*-xml2xml-in.xml` → `*-xml2xml-out.xml`: the cookie read, then sent back by the
//!   host libvirt's test runs as (`hostname`, `4a802f00-...`), as
//!   `qemumigrationcookiexmltest` does;
//! - every output file (`*-xml2xml-out.xml`, `modern-dom-out-*.xml`) read and written
//!   again unchanged.

use oxvirt_migrate::MigrationCookie;
use oxvirt_xml::testdata::{conformance, read_data, Tally};

const TEST_HOSTNAME: &str = "hostname";
const TEST_HOSTUUID: &str = "4a802f00-4cba-5df6-9679-a08c4c5b577f";

#[test]
fn cookie_conformance() {
    let dir = conformance("qemu/qemumigrationcookiexmldata");
    if !dir.exists() {
        eprintln!("SKIPPED cookie_conformance: {} is missing", dir.display());
        return;
    }
    let mut files: Vec<_> = std::fs::read_dir(&dir)
        .expect("data directory")
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|e| e == "xml"))
        .collect();
    files.sort();
    let mut tally = Tally::default();
    for path in &files {
        let file = path.file_name().map(|f| f.to_string_lossy().into_owned());
        let file = file.unwrap_or_default();
        let text = read_data(path);
        if let Some(case) = file.strip_suffix("-xml2xml-in.xml") {
            let want = read_data(&dir.join(format!("{case}-xml2xml-out.xml")));
            let got = MigrationCookie::parse(&text)
                .map(|c| c.answered_by(TEST_HOSTNAME, TEST_HOSTUUID).to_xml())
                .map_err(|e| e.message);
            tally.record(&format!("{case}-xml2xml"), &want, got);
        } else {
            let got = MigrationCookie::parse(&text)
                .map(|c| c.to_xml())
                .map_err(|e| e.message);
            tally.record(&format!("roundtrip:{file}"), &text, got);
        }
    }
    let total = tally.matched.len() + tally.mismatches.len();
    println!(
        "migration cookie conformance: {} of {} byte-exact",
        tally.matched.len(),
        total
    );
    tally.report(
        20,
        "OXVIRT_ALL_MISMATCHES",
        &[
            "basic-xml2xml",
            "full-xml2xml",
            "nbd-bitmaps-xml2xml",
            "roundtrip:modern-dom-out-dest.xml",
            "roundtrip:modern-dom-out-source.xml",
        ],
        total,
    );
    assert_eq!(total, 8, "cases: {:?}", tally.matched);
}

/// Every cookie of the data, read, written and read again, is the same cookie.
#[test]
fn cookies_survive_a_round_trip() {
    let dir = conformance("qemu/qemumigrationcookiexmldata");
    if !dir.exists() {
        eprintln!(
            "SKIPPED cookies_survive_a_round_trip: {} is missing",
            dir.display()
        );
        return;
    }
    let mut n = 0;
    for entry in std::fs::read_dir(&dir).expect("data directory") {
        let path = entry.expect("entry").path();
        if path.extension().is_none_or(|e| e != "xml") {
            continue;
        }
        let cookie = MigrationCookie::parse(&read_data(&path)).expect("cookie reads");
        let again = MigrationCookie::parse(&cookie.to_xml()).expect("own cookie reads");
        assert_eq!(again, cookie, "{}", path.display());
        n += 1;
    }
    assert_eq!(n, 8);
}

/// The persistent `<domain>` and the `<cpu>` of the cookies are read with oxvirt's domain
/// model.
#[test]
fn persistent_domain_is_modelled() {
    let dir = conformance("qemu/qemumigrationcookiexmldata");
    if !dir.exists() {
        eprintln!("SKIPPED persistent_domain_is_modelled: data is missing");
        return;
    }
    for file in ["full-xml2xml-in.xml", "full-xml2xml-out.xml"] {
        let cookie = MigrationCookie::parse(&read_data(&dir.join(file))).expect("cookie");
        let dom = cookie.persistent.as_ref().expect("a <domain>");
        assert_eq!(dom.name, "upstream", "{file}");
        assert_eq!(dom.devices.disks.len(), 2, "{file}");
        assert!(dom.uuid.is_some(), "{file}");
    }
    for file in ["full-xml2xml-in.xml", "nbd-bitmaps-xml2xml-in.xml"] {
        let cookie = MigrationCookie::parse(&read_data(&dir.join(file))).expect("cookie");
        assert!(cookie.cpu.is_some(), "{file}: the guest CPU");
    }
}
