//! The `#[event(fetch)]` entry: read the clock once, build the request head, call the handler,
//! and turn every error into an S3 XML error response. Thin on purpose.

use wasm_bindgen::JsValue;
use web_sys::{Headers, ResponseInit};
use worker::{event, Context, Date, Env, Request, Result};

use crate::http::{hex, percent_decode, RequestHead};
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

fn new_request_id() -> String {
    let mut bytes = [0u8; 8];
    // A request id is a correlation handle, not a secret: a failed random read is not fatal.
    let _ = getrandom::fill(&mut bytes);
    hex(&bytes).to_ascii_uppercase()
}

fn request_head(request: &Request) -> RequestHead {
    let url = request.url().ok();
    let headers: Vec<(String, String)> =
        request.headers().entries().map(|(n, v)| (n.to_ascii_lowercase(), v)).collect();
    let host = headers
        .iter()
        .find(|(n, _)| n == "host")
        .map(|(_, v)| v.clone())
        .or_else(|| {
            url.as_ref().and_then(|u| {
                u.host_str().map(|h| match u.port() {
                    Some(port) => format!("{h}:{port}"),
                    None => h.to_string(),
                })
            })
        })
        .unwrap_or_default();
    RequestHead {
        method: request.method().to_string().to_ascii_uppercase(),
        host,
        raw_path: url.as_ref().map(|u| u.path().to_string()).unwrap_or_else(|| "/".into()),
        raw_query: url.as_ref().and_then(|u| u.query().map(str::to_string)).unwrap_or_default(),
        headers,
    }
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
    let headers = Headers::new().expect("Headers constructor");
    for (name, value) in &reply.headers {
        let _ = headers.append(name, value);
    }
    let _ = headers.set("x-amz-request-id", request_id);
    let init = ResponseInit::new();
    init.set_status(reply.status);
    init.set_headers(&headers);
    // The body goes out exactly as the node stored it: the runtime must not compress it (that
    // would break Range, Content-Length and ETag semantics).
    let _ = js_sys::Reflect::set(&init, &JsValue::from_str("encodeBody"), &JsValue::from_str("manual"));
    let response = match reply.body {
        ReplyBody::Empty => web_sys::Response::new_with_opt_str_and_init(None, &init),
        ReplyBody::Xml(text) => web_sys::Response::new_with_opt_str_and_init(Some(&text), &init),
        ReplyBody::Stream(stream) => web_sys::Response::new_with_opt_readable_stream_and_init(Some(&stream), &init),
    };
    response.unwrap_or_else(|err: JsValue| {
        worker::console_error!("building the response failed: {err:?}");
        web_sys::Response::new_with_opt_str_and_init(None, &{
            let init = ResponseInit::new();
            init.set_status(500);
            init
        })
        .expect("an empty 500 response")
    })
}
