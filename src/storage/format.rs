//! The stored object format of encrypted projects, version 1 (docs/FORMAT.md has the full
//! specification, the threat model and test vectors).
//!
//! An object (or each part of a multipart object) is a sequence of records, each 64 KiB of
//! plaintext sealed with AES-256-GCM under the object's own random key:
//!
//! ```text
//! record = locator (8) || nonce (12) || ciphertext (= plaintext length, <= 65536) || tag (16)
//! locator = part (u32 BE) || last flag (top bit) | record index within the part (31 bits, BE)
//! aad     = "portico record v1" || locator
//! ```
//!
//! The object key is wrapped under a key derived from the bucket key and bound to the object's
//! name; the stored content headers are sealed under the object key. Both travel as node object
//! metadata ([`KEY_HEADER`], [`METADATA_HEADER`]).
//!
//! Everything here is pure: randomness (keys, nonces) comes in from the caller, and the runtime
//! adapters (`cipher`, `record_stream`) may do the bulk AES-GCM with WebCrypto, which produces the
//! same bytes as the RustCrypto code here: [`split_record`] and [`record_header`] frame records
//! for them. Every constant in this file is part of the stored format and must never change
//! without a new format version.

use std::fmt;

use aes_gcm::aead::{AeadInOut, KeyInit};
use aes_gcm::{Aes256Gcm, Nonce, Tag};
use hmac::{Hmac, Mac};
use sha2::Sha256;

use crate::auth::grant::BucketKey;
use crate::auth::secret::wipe;
use crate::base64;
use crate::s3::range::ByteRangeSpec;

/// Plaintext bytes in every record but the last of a part (or single-part object).
pub const RECORD_PLAINTEXT: usize = 65536;
/// Locator bytes at the start of a record.
pub const LOCATOR_LEN: usize = 8;
/// Nonce bytes after the locator.
pub const NONCE_LEN: usize = 12;
/// AES-GCM tag bytes at the end of a record.
pub const TAG_LEN: usize = 16;
/// Bytes before a record's ciphertext: locator and nonce.
pub const RECORD_HEADER_LEN: usize = LOCATOR_LEN + NONCE_LEN;
/// Bytes a record adds to its plaintext: locator, nonce and tag.
pub const RECORD_OVERHEAD: usize = RECORD_HEADER_LEN + TAG_LEN;
/// Bytes of a full record on the node.
pub const RECORD_CIPHERTEXT: usize = RECORD_PLAINTEXT + RECORD_OVERHEAD;
/// The highest record index a locator can carry (31 bits).
pub const MAX_RECORD_INDEX: u32 = (1 << 31) - 1;
/// The highest part number of a multipart upload (part 0 is a single-part object).
pub const MAX_PART_NUMBER: u32 = 10_000;

/// Node metadata header holding the wrapped object key.
pub const KEY_HEADER: &str = "x-amz-meta-portico-key";
/// Node metadata header holding the sealed content headers and user metadata.
pub const METADATA_HEADER: &str = "x-amz-meta-portico-meta";

/// First byte of a wrapped key and of sealed metadata.
pub const FORMAT_VERSION: u8 = 1;

const RECORD_AAD_LABEL: &[u8; 17] = b"portico record v1";
/// Bytes of a record's additional data ([`Locator::aad`]).
pub const RECORD_AAD_LEN: usize = RECORD_AAD_LABEL.len() + LOCATOR_LEN;
const KEY_WRAP_LABEL: &[u8] = b"portico key wrap v1";
const KEY_AAD_LABEL: &[u8] = b"portico key v1\0";
const METADATA_AAD: &[u8] = b"portico meta v1";
const LAST_FLAG: u32 = 1 << 31;
/// Bytes of a wrapped key: version, nonce, encrypted key, tag.
const WRAPPED_KEY_LEN: usize = 1 + NONCE_LEN + 32 + TAG_LEN;
/// Characters of a wrapped key in unpadded base64.
const WRAPPED_KEY_CHARS: usize = (WRAPPED_KEY_LEN * 8).div_ceil(6);

const PLAIN: u64 = RECORD_PLAINTEXT as u64;
const CIPHER: u64 = RECORD_CIPHERTEXT as u64;
const OVERHEAD: u64 = RECORD_OVERHEAD as u64;

/// Why stored bytes, a name or a request do not fit the format. `Unsatisfiable` is the client's
/// (416); every other variant means the node's bytes are not what the gateway wrote.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum FormatError {
    /// The requested range starts beyond the object's plaintext: `InvalidRange` with
    /// `Content-Range: bytes */plaintext_total`.
    Unsatisfiable { plaintext_total: u64 },
    /// A record shorter than its overhead or longer than a full record.
    RecordLength(usize),
    /// A record failed authentication (tampered, another object's, or moved within the object).
    RecordUnauthentic,
    /// A record is authentic but out of place; `at` is its global index in the node object.
    OutOfSequence { at: u64, locator: Locator, reason: &'static str },
    /// The read reached the object's end but its last record is missing.
    Truncated,
    /// A node object size that no sequence of records has.
    CiphertextLength(u64),
    /// The node answered a range that does not match the records the plan asked for.
    Misaligned { node_first_byte: u64 },
    /// A wrapped key or sealed metadata of an unknown format version.
    UnknownVersion(u8),
    /// A wrapped key that is not base64 or not of the wrapped-key length.
    MalformedKey,
    /// The wrapped key does not open with this bucket key for this object name.
    KeyUnauthentic,
    /// Sealed metadata that is not base64 or too short.
    MalformedMetadata,
    /// Sealed metadata that does not open with the object key, or is not a list of pairs.
    MetadataUnauthentic,
}

impl fmt::Display for FormatError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            FormatError::Unsatisfiable { plaintext_total } => {
                write!(f, "the range is not satisfiable for an object of {plaintext_total} bytes")
            }
            FormatError::RecordLength(len) => write!(f, "a record of {len} bytes"),
            FormatError::RecordUnauthentic => f.write_str("a record failed authentication"),
            FormatError::OutOfSequence { at, locator, reason } => write!(
                f,
                "record {at} (part {}, index {}{}) is out of sequence: {reason}",
                locator.part,
                locator.index,
                if locator.last { ", last" } else { "" }
            ),
            FormatError::Truncated => f.write_str("the object ends without its last record"),
            FormatError::CiphertextLength(len) => write!(f, "{len} bytes is not a length of encrypted records"),
            FormatError::Misaligned { node_first_byte } => {
                write!(f, "the node's range starts at byte {node_first_byte}, not at the planned record")
            }
            FormatError::UnknownVersion(version) => write!(f, "unknown format version {version}"),
            FormatError::MalformedKey => f.write_str("the wrapped object key is malformed"),
            FormatError::KeyUnauthentic => {
                f.write_str("the wrapped object key does not open with this bucket key and object name")
            }
            FormatError::MalformedMetadata => f.write_str("the sealed metadata is malformed"),
            FormatError::MetadataUnauthentic => f.write_str("the sealed metadata does not open with the object key"),
        }
    }
}

impl std::error::Error for FormatError {}

/// An object's content key: 32 random bytes per PUT (or per multipart upload, shared by its
/// parts). `Debug` hides it; the bytes are wiped on drop (best effort).
pub struct ObjectKey([u8; 32]);

impl ObjectKey {
    /// A key from fresh random bytes (the caller's generator).
    pub fn from_bytes(bytes: [u8; 32]) -> Self {
        ObjectKey(bytes)
    }

    pub fn as_bytes(&self) -> &[u8; 32] {
        &self.0
    }
}

impl Clone for ObjectKey {
    fn clone(&self) -> Self {
        ObjectKey(self.0)
    }
}

impl fmt::Debug for ObjectKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("ObjectKey(<redacted>)")
    }
}

impl Drop for ObjectKey {
    fn drop(&mut self) {
        wipe(&mut self.0);
    }
}

/// Where a record belongs: sent in clear at the start of the record and authenticated as AAD,
/// so a record cannot be moved within its object without failing the [`SequenceCheck`] or
/// authentication.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Locator {
    /// 0 for a single-part object; 1..=10000 for a part of a multipart object.
    pub part: u32,
    /// The record's index within its part (31 bits).
    pub index: u32,
    /// The last record of its part (or single-part object).
    pub last: bool,
}

impl Locator {
    /// `part` (u32 BE) then `last << 31 | index` (u32 BE). An index beyond 31 bits (a 128 TiB
    /// part) is a caller bug: it is masked, and the record then fails the sequence check.
    pub fn encode(&self) -> [u8; LOCATOR_LEN] {
        debug_assert!(self.index <= MAX_RECORD_INDEX, "record index beyond 31 bits");
        let word = (self.index & MAX_RECORD_INDEX) | if self.last { LAST_FLAG } else { 0 };
        let mut bytes = [0u8; LOCATOR_LEN];
        bytes[..4].copy_from_slice(&self.part.to_be_bytes());
        bytes[4..].copy_from_slice(&word.to_be_bytes());
        bytes
    }

    pub fn decode(bytes: &[u8; LOCATOR_LEN]) -> Locator {
        let part = u32::from_be_bytes([bytes[0], bytes[1], bytes[2], bytes[3]]);
        let word = u32::from_be_bytes([bytes[4], bytes[5], bytes[6], bytes[7]]);
        Locator { part, index: word & MAX_RECORD_INDEX, last: word & LAST_FLAG != 0 }
    }

    /// The record's AES-GCM additional data: `"portico record v1" || locator`.
    pub fn aad(&self) -> [u8; RECORD_AAD_LEN] {
        let mut aad = [0u8; RECORD_AAD_LEN];
        aad[..RECORD_AAD_LABEL.len()].copy_from_slice(RECORD_AAD_LABEL);
        aad[RECORD_AAD_LABEL.len()..].copy_from_slice(&self.encode());
        aad
    }
}

/// The first [`RECORD_HEADER_LEN`] bytes of a record: locator and nonce. A record is this,
/// then AES-GCM's ciphertext || tag over the plaintext with [`Locator::aad`].
pub fn record_header(locator: Locator, nonce: &[u8; NONCE_LEN]) -> [u8; RECORD_HEADER_LEN] {
    let mut header = [0u8; RECORD_HEADER_LEN];
    header[..LOCATOR_LEN].copy_from_slice(&locator.encode());
    header[LOCATOR_LEN..].copy_from_slice(nonce);
    header
}

/// Bytes of a record's cipher parameters in a [`RecordBatch`]: nonce, then additional data.
pub const BATCH_PARAMS_LEN: usize = NONCE_LEN + RECORD_AAD_LEN;

/// Records to seal or open in one call of the cipher (one crossing into WebCrypto's JavaScript
/// for many records): where each lies in a buffer held elsewhere, its cipher parameters (nonce,
/// then [`Locator::aad`], [`BATCH_PARAMS_LEN`] bytes a record) and the header a sealed record is
/// framed with ([`record_header`]), each list flat, in record order.
pub struct RecordBatch {
    spans: Vec<u32>,
    params: Vec<u8>,
    headers: Vec<u8>,
}

impl RecordBatch {
    pub fn with_capacity(records: usize) -> Self {
        RecordBatch {
            spans: Vec::with_capacity(2 * records),
            params: Vec::with_capacity(BATCH_PARAMS_LEN * records),
            headers: Vec::with_capacity(RECORD_HEADER_LEN * records),
        }
    }

    /// Add the record whose input is `len` bytes at `start` of the batch's buffer.
    pub fn push(&mut self, start: u32, len: u32, locator: Locator, nonce: &[u8; NONCE_LEN]) {
        self.spans.extend([start, len]);
        self.params.extend_from_slice(nonce);
        self.params.extend_from_slice(&locator.aad());
        self.headers.extend_from_slice(&record_header(locator, nonce));
    }

    /// Start and length of each record's input, two numbers a record.
    pub fn spans(&self) -> &[u32] {
        &self.spans
    }

    /// Each record's nonce and additional data, [`BATCH_PARAMS_LEN`] bytes a record.
    pub fn params(&self) -> &[u8] {
        &self.params
    }

    /// Each record's header, [`RECORD_HEADER_LEN`] bytes a record.
    pub fn headers(&self) -> &[u8] {
        &self.headers
    }

    /// Each record's input span (start, length), nonce and additional data.
    pub fn records(&self) -> impl Iterator<Item = (u32, u32, &[u8], &[u8])> {
        self.spans.chunks_exact(2).zip(self.params.chunks_exact(BATCH_PARAMS_LEN)).map(|(span, params)| {
            let (nonce, aad) = params.split_at(NONCE_LEN);
            (span[0], span[1], nonce, aad)
        })
    }
}

/// A record from AES-GCM output computed elsewhere (WebCrypto): header || ciphertext || tag.
pub fn frame_record(locator: Locator, nonce: &[u8; NONCE_LEN], ciphertext_and_tag: &[u8]) -> Vec<u8> {
    let mut record = Vec::with_capacity(RECORD_HEADER_LEN + ciphertext_and_tag.len());
    record.extend_from_slice(&record_header(locator, nonce));
    record.extend_from_slice(ciphertext_and_tag);
    record
}

/// A record's locator, nonce and ciphertext || tag, for decryption elsewhere (WebCrypto). Checks
/// the length only: authenticity is the decryption's.
pub fn split_record(record: &[u8]) -> Result<(Locator, [u8; NONCE_LEN], &[u8]), FormatError> {
    let header = record.get(..RECORD_HEADER_LEN).ok_or(FormatError::RecordLength(record.len()))?;
    let (locator, nonce) = read_record_header(header.try_into().expect("RECORD_HEADER_LEN bytes"), record.len())?;
    Ok((locator, nonce, &record[RECORD_HEADER_LEN..]))
}

/// The locator and nonce of a record of `record_len` bytes from its first bytes alone, so a
/// record held elsewhere (a JS buffer) need not be copied whole to be framed. Checks the length.
pub fn read_record_header(
    header: &[u8; RECORD_HEADER_LEN],
    record_len: usize,
) -> Result<(Locator, [u8; NONCE_LEN]), FormatError> {
    if !(RECORD_OVERHEAD..=RECORD_CIPHERTEXT).contains(&record_len) {
        return Err(FormatError::RecordLength(record_len));
    }
    let (locator, nonce) = header.split_at(LOCATOR_LEN);
    let locator = Locator::decode(locator.try_into().expect("split at LOCATOR_LEN"));
    Ok((locator, nonce.try_into().expect("split at NONCE_LEN")))
}

/// AES-256-GCM under one object key (RustCrypto), for sealing and opening many records without
/// expanding the key each time.
pub struct RecordCipher(Box<Aes256Gcm>);

impl RecordCipher {
    pub fn new(key: &ObjectKey) -> Self {
        RecordCipher(Box::new(Aes256Gcm::new(key.as_bytes().into())))
    }

    /// Append the record of `plaintext` (at most [`RECORD_PLAINTEXT`] bytes) to `out`.
    /// `nonce` must be fresh randomness: it is never derived from the locator.
    pub fn seal_into(&self, locator: Locator, nonce: [u8; NONCE_LEN], plaintext: &[u8], out: &mut Vec<u8>) {
        debug_assert!(plaintext.len() <= RECORD_PLAINTEXT, "a record holds at most 64 KiB");
        out.reserve(RECORD_OVERHEAD + plaintext.len());
        out.extend_from_slice(&record_header(locator, &nonce));
        let start = out.len();
        out.extend_from_slice(plaintext);
        let tag = self
            .0
            .encrypt_inout_detached(&Nonce::from(nonce), &locator.aad(), (&mut out[start..]).into())
            .expect("AES-GCM encrypts any record-sized plaintext");
        out.extend_from_slice(&tag);
    }

    /// Authenticate and decrypt one record, appending its plaintext to `out` (nothing is
    /// appended on failure). The locator is authenticated but not checked against a position:
    /// that is [`SequenceCheck`]'s.
    pub fn open_into(&self, record: &[u8], out: &mut Vec<u8>) -> Result<Locator, FormatError> {
        let (locator, nonce, sealed) = split_record(record)?;
        let (ciphertext, tag) = sealed.split_at(sealed.len() - TAG_LEN);
        let tag = Tag::try_from(tag).expect("split at TAG_LEN");
        let start = out.len();
        out.extend_from_slice(ciphertext);
        match self.0.decrypt_inout_detached(&Nonce::from(nonce), &locator.aad(), (&mut out[start..]).into(), &tag) {
            Ok(()) => Ok(locator),
            Err(_) => {
                out.truncate(start);
                Err(FormatError::RecordUnauthentic)
            }
        }
    }
}

impl fmt::Debug for RecordCipher {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("RecordCipher(<redacted>)")
    }
}

/// One record of `plaintext` (at most 64 KiB). For many records, keep a [`RecordCipher`].
pub fn seal_record(key: &ObjectKey, locator: Locator, nonce: [u8; NONCE_LEN], plaintext: &[u8]) -> Vec<u8> {
    let mut record = Vec::new();
    RecordCipher::new(key).seal_into(locator, nonce, plaintext, &mut record);
    record
}

/// The locator and plaintext of one authentic record.
pub fn open_record(key: &ObjectKey, record: &[u8]) -> Result<(Locator, Vec<u8>), FormatError> {
    let mut plaintext = Vec::new();
    let locator = RecordCipher::new(key).open_into(record, &mut plaintext)?;
    Ok((locator, plaintext))
}

/// Node bytes of a part (or single-part object) of `plaintext` bytes: one record per started
/// 64 KiB, and one (empty) record for an empty part. Saturates beyond u64.
pub fn ciphertext_len(plaintext: u64) -> u64 {
    let records = plaintext.div_ceil(PLAIN).max(1);
    records.saturating_mul(OVERHEAD).saturating_add(plaintext)
}

/// Plaintext bytes of a node object (or part) of `ciphertext` bytes: full records, then a last
/// record of 36..=65572 bytes. Exact for multipart objects too, since every part but the last is
/// whole full records.
pub fn plaintext_len(ciphertext: u64) -> Result<u64, FormatError> {
    let (full, rest) = (ciphertext / CIPHER, ciphertext % CIPHER);
    match rest {
        0 if full == 0 => Err(FormatError::CiphertextLength(ciphertext)),
        0 => Ok(full * PLAIN),
        rest if rest < OVERHEAD => Err(FormatError::CiphertextLength(ciphertext)),
        rest => Ok(full * PLAIN + rest - OVERHEAD),
    }
}

/// Rechunks a stream of byte slices into fixed-size chunks: 64 KiB plaintext records to seal,
/// or 65572-byte node records to open. Pull-based, so the caller's crypto may be async: `push`
/// what arrived, take chunks with `next_full` until `None`, and take the rest with `finish` at the
/// end of the stream. Each byte is copied in once and moved at most once more (the remainder
/// after a chunk was taken), whatever the size of the pieces.
pub struct RecordSplitter {
    chunk: usize,
    /// Hand out a full chunk only once a byte beyond it arrived (sealing: the last record of a
    /// part carries the last flag, even when it is full).
    hold_last: bool,
    buffer: Vec<u8>,
    start: usize,
    /// Input bytes still to discard before the first chunk.
    discard: u64,
}

impl RecordSplitter {
    /// For sealing: chunks of [`RECORD_PLAINTEXT`], holding back the last full one until more
    /// input (or `finish`) shows whether it is the part's last.
    pub fn for_sealing() -> Self {
        Self::new(RECORD_PLAINTEXT, true)
    }

    /// For opening: chunks of [`RECORD_CIPHERTEXT`]; the short last record comes from `finish`.
    /// `discard` input bytes are dropped first ([`Window::node_skip`]).
    pub fn for_opening(discard: u64) -> Self {
        let mut splitter = Self::new(RECORD_CIPHERTEXT, false);
        splitter.discard = discard;
        splitter
    }

    fn new(chunk: usize, hold_last: bool) -> Self {
        RecordSplitter { chunk, hold_last, buffer: Vec::with_capacity(2 * chunk), start: 0, discard: 0 }
    }

    /// Bytes of every chunk but the last.
    pub fn chunk_len(&self) -> usize {
        self.chunk
    }

    /// Bytes pushed and not handed out yet.
    pub fn buffered(&self) -> usize {
        self.buffer.len() - self.start
    }

    pub fn push(&mut self, mut bytes: &[u8]) {
        if self.discard > 0 {
            let dropped = bytes.len().min(usize::try_from(self.discard).unwrap_or(usize::MAX));
            self.discard -= dropped as u64;
            bytes = &bytes[dropped..];
        }
        if self.start > 0 {
            // Only after a chunk was taken: moves the remainder once.
            self.buffer.drain(..self.start);
            self.start = 0;
        }
        self.buffer.extend_from_slice(bytes);
    }

    /// The next full chunk, if one is ready.
    pub fn next_full(&mut self) -> Option<&[u8]> {
        let ready = if self.hold_last { self.buffered() > self.chunk } else { self.buffered() >= self.chunk };
        if !ready {
            return None;
        }
        let chunk = &self.buffer[self.start..self.start + self.chunk];
        self.start += self.chunk;
        Some(chunk)
    }

    /// What remains at the end of the stream: the last chunk (possibly full, possibly empty).
    /// Call after `next_full` returned `None`.
    pub fn finish(&mut self) -> &[u8] {
        let rest = &self.buffer[self.start..];
        self.start = self.buffer.len();
        rest
    }
}

impl fmt::Debug for RecordSplitter {
    /// Lengths only: the buffer holds plaintext.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RecordSplitter")
            .field("chunk", &self.chunk)
            .field("buffered", &self.buffered())
            .field("discard", &self.discard)
            .finish_non_exhaustive()
    }
}

/// Checks the locators of records read in order from a node object, before or after their
/// authentication: records that are authentic but dropped, duplicated, reordered, taken from
/// another part, or cut off at the end are refused.
#[derive(Debug, Clone)]
pub struct SequenceCheck {
    /// Global index (position in the node object) of the next record.
    next: u64,
    /// The first record must begin its part (index 0).
    first_begins_part: bool,
    /// Every record must belong to this part (GET ?partNumber=N).
    part: Option<u32>,
    previous: Option<(Locator, usize)>,
}

impl SequenceCheck {
    /// For a read whose first record is the node object's record `global_record_index`.
    pub fn starting_at(global_record_index: u64) -> Self {
        SequenceCheck {
            next: global_record_index,
            first_begins_part: global_record_index == 0,
            part: None,
            previous: None,
        }
    }

    /// For the records of a resolved [`Window`] (also knows when the first record begins a part).
    pub fn for_window(window: &Window) -> Self {
        let mut check = Self::starting_at(window.node_first_record);
        check.first_begins_part |= window.starts_part;
        check
    }

    /// Require every record to belong to part `part_number` (GET ?partNumber=N); a single-part
    /// object is its own part 1.
    pub fn expect_part(mut self, part_number: u32) -> Self {
        self.part = Some(part_number);
        self
    }

    /// Accept the next record read, with its plaintext length (record length minus 36).
    pub fn accept(&mut self, locator: Locator, plaintext_len: usize) -> Result<(), FormatError> {
        let at = self.next;
        let fault = |reason| Err(FormatError::OutOfSequence { at, locator, reason });
        if locator.part > MAX_PART_NUMBER {
            return fault("no such part number");
        }
        if let Some(part) = self.part {
            if locator.part != part && !(part == 1 && locator.part == 0) {
                return fault("a record of another part");
            }
        }
        if locator.part == 0 && u64::from(locator.index) != at {
            return fault("a single-part record at another position");
        }
        match self.previous {
            None if self.first_begins_part && locator.index != 0 => {
                return fault("the first record does not begin a part")
            }
            None if u64::from(locator.index) > at => {
                return fault("more records before it in its part than in the object")
            }
            None => {}
            Some((previous, _))
                if !previous.last
                    && (locator.part != previous.part || Some(locator.index) != previous.index.checked_add(1)) =>
            {
                return fault("not the record after the previous one");
            }
            Some((previous, _)) if !previous.last => {}
            Some((previous, previous_len)) => {
                if previous.part == 0 {
                    return fault("a record after the last record of a single-part object");
                }
                if previous_len != RECORD_PLAINTEXT {
                    return fault("a record after a short last record of a part");
                }
                if locator.part <= previous.part || locator.index != 0 {
                    return fault("not the first record of a later part");
                }
            }
        }
        if plaintext_len > RECORD_PLAINTEXT {
            return fault("a record longer than 64 KiB");
        }
        if !locator.last && plaintext_len != RECORD_PLAINTEXT {
            return fault("a short record that is not its part's last");
        }
        if locator.last && plaintext_len == 0 && locator.index != 0 {
            return fault("an empty last record after others");
        }
        self.previous = Some((locator, plaintext_len));
        self.next += 1;
        Ok(())
    }

    /// At the end of the read: if it reached the object's end ([`Window::reaches_end`]), the last
    /// record accepted must carry the last flag, or the object was cut short.
    pub fn finish(&self, reached_object_end: bool) -> Result<(), FormatError> {
        match self.previous {
            _ if !reached_object_end => Ok(()),
            Some((locator, _)) if locator.last => Ok(()),
            _ => Err(FormatError::Truncated),
        }
    }
}

/// How to read a client's range of plaintext from a node: [`plan_read`], then `node_range` for
/// the node request and `resolve` with the node's answer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ReadPlan {
    range: Option<ByteRangeSpec>,
}

/// The records covering a client's `Range` (None: the whole object).
pub fn plan_read(range: Option<ByteRangeSpec>) -> ReadPlan {
    ReadPlan { range }
}

/// What to serve from a node's answer, in plaintext terms, and how to get it from the records.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Window {
    /// Global index of the first record in the node's body (after `node_skip`).
    pub node_first_record: u64,
    /// Node body bytes to drop before that record (only a suffix read can start mid-record).
    pub node_skip: u64,
    /// Plaintext bytes to drop from the start of the decrypted records.
    pub skip: u64,
    /// Plaintext bytes to serve (Content-Length).
    pub length: u64,
    /// First plaintext byte served (inclusive). 0 when `length` is 0.
    pub start: u64,
    /// Last plaintext byte served (inclusive); meaningless when `length` is 0.
    pub end: u64,
    /// Plaintext size of the whole object.
    pub total: u64,
    /// A 206 with `Content-Range: bytes start-end/total` (a satisfiable Range). False for the
    /// whole object, including S3's answer to a suffix range on an empty object.
    pub partial: bool,
    /// The window needs the object's last record (or is a whole part): the last record read must
    /// carry the last flag ([`SequenceCheck::finish`]). When this holds and `length` is 0 (an
    /// empty object or part), the one record is still worth reading and checking, or a node could
    /// pass any object off as empty.
    pub reaches_end: bool,
    /// The first record read begins a part (index 0).
    pub starts_part: bool,
}

impl ReadPlan {
    /// The `Range` header for the node, in ciphertext bytes; None reads the whole object.
    pub fn node_range(&self) -> Option<String> {
        let record_start = |plaintext: u64| (plaintext / PLAIN).saturating_mul(CIPHER);
        match self.range? {
            ByteRangeSpec::Bounded { first, last } => {
                let end = (last.max(first) / PLAIN).saturating_add(1).saturating_mul(CIPHER).saturating_sub(1);
                // Both saturate only beyond any object, where the node answers 416 either way.
                Some(format!("bytes={}-{end}", record_start(first).min(end)))
            }
            ByteRangeSpec::From { first } => Some(format!("bytes={}-", record_start(first))),
            ByteRangeSpec::Suffix { length } => Some(format!("bytes=-{}", suffix_ciphertext(length))),
        }
    }

    /// The window to serve, from where the node's body starts (`Content-Range` first byte, 0 for
    /// a 200) and the node object's size. `Unsatisfiable` is the client's 416; other errors
    /// mean the node's answer does not fit the format or the plan.
    pub fn resolve(&self, node_first_byte: u64, ciphertext_total: u64) -> Result<Window, FormatError> {
        let total = plaintext_len(ciphertext_total)?;
        if node_first_byte >= ciphertext_total {
            return Err(FormatError::Misaligned { node_first_byte });
        }
        let node_skip = (CIPHER - node_first_byte % CIPHER) % CIPHER;
        let suffix = matches!(self.range, Some(ByteRangeSpec::Suffix { .. }));
        if node_skip != 0 && !suffix {
            return Err(FormatError::Misaligned { node_first_byte });
        }
        let node_first_record = node_first_byte.saturating_add(node_skip) / CIPHER;
        let (start, end, partial) = match self.range {
            None => (0, total.checked_sub(1), false),
            Some(spec) => match spec.resolve(total) {
                Err(_) => return Err(FormatError::Unsatisfiable { plaintext_total: total }),
                Ok(None) => (0, total.checked_sub(1), false),
                Ok(Some((start, end))) => (start, Some(end), true),
            },
        };
        let covered_from = node_first_record * PLAIN;
        if start < covered_from {
            return Err(FormatError::Misaligned { node_first_byte });
        }
        let last_record = ciphertext_total.div_ceil(CIPHER) - 1;
        Ok(Window {
            node_first_record,
            node_skip,
            skip: start - covered_from,
            length: end.map_or(0, |end| end - start + 1),
            start,
            end: end.unwrap_or(0),
            total,
            partial,
            reaches_end: end.is_none_or(|end| end / PLAIN == last_record),
            starts_part: false,
        })
    }
}

/// Node bytes to ask for (from the end) to hold the last `length` plaintext bytes, whatever the
/// size of the object's last record, which the gateway does not know before asking. With
/// `length = a * 65536 + b`, the worst case needs `(a + 1) * 65572 + b + 35` bytes if `b >= 2`
/// (a last record of `b - 1` plaintext bytes) and `(a + 1) * 65572 + b - 1` otherwise. The answer
/// then starts less than one record before the first record needed, usually mid-record.
fn suffix_ciphertext(length: u64) -> u64 {
    let (full, rest) = (length / PLAIN, length % PLAIN);
    let header = if rest >= 2 { OVERHEAD } else { 0 };
    full.saturating_add(1).saturating_mul(CIPHER).saturating_add(rest + header).saturating_sub(1)
}

/// The window of GET ?partNumber=N: the node answered the part's records, `node_part_len` bytes
/// from `node_first_byte` of a node object of `ciphertext_total` bytes (for a 200, the whole
/// object: 0 and its size twice). Every part before it is whole records, so its plaintext
/// offset is arithmetic.
pub fn resolve_part(node_first_byte: u64, node_part_len: u64, ciphertext_total: u64) -> Result<Window, FormatError> {
    let total = plaintext_len(ciphertext_total)?;
    let misaligned = FormatError::Misaligned { node_first_byte };
    let part_end = node_first_byte.checked_add(node_part_len).ok_or_else(|| misaligned.clone())?;
    if !node_first_byte.is_multiple_of(CIPHER) || part_end > ciphertext_total {
        return Err(misaligned);
    }
    let length = plaintext_len(node_part_len)?;
    let node_first_record = node_first_byte / CIPHER;
    let start = node_first_record * PLAIN;
    Ok(Window {
        node_first_record,
        node_skip: 0,
        skip: 0,
        length,
        start,
        end: (start + length).saturating_sub(1).max(start),
        total,
        partial: true,
        reaches_end: true,
        starts_part: true,
    })
}

/// The key-encryption key of a bucket: `HMAC-SHA256(bucket_key, "portico key wrap v1")`.
fn key_wrapping_cipher(bucket_key: &BucketKey) -> Aes256Gcm {
    let mut mac = <Hmac<Sha256> as KeyInit>::new_from_slice(bucket_key.as_bytes()).expect("HMAC takes any key length");
    mac.update(KEY_WRAP_LABEL);
    let mut kek: [u8; 32] = mac.finalize().into_bytes().into();
    let cipher = Aes256Gcm::new((&kek).into());
    wipe(&mut kek);
    cipher
}

fn key_aad(object_name: &str) -> Vec<u8> {
    [KEY_AAD_LABEL, object_name.as_bytes()].concat()
}

/// The object key wrapped for `object_name` (the client's key name) in the bucket of
/// `bucket_key`: `0x01 || nonce || AES-256-GCM(KEK, nonce, "portico key v1\0" || name, key)`, as
/// unpadded base64url (82 characters). `nonce` must be fresh randomness.
pub fn wrap_key(bucket_key: &BucketKey, object_name: &str, key: &ObjectKey, nonce: [u8; NONCE_LEN]) -> String {
    let mut wrapped = Vec::with_capacity(WRAPPED_KEY_LEN);
    wrapped.push(FORMAT_VERSION);
    wrapped.extend_from_slice(&nonce);
    wrapped.extend_from_slice(key.as_bytes());
    let tag = key_wrapping_cipher(bucket_key)
        .encrypt_inout_detached(&Nonce::from(nonce), &key_aad(object_name), (&mut wrapped[1 + NONCE_LEN..]).into())
        .expect("AES-GCM encrypts a key");
    wrapped.extend_from_slice(&tag);
    base64::encode_url_safe(&wrapped)
}

/// The object key of a wrapped key, if it was wrapped with this bucket key for this name.
pub fn unwrap_key(bucket_key: &BucketKey, object_name: &str, wrapped: &str) -> Result<ObjectKey, FormatError> {
    let mut bytes = base64::decode_url_safe(wrapped).map_err(|_| FormatError::MalformedKey)?;
    if bytes.first().is_some_and(|&version| version != FORMAT_VERSION) {
        return Err(FormatError::UnknownVersion(bytes[0]));
    }
    if bytes.len() != WRAPPED_KEY_LEN {
        return Err(FormatError::MalformedKey);
    }
    let nonce: [u8; NONCE_LEN] = bytes[1..1 + NONCE_LEN].try_into().expect("length checked");
    let tag = Tag::try_from(&bytes[WRAPPED_KEY_LEN - TAG_LEN..]).expect("length checked");
    let encrypted = &mut bytes[1 + NONCE_LEN..WRAPPED_KEY_LEN - TAG_LEN];
    let opened = key_wrapping_cipher(bucket_key).decrypt_inout_detached(
        &Nonce::from(nonce),
        &key_aad(object_name),
        encrypted.into(),
        &tag,
    );
    let key = opened.ok().map(|()| ObjectKey(encrypted.try_into().expect("32 bytes")));
    wipe(&mut bytes);
    key.ok_or(FormatError::KeyUnauthentic)
}

/// The stored content headers and user metadata, sealed under the object key:
/// `0x01 || nonce || AES-256-GCM(key, nonce, "portico meta v1", JSON [[name, value], ...])`, as
/// unpadded base64url. `nonce` must be fresh randomness.
pub fn seal_metadata(key: &ObjectKey, headers: &[(String, String)], nonce: [u8; NONCE_LEN]) -> String {
    let json = serde_json::to_vec(headers).expect("string pairs serialize");
    let mut sealed = Vec::with_capacity(1 + NONCE_LEN + json.len() + TAG_LEN);
    sealed.push(FORMAT_VERSION);
    sealed.extend_from_slice(&nonce);
    sealed.extend_from_slice(&json);
    let tag = Aes256Gcm::new(key.as_bytes().into())
        .encrypt_inout_detached(&Nonce::from(nonce), METADATA_AAD, (&mut sealed[1 + NONCE_LEN..]).into())
        .expect("AES-GCM encrypts metadata");
    sealed.extend_from_slice(&tag);
    base64::encode_url_safe(&sealed)
}

/// The header pairs of sealed metadata, in the order they were sealed.
pub fn open_metadata(key: &ObjectKey, sealed: &str) -> Result<Vec<(String, String)>, FormatError> {
    let mut bytes = base64::decode_url_safe(sealed).map_err(|_| FormatError::MalformedMetadata)?;
    if bytes.first().is_some_and(|&version| version != FORMAT_VERSION) {
        return Err(FormatError::UnknownVersion(bytes[0]));
    }
    if bytes.len() < 1 + NONCE_LEN + TAG_LEN {
        return Err(FormatError::MalformedMetadata);
    }
    let nonce: [u8; NONCE_LEN] = bytes[1..1 + NONCE_LEN].try_into().expect("length checked");
    let tag_at = bytes.len() - TAG_LEN;
    let tag = Tag::try_from(&bytes[tag_at..]).expect("length checked");
    let json = &mut bytes[1 + NONCE_LEN..tag_at];
    Aes256Gcm::new(key.as_bytes().into())
        .decrypt_inout_detached(&Nonce::from(nonce), METADATA_AAD, json.into(), &tag)
        .map_err(|_| FormatError::MetadataUnauthentic)?;
    serde_json::from_slice(json).map_err(|_| FormatError::MetadataUnauthentic)
}

/// Splits an ETag into (`W/` prefix, opening quote, inner, closing quote).
fn etag_parts(etag: &str) -> (&str, &str, &str, &str) {
    let (weak, rest) = match etag.strip_prefix("W/") {
        Some(rest) => ("W/", rest),
        None => ("", etag),
    };
    match rest.strip_prefix('"').and_then(|r| r.strip_suffix('"')) {
        Some(inner) => (weak, "\"", inner, "\""),
        None => ("", "", etag, ""),
    }
}

/// The ETag clients see for a node ETag of an encrypted object: `"<hex>"` becomes `"<hex>-0"`,
/// a multipart `"<hex>-N"` (N > 0) stays. Never shaped like a plain MD5, so tools do not compare
/// it with the plaintext's; inverted exactly by [`node_etag`]. Quoting is kept as given.
pub fn client_etag(node_etag: &str) -> String {
    let (weak, open, inner, close) = etag_parts(node_etag);
    let multipart =
        inner.rsplit_once('-').is_some_and(|(_, n)| !n.is_empty() && n.bytes().all(|b| b.is_ascii_digit()) && n != "0");
    if multipart {
        node_etag.to_string()
    } else {
        format!("{weak}{open}{inner}-0{close}")
    }
}

/// The node ETag of a client ETag (conditional headers, Complete part lists): a trailing `-0`
/// is dropped, anything else (`*`, multipart ETags) stays. Quoting is kept as given.
pub fn node_etag(client_etag: &str) -> String {
    let (weak, open, inner, close) = etag_parts(client_etag);
    match inner.strip_suffix("-0") {
        Some(node) => format!("{weak}{open}{node}{close}"),
        None => client_etag.to_string(),
    }
}

/// The upload id clients see for a multipart upload of an encrypted project:
/// `<node upload id>.<wrapped key>`, so every request on the upload carries its key.
pub fn encode_upload_id(node_upload_id: &str, wrapped_key: &str) -> String {
    format!("{node_upload_id}.{wrapped_key}")
}

/// The node upload id and wrapped key of a client upload id, split at the last `.`; None unless
/// the id ends in a well-formed wrapped key (the key's authenticity is `unwrap_key`'s).
pub fn decode_upload_id(client_upload_id: &str) -> Option<(String, String)> {
    let (node_id, wrapped) = client_upload_id.rsplit_once('.')?;
    if node_id.is_empty() || wrapped.len() != WRAPPED_KEY_CHARS {
        return None;
    }
    let bytes = base64::decode_url_safe(wrapped).ok()?;
    (bytes.len() == WRAPPED_KEY_LEN && bytes[0] == FORMAT_VERSION).then(|| (node_id.to_string(), wrapped.to_string()))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::auth::grant::derive_bucket_key;
    use crate::http::hex;
    use crate::s3::range::parse_range;

    const P: u64 = PLAIN;
    const C: u64 = CIPHER;

    fn object_key() -> ObjectKey {
        ObjectKey::from_bytes(std::array::from_fn(|i| i as u8))
    }

    #[test]
    fn a_record_batch_carries_what_sealing_each_record_takes() {
        // Two records of one buffer: sealed with the batch's parameters (as WebCrypto is called)
        // and framed with its headers, each is byte for byte what `seal_into` makes.
        let key = object_key();
        let buffer: Vec<u8> = (0..100u8).collect();
        let records = [
            (0u32, 60u32, Locator { part: 3, index: 7, last: false }, [1u8; NONCE_LEN]),
            (60, 40, Locator { part: 3, index: 8, last: true }, [2u8; NONCE_LEN]),
        ];
        let mut batch = RecordBatch::with_capacity(records.len());
        for (start, len, locator, nonce) in &records {
            batch.push(*start, *len, *locator, nonce);
        }
        assert_eq!(batch.spans(), &[0, 60, 60, 40]);
        assert_eq!(batch.params().len(), 2 * BATCH_PARAMS_LEN);
        assert_eq!(batch.headers().len(), 2 * RECORD_HEADER_LEN);
        let aes = Aes256Gcm::new(key.as_bytes().into());
        let described = batch.records().zip(batch.headers().chunks_exact(RECORD_HEADER_LEN));
        for ((start, len, nonce, aad), header) in described {
            let (_, _, locator, expected_nonce) =
                records.iter().find(|record| record.0 == start).expect("a record of the batch");
            assert_eq!(nonce, expected_nonce);
            let plaintext = &buffer[start as usize..(start + len) as usize];
            let mut sealed = plaintext.to_vec();
            let tag =
                aes.encrypt_inout_detached(&Nonce::from(*expected_nonce), aad, sealed.as_mut_slice().into()).unwrap();
            let framed = [header, &sealed, &tag].concat();
            let mut expected = Vec::new();
            RecordCipher::new(&key).seal_into(*locator, *expected_nonce, plaintext, &mut expected);
            assert_eq!(framed, expected);
        }
    }

    fn bucket_key() -> BucketKey {
        derive_bucket_key(&[0x11; 32], "vectors")
    }

    /// Deterministic distinct nonces (tests only: real nonces are random).
    fn nonce(counter: &mut u64) -> [u8; NONCE_LEN] {
        *counter += 1;
        let mut nonce = [0xa5; NONCE_LEN];
        nonce[4..].copy_from_slice(&counter.to_be_bytes());
        nonce
    }

    fn plaintext(len: usize, seed: u8) -> Vec<u8> {
        (0..len).map(|i| (i as u8).wrapping_mul(31).wrapping_add(seed) ^ (i >> 16) as u8).collect()
    }

    /// Seal one part (or single-part object) as the runtime does: through the splitter, in
    /// `piece`-byte pushes.
    fn seal_part(cipher: &RecordCipher, part: u32, plaintext: &[u8], piece: usize, counter: &mut u64) -> Vec<u8> {
        let mut out = Vec::new();
        let mut splitter = RecordSplitter::for_sealing();
        let mut index = 0;
        for chunk in plaintext.chunks(piece.max(1)) {
            splitter.push(chunk);
            while let Some(record) = splitter.next_full() {
                cipher.seal_into(Locator { part, index, last: false }, nonce(counter), record, &mut out);
                index += 1;
            }
        }
        let rest = splitter.finish();
        cipher.seal_into(Locator { part, index, last: true }, nonce(counter), rest, &mut out);
        out
    }

    /// Read `window` from the node body `node_body` as the runtime does: rechunk in `piece`-byte
    /// pushes, check the sequence, authenticate, stop once the window is served.
    fn read_window(key: &ObjectKey, node_body: &[u8], window: &Window, piece: usize) -> Result<Vec<u8>, FormatError> {
        let cipher = RecordCipher::new(key);
        let mut splitter = RecordSplitter::for_opening(window.node_skip);
        let mut check = SequenceCheck::for_window(window);
        let mut plain = Vec::new();
        let needed = (window.skip + window.length) as usize;
        let mut records = 0;
        let mut open = |record: &[u8], plain: &mut Vec<u8>| -> Result<(), FormatError> {
            let (locator, _, sealed) = split_record(record)?;
            check.accept(locator, sealed.len() - TAG_LEN)?;
            assert_eq!(cipher.open_into(record, plain)?, locator);
            Ok(())
        };
        'read: for chunk in node_body.chunks(piece.max(1)) {
            splitter.push(chunk);
            while let Some(record) = splitter.next_full() {
                open(record, &mut plain)?;
                records += 1;
                if plain.len() >= needed {
                    break 'read;
                }
            }
        }
        if plain.len() < needed || records == 0 {
            let rest = splitter.finish();
            if !rest.is_empty() {
                open(rest, &mut plain)?;
            }
        }
        if plain.len() < needed {
            return Err(FormatError::Truncated);
        }
        check.finish(window.reaches_end)?;
        Ok(plain[window.skip as usize..needed].to_vec())
    }

    /// The node's answer to a ranged GET of an object of `total` bytes, with S3's semantics:
    /// `Err(())` for 416, else (first byte, last byte inclusive).
    fn node_answer(node_range: Option<&str>, total: u64) -> Result<(u64, u64), ()> {
        match node_range.map(|r| parse_range(r).expect("plans send valid ranges")) {
            None => Ok((0, total - 1)),
            Some(spec) => match spec.resolve(total) {
                Err(_) => Err(()),
                Ok(None) => Ok((0, total - 1)),
                Ok(Some(span)) => Ok(span),
            },
        }
    }

    fn locator(part: u32, index: u32, last: bool) -> Locator {
        Locator { part, index, last }
    }

    // Test vectors: docs/FORMAT.md repeats every value below.
    const VECTOR_NONCE_1: [u8; 12] = [0xa0, 0xa1, 0xa2, 0xa3, 0xa4, 0xa5, 0xa6, 0xa7, 0xa8, 0xa9, 0xaa, 0xab];
    const VECTOR_NONCE_2: [u8; 12] = [0xb0, 0xb1, 0xb2, 0xb3, 0xb4, 0xb5, 0xb6, 0xb7, 0xb8, 0xb9, 0xba, 0xbb];
    const VECTOR_RECORD_HELLO: &str = "0000000080000000a0a1a2a3a4a5a6a7a8a9aaab\
                                       8e7d10412ae722cf0d17f3ba641504896de033c85f61ab187eb5b9ece052";
    const VECTOR_RECORD_EMPTY: &str = "0000000080000000b0b1b2b3b4b5b6b7b8b9babbc049f922ec8631d9b3b7cd578e8fb78f";
    const VECTOR_RECORD_PART: &str = "0000000380000002c0c0c0c0c0c0c0c0c0c0c0c05c93877ac4fbe2540c0daf9156282c1b29ffa2";
    const VECTOR_BUCKET_KEY: &str = "5603d548239b305e2442be156dd0517cee7716de5503a541d730ae770a2a8541";
    const VECTOR_KEK: &str = "8d2140b20d8828453c6c25bf15e2ae3b80f555215c60ade9447fd89dccecc0b8";
    const VECTOR_WRAPPED: &str = "AaChoqOkpaanqKmqq_x_t0npQstm1xgxK_xCAUD_xONrXDadVILN-jAYo0dzS5noIFeKmqTIiYtIXT3hlg";
    const VECTOR_METADATA_JSON: &str = r#"[["content-type","text/plain"],["x-amz-meta-color","blue"]]"#;
    const VECTOR_METADATA: &str =
        "AbCxsrO0tba3uLm6u8IOeMiDo886KYy61rQt7eCoHj23bVqgRTKv659-395NJzMOWw6ki9XAL8FnX9bu2l9PO\
                                   -V5VzeVb9cx3k_hCrylLGkbasu299E2vA";
    const VECTOR_OBJECT_SHA256: &str = "9cf8fa8c7c8cfb830799922a1e60e66e209db0bb20ec06faea9fa6b1d6e48d70";
    const VECTOR_OBJECT_TAIL: &str = "0000000080000001d1d1d1d1d1d1d1d1d1d1d1d167fbf76597193472a622a0792695a9e126";
    const VECTOR_MULTIPART_SHA256: &str = "0f0a932e2a6f3946778db0cd279027d52548e481d42fb2d706a94130bd09d7f5";
    const VECTOR_MULTIPART_TAIL: &str = "0000000280000000e2e2e2e2e2e2e2e2e2e2e2e226c48ab1f6276a003d2f53a51c348578";

    fn sha256_hex(bytes: &[u8]) -> String {
        use sha2::Digest;
        hex(&Sha256::digest(bytes))
    }

    /// 65537 bytes `i % 251`, the plaintext of the multi-record vectors.
    fn vector_plaintext() -> Vec<u8> {
        (0..=RECORD_PLAINTEXT).map(|i| (i % 251) as u8).collect()
    }

    #[test]
    fn vector_records() {
        let key = object_key();
        let hello = seal_record(&key, locator(0, 0, true), VECTOR_NONCE_1, b"hello, portico");
        assert_eq!(hex(&hello), VECTOR_RECORD_HELLO);
        let empty = seal_record(&key, locator(0, 0, true), VECTOR_NONCE_2, b"");
        assert_eq!(hex(&empty), VECTOR_RECORD_EMPTY);
        let part = seal_record(&key, locator(3, 2, true), [0xc0; 12], b"abc");
        assert_eq!(hex(&part), VECTOR_RECORD_PART);
        assert_eq!(open_record(&key, &hello).unwrap(), (locator(0, 0, true), b"hello, portico".to_vec()));
        assert_eq!(open_record(&key, &part).unwrap(), (locator(3, 2, true), b"abc".to_vec()));
    }

    #[test]
    fn vector_multi_record_objects() {
        let key = object_key();
        let cipher = RecordCipher::new(&key);
        let plaintext = vector_plaintext();
        let mut object = Vec::new();
        cipher.seal_into(locator(0, 0, false), [0xd0; 12], &plaintext[..RECORD_PLAINTEXT], &mut object);
        cipher.seal_into(locator(0, 1, true), [0xd1; 12], &plaintext[RECORD_PLAINTEXT..], &mut object);
        assert_eq!(object.len() as u64, ciphertext_len(plaintext.len() as u64));
        assert_eq!(sha256_hex(&object), VECTOR_OBJECT_SHA256);
        assert_eq!(hex(&object[RECORD_CIPHERTEXT..]), VECTOR_OBJECT_TAIL);

        let mut multipart = Vec::new();
        cipher.seal_into(locator(1, 0, true), [0xe1; 12], &plaintext[..RECORD_PLAINTEXT], &mut multipart);
        cipher.seal_into(locator(2, 0, true), [0xe2; 12], b"", &mut multipart);
        assert_eq!(sha256_hex(&multipart), VECTOR_MULTIPART_SHA256);
        assert_eq!(hex(&multipart[RECORD_CIPHERTEXT..]), VECTOR_MULTIPART_TAIL);
        assert_eq!(plaintext_len(multipart.len() as u64), Ok(P));
    }

    #[test]
    fn vector_key_wrapping_and_metadata() {
        let key = object_key();
        assert_eq!(hex(bucket_key().as_bytes()), VECTOR_BUCKET_KEY);
        let mut mac = <Hmac<Sha256> as KeyInit>::new_from_slice(bucket_key().as_bytes()).unwrap();
        mac.update(KEY_WRAP_LABEL);
        assert_eq!(hex(&mac.finalize().into_bytes()), VECTOR_KEK);
        let wrapped = wrap_key(&bucket_key(), "photos/2024/cat.jpg", &key, VECTOR_NONCE_1);
        assert_eq!(wrapped, VECTOR_WRAPPED);
        assert_eq!(wrapped.len(), WRAPPED_KEY_CHARS);
        assert_eq!(unwrap_key(&bucket_key(), "photos/2024/cat.jpg", &wrapped).unwrap().as_bytes(), key.as_bytes());

        let headers = vec![
            ("content-type".to_string(), "text/plain".to_string()),
            ("x-amz-meta-color".to_string(), "blue".to_string()),
        ];
        assert_eq!(serde_json::to_string(&headers).unwrap(), VECTOR_METADATA_JSON);
        let sealed = seal_metadata(&key, &headers, VECTOR_NONCE_2);
        assert_eq!(sealed, VECTOR_METADATA);
        assert_eq!(open_metadata(&key, &sealed).unwrap(), headers);
    }

    /// The worked examples of docs/FORMAT.md ("Reading a range").
    #[test]
    fn documented_examples() {
        assert_eq!(ciphertext_len(200_000), 200_144);
        assert_eq!(ciphertext_len(1 << 20), 1_049_152);
        assert_eq!(plaintext_len(200_144), Ok(200_000));
        let bounded = plan_read(parse_range("bytes=70000-70099"));
        assert_eq!(bounded.node_range().as_deref(), Some("bytes=65572-131143"));
        let window = bounded.resolve(65_572, 200_144).unwrap();
        let expected = Window {
            node_first_record: 1,
            node_skip: 0,
            skip: 4464,
            length: 100,
            start: 70_000,
            end: 70_099,
            total: 200_000,
            partial: true,
            reaches_end: false,
            starts_part: false,
        };
        assert_eq!(window, expected);
        let from = plan_read(parse_range("bytes=150000-"));
        assert_eq!(from.node_range().as_deref(), Some("bytes=131144-"));
        let window = from.resolve(131_144, 200_144).unwrap();
        assert_eq!(
            (window.node_first_record, window.skip, window.length, window.reaches_end),
            (2, 18_928, 50_000, true)
        );
        let suffix = plan_read(parse_range("bytes=-100"));
        assert_eq!(suffix.node_range().as_deref(), Some("bytes=-65707"));
        let window = suffix.resolve(200_144 - 65_707, 200_144).unwrap();
        assert_eq!((window.node_skip, window.node_first_record, window.skip), (62_279, 3, 3292));
        assert_eq!((window.start, window.end, window.length, window.reaches_end), (199_900, 199_999, 100, true));
        assert_eq!(
            plan_read(parse_range("bytes=200000-")).resolve(0, 200_144),
            Err(FormatError::Unsatisfiable { plaintext_total: 200_000 })
        );
        // Multipart: parts of 5 MiB, 5 MiB and 1 byte.
        let total = 2 * ciphertext_len(5 << 20) + ciphertext_len(1);
        assert_eq!(total, 10_491_557);
        assert_eq!(plaintext_len(total), Ok(10_485_761));
        let part = resolve_part(2 * ciphertext_len(5 << 20), 37, total).unwrap();
        assert_eq!((part.node_first_record, part.start, part.end, part.length), (160, 10_485_760, 10_485_760, 1));
    }

    #[test]
    fn constants_are_the_format() {
        assert_eq!(RECORD_OVERHEAD, 36);
        assert_eq!(RECORD_CIPHERTEXT, 65572);
        assert_eq!(locator(0, 0, false).aad().len(), 25);
        assert_eq!(&locator(7, 9, true).aad()[..17], b"portico record v1");
        assert_eq!(WRAPPED_KEY_LEN, 61);
        assert_eq!(WRAPPED_KEY_CHARS, 82);
    }

    #[test]
    fn locators_encode_big_endian_with_the_last_flag_on_top() {
        assert_eq!(locator(1, 2, false).encode(), [0, 0, 0, 1, 0, 0, 0, 2]);
        assert_eq!(locator(10_000, 0, true).encode(), [0, 0, 0x27, 0x10, 0x80, 0, 0, 0]);
        assert_eq!(locator(0, MAX_RECORD_INDEX, true).encode(), [0, 0, 0, 0, 0xff, 0xff, 0xff, 0xff]);
        for loc in [locator(0, 0, false), locator(3, 81_919, true), locator(u32::MAX, MAX_RECORD_INDEX, false)] {
            assert_eq!(Locator::decode(&loc.encode()), loc);
        }
    }

    #[test]
    fn objects_round_trip_at_record_boundaries() {
        let key = object_key();
        let cipher = RecordCipher::new(&key);
        let mut counter = 0;
        for size in [0, 1, 65535, 65536, 65537, 3 * 65536 + 5] {
            let plaintext = plaintext(size, 7);
            for piece in [4096, 1000, 65536, 65537, 1 << 20] {
                let object = seal_part(&cipher, 0, &plaintext, piece, &mut counter);
                assert_eq!(object.len() as u64, ciphertext_len(size as u64), "size {size}");
                assert_eq!(plaintext_len(object.len() as u64), Ok(size as u64));
                let window = plan_read(None).resolve(0, object.len() as u64).unwrap();
                assert_eq!((window.length, window.partial, window.reaches_end), (size as u64, false, true));
                for read_piece in [4096, 777, 65572, 1 << 20] {
                    assert_eq!(read_window(&key, &object, &window, read_piece).unwrap(), plaintext, "size {size}");
                }
            }
            // The record layout: full records, then the last (an empty part is one empty record).
            let object = seal_part(&cipher, 0, &plaintext, 4096, &mut counter);
            let records: Vec<_> = object.chunks(RECORD_CIPHERTEXT).map(|r| split_record(r).unwrap().0).collect();
            let expected = size.div_ceil(RECORD_PLAINTEXT).max(1) as u32;
            assert_eq!(records.len() as u32, expected);
            for (i, loc) in records.iter().enumerate() {
                assert_eq!(*loc, locator(0, i as u32, i as u32 + 1 == expected));
            }
        }
    }

    #[test]
    fn sizes_map_both_ways() {
        let mut sizes: Vec<u64> = (0..300).collect();
        for k in 1..5u64 {
            sizes.extend([k * P - 1, k * P, k * P + 1, k * P + 35, k * P + 36, k * P + 37]);
        }
        sizes.extend([5 << 30, 5 << 40, 1 << 62]);
        for p in sizes {
            let c = ciphertext_len(p);
            assert_eq!(c, p.div_ceil(P).max(1) * 36 + p);
            assert_eq!(plaintext_len(c), Ok(p), "{p}");
        }
        assert_eq!(ciphertext_len(0), 36);
        assert_eq!(ciphertext_len(P), C);
        assert_eq!(ciphertext_len(P + 1), C + 37);
        assert_eq!(ciphertext_len(u64::MAX), u64::MAX);
        // Lengths no sequence of records has.
        for c in [0, 1, 35, C + 1, C + 35, 7 * C + 20] {
            assert_eq!(plaintext_len(c), Err(FormatError::CiphertextLength(c)), "{c}");
        }
        assert_eq!(plaintext_len(36), Ok(0));
        assert_eq!(plaintext_len(C + 36), Ok(P));
        assert_eq!(plaintext_len(u64::MAX), Ok(u64::MAX / C * P + u64::MAX % C - 36));
    }

    /// Multipart layouts: non-final parts whole records, then any final part.
    fn multipart_layouts() -> Vec<Vec<usize>> {
        let p = RECORD_PLAINTEXT;
        vec![vec![p, 2 * p, 5], vec![p, 2 * p, 0], vec![2 * p, p], vec![p, p + 1], vec![3 * p, 65535], vec![0], vec![7]]
    }

    fn seal_multipart(cipher: &RecordCipher, parts: &[usize], counter: &mut u64) -> (Vec<u8>, Vec<u8>) {
        let (mut object, mut plain) = (Vec::new(), Vec::new());
        for (i, &len) in parts.iter().enumerate() {
            let part = plaintext(len, i as u8 * 40);
            object.extend(seal_part(cipher, i as u32 + 1, &part, 4096, counter));
            plain.extend(part);
        }
        (object, plain)
    }

    #[test]
    fn multipart_sizes_are_arithmetic() {
        let cipher = RecordCipher::new(&object_key());
        let mut counter = 0;
        for parts in multipart_layouts() {
            let (object, plain) = seal_multipart(&cipher, &parts, &mut counter);
            let node_sizes: u64 = parts.iter().map(|&p| ciphertext_len(p as u64)).sum();
            assert_eq!(object.len() as u64, node_sizes);
            assert_eq!(plaintext_len(object.len() as u64), Ok(plain.len() as u64), "{parts:?}");
            for &len in &parts[..parts.len() - 1] {
                assert_eq!(ciphertext_len(len as u64) % C, 0, "non-final parts are whole records");
            }
        }
    }

    fn range_specs(size: u64) -> Vec<ByteRangeSpec> {
        let mut points = vec![0, 1, 2, P - 1, P, P + 1, 2 * P - 1, 2 * P, 2 * P + 1, 3 * P + 4, 3 * P + 5, u64::MAX];
        points.extend([size.saturating_sub(2), size.saturating_sub(1), size, size + 1, size + P]);
        points.sort_unstable();
        points.dedup();
        let mut specs = Vec::new();
        for &first in &points {
            specs.push(ByteRangeSpec::From { first });
            specs.push(ByteRangeSpec::Suffix { length: first });
            for &last in points.iter().filter(|&&last| last >= first) {
                specs.push(ByteRangeSpec::Bounded { first, last });
            }
        }
        specs
    }

    /// Checks a window against S3's semantics on the plaintext, and the node's answer against
    /// "at most one extra record at each end". Returns the window and the node's byte span.
    fn check_range(spec: Option<ByteRangeSpec>, plaintext_size: u64) -> Option<(Window, (u64, u64))> {
        let total = ciphertext_len(plaintext_size);
        let plan = plan_read(spec);
        let expected = spec.map(|s| s.resolve(plaintext_size));
        let context = format!("{spec:?} on {plaintext_size}");
        let (first, last) = match node_answer(plan.node_range().as_deref(), total) {
            Ok(span) => span,
            Err(()) => {
                // The node's 416 names its size; the plaintext size follows from it.
                assert!(matches!(expected, Some(Err(_))), "node 416 but client range satisfiable: {context}");
                assert_eq!(plaintext_len(total), Ok(plaintext_size));
                return None;
            }
        };
        let resolved = plan.resolve(first, total);
        let window = match expected {
            Some(Err(_)) => {
                assert_eq!(resolved, Err(FormatError::Unsatisfiable { plaintext_total: plaintext_size }), "{context}");
                return None;
            }
            None | Some(Ok(None)) => {
                let window = resolved.unwrap();
                assert_eq!((window.start, window.length, window.partial), (0, plaintext_size, false), "{context}");
                assert!(window.reaches_end);
                window
            }
            Some(Ok(Some((start, end)))) => {
                let window = resolved.unwrap();
                assert_eq!((window.start, window.end, window.partial), (start, end, true), "{context}");
                assert_eq!(window.length, end - start + 1);
                assert_eq!(window.reaches_end, end / P == total.div_ceil(C) - 1, "{context}");
                // The node's bytes start less than a record before the first record needed
                // (exactly at it unless a suffix) and end with the record of the last byte.
                let needed_first = start / P * C;
                assert!(first <= needed_first && needed_first - first < C, "{context}: {first}");
                if !matches!(spec, Some(ByteRangeSpec::Suffix { .. })) {
                    assert_eq!(first, needed_first, "{context}");
                }
                assert_eq!(last, ((end / P + 1) * C).min(total) - 1, "{context}");
                window
            }
        };
        assert_eq!(window.total, plaintext_size);
        assert_eq!(first + window.node_skip, window.node_first_record * C, "{context}");
        assert_eq!(window.skip, window.start - window.node_first_record * P, "{context}");
        // The node's bytes hold every record the window needs.
        if window.length > 0 {
            assert!(last + 1 >= ((window.end / P + 1) * C).min(total), "{context}");
        }
        Some((window, (first, last)))
    }

    #[test]
    fn every_range_form_matches_s3_semantics_by_arithmetic() {
        let mut sizes: Vec<u64> = (0..40).collect();
        for k in 1..6u64 {
            sizes.extend([k * P - 2, k * P - 1, k * P, k * P + 1, k * P + 2, k * P + 777]);
        }
        for size in sizes {
            check_range(None, size);
            for spec in range_specs(size) {
                check_range(Some(spec), size);
            }
        }
    }

    #[test]
    fn ranges_decrypt_to_the_plaintext_bytes() {
        let key = object_key();
        let cipher = RecordCipher::new(&key);
        let mut counter = 0;
        let mut objects: Vec<(Vec<u8>, Vec<u8>)> = [0usize, 1, 65535, 65536, 65537, 3 * 65536 + 5]
            .iter()
            .map(|&size| {
                let plain = plaintext(size, 3);
                (seal_part(&cipher, 0, &plain, 4096, &mut counter), plain)
            })
            .collect();
        for parts in multipart_layouts() {
            objects.push(seal_multipart(&cipher, &parts, &mut counter));
        }
        for (object, plain) in &objects {
            let size = plain.len() as u64;
            assert_eq!(plaintext_len(object.len() as u64), Ok(size));
            // Every form at the record boundaries (the arithmetic test covers the full matrix).
            let mut specs = vec![None];
            for first in [0, 1, P - 1, P, P + 1, 2 * P + 3, size.saturating_sub(1), size] {
                specs.push(Some(ByteRangeSpec::Bounded { first, last: first }));
                specs.push(Some(ByteRangeSpec::Bounded { first, last: first + P }));
                specs.push(Some(ByteRangeSpec::From { first }));
                specs.push(Some(ByteRangeSpec::Suffix { length: first }));
            }
            for spec in specs {
                let Some((window, (first, last))) = check_range(spec, size) else { continue };
                let body = &object[first as usize..=last as usize];
                let served =
                    read_window(&key, body, &window, 5000).unwrap_or_else(|e| panic!("{spec:?} on {size}: {e}"));
                let expected =
                    if window.length == 0 { &[][..] } else { &plain[window.start as usize..=window.end as usize] };
                assert!(served == expected, "{spec:?} on {size}");
            }
        }
    }

    #[test]
    fn part_reads_resolve_to_the_parts_plaintext() {
        let key = object_key();
        let cipher = RecordCipher::new(&key);
        let mut counter = 0;
        for parts in multipart_layouts() {
            let (object, plain) = seal_multipart(&cipher, &parts, &mut counter);
            let total = object.len() as u64;
            let (mut node_offset, mut plain_offset) = (0u64, 0usize);
            for (i, &len) in parts.iter().enumerate() {
                let node_len = ciphertext_len(len as u64);
                let window = resolve_part(node_offset, node_len, total).unwrap();
                assert_eq!(
                    (window.start, window.length, window.total),
                    (plain_offset as u64, len as u64, plain.len() as u64)
                );
                if len > 0 {
                    assert_eq!(window.end, (plain_offset + len - 1) as u64);
                }
                let body = &object[node_offset as usize..(node_offset + node_len) as usize];
                let check = SequenceCheck::for_window(&window).expect_part(i as u32 + 1);
                assert!(check.part == Some(i as u32 + 1));
                let served = read_window(&key, body, &window, 4096).unwrap();
                assert_eq!(served, &plain[plain_offset..plain_offset + len]);
                node_offset += node_len;
                plain_offset += len;
            }
            // A part that does not start on a record, or runs past the object.
            assert!(resolve_part(1, 36, total).is_err());
            assert!(resolve_part(0, total + 1, total).is_err());
            assert!(resolve_part(0, 35, total).is_err());
        }
        // A single-part object is its own part 1.
        let plain = plaintext(100, 1);
        let object = seal_part(&cipher, 0, &plain, 4096, &mut counter);
        let window = resolve_part(0, object.len() as u64, object.len() as u64).unwrap();
        assert_eq!(read_window(&key, &object, &window, 4096).unwrap(), plain);
        let mut check = SequenceCheck::for_window(&window).expect_part(1);
        assert!(check.accept(locator(0, 0, true), 100).is_ok());
        let mut check = SequenceCheck::for_window(&window).expect_part(2);
        assert!(check.accept(locator(0, 0, true), 100).is_err());
    }

    #[test]
    fn node_answers_that_do_not_fit_the_plan_are_refused() {
        let total = ciphertext_len(3 * P + 5);
        let bounded = plan_read(Some(ByteRangeSpec::Bounded { first: P + 3, last: P + 9 }));
        assert_eq!(bounded.node_range().as_deref(), Some("bytes=65572-131143"));
        assert!(bounded.resolve(C, total).is_ok());
        assert!(bounded.resolve(0, total).is_ok(), "a 200 from a node that ignored the range");
        assert_eq!(bounded.resolve(C + 1, total), Err(FormatError::Misaligned { node_first_byte: C + 1 }));
        assert_eq!(bounded.resolve(2 * C, total), Err(FormatError::Misaligned { node_first_byte: 2 * C }));
        assert_eq!(bounded.resolve(total, total), Err(FormatError::Misaligned { node_first_byte: total }));
        assert_eq!(bounded.resolve(0, 0), Err(FormatError::CiphertextLength(0)));
        assert_eq!(bounded.resolve(0, C + 3), Err(FormatError::CiphertextLength(C + 3)));
        assert_eq!(plan_read(None).resolve(C, total), Err(FormatError::Misaligned { node_first_byte: C }));
        let suffix = plan_read(Some(ByteRangeSpec::Suffix { length: 10 }));
        assert_eq!(suffix.node_range().as_deref(), Some("bytes=-65617"));
        assert_eq!(suffix_ciphertext(10), C + 45);
        // The suffix starts mid-record; the window starts at the next record.
        let window = suffix.resolve(total - (C + 45), total).unwrap();
        assert_eq!((window.node_skip, window.node_first_record, window.skip), (4, 2, P - 5));
        assert_eq!((window.start, window.end, window.length), (3 * P - 5, 3 * P + 4, 10));
        assert!(suffix.resolve(total - 41, total).is_err(), "a suffix that misses the window");
    }

    #[test]
    fn plans_ask_for_whole_records() {
        let range = |spec| plan_read(Some(spec)).node_range().unwrap();
        assert_eq!(plan_read(None).node_range(), None);
        assert_eq!(range(ByteRangeSpec::Bounded { first: 0, last: 0 }), "bytes=0-65571");
        assert_eq!(range(ByteRangeSpec::Bounded { first: 65535, last: 65536 }), "bytes=0-131143");
        assert_eq!(range(ByteRangeSpec::Bounded { first: 65536, last: 65536 }), "bytes=65572-131143");
        assert_eq!(range(ByteRangeSpec::From { first: 200_000 }), "bytes=196716-");
        assert_eq!(range(ByteRangeSpec::Suffix { length: 0 }), "bytes=-65571");
        assert_eq!(range(ByteRangeSpec::Suffix { length: 1 }), "bytes=-65572");
        assert_eq!(range(ByteRangeSpec::Suffix { length: 2 }), "bytes=-65609");
        assert_eq!(range(ByteRangeSpec::Suffix { length: 65536 }), "bytes=-131143");
        assert_eq!(range(ByteRangeSpec::Suffix { length: 65537 }), "bytes=-131144");
        assert_eq!(range(ByteRangeSpec::Suffix { length: 65538 }), "bytes=-131181");
        // Positions beyond any object saturate instead of overflowing.
        let huge = range(ByteRangeSpec::Bounded { first: u64::MAX - 1, last: u64::MAX });
        assert!(parse_range(&huge).is_some(), "{huge}");
        assert!(parse_range(&range(ByteRangeSpec::Suffix { length: u64::MAX })).is_some());
    }

    #[test]
    fn an_empty_object_answers_like_s3() {
        let total = ciphertext_len(0);
        for spec in [ByteRangeSpec::Bounded { first: 0, last: 0 }, ByteRangeSpec::From { first: 0 }] {
            assert_eq!(plan_read(Some(spec)).resolve(0, total), Err(FormatError::Unsatisfiable { plaintext_total: 0 }));
        }
        let window = plan_read(Some(ByteRangeSpec::Suffix { length: 5 })).resolve(0, total).unwrap();
        assert_eq!((window.length, window.partial, window.reaches_end), (0, false, true));
        assert_eq!(
            plan_read(Some(ByteRangeSpec::Suffix { length: 0 })).resolve(0, total),
            Err(FormatError::Unsatisfiable { plaintext_total: 0 })
        );
    }

    #[test]
    fn tampered_records_fail_authentication() {
        let key = object_key();
        let record = seal_record(&key, locator(2, 5, false), [9; 12], &plaintext(1000, 1));
        let regions =
            [("locator", 0), ("locator flag", 4), ("nonce", 8), ("ciphertext", 20), ("tag", record.len() - 1)];
        for (what, at) in regions {
            let mut tampered = record.clone();
            tampered[at] ^= 0x01;
            assert_eq!(open_record(&key, &tampered), Err(FormatError::RecordUnauthentic), "{what}");
        }
        let mut truncated = record.clone();
        truncated.pop();
        assert_eq!(open_record(&key, &truncated), Err(FormatError::RecordUnauthentic));
        let other_key = ObjectKey::from_bytes([7; 32]);
        assert_eq!(open_record(&other_key, &record), Err(FormatError::RecordUnauthentic));
        assert_eq!(open_record(&key, &record[..35]), Err(FormatError::RecordLength(35)));
        assert_eq!(
            split_record(&vec![0; RECORD_CIPHERTEXT + 1]),
            Err(FormatError::RecordLength(RECORD_CIPHERTEXT + 1))
        );
        // A failed open leaves the output as it was.
        let mut out = b"kept".to_vec();
        let mut tampered = record.clone();
        tampered[30] ^= 0x80;
        assert!(RecordCipher::new(&key).open_into(&tampered, &mut out).is_err());
        assert_eq!(out, b"kept");
    }

    #[test]
    fn framing_helpers_match_sealing() {
        let key = object_key();
        let record = seal_record(&key, locator(4, 1, true), [3; 12], b"webcrypto");
        let (loc, nonce, sealed) = split_record(&record).unwrap();
        assert_eq!((loc, nonce), (locator(4, 1, true), [3; 12]));
        assert_eq!(frame_record(loc, &nonce, sealed), record);
        assert_eq!(record_header(loc, &nonce), record[..RECORD_HEADER_LEN]);
        // The header alone frames the record, given its length.
        let header: &[u8; RECORD_HEADER_LEN] = record[..RECORD_HEADER_LEN].try_into().unwrap();
        assert_eq!(read_record_header(header, record.len()), Ok((loc, nonce)));
        assert_eq!(
            read_record_header(header, RECORD_OVERHEAD - 1),
            Err(FormatError::RecordLength(RECORD_OVERHEAD - 1))
        );
        assert_eq!(
            read_record_header(header, RECORD_CIPHERTEXT + 1),
            Err(FormatError::RecordLength(RECORD_CIPHERTEXT + 1))
        );
        // Appending keeps what the buffer held.
        let mut out = b"prefix".to_vec();
        RecordCipher::new(&key).seal_into(loc, nonce, b"webcrypto", &mut out);
        assert_eq!(&out[6..], record);
    }

    /// Accept a sequence of (locator, plaintext length) from `start`; the index of the first
    /// refused record, or the result of `finish(reaches_end)`.
    fn run(start: u64, records: &[(Locator, usize)], reaches_end: bool) -> Result<(), (usize, FormatError)> {
        let mut check = SequenceCheck::starting_at(start);
        for (i, &(loc, len)) in records.iter().enumerate() {
            check.accept(loc, len).map_err(|e| (i, e))?;
        }
        check.finish(reaches_end).map_err(|e| (records.len(), e))
    }

    fn refused_at(start: u64, records: &[(Locator, usize)], reaches_end: bool) -> usize {
        match run(start, records, reaches_end) {
            Err((i, FormatError::OutOfSequence { at, .. })) => {
                assert_eq!(at, start + i as u64);
                i
            }
            Err((i, FormatError::Truncated)) => i,
            other => panic!("accepted or wrong error: {other:?} for {records:?}"),
        }
    }

    const FULL: usize = RECORD_PLAINTEXT;

    #[test]
    fn sequences_written_by_the_gateway_are_accepted() {
        let single = [(locator(0, 0, false), FULL), (locator(0, 1, false), FULL), (locator(0, 2, true), 5)];
        assert_eq!(run(0, &single, true), Ok(()));
        assert_eq!(run(1, &single[1..], true), Ok(()));
        assert_eq!(run(0, &single[..2], false), Ok(()));
        assert_eq!(run(0, &[(locator(0, 0, true), 0)], true), Ok(()));
        assert_eq!(run(0, &[(locator(0, 0, true), FULL)], true), Ok(()));
        let multipart = [
            (locator(1, 0, true), FULL),
            (locator(2, 0, false), FULL),
            (locator(2, 1, true), FULL),
            (locator(5, 0, true), 0),
        ];
        assert_eq!(run(0, &multipart, true), Ok(()));
        assert_eq!(run(1, &multipart[1..], true), Ok(()));
        assert_eq!(run(2, &multipart[2..], true), Ok(()));
        // Mid-object reads of multipart objects cannot know the part's first record.
        assert_eq!(run(3, &multipart[2..], true), Ok(()));
    }

    #[test]
    fn moved_dropped_duplicated_or_foreign_records_are_refused() {
        let (a, b, c) = (locator(0, 0, false), locator(0, 1, false), locator(0, 2, true));
        // Swapped, dropped, duplicated records of a single-part object.
        assert_eq!(refused_at(0, &[(b, FULL), (a, FULL), (c, 1)], true), 0);
        assert_eq!(refused_at(0, &[(a, FULL), (c, 1)], true), 1);
        assert_eq!(refused_at(0, &[(a, FULL), (a, FULL), (b, FULL), (c, 1)], true), 1);
        assert_eq!(refused_at(0, &[(a, FULL), (b, FULL), (c, 1), (c, 1)], true), 3);
        // A single-part record read at another position.
        assert_eq!(refused_at(1, &[(c, 1)], true), 0);
        assert_eq!(refused_at(2, &[(b, FULL), (c, 1)], true), 0);
        // Truncated: the end is reached without a last record, or with no record at all.
        assert_eq!(refused_at(0, &[(a, FULL), (b, FULL)], true), 2);
        assert_eq!(refused_at(0, &[], true), 0);

        let (p1, p2a, p2b, p3) = (locator(1, 0, true), locator(2, 0, false), locator(2, 1, true), locator(3, 0, true));
        // A record of another part inside a part, parts out of order, a part without its start.
        assert_eq!(refused_at(0, &[(p2a, FULL), (p3, 4)], true), 1);
        assert_eq!(refused_at(0, &[(p1, FULL), (p3, FULL), (p2a, FULL), (p2b, 1)], true), 2);
        assert_eq!(refused_at(0, &[(p1, FULL), (p2b, 1)], true), 1);
        assert_eq!(refused_at(0, &[(p2b, 1)], true), 0);
        assert_eq!(refused_at(0, &[(p1, FULL), (p1, FULL)], true), 1);
        // A single-part record among parts, and parts after a single-part object's end.
        assert_eq!(refused_at(0, &[(p1, FULL), (locator(0, 1, true), 3)], true), 1);
        assert_eq!(refused_at(0, &[(locator(0, 0, true), FULL), (p2a, FULL)], true), 1);
        // Records after a short last record of a part; a short record that is not last.
        assert_eq!(refused_at(0, &[(p1, 10), (p3, 4)], true), 1);
        assert_eq!(refused_at(0, &[(p2a, 10)], false), 0);
        assert_eq!(refused_at(0, &[(a, FULL + 1)], false), 0);
        // A mid-object start cannot be further into its part than into the object.
        assert_eq!(refused_at(1, &[(locator(2, 5, true), 3)], true), 0);
        assert_eq!(refused_at(0, &[(locator(10_001, 0, true), 3)], true), 0);
        assert_eq!(refused_at(0, &[(a, FULL), (locator(0, 1, true), 0)], true), 1);
    }

    #[test]
    fn a_reordered_object_fails_end_to_end() {
        let key = object_key();
        let cipher = RecordCipher::new(&key);
        let mut counter = 0;
        let plain = plaintext(3 * RECORD_PLAINTEXT + 5, 9);
        let object = seal_part(&cipher, 0, &plain, 4096, &mut counter);
        let records: Vec<&[u8]> = object.chunks(RECORD_CIPHERTEXT).collect();
        let window = plan_read(None).resolve(0, object.len() as u64).unwrap();
        let swapped = [records[1], records[0], records[2], records[3]].concat();
        let dropped = [records[0], records[1], records[3]].concat();
        let truncated = [records[0], records[1], records[2]].concat();
        for (what, body) in [("swapped", swapped), ("dropped", dropped), ("truncated", truncated)] {
            let window = plan_read(None).resolve(0, body.len() as u64).unwrap_or(window);
            assert!(read_window(&key, &body, &window, 4096).is_err(), "{what}");
        }
        // A part of another upload under the same key, served in place of a part.
        let (mp, _) = seal_multipart(&cipher, &[RECORD_PLAINTEXT, 5], &mut counter);
        let other_part = seal_part(&cipher, 3, &plaintext(5, 0), 4096, &mut counter);
        let forged = [&mp[..RECORD_CIPHERTEXT], &other_part[..]].concat();
        let window = resolve_part(C, other_part.len() as u64, forged.len() as u64).unwrap();
        let mut check = SequenceCheck::for_window(&window).expect_part(2);
        assert!(check.accept(split_record(&other_part).unwrap().0, 5).is_err());
    }

    #[test]
    fn splitter_hands_out_fixed_chunks_without_growing() {
        let data = plaintext(10 * RECORD_PLAINTEXT + 123, 5);
        for piece in [1, 4096, 4097, 65536, 65537, 300_000] {
            let mut splitter = RecordSplitter::for_sealing();
            let mut out = Vec::new();
            let mut chunks = 0;
            for chunk in data.chunks(piece) {
                splitter.push(chunk);
                while let Some(full) = splitter.next_full() {
                    assert_eq!(full.len(), RECORD_PLAINTEXT);
                    out.extend_from_slice(full);
                    chunks += 1;
                }
                assert!(splitter.buffer.capacity() <= 2 * RECORD_PLAINTEXT + 2 * piece, "piece {piece}");
            }
            out.extend_from_slice(splitter.finish());
            assert_eq!((chunks, out == data), (10, true), "piece {piece}");
            assert_eq!(splitter.buffered(), 0);
        }
        // Sealing holds back a full last chunk; opening does not.
        let mut sealing = RecordSplitter::for_sealing();
        sealing.push(&data[..RECORD_PLAINTEXT]);
        assert!(sealing.next_full().is_none());
        assert_eq!(sealing.finish().len(), RECORD_PLAINTEXT);
        let mut opening = RecordSplitter::for_opening(3);
        opening.push(&[0; 2]);
        opening.push(&vec![1; RECORD_CIPHERTEXT + 1]);
        assert_eq!(opening.chunk_len(), RECORD_CIPHERTEXT);
        assert_eq!(opening.next_full().map(<[u8]>::len), Some(RECORD_CIPHERTEXT));
        assert!(opening.next_full().is_none());
        assert_eq!(opening.finish(), &[] as &[u8]);
    }

    #[test]
    fn keys_unwrap_only_for_their_bucket_and_name() {
        let key = ObjectKey::from_bytes([0x42; 32]);
        let wrapped = wrap_key(&bucket_key(), "a/b.txt", &key, [1; 12]);
        assert_eq!(unwrap_key(&bucket_key(), "a/b.txt", &wrapped).unwrap().as_bytes(), &[0x42; 32]);
        let other_bucket = derive_bucket_key(&[0x11; 32], "other");
        assert_eq!(unwrap_key(&other_bucket, "a/b.txt", &wrapped).unwrap_err(), FormatError::KeyUnauthentic);
        assert_eq!(unwrap_key(&bucket_key(), "a/b.txt2", &wrapped).unwrap_err(), FormatError::KeyUnauthentic);
        assert_eq!(unwrap_key(&bucket_key(), "", &wrapped).unwrap_err(), FormatError::KeyUnauthentic);
        // CopyObject re-wraps the same key for the destination.
        let copied = wrap_key(&other_bucket, "copy", &key, [2; 12]);
        assert_eq!(unwrap_key(&other_bucket, "copy", &copied).unwrap().as_bytes(), &[0x42; 32]);
        // Tampered, truncated, of another version, or not base64.
        let mut bytes = base64::decode_url_safe(&wrapped).unwrap();
        for at in [1, 13, 40, 60] {
            bytes[at] ^= 1;
            let tampered = base64::encode_url_safe(&bytes);
            assert_eq!(unwrap_key(&bucket_key(), "a/b.txt", &tampered).unwrap_err(), FormatError::KeyUnauthentic);
            bytes[at] ^= 1;
        }
        bytes[0] = 2;
        let future = base64::encode_url_safe(&bytes);
        assert_eq!(unwrap_key(&bucket_key(), "a/b.txt", &future).unwrap_err(), FormatError::UnknownVersion(2));
        let short = base64::encode_url_safe(&[1; 60]);
        assert_eq!(unwrap_key(&bucket_key(), "a/b.txt", &short).unwrap_err(), FormatError::MalformedKey);
        assert_eq!(unwrap_key(&bucket_key(), "a/b.txt", "not base64!").unwrap_err(), FormatError::MalformedKey);
        assert_eq!(unwrap_key(&bucket_key(), "a/b.txt", "").unwrap_err(), FormatError::MalformedKey);
    }

    #[test]
    fn metadata_opens_only_under_its_key() {
        let key = object_key();
        let headers = vec![
            ("content-type".to_string(), "image/jpeg".to_string()),
            ("x-amz-meta-caption".to_string(), "Grüße, \"quoted\"\n".to_string()),
            ("cache-control".to_string(), String::new()),
        ];
        let sealed = seal_metadata(&key, &headers, [5; 12]);
        assert_eq!(open_metadata(&key, &sealed).unwrap(), headers);
        assert_eq!(open_metadata(&key, &seal_metadata(&key, &[], [6; 12])).unwrap(), vec![]);
        let other = ObjectKey::from_bytes([1; 32]);
        assert_eq!(open_metadata(&other, &sealed), Err(FormatError::MetadataUnauthentic));
        let mut bytes = base64::decode_url_safe(&sealed).unwrap();
        let last = bytes.len() - 1;
        bytes[last] ^= 1;
        assert_eq!(open_metadata(&key, &base64::encode_url_safe(&bytes)), Err(FormatError::MetadataUnauthentic));
        assert_eq!(open_metadata(&key, &base64::encode_url_safe(&[1; 28])), Err(FormatError::MalformedMetadata));
        assert_eq!(open_metadata(&key, &base64::encode_url_safe(&[9; 40])), Err(FormatError::UnknownVersion(9)));
        assert_eq!(open_metadata(&key, "%%"), Err(FormatError::MalformedMetadata));
        // Authentic bytes that are not a list of pairs.
        let mut not_pairs = vec![FORMAT_VERSION];
        not_pairs.extend_from_slice(&[4; 12]);
        let json_at = not_pairs.len();
        not_pairs.extend_from_slice(b"{\"a\":1}");
        let tag = Aes256Gcm::new(key.as_bytes().into())
            .encrypt_inout_detached(&Nonce::from([4; 12]), METADATA_AAD, (&mut not_pairs[json_at..]).into())
            .unwrap();
        not_pairs.extend_from_slice(&tag);
        assert_eq!(open_metadata(&key, &base64::encode_url_safe(&not_pairs)), Err(FormatError::MetadataUnauthentic));
    }

    #[test]
    fn etags_map_both_ways() {
        let md5 = "d41d8cd98f00b204e9800998ecf8427e";
        for (node, client) in [
            (format!("\"{md5}\""), format!("\"{md5}-0\"")),
            (md5.to_string(), format!("{md5}-0")),
            (format!("\"{md5}-3\""), format!("\"{md5}-3\"")),
            (format!("{md5}-10000"), format!("{md5}-10000")),
            (format!("W/\"{md5}\""), format!("W/\"{md5}-0\"")),
        ] {
            assert_eq!(client_etag(&node), client);
            assert_eq!(node_etag(&client), node);
        }
        assert_eq!(node_etag("*"), "*");
        // Invertible on any string, and never a bare MD5 on the client side.
        for node in ["", "\"", "\"\"", "x-0", "\"x-0\"", "x-", "x-00", "x-1-0", "-0", "\"abc", "a-b"] {
            let client = client_etag(node);
            assert_eq!(node_etag(&client), node, "{node:?} -> {client:?}");
            let inner = client.trim_matches('"');
            assert!(inner.rsplit_once('-').is_some_and(|(_, n)| n.bytes().all(|b| b.is_ascii_digit())), "{client}");
        }
    }

    #[test]
    fn upload_ids_carry_the_wrapped_key() {
        let wrapped = wrap_key(&bucket_key(), "big.bin", &object_key(), [8; 12]);
        for node_id in ["2~abc", "VXBsb2FkIElE.with.dots", "a"] {
            let client_id = encode_upload_id(node_id, &wrapped);
            assert_eq!(decode_upload_id(&client_id), Some((node_id.to_string(), wrapped.clone())));
        }
        let mut other_version = base64::decode_url_safe(&wrapped).unwrap();
        other_version[0] = 2;
        for malformed in [
            "no-dot".to_string(),
            format!(".{wrapped}"),
            "node.".to_string(),
            "node.short".to_string(),
            format!("node.{wrapped}x"),
            format!("node.{}", &wrapped[..81]),
            format!("node.{}", base64::encode_url_safe(&other_version)),
            format!("node.{}!", &wrapped[..81]),
        ] {
            assert_eq!(decode_upload_id(&malformed), None, "{malformed}");
        }
    }

    #[test]
    fn secrets_stay_out_of_debug() {
        let key = ObjectKey::from_bytes([0xab; 32]);
        assert_eq!(format!("{key:?}"), "ObjectKey(<redacted>)");
        assert_eq!(format!("{:?}", RecordCipher::new(&key)), "RecordCipher(<redacted>)");
        assert_eq!(format!("{:?}", key.clone()), "ObjectKey(<redacted>)");
        let mut splitter = RecordSplitter::for_sealing();
        splitter.push(b"plaintext secret");
        assert_eq!(format!("{splitter:?}"), "RecordSplitter { chunk: 65536, buffered: 16, discard: 0, .. }");
    }

    #[test]
    fn errors_describe_themselves() {
        let err = FormatError::OutOfSequence { at: 4, locator: locator(2, 1, true), reason: "why" };
        assert_eq!(err.to_string(), "record 4 (part 2, index 1, last) is out of sequence: why");
        assert_eq!(
            FormatError::Unsatisfiable { plaintext_total: 9 }.to_string(),
            "the range is not satisfiable for an object of 9 bytes"
        );
    }
}
