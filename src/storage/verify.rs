//! Checks run over an upload body while it streams to the node. The stream adapter feeds every
//! byte to a `BodyCheck` and releases the final bytes to the node only when `finish` succeeds, so
//! a body that fails a check is never committed.

use sha2::{Digest, Sha256};

use crate::s3::{S3Error, S3ErrorCode};

/// Something verified over the whole body.
pub trait BodyCheck {
    fn update(&mut self, bytes: &[u8]);
    /// Called once after the last byte; an error stops the upload before it commits.
    fn finish(self: Box<Self>) -> Result<(), S3Error>;
}

/// The body must hash to the signed `x-amz-content-sha256`.
pub struct Sha256Check {
    hasher: Sha256,
    expected: [u8; 32],
}

impl Sha256Check {
    pub fn new(expected: [u8; 32]) -> Self {
        Sha256Check { hasher: Sha256::new(), expected }
    }
}

impl BodyCheck for Sha256Check {
    fn update(&mut self, bytes: &[u8]) {
        self.hasher.update(bytes);
    }

    fn finish(self: Box<Self>) -> Result<(), S3Error> {
        let actual: [u8; 32] = self.hasher.finalize().into();
        if crate::auth::secret::constant_time_eq(&actual, &self.expected) {
            Ok(())
        } else {
            Err(S3Error::new(S3ErrorCode::XAmzContentSHA256Mismatch))
        }
    }
}

/// Counts bytes against the declared length: a short or over-long body never commits.
#[derive(Debug)]
pub struct LengthCheck {
    declared: u64,
    seen: u64,
}

impl LengthCheck {
    pub fn new(declared: u64) -> Self {
        LengthCheck { declared, seen: 0 }
    }

    /// Account for a chunk; errors as soon as the body is longer than declared.
    pub fn add(&mut self, len: usize) -> Result<(), S3Error> {
        self.seen += len as u64;
        if self.seen > self.declared {
            return Err(S3Error::with_message(
                S3ErrorCode::IncompleteBody,
                "The request body is longer than the Content-Length header.",
            ));
        }
        Ok(())
    }

    pub fn finish(&self) -> Result<(), S3Error> {
        if self.seen == self.declared {
            Ok(())
        } else {
            Err(S3Error::new(S3ErrorCode::IncompleteBody))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sha256(bytes: &[u8]) -> [u8; 32] {
        Sha256::digest(bytes).into()
    }

    #[test]
    fn sha256_check_accepts_the_signed_body_fed_in_uneven_chunks() {
        let body: Vec<u8> = (0..100_000u32).map(|i| (i * 7) as u8).collect();
        let mut check = Box::new(Sha256Check::new(sha256(&body)));
        for chunk in body.chunks(4093) {
            check.update(chunk);
        }
        assert!(check.finish().is_ok());
    }

    #[test]
    fn sha256_check_rejects_another_body() {
        let mut check = Box::new(Sha256Check::new(sha256(b"signed")));
        check.update(b"tampered");
        assert_eq!(check.finish().unwrap_err().code, S3ErrorCode::XAmzContentSHA256Mismatch);
    }

    #[test]
    fn length_check_rejects_short_and_long_bodies() {
        let mut check = LengthCheck::new(10);
        check.add(4).unwrap();
        assert_eq!(check.finish().unwrap_err().code, S3ErrorCode::IncompleteBody);
        check.add(6).unwrap();
        assert!(check.finish().is_ok());
        assert_eq!(check.add(1).unwrap_err().code, S3ErrorCode::IncompleteBody);
    }
}
