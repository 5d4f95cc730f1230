//! Runtime adapter: signed requests to a storage node through the worker's `fetch`. Bodies are JS
//! values (streams or byte arrays) handed to fetch as they are, so untouched bytes never enter wasm.
//! Object reads from a node configured with `"read_connections": "fresh"` go over a new
//! connection each instead (`node_socket`), signed the same way and answered with the same kind
//! of `Response`.

use js_sys::Uint8Array;
use wasm_bindgen::{JsCast, JsValue};
use wasm_bindgen_futures::JsFuture;
use web_sys::Response;

use crate::auth::secret::SecretKey;
use crate::http::{encode_header_lines, hex, uri_encode};
use crate::js_glue::node_fetch;
use crate::s3::{S3Error, S3ErrorCode, S3Result};
use crate::storage::http1::request_head;
use crate::storage::node::{node_signing_path, NodeConfig, FRESH_READ_MAX_BYTES};
use crate::storage::node_socket;
use crate::storage::signer::sign_node_request;

/// Payload hash sent (and signed) when the gateway streams a body it has verified itself or that
/// the node verifies through Content-MD5 / checksums.
pub const UNSIGNED_PAYLOAD: &str = "UNSIGNED-PAYLOAD";
/// SHA-256 of the empty body.
pub const EMPTY_SHA256: &str = "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855";

/// One request to a node: path already encoded (see `node::node_object_path`), decoded query.
pub struct NodeRequest {
    pub method: &'static str,
    pub path: String,
    pub query: Vec<(String, String)>,
    pub headers: Vec<(String, String)>,
    pub body: NodeBody,
}

pub enum NodeBody {
    Empty,
    Bytes(Vec<u8>),
    /// A JS body sent as it is, signed UNSIGNED-PAYLOAD: a ReadableStream (the client's body, or
    /// the readable side of a FixedLengthStream), or bytes the gateway has checked itself.
    Js(JsValue),
}

impl NodeRequest {
    pub fn new(method: &'static str, path: String) -> Self {
        NodeRequest { method, path, query: Vec::new(), headers: Vec::new(), body: NodeBody::Empty }
    }

    pub fn query(mut self, name: &str, value: impl Into<String>) -> Self {
        self.query.push((name.to_string(), value.into()));
        self
    }

    pub fn header(mut self, name: &str, value: impl Into<String>) -> Self {
        self.headers.push((name.to_ascii_lowercase(), value.into()));
        self
    }

    pub fn body(mut self, body: NodeBody) -> Self {
        self.body = body;
        self
    }
}

/// The encoded query string for a node request.
pub fn encode_query(query: &[(String, String)]) -> String {
    query
        .iter()
        .map(|(k, v)| format!("{}={}", uri_encode(k, false), uri_encode(v, false)))
        .collect::<Vec<_>>()
        .join("&")
}

fn node_unreachable(err: JsValue) -> S3Error {
    // The node's URL and keys stay out of the message; the JS error text goes to the log only.
    worker::console_error!("storage node request failed: {:?}", err);
    unreachable_error()
}

fn unreachable_error() -> S3Error {
    S3Error::with_message(S3ErrorCode::ServiceUnavailable, "The storage node could not be reached. Please retry.")
}

/// Sign and send a request to the node.
pub async fn send(node: &NodeConfig, request: NodeRequest, now: i64) -> S3Result<Response> {
    let raw_query = encode_query(&request.query);
    let payload_hash = match &request.body {
        NodeBody::Empty => EMPTY_SHA256.to_string(),
        NodeBody::Bytes(bytes) => {
            use sha2::Digest;
            hex(&sha2::Sha256::digest(bytes))
        }
        NodeBody::Js(_) => UNSIGNED_PAYLOAD.to_string(),
    };
    let secret = SecretKey::new(node.secret_access_key.clone());
    let signed = sign_node_request(
        request.method,
        node.host(),
        &node_signing_path(&request.path),
        &raw_query,
        &request.headers,
        &payload_hash,
        &node.access_key_id,
        &secret,
        &node.region,
        now,
    );

    let has_body = !matches!(request.body, NodeBody::Empty);
    if node.reads_fresh(request.method, &request.path, &request.query, &request.headers, has_body) {
        if let Some(response) = send_fresh(node, &request, &raw_query, &signed).await? {
            return Ok(response);
        }
        // A body beyond FRESH_READ_MAX_BYTES: read again through fetch, with the same signature.
    }

    // One boundary crossing for the whole request (`js_glue`), and no Request object: fetch
    // takes the URL and init as they are.
    let header_text =
        encode_header_lines(request.headers.iter().chain(signed.iter()).map(|(n, v)| (n.as_str(), v.as_str())));
    let body = match &request.body {
        NodeBody::Empty => JsValue::NULL,
        NodeBody::Bytes(bytes) => Uint8Array::from(bytes.as_slice()).into(),
        NodeBody::Js(body) => body.clone(),
    };
    let url = if raw_query.is_empty() {
        format!("{}{}", node.base_url(), request.path)
    } else {
        format!("{}{}?{}", node.base_url(), request.path, raw_query)
    };
    let timeout_ms = node.answer_timeout_ms(request.method, is_small_whole_body(&request.body)).unwrap_or(0);
    let promise = node_fetch(&url, request.method, &header_text, &body, timeout_ms).map_err(node_unreachable)?;
    let response = JsFuture::from(promise).await.map_err(node_unreachable)?;
    Ok(response.into())
}

/// Bodies up to this size, held whole in a buffer, are on the wire at once: the node has all of
/// it right away (small PutObject and UploadPart bodies, read whole and checked before sending).
const SMALL_WHOLE_BODY_MAX_BYTES: u32 = 1 << 20;

/// Whether `body` is a buffer of at most `SMALL_WHOLE_BODY_MAX_BYTES` (a stream is not).
fn is_small_whole_body(body: &NodeBody) -> bool {
    match body {
        // A PUT without a body is a copy (CopyObject, UploadPartCopy): the node answers once it
        // has copied, however long that takes. (An empty object is sent as an empty buffer.)
        NodeBody::Empty => false,
        NodeBody::Bytes(bytes) => bytes.len() <= SMALL_WHOLE_BODY_MAX_BYTES as usize,
        NodeBody::Js(value) => {
            value.dyn_ref::<Uint8Array>().is_some_and(|bytes| bytes.length() <= SMALL_WHOLE_BODY_MAX_BYTES)
        }
    }
}

/// An object read over a new connection: the same signed headers, plus Host and
/// `Connection: close`, written by hand. `None` when the body is larger than
/// `FRESH_READ_MAX_BYTES` (the connection is closed after the answer's head).
async fn send_fresh(
    node: &NodeConfig,
    request: &NodeRequest,
    raw_query: &str,
    signed: &[(String, String)],
) -> S3Result<Option<Response>> {
    let failed = |reason: String| {
        // Only the reason: the request's headers carry the signature and the node's key id.
        worker::console_error!("storage node read over a fresh connection failed: {reason}");
        unreachable_error()
    };
    let target = node.socket_target().ok_or_else(|| failed("the node's endpoint names no host".to_string()))?;
    let mut path = format!("{}{}", target.path_prefix, request.path);
    if !raw_query.is_empty() {
        path.push('?');
        path.push_str(raw_query);
    }
    let headers: Vec<(String, String)> = request.headers.iter().chain(signed.iter()).cloned().collect();
    let head = request_head(request.method, &path, node.host(), &headers).map_err(|e| failed(e.to_string()))?;
    let timeout_ms = node.answer_timeout_ms(request.method, false);
    node_socket::send(&target, head, FRESH_READ_MAX_BYTES, timeout_ms).await.map_err(|e| failed(e.0))
}

/// Read a whole small response body (XML documents, bucket records) as text. Read as bytes and
/// decoded here: a JavaScript string crosses into wasm through a loop over its characters
/// (wasm-bindgen's string passing), which was ~3/4 of a 1000-key listing's workerd CPU.
pub async fn response_text(response: &Response) -> S3Result<String> {
    Ok(crate::http::body_text(response_bytes(response).await?))
}

/// A small node answer's body as bytes.
pub async fn response_bytes(response: &Response) -> S3Result<Vec<u8>> {
    Ok(response_buffer(response).await?.to_vec())
}

/// A small node answer's body, left in JavaScript memory.
pub async fn response_buffer(response: &Response) -> S3Result<Uint8Array> {
    let promise = response.array_buffer().map_err(node_unreachable)?;
    let buffer = JsFuture::from(promise).await.map_err(node_unreachable)?;
    Ok(Uint8Array::new(&buffer))
}

/// Discard a body we do not need, so the connection can be reused.
pub fn discard_body(response: &Response) {
    if let Some(body) = response.body() {
        let _ = body.cancel();
    }
}
