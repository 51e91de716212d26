//! What libvirt's test driver does to a snapshot definition before it joins the tree
//! (`testDomainSnapshotCreateXML` up to `virDomainSnapshotAssignDef`): the public API's
//! flag rules, parsing, and then either the defaults of a new snapshot
//! (`testDomainSnapshotAlignDisks`) or the checks of a redefined one
//! (`virDomainSnapshotRedefinePrep`).

use std::time::{SystemTime, UNIX_EPOCH};

use oxvirt_xml::{ErrorCode, ErrorDomain, VirError, XmlError};

use super::{set_parent_name, SnapshotTree};
use crate::devices::disk::{Disk, DiskType, SnapshotLocation as DiskSnapshot};
use crate::driver::flags::snapshot_create as create;
use crate::driver::DomainState;
use crate::snapshot::{
    DomainSnapshot, PostParse, SnapshotDisk, SnapshotDomain, SnapshotLocation, SnapshotParseFlags,
    SnapshotState, StorageType,
};
use crate::Domain;

/// The creation flags libvirt 9.0's test driver accepts; it refuses `NO_METADATA`,
/// `DISK_ONLY` and `REUSE_EXT` as unsupported flags.
pub const TEST_CREATE_FLAGS: u32 = create::REDEFINE
    | create::CURRENT
    | create::HALT
    | create::QUIESCE
    | create::ATOMIC
    | create::LIVE
    | create::VALIDATE;

fn snap_err(code: ErrorCode, detail: impl AsRef<str>) -> VirError {
    VirError::new(ErrorDomain::DomainSnapshot, code, detail)
}

fn unsupported(detail: impl AsRef<str>) -> VirError {
    snap_err(ErrorCode::ConfigUnsupported, detail)
}

/// What libvirt does to the snapshot document `xml` when `virDomainSnapshotCreateXML` is
/// called with `flags` ([`create`]) on a domain whose current definition is `domain`, in
/// `state`, with the snapshots in `tree`.
///
/// A new snapshot gets its name (the creation time in seconds when it has none), its
/// creation time, the domain's state (`disk-snapshot` or `shutoff` for `DISK_ONLY`), the
/// current snapshot as parent, a copy of the domain, and an entry for every disk. A
/// redefined one (`REDEFINE`) is checked against the tree and the domain, and its disks
/// are aligned with its recorded domain, which gets the driver's post-parse step
/// `post_parse` (see [`DomainSnapshot::parse_for`]: the test driver's i686 guest and
/// defaults, for example).
///
/// The caller then adds the result to the tree ([`SnapshotTree::insert`], or
/// [`SnapshotTree::replace`] for `REDEFINE`), makes it current unless `REDEFINE` came
/// without `CURRENT`, and halts the domain for `HALT` (refusing `HALT` for a transient
/// domain first: "cannot halt after transient domain snapshot").
pub fn prepare_snapshot(
    tree: &SnapshotTree,
    xml: &str,
    domain: &Domain,
    state: DomainState,
    flags: u32,
    post_parse: PostParse<'_>,
) -> Result<DomainSnapshot, VirError> {
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_secs()).unwrap_or(i64::MAX));
    prepare_at(tree, xml, domain, state, flags, &At { post_parse, now })
}

/// The driver's post-parse step and the time of a [`prepare_at`].
pub(super) struct At<'a> {
    /// The driver's post-parse step for a redefined snapshot's domain.
    pub(super) post_parse: PostParse<'a>,
    /// The time, in seconds since the epoch.
    pub(super) now: i64,
}

/// [`prepare_snapshot`] at the time `at.now`.
pub(super) fn prepare_at(
    tree: &SnapshotTree,
    xml: &str,
    domain: &Domain,
    state: DomainState,
    flags: u32,
    at: &At<'_>,
) -> Result<DomainSnapshot, VirError> {
    let (post_parse, now) = (at.post_parse, at.now);
    check_api_flags(flags)?;
    VirError::check_flags(
        ErrorDomain::Test,
        flags,
        TEST_CREATE_FLAGS,
        "testDomainSnapshotCreateXML",
    )?;
    let redefine = flags & create::REDEFINE != 0;
    let mut def = parse(xml, redefine, flags & create::VALIDATE != 0, post_parse)?;
    if redefine {
        redefine_prep(tree, &mut def, domain, flags)?;
        return Ok(def);
    }
    if def.name.is_none() {
        def.name = Some(now.to_string());
    }
    def.creation_time = Some(now);
    if def
        .disks
        .iter()
        .any(|d| d.snapshot == Some(SnapshotLocation::Manual))
    {
        return Err(VirError::new(
            ErrorDomain::Test,
            ErrorCode::OperationUnsupported,
            "'manual' snapshot mode is not supported by the test driver",
        ));
    }
    let mut copy = domain.clone();
    copy.id = None;
    def.domain = Some(SnapshotDomain::Full(Box::new(copy)));
    align_new(&mut def, domain, state, flags)?;
    let name = def.name.clone().unwrap_or_default();
    if tree.get(&name).is_some() {
        return Err(VirError::new(
            ErrorDomain::Domain,
            ErrorCode::OperationFailed,
            format!("domain moment {name} already exists"),
        ));
    }
    set_parent_name(&mut def, tree.current().map(str::to_string));
    Ok(def)
}

/// The rules `virDomainSnapshotCreateXML` itself checks before calling the driver.
fn check_api_flags(flags: u32) -> Result<(), VirError> {
    let name = |f: u32| match f {
        create::REDEFINE => "VIR_DOMAIN_SNAPSHOT_CREATE_REDEFINE",
        create::CURRENT => "VIR_DOMAIN_SNAPSHOT_CREATE_CURRENT",
        create::NO_METADATA => "VIR_DOMAIN_SNAPSHOT_CREATE_NO_METADATA",
        _ => "VIR_DOMAIN_SNAPSHOT_CREATE_HALT",
    };
    let invalid =
        |msg: String| VirError::raw(ErrorDomain::DomainSnapshot, ErrorCode::InvalidArg, msg);
    if flags & create::CURRENT != 0 && flags & create::REDEFINE == 0 {
        return Err(invalid(format!(
            "Flag '{}' is required by flag '{}'",
            name(create::REDEFINE),
            name(create::CURRENT)
        )));
    }
    for other in [create::NO_METADATA, create::HALT] {
        if flags & create::REDEFINE != 0 && flags & other != 0 {
            return Err(invalid(format!(
                "Flags '{}' and '{}' are mutually exclusive",
                name(create::REDEFINE),
                name(other)
            )));
        }
    }
    Ok(())
}

/// `virDomainSnapshotDefParseString` with the test driver's parse flags.
fn parse(
    xml: &str,
    redefine: bool,
    validate: bool,
    post_parse: PostParse<'_>,
) -> Result<DomainSnapshot, VirError> {
    let to_vir =
        |e: XmlError| VirError::raw(ErrorDomain::DomainSnapshot, e.code, e.libvirt_message());
    let root = oxvirt_xml::parse(xml).map_err(to_vir)?;
    if root.name != "domainsnapshot" {
        return Err(VirError::new(
            ErrorDomain::Xml,
            ErrorCode::XmlError,
            format!(
                "expecting root element of 'domainsnapshot', not '{}'",
                root.name
            ),
        ));
    }
    let flags = SnapshotParseFlags {
        redefine,
        ..SnapshotParseFlags::default()
    };
    let snap = DomainSnapshot::parse_for(xml, flags, post_parse)
        .map_err(to_vir)?
        .snapshot;
    if validate {
        if let Some(el) = snap.unknown.elements().next() {
            return Err(VirError::new(
                ErrorDomain::Xml,
                ErrorCode::XmlInvalidSchema,
                format!(
                    "Unable to validate doc against \
                     /usr/share/libvirt/schemas/domainsnapshot.rng\n\
                     Element domainsnapshot has extra content: {}\n",
                    el.name
                ),
            ));
        }
    }
    Ok(snap)
}

/// The snapshot state for a domain state (`nostate` is not written).
fn snapshot_state(state: DomainState) -> Option<SnapshotState> {
    Some(match state {
        DomainState::Nostate => return None,
        DomainState::Running => SnapshotState::Running,
        DomainState::Blocked => SnapshotState::Blocked,
        DomainState::Paused => SnapshotState::Paused,
        DomainState::Shutdown => SnapshotState::Shutdown,
        DomainState::Shutoff => SnapshotState::Shutoff,
        DomainState::Crashed => SnapshotState::Crashed,
        DomainState::PmSuspended => SnapshotState::Pmsuspended,
    })
}

/// `testDomainSnapshotAlignDisks`: the state and memory of a new snapshot, then its disks.
fn align_new(
    def: &mut DomainSnapshot,
    domain: &Domain,
    state: DomainState,
    flags: u32,
) -> Result<(), VirError> {
    let (location, require_match) = if flags & create::DISK_ONLY != 0 {
        def.state = Some(if state == DomainState::Shutoff {
            SnapshotState::Shutoff
        } else {
            SnapshotState::DiskSnapshot
        });
        def.memory = Some(SnapshotLocation::No);
        (SnapshotLocation::External, false)
    } else if def.memory == Some(SnapshotLocation::External) {
        def.state = snapshot_state(state);
        (SnapshotLocation::External, false)
    } else {
        def.state = snapshot_state(state);
        def.memory = Some(if def.state == Some(SnapshotState::Shutoff) {
            SnapshotLocation::No
        } else {
            SnapshotLocation::Internal
        });
        (SnapshotLocation::Internal, true)
    };
    align_disks(def, domain, location, require_match)
}

/// `virDomainSnapshotRedefinePrep`: checks a redefined snapshot against the tree and the
/// domain, takes the recorded domain of the snapshot it replaces when it has none, and
/// aligns its disks.
fn redefine_prep(
    tree: &SnapshotTree,
    def: &mut DomainSnapshot,
    domain: &Domain,
    flags: u32,
) -> Result<(), VirError> {
    let name = def.name.clone().unwrap_or_default();
    check_cycles(tree, def, &name)?;
    let other = tree.get(&name);
    if flags & create::DISK_ONLY != 0 && def.state != Some(SnapshotState::DiskSnapshot) {
        return Err(snap_err(
            ErrorCode::InvalidArg,
            format!("disk-only flag for snapshot {name} requires disk-snapshot state"),
        ));
    }
    if let (Some(SnapshotDomain::Full(d)), Some(uuid)) = (&def.domain, &domain.uuid) {
        if d.uuid.as_ref() != Some(uuid) {
            return Err(snap_err(
                ErrorCode::InvalidArg,
                format!("definition for snapshot {name} must use uuid {uuid}"),
            ));
        }
    }
    if let Some(other) = other {
        let online = |s: Option<SnapshotState>| {
            matches!(s, Some(SnapshotState::Running | SnapshotState::Paused))
        };
        let disk_only = |s: Option<SnapshotState>| s == Some(SnapshotState::DiskSnapshot);
        if online(other.def.state) != online(def.state) {
            return Err(snap_err(
                ErrorCode::InvalidArg,
                format!(
                    "cannot change between online and offline snapshot state in snapshot {name}"
                ),
            ));
        }
        if disk_only(other.def.state) != disk_only(def.state) {
            return Err(snap_err(
                ErrorCode::InvalidArg,
                format!("cannot change between disk only and full system in snapshot {name}"),
            ));
        }
        if !matches!(def.domain, Some(SnapshotDomain::Full(_))) {
            if let Some(dom @ SnapshotDomain::Full(_)) = &other.def.domain {
                def.domain = Some(dom.clone());
            }
        }
    }
    let external = def.memory == Some(SnapshotLocation::External)
        || def
            .disks
            .iter()
            .any(|d| d.snapshot == Some(SnapshotLocation::External));
    let location = if def.state == Some(SnapshotState::DiskSnapshot) || external {
        SnapshotLocation::External
    } else {
        SnapshotLocation::Internal
    };
    let Some(SnapshotDomain::Full(dom)) = def.domain.clone() else {
        return Err(snap_err(
            ErrorCode::InternalError,
            "missing domain in snapshot",
        ));
    };
    align_disks(def, &dom, location, true)
}

/// `virDomainMomentCheckCycles`: the named parent must exist and must not descend from
/// the snapshot being redefined.
fn check_cycles(tree: &SnapshotTree, def: &DomainSnapshot, name: &str) -> Result<(), VirError> {
    let Some(parent) = def.parent.as_ref().and_then(|p| p.name.as_deref()) else {
        return Ok(());
    };
    let invalid = |m: String| VirError::new(ErrorDomain::Domain, ErrorCode::InvalidArg, m);
    if parent == name {
        return Err(invalid(format!(
            "cannot set moment {name} as its own parent"
        )));
    }
    let Some(mut other) = tree.get(parent) else {
        return Err(invalid(format!(
            "parent {parent} for moment {name} not found"
        )));
    };
    // Bounded by the tree's size, in case the recorded parents loop.
    for _ in 0..=tree.len() {
        let Some(up) = other.parent() else {
            break;
        };
        if up == name {
            return Err(invalid(format!(
                "parent {} would create cycle to {name}",
                other.name()
            )));
        }
        match tree.get(up) {
            Some(o) => other = o,
            None => break,
        }
    }
    Ok(())
}

/// The domain disk a snapshot disk names, by target or else by source path
/// (`virDomainDiskByName` without probing).
fn disk_by_name<'a>(domain: &'a Domain, name: &str) -> Option<(usize, &'a Disk)> {
    let disks = &domain.devices.disks;
    disks
        .iter()
        .enumerate()
        .find(|(_, d)| d.target_dev() == Some(name))
        .or_else(|| {
            let mut by_path = disks
                .iter()
                .enumerate()
                .filter(|(_, d)| d.source_path() == Some(name));
            let first = by_path.next();
            first.filter(|_| by_path.next().is_none())
        })
}

fn location_of(d: &Disk) -> Option<SnapshotLocation> {
    d.snapshot.map(|s| match s {
        DiskSnapshot::No => SnapshotLocation::No,
        DiskSnapshot::Internal => SnapshotLocation::Internal,
        DiskSnapshot::External => SnapshotLocation::External,
        DiskSnapshot::Manual => SnapshotLocation::Manual,
    })
}

/// Whether a domain disk has no medium (libvirt's `virStorageSourceIsEmpty`).
fn disk_is_empty(d: &Disk) -> bool {
    d.source_path().is_none() && !matches!(d.kind, DiskType::Network | DiskType::Volume)
}

/// `virDomainSnapshotAlignDisks`: one entry per domain disk, in the domain's order, the
/// requested ones checked and renamed to their target, the others defaulted; then the
/// names of new external images.
fn align_disks(
    def: &mut DomainSnapshot,
    domain: &Domain,
    default: SnapshotLocation,
    uniform: bool,
) -> Result<(), VirError> {
    let domdisks = &domain.devices.disks;
    if def.disks.len() > domdisks.len() {
        return Err(unsupported("too many disk snapshot requests for domain"));
    }
    let require_match = uniform && default == SnapshotLocation::Internal;
    if domdisks.is_empty() {
        return Ok(());
    }
    let mut slots: Vec<Option<SnapshotDisk>> = vec![None; domdisks.len()];
    for mut disk in std::mem::take(&mut def.disks) {
        let Some((i, domdisk)) = disk_by_name(domain, &disk.name) else {
            return Err(unsupported(format!("no disk named '{}'", disk.name)));
        };
        if slots[i].is_some() {
            return Err(unsupported(format!("disk '{}' specified twice", disk.name)));
        }
        let dom_loc = location_of(domdisk);
        match disk.snapshot {
            None => {
                disk.snapshot = match dom_loc {
                    Some(l) if !require_match || l == SnapshotLocation::No => Some(l),
                    _ => Some(default),
                };
            }
            Some(l)
                if require_match
                    && l != default
                    && !(l == SnapshotLocation::No && dom_loc == Some(SnapshotLocation::No)) =>
            {
                return Err(unsupported(format!(
                    "disk '{}' must use snapshot mode '{default}'",
                    disk.name
                )));
            }
            Some(_) => {}
        }
        if let Some(path) = &disk.source.path {
            if disk.snapshot != Some(SnapshotLocation::External) {
                return Err(unsupported(format!(
                    "file '{path}' for disk '{}' requires use of external snapshot mode",
                    disk.name
                )));
            }
        }
        disk.name = domdisk.target_dev().unwrap_or_default().to_string();
        slots[i] = Some(disk);
    }
    def.disks = slots
        .into_iter()
        .zip(domdisks)
        .map(|(slot, domdisk)| {
            slot.unwrap_or_else(|| {
                let mut d = SnapshotDisk::new(domdisk.target_dev().unwrap_or_default());
                d.snapshot = Some(if disk_is_empty(domdisk) {
                    SnapshotLocation::No
                } else {
                    location_of(domdisk).unwrap_or(default)
                });
                d
            })
        })
        .collect();
    assign_external_names(def, domdisks)
}

/// `virDomainSnapshotDefAssignExternalNames`: an external disk without a new image gets
/// one next to its current image (`/img/disk.qcow2` gives `/img/disk.SNAPNAME`), which
/// libvirt only does for an existing regular file.
fn assign_external_names(def: &mut DomainSnapshot, domdisks: &[Disk]) -> Result<(), VirError> {
    let snapname = def.name.clone().unwrap_or_default();
    for i in 0..def.disks.len() {
        let disk = &def.disks[i];
        if disk.snapshot != Some(SnapshotLocation::External) || disk.source.path.is_some() {
            continue;
        }
        if disk.storage != StorageType::File {
            return Err(unsupported(format!(
                "cannot generate external snapshot name for disk '{}' on a '{}' device",
                disk.name, disk.storage
            )));
        }
        let Some(orig) = domdisks.get(i).and_then(Disk::source_path) else {
            return Err(unsupported(format!(
                "cannot generate external snapshot name for disk '{}' without source",
                disk.name
            )));
        };
        if !std::fs::metadata(orig).is_ok_and(|m| m.is_file()) {
            return Err(unsupported(format!(
                "source for disk '{}' is not a regular file; refusing to generate external \
                 snapshot name",
                disk.name
            )));
        }
        let stem = match orig.rfind('.') {
            Some(dot) if !orig[dot..].contains('/') => &orig[..dot],
            _ => orig,
        };
        let path = format!("{stem}.{snapname}");
        if let Some(other) = def.disks[..i]
            .iter()
            .find(|d| d.source.path.as_deref() == Some(path.as_str()))
        {
            return Err(unsupported(format!(
                "cannot generate external snapshot name for disk '{}': collision with disk '{}'",
                def.disks[i].name, other.name
            )));
        }
        def.disks[i].source.path = Some(path);
    }
    Ok(())
}
