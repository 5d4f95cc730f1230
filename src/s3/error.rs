//! The one S3 error type. Every failure a client sees is an `S3Error`, rendered as the S3 XML error
//! document with the status taken from the single code -> status table in `S3ErrorCode::status`.

use std::fmt;

use super::xml::escape;

macro_rules! s3_error_codes {
    ($($code:ident => $status:literal, $default_message:literal;)*) => {
        /// S3 error codes portico can answer with, each with its one HTTP status.
        #[derive(Debug, Clone, Copy, PartialEq, Eq)]
        pub enum S3ErrorCode {
            $($code,)*
        }

        impl S3ErrorCode {
            /// The code exactly as S3 spells it in `<Code>`.
            pub fn as_str(self) -> &'static str {
                match self {
                    $(S3ErrorCode::$code => stringify!($code),)*
                }
            }

            /// The HTTP status S3 answers this code with: the one table.
            pub fn status(self) -> u16 {
                match self {
                    $(S3ErrorCode::$code => $status,)*
                }
            }

            /// The message used when the caller has nothing more specific to say.
            pub fn default_message(self) -> &'static str {
                match self {
                    $(S3ErrorCode::$code => $default_message,)*
                }
            }

            /// Every code, for table tests.
            pub const ALL: &'static [S3ErrorCode] = &[$(S3ErrorCode::$code,)*];
        }
    };
}

s3_error_codes! {
    AccessDenied => 403, "Access Denied";
    AccessForbidden => 403, "Access Forbidden";
    AuthorizationHeaderMalformed => 400, "The authorization header is malformed.";
    AuthorizationQueryParametersError => 400, "Error parsing the X-Amz-Credential parameter.";
    BadDigest => 400, "The Content-MD5 or checksum value that you specified did not match what the server received.";
    BadRequest => 400, "Bad Request";
    BucketAlreadyExists => 409, "The requested bucket name is not available.";
    BucketAlreadyOwnedByYou => 409, "Your previous request to create the named bucket succeeded and you already own it.";
    BucketNotEmpty => 409, "The bucket you tried to delete is not empty.";
    EntityTooLarge => 400, "Your proposed upload exceeds the maximum allowed object size.";
    EntityTooSmall => 400, "Your proposed upload is smaller than the minimum allowed object size.";
    IncompleteBody => 400, "You did not provide the number of bytes specified by the Content-Length HTTP header.";
    InternalError => 500, "We encountered an internal error. Please try again.";
    InvalidAccessKeyId => 403, "The AWS access key ID you provided does not exist in our records.";
    InvalidArgument => 400, "Invalid Argument";
    InvalidBucketName => 400, "The specified bucket is not valid.";
    InvalidDigest => 400, "The Content-MD5 you specified is not valid.";
    InvalidPart => 400, "One or more of the specified parts could not be found.";
    InvalidPartOrder => 400, "The list of parts was not in ascending order.";
    InvalidRange => 416, "The requested range is not satisfiable";
    InvalidRequest => 400, "Invalid Request";
    KeyTooLongError => 400, "Your key is too long.";
    MalformedXML => 400, "The XML you provided was not well-formed or did not validate against our published schema.";
    MaxMessageLengthExceeded => 400, "Your request was too big.";
    MethodNotAllowed => 405, "The specified method is not allowed against this resource.";
    MissingContentLength => 411, "You must provide the Content-Length HTTP header.";
    NoSuchBucket => 404, "The specified bucket does not exist.";
    NoSuchCORSConfiguration => 404, "The CORS configuration does not exist";
    NoSuchKey => 404, "The specified key does not exist.";
    NoSuchUpload => 404, "The specified multipart upload does not exist.";
    NotImplemented => 501, "A header or operation you provided implies functionality that is not implemented.";
    NotModified => 304, "Not Modified";
    PreconditionFailed => 412, "At least one of the preconditions you specified did not hold.";
    RequestTimeTooSkewed => 403, "The difference between the request time and the server's time is too large.";
    ServiceUnavailable => 503, "Please reduce your request rate.";
    SignatureDoesNotMatch => 403, "The request signature we calculated does not match the signature you provided. Check your key and signing method.";
    XAmzContentSHA256Mismatch => 400, "The provided 'x-amz-content-sha256' header does not match what was computed.";
}

/// An S3 error answer: code (and so status), message, the resource it concerns, and any extra
/// headers S3 sends with it (Content-Range on 416, for instance).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct S3Error {
    pub code: S3ErrorCode,
    pub message: String,
    pub resource: Option<String>,
    pub headers: Vec<(String, String)>,
}

pub type S3Result<T> = Result<T, S3Error>;

impl S3Error {
    pub fn new(code: S3ErrorCode) -> Self {
        S3Error { code, message: code.default_message().to_string(), resource: None, headers: Vec::new() }
    }

    pub fn with_message(code: S3ErrorCode, message: impl Into<String>) -> Self {
        S3Error { message: message.into(), ..S3Error::new(code) }
    }

    pub fn resource(mut self, resource: impl Into<String>) -> Self {
        self.resource = Some(resource.into());
        self
    }

    pub fn header(mut self, name: impl Into<String>, value: impl Into<String>) -> Self {
        self.headers.push((name.into(), value.into()));
        self
    }

    pub fn status(&self) -> u16 {
        self.code.status()
    }

    /// HEAD responses and 304 carry no body; everything else carries the XML document.
    pub fn has_body(&self, method_is_head: bool) -> bool {
        !method_is_head && self.code != S3ErrorCode::NotModified
    }

    /// The S3 error document.
    pub fn to_xml(&self, request_id: &str) -> String {
        let mut xml = String::with_capacity(256);
        xml.push_str("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<Error><Code>");
        xml.push_str(self.code.as_str());
        xml.push_str("</Code><Message>");
        xml.push_str(&escape(&self.message));
        xml.push_str("</Message>");
        if let Some(resource) = &self.resource {
            xml.push_str("<Resource>");
            xml.push_str(&escape(resource));
            xml.push_str("</Resource>");
        }
        xml.push_str("<RequestId>");
        xml.push_str(&escape(request_id));
        xml.push_str("</RequestId></Error>");
        xml
    }
}

impl fmt::Display for S3Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.code.as_str(), self.message)
    }
}

impl std::error::Error for S3Error {}

impl From<S3ErrorCode> for S3Error {
    fn from(code: S3ErrorCode) -> Self {
        S3Error::new(code)
    }
}

/// Build an `S3Error`: `s3_error!(NoSuchKey)` or `s3_error!(InvalidArgument, "bad {}", x)`.
#[macro_export]
macro_rules! s3_error {
    ($code:ident) => {
        $crate::s3::error::S3Error::new($crate::s3::error::S3ErrorCode::$code)
    };
    ($code:ident, $($fmt:tt)+) => {
        $crate::s3::error::S3Error::with_message($crate::s3::error::S3ErrorCode::$code, format!($($fmt)+))
    };
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_code_has_a_client_or_server_error_status_and_its_own_name() {
        for code in S3ErrorCode::ALL {
            let status = code.status();
            assert!((300..600).contains(&status), "{code:?} -> {status}");
            assert_eq!(format!("{code:?}"), code.as_str());
        }
    }

    #[test]
    fn statuses_match_the_s3_reference() {
        use S3ErrorCode::*;
        for (code, status) in [
            (AccessDenied, 403),
            (NoSuchBucket, 404),
            (NoSuchKey, 404),
            (BucketNotEmpty, 409),
            (BucketAlreadyOwnedByYou, 409),
            (InvalidRange, 416),
            (SignatureDoesNotMatch, 403),
            (RequestTimeTooSkewed, 403),
            (InvalidAccessKeyId, 403),
            (NotImplemented, 501),
            (PreconditionFailed, 412),
            (MissingContentLength, 411),
            (MethodNotAllowed, 405),
        ] {
            assert_eq!(code.status(), status, "{code:?}");
        }
    }

    #[test]
    fn error_document_escapes_and_carries_request_id() {
        let err = s3_error!(NoSuchKey).resource("/b/a<b>&c");
        let xml = err.to_xml("req-1");
        assert_eq!(
            xml,
            "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<Error><Code>NoSuchKey</Code>\
             <Message>The specified key does not exist.</Message>\
             <Resource>/b/a&lt;b&gt;&amp;c</Resource><RequestId>req-1</RequestId></Error>"
        );
    }

    #[test]
    fn macro_formats_messages() {
        let err = s3_error!(InvalidArgument, "max-keys {} is not a number", "x");
        assert_eq!(err.code, S3ErrorCode::InvalidArgument);
        assert_eq!(err.message, "max-keys x is not a number");
        assert_eq!(err.status(), 400);
    }
}
