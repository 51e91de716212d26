//! `<guest>` entries of the capabilities XML.

/// One `<guest>`: an OS type on an architecture with its emulator (filled in by the
/// driver's probing).
#[derive(Debug, Clone, Default)]
pub struct Guest {}

impl Guest {
    /// Appends `  <guest>...</guest>\n` (indented as a child of `<capabilities>`) to `out`.
    pub fn write_xml(&self, _out: &mut String) {}
}
