//! QEMU's migration parameters as libvirt manages them (`qemuMigrationParams`): read
//! from a `query-migrate-parameters` reply, sent with `migrate-set-parameters`, and kept
//! in the domain status file as `<migParams>`.

use oxvirt_xml::model::{str_to_long_i, str_to_long_ullp};
use oxvirt_xml::writer::escape_into;
use oxvirt_xml::{Element, ErrorCode, ErrorDomain, VirError};
use serde_json::Value;

use crate::cookie::MigrationCapability;
use crate::flags::MigrateFlags;
use crate::params::MigrateParams;

/// A parameter's value.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum MigParamValue {
    /// An `int` parameter.
    Int(i32),
    /// An `unsigned long long` parameter.
    ULLong(u64),
    /// A boolean parameter.
    Bool(bool),
    /// A string parameter.
    String(String),
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Kind {
    Int,
    ULLong,
    Bool,
    String,
}

/// The parameters libvirt 9.0 knows (`qemuMigrationParam`), in its order, with types.
const PARAMS: &[(&str, Kind)] = &[
    ("compress-level", Kind::Int),
    ("compress-threads", Kind::Int),
    ("decompress-threads", Kind::Int),
    ("cpu-throttle-initial", Kind::Int),
    ("cpu-throttle-increment", Kind::Int),
    ("tls-creds", Kind::String),
    ("tls-hostname", Kind::String),
    ("max-bandwidth", Kind::ULLong),
    ("downtime-limit", Kind::ULLong),
    ("block-incremental", Kind::Bool),
    ("xbzrle-cache-size", Kind::ULLong),
    ("max-postcopy-bandwidth", Kind::ULLong),
    ("multifd-channels", Kind::Int),
];

/// The names of the parameters libvirt 9.0 manages, in its order.
pub fn param_names() -> impl Iterator<Item = &'static str> {
    PARAMS.iter().map(|(n, _)| *n)
}

/// A set of QEMU migration parameters; those not set are not sent to QEMU.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct QmpMigParams {
    values: Vec<(&'static str, MigParamValue)>,
}

fn err(msg: String) -> VirError {
    VirError::new(ErrorDomain::Qemu, ErrorCode::InternalError, msg)
}

impl QmpMigParams {
    /// The value of parameter `name`, when set.
    pub fn get(&self, name: &str) -> Option<&MigParamValue> {
        self.values.iter().find(|(n, _)| *n == name).map(|(_, v)| v)
    }

    /// Sets parameter `name`; refused (`false`) when libvirt does not know the name or
    /// the value has another type.
    pub fn set(&mut self, name: &str, value: MigParamValue) -> bool {
        let Some(&(pname, kind)) = PARAMS.iter().find(|(n, _)| *n == name) else {
            return false;
        };
        let fits = matches!(
            (kind, &value),
            (Kind::Int, MigParamValue::Int(_))
                | (Kind::ULLong, MigParamValue::ULLong(_))
                | (Kind::Bool, MigParamValue::Bool(_))
                | (Kind::String, MigParamValue::String(_))
        );
        if fits {
            self.values.retain(|(n, _)| *n != pname);
            self.values.push((pname, value));
            let order = |n: &str| PARAMS.iter().position(|(p, _)| *p == n);
            self.values.sort_by_key(|(n, _)| order(n));
        }
        fits
    }

    /// Reads the `return` object of a `query-migrate-parameters` reply (or the reply
    /// itself) as `qemuMigrationParamsFromJSON` does: parameters libvirt does not manage,
    /// and values of another type, are ignored.
    pub fn from_qmp(reply: &Value) -> QmpMigParams {
        let obj = reply.get("return").unwrap_or(reply);
        let mut p = QmpMigParams::default();
        for &(name, kind) in PARAMS {
            let Some(v) = obj.get(name) else { continue };
            let value = match kind {
                Kind::Int => v
                    .as_i64()
                    .and_then(|n| i32::try_from(n).ok())
                    .map(MigParamValue::Int),
                Kind::ULLong => v.as_u64().map(MigParamValue::ULLong),
                Kind::Bool => v.as_bool().map(MigParamValue::Bool),
                Kind::String => v.as_str().map(|s| MigParamValue::String(s.to_string())),
            };
            if let Some(value) = value {
                p.values.push((name, value));
            }
        }
        p
    }

    /// The arguments of `migrate-set-parameters`, as a JSON value.
    pub fn to_qmp(&self) -> Value {
        let mut map = serde_json::Map::new();
        for (name, v) in &self.values {
            let v = match v {
                MigParamValue::Int(n) => Value::from(*n),
                MigParamValue::ULLong(n) => Value::from(*n),
                MigParamValue::Bool(b) => Value::from(*b),
                MigParamValue::String(s) => Value::from(s.as_str()),
            };
            map.insert((*name).to_string(), v);
        }
        Value::Object(map)
    }

    /// The arguments of `migrate-set-parameters` written as libvirt writes them
    /// (`virJSONValueToString` with pretty printing): one member a line, in libvirt's
    /// order, two spaces of indent.
    pub fn to_qmp_pretty(&self) -> String {
        let members: Vec<String> = self
            .values
            .iter()
            .map(|(name, v)| {
                let v = match v {
                    MigParamValue::Int(n) => n.to_string(),
                    MigParamValue::ULLong(n) => n.to_string(),
                    MigParamValue::Bool(b) => b.to_string(),
                    MigParamValue::String(s) => Value::from(s.as_str()).to_string(),
                };
                format!("  \"{name}\": {v}")
            })
            .collect();
        format!("{{\n{}\n}}\n", members.join(",\n"))
    }

    /// `<migParams>` as the domain status file holds it, indented by `depth` levels.
    pub fn to_xml(&self, depth: usize) -> String {
        let indent = "  ".repeat(depth);
        let mut out = format!("{indent}<migParams>\n");
        for (name, v) in &self.values {
            out.push_str(&indent);
            out.push_str("  <param name='");
            out.push_str(name);
            out.push_str("' value='");
            match v {
                MigParamValue::Int(n) => out.push_str(&n.to_string()),
                MigParamValue::ULLong(n) => out.push_str(&n.to_string()),
                MigParamValue::Bool(b) => out.push_str(if *b { "yes" } else { "no" }),
                MigParamValue::String(s) => escape_into(&mut out, s),
            }
            out.push_str("'/>\n");
        }
        out.push_str(&indent);
        out.push_str("</migParams>\n");
        out
    }

    /// Reads `<migParams>` from a status file as `qemuMigrationParamsParse` does, with
    /// its errors.
    pub fn from_xml(el: &Element) -> Result<QmpMigParams, VirError> {
        let mut p = QmpMigParams::default();
        for param in el.elements().filter(|e| e.name == "param") {
            let Some(name) = param.attr("name") else {
                return Err(err("missing migration parameter name".to_string()));
            };
            let Some(&(pname, kind)) = PARAMS.iter().find(|(n, _)| *n == name) else {
                return Err(err(format!("unknown migration parameter '{name}'")));
            };
            let Some(value) = param.attr("value") else {
                return Err(err(format!(
                    "missing value for migration parameter '{name}'"
                )));
            };
            let parsed = match kind {
                Kind::Int => str_to_long_i(value, 10).map(MigParamValue::Int),
                Kind::ULLong => str_to_long_ullp(value, 10).map(MigParamValue::ULLong),
                Kind::Bool => match value {
                    "yes" => Some(MigParamValue::Bool(true)),
                    "no" => Some(MigParamValue::Bool(false)),
                    _ => None,
                },
                Kind::String => Some(MigParamValue::String(value.to_string())),
            };
            let Some(parsed) = parsed else {
                return Err(err(format!(
                    "invalid value '{value}' for migration parameter '{name}'"
                )));
            };
            p.set(pname, parsed);
        }
        Ok(p)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn set_keeps_libvirt_order_and_types() {
        let mut p = QmpMigParams::default();
        assert!(p.set("downtime-limit", MigParamValue::ULLong(300)));
        assert!(p.set("compress-level", MigParamValue::Int(1)));
        assert!(!p.set("compress-level", MigParamValue::ULLong(1)));
        assert!(!p.set("bogus", MigParamValue::Int(1)));
        assert!(p.set("block-incremental", MigParamValue::Bool(true)));
        assert_eq!(
            p.to_qmp_pretty(),
            "{\n  \"compress-level\": 1,\n  \"downtime-limit\": 300,\n  \"block-incremental\": true\n}\n"
        );
        let xml = p.to_xml(0);
        let again = QmpMigParams::from_xml(&oxvirt_xml::parse(&xml).expect("xml")).expect("read");
        assert_eq!(again, p);
        assert_eq!(p.to_qmp()["downtime-limit"], 300);
    }

    #[test]
    fn status_xml_errors() {
        let el =
            oxvirt_xml::parse("<migParams><param name='x' value='1'/></migParams>").expect("xml");
        assert_eq!(
            QmpMigParams::from_xml(&el).unwrap_err().message,
            "internal error: unknown migration parameter 'x'"
        );
        let el =
            oxvirt_xml::parse("<migParams><param name='compress-level' value='a'/></migParams>")
                .expect("xml");
        assert_eq!(
            QmpMigParams::from_xml(&el).unwrap_err().message,
            "internal error: invalid value 'a' for migration parameter 'compress-level'"
        );
    }
}

/// Which side of a migration parameters are set up for (`qemuMigrationParty`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Party {
    /// The source host.
    Source,
    /// The destination host.
    Destination,
}

/// The migration capabilities libvirt always turns on when QEMU supports them
/// (`qemuMigrationParamsAlwaysOn`): `pause-before-switchover` on the source,
/// `late-block-activate` on the destination.
pub fn always_on(party: Party) -> Vec<MigrationCapability> {
    match party {
        Party::Source => vec![MigrationCapability::PauseBeforeSwitchover],
        Party::Destination => vec![MigrationCapability::LateBlockActivate],
    }
}

fn invalid(msg: impl AsRef<str>) -> VirError {
    VirError::new(ErrorDomain::Qemu, ErrorCode::InvalidArg, msg)
}

impl QmpMigParams {
    /// The QEMU parameters and capabilities a migration with `flags` and `params` sets on
    /// `party`'s QEMU, as libvirt 9.0's `qemuMigrationParamsFromFlags` builds them, with
    /// its errors (`VIR_ERR_INVALID_ARG`, `VIR_ERR_OVERFLOW`). The capabilities come in
    /// libvirt's order; whether QEMU supports them is the caller's to check.
    pub fn from_flags(
        params: &MigrateParams,
        flags: MigrateFlags,
        party: Party,
    ) -> Result<(QmpMigParams, Vec<MigrationCapability>), VirError> {
        type F = MigrateFlags;
        let both = true;
        let source = party == Party::Source;
        let mut caps = Vec::new();
        // qemuMigrationParamsFlagMap: (flag, required (true) or forbidden, capability,
        // whether it applies to this party).
        let map = [
            (F::RDMA_PIN_ALL, true, MigrationCapability::RdmaPinAll, both),
            (
                F::AUTO_CONVERGE,
                true,
                MigrationCapability::AutoConverge,
                source,
            ),
            (F::POSTCOPY, true, MigrationCapability::PostcopyRam, both),
            (F::PARALLEL, true, MigrationCapability::Multifd, both),
            (F::TUNNELLED, false, MigrationCapability::ReturnPath, both),
            (F::ZEROCOPY, true, MigrationCapability::ZeroCopySend, source),
        ];
        for (flag, required, cap, applies) in map {
            if applies && flags.contains(flag) == required {
                caps.push(cap);
            }
        }
        let mut p = QmpMigParams::default();
        let int = |p: &mut QmpMigParams, name: &str, v: Option<i32>, applies: bool| {
            if let (true, Some(v)) = (applies, v) {
                p.set(name, MigParamValue::Int(v));
            }
        };
        int(
            &mut p,
            "cpu-throttle-initial",
            params.auto_converge_initial,
            source,
        );
        int(
            &mut p,
            "cpu-throttle-increment",
            params.auto_converge_increment,
            source,
        );
        int(&mut p, "compress-level", params.compression_mt_level, both);
        int(
            &mut p,
            "compress-threads",
            params.compression_mt_threads,
            both,
        );
        int(
            &mut p,
            "decompress-threads",
            params.compression_mt_dthreads,
            both,
        );
        if let Some(v) = params.compression_xbzrle_cache {
            p.set("xbzrle-cache-size", MigParamValue::ULLong(v));
        }
        if let Some(v) = params.bandwidth_postcopy {
            // Given in MiB/s, sent to QEMU in bytes/s.
            const UNIT: u64 = 1024 * 1024;
            let max = u64::MAX / UNIT;
            if v > max {
                return Err(VirError::new(
                    ErrorDomain::Qemu,
                    ErrorCode::Overflow,
                    format!(
                        "migration parameter '{}' must be less than {}",
                        crate::params::BANDWIDTH_POSTCOPY,
                        max + 1
                    ),
                ));
            }
            p.set("max-postcopy-bandwidth", MigParamValue::ULLong(v * UNIT));
        }
        int(
            &mut p,
            "multifd-channels",
            params.parallel_connections,
            both,
        );
        if let (true, Some(host)) = (source, &params.tls_destination) {
            p.set("tls-hostname", MigParamValue::String(host.clone()));
        }
        if (p.get("cpu-throttle-initial").is_some() || p.get("cpu-throttle-increment").is_some())
            && !flags.contains(F::AUTO_CONVERGE)
        {
            return Err(invalid("Turn auto convergence on to tune it"));
        }
        if p.get("multifd-channels").is_some() && !flags.contains(F::PARALLEL) {
            return Err(invalid("Turn parallel migration on to tune it"));
        }
        // qemuMigrationParamsSetCompression.
        let (mut xbzrle, mut mt) = (false, false);
        for method in &params.compression {
            let seen = match method.as_str() {
                "xbzrle" => &mut xbzrle,
                "mt" => &mut mt,
                _ => {
                    return Err(invalid(format!(
                        "Unsupported compression method '{method}'"
                    )))
                }
            };
            if *seen {
                return Err(invalid(format!(
                    "Compression method '{method}' is specified twice"
                )));
            }
            *seen = true;
        }
        if ["compress-level", "compress-threads", "decompress-threads"]
            .iter()
            .any(|n| p.get(n).is_some())
            && !mt
        {
            return Err(invalid("Turn multithread compression on to tune it"));
        }
        if p.get("xbzrle-cache-size").is_some() && !xbzrle {
            return Err(invalid("Turn xbzrle compression on to tune it"));
        }
        if !xbzrle && !mt && flags.contains(F::COMPRESSED) {
            xbzrle = true;
        }
        if xbzrle {
            caps.push(MigrationCapability::Xbzrle);
        }
        if mt {
            caps.push(MigrationCapability::Compress);
        }
        caps.sort();
        caps.dedup();
        Ok((p, caps))
    }
}

/// The arguments of `migrate-set-capabilities` (`qemuMigrationCapsToJSON`): each
/// capability of `caps`, in libvirt's order, on when it is in `on`.
pub fn caps_to_qmp(caps: &[MigrationCapability], on: &[MigrationCapability]) -> Value {
    let mut caps = caps.to_vec();
    caps.sort();
    caps.dedup();
    let list: Vec<Value> = caps
        .iter()
        .map(|c| serde_json::json!({"capability": c.as_str(), "state": on.contains(c)}))
        .collect();
    serde_json::json!({ "capabilities": list })
}

#[cfg(test)]
mod from_flags_tests {
    use super::*;

    fn params(f: impl FnOnce(&mut MigrateParams)) -> MigrateParams {
        let mut p = MigrateParams::default();
        f(&mut p);
        p
    }

    #[test]
    fn flags_and_params_become_qemu_settings() {
        type F = MigrateFlags;
        let p = params(|p| {
            p.auto_converge_initial = Some(20);
            p.parallel_connections = Some(4);
            p.bandwidth_postcopy = Some(2);
            p.tls_destination = Some("dst".into());
        });
        let flags = F::LIVE | F::AUTO_CONVERGE | F::PARALLEL | F::POSTCOPY;
        let (q, caps) = QmpMigParams::from_flags(&p, flags, Party::Source).expect("valid");
        assert_eq!(
            caps,
            [
                MigrationCapability::AutoConverge,
                MigrationCapability::PostcopyRam,
                MigrationCapability::Multifd,
                MigrationCapability::ReturnPath,
            ]
        );
        assert_eq!(
            q.to_qmp_pretty(),
            "{\n  \"cpu-throttle-initial\": 20,\n  \"tls-hostname\": \"dst\",\n  \"max-postcopy-bandwidth\": 2097152,\n  \"multifd-channels\": 4\n}\n"
        );
        // The destination sets neither the throttle nor the TLS host name.
        let (q, caps) = QmpMigParams::from_flags(&p, flags, Party::Destination).expect("valid");
        assert!(q.get("cpu-throttle-initial").is_none());
        assert!(q.get("tls-hostname").is_none());
        assert!(!caps.contains(&MigrationCapability::AutoConverge));
        // Compression: xbzrle by default with VIR_MIGRATE_COMPRESSED.
        let (_, caps) = QmpMigParams::from_flags(
            &MigrateParams::default(),
            F::COMPRESSED | F::TUNNELLED,
            Party::Source,
        )
        .expect("valid");
        assert_eq!(caps, [MigrationCapability::Xbzrle]);
        let json = caps_to_qmp(&caps, &caps);
        assert_eq!(json["capabilities"][0]["capability"], "xbzrle");
        assert_eq!(json["capabilities"][0]["state"], true);
    }

    #[test]
    fn refused_tuning_carries_libvirt_messages() {
        type F = MigrateFlags;
        let msg = |p: MigrateParams, flags| {
            QmpMigParams::from_flags(&p, flags, Party::Source)
                .map(|_| ())
                .map_err(|e| (e.code, e.message))
                .unwrap_err()
        };
        assert_eq!(
            msg(params(|p| p.auto_converge_increment = Some(5)), F::LIVE),
            (
                ErrorCode::InvalidArg,
                "invalid argument: Turn auto convergence on to tune it".to_string()
            )
        );
        assert_eq!(
            msg(params(|p| p.parallel_connections = Some(2)), F::LIVE).1,
            "invalid argument: Turn parallel migration on to tune it"
        );
        assert_eq!(
            msg(params(|p| p.compression = vec!["zlib".into()]), F::LIVE).1,
            "invalid argument: Unsupported compression method 'zlib'"
        );
        assert_eq!(
            msg(
                params(|p| p.compression = vec!["mt".into(), "mt".into()]),
                F::LIVE
            )
            .1,
            "invalid argument: Compression method 'mt' is specified twice"
        );
        assert_eq!(
            msg(params(|p| p.compression_mt_threads = Some(2)), F::LIVE).1,
            "invalid argument: Turn multithread compression on to tune it"
        );
        assert_eq!(
            msg(
                params(|p| p.compression_xbzrle_cache = Some(2)),
                F::COMPRESSED
            )
            .1,
            "invalid argument: Turn xbzrle compression on to tune it"
        );
        let (code, text) = msg(params(|p| p.bandwidth_postcopy = Some(u64::MAX)), F::LIVE);
        assert_eq!(code, ErrorCode::Overflow);
        assert_eq!(
            text,
            format!(
                "numerical overflow: migration parameter 'bandwidth.postcopy' must be less than {}",
                u64::MAX / (1024 * 1024) + 1
            )
        );
    }
}
