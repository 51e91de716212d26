//! Descriptor passing: refused over a pipe, attached to the `getfd` bytes on a socket.

use std::io::IoSliceMut;
use std::mem::MaybeUninit;
use std::os::fd::{AsFd, OwnedFd};

use rustix::net::{recvmsg, RecvAncillaryBuffer, RecvAncillaryMessage, RecvFlags};
use serde_json::json;

use crate::qmp::tests::{connected, GREETING};
use crate::qmp::{Qmp, QmpError};

#[tokio::test]
async fn send_fd_over_a_pipe_fails_and_sends_nothing() {
    let (qmp, _events, mut fake) = connected().await;
    let file = std::fs::File::open("/dev/null").unwrap();
    let err = qmp.send_fd("migrate", file.as_fd()).await.unwrap_err();
    assert_eq!(
        err,
        QmpError::Protocol("Unable to pass FD over non-UNIX socket".into())
    );
    // The connection still works and the next line on the wire is the next command.
    let q = qmp.clone();
    let task = tokio::spawn(async move { q.stop().await });
    assert_eq!(fake.recv().await, json!({"execute": "stop", "id": 2}));
    fake.send(r#"{"return": {}, "id": 2}"#).await;
    task.await.unwrap().unwrap();
}

/// Reads what the client sent on `sock` (blocking), with the descriptors that came along.
fn recv_all_with_fds(sock: &std::os::unix::net::UnixStream) -> (Vec<u8>, Vec<OwnedFd>) {
    let mut data = vec![0u8; 4096];
    let mut space = [MaybeUninit::<u8>::uninit(); rustix::cmsg_space!(ScmRights(4))];
    let mut control = RecvAncillaryBuffer::new(&mut space);
    let msg = recvmsg(
        sock,
        &mut [IoSliceMut::new(&mut data)],
        &mut control,
        RecvFlags::CMSG_CLOEXEC,
    )
    .unwrap();
    let mut fds = Vec::new();
    for m in control.drain() {
        if let RecvAncillaryMessage::ScmRights(r) = m {
            fds.extend(r);
        }
    }
    data.truncate(msg.bytes);
    (data, fds)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn send_fd_passes_the_descriptor_with_the_getfd_bytes() {
    use std::io::{BufRead, BufReader, Write};
    use std::os::unix::fs::MetadataExt;

    let dir = std::env::temp_dir().join(format!("oxvirt-qmp-fd-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join("qmp.sock");
    let _ = std::fs::remove_file(&path);
    let listener = std::os::unix::net::UnixListener::bind(&path).unwrap();
    let target = dir.join("save.img");
    std::fs::write(&target, b"x").unwrap();
    let inode = std::fs::metadata(&target).unwrap().ino();

    let server = std::thread::spawn(move || {
        let (mut sock, _) = listener.accept().unwrap();
        sock.write_all(GREETING.as_bytes()).unwrap();
        sock.write_all(b"\r\n").unwrap();
        let mut line = String::new();
        BufReader::new(&sock).read_line(&mut line).unwrap();
        sock.write_all(b"{\"return\": {}, \"id\": 0}\r\n").unwrap();
        let (bytes, fds) = recv_all_with_fds(&sock);
        sock.write_all(b"{\"return\": {}, \"id\": 1}\r\n").unwrap();
        (bytes, fds)
    });

    let (qmp, _events) = Qmp::connect(&path).await.unwrap();
    let file = std::fs::File::open(&target).unwrap();
    qmp.send_fd("migrate", file.as_fd()).await.unwrap();
    let (bytes, fds) = server.join().unwrap();
    assert_eq!(
        String::from_utf8(bytes).unwrap(),
        "{\"execute\":\"getfd\",\"arguments\":{\"fdname\":\"migrate\"},\"id\":1}\r\n"
    );
    assert_eq!(fds.len(), 1);
    let passed = std::fs::File::from(fds.into_iter().next().unwrap());
    assert_eq!(passed.metadata().unwrap().ino(), inode);
    // The caller keeps its own descriptor open.
    assert_eq!(file.metadata().unwrap().ino(), inode);
    std::fs::remove_dir_all(&dir).unwrap();
}
