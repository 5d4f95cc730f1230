//! AWS Signature Version 4 as S3 uses it: the `Authorization` header and presigned query forms,
//! the pure canonicalization both share (also used by the outbound signer in
//! `storage::signer`), and their verification.
//!
//! S3 specifics: the path is not normalized (no `.`/`..`/`//` folding), only re-encoded; the
//! `x-amz-content-sha256` header is required with header authentication and names how the body is
//! covered ([`PayloadHash`]). Chunk signatures of aws-chunked bodies are checked elsewhere; here
//! they are only recognised and given the context they chain from.

use std::cell::RefCell;
use std::collections::HashMap;

use hmac::{Hmac, KeyInit, Mac};
use sha2::{Digest, Sha256};

use crate::auth::amz_date::{
    check_clock_skew, format_amz_date, format_yyyymmdd, parse_amz_date, parse_http_date, MAX_CLOCK_SKEW_SECS,
};
use crate::auth::secret::{wipe, SecretKey, Signature, SigningKey};
use crate::http::{from_hex, hex, percent_decode, percent_decode_bytes, uri_encode_bytes, RequestHead};
use crate::s3::error::S3Result;
use crate::s3_error;

/// The only algorithm portico verifies.
pub const ALGORITHM: &str = "AWS4-HMAC-SHA256";
/// SigV4a (asymmetric, multi-region): recognised so it can be refused as not implemented.
const SIGV4A_ALGORITHM: &str = "AWS4-ECDSA-P256-SHA256";
/// The last element of every credential scope.
const SCOPE_TERMINATOR: &str = "aws4_request";
/// The service name S3 clients sign for.
pub const S3_SERVICE: &str = "s3";

pub const UNSIGNED_PAYLOAD: &str = "UNSIGNED-PAYLOAD";
pub const STREAMING_SIGNED_PAYLOAD: &str = "STREAMING-AWS4-HMAC-SHA256-PAYLOAD";
pub const STREAMING_SIGNED_PAYLOAD_TRAILER: &str = "STREAMING-AWS4-HMAC-SHA256-PAYLOAD-TRAILER";
pub const STREAMING_UNSIGNED_PAYLOAD_TRAILER: &str = "STREAMING-UNSIGNED-PAYLOAD-TRAILER";
const STREAMING_ECDSA_PAYLOAD: &str = "STREAMING-AWS4-ECDSA-P256-SHA256-PAYLOAD";
const STREAMING_ECDSA_PAYLOAD_TRAILER: &str = "STREAMING-AWS4-ECDSA-P256-SHA256-PAYLOAD-TRAILER";
/// SHA-256 of the empty body.
pub const EMPTY_PAYLOAD_SHA256: &str = "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855";

/// The query parameter that carries a presigned URL's signature, left out of its own canonical
/// request.
pub const PRESIGNED_SIGNATURE_PARAM: &str = "X-Amz-Signature";
/// Longest validity of a presigned URL: one week, in seconds.
pub const MAX_PRESIGNED_EXPIRES_SECS: i64 = 604_800;

/// x-amz-* headers that need not be signed: the payload hash and the date are bound by the
/// canonical request and the string to sign anyway, and CloudFront adds x-amz-cf-id to requests it
/// forwards to an origin.
const X_AMZ_HEADERS_EXEMPT_FROM_SIGNING: &[&str] = &["x-amz-content-sha256", "x-amz-date", "x-amz-cf-id"];

const MALFORMED_CREDENTIAL: &str =
    "the Credential is mal-formed; expecting \"<YOUR-AKID>/YYYYMMDD/REGION/SERVICE/aws4_request\".";
const MALFORMED_HEADER: &str = "The authorization header is malformed;";
const MALFORMED_CREDENTIAL_PARAM: &str = "Error parsing the X-Amz-Credential parameter;";
const PRESIGNED_PARAMS_REQUIRED: &str = "Query-string authentication version 4 requires the X-Amz-Algorithm, \
     X-Amz-Credential, X-Amz-Signature, X-Amz-Date, X-Amz-SignedHeaders, and X-Amz-Expires parameters.";

/// The parsed `Authorization: AWS4-HMAC-SHA256 Credential=..., SignedHeaders=..., Signature=...`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AuthorizationV4 {
    pub access_key_id: String,
    /// Credential scope date, `yyyymmdd`.
    pub date: String,
    pub region: String,
    pub service: String,
    /// Lower-case header names, in the order the client listed (and signed) them.
    pub signed_headers: Vec<String>,
    /// Hex signature as sent.
    pub signature: String,
}

impl AuthorizationV4 {
    pub fn scope(&self) -> String {
        credential_scope(&self.date, &self.region, &self.service)
    }
}

/// The parsed authentication parameters of a presigned URL.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PresignedV4 {
    pub access_key_id: String,
    /// Credential scope date, `yyyymmdd`.
    pub date: String,
    pub region: String,
    pub service: String,
    /// `X-Amz-Date` as sent, `yyyymmddThhmmssZ`.
    pub amz_date: String,
    /// `X-Amz-Date` in unix seconds.
    pub request_time: i64,
    /// `X-Amz-Expires`, 1..=604800 seconds.
    pub expires_secs: i64,
    pub signed_headers: Vec<String>,
    /// Hex signature as sent.
    pub signature: String,
}

impl PresignedV4 {
    pub fn scope(&self) -> String {
        credential_scope(&self.date, &self.region, &self.service)
    }
}

/// What an aws-chunked body's chunk signatures chain from: the request's own (seed) signature,
/// and the key, scope and time it was made with.
#[derive(Debug, Clone)]
pub struct ChunkSigningContext {
    pub seed_signature: Signature,
    pub signing_key: SigningKey,
    pub scope: String,
    pub amz_date: String,
}

/// How the body is covered by the signature, from `x-amz-content-sha256`.
#[derive(Debug, Clone)]
pub enum PayloadHash {
    /// `UNSIGNED-PAYLOAD`: the body is not covered.
    Unsigned,
    /// The body's SHA-256 as signed: the body must hash to it before anything is committed.
    Sha256([u8; 32]),
    /// `STREAMING-AWS4-HMAC-SHA256-PAYLOAD`: aws-chunked body with a signature per chunk.
    StreamingSigned(ChunkSigningContext),
    /// `STREAMING-UNSIGNED-PAYLOAD-TRAILER`: aws-chunked body, unsigned chunks, checksum trailer.
    StreamingUnsignedTrailer,
    /// `STREAMING-AWS4-HMAC-SHA256-PAYLOAD-TRAILER`: signed chunks and a signed trailer.
    StreamingSignedTrailer(ChunkSigningContext),
}

/// A request whose signature verified: who signed it and how its body is covered.
#[derive(Debug, Clone)]
pub struct VerifiedV4 {
    pub access_key_id: String,
    pub payload: PayloadHash,
}

/// `access_key_id/yyyymmdd/region/service/aws4_request`, split.
struct Credential {
    access_key_id: String,
    date: String,
    region: String,
    service: String,
}

/// Parse a credential; the error is the reason, to be prefixed by the caller's context.
fn parse_credential(value: &str) -> Result<Credential, String> {
    let parts: Vec<&str> = value.split('/').collect();
    let [access_key_id, date, region, service, terminator] = parts[..] else {
        return Err(MALFORMED_CREDENTIAL.to_string());
    };
    if [access_key_id, date, region, service].iter().any(|part| part.is_empty()) {
        return Err(MALFORMED_CREDENTIAL.to_string());
    }
    if terminator != SCOPE_TERMINATOR {
        return Err(format!("incorrect terminal \"{terminator}\". This endpoint uses \"{SCOPE_TERMINATOR}\"."));
    }
    if date.len() != 8 || !date.bytes().all(|b| b.is_ascii_digit()) {
        return Err(format!(
            "incorrect date format \"{date}\". This date in the credential must be in the format \"yyyyMMdd\"."
        ));
    }
    Ok(Credential {
        access_key_id: access_key_id.to_string(),
        date: date.to_string(),
        region: region.to_string(),
        service: service.to_string(),
    })
}

/// `a;b;c` into names; `None` if any name is empty.
fn parse_signed_headers(value: &str) -> Option<Vec<String>> {
    let names: Vec<String> = value.split(';').map(str::to_string).collect();
    (!names.iter().any(String::is_empty)).then_some(names)
}

/// Parse an `Authorization` header value of the AWS4-HMAC-SHA256 scheme. Components may come in any
/// order, with or without spaces after the commas.
pub fn parse_authorization_header(value: &str) -> S3Result<AuthorizationV4> {
    let value = value.trim();
    let (algorithm, components) = value.split_once(' ').unwrap_or((value, ""));
    match algorithm {
        ALGORITHM => {}
        SIGV4A_ALGORITHM => return Err(s3_error!(NotImplemented, "Signature Version 4A is not supported.")),
        _ => return Err(s3_error!(InvalidArgument, "Unsupported Authorization Type")),
    }
    let malformed = |reason: &str| s3_error!(AuthorizationHeaderMalformed, "{MALFORMED_HEADER} {reason}");
    let three_components =
        "the authorization header requires three components: Credential, SignedHeaders, and Signature.";

    let (mut credential, mut signed_headers, mut signature) = (None, None, None);
    for component in components.split(',') {
        let (name, component_value) = component.trim().split_once('=').ok_or_else(|| malformed(three_components))?;
        let slot = match name.trim() {
            "Credential" => &mut credential,
            "SignedHeaders" => &mut signed_headers,
            "Signature" => &mut signature,
            _ => return Err(malformed(three_components)),
        };
        if slot.replace(component_value.trim()).is_some() {
            return Err(malformed(three_components));
        }
    }
    let (Some(credential), Some(signed_headers), Some(signature)) = (credential, signed_headers, signature) else {
        return Err(malformed(three_components));
    };
    let credential = parse_credential(credential).map_err(|reason| malformed(&reason))?;
    let signed_headers =
        parse_signed_headers(signed_headers).ok_or_else(|| malformed("the SignedHeaders component is empty."))?;
    if signature.is_empty() {
        return Err(malformed(three_components));
    }
    Ok(AuthorizationV4 {
        access_key_id: credential.access_key_id,
        date: credential.date,
        region: credential.region,
        service: credential.service,
        signed_headers,
        signature: signature.to_string(),
    })
}

/// The `Authorization` header value for a signature (what a signer sends).
pub fn authorization_header_value(
    access_key_id: &str,
    scope: &str,
    signed_headers: &[String],
    signature: &Signature,
) -> String {
    format!(
        "{ALGORITHM} Credential={access_key_id}/{scope}, SignedHeaders={}, Signature={}",
        signed_headers.join(";"),
        signature.to_hex()
    )
}

/// `yyyymmdd/region/service/aws4_request`.
pub fn credential_scope(yyyymmdd: &str, region: &str, service: &str) -> String {
    format!("{yyyymmdd}/{region}/{service}/{SCOPE_TERMINATOR}")
}

/// The canonical URI: the path as received, without normalization (S3 signs `/a/../b` and `//`
/// as they are), each segment decoded and re-encoded so `$` and `%24` canonicalize alike. An encoded
/// `%2F` stays inside its segment.
fn canonical_uri(raw_path: &str) -> String {
    if raw_path.is_empty() {
        return "/".to_string();
    }
    raw_path
        .split('/')
        .map(|segment| uri_encode_bytes(&percent_decode_bytes(segment), false))
        .collect::<Vec<_>>()
        .join("/")
}

/// The canonical query string: parameters decoded, re-encoded, sorted by key then value; a
/// parameter without `=` gets an empty value.
fn canonical_query(raw_query: &str, exclude_param: Option<&str>) -> String {
    // Decoded to bytes, not text, so escapes of non-UTF-8 bytes re-encode to themselves.
    let mut params: Vec<(String, String)> = raw_query
        .split('&')
        .filter(|part| !part.is_empty())
        .map(|part| part.split_once('=').unwrap_or((part, "")))
        .filter(|(key, _)| exclude_param.is_none_or(|excluded| percent_decode(key) != excluded))
        .map(|(key, value)| {
            (uri_encode_bytes(&percent_decode_bytes(key), false), uri_encode_bytes(&percent_decode_bytes(value), false))
        })
        .collect();
    params.sort();
    params.iter().map(|(key, value)| format!("{key}={value}")).collect::<Vec<_>>().join("&")
}

/// Append a header value trimmed, with inner runs of whitespace collapsed to one space (as the AWS
/// SDKs and S3 do; obsolete line folding ends up as a single space too).
fn push_canonical_header_value(out: &mut String, value: &str) {
    for (i, word) in value.split_ascii_whitespace().enumerate() {
        if i > 0 {
            out.push(' ');
        }
        out.push_str(word);
    }
}

/// The canonical request. `signed_headers` are used in the order given (clients send them
/// sorted); every value of a signed header is included, joined with ','. A signed `host` missing
/// from `head.headers` is taken from `head.host`. `exclude_query_param` leaves out a presigned
/// URL's own signature.
pub fn canonical_request(
    head: &RequestHead,
    signed_headers: &[String],
    payload_hash: &str,
    exclude_query_param: Option<&str>,
) -> String {
    let mut out = String::with_capacity(256);
    out.push_str(&head.method);
    out.push('\n');
    out.push_str(&canonical_uri(&head.raw_path));
    out.push('\n');
    out.push_str(&canonical_query(&head.raw_query, exclude_query_param));
    out.push('\n');
    for name in signed_headers {
        out.push_str(name);
        out.push(':');
        let mut values = head.headers.iter().filter(|(n, _)| n.eq_ignore_ascii_case(name)).map(|(_, v)| v.as_str());
        match values.next() {
            Some(first) => {
                push_canonical_header_value(&mut out, first);
                for value in values {
                    out.push(',');
                    push_canonical_header_value(&mut out, value);
                }
            }
            None if name.eq_ignore_ascii_case("host") => push_canonical_header_value(&mut out, &head.host),
            None => {}
        }
        out.push('\n');
    }
    out.push('\n');
    out.push_str(&signed_headers.join(";"));
    out.push('\n');
    out.push_str(payload_hash);
    out
}

/// The string to sign: algorithm, `yyyymmddThhmmssZ`, scope, and the canonical request's hash.
pub fn string_to_sign(amz_date: &str, scope: &str, canonical_request: &str) -> String {
    format!("{ALGORITHM}\n{amz_date}\n{scope}\n{}", hex(&Sha256::digest(canonical_request.as_bytes())))
}

fn hmac_sha256(key: &[u8], data: &[u8]) -> [u8; 32] {
    let mut mac = <Hmac<Sha256> as KeyInit>::new_from_slice(key).expect("HMAC accepts keys of any length");
    mac.update(data);
    mac.finalize().into_bytes().into()
}

/// How many derived signing keys an isolate keeps. Every signed request needs one for its caller
/// and one for the node it reaches; deriving one costs four HMACs (about 16 SHA-256 blocks in
/// wasm), looking one up a single hash of its inputs.
const SIGNING_KEY_MEMO_ENTRIES: usize = 512;

thread_local! {
    /// Derived keys by a digest of (secret, date, region, service). A key is only reachable by
    /// whoever holds its secret, so the memo changes nothing about revocation: a revoked
    /// credential's secret is never handed to the verifier. Emptied when full (keys are wiped on
    /// drop); a day's keys go stale on their own, as the date is part of the digest.
    static SIGNING_KEYS: RefCell<HashMap<[u8; 32], SigningKey>> = RefCell::new(HashMap::new());
}

/// The signing key: HMAC chain of `"AWS4" + secret` over date, region, service, "aws4_request".
/// Derived once per isolate and day for each secret, region and service.
pub fn signing_key(secret: &SecretKey, yyyymmdd: &str, region: &str, service: &str) -> SigningKey {
    let inputs = signing_key_inputs_digest(secret, yyyymmdd, region, service);
    if let Some(key) = SIGNING_KEYS.with(|memo| memo.borrow().get(&inputs).cloned()) {
        return key;
    }
    let key = derive_signing_key(secret, yyyymmdd, region, service);
    SIGNING_KEYS.with(|memo| {
        let mut memo = memo.borrow_mut();
        if memo.len() >= SIGNING_KEY_MEMO_ENTRIES {
            memo.clear();
        }
        memo.insert(inputs, key.clone());
    });
    key
}

/// A one-way, unambiguous (length-prefixed) digest of a signing key's inputs: the memo's index,
/// which reveals nothing about the secret.
fn signing_key_inputs_digest(secret: &SecretKey, yyyymmdd: &str, region: &str, service: &str) -> [u8; 32] {
    let mut digest = Sha256::new();
    for field in [secret.expose_secret(), yyyymmdd, region, service] {
        digest.update((field.len() as u64).to_be_bytes());
        digest.update(field.as_bytes());
    }
    digest.finalize().into()
}

fn derive_signing_key(secret: &SecretKey, yyyymmdd: &str, region: &str, service: &str) -> SigningKey {
    let mut initial_key = [b"AWS4".as_slice(), secret.expose_secret().as_bytes()].concat();
    let mut date_key = hmac_sha256(&initial_key, yyyymmdd.as_bytes());
    wipe(&mut initial_key);
    let mut region_key = hmac_sha256(&date_key, region.as_bytes());
    let mut service_key = hmac_sha256(&region_key, service.as_bytes());
    let key = SigningKey::from_bytes(hmac_sha256(&service_key, SCOPE_TERMINATOR.as_bytes()));
    for intermediate in [&mut date_key, &mut region_key, &mut service_key] {
        wipe(intermediate);
    }
    key
}

/// The signature of a string to sign.
pub fn compute_signature(key: &SigningKey, string_to_sign: &str) -> Signature {
    Signature::from_bytes(hmac_sha256(key.as_bytes(), string_to_sign.as_bytes()))
}

/// The signature of a string to sign, as lower-case hex.
pub fn signature_hex(key: &SigningKey, string_to_sign: &str) -> String {
    compute_signature(key, string_to_sign).to_hex()
}

/// SignatureDoesNotMatch unless `provided` (hex as sent) equals `expected`, compared in constant
/// time.
/// Accept-Encoding values clients send, tried when a signed Accept-Encoding does not verify as
/// received: Cloudflare's front end (and Miniflare) replace the client's value before the worker
/// sees it, and some clients (the Go SDK in rclone: `gzip`) sign it.
const CLIENT_ACCEPT_ENCODINGS: &[&str] =
    &["gzip", "identity", "gzip, deflate", "gzip, deflate, br", "gzip, deflate, br, zstd", "br, gzip", "gzip, br", "*"];

/// The signature `compute` gives for the request that verifies against `provided`: the request as
/// received, or, when Accept-Encoding is signed, with one of the values clients send in its place.
fn matching_signature(
    head: &RequestHead,
    signed_headers: &[String],
    provided: &str,
    compute: impl Fn(&RequestHead) -> Signature,
) -> S3Result<Signature> {
    let expected = compute(head);
    if check_signature(provided, &expected).is_ok() {
        return Ok(expected);
    }
    if signed_headers.iter().any(|name| name == "accept-encoding") {
        for value in CLIENT_ACCEPT_ENCODINGS {
            let mut original = head.clone();
            original.headers.retain(|(name, _)| name != "accept-encoding");
            original.headers.push(("accept-encoding".to_string(), value.to_string()));
            let expected = compute(&original);
            if check_signature(provided, &expected).is_ok() {
                return Ok(expected);
            }
        }
    }
    Err(s3_error!(SignatureDoesNotMatch))
}

fn check_signature(provided: &str, expected: &Signature) -> S3Result<()> {
    match Signature::from_hex(provided) {
        Some(provided) if provided.matches(expected) => Ok(()),
        _ => Err(s3_error!(SignatureDoesNotMatch)),
    }
}

/// Host must be signed, and so must every x-amz-* header present (except those in
/// [`X_AMZ_HEADERS_EXEMPT_FROM_SIGNING`]): otherwise whoever holds a presigned URL could, for
/// instance, add `x-amz-copy-source` and turn a PUT into a copy. S3 answers AccessDenied.
fn check_required_headers_signed(head: &RequestHead, signed_headers: &[String]) -> S3Result<()> {
    let is_signed = |name: &str| signed_headers.iter().any(|signed| signed.eq_ignore_ascii_case(name));
    let mut unsigned: Vec<&str> = Vec::new();
    if !is_signed("host") {
        unsigned.push("host");
    }
    for (name, _) in &head.headers {
        let must_be_signed = name.len() > 6
            && name.as_bytes()[..6].eq_ignore_ascii_case(b"x-amz-")
            && !X_AMZ_HEADERS_EXEMPT_FROM_SIGNING.iter().any(|exempt| name.eq_ignore_ascii_case(exempt));
        if must_be_signed && !is_signed(name) && !unsigned.iter().any(|n| n.eq_ignore_ascii_case(name)) {
            unsigned.push(name);
        }
    }
    if unsigned.is_empty() {
        return Ok(());
    }
    Err(s3_error!(
        AccessDenied,
        "There were headers present in the request which were not signed: {}",
        unsigned.join(", ")
    ))
}

/// How the body is covered, as named by `x-amz-content-sha256`, before the signature is known.
enum PayloadMode {
    Unsigned,
    Sha256([u8; 32]),
    StreamingSigned,
    StreamingUnsignedTrailer,
    StreamingSignedTrailer,
}

impl PayloadMode {
    /// Checked before the signature so a bad value gets its own error, as S3 does.
    fn parse(value: &str) -> S3Result<PayloadMode> {
        Ok(match value {
            UNSIGNED_PAYLOAD => PayloadMode::Unsigned,
            STREAMING_SIGNED_PAYLOAD => PayloadMode::StreamingSigned,
            STREAMING_SIGNED_PAYLOAD_TRAILER => PayloadMode::StreamingSignedTrailer,
            STREAMING_UNSIGNED_PAYLOAD_TRAILER => PayloadMode::StreamingUnsignedTrailer,
            STREAMING_ECDSA_PAYLOAD | STREAMING_ECDSA_PAYLOAD_TRAILER => {
                return Err(s3_error!(NotImplemented, "Signature Version 4A is not supported."))
            }
            _ => match from_hex(value).and_then(|bytes| <[u8; 32]>::try_from(bytes).ok()) {
                Some(sha256) => PayloadMode::Sha256(sha256),
                None => {
                    return Err(s3_error!(
                        InvalidArgument,
                        "x-amz-content-sha256 must be {UNSIGNED_PAYLOAD}, {STREAMING_UNSIGNED_PAYLOAD_TRAILER}, \
                         {STREAMING_SIGNED_PAYLOAD}, {STREAMING_SIGNED_PAYLOAD_TRAILER} or a valid sha256 value."
                    ))
                }
            },
        })
    }

    /// The verified payload hash; streaming modes get the context their chunk signatures chain from.
    fn into_payload_hash(self, chunk_signing: ChunkSigningContext) -> PayloadHash {
        match self {
            PayloadMode::Unsigned => PayloadHash::Unsigned,
            PayloadMode::Sha256(sha256) => PayloadHash::Sha256(sha256),
            PayloadMode::StreamingSigned => PayloadHash::StreamingSigned(chunk_signing),
            PayloadMode::StreamingUnsignedTrailer => PayloadHash::StreamingUnsignedTrailer,
            PayloadMode::StreamingSignedTrailer => PayloadHash::StreamingSignedTrailer(chunk_signing),
        }
    }
}

/// The request time of a header-signed request: `x-amz-date`, or else `Date`.
fn header_request_time(head: &RequestHead) -> S3Result<i64> {
    let parsed = match head.header("x-amz-date") {
        Some(amz_date) => parse_amz_date(amz_date.trim()),
        None => head.header("date").and_then(parse_http_date),
    };
    parsed.ok_or_else(|| s3_error!(AccessDenied, "AWS authentication requires a valid Date or x-amz-date header"))
}

/// Verify a request signed with the `Authorization` header, with the secret of
/// `auth.access_key_id` (looked up by the caller) and the current time `now` (unix seconds).
///
/// Any region is accepted: the scope's region only feeds the signing key, and the gateway is one
/// global endpoint.
pub fn verify_header_auth(
    head: &RequestHead,
    auth: &AuthorizationV4,
    secret: &SecretKey,
    now: i64,
) -> S3Result<VerifiedV4> {
    if auth.service != S3_SERVICE {
        return Err(s3_error!(
            AuthorizationHeaderMalformed,
            "{MALFORMED_HEADER} incorrect service \"{}\". This endpoint belongs to \"{S3_SERVICE}\".",
            auth.service
        ));
    }
    let payload_hash = head
        .header("x-amz-content-sha256")
        .map(str::trim)
        .ok_or_else(|| s3_error!(InvalidRequest, "Missing required header for this request: x-amz-content-sha256"))?;
    let payload_mode = PayloadMode::parse(payload_hash)?;
    let request_time = header_request_time(head)?;
    if auth.date != format_yyyymmdd(request_time) {
        return Err(s3_error!(
            AuthorizationHeaderMalformed,
            "{MALFORMED_HEADER} Invalid credential date. Date is not the same as X-Amz-Date."
        ));
    }
    check_clock_skew(request_time, now, MAX_CLOCK_SKEW_SECS)?;
    check_required_headers_signed(head, &auth.signed_headers)?;

    let amz_date = format_amz_date(request_time);
    let scope = auth.scope();
    let key = signing_key(secret, &auth.date, &auth.region, &auth.service);
    let expected = matching_signature(head, &auth.signed_headers, &auth.signature, |head| {
        let canonical = canonical_request(head, &auth.signed_headers, payload_hash, None);
        compute_signature(&key, &string_to_sign(&amz_date, &scope, &canonical))
    })?;

    let payload = payload_mode.into_payload_hash(ChunkSigningContext {
        seed_signature: expected,
        signing_key: key,
        scope,
        amz_date,
    });
    Ok(VerifiedV4 { access_key_id: auth.access_key_id.clone(), payload })
}

/// The presigned-URL parameters of a request, `None` when it carries none. A request carrying
/// both an `Authorization` header and presigned parameters is refused, as S3 does.
pub fn parse_presigned_query(head: &RequestHead) -> S3Result<Option<PresignedV4>> {
    let params = head.query_params();
    const AUTH_PARAMS: [&str; 6] = [
        "X-Amz-Algorithm",
        "X-Amz-Credential",
        "X-Amz-Date",
        "X-Amz-Expires",
        "X-Amz-SignedHeaders",
        "X-Amz-Signature",
    ];
    let mut values: [Option<&str>; 6] = [None; 6];
    for (key, value) in &params {
        if let Some(i) = AUTH_PARAMS.iter().position(|name| name == key) {
            if values[i].replace(value).is_some() {
                return Err(s3_error!(AuthorizationQueryParametersError, "{key} appears more than once."));
            }
        }
    }
    let [algorithm, credential, amz_date, expires, signed_headers, signature] = values;
    if algorithm.is_none() && credential.is_none() && signature.is_none() {
        return Ok(None);
    }
    if head.header("authorization").is_some() {
        return Err(s3_error!(
            InvalidArgument,
            "Only one auth mechanism allowed; only the X-Amz-Algorithm query parameter, Signature query \
             string parameter or the Authorization header should be specified"
        ));
    }
    let (Some(algorithm), Some(credential), Some(amz_date), Some(expires), Some(signed_headers), Some(signature)) =
        (algorithm, credential, amz_date, expires, signed_headers, signature)
    else {
        return Err(s3_error!(AuthorizationQueryParametersError, "{PRESIGNED_PARAMS_REQUIRED}"));
    };
    match algorithm {
        ALGORITHM => {}
        SIGV4A_ALGORITHM => return Err(s3_error!(NotImplemented, "Signature Version 4A is not supported.")),
        _ => return Err(s3_error!(AuthorizationQueryParametersError, "X-Amz-Algorithm only supports \"{ALGORITHM}\"")),
    }
    let credential = parse_credential(credential)
        .map_err(|reason| s3_error!(AuthorizationQueryParametersError, "{MALFORMED_CREDENTIAL_PARAM} {reason}"))?;
    let request_time = parse_amz_date(amz_date).ok_or_else(|| {
        s3_error!(
            AuthorizationQueryParametersError,
            "X-Amz-Date must be in the ISO8601 Long Format \"yyyyMMdd'T'HHmmss'Z'\""
        )
    })?;
    let expires_secs = parse_expires(expires)?;
    let signed_headers = parse_signed_headers(signed_headers).ok_or_else(|| {
        s3_error!(AuthorizationQueryParametersError, "X-Amz-SignedHeaders must name at least one header.")
    })?;
    if signature.is_empty() {
        return Err(s3_error!(AuthorizationQueryParametersError, "{PRESIGNED_PARAMS_REQUIRED}"));
    }
    Ok(Some(PresignedV4 {
        access_key_id: credential.access_key_id,
        date: credential.date,
        region: credential.region,
        service: credential.service,
        amz_date: amz_date.to_string(),
        request_time,
        expires_secs,
        signed_headers,
        signature: signature.to_string(),
    }))
}

/// `X-Amz-Expires`: whole seconds, 1..=604800.
fn parse_expires(value: &str) -> S3Result<i64> {
    if value.is_empty() || !value.bytes().all(|b| b.is_ascii_digit()) {
        return Err(s3_error!(AuthorizationQueryParametersError, "X-Amz-Expires should be a number"));
    }
    match value.parse::<i64>() {
        Ok(secs) if (1..=MAX_PRESIGNED_EXPIRES_SECS).contains(&secs) => Ok(secs),
        Ok(0) => Err(s3_error!(AuthorizationQueryParametersError, "X-Amz-Expires must be greater than 0")),
        _ => Err(s3_error!(
            AuthorizationQueryParametersError,
            "X-Amz-Expires must be less than a week (in seconds) that is {MAX_PRESIGNED_EXPIRES_SECS}"
        )),
    }
}

/// Verify a presigned URL with the secret of `presigned.access_key_id` (looked up by the caller)
/// and the current time `now`. The body is `UNSIGNED-PAYLOAD` unless the URL or the request carries
/// `x-amz-content-sha256`.
pub fn verify_presigned(
    head: &RequestHead,
    presigned: &PresignedV4,
    secret: &SecretKey,
    now: i64,
) -> S3Result<VerifiedV4> {
    if presigned.service != S3_SERVICE {
        return Err(s3_error!(
            AuthorizationQueryParametersError,
            "{MALFORMED_CREDENTIAL_PARAM} incorrect service \"{}\". This endpoint belongs to \"{S3_SERVICE}\".",
            presigned.service
        ));
    }
    if presigned.date != format_yyyymmdd(presigned.request_time) {
        return Err(s3_error!(
            AuthorizationQueryParametersError,
            "Invalid credential date. Date is not the same as X-Amz-Date."
        ));
    }
    // Only the future side is a skew question; the past side is bounded by X-Amz-Expires. Without
    // this a URL dated years ahead would stay valid until then.
    if presigned.request_time.saturating_sub(now) > MAX_CLOCK_SKEW_SECS {
        return Err(s3_error!(AccessDenied, "Request is not valid yet"));
    }
    if now > presigned.request_time.saturating_add(presigned.expires_secs) {
        return Err(s3_error!(AccessDenied, "Request has expired"));
    }
    check_required_headers_signed(head, &presigned.signed_headers)?;

    let params = head.query_params();
    let payload_hash = params
        .iter()
        .find(|(key, _)| key.eq_ignore_ascii_case("x-amz-content-sha256"))
        .map(|(_, value)| value.as_str())
        .or_else(|| head.header("x-amz-content-sha256"))
        .map_or(UNSIGNED_PAYLOAD, str::trim);
    let payload_mode = PayloadMode::parse(payload_hash)?;
    let scope = presigned.scope();
    let key = signing_key(secret, &presigned.date, &presigned.region, &presigned.service);
    let expected = matching_signature(head, &presigned.signed_headers, &presigned.signature, |head| {
        let canonical =
            canonical_request(head, &presigned.signed_headers, payload_hash, Some(PRESIGNED_SIGNATURE_PARAM));
        compute_signature(&key, &string_to_sign(&presigned.amz_date, &scope, &canonical))
    })?;

    let payload = payload_mode.into_payload_hash(ChunkSigningContext {
        seed_signature: expected,
        signing_key: key,
        scope,
        amz_date: presigned.amz_date.clone(),
    });
    Ok(VerifiedV4 { access_key_id: presigned.access_key_id.clone(), payload })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_signed_accept_encoding_rewritten_by_the_front_end_still_verifies() {
        let secret = SecretKey::new("wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY");
        let now = 1_369_353_600; // 2013-05-24T00:00:00Z
        let original = RequestHead {
            method: "GET".into(),
            host: "examplebucket.s3.amazonaws.com".into(),
            raw_path: "/test.txt".into(),
            raw_query: String::new(),
            headers: vec![
                ("host".into(), "examplebucket.s3.amazonaws.com".into()),
                ("accept-encoding".into(), "gzip".into()),
                ("x-amz-content-sha256".into(), EMPTY_PAYLOAD_SHA256.into()),
                ("x-amz-date".into(), "20130524T000000Z".into()),
            ],
        };
        let signed_headers: Vec<String> =
            ["accept-encoding", "host", "x-amz-content-sha256", "x-amz-date"].iter().map(|h| h.to_string()).collect();
        let scope = credential_scope("20130524", "us-east-1", "s3");
        let key = signing_key(&secret, "20130524", "us-east-1", "s3");
        let canonical = canonical_request(&original, &signed_headers, EMPTY_PAYLOAD_SHA256, None);
        let signature = compute_signature(&key, &string_to_sign("20130524T000000Z", &scope, &canonical));
        let auth = AuthorizationV4 {
            access_key_id: "AKIAIOSFODNN7EXAMPLE".into(),
            date: "20130524".into(),
            region: "us-east-1".into(),
            service: "s3".into(),
            signed_headers,
            signature: signature.to_hex(),
        };
        let mut rewritten = original.clone();
        rewritten.headers[1].1 = "br, gzip".into();
        assert!(verify_header_auth(&rewritten, &auth, &secret, now).is_ok());
        let mut tampered = rewritten.clone();
        tampered.raw_path = "/other.txt".into();
        assert_eq!(
            verify_header_auth(&tampered, &auth, &secret, now).unwrap_err().code,
            S3ErrorCode::SignatureDoesNotMatch
        );
    }
    use crate::s3::error::{S3Error, S3ErrorCode};

    /// 2013-05-24T00:00:00Z, the time of the S3 documentation's examples.
    const DOCS_TIME: i64 = 1_369_353_600;
    const DOCS_ACCESS_KEY: &str = "AKIAIOSFODNN7EXAMPLE";
    const DOCS_SECRET: &str = "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY";
    const DOCS_HOST: &str = "examplebucket.s3.amazonaws.com";

    fn head(method: &str, target: &str, headers: &[(&str, &str)]) -> RequestHead {
        let (raw_path, raw_query) = target.split_once('?').unwrap_or((target, ""));
        let headers: Vec<(String, String)> =
            headers.iter().map(|(name, value)| (name.to_ascii_lowercase(), value.to_string())).collect();
        let host = headers.iter().find(|(name, _)| name == "host").map(|(_, value)| value.clone()).unwrap_or_default();
        RequestHead {
            method: method.to_string(),
            host,
            raw_path: raw_path.to_string(),
            raw_query: raw_query.to_string(),
            headers,
        }
    }

    fn sha256_hex(bytes: &[u8]) -> String {
        hex(&Sha256::digest(bytes))
    }

    fn code(result: S3Result<impl std::fmt::Debug>) -> S3ErrorCode {
        result.unwrap_err().code
    }

    fn error(result: S3Result<impl std::fmt::Debug>) -> S3Error {
        result.unwrap_err()
    }

    fn docs_secret() -> SecretKey {
        SecretKey::from(DOCS_SECRET)
    }

    /// The documentation's Authorization header form: no spaces after the commas.
    fn docs_authorization(signed_headers: &str, signature: &str) -> AuthorizationV4 {
        parse_authorization_header(&format!(
            "AWS4-HMAC-SHA256 Credential={DOCS_ACCESS_KEY}/20130524/us-east-1/s3/aws4_request,\
             SignedHeaders={signed_headers},Signature={signature}"
        ))
        .unwrap()
    }

    /// Sign `head` the way a client does (header form) and return what the server parses.
    fn sign_header_auth(head: &mut RequestHead, signed_headers: &[&str], amz_date: &str) -> AuthorizationV4 {
        let signed_headers: Vec<String> = signed_headers.iter().map(|name| name.to_string()).collect();
        let payload_hash = head.header("x-amz-content-sha256").unwrap_or(UNSIGNED_PAYLOAD).to_string();
        let scope = credential_scope(&amz_date[..8], "us-east-1", S3_SERVICE);
        let canonical = canonical_request(head, &signed_headers, &payload_hash, None);
        let key = signing_key(&docs_secret(), &amz_date[..8], "us-east-1", S3_SERVICE);
        let signature = compute_signature(&key, &string_to_sign(amz_date, &scope, &canonical));
        let value = authorization_header_value(DOCS_ACCESS_KEY, &scope, &signed_headers, &signature);
        head.headers.push(("authorization".into(), value.clone()));
        parse_authorization_header(&value).unwrap()
    }

    /// GET Object with Range, the first example of the S3 documentation.
    fn docs_get_object() -> (RequestHead, AuthorizationV4) {
        let head = head(
            "GET",
            "/test.txt",
            &[
                ("Host", DOCS_HOST),
                ("Range", "bytes=0-9"),
                ("x-amz-content-sha256", EMPTY_PAYLOAD_SHA256),
                ("x-amz-date", "20130524T000000Z"),
            ],
        );
        let auth = docs_authorization(
            "host;range;x-amz-content-sha256;x-amz-date",
            "f0e8bdb87c964420e857bd35b5d6ed310bd44f0170aba48dd91039c6036bdb41",
        );
        (head, auth)
    }

    // ---- The S3 documentation's examples ("Transferring Payload in a Single Chunk", presigned
    // URL, chunked upload seed signature). ----

    #[test]
    fn docs_get_object_every_intermediate() {
        let (head, auth) = docs_get_object();
        let canonical = canonical_request(&head, &auth.signed_headers, EMPTY_PAYLOAD_SHA256, None);
        assert_eq!(
            canonical,
            "GET\n/test.txt\n\nhost:examplebucket.s3.amazonaws.com\nrange:bytes=0-9\n\
             x-amz-content-sha256:e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855\n\
             x-amz-date:20130524T000000Z\n\nhost;range;x-amz-content-sha256;x-amz-date\n\
             e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
        );
        let sts = string_to_sign("20130524T000000Z", &auth.scope(), &canonical);
        assert_eq!(
            sts,
            "AWS4-HMAC-SHA256\n20130524T000000Z\n20130524/us-east-1/s3/aws4_request\n\
             7344ae5b7ee6c3e7e6b0fe0640412a37625d1fbfff95c48bbb2dc43964946972"
        );
        let key = signing_key(&docs_secret(), "20130524", "us-east-1", "s3");
        assert_eq!(signature_hex(&key, &sts), "f0e8bdb87c964420e857bd35b5d6ed310bd44f0170aba48dd91039c6036bdb41");

        let verified = verify_header_auth(&head, &auth, &docs_secret(), DOCS_TIME).unwrap();
        assert_eq!(verified.access_key_id, DOCS_ACCESS_KEY);
        assert!(matches!(verified.payload, PayloadHash::Sha256(h) if hex(&h) == EMPTY_PAYLOAD_SHA256));
    }

    #[test]
    fn docs_put_object() {
        let body = b"Welcome to Amazon S3.";
        let payload_hash = "44ce7dd67c959e0d3524ffac1771dfbba87d2b6b4b4e99e42034a8b803f8b072";
        assert_eq!(sha256_hex(body), payload_hash);
        let head = head(
            "PUT",
            "/test$file.text",
            &[
                ("Host", DOCS_HOST),
                ("Date", "Fri, 24 May 2013 00:00:00 GMT"),
                ("x-amz-date", "20130524T000000Z"),
                ("x-amz-storage-class", "REDUCED_REDUNDANCY"),
                ("x-amz-content-sha256", payload_hash),
            ],
        );
        let auth = docs_authorization(
            "date;host;x-amz-content-sha256;x-amz-date;x-amz-storage-class",
            "98ad721746da40c64f1a55b78f14c238d841ea1380cd77a1b5971af0ece108bd",
        );
        let canonical = canonical_request(&head, &auth.signed_headers, payload_hash, None);
        assert!(canonical.starts_with("PUT\n/test%24file.text\n\ndate:Fri, 24 May 2013 00:00:00 GMT\n"));
        let verified = verify_header_auth(&head, &auth, &docs_secret(), DOCS_TIME + 60).unwrap();
        assert!(matches!(verified.payload, PayloadHash::Sha256(h) if hex(&h) == payload_hash));

        // The already-encoded form of the same key signs the same.
        let mut encoded = head.clone();
        encoded.raw_path = "/test%24file.text".into();
        assert!(verify_header_auth(&encoded, &auth, &docs_secret(), DOCS_TIME).is_ok());
    }

    #[test]
    fn docs_get_bucket_lifecycle() {
        let head = head(
            "GET",
            "/?lifecycle",
            &[("Host", DOCS_HOST), ("x-amz-date", "20130524T000000Z"), ("x-amz-content-sha256", EMPTY_PAYLOAD_SHA256)],
        );
        let auth = docs_authorization(
            "host;x-amz-content-sha256;x-amz-date",
            "fea454ca298b7da1c68078a5d1bdbfbbe0d65c699e0f91ac7a200a0136783543",
        );
        let canonical = canonical_request(&head, &auth.signed_headers, EMPTY_PAYLOAD_SHA256, None);
        assert!(canonical.starts_with("GET\n/\nlifecycle=\nhost:"));
        assert!(verify_header_auth(&head, &auth, &docs_secret(), DOCS_TIME).is_ok());
    }

    #[test]
    fn docs_list_objects() {
        let head = head(
            "GET",
            "/?max-keys=2&prefix=J",
            &[("Host", DOCS_HOST), ("x-amz-date", "20130524T000000Z"), ("x-amz-content-sha256", EMPTY_PAYLOAD_SHA256)],
        );
        let auth = docs_authorization(
            "host;x-amz-content-sha256;x-amz-date",
            "34b48302e7b5fa45bde8084f4b7868a86f0a534bc59db6670ed5711ef69dc6f7",
        );
        assert!(verify_header_auth(&head, &auth, &docs_secret(), DOCS_TIME).is_ok());
        // Parameter order on the wire does not matter.
        let mut reordered = head.clone();
        reordered.raw_query = "prefix=J&max-keys=2".into();
        assert!(verify_header_auth(&reordered, &auth, &docs_secret(), DOCS_TIME).is_ok());
    }

    fn docs_presigned_head() -> RequestHead {
        head(
            "GET",
            "/test.txt?X-Amz-Algorithm=AWS4-HMAC-SHA256\
             &X-Amz-Credential=AKIAIOSFODNN7EXAMPLE%2F20130524%2Fus-east-1%2Fs3%2Faws4_request\
             &X-Amz-Date=20130524T000000Z&X-Amz-Expires=86400&X-Amz-SignedHeaders=host\
             &X-Amz-Signature=aeeed9bbccd4d02ee5c0109b86d86835f995330da4c265957d157751f604d404",
            &[("Host", DOCS_HOST)],
        )
    }

    #[test]
    fn docs_presigned_url() {
        let head = docs_presigned_head();
        let presigned = parse_presigned_query(&head).unwrap().unwrap();
        assert_eq!(
            presigned,
            PresignedV4 {
                access_key_id: DOCS_ACCESS_KEY.into(),
                date: "20130524".into(),
                region: "us-east-1".into(),
                service: "s3".into(),
                amz_date: "20130524T000000Z".into(),
                request_time: DOCS_TIME,
                expires_secs: 86_400,
                signed_headers: vec!["host".into()],
                signature: "aeeed9bbccd4d02ee5c0109b86d86835f995330da4c265957d157751f604d404".into(),
            }
        );
        let canonical = canonical_request(&head, &presigned.signed_headers, UNSIGNED_PAYLOAD, Some("X-Amz-Signature"));
        assert_eq!(
            canonical,
            "GET\n/test.txt\nX-Amz-Algorithm=AWS4-HMAC-SHA256&X-Amz-Credential=AKIAIOSFODNN7EXAMPLE%2F20130524%2F\
             us-east-1%2Fs3%2Faws4_request&X-Amz-Date=20130524T000000Z&X-Amz-Expires=86400&X-Amz-SignedHeaders=host\n\
             host:examplebucket.s3.amazonaws.com\n\nhost\nUNSIGNED-PAYLOAD"
        );
        for now in [DOCS_TIME - MAX_CLOCK_SKEW_SECS, DOCS_TIME, DOCS_TIME + 86_400] {
            let verified = verify_presigned(&head, &presigned, &docs_secret(), now).unwrap();
            assert_eq!(verified.access_key_id, DOCS_ACCESS_KEY);
            assert!(matches!(verified.payload, PayloadHash::Unsigned));
        }
    }

    #[test]
    fn docs_chunked_upload_seed_signature() {
        let head = head(
            "PUT",
            "/examplebucket/chunkObject.txt",
            &[
                ("Host", "s3.amazonaws.com"),
                ("x-amz-date", "20130524T000000Z"),
                ("x-amz-storage-class", "REDUCED_REDUNDANCY"),
                ("x-amz-content-sha256", STREAMING_SIGNED_PAYLOAD),
                ("Content-Encoding", "aws-chunked"),
                ("x-amz-decoded-content-length", "66560"),
                ("Content-Length", "66824"),
            ],
        );
        let auth = docs_authorization(
            "content-encoding;content-length;host;x-amz-content-sha256;x-amz-date;x-amz-decoded-content-length;\
             x-amz-storage-class",
            "4f232c4386841ef735655705268965c44a0e4690baa4adea153f7db9fa80a0a9",
        );
        let verified = verify_header_auth(&head, &auth, &docs_secret(), DOCS_TIME).unwrap();
        let PayloadHash::StreamingSigned(chunks) = verified.payload else {
            panic!("expected a signed streaming payload, got {:?}", verified.payload);
        };
        assert_eq!(chunks.seed_signature.to_hex(), auth.signature);
        assert_eq!(chunks.scope, "20130524/us-east-1/s3/aws4_request");
        assert_eq!(chunks.amz_date, "20130524T000000Z");
        assert_eq!(
            chunks.signing_key.as_bytes(),
            signing_key(&docs_secret(), "20130524", "us-east-1", "s3").as_bytes()
        );
    }

    #[test]
    fn remembered_signing_keys_are_the_derived_ones_and_the_memo_stays_bounded() {
        let secret = docs_secret();
        let derived = derive_signing_key(&secret, "20130524", "us-east-1", "s3");
        // First call derives and remembers, the second answers from the memo: both the same key.
        for _ in 0..2 {
            assert_eq!(signing_key(&secret, "20130524", "us-east-1", "s3").as_bytes(), derived.as_bytes());
        }
        // Every input is part of the memo's index: no other secret, day, region or service is
        // answered with this key, including inputs that concatenate to the same bytes.
        let others = [
            derive_signing_key(&SecretKey::from("other secret"), "20130524", "us-east-1", "s3"),
            derive_signing_key(&secret, "20130525", "us-east-1", "s3"),
            derive_signing_key(&secret, "20130524", "eu-west-1", "s3"),
            derive_signing_key(&secret, "20130524", "us-east-1", "s3-object-lambda"),
        ];
        for other in &others {
            assert_ne!(other.as_bytes(), derived.as_bytes());
        }
        assert_eq!(
            signing_key(&SecretKey::from("other secret"), "20130524", "us-east-1", "s3").as_bytes(),
            others[0].as_bytes()
        );
        assert_eq!(signing_key(&secret, "20130525", "us-east-1", "s3").as_bytes(), others[1].as_bytes());
        assert_ne!(
            signing_key_inputs_digest(&SecretKey::from("ab"), "c", "r", "s"),
            signing_key_inputs_digest(&SecretKey::from("a"), "bc", "r", "s")
        );
        // Many secrets later the memo is still bounded, and still right.
        for n in 0..2 * SIGNING_KEY_MEMO_ENTRIES {
            let secret = SecretKey::from(format!("secret {n}"));
            signing_key(&secret, "20130524", "us-east-1", "s3");
        }
        assert!(SIGNING_KEYS.with(|memo| memo.borrow().len()) <= SIGNING_KEY_MEMO_ENTRIES);
        assert_eq!(signing_key(&secret, "20130524", "us-east-1", "s3").as_bytes(), derived.as_bytes());
    }

    #[test]
    fn recognises_every_streaming_payload_mode() {
        for (mode, expect_chunk_signing) in [
            (STREAMING_SIGNED_PAYLOAD, true),
            (STREAMING_SIGNED_PAYLOAD_TRAILER, true),
            (STREAMING_UNSIGNED_PAYLOAD_TRAILER, false),
            (UNSIGNED_PAYLOAD, false),
        ] {
            let mut head = head(
                "PUT",
                "/bucket/key",
                &[("host", DOCS_HOST), ("x-amz-date", "20130524T000000Z"), ("x-amz-content-sha256", mode)],
            );
            let auth = sign_header_auth(&mut head, &["host", "x-amz-content-sha256", "x-amz-date"], "20130524T000000Z");
            let payload = verify_header_auth(&head, &auth, &docs_secret(), DOCS_TIME).unwrap().payload;
            let chunk_signing = match (mode, payload) {
                (STREAMING_SIGNED_PAYLOAD, PayloadHash::StreamingSigned(c)) => Some(c),
                (STREAMING_SIGNED_PAYLOAD_TRAILER, PayloadHash::StreamingSignedTrailer(c)) => Some(c),
                (STREAMING_UNSIGNED_PAYLOAD_TRAILER, PayloadHash::StreamingUnsignedTrailer) => None,
                (UNSIGNED_PAYLOAD, PayloadHash::Unsigned) => None,
                (mode, payload) => panic!("{mode} gave {payload:?}"),
            };
            assert_eq!(chunk_signing.is_some(), expect_chunk_signing);
            if let Some(chunk_signing) = chunk_signing {
                assert_eq!(chunk_signing.seed_signature.to_hex(), auth.signature);
                assert!(format!("{chunk_signing:?}").contains("SigningKey(<redacted>)"));
            }
        }
    }

    // ---- Header authentication failures. ----

    #[test]
    fn wrong_secret_or_tampering_does_not_match() {
        let (head, auth) = docs_get_object();
        let wrong = SecretKey::from("wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEZ");
        assert_eq!(code(verify_header_auth(&head, &auth, &wrong, DOCS_TIME)), S3ErrorCode::SignatureDoesNotMatch);

        let mut tampered = head.clone();
        tampered.headers[1].1 = "bytes=0-99".into();
        assert_eq!(
            code(verify_header_auth(&tampered, &auth, &docs_secret(), DOCS_TIME)),
            S3ErrorCode::SignatureDoesNotMatch
        );
        let mut tampered = head.clone();
        tampered.raw_path = "/test.txt2".into();
        assert_eq!(
            code(verify_header_auth(&tampered, &auth, &docs_secret(), DOCS_TIME)),
            S3ErrorCode::SignatureDoesNotMatch
        );
        let mut tampered = head.clone();
        tampered.raw_query = "versionId=1".into();
        assert_eq!(
            code(verify_header_auth(&tampered, &auth, &docs_secret(), DOCS_TIME)),
            S3ErrorCode::SignatureDoesNotMatch
        );
        let mut tampered = head.clone();
        tampered.method = "DELETE".into();
        assert_eq!(
            code(verify_header_auth(&tampered, &auth, &docs_secret(), DOCS_TIME)),
            S3ErrorCode::SignatureDoesNotMatch
        );
        for signature in ["", "f0e8", "zz", &format!("{}0", auth.signature)] {
            let bad = AuthorizationV4 { signature: signature.to_string(), ..auth.clone() };
            assert_eq!(
                code(verify_header_auth(&head, &bad, &docs_secret(), DOCS_TIME)),
                S3ErrorCode::SignatureDoesNotMatch
            );
        }
        // Another region derives another key.
        let other_region = AuthorizationV4 { region: "eu-west-1".into(), ..auth.clone() };
        assert_eq!(
            code(verify_header_auth(&head, &other_region, &docs_secret(), DOCS_TIME)),
            S3ErrorCode::SignatureDoesNotMatch
        );
    }

    #[test]
    fn clock_skew_is_fifteen_minutes() {
        let (head, auth) = docs_get_object();
        for now in [DOCS_TIME - 900, DOCS_TIME + 900] {
            assert!(verify_header_auth(&head, &auth, &docs_secret(), now).is_ok());
        }
        for now in [DOCS_TIME - 901, DOCS_TIME + 901, 0] {
            assert_eq!(code(verify_header_auth(&head, &auth, &docs_secret(), now)), S3ErrorCode::RequestTimeTooSkewed);
        }
    }

    #[test]
    fn credential_date_must_be_the_request_date() {
        let (head, auth) = docs_get_object();
        let other_day = AuthorizationV4 { date: "20130523".into(), ..auth };
        let err = error(verify_header_auth(&head, &other_day, &docs_secret(), DOCS_TIME));
        assert_eq!(err.code, S3ErrorCode::AuthorizationHeaderMalformed);
        assert!(err.message.contains("Invalid credential date"), "{}", err.message);
    }

    #[test]
    fn service_must_be_s3() {
        let (head, auth) = docs_get_object();
        let other_service = AuthorizationV4 { service: "ec2".into(), ..auth };
        let err = error(verify_header_auth(&head, &other_service, &docs_secret(), DOCS_TIME));
        assert_eq!(err.code, S3ErrorCode::AuthorizationHeaderMalformed);
        assert!(err.message.contains("incorrect service \"ec2\""), "{}", err.message);
    }

    #[test]
    fn host_and_x_amz_headers_must_be_signed() {
        let mut head = head(
            "GET",
            "/test.txt",
            &[("host", DOCS_HOST), ("x-amz-content-sha256", UNSIGNED_PAYLOAD), ("x-amz-date", "20130524T000000Z")],
        );
        let auth = sign_header_auth(&mut head, &["x-amz-content-sha256", "x-amz-date"], "20130524T000000Z");
        let err = error(verify_header_auth(&head, &auth, &docs_secret(), DOCS_TIME));
        assert_eq!(err.code, S3ErrorCode::AccessDenied);
        assert!(err.message.ends_with("not signed: host"), "{}", err.message);

        let (head, auth) = docs_get_object();
        let mut extra = head.clone();
        extra.headers.push(("x-amz-copy-source".into(), "/other/object".into()));
        extra.headers.push(("X-Amz-Meta-Note".into(), "a".into()));
        let err = error(verify_header_auth(&extra, &auth, &docs_secret(), DOCS_TIME));
        assert_eq!(err.code, S3ErrorCode::AccessDenied);
        assert!(err.message.ends_with("not signed: x-amz-copy-source, X-Amz-Meta-Note"), "{}", err.message);

        // Headers that are bound anyway or added by a CDN on the way need no signature; other
        // headers may stay unsigned as in S3.
        let mut harmless = head.clone();
        harmless.headers.push(("x-amz-cf-id".into(), "abc".into()));
        harmless.headers.push(("user-agent".into(), "aws-cli".into()));
        assert!(verify_header_auth(&harmless, &auth, &docs_secret(), DOCS_TIME).is_ok());
        let mut unsigned_date = head.clone();
        let unsigned_date_auth =
            sign_header_auth(&mut unsigned_date, &["host", "range", "x-amz-content-sha256"], "20130524T000000Z");
        assert!(verify_header_auth(&unsigned_date, &unsigned_date_auth, &docs_secret(), DOCS_TIME).is_ok());
    }

    #[test]
    fn content_sha256_header_is_required_and_checked() {
        let (head, auth) = docs_get_object();
        let mut missing = head.clone();
        missing.headers.retain(|(name, _)| name != "x-amz-content-sha256");
        let err = error(verify_header_auth(&missing, &auth, &docs_secret(), DOCS_TIME));
        assert_eq!(err.code, S3ErrorCode::InvalidRequest);
        assert_eq!(err.message, "Missing required header for this request: x-amz-content-sha256");

        for (value, expected) in [
            ("abc", S3ErrorCode::InvalidArgument),
            ("UNSIGNED-PAYLOAD ", S3ErrorCode::SignatureDoesNotMatch),
            (&EMPTY_PAYLOAD_SHA256[1..], S3ErrorCode::InvalidArgument),
            ("STREAMING-AWS4-ECDSA-P256-SHA256-PAYLOAD", S3ErrorCode::NotImplemented),
            ("streaming-aws4-hmac-sha256-payload", S3ErrorCode::InvalidArgument),
        ] {
            let mut bad = head.clone();
            bad.headers[2].1 = value.to_string();
            assert_eq!(code(verify_header_auth(&bad, &auth, &docs_secret(), DOCS_TIME)), expected, "{value:?}");
        }
    }

    #[test]
    fn request_time_comes_from_x_amz_date_or_date() {
        let mut with_date = head(
            "GET",
            "/test.txt",
            &[
                ("host", DOCS_HOST),
                ("date", "Fri, 24 May 2013 00:00:00 GMT"),
                ("x-amz-content-sha256", UNSIGNED_PAYLOAD),
            ],
        );
        let auth = sign_header_auth(&mut with_date, &["date", "host", "x-amz-content-sha256"], "20130524T000000Z");
        assert!(verify_header_auth(&with_date, &auth, &docs_secret(), DOCS_TIME).is_ok());
        assert_eq!(
            code(verify_header_auth(&with_date, &auth, &docs_secret(), DOCS_TIME + 3600)),
            S3ErrorCode::RequestTimeTooSkewed
        );

        // x-amz-date wins over Date, and a malformed one is not replaced by Date.
        let mut both = with_date.clone();
        both.headers.push(("x-amz-date".into(), "20130524T000000".into()));
        let err = error(verify_header_auth(&both, &auth, &docs_secret(), DOCS_TIME));
        assert_eq!(err.code, S3ErrorCode::AccessDenied);
        assert_eq!(err.message, "AWS authentication requires a valid Date or x-amz-date header");

        let mut neither = with_date.clone();
        neither.headers.retain(|(name, _)| name != "date");
        assert_eq!(code(verify_header_auth(&neither, &auth, &docs_secret(), DOCS_TIME)), S3ErrorCode::AccessDenied);
    }

    // ---- Authorization header parsing. ----

    #[test]
    fn parses_authorization_header_with_any_spacing_and_order() {
        let expected = AuthorizationV4 {
            access_key_id: "AKIDEXAMPLE".into(),
            date: "20150830".into(),
            region: "us-east-1".into(),
            service: "service".into(),
            signed_headers: vec!["host".into(), "x-amz-date".into()],
            signature: "5fa00fa31553b73ebf1942676e86291e8372ff2a2260956d9b8aae1d763fbf31".into(),
        };
        for value in [
            "AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20150830/us-east-1/service/aws4_request, \
             SignedHeaders=host;x-amz-date, Signature=5fa00fa31553b73ebf1942676e86291e8372ff2a2260956d9b8aae1d763fbf31",
            "AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20150830/us-east-1/service/aws4_request,\
             SignedHeaders=host;x-amz-date,Signature=5fa00fa31553b73ebf1942676e86291e8372ff2a2260956d9b8aae1d763fbf31",
            "  AWS4-HMAC-SHA256   Signature=5fa00fa31553b73ebf1942676e86291e8372ff2a2260956d9b8aae1d763fbf31 ,  \
             SignedHeaders=host;x-amz-date,Credential=AKIDEXAMPLE/20150830/us-east-1/service/aws4_request ",
        ] {
            assert_eq!(parse_authorization_header(value).unwrap(), expected, "{value:?}");
        }
        assert_eq!(expected.scope(), "20150830/us-east-1/service/aws4_request");
    }

    #[test]
    fn rejects_other_algorithms() {
        let err = error(parse_authorization_header("AWS AKIAIOSFODNN7EXAMPLE:frJIUN8DYpKDtOLCwo//yllqDzg="));
        assert_eq!((err.code, err.message.as_str()), (S3ErrorCode::InvalidArgument, "Unsupported Authorization Type"));
        assert_eq!(code(parse_authorization_header("Bearer x")), S3ErrorCode::InvalidArgument);
        assert_eq!(code(parse_authorization_header("")), S3ErrorCode::InvalidArgument);
        assert_eq!(
            code(parse_authorization_header(
                "AWS4-ECDSA-P256-SHA256 Credential=AKID/20150830/s3/aws4_request, SignedHeaders=host, Signature=00"
            )),
            S3ErrorCode::NotImplemented
        );
    }

    #[test]
    fn rejects_malformed_authorization_headers() {
        let credential = "Credential=AKID/20150830/us-east-1/s3/aws4_request";
        for value in [
            "AWS4-HMAC-SHA256".to_string(),
            "AWS4-HMAC-SHA256 ".to_string(),
            format!("AWS4-HMAC-SHA256 {credential}, SignedHeaders=host"),
            format!("AWS4-HMAC-SHA256 {credential}, Signature=abc"),
            "AWS4-HMAC-SHA256 SignedHeaders=host, Signature=abc".to_string(),
            format!("AWS4-HMAC-SHA256 {credential}, SignedHeaders=host, Signature=abc, Signature=abc"),
            format!("AWS4-HMAC-SHA256 {credential}, SignedHeaders=host, Signature=abc, Extra=1"),
            format!("AWS4-HMAC-SHA256 {credential}, SignedHeaders=host, Signature="),
            format!("AWS4-HMAC-SHA256 {credential}, SignedHeaders=, Signature=abc"),
            format!("AWS4-HMAC-SHA256 {credential}, SignedHeaders=host;;x-amz-date, Signature=abc"),
            format!("AWS4-HMAC-SHA256 {credential} SignedHeaders=host Signature=abc"),
            "AWS4-HMAC-SHA256 Credential=AKID/20150830/us-east-1/s3, SignedHeaders=host, Signature=abc".to_string(),
            "AWS4-HMAC-SHA256 Credential=AKID/20150830/us-east-1/s3/aws4_request/x, SignedHeaders=host, Signature=abc"
                .to_string(),
            "AWS4-HMAC-SHA256 Credential=/20150830/us-east-1/s3/aws4_request, SignedHeaders=host, Signature=abc"
                .to_string(),
            "AWS4-HMAC-SHA256 Credential=AKID/20150830//s3/aws4_request, SignedHeaders=host, Signature=abc".to_string(),
            "AWS4-HMAC-SHA256 Credential=AKID/2015083/us-east-1/s3/aws4_request, SignedHeaders=host, Signature=abc"
                .to_string(),
            "AWS4-HMAC-SHA256 Credential=AKID/2015-08-30/us-east-1/s3/aws4_request, SignedHeaders=host, Signature=abc"
                .to_string(),
            "AWS4-HMAC-SHA256 Credential=AKID/20150830/us-east-1/s3/aws4_reques, SignedHeaders=host, Signature=abc"
                .to_string(),
        ] {
            let err = error(parse_authorization_header(&value));
            assert_eq!(err.code, S3ErrorCode::AuthorizationHeaderMalformed, "{value:?}");
            assert!(err.message.starts_with("The authorization header is malformed; "), "{}", err.message);
        }
        let err = error(parse_authorization_header(
            "AWS4-HMAC-SHA256 Credential=AKID/20150830/us-east-1/s3/aws4_reques, SignedHeaders=host, Signature=abc",
        ));
        assert!(err.message.contains("incorrect terminal \"aws4_reques\""), "{}", err.message);
    }

    // ---- Canonicalization details. ----

    #[test]
    fn canonical_uri_reencodes_segments_without_normalizing() {
        assert_eq!(canonical_uri(""), "/");
        assert_eq!(canonical_uri("/"), "/");
        assert_eq!(canonical_uri("/bucket/a%2Fb/c d/$"), "/bucket/a%2Fb/c%20d/%24");
        assert_eq!(canonical_uri("/test$file.text"), canonical_uri("/test%24file.text"));
        assert_eq!(canonical_uri("/%e2%82%ac/%7Efile"), "/%E2%82%AC/~file");
        assert_eq!(canonical_uri("/a+b"), "/a%2Bb");
        assert_eq!(canonical_uri("/a/./../b//c/"), "/a/./../b//c/");
        assert_eq!(canonical_uri("/%FF%fe"), "/%FF%FE");
        assert_eq!(canonical_query("a=%FF&b", None), "a=%FF&b=");
        assert_eq!(canonical_uri("/100%"), "/100%25");
    }

    #[test]
    fn canonical_query_sorts_by_key_then_value() {
        assert_eq!(canonical_query("", None), "");
        assert_eq!(canonical_query("b=2&a=2&a=1&uploads", None), "a=1&a=2&b=2&uploads=");
        assert_eq!(canonical_query("prefix=a%2Fb c&delimiter=%2F", None), "delimiter=%2F&prefix=a%2Fb%20c");
        assert_eq!(canonical_query("a=x+y&b=%7e", None), "a=x%2By&b=~");
        assert_eq!(canonical_query("X-Amz-Signature=abc&x=1", Some("X-Amz-Signature")), "x=1");
        assert_eq!(canonical_query("x-amz-signature=abc", Some("X-Amz-Signature")), "x-amz-signature=abc");
        // Upper case sorts before lower case: byte order, not alphabetical.
        assert_eq!(canonical_query("a=1&B=2", None), "B=2&a=1");
    }

    #[test]
    fn canonical_headers_trim_collapse_and_join() {
        let head = RequestHead {
            method: "GET".into(),
            host: "example.com:8080".into(),
            raw_path: "/".into(),
            raw_query: String::new(),
            headers: vec![
                ("x-amz-meta-a".into(), "  one  two\tthree ".into()),
                ("X-Amz-Meta-A".into(), "four".into()),
                ("x-amz-meta-b".into(), "".into()),
            ],
        };
        let signed: Vec<String> = ["host", "x-amz-meta-a", "x-amz-meta-b", "x-amz-meta-missing"]
            .iter()
            .map(|name| name.to_string())
            .collect();
        assert_eq!(
            canonical_request(&head, &signed, UNSIGNED_PAYLOAD, None),
            "GET\n/\n\nhost:example.com:8080\nx-amz-meta-a:one two three,four\nx-amz-meta-b:\n\
             x-amz-meta-missing:\n\nhost;x-amz-meta-a;x-amz-meta-b;x-amz-meta-missing\nUNSIGNED-PAYLOAD"
        );
    }

    // ---- Presigned URLs. ----

    /// Presign `target` (path and any extra query) like a client, valid `expires` seconds from
    /// `amz_date`, over the headers of `head` named in `signed_headers`.
    fn presign(mut head: RequestHead, signed_headers: &[&str], amz_date: &str, expires: i64) -> RequestHead {
        let scope = credential_scope(&amz_date[..8], "us-east-1", S3_SERVICE);
        let auth_params = format!(
            "X-Amz-Algorithm=AWS4-HMAC-SHA256&X-Amz-Credential={}&X-Amz-Date={amz_date}&X-Amz-Expires={expires}\
             &X-Amz-SignedHeaders={}",
            crate::http::uri_encode(&format!("{DOCS_ACCESS_KEY}/{scope}"), false),
            crate::http::uri_encode(&signed_headers.join(";"), false),
        );
        head.raw_query =
            if head.raw_query.is_empty() { auth_params } else { format!("{}&{auth_params}", head.raw_query) };
        let payload_hash = head
            .query_params()
            .into_iter()
            .find(|(key, _)| key.eq_ignore_ascii_case("x-amz-content-sha256"))
            .map(|(_, value)| value)
            .or_else(|| head.header("x-amz-content-sha256").map(str::to_string))
            .unwrap_or_else(|| UNSIGNED_PAYLOAD.to_string());
        let signed_headers: Vec<String> = signed_headers.iter().map(|name| name.to_string()).collect();
        let canonical = canonical_request(&head, &signed_headers, &payload_hash, None);
        let key = signing_key(&docs_secret(), &amz_date[..8], "us-east-1", S3_SERVICE);
        let signature = signature_hex(&key, &string_to_sign(amz_date, &scope, &canonical));
        head.raw_query.push_str(&format!("&X-Amz-Signature={signature}"));
        head
    }

    fn verify_presigned_at(head: &RequestHead, now: i64) -> S3Result<VerifiedV4> {
        let presigned = parse_presigned_query(head)?.expect("presigned parameters");
        verify_presigned(head, &presigned, &docs_secret(), now)
    }

    #[test]
    fn presigned_url_expires_and_may_not_be_dated_ahead() {
        let head = docs_presigned_head();
        let err = error(verify_presigned_at(&head, DOCS_TIME + 86_401));
        assert_eq!((err.code, err.message.as_str()), (S3ErrorCode::AccessDenied, "Request has expired"));
        let err = error(verify_presigned_at(&head, DOCS_TIME - MAX_CLOCK_SKEW_SECS - 1));
        assert_eq!((err.code, err.message.as_str()), (S3ErrorCode::AccessDenied, "Request is not valid yet"));
    }

    #[test]
    fn presigned_url_tampering_does_not_match() {
        let head = docs_presigned_head();
        let mut tampered = head.clone();
        tampered.raw_path = "/other.txt".into();
        assert_eq!(code(verify_presigned_at(&tampered, DOCS_TIME)), S3ErrorCode::SignatureDoesNotMatch);
        let mut tampered = head.clone();
        tampered.raw_query = tampered.raw_query.replace("X-Amz-Expires=86400", "X-Amz-Expires=604800");
        assert_eq!(code(verify_presigned_at(&tampered, DOCS_TIME)), S3ErrorCode::SignatureDoesNotMatch);
        let mut tampered = head.clone();
        tampered.raw_query.push_str("&response-content-type=text%2Fhtml");
        assert_eq!(code(verify_presigned_at(&tampered, DOCS_TIME)), S3ErrorCode::SignatureDoesNotMatch);
        let mut tampered = head.clone();
        tampered.method = "PUT".into();
        assert_eq!(code(verify_presigned_at(&tampered, DOCS_TIME)), S3ErrorCode::SignatureDoesNotMatch);
        let mut tampered = head.clone();
        tampered.headers.push(("x-amz-acl".into(), "public-read".into()));
        let err = error(verify_presigned_at(&tampered, DOCS_TIME));
        assert_eq!(err.code, S3ErrorCode::AccessDenied);
        assert!(err.message.ends_with("not signed: x-amz-acl"), "{}", err.message);
    }

    #[test]
    fn presigned_payload_hash_comes_from_query_or_header() {
        let body_hash = sha256_hex(b"hello");
        let in_query = presign(
            head("PUT", &format!("/bucket/key?x-amz-content-sha256={body_hash}"), &[("host", DOCS_HOST)]),
            &["host"],
            "20130524T000000Z",
            3600,
        );
        let verified = verify_presigned_at(&in_query, DOCS_TIME).unwrap();
        assert!(matches!(verified.payload, PayloadHash::Sha256(h) if hex(&h) == body_hash));

        let in_header = presign(
            head("PUT", "/bucket/key", &[("host", DOCS_HOST), ("x-amz-content-sha256", &body_hash)]),
            &["host"],
            "20130524T000000Z",
            3600,
        );
        let verified = verify_presigned_at(&in_header, DOCS_TIME).unwrap();
        assert!(matches!(verified.payload, PayloadHash::Sha256(h) if hex(&h) == body_hash));
        // The header is bound through the canonical request even though it is not signed.
        let mut changed = in_header.clone();
        changed.headers[1].1 = sha256_hex(b"other");
        assert_eq!(code(verify_presigned_at(&changed, DOCS_TIME)), S3ErrorCode::SignatureDoesNotMatch);
        let mut removed = in_header.clone();
        removed.headers.truncate(1);
        assert_eq!(code(verify_presigned_at(&removed, DOCS_TIME)), S3ErrorCode::SignatureDoesNotMatch);
    }

    #[test]
    fn presigned_signed_headers_must_include_host_and_be_checked() {
        let with_range = presign(
            head("GET", "/bucket/key", &[("host", DOCS_HOST), ("range", "bytes=0-9")]),
            &["host", "range"],
            "20130524T000000Z",
            3600,
        );
        assert!(verify_presigned_at(&with_range, DOCS_TIME).is_ok());
        let mut other_range = with_range.clone();
        other_range.headers[1].1 = "bytes=0-99".into();
        assert_eq!(code(verify_presigned_at(&other_range, DOCS_TIME)), S3ErrorCode::SignatureDoesNotMatch);

        let without_host = presign(
            head("GET", "/bucket/key", &[("host", DOCS_HOST), ("range", "bytes=0-9")]),
            &["range"],
            "20130524T000000Z",
            3600,
        );
        assert_eq!(code(verify_presigned_at(&without_host, DOCS_TIME)), S3ErrorCode::AccessDenied);
    }

    #[test]
    fn presigned_expiry_bounds() {
        let week = presign(head("GET", "/bucket/key", &[("host", DOCS_HOST)]), &["host"], "20130524T000000Z", 604_800);
        assert!(verify_presigned_at(&week, DOCS_TIME + 604_800).is_ok());
        assert_eq!(code(verify_presigned_at(&week, DOCS_TIME + 604_801)), S3ErrorCode::AccessDenied);
        for expires in [0, 604_801] {
            let head =
                presign(head("GET", "/bucket/key", &[("host", DOCS_HOST)]), &["host"], "20130524T000000Z", expires);
            assert_eq!(code(parse_presigned_query(&head)), S3ErrorCode::AuthorizationQueryParametersError);
        }
        for expires in ["-1", "abc", "", "1.5", "99999999999999999999999"] {
            let mut head = docs_presigned_head();
            head.raw_query = head.raw_query.replace("X-Amz-Expires=86400", &format!("X-Amz-Expires={expires}"));
            assert_eq!(
                code(parse_presigned_query(&head)),
                S3ErrorCode::AuthorizationQueryParametersError,
                "{expires:?}"
            );
        }
    }

    #[test]
    fn presigned_query_parsing_errors() {
        let plain = head("GET", "/bucket/key?list-type=2", &[("host", DOCS_HOST)]);
        assert_eq!(parse_presigned_query(&plain).unwrap(), None);

        let mut both = docs_presigned_head();
        both.headers.push(("authorization".into(), "AWS4-HMAC-SHA256 ...".into()));
        assert_eq!(code(parse_presigned_query(&both)), S3ErrorCode::InvalidArgument);

        let cases: &[(&str, &str)] = &[
            ("X-Amz-Algorithm=AWS4-HMAC-SHA256&", ""),
            ("&X-Amz-Date=20130524T000000Z", ""),
            ("&X-Amz-SignedHeaders=host", ""),
            ("X-Amz-Algorithm=AWS4-HMAC-SHA256", "X-Amz-Algorithm=AWS4-HMAC-SHA1"),
            ("X-Amz-Date=20130524T000000Z", "X-Amz-Date=2013-05-24T00:00:00Z"),
            ("X-Amz-SignedHeaders=host", "X-Amz-SignedHeaders="),
            ("%2Faws4_request", "%2Faws4"),
            ("AKIAIOSFODNN7EXAMPLE%2F20130524", "AKIAIOSFODNN7EXAMPLE%2F2013052"),
        ];
        for (from, to) in cases {
            let mut head = docs_presigned_head();
            head.raw_query = head.raw_query.replacen(from, to, 1);
            assert_eq!(
                code(parse_presigned_query(&head)),
                S3ErrorCode::AuthorizationQueryParametersError,
                "{}",
                head.raw_query
            );
        }
        let mut duplicated = docs_presigned_head();
        duplicated.raw_query.push_str("&X-Amz-Signature=00");
        assert_eq!(code(parse_presigned_query(&duplicated)), S3ErrorCode::AuthorizationQueryParametersError);

        let mut sigv4a = docs_presigned_head();
        sigv4a.raw_query = sigv4a.raw_query.replace("AWS4-HMAC-SHA256", "AWS4-ECDSA-P256-SHA256");
        assert_eq!(code(parse_presigned_query(&sigv4a)), S3ErrorCode::NotImplemented);
    }

    #[test]
    fn presigned_credential_must_be_for_s3_on_the_request_date() {
        let mut other_service = docs_presigned_head();
        other_service.raw_query = other_service.raw_query.replace("%2Fs3%2F", "%2Fec2%2F");
        assert_eq!(
            code(verify_presigned_at(&other_service, DOCS_TIME)),
            S3ErrorCode::AuthorizationQueryParametersError
        );
        let mut other_day = docs_presigned_head();
        other_day.raw_query = other_day.raw_query.replace("%2F20130524%2F", "%2F20130523%2F");
        assert_eq!(code(verify_presigned_at(&other_day, DOCS_TIME)), S3ErrorCode::AuthorizationQueryParametersError);
    }

    // ---- The AWS SigV4 test suite (aws-c-auth's v4 vectors). ----

    mod suite {
        use super::*;

        use std::path::PathBuf;

        fn suite_dir() -> PathBuf {
            PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../shared/testdata/aws-sigv4-suite/v4")
        }

        fn read(case: &str, file: &str) -> String {
            let path = suite_dir().join(case).join(file);
            std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
        }

        /// A request file: request line (the target may contain spaces), headers with folded
        /// continuation lines, a blank line, the body.
        fn parse_request(text: &str) -> (RequestHead, Vec<u8>) {
            let (head_text, body) = match text.split_once("\n\n") {
                Some((head_text, body)) => (head_text, body),
                None => (text.trim_end_matches('\n'), ""),
            };
            let mut lines = head_text.lines();
            let request_line = lines.next().expect("request line");
            let (method, rest) = request_line.split_once(' ').expect("method");
            let (target, _version) = rest.rsplit_once(' ').expect("version");
            let mut headers: Vec<(String, String)> = Vec::new();
            for line in lines {
                if line.starts_with([' ', '\t']) {
                    let (_, value) = headers.last_mut().expect("continuation follows a header");
                    value.push(' ');
                    value.push_str(line);
                } else {
                    let (name, value) = line.split_once(':').expect("header line");
                    headers.push((name.to_ascii_lowercase(), value.to_string()));
                }
            }
            let (raw_path, raw_query) = target.split_once('?').unwrap_or((target, ""));
            let host = headers.iter().find(|(n, _)| n == "host").map(|(_, v)| v.clone()).unwrap_or_default();
            let head = RequestHead {
                method: method.to_string(),
                host,
                raw_path: raw_path.to_string(),
                raw_query: raw_query.to_string(),
                headers,
            };
            (head, body.as_bytes().to_vec())
        }

        struct Context {
            access_key_id: String,
            secret: SecretKey,
            region: String,
            service: String,
            amz_date: String,
            token: Option<String>,
            omit_session_token: bool,
            sign_body: bool,
        }

        fn context(case: &str) -> Context {
            let json: serde_json::Value = serde_json::from_str(&read(case, "context.json")).unwrap();
            let text = |pointer: &str| json.pointer(pointer).and_then(|v| v.as_str()).map(str::to_string);
            let flag = |pointer: &str| json.pointer(pointer).and_then(|v| v.as_bool()).unwrap_or(false);
            // "2015-08-30T12:36:00Z" -> "20150830T123600Z"
            let amz_date = text("/timestamp").unwrap().replace(['-', ':'], "");
            Context {
                access_key_id: text("/credentials/access_key_id").unwrap(),
                secret: SecretKey::new(text("/credentials/secret_access_key").unwrap()),
                region: text("/region").unwrap(),
                service: text("/service").unwrap(),
                amz_date,
                token: text("/credentials/token"),
                omit_session_token: flag("/omit_session_token"),
                sign_body: flag("/sign_body"),
            }
        }

        fn authorization_line(signed_request: &str) -> String {
            signed_request
                .lines()
                .find_map(|line| line.strip_prefix("Authorization:"))
                .expect("signed request has an Authorization header")
                .to_string()
        }

        /// Sign `request.txt` from scratch (header form) and compare every intermediate, then
        /// re-derive the canonical request from the signed request as a verifier would.
        fn check_header_signing(case: &str, ctx: &Context) {
            let (mut head, body) = parse_request(&read(case, "request.txt"));
            let payload_hash = sha256_hex(&body);
            head.headers.push(("x-amz-date".into(), ctx.amz_date.clone()));
            if ctx.sign_body {
                head.headers.push(("x-amz-content-sha256".into(), payload_hash.clone()));
            }
            if let (Some(token), false) = (&ctx.token, ctx.omit_session_token) {
                head.headers.push(("x-amz-security-token".into(), token.clone()));
            }
            let mut signed_headers: Vec<String> = head.headers.iter().map(|(name, _)| name.clone()).collect();
            signed_headers.sort();
            signed_headers.dedup();

            let canonical = canonical_request(&head, &signed_headers, &payload_hash, None);
            assert_eq!(canonical, read(case, "header-canonical-request.txt"), "canonical request");
            let scope = credential_scope(&ctx.amz_date[..8], &ctx.region, &ctx.service);
            let sts = string_to_sign(&ctx.amz_date, &scope, &canonical);
            assert_eq!(sts, read(case, "header-string-to-sign.txt"), "string to sign");
            let key = signing_key(&ctx.secret, &ctx.amz_date[..8], &ctx.region, &ctx.service);
            let signature = compute_signature(&key, &sts);
            assert_eq!(signature.to_hex(), read(case, "header-signature.txt"), "signature");
            assert_eq!(signature_hex(&key, &sts), signature.to_hex());

            let signed_request = read(case, "header-signed-request.txt");
            let authorization = authorization_line(&signed_request);
            assert_eq!(
                authorization_header_value(&ctx.access_key_id, &scope, &signed_headers, &signature),
                authorization,
                "Authorization header"
            );

            // The verifier's view: parse the signed request and its Authorization header.
            let auth = parse_authorization_header(&authorization).unwrap();
            assert_eq!(auth.access_key_id, ctx.access_key_id);
            assert_eq!(auth.scope(), scope);
            assert_eq!(auth.signed_headers, signed_headers);
            assert_eq!(auth.signature, signature.to_hex());
            let (signed_head, signed_body) = parse_request(&signed_request);
            assert_eq!(signed_body, body);
            let reverified = canonical_request(&signed_head, &auth.signed_headers, &payload_hash, None);
            assert_eq!(reverified, canonical, "canonical request of the signed request");
        }

        /// Parse the presigned form and compare every intermediate.
        fn check_query_signing(case: &str, ctx: &Context) {
            let (mut head, body) = parse_request(&read(case, "query-signed-request.txt"));
            if ctx.omit_session_token {
                // The suite's signer appended the token after signing; leave it out again.
                head.raw_query = head
                    .raw_query
                    .split('&')
                    .filter(|param| !param.starts_with("X-Amz-Security-Token="))
                    .collect::<Vec<_>>()
                    .join("&");
            }
            let presigned = parse_presigned_query(&head).unwrap().expect("presigned parameters");
            assert_eq!(presigned.access_key_id, ctx.access_key_id);
            assert_eq!(presigned.amz_date, ctx.amz_date);
            assert_eq!(presigned.request_time, parse_amz_date(&ctx.amz_date).unwrap());
            assert_eq!(presigned.expires_secs, 3600);
            assert_eq!(presigned.region, ctx.region);
            assert_eq!(presigned.service, ctx.service);

            let canonical = canonical_request(
                &head,
                &presigned.signed_headers,
                &sha256_hex(&body),
                Some(PRESIGNED_SIGNATURE_PARAM),
            );
            assert_eq!(canonical, read(case, "query-canonical-request.txt"), "canonical request");
            let sts = string_to_sign(&presigned.amz_date, &presigned.scope(), &canonical);
            assert_eq!(sts, read(case, "query-string-to-sign.txt"), "string to sign");
            let key = signing_key(&ctx.secret, &presigned.date, &presigned.region, &presigned.service);
            let signature = signature_hex(&key, &sts);
            assert_eq!(signature, read(case, "query-signature.txt"), "signature");
            assert_eq!(presigned.signature, signature, "X-Amz-Signature");
        }

        fn run(case: &str) {
            let ctx = context(case);
            check_header_signing(case, &ctx);
            check_query_signing(case, &ctx);
        }

        macro_rules! suite_cases {
            ($($test:ident => $case:literal $(, ignore = $reason:literal)?;)*) => {
                const CASES: &[&str] = &[$($case),*];
                $(
                    #[test]
                    $(#[ignore = $reason])?
                    fn $test() {
                        run($case);
                    }
                )*
            };
        }

        suite_cases! {
            get_header_key_duplicate => "get-header-key-duplicate";
            get_header_value_multiline => "get-header-value-multiline";
            get_header_value_order => "get-header-value-order";
            get_header_value_trim => "get-header-value-trim";
            get_relative_normalized => "get-relative-normalized", ignore = "S3 does not normalize paths";
            get_relative_relative_normalized => "get-relative-relative-normalized", ignore = "S3 does not normalize paths";
            get_relative_relative_unnormalized => "get-relative-relative-unnormalized";
            get_relative_unnormalized => "get-relative-unnormalized";
            get_slash_dot_slash_normalized => "get-slash-dot-slash-normalized", ignore = "S3 does not normalize paths";
            get_slash_dot_slash_unnormalized => "get-slash-dot-slash-unnormalized";
            get_slash_normalized => "get-slash-normalized", ignore = "S3 does not normalize paths";
            get_slash_pointless_dot_normalized => "get-slash-pointless-dot-normalized", ignore = "S3 does not normalize paths";
            get_slash_pointless_dot_unnormalized => "get-slash-pointless-dot-unnormalized";
            get_slash_unnormalized => "get-slash-unnormalized";
            get_slashes_normalized => "get-slashes-normalized", ignore = "S3 does not normalize paths";
            get_slashes_unnormalized => "get-slashes-unnormalized";
            // Nothing to normalize in this path, so the normalized expectation holds for S3 too.
            get_space_normalized => "get-space-normalized";
            get_space_unnormalized => "get-space-unnormalized";
            get_unreserved => "get-unreserved";
            get_utf8 => "get-utf8";
            get_vanilla => "get-vanilla";
            get_vanilla_empty_query_key => "get-vanilla-empty-query-key";
            get_vanilla_query => "get-vanilla-query";
            get_vanilla_query_order_encoded => "get-vanilla-query-order-encoded";
            get_vanilla_query_order_key_case => "get-vanilla-query-order-key-case";
            get_vanilla_query_unreserved => "get-vanilla-query-unreserved";
            get_vanilla_utf8_query => "get-vanilla-utf8-query";
            get_vanilla_with_session_token => "get-vanilla-with-session-token";
            post_header_key_case => "post-header-key-case";
            post_header_key_sort => "post-header-key-sort";
            post_header_value_case => "post-header-value-case";
            post_sts_header_after => "post-sts-header-after";
            post_sts_header_before => "post-sts-header-before";
            post_vanilla => "post-vanilla";
            post_vanilla_empty_query_value => "post-vanilla-empty-query-value";
            post_vanilla_query => "post-vanilla-query";
            post_x_www_form_urlencoded => "post-x-www-form-urlencoded";
            post_x_www_form_urlencoded_parameters => "post-x-www-form-urlencoded-parameters";
        }

        #[test]
        fn every_suite_case_has_a_test() {
            let mut on_disk: Vec<String> = std::fs::read_dir(suite_dir())
                .unwrap()
                .map(|entry| entry.unwrap().file_name().into_string().unwrap())
                .collect();
            on_disk.sort();
            let mut listed: Vec<String> = CASES.iter().map(|case| case.to_string()).collect();
            listed.sort();
            assert_eq!(listed, on_disk);
        }
    }
}
