//! Helpers the oxvirt-node tests share: a throw-away host tree of given files, and the
//! discovery of the conformance cases stored as `linux-<name>` sysfs trees.

// Not every test binary uses every helper.
#![allow(dead_code)]

use std::path::{Path, PathBuf};

use oxvirt_node::Host;

/// Writes `text` as `path` (absolute, as on the host) below `root`, making its directories.
pub fn write(root: &Path, path: &str, text: &str) {
    let full = root.join(path.trim_start_matches('/'));
    std::fs::create_dir_all(full.parent().expect("a parent")).expect("a directory");
    std::fs::write(full, text).expect("a file");
}

/// A host tree holding the given files (`/proc/...`, `/sys/...`), removed when dropped.
pub struct Tree(pub PathBuf);

impl Tree {
    /// The tree `name` of this test binary, in the temporary directory.
    pub fn new(name: &str, files: &[(&str, &str)]) -> Tree {
        let root = std::env::temp_dir().join(format!(
            "oxvirt-node-{}-{}-{name}",
            env!("CARGO_CRATE_NAME"),
            std::process::id()
        ));
        let _ = std::fs::remove_dir_all(&root);
        std::fs::create_dir_all(&root).expect("the tree's root");
        for (path, text) in files {
            write(&root, path, text);
        }
        Tree(root)
    }

    /// The node read below the tree.
    pub fn host(&self) -> Host {
        Host::new(&self.0)
    }
}

impl Drop for Tree {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// The conformance directory `rel` (`node/...`), or `None` after reporting `test` as
/// skipped when it is not there.
pub fn conformance_dir(test: &str, rel: &str) -> Option<PathBuf> {
    let dir = oxvirt_xml::testdata::conformance(rel);
    if !dir.exists() {
        eprintln!("SKIPPED {test}: {} not found", dir.display());
        return None;
    }
    Some(dir)
}

/// The `(arch, name)` cases of `dir`: each file `<prefix><rest><suffix>` whose `rest`
/// `split` divides into an architecture and a name that has a `linux-<name>` tree, sorted.
pub fn linux_cases(
    dir: &Path,
    prefix: &str,
    suffix: &str,
    split: impl Fn(&str) -> Option<(String, String)>,
) -> Vec<(String, String)> {
    let mut cases = Vec::new();
    for entry in std::fs::read_dir(dir).expect("the conformance directory") {
        let file = entry
            .expect("an entry")
            .file_name()
            .to_string_lossy()
            .into_owned();
        let Some(rest) = file
            .strip_prefix(prefix)
            .and_then(|f| f.strip_suffix(suffix))
        else {
            continue;
        };
        let Some((arch, name)) = split(rest) else {
            continue;
        };
        if dir.join(format!("linux-{name}")).is_dir() {
            cases.push((arch, name));
        }
    }
    cases.sort();
    cases
}
