//! The error every XML model in oxvirt reports.
//!
//! Errors carry libvirt's error number (`virErrorNumber`) so that clients see the same
//! codes they see from libvirt, a message in libvirt's words, and where known the
//! position in the document that caused it.

use std::fmt;

mod codes;
mod vir;

pub use codes::{ErrorCode, ErrorDomain};
pub use vir::{ErrorLevel, VirError};

/// A line and column in a document, both counted from 1 (columns in characters).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
pub struct Position {
    /// Line number, from 1.
    pub line: u32,
    /// Column number, from 1, in characters.
    pub column: u32,
}

impl fmt::Display for Position {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}", self.line, self.column)
    }
}

/// An error in an XML document or in a value read from one.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct XmlError {
    /// libvirt's error number for this failure.
    pub code: ErrorCode,
    /// The message, in libvirt's words where libvirt has words for it.
    pub message: String,
    /// Where in the document the problem is, when known.
    pub position: Option<Position>,
    /// The part of libvirt that reports this error when it is not the one reading the
    /// document: libvirt's generic XML helpers (missing or invalid attributes, the root
    /// element check) report from `VIR_FROM_XML` whatever they read.
    pub origin: Option<ErrorDomain>,
}

impl XmlError {
    /// An error with the given code and message and no position yet.
    pub fn new(code: ErrorCode, message: impl Into<String>) -> Self {
        XmlError {
            code,
            message: message.into(),
            position: None,
            origin: None,
        }
    }

    /// The same error, reported from `domain` (see [`XmlError::origin`]).
    pub fn from_domain(mut self, domain: ErrorDomain) -> Self {
        self.origin = Some(domain);
        self
    }

    /// A `VIR_ERR_XML_ERROR`.
    pub fn xml(message: impl Into<String>) -> Self {
        Self::new(ErrorCode::XmlError, message)
    }

    /// A `VIR_ERR_CONFIG_UNSUPPORTED`.
    pub fn unsupported(message: impl Into<String>) -> Self {
        Self::new(ErrorCode::ConfigUnsupported, message)
    }

    /// A `VIR_ERR_INTERNAL_ERROR`.
    pub fn internal(message: impl Into<String>) -> Self {
        Self::new(ErrorCode::InternalError, message)
    }

    /// A `VIR_ERR_INVALID_ARG`.
    pub fn invalid_arg(message: impl Into<String>) -> Self {
        Self::new(ErrorCode::InvalidArg, message)
    }

    /// The same error, placed at `position` unless it already has a position.
    pub fn at(mut self, position: Position) -> Self {
        if self.position.is_none() {
            self.position = Some(position);
        }
        self
    }

    /// libvirt's text for this error, as virsh prints it after `error: `: the code's prefix,
    /// then the message (`XML error: ...`), without the position.
    pub fn libvirt_message(&self) -> String {
        match self.code.prefix() {
            Some(prefix) => format!("{prefix}: {}", self.message),
            None => self.message.clone(),
        }
    }
}

impl fmt::Display for XmlError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.libvirt_message())?;
        if let Some(pos) = self.position {
            write!(f, " (at line {}, column {})", pos.line, pos.column)?;
        }
        Ok(())
    }
}

impl std::error::Error for XmlError {}

/// The result type of XML handling.
pub type Result<T, E = XmlError> = std::result::Result<T, E>;
