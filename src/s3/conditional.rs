//! Conditional writes (If-None-Match: * and If-Match on PutObject and CompleteMultipartUpload),
//! decided by the gateway: storage nodes such as Garage ignore these headers and overwrite.

use crate::s3::{S3Error, S3ErrorCode, S3Result};

/// The write conditions of a request, if it has any.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct WriteConditions {
    /// `If-None-Match: *`: only create, never overwrite.
    pub create_only: bool,
    /// `If-Match`: overwrite only the object with one of these ETags (`*` = any existing object).
    pub if_match: Option<Vec<String>>,
}

impl WriteConditions {
    /// From the request's If-None-Match and If-Match headers. S3 accepts only `*` in
    /// If-None-Match on writes.
    pub fn from_headers(if_none_match: Option<&str>, if_match: Option<&str>) -> S3Result<Self> {
        let create_only = match if_none_match.map(str::trim) {
            None => false,
            Some("*") => true,
            Some(_) => {
                return Err(S3Error::with_message(
                    S3ErrorCode::NotImplemented,
                    "If-None-Match on a write supports only the value *.",
                ))
            }
        };
        let if_match = if_match.map(|value| value.split(',').map(|tag| normalize_etag(tag.trim())).collect());
        Ok(WriteConditions { create_only, if_match })
    }

    pub fn is_empty(&self) -> bool {
        !self.create_only && self.if_match.is_none()
    }

    /// Decide against the object's current ETag (`None` when it does not exist).
    pub fn check(&self, current_etag: Option<&str>) -> S3Result<()> {
        if self.create_only && current_etag.is_some() {
            return Err(S3Error::new(S3ErrorCode::PreconditionFailed));
        }
        if let Some(tags) = &self.if_match {
            let Some(current) = current_etag else {
                return Err(S3Error::new(S3ErrorCode::NoSuchKey));
            };
            let current = normalize_etag(current);
            if !tags.iter().any(|tag| tag == "*" || *tag == current) {
                return Err(S3Error::new(S3ErrorCode::PreconditionFailed));
            }
        }
        Ok(())
    }
}

/// An ETag without quotes or a weak prefix, for comparison.
fn normalize_etag(tag: &str) -> String {
    tag.trim().trim_start_matches("W/").trim_matches('"').to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn conditions(if_none_match: Option<&str>, if_match: Option<&str>) -> WriteConditions {
        WriteConditions::from_headers(if_none_match, if_match).unwrap()
    }

    #[test]
    fn create_only_refuses_existing_objects() {
        let create = conditions(Some("*"), None);
        assert!(create.check(None).is_ok());
        assert_eq!(create.check(Some("\"e\"")).unwrap_err().code, S3ErrorCode::PreconditionFailed);
    }

    #[test]
    fn if_match_needs_the_current_etag() {
        let matching = conditions(None, Some("\"abc\""));
        assert!(matching.check(Some("\"abc\"")).is_ok());
        assert!(matching.check(Some("abc")).is_ok());
        assert_eq!(matching.check(Some("\"def\"")).unwrap_err().code, S3ErrorCode::PreconditionFailed);
        assert_eq!(matching.check(None).unwrap_err().code, S3ErrorCode::NoSuchKey);
        assert!(conditions(None, Some("\"x\", \"abc\"")).check(Some("\"abc\"")).is_ok());
        assert!(conditions(None, Some("*")).check(Some("\"any\"")).is_ok());
    }

    #[test]
    fn no_conditions_allow_everything_and_other_if_none_match_values_are_refused() {
        assert!(conditions(None, None).is_empty());
        assert!(conditions(None, None).check(Some("\"e\"")).is_ok());
        assert_eq!(
            WriteConditions::from_headers(Some("\"etag\""), None).unwrap_err().code,
            S3ErrorCode::NotImplemented
        );
    }
}
