//! libvirt's check that no two devices share a user alias (`virDomainDefValidateAliases`).
//!
//! Only user aliases (`ua-...`) are checked: the others are the hypervisor's to give. The
//! devices are visited in the order of libvirt's device iterator
//! (`virDomainDeviceInfoIterateFlags`), which decides which alias is reported when several
//! are used twice.

use std::collections::HashSet;

use oxvirt_xml::{Element, Result, XmlError};

use crate::devices::chardev::{ChardevTargetType, ConsoleTargetType};
use crate::devices::{Chardev, Devices};

/// The prefix of a user alias (`virDomainDeviceAliasIsUserAlias`).
const USER_ALIAS_PREFIX: &str = "ua-";

/// The aliases of the untyped devices of `kind` (`hub`, `shmem`, `memory`, ...).
fn other_aliases<'a>(others: &'a [Element], kind: &'a str) -> impl Iterator<Item = &'a str> {
    others
        .iter()
        .filter(move |e| e.name == kind)
        .filter_map(|e| e.child("alias").and_then(|a| a.attr("name")))
}

/// Whether the chardev `c` is skipped as libvirt skips it: when the first console is the
/// compatibility console of the first serial port, that serial port, the console (which
/// has no alias of its own in libvirt: it shows the serial port's) and any serial port
/// equal to the first one (`virDomainChrEquals`: same source and target type) are not
/// checked.
fn skipped_chardev(devices: &Devices, c: &Chardev) -> bool {
    let (Some(first_serial), Some(first_console)) =
        (devices.serials.first(), devices.consoles.first())
    else {
        return false;
    };
    let compat =
        first_console.target_type() == Some(ChardevTargetType::Console(ConsoleTargetType::Serial));
    if !compat {
        return false;
    }
    std::ptr::eq(c, first_console)
        || (c.element == first_serial.element
            && c.source == first_serial.source
            && c.target_type() == first_serial.target_type())
}

/// Every alias of the devices, in libvirt's iteration order.
fn aliases(devices: &Devices) -> Vec<&str> {
    let d = devices;
    let mut out: Vec<&str> = Vec::new();
    out.extend(d.disks.iter().filter_map(|x| x.info.alias_name()));
    out.extend(d.interfaces.iter().filter_map(|x| x.info.alias_name()));
    out.extend(d.sounds.iter().filter_map(|x| x.info.alias_name()));
    out.extend(d.hostdevs.iter().filter_map(|x| x.info.alias_name()));
    out.extend(d.videos.iter().filter_map(|x| x.info.alias_name()));
    out.extend(d.controllers.iter().filter_map(|x| x.info.alias_name()));
    out.extend(d.smartcards.iter().filter_map(|x| x.info.alias_name()));
    for list in [&d.serials, &d.parallels, &d.channels, &d.consoles] {
        out.extend(
            list.iter()
                .filter(|c| !skipped_chardev(d, c))
                .filter_map(|c| c.info.alias_name()),
        );
    }
    out.extend(d.inputs.iter().filter_map(|x| x.info.alias_name()));
    out.extend(d.filesystems.iter().filter_map(|x| x.info.alias_name()));
    out.extend(d.watchdogs.iter().filter_map(|x| x.info.alias_name()));
    out.extend(d.memballoon.iter().filter_map(|x| x.info.alias_name()));
    out.extend(d.rngs.iter().filter_map(|x| x.info.alias_name()));
    out.extend(other_aliases(&d.others, "nvram"));
    out.extend(other_aliases(&d.others, "hub"));
    out.extend(other_aliases(&d.others, "shmem"));
    out.extend(d.tpms.iter().filter_map(|x| x.info.alias_name()));
    out.extend(d.panics.iter().filter_map(|x| x.info.alias_name()));
    out.extend(other_aliases(&d.others, "memory"));
    out.extend(d.redirdevs.iter().filter_map(|x| x.info.alias_name()));
    out.extend(other_aliases(&d.others, "iommu"));
    out.extend(d.vsock.iter().filter_map(|x| x.info.alias_name()));
    out.extend(other_aliases(&d.others, "crypto"));
    out
}

/// Fails with libvirt's "non unique alias detected: ALIAS" for the first user alias found
/// a second time.
pub(crate) fn validate_aliases(devices: &Devices) -> Result<()> {
    let mut seen = HashSet::new();
    for alias in aliases(devices)
        .into_iter()
        .filter(|a| a.starts_with(USER_ALIAS_PREFIX))
    {
        if !seen.insert(alias) {
            return Err(XmlError::unsupported(format!(
                "non unique alias detected: {alias}"
            )));
        }
    }
    Ok(())
}
