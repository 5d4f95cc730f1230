//! Access grants: serialized, versioned capabilities in the macaroon style.
//!
//! A grant names a project, carries a list of caveats (allowed operations, buckets, key prefixes,
//! validity window) and an HMAC chain over them, plus the content encryption key.
//!
//! - The chain's root key is `HMAC-SHA256(master_secret, "portico grant root v1\0" || project_id)`:
//!   only the gateway (holding the master secret) can mint, and a grant moved to another project
//!   no longer verifies.
//! - `tag_0 = HMAC-SHA256(root_key, grant_id || version)`, then for every caveat
//!   `tag_i = HMAC-SHA256(tag_{i-1}, caveat_i)` over the caveat's canonical encoding (its body in
//!   the layout below). The grant carries only the last tag.
//! - Anyone holding a grant can add a caveat offline ([`Grant::restrict`]): the new tag only needs
//!   the old one. Nobody can remove or edit a caveat, or reorder them, without the tag that came
//!   before it, which the grant no longer carries; and since every caveat must allow an action
//!   ([`Grant::authorize`] takes the intersection), adding one can only narrow a grant.
//! - The content key is the project's content key, except in a grant restricted to exactly one
//!   bucket, which carries only that bucket's key
//!   `HMAC-SHA256(project_content_key, "portico bucket key v1\0" || bucket)` ([`derive_bucket_key`]):
//!   handing out a one-bucket grant never hands out the keys of the other buckets. The content key
//!   cannot be authenticated by the chain (restricting replaces it offline, and the verifier does
//!   not know the project key), so a trailing checksum guards the whole serialization against
//!   corruption: a mistyped grant is refused instead of encrypting new objects with a wrong key.
//!   Editing the key on purpose gains nothing: it can only make the editor's own reads fail.
//!
//! # Serialization
//!
//! Text: `portico1` followed by the unpadded URL-safe base64 of the binary form, at most
//! [`MAX_GRANT_LEN`] characters. Binary (integers big-endian, `str` = `u16` byte length then UTF-8):
//!
//! ```text
//! version       u8        1
//! project_id    str       non-empty
//! grant_id      [u8; 16]
//! key_scope     u8        0 = project key, 1 = bucket key
//! bucket        str       only when key_scope = 1; non-empty
//! content_key   [u8; 32]
//! caveat_count  u16
//! caveats       caveat_count x (u16 body length, body)
//! tag           [u8; 32]
//! checksum      [u8; 4]   first 4 bytes of SHA-256(every byte before it)
//!
//! caveat body:
//! present       u8        bit 0 operations, bit 1 not_before, bit 2 not_after; other bits 0
//! operations    u8        if present: bit 0 read, bit 1 write, bit 2 list, bit 3 delete; other bits 0
//! not_before    i64       if present, unix seconds (inclusive)
//! not_after     i64       if present, unix seconds (exclusive)
//! bucket_count  u16, then bucket_count x str (non-empty)
//! prefix_count  u16, then prefix_count x str
//! ```
//!
//! Parsing is strict: unknown bits, unknown scopes, truncation, trailing bytes, invalid UTF-8 and a
//! bucket key whose bucket no one-bucket caveat names are all errors, so every grant has exactly
//! one serialization.

use std::fmt;

use hmac::{Hmac, KeyInit, Mac};
use serde_json::{json, Value};
use sha2::{Digest, Sha256};

use crate::auth::secret::{constant_time_eq, wipe};
use crate::base64;
use crate::http::hex;
use crate::s3::error::S3Error;
use crate::s3::operation::Operation;

/// The binary layout version this code writes and reads.
pub const GRANT_VERSION: u8 = 1;
/// The text form's prefix: names the format and its version for humans and tools.
pub const GRANT_PREFIX: &str = "portico1";
/// Longest accepted text form, in bytes.
pub const MAX_GRANT_LEN: usize = 8 * 1024;

const ROOT_KEY_LABEL: &[u8] = b"portico grant root v1\0";
const BUCKET_KEY_LABEL: &[u8] = b"portico bucket key v1\0";
const CHECKSUM_LEN: usize = 4;

const SCOPE_PROJECT: u8 = 0;
const SCOPE_BUCKET: u8 = 1;

const HAS_OPERATIONS: u8 = 1;
const HAS_NOT_BEFORE: u8 = 2;
const HAS_NOT_AFTER: u8 = 4;

const OP_READ: u8 = 1;
const OP_WRITE: u8 = 2;
const OP_LIST: u8 = 4;
const OP_DELETE: u8 = 8;

/// `bit` when `set`, else 0.
fn flag(set: bool, bit: u8) -> u8 {
    if set {
        bit
    } else {
        0
    }
}

/// One kind of access a request needs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Permission {
    /// Read objects and bucket metadata (GET, HEAD, location).
    Read,
    /// Create objects and buckets, upload parts.
    Write,
    /// List buckets, objects, uploads and parts.
    List,
    /// Delete objects and buckets.
    Delete,
}

/// The set of permissions a caveat allows.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Permissions {
    pub read: bool,
    pub write: bool,
    pub list: bool,
    pub delete: bool,
}

impl Permissions {
    pub const ALL: Permissions = Permissions { read: true, write: true, list: true, delete: true };
    pub const NONE: Permissions = Permissions { read: false, write: false, list: false, delete: false };
    /// Read and list: the usual share.
    pub const READ_ONLY: Permissions = Permissions { read: true, write: false, list: true, delete: false };

    pub fn allows(self, permission: Permission) -> bool {
        match permission {
            Permission::Read => self.read,
            Permission::Write => self.write,
            Permission::List => self.list,
            Permission::Delete => self.delete,
        }
    }

    fn to_bits(self) -> u8 {
        flag(self.read, OP_READ) | flag(self.write, OP_WRITE) | flag(self.list, OP_LIST) | flag(self.delete, OP_DELETE)
    }

    fn from_bits(bits: u8) -> Option<Permissions> {
        (bits & !(OP_READ | OP_WRITE | OP_LIST | OP_DELETE) == 0).then_some(Permissions {
            read: bits & OP_READ != 0,
            write: bits & OP_WRITE != 0,
            list: bits & OP_LIST != 0,
            delete: bits & OP_DELETE != 0,
        })
    }
}

/// One restriction. Every field narrows; an empty or absent field does not restrict.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Caveat {
    /// Allowed operations; `None` = any.
    pub operations: Option<Permissions>,
    /// Allowed buckets; empty = any.
    pub buckets: Vec<String>,
    /// Allowed key prefixes (within the allowed buckets); empty = any.
    pub prefixes: Vec<String>,
    /// Valid from this unix second on (inclusive).
    pub not_before: Option<i64>,
    /// Valid until this unix second (exclusive).
    pub not_after: Option<i64>,
}

/// What a request does, for [`Grant::authorize`].
///
/// `bucket` is `None` only for ListBuckets. `key_or_prefix` is the object key, or for
/// [`Permission::List`] the listing prefix (`None` = the empty prefix); `None` with another
/// permission means the bucket itself (HeadBucket, CreateBucket, DeleteBucket).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Action<'a> {
    pub op: Permission,
    pub bucket: Option<&'a str>,
    pub key_or_prefix: Option<&'a str>,
}

impl<'a> Action<'a> {
    /// An operation on one object.
    pub fn object(op: Permission, bucket: &'a str, key: &'a str) -> Self {
        Action { op, bucket: Some(bucket), key_or_prefix: Some(key) }
    }

    /// An operation on a bucket itself.
    pub fn bucket(op: Permission, bucket: &'a str) -> Self {
        Action { op, bucket: Some(bucket), key_or_prefix: None }
    }

    /// Listing a bucket's objects (or uploads, or an upload's parts) under `prefix`.
    pub fn list(bucket: &'a str, prefix: &'a str) -> Self {
        Action { op: Permission::List, bucket: Some(bucket), key_or_prefix: Some(prefix) }
    }

    /// ListBuckets.
    pub fn list_buckets() -> Self {
        Action { op: Permission::List, bucket: None, key_or_prefix: None }
    }
}

/// Why a grant refuses an action.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Denied {
    /// A caveat does not allow this permission.
    Operation(Permission),
    /// A caveat does not allow this bucket.
    Bucket,
    /// A caveat does not allow this key or listing prefix.
    Prefix,
    /// A caveat's validity starts later.
    NotYetValid,
    /// A caveat's validity has ended.
    Expired,
}

impl fmt::Display for Denied {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Denied::Operation(p) => write!(f, "the access grant does not allow {} operations", permission_name(*p)),
            Denied::Bucket => f.write_str("the access grant does not allow this bucket"),
            Denied::Prefix => f.write_str("the access grant does not allow this key or prefix"),
            Denied::NotYetValid => f.write_str("the access grant is not valid yet"),
            Denied::Expired => f.write_str("the access grant has expired"),
        }
    }
}

impl std::error::Error for Denied {}

impl From<Denied> for S3Error {
    fn from(denied: Denied) -> Self {
        crate::s3_error!(AccessDenied, "Access Denied: {denied}")
    }
}

fn permission_name(p: Permission) -> &'static str {
    match p {
        Permission::Read => "read",
        Permission::Write => "write",
        Permission::List => "list",
        Permission::Delete => "delete",
    }
}

/// Why a grant cannot be parsed, built or trusted.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum GrantError {
    /// The text does not start with [`GRANT_PREFIX`].
    NotAGrant,
    /// The text after the prefix is not URL-safe base64.
    Encoding,
    /// Longer than [`MAX_GRANT_LEN`] serialized, or a field longer than its length prefix allows.
    TooLarge,
    /// A binary version this code does not know.
    UnsupportedVersion(u8),
    /// The binary form ends inside a field.
    Truncated,
    /// Bytes after the checksum.
    TrailingBytes,
    /// The checksum does not match: the text was corrupted.
    Corrupted,
    /// A field breaks the layout's rules.
    Malformed(&'static str),
    /// The HMAC chain does not verify: not minted by this gateway for this project, or edited.
    InvalidTag,
}

impl fmt::Display for GrantError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            GrantError::NotAGrant => write!(f, "not an access grant (expected the {GRANT_PREFIX} prefix)"),
            GrantError::Encoding => f.write_str("access grant is not valid base64url"),
            GrantError::TooLarge => write!(f, "access grant is larger than {MAX_GRANT_LEN} bytes"),
            GrantError::UnsupportedVersion(v) => write!(f, "unsupported access grant version {v}"),
            GrantError::Truncated => f.write_str("access grant is truncated"),
            GrantError::TrailingBytes => f.write_str("access grant has trailing bytes"),
            GrantError::Corrupted => f.write_str("access grant checksum does not match"),
            GrantError::Malformed(what) => write!(f, "malformed access grant: {what}"),
            GrantError::InvalidTag => f.write_str("access grant signature does not verify"),
        }
    }
}

impl std::error::Error for GrantError {}

/// A bucket's content key. `Debug` is redacted, bytes are wiped on drop (best effort, see
/// [`wipe`]).
pub struct BucketKey([u8; 32]);

impl BucketKey {
    pub fn as_bytes(&self) -> &[u8; 32] {
        &self.0
    }
}

impl Clone for BucketKey {
    fn clone(&self) -> Self {
        BucketKey(self.0)
    }
}

impl fmt::Debug for BucketKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("BucketKey(<redacted>)")
    }
}

impl Drop for BucketKey {
    fn drop(&mut self) {
        wipe(&mut self.0);
    }
}

/// The content key a grant carries: the project's (root) key, or one bucket's derived key.
/// `Debug` shows the scope only; key bytes are wiped on drop (best effort).
#[derive(Clone)]
pub enum ContentKey {
    Project([u8; 32]),
    Bucket { bucket: String, key: [u8; 32] },
}

impl ContentKey {
    /// The bucket a bucket key belongs to; `None` for the project key.
    pub fn scope_bucket(&self) -> Option<&str> {
        match self {
            ContentKey::Project(_) => None,
            ContentKey::Bucket { bucket, .. } => Some(bucket),
        }
    }

    /// The content key of `bucket`: derived from the project key, or the carried bucket key if it
    /// is that bucket's; `None` for any other bucket.
    pub fn bucket_key(&self, bucket: &str) -> Option<BucketKey> {
        match self {
            ContentKey::Project(project_key) => Some(derive_bucket_key(project_key, bucket)),
            ContentKey::Bucket { bucket: own, key } => (own == bucket).then(|| BucketKey(*key)),
        }
    }

    fn key_bytes(&self) -> &[u8; 32] {
        match self {
            ContentKey::Project(key) | ContentKey::Bucket { key, .. } => key,
        }
    }
}

impl fmt::Debug for ContentKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ContentKey::Project(_) => f.write_str("ContentKey::Project(<redacted>)"),
            ContentKey::Bucket { bucket, .. } => {
                write!(f, "ContentKey::Bucket {{ bucket: {bucket:?}, key: <redacted> }}")
            }
        }
    }
}

impl Drop for ContentKey {
    fn drop(&mut self) {
        match self {
            ContentKey::Project(key) | ContentKey::Bucket { key, .. } => wipe(key),
        }
    }
}

/// An access grant. Build with [`Grant::mint`] (gateway only) or [`Grant::restrict`] (anyone),
/// read with [`Grant::parse`], check with [`Grant::verify`] before trusting its caveats.
///
/// The serialized grant is a bearer credential (it decrypts the project's data), so there is no
/// `Display` and `Debug` hides the tag and the content key; [`Grant::to_string`] serializes on
/// purpose.
#[derive(Clone)]
pub struct Grant {
    pub version: u8,
    pub project_id: String,
    pub grant_id: [u8; 16],
    pub caveats: Vec<Caveat>,
    pub tag: [u8; 32],
    pub content_key: ContentKey,
}

impl fmt::Debug for Grant {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Grant")
            .field("version", &self.version)
            .field("project_id", &self.project_id)
            .field("grant_id", &hex(&self.grant_id))
            .field("caveats", &self.caveats)
            .field("tag", &"<redacted>")
            .field("content_key", &self.content_key)
            .finish()
    }
}

impl Drop for Grant {
    fn drop(&mut self) {
        wipe(&mut self.tag);
    }
}

fn hmac_sha256(key: &[u8], parts: &[&[u8]]) -> [u8; 32] {
    let mut mac = <Hmac<Sha256>>::new_from_slice(key).expect("HMAC takes any key length");
    for part in parts {
        mac.update(part);
    }
    mac.finalize().into_bytes().into()
}

/// The root of a project's grant chains: `HMAC-SHA256(master_secret, "portico grant root v1\0" ||
/// project_id)`. Secret: whoever has it can mint grants for the project.
pub fn root_key(master_secret: &[u8], project_id: &str) -> [u8; 32] {
    hmac_sha256(master_secret, &[ROOT_KEY_LABEL, project_id.as_bytes()])
}

/// A bucket's content key: `HMAC-SHA256(project_content_key, "portico bucket key v1\0" || bucket)`.
pub fn derive_bucket_key(project_content_key: &[u8; 32], bucket: &str) -> BucketKey {
    BucketKey(hmac_sha256(project_content_key, &[BUCKET_KEY_LABEL, bucket.as_bytes()]))
}

/// The first tag of a chain.
fn initial_tag(master_secret: &[u8], project_id: &str, grant_id: &[u8; 16], version: u8) -> [u8; 32] {
    let mut root = root_key(master_secret, project_id);
    let tag = hmac_sha256(&root, &[grant_id, &[version]]);
    wipe(&mut root);
    tag
}

impl Caveat {
    /// Whether this caveat allows `action` at `now`.
    pub fn check(&self, action: &Action<'_>, now: i64) -> Result<(), Denied> {
        if let Some(operations) = self.operations {
            if !operations.allows(action.op) {
                return Err(Denied::Operation(action.op));
            }
        }
        if self.not_before.is_some_and(|not_before| now < not_before) {
            return Err(Denied::NotYetValid);
        }
        if self.not_after.is_some_and(|not_after| now >= not_after) {
            return Err(Denied::Expired);
        }
        let Some(bucket) = action.bucket else {
            // Only ListBuckets addresses no bucket; its answer is filtered by `bucket_visible`.
            return match action.op {
                Permission::List => Ok(()),
                _ if self.buckets.is_empty() && self.prefixes.is_empty() => Ok(()),
                _ => Err(Denied::Bucket),
            };
        };
        if !self.buckets.is_empty() && !self.buckets.iter().any(|allowed| allowed == bucket) {
            return Err(Denied::Bucket);
        }
        if self.prefixes.is_empty() {
            return Ok(());
        }
        let key_or_prefix = match (action.op, action.key_or_prefix) {
            (_, Some(key_or_prefix)) => key_or_prefix,
            // Listing the whole bucket.
            (Permission::List, None) => "",
            // Reading the bucket itself (HeadBucket, location) reveals no key.
            (Permission::Read, None) => return Ok(()),
            // Creating or deleting the bucket reaches beyond the allowed prefixes.
            (Permission::Write | Permission::Delete, None) => return Err(Denied::Prefix),
        };
        if self.prefixes.iter().any(|prefix| key_or_prefix.starts_with(prefix.as_str())) {
            Ok(())
        } else {
            Err(Denied::Prefix)
        }
    }

    /// The canonical encoding (the caveat body of the binary layout): the HMAC chain's input.
    fn encode(&self) -> Result<Vec<u8>, GrantError> {
        let mut out = Vec::with_capacity(32);
        let present = flag(self.operations.is_some(), HAS_OPERATIONS)
            | flag(self.not_before.is_some(), HAS_NOT_BEFORE)
            | flag(self.not_after.is_some(), HAS_NOT_AFTER);
        out.push(present);
        if let Some(operations) = self.operations {
            out.push(operations.to_bits());
        }
        for time in [self.not_before, self.not_after].into_iter().flatten() {
            out.extend_from_slice(&time.to_be_bytes());
        }
        if self.buckets.iter().any(String::is_empty) {
            return Err(GrantError::Malformed("empty bucket name in a caveat"));
        }
        put_str_list(&mut out, &self.buckets)?;
        put_str_list(&mut out, &self.prefixes)?;
        Ok(out)
    }

    fn decode(body: &[u8]) -> Result<Caveat, GrantError> {
        let mut r = Reader::new(body);
        let present = r.u8()?;
        if present & !(HAS_OPERATIONS | HAS_NOT_BEFORE | HAS_NOT_AFTER) != 0 {
            return Err(GrantError::Malformed("unknown caveat field"));
        }
        let operations = if present & HAS_OPERATIONS != 0 {
            Some(Permissions::from_bits(r.u8()?).ok_or(GrantError::Malformed("unknown operation"))?)
        } else {
            None
        };
        let not_before = if present & HAS_NOT_BEFORE != 0 { Some(r.i64()?) } else { None };
        let not_after = if present & HAS_NOT_AFTER != 0 { Some(r.i64()?) } else { None };
        let buckets = r.str_list()?;
        if buckets.iter().any(String::is_empty) {
            return Err(GrantError::Malformed("empty bucket name in a caveat"));
        }
        let prefixes = r.str_list()?;
        if !r.is_empty() {
            return Err(GrantError::Malformed("trailing bytes in a caveat"));
        }
        Ok(Caveat { operations, buckets, prefixes, not_before, not_after })
    }
}

fn put_u16_len(out: &mut Vec<u8>, len: usize) -> Result<(), GrantError> {
    let len = u16::try_from(len).map_err(|_| GrantError::TooLarge)?;
    out.extend_from_slice(&len.to_be_bytes());
    Ok(())
}

fn put_str(out: &mut Vec<u8>, s: &str) -> Result<(), GrantError> {
    put_u16_len(out, s.len())?;
    out.extend_from_slice(s.as_bytes());
    Ok(())
}

fn put_str_list(out: &mut Vec<u8>, list: &[String]) -> Result<(), GrantError> {
    put_u16_len(out, list.len())?;
    list.iter().try_for_each(|s| put_str(out, s))
}

/// A cursor over the binary form; every read fails with `Truncated` past the end.
struct Reader<'a> {
    bytes: &'a [u8],
}

impl<'a> Reader<'a> {
    fn new(bytes: &'a [u8]) -> Self {
        Reader { bytes }
    }

    fn is_empty(&self) -> bool {
        self.bytes.is_empty()
    }

    fn take(&mut self, n: usize) -> Result<&'a [u8], GrantError> {
        if self.bytes.len() < n {
            return Err(GrantError::Truncated);
        }
        let (head, rest) = self.bytes.split_at(n);
        self.bytes = rest;
        Ok(head)
    }

    fn array<const N: usize>(&mut self) -> Result<[u8; N], GrantError> {
        Ok(self.take(N)?.try_into().expect("took N bytes"))
    }

    fn u8(&mut self) -> Result<u8, GrantError> {
        Ok(self.take(1)?[0])
    }

    fn u16(&mut self) -> Result<u16, GrantError> {
        Ok(u16::from_be_bytes(self.array()?))
    }

    fn i64(&mut self) -> Result<i64, GrantError> {
        Ok(i64::from_be_bytes(self.array()?))
    }

    fn str(&mut self) -> Result<String, GrantError> {
        let len = self.u16()? as usize;
        let bytes = self.take(len)?;
        String::from_utf8(bytes.to_vec()).map_err(|_| GrantError::Malformed("invalid UTF-8"))
    }

    fn str_list(&mut self) -> Result<Vec<String>, GrantError> {
        let count = self.u16()?;
        (0..count).map(|_| self.str()).collect()
    }
}

/// Length of the text form of `binary_len` bytes of binary form.
fn text_len(binary_len: usize) -> usize {
    GRANT_PREFIX.len() + (binary_len * 4).div_ceil(3)
}

impl Grant {
    /// A new root grant for `project_id`: no caveats, the project's content key. `grant_id` must be
    /// fresh randomness. Gateway only: it needs the master secret.
    pub fn mint(
        master_secret: &[u8],
        project_id: &str,
        grant_id: [u8; 16],
        project_content_key: [u8; 32],
    ) -> Result<Grant, GrantError> {
        let grant = Grant {
            version: GRANT_VERSION,
            project_id: project_id.to_string(),
            grant_id,
            caveats: Vec::new(),
            tag: initial_tag(master_secret, project_id, &grant_id, GRANT_VERSION),
            content_key: ContentKey::Project(project_content_key),
        };
        grant.check_structure()?;
        wipe(&mut grant.encode()?);
        Ok(grant)
    }

    /// This grant with one more caveat: works offline, without the master secret, and can only
    /// narrow. A caveat naming exactly one bucket makes the new grant carry that bucket's derived
    /// key instead of the project key. Fails only if the result would not serialize (an empty
    /// bucket name, or larger than [`MAX_GRANT_LEN`]).
    pub fn restrict(&self, caveat: Caveat) -> Result<Grant, GrantError> {
        let encoded = caveat.encode()?;
        let mut restricted = self.clone();
        restricted.tag = hmac_sha256(&self.tag, &[&encoded]);
        if let (ContentKey::Project(project_key), [bucket]) = (&self.content_key, caveat.buckets.as_slice()) {
            let bucket_key = derive_bucket_key(project_key, bucket);
            restricted.content_key = ContentKey::Bucket { bucket: bucket.clone(), key: *bucket_key.as_bytes() };
        }
        restricted.caveats.push(caveat);
        wipe(&mut restricted.encode()?);
        Ok(restricted)
    }

    /// Recompute the HMAC chain from the master secret and compare it with the carried tag in
    /// constant time. Any edit of the version, project id, grant id or caveats (removal, change,
    /// reordering) fails with `InvalidTag`.
    pub fn verify(&self, master_secret: &[u8]) -> Result<(), GrantError> {
        if self.version != GRANT_VERSION {
            return Err(GrantError::UnsupportedVersion(self.version));
        }
        self.check_structure()?;
        let mut tag = initial_tag(master_secret, &self.project_id, &self.grant_id, self.version);
        for caveat in &self.caveats {
            let next = hmac_sha256(&tag, &[&caveat.encode()?]);
            wipe(&mut tag);
            tag = next;
        }
        let matches = constant_time_eq(&tag, &self.tag);
        wipe(&mut tag);
        if matches {
            Ok(())
        } else {
            Err(GrantError::InvalidTag)
        }
    }

    /// Whether every caveat allows `action` at `now` (unix seconds). The caveats are trusted as
    /// they are: [`Grant::verify`] the grant first.
    pub fn authorize(&self, action: &Action<'_>, now: i64) -> Result<(), Denied> {
        self.caveats.iter().try_for_each(|caveat| caveat.check(action, now))
    }

    /// The buckets ListBuckets may show: `None` when no caveat restricts buckets, else those every
    /// bucket-restricting caveat names (in the first such caveat's order).
    pub fn visible_buckets(&self) -> Option<Vec<String>> {
        let mut restricting = self.caveats.iter().filter(|caveat| !caveat.buckets.is_empty());
        let first = restricting.next()?;
        let mut visible: Vec<String> = Vec::with_capacity(first.buckets.len());
        for bucket in &first.buckets {
            if !visible.contains(bucket) {
                visible.push(bucket.clone());
            }
        }
        for caveat in restricting {
            visible.retain(|bucket| caveat.buckets.contains(bucket));
        }
        Some(visible)
    }

    /// Whether ListBuckets may show `bucket`.
    pub fn bucket_visible(&self, bucket: &str) -> bool {
        self.caveats.iter().all(|caveat| caveat.buckets.is_empty() || caveat.buckets.iter().any(|b| b == bucket))
    }

    /// The content key of `bucket`, if this grant carries it (see [`ContentKey::bucket_key`]).
    pub fn bucket_key(&self, bucket: &str) -> Option<BucketKey> {
        self.content_key.bucket_key(bucket)
    }

    /// Parse the text form, strictly (see the module documentation). Does not verify the chain.
    pub fn parse(text: &str) -> Result<Grant, GrantError> {
        if text.len() > MAX_GRANT_LEN {
            return Err(GrantError::TooLarge);
        }
        let encoded = text.strip_prefix(GRANT_PREFIX).ok_or(GrantError::NotAGrant)?;
        // Written unpadded; refusing padding keeps one text form per grant.
        if encoded.contains('=') {
            return Err(GrantError::Encoding);
        }
        let mut binary = base64::decode_url_safe(encoded).map_err(|_| GrantError::Encoding)?;
        let grant = Grant::decode(&binary);
        wipe(&mut binary);
        grant
    }

    fn decode(binary: &[u8]) -> Result<Grant, GrantError> {
        let mut r = Reader::new(binary);
        let version = r.u8()?;
        if version != GRANT_VERSION {
            return Err(GrantError::UnsupportedVersion(version));
        }
        let project_id = r.str()?;
        let grant_id = r.array()?;
        let scope = r.u8()?;
        let scope_bucket = match scope {
            SCOPE_PROJECT => None,
            SCOPE_BUCKET => Some(r.str()?),
            _ => return Err(GrantError::Malformed("unknown key scope")),
        };
        let key: [u8; 32] = r.array()?;
        let content_key = match scope_bucket {
            None => ContentKey::Project(key),
            Some(bucket) => ContentKey::Bucket { bucket, key },
        };
        let caveat_count = r.u16()?;
        let caveats = (0..caveat_count)
            .map(|_| {
                let len = r.u16()? as usize;
                Caveat::decode(r.take(len)?)
            })
            .collect::<Result<Vec<_>, _>>()?;
        let tag = r.array()?;
        let checked_len = binary.len() - r.bytes.len();
        let checksum: [u8; CHECKSUM_LEN] = r.array()?;
        if !r.is_empty() {
            return Err(GrantError::TrailingBytes);
        }
        if Sha256::digest(&binary[..checked_len])[..CHECKSUM_LEN] != checksum {
            return Err(GrantError::Corrupted);
        }
        let grant = Grant { version, project_id, grant_id, caveats, tag, content_key };
        grant.check_structure()?;
        Ok(grant)
    }

    /// The rules the layout cannot express by itself.
    fn check_structure(&self) -> Result<(), GrantError> {
        if self.project_id.is_empty() {
            return Err(GrantError::Malformed("empty project id"));
        }
        if let ContentKey::Bucket { bucket, .. } = &self.content_key {
            if bucket.is_empty() {
                return Err(GrantError::Malformed("empty bucket name in the key scope"));
            }
            // A bucket key belongs in a grant restricted to that one bucket.
            if !self.caveats.iter().any(|caveat| caveat.buckets.len() == 1 && &caveat.buckets[0] == bucket) {
                return Err(GrantError::Malformed("bucket key without a caveat restricting to its bucket"));
            }
        }
        Ok(())
    }

    /// The binary form, checksum included; `TooLarge` past [`MAX_GRANT_LEN`] as text.
    fn encode(&self) -> Result<Vec<u8>, GrantError> {
        let mut out = Vec::with_capacity(256);
        out.push(self.version);
        put_str(&mut out, &self.project_id)?;
        out.extend_from_slice(&self.grant_id);
        match &self.content_key {
            ContentKey::Project(_) => out.push(SCOPE_PROJECT),
            ContentKey::Bucket { bucket, .. } => {
                out.push(SCOPE_BUCKET);
                put_str(&mut out, bucket)?;
            }
        }
        out.extend_from_slice(self.content_key.key_bytes());
        put_u16_len(&mut out, self.caveats.len())?;
        for caveat in &self.caveats {
            let body = caveat.encode()?;
            put_u16_len(&mut out, body.len())?;
            out.extend_from_slice(&body);
        }
        out.extend_from_slice(&self.tag);
        let checksum = Sha256::digest(&out);
        out.extend_from_slice(&checksum[..CHECKSUM_LEN]);
        if text_len(out.len()) > MAX_GRANT_LEN {
            wipe(&mut out);
            return Err(GrantError::TooLarge);
        }
        Ok(out)
    }

    /// The text form, `portico1...`. This is the credential itself: hand it only to its holder.
    ///
    /// A grant built by [`Grant::mint`], [`Grant::restrict`] or [`Grant::parse`] always
    /// serializes; one whose public fields were edited past the layout's limits serializes as the
    /// empty string, which no parser accepts.
    #[allow(clippy::inherent_to_string)] // deliberately not `Display`: `{grant}` must not end up in a log.
    pub fn to_string(&self) -> String {
        match self.encode() {
            Ok(mut binary) => {
                let text = format!("{GRANT_PREFIX}{}", base64::encode_url_safe(&binary));
                wipe(&mut binary);
                text
            }
            Err(_) => String::new(),
        }
    }

    /// What the grant allows, for people and tools: project, grant id, key scope and caveats.
    /// Never the key, nor the tag.
    pub fn inspect(&self) -> Value {
        let key_scope = match &self.content_key {
            ContentKey::Project(_) => json!({ "type": "project" }),
            ContentKey::Bucket { bucket, .. } => json!({ "type": "bucket", "bucket": bucket }),
        };
        let caveats: Vec<Value> = self
            .caveats
            .iter()
            .map(|caveat| {
                json!({
                    "operations": caveat.operations.map(|ops| json!({
                        "read": ops.read, "write": ops.write, "list": ops.list, "delete": ops.delete,
                    })),
                    "buckets": caveat.buckets,
                    "prefixes": caveat.prefixes,
                    "not_before": caveat.not_before,
                    "not_after": caveat.not_after,
                })
            })
            .collect();
        json!({
            "version": self.version,
            "project": self.project_id,
            "grant_id": hex(&self.grant_id),
            "key_scope": key_scope,
            "caveats": caveats,
        })
    }
}

/// The permission an operation needs on its target (the destination, for copies). Bucket-level
/// operations are checked with [`Action::bucket`], listings with [`Action::list`] and the request
/// prefix, object operations with [`Action::object`]. DeleteObjects needs `Delete` on every key it
/// names, which the caller checks key by key once the body is parsed. Sub-resources portico does
/// not serve ask for `Write`, the safe side when their method is unknown here.
pub fn required_permission(op: Operation) -> Permission {
    use Operation::*;
    match op {
        ListBuckets | ListObjectsV1 | ListObjectsV2 | ListMultipartUploads | ListParts => Permission::List,
        HeadBucket | GetBucketLocation | GetBucketVersioning | GetBucketCors | GetObject | HeadObject => {
            Permission::Read
        }
        CreateBucket
        // Bucket configuration is a write, as S3's s3:PutBucketCORS covers deleting it.
        | PutBucketCors
        | DeleteBucketCors
        | PutObject
        | CopyObject
        | UploadPart
        | UploadPartCopy
        | CreateMultipartUpload
        | CompleteMultipartUpload
        | AbortMultipartUpload
        | PostObject => Permission::Write,
        DeleteBucket | DeleteObject | DeleteObjects => Permission::Delete,
        UnsupportedSubresource(_) => Permission::Write,
    }
}

/// The permission an operation needs on its source object (`x-amz-copy-source`), if it has one:
/// `Read` for CopyObject and UploadPartCopy.
pub fn required_source_permission(op: Operation) -> Option<Permission> {
    match op {
        Operation::CopyObject | Operation::UploadPartCopy => Some(Permission::Read),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const MASTER: &[u8] = b"portico test master secret, 32+ bytes long";
    const PROJECT_KEY: [u8; 32] = [0x5a; 32];
    const GRANT_ID: [u8; 16] = [7; 16];
    const NOW: i64 = 1_700_000_000;

    fn root() -> Grant {
        Grant::mint(MASTER, "project-1", GRANT_ID, PROJECT_KEY).unwrap()
    }

    fn caveat() -> Caveat {
        Caveat::default()
    }

    fn strings(list: &[&str]) -> Vec<String> {
        list.iter().map(|s| s.to_string()).collect()
    }

    /// A grant with every kind of caveat field, and a bucket key.
    fn restricted() -> Grant {
        root()
            .restrict(Caveat { operations: Some(Permissions::READ_ONLY), ..caveat() })
            .unwrap()
            .restrict(Caveat { buckets: strings(&["photos"]), prefixes: strings(&["2024/", "shared/"]), ..caveat() })
            .unwrap()
            .restrict(Caveat { not_before: Some(NOW - 10), not_after: Some(NOW + 3600), ..caveat() })
            .unwrap()
    }

    /// The binary form of a text grant.
    fn binary(text: &str) -> Vec<u8> {
        base64::decode_url_safe(text.strip_prefix(GRANT_PREFIX).unwrap()).unwrap()
    }

    /// The text form of binary bytes, with the checksum recomputed over all but the last 4 bytes.
    fn text_with_checksum(mut bytes: Vec<u8>) -> String {
        let len = bytes.len() - CHECKSUM_LEN;
        let checksum = Sha256::digest(&bytes[..len]);
        bytes[len..].copy_from_slice(&checksum[..CHECKSUM_LEN]);
        format!("{GRANT_PREFIX}{}", base64::encode_url_safe(&bytes))
    }

    fn contains(haystack: &[u8], needle: &[u8]) -> bool {
        haystack.windows(needle.len()).any(|window| window == needle)
    }

    #[test]
    fn minted_grants_verify_and_round_trip() {
        for grant in [root(), restricted()] {
            grant.verify(MASTER).unwrap();
            let text = grant.to_string();
            assert!(text.starts_with("portico1"));
            assert!(text[GRANT_PREFIX.len()..].bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_'));
            let parsed = Grant::parse(&text).unwrap();
            parsed.verify(MASTER).unwrap();
            assert_eq!(parsed.to_string(), text);
            assert_eq!(parsed.project_id, grant.project_id);
            assert_eq!(parsed.grant_id, grant.grant_id);
            assert_eq!(parsed.caveats, grant.caveats);
            assert!(constant_time_eq(&parsed.tag, &grant.tag));
            assert!(constant_time_eq(parsed.content_key.key_bytes(), grant.content_key.key_bytes()));
            assert_eq!(parsed.content_key.scope_bucket(), grant.content_key.scope_bucket());
        }
    }

    #[test]
    fn another_master_secret_or_grant_id_gives_another_chain() {
        assert_eq!(root().verify(b"another master secret"), Err(GrantError::InvalidTag));
        let other = Grant::mint(MASTER, "project-1", [8; 16], PROJECT_KEY).unwrap();
        assert!(!constant_time_eq(&other.tag, &root().tag));
    }

    #[test]
    fn restrict_narrows() {
        let grant = root();
        let photo = Action::object(Permission::Read, "photos", "2024/a.jpg");
        let upload = Action::object(Permission::Write, "photos", "2024/b.jpg");
        assert_eq!(grant.authorize(&photo, NOW), Ok(()));
        assert_eq!(grant.authorize(&upload, NOW), Ok(()));
        let read_only = grant.restrict(Caveat { operations: Some(Permissions::READ_ONLY), ..caveat() }).unwrap();
        read_only.verify(MASTER).unwrap();
        assert_eq!(read_only.authorize(&photo, NOW), Ok(()));
        assert_eq!(read_only.authorize(&upload, NOW), Err(Denied::Operation(Permission::Write)));
        // The original is unchanged.
        assert_eq!(grant.authorize(&upload, NOW), Ok(()));
        assert!(grant.caveats.is_empty());
    }

    #[test]
    fn a_caveat_can_only_add_restrictions() {
        let grant = restricted();
        let wide_open = grant
            .restrict(Caveat { operations: Some(Permissions::ALL), buckets: strings(&["photos", "other"]), ..caveat() })
            .unwrap();
        wide_open.verify(MASTER).unwrap();
        for action in [
            Action::object(Permission::Write, "photos", "2024/a.jpg"),
            Action::object(Permission::Delete, "photos", "2024/a.jpg"),
            Action::object(Permission::Read, "other", "2024/a.jpg"),
            Action::object(Permission::Read, "photos", "private/a.jpg"),
        ] {
            assert!(grant.authorize(&action, NOW).is_err(), "{action:?}");
            assert!(wide_open.authorize(&action, NOW).is_err(), "{action:?}");
        }
        // Replacing a caveat with a wider one, keeping the tag, does not verify...
        let mut edited = grant.clone();
        edited.caveats[0].operations = Some(Permissions::ALL);
        assert_eq!(edited.verify(MASTER), Err(GrantError::InvalidTag));
        // ...nor does re-signing it from the tag the grant carries (the tag before it is gone).
        let mut resigned = grant.clone();
        resigned.caveats[0].operations = Some(Permissions::ALL);
        let mut tag = grant.tag;
        for caveat in &resigned.caveats {
            tag = hmac_sha256(&tag, &[&caveat.encode().unwrap()]);
        }
        resigned.tag = tag;
        assert_eq!(resigned.verify(MASTER), Err(GrantError::InvalidTag));
    }

    #[test]
    fn editing_the_chain_fails_verification() {
        let grant = restricted();
        let mut dropped_last = grant.clone();
        dropped_last.caveats.pop();
        let mut dropped_first = grant.clone();
        dropped_first.caveats.remove(0);
        let mut swapped = grant.clone();
        swapped.caveats.swap(0, 1);
        let mut edited = grant.clone();
        edited.caveats[2].not_after = Some(NOW + 7200);
        let mut other_project = grant.clone();
        other_project.project_id = "project-2".into();
        let mut other_id = grant.clone();
        other_id.grant_id[0] ^= 1;
        let mut other_tag = grant.clone();
        other_tag.tag[31] ^= 1;
        let mut all_dropped = grant.clone();
        all_dropped.caveats.clear();
        all_dropped.content_key = ContentKey::Project(PROJECT_KEY);
        for (what, tampered) in [
            ("dropped last caveat", dropped_last),
            ("dropped first caveat", dropped_first),
            ("swapped caveats", swapped),
            ("edited caveat", edited),
            ("other project", other_project),
            ("other grant id", other_id),
            ("other tag", other_tag),
            ("all caveats dropped", all_dropped),
        ] {
            assert_eq!(tampered.verify(MASTER), Err(GrantError::InvalidTag), "{what}");
            // Serialized with a fresh checksum, it still parses but does not verify.
            let reparsed = Grant::parse(&tampered.to_string()).unwrap();
            assert_eq!(reparsed.verify(MASTER), Err(GrantError::InvalidTag), "{what}");
        }
        let mut other_version = grant.clone();
        other_version.version = 2;
        assert_eq!(other_version.verify(MASTER), Err(GrantError::UnsupportedVersion(2)));
    }

    #[test]
    fn any_changed_character_of_the_text_is_refused() {
        let text = restricted().to_string();
        for i in 0..text.len() {
            let original = text.as_bytes()[i];
            for replacement in [b'A', b'z', b'-', b'_', b'0', original ^ 1, original ^ 2, b'=', b'.'] {
                if replacement == original {
                    continue;
                }
                let mut bytes = text.as_bytes().to_vec();
                bytes[i] = replacement;
                let changed = String::from_utf8(bytes).unwrap();
                if let Ok(grant) = Grant::parse(&changed) {
                    panic!("accepted char {i} as {:?}; verify: {:?}", replacement as char, grant.verify(MASTER));
                }
            }
        }
    }

    /// Offset of the content key in the binary form.
    fn key_offset(grant: &Grant) -> usize {
        let scope_len = grant.content_key.scope_bucket().map_or(0, |bucket| 2 + bucket.len());
        1 + 2 + grant.project_id.len() + 16 + 1 + scope_len
    }

    #[test]
    fn any_flipped_byte_of_the_binary_form_is_refused() {
        let grant = restricted();
        let bytes = binary(&grant.to_string());
        let key = key_offset(&grant)..key_offset(&grant) + 32;
        assert_eq!(&bytes[key.clone()], grant.content_key.key_bytes());
        for i in 0..bytes.len() {
            for bit in [0x01, 0x80] {
                let mut flipped = bytes.clone();
                flipped[i] ^= bit;
                let text = format!("{GRANT_PREFIX}{}", base64::encode_url_safe(&flipped));
                assert!(Grant::parse(&text).is_err(), "byte {i} bit {bit:#x}");
                // With the checksum recomputed (a deliberate edit rather than corruption), every
                // change outside the content key is caught by the layout rules or the chain; the
                // content key cannot be authenticated (see the module documentation).
                if i < bytes.len() - CHECKSUM_LEN {
                    match Grant::parse(&text_with_checksum(flipped)) {
                        Err(_) => {}
                        Ok(edited) if key.contains(&i) => edited.verify(MASTER).unwrap(),
                        Ok(edited) => assert!(edited.verify(MASTER).is_err(), "byte {i} bit {bit:#x}"),
                    }
                }
            }
        }
    }

    #[test]
    fn parsing_is_strict() {
        let text = restricted().to_string();
        let bytes = binary(&text);

        assert_eq!(Grant::parse("").unwrap_err(), GrantError::NotAGrant);
        assert_eq!(Grant::parse(&text.replacen("portico1", "portico2", 1)).unwrap_err(), GrantError::NotAGrant);
        assert_eq!(Grant::parse(&format!(" {text}")).unwrap_err(), GrantError::NotAGrant);
        assert_eq!(Grant::parse(&format!("{text}\n")).unwrap_err(), GrantError::Encoding);
        assert_eq!(Grant::parse(&format!("{text}=")).unwrap_err(), GrantError::Encoding);
        assert_eq!(Grant::parse("portico1").unwrap_err(), GrantError::Truncated);

        let mut trailing = bytes.clone();
        trailing.push(0);
        let trailing = format!("{GRANT_PREFIX}{}", base64::encode_url_safe(&trailing));
        assert_eq!(Grant::parse(&trailing).unwrap_err(), GrantError::TrailingBytes);

        for cut in [1, CHECKSUM_LEN, CHECKSUM_LEN + 1, bytes.len() / 2, bytes.len() - 1] {
            let truncated = format!("{GRANT_PREFIX}{}", base64::encode_url_safe(&bytes[..bytes.len() - cut]));
            assert!(Grant::parse(&truncated).is_err(), "cut {cut}");
        }

        let mut version = bytes.clone();
        version[0] = 2;
        assert_eq!(Grant::parse(&text_with_checksum(version)).unwrap_err(), GrantError::UnsupportedVersion(2));

        let oversized = format!("{GRANT_PREFIX}{}", "A".repeat(MAX_GRANT_LEN));
        assert_eq!(Grant::parse(&oversized).unwrap_err(), GrantError::TooLarge);

        // A bucket key with no one-bucket caveat naming its bucket.
        let mut mislabeled = restricted();
        mislabeled.content_key = ContentKey::Bucket { bucket: "other".into(), key: [1; 32] };
        assert_eq!(
            Grant::parse(&text_with_checksum(binary_unchecked(&mislabeled))).unwrap_err(),
            GrantError::Malformed("bucket key without a caveat restricting to its bucket")
        );
        assert_eq!(mislabeled.verify(MASTER).unwrap_err(), mislabeled.check_structure().unwrap_err());
    }

    /// The binary form, without the structure check that parsing and verifying run.
    fn binary_unchecked(grant: &Grant) -> Vec<u8> {
        grant.encode().unwrap()
    }

    #[test]
    fn caveats_reject_unknown_bits_and_trailing_bytes() {
        assert_eq!(Caveat::decode(&[8, 0, 0, 0, 0]), Err(GrantError::Malformed("unknown caveat field")));
        assert_eq!(Caveat::decode(&[1, 16, 0, 0, 0, 0]), Err(GrantError::Malformed("unknown operation")));
        assert_eq!(Caveat::decode(&[0, 0, 0, 0, 0, 0]), Err(GrantError::Malformed("trailing bytes in a caveat")));
        assert_eq!(Caveat::decode(&[0, 0, 1, 0, 0, 0, 0]), Err(GrantError::Malformed("empty bucket name in a caveat")));
        assert_eq!(Caveat::decode(&[0, 0, 1, 0, 2, 0xff, 0xfe, 0, 0]), Err(GrantError::Malformed("invalid UTF-8")));
        assert_eq!(Caveat::decode(&[2, 0, 0]), Err(GrantError::Truncated));
        assert_eq!(Caveat::decode(&[0, 0, 0, 0, 0]), Ok(Caveat::default()));
        let full = Caveat {
            operations: Some(Permissions { read: true, write: false, list: true, delete: true }),
            buckets: strings(&["a", "b"]),
            prefixes: strings(&["", "x/"]),
            not_before: Some(-5),
            not_after: Some(i64::MAX),
        };
        assert_eq!(Caveat::decode(&full.encode().unwrap()), Ok(full));
    }

    #[test]
    fn restrict_refuses_what_would_not_serialize() {
        let empty_bucket = Caveat { buckets: strings(&[""]), ..caveat() };
        assert_eq!(root().restrict(empty_bucket).unwrap_err(), GrantError::Malformed("empty bucket name in a caveat"));
        let huge = Caveat { prefixes: vec!["p".repeat(MAX_GRANT_LEN)], ..caveat() };
        assert_eq!(root().restrict(huge).unwrap_err(), GrantError::TooLarge);
        let too_long_for_u16 = Caveat { prefixes: vec!["p".repeat(70_000)], ..caveat() };
        assert_eq!(root().restrict(too_long_for_u16).unwrap_err(), GrantError::TooLarge);
        assert_eq!(
            Grant::mint(MASTER, "", GRANT_ID, PROJECT_KEY).unwrap_err(),
            GrantError::Malformed("empty project id")
        );
        assert_eq!(Grant::mint(MASTER, &"p".repeat(9000), GRANT_ID, PROJECT_KEY).unwrap_err(), GrantError::TooLarge);
        // Many small caveats hit the size limit too.
        let mut grant = root();
        let mut result = Ok(());
        for i in 0..1000 {
            match grant.restrict(Caveat { prefixes: vec![format!("prefix-{i}/")], ..caveat() }) {
                Ok(next) => grant = next,
                Err(e) => {
                    result = Err(e);
                    break;
                }
            }
        }
        assert_eq!(result, Err(GrantError::TooLarge));
        assert!(grant.to_string().len() <= MAX_GRANT_LEN);
        Grant::parse(&grant.to_string()).unwrap().verify(MASTER).unwrap();
    }

    #[test]
    fn a_one_bucket_grant_carries_only_that_buckets_key() {
        let project_wide = root().restrict(Caveat { buckets: strings(&["photos", "videos"]), ..caveat() }).unwrap();
        assert_eq!(project_wide.content_key.scope_bucket(), None);

        let grant = restricted();
        let expected = derive_bucket_key(&PROJECT_KEY, "photos");
        match &grant.content_key {
            ContentKey::Bucket { bucket, key } => {
                assert_eq!(bucket, "photos");
                assert_eq!(key, expected.as_bytes());
            }
            other => panic!("{other:?}"),
        }
        assert_eq!(grant.bucket_key("photos").unwrap().as_bytes(), expected.as_bytes());
        assert!(grant.bucket_key("videos").is_none());
        assert_eq!(root().bucket_key("photos").unwrap().as_bytes(), expected.as_bytes());
        assert_ne!(root().bucket_key("videos").unwrap().as_bytes(), expected.as_bytes());

        let serialized = binary(&grant.to_string());
        assert!(!contains(&serialized, &PROJECT_KEY));
        assert!(contains(&serialized, expected.as_bytes()));
        assert!(contains(&binary(&root().to_string()), &PROJECT_KEY));

        // Restricting further keeps the bucket key, even to another bucket (which then allows
        // nothing): a bucket key never turns into another.
        let elsewhere = grant.restrict(Caveat { buckets: strings(&["videos"]), ..caveat() }).unwrap();
        elsewhere.verify(MASTER).unwrap();
        assert_eq!(elsewhere.content_key.scope_bucket(), Some("photos"));
        assert_eq!(
            elsewhere.authorize(&Action::object(Permission::Read, "videos", "2024/a"), NOW),
            Err(Denied::Bucket)
        );
        assert_eq!(
            elsewhere.authorize(&Action::object(Permission::Read, "photos", "2024/a"), NOW),
            Err(Denied::Bucket)
        );
    }

    #[test]
    fn authorize_checks_the_validity_window() {
        let grant = restricted();
        let read = Action::object(Permission::Read, "photos", "2024/a.jpg");
        assert_eq!(grant.authorize(&read, NOW - 10), Ok(()));
        assert_eq!(grant.authorize(&read, NOW - 11), Err(Denied::NotYetValid));
        assert_eq!(grant.authorize(&read, NOW + 3599), Ok(()));
        assert_eq!(grant.authorize(&read, NOW + 3600), Err(Denied::Expired));
        assert_eq!(grant.authorize(&Action::list_buckets(), NOW + 3600), Err(Denied::Expired));
    }

    #[test]
    fn authorize_checks_buckets_and_prefixes() {
        let grant = restricted();
        let allowed = |action: Action<'_>| grant.authorize(&action, NOW);
        assert_eq!(allowed(Action::object(Permission::Read, "photos", "2024/a.jpg")), Ok(()));
        assert_eq!(allowed(Action::object(Permission::Read, "photos", "shared/x")), Ok(()));
        assert_eq!(allowed(Action::object(Permission::Read, "photos", "2023/a.jpg")), Err(Denied::Prefix));
        assert_eq!(allowed(Action::object(Permission::Read, "photos", "2024")), Err(Denied::Prefix));
        assert_eq!(allowed(Action::object(Permission::Read, "videos", "2024/a.jpg")), Err(Denied::Bucket));
        // Listing: the request prefix must lie within an allowed prefix.
        assert_eq!(allowed(Action::list("photos", "2024/")), Ok(()));
        assert_eq!(allowed(Action::list("photos", "2024/06/")), Ok(()));
        assert_eq!(allowed(Action::list("photos", "")), Err(Denied::Prefix));
        assert_eq!(
            allowed(Action { op: Permission::List, bucket: Some("photos"), key_or_prefix: None }),
            Err(Denied::Prefix)
        );
        assert_eq!(allowed(Action::list("photos", "20")), Err(Denied::Prefix));
        assert_eq!(allowed(Action::list("videos", "2024/")), Err(Denied::Bucket));
        // The bucket itself: reading it is fine, creating or deleting it reaches past the prefixes
        // (and here past the operations too).
        assert_eq!(allowed(Action::bucket(Permission::Read, "photos")), Ok(()));
        assert_eq!(allowed(Action::bucket(Permission::Read, "videos")), Err(Denied::Bucket));
        let writable = root().restrict(Caveat { prefixes: strings(&["2024/"]), ..caveat() }).unwrap();
        assert_eq!(writable.authorize(&Action::bucket(Permission::Write, "photos"), NOW), Err(Denied::Prefix));
        assert_eq!(writable.authorize(&Action::bucket(Permission::Delete, "photos"), NOW), Err(Denied::Prefix));
        assert_eq!(writable.authorize(&Action::object(Permission::Write, "any", "2024/x"), NOW), Ok(()));
        // ListBuckets is allowed; its answer is filtered.
        assert_eq!(allowed(Action::list_buckets()), Ok(()));
        let no_list =
            root().restrict(Caveat { operations: Some(Permissions { read: true, ..Permissions::NONE }), ..caveat() });
        assert_eq!(no_list.unwrap().authorize(&Action::list_buckets(), NOW), Err(Denied::Operation(Permission::List)));
    }

    #[test]
    fn multiple_caveats_intersect() {
        let grant = root()
            .restrict(Caveat { buckets: strings(&["a", "b", "c"]), prefixes: strings(&["x/", "y/"]), ..caveat() })
            .unwrap()
            .restrict(Caveat {
                operations: Some(Permissions { read: true, write: true, ..Permissions::NONE }),
                buckets: strings(&["b", "c", "d"]),
                prefixes: strings(&["y/", "x/only/"]),
                ..caveat()
            })
            .unwrap()
            .restrict(Caveat {
                operations: Some(Permissions { write: true, delete: true, ..Permissions::NONE }),
                ..caveat()
            })
            .unwrap();
        grant.verify(MASTER).unwrap();
        let check = |op, bucket, key| grant.authorize(&Action::object(op, bucket, key), NOW);
        assert_eq!(check(Permission::Write, "b", "y/1"), Ok(()));
        assert_eq!(check(Permission::Write, "c", "x/only/1"), Ok(()));
        assert_eq!(check(Permission::Write, "c", "x/1"), Err(Denied::Prefix));
        assert_eq!(check(Permission::Write, "a", "y/1"), Err(Denied::Bucket));
        assert_eq!(check(Permission::Write, "d", "y/1"), Err(Denied::Bucket));
        assert_eq!(check(Permission::Read, "b", "y/1"), Err(Denied::Operation(Permission::Read)));
        assert_eq!(check(Permission::Delete, "b", "y/1"), Err(Denied::Operation(Permission::Delete)));
        assert_eq!(grant.visible_buckets(), Some(strings(&["b", "c"])));
        assert!(grant.bucket_visible("c"));
        assert!(!grant.bucket_visible("a"));
        assert!(!grant.bucket_visible("d"));
    }

    #[test]
    fn visible_buckets_of_unrestricted_and_prefix_only_grants() {
        assert_eq!(root().visible_buckets(), None);
        assert!(root().bucket_visible("anything"));
        let prefix_only = root().restrict(Caveat { prefixes: strings(&["p/"]), ..caveat() }).unwrap();
        assert_eq!(prefix_only.visible_buckets(), None);
        assert_eq!(restricted().visible_buckets(), Some(strings(&["photos"])));
        let repeated = root().restrict(Caveat { buckets: strings(&["a", "b", "a"]), ..caveat() }).unwrap();
        assert_eq!(repeated.visible_buckets(), Some(strings(&["a", "b"])));
    }

    #[test]
    fn debug_never_prints_keys_or_tags() {
        for grant in [root(), restricted()] {
            let debug = format!("{grant:?}");
            let pretty = format!("{grant:#?}");
            for text in [&debug, &pretty] {
                assert!(text.contains("<redacted>"), "{text}");
                assert!(text.contains("project-1"));
                for secret in [grant.content_key.key_bytes().as_slice(), grant.tag.as_slice()] {
                    assert!(!text.contains(&hex(secret)));
                    assert!(!text.contains(&format!("{secret:?}")[1..20]), "{text}");
                }
            }
        }
        assert_eq!(format!("{:?}", ContentKey::Project(PROJECT_KEY)), "ContentKey::Project(<redacted>)");
        assert_eq!(
            format!("{:?}", restricted().content_key),
            "ContentKey::Bucket { bucket: \"photos\", key: <redacted> }"
        );
        assert_eq!(format!("{:?}", derive_bucket_key(&PROJECT_KEY, "b")), "BucketKey(<redacted>)");
    }

    #[test]
    fn inspect_shows_scope_and_caveats_but_no_secret() {
        let grant = restricted();
        let inspected = grant.inspect();
        assert_eq!(inspected["project"], "project-1");
        assert_eq!(inspected["version"], 1);
        assert_eq!(inspected["grant_id"], hex(&GRANT_ID));
        assert_eq!(inspected["key_scope"], json!({ "type": "bucket", "bucket": "photos" }));
        assert_eq!(
            inspected["caveats"][0]["operations"],
            json!({ "read": true, "write": false, "list": true, "delete": false })
        );
        assert_eq!(inspected["caveats"][1]["buckets"], json!(["photos"]));
        assert_eq!(inspected["caveats"][1]["prefixes"], json!(["2024/", "shared/"]));
        assert_eq!(inspected["caveats"][1]["operations"], Value::Null);
        assert_eq!(inspected["caveats"][2]["not_after"], NOW + 3600);
        assert_eq!(root().inspect()["key_scope"], json!({ "type": "project" }));
        let text = inspected.to_string();
        assert!(!text.contains(&hex(grant.content_key.key_bytes())));
        assert!(!text.contains(&hex(&grant.tag)));
        assert!(!text.contains(&base64::encode(grant.content_key.key_bytes())));
    }

    #[test]
    fn operations_map_to_permissions() {
        use Operation::*;
        for (op, permission) in [
            (ListBuckets, Permission::List),
            (ListObjectsV1, Permission::List),
            (ListObjectsV2, Permission::List),
            (ListMultipartUploads, Permission::List),
            (ListParts, Permission::List),
            (HeadBucket, Permission::Read),
            (GetBucketLocation, Permission::Read),
            (GetBucketVersioning, Permission::Read),
            (GetObject, Permission::Read),
            (HeadObject, Permission::Read),
            (CreateBucket, Permission::Write),
            (PutObject, Permission::Write),
            (PostObject, Permission::Write),
            (CopyObject, Permission::Write),
            (UploadPart, Permission::Write),
            (UploadPartCopy, Permission::Write),
            (CreateMultipartUpload, Permission::Write),
            (CompleteMultipartUpload, Permission::Write),
            (AbortMultipartUpload, Permission::Write),
            (DeleteBucket, Permission::Delete),
            (DeleteObject, Permission::Delete),
            (DeleteObjects, Permission::Delete),
            (UnsupportedSubresource("acl"), Permission::Write),
        ] {
            assert_eq!(required_permission(op), permission, "{op:?}");
            let source = required_source_permission(op);
            assert_eq!(source, matches!(op, CopyObject | UploadPartCopy).then_some(Permission::Read), "{op:?}");
        }
    }

    #[test]
    fn denials_become_access_denied() {
        let err: S3Error = Denied::Expired.into();
        assert_eq!(err.code, crate::s3::error::S3ErrorCode::AccessDenied);
        assert_eq!(err.message, "Access Denied: the access grant has expired");
    }
}
