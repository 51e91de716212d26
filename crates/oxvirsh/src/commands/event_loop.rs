//! The loop shared by `event` and `net-event`: virsh's `--loop`, `--timeout` and
//! `--timestamp` handling, the printing of each event and the closing count.

use std::future::Future;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use serde_json::{json, Value};
use tokio::time::Instant;

use crate::args::Cmd;
use crate::ctl::{CmdResult, Ctl};
use crate::output::{format_time, CmdError};

/// `YYYY-MM-DD HH:MM:SS.mmm+0000`, libvirt's `virTimeStringNowRaw`.
fn timestamp_now() -> String {
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap_or_default();
    let secs = i64::try_from(now.as_secs()).unwrap_or(0);
    let day_time = format_time(secs);
    // format_time gives "... HH:MM:SS +0000"
    let base = day_time.trim_end_matches(" +0000");
    format!("{base}.{:03}+0000", now.subsec_millis())
}

/// The state of one event command's wait: its options, how many events it printed and
/// whether the `--timeout` ran out.
pub struct EventLoop {
    timeout: Option<Duration>,
    deadline: Option<Instant>,
    looping: bool,
    stamp: bool,
    count: u64,
    timed_out: bool,
}

impl EventLoop {
    /// Reads `--timeout` (seconds, checked as virsh does), `--loop` and `--timestamp`;
    /// the timeout starts with the first wait.
    pub fn from_cmd(cmd: &Cmd) -> Result<Self, CmdError> {
        let timeout = match cmd.get("timeout") {
            None => None,
            Some(raw) => {
                let secs = cmd.uint("timeout").map_err(CmdError::msg)?.unwrap_or(0);
                if secs == 0 || secs > i32::MAX as u32 / 1000 {
                    return Err(CmdError::msg(format!(
                        "Numeric value '{raw}' for <timeout> option is malformed or out of range"
                    )));
                }
                Some(Duration::from_secs(u64::from(secs)))
            }
        };
        Ok(EventLoop {
            timeout,
            deadline: None,
            looping: cmd.has("loop"),
            stamp: cmd.has("timestamp"),
            count: 0,
            timed_out: false,
        })
    }

    /// The next event from `next` (a stream's `next()`), `None` when the stream ended or
    /// the timeout ran out.
    pub async fn next<T>(&mut self, next: impl Future<Output = Option<T>>) -> Option<T> {
        if self.deadline.is_none() {
            self.deadline = self.timeout.map(|t| Instant::now() + t);
        }
        match self.deadline {
            Some(d) => match tokio::time::timeout_at(d, next).await {
                Ok(e) => e,
                Err(_) => {
                    self.timed_out = true;
                    None
                }
            },
            None => next.await,
        }
    }

    /// Prints one event (`json` with `--json`, else `line` after the timestamp if asked)
    /// and counts it; true while the loop goes on (`--loop`).
    pub fn show(&mut self, ctl: &mut Ctl, json: Value, line: &str) -> bool {
        self.count += 1;
        if ctl.json {
            ctl.print_json(&json);
        } else {
            let prefix = if self.stamp {
                format!("{}: ", timestamp_now())
            } else {
                String::new()
            };
            ctl.print(&format!("{prefix}{line}"));
            ctl.flush();
        }
        self.looping
    }

    /// virsh's closing lines; an error (printed by nobody) when no event came.
    pub fn finish(self, ctl: &mut Ctl) -> CmdResult {
        let (count, timed_out) = (self.count, self.timed_out);
        if timed_out {
            ctl.print("event loop timed out\n");
        }
        ctl.print(&format!("events received: {count}\n"));
        if count == 0 {
            return Err(CmdError::silent(if timed_out {
                "event loop timed out"
            } else {
                "no events received"
            }));
        }
        Ok(json!({ "events_received": count, "timed_out": timed_out }))
    }
}
