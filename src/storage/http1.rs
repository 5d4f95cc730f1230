//! HTTP/1.1 by hand, for reads over a fresh connection to a node (`node::ReadConnections::Fresh`):
//! the request head the gateway writes, and the response it reads back (status line, headers,
//! how the body is delimited, and the chunked transfer coding). Pure: bytes in, values out;
//! malformed input is an error, never a panic. The runtime adapter is `storage::node_socket`.

use std::fmt;

/// The longest response head accepted (status line and headers, with its final empty line).
pub const MAX_HEAD_BYTES: usize = 64 * 1024;

/// The longest chunk-size line accepted (size and extensions), and the most trailer bytes.
const MAX_CHUNK_LINE_BYTES: usize = 4 * 1024;
const MAX_TRAILER_BYTES: usize = 64 * 1024;

/// Why a node's answer (or a request to write) is not usable HTTP/1.1.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Http1Error {
    HeadTooLarge,
    StatusLine,
    HeaderLine,
    UnexpectedUpgrade,
    ContentLength,
    ChunkSize,
    ChunkExtensionTooLong,
    ChunkDelimiter,
    TrailersTooLarge,
    /// The connection ended before the body (or the head) was complete.
    Truncated,
    /// A request header name or value that cannot be written on the wire as it is.
    RequestHeader,
}

impl fmt::Display for Http1Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Http1Error::HeadTooLarge => "the response head is larger than 64 KiB",
            Http1Error::StatusLine => "malformed status line",
            Http1Error::HeaderLine => "malformed header line",
            Http1Error::UnexpectedUpgrade => "unexpected 101 Switching Protocols",
            Http1Error::ContentLength => "invalid Content-Length",
            Http1Error::ChunkSize => "invalid chunk size",
            Http1Error::ChunkExtensionTooLong => "chunk extensions too long",
            Http1Error::ChunkDelimiter => "missing CRLF after chunk data",
            Http1Error::TrailersTooLarge => "chunked trailers too large",
            Http1Error::Truncated => "the connection ended early",
            Http1Error::RequestHeader => "a request header cannot be written as HTTP/1.1",
        })
    }
}

impl std::error::Error for Http1Error {}

// ---------------------------------------------------------------------------------------------
// The request

/// The head of a request: request line, Host, the given headers in order, `Connection: close`.
/// `target` is the origin-form path and query, already encoded. Names must be tokens and values
/// must not contain CR, LF or NUL (no header can smuggle another line in).
pub fn request_head(
    method: &str,
    target: &str,
    host: &str,
    headers: &[(String, String)],
) -> Result<Vec<u8>, Http1Error> {
    if !is_token(method) || target.is_empty() || !target.bytes().all(|b| b.is_ascii_graphic()) {
        return Err(Http1Error::RequestHeader);
    }
    let valid_value = |value: &str| !value.bytes().any(|b| matches!(b, b'\r' | b'\n' | 0));
    if host.is_empty() || !valid_value(host) {
        return Err(Http1Error::RequestHeader);
    }
    let mut out = format!("{method} {target} HTTP/1.1\r\nhost: {host}\r\n");
    for (name, value) in headers {
        // The Host written above is the one signed; the connection is this request's alone.
        if name.eq_ignore_ascii_case("host") || name.eq_ignore_ascii_case("connection") {
            continue;
        }
        if !is_token(name) || !valid_value(value) {
            return Err(Http1Error::RequestHeader);
        }
        out.push_str(name);
        out.push_str(": ");
        out.push_str(value.trim_matches([' ', '\t']));
        out.push_str("\r\n");
    }
    out.push_str("connection: close\r\n\r\n");
    Ok(out.into_bytes())
}

fn is_token(s: &str) -> bool {
    !s.is_empty() && s.bytes().all(is_tchar)
}

fn is_tchar(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b"!#$%&'*+-.^_`|~".contains(&b)
}

// ---------------------------------------------------------------------------------------------
// The response head

/// A parsed response head. Header values are the received bytes read as Latin-1 (one char per
/// byte), as the Fetch API's byte strings are: passed on, they become the same bytes again.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ResponseHead {
    pub status: u16,
    pub reason: String,
    /// Every header line in order, names as received; repeated headers are kept.
    pub headers: Vec<(String, String)>,
}

impl ResponseHead {
    /// The first value of a header (names compare case-insensitively).
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.iter().find(|(n, _)| n.eq_ignore_ascii_case(name)).map(|(_, v)| v.as_str())
    }

    /// Every value of a header, in order.
    pub fn header_values<'a>(&'a self, name: &'a str) -> impl Iterator<Item = &'a str> + 'a {
        self.headers.iter().filter(move |(n, _)| n.eq_ignore_ascii_case(name)).map(|(_, v)| v.as_str())
    }

    /// How the body of this answer to a request with `method` is delimited (RFC 9112, 6.3).
    pub fn body_framing(&self, method: &str) -> Result<BodyFraming, Http1Error> {
        if method.eq_ignore_ascii_case("HEAD") || matches!(self.status, 100..=199 | 204 | 304) {
            return Ok(BodyFraming::None);
        }
        let codings: Vec<&str> = self
            .header_values("transfer-encoding")
            .flat_map(|value| value.split(','))
            .map(|coding| coding.trim())
            .filter(|coding| !coding.is_empty())
            .collect();
        if let Some(last) = codings.last() {
            // Content-Length is ignored when a transfer coding is present; a response whose final
            // coding is not chunked runs until the connection closes.
            return Ok(if last.eq_ignore_ascii_case("chunked") {
                BodyFraming::Chunked
            } else {
                BodyFraming::UntilClose
            });
        }
        let mut length = None;
        for value in self.header_values("content-length").flat_map(|value| value.split(',')) {
            let value = value.trim();
            if value.is_empty() || value.len() > 20 || !value.bytes().all(|b| b.is_ascii_digit()) {
                return Err(Http1Error::ContentLength);
            }
            let parsed: u64 = value.parse().map_err(|_| Http1Error::ContentLength)?;
            if length.is_some_and(|seen| seen != parsed) {
                return Err(Http1Error::ContentLength);
            }
            length = Some(parsed);
        }
        Ok(length.map_or(BodyFraming::UntilClose, BodyFraming::Length))
    }

    /// Statuses whose response the Fetch API builds without a body.
    pub fn is_null_body_status(&self) -> bool {
        matches!(self.status, 101 | 204 | 205 | 304)
    }
}

/// How a response body is delimited.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BodyFraming {
    /// No body (HEAD, 1xx, 204, 304).
    None,
    /// Exactly this many bytes.
    Length(u64),
    /// `Transfer-Encoding: chunked`.
    Chunked,
    /// Everything until the connection ends.
    UntilClose,
}

/// Reads a response head from the pieces of a connection as they arrive. Interim (1xx) heads are
/// skipped. Only the head is kept: bytes after it are the body's, and their position is returned.
#[derive(Debug, Default)]
pub struct HeadReader {
    /// Bytes of the head so far (with any interim heads' leftovers).
    buf: Vec<u8>,
    /// Position in `buf` from which to look for the head's end next.
    scanned: usize,
}

impl HeadReader {
    pub fn new() -> Self {
        HeadReader::default()
    }

    /// How many bytes of the next piece are worth looking at: the adapter copies at most this many
    /// into wasm, so a large first piece (head and body together) is not copied whole.
    pub fn wanted(&self) -> usize {
        (MAX_HEAD_BYTES + 4).saturating_sub(self.buf.len()).max(1)
    }

    /// Feed the next piece (or its first `wanted()` bytes). Returns the head and the offset in
    /// `piece` where the body starts once the head is complete; None while more is needed.
    pub fn push(&mut self, piece: &[u8]) -> Result<Option<(ResponseHead, usize)>, Http1Error> {
        // Where `piece` starts, counted in the current buffer: dropping an interim head that ends
        // inside the piece moves the piece's start before the buffer's (negative).
        let mut piece_start = self.buf.len() as isize;
        self.buf.extend_from_slice(piece);
        loop {
            let Some(end) = find_head_end(&self.buf, self.scanned) else {
                if self.buf.len() > MAX_HEAD_BYTES {
                    return Err(Http1Error::HeadTooLarge);
                }
                self.scanned = self.buf.len().saturating_sub(3);
                return Ok(None);
            };
            if end > MAX_HEAD_BYTES {
                return Err(Http1Error::HeadTooLarge);
            }
            let head = parse_head(&self.buf[..end])?;
            if (100..=199).contains(&head.status) {
                if head.status == 101 {
                    return Err(Http1Error::UnexpectedUpgrade);
                }
                // An interim answer (100 Continue, 103 Early Hints): the real one follows.
                self.buf.drain(..end);
                piece_start -= end as isize;
                self.scanned = 0;
                continue;
            }
            // The head ends inside this piece (an earlier piece would have completed it).
            let body_start = usize::try_from(end as isize - piece_start).map_err(|_| Http1Error::HeaderLine)?;
            self.buf = Vec::new();
            self.scanned = 0;
            return Ok(Some((head, body_start)));
        }
    }
}

/// The length of the head (through its empty line) if `buf` holds all of it. Lines end in LF,
/// optionally preceded by CR. Empty lines before the status line are skipped as part of it.
fn find_head_end(buf: &[u8], from: usize) -> Option<usize> {
    let start = buf.iter().position(|&b| b != b'\r' && b != b'\n')?;
    let from = from.max(start);
    let mut i = from;
    while i < buf.len() {
        if buf[i] == b'\n' && i > start {
            // The previous line ended at i-1 or i-2 ("\n" or "\r\n"): this LF closes an empty line.
            let prev = if buf[i - 1] == b'\r' { i.checked_sub(2) } else { i.checked_sub(1) };
            if let Some(prev) = prev {
                if prev >= start && buf[prev] == b'\n' {
                    return Some(i + 1);
                }
            }
        }
        i += 1;
    }
    None
}

fn latin1(bytes: &[u8]) -> String {
    bytes.iter().map(|&b| b as char).collect()
}

fn parse_head(head: &[u8]) -> Result<ResponseHead, Http1Error> {
    let start = head.iter().position(|&b| b != b'\r' && b != b'\n').ok_or(Http1Error::StatusLine)?;
    let mut lines = head[start..].split(|&b| b == b'\n').map(|line| line.strip_suffix(b"\r").unwrap_or(line));
    let status_line = lines.next().ok_or(Http1Error::StatusLine)?;
    let (status, reason) = parse_status_line(status_line)?;
    let mut headers: Vec<(String, String)> = Vec::new();
    for line in lines {
        if line.is_empty() {
            break;
        }
        if line.iter().any(|&b| b == b'\r' || b == 0) {
            return Err(Http1Error::HeaderLine);
        }
        if matches!(line[0], b' ' | b'\t') {
            // obs-fold: a continuation of the previous value, read as one space.
            let (_, value) = headers.last_mut().ok_or(Http1Error::HeaderLine)?;
            let more = latin1(trim_ows(line));
            if !more.is_empty() {
                if !value.is_empty() {
                    value.push(' ');
                }
                value.push_str(&more);
            }
            continue;
        }
        let colon = line.iter().position(|&b| b == b':').ok_or(Http1Error::HeaderLine)?;
        let name = &line[..colon];
        if name.is_empty() || !name.iter().all(|&b| is_tchar(b)) {
            return Err(Http1Error::HeaderLine);
        }
        headers.push((latin1(name), latin1(trim_ows(&line[colon + 1..]))));
    }
    Ok(ResponseHead { status, reason, headers })
}

fn trim_ows(mut bytes: &[u8]) -> &[u8] {
    while let [b' ' | b'\t', rest @ ..] = bytes {
        bytes = rest;
    }
    while let [rest @ .., b' ' | b'\t'] = bytes {
        bytes = rest;
    }
    bytes
}

fn parse_status_line(line: &[u8]) -> Result<(u16, String), Http1Error> {
    let rest = line.strip_prefix(b"HTTP/1.").ok_or(Http1Error::StatusLine)?;
    let [minor, b' ', rest @ ..] = rest else { return Err(Http1Error::StatusLine) };
    if !minor.is_ascii_digit() {
        return Err(Http1Error::StatusLine);
    }
    let (code, reason) = match rest {
        [a, b, c] => ([*a, *b, *c], &[][..]),
        [a, b, c, b' ', reason @ ..] => ([*a, *b, *c], reason),
        _ => return Err(Http1Error::StatusLine),
    };
    if !code.iter().all(u8::is_ascii_digit) || code[0] == b'0' {
        return Err(Http1Error::StatusLine);
    }
    let status = code.iter().fold(0u16, |n, d| n * 10 + u16::from(d - b'0'));
    if reason.iter().any(|&b| b == 0 || b == b'\r') {
        return Err(Http1Error::StatusLine);
    }
    Ok((status, latin1(reason)))
}

// ---------------------------------------------------------------------------------------------
// Chunked transfer coding

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum ChunkState {
    /// Reading the hex digits of a chunk size (`digits` so far).
    Size {
        size: u64,
        digits: u8,
    },
    /// After the size: extensions up to the line's end.
    Extension {
        size: u64,
    },
    /// Saw CR at the end of the size line.
    SizeLf {
        size: u64,
    },
    Data {
        remaining: u64,
    },
    /// After a chunk's data: its CRLF.
    DataCr,
    DataLf,
    /// At the start of a trailer line (or the final empty line).
    TrailerStart,
    /// Inside a trailer field line.
    Trailer,
    /// Saw CR of the final empty line.
    EndLf,
    Done,
}

/// Decodes a chunked body as it arrives, in pieces of any size.
#[derive(Debug, Clone)]
pub struct ChunkedDecoder {
    state: ChunkState,
    /// Bytes of the current size line, or of all trailers.
    line_bytes: usize,
}

impl Default for ChunkedDecoder {
    fn default() -> Self {
        ChunkedDecoder { state: ChunkState::Size { size: 0, digits: 0 }, line_bytes: 0 }
    }
}

impl ChunkedDecoder {
    pub fn new() -> Self {
        ChunkedDecoder::default()
    }

    /// Whether the last chunk and the trailers have been read.
    pub fn is_done(&self) -> bool {
        self.state == ChunkState::Done
    }

    /// Decode `input`, appending the body's bytes to `out`. Returns how many bytes of `input` were
    /// used: all of them unless the body ended inside it.
    pub fn decode(&mut self, input: &[u8], out: &mut Vec<u8>) -> Result<usize, Http1Error> {
        use ChunkState::*;
        let mut i = 0;
        while i < input.len() {
            let b = input[i];
            match self.state {
                Done => return Ok(i),
                Data { remaining } => {
                    let take = usize::try_from(remaining).unwrap_or(usize::MAX).min(input.len() - i);
                    out.extend_from_slice(&input[i..i + take]);
                    i += take;
                    let remaining = remaining - take as u64;
                    self.state = if remaining == 0 { DataCr } else { Data { remaining } };
                    continue;
                }
                Size { size, digits } => {
                    self.count_line_byte(MAX_CHUNK_LINE_BYTES, Http1Error::ChunkExtensionTooLong)?;
                    if let Some(digit) = (b as char).to_digit(16) {
                        if digits >= 16 {
                            return Err(Http1Error::ChunkSize);
                        }
                        let size = size.checked_mul(16).ok_or(Http1Error::ChunkSize)? + u64::from(digit);
                        self.state = Size { size, digits: digits + 1 };
                    } else if digits == 0 {
                        return Err(Http1Error::ChunkSize);
                    } else {
                        self.state = match b {
                            b';' | b' ' | b'\t' => Extension { size },
                            b'\r' => SizeLf { size },
                            b'\n' => self.after_size_line(size),
                            _ => return Err(Http1Error::ChunkSize),
                        };
                    }
                }
                Extension { size } => {
                    self.count_line_byte(MAX_CHUNK_LINE_BYTES, Http1Error::ChunkExtensionTooLong)?;
                    self.state = match b {
                        b'\r' => SizeLf { size },
                        b'\n' => self.after_size_line(size),
                        0 => return Err(Http1Error::ChunkSize),
                        _ => Extension { size },
                    };
                }
                SizeLf { size } => {
                    if b != b'\n' {
                        return Err(Http1Error::ChunkSize);
                    }
                    self.state = self.after_size_line(size);
                }
                DataCr => {
                    self.state = match b {
                        b'\r' => DataLf,
                        b'\n' => self.next_size(),
                        _ => return Err(Http1Error::ChunkDelimiter),
                    };
                }
                DataLf => {
                    if b != b'\n' {
                        return Err(Http1Error::ChunkDelimiter);
                    }
                    self.state = self.next_size();
                }
                TrailerStart => {
                    self.count_line_byte(MAX_TRAILER_BYTES, Http1Error::TrailersTooLarge)?;
                    self.state = match b {
                        b'\r' => EndLf,
                        b'\n' => Done,
                        _ => Trailer,
                    };
                }
                Trailer => {
                    self.count_line_byte(MAX_TRAILER_BYTES, Http1Error::TrailersTooLarge)?;
                    if b == b'\n' {
                        self.state = TrailerStart;
                    }
                }
                EndLf => {
                    if b != b'\n' {
                        return Err(Http1Error::ChunkDelimiter);
                    }
                    self.state = Done;
                }
            }
            i += 1;
        }
        Ok(i)
    }

    /// The connection ended: an error unless the body was complete.
    pub fn finish(&self) -> Result<(), Http1Error> {
        if self.is_done() {
            Ok(())
        } else {
            Err(Http1Error::Truncated)
        }
    }

    fn count_line_byte(&mut self, limit: usize, err: Http1Error) -> Result<(), Http1Error> {
        self.line_bytes += 1;
        if self.line_bytes > limit {
            return Err(err);
        }
        Ok(())
    }

    fn after_size_line(&mut self, size: u64) -> ChunkState {
        self.line_bytes = 0;
        if size == 0 {
            ChunkState::TrailerStart
        } else {
            ChunkState::Data { remaining: size }
        }
    }

    fn next_size(&mut self) -> ChunkState {
        self.line_bytes = 0;
        ChunkState::Size { size: 0, digits: 0 }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pairs(list: &[(&str, &str)]) -> Vec<(String, String)> {
        list.iter().map(|(n, v)| (n.to_string(), v.to_string())).collect()
    }

    /// Feed `input` to a fresh reader in pieces of `size` bytes; the head and the body's bytes.
    fn read_in_pieces(input: &[u8], size: usize) -> Result<Option<(ResponseHead, Vec<u8>)>, Http1Error> {
        let mut reader = HeadReader::new();
        let mut pieces = input.chunks(size.max(1));
        for piece in pieces.by_ref() {
            if let Some((head, start)) = reader.push(piece)? {
                let mut body = piece[start..].to_vec();
                for rest in pieces {
                    body.extend_from_slice(rest);
                }
                return Ok(Some((head, body)));
            }
        }
        Ok(None)
    }

    const GARAGE_GET: &[u8] = b"HTTP/1.1 200 OK\r\ncontent-type: application/octet-stream\r\nContent-Length: 5\r\n\
etag: \"abc\"\r\nx-amz-meta-Colour: blue\r\nX-Amz-Meta-colour: green\r\n\r\nhello";

    #[test]
    fn parses_status_headers_and_finds_the_body() {
        let (head, body) = read_in_pieces(GARAGE_GET, 4096).unwrap().unwrap();
        assert_eq!(head.status, 200);
        assert_eq!(head.reason, "OK");
        assert_eq!(body, b"hello");
        assert_eq!(head.header("CONTENT-LENGTH"), Some("5"));
        assert_eq!(head.header("etag"), Some("\"abc\""));
        assert_eq!(head.header_values("X-AMZ-META-COLOUR").collect::<Vec<_>>(), ["blue", "green"]);
        assert_eq!(head.headers.len(), 5);
        assert_eq!(head.headers[1].0, "Content-Length");
        assert_eq!(head.body_framing("GET"), Ok(BodyFraming::Length(5)));
        assert_eq!(head.body_framing("HEAD"), Ok(BodyFraming::None));
        assert!(head.header("missing").is_none());
    }

    #[test]
    fn a_head_split_anywhere_parses_the_same() {
        let whole = read_in_pieces(GARAGE_GET, 4096).unwrap().unwrap();
        for size in 1..GARAGE_GET.len() {
            assert_eq!(read_in_pieces(GARAGE_GET, size).unwrap().unwrap(), whole, "pieces of {size}");
        }
        // Split exactly between the head's final CR and LF, and between the two CRLFs.
        let end = GARAGE_GET.windows(4).position(|w| w == b"\r\n\r\n").unwrap();
        for cut in [end + 1, end + 2, end + 3] {
            let mut reader = HeadReader::new();
            assert_eq!(reader.push(&GARAGE_GET[..cut]).unwrap(), None, "cut {cut}");
            let (head, start) = reader.push(&GARAGE_GET[cut..]).unwrap().unwrap();
            assert_eq!(head, whole.0);
            assert_eq!(&GARAGE_GET[cut..][start..], b"hello");
        }
        // The head complete in the first piece, the body all in the next.
        let mut reader = HeadReader::new();
        assert_eq!(reader.push(&GARAGE_GET[..end + 4]).unwrap(), Some((whole.0, end + 4)));
    }

    #[test]
    fn an_incomplete_head_waits_for_more() {
        let mut reader = HeadReader::new();
        assert_eq!(reader.push(b"HTTP/1.1 200 OK\r\nContent-Length: 0\r\n").unwrap(), None);
        assert_eq!(reader.push(b"").unwrap(), None);
        let (head, start) = reader.push(b"\r\n").unwrap().unwrap();
        assert_eq!((head.status, start), (200, 2));
        assert_eq!(head.body_framing("GET"), Ok(BodyFraming::Length(0)));
    }

    #[test]
    fn bare_lf_line_ends_and_leading_empty_lines_are_accepted() {
        let input = b"\r\n\nHTTP/1.0 404 Not Found\nContent-Length: 3\n\nabc";
        let (head, body) = read_in_pieces(input, 3).unwrap().unwrap();
        assert_eq!((head.status, head.reason.as_str(), body.as_slice()), (404, "Not Found", &b"abc"[..]));
        assert_eq!(head.headers, pairs(&[("Content-Length", "3")]));
    }

    #[test]
    fn status_lines_with_and_without_reasons() {
        let parse = |line: &str| read_in_pieces(format!("{line}\r\n\r\n").as_bytes(), 100).map(|r| r.map(|(h, _)| h));
        assert_eq!(parse("HTTP/1.1 304").unwrap().unwrap().status, 304);
        assert_eq!(parse("HTTP/1.1 206 ").unwrap().unwrap().reason, "");
        assert_eq!(parse("HTTP/1.1 503 Slow Down Please").unwrap().unwrap().reason, "Slow Down Please");
        for bad in [
            "HTTP/2 200 OK",
            "HTTP/1.1 20 OK",
            "HTTP/1.1 2000 OK",
            "HTTP/1.1 2x0 OK",
            "HTTP/1.1 099 Low",
            "HTTP/1.1  200 OK",
            "HTTP/1.x 200 OK",
            "ICY 200 OK",
            "HTTP/1.1",
        ] {
            assert!(parse(bad).is_err(), "{bad:?}");
        }
        // Nothing but empty lines: still waiting for a status line.
        assert_eq!(parse(""), Ok(None));
    }

    #[test]
    fn malformed_header_lines_are_errors() {
        for bad in [
            "HTTP/1.1 200 OK\r\nno colon here\r\n\r\n",
            "HTTP/1.1 200 OK\r\nspace before : colon\r\n\r\n",
            "HTTP/1.1 200 OK\r\n: empty name\r\n\r\n",
            "HTTP/1.1 200 OK\r\nna\"me: x\r\n\r\n",
            "HTTP/1.1 200 OK\r\n folded first line\r\n\r\n",
            "HTTP/1.1 200 OK\r\nx: a\rb\r\n\r\n",
            "HTTP/1.1 200 OK\r\nx: a\0b\r\n\r\n",
        ] {
            assert!(read_in_pieces(bad.as_bytes(), 7).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn values_are_trimmed_folded_and_kept_byte_for_byte() {
        let input = b"HTTP/1.1 200 OK\r\nx-a:  one \t\r\nx-b: two\r\n  three\r\nx-c:\r\nx-meta: caf\xc3\xa9\r\n\r\n";
        let (head, _) = read_in_pieces(input, 5).unwrap().unwrap();
        assert_eq!(head.header("x-a"), Some("one"));
        assert_eq!(head.header("x-b"), Some("two three"));
        assert_eq!(head.header("x-c"), Some(""));
        // Latin-1: each byte one char, so the bytes survive a trip through the Fetch API.
        let meta = head.header("x-meta").unwrap();
        assert_eq!(meta.chars().map(|c| c as u32 as u8).collect::<Vec<_>>(), b"caf\xc3\xa9");
    }

    #[test]
    fn interim_answers_are_skipped() {
        let input = b"HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 103 Early Hints\r\nlink: </a>\r\n\r\nHTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok";
        for size in [1, 2, 7, 30, input.len()] {
            let (head, body) = read_in_pieces(input, size).unwrap().unwrap();
            assert_eq!((head.status, body.as_slice()), (200, &b"ok"[..]), "pieces of {size}");
            assert_eq!(head.headers, pairs(&[("Content-Length", "2")]));
        }
        assert_eq!(
            read_in_pieces(b"HTTP/1.1 101 Switching Protocols\r\nUpgrade: x\r\n\r\n", 9),
            Err(Http1Error::UnexpectedUpgrade)
        );
    }

    #[test]
    fn heads_over_the_limit_are_refused() {
        let big = format!("HTTP/1.1 200 OK\r\nx-big: {}\r\n\r\n", "a".repeat(MAX_HEAD_BYTES));
        assert_eq!(read_in_pieces(big.as_bytes(), 1000), Err(Http1Error::HeadTooLarge));
        assert_eq!(read_in_pieces(big.as_bytes(), big.len()), Err(Http1Error::HeadTooLarge));
        // A head that never ends is refused once it passes the limit, not buffered forever.
        let mut reader = HeadReader::new();
        let line = b"x-more: aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa\r\n";
        assert_eq!(reader.push(b"HTTP/1.1 200 OK\r\n"), Ok(None));
        let mut pushed = 0;
        let result = loop {
            match reader.push(line) {
                Ok(None) => pushed += line.len(),
                other => break other,
            }
            assert!(pushed <= MAX_HEAD_BYTES);
        };
        assert_eq!(result, Err(Http1Error::HeadTooLarge));
        // Just under the limit is fine, with a large body in the same piece.
        let filler = "a".repeat(MAX_HEAD_BYTES - 100);
        let head = format!("HTTP/1.1 200 OK\r\nx-big: {filler}\r\ncontent-length: 100000\r\n\r\n");
        let mut input = head.clone().into_bytes();
        input.extend(std::iter::repeat_n(b'z', 100_000));
        let mut reader = HeadReader::new();
        let wanted = reader.wanted();
        let (parsed, start) = reader.push(&input[..wanted.min(input.len())]).unwrap().unwrap();
        assert_eq!(start, head.len());
        assert_eq!(parsed.header("x-big").map(str::len), Some(filler.len()));
    }

    #[test]
    fn body_framing_follows_rfc_9112() {
        let head = |status: u16, headers: &[(&str, &str)]| ResponseHead {
            status,
            reason: String::new(),
            headers: pairs(headers),
        };
        use BodyFraming::*;
        assert_eq!(head(200, &[("Content-Length", "42")]).body_framing("GET"), Ok(Length(42)));
        assert_eq!(head(200, &[("content-length", "7"), ("Content-Length", "7")]).body_framing("GET"), Ok(Length(7)));
        assert_eq!(head(200, &[("content-length", "7, 7")]).body_framing("GET"), Ok(Length(7)));
        assert_eq!(head(200, &[]).body_framing("GET"), Ok(UntilClose));
        assert_eq!(head(404, &[("Transfer-Encoding", "chunked")]).body_framing("GET"), Ok(Chunked));
        assert_eq!(
            head(200, &[("transfer-encoding", "gzip, Chunked"), ("content-length", "3")]).body_framing("GET"),
            Ok(Chunked)
        );
        assert_eq!(head(200, &[("transfer-encoding", "chunked, gzip")]).body_framing("GET"), Ok(UntilClose));
        assert_eq!(head(304, &[("Content-Length", "10")]).body_framing("GET"), Ok(None));
        assert_eq!(head(204, &[]).body_framing("GET"), Ok(None));
        assert_eq!(head(200, &[("Content-Length", "10")]).body_framing("head"), Ok(None));
        for bad in ["", "-1", "1.5", "0x10", "7, 8", "99999999999999999999", " , "] {
            assert_eq!(
                head(200, &[("Content-Length", bad)]).body_framing("GET"),
                Err(Http1Error::ContentLength),
                "{bad:?}"
            );
        }
        assert_eq!(
            head(200, &[("content-length", "1"), ("content-length", "2")]).body_framing("GET"),
            Err(Http1Error::ContentLength)
        );
        assert_eq!(head(200, &[("Content-Length", "18446744073709551615")]).body_framing("GET"), Ok(Length(u64::MAX)));
        assert!(head(304, &[]).is_null_body_status());
        assert!(head(204, &[]).is_null_body_status());
        assert!(!head(200, &[]).is_null_body_status());
    }

    #[test]
    fn request_heads_are_written_with_host_and_connection_close() {
        let head = request_head(
            "GET",
            "/dev/a%20b?partNumber=2",
            "127.0.0.1:3900",
            &pairs(&[("range", "bytes=0-9"), ("x-amz-date", "20260101T000000Z"), ("Connection", "keep-alive")]),
        )
        .unwrap();
        assert_eq!(
            String::from_utf8(head).unwrap(),
            "GET /dev/a%20b?partNumber=2 HTTP/1.1\r\nhost: 127.0.0.1:3900\r\nrange: bytes=0-9\r\n\
x-amz-date: 20260101T000000Z\r\nconnection: close\r\n\r\n"
        );
        let with_host = request_head("GET", "/", "h", &pairs(&[("Host", "evil")])).unwrap();
        assert_eq!(String::from_utf8(with_host).unwrap(), "GET / HTTP/1.1\r\nhost: h\r\nconnection: close\r\n\r\n");
        for bad in [("x-a", "v\r\nx-injected: 1"), ("x-a", "v\nw"), ("x a", "v"), ("", "v"), ("x-a", "\0")] {
            assert_eq!(request_head("GET", "/", "h", &pairs(&[bad])), Err(Http1Error::RequestHeader), "{bad:?}");
        }
        assert_eq!(request_head("GET", "/a b", "h", &[]), Err(Http1Error::RequestHeader));
        assert_eq!(request_head("GET", "", "h", &[]), Err(Http1Error::RequestHeader));
        assert_eq!(request_head("GE T", "/", "h", &[]), Err(Http1Error::RequestHeader));
        assert_eq!(request_head("GET", "/", "h\r\nx: y", &[]), Err(Http1Error::RequestHeader));
    }

    /// Decode `input` fed in pieces of `size` bytes; the body, and the bytes left after it.
    fn decode_in_pieces(input: &[u8], size: usize) -> Result<(Vec<u8>, usize), Http1Error> {
        let mut decoder = ChunkedDecoder::new();
        let mut out = Vec::new();
        let mut left = 0;
        for piece in input.chunks(size.max(1)) {
            let used = decoder.decode(piece, &mut out)?;
            left += piece.len() - used;
        }
        decoder.finish()?;
        Ok((out, left))
    }

    const CHUNKED: &[u8] = b"5\r\nhello\r\n1;name=value;other=\"quoted;x\"\r\n \r\nA  ; ext\r\n0123456789\r\n0\r\n\r\n";

    #[test]
    fn chunked_bodies_decode_in_pieces_of_any_size() {
        for size in 1..=CHUNKED.len() {
            assert_eq!(decode_in_pieces(CHUNKED, size), Ok((b"hello 0123456789".to_vec(), 0)), "pieces of {size}");
        }
    }

    #[test]
    fn chunk_sizes_split_across_reads() {
        let body = vec![b'x'; 0x1234];
        let mut input = b"12".to_vec();
        let mut rest = b"34\r\n".to_vec();
        rest.extend_from_slice(&body);
        rest.extend_from_slice(b"\r\n0\r\n\r\n");
        let mut decoder = ChunkedDecoder::new();
        let mut out = Vec::new();
        assert_eq!(decoder.decode(&input, &mut out), Ok(2));
        assert!(out.is_empty() && !decoder.is_done());
        assert_eq!(decoder.decode(&rest, &mut out), Ok(rest.len()));
        assert!(decoder.is_done());
        assert_eq!(out, body);
        input.extend_from_slice(&rest);
        assert_eq!(decode_in_pieces(&input, 3), Ok((body, 0)));
    }

    #[test]
    fn chunked_trailers_lf_line_ends_and_bytes_after_the_end() {
        let input = b"3\nabc\n0;last\r\nx-amz-checksum-crc32: AAAA\r\nother: 1\n\r\nEXTRA";
        assert_eq!(decode_in_pieces(input, 4), Ok((b"abc".to_vec(), 5)));
        assert_eq!(decode_in_pieces(b"0\r\n\r\n", 1), Ok((Vec::new(), 0)));
        assert_eq!(decode_in_pieces(b"000\r\n\r\n", 2), Ok((Vec::new(), 0)));
        // An upper-case hex size.
        assert_eq!(decode_in_pieces(b"B\r\nhello world\r\n0\r\n\r\n", 5).unwrap().0, b"hello world");
    }

    #[test]
    fn malformed_chunked_bodies_are_errors() {
        use Http1Error::*;
        for (input, err) in [
            (&b"\r\n"[..], ChunkSize),
            (b"g\r\n", ChunkSize),
            (b"5x\r\nhello\r\n0\r\n\r\n", ChunkSize),
            (b"-5\r\n", ChunkSize),
            (b"5\rhello", ChunkSize),
            (b"5\r\nhelloXX0\r\n\r\n", ChunkDelimiter),
            (b"5\r\nhello\rX", ChunkDelimiter),
            (b"0\r\n\rX", ChunkDelimiter),
            (b"11111111111111111\r\n", ChunkSize),
            (b"ffffffffffffffff0\r\n", ChunkSize),
        ] {
            assert_eq!(decode_in_pieces(input, 2), Err(err.clone()), "{:?}", String::from_utf8_lossy(input));
        }
        let long_extension = format!("1;{}\r\nx\r\n0\r\n\r\n", "e".repeat(MAX_CHUNK_LINE_BYTES));
        assert_eq!(decode_in_pieces(long_extension.as_bytes(), 100), Err(ChunkExtensionTooLong));
        let long_trailers = format!("0\r\n{}\r\n\r\n", "t: v\r\n".repeat(MAX_TRAILER_BYTES / 6 + 1));
        assert_eq!(decode_in_pieces(long_trailers.as_bytes(), 100), Err(TrailersTooLarge));
        // Bodies that stop short.
        for short in [&b""[..], b"5", b"5\r\nhel", b"5\r\nhello", b"5\r\nhello\r\n", b"0\r\n", b"0\r\nx: y\r\n"] {
            assert_eq!(decode_in_pieces(short, 3), Err(Truncated), "{:?}", String::from_utf8_lossy(short));
        }
        // The largest size parses (and would wait for its data).
        let mut decoder = ChunkedDecoder::new();
        assert_eq!(decoder.decode(b"ffffffffffffffff\r\nab", &mut Vec::new()), Ok(20));
        assert_eq!(decoder.finish(), Err(Truncated));
    }

    #[test]
    fn arbitrary_bytes_never_panic() {
        // A small deterministic fuzz: every byte string from a mix of interesting pieces.
        let alphabet: &[&[u8]] =
            &[b"HTTP/1.1 ", b"200", b" OK", b"\r\n", b"\n", b"\r", b":", b" ", b"a", b"0", b"f", b";", b"\0", b"\xff"];
        let mut state = 0x2545_f491_4f6c_dd1du64;
        for _ in 0..20_000 {
            let mut input = Vec::new();
            for _ in 0..(state % 24) {
                state ^= state << 13;
                state ^= state >> 7;
                state ^= state << 17;
                input.extend_from_slice(alphabet[(state % alphabet.len() as u64) as usize]);
            }
            let size = (state % 7 + 1) as usize;
            if let Ok(Some((head, _))) = read_in_pieces(&input, size) {
                let _ = head.body_framing("GET");
            }
            let _ = decode_in_pieces(&input, size);
        }
    }
}
