//! The credential service's JSON API, pure parts: Storj-compatible registration
//! (`POST /v1/access` with `{"access_grant", "public"}` -> `{"access_key_id", "secret_key",
//! "endpoint"}`), revocation, and the operator's project creation. The worker adapter
//! (`api.rs`) only moves bytes between these functions, KV and HTTP.

use serde::{Deserialize, Serialize};

use crate::auth::credential::{generate_key_pair, kv_key, seal, CredentialRecord};
use crate::auth::grant::Grant;
use crate::auth::secret::constant_time_eq;
use crate::storage::node::{Nodes, Project};

/// Largest request body the API accepts: a grant is at most 8 KiB of binary.
pub const MAX_BODY_BYTES: usize = 16 * 1024;
/// KV refuses expirations less than 60 seconds away.
const KV_MIN_EXPIRATION_SECS: i64 = 60;

/// An API failure: HTTP status and a message for `{"error": message}`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ApiError {
    pub status: u16,
    pub message: String,
}

impl ApiError {
    pub fn new(status: u16, message: impl Into<String>) -> Self {
        ApiError { status, message: message.into() }
    }

    pub fn to_json(&self) -> String {
        serde_json::json!({ "error": self.message }).to_string()
    }
}

#[derive(Deserialize)]
struct RegisterRequest {
    access_grant: String,
    #[serde(default)]
    public: bool,
}

/// The answer to a registration.
#[derive(Serialize, PartialEq, Eq)]
pub struct RegisterResponse {
    pub access_key_id: String,
    pub secret_key: String,
    pub endpoint: String,
}

impl std::fmt::Debug for RegisterResponse {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RegisterResponse")
            .field("access_key_id", &self.access_key_id)
            .field("secret_key", &"<redacted>")
            .field("endpoint", &self.endpoint)
            .finish()
    }
}

/// What to write to KV for a registration.
#[derive(Debug)]
pub struct NewCredential {
    pub kv_key: String,
    pub kv_value: String,
    /// Unix seconds for KV's own expiration, when the grant expires far enough ahead.
    pub kv_expiration: Option<i64>,
    pub project_id: String,
    pub response: RegisterResponse,
}

fn parse_json<'a, T: Deserialize<'a>>(body: &'a [u8]) -> Result<T, ApiError> {
    if body.len() > MAX_BODY_BYTES {
        return Err(ApiError::new(413, format!("request body is larger than {MAX_BODY_BYTES} bytes")));
    }
    serde_json::from_slice(body).map_err(|e| ApiError::new(400, format!("request body is not valid JSON: {e}")))
}

/// The earliest `not_after` of a grant's caveats: when it stops working.
pub fn grant_expiry(grant: &Grant) -> Option<i64> {
    grant.caveats.iter().filter_map(|caveat| caveat.not_after).min()
}

/// Validate a registration request and build the credential record. `random` supplies fresh
/// bytes for the key pair and the record nonce.
pub fn register(
    body: &[u8],
    master_secret: &[u8],
    endpoint: &str,
    now: i64,
    random: &mut impl FnMut() -> u8,
) -> Result<NewCredential, ApiError> {
    let request: RegisterRequest = parse_json(body)?;
    let grant = Grant::parse(request.access_grant.trim())
        .map_err(|e| ApiError::new(400, format!("access_grant is not a valid grant: {e}")))?;
    grant.verify(master_secret).map_err(|_| {
        ApiError::new(400, "access_grant failed verification: it was not issued by this gateway or has been altered")
    })?;
    let expires_at = grant_expiry(&grant);
    if expires_at.is_some_and(|t| t <= now) {
        return Err(ApiError::new(400, "access_grant has expired"));
    }
    let (access_key_id, secret_key) = generate_key_pair(random);
    let record = CredentialRecord {
        secret_key: Some(secret_key.clone()),
        grant: request.access_grant.trim().to_string(),
        public: request.public,
        expires_at,
        created_at: now,
    };
    let nonce: [u8; 12] = std::array::from_fn(|_| random());
    Ok(NewCredential {
        kv_key: kv_key(&access_key_id),
        kv_value: seal(&access_key_id, &record, nonce),
        kv_expiration: expires_at.filter(|t| *t >= now + KV_MIN_EXPIRATION_SECS),
        project_id: grant.project_id.clone(),
        response: RegisterResponse { access_key_id, secret_key, endpoint: endpoint.to_string() },
    })
}

/// A `DELETE /v1/access/<id>` is allowed with the credential's own secret or the admin token.
pub fn may_revoke(bearer: &str, record: &CredentialRecord, admin_token: Option<&str>) -> bool {
    let by_owner =
        record.secret_key.as_deref().is_some_and(|secret| constant_time_eq(secret.as_bytes(), bearer.as_bytes()));
    let by_admin =
        admin_token.is_some_and(|token| !token.is_empty() && constant_time_eq(token.as_bytes(), bearer.as_bytes()));
    by_owner || by_admin
}

/// The bearer token of an `Authorization: Bearer <token>` header.
pub fn bearer_token(authorization: Option<&str>) -> Option<&str> {
    let value = authorization?.trim();
    let (scheme, token) = value.split_once(' ')?;
    scheme.eq_ignore_ascii_case("bearer").then(|| token.trim()).filter(|t| !t.is_empty())
}

/// Whether a request carries the operator's admin token.
pub fn is_admin(authorization: Option<&str>, admin_token: Option<&str>) -> bool {
    match (bearer_token(authorization), admin_token) {
        (Some(given), Some(expected)) if !expected.is_empty() => {
            constant_time_eq(given.as_bytes(), expected.as_bytes())
        }
        _ => false,
    }
}

#[derive(Deserialize)]
struct CreateProjectRequest {
    #[serde(default)]
    id: Option<String>,
    node: String,
    backend_bucket: String,
    /// Encrypted unless asked otherwise (DESIGN.md: encryption at rest is the default).
    #[serde(default = "encrypted_by_default")]
    encrypted: bool,
}

fn encrypted_by_default() -> bool {
    true
}

/// A project to create and its root grant.
#[derive(Debug)]
pub struct NewProject {
    pub project: Project,
    pub root_grant: Grant,
}

fn valid_project_id(id: &str) -> bool {
    (1..=63).contains(&id.len()) && id.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
}

/// Validate a project creation request and mint the project's root grant with a fresh content
/// key. The content key exists only inside grants: the gateway keeps no copy.
pub fn create_project(
    body: &[u8],
    nodes: &Nodes,
    master_secret: &[u8],
    now: i64,
    random: &mut impl FnMut() -> u8,
) -> Result<NewProject, ApiError> {
    let request: CreateProjectRequest = parse_json(body)?;
    let id = match request.id {
        Some(id) if valid_project_id(&id) => id,
        Some(_) => return Err(ApiError::new(400, "id must be 1-63 characters of a-z, 0-9 and '-'")),
        None => crate::http::hex(&std::array::from_fn::<u8, 8, _>(|_| random())),
    };
    if nodes.get(&request.node).is_none() {
        return Err(ApiError::new(400, format!("node {:?} is not configured", request.node)));
    }
    if request.backend_bucket.is_empty() || request.backend_bucket.contains('/') {
        return Err(ApiError::new(400, "backend_bucket must be a bucket name on the node"));
    }
    let grant_id: [u8; 16] = std::array::from_fn(|_| random());
    let content_key: [u8; 32] = std::array::from_fn(|_| random());
    let root_grant = Grant::mint(master_secret, &id, grant_id, content_key)
        .map_err(|e| ApiError::new(400, format!("cannot mint a grant for this project: {e}")))?;
    let project = Project {
        id,
        node: request.node,
        backend_bucket: request.backend_bucket,
        encrypted: request.encrypted,
        created_at: now,
    };
    Ok(NewProject { project, root_grant })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::auth::credential::open;
    use crate::auth::grant::Caveat;

    const MASTER: &[u8] = b"registration test master secret";
    const NOW: i64 = 1_800_000_000;

    fn counter() -> impl FnMut() -> u8 {
        let mut n = 0u8;
        move || {
            n = n.wrapping_add(101);
            n
        }
    }

    fn nodes() -> Nodes {
        Nodes::parse(
            r#"{"local": {"endpoint": "http://127.0.0.1:3900", "access_key_id": "a", "secret_access_key": "s"}}"#,
        )
        .unwrap()
    }

    fn root_grant() -> Grant {
        let body = br#"{"id": "acme", "node": "local", "backend_bucket": "acme-data"}"#;
        create_project(body, &nodes(), MASTER, NOW, &mut counter()).unwrap().root_grant
    }

    #[test]
    fn registration_seals_a_record_that_opens_with_the_new_key() {
        let grant = root_grant().restrict(Caveat { not_after: Some(NOW + 3600), ..Default::default() }).unwrap();
        let body = serde_json::json!({"access_grant": grant.to_string(), "public": true}).to_string();
        let new = register(body.as_bytes(), MASTER, "https://s3.example.com", NOW, &mut counter()).unwrap();
        let record = open(&new.response.access_key_id, &new.kv_value).unwrap();
        assert_eq!(record.grant, grant.to_string());
        assert!(record.public);
        assert_eq!(record.expires_at, Some(NOW + 3600));
        assert_eq!(new.kv_expiration, Some(NOW + 3600));
        assert_eq!(new.kv_key, kv_key(&new.response.access_key_id));
        assert_eq!(new.project_id, "acme");
        assert_eq!(new.response.endpoint, "https://s3.example.com");
        assert!(!format!("{new:?}").contains(&new.response.secret_key));
    }

    #[test]
    fn bad_tampered_and_expired_grants_are_refused() {
        let grant = root_grant();
        let text = grant.to_string();
        let register_text = |text: &str| {
            let body = serde_json::json!({ "access_grant": text }).to_string();
            register(body.as_bytes(), MASTER, "e", NOW, &mut counter())
        };
        assert_eq!(register_text("not a grant").unwrap_err().status, 400);
        // A grant minted under another master secret (a forgery) fails verification.
        let forged = Grant::mint(b"another master secret", "acme", [9; 16], [1; 32]).unwrap();
        assert_eq!(register_text(&forged.to_string()).unwrap_err().status, 400);
        let expired = grant.restrict(Caveat { not_after: Some(NOW - 1), ..Default::default() }).unwrap();
        assert!(register_text(&expired.to_string()).unwrap_err().message.contains("expired"));
        assert!(register_text(&text).is_ok());
        assert_eq!(register(b"{", MASTER, "e", NOW, &mut counter()).unwrap_err().status, 400);
        let huge = vec![b' '; MAX_BODY_BYTES + 1];
        assert_eq!(register(&huge, MASTER, "e", NOW, &mut counter()).unwrap_err().status, 413);
    }

    #[test]
    fn short_lived_grants_get_no_kv_expiration_but_keep_their_own() {
        let grant = root_grant().restrict(Caveat { not_after: Some(NOW + 10), ..Default::default() }).unwrap();
        let body = serde_json::json!({ "access_grant": grant.to_string() }).to_string();
        let new = register(body.as_bytes(), MASTER, "e", NOW, &mut counter()).unwrap();
        assert_eq!(new.kv_expiration, None);
        assert_eq!(open(&new.response.access_key_id, &new.kv_value).unwrap().expires_at, Some(NOW + 10));
    }

    #[test]
    fn revocation_needs_the_credentials_secret_or_the_admin_token() {
        let record = CredentialRecord {
            secret_key: Some("owner-secret".into()),
            grant: String::new(),
            public: false,
            expires_at: None,
            created_at: NOW,
        };
        assert!(may_revoke("owner-secret", &record, None));
        assert!(may_revoke("admin", &record, Some("admin")));
        assert!(!may_revoke("guess", &record, Some("admin")));
        assert!(!may_revoke("", &record, Some("")));
    }

    #[test]
    fn bearer_tokens_and_admin_checks() {
        assert_eq!(bearer_token(Some("Bearer abc")), Some("abc"));
        assert_eq!(bearer_token(Some("bearer  abc ")), Some("abc"));
        assert_eq!(bearer_token(Some("Basic abc")), None);
        assert_eq!(bearer_token(None), None);
        assert!(is_admin(Some("Bearer t0ken"), Some("t0ken")));
        assert!(!is_admin(Some("Bearer nope"), Some("t0ken")));
        assert!(!is_admin(Some("Bearer "), Some("")));
        assert!(!is_admin(None, Some("t0ken")));
    }

    #[test]
    fn project_creation_validates_and_mints_a_verifiable_root_grant() {
        let new = create_project(br#"{"node": "local", "backend_bucket": "b"}"#, &nodes(), MASTER, NOW, &mut counter())
            .unwrap();
        assert_eq!(new.project.id.len(), 16);
        assert!(new.project.encrypted, "projects are encrypted unless asked otherwise");
        assert!(new.root_grant.verify(MASTER).is_ok());
        let plain = br#"{"node": "local", "backend_bucket": "b", "encrypted": false}"#;
        assert!(!create_project(plain, &nodes(), MASTER, NOW, &mut counter()).unwrap().project.encrypted);
        assert_eq!(new.root_grant.project_id, new.project.id);
        for (body, status) in [
            (&br#"{"node": "nope", "backend_bucket": "b"}"#[..], 400),
            (br#"{"id": "Bad_Id", "node": "local", "backend_bucket": "b"}"#, 400),
            (br#"{"node": "local", "backend_bucket": "a/b"}"#, 400),
            (br#"{"node": "local"}"#, 400),
        ] {
            let err = create_project(body, &nodes(), MASTER, NOW, &mut counter()).unwrap_err();
            assert_eq!(err.status, status, "{}", String::from_utf8_lossy(body));
        }
    }
}
