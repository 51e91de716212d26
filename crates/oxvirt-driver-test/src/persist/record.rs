//! One domain's file: everything the driver keeps about a domain, written as one XML
//! document so that a change to it is one atomic rename.

use oxvirt_domain::driver::StateReason;
use oxvirt_domain::objects::domains::DomainObj;
use oxvirt_domain::snapshot::DomainSnapshot;
use oxvirt_domain::Domain;
use oxvirt_xml::writer::escape;
use oxvirt_xml::{Element, XmlModel};

/// The root element of a domain file.
const ROOT: &str = "oxvirt-test-domain";

/// The format of the domain files this version writes and reads.
pub(crate) const RECORD_FORMAT: &str = "1";

/// A domain as its file describes it.
#[derive(Debug)]
pub(crate) struct Record {
    /// Its place in the list: domains load in increasing order.
    pub order: u64,
    /// Its state and reason.
    pub state: StateReason,
    /// Its ID, `-1` when it does not run.
    pub id: i32,
    /// Whether it has a persistent definition.
    pub persistent: bool,
    /// Whether it starts with the host.
    pub autostart: bool,
    /// `Some` when it has a managed-save image, with the state the image restores to.
    pub managed_save: Option<Option<StateReason>>,
    /// The persistent definition.
    pub config: Option<Domain>,
    /// The live definition, while the domain runs.
    pub live: Option<Domain>,
    /// The snapshots, in the order they were added.
    pub snapshots: Vec<DomainSnapshot>,
    /// The current snapshot.
    pub current: Option<String>,
}

/// A definition as it is kept: everything in it, nothing hidden.
fn domain_text(def: &Domain) -> String {
    oxvirt_xml::to_string(&def.to_element())
}

fn state_attrs(prefix: &str, state: StateReason) -> String {
    format!(
        " {prefix}state='{}' {prefix}reason='{}'",
        state.state().number(),
        state.reason()
    )
}

/// The file of `obj`, placed `order` in the list.
pub(crate) fn format_record(obj: &DomainObj, order: u64) -> String {
    let yes_no = |b: bool| if b { "yes" } else { "no" };
    let mut out = format!(
        "<{ROOT} format='{RECORD_FORMAT}' order='{order}'{} id='{}' persistent='{}' \
         autostart='{}'>\n",
        state_attrs("", obj.state),
        obj.id,
        yes_no(obj.persistent),
        yes_no(obj.autostart),
    );
    if obj.has_managed_save {
        let attrs = obj
            .managed_save_state
            .map(|s| state_attrs("", s))
            .unwrap_or_default();
        out.push_str(&format!("<managedsave{attrs}/>\n"));
    }
    if obj.persistent {
        let config = obj.persistent_def();
        out.push_str(&format!("<config>\n{}</config>\n", domain_text(config)));
    }
    if obj.is_active() {
        out.push_str(&format!("<live>\n{}</live>\n", domain_text(obj.def())));
    }
    if !obj.snapshots.is_empty() {
        out.push_str("<snapshots>\n");
        for name in obj.snapshots.names() {
            if let Some(snap) = obj.snapshots.get(name) {
                out.push_str(&snap.def.to_xml());
            }
        }
        out.push_str("</snapshots>\n");
    }
    if let Some(current) = obj.snapshots.current() {
        out.push_str(&format!("<current>{}</current>\n", escape(current)));
    }
    out.push_str(&format!("</{ROOT}>\n"));
    out
}

/// The text of `el` inside `text` (what it was parsed from).
fn source<'a>(el: &Element, text: &'a str) -> Result<&'a str, String> {
    el.span
        .clone()
        .and_then(|s| text.get(s))
        .ok_or_else(|| format!("cannot locate <{}> in the file", el.name))
}

fn number<T: std::str::FromStr>(el: &Element, name: &str) -> Result<T, String> {
    let value = el
        .attr(name)
        .ok_or_else(|| format!("missing attribute '{name}' on <{}>", el.name))?;
    value
        .parse()
        .map_err(|_| format!("invalid {name} '{value}' on <{}>", el.name))
}

fn boolean(el: &Element, name: &str) -> Result<bool, String> {
    match el.attr(name) {
        Some("yes") => Ok(true),
        Some("no") => Ok(false),
        other => Err(format!("invalid {name} {other:?}")),
    }
}

fn state_of(el: &Element) -> Result<StateReason, String> {
    let (state, reason) = (number(el, "state")?, number(el, "reason")?);
    StateReason::from_numbers(state, reason)
        .ok_or_else(|| format!("invalid state {state} with reason {reason}"))
}

/// The one `<domain>` inside `el`.
fn domain_in(el: &Element, text: &str) -> Result<Domain, String> {
    let dom = el
        .child("domain")
        .ok_or_else(|| format!("<{}> holds no <domain>", el.name))?;
    Domain::parse(source(dom, text)?)
        .map(|p| p.domain)
        .map_err(|e| format!("<{}>: {}", el.name, e.message))
}

/// Reads a domain file.
pub(crate) fn parse_record(text: &str) -> Result<Record, String> {
    let root = oxvirt_xml::parse(text).map_err(|e| e.message)?;
    if root.name != ROOT {
        return Err(format!("root element is <{}>, not <{ROOT}>", root.name));
    }
    match root.attr("format") {
        Some(RECORD_FORMAT) => {}
        other => return Err(format!("unknown format {other:?}")),
    }
    let managed_save = match root.child("managedsave") {
        None => None,
        Some(el) if el.attr("state").is_none() => Some(None),
        Some(el) => Some(Some(state_of(el)?)),
    };
    let config = root
        .child("config")
        .map(|e| domain_in(e, text))
        .transpose()?;
    let live = root.child("live").map(|e| domain_in(e, text)).transpose()?;
    let snapshots = match root.child("snapshots") {
        None => Vec::new(),
        Some(el) => el
            .elements()
            .map(|s| {
                DomainSnapshot::parse(source(s, text)?)
                    .map(|p| p.snapshot)
                    .map_err(|e| format!("<domainsnapshot>: {}", e.message))
            })
            .collect::<Result<_, _>>()?,
    };
    let record = Record {
        order: number(&root, "order")?,
        state: state_of(&root)?,
        id: number(&root, "id")?,
        persistent: boolean(&root, "persistent")?,
        autostart: boolean(&root, "autostart")?,
        managed_save,
        config,
        live,
        snapshots,
        current: root.child("current").map(Element::text),
    };
    check(&record)?;
    Ok(record)
}

/// What a record must hold to describe a domain.
fn check(r: &Record) -> Result<(), String> {
    if r.persistent != r.config.is_some() {
        return Err("a persistent domain needs <config>, and only it".into());
    }
    if (r.id != -1) != r.live.is_some() {
        return Err("a running domain needs <live>, and only it".into());
    }
    if r.id < -1 || r.id == 0 {
        return Err(format!("invalid id {}", r.id));
    }
    if !r.persistent && r.live.is_none() {
        return Err("a transient domain must run".into());
    }
    let uuids: Vec<_> = r.config.iter().chain(&r.live).map(|d| d.uuid).collect();
    if uuids.iter().any(|u| u.is_none() || *u != uuids[0]) {
        return Err("the definitions do not share one UUID".into());
    }
    Ok(())
}
