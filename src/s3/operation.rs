//! Which S3 operation a request is: a pure function of method, target and query, tested against
//! the request shapes of the S3 API reference in both addressing styles.

use super::addressing::Target;
use crate::http::RequestHead;

/// The S3 operations portico knows by name. Those not yet served are still identified, so the
/// answer is a precise NotImplemented naming the operation rather than a guess.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Operation {
    ListBuckets,
    CreateBucket,
    HeadBucket,
    DeleteBucket,
    ListObjectsV1,
    ListObjectsV2,
    GetBucketLocation,
    GetBucketVersioning,
    PutObject,
    GetObject,
    HeadObject,
    DeleteObject,
    PutBucketCors,
    GetBucketCors,
    DeleteBucketCors,
    CopyObject,
    DeleteObjects,
    CreateMultipartUpload,
    UploadPart,
    UploadPartCopy,
    CompleteMultipartUpload,
    AbortMultipartUpload,
    ListParts,
    ListMultipartUploads,
    PostObject,
    /// A bucket or object sub-resource portico does not serve (acl, tagging, lifecycle, ...).
    UnsupportedSubresource(&'static str),
}

/// Bucket and object sub-resources that turn a request into another operation.
const SUBRESOURCES: &[&str] = &[
    "accelerate",
    "acl",
    "analytics",
    "attributes",
    "cors",
    "encryption",
    "intelligent-tiering",
    "inventory",
    "legal-hold",
    "lifecycle",
    "logging",
    "metrics",
    "notification",
    "object-lock",
    "ownershipControls",
    "policy",
    "policyStatus",
    "publicAccessBlock",
    "replication",
    "requestPayment",
    "restore",
    "retention",
    "select",
    "tagging",
    "torrent",
    "versions",
    "website",
];

impl Operation {
    /// The name S3 documents for the operation.
    pub fn name(self) -> &'static str {
        use Operation::*;
        match self {
            ListBuckets => "ListBuckets",
            CreateBucket => "CreateBucket",
            HeadBucket => "HeadBucket",
            DeleteBucket => "DeleteBucket",
            ListObjectsV1 => "ListObjects",
            ListObjectsV2 => "ListObjectsV2",
            GetBucketLocation => "GetBucketLocation",
            GetBucketVersioning => "GetBucketVersioning",
            PutObject => "PutObject",
            GetObject => "GetObject",
            HeadObject => "HeadObject",
            DeleteObject => "DeleteObject",
            PutBucketCors => "PutBucketCors",
            GetBucketCors => "GetBucketCors",
            DeleteBucketCors => "DeleteBucketCors",
            CopyObject => "CopyObject",
            DeleteObjects => "DeleteObjects",
            CreateMultipartUpload => "CreateMultipartUpload",
            UploadPart => "UploadPart",
            UploadPartCopy => "UploadPartCopy",
            CompleteMultipartUpload => "CompleteMultipartUpload",
            AbortMultipartUpload => "AbortMultipartUpload",
            ListParts => "ListParts",
            ListMultipartUploads => "ListMultipartUploads",
            PostObject => "PostObject",
            UnsupportedSubresource(s) => s,
        }
    }
}

/// Identify the operation, or `None` when the method makes no sense for the target
/// (MethodNotAllowed).
pub fn identify(head: &RequestHead, target: &Target) -> Option<Operation> {
    use Operation::*;
    // One parse of the query for all the lookups below.
    let params = head.query_params();
    let has = |name: &str| params.iter().any(|(key, _)| key == name);
    let method = head.method.as_str();
    let subresource = SUBRESOURCES.iter().copied().find(|s| has(s));

    match (&target.bucket, &target.key) {
        (None, _) => match method {
            "GET" => Some(ListBuckets),
            _ => None,
        },
        (Some(_), None) => {
            match (subresource, method) {
                (Some("cors"), "GET") => return Some(GetBucketCors),
                (Some("cors"), "PUT") => return Some(PutBucketCors),
                (Some("cors"), "DELETE") => return Some(DeleteBucketCors),
                (Some(s), _) => return Some(UnsupportedSubresource(s)),
                (None, _) => {}
            }
            match method {
                "GET" if has("location") => Some(GetBucketLocation),
                "GET" if has("versioning") => Some(GetBucketVersioning),
                "GET" if has("uploads") => Some(ListMultipartUploads),
                "GET" if params.iter().any(|(key, value)| key == "list-type" && value == "2") => Some(ListObjectsV2),
                "GET" => Some(ListObjectsV1),
                "PUT" if has("versioning") => Some(UnsupportedSubresource("versioning")),
                "PUT" => Some(CreateBucket),
                "HEAD" => Some(HeadBucket),
                "DELETE" => Some(DeleteBucket),
                "POST" if has("delete") => Some(DeleteObjects),
                "POST" => Some(PostObject),
                _ => None,
            }
        }
        (Some(_), Some(_)) => {
            if let Some(s) = subresource {
                return Some(UnsupportedSubresource(s));
            }
            let upload = has("uploadId");
            match method {
                "GET" if upload => Some(ListParts),
                "GET" => Some(GetObject),
                "HEAD" => Some(HeadObject),
                "PUT" if upload && head.header("x-amz-copy-source").is_some() => Some(UploadPartCopy),
                "PUT" if upload => Some(UploadPart),
                "PUT" if head.header("x-amz-copy-source").is_some() => Some(CopyObject),
                "PUT" => Some(PutObject),
                "DELETE" if upload => Some(AbortMultipartUpload),
                "DELETE" => Some(DeleteObject),
                "POST" if has("uploads") => Some(CreateMultipartUpload),
                "POST" if upload => Some(CompleteMultipartUpload),
                _ => None,
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::s3::addressing::{resolve, BaseDomains};

    /// (method, path-style URI, extra header, expected operation); each case is also replayed
    /// virtual-host style.
    const CASES: &[(&str, &str, Option<&str>, Option<Operation>)] = {
        use Operation::*;
        &[
            ("GET", "/", None, Some(ListBuckets)),
            ("PUT", "/", None, None),
            ("PUT", "/bucket", None, Some(CreateBucket)),
            ("HEAD", "/bucket", None, Some(HeadBucket)),
            ("DELETE", "/bucket", None, Some(DeleteBucket)),
            ("GET", "/bucket", None, Some(ListObjectsV1)),
            ("GET", "/bucket?list-type=2&prefix=a%2F&delimiter=%2F", None, Some(ListObjectsV2)),
            ("GET", "/bucket?location", None, Some(GetBucketLocation)),
            ("GET", "/bucket?versioning", None, Some(GetBucketVersioning)),
            ("GET", "/bucket?uploads", None, Some(ListMultipartUploads)),
            ("GET", "/bucket?acl", None, Some(UnsupportedSubresource("acl"))),
            ("PUT", "/bucket?cors", None, Some(PutBucketCors)),
            ("GET", "/bucket?cors", None, Some(GetBucketCors)),
            ("DELETE", "/bucket?cors", None, Some(DeleteBucketCors)),
            ("POST", "/bucket?cors", None, Some(UnsupportedSubresource("cors"))),
            ("POST", "/bucket?delete", None, Some(DeleteObjects)),
            ("PATCH", "/bucket", None, None),
            ("PUT", "/bucket/key", None, Some(PutObject)),
            ("GET", "/bucket/key", None, Some(GetObject)),
            ("GET", "/bucket/key?response-content-type=text%2Fplain", None, Some(GetObject)),
            ("HEAD", "/bucket/key", None, Some(HeadObject)),
            ("DELETE", "/bucket/key", None, Some(DeleteObject)),
            ("PUT", "/bucket/key", Some("x-amz-copy-source"), Some(CopyObject)),
            ("POST", "/bucket/key?uploads", None, Some(CreateMultipartUpload)),
            ("PUT", "/bucket/key?partNumber=1&uploadId=u", None, Some(UploadPart)),
            ("PUT", "/bucket/key?partNumber=1&uploadId=u", Some("x-amz-copy-source"), Some(UploadPartCopy)),
            ("POST", "/bucket/key?uploadId=u", None, Some(CompleteMultipartUpload)),
            ("DELETE", "/bucket/key?uploadId=u", None, Some(AbortMultipartUpload)),
            ("GET", "/bucket/key?uploadId=u", None, Some(ListParts)),
            ("GET", "/bucket/key?tagging", None, Some(UnsupportedSubresource("tagging"))),
            ("POST", "/bucket/key", None, None),
        ]
    };

    fn request(method: &str, host: &str, uri: &str, header: Option<&str>) -> RequestHead {
        let (path, query) = uri.split_once('?').unwrap_or((uri, ""));
        RequestHead {
            method: method.into(),
            host: host.into(),
            raw_path: path.into(),
            raw_query: query.into(),
            headers: header.map(|h| vec![(h.to_string(), "src/key".to_string())]).unwrap_or_default(),
        }
    }

    #[test]
    fn identifies_operations_in_both_addressing_styles() {
        let domains = BaseDomains::parse("s3.example.com");
        for &(method, uri, header, expected) in CASES {
            let head = request(method, "s3.example.com", uri, header);
            assert_eq!(identify(&head, &resolve(&head, &domains)), expected, "path style {method} {uri}");

            // Virtual host: the first path segment moves into the host name.
            let rest = uri.strip_prefix("/bucket").unwrap_or(uri);
            if rest.len() < uri.len() {
                let rest = if rest.is_empty() || rest.starts_with('?') { format!("/{rest}") } else { rest.to_string() };
                let head = request(method, "bucket.s3.example.com", &rest, header);
                assert_eq!(identify(&head, &resolve(&head, &domains)), expected, "virtual host {method} {rest}");
            }
        }
    }

    #[test]
    fn names_are_the_documented_ones() {
        assert_eq!(Operation::ListObjectsV1.name(), "ListObjects");
        assert_eq!(Operation::UnsupportedSubresource("acl").name(), "acl");
        assert_eq!(Operation::CompleteMultipartUpload.name(), "CompleteMultipartUpload");
    }
}
