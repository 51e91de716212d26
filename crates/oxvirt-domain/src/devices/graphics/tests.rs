use oxvirt_xml::{Context, Result, XmlModel};

use super::*;

fn read(xml: &str) -> Result<Graphics> {
    Graphics::from_element(&oxvirt_xml::parse(xml)?, &mut Context::default())
}

fn xml(g: &Graphics) -> String {
    oxvirt_xml::to_string(&g.to_element())
}

fn defaulted(input: &str) -> String {
    let mut g = read(input).unwrap();
    g.apply_defaults();
    let out = xml(&g);
    // libvirt's output is a fixed point.
    let again = read(&out).unwrap();
    assert_eq!(again, g, "{out}");
    out
}

#[test]
fn round_trips_libvirt_output() {
    for doc in [
        "<graphics type='vnc' port='5903' autoport='no' listen='2001:1:2:3:4:5:1234:1234' \
         keymap='en-us' sharePolicy='allow-exclusive' passwd='123456' \
         passwdValidTo='2011-05-31T16:11:22' connected='keep'>\n  \
         <listen type='address' address='2001:1:2:3:4:5:1234:1234'/>\n</graphics>\n",
        "<graphics type='spice' port='5903' tlsPort='5904' autoport='no' listen='127.0.0.1' \
         defaultMode='secure'>\n  <listen type='address' address='127.0.0.1'/>\n  \
         <channel name='main' mode='secure'/>\n  <channel name='inputs' mode='insecure'/>\n  \
         <image compression='auto_glz'/>\n  <jpeg compression='auto'/>\n  \
         <zlib compression='auto'/>\n  <playback compression='on'/>\n  \
         <streaming mode='filter'/>\n  <mouse mode='client'/>\n  \
         <clipboard copypaste='no'/>\n  <filetransfer enable='no'/>\n  \
         <gl enable='yes' rendernode='/dev/dri/foo'/>\n</graphics>\n",
        "<graphics type='sdl' display=':0.1' xauth='/root/.Xauthority' fullscreen='yes'>\n  \
         <gl enable='yes'/>\n</graphics>\n",
        "<graphics type='egl-headless'>\n  <gl rendernode='/dev/dri/foo'/>\n</graphics>\n",
        "<graphics type='dbus' p2p='yes'>\n  <gl enable='yes'/>\n  <audio id='1'/>\n\
         </graphics>\n",
        "<graphics type='vnc' socket='/tmp/vnc.sock'>\n  \
         <listen type='socket' socket='/tmp/vnc.sock'/>\n</graphics>\n",
        "<graphics type='spice'>\n  <listen type='none'/>\n</graphics>\n",
    ] {
        let g = read(doc).unwrap();
        assert_eq!(xml(&g), doc);
        assert_eq!(
            defaulted(doc),
            doc,
            "libvirt output is stable under defaults"
        );
    }
}

#[test]
fn generic_xml2xml_outputs() {
    let cases = [
        (
            "<graphics type='vnc' listen='192.168.123.123'/>",
            "<graphics type='vnc' port='-1' autoport='yes' listen='192.168.123.123'>\n  \
             <listen type='address' address='192.168.123.123'/>\n</graphics>\n",
        ),
        (
            "<graphics type='vnc'><listen type='address' address='127.0.0.1'/></graphics>",
            "<graphics type='vnc' port='-1' autoport='yes' listen='127.0.0.1'>\n  \
             <listen type='address' address='127.0.0.1'/>\n</graphics>\n",
        ),
        (
            "<graphics type='vnc' port='5900' autoport='yes'/>",
            "<graphics type='vnc' port='-1' autoport='yes'>\n  <listen type='address'/>\n\
             </graphics>\n",
        ),
        (
            "<graphics type='vnc'/>",
            "<graphics type='vnc' port='-1' autoport='yes'>\n  <listen type='address'/>\n\
             </graphics>\n",
        ),
        (
            "<graphics type='vnc' autoport='no'><listen type='address'/></graphics>",
            "<graphics type='vnc' autoport='no'>\n  <listen type='address'/>\n</graphics>\n",
        ),
        (
            "<graphics type='vnc' socket='/tmp/vnc.sock'>\
             <listen type='address' address='0.0.0.0'/></graphics>",
            "<graphics type='vnc' socket='/tmp/vnc.sock'>\n  \
             <listen type='socket' socket='/tmp/vnc.sock'/>\n</graphics>\n",
        ),
        (
            "<graphics type='vnc' socket='/tmp/QEMUGuest1-vnc.sock'/>",
            "<graphics type='vnc' socket='/tmp/QEMUGuest1-vnc.sock'>\n  \
             <listen type='socket' socket='/tmp/QEMUGuest1-vnc.sock'/>\n</graphics>\n",
        ),
        (
            "<graphics type='spice' autoport='no'/>",
            "<graphics type='spice'>\n  <listen type='none'/>\n</graphics>\n",
        ),
        (
            "<graphics type='spice' port='-1' tlsPort='-1'/>",
            "<graphics type='spice' autoport='yes'>\n  <listen type='address'/>\n</graphics>\n",
        ),
        (
            "<graphics type='rdp'/>",
            "<graphics type='rdp' port='0' autoport='yes'>\n  <listen type='address'/>\n\
             </graphics>\n",
        ),
        (
            "<graphics type='vnc' port='5901' passwd='x' passwdValidTo='2011-5-31T6:1:2'>\
             <listen type='network' network='default' address='1.2.3.4'/></graphics>",
            "<graphics type='vnc' port='5901' autoport='no' passwd='x' \
             passwdValidTo='2011-05-31T06:01:02'>\n  \
             <listen type='network' network='default'/>\n</graphics>\n",
        ),
    ];
    for (input, output) in cases {
        assert_eq!(defaulted(input), output, "{input}");
    }
}

#[test]
fn parse_errors() {
    let e = |x: &str| read(x).unwrap_err().libvirt_message();
    assert_eq!(
        e("<graphics type='vnc' listen='192.168.123.123'>\
           <listen type='address' address='1.2.3.4'/></graphics>"),
        "unsupported configuration: graphics 'listen' attribute '192.168.123.123' must match \
         'address' attribute of first listen element (found '1.2.3.4')"
    );
    assert_eq!(
        e("<graphics type='vnc' socket='/tmp/vnc.sock'>\
           <listen type='socket' socket='/tmp/mismatch.sock'/></graphics>"),
        "unsupported configuration: graphics 'socket' attribute '/tmp/vnc.sock' must match \
         'socket' attribute of first listen element (found '/tmp/mismatch.sock')"
    );
    assert_eq!(
        e("<graphics type='vnc'><listen type='address' network='n'/></graphics>"),
        "XML error: 'network' attribute is valid only for listen type 'network'"
    );
    assert_eq!(
        e("<graphics type='vnc' port='59a'/>"),
        "internal error: cannot parse vnc port 59a"
    );
    assert_eq!(
        e("<graphics/>"),
        "XML error: Missing required attribute 'type' in element 'graphics'"
    );
    assert_eq!(
        e("<graphics type='vnc' passwd='x' connected='fail'/>"),
        "unsupported configuration: VNC supports connected='keep' only"
    );
    assert_eq!(
        e("<graphics type='spice' passwd='x' passwdValidTo='2011-05-31 16:11:22'/>"),
        "internal error: cannot parse password validity time '2011-05-31 16:11:22', expect \
         YYYY-MM-DDTHH:MM:SS"
    );
    assert_eq!(
        e("<graphics type='spice'><image compression='default'/></graphics>"),
        "XML error: Invalid value for attribute 'compression' in element 'image': 'default'."
    );
    assert_eq!(
        e("<graphics type='sdl'><gl/></graphics>"),
        "XML error: Missing required attribute 'enable' in element 'gl'"
    );
}

#[test]
fn attributes_of_other_types_are_kept_as_written() {
    let g = read("<graphics type='sdl' port='5900' listen='x'/>").unwrap();
    assert_eq!(g.port, None);
    assert_eq!(g.unknown.attributes.len(), 2);
    assert_eq!(xml(&g), "<graphics type='sdl' port='5900' listen='x'/>\n");
}
