//! portico: an S3-compatible gateway that runs as a WebAssembly worker at the edge.
//!
//! Pure logic lives in `http`, `s3`, `auth` and `storage` and is unit-tested natively. The worker
//! entry and its runtime adapters (`worker_entry` and the `*::runtime` modules) exist only on wasm32.

pub mod auth;
pub mod config;
pub mod http;
pub mod s3;
pub mod storage;
pub mod time;

pub mod base64;
#[cfg(target_arch = "wasm32")]
pub mod js_glue;
#[cfg(target_arch = "wasm32")]
mod reply;
#[cfg(target_arch = "wasm32")]
mod worker_entry;

#[cfg(not(target_arch = "wasm32"))]
pub mod cli;
