//! The `#[event(fetch)]` entry: read the clock once, build the request head, call the handler,
//! and turn every error into an S3 XML error response. Thin on purpose.

use std::cell::Cell;

use wasm_bindgen::JsValue;
use web_sys::{Request, ResponseInit};
use worker::{event, Context, Date, Env, Result};

use crate::http::{decode_header_lines, encode_header_lines, hex, percent_decode, split_url, RequestHead};
use crate::js_glue::{new_response, request_lines};
use crate::reply::{Reply, ReplyBody};
use crate::s3::handlers::handle;
use crate::s3::S3Error;

#[event(fetch)]
pub async fn fetch(request: Request, env: Env, _ctx: Context) -> Result<web_sys::Response> {
    console_error_panic_hook::set_once();
    let now = (Date::now().as_millis() / 1000) as i64;
    let request_id = new_request_id();
    let head = request_head(&request);
    let reply = match handle(&request, &head, &env, now).await {
        Ok(reply) => reply,
        Err(err) => error_reply(&err, &request_id, &head),
    };
    // Returned as the raw JS Response: converting to worker::Response would reset encodeBody.
    Ok(into_response(reply, &request_id))
}

thread_local! {
    /// The next request id of this isolate: random at the isolate's start, then counted up.
    static NEXT_REQUEST_ID: Cell<Option<u64>> = const { Cell::new(None) };
}

/// A request id is a correlation handle, not a secret: unique per request, it needs no fresh
/// randomness each time (a `getRandomValues` call per request showed up in profiles).
fn new_request_id() -> String {
    let id = NEXT_REQUEST_ID.with(|next| {
        let id = next.get().unwrap_or_else(|| {
            let mut bytes = [0u8; 8];
            // A failed random read is not fatal: ids are then only unique within the isolate.
            let _ = getrandom::fill(&mut bytes);
            u64::from_be_bytes(bytes)
        });
        next.set(Some(id.wrapping_add(1)));
        id
    });
    hex(&id.to_be_bytes()).to_ascii_uppercase()
}

/// The request's method, host, path, query and headers, read in one call (`js_glue`). The raw JS
/// request is used: workers-rs's `Request` wrapper reads the `cf` object and parses the URL again
/// on every request, which profiles showed as a fifth of a small request's CPU.
fn request_head(request: &Request) -> RequestHead {
    let text = request_lines(request);
    let mut lines = text.splitn(3, '\n');
    let method = lines.next().unwrap_or_default().to_ascii_uppercase();
    let url = lines.next().unwrap_or_default();
    let headers = decode_header_lines(lines.next().unwrap_or_default());
    let parts = split_url(url);
    let host =
        headers.iter().find(|(n, _)| n == "host").map_or_else(|| parts.authority.to_string(), |(_, v)| v.clone());
    RequestHead { method, host, raw_path: parts.path.to_string(), raw_query: parts.query.to_string(), headers }
}

fn error_reply(err: &S3Error, request_id: &str, head: &RequestHead) -> Reply {
    let mut headers = err.headers.clone();
    let body = if err.has_body(head.method == "HEAD") {
        headers.extend(crate::reply::document_headers("application/xml"));
        let mut err = err.clone();
        if err.resource.is_none() {
            err.resource = Some(percent_decode(&head.raw_path));
        }
        ReplyBody::Xml(err.to_xml(request_id))
    } else {
        ReplyBody::Empty
    };
    Reply { status: err.status(), headers, body }
}

fn into_response(reply: Reply, request_id: &str) -> web_sys::Response {
    // The gateway's request id replaces any other (as `Headers.set` would).
    let pairs = reply
        .headers
        .iter()
        .filter(|(n, _)| !n.eq_ignore_ascii_case("x-amz-request-id"))
        .map(|(n, v)| (n.as_str(), v.as_str()))
        .chain([("x-amz-request-id", request_id)]);
    let header_text = encode_header_lines(pairs);
    let body = match reply.body {
        ReplyBody::Empty => JsValue::NULL,
        ReplyBody::Xml(text) => JsValue::from_str(&text),
        ReplyBody::Bytes(bytes) => bytes.into(),
        ReplyBody::Stream(stream) => stream.into(),
    };
    new_response(reply.status, &header_text, &body).unwrap_or_else(|err: JsValue| {
        worker::console_error!("building the response failed: {err:?}");
        web_sys::Response::new_with_opt_str_and_init(None, &{
            let init = ResponseInit::new();
            init.set_status(500);
            init
        })
        .expect("an empty 500 response")
    })
}
