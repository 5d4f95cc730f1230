//! Runtime adapter: signed requests to a storage node through the worker's `fetch`. Bodies are JS
//! values (streams or byte arrays) handed to fetch as they are, so untouched bytes never enter wasm.

use js_sys::Uint8Array;
use wasm_bindgen::JsValue;
use wasm_bindgen_futures::JsFuture;
use web_sys::{Headers, Request, RequestInit, Response};

use crate::auth::secret::SecretKey;
use crate::http::{hex, uri_encode};
use crate::s3::{S3Error, S3ErrorCode, S3Result};
use crate::storage::node::{node_signing_path, NodeConfig};
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
    /// A ReadableStream (the client's body, or the readable side of a FixedLengthStream).
    Stream(JsValue),
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
        NodeBody::Stream(_) => UNSIGNED_PAYLOAD.to_string(),
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

    let headers = Headers::new().map_err(node_unreachable)?;
    for (name, value) in request.headers.iter().chain(signed.iter()) {
        headers.append(name, value).map_err(node_unreachable)?;
    }
    let init = RequestInit::new();
    init.set_method(request.method);
    init.set_headers(&headers);
    match &request.body {
        NodeBody::Empty => {}
        NodeBody::Bytes(bytes) => init.set_body(&Uint8Array::from(bytes.as_slice()).into()),
        NodeBody::Stream(stream) => init.set_body(stream),
    }
    let url = if raw_query.is_empty() {
        format!("{}{}", node.base_url(), request.path)
    } else {
        format!("{}{}?{}", node.base_url(), request.path, raw_query)
    };
    let js_request = Request::new_with_str_and_init(&url, &init).map_err(node_unreachable)?;
    // Object bytes pass through as stored: without `encodeResponseBody: "manual"` (honoured only
    // in fetch's own init, not the Request's), the runtime would gunzip an object stored with
    // Content-Encoding: gzip.
    let fetch_init = js_sys::Object::new();
    let _ = js_sys::Reflect::set(&fetch_init, &JsValue::from_str("encodeResponseBody"), &JsValue::from_str("manual"));
    let promise = worker::js_sys::global().unchecked_into::<FetchGlobal>().fetch_with_request(&js_request, &fetch_init);
    let response = JsFuture::from(promise).await.map_err(node_unreachable)?;
    Ok(response.into())
}

use wasm_bindgen::prelude::wasm_bindgen;
use wasm_bindgen::JsCast;

#[wasm_bindgen]
extern "C" {
    /// The worker's global scope, for `fetch`.
    type FetchGlobal;
    #[wasm_bindgen(method, js_name = fetch)]
    fn fetch_with_request(this: &FetchGlobal, request: &Request, init: &js_sys::Object) -> js_sys::Promise;
}

/// Read a whole small response body (XML documents, bucket records) as text.
pub async fn response_text(response: &Response) -> S3Result<String> {
    let promise = response.text().map_err(node_unreachable)?;
    let text = JsFuture::from(promise).await.map_err(node_unreachable)?;
    Ok(text.as_string().unwrap_or_default())
}

/// A small node answer's body as bytes.
pub async fn response_bytes(response: &Response) -> S3Result<Vec<u8>> {
    let promise = response.array_buffer().map_err(node_unreachable)?;
    let buffer = JsFuture::from(promise).await.map_err(node_unreachable)?;
    Ok(js_sys::Uint8Array::new(&buffer).to_vec())
}

/// Discard a body we do not need, so the connection can be reused.
pub fn discard_body(response: &Response) {
    if let Some(body) = response.body() {
        let _ = body.cancel();
    }
}
