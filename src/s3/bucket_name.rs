//! Bucket name and object key rules.
//!
//! Bucket names follow the AWS rules for general-purpose buckets, so any name portico accepts is
//! also valid on S3 itself. They also keep client buckets apart from portico's own records: a
//! valid name starts with a letter or digit, so no bucket prefix (`<name>/`) can reach the
//! reserved `.portico/` area of the backend bucket.

use super::error::S3Result;
use crate::s3_error;

/// Longest object key S3 accepts, in bytes of UTF-8.
pub const MAX_KEY_BYTES: usize = 1024;

/// Prefixes AWS reserves for its own naming schemes (punycode, access points, documentation).
const RESERVED_PREFIXES: &[&str] = &["xn--", "sthree-", "amzn-s3-demo-"];

/// Suffixes AWS reserves for access point aliases, Object Lambda, Multi-Region Access Points,
/// directory buckets and table buckets.
const RESERVED_SUFFIXES: &[&str] = &["-s3alias", "--ol-s3", ".mrap", "--x-s3", "--table-s3"];

/// Check a bucket name against the AWS general-purpose bucket naming rules: 3 to 63 characters
/// of lowercase letters, digits, dots and hyphens; starting and ending with a letter or digit;
/// no two adjacent dots; not an IPv4 address; no reserved prefix or suffix.
pub fn validate_bucket_name(name: &str) -> S3Result<()> {
    let invalid =
        |why: &str| Err(s3_error!(InvalidBucketName, "The specified bucket is not valid: {why}.").resource(name));
    if !(3..=63).contains(&name.len()) {
        return invalid("it must be 3 to 63 characters long");
    }
    if !name.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'.' || b == b'-') {
        return invalid("only lowercase letters, digits, dots and hyphens are allowed");
    }
    let letter_or_digit = |b: Option<&u8>| b.is_some_and(|b| b.is_ascii_alphanumeric());
    if !letter_or_digit(name.as_bytes().first()) || !letter_or_digit(name.as_bytes().last()) {
        return invalid("it must start and end with a letter or digit");
    }
    if name.contains("..") {
        return invalid("it must not contain two adjacent dots");
    }
    if looks_like_ipv4(name) {
        return invalid("it must not be formatted as an IP address");
    }
    if RESERVED_PREFIXES.iter().any(|prefix| name.starts_with(prefix)) {
        return invalid("it starts with a reserved prefix");
    }
    if RESERVED_SUFFIXES.iter().any(|suffix| name.ends_with(suffix)) {
        return invalid("it ends with a reserved suffix");
    }
    Ok(())
}

/// Four dot-separated groups of digits. Out-of-range groups (`999.1.1.1`) count too: they still
/// read as an address to a resolver or a person, and S3 rejects them the same way.
fn looks_like_ipv4(name: &str) -> bool {
    let groups: Vec<&str> = name.split('.').collect();
    groups.len() == 4 && groups.iter().all(|g| !g.is_empty() && g.bytes().all(|b| b.is_ascii_digit()))
}

/// Check an object key: non-empty and at most 1024 bytes of UTF-8.
pub fn validate_object_key(key: &str) -> S3Result<()> {
    if key.is_empty() {
        return Err(s3_error!(InvalidArgument, "The object key must not be empty."));
    }
    if key.len() > MAX_KEY_BYTES {
        return Err(s3_error!(
            KeyTooLongError,
            "Your key is too long: {} bytes, at most {MAX_KEY_BYTES} are allowed.",
            key.len()
        ));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::s3::error::S3ErrorCode;

    #[test]
    fn accepts_valid_names() {
        for name in [
            "abc",
            "photos",
            "docexamplebucket1",
            "log-delivery-march-2020",
            "my-hosted-content",
            "docexamplewebsite.com",
            "www.docexamplewebsite.com",
            "my.example.s3.bucket",
            "a-b.c-d",
            "0bucket9",
            "123",
            "1.2.3",
            "1.2.3.4.5",
            "1.2.3.a",
            "xn-a",
            "sthree",
            "amzn-s3-demo",
            "bucket-s3alias-not",
            "mrap",
            "x-s3",
            &"a".repeat(63),
        ] {
            assert_eq!(validate_bucket_name(name), Ok(()), "{name}");
        }
    }

    #[test]
    fn rejects_invalid_names() {
        for name in [
            "",
            "ab",
            &"a".repeat(64),
            "doc_example_bucket",
            "DocExampleBucket",
            "doc-example-bucket-",
            "-doc-example-bucket",
            ".photos",
            "photos.",
            "my..bucket",
            "a b",
            "bücket",
            "photos/a",
            "192.168.5.4",
            "999.999.999.999",
            "xn--bcher-kva",
            "sthree-bucket",
            "sthree-configurator",
            "amzn-s3-demo-bucket",
            "bucket-s3alias",
            "bucket--ol-s3",
            "bucket.mrap",
            "bucket--x-s3",
            "bucket--table-s3",
            ".portico",
        ] {
            let err = validate_bucket_name(name).unwrap_err();
            assert_eq!(err.code, S3ErrorCode::InvalidBucketName, "{name}");
            assert_eq!(err.status(), 400);
            assert_eq!(err.resource.as_deref(), Some(name));
        }
    }

    #[test]
    fn counts_length_in_bytes_not_characters() {
        // Multi-byte characters are rejected anyway; the length check must not panic on them.
        assert!(validate_bucket_name("ééé").is_err());
    }

    #[test]
    fn accepts_keys_up_to_1024_bytes() {
        for key in ["a", "a/b.jpg", " ", "../x", "日本語/ファイル.txt", &"k".repeat(1024)] {
            assert_eq!(validate_object_key(key), Ok(()), "{key}");
        }
        // 341 three-byte characters + 1 byte = 1024 bytes.
        assert_eq!(validate_object_key(&format!("{}x", "語".repeat(341))), Ok(()));
    }

    #[test]
    fn rejects_empty_and_long_keys() {
        assert_eq!(validate_object_key("").unwrap_err().code, S3ErrorCode::InvalidArgument);
        let err = validate_object_key(&"k".repeat(1025)).unwrap_err();
        assert_eq!(err.code, S3ErrorCode::KeyTooLongError);
        assert_eq!(err.status(), 400);
        // 342 three-byte characters are 1026 bytes although only 342 characters.
        let err = validate_object_key(&"語".repeat(342)).unwrap_err();
        assert_eq!(err.code, S3ErrorCode::KeyTooLongError);
    }
}
