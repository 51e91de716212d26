//! The guest clock: `<clock>` and its `<timer>`s.
//!
//! libvirt always writes a `<clock>` (with `offset='utc'` when none was given), so
//! [`Clock::default`] is that clock. An `offset='utc|localtime'` with a numeric
//! `adjustment` is read, as libvirt reads it, as `offset='variable'` with the matching basis.

use oxvirt_xml::model::{str_to_long_ll, str_to_long_ullp, PropFlags};
use oxvirt_xml::{Builder, Context, Cursor, Element, Result, Unknown, XmlError, XmlModel};

use crate::util::finish_leaf;

oxvirt_xml::xml_enum! {
    /// What the guest clock's offset is relative to (`basis`).
    pub enum ClockBasis {
        /// UTC.
        Utc = "utc",
        /// The host's local time.
        Localtime = "localtime",
    }
}

oxvirt_xml::xml_enum! {
    /// A guest timer source (`<timer name=...>`).
    pub enum TimerName {
        /// The platform's master timer.
        Platform = "platform",
        /// The PIT.
        Pit = "pit",
        /// The RTC.
        Rtc = "rtc",
        /// The HPET.
        Hpet = "hpet",
        /// The TSC.
        Tsc = "tsc",
        /// KVM's paravirtual clock.
        Kvmclock = "kvmclock",
        /// Hyper-V's reference clock.
        Hypervclock = "hypervclock",
        /// ARM's virtual timer.
        Armvtimer = "armvtimer",
    }
}

oxvirt_xml::xml_enum! {
    /// What a timer follows (`track`).
    pub enum TimerTrack {
        /// Time since boot.
        Boot = "boot",
        /// Guest time.
        Guest = "guest",
        /// Wall clock time.
        Wall = "wall",
        /// Real time.
        Realtime = "realtime",
    }
}

oxvirt_xml::xml_enum! {
    /// What happens to missed ticks (`tickpolicy`).
    pub enum TickPolicy {
        /// Deliver them late.
        Delay = "delay",
        /// Deliver them faster to catch up.
        Catchup = "catchup",
        /// Merge them into one.
        Merge = "merge",
        /// Drop them.
        Discard = "discard",
    }
}

oxvirt_xml::xml_enum! {
    /// How the TSC is provided (`mode`).
    pub enum TimerMode {
        /// Native if stable, emulated otherwise.
        Auto = "auto",
        /// Always native.
        Native = "native",
        /// Always emulated.
        Emulate = "emulate",
        /// Paravirtualized.
        Paravirt = "paravirt",
        /// Native and SMP-safe.
        Smpsafe = "smpsafe",
    }
}

/// The guest clock's offset from the host (`offset` and its companions).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ClockOffset {
    /// `offset='utc'`; `adjustment='reset'` when `reset`.
    Utc {
        /// Reset the guest clock at each boot.
        reset: bool,
    },
    /// `offset='localtime'`; `adjustment='reset'` when `reset`.
    Localtime {
        /// Reset the guest clock at each boot.
        reset: bool,
    },
    /// `offset='variable'`: seconds from `basis`.
    Variable {
        /// Seconds added to the basis.
        adjustment: i64,
        /// What the adjustment is relative to.
        basis: ClockBasis,
    },
    /// `offset='timezone'`.
    Timezone(String),
    /// `offset='absolute'`: the guest starts at `start` seconds after the epoch.
    Absolute(u64),
}

impl Default for ClockOffset {
    fn default() -> Self {
        ClockOffset::Utc { reset: false }
    }
}

/// A guest timer (`<timer>`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Timer {
    /// `name`.
    pub name: TimerName,
    /// `present='yes|no'`.
    pub present: Option<bool>,
    /// `tickpolicy`.
    pub tickpolicy: Option<TickPolicy>,
    /// `track`.
    pub track: Option<TimerTrack>,
    /// `frequency` in Hz (TSC only; zero is the same as absent).
    pub frequency: Option<u64>,
    /// `mode` (TSC only).
    pub mode: Option<TimerMode>,
    /// `<catchup threshold=...>` (zero is the same as absent).
    pub catchup_threshold: Option<u64>,
    /// `<catchup slew=...>`.
    pub catchup_slew: Option<u64>,
    /// `<catchup limit=...>`.
    pub catchup_limit: Option<u64>,
    /// What the model does not know, kept as written.
    pub unknown: Unknown,
}

impl Timer {
    /// A timer with only its name set.
    pub fn new(name: TimerName) -> Self {
        Timer {
            name,
            present: None,
            tickpolicy: None,
            track: None,
            frequency: None,
            mode: None,
            catchup_threshold: None,
            catchup_slew: None,
            catchup_limit: None,
            unknown: Unknown::default(),
        }
    }

    fn has_catchup(&self) -> bool {
        self.catchup_threshold.is_some()
            || self.catchup_slew.is_some()
            || self.catchup_limit.is_some()
    }

    /// libvirt's checks of a timer (`virDomainDefPostParseTimer`).
    pub fn validate(&self) -> Result<()> {
        let name = self.name;
        if matches!(name, TimerName::Kvmclock | TimerName::Hypervclock) && self.tickpolicy.is_some()
        {
            return Err(XmlError::unsupported(format!(
                "timer {name} doesn't support setting of timer tickpolicy"
            )));
        }
        if self.tickpolicy != Some(TickPolicy::Catchup) && self.has_catchup() {
            return Err(XmlError::xml(
                "setting of timer catchup policies is only supported with tickpolicy='catchup'",
            ));
        }
        if name != TimerName::Tsc {
            if self.frequency.is_some() {
                return Err(XmlError::unsupported(format!(
                    "timer {name} doesn't support setting of timer frequency"
                )));
            }
            if self.mode.is_some() {
                return Err(XmlError::unsupported(format!(
                    "timer {name} doesn't support setting of timer mode"
                )));
            }
        }
        if !matches!(name, TimerName::Platform | TimerName::Rtc) && self.track.is_some() {
            return Err(XmlError::unsupported(format!(
                "timer {name} doesn't support setting of timer track"
            )));
        }
        Ok(())
    }
}

fn nonzero(v: Option<u64>) -> Option<u64> {
    v.filter(|n| *n != 0)
}

impl XmlModel for Timer {
    fn from_element(el: &Element, ctx: &mut Context) -> Result<Self> {
        let mut c = Cursor::new(el);
        let mut t = Timer::new(c.required_enum_attr("name")?);
        t.present = c.prop_yes_no("present", PropFlags::NONE)?;
        t.tickpolicy = c.enum_attr("tickpolicy")?;
        t.track = c.enum_attr("track")?;
        t.frequency = nonzero(c.prop_ulonglong("frequency", 10, PropFlags::NONE)?);
        t.mode = c.enum_attr("mode")?;
        if let Some(cu) = c.child("catchup") {
            let mut cc = Cursor::new(cu);
            t.catchup_threshold = nonzero(cc.prop_ulonglong("threshold", 10, PropFlags::NONE)?);
            t.catchup_slew = nonzero(cc.prop_ulonglong("slew", 10, PropFlags::NONE)?);
            t.catchup_limit = nonzero(cc.prop_ulonglong("limit", 10, PropFlags::NONE)?);
            finish_leaf(cc, ctx);
        }
        t.unknown = c.finish(ctx);
        Ok(t)
    }

    fn to_element(&self) -> Element {
        let mut b = Builder::new("timer");
        b.attr("name", self.name)
            .yes_no("present", self.present)
            .opt_attr("tickpolicy", self.tickpolicy)
            .opt_attr("track", self.track);
        if self.name == TimerName::Tsc {
            b.opt_attr("frequency", self.frequency)
                .opt_attr("mode", self.mode);
        }
        if self.has_catchup() {
            let mut cu = Element::new("catchup");
            for (k, v) in [
                ("threshold", self.catchup_threshold),
                ("slew", self.catchup_slew),
                ("limit", self.catchup_limit),
            ] {
                if let Some(v) = v {
                    cu.set_attr(k, v.to_string());
                }
            }
            b.child(cu);
        }
        b.finish(&self.unknown)
    }
}

/// The guest clock (`<clock>`).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Clock {
    /// The offset from the host clock.
    pub offset: ClockOffset,
    /// The timers, in document order.
    pub timers: Vec<Timer>,
    /// What the model does not know, kept as written.
    pub unknown: Unknown,
}

impl Clock {
    /// libvirt's checks of the clock's timers, made after parsing.
    pub fn validate(&self) -> Result<()> {
        self.timers.iter().try_for_each(Timer::validate)
    }
}

fn read_offset(c: &mut Cursor<'_>) -> Result<ClockOffset> {
    let el = c.element();
    let offset = c.attr("offset").unwrap_or("utc");
    let adjustment = c.attr("adjustment");
    let basis = c.attr("basis");
    let timezone = c.attr_string("timezone");
    let start = c.attr("start");
    // Only status XML carries it, and libvirt writes it only there.
    c.attr("adjustment0");
    let reset_or_variable = |basis: ClockBasis, reset: bool| -> Result<ClockOffset> {
        match adjustment {
            None => Ok(if basis == ClockBasis::Utc {
                ClockOffset::Utc { reset }
            } else {
                ClockOffset::Localtime { reset }
            }),
            Some("reset") => Ok(if basis == ClockBasis::Utc {
                ClockOffset::Utc { reset: true }
            } else {
                ClockOffset::Localtime { reset: true }
            }),
            Some(v) => match str_to_long_ll(v, 10) {
                Some(adjustment) => Ok(ClockOffset::Variable { adjustment, basis }),
                None => {
                    Err(XmlError::xml(format!("unknown clock adjustment '{v}'")).at(el.position))
                }
            },
        }
    };
    match offset {
        "utc" => reset_or_variable(ClockBasis::Utc, false),
        "localtime" => reset_or_variable(ClockBasis::Localtime, false),
        "variable" => {
            let adjustment = adjustment.and_then(|v| str_to_long_ll(v, 10)).unwrap_or(0);
            let basis = match basis {
                None => ClockBasis::Utc,
                Some(b) => oxvirt_xml::XmlEnum::from_xml_str(b).ok_or_else(|| {
                    XmlError::unsupported(format!("unknown clock basis '{b}'")).at(el.position)
                })?,
            };
            Ok(ClockOffset::Variable { adjustment, basis })
        }
        "timezone" => match timezone.filter(|tz| !tz.is_empty()) {
            Some(tz) => Ok(ClockOffset::Timezone(tz)),
            None => Err(XmlError::internal(
                "missing 'timezone' attribute for clock with offset='timezone'",
            )
            .at(el.position)),
        },
        "absolute" => match start.and_then(|v| str_to_long_ullp(v, 10)) {
            Some(s) => Ok(ClockOffset::Absolute(s)),
            None => Err(XmlError::internal(
                "missing 'start' attribute for clock with offset='absolute'",
            )
            .at(el.position)),
        },
        other => {
            Err(XmlError::unsupported(format!("unknown clock offset '{other}'")).at(el.position))
        }
    }
}

impl XmlModel for Clock {
    fn from_element(el: &Element, ctx: &mut Context) -> Result<Self> {
        let mut c = Cursor::new(el);
        let offset = read_offset(&mut c)?;
        let timers = c.models("timer", ctx)?;
        Ok(Clock {
            offset,
            timers,
            unknown: c.finish(ctx),
        })
    }

    fn to_element(&self) -> Element {
        let mut b = Builder::new("clock");
        match &self.offset {
            ClockOffset::Utc { reset } | ClockOffset::Localtime { reset } => {
                let name = if matches!(self.offset, ClockOffset::Utc { .. }) {
                    "utc"
                } else {
                    "localtime"
                };
                b.attr("offset", name);
                if *reset {
                    b.attr("adjustment", "reset");
                }
            }
            ClockOffset::Variable { adjustment, basis } => {
                b.attr("offset", "variable")
                    .attr("adjustment", adjustment)
                    .attr("basis", basis);
            }
            ClockOffset::Timezone(tz) => {
                b.attr("offset", "timezone").attr("timezone", tz);
            }
            ClockOffset::Absolute(start) => {
                b.attr("offset", "absolute").attr("start", start);
            }
        }
        b.models(&self.timers);
        b.finish(&self.unknown)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use oxvirt_xml::ErrorCode;

    fn read(xml: &str) -> Result<Clock> {
        Clock::from_element(&oxvirt_xml::parse(xml)?, &mut Context::default())
    }

    fn write(c: &Clock) -> String {
        oxvirt_xml::to_string(&c.to_element())
    }

    #[test]
    fn the_default_clock_is_utc() {
        assert_eq!(write(&Clock::default()), "<clock offset='utc'/>\n");
        assert_eq!(read("<clock/>").unwrap(), Clock::default());
    }

    #[test]
    fn libvirt_output_is_written_back_unchanged() {
        for xml in [
            "<clock offset='utc'>\n  <timer name='rtc' tickpolicy='catchup' track='guest'>\n    \
             <catchup threshold='123' slew='120' limit='10000'/>\n  </timer>\n  \
             <timer name='pit' tickpolicy='delay'/>\n  <timer name='hpet' present='no'/>\n</clock>\n",
            "<clock offset='localtime' adjustment='reset'/>\n",
            "<clock offset='variable' adjustment='-3600' basis='localtime'/>\n",
            "<clock offset='timezone' timezone='Europe/Paris'/>\n",
            "<clock offset='absolute' start='1234567890'/>\n",
            "<clock offset='utc'>\n  <timer name='tsc' frequency='3504000000' mode='native'/>\n</clock>\n",
        ] {
            let c = read(xml).unwrap();
            assert_eq!(write(&c), xml);
            assert_eq!(read(&write(&c)).unwrap(), c);
        }
    }

    #[test]
    fn a_numeric_adjustment_makes_the_offset_variable() {
        let c = read("<clock offset='utc' adjustment='10'/>").unwrap();
        assert_eq!(
            write(&c),
            "<clock offset='variable' adjustment='10' basis='utc'/>\n"
        );
        let c = read("<clock offset='variable' adjustment='junk' adjustment0='5'/>").unwrap();
        assert_eq!(
            write(&c),
            "<clock offset='variable' adjustment='0' basis='utc'/>\n"
        );
    }

    #[test]
    fn parse_errors_use_libvirts_words() {
        let cases: &[(&str, ErrorCode, &str)] = &[
            (
                "<clock offset='gmt'/>",
                ErrorCode::ConfigUnsupported,
                "unknown clock offset 'gmt'",
            ),
            (
                "<clock offset='utc' adjustment='x'/>",
                ErrorCode::XmlError,
                "unknown clock adjustment 'x'",
            ),
            (
                "<clock offset='variable' basis='x'/>",
                ErrorCode::ConfigUnsupported,
                "unknown clock basis 'x'",
            ),
            (
                "<clock offset='timezone'/>",
                ErrorCode::InternalError,
                "missing 'timezone' attribute for clock with offset='timezone'",
            ),
            (
                "<clock><timer/></clock>",
                ErrorCode::XmlError,
                "Missing required attribute 'name' in element 'timer'",
            ),
            (
                "<clock><timer name='rtc' tickpolicy='none'/></clock>",
                ErrorCode::XmlError,
                "Invalid value for attribute 'tickpolicy' in element 'timer': 'none'.",
            ),
            (
                "<clock><timer name='rtc' present='on'/></clock>",
                ErrorCode::XmlError,
                "Invalid value for attribute 'present' in element 'timer': 'on'.",
            ),
        ];
        for (xml, code, msg) in cases {
            let err = read(xml).unwrap_err();
            assert_eq!((err.code, err.message.as_str()), (*code, *msg), "{xml}");
        }
    }

    #[test]
    fn timer_settings_are_checked_like_libvirt() {
        let check = |xml: &str| read(xml).unwrap().validate().map_err(|e| e.message);
        assert_eq!(
            check("<clock><timer name='kvmclock' tickpolicy='delay'/></clock>").unwrap_err(),
            "timer kvmclock doesn't support setting of timer tickpolicy"
        );
        assert_eq!(
            check("<clock><timer name='rtc'><catchup slew='1'/></timer></clock>").unwrap_err(),
            "setting of timer catchup policies is only supported with tickpolicy='catchup'"
        );
        assert_eq!(
            check("<clock><timer name='hpet' mode='auto'/></clock>").unwrap_err(),
            "timer hpet doesn't support setting of timer mode"
        );
        assert_eq!(
            check("<clock><timer name='pit' track='wall'/></clock>").unwrap_err(),
            "timer pit doesn't support setting of timer track"
        );
        assert!(check("<clock><timer name='rtc' track='wall'/></clock>").is_ok());
    }
}
