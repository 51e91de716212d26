//! libvirt's `virError`: the error every driver and the wire protocol carry.

use std::fmt;

use super::{ErrorCode, ErrorDomain, XmlError};

/// libvirt's `virErrorLevel`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
#[repr(i32)]
pub enum ErrorLevel {
    /// `VIR_ERR_NONE`.
    None = 0,
    /// `VIR_ERR_WARNING`.
    Warning = 1,
    /// `VIR_ERR_ERROR`.
    #[default]
    Error = 2,
}

/// A failure as libvirt reports it: what kind (`code`), where it came from (`domain`), and
/// the complete message, already put into the code's template as libvirt does
/// (`Requested operation is not valid: domain is already running`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VirError {
    /// What kind of failure this is.
    pub code: ErrorCode,
    /// Which part of the system reported it.
    pub domain: ErrorDomain,
    /// The complete message, as virsh prints it after `error: `.
    pub message: String,
    /// How serious it is; always [`ErrorLevel::Error`] for failed calls.
    pub level: ErrorLevel,
}

impl VirError {
    /// An error whose message is `detail` put into `code`'s template, as libvirt's
    /// `virReportError(code, "%s", detail)` builds it.
    pub fn new(domain: ErrorDomain, code: ErrorCode, detail: impl AsRef<str>) -> Self {
        VirError {
            code,
            domain,
            message: code.message(Some(detail.as_ref())),
            level: ErrorLevel::Error,
        }
    }

    /// An error with `code`'s bare message and no detail (`Domain not found`).
    pub fn bare(domain: ErrorDomain, code: ErrorCode) -> Self {
        VirError {
            code,
            domain,
            message: code.message(None),
            level: ErrorLevel::Error,
        }
    }

    /// An error exactly as received (from the wire): the message is already complete.
    pub fn raw(domain: ErrorDomain, code: ErrorCode, message: impl Into<String>) -> Self {
        VirError {
            code,
            domain,
            message: message.into(),
            level: ErrorLevel::Error,
        }
    }

    /// An XML error met by the part of the system `domain` that read the document. As in
    /// libvirt, syntax errors (`VIR_ERR_XML_DETAIL`) are reported from the reader's domain
    /// (libxml2's callback reports with the caller's code); errors of the generic XML
    /// helpers from theirs ([`XmlError::origin`]).
    pub fn from_xml(error: XmlError, domain: ErrorDomain) -> Self {
        let domain = error.origin.unwrap_or(domain);
        VirError::raw(domain, error.code, error.libvirt_message())
    }

    /// `VIR_ERR_INVALID_ARG` for flags a call does not know, worded as libvirt words it.
    /// libvirt's flag check reports its text without the code's "invalid argument: "
    /// template, so the message is exactly this sentence.
    pub fn unsupported_flags(domain: ErrorDomain, unknown: u32, function: &str) -> Self {
        VirError::raw(
            domain,
            ErrorCode::InvalidArg,
            format!("unsupported flags (0x{unknown:x}) in function {function}"),
        )
    }

    /// Fails with [`VirError::unsupported_flags`] if `flags` has bits outside `allowed`.
    pub fn check_flags(
        domain: ErrorDomain,
        flags: u32,
        allowed: u32,
        function: &str,
    ) -> Result<(), VirError> {
        match flags & !allowed {
            0 => Ok(()),
            unknown => Err(VirError::unsupported_flags(domain, unknown, function)),
        }
    }
}

impl fmt::Display for VirError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}

impl std::error::Error for VirError {}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn builds_libvirt_messages() {
        let e = VirError::new(
            ErrorDomain::Domain,
            ErrorCode::OperationInvalid,
            "domain is already running",
        );
        assert_eq!(
            e.to_string(),
            "Requested operation is not valid: domain is already running"
        );
        let e = VirError::check_flags(ErrorDomain::Test, 0x13, 0x3, "testDomainCreateWithFlags");
        assert_eq!(
            e.unwrap_err().message,
            "unsupported flags (0x10) in function testDomainCreateWithFlags"
        );
    }

    #[test]
    fn xml_errors_keep_the_reporting_domain() {
        let e = VirError::from_xml(
            XmlError::new(ErrorCode::XmlDetail, "oops"),
            ErrorDomain::Domain,
        );
        assert_eq!(
            (e.domain, e.message.as_str()),
            (ErrorDomain::Domain, "oops")
        );
        let e = XmlError::xml("expecting root element of 'domain', not 'network'")
            .from_domain(ErrorDomain::Xml);
        assert_eq!(
            VirError::from_xml(e, ErrorDomain::Domain).domain,
            ErrorDomain::Xml
        );
        let e = VirError::from_xml(XmlError::xml("bad"), ErrorDomain::Domain);
        assert_eq!(
            (e.domain, e.message.as_str()),
            (ErrorDomain::Domain, "XML error: bad")
        );
    }
}
