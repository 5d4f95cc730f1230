//! Runtime adapter: object operations of encrypted projects. Nodes hold records and sealed
//! metadata only (docs/FORMAT.md); sizes, ETags, headers and bodies a client sees are rebuilt
//! here from them. The format's rules live in `storage::format`; this file sequences requests.

use web_sys::Response;

use super::{failure_document, node_document, read_error, upload_body, upload_id, Ctx};
use crate::auth::grant::BucketKey;
use crate::auth::sigv4::PayloadHash;
use crate::reply::{Reply, ReplyBody};
use crate::s3::headers;
use crate::s3::multipart::{self, CopyKind};
use crate::s3::range::{content_range_header, parse_range};
use crate::s3::{S3Error, S3ErrorCode, S3Result};
use crate::s3_error;
use crate::storage::checksum::{request_checksum, ContentMd5Check, RequestChecksum};
use crate::storage::cipher::{random_bytes, random_nonce, RecordCipher};
use crate::storage::client::{discard_body, response_buffer, NodeBody, NodeRequest};
use crate::storage::format::{self, FormatError, ObjectKey, Window};
use crate::storage::node::object_backend_key;
use crate::storage::record_stream::{decrypt_whole, decrypting_body, Sealer, WHOLE_READ_MAX_BYTES};
use crate::storage::upload::{send_verified, BodyPipeline};
use crate::storage::verify::BodyCheck;

/// What a node is told about a new encrypted object: its wrapped key and sealed metadata.
struct SealedObject {
    key: ObjectKey,
    headers: Vec<(String, String)>,
}

impl Ctx<'_> {
    /// The grant's content key of `bucket`: without it nothing in the bucket can be read or written.
    fn bucket_key(&self, bucket: &str) -> S3Result<BucketKey> {
        self.grant.bucket_key(bucket).ok_or_else(|| {
            s3_error!(AccessDenied, "This access grant does not carry the encryption key of bucket {bucket}.")
                .resource(format!("/{bucket}"))
        })
    }

    fn cipher_path(&self) -> crate::config::CryptoPath {
        self.config.crypto
    }
}

/// A fresh object key, wrapped for `bucket`/`key`, with `stored` headers sealed under it.
fn seal_new_object(ctx: &Ctx<'_>, bucket: &str, key: &str, stored: &[(String, String)]) -> S3Result<SealedObject> {
    let bucket_key = ctx.bucket_key(bucket)?;
    let object_key = ObjectKey::from_bytes(random_bytes::<32>()?);
    let wrapped = format::wrap_key(&bucket_key, key, &object_key, random_nonce()?);
    let sealed = format::seal_metadata(&object_key, stored, random_nonce()?);
    Ok(SealedObject { headers: node_object_headers(wrapped, sealed), key: object_key })
}

fn node_object_headers(wrapped_key: String, sealed_metadata: String) -> Vec<(String, String)> {
    vec![
        (format::KEY_HEADER.to_string(), wrapped_key),
        (format::METADATA_HEADER.to_string(), sealed_metadata),
        ("content-type".to_string(), "application/octet-stream".to_string()),
    ]
}

/// The object headers to seal for a new object: content headers, user metadata, and the
/// checksum the client declared in a header (returned later with ChecksumMode=ENABLED).
fn stored_headers(ctx: &Ctx<'_>) -> S3Result<Vec<(String, String)>> {
    let mut stored = headers::stored_object_headers(&ctx.head.headers);
    if let RequestChecksum::Header { algorithm, value } = request_checksum(ctx.head)? {
        stored.push((algorithm.header_name().to_string(), value));
    }
    Ok(stored)
}

/// The checks the node cannot make on ciphertext: Content-MD5 and a checksum header, over the
/// plaintext. (A trailing checksum is verified by the aws-chunked decoder.)
pub(super) fn plaintext_checks(ctx: &Ctx<'_>) -> S3Result<Vec<Box<dyn BodyCheck>>> {
    let mut checks: Vec<Box<dyn BodyCheck>> = Vec::new();
    if let Some(md5) = ctx.head.header("content-md5") {
        checks.push(Box::new(ContentMd5Check::new(md5)?));
    }
    if let Some(check) = request_checksum(ctx.head)?.header_check()? {
        checks.push(Box::new(check));
    }
    Ok(checks)
}

/// The node's ETag header, as clients of encrypted projects see it.
fn client_etag_of(response: &Response) -> Option<String> {
    response.headers().get("etag").ok().flatten().map(|etag| format::client_etag(&etag))
}

/// The client ETag of a write the node accepted. Clients need it (multipart assembly names
/// parts by it), so an answer without one is an error the client retries, not a silent 200.
fn written_etag(response: &Response, resource: &str) -> S3Result<String> {
    client_etag_of(response).ok_or_else(|| {
        worker::console_error!("{resource}: the node accepted a write without an ETag (status {})", response.status());
        s3_error!(InternalError, "The storage node did not confirm the write. Please retry.").resource(resource)
    })
}

pub(super) async fn put_object(
    ctx: &Ctx<'_>,
    bucket: &str,
    key: &str,
    payload: PayloadHash,
    request: &web_sys::Request,
) -> S3Result<Reply> {
    ctx.require_bucket(bucket).await?;
    ctx.check_write_conditions(bucket, key).await?;
    let stored = stored_headers(ctx)?;
    let object = seal_new_object(ctx, bucket, key, &stored)?;
    let mut node_request = NodeRequest::new("PUT", ctx.object_path(&object_backend_key(bucket, key)));
    for (name, value) in object.headers {
        node_request = node_request.header(&name, value);
    }
    let sealer = Sealer::new(RecordCipher::new(&object.key, ctx.cipher_path()).await?, 0);
    let resource = format!("/{bucket}/{key}");
    let response =
        upload_body(ctx, node_request, payload, request, &resource, S3ErrorCode::NoSuchBucket, Some(sealer)).await?;
    let mut reply = Reply::empty(200).header("etag", written_etag(&response, &resource)?);
    for (name, value) in stored.iter().filter(|(name, _)| name.starts_with("x-amz-checksum-")) {
        reply = reply.header(name, value.clone());
    }
    Ok(reply)
}

/// Node conditions for a read: If-Match / If-None-Match name client ETags, which map back to the
/// node's (the mapping is invertible, docs/FORMAT.md); dates pass unchanged.
fn conditional_headers(ctx: &Ctx<'_>, prefix: &str) -> Vec<(String, String)> {
    let mut out = Vec::new();
    for condition in ["if-match", "if-none-match", "if-modified-since", "if-unmodified-since"] {
        let Some(value) = ctx.head.header(&format!("{prefix}{condition}")) else { continue };
        let value = if condition.ends_with("match") {
            value.split(',').map(|etag| format::node_etag(etag.trim())).collect::<Vec<_>>().join(", ")
        } else {
            value.to_string()
        };
        out.push((condition.to_string(), value));
    }
    out
}

/// The object key of a node object, unwrapped with the grant's bucket key.
fn object_key_of(ctx: &Ctx<'_>, response: &Response, bucket: &str, key: &str) -> S3Result<ObjectKey> {
    let bucket_key = ctx.bucket_key(bucket)?;
    let wrapped = response.headers().get(format::KEY_HEADER).ok().flatten().ok_or_else(|| not_sealed(bucket, key))?;
    format::unwrap_key(&bucket_key, key, &wrapped).map_err(|err| {
        worker::console_error!("unwrapping the key of /{bucket}/{key}: {err}");
        not_sealed(bucket, key)
    })
}

/// The node's bytes do not fit the format: logged with the detail, answered without it.
fn stored_object_error(err: &FormatError, bucket: &str, key: &str) -> S3Error {
    worker::console_error!("/{bucket}/{key}: {err}");
    not_sealed(bucket, key)
}

fn not_sealed(bucket: &str, key: &str) -> S3Error {
    s3_error!(InternalError, "The stored object is not in the encrypted format or its key does not verify.")
        .resource(format!("/{bucket}/{key}"))
}

/// The sealed headers of a node object.
fn opened_metadata(
    response: &Response,
    object_key: &ObjectKey,
    bucket: &str,
    key: &str,
) -> S3Result<Vec<(String, String)>> {
    match response.headers().get(format::METADATA_HEADER).ok().flatten() {
        None => Ok(Vec::new()),
        Some(sealed) => format::open_metadata(object_key, &sealed).map_err(|err| {
            worker::console_error!("opening the metadata of /{bucket}/{key}: {err}");
            not_sealed(bucket, key)
        }),
    }
}

/// `bytes first-last/total` of a 206 answer.
fn parse_content_range(value: &str) -> Option<(u64, u64)> {
    let rest = value.trim().strip_prefix("bytes ")?;
    let (span, total) = rest.split_once('/')?;
    let (first, _) = span.split_once('-')?;
    Some((first.trim().parse().ok()?, total.trim().parse().ok()?))
}

fn header_u64(response: &Response, name: &str) -> Option<u64> {
    response.headers().get(name).ok().flatten().and_then(|v| v.trim().parse().ok())
}

pub(super) async fn get_object(ctx: &Ctx<'_>, bucket: &str, key: &str) -> S3Result<Reply> {
    let method = if ctx.head.method == "HEAD" { "HEAD" } else { "GET" };
    let resource = format!("/{bucket}/{key}");
    let part_number = match ctx.head.query_param("partNumber") {
        Some(value) => Some(multipart::parse_part_number(&value)?),
        None => None,
    };
    // A Range S3 cannot parse is ignored: the whole object is served.
    let range = if part_number.is_none() { ctx.head.header("range").and_then(parse_range) } else { None };
    let plan = format::plan_read(range);
    let mut node_request = NodeRequest::new(method, ctx.object_path(&object_backend_key(bucket, key)));
    if let Some(node_range) = plan.node_range() {
        node_request = node_request.header("range", node_range);
    }
    for (name, value) in conditional_headers(ctx, "") {
        node_request = node_request.header(&name, value);
    }
    if let Some(part_number) = part_number {
        node_request = node_request.query("partNumber", part_number.to_string());
    }
    let response = ctx.send(node_request).await?;
    let status = response.status();
    match status {
        200 | 206 => {}
        304 => {
            discard_body(&response);
            let mut reply = Reply::empty(304);
            if let Some(etag) = client_etag_of(&response) {
                reply = reply.header("etag", etag);
            }
            if let Some(modified) = response.headers().get("last-modified").ok().flatten() {
                reply = reply.header("last-modified", modified);
            }
            return Ok(reply);
        }
        416 => {
            discard_body(&response);
            let total = response
                .headers()
                .get("content-range")
                .ok()
                .flatten()
                .and_then(|v| v.rsplit('/').next().and_then(|t| t.trim().parse::<u64>().ok()))
                .and_then(|ciphertext| format::plaintext_len(ciphertext).ok());
            let mut err = S3Error::new(S3ErrorCode::InvalidRange).resource(resource);
            if let Some(total) = total {
                err = err.header("content-range", format!("bytes */{total}"));
            }
            return Err(err);
        }
        _ => return Err(read_error(ctx, response, bucket, key, method).await),
    }
    let object_key = object_key_of(ctx, &response, bucket, key)?;
    let stored = opened_metadata(&response, &object_key, bucket, key)?;
    let length = header_u64(&response, "content-length").unwrap_or(0);
    let (first, total) = match response.headers().get("content-range").ok().flatten() {
        Some(range) if status == 206 => parse_content_range(&range).ok_or_else(|| not_sealed(bucket, key))?,
        _ => (0, length),
    };
    let window = match part_number {
        Some(_) => format::resolve_part(first, length, total),
        None => plan.resolve(first, total),
    };
    let window: Window = match window {
        Ok(window) => window,
        Err(FormatError::Unsatisfiable { plaintext_total }) => {
            discard_body(&response);
            return Err(S3Error::new(S3ErrorCode::InvalidRange)
                .resource(resource)
                .header("content-range", format!("bytes */{plaintext_total}")));
        }
        Err(err) => {
            discard_body(&response);
            return Err(stored_object_error(&err, bucket, key));
        }
    };
    let partial = window.partial && (part_number.is_none() || status == 206);
    let mut reply = Reply::empty(if partial { 206 } else { 200 });
    reply = reply.header("content-length", window.length.to_string()).header("accept-ranges", "bytes");
    if partial {
        reply = reply.header("content-range", content_range_header(window.start, window.end, window.total));
    }
    if let Some(etag) = client_etag_of(&response) {
        reply = reply.header("etag", etag);
    }
    for name in ["last-modified", "x-amz-mp-parts-count"] {
        if let Some(value) = response.headers().get(name).ok().flatten() {
            reply = reply.header(name, value);
        }
    }
    // S3's type for objects stored without one (an empty type would also invite the front end
    // to compress the body).
    let overrides = ctx.head.query_params();
    let typed = stored.iter().any(|(name, _)| name == "content-type")
        || overrides.iter().any(|(name, _)| name == "response-content-type");
    if !typed {
        reply = reply.header("content-type", "binary/octet-stream");
    }
    let checksum_mode = ctx.head.header("x-amz-checksum-mode").is_some_and(|m| m.eq_ignore_ascii_case("enabled"));
    for (name, value) in stored {
        // Checksums describe the whole object: only with ChecksumMode=ENABLED, and not on ranges.
        if name.starts_with("x-amz-checksum-") && (partial || !checksum_mode) {
            continue;
        }
        let overridden = overrides.iter().any(|(q, _)| q.strip_prefix("response-") == Some(name.as_str()));
        if !overridden {
            reply = reply.header(&name, value);
        }
    }
    for (query, value) in overrides {
        if headers::GET_QUERY_OVERRIDES.contains(&query.as_str()) {
            reply = reply.header(&query["response-".len()..], value);
        }
    }
    if method == "GET" && window.length == 0 && window.reaches_end {
        // Nothing to serve, but the one (empty) record is read and checked all the same, or a
        // node could pass any object off as empty.
        let stored = crate::storage::client::response_bytes(&response).await?;
        check_empty_object(&stored, &object_key, &window).map_err(|err| stored_object_error(&err, bucket, key))?;
        return Ok(reply);
    }
    match response.body() {
        Some(body) if method == "GET" && window.length > 0 => {
            let cipher = RecordCipher::new(&object_key, ctx.cipher_path()).await?;
            let part = part_number.map(u32::from);
            reply.body = if header_u64(&response, "content-length")
                .is_some_and(|len| len <= window.node_skip + WHOLE_READ_MAX_BYTES)
            {
                // One record at most: decrypted before the answer goes out.
                let stored = response_buffer(&response).await?;
                ReplyBody::Bytes(decrypt_whole(stored, &cipher, &window, part).await.map_err(|err| {
                    worker::console_error!("reading {resource}: {}", err.message);
                    err.resource(resource.clone())
                })?)
            } else {
                ReplyBody::Stream(decrypting_body(body, cipher, window, part, resource)?)
            };
        }
        _ => discard_body(&response),
    }
    Ok(reply)
}

pub(super) async fn create_multipart_upload(ctx: &Ctx<'_>, bucket: &str, key: &str) -> S3Result<Reply> {
    ctx.require_bucket(bucket).await?;
    let object = seal_new_object(ctx, bucket, key, &headers::stored_object_headers(&ctx.head.headers))?;
    let wrapped = object.headers[0].1.clone();
    let mut node_request =
        NodeRequest::new("POST", ctx.object_path(&object_backend_key(bucket, key))).query("uploads", "");
    for (name, value) in object.headers {
        node_request = node_request.header(&name, value);
    }
    let resource = format!("/{bucket}/{key}");
    let document = node_document(ctx.send(node_request).await?, &resource).await?;
    let node_upload_id = multipart::parse_node_initiate(&document)?;
    let upload_id = format::encode_upload_id(&node_upload_id, &wrapped);
    Ok(Reply::xml(multipart::render_initiate(bucket, key, &upload_id)))
}

/// The node's upload id and the upload's object key, from the id a client was given.
fn open_upload_id(ctx: &Ctx<'_>, bucket: &str, key: &str) -> S3Result<(String, ObjectKey)> {
    let client_id = upload_id(ctx.head)?;
    let no_such_upload = || S3Error::new(S3ErrorCode::NoSuchUpload).resource(format!("/{bucket}/{key}"));
    let (node_id, wrapped) = format::decode_upload_id(&client_id).ok_or_else(no_such_upload)?;
    let object_key = format::unwrap_key(&ctx.bucket_key(bucket)?, key, &wrapped).map_err(|_| no_such_upload())?;
    Ok((node_id, object_key))
}

/// The node's id of an upload: clients name encrypted uploads as `<node id>.<wrapped key>`;
/// ids from ListMultipartUploads are the node's own and are accepted as they are.
pub(super) fn node_upload_id(client_id: &str) -> String {
    format::decode_upload_id(client_id).map(|(node_id, _)| node_id).unwrap_or_else(|| client_id.to_string())
}

pub(super) async fn upload_part(
    ctx: &Ctx<'_>,
    bucket: &str,
    key: &str,
    payload: PayloadHash,
    request: &web_sys::Request,
) -> S3Result<Reply> {
    let part_number = multipart::parse_part_number(&ctx.head.query_param("partNumber").unwrap_or_default())?;
    let (node_id, object_key) = open_upload_id(ctx, bucket, key)?;
    let node_request = NodeRequest::new("PUT", ctx.object_path(&object_backend_key(bucket, key)))
        .query("partNumber", part_number.to_string())
        .query("uploadId", node_id);
    let sealer = Sealer::new(RecordCipher::new(&object_key, ctx.cipher_path()).await?, u32::from(part_number));
    let resource = format!("/{bucket}/{key}");
    let response =
        upload_body(ctx, node_request, payload, request, &resource, S3ErrorCode::NoSuchUpload, Some(sealer)).await?;
    let mut reply = Reply::empty(200).header("etag", written_etag(&response, &resource)?);
    if let RequestChecksum::Header { algorithm, value } = request_checksum(ctx.head)? {
        reply = reply.header(algorithm.header_name(), value);
    }
    Ok(reply)
}

/// UploadPartCopy: the source's plaintext range, decrypted, re-encrypted as the part's records.
pub(super) async fn upload_part_copy(
    ctx: &Ctx<'_>,
    bucket: &str,
    key: &str,
    source: &multipart::CopySource,
) -> S3Result<Reply> {
    let part_number = multipart::parse_part_number(&ctx.head.query_param("partNumber").unwrap_or_default())?;
    let (node_id, object_key) = open_upload_id(ctx, bucket, key)?;
    let source_resource = format!("/{}/{}", source.bucket, source.key);
    let copy_range = match ctx.head.header("x-amz-copy-source-range") {
        Some(range) => Some(multipart::parse_copy_source_range(range)?),
        None => None,
    };
    let range = copy_range.map(|r| crate::s3::range::ByteRangeSpec::Bounded { first: r.first, last: r.last });
    let plan = format::plan_read(range);
    let mut read = NodeRequest::new("GET", ctx.object_path(&object_backend_key(&source.bucket, &source.key)));
    if let Some(node_range) = plan.node_range() {
        read = read.header("range", node_range);
    }
    for (name, value) in conditional_headers(ctx, "x-amz-copy-source-") {
        read = read.header(&name, value);
    }
    let response = ctx.send(read).await?;
    match response.status() {
        200 | 206 => {}
        304 | 412 => {
            discard_body(&response);
            return Err(S3Error::new(S3ErrorCode::PreconditionFailed).resource(source_resource));
        }
        416 => {
            discard_body(&response);
            return Err(s3_error!(InvalidRange, "The x-amz-copy-source-range is not within the source object.")
                .resource(source_resource));
        }
        _ => return Err(read_error(ctx, response, &source.bucket, &source.key, "GET").await),
    }
    let source_key = object_key_of(ctx, &response, &source.bucket, &source.key)?;
    let length = header_u64(&response, "content-length").unwrap_or(0);
    let (first, total) = match response.headers().get("content-range").ok().flatten() {
        Some(range) if response.status() == 206 => {
            parse_content_range(&range).ok_or_else(|| not_sealed(&source.bucket, &source.key))?
        }
        _ => (0, length),
    };
    let window = plan.resolve(first, total).map_err(|err| match err {
        FormatError::Unsatisfiable { plaintext_total } => {
            s3_error!(InvalidRange, "Range specified is not valid for source object of size: {plaintext_total}")
                .resource(source_resource.clone())
        }
        err => stored_object_error(&err, &source.bucket, &source.key),
    })?;
    if let Some(range) = copy_range {
        range.check_within(window.total).inspect_err(|_| discard_body(&response))?;
    }
    let plaintext_length = window.length;
    let plaintext = match response.body() {
        Some(body) if plaintext_length > 0 => {
            let cipher = RecordCipher::new(&source_key, ctx.cipher_path()).await?;
            Some(decrypting_body(body, cipher, window, None, source_resource.clone())?)
        }
        _ => {
            discard_body(&response);
            None
        }
    };
    let node_request = NodeRequest::new("PUT", ctx.object_path(&object_backend_key(bucket, key)))
        .query("partNumber", part_number.to_string())
        .query("uploadId", node_id);
    let sealer = Sealer::new(RecordCipher::new(&object_key, ctx.cipher_path()).await?, u32::from(part_number));
    let uploaded = match plaintext {
        Some(stream) => {
            send_verified(
                ctx.node,
                node_request,
                stream,
                plaintext_length,
                BodyPipeline { sealer: Some(sealer), ..Default::default() },
                ctx.now,
            )
            .await?
        }
        None => {
            let record = sealer.finish_to_vec().await?;
            ctx.send(node_request.header("content-length", record.len().to_string()).body(NodeBody::Bytes(record)))
                .await?
        }
    };
    let resource = format!("/{bucket}/{key}");
    if uploaded.status() != 200 {
        return Err(read_error(ctx, uploaded, bucket, key, "PUT").await.resource(resource));
    }
    discard_body(&uploaded);
    let result = multipart::CopyResult {
        etag: client_etag_of(&uploaded).unwrap_or_default(),
        last_modified: crate::time::iso8601_millis(ctx.now as u64 * 1000),
        checksums: Default::default(),
        checksum_type: None,
    };
    Ok(Reply::xml(multipart::render_copy_result(CopyKind::Part, &result)))
}

/// CopyObject: the node copies the records; the gateway re-wraps the object key for the
/// destination name (and bucket), and re-seals metadata only on REPLACE.
pub(super) async fn copy_object(
    ctx: &Ctx<'_>,
    bucket: &str,
    key: &str,
    source: &multipart::CopySource,
) -> S3Result<Reply> {
    ctx.require_bucket(bucket).await?;
    let replace = match ctx.head.header("x-amz-metadata-directive").map(str::trim) {
        None => false,
        Some(d) if d.eq_ignore_ascii_case("COPY") => false,
        Some(d) if d.eq_ignore_ascii_case("REPLACE") => true,
        Some(_) => return Err(s3_error!(InvalidArgument, "Unknown metadata directive.")),
    };
    if source.bucket == bucket && source.key == key && !replace {
        return Err(s3_error!(
            InvalidRequest,
            "This copy request is illegal because it is trying to copy an object to itself without changing the \
             object's metadata, storage class, website redirect location or encryption attributes."
        ));
    }
    // The source's key and sealed metadata, under the client's copy-source conditions.
    let source_resource = format!("/{}/{}", source.bucket, source.key);
    let mut head = NodeRequest::new("HEAD", ctx.object_path(&object_backend_key(&source.bucket, &source.key)));
    for (name, value) in conditional_headers(ctx, "x-amz-copy-source-") {
        head = head.header(&name, value);
    }
    let response = ctx.send(head).await?;
    match response.status() {
        200 => {}
        304 | 412 => return Err(S3Error::new(S3ErrorCode::PreconditionFailed).resource(source_resource)),
        _ => return Err(read_error(ctx, response, &source.bucket, &source.key, "HEAD").await),
    }
    let object_key = object_key_of(ctx, &response, &source.bucket, &source.key)?;
    let source_etag = response.headers().get("etag").ok().flatten().unwrap_or_default();
    let sealed_metadata = if replace {
        format::seal_metadata(&object_key, &headers::stored_object_headers(&ctx.head.headers), random_nonce()?)
    } else {
        // Sealed under the object key, which a copy keeps: it stays valid as it is.
        response.headers().get(format::METADATA_HEADER).ok().flatten().unwrap_or_default()
    };
    ctx.check_write_conditions(bucket, key).await?;
    let wrapped = format::wrap_key(&ctx.bucket_key(bucket)?, key, &object_key, random_nonce()?);
    let backend_source = format!(
        "/{}/{}",
        ctx.project.backend_bucket,
        crate::http::uri_encode(&object_backend_key(&source.bucket, &source.key), true)
    );
    // The copy must take the very version whose key was unwrapped above.
    let mut node_request = NodeRequest::new("PUT", ctx.object_path(&object_backend_key(bucket, key)))
        .header("x-amz-copy-source", backend_source)
        .header("x-amz-copy-source-if-match", source_etag)
        .header("x-amz-metadata-directive", "REPLACE");
    for (name, value) in node_object_headers(wrapped, sealed_metadata) {
        node_request = node_request.header(&name, value);
    }
    let resource = format!("/{bucket}/{key}");
    let response = ctx.send(node_request).await?;
    if response.status() == 412 {
        discard_body(&response);
        return Err(s3_error!(InternalError, "The source object changed while it was being copied. Please retry.")
            .resource(resource));
    }
    if response.status() == 404 {
        return Err(read_error(ctx, response, &source.bucket, &source.key, "HEAD").await);
    }
    let document = node_document(response, &resource).await?;
    match multipart::parse_node_copy_result(&document, CopyKind::Object)? {
        multipart::NodeAnswer::Done(mut result) => {
            result.etag = format::client_etag(&result.etag);
            Ok(Reply::xml(multipart::render_copy_result(CopyKind::Object, &result)))
        }
        multipart::NodeAnswer::Failed(failure) => {
            Err(crate::storage::node_error::from_node_error(200, &failure_document(&failure), &resource))
        }
    }
}

/// The stored bytes of an empty window (an empty object or part): exactly one empty last record.
fn check_empty_object(stored: &[u8], object_key: &ObjectKey, window: &Window) -> Result<(), FormatError> {
    let (locator, plaintext) = format::open_record(object_key, stored)?;
    let mut sequence = format::SequenceCheck::for_window(window);
    sequence.accept(locator, plaintext.len())?;
    sequence.finish(true)
}

/// Non-final parts of an encrypted upload must be whole records: the object's sizes and ranges
/// are then computed by arithmetic (docs/FORMAT.md).
pub(super) fn check_part_layout(part_number: u16, node_size: u64, resource: &str) -> S3Result<()> {
    if node_size.is_multiple_of(format::RECORD_CIPHERTEXT as u64) {
        return Ok(());
    }
    Err(s3_error!(
        InvalidPart,
        "On encrypted buckets every part except the last must be a multiple of {} bytes (64 KiB); part {} is {} bytes.",
        format::RECORD_PLAINTEXT,
        part_number,
        format::plaintext_len(node_size).unwrap_or(node_size)
    )
    .resource(resource))
}
