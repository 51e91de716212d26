//! Shows how the test driver's handling of libvirt's generic XML samples differs from
//! libvirt 9.0's (the samples `tests/generic_xml.rs` checks).
//!
//! ```text
//! cargo run -p oxvirt-driver-test --example generic_sample -- NAME [NAME...]
//! ```
//!
//! For each sample NAME (`genericxml2xmlindata/NAME.xml` of the shared conformance data) it
//! defines the sample on a private `test:///default` and prints a line diff of the XML
//! libvirt's test driver formats (`tests/data/generic/NAME.xml`, `-` lines) against ours
//! (`+` lines), or the two errors when the definition is refused.

use std::error::Error;
use std::path::{Path, PathBuf};

use oxvirt_domain::driver::Hypervisor;
use oxvirt_driver_test::TestDriver;

fn samples_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../../shared/conformance/libvirt-9.0.0/domain/genericxml2xmlindata")
}

fn expected_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/data/generic")
}

/// A line diff of `old` and `new` (longest common subsequence), `-` for lines only in
/// `old`, `+` for lines only in `new`.
fn line_diff(old: &str, new: &str) -> String {
    let (a, b): (Vec<&str>, Vec<&str>) = (old.lines().collect(), new.lines().collect());
    let mut lcs = vec![vec![0usize; b.len() + 1]; a.len() + 1];
    for i in (0..a.len()).rev() {
        for j in (0..b.len()).rev() {
            lcs[i][j] = if a[i] == b[j] {
                lcs[i + 1][j + 1] + 1
            } else {
                lcs[i + 1][j].max(lcs[i][j + 1])
            };
        }
    }
    let (mut i, mut j, mut out) = (0, 0, String::new());
    while i < a.len() || j < b.len() {
        if i < a.len() && j < b.len() && a[i] == b[j] {
            out += &format!("  {}\n", a[i]);
            (i, j) = (i + 1, j + 1);
        } else if j < b.len() && (i == a.len() || lcs[i][j + 1] >= lcs[i + 1][j]) {
            out += &format!("+ {}\n", b[j]);
            j += 1;
        } else {
            out += &format!("- {}\n", a[i]);
            i += 1;
        }
    }
    out
}

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), Box<dyn Error>> {
    let names: Vec<String> = std::env::args().skip(1).collect();
    if names.is_empty() {
        return Err("usage: generic_sample NAME [NAME...]".into());
    }
    let conn = TestDriver::open_isolated("/default")?;
    for name in names {
        println!("== {name}");
        let input = std::fs::read_to_string(samples_dir().join(format!("{name}.xml")))?;
        let ours = match conn.define_xml(&input, 0).await {
            Ok(dom) => {
                let xml = conn.xml_desc(&dom, 0).await?;
                conn.undefine(&dom, 0).await?;
                xml
            }
            Err(e) => format!("{} {} {}\n", e.code.number(), e.domain.number(), e.message),
        };
        let theirs = std::fs::read_to_string(expected_dir().join(format!("{name}.xml")))
            .or_else(|_| std::fs::read_to_string(expected_dir().join(format!("{name}.err"))))
            .unwrap_or_else(|_| "(libvirt's result is not recorded)\n".to_string());
        print!("{}", line_diff(&theirs, &ours));
    }
    Ok(())
}
