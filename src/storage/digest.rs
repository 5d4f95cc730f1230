//! Runtime adapter: the SHA-256 of a signed upload body through workerd's `crypto.DigestStream`,
//! native code measured ~3x faster than sha2 compiled to wasm (TOOLCHAIN.md). It is fed the
//! body's JS chunks themselves, so a signed body that needs no other check never enters wasm.
//! Where the runtime has no DigestStream, `verify::Sha256Check` does the same in wasm.

use js_sys::{Array, Function, Promise, Reflect, Uint8Array};
use wasm_bindgen::{JsCast, JsValue};
use wasm_bindgen_futures::JsFuture;
use web_sys::WritableStream;

use crate::s3::{S3Error, S3ErrorCode, S3Result};
use crate::storage::record_stream::PipelinedWriter;

pub struct NativeSha256 {
    writer: PipelinedWriter,
    digest: Promise,
    expected: [u8; 32],
}

fn hash_failed(_: JsValue) -> S3Error {
    S3Error::with_message(S3ErrorCode::InternalError, "The payload hash could not be computed.")
}

impl NativeSha256 {
    /// A digest stream expecting `expected`, or None when the runtime offers no DigestStream.
    pub fn new(expected: [u8; 32]) -> Option<Self> {
        let crypto = Reflect::get(&js_sys::global(), &JsValue::from_str("crypto")).ok()?;
        let constructor: Function = Reflect::get(&crypto, &JsValue::from_str("DigestStream")).ok()?.dyn_into().ok()?;
        let stream = Reflect::construct(&constructor, &Array::of1(&JsValue::from_str("SHA-256"))).ok()?;
        let digest: Promise = Reflect::get(&stream, &JsValue::from_str("digest")).ok()?.dyn_into().ok()?;
        let writer = stream.unchecked_into::<WritableStream>().get_writer().ok()?;
        Some(NativeSha256 { writer: PipelinedWriter::new(writer), digest, expected })
    }

    /// Hash a chunk. The stream is given the chunk itself, which also travels on to the node:
    /// neither write detaches or alters it (checked in workerd), and its buffer is only read
    /// into again once both writes resolved (`BufferRecycler`). A few writes stay in flight.
    pub async fn update(&mut self, chunk: &Uint8Array) -> S3Result<()> {
        self.writer.write(chunk).await.map_err(hash_failed)
    }

    /// Bytes given to the digest so far, and bytes it is done with (`PipelinedWriter`).
    pub fn written(&self) -> u64 {
        self.writer.written()
    }

    pub fn settled(&self) -> u64 {
        self.writer.settled()
    }

    /// XAmzContentSHA256Mismatch unless the chunks hashed to the signed value.
    pub async fn finish(mut self) -> S3Result<()> {
        self.writer.close().await.map_err(hash_failed)?;
        let digest = JsFuture::from(self.digest).await.map_err(hash_failed)?;
        let actual = Uint8Array::new(&digest).to_vec();
        if crate::auth::secret::constant_time_eq(&actual, &self.expected) {
            Ok(())
        } else {
            Err(S3Error::new(S3ErrorCode::XAmzContentSHA256Mismatch))
        }
    }
}
