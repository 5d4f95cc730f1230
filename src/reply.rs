//! Runtime adapter: what the worker answers, before it becomes a JS Response.

use web_sys::ReadableStream;

/// What the gateway answers: status, headers, and a body that is small text (XML), bytes made
/// whole, or a stream (passed through from the node untouched, or decrypted on the way).
pub struct Reply {
    pub status: u16,
    pub headers: Vec<(String, String)>,
    pub body: ReplyBody,
}

pub enum ReplyBody {
    Empty,
    /// A small text document (XML or JSON).
    Xml(String),
    /// Bytes the gateway produced whole (a small decrypted object or range).
    Bytes(js_sys::Uint8Array),
    Stream(ReadableStream),
}

impl Reply {
    pub fn empty(status: u16) -> Self {
        Reply { status, headers: Vec::new(), body: ReplyBody::Empty }
    }

    pub fn xml(document: String) -> Self {
        Reply { status: 200, headers: document_headers("application/xml"), body: ReplyBody::Xml(document) }
    }

    pub fn json(status: u16, document: String) -> Self {
        Reply { status, headers: document_headers("application/json"), body: ReplyBody::Xml(document) }
    }

    pub fn header(mut self, name: &str, value: impl Into<String>) -> Self {
        self.headers.push((name.to_string(), value.into()));
        self
    }
}

/// Headers of the gateway's own documents (XML answers, errors, API JSON). The explicit identity
/// encoding keeps Cloudflare's front end from gzipping them for clients that accept gzip: some
/// S3 clients (the Go SDK in rclone) ask for gzip yet parse error bodies without decoding them.
pub fn document_headers(content_type: &str) -> Vec<(String, String)> {
    vec![("content-type".into(), content_type.into()), ("content-encoding".into(), "identity".into())]
}
