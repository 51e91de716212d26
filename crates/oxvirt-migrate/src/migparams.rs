//! QEMU's migration parameters as libvirt manages them (`qemuMigrationParams`): read
//! from a `query-migrate-parameters` reply, sent with `migrate-set-parameters`, and kept
//! in the domain status file as `<migParams>`.

use oxvirt_xml::model::{str_to_long_i, str_to_long_ullp};
use oxvirt_xml::writer::escape_into;
use oxvirt_xml::{Element, ErrorCode, ErrorDomain, VirError};
use serde_json::Value;

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
