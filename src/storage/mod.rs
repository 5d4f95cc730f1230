//! Talking to storage nodes.
pub mod node;
pub mod node_error;
#[cfg(target_arch = "wasm32")]
pub mod node_socket;
pub mod verify;

pub mod checksum;
#[cfg(target_arch = "wasm32")]
pub mod cipher;
#[cfg(target_arch = "wasm32")]
pub mod client;
#[cfg(target_arch = "wasm32")]
pub mod digest;
pub mod format;
pub mod http1;
#[cfg(target_arch = "wasm32")]
pub mod record_stream;
pub mod recycle;
pub mod signer;
#[cfg(target_arch = "wasm32")]
pub mod upload;
