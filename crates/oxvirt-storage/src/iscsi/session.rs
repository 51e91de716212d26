//! An iSCSI session over one TCP connection: login (security and operational
//! negotiation), SendTargets discovery, SCSI commands with Data-In/R2T/Data-Out, logout.
//! Blocking I/O with timeouts, so async callers run it on a blocking thread.

use std::collections::HashMap;
use std::net::{SocketAddr, TcpStream};
use std::time::Duration;

use oxvirt_xml::{ErrorCode, ErrorDomain, VirError};

use super::md5;
use super::pdu::{encode_lun, opcode, Pdu, IMMEDIATE, RESERVED_TAG};
use super::scsi::{self, Capacity, Inquiry, Sense};
use super::text::{self, TargetInfo};

/// CHAP credentials (libvirt's `<auth type='chap' username=...>` with its secret).
#[derive(Clone, PartialEq, Eq)]
pub struct Chap {
    /// The CHAP name (CHAP_N).
    pub username: String,
    /// The secret.
    pub password: String,
}

impl std::fmt::Debug for Chap {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Chap")
            .field("username", &self.username)
            .finish_non_exhaustive()
    }
}

/// How long connecting to a portal may take.
pub const CONNECT_TIMEOUT: Duration = Duration::from_secs(10);
/// How long one read or write on the connection may take.
pub const IO_TIMEOUT: Duration = Duration::from_secs(30);
/// The MaxRecvDataSegmentLength oxvirt declares (what the target may send per PDU).
pub const MAX_RECV_DATA_SEGMENT: u32 = 262_144;

/// The login stages (CSG/NSG values).
const SECURITY: u8 = 0;
const OPERATIONAL: u8 = 1;
const FULL_FEATURE: u8 = 3;

/// A `VirError` from the storage driver (libvirt's iscsi-direct backend reports
/// `VIR_ERR_INTERNAL_ERROR` from `VIR_FROM_STORAGE`).
fn error(msg: impl AsRef<str>) -> VirError {
    VirError::new(ErrorDomain::Storage, ErrorCode::InternalError, msg)
}

/// What the login status class/detail (RFC 7143 11.13.5) means.
pub fn login_status_text(class: u8, detail: u8) -> &'static str {
    match (class, detail) {
        (1, _) => "target moved",
        (2, 1) => "authentication failed",
        (2, 2) => "authorization failure",
        (2, 3) => "target not found",
        (2, 4) => "target removed",
        (2, 5) => "unsupported version",
        (2, 6) => "too many connections",
        (2, 7) => "missing parameter",
        (2, 8) => "cannot include in session",
        (2, 9) => "session type not supported",
        (2, 0x0a) => "session does not exist",
        (2, 0x0b) => "invalid request during login",
        (2, _) => "initiator error",
        (3, 1) => "target unavailable",
        (3, 2) => "out of resources",
        (3, _) => "target error",
        _ => "unknown login status",
    }
}

/// Parameters the login settled.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Negotiated {
    /// The most data the target takes in one PDU (its MaxRecvDataSegmentLength).
    pub max_send_data_segment: u32,
    /// FirstBurstLength.
    pub first_burst: u32,
    /// MaxBurstLength.
    pub max_burst: u32,
    /// ImmediateData.
    pub immediate_data: bool,
    /// InitialR2T.
    pub initial_r2t: bool,
}

impl Default for Negotiated {
    fn default() -> Self {
        // RFC 7143 13: the defaults when a key is not answered.
        Negotiated {
            max_send_data_segment: 8192,
            first_burst: 65_536,
            max_burst: 262_144,
            immediate_data: true,
            initial_r2t: true,
        }
    }
}

/// A logged-in session (normal or discovery) with one target portal.
#[derive(Debug)]
pub struct Session {
    stream: TcpStream,
    portal: SocketAddr,
    target: Option<String>,
    itt: u32,
    cmdsn: u32,
    exp_statsn: u32,
    tsih: u16,
    isid: [u8; 6],
    negotiated: Negotiated,
    block_sizes: HashMap<u64, u32>,
    logged_out: bool,
}

/// The outcome of one SCSI command.
#[derive(Debug)]
struct Outcome {
    status: u8,
    data: Vec<u8>,
    sense: Option<Sense>,
}

impl Session {
    /// Discovers the targets at `portal` (a discovery session with `SendTargets=All`),
    /// then logs out.
    pub fn discover(portal: SocketAddr, initiator: &str) -> Result<Vec<TargetInfo>, VirError> {
        let mut session = Session::open(portal, initiator, None, None)?;
        let pairs = session.text_request(&[("SendTargets", "All".to_string())])?;
        session.logout()?;
        Ok(text::send_targets(&pairs))
    }

    /// Logs in to `target` at `portal` as `initiator` (a normal session, AuthMethod=None).
    pub fn login(portal: SocketAddr, initiator: &str, target: &str) -> Result<Session, VirError> {
        Session::open(portal, initiator, Some(target), None)
    }

    /// Logs in to `target` at `portal` as `initiator`, authenticating with CHAP (MD5)
    /// as `chap`'s user (one-way: the target is not asked to prove itself).
    pub fn login_chap(
        portal: SocketAddr,
        initiator: &str,
        target: &str,
        chap: &Chap,
    ) -> Result<Session, VirError> {
        Session::open(portal, initiator, Some(target), Some(chap))
    }

    /// The portal the session is connected to.
    pub fn portal(&self) -> SocketAddr {
        self.portal
    }

    /// The target (`None` for a discovery session).
    pub fn target(&self) -> Option<&str> {
        self.target.as_deref()
    }

    /// The session parameters the login settled.
    pub fn negotiated(&self) -> Negotiated {
        self.negotiated
    }

    /// The Target Session Identifying Handle the target gave.
    pub fn tsih(&self) -> u16 {
        self.tsih
    }

    fn what(&self) -> String {
        match &self.target {
            Some(t) => format!("iSCSI target {t} at {}", self.portal),
            None => format!("iSCSI portal {}", self.portal),
        }
    }

    fn open(
        portal: SocketAddr,
        initiator: &str,
        target: Option<&str>,
        chap: Option<&Chap>,
    ) -> Result<Session, VirError> {
        let what = match target {
            Some(t) => format!("iSCSI target {t} at {portal}"),
            None => format!("iSCSI portal {portal}"),
        };
        let stream = TcpStream::connect_timeout(&portal, CONNECT_TIMEOUT)
            .map_err(|e| error(format!("Failed to connect to {what}: {e}")))?;
        let _ = stream.set_nodelay(true);
        stream
            .set_read_timeout(Some(IO_TIMEOUT))
            .and_then(|()| stream.set_write_timeout(Some(IO_TIMEOUT)))
            .map_err(|e| error(format!("Failed to connect to {what}: {e}")))?;
        let mut session = Session {
            stream,
            portal,
            target: target.map(str::to_string),
            itt: 0,
            cmdsn: 1,
            exp_statsn: 0,
            tsih: 0,
            isid: new_isid(),
            negotiated: Negotiated::default(),
            block_sizes: HashMap::new(),
            logged_out: false,
        };
        if let Err(e) = session.negotiate(initiator, chap) {
            // Not logged in: nothing to log out of.
            session.logged_out = true;
            return Err(error(format!("Failed to login to {what}: {e}")));
        }
        Ok(session)
    }

    fn next_itt(&mut self) -> u32 {
        self.itt = self.itt.wrapping_add(1);
        if self.itt == RESERVED_TAG {
            self.itt = 1;
        }
        self.itt
    }

    fn send(&mut self, pdu: &Pdu) -> Result<(), String> {
        pdu.write_to(&mut self.stream)
            .map_err(|e| format!("send: {e}"))
    }

    /// Receives the next PDU, answering NOP-Ins that want an answer on the way.
    fn recv(&mut self) -> Result<Pdu, String> {
        loop {
            let pdu = Pdu::read_from(&mut self.stream).map_err(|e| match e.kind() {
                std::io::ErrorKind::UnexpectedEof => "connection closed by the target".to_string(),
                _ => format!("receive: {e}"),
            })?;
            match pdu.opcode() {
                opcode::NOP_IN => {
                    let ttt = pdu.u32_at(20);
                    if ttt != RESERVED_TAG {
                        let mut out = Pdu::new(opcode::NOP_OUT | IMMEDIATE, 0x80);
                        out.bhs[8..16].copy_from_slice(&pdu.bhs[8..16]);
                        out.set_u32(16, RESERVED_TAG);
                        out.set_u32(20, ttt);
                        out.set_u32(24, self.cmdsn);
                        out.set_u32(28, self.exp_statsn);
                        self.send(&out)?;
                    }
                }
                opcode::ASYNC_MESSAGE => {
                    self.exp_statsn = pdu.u32_at(24).wrapping_add(1);
                }
                opcode::REJECT => {
                    return Err(format!(
                        "the target rejected a PDU (reason 0x{:02x})",
                        pdu.bhs[2]
                    ));
                }
                _ => return Ok(pdu),
            }
        }
    }

    /// The login phase: security stage with AuthMethod=None, then operational
    /// negotiation, then full feature phase. Partial (C bit) answers are gathered.
    fn negotiate(&mut self, initiator: &str, chap: Option<&Chap>) -> Result<(), String> {
        let mut keys = vec![
            ("InitiatorName", initiator.to_string()),
            (
                "SessionType",
                if self.target.is_some() {
                    "Normal"
                } else {
                    "Discovery"
                }
                .to_string(),
            ),
        ];
        if let Some(t) = &self.target {
            keys.push(("TargetName", t.clone()));
        }
        let method = if chap.is_some() { "CHAP,None" } else { "None" };
        keys.push(("AuthMethod", method.to_string()));
        let itt = self.next_itt();
        let mut answer = self.login_exchange(itt, SECURITY, OPERATIONAL, &keys)?;
        if let (SECURITY, Some(chap)) = (answer.0, chap) {
            if text::get(&answer.1, "AuthMethod") == Some("CHAP") {
                answer = self.chap(itt, chap)?;
            }
        }
        let mut stage = answer.0;
        if stage == SECURITY {
            // The target wants to stay in the security stage: an authentication method
            // other than None was chosen.
            let method = text::get(&answer.1, "AuthMethod").unwrap_or("?");
            return Err(format!(
                "the target requires authentication (AuthMethod={method})"
            ));
        }
        if stage == OPERATIONAL {
            let mut op = vec![
                ("HeaderDigest", "None".to_string()),
                ("DataDigest", "None".to_string()),
                (
                    "MaxRecvDataSegmentLength",
                    MAX_RECV_DATA_SEGMENT.to_string(),
                ),
                ("DefaultTime2Wait", "0".to_string()),
                ("DefaultTime2Retain", "0".to_string()),
                ("IFMarker", "No".to_string()),
                ("OFMarker", "No".to_string()),
                ("ErrorRecoveryLevel", "0".to_string()),
            ];
            if self.target.is_some() {
                op.extend([
                    ("InitialR2T", "Yes".to_string()),
                    ("ImmediateData", "Yes".to_string()),
                    ("MaxBurstLength", "262144".to_string()),
                    ("FirstBurstLength", "262144".to_string()),
                    ("MaxOutstandingR2T", "1".to_string()),
                    ("MaxConnections", "1".to_string()),
                    ("DataPDUInOrder", "Yes".to_string()),
                    ("DataSequenceInOrder", "Yes".to_string()),
                ]);
            }
            let mut answer = self.login_exchange(itt, OPERATIONAL, FULL_FEATURE, &op)?;
            self.settle(&answer.1)?;
            // The target may need more rounds before it agrees to go on.
            let mut rounds = 0;
            while answer.0 != FULL_FEATURE {
                rounds += 1;
                if rounds > 8 {
                    return Err("the operational negotiation does not end".into());
                }
                answer = self.login_exchange(itt, OPERATIONAL, FULL_FEATURE, &[])?;
                self.settle(&answer.1)?;
            }
            stage = answer.0;
        }
        if stage != FULL_FEATURE {
            return Err(format!("unexpected login stage {stage}"));
        }
        Ok(())
    }

    /// CHAP with MD5 (RFC 7143 12.1.3): ask for algorithm 5, answer the challenge.
    fn chap(&mut self, itt: u32, chap: &Chap) -> Result<(u8, Vec<(String, String)>), String> {
        let challenge =
            self.login_exchange_t(itt, SECURITY, false, &[("CHAP_A", "5".to_string())])?;
        let pairs = challenge.1;
        if text::get(&pairs, "CHAP_A") != Some("5") {
            return Err("the target does not offer CHAP with MD5".into());
        }
        let id: u8 = text::get(&pairs, "CHAP_I")
            .and_then(|v| v.parse().ok())
            .ok_or("the target sent no valid CHAP_I")?;
        let c = text::get(&pairs, "CHAP_C")
            .and_then(md5::from_hex)
            .ok_or("the target sent no valid CHAP_C")?;
        let response = md5::chap_response(id, chap.password.as_bytes(), &c);
        let keys = [
            ("CHAP_N", chap.username.clone()),
            ("CHAP_R", md5::to_hex(&response)),
        ];
        self.login_exchange(itt, SECURITY, OPERATIONAL, &keys)
            .map_err(|e| format!("CHAP as {}: {e}", chap.username))
    }

    /// Applies the target's answers to the operational keys.
    fn settle(&mut self, pairs: &[(String, String)]) -> Result<(), String> {
        let n = &mut self.negotiated;
        for (k, v) in pairs {
            let num = || v.parse::<u32>().ok();
            match k.as_str() {
                "MaxRecvDataSegmentLength" => {
                    n.max_send_data_segment = num().unwrap_or(n.max_send_data_segment)
                }
                "FirstBurstLength" => n.first_burst = num().unwrap_or(n.first_burst),
                "MaxBurstLength" => n.max_burst = num().unwrap_or(n.max_burst),
                "ImmediateData" => n.immediate_data = v == "Yes",
                "InitialR2T" => n.initial_r2t = v == "Yes",
                "HeaderDigest" | "DataDigest" if v != "None" => {
                    return Err(format!("the target wants {k}={v}"));
                }
                _ => {}
            }
        }
        n.first_burst = n.first_burst.min(n.max_burst);
        Ok(())
    }

    /// Sends one login request (transit from `csg` to `nsg`) with `keys` and gathers the
    /// whole answer (continuing while the target sets the C bit). Returns the stage the
    /// target moved to (its NSG when T is set, else `csg`) and its keys.
    fn login_exchange(
        &mut self,
        itt: u32,
        csg: u8,
        nsg: u8,
        keys: &[(&str, String)],
    ) -> Result<(u8, Vec<(String, String)>), String> {
        let flags = 0x80 | (csg << 2) | nsg;
        self.login_round(itt, csg, flags, keys)
    }

    /// A login request that stays in stage `csg` (T clear), as CHAP's first step does.
    fn login_exchange_t(
        &mut self,
        itt: u32,
        csg: u8,
        transit: bool,
        keys: &[(&str, String)],
    ) -> Result<(u8, Vec<(String, String)>), String> {
        let flags = if transit {
            0x80 | (csg << 2) | 1
        } else {
            csg << 2
        };
        self.login_round(itt, csg, flags, keys)
    }

    fn login_round(
        &mut self,
        itt: u32,
        csg: u8,
        request_flags: u8,
        keys: &[(&str, String)],
    ) -> Result<(u8, Vec<(String, String)>), String> {
        let mut data = text::format(keys);
        let mut gathered = Vec::new();
        loop {
            let mut pdu = Pdu::new(opcode::LOGIN_REQUEST | IMMEDIATE, request_flags);
            let mut lun = [0u8; 8];
            lun[..6].copy_from_slice(&self.isid);
            lun[6..8].copy_from_slice(&self.tsih.to_be_bytes());
            pdu.set_lun_field(lun);
            pdu.set_u32(16, itt);
            pdu.set_u32(24, self.cmdsn);
            pdu.set_u32(28, self.exp_statsn);
            pdu.data = std::mem::take(&mut data);
            self.send(&pdu)?;
            let answer = self.recv()?;
            if answer.opcode() != opcode::LOGIN_RESPONSE {
                return Err(format!(
                    "unexpected PDU 0x{:02x} during login",
                    answer.opcode()
                ));
            }
            let (class, detail) = (answer.bhs[36], answer.bhs[37]);
            if class != 0 {
                return Err(format!(
                    "{} (status 0x{class:02x}{detail:02x})",
                    login_status_text(class, detail)
                ));
            }
            self.exp_statsn = answer.u32_at(24).wrapping_add(1);
            self.tsih = u16::from_be_bytes([answer.bhs[14], answer.bhs[15]]);
            gathered.extend_from_slice(&answer.data);
            let flags = answer.flags();
            if flags & 0x40 != 0 {
                // C: more text follows; ask for it with an empty request (T clear).
                let mut next = Pdu::new(opcode::LOGIN_REQUEST | IMMEDIATE, csg << 2);
                next.bhs[8..16].copy_from_slice(&answer.bhs[8..16]);
                next.set_u32(16, itt);
                next.set_u32(24, self.cmdsn);
                next.set_u32(28, self.exp_statsn);
                self.send(&next)?;
                continue;
            }
            let stage = if flags & 0x80 != 0 { flags & 0x03 } else { csg };
            return Ok((stage, text::parse(&gathered)));
        }
    }

    /// A Text request with `keys`; gathers multi-PDU answers (C bit, or F clear with a
    /// target transfer tag).
    pub fn text_request(
        &mut self,
        keys: &[(&str, String)],
    ) -> Result<Vec<(String, String)>, VirError> {
        self.text_exchange(keys).map_err(|e| {
            error(format!(
                "Failed to send a text request to {}: {e}",
                self.what()
            ))
        })
    }

    fn text_exchange(&mut self, keys: &[(&str, String)]) -> Result<Vec<(String, String)>, String> {
        let itt = self.next_itt();
        let mut data = text::format(keys);
        let mut ttt = RESERVED_TAG;
        let mut gathered = Vec::new();
        loop {
            let mut pdu = Pdu::new(opcode::TEXT_REQUEST | IMMEDIATE, 0x80);
            pdu.set_u32(16, itt);
            pdu.set_u32(20, ttt);
            pdu.set_u32(24, self.cmdsn);
            pdu.set_u32(28, self.exp_statsn);
            pdu.data = std::mem::take(&mut data);
            self.send(&pdu)?;
            let answer = self.recv()?;
            if answer.opcode() != opcode::TEXT_RESPONSE || answer.itt() != itt {
                return Err(format!(
                    "unexpected PDU 0x{:02x} for a text request",
                    answer.opcode()
                ));
            }
            self.exp_statsn = answer.u32_at(24).wrapping_add(1);
            gathered.extend_from_slice(&answer.data);
            let flags = answer.flags();
            ttt = answer.u32_at(20);
            if flags & 0x80 != 0 && flags & 0x40 == 0 {
                return Ok(text::parse(&gathered));
            }
        }
    }

    /// Logs out (closes the session) and closes the connection.
    pub fn logout(mut self) -> Result<(), VirError> {
        self.logged_out = true;
        self.logout_exchange()
            .map_err(|e| error(format!("Failed to logout from {}: {e}", self.what())))
    }

    fn logout_exchange(&mut self) -> Result<(), String> {
        let itt = self.next_itt();
        // Reason code 0: close the session.
        let mut pdu = Pdu::new(opcode::LOGOUT_REQUEST | IMMEDIATE, 0x80);
        pdu.set_u32(16, itt);
        pdu.set_u32(24, self.cmdsn);
        pdu.set_u32(28, self.exp_statsn);
        self.send(&pdu)?;
        loop {
            let answer = self.recv()?;
            if answer.opcode() == opcode::LOGOUT_RESPONSE {
                let _ = self.stream.shutdown(std::net::Shutdown::Both);
                return match answer.bhs[2] {
                    0 => Ok(()),
                    r => Err(format!("logout response 0x{r:02x}")),
                };
            }
        }
    }

    /// Runs one SCSI command on `lun`: `cdb`, `read_len` bytes expected in, `out` sent.
    fn command(
        &mut self,
        lun: u64,
        cdb: &[u8],
        read_len: u32,
        out: &[u8],
    ) -> Result<Outcome, String> {
        let itt = self.next_itt();
        let (read, write) = (read_len > 0, !out.is_empty());
        let mut flags = 0x80 | 0x01; // F, simple task attribute
        if read {
            flags |= 0x40;
        }
        if write {
            flags |= 0x20;
        }
        let mut pdu = Pdu::new(opcode::SCSI_COMMAND, flags);
        pdu.set_lun_field(encode_lun(lun));
        pdu.set_u32(16, itt);
        pdu.set_u32(20, if write { out.len() as u32 } else { read_len });
        pdu.set_u32(24, self.cmdsn);
        pdu.set_u32(28, self.exp_statsn);
        let mut cdb16 = [0u8; 16];
        cdb16[..cdb.len()].copy_from_slice(cdb);
        pdu.bhs[32..48].copy_from_slice(&cdb16);
        let n = self.negotiated;
        let immediate = if write && n.immediate_data {
            out.len()
                .min(n.first_burst as usize)
                .min(n.max_send_data_segment as usize)
        } else {
            0
        };
        pdu.data = out[..immediate].to_vec();
        self.cmdsn = self.cmdsn.wrapping_add(1);
        self.send(&pdu)?;
        let mut data = vec![0u8; read_len as usize];
        let mut received = 0usize;
        loop {
            let answer = self.recv()?;
            if answer.itt() != itt {
                continue;
            }
            match answer.opcode() {
                opcode::DATA_IN => {
                    let offset = answer.u32_at(40) as usize;
                    let end = offset + answer.data.len();
                    if end > data.len() {
                        return Err("the target sent more data than asked".into());
                    }
                    data[offset..end].copy_from_slice(&answer.data);
                    received = received.max(end);
                    if answer.flags() & 0x01 != 0 {
                        self.exp_statsn = answer.u32_at(24).wrapping_add(1);
                        data.truncate(received);
                        return Ok(Outcome {
                            status: answer.bhs[3],
                            data,
                            sense: None,
                        });
                    }
                }
                opcode::R2T => {
                    self.data_out(lun, &answer, out)?;
                }
                opcode::SCSI_RESPONSE => {
                    self.exp_statsn = answer.u32_at(24).wrapping_add(1);
                    if answer.bhs[2] != 0 {
                        return Err(format!("target failure (response 0x{:02x})", answer.bhs[2]));
                    }
                    let sense = answer.data.get(2..).and_then(Sense::parse);
                    data.truncate(received);
                    return Ok(Outcome {
                        status: answer.bhs[3],
                        data,
                        sense,
                    });
                }
                other => return Err(format!("unexpected PDU 0x{other:02x} for a SCSI command")),
            }
        }
    }

    /// Answers an R2T with Data-Out PDUs of at most the target's segment length.
    fn data_out(&mut self, lun: u64, r2t: &Pdu, out: &[u8]) -> Result<(), String> {
        let ttt = r2t.u32_at(20);
        let offset = r2t.u32_at(40) as usize;
        let len = r2t.u32_at(44) as usize;
        let end = (offset + len).min(out.len());
        let step = self.negotiated.max_send_data_segment.max(512) as usize;
        let mut at = offset;
        let mut datasn = 0u32;
        while at < end {
            let chunk = step.min(end - at);
            let last = at + chunk >= end;
            let mut pdu = Pdu::new(opcode::DATA_OUT, if last { 0x80 } else { 0 });
            pdu.set_lun_field(encode_lun(lun));
            pdu.set_u32(16, r2t.itt());
            pdu.set_u32(20, ttt);
            pdu.set_u32(28, self.exp_statsn);
            pdu.set_u32(36, datasn);
            pdu.set_u32(40, at as u32);
            pdu.data = out[at..at + chunk].to_vec();
            self.send(&pdu)?;
            at += chunk;
            datasn += 1;
        }
        Ok(())
    }

    /// Runs a command, retrying on UNIT ATTENTION (as after a login or a resize), and
    /// turns a non-GOOD status into an error naming `what`.
    fn run(
        &mut self,
        what: &str,
        lun: u64,
        cdb: &[u8],
        read_len: u32,
        out: &[u8],
    ) -> Result<Vec<u8>, VirError> {
        let mut attempts = 0;
        loop {
            attempts += 1;
            let outcome = self.command(lun, cdb, read_len, out).map_err(|e| {
                error(format!(
                    "Failed to {what} on LUN {lun} of {}: {e}",
                    self.what()
                ))
            })?;
            match (outcome.status, outcome.sense) {
                (0, _) => return Ok(outcome.data),
                (2, Some(s)) if s.key == 6 && attempts < 4 => continue,
                (status, sense) => {
                    let why = match sense {
                        Some(s) => format!("check condition: {s}"),
                        None => format!("SCSI status 0x{status:02x}"),
                    };
                    return Err(error(format!(
                        "Failed to {what} on LUN {lun} of {}: {why}",
                        self.what()
                    )));
                }
            }
        }
    }

    /// TEST UNIT READY.
    pub fn test_unit_ready(&mut self, lun: u64) -> Result<(), VirError> {
        self.run("test unit ready", lun, &scsi::test_unit_ready(), 0, &[])
            .map(|_| ())
    }

    /// The LUNs the target has (REPORT LUNS), in its order.
    pub fn report_luns(&mut self) -> Result<Vec<u64>, VirError> {
        let mut alloc = 4096u32;
        loop {
            let data = self.run("report LUNs", 0, &scsi::report_luns(alloc), alloc, &[])?;
            let (luns, full) = scsi::parse_report_luns(&data);
            if full <= alloc as usize || alloc >= 1 << 20 {
                return Ok(luns);
            }
            alloc = full as u32;
        }
    }

    /// The standard INQUIRY data of `lun`, with its unit serial number (VPD page 0x80)
    /// and device identification (VPD page 0x83) when it has them.
    pub fn inquiry(&mut self, lun: u64) -> Result<Inquiry, VirError> {
        let data = self.run("inquiry", lun, &scsi::inquiry(None, 96), 96, &[])?;
        let mut inq = Inquiry::parse(&data).ok_or_else(|| {
            error(format!(
                "Failed to inquiry on LUN {lun} of {}: short answer ({} bytes)",
                self.what(),
                data.len()
            ))
        })?;
        if let Ok(vpd) = self.run("inquiry", lun, &scsi::inquiry(Some(0x80), 255), 255, &[]) {
            inq.serial = scsi::parse_serial(&vpd);
        }
        if let Ok(vpd) = self.run("inquiry", lun, &scsi::inquiry(Some(0x83), 255), 255, &[]) {
            inq.designators = scsi::parse_designators(&vpd);
        }
        Ok(inq)
    }

    /// The size of `lun`: READ CAPACITY(16), or (10) when the target does not know (16).
    pub fn read_capacity(&mut self, lun: u64) -> Result<Capacity, VirError> {
        let cap = match self.run("read capacity", lun, &scsi::read_capacity16(32), 32, &[]) {
            Ok(data) => Capacity::parse16(&data),
            Err(_) => {
                let data = self.run("read capacity", lun, &scsi::read_capacity10(), 8, &[])?;
                Capacity::parse10(&data)
            }
        }
        .ok_or_else(|| {
            error(format!(
                "Failed to read capacity on LUN {lun} of {}: short answer",
                self.what()
            ))
        })?;
        self.block_sizes.insert(lun, cap.block_size);
        Ok(cap)
    }

    fn block_size(&mut self, lun: u64) -> Result<u32, VirError> {
        match self.block_sizes.get(&lun) {
            Some(&b) => Ok(b),
            None => Ok(self.read_capacity(lun)?.block_size),
        }
    }

    /// Reads `blocks` logical blocks of `lun` from `lba` (READ(16)).
    pub fn read(&mut self, lun: u64, lba: u64, blocks: u32) -> Result<Vec<u8>, VirError> {
        let bs = self.block_size(lun)?;
        let len = blocks
            .checked_mul(bs)
            .ok_or_else(|| error(format!("read of {blocks} blocks is too large")))?;
        self.run("read", lun, &scsi::rw16(false, lba, blocks), len, &[])
    }

    /// Writes `data` (whole logical blocks) to `lun` from `lba` (WRITE(16)).
    pub fn write(&mut self, lun: u64, lba: u64, data: &[u8]) -> Result<(), VirError> {
        let bs = self.block_size(lun)?;
        if data.is_empty() || data.len() % bs as usize != 0 {
            return Err(error(format!(
                "write of {} bytes is not a whole number of {bs}-byte blocks",
                data.len()
            )));
        }
        let blocks = (data.len() / bs as usize) as u32;
        self.run("write", lun, &scsi::rw16(true, lba, blocks), 0, data)
            .map(|_| ())
    }
}

impl Drop for Session {
    fn drop(&mut self) {
        if !self.logged_out {
            self.logged_out = true;
            let _ = self.logout_exchange();
        }
    }
}

/// A random-qualifier ISID (type 10b: `0x80` then 5 bytes that differ per session).
fn new_isid() -> [u8; 6] {
    use std::sync::atomic::{AtomicU32, Ordering};
    static COUNTER: AtomicU32 = AtomicU32::new(0);
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.subsec_nanos())
        .unwrap_or(0);
    let mix = std::process::id().wrapping_mul(2_654_435_761)
        ^ nanos
        ^ COUNTER.fetch_add(1, Ordering::Relaxed).wrapping_mul(40_503);
    let [a, b, c, d] = mix.to_be_bytes();
    [0x80, a, b, c, d, (nanos >> 8) as u8]
}
