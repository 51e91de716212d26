//! libvirt's migration protocol, version 3, as data: what the source and the destination
//! exchange before any byte of guest memory moves.
//!
//! - [`flags`]: `virDomainMigrateFlags` and the combinations libvirt refuses
//!   ([`flags::check_flags`]).
//! - [`params`]: the `VIR_MIGRATE_PARAM_*` typed parameters ([`params::MigrateParams`]),
//!   validated as `virTypedParamsValidate` validates them.
//! - [`cookie`]: the `<qemu-migration>` cookie ([`cookie::MigrationCookie`]) passed
//!   between the Begin, Prepare, Perform, Finish and Confirm phases.
//! - [`migparams`]: QEMU's migration parameters ([`migparams::QmpMigParams`]) as
//!   `migrate-set-parameters` JSON and as the `<migParams>` element of the status file,
//!   built from the flags and parameters of a migration
//!   ([`migparams::QmpMigParams::from_flags`]) with the capabilities to turn on.

pub mod cookie;
pub mod flags;
pub mod migparams;
pub mod params;

pub use cookie::MigrationCookie;
pub use flags::{check_flags, MigrateFlags};
pub use migparams::QmpMigParams;
pub use params::MigrateParams;
