//! What a request asks of its grant: the operation's permission on its bucket, key or listing
//! prefix. One function, so every operation is checked the same way.

use crate::auth::grant::{required_permission, required_source_permission, Action, Grant};
use crate::s3::operation::Operation;
use crate::s3::S3Result;

/// Where a request points, as the grant check needs it.
#[derive(Debug, Clone, Copy, Default)]
pub struct RequestScope<'a> {
    pub bucket: Option<&'a str>,
    pub key: Option<&'a str>,
    /// The `prefix` query parameter of a listing.
    pub list_prefix: Option<&'a str>,
    /// The source bucket and key of a copy (`x-amz-copy-source`).
    pub copy_source: Option<(&'a str, &'a str)>,
}

/// Check the grant's caveats for `operation` on `scope` at `now`: AccessDenied when any caveat
/// refuses.
pub fn authorize(grant: &Grant, operation: Operation, scope: &RequestScope<'_>, now: i64) -> S3Result<()> {
    let permission = required_permission(operation);
    let action = match (operation, scope.bucket, scope.key) {
        (Operation::ListBuckets, _, _) | (_, None, _) => Action::list_buckets(),
        (Operation::ListObjectsV1 | Operation::ListObjectsV2 | Operation::ListMultipartUploads, Some(bucket), _) => {
            Action::list(bucket, scope.list_prefix.unwrap_or(""))
        }
        (_, Some(bucket), Some(key)) => Action::object(permission, bucket, key),
        (_, Some(bucket), None) => Action::bucket(permission, bucket),
    };
    grant.authorize(&action, now)?;
    if let (Some(source_permission), Some((bucket, key))) = (required_source_permission(operation), scope.copy_source) {
        grant.authorize(&Action::object(source_permission, bucket, key), now)?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::auth::grant::{Caveat, Permissions};
    use crate::s3::S3ErrorCode;

    const MASTER: &[u8] = b"a master secret for authorization tests";
    const NOW: i64 = 1_800_000_000;

    fn root() -> Grant {
        Grant::mint(MASTER, "p", [1; 16], [2; 32]).unwrap()
    }

    fn readonly_prefix(bucket: &str, prefix: &str) -> Grant {
        root()
            .restrict(Caveat {
                operations: Some(Permissions { read: true, write: false, list: true, delete: false }),
                buckets: vec![bucket.to_string()],
                prefixes: vec![prefix.to_string()],
                not_before: None,
                not_after: Some(NOW + 60),
            })
            .unwrap()
    }

    fn scope<'a>(bucket: Option<&'a str>, key: Option<&'a str>) -> RequestScope<'a> {
        RequestScope { bucket, key, ..Default::default() }
    }

    #[test]
    fn root_grant_allows_everything() {
        let grant = root();
        for op in [Operation::PutObject, Operation::DeleteBucket, Operation::ListObjectsV2, Operation::GetObject] {
            assert!(authorize(&grant, op, &scope(Some("b"), Some("k")), NOW).is_ok(), "{op:?}");
        }
    }

    #[test]
    fn readonly_prefix_grant_reads_and_lists_inside_only() {
        let grant = readonly_prefix("photos", "2024/");
        let ok = |op, bucket, key| authorize(&grant, op, &scope(Some(bucket), Some(key)), NOW);
        assert!(ok(Operation::GetObject, "photos", "2024/a.jpg").is_ok());
        assert!(ok(Operation::HeadObject, "photos", "2024/a.jpg").is_ok());
        for (op, bucket, key) in [
            (Operation::GetObject, "photos", "2023/a.jpg"),
            (Operation::GetObject, "other", "2024/a.jpg"),
            (Operation::PutObject, "photos", "2024/a.jpg"),
            (Operation::DeleteObject, "photos", "2024/a.jpg"),
        ] {
            let err = ok(op, bucket, key).unwrap_err();
            assert_eq!(err.code, S3ErrorCode::AccessDenied, "{op:?} {bucket}/{key}");
        }
        let list = |prefix| {
            authorize(
                &grant,
                Operation::ListObjectsV2,
                &RequestScope { bucket: Some("photos"), list_prefix: Some(prefix), ..Default::default() },
                NOW,
            )
        };
        assert!(list("2024/").is_ok());
        assert!(list("2024/07/").is_ok());
        assert!(list("").is_err());
        assert!(list("2023/").is_err());
        assert!(authorize(&grant, Operation::CreateBucket, &scope(Some("photos"), None), NOW).is_err());
        assert!(authorize(&grant, Operation::DeleteBucket, &scope(Some("photos"), None), NOW).is_err());
        assert!(authorize(&grant, Operation::ListBuckets, &scope(None, None), NOW).is_ok());
    }

    #[test]
    fn expired_grants_are_refused() {
        let grant = readonly_prefix("photos", "");
        assert!(authorize(&grant, Operation::GetObject, &scope(Some("photos"), Some("k")), NOW + 61).is_err());
    }

    #[test]
    fn copies_need_read_on_the_source() {
        let grant = readonly_prefix("photos", "").restrict(Caveat::default()).unwrap();
        let writable = root()
            .restrict(Caveat {
                buckets: vec!["dst".into(), "src".into()],
                prefixes: vec!["in/".into()],
                ..Default::default()
            })
            .unwrap();
        let copy = |grant: &Grant, source| {
            authorize(
                grant,
                Operation::CopyObject,
                &RequestScope {
                    bucket: Some("dst"),
                    key: Some("in/x"),
                    copy_source: Some(source),
                    ..Default::default()
                },
                NOW,
            )
        };
        assert!(copy(&writable, ("src", "in/y")).is_ok());
        assert!(copy(&writable, ("src", "out/y")).is_err());
        assert!(copy(&grant, ("photos", "y")).is_err());
    }
}
