//! `remote_error`: the payload of every reply with status ERROR.

use oxvirt_xml::{ErrorCode, ErrorDomain, ErrorLevel, VirError};

use crate::types::{NonnullDomain, NonnullNetwork};
use crate::Xdr;

/// libvirt's `remote_error`, field for field. `dom` and `net` are always null on the wire
/// (the client ignores them); they are kept so the layout is exact.
#[derive(Debug, Clone, PartialEq, Eq, Xdr)]
pub struct RemoteError {
    /// `virErrorNumber`.
    pub code: i32,
    /// `virErrorDomain`.
    pub domain: i32,
    /// The complete message.
    pub message: Option<String>,
    /// `virErrorLevel` (2 = error).
    pub level: i32,
    /// Always `None`.
    pub dom: Option<NonnullDomain>,
    /// The message template (`internal error: %s`), or the bare message.
    pub str1: Option<String>,
    /// The detail put into the template, if any.
    pub str2: Option<String>,
    /// Unused by libvirt's own errors.
    pub str3: Option<String>,
    /// Unused by libvirt's own errors (-1).
    pub int1: i32,
    /// Unused by libvirt's own errors (-1).
    pub int2: i32,
    /// Always `None`.
    pub net: Option<NonnullNetwork>,
}

/// Splits `message` into libvirt's `str1` (the code's template, or its bare message) and
/// `str2` (the detail), as `virReportError` fills them; a message that fits neither form
/// travels whole in `str1`.
fn template_parts(code: ErrorCode, message: &str) -> (String, Option<String>) {
    let bare = code.message(None);
    if message == bare {
        return (bare, None);
    }
    let template = code.message(Some("%s"));
    if let Some((before, after)) = template.split_once("%s") {
        if let Some(detail) = message
            .strip_prefix(before)
            .and_then(|rest| rest.strip_suffix(after))
        {
            return (template.clone(), Some(detail.to_owned()));
        }
    }
    (message.to_owned(), None)
}

impl From<&VirError> for RemoteError {
    fn from(err: &VirError) -> Self {
        let (str1, str2) = template_parts(err.code, &err.message);
        RemoteError {
            code: err.code.number(),
            domain: err.domain.number(),
            message: Some(err.message.clone()),
            level: err.level as i32,
            dom: None,
            str1: Some(str1),
            str2,
            str3: None,
            int1: -1,
            int2: -1,
            net: None,
        }
    }
}

impl From<RemoteError> for VirError {
    /// Numbers this build does not know become `VIR_ERR_INTERNAL_ERROR` from
    /// `VIR_FROM_REMOTE`; the message is kept as received.
    fn from(err: RemoteError) -> Self {
        let code = ErrorCode::from_number(err.code).unwrap_or(ErrorCode::InternalError);
        let domain = ErrorDomain::from_number(err.domain).unwrap_or(ErrorDomain::Remote);
        let level = match err.level {
            0 => ErrorLevel::None,
            1 => ErrorLevel::Warning,
            _ => ErrorLevel::Error,
        };
        let message = err.message.unwrap_or_else(|| "unknown error".to_owned());
        let mut vir = VirError::raw(domain, code, message);
        vir.level = level;
        vir
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::xdr::{decode_from, encode_to_vec};

    #[test]
    fn from_vir_error_splits_template_like_libvirt() {
        // libvirt's test driver: (1, 12, "internal error: Domain 'test' is already running",
        // 2, 'internal error: %s', "Domain 'test' is already running", None, -1, -1)
        let vir = VirError::new(
            ErrorDomain::Test,
            ErrorCode::InternalError,
            "Domain 'test' is already running",
        );
        let remote = RemoteError::from(&vir);
        assert_eq!(remote.code, 1);
        assert_eq!(remote.domain, 12);
        assert_eq!(
            remote.message.as_deref(),
            Some("internal error: Domain 'test' is already running")
        );
        assert_eq!(remote.level, 2);
        assert_eq!(remote.str1.as_deref(), Some("internal error: %s"));
        assert_eq!(
            remote.str2.as_deref(),
            Some("Domain 'test' is already running")
        );
        assert_eq!((remote.str3, remote.int1, remote.int2), (None, -1, -1));
    }

    #[test]
    fn from_bare_vir_error() {
        let vir = VirError::bare(ErrorDomain::Test, ErrorCode::NoDomain);
        let remote = RemoteError::from(&vir);
        assert_eq!(remote.str1.as_deref(), Some("Domain not found"));
        assert_eq!(remote.str2, None);
    }

    #[test]
    fn unknown_procedure_error_bytes() {
        let vir = VirError::new(ErrorDomain::Rpc, ErrorCode::Rpc, "unknown procedure: 999");
        let bytes = encode_to_vec(&RemoteError::from(&vir));
        let mut want = vec![0, 0, 0, 39, 0, 0, 0, 7, 0, 0, 0, 1, 0, 0, 0, 22];
        want.extend_from_slice(b"unknown procedure: 999\0\0");
        // level 2, dom null, str1 = "%s" (RPC's template), str2 = the detail.
        want.extend_from_slice(&[0, 0, 0, 2, 0, 0, 0, 0, 0, 0, 0, 1, 0, 0, 0, 2]);
        want.extend_from_slice(b"%s\0\0");
        want.extend_from_slice(&[0, 0, 0, 1, 0, 0, 0, 22]);
        want.extend_from_slice(b"unknown procedure: 999\0\0");
        want.extend_from_slice(&[0, 0, 0, 0]);
        want.extend_from_slice(&[0xff; 8]);
        want.extend_from_slice(&[0, 0, 0, 0]);
        assert_eq!(bytes, want);
        let back: RemoteError = decode_from(&bytes).unwrap();
        let vir_back = VirError::from(back);
        assert_eq!(vir_back, vir);
    }

    #[test]
    fn unknown_numbers_and_missing_message() {
        let remote = RemoteError {
            code: 99_999,
            domain: 99_999,
            message: None,
            level: 1,
            dom: None,
            str1: None,
            str2: None,
            str3: None,
            int1: 0,
            int2: 0,
            net: None,
        };
        let vir = VirError::from(remote);
        assert_eq!(vir.code, ErrorCode::InternalError);
        assert_eq!(vir.domain, ErrorDomain::Remote);
        assert_eq!(vir.message, "unknown error");
        assert_eq!(vir.level, ErrorLevel::Warning);
    }
}
