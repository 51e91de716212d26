//! The driver interface's values as they travel, and back (feature `domain`): domains,
//! snapshots and typed parameters. The daemon turns replies one way and the remote client
//! turns them back, through these same conversions.

use oxvirt_domain::driver::{DomainRef, SnapshotRef, TypedParam, TypedValue};
use oxvirt_xml::types::Uuid;

use crate::remote::{TypedParam as WireParam, TypedParamValue};
use crate::types::{NonnullDomain, NonnullDomainSnapshot};

impl From<NonnullDomain> for DomainRef {
    fn from(dom: NonnullDomain) -> Self {
        DomainRef {
            name: dom.name,
            uuid: Uuid::from(dom.uuid),
            id: dom.id,
        }
    }
}

impl From<&DomainRef> for NonnullDomain {
    fn from(dom: &DomainRef) -> Self {
        NonnullDomain {
            name: dom.name.clone(),
            uuid: dom.uuid.into(),
            id: dom.id,
        }
    }
}

impl From<DomainRef> for NonnullDomain {
    fn from(dom: DomainRef) -> Self {
        NonnullDomain {
            name: dom.name,
            uuid: dom.uuid.into(),
            id: dom.id,
        }
    }
}

impl From<NonnullDomainSnapshot> for SnapshotRef {
    fn from(snap: NonnullDomainSnapshot) -> Self {
        SnapshotRef {
            domain: snap.dom.into(),
            name: snap.name,
        }
    }
}

impl From<&SnapshotRef> for NonnullDomainSnapshot {
    fn from(snap: &SnapshotRef) -> Self {
        NonnullDomainSnapshot {
            name: snap.name.clone(),
            dom: (&snap.domain).into(),
        }
    }
}

impl From<SnapshotRef> for NonnullDomainSnapshot {
    fn from(snap: SnapshotRef) -> Self {
        NonnullDomainSnapshot {
            name: snap.name,
            dom: snap.domain.into(),
        }
    }
}

impl From<TypedValue> for TypedParamValue {
    fn from(value: TypedValue) -> Self {
        match value {
            TypedValue::Int(v) => TypedParamValue::Int(v),
            TypedValue::UInt(v) => TypedParamValue::UInt(v),
            TypedValue::LLong(v) => TypedParamValue::LLong(v),
            TypedValue::ULLong(v) => TypedParamValue::ULLong(v),
            TypedValue::Double(v) => TypedParamValue::Double(v),
            TypedValue::Boolean(v) => TypedParamValue::Boolean(i32::from(v)),
            TypedValue::String(v) => TypedParamValue::String(v),
        }
    }
}

impl From<TypedParamValue> for TypedValue {
    /// A boolean is true when non-zero, as libvirt reads it.
    fn from(value: TypedParamValue) -> Self {
        match value {
            TypedParamValue::Int(v) => TypedValue::Int(v),
            TypedParamValue::UInt(v) => TypedValue::UInt(v),
            TypedParamValue::LLong(v) => TypedValue::LLong(v),
            TypedParamValue::ULLong(v) => TypedValue::ULLong(v),
            TypedParamValue::Double(v) => TypedValue::Double(v),
            TypedParamValue::Boolean(v) => TypedValue::Boolean(v != 0),
            TypedParamValue::String(v) => TypedValue::String(v),
        }
    }
}

impl From<TypedParam> for WireParam {
    fn from(p: TypedParam) -> Self {
        WireParam::new(p.field, p.value.into())
    }
}

impl From<WireParam> for TypedParam {
    fn from(p: WireParam) -> Self {
        TypedParam::new(p.field, p.value.into())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn domains_snapshots_and_params_round_trip() {
        let dom = DomainRef {
            name: "d".into(),
            uuid: Uuid::from([7; 16]),
            id: 3,
        };
        let wire = NonnullDomain::from(&dom);
        assert_eq!((wire.name.as_str(), wire.uuid, wire.id), ("d", [7; 16], 3));
        assert_eq!(DomainRef::from(wire), dom);
        let snap = SnapshotRef {
            domain: dom.clone(),
            name: "s".into(),
        };
        assert_eq!(SnapshotRef::from(NonnullDomainSnapshot::from(&snap)), snap);
        for value in [
            TypedValue::Int(-1),
            TypedValue::UInt(2),
            TypedValue::LLong(-3),
            TypedValue::ULLong(4),
            TypedValue::Double(0.5),
            TypedValue::Boolean(true),
            TypedValue::String("x".into()),
        ] {
            let p = TypedParam::new("f", value);
            assert_eq!(TypedParam::from(WireParam::from(p.clone())), p);
        }
        assert_eq!(
            TypedValue::from(TypedParamValue::Boolean(7)),
            TypedValue::Boolean(true)
        );
    }
}
