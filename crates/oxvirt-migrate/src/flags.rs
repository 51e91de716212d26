//! `virDomainMigrateFlags` and the combinations of them libvirt refuses.

use oxvirt_xml::{ErrorCode, ErrorDomain, VirError};

/// A set of `virDomainMigrateFlags` bits, as they travel on the wire (`unsigned int`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub struct MigrateFlags(pub u32);

macro_rules! migrate_flags {
    ($($(#[$doc:meta])* $name:ident = $value:expr, $c:literal;)*) => {
        impl MigrateFlags {
            $($(#[$doc])* pub const $name: MigrateFlags = MigrateFlags($value);)*

            /// Every flag with its C name, in bit order.
            pub const ALL: &'static [(MigrateFlags, &'static str)] =
                &[$((MigrateFlags($value), $c),)*];
        }
    };
}

migrate_flags! {
    /// `VIR_MIGRATE_LIVE`: do not pause the guest while its memory moves.
    LIVE = 1 << 0, "VIR_MIGRATE_LIVE";
    /// `VIR_MIGRATE_PEER2PEER`: the source daemon talks to the destination itself.
    PEER2PEER = 1 << 1, "VIR_MIGRATE_PEER2PEER";
    /// `VIR_MIGRATE_TUNNELLED`: guest data goes through the daemons' connection.
    TUNNELLED = 1 << 2, "VIR_MIGRATE_TUNNELLED";
    /// `VIR_MIGRATE_PERSIST_DEST`: define the domain on the destination.
    PERSIST_DEST = 1 << 3, "VIR_MIGRATE_PERSIST_DEST";
    /// `VIR_MIGRATE_UNDEFINE_SOURCE`: undefine the domain on the source afterwards.
    UNDEFINE_SOURCE = 1 << 4, "VIR_MIGRATE_UNDEFINE_SOURCE";
    /// `VIR_MIGRATE_PAUSED`: leave the domain paused on the destination.
    PAUSED = 1 << 5, "VIR_MIGRATE_PAUSED";
    /// `VIR_MIGRATE_NON_SHARED_DISK`: copy whole disks.
    NON_SHARED_DISK = 1 << 6, "VIR_MIGRATE_NON_SHARED_DISK";
    /// `VIR_MIGRATE_NON_SHARED_INC`: copy the top image of disks only.
    NON_SHARED_INC = 1 << 7, "VIR_MIGRATE_NON_SHARED_INC";
    /// `VIR_MIGRATE_CHANGE_PROTECTION`: no configuration change during migration.
    CHANGE_PROTECTION = 1 << 8, "VIR_MIGRATE_CHANGE_PROTECTION";
    /// `VIR_MIGRATE_UNSAFE`: skip the safety checks (disk cache modes...).
    UNSAFE = 1 << 9, "VIR_MIGRATE_UNSAFE";
    /// `VIR_MIGRATE_OFFLINE`: move the definition of an inactive domain only.
    OFFLINE = 1 << 10, "VIR_MIGRATE_OFFLINE";
    /// `VIR_MIGRATE_COMPRESSED`: compress the data.
    COMPRESSED = 1 << 11, "VIR_MIGRATE_COMPRESSED";
    /// `VIR_MIGRATE_ABORT_ON_ERROR`: abort on I/O errors during migration.
    ABORT_ON_ERROR = 1 << 12, "VIR_MIGRATE_ABORT_ON_ERROR";
    /// `VIR_MIGRATE_AUTO_CONVERGE`: throttle the guest's CPUs to converge.
    AUTO_CONVERGE = 1 << 13, "VIR_MIGRATE_AUTO_CONVERGE";
    /// `VIR_MIGRATE_RDMA_PIN_ALL`: pin all guest memory for RDMA.
    RDMA_PIN_ALL = 1 << 14, "VIR_MIGRATE_RDMA_PIN_ALL";
    /// `VIR_MIGRATE_POSTCOPY`: allow switching to post-copy.
    POSTCOPY = 1 << 15, "VIR_MIGRATE_POSTCOPY";
    /// `VIR_MIGRATE_TLS`: encrypt the migration streams with TLS.
    TLS = 1 << 16, "VIR_MIGRATE_TLS";
    /// `VIR_MIGRATE_PARALLEL`: several connections (multifd).
    PARALLEL = 1 << 17, "VIR_MIGRATE_PARALLEL";
    /// `VIR_MIGRATE_NON_SHARED_SYNCHRONOUS_WRITES`: disk copy waits for guest writes.
    NON_SHARED_SYNCHRONOUS_WRITES = 1 << 18, "VIR_MIGRATE_NON_SHARED_SYNCHRONOUS_WRITES";
    /// `VIR_MIGRATE_POSTCOPY_RESUME`: resume a failed post-copy migration.
    POSTCOPY_RESUME = 1 << 19, "VIR_MIGRATE_POSTCOPY_RESUME";
    /// `VIR_MIGRATE_ZEROCOPY`: send guest memory without copying it (parallel only).
    ZEROCOPY = 1 << 20, "VIR_MIGRATE_ZEROCOPY";
}

impl MigrateFlags {
    /// Whether every bit of `other` is set.
    pub fn contains(self, other: MigrateFlags) -> bool {
        self.0 & other.0 == other.0
    }

    /// Whether any bit of `other` is set.
    pub fn intersects(self, other: MigrateFlags) -> bool {
        self.0 & other.0 != 0
    }

    /// The bits libvirt 9.0 does not know.
    pub fn unknown_bits(self) -> u32 {
        self.0 & !((1 << 21) - 1)
    }
}

impl std::ops::BitOr for MigrateFlags {
    type Output = MigrateFlags;
    fn bitor(self, rhs: MigrateFlags) -> MigrateFlags {
        MigrateFlags(self.0 | rhs.0)
    }
}

/// Checks `flags` for the combinations libvirt refuses, in the order libvirt checks them,
/// with libvirt's errors:
///
/// - `virDomainMigrate3` / `virDomainMigrateToURI3` (`VIR_FROM_DOMAIN`):
///   NON_SHARED_DISK with NON_SHARED_INC, TUNNELLED without PEER2PEER;
/// - `qemuMigrationSrcBeginPhase` (`VIR_FROM_QEMU`): POSTCOPY without LIVE or with
///   PAUSED, POSTCOPY with TUNNELLED, OFFLINE with non-shared storage, OFFLINE without
///   PERSIST_DEST, OFFLINE with TUNNELLED, ZEROCOPY without PARALLEL, non-shared storage
///   with TUNNELLED.
///
/// Checks that need the domain or the drivers (offline support, migrate_disks, the
/// `migrate_tls_force` setting, a resumable post-copy job) are not made here.
pub fn check_flags(flags: MigrateFlags) -> Result<(), VirError> {
    type F = MigrateFlags;
    let domain = |code, msg: &str| Err(VirError::new(ErrorDomain::Domain, code, msg));
    let qemu = |code, msg: &str| Err(VirError::new(ErrorDomain::Qemu, code, msg));
    if flags.contains(F::NON_SHARED_DISK) && flags.contains(F::NON_SHARED_INC) {
        return domain(
            ErrorCode::InvalidArg,
            "Flags 'VIR_MIGRATE_NON_SHARED_DISK' and 'VIR_MIGRATE_NON_SHARED_INC' are mutually exclusive",
        );
    }
    if flags.contains(F::TUNNELLED) && !flags.contains(F::PEER2PEER) {
        return domain(
            ErrorCode::OperationInvalid,
            "cannot perform tunnelled migration without using peer2peer flag",
        );
    }
    if flags.contains(F::POSTCOPY) && (!flags.contains(F::LIVE) || flags.contains(F::PAUSED)) {
        return qemu(
            ErrorCode::ArgumentUnsupported,
            "post-copy migration is not supported with non-live or paused migration",
        );
    }
    if flags.contains(F::POSTCOPY) && flags.contains(F::TUNNELLED) {
        return qemu(
            ErrorCode::ArgumentUnsupported,
            "post-copy is not supported with tunnelled migration",
        );
    }
    let non_shared = F::NON_SHARED_DISK | F::NON_SHARED_INC;
    if flags.contains(F::OFFLINE) {
        if flags.intersects(non_shared) {
            return qemu(
                ErrorCode::OperationInvalid,
                "offline migration cannot handle non-shared storage",
            );
        }
        if !flags.contains(F::PERSIST_DEST) {
            return qemu(
                ErrorCode::OperationInvalid,
                "offline migration must be specified with the persistent flag set",
            );
        }
        if flags.contains(F::TUNNELLED) {
            return qemu(
                ErrorCode::OperationInvalid,
                "tunnelled offline migration does not make sense",
            );
        }
    }
    if flags.contains(F::ZEROCOPY) && !flags.contains(F::PARALLEL) {
        return qemu(
            ErrorCode::OperationInvalid,
            "zero-copy is only available for parallel migration",
        );
    }
    if flags.intersects(non_shared) && flags.contains(F::TUNNELLED) {
        return qemu(
            ErrorCode::OperationUnsupported,
            "migration of non-shared storage is not supported with tunnelled migration and this QEMU",
        );
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    type F = MigrateFlags;

    fn refused(flags: MigrateFlags) -> VirError {
        match check_flags(flags) {
            Err(e) => e,
            Ok(()) => panic!("flags {:#x} accepted", flags.0),
        }
    }

    #[test]
    fn values_match_libvirt_domain_h() {
        assert_eq!(F::LIVE.0, 1);
        assert_eq!(F::AUTO_CONVERGE.0, 8192);
        assert_eq!(F::RDMA_PIN_ALL.0, 16384);
        assert_eq!(F::POSTCOPY.0, 32768);
        assert_eq!(F::TLS.0, 65536);
        assert_eq!(F::PARALLEL.0, 131072);
        assert_eq!(F::NON_SHARED_SYNCHRONOUS_WRITES.0, 262144);
        assert_eq!(F::POSTCOPY_RESUME.0, 524288);
        assert_eq!(F::ZEROCOPY.0, 1048576);
        assert_eq!(F::ALL.len(), 21);
        assert_eq!(MigrateFlags(1 << 21).unknown_bits(), 1 << 21);
        assert_eq!(F::ZEROCOPY.unknown_bits(), 0);
    }

    #[test]
    fn accepted_combinations() {
        for ok in [
            F::LIVE,
            F::LIVE | F::PEER2PEER | F::TUNNELLED,
            F::LIVE | F::POSTCOPY,
            F::OFFLINE | F::PERSIST_DEST,
            F::PARALLEL | F::ZEROCOPY | F::LIVE,
            F::NON_SHARED_DISK | F::LIVE,
        ] {
            assert_eq!(check_flags(ok), Ok(()), "{:#x}", ok.0);
        }
    }

    #[test]
    fn refused_combinations_carry_libvirt_messages() {
        let e = refused(F::NON_SHARED_DISK | F::NON_SHARED_INC);
        assert_eq!(e.code, ErrorCode::InvalidArg);
        assert_eq!(e.domain, ErrorDomain::Domain);
        assert_eq!(e.message, "invalid argument: Flags 'VIR_MIGRATE_NON_SHARED_DISK' and 'VIR_MIGRATE_NON_SHARED_INC' are mutually exclusive");
        let e = refused(F::TUNNELLED | F::LIVE);
        assert_eq!(e.message, "Requested operation is not valid: cannot perform tunnelled migration without using peer2peer flag");
        let e = refused(F::POSTCOPY);
        assert_eq!(e.code, ErrorCode::ArgumentUnsupported);
        assert_eq!(e.domain, ErrorDomain::Qemu);
        assert_eq!(e.message, "argument unsupported: post-copy migration is not supported with non-live or paused migration");
        let e = refused(F::POSTCOPY | F::LIVE | F::PAUSED);
        assert!(e.message.contains("non-live or paused"));
        let e = refused(F::POSTCOPY | F::LIVE | F::PEER2PEER | F::TUNNELLED);
        assert_eq!(
            e.message,
            "argument unsupported: post-copy is not supported with tunnelled migration"
        );
        let e = refused(F::OFFLINE | F::POSTCOPY);
        assert!(e.message.contains("non-live"), "{}", e.message);
        let e = refused(F::OFFLINE | F::PERSIST_DEST | F::NON_SHARED_INC);
        assert_eq!(
            e.message,
            "Requested operation is not valid: offline migration cannot handle non-shared storage"
        );
        let e = refused(F::OFFLINE);
        assert_eq!(e.message, "Requested operation is not valid: offline migration must be specified with the persistent flag set");
        let e = refused(F::OFFLINE | F::PERSIST_DEST | F::PEER2PEER | F::TUNNELLED);
        assert_eq!(
            e.message,
            "Requested operation is not valid: tunnelled offline migration does not make sense"
        );
        let e = refused(F::ZEROCOPY | F::LIVE);
        assert_eq!(
            e.message,
            "Requested operation is not valid: zero-copy is only available for parallel migration"
        );
        let e = refused(F::NON_SHARED_DISK | F::PEER2PEER | F::TUNNELLED);
        assert_eq!(e.code, ErrorCode::OperationUnsupported);
        assert!(e.message.ends_with("tunnelled migration and this QEMU"));
    }
}
