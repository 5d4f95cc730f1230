//! HTTP <-> S3 semantics: addressing, operations, XML, errors, ranges.

pub mod error;
pub mod xml;

pub use error::{S3Error, S3ErrorCode, S3Result};
