//! The host's SMBIOS data as libvirt's `<sysinfo type='smbios'>` (`virConnectGetSysinfo`),
//! gathered as libvirt's `virSysinfoRead` does: on x86 (and as a first try on ARM) from
//! `dmidecode -q -t 0,1,2,3,4,11,17`, on POWER and ARM from `/proc/cpuinfo`, on s390 from
//! `/proc/cpuinfo` and `/proc/sysinfo`.
//!
//! The parsers keep libvirt's text matching: each field is the first `Name: ` found
//! anywhere after its section's heading, up to the end of that line, trailing blanks
//! dropped.

use oxvirt_xml::{ErrorCode, ErrorDomain, VirError};

use crate::Host;

/// The `dmidecode` libvirt runs.
pub const DMIDECODE: &str = "dmidecode";

/// What a command printed and how it ended.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct CommandOutput {
    /// The exit status (0: success).
    pub status: i32,
    /// Its standard output.
    pub stdout: String,
    /// Its standard error.
    pub stderr: String,
}

/// Runs external commands (replaced in tests).
pub trait CommandRunner {
    /// Runs `argv` (program first) and collects its output; `Err` when it cannot start.
    fn run(&self, argv: &[&str]) -> std::io::Result<CommandOutput>;
}

/// Runs commands on this system.
#[derive(Debug, Clone, Copy, Default)]
pub struct SystemRunner;

impl CommandRunner for SystemRunner {
    fn run(&self, argv: &[&str]) -> std::io::Result<CommandOutput> {
        let (prog, args) = argv
            .split_first()
            .ok_or_else(|| std::io::Error::other("empty command"))?;
        let out = std::process::Command::new(prog)
            .args(args)
            .stdin(std::process::Stdio::null())
            .output()?;
        Ok(CommandOutput {
            status: out.status.code().unwrap_or(-1),
            stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
            stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
        })
    }
}

/// `<bios>`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Bios {
    /// `vendor`.
    pub vendor: Option<String>,
    /// `version`.
    pub version: Option<String>,
    /// `date`.
    pub date: Option<String>,
    /// `release`.
    pub release: Option<String>,
}

/// `<system>`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct System {
    /// `manufacturer`.
    pub manufacturer: Option<String>,
    /// `product`.
    pub product: Option<String>,
    /// `version`.
    pub version: Option<String>,
    /// `serial`.
    pub serial: Option<String>,
    /// `uuid`.
    pub uuid: Option<String>,
    /// `sku`.
    pub sku: Option<String>,
    /// `family`.
    pub family: Option<String>,
}

/// `<baseBoard>`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct BaseBoard {
    /// `manufacturer`.
    pub manufacturer: Option<String>,
    /// `product`.
    pub product: Option<String>,
    /// `version`.
    pub version: Option<String>,
    /// `serial`.
    pub serial: Option<String>,
    /// `asset`.
    pub asset: Option<String>,
    /// `location`.
    pub location: Option<String>,
}

/// `<chassis>`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Chassis {
    /// `manufacturer`.
    pub manufacturer: Option<String>,
    /// `version`.
    pub version: Option<String>,
    /// `serial`.
    pub serial: Option<String>,
    /// `asset`.
    pub asset: Option<String>,
    /// `sku`.
    pub sku: Option<String>,
}

/// `<processor>`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Processor {
    /// `socket_destination`.
    pub socket_destination: Option<String>,
    /// `type`.
    pub kind: Option<String>,
    /// `family`.
    pub family: Option<String>,
    /// `manufacturer`.
    pub manufacturer: Option<String>,
    /// `signature`.
    pub signature: Option<String>,
    /// `version`.
    pub version: Option<String>,
    /// `external_clock`.
    pub external_clock: Option<String>,
    /// `max_speed`.
    pub max_speed: Option<String>,
    /// `status`.
    pub status: Option<String>,
    /// `serial_number`.
    pub serial_number: Option<String>,
    /// `part_number`.
    pub part_number: Option<String>,
}

/// `<memory_device>`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct MemoryDevice {
    /// `size`.
    pub size: Option<String>,
    /// `form_factor`.
    pub form_factor: Option<String>,
    /// `locator`.
    pub locator: Option<String>,
    /// `bank_locator`.
    pub bank_locator: Option<String>,
    /// `type`.
    pub kind: Option<String>,
    /// `type_detail`.
    pub type_detail: Option<String>,
    /// `speed`.
    pub speed: Option<String>,
    /// `manufacturer`.
    pub manufacturer: Option<String>,
    /// `serial_number`.
    pub serial_number: Option<String>,
    /// `part_number`.
    pub part_number: Option<String>,
}

/// The host's `<sysinfo type='smbios'>`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Sysinfo {
    /// `<bios>`.
    pub bios: Option<Bios>,
    /// `<system>`.
    pub system: Option<System>,
    /// `<baseBoard>` entries.
    pub base_boards: Vec<BaseBoard>,
    /// `<chassis>`.
    pub chassis: Option<Chassis>,
    /// `<processor>` entries.
    pub processors: Vec<Processor>,
    /// `<memory_device>` entries.
    pub memory: Vec<MemoryDevice>,
    /// `<oemStrings>`; `None` omits it.
    pub oem_strings: Option<Vec<String>>,
}

/// Which of libvirt's readers applies to an architecture (`std::env::consts::ARCH` names or
/// libvirt's).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Reader {
    /// x86 and LoongArch: dmidecode.
    Dmi,
    /// ARM: dmidecode, else `/proc/cpuinfo`.
    Arm,
    /// POWER: `/proc/cpuinfo`.
    Ppc,
    /// s390: `/proc/cpuinfo` and `/proc/sysinfo`.
    S390,
}

impl Reader {
    /// The reader for `arch`; `None` where libvirt has none ("Host sysinfo extraction not
    /// supported on this platform").
    pub fn for_arch(arch: &str) -> Option<Reader> {
        match arch {
            "x86_64" | "x86" | "i686" | "i386" | "loongarch64" => Some(Reader::Dmi),
            "arm" | "aarch64" | "armv7l" | "armv6l" => Some(Reader::Arm),
            "powerpc" | "powerpc64" | "ppc" | "ppc64" | "ppc64le" => Some(Reader::Ppc),
            "s390x" | "s390" => Some(Reader::S390),
            _ => None,
        }
    }
}

/// The host's sysinfo for this machine's architecture (`virSysinfoRead`).
pub fn read(host: &Host, runner: &dyn CommandRunner) -> Result<Sysinfo, VirError> {
    match Reader::for_arch(std::env::consts::ARCH) {
        Some(r) => read_with(host, r, runner),
        None => Err(VirError::new(
            ErrorDomain::Sysinfo,
            ErrorCode::SystemError,
            "Host sysinfo extraction not supported on this platform: Function not implemented",
        )),
    }
}

/// `virSysinfoRead` with the reader `reader`: files come from below `host`'s root,
/// commands from `runner`.
pub fn read_with(
    host: &Host,
    reader: Reader,
    runner: &dyn CommandRunner,
) -> Result<Sysinfo, VirError> {
    match reader {
        Reader::Dmi => read_dmi(runner),
        Reader::Arm => {
            if let Ok(s) = read_dmi(runner) {
                if s != Sysinfo::default() {
                    return Ok(s);
                }
            }
            let cpuinfo = read_file(host, "/proc/cpuinfo")?;
            Ok(Sysinfo {
                processors: parse_arm_processors(&cpuinfo),
                system: parse_cpuinfo_system(&cpuinfo),
                ..Sysinfo::default()
            })
        }
        Reader::Ppc => {
            let cpuinfo = read_file(host, "/proc/cpuinfo")?;
            Ok(Sysinfo {
                processors: parse_ppc_processors(&cpuinfo),
                system: parse_cpuinfo_system(&cpuinfo),
                ..Sysinfo::default()
            })
        }
        Reader::S390 => {
            let cpuinfo = read_file(host, "/proc/cpuinfo")?;
            let processors = parse_s390_processors(&cpuinfo).ok_or_else(|| {
                VirError::new(
                    ErrorDomain::Sysinfo,
                    ErrorCode::InternalError,
                    "Failed to parse /proc/cpuinfo",
                )
            })?;
            let sysinfo = read_file(host, "/proc/sysinfo")?;
            let system = parse_s390_system(&sysinfo).ok_or_else(|| {
                VirError::new(
                    ErrorDomain::Sysinfo,
                    ErrorCode::InternalError,
                    "Failed to parse /proc/sysinfo",
                )
            })?;
            Ok(Sysinfo {
                processors,
                system: Some(system),
                ..Sysinfo::default()
            })
        }
    }
}

/// The error libvirt's QEMU driver gives `virConnectGetSysinfo` when reading the SMBIOS
/// data failed at start-up (no DMI tables, no `dmidecode`): `VIR_ERR_CONFIG_UNSUPPORTED`
/// "Host SMBIOS information is not available", from `domain` (the driver's).
pub fn not_available(domain: ErrorDomain) -> VirError {
    VirError::new(
        domain,
        ErrorCode::ConfigUnsupported,
        "Host SMBIOS information is not available",
    )
}

/// The `<sysinfo>` XML `virConnectGetSysinfo` returns, or [`not_available`] (with
/// `domain`) when the host's SMBIOS data cannot be read.
pub fn host_sysinfo_xml(
    host: &Host,
    runner: &dyn CommandRunner,
    domain: ErrorDomain,
) -> Result<String, VirError> {
    read(host, runner)
        .map(|s| s.format())
        .map_err(|_| not_available(domain))
}

fn read_file(host: &Host, path: &str) -> Result<String, VirError> {
    host.read(path).map_err(|_| {
        VirError::new(
            ErrorDomain::Sysinfo,
            ErrorCode::InternalError,
            format!("Failed to open {path}"),
        )
    })
}

fn command_error(argv: &[&str], detail: &str) -> VirError {
    VirError::new(
        ErrorDomain::Sysinfo,
        ErrorCode::InternalError,
        format!("Child process ({}) {detail}", argv.join(" ")),
    )
}

/// Runs `argv`; its output when it exits 0.
fn run_ok(runner: &dyn CommandRunner, argv: &[&str]) -> Result<CommandOutput, VirError> {
    let out = runner.run(argv).map_err(|e| {
        VirError::new(
            ErrorDomain::Sysinfo,
            ErrorCode::SystemError,
            format!(
                "Cannot find '{}' in path: {}",
                argv[0],
                crate::stats::strerror(&e)
            ),
        )
    })?;
    if out.status != 0 {
        return Err(command_error(
            argv,
            &format!(
                "unexpected exit status {}: {}",
                out.status,
                out.stderr.trim_end()
            ),
        ));
    }
    Ok(out)
}

/// `virSysinfoReadDMI`.
pub fn read_dmi(runner: &dyn CommandRunner) -> Result<Sysinfo, VirError> {
    let out = run_ok(runner, &[DMIDECODE, "-q", "-t", "0,1,2,3,4,11,17"])?;
    parse_dmi(&out.stdout, runner)
}

/// The value after `key` at or after `from` in `text`, to the end of its line with trailing
/// white space dropped: libvirt's `strstr` + `virSkipSpacesBackwards`. `None` when `key`
/// does not occur, the line has no end, or the value is empty.
fn field(text: &str, from: usize, key: &str) -> Option<String> {
    let at = text[from..].find(key)? + from + key.len();
    value_at(text, at)
}

fn value_at(text: &str, at: usize) -> Option<String> {
    let eol = text[at..].find('\n')? + at;
    let v = text[at..eol].trim_end_matches(|c: char| c.is_ascii_whitespace());
    (!v.is_empty()).then(|| v.to_string())
}

/// Parses `dmidecode -q -t 0,1,2,3,4,11,17`'s output as libvirt does; `runner` answers the
/// `dmidecode --dump --oem-string N` libvirt asks for OEM strings holding a `.` (dmidecode's
/// stand-in for unprintable characters).
pub fn parse_dmi(text: &str, runner: &dyn CommandRunner) -> Result<Sysinfo, VirError> {
    Ok(Sysinfo {
        bios: parse_bios(text),
        system: parse_x86_system(text),
        base_boards: parse_base_boards(text),
        chassis: parse_chassis(text),
        oem_strings: parse_oem_strings(text, runner)?,
        processors: parse_x86_processors(text),
        memory: parse_memory(text),
    })
}

fn parse_bios(text: &str) -> Option<Bios> {
    let b = text.find("BIOS Information")?;
    let def = Bios {
        vendor: field(text, b, "Vendor: "),
        version: field(text, b, "Version: "),
        date: field(text, b, "Release Date: "),
        release: field(text, b, "BIOS Revision: "),
    };
    (def != Bios::default()).then_some(def)
}

fn parse_x86_system(text: &str) -> Option<System> {
    let b = text.find("System Information")?;
    let def = System {
        manufacturer: field(text, b, "Manufacturer: "),
        product: field(text, b, "Product Name: "),
        version: field(text, b, "Version: "),
        serial: field(text, b, "Serial Number: "),
        uuid: field(text, b, "UUID: "),
        sku: field(text, b, "SKU Number: "),
        family: field(text, b, "Family: "),
    };
    (def != System::default()).then_some(def)
}

fn parse_base_boards(text: &str) -> Vec<BaseBoard> {
    const HEAD: &str = "Base Board Information";
    let mut boards = Vec::new();
    let mut from = 0;
    while let Some(at) = text[from..].find(HEAD) {
        let b = from + at + HEAD.len();
        let def = BaseBoard {
            manufacturer: field(text, b, "Manufacturer: "),
            product: field(text, b, "Product Name: "),
            version: field(text, b, "Version: "),
            serial: field(text, b, "Serial Number: "),
            asset: field(text, b, "Asset Tag: "),
            location: field(text, b, "Location In Chassis: "),
        };
        if def != BaseBoard::default() {
            boards.push(def);
        }
        from = b;
    }
    boards
}

fn parse_chassis(text: &str) -> Option<Chassis> {
    let b = text.find("Chassis Information")?;
    let def = Chassis {
        manufacturer: field(text, b, "Manufacturer: "),
        version: field(text, b, "Version: "),
        serial: field(text, b, "Serial Number: "),
        asset: field(text, b, "Asset Tag: "),
        sku: field(text, b, "SKU Number: "),
    };
    (def != Chassis::default()).then_some(def)
}

fn malformed() -> VirError {
    VirError::new(
        ErrorDomain::Sysinfo,
        ErrorCode::InternalError,
        "Malformed output of dmidecode",
    )
}

fn parse_oem_strings(
    text: &str,
    runner: &dyn CommandRunner,
) -> Result<Option<Vec<String>>, VirError> {
    let Some(mut cur) = text.find("OEM Strings") else {
        return Ok(None);
    };
    let mut values = Vec::new();
    let mut index = 1usize;
    while let Some(at) = text[cur..].find("String ") {
        let mut p = cur + at + "String ".len();
        let eol = text[p..].find('\n').ok_or_else(malformed)? + p;
        p += text[p..].len()
            - text[p..]
                .trim_start_matches(|c: char| c.is_ascii_digit())
                .len();
        if !text[p..].starts_with(':') {
            return Err(malformed());
        }
        p += 2;
        while p < text.len() && !text.is_char_boundary(p) {
            p += 1;
        }
        let value = text
            .get(p..eol)
            .map(|v| v.trim_end_matches(|c: char| c.is_ascii_whitespace()))
            .filter(|v| !v.is_empty());
        let Some(value) = value else {
            cur = p.min(text.len());
            continue;
        };
        if value.contains('.') {
            let n = index.to_string();
            let argv = [DMIDECODE, "--dump", "--oem-string", n.as_str()];
            let out = run_ok(runner, &argv)?;
            if !out.stderr.is_empty() {
                return Err(command_error(&argv, out.stderr.trim_end()));
            }
            values.push(out.stdout);
        } else {
            values.push(value.to_string());
        }
        index += 1;
        cur = eol;
    }
    Ok(Some(values))
}

fn parse_x86_processors(text: &str) -> Vec<Processor> {
    const HEAD: &str = "Processor Information";
    let mut out = Vec::new();
    let mut from = 0;
    while let Some(at) = text[from..].find(HEAD) {
        let b = from + at;
        out.push(Processor {
            socket_destination: field(text, b, "Socket Designation: "),
            kind: field(text, b, "Type: "),
            family: field(text, b, "Family: "),
            manufacturer: field(text, b, "Manufacturer: "),
            signature: field(text, b, "Signature: "),
            version: field(text, b, "Version: "),
            external_clock: field(text, b, "External Clock: "),
            max_speed: field(text, b, "Max Speed: "),
            status: field(text, b, "Status: "),
            serial_number: field(text, b, "Serial Number: "),
            part_number: field(text, b, "Part Number: "),
        });
        from = b + HEAD.len();
    }
    out
}

fn parse_memory(text: &str) -> Vec<MemoryDevice> {
    const HEAD: &str = "Memory Device";
    let mut out = Vec::new();
    let mut from = 0;
    while let Some(at) = text[from..].find(HEAD) {
        let b = from + at;
        from = b + HEAD.len();
        let mut dev = MemoryDevice::default();
        if let Some(s) = text[b..].find("Size: ") {
            let p = b + s + "Size: ".len();
            let line_end = text[p..].find('\n').map_or(text.len(), |e| e + p);
            // libvirt compares the line's start with "No Module Installed" over the line's
            // length: an empty remainder or a prefix of it also skips the device.
            if "No Module Installed".starts_with(&text[p..line_end]) {
                out.push(dev);
                continue;
            }
            dev.size = value_at(text, p);
        }
        dev.form_factor = field(text, b, "Form Factor: ");
        dev.locator = field(text, b, "Locator: ");
        dev.bank_locator = field(text, b, "Bank Locator: ");
        dev.kind = field(text, b, "Type: ");
        dev.type_detail = field(text, b, "Type Detail: ");
        dev.speed = field(text, b, "Speed: ");
        dev.manufacturer = field(text, b, "Manufacturer: ");
        dev.serial_number = field(text, b, "Serial Number: ");
        dev.part_number = field(text, b, "Part Number: ");
        out.push(dev);
    }
    out
}

/// The value after the `:` following `at`, from its first non-blank to the end of the
/// line (libvirt's `strchr(':') + 1`, `virSkipSpaces`, `strndup(eol - cur)`); `None`
/// without a `:` or a line end. The value may be empty.
fn colon_value(text: &str, at: usize) -> Option<(String, usize)> {
    let colon = text[at..].find(':')? + at + 1;
    let start = colon
        + (text[colon..].len()
            - text[colon..]
                .trim_start_matches(|c: char| c.is_ascii_whitespace())
                .len());
    let eol = text[colon..].find('\n')? + colon;
    // virSkipSpaces may run past the line's end (an empty value): strndup then gets a
    // negative length, which libvirt never meets in practice; an empty value stands in.
    let v = if start <= eol { &text[start..eol] } else { "" };
    Some((v.to_string(), start))
}

/// POWER and ARM `<system>` from `/proc/cpuinfo`'s `platform`, `model` and `machine`.
fn parse_cpuinfo_system(text: &str) -> Option<System> {
    let b = text.find("platform")?;
    let mut def = System {
        family: colon_value(text, b).map(|v| v.0),
        ..System::default()
    };
    if let Some(m) = text[b..].find("model") {
        def.serial = colon_value(text, b + m).map(|v| v.0);
    }
    if let Some(m) = text[b..].find("machine") {
        def.version = colon_value(text, b + m).map(|v| v.0);
    }
    (def != System::default()).then_some(def)
}

fn parse_ppc_processors(text: &str) -> Vec<Processor> {
    let mut out = Vec::new();
    let mut base = 0;
    while let Some(at) = text[base..].find("processor") {
        let b = base + at;
        let mut p = Processor::default();
        // libvirt takes the line's end from "processor", the value after the next ':'.
        let eol = text[b..].find('\n').map(|e| e + b);
        let colon = match text[b..].find(':') {
            Some(c) => b + c + 1,
            None => break,
        };
        let start = colon
            + (text[colon..].len()
                - text[colon..]
                    .trim_start_matches(|c: char| c.is_ascii_whitespace())
                    .len());
        if let Some(eol) = eol {
            p.socket_destination = Some(text.get(start..eol).unwrap_or("").to_string());
        }
        let mut cur = start;
        if let Some(c) = text[cur..].find("cpu") {
            if let Some((v, s)) = colon_value(text, cur + c) {
                p.kind = Some(v);
                cur = s;
            }
        }
        if let Some(c) = text[cur..].find("revision") {
            if let Some((v, s)) = colon_value(text, cur + c) {
                p.version = Some(v);
                cur = s;
            }
        }
        out.push(p);
        base = cur;
    }
    out
}

fn parse_arm_processors(text: &str) -> Vec<Processor> {
    let Some(t) = text.find("model name").or_else(|| text.find("Processor")) else {
        return Vec::new();
    };
    let kind = colon_value(text, t).map(|v| v.0);
    let mut out = Vec::new();
    let mut base = 0;
    while let Some(at) = text[base..].find("processor") {
        let b = base + at;
        let eol = text[b..].find('\n').map(|e| e + b);
        let Some(c) = text[b..].find(':') else { break };
        let colon = b + c + 1;
        let start = colon
            + (text[colon..].len()
                - text[colon..]
                    .trim_start_matches(|c: char| c.is_ascii_whitespace())
                    .len());
        out.push(Processor {
            socket_destination: eol.map(|eol| text.get(start..eol).unwrap_or("").to_string()),
            kind: kind.clone(),
            ..Processor::default()
        });
        base = start;
    }
    out
}

/// libvirt's `virSysinfoParseS390Delimited`: the text after `delim1` following `name`, to
/// `delim2` (or the end), trimmed; with the position of its end.
fn s390_delimited(text: &str, name: &str, d1: char, d2: char) -> Option<(String, usize)> {
    let s = text.find(name)?;
    let start = text[s..].find(d1)? + s + 1;
    let end = text[start..].find(d2).map_or(text.len(), |e| e + start);
    Some((text[start..end].trim().to_string(), end))
}

/// s390 `<system>` from `/proc/sysinfo`; `None` (an error, as libvirt's) when a field is
/// missing.
fn parse_s390_system(text: &str) -> Option<System> {
    let def = System {
        manufacturer: Some(s390_delimited(text, "Manufacturer", ':', '\n')?.0),
        family: Some(s390_delimited(text, "Type", ':', '\n')?.0),
        serial: Some(s390_delimited(text, "Sequence Code", ':', '\n')?.0),
        ..System::default()
    };
    Some(def)
}

fn parse_s390_processors(text: &str) -> Option<Vec<Processor>> {
    let (manufacturer, mut pos) = s390_delimited(text, "vendor_id", ':', '\n')?;
    let mut out: Vec<Processor> = Vec::new();
    while let Some(at) = text[pos..].find("processor ") {
        let Some((line, end)) = s390_delimited(&text[pos + at..], "processor ", ':', '\n') else {
            break;
        };
        pos = pos + at + end;
        out.push(Processor {
            manufacturer: Some(manufacturer.clone()),
            version: Some(s390_delimited(&line, "version", '=', ',')?.0),
            serial_number: Some(s390_delimited(&line, "identification", '=', ',')?.0),
            family: Some(s390_delimited(&line, "machine", '=', '\n')?.0),
            ..Processor::default()
        });
    }
    let mut pos = 0;
    while let Some(at) = text[pos..].find("cpu number") {
        let Some((n, end)) = s390_delimited(&text[pos + at..], "cpu number", ':', '\n') else {
            break;
        };
        pos = pos + at + end;
        let n: usize = n.parse().ok()?;
        if n >= out.len() {
            break;
        }
        let Some(m) = text[pos..].find("cpu MHz static") else {
            break;
        };
        let Some((mhz, end)) = s390_delimited(&text[pos + m..], "cpu MHz static", ':', '\n') else {
            break;
        };
        pos = pos + m + end;
        out[n].max_speed = Some(mhz);
    }
    Some(out)
}

/// libvirt's `virBufferEscapeString` for text: `<>&'"` as entities, other control
/// characters than tab, line feed and carriage return dropped.
fn escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '&' => out.push_str("&amp;"),
            '\'' => out.push_str("&apos;"),
            '"' => out.push_str("&quot;"),
            c if (c as u32) < 0x20 && !matches!(c, '\t' | '\n' | '\r') => {}
            c => out.push(c),
        }
    }
    out
}

fn section(out: &mut String, name: &str, entries: &[(&str, &Option<String>)]) {
    out.push_str(&format!("  <{name}>\n"));
    for (key, value) in entries {
        if let Some(v) = value {
            out.push_str(&format!("    <entry name='{key}'>{}</entry>\n", escape(v)));
        }
    }
    out.push_str(&format!("  </{name}>\n"));
}

impl Sysinfo {
    /// `virSysinfoFormat`: the `<sysinfo type='smbios'>` document, with a final newline.
    pub fn format(&self) -> String {
        let mut body = String::new();
        if let Some(b) = &self.bios {
            section(
                &mut body,
                "bios",
                &[
                    ("vendor", &b.vendor),
                    ("version", &b.version),
                    ("date", &b.date),
                    ("release", &b.release),
                ],
            );
        }
        if let Some(s) = &self.system {
            section(
                &mut body,
                "system",
                &[
                    ("manufacturer", &s.manufacturer),
                    ("product", &s.product),
                    ("version", &s.version),
                    ("serial", &s.serial),
                    ("uuid", &s.uuid),
                    ("sku", &s.sku),
                    ("family", &s.family),
                ],
            );
        }
        for b in &self.base_boards {
            section(
                &mut body,
                "baseBoard",
                &[
                    ("manufacturer", &b.manufacturer),
                    ("product", &b.product),
                    ("version", &b.version),
                    ("serial", &b.serial),
                    ("asset", &b.asset),
                    ("location", &b.location),
                ],
            );
        }
        if let Some(c) = &self.chassis {
            section(
                &mut body,
                "chassis",
                &[
                    ("manufacturer", &c.manufacturer),
                    ("version", &c.version),
                    ("serial", &c.serial),
                    ("asset", &c.asset),
                    ("sku", &c.sku),
                ],
            );
        }
        for p in self
            .processors
            .iter()
            .filter(|p| **p != Processor::default())
        {
            section(
                &mut body,
                "processor",
                &[
                    ("socket_destination", &p.socket_destination),
                    ("type", &p.kind),
                    ("family", &p.family),
                    ("manufacturer", &p.manufacturer),
                    ("signature", &p.signature),
                    ("version", &p.version),
                    ("external_clock", &p.external_clock),
                    ("max_speed", &p.max_speed),
                    ("status", &p.status),
                    ("serial_number", &p.serial_number),
                    ("part_number", &p.part_number),
                ],
            );
        }
        for m in self
            .memory
            .iter()
            .filter(|m| **m != MemoryDevice::default())
        {
            section(
                &mut body,
                "memory_device",
                &[
                    ("size", &m.size),
                    ("form_factor", &m.form_factor),
                    ("locator", &m.locator),
                    ("bank_locator", &m.bank_locator),
                    ("type", &m.kind),
                    ("type_detail", &m.type_detail),
                    ("speed", &m.speed),
                    ("manufacturer", &m.manufacturer),
                    ("serial_number", &m.serial_number),
                    ("part_number", &m.part_number),
                ],
            );
        }
        if let Some(strings) = &self.oem_strings {
            body.push_str("  <oemStrings>\n");
            for s in strings {
                body.push_str(&format!("    <entry>{}</entry>\n", escape(s)));
            }
            body.push_str("  </oemStrings>\n");
        }
        if body.is_empty() {
            "<sysinfo type='smbios'/>\n".to_string()
        } else {
            format!("<sysinfo type='smbios'>\n{body}</sysinfo>\n")
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    struct Echo;

    impl CommandRunner for Echo {
        fn run(&self, argv: &[&str]) -> std::io::Result<CommandOutput> {
            Ok(CommandOutput {
                status: 0,
                stdout: format!("oem {}", argv.last().copied().unwrap_or("")),
                stderr: String::new(),
            })
        }
    }

    #[test]
    fn odd_dmidecode_output_does_not_panic() {
        let texts = [
            "OEM Strings\n\tString 1:\u{e9}\u{e9}x\n",
            "OEM Strings\n\tString 1: a.b\n\tString 2: c\n",
            "OEM Strings\n\tString x",
            "Memory Device\n\tSize: No Module\n",
            "BIOS Information\n\tVendor: \u{fc}ber  \n\tVersion:",
            "Processor Information\nType: ",
            "",
        ];
        for t in texts {
            let _ = parse_dmi(t, &Echo);
        }
        let s = parse_dmi("OEM Strings\n\tString 1: a.b\n\tString 2: c\n", &Echo).unwrap();
        assert_eq!(
            s.oem_strings,
            Some(vec!["oem 1".to_string(), "c".to_string()])
        );
        let s = parse_dmi("BIOS Information\n\tVendor: V <&>  \n", &Echo).unwrap();
        assert_eq!(
            s.format(),
            "<sysinfo type='smbios'>\n  <bios>\n    <entry name='vendor'>V &lt;&amp;&gt;</entry>\n  </bios>\n</sysinfo>\n"
        );
        let e = parse_dmi("OEM Strings\n\tString 1x\n", &Echo).unwrap_err();
        assert_eq!(e.message, "internal error: Malformed output of dmidecode");
        // A memory slot without a module is left out.
        let s = parse_dmi(
            "Memory Device\n\tSize: No Module Installed\n\tLocator: A\n",
            &Echo,
        )
        .unwrap();
        assert_eq!(s.format(), "<sysinfo type='smbios'/>\n");
    }

    #[test]
    fn readers_per_arch() {
        assert_eq!(Reader::for_arch("x86_64"), Some(Reader::Dmi));
        assert_eq!(Reader::for_arch("aarch64"), Some(Reader::Arm));
        assert_eq!(Reader::for_arch("riscv64"), None);
    }
}
