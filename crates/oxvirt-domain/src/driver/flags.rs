//! libvirt's flag values for domain calls, as plain `u32` bit sets (they cross the wire as
//! they are; unknown bits are refused by each call with libvirt's message).

/// `virConnectListAllDomainsFlags`.
pub mod list {
    /// `VIR_CONNECT_LIST_DOMAINS_ACTIVE`.
    pub const ACTIVE: u32 = 1;
    /// `VIR_CONNECT_LIST_DOMAINS_INACTIVE`.
    pub const INACTIVE: u32 = 2;
    /// `VIR_CONNECT_LIST_DOMAINS_PERSISTENT`.
    pub const PERSISTENT: u32 = 4;
    /// `VIR_CONNECT_LIST_DOMAINS_TRANSIENT`.
    pub const TRANSIENT: u32 = 8;
    /// `VIR_CONNECT_LIST_DOMAINS_RUNNING`.
    pub const RUNNING: u32 = 16;
    /// `VIR_CONNECT_LIST_DOMAINS_PAUSED`.
    pub const PAUSED: u32 = 32;
    /// `VIR_CONNECT_LIST_DOMAINS_SHUTOFF`.
    pub const SHUTOFF: u32 = 64;
    /// `VIR_CONNECT_LIST_DOMAINS_OTHER`.
    pub const OTHER: u32 = 128;
    /// `VIR_CONNECT_LIST_DOMAINS_MANAGEDSAVE`.
    pub const MANAGEDSAVE: u32 = 256;
    /// `VIR_CONNECT_LIST_DOMAINS_NO_MANAGEDSAVE`.
    pub const NO_MANAGEDSAVE: u32 = 512;
    /// `VIR_CONNECT_LIST_DOMAINS_AUTOSTART`.
    pub const AUTOSTART: u32 = 1024;
    /// `VIR_CONNECT_LIST_DOMAINS_NO_AUTOSTART`.
    pub const NO_AUTOSTART: u32 = 2048;
    /// `VIR_CONNECT_LIST_DOMAINS_HAS_SNAPSHOT`.
    pub const HAS_SNAPSHOT: u32 = 4096;
    /// `VIR_CONNECT_LIST_DOMAINS_NO_SNAPSHOT`.
    pub const NO_SNAPSHOT: u32 = 8192;
    /// `VIR_CONNECT_LIST_DOMAINS_HAS_CHECKPOINT`.
    pub const HAS_CHECKPOINT: u32 = 16384;
    /// `VIR_CONNECT_LIST_DOMAINS_NO_CHECKPOINT`.
    pub const NO_CHECKPOINT: u32 = 32768;
    /// Every filter above.
    pub const ALL: u32 = ACTIVE
        | INACTIVE
        | PERSISTENT
        | TRANSIENT
        | RUNNING
        | PAUSED
        | SHUTOFF
        | OTHER
        | MANAGEDSAVE
        | NO_MANAGEDSAVE
        | AUTOSTART
        | NO_AUTOSTART
        | HAS_SNAPSHOT
        | NO_SNAPSHOT
        | HAS_CHECKPOINT
        | NO_CHECKPOINT;
}

/// `virDomainCreateFlags`.
pub mod create {
    /// `VIR_DOMAIN_START_PAUSED`.
    pub const PAUSED: u32 = 1;
    /// `VIR_DOMAIN_START_AUTODESTROY`.
    pub const AUTODESTROY: u32 = 2;
    /// `VIR_DOMAIN_START_BYPASS_CACHE`.
    pub const BYPASS_CACHE: u32 = 4;
    /// `VIR_DOMAIN_START_FORCE_BOOT`.
    pub const FORCE_BOOT: u32 = 8;
    /// `VIR_DOMAIN_START_VALIDATE`.
    pub const VALIDATE: u32 = 16;
    /// `VIR_DOMAIN_START_RESET_NVRAM`.
    pub const RESET_NVRAM: u32 = 32;
}

/// `virDomainDestroyFlagsValues`.
pub mod destroy {
    /// `VIR_DOMAIN_DESTROY_GRACEFUL`.
    pub const GRACEFUL: u32 = 1;
    /// `VIR_DOMAIN_DESTROY_REMOVE_LOGS`.
    pub const REMOVE_LOGS: u32 = 2;
}

/// `virDomainShutdownFlagValues`.
pub mod shutdown {
    /// `VIR_DOMAIN_SHUTDOWN_ACPI_POWER_BTN`.
    pub const ACPI_POWER_BTN: u32 = 1;
    /// `VIR_DOMAIN_SHUTDOWN_GUEST_AGENT`.
    pub const GUEST_AGENT: u32 = 2;
    /// `VIR_DOMAIN_SHUTDOWN_INITCTL`.
    pub const INITCTL: u32 = 4;
    /// `VIR_DOMAIN_SHUTDOWN_SIGNAL`.
    pub const SIGNAL: u32 = 8;
    /// `VIR_DOMAIN_SHUTDOWN_PARAVIRT`.
    pub const PARAVIRT: u32 = 16;
}

/// `virDomainRebootFlagValues`.
pub mod reboot {
    /// `VIR_DOMAIN_REBOOT_ACPI_POWER_BTN`.
    pub const ACPI_POWER_BTN: u32 = 1;
    /// `VIR_DOMAIN_REBOOT_GUEST_AGENT`.
    pub const GUEST_AGENT: u32 = 2;
    /// `VIR_DOMAIN_REBOOT_INITCTL`.
    pub const INITCTL: u32 = 4;
    /// `VIR_DOMAIN_REBOOT_SIGNAL`.
    pub const SIGNAL: u32 = 8;
    /// `VIR_DOMAIN_REBOOT_PARAVIRT`.
    pub const PARAVIRT: u32 = 16;
}

/// `virDomainUndefineFlagsValues`.
pub mod undefine {
    /// `VIR_DOMAIN_UNDEFINE_MANAGED_SAVE`.
    pub const MANAGED_SAVE: u32 = 1;
    /// `VIR_DOMAIN_UNDEFINE_SNAPSHOTS_METADATA`.
    pub const SNAPSHOTS_METADATA: u32 = 2;
    /// `VIR_DOMAIN_UNDEFINE_NVRAM`.
    pub const NVRAM: u32 = 4;
    /// `VIR_DOMAIN_UNDEFINE_KEEP_NVRAM`.
    pub const KEEP_NVRAM: u32 = 8;
    /// `VIR_DOMAIN_UNDEFINE_CHECKPOINTS_METADATA`.
    pub const CHECKPOINTS_METADATA: u32 = 16;
    /// `VIR_DOMAIN_UNDEFINE_TPM`.
    pub const TPM: u32 = 32;
    /// `VIR_DOMAIN_UNDEFINE_KEEP_TPM`.
    pub const KEEP_TPM: u32 = 64;
}

/// `virDomainDefineFlags`.
pub mod define {
    /// `VIR_DOMAIN_DEFINE_VALIDATE`.
    pub const VALIDATE: u32 = 1;
}

/// `virDomainXMLFlags`.
pub mod xml {
    /// `VIR_DOMAIN_XML_SECURE`.
    pub const SECURE: u32 = 1;
    /// `VIR_DOMAIN_XML_INACTIVE`.
    pub const INACTIVE: u32 = 2;
    /// `VIR_DOMAIN_XML_UPDATE_CPU`.
    pub const UPDATE_CPU: u32 = 4;
    /// `VIR_DOMAIN_XML_MIGRATABLE`.
    pub const MIGRATABLE: u32 = 8;
}

/// `virDomainModificationImpact`.
pub mod affect {
    /// `VIR_DOMAIN_AFFECT_CURRENT`.
    pub const CURRENT: u32 = 0;
    /// `VIR_DOMAIN_AFFECT_LIVE`.
    pub const LIVE: u32 = 1;
    /// `VIR_DOMAIN_AFFECT_CONFIG`.
    pub const CONFIG: u32 = 2;
}

/// `virDomainSaveRestoreFlags`.
pub mod save {
    /// `VIR_DOMAIN_SAVE_BYPASS_CACHE`.
    pub const BYPASS_CACHE: u32 = 1;
    /// `VIR_DOMAIN_SAVE_RUNNING`.
    pub const RUNNING: u32 = 2;
    /// `VIR_DOMAIN_SAVE_PAUSED`.
    pub const PAUSED: u32 = 4;
    /// `VIR_DOMAIN_SAVE_RESET_NVRAM`.
    pub const RESET_NVRAM: u32 = 8;
}

/// `virDomainSnapshotCreateFlags`.
pub mod snapshot_create {
    /// `VIR_DOMAIN_SNAPSHOT_CREATE_REDEFINE`.
    pub const REDEFINE: u32 = 1;
    /// `VIR_DOMAIN_SNAPSHOT_CREATE_CURRENT`.
    pub const CURRENT: u32 = 2;
    /// `VIR_DOMAIN_SNAPSHOT_CREATE_NO_METADATA`.
    pub const NO_METADATA: u32 = 4;
    /// `VIR_DOMAIN_SNAPSHOT_CREATE_HALT`.
    pub const HALT: u32 = 8;
    /// `VIR_DOMAIN_SNAPSHOT_CREATE_DISK_ONLY`.
    pub const DISK_ONLY: u32 = 16;
    /// `VIR_DOMAIN_SNAPSHOT_CREATE_REUSE_EXT`.
    pub const REUSE_EXT: u32 = 32;
    /// `VIR_DOMAIN_SNAPSHOT_CREATE_QUIESCE`.
    pub const QUIESCE: u32 = 64;
    /// `VIR_DOMAIN_SNAPSHOT_CREATE_ATOMIC`.
    pub const ATOMIC: u32 = 128;
    /// `VIR_DOMAIN_SNAPSHOT_CREATE_LIVE`.
    pub const LIVE: u32 = 256;
    /// `VIR_DOMAIN_SNAPSHOT_CREATE_VALIDATE`.
    pub const VALIDATE: u32 = 512;
}

/// `virDomainSnapshotListFlags`.
pub mod snapshot_list {
    /// `VIR_DOMAIN_SNAPSHOT_LIST_ROOTS`.
    pub const ROOTS: u32 = 1;
    /// `VIR_DOMAIN_SNAPSHOT_LIST_DESCENDANTS`.
    pub const DESCENDANTS: u32 = 1;
    /// `VIR_DOMAIN_SNAPSHOT_LIST_LEAVES`.
    pub const LEAVES: u32 = 4;
    /// `VIR_DOMAIN_SNAPSHOT_LIST_NO_LEAVES`.
    pub const NO_LEAVES: u32 = 8;
    /// `VIR_DOMAIN_SNAPSHOT_LIST_METADATA`.
    pub const METADATA: u32 = 2;
    /// `VIR_DOMAIN_SNAPSHOT_LIST_NO_METADATA`.
    pub const NO_METADATA: u32 = 16;
    /// `VIR_DOMAIN_SNAPSHOT_LIST_INACTIVE`.
    pub const INACTIVE: u32 = 32;
    /// `VIR_DOMAIN_SNAPSHOT_LIST_ACTIVE`.
    pub const ACTIVE: u32 = 64;
    /// `VIR_DOMAIN_SNAPSHOT_LIST_DISK_ONLY`.
    pub const DISK_ONLY: u32 = 128;
    /// `VIR_DOMAIN_SNAPSHOT_LIST_INTERNAL`.
    pub const INTERNAL: u32 = 256;
    /// `VIR_DOMAIN_SNAPSHOT_LIST_EXTERNAL`.
    pub const EXTERNAL: u32 = 512;
    /// `VIR_DOMAIN_SNAPSHOT_LIST_TOPOLOGICAL`.
    pub const TOPOLOGICAL: u32 = 1024;
}

/// `virDomainStatsTypes`.
pub mod stats {
    /// `VIR_DOMAIN_STATS_STATE`.
    pub const STATE: u32 = 1;
    /// `VIR_DOMAIN_STATS_CPU_TOTAL`.
    pub const CPU_TOTAL: u32 = 2;
    /// `VIR_DOMAIN_STATS_BALLOON`.
    pub const BALLOON: u32 = 4;
    /// `VIR_DOMAIN_STATS_VCPU`.
    pub const VCPU: u32 = 8;
    /// `VIR_DOMAIN_STATS_INTERFACE`.
    pub const INTERFACE: u32 = 16;
    /// `VIR_DOMAIN_STATS_BLOCK`.
    pub const BLOCK: u32 = 32;
    /// `VIR_DOMAIN_STATS_PERF`.
    pub const PERF: u32 = 64;
    /// `VIR_DOMAIN_STATS_IOTHREAD`.
    pub const IOTHREAD: u32 = 128;
    /// `VIR_DOMAIN_STATS_MEMORY`.
    pub const MEMORY: u32 = 256;
    /// `VIR_DOMAIN_STATS_DIRTYRATE`.
    pub const DIRTYRATE: u32 = 512;
    /// `VIR_DOMAIN_STATS_VM`.
    pub const VM: u32 = 1024;
}

/// `virConnectGetAllDomainStatsFlags`: which domains (the filters select as [`list`]'s
/// flags of the same values do) and how.
pub mod all_stats {
    /// `VIR_CONNECT_GET_ALL_DOMAINS_STATS_ACTIVE`.
    pub const ACTIVE: u32 = 1;
    /// `VIR_CONNECT_GET_ALL_DOMAINS_STATS_INACTIVE`.
    pub const INACTIVE: u32 = 2;
    /// `VIR_CONNECT_GET_ALL_DOMAINS_STATS_PERSISTENT`.
    pub const PERSISTENT: u32 = 4;
    /// `VIR_CONNECT_GET_ALL_DOMAINS_STATS_TRANSIENT`.
    pub const TRANSIENT: u32 = 8;
    /// `VIR_CONNECT_GET_ALL_DOMAINS_STATS_RUNNING`.
    pub const RUNNING: u32 = 16;
    /// `VIR_CONNECT_GET_ALL_DOMAINS_STATS_PAUSED`.
    pub const PAUSED: u32 = 32;
    /// `VIR_CONNECT_GET_ALL_DOMAINS_STATS_SHUTOFF`.
    pub const SHUTOFF: u32 = 64;
    /// `VIR_CONNECT_GET_ALL_DOMAINS_STATS_OTHER`.
    pub const OTHER: u32 = 128;
    /// `VIR_CONNECT_GET_ALL_DOMAINS_STATS_NOWAIT`.
    pub const NOWAIT: u32 = 1 << 29;
    /// `VIR_CONNECT_GET_ALL_DOMAINS_STATS_BACKING`.
    pub const BACKING: u32 = 1 << 30;
    /// `VIR_CONNECT_GET_ALL_DOMAINS_STATS_ENFORCE_STATS`.
    pub const ENFORCE_STATS: u32 = 1 << 31;
}

/// `virDomainGetMessagesFlags`.
pub mod messages {
    /// `VIR_DOMAIN_GET_MESSAGES_DEPRECATION`.
    pub const DEPRECATION: u32 = 1;
    /// `VIR_DOMAIN_GET_MESSAGES_TAINTING`.
    pub const TAINTING: u32 = 2;
}

/// `virDomainDeviceModifyFlags`: the [`affect`] values, plus `FORCE`.
pub mod device {
    pub use super::affect::*;
    /// `VIR_DOMAIN_DEVICE_MODIFY_FORCE`.
    pub const FORCE: u32 = 4;
}

/// `virDomainMemoryModFlags`: the [`affect`] values, plus `MAXIMUM`.
pub mod memory {
    pub use super::affect::*;
    /// `VIR_DOMAIN_MEM_MAXIMUM`: change the maximum memory instead of the current.
    pub const MAXIMUM: u32 = 4;
}

/// `virDomainVcpuFlags`: the [`affect`] values, plus these.
pub mod vcpu {
    pub use super::affect::*;
    /// `VIR_DOMAIN_VCPU_MAXIMUM`: the maximum number of vCPUs.
    pub const MAXIMUM: u32 = 4;
    /// `VIR_DOMAIN_VCPU_GUEST`: through the guest agent.
    pub const GUEST: u32 = 8;
    /// `VIR_DOMAIN_VCPU_HOTPLUGGABLE`: hotpluggable vCPUs.
    pub const HOTPLUGGABLE: u32 = 16;
}

/// `virDomainSnapshotDeleteFlags`.
pub mod snapshot_delete {
    /// `VIR_DOMAIN_SNAPSHOT_DELETE_CHILDREN`: also delete its descendants.
    pub const CHILDREN: u32 = 1;
    /// `VIR_DOMAIN_SNAPSHOT_DELETE_METADATA_ONLY`: only forget the metadata.
    pub const METADATA_ONLY: u32 = 2;
    /// `VIR_DOMAIN_SNAPSHOT_DELETE_CHILDREN_ONLY`: delete only its descendants.
    pub const CHILDREN_ONLY: u32 = 4;
}

/// `virDomainSnapshotRevertFlags`.
pub mod snapshot_revert {
    /// `VIR_DOMAIN_SNAPSHOT_REVERT_RUNNING`: run after reverting.
    pub const RUNNING: u32 = 1;
    /// `VIR_DOMAIN_SNAPSHOT_REVERT_PAUSED`: pause after reverting.
    pub const PAUSED: u32 = 2;
    /// `VIR_DOMAIN_SNAPSHOT_REVERT_FORCE`: allow risky reverts.
    pub const FORCE: u32 = 4;
    /// `VIR_DOMAIN_SNAPSHOT_REVERT_RESET_NVRAM`: start from a fresh NVRAM.
    pub const RESET_NVRAM: u32 = 8;
}

/// `virDomainSnapshotXMLFlags`.
pub mod snapshot_xml {
    /// `VIR_DOMAIN_SNAPSHOT_XML_SECURE`: include security-sensitive data.
    pub const SECURE: u32 = 1;
}

/// `virDomainMetadataType`.
pub mod metadata {
    /// `VIR_DOMAIN_METADATA_DESCRIPTION`: the `<description>` text.
    pub const DESCRIPTION: i32 = 0;
    /// `VIR_DOMAIN_METADATA_TITLE`: the `<title>` text.
    pub const TITLE: i32 = 1;
    /// `VIR_DOMAIN_METADATA_ELEMENT`: one namespaced element of `<metadata>`.
    pub const ELEMENT: i32 = 2;
}

/// `virDomainConsoleFlags`.
pub mod console {
    /// Take the console from a session that holds it.
    pub const FORCE: u32 = 1;
    /// Refuse a console that is not safe to share (libvirt: check for PTY/unix safety).
    pub const SAFE: u32 = 2;
}
