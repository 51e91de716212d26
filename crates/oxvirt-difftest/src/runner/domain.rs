//! Operations on one domain: lifecycle, reading, resources, devices, metadata.

use oxvirt::{flags, Domain};
use serde_json::{json, Map, Value};

use super::{Fail, Runner, StepResult};
use crate::normalise::CPU_TIME;
use crate::scenario::{arg_str, flags as step_flags};

/// `Ok(null)` for calls that return nothing.
fn done(r: oxvirt::Result<()>) -> StepResult {
    r.map(|()| Value::Null).map_err(Fail::from)
}

fn value<T: Into<Value>>(r: oxvirt::Result<T>) -> StepResult {
    r.map(Into::into).map_err(Fail::from)
}

impl Runner<'_> {
    /// The domain operation `op`, or `None` if `op` is not one.
    pub(crate) async fn domain_op(
        &mut self,
        op: &str,
        step: &Map<String, Value>,
    ) -> Option<StepResult> {
        const OPS: [&str; 38] = [
            "undefine",
            "create",
            "destroy",
            "shutdown",
            "reboot",
            "reset",
            "suspend",
            "resume",
            "save",
            "managed_save",
            "has_managed_save",
            "managed_save_remove",
            "name",
            "uuid",
            "id",
            "info",
            "state",
            "xml",
            "os_type",
            "is_active",
            "is_persistent",
            "is_updated",
            "autostart",
            "set_autostart",
            "max_memory",
            "set_memory",
            "set_max_memory",
            "vcpus",
            "dom_max_vcpus",
            "set_vcpus",
            "attach_device",
            "detach_device",
            "update_device",
            "metadata",
            "set_metadata",
            "snapshot_create",
            "snapshot_current",
            "has_current_snapshot",
        ];
        if !OPS.contains(&op) {
            return None;
        }
        let dom = match self.dom(step).await {
            Ok(d) => d,
            Err(e) => return Some(Err(e)),
        };
        Some(self.on_domain(op, step, &dom).await)
    }

    async fn on_domain(&mut self, op: &str, step: &Map<String, Value>, d: &Domain) -> StepResult {
        let flags = step_flags(step);
        match op {
            // lifecycle
            "undefine" => done(d.undefine(flags).await),
            "create" => done(d.create(flags).await),
            "destroy" => done(d.destroy(flags).await),
            "shutdown" => done(d.shutdown(flags).await),
            "reboot" => done(d.reboot(flags).await),
            "reset" => done(d.reset(flags).await),
            "suspend" => done(d.suspend().await),
            "resume" => done(d.resume().await),
            "save" => {
                let path = self.path(step)?;
                let dxml = self.text(step, "dxml")?;
                done(d.save(&path, dxml.as_deref(), flags).await)
            }
            "managed_save" => done(d.managed_save(flags).await),
            "has_managed_save" => value(d.has_managed_save(flags).await),
            "managed_save_remove" => done(d.managed_save_remove(flags).await),
            // reading
            "name" => Ok(d.name().into()),
            "uuid" => Ok(d.uuid_string().into()),
            "id" => Ok(d.id().map_or(-1, i64::from).into()),
            "info" => {
                let i = d.info().await?;
                Ok(json!({
                    "state": i.state.number(),
                    "max_mem_kib": i.max_mem_kib,
                    "memory_kib": i.memory_kib,
                    "nr_virt_cpu": i.nr_virt_cpu,
                    "cpu_time": CPU_TIME,
                }))
            }
            "state" => {
                // Domain::state takes no flags; with flags the driver is asked directly, as
                // virDomainGetState passes them through.
                let s = if flags == 0 {
                    d.state().await?
                } else {
                    d.connect().driver().state(&d.to_ref(), flags).await?
                };
                Ok(json!([s.state().number(), s.reason()]))
            }
            "xml" => value(d.xml_desc(flags).await),
            "os_type" => value(d.os_type().await),
            "is_active" => value(d.is_active().await),
            "is_persistent" => value(d.is_persistent().await),
            "is_updated" => value(d.is_updated().await),
            "autostart" => value(d.autostart().await),
            "set_autostart" => {
                let on = Self::arg(step, "value")?.as_bool().unwrap_or(false);
                done(d.set_autostart(on).await)
            }
            "max_memory" => value(d.max_memory().await),
            // resources
            "set_memory" => {
                let kib = Self::kib(step)?;
                match step.get("flags") {
                    Some(_) => done(d.set_memory_flags(kib, flags).await),
                    None => done(d.set_memory(kib).await),
                }
            }
            "set_max_memory" => {
                let kib = Self::kib(step)?;
                done(d.set_max_memory(kib).await)
            }
            "vcpus" => value(d.vcpus(flags).await),
            // virDomainGetMaxVcpus is GetVcpusFlags(LIVE | MAXIMUM) in the test driver.
            "dom_max_vcpus" => value(d.vcpus(flags::vcpu::LIVE | flags::vcpu::MAXIMUM).await),
            "set_vcpus" => {
                let count = u32::try_from(Self::arg_int(step, "count")?)
                    .map_err(|_| Fail::Scenario("count out of range".into()))?;
                match step.get("flags") {
                    Some(_) => done(d.set_vcpus_flags(count, flags).await),
                    None => done(d.set_vcpus(count).await),
                }
            }
            "attach_device" => {
                let xml = self.required_text(step, "xml")?;
                done(d.attach_device_flags(&xml, flags).await)
            }
            "detach_device" => {
                let xml = self.required_text(step, "xml")?;
                done(d.detach_device_flags(&xml, flags).await)
            }
            "update_device" => {
                let xml = self.required_text(step, "xml")?;
                done(d.update_device(&xml, flags).await)
            }
            "metadata" => {
                let kind = Self::kind(step)?;
                value(d.metadata(kind, arg_str(step, "uri"), flags).await)
            }
            "set_metadata" => {
                let kind = Self::kind(step)?;
                let text = self.text(step, "value")?;
                done(
                    d.set_metadata(
                        kind,
                        text.as_deref(),
                        arg_str(step, "key"),
                        arg_str(step, "uri"),
                        flags,
                    )
                    .await,
                )
            }
            // snapshots made or found through the domain
            "snapshot_create" => {
                let xml = self.text(step, "xml")?.unwrap_or_default();
                let snap = d.snapshot_create_xml(&xml, flags).await?;
                self.keep_snapshot(snap)
            }
            "snapshot_current" => {
                let snap = d.snapshot_current(flags).await?;
                self.keep_snapshot(snap)
            }
            "has_current_snapshot" => value(d.has_current_snapshot(flags).await),
            _ => Err(Fail::Scenario(format!("unknown operation {op:?}"))),
        }
    }

    fn kib(step: &Map<String, Value>) -> Result<u64, Fail> {
        u64::try_from(Self::arg_int(step, "kib")?)
            .map_err(|_| Fail::Scenario("kib out of range".into()))
    }

    fn kind(step: &Map<String, Value>) -> Result<i32, Fail> {
        i32::try_from(Self::arg_int(step, "kind")?)
            .map_err(|_| Fail::Scenario("kind out of range".into()))
    }
}
