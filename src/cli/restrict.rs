//! `portico grant restrict`: command-line options into one [`Caveat`], added to a grant offline.

use crate::auth::grant::{Caveat, Grant, Permissions};
use crate::cli::when::{format_rfc3339, TimeSpec};
use crate::cli::CliError;
use crate::s3::bucket_name::validate_bucket_name;

/// The options of `grant restrict`, as given (times not yet resolved against the clock).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Restriction {
    /// Read and list only.
    pub readonly: bool,
    /// Write and delete only.
    pub writeonly: bool,
    pub no_delete: bool,
    pub no_list: bool,
    /// Allowed buckets, without duplicates; empty = any.
    pub buckets: Vec<String>,
    /// Allowed key prefixes, without duplicates; empty = any.
    pub prefixes: Vec<String>,
    pub not_before: Option<TimeSpec>,
    pub not_after: Option<TimeSpec>,
}

impl Restriction {
    /// The allowed operations; `None` when no option restricts them.
    pub fn operations(&self) -> Option<Permissions> {
        if !(self.readonly || self.writeonly || self.no_delete || self.no_list) {
            return None;
        }
        let mut ops = Permissions::ALL;
        if self.readonly {
            ops.write = false;
            ops.delete = false;
        }
        if self.writeonly {
            ops.read = false;
            ops.list = false;
        }
        ops.delete &= !self.no_delete;
        ops.list &= !self.no_list;
        Some(ops)
    }

    /// What can be checked without the clock: a restriction that restricts something, allows
    /// something, and names valid buckets.
    pub fn validate(&self) -> Result<(), String> {
        if self.readonly && self.writeonly {
            return Err("--readonly and --writeonly together allow nothing".into());
        }
        if self.operations() == Some(Permissions::NONE) {
            return Err("these options leave no operation allowed".into());
        }
        let restricts_something = self.operations().is_some()
            || !self.buckets.is_empty()
            || !self.prefixes.is_empty()
            || self.not_before.is_some()
            || self.not_after.is_some();
        if !restricts_something {
            return Err("nothing to restrict: give at least one of --readonly, --writeonly, --no-delete, --no-list, \
                        --bucket, --prefix, --not-before, --not-after"
                .into());
        }
        for bucket in &self.buckets {
            validate_bucket_name(bucket).map_err(|e| format!("--bucket {bucket:?}: {}", e.message))?;
        }
        Ok(())
    }

    /// The caveat, with times resolved against `now`. Refuses a validity window that is empty or
    /// already over: such a grant would allow nothing.
    pub fn caveat(&self, now: i64) -> Result<Caveat, String> {
        self.validate()?;
        let too_far = |name: &str| format!("{name} is too far in the future");
        let not_before = self.not_before.map(|t| t.resolve(now).ok_or_else(|| too_far("--not-before"))).transpose()?;
        let not_after = self.not_after.map(|t| t.resolve(now).ok_or_else(|| too_far("--not-after"))).transpose()?;
        if let Some(not_after) = not_after {
            if not_after <= now {
                return Err(format!("--not-after {} is not in the future", format_rfc3339(not_after)));
            }
            if not_before.is_some_and(|not_before| not_before >= not_after) {
                return Err("--not-before must be earlier than --not-after".into());
            }
        }
        Ok(Caveat {
            operations: self.operations(),
            buckets: self.buckets.clone(),
            prefixes: self.prefixes.clone(),
            not_before,
            not_after,
        })
    }

    /// Advice about options that probably do not mean what they say; the grant is made anyway.
    pub fn warnings(&self) -> Vec<String> {
        self.prefixes
            .iter()
            .filter(|prefix| !prefix.is_empty() && !prefix.ends_with('/'))
            .map(|prefix| {
                format!(
                    "--prefix {prefix:?} matches every key starting with it (also {:?}); \
                     use {:?} for a folder",
                    format!("{prefix}-old/..."),
                    format!("{prefix}/")
                )
            })
            .collect()
    }
}

/// `grant` with the restriction's caveat added. Errors are bad input (exit code 2).
pub fn restrict(grant: &Grant, restriction: &Restriction, now: i64) -> Result<Grant, CliError> {
    let caveat = restriction.caveat(now).map_err(CliError::usage)?;
    grant.restrict(caveat).map_err(|e| CliError::usage(format!("cannot restrict the grant: {e}")))
}

/// When the grant's own caveats end its validity, if that is at or before `now`.
pub fn expired_at(grant: &Grant, now: i64) -> Option<i64> {
    grant.caveats.iter().filter_map(|caveat| caveat.not_after).min().filter(|&not_after| not_after <= now)
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;
    use crate::auth::grant::{Action, Denied, Permission};

    const MASTER: &[u8] = b"a master secret for cli restrict tests";
    const NOW: i64 = 1_800_000_000;

    fn root() -> Grant {
        Grant::mint(MASTER, "project-1", [3; 16], [4; 32]).unwrap()
    }

    fn strings(list: &[&str]) -> Vec<String> {
        list.iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn readonly_bucket_prefix_reads_inside_and_denies_the_rest() {
        let restriction = Restriction {
            readonly: true,
            buckets: strings(&["photos"]),
            prefixes: strings(&["2024/"]),
            not_after: Some(TimeSpec::FromNow(3600)),
            ..Restriction::default()
        };
        let grant = restrict(&root(), &restriction, NOW).unwrap();
        // Survives serialization, and the gateway (holding the master secret) accepts it.
        let grant = Grant::parse(&grant.to_string()).unwrap();
        grant.verify(MASTER).unwrap();

        let inspected = grant.inspect();
        assert_eq!(inspected["key_scope"], json!({"type": "bucket", "bucket": "photos"}));
        let caveat = &inspected["caveats"][0];
        assert_eq!(caveat["operations"], json!({"read": true, "write": false, "list": true, "delete": false}));
        assert_eq!(caveat["buckets"], json!(["photos"]));
        assert_eq!(caveat["prefixes"], json!(["2024/"]));
        assert_eq!(caveat["not_after"], json!(NOW + 3600));
        assert_eq!(caveat["not_before"], json!(null));

        let check = |action: Action<'_>| grant.authorize(&action, NOW);
        assert_eq!(check(Action::object(Permission::Read, "photos", "2024/a.jpg")), Ok(()));
        assert_eq!(check(Action::list("photos", "2024/")), Ok(()));
        assert_eq!(check(Action::object(Permission::Read, "photos", "2023/a.jpg")), Err(Denied::Prefix));
        assert_eq!(check(Action::object(Permission::Read, "videos", "2024/a.jpg")), Err(Denied::Bucket));
        assert_eq!(
            check(Action::object(Permission::Write, "photos", "2024/a.jpg")),
            Err(Denied::Operation(Permission::Write))
        );
        assert_eq!(
            check(Action::object(Permission::Delete, "photos", "2024/a.jpg")),
            Err(Denied::Operation(Permission::Delete))
        );
        assert_eq!(
            grant.authorize(&Action::object(Permission::Read, "photos", "2024/a.jpg"), NOW + 3600),
            Err(Denied::Expired)
        );
    }

    #[test]
    fn permission_options_compose() {
        let ops = |r: Restriction| r.operations();
        assert_eq!(ops(Restriction::default()), None);
        assert_eq!(ops(Restriction { readonly: true, ..Default::default() }), Some(Permissions::READ_ONLY));
        assert_eq!(
            ops(Restriction { writeonly: true, ..Default::default() }),
            Some(Permissions { write: true, delete: true, ..Permissions::NONE })
        );
        assert_eq!(
            ops(Restriction { writeonly: true, no_delete: true, ..Default::default() }),
            Some(Permissions { write: true, ..Permissions::NONE })
        );
        assert_eq!(
            ops(Restriction { no_delete: true, no_list: true, ..Default::default() }),
            Some(Permissions { read: true, write: true, ..Permissions::NONE })
        );
        assert_eq!(
            ops(Restriction { readonly: true, no_list: true, ..Default::default() }),
            Some(Permissions { read: true, ..Permissions::NONE })
        );
    }

    #[test]
    fn restricting_twice_only_narrows() {
        let first = Restriction { buckets: strings(&["alpha", "beta"]), ..Default::default() };
        let second = Restriction { no_delete: true, buckets: strings(&["beta"]), ..Default::default() };
        let grant = restrict(&restrict(&root(), &first, NOW).unwrap(), &second, NOW).unwrap();
        grant.verify(MASTER).unwrap();
        assert_eq!(grant.caveats.len(), 2);
        assert_eq!(grant.content_key.scope_bucket(), Some("beta"));
        assert_eq!(grant.authorize(&Action::object(Permission::Write, "beta", "k"), NOW), Ok(()));
        assert_eq!(grant.authorize(&Action::object(Permission::Write, "alpha", "k"), NOW), Err(Denied::Bucket));
        assert_eq!(
            grant.authorize(&Action::object(Permission::Delete, "beta", "k"), NOW),
            Err(Denied::Operation(Permission::Delete))
        );
    }

    #[test]
    fn bad_restrictions_are_usage_errors() {
        let err = |r: Restriction| restrict(&root(), &r, NOW).unwrap_err();
        let both = err(Restriction { readonly: true, writeonly: true, ..Default::default() });
        assert_eq!(both.exit_code(), 2);
        assert!(both.message.contains("--readonly and --writeonly"), "{both}");
        assert!(err(Restriction::default()).message.starts_with("nothing to restrict"));
        let bad_bucket = err(Restriction { buckets: strings(&["Not_A_Bucket"]), ..Default::default() });
        assert!(bad_bucket.message.contains("--bucket \"Not_A_Bucket\""), "{bad_bucket}");
        let past = err(Restriction { not_after: Some(TimeSpec::At(NOW)), ..Default::default() });
        assert!(past.message.contains("2027-01-15T08:00:00Z is not in the future"), "{past}");
        let empty_window = err(Restriction {
            not_before: Some(TimeSpec::FromNow(7200)),
            not_after: Some(TimeSpec::FromNow(3600)),
            ..Default::default()
        });
        assert!(empty_window.message.contains("earlier than --not-after"), "{empty_window}");
        let overflow = err(Restriction { not_before: Some(TimeSpec::FromNow(i64::MAX)), ..Default::default() });
        assert!(overflow.message.contains("too far"), "{overflow}");
        let huge = err(Restriction { prefixes: vec!["p".repeat(9000)], ..Default::default() });
        assert!(huge.message.contains("larger than 8192 bytes"), "{huge}");
    }

    #[test]
    fn a_not_before_alone_may_lie_in_the_past() {
        let r = Restriction { not_before: Some(TimeSpec::At(NOW - 10)), ..Default::default() };
        let grant = restrict(&root(), &r, NOW).unwrap();
        assert_eq!(grant.caveats[0].not_before, Some(NOW - 10));
        assert_eq!(grant.authorize(&Action::list_buckets(), NOW), Ok(()));
    }

    #[test]
    fn prefixes_without_a_slash_get_a_warning() {
        let r = Restriction { prefixes: strings(&["photos", "docs/", ""]), ..Default::default() };
        let warnings = r.warnings();
        assert_eq!(warnings.len(), 1);
        assert!(warnings[0].contains("\"photos/\""), "{warnings:?}");
    }

    #[test]
    fn expiry_of_a_grant() {
        let r = Restriction { not_after: Some(TimeSpec::FromNow(60)), ..Default::default() };
        let grant = restrict(&root(), &r, NOW).unwrap();
        assert_eq!(expired_at(&grant, NOW), None);
        assert_eq!(expired_at(&grant, NOW + 60), Some(NOW + 60));
        assert_eq!(expired_at(&root(), NOW), None);
    }
}
