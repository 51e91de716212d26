//! `virDomainOpenConsole` (REMOTE_PROC_DOMAIN_OPEN_CONSOLE, 201), libvirtd's
//! `remoteDispatchDomainOpenConsole`: the driver opens the console, the CALL is answered
//! with an empty REPLY, then the guest's output goes to the client as stream data and the
//! client's stream data (keystrokes) is written to the guest ([`super::pump_duplex`]).
//! The read-only refusal happens before, in [`super::dispatch_stream`].

use oxvirt_domain::driver::Hypervisor;
use oxvirt_rpc::stream::DomainOpenConsoleArgs;
use oxvirt_xml::VirError;

use super::super::{args, dref};
use super::StreamCall;

/// Opens the console the CALL's `payload` names: the reply (empty) and both directions.
pub(super) async fn open(drv: &dyn Hypervisor, payload: &[u8]) -> Result<StreamCall, VirError> {
    let a: DomainOpenConsoleArgs = args(payload)?;
    let io = drv
        .open_console(&dref(a.dom), a.dev_name.as_deref(), a.flags)
        .await?;
    Ok(StreamCall {
        reply: Vec::new(),
        source: io.reader,
        sink: Some(io.writer),
        transfer: None,
    })
}

#[cfg(test)]
mod tests {
    use std::sync::Mutex;

    use oxvirt_domain::driver::event::{EventBus, EventReceiver};
    use oxvirt_domain::driver::{ConsoleIo, DomainRef, Result};
    use oxvirt_rpc::packet::PROGRAM_REMOTE;
    use oxvirt_rpc::stream::{self as rpc, STREAM_CHUNK};
    use oxvirt_rpc::types::NonnullDomain;
    use oxvirt_rpc::xdr::encode_to_vec;
    use oxvirt_rpc::{Header, MessageStatus, MessageType, Packet};
    use oxvirt_xml::{ErrorCode, ErrorDomain};
    use std::future::Future;
    use std::pin::Pin;
    use tokio::io::{AsyncReadExt, AsyncWriteExt, DuplexStream};
    use tokio::sync::mpsc;

    use super::super::{dispatch_stream, pump_duplex, Ending, Outbox, STREAM_WINDOW};
    use super::*;
    use crate::client::Client;

    /// A hypervisor whose one domain "vm" has a console: the guest's ends of two pipes.
    struct Fake {
        bus: EventBus,
        console: Mutex<Option<ConsoleIo>>,
        opened: Mutex<Vec<(String, Option<String>, u32)>>,
    }

    impl Fake {
        fn open_now(
            &self,
            dom: &DomainRef,
            dev_name: Option<&str>,
            flags: u32,
        ) -> Result<ConsoleIo> {
            if dom.name != "vm" {
                return Err(VirError::new(
                    ErrorDomain::Qemu,
                    ErrorCode::NoDomain,
                    "no domain with matching uuid 'x' (vm)",
                ));
            }
            self.opened.lock().unwrap().push((
                dom.name.clone(),
                dev_name.map(str::to_owned),
                flags,
            ));
            Ok(self.console.lock().unwrap().take().unwrap())
        }
    }

    // The trait's `async_trait` form, written out (this crate does not depend on the
    // macro).
    impl Hypervisor for Fake {
        fn uri(&self) -> String {
            "fake:///".into()
        }

        fn hypervisor_type(&self) -> &str {
            "FAKE"
        }

        fn subscribe(&self) -> EventReceiver {
            self.bus.subscribe()
        }

        fn open_console<'life0, 'life1, 'life2, 'async_trait>(
            &'life0 self,
            dom: &'life1 DomainRef,
            dev_name: Option<&'life2 str>,
            flags: u32,
        ) -> Pin<Box<dyn Future<Output = Result<ConsoleIo>> + Send + 'async_trait>>
        where
            'life0: 'async_trait,
            'life1: 'async_trait,
            'life2: 'async_trait,
            Self: 'async_trait,
        {
            let opened = self.open_now(dom, dev_name, flags);
            Box::pin(async move { opened })
        }
    }

    fn call() -> Header {
        Header {
            prog: PROGRAM_REMOTE,
            vers: 1,
            procedure: 201,
            kind: MessageType::Call,
            serial: 4,
            status: MessageStatus::Ok,
        }
    }

    fn open_args(name: &str, dev_name: Option<&str>, flags: u32) -> Vec<u8> {
        encode_to_vec(&DomainOpenConsoleArgs {
            dom: NonnullDomain {
                name: name.into(),
                uuid: [3; 16],
                id: 1,
            },
            dev_name: dev_name.map(str::to_owned),
            flags,
        })
    }

    /// A console opened through the dispatcher and pumped, with the guest's ends.
    struct Rig {
        /// What the guest writes (its serial port output).
        guest_out: DuplexStream,
        /// What the guest receives (its serial port input).
        guest_in: DuplexStream,
        out: Outbox,
        rx: mpsc::UnboundedReceiver<Packet>,
        to_stream: mpsc::Sender<Packet>,
        task: tokio::task::JoinHandle<Ending>,
        fake: std::sync::Arc<Fake>,
    }

    async fn start() -> Rig {
        let (guest_out, daemon_reader) = tokio::io::duplex(8 << 20);
        let (daemon_writer, guest_in) = tokio::io::duplex(8 << 20);
        let fake = std::sync::Arc::new(Fake {
            bus: EventBus::new(),
            console: Mutex::new(Some(ConsoleIo {
                reader: Box::new(daemon_reader),
                writer: Box::new(daemon_writer),
            })),
            opened: Mutex::new(Vec::new()),
        });
        let opened = open(fake.as_ref(), &open_args("vm", Some("serial0"), 1))
            .await
            .unwrap();
        assert!(opened.reply.is_empty());
        let (tx, rx) = mpsc::unbounded_channel();
        let out = Outbox::new(tx);
        let (to_stream, incoming) = mpsc::channel(8);
        let task = tokio::spawn(pump_duplex(
            call(),
            opened.source,
            opened.sink,
            out.clone(),
            incoming,
        ));
        Rig {
            guest_out,
            guest_in,
            out,
            rx,
            to_stream,
            task,
            fake,
        }
    }

    impl Rig {
        /// The next packet to the client, its credit given back as the writer would.
        async fn next(&mut self) -> Packet {
            let p = within(self.rx.recv()).await.unwrap();
            self.out.written(Outbox::credit_of(&p));
            p
        }

        async fn send(&self, p: Packet) {
            self.to_stream.send(p).await.unwrap();
        }

        async fn guest_reads(&mut self, n: usize) -> Vec<u8> {
            let mut got = vec![0u8; n];
            within(self.guest_in.read_exact(&mut got)).await.unwrap();
            got
        }
    }

    /// `f`'s output, failing the test after 5 s instead of hanging.
    async fn within<T>(f: impl Future<Output = T>) -> T {
        tokio::time::timeout(std::time::Duration::from_secs(5), f)
            .await
            .expect("timed out")
    }

    fn assert_data(p: &Packet, payload: &[u8]) {
        assert_eq!(
            (
                p.header.kind,
                p.header.status,
                p.header.procedure,
                p.header.serial
            ),
            (MessageType::Stream, MessageStatus::Continue, 201, 4)
        );
        assert_eq!(p.payload, payload);
    }

    #[tokio::test]
    async fn the_driver_gets_the_calls_arguments_and_its_errors_are_the_reply() {
        let rig = start().await;
        assert_eq!(
            *rig.fake.opened.lock().unwrap(),
            vec![("vm".to_owned(), Some("serial0".to_owned()), 1)]
        );
        let Err(err) = open(rig.fake.as_ref(), &open_args("nope", None, 0)).await else {
            panic!("opened a console of an unknown domain");
        };
        assert_eq!(
            (err.code, err.domain),
            (ErrorCode::NoDomain, ErrorDomain::Qemu)
        );
        assert_eq!(
            err.message,
            "Domain not found: no domain with matching uuid 'x' (vm)"
        );
        let Err(err) = open(rig.fake.as_ref(), &[0, 0]).await else {
            panic!("decoded two bytes");
        };
        assert_eq!(err.code, ErrorCode::Rpc);
    }

    #[tokio::test]
    async fn guest_output_reaches_the_client_as_stream_data() {
        let mut rig = start().await;
        rig.guest_out.write_all(b"login: ").await.unwrap();
        assert_data(&rig.next().await, b"login: ");
        rig.guest_out.write_all(b"\r\n").await.unwrap();
        assert_data(&rig.next().await, b"\r\n");
        rig.send(rpc::finish(&call())).await;
        assert_eq!(within(&mut rig.task).await.unwrap(), Ending::Finished);
        assert_eq!(rig.rx.recv().await.unwrap(), rpc::finish(&call()));
    }

    #[tokio::test]
    async fn client_data_reaches_the_guest_in_order_and_the_finish_after_it() {
        let mut rig = start().await;
        for part in [&b"ro"[..], b"ot", b"\r"] {
            rig.send(rpc::data(&call(), part.to_vec())).await;
        }
        assert_eq!(rig.guest_reads(5).await, b"root\r");
        // Data sent just before the finish is written before the finish is confirmed.
        rig.send(rpc::data(&call(), b"exit\r".to_vec())).await;
        rig.send(rpc::finish(&call())).await;
        assert_eq!(within(&mut rig.task).await.unwrap(), Ending::Finished);
        assert_eq!(rig.rx.recv().await.unwrap(), rpc::finish(&call()));
        assert_eq!(rig.guest_reads(5).await, b"exit\r");
        // The console is closed: the guest sees the end of its input.
        let mut rest = Vec::new();
        rig.guest_in.read_to_end(&mut rest).await.unwrap();
        assert!(rest.is_empty());
    }

    #[tokio::test]
    async fn a_client_abort_is_confirmed_and_closes_the_console() {
        let mut rig = start().await;
        rig.send(rpc::abort(&call(), None)).await;
        assert_eq!(within(&mut rig.task).await.unwrap(), Ending::Aborted);
        let confirm = rig.rx.recv().await.unwrap();
        assert_eq!(
            (
                confirm.header.kind,
                confirm.header.status,
                confirm.payload.len()
            ),
            (MessageType::Stream, MessageStatus::Ok, 0)
        );
        assert!(rig.rx.try_recv().is_err());
        // The daemon let go of the guest's pipes.
        assert!(rig.guest_out.write_all(b"x").await.is_err());
    }

    #[tokio::test]
    async fn guest_eof_ends_the_data_and_the_client_then_finishes() {
        let mut rig = start().await;
        rig.guest_out.write_all(b"bye").await.unwrap();
        rig.guest_out.shutdown().await.unwrap();
        assert_data(&rig.next().await, b"bye");
        let end = rig.next().await;
        assert_data(&end, b"");
        // Nothing more until the client finishes; typing still reaches the guest.
        rig.send(rpc::data(&call(), b"q".to_vec())).await;
        assert_eq!(rig.guest_reads(1).await, b"q");
        assert!(rig.rx.try_recv().is_err());
        rig.send(rpc::finish(&call())).await;
        assert_eq!(within(&mut rig.task).await.unwrap(), Ending::Finished);
        assert_eq!(rig.rx.recv().await.unwrap(), rpc::finish(&call()));
    }

    #[tokio::test]
    async fn a_slow_client_holds_the_guests_output_back() {
        let mut rig = start().await;
        let (mut guest_out, _) = tokio::io::duplex(1);
        std::mem::swap(&mut guest_out, &mut rig.guest_out);
        let writer = tokio::spawn(async move {
            guest_out
                .write_all(&vec![7u8; STREAM_CHUNK * 10])
                .await
                .unwrap();
            guest_out
        });
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
        let mut queued = 0;
        while let Ok(p) = rig.rx.try_recv() {
            queued += p.payload.len();
        }
        assert_eq!(queued, STREAM_WINDOW);
        // Typing still gets through while the output waits for credit.
        rig.send(rpc::data(&call(), b"k".to_vec())).await;
        let mut got = [0u8; 1];
        within(rig.guest_in.read_exact(&mut got)).await.unwrap();
        assert_eq!(&got, b"k");
        rig.out.written(STREAM_WINDOW);
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
        let mut more = 0;
        while let Ok(p) = rig.rx.try_recv() {
            more += p.payload.len();
        }
        assert_eq!(more, STREAM_WINDOW);
        rig.send(rpc::abort(&call(), None)).await;
        assert_eq!(within(&mut rig.task).await.unwrap(), Ending::Aborted);
        drop(writer);
    }

    #[tokio::test]
    async fn a_failing_write_to_the_guest_aborts_with_an_error() {
        let mut rig = start().await;
        // The guest's input goes away.
        let (mut gone, _) = tokio::io::duplex(1);
        std::mem::swap(&mut gone, &mut rig.guest_in);
        drop(gone);
        rig.send(rpc::data(&call(), b"x".to_vec())).await;
        let end = within(&mut rig.task).await.unwrap();
        let Ending::Failed(err) = end else {
            panic!("{end:?}")
        };
        assert_eq!(
            (err.code, err.domain),
            (ErrorCode::SystemError, ErrorDomain::Streams)
        );
        assert_eq!(err.message, "cannot write to stream: broken pipe");
        let p = rig.rx.recv().await.unwrap();
        assert_eq!(
            (p.header.kind, p.header.status, p.header.serial),
            (MessageType::Stream, MessageStatus::Error, 4)
        );
        assert_eq!(rpc::abort_error(&p.payload), err);
    }

    #[tokio::test]
    async fn read_only_connections_are_refused_and_the_test_driver_has_no_console() {
        let payload = open_args("test", None, 0);
        let ro = Client::new(true);
        ro.open(Some("test:///default"), 0).unwrap();
        let Err(err) = dispatch_stream(&ro, 201, &payload).await else {
            panic!("read-only console");
        };
        assert_eq!(
            (err.code, err.domain, err.message.as_str()),
            (
                ErrorCode::OperationDenied,
                ErrorDomain::Domain,
                "operation forbidden: read only access prevents virDomainOpenConsole"
            )
        );
        let rw = Client::new(false);
        rw.open(Some("test:///default"), 0).unwrap();
        let Err(err) = dispatch_stream(&rw, 201, &payload).await else {
            panic!("the test driver opened a console");
        };
        assert_eq!(
            (err.code, err.domain, err.message.as_str()),
            (
                ErrorCode::NoSupport,
                ErrorDomain::Domain,
                "this function is not supported by the connection driver: \
                 virDomainOpenConsole"
            )
        );
    }
}
