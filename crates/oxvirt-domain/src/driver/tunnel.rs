//! The data path of a tunnelled migration (`VIR_MIGRATE_TUNNELLED`): the source QEMU's
//! migration stream travels inside the RPC connection between the two daemons, as the
//! stream of `virDomainMigratePrepareTunnel3Params` (procedure 304).
//!
//! A [`MigrationTunnel`] is the sending end: the source's perform phase writes QEMU's bytes
//! into it, then [`MigrationTunnel::finish`]es it (which waits until the far end has taken
//! everything) or drops it (an abort). Its [`TunnelEnd`] is held by whoever carries the
//! bytes on: on a destination daemon, the QEMU driver writing them into the incoming QEMU;
//! on a source daemon, the remote driver sending them as stream packets. The end reports
//! its outcome with [`TunnelEnd::done`]; a failure there (QEMU gone, stream aborted) makes
//! the sender's next call fail with that error.

use tokio::sync::{mpsc, oneshot};

use super::Result;
use oxvirt_xml::{ErrorCode, ErrorDomain, VirError};

/// How many pieces may wait between the two ends.
const DEPTH: usize = 4;

enum Piece {
    Data(Vec<u8>),
    Finish,
}

/// The sending end of a migration tunnel. Dropping it unfinished aborts the tunnel.
pub struct MigrationTunnel {
    tx: Option<mpsc::Sender<Piece>>,
    done: oneshot::Receiver<Result<()>>,
    /// The far end's error once read from `done` (which may be read only once).
    failed: Option<VirError>,
}

impl std::fmt::Debug for MigrationTunnel {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("MigrationTunnel").finish_non_exhaustive()
    }
}

/// What the sender did next, as the far end sees it.
#[derive(Debug, PartialEq, Eq)]
pub enum TunnelEvent {
    /// More of the migration stream.
    Data(Vec<u8>),
    /// The stream is complete: flush it, then report with [`TunnelEnd::done`].
    Finish,
    /// The sender gave up (the migration failed at the source).
    Abort,
}

/// The receiving end of a migration tunnel.
pub struct TunnelEnd {
    rx: mpsc::Receiver<Piece>,
    done: Option<oneshot::Sender<Result<()>>>,
}

impl std::fmt::Debug for TunnelEnd {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TunnelEnd").finish_non_exhaustive()
    }
}

/// libvirt's error for a tunnel whose far end stopped without saying why.
pub fn tunnel_broken() -> VirError {
    VirError::new(
        ErrorDomain::Qemu,
        ErrorCode::OperationFailed,
        "migration tunnel closed unexpectedly",
    )
}

/// A new tunnel: the sending and the receiving end.
pub fn migration_tunnel() -> (MigrationTunnel, TunnelEnd) {
    let (tx, rx) = mpsc::channel(DEPTH);
    let (done_tx, done) = oneshot::channel();
    (
        MigrationTunnel {
            tx: Some(tx),
            done,
            failed: None,
        },
        TunnelEnd {
            rx,
            done: Some(done_tx),
        },
    )
}

impl MigrationTunnel {
    /// The far end's error once it stopped taking data.
    async fn failure(&mut self) -> VirError {
        self.tx = None;
        if let Some(e) = &self.failed {
            return e.clone();
        }
        let e = match (&mut self.done).await {
            Ok(Err(e)) => e,
            _ => tunnel_broken(),
        };
        self.failed = Some(e.clone());
        e
    }

    /// Sends `data` on; waits while the far end is [`DEPTH`] pieces behind. Fails with
    /// the far end's error once it stopped.
    pub async fn send(&mut self, data: Vec<u8>) -> Result<()> {
        if data.is_empty() {
            return Ok(());
        }
        let sent = match &self.tx {
            Some(tx) => tx.send(Piece::Data(data)).await.is_ok(),
            None => false,
        };
        if sent {
            Ok(())
        } else {
            Err(self.failure().await)
        }
    }

    /// Ends the stream and waits until the far end has passed everything on (its outcome).
    pub async fn finish(mut self) -> Result<()> {
        let sent = match self.tx.take() {
            Some(tx) => tx.send(Piece::Finish).await.is_ok(),
            None => false,
        };
        if !sent {
            return Err(self.failure().await);
        }
        match (&mut self.done).await {
            Ok(r) => r,
            Err(_) => Err(tunnel_broken()),
        }
    }

    /// Whether the far end has stopped (failed or gone).
    pub fn is_closed(&self) -> bool {
        self.tx.as_ref().is_none_or(|tx| tx.is_closed())
    }

    /// Waits until the far end stops (its error), for a sender with nothing to send.
    pub async fn closed(&mut self) -> VirError {
        if let Some(tx) = &self.tx {
            tx.closed().await;
        }
        self.failure().await
    }
}

impl TunnelEnd {
    /// The sender's next step; [`TunnelEvent::Abort`] once it went away unfinished.
    pub async fn recv(&mut self) -> TunnelEvent {
        match self.rx.recv().await {
            Some(Piece::Data(d)) => TunnelEvent::Data(d),
            Some(Piece::Finish) => TunnelEvent::Finish,
            None => TunnelEvent::Abort,
        }
    }

    /// Reports the outcome: after [`TunnelEvent::Finish`], whether everything arrived;
    /// earlier, the error that stops the tunnel (the sender's next call returns it).
    pub fn done(mut self, outcome: Result<()>) {
        self.rx.close();
        if let Some(tx) = self.done.take() {
            let _ = tx.send(outcome);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn data_then_finish_reach_the_end_in_order() {
        let (mut t, mut end) = migration_tunnel();
        let far = tokio::spawn(async move {
            let mut got = Vec::new();
            loop {
                match end.recv().await {
                    TunnelEvent::Data(d) => got.extend(d),
                    TunnelEvent::Finish => {
                        end.done(Ok(()));
                        return Some(got);
                    }
                    TunnelEvent::Abort => return None,
                }
            }
        });
        for i in 0..20u8 {
            t.send(vec![i; 3]).await.unwrap();
        }
        t.send(Vec::new()).await.unwrap();
        t.finish().await.unwrap();
        let got = far.await.unwrap().unwrap();
        assert_eq!(got.len(), 60);
        assert_eq!(&got[57..], &[19, 19, 19]);
    }

    #[tokio::test]
    async fn a_dropped_sender_is_an_abort() {
        let (mut t, mut end) = migration_tunnel();
        t.send(vec![1]).await.unwrap();
        drop(t);
        assert_eq!(end.recv().await, TunnelEvent::Data(vec![1]));
        assert_eq!(end.recv().await, TunnelEvent::Abort);
    }

    #[tokio::test]
    async fn the_far_ends_error_comes_back_to_the_sender() {
        let (mut t, end) = migration_tunnel();
        let err = VirError::new(ErrorDomain::Qemu, ErrorCode::OperationFailed, "qemu gone");
        end.done(Err(err.clone()));
        assert!(t.is_closed());
        assert_eq!(t.send(vec![1]).await.unwrap_err(), err);
        // Asked again, the same error.
        assert_eq!(t.send(vec![1]).await.unwrap_err(), err);
        assert_eq!(t.closed().await, err);
        assert_eq!(t.finish().await.unwrap_err(), err);
        let (t, end) = migration_tunnel();
        drop(end);
        assert_eq!(t.finish().await.unwrap_err(), tunnel_broken());
    }

    #[tokio::test]
    async fn a_failed_finish_is_the_far_ends_error() {
        let (t, mut end) = migration_tunnel();
        let far = tokio::spawn(async move {
            assert_eq!(end.recv().await, TunnelEvent::Finish);
            end.done(Err(VirError::new(
                ErrorDomain::Qemu,
                ErrorCode::OperationFailed,
                "short",
            )));
        });
        assert_eq!(
            t.finish().await.unwrap_err().message,
            "operation failed: short"
        );
        far.await.unwrap();
    }
}
