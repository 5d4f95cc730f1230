//! The outbound SigV4 signer: signs the gateway's requests to a storage node with the node's own
//! credentials. Pure: it returns the headers to add rather than touching a request, and uses the
//! canonicalization of `auth::sigv4`, the same code that verifies clients.

use crate::auth::amz_date::{format_amz_date, format_yyyymmdd};
use crate::auth::secret::SecretKey;
use crate::auth::sigv4::{
    authorization_header_value, canonical_request, compute_signature, credential_scope, signing_key, string_to_sign,
    S3_SERVICE,
};
use crate::http::RequestHead;

/// Headers the signer sets itself; callers' copies of them are ignored.
const SIGNER_HEADERS: &[&str] = &["authorization", "host", "x-amz-date", "x-amz-content-sha256"];

/// Sign a request to a storage node and return the headers to add: `authorization`,
/// `x-amz-date` and `x-amz-content-sha256`.
///
/// - `host_header` must be exactly the Host the request will carry (`fetch` derives it from the
///   URL: host, plus `:port` when the port is not the scheme's default).
/// - `raw_path` and `raw_query` are sent as given and must already be uri-encoded.
/// - Every header in `headers` is signed (except those the signer sets itself), so pass exactly
///   the headers the request will send unchanged; leave out any the runtime may rewrite.
/// - `payload_hash` is the body's hex SHA-256, or `UNSIGNED-PAYLOAD` for a body streamed without
///   hashing it first.
#[allow(clippy::too_many_arguments)]
pub fn sign_node_request(
    method: &str,
    host_header: &str,
    raw_path: &str,
    raw_query: &str,
    headers: &[(String, String)],
    payload_hash: &str,
    access_key: &str,
    secret: &SecretKey,
    region: &str,
    now: i64,
) -> Vec<(String, String)> {
    let amz_date = format_amz_date(now);
    let yyyymmdd = format_yyyymmdd(now);

    let mut all_headers: Vec<(String, String)> = headers
        .iter()
        .map(|(name, value)| (name.to_ascii_lowercase(), value.clone()))
        .filter(|(name, _)| !SIGNER_HEADERS.contains(&name.as_str()))
        .collect();
    all_headers.push(("host".to_string(), host_header.to_string()));
    all_headers.push(("x-amz-content-sha256".to_string(), payload_hash.to_string()));
    all_headers.push(("x-amz-date".to_string(), amz_date.clone()));

    let mut signed_headers: Vec<String> = all_headers.iter().map(|(name, _)| name.clone()).collect();
    signed_headers.sort();
    signed_headers.dedup();

    let head = RequestHead {
        method: method.to_string(),
        host: host_header.to_string(),
        raw_path: raw_path.to_string(),
        raw_query: raw_query.to_string(),
        headers: all_headers,
    };
    let scope = credential_scope(&yyyymmdd, region, S3_SERVICE);
    let canonical = canonical_request(&head, &signed_headers, payload_hash, None);
    let key = signing_key(secret, &yyyymmdd, region, S3_SERVICE);
    let signature = compute_signature(&key, &string_to_sign(&amz_date, &scope, &canonical));

    vec![
        ("authorization".to_string(), authorization_header_value(access_key, &scope, &signed_headers, &signature)),
        ("x-amz-date".to_string(), amz_date),
        ("x-amz-content-sha256".to_string(), payload_hash.to_string()),
    ]
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::auth::sigv4::{
        parse_authorization_header, verify_header_auth, PayloadHash, EMPTY_PAYLOAD_SHA256, UNSIGNED_PAYLOAD,
    };
    use crate::http::hex;
    use crate::s3::error::S3ErrorCode;

    const NOW: i64 = 1_700_000_000;
    const ACCESS_KEY: &str = "GK31c2f218a2e44f485b94239e";
    const SECRET: &str = "b892c0665f0ada8a4755dae98baa3b133590e11dae3bcc1f9d769d67f16c3835";
    const HOST: &str = "127.0.0.1:3900";

    fn sign(method: &str, path: &str, query: &str, headers: &[(&str, &str)], payload_hash: &str) -> RequestHead {
        let headers: Vec<(String, String)> =
            headers.iter().map(|(name, value)| (name.to_string(), value.to_string())).collect();
        let secret = SecretKey::from(SECRET);
        let added =
            sign_node_request(method, HOST, path, query, &headers, payload_hash, ACCESS_KEY, &secret, "garage", NOW);
        let mut all: Vec<(String, String)> =
            headers.into_iter().map(|(name, value)| (name.to_ascii_lowercase(), value)).collect();
        all.push(("host".into(), HOST.into()));
        all.extend(added);
        RequestHead {
            method: method.into(),
            host: HOST.into(),
            raw_path: path.into(),
            raw_query: query.into(),
            headers: all,
        }
    }

    fn verify(head: &RequestHead) -> crate::s3::error::S3Result<crate::auth::sigv4::VerifiedV4> {
        let auth = parse_authorization_header(head.header("authorization").unwrap())?;
        verify_header_auth(head, &auth, &SecretKey::from(SECRET), NOW)
    }

    #[test]
    fn signed_requests_verify() {
        let head = sign(
            "PUT",
            "/tenant-bucket/photos/2024/caf%C3%A9%20au%20lait.jpg",
            "partNumber=2&uploadId=abc%2Bdef",
            &[("Content-Length", "11"), ("Content-Type", "image/jpeg"), ("x-amz-meta-portico", "v1")],
            EMPTY_PAYLOAD_SHA256,
        );
        let verified = verify(&head).unwrap();
        assert_eq!(verified.access_key_id, ACCESS_KEY);
        assert!(matches!(verified.payload, PayloadHash::Sha256(h) if hex(&h) == EMPTY_PAYLOAD_SHA256));

        let auth = parse_authorization_header(head.header("authorization").unwrap()).unwrap();
        assert_eq!(auth.scope(), "20231114/garage/s3/aws4_request");
        assert_eq!(
            auth.signed_headers,
            ["content-length", "content-type", "host", "x-amz-content-sha256", "x-amz-date", "x-amz-meta-portico"]
        );
        assert_eq!(head.header("x-amz-date"), Some("20231114T221320Z"));
        assert_eq!(head.header("x-amz-content-sha256"), Some(EMPTY_PAYLOAD_SHA256));
    }

    #[test]
    fn unsigned_payload_and_bare_requests_verify() {
        let head = sign("GET", "/", "list-type=2&prefix=a%2Fb&delimiter=%2F", &[], UNSIGNED_PAYLOAD);
        assert!(matches!(verify(&head).unwrap().payload, PayloadHash::Unsigned));
        let head = sign("HEAD", "/bucket/key", "", &[], UNSIGNED_PAYLOAD);
        assert!(verify(&head).is_ok());
    }

    #[test]
    fn callers_cannot_override_the_signers_headers() {
        let stale: Vec<(String, String)> = [
            ("Authorization", "stale"),
            ("Host", "elsewhere"),
            ("X-Amz-Date", "19700101T000000Z"),
            ("x-amz-content-sha256", "bogus"),
        ]
        .iter()
        .map(|(name, value)| (name.to_string(), value.to_string()))
        .collect();
        let secret = SecretKey::from(SECRET);
        let added =
            sign_node_request("GET", HOST, "/b/k", "", &stale, UNSIGNED_PAYLOAD, ACCESS_KEY, &secret, "garage", NOW);
        let auth = parse_authorization_header(&added[0].1).unwrap();
        assert_eq!(auth.signed_headers, ["host", "x-amz-content-sha256", "x-amz-date"]);
        assert_eq!(added[1], ("x-amz-date".to_string(), "20231114T221320Z".to_string()));
        assert_eq!(added[2], ("x-amz-content-sha256".to_string(), UNSIGNED_PAYLOAD.to_string()));
        // Signed as if the caller's copies were never there.
        assert_eq!(
            added,
            sign_node_request("GET", HOST, "/b/k", "", &[], UNSIGNED_PAYLOAD, ACCESS_KEY, &secret, "garage", NOW)
        );
    }

    #[test]
    fn tampering_after_signing_is_detected() {
        let head = sign("DELETE", "/bucket/key", "", &[("x-amz-meta-a", "1")], UNSIGNED_PAYLOAD);
        let mut other_key = head.clone();
        other_key.raw_path = "/bucket/other".into();
        assert_eq!(verify(&other_key).unwrap_err().code, S3ErrorCode::SignatureDoesNotMatch);
        let mut other_meta = head.clone();
        other_meta.headers[0].1 = "2".into();
        assert_eq!(verify(&other_meta).unwrap_err().code, S3ErrorCode::SignatureDoesNotMatch);
    }
}
