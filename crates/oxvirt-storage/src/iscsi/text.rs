//! iSCSI text keys (RFC 7143 section 6): `key=value` pairs, each ended by a NUL byte,
//! in Login and Text PDUs' data segments.

/// The `key=value` pairs in a data segment, in order. Pairs without `=` are skipped.
pub fn parse(data: &[u8]) -> Vec<(String, String)> {
    data.split(|&b| b == 0)
        .filter(|s| !s.is_empty())
        .filter_map(|s| {
            let s = String::from_utf8_lossy(s);
            let (k, v) = s.split_once('=')?;
            Some((k.to_string(), v.to_string()))
        })
        .collect()
}

/// The data segment for `pairs`: `key=value\0` each.
pub fn format(pairs: &[(&str, String)]) -> Vec<u8> {
    let mut out = Vec::new();
    for (k, v) in pairs {
        out.extend_from_slice(k.as_bytes());
        out.push(b'=');
        out.extend_from_slice(v.as_bytes());
        out.push(0);
    }
    out
}

/// The value of `key` in `pairs` (the last one given).
pub fn get<'a>(pairs: &'a [(String, String)], key: &str) -> Option<&'a str> {
    pairs
        .iter()
        .rev()
        .find(|(k, _)| k == key)
        .map(|(_, v)| v.as_str())
}

/// A target a SendTargets answer names, with the portals it can be reached at.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TargetInfo {
    /// Its iSCSI name (`iqn.2024-01.test:tgt1`).
    pub name: String,
    /// Its portals.
    pub portals: Vec<TargetPortal>,
}

/// One `TargetAddress` (`domainname[:port][,portal-group-tag]`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TargetPortal {
    /// The address and port (`127.0.0.1:3260`, `[::1]:3260`), port 3260 when absent.
    pub address: String,
    /// The target portal group tag, if given.
    pub group: Option<u16>,
}

impl TargetPortal {
    /// Parses a `TargetAddress` value.
    pub fn parse(value: &str) -> TargetPortal {
        let (addr, group) = match value.rsplit_once(',') {
            Some((a, g)) => (a, g.trim().parse().ok()),
            None => (value, None),
        };
        let has_port = if let Some(rest) = addr.strip_prefix('[') {
            rest.split_once(']')
                .is_some_and(|(_, p)| p.starts_with(':'))
        } else {
            addr.contains(':')
        };
        let address = if has_port {
            addr.to_string()
        } else {
            format!("{addr}:3260")
        };
        TargetPortal { address, group }
    }
}

/// The targets of a `SendTargets` answer: each `TargetName` with the `TargetAddress`es
/// that follow it.
pub fn send_targets(pairs: &[(String, String)]) -> Vec<TargetInfo> {
    let mut targets: Vec<TargetInfo> = Vec::new();
    for (k, v) in pairs {
        match k.as_str() {
            "TargetName" => targets.push(TargetInfo {
                name: v.clone(),
                portals: Vec::new(),
            }),
            "TargetAddress" => {
                if let Some(t) = targets.last_mut() {
                    t.portals.push(TargetPortal::parse(v));
                }
            }
            _ => {}
        }
    }
    targets
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parse_and_format() {
        let data = format(&[
            ("InitiatorName", "iqn.2024-01.test:init".to_string()),
            ("SessionType", "Discovery".to_string()),
        ]);
        assert_eq!(
            data,
            b"InitiatorName=iqn.2024-01.test:init\0SessionType=Discovery\0".to_vec()
        );
        let pairs = parse(&data);
        assert_eq!(get(&pairs, "SessionType"), Some("Discovery"));
        assert_eq!(get(&pairs, "Missing"), None);
        // Values may hold '='; empty strings between NULs are ignored.
        let pairs = parse(b"CHAP_C=0xab=\0\0X=\0");
        assert_eq!(
            pairs,
            vec![
                ("CHAP_C".into(), "0xab=".into()),
                ("X".into(), String::new())
            ]
        );
    }

    #[test]
    fn send_targets_answer() {
        // RFC 7143 appendix C example layout.
        let data = b"TargetName=iqn.1993-11.com.acme:diskarray.sn.8675309\0\
TargetAddress=10.1.0.45:5300,1\0TargetAddress=10.1.1.45,2\0\
TargetName=iqn.2024-01.test:two\0TargetAddress=[::1]:3261,1\0";
        let targets = send_targets(&parse(data));
        assert_eq!(targets.len(), 2);
        assert_eq!(targets[0].name, "iqn.1993-11.com.acme:diskarray.sn.8675309");
        assert_eq!(
            targets[0].portals,
            vec![
                TargetPortal {
                    address: "10.1.0.45:5300".into(),
                    group: Some(1)
                },
                TargetPortal {
                    address: "10.1.1.45:3260".into(),
                    group: Some(2)
                },
            ]
        );
        assert_eq!(targets[1].portals[0].address, "[::1]:3261");
    }
}
