//! Runtime adapter: the stored object format on the move. `Sealer` turns an upload's plaintext
//! into records (docs/FORMAT.md) as it streams to the node; `decrypting_body` turns a node's
//! records back into the plaintext window a client asked for. The framing rules live in the pure
//! `format` module; this file only moves buffers and awaits the cipher.

use std::cell::Cell;
use std::collections::VecDeque;
use std::rc::Rc;

use js_sys::{Function, Object, Reflect, Uint8Array};
use wasm_bindgen::{JsCast, JsValue};
use wasm_bindgen_futures::JsFuture;
use web_sys::{ReadableStream, WritableStreamDefaultWriter};
use worker::worker_sys::FixedLengthStream;

use crate::s3::{S3Error, S3ErrorCode, S3Result};
use crate::s3_error;
use crate::storage::cipher::{random_nonces, write_plaintexts, RecordCipher};
use crate::storage::format::{
    read_record_header, FormatError, Locator, RecordBatch, SequenceCheck, Window, RECORD_CIPHERTEXT,
    RECORD_HEADER_LEN as HEADER_LEN, RECORD_OVERHEAD, RECORD_PLAINTEXT,
};
use crate::storage::recycle::Recycler;

/// Seals plaintext into the records of one part (or of a single-part object). Plaintext is staged
/// in a JS buffer (it need not enter wasm) and sealed `RECORDS_PER_SEAL` records at a time, their
/// WebCrypto calls overlapping. The last record is sealed only by `finish`, after every check
/// passed: until then the node's fixed-length body stays incomplete, so nothing can commit early.
pub struct Sealer {
    cipher: RecordCipher,
    part: u32,
    next_index: u32,
    /// Room for `RECORDS_PER_SEAL` records and one more: full records are sealed only once a
    /// byte beyond them arrived, because the last record of a part carries the last flag.
    staged: Uint8Array,
    staged_len: u32,
    /// Buffers of sealed batches the node's body is done with, for the next batches.
    sealed_buffers: BufferRecycler,
    /// Bytes of the node's body whose writes resolved, as last told (`sent`).
    sent_settled: u64,
}

/// Records sealed together (their WebCrypto calls in flight at once), written as one buffer:
/// against 4, workerd's CPU per MiB of an encrypted PUT was 15-28% lower over four alternations
/// (fewer writes, reads and promises per MiB), for a staging buffer of ~1 MiB per upload.
const RECORDS_PER_SEAL: u32 = 16;
const RECORD: u32 = RECORD_PLAINTEXT as u32;
const STAGED_CAPACITY: u32 = (RECORDS_PER_SEAL + 1) * RECORD;
/// Bytes of a batch of `RECORDS_PER_SEAL` whole records, as written to the node.
const SEALED_BATCH: u32 = RECORDS_PER_SEAL * RECORD_CIPHERTEXT as u32;

impl Sealer {
    pub fn new(cipher: RecordCipher, part: u32) -> Self {
        // Grown as plaintext arrives: a small object never allocates the whole staging buffer.
        Sealer {
            cipher,
            part,
            next_index: 0,
            staged: Uint8Array::new_with_length(0),
            staged_len: 0,
            sealed_buffers: BufferRecycler::new(SEALED_BATCH),
            sent_settled: 0,
        }
    }

    /// A sealed batch went to the node's body (`PipelinedWriter`), its write ending at `written`;
    /// `settled` bytes of that body are done with. Whole batches' buffers are reused once theirs
    /// are: sealing leaves only WebCrypto's outputs behind as garbage.
    pub fn sent(&mut self, sealed: &Uint8Array, written: u64, settled: u64) {
        self.sealed_buffers.give_back(sealed, written, 0);
        self.sent_settled = settled;
    }

    /// Take more plaintext (a JS buffer); appends the records completed by it to `out`.
    pub async fn push_view(&mut self, plaintext: &Uint8Array, out: &mut Vec<Uint8Array>) -> S3Result<()> {
        self.stage(plaintext.length(), |from, to, staged, at| staged.set(&plaintext.subarray(from, to), at), out).await
    }

    /// Take more plaintext already in wasm (a decoded aws-chunked body).
    pub async fn push(&mut self, plaintext: &[u8], out: &mut Vec<Uint8Array>) -> S3Result<()> {
        let len = plaintext.len() as u32;
        let copy = |from: u32, to: u32, staged: &Uint8Array, at: u32| {
            staged.subarray(at, at + (to - from)).copy_from(&plaintext[from as usize..to as usize])
        };
        self.stage(len, copy, out).await
    }

    /// Read plaintext from `reader` straight into the staging buffer (no intermediate buffer per
    /// read, no copy into the stage), sealing whenever it fills. `expected` is the body's
    /// announced length and `read` what was read of it so far. Returns the bytes read: 0 at the
    /// body's end. Once `expected` bytes are in, one more read into a scratch byte tells whether
    /// the body goes on (the caller's length check then refuses it): a BYOB read takes its
    /// buffer over even when it finds the end, so the stage must not be offered then.
    pub async fn fill_from(
        &mut self,
        reader: &BodyReader,
        expected: u64,
        read: u64,
        out: &mut Vec<Uint8Array>,
    ) -> S3Result<u32> {
        if read >= expected {
            return Ok(reader.fill(Uint8Array::new_with_length(1)).await?.map_or(0, |extra| extra.length()));
        }
        let wanted = (u64::from(self.staged_len) + (expected - read)).min(u64::from(STAGED_CAPACITY)) as u32;
        if self.staged.length() < wanted {
            let grown = Uint8Array::new_with_length(wanted);
            grown.set(&self.staged.subarray(0, self.staged_len), 0);
            self.staged = grown;
        }
        // A BYOB read takes the staging buffer over and hands it back with the bytes in place.
        // A body that ends early loses the stage here, but then the length check fails it.
        let room = self.staged.subarray(self.staged_len, wanted);
        let Some(piece) = reader.fill(room).await? else { return Ok(0) };
        self.staged = Uint8Array::new(&piece.buffer());
        self.staged_len += piece.length();
        self.seal_if_full(out).await?;
        Ok(piece.length())
    }

    /// Stage `len` bytes, `copy(from, to, staged, at)` putting the input's bytes `from..to` at
    /// `at`, sealing whenever the staging buffer fills.
    async fn stage(
        &mut self,
        len: u32,
        copy: impl Fn(u32, u32, &Uint8Array, u32),
        out: &mut Vec<Uint8Array>,
    ) -> S3Result<()> {
        let mut from = 0;
        while from < len {
            let wanted = (self.staged_len + len - from).min(STAGED_CAPACITY);
            if self.staged.length() < wanted {
                let grown = Uint8Array::new_with_length(wanted);
                grown.set(&self.staged.subarray(0, self.staged_len), 0);
                self.staged = grown;
            }
            let take = (self.staged.length() - self.staged_len).min(len - from);
            copy(from, from + take, &self.staged, self.staged_len);
            self.staged_len += take;
            from += take;
            self.seal_if_full(out).await?;
        }
        Ok(())
    }

    /// With the staging buffer full, seal all its records but the last (which may yet be the
    /// part's last) and move that one to the front.
    async fn seal_if_full(&mut self, out: &mut Vec<Uint8Array>) -> S3Result<()> {
        if self.staged_len < STAGED_CAPACITY {
            return Ok(());
        }
        let batch = self.batch((0..RECORDS_PER_SEAL).map(|i| (i * RECORD, RECORD, false)))?;
        let spare = self.sealed_buffers.take(self.sent_settled, 0);
        let sealing = self.cipher.seal_batch(&self.staged, &batch, spare);
        // The call took every record's input: the staging buffer may change now.
        self.staged.copy_within(0, (RECORDS_PER_SEAL * RECORD) as i32, (self.staged_len) as i32);
        self.staged_len = RECORD;
        out.push(sealing.sealed().await?);
        Ok(())
    }

    /// Seal what remains; the final record carries the last flag (an empty record for an
    /// empty part).
    pub async fn finish(mut self) -> S3Result<Vec<Uint8Array>> {
        let count = self.staged_len.div_ceil(RECORD).max(1);
        let staged_len = self.staged_len;
        let records = (0..count).map(|i| (i * RECORD, (staged_len - i * RECORD).min(RECORD), i + 1 == count));
        let batch = self.batch(records)?;
        Ok(vec![self.cipher.seal_batch(&self.staged, &batch, None).sealed().await?])
    }

    /// `finish`, as one buffer in wasm (an empty part's body).
    pub async fn finish_to_vec(self) -> S3Result<Vec<u8>> {
        let mut bytes = Vec::new();
        for record in self.finish().await? {
            bytes.extend_from_slice(&record.to_vec());
        }
        Ok(bytes)
    }

    /// The next records, each `(start, len, last)` in the staging buffer, with their locators
    /// and fresh nonces.
    fn batch(&mut self, records: impl ExactSizeIterator<Item = (u32, u32, bool)>) -> S3Result<RecordBatch> {
        let mut batch = RecordBatch::with_capacity(records.len());
        let nonces = random_nonces(records.len())?;
        for ((start, len, last), nonce) in records.zip(&nonces) {
            let locator = Locator { part: self.part, index: self.next_index, last };
            self.next_index += 1;
            batch.push(start, len, locator, nonce);
        }
        Ok(batch)
    }
}

fn stream_error(_: JsValue) -> S3Error {
    S3Error::new(S3ErrorCode::InternalError)
}

/// The plaintext `window` of the records arriving in `source`, as a fixed-length stream. A record
/// that fails authentication, or arrives out of sequence, aborts the stream: the client sees a
/// broken body, never wrong bytes. `part` restricts the records to one part (GET ?partNumber).
pub fn decrypting_body(
    source: ReadableStream,
    cipher: RecordCipher,
    window: Window,
    part: Option<u32>,
    resource: String,
) -> S3Result<ReadableStream> {
    let fixed = if window.length < u32::MAX as u64 {
        FixedLengthStream::new(window.length as u32)
    } else {
        FixedLengthStream::new_big_int(js_sys::BigInt::from(window.length))
    }
    .map_err(stream_error)?;
    let writer = fixed.writable().get_writer().map_err(stream_error)?;
    let reader = BodyReader::new(&source)?;
    wasm_bindgen_futures::spawn_local(async move {
        if let Err(err) = pump_decrypt(&reader, &writer, &cipher, &window, part).await {
            worker::console_error!("reading {resource}: {}", err.message);
            let _ = writer.abort_with_reason(&JsValue::from_str(&err.message));
        }
        reader.cancel();
    });
    Ok(fixed.readable())
}

/// How far a read of a window has got: the record sequence so far, and the plaintext bytes
/// still to drop before the window and still to serve.
struct WindowProgress<'a> {
    window: &'a Window,
    sequence: SequenceCheck,
    skip: u64,
    remaining: u64,
}

impl<'a> WindowProgress<'a> {
    fn new(window: &'a Window, part: Option<u32>) -> Self {
        let mut sequence = SequenceCheck::for_window(window);
        if let Some(part) = part {
            sequence = sequence.expect_part(part);
        }
        WindowProgress { window, sequence, skip: window.skip, remaining: window.length }
    }

    /// The batch opening the whole records in `records` (a read of the node's body), checked in
    /// sequence, and per record the plaintext bytes to serve: `[from, take]` pairs.
    fn plan(&mut self, records: &Uint8Array) -> S3Result<(RecordBatch, Vec<u32>)> {
        let mut header = [0u8; HEADER_LEN];
        let mut batch = RecordBatch::with_capacity(RECORDS_PER_READ as usize);
        let mut cuts = Vec::with_capacity(2 * RECORDS_PER_READ as usize);
        let mut at = 0u32;
        while at < records.length() {
            let record_len = (records.length() - at).min(RECORD_CIPHERTEXT as u32);
            if (record_len as usize) < HEADER_LEN {
                return Err(corrupt(&FormatError::RecordLength(record_len as usize).to_string()));
            }
            records.subarray(at, at + HEADER_LEN as u32).copy_to(&mut header);
            let (locator, nonce) =
                read_record_header(&header, record_len as usize).map_err(|e| corrupt(&e.to_string()))?;
            let plaintext_len = record_len as usize - RECORD_OVERHEAD;
            self.sequence.accept(locator, plaintext_len).map_err(|e| corrupt(&e.to_string()))?;
            batch.push(at + HEADER_LEN as u32, record_len - HEADER_LEN as u32, locator, &nonce);
            let from = self.skip.min(plaintext_len as u64);
            self.skip -= from;
            let take = (plaintext_len as u64 - from).min(self.remaining);
            cuts.extend([from as u32, take as u32]);
            if take > 0 {
                self.remaining -= take;
                if self.remaining == 0 {
                    // Before the last bytes leave: a window reaching the object's end must end
                    // on its last record, or the node dropped records at the end.
                    self.sequence.finish(self.window.reaches_end).map_err(|e| corrupt(&e.to_string()))?;
                }
            }
            at += record_len;
        }
        Ok((batch, cuts))
    }
}

/// Node bodies up to this many bytes (one record) are read whole and decrypted before the answer
/// goes out (`decrypt_whole`): a small object or range skips the streaming pipeline, and a
/// record failing authentication is an error answer rather than a broken body.
pub const WHOLE_READ_MAX_BYTES: u64 = RECORD_CIPHERTEXT as u64;

/// The plaintext `window` of the node's whole body `stored` (at most `WHOLE_READ_MAX_BYTES` after
/// `window.node_skip`), checked as `decrypting_body` checks a stream.
pub async fn decrypt_whole(
    stored: Uint8Array,
    cipher: &RecordCipher,
    window: &Window,
    part: Option<u32>,
) -> S3Result<Uint8Array> {
    let short = || corrupt("the stored object is shorter than its records say");
    let node_skip = u32::try_from(window.node_skip).map_err(|_| short())?;
    if stored.length() < node_skip {
        return Err(short());
    }
    let records = stored.subarray(node_skip, stored.length());
    let mut progress = WindowProgress::new(window, part);
    let (batch, cuts) = progress.plan(&records)?;
    if progress.remaining > 0 {
        return Err(short());
    }
    let plaintexts =
        cipher.open_batch(&records, &batch).opened().await.map_err(|_| corrupt("a record failed authentication"))?;
    let served: Vec<Uint8Array> = cuts
        .chunks_exact(2)
        .enumerate()
        .filter(|(_, cut)| cut[1] > 0)
        .map(|(i, cut)| Uint8Array::new_with_byte_offset_and_length(&plaintexts.get(i as u32), cut[0], cut[1]))
        .collect();
    Ok(joined(served))
}

/// The pieces as one buffer (the piece itself when there is one).
pub fn joined(mut pieces: Vec<Uint8Array>) -> Uint8Array {
    if pieces.len() == 1 {
        return pieces.remove(0);
    }
    let whole = Uint8Array::new_with_length(pieces.iter().map(Uint8Array::length).sum());
    let mut at = 0;
    for piece in &pieces {
        whole.set(piece, at);
        at += piece.length();
    }
    whole
}

async fn pump_decrypt(
    reader: &BodyReader,
    writer: &WritableStreamDefaultWriter,
    cipher: &RecordCipher,
    window: &Window,
    part: Option<u32>,
) -> S3Result<()> {
    let mut progress = WindowProgress::new(window, part);
    // A suffix read starts mid-record: node bytes to drop before the first whole record.
    if window.node_skip > 0 {
        let skipped = reader.fill(Uint8Array::new_with_length(window.node_skip as u32)).await?;
        if skipped.is_none_or(|bytes| bytes.length() < window.node_skip as u32) {
            return Err(corrupt("the stored object is shorter than its records say"));
        }
    }
    // The writes of the previous read's records: at most one read's worth is in flight, so the
    // next read and its decryption overlap with the network write while memory stays bounded.
    let mut writing: Option<JsFuture> = None;
    // Whole records are read straight into a JS buffer and opened from views into it: the
    // ciphertext never enters wasm, only each record's header does. The next read fills the
    // same buffer while this one's records are opened and written. The first read takes one
    // record, so the first bytes go out as soon as it is in; later ones take `RECORDS_PER_READ`.
    let mut wanted = RECORD_CIPHERTEXT as u32;
    let mut reading = Some(reader.fill(Uint8Array::new_with_length(wanted)));
    while progress.remaining > 0 {
        let Some(read) = reading.take() else {
            return Err(corrupt("the stored object is shorter than its records say"));
        };
        let Some(records) = read.await? else {
            return Err(corrupt("the stored object is shorter than its records say"));
        };
        let (batch, cuts) = progress.plan(&records)?;
        let opening = cipher.open_batch(&records, &batch);
        // A short read is the body's end; a full one may be followed by more. The call above
        // took the records: the next read may fill their buffer.
        if records.length() == wanted && progress.remaining > 0 {
            wanted = READ_BYTES;
            let buffer = records.buffer();
            let next = if buffer.byte_length() == READ_BYTES {
                Uint8Array::new(&buffer)
            } else {
                Uint8Array::new_with_length(READ_BYTES)
            };
            reading = Some(reader.fill(next));
        }
        let plaintexts = opening.opened().await.map_err(|_| corrupt("a record failed authentication"))?;
        if let Some(previous) = writing.take() {
            previous.await.map_err(stream_error)?;
        }
        // Each record's plaintext is written as WebCrypto returned it: joining a read's records
        // into one buffer first cost an allocation and a copy of every byte (measured: ~14% of
        // the process's samples), more than the extra writes.
        writing = Some(JsFuture::from(write_plaintexts(writer, &plaintexts, &cuts)));
    }
    if let Some(last) = writing {
        last.await.map_err(stream_error)?;
    }
    JsFuture::from(writer.close()).await.map_err(stream_error)?;
    Ok(())
}

/// Whole records per read of an encrypted object (~1 MiB) after the first: measured against 4
/// (~256 KiB), workerd's CPU per MiB of an encrypted GET was ~20-25% lower (fewer reads,
/// promises and wakeups per MiB).
const RECORDS_PER_READ: u32 = 16;
const READ_BYTES: u32 = RECORDS_PER_READ * RECORD_CIPHERTEXT as u32;

fn corrupt(detail: &str) -> S3Error {
    s3_error!(InternalError, "The stored object failed verification: {detail}.")
}

/// A writer with a bounded number of bytes in flight: the next read and crypto call overlap with
/// the network write, while memory stays bounded (a stream's `ready` alone does not hold a fast
/// producer back here: a 1 GiB upload grew workerd by ~900 MiB with it).
pub struct PipelinedWriter {
    writer: WritableStreamDefaultWriter,
    in_flight: VecDeque<(JsFuture, u32)>,
    /// Bytes queued so far, and bytes whose writes resolved (the stream is done with them): the
    /// difference is what is in flight.
    written: u64,
    settled: u64,
}

/// Bytes in flight at most (the write that crosses it waits for older ones): a read's worth,
/// whether a read is written whole or record by record.
const BYTES_IN_FLIGHT: u64 = 1 << 20;

impl PipelinedWriter {
    pub fn new(writer: WritableStreamDefaultWriter) -> Self {
        PipelinedWriter { writer, in_flight: VecDeque::with_capacity(16), written: 0, settled: 0 }
    }

    /// Queue a chunk; waits for the oldest writes while too many bytes are in flight.
    pub async fn write(&mut self, chunk: &Uint8Array) -> Result<(), JsValue> {
        let len = chunk.length();
        self.in_flight.push_back((JsFuture::from(self.writer.write_with_chunk(chunk)), len));
        self.written += u64::from(len);
        while self.written - self.settled > BYTES_IN_FLIGHT {
            let Some((oldest, len)) = self.in_flight.pop_front() else { break };
            oldest.await?;
            self.settled += u64::from(len);
        }
        Ok(())
    }

    /// Wait for every write in flight.
    pub async fn flush(&mut self) -> Result<(), JsValue> {
        while let Some((oldest, len)) = self.in_flight.pop_front() {
            oldest.await?;
            self.settled += u64::from(len);
        }
        Ok(())
    }

    /// Bytes queued so far: where the last chunk written ends.
    pub fn written(&self) -> u64 {
        self.written
    }

    /// Bytes whose writes resolved, in order: the stream is done with every chunk ending there or
    /// before.
    pub fn settled(&self) -> u64 {
        self.settled
    }

    /// Flush, then close the stream.
    pub async fn close(&mut self) -> Result<(), JsValue> {
        self.flush().await?;
        JsFuture::from(self.writer.close()).await.map(|_| ())
    }
}

/// Buffers of one size (a body read's, a sealed batch's) given back after their writes, for
/// reuse (`recycle::Recycler`).
pub struct BufferRecycler {
    recycler: Recycler<Uint8Array>,
    size: u32,
}

/// Free buffers kept at most: a few reads' worth.
const RECYCLED_BUFFERS: usize = 4;

impl BufferRecycler {
    pub fn new(size: u32) -> Self {
        BufferRecycler { recycler: Recycler::new(RECYCLED_BUFFERS), size }
    }

    /// For body reads (`BodyReader::next_into`).
    pub fn for_reads() -> Self {
        Self::new(MAX_READ)
    }

    /// `piece`'s whole buffer is free once the first writer settled `first_end` bytes and the
    /// second `second_end` (0: not given to it). Buffers of another size are let go.
    pub fn give_back(&mut self, piece: &Uint8Array, first_end: u64, second_end: u64) {
        let buffer = Uint8Array::new(&piece.buffer());
        if buffer.length() == self.size {
            self.recycler.give_back(buffer, first_end, second_end);
        }
    }

    /// A free buffer, given what each writer has settled so far.
    pub fn take(&mut self, first_settled: u64, second_settled: u64) -> Option<Uint8Array> {
        self.recycler.take(first_settled, second_settled)
    }
}

/// Reads a body in large pieces. Request and fetch bodies arrive in ~4 KiB chunks, and each read
/// costs a promise and a trip across the wasm boundary: reading through a BYOB reader with
/// workerd's `readAtLeast` takes at least `MIN_READ` bytes per read (the last read excepted), 64x
/// fewer reads (against 64-256 KiB reads, 256 KiB-1 MiB ones cut workerd's CPU per MiB of a
/// signed upload by ~20%). Streams that are not byte streams get a default reader.
pub struct BodyReader {
    reader: Object,
    read_at_least: Option<Function>,
    /// Bytes of a chunk read beyond a `fill` (streams without BYOB reads only).
    overhang: Cell<Option<Uint8Array>>,
    /// A `readAtLeast` came back short: the body is at its end. No read may follow, since
    /// workerd's identity streams leave a read after a short one pending forever.
    ended: Rc<Cell<bool>>,
}

/// Bytes a read returns at least (the last one excepted) and at most.
const MIN_READ: u32 = 256 * 1024;
const MAX_READ: u32 = 1024 * 1024;

impl BodyReader {
    pub fn new(stream: &ReadableStream) -> S3Result<Self> {
        let byob_options = Object::new();
        let _ = Reflect::set(&byob_options, &JsValue::from_str("mode"), &JsValue::from_str("byob"));
        let get_reader: Function =
            Reflect::get(stream, &JsValue::from_str("getReader")).and_then(|f| f.dyn_into()).map_err(stream_error)?;
        if let Ok(reader) = get_reader.call1(stream, &byob_options) {
            let read_at_least = Reflect::get(&reader, &JsValue::from_str("readAtLeast"))
                .ok()
                .and_then(|f| f.dyn_into::<Function>().ok());
            if read_at_least.is_some() {
                return Ok(BodyReader {
                    reader: reader.unchecked_into(),
                    read_at_least,
                    overhang: Cell::new(None),
                    ended: Rc::default(),
                });
            }
            let _ = Reflect::get(&reader, &JsValue::from_str("releaseLock"))
                .ok()
                .and_then(|f| f.dyn_into::<Function>().ok())
                .map(|release| release.call0(&reader));
        }
        let reader = get_reader.call0(stream).map_err(stream_error)?;
        Ok(BodyReader {
            reader: reader.unchecked_into(),
            read_at_least: None,
            overhang: Cell::new(None),
            ended: Rc::default(),
        })
    }

    /// The next piece of the body, or None at its end.
    pub async fn next(&self) -> S3Result<Option<Uint8Array>> {
        self.next_into(None).await
    }

    /// `next`, reading into `spare` (a buffer of an earlier piece, from `BufferRecycler`) when it
    /// can take a whole read, instead of a new buffer.
    pub async fn next_into(&self, spare: Option<Uint8Array>) -> S3Result<Option<Uint8Array>> {
        if self.ended.get() {
            return Ok(None);
        }
        let promise = match &self.read_at_least {
            Some(read_at_least) => {
                let buffer = spare
                    .filter(|spare| spare.length() == MAX_READ)
                    .unwrap_or_else(|| Uint8Array::new_with_length(MAX_READ));
                read_at_least.call2(&self.reader, &JsValue::from(MIN_READ), &buffer)
            }
            None => self.method("read").and_then(|read| read.call0(&self.reader)),
        }
        .map_err(|_| S3Error::new(S3ErrorCode::IncompleteBody))?;
        let result = JsFuture::from(js_sys::Promise::from(promise))
            .await
            .map_err(|_| S3Error::new(S3ErrorCode::IncompleteBody))?;
        let value = Reflect::get(&result, &JsValue::from_str("value")).map_err(stream_error)?;
        let done = Reflect::get(&result, &JsValue::from_str("done")).map_err(stream_error)?.as_bool().unwrap_or(true);
        match value.dyn_into::<Uint8Array>() {
            Ok(piece) if piece.length() > 0 => {
                if self.read_at_least.is_some() && (done || piece.length() < MIN_READ) {
                    self.ended.set(true);
                }
                Ok(Some(piece))
            }
            _ if done => Ok(None),
            // An empty piece before the end: read on.
            _ => Ok(Some(Uint8Array::new_with_length(0))),
        }
    }

    /// Start filling `buffer` from the body: the future yields it filled, or shorter only at the
    /// body's end (None when nothing was left). The read is under way before the future is
    /// first awaited; `buffer` is handed to the stream (a BYOB read takes it over).
    pub fn fill(&self, buffer: Uint8Array) -> impl std::future::Future<Output = S3Result<Option<Uint8Array>>> + '_ {
        let wanted = buffer.length();
        let ended = self.ended.clone();
        let started = self.read_at_least.as_ref().filter(|_| !ended.get()).map(|read_at_least| {
            read_at_least
                .call2(&self.reader, &JsValue::from(buffer.length()), &buffer)
                .map(|promise| JsFuture::from(js_sys::Promise::from(promise)))
        });
        async move {
            let piece = match started {
                Some(call) => {
                    let result = call.map_err(|_| S3Error::new(S3ErrorCode::IncompleteBody))?.await;
                    let result = result.map_err(|_| S3Error::new(S3ErrorCode::IncompleteBody))?;
                    let value = Reflect::get(&result, &JsValue::from_str("value")).map_err(stream_error)?;
                    let piece = value.dyn_into::<Uint8Array>().ok();
                    if piece.as_ref().is_none_or(|piece| piece.length() < wanted) {
                        ended.set(true);
                    }
                    piece
                }
                None if self.read_at_least.is_some() => None,
                None => self.fill_by_copying(buffer).await?,
            };
            Ok(piece.filter(|piece| piece.length() > 0))
        }
    }

    /// `fill` for a stream without BYOB reads: chunks are copied in, what overhangs is kept.
    async fn fill_by_copying(&self, buffer: Uint8Array) -> S3Result<Option<Uint8Array>> {
        let mut filled = 0;
        while filled < buffer.length() {
            let chunk = match self.overhang.take() {
                Some(chunk) => chunk,
                None => match self.next().await? {
                    Some(chunk) => chunk,
                    None => break,
                },
            };
            let take = chunk.length().min(buffer.length() - filled);
            buffer.set(&chunk.subarray(0, take), filled);
            filled += take;
            if take < chunk.length() {
                self.overhang.set(Some(chunk.subarray(take, chunk.length())));
            }
        }
        Ok(Some(buffer.subarray(0, filled)))
    }

    /// Stop reading: the source is told it is no longer wanted.
    pub fn cancel(&self) {
        if let Ok(cancel) = self.method("cancel") {
            let _ = cancel.call0(&self.reader);
        }
    }

    fn method(&self, name: &str) -> Result<Function, JsValue> {
        Reflect::get(&self.reader, &JsValue::from_str(name))?.dyn_into::<Function>()
    }
}
