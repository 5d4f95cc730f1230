//! Runtime adapter: authenticate a request against credential records in KV. The lookup happens
//! here, outside the pure signature checks (which take the secret as a parameter).

use std::cell::{OnceCell, RefCell};
use std::rc::Rc;

use worker::kv::KvStore;

use crate::auth::cache::TtlCache;

use crate::auth::credential::{kv_key, open, CredentialRecord};
use crate::auth::grant::Grant;
use crate::auth::secret::SecretKey;
use crate::auth::sigv2;
use crate::auth::sigv4::{self, PayloadHash};
use crate::http::RequestHead;
use crate::s3::{S3Error, S3ErrorCode, S3Result};
use crate::s3_error;

/// An authenticated caller: its verified grant, and how its request body is covered by the
/// signature.
pub struct Caller {
    pub grant: Grant,
    pub payload: PayloadHash,
}

/// Authenticate with whichever scheme the request uses. `host_bucket` is the bucket named by a
/// virtual host, which SigV2 signs as part of the resource.
pub async fn authenticate(
    head: &RequestHead,
    host_bucket: Option<&str>,
    kv: &KvStore,
    master_secret: &[u8],
    now: i64,
) -> S3Result<Caller> {
    let authorization = head.header("authorization").map(str::trim);
    let presigned_v4 = sigv4::parse_presigned_query(head)?;
    let presigned_v2 = head.has_query_param("AWSAccessKeyId") || head.has_query_param("Signature");
    if authorization.is_some() && (presigned_v4.is_some() || presigned_v2) {
        return Err(s3_error!(
            InvalidArgument,
            "Only one auth mechanism allowed; only the X-Amz-Algorithm query parameter, Signature query string parameter or the Authorization header should be specified"
        ));
    }
    let (record, payload) = match (authorization, presigned_v4) {
        (Some(value), None) if value.starts_with(sigv4::ALGORITHM) => {
            let auth = sigv4::parse_authorization_header(value)?;
            let (record, secret) = load_record(kv, &auth.access_key_id, now).await?;
            (record, sigv4::verify_header_auth(head, &auth, &secret, now)?.payload)
        }
        (None, Some(presigned)) => {
            let (record, secret) = load_record(kv, &presigned.access_key_id, now).await?;
            (record, sigv4::verify_presigned(head, &presigned, &secret, now)?.payload)
        }
        _ => match sigv2::parse_v2(head)? {
            Some(signed) => {
                let (record, secret) = load_record(kv, signed.access_key_id(), now).await?;
                sigv2::verify_v2(head, host_bucket, &signed, &secret, now)?;
                // SigV2 never covers the body.
                (record, PayloadHash::Unsigned)
            }
            None if authorization.is_some() => {
                return Err(s3_error!(InvalidArgument, "Unsupported Authorization Type"))
            }
            None => return Err(S3Error::new(S3ErrorCode::AccessDenied)),
        },
    };
    let grant = record.grant(master_secret)?;
    Ok(Caller { grant, payload })
}

/// A decrypted credential record as an isolate keeps it, with its grant once verified.
pub struct CachedRecord {
    pub record: CredentialRecord,
    grant: OnceCell<Grant>,
}

impl CachedRecord {
    fn new(record: CredentialRecord) -> Self {
        CachedRecord { record, grant: OnceCell::new() }
    }

    /// The record's grant, verified against the master secret (`verified_grant`) on first use:
    /// the master secret is the isolate's, fixed for its life, so a grant that verified once
    /// verifies again, and parsing and checking its HMAC chain on every request is saved.
    pub fn grant(&self, master_secret: &[u8]) -> S3Result<Grant> {
        if let Some(grant) = self.grant.get() {
            return Ok(grant.clone());
        }
        let grant = verified_grant(&self.record, master_secret)?;
        Ok(self.grant.get_or_init(|| grant).clone())
    }
}

/// The record's grant, checked against the master secret on every use: a record holding an
/// altered grant is refused even though only the gateway can write records.
pub fn verified_grant(record: &CredentialRecord, master_secret: &[u8]) -> S3Result<Grant> {
    let grant = Grant::parse(&record.grant).map_err(|_| s3_error!(AccessDenied, "The access grant is not valid."))?;
    grant.verify(master_secret).map_err(|_| s3_error!(AccessDenied, "The access grant is not valid."))?;
    Ok(grant)
}

/// The grant of a public credential, for anonymous share-link reads: unknown, private and expired
/// credentials all answer AccessDenied, so a link reveals nothing about keys that are not shared.
pub async fn public_grant(kv: &KvStore, access_key_id: &str, master_secret: &[u8], now: i64) -> S3Result<Grant> {
    let cached = fetch_record(kv, access_key_id, now)
        .await?
        .filter(|cached| cached.record.public && cached.record.expires_at.is_none_or(|t| t > now))
        .ok_or_else(|| S3Error::new(S3ErrorCode::AccessDenied))?;
    cached.grant(master_secret)
}

/// Load and decrypt the record of an access key id; refuse unknown, undecryptable, expired and
/// secret-less records for signed requests.
pub async fn load_record(kv: &KvStore, access_key_id: &str, now: i64) -> S3Result<(Rc<CachedRecord>, SecretKey)> {
    let cached =
        fetch_record(kv, access_key_id, now).await?.ok_or_else(|| S3Error::new(S3ErrorCode::InvalidAccessKeyId))?;
    if cached.record.expires_at.is_some_and(|t| t <= now) {
        return Err(s3_error!(AccessDenied, "The access key has expired."));
    }
    let secret = cached
        .record
        .secret_key
        .clone()
        .map(SecretKey::new)
        .ok_or_else(|| S3Error::new(S3ErrorCode::InvalidAccessKeyId))?;
    Ok((cached, secret))
}

/// How long an isolate reuses a credential record it read from KV. A revoked credential keeps
/// working in an isolate that cached it for at most this long, on top of KV's propagation delay
/// (README "KV propagation").
pub const RECORD_CACHE_SECS: i64 = 30;

thread_local! {
    /// Decrypted records by KV key (a hash of the access key id). Only records that exist are
    /// cached, so a credential registered a moment ago is found as soon as KV has it.
    static RECORDS: RefCell<TtlCache<Rc<CachedRecord>>> = RefCell::new(TtlCache::new(RECORD_CACHE_SECS, 10_000));
}

/// Forget a cached record (after revocation in this isolate).
pub fn forget_record(access_key_id: &str) {
    RECORDS.with(|cache| cache.borrow_mut().remove(&kv_key(access_key_id)));
}

/// The decrypted record of an access key id, `None` when there is none (or it does not decrypt
/// with this id, which is the same thing to a caller).
pub async fn fetch_record(kv: &KvStore, access_key_id: &str, now: i64) -> S3Result<Option<Rc<CachedRecord>>> {
    let key = kv_key(access_key_id);
    if let Some(record) = RECORDS.with(|cache| cache.borrow_mut().get(&key, now)) {
        return Ok(Some(record));
    }
    let stored = kv
        .get(&key)
        .text()
        .await
        .map_err(|_| s3_error!(ServiceUnavailable, "The credential store could not be reached. Please retry."))?;
    let cached =
        stored.and_then(|stored| open(access_key_id, &stored).ok()).map(|record| Rc::new(CachedRecord::new(record)));
    if let Some(cached) = &cached {
        RECORDS.with(|cache| cache.borrow_mut().insert(key, cached.clone(), now));
    }
    Ok(cached)
}
