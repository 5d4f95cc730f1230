//! The plain-Rust view of an HTTP request that every pure module works on, and the one place for
//! percent-encoding. The worker adapter builds a `RequestHead` once at the entry.

/// Method, host, raw path and query, and headers of a request, without its body.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RequestHead {
    /// Upper-case method, e.g. "GET".
    pub method: String,
    /// The Host header as sent (may carry a port).
    pub host: String,
    /// The path exactly as received, still percent-encoded, starting with '/'.
    pub raw_path: String,
    /// The query string exactly as received, without the leading '?'.
    pub raw_query: String,
    /// Header names lower-cased, values as received, in arrival order.
    pub headers: Vec<(String, String)>,
}

impl RequestHead {
    /// First value of a header (names are matched case-insensitively).
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.iter().find(|(n, _)| n.eq_ignore_ascii_case(name)).map(|(_, v)| v.as_str())
    }

    /// Decoded query parameters in order; a parameter without '=' has an empty value.
    pub fn query_params(&self) -> Vec<(String, String)> {
        parse_query(&self.raw_query)
    }

    /// Decoded value of the first query parameter with this name.
    pub fn query_param(&self, name: &str) -> Option<String> {
        self.query_params().into_iter().find(|(k, _)| k == name).map(|(_, v)| v)
    }

    pub fn has_query_param(&self, name: &str) -> bool {
        self.query_params().iter().any(|(k, _)| k == name)
    }

    /// Host without any port, lower-cased.
    pub fn host_name(&self) -> String {
        strip_port(&self.host).to_ascii_lowercase()
    }
}

/// Host header value without a trailing `:port` (IPv6 literals keep their brackets).
/// The path and query of an absolute URL as the runtime serialized it (`scheme://authority/path?query#fragment`),
/// and its authority. The runtime's URL is already normalized, so splitting it is all a request needs
/// (a URL parser per request showed up in profiles).
pub fn split_url(url: &str) -> UrlParts<'_> {
    let after_scheme = url.split_once("://").map_or(url, |(_, rest)| rest);
    let path_at = after_scheme.find(['/', '?', '#']).unwrap_or(after_scheme.len());
    let (authority, rest) = after_scheme.split_at(path_at);
    let rest = rest.split_once('#').map_or(rest, |(before, _)| before);
    let (path, query) = rest.split_once('?').unwrap_or((rest, ""));
    UrlParts { authority, path: if path.is_empty() { "/" } else { path }, query }
}

/// See [`split_url`].
#[derive(Debug, PartialEq, Eq)]
pub struct UrlParts<'a> {
    pub authority: &'a str,
    pub path: &'a str,
    pub query: &'a str,
}

pub fn strip_port(host: &str) -> &str {
    if host.starts_with('[') {
        return match host.find(']') {
            Some(end) => &host[..=end],
            None => host,
        };
    }
    match host.rfind(':') {
        Some(i) if host[i + 1..].bytes().all(|b| b.is_ascii_digit()) => &host[..i],
        _ => host,
    }
}

/// Split and decode a query string. '+' is kept literally: S3 clients encode spaces as %20, and
/// SigV4 canonicalization treats '+' as a literal plus.
pub fn parse_query(raw: &str) -> Vec<(String, String)> {
    raw.split('&')
        .filter(|part| !part.is_empty())
        .map(|part| match part.split_once('=') {
            Some((k, v)) => (percent_decode(k), percent_decode(v)),
            None => (percent_decode(part), String::new()),
        })
        .collect()
}

/// Decode %XX escapes; invalid escapes are kept as they are. Invalid UTF-8 is replaced.
pub fn percent_decode(s: &str) -> String {
    String::from_utf8_lossy(&percent_decode_bytes(s)).into_owned()
}

/// Decode %XX escapes to bytes; invalid escapes are kept as they are.
pub fn percent_decode_bytes(s: &str) -> Vec<u8> {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%' && i + 2 < bytes.len() {
            if let (Some(h), Some(l)) = (hex_value(bytes[i + 1]), hex_value(bytes[i + 2])) {
                out.push(h << 4 | l);
                i += 3;
                continue;
            }
        }
        out.push(bytes[i]);
        i += 1;
    }
    out
}

fn hex_value(b: u8) -> Option<u8> {
    match b {
        b'0'..=b'9' => Some(b - b'0'),
        b'a'..=b'f' => Some(b - b'a' + 10),
        b'A'..=b'F' => Some(b - b'A' + 10),
        _ => None,
    }
}

/// AWS URI encoding (SigV4): every byte except unreserved `A-Za-z0-9-._~` becomes %XX with
/// upper-case hex; '/' is kept when `keep_slash` (object key paths).
pub fn uri_encode(s: &str, keep_slash: bool) -> String {
    uri_encode_bytes(s.as_bytes(), keep_slash)
}

/// `uri_encode` of raw bytes, for decoded escapes that are not UTF-8 (`%FF`).
pub fn uri_encode_bytes(bytes: &[u8], keep_slash: bool) -> String {
    const HEX: &[u8; 16] = b"0123456789ABCDEF";
    let mut out = String::with_capacity(bytes.len() + bytes.len() / 2);
    for &b in bytes {
        let unreserved = b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~');
        if unreserved || (keep_slash && b == b'/') {
            out.push(b as char);
        } else {
            out.push('%');
            out.push(HEX[(b >> 4) as usize] as char);
            out.push(HEX[(b & 15) as usize] as char);
        }
    }
    out
}

/// Header pairs as one text, `name\nvalue\nname\nvalue`, for handing a whole header list across
/// the wasm boundary in one call instead of several per header (`js_glue`). Pairs with a line
/// break in the name or value are left out: the runtime refuses such headers anyway, and they
/// would shift every pair after them.
pub fn encode_header_lines<'a>(pairs: impl IntoIterator<Item = (&'a str, &'a str)>) -> String {
    let mut text = String::new();
    for (name, value) in pairs {
        if has_line_break(name) || has_line_break(value) {
            continue;
        }
        if !text.is_empty() {
            text.push('\n');
        }
        text.push_str(name);
        text.push('\n');
        text.push_str(value);
    }
    text
}

/// Whether `text` holds a CR or LF. A byte loop: `contains(['\n', '\r'])` decodes every char and
/// was ~9% of a small request's samples in the worker, on a signed Authorization value.
pub fn has_line_break(text: &str) -> bool {
    text.bytes().any(|b| b == b'\n' || b == b'\r')
}

/// The pairs of [`encode_header_lines`] text (names lower-cased: the runtime's are already).
pub fn decode_header_lines(text: &str) -> Vec<(String, String)> {
    let mut lines = text.split('\n');
    let mut pairs = Vec::new();
    while let (Some(name), Some(value)) = (lines.next(), lines.next()) {
        pairs.push((name.to_ascii_lowercase(), value.to_string()));
    }
    pairs
}

/// A body's bytes as text, as the runtime's `Response.text()` decodes it: a UTF-8 byte order
/// mark dropped, invalid sequences replaced by U+FFFD.
pub fn body_text(mut bytes: Vec<u8>) -> String {
    if bytes.starts_with(b"\xEF\xBB\xBF") {
        bytes.drain(..3);
    }
    String::from_utf8(bytes).unwrap_or_else(|err| String::from_utf8_lossy(err.as_bytes()).into_owned())
}

/// Lower-case hex of bytes.
pub fn hex(bytes: &[u8]) -> String {
    const HEX: &[u8; 16] = b"0123456789abcdef";
    let mut out = String::with_capacity(bytes.len() * 2);
    for &b in bytes {
        out.push(HEX[(b >> 4) as usize] as char);
        out.push(HEX[(b & 15) as usize] as char);
    }
    out
}

/// Parse hex (either case) into bytes.
pub fn from_hex(s: &str) -> Option<Vec<u8>> {
    if !s.len().is_multiple_of(2) {
        return None;
    }
    s.as_bytes().chunks(2).map(|pair| Some(hex_value(pair[0])? << 4 | hex_value(pair[1])?)).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn body_text_decodes_as_the_runtime_does() {
        assert_eq!(body_text(b"<a>\xC3\xA9</a>".to_vec()), "<a>\u{e9}</a>");
        assert_eq!(body_text(b"\xEF\xBB\xBF<a/>".to_vec()), "<a/>");
        assert_eq!(body_text(b"a\xFFb\xEF\xBB".to_vec()), "a\u{fffd}b\u{fffd}");
        assert_eq!(body_text(Vec::new()), "");
    }

    #[test]
    fn header_lines_round_trip_and_skip_pairs_with_line_breaks() {
        let pairs = [("host", "h"), ("x-empty", ""), ("bad", "a\nb"), ("x-amz-meta-a", "1, 2"), ("bad\r", "v")];
        let text = encode_header_lines(pairs.iter().copied());
        assert_eq!(text, "host\nh\nx-empty\n\nx-amz-meta-a\n1, 2");
        assert_eq!(
            decode_header_lines(&text),
            vec![("host".into(), "h".into()), ("x-empty".into(), "".into()), ("x-amz-meta-a".into(), "1, 2".into())]
        );
        assert_eq!(encode_header_lines([]), "");
        assert!(decode_header_lines("").is_empty());
        // A dangling name (no value line) is dropped; names are lower-cased.
        assert_eq!(decode_header_lines("A\n1\nb"), vec![("a".into(), "1".into())]);
    }

    #[test]
    fn splits_runtime_urls_into_authority_path_and_query() {
        let parts = split_url("http://bucket.s3.localhost:8787/a%20b/c?list-type=2&prefix=x%2F#frag");
        assert_eq!(
            parts,
            UrlParts { authority: "bucket.s3.localhost:8787", path: "/a%20b/c", query: "list-type=2&prefix=x%2F" }
        );
        assert_eq!(split_url("https://h/").path, "/");
        assert_eq!(split_url("https://h").path, "/");
        assert_eq!(split_url("https://h?uploads").path, "/");
        assert_eq!(split_url("https://h?uploads").query, "uploads");
        assert_eq!(split_url("https://h/k?").query, "");
        // A '?' after the fragment mark is part of the fragment.
        assert_eq!(split_url("https://h/k#a?b"), UrlParts { authority: "h", path: "/k", query: "" });
        // Only the first '?' starts the query.
        assert_eq!(split_url("http://h/k?a=1?b").query, "a=1?b");
    }

    #[test]
    fn decodes_percent_escapes_and_keeps_invalid_ones() {
        assert_eq!(percent_decode("a%20b%2Fc"), "a b/c");
        assert_eq!(percent_decode("100%"), "100%");
        assert_eq!(percent_decode("%zz%4"), "%zz%4");
        assert_eq!(percent_decode("%E2%82%AC"), "€");
        assert_eq!(percent_decode("a+b"), "a+b");
    }

    #[test]
    fn uri_encodes_like_aws() {
        assert_eq!(uri_encode("a b/c~d", true), "a%20b/c~d");
        assert_eq!(uri_encode("a b/c", false), "a%20b%2Fc");
        assert_eq!(uri_encode("€+=", false), "%E2%82%AC%2B%3D");
    }

    #[test]
    fn query_parsing_handles_flags_and_encoded_values() {
        let q = parse_query("list-type=2&prefix=a%2Fb&uploads&=x");
        assert_eq!(
            q,
            vec![
                ("list-type".into(), "2".into()),
                ("prefix".into(), "a/b".into()),
                ("uploads".into(), "".into()),
                ("".into(), "x".into())
            ]
        );
    }

    #[test]
    fn strips_ports() {
        assert_eq!(strip_port("example.com:8787"), "example.com");
        assert_eq!(strip_port("example.com"), "example.com");
        assert_eq!(strip_port("[::1]:80"), "[::1]");
        assert_eq!(strip_port("127.0.0.1:3900"), "127.0.0.1");
    }

    #[test]
    fn hex_round_trips() {
        assert_eq!(hex(&[0, 255, 16]), "00ff10");
        assert_eq!(from_hex("00FF10"), Some(vec![0, 255, 16]));
        assert_eq!(from_hex("0"), None);
        assert_eq!(from_hex("zz"), None);
    }
}
