//! Runtime adapter: the credential service's JSON API under `/v1/`. Validation and record
//! building are in `registration.rs`; this file moves bytes between HTTP, KV and those functions.
//!
//! - `POST /v1/access` `{"access_grant", "public"}` -> `{"access_key_id", "secret_key", "endpoint"}`
//! - `DELETE /v1/access/<access_key_id>` with `Authorization: Bearer <secret key or admin token>`
//! - `POST /v1/admin/projects` (admin token) `{"id"?, "node", "backend_bucket"}` ->
//!   `{"project", "access_grant"}`
//! - `GET /v1/admin/projects/<id>` (admin token)

use wasm_bindgen::JsValue;
use web_sys::Response;
use worker::kv::KvStore;

use crate::auth::credential::kv_key;
use crate::auth::registration::{self, bearer_token, is_admin, may_revoke, ApiError, MAX_BODY_BYTES};
use crate::auth::runtime::{fetch_record, forget_record};
use crate::config::Config;
use crate::http::RequestHead;
use crate::reply::Reply;
use crate::storage::node::{project_kv_key, Project};

/// The first path segment of the API.
pub const API_ROOT: &str = "v1";

fn error_reply(err: ApiError) -> Reply {
    Reply::json(err.status, err.to_json())
}

fn kv_unavailable<E: std::fmt::Display>(err: E) -> ApiError {
    worker::console_error!("KV error in the credential API: {err}");
    ApiError::new(503, "the credential store could not be reached; please retry")
}

/// A source of fresh random bytes for the pure functions.
fn os_random() -> impl FnMut() -> u8 {
    let mut pool: Vec<u8> = Vec::new();
    move || {
        if pool.is_empty() {
            pool = vec![0u8; 256];
            getrandom::fill(&mut pool).expect("the runtime's crypto.getRandomValues is available");
        }
        pool.pop().expect("refilled")
    }
}

/// Serve one API request; every answer, including errors, is JSON.
pub async fn handle(
    request: &web_sys::Request,
    head: &RequestHead,
    path: &str,
    config: &Config,
    kv: &KvStore,
    now: i64,
) -> Reply {
    let segments: Vec<&str> = path.split('/').collect();
    let result = match (head.method.as_str(), segments.as_slice()) {
        ("POST", ["access"]) => register(request, head, config, kv, now).await,
        ("DELETE", ["access", access_key_id]) => revoke(head, access_key_id, config, kv, now).await,
        ("POST", ["admin", "projects"]) => create_project(request, head, config, kv, now).await,
        ("GET", ["admin", "projects", id]) => get_project(head, id, config, kv).await,
        (_, ["access"] | ["access", _] | ["admin", "projects"] | ["admin", "projects", _]) => {
            Err(ApiError::new(405, format!("{} is not allowed here", head.method)))
        }
        _ => Err(ApiError::new(404, "no such API endpoint")),
    };
    result.unwrap_or_else(error_reply)
}

/// Read a JSON body of at most MAX_BODY_BYTES (413 beyond).
async fn read_body(request: &web_sys::Request, head: &RequestHead) -> Result<Vec<u8>, ApiError> {
    let too_large = || ApiError::new(413, format!("request body is larger than {MAX_BODY_BYTES} bytes"));
    if head.header("content-length").and_then(|v| v.trim().parse::<usize>().ok()).is_some_and(|n| n > MAX_BODY_BYTES) {
        return Err(too_large());
    }
    let Some(stream) = request.body() else { return Ok(Vec::new()) };
    let unreadable = |_: JsValue| ApiError::new(400, "the request body could not be read");
    let response = Response::new_with_opt_readable_stream(Some(&stream)).map_err(unreadable)?;
    let buffer =
        wasm_bindgen_futures::JsFuture::from(response.array_buffer().map_err(unreadable)?).await.map_err(unreadable)?;
    let bytes = js_sys::Uint8Array::new(&buffer).to_vec();
    if bytes.len() > MAX_BODY_BYTES {
        return Err(too_large());
    }
    Ok(bytes)
}

fn endpoint(head: &RequestHead, config: &Config) -> String {
    config.public_endpoint.clone().unwrap_or_else(|| {
        let scheme = head.header("x-forwarded-proto").unwrap_or("http");
        let scheme = if head.header("cf-visitor").is_some_and(|v| v.contains("https")) { "https" } else { scheme };
        format!("{scheme}://{}", head.host)
    })
}

async fn register(
    request: &web_sys::Request,
    head: &RequestHead,
    config: &Config,
    kv: &KvStore,
    now: i64,
) -> Result<Reply, ApiError> {
    let body = read_body(request, head).await?;
    let new = registration::register(&body, &config.master_secret, &endpoint(head, config), now, &mut os_random())?;
    if kv.get(&project_kv_key(&new.project_id)).text().await.map_err(kv_unavailable)?.is_none() {
        return Err(ApiError::new(400, "the grant's project does not exist"));
    }
    let mut put = kv.put(&new.kv_key, new.kv_value.as_str()).map_err(kv_unavailable)?;
    if let Some(expiration) = new.kv_expiration {
        put = put.expiration(expiration as u64);
    }
    put.execute().await.map_err(kv_unavailable)?;
    Ok(Reply::json(200, serde_json::to_string(&new.response).expect("response serializes")))
}

async fn revoke(
    head: &RequestHead,
    access_key_id: &str,
    config: &Config,
    kv: &KvStore,
    now: i64,
) -> Result<Reply, ApiError> {
    let bearer = bearer_token(head.header("authorization"))
        .ok_or_else(|| ApiError::new(401, "send Authorization: Bearer <secret key of the credential>"))?;
    let cached = fetch_record(kv, access_key_id, now)
        .await
        .map_err(|e| kv_unavailable(e.message))?
        .ok_or_else(|| ApiError::new(404, "no such credential"))?;
    if !may_revoke(bearer, &cached.record, config.admin_token.as_deref()) {
        return Err(ApiError::new(403, "the token does not match this credential"));
    }
    kv.delete(&kv_key(access_key_id)).await.map_err(kv_unavailable)?;
    forget_record(access_key_id);
    Ok(Reply::empty(204))
}

fn require_admin(head: &RequestHead, config: &Config) -> Result<(), ApiError> {
    if config.admin_token.is_none() {
        return Err(ApiError::new(403, "the admin API is disabled: PORTICO_ADMIN_TOKEN is not set"));
    }
    if is_admin(head.header("authorization"), config.admin_token.as_deref()) {
        Ok(())
    } else {
        Err(ApiError::new(401, "a valid admin bearer token is required"))
    }
}

async fn create_project(
    request: &web_sys::Request,
    head: &RequestHead,
    config: &Config,
    kv: &KvStore,
    now: i64,
) -> Result<Reply, ApiError> {
    require_admin(head, config)?;
    let body = read_body(request, head).await?;
    let new = registration::create_project(&body, &config.nodes, &config.master_secret, now, &mut os_random())?;
    let key = project_kv_key(&new.project.id);
    if kv.get(&key).text().await.map_err(kv_unavailable)?.is_some() {
        return Err(ApiError::new(409, format!("project {} already exists", new.project.id)));
    }
    let record = serde_json::to_string(&new.project).expect("projects serialize");
    kv.put(&key, record).map_err(kv_unavailable)?.execute().await.map_err(kv_unavailable)?;
    let answer = serde_json::json!({ "project": new.project, "access_grant": new.root_grant.to_string() });
    Ok(Reply::json(201, answer.to_string()))
}

async fn get_project(head: &RequestHead, id: &str, config: &Config, kv: &KvStore) -> Result<Reply, ApiError> {
    require_admin(head, config)?;
    let stored = kv
        .get(&project_kv_key(id))
        .text()
        .await
        .map_err(kv_unavailable)?
        .ok_or_else(|| ApiError::new(404, "no such project"))?;
    let project: Project =
        serde_json::from_str(&stored).map_err(|_| ApiError::new(500, "the project record is unreadable"))?;
    Ok(Reply::json(200, serde_json::to_string(&project).expect("projects serialize")))
}
