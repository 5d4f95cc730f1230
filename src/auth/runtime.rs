//! Runtime adapter: authenticate a request against credential records in KV. The lookup happens
//! here, outside the pure signature checks (which take the secret as a parameter).

use worker::kv::KvStore;

use crate::auth::credential::{kv_key, open, CredentialRecord};
use crate::auth::secret::SecretKey;
use crate::auth::sigv4::{self, PayloadHash};
use crate::http::RequestHead;
use crate::s3::{S3Error, S3ErrorCode, S3Result};
use crate::s3_error;

/// An authenticated caller and how its request body is covered by the signature.
pub struct Caller {
    pub project: String,
    pub payload: PayloadHash,
}

/// Authenticate with whichever scheme the request uses.
pub async fn authenticate(head: &RequestHead, kv: &KvStore, now: i64) -> S3Result<Caller> {
    let authorization = head.header("authorization").map(str::trim);
    let presigned = sigv4::parse_presigned_query(head)?;
    match (authorization, presigned) {
        (Some(value), None) if value.starts_with(sigv4::ALGORITHM) => {
            let auth = sigv4::parse_authorization_header(value)?;
            let (record, secret) = load_secret(kv, &auth.access_key_id, now).await?;
            let verified = sigv4::verify_header_auth(head, &auth, &secret, now)?;
            Ok(Caller { project: record.project, payload: verified.payload })
        }
        (None, Some(presigned)) => {
            let (record, secret) = load_secret(kv, &presigned.access_key_id, now).await?;
            let verified = sigv4::verify_presigned(head, &presigned, &secret, now)?;
            Ok(Caller { project: record.project, payload: verified.payload })
        }
        (Some(value), None) if value.starts_with("AWS ") => {
            Err(s3_error!(NotImplemented, "Signature Version 2 is not supported yet; sign requests with Signature Version 4."))
        }
        (Some(_), None) => Err(s3_error!(InvalidArgument, "Unsupported Authorization Type")),
        (Some(_), Some(_)) => Err(s3_error!(InvalidArgument, "Only one auth mechanism allowed; only the X-Amz-Algorithm query parameter, Signature query string parameter or the Authorization header should be specified")),
        (None, None) => Err(S3Error::new(S3ErrorCode::AccessDenied)),
    }
}

/// Load and decrypt the record of an access key id; refuse unknown, undecryptable, expired and
/// secret-less (public) records for signed requests.
async fn load_secret(kv: &KvStore, access_key_id: &str, now: i64) -> S3Result<(CredentialRecord, SecretKey)> {
    let stored = kv
        .get(&kv_key(access_key_id))
        .text()
        .await
        .map_err(|_| s3_error!(ServiceUnavailable, "The credential store could not be reached. Please retry."))?
        .ok_or_else(|| S3Error::new(S3ErrorCode::InvalidAccessKeyId))?;
    let mut record = open(access_key_id, &stored).map_err(|_| S3Error::new(S3ErrorCode::InvalidAccessKeyId))?;
    if record.expires_at.is_some_and(|t| t <= now) {
        return Err(s3_error!(AccessDenied, "The access key has expired."));
    }
    let secret =
        record.secret_key.take().map(SecretKey::new).ok_or_else(|| S3Error::new(S3ErrorCode::InvalidAccessKeyId))?;
    Ok((record, secret))
}
