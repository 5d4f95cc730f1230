//! Runtime adapter: AES-256-GCM over whole records, through the runtime's WebCrypto or through
//! RustCrypto inside wasm (`PORTICO_CRYPTO`). Both produce identical bytes, so the stored format
//! does not depend on the choice. WebCrypto is the default: in workerd it seals 64 KiB records
//! ~30x faster than aes-gcm compiled to wasm (docs/BENCHMARKS.md), and its output stays a JS
//! buffer that streams on without being copied back into wasm.
//!
//! Small AES-GCM (key wrapping, sealed metadata) stays in RustCrypto: a WebCrypto call has a
//! fixed cost of several microseconds that only pays off on bulk data.

use aes_gcm::aead::{AeadInOut, KeyInit};
use aes_gcm::{Aes256Gcm, Nonce};
use js_sys::{Array, Object, Reflect, Uint8Array};
use wasm_bindgen::{JsCast, JsValue};
use wasm_bindgen_futures::JsFuture;
use web_sys::{AesGcmParams, CryptoKey, SubtleCrypto};

use crate::config::CryptoPath;
use crate::s3::{S3Error, S3Result};
use crate::s3_error;
use crate::storage::format::ObjectKey;

const TAG_LEN: usize = 16;

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

    /// Start encrypting one record's plaintext (a JS view: the bytes need not enter wasm). The
    /// input is taken when the call is made (WebCrypto copies it synchronously), so the caller
    /// may reuse its buffer as soon as this returns; the future yields ciphertext || tag.
    pub fn seal(&self, nonce: &[u8; 12], aad: &[u8], plaintext: &Uint8Array) -> Issued {
        match self {
            RecordCipher::Wasm(cipher) => {
                let mut sealed = Vec::with_capacity(plaintext.length() as usize + TAG_LEN);
                sealed.resize(plaintext.length() as usize, 0);
                plaintext.copy_to(&mut sealed);
                let done = cipher
                    .encrypt_in_place(&Nonce::from(*nonce), aad, &mut sealed)
                    .map(|_| Uint8Array::from(sealed.as_slice()));
                Issued::Done(done.map_err(|_| JsValue::from_str("aes-gcm encrypt failed")))
            }
            RecordCipher::WebCrypto { subtle, key } => {
                Issued::issue(subtle.encrypt_with_object_and_js_u8_array(&gcm_params(nonce, aad), key, plaintext))
            }
        }
    }

    /// Start decrypting and authenticating one record's ciphertext || tag (a JS view); like
    /// `seal`, the input is taken at once. The future yields the plaintext or `Unauthentic`.
    pub fn open(&self, nonce: &[u8; 12], aad: &[u8], sealed: &Uint8Array) -> Issued {
        if (sealed.length() as usize) < TAG_LEN {
            return Issued::Done(Err(JsValue::from_str("record shorter than its tag")));
        }
        match self {
            RecordCipher::Wasm(cipher) => {
                let mut plaintext = vec![0; sealed.length() as usize];
                sealed.copy_to(&mut plaintext);
                let done = cipher
                    .decrypt_in_place(&Nonce::from(*nonce), aad, &mut plaintext)
                    .map(|_| Uint8Array::from(plaintext.as_slice()));
                Issued::Done(done.map_err(|_| JsValue::from_str("aes-gcm tag mismatch")))
            }
            RecordCipher::WebCrypto { subtle, key } => {
                Issued::issue(subtle.decrypt_with_object_and_js_u8_array(&gcm_params(nonce, aad), key, sealed))
            }
        }
    }
}

/// A record cipher call already made: its input is taken, its output is awaited.
pub enum Issued {
    Pending(JsFuture),
    Done(Result<Uint8Array, JsValue>),
}

impl Issued {
    fn issue(call: Result<js_sys::Promise, JsValue>) -> Self {
        match call {
            Ok(promise) => Issued::Pending(JsFuture::from(promise)),
            Err(err) => Issued::Done(Err(err)),
        }
    }

    /// The sealed record for a `seal`, or InternalError.
    pub async fn sealed(self) -> S3Result<Uint8Array> {
        self.output().await.map_err(crypto_failure("encrypt"))
    }

    /// The plaintext for an `open`, or `Unauthentic`.
    pub async fn opened(self) -> Result<Uint8Array, Unauthentic> {
        self.output().await.map_err(|_| Unauthentic)
    }

    async fn output(self) -> Result<Uint8Array, JsValue> {
        match self {
            Issued::Pending(future) => future.await.map(|buffer| Uint8Array::new(&buffer)),
            Issued::Done(done) => done,
        }
    }
}

fn gcm_params(nonce: &[u8; 12], aad: &[u8]) -> AesGcmParams {
    let params = AesGcmParams::new_with_u8_array("AES-GCM", &Uint8Array::from(nonce.as_slice()));
    params.set_additional_data_u8_array(&Uint8Array::from(aad));
    params
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
pub fn random_nonce() -> S3Result<[u8; 12]> {
    random_bytes()
}

/// Fresh random bytes, or InternalError if the runtime's generator failed.
pub fn random_bytes<const N: usize>() -> S3Result<[u8; N]> {
    let mut bytes = [0u8; N];
    getrandom::fill(&mut bytes).map_err(|_| s3_error!(InternalError, "The gateway's random generator failed."))?;
    Ok(bytes)
}
