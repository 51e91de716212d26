//! Reading a domain definition as the test driver does: libvirt's generic parse and
//! post-parse steps for an i686 host, the test driver's own device defaults, generated
//! interface names, and the test namespace (`<test:runstate>` and friends) that node files
//! use to describe a domain's initial state.

use oxvirt_domain::defaults::DriverDefaults;
use oxvirt_domain::devices::interface::{InterfaceTarget, InterfaceType};
use oxvirt_domain::devices::video::VideoModelType;
use oxvirt_domain::driver::DomainState;
use oxvirt_domain::os::OsType;
use oxvirt_domain::Domain;
use oxvirt_xml::{Element, ErrorCode, ErrorDomain, VirError};

/// The namespace of the test driver's own elements in a domain definition.
pub const TEST_NAMESPACE: &str = "http://libvirt.org/schemas/domain/test/1.0";

/// The guest architecture the test driver assumes (`defArch`).
pub const TEST_ARCH: &str = "i686";

/// What the test namespace says about a domain (libvirt's `testDomainNamespaceDef`).
#[derive(Debug, Clone, Default)]
pub struct TestNs {
    /// `<test:runstate>`: the state the domain is loaded in (running when absent).
    pub runstate: Option<DomainState>,
    /// `<test:transient/>`: the domain has no persistent definition.
    pub transient: bool,
    /// `<test:hasmanagedsave/>`: a managed-save image exists.
    pub has_managed_save: bool,
    /// `<test:domainsnapshot>` elements, inline or naming a file.
    pub snapshots: Vec<Element>,
}

impl TestNs {
    /// The state to load the domain in.
    pub fn state(&self) -> DomainState {
        self.runstate.unwrap_or(DomainState::Running)
    }
}

fn xml_error(detail: &str) -> VirError {
    VirError::new(ErrorDomain::Test, ErrorCode::XmlError, detail)
}

/// Reads the test namespace's elements (libvirt's `testDomainDefNamespaceParse`).
fn parse_namespace(elements: &[Element]) -> Result<TestNs, VirError> {
    fn ours<'a>(elements: &'a [Element], local: &'a str) -> impl Iterator<Item = &'a Element> {
        elements.iter().filter(move |e| {
            e.namespace.as_deref() == Some(TEST_NAMESPACE) && e.local_name() == local
        })
    }
    let mut ns = TestNs {
        snapshots: ours(elements, "domainsnapshot").cloned().collect(),
        transient: ours(elements, "transient").next().is_some(),
        has_managed_save: ours(elements, "hasmanagedsave").next().is_some(),
        runstate: None,
    };
    // XPath's string() of the first match; an empty string counts as absent.
    let text = ours(elements, "runstate")
        .next()
        .map(Element::text)
        .unwrap_or_default();
    if !text.is_empty() {
        let n: u32 = text.parse().map_err(|_| xml_error("invalid runstate"))?;
        let state = i32::try_from(n)
            .ok()
            .and_then(DomainState::from_number)
            .ok_or_else(|| xml_error(&format!("runstate '{n}' out of range'")))?;
        ns.runstate = Some(state);
    }
    if ns.transient && ns.runstate == Some(DomainState::Shutoff) {
        return Err(xml_error("transient domain cannot have runstate 'shutoff'"));
    }
    if ns.has_managed_save && ns.runstate != Some(DomainState::Shutoff) {
        return Err(xml_error(
            "domain with managedsave data can only have runstate 'shutoff'",
        ));
    }
    Ok(ns)
}

/// Parses a domain definition as the test driver's `virDomainDefParseString` with
/// `VIR_DOMAIN_DEF_PARSE_INACTIVE` does: the `id` and any device alias but a user one
/// (`ua-...`) are ignored, defaults are filled in for an i686 guest, the definition is
/// validated, and interfaces without a target get `testnetN` names.
pub fn parse_domain(xml: &str) -> Result<(Domain, TestNs), VirError> {
    parse_domain_with(xml, true)
}

/// [`parse_domain`], without libvirt's validation when `validate` is false
/// (`VIR_DOMAIN_DEF_PARSE_SKIP_VALIDATE`, for saved images).
pub fn parse_domain_with(xml: &str, validate: bool) -> Result<(Domain, TestNs), VirError> {
    let mut def = Domain::parse(xml)
        .map_err(|e| VirError::from_xml(e, ErrorDomain::Domain))?
        .domain;
    let ns = parse_namespace(&def.namespaced)?;
    post_parse(&mut def).map_err(|e| VirError::from_xml(e, ErrorDomain::Domain))?;
    if validate {
        def.validate()
            .map_err(|e| VirError::from_xml(e, ErrorDomain::Domain))?;
    }
    generate_ifnames(&mut def)?;
    Ok((def, ns))
}

/// What the test driver's parser configuration does to a definition it reads as an
/// inactive one, after libvirt's generic parse (the test namespace already read): the `id`
/// and any device alias but a user one are dropped, other namespaces too, and libvirt's
/// post-parse step runs for an i686 guest with the test driver's defaults ([`policy`]).
///
/// This is also what the domain a redefined snapshot records goes through
/// (`virDomainDefParseNode` with the test driver's configuration), given to
/// [`oxvirt_domain::snapshot::DomainSnapshot::parse_for`].
pub(crate) fn post_parse(def: &mut Domain) -> oxvirt_xml::Result<()> {
    def.id = None;
    // An inactive parse keeps only user aliases (`ua-...`).
    crate::alias::drop_non_user_aliases(def);
    // The test namespace has no formatter, and other namespaces are unknown to the test
    // driver: libvirt writes none of them back.
    def.namespaced.clear();
    def.unknown
        .attributes
        .retain(|a| a.name != "xmlns" && !a.name.starts_with("xmlns:"));
    set_video_types(def);
    drop_network_bridges(def);
    def.apply_defaults_with(TEST_ARCH, &policy(def))
}

/// The test driver's choices in libvirt's post-parse step for `def`: SCSI disks numbered on
/// a narrow bus, and the video model of [`video_type`] for the adapter libvirt adds to
/// graphics without one.
pub(crate) fn policy(def: &Domain) -> DriverDefaults {
    DriverDefaults {
        video: video_type(def),
        wide_scsi: false,
    }
}

/// The video model the test driver gives an adapter of the default type
/// (`testDomainDevicesDefPostParse`): `xen` for Xen guests, `vga` on ppc64, `cirrus`
/// otherwise.
fn video_type(def: &Domain) -> VideoModelType {
    let os_type = def.os.as_ref().and_then(|o| o.os_type);
    let arch = def
        .os
        .as_ref()
        .and_then(|o| o.arch.clone())
        .unwrap_or_else(|| TEST_ARCH.to_string());
    if matches!(os_type, Some(OsType::Xen | OsType::Linux)) {
        VideoModelType::Xen
    } else if arch.starts_with("ppc64") {
        VideoModelType::Vga
    } else {
        VideoModelType::Cirrus
    }
}

/// The test driver's device post-parse step for video adapters: one of the default type
/// gets the model of [`video_type`].
fn set_video_types(def: &mut Domain) {
    let kind = video_type(def);
    for v in &mut def.devices.videos {
        let m = v.model.get_or_insert_with(Default::default);
        if matches!(m.kind, None | Some(VideoModelType::Default)) {
            m.kind = Some(kind);
        }
    }
}

/// libvirt reads `<source bridge=>` of an `<interface type='network'>` only from live
/// status XML (it is the bridge the network gave); a definition drops it.
fn drop_network_bridges(def: &mut Domain) {
    for net in &mut def.devices.interfaces {
        if net.kind == InterfaceType::Network {
            if let Some(src) = &mut net.source {
                src.unknown.attributes.retain(|a| a.name != "bridge");
            }
        }
    }
}

/// Gives each interface without a target device the first free `testnetN` name
/// (`testDomainGenerateIfnames`).
fn generate_ifnames(def: &mut Domain) -> Result<(), VirError> {
    const MAX_IFACES: usize = 1024;
    for i in 0..def.devices.interfaces.len() {
        let has_name = def.devices.interfaces[i]
            .target
            .as_ref()
            .is_some_and(|t| t.dev.is_some());
        if has_name {
            continue;
        }
        let taken = |name: &str| {
            def.devices
                .interfaces
                .iter()
                .any(|n| n.target.as_ref().and_then(|t| t.dev.as_deref()) == Some(name))
        };
        let name = (0..MAX_IFACES)
            .map(|n| format!("testnet{n}"))
            .find(|n| !taken(n))
            .ok_or_else(|| {
                VirError::new(
                    ErrorDomain::Test,
                    ErrorCode::InternalError,
                    format!("Exceeded max iface limit {MAX_IFACES}"),
                )
            })?;
        def.devices.interfaces[i]
            .target
            .get_or_insert_with(InterfaceTarget::default)
            .dev = Some(name);
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    const NS: &str = "xmlns:test='http://libvirt.org/schemas/domain/test/1.0'";

    fn ns_of(body: &str) -> Result<TestNs, VirError> {
        let xml = format!(
            "<domain type='test' {NS}><name>x</name><memory>1024</memory>\
             <os><type>hvm</type></os>{body}</domain>"
        );
        parse_domain(&xml).map(|(_, ns)| ns)
    }

    #[test]
    fn reads_the_test_namespace() {
        let ns = ns_of("").unwrap();
        assert_eq!(ns.state(), DomainState::Running);
        assert!(!ns.transient && !ns.has_managed_save && ns.snapshots.is_empty());
        let ns = ns_of("<test:runstate>5</test:runstate><test:hasmanagedsave/>").unwrap();
        assert_eq!(ns.state(), DomainState::Shutoff);
        assert!(ns.has_managed_save);
        let ns = ns_of("<test:runstate>3</test:runstate><test:transient/>").unwrap();
        assert_eq!(ns.state(), DomainState::Paused);
        assert!(ns.transient);
        let ns = ns_of("<test:domainsnapshot><name>s</name></test:domainsnapshot>").unwrap();
        assert_eq!(ns.snapshots.len(), 1);
    }

    #[test]
    fn namespace_errors_are_libvirts() {
        let msg = |body: &str| ns_of(body).unwrap_err().message;
        assert_eq!(
            msg("<test:runstate>x</test:runstate>"),
            "XML error: invalid runstate"
        );
        assert_eq!(
            msg("<test:runstate>8</test:runstate>"),
            "XML error: runstate '8' out of range'"
        );
        assert_eq!(
            msg("<test:runstate>5</test:runstate><test:transient/>"),
            "XML error: transient domain cannot have runstate 'shutoff'"
        );
        assert_eq!(
            msg("<test:hasmanagedsave/>"),
            "XML error: domain with managedsave data can only have runstate 'shutoff'"
        );
    }

    #[test]
    fn fills_in_test_driver_defaults() {
        let (def, _) = parse_domain(
            "<domain type='test' id='7'><name>x</name><memory>1024</memory>\
             <os><type>hvm</type></os><devices>\
             <interface type='network'><source network='default'/></interface>\
             <interface type='network'><source network='default'/><target dev='testnet1'/></interface>\
             <interface type='network'><source network='default'/></interface>\
             <video/></devices><test:x xmlns:test='http://libvirt.org/schemas/domain/test/1.0'/></domain>",
        )
        .unwrap();
        assert_eq!(def.id, None);
        assert!(def.namespaced.is_empty());
        let names: Vec<_> = def
            .devices
            .interfaces
            .iter()
            .map(|n| n.target.as_ref().and_then(|t| t.dev.clone()))
            .collect();
        assert_eq!(
            names,
            [
                Some("testnet0".into()),
                Some("testnet1".into()),
                Some("testnet2".into())
            ]
        );
        let xml = def.to_xml();
        assert!(
            xml.contains("<model type='cirrus' vram='16384' heads='1' primary='yes'/>"),
            "{xml}"
        );
        assert!(xml.contains("<type arch='i686'>hvm</type>"));
    }
}
