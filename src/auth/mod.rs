//! Who is asking and what they may do.
pub mod amz_date;
pub mod credential;
pub mod secret;
pub mod sigv4;

pub mod grant;
#[cfg(target_arch = "wasm32")]
pub mod runtime;
pub mod sigv2;
