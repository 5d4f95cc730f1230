//! Runtime adapter: dispatch an identified operation to the project's node and shape the answer.
//! Decisions (which operation, which headers, which error) are made by the pure modules; this
//! file only sequences requests.

use std::cell::RefCell;
use std::rc::Rc;

use futures_util::future::join;
use wasm_bindgen::JsValue;
use web_sys::Response;
use worker::kv::KvStore;
use worker::Env;

use crate::auth::authorize::{authorize, RequestScope};
use crate::auth::cache::TtlCache;
use crate::auth::chunked::{self, AwsChunkedDecoder};
use crate::auth::grant::Grant;
use crate::auth::runtime::{authenticate, public_grant, Caller};
use crate::auth::sigv4::PayloadHash;
use crate::config::{binding, Config};
use crate::http::RequestHead;
use crate::reply::{Reply, ReplyBody};
use crate::s3::addressing::{self, AddressingStyle, Target};
use crate::s3::bucket_name::{validate_bucket_name, validate_object_key};
use crate::s3::conditional::WriteConditions;
use crate::s3::headers;
use crate::s3::list;
use crate::s3::operation::{self, Operation};
use crate::s3::xml;
use crate::s3::{batch, cors, multipart};
use crate::s3::{S3Error, S3ErrorCode, S3Result};
use crate::s3_error;
use crate::storage::client::{discard_body, response_text, send, NodeBody, NodeRequest};
use crate::storage::format::{self, ciphertext_len, plaintext_len};
use crate::storage::node::{
    bucket_config_key, bucket_owner_kv_key, bucket_prefix, bucket_record_key, bucket_records_prefix, node_bucket_path,
    node_object_path, object_backend_key, project_kv_key, BucketConfig, BucketRecord, NodeConfig, Project,
};
use crate::storage::node_error::{from_node_error, from_node_status};
use crate::storage::record_stream::Sealer;
use crate::storage::upload::{send_verified, send_whole, BodyPipeline, WHOLE_BODY_MAX_BYTES};
use crate::storage::verify::{BodyCheck, Sha256Check};

mod encrypted;

/// Everything a handler needs about the request and the project it acts for.
struct Ctx<'a> {
    head: &'a RequestHead,
    grant: &'a Grant,
    config: &'a Config,
    kv: &'a KvStore,
    node: &'a NodeConfig,
    project: Project,
    now: i64,
}

impl Ctx<'_> {
    async fn send(&self, request: NodeRequest) -> S3Result<Response> {
        send(self.node, request, self.now).await
    }

    fn bucket_path(&self) -> String {
        node_bucket_path(&self.project.backend_bucket)
    }

    /// The owner shown in listings: the project.
    fn owner(&self) -> xml::Owner {
        xml::Owner { id: self.project.id.clone(), display_name: self.project.id.clone() }
    }

    fn object_path(&self, backend_key: &str) -> String {
        node_object_path(&self.project.backend_bucket, backend_key)
    }

    /// Whether the client bucket exists (its record is present on the node). A bucket seen to
    /// exist is remembered by the isolate for a few seconds (`BUCKET_CACHE_SECS`): most requests
    /// then skip this node round trip.
    async fn bucket_exists(&self, bucket: &str) -> S3Result<bool> {
        let cache_key = format!("{}\0{bucket}", self.project.id);
        if EXISTING_BUCKETS.with(|cache| cache.borrow_mut().get(&cache_key, self.now)).is_some() {
            return Ok(true);
        }
        let response = self.send(NodeRequest::new("HEAD", self.object_path(&bucket_record_key(bucket)))).await?;
        match response.status() {
            200 => {
                EXISTING_BUCKETS.with(|cache| cache.borrow_mut().insert(cache_key, (), self.now));
                Ok(true)
            }
            404 => Ok(false),
            status => Err(from_node_status(status, &format!("/{bucket}"))),
        }
    }

    fn forget_bucket(&self, bucket: &str) {
        EXISTING_BUCKETS.with(|cache| cache.borrow_mut().remove(&format!("{}\0{bucket}", self.project.id)));
        BUCKET_CORS.with(|cache| cache.borrow_mut().remove(bucket));
    }

    /// Send a read (a listing) about a client bucket together with the bucket's existence check,
    /// and return the node's document: NoSuchBucket wins over whatever the node answered.
    async fn read_in_bucket(&self, bucket: &str, request: NodeRequest) -> S3Result<String> {
        let (exists, response) = join(self.bucket_exists(bucket), self.send(request)).await;
        if !exists? {
            return Err(no_such_bucket(bucket));
        }
        let response = response?;
        let body = response_text(&response).await?;
        if response.status() != 200 {
            return Err(from_node_error(response.status(), &body, &format!("/{bucket}")));
        }
        Ok(body)
    }

    /// Enforce If-None-Match: * / If-Match on a write by reading the current object's ETag first.
    /// Nodes ignore these headers; this check and the write are two requests, so a concurrent
    /// writer can still slip in between (README, Limits).
    async fn check_write_conditions(&self, bucket: &str, key: &str) -> S3Result<()> {
        let conditions =
            WriteConditions::from_headers(self.head.header("if-none-match"), self.head.header("if-match"))?;
        if conditions.is_empty() {
            return Ok(());
        }
        let response = self.send(NodeRequest::new("HEAD", self.object_path(&object_backend_key(bucket, key)))).await?;
        let resource = format!("/{bucket}/{key}");
        let current = match response.status() {
            200 => response.headers().get("etag").ok().flatten().map(|etag| self.client_etag(&etag)),
            404 => None,
            status => return Err(from_node_status(status, &resource)),
        };
        conditions.check(current.as_deref()).map_err(|err| err.resource(resource))
    }

    /// The node's id of a multipart upload named by a client.
    fn node_upload_id(&self, client_id: &str) -> String {
        if self.project.encrypted {
            encrypted::node_upload_id(client_id)
        } else {
            client_id.to_string()
        }
    }

    /// A node ETag as this project's clients see it (encrypted objects have their own form).
    fn client_etag(&self, node_etag: &str) -> String {
        if self.project.encrypted {
            crate::storage::format::client_etag(node_etag)
        } else {
            node_etag.to_string()
        }
    }

    async fn require_bucket(&self, bucket: &str) -> S3Result<()> {
        if self.bucket_exists(bucket).await? {
            Ok(())
        } else {
            Err(no_such_bucket(bucket))
        }
    }
}

fn no_such_bucket(bucket: &str) -> S3Error {
    S3Error::new(S3ErrorCode::NoSuchBucket).resource(format!("/{bucket}"))
}

fn config_error(message: String) -> S3Error {
    worker::console_error!("configuration error: {message}");
    s3_error!(InternalError, "The gateway is not configured correctly.")
}

/// Authenticate, identify and serve one request; answer CORS preflights, and add a bucket's CORS
/// headers to the answers (errors included) of requests that come with an Origin.
pub async fn handle(request: &web_sys::Request, head: &RequestHead, env: &Env, now: i64) -> S3Result<Reply> {
    let config = isolate_config(env)?;
    let target = addressing::resolve(head, &config.base_domains);
    let kv = isolate_kv(env)?;
    let cors_bucket = target
        .bucket
        .clone()
        .filter(|bucket| target.style == AddressingStyle::VirtualHost || !RESERVED_ROOTS.contains(&bucket.as_str()));
    if head.method == "OPTIONS" {
        return preflight_request(head, cors_bucket.as_deref(), &config, &kv, now).await;
    }
    let result = serve(request, head, target, &config, &kv, now).await;
    let (Some(bucket), Some(origin)) = (cors_bucket, head.header("origin")) else { return result };
    let method = head.header("access-control-request-method").unwrap_or(&head.method);
    let cors = match bucket_cors(&config, &kv, &bucket, now).await {
        Ok(Some(cors)) => cors::response_headers(cors.as_ref(), Some(origin), method),
        _ => Vec::new(),
    };
    match result {
        Ok(mut reply) => {
            reply.headers.extend(cors);
            Ok(reply)
        }
        Err(err) => Err(cors.into_iter().fold(err, |err, (name, value)| err.header(&name, value))),
    }
}

thread_local! {
    /// The operator's settings, parsed once per isolate: vars and secrets change only with a new
    /// deployment, which starts new isolates.
    static CONFIG: RefCell<Option<Rc<Config>>> = const { RefCell::new(None) };
}

fn isolate_config(env: &Env) -> S3Result<Rc<Config>> {
    if let Some(config) = CONFIG.with(|c| c.borrow().clone()) {
        return Ok(config);
    }
    let config = Config::from_lookup(|name| env.var(name).ok().map(|v| v.to_string())).map_err(config_error)?;
    let config = Rc::new(config);
    CONFIG.with(|c| *c.borrow_mut() = Some(config.clone()));
    Ok(config)
}

thread_local! {
    /// The KV binding, looked up once per isolate: `Env::kv` reads the binding and five of its
    /// methods through `Reflect.get` (~8% of a warm HEAD's samples in the worker), and bindings
    /// belong to the isolate, not to one request.
    static KV: RefCell<Option<Rc<KvStore>>> = const { RefCell::new(None) };
}

fn isolate_kv(env: &Env) -> S3Result<Rc<KvStore>> {
    if let Some(kv) = KV.with(|kv| kv.borrow().clone()) {
        return Ok(kv);
    }
    let kv = Rc::new(env.kv(binding::KV).map_err(|e| config_error(format!("KV binding {}: {e}", binding::KV)))?);
    KV.with(|cell| *cell.borrow_mut() = Some(kv.clone()));
    Ok(kv)
}

/// Path roots that are not buckets: the credential API and share links.
const RESERVED_ROOTS: &[&str] = &[crate::auth::api::API_ROOT, SHARE_ROOT];

async fn serve(
    request: &web_sys::Request,
    head: &RequestHead,
    target: Target,
    config: &Config,
    kv: &KvStore,
    now: i64,
) -> S3Result<Reply> {
    let (config, kv) = (config, kv);
    // `v1` can never be a bucket (names have at least 3 characters): the credential API lives there.
    if target.style == AddressingStyle::Path && target.bucket.as_deref() == Some(crate::auth::api::API_ROOT) {
        return Ok(crate::auth::api::handle(request, head, target.key.as_deref().unwrap_or(""), config, kv, now).await);
    }
    // `s` cannot be a bucket either: share links, `/s/<public access key id>/<bucket>/<key>`.
    if target.style == AddressingStyle::Path && target.bucket.as_deref() == Some(SHARE_ROOT) {
        return share_link(head, target.key.as_deref().unwrap_or(""), config, kv, now).await;
    }
    let operation = operation::identify(head, &target).ok_or_else(|| S3Error::new(S3ErrorCode::MethodNotAllowed))?;
    // SigV2 signs the Host's bucket as part of the resource; a path-style path already holds it.
    let host_bucket = target.bucket.as_deref().filter(|_| target.style == AddressingStyle::VirtualHost);
    let caller = authenticate(head, host_bucket, kv, &config.master_secret, now).await?;
    let list_prefix = head.query_param("prefix");
    let copy_source = match operation {
        Operation::CopyObject | Operation::UploadPartCopy => {
            Some(multipart::parse_copy_source(head.header("x-amz-copy-source").unwrap_or_default())?)
        }
        _ => None,
    };
    let scope = RequestScope {
        bucket: target.bucket.as_deref(),
        key: target.key.as_deref(),
        list_prefix: list_prefix.as_deref(),
        copy_source: copy_source.as_ref().map(|source| (source.bucket.as_str(), source.key.as_str())),
    };
    // DeleteObjects is checked key by key once its body is read.
    if operation != Operation::DeleteObjects {
        authorize(&caller.grant, operation, &scope, now)?;
    }
    let ctx = project_context(head, config, kv, &caller.grant, now).await?;
    dispatch(&ctx, operation, target, &caller, request).await
}

/// The first path segment of share links.
const SHARE_ROOT: &str = "s";

/// How long an isolate reuses a bucket's CORS configuration. PutBucketCors and DeleteBucketCors
/// clear the entry of the isolate that served them; others see the change within this time.
const CORS_CACHE_SECS: i64 = 10;

thread_local! {
    /// `Some(configuration)` of an existing bucket, keyed by bucket name.
    static BUCKET_CORS: RefCell<TtlCache<Option<cors::CorsConfiguration>>> =
        RefCell::new(TtlCache::new(CORS_CACHE_SECS, 1_000));
}

/// An anonymous CORS preflight: the bucket is found through the global bucket-name index.
async fn preflight_request(
    head: &RequestHead,
    bucket: Option<&str>,
    config: &Config,
    kv: &KvStore,
    now: i64,
) -> S3Result<Reply> {
    let origin = head.header("origin");
    let Some(bucket) = bucket else { return Err(cors::preflight_without_bucket(origin)) };
    let Some(configuration) = bucket_cors(config, kv, bucket, now).await? else {
        return Err(cors::preflight_without_bucket(origin));
    };
    let headers = cors::preflight(
        configuration.as_ref(),
        origin,
        head.header("access-control-request-method"),
        head.header("access-control-request-headers"),
    )?;
    Ok(Reply { status: 200, headers, body: ReplyBody::Empty })
}

/// The CORS configuration of a bucket by name: `None` when no project owns the name or the
/// bucket does not exist, `Some(None)` when it has no configuration.
async fn bucket_cors(
    config: &Config,
    kv: &KvStore,
    bucket: &str,
    now: i64,
) -> S3Result<Option<Option<cors::CorsConfiguration>>> {
    if let Some(cached) = BUCKET_CORS.with(|cache| cache.borrow_mut().get(bucket, now)) {
        return Ok(Some(cached));
    }
    let Some(project_id) = bucket_owner(kv, bucket).await? else { return Ok(None) };
    let project = match load_project(kv, &project_id, now).await {
        Ok(project) => project,
        Err(_) => return Ok(None),
    };
    let node = config
        .nodes
        .get(&project.node)
        .ok_or_else(|| config_error(format!("project {} names unknown node", project.id)))?;
    let configuration = match read_bucket_config(node, &project.backend_bucket, bucket, now).await? {
        Some(stored) => stored.cors,
        None => {
            let record = node_object_path(&project.backend_bucket, &bucket_record_key(bucket));
            let response = send(node, NodeRequest::new("HEAD", record), now).await?;
            if response.status() != 200 {
                return Ok(None);
            }
            None
        }
    };
    BUCKET_CORS.with(|cache| cache.borrow_mut().insert(bucket.to_string(), configuration.clone(), now));
    Ok(Some(configuration))
}

/// A bucket's configuration document, if one was written.
async fn read_bucket_config(
    node: &NodeConfig,
    backend_bucket: &str,
    bucket: &str,
    now: i64,
) -> S3Result<Option<BucketConfig>> {
    let path = node_object_path(backend_bucket, &bucket_config_key(bucket));
    let response = send(node, NodeRequest::new("GET", path), now).await?;
    let body = response_text(&response).await?;
    match response.status() {
        200 => serde_json::from_str(&body)
            .map(Some)
            .map_err(|e| config_error(format!("bucket configuration of {bucket}: {e}"))),
        404 => Ok(None),
        status => Err(from_node_error(status, &body, &format!("/{bucket}"))),
    }
}

/// The project a grant acts for, with its node.
async fn project_context<'a>(
    head: &'a RequestHead,
    config: &'a Config,
    kv: &'a KvStore,
    grant: &'a Grant,
    now: i64,
) -> S3Result<Ctx<'a>> {
    let project = load_project(kv, &grant.project_id, now).await?;
    let node = config
        .nodes
        .get(&project.node)
        .ok_or_else(|| config_error(format!("project {} names unknown node", project.id)))?;
    Ok(Ctx { head, grant, config, kv, node, project, now })
}

/// An anonymous GET or HEAD through a public credential: Storj's linkshare, as
/// `/s/<access key id>/<bucket>/<key>`. The credential's grant must allow reading the object.
async fn share_link(head: &RequestHead, path: &str, config: &Config, kv: &KvStore, now: i64) -> S3Result<Reply> {
    if !matches!(head.method.as_str(), "GET" | "HEAD") {
        return Err(S3Error::new(S3ErrorCode::MethodNotAllowed));
    }
    let mut parts = path.splitn(3, '/');
    let (Some(access_key_id), Some(bucket), Some(key)) = (parts.next(), parts.next(), parts.next()) else {
        return Err(s3_error!(InvalidRequest, "Share links have the form /s/<access key id>/<bucket>/<key>."));
    };
    if key.is_empty() {
        return Err(s3_error!(InvalidRequest, "Share links have the form /s/<access key id>/<bucket>/<key>."));
    }
    let grant = public_grant(kv, access_key_id, &config.master_secret, now).await?;
    let scope = RequestScope { bucket: Some(bucket), key: Some(key), ..Default::default() };
    authorize(&grant, Operation::GetObject, &scope, now)?;
    let ctx = project_context(head, config, kv, &grant, now).await?;
    validate_object_key(key)?;
    ctx.node.check_key_fits(bucket, key)?;
    get_object(&ctx, bucket, key).await
}

/// How long an isolate remembers that a bucket exists. DeleteBucket forgets it in the isolate
/// that served it; elsewhere a write can still land in a just-deleted bucket for this long
/// (README, Limits).
const BUCKET_CACHE_SECS: i64 = 10;

thread_local! {
    static EXISTING_BUCKETS: RefCell<TtlCache<()>> = RefCell::new(TtlCache::new(BUCKET_CACHE_SECS, 10_000));
}

/// How long an isolate reuses a project record (projects change only by operator action).
const PROJECT_CACHE_SECS: i64 = 60;

thread_local! {
    static PROJECTS: RefCell<TtlCache<Project>> = RefCell::new(TtlCache::new(PROJECT_CACHE_SECS, 1_000));
}

async fn load_project(kv: &KvStore, project_id: &str, now: i64) -> S3Result<Project> {
    if let Some(project) = PROJECTS.with(|cache| cache.borrow_mut().get(project_id, now)) {
        return Ok(project);
    }
    let stored = kv
        .get(&project_kv_key(project_id))
        .text()
        .await
        .map_err(|_| s3_error!(ServiceUnavailable, "The credential store could not be reached. Please retry."))?
        .ok_or_else(|| s3_error!(InvalidAccessKeyId, "The project of this access key no longer exists."))?;
    let project: Project =
        serde_json::from_str(&stored).map_err(|e| config_error(format!("project record {project_id}: {e}")))?;
    PROJECTS.with(|cache| cache.borrow_mut().insert(project_id.to_string(), project.clone(), now));
    Ok(project)
}

async fn dispatch(
    ctx: &Ctx<'_>,
    operation: Operation,
    target: Target,
    caller: &Caller,
    request: &web_sys::Request,
) -> S3Result<Reply> {
    use Operation::*;
    let bucket = target.bucket.unwrap_or_default();
    let key = target.key.unwrap_or_default();
    if !key.is_empty() {
        validate_object_key(&key)?;
        ctx.node.check_key_fits(&bucket, &key)?;
    }
    let encrypted = ctx.project.encrypted;
    match operation {
        ListBuckets => list_buckets(ctx, &caller.grant).await,
        CreateBucket => create_bucket(ctx, &bucket, &caller.payload, request).await,
        HeadBucket => head_bucket(ctx, &bucket).await,
        DeleteBucket => delete_bucket(ctx, &bucket).await,
        ListObjectsV1 | ListObjectsV2 => list_objects(ctx, &bucket).await,
        GetBucketLocation => {
            ctx.require_bucket(&bucket).await?;
            Ok(Reply::xml(xml::location_constraint(&ctx.config.region)))
        }
        GetBucketVersioning => {
            ctx.require_bucket(&bucket).await?;
            Ok(Reply::xml(xml::versioning_configuration()))
        }
        PutBucketCors => put_bucket_cors(ctx, &bucket, &caller.payload, request).await,
        GetBucketCors => get_bucket_cors(ctx, &bucket).await,
        DeleteBucketCors => delete_bucket_cors(ctx, &bucket).await,
        PutObject if encrypted => encrypted::put_object(ctx, &bucket, &key, caller.payload.clone(), request).await,
        PutObject => put_object(ctx, &bucket, &key, caller.payload.clone(), request).await,
        GetObject | HeadObject if encrypted => encrypted::get_object(ctx, &bucket, &key).await,
        GetObject | HeadObject => get_object(ctx, &bucket, &key).await,
        DeleteObject => delete_object(ctx, &bucket, &key).await,
        CreateMultipartUpload if encrypted => encrypted::create_multipart_upload(ctx, &bucket, &key).await,
        CreateMultipartUpload => create_multipart_upload(ctx, &bucket, &key).await,
        UploadPart if encrypted => encrypted::upload_part(ctx, &bucket, &key, caller.payload.clone(), request).await,
        UploadPart => upload_part(ctx, &bucket, &key, caller.payload.clone(), request).await,
        UploadPartCopy | CopyObject if encrypted => {
            let source = multipart::parse_copy_source(ctx.head.header("x-amz-copy-source").unwrap_or_default())?;
            ctx.node.check_key_fits(&source.bucket, &source.key)?;
            if operation == CopyObject {
                encrypted::copy_object(ctx, &bucket, &key, &source).await
            } else {
                encrypted::upload_part_copy(ctx, &bucket, &key, &source).await
            }
        }
        UploadPartCopy | CopyObject => copy(ctx, operation, &bucket, &key).await,
        CompleteMultipartUpload => complete_multipart_upload(ctx, &bucket, &key, &caller.payload, request).await,
        AbortMultipartUpload => abort_multipart_upload(ctx, &bucket, &key).await,
        ListParts => list_parts(ctx, &bucket, &key).await,
        ListMultipartUploads => list_multipart_uploads(ctx, &bucket).await,
        DeleteObjects => delete_objects(ctx, &bucket, caller, request).await,
        other => Err(s3_error!(NotImplemented, "{} is not implemented yet.", other.name())),
    }
}

async fn list_buckets(ctx: &Ctx<'_>, grant: &Grant) -> S3Result<Reply> {
    let prefix = bucket_records_prefix();
    let mut buckets = Vec::new();
    let mut continuation: Option<String> = None;
    // A project's bucket records, every page: ListBuckets is not paginated for the client.
    loop {
        let mut request =
            NodeRequest::new("GET", ctx.bucket_path()).query("list-type", "2").query("prefix", prefix.clone());
        if let Some(token) = continuation.take() {
            request = request.query("continuation-token", token);
        }
        let response = ctx.send(request).await?;
        let body = response_text(&response).await?;
        if response.status() != 200 {
            return Err(from_node_error(response.status(), &body, "/"));
        }
        let page = list::parse_node_list(&body)?;
        for object in &page.contents {
            // A bucket-restricted grant sees only its buckets.
            if let Some(name) = object.key.strip_prefix(&prefix).filter(|name| grant.bucket_visible(name)) {
                // The record is written once, at creation: its modification time is the creation time.
                let created_unix_millis = xml::parse_iso8601_millis(&object.last_modified).unwrap_or(0);
                buckets.push(xml::BucketEntry { name: name.to_string(), created_unix_millis });
            }
        }
        match page.next_continuation_token {
            Some(token) if page.is_truncated => continuation = Some(token),
            _ => break,
        }
    }
    Ok(Reply::xml(xml::list_all_my_buckets(&ctx.owner(), &buckets)))
}

async fn create_bucket(
    ctx: &Ctx<'_>,
    bucket: &str,
    payload: &PayloadHash,
    request: &web_sys::Request,
) -> S3Result<Reply> {
    validate_bucket_name(bucket)?;
    let body = read_small_body(request, ctx.head, payload, 64 * 1024).await?;
    let location = xml::parse_create_bucket_configuration(&body)?;
    let owner = bucket_owner(ctx.kv, bucket).await?;
    if owner.as_ref().is_some_and(|owner| *owner != ctx.project.id) {
        return Err(S3Error::new(S3ErrorCode::BucketAlreadyExists).resource(format!("/{bucket}")));
    }
    if ctx.bucket_exists(bucket).await? {
        return Err(S3Error::new(S3ErrorCode::BucketAlreadyOwnedByYou).resource(format!("/{bucket}")));
    }
    let record = BucketRecord { created_at_ms: ctx.now * 1000, region: location };
    let record = serde_json::to_vec(&record).expect("bucket records serialize");
    // If-None-Match makes a concurrent create of the same bucket lose cleanly on nodes that
    // support conditional writes.
    let response = ctx
        .send(
            NodeRequest::new("PUT", ctx.object_path(&bucket_record_key(bucket)))
                .header("content-type", "application/json")
                .header("if-none-match", "*")
                .body(NodeBody::Bytes(record)),
        )
        .await?;
    match response.status() {
        200 => {
            discard_body(&response);
            if owner.is_none() {
                claim_bucket_name(ctx, bucket).await;
            }
            Ok(Reply::empty(200).header("location", format!("/{bucket}")))
        }
        412 => Err(S3Error::new(S3ErrorCode::BucketAlreadyOwnedByYou).resource(format!("/{bucket}"))),
        status => Err(from_node_error(status, &response_text(&response).await?, &format!("/{bucket}"))),
    }
}

/// The project owning a bucket name in the global index, if any.
async fn bucket_owner(kv: &KvStore, bucket: &str) -> S3Result<Option<String>> {
    kv.get(&bucket_owner_kv_key(bucket))
        .text()
        .await
        .map_err(|_| s3_error!(ServiceUnavailable, "The bucket index could not be reached. Please retry."))
}

/// Record this project as the owner of a bucket name. The bucket record on the node is the
/// truth; the index serves anonymous lookups (CORS), so a failed write is logged, not fatal,
/// and PutBucketCors writes it again.
async fn claim_bucket_name(ctx: &Ctx<'_>, bucket: &str) {
    let written = match ctx.kv.put(&bucket_owner_kv_key(bucket), ctx.project.id.as_str()) {
        Ok(put) => put.execute().await.map_err(|e| e.to_string()),
        Err(e) => Err(e.to_string()),
    };
    if let Err(e) = written {
        worker::console_error!("bucket index: could not record {bucket}: {e}");
    }
}

/// Write (or, when empty, remove) a bucket's configuration document.
async fn write_bucket_config(ctx: &Ctx<'_>, bucket: &str, stored: &BucketConfig) -> S3Result<()> {
    let path = ctx.object_path(&bucket_config_key(bucket));
    let request = if stored.is_empty() {
        NodeRequest::new("DELETE", path)
    } else {
        let body = serde_json::to_vec(stored).expect("bucket configurations serialize");
        NodeRequest::new("PUT", path).header("content-type", "application/json").body(NodeBody::Bytes(body))
    };
    let response = ctx.send(request).await?;
    BUCKET_CORS.with(|cache| cache.borrow_mut().remove(bucket));
    match response.status() {
        200 | 204 | 404 => {
            discard_body(&response);
            Ok(())
        }
        status => Err(from_node_error(status, &response_text(&response).await?, &format!("/{bucket}"))),
    }
}

async fn put_bucket_cors(
    ctx: &Ctx<'_>,
    bucket: &str,
    payload: &PayloadHash,
    request: &web_sys::Request,
) -> S3Result<Reply> {
    let body = read_small_body(request, ctx.head, payload, cors::MAX_CORS_CONFIGURATION_BYTES).await?;
    if let Some(md5) = ctx.head.header("content-md5") {
        let mut check = crate::storage::checksum::ContentMd5Check::new(md5)?;
        check.update(&body);
        check.verify()?;
    }
    let configuration = cors::parse_cors_configuration(&body)?;
    let (exists, stored) =
        join(ctx.bucket_exists(bucket), read_bucket_config(ctx.node, &ctx.project.backend_bucket, bucket, ctx.now))
            .await;
    if !exists? {
        return Err(no_such_bucket(bucket));
    }
    let mut stored = stored?.unwrap_or_default();
    stored.cors = Some(configuration);
    write_bucket_config(ctx, bucket, &stored).await?;
    // Preflights find the bucket through the index: make sure it names this project.
    if bucket_owner(ctx.kv, bucket).await?.is_none() {
        claim_bucket_name(ctx, bucket).await;
    }
    Ok(Reply::empty(200))
}

async fn get_bucket_cors(ctx: &Ctx<'_>, bucket: &str) -> S3Result<Reply> {
    let (exists, stored) =
        join(ctx.bucket_exists(bucket), read_bucket_config(ctx.node, &ctx.project.backend_bucket, bucket, ctx.now))
            .await;
    if !exists? {
        return Err(no_such_bucket(bucket));
    }
    match stored?.and_then(|stored| stored.cors) {
        Some(configuration) => Ok(Reply::xml(configuration.to_xml())),
        None => Err(S3Error::new(S3ErrorCode::NoSuchCORSConfiguration).resource(format!("/{bucket}"))),
    }
}

async fn delete_bucket_cors(ctx: &Ctx<'_>, bucket: &str) -> S3Result<Reply> {
    let (exists, stored) =
        join(ctx.bucket_exists(bucket), read_bucket_config(ctx.node, &ctx.project.backend_bucket, bucket, ctx.now))
            .await;
    if !exists? {
        return Err(no_such_bucket(bucket));
    }
    if let Some(mut stored) = stored? {
        stored.cors = None;
        write_bucket_config(ctx, bucket, &stored).await?;
    }
    Ok(Reply::empty(204))
}

async fn head_bucket(ctx: &Ctx<'_>, bucket: &str) -> S3Result<Reply> {
    ctx.require_bucket(bucket).await?;
    Ok(Reply::empty(200).header("x-amz-bucket-region", ctx.config.region.clone()))
}

async fn delete_bucket(ctx: &Ctx<'_>, bucket: &str) -> S3Result<Reply> {
    let probe = NodeRequest::new("GET", ctx.bucket_path())
        .query("list-type", "2")
        .query("prefix", bucket_prefix(bucket))
        .query("max-keys", "1");
    if !list::parse_node_list(&ctx.read_in_bucket(bucket, probe).await?)?.contents.is_empty() {
        return Err(S3Error::new(S3ErrorCode::BucketNotEmpty).resource(format!("/{bucket}")));
    }
    // The configuration first: a bucket re-created under this name starts without it.
    write_bucket_config(ctx, bucket, &BucketConfig::default()).await?;
    ctx.forget_bucket(bucket);
    let response = ctx.send(NodeRequest::new("DELETE", ctx.object_path(&bucket_record_key(bucket)))).await?;
    match response.status() {
        200 | 204 => {
            if bucket_owner(ctx.kv, bucket).await.ok().flatten().as_deref() == Some(ctx.project.id.as_str()) {
                // Best effort: a stale entry only keeps the name reserved for this project.
                if let Err(e) = ctx.kv.delete(&bucket_owner_kv_key(bucket)).await {
                    worker::console_error!("bucket index: could not release {bucket}: {e}");
                }
            }
            Ok(Reply::empty(204))
        }
        status => Err(from_node_error(status, &response_text(&response).await?, &format!("/{bucket}"))),
    }
}

async fn list_objects(ctx: &Ctx<'_>, bucket: &str) -> S3Result<Reply> {
    let params = ctx.head.query_params();
    let list_request = list::ListRequest::from_query(&params)?;
    let mut request = NodeRequest::new("GET", ctx.bucket_path());
    for (name, value) in list::backend_list_query(&list_request, &bucket_prefix(bucket)) {
        request = request.query(&name, value);
    }
    let mut page = list::parse_node_list(&ctx.read_in_bucket(bucket, request).await?)?;
    if ctx.project.encrypted {
        // Plaintext sizes and client ETags, by arithmetic on what the node lists.
        for object in &mut page.contents {
            object.size = plaintext_len(object.size).unwrap_or(object.size);
            object.etag = ctx.client_etag(&object.etag);
        }
    }
    Ok(Reply::xml(list::render_list(&list_request, bucket, &bucket_prefix(bucket), &page, &ctx.owner())))
}

/// Declared body length of an upload: Content-Length, which workerd enforces on the stream.
fn declared_length(head: &RequestHead) -> S3Result<u64> {
    let value = head.header("content-length").ok_or_else(|| S3Error::new(S3ErrorCode::MissingContentLength))?;
    value.trim().parse().map_err(|_| s3_error!(InvalidArgument, "Content-Length {value:?} is not a number."))
}

async fn put_object(
    ctx: &Ctx<'_>,
    bucket: &str,
    key: &str,
    payload: PayloadHash,
    request: &web_sys::Request,
) -> S3Result<Reply> {
    ctx.require_bucket(bucket).await?;
    ctx.check_write_conditions(bucket, key).await?;
    let mut node_request = NodeRequest::new("PUT", ctx.object_path(&object_backend_key(bucket, key)));
    for (name, value) in headers::put_object_request_headers(&ctx.head.headers) {
        node_request = node_request.header(&name, value);
    }
    let response =
        upload_body(ctx, node_request, payload, request, &format!("/{bucket}/{key}"), S3ErrorCode::NoSuchBucket, None)
            .await?;
    Ok(pass_headers(Reply::empty(200), &response))
}

/// Send the client's body to the node under the integrity rules: a large body streams, the
/// signed payload hash verified on the way and the final bytes held back until it matches; a
/// small one is read whole and checked before anything is sent. Returns the node's 200 answer
/// (body discarded) or the client's error.
async fn upload_body(
    ctx: &Ctx<'_>,
    node_request: NodeRequest,
    payload: PayloadHash,
    request: &web_sys::Request,
    resource: &str,
    not_found: S3ErrorCode,
    sealer: Option<Sealer>,
) -> S3Result<Response> {
    let decoder = AwsChunkedDecoder::for_request(ctx.head, &payload)?;
    let length = match decoder {
        Some(_) => chunked::decoded_content_length(ctx.head)?,
        None => declared_length(ctx.head)?,
    };
    let mut checks: Vec<Box<dyn BodyCheck>> = Vec::new();
    // Unsigned bodies are covered by Content-MD5 / checksums (verified by the node, or for
    // aws-chunked by the decoder's trailer); signed chunks by the decoder.
    let sha256 = match payload {
        PayloadHash::Sha256(expected) => Some(expected),
        _ => None,
    };
    let mut node_request = node_request;
    let node_length = match sealer {
        Some(_) => {
            // The node stores ciphertext: the plaintext's digests are the gateway's to verify.
            checks.extend(encrypted::plaintext_checks(ctx)?);
            node_request.headers.retain(|(name, _)| !headers::is_integrity_header(name));
            ciphertext_len(length)
        }
        None => length,
    };
    let mut node_request = node_request.header("content-length", node_length.to_string());
    if decoder.is_some() {
        // The trailer's checksum is verified here; the node gets a plain body without it.
        node_request.headers.retain(|(name, _)| name != "x-amz-sdk-checksum-algorithm");
    }
    let pipeline = BodyPipeline { checks, decoder, sealer, sha256 };
    // For aws-chunked, the encoded length: what the worker would hold.
    let wire_length = declared_length(ctx.head).ok();
    let response = match request.body() {
        Some(source) if wire_length.is_none_or(|wire| wire > WHOLE_BODY_MAX_BYTES) => {
            send_verified(ctx.node, node_request, source, length, pipeline, ctx.now).await?
        }
        // A small body (or none): read whole and checked before anything is sent.
        _ => send_whole(ctx.node, node_request, request, length, pipeline, ctx.now).await?,
    };
    if response.status() != 200 {
        // A node that refuses before reading the body may leave its answer unreadable: a bare
        // 404 then means the upload (or bucket) the request names is gone.
        let body = response_text(&response).await?;
        if response.status() == 404 && body.is_empty() {
            return Err(S3Error::new(not_found).resource(resource));
        }
        return Err(from_node_error(response.status(), &body, resource));
    }
    discard_body(&response);
    Ok(response)
}

async fn get_object(ctx: &Ctx<'_>, bucket: &str, key: &str) -> S3Result<Reply> {
    let method = if ctx.head.method == "HEAD" { "HEAD" } else { "GET" };
    let mut node_request = NodeRequest::new(method, ctx.object_path(&object_backend_key(bucket, key)));
    for (name, value) in headers::get_object_request_headers(&ctx.head.headers) {
        node_request = node_request.header(&name, value);
    }
    for (name, value) in ctx.head.query_params() {
        if headers::GET_QUERY_OVERRIDES.contains(&name.as_str()) {
            node_request = node_request.query(&name, value);
        } else if name == "partNumber" {
            node_request = node_request.query("partNumber", multipart::parse_part_number(&value)?.to_string());
        }
    }
    let response = ctx.send(node_request).await?;
    let status = response.status();
    let resource = format!("/{bucket}/{key}");
    match status {
        200 | 206 => {
            let reply = Reply {
                status,
                headers: Vec::new(),
                body: response.body().map_or(ReplyBody::Empty, ReplyBody::Stream),
            };
            Ok(pass_headers(reply, &response))
        }
        304 => {
            discard_body(&response);
            Ok(pass_headers(Reply::empty(304), &response))
        }
        404 => Err(read_error(ctx, response, bucket, key, method).await),
        416 => {
            let mut err = S3Error::new(S3ErrorCode::InvalidRange).resource(resource);
            if let Some(range) = response.headers().get("content-range").ok().flatten() {
                err = err.header("content-range", range);
            }
            discard_body(&response);
            Err(err)
        }
        _ => Err(read_error(ctx, response, bucket, key, method).await),
    }
}

/// The client's error for a failed node read of an object: NoSuchKey or NoSuchBucket for a 404,
/// otherwise the node's error (a HEAD answer has no body to read it from).
async fn read_error(ctx: &Ctx<'_>, response: Response, bucket: &str, key: &str, method: &str) -> S3Error {
    let resource = format!("/{bucket}/{key}");
    let status = response.status();
    if status == 404 {
        discard_body(&response);
        return match ctx.bucket_exists(bucket).await {
            Ok(true) => S3Error::new(S3ErrorCode::NoSuchKey).resource(resource),
            Ok(false) => no_such_bucket(bucket),
            Err(err) => err,
        };
    }
    if method == "HEAD" {
        discard_body(&response);
        return from_node_status(status, &resource);
    }
    match response_text(&response).await {
        Ok(body) => from_node_error(status, &body, &resource),
        Err(err) => err,
    }
}

async fn delete_object(ctx: &Ctx<'_>, bucket: &str, key: &str) -> S3Result<Reply> {
    let (exists, response) = join(
        ctx.bucket_exists(bucket),
        ctx.send(NodeRequest::new("DELETE", ctx.object_path(&object_backend_key(bucket, key)))),
    )
    .await;
    if !exists? {
        return Err(no_such_bucket(bucket));
    }
    let response = response?;
    match response.status() {
        200 | 204 | 404 => Ok(Reply::empty(204)),
        status => Err(from_node_error(status, &response_text(&response).await?, &format!("/{bucket}/{key}"))),
    }
}

/// The upload id of a multipart request (the node's own, passed through opaque).
fn upload_id(head: &RequestHead) -> S3Result<String> {
    head.query_param("uploadId").filter(|id| !id.is_empty()).ok_or_else(|| S3Error::new(S3ErrorCode::NoSuchUpload))
}

/// Read a node's small XML answer, or the client's error for a non-200 status.
async fn node_document(response: Response, resource: &str) -> S3Result<String> {
    let body = response_text(&response).await?;
    if response.status() != 200 {
        return Err(from_node_error(response.status(), &body, resource));
    }
    Ok(body)
}

async fn create_multipart_upload(ctx: &Ctx<'_>, bucket: &str, key: &str) -> S3Result<Reply> {
    ctx.require_bucket(bucket).await?;
    let mut node_request =
        NodeRequest::new("POST", ctx.object_path(&object_backend_key(bucket, key))).query("uploads", "");
    for (name, value) in headers::put_object_request_headers(&ctx.head.headers) {
        node_request = node_request.header(&name, value);
    }
    let resource = format!("/{bucket}/{key}");
    let document = node_document(ctx.send(node_request).await?, &resource).await?;
    let upload_id = multipart::parse_node_initiate(&document)?;
    Ok(Reply::xml(multipart::render_initiate(bucket, key, &upload_id)))
}

async fn upload_part(
    ctx: &Ctx<'_>,
    bucket: &str,
    key: &str,
    payload: PayloadHash,
    request: &web_sys::Request,
) -> S3Result<Reply> {
    let part_number = multipart::parse_part_number(&ctx.head.query_param("partNumber").unwrap_or_default())?;
    let mut node_request = NodeRequest::new("PUT", ctx.object_path(&object_backend_key(bucket, key)))
        .query("partNumber", part_number.to_string())
        .query("uploadId", upload_id(ctx.head)?);
    for (name, value) in headers::upload_part_request_headers(&ctx.head.headers) {
        node_request = node_request.header(&name, value);
    }
    let response =
        upload_body(ctx, node_request, payload, request, &format!("/{bucket}/{key}"), S3ErrorCode::NoSuchUpload, None)
            .await?;
    Ok(pass_headers(Reply::empty(200), &response))
}

/// CopyObject and UploadPartCopy: the node copies inside the project's backend bucket.
async fn copy(ctx: &Ctx<'_>, operation: Operation, bucket: &str, key: &str) -> S3Result<Reply> {
    let source = multipart::parse_copy_source(ctx.head.header("x-amz-copy-source").unwrap_or_default())?;
    ctx.node.check_key_fits(&source.bucket, &source.key)?;
    let kind =
        if operation == Operation::UploadPartCopy { multipart::CopyKind::Part } else { multipart::CopyKind::Object };
    let mut node_request = NodeRequest::new("PUT", ctx.object_path(&object_backend_key(bucket, key)));
    if kind == multipart::CopyKind::Part {
        let part_number = multipart::parse_part_number(&ctx.head.query_param("partNumber").unwrap_or_default())?;
        node_request =
            node_request.query("partNumber", part_number.to_string()).query("uploadId", upload_id(ctx.head)?);
        if let Some(range) = ctx.head.header("x-amz-copy-source-range") {
            node_request = node_request
                .header("x-amz-copy-source-range", multipart::parse_copy_source_range(range)?.header_value());
        }
    } else {
        ctx.require_bucket(bucket).await?;
        for (name, value) in headers::put_object_request_headers(&ctx.head.headers) {
            node_request = node_request.header(&name, value);
        }
    }
    let backend_source = format!(
        "/{}/{}",
        ctx.project.backend_bucket,
        crate::http::uri_encode(&object_backend_key(&source.bucket, &source.key), true)
    );
    node_request = node_request.header("x-amz-copy-source", backend_source);
    for (name, value) in headers::copy_request_headers(&ctx.head.headers) {
        node_request = node_request.header(&name, value);
    }
    let resource = format!("/{bucket}/{key}");
    let response = ctx.send(node_request).await?;
    if response.status() == 404 {
        // The source is missing: say which, as S3 does.
        discard_body(&response);
        let source_resource = format!("/{}/{}", source.bucket, source.key);
        return Err(if ctx.bucket_exists(&source.bucket).await? {
            S3Error::new(S3ErrorCode::NoSuchKey).resource(source_resource)
        } else {
            no_such_bucket(&source.bucket)
        });
    }
    let document = node_document(response, &resource).await?;
    match multipart::parse_node_copy_result(&document, kind)? {
        multipart::NodeAnswer::Done(result) => Ok(Reply::xml(multipart::render_copy_result(kind, &result))),
        multipart::NodeAnswer::Failed(failure) => Err(from_node_error(200, &failure_document(&failure), &resource)),
    }
}

/// A node error reported inside a 200 answer, as an error document for `from_node_error`.
fn failure_document(failure: &multipart::NodeErrorDocument) -> String {
    format!(
        "<Error><Code>{}</Code><Message>{}</Message></Error>",
        xml::escape(&failure.code),
        xml::escape(&failure.message)
    )
}

/// Non-final parts must be at least 5 MiB (S3's rule; some nodes do not enforce it).
const MIN_PART_SIZE: u64 = 5 * 1024 * 1024;

async fn complete_multipart_upload(
    ctx: &Ctx<'_>,
    bucket: &str,
    key: &str,
    payload: &PayloadHash,
    request: &web_sys::Request,
) -> S3Result<Reply> {
    const LIMIT: usize = 2 * 1024 * 1024;
    let upload_id = ctx.node_upload_id(&upload_id(ctx.head)?);
    let body = read_small_body(request, ctx.head, payload, LIMIT).await?;
    let mut parts = multipart::parse_complete_request(&body)?;
    if ctx.project.encrypted {
        for part in &mut parts {
            part.etag = format::node_etag(&part.etag);
            // Part checksums describe plaintext: the gateway verified them at UploadPart, and
            // the node, holding ciphertext, has none to compare with.
            part.checksums = Default::default();
        }
    }
    let resource = format!("/{bucket}/{key}");
    let path = ctx.object_path(&object_backend_key(bucket, key));

    // Check every named part against what the node holds: InvalidPart for unknown parts or
    // ETags, EntityTooSmall for small non-final parts, before anything is assembled.
    let mut uploaded = std::collections::HashMap::new();
    let mut marker: Option<u32> = None;
    loop {
        let mut listing =
            NodeRequest::new("GET", path.clone()).query("uploadId", upload_id.clone()).query("max-parts", "1000");
        if let Some(marker) = marker {
            listing = listing.query("part-number-marker", marker.to_string());
        }
        let page = multipart::parse_node_list_parts(&node_document(ctx.send(listing).await?, &resource).await?)?;
        for part in &page.parts {
            let size = if ctx.project.encrypted { plaintext_len(part.size).unwrap_or(part.size) } else { part.size };
            uploaded.insert(part.part_number, (part.etag.clone(), size, part.size));
        }
        match page.next_part_number_marker {
            Some(next) if page.is_truncated => marker = Some(next),
            _ => break,
        }
    }
    // Unknown parts first (InvalidPart), then sizes (EntityTooSmall), as S3 reports them.
    let mut sizes = Vec::with_capacity(parts.len());
    let mut node_sizes = Vec::with_capacity(parts.len());
    for part in &parts {
        match uploaded.get(&u32::from(part.part_number)) {
            Some((etag, size, node_size)) if etag.trim_matches('"') == part.etag.trim_matches('"') => {
                sizes.push(*size);
                node_sizes.push(*node_size);
            }
            _ => return Err(S3Error::new(S3ErrorCode::InvalidPart).resource(resource)),
        }
    }
    let non_final = parts.iter().zip(&sizes).take(parts.len().saturating_sub(1));
    if let Some((part, size)) = non_final.into_iter().find(|(_, size)| **size < MIN_PART_SIZE) {
        return Err(s3_error!(
            EntityTooSmall,
            "Your proposed upload is smaller than the minimum allowed size: part {} is {} bytes, and every part but the last must be at least 5 MiB.",
            part.part_number,
            size
        )
        .resource(resource));
    }
    if ctx.project.encrypted {
        for (part, node_size) in parts.iter().zip(&node_sizes).take(parts.len().saturating_sub(1)) {
            encrypted::check_part_layout(part.part_number, *node_size, &resource)?;
        }
    }

    ctx.check_write_conditions(bucket, key).await?;
    let node_request = NodeRequest::new("POST", path)
        .query("uploadId", upload_id)
        .header("content-type", "application/xml")
        .body(NodeBody::Bytes(multipart::node_complete_body(&parts).into_bytes()));
    let document = node_document(ctx.send(node_request).await?, &resource).await?;
    match multipart::parse_node_complete(&document)? {
        multipart::NodeAnswer::Done(mut upload) => {
            upload.etag = ctx.client_etag(&upload.etag);
            let location = multipart::object_location(&request_origin(ctx.head, ctx.config), bucket, key);
            Ok(Reply::xml(multipart::render_complete(&location, bucket, key, &upload)))
        }
        multipart::NodeAnswer::Failed(failure) => Err(from_node_error(200, &failure_document(&failure), &resource)),
    }
}

/// The endpoint a client used, for Location fields.
fn request_origin(head: &RequestHead, config: &Config) -> String {
    config.public_endpoint.clone().unwrap_or_else(|| format!("http://{}", head.host))
}

async fn abort_multipart_upload(ctx: &Ctx<'_>, bucket: &str, key: &str) -> S3Result<Reply> {
    let node_request = NodeRequest::new("DELETE", ctx.object_path(&object_backend_key(bucket, key)))
        .query("uploadId", ctx.node_upload_id(&upload_id(ctx.head)?));
    let response = ctx.send(node_request).await?;
    match response.status() {
        200 | 204 => Ok(Reply::empty(204)),
        status => Err(from_node_error(status, &response_text(&response).await?, &format!("/{bucket}/{key}"))),
    }
}

async fn list_parts(ctx: &Ctx<'_>, bucket: &str, key: &str) -> S3Result<Reply> {
    let list_request = multipart::ListPartsRequest::from_query(&ctx.head.query_params())?;
    let mut node_request = NodeRequest::new("GET", ctx.object_path(&object_backend_key(bucket, key)));
    for (name, value) in list_request.node_query() {
        let value = if name == "uploadId" { ctx.node_upload_id(&value) } else { value };
        node_request = node_request.query(&name, value);
    }
    let document = node_document(ctx.send(node_request).await?, &format!("/{bucket}/{key}")).await?;
    let mut listing = multipart::parse_node_list_parts(&document)?;
    if ctx.project.encrypted {
        for part in &mut listing.parts {
            part.size = plaintext_len(part.size).unwrap_or(part.size);
            part.etag = ctx.client_etag(&part.etag);
        }
    }
    Ok(Reply::xml(multipart::render_list_parts(&list_request, bucket, key, &listing, &ctx.owner())))
}

async fn list_multipart_uploads(ctx: &Ctx<'_>, bucket: &str) -> S3Result<Reply> {
    let list_request = multipart::ListUploadsRequest::from_query(&ctx.head.query_params())?;
    let prefix = bucket_prefix(bucket);
    let listing = if list_request.needs_node_request() {
        let mut node_request = NodeRequest::new("GET", ctx.bucket_path());
        for (name, value) in multipart::backend_list_uploads_query(&list_request, &prefix) {
            node_request = node_request.query(&name, value);
        }
        multipart::parse_node_list_uploads(&ctx.read_in_bucket(bucket, node_request).await?)?
    } else {
        ctx.require_bucket(bucket).await?;
        Default::default()
    };
    Ok(Reply::xml(multipart::render_list_uploads(&list_request, bucket, &prefix, &listing, &ctx.owner())))
}

async fn delete_objects(ctx: &Ctx<'_>, bucket: &str, caller: &Caller, request: &web_sys::Request) -> S3Result<Reply> {
    const LIMIT: usize = 2 * 1024 * 1024;
    let body = read_small_body(request, ctx.head, &caller.payload, LIMIT).await?;
    let delete_request = batch::parse_delete_request(&body)?;
    ctx.require_bucket(bucket).await?;
    // Each key is checked on its own: a prefix-restricted grant may delete inside its prefix.
    let plan = delete_request.plan(|object| {
        validate_object_key(&object.key)?;
        ctx.node.check_key_fits(bucket, &object.key)?;
        let scope = RequestScope { bucket: Some(bucket), key: Some(&object.key), ..Default::default() };
        authorize(&caller.grant, Operation::DeleteObject, &scope, ctx.now)
    });
    let node_result = if plan.needs_node_request() {
        let node_body = plan.node_body(bucket);
        let content_md5 = crate::base64::encode(&<md5::Md5 as md5::Digest>::digest(node_body.as_bytes()));
        let node_request = NodeRequest::new("POST", ctx.bucket_path())
            .query("delete", "")
            .header("content-type", "application/xml")
            .header("content-md5", content_md5)
            .body(NodeBody::Bytes(node_body.into_bytes()));
        batch::parse_node_delete_result(&node_document(ctx.send(node_request).await?, &format!("/{bucket}")).await?)?
    } else {
        Default::default()
    };
    Ok(Reply::xml(batch::render_delete_result(&plan, bucket, &node_result)))
}

/// Copy the node's object headers that a client may see onto the reply.
fn pass_headers(mut reply: Reply, response: &Response) -> Reply {
    let lines = crate::js_glue::header_lines(&response.headers());
    reply.headers.extend(
        crate::http::decode_header_lines(&lines).into_iter().filter(|(name, _)| headers::is_passed_to_client(name)),
    );
    reply
}

/// Read a small request body (XML configuration documents), refusing anything large. A signed
/// payload hash is checked here too: small bodies are verified whole.
async fn read_small_body(
    request: &web_sys::Request,
    head: &RequestHead,
    payload: &PayloadHash,
    limit: usize,
) -> S3Result<Vec<u8>> {
    let too_large = || s3_error!(MalformedXML, "The request document is larger than {limit} bytes.");
    if head.header("content-length").and_then(|v| v.trim().parse::<usize>().ok()).is_some_and(|len| len > limit) {
        return Err(too_large());
    }
    let Some(stream) = request.body() else { return Ok(Vec::new()) };
    let incomplete = |_: JsValue| S3Error::new(S3ErrorCode::IncompleteBody);
    let response = Response::new_with_opt_readable_stream(Some(&stream)).map_err(incomplete)?;
    let buffer =
        wasm_bindgen_futures::JsFuture::from(response.array_buffer().map_err(incomplete)?).await.map_err(incomplete)?;
    let bytes = js_sys::Uint8Array::new(&buffer).to_vec();
    if bytes.len() > limit {
        return Err(too_large());
    }
    match payload {
        PayloadHash::Sha256(expected) => {
            let mut check: Box<dyn BodyCheck> = Box::new(Sha256Check::new(*expected));
            check.update(&bytes);
            check.finish()?;
        }
        PayloadHash::Unsigned => {}
        streaming => {
            // An aws-chunked document: decode (and verify its chunk signatures or trailer) whole.
            let Some(mut decoder) = AwsChunkedDecoder::for_request(head, streaming)? else {
                return Err(s3_error!(InvalidRequest, "An aws-chunked payload needs Content-Encoding: aws-chunked."));
            };
            let mut document = Vec::with_capacity(bytes.len());
            decoder.push(&bytes, &mut document)?;
            decoder.finish()?;
            return Ok(document);
        }
    }
    Ok(bytes)
}
