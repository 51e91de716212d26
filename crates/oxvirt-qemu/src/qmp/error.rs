//! [`QmpError`]: how a QMP exchange fails, and its libvirt form ([`VirError`]).

use std::fmt;

use oxvirt_xml::{ErrorCode, ErrorDomain, VirError};

/// A failed QMP exchange.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum QmpError {
    /// The monitor socket could not be opened (`detail` is the OS error text).
    Connect {
        /// The OS error, as `strerror` words it (`No such file or directory`).
        detail: String,
    },
    /// QEMU answered the command with `{"error": {"class", "desc"}}`.
    Command {
        /// The command that failed (`cont`).
        command: String,
        /// QEMU's error class (`GenericError`, `CommandNotFound`, `DeviceNotActive` ...).
        class: String,
        /// QEMU's human-readable description.
        desc: String,
    },
    /// The monitor is closed: QEMU exited (EOF), or the connection broke earlier.
    Closed,
    /// QEMU sent something that is not QMP (bad JSON, a message over the size cap, a bad
    /// greeting); the connection is closed after it.
    Protocol(String),
}

impl QmpError {
    /// `true` when this is a [`QmpError::Command`] error of QEMU class `class`.
    pub fn is_class(&self, class: &str) -> bool {
        matches!(self, QmpError::Command { class: c, .. } if c == class)
    }

    /// The libvirt error this failure is reported as, with libvirt's code, domain
    /// (`VIR_FROM_QEMU`) and words.
    pub fn to_vir_error(&self) -> VirError {
        let code = match self {
            QmpError::Connect { .. } => ErrorCode::SystemError,
            QmpError::Command { .. } | QmpError::Protocol(_) => ErrorCode::InternalError,
            QmpError::Closed => ErrorCode::OperationFailed,
        };
        VirError::new(ErrorDomain::Qemu, code, self.to_string())
    }
}

impl fmt::Display for QmpError {
    /// The detail text libvirt puts after its code's prefix (`internal error: `).
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            QmpError::Connect { detail } => {
                write!(f, "failed to connect to monitor socket: {detail}")
            }
            QmpError::Command {
                command,
                class,
                desc,
            } => {
                // As libvirt's qemuMonitorJSONStringifyError: the description when the error
                // has a class and a description, else a fixed text.
                let text = if !class.is_empty() && !desc.is_empty() {
                    desc.as_str()
                } else {
                    "unknown QEMU command error"
                };
                write!(f, "unable to execute QEMU command '{command}': {text}")
            }
            QmpError::Closed => f.write_str("domain is no longer running"),
            QmpError::Protocol(detail) => f.write_str(detail),
        }
    }
}

impl std::error::Error for QmpError {}

impl From<QmpError> for VirError {
    fn from(error: QmpError) -> VirError {
        error.to_vir_error()
    }
}
