//! Snapshot XML (`<domainsnapshot>`), as libvirt 9.0's `snapshot_conf.c` reads and writes it.
//!
//! [`DomainSnapshot::parse`] reads a document as it is, keeping everything it holds (the form
//! libvirt stores snapshots in); [`DomainSnapshot::parse_with`] reads it as
//! `virDomainSnapshotDefParseString` does for the given [`SnapshotParseFlags`]: a snapshot to
//! create ignores what only an existing snapshot can say, a redefined one must say it.
//! [`DomainSnapshot::to_xml`] writes it as `virDomainSnapshotDefFormat` does.
//!
//! ```
//! use oxvirt_domain::snapshot::{DomainSnapshot, SnapshotLocation};
//! let xml = "<domainsnapshot><name>s1</name><memory snapshot='internal'/></domainsnapshot>";
//! let snap = DomainSnapshot::parse(xml).unwrap().snapshot;
//! assert_eq!(snap.memory, Some(SnapshotLocation::Internal));
//! assert_eq!(
//!     snap.to_xml(),
//!     "<domainsnapshot>\n  <name>s1</name>\n  <memory snapshot='internal'/>\n</domainsnapshot>\n"
//! );
//! ```

mod disk;
mod read;

pub use disk::{
    NetProtocol, SnapshotDisk, SnapshotDiskDriver, SnapshotDiskSource, SnapshotLocation,
    StorageFormat, StorageType,
};

use std::fmt::Display;

use oxvirt_xml::model::Anchor;
use oxvirt_xml::{Builder, Context, Element, Result, Unknown, Warning, XmlError, XmlModel};

use crate::domain::{Domain, Metadata};

oxvirt_xml::xml_enum! {
    /// The state the domain was in when the snapshot was taken (`<state>`).
    pub enum SnapshotState {
        /// Running.
        Running = "running",
        /// Blocked on a resource.
        Blocked = "blocked",
        /// Paused.
        Paused = "paused",
        /// Being shut down.
        Shutdown = "shutdown",
        /// Shut off.
        Shutoff = "shutoff",
        /// Crashed.
        Crashed = "crashed",
        /// Suspended by guest power management.
        Pmsuspended = "pmsuspended",
        /// A disk-only snapshot of a running domain.
        DiskSnapshot = "disk-snapshot",
    }
}

/// A driver's post-parse step for a domain definition it reads (see
/// [`DomainSnapshot::parse_for`]).
pub type PostParse<'a> = &'a dyn Fn(&mut Domain) -> Result<()>;

/// How [`DomainSnapshot::parse_with`] reads a document: libvirt's
/// `VIR_DOMAIN_SNAPSHOT_PARSE_*` flags.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct SnapshotParseFlags {
    /// `REDEFINE`: the document describes an existing snapshot. Its name, state and
    /// creation time are required; its parent, domain and inactive domain are read; the
    /// memory location gets its default. Without it those elements are ignored.
    pub redefine: bool,
    /// `INTERNAL`: the document is libvirt's own record, with a required `<active>`.
    /// Without it `<active>` is ignored.
    pub internal: bool,
    /// `OFFLINE`: the snapshot is of an inactive domain; no memory state, no cookie.
    pub offline: bool,
}

/// The `<domain>` a snapshot records.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SnapshotDomain {
    /// A whole definition (`<domain type=...>`), as the domain was when the snapshot was
    /// taken.
    Full(Box<Domain>),
    /// The form of older snapshots, a `<domain>` without `type` giving only the UUID.
    /// libvirt reads nothing from it; it is kept as written.
    Legacy {
        /// The text of `<uuid>`, unchecked.
        uuid: Option<String>,
        /// What the model does not type, kept as written.
        unknown: Unknown,
    },
}

/// A snapshot's `<parent>`.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct SnapshotParent {
    /// The parent snapshot's name.
    pub name: Option<String>,
    /// What the model does not type, kept as written.
    pub unknown: Unknown,
}

/// A domain snapshot, as libvirt's `<domainsnapshot>` XML describes it.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct DomainSnapshot {
    /// The snapshot's name; the driver makes one up (the creation time) when absent.
    pub name: Option<String>,
    /// A free-form description.
    pub description: Option<String>,
    /// The domain's state when the snapshot was taken.
    pub state: Option<SnapshotState>,
    /// The snapshot this one was taken on top of.
    pub parent: Option<SnapshotParent>,
    /// When it was taken, in seconds since the epoch (`<creationTime>`).
    pub creation_time: Option<i64>,
    /// Where the memory state is kept (`<memory snapshot=...>`).
    pub memory: Option<SnapshotLocation>,
    /// The file of an external memory snapshot (`<memory file=...>`).
    pub memory_file: Option<String>,
    /// What the model does not type on `<memory>`, kept as written.
    pub memory_unknown: Unknown,
    /// What is done with each disk (`<disks>`).
    pub disks: Vec<SnapshotDisk>,
    /// What the model does not type on `<disks>`, kept as written.
    pub disks_unknown: Unknown,
    /// The domain as it was (`<domain>`).
    pub domain: Option<SnapshotDomain>,
    /// The persistent definition of a domain that was running (`<inactiveDomain>`).
    pub inactive_domain: Option<Box<Domain>>,
    /// The hypervisor driver's own data (`<cookie>`), kept as written.
    pub cookie: Option<Element>,
    /// Whether this is the domain's current snapshot (`<active>`, libvirt's internal
    /// records only).
    pub active: Option<bool>,
    /// What the model does not type, kept as written.
    pub unknown: Unknown,
}

/// A snapshot read from XML, with what was kept or ignored without being understood.
#[derive(Debug, Clone)]
pub struct ParsedSnapshot {
    /// The snapshot.
    pub snapshot: DomainSnapshot,
    /// Unknown elements and attributes (kept and written back), and elements ignored under
    /// the parse flags.
    pub warnings: Vec<Warning>,
}

impl DomainSnapshot {
    /// Reads a snapshot document as it is written, keeping everything in it: what libvirt
    /// reads under any flags is checked as libvirt checks it, but nothing is required and no
    /// default is filled in.
    pub fn parse(xml: &str) -> Result<ParsedSnapshot> {
        Self::parse_mode(xml, None)
    }

    /// Reads a snapshot document as `virDomainSnapshotDefParseString` does with `flags`. The
    /// domain a redefined snapshot records gets libvirt's generic defaults for a guest of
    /// this host's architecture ([`Domain::apply_defaults`]); a driver gives it its own with
    /// [`DomainSnapshot::parse_for`].
    pub fn parse_with(xml: &str, flags: SnapshotParseFlags) -> Result<ParsedSnapshot> {
        Self::parse_for(xml, flags, &|d: &mut Domain| d.apply_defaults())
    }

    /// [`DomainSnapshot::parse_with`] for a driver: libvirt reads the `<domain>` and
    /// `<inactiveDomain>` of a redefined snapshot with the driver's parser configuration, so
    /// they get the driver's post-parse step, `post_parse` (its guest architecture and
    /// [`DriverDefaults`](crate::defaults::DriverDefaults) through
    /// [`Domain::apply_defaults_with`], and whatever else the driver does to a definition it
    /// reads), without validation.
    pub fn parse_for(
        xml: &str,
        flags: SnapshotParseFlags,
        post_parse: PostParse<'_>,
    ) -> Result<ParsedSnapshot> {
        Self::parse_mode(xml, Some((flags, post_parse)))
    }

    fn parse_mode(
        xml: &str,
        flags: Option<(SnapshotParseFlags, PostParse<'_>)>,
    ) -> Result<ParsedSnapshot> {
        let root = oxvirt_xml::parse(xml)?;
        if root.name != "domainsnapshot" {
            return Err(XmlError::xml("domainsnapshot").at(root.position));
        }
        let mut ctx = Context::default();
        let mut snapshot = read::read(&root, flags, &mut ctx)?;
        keep_raw_metadata(&mut snapshot, &root, xml);
        Ok(ParsedSnapshot {
            snapshot,
            warnings: ctx.warnings,
        })
    }

    /// Writes the snapshot as libvirt formats it, ending with a newline.
    pub fn to_xml(&self) -> String {
        oxvirt_xml::to_string(&self.to_element())
    }

    /// The UUID of the domain the snapshot belongs to, as far as the document says.
    pub fn domain_uuid(&self) -> Option<String> {
        match self.domain.as_ref()? {
            SnapshotDomain::Full(d) => d.uuid.as_ref().map(|u| u.to_string()),
            SnapshotDomain::Legacy { uuid, .. } => uuid.clone(),
        }
    }
}

/// Keeps the `<metadata>` of the recorded domains byte for byte, as `Domain::parse` does.
fn keep_raw_metadata(snapshot: &mut DomainSnapshot, root: &Element, xml: &str) {
    // The text is used only when it reads back as the same element.
    let raw_of = |name: &str| {
        let el = root.child(name)?.child("metadata")?;
        let raw = xml.get(el.span.clone()?)?;
        let same = oxvirt_xml::parse(raw).is_ok_and(|r| r == *el);
        same.then(|| raw.to_string())
    };
    let set = |meta: Option<&mut Metadata>, raw: Option<String>| {
        if let (Some(m), Some(r)) = (meta, raw) {
            m.raw = Some(r);
        }
    };
    if let Some(SnapshotDomain::Full(d)) = snapshot.domain.as_mut() {
        set(d.metadata.as_mut(), raw_of("domain"));
    }
    if let Some(d) = snapshot.inactive_domain.as_mut() {
        set(d.metadata.as_mut(), raw_of("inactiveDomain"));
    }
}

/// Keeps a model's unknown content readable back into the same model.
///
/// A model takes the first child of each name it types; later ones of the same name stay
/// unknown, and go right after the first, so that reading the output takes the same child
/// again. The unknown content is then put in the order the writer puts it back in, the
/// typed children being written in the order of `order`.
pub(crate) fn settle(unknown: &mut Unknown, order: &[&str]) {
    for (anchor, node) in &mut unknown.children {
        if let Some(el) = node.as_element() {
            if order.contains(&el.name.as_str()) {
                *anchor = Anchor(Some((el.name.clone(), 0)));
            }
        }
    }
    let key = |a: &Anchor| match &a.0 {
        None => (0, 0),
        Some((name, n)) => (
            order
                .iter()
                .position(|o| o == name)
                .map_or(usize::MAX, |i| i + 1),
            *n,
        ),
    };
    unknown.children.sort_by_key(|(a, _)| key(a));
}

/// Whether unknown content was read right after the typed child `name`. The child is then
/// written even when it carries nothing (libvirt would leave it out), so that the content
/// goes back to the same place.
pub(crate) fn anchored(unknown: &Unknown, name: &str) -> bool {
    unknown
        .children
        .iter()
        .any(|(a, _)| a.0.as_ref().is_some_and(|(n, _)| n == name))
}

/// Writes `<name>value</name>`, or `<name/>` when there is no value but unknown content
/// goes after it (see [`anchored`]).
fn text_child(b: &mut Builder, name: &str, value: Option<impl Display>, unknown: &Unknown) {
    match value {
        Some(v) => {
            b.text_child(name, v);
        }
        None if anchored(unknown, name) => {
            b.child(Element::new(name));
        }
        None => {}
    }
}

impl XmlModel for DomainSnapshot {
    /// Reads the element in document mode (see [`DomainSnapshot::parse`]).
    fn from_element(el: &Element, ctx: &mut Context) -> Result<Self> {
        read::read(el, None, ctx)
    }

    fn to_element(&self) -> Element {
        let mut b = Builder::new("domainsnapshot");
        let unknown = &self.unknown;
        text_child(&mut b, "name", self.name.as_deref(), unknown);
        text_child(&mut b, "description", self.description.as_deref(), unknown);
        text_child(&mut b, "state", self.state, unknown);
        if self.parent.is_some() || anchored(unknown, "parent") {
            let p = self.parent.clone().unwrap_or_default();
            let mut pb = Builder::new("parent");
            text_child(&mut pb, "name", p.name.as_deref(), &p.unknown);
            b.child(pb.finish(&p.unknown));
        }
        text_child(&mut b, "creationTime", self.creation_time, unknown);
        if self.memory.is_some() || !self.memory_unknown.is_empty() || anchored(unknown, "memory") {
            let mut mb = Builder::new("memory");
            mb.opt_attr("snapshot", self.memory);
            mb.opt_attr("file", self.memory_file.as_deref());
            b.child(mb.finish(&self.memory_unknown));
        }
        if !self.disks.is_empty() || !self.disks_unknown.is_empty() || anchored(unknown, "disks") {
            let mut db = Builder::new("disks");
            db.models(&self.disks);
            b.child(db.finish(&self.disks_unknown));
        }
        match &self.domain {
            Some(SnapshotDomain::Full(d)) => {
                b.child(d.to_element());
            }
            Some(SnapshotDomain::Legacy { uuid, unknown }) => {
                let mut db = Builder::new("domain");
                db.opt_text_child("uuid", uuid.as_deref());
                b.child(db.finish(unknown));
            }
            None => {}
        }
        if let Some(d) = &self.inactive_domain {
            let mut el = d.to_element();
            el.name = "inactiveDomain".to_string();
            b.child(el);
        }
        if let Some(cookie) = &self.cookie {
            b.child(cookie.clone());
        }
        text_child(&mut b, "active", self.active.map(u8::from), unknown);
        b.finish(unknown)
    }
}

#[cfg(test)]
mod tests;
