//! Runtime adapter: stream a client's upload body to the node while checks run over it.
//!
//! The node receives the body through a `FixedLengthStream` of the declared length. Every chunk is
//! forwarded as soon as the next one arrives, except the last, which is held back until all checks
//! pass. On failure the stream is aborted, so the node sees a body shorter than its Content-Length
//! and commits nothing: the previous object stays intact.

use futures_util::future::{select, Either};
use std::rc::Rc;

use js_sys::Uint8Array;
use wasm_bindgen::JsValue;
use wasm_bindgen_futures::JsFuture;
use web_sys::{ReadableStream, Response, WritableStreamDefaultWriter};
use worker::worker_sys::FixedLengthStream;

use crate::auth::chunked::AwsChunkedDecoder;
use crate::s3::{S3Error, S3ErrorCode, S3Result};
use crate::storage::client::{send, NodeBody, NodeRequest};
use crate::storage::digest::NativeSha256;
use crate::storage::format::ciphertext_len;
use crate::storage::node::NodeConfig;
use crate::storage::record_stream::{joined, BodyReader, BufferRecycler, PipelinedWriter, Sealer};
use crate::storage::verify::{BodyCheck, LengthCheck, Sha256Check};

fn incomplete_body(_: JsValue) -> S3Error {
    S3Error::new(S3ErrorCode::IncompleteBody)
}

/// What happens to an upload body on its way to the node.
#[derive(Default)]
pub struct BodyPipeline {
    /// Verified over the (decoded, plaintext) body; the last bytes wait for them.
    pub checks: Vec<Box<dyn BodyCheck>>,
    /// An aws-chunked body is decoded (and its chunk signatures and trailer verified).
    pub decoder: Option<AwsChunkedDecoder>,
    /// An encrypted project's body is sealed into records.
    pub sealer: Option<Sealer>,
    /// The signed SHA-256 of the (plaintext) body.
    pub sha256: Option<[u8; 32]>,
}

/// Send `request` with `source` as its body of exactly `length` bytes (decoded, plaintext),
/// verified by `checks`, sealed into records by `sealer` if given. Returns the node's response,
/// or the first check failure (the node then commits nothing).
pub async fn send_verified(
    node: &NodeConfig,
    request: NodeRequest,
    source: ReadableStream,
    length: u64,
    body: BodyPipeline,
    now: i64,
) -> S3Result<Response> {
    let BodyPipeline { checks, decoder, sealer, sha256 } = body;
    let node_length = if sealer.is_some() { ciphertext_len(length) } else { length };
    let fixed = if node_length < u32::MAX as u64 {
        FixedLengthStream::new(node_length as u32)
    } else {
        FixedLengthStream::new_big_int(js_sys::BigInt::from(node_length))
    }
    .map_err(incomplete_body)?;
    if checks.is_empty() && decoder.is_none() && sealer.is_none() && sha256.is_none() {
        // Nothing to verify or transform: the bytes never enter wasm. The runtime pipes the
        // client's stream into the fixed-length body; a client that stops short errors the pipe,
        // which aborts the body, so the node commits nothing.
        let piping = JsFuture::from(source.pipe_to(&fixed.writable()));
        let request = request.body(NodeBody::Js(fixed.readable().into()));
        let upload = Box::pin(send(node, request, now));
        return match select(upload, piping).await {
            Either::Left((response, _)) => response,
            Either::Right((Ok(_), upload)) => upload.await,
            Either::Right((Err(_), upload)) => {
                // The client's body broke off; the node's answer (an error) follows.
                match upload.await {
                    Ok(response) if !(200..300).contains(&response.status()) => {
                        crate::storage::client::discard_body(&response);
                        Err(S3Error::new(S3ErrorCode::IncompleteBody))
                    }
                    other => other,
                }
            }
        };
    }
    let writer = fixed.writable().get_writer().map_err(incomplete_body)?;
    let reader = Rc::new(BodyReader::new(&source)?);
    let request = request.body(NodeBody::Js(fixed.readable().into()));

    let upload = Box::pin(send(node, request, now));
    let pump = Box::pin(pump(reader.clone(), writer.clone(), length, checks, decoder, sealer, sha256));
    match select(upload, pump).await {
        // The node answered before the body was complete: it refused the request early.
        Either::Left((response, pump)) => {
            let response = response?;
            if (200..300).contains(&response.status()) {
                // Success needs the whole body, so the pump has written its last bytes; both
                // futures merely became ready together. Let it finish closing.
                pump.await?;
                return Ok(response);
            }
            // The node answered before taking the whole body: a refusal. Start reading its small
            // answer, then end both streams (a request body left open keeps the node's
            // connection waiting), and hand back the answer as a complete response.
            drop(pump);
            let status = response.status();
            let text = response.text().map_err(incomplete_body)?;
            let _ = writer.abort_with_reason(&JsValue::from_str("the storage node answered early"));
            reader.cancel();
            let text = JsFuture::from(text).await.ok().and_then(|t| t.as_string()).unwrap_or_default();
            let init = web_sys::ResponseInit::new();
            init.set_status(status);
            Response::new_with_opt_str_and_init(Some(&text), &init).map_err(incomplete_body)
        }
        Either::Right((Ok(()), upload)) => upload.await,
        Either::Right((Err(check_failure), upload)) => {
            let _ = writer.abort_with_reason(&JsValue::from_str(&check_failure.message));
            reader.cancel();
            // Wait for the node to see the aborted body, so nothing is left in flight.
            if let Ok(response) = upload.await {
                crate::storage::client::discard_body(&response);
            }
            Err(check_failure)
        }
    }
}

/// Uploads of at most this many bytes on the wire (Content-Length) are read whole, checked, and
/// sent to the node as one buffer (`send_whole`): the streaming pipeline's set-up (a fixed-length
/// body, a BYOB reader, a digest stream, the pump and its futures) cost more than a small body's
/// bytes, and nothing reaches the node before every check passed.
pub const WHOLE_BODY_MAX_BYTES: u64 = 64 * 1024;

/// Send `request` with the client's body read whole (`WHOLE_BODY_MAX_BYTES` at most): decoded if
/// aws-chunked, checked against `length` (decoded, plaintext) and `body`'s checks and signed
/// SHA-256, sealed if encrypting, and only then sent to the node, as one buffer.
pub async fn send_whole(
    node: &NodeConfig,
    request: NodeRequest,
    client: &web_sys::Request,
    length: u64,
    body: BodyPipeline,
    now: i64,
) -> S3Result<Response> {
    let BodyPipeline { mut checks, decoder, sealer, sha256 } = body;
    if let Some(expected) = sha256 {
        // A few KiB: sha2 in wasm costs less than setting up a native digest.
        checks.push(Box::new(Sha256Check::new(expected)));
    }
    let received = match client.body() {
        Some(_) => {
            let promise = client.array_buffer().map_err(incomplete_body)?;
            Uint8Array::new(&JsFuture::from(promise).await.map_err(incomplete_body)?)
        }
        None => Uint8Array::new_with_length(0),
    };
    // The bytes enter wasm only when something must look at them.
    let wire = if decoder.is_some() || !checks.is_empty() { received.to_vec() } else { Vec::new() };
    let decoded = match decoder {
        Some(mut decoder) => {
            let mut decoded = Vec::with_capacity(length.min(WHOLE_BODY_MAX_BYTES) as usize);
            decoder.push(&wire, &mut decoded)?;
            // Framing, the final chunk signature and any trailing checksum.
            decoder.finish()?;
            Some(decoded)
        }
        None => None,
    };
    let plaintext: &[u8] = decoded.as_deref().unwrap_or(&wire);
    let mut length_check = LengthCheck::new(length);
    length_check.add(if decoded.is_some() { plaintext.len() } else { received.length() as usize })?;
    length_check.finish()?;
    for mut check in checks {
        check.update(plaintext);
        check.finish()?;
    }
    let node_body: JsValue = match sealer {
        Some(mut sealer) => {
            let mut sealed = Vec::new();
            match &decoded {
                Some(decoded) => sealer.push(decoded, &mut sealed).await?,
                None => sealer.push_view(&received, &mut sealed).await?,
            }
            sealed.extend(sealer.finish().await?);
            joined(sealed).into()
        }
        None => match decoded {
            Some(decoded) => Uint8Array::from(decoded.as_slice()).into(),
            None => received.into(),
        },
    };
    send(node, request.body(NodeBody::Js(node_body)), now).await
}

/// The piece of a plain body waiting to go to the node: the last one waits for the checks.
struct HeldBack {
    piece: Uint8Array,
    /// For a chunk of the client's body (not a decoded payload): where its digest write ended,
    /// for `BufferRecycler` (0 without a digest).
    digest_end: Option<u64>,
}

/// Forward the body, running the checks over it, holding back the last piece until everything
/// verified. With `decoder` (an aws-chunked body) the node receives the decoded payload, and
/// `length` and the checks apply to it. With `sealer` (an encrypted project) the node receives
/// records instead, and the sealer itself holds back the last one.
async fn pump(
    reader: Rc<BodyReader>,
    writer: WritableStreamDefaultWriter,
    length: u64,
    mut checks: Vec<Box<dyn BodyCheck>>,
    mut decoder: Option<AwsChunkedDecoder>,
    mut sealer: Option<Sealer>,
    sha256: Option<[u8; 32]>,
) -> S3Result<()> {
    let mut native_sha256 = sha256.and_then(NativeSha256::new);
    if let (Some(expected), None) = (sha256, &native_sha256) {
        checks.push(Box::new(Sha256Check::new(expected)));
    }
    let mut length_check = LengthCheck::new(length);
    let mut output = PipelinedWriter::new(writer.clone());
    let mut held_back: Option<HeldBack> = None;
    // Reused wasm buffers: fresh allocations per chunk cost ~3x (TOOLCHAIN.md).
    let mut buffer: Vec<u8> = Vec::new();
    let mut decoded: Vec<u8> = Vec::new();
    let mut records: Vec<Uint8Array> = Vec::new();
    // (A native SHA-256 hashes the JS chunks, and the sealer stages them in JS: neither needs
    // the bytes in wasm.)
    if let (Some(sealer), None, true, None) = (sealer.as_mut(), &decoder, checks.is_empty(), &native_sha256) {
        // Nothing to check, only to seal: the body is read straight into the sealer's staging
        // buffer (a fresh buffer per read and the copy into the stage were ~20% of an encrypted
        // upload's CPU).
        let mut read_so_far = 0u64;
        loop {
            let read = sealer.fill_from(&reader, length, read_so_far, &mut records).await?;
            if read == 0 {
                break;
            }
            read_so_far += u64::from(read);
            length_check.add(read as usize)?;
            for sealed in records.drain(..) {
                output.write(&sealed).await.map_err(incomplete_body)?;
                sealer.sent(&sealed, output.written(), output.settled());
            }
        }
    }
    // Read buffers come back once the node's body and the digest are done with them.
    let mut recycler = BufferRecycler::for_reads();
    let digest_settled = |native: &Option<NativeSha256>| native.as_ref().map_or(0, NativeSha256::settled);
    loop {
        let spare = recycler.take(output.settled(), digest_settled(&native_sha256));
        let Some(chunk) = reader.next_into(spare).await? else { break };
        let digest_end = match native_sha256.as_mut() {
            Some(native) => {
                native.update(&chunk).await?;
                native.written()
            }
            None => 0,
        };
        // An aws-chunked body's payload is decoded in wasm; a plain body's bytes enter wasm only
        // when a check needs them.
        let decoded_now: Option<&[u8]> = match decoder.as_mut() {
            Some(decoder) => {
                buffer.resize(chunk.length() as usize, 0);
                chunk.copy_to(&mut buffer);
                // The chunk's bytes are in wasm now: only the digest may still hold the chunk.
                recycler.give_back(&chunk, 0, digest_end);
                decoded.clear();
                decoder.push(&buffer, &mut decoded)?;
                if decoded.is_empty() {
                    continue;
                }
                Some(&decoded)
            }
            None => None,
        };
        let checked: Option<&[u8]> = match decoded_now {
            Some(decoded) => Some(decoded),
            None if !checks.is_empty() => {
                buffer.resize(chunk.length() as usize, 0);
                chunk.copy_to(&mut buffer);
                Some(&buffer)
            }
            None => None,
        };
        length_check.add(checked.map_or(chunk.length() as usize, <[u8]>::len))?;
        if let Some(bytes) = checked {
            for check in checks.iter_mut() {
                check.update(bytes);
            }
        }
        if let Some(sealer) = sealer.as_mut() {
            match decoded_now {
                Some(decoded) => sealer.push(decoded, &mut records).await?,
                None => {
                    // Staged (copied) by the sealer: the chunk is free once the digest is.
                    sealer.push_view(&chunk, &mut records).await?;
                    recycler.give_back(&chunk, 0, digest_end);
                }
            }
            // Each sealed batch is already one buffer (`RECORDS_PER_SEAL` records): written as it is.
            for sealed in records.drain(..) {
                output.write(&sealed).await.map_err(incomplete_body)?;
                sealer.sent(&sealed, output.written(), output.settled());
            }
            continue;
        }
        // The chunk itself goes to the node (its buffer comes back after that write), or the
        // decoded payload does.
        let forward = match decoded_now {
            Some(decoded) => HeldBack { piece: Uint8Array::from(decoded), digest_end: None },
            None => HeldBack { piece: chunk, digest_end: Some(digest_end) },
        };
        if let Some(previous) = held_back.replace(forward) {
            output.write(&previous.piece).await.map_err(incomplete_body)?;
            if let Some(digest_end) = previous.digest_end {
                recycler.give_back(&previous.piece, output.written(), digest_end);
            }
        }
    }
    if let Some(decoder) = decoder {
        // Framing, the final chunk signature and any trailing checksum.
        decoder.finish()?;
    }
    length_check.finish()?;
    for check in checks {
        check.finish()?;
    }
    if let Some(native) = native_sha256 {
        native.finish().await?;
    }
    if let Some(last) = held_back {
        output.write(&last.piece).await.map_err(incomplete_body)?;
    }
    if let Some(sealer) = sealer {
        for sealed in sealer.finish().await? {
            output.write(&sealed).await.map_err(incomplete_body)?;
        }
    }
    output.close().await.map_err(incomplete_body)?;
    Ok(())
}
