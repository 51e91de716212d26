//! The error every XML model in oxvirt reports.
//!
//! Errors carry libvirt's error number (`virErrorNumber`) so that clients see the same
//! codes they see from libvirt, a message in libvirt's words, and where known the
//! position in the document that caused it.

use std::fmt;

/// The subset of libvirt's `virErrorNumber` that XML handling reports.
///
/// The discriminants are libvirt's numeric values; they cross the wire unchanged.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[repr(i32)]
pub enum ErrorCode {
    /// `VIR_ERR_INTERNAL_ERROR`: a consistency check failed.
    InternalError = 1,
    /// `VIR_ERR_INVALID_ARG`: an argument is out of range.
    InvalidArg = 8,
    /// `VIR_ERR_NO_SOURCE`: a device has no source.
    NoSource = 19,
    /// `VIR_ERR_NO_TARGET`: a device has no target.
    NoTarget = 20,
    /// `VIR_ERR_NO_NAME`: a required name is missing.
    NoName = 21,
    /// `VIR_ERR_XML_ERROR`: the document is not well formed, or a value is invalid.
    XmlError = 27,
    /// `VIR_ERR_XML_DETAIL`: the XML parser itself reported a syntax error.
    XmlDetail = 35,
    /// `VIR_ERR_INVALID_MAC`: a MAC address is malformed.
    InvalidMac = 44,
    /// `VIR_ERR_CONFIG_UNSUPPORTED`: the configuration is well formed but not supported.
    ConfigUnsupported = 67,
    /// `VIR_ERR_OVERFLOW`: a number does not fit.
    Overflow = 82,
    /// `VIR_ERR_XML_INVALID_SCHEMA`: the document does not match the schema.
    XmlInvalidSchema = 92,
}

impl ErrorCode {
    /// libvirt's numeric value of this code.
    pub fn number(self) -> i32 {
        self as i32
    }

    /// The prefix libvirt puts before the message of an error with this code, if any.
    ///
    /// For the codes without one, libvirt's text is the message itself (`VIR_ERR_XML_DETAIL`
    /// is the parser's own words; `VIR_ERR_NO_TARGET` reads "missing target information
    /// for device ...").
    pub fn prefix(self) -> Option<&'static str> {
        match self {
            ErrorCode::InternalError => Some("internal error"),
            ErrorCode::InvalidArg => Some("invalid argument"),
            ErrorCode::XmlError => Some("XML error"),
            ErrorCode::InvalidMac => Some("invalid MAC address"),
            ErrorCode::ConfigUnsupported => Some("unsupported configuration"),
            ErrorCode::Overflow => Some("numerical overflow"),
            ErrorCode::XmlInvalidSchema => Some("XML document failed to validate against schema"),
            ErrorCode::XmlDetail
            | ErrorCode::NoSource
            | ErrorCode::NoTarget
            | ErrorCode::NoName => None,
        }
    }
}

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
}

impl XmlError {
    /// An error with the given code and message and no position yet.
    pub fn new(code: ErrorCode, message: impl Into<String>) -> Self {
        XmlError {
            code,
            message: message.into(),
            position: None,
        }
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
