//! Reading `<domainsnapshot>` as libvirt's `virDomainSnapshotDefParse` does.

use oxvirt_xml::model::{Anchor, XmlEnum};
use oxvirt_xml::{Context, Cursor, Element, Node, Result, Unknown, Warning, XmlError, XmlModel};

use super::{
    settle, DomainSnapshot, PostParse, SnapshotDisk, SnapshotDomain, SnapshotLocation,
    SnapshotParent, SnapshotParseFlags, SnapshotState,
};
use crate::domain::Domain;

/// Elements only a redefined snapshot's document is read for.
const REDEFINE_ONLY: &[&str] = &[
    "creationTime",
    "parent",
    "state",
    "domain",
    "inactiveDomain",
];

/// The children of `<domainsnapshot>` the model types, in the order it writes them.
const TYPED: &[&str] = &[
    "name",
    "description",
    "state",
    "parent",
    "creationTime",
    "memory",
    "disks",
    "domain",
    "inactiveDomain",
    "cookie",
    "active",
];

/// Reads `root` as a document (`mode` of `None`: everything, nothing required, no
/// defaults) or as libvirt does under the flags of `mode`, the domain of a redefined
/// snapshot getting the post-parse step of `mode`.
pub(super) fn read(
    root: &Element,
    mode: Option<(SnapshotParseFlags, PostParse<'_>)>,
    ctx: &mut Context,
) -> Result<DomainSnapshot> {
    let (flags, post_parse) = match mode {
        Some((f, p)) => (Some(f), Some(p)),
        None => (None, None),
    };
    let mut c = Cursor::new(root);
    let redefine = flags.is_some_and(|f| f.redefine);
    let mut offline = flags.is_some_and(|f| f.offline);
    let mut snap = DomainSnapshot {
        name: text_of(&mut c, "name"),
        ..DomainSnapshot::default()
    };
    if redefine && snap.name.is_none() {
        return Err(c.error("a redefined snapshot must have a name"));
    }
    snap.description = text_of(&mut c, "description");
    if flags.is_none() || redefine {
        snap.creation_time = read_creation_time(&mut c, redefine)?;
        snap.parent = read_parent(&mut c, ctx);
        snap.state = read_state(&mut c, redefine)?;
        if redefine {
            offline = matches!(
                snap.state,
                Some(SnapshotState::Shutoff | SnapshotState::DiskSnapshot)
            );
        }
        snap.domain = read_domain(&mut c, ctx)?;
        if let Some(el) = c.child("inactiveDomain") {
            snap.inactive_domain = Some(Box::new(Domain::from_element(el, ctx)?));
        }
        if let Some(post_parse) = post_parse.filter(|_| redefine) {
            // virDomainDefParseNode runs the driver's post-parse steps (not the validation).
            if let Some(SnapshotDomain::Full(d)) = snap.domain.as_mut() {
                post_parse(d)?;
            }
            if let Some(d) = snap.inactive_domain.as_mut() {
                post_parse(d)?;
            }
        }
    } else {
        for name in REDEFINE_ONLY {
            ignore(&mut c, ctx, name, "only a redefined snapshot records it");
        }
    }
    read_memory(&mut c, ctx, &mut snap, redefine, offline)?;
    (snap.disks, snap.disks_unknown) = read_disks(&mut c, ctx)?;
    match flags {
        None => snap.active = read_active(&mut c, false)?,
        Some(f) if f.internal => snap.active = read_active(&mut c, true)?,
        Some(_) => ignore(&mut c, ctx, "active", "only libvirt's own records have it"),
    }
    if offline {
        ignore(&mut c, ctx, "cookie", "an offline snapshot has no cookie");
    } else {
        snap.cookie = c.child("cookie").cloned();
    }
    snap.unknown = c.finish_known(ctx, TYPED);
    settle(&mut snap.unknown, TYPED);
    Ok(snap)
}

/// The text of the first child `name`, `None` when absent or empty (libvirt's
/// `virXPathString`).
fn text_of(c: &mut Cursor<'_>, name: &str) -> Option<String> {
    c.child_text(name).filter(|t| !t.is_empty())
}

/// C's `strtoll` with base 10 over the whole string, as `virStrToLong_ll` does.
fn parse_c_long(text: &str) -> Option<i64> {
    let t = text.trim_start_matches([' ', '\t', '\n', '\x0b', '\x0c', '\r']);
    t.parse().ok()
}

/// Takes every child `name`, reporting each as ignored.
fn ignore(c: &mut Cursor<'_>, ctx: &mut Context, name: &str, why: &str) {
    for el in c.children(name) {
        ctx.warnings.push(Warning {
            position: el.position,
            message: format!("element '{name}' ignored: {why}"),
        });
    }
}

fn read_state(c: &mut Cursor<'_>, redefine: bool) -> Result<Option<SnapshotState>> {
    let position = c.element().child("state").map(|e| e.position);
    let Some(text) = text_of(c, "state") else {
        if redefine {
            return Err(c.error("missing state from existing snapshot"));
        }
        return Ok(None);
    };
    match SnapshotState::from_xml_str(&text) {
        Some(s) => Ok(Some(s)),
        None => Err(XmlError::unsupported(format!(
            "Invalid state '{text}' in domain snapshot XML"
        ))
        .at(position.unwrap_or_default())),
    }
}

fn read_creation_time(c: &mut Cursor<'_>, redefine: bool) -> Result<Option<i64>> {
    let missing = || XmlError::internal("missing creationTime from existing snapshot");
    match c.child("creationTime") {
        None if redefine => Err(missing().at(c.element().position)),
        None => Ok(None),
        Some(e) => parse_c_long(&e.text())
            .map(Some)
            .ok_or_else(|| missing().at(e.position)),
    }
}

fn read_parent(c: &mut Cursor<'_>, ctx: &mut Context) -> Option<SnapshotParent> {
    let el = c.child("parent")?;
    let mut pc = Cursor::new(el);
    let name = text_of(&mut pc, "name");
    let mut unknown = pc.finish(ctx);
    settle(&mut unknown, &["name"]);
    if name.is_none() && unknown.is_empty() {
        return None;
    }
    Some(SnapshotParent { name, unknown })
}

fn read_domain(c: &mut Cursor<'_>, ctx: &mut Context) -> Result<Option<SnapshotDomain>> {
    let Some(el) = c.child("domain") else {
        return Ok(None);
    };
    if el.attr("type").is_some() {
        let domain = Domain::from_element(el, ctx)?;
        return Ok(Some(SnapshotDomain::Full(Box::new(domain))));
    }
    let mut dc = Cursor::new(el);
    let uuid = dc.child_text("uuid");
    let mut unknown = dc.finish(ctx);
    settle(&mut unknown, &["uuid"]);
    Ok(Some(SnapshotDomain::Legacy { uuid, unknown }))
}

/// Reads `<memory>` into `snap`, with libvirt's defaults and checks.
fn read_memory(
    c: &mut Cursor<'_>,
    ctx: &mut Context,
    snap: &mut DomainSnapshot,
    redefine: bool,
    offline: bool,
) -> Result<()> {
    let el = c.child("memory");
    let position = el.map_or(c.element().position, |e| e.position);
    let err = |msg: String| XmlError::xml(msg).at(position);
    let (mut location, mut file, mut unknown) = (None, None, Unknown::default());
    if let Some(el) = el {
        let mut mc = Cursor::new(el);
        file = mc.attr_string("file");
        location = mc.enum_attr::<SnapshotLocation>("snapshot")?;
        if location == Some(SnapshotLocation::Manual) {
            return Err(err("'manual' memory snapshot mode not supported".into()));
        }
        unknown = mc.finish(ctx);
    }
    if location.is_none() {
        if file.is_some() {
            location = Some(SnapshotLocation::External);
        } else if redefine {
            location = Some(if offline {
                SnapshotLocation::No
            } else {
                SnapshotLocation::Internal
            });
        }
    }
    let external = location == Some(SnapshotLocation::External);
    match &file {
        Some(f) if !external => {
            return Err(err(format!(
                "memory filename '{f}' requires external snapshot"
            )))
        }
        None if external => return Err(err("external memory snapshots require a filename".into())),
        _ => {}
    }
    if offline && !matches!(location, None | Some(SnapshotLocation::No)) {
        return Err(err(
            "memory state cannot be saved with offline or disk-only snapshot".into(),
        ));
    }
    if let Some(f) = file.as_ref().filter(|f| !f.starts_with('/')) {
        return Err(err(format!(
            "memory snapshot file path ({f}) must be absolute"
        )));
    }
    (snap.memory, snap.memory_file, snap.memory_unknown) = (location, file, unknown);
    Ok(())
}

/// Every element inside `<disks>` is a disk, whatever its name (`./disks/*`).
fn read_disks(c: &mut Cursor<'_>, ctx: &mut Context) -> Result<(Vec<SnapshotDisk>, Unknown)> {
    let Some(el) = c.child("disks") else {
        return Ok((Vec::new(), Unknown::default()));
    };
    let mut dc = Cursor::new(el);
    let disks = dc
        .children_where(|_| true)
        .into_iter()
        .map(|d| SnapshotDisk::from_element(d, ctx))
        .collect::<Result<Vec<_>>>()?;
    let mut unknown = dc.finish(ctx);
    // Each element is written back as a <disk>: what stood between them follows the disk
    // it followed, by its place among all of them.
    let mut count: usize = 0;
    let mut anchors = Vec::new();
    for node in &el.children {
        match node {
            Node::Element(_) => count += 1,
            Node::Text(t) if t.trim().is_empty() => {}
            _ => anchors.push(Anchor(
                count.checked_sub(1).map(|i| ("disk".to_string(), i)),
            )),
        }
    }
    for ((anchor, _), new) in unknown.children.iter_mut().zip(anchors) {
        *anchor = new;
    }
    Ok((disks, unknown))
}

fn read_active(c: &mut Cursor<'_>, required: bool) -> Result<Option<bool>> {
    let missing = || XmlError::internal("Could not find 'active' element");
    match c.child("active") {
        None if required => Err(missing().at(c.element().position)),
        None => Ok(None),
        Some(e) => match parse_c_long(&e.text()).and_then(|v| i32::try_from(v).ok()) {
            Some(v) => Ok(Some(v != 0)),
            None => Err(missing().at(e.position)),
        },
    }
}
