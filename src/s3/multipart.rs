//! Multipart uploads (Create, Complete, ListParts, ListMultipartUploads) and the copy operations
//! (UploadPartCopy, CopyObject): their request parameters, request bodies and XML answers.
//!
//! As with listings, each node answer is parsed into a plain struct, which a caller may adjust
//! (encrypted projects rewrite sizes and ETags), and the client's answer is rendered from it with
//! the backend bucket and backend keys replaced by the client's. Nothing the node says about its
//! own accounts (owners, initiators, locations) reaches the client.

use super::bucket_name::{validate_bucket_name, validate_object_key};
use super::error::S3Result;
use super::xml::{Owner, XmlWriter};
use super::xml_reader::{
    only_child, read_children, read_document, read_request, unreadable, xml_bool, xml_number, Child,
};
use crate::http::{parse_query, percent_decode_bytes, uri_encode};
use crate::s3_error;

/// Lowest part number S3 accepts.
pub const MIN_PART_NUMBER: u16 = 1;
/// Highest part number S3 accepts.
pub const MAX_PART_NUMBER: u16 = 10_000;
/// Most parts one ListParts page holds; larger `max-parts` values are lowered to it, as S3 does.
pub const MAX_PARTS_LIMIT: u32 = 1000;
/// Most uploads one ListMultipartUploads page holds; larger `max-uploads` values are lowered.
pub const MAX_UPLOADS_LIMIT: u32 = 1000;

const PART_NUMBER_MESSAGE: &str = "Part number must be an integer between 1 and 10000, inclusive";

// ---------------------------------------------------------------------------------------------
// Shared pieces
// ---------------------------------------------------------------------------------------------

/// The additional checksums S3 reports for parts and objects, base64 as the node wrote them.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Checksums {
    pub crc32: Option<String>,
    pub crc32c: Option<String>,
    pub crc64nvme: Option<String>,
    pub sha1: Option<String>,
    pub sha256: Option<String>,
}

impl Checksums {
    /// The checksums of a part or a result, each element's text looked up by name with `text`
    /// (trimmed; empty is absent).
    fn read<'t, E>(mut text: impl FnMut(&str) -> Result<Option<&'t str>, E>) -> Result<Self, E> {
        let mut clean = |name| Ok(text(name)?.and_then(trimmed_non_empty));
        Ok(Checksums {
            crc32: clean("ChecksumCRC32")?,
            crc32c: clean("ChecksumCRC32C")?,
            crc64nvme: clean("ChecksumCRC64NVME")?,
            sha1: clean("ChecksumSHA1")?,
            sha256: clean("ChecksumSHA256")?,
        })
    }

    pub fn is_empty(&self) -> bool {
        *self == Checksums::default()
    }

    /// `<ChecksumCRC32>..</ChecksumCRC32>` and so on inside the current element, for each
    /// checksum present, in the order S3 writes them.
    pub fn write_to(&self, xml: &mut XmlWriter) {
        xml.optional_element("ChecksumCRC32", self.crc32.as_deref())
            .optional_element("ChecksumCRC32C", self.crc32c.as_deref())
            .optional_element("ChecksumCRC64NVME", self.crc64nvme.as_deref())
            .optional_element("ChecksumSHA1", self.sha1.as_deref())
            .optional_element("ChecksumSHA256", self.sha256.as_deref());
    }
}

/// An `<Error>` document a node sent with status 200. S3 does this for CompleteMultipartUpload
/// and the copy operations when the failure happens after the status line went out (it keeps
/// the connection alive with whitespace meanwhile).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NodeErrorDocument {
    /// The node's `<Code>`, e.g. `InvalidPart`; the caller maps it to the client's error.
    pub code: String,
    /// The node's `<Message>`, empty when it sent none.
    pub message: String,
}

/// A node answer that is either the expected document or an error document sent with 200.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum NodeAnswer<T> {
    Done(T),
    Failed(NodeErrorDocument),
}

/// A node's flat answer (a result or an error document): each child's text by name.
struct NodeFields<'d> {
    /// The document's root, for the error when the node's answer cannot be read.
    what: &'d str,
    children: &'d [Child<'d>],
}

impl NodeFields<'_> {
    /// The text of the child called `name`, which may appear once at most.
    fn text(&self, name: &str) -> S3Result<Option<&str>> {
        only_child(self.children, name).map_err(|why| unreadable(self.what, why))
    }

    /// That text trimmed, `None` when absent or empty.
    fn trimmed(&self, name: &str) -> S3Result<Option<String>> {
        Ok(self.text(name)?.and_then(trimmed_non_empty))
    }
}

/// Parse a node's answer of kind `root`, or the error document it may send instead with 200.
/// Leading whitespace (S3's keep-alive while it works) is skipped.
fn parse_node_answer<T>(
    xml: &str,
    root: &str,
    convert: impl FnOnce(&NodeFields) -> S3Result<T>,
) -> S3Result<NodeAnswer<T>> {
    let document = read_document(xml.trim_start()).map_err(|why| unreadable(root, why))?;
    if document.root == "Error" {
        let error = NodeFields { what: "error document", children: &document.children };
        let Some(code) = error.trimmed("Code")? else {
            return Err(s3_error!(InternalError, "The storage node sent an error document without a code."));
        };
        let message = error.trimmed("Message")?.unwrap_or_default();
        return Ok(NodeAnswer::Failed(NodeErrorDocument { code, message }));
    }
    if document.root != root {
        return Err(unreadable(root, format!("expected <{root}>, found <{}>", document.root)));
    }
    convert(&NodeFields { what: root, children: &document.children }).map(NodeAnswer::Done)
}

/// The value of a query parameter that must be a non-negative integer: digits only, anything
/// else is S3's InvalidArgument naming the parameter.
fn parse_count(name: &str, text: &str) -> S3Result<u32> {
    if text.is_empty() || !text.bytes().all(|b| b.is_ascii_digit()) {
        return Err(s3_error!(InvalidArgument, "Provided {name} not an integer or within integer range: {text:?}."));
    }
    // S3 reads an int: beyond i32 is out of range.
    text.parse::<i32>()
        .ok()
        .and_then(|n| u32::try_from(n).ok())
        .ok_or_else(|| s3_error!(InvalidArgument, "Provided {name} not an integer or within integer range: {text:?}."))
}

/// `encoding-type`: absent or `url`.
fn parse_encoding_type(value: Option<&str>) -> S3Result<bool> {
    match value {
        None => Ok(false),
        Some("url") => Ok(true),
        Some(other) => Err(s3_error!(InvalidArgument, "Invalid Encoding Method specified in Request: {other:?}.")),
    }
}

/// `<Initiator><ID>..</ID><DisplayName>..</DisplayName></Initiator>` for the project's owner.
fn write_initiator(xml: &mut XmlWriter, owner: &Owner) {
    xml.open("Initiator").element("ID", &owner.id).element("DisplayName", &owner.display_name).close();
}

fn bool_text(value: bool) -> &'static str {
    if value {
        "true"
    } else {
        "false"
    }
}

/// A part number from a query string (UploadPart, UploadPartCopy): 1..=10000.
pub fn parse_part_number(text: &str) -> S3Result<u16> {
    let invalid = || s3_error!(InvalidArgument, "{PART_NUMBER_MESSAGE}");
    if text.is_empty() || !text.bytes().all(|b| b.is_ascii_digit()) {
        return Err(invalid());
    }
    match text.parse::<u16>() {
        Ok(n) if (MIN_PART_NUMBER..=MAX_PART_NUMBER).contains(&n) => Ok(n),
        _ => Err(invalid()),
    }
}

// ---------------------------------------------------------------------------------------------
// CreateMultipartUpload
// ---------------------------------------------------------------------------------------------

/// The upload id from a node's InitiateMultipartUploadResult.
pub fn parse_node_initiate(xml: &str) -> S3Result<String> {
    let root = "InitiateMultipartUploadResult";
    let children = read_children(xml.trim_start(), root).map_err(|why| unreadable(root, why))?;
    let upload_id = NodeFields { what: root, children: &children }.trimmed("UploadId")?;
    upload_id
        .ok_or_else(|| s3_error!(InternalError, "The storage node started a multipart upload without an upload id."))
}

/// The client's InitiateMultipartUploadResult, naming the client's bucket and key.
pub fn render_initiate(bucket: &str, key: &str, upload_id: &str) -> String {
    let mut xml = XmlWriter::new("InitiateMultipartUploadResult");
    xml.element("Bucket", bucket).element("Key", key).element("UploadId", upload_id);
    xml.finish()
}

// ---------------------------------------------------------------------------------------------
// CompleteMultipartUpload
// ---------------------------------------------------------------------------------------------

/// One part of a client's CompleteMultipartUpload request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CompletedPart {
    pub part_number: u16,
    /// Always quoted, e.g. `"a54357aff0632cce46d942af68356b38"`, whether or not the client
    /// quoted it.
    pub etag: String,
    pub checksums: Checksums,
}

/// Parse and validate a client's CompleteMultipartUpload body, as S3 does: a document that is
/// not well-formed, has another root, lists no part or gives a part without a numeric
/// PartNumber is MalformedXML; a part number outside 1..=10000 is InvalidArgument; part numbers
/// that are not strictly ascending are InvalidPartOrder; a part without an ETag is InvalidPart
/// (it can match no uploaded part).
pub fn parse_complete_request(body: &[u8]) -> S3Result<Vec<CompletedPart>> {
    let malformed = || s3_error!(MalformedXML);
    let text = std::str::from_utf8(body).map_err(|_| malformed())?;
    // The reader's own wording means nothing to an S3 client: answer with S3's message.
    let children = read_request(text.trim_start(), "CompleteMultipartUpload").map_err(|_| malformed())?;
    let mut parts: Vec<CompletedPart> = Vec::new();
    for part in children.iter().filter(|child| child.name == "Part") {
        let field = |name: &str| part.only_field(name).map_err(|_| malformed());
        let number_text = field("PartNumber")?.map(str::trim).ok_or_else(malformed)?;
        let part_number = parse_xml_part_number(number_text)?;
        if parts.last().is_some_and(|last| last.part_number >= part_number) {
            return Err(s3_error!(
                InvalidPartOrder,
                "The list of parts was not in ascending order. Parts must be ordered by part number."
            ));
        }
        let etag = field("ETag")?.map(normalize_etag).unwrap_or_default();
        if etag.is_empty() {
            return Err(s3_error!(
                InvalidPart,
                "One or more of the specified parts could not be found: part {part_number} has no ETag."
            ));
        }
        parts.push(CompletedPart { part_number, etag, checksums: Checksums::read(field)? });
    }
    if parts.is_empty() {
        return Err(malformed());
    }
    Ok(parts)
}

/// A PartNumber inside a Complete body: not an integer is MalformedXML (the schema says int),
/// an integer out of range is InvalidArgument.
fn parse_xml_part_number(text: &str) -> S3Result<u16> {
    let digits = text.strip_prefix(['-', '+']).unwrap_or(text);
    if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return Err(s3_error!(MalformedXML));
    }
    match text.parse::<i64>() {
        Ok(n) if (i64::from(MIN_PART_NUMBER)..=i64::from(MAX_PART_NUMBER)).contains(&n) => Ok(n as u16),
        _ => Err(s3_error!(InvalidArgument, "{PART_NUMBER_MESSAGE}")),
    }
}

/// `"etag"` from `etag`, `"etag"` or `&quot;etag&quot;` (already unescaped), with surrounding
/// whitespace removed; empty when nothing is left.
fn normalize_etag(etag: &str) -> String {
    let bare = etag.trim().trim_matches('"').trim();
    let mut quoted = String::with_capacity(bare.len() + 2);
    if !bare.is_empty() {
        quoted.push('"');
        quoted.push_str(bare);
        quoted.push('"');
    }
    quoted
}

/// The CompleteMultipartUpload body sent to the node: the validated parts, re-rendered.
pub fn node_complete_body(parts: &[CompletedPart]) -> String {
    let mut xml = XmlWriter::new("CompleteMultipartUpload");
    for part in parts {
        xml.open("Part").element("PartNumber", &part.part_number.to_string()).element("ETag", &part.etag);
        part.checksums.write_to(&mut xml);
        xml.close();
    }
    xml.finish()
}

/// A node's CompleteMultipartUploadResult, reduced to what the client's answer is built from.
/// The node's Location, Bucket and Key name the backend and are not kept.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct CompletedUpload {
    /// With its quotes, e.g. `"3858f62230ac3c915f300c664312c11f-9"`.
    pub etag: String,
    pub checksums: Checksums,
    /// `COMPOSITE` or `FULL_OBJECT` when the node says.
    pub checksum_type: Option<String>,
}

/// Read a node's answer to CompleteMultipartUpload: the result, or the error document S3 may
/// send with status 200 (map its code with the node error table, e.g. InvalidPart, EntityTooSmall).
pub fn parse_node_complete(xml: &str) -> S3Result<NodeAnswer<CompletedUpload>> {
    parse_node_answer(xml, "CompleteMultipartUploadResult", |result| {
        let Some(etag) = result.trimmed("ETag")? else {
            return Err(s3_error!(InternalError, "The storage node completed a multipart upload without an ETag."));
        };
        Ok(CompletedUpload {
            etag,
            checksums: Checksums::read(|name| result.text(name))?,
            checksum_type: result.trimmed("ChecksumType")?,
        })
    })
}

/// The Location S3 gives a completed object, path-style under the gateway's own endpoint
/// (`https://s3.example.com`): the key is URI-encoded with its slashes kept.
pub fn object_location(endpoint: &str, bucket: &str, key: &str) -> String {
    format!("{}/{}/{}", endpoint.trim_end_matches('/'), uri_encode(bucket, false), uri_encode(key, true))
}

/// The client's CompleteMultipartUploadResult. `location` is the object's URL at the gateway
/// (see [`object_location`]); the node's own Location is never shown.
pub fn render_complete(location: &str, bucket: &str, key: &str, upload: &CompletedUpload) -> String {
    let mut xml = XmlWriter::new("CompleteMultipartUploadResult");
    xml.element("Location", location).element("Bucket", bucket).element("Key", key).element("ETag", &upload.etag);
    upload.checksums.write_to(&mut xml);
    xml.optional_element("ChecksumType", upload.checksum_type.as_deref());
    xml.finish()
}

// ---------------------------------------------------------------------------------------------
// ListParts
// ---------------------------------------------------------------------------------------------

/// A client's ListParts request (`GET /bucket/key?uploadId=..`), from its query parameters.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ListPartsRequest {
    pub upload_id: String,
    /// 0..=1000.
    pub max_parts: u32,
    /// List parts after this part number; `None` when absent or empty.
    pub part_number_marker: Option<u32>,
}

impl ListPartsRequest {
    /// Read a ListParts request from decoded query parameters (the first value of a repeated
    /// parameter wins). An empty upload id names no upload: NoSuchUpload.
    pub fn from_query(params: &[(String, String)]) -> S3Result<Self> {
        let param = |name: &str| params.iter().find(|(k, _)| k == name).map(|(_, v)| v.as_str());
        let upload_id = param("uploadId").unwrap_or_default();
        if upload_id.is_empty() {
            return Err(s3_error!(NoSuchUpload));
        }
        let max_parts = match param("max-parts") {
            None => MAX_PARTS_LIMIT,
            Some(text) => parse_count("max-parts", text)?.min(MAX_PARTS_LIMIT),
        };
        let part_number_marker = match param("part-number-marker") {
            None | Some("") => None,
            Some(text) => Some(parse_count("part-number-marker", text)?),
        };
        Ok(ListPartsRequest { upload_id: upload_id.to_string(), max_parts, part_number_marker })
    }

    /// The node's query, as decoded `(name, value)` pairs in sending order.
    pub fn node_query(&self) -> Vec<(String, String)> {
        let mut query = vec![("uploadId".to_string(), self.upload_id.clone())];
        query.push(("max-parts".to_string(), self.max_parts.to_string()));
        if let Some(marker) = self.part_number_marker {
            query.push(("part-number-marker".to_string(), marker.to_string()));
        }
        query
    }
}

/// A node's ListPartsResult, reduced to what the client's answer is built from.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct NodePartListing {
    pub is_truncated: bool,
    pub next_part_number_marker: Option<u32>,
    pub parts: Vec<ListedPart>,
    /// `None` when the node sent none; answered as STANDARD.
    pub storage_class: Option<String>,
    pub checksum_algorithm: Option<String>,
    pub checksum_type: Option<String>,
}

/// One part of a ListParts answer.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ListedPart {
    pub part_number: u32,
    /// As the node wrote it, e.g. `2010-11-10T20:48:34.000Z`.
    pub last_modified: String,
    /// With its quotes.
    pub etag: String,
    pub size: u64,
    pub checksums: Checksums,
}

/// `text` without surrounding whitespace; `None` when nothing is left.
fn trimmed_non_empty(text: &str) -> Option<String> {
    let text = text.trim();
    (!text.is_empty()).then(|| text.to_string())
}

/// Read a node's ListPartsResult. A document portico cannot read is an InternalError.
pub fn parse_node_list_parts(xml: &str) -> S3Result<NodePartListing> {
    read_node_list_parts(xml).map_err(|why| unreadable("ListPartsResult", why))
}

fn read_node_list_parts(xml: &str) -> Result<NodePartListing, String> {
    let mut listing = NodePartListing::default();
    // Request echoes (Bucket, Key, UploadId, markers), the node's Initiator and Owner, and
    // anything newer than this code are skipped.
    for child in read_children(xml, "ListPartsResult")? {
        match child.name {
            "IsTruncated" => listing.is_truncated = xml_bool(&child.text)?,
            "NextPartNumberMarker" => {
                listing.next_part_number_marker = match child.text.trim() {
                    "" => None,
                    number => Some(xml_number(number)?),
                }
            }
            "Part" => {
                let owned = |name| child.field(name).map(str::to_string);
                listing.parts.push(ListedPart {
                    part_number: xml_number(child.field("PartNumber").ok_or("a Part without a PartNumber")?)?,
                    last_modified: owned("LastModified").unwrap_or_default(),
                    etag: owned("ETag").unwrap_or_default(),
                    size: child.field("Size").map(xml_number).transpose()?.unwrap_or(0),
                    checksums: Checksums::read(|name| Ok::<_, String>(child.field(name)))?,
                });
            }
            "StorageClass" => listing.storage_class = trimmed_non_empty(&child.text),
            "ChecksumAlgorithm" => listing.checksum_algorithm = trimmed_non_empty(&child.text),
            "ChecksumType" => listing.checksum_type = trimmed_non_empty(&child.text),
            _ => {}
        }
    }
    Ok(listing)
}

/// Write the client's ListPartsResult for `request` on the client's `bucket` and `key` from the
/// node's `listing`. Initiator and Owner are the project's `owner`, never the node's account.
///
/// NextPartNumberMarker is the node's, or else the last part listed (what S3 sends); without
/// either it is left out.
pub fn render_list_parts(
    request: &ListPartsRequest,
    bucket: &str,
    key: &str,
    listing: &NodePartListing,
    owner: &Owner,
) -> String {
    let next_marker = listing.next_part_number_marker.or_else(|| listing.parts.last().map(|p| p.part_number));
    let mut xml = XmlWriter::new("ListPartsResult");
    xml.element("Bucket", bucket)
        .element("Key", key)
        .element("UploadId", &request.upload_id)
        .element("PartNumberMarker", &request.part_number_marker.unwrap_or(0).to_string())
        .optional_element("NextPartNumberMarker", next_marker.map(|n| n.to_string()).as_deref())
        .element("MaxParts", &request.max_parts.to_string())
        .element("IsTruncated", bool_text(listing.is_truncated));
    for part in &listing.parts {
        xml.open("Part")
            .element("PartNumber", &part.part_number.to_string())
            .element("LastModified", &part.last_modified)
            .element("ETag", &part.etag)
            .element("Size", &part.size.to_string());
        part.checksums.write_to(&mut xml);
        xml.close();
    }
    write_initiator(&mut xml, owner);
    owner.write_to(&mut xml);
    xml.element("StorageClass", listing.storage_class.as_deref().unwrap_or("STANDARD"))
        .optional_element("ChecksumAlgorithm", listing.checksum_algorithm.as_deref())
        .optional_element("ChecksumType", listing.checksum_type.as_deref());
    xml.finish()
}

// ---------------------------------------------------------------------------------------------
// ListMultipartUploads
// ---------------------------------------------------------------------------------------------

/// A client's ListMultipartUploads request (`GET /bucket?uploads`), from its query parameters.
/// Strings are decoded and relative to the client's bucket.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ListUploadsRequest {
    /// Empty when the client gave none.
    pub prefix: String,
    /// `None` when absent or empty.
    pub delimiter: Option<String>,
    /// `None` when absent or empty.
    pub key_marker: Option<String>,
    /// `None` when absent or empty. S3 ignores it without a key marker.
    pub upload_id_marker: Option<String>,
    /// 0..=1000.
    pub max_uploads: u32,
    /// `encoding-type=url`: keys, prefixes, delimiter and key markers are URL-encoded.
    pub url_encoding: bool,
}

impl ListUploadsRequest {
    /// Read the request from decoded query parameters (the first value of a repeated parameter
    /// wins).
    pub fn from_query(params: &[(String, String)]) -> S3Result<Self> {
        let param = |name: &str| params.iter().find(|(k, _)| k == name).map(|(_, v)| v.as_str());
        let non_empty = |name: &str| param(name).filter(|v| !v.is_empty()).map(str::to_string);
        let max_uploads = match param("max-uploads") {
            None => MAX_UPLOADS_LIMIT,
            Some(text) => parse_count("max-uploads", text)?.min(MAX_UPLOADS_LIMIT),
        };
        let key_marker = non_empty("key-marker");
        Ok(ListUploadsRequest {
            prefix: param("prefix").unwrap_or_default().to_string(),
            delimiter: non_empty("delimiter"),
            upload_id_marker: non_empty("upload-id-marker").filter(|_| key_marker.is_some()),
            key_marker,
            max_uploads,
            url_encoding: parse_encoding_type(param("encoding-type"))?,
        })
    }

    /// Whether the node needs asking at all: `max-uploads=0` is answered with an empty,
    /// untruncated page (nodes raise 0 to 1 or refuse it).
    pub fn needs_node_request(&self) -> bool {
        self.max_uploads > 0
    }
}

/// The node's query for a client's ListMultipartUploads, as decoded `(name, value)` pairs in
/// sending order (the caller percent-encodes them). `bucket_prefix` is the client bucket's
/// backend prefix, `<bucket>/`, added to the prefix and the key marker.
///
/// A key marker that sorts before the prefix selects nothing the prefix does not already
/// exclude, so it is left out (with its upload id marker), as for object listings.
pub fn backend_list_uploads_query(request: &ListUploadsRequest, bucket_prefix: &str) -> Vec<(String, String)> {
    let mut query = Vec::with_capacity(6);
    let mut push = |name: &str, value: String| query.push((name.to_string(), value));
    push("uploads", String::new());
    push("prefix", format!("{bucket_prefix}{}", request.prefix));
    if let Some(delimiter) = &request.delimiter {
        push("delimiter", delimiter.clone());
    }
    push("max-uploads", request.max_uploads.to_string());
    if let Some(marker) = request.key_marker.as_ref().filter(|m| m.as_str() >= request.prefix.as_str()) {
        push("key-marker", format!("{bucket_prefix}{marker}"));
        if let Some(upload_id_marker) = &request.upload_id_marker {
            push("upload-id-marker", upload_id_marker.clone());
        }
    }
    query
}

/// A node's ListMultipartUploadsResult. Keys, prefixes and the key marker are backend keys.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct NodeUploadListing {
    pub is_truncated: bool,
    pub next_key_marker: Option<String>,
    pub next_upload_id_marker: Option<String>,
    pub uploads: Vec<ListedUpload>,
    pub common_prefixes: Vec<String>,
}

/// One upload in progress.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ListedUpload {
    pub key: String,
    pub upload_id: String,
    /// As the node wrote it, e.g. `2010-11-10T20:48:33.000Z`.
    pub initiated: String,
    /// `None` when the node sent none; answered as STANDARD.
    pub storage_class: Option<String>,
    pub checksum_algorithm: Option<String>,
}

/// Read a node's ListMultipartUploadsResult. A document portico cannot read is an InternalError.
pub fn parse_node_list_uploads(xml: &str) -> S3Result<NodeUploadListing> {
    read_node_list_uploads(xml).map_err(|why| unreadable("ListMultipartUploadsResult", why))
}

fn read_node_list_uploads(xml: &str) -> Result<NodeUploadListing, String> {
    let mut listing = NodeUploadListing::default();
    // Request echoes and anything newer than this code are skipped.
    for child in read_children(xml, "ListMultipartUploadsResult")? {
        match child.name {
            "IsTruncated" => listing.is_truncated = xml_bool(&child.text)?,
            "NextKeyMarker" => listing.next_key_marker = Some(child.text.into_owned()).filter(|m| !m.is_empty()),
            "NextUploadIdMarker" => {
                listing.next_upload_id_marker = Some(child.text.into_owned()).filter(|m| !m.is_empty())
            }
            "Upload" => {
                let optional = |name| child.field(name).and_then(trimmed_non_empty);
                listing.uploads.push(ListedUpload {
                    key: child.field("Key").ok_or("an Upload without a Key")?.to_string(),
                    upload_id: child.field("UploadId").ok_or("an Upload without an UploadId")?.to_string(),
                    initiated: child.field("Initiated").unwrap_or_default().to_string(),
                    storage_class: optional("StorageClass"),
                    checksum_algorithm: optional("ChecksumAlgorithm"),
                });
            }
            "CommonPrefixes" => listing.common_prefixes.extend(
                child.fields.into_iter().filter(|(name, _)| *name == "Prefix").map(|(_, prefix)| prefix.into_owned()),
            ),
            _ => {}
        }
    }
    Ok(listing)
}

/// Write the client's ListMultipartUploadsResult for `request` from the node's `listing`.
///
/// `bucket` is the client's bucket name and `bucket_prefix` its backend prefix: it is stripped
/// from every key, common prefix and marker, and anything outside it is dropped. Initiator and
/// Owner are the project's `owner`.
pub fn render_list_uploads(
    request: &ListUploadsRequest,
    bucket: &str,
    bucket_prefix: &str,
    listing: &NodeUploadListing,
    owner: &Owner,
) -> String {
    let strip = |key: &str| key.strip_prefix(bucket_prefix).filter(|k| !k.is_empty()).map(str::to_string);
    let encode = |text: &str| if request.url_encoding { uri_encode(text, true) } else { text.to_string() };

    let empty = NodeUploadListing::default();
    let listing = if request.needs_node_request() { listing } else { &empty };
    let uploads: Vec<(String, &ListedUpload)> =
        listing.uploads.iter().filter_map(|upload| Some((strip(&upload.key)?, upload))).collect();
    let common_prefixes: Vec<String> = listing.common_prefixes.iter().filter_map(|p| strip(p)).collect();
    let next_key_marker = listing.next_key_marker.as_deref().and_then(strip);
    let next_upload_id_marker = listing.next_upload_id_marker.as_deref().filter(|_| next_key_marker.is_some());

    let mut xml = XmlWriter::new("ListMultipartUploadsResult");
    xml.element("Bucket", bucket)
        .element("KeyMarker", &encode(request.key_marker.as_deref().unwrap_or_default()))
        .element("UploadIdMarker", request.upload_id_marker.as_deref().unwrap_or_default())
        .optional_element("NextKeyMarker", next_key_marker.as_deref().map(encode).as_deref())
        .element("Prefix", &encode(&request.prefix))
        .optional_element("Delimiter", request.delimiter.as_deref().map(encode).as_deref())
        .optional_element("NextUploadIdMarker", next_upload_id_marker)
        .element("MaxUploads", &request.max_uploads.to_string());
    if request.url_encoding {
        xml.element("EncodingType", "url");
    }
    xml.element("IsTruncated", bool_text(listing.is_truncated));
    for (key, upload) in &uploads {
        xml.open("Upload").element("Key", &encode(key)).element("UploadId", &upload.upload_id);
        write_initiator(&mut xml, owner);
        owner.write_to(&mut xml);
        xml.element("StorageClass", upload.storage_class.as_deref().unwrap_or("STANDARD"))
            .element("Initiated", &upload.initiated)
            .optional_element("ChecksumAlgorithm", upload.checksum_algorithm.as_deref())
            .close();
    }
    for prefix in &common_prefixes {
        xml.open("CommonPrefixes").element("Prefix", &encode(prefix)).close();
    }
    xml.finish()
}

// ---------------------------------------------------------------------------------------------
// x-amz-copy-source and x-amz-copy-source-range
// ---------------------------------------------------------------------------------------------

/// The source object of CopyObject or UploadPartCopy: a client bucket and key.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CopySource {
    pub bucket: String,
    pub key: String,
}

/// Parse `x-amz-copy-source`: `bucket/key` or `/bucket/key`, percent-encoded, optionally
/// followed by `?versionId=..`.
///
/// portico's buckets are never versioned, so the only version id that names an object is
/// `null` (the current object of an unversioned bucket, as S3 treats it); any other is S3's
/// InvalidArgument "Invalid version id specified". A value without bucket or key, or that does
/// not decode to UTF-8, is InvalidArgument; an access point ARN is NotImplemented; an invalid
/// bucket name is InvalidBucketName (which also keeps a copy away from portico's reserved
/// `.portico/` records); a key over 1024 bytes is KeyTooLongError.
pub fn parse_copy_source(header: &str) -> S3Result<CopySource> {
    let invalid =
        || s3_error!(InvalidArgument, "Copy Source must mention the source bucket and key: sourcebucket/sourcekey");
    let header = header.trim();
    let (path, query) = header.split_once('?').unwrap_or((header, ""));
    for (name, value) in parse_query(query) {
        match (name.as_str(), value.as_str()) {
            ("versionId", "null") => {}
            ("versionId", "") => return Err(s3_error!(InvalidArgument, "Version id cannot be the empty string")),
            ("versionId", _) => return Err(s3_error!(InvalidArgument, "Invalid version id specified")),
            _ => return Err(invalid()),
        }
    }
    let decoded = String::from_utf8(percent_decode_bytes(path)).map_err(|_| invalid())?;
    let decoded = decoded.strip_prefix('/').unwrap_or(&decoded);
    if decoded.starts_with("arn:") {
        return Err(s3_error!(NotImplemented, "Copying from an access point is not supported."));
    }
    let (bucket, key) = decoded.split_once('/').ok_or_else(invalid)?;
    if bucket.is_empty() || key.is_empty() {
        return Err(invalid());
    }
    validate_bucket_name(bucket)?;
    validate_object_key(key)?;
    Ok(CopySource { bucket: bucket.to_string(), key: key.to_string() })
}

/// `x-amz-copy-source-range: bytes=first-last`, both inclusive.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CopySourceRange {
    pub first: u64,
    pub last: u64,
}

/// Parse `x-amz-copy-source-range`. Unlike `Range` on GET, which S3 ignores when malformed,
/// anything but `bytes=first-last` with `first <= last` is InvalidArgument: open-ended and
/// suffix ranges, several ranges, other units, signs and spaces inside.
pub fn parse_copy_source_range(header: &str) -> S3Result<CopySourceRange> {
    let invalid = || {
        s3_error!(
            InvalidArgument,
            "The x-amz-copy-source-range value must be of the form bytes=first-last where first and last are the \
             zero-based offsets of the first and last bytes to copy"
        )
    };
    let spec = header.trim().strip_prefix("bytes=").ok_or_else(invalid)?;
    let (first, last) = spec.split_once('-').ok_or_else(invalid)?;
    let number = |text: &str| {
        if text.is_empty() || !text.bytes().all(|b| b.is_ascii_digit()) {
            return None;
        }
        text.parse::<u64>().ok()
    };
    match (number(first), number(last)) {
        (Some(first), Some(last)) if first <= last => Ok(CopySourceRange { first, last }),
        _ => Err(invalid()),
    }
}

impl CopySourceRange {
    /// Bytes in the range.
    pub fn length(self) -> u64 {
        self.last - self.first + 1
    }

    /// Check the range against the source object's size: a range reaching past the end is
    /// InvalidRange (416), as S3 answers UploadPartCopy.
    pub fn check_within(self, source_size: u64) -> S3Result<()> {
        if self.last >= source_size {
            return Err(s3_error!(
                InvalidRange,
                "Range specified is not valid for source object of size: {source_size}"
            ));
        }
        Ok(())
    }

    /// The header value for the node, `bytes=first-last`.
    pub fn header_value(self) -> String {
        format!("bytes={}-{}", self.first, self.last)
    }
}

// ---------------------------------------------------------------------------------------------
// CopyObjectResult and CopyPartResult
// ---------------------------------------------------------------------------------------------

/// Which copy a result document answers.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CopyKind {
    /// CopyObject: `<CopyObjectResult>`.
    Object,
    /// UploadPartCopy: `<CopyPartResult>`.
    Part,
}

impl CopyKind {
    fn root(self) -> &'static str {
        match self {
            CopyKind::Object => "CopyObjectResult",
            CopyKind::Part => "CopyPartResult",
        }
    }
}

/// A node's CopyObjectResult or CopyPartResult.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct CopyResult {
    /// With its quotes.
    pub etag: String,
    /// As the node wrote it, e.g. `2009-10-28T22:32:00.000Z`.
    pub last_modified: String,
    pub checksums: Checksums,
    /// CopyObject: `COMPOSITE` or `FULL_OBJECT` when the node says.
    pub checksum_type: Option<String>,
}

/// Read a node's answer to a copy: the result, or the error document S3 may send with 200.
pub fn parse_node_copy_result(xml: &str, kind: CopyKind) -> S3Result<NodeAnswer<CopyResult>> {
    parse_node_answer(xml, kind.root(), |result| {
        let Some(etag) = result.trimmed("ETag")? else {
            return Err(s3_error!(InternalError, "The storage node answered a copy without an ETag."));
        };
        Ok(CopyResult {
            etag,
            last_modified: result.trimmed("LastModified")?.unwrap_or_default(),
            checksums: Checksums::read(|name| result.text(name))?,
            checksum_type: result.trimmed("ChecksumType")?,
        })
    })
}

/// The client's CopyObjectResult or CopyPartResult.
pub fn render_copy_result(kind: CopyKind, result: &CopyResult) -> String {
    let mut xml = XmlWriter::new(kind.root());
    xml.element("LastModified", &result.last_modified).element("ETag", &result.etag);
    if kind == CopyKind::Object {
        xml.optional_element("ChecksumType", result.checksum_type.as_deref());
    }
    result.checksums.write_to(&mut xml);
    xml.finish()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::s3::error::S3ErrorCode;

    const DECL: &str = "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n";
    const NS: &str = "xmlns=\"http://s3.amazonaws.com/doc/2006-03-01/\"";
    const BUCKET_PREFIX: &str = "photos/";

    fn owner() -> Owner {
        Owner { id: "project-7".into(), display_name: "tenant".into() }
    }

    /// The body of a rendered document after the declaration and the root start tag.
    fn body<'a>(xml: &'a str, root: &str) -> &'a str {
        let start = xml.find("doc/2006-03-01/\">").expect("root with namespace") + 17;
        xml[start..].strip_suffix(&format!("</{root}>")).expect("root end tag")
    }

    fn code<T: std::fmt::Debug>(result: S3Result<T>) -> S3ErrorCode {
        result.unwrap_err().code
    }

    // ---- documents as nodes and clients send them ----

    const GARAGE_INITIATE: &str = r#"<?xml version="1.0" encoding="UTF-8"?><InitiateMultipartUploadResult xmlns="http://s3.amazonaws.com/doc/2006-03-01/"><Bucket>tenant-7</Bucket><Key>photos/big video.mp4</Key><UploadId>a7e1b6b0c6c14f6ba1b6cd2d3f0e1a5c9d8e7f6a5b4c3d2e1f0a9b8c7d6e5f4a</UploadId></InitiateMultipartUploadResult>"#;

    const AWS_INITIATE: &str = r#"<?xml version="1.0" encoding="UTF-8"?>
<InitiateMultipartUploadResult xmlns="http://s3.amazonaws.com/doc/2006-03-01/">
  <Bucket>tenant-7</Bucket>
  <Key>photos/my-movie.m2ts</Key>
  <UploadId>VXBsb2FkIElEIGZvciA2aWWpbmcncyBteS1tb3ZpZS5tMnRzIHVwbG9hZA</UploadId>
</InitiateMultipartUploadResult>"#;

    /// As botocore serializes it: namespace, members in shape order (checksums, ETag, number).
    const BOTO_COMPLETE: &str = r#"<CompleteMultipartUpload xmlns="http://s3.amazonaws.com/doc/2006-03-01/"><Part><ChecksumCRC32>i9L4Lg==</ChecksumCRC32><ETag>"a54357aff0632cce46d942af68356b38"</ETag><PartNumber>1</PartNumber></Part><Part><ChecksumCRC32>AAAAAA==</ChecksumCRC32><ETag>"0c78aef83f66abc1fa1e8477f296d394"</ETag><PartNumber>2</PartNumber></Part></CompleteMultipartUpload>"#;

    /// The S3 API reference example: pretty-printed, no namespace, no declaration.
    const AWS_DOC_COMPLETE: &str = r#"<CompleteMultipartUpload>
  <Part>
    <PartNumber>1</PartNumber>
    <ETag>"a54357aff0632cce46d942af68356b38"</ETag>
  </Part>
  <Part>
    <PartNumber>2</PartNumber>
    <ETag>"0c78aef83f66abc1fa1e8477f296d394"</ETag>
  </Part>
  <Part>
    <PartNumber>3</PartNumber>
    <ETag>"acbd18db4cc2f85cedef654fccc4a4d8"</ETag>
  </Part>
</CompleteMultipartUpload>"#;

    const AWS_COMPLETE_RESULT: &str = r#"<?xml version="1.0" encoding="UTF-8"?>
<CompleteMultipartUploadResult xmlns="http://s3.amazonaws.com/doc/2006-03-01/">
  <Location>https://tenant-7.s3.eu-central-1.amazonaws.com/photos/Example-Object</Location>
  <Bucket>tenant-7</Bucket>
  <Key>photos/Example-Object</Key>
  <ETag>"3858f62230ac3c915f300c664312c11f-9"</ETag>
  <ChecksumCRC32>vu3SgA==-9</ChecksumCRC32>
  <ChecksumType>COMPOSITE</ChecksumType>
</CompleteMultipartUploadResult>"#;

    const GARAGE_COMPLETE_RESULT: &str = r#"<?xml version="1.0" encoding="UTF-8"?><CompleteMultipartUploadResult xmlns="http://s3.amazonaws.com/doc/2006-03-01/"><Location>http://127.0.0.1:3900/tenant-7/photos/big%20video.mp4</Location><Bucket>tenant-7</Bucket><Key>photos/big video.mp4</Key><ETag>&quot;2e2e6a6fbb1e3c4a8f3de2a1c1d1b1a1-2&quot;</ETag></CompleteMultipartUploadResult>"#;

    /// S3 answers 200, keeps the connection alive with whitespace, then fails.
    const AWS_COMPLETE_ERROR_AFTER_200: &str = "   \n  \n<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n\n<Error>\n  \
        <Code>InternalError</Code>\n  <Message>We encountered an internal error. Please try again.</Message>\n  \
        <RequestId>656c76696e6727732072657175657374</RequestId>\n  \
        <HostId>Uuag1LuByRx9e6j5Onimru9pO4ZVKnJ2Qz7/C1NPcfTWAtRPfTaOFg==</HostId>\n</Error>";

    const AWS_LIST_PARTS: &str = r#"<?xml version="1.0" encoding="UTF-8"?>
<ListPartsResult xmlns="http://s3.amazonaws.com/doc/2006-03-01/">
  <Bucket>tenant-7</Bucket>
  <Key>photos/example-object</Key>
  <UploadId>XXBsb2FkIElEIGZvciBlbHZpbmcncyVcdS1tb3ZpZS5tMnRzEEEwbG9hZA</UploadId>
  <Initiator>
      <ID>arn:aws:iam::111122223333:user/some-user-11116a31-17b5-4fb7-9df5-b288870f11xx</ID>
      <DisplayName>umat-user-11116a31-17b5-4fb7-9df5-b288870f11xx</DisplayName>
  </Initiator>
  <Owner>
    <ID>75aa57f09aa0c8caeab4f8c24e99d10f8e7faeebf76c078efc7c6caea54ba06a</ID>
    <DisplayName>someName</DisplayName>
  </Owner>
  <StorageClass>STANDARD</StorageClass>
  <PartNumberMarker>1</PartNumberMarker>
  <NextPartNumberMarker>3</NextPartNumberMarker>
  <MaxParts>2</MaxParts>
  <IsTruncated>true</IsTruncated>
  <Part>
    <PartNumber>2</PartNumber>
    <LastModified>2010-11-10T20:48:34.000Z</LastModified>
    <ETag>"7778aef83f66abc1fa1e8477f296d394"</ETag>
    <Size>10485760</Size>
  </Part>
  <Part>
    <PartNumber>3</PartNumber>
    <LastModified>2010-11-10T20:48:33.000Z</LastModified>
    <ETag>"aaaa18db4cc2f85cedef654fccc4a4x8"</ETag>
    <Size>10485760</Size>
    <ChecksumSHA256>n4bQgYhMfWWaL+qgxVrQFaO/TxsrC4Is0V1sFbDwCgg=</ChecksumSHA256>
  </Part>
  <ChecksumAlgorithm>SHA256</ChecksumAlgorithm>
</ListPartsResult>"#;

    const GARAGE_LIST_PARTS: &str = r#"<?xml version="1.0" encoding="UTF-8"?><ListPartsResult xmlns="http://s3.amazonaws.com/doc/2006-03-01/"><Bucket>tenant-7</Bucket><Key>photos/big video.mp4</Key><UploadId>a7e1b6b0c6c14f6b</UploadId><PartNumberMarker>0</PartNumberMarker><MaxParts>1000</MaxParts><IsTruncated>false</IsTruncated><Part><ETag>&quot;0cc175b9c0f1b6a831c399e269772661&quot;</ETag><LastModified>2024-05-01T10:00:00.123Z</LastModified><PartNumber>1</PartNumber><Size>5242880</Size></Part><Part><ETag>&quot;92eb5ffee6ae2fec3ad71c777531578f&quot;</ETag><LastModified>2024-05-01T10:00:01.000Z</LastModified><PartNumber>2</PartNumber><Size>17</Size></Part><Initiator><DisplayName>portico-node</DisplayName><ID>GK31c2f218a2e44f485b94239e</ID></Initiator><Owner><DisplayName>portico-node</DisplayName><ID>GK31c2f218a2e44f485b94239e</ID></Owner><StorageClass>STANDARD</StorageClass></ListPartsResult>"#;

    const AWS_LIST_UPLOADS: &str = r#"<?xml version="1.0" encoding="UTF-8"?>
<ListMultipartUploadsResult xmlns="http://s3.amazonaws.com/doc/2006-03-01/">
  <Bucket>tenant-7</Bucket>
  <KeyMarker/>
  <UploadIdMarker/>
  <NextKeyMarker>photos/sample.jpg</NextKeyMarker>
  <NextUploadIdMarker>Xgw4MJT6ZPAVxpY0SAuGN7q4uWJJM22ZYg1W99trdp4tpO88.PT6.MhO0w2E17eutfAvQfQWoajgE_W2gpcxQw--</NextUploadIdMarker>
  <Delimiter>/</Delimiter>
  <Prefix>photos/</Prefix>
  <MaxUploads>3</MaxUploads>
  <IsTruncated>true</IsTruncated>
  <Upload>
    <Key>photos/my-divisor</Key>
    <UploadId>XMgbGlrZSBlbHZpbmcncyBub3QgaGF2aW5nIG11Y2ggbHVjaw</UploadId>
    <Initiator>
      <ID>arn:aws:iam::111122223333:user/user1-11111a31-17b5-4fb7-9df5-b111111f13de</ID>
      <DisplayName>user1-11111a31-17b5-4fb7-9df5-b111111f13de</DisplayName>
    </Initiator>
    <Owner>
      <ID>75aa57f09aa0c8caeab4f8c24e99d10f8e7faeebf76c078efc7c6caea54ba06a</ID>
      <DisplayName>OwnerDisplayName</DisplayName>
    </Owner>
    <StorageClass>REDUCED_REDUNDANCY</StorageClass>
    <Initiated>2010-11-10T20:48:33.000Z</Initiated>
  </Upload>
  <Upload>
    <Key>photos/sample.jpg</Key>
    <UploadId>Xgw4MJT6ZPAVxpY0SAuGN7q4uWJJM22ZYg1W99trdp4tpO88.PT6.MhO0w2E17eutfAvQfQWoajgE_W2gpcxQw--</UploadId>
    <Initiator>
      <ID>314133b66967d86f031c7249d1d9a80249109428335cd0ef1cdc487b4566cb1b</ID>
      <DisplayName>s3-nickname</DisplayName>
    </Initiator>
    <Owner>
      <ID>314133b66967d86f031c7249d1d9a80249109428335cd0ef1cdc487b4566cb1b</ID>
      <DisplayName>s3-nickname</DisplayName>
    </Owner>
    <StorageClass>STANDARD</StorageClass>
    <Initiated>2010-11-26T19:24:17.000Z</Initiated>
    <ChecksumAlgorithm>CRC32</ChecksumAlgorithm>
  </Upload>
  <CommonPrefixes>
    <Prefix>photos/2023/</Prefix>
  </CommonPrefixes>
  <CommonPrefixes>
    <Prefix>photos/2024/</Prefix>
  </CommonPrefixes>
</ListMultipartUploadsResult>"#;

    const GARAGE_LIST_UPLOADS: &str = r#"<?xml version="1.0" encoding="UTF-8"?><ListMultipartUploadsResult xmlns="http://s3.amazonaws.com/doc/2006-03-01/"><Bucket>tenant-7</Bucket><KeyMarker></KeyMarker><UploadIdMarker></UploadIdMarker><Prefix>photos/</Prefix><MaxUploads>1000</MaxUploads><IsTruncated>false</IsTruncated><Upload><Initiated>2024-05-01T10:00:00.123Z</Initiated><Initiator><DisplayName>portico-node</DisplayName><ID>GK31c2f218a2e44f485b94239e</ID></Initiator><Key>photos/big video &amp; more.mp4</Key><Owner><DisplayName>portico-node</DisplayName><ID>GK31c2f218a2e44f485b94239e</ID></Owner><StorageClass>STANDARD</StorageClass><UploadId>a7e1b6b0c6c14f6b</UploadId></Upload></ListMultipartUploadsResult>"#;

    const AWS_COPY_OBJECT_RESULT: &str = r#"<?xml version="1.0" encoding="UTF-8"?>
<CopyObjectResult xmlns="http://s3.amazonaws.com/doc/2006-03-01/">
   <LastModified>2009-10-28T22:32:00.000Z</LastModified>
   <ETag>"9b2cf535f27731c974343645a3985328"</ETag>
   <ChecksumType>FULL_OBJECT</ChecksumType>
   <ChecksumCRC64NVME>AAAAAAAAAAA=</ChecksumCRC64NVME>
</CopyObjectResult>"#;

    const GARAGE_COPY_PART_RESULT: &str = r#"<?xml version="1.0" encoding="UTF-8"?><CopyPartResult xmlns="http://s3.amazonaws.com/doc/2006-03-01/"><LastModified>2024-05-01T10:00:02.500Z</LastModified><ETag>&quot;b9f4a2b8a9a8b8e9f0f1f2f3f4f5f6f7&quot;</ETag></CopyPartResult>"#;

    // ---- part numbers ----

    #[test]
    fn part_numbers_from_the_query_are_1_to_10000() {
        assert_eq!(parse_part_number("1"), Ok(1));
        assert_eq!(parse_part_number("10000"), Ok(10_000));
        assert_eq!(parse_part_number("007"), Ok(7));
        for bad in ["0", "10001", "65536", "99999999999999999999", "-1", "+1", "", " 1", "1.0", "abc"] {
            let err = parse_part_number(bad).unwrap_err();
            assert_eq!(err.code, S3ErrorCode::InvalidArgument, "{bad:?}");
            assert_eq!(err.message, "Part number must be an integer between 1 and 10000, inclusive");
        }
    }

    // ---- CreateMultipartUpload ----

    #[test]
    fn reads_the_upload_id_from_garage_and_aws() {
        assert_eq!(
            parse_node_initiate(GARAGE_INITIATE).unwrap(),
            "a7e1b6b0c6c14f6ba1b6cd2d3f0e1a5c9d8e7f6a5b4c3d2e1f0a9b8c7d6e5f4a"
        );
        assert_eq!(
            parse_node_initiate(AWS_INITIATE).unwrap(),
            "VXBsb2FkIElEIGZvciA2aWWpbmcncyBteS1tb3ZpZS5tMnRzIHVwbG9hZA"
        );
    }

    #[test]
    fn an_initiate_answer_without_upload_id_is_an_internal_error() {
        for xml in [
            "",
            "<InitiateMultipartUploadResult><Bucket>b</Bucket></InitiateMultipartUploadResult>",
            "<InitiateMultipartUploadResult><UploadId> </UploadId></InitiateMultipartUploadResult>",
            "<Error><Code>AccessDenied</Code></Error>",
        ] {
            assert_eq!(code(parse_node_initiate(xml)), S3ErrorCode::InternalError, "{xml}");
        }
    }

    #[test]
    fn renders_the_initiate_answer_with_client_names() {
        let xml = render_initiate("photos", "big video & more.mp4", "a7e1b6b0");
        assert_eq!(
            xml,
            format!(
                "{DECL}<InitiateMultipartUploadResult {NS}><Bucket>photos</Bucket>\
                 <Key>big video &amp; more.mp4</Key><UploadId>a7e1b6b0</UploadId></InitiateMultipartUploadResult>"
            )
        );
    }

    // ---- CompleteMultipartUpload request ----

    #[test]
    fn parses_a_boto_complete_request_with_checksums() {
        let parts = parse_complete_request(BOTO_COMPLETE.as_bytes()).unwrap();
        assert_eq!(
            parts,
            vec![
                CompletedPart {
                    part_number: 1,
                    etag: "\"a54357aff0632cce46d942af68356b38\"".into(),
                    checksums: Checksums { crc32: Some("i9L4Lg==".into()), ..Default::default() },
                },
                CompletedPart {
                    part_number: 2,
                    etag: "\"0c78aef83f66abc1fa1e8477f296d394\"".into(),
                    checksums: Checksums { crc32: Some("AAAAAA==".into()), ..Default::default() },
                },
            ]
        );
    }

    #[test]
    fn parses_the_documentation_example_and_other_spellings() {
        let parts = parse_complete_request(AWS_DOC_COMPLETE.as_bytes()).unwrap();
        assert_eq!(parts.iter().map(|p| p.part_number).collect::<Vec<_>>(), [1, 2, 3]);
        assert_eq!(parts[2].etag, "\"acbd18db4cc2f85cedef654fccc4a4d8\"");

        // A declaration, a namespace prefix, escaped or missing quotes, gaps between part
        // numbers, whitespace around values, every checksum and unknown elements.
        let body = "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n\
                    <s3:CompleteMultipartUpload xmlns:s3=\"http://s3.amazonaws.com/doc/2006-03-01/\">\
                    <s3:Part><s3:PartNumber> 2 </s3:PartNumber><s3:ETag>&quot;aa&quot;</s3:ETag></s3:Part>\
                    <s3:Part><s3:PartNumber>5</s3:PartNumber><s3:ETag> bb </s3:ETag>\
                    <s3:ChecksumCRC32C>yZRlqg==</s3:ChecksumCRC32C>\
                    <s3:ChecksumCRC64NVME>M3eFcAZSQlc=</s3:ChecksumCRC64NVME>\
                    <s3:ChecksumSHA1>e1AsOh9IyGCa4hLN+2Od7jlnP14=</s3:ChecksumSHA1>\
                    <s3:ChecksumSHA256>47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU=</s3:ChecksumSHA256>\
                    <s3:Size>5</s3:Size></s3:Part>\
                    <s3:Part><s3:PartNumber>10000</s3:PartNumber><s3:ETag>cc</s3:ETag></s3:Part>\
                    <ChecksumType>COMPOSITE</ChecksumType>\
                    </s3:CompleteMultipartUpload>";
        let parts = parse_complete_request(body.as_bytes()).unwrap();
        assert_eq!(parts.iter().map(|p| p.part_number).collect::<Vec<_>>(), [2, 5, 10_000]);
        assert_eq!(parts.iter().map(|p| p.etag.as_str()).collect::<Vec<_>>(), ["\"aa\"", "\"bb\"", "\"cc\""]);
        assert_eq!(
            parts[1].checksums,
            Checksums {
                crc32: None,
                crc32c: Some("yZRlqg==".into()),
                crc64nvme: Some("M3eFcAZSQlc=".into()),
                sha1: Some("e1AsOh9IyGCa4hLN+2Od7jlnP14=".into()),
                sha256: Some("47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU=".into()),
            }
        );
        assert!(parts[0].checksums.is_empty());
    }

    #[test]
    fn malformed_complete_requests_are_malformed_xml() {
        for body in [
            &b""[..],
            b"   ",
            b"not xml",
            b"<CompleteMultipartUpload>",
            b"<CompleteMultipartUpload/>",
            b"<CompleteMultipartUpload></CompleteMultipartUpload>",
            b"<CompleteMultipartUpload><Other/></CompleteMultipartUpload>",
            b"<Delete><Part><PartNumber>1</PartNumber><ETag>a</ETag></Part></Delete>",
            b"<CompleteMultipartUpload><Part><ETag>a</ETag></Part></CompleteMultipartUpload>",
            b"<CompleteMultipartUpload><Part><PartNumber>one</PartNumber><ETag>a</ETag></Part>\
              </CompleteMultipartUpload>",
            b"<CompleteMultipartUpload><Part><PartNumber>1.0</PartNumber><ETag>a</ETag></Part>\
              </CompleteMultipartUpload>",
            b"<CompleteMultipartUpload><Part><PartNumber></PartNumber><ETag>a</ETag></Part>\
              </CompleteMultipartUpload>",
            b"<CompleteMultipartUpload><Part><PartNumber>1</PartNumber><PartNumber>2</PartNumber>\
              <ETag>a</ETag></Part></CompleteMultipartUpload>",
            b"<CompleteMultipartUpload><Part><PartNumber>1</PartNumber><ETag>a</ETag></Part>",
            b"\xff\xfe<",
        ] {
            let err = parse_complete_request(body).unwrap_err();
            assert_eq!(err.code, S3ErrorCode::MalformedXML, "{:?}", String::from_utf8_lossy(body));
            assert_eq!(err.message, S3ErrorCode::MalformedXML.default_message());
        }
    }

    fn complete_with_numbers(numbers: &[&str]) -> S3Result<Vec<CompletedPart>> {
        let parts: String =
            numbers.iter().map(|n| format!("<Part><PartNumber>{n}</PartNumber><ETag>\"e{n}\"</ETag></Part>")).collect();
        parse_complete_request(format!("<CompleteMultipartUpload>{parts}</CompleteMultipartUpload>").as_bytes())
    }

    #[test]
    fn reads_the_most_parts_an_upload_may_have() {
        let numbers: Vec<String> = (1..=MAX_PART_NUMBER).map(|n| n.to_string()).collect();
        let parts = complete_with_numbers(&numbers.iter().map(String::as_str).collect::<Vec<_>>()).unwrap();
        assert_eq!(parts.len(), usize::from(MAX_PART_NUMBER));
        assert!(parts.iter().zip(1..).all(|(part, n)| part.part_number == n && part.etag == format!("\"e{n}\"")));
    }

    #[test]
    fn part_numbers_must_be_strictly_ascending() {
        assert!(complete_with_numbers(&["1", "2", "4"]).is_ok());
        for numbers in [&["2", "1"][..], &["1", "1"], &["1", "3", "2"], &["10000", "1"]] {
            let err = complete_with_numbers(numbers).unwrap_err();
            assert_eq!(err.code, S3ErrorCode::InvalidPartOrder, "{numbers:?}");
            assert_eq!(err.status(), 400);
        }
    }

    #[test]
    fn part_numbers_outside_1_to_10000_are_invalid_arguments() {
        for number in ["0", "10001", "-1", "+0", "99999999999999999999999"] {
            let err = complete_with_numbers(&["1", number]).unwrap_err();
            assert_eq!(err.code, S3ErrorCode::InvalidArgument, "{number}");
            assert_eq!(err.message, "Part number must be an integer between 1 and 10000, inclusive");
        }
        // Range is checked per part before order: the out-of-range part is named, not the order.
        assert_eq!(code(complete_with_numbers(&["5", "0"])), S3ErrorCode::InvalidArgument);
    }

    #[test]
    fn a_part_without_etag_is_an_invalid_part() {
        for part in [
            "<PartNumber>1</PartNumber>",
            "<PartNumber>1</PartNumber><ETag/>",
            "<PartNumber>1</PartNumber><ETag>\"\"</ETag>",
        ] {
            let body = format!("<CompleteMultipartUpload><Part>{part}</Part></CompleteMultipartUpload>");
            assert_eq!(code(parse_complete_request(body.as_bytes())), S3ErrorCode::InvalidPart, "{part}");
        }
    }

    #[test]
    fn the_node_gets_a_normalized_complete_body() {
        let parts = parse_complete_request(BOTO_COMPLETE.as_bytes()).unwrap();
        assert_eq!(
            node_complete_body(&parts),
            format!(
                "{DECL}<CompleteMultipartUpload {NS}>\
                 <Part><PartNumber>1</PartNumber><ETag>&quot;a54357aff0632cce46d942af68356b38&quot;</ETag>\
                 <ChecksumCRC32>i9L4Lg==</ChecksumCRC32></Part>\
                 <Part><PartNumber>2</PartNumber><ETag>&quot;0c78aef83f66abc1fa1e8477f296d394&quot;</ETag>\
                 <ChecksumCRC32>AAAAAA==</ChecksumCRC32></Part>\
                 </CompleteMultipartUpload>"
            )
        );
        // The rendered body reads back as the same parts.
        assert_eq!(parse_complete_request(node_complete_body(&parts).as_bytes()).unwrap(), parts);
    }

    // ---- CompleteMultipartUpload answer ----

    #[test]
    fn parses_aws_and_garage_complete_results() {
        assert_eq!(
            parse_node_complete(AWS_COMPLETE_RESULT).unwrap(),
            NodeAnswer::Done(CompletedUpload {
                etag: "\"3858f62230ac3c915f300c664312c11f-9\"".into(),
                checksums: Checksums { crc32: Some("vu3SgA==-9".into()), ..Default::default() },
                checksum_type: Some("COMPOSITE".into()),
            })
        );
        assert_eq!(
            parse_node_complete(GARAGE_COMPLETE_RESULT).unwrap(),
            NodeAnswer::Done(CompletedUpload {
                etag: "\"2e2e6a6fbb1e3c4a8f3de2a1c1d1b1a1-2\"".into(),
                ..Default::default()
            })
        );
    }

    #[test]
    fn an_error_document_sent_with_200_is_reported_with_its_code() {
        assert_eq!(
            parse_node_complete(AWS_COMPLETE_ERROR_AFTER_200).unwrap(),
            NodeAnswer::Failed(NodeErrorDocument {
                code: "InternalError".into(),
                message: "We encountered an internal error. Please try again.".into(),
            })
        );
        let garage = "<?xml version=\"1.0\" encoding=\"UTF-8\"?><Error><Code>InvalidPart</Code>\
                      <Message>Part 2 &amp; more</Message><Resource>/tenant-7/photos/a</Resource>\
                      <Region>garage</Region></Error>";
        assert_eq!(
            parse_node_complete(garage).unwrap(),
            NodeAnswer::Failed(NodeErrorDocument { code: "InvalidPart".into(), message: "Part 2 & more".into() })
        );
        let bare = "<Error><Code>EntityTooSmall</Code></Error>";
        assert_eq!(
            parse_node_complete(bare).unwrap(),
            NodeAnswer::Failed(NodeErrorDocument { code: "EntityTooSmall".into(), message: String::new() })
        );
    }

    #[test]
    fn unreadable_complete_answers_are_internal_errors() {
        for xml in [
            "",
            "   ",
            "<CompleteMultipartUploadResult><Bucket>b</Bucket></CompleteMultipartUploadResult>",
            "<CompleteMultipartUploadResult><ETag>a</ETag><ETag>b</ETag></CompleteMultipartUploadResult>",
            "<CompleteMultipartUploadResult><ETag>a</ETag>",
            "<Error><Message>no code</Message></Error>",
            "<ListPartsResult/>",
        ] {
            assert_eq!(code(parse_node_complete(xml)), S3ErrorCode::InternalError, "{xml:?}");
        }
    }

    #[test]
    fn renders_the_complete_answer_with_the_gateway_location() {
        let NodeAnswer::Done(upload) = parse_node_complete(AWS_COMPLETE_RESULT).unwrap() else { panic!() };
        let location = object_location("https://s3.example.com/", "photos", "2024/big video&.mp4");
        assert_eq!(location, "https://s3.example.com/photos/2024/big%20video%26.mp4");
        let xml = render_complete(&location, "photos", "2024/big video&.mp4", &upload);
        assert_eq!(
            body(&xml, "CompleteMultipartUploadResult"),
            "<Location>https://s3.example.com/photos/2024/big%20video%26.mp4</Location><Bucket>photos</Bucket>\
             <Key>2024/big video&amp;.mp4</Key><ETag>&quot;3858f62230ac3c915f300c664312c11f-9&quot;</ETag>\
             <ChecksumCRC32>vu3SgA==-9</ChecksumCRC32><ChecksumType>COMPOSITE</ChecksumType>"
        );
        assert!(!xml.contains("tenant-7") && !xml.contains("eu-central-1"), "{xml}");
    }

    // ---- ListParts ----

    fn parts_request(query: &str) -> S3Result<ListPartsRequest> {
        ListPartsRequest::from_query(&parse_query(query))
    }

    #[test]
    fn list_parts_request_parameters() {
        let r = parts_request("uploadId=abc%2Fdef").unwrap();
        assert_eq!(r, ListPartsRequest { upload_id: "abc/def".into(), max_parts: 1000, part_number_marker: None });
        let r = parts_request("uploadId=u&max-parts=2&part-number-marker=1").unwrap();
        assert_eq!((r.max_parts, r.part_number_marker), (2, Some(1)));
        assert_eq!(parts_request("uploadId=u&max-parts=5000").unwrap().max_parts, 1000);
        assert_eq!(parts_request("uploadId=u&max-parts=0").unwrap().max_parts, 0);
        assert_eq!(parts_request("uploadId=u&part-number-marker=").unwrap().part_number_marker, None);
        for bad in [
            "max-parts=abc",
            "max-parts=-1",
            "max-parts=",
            "max-parts=1.5",
            "max-parts=99999999999",
            "max-parts=2147483648",
            "part-number-marker=x",
            "part-number-marker=-3",
            "part-number-marker=%201",
        ] {
            let err = parts_request(&format!("uploadId=u&{bad}")).unwrap_err();
            assert_eq!(err.code, S3ErrorCode::InvalidArgument, "{bad}");
        }
        assert_eq!(code(parts_request("uploadId=")), S3ErrorCode::NoSuchUpload);
        assert_eq!(code(parts_request("max-parts=1")), S3ErrorCode::NoSuchUpload);
    }

    #[test]
    fn list_parts_node_query() {
        let r = parts_request("uploadId=u%2B1&max-parts=2&part-number-marker=7").unwrap();
        let query = r.node_query();
        let pairs: Vec<(&str, &str)> = query.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
        assert_eq!(pairs, [("uploadId", "u+1"), ("max-parts", "2"), ("part-number-marker", "7")]);
        let r = parts_request("uploadId=u").unwrap();
        assert_eq!(r.node_query().len(), 2);
    }

    #[test]
    fn parses_an_aws_list_parts_answer() {
        let listing = parse_node_list_parts(AWS_LIST_PARTS).unwrap();
        assert!(listing.is_truncated);
        assert_eq!(listing.next_part_number_marker, Some(3));
        assert_eq!(listing.storage_class.as_deref(), Some("STANDARD"));
        assert_eq!(listing.checksum_algorithm.as_deref(), Some("SHA256"));
        assert_eq!(
            listing.parts,
            vec![
                ListedPart {
                    part_number: 2,
                    last_modified: "2010-11-10T20:48:34.000Z".into(),
                    etag: "\"7778aef83f66abc1fa1e8477f296d394\"".into(),
                    size: 10_485_760,
                    checksums: Checksums::default(),
                },
                ListedPart {
                    part_number: 3,
                    last_modified: "2010-11-10T20:48:33.000Z".into(),
                    etag: "\"aaaa18db4cc2f85cedef654fccc4a4x8\"".into(),
                    size: 10_485_760,
                    checksums: Checksums {
                        sha256: Some("n4bQgYhMfWWaL+qgxVrQFaO/TxsrC4Is0V1sFbDwCgg=".into()),
                        ..Default::default()
                    },
                },
            ]
        );
    }

    #[test]
    fn parses_a_garage_list_parts_answer_and_minimal_ones() {
        let listing = parse_node_list_parts(GARAGE_LIST_PARTS).unwrap();
        assert!(!listing.is_truncated);
        assert_eq!(listing.next_part_number_marker, None);
        assert_eq!(
            listing.parts.iter().map(|p| (p.part_number, p.size)).collect::<Vec<_>>(),
            [(1, 5_242_880), (2, 17)]
        );
        assert_eq!(listing.parts[0].etag, "\"0cc175b9c0f1b6a831c399e269772661\"");
        assert_eq!(parse_node_list_parts("<ListPartsResult/>").unwrap(), NodePartListing::default());
        let xml = "<ListPartsResult><NextPartNumberMarker></NextPartNumberMarker><StorageClass/></ListPartsResult>";
        assert_eq!(parse_node_list_parts(xml).unwrap(), NodePartListing::default());
    }

    #[test]
    fn unreadable_list_parts_answers_are_internal_errors() {
        for xml in [
            "",
            "<ListPartsResult><IsTruncated>perhaps</IsTruncated></ListPartsResult>",
            "<ListPartsResult><NextPartNumberMarker>x</NextPartNumberMarker></ListPartsResult>",
            "<ListPartsResult><Part><Size>1</Size></Part></ListPartsResult>",
            "<ListPartsResult><Part><PartNumber>1</PartNumber><Size>-1</Size></Part></ListPartsResult>",
            "<Error><Code>NoSuchUpload</Code></Error>",
        ] {
            assert_eq!(code(parse_node_list_parts(xml)), S3ErrorCode::InternalError, "{xml}");
        }
    }

    #[test]
    fn renders_list_parts_for_the_client() {
        let request = parts_request("uploadId=XXBsb2Fk&max-parts=2&part-number-marker=1").unwrap();
        let listing = parse_node_list_parts(AWS_LIST_PARTS).unwrap();
        let xml = render_list_parts(&request, "photos", "example-object", &listing, &owner());
        assert_eq!(
            body(&xml, "ListPartsResult"),
            "<Bucket>photos</Bucket><Key>example-object</Key><UploadId>XXBsb2Fk</UploadId>\
             <PartNumberMarker>1</PartNumberMarker><NextPartNumberMarker>3</NextPartNumberMarker>\
             <MaxParts>2</MaxParts><IsTruncated>true</IsTruncated>\
             <Part><PartNumber>2</PartNumber><LastModified>2010-11-10T20:48:34.000Z</LastModified>\
             <ETag>&quot;7778aef83f66abc1fa1e8477f296d394&quot;</ETag><Size>10485760</Size></Part>\
             <Part><PartNumber>3</PartNumber><LastModified>2010-11-10T20:48:33.000Z</LastModified>\
             <ETag>&quot;aaaa18db4cc2f85cedef654fccc4a4x8&quot;</ETag><Size>10485760</Size>\
             <ChecksumSHA256>n4bQgYhMfWWaL+qgxVrQFaO/TxsrC4Is0V1sFbDwCgg=</ChecksumSHA256></Part>\
             <Initiator><ID>project-7</ID><DisplayName>tenant</DisplayName></Initiator>\
             <Owner><ID>project-7</ID><DisplayName>tenant</DisplayName></Owner>\
             <StorageClass>STANDARD</StorageClass><ChecksumAlgorithm>SHA256</ChecksumAlgorithm>"
        );
        assert!(!xml.contains("arn:aws") && !xml.contains("someName") && !xml.contains("tenant-7"), "{xml}");
    }

    #[test]
    fn list_parts_next_marker_falls_back_to_the_last_part() {
        let request = parts_request("uploadId=u").unwrap();
        let listing = parse_node_list_parts(GARAGE_LIST_PARTS).unwrap();
        let xml = render_list_parts(&request, "photos", "big video.mp4", &listing, &owner());
        assert!(
            xml.contains(
                "<PartNumberMarker>0</PartNumberMarker><NextPartNumberMarker>2</NextPartNumberMarker>\
                              <MaxParts>1000</MaxParts><IsTruncated>false</IsTruncated>"
            ),
            "{xml}"
        );
        assert!(!xml.contains("GK31"), "the node's key id must not leak: {xml}");
        let xml = render_list_parts(&request, "photos", "k", &NodePartListing::default(), &owner());
        assert!(!xml.contains("NextPartNumberMarker"), "{xml}");
        assert!(xml.contains("<IsTruncated>false</IsTruncated><Initiator>"), "{xml}");
    }

    // ---- ListMultipartUploads ----

    fn uploads_request(query: &str) -> S3Result<ListUploadsRequest> {
        ListUploadsRequest::from_query(&parse_query(query))
    }

    fn pairs(query: &[(String, String)]) -> Vec<(&str, &str)> {
        query.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect()
    }

    #[test]
    fn list_uploads_request_parameters() {
        assert_eq!(
            uploads_request("uploads").unwrap(),
            ListUploadsRequest {
                prefix: String::new(),
                delimiter: None,
                key_marker: None,
                upload_id_marker: None,
                max_uploads: 1000,
                url_encoding: false,
            }
        );
        let r = uploads_request(
            "uploads&prefix=2024%2F&delimiter=%2F&key-marker=2024%2Fa%20b&upload-id-marker=xyz&max-uploads=3\
             &encoding-type=url",
        )
        .unwrap();
        assert_eq!(
            r,
            ListUploadsRequest {
                prefix: "2024/".into(),
                delimiter: Some("/".into()),
                key_marker: Some("2024/a b".into()),
                upload_id_marker: Some("xyz".into()),
                max_uploads: 3,
                url_encoding: true,
            }
        );
        // An upload id marker means nothing without a key marker.
        assert_eq!(uploads_request("uploads&upload-id-marker=xyz").unwrap().upload_id_marker, None);
        assert_eq!(uploads_request("uploads&max-uploads=1001").unwrap().max_uploads, 1000);
        assert!(!uploads_request("uploads&max-uploads=0").unwrap().needs_node_request());
        for bad in ["max-uploads=x", "max-uploads=-1", "max-uploads=", "encoding-type=base64", "encoding-type=URL"] {
            assert_eq!(code(uploads_request(&format!("uploads&{bad}"))), S3ErrorCode::InvalidArgument, "{bad}");
        }
    }

    #[test]
    fn list_uploads_node_query_confines_to_the_bucket() {
        let r = uploads_request("uploads").unwrap();
        assert_eq!(
            pairs(&backend_list_uploads_query(&r, BUCKET_PREFIX)),
            [("uploads", ""), ("prefix", "photos/"), ("max-uploads", "1000")]
        );
        let r = uploads_request(
            "uploads&prefix=2024%2F&delimiter=%2F&key-marker=2024%2Fa&upload-id-marker=xyz&max-uploads=3\
             &encoding-type=url",
        )
        .unwrap();
        assert_eq!(
            pairs(&backend_list_uploads_query(&r, BUCKET_PREFIX)),
            [
                ("uploads", ""),
                ("prefix", "photos/2024/"),
                ("delimiter", "/"),
                ("max-uploads", "3"),
                ("key-marker", "photos/2024/a"),
                ("upload-id-marker", "xyz"),
            ]
        );
        // A key marker before the prefix is dropped with its upload id marker.
        let r = uploads_request("uploads&prefix=m&key-marker=a&upload-id-marker=xyz").unwrap();
        assert_eq!(
            pairs(&backend_list_uploads_query(&r, BUCKET_PREFIX)),
            [("uploads", ""), ("prefix", "photos/m"), ("max-uploads", "1000")]
        );
    }

    #[test]
    fn parses_aws_and_garage_upload_listings() {
        let listing = parse_node_list_uploads(AWS_LIST_UPLOADS).unwrap();
        assert!(listing.is_truncated);
        assert_eq!(listing.next_key_marker.as_deref(), Some("photos/sample.jpg"));
        assert_eq!(
            listing.next_upload_id_marker.as_deref(),
            Some("Xgw4MJT6ZPAVxpY0SAuGN7q4uWJJM22ZYg1W99trdp4tpO88.PT6.MhO0w2E17eutfAvQfQWoajgE_W2gpcxQw--")
        );
        assert_eq!(
            listing.uploads[0],
            ListedUpload {
                key: "photos/my-divisor".into(),
                upload_id: "XMgbGlrZSBlbHZpbmcncyBub3QgaGF2aW5nIG11Y2ggbHVjaw".into(),
                initiated: "2010-11-10T20:48:33.000Z".into(),
                storage_class: Some("REDUCED_REDUNDANCY".into()),
                checksum_algorithm: None,
            }
        );
        assert_eq!(listing.uploads[1].checksum_algorithm.as_deref(), Some("CRC32"));
        assert_eq!(listing.common_prefixes, ["photos/2023/", "photos/2024/"]);

        let listing = parse_node_list_uploads(GARAGE_LIST_UPLOADS).unwrap();
        assert!(!listing.is_truncated);
        assert_eq!((listing.next_key_marker, listing.next_upload_id_marker), (None, None));
        assert_eq!(listing.uploads.len(), 1);
        assert_eq!(listing.uploads[0].key, "photos/big video & more.mp4");
        assert_eq!(listing.uploads[0].initiated, "2024-05-01T10:00:00.123Z");
    }

    #[test]
    fn unreadable_upload_listings_are_internal_errors() {
        for xml in [
            "",
            "<ListMultipartUploadsResult><Upload><UploadId>u</UploadId></Upload></ListMultipartUploadsResult>",
            "<ListMultipartUploadsResult><Upload><Key>k</Key></Upload></ListMultipartUploadsResult>",
            "<ListMultipartUploadsResult><IsTruncated>yes</IsTruncated></ListMultipartUploadsResult>",
            "<ListBucketResult/>",
        ] {
            assert_eq!(code(parse_node_list_uploads(xml)), S3ErrorCode::InternalError, "{xml}");
        }
    }

    #[test]
    fn renders_an_upload_listing_with_the_bucket_prefix_stripped() {
        let request = uploads_request("uploads&delimiter=%2F&max-uploads=3").unwrap();
        let listing = parse_node_list_uploads(AWS_LIST_UPLOADS).unwrap();
        let xml = render_list_uploads(&request, "photos", BUCKET_PREFIX, &listing, &owner());
        assert_eq!(
            body(&xml, "ListMultipartUploadsResult"),
            "<Bucket>photos</Bucket><KeyMarker></KeyMarker><UploadIdMarker></UploadIdMarker>\
             <NextKeyMarker>sample.jpg</NextKeyMarker><Prefix></Prefix><Delimiter>/</Delimiter>\
             <NextUploadIdMarker>Xgw4MJT6ZPAVxpY0SAuGN7q4uWJJM22ZYg1W99trdp4tpO88.PT6.MhO0w2E17eutfAvQfQWoajgE_W2gpcxQw--\
             </NextUploadIdMarker><MaxUploads>3</MaxUploads><IsTruncated>true</IsTruncated>\
             <Upload><Key>my-divisor</Key><UploadId>XMgbGlrZSBlbHZpbmcncyBub3QgaGF2aW5nIG11Y2ggbHVjaw</UploadId>\
             <Initiator><ID>project-7</ID><DisplayName>tenant</DisplayName></Initiator>\
             <Owner><ID>project-7</ID><DisplayName>tenant</DisplayName></Owner>\
             <StorageClass>REDUCED_REDUNDANCY</StorageClass><Initiated>2010-11-10T20:48:33.000Z</Initiated></Upload>\
             <Upload><Key>sample.jpg</Key>\
             <UploadId>Xgw4MJT6ZPAVxpY0SAuGN7q4uWJJM22ZYg1W99trdp4tpO88.PT6.MhO0w2E17eutfAvQfQWoajgE_W2gpcxQw--</UploadId>\
             <Initiator><ID>project-7</ID><DisplayName>tenant</DisplayName></Initiator>\
             <Owner><ID>project-7</ID><DisplayName>tenant</DisplayName></Owner>\
             <StorageClass>STANDARD</StorageClass><Initiated>2010-11-26T19:24:17.000Z</Initiated>\
             <ChecksumAlgorithm>CRC32</ChecksumAlgorithm></Upload>\
             <CommonPrefixes><Prefix>2023/</Prefix></CommonPrefixes>\
             <CommonPrefixes><Prefix>2024/</Prefix></CommonPrefixes>"
        );
        assert!(!xml.contains("arn:aws") && !xml.contains("s3-nickname"), "{xml}");
    }

    #[test]
    fn upload_listings_drop_entries_outside_the_bucket() {
        let node = "<ListMultipartUploadsResult><IsTruncated>true</IsTruncated>\
                    <NextKeyMarker>photosynthesis/x</NextKeyMarker><NextUploadIdMarker>u9</NextUploadIdMarker>\
                    <Upload><Key>photos/mine</Key><UploadId>u1</UploadId></Upload>\
                    <Upload><Key>photosynthesis/theirs</Key><UploadId>u2</UploadId></Upload>\
                    <Upload><Key>.portico/buckets/photos</Key><UploadId>u3</UploadId></Upload>\
                    <Upload><Key>photos/</Key><UploadId>u4</UploadId></Upload>\
                    <CommonPrefixes><Prefix>other/</Prefix></CommonPrefixes>\
                    </ListMultipartUploadsResult>";
        let listing = parse_node_list_uploads(node).unwrap();
        let xml =
            render_list_uploads(&uploads_request("uploads").unwrap(), "photos", BUCKET_PREFIX, &listing, &owner());
        assert!(xml.contains("<Key>mine</Key><UploadId>u1</UploadId>"), "{xml}");
        for leaked in ["theirs", "portico", "other", "u4", "NextKeyMarker", "NextUploadIdMarker", "<Key></Key>"] {
            assert!(!xml.contains(leaked), "{leaked} in {xml}");
        }
    }

    #[test]
    fn upload_listings_apply_url_encoding() {
        let request = uploads_request(
            "uploads&prefix=dir%20one%2F&delimiter=%7C&key-marker=dir%20one%2Fa%2Bb&upload-id-marker=u%2B0\
             &encoding-type=url",
        )
        .unwrap();
        let node = "<ListMultipartUploadsResult><IsTruncated>true</IsTruncated>\
                    <NextKeyMarker>photos/dir one/z ü</NextKeyMarker><NextUploadIdMarker>u+9</NextUploadIdMarker>\
                    <Upload><Key>photos/dir one/a+b&amp;c=ü.txt</Key><UploadId>u+1</UploadId>\
                    <Initiated>2024-05-01T10:00:00.000Z</Initiated></Upload>\
                    <CommonPrefixes><Prefix>photos/dir one/sub dir|</Prefix></CommonPrefixes>\
                    </ListMultipartUploadsResult>";
        let listing = parse_node_list_uploads(node).unwrap();
        let xml = render_list_uploads(&request, "photos", BUCKET_PREFIX, &listing, &owner());
        assert!(xml.contains("<KeyMarker>dir%20one/a%2Bb</KeyMarker><UploadIdMarker>u+0</UploadIdMarker>"), "{xml}");
        assert!(
            xml.contains("<NextKeyMarker>dir%20one/z%20%C3%BC</NextKeyMarker><Prefix>dir%20one/</Prefix>"),
            "{xml}"
        );
        assert!(xml.contains("<Delimiter>%7C</Delimiter><NextUploadIdMarker>u+9</NextUploadIdMarker>"), "{xml}");
        assert!(xml.contains("<EncodingType>url</EncodingType><IsTruncated>true</IsTruncated>"), "{xml}");
        assert!(xml.contains("<Key>dir%20one/a%2Bb%26c%3D%C3%BC.txt</Key><UploadId>u+1</UploadId>"), "{xml}");
        assert!(xml.contains("<Prefix>dir%20one/sub%20dir%7C</Prefix>"), "{xml}");
    }

    #[test]
    fn upload_listings_escape_xml_without_url_encoding() {
        let listing = parse_node_list_uploads(GARAGE_LIST_UPLOADS).unwrap();
        let xml =
            render_list_uploads(&uploads_request("uploads").unwrap(), "photos", BUCKET_PREFIX, &listing, &owner());
        assert!(xml.contains("<Key>big video &amp; more.mp4</Key>"), "{xml}");
        assert!(!xml.contains("GK31"), "{xml}");
    }

    #[test]
    fn max_uploads_zero_is_an_empty_untruncated_page() {
        let request = uploads_request("uploads&max-uploads=0").unwrap();
        let listing = parse_node_list_uploads(AWS_LIST_UPLOADS).unwrap();
        let xml = render_list_uploads(&request, "photos", BUCKET_PREFIX, &listing, &owner());
        assert_eq!(
            body(&xml, "ListMultipartUploadsResult"),
            "<Bucket>photos</Bucket><KeyMarker></KeyMarker><UploadIdMarker></UploadIdMarker><Prefix></Prefix>\
             <MaxUploads>0</MaxUploads><IsTruncated>false</IsTruncated>"
        );
    }

    // ---- x-amz-copy-source ----

    fn source(bucket: &str, key: &str) -> CopySource {
        CopySource { bucket: bucket.into(), key: key.into() }
    }

    #[test]
    fn parses_copy_sources_as_clients_send_them() {
        for (header, expected) in [
            ("photos/2024/a.jpg", source("photos", "2024/a.jpg")),
            ("/photos/2024/a.jpg", source("photos", "2024/a.jpg")),
            // botocore: quote(key, safe='/~'); aws-sdk-js: encodeURIComponent per segment.
            ("photos/my%20file%2B%26.txt", source("photos", "my file+&.txt")),
            ("photos%2Fencoded%2Fslash", source("photos", "encoded/slash")),
            ("/photos/%E6%97%A5%E6%9C%AC%E8%AA%9E/%F0%9F%98%80", source("photos", "日本語/😀")),
            ("photos/a%3Fb", source("photos", "a?b")),
            ("photos/a+b", source("photos", "a+b")),
            ("photos//leading-slash", source("photos", "/leading-slash")),
            ("photos/dir/", source("photos", "dir/")),
            ("photos/a.jpg?versionId=null", source("photos", "a.jpg")),
            ("  /photos/a.jpg  ", source("photos", "a.jpg")),
        ] {
            assert_eq!(parse_copy_source(header), Ok(expected), "{header}");
        }
    }

    #[test]
    fn garbage_copy_sources_are_invalid_arguments() {
        for header in [
            "",
            "/",
            "photos",
            "/photos",
            "photos/",
            "/photos/",
            "//key",
            "photos/%FF%FE",
            "photos/a?x=1",
            "?versionId=null",
        ] {
            let err = parse_copy_source(header).unwrap_err();
            assert_eq!(err.code, S3ErrorCode::InvalidArgument, "{header:?}");
            assert_eq!(err.message, "Copy Source must mention the source bucket and key: sourcebucket/sourcekey");
        }
    }

    #[test]
    fn copy_sources_name_no_version_but_null() {
        let err = parse_copy_source("photos/a.jpg?versionId=3HL4kqtJlcpXroDTDmJ%2BrmSpXd3dIbrHY").unwrap_err();
        assert_eq!((err.code, err.message.as_str()), (S3ErrorCode::InvalidArgument, "Invalid version id specified"));
        let err = parse_copy_source("photos/a.jpg?versionId=").unwrap_err();
        assert_eq!(err.code, S3ErrorCode::InvalidArgument);
        assert_eq!(err.message, "Version id cannot be the empty string");
    }

    #[test]
    fn copy_sources_are_checked_as_buckets_and_keys() {
        // Reserved records and names no client bucket can have.
        for header in [".portico/buckets/photos", "Photos/a", "ab/c", "my..bucket/k", "192.168.1.1/k"] {
            assert_eq!(code(parse_copy_source(header)), S3ErrorCode::InvalidBucketName, "{header}");
        }
        assert_eq!(code(parse_copy_source(&format!("photos/{}", "k".repeat(1025)))), S3ErrorCode::KeyTooLongError);
        assert!(parse_copy_source(&format!("photos/{}", "k".repeat(1024))).is_ok());
        let arn = "arn%3Aaws%3As3%3Aus-west-2%3A123456789012%3Aaccesspoint%2Fmy-ap%2Fobject%2Freports%2Fjan.pdf";
        assert_eq!(code(parse_copy_source(arn)), S3ErrorCode::NotImplemented);
    }

    // ---- x-amz-copy-source-range ----

    #[test]
    fn parses_copy_source_ranges() {
        let range = parse_copy_source_range("bytes=0-5242879").unwrap();
        assert_eq!(range, CopySourceRange { first: 0, last: 5_242_879 });
        assert_eq!(range.length(), 5_242_880);
        assert_eq!(range.header_value(), "bytes=0-5242879");
        assert_eq!(parse_copy_source_range(" bytes=7-7 ").unwrap().length(), 1);
    }

    #[test]
    fn malformed_copy_source_ranges_are_invalid_arguments() {
        for header in [
            "",
            "0-1024",
            "bytes=",
            "bytes=0",
            "bytes=0-",
            "bytes=-5",
            "bytes=5-2",
            "bytes=a-b",
            "bytes=0-bar",
            "bytes=0-2,3-5",
            "bytes= 0-2",
            "bytes=+0-2",
            "Bytes=0-2",
            "bits=0-2",
            "bytes=0-99999999999999999999",
        ] {
            let err = parse_copy_source_range(header).unwrap_err();
            assert_eq!(err.code, S3ErrorCode::InvalidArgument, "{header:?}");
            assert!(err.message.starts_with("The x-amz-copy-source-range value must be of the form bytes=first-last"));
        }
    }

    #[test]
    fn copy_source_ranges_must_lie_within_the_source() {
        let range = parse_copy_source_range("bytes=0-9").unwrap();
        assert_eq!(range.check_within(10), Ok(()));
        let err = range.check_within(9).unwrap_err();
        assert_eq!((err.code, err.status()), (S3ErrorCode::InvalidRange, 416));
        assert_eq!(err.message, "Range specified is not valid for source object of size: 9");
        assert_eq!(code(parse_copy_source_range("bytes=0-0").unwrap().check_within(0)), S3ErrorCode::InvalidRange);
    }

    // ---- copy results ----

    #[test]
    fn parses_and_renders_copy_object_results() {
        let NodeAnswer::Done(result) = parse_node_copy_result(AWS_COPY_OBJECT_RESULT, CopyKind::Object).unwrap() else {
            panic!()
        };
        assert_eq!(
            result,
            CopyResult {
                etag: "\"9b2cf535f27731c974343645a3985328\"".into(),
                last_modified: "2009-10-28T22:32:00.000Z".into(),
                checksums: Checksums { crc64nvme: Some("AAAAAAAAAAA=".into()), ..Default::default() },
                checksum_type: Some("FULL_OBJECT".into()),
            }
        );
        assert_eq!(
            render_copy_result(CopyKind::Object, &result),
            format!(
                "{DECL}<CopyObjectResult {NS}><LastModified>2009-10-28T22:32:00.000Z</LastModified>\
                 <ETag>&quot;9b2cf535f27731c974343645a3985328&quot;</ETag><ChecksumType>FULL_OBJECT</ChecksumType>\
                 <ChecksumCRC64NVME>AAAAAAAAAAA=</ChecksumCRC64NVME></CopyObjectResult>"
            )
        );
    }

    #[test]
    fn parses_and_renders_copy_part_results() {
        let NodeAnswer::Done(result) = parse_node_copy_result(GARAGE_COPY_PART_RESULT, CopyKind::Part).unwrap() else {
            panic!()
        };
        assert_eq!(result.etag, "\"b9f4a2b8a9a8b8e9f0f1f2f3f4f5f6f7\"");
        assert_eq!(result.last_modified, "2024-05-01T10:00:02.500Z");
        assert_eq!(
            render_copy_result(CopyKind::Part, &result),
            format!(
                "{DECL}<CopyPartResult {NS}><LastModified>2024-05-01T10:00:02.500Z</LastModified>\
                 <ETag>&quot;b9f4a2b8a9a8b8e9f0f1f2f3f4f5f6f7&quot;</ETag></CopyPartResult>"
            )
        );
        // A part result never carries ChecksumType, even if the caller set one.
        let with_type = CopyResult { checksum_type: Some("COMPOSITE".into()), ..result };
        assert!(!render_copy_result(CopyKind::Part, &with_type).contains("ChecksumType"));
    }

    #[test]
    fn copy_answers_may_be_errors_sent_with_200() {
        let xml = "\n\n<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<Error><Code>SlowDown</Code>\
                   <Message>Please reduce your request rate.</Message></Error>";
        assert_eq!(
            parse_node_copy_result(xml, CopyKind::Object).unwrap(),
            NodeAnswer::Failed(NodeErrorDocument {
                code: "SlowDown".into(),
                message: "Please reduce your request rate.".into()
            })
        );
    }

    #[test]
    fn copy_answers_of_the_wrong_kind_or_without_etag_are_internal_errors() {
        for (xml, kind) in [
            (GARAGE_COPY_PART_RESULT, CopyKind::Object),
            (AWS_COPY_OBJECT_RESULT, CopyKind::Part),
            ("<CopyPartResult><LastModified>x</LastModified></CopyPartResult>", CopyKind::Part),
            ("", CopyKind::Part),
        ] {
            assert_eq!(code(parse_node_copy_result(xml, kind)), S3ErrorCode::InternalError, "{xml}");
        }
    }
}
