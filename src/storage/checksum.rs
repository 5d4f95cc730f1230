//! S3's additional checksums (`x-amz-checksum-*`: CRC32, CRC32C, CRC64NVME, SHA1, SHA256) and
//! `Content-MD5`: computing them incrementally over a body, reading which one a request declares,
//! and the [`BodyCheck`]s that refuse a body whose bytes do not match.
//!
//! Values travel as S3 encodes them: standard base64 of the big-endian digest (4 bytes for the
//! CRC32s, 8 for CRC64NVME, 20 for SHA1, 32 for SHA256, 16 for MD5).
//!
//! The three CRCs use the `crc` crate's slice-by-16 tables (~2 GB/s in wasm, TOOLCHAIN.md; its
//! default one-table form is ~5x slower). Those tables are built on first use per isolate (~35 us
//! natively) instead of being compiled in: compiled in they are 64 KiB of data in the wasm (+75 KB
//! measured, +70 KB gzipped: tables do not compress); built at run time the three CRCs add ~9 KB.

use std::fmt;
use std::sync::OnceLock;

use crc::{Crc, Digest as CrcDigest, Table};
use md5::Md5;
use sha1::Sha1;
use sha2::{Digest, Sha256};

use crate::base64;
use crate::http::RequestHead;
use crate::s3::error::S3Result;
use crate::s3_error;
use crate::storage::verify::BodyCheck;

/// `x-amz-sdk-checksum-algorithm`: the algorithm an SDK used for the body's checksum.
pub const SDK_CHECKSUM_ALGORITHM_HEADER: &str = "x-amz-sdk-checksum-algorithm";
/// `x-amz-trailer`: names the header sent after an aws-chunked body.
pub const TRAILER_HEADER: &str = "x-amz-trailer";
/// The prefix of every checksum value header.
const CHECKSUM_HEADER_PREFIX: &str = "x-amz-checksum-";
/// Headers under [`CHECKSUM_HEADER_PREFIX`] that are not checksum values (CreateMultipartUpload's
/// algorithm and type, GetObject's mode).
const CHECKSUM_HEADERS_NOT_VALUES: &[&str] =
    &["x-amz-checksum-algorithm", "x-amz-checksum-type", "x-amz-checksum-mode"];

/// S3's message when a checksum does not match the body.
fn bad_digest(algorithm: ChecksumAlgorithm) -> crate::s3::S3Error {
    s3_error!(BadDigest, "The {} you specified did not match the calculated checksum.", algorithm.name())
}

/// A checksum algorithm S3 accepts in `x-amz-checksum-*`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ChecksumAlgorithm {
    Crc32,
    Crc32c,
    Crc64Nvme,
    Sha1,
    Sha256,
}

impl ChecksumAlgorithm {
    pub const ALL: [ChecksumAlgorithm; 5] = [
        ChecksumAlgorithm::Crc32,
        ChecksumAlgorithm::Crc32c,
        ChecksumAlgorithm::Crc64Nvme,
        ChecksumAlgorithm::Sha1,
        ChecksumAlgorithm::Sha256,
    ];

    /// The name as S3 spells it in `x-amz-sdk-checksum-algorithm`, XML and error messages.
    pub fn name(self) -> &'static str {
        match self {
            ChecksumAlgorithm::Crc32 => "CRC32",
            ChecksumAlgorithm::Crc32c => "CRC32C",
            ChecksumAlgorithm::Crc64Nvme => "CRC64NVME",
            ChecksumAlgorithm::Sha1 => "SHA1",
            ChecksumAlgorithm::Sha256 => "SHA256",
        }
    }

    /// The header carrying the value, lower case: `x-amz-checksum-crc32`, ...
    pub fn header_name(self) -> &'static str {
        match self {
            ChecksumAlgorithm::Crc32 => "x-amz-checksum-crc32",
            ChecksumAlgorithm::Crc32c => "x-amz-checksum-crc32c",
            ChecksumAlgorithm::Crc64Nvme => "x-amz-checksum-crc64nvme",
            ChecksumAlgorithm::Sha1 => "x-amz-checksum-sha1",
            ChecksumAlgorithm::Sha256 => "x-amz-checksum-sha256",
        }
    }

    /// Length of the digest in bytes.
    pub fn digest_len(self) -> usize {
        match self {
            ChecksumAlgorithm::Crc32 | ChecksumAlgorithm::Crc32c => 4,
            ChecksumAlgorithm::Crc64Nvme => 8,
            ChecksumAlgorithm::Sha1 => 20,
            ChecksumAlgorithm::Sha256 => 32,
        }
    }

    /// From an algorithm name (`CRC32`, `crc64nvme`, ...), any case.
    pub fn from_name(name: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|algorithm| algorithm.name().eq_ignore_ascii_case(name.trim()))
    }

    /// From a value header name (`x-amz-checksum-crc32`, ...), any case.
    pub fn from_header_name(name: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|algorithm| algorithm.header_name().eq_ignore_ascii_case(name.trim()))
    }

    /// Decode a base64 value of this algorithm; `None` unless it is exactly one digest long.
    pub fn decode_value(self, value: &str) -> Option<Vec<u8>> {
        base64::decode(value.trim()).ok().filter(|digest| digest.len() == self.digest_len())
    }
}

impl fmt::Display for ChecksumAlgorithm {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// Slice-by-16 CRC tables, built on first use (see the module documentation for why).
fn crc32_table() -> &'static Crc<u32, Table<16>> {
    static TABLE: OnceLock<Crc<u32, Table<16>>> = OnceLock::new();
    TABLE.get_or_init(|| Crc::<u32, Table<16>>::new(&crc::CRC_32_ISO_HDLC))
}

fn crc32c_table() -> &'static Crc<u32, Table<16>> {
    static TABLE: OnceLock<Crc<u32, Table<16>>> = OnceLock::new();
    TABLE.get_or_init(|| Crc::<u32, Table<16>>::new(&crc::CRC_32_ISCSI))
}

fn crc64nvme_table() -> &'static Crc<u64, Table<16>> {
    static TABLE: OnceLock<Crc<u64, Table<16>>> = OnceLock::new();
    TABLE.get_or_init(|| Crc::<u64, Table<16>>::new(&crc::CRC_64_NVME))
}

enum State {
    Crc32(CrcDigest<'static, u32, Table<16>>),
    Crc32c(CrcDigest<'static, u32, Table<16>>),
    Crc64Nvme(CrcDigest<'static, u64, Table<16>>),
    Sha1(Sha1),
    Sha256(Sha256),
}

/// An incremental checksum: feed bytes in any pieces, then take the digest.
pub struct Checksum {
    state: State,
}

impl Checksum {
    pub fn new(algorithm: ChecksumAlgorithm) -> Self {
        let state = match algorithm {
            ChecksumAlgorithm::Crc32 => State::Crc32(crc32_table().digest()),
            ChecksumAlgorithm::Crc32c => State::Crc32c(crc32c_table().digest()),
            ChecksumAlgorithm::Crc64Nvme => State::Crc64Nvme(crc64nvme_table().digest()),
            ChecksumAlgorithm::Sha1 => State::Sha1(Sha1::new()),
            ChecksumAlgorithm::Sha256 => State::Sha256(Sha256::new()),
        };
        Checksum { state }
    }

    pub fn algorithm(&self) -> ChecksumAlgorithm {
        match self.state {
            State::Crc32(_) => ChecksumAlgorithm::Crc32,
            State::Crc32c(_) => ChecksumAlgorithm::Crc32c,
            State::Crc64Nvme(_) => ChecksumAlgorithm::Crc64Nvme,
            State::Sha1(_) => ChecksumAlgorithm::Sha1,
            State::Sha256(_) => ChecksumAlgorithm::Sha256,
        }
    }

    pub fn update(&mut self, bytes: &[u8]) {
        match &mut self.state {
            State::Crc32(digest) | State::Crc32c(digest) => digest.update(bytes),
            State::Crc64Nvme(digest) => digest.update(bytes),
            State::Sha1(hasher) => hasher.update(bytes),
            State::Sha256(hasher) => hasher.update(bytes),
        }
    }

    /// The digest, big-endian, [`ChecksumAlgorithm::digest_len`] bytes.
    pub fn finish(self) -> Vec<u8> {
        match self.state {
            State::Crc32(digest) | State::Crc32c(digest) => digest.finalize().to_be_bytes().to_vec(),
            State::Crc64Nvme(digest) => digest.finalize().to_be_bytes().to_vec(),
            State::Sha1(hasher) => hasher.finalize().to_vec(),
            State::Sha256(hasher) => hasher.finalize().to_vec(),
        }
    }

    /// The digest as S3 sends it in `x-amz-checksum-*`: standard base64, padded.
    pub fn finish_base64(self) -> String {
        base64::encode(&self.finish())
    }
}

impl fmt::Debug for Checksum {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Checksum({})", self.algorithm())
    }
}

/// The checksum of `bytes`, base64 as S3 sends it.
pub fn checksum_base64(algorithm: ChecksumAlgorithm, bytes: &[u8]) -> String {
    let mut checksum = Checksum::new(algorithm);
    checksum.update(bytes);
    checksum.finish_base64()
}

/// The body must match an `x-amz-checksum-*` value (from a header or an aws-chunked trailer).
#[derive(Debug)]
pub struct ChecksumCheck {
    checksum: Checksum,
    expected: Vec<u8>,
}

impl ChecksumCheck {
    /// Check against the value of the request header `x-amz-checksum-<algorithm>`; a value that is
    /// not base64 of one digest is refused as S3 does (InvalidRequest).
    pub fn new(algorithm: ChecksumAlgorithm, expected_base64: &str) -> S3Result<Self> {
        let expected = algorithm
            .decode_value(expected_base64)
            .ok_or_else(|| s3_error!(InvalidRequest, "Value for {} header is invalid.", algorithm.header_name()))?;
        Ok(ChecksumCheck { checksum: Checksum::new(algorithm), expected })
    }

    /// Check against the value of an aws-chunked trailer; S3 words the error for a malformed
    /// value differently than for a header.
    pub fn from_trailer(algorithm: ChecksumAlgorithm, expected_base64: &str) -> S3Result<Self> {
        let expected = algorithm.decode_value(expected_base64).ok_or_else(|| {
            s3_error!(InvalidRequest, "Value for {} trailing header is invalid.", algorithm.header_name())
        })?;
        Ok(ChecksumCheck { checksum: Checksum::new(algorithm), expected })
    }

    /// Check an already computed checksum (the aws-chunked decoder computes it while the value is
    /// still on its way in the trailer).
    pub(crate) fn with_checksum(checksum: Checksum, expected: Vec<u8>) -> Self {
        ChecksumCheck { checksum, expected }
    }

    pub fn algorithm(&self) -> ChecksumAlgorithm {
        self.checksum.algorithm()
    }

    pub fn update(&mut self, bytes: &[u8]) {
        self.checksum.update(bytes);
    }

    /// BadDigest unless the bytes fed match the expected value.
    pub fn verify(self) -> S3Result<()> {
        let algorithm = self.checksum.algorithm();
        if self.checksum.finish() == self.expected {
            Ok(())
        } else {
            Err(bad_digest(algorithm))
        }
    }
}

impl BodyCheck for ChecksumCheck {
    fn update(&mut self, bytes: &[u8]) {
        ChecksumCheck::update(self, bytes);
    }

    fn finish(self: Box<Self>) -> S3Result<()> {
        self.verify()
    }
}

/// The body must match its `Content-MD5` header (base64 of the 16-byte MD5).
pub struct ContentMd5Check {
    hasher: Md5,
    expected: [u8; 16],
}

impl ContentMd5Check {
    /// A value that is not base64 of 16 bytes is InvalidDigest, as S3 answers.
    pub fn new(content_md5: &str) -> S3Result<Self> {
        let expected = base64::decode(content_md5.trim())
            .ok()
            .and_then(|digest| <[u8; 16]>::try_from(digest).ok())
            .ok_or_else(|| s3_error!(InvalidDigest, "The Content-MD5 you specified is not valid."))?;
        Ok(ContentMd5Check { hasher: Md5::new(), expected })
    }

    pub fn update(&mut self, bytes: &[u8]) {
        self.hasher.update(bytes);
    }

    /// BadDigest unless the bytes fed hash to the header's value.
    pub fn verify(self) -> S3Result<()> {
        let actual: [u8; 16] = self.hasher.finalize().into();
        if actual == self.expected {
            Ok(())
        } else {
            Err(s3_error!(BadDigest, "The Content-MD5 you specified did not match what we received."))
        }
    }
}

impl fmt::Debug for ContentMd5Check {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "ContentMd5Check({})", base64::encode(&self.expected))
    }
}

impl BodyCheck for ContentMd5Check {
    fn update(&mut self, bytes: &[u8]) {
        ContentMd5Check::update(self, bytes);
    }

    fn finish(self: Box<Self>) -> S3Result<()> {
        self.verify()
    }
}

/// The additional checksum a request declares for its body.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RequestChecksum {
    /// No `x-amz-checksum-*` header and no trailer.
    None,
    /// `x-amz-checksum-<algorithm>: <value>` among the headers; the value is not yet validated
    /// ([`ChecksumCheck::new`] does that).
    Header { algorithm: ChecksumAlgorithm, value: String },
    /// `x-amz-trailer: x-amz-checksum-<algorithm>`: the value follows an aws-chunked body.
    Trailer(ChecksumAlgorithm),
}

impl RequestChecksum {
    pub fn algorithm(&self) -> Option<ChecksumAlgorithm> {
        match self {
            RequestChecksum::None => None,
            RequestChecksum::Header { algorithm, .. } | RequestChecksum::Trailer(algorithm) => Some(*algorithm),
        }
    }

    /// The check for a header checksum; `None` for none or a trailer (the aws-chunked decoder
    /// checks trailers).
    pub fn header_check(&self) -> S3Result<Option<ChecksumCheck>> {
        match self {
            RequestChecksum::Header { algorithm, value } => ChecksumCheck::new(*algorithm, value).map(Some),
            RequestChecksum::None | RequestChecksum::Trailer(_) => Ok(None),
        }
    }
}

/// The checksum a request declares, with S3's rules: at most one `x-amz-checksum-*` value or
/// trailer, a known algorithm, and `x-amz-sdk-checksum-algorithm` (when sent) naming the same one.
pub fn request_checksum(head: &RequestHead) -> S3Result<RequestChecksum> {
    let mut declared: Option<RequestChecksum> = None;
    let mut declare = |checksum: RequestChecksum| {
        if declared.as_ref().is_some_and(|seen| seen != &checksum) {
            return Err(s3_error!(
                InvalidRequest,
                "Expecting a single x-amz-checksum- header. Multiple checksum Types are not allowed."
            ));
        }
        declared = Some(checksum);
        Ok(())
    };
    for (name, value) in &head.headers {
        let lower = name.to_ascii_lowercase();
        if !lower.starts_with(CHECKSUM_HEADER_PREFIX) || CHECKSUM_HEADERS_NOT_VALUES.contains(&lower.as_str()) {
            continue;
        }
        let algorithm = ChecksumAlgorithm::from_header_name(&lower).ok_or_else(|| {
            s3_error!(InvalidRequest, "The algorithm type you specified in x-amz-checksum- header is invalid.")
        })?;
        declare(RequestChecksum::Header { algorithm, value: value.trim().to_string() })?;
    }
    if let Some(trailer) = head.header(TRAILER_HEADER) {
        let algorithm = ChecksumAlgorithm::from_header_name(trailer).ok_or_else(|| {
            s3_error!(InvalidRequest, "The value specified in the x-amz-trailer header is not supported")
        })?;
        declare(RequestChecksum::Trailer(algorithm))?;
    }
    let declared = declared.unwrap_or(RequestChecksum::None);
    if let Some(sdk_algorithm) = head.header(SDK_CHECKSUM_ALGORITHM_HEADER) {
        let invalid = || s3_error!(InvalidRequest, "Value for {SDK_CHECKSUM_ALGORITHM_HEADER} header is invalid.");
        let sdk_algorithm = ChecksumAlgorithm::from_name(sdk_algorithm).ok_or_else(invalid)?;
        match declared.algorithm() {
            Some(algorithm) if algorithm != sdk_algorithm => return Err(invalid()),
            Some(_) => {}
            None => {
                return Err(s3_error!(
                    InvalidRequest,
                    "x-amz-sdk-checksum-algorithm specified, but no corresponding x-amz-checksum-* or x-amz-trailer \
                     headers were found."
                ))
            }
        }
    }
    Ok(declared)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::s3::S3ErrorCode;

    /// 1 MiB of a byte pattern, the same as in the Python that computed the expected values.
    fn pattern() -> Vec<u8> {
        (0..1usize << 20).map(|i| ((i * 31 + 7) & 0xff) as u8).collect()
    }

    /// Expected values computed independently (Python's zlib and hashlib, and a bitwise reference
    /// CRC for CRC32C and CRC64/NVME checked against their catalogue check values). "hello world"
    /// CRC64NVME and the "abcdefg" values also appear in S3's own responses.
    fn vectors() -> Vec<(Vec<u8>, [&'static str; 5])> {
        vec![
            (
                b"".to_vec(),
                [
                    "AAAAAA==",
                    "AAAAAA==",
                    "AAAAAAAAAAA=",
                    "2jmj7l5rSw0yVb/vlWAYkK/YBwk=",
                    "47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU=",
                ],
            ),
            (
                b"hello world".to_vec(),
                [
                    "DUoRhQ==",
                    "yZRlqg==",
                    "jSnVw/bqjr4=",
                    "Kq5sNclPz7QV2+lfQIuc6R7oRu0=",
                    "uU0nuZNNPgilLlLX2n2r+sSE7+N6U4DukIj3rOLvzek=",
                ],
            ),
            (
                b"abcdefg".to_vec(),
                [
                    "MSpqpg==",
                    "5if0QQ==",
                    "SmzZ/LTp1CA=",
                    "L7XhNBn8iSRoZeejJPR27GJOh0A=",
                    "fRpUEnsiJQL1t5tfsIAwYRUqRPkrN+I8ZSe69mXU2po=",
                ],
            ),
            (
                pattern(),
                [
                    "1CS9wQ==",
                    "/1vj/A==",
                    "nWrsVNogmeU=",
                    "lUIWELjd2GyG4yab/STSp5GZJF8=",
                    "Bre7+3gkqgM4IFFpFjDrJt6FEC0bCKgekH7AdEzYooY=",
                ],
            ),
        ]
    }

    #[test]
    fn catalogue_check_values() {
        let check = |algorithm| Checksum::new(algorithm);
        let mut crc32c = check(ChecksumAlgorithm::Crc32c);
        crc32c.update(b"123456789");
        assert_eq!(crc32c.finish(), 0xE306_9283u32.to_be_bytes());
        let mut crc64 = check(ChecksumAlgorithm::Crc64Nvme);
        crc64.update(b"123456789");
        assert_eq!(crc64.finish(), 0xAE8B_1486_0A79_9888u64.to_be_bytes());
        let mut crc32 = check(ChecksumAlgorithm::Crc32);
        crc32.update(b"123456789");
        assert_eq!(crc32.finish(), 0xCBF4_3926u32.to_be_bytes());
    }

    #[test]
    fn known_values_whole_and_in_uneven_pieces() {
        for (body, expected) in vectors() {
            for (algorithm, expected) in ChecksumAlgorithm::ALL.into_iter().zip(expected) {
                assert_eq!(checksum_base64(algorithm, &body), expected, "{algorithm} of {} bytes", body.len());
                for piece in [1, 3, 4093, 65_536] {
                    if body.len() > 100_000 && piece < 1000 {
                        continue;
                    }
                    let mut checksum = Checksum::new(algorithm);
                    for chunk in body.chunks(piece) {
                        checksum.update(chunk);
                    }
                    assert_eq!(checksum.algorithm(), algorithm);
                    let digest = checksum.finish();
                    assert_eq!(digest.len(), algorithm.digest_len());
                    assert_eq!(base64::encode(&digest), expected, "{algorithm} in pieces of {piece}");
                }
                // Pieces of growing, uneven sizes.
                let mut checksum = Checksum::new(algorithm);
                let (mut at, mut step) = (0, 1);
                while at < body.len() {
                    let end = (at + step).min(body.len());
                    checksum.update(&body[at..end]);
                    at = end;
                    step = step * 3 + 1;
                }
                assert_eq!(checksum.finish_base64(), expected, "{algorithm} in growing pieces");
            }
        }
    }

    #[test]
    fn names_and_headers_round_trip() {
        for algorithm in ChecksumAlgorithm::ALL {
            assert_eq!(ChecksumAlgorithm::from_name(algorithm.name()), Some(algorithm));
            assert_eq!(ChecksumAlgorithm::from_name(&algorithm.name().to_lowercase()), Some(algorithm));
            assert_eq!(ChecksumAlgorithm::from_header_name(algorithm.header_name()), Some(algorithm));
            assert_eq!(ChecksumAlgorithm::from_header_name(&algorithm.header_name().to_uppercase()), Some(algorithm));
            assert_eq!(algorithm.header_name(), format!("x-amz-checksum-{}", algorithm.name().to_lowercase()));
            assert_eq!(algorithm.to_string(), algorithm.name());
        }
        assert_eq!(ChecksumAlgorithm::from_name("MD5"), None);
        assert_eq!(ChecksumAlgorithm::from_name("CRC64"), None);
        assert_eq!(ChecksumAlgorithm::from_header_name("x-amz-checksum-md5"), None);
        assert_eq!(ChecksumAlgorithm::from_header_name("content-md5"), None);
    }

    #[test]
    fn checksum_check_accepts_the_body_and_rejects_another() {
        let mut check = Box::new(ChecksumCheck::new(ChecksumAlgorithm::Crc32, "DUoRhQ==").unwrap());
        check.update(b"hello ");
        check.update(b"world");
        assert!(BodyCheck::finish(check).is_ok());

        for algorithm in ChecksumAlgorithm::ALL {
            let mut check =
                Box::new(ChecksumCheck::new(algorithm, &checksum_base64(algorithm, b"hello world")).unwrap());
            check.update(b"hello World");
            let err = BodyCheck::finish(check).unwrap_err();
            assert_eq!(err.code, S3ErrorCode::BadDigest);
            assert_eq!(err.message, format!("The {} you specified did not match the calculated checksum.", algorithm));
        }
    }

    #[test]
    fn malformed_checksum_values_are_invalid_requests() {
        for (algorithm, value) in [
            (ChecksumAlgorithm::Crc32, "DUoRhQAA"),
            (ChecksumAlgorithm::Crc32, "not base64!"),
            (ChecksumAlgorithm::Crc32, ""),
            (ChecksumAlgorithm::Crc64Nvme, "DUoRhQ=="),
            (ChecksumAlgorithm::Sha256, "2jmj7l5rSw0yVb/vlWAYkK/YBwk="),
        ] {
            let err = ChecksumCheck::new(algorithm, value).unwrap_err();
            assert_eq!(err.code, S3ErrorCode::InvalidRequest, "{algorithm} {value:?}");
            assert_eq!(err.message, format!("Value for {} header is invalid.", algorithm.header_name()));
            let err = ChecksumCheck::from_trailer(algorithm, value).unwrap_err();
            assert_eq!(err.code, S3ErrorCode::InvalidRequest);
            assert_eq!(err.message, format!("Value for {} trailing header is invalid.", algorithm.header_name()));
        }
        // Unpadded base64 of the right length is accepted, as is surrounding whitespace.
        assert!(ChecksumCheck::new(ChecksumAlgorithm::Crc32, " DUoRhQ ").is_ok());
        assert!(ChecksumCheck::new(ChecksumAlgorithm::Crc32, "DUoRhQ").is_ok());
    }

    #[test]
    fn content_md5_check() {
        let mut check = Box::new(ContentMd5Check::new("XrY7u+Ae7tCTyyK7j1rNww==").unwrap());
        check.update(b"hello");
        check.update(b" world");
        assert!(BodyCheck::finish(check).is_ok());

        let mut check = Box::new(ContentMd5Check::new("XrY7u+Ae7tCTyyK7j1rNww==").unwrap());
        check.update(b"hello");
        let err = BodyCheck::finish(check).unwrap_err();
        assert_eq!(err.code, S3ErrorCode::BadDigest);

        let empty = Box::new(ContentMd5Check::new("1B2M2Y8AsgTpgAmY7PhCfg==").unwrap());
        assert!(BodyCheck::finish(empty).is_ok());

        // Hex instead of base64, 15 or 17 bytes, garbage.
        for value in ["5eb63bbbe01eeed093cb22bb8f5acdc3", "XrY7u+Ae7tCTyyK7j1rN", "XrY7u+Ae7tCTyyK7j1rNw+8=", "!", ""] {
            assert_eq!(ContentMd5Check::new(value).unwrap_err().code, S3ErrorCode::InvalidDigest, "{value:?}");
        }
        assert!(format!("{:?}", ContentMd5Check::new("1B2M2Y8AsgTpgAmY7PhCfg==").unwrap()).contains("1B2M2Y8"));
    }

    fn head(headers: &[(&str, &str)]) -> RequestHead {
        RequestHead {
            method: "PUT".into(),
            headers: headers.iter().map(|(n, v)| (n.to_ascii_lowercase(), v.to_string())).collect(),
            ..RequestHead::default()
        }
    }

    #[test]
    fn request_checksum_reads_headers_and_trailers() {
        assert_eq!(request_checksum(&head(&[])).unwrap(), RequestChecksum::None);
        assert_eq!(
            request_checksum(&head(&[("x-amz-checksum-crc32", "DUoRhQ==")])).unwrap(),
            RequestChecksum::Header { algorithm: ChecksumAlgorithm::Crc32, value: "DUoRhQ==".into() }
        );
        assert_eq!(
            request_checksum(&head(&[
                ("X-Amz-Checksum-CRC64NVME", "jSnVw/bqjr4="),
                ("x-amz-sdk-checksum-algorithm", "crc64nvme")
            ]))
            .unwrap(),
            RequestChecksum::Header { algorithm: ChecksumAlgorithm::Crc64Nvme, value: "jSnVw/bqjr4=".into() }
        );
        let trailer = request_checksum(&head(&[
            ("x-amz-trailer", "x-amz-checksum-crc32c"),
            ("x-amz-sdk-checksum-algorithm", "CRC32C"),
        ]))
        .unwrap();
        assert_eq!(trailer, RequestChecksum::Trailer(ChecksumAlgorithm::Crc32c));
        assert!(trailer.header_check().unwrap().is_none());
        // Not checksum values: ignored.
        assert_eq!(
            request_checksum(&head(&[("x-amz-checksum-algorithm", "SHA256"), ("x-amz-checksum-type", "COMPOSITE")]))
                .unwrap(),
            RequestChecksum::None
        );
        let header = RequestChecksum::Header { algorithm: ChecksumAlgorithm::Sha1, value: "x".into() };
        assert_eq!(header.header_check().unwrap_err().code, S3ErrorCode::InvalidRequest);
    }

    #[test]
    fn request_checksum_refuses_what_s3_refuses() {
        let message = |headers: &[(&str, &str)]| {
            let err = request_checksum(&head(headers)).unwrap_err();
            assert_eq!(err.code, S3ErrorCode::InvalidRequest, "{headers:?}");
            err.message
        };
        let multiple = "Expecting a single x-amz-checksum- header. Multiple checksum Types are not allowed.";
        assert_eq!(message(&[("x-amz-checksum-crc32", "DUoRhQ=="), ("x-amz-checksum-sha1", "x")]), multiple);
        assert_eq!(
            message(&[("x-amz-trailer", "x-amz-checksum-crc64nvme"), ("x-amz-checksum-crc32", "NhCmhg==")]),
            multiple
        );
        assert_eq!(
            message(&[("x-amz-checksum-md5", "XrY7u+Ae7tCTyyK7j1rNww==")]),
            "The algorithm type you specified in x-amz-checksum- header is invalid."
        );
        assert_eq!(
            message(&[("x-amz-trailer", "x-amz-meta-foo")]),
            "The value specified in the x-amz-trailer header is not supported"
        );
        let invalid_sdk = "Value for x-amz-sdk-checksum-algorithm header is invalid.";
        assert_eq!(
            message(&[("x-amz-sdk-checksum-algorithm", "crc32"), ("x-amz-checksum-crc32c", "ImIEBA==")]),
            invalid_sdk
        );
        assert_eq!(
            message(&[("x-amz-sdk-checksum-algorithm", "sha1"), ("x-amz-trailer", "x-amz-checksum-crc64nvme")]),
            invalid_sdk
        );
        assert_eq!(message(&[("x-amz-sdk-checksum-algorithm", "MD5"), ("x-amz-checksum-crc32", "x")]), invalid_sdk);
        assert!(message(&[("x-amz-sdk-checksum-algorithm", "CRC32")]).starts_with("x-amz-sdk-checksum-algorithm"));
    }
}
