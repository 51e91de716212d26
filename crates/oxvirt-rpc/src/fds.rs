//! Passing file descriptors beside `*_WITH_FDS` packets, as libvirt does on unix sockets.
//!
//! A `CALL_WITH_FDS` / `REPLY_WITH_FDS` packet announces N descriptors in the count word
//! after its header ([`Packet::fds`]). Right after the packet's last byte, the sender
//! passes each descriptor in its own `sendmsg`: one dummy byte (0) as data and one
//! `SCM_RIGHTS` control message holding exactly that descriptor. The receiver takes them
//! in order with one `recvmsg` each, reading exactly that one byte.
//!
//! **The receiver must not read past the end of a packet before it has taken its
//! descriptors**: a plain `read` that reaches a dummy byte consumes it and the kernel
//! closes the descriptor it carried. Read the 4-byte length word, then exactly the rest of
//! the packet, then (for `*_WITH_FDS`) call [`recv_fds`] / [`recv_fds_async`] with the
//! count, and only then read the next length word.
//!
//! Received descriptors are close-on-exec (`MSG_CMSG_CLOEXEC`, as libvirt asks).
//! Everything here goes through `rustix`, so descriptors arrive as [`OwnedFd`]s and are
//! closed on drop, including on error paths.

use std::io;
use std::mem::MaybeUninit;
use std::os::fd::{AsFd, BorrowedFd, OwnedFd};
use std::os::unix::net::UnixStream;

use rustix::io::Errno;
use rustix::net::{
    recvmsg, sendmsg, RecvAncillaryBuffer, RecvAncillaryMessage, RecvFlags, ReturnFlags,
    SendAncillaryBuffer, SendAncillaryMessage, SendFlags,
};

use crate::packet::{Packet, PacketDecoder, PacketError, LEN_SIZE, MAX_FDS};

/// The data byte that carries each descriptor.
pub const DUMMY_BYTE: u8 = 0;

fn io_err(errno: Errno) -> io::Error {
    io::Error::from_raw_os_error(errno.raw_os_error())
}

/// One `sendmsg` of the dummy byte with `fd` attached; retries on `EINTR`.
fn try_send_fd(sock: BorrowedFd<'_>, fd: BorrowedFd<'_>) -> io::Result<()> {
    let fds = [fd];
    let mut space = [MaybeUninit::<u8>::uninit(); rustix::cmsg_space!(ScmRights(1))];
    let mut control = SendAncillaryBuffer::new(&mut space);
    if !control.push(SendAncillaryMessage::ScmRights(&fds)) {
        return Err(io::Error::other(
            "no room for SCM_RIGHTS in the control buffer",
        ));
    }
    let data = [DUMMY_BYTE];
    loop {
        match sendmsg(
            sock,
            &[io::IoSlice::new(&data)],
            &mut control,
            SendFlags::NOSIGNAL,
        ) {
            Ok(1) => return Ok(()),
            Ok(_) => {
                return Err(io::Error::new(
                    io::ErrorKind::WriteZero,
                    "sendmsg sent no byte with the file descriptor",
                ))
            }
            Err(Errno::INTR) => continue,
            Err(e) => return Err(io_err(e)),
        }
    }
}

/// One `recvmsg` of exactly one byte and its descriptor; retries on `EINTR`.
fn try_recv_fd(sock: BorrowedFd<'_>) -> io::Result<OwnedFd> {
    let mut data = [0u8; 1];
    // Room for a second descriptor, so a peer passing two at once is detected (and both
    // closed) rather than silently truncated.
    let mut space = [MaybeUninit::<u8>::uninit(); rustix::cmsg_space!(ScmRights(2))];
    let mut control = RecvAncillaryBuffer::new(&mut space);
    let msg = loop {
        match recvmsg(
            sock,
            &mut [io::IoSliceMut::new(&mut data)],
            &mut control,
            RecvFlags::CMSG_CLOEXEC,
        ) {
            Ok(msg) => break msg,
            Err(Errno::INTR) => continue,
            Err(e) => return Err(io_err(e)),
        }
    };
    let mut fds: Vec<OwnedFd> = Vec::new();
    for message in control.drain() {
        if let RecvAncillaryMessage::ScmRights(received) = message {
            fds.extend(received);
        }
    }
    if msg.bytes == 0 {
        return Err(io::Error::new(
            io::ErrorKind::UnexpectedEof,
            "connection closed while waiting for a file descriptor",
        ));
    }
    if msg.flags.contains(ReturnFlags::CTRUNC) || fds.len() > 1 {
        return Err(io::Error::new(
            io::ErrorKind::InvalidData,
            "more than one file descriptor arrived with one byte",
        ));
    }
    fds.pop().ok_or_else(|| {
        io::Error::new(
            io::ErrorKind::InvalidData,
            "expected a file descriptor, the message carried none",
        )
    })
}

/// Reads up to `buf.len()` bytes like `read(2)`, and appends the descriptors that came
/// with them to `fds` (close-on-exec). Linux ends a stream read right after the byte that
/// carried descriptors, so a reader that always reads this way loses none, however large
/// its buffer: the daemon reads big chunks and still collects every passed FD, in order.
/// `Ok(0)` is the end of the stream; `WouldBlock` passes through for non-blocking sockets.
pub fn recv_with_fds(
    sock: BorrowedFd<'_>,
    buf: &mut [u8],
    fds: &mut Vec<OwnedFd>,
) -> io::Result<usize> {
    let mut space = [MaybeUninit::<u8>::uninit(); rustix::cmsg_space!(ScmRights(MAX_FDS_USIZE))];
    let mut control = RecvAncillaryBuffer::new(&mut space);
    let msg = loop {
        match recvmsg(
            sock,
            &mut [io::IoSliceMut::new(buf)],
            &mut control,
            RecvFlags::CMSG_CLOEXEC | RecvFlags::DONTWAIT,
        ) {
            Ok(msg) => break msg,
            Err(Errno::INTR) => continue,
            Err(e) => return Err(io_err(e)),
        }
    };
    for message in control.drain() {
        if let RecvAncillaryMessage::ScmRights(received) = message {
            fds.extend(received);
        }
    }
    if msg.flags.contains(ReturnFlags::CTRUNC) {
        return Err(io::Error::new(
            io::ErrorKind::InvalidData,
            format!("more than {MAX_FDS} file descriptors arrived at once"),
        ));
    }
    Ok(msg.bytes)
}

/// [`MAX_FDS`] as a `usize`, for buffer sizes.
const MAX_FDS_USIZE: usize = MAX_FDS as usize;

fn check_count(count: usize) -> io::Result<()> {
    if count > MAX_FDS as usize {
        return Err(io::Error::new(
            io::ErrorKind::InvalidInput,
            format!("Too many FDs to send {count}, expected {MAX_FDS} maximum"),
        ));
    }
    Ok(())
}

/// Sends one descriptor: one byte of data with an `SCM_RIGHTS` message holding `fd`.
pub fn send_fd(sock: &UnixStream, fd: BorrowedFd<'_>) -> io::Result<()> {
    try_send_fd(sock.as_fd(), fd)
}

/// Receives one descriptor, reading exactly its one dummy byte.
///
/// Errors with `UnexpectedEof` if the peer closed the connection, and `InvalidData` if the
/// byte came without a descriptor (the byte is consumed: the stream is out of sync, close
/// it) or with more than one.
pub fn recv_fd(sock: &UnixStream) -> io::Result<OwnedFd> {
    try_recv_fd(sock.as_fd())
}

/// Sends descriptors in order, each in its own message. At most [`MAX_FDS`].
pub fn send_fds(sock: &UnixStream, fds: &[BorrowedFd<'_>]) -> io::Result<()> {
    check_count(fds.len())?;
    fds.iter().try_for_each(|fd| send_fd(sock, *fd))
}

/// Receives `count` descriptors in order (a packet's [`Packet::fds`]).
pub fn recv_fds(sock: &UnixStream, count: u32) -> io::Result<Vec<OwnedFd>> {
    (0..count).map(|_| recv_fd(sock)).collect()
}

/// Writes a whole packet, then its descriptors.
///
/// `fds` must match the packet: a `*_WITH_FDS` type whose count word equals `fds.len()`,
/// or another type and no descriptors.
pub fn send_packet(sock: &UnixStream, packet: &Packet, fds: &[BorrowedFd<'_>]) -> io::Result<()> {
    use std::io::Write;
    let bytes = encode_matching(packet, fds.len())?;
    (&*sock).write_all(&bytes)?;
    send_fds(sock, fds)
}

/// Reads exactly one packet (the length word, then exactly the rest), then the descriptors
/// it announces: the reading discipline `*_WITH_FDS` packets need. `Ok(None)` on a clean EOF
/// before a packet; framing errors (bad length, more than [`MAX_FDS`]...) are `InvalidData`
/// with libvirt's message, and end the connection.
pub fn read_packet(sock: &UnixStream) -> io::Result<Option<(Packet, Vec<OwnedFd>)>> {
    use std::io::Read;
    let mut decoder = PacketDecoder::new();
    let mut word = [0u8; LEN_SIZE];
    let mut got = 0;
    while got < LEN_SIZE {
        match (&*sock).read(&mut word[got..]) {
            Ok(0) if got == 0 => return Ok(None),
            Ok(0) => return Err(io::ErrorKind::UnexpectedEof.into()),
            Ok(n) => got += n,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(e),
        }
    }
    let mut body = vec![0u8; body_len(&mut decoder, word)?];
    (&*sock).read_exact(&mut body)?;
    let packet = finish(&mut decoder, &body)?;
    let fds = recv_fds(sock, packet.fds)?;
    Ok(Some((packet, fds)))
}

fn framing(e: PacketError) -> io::Error {
    io::Error::new(io::ErrorKind::InvalidData, e)
}

/// Checks a length word (through the decoder, which keeps it) and gives the bytes that follow.
fn body_len(decoder: &mut PacketDecoder, word: [u8; LEN_SIZE]) -> io::Result<usize> {
    decoder.feed(&word);
    match decoder.next_packet() {
        Ok(_) => Ok(u32::from_be_bytes(word) as usize - LEN_SIZE),
        Err(e) => Err(framing(e)),
    }
}

/// Decodes the packet once its body is in.
fn finish(decoder: &mut PacketDecoder, body: &[u8]) -> io::Result<Packet> {
    decoder.feed(body);
    decoder
        .next_packet()
        .map_err(framing)?
        .ok_or_else(|| io::ErrorKind::UnexpectedEof.into())
}

/// The packet's bytes, once its type and count word agree with `given` descriptors.
fn encode_matching(packet: &Packet, given: usize) -> io::Result<Vec<u8>> {
    check_count(given)?;
    let announced = if packet.header.kind.has_fds() {
        packet.fds as usize
    } else {
        0
    };
    if announced != given {
        return Err(io::Error::new(
            io::ErrorKind::InvalidInput,
            format!(
                "packet of type {:?} announces {announced} FDs, {given} given",
                packet.header.kind
            ),
        ));
    }
    packet
        .encode()
        .map_err(|e| io::Error::new(io::ErrorKind::InvalidInput, e))
}

#[cfg(feature = "tokio")]
mod nonblocking {
    use std::io;
    use std::os::fd::{AsFd, BorrowedFd, OwnedFd};

    use tokio::io::Interest;
    use tokio::net::UnixStream;

    use super::{body_len, check_count, encode_matching, finish, try_recv_fd, try_send_fd};
    use crate::packet::{Packet, LEN_SIZE};
    use crate::PacketDecoder;

    /// [`super::send_fd`] for tokio: waits until the socket is writable.
    pub async fn send_fd_async(stream: &UnixStream, fd: BorrowedFd<'_>) -> io::Result<()> {
        loop {
            stream.writable().await?;
            match stream.try_io(Interest::WRITABLE, || try_send_fd(stream.as_fd(), fd)) {
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => continue,
                done => return done,
            }
        }
    }

    /// [`super::recv_fd`] for tokio: waits until the socket is readable.
    pub async fn recv_fd_async(stream: &UnixStream) -> io::Result<OwnedFd> {
        loop {
            stream.readable().await?;
            match stream.try_io(Interest::READABLE, || try_recv_fd(stream.as_fd())) {
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => continue,
                done => return done,
            }
        }
    }

    /// [`super::send_fds`] for tokio.
    pub async fn send_fds_async(stream: &UnixStream, fds: &[BorrowedFd<'_>]) -> io::Result<()> {
        check_count(fds.len())?;
        for fd in fds {
            send_fd_async(stream, *fd).await?;
        }
        Ok(())
    }

    /// [`super::recv_fds`] for tokio.
    pub async fn recv_fds_async(stream: &UnixStream, count: u32) -> io::Result<Vec<OwnedFd>> {
        let mut fds = Vec::with_capacity(count as usize);
        for _ in 0..count {
            fds.push(recv_fd_async(stream).await?);
        }
        Ok(fds)
    }

    /// [`super::send_packet`] for tokio: the packet's bytes, then its descriptors.
    ///
    /// Nothing else may write to the stream meanwhile (call it from the one writer task).
    pub async fn send_packet_async(
        stream: &UnixStream,
        packet: &Packet,
        fds: &[BorrowedFd<'_>],
    ) -> io::Result<()> {
        let bytes = encode_matching(packet, fds.len())?;
        let mut sent = 0;
        while sent < bytes.len() {
            stream.writable().await?;
            match stream.try_write(&bytes[sent..]) {
                Ok(0) => return Err(io::ErrorKind::WriteZero.into()),
                Ok(n) => sent += n,
                Err(e) if retry(&e) => continue,
                Err(e) => return Err(e),
            }
        }
        send_fds_async(stream, fds).await
    }

    fn retry(e: &io::Error) -> bool {
        matches!(
            e.kind(),
            io::ErrorKind::WouldBlock | io::ErrorKind::Interrupted
        )
    }

    /// Fills `buf` with exactly its length in bytes; false on EOF before the first byte.
    async fn read_exact(stream: &UnixStream, buf: &mut [u8]) -> io::Result<bool> {
        let mut got = 0;
        while got < buf.len() {
            stream.readable().await?;
            match stream.try_read(&mut buf[got..]) {
                Ok(0) if got == 0 => return Ok(false),
                Ok(0) => return Err(io::ErrorKind::UnexpectedEof.into()),
                Ok(n) => got += n,
                Err(e) if retry(&e) => continue,
                Err(e) => return Err(e),
            }
        }
        Ok(true)
    }

    /// [`super::read_packet`] for tokio: one packet read exactly, then its descriptors.
    ///
    /// Nothing else may read from the stream meanwhile (call it from the one reader task).
    pub async fn read_packet_async(
        stream: &UnixStream,
    ) -> io::Result<Option<(Packet, Vec<OwnedFd>)>> {
        let mut decoder = PacketDecoder::new();
        let mut word = [0u8; LEN_SIZE];
        if !read_exact(stream, &mut word).await? {
            return Ok(None);
        }
        let mut body = vec![0u8; body_len(&mut decoder, word)?];
        if !read_exact(stream, &mut body).await? {
            return Err(io::ErrorKind::UnexpectedEof.into());
        }
        let packet = finish(&mut decoder, &body)?;
        let fds = recv_fds_async(stream, packet.fds).await?;
        Ok(Some((packet, fds)))
    }
}

#[cfg(feature = "tokio")]
pub use nonblocking::{
    read_packet_async, recv_fd_async, recv_fds_async, send_fd_async, send_fds_async,
    send_packet_async,
};

#[cfg(test)]
#[path = "fds_tests.rs"]
mod tests;
