//! Closed value sets that disks, filesystems and host devices share.

use oxvirt_xml::xml_enum;

xml_enum! {
    /// A disk image format (`virStorageFileFormat`, without `none`).
    pub enum StorageFormat {
        Raw = "raw", Dir = "dir", Bochs = "bochs", Cloop = "cloop", Dmg = "dmg", Iso = "iso",
        Vpc = "vpc", Vdi = "vdi", Fat = "fat", Vhd = "vhd", Ploop = "ploop", Luks = "luks",
        Cow = "cow", Qcow = "qcow", Qcow2 = "qcow2", Qed = "qed", Vmdk = "vmdk",
    }
}

xml_enum! {
    /// What to do when a disk's or USB device's source is missing at start (`startupPolicy`).
    pub enum StartupPolicy { Mandatory = "mandatory", Requisite = "requisite", Optional = "optional" }
}

xml_enum! {
    /// SCSI command filtering of a LUN or SCSI host device (`sgio`).
    pub enum Sgio { Filtered = "filtered", Unfiltered = "unfiltered" }
}
