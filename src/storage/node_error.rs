//! Turning a node's error answer into the client's S3 error. Errors about the client's request
//! (a missing key, a failed precondition, a bad digest) pass through with the client's resource;
//! errors about the gateway's own dealings with the node (its credentials, its backend bucket)
//! must not blame the client or reveal the backend, so they become a generic server error.

use crate::s3::xml_reader::{only_child, read_document};
use crate::s3::{S3Error, S3ErrorCode};

/// Node error codes that describe the client's request and reach the client unchanged.
const CLIENT_FACING: &[S3ErrorCode] = {
    use S3ErrorCode::*;
    &[
        BadDigest,
        EntityTooLarge,
        EntityTooSmall,
        IncompleteBody,
        InvalidArgument,
        InvalidDigest,
        InvalidPart,
        InvalidPartOrder,
        InvalidRange,
        InvalidRequest,
        KeyTooLongError,
        MalformedXML,
        MissingContentLength,
        NoSuchKey,
        NoSuchUpload,
        NotModified,
        PreconditionFailed,
        XAmzContentSHA256Mismatch,
    ]
};

/// Map a node error (status and body) to the client's error for `resource` (`/bucket/key`). A
/// body that is not an `<Error>` document (or none) leaves the status to speak.
pub fn from_node_error(status: u16, body: &str, resource: &str) -> S3Error {
    let document = read_document(body.trim_start()).ok().filter(|document| document.root == "Error");
    let text = |name| {
        document.as_ref().and_then(|document| only_child(&document.children, name).ok().flatten()).map(str::trim)
    };
    let code = text("Code").unwrap_or("");
    let message = text("Message").unwrap_or("");
    let mut known = S3ErrorCode::ALL.iter().copied().find(|c| c.as_str() == code);
    // Garage reports a checksum that does not match the body as InvalidDigest; S3 (and clients
    // retrying on it) call that BadDigest and keep InvalidDigest for malformed digests.
    if known == Some(S3ErrorCode::InvalidDigest) && message.contains("Failed to validate") {
        known = Some(S3ErrorCode::BadDigest);
    }
    match known {
        Some(code) if CLIENT_FACING.contains(&code) => {
            let message = if message.is_empty() { code.default_message().to_string() } else { message.to_string() };
            S3Error::with_message(code, message).resource(resource)
        }
        _ => from_node_status(status, resource),
    }
}

/// Map a bare status (HEAD answers carry no body).
pub fn from_node_status(status: u16, resource: &str) -> S3Error {
    let code = match status {
        304 => S3ErrorCode::NotModified,
        404 => S3ErrorCode::NoSuchKey,
        412 => S3ErrorCode::PreconditionFailed,
        416 => S3ErrorCode::InvalidRange,
        429 | 503 => S3ErrorCode::ServiceUnavailable,
        _ => {
            return S3Error::with_message(S3ErrorCode::InternalError, format!("The storage node answered {status}."))
                .resource(resource)
        }
    };
    S3Error::new(code).resource(resource)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn client_facing_codes_pass_through_with_the_client_resource() {
        let body = "<?xml version=\"1.0\"?><Error><Code>NoSuchKey</Code><Message>Key not found</Message>\
                    <Resource>/dev/photos%2Fa</Resource></Error>";
        let err = from_node_error(404, body, "/photos/a");
        assert_eq!(err.code, S3ErrorCode::NoSuchKey);
        assert_eq!(err.resource.as_deref(), Some("/photos/a"));
        assert_eq!(err.message, "Key not found");
    }

    #[test]
    fn node_credential_and_backend_errors_do_not_blame_the_client() {
        for code in ["SignatureDoesNotMatch", "AccessDenied", "InvalidAccessKeyId", "NoSuchBucket"] {
            let body = format!("<Error><Code>{code}</Code><Message>m</Message></Error>");
            let err = from_node_error(403, &body, "/b/k");
            assert_eq!(err.code, S3ErrorCode::InternalError, "{code}");
            assert!(!err.message.contains("dev"));
        }
    }

    #[test]
    fn bare_statuses_map_to_their_codes() {
        assert_eq!(from_node_status(404, "/b/k").code, S3ErrorCode::NoSuchKey);
        assert_eq!(from_node_status(412, "/b/k").code, S3ErrorCode::PreconditionFailed);
        assert_eq!(from_node_status(304, "/b/k").code, S3ErrorCode::NotModified);
        assert_eq!(from_node_status(503, "/b/k").code, S3ErrorCode::ServiceUnavailable);
        assert_eq!(from_node_status(500, "/b/k").code, S3ErrorCode::InternalError);
        assert_eq!(from_node_error(416, "not xml", "/b/k").code, S3ErrorCode::InvalidRange);
    }

    #[test]
    fn checksum_mismatches_are_bad_digests() {
        let body = "<Error><Code>InvalidDigest</Code><Message>Invalid digest: Failed to validate checksum for \
                    algorithm Crc32</Message></Error>";
        assert_eq!(from_node_error(400, body, "/b/k").code, S3ErrorCode::BadDigest);
        let body = "<Error><Code>InvalidDigest</Code><Message>Invalid digest: bad base64</Message></Error>";
        assert_eq!(from_node_error(400, body, "/b/k").code, S3ErrorCode::InvalidDigest);
    }

    #[test]
    fn reads_the_error_document_whole() {
        // References resolved, surrounding space trimmed, a prefixed root and comments read.
        let body = "\n<s3:Error xmlns:s3=\"x\"><!-- c --><Code> NoSuchKey </Code>\
                    <Message>a &amp; b</Message></s3:Error>";
        let err = from_node_error(404, body, "/b/k");
        assert_eq!((err.code, err.message.as_str()), (S3ErrorCode::NoSuchKey, "a & b"));
        // No message: S3's own wording.
        let err = from_node_error(404, "<Error><Code>NoSuchKey</Code></Error>", "/b/k");
        assert_eq!(err.message, S3ErrorCode::NoSuchKey.default_message());
        // Not an error document, not well-formed, or a code given twice: the status speaks.
        for body in [
            "<Other><Code>NoSuchKey</Code></Other>",
            "<Error><Code>NoSuchKey</Code>",
            "<Error><Code>NoSuchKey</Code><Code>AccessDenied</Code></Error>",
        ] {
            assert_eq!(from_node_error(500, body, "/b/k").code, S3ErrorCode::InternalError, "{body}");
        }
    }
}
