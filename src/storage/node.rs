//! Storage nodes (operator configuration) and projects (tenants), and where a project's buckets and
//! objects live inside its one backend bucket.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::http::uri_encode;
use crate::s3::range::parse_range;
use crate::s3::{S3Error, S3ErrorCode, S3Result};

/// One S3-compatible endpoint with the node's own credentials. Users never see these.
#[derive(Clone, Deserialize, PartialEq, Eq)]
pub struct NodeConfig {
    /// Base URL, e.g. `http://127.0.0.1:3900` or `https://s3.eu-central-1.example.net`.
    pub endpoint: String,
    #[serde(default = "default_region")]
    pub region: String,
    pub access_key_id: String,
    pub secret_access_key: String,
    /// Longest backend key the node stores, in bytes (S3: 1024; Garage on LMDB: 471).
    #[serde(default = "default_max_key_bytes")]
    pub max_key_bytes: usize,
    /// How object reads reach the node: `"pooled"` (default, the runtime's `fetch` and its kept-
    /// alive connections) or `"fresh"` (a new TCP connection per read; see `ReadConnections`).
    #[serde(default)]
    pub read_connections: ReadConnections,
    /// Seconds a read (a GET or HEAD: objects, listings, bucket checks) or a PUT of a small body
    /// sent whole waits for the node's answer head before the client gets 503 ServiceUnavailable,
    /// which S3 clients retry; 0 waits as long as the client does. Streamed uploads, copies,
    /// completions and deletes are not bounded: a node answers them only once it has the whole
    /// body, or has done the work.
    #[serde(default = "default_read_timeout_seconds")]
    pub read_timeout_seconds: u32,
}

/// How object reads (GETs without a body, `is_object_read`) reach a node.
///
/// `Fresh` opens a new connection per read (`cloudflare:sockets`, HTTP/1.1 written by hand,
/// `Connection: close`). It exists for nodes that write a response's head and body in two writes
/// without TCP_NODELAY, such as Garage: on a kept-alive connection the receiver's delayed ACK and
/// the node's Nagle algorithm then hold every small body ~40 ms, while a new connection starts in
/// quick-ACK mode. Each read pays a TCP handshake (and TLS, for https), so it suits nodes close to
/// the worker. Every other request (HEAD, writes, listings, multipart) still uses `fetch`, and so
/// do bodies over `FRESH_READ_MAX_BYTES`.
#[derive(Clone, Copy, Debug, Default, Deserialize, Serialize, PartialEq, Eq)]
#[serde(rename_all = "lowercase")]
pub enum ReadConnections {
    #[default]
    Pooled,
    Fresh,
}

/// The largest body an object read takes over a fresh connection; a larger one is read through
/// `fetch`. On workerd 1.20261123.1 a socket's bytes cost ~0.6 ms of CPU per MiB against fetch's
/// ~0.4 and move at ~1.5 GB/s against ~2.3 (both above what a node serves here); the stall that
/// fresh reads avoid hit over 10% of 8 MiB ranged reads (p90 ~55 ms pooled, ~18 fresh), the
/// chunk size of the aws CLI's parallel downloads (docs/BENCHMARKS.md, session 11). Older workerd
/// (up to 1.20260917.1) spent ~2.5 ms per MiB on sockets, and the limit was 1 MiB. A read whose
/// `Range` asks for more goes through `fetch` at once; any other read learns the size from the
/// fresh answer's head, and a larger body is dropped there and read again through `fetch` (one
/// more request, for bodies big enough to amortize it).
pub const FRESH_READ_MAX_BYTES: u64 = 16 << 20;

/// Query parameters an object read may carry (besides S3's `response-*` overrides).
const OBJECT_READ_QUERY: &[&str] = &["partNumber", "versionId"];

/// Whether a node request is an object read: a GET without a body of an object path (a key inside
/// the bucket, not the bucket itself), with no query but a part number, version or response
/// header overrides. Listings (`/bucket?list-type=2`) and multipart listings (`?uploadId=`) are not.
pub fn is_object_read(method: &str, path: &str, query: &[(String, String)], has_body: bool) -> bool {
    let in_bucket = path
        .strip_prefix('/')
        .and_then(|rest| rest.split_once('/'))
        .is_some_and(|(bucket, key)| !bucket.is_empty() && !key.is_empty());
    method == "GET"
        && !has_body
        && in_bucket
        && query.iter().all(|(name, _)| OBJECT_READ_QUERY.contains(&name.as_str()) || name.starts_with("response-"))
}

/// Where a fresh connection to a node goes: `host:port` (the scheme's port unless one is given),
/// whether it is TLS, and the endpoint's own path prefix (usually empty).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SocketTarget {
    pub address: String,
    pub tls: bool,
    pub path_prefix: String,
}

fn default_region() -> String {
    "us-east-1".to_string()
}

fn default_max_key_bytes() -> usize {
    1024
}

/// Half of the 60 s that boto3, the aws CLI and rclone wait by default: the client hears 503 and
/// retries before its own timeout would give up on the gateway.
fn default_read_timeout_seconds() -> u32 {
    30
}

impl std::fmt::Debug for NodeConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("NodeConfig")
            .field("endpoint", &self.endpoint)
            .field("region", &self.region)
            .field("access_key_id", &self.access_key_id)
            .field("secret_access_key", &"<redacted>")
            .field("max_key_bytes", &self.max_key_bytes)
            .field("read_connections", &self.read_connections)
            .field("read_timeout_seconds", &self.read_timeout_seconds)
            .finish()
    }
}

impl NodeConfig {
    /// The Host header value of the endpoint (`host[:port]`).
    pub fn host(&self) -> &str {
        let rest = self.endpoint.split_once("://").map_or(self.endpoint.as_str(), |(_, r)| r);
        rest.split('/').next().unwrap_or(rest)
    }

    /// Refuse a client key whose backend key (`<bucket>/<key>`) the node cannot store, with the
    /// client's own limit in the message, instead of whatever the node would answer.
    pub fn check_key_fits(&self, bucket: &str, key: &str) -> S3Result<()> {
        let backend_len = object_backend_key(bucket, key).len();
        if backend_len <= self.max_key_bytes {
            return Ok(());
        }
        let limit = self.max_key_bytes.saturating_sub(bucket.len() + 1);
        Err(S3Error::with_message(
            S3ErrorCode::KeyTooLongError,
            format!("Your key is too long: keys in bucket {bucket} can be at most {limit} bytes on this storage node."),
        ))
    }

    /// How long `method` waits for the node's answer head, in milliseconds; None: unbounded.
    /// `small_whole_body`: the request's body is a small buffer, on the wire at once, so the node
    /// has all of it right away and owes an answer as promptly as for a read.
    pub fn answer_timeout_ms(&self, method: &str, small_whole_body: bool) -> Option<u32> {
        let bounded = (matches!(method, "GET" | "HEAD") || (method == "PUT" && small_whole_body))
            && self.read_timeout_seconds > 0;
        // A JavaScript timer takes at most 2^31 - 1 ms (a larger delay fires at once).
        bounded.then(|| self.read_timeout_seconds.saturating_mul(1000).min(i32::MAX as u32))
    }

    /// The endpoint without a trailing slash.
    pub fn base_url(&self) -> &str {
        self.endpoint.trim_end_matches('/')
    }

    /// Whether this request goes over a fresh connection (`ReadConnections::Fresh`): an object
    /// read, unless its `Range` asks for more than `FRESH_READ_MAX_BYTES` (`headers` are the
    /// request's, names in lower case).
    pub fn reads_fresh(
        &self,
        method: &str,
        path: &str,
        query: &[(String, String)],
        headers: &[(String, String)],
        has_body: bool,
    ) -> bool {
        let large_range = || {
            headers
                .iter()
                .filter(|(name, _)| name == "range")
                .filter_map(|(_, value)| parse_range(value)?.length_at_most())
                .any(|length| length > FRESH_READ_MAX_BYTES)
        };
        self.read_connections == ReadConnections::Fresh
            && is_object_read(method, path, query, has_body)
            && !large_range()
    }

    /// Where a fresh connection to this node goes. None for an endpoint that names no host.
    pub fn socket_target(&self) -> Option<SocketTarget> {
        let base = self.base_url();
        let (tls, rest) = if let Some(rest) = base.strip_prefix("https://") {
            (true, rest)
        } else {
            (false, base.strip_prefix("http://")?)
        };
        let (authority, path_prefix) = rest.find('/').map_or((rest, ""), |at| rest.split_at(at));
        // userinfo is not part of the address (nor sent: the node's keys sign the request).
        let host_port = authority.rsplit_once('@').map_or(authority, |(_, hp)| hp);
        let has_port = match host_port.rfind(':') {
            // "[::1]" has colons but no port; "[::1]:9000" and "host:9000" have one.
            Some(colon) => !host_port[colon..].contains(']'),
            None => false,
        };
        let host = if has_port { &host_port[..host_port.rfind(':')?] } else { host_port };
        if host.is_empty() || host == "[]" {
            return None;
        }
        let address =
            if has_port { host_port.to_string() } else { format!("{host_port}:{}", if tls { 443 } else { 80 }) };
        Some(SocketTarget { address, tls, path_prefix: path_prefix.to_string() })
    }
}

/// The operator's nodes by name, parsed from the `PORTICO_NODES` secret (a JSON object).
#[derive(Debug, Clone, Default, Deserialize)]
pub struct Nodes(BTreeMap<String, NodeConfig>);

impl Nodes {
    pub fn parse(json: &str) -> Result<Self, String> {
        let nodes: Nodes = serde_json::from_str(json).map_err(|e| format!("PORTICO_NODES is not valid JSON: {e}"))?;
        for (name, node) in &nodes.0 {
            if !(node.endpoint.starts_with("http://") || node.endpoint.starts_with("https://")) {
                return Err(format!("node {name}: endpoint must start with http:// or https://"));
            }
        }
        Ok(nodes)
    }

    pub fn get(&self, name: &str) -> Option<&NodeConfig> {
        self.0.get(name)
    }
}

/// A tenant: its node and the one backend bucket holding all of its buckets.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct Project {
    pub id: String,
    pub node: String,
    pub backend_bucket: String,
    /// Encrypted projects store ciphertext only (the stored object format); others pass through.
    #[serde(default)]
    pub encrypted: bool,
    pub created_at: i64,
}

/// KV key of a project's record.
pub fn project_kv_key(project_id: &str) -> String {
    format!("project/{project_id}")
}

/// KV key of the global bucket-name index: which project owns a bucket name. Bucket names are
/// global, as on S3, so that anonymous requests (CORS preflights) can find the bucket's record.
pub fn bucket_owner_kv_key(bucket: &str) -> String {
    format!("bucket/{bucket}")
}

/// Backend keys are `<bucket>/<key>`; bucket records sit under this reserved prefix, which no
/// client bucket can collide with because bucket names never start with '.'.
pub const RESERVED_PREFIX: &str = ".portico/";

/// The backend prefix holding every object of a client bucket.
pub fn bucket_prefix(bucket: &str) -> String {
    format!("{bucket}/")
}

/// The backend key of a client object.
pub fn object_backend_key(bucket: &str, key: &str) -> String {
    format!("{bucket}/{key}")
}

/// The backend key of a bucket's record (creation time, later CORS and website configuration).
pub fn bucket_record_key(bucket: &str) -> String {
    format!("{RESERVED_PREFIX}buckets/{bucket}")
}

/// The backend prefix under which bucket records are listed.
pub fn bucket_records_prefix() -> String {
    format!("{RESERVED_PREFIX}buckets/")
}

/// The backend key of a bucket's configuration (CORS), beside its record. The record itself is
/// written once, so that its modification time stays the bucket's creation time.
pub fn bucket_config_key(bucket: &str) -> String {
    format!("{RESERVED_PREFIX}bucket-config/{bucket}")
}

/// A bucket's configuration document (JSON): what PutBucketCors and friends set.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq, Eq)]
pub struct BucketConfig {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cors: Option<crate::s3::cors::CorsConfiguration>,
}

impl BucketConfig {
    pub fn is_empty(&self) -> bool {
        self.cors.is_none()
    }
}

/// What portico keeps about a bucket, stored as JSON in the bucket record.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct BucketRecord {
    pub created_at_ms: i64,
    #[serde(default)]
    pub region: Option<String>,
}

/// The request path for a backend key, path-style on the node. Slashes stay slashes (nodes such
/// as Garage decode the path before checking signatures), except the slash before a `.` or `..`
/// segment, which is sent as %2F so that no URL parser on the way collapses the segment.
pub fn node_object_path(backend_bucket: &str, backend_key: &str) -> String {
    let mut path = format!("/{}/", uri_encode(backend_bucket, false));
    for (i, segment) in backend_key.split('/').enumerate() {
        if i > 0 {
            path.push_str(if matches!(segment, "." | "..") { "%2F" } else { "/" });
        }
        path.push_str(&uri_encode(segment, false));
    }
    path
}

/// The path a node canonicalizes for SigV4: the sent path decoded and re-encoded with '/' kept,
/// which is what S3 implementations compute from a path carrying %2F.
pub fn node_signing_path(sent_path: &str) -> String {
    crate::http::uri_encode_bytes(&crate::http::percent_decode_bytes(sent_path), true)
}

/// The request path for the backend bucket itself.
pub fn node_bucket_path(backend_bucket: &str) -> String {
    format!("/{}", uri_encode(backend_bucket, false))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_nodes_and_hides_their_secrets() {
        let nodes = Nodes::parse(
            r#"{"local": {"endpoint": "http://127.0.0.1:3900/", "access_key_id": "GK1", "secret_access_key": "topsecret"}}"#,
        )
        .unwrap();
        let node = nodes.get("local").unwrap();
        assert_eq!(node.region, "us-east-1");
        assert_eq!(node.host(), "127.0.0.1:3900");
        assert_eq!(node.base_url(), "http://127.0.0.1:3900");
        assert!(!format!("{nodes:?}").contains("topsecret"));
        assert!(
            Nodes::parse(r#"{"x": {"endpoint": "ftp://h", "access_key_id": "a", "secret_access_key": "b"}}"#).is_err()
        );
        assert!(Nodes::parse("not json").is_err());
    }

    fn node(endpoint: &str, extra: &str) -> NodeConfig {
        let json =
            format!(r#"{{"n": {{"endpoint": "{endpoint}", "access_key_id": "a", "secret_access_key": "s"{extra}}}}}"#);
        Nodes::parse(&json).unwrap().0.remove("n").unwrap()
    }

    #[test]
    fn read_connections_default_to_pooled_and_only_name_known_modes() {
        assert_eq!(node("http://h", "").read_connections, ReadConnections::Pooled);
        assert_eq!(node("http://h", r#", "read_connections": "pooled""#).read_connections, ReadConnections::Pooled);
        let fresh = node("http://h", r#", "read_connections": "fresh""#);
        assert_eq!(fresh.read_connections, ReadConnections::Fresh);
        assert!(format!("{fresh:?}").contains("Fresh"));
        for bad in [r#""Fresh""#, r#""new""#, "true", "1"] {
            let json = format!(
                r#"{{"n": {{"endpoint": "http://h", "access_key_id": "a", "secret_access_key": "s", "read_connections": {bad}}}}}"#
            );
            assert!(Nodes::parse(&json).is_err(), "{bad}");
        }
    }

    #[test]
    fn reads_and_small_puts_wait_for_an_answer_for_a_bounded_time_and_other_writes_do_not() {
        let default = node("http://h", "");
        assert_eq!(default.read_timeout_seconds, 30);
        assert_eq!(default.answer_timeout_ms("GET", false), Some(30_000));
        assert_eq!(default.answer_timeout_ms("HEAD", false), Some(30_000));
        assert_eq!(default.answer_timeout_ms("PUT", true), Some(30_000));
        for write in ["PUT", "POST", "DELETE"] {
            assert_eq!(default.answer_timeout_ms(write, false), None, "{write}");
        }
        for write in ["POST", "DELETE"] {
            assert_eq!(default.answer_timeout_ms(write, true), None, "{write}");
        }
        assert_eq!(node("http://h", r#", "read_timeout_seconds": 2"#).answer_timeout_ms("GET", false), Some(2_000));
        assert_eq!(node("http://h", r#", "read_timeout_seconds": 2"#).answer_timeout_ms("PUT", true), Some(2_000));
        assert_eq!(node("http://h", r#", "read_timeout_seconds": 0"#).answer_timeout_ms("GET", false), None);
        assert_eq!(node("http://h", r#", "read_timeout_seconds": 0"#).answer_timeout_ms("PUT", true), None);
        assert_eq!(
            node("http://h", r#", "read_timeout_seconds": 4294967295"#).answer_timeout_ms("GET", false),
            Some(i32::MAX as u32)
        );
        for bad in ["-1", "1.5", r#""30""#] {
            let json = format!(
                r#"{{"n": {{"endpoint": "http://h", "access_key_id": "a", "secret_access_key": "s", "read_timeout_seconds": {bad}}}}}"#
            );
            assert!(Nodes::parse(&json).is_err(), "{bad}");
        }
    }

    #[test]
    fn only_object_reads_of_fresh_nodes_take_fresh_connections() {
        let q = |pairs: &[(&str, &str)]| pairs.iter().map(|(n, v)| (n.to_string(), v.to_string())).collect::<Vec<_>>();
        assert!(is_object_read("GET", "/dev/b/key", &[], false));
        assert!(is_object_read("GET", "/dev/b%2F..", &[], false));
        assert!(is_object_read("GET", "/dev/.portico/bucket-config/b", &[], false));
        assert!(is_object_read("GET", "/dev/b/k", &q(&[("partNumber", "2")]), false));
        assert!(is_object_read("GET", "/dev/b/k", &q(&[("response-content-type", "x/y")]), false));
        assert!(!is_object_read("HEAD", "/dev/b/k", &[], false));
        assert!(!is_object_read("PUT", "/dev/b/k", &[], true));
        assert!(!is_object_read("GET", "/dev/b/k", &[], true));
        assert!(!is_object_read("GET", "/dev", &q(&[("list-type", "2")]), false));
        assert!(!is_object_read("GET", "/dev/", &[], false));
        assert!(!is_object_read("GET", "/dev/b/k", &q(&[("uploadId", "u")]), false));
        assert!(!is_object_read("GET", "/dev/b/k", &q(&[("acl", "")]), false));
        assert!(!is_object_read("GET", "//k", &[], false));
        let fresh = node("http://h", r#", "read_connections": "fresh""#);
        assert!(fresh.reads_fresh("GET", "/dev/b/k", &[], &[], false));
        assert!(!fresh.reads_fresh("HEAD", "/dev/b/k", &[], &[], false));
        assert!(!node("http://h", "").reads_fresh("GET", "/dev/b/k", &[], &[], false));
    }

    #[test]
    fn reads_whose_range_asks_for_more_than_the_fresh_limit_use_fetch() {
        let fresh = node("http://h", r#", "read_connections": "fresh""#);
        let range = |value: String| vec![("range".to_string(), value)];
        let reads_fresh = |headers: &[(String, String)]| fresh.reads_fresh("GET", "/dev/b/k", &[], headers, false);
        let max = FRESH_READ_MAX_BYTES;
        assert!(reads_fresh(&range(format!("bytes=0-{}", max - 1))));
        assert!(!reads_fresh(&range(format!("bytes=0-{max}"))));
        assert!(reads_fresh(&range(format!("bytes=-{max}"))));
        assert!(!reads_fresh(&range(format!("bytes=-{}", max + 1))));
        assert!(!reads_fresh(&range(format!("bytes=7-{}", u64::MAX))));
        // Reaching the end, or not a range S3 honours: the size is learned from the answer.
        assert!(reads_fresh(&range("bytes=7-".to_string())));
        assert!(reads_fresh(&range("bytes=0-1,5-9999999".to_string())));
        assert!(reads_fresh(&[("if-none-match".to_string(), "\"e\"".to_string())]));
    }

    #[test]
    fn socket_targets_carry_the_schemes_port_unless_one_is_given() {
        let target = |endpoint: &str| node(endpoint, "").socket_target();
        let t = |address: &str, tls: bool, path_prefix: &str| {
            Some(SocketTarget { address: address.to_string(), tls, path_prefix: path_prefix.to_string() })
        };
        assert_eq!(target("http://127.0.0.1:3900"), t("127.0.0.1:3900", false, ""));
        assert_eq!(target("http://127.0.0.1:3900/"), t("127.0.0.1:3900", false, ""));
        assert_eq!(target("https://s3.example.net"), t("s3.example.net:443", true, ""));
        assert_eq!(target("http://s3.example.net"), t("s3.example.net:80", false, ""));
        assert_eq!(target("https://s3.example.net:8443/prefix/"), t("s3.example.net:8443", true, "/prefix"));
        assert_eq!(target("http://[::1]"), t("[::1]:80", false, ""));
        assert_eq!(target("http://[::1]:3900"), t("[::1]:3900", false, ""));
        assert_eq!(target("http://user@host:81"), t("host:81", false, ""));
        assert_eq!(target("http://"), None);
        assert_eq!(target("http://:80"), None);
    }

    #[test]
    fn keys_must_fit_the_nodes_limit_including_the_bucket() {
        let mut nodes = Nodes::parse(
            r#"{"g": {"endpoint": "http://h", "access_key_id": "a", "secret_access_key": "s", "max_key_bytes": 20}}"#,
        )
        .unwrap();
        let node = nodes.0.remove("g").unwrap();
        assert!(node.check_key_fits("photos", &"k".repeat(13)).is_ok());
        let err = node.check_key_fits("photos", &"k".repeat(14)).unwrap_err();
        assert_eq!(err.code, S3ErrorCode::KeyTooLongError);
        assert!(err.message.contains("at most 13 bytes"), "{}", err.message);
        let default =
            Nodes::parse(r#"{"d": {"endpoint": "http://h", "access_key_id": "a", "secret_access_key": "s"}}"#).unwrap();
        assert_eq!(default.get("d").unwrap().max_key_bytes, 1024);
    }

    #[test]
    fn object_paths_never_contain_dot_segments() {
        assert_eq!(node_object_path("dev", "photos/a b/c.jpg"), "/dev/photos/a%20b/c.jpg");
        assert_eq!(node_object_path("dev", "photos/a/../b"), "/dev/photos/a%2F../b");
        assert_eq!(node_object_path("dev", &object_backend_key("b", "..")), "/dev/b%2F..");
        assert_eq!(node_object_path("dev", &object_backend_key("b", "./x/.")), "/dev/b%2F./x%2F.");
        assert_eq!(node_object_path("dev", &object_backend_key("b", "//a//")), "/dev/b///a//");
        assert_eq!(node_object_path("dev", &object_backend_key("b", "...")), "/dev/b/...");
        assert_eq!(node_bucket_path("dev"), "/dev");
        for key in ["a/../b", "..", "./x/.", "a%2Fb", "€ +"] {
            let path = node_object_path("dev", &object_backend_key("b", key));
            assert!(path.split('/').all(|segment| segment != "." && segment != ".."), "{path}");
            assert_eq!(crate::http::percent_decode(&path), format!("/dev/b/{key}"));
        }
    }

    #[test]
    fn signing_path_is_the_decoded_path_reencoded_with_slashes() {
        assert_eq!(node_signing_path("/dev/photos/a%2F../b%20c"), "/dev/photos/a/../b%20c");
        assert_eq!(node_signing_path("/dev/a%FF"), "/dev/a%FF");
    }

    #[test]
    fn bucket_records_cannot_collide_with_objects() {
        assert_eq!(bucket_record_key("photos"), ".portico/buckets/photos");
        assert!(bucket_record_key("photos").starts_with(&bucket_records_prefix()));
        assert!(!object_backend_key("photos", "x").starts_with(RESERVED_PREFIX));
    }
}
