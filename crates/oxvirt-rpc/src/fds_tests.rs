use std::fs::File;
use std::io::{Read, Seek, SeekFrom, Write};
use std::mem::MaybeUninit;
use std::os::fd::{AsFd, BorrowedFd, OwnedFd};
use std::os::unix::net::UnixStream;
use std::path::PathBuf;

use super::*;
use crate::packet::{Header, MessageStatus, MessageType, PROGRAM_REMOTE};

fn header(kind: MessageType, procedure: i32, serial: u32) -> Header {
    Header {
        prog: PROGRAM_REMOTE,
        vers: 1,
        procedure,
        kind,
        serial,
        status: MessageStatus::Ok,
    }
}

fn with_fds(fds: u32, payload: Vec<u8>) -> Packet {
    Packet {
        header: header(MessageType::CallWithFds, 443, 7),
        fds,
        payload,
    }
}

/// A scratch file, removed on drop.
struct TempFile(PathBuf);

impl TempFile {
    fn new(tag: &str) -> (TempFile, File) {
        let path = std::env::temp_dir().join(format!("oxvirt-fds-{}-{tag}", std::process::id()));
        let file = File::options()
            .read(true)
            .write(true)
            .create(true)
            .truncate(true)
            .open(&path)
            .unwrap();
        (TempFile(path), file)
    }
}

impl Drop for TempFile {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.0);
    }
}

/// Three live descriptors to pass, and what is needed to check them from this side.
struct Three {
    pipe_read: OwnedFd,
    pipe_write: OwnedFd,
    temp: TempFile,
    file: File,
    sock_near: UnixStream,
    sock_far: UnixStream,
}

impl Three {
    fn new(tag: &str) -> Three {
        let (pipe_read, pipe_write) = rustix::pipe::pipe().unwrap();
        let (temp, file) = TempFile::new(tag);
        let (sock_near, sock_far) = UnixStream::pair().unwrap();
        Three {
            pipe_read,
            pipe_write,
            temp,
            file,
            sock_near,
            sock_far,
        }
    }

    fn to_send(&self) -> [BorrowedFd<'_>; 3] {
        [
            self.pipe_write.as_fd(),
            self.file.as_fd(),
            self.sock_far.as_fd(),
        ]
    }

    /// Uses the received copies and checks the effect through the originals.
    fn check(mut self, received: Vec<OwnedFd>) {
        assert_eq!(received.len(), 3);
        let mut received = received.into_iter();
        let mut pipe = File::from(received.next().unwrap());
        let mut file = File::from(received.next().unwrap());
        let mut sock = UnixStream::from(received.next().unwrap());

        // Dropping our own write end proves the received one is a separate, working copy.
        drop(self.pipe_write);
        pipe.write_all(b"through the pipe").unwrap();
        drop(pipe);
        let mut got = String::new();
        File::from(self.pipe_read).read_to_string(&mut got).unwrap();
        assert_eq!(got, "through the pipe");

        file.write_all(b"into the file").unwrap();
        assert_eq!(std::fs::read(&self.temp.0).unwrap(), b"into the file");
        // The copy shares the file offset with the original, like dup().
        assert_eq!(self.file.stream_position().unwrap(), 13);
        self.file.seek(SeekFrom::Start(5)).unwrap();
        let mut rest = String::new();
        self.file.read_to_string(&mut rest).unwrap();
        assert_eq!(rest, "the file");

        sock.write_all(b"ping").unwrap();
        let mut buf = [0u8; 4];
        self.sock_near.read_exact(&mut buf).unwrap();
        assert_eq!(&buf, b"ping");
    }
}

/// A read result with its descriptors counted (`OwnedFd` has no `PartialEq`).
fn counted(read: Option<(Packet, Vec<OwnedFd>)>) -> Option<(Packet, usize)> {
    read.map(|(packet, fds)| (packet, fds.len()))
}

fn cloexec(fd: &OwnedFd) -> bool {
    // /proc/self/fdinfo/N has "flags:\t0OCTAL"; O_CLOEXEC is 0o2000000.
    let fdinfo = std::fs::read_to_string(format!(
        "/proc/self/fdinfo/{}",
        std::os::fd::AsRawFd::as_raw_fd(fd)
    ))
    .unwrap();
    let flags = fdinfo
        .lines()
        .find_map(|l| l.strip_prefix("flags:"))
        .unwrap()
        .trim();
    u32::from_str_radix(flags, 8).unwrap() & 0o2_000_000 != 0
}

#[test]
fn three_fds_after_a_call_with_fds() {
    let (a, b) = UnixStream::pair().unwrap();
    let three = Three::new("three");
    let call = with_fds(3, vec![0, 0, 0, 9]);
    send_packet(&a, &call, &three.to_send()).unwrap();
    // The next packet must still be framed correctly after the dummy bytes.
    let next = Packet::new(header(MessageType::Call, 59, 8), vec![]);
    send_packet(&a, &next, &[]).unwrap();

    let (got, fds) = read_packet(&b).unwrap().unwrap();
    assert_eq!(got, call);
    assert_eq!(got.fds, 3);
    assert!(fds.iter().all(cloexec));
    three.check(fds);
    assert_eq!(counted(read_packet(&b).unwrap()), Some((next, 0)));
    drop(a);
    assert_eq!(counted(read_packet(&b).unwrap()), None);
}

#[test]
fn wire_bytes_are_the_packet_then_one_zero_byte_per_fd() {
    let (a, b) = UnixStream::pair().unwrap();
    let three = Three::new("bytes");
    let call = with_fds(3, vec![0, 0, 0, 9]);
    send_packet(&a, &call, &three.to_send()).unwrap();
    drop(a);
    // A plain reader sees the packet, then three 0 bytes (and loses the descriptors).
    let mut all = Vec::new();
    (&b).read_to_end(&mut all).unwrap();
    let mut want = call.encode().unwrap();
    assert_eq!(&want[..4], &[0, 0, 0, 0x24]);
    assert_eq!(
        &want[16..32],
        &[0, 0, 0, 4, 0, 0, 0, 7, 0, 0, 0, 0, 0, 0, 0, 3]
    );
    want.extend_from_slice(&[DUMMY_BYTE; 3]);
    assert_eq!(all, want);
}

#[test]
fn packet_decoder_stays_in_sync_after_the_fds() {
    let (a, b) = UnixStream::pair().unwrap();
    let three = Three::new("sync");
    let call = with_fds(3, vec![1, 2, 3, 4]);
    let reply = Packet {
        header: header(MessageType::ReplyWithFds, 443, 7),
        fds: 0,
        payload: vec![],
    };
    let tail = Packet::new(header(MessageType::Call, 2, 9), vec![0, 0, 0, 1]);
    send_packet(&a, &call, &three.to_send()).unwrap();
    send_packet(&a, &reply, &[]).unwrap();
    send_packet(&a, &tail, &[]).unwrap();
    drop(a);

    // Exactly the first packet's bytes, through the decoder...
    let mut decoder = PacketDecoder::new();
    let mut first = vec![0u8; call.encode().unwrap().len()];
    (&b).read_exact(&mut first).unwrap();
    decoder.feed(&first);
    let got = decoder.next_packet().unwrap().unwrap();
    assert_eq!(got, call);
    // ...then its descriptors...
    let fds = recv_fds(&b, got.fds).unwrap();
    three.check(fds);
    // ...then everything else with plain reads.
    let mut rest = Vec::new();
    (&b).read_to_end(&mut rest).unwrap();
    decoder.feed(&rest);
    assert_eq!(decoder.next_packet(), Ok(Some(reply)));
    assert_eq!(decoder.next_packet(), Ok(Some(tail)));
    assert_eq!(decoder.next_packet(), Ok(None));
    assert_eq!(decoder.buffered(), 0);
}

#[test]
fn single_fd_round_trip() {
    let (a, b) = UnixStream::pair().unwrap();
    let (r, w) = rustix::pipe::pipe().unwrap();
    send_fd(&a, w.as_fd()).unwrap();
    drop(w);
    let mut got = File::from(recv_fd(&b).unwrap());
    got.write_all(b"x").unwrap();
    drop(got);
    let mut out = Vec::new();
    File::from(r).read_to_end(&mut out).unwrap();
    assert_eq!(out, b"x");
}

#[test]
fn a_byte_without_a_descriptor_is_refused() {
    let (a, b) = UnixStream::pair().unwrap();
    (&a).write_all(&[0, 7]).unwrap();
    let err = recv_fd(&b).unwrap_err();
    assert_eq!(err.kind(), std::io::ErrorKind::InvalidData);
    assert_eq!(
        err.to_string(),
        "expected a file descriptor, the message carried none"
    );
    // Exactly one byte was consumed.
    let mut next = [0u8; 1];
    (&b).read_exact(&mut next).unwrap();
    assert_eq!(next, [7]);
}

#[test]
fn eof_while_waiting_for_a_descriptor() {
    let (a, b) = UnixStream::pair().unwrap();
    drop(a);
    let err = recv_fd(&b).unwrap_err();
    assert_eq!(err.kind(), std::io::ErrorKind::UnexpectedEof);
    assert_eq!(
        err.to_string(),
        "connection closed while waiting for a file descriptor"
    );
    // A packet announcing 2 descriptors, followed by only one, then EOF.
    let (a, b) = UnixStream::pair().unwrap();
    let (_r, w) = rustix::pipe::pipe().unwrap();
    (&a).write_all(&with_fds(2, vec![]).encode().unwrap())
        .unwrap();
    send_fd(&a, w.as_fd()).unwrap();
    drop(a);
    let err = read_packet(&b).unwrap_err();
    assert_eq!(err.kind(), std::io::ErrorKind::UnexpectedEof);
}

#[test]
fn two_descriptors_with_one_byte_are_refused() {
    let (a, b) = UnixStream::pair().unwrap();
    let (r, w) = rustix::pipe::pipe().unwrap();
    let fds = [r.as_fd(), w.as_fd()];
    let mut space = [MaybeUninit::<u8>::uninit(); rustix::cmsg_space!(ScmRights(2))];
    let mut control = SendAncillaryBuffer::new(&mut space);
    assert!(control.push(SendAncillaryMessage::ScmRights(&fds)));
    let sent = sendmsg(
        &a,
        &[std::io::IoSlice::new(&[0])],
        &mut control,
        SendFlags::empty(),
    )
    .unwrap();
    assert_eq!(sent, 1);
    let err = recv_fd(&b).unwrap_err();
    assert_eq!(err.kind(), std::io::ErrorKind::InvalidData);
    assert_eq!(
        err.to_string(),
        "more than one file descriptor arrived with one byte"
    );
}

#[test]
fn a_packet_claiming_33_fds_is_refused() {
    let (a, b) = UnixStream::pair().unwrap();
    let mut bytes = with_fds(32, vec![]).encode().unwrap();
    bytes[31] = 33;
    (&a).write_all(&bytes).unwrap();
    let err = read_packet(&b).unwrap_err();
    assert_eq!(err.kind(), std::io::ErrorKind::InvalidData);
    assert_eq!(
        err.to_string(),
        "Received too many FDs 33, expected 32 maximum"
    );
}

#[test]
fn sending_more_than_32_or_a_mismatched_count_is_refused() {
    let (a, b) = UnixStream::pair().unwrap();
    let (_r, w) = rustix::pipe::pipe().unwrap();
    let many = vec![w.as_fd(); 33];
    let err = send_fds(&a, &many).unwrap_err();
    assert_eq!(err.kind(), std::io::ErrorKind::InvalidInput);
    assert_eq!(
        err.to_string(),
        "Too many FDs to send 33, expected 32 maximum"
    );
    let err = send_packet(&a, &with_fds(33, vec![]), &many).unwrap_err();
    assert_eq!(err.kind(), std::io::ErrorKind::InvalidInput);

    let err = send_packet(&a, &with_fds(2, vec![]), &[w.as_fd()]).unwrap_err();
    assert_eq!(
        err.to_string(),
        "packet of type CallWithFds announces 2 FDs, 1 given"
    );
    let plain = Packet::new(header(MessageType::Call, 1, 1), vec![]);
    let err = send_packet(&a, &plain, &[w.as_fd()]).unwrap_err();
    assert_eq!(
        err.to_string(),
        "packet of type Call announces 0 FDs, 1 given"
    );
    // Nothing at all was written by the refused calls.
    drop(a);
    let mut rest = Vec::new();
    (&b).read_to_end(&mut rest).unwrap();
    assert!(rest.is_empty());
}

#[test]
fn exactly_32_fds_pass() {
    let (a, b) = UnixStream::pair().unwrap();
    let (r, w) = rustix::pipe::pipe().unwrap();
    let fds = vec![w.as_fd(); 32];
    send_packet(&a, &with_fds(32, vec![]), &fds).unwrap();
    let (packet, got) = read_packet(&b).unwrap().unwrap();
    assert_eq!(packet.fds, 32);
    assert_eq!(got.len(), 32);
    drop(w);
    for (i, fd) in got.into_iter().enumerate() {
        File::from(fd).write_all(&[i as u8]).unwrap();
    }
    let mut out = Vec::new();
    File::from(r).read_to_end(&mut out).unwrap();
    assert_eq!(out, (0..32).collect::<Vec<u8>>());
}

#[test]
fn bad_length_word_is_invalid_data() {
    let (a, b) = UnixStream::pair().unwrap();
    (&a).write_all(&[0, 0, 0, 4]).unwrap();
    let err = read_packet(&b).unwrap_err();
    assert_eq!(err.kind(), std::io::ErrorKind::InvalidData);
    assert_eq!(
        err.to_string(),
        "packet 4 bytes received from client too small, want 28"
    );
}

#[cfg(feature = "tokio")]
mod tokio_tests {
    use super::*;

    fn pair() -> (tokio::net::UnixStream, tokio::net::UnixStream) {
        tokio::net::UnixStream::pair().unwrap()
    }

    #[tokio::test]
    async fn three_fds_async_both_ways() {
        let (a, b) = pair();
        let three = Three::new("async");
        let call = with_fds(3, vec![0, 0, 0, 9]);
        let next = Packet::new(header(MessageType::Call, 59, 8), vec![]);
        let reader = async {
            let first = read_packet_async(&b).await.unwrap().unwrap();
            let second = read_packet_async(&b).await.unwrap().unwrap();
            (first, second)
        };
        let writer = async {
            send_packet_async(&a, &call, &three.to_send())
                .await
                .unwrap();
            send_packet_async(&a, &next, &[]).await.unwrap();
        };
        let (((got, fds), second), ()) = tokio::join!(reader, writer);
        assert_eq!(got, call);
        assert_eq!(second.0, next);
        assert!(second.1.is_empty());
        three.check(fds);
        drop(a);
        assert!(read_packet_async(&b).await.unwrap().is_none());
    }

    #[tokio::test]
    async fn recv_waits_for_the_descriptor() {
        let (a, b) = pair();
        let (r, w) = rustix::pipe::pipe().unwrap();
        let recv = recv_fds_async(&b, 2);
        let send = async {
            tokio::task::yield_now().await;
            send_fds_async(&a, &[w.as_fd(), r.as_fd()]).await.unwrap();
        };
        let (got, ()) = tokio::join!(recv, send);
        let got = got.unwrap();
        drop(w);
        File::from(got.into_iter().next().unwrap())
            .write_all(b"ok")
            .unwrap();
        let mut out = [0u8; 2];
        File::from(r).read_exact(&mut out).unwrap();
        assert_eq!(&out, b"ok");
    }

    #[tokio::test]
    async fn async_errors() {
        let (a, b) = pair();
        a.try_write(&[0]).unwrap();
        let err = recv_fd_async(&b).await.unwrap_err();
        assert_eq!(err.kind(), std::io::ErrorKind::InvalidData);
        drop(a);
        let err = recv_fd_async(&b).await.unwrap_err();
        assert_eq!(err.kind(), std::io::ErrorKind::UnexpectedEof);

        let (a, b) = pair();
        let mut bytes = with_fds(32, vec![]).encode().unwrap();
        bytes[31] = 33;
        a.try_write(&bytes).unwrap();
        let err = read_packet_async(&b).await.unwrap_err();
        assert_eq!(
            err.to_string(),
            "Received too many FDs 33, expected 32 maximum"
        );
        let (_r, w) = rustix::pipe::pipe().unwrap();
        let err = send_fds_async(&a, &[w.as_fd(); 33]).await.unwrap_err();
        assert_eq!(err.kind(), std::io::ErrorKind::InvalidInput);
    }
}
