//! Snapshot operations: lists and counts of a domain's snapshots, and calls on one snapshot.

use oxvirt::DomainSnapshot;
use serde_json::{json, Map, Value};

use super::{Handle, Runner, StepResult};
use crate::scenario::flags as step_flags;

/// Snapshot names, sorted (libvirt lists them in hash-table order).
fn sorted_names(snaps: &[DomainSnapshot]) -> Value {
    let mut names: Vec<&str> = snaps.iter().map(DomainSnapshot::name).collect();
    names.sort_unstable();
    json!(names)
}

impl Runner<'_> {
    /// The snapshot operation `op`, or `None` if `op` is not one.
    pub(crate) async fn snapshot_op(
        &mut self,
        op: &str,
        step: &Map<String, Value>,
    ) -> Option<StepResult> {
        let flags = step_flags(step);
        Some(match op {
            // The facade has no virDomainSnapshotListNames / SnapshotNum /
            // SnapshotNumChildren: they are answered from ListAllSnapshots and
            // ListAllChildren with the same flags, as libvirt's drivers compute them.
            "snapshot_list" | "snapshot_names" | "snapshot_num" => {
                let snaps = match self.dom(step).await {
                    Ok(d) => d.list_all_snapshots(flags).await,
                    Err(e) => return Some(Err(e)),
                };
                match snaps {
                    Ok(s) if op == "snapshot_num" => Ok(json!(s.len())),
                    Ok(s) => Ok(sorted_names(&s)),
                    Err(e) => Err(e.into()),
                }
            }
            "snapshot_lookup" => self.lookup(step, flags).await,
            "snapshot_parent" => match self.snap(step).await {
                Ok(s) => match s.parent(flags).await {
                    Ok(p) => self.keep_snapshot(p),
                    Err(e) => Err(e.into()),
                },
                Err(e) => Err(e),
            },
            "snapshot_children" | "snapshot_num_children" => match self.snap(step).await {
                Ok(s) => match s.list_all_children(flags).await {
                    Ok(c) if op == "snapshot_num_children" => Ok(json!(c.len())),
                    Ok(c) => Ok(sorted_names(&c)),
                    Err(e) => Err(e.into()),
                },
                Err(e) => Err(e),
            },
            "snapshot_xml" => {
                self.on_snapshot(
                    step,
                    |s| async move { s.xml_desc(flags).await.map(Value::from) },
                )
                .await
            }
            "snapshot_is_current" => {
                self.on_snapshot(step, |s| async move {
                    s.is_current(flags).await.map(Value::from)
                })
                .await
            }
            "snapshot_has_metadata" => {
                self.on_snapshot(step, |s| async move {
                    s.has_metadata(flags).await.map(Value::from)
                })
                .await
            }
            "snapshot_revert" => {
                self.on_snapshot(step, |s| async move {
                    s.revert(flags).await.map(|()| Value::Null)
                })
                .await
            }
            "snapshot_delete" => {
                self.on_snapshot(step, |s| async move {
                    s.delete(flags).await.map(|()| Value::Null)
                })
                .await
            }
            _ => return None,
        })
    }

    async fn lookup(&mut self, step: &Map<String, Value>, flags: u32) -> StepResult {
        let name = Self::arg_text(step, "name")?;
        let dom = self.dom(step).await?;
        let snap = dom.snapshot_lookup_by_name(name, flags).await?;
        self.keep_snapshot(snap)
    }

    async fn on_snapshot<F, Fut>(&self, step: &Map<String, Value>, call: F) -> StepResult
    where
        F: FnOnce(DomainSnapshot) -> Fut,
        Fut: std::future::Future<Output = oxvirt::Result<Value>>,
    {
        let snap = self.snap(step).await?;
        Ok(call(snap).await?)
    }

    /// A snapshot's name as the result, the handle kept for the step's `as`.
    pub(crate) fn keep_snapshot(&mut self, snap: DomainSnapshot) -> StepResult {
        let name = Value::from(snap.name());
        self.keep = Some(Handle::Snapshot(snap));
        Ok(name)
    }
}
