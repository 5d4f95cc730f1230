//! Runtime adapter: the stored object format on the move. `Sealer` turns an upload's plaintext
//! into records (docs/FORMAT.md) as it streams to the node; `decrypting_body` turns a node's
//! records back into the plaintext window a client asked for. The framing rules live in the pure
//! `format` module; this file only moves buffers and awaits the cipher.

use std::collections::VecDeque;

use futures_util::future::join_all;

use js_sys::{Function, Object, Reflect, Uint8Array};
use wasm_bindgen::{JsCast, JsValue};
use wasm_bindgen_futures::JsFuture;
use web_sys::{ReadableStream, WritableStreamDefaultWriter};
use worker::worker_sys::FixedLengthStream;

use crate::s3::{S3Error, S3ErrorCode, S3Result};
use crate::s3_error;
use crate::storage::cipher::{random_nonce, RecordCipher};
use crate::storage::format::{
    record_header, split_record, Locator, SequenceCheck, Window, RECORD_CIPHERTEXT, RECORD_HEADER_LEN as HEADER_LEN,
    RECORD_PLAINTEXT,
};

/// Seals plaintext into the records of one part (or of a single-part object). The last record
/// is sealed only by `finish`, after every check passed: until then the node's fixed-length body
/// stays incomplete, so nothing can commit early.
pub struct Sealer {
    cipher: RecordCipher,
    part: u32,
    next_index: u32,
    pending: Vec<u8>,
}

impl Sealer {
    pub fn new(cipher: RecordCipher, part: u32) -> Self {
        Sealer { cipher, part, next_index: 0, pending: Vec::with_capacity(2 * RECORD_PLAINTEXT) }
    }

    /// Take more plaintext; returns the records completed by it. A full record is sealed only
    /// once a byte beyond it arrived, because the last record of a part carries the last flag.
    pub async fn push(&mut self, plaintext: &[u8], out: &mut Vec<Uint8Array>) -> S3Result<()> {
        self.pending.extend_from_slice(plaintext);
        let mut start = 0;
        while self.pending.len() - start > RECORD_PLAINTEXT {
            let record = self.seal(start, RECORD_PLAINTEXT, false).await?;
            out.push(record);
            start += RECORD_PLAINTEXT;
        }
        self.pending.drain(..start);
        Ok(())
    }

    /// Seal what remains as the last record (an empty record for an empty part).
    pub async fn finish(mut self) -> S3Result<Uint8Array> {
        let len = self.pending.len();
        self.seal(0, len, true).await
    }

    async fn seal(&mut self, start: usize, len: usize, last: bool) -> S3Result<Uint8Array> {
        let locator = Locator { part: self.part, index: self.next_index, last };
        self.next_index += 1;
        let nonce = random_nonce()?;
        let sealed = self.cipher.seal(&nonce, locator.aad().as_ref(), &self.pending[start..start + len]).await?;
        let header = record_header(locator, &nonce);
        let record = Uint8Array::new_with_length((HEADER_LEN as u32) + sealed.length());
        record.subarray(0, HEADER_LEN as u32).copy_from(&header);
        record.set(&sealed, HEADER_LEN as u32);
        Ok(record)
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

async fn pump_decrypt(
    reader: &BodyReader,
    writer: &WritableStreamDefaultWriter,
    cipher: &RecordCipher,
    window: &Window,
    part: Option<u32>,
) -> S3Result<()> {
    let mut output = PipelinedWriter::new(writer.clone());
    let mut sequence = SequenceCheck::for_window(window);
    if let Some(part) = part {
        sequence = sequence.expect_part(part);
    }
    // A suffix read starts mid-record: node bytes to drop before the first whole record.
    let mut node_skip = window.node_skip as usize;
    let mut buffer: Vec<u8> = Vec::with_capacity(2 * RECORD_CIPHERTEXT);
    let mut chunk_buffer: Vec<u8> = Vec::new();
    // Plaintext bytes still to drop before the window, and still to serve.
    let mut skip = window.skip;
    let mut remaining = window.length;
    let mut ended = false;
    while remaining > 0 {
        if !ended {
            match reader.next().await? {
                Some(chunk) => {
                    chunk_buffer.resize(chunk.length() as usize, 0);
                    chunk.copy_to(&mut chunk_buffer);
                    let dropped = node_skip.min(chunk_buffer.len());
                    node_skip -= dropped;
                    buffer.extend_from_slice(&chunk_buffer[dropped..]);
                }
                None => ended = true,
            }
        }
        // Every whole record now buffered: checked in order, then opened together, so the
        // runtime's AES-GCM calls overlap instead of waiting for each other.
        let mut start = 0;
        let mut records = Vec::new();
        loop {
            let available = buffer.len() - start;
            let record_len = if available >= RECORD_CIPHERTEXT {
                RECORD_CIPHERTEXT
            } else if ended && available > 0 {
                available
            } else {
                break;
            };
            let (locator, nonce, sealed) =
                split_record(&buffer[start..start + record_len]).map_err(|e| corrupt(&e.to_string()))?;
            sequence.accept(locator, sealed.len().saturating_sub(16)).map_err(|e| corrupt(&e.to_string()))?;
            let sealed_at = start + (record_len - sealed.len());
            records.push((locator.aad(), nonce, sealed_at..start + record_len));
            start += record_len;
        }
        let opened = join_all(
            records.iter().map(|(aad, nonce, sealed)| cipher.open(nonce, aad.as_ref(), &buffer[sealed.clone()])),
        )
        .await;
        for plaintext in opened {
            let plaintext = plaintext.map_err(|_| corrupt("a record failed authentication"))?;
            let mut from = 0u64;
            let len = plaintext.length() as u64;
            if skip >= len {
                skip -= len;
                continue;
            }
            from += skip;
            skip = 0;
            let take = (len - from).min(remaining);
            remaining -= take;
            if remaining == 0 {
                // Before the last byte leaves: a window reaching the object's end must end on
                // its last record, or the node dropped records at the end.
                sequence.finish(window.reaches_end).map_err(|e| corrupt(&e.to_string()))?;
            }
            let piece = plaintext.subarray(from as u32, (from + take) as u32);
            output.write(&piece).await.map_err(stream_error)?;
            if remaining == 0 {
                break;
            }
        }
        buffer.drain(..start);
        if ended && remaining > 0 && buffer.is_empty() {
            return Err(corrupt("the stored object is shorter than its records say"));
        }
    }
    output.close().await.map_err(stream_error)?;
    Ok(())
}

fn corrupt(detail: &str) -> S3Error {
    s3_error!(InternalError, "The stored object failed verification: {detail}.")
}

/// A writer with a few writes in flight: the next read and crypto call overlap with the network
/// write, while memory stays bounded (a stream's `ready` alone does not hold a fast producer back
/// here: a 1 GiB upload grew workerd by ~900 MiB with it).
pub struct PipelinedWriter {
    writer: WritableStreamDefaultWriter,
    in_flight: VecDeque<JsFuture>,
}

/// Writes in flight at most; each is one read (up to 256 KiB) or one record.
const WRITES_IN_FLIGHT: usize = 4;

impl PipelinedWriter {
    pub fn new(writer: WritableStreamDefaultWriter) -> Self {
        PipelinedWriter { writer, in_flight: VecDeque::with_capacity(WRITES_IN_FLIGHT + 1) }
    }

    /// Queue a chunk; waits for the oldest write when too many are in flight.
    pub async fn write(&mut self, chunk: &Uint8Array) -> Result<(), JsValue> {
        self.in_flight.push_back(JsFuture::from(self.writer.write_with_chunk(chunk)));
        while self.in_flight.len() > WRITES_IN_FLIGHT {
            if let Some(oldest) = self.in_flight.pop_front() {
                oldest.await?;
            }
        }
        Ok(())
    }

    /// Wait for every write in flight.
    pub async fn flush(&mut self) -> Result<(), JsValue> {
        while let Some(oldest) = self.in_flight.pop_front() {
            oldest.await?;
        }
        Ok(())
    }

    /// Flush, then close the stream.
    pub async fn close(&mut self) -> Result<(), JsValue> {
        self.flush().await?;
        JsFuture::from(self.writer.close()).await.map(|_| ())
    }
}

/// Reads a body in large pieces. Request and fetch bodies arrive in ~4 KiB chunks, and each read
/// costs a promise and a trip across the wasm boundary: reading through a BYOB reader with
/// workerd's `readAtLeast` takes at least `MIN_READ` bytes per read (the last read excepted), 16x
/// fewer reads. Streams that are not byte streams get a default reader.
pub struct BodyReader {
    reader: Object,
    read_at_least: Option<Function>,
}

/// Bytes a read returns at least (the last one excepted) and at most.
const MIN_READ: u32 = 64 * 1024;
const MAX_READ: u32 = 256 * 1024;

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
                return Ok(BodyReader { reader: reader.unchecked_into(), read_at_least });
            }
            let _ = Reflect::get(&reader, &JsValue::from_str("releaseLock"))
                .ok()
                .and_then(|f| f.dyn_into::<Function>().ok())
                .map(|release| release.call0(&reader));
        }
        let reader = get_reader.call0(stream).map_err(stream_error)?;
        Ok(BodyReader { reader: reader.unchecked_into(), read_at_least: None })
    }

    /// The next piece of the body, or None at its end.
    pub async fn next(&self) -> S3Result<Option<Uint8Array>> {
        let promise = match &self.read_at_least {
            Some(read_at_least) => {
                let buffer = Uint8Array::new_with_length(MAX_READ);
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
            Ok(piece) if piece.length() > 0 => Ok(Some(piece)),
            _ if done => Ok(None),
            // An empty piece before the end: read on.
            _ => Ok(Some(Uint8Array::new_with_length(0))),
        }
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
