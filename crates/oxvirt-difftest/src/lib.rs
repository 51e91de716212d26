//! Differential tests: libvirt's own test driver (`test:///default` in python3-libvirt)
//! and ours (the `oxvirt` facade over `oxvirt-driver-test`) run the same scenarios, and
//! their transcripts must be equal.
//!
//! * [`scenario`]: the scenario files (`scenarios/*.json`) and their arguments.
//! * [`libvirt`]: runs `libvirt_runner.py` for libvirt's transcript.
//! * [`runner`]: runs a scenario through the facade for ours.
//! * [`transcript`] and [`normalise`]: the transcript format both runners print, and what
//!   they replace because it differs from run to run by nature.
//! * [`compare`]: the differences, step by step and field by field.
//! * [`known`]: the allow-list of differences that are on purpose.
//! * [`suite`]: all of it over every scenario, with counts.
//!
//! docs/differential.md describes the format and lists every known difference.

pub mod compare;
pub mod known;
pub mod libvirt;
pub mod normalise;
pub mod runner;
pub mod scenario;
pub mod suite;
pub mod transcript;

pub use compare::{compare, Difference};
pub use known::KnownDifference;
pub use scenario::Scenario;
pub use suite::{run_suite, SuiteReport};
pub use transcript::Transcript;
