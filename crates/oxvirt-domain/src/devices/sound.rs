//! A sound card (`<sound>`).

use oxvirt_xml::model::PropFlags;
use oxvirt_xml::{Builder, Context, Cursor, Element, Result, Unknown, XmlEnum, XmlError, XmlModel};

use crate::devices::info::DeviceInfo;
use crate::util::finish_leaf;

oxvirt_xml::xml_enum! {
    /// The emulated sound card (`model`).
    pub enum SoundModel {
        /// Sound Blaster 16.
        Sb16 = "sb16",
        /// Ensoniq ES1370.
        Es1370 = "es1370",
        /// The PC speaker.
        Pcspk = "pcspk",
        /// AC97.
        Ac97 = "ac97",
        /// Intel HDA (ICH6).
        Ich6 = "ich6",
        /// Intel HDA (ICH9).
        Ich9 = "ich9",
        /// USB audio.
        Usb = "usb",
        /// Intel HDA (ICH7).
        Ich7 = "ich7",
    }
}

oxvirt_xml::xml_enum! {
    /// An HDA codec (`<codec type=...>`).
    pub enum CodecType {
        /// Line in and line out.
        Duplex = "duplex",
        /// Microphone and speaker.
        Micro = "micro",
        /// Output only.
        Output = "output",
    }
}

impl SoundModel {
    /// Whether libvirt reads `<codec>`s for this model (the Intel HDA ones).
    pub fn supports_codecs(self) -> bool {
        matches!(self, SoundModel::Ich6 | SoundModel::Ich7 | SoundModel::Ich9)
    }
}

/// A sound card (`<sound>`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Sound {
    /// `model`.
    pub model: SoundModel,
    /// `<codec type=...>`s (HDA models only).
    pub codecs: Vec<CodecType>,
    /// `<audio id=...>`: the `<audio>` backend it plays through.
    pub audio_id: Option<u32>,
    /// `<alias>`, `<address>` and the rest of libvirt's device info.
    pub info: DeviceInfo,
    /// What the model does not know, kept as written.
    pub unknown: Unknown,
}

impl Sound {
    /// A sound card of `model` with nothing else set.
    pub fn new(model: SoundModel) -> Self {
        Sound {
            model,
            codecs: Vec::new(),
            audio_id: None,
            info: DeviceInfo::default(),
            unknown: Unknown::default(),
        }
    }

    /// libvirt's check that the `<audio id>` refers to one of the domain's `<audio>`
    /// backends (`virDomainEnsureAudioID`); `audio_ids` are their ids.
    pub fn validate(&self, audio_ids: &[u32]) -> Result<()> {
        match self.audio_id {
            Some(id) if !audio_ids.contains(&id) => {
                Err(XmlError::xml(format!("no audio device with ID {id}")))
            }
            _ => Ok(()),
        }
    }
}

impl XmlModel for Sound {
    fn from_element(el: &Element, ctx: &mut Context) -> Result<Self> {
        let mut c = Cursor::new(el);
        let mut sound = Sound::new(c.required_enum_attr("model")?);
        if sound.model.supports_codecs() {
            for codec in c.children("codec") {
                let mut cc = Cursor::new(codec);
                let t = cc.attr("type");
                let ty = t.and_then(CodecType::from_xml_str).ok_or_else(|| {
                    XmlError::unsupported(format!("unknown codec type '{}'", t.unwrap_or("(null)")))
                        .at(codec.position)
                })?;
                finish_leaf(cc, ctx);
                sound.codecs.push(ty);
            }
        } else {
            for codec in c.children("codec") {
                ctx.warnings.push(oxvirt_xml::Warning {
                    position: codec.position,
                    message: format!(
                        "<codec> ignored: sound model '{}' has no codecs",
                        sound.model
                    ),
                });
            }
        }
        if let Some(a) = c.child("audio") {
            let mut ac = Cursor::new(a);
            sound.audio_id = Some(ac.required_uint("id", 10, PropFlags::NONZERO)?);
            finish_leaf(ac, ctx);
        }
        sound.info = DeviceInfo::parse(&mut c, ctx, false, false)?;
        sound.unknown = c.finish(ctx);
        Ok(sound)
    }

    fn to_element(&self) -> Element {
        let mut b = Builder::new("sound");
        b.attr("model", self.model);
        for codec in &self.codecs {
            b.child(Element::new("codec").with_attr("type", codec.to_string()));
        }
        if let Some(id) = self.audio_id {
            b.child(Element::new("audio").with_attr("id", id.to_string()));
        }
        self.info.format(&mut b);
        b.finish(&self.unknown)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use oxvirt_xml::ErrorCode;

    fn read(xml: &str) -> Result<Sound> {
        Sound::from_element(&oxvirt_xml::parse(xml)?, &mut Context::default())
    }

    fn write(s: &Sound) -> String {
        oxvirt_xml::to_string(&s.to_element())
    }

    #[test]
    fn libvirt_output_is_written_back_unchanged() {
        for xml in [
            "<sound model='pcspk'/>\n",
            "<sound model='ich9'>\n  <codec type='duplex'/>\n  <codec type='micro'/>\n  \
             <codec type='output'/>\n  <audio id='1'/>\n  \
             <address type='pci' domain='0x0000' bus='0x00' slot='0x1b' function='0x0'/>\n</sound>\n",
            "<sound model='usb'>\n  <alias name='ua-snd'/>\n  <address type='usb' bus='0' port='2'/>\n</sound>\n",
        ] {
            let s = read(xml).unwrap();
            assert_eq!(write(&s), xml);
            assert_eq!(read(&write(&s)).unwrap(), s);
        }
    }

    #[test]
    fn codecs_count_only_for_hda_models() {
        let s = read("<sound model='ac97'><codec type='duplex'/></sound>").unwrap();
        assert!(s.codecs.is_empty());
        assert_eq!(write(&s), "<sound model='ac97'/>\n");
    }

    #[test]
    fn parse_errors_use_libvirts_words() {
        let cases: &[(&str, ErrorCode, &str)] = &[
            (
                "<sound/>",
                ErrorCode::XmlError,
                "Missing required attribute 'model' in element 'sound'",
            ),
            (
                "<sound model='gus'/>",
                ErrorCode::XmlError,
                "Invalid value for attribute 'model' in element 'sound': 'gus'.",
            ),
            (
                "<sound model='ich6'><codec type='loud'/></sound>",
                ErrorCode::ConfigUnsupported,
                "unknown codec type 'loud'",
            ),
            (
                "<sound model='ich6'><audio id='0'/></sound>",
                ErrorCode::XmlError,
                "Invalid value for attribute 'id' in element 'audio': Zero is not permitted",
            ),
        ];
        for (xml, code, msg) in cases {
            let err = read(xml).unwrap_err();
            assert_eq!((err.code, err.message.as_str()), (*code, *msg), "{xml}");
        }
        let s = read("<sound model='ich6'><audio id='2'/></sound>").unwrap();
        assert_eq!(
            s.validate(&[1]).unwrap_err().message,
            "no audio device with ID 2"
        );
        assert!(s.validate(&[1, 2]).is_ok());
    }
}
