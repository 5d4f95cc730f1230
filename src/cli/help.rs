//! The `--help` texts, one per command, printed on stdout.

pub const MAIN: &str = "\
portico: create projects, restrict access grants and register them as S3 credentials

usage:
  portico project create --endpoint URL --node NAME --backend-bucket BUCKET [--id ID] [--json]
  portico grant restrict GRANT [--readonly] [--writeonly] [--no-delete] [--no-list]
                               [--bucket B]... [--prefix P]... [--not-before T] [--not-after T]
  portico grant inspect GRANT
  portico register GRANT --endpoint URL [--public] [--format text|env|aws|rclone|json]
  portico revoke ACCESS_KEY_ID --endpoint URL (--secret-key S | --admin-token TOKEN)
                   [--master-secret S]

An access grant (portico1...) is a bearer credential: it names a project, carries caveats and
the key that decrypts the project's data. `grant restrict` and `grant inspect` work offline;
the other commands talk to the worker's JSON API at --endpoint.

GRANT may be `-` to read it from standard input (keeps it out of the process list).
Run `portico COMMAND --help` for details. Exit codes: 0 success, 1 failed request, 2 bad input.
";

pub const PROJECT: &str = "\
usage: portico project create --endpoint URL --node NAME --backend-bucket BUCKET [--id ID] [--json]

Commands:
  create    create a project (a tenant) and print its root access grant
";

pub const PROJECT_CREATE: &str = "\
usage: portico project create --endpoint URL --node NAME --backend-bucket BUCKET [--id ID]
                              [--admin-token TOKEN] [--encrypted] [--json]

Creates a project on the gateway at --endpoint and prints its root access grant: full access to
every bucket of the project. Keep it safe; hand out restricted grants (`portico grant restrict`).

Options:
  --endpoint URL          the gateway, e.g. https://s3.example.com
  --admin-token TOKEN     the operator's admin token; default: $PORTICO_ADMIN_TOKEN (preferred:
                          command-line arguments are visible to other local users)
  --node NAME             the storage node the project's data lives on
  --backend-bucket B      the bucket on that node that holds the project's buckets
  --id ID                 the project id, 1-63 of a-z, 0-9 and '-' (default: chosen by the gateway)
  --encrypted             encrypt the project's objects at rest
  --json                  print the whole answer as JSON: {\"project\": {...}, \"access_grant\": ...}
";

pub const GRANT: &str = "\
usage:
  portico grant restrict GRANT [--readonly] [--writeonly] [--no-delete] [--no-list]
                               [--bucket B]... [--prefix P]... [--not-before T] [--not-after T]
  portico grant inspect GRANT

Commands:
  restrict  add a caveat to a grant, offline, and print the narrower grant
  inspect   print what a grant allows, as JSON (never its keys)
";

pub const GRANT_RESTRICT: &str = "\
usage: portico grant restrict GRANT [--readonly] [--writeonly] [--no-delete] [--no-list]
                                    [--bucket B]... [--prefix P]... [--not-before T] [--not-after T]

Adds one caveat to GRANT and prints the new grant. Works offline and can only narrow: the new
grant allows what GRANT allows and this caveat allows. A grant restricted to exactly one bucket
carries only that bucket's key. GRANT may be `-` to read it from standard input.

Options:
  --readonly        read and list only (no writes, no deletes)
  --writeonly       write and delete only (no reads, no listing)
  --no-delete       no deletes
  --no-list         no listing
  --bucket B        only bucket B; repeat for several buckets
  --prefix P        only keys starting with P (matched literally: `photos/` is a folder, `photos`
                    also matches `photos-old/...`); repeat for several prefixes
  --not-before T    valid from T on
  --not-after T     valid until T (exclusive)

T is RFC 3339 in UTC (2026-12-01T00:00:00Z), unix seconds (1798761600), or a duration from now:
90s, 30m, 24h, 7d, 2w, 1h30m.
";

pub const GRANT_INSPECT: &str = "\
usage: portico grant inspect GRANT

Prints, as JSON, the grant's project, id, key scope and caveats (operations, buckets, prefixes,
not_before / not_after in unix seconds). Never prints the grant's keys. Works offline and does
not verify the grant: only the gateway can. GRANT may be `-` to read it from standard input.
";

pub const REGISTER: &str = "\
usage: portico register GRANT --endpoint URL [--public] [--format text|env|aws|rclone|json]

Registers GRANT with the gateway at --endpoint as an S3 credential (access key id and secret
key) and prints it with ready-to-paste client configuration. GRANT may be `-` to read it from
standard input.

Options:
  --endpoint URL    the gateway, e.g. https://s3.example.com
  --public          also answer anonymous requests (share links, websites)
  --format F        text (default): the credential, aws CLI and rclone configuration
                    env: `export AWS_...` lines only, for `eval \"$(portico register ...)\"`
                    aws: `aws configure set` commands and ~/.aws file snippets
                    rclone: an rclone remote named `portico`
                    json: {\"access_key_id\", \"secret_key\", \"endpoint\"}
";

pub const REVOKE: &str = "\
usage: portico revoke ACCESS_KEY_ID --endpoint URL (--secret-key S | --admin-token TOKEN)

Deletes a registered credential. Authorized by the credential's own secret key, or by the
operator's admin token (default: $PORTICO_ADMIN_TOKEN when --secret-key is not given).
";
