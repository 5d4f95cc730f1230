//! Which headers cross the gateway, in each direction. Everything else is dropped: the client's
//! authentication never reaches the node, and the node's internals never reach the client.

/// Object headers a client sets on upload and gets back on download.
const OBJECT_HEADERS: &[&str] =
    &["cache-control", "content-disposition", "content-encoding", "content-language", "content-type", "expires"];

/// Request headers forwarded on PutObject (besides user metadata and checksums).
/// (If-Match / If-None-Match are decided by the gateway: nodes ignore them.)
const PUT_REQUEST_HEADERS: &[&str] = &["content-md5", "x-amz-sdk-checksum-algorithm"];

/// Request headers forwarded on GetObject / HeadObject.
const GET_REQUEST_HEADERS: &[&str] =
    &["if-match", "if-modified-since", "if-none-match", "if-unmodified-since", "range", "x-amz-checksum-mode"];

/// Query parameters forwarded on GetObject / HeadObject: S3's response header overrides.
pub const GET_QUERY_OVERRIDES: &[&str] = &[
    "response-cache-control",
    "response-content-disposition",
    "response-content-encoding",
    "response-content-language",
    "response-content-type",
    "response-expires",
];

/// Response headers passed from the node back to the client on GET / HEAD / PUT.
const RESPONSE_HEADERS: &[&str] =
    &["accept-ranges", "content-length", "content-range", "etag", "last-modified", "x-amz-mp-parts-count"];

fn is_metadata_or_checksum(name: &str) -> bool {
    name.starts_with("x-amz-meta-") || name.starts_with("x-amz-checksum-")
}

/// Headers of a PutObject request to forward to the node. `content-encoding: aws-chunked` is a
/// transfer detail, not the object's encoding, so it is dropped from the list.
pub fn put_object_request_headers(headers: &[(String, String)]) -> Vec<(String, String)> {
    headers
        .iter()
        .filter(|(name, _)| {
            OBJECT_HEADERS.contains(&name.as_str())
                || PUT_REQUEST_HEADERS.contains(&name.as_str())
                || is_metadata_or_checksum(name)
        })
        .filter_map(|(name, value)| {
            if name == "content-encoding" {
                let kept: Vec<&str> = value
                    .split(',')
                    .map(str::trim)
                    .filter(|e| !e.eq_ignore_ascii_case("aws-chunked") && !e.is_empty())
                    .collect();
                return (!kept.is_empty()).then(|| (name.clone(), kept.join(", ")));
            }
            Some((name.clone(), value.clone()))
        })
        .collect()
}

/// The object headers an encrypted project seals into the object's metadata: content headers and
/// user metadata (never integrity headers, which the gateway verifies itself).
pub fn stored_object_headers(headers: &[(String, String)]) -> Vec<(String, String)> {
    put_object_request_headers(headers)
        .into_iter()
        .filter(|(name, _)| OBJECT_HEADERS.contains(&name.as_str()) || name.starts_with("x-amz-meta-"))
        .collect()
}

/// Headers describing the body's digest (Content-MD5, checksums): a node storing ciphertext
/// must not get them, since they describe the plaintext.
pub fn is_integrity_header(name: &str) -> bool {
    name == "content-md5" || name == "x-amz-sdk-checksum-algorithm" || name.starts_with("x-amz-checksum-")
}

/// Headers of an UploadPart request to forward: the body's integrity headers only.
pub fn upload_part_request_headers(headers: &[(String, String)]) -> Vec<(String, String)> {
    headers
        .iter()
        .filter(|(name, _)| {
            name == "content-md5" || name == "x-amz-sdk-checksum-algorithm" || name.starts_with("x-amz-checksum-")
        })
        .cloned()
        .collect()
}

/// Copy conditions and the metadata directive of CopyObject / UploadPartCopy.
pub fn copy_request_headers(headers: &[(String, String)]) -> Vec<(String, String)> {
    headers
        .iter()
        .filter(|(name, _)| name.starts_with("x-amz-copy-source-if-") || name == "x-amz-metadata-directive")
        .cloned()
        .collect()
}

/// Headers of a GetObject / HeadObject request to forward to the node.
pub fn get_object_request_headers(headers: &[(String, String)]) -> Vec<(String, String)> {
    headers.iter().filter(|(name, _)| GET_REQUEST_HEADERS.contains(&name.as_str())).cloned().collect()
}

/// Whether a node response header is passed to the client.
pub fn is_passed_to_client(name: &str) -> bool {
    let name = name.to_ascii_lowercase();
    OBJECT_HEADERS.contains(&name.as_str())
        || RESPONSE_HEADERS.contains(&name.as_str())
        || is_metadata_or_checksum(&name)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn headers(pairs: &[(&str, &str)]) -> Vec<(String, String)> {
        pairs.iter().map(|(n, v)| (n.to_string(), v.to_string())).collect()
    }

    #[test]
    fn put_forwards_object_headers_metadata_and_checksums_but_never_auth() {
        let forwarded = put_object_request_headers(&headers(&[
            ("authorization", "AWS4-HMAC-SHA256 ..."),
            ("x-amz-content-sha256", "abc"),
            ("x-amz-date", "20260101T000000Z"),
            ("host", "gateway"),
            ("content-type", "text/plain"),
            ("x-amz-meta-colour", "blue"),
            ("x-amz-checksum-crc32", "AAAAAA=="),
            ("content-md5", "xyz"),
            ("cache-control", "max-age=60"),
        ]));
        assert_eq!(
            forwarded,
            headers(&[
                ("content-type", "text/plain"),
                ("x-amz-meta-colour", "blue"),
                ("x-amz-checksum-crc32", "AAAAAA=="),
                ("content-md5", "xyz"),
                ("cache-control", "max-age=60"),
            ])
        );
    }

    #[test]
    fn aws_chunked_is_not_an_object_encoding() {
        assert_eq!(put_object_request_headers(&headers(&[("content-encoding", "aws-chunked")])), vec![]);
        assert_eq!(
            put_object_request_headers(&headers(&[("content-encoding", "aws-chunked,gzip")])),
            headers(&[("content-encoding", "gzip")])
        );
    }

    #[test]
    fn encrypted_objects_seal_content_headers_and_metadata_only() {
        let request = headers(&[
            ("content-type", "text/plain"),
            ("content-encoding", "aws-chunked"),
            ("x-amz-meta-colour", "blue"),
            ("x-amz-checksum-crc32", "AAAAAA=="),
            ("content-md5", "xyz"),
            ("authorization", "x"),
        ]);
        assert_eq!(
            stored_object_headers(&request),
            headers(&[("content-type", "text/plain"), ("x-amz-meta-colour", "blue")])
        );
        assert!(is_integrity_header("content-md5") && is_integrity_header("x-amz-checksum-sha256"));
        assert!(!is_integrity_header("content-type"));
    }

    #[test]
    fn get_forwards_range_and_conditions_only() {
        let forwarded = get_object_request_headers(&headers(&[
            ("range", "bytes=0-9"),
            ("if-none-match", "\"e\""),
            ("authorization", "x"),
            ("cookie", "c"),
        ]));
        assert_eq!(forwarded, headers(&[("range", "bytes=0-9"), ("if-none-match", "\"e\"")]));
    }

    #[test]
    fn part_copy_and_complete_forward_only_their_headers() {
        let request = headers(&[
            ("authorization", "x"),
            ("content-md5", "m"),
            ("x-amz-checksum-crc32", "c"),
            ("content-type", "text/plain"),
            ("x-amz-copy-source", "/b/k"),
            ("x-amz-copy-source-if-match", "\"e\""),
            ("x-amz-metadata-directive", "REPLACE"),
            ("if-none-match", "*"),
        ]);
        assert_eq!(
            upload_part_request_headers(&request),
            headers(&[("content-md5", "m"), ("x-amz-checksum-crc32", "c")])
        );
        assert_eq!(
            copy_request_headers(&request),
            headers(&[("x-amz-copy-source-if-match", "\"e\""), ("x-amz-metadata-directive", "REPLACE")])
        );
    }

    #[test]
    fn only_object_headers_reach_the_client() {
        for name in ["ETag", "content-length", "x-amz-meta-a", "Content-Range", "last-modified"] {
            assert!(is_passed_to_client(name), "{name}");
        }
        for name in ["server", "x-amz-request-id", "x-garage-internal", "set-cookie", "connection"] {
            assert!(!is_passed_to_client(name), "{name}");
        }
    }
}
