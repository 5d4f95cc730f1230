//! Talking to storage nodes.
pub mod node;
pub mod node_error;
pub mod verify;

pub mod checksum;
#[cfg(target_arch = "wasm32")]
pub mod client;
pub mod signer;
#[cfg(target_arch = "wasm32")]
pub mod upload;
