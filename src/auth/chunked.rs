//! `Content-Encoding: aws-chunked` request bodies: a push decoder that strips the framing, verifies
//! every chunk signature (chained from the request's seed signature) and the trailer, and checks
//! the trailing checksum and the decoded length.
//!
//! The three framings, as `x-amz-content-sha256` names them:
//! ```text
//! STREAMING-AWS4-HMAC-SHA256-PAYLOAD          <hex-size>;chunk-signature=<sig>\r\n<data>\r\n ...
//!                                             0;chunk-signature=<sig>\r\n\r\n
//! STREAMING-UNSIGNED-PAYLOAD-TRAILER          <hex-size>\r\n<data>\r\n ...
//!                                             0\r\n[x-amz-checksum-<algo>:<b64>\r\n]\r\n
//! STREAMING-AWS4-HMAC-SHA256-PAYLOAD-TRAILER  signed chunks ... 0;chunk-signature=<sig>\r\n
//!                                             [x-amz-checksum-<algo>:<b64>\r\n]x-amz-trailer-signature:<sig>\r\n\r\n
//! ```
//! A chunk's signature is HMAC(signing key, "AWS4-HMAC-SHA256-PAYLOAD\n" date "\n" scope "\n"
//! previous-signature "\n" sha256("") "\n" sha256(chunk data)); the trailer's is HMAC(signing key,
//! "AWS4-HMAC-SHA256-TRAILER\n" date "\n" scope "\n" previous-signature "\n" sha256(trailers)),
//! where the trailers are `name:value\n` per trailing header, in the order sent.
//!
//! What the caller gets from [`AwsChunkedDecoder::push`]:
//! - Signed modes: a chunk's bytes are appended to `out` only after its signature verified, so at
//!   most one chunk is held here ([`MAX_SIGNED_CHUNK_LEN`] bounds it). What `out` holds after any
//!   `push`, even one that fails, is authentic data in order.
//! - Unsigned mode: bytes are appended as they arrive; nothing vouches for them until the trailing
//!   checksum verifies in [`AwsChunkedDecoder::finish`].
//! - In every mode the body as a whole (length, final chunk, trailer signature, trailing checksum)
//!   is only known good when `finish` succeeds: the upload pump holds back its last bytes until
//!   then, so a body that fails is never committed (DESIGN.md, "Integrity rules").
//!
//! Errors follow S3: broken framing, a truncated body and a length other than
//! `x-amz-decoded-content-length` are IncompleteBody; a chunk or trailer signature that does not
//! verify is SignatureDoesNotMatch; a trailing checksum that does not match is BadDigest; a trailer
//! that was not announced, is missing or is malformed is S3's MalformedTrailerError, answered here
//! as InvalidRequest with S3's message (the error table has no MalformedTrailerError yet).

use std::fmt;

use sha2::{Digest, Sha256};

use crate::auth::secret::{Signature, SigningKey};
use crate::auth::sigv4::{compute_signature, ChunkSigningContext, PayloadHash, EMPTY_PAYLOAD_SHA256};
use crate::http::{hex, RequestHead};
use crate::s3::error::{S3Error, S3Result};
use crate::s3_error;
use crate::storage::checksum::{request_checksum, Checksum, ChecksumAlgorithm, ChecksumCheck, RequestChecksum};

/// The header giving the length of the payload once the framing is removed.
pub const DECODED_CONTENT_LENGTH_HEADER: &str = "x-amz-decoded-content-length";
/// Largest signed chunk accepted. A signed chunk is held whole until its signature verifies, so
/// this bounds the decoder's memory. SDKs send 64 KiB to 1 MiB chunks.
pub const MAX_SIGNED_CHUNK_LEN: u64 = 8 << 20;
/// Longest chunk header or trailer line, CRLF excluded. The longest valid one is a signed chunk
/// header: 16 hex digits, `;chunk-signature=` and 64 hex digits (97 bytes).
const MAX_LINE_LEN: usize = 256;
/// First line of a chunk's string to sign.
const CHUNK_STRING_TO_SIGN_ALGORITHM: &str = "AWS4-HMAC-SHA256-PAYLOAD";
/// First line of the trailer's string to sign.
const TRAILER_STRING_TO_SIGN_ALGORITHM: &str = "AWS4-HMAC-SHA256-TRAILER";
/// The trailing header carrying the trailer signature.
const TRAILER_SIGNATURE_HEADER: &str = "x-amz-trailer-signature";
/// Separates a signed chunk's size from its signature.
const CHUNK_SIGNATURE_EXTENSION: &[u8] = b";chunk-signature=";
/// S3's message for MalformedTrailerError.
const MALFORMED_TRAILER: &str =
    "The request contained trailing data that was not well-formed or did not conform to our published schema.";

fn malformed(detail: &str) -> S3Error {
    s3_error!(IncompleteBody, "The aws-chunked request body is malformed: {detail}.")
}

fn malformed_trailer() -> S3Error {
    s3_error!(InvalidRequest, "{MALFORMED_TRAILER}")
}

fn too_long() -> S3Error {
    s3_error!(
        IncompleteBody,
        "The aws-chunked request body carries more data than x-amz-decoded-content-length declares."
    )
}

/// Which aws-chunked framing a body uses, with what its signatures chain from.
#[derive(Debug, Clone)]
pub enum ChunkedMode {
    /// `STREAMING-AWS4-HMAC-SHA256-PAYLOAD`: signed chunks, no trailer.
    Signed(ChunkSigningContext),
    /// `STREAMING-UNSIGNED-PAYLOAD-TRAILER`: unsigned chunks, optional checksum trailer.
    UnsignedTrailer,
    /// `STREAMING-AWS4-HMAC-SHA256-PAYLOAD-TRAILER`: signed chunks and a signed trailer.
    SignedTrailer(ChunkSigningContext),
}

impl ChunkedMode {
    /// The framing of a verified request's body; `None` when the body is not aws-chunked.
    pub fn from_payload_hash(payload: &PayloadHash) -> Option<Self> {
        match payload {
            PayloadHash::StreamingSigned(context) => Some(ChunkedMode::Signed(context.clone())),
            PayloadHash::StreamingUnsignedTrailer => Some(ChunkedMode::UnsignedTrailer),
            PayloadHash::StreamingSignedTrailer(context) => Some(ChunkedMode::SignedTrailer(context.clone())),
            PayloadHash::Unsigned | PayloadHash::Sha256(_) => None,
        }
    }
}

/// `x-amz-decoded-content-length`: required with aws-chunked bodies; missing or not a number is
/// MissingContentLength, as S3 answers.
pub fn decoded_content_length(head: &RequestHead) -> S3Result<u64> {
    head.header(DECODED_CONTENT_LENGTH_HEADER)
        .map(str::trim)
        .filter(|value| !value.is_empty() && value.bytes().all(|b| b.is_ascii_digit()))
        .and_then(|value| value.parse().ok())
        .ok_or_else(|| s3_error!(MissingContentLength))
}

/// The signature of one chunk, given the previous signature (the seed for the first chunk) and
/// the SHA-256 of the chunk's data.
pub fn chunk_signature(
    key: &SigningKey,
    amz_date: &str,
    scope: &str,
    previous: &Signature,
    chunk_sha256: &[u8; 32],
) -> Signature {
    let string_to_sign = format!(
        "{CHUNK_STRING_TO_SIGN_ALGORITHM}\n{amz_date}\n{scope}\n{}\n{EMPTY_PAYLOAD_SHA256}\n{}",
        previous.to_hex(),
        hex(chunk_sha256)
    );
    compute_signature(key, &string_to_sign)
}

/// The signature of the trailer, given the final chunk's signature and the canonical trailers
/// (`name:value\n` per trailing header, in the order sent).
pub fn trailer_signature(
    key: &SigningKey,
    amz_date: &str,
    scope: &str,
    previous: &Signature,
    canonical_trailers: &[u8],
) -> Signature {
    let string_to_sign = format!(
        "{TRAILER_STRING_TO_SIGN_ALGORITHM}\n{amz_date}\n{scope}\n{}\n{}",
        previous.to_hex(),
        hex(&Sha256::digest(canonical_trailers))
    );
    compute_signature(key, &string_to_sign)
}

/// A trailing checksum that matched the decoded payload.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TrailingChecksum {
    pub algorithm: ChecksumAlgorithm,
    /// The value as sent (base64 of the digest), trimmed.
    pub value: String,
}

/// What followed the final chunk, verified.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Trailers {
    /// The trailing `x-amz-checksum-*`, when one was announced.
    pub checksum: Option<TrailingChecksum>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum State {
    /// Reading a chunk header line.
    Header,
    /// Inside a chunk's data.
    Data { remaining: u64 },
    /// Expecting the CR after a chunk's data.
    DataCr,
    /// Expecting the LF after a chunk's data.
    DataLf,
    /// After the final chunk's header: trailer lines until an empty line.
    Trailers,
    /// The empty line after the trailers was read; nothing may follow.
    Done,
}

/// The chain of signatures of a signed body.
struct Chain {
    context: ChunkSigningContext,
    /// The last verified signature: the seed, a chunk's, or the trailer's.
    previous: Signature,
    /// Whether the trailer (and so its signature) may follow the final chunk.
    signed_trailer: bool,
}

/// The checksum announced by `x-amz-trailer`, computed over the payload while its value is still
/// on its way.
struct ExpectedTrailer {
    checksum: Checksum,
    /// The decoded digest and the value as sent, once the trailer line arrived.
    received: Option<(Vec<u8>, String)>,
}

/// Push decoder of an aws-chunked body: feed it the body in pieces of any size with
/// [`push`](Self::push), then call [`finish`](Self::finish). It never panics on any input; the
/// first error is final and every later call returns it again.
pub struct AwsChunkedDecoder {
    /// `None` for the unsigned mode.
    chain: Option<Chain>,
    expected: Option<ExpectedTrailer>,
    declared_len: u64,
    decoded_len: u64,
    state: State,
    /// The chunk header or trailer line being read, without its CRLF.
    line: Vec<u8>,
    /// Signed modes: the data of the chunk being read, held until its signature verifies.
    chunk: Vec<u8>,
    chunk_sha256: Sha256,
    chunk_signature: Option<Signature>,
    /// Signed trailer: the trailers read so far, `name:value\n` each.
    canonical_trailers: Vec<u8>,
    trailer_signature_verified: bool,
    error: Option<S3Error>,
}

impl fmt::Debug for AwsChunkedDecoder {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("AwsChunkedDecoder")
            .field("signed", &self.chain.is_some())
            .field("trailer", &self.expected.as_ref().map(|expected| expected.checksum.algorithm()))
            .field("declared_len", &self.declared_len)
            .field("decoded_len", &self.decoded_len)
            .field("state", &self.state)
            .field("error", &self.error)
            .finish_non_exhaustive()
    }
}

impl AwsChunkedDecoder {
    /// A decoder for a body of `mode` whose payload is `decoded_content_length` bytes, with the
    /// checksum trailer announced by `x-amz-trailer` (see [`request_checksum`]). In the signed mode
    /// without trailers a body can carry no trailer, so announcing one makes every body fail.
    pub fn new(mode: ChunkedMode, decoded_content_length: u64, trailer: Option<ChecksumAlgorithm>) -> Self {
        let chain = match mode {
            ChunkedMode::Signed(context) => Some((context, false)),
            ChunkedMode::SignedTrailer(context) => Some((context, true)),
            ChunkedMode::UnsignedTrailer => None,
        }
        .map(|(context, signed_trailer)| Chain {
            previous: context.seed_signature.clone(),
            context,
            signed_trailer,
        });
        AwsChunkedDecoder {
            chain,
            expected: trailer.map(|algorithm| ExpectedTrailer { checksum: Checksum::new(algorithm), received: None }),
            declared_len: decoded_content_length,
            decoded_len: 0,
            state: State::Header,
            line: Vec::new(),
            chunk: Vec::new(),
            chunk_sha256: Sha256::new(),
            chunk_signature: None,
            canonical_trailers: Vec::new(),
            trailer_signature_verified: false,
            error: None,
        }
    }

    /// The decoder for a verified request's body: `None` when the body is not aws-chunked.
    /// Reads `x-amz-decoded-content-length` and `x-amz-trailer`.
    pub fn for_request(head: &RequestHead, payload: &PayloadHash) -> S3Result<Option<Self>> {
        let Some(mode) = ChunkedMode::from_payload_hash(payload) else {
            return Ok(None);
        };
        let declared = decoded_content_length(head)?;
        let trailer = match request_checksum(head)? {
            RequestChecksum::Trailer(algorithm) => Some(algorithm),
            RequestChecksum::None | RequestChecksum::Header { .. } => None,
        };
        if trailer.is_some() && matches!(mode, ChunkedMode::Signed(_)) {
            // This framing has no trailer section: refuse now rather than after the whole body.
            return Err(malformed_trailer());
        }
        Ok(Some(AwsChunkedDecoder::new(mode, declared, trailer)))
    }

    /// Payload bytes decoded so far (in the signed modes, including a chunk not yet released).
    pub fn decoded_len(&self) -> u64 {
        self.decoded_len
    }

    /// Decode the next piece of the body, appending payload bytes to `out` (see the module
    /// documentation for when bytes are released).
    pub fn push(&mut self, input: &[u8], out: &mut Vec<u8>) -> S3Result<()> {
        if let Some(error) = &self.error {
            return Err(error.clone());
        }
        let mut input = input;
        let result = self.decode(&mut input, out);
        if let Err(error) = &result {
            self.error = Some(error.clone());
            self.chunk = Vec::new();
            self.line = Vec::new();
        }
        result
    }

    /// The body ended: IncompleteBody unless it was complete; then the trailing checksum must
    /// match the payload (BadDigest otherwise).
    pub fn finish(self) -> S3Result<Trailers> {
        if let Some(error) = self.error {
            return Err(error);
        }
        if self.state != State::Done || self.decoded_len != self.declared_len {
            return Err(s3_error!(IncompleteBody));
        }
        let checksum = match self.expected {
            None => None,
            Some(ExpectedTrailer { checksum, received: Some((digest, value)) }) => {
                let algorithm = checksum.algorithm();
                ChecksumCheck::with_checksum(checksum, digest).verify()?;
                Some(TrailingChecksum { algorithm, value })
            }
            // The empty line is only accepted once the announced trailer arrived.
            Some(ExpectedTrailer { received: None, .. }) => return Err(malformed_trailer()),
        };
        Ok(Trailers { checksum })
    }

    fn decode(&mut self, input: &mut &[u8], out: &mut Vec<u8>) -> S3Result<()> {
        while !input.is_empty() {
            match self.state {
                State::Header => {
                    if self.read_line(input)? {
                        let line = std::mem::take(&mut self.line);
                        let result = self.start_chunk(&line);
                        self.line = line;
                        self.line.clear();
                        result?;
                    }
                }
                State::Data { remaining } => {
                    let take = usize::try_from(remaining).unwrap_or(usize::MAX).min(input.len());
                    let (data, rest) = input.split_at(take);
                    *input = rest;
                    self.accept_data(data, out);
                    let remaining = remaining - take as u64;
                    if remaining == 0 {
                        self.end_chunk(out)?;
                        self.state = State::DataCr;
                    } else {
                        self.state = State::Data { remaining };
                    }
                }
                State::DataCr | State::DataLf => {
                    let expected = if self.state == State::DataCr { b'\r' } else { b'\n' };
                    if input[0] != expected {
                        return Err(malformed("chunk data is not followed by CRLF"));
                    }
                    *input = &input[1..];
                    self.state = if self.state == State::DataCr { State::DataLf } else { State::Header };
                }
                State::Trailers => {
                    if self.read_line(input)? {
                        let line = std::mem::take(&mut self.line);
                        let result = self.trailer_line(&line);
                        self.line = line;
                        self.line.clear();
                        result?;
                    }
                }
                State::Done => return Err(malformed("data follows the end of the body")),
            }
        }
        Ok(())
    }

    /// Move input up to the next LF into `self.line`; true when a whole line is there (its CRLF
    /// removed).
    fn read_line(&mut self, input: &mut &[u8]) -> S3Result<bool> {
        let (piece, complete) = match input.iter().position(|&b| b == b'\n') {
            Some(at) => (&input[..at], true),
            None => (*input, false),
        };
        // The line may hold its CR too.
        if self.line.len() + piece.len() > MAX_LINE_LEN + 1 {
            return Err(match self.state {
                State::Trailers if self.chain.as_ref().is_none_or(|chain| chain.signed_trailer) => malformed_trailer(),
                _ => malformed("a chunk header is too long"),
            });
        }
        self.line.extend_from_slice(piece);
        *input = &input[piece.len() + usize::from(complete)..];
        if !complete {
            return Ok(false);
        }
        if self.line.pop() != Some(b'\r') {
            return Err(malformed("a line does not end with CRLF"));
        }
        Ok(true)
    }

    /// A chunk header line: size and, in the signed modes, signature.
    fn start_chunk(&mut self, line: &[u8]) -> S3Result<()> {
        let (size, signature) = match &self.chain {
            Some(_) => {
                let at = line
                    .windows(CHUNK_SIGNATURE_EXTENSION.len())
                    .position(|window| window == CHUNK_SIGNATURE_EXTENSION)
                    .ok_or_else(|| malformed("a signed chunk header has no chunk-signature"))?;
                let signature = std::str::from_utf8(&line[at + CHUNK_SIGNATURE_EXTENSION.len()..])
                    .ok()
                    .and_then(Signature::from_hex)
                    .ok_or_else(|| s3_error!(SignatureDoesNotMatch))?;
                (&line[..at], Some(signature))
            }
            None => (line, None),
        };
        let size = parse_chunk_size(size).ok_or_else(|| malformed("a chunk size is not hexadecimal"))?;
        if size > self.declared_len - self.decoded_len {
            return Err(too_long());
        }
        if self.chain.is_some() && size > MAX_SIGNED_CHUNK_LEN {
            return Err(s3_error!(
                EntityTooLarge,
                "A signed aws-chunked chunk of {size} bytes exceeds this gateway's limit of {MAX_SIGNED_CHUNK_LEN} \
                 bytes per chunk; send smaller chunks."
            ));
        }
        self.chunk_signature = signature;
        if size > 0 {
            self.state = State::Data { remaining: size };
            return Ok(());
        }
        // The final chunk.
        if self.decoded_len != self.declared_len {
            return Err(s3_error!(IncompleteBody));
        }
        if let Some(signature) = self.chunk_signature.take() {
            self.verify_chunk(&Sha256::digest(b"").into(), &signature)?;
        }
        self.state = State::Trailers;
        Ok(())
    }

    fn accept_data(&mut self, data: &[u8], out: &mut Vec<u8>) {
        self.decoded_len += data.len() as u64;
        if let Some(expected) = &mut self.expected {
            expected.checksum.update(data);
        }
        if self.chain.is_some() {
            self.chunk_sha256.update(data);
            self.chunk.extend_from_slice(data);
        } else {
            out.extend_from_slice(data);
        }
    }

    /// The last byte of a chunk's data arrived: verify it and release it.
    fn end_chunk(&mut self, out: &mut Vec<u8>) -> S3Result<()> {
        let Some(signature) = self.chunk_signature.take() else {
            return Ok(());
        };
        let sha256: [u8; 32] = std::mem::take(&mut self.chunk_sha256).finalize().into();
        self.verify_chunk(&sha256, &signature)?;
        if out.is_empty() {
            // Hand over the buffer instead of copying it.
            std::mem::swap(out, &mut self.chunk);
        } else {
            out.extend_from_slice(&self.chunk);
        }
        self.chunk.clear();
        Ok(())
    }

    fn verify_chunk(&mut self, sha256: &[u8; 32], provided: &Signature) -> S3Result<()> {
        let Some(chain) = &mut self.chain else {
            return Ok(());
        };
        let context = &chain.context;
        let expected =
            chunk_signature(&context.signing_key, &context.amz_date, &context.scope, &chain.previous, sha256);
        if !provided.matches(&expected) {
            return Err(s3_error!(SignatureDoesNotMatch));
        }
        chain.previous = expected;
        Ok(())
    }

    /// A line after the final chunk: a trailer, the trailer signature, or the empty line ending
    /// the body.
    fn trailer_line(&mut self, line: &[u8]) -> S3Result<()> {
        let signed_trailer = self.chain.as_ref().map(|chain| chain.signed_trailer);
        if line.is_empty() {
            let trailers_sent = !self.canonical_trailers.is_empty();
            if signed_trailer == Some(true) && trailers_sent && !self.trailer_signature_verified {
                // Trailers are sent, but nothing vouches for them.
                return Err(malformed_trailer());
            }
            if self.expected.as_ref().is_some_and(|expected| expected.received.is_none()) {
                return Err(malformed_trailer());
            }
            self.state = State::Done;
            return Ok(());
        }
        if signed_trailer == Some(false) {
            // The signed mode without trailers ends with "0;chunk-signature=...\r\n\r\n".
            return Err(malformed("the final chunk is not followed by CRLF"));
        }
        if self.trailer_signature_verified {
            return Err(malformed_trailer());
        }
        let text = std::str::from_utf8(line).map_err(|_| malformed_trailer())?;
        let (name, value) = text.split_once(':').ok_or_else(malformed_trailer)?;
        let (name, value) = (name.trim(), value.trim());
        if name.is_empty() || name.bytes().any(|b| b.is_ascii_whitespace() || b.is_ascii_control()) {
            return Err(malformed_trailer());
        }
        if name.eq_ignore_ascii_case(TRAILER_SIGNATURE_HEADER) {
            return self.verify_trailer_signature(value);
        }
        let expected = self.expected.as_mut().ok_or_else(malformed_trailer)?;
        let algorithm = expected.checksum.algorithm();
        if !name.eq_ignore_ascii_case(algorithm.header_name()) || expected.received.is_some() {
            return Err(malformed_trailer());
        }
        let digest = algorithm.decode_value(value).ok_or_else(|| {
            s3_error!(InvalidRequest, "Value for {} trailing header is invalid.", algorithm.header_name())
        })?;
        expected.received = Some((digest, value.to_string()));
        if signed_trailer.is_some() {
            self.canonical_trailers.extend_from_slice(name.to_ascii_lowercase().as_bytes());
            self.canonical_trailers.push(b':');
            self.canonical_trailers.extend_from_slice(value.as_bytes());
            self.canonical_trailers.push(b'\n');
        }
        Ok(())
    }

    fn verify_trailer_signature(&mut self, value: &str) -> S3Result<()> {
        let Some(chain) = self.chain.as_mut().filter(|chain| chain.signed_trailer) else {
            // An unsigned body has nothing to verify a signature with.
            return Err(malformed_trailer());
        };
        let provided = Signature::from_hex(value).ok_or_else(|| s3_error!(SignatureDoesNotMatch))?;
        let context = &chain.context;
        let expected = trailer_signature(
            &context.signing_key,
            &context.amz_date,
            &context.scope,
            &chain.previous,
            &self.canonical_trailers,
        );
        if !provided.matches(&expected) {
            return Err(s3_error!(SignatureDoesNotMatch));
        }
        chain.previous = expected;
        self.trailer_signature_verified = true;
        Ok(())
    }
}

/// 1 to 16 hex digits (either case) into a size.
fn parse_chunk_size(digits: &[u8]) -> Option<u64> {
    if digits.is_empty() || digits.len() > 16 {
        return None;
    }
    digits.iter().try_fold(0u64, |size, &digit| {
        let value = (digit as char).to_digit(16)?;
        Some(size << 4 | u64::from(value))
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::auth::secret::SecretKey;
    use crate::auth::sigv4::{credential_scope, signing_key};
    use crate::s3::S3ErrorCode;
    use crate::storage::checksum::checksum_base64;

    const DOCS_SECRET: &str = "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY";
    const DOCS_AMZ_DATE: &str = "20130524T000000Z";
    /// Seed signature of "Transferring Payload in Multiple Chunks".
    const DOCS_SEED: &str = "4f232c4386841ef735655705268965c44a0e4690baa4adea153f7db9fa80a0a9";
    const DOCS_CHUNK_SIGNATURES: [&str; 3] = [
        "ad80c730a21e5b8d04586a2213dd63b9a0e99e0e2307b0ade35a65485a288648",
        "0055627c9e194cb4542bae2aa5492e3c1575bbb81b612b7d234b86a503ef5497",
        "b6c6ea8a5354eaf15b3cb7646744f4275b71ea724fed81ceb9323e279d449df9",
    ];
    /// Seed signature of "Signature calculations for trailing headers".
    const DOCS_TRAILER_SEED: &str = "106e2a8a18243abcf37539882f36619c00e2dfc72633413f02d3b74544bfeb8e";
    const DOCS_TRAILER_CHUNK_SIGNATURES: [&str; 3] = [
        "b474d8862b1487a5145d686f57f013e54db672cee1c953b3010fb58501ef5aa2",
        "1c1344b170168f8e65b41376b44b20fe354e373826ccbbe2c1d40a8cae51e5c7",
        "2ca2aba2005185cf7159c6277faf83795951dd77a3a99e6e65d5c9f85863f992",
    ];
    const DOCS_TRAILER: &str = "x-amz-checksum-crc32c:sOO8/Q==";
    const DOCS_TRAILER_SIGNATURE: &str = "d81f82fc3505edab99d459891051a732e8730629a2e4a59689829ca17fe2e435";

    fn context(seed: &str) -> ChunkSigningContext {
        // Derived once: the tests build thousands of decoders.
        static KEY: std::sync::OnceLock<SigningKey> = std::sync::OnceLock::new();
        let key = KEY.get_or_init(|| signing_key(&SecretKey::from(DOCS_SECRET), "20130524", "us-east-1", "s3"));
        ChunkSigningContext {
            seed_signature: Signature::from_hex(seed).unwrap(),
            signing_key: key.clone(),
            scope: credential_scope("20130524", "us-east-1", "s3"),
            amz_date: DOCS_AMZ_DATE.to_string(),
        }
    }

    /// The documentation's object: 65 KiB of 'a', in a 64 KiB and a 1 KiB chunk.
    fn docs_payload() -> Vec<u8> {
        vec![b'a'; 66_560]
    }

    fn docs_signed_body() -> Vec<u8> {
        let payload = docs_payload();
        let mut body = Vec::new();
        body.extend_from_slice(format!("10000;chunk-signature={}\r\n", DOCS_CHUNK_SIGNATURES[0]).as_bytes());
        body.extend_from_slice(&payload[..65_536]);
        body.extend_from_slice(format!("\r\n400;chunk-signature={}\r\n", DOCS_CHUNK_SIGNATURES[1]).as_bytes());
        body.extend_from_slice(&payload[65_536..]);
        body.extend_from_slice(format!("\r\n0;chunk-signature={}\r\n\r\n", DOCS_CHUNK_SIGNATURES[2]).as_bytes());
        body
    }

    fn docs_signed_trailer_body() -> Vec<u8> {
        let payload = docs_payload();
        let mut body = Vec::new();
        body.extend_from_slice(format!("10000;chunk-signature={}\r\n", DOCS_TRAILER_CHUNK_SIGNATURES[0]).as_bytes());
        body.extend_from_slice(&payload[..65_536]);
        body.extend_from_slice(format!("\r\n400;chunk-signature={}\r\n", DOCS_TRAILER_CHUNK_SIGNATURES[1]).as_bytes());
        body.extend_from_slice(&payload[65_536..]);
        body.extend_from_slice(format!("\r\n0;chunk-signature={}\r\n", DOCS_TRAILER_CHUNK_SIGNATURES[2]).as_bytes());
        body.extend_from_slice(
            format!("{DOCS_TRAILER}\r\nx-amz-trailer-signature:{DOCS_TRAILER_SIGNATURE}\r\n\r\n").as_bytes(),
        );
        body
    }

    /// The three modes, by name, for tests that run over all of them.
    #[derive(Debug, Clone, Copy, PartialEq)]
    enum Kind {
        Signed,
        UnsignedTrailer,
        SignedTrailer,
    }

    const KINDS: [Kind; 3] = [Kind::Signed, Kind::UnsignedTrailer, Kind::SignedTrailer];

    fn mode(kind: Kind) -> ChunkedMode {
        match kind {
            Kind::Signed => ChunkedMode::Signed(context(DOCS_SEED)),
            Kind::UnsignedTrailer => ChunkedMode::UnsignedTrailer,
            Kind::SignedTrailer => ChunkedMode::SignedTrailer(context(DOCS_SEED)),
        }
    }

    /// Encode `payload` the way a client does, in chunks of `chunk_len`, with a trailing checksum
    /// of `trailer` (trailer modes only). `trailer_value` overrides the checksum value sent.
    fn encode_with(
        kind: Kind,
        payload: &[u8],
        chunk_len: usize,
        trailer: Option<ChecksumAlgorithm>,
        trailer_value: Option<&str>,
    ) -> Vec<u8> {
        let context = context(DOCS_SEED);
        let sign = |previous: &Signature, data: &[u8]| {
            chunk_signature(
                &context.signing_key,
                &context.amz_date,
                &context.scope,
                previous,
                &Sha256::digest(data).into(),
            )
        };
        let mut previous = context.seed_signature.clone();
        let mut body = Vec::new();
        let mut chunks: Vec<&[u8]> = payload.chunks(chunk_len.max(1)).collect();
        chunks.push(b"");
        for chunk in chunks {
            body.extend_from_slice(format!("{:x}", chunk.len()).as_bytes());
            if kind != Kind::UnsignedTrailer {
                previous = sign(&previous, chunk);
                body.extend_from_slice(format!(";chunk-signature={}", previous.to_hex()).as_bytes());
            }
            body.extend_from_slice(b"\r\n");
            body.extend_from_slice(chunk);
            if !chunk.is_empty() {
                body.extend_from_slice(b"\r\n");
            }
        }
        let mut canonical = Vec::new();
        if let Some(algorithm) = trailer {
            let value = trailer_value.map_or_else(|| checksum_base64(algorithm, payload), str::to_string);
            let line = format!("{}:{value}", algorithm.header_name());
            body.extend_from_slice(format!("{line}\r\n").as_bytes());
            canonical.extend_from_slice(format!("{line}\n").as_bytes());
        }
        if kind == Kind::SignedTrailer {
            let signature =
                trailer_signature(&context.signing_key, &context.amz_date, &context.scope, &previous, &canonical);
            body.extend_from_slice(format!("x-amz-trailer-signature:{}\r\n", signature.to_hex()).as_bytes());
        }
        body.extend_from_slice(b"\r\n");
        body
    }

    fn encode(kind: Kind, payload: &[u8], chunk_len: usize, trailer: Option<ChecksumAlgorithm>) -> Vec<u8> {
        encode_with(kind, payload, chunk_len, trailer, None)
    }

    /// Decode `body` fed in `pieces` (split at these offsets) with a fresh decoder.
    fn decode_split(
        mode: ChunkedMode,
        declared: u64,
        trailer: Option<ChecksumAlgorithm>,
        body: &[u8],
        splits: &[usize],
    ) -> S3Result<(Vec<u8>, Trailers)> {
        let mut decoder = AwsChunkedDecoder::new(mode, declared, trailer);
        let mut out = Vec::new();
        let mut start = 0;
        for &end in splits.iter().chain(std::iter::once(&body.len())) {
            decoder.push(&body[start..end], &mut out)?;
            start = end;
        }
        let trailers = decoder.finish()?;
        Ok((out, trailers))
    }

    fn decode_in_pieces(
        mode: ChunkedMode,
        declared: u64,
        trailer: Option<ChecksumAlgorithm>,
        body: &[u8],
        piece: usize,
    ) -> S3Result<(Vec<u8>, Trailers)> {
        let splits: Vec<usize> = (piece..body.len()).step_by(piece.max(1)).collect();
        decode_split(mode, declared, trailer, body, &splits)
    }

    fn decode(kind: Kind, payload_len: usize, trailer: Option<ChecksumAlgorithm>, body: &[u8]) -> S3Result<Vec<u8>> {
        decode_split(mode(kind), payload_len as u64, trailer, body, &[]).map(|(out, _)| out)
    }

    fn code<T: fmt::Debug>(result: S3Result<T>) -> S3ErrorCode {
        result.unwrap_err().code
    }

    /// A small deterministic generator for the property tests (xorshift64*).
    struct Rng(u64);

    impl Rng {
        fn next(&mut self) -> u64 {
            self.0 ^= self.0 >> 12;
            self.0 ^= self.0 << 25;
            self.0 ^= self.0 >> 27;
            self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
        }

        fn below(&mut self, n: usize) -> usize {
            (self.next() % n.max(1) as u64) as usize
        }

        fn splits(&mut self, len: usize, count: usize) -> Vec<usize> {
            let mut splits: Vec<usize> = (0..count).map(|_| self.below(len + 1)).collect();
            splits.sort_unstable();
            splits
        }
    }

    // ---- The AWS documentation's examples. ----

    #[test]
    fn docs_chunk_signatures_chain_from_the_seed() {
        let context = context(DOCS_SEED);
        let payload = docs_payload();
        let mut previous = context.seed_signature.clone();
        for (data, expected) in [&payload[..65_536], &payload[65_536..], b""].into_iter().zip(DOCS_CHUNK_SIGNATURES) {
            let digest: [u8; 32] = Sha256::digest(data).into();
            previous = chunk_signature(&context.signing_key, &context.amz_date, &context.scope, &previous, &digest);
            assert_eq!(previous.to_hex(), expected);
        }
    }

    #[test]
    fn docs_signed_upload_decodes_in_any_pieces() {
        let body = docs_signed_body();
        assert_eq!(body, encode(Kind::Signed, &docs_payload(), 65_536, None));
        for piece in [body.len(), 1, 7, 4096, 65_536, 65_623] {
            let (out, trailers) =
                decode_in_pieces(ChunkedMode::Signed(context(DOCS_SEED)), 66_560, None, &body, piece).unwrap();
            assert_eq!(out, docs_payload(), "pieces of {piece}");
            assert_eq!(trailers, Trailers::default());
        }
        let mut rng = Rng(1);
        for _ in 0..20 {
            let splits = rng.splits(body.len(), 12);
            let (out, _) = decode_split(ChunkedMode::Signed(context(DOCS_SEED)), 66_560, None, &body, &splits).unwrap();
            assert_eq!(out, docs_payload(), "splits {splits:?}");
        }
    }

    #[test]
    fn docs_signed_trailer_upload_decodes_and_verifies_its_trailer() {
        let body = docs_signed_trailer_body();
        let trailer = Some(ChecksumAlgorithm::Crc32c);
        for piece in [body.len(), 1, 4096] {
            let mode = ChunkedMode::SignedTrailer(context(DOCS_TRAILER_SEED));
            let (out, trailers) = decode_in_pieces(mode, 66_560, trailer, &body, piece).unwrap();
            assert_eq!(out, docs_payload());
            assert_eq!(
                trailers.checksum,
                Some(TrailingChecksum { algorithm: ChecksumAlgorithm::Crc32c, value: "sOO8/Q==".into() })
            );
        }
        // Every signature of the example, and the trailer's canonical form.
        let context = context(DOCS_TRAILER_SEED);
        let payload = docs_payload();
        let mut previous = context.seed_signature.clone();
        for (data, expected) in
            [&payload[..65_536], &payload[65_536..], b""].into_iter().zip(DOCS_TRAILER_CHUNK_SIGNATURES)
        {
            let digest: [u8; 32] = Sha256::digest(data).into();
            previous = chunk_signature(&context.signing_key, &context.amz_date, &context.scope, &previous, &digest);
            assert_eq!(previous.to_hex(), expected);
        }
        let canonical = format!("{DOCS_TRAILER}\n");
        let signature =
            trailer_signature(&context.signing_key, &context.amz_date, &context.scope, &previous, canonical.as_bytes());
        assert_eq!(signature.to_hex(), DOCS_TRAILER_SIGNATURE);
    }

    #[test]
    fn docs_trailer_tampering_is_refused() {
        let body = docs_signed_trailer_body();
        let decode = |body: &[u8]| {
            decode_split(
                ChunkedMode::SignedTrailer(context(DOCS_TRAILER_SEED)),
                66_560,
                Some(ChecksumAlgorithm::Crc32c),
                body,
                &[],
            )
        };
        let text = String::from_utf8(body.clone()).unwrap();
        // Another (valid-looking) checksum value: the trailer signature covers it.
        let other_value = text.replace("sOO8/Q==", "AAAAAA==");
        assert_eq!(code(decode(other_value.as_bytes())), S3ErrorCode::SignatureDoesNotMatch);
        // Another trailer signature.
        let other_signature = text.replace(DOCS_TRAILER_SIGNATURE, &DOCS_TRAILER_SIGNATURE.replace('d', "e"));
        assert_eq!(code(decode(other_signature.as_bytes())), S3ErrorCode::SignatureDoesNotMatch);
        // Without the trailer signature.
        let unsigned = text.replace(&format!("x-amz-trailer-signature:{DOCS_TRAILER_SIGNATURE}\r\n"), "");
        assert_eq!(code(decode(unsigned.as_bytes())), S3ErrorCode::InvalidRequest);
        // Verified with the other example's seed, nothing matches.
        let wrong_seed =
            decode_split(ChunkedMode::SignedTrailer(context(DOCS_SEED)), 66_560, None, &body, &[]).unwrap_err();
        assert_eq!(wrong_seed.code, S3ErrorCode::SignatureDoesNotMatch);
    }

    // ---- Round trips. ----

    #[test]
    fn round_trips_every_mode_chunk_size_and_trailer() {
        let payload: Vec<u8> = (0..5000u32).map(|i| (i * 7 + i / 13) as u8).collect();
        for kind in KINDS {
            let trailers: Vec<Option<ChecksumAlgorithm>> = if kind == Kind::Signed {
                vec![None]
            } else {
                std::iter::once(None).chain(ChecksumAlgorithm::ALL.map(Some)).collect()
            };
            for trailer in trailers {
                for len in [0, 1, 100, 4999, 5000] {
                    for chunk_len in [1, 64, 1000, 8192] {
                        if chunk_len == 1 && len > 100 {
                            continue;
                        }
                        let payload = &payload[..len];
                        let body = encode(kind, payload, chunk_len, trailer);
                        let (out, trailers) = decode_in_pieces(mode(kind), len as u64, trailer, &body, 333)
                            .unwrap_or_else(|e| panic!("{kind:?} {trailer:?} {len} {chunk_len}: {e}"));
                        assert_eq!(out, payload);
                        let expected = trailer.map(|algorithm| TrailingChecksum {
                            algorithm,
                            value: checksum_base64(algorithm, payload),
                        });
                        assert_eq!(trailers.checksum, expected);
                    }
                }
            }
        }
    }

    #[test]
    fn every_split_point_of_small_bodies() {
        let payload = b"The quick brown fox jumps over the lazy dog";
        for kind in KINDS {
            let trailer = (kind != Kind::Signed).then_some(ChecksumAlgorithm::Crc64Nvme);
            let body = encode(kind, payload, 16, trailer);
            for first in 0..=body.len() {
                let (out, trailers) = decode_split(mode(kind), payload.len() as u64, trailer, &body, &[first])
                    .unwrap_or_else(|e| panic!("{kind:?} split at {first}: {e}"));
                assert_eq!(out, payload);
                assert_eq!(trailers.checksum.map(|c| c.algorithm), trailer);
            }
            // Every pair of split points up to 16 bytes apart, so that short tokens (a CRLF, a
            // chunk size, a header name) are also cut twice.
            let body = encode(kind, &payload[..9], 4, trailer);
            for first in 0..=body.len() {
                for second in first..=(first + 16).min(body.len()) {
                    let (out, _) = decode_split(mode(kind), 9, trailer, &body, &[first, second])
                        .unwrap_or_else(|e| panic!("{kind:?} split at {first}, {second}: {e}"));
                    assert_eq!(out, &payload[..9]);
                }
            }
        }
    }

    #[test]
    fn signed_chunks_are_released_only_once_verified() {
        let payload = vec![b'x'; 300];
        let body = encode(Kind::Signed, &payload, 100, None);
        let first_data_end = body.windows(2).position(|w| w == b"\r\n").unwrap() + 2 + 100;
        let mut decoder = AwsChunkedDecoder::new(mode(Kind::Signed), 300, None);
        let mut out = Vec::new();
        decoder.push(&body[..first_data_end - 1], &mut out).unwrap();
        assert!(out.is_empty(), "released before the chunk was complete");
        decoder.push(&body[first_data_end - 1..first_data_end], &mut out).unwrap();
        assert_eq!(out, &payload[..100]);
        assert_eq!(decoder.decoded_len(), 100);

        // A tampered chunk releases nothing of itself, but what came before stays valid.
        let mut tampered = body.clone();
        let second_data =
            first_data_end + 2 + body[first_data_end + 2..].windows(2).position(|w| w == b"\r\n").unwrap() + 2;
        tampered[second_data + 50] ^= 1;
        let mut decoder = AwsChunkedDecoder::new(mode(Kind::Signed), 300, None);
        let mut out = Vec::new();
        let err = decoder.push(&tampered, &mut out).unwrap_err();
        assert_eq!(err.code, S3ErrorCode::SignatureDoesNotMatch);
        assert_eq!(out, &payload[..100]);
    }

    #[test]
    fn unsigned_data_streams_through() {
        let body = encode(Kind::UnsignedTrailer, b"hello world", 100, Some(ChecksumAlgorithm::Crc32));
        let mut decoder = AwsChunkedDecoder::new(ChunkedMode::UnsignedTrailer, 11, Some(ChecksumAlgorithm::Crc32));
        let mut out = Vec::new();
        decoder.push(&body[..6], &mut out).unwrap();
        assert_eq!(out, b"hel");
        decoder.push(&body[6..], &mut out).unwrap();
        assert_eq!(out, b"hello world");
        let trailers = decoder.finish().unwrap();
        assert_eq!(trailers.checksum.unwrap().value, "DUoRhQ==");
    }

    // ---- Tampering. ----

    #[test]
    fn flipped_data_bytes_are_refused() {
        let payload: Vec<u8> = (0..1000u32).map(|i| i as u8).collect();
        for kind in KINDS {
            let trailer = (kind != Kind::Signed).then_some(ChecksumAlgorithm::Crc32);
            let body = encode(kind, &payload, 256, trailer);
            let data_at = body.windows(2).position(|w| w == b"\r\n").unwrap() + 2 + 17;
            let mut tampered = body.clone();
            tampered[data_at] ^= 0x20;
            let expected = match kind {
                Kind::UnsignedTrailer => S3ErrorCode::BadDigest,
                _ => S3ErrorCode::SignatureDoesNotMatch,
            };
            assert_eq!(code(decode(kind, 1000, trailer, &tampered)), expected, "{kind:?}");
        }
        // With no checksum, an unsigned body is what it is.
        let body = encode(Kind::UnsignedTrailer, &payload, 256, None);
        let mut tampered = body.clone();
        tampered[10] ^= 0x20;
        assert_ne!(decode(Kind::UnsignedTrailer, 1000, None, &tampered).unwrap(), payload);
    }

    #[test]
    fn flipped_signature_characters_are_refused() {
        let body = docs_signed_body();
        let signature_starts: Vec<usize> = body
            .windows(CHUNK_SIGNATURE_EXTENSION.len())
            .enumerate()
            .filter(|(_, w)| *w == CHUNK_SIGNATURE_EXTENSION)
            .map(|(i, _)| i + CHUNK_SIGNATURE_EXTENSION.len())
            .collect();
        assert_eq!(signature_starts.len(), 3);
        for start in signature_starts {
            for offset in [0, 31, 63] {
                let mut tampered = body.clone();
                tampered[start + offset] = if tampered[start + offset] == b'0' { b'1' } else { b'0' };
                assert_eq!(code(decode(Kind::Signed, 66_560, None, &tampered)), S3ErrorCode::SignatureDoesNotMatch);
            }
            // Not hex, or cut short.
            let mut tampered = body.clone();
            tampered[start] = b'g';
            assert_eq!(code(decode(Kind::Signed, 66_560, None, &tampered)), S3ErrorCode::SignatureDoesNotMatch);
        }
        let short =
            String::from_utf8(body.clone()).unwrap().replace(DOCS_CHUNK_SIGNATURES[1], &DOCS_CHUNK_SIGNATURES[1][..62]);
        assert_eq!(code(decode(Kind::Signed, 66_560, None, short.as_bytes())), S3ErrorCode::SignatureDoesNotMatch);
    }

    #[test]
    fn reordered_replayed_and_dropped_chunks_are_refused() {
        // Four distinct chunks of 10 bytes and the final one.
        let payload: Vec<u8> = (0..40u8).collect();
        let body = encode(Kind::Signed, &payload, 10, None);
        let mut starts: Vec<usize> = body
            .windows(CHUNK_SIGNATURE_EXTENSION.len())
            .enumerate()
            .filter(|(_, w)| *w == CHUNK_SIGNATURE_EXTENSION)
            .map(|(i, _)| i - 1)
            .collect();
        starts.push(body.len());
        let chunks: Vec<&[u8]> = starts.windows(2).map(|w| &body[w[0]..w[1]]).collect();
        assert_eq!(chunks.len(), 5);
        let join = |order: &[usize]| order.iter().flat_map(|&i| chunks[i].to_vec()).collect::<Vec<u8>>();

        assert_eq!(decode(Kind::Signed, 40, None, &join(&[0, 1, 2, 3, 4])).unwrap(), payload);
        // Swapped chunks, a replayed chunk, a dropped chunk: the chain breaks.
        assert_eq!(code(decode(Kind::Signed, 40, None, &join(&[1, 0, 2, 3, 4]))), S3ErrorCode::SignatureDoesNotMatch);
        assert_eq!(code(decode(Kind::Signed, 40, None, &join(&[0, 0, 2, 3, 4]))), S3ErrorCode::SignatureDoesNotMatch);
        assert_eq!(code(decode(Kind::Signed, 30, None, &join(&[0, 2, 3, 4]))), S3ErrorCode::SignatureDoesNotMatch);
        // The final chunk dropped: the body never ends.
        assert_eq!(code(decode(Kind::Signed, 40, None, &join(&[0, 1, 2, 3]))), S3ErrorCode::IncompleteBody);
        // Cut anywhere before the end.
        let whole = join(&[0, 1, 2, 3, 4]);
        for cut in 0..whole.len() {
            assert_eq!(
                code(decode(Kind::Signed, 40, None, &whole[..cut])),
                S3ErrorCode::IncompleteBody,
                "cut at {cut}"
            );
        }
    }

    #[test]
    fn wrong_trailing_checksums_are_bad_digests() {
        for kind in [Kind::UnsignedTrailer, Kind::SignedTrailer] {
            for algorithm in ChecksumAlgorithm::ALL {
                let wrong = checksum_base64(algorithm, b"something else");
                let body = encode_with(kind, b"hello world", 4, Some(algorithm), Some(&wrong));
                let err = decode(kind, 11, Some(algorithm), &body).unwrap_err();
                assert_eq!(err.code, S3ErrorCode::BadDigest, "{kind:?} {algorithm}");
                assert_eq!(
                    err.message,
                    format!("The {algorithm} you specified did not match the calculated checksum.")
                );
                // Not base64 of a digest of this algorithm.
                let body = encode_with(kind, b"hello world", 4, Some(algorithm), Some("AAAA"));
                let err = decode(kind, 11, Some(algorithm), &body).unwrap_err();
                assert_eq!(err.code, S3ErrorCode::InvalidRequest);
                assert_eq!(err.message, format!("Value for {} trailing header is invalid.", algorithm.header_name()));
            }
        }
    }

    // ---- Lengths, framing and trailers, as S3 answers them. ----

    #[test]
    fn decoded_length_must_match() {
        for kind in KINDS {
            let body = encode(kind, b"hello world", 4, None);
            assert_eq!(decode(kind, 11, None, &body).unwrap(), b"hello world");
            // Declared longer: the final chunk comes too early.
            assert_eq!(code(decode(kind, 12, None, &body)), S3ErrorCode::IncompleteBody, "{kind:?}");
            // Declared shorter: refused at the chunk that goes past it.
            let err = decode(kind, 10, None, &body).unwrap_err();
            assert_eq!(err.code, S3ErrorCode::IncompleteBody);
            assert!(err.message.contains("more data than x-amz-decoded-content-length"));
            assert_eq!(code(decode(kind, 0, None, &body)), S3ErrorCode::IncompleteBody);
        }
        assert_eq!(decode(Kind::UnsignedTrailer, 0, None, b"0\r\n\r\n").unwrap(), b"");
    }

    #[test]
    fn malformed_framing_is_incomplete_body() {
        // The bodies S3 answers IncompleteBody for (declared length 10, trailer announced).
        for body in [
            "A\ndummy data\r\n0\r\n\r\n",
            "A\r\ndummy data0\r\n\r\n",
            "A\r\nXYZ\r\ndummy data\r\n0\r\n\r\n",
            "B\r\ndummy data\r\n0\r\n\r\n",
            "A\r\ndummy data\r\n0\r\n",
            "A\r\ndummy data\r\n0\r\nx-amz-checksum-crc64nvme:dPVWc2vU1+Q=\r\n",
            "A\r\n",
            "A\r\nA\r\ndummy data\r\n0\r\n\r\n",
            "invalid_chunk_size\r\ndummy data\r\n0\r\nx-amz-checksum-crc64nvme:dPVWc2vU1+Q=\r\n\r\n",
            "A\r\ndummy data\r\nJ\r\nx-amz-checksum-crc64nvme:dPVWc2vU1+Q=\r\n\r\n",
            "",
            "\r\n",
            format!("A;chunk-signature={}\r\ndummy data\r\n0\r\n\r\n", "0".repeat(64)).as_str(),
            "A\r\ndummy data\r\n0\r\nx-amz-checksum-crc64nvme:dPVWc2vU1+Q=\r\n\r\nextra",
            "0A\r\ndummy data\n\r0\r\n\r\n",
            "-A\r\ndummy data\r\n0\r\n\r\n",
            " A\r\ndummy data\r\n0\r\n\r\n",
            "00000000000000000A\r\ndummy data\r\n0\r\n\r\n",
            "FFFFFFFFFFFFFFFF\r\ndummy data\r\n0\r\n\r\n",
        ] {
            let result = decode(Kind::UnsignedTrailer, 10, Some(ChecksumAlgorithm::Crc64Nvme), body.as_bytes());
            assert_eq!(code(result), S3ErrorCode::IncompleteBody, "{body:?}");
        }
        let good = "A\r\ndummy data\r\n0\r\nx-amz-checksum-crc64nvme:dPVWc2vU1+Q=\r\n\r\n";
        assert_eq!(
            decode(Kind::UnsignedTrailer, 10, Some(ChecksumAlgorithm::Crc64Nvme), good.as_bytes()).unwrap(),
            b"dummy data"
        );
        // Leading zeros and either case of hex are fine.
        assert_eq!(decode(Kind::UnsignedTrailer, 10, None, b"000a\r\ndummy data\r\n0\r\n\r\n").unwrap(), b"dummy data");

        // Signed: a chunk without signature, a trailer in the mode that has none, a missing CRLF.
        let signed = String::from_utf8(docs_signed_body()).unwrap();
        for body in [
            signed.replacen(&format!(";chunk-signature={}", DOCS_CHUNK_SIGNATURES[0]), "", 1),
            signed.replace(
                &format!("{}\r\n\r\n", DOCS_CHUNK_SIGNATURES[2]),
                &format!("{}\r\nx-a:b\r\n\r\n", DOCS_CHUNK_SIGNATURES[2]),
            ),
            signed.replace("\r\n400;", "400;"),
            format!("{signed}\r\n"),
        ] {
            assert_eq!(code(decode(Kind::Signed, 66_560, None, body.as_bytes())), S3ErrorCode::IncompleteBody);
        }
    }

    #[test]
    fn malformed_trailers_are_refused_as_s3_does() {
        let crc64 = Some(ChecksumAlgorithm::Crc64Nvme);
        let cases: [(&str, Option<ChecksumAlgorithm>); 7] = [
            // Announced but missing.
            ("5\r\nhello\r\n0\r\n\r\n", crc64),
            // Empty name.
            ("5\r\nhello\r\n0\r\n:M3eFcAZSQlc=\r\n\r\n", crc64),
            // Sent but not announced.
            ("5\r\nhello\r\n0\r\nx-amz-checksum-crc64nvme:M3eFcAZSQlc=\r\n\r\n", None),
            // Another name than announced.
            ("5\r\nhello\r\n0\r\ninvalid_trailer:M3eFcAZSQlc=\r\n\r\n", crc64),
            ("5\r\nhello\r\n0\r\nx-amz-checksum-crc32:NhCmhg==\r\n\r\n", crc64),
            // Twice.
            (
                "5\r\nhello\r\n0\r\nx-amz-checksum-crc64nvme:M3eFcAZSQlc=\r\n\
                 x-amz-checksum-crc64nvme:M3eFcAZSQlc=\r\n\r\n",
                crc64,
            ),
            // A signature in an unsigned body.
            ("5\r\nhello\r\n0\r\nx-amz-checksum-crc64nvme:M3eFcAZSQlc=\r\nx-amz-trailer-signature:00\r\n\r\n", crc64),
        ];
        for (body, trailer) in cases {
            let err = decode(Kind::UnsignedTrailer, 5, trailer, body.as_bytes()).unwrap_err();
            assert_eq!(err.code, S3ErrorCode::InvalidRequest, "{body:?}");
            assert_eq!(err.message, MALFORMED_TRAILER);
        }
        let good = "5\r\nhello\r\n0\r\nx-amz-checksum-crc64nvme: M3eFcAZSQlc=\r\n\r\n";
        assert_eq!(decode(Kind::UnsignedTrailer, 5, crc64, good.as_bytes()).unwrap(), b"hello");
        let bad = "5\r\nhello\r\n0\r\nx-amz-checksum-crc64nvme:QFRKMGE3tuw=\r\n\r\n";
        assert_eq!(code(decode(Kind::UnsignedTrailer, 5, crc64, bad.as_bytes())), S3ErrorCode::BadDigest);
        let invalid = "5\r\nhello\r\n0\r\nx-amz-checksum-crc64nvme:invalid_checksum\r\n\r\n";
        assert_eq!(code(decode(Kind::UnsignedTrailer, 5, crc64, invalid.as_bytes())), S3ErrorCode::InvalidRequest);

        // Signed trailer: lines after the signature; an announced trailer in the mode without any.
        let body = String::from_utf8(encode(Kind::SignedTrailer, b"hello", 5, crc64)).unwrap();
        let after = body.replacen("\r\n\r\n", "\r\nx-amz-checksum-crc64nvme:M3eFcAZSQlc=\r\n\r\n", 1);
        assert_eq!(code(decode(Kind::SignedTrailer, 5, crc64, after.as_bytes())), S3ErrorCode::InvalidRequest);
        let body = encode(Kind::Signed, b"hello", 5, None);
        assert_eq!(code(decode(Kind::Signed, 5, crc64, &body)), S3ErrorCode::InvalidRequest);
        // A signed trailer body with no trailer at all needs no trailer signature.
        let mut plain = encode(Kind::Signed, b"hello", 5, None);
        assert_eq!(decode(Kind::SignedTrailer, 5, None, &plain).unwrap(), b"hello");
        // ... but one whose trailer signature is wrong is refused.
        plain.truncate(plain.len() - 2);
        plain.extend_from_slice(format!("x-amz-trailer-signature:{}\r\n\r\n", "0".repeat(64)).as_bytes());
        assert_eq!(code(decode(Kind::SignedTrailer, 5, None, &plain)), S3ErrorCode::SignatureDoesNotMatch);
    }

    #[test]
    fn limits_are_enforced() {
        // A signed chunk larger than the limit is refused before any of it is buffered.
        let header = format!("{:x};chunk-signature={}\r\n", MAX_SIGNED_CHUNK_LEN + 1, "0".repeat(64));
        let err = decode(Kind::Signed, 1 << 30, None, header.as_bytes()).unwrap_err();
        assert_eq!(err.code, S3ErrorCode::EntityTooLarge);
        // Unsigned chunks stream, so only the declared length bounds them.
        let header = format!("{:x}\r\n", MAX_SIGNED_CHUNK_LEN + 1);
        let mut decoder = AwsChunkedDecoder::new(ChunkedMode::UnsignedTrailer, MAX_SIGNED_CHUNK_LEN + 1, None);
        decoder.push(header.as_bytes(), &mut Vec::new()).unwrap();
        // An endless header line is refused once it passes the line limit.
        let mut decoder = AwsChunkedDecoder::new(ChunkedMode::UnsignedTrailer, 10, None);
        let mut out = Vec::new();
        let long = vec![b'0'; 100];
        let mut result = Ok(());
        for _ in 0..10 {
            result = result.and_then(|_| decoder.push(&long, &mut out));
        }
        assert_eq!(code(result), S3ErrorCode::IncompleteBody);
        // Likewise an endless trailer line.
        let mut decoder = AwsChunkedDecoder::new(ChunkedMode::UnsignedTrailer, 0, Some(ChecksumAlgorithm::Crc32));
        decoder.push(b"0\r\nx-amz-checksum-crc32:", &mut out).unwrap();
        assert_eq!(code(decoder.push(&[b'A'; 300], &mut out)), S3ErrorCode::InvalidRequest);
    }

    #[test]
    fn errors_are_final() {
        let mut decoder = AwsChunkedDecoder::new(ChunkedMode::UnsignedTrailer, 5, None);
        let mut out = Vec::new();
        let err = decoder.push(b"zz\r\n", &mut out).unwrap_err();
        assert_eq!(decoder.push(b"5\r\nhello\r\n0\r\n\r\n", &mut out).unwrap_err(), err);
        assert_eq!(decoder.finish().unwrap_err(), err);
        assert!(out.is_empty());
    }

    // ---- Never panic, never accept a changed body. ----

    #[test]
    fn random_garbage_in_random_pieces_never_panics() {
        let mut rng = Rng(0x9E37_79B9_7F4A_7C15);
        let alphabet = b"0123456789abcdefABCDEF;:=-\r\n chunk-signature=x-amz-trailer-signature:checksum";
        for round in 0..3000 {
            let len = rng.below(300);
            let garbage: Vec<u8> = (0..len)
                .map(|_| if rng.below(2) == 0 { alphabet[rng.below(alphabet.len())] } else { rng.next() as u8 })
                .collect();
            let count = rng.below(6);
            let splits = rng.splits(len, count);
            let kind = KINDS[round % 3];
            let trailer = [None, Some(ChecksumAlgorithm::Crc32)][rng.below(2)];
            let declared = [0, 1, 10, 1 << 40, u64::MAX][rng.below(5)];
            let _ = decode_split(mode(kind), declared, trailer, &garbage, &splits);
        }
    }

    #[test]
    fn mutated_bodies_are_refused_or_decode_to_the_same_payload() {
        let mut rng = Rng(42);
        let payload: Vec<u8> = (0..200u32).map(|i| (i * 37) as u8).collect();
        for kind in KINDS {
            let trailer = (kind != Kind::Signed).then_some(ChecksumAlgorithm::Crc32c);
            let body = encode(kind, &payload, 64, trailer);
            for _ in 0..1500 {
                let mut mutated = body.clone();
                match rng.below(3) {
                    0 => {
                        let at = rng.below(mutated.len());
                        mutated[at] ^= 1 << rng.below(8);
                    }
                    1 => {
                        let at = rng.below(mutated.len());
                        mutated.remove(at);
                    }
                    _ => {
                        let at = rng.below(mutated.len() + 1);
                        mutated.insert(at, rng.next() as u8);
                    }
                }
                let splits = rng.splits(mutated.len(), 3);
                if let Ok((out, _)) = decode_split(mode(kind), 200, trailer, &mutated, &splits) {
                    assert_eq!(out, payload, "{kind:?} accepted a changed payload");
                }
            }
        }
    }

    // ---- Wiring. ----

    fn head(headers: &[(&str, &str)]) -> RequestHead {
        RequestHead {
            method: "PUT".into(),
            headers: headers.iter().map(|(n, v)| (n.to_ascii_lowercase(), v.to_string())).collect(),
            ..RequestHead::default()
        }
    }

    #[test]
    fn for_request_reads_the_declared_length_and_trailer() {
        let head_with = |length: Option<&str>| {
            let mut headers = vec![("x-amz-trailer", "x-amz-checksum-crc32")];
            if let Some(length) = length {
                headers.push(("x-amz-decoded-content-length", length));
            }
            head(&headers)
        };
        let decoder = AwsChunkedDecoder::for_request(&head_with(Some("11")), &PayloadHash::StreamingUnsignedTrailer)
            .unwrap()
            .unwrap();
        let body = encode(Kind::UnsignedTrailer, b"hello world", 5, Some(ChecksumAlgorithm::Crc32));
        let mut decoder = decoder;
        let mut out = Vec::new();
        decoder.push(&body, &mut out).unwrap();
        assert_eq!(decoder.finish().unwrap().checksum.unwrap().algorithm, ChecksumAlgorithm::Crc32);
        assert!(format!("{:?}", AwsChunkedDecoder::new(mode(Kind::Signed), 1, None)).contains("signed: true"));

        for length in [None, Some(""), Some("abc"), Some("12x"), Some("-1"), Some("99999999999999999999999")] {
            let err =
                AwsChunkedDecoder::for_request(&head_with(length), &PayloadHash::StreamingUnsignedTrailer).unwrap_err();
            assert_eq!(err.code, S3ErrorCode::MissingContentLength, "{length:?}");
        }
        assert!(AwsChunkedDecoder::for_request(&head_with(None), &PayloadHash::Unsigned).unwrap().is_none());
        let signed = PayloadHash::StreamingSigned(context(DOCS_SEED));
        assert!(matches!(ChunkedMode::from_payload_hash(&signed), Some(ChunkedMode::Signed(_))));
        // The signed framing without trailers cannot carry the announced one.
        let err = AwsChunkedDecoder::for_request(&head_with(Some("11")), &signed).unwrap_err();
        assert_eq!((err.code, err.message.as_str()), (S3ErrorCode::InvalidRequest, MALFORMED_TRAILER));
        let signed_trailer = PayloadHash::StreamingSignedTrailer(context(DOCS_SEED));
        assert!(AwsChunkedDecoder::for_request(&head_with(Some("11")), &signed_trailer).unwrap().is_some());
        assert!(ChunkedMode::from_payload_hash(&PayloadHash::Sha256([0; 32])).is_none());
        assert_eq!(decoded_content_length(&head(&[("x-amz-decoded-content-length", " 66560 ")])).unwrap(), 66_560);
    }

    #[test]
    fn chunk_sizes_parse_as_hex() {
        assert_eq!(parse_chunk_size(b"10000"), Some(65_536));
        assert_eq!(parse_chunk_size(b"400"), Some(1024));
        assert_eq!(parse_chunk_size(b"aBc"), Some(0xabc));
        assert_eq!(parse_chunk_size(b"ffffffffffffffff"), Some(u64::MAX));
        for bad in [&b""[..], b"g", b"1 ", b"+1", b"0x10", b"10000000000000000"] {
            assert_eq!(parse_chunk_size(bad), None, "{bad:?}");
        }
    }
}
