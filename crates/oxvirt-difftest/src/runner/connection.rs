//! Connection-level operations: the host, counts and lists, lookups, define, createXML,
//! restore.

use oxvirt::flags;
use serde_json::{json, Map, Value};

use super::{dom_summary, Fail, Handle, Runner, StepResult};
use crate::scenario::{arg_str, flags as step_flags};

impl Runner<'_> {
    /// The connection-level operation `op`, or `None` if `op` is not one.
    pub(crate) async fn connection_op(
        &mut self,
        op: &str,
        step: &Map<String, Value>,
    ) -> Option<StepResult> {
        let flags = step_flags(step);
        let c = &self.conn;
        Some(match op {
            "hostname" => c.hostname().await.map(Value::from).map_err(Fail::from),
            "node_info" => c.node_info().await.map_err(Fail::from).map(|i| {
                json!({
                    "model": i.model,
                    // python-libvirt's getInfo() reports MiB (the KiB shifted right by 10).
                    "memory_mib": i.memory_kib >> 10,
                    "cpus": i.cpus, "mhz": i.mhz, "nodes": i.nodes,
                    "sockets": i.sockets, "cores": i.cores, "threads": i.threads,
                })
            }),
            "version" => c.version().await.map(Value::from).map_err(Fail::from),
            "type" => Ok(Value::from(c.hypervisor_type())),
            "uri" => Ok(Value::from(c.uri())),
            "max_vcpus" => c
                .max_vcpus(arg_str(step, "kind"))
                .await
                .map(Value::from)
                .map_err(Fail::from),
            "free_memory" => c.free_memory().await.map(Value::from).map_err(Fail::from),
            "capabilities" => c.capabilities().await.map(Value::from).map_err(Fail::from),
            // The facade has no virConnectNumOfDomains / ListDomains / NumOfDefinedDomains /
            // ListDefinedDomains: they are answered from virConnectListAllDomains with the
            // ACTIVE and INACTIVE filters, which is what they report in libvirt.
            "num_domains" => self
                .names_ids(flags::list::ACTIVE)
                .await
                .map(|v| json!(v.len())),
            "num_defined" => self
                .names_ids(flags::list::INACTIVE)
                .await
                .map(|v| json!(v.len())),
            "list_ids" => self.names_ids(flags::list::ACTIVE).await.map(|v| {
                let mut ids: Vec<i64> = v.into_iter().map(|(_, id)| id).collect();
                ids.sort_unstable();
                json!(ids)
            }),
            "list_defined" => self.names_ids(flags::list::INACTIVE).await.map(|v| {
                let mut names: Vec<String> = v.into_iter().map(|(n, _)| n).collect();
                names.sort();
                json!(names)
            }),
            "list_all" => match c.list_all_domains(flags).await {
                Ok(doms) => {
                    let mut list: Vec<Value> = doms.iter().map(dom_summary).collect();
                    list.sort_by(|a, b| a["name"].as_str().cmp(&b["name"].as_str()));
                    Ok(Value::Array(list))
                }
                Err(e) => Err(e.into()),
            },
            "lookup_name" => {
                let name = match Self::arg_text(step, "name") {
                    Ok(n) => n,
                    Err(e) => return Some(Err(e)),
                };
                self.keep_domain(c.lookup_domain_by_name(name).await)
            }
            "lookup_uuid" => {
                let uuid = match Self::arg_text(step, "uuid") {
                    Ok(u) => u,
                    Err(e) => return Some(Err(e)),
                };
                self.keep_domain(c.lookup_domain_by_uuid_string(uuid).await)
            }
            "lookup_id" => {
                let id = match Self::arg_int(step, "id") {
                    Ok(id) => i32::try_from(id).unwrap_or(i32::MAX),
                    Err(e) => return Some(Err(e)),
                };
                self.keep_domain(c.lookup_domain_by_id(id).await)
            }
            "define" => match self.required_text(step, "xml") {
                Ok(xml) => {
                    let r = self.conn.define_domain_xml(&xml, flags).await;
                    self.keep_domain(r)
                }
                Err(e) => Err(e),
            },
            "create_xml" => match self.required_text(step, "xml") {
                Ok(xml) => {
                    let r = self.conn.create_domain_xml(&xml, flags).await;
                    self.keep_domain(r)
                }
                Err(e) => Err(e),
            },
            "restore" => match (self.path(step), self.text(step, "dxml")) {
                (Ok(path), Ok(dxml)) => c
                    .restore_domain(&path, dxml.as_deref(), flags)
                    .await
                    .map(|()| Value::Null)
                    .map_err(Fail::from),
                (Err(e), _) | (_, Err(e)) => Err(e),
            },
            "save_image_xml" => match self.path(step) {
                Ok(path) => c
                    .save_image_xml(&path, flags)
                    .await
                    .map(Value::from)
                    .map_err(Fail::from),
                Err(e) => Err(e),
            },
            _ => return None,
        })
    }

    /// Names and IDs of the domains `list_all_domains(flags)` returns.
    async fn names_ids(&self, flags: u32) -> Result<Vec<(String, i64)>, Fail> {
        let doms = self.conn.list_all_domains(flags).await?;
        Ok(doms
            .iter()
            .map(|d| (d.name().to_owned(), d.id().map_or(-1, i64::from)))
            .collect())
    }

    /// The summary of a domain a call returned, kept for the step's `as`.
    pub(crate) fn keep_domain(&mut self, r: oxvirt::Result<oxvirt::Domain>) -> StepResult {
        let dom = r?;
        let summary = dom_summary(&dom);
        self.keep = Some(Handle::Domain(dom));
        Ok(summary)
    }
}
