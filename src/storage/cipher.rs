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

    /// Encrypt one record's plaintext: ciphertext || tag, as a JS buffer ready to stream on.
    pub async fn seal(&self, nonce: &[u8; 12], aad: &[u8], plaintext: &[u8]) -> S3Result<Uint8Array> {
        match self {
            RecordCipher::Wasm(cipher) => {
                let mut sealed = Vec::with_capacity(plaintext.len() + TAG_LEN);
                sealed.extend_from_slice(plaintext);
                cipher
                    .encrypt_in_place(&Nonce::from(*nonce), aad, &mut sealed)
                    .map_err(|_| s3_error!(InternalError, "The gateway could not encrypt the object."))?;
                Ok(Uint8Array::from(sealed.as_slice()))
            }
            RecordCipher::WebCrypto { subtle, key } => {
                // WebCrypto copies its input synchronously, so views into wasm memory are safe.
                let params = gcm_params(nonce, aad);
                let promise = subtle
                    .encrypt_with_object_and_u8_array(&params, key, plaintext)
                    .map_err(crypto_failure("encrypt"))?;
                let buffer = JsFuture::from(promise).await.map_err(crypto_failure("encrypt"))?;
                Ok(Uint8Array::new(&buffer))
            }
        }
    }

    /// Decrypt and authenticate one record's ciphertext || tag: the plaintext as a JS buffer.
    pub async fn open(&self, nonce: &[u8; 12], aad: &[u8], sealed: &[u8]) -> Result<Uint8Array, Unauthentic> {
        if sealed.len() < TAG_LEN {
            return Err(Unauthentic);
        }
        match self {
            RecordCipher::Wasm(cipher) => {
                let mut plaintext = sealed.to_vec();
                cipher.decrypt_in_place(&Nonce::from(*nonce), aad, &mut plaintext).map_err(|_| Unauthentic)?;
                Ok(Uint8Array::from(plaintext.as_slice()))
            }
            RecordCipher::WebCrypto { subtle, key } => {
                let params = gcm_params(nonce, aad);
                let promise = subtle.decrypt_with_object_and_u8_array(&params, key, sealed).map_err(|_| Unauthentic)?;
                let buffer = JsFuture::from(promise).await.map_err(|_| Unauthentic)?;
                Ok(Uint8Array::new(&buffer))
            }
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
