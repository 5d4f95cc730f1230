//! HTTP <-> S3 semantics: addressing, operations, XML, errors, ranges.

pub mod error;
pub mod xml;
pub mod xml_reader;

pub use error::{S3Error, S3ErrorCode, S3Result};
pub mod addressing;
pub mod bucket_name;
pub mod headers;
pub mod operation;
pub mod range;

pub mod batch;
pub mod conditional;
pub mod cors;
#[cfg(target_arch = "wasm32")]
pub mod handlers;
pub mod list;
pub mod multipart;
