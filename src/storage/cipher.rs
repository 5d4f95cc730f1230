//! Runtime adapter: AES-256-GCM over whole records, through the runtime's WebCrypto or through
//! RustCrypto inside wasm (`PORTICO_CRYPTO`). Both produce identical bytes, so the stored format
//! does not depend on the choice. WebCrypto is the default: in workerd it seals 64 KiB records
//! ~30x faster than aes-gcm compiled to wasm (docs/BENCHMARKS.md), and its output stays a JS
//! buffer that streams on without being copied back into wasm.
//!
//! Records go to the cipher in batches (`format::RecordBatch`): one call issues every record's
//! WebCrypto call from JavaScript and one promise yields them all. Issuing and awaiting each
//! record from wasm cost several boundary crossings, closures and microtasks per record.
//!
//! Small AES-GCM (key wrapping, sealed metadata) stays in RustCrypto: a WebCrypto call has a
//! fixed cost of several microseconds that only pays off on bulk data.

use aes_gcm::aead::{AeadInOut, KeyInit};
use aes_gcm::{Aes256Gcm, Nonce};
use js_sys::{Array, Object, Reflect, Uint8Array};
use wasm_bindgen::prelude::wasm_bindgen;
use wasm_bindgen::{JsCast, JsValue};
use wasm_bindgen_futures::JsFuture;
use web_sys::{CryptoKey, SubtleCrypto, WritableStreamDefaultWriter};

use crate::config::CryptoPath;
use crate::s3::{S3Error, S3Result};
use crate::s3_error;
use crate::storage::format::{ObjectKey, RecordBatch, BATCH_PARAMS_LEN, NONCE_LEN, RECORD_HEADER_LEN};

const TAG_LEN: usize = 16;

#[wasm_bindgen(inline_js = r#"
// Free a buffer nothing will read again now, not at the next garbage collection: detaching it
// (`transfer`) releases its memory at once. WebCrypto returns a new buffer per record, and
// without this an encrypted transfer grew the process by ~90-120 MiB of such garbage.
export function release(buffer) {
  if (typeof buffer.transfer === "function") buffer.transfer(0);
}
// `spans`: start and length of each record in the buffer; `params`: each record's nonce (12
// bytes) then additional data, `params_len` bytes a record. Both arrive as views into wasm memory,
// copied first since nothing may hold on to them.
function gcm_calls(method, subtle, key, buffer, spans, params, params_len) {
  spans = spans.slice();
  params = params.slice();
  const calls = [];
  for (let i = 0; i < spans.length; i += 2) {
    const at = (i >> 1) * params_len;
    const gcm = { name: "AES-GCM", iv: params.subarray(at, at + 12), additionalData: params.subarray(at + 12, at + params_len) };
    calls.push(subtle[method](gcm, key, buffer.subarray(spans[i], spans[i] + spans[i + 1])));
  }
  return calls;
}
export function open_records(subtle, key, records, spans, params, params_len) {
  return Promise.all(gcm_calls("decrypt", subtle, key, records, spans, params, params_len));
}
export function seal_records(subtle, key, staged, spans, params, params_len, headers, header_len, into) {
  headers = headers.slice();
  return Promise.all(gcm_calls("encrypt", subtle, key, staged, spans, params, params_len)).then((sealed) => {
    let total = 0;
    for (const record of sealed) total += header_len + record.byteLength;
    const framed = into && into.length === total ? into : new Uint8Array(total);
    let at = 0;
    sealed.forEach((record, i) => {
      framed.set(headers.subarray(i * header_len, (i + 1) * header_len), at);
      framed.set(new Uint8Array(record), at + header_len);
      at += header_len + record.byteLength;
      release(record);
    });
    return framed;
  });
}
export function write_plaintexts(writer, plaintexts, cuts) {
  // `cuts`: a view into wasm memory, read before this returns.
  const writes = [];
  for (let i = 0; i < plaintexts.length; i++) {
    const from = cuts[2 * i], take = cuts[2 * i + 1];
    if (take > 0) writes.push(writer.write(new Uint8Array(plaintexts[i], from, take)));
  }
  // A write resolves once the stream's reader has taken the bytes: then the runtime holds no
  // reference to the plaintexts' memory either, and releasing them frees it. (Detaching never
  // takes bytes from a write under way: the runtime keeps its own reference to a chunk.)
  return Promise.all(writes).then(() => {
    for (const plaintext of plaintexts) release(plaintext);
  });
}
"#)]
extern "C" {
    /// Write the bytes `cuts[2i]..cuts[2i] + cuts[2i + 1]` of each plaintext of an `open_batch`
    /// to `writer`, in order, in one call; the promise settles when every write has, and the
    /// plaintexts' memory is released then.
    pub fn write_plaintexts(writer: &WritableStreamDefaultWriter, plaintexts: &Array, cuts: &[u32]) -> js_sys::Promise;
    /// Decrypt every record of a batch: a promise of their plaintexts (ArrayBuffers), in order.
    #[wasm_bindgen(catch)]
    fn open_records(
        subtle: &SubtleCrypto,
        key: &CryptoKey,
        records: &Uint8Array,
        spans: &[u32],
        params: &[u8],
        params_len: u32,
    ) -> Result<js_sys::Promise, JsValue>;
    /// Encrypt every record of a batch: a promise of the framed records, one after the other in
    /// one buffer (`into` when it has the right size).
    #[wasm_bindgen(catch)]
    #[allow(clippy::too_many_arguments)]
    fn seal_records(
        subtle: &SubtleCrypto,
        key: &CryptoKey,
        staged: &Uint8Array,
        spans: &[u32],
        params: &[u8],
        params_len: u32,
        headers: &[u8],
        header_len: u32,
        into: &JsValue,
    ) -> Result<js_sys::Promise, JsValue>;
}

fn crypto_failure(what: &str) -> impl Fn(JsValue) -> S3Error + '_ {
    move |err| {
        worker::console_error!("webcrypto {what}: {err:?}");
        s3_error!(InternalError, "The gateway could not {what} the object.")
    }
}

/// One object's record cipher.
pub enum RecordCipher {
    WebCrypto { subtle: SubtleCrypto, key: CryptoKey },
    Wasm(Box<Aes256Gcm>),
}

/// The authentication of a record failed: the stored bytes are not what the gateway wrote.
#[derive(Debug)]
pub struct Unauthentic;

impl RecordCipher {
    pub async fn new(key: &ObjectKey, path: CryptoPath) -> S3Result<Self> {
        match path {
            CryptoPath::Wasm => Ok(RecordCipher::Wasm(Box::new(
                Aes256Gcm::new_from_slice(key.as_bytes()).expect("object keys are 32 bytes"),
            ))),
            CryptoPath::WebCrypto => {
                let subtle = subtle()?;
                let usages = Array::of2(&JsValue::from_str("encrypt"), &JsValue::from_str("decrypt"));
                let raw = Uint8Array::from(key.as_bytes().as_slice());
                let promise = subtle
                    .import_key_with_str("raw", &raw, "AES-GCM", false, &usages)
                    .map_err(crypto_failure("import a key for"))?;
                let key = JsFuture::from(promise).await.map_err(crypto_failure("import a key for"))?;
                Ok(RecordCipher::WebCrypto { subtle, key: key.unchecked_into() })
            }
        }
    }

    /// Start sealing the batch's records from the plaintext in `staged` (a JS buffer: the bytes
    /// need not enter wasm). Every input is taken when the call is made (WebCrypto copies it
    /// synchronously), so the caller may reuse `staged` as soon as this returns. The future
    /// yields the framed records one after the other in one buffer, in `into` when it has the
    /// right size.
    pub fn seal_batch(&self, staged: &Uint8Array, batch: &RecordBatch, into: Option<Uint8Array>) -> Issued {
        match self {
            RecordCipher::Wasm(cipher) => {
                let mut framed = Vec::new();
                for ((start, len, nonce, aad), header) in
                    batch.records().zip(batch.headers().chunks_exact(RECORD_HEADER_LEN))
                {
                    let mut sealed = vec![0; len as usize];
                    staged.subarray(start, start + len).copy_to(&mut sealed);
                    let nonce = Nonce::from(<[u8; NONCE_LEN]>::try_from(nonce).expect("NONCE_LEN bytes"));
                    if cipher.encrypt_in_place(&nonce, aad, &mut sealed).is_err() {
                        return Issued::Done(Err(JsValue::from_str("aes-gcm encrypt failed")));
                    }
                    framed.extend_from_slice(header);
                    framed.extend_from_slice(&sealed);
                }
                Issued::Done(Ok(Uint8Array::from(framed.as_slice()).into()))
            }
            RecordCipher::WebCrypto { subtle, key } => {
                let into = into.map_or(JsValue::UNDEFINED, JsValue::from);
                Issued::issue(seal_records(
                    subtle,
                    key,
                    staged,
                    batch.spans(),
                    batch.params(),
                    BATCH_PARAMS_LEN as u32,
                    batch.headers(),
                    RECORD_HEADER_LEN as u32,
                    &into,
                ))
            }
        }
    }

    /// Start opening the batch's records, each ciphertext || tag in `records` (a JS buffer);
    /// like `seal_batch`, every input is taken at once. The future yields the plaintexts (an
    /// array of ArrayBuffers, in order) or `Unauthentic` when any record fails.
    pub fn open_batch(&self, records: &Uint8Array, batch: &RecordBatch) -> Issued {
        if batch.records().any(|(_, len, _, _)| (len as usize) < TAG_LEN) {
            return Issued::Done(Err(JsValue::from_str("record shorter than its tag")));
        }
        match self {
            RecordCipher::Wasm(cipher) => {
                let plaintexts = Array::new();
                for (start, len, nonce, aad) in batch.records() {
                    let mut plaintext = vec![0; len as usize];
                    records.subarray(start, start + len).copy_to(&mut plaintext);
                    let nonce = Nonce::from(<[u8; NONCE_LEN]>::try_from(nonce).expect("NONCE_LEN bytes"));
                    if cipher.decrypt_in_place(&nonce, aad, &mut plaintext).is_err() {
                        return Issued::Done(Err(JsValue::from_str("aes-gcm tag mismatch")));
                    }
                    plaintexts.push(&Uint8Array::from(plaintext.as_slice()).buffer());
                }
                Issued::Done(Ok(plaintexts.into()))
            }
            RecordCipher::WebCrypto { subtle, key } => Issued::issue(open_records(
                subtle,
                key,
                records,
                batch.spans(),
                batch.params(),
                BATCH_PARAMS_LEN as u32,
            )),
        }
    }
}

/// A batch's cipher calls already made: their inputs are taken, their output is awaited.
pub enum Issued {
    Pending(JsFuture),
    Done(Result<JsValue, JsValue>),
}

impl Issued {
    fn issue(call: Result<js_sys::Promise, JsValue>) -> Self {
        match call {
            Ok(promise) => Issued::Pending(JsFuture::from(promise)),
            Err(err) => Issued::Done(Err(err)),
        }
    }

    /// The framed records of a `seal_batch`, or InternalError.
    pub async fn sealed(self) -> S3Result<Uint8Array> {
        self.output().await.map(JsCast::unchecked_into).map_err(crypto_failure("encrypt"))
    }

    /// The plaintexts of an `open_batch`, or `Unauthentic`.
    pub async fn opened(self) -> Result<Array, Unauthentic> {
        self.output().await.map(JsCast::unchecked_into).map_err(|_| Unauthentic)
    }

    async fn output(self) -> Result<JsValue, JsValue> {
        match self {
            Issued::Pending(future) => future.await,
            Issued::Done(done) => done,
        }
    }
}

/// The global `crypto.subtle` (workerd exposes it on the global scope).
fn subtle() -> S3Result<SubtleCrypto> {
    let crypto = Reflect::get(&js_sys::global(), &JsValue::from_str("crypto"))
        .ok()
        .filter(|c| c.is_object())
        .ok_or_else(|| s3_error!(InternalError, "The runtime offers no WebCrypto; set PORTICO_CRYPTO=wasm."))?;
    let subtle = Reflect::get(&crypto, &JsValue::from_str("subtle"))
        .ok()
        .filter(|s| s.is_object())
        .ok_or_else(|| s3_error!(InternalError, "The runtime offers no WebCrypto; set PORTICO_CRYPTO=wasm."))?;
    let _: &Object = subtle.unchecked_ref();
    Ok(subtle.unchecked_into())
}

/// A fresh random nonce (crypto.getRandomValues underneath).
pub fn random_nonce() -> S3Result<[u8; NONCE_LEN]> {
    random_bytes()
}

/// Fresh random nonces, `count` of them from one call of the generator (crypto.getRandomValues
/// underneath).
pub fn random_nonces(count: usize) -> S3Result<Vec<[u8; NONCE_LEN]>> {
    let mut bytes = vec![0u8; count * NONCE_LEN];
    getrandom::fill(&mut bytes).map_err(|_| s3_error!(InternalError, "The gateway's random generator failed."))?;
    Ok(bytes.chunks_exact(NONCE_LEN).map(|nonce| nonce.try_into().expect("NONCE_LEN bytes")).collect())
}

/// Fresh random bytes, or InternalError if the runtime's generator failed.
pub fn random_bytes<const N: usize>() -> S3Result<[u8; N]> {
    let mut bytes = [0u8; N];
    getrandom::fill(&mut bytes).map_err(|_| s3_error!(InternalError, "The gateway's random generator failed."))?;
    Ok(bytes)
}
