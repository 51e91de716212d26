//! QEMU migration parameters against libvirt 9.0's qemumigparamsdata: each `*.reply`
//! (a `query-migrate-parameters` reply) read, then written as the
//! `migrate-set-parameters` arguments (`*.json`) and as the status file's `<migParams>`
//! (`*.xml`, inside a `<test>` element), as `qemumigparamstest` does; and each `*.xml`
//! read back to the same parameters.

use oxvirt_migrate::QmpMigParams;
use oxvirt_xml::testdata::{conformance, read_data, Tally};

#[test]
fn migparams_conformance() {
    let dir = conformance("qemu/qemumigparamsdata");
    if !dir.exists() {
        eprintln!(
            "SKIPPED migparams_conformance: {} is missing",
            dir.display()
        );
        return;
    }
    let mut cases: Vec<String> = std::fs::read_dir(&dir)
        .expect("data directory")
        .filter_map(|e| e.ok())
        .filter_map(|e| {
            let name = e.file_name().to_string_lossy().into_owned();
            name.strip_suffix(".reply").map(str::to_string)
        })
        .collect();
    cases.sort();
    let mut tally = Tally::default();
    for case in &cases {
        let reply = read_data(&dir.join(format!("{case}.reply")));
        let params = serde_json::from_str::<serde_json::Value>(&reply)
            .map(|v| QmpMigParams::from_qmp(&v))
            .map_err(|e| e.to_string());
        let want_json = read_data(&dir.join(format!("{case}.json")));
        tally.record(
            &format!("{case}.json"),
            &want_json,
            params.clone().map(|p| p.to_qmp_pretty()),
        );
        let want_xml = read_data(&dir.join(format!("{case}.xml")));
        let got_xml = params
            .clone()
            .map(|p| format!("<test>\n{}</test>\n", p.to_xml(1)));
        tally.record(&format!("{case}.xml"), &want_xml, got_xml);
        // The status file reads back to the same parameters.
        let back = oxvirt_xml::parse(&want_xml)
            .map_err(|e| e.message)
            .and_then(|t| {
                let el = t.child("migParams").cloned().unwrap_or_default();
                QmpMigParams::from_xml(&el).map_err(|e| e.message)
            });
        assert_eq!(back, params, "{case}.xml read back");
    }
    let total = tally.matched.len() + tally.mismatches.len();
    println!(
        "migration parameters conformance: {} of {} byte-exact",
        tally.matched.len(),
        total
    );
    tally.report(
        20,
        "OXVIRT_ALL_MISMATCHES",
        &["basic.json", "tls-hostname.xml"],
        total,
    );
    assert_eq!(total, 10);
}
