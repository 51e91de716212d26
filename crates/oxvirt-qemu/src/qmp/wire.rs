//! QMP framing: one JSON object per line, read with a growable buffer and a size cap.

use serde_json::Value;
use tokio::io::{AsyncBufRead, AsyncBufReadExt};

use super::QmpError;

/// The largest single QMP message accepted (`query-qmp-schema` is a few MiB); a longer line
/// is garbage and closes the connection.
pub const MAX_MESSAGE: usize = 64 * 1024 * 1024;

/// Reads the next non-empty line (without its `\r\n`). `Ok(None)` at a clean end of file.
pub(crate) async fn read_line<R: AsyncBufRead + Unpin>(
    reader: &mut R,
    limit: usize,
) -> Result<Option<Vec<u8>>, QmpError> {
    let mut line = Vec::new();
    loop {
        let buf = match reader.fill_buf().await {
            Ok(buf) => buf,
            Err(_) => return Err(QmpError::Closed),
        };
        if buf.is_empty() {
            // EOF: a partial last line is dropped, as QEMU never sends one.
            return Ok(None);
        }
        let (take, done) = match buf.iter().position(|&b| b == b'\n') {
            Some(pos) => (pos + 1, true),
            None => (buf.len(), false),
        };
        if line.len() + take > limit + 2 {
            return Err(QmpError::Protocol(format!(
                "QEMU monitor reply exceeds buffer size ({limit} bytes)"
            )));
        }
        line.extend_from_slice(&buf[..take]);
        reader.consume(take);
        if done {
            while matches!(line.last(), Some(b'\n' | b'\r')) {
                line.pop();
            }
            if line.iter().all(u8::is_ascii_whitespace) {
                line.clear();
                continue;
            }
            return Ok(Some(line));
        }
    }
}

/// Parses one line as a JSON object.
pub(crate) fn parse(line: &[u8]) -> Result<serde_json::Map<String, Value>, QmpError> {
    match serde_json::from_slice::<Value>(line) {
        Ok(Value::Object(map)) => Ok(map),
        Ok(_) => Err(QmpError::Protocol(format!(
            "unexpected QEMU monitor reply: {}",
            excerpt(line)
        ))),
        Err(e) => Err(QmpError::Protocol(format!(
            "cannot parse json {}: {e}",
            excerpt(line)
        ))),
    }
}

/// The start of `line` for an error message (garbage can be huge).
fn excerpt(line: &[u8]) -> String {
    let cut = &line[..line.len().min(200)];
    String::from_utf8_lossy(cut).into_owned()
}

/// Serialises a command with its id, newline-terminated, members in the order
/// `execute`, `arguments`, `id`.
pub(crate) fn command_line(command: &str, arguments: Option<Value>, id: u64) -> Vec<u8> {
    let name = Value::String(command.to_string());
    let text = match arguments {
        Some(args) => format!("{{\"execute\":{name},\"arguments\":{args},\"id\":{id}}}\r\n"),
        None => format!("{{\"execute\":{name},\"id\":{id}}}\r\n"),
    };
    text.into_bytes()
}

/// A reply's outcome: `return`'s value, or the [`QmpError::Command`] its `error` describes.
pub(crate) fn reply_result(
    command: &str,
    mut msg: serde_json::Map<String, Value>,
) -> Result<Value, QmpError> {
    if let Some(ret) = msg.remove("return") {
        return Ok(ret);
    }
    let Some(error) = msg.remove("error") else {
        // Neither `return` nor `error`: libvirt reports the bare command name.
        return Err(QmpError::Protocol(format!(
            "unable to execute QEMU command '{command}'"
        )));
    };
    let field = |k: &str| {
        error
            .get(k)
            .and_then(Value::as_str)
            .unwrap_or_default()
            .to_string()
    };
    Err(QmpError::Command {
        command: command.to_string(),
        class: field("class"),
        desc: field("desc"),
    })
}
