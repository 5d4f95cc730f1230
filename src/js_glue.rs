//! Runtime adapter: a few JavaScript helpers that move a whole request head, header list or
//! response across the wasm boundary in one call. Reading headers one by one through web-sys
//! costs several boundary crossings per header (iterator step, array reads, one string each);
//! a small request crossed it a few hundred times. Header lists travel as the text of
//! `http::encode_header_lines`. Also one for promises nobody awaits.

use wasm_bindgen::prelude::wasm_bindgen;
use wasm_bindgen::JsValue;

#[wasm_bindgen(inline_js = r#"
function lines(headers) {
  let text = "";
  for (const [name, value] of headers) text += (text ? "\n" : "") + name + "\n" + value;
  return text;
}
export function request_lines(request) {
  const headers = lines(request.headers);
  return request.method + "\n" + request.url + (headers ? "\n" + headers : "");
}
export function header_lines(headers) {
  return lines(headers);
}
export function headers_from_lines(text) {
  const headers = new Headers();
  if (text) {
    const parts = text.split("\n");
    for (let i = 0; i + 1 < parts.length; i += 2) {
      try {
        headers.append(parts[i], parts[i + 1]);
      } catch {
        // A value the runtime refuses is left out, as a single append would be.
      }
    }
  }
  return headers;
}
export function node_fetch(url, method, text, body, timeout_ms) {
  // encodeResponseBody "manual" (honoured only in fetch's own init): object bytes pass through
  // as stored, never gunzipped by the runtime.
  const init = { method, headers: headers_from_lines(text), body, encodeResponseBody: "manual" };
  if (!(timeout_ms > 0)) return fetch(url, init);
  // Bounds the wait for the answer's head only: the timer is gone once it arrives, so a long
  // body is never cut.
  const controller = new AbortController();
  init.signal = controller.signal;
  const timer = setTimeout(() => controller.abort(new Error("the storage node did not answer in time")), timeout_ms);
  return fetch(url, init).finally(() => clearTimeout(timer));
}
export function close_unless_answered(socket, timeout_ms) {
  // A fresh connection's wait for the answer's head: closing the socket ends the pending read.
  const deadline = { expired: false, timer: 0 };
  deadline.timer = setTimeout(() => {
    deadline.expired = true;
    socket.close().catch(() => {});
  }, timeout_ms);
  return deadline;
}
export function answered(deadline) {
  clearTimeout(deadline.timer);
  return !deadline.expired;
}
export function settle_quietly(promise) {
  // A rejection handled here is not reported as uncaught; nothing else is done with it.
  promise.then(undefined, () => {});
}
export function new_response(status, text, body) {
  // encodeBody "manual": the body goes out exactly as given (no compression by the runtime).
  return new Response(body, { status, headers: headers_from_lines(text), encodeBody: "manual" });
}
"#)]
extern "C" {
    /// `METHOD\nURL` followed by the header lines, if any.
    pub fn request_lines(request: &web_sys::Request) -> String;
    /// A Headers object's lines.
    pub fn header_lines(headers: &web_sys::Headers) -> String;
    /// A Headers object from lines.
    pub fn headers_from_lines(text: &str) -> web_sys::Headers;
    /// `fetch(url)` with a method, header lines and a body (null, bytes or a ReadableStream);
    /// rejected if the answer's head takes more than `timeout_ms` (0: no limit).
    #[wasm_bindgen(catch)]
    pub fn node_fetch(
        url: &str,
        method: &str,
        text: &str,
        body: &JsValue,
        timeout_ms: u32,
    ) -> Result<js_sys::Promise, JsValue>;
    /// Close `socket` in `timeout_ms` unless `answered` is called first; returns the deadline.
    pub fn close_unless_answered(socket: &worker::worker_sys::Socket, timeout_ms: u32) -> JsValue;
    /// Cancel the deadline; false if it had already expired (and closed the socket).
    pub fn answered(deadline: &JsValue) -> bool;
    /// Let a promise settle with nobody to tell: a rejection is handled, not reported as uncaught.
    /// (A Rust future awaiting it would cost a spawned task and closures per promise.)
    pub fn settle_quietly(promise: &js_sys::Promise);
    /// A Response from a status, header lines and a body (null, a string or a ReadableStream).
    #[wasm_bindgen(catch)]
    pub fn new_response(status: u16, text: &str, body: &JsValue) -> Result<web_sys::Response, JsValue>;
}
