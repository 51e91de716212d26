//! The node's text parsers, fed anything: `dmidecode` output (SMBIOS), `/proc/stat`,
//! `meminfo` and `/proc/cpuinfo`. None may panic; a parsed SMBIOS document formats.

#![no_main]

use libfuzzer_sys::fuzz_target;
use oxvirt_node::nodeinfo::cpuinfo_mhz;
use oxvirt_node::stats::{cpu_stats_from, memory_stats_from};
use oxvirt_node::sysinfo::{parse_dmi, CommandOutput, CommandRunner};

/// Answers every `dmidecode --oem-string N` with the fuzzed text's first line.
struct Echo<'a>(&'a str);

impl CommandRunner for Echo<'_> {
    fn run(&self, _argv: &[&str]) -> std::io::Result<CommandOutput> {
        Ok(CommandOutput {
            status: 0,
            stdout: self.0.lines().next().unwrap_or_default().to_string(),
            stderr: String::new(),
        })
    }
}

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    if let Ok(info) = parse_dmi(text, &Echo(text)) {
        let _ = info.format();
    }
    for cpu in [-1, 0, 1, 23] {
        let _ = cpu_stats_from(text, cpu);
    }
    let _ = memory_stats_from(text, true);
    let _ = memory_stats_from(text, false);
    for arch in ["x86_64", "aarch64", "ppc64", "s390x", "armv6l"] {
        let _ = cpuinfo_mhz(text, arch);
    }
});
