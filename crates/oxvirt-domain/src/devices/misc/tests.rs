use super::*;
use oxvirt_xml::ErrorCode;

use crate::util::read_model as read;

fn write<T: XmlModel>(v: &T) -> String {
    oxvirt_xml::to_string(&v.to_element())
}

fn assert_round_trip<T: XmlModel + PartialEq + std::fmt::Debug>(xml: &str) {
    let v: T = read(xml).unwrap();
    assert_eq!(write(&v), xml);
    assert_eq!(read::<T>(&write(&v)).unwrap(), v);
}

fn assert_error<T: XmlModel + std::fmt::Debug>(xml: &str, code: ErrorCode, msg: &str) {
    let err = read::<T>(xml).unwrap_err();
    assert_eq!((err.code, err.message.as_str()), (code, msg), "{xml}");
}

#[test]
fn libvirt_output_is_written_back_unchanged() {
    assert_round_trip::<Watchdog>("<watchdog model='ib700' action='poweroff'/>\n");
    assert_round_trip::<Memballoon>("<memballoon model='none'/>\n");
    assert_round_trip::<Memballoon>(
        "<memballoon model='virtio' autodeflate='on' freePageReporting='off'>\n  <stats period='10'/>\n  \
         <alias name='ua-balloon'/>\n  \
         <address type='pci' domain='0x0000' bus='0x00' slot='0x04' function='0x0'/>\n  \
         <driver iommu='on' ats='on' packed='on' page_per_vq='on'/>\n</memballoon>\n",
    );
    assert_round_trip::<Panic>("<panic model='pseries'/>\n");
    assert_round_trip::<Panic>(
        "<panic model='isa'>\n  <address type='isa' iobase='0x505'/>\n</panic>\n",
    );
    assert_round_trip::<Vsock>(
        "<vsock model='virtio'>\n  <cid auto='no' address='4'/>\n  \
         <address type='pci' domain='0x0000' bus='0x00' slot='0x07' function='0x0'/>\n</vsock>\n",
    );
    assert_round_trip::<Rng>(
        "<rng model='virtio'>\n  <rate bytes='123' period='1234'/>\n  \
         <backend model='random'>/dev/urandom</backend>\n  \
         <address type='pci' domain='0x0000' bus='0x00' slot='0x02' function='0x0'/>\n</rng>\n",
    );
    assert_round_trip::<Rng>(
        "<rng model='virtio'>\n  <backend model='egd' type='tcp'>\n    \
         <source mode='connect' host='1.2.3.4' service='1234'/>\n    <protocol type='raw'/>\n  \
         </backend>\n</rng>\n",
    );
    assert_round_trip::<Rng>(
        "<rng model='virtio-transitional'>\n  <backend model='builtin'/>\n</rng>\n",
    );
    assert_round_trip::<Tpm>(
        "<tpm model='tpm-tis'>\n  <backend type='passthrough'>\n    <device path='/dev/tpm0'/>\n  \
         </backend>\n</tpm>\n",
    );
    assert_round_trip::<Tpm>(
        "<tpm model='tpm-crb'>\n  <backend type='emulator' version='2.0' persistent_state='yes'>\n    \
         <encryption secret='32ee7e76-2178-47a1-ab7b-269e6e348015'/>\n    <active_pcr_banks>\n      \
         <sha256/>\n      <sha384/>\n    </active_pcr_banks>\n  </backend>\n</tpm>\n",
    );
    assert_round_trip::<Tpm>(
        "<tpm model='tpm-tis'>\n  <backend type='external'>\n    \
         <source type='unix' mode='connect' path='/tmp/path.sock'/>\n  </backend>\n</tpm>\n",
    );
}

#[test]
fn what_libvirt_normalizes_is_normalized() {
    let w: Watchdog = read("<watchdog model='i6300esb'/>").unwrap();
    assert_eq!(write(&w), "<watchdog model='i6300esb' action='reset'/>\n");
    let m: Memballoon = read(
        "<memballoon model='none'><stats period='-5'/><address type='pci' slot='3'/></memballoon>",
    )
    .unwrap();
    assert_eq!(write(&m), "<memballoon model='none'/>\n");
    let p: Panic = read("<panic model='default'/>").unwrap();
    assert_eq!(write(&p), "<panic/>\n");
    let r: Rng =
        read("<rng model='virtio'><rate bytes='0' period='5'/><backend model='random'/></rng>")
            .unwrap();
    assert_eq!(
        write(&r),
        "<rng model='virtio'>\n  <backend model='random'/>\n</rng>\n"
    );
    let t: Tpm = read(
        "<tpm><backend type='emulator' persistent_state='no'><active_pcr_banks><sha512/><sha1/>\
         </active_pcr_banks></backend></tpm>",
    )
    .unwrap();
    assert_eq!(
        write(&t),
        "<tpm>\n  <backend type='emulator'>\n    <active_pcr_banks>\n      <sha1/>\n      <sha512/>\n    \
         </active_pcr_banks>\n  </backend>\n</tpm>\n"
    );
}

#[test]
fn defaults_are_libvirts() {
    let mut r: Rng = read("<rng model='virtio'><backend model='random'/></rng>").unwrap();
    r.apply_defaults();
    assert_eq!(r.backend.file.as_deref(), Some("/dev/random"));
    let mut r: Rng = read(
        "<rng model='virtio'><backend model='egd' type='tcp'>\
         <source host='1.2.3.4' service='1234'/></backend></rng>",
    )
    .unwrap();
    r.apply_defaults();
    assert_eq!(
        write(&r),
        "<rng model='virtio'>\n  <backend model='egd' type='tcp'>\n    \
         <source mode='connect' host='1.2.3.4' service='1234'/>\n    <protocol type='raw'/>\n  \
         </backend>\n</rng>\n"
    );
    let mut t: Tpm = read("<tpm><backend type='passthrough'/></tpm>").unwrap();
    t.apply_defaults();
    assert_eq!(t.backend.device_path.as_deref(), Some("/dev/tpm0"));
    let mut v: Vsock = read("<vsock model='virtio'/>").unwrap();
    v.apply_defaults();
    assert_eq!(
        write(&v),
        "<vsock model='virtio'>\n  <cid auto='yes'/>\n</vsock>\n"
    );
    let mut v: Vsock = read("<vsock><cid address='5'/></vsock>").unwrap();
    v.apply_defaults();
    assert_eq!(
        write(&v),
        "<vsock>\n  <cid auto='no' address='5'/>\n</vsock>\n"
    );
}

#[test]
fn parse_errors_use_libvirts_words() {
    use ErrorCode::*;
    assert_error::<Watchdog>(
        "<watchdog/>",
        InternalError,
        "watchdog must contain model name",
    );
    assert_error::<Watchdog>(
        "<watchdog model='x'/>",
        ConfigUnsupported,
        "unknown watchdog model 'x'",
    );
    assert_error::<Watchdog>(
        "<watchdog model='ib700' action='explode'/>",
        ConfigUnsupported,
        "unknown watchdog action 'explode'",
    );
    assert_error::<Memballoon>(
        "<memballoon/>",
        XmlError,
        "Missing required attribute 'model' in element 'memballoon'",
    );
    assert_error::<Memballoon>(
        "<memballoon model='virtio' autodeflate='yes'/>",
        XmlError,
        "Invalid value for attribute 'autodeflate' in element 'memballoon': 'yes'.",
    );
    assert_error::<Panic>(
        "<panic model='x'/>",
        ConfigUnsupported,
        "unknown panic model 'x'",
    );
    assert_error::<Vsock>(
        "<vsock><cid address='0'/></vsock>",
        XmlError,
        "Invalid value for attribute 'address' in element 'cid': Zero is not permitted",
    );
    assert_error::<Rng>(
        "<rng><backend model='random'/></rng>",
        XmlError,
        "missing RNG device model",
    );
    assert_error::<Rng>(
        "<rng model='x'/>",
        ConfigUnsupported,
        "unknown RNG model 'x'",
    );
    assert_error::<Rng>(
        "<rng model='virtio'/>",
        XmlError,
        "only one RNG backend is supported",
    );
    assert_error::<Rng>(
        "<rng model='virtio'><rate bytes='x'/><backend model='random'/></rng>",
        XmlError,
        "invalid RNG rate bytes value",
    );
    assert_error::<Rng>(
        "<rng model='virtio'><backend/></rng>",
        XmlError,
        "missing RNG device backend model",
    );
    assert_error::<Rng>(
        "<rng model='virtio'><backend model='egd'/></rng>",
        XmlError,
        "missing EGD backend type",
    );
    assert_error::<Rng>(
        "<rng model='virtio'><backend model='egd' type='x'/></rng>",
        ConfigUnsupported,
        "unknown backend type 'x' for egd",
    );
    assert_error::<Tpm>(
        "<tpm model='tpm-tis'/>",
        XmlError,
        "missing TPM device backend",
    );
    assert_error::<Tpm>(
        "<tpm><backend type='emulator'/><backend type='emulator'/></tpm>",
        XmlError,
        "only one TPM backend is supported",
    );
    assert_error::<Tpm>(
        "<tpm model='default'><backend type='emulator'/></tpm>",
        XmlError,
        "Invalid value for attribute 'model' in element 'tpm': 'default'.",
    );
    assert_error::<Tpm>(
        "<tpm><backend type='emulator' persistent_state='maybe'/></tpm>",
        InternalError,
        "Invalid persistent_state value, either 'yes' or 'no'",
    );
    assert_error::<Tpm>(
        "<tpm><backend type='emulator'><active_pcr_banks><md5/></active_pcr_banks></backend></tpm>",
        ConfigUnsupported,
        "Unsupported PCR banks 'md5'",
    );
    assert_error::<Tpm>(
        "<tpm><backend type='external'/></tpm>",
        XmlError,
        "missing external TPM backend type",
    );
    assert_error::<Tpm>(
        "<tpm><backend type='emulator'><encryption secret='nope'/></backend></tpm>",
        InternalError,
        "Unable to parse secret uuid 'nope'",
    );
}

#[test]
fn validation_matches_libvirt() {
    let v: Vsock = read("<vsock><cid address='2'/></vsock>").unwrap();
    assert_eq!(v.validate().unwrap_err().message, "guest CIDs must be >= 3");
    let t: Tpm = read(
        "<tpm><backend type='emulator' version='1.2'><active_pcr_banks><sha1/></active_pcr_banks>\
         </backend></tpm>",
    )
    .unwrap();
    assert_eq!(
        t.validate().unwrap_err().message,
        "<active_pcr_banks/> requires TPM version '2.0'"
    );
    let t: Tpm = read(
        "<tpm><backend type='external'><source type='unix' mode='bind' path='/s'/></backend></tpm>",
    )
    .unwrap();
    assert_eq!(
        t.validate().unwrap_err().message,
        "only 'connect' mode is supported for external TPM device"
    );
    let r: Rng = read(
        "<rng model='virtio'><backend model='egd' type='unix'><source mode='connect'/></backend></rng>",
    )
    .unwrap();
    let err = r.validate().unwrap_err();
    assert_eq!(
        (err.code, err.message.as_str()),
        (
            ErrorCode::InternalError,
            "Missing source path attribute for char device"
        )
    );
    let a = Panic {
        model: Some(PanicModel::Isa),
        info: DeviceInfo::default(),
        unknown: Unknown::default(),
    };
    assert_eq!(
        Panic::check_unique(&[a.clone(), a]).unwrap_err().message,
        "Multiple panic devices with model 'isa'"
    );
}

#[test]
fn device_counts_are_limited_like_libvirt() {
    let devices = |inner: &str| oxvirt_xml::parse(&format!("<devices>{inner}</devices>")).unwrap();
    assert_eq!(
        check_device_counts(&devices(
            "<watchdog model='ib700'/><watchdog model='ib700'/>"
        ))
        .unwrap_err()
        .message,
        "only a single watchdog device is supported"
    );
    assert_eq!(
        check_device_counts(&devices("<vsock/><vsock/>"))
            .unwrap_err()
            .message,
        "only a single vsock device is supported"
    );
    assert!(check_device_counts(&devices("<tpm/><tpm/><memballoon model='none'/>")).is_ok());
    let tpm = |model: &str| -> Tpm {
        read(&format!(
            "<tpm model='{model}'><backend type='emulator'/></tpm>"
        ))
        .unwrap()
    };
    assert!(Tpm::check_pair(&[tpm("tpm-spapr"), tpm("spapr-tpm-proxy")]).is_ok());
    assert_eq!(
        Tpm::check_pair(&[tpm("tpm-tis"), tpm("tpm-crb")])
            .unwrap_err()
            .message,
        "only a single TPM non-proxy device is supported"
    );
}
