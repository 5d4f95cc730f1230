//! Runtime adapter: one object read over a fresh TCP connection (`cloudflare:sockets`), for nodes
//! configured with `"read_connections": "fresh"` (`node::ReadConnections`). The request head is
//! written by hand (`http1::request_head`); the answer becomes a `web_sys::Response` built from the
//! parsed status, headers and a body stream, so callers cannot tell it from a `fetch` answer.
//!
//! Body bytes stay out of wasm where nothing needs them: a Content-Length body is a
//! `FixedLengthStream` fed with the bytes that came with the head, then with the rest (`pass_on`):
//! up to 64 KiB read in JavaScript with the head's reader, beyond that piped natively. Only the head (at most `MAX_HEAD_BYTES` of the
//! first pieces) and chunked bodies (node error documents) are read in wasm. A Content-Length body
//! over the caller's limit is not read at all (workerd's sockets move bulk bytes at more CPU than
//! `fetch`; `node::FRESH_READ_MAX_BYTES`): the connection is closed after the head and the caller
//! reads the object another way. The connection is closed when the body has been passed on (a
//! small body's announced length; otherwise the connection's end, which `Connection: close`
//! obliges the node to bring), when the client stops reading, or on any failure.

use js_sys::{Object, Reflect, Uint8Array};
use wasm_bindgen::prelude::wasm_bindgen;
use wasm_bindgen::{JsCast, JsValue};
use wasm_bindgen_futures::{spawn_local, JsFuture};
use web_sys::{ReadableStream, ReadableStreamDefaultReader, Response, ResponseInit, WritableStreamDefaultWriter};
use worker::worker_sys::{connect, FixedLengthStream, Socket};

use crate::http::encode_header_lines;
use crate::js_glue::{answered, close_unless_answered, headers_from_lines, settle_quietly};
use crate::storage::http1::{BodyFraming, ChunkedDecoder, HeadReader, Http1Error, ResponseHead};
use crate::storage::node::SocketTarget;

#[wasm_bindgen(inline_js = r#"
export function pass_on(readable, reader, first, destination, length, socket) {
  // Runs on its own while the client reads; every way it ends closes the connection.
  (async () => {
    let writer = destination.getWriter();
    try {
      if (length >= 0 && length - first.length <= SMALL_REST) {
        let passed = 0;
        for (let piece = first; ; ) {
          if (piece.length > 0) {
            await writer.write(piece);
            passed += piece.length;
          }
          // Stop at the announced length: a node keeping the connection open is not waited for.
          if (passed >= length) break;
          const { value, done } = await reader.read();
          if (done) break;
          piece = value;
        }
        await writer.close();
      } else {
        // A native pipe moves a larger rest far faster than reads in JavaScript (a 1 MiB body
        // took ~3x as long), once the head's reader and the writer let go of the streams.
        reader.releaseLock();
        reader = null;
        if (first.length > 0) await writer.write(first);
        writer.releaseLock();
        writer = null;
        await readable.pipeTo(destination);
      }
    } catch (err) {
      // The client went away, or the node's bytes broke off or overran the length.
      (writer ?? destination).abort(err).catch(() => {});
      (reader ?? readable).cancel(err).catch(() => {});
    } finally {
      socket.close().catch(() => {});
    }
  })();
}
// Bytes left after the head up to which they are read in JavaScript with the head's reader:
// releasing a reader rejects its `closed` promise with a new error, and with the pipe's set-up
// that cost more than a small body's one or two reads.
const SMALL_REST = 64 * 1024;
"#)]
extern "C" {
    /// Pass `first`, then the rest of the body from the socket's `readable` (read so far by
    /// `reader`), to `destination`: `length` bytes in all, or until the connection ends when
    /// negative. A small rest is read with `reader` in JavaScript, a larger one piped natively.
    /// Closes `socket` when done, on any failure, or when the client goes away.
    fn pass_on(
        readable: &ReadableStream,
        reader: &ReadableStreamDefaultReader,
        first: &Uint8Array,
        destination: &web_sys::WritableStream,
        length: f64,
        socket: &Socket,
    );
}

#[wasm_bindgen]
extern "C" {
    /// workerd's byte-oriented pass-through stream (the readable side supports BYOB reads, which
    /// the decrypting reader prefers).
    #[wasm_bindgen(extends = web_sys::TransformStream)]
    type IdentityTransformStream;
    #[wasm_bindgen(constructor, catch)]
    fn new() -> Result<IdentityTransformStream, JsValue>;
}

/// Why a fresh read failed: text for the log. It never holds the request (its headers carry the
/// node's access key id and signature) nor the node's address.
#[derive(Debug)]
pub struct SocketError(pub String);

impl SocketError {
    fn js(context: &str) -> impl Fn(JsValue) -> SocketError + '_ {
        move |err| {
            let text = err
                .dyn_ref::<js_sys::Error>()
                .map(|e| String::from(e.message()))
                .or_else(|| err.as_string())
                .unwrap_or_else(|| "unknown error".to_string());
            SocketError(format!("{context}: {text}"))
        }
    }
}

impl From<Http1Error> for SocketError {
    fn from(err: Http1Error) -> Self {
        SocketError(format!("the node's answer is not valid HTTP/1.1: {err}"))
    }
}

/// Response headers about the connection or the transfer, not the content: the `Response` built
/// here carries its body already delimited.
const HOP_BY_HOP: &[&str] =
    &["connection", "keep-alive", "proxy-connection", "te", "trailer", "transfer-encoding", "upgrade"];

/// Closes the socket when dropped, unless handed on: a read abandoned at any point (an error, or
/// the client going away while the head is awaited) leaves no connection open.
struct Connection(Option<Socket>);

impl Connection {
    fn socket(&self) -> &Socket {
        self.0.as_ref().expect("the socket is held until handed on")
    }

    /// The socket, no longer closed on drop: whoever takes it closes it.
    fn hand_on(mut self) -> Socket {
        self.0.take().expect("the socket is held until handed on")
    }
}

impl Drop for Connection {
    fn drop(&mut self) {
        if let Some(socket) = self.0.take() {
            close(&socket);
        }
    }
}

fn close(socket: &Socket) {
    if let Ok(closing) = socket.close() {
        settle_quietly(&closing);
    }
}

/// Send `head` (a complete request head without a body) to the node at `target` over a new
/// connection and return its answer; `None` (the connection closed) when the answer's body is
/// longer than `max_body` bytes, for the caller to read it another way. An answer whose head takes
/// more than `timeout_ms` (from the connection's start) is an error.
pub async fn send(
    target: &SocketTarget,
    head: Vec<u8>,
    max_body: u64,
    timeout_ms: Option<u32>,
) -> Result<Option<Response>, SocketError> {
    let options = Object::new();
    let secure = if target.tls { "on" } else { "off" };
    let _ = Reflect::set(&options, &JsValue::from_str("secureTransport"), &JsValue::from_str(secure));
    let _ = Reflect::set(&options, &JsValue::from_str("allowHalfOpen"), &JsValue::FALSE);
    let socket = connect(JsValue::from_str(&target.address), options.into())
        .map_err(SocketError::js("opening a connection to the node"))?;
    // A refused connection rejects these too; they are not the place it is reported.
    for promise in [socket.opened(), socket.closed()].into_iter().flatten() {
        settle_quietly(&promise);
    }
    let deadline = timeout_ms.map(|ms| close_unless_answered(&socket, ms));
    let connection = Connection(Some(socket));
    let head_read = read_head(&connection, head).await;
    if let Some(deadline) = &deadline {
        if !answered(deadline) {
            return Err(SocketError("the node did not answer in time".to_string()));
        }
    }
    respond(connection, head_read?, max_body)
}

/// The node's answer as far as its head: the socket's readable side and its reader, the parsed
/// head, and whatever part of the body came with it.
struct Answer {
    readable: ReadableStream,
    reader: ReadableStreamDefaultReader,
    head: ResponseHead,
    leftover: Uint8Array,
}

/// Write the request head and read the answer's.
async fn read_head(connection: &Connection, head: Vec<u8>) -> Result<Answer, SocketError> {
    // The request. The writable side stays open (and locked: nothing else writes to it): a node
    // may drop a connection whose client half-closed it before the answer is written.
    let writable = connection.socket().writable().map_err(SocketError::js("the connection"))?;
    let writer = writable.get_writer().map_err(SocketError::js("the connection"))?;
    JsFuture::from(writer.write_with_chunk(&Uint8Array::from(head.as_slice())))
        .await
        .map_err(SocketError::js("sending the request"))?;

    // The answer's head, and whatever part of the body came with it.
    let readable = connection.socket().readable().map_err(SocketError::js("the connection"))?;
    let reader: ReadableStreamDefaultReader = readable.get_reader().unchecked_into();
    let mut parser = HeadReader::new();
    let (head, leftover) = loop {
        let Some(piece) = read(&reader).await.map_err(SocketError::js("reading the answer"))? else {
            return Err(SocketError("the node closed the connection before answering".to_string()));
        };
        let looked_at = piece.length().min(u32::try_from(parser.wanted()).unwrap_or(u32::MAX));
        if let Some((head, start)) = parser.push(&piece.subarray(0, looked_at).to_vec())? {
            let start = u32::try_from(start).map_err(|_| Http1Error::HeadTooLarge)?;
            break (head, piece.subarray(start, piece.length()));
        }
    };
    Ok(Answer { readable, reader, head, leftover })
}

/// The `Response` for `answer`; the rest of its body follows from the socket.
fn respond(connection: Connection, answer: Answer, max_body: u64) -> Result<Option<Response>, SocketError> {
    let Answer { readable, reader, head, leftover } = answer;
    if !(200..=599).contains(&head.status) {
        return Err(SocketError(format!("the node answered with status {}", head.status)));
    }
    // One boundary crossing for the whole header list (`js_glue`).
    let kept = head.headers.iter().filter(|(name, _)| !HOP_BY_HOP.contains(&name.to_ascii_lowercase().as_str()));
    let headers = headers_from_lines(&encode_header_lines(kept.map(|(n, v)| (n.as_str(), v.as_str()))));
    let init = ResponseInit::new();
    init.set_status(head.status);
    init.set_headers(&headers);
    // As with fetch's `encodeResponseBody: "manual"`: the bytes are the object's, as stored.
    let _ = Reflect::set(&init, &JsValue::from_str("encodeBody"), &JsValue::from_str("manual"));
    let built = |body: Option<&ReadableStream>| {
        Response::new_with_opt_readable_stream_and_init(body, &init).map_err(SocketError::js("building the response"))
    };

    let framing = if head.is_null_body_status() { BodyFraming::None } else { head.body_framing("GET")? };
    let response = match framing {
        // `connection` closes the socket when dropped.
        BodyFraming::Length(length) if length > max_body => return Ok(None),
        BodyFraming::None => built(None),
        BodyFraming::Length(length) if u64::from(leftover.length()) >= length => {
            // Everything came with the head (small objects, error documents).
            let body = leftover.subarray(0, length as u32);
            Response::new_with_opt_buffer_source_and_init(Some(&body), &init)
                .map_err(SocketError::js("building the response"))
        }
        BodyFraming::Length(length) => {
            let fixed = if length < u64::from(u32::MAX) {
                FixedLengthStream::new(length as u32)
            } else {
                FixedLengthStream::new_big_int(js_sys::BigInt::from(length))
            }
            .map_err(SocketError::js("the body stream"))?;
            let response = built(Some(&fixed.readable()))?;
            // The rest runs while the client reads. A connection that ends short closes the
            // fixed-length stream early, which errors the client's body: never a short success.
            pass_on(&readable, &reader, &leftover, &fixed.writable(), length as f64, &connection.hand_on());
            Ok(response)
        }
        BodyFraming::UntilClose => {
            let stream = IdentityTransformStream::new().map_err(SocketError::js("the body stream"))?;
            let response = built(Some(&stream.readable()))?;
            pass_on(&readable, &reader, &leftover, &stream.writable(), -1.0, &connection.hand_on());
            Ok(response)
        }
        BodyFraming::Chunked => {
            let stream = IdentityTransformStream::new().map_err(SocketError::js("the body stream"))?;
            let writer = stream.writable().get_writer().map_err(SocketError::js("the body stream"))?;
            let response = built(Some(&stream.readable()))?;
            let socket = connection.hand_on();
            spawn_local(async move {
                if let Err(err) = decode_chunked(&reader, leftover, &writer).await {
                    worker::console_error!("storage node read: {}", err.0);
                    let _ = writer.abort_with_reason(&JsValue::from_str(&err.0));
                }
                let _ = reader.cancel();
                close(&socket);
            });
            Ok(response)
        }
    };
    response.map(Some)
}

/// The next piece from the socket, or None at its end.
async fn read(reader: &ReadableStreamDefaultReader) -> Result<Option<Uint8Array>, JsValue> {
    let result = JsFuture::from(reader.read()).await?;
    if Reflect::get(&result, &JsValue::from_str("done"))?.as_bool().unwrap_or(true) {
        return Ok(None);
    }
    let value = Reflect::get(&result, &JsValue::from_str("value"))?;
    Ok(Some(value.dyn_into::<Uint8Array>().unwrap_or_else(|_| Uint8Array::new_with_length(0))))
}

/// Decode a chunked body from the socket into `writer`, one write per piece read.
async fn decode_chunked(
    reader: &ReadableStreamDefaultReader,
    first: Uint8Array,
    writer: &WritableStreamDefaultWriter,
) -> Result<(), SocketError> {
    let mut decoder = ChunkedDecoder::new();
    let mut decoded = Vec::new();
    let mut piece = Some(first);
    loop {
        if let Some(piece) = piece.take() {
            decoded.clear();
            decoder.decode(&piece.to_vec(), &mut decoded)?;
            if !decoded.is_empty() {
                JsFuture::from(writer.write_with_chunk(&Uint8Array::from(decoded.as_slice())))
                    .await
                    .map_err(SocketError::js("passing the body on"))?;
            }
        }
        if decoder.is_done() {
            break;
        }
        match read(reader).await.map_err(SocketError::js("reading the body"))? {
            Some(next) => piece = Some(next),
            None => {
                decoder.finish()?;
                break;
            }
        }
    }
    JsFuture::from(writer.close()).await.map_err(SocketError::js("closing the body"))?;
    Ok(())
}
