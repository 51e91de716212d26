//! Keepalive as libvirtd runs it (virkeepalive.c): once a client asked for
//! `VIR_DRV_FEATURE_PROGRAM_KEEPALIVE`, ping it whenever `interval` passes without a packet
//! from it, and give up after `count` unanswered pings. Any packet from the client (a PONG,
//! a CALL...) resets the count.

use std::time::Duration;

use oxvirt_rpc::packet::{KEEPALIVE_PING, KEEPALIVE_PONG, PROGRAM_KEEPALIVE};
use oxvirt_rpc::{Header, MessageStatus, MessageType, Packet};
use tokio::time::Instant;

/// What the keepalive timer should do now.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Tick {
    /// Nothing yet; look again after this long.
    Wait(Duration),
    /// Send a PING, then look again after the interval.
    Ping,
    /// The client stopped answering: close the connection.
    Close,
}

/// One client's keepalive state.
#[derive(Debug, Clone)]
pub struct Keepalive {
    interval: Duration,
    count: u32,
    remaining: u32,
    last_rx: Instant,
}

impl Keepalive {
    /// A client last heard from at `now`.
    pub fn new(interval: Duration, count: u32, now: Instant) -> Self {
        Keepalive {
            interval,
            count,
            remaining: count,
            last_rx: now,
        }
    }

    /// The ping interval.
    pub fn interval(&self) -> Duration {
        self.interval
    }

    /// How many unanswered pings end the connection.
    pub fn count(&self) -> u32 {
        self.count
    }

    /// A packet arrived from the client at `now`.
    pub fn received(&mut self, now: Instant) {
        self.last_rx = now;
        self.remaining = self.count;
    }

    /// What to do at `now`.
    pub fn tick(&mut self, now: Instant) -> Tick {
        let idle = now.saturating_duration_since(self.last_rx);
        if idle < self.interval {
            return Tick::Wait(self.interval - idle);
        }
        if self.remaining == 0 {
            return Tick::Close;
        }
        self.remaining -= 1;
        Tick::Ping
    }
}

fn keepalive_packet(procedure: i32) -> Packet {
    Packet::new(
        Header {
            prog: PROGRAM_KEEPALIVE,
            vers: 1,
            procedure,
            kind: MessageType::Message,
            serial: 0,
            status: MessageStatus::Ok,
        },
        Vec::new(),
    )
}

/// A keepalive PING (MESSAGE, serial 0, empty).
pub fn ping() -> Packet {
    keepalive_packet(KEEPALIVE_PING)
}

/// A keepalive PONG (MESSAGE, serial 0, empty).
pub fn pong() -> Packet {
    keepalive_packet(KEEPALIVE_PONG)
}

#[cfg(test)]
mod tests {
    use super::*;

    const S: Duration = Duration::from_secs(1);

    #[test]
    fn five_pings_then_close() {
        let t0 = Instant::now();
        let mut ka = Keepalive::new(5 * S, 5, t0);
        assert_eq!(ka.tick(t0 + 2 * S), Tick::Wait(3 * S));
        let mut pings = 0;
        let mut t = t0 + 5 * S;
        loop {
            match ka.tick(t) {
                Tick::Ping => pings += 1,
                Tick::Close => break,
                Tick::Wait(d) => panic!("waited {d:?} at {:?}", t - t0),
            }
            t += 5 * S;
        }
        assert_eq!(pings, 5);
        assert_eq!(t - t0, 30 * S);
    }

    #[test]
    fn any_packet_resets_the_count() {
        let t0 = Instant::now();
        let mut ka = Keepalive::new(5 * S, 2, t0);
        assert_eq!(ka.tick(t0 + 5 * S), Tick::Ping);
        assert_eq!(ka.tick(t0 + 10 * S), Tick::Ping);
        ka.received(t0 + 11 * S);
        assert_eq!(ka.tick(t0 + 15 * S), Tick::Wait(S));
        assert_eq!(ka.tick(t0 + 16 * S), Tick::Ping);
        assert_eq!(ka.tick(t0 + 21 * S), Tick::Ping);
        assert_eq!(ka.tick(t0 + 26 * S), Tick::Close);
    }

    #[test]
    fn packets_are_28_bytes() {
        let ping = ping().encode().unwrap();
        assert_eq!(ping.len(), 28);
        assert_eq!(&ping[4..8], b"keep");
        assert_eq!(&ping[8..16], &[0, 0, 0, 1, 0, 0, 0, 1]);
        assert_eq!(pong().header.procedure, 2);
    }
}
