//! The `VIR_MIGRATE_PARAM_*` typed parameters of `virDomainMigrate3` and the migration
//! protocol's Begin3Params/Prepare3Params/Perform3Params... calls.

use oxvirt_domain::driver::typed::{TypedParam, TypedValue};
use oxvirt_xml::{ErrorCode, ErrorDomain, VirError};

/// The type a parameter must have (`virTypedParameterType`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ParamType {
    /// `VIR_TYPED_PARAM_INT`.
    Int,
    /// `VIR_TYPED_PARAM_ULLONG`.
    ULLong,
    /// `VIR_TYPED_PARAM_STRING`.
    String,
}

impl ParamType {
    /// libvirt's name for the type, as its errors print it.
    pub fn name(self) -> &'static str {
        match self {
            ParamType::Int => "int",
            ParamType::ULLong => "ullong",
            ParamType::String => "string",
        }
    }
}

/// libvirt's name of a value's type (`virTypedParameterTypeToString`).
pub fn value_type_name(value: &TypedValue) -> &'static str {
    match value {
        TypedValue::Int(_) => "int",
        TypedValue::UInt(_) => "uint",
        TypedValue::LLong(_) => "llong",
        TypedValue::ULLong(_) => "ullong",
        TypedValue::Double(_) => "double",
        TypedValue::Boolean(_) => "boolean",
        TypedValue::String(_) => "string",
    }
}

/// `VIR_MIGRATE_PARAM_URI`.
pub const URI: &str = "migrate_uri";
/// `VIR_MIGRATE_PARAM_DEST_NAME`.
pub const DEST_NAME: &str = "destination_name";
/// `VIR_MIGRATE_PARAM_DEST_XML`.
pub const DEST_XML: &str = "destination_xml";
/// `VIR_MIGRATE_PARAM_PERSIST_XML`.
pub const PERSIST_XML: &str = "persistent_xml";
/// `VIR_MIGRATE_PARAM_BANDWIDTH`.
pub const BANDWIDTH: &str = "bandwidth";
/// `VIR_MIGRATE_PARAM_BANDWIDTH_POSTCOPY`.
pub const BANDWIDTH_POSTCOPY: &str = "bandwidth.postcopy";
/// `VIR_MIGRATE_PARAM_GRAPHICS_URI`.
pub const GRAPHICS_URI: &str = "graphics_uri";
/// `VIR_MIGRATE_PARAM_LISTEN_ADDRESS`.
pub const LISTEN_ADDRESS: &str = "listen_address";
/// `VIR_MIGRATE_PARAM_MIGRATE_DISKS` (may occur several times).
pub const MIGRATE_DISKS: &str = "migrate_disks";
/// `VIR_MIGRATE_PARAM_DISKS_PORT`.
pub const DISKS_PORT: &str = "disks_port";
/// `VIR_MIGRATE_PARAM_DISKS_URI`.
pub const DISKS_URI: &str = "disks_uri";
/// `VIR_MIGRATE_PARAM_COMPRESSION` (may occur several times).
pub const COMPRESSION: &str = "compression";
/// `VIR_MIGRATE_PARAM_COMPRESSION_MT_LEVEL`.
pub const COMPRESSION_MT_LEVEL: &str = "compression.mt.level";
/// `VIR_MIGRATE_PARAM_COMPRESSION_MT_THREADS`.
pub const COMPRESSION_MT_THREADS: &str = "compression.mt.threads";
/// `VIR_MIGRATE_PARAM_COMPRESSION_MT_DTHREADS`.
pub const COMPRESSION_MT_DTHREADS: &str = "compression.mt.dthreads";
/// `VIR_MIGRATE_PARAM_COMPRESSION_XBZRLE_CACHE`.
pub const COMPRESSION_XBZRLE_CACHE: &str = "compression.xbzrle.cache";
/// `VIR_MIGRATE_PARAM_AUTO_CONVERGE_INITIAL`.
pub const AUTO_CONVERGE_INITIAL: &str = "auto_converge.initial";
/// `VIR_MIGRATE_PARAM_AUTO_CONVERGE_INCREMENT`.
pub const AUTO_CONVERGE_INCREMENT: &str = "auto_converge.increment";
/// `VIR_MIGRATE_PARAM_PARALLEL_CONNECTIONS`.
pub const PARALLEL_CONNECTIONS: &str = "parallel.connections";
/// `VIR_MIGRATE_PARAM_TLS_DESTINATION`.
pub const TLS_DESTINATION: &str = "tls.destination";

/// The parameters libvirt 9.0's QEMU driver accepts (`QEMU_MIGRATION_PARAMETERS`), with
/// their types and whether they may occur more than once (`VIR_TYPED_PARAM_MULTIPLE`).
pub const QEMU_MIGRATION_PARAMETERS: &[(&str, ParamType, bool)] = &[
    (URI, ParamType::String, false),
    (DEST_NAME, ParamType::String, false),
    (DEST_XML, ParamType::String, false),
    (BANDWIDTH, ParamType::ULLong, false),
    (GRAPHICS_URI, ParamType::String, false),
    (LISTEN_ADDRESS, ParamType::String, false),
    (MIGRATE_DISKS, ParamType::String, true),
    (DISKS_PORT, ParamType::Int, false),
    (COMPRESSION, ParamType::String, true),
    (COMPRESSION_MT_LEVEL, ParamType::Int, false),
    (COMPRESSION_MT_THREADS, ParamType::Int, false),
    (COMPRESSION_MT_DTHREADS, ParamType::Int, false),
    (COMPRESSION_XBZRLE_CACHE, ParamType::ULLong, false),
    (PERSIST_XML, ParamType::String, false),
    (AUTO_CONVERGE_INITIAL, ParamType::Int, false),
    (AUTO_CONVERGE_INCREMENT, ParamType::Int, false),
    (BANDWIDTH_POSTCOPY, ParamType::ULLong, false),
    (PARALLEL_CONNECTIONS, ParamType::Int, false),
    (TLS_DESTINATION, ParamType::String, false),
    (DISKS_URI, ParamType::String, false),
];

fn value_has_type(value: &TypedValue, ty: ParamType) -> bool {
    matches!(
        (value, ty),
        (TypedValue::Int(_), ParamType::Int)
            | (TypedValue::ULLong(_), ParamType::ULLong)
            | (TypedValue::String(_), ParamType::String)
    )
}

/// `virTypedParamsValidate`: every parameter must be one of `allowed`, of its type, and
/// occur once unless it may occur several times. Like libvirt, the parameters are
/// checked in the order of their names, and the first fault is reported
/// (`VIR_FROM_NONE`): "parameter 'x' not supported" (`VIR_ERR_ARGUMENT_UNSUPPORTED`),
/// "parameter 'x' occurs multiple times" or "invalid type 't' for parameter 'x',
/// expected 'u'" (`VIR_ERR_INVALID_ARG`).
pub fn validate(
    params: &[TypedParam],
    allowed: &[(&str, ParamType, bool)],
) -> Result<(), VirError> {
    let mut sorted: Vec<&TypedParam> = params.iter().collect();
    sorted.sort_by(|a, b| a.field.as_bytes().cmp(b.field.as_bytes()));
    let mut last: Option<&str> = None;
    for p in sorted {
        let Some(&(_, ty, multiple)) = allowed.iter().find(|(n, _, _)| *n == p.field) else {
            return Err(VirError::new(
                ErrorDomain::None,
                ErrorCode::ArgumentUnsupported,
                format!("parameter '{}' not supported", p.field),
            ));
        };
        if last == Some(p.field.as_str()) && !multiple {
            return Err(VirError::new(
                ErrorDomain::None,
                ErrorCode::InvalidArg,
                format!("parameter '{}' occurs multiple times", p.field),
            ));
        }
        if !value_has_type(&p.value, ty) {
            return Err(VirError::new(
                ErrorDomain::None,
                ErrorCode::InvalidArg,
                format!(
                    "invalid type '{}' for parameter '{}', expected '{}'",
                    value_type_name(&p.value),
                    p.field,
                    ty.name()
                ),
            ));
        }
        last = Some(p.field.as_str());
    }
    Ok(())
}

/// The migration parameters of one migration, each as libvirt names and types it.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct MigrateParams {
    /// `migrate_uri`: where the source's QEMU connects.
    pub uri: Option<String>,
    /// `destination_name`: the domain's name on the destination.
    pub dest_name: Option<String>,
    /// `destination_xml`: the domain XML to use on the destination.
    pub dest_xml: Option<String>,
    /// `persistent_xml`: the persistent definition to use on the destination.
    pub persist_xml: Option<String>,
    /// `bandwidth`: the maximum bandwidth in MiB/s.
    pub bandwidth: Option<u64>,
    /// `bandwidth.postcopy`: the maximum bandwidth in post-copy, in MiB/s.
    pub bandwidth_postcopy: Option<u64>,
    /// `graphics_uri`: where graphics clients reconnect.
    pub graphics_uri: Option<String>,
    /// `listen_address`: where the destination's QEMU listens.
    pub listen_address: Option<String>,
    /// `migrate_disks`: the disk targets to copy (every occurrence, in order).
    pub migrate_disks: Vec<String>,
    /// `disks_port`: the destination's NBD server port.
    pub disks_port: Option<i32>,
    /// `disks_uri`: the destination's NBD server URI.
    pub disks_uri: Option<String>,
    /// `compression`: the compression methods (every occurrence, in order).
    pub compression: Vec<String>,
    /// `compression.mt.level`.
    pub compression_mt_level: Option<i32>,
    /// `compression.mt.threads`.
    pub compression_mt_threads: Option<i32>,
    /// `compression.mt.dthreads`.
    pub compression_mt_dthreads: Option<i32>,
    /// `compression.xbzrle.cache`, in bytes.
    pub compression_xbzrle_cache: Option<u64>,
    /// `auto_converge.initial`: the initial CPU throttle, in percent.
    pub auto_converge_initial: Option<i32>,
    /// `auto_converge.increment`: the throttle increment, in percent.
    pub auto_converge_increment: Option<i32>,
    /// `parallel.connections`: the number of connections of a parallel migration.
    pub parallel_connections: Option<i32>,
    /// `tls.destination`: the host name the destination's certificate must carry.
    pub tls_destination: Option<String>,
}

impl MigrateParams {
    /// Reads typed parameters after [`validate`]-ing them against
    /// [`QEMU_MIGRATION_PARAMETERS`].
    pub fn from_typed(params: &[TypedParam]) -> Result<MigrateParams, VirError> {
        validate(params, QEMU_MIGRATION_PARAMETERS)?;
        let mut m = MigrateParams::default();
        for p in params {
            match (p.field.as_str(), &p.value) {
                (URI, TypedValue::String(s)) => m.uri = Some(s.clone()),
                (DEST_NAME, TypedValue::String(s)) => m.dest_name = Some(s.clone()),
                (DEST_XML, TypedValue::String(s)) => m.dest_xml = Some(s.clone()),
                (PERSIST_XML, TypedValue::String(s)) => m.persist_xml = Some(s.clone()),
                (BANDWIDTH, TypedValue::ULLong(v)) => m.bandwidth = Some(*v),
                (BANDWIDTH_POSTCOPY, TypedValue::ULLong(v)) => m.bandwidth_postcopy = Some(*v),
                (GRAPHICS_URI, TypedValue::String(s)) => m.graphics_uri = Some(s.clone()),
                (LISTEN_ADDRESS, TypedValue::String(s)) => m.listen_address = Some(s.clone()),
                (MIGRATE_DISKS, TypedValue::String(s)) => m.migrate_disks.push(s.clone()),
                (DISKS_PORT, TypedValue::Int(v)) => m.disks_port = Some(*v),
                (DISKS_URI, TypedValue::String(s)) => m.disks_uri = Some(s.clone()),
                (COMPRESSION, TypedValue::String(s)) => m.compression.push(s.clone()),
                (COMPRESSION_MT_LEVEL, TypedValue::Int(v)) => m.compression_mt_level = Some(*v),
                (COMPRESSION_MT_THREADS, TypedValue::Int(v)) => m.compression_mt_threads = Some(*v),
                (COMPRESSION_MT_DTHREADS, TypedValue::Int(v)) => {
                    m.compression_mt_dthreads = Some(*v)
                }
                (COMPRESSION_XBZRLE_CACHE, TypedValue::ULLong(v)) => {
                    m.compression_xbzrle_cache = Some(*v)
                }
                (AUTO_CONVERGE_INITIAL, TypedValue::Int(v)) => m.auto_converge_initial = Some(*v),
                (AUTO_CONVERGE_INCREMENT, TypedValue::Int(v)) => {
                    m.auto_converge_increment = Some(*v)
                }
                (PARALLEL_CONNECTIONS, TypedValue::Int(v)) => m.parallel_connections = Some(*v),
                (TLS_DESTINATION, TypedValue::String(s)) => m.tls_destination = Some(s.clone()),
                // validate() let nothing else through.
                _ => {}
            }
        }
        Ok(m)
    }

    /// The parameters as typed parameters, in the order of
    /// [`QEMU_MIGRATION_PARAMETERS`]; unset ones are left out.
    pub fn to_typed(&self) -> Vec<TypedParam> {
        let mut out = Vec::new();
        let s = |out: &mut Vec<TypedParam>, name: &str, v: &Option<String>| {
            if let Some(v) = v {
                out.push(TypedParam::new(name, TypedValue::String(v.clone())));
            }
        };
        let i = |out: &mut Vec<TypedParam>, name: &str, v: Option<i32>| {
            if let Some(v) = v {
                out.push(TypedParam::new(name, TypedValue::Int(v)));
            }
        };
        let u = |out: &mut Vec<TypedParam>, name: &str, v: Option<u64>| {
            if let Some(v) = v {
                out.push(TypedParam::new(name, TypedValue::ULLong(v)));
            }
        };
        s(&mut out, URI, &self.uri);
        s(&mut out, DEST_NAME, &self.dest_name);
        s(&mut out, DEST_XML, &self.dest_xml);
        u(&mut out, BANDWIDTH, self.bandwidth);
        s(&mut out, GRAPHICS_URI, &self.graphics_uri);
        s(&mut out, LISTEN_ADDRESS, &self.listen_address);
        for d in &self.migrate_disks {
            out.push(TypedParam::new(
                MIGRATE_DISKS,
                TypedValue::String(d.clone()),
            ));
        }
        i(&mut out, DISKS_PORT, self.disks_port);
        for c in &self.compression {
            out.push(TypedParam::new(COMPRESSION, TypedValue::String(c.clone())));
        }
        i(&mut out, COMPRESSION_MT_LEVEL, self.compression_mt_level);
        i(
            &mut out,
            COMPRESSION_MT_THREADS,
            self.compression_mt_threads,
        );
        i(
            &mut out,
            COMPRESSION_MT_DTHREADS,
            self.compression_mt_dthreads,
        );
        u(
            &mut out,
            COMPRESSION_XBZRLE_CACHE,
            self.compression_xbzrle_cache,
        );
        s(&mut out, PERSIST_XML, &self.persist_xml);
        i(&mut out, AUTO_CONVERGE_INITIAL, self.auto_converge_initial);
        i(
            &mut out,
            AUTO_CONVERGE_INCREMENT,
            self.auto_converge_increment,
        );
        u(&mut out, BANDWIDTH_POSTCOPY, self.bandwidth_postcopy);
        i(&mut out, PARALLEL_CONNECTIONS, self.parallel_connections);
        s(&mut out, TLS_DESTINATION, &self.tls_destination);
        s(&mut out, DISKS_URI, &self.disks_uri);
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn p(name: &str, v: TypedValue) -> TypedParam {
        TypedParam::new(name, v)
    }

    #[test]
    fn round_trip_through_typed_params() {
        let input = vec![
            p(URI, TypedValue::String("tcp://dst:49152".into())),
            p(BANDWIDTH, TypedValue::ULLong(100)),
            p(MIGRATE_DISKS, TypedValue::String("vda".into())),
            p(MIGRATE_DISKS, TypedValue::String("vdb".into())),
            p(DISKS_PORT, TypedValue::Int(49153)),
            p(COMPRESSION, TypedValue::String("xbzrle".into())),
            p(PARALLEL_CONNECTIONS, TypedValue::Int(4)),
            p(TLS_DESTINATION, TypedValue::String("dst.example".into())),
        ];
        let m = MigrateParams::from_typed(&input).expect("valid params");
        assert_eq!(m.uri.as_deref(), Some("tcp://dst:49152"));
        assert_eq!(m.migrate_disks, ["vda", "vdb"]);
        assert_eq!(m.disks_port, Some(49153));
        assert_eq!(m.parallel_connections, Some(4));
        assert_eq!(m.to_typed(), input);
        assert_eq!(MigrateParams::from_typed(&m.to_typed()), Ok(m));
    }

    #[test]
    fn unknown_names_and_wrong_types_are_refused_like_libvirt() {
        let e = MigrateParams::from_typed(&[p("bogus", TypedValue::Int(1))]).unwrap_err();
        assert_eq!(e.code, ErrorCode::ArgumentUnsupported);
        assert_eq!(e.domain, ErrorDomain::None);
        assert_eq!(
            e.message,
            "argument unsupported: parameter 'bogus' not supported"
        );

        let e = MigrateParams::from_typed(&[p(BANDWIDTH, TypedValue::UInt(1))]).unwrap_err();
        assert_eq!(e.code, ErrorCode::InvalidArg);
        assert_eq!(
            e.message,
            "invalid argument: invalid type 'uint' for parameter 'bandwidth', expected 'ullong'"
        );

        let e = MigrateParams::from_typed(&[
            p(URI, TypedValue::String("a".into())),
            p(URI, TypedValue::String("b".into())),
        ])
        .unwrap_err();
        assert_eq!(
            e.message,
            "invalid argument: parameter 'migrate_uri' occurs multiple times"
        );

        // Checked in name order: 'auto_converge.initial' before 'zzz'.
        let e = MigrateParams::from_typed(&[
            p("zzz", TypedValue::Int(1)),
            p(AUTO_CONVERGE_INITIAL, TypedValue::String("x".into())),
        ])
        .unwrap_err();
        assert_eq!(e.message, "invalid argument: invalid type 'string' for parameter 'auto_converge.initial', expected 'int'");
    }
}
