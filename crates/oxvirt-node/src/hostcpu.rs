//! The host's CPU as the capabilities' `<host><cpu>` describes it.

/// `<host><cpu>`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct HostCpu {
    /// `<arch>` (`x86_64`, `aarch64`).
    pub arch: String,
    /// `<model>`; omitted when `None`.
    pub model: Option<String>,
    /// `<vendor>`; omitted when `None`.
    pub vendor: Option<String>,
    /// `<microcode version=.../>`; omitted when `None`.
    pub microcode: Option<String>,
    /// `<signature family= model= stepping=/>`; omitted when `None`.
    pub signature: Option<(u32, u32, u32)>,
    /// `<counter name='tsc' frequency= scaling=/>`: (Hz, scaling); omitted when `None`.
    pub tsc: Option<(u64, String)>,
    /// `<topology sockets= dies= cores= threads=/>`; omitted when `None`.
    pub topology: Option<CpuTopology>,
    /// `<maxphysaddr mode= bits=/>`: (mode, bits); omitted when `None`.
    pub maxphysaddr: Option<(String, u32)>,
    /// `<feature name=.../>` entries, in order.
    pub features: Vec<String>,
    /// `<pages unit='KiB' size=.../>`: the page sizes the host offers (KiB), in order.
    pub pages: Vec<u64>,
}

/// `<topology>` of the host CPU.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct CpuTopology {
    /// Sockets.
    pub sockets: u32,
    /// Dies per socket.
    pub dies: u32,
    /// Cores per die.
    pub cores: u32,
    /// Threads per core.
    pub threads: u32,
}
