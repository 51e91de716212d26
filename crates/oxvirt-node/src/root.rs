//! Where the node's files are: `/` on a real host, a test tree elsewhere.

use std::io;
use std::path::{Path, PathBuf};

/// A node, read below `root` (`/sys/...` is `root/sys/...`).
#[derive(Debug, Clone)]
pub struct Host {
    root: PathBuf,
}

impl Host {
    /// The running system (`/`).
    pub fn system() -> Self {
        Host::new("/")
    }

    /// A node whose files are below `root`.
    pub fn new(root: impl Into<PathBuf>) -> Self {
        Host { root: root.into() }
    }

    /// The root directory.
    pub fn root(&self) -> &Path {
        &self.root
    }

    /// The path of `abs` (an absolute path such as `/sys/devices/system/node`) below the
    /// root.
    pub fn path(&self, abs: &str) -> PathBuf {
        self.root.join(abs.trim_start_matches('/'))
    }

    /// The contents of `abs` below the root.
    pub fn read(&self, abs: &str) -> io::Result<String> {
        std::fs::read_to_string(self.path(abs))
    }

    /// Whether `abs` exists below the root.
    pub fn exists(&self, abs: &str) -> bool {
        self.path(abs).exists()
    }
}
