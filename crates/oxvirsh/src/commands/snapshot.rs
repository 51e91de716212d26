//! Snapshot commands: `snapshot-create-as`, `snapshot-list`, `snapshot-revert`,
//! `snapshot-delete`, `snapshot-current`, `snapshot-dumpxml`.

use oxvirt::domain::snapshot::DomainSnapshot as SnapshotDoc;
use oxvirt::flags::{
    snapshot_create, snapshot_delete, snapshot_list, snapshot_revert, snapshot_xml,
};
use oxvirt::xml::writer::escape;
use oxvirt::{Domain, DomainSnapshot, ErrorCode};
use serde_json::{json, Value};

use super::{cmd_domain, exclusive};
use crate::args::Cmd;
use crate::ctl::{CmdResult, Ctl};
use crate::output::{format_time, CmdError, Table};

/// virsh's `vshStringToArray`: splits on `,`, with `,,` standing for a comma.
pub fn split_commas(s: &str) -> Vec<String> {
    let mut parts = vec![String::new()];
    let mut chars = s.chars().peekable();
    while let Some(c) = chars.next() {
        if c == ',' && chars.next_if_eq(&',').is_none() {
            parts.push(String::new());
        } else if let Some(p) = parts.last_mut() {
            p.push(c);
        }
    }
    parts
}

/// `--memspec [file=]NAME[,snapshot=TYPE]` as a `<memory/>` line.
pub fn memspec_xml(spec: &str) -> Result<String, CmdError> {
    let bad = || CmdError::msg(format!("unable to parse memspec: {spec}"));
    let (mut snapshot, mut file) = (None, None);
    for part in split_commas(spec) {
        if let (None, Some(v)) = (&snapshot, part.strip_prefix("snapshot=")) {
            snapshot = Some(v.to_owned());
        } else if let (None, Some(v)) = (&file, part.strip_prefix("file=")) {
            file = Some(v.to_owned());
        } else if file.is_none() && part.starts_with('/') {
            file = Some(part);
        } else {
            return Err(bad());
        }
    }
    let mut out = String::from("  <memory");
    if let Some(s) = snapshot {
        out.push_str(&format!(" snapshot='{}'", escape(&s)));
    }
    if let Some(f) = file {
        out.push_str(&format!(" file='{}'", escape(&f)));
    }
    out.push_str("/>\n");
    Ok(out)
}

/// `--diskspec DISK[,snapshot=TYPE][,driver=TYPE][,stype=TYPE][,file=NAME]` as a `<disk>`.
pub fn diskspec_xml(spec: &str) -> Result<String, CmdError> {
    let bad = || CmdError::msg(format!("unable to parse diskspec: {spec}"));
    let parts = split_commas(spec);
    let (name, rest) = parts.split_first().ok_or_else(bad)?;
    let (mut snapshot, mut driver, mut stype, mut file) = (None, None, None, None);
    for part in rest {
        if let (None, Some(v)) = (&snapshot, part.strip_prefix("snapshot=")) {
            snapshot = Some(v);
        } else if let (None, Some(v)) = (&driver, part.strip_prefix("driver=")) {
            driver = Some(v);
        } else if let (None, Some(v)) = (&stype, part.strip_prefix("stype=")) {
            stype = Some(v);
        } else if let (None, Some(v)) = (&file, part.strip_prefix("file=")) {
            file = Some(v);
        } else {
            return Err(bad());
        }
    }
    let mut out = format!("    <disk name='{}'", escape(name));
    if let Some(s) = snapshot {
        out.push_str(&format!(" snapshot='{s}'"));
    }
    let block = match stype {
        Some("file") => false,
        Some("block") => true,
        Some(other) => {
            return Err(CmdError::msg(format!("Unknown storage type: '{other}'")));
        }
        None => false,
    };
    if let Some(t) = stype {
        out.push_str(&format!(" type='{t}'"));
    }
    if driver.is_some() || file.is_some() {
        out.push_str(">\n");
        if let Some(d) = driver {
            out.push_str(&format!("      <driver type='{d}'/>\n"));
        }
        if let Some(f) = file {
            let attr = if block { "dev" } else { "file" };
            out.push_str(&format!("      <source {attr}='{}'/>\n", escape(f)));
        }
        out.push_str("    </disk>\n");
    } else {
        out.push_str("/>\n");
    }
    Ok(out)
}

/// The `<domainsnapshot>` document `snapshot-create-as` builds from its options.
pub fn create_as_xml(
    name: Option<&str>,
    description: Option<&str>,
    memspec: Option<&str>,
    diskspecs: &[&str],
) -> Result<String, CmdError> {
    let mut xml = String::from("<domainsnapshot>\n");
    if let Some(n) = name {
        xml.push_str(&format!("  <name>{}</name>\n", escape(n)));
    }
    if let Some(d) = description {
        xml.push_str(&format!("  <description>{}</description>\n", escape(d)));
    }
    if let Some(m) = memspec {
        xml.push_str(&memspec_xml(m)?);
    }
    if !diskspecs.is_empty() {
        xml.push_str("  <disks>\n");
        for d in diskspecs {
            xml.push_str(&diskspec_xml(d)?);
        }
        xml.push_str("  </disks>\n");
    }
    xml.push_str("</domainsnapshot>\n");
    Ok(xml)
}

/// `snapshot-create-as DOMAIN [NAME] [DESCRIPTION] [--print-xml] [--halt] ...`.
pub async fn create_as(ctl: &mut Ctl, cmd: &Cmd) -> CmdResult {
    let flags = cmd.flags(&[
        ("no-metadata", snapshot_create::NO_METADATA),
        ("halt", snapshot_create::HALT),
        ("disk-only", snapshot_create::DISK_ONLY),
        ("reuse-external", snapshot_create::REUSE_EXT),
        ("quiesce", snapshot_create::QUIESCE),
        ("atomic", snapshot_create::ATOMIC),
        ("live", snapshot_create::LIVE),
        ("validate", snapshot_create::VALIDATE),
    ]);
    let (_, dom) = cmd_domain(ctl, cmd).await?;
    let name = cmd.string("name").map_err(CmdError::msg)?;
    let desc = cmd.string("description").map_err(CmdError::msg)?;
    let memspec = cmd.string("memspec").map_err(CmdError::msg)?;
    let xml = create_as_xml(name, desc, memspec, &cmd.all("diskspec"))?;
    if cmd.has("print-xml") {
        ctl.print(&format!("{xml}\n"));
        return Ok(json!({ "xml": xml }));
    }
    let snap = dom.snapshot_create_xml(&xml, flags).await?;
    ctl.print_extra(&format!("Domain snapshot {} created", snap.name()));
    Ok(json!({ "action": "snapshot-create", "domain": dom.name(), "snapshot": snap.name() }))
}

/// What `snapshot-list` shows of one snapshot, read from its XML.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SnapInfo {
    /// The snapshot's name.
    pub name: String,
    /// Its parent's name, if it has one.
    pub parent: Option<String>,
    /// `<state>`.
    pub state: String,
    /// `<creationTime>`, seconds since the epoch.
    pub creation_time: i64,
}

async fn snap_info(snap: &DomainSnapshot) -> Result<SnapInfo, CmdError> {
    let xml = snap.xml_desc(0).await?;
    let doc = SnapshotDoc::parse(&xml)
        .map(|p| p.snapshot)
        .unwrap_or_default();
    Ok(SnapInfo {
        name: snap.name().to_owned(),
        parent: doc.parent.and_then(|p| p.name),
        state: doc.state.map(|s| s.to_string()).unwrap_or_default(),
        creation_time: doc.creation_time.unwrap_or(0),
    })
}

/// virsh's `vshTreePrint` over a list of (name, parent) entries, from the root `root`.
pub fn tree_text(entries: &[(String, Option<String>)], root: usize) -> String {
    fn walk(
        entries: &[(String, Option<String>)],
        dev: usize,
        lastdev: usize,
        root: bool,
        indent: &mut String,
        out: &mut String,
    ) {
        let name = &entries[dev].0;
        out.push_str(&format!(
            "{indent}{}{name}\n",
            if root { "" } else { "+- " }
        ));
        if !root {
            indent.push(if dev == lastdev { ' ' } else { '|' });
            indent.push(' ');
        }
        let children: Vec<usize> = (0..entries.len())
            .filter(|&i| entries[i].1.as_deref() == Some(name.as_str()))
            .collect();
        if !children.is_empty() {
            out.push_str(&format!("{indent}  |\n"));
        }
        let last = children.last().copied();
        indent.push_str("  ");
        for child in &children {
            walk(entries, *child, last.unwrap_or(*child), false, indent, out);
        }
        indent.truncate(indent.len() - 2);
        if children.is_empty() && dev == lastdev {
            out.push_str(&format!("{indent}\n"));
        }
        if !root {
            indent.truncate(indent.len() - 2);
        }
    }
    let mut out = String::new();
    walk(entries, root, root, true, &mut String::new(), &mut out);
    out
}

/// The `--snapshotname NAME` / `--current` choice (virsh's `virshLookupSnapshot`).
async fn lookup_snapshot(
    cmd: &Cmd,
    arg: &str,
    exclusive_current: bool,
    dom: &Domain,
) -> Result<DomainSnapshot, CmdError> {
    let current = cmd.has("current");
    let name = cmd.string(arg).map_err(CmdError::msg)?;
    if exclusive_current && current && name.is_some() {
        return Err(CmdError::msg(format!(
            "--{arg} and --current are mutually exclusive"
        )));
    }
    match name {
        Some(n) => Ok(dom.snapshot_lookup_by_name(n, 0).await?),
        None if current => Ok(dom.snapshot_current(0).await?),
        None => Err(CmdError::msg(format!("--{arg} or --current is required"))),
    }
}

/// `snapshot-list DOMAIN [--parent] [--roots] [--leaves] ... [--tree] [--from S]
/// [--current] [--descendants] [--name] [--topological]`.
pub async fn list(ctl: &mut Ctl, cmd: &Cmd) -> CmdResult {
    let tree = cmd.has("tree");
    let from = cmd.has("from");
    let current = cmd.has("current");
    exclusive(cmd, "tree", "name")?;
    exclusive(cmd, "parent", "roots")?;
    exclusive(cmd, "parent", "tree")?;
    exclusive(cmd, "roots", "tree")?;
    exclusive(cmd, "roots", "from")?;
    exclusive(cmd, "roots", "current")?;
    let mut flags = 0;
    for (opt, flag) in [
        ("leaves", snapshot_list::LEAVES),
        ("no-leaves", snapshot_list::NO_LEAVES),
        ("inactive", snapshot_list::INACTIVE),
        ("active", snapshot_list::ACTIVE),
        ("disk-only", snapshot_list::DISK_ONLY),
        ("internal", snapshot_list::INTERNAL),
        ("external", snapshot_list::EXTERNAL),
    ] {
        if cmd.has(opt) {
            if tree {
                return Err(CmdError::msg(format!(
                    "--{opt} and --tree are mutually exclusive"
                )));
            }
            flags |= flag;
        }
    }
    flags |= cmd.flags(&[
        ("roots", snapshot_list::ROOTS),
        ("metadata", snapshot_list::METADATA),
        ("no-metadata", snapshot_list::NO_METADATA),
        ("topological", snapshot_list::TOPOLOGICAL),
    ]);
    if cmd.has("descendants") {
        if !from && !current {
            return Err(CmdError::msg(
                "--descendants requires either --from or --current",
            ));
        }
        flags |= snapshot_list::DESCENDANTS;
    }
    let (_, dom) = cmd_domain(ctl, cmd).await?;
    let start = if from || current {
        Some(lookup_snapshot(cmd, "from", true, &dom).await?)
    } else {
        None
    };
    let mut snaps = match &start {
        Some(s) => {
            let f = if tree {
                flags | snapshot_list::DESCENDANTS
            } else {
                flags
            };
            s.list_all_children(f).await?
        }
        None => dom.list_all_snapshots(flags).await?,
    };
    if flags & snapshot_list::TOPOLOGICAL == 0 {
        snaps.sort_by_key(|s| s.name().to_lowercase());
    }
    let mut infos = Vec::new();
    for s in &snaps {
        infos.push(snap_info(s).await?);
    }
    let as_json = |infos: &[SnapInfo]| {
        Value::Array(
            infos
                .iter()
                .map(|i| {
                    json!({
                        "name": i.name,
                        "parent": i.parent,
                        "state": i.state,
                        "creation_time": i.creation_time,
                    })
                })
                .collect(),
        )
    };
    if tree {
        let mut entries: Vec<(String, Option<String>)> = infos
            .iter()
            .map(|i| (i.name.clone(), i.parent.clone()))
            .collect();
        if let Some(s) = &start {
            entries.push((s.name().to_owned(), None));
        }
        let mut text = String::new();
        for root in 0..entries.len() {
            // with --from, only the starting snapshot is a root
            let is_root = match &start {
                Some(_) => root == entries.len() - 1,
                None => entries[root].1.is_none(),
            };
            if is_root {
                text.push_str(&tree_text(&entries, root));
            }
        }
        ctl.print(&text);
        return Ok(as_json(&infos));
    }
    if cmd.has("name") {
        let text: String = infos.iter().map(|i| format!("{}\n", i.name)).collect();
        ctl.print(&text);
        return Ok(as_json(&infos));
    }
    let parent = cmd.has("parent");
    let mut header = vec!["Name", "Creation Time", "State"];
    if parent {
        header.push("Parent");
    }
    let mut table = Table::new(&header);
    for i in &infos {
        let mut row = vec![
            i.name.clone(),
            format_time(i.creation_time),
            i.state.clone(),
        ];
        if parent {
            row.push(i.parent.clone().unwrap_or_default());
        }
        table.row(row);
    }
    ctl.print(&table.render(ctl.opts.quiet));
    Ok(as_json(&infos))
}

/// `snapshot-revert DOMAIN (SNAPSHOT | --current) [--running|--paused] [--force]
/// [--reset-nvram]`.
pub async fn revert(ctl: &mut Ctl, cmd: &Cmd) -> CmdResult {
    let flags = cmd.flags(&[
        ("running", snapshot_revert::RUNNING),
        ("paused", snapshot_revert::PAUSED),
        ("reset-nvram", snapshot_revert::RESET_NVRAM),
    ]);
    let (_, dom) = cmd_domain(ctl, cmd).await?;
    let snap = lookup_snapshot(cmd, "snapshotname", true, &dom).await?;
    match snap.revert(flags).await {
        Err(e) if cmd.has("force") && e.code == ErrorCode::SnapshotRevertRisky => {
            snap.revert(flags | snapshot_revert::FORCE).await?;
        }
        other => other?,
    }
    ctl.print_extra(&format!("Domain snapshot {} reverted\n", snap.name()));
    Ok(json!({ "action": "snapshot-revert", "domain": dom.name(), "snapshot": snap.name() }))
}

/// `snapshot-delete DOMAIN (SNAPSHOT | --current) [--children|--children-only]
/// [--metadata]`.
pub async fn delete(ctl: &mut Ctl, cmd: &Cmd) -> CmdResult {
    let (_, dom) = cmd_domain(ctl, cmd).await?;
    let snap = lookup_snapshot(cmd, "snapshotname", true, &dom).await?;
    let flags = cmd.flags(&[
        ("children", snapshot_delete::CHILDREN),
        ("children-only", snapshot_delete::CHILDREN_ONLY),
        ("metadata", snapshot_delete::METADATA_ONLY),
    ]);
    snap.delete(flags)
        .await
        .map_err(|e| CmdError::with(format!("Failed to delete snapshot {}", snap.name()), e))?;
    if flags & snapshot_delete::CHILDREN_ONLY != 0 {
        ctl.print_extra(&format!(
            "Domain snapshot {} children deleted\n",
            snap.name()
        ));
    } else {
        ctl.print_extra(&format!("Domain snapshot {} deleted\n", snap.name()));
    }
    Ok(json!({ "action": "snapshot-delete", "domain": dom.name(), "snapshot": snap.name() }))
}

/// `snapshot-current DOMAIN [--name] [--security-info] [--snapshotname S]`: shows the
/// current snapshot, or makes `S` current.
pub async fn current(ctl: &mut Ctl, cmd: &Cmd) -> CmdResult {
    exclusive(cmd, "name", "snapshotname")?;
    let (_, dom) = cmd_domain(ctl, cmd).await?;
    let arg = cmd.get("domain").unwrap_or_default().to_owned();
    if let Some(name) = cmd.string("snapshotname").map_err(CmdError::msg)? {
        let snap = dom.snapshot_lookup_by_name(name, 0).await?;
        let xml = snap.xml_desc(snapshot_xml::SECURE).await?;
        let mut flags = snapshot_create::REDEFINE | snapshot_create::CURRENT;
        if xml.contains("<state>disk-snapshot</state>") {
            flags |= snapshot_create::DISK_ONLY;
        }
        dom.snapshot_create_xml(&xml, flags).await?;
        ctl.print_extra(&format!("Snapshot {name} set as current"));
        return Ok(json!({ "action": "snapshot-current", "domain": dom.name(), "snapshot": name }));
    }
    if !dom.has_current_snapshot(0).await? {
        return Err(CmdError::msg(format!(
            "domain '{arg}' has no current snapshot"
        )));
    }
    let snap = dom.snapshot_current(0).await?;
    if cmd.has("name") {
        ctl.print(snap.name());
        return Ok(json!({ "name": snap.name() }));
    }
    let flags = if cmd.has("security-info") {
        snapshot_xml::SECURE
    } else {
        0
    };
    let xml = snap.xml_desc(flags).await?;
    ctl.print(&xml);
    Ok(json!({ "name": snap.name(), "xml": xml }))
}

/// `snapshot-dumpxml DOMAIN SNAPSHOT [--security-info]` (`--xpath` is refused).
pub async fn dumpxml(ctl: &mut Ctl, cmd: &Cmd) -> CmdResult {
    let name = cmd.required("snapshotname").map_err(CmdError::msg)?;
    let (_, dom) = cmd_domain(ctl, cmd).await?;
    if cmd.has("xpath") || cmd.has("wrap") {
        return Err(CmdError::msg(
            "--xpath and --wrap are not supported by oxvirsh",
        ));
    }
    let snap = dom.snapshot_lookup_by_name(name, 0).await?;
    let flags = if cmd.has("security-info") {
        snapshot_xml::SECURE
    } else {
        0
    };
    let xml = snap.xml_desc(flags).await?;
    ctl.print(&xml);
    Ok(json!({ "name": snap.name(), "xml": xml }))
}
