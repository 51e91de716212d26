//! Queries for statistics and the console: character devices, block devices and their
//! I/O counters.

use serde_json::Value;

use super::bad_reply;
use crate::qmp::{Qmp, QmpError};

/// One character device from `query-chardev`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Chardev {
    /// `label`: the chardev id (`charserial0`).
    pub label: String,
    /// `filename`: `pty:/dev/pts/N`, `unix:PATH,server=on`, `file` ...
    pub filename: String,
}

impl Chardev {
    /// The pty's path when this chardev is a pty (`/dev/pts/3` from `pty:/dev/pts/3`).
    pub fn pty_path(&self) -> Option<&str> {
        self.filename.strip_prefix("pty:")
    }
}

/// One block device's counters from `query-blockstats` (missing counters are 0).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct BlockStats {
    /// `device`: the legacy drive name, empty with `-blockdev`.
    pub device: String,
    /// `qdev`: the frontend's QOM path or id (`/machine/peripheral/virtio-disk0/virtio-backend`).
    pub qdev: String,
    /// `node-name`: the top node (`libvirt-1-format`), empty when QEMU gave none.
    pub node_name: String,
    /// `stats.rd_bytes`.
    pub rd_bytes: u64,
    /// `stats.wr_bytes`.
    pub wr_bytes: u64,
    /// `stats.rd_operations`.
    pub rd_operations: u64,
    /// `stats.wr_operations`.
    pub wr_operations: u64,
    /// `stats.flush_operations`.
    pub flush_operations: u64,
    /// `stats.rd_total_time_ns`.
    pub rd_total_time_ns: u64,
    /// `stats.wr_total_time_ns`.
    pub wr_total_time_ns: u64,
    /// `stats.flush_total_time_ns`.
    pub flush_total_time_ns: u64,
}

impl BlockStats {
    /// Parses one member of `query-blockstats`'s list.
    pub fn from_value(v: &Value) -> BlockStats {
        let s = |k: &str| {
            v.get(k)
                .and_then(Value::as_str)
                .unwrap_or_default()
                .to_string()
        };
        let n = |k: &str| {
            v.get("stats")
                .and_then(|st| st.get(k))
                .and_then(Value::as_u64)
                .unwrap_or(0)
        };
        BlockStats {
            device: s("device"),
            qdev: s("qdev"),
            node_name: s("node-name"),
            rd_bytes: n("rd_bytes"),
            wr_bytes: n("wr_bytes"),
            rd_operations: n("rd_operations"),
            wr_operations: n("wr_operations"),
            flush_operations: n("flush_operations"),
            rd_total_time_ns: n("rd_total_time_ns"),
            wr_total_time_ns: n("wr_total_time_ns"),
            flush_total_time_ns: n("flush_total_time_ns"),
        }
    }
}

/// The medium of a block device (`query-block`'s `inserted`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BlockInserted {
    /// `node-name` of the top node.
    pub node_name: String,
    /// `file`: the image's file name (or a `json:{...}` description).
    pub file: String,
    /// `drv`: the top node's driver (`qcow2`, `raw`).
    pub format: String,
    /// `ro`.
    pub read_only: bool,
    /// The names of the internal snapshots (`image.snapshots[].name`).
    pub snapshots: Vec<String>,
}

/// One block device from `query-block`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BlockInfo {
    /// `device`: the legacy drive name, empty with `-blockdev`.
    pub device: String,
    /// `qdev`: the frontend's QOM path or id.
    pub qdev: String,
    /// The medium; `None` for an empty drive (a CD-ROM without a disc).
    pub inserted: Option<BlockInserted>,
}

impl BlockInfo {
    /// Parses one member of `query-block`'s list.
    pub fn from_value(v: &Value) -> BlockInfo {
        let s = |v: &Value, k: &str| {
            v.get(k)
                .and_then(Value::as_str)
                .unwrap_or_default()
                .to_string()
        };
        let inserted = v.get("inserted").map(|ins| BlockInserted {
            node_name: s(ins, "node-name"),
            file: s(ins, "file"),
            format: s(ins, "drv"),
            read_only: ins.get("ro").and_then(Value::as_bool).unwrap_or(false),
            snapshots: ins
                .pointer("/image/snapshots")
                .and_then(Value::as_array)
                .map(|l| l.iter().map(|snap| s(snap, "name")).collect())
                .unwrap_or_default(),
        });
        BlockInfo {
            device: s(v, "device"),
            qdev: s(v, "qdev"),
            inserted,
        }
    }
}

impl Qmp {
    /// `query-chardev`.
    pub async fn query_chardev(&self) -> Result<Vec<Chardev>, QmpError> {
        let ret = self.execute("query-chardev", None).await?;
        let list = ret
            .as_array()
            .ok_or_else(|| bad_reply("query-chardev", &ret))?;
        list.iter()
            .map(|c| {
                let s = |k: &str| c.get(k).and_then(Value::as_str).map(str::to_string);
                match (s("label"), s("filename")) {
                    (Some(label), Some(filename)) => Ok(Chardev { label, filename }),
                    _ => Err(bad_reply("query-chardev", &ret)),
                }
            })
            .collect()
    }

    /// The pty path of chardev `label` (`/dev/pts/3`); `None` when there is no such chardev
    /// or it is not a pty.
    pub async fn pty_path(&self, label: &str) -> Result<Option<String>, QmpError> {
        Ok(self
            .query_chardev()
            .await?
            .into_iter()
            .find(|c| c.label == label)
            .and_then(|c| c.pty_path().map(str::to_string)))
    }

    /// `query-blockstats`.
    pub async fn query_blockstats(&self) -> Result<Vec<BlockStats>, QmpError> {
        let ret = self.execute("query-blockstats", None).await?;
        let list = ret
            .as_array()
            .ok_or_else(|| bad_reply("query-blockstats", &ret))?;
        Ok(list.iter().map(BlockStats::from_value).collect())
    }

    /// `query-block`.
    pub async fn query_block(&self) -> Result<Vec<BlockInfo>, QmpError> {
        let ret = self.execute("query-block", None).await?;
        let list = ret
            .as_array()
            .ok_or_else(|| bad_reply("query-block", &ret))?;
        Ok(list.iter().map(BlockInfo::from_value).collect())
    }
}
