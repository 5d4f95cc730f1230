//! ListObjects (V1) and ListObjectsV2.
//!
//! A listing is forwarded to the storage node with the client bucket's prefix added, and the
//! node's ListBucketResult is re-emitted with that prefix stripped from every key and common
//! prefix. Three steps, all pure: [`ListRequest::from_query`] and [`backend_list_query`] build the
//! node's request, [`parse_node_list`] reads its answer, [`render_list`] writes the
//! client's answer. Between the last two a caller may rewrite sizes and ETags (encrypted
//! projects) in the plain [`NodeListing`].

use std::borrow::Cow;

use super::error::S3Result;
use super::xml::{Owner, XmlWriter};
use super::xml_reader::{unreadable, xml_bool, xml_number, XmlEvent, XmlReader};
use crate::http::uri_encode;
use crate::s3_error;

/// Most keys one page may hold; larger `max-keys` values are lowered to it, as S3 does.
pub const MAX_KEYS_LIMIT: u32 = 1000;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ListVersion {
    /// ListObjects: paginated with `marker` / `NextMarker`.
    V1,
    /// ListObjectsV2 (`list-type=2`): paginated with opaque continuation tokens.
    V2,
}

/// A client's list request, from its query parameters. Strings are decoded and relative to the
/// client's bucket.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ListRequest {
    pub version: ListVersion,
    /// Empty when the client gave none.
    pub prefix: String,
    /// `None` when absent or empty.
    pub delimiter: Option<String>,
    /// 0..=1000.
    pub max_keys: u32,
    /// V2: the node's token from the previous page, passed back to it untouched.
    pub continuation_token: Option<String>,
    /// V2: list keys after this one. `None` when absent or empty.
    pub start_after: Option<String>,
    /// V1: list keys after this one. `None` when absent or empty.
    pub marker: Option<String>,
    /// `encoding-type=url`: keys, prefixes, delimiter and markers are URL-encoded in the answer.
    pub url_encoding: bool,
    /// V2 `fetch-owner=true`.
    pub fetch_owner: bool,
}

impl ListRequest {
    /// Read a list request from decoded query parameters (the first value of a repeated
    /// parameter wins, as in `RequestHead::query_param`).
    pub fn from_query(params: &[(String, String)]) -> S3Result<Self> {
        let param = |name: &str| params.iter().find(|(k, _)| k == name).map(|(_, v)| v.as_str());
        let non_empty = |name: &str| param(name).filter(|v| !v.is_empty()).map(str::to_string);

        let version = match param("list-type") {
            None => ListVersion::V1,
            Some("2") => ListVersion::V2,
            Some(other) => return Err(s3_error!(InvalidArgument, "Invalid List Type specified: {other:?}.")),
        };
        let max_keys = match param("max-keys") {
            None => MAX_KEYS_LIMIT,
            Some(text) => parse_max_keys(text)?,
        };
        let url_encoding = match param("encoding-type") {
            None => false,
            Some("url") => true,
            Some(other) => {
                return Err(s3_error!(InvalidArgument, "Invalid Encoding Method specified in Request: {other:?}."))
            }
        };
        let continuation_token = match (version, param("continuation-token")) {
            (ListVersion::V2, Some("")) => {
                return Err(s3_error!(InvalidArgument, "The continuation token provided is incorrect."))
            }
            (ListVersion::V2, Some(token)) => Some(token.to_string()),
            _ => None,
        };
        let v2 = version == ListVersion::V2;
        Ok(ListRequest {
            version,
            prefix: param("prefix").unwrap_or_default().to_string(),
            delimiter: non_empty("delimiter"),
            max_keys,
            continuation_token,
            start_after: non_empty("start-after").filter(|_| v2),
            marker: non_empty("marker").filter(|_| !v2),
            url_encoding,
            fetch_owner: v2 && param("fetch-owner").is_some_and(|v| v.eq_ignore_ascii_case("true")),
        })
    }

    /// Whether each object in the answer names its owner: always in V1, on request in V2.
    pub fn includes_owner(&self) -> bool {
        self.version == ListVersion::V1 || self.fetch_owner
    }

    /// Whether the node needs asking at all: `max-keys=0` is answered with an empty,
    /// untruncated page, as S3 does (some nodes, Garage among them, raise 0 to 1).
    pub fn needs_node_request(&self) -> bool {
        self.max_keys > 0
    }
}

/// Digits only (a sign, a space or a fraction is InvalidArgument); anything above 1000 is
/// lowered to 1000.
fn parse_max_keys(text: &str) -> S3Result<u32> {
    if text.is_empty() || !text.bytes().all(|b| b.is_ascii_digit()) {
        return Err(s3_error!(InvalidArgument, "Provided max-keys not an integer or within integer range: {text:?}."));
    }
    Ok(text.parse::<u32>().map_or(MAX_KEYS_LIMIT, |n| n.min(MAX_KEYS_LIMIT)))
}

/// The node's query for a client listing, as decoded `(name, value)` pairs in sending order
/// (the caller percent-encodes them). `bucket_prefix` is the client bucket's backend prefix,
/// `<bucket>/`.
///
/// V2 is forwarded as V2: the continuation token is the node's own and goes back untouched.
/// V1 is forwarded as V1, `marker` to `marker`. A marker ending in the delimiter is a common
/// prefix (S3's NextMarker of a page that ends on one); passed as it is, the node would roll the
/// same prefix up again, forever with `max-keys=1`, so it is extended past every key under it.
///
/// A `start-after` or `marker` that sorts before the prefix selects nothing the prefix does not
/// already exclude, so it is left out: Garage answers such a request with an empty page.
pub fn backend_list_query(request: &ListRequest, bucket_prefix: &str) -> Vec<(String, String)> {
    let mut query = Vec::with_capacity(6);
    let mut push = |name: &str, value: String| query.push((name.to_string(), value));
    let after = |key: &Option<String>| {
        key.as_ref().filter(|key| key.as_str() >= request.prefix.as_str()).map(|key| format!("{bucket_prefix}{key}"))
    };
    if request.version == ListVersion::V2 {
        push("list-type", "2".to_string());
    }
    push("prefix", format!("{bucket_prefix}{}", request.prefix));
    if let Some(delimiter) = &request.delimiter {
        push("delimiter", delimiter.clone());
    }
    push("max-keys", request.max_keys.to_string());
    match request.version {
        ListVersion::V2 => {
            if let Some(token) = &request.continuation_token {
                push("continuation-token", token.clone());
            }
            if let Some(start_after) = after(&request.start_after) {
                push("start-after", start_after);
            }
        }
        ListVersion::V1 => {
            if let Some(mut marker) = after(&request.marker) {
                // A marker that is a common prefix (S3's NextMarker when a page ends on one) must
                // skip every key under it, or the prefix would be rolled up again: move past
                // them with the greatest character.
                if request.delimiter.as_deref().is_some_and(|d| !d.is_empty() && marker.ends_with(d)) {
                    marker.push(char::MAX);
                }
                push("marker", marker);
            }
        }
    }
    query
}

/// A node's ListBucketResult, reduced to what the client's answer is built from. Keys and
/// prefixes are backend keys, exactly as the node sent them (portico never asks the node for
/// `encoding-type=url`).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct NodeListing {
    pub is_truncated: bool,
    /// V2: the node's opaque token for the next page.
    pub next_continuation_token: Option<String>,
    pub contents: Vec<ListedObject>,
    pub common_prefixes: Vec<String>,
}

/// One object of a listing.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ListedObject {
    pub key: String,
    /// As the node wrote it, e.g. `2024-05-01T10:00:00.123Z`.
    pub last_modified: String,
    /// With its quotes, e.g. `"d41d8cd98f00b204e9800998ecf8427e"`.
    pub etag: String,
    pub size: u64,
    /// `None` when the node sent none; answered as STANDARD.
    pub storage_class: Option<String>,
}

/// Read a node's ListBucketResult (V1 or V2). A document portico cannot read is the node's
/// fault, so it is an InternalError for the client.
pub fn parse_node_list(xml: &str) -> S3Result<NodeListing> {
    read_node_list(xml).map_err(|why| unreadable("listing", why))
}

/// The elements of a listing whose text portico keeps.
#[derive(Clone, Copy, Debug)]
enum ListingField {
    IsTruncated,
    NextContinuationToken,
    Key,
    LastModified,
    ETag,
    Size,
    StorageClass,
    Prefix,
}

/// Element by element, in one pass (`xml_reader`): serde's deserializer took ~40% of a
/// ListObjectsV2's CPU in the worker, quick-xml's event reader still ~1/3. `Contents` and
/// `CommonPrefixes` may come in any order and interleaved; elements it does not know (request
/// echoes, counts, anything newer) are skipped.
fn read_node_list(xml: &str) -> Result<NodeListing, String> {
    let mut reader = XmlReader::new(xml);
    let mut state = ListingState::default();
    let mut root_seen = false;
    loop {
        let (name, empty) = match reader.next_event()? {
            XmlEvent::Start { name, empty } => (name, empty),
            XmlEvent::Text(piece) => {
                if state.field.is_some() {
                    if state.text.is_empty() {
                        state.text = piece.into_owned();
                    } else {
                        state.text.push_str(&piece);
                    }
                }
                continue;
            }
            XmlEvent::End => {
                state.end_element()?;
                continue;
            }
            XmlEvent::Eof => break,
        };
        if state.field.is_some() {
            return Err(format!("an element <{name}> inside a text field"));
        }
        if !root_seen {
            if name != "ListBucketResult" {
                return Err(format!("expected <ListBucketResult>, found <{name}>"));
            }
            root_seen = true;
        } else if state.depth == 1 {
            match name {
                "IsTruncated" => state.field = Some(ListingField::IsTruncated),
                "NextContinuationToken" => state.field = Some(ListingField::NextContinuationToken),
                "Contents" => state.contents = Some((None, ListedObject::default())),
                "CommonPrefixes" => state.in_prefixes = true,
                _ => {}
            }
        } else if state.depth == 2 {
            state.field = match (name, state.contents.is_some(), state.in_prefixes) {
                ("Key", true, _) => Some(ListingField::Key),
                ("LastModified", true, _) => Some(ListingField::LastModified),
                ("ETag", true, _) => Some(ListingField::ETag),
                ("Size", true, _) => Some(ListingField::Size),
                ("StorageClass", true, _) => Some(ListingField::StorageClass),
                ("Prefix", _, true) => Some(ListingField::Prefix),
                _ => None,
            };
        }
        state.text.clear();
        state.depth += 1;
        if empty {
            state.end_element()?;
        }
    }
    if !root_seen {
        return Err("no ListBucketResult element".to_string());
    }
    Ok(state.listing)
}

/// Where `read_node_list` is in a listing.
#[derive(Default)]
struct ListingState {
    listing: NodeListing,
    /// Elements open, the root being 1 (the reader checks that they nest).
    depth: usize,
    /// The object being read: its Key once seen, and the rest.
    contents: Option<(Option<String>, ListedObject)>,
    in_prefixes: bool,
    /// The field whose text is being read, and that text.
    field: Option<ListingField>,
    text: String,
}

impl ListingState {
    /// An element ends (an empty one right after it started): a field's text is stored, an
    /// object is complete.
    fn end_element(&mut self) -> Result<(), String> {
        self.depth -= 1;
        if let Some(done) = self.field.take() {
            store_field(done, std::mem::take(&mut self.text), &mut self.listing, self.contents.as_mut())?;
        } else if self.depth == 1 {
            if let Some((key, mut object)) = self.contents.take() {
                object.key = key.ok_or("an object without a Key")?;
                self.listing.contents.push(object);
            }
            self.in_prefixes = false;
        }
        Ok(())
    }
}

fn store_field(
    field: ListingField,
    value: String,
    listing: &mut NodeListing,
    contents: Option<&mut (Option<String>, ListedObject)>,
) -> Result<(), String> {
    match field {
        ListingField::IsTruncated => {
            listing.is_truncated = xml_bool(&value).map_err(|why| format!("IsTruncated {why}"))?
        }
        ListingField::NextContinuationToken => listing.next_continuation_token = Some(value).filter(|t| !t.is_empty()),
        ListingField::Prefix => listing.common_prefixes.push(value),
        field => {
            let (key, object) = contents.ok_or("an object field outside Contents")?;
            match field {
                ListingField::Key => *key = Some(value),
                ListingField::LastModified => object.last_modified = value,
                ListingField::ETag => object.etag = value,
                ListingField::Size => object.size = xml_number(&value).map_err(|why| format!("Size {why}"))?,
                _ => object.storage_class = Some(value).filter(|c| !c.is_empty()),
            }
        }
    }
    Ok(())
}

/// Write the client's ListBucketResult for `request` from the node's `listing`.
///
/// `bucket` is the client's bucket name and `bucket_prefix` its backend prefix: it is stripped
/// from every key, common prefix and marker, and anything the node returned outside it is
/// dropped, so one bucket's listing can never show another's keys. `owner` is the project's
/// owner, named in each object when the request asks for owners; the node's own owner (its
/// access key's account) is never shown.
pub fn render_list(
    request: &ListRequest,
    bucket: &str,
    bucket_prefix: &str,
    listing: &NodeListing,
    owner: &Owner,
) -> String {
    let strip = |key| str::strip_prefix(key, bucket_prefix);
    let encode = |text| url_encoded_if(request.url_encoding, text);

    let (contents, common_prefixes, is_truncated) = if request.needs_node_request() {
        let contents: Vec<(&str, &ListedObject)> = listing
            .contents
            .iter()
            .filter_map(|object| Some((strip(&object.key)?, object)))
            // A backend key equal to the bucket prefix would be an empty client key.
            .filter(|(key, _)| !key.is_empty())
            .collect();
        let prefixes: Vec<&str> = listing.common_prefixes.iter().filter_map(|p| strip(p)).collect();
        (contents, prefixes, listing.is_truncated)
    } else {
        (Vec::new(), Vec::new(), false)
    };

    // ~250 bytes per object and ~60 per common prefix, as Garage's keys and dates come.
    let mut xml = XmlWriter::with_capacity("ListBucketResult", 512 + 250 * contents.len() + 60 * common_prefixes.len());
    xml.element("Name", bucket).element("Prefix", &encode(&request.prefix));
    match request.version {
        ListVersion::V1 => {
            xml.element("Marker", &encode(request.marker.as_deref().unwrap_or_default()));
            // As S3: NextMarker only with a delimiter (without one the last key is the marker),
            // and it is the page's last entry, a common prefix included; `backend_list_query`
            // turns such a prefix marker into one that skips everything under it. The node's own
            // NextMarker is not used: nodes disagree on it (Garage names a key under the prefix).
            if is_truncated && request.delimiter.is_some() {
                let next_marker = last_entry(&contents, &common_prefixes);
                xml.optional_element("NextMarker", next_marker.map(encode).as_deref());
            }
        }
        ListVersion::V2 => {
            xml.optional_element("ContinuationToken", request.continuation_token.as_deref());
            if is_truncated {
                xml.optional_element("NextContinuationToken", listing.next_continuation_token.as_deref());
            }
            xml.optional_element("StartAfter", request.start_after.as_deref().map(encode).as_deref());
            xml.element("KeyCount", &(contents.len() + common_prefixes.len()).to_string());
        }
    }
    xml.element("MaxKeys", &request.max_keys.to_string());
    xml.optional_element("Delimiter", request.delimiter.as_deref().map(encode).as_deref());
    if request.url_encoding {
        xml.element("EncodingType", "url");
    }
    xml.element("IsTruncated", if is_truncated { "true" } else { "false" });

    for (key, object) in &contents {
        xml.open("Contents")
            .element("Key", &encode(key))
            .element("LastModified", &object.last_modified)
            .element("ETag", &object.etag)
            .element("Size", &object.size.to_string());
        if request.includes_owner() {
            owner.write_to(&mut xml);
        }
        xml.element("StorageClass", object.storage_class.as_deref().unwrap_or("STANDARD"));
        xml.close();
    }
    for prefix in &common_prefixes {
        xml.open("CommonPrefixes").element("Prefix", &encode(prefix)).close();
    }
    xml.finish()
}

/// The greatest key or common prefix of a page: where a V1 listing continues from.
fn last_entry<'k>(contents: &[(&'k str, &ListedObject)], common_prefixes: &[&'k str]) -> Option<&'k str> {
    let last_key = contents.iter().map(|(key, _)| *key).max();
    let last_prefix = common_prefixes.iter().copied().max();
    last_key.max(last_prefix)
}

/// `text` URL-encoded for `encoding-type=url`, as it is otherwise.
fn url_encoded_if(url_encoding: bool, text: &str) -> Cow<'_, str> {
    if url_encoding {
        Cow::Owned(uri_encode(text, true))
    } else {
        Cow::Borrowed(text)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::http::parse_query;
    use crate::s3::error::S3ErrorCode;

    const BUCKET_PREFIX: &str = "photos/";

    fn request(query: &str) -> ListRequest {
        ListRequest::from_query(&parse_query(query)).unwrap()
    }

    fn request_error(query: &str) -> S3ErrorCode {
        ListRequest::from_query(&parse_query(query)).unwrap_err().code
    }

    fn owner() -> Owner {
        Owner { id: "project-7".into(), display_name: "tenant".into() }
    }

    fn pairs(query: &[(String, String)]) -> Vec<(&str, &str)> {
        query.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect()
    }

    fn render(query: &str, node_xml: &str) -> String {
        let listing = parse_node_list(node_xml).unwrap();
        render_list(&request(query), "photos", BUCKET_PREFIX, &listing, &owner())
    }

    /// The body of a rendered document after the declaration and root start tag.
    fn body(xml: &str) -> &str {
        let start = xml.find("doc/2006-03-01/\">").expect("root with namespace") + 17;
        xml[start..].strip_suffix("</ListBucketResult>").expect("root end tag")
    }

    // Node answers, written as Garage (no whitespace, its own element order, no Owner) and AWS
    // (pretty-printed, Owner and ChecksumAlgorithm in Contents) send them.

    const GARAGE_V2_DELIMITED: &str = r#"<?xml version="1.0" encoding="UTF-8"?><ListBucketResult xmlns="http://s3.amazonaws.com/doc/2006-03-01/"><Name>tenant-7</Name><Prefix>photos/</Prefix><KeyCount>4</KeyCount><MaxKeys>1000</MaxKeys><Delimiter>/</Delimiter><IsTruncated>false</IsTruncated><Contents><Key>photos/a.jpg</Key><LastModified>2024-05-01T10:00:00.123Z</LastModified><ETag>&quot;0cc175b9c0f1b6a831c399e269772661&quot;</ETag><Size>1</Size><StorageClass>STANDARD</StorageClass></Contents><Contents><Key>photos/b &amp; c.jpg</Key><LastModified>2024-05-01T10:00:01.000Z</LastModified><ETag>&quot;92eb5ffee6ae2fec3ad71c777531578f-2&quot;</ETag><Size>10485760</Size><StorageClass>STANDARD</StorageClass></Contents><CommonPrefixes><Prefix>photos/2023/</Prefix></CommonPrefixes><CommonPrefixes><Prefix>photos/2024/</Prefix></CommonPrefixes></ListBucketResult>"#;

    const AWS_V2_TRUNCATED: &str = r#"<?xml version="1.0" encoding="UTF-8"?>
<ListBucketResult xmlns="http://s3.amazonaws.com/doc/2006-03-01/">
    <Name>tenant-7</Name>
    <Prefix>photos/</Prefix>
    <NextContinuationToken>1ueGcxLPRx1Tr/XYExHnhbYLgveDs2J/wm36Hy4vbOwM=</NextContinuationToken>
    <KeyCount>2</KeyCount>
    <MaxKeys>2</MaxKeys>
    <IsTruncated>true</IsTruncated>
    <Contents>
        <Key>photos/2024/01.jpg</Key>
        <LastModified>2009-10-12T17:50:30.000Z</LastModified>
        <ETag>"fba9dede5f27731c9771645a39863328"</ETag>
        <ChecksumAlgorithm>CRC32</ChecksumAlgorithm>
        <ChecksumAlgorithm>SHA256</ChecksumAlgorithm>
        <Size>434234</Size>
        <Owner>
            <ID>75aa57f09aa0c8caeab4f8c24e99d10f8e7faeebf76c078efc7c6caea54ba06a</ID>
            <DisplayName>node-operator</DisplayName>
        </Owner>
        <StorageClass>STANDARD</StorageClass>
    </Contents>
    <Contents>
        <Key>photos/2024/02.jpg</Key>
        <LastModified>2009-10-12T17:50:31.000Z</LastModified>
        <ETag>&quot;b9f4a2b8a9a8b8e9f0f1f2f3f4f5f6f7&quot;</ETag>
        <Size>0</Size>
        <StorageClass>STANDARD_IA</StorageClass>
    </Contents>
</ListBucketResult>"#;

    const GARAGE_EMPTY: &str = r#"<?xml version="1.0" encoding="UTF-8"?><ListBucketResult xmlns="http://s3.amazonaws.com/doc/2006-03-01/"><Name>tenant-7</Name><Prefix>photos/nothing/</Prefix><KeyCount>0</KeyCount><MaxKeys>1000</MaxKeys><IsTruncated>false</IsTruncated></ListBucketResult>"#;

    const GARAGE_V1_TRUNCATED_ON_PREFIX: &str = r#"<?xml version="1.0" encoding="UTF-8"?><ListBucketResult xmlns="http://s3.amazonaws.com/doc/2006-03-01/"><Name>tenant-7</Name><Prefix>photos/</Prefix><Marker>photos/0.jpg</Marker><NextMarker>photos/2023/12/31.jpg</NextMarker><KeyCount>2</KeyCount><MaxKeys>2</MaxKeys><Delimiter>/</Delimiter><IsTruncated>true</IsTruncated><Contents><Key>photos/1.jpg</Key><LastModified>2024-05-01T10:00:00.000Z</LastModified><ETag>&quot;c4ca4238a0b923820dcc509a6f75849b&quot;</ETag><Size>1</Size><StorageClass>STANDARD</StorageClass></Contents><CommonPrefixes><Prefix>photos/2023/</Prefix></CommonPrefixes></ListBucketResult>"#;

    #[test]
    fn parses_v2_defaults() {
        let r = request("list-type=2");
        assert_eq!(
            r,
            ListRequest {
                version: ListVersion::V2,
                prefix: String::new(),
                delimiter: None,
                max_keys: 1000,
                continuation_token: None,
                start_after: None,
                marker: None,
                url_encoding: false,
                fetch_owner: false,
            }
        );
        assert!(!r.includes_owner());
    }

    #[test]
    fn parses_every_v2_parameter() {
        let r = request(
            "list-type=2&prefix=a%2Fb%20c&delimiter=%2F&max-keys=50&continuation-token=%5DYWJj\
             &start-after=a%2Fb%20c%2F0&encoding-type=url&fetch-owner=true&marker=ignored",
        );
        assert_eq!(r.version, ListVersion::V2);
        assert_eq!(r.prefix, "a/b c");
        assert_eq!(r.delimiter.as_deref(), Some("/"));
        assert_eq!(r.max_keys, 50);
        assert_eq!(r.continuation_token.as_deref(), Some("]YWJj"));
        assert_eq!(r.start_after.as_deref(), Some("a/b c/0"));
        assert_eq!(r.marker, None);
        assert!(r.url_encoding);
        assert!(r.fetch_owner && r.includes_owner());
    }

    #[test]
    fn parses_v1_and_ignores_v2_only_parameters() {
        let r = request("prefix=x&marker=x%2F5&continuation-token=t&start-after=s&fetch-owner=true");
        assert_eq!(r.version, ListVersion::V1);
        assert_eq!(r.marker.as_deref(), Some("x/5"));
        assert!(r.includes_owner());
        assert_eq!((r.continuation_token, r.start_after, r.fetch_owner), (None, None, false));
    }

    #[test]
    fn empty_values_mean_absent() {
        let r = request("list-type=2&prefix=&delimiter=&start-after=");
        assert_eq!((r.prefix.as_str(), r.delimiter, r.start_after), ("", None, None));
        assert_eq!(request("marker=").marker, None);
        assert!(!request("list-type=2&fetch-owner=false").fetch_owner);
        assert!(!request("list-type=2&fetch-owner").fetch_owner);
    }

    #[test]
    fn max_keys_is_clamped_and_validated() {
        assert_eq!(request("max-keys=0").max_keys, 0);
        assert_eq!(request("max-keys=1000").max_keys, 1000);
        assert_eq!(request("max-keys=1001").max_keys, 1000);
        assert_eq!(request("max-keys=99999999999999999999").max_keys, 1000);
        assert_eq!(request("max-keys=007").max_keys, 7);
        for bad in ["-1", "abc", "", "1.5", "+5", " 5", "0x10"] {
            let query = format!("list-type=2&max-keys={}", crate::http::uri_encode(bad, false));
            assert_eq!(request_error(&query), S3ErrorCode::InvalidArgument, "{bad:?}");
        }
    }

    #[test]
    fn rejects_unknown_list_types_encodings_and_empty_tokens() {
        assert_eq!(request_error("list-type=3"), S3ErrorCode::InvalidArgument);
        assert_eq!(request_error("list-type=1"), S3ErrorCode::InvalidArgument);
        assert_eq!(request_error("encoding-type=base64"), S3ErrorCode::InvalidArgument);
        assert_eq!(request_error("encoding-type="), S3ErrorCode::InvalidArgument);
        assert_eq!(request_error("encoding-type=URL"), S3ErrorCode::InvalidArgument);
        assert_eq!(request_error("list-type=2&continuation-token="), S3ErrorCode::InvalidArgument);
    }

    #[test]
    fn first_value_of_a_repeated_parameter_wins() {
        assert_eq!(request("prefix=a&prefix=b").prefix, "a");
    }

    #[test]
    fn backend_query_v2_adds_the_bucket_prefix() {
        let r = request(
            "list-type=2&prefix=2024%2F&delimiter=%2F&max-keys=10&continuation-token=%5DcGhvdG9z\
             &start-after=2024%2F05&encoding-type=url&fetch-owner=true",
        );
        assert_eq!(
            pairs(&backend_list_query(&r, BUCKET_PREFIX)),
            vec![
                ("list-type", "2"),
                ("prefix", "photos/2024/"),
                ("delimiter", "/"),
                ("max-keys", "10"),
                ("continuation-token", "]cGhvdG9z"),
                ("start-after", "photos/2024/05"),
            ]
        );
    }

    #[test]
    fn backend_query_without_prefix_still_confines_to_the_bucket() {
        assert_eq!(
            pairs(&backend_list_query(&request("list-type=2"), BUCKET_PREFIX)),
            vec![("list-type", "2"), ("prefix", "photos/"), ("max-keys", "1000")]
        );
        assert_eq!(
            pairs(&backend_list_query(&request(""), BUCKET_PREFIX)),
            vec![("prefix", "photos/"), ("max-keys", "1000")]
        );
    }

    #[test]
    fn backend_query_v1_forwards_the_marker() {
        let r = request("prefix=a&delimiter=%2F&max-keys=2&marker=a%2Fz");
        assert_eq!(
            pairs(&backend_list_query(&r, BUCKET_PREFIX)),
            vec![("prefix", "photos/a"), ("delimiter", "/"), ("max-keys", "2"), ("marker", "photos/a/z")]
        );
    }

    #[test]
    fn backend_query_v1_skips_past_a_common_prefix_marker() {
        let r = request("delimiter=%2F&max-keys=1&marker=a%2F");
        let query = backend_list_query(&r, BUCKET_PREFIX);
        let marker = &query.iter().find(|(k, _)| k == "marker").unwrap().1;
        assert_eq!(marker, &format!("photos/a/{}", char::MAX));
        // Every key under the prefix sorts before it, the next sibling after it.
        assert!("photos/a/zzzz/€" < marker.as_str());
        assert!("photos/b" > marker.as_str());
        let r = request("max-keys=1&marker=a%2F");
        assert!(backend_list_query(&r, BUCKET_PREFIX).contains(&("marker".to_string(), "photos/a/".to_string())));
    }

    #[test]
    fn backend_query_drops_a_start_that_sorts_before_the_prefix() {
        let r = request("list-type=2&prefix=m&start-after=a");
        assert_eq!(
            pairs(&backend_list_query(&r, BUCKET_PREFIX)),
            vec![("list-type", "2"), ("prefix", "photos/m"), ("max-keys", "1000")]
        );
        let r = request("prefix=m&marker=l%2Fzzz");
        assert_eq!(pairs(&backend_list_query(&r, BUCKET_PREFIX)), vec![("prefix", "photos/m"), ("max-keys", "1000")]);
        // Equal to the prefix: a key equal to the prefix must still be skipped.
        let r = request("list-type=2&prefix=m&start-after=m");
        assert_eq!(backend_list_query(&r, BUCKET_PREFIX).last().unwrap().1, "photos/m");
    }

    #[test]
    fn parses_a_garage_v2_listing() {
        let listing = parse_node_list(GARAGE_V2_DELIMITED).unwrap();
        assert!(!listing.is_truncated);
        assert_eq!(listing.next_continuation_token, None);
        assert_eq!(
            listing.contents,
            vec![
                ListedObject {
                    key: "photos/a.jpg".into(),
                    last_modified: "2024-05-01T10:00:00.123Z".into(),
                    etag: "\"0cc175b9c0f1b6a831c399e269772661\"".into(),
                    size: 1,
                    storage_class: Some("STANDARD".into()),
                },
                ListedObject {
                    key: "photos/b & c.jpg".into(),
                    last_modified: "2024-05-01T10:00:01.000Z".into(),
                    etag: "\"92eb5ffee6ae2fec3ad71c777531578f-2\"".into(),
                    size: 10_485_760,
                    storage_class: Some("STANDARD".into()),
                },
            ]
        );
        assert_eq!(listing.common_prefixes, vec!["photos/2023/", "photos/2024/"]);
    }

    #[test]
    fn parses_a_pretty_printed_aws_listing_with_extra_elements() {
        let listing = parse_node_list(AWS_V2_TRUNCATED).unwrap();
        assert!(listing.is_truncated);
        assert_eq!(listing.next_continuation_token.as_deref(), Some("1ueGcxLPRx1Tr/XYExHnhbYLgveDs2J/wm36Hy4vbOwM="));
        let keys: Vec<&str> = listing.contents.iter().map(|o| o.key.as_str()).collect();
        assert_eq!(keys, ["photos/2024/01.jpg", "photos/2024/02.jpg"]);
        assert_eq!(listing.contents[0].etag, "\"fba9dede5f27731c9771645a39863328\"");
        assert_eq!(listing.contents[0].size, 434_234);
        assert_eq!(listing.contents[1].storage_class.as_deref(), Some("STANDARD_IA"));
        assert!(listing.common_prefixes.is_empty());
    }

    #[test]
    fn parses_empty_and_minimal_listings() {
        assert_eq!(parse_node_list(GARAGE_EMPTY).unwrap(), NodeListing::default());
        assert_eq!(parse_node_list("<ListBucketResult/>").unwrap(), NodeListing::default());
        let minimal = "<ListBucketResult><Contents><Key>photos/k</Key></Contents>\
                       <NextContinuationToken></NextContinuationToken></ListBucketResult>";
        let listing = parse_node_list(minimal).unwrap();
        assert_eq!(listing.contents, vec![ListedObject { key: "photos/k".into(), ..Default::default() }]);
        assert_eq!(listing.next_continuation_token, None);
    }

    #[test]
    fn parses_interleaved_contents_and_prefixes() {
        let xml = "<ListBucketResult><CommonPrefixes><Prefix>photos/a/</Prefix></CommonPrefixes>\
                   <Contents><Key>photos/b</Key><Size>2</Size></Contents>\
                   <CommonPrefixes><Prefix>photos/c/</Prefix><Prefix>photos/d/</Prefix></CommonPrefixes>\
                   <Contents><Key>photos/e</Key><Size>3</Size></Contents></ListBucketResult>";
        let listing = parse_node_list(xml).unwrap();
        assert_eq!(listing.common_prefixes, vec!["photos/a/", "photos/c/", "photos/d/"]);
        assert_eq!(listing.contents.iter().map(|o| o.size).collect::<Vec<_>>(), [2, 3]);
    }

    #[test]
    fn keeps_keys_exactly_including_whitespace_and_references() {
        let xml = "<ListBucketResult>\
                   <Contents><Key>photos/ lead and trail </Key></Contents>\
                   <Contents><Key>photos/cr&#13;lf&#10;tab&#x9;</Key></Contents>\
                   <Contents><Key><![CDATA[photos/<cdata>&]]></Key></Contents>\
                   <Contents><Key>photos/日本語/ファイル 😀.txt</Key></Contents>\
                   </ListBucketResult>";
        let keys: Vec<String> = parse_node_list(xml).unwrap().contents.into_iter().map(|o| o.key).collect();
        assert_eq!(
            keys,
            ["photos/ lead and trail ", "photos/cr\rlf\ntab\t", "photos/<cdata>&", "photos/日本語/ファイル 😀.txt"]
        );
    }

    #[test]
    fn skips_unknown_elements_at_any_depth() {
        let xml = "<?xml version=\"1.0\"?><!-- a node's note --><ListBucketResult>\
                   <Prefix>echo/</Prefix><Future><Key>not an object</Key><Contents><Key>x</Key></Contents></Future>\
                   <Contents><Owner><ID>o</ID><Key>not the key</Key></Owner><Key>k</Key><Size> 7 </Size>\
                   <ChecksumAlgorithm>CRC32</ChecksumAlgorithm><StorageClass/></Contents>\
                   <CommonPrefixes><Extra>e/</Extra></CommonPrefixes><IsTruncated>1</IsTruncated>\
                   <NextContinuationToken>t&amp;u</NextContinuationToken></ListBucketResult>";
        let listing = parse_node_list(xml).unwrap();
        assert_eq!(listing.contents, vec![ListedObject { key: "k".into(), size: 7, ..Default::default() }]);
        assert!(listing.common_prefixes.is_empty());
        assert!(listing.is_truncated);
        assert_eq!(listing.next_continuation_token.as_deref(), Some("t&u"));
    }

    #[test]
    fn unreadable_node_answers_are_internal_errors() {
        for xml in [
            "",
            "not xml",
            "<ListBucketResult><IsTruncated>maybe</IsTruncated></ListBucketResult>",
            "<ListBucketResult><Contents><Key>k</Key><Size>-1</Size></Contents></ListBucketResult>",
            "<ListBucketResult><Contents><Size>1</Size></Contents></ListBucketResult>",
            "<ListBucketResult><Name>x</Name>",
            "<ListBucketResult><Contents><Key>a<b/></Key></Contents></ListBucketResult>",
            "<ListBucketResult><Contents><Key>&nope;</Key></Contents></ListBucketResult>",
            "<ListBucketResult><Contents/></ListBucketResult>",
            "<ListBucketResult><Contents><Key>k</Key></Contents></ListBucketResult><Extra/>",
            "<Error><Code>NoSuchBucket</Code><Message>m</Message></Error>",
        ] {
            let err = parse_node_list(xml).unwrap_err();
            assert_eq!(err.code, S3ErrorCode::InternalError, "{xml}");
            assert_eq!(err.status(), 500);
        }
    }

    #[test]
    fn renders_a_v2_listing_with_the_bucket_prefix_stripped() {
        let xml = render("list-type=2&delimiter=%2F", GARAGE_V2_DELIMITED);
        assert!(xml.starts_with(
            "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n\
             <ListBucketResult xmlns=\"http://s3.amazonaws.com/doc/2006-03-01/\">"
        ));
        assert_eq!(
            body(&xml),
            "<Name>photos</Name><Prefix></Prefix><KeyCount>4</KeyCount><MaxKeys>1000</MaxKeys>\
             <Delimiter>/</Delimiter><IsTruncated>false</IsTruncated>\
             <Contents><Key>a.jpg</Key><LastModified>2024-05-01T10:00:00.123Z</LastModified>\
             <ETag>&quot;0cc175b9c0f1b6a831c399e269772661&quot;</ETag><Size>1</Size>\
             <StorageClass>STANDARD</StorageClass></Contents>\
             <Contents><Key>b &amp; c.jpg</Key><LastModified>2024-05-01T10:00:01.000Z</LastModified>\
             <ETag>&quot;92eb5ffee6ae2fec3ad71c777531578f-2&quot;</ETag><Size>10485760</Size>\
             <StorageClass>STANDARD</StorageClass></Contents>\
             <CommonPrefixes><Prefix>2023/</Prefix></CommonPrefixes>\
             <CommonPrefixes><Prefix>2024/</Prefix></CommonPrefixes>"
        );
    }

    #[test]
    fn renders_a_truncated_v2_page_with_tokens_start_after_and_owner() {
        let xml = render(
            "list-type=2&prefix=2024%2F&max-keys=2&continuation-token=prev&start-after=2024%2F00\
             &fetch-owner=true",
            AWS_V2_TRUNCATED,
        );
        assert_eq!(
            body(&xml),
            "<Name>photos</Name><Prefix>2024/</Prefix><ContinuationToken>prev</ContinuationToken>\
             <NextContinuationToken>1ueGcxLPRx1Tr/XYExHnhbYLgveDs2J/wm36Hy4vbOwM=</NextContinuationToken>\
             <StartAfter>2024/00</StartAfter><KeyCount>2</KeyCount><MaxKeys>2</MaxKeys>\
             <IsTruncated>true</IsTruncated>\
             <Contents><Key>2024/01.jpg</Key><LastModified>2009-10-12T17:50:30.000Z</LastModified>\
             <ETag>&quot;fba9dede5f27731c9771645a39863328&quot;</ETag><Size>434234</Size>\
             <Owner><ID>project-7</ID><DisplayName>tenant</DisplayName></Owner>\
             <StorageClass>STANDARD</StorageClass></Contents>\
             <Contents><Key>2024/02.jpg</Key><LastModified>2009-10-12T17:50:31.000Z</LastModified>\
             <ETag>&quot;b9f4a2b8a9a8b8e9f0f1f2f3f4f5f6f7&quot;</ETag><Size>0</Size>\
             <Owner><ID>project-7</ID><DisplayName>tenant</DisplayName></Owner>\
             <StorageClass>STANDARD_IA</StorageClass></Contents>"
        );
        assert!(!xml.contains("node-operator"), "the node's owner must not leak");
    }

    #[test]
    fn renders_an_empty_v2_listing() {
        let xml = render("list-type=2&prefix=nothing%2F", GARAGE_EMPTY);
        assert_eq!(
            body(&xml),
            "<Name>photos</Name><Prefix>nothing/</Prefix><KeyCount>0</KeyCount>\
             <MaxKeys>1000</MaxKeys><IsTruncated>false</IsTruncated>"
        );
    }

    #[test]
    fn max_keys_zero_is_an_empty_untruncated_page_whatever_the_node_said() {
        let r = request("list-type=2&max-keys=0");
        assert!(!r.needs_node_request());
        let listing = parse_node_list(AWS_V2_TRUNCATED).unwrap();
        let xml = render_list(&r, "photos", BUCKET_PREFIX, &listing, &owner());
        assert_eq!(
            body(&xml),
            "<Name>photos</Name><Prefix></Prefix><KeyCount>0</KeyCount><MaxKeys>0</MaxKeys>\
             <IsTruncated>false</IsTruncated>"
        );
        let xml = render_list(&r, "photos", BUCKET_PREFIX, &NodeListing::default(), &owner());
        assert!(xml.contains("<KeyCount>0</KeyCount>"));
    }

    #[test]
    fn renders_v1_with_marker_owner_and_the_last_entry_as_next_marker() {
        let xml = render("delimiter=%2F&max-keys=2&marker=0.jpg", GARAGE_V1_TRUNCATED_ON_PREFIX);
        assert_eq!(
            body(&xml),
            "<Name>photos</Name><Prefix></Prefix><Marker>0.jpg</Marker>\
             <NextMarker>2023/</NextMarker><MaxKeys>2</MaxKeys><Delimiter>/</Delimiter>\
             <IsTruncated>true</IsTruncated>\
             <Contents><Key>1.jpg</Key><LastModified>2024-05-01T10:00:00.000Z</LastModified>\
             <ETag>&quot;c4ca4238a0b923820dcc509a6f75849b&quot;</ETag><Size>1</Size>\
             <Owner><ID>project-7</ID><DisplayName>tenant</DisplayName></Owner>\
             <StorageClass>STANDARD</StorageClass></Contents>\
             <CommonPrefixes><Prefix>2023/</Prefix></CommonPrefixes>"
        );
    }

    #[test]
    fn v1_next_marker_needs_a_delimiter_and_truncation() {
        // Without a delimiter the client continues from the last key, as with S3.
        let xml = render("max-keys=2", GARAGE_V1_TRUNCATED_ON_PREFIX);
        assert!(!xml.contains("NextMarker"), "{xml}");
        assert!(xml.contains("<Marker></Marker>"), "{xml}");
        let xml = render("delimiter=%2F", GARAGE_V2_DELIMITED);
        assert!(!xml.contains("NextMarker"), "{xml}");
    }

    #[test]
    fn v1_next_marker_is_the_last_entry_whatever_the_node_says() {
        let listing = NodeListing {
            is_truncated: true,
            contents: vec![ListedObject { key: "photos/z.jpg".into(), ..Default::default() }],
            common_prefixes: vec!["photos/a/".into()],
            ..Default::default()
        };
        let xml = render_list(&request("delimiter=%2F"), "photos", BUCKET_PREFIX, &listing, &owner());
        assert!(xml.contains("<NextMarker>z.jpg</NextMarker>"), "{xml}");
        let listing = NodeListing {
            contents: vec![ListedObject { key: "photos/a.jpg".into(), ..Default::default() }],
            common_prefixes: vec!["photos/b/".into()],
            ..listing
        };
        let xml = render_list(&request("delimiter=%2F"), "photos", BUCKET_PREFIX, &listing, &owner());
        assert!(xml.contains("<NextMarker>b/</NextMarker>"), "{xml}");
    }

    #[test]
    fn drops_entries_outside_the_bucket_prefix() {
        let xml = "<ListBucketResult><IsTruncated>false</IsTruncated>\
                   <Contents><Key>photos/mine</Key></Contents>\
                   <Contents><Key>photosynthesis/theirs</Key></Contents>\
                   <Contents><Key>.portico/buckets/photos</Key></Contents>\
                   <Contents><Key>photos/</Key></Contents>\
                   <CommonPrefixes><Prefix>other/</Prefix></CommonPrefixes>\
                   </ListBucketResult>";
        let rendered = render("list-type=2", xml);
        assert!(rendered.contains("<Key>mine</Key>"));
        assert!(!rendered.contains("theirs") && !rendered.contains("portico") && !rendered.contains("other"));
        assert!(!rendered.contains("<Key></Key>"), "{rendered}");
        assert!(rendered.contains("<KeyCount>1</KeyCount>"));
    }

    #[test]
    fn escapes_xml_special_characters_and_keeps_unicode() {
        let node = "<ListBucketResult>\
                    <Contents><Key>photos/a&amp;b&lt;c&gt;&quot;d&apos;.txt</Key><Size>1</Size></Contents>\
                    <Contents><Key>photos/日本語/ファイル 😀.txt</Key><Size>2</Size></Contents>\
                    <Contents><Key>photos/cr&#13;key</Key><Size>3</Size></Contents>\
                    <CommonPrefixes><Prefix>photos/ü&amp;/</Prefix></CommonPrefixes>\
                    </ListBucketResult>";
        let xml = render("list-type=2&prefix=&delimiter=%2F", node);
        assert!(xml.contains("<Key>a&amp;b&lt;c&gt;&quot;d&apos;.txt</Key>"), "{xml}");
        assert!(xml.contains("<Key>日本語/ファイル 😀.txt</Key>"), "{xml}");
        assert!(xml.contains("<Key>cr&#13;key</Key>"), "{xml}");
        assert!(xml.contains("<Prefix>ü&amp;/</Prefix>"), "{xml}");

        // Reading our own answer back gives the client-relative keys exactly.
        let back = parse_node_list(&xml).unwrap();
        let keys: Vec<&str> = back.contents.iter().map(|o| o.key.as_str()).collect();
        assert_eq!(keys, ["a&b<c>\"d'.txt", "日本語/ファイル 😀.txt", "cr\rkey"]);
        assert_eq!(back.common_prefixes, ["ü&/"]);
    }

    #[test]
    fn url_encoding_applies_to_keys_prefixes_delimiter_and_start_after() {
        let node = "<ListBucketResult><IsTruncated>false</IsTruncated>\
                    <Contents><Key>photos/dir one/a+b&amp;c=ü.txt</Key><Size>1</Size></Contents>\
                    <CommonPrefixes><Prefix>photos/dir one/sub dir|</Prefix></CommonPrefixes>\
                    </ListBucketResult>";
        let xml =
            render("list-type=2&prefix=dir%20one%2F&delimiter=%7C&start-after=dir%20one%2F%20&encoding-type=url", node);
        assert_eq!(
            body(&xml),
            "<Name>photos</Name><Prefix>dir%20one/</Prefix><StartAfter>dir%20one/%20</StartAfter>\
             <KeyCount>2</KeyCount><MaxKeys>1000</MaxKeys><Delimiter>%7C</Delimiter>\
             <EncodingType>url</EncodingType><IsTruncated>false</IsTruncated>\
             <Contents><Key>dir%20one/a%2Bb%26c%3D%C3%BC.txt</Key><LastModified></LastModified>\
             <ETag></ETag><Size>1</Size><StorageClass>STANDARD</StorageClass></Contents>\
             <CommonPrefixes><Prefix>dir%20one/sub%20dir%7C</Prefix></CommonPrefixes>"
        );
    }

    #[test]
    fn url_encoding_applies_to_v1_markers() {
        let xml = render("delimiter=%2F&max-keys=2&marker=0%20a.jpg&encoding-type=url", GARAGE_V1_TRUNCATED_ON_PREFIX);
        assert!(xml.contains("<Marker>0%20a.jpg</Marker>"), "{xml}");
        assert!(xml.contains("<NextMarker>2023/</NextMarker>"), "{xml}");
        assert!(xml.contains("<EncodingType>url</EncodingType>"), "{xml}");
    }

    #[test]
    fn a_full_round_trip_from_client_query_to_client_answer() {
        let client = request("list-type=2&prefix=2024%2F&delimiter=%2F&max-keys=2");
        let node_query = backend_list_query(&client, BUCKET_PREFIX);
        assert_eq!(node_query[1], ("prefix".to_string(), "photos/2024/".to_string()));
        let mut listing = parse_node_list(AWS_V2_TRUNCATED).unwrap();
        // An encrypted project rewrites sizes and ETags between parsing and rendering.
        listing.contents[0].size = 434_000;
        listing.contents[0].etag = "\"opaque-etag\"".into();
        let xml = render_list(&client, "photos", BUCKET_PREFIX, &listing, &owner());
        assert!(xml.contains("<Key>2024/01.jpg</Key>"), "{xml}");
        assert!(xml.contains("<Size>434000</Size><StorageClass>"), "{xml}");
        assert!(xml.contains("<ETag>&quot;opaque-etag&quot;</ETag>"), "{xml}");
        assert!(xml.contains("<IsTruncated>true</IsTruncated>"), "{xml}");
        assert!(!xml.contains("<Owner>"), "no owner without fetch-owner: {xml}");
    }
}
