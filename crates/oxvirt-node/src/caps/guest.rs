//! `<guest>` entries of the capabilities XML.

/// One `<guest>`: an OS type on an architecture with its emulator (filled in by the
/// driver's probing).
#[derive(Debug, Clone, Default)]
pub struct Guest {}
