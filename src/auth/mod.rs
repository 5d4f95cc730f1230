//! Who is asking and what they may do.
pub mod amz_date;
pub mod authorize;
pub mod cache;
pub mod credential;
pub mod grant;
pub mod registration;
pub mod secret;
pub mod sigv2;
pub mod sigv4;

#[cfg(target_arch = "wasm32")]
pub mod api;
pub mod chunked;
#[cfg(target_arch = "wasm32")]
pub mod runtime;
