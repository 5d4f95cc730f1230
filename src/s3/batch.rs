//! DeleteObjects (`POST /bucket?delete`): the client's `<Delete>` document, the node's request
//! and answer, and the client's `<DeleteResult>`.
//!
//! Four pure steps: [`parse_delete_request`] reads and validates the client's body;
//! [`DeleteRequest::plan`] runs the gateway's own per-key checks (grant, key length), so refused
//! keys never reach the node; [`DeletePlan::node_body`] writes the node's body with backend keys;
//! [`parse_node_delete_result`] and [`render_delete_result`] turn the node's answer into the
//! client's, every requested key reported in request order with the gateway's refusals merged in.

use std::collections::{HashMap, VecDeque};

use super::error::{S3Error, S3ErrorCode, S3Result};
use super::xml::XmlWriter;
use super::xml_reader::{read_children, read_request, unreadable, xml_bool};
use crate::s3_error;
use crate::storage::node::object_backend_key;

/// Most objects one DeleteObjects request may name; more is MalformedXML, as S3 answers.
pub const MAX_DELETE_OBJECTS: usize = 1000;

/// One object named in a client's `<Delete>` document.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ObjectToDelete {
    /// The client key, exactly as sent (whitespace included).
    pub key: String,
    pub version_id: Option<String>,
}

/// A client's DeleteObjects request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DeleteRequest {
    /// `<Quiet>true</Quiet>`: report errors only.
    pub quiet: bool,
    /// In request order, 1..=1000 of them.
    pub objects: Vec<ObjectToDelete>,
}

/// Parse and validate a client's DeleteObjects body, as S3 does: a document that is not
/// well-formed, has another root, names no object or more than 1000, has an object without a
/// key or with an empty one, or a Quiet that is not a boolean is MalformedXML. Conditional
/// deletes (an ETag, LastModifiedTime or Size on an object) are NotImplemented.
pub fn parse_delete_request(body: &[u8]) -> S3Result<DeleteRequest> {
    let malformed = || s3_error!(MalformedXML);
    let text = std::str::from_utf8(body).map_err(|_| malformed())?;
    // The reader's own wording means nothing to an S3 client: answer with S3's message.
    let children = read_request(text.trim_start(), "Delete").map_err(|_| malformed())?;
    let mut request = DeleteRequest { quiet: false, objects: Vec::new() };
    for child in &children {
        match child.name {
            "Quiet" => request.quiet = xml_bool(&child.text).map_err(|_| malformed())?,
            "Object" => {
                let field = |name| child.only_field(name).map_err(|_| malformed());
                // Conditional deletes (S3, 2024): portico cannot honour them, so it refuses them
                // rather than delete unconditionally.
                if field("ETag")?.is_some() || field("LastModifiedTime")?.is_some() || field("Size")?.is_some() {
                    return Err(s3_error!(
                        NotImplemented,
                        "Conditional deletes (ETag, LastModifiedTime, Size) are not supported."
                    ));
                }
                let key = field("Key")?.filter(|key| !key.is_empty()).ok_or_else(malformed)?;
                let version_id = field("VersionId")?.map(str::to_string);
                request.objects.push(ObjectToDelete { key: key.to_string(), version_id });
                if request.objects.len() > MAX_DELETE_OBJECTS {
                    return Err(malformed());
                }
            }
            _ => {}
        }
    }
    if request.objects.is_empty() {
        return Err(malformed());
    }
    Ok(request)
}

/// A request after the gateway's own checks: each object either goes to the node or was refused
/// with a per-key error.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DeletePlan {
    pub quiet: bool,
    /// Every requested object in request order, with the gateway's refusal if it refused it.
    pub entries: Vec<(ObjectToDelete, Option<S3Error>)>,
}

impl DeleteRequest {
    /// Run the gateway's per-key checks. `check` is asked about each object in request order
    /// (the grant's Delete permission on the key, the node's key length limit); an object it
    /// refuses is reported with that error (its code and message) and not sent to the node.
    ///
    /// Before `check`, an object naming a version other than `null` is refused with S3's
    /// InvalidArgument "Invalid version id specified": portico's buckets are never versioned.
    pub fn plan(self, mut check: impl FnMut(&ObjectToDelete) -> S3Result<()>) -> DeletePlan {
        let entries = self
            .objects
            .into_iter()
            .map(|object| {
                let refusal = match object.version_id.as_deref() {
                    Some(version) if version != "null" => {
                        Some(s3_error!(InvalidArgument, "Invalid version id specified"))
                    }
                    _ => check(&object).err(),
                };
                (object, refusal)
            })
            .collect();
        DeletePlan { quiet: self.quiet, entries }
    }
}

impl DeletePlan {
    /// The objects to send to the node, in request order.
    pub fn forwarded(&self) -> impl Iterator<Item = &ObjectToDelete> {
        self.entries.iter().filter(|(_, refusal)| refusal.is_none()).map(|(object, _)| object)
    }

    /// Whether any object is left for the node; when not, render with an empty node result.
    pub fn needs_node_request(&self) -> bool {
        self.forwarded().next().is_some()
    }

    /// The node's DeleteObjects body for the forwarded objects of client bucket `bucket`.
    pub fn node_body(&self, bucket: &str) -> String {
        node_delete_body(self.forwarded(), bucket, self.quiet)
    }
}

/// The node's `<Delete>` body: each object's key mapped to its backend key in `bucket`, Quiet
/// kept. Version ids are not sent: the only one portico accepts, `null`, names the object
/// itself on an unversioned bucket. The caller adds the Content-MD5 or checksum the node asks
/// for, computed over this body.
pub fn node_delete_body<'a>(
    objects: impl IntoIterator<Item = &'a ObjectToDelete>,
    bucket: &str,
    quiet: bool,
) -> String {
    let mut xml = XmlWriter::new("Delete");
    xml.element("Quiet", if quiet { "true" } else { "false" });
    for object in objects {
        xml.open("Object").element("Key", &object_backend_key(bucket, &object.key)).close();
    }
    xml.finish()
}

/// A node's DeleteResult. Keys are backend keys.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct NodeDeleteResult {
    pub deleted: Vec<NodeDeleted>,
    pub errors: Vec<NodeDeleteError>,
}

/// A `<Deleted>` entry of a node's answer. The version details are the node's own (Garage
/// reports internal version uuids) and are not shown to the client.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct NodeDeleted {
    pub key: String,
    pub version_id: Option<String>,
    pub delete_marker: bool,
    pub delete_marker_version_id: Option<String>,
}

/// An `<Error>` entry of a node's answer.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct NodeDeleteError {
    pub key: String,
    pub version_id: Option<String>,
    pub code: String,
    pub message: String,
}

/// Read a node's DeleteResult. A document portico cannot read is an InternalError.
pub fn parse_node_delete_result(xml: &str) -> S3Result<NodeDeleteResult> {
    read_node_delete_result(xml).map_err(|why| unreadable("DeleteResult", why))
}

fn read_node_delete_result(xml: &str) -> Result<NodeDeleteResult, String> {
    let mut result = NodeDeleteResult::default();
    for child in read_children(xml, "DeleteResult")? {
        let version = |name| child.field(name).filter(|v| !v.is_empty()).map(str::to_string);
        let key = || child.field("Key").map(str::to_string).ok_or_else(|| format!("a {} without a Key", child.name));
        match child.name {
            "Deleted" => result.deleted.push(NodeDeleted {
                key: key()?,
                version_id: version("VersionId"),
                delete_marker: child.field("DeleteMarker").map(xml_bool).transpose()?.unwrap_or(false),
                delete_marker_version_id: version("DeleteMarkerVersionId"),
            }),
            "Error" => result.errors.push(NodeDeleteError {
                key: key()?,
                version_id: version("VersionId"),
                code: child.field("Code").unwrap_or_default().trim().to_string(),
                message: child.field("Message").unwrap_or_default().to_string(),
            }),
            _ => {}
        }
    }
    Ok(result)
}

/// The client's code for a node's per-key error. Codes that describe the request pass
/// through; anything else (the node's credentials, its backend bucket, codes portico does not
/// know) is the gateway's problem and becomes InternalError. The node's message is never shown:
/// it may name backend keys or buckets.
fn client_key_error(node_code: &str) -> S3ErrorCode {
    use S3ErrorCode::*;
    match node_code {
        "SlowDown" => ServiceUnavailable,
        code => S3ErrorCode::ALL
            .iter()
            .copied()
            .find(|known| known.as_str() == code)
            .filter(|known| {
                matches!(
                    known,
                    InvalidArgument | InvalidRequest | KeyTooLongError | PreconditionFailed | ServiceUnavailable
                )
            })
            .unwrap_or(InternalError),
    }
}

/// One line of the client's answer.
enum Outcome<'a> {
    Deleted,
    Failed(S3ErrorCode, &'a str),
}

/// Write the client's DeleteResult: one entry per requested object, in request order, keys and
/// version ids as the client sent them.
///
/// An object the gateway refused reports its refusal. A forwarded object reports the node's
/// Error for its backend key if there is one, else it was deleted (in Quiet mode the node
/// reports errors only). Outside Quiet mode a forwarded object the node did not mention at all is
/// an InternalError rather than a claimed deletion. When a key is requested several times, the
/// node's entries are matched in order, the last one standing for any further repeats. Entries
/// for keys that were not requested (outside the bucket, say) are ignored. Quiet mode lists
/// errors only.
pub fn render_delete_result(plan: &DeletePlan, bucket: &str, node: &NodeDeleteResult) -> String {
    // Node outcomes by backend key, in the node's order.
    let mut by_key: HashMap<&str, VecDeque<Outcome>> = HashMap::new();
    for deleted in &node.deleted {
        by_key.entry(deleted.key.as_str()).or_default().push_back(Outcome::Deleted);
    }
    for error in &node.errors {
        let outcome = Outcome::Failed(client_key_error(&error.code), "");
        by_key.entry(error.key.as_str()).or_default().push_back(outcome);
    }
    // A key both deleted and failed (repeated in the request) lists its errors first: failing
    // is what needs reporting when the node's order between the two lists is unknown.
    for outcomes in by_key.values_mut() {
        outcomes.make_contiguous().sort_by_key(|outcome| matches!(outcome, Outcome::Deleted));
    }

    let mut xml = XmlWriter::new("DeleteResult");
    for (object, refusal) in &plan.entries {
        let outcome = match refusal {
            Some(error) => Outcome::Failed(error.code, error.message.as_str()),
            None => {
                let backend_key = object_backend_key(bucket, &object.key);
                match by_key.get_mut(backend_key.as_str()) {
                    Some(outcomes) if outcomes.len() > 1 => outcomes.pop_front().unwrap_or(Outcome::Deleted),
                    Some(outcomes) => match outcomes.front() {
                        Some(Outcome::Failed(code, message)) => Outcome::Failed(*code, message),
                        _ => Outcome::Deleted,
                    },
                    None if plan.quiet => Outcome::Deleted,
                    None => Outcome::Failed(S3ErrorCode::InternalError, ""),
                }
            }
        };
        match outcome {
            Outcome::Deleted if plan.quiet => {}
            Outcome::Deleted => {
                xml.open("Deleted")
                    .element("Key", &object.key)
                    .optional_element("VersionId", object.version_id.as_deref())
                    .close();
            }
            Outcome::Failed(code, message) => {
                let message = if message.is_empty() { code.default_message() } else { message };
                xml.open("Error")
                    .element("Key", &object.key)
                    .optional_element("VersionId", object.version_id.as_deref())
                    .element("Code", code.as_str())
                    .element("Message", message)
                    .close();
            }
        }
    }
    xml.finish()
}

#[cfg(test)]
mod tests {
    use super::*;

    const DECL: &str = "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n";
    const NS: &str = "xmlns=\"http://s3.amazonaws.com/doc/2006-03-01/\"";

    /// As botocore serializes it: namespace, objects first, Quiet last.
    const BOTO_DELETE: &str = r#"<Delete xmlns="http://s3.amazonaws.com/doc/2006-03-01/"><Object><Key>2024/a.jpg</Key></Object><Object><Key>b &amp; c.txt</Key><VersionId>null</VersionId></Object><Quiet>true</Quiet></Delete>"#;

    /// The S3 API reference example.
    const AWS_DOC_DELETE: &str = r#"<?xml version="1.0" encoding="UTF-8"?>
<Delete>
    <Object>
         <Key>sample1.txt</Key>
    </Object>
    <Object>
         <Key>sample2.txt</Key>
    </Object>
</Delete>"#;

    const AWS_DOC_RESULT: &str = r#"<?xml version="1.0" encoding="UTF-8"?>
<DeleteResult xmlns="http://s3.amazonaws.com/doc/2006-03-01/">
  <Deleted>
    <Key>photos/sample1.txt</Key>
  </Deleted>
  <Error>
    <Key>photos/sample2.txt</Key>
    <Code>AccessDenied</Code>
    <Message>Access Denied</Message>
  </Error>
</DeleteResult>"#;

    const GARAGE_RESULT: &str = r#"<?xml version="1.0" encoding="UTF-8"?><DeleteResult xmlns="http://s3.amazonaws.com/doc/2006-03-01/"><Deleted><Key>photos/2024/a.jpg</Key><VersionId>3f2a9c0d8e7b6a5f4e3d2c1b0a998877</VersionId><DeleteMarkerVersionId>0d8e7b6a5f4e3d2c1b0a9988773f2a9c</DeleteMarkerVersionId></Deleted><Deleted><Key>photos/b &amp; c.txt</Key></Deleted></DeleteResult>"#;

    fn object(key: &str) -> ObjectToDelete {
        ObjectToDelete { key: key.into(), version_id: None }
    }

    fn body(xml: &str) -> &str {
        let start = xml.find("doc/2006-03-01/\">").expect("root with namespace") + 17;
        xml[start..].strip_suffix("</DeleteResult>").expect("root end tag")
    }

    fn plan(request: DeleteRequest) -> DeletePlan {
        request.plan(|_| Ok(()))
    }

    fn delete_body(objects: &[&str], extra: &str) -> String {
        let objects: String = objects.iter().map(|k| format!("<Object><Key>{k}</Key></Object>")).collect();
        format!("<Delete>{objects}{extra}</Delete>")
    }

    // ---- the client's request ----

    #[test]
    fn parses_a_boto_request() {
        assert_eq!(
            parse_delete_request(BOTO_DELETE.as_bytes()).unwrap(),
            DeleteRequest {
                quiet: true,
                objects: vec![
                    object("2024/a.jpg"),
                    ObjectToDelete { key: "b & c.txt".into(), version_id: Some("null".into()) },
                ],
            }
        );
    }

    #[test]
    fn parses_the_documentation_example() {
        let request = parse_delete_request(AWS_DOC_DELETE.as_bytes()).unwrap();
        assert_eq!(
            request,
            DeleteRequest { quiet: false, objects: vec![object("sample1.txt"), object("sample2.txt")] }
        );
    }

    #[test]
    fn quiet_may_come_anywhere_and_reads_as_xml_booleans() {
        for (extra, quiet) in [
            ("", false),
            ("<Quiet>false</Quiet>", false),
            ("<Quiet>true</Quiet>", true),
            ("<Quiet> true </Quiet>", true),
            ("<Quiet>1</Quiet>", true),
            ("<Quiet>0</Quiet>", false),
        ] {
            let request = parse_delete_request(delete_body(&["k"], extra).as_bytes()).unwrap();
            assert_eq!(request.quiet, quiet, "{extra}");
        }
        let first = "<Delete><Quiet>true</Quiet><Object><Key>a</Key></Object><Object><Key>b</Key></Object></Delete>";
        let request = parse_delete_request(first.as_bytes()).unwrap();
        assert!(request.quiet);
        assert_eq!(request.objects, [object("a"), object("b")]);
        let between = "<Delete><Object><Key>a</Key></Object><Quiet>true</Quiet><Object><Key>b</Key></Object></Delete>";
        assert_eq!(parse_delete_request(between.as_bytes()).unwrap().objects.len(), 2);
    }

    #[test]
    fn keys_are_kept_exactly() {
        let xml = "<s3:Delete xmlns:s3=\"http://s3.amazonaws.com/doc/2006-03-01/\">\
                   <s3:Object><s3:Key> lead and trail </s3:Key></s3:Object>\
                   <s3:Object><s3:Key>cr&#13;lf&#10;tab&#x9;</s3:Key></s3:Object>\
                   <s3:Object><s3:Key><![CDATA[<cdata>&]]></s3:Key></s3:Object>\
                   <s3:Object><s3:Key>日本語/ファイル 😀.txt</s3:Key></s3:Object>\
                   <s3:Object><s3:Key>a&lt;b&gt;&quot;c&apos;&amp;</s3:Key></s3:Object>\
                   </s3:Delete>";
        let keys: Vec<String> =
            parse_delete_request(xml.as_bytes()).unwrap().objects.into_iter().map(|o| o.key).collect();
        assert_eq!(keys, [" lead and trail ", "cr\rlf\ntab\t", "<cdata>&", "日本語/ファイル 😀.txt", "a<b>\"c'&"]);
    }

    #[test]
    fn at_most_1000_objects() {
        let keys: Vec<String> = (0..1001).map(|i| format!("key-{i}")).collect();
        let refs: Vec<&str> = keys.iter().map(String::as_str).collect();
        assert_eq!(parse_delete_request(delete_body(&refs[..1000], "").as_bytes()).unwrap().objects.len(), 1000);
        let err = parse_delete_request(delete_body(&refs, "").as_bytes()).unwrap_err();
        assert_eq!(err.code, S3ErrorCode::MalformedXML);
    }

    #[test]
    fn malformed_requests_are_malformed_xml() {
        for body in [
            "",
            "  ",
            "not xml",
            "<Delete/>",
            "<Delete></Delete>",
            "<Delete><Quiet>true</Quiet></Delete>",
            "<Delete><Object></Object></Delete>",
            "<Delete><Object><VersionId>null</VersionId></Object></Delete>",
            "<Delete><Object><Key></Key></Object></Delete>",
            "<Delete><Object><Key/></Object></Delete>",
            "<Delete><Object><Key>a</Key><Key>b</Key></Object></Delete>",
            "<Delete><Object><Key>a</Key></Object><Quiet>yes</Quiet></Delete>",
            "<Delete><Object><Key>a</Key></Object><Quiet>TRUE</Quiet></Delete>",
            "<Delete><Object><Key>a</Key></Object>",
            "<DeleteObjects><Object><Key>a</Key></Object></DeleteObjects>",
            "<Error><Code>x</Code></Error>",
        ] {
            let err = parse_delete_request(body.as_bytes()).unwrap_err();
            assert_eq!(err.code, S3ErrorCode::MalformedXML, "{body:?}");
            assert_eq!(err.message, S3ErrorCode::MalformedXML.default_message());
        }
        assert_eq!(parse_delete_request(b"\xff<Delete/>").unwrap_err().code, S3ErrorCode::MalformedXML);
    }

    #[test]
    fn conditional_deletes_are_not_implemented() {
        for condition in
            ["<ETag>\"abc\"</ETag>", "<LastModifiedTime>2024-01-01T00:00:00Z</LastModifiedTime>", "<Size>5</Size>"]
        {
            let body = format!("<Delete><Object><Key>a</Key>{condition}</Object></Delete>");
            assert_eq!(parse_delete_request(body.as_bytes()).unwrap_err().code, S3ErrorCode::NotImplemented);
        }
    }

    // ---- the gateway's checks and the node's request ----

    #[test]
    fn planning_refuses_versions_and_what_the_check_refuses() {
        let request = DeleteRequest {
            quiet: false,
            objects: vec![
                object("public/a"),
                object("private/b"),
                ObjectToDelete { key: "public/c".into(), version_id: Some("null".into()) },
                ObjectToDelete { key: "public/d".into(), version_id: Some("3HL4kqtJlcpXroDTDmJ+rmSpXd3dIbrHY".into()) },
                object(&"k".repeat(2000)),
            ],
        };
        let mut asked = Vec::new();
        let plan = request.plan(|object| {
            asked.push(object.key.clone());
            if object.key.starts_with("private/") {
                Err(s3_error!(AccessDenied))
            } else if object.key.len() > 1024 {
                Err(s3_error!(KeyTooLongError))
            } else {
                Ok(())
            }
        });
        // Asked in request order, never about a refused version.
        assert_eq!(asked.len(), 4);
        assert_eq!(&asked[..3], ["public/a", "private/b", "public/c"]);
        let codes: Vec<Option<S3ErrorCode>> =
            plan.entries.iter().map(|(_, refusal)| refusal.as_ref().map(|e| e.code)).collect();
        assert_eq!(
            codes,
            [
                None,
                Some(S3ErrorCode::AccessDenied),
                None,
                Some(S3ErrorCode::InvalidArgument),
                Some(S3ErrorCode::KeyTooLongError)
            ]
        );
        assert_eq!(plan.forwarded().map(|o| o.key.as_str()).collect::<Vec<_>>(), ["public/a", "public/c"]);
        assert!(plan.needs_node_request());
        assert_eq!(
            plan.node_body("photos"),
            format!(
                "{DECL}<Delete {NS}><Quiet>false</Quiet><Object><Key>photos/public/a</Key></Object>\
                 <Object><Key>photos/public/c</Key></Object></Delete>"
            )
        );
    }

    #[test]
    fn the_node_body_maps_and_escapes_keys_and_keeps_quiet() {
        let request = parse_delete_request(BOTO_DELETE.as_bytes()).unwrap();
        assert_eq!(
            plan(request).node_body("photos"),
            format!(
                "{DECL}<Delete {NS}><Quiet>true</Quiet><Object><Key>photos/2024/a.jpg</Key></Object>\
                 <Object><Key>photos/b &amp; c.txt</Key></Object></Delete>"
            )
        );
        let objects = [object("cr\rkey"), object("<tag>")];
        let xml = node_delete_body(&objects, "logs", false);
        assert!(xml.contains("<Key>logs/cr&#13;key</Key></Object><Object><Key>logs/&lt;tag&gt;</Key>"), "{xml}");
        // Garage (and S3) read the body back to the same backend keys.
        let back = parse_delete_request(xml.as_bytes()).unwrap();
        assert_eq!(back.objects, [object("logs/cr\rkey"), object("logs/<tag>")]);
    }

    #[test]
    fn nothing_for_the_node_when_everything_is_refused() {
        let request = parse_delete_request(AWS_DOC_DELETE.as_bytes()).unwrap();
        let plan = request.plan(|_| Err(s3_error!(AccessDenied)));
        assert!(!plan.needs_node_request());
        let xml = render_delete_result(&plan, "photos", &NodeDeleteResult::default());
        assert_eq!(
            body(&xml),
            "<Error><Key>sample1.txt</Key><Code>AccessDenied</Code><Message>Access Denied</Message></Error>\
             <Error><Key>sample2.txt</Key><Code>AccessDenied</Code><Message>Access Denied</Message></Error>"
        );
    }

    // ---- the node's answer ----

    #[test]
    fn parses_aws_and_garage_results() {
        assert_eq!(
            parse_node_delete_result(AWS_DOC_RESULT).unwrap(),
            NodeDeleteResult {
                deleted: vec![NodeDeleted { key: "photos/sample1.txt".into(), ..Default::default() }],
                errors: vec![NodeDeleteError {
                    key: "photos/sample2.txt".into(),
                    version_id: None,
                    code: "AccessDenied".into(),
                    message: "Access Denied".into(),
                }],
            }
        );
        let garage = parse_node_delete_result(GARAGE_RESULT).unwrap();
        assert_eq!(
            garage.deleted,
            [
                NodeDeleted {
                    key: "photos/2024/a.jpg".into(),
                    version_id: Some("3f2a9c0d8e7b6a5f4e3d2c1b0a998877".into()),
                    delete_marker: false,
                    delete_marker_version_id: Some("0d8e7b6a5f4e3d2c1b0a9988773f2a9c".into()),
                },
                NodeDeleted { key: "photos/b & c.txt".into(), ..Default::default() },
            ]
        );
        assert!(garage.errors.is_empty());
        let versioned = "<DeleteResult><Deleted><Key>k</Key><DeleteMarker>true</DeleteMarker>\
                         <DeleteMarkerVersionId>v2</DeleteMarkerVersionId></Deleted></DeleteResult>";
        let deleted = &parse_node_delete_result(versioned).unwrap().deleted[0];
        assert!(deleted.delete_marker);
        assert_eq!(parse_node_delete_result("<DeleteResult/>").unwrap(), NodeDeleteResult::default());
    }

    #[test]
    fn unreadable_node_results_are_internal_errors() {
        for xml in [
            "",
            "<DeleteResult><Deleted><VersionId>v</VersionId></Deleted></DeleteResult>",
            "<DeleteResult><Error><Code>InternalError</Code></Error></DeleteResult>",
            "<DeleteResult><Deleted><Key>k</Key><DeleteMarker>maybe</DeleteMarker></Deleted></DeleteResult>",
            "<DeleteResult>",
            "<Error><Code>AccessDenied</Code><Message>m</Message></Error>",
        ] {
            let err = parse_node_delete_result(xml).unwrap_err();
            assert_eq!(err.code, S3ErrorCode::InternalError, "{xml}");
        }
    }

    // ---- the client's answer ----

    #[test]
    fn renders_every_key_in_request_order_with_refusals_merged() {
        let request = DeleteRequest {
            quiet: false,
            objects: vec![object("sample0.txt"), object("sample1.txt"), object("secret/x"), object("sample2.txt")],
        };
        let plan = request.plan(|o| if o.key.starts_with("secret/") { Err(s3_error!(AccessDenied)) } else { Ok(()) });
        let node = "<DeleteResult><Deleted><Key>photos/sample0.txt</Key></Deleted>\
                    <Error><Key>photos/sample2.txt</Key><Code>InternalError</Code>\
                    <Message>backend tenant-7 hiccup</Message></Error>\
                    <Deleted><Key>photos/sample1.txt</Key></Deleted></DeleteResult>";
        let xml = render_delete_result(&plan, "photos", &parse_node_delete_result(node).unwrap());
        assert!(xml.starts_with(&format!("{DECL}<DeleteResult {NS}>")), "{xml}");
        assert_eq!(
            body(&xml),
            "<Deleted><Key>sample0.txt</Key></Deleted>\
             <Deleted><Key>sample1.txt</Key></Deleted>\
             <Error><Key>secret/x</Key><Code>AccessDenied</Code><Message>Access Denied</Message></Error>\
             <Error><Key>sample2.txt</Key><Code>InternalError</Code>\
             <Message>We encountered an internal error. Please try again.</Message></Error>"
        );
        assert!(!xml.contains("tenant-7"), "the node's message must not leak: {xml}");
    }

    #[test]
    fn quiet_mode_lists_errors_only() {
        let request = parse_delete_request(
            "<Delete><Quiet>true</Quiet><Object><Key>a</Key></Object><Object><Key>b</Key></Object>\
             <Object><Key>c</Key></Object></Delete>"
                .as_bytes(),
        )
        .unwrap();
        let plan =
            request
                .plan(|o| if o.key == "c" { Err(s3_error!(KeyTooLongError, "Your key is too long.")) } else { Ok(()) });
        // A quiet node answer lists nothing for successes; a stray Deleted is not shown either.
        let node = parse_node_delete_result(
            "<DeleteResult><Deleted><Key>photos/a</Key></Deleted>\
             <Error><Key>photos/b</Key><Code>SlowDown</Code><Message>Please reduce</Message></Error></DeleteResult>",
        )
        .unwrap();
        let xml = render_delete_result(&plan, "photos", &node);
        assert_eq!(
            body(&xml),
            "<Error><Key>b</Key><Code>ServiceUnavailable</Code><Message>Please reduce your request rate.</Message>\
             </Error><Error><Key>c</Key><Code>KeyTooLongError</Code><Message>Your key is too long.</Message></Error>"
        );
        // All deleted: an empty result.
        let plan = parse_delete_request(BOTO_DELETE.as_bytes()).unwrap().plan(|_| Ok(()));
        let xml = render_delete_result(&plan, "photos", &NodeDeleteResult::default());
        assert_eq!(xml, format!("{DECL}<DeleteResult {NS}/>"));
    }

    #[test]
    fn node_error_codes_about_the_node_become_internal_errors() {
        assert_eq!(client_key_error("AccessDenied"), S3ErrorCode::InternalError);
        assert_eq!(client_key_error("NoSuchBucket"), S3ErrorCode::InternalError);
        assert_eq!(client_key_error("SignatureDoesNotMatch"), S3ErrorCode::InternalError);
        assert_eq!(client_key_error("SomethingNew"), S3ErrorCode::InternalError);
        assert_eq!(client_key_error(""), S3ErrorCode::InternalError);
        assert_eq!(client_key_error("InternalError"), S3ErrorCode::InternalError);
        assert_eq!(client_key_error("SlowDown"), S3ErrorCode::ServiceUnavailable);
        assert_eq!(client_key_error("InvalidArgument"), S3ErrorCode::InvalidArgument);
        assert_eq!(client_key_error("KeyTooLongError"), S3ErrorCode::KeyTooLongError);

        // The documentation example: the node's AccessDenied is about its own credentials.
        let plan = plan(parse_delete_request(AWS_DOC_DELETE.as_bytes()).unwrap());
        let xml = render_delete_result(&plan, "photos", &parse_node_delete_result(AWS_DOC_RESULT).unwrap());
        assert_eq!(
            body(&xml),
            "<Deleted><Key>sample1.txt</Key></Deleted><Error><Key>sample2.txt</Key><Code>InternalError</Code>\
             <Message>We encountered an internal error. Please try again.</Message></Error>"
        );
    }

    #[test]
    fn echoes_the_client_version_id_never_the_nodes() {
        let plan = plan(parse_delete_request(BOTO_DELETE.as_bytes()).unwrap());
        let plan = DeletePlan { quiet: false, ..plan };
        let xml = render_delete_result(&plan, "photos", &parse_node_delete_result(GARAGE_RESULT).unwrap());
        assert_eq!(
            body(&xml),
            "<Deleted><Key>2024/a.jpg</Key></Deleted>\
             <Deleted><Key>b &amp; c.txt</Key><VersionId>null</VersionId></Deleted>"
        );
        let refused = DeleteRequest {
            quiet: true,
            objects: vec![ObjectToDelete { key: "k".into(), version_id: Some("v1".into()) }],
        }
        .plan(|_| Ok(()));
        let xml = render_delete_result(&refused, "photos", &NodeDeleteResult::default());
        assert_eq!(
            body(&xml),
            "<Error><Key>k</Key><VersionId>v1</VersionId><Code>InvalidArgument</Code>\
             <Message>Invalid version id specified</Message></Error>"
        );
    }

    #[test]
    fn a_forwarded_key_the_node_forgot_is_not_claimed_deleted() {
        let plan = plan(parse_delete_request(AWS_DOC_DELETE.as_bytes()).unwrap());
        let node = parse_node_delete_result(
            "<DeleteResult><Deleted><Key>photos/sample1.txt</Key></Deleted>\
             <Deleted><Key>other/sample2.txt</Key></Deleted><Deleted><Key>sample2.txt</Key></Deleted></DeleteResult>",
        )
        .unwrap();
        let xml = render_delete_result(&plan, "photos", &node);
        assert_eq!(
            body(&xml),
            "<Deleted><Key>sample1.txt</Key></Deleted><Error><Key>sample2.txt</Key><Code>InternalError</Code>\
             <Message>We encountered an internal error. Please try again.</Message></Error>"
        );
    }

    #[test]
    fn repeated_keys_are_matched_in_order() {
        let request = parse_delete_request(delete_body(&["a", "a", "a", "b", "b"], "").as_bytes()).unwrap();
        let plan = plan(request);
        // The node reported `a` twice (one failure) and `b` once.
        let node = parse_node_delete_result(
            "<DeleteResult><Deleted><Key>photos/a</Key></Deleted><Deleted><Key>photos/b</Key></Deleted>\
             <Error><Key>photos/a</Key><Code>InvalidRequest</Code><Message>m</Message></Error></DeleteResult>",
        )
        .unwrap();
        let xml = render_delete_result(&plan, "photos", &node);
        assert_eq!(
            body(&xml),
            "<Error><Key>a</Key><Code>InvalidRequest</Code><Message>Invalid Request</Message></Error>\
             <Deleted><Key>a</Key></Deleted><Deleted><Key>a</Key></Deleted>\
             <Deleted><Key>b</Key></Deleted><Deleted><Key>b</Key></Deleted>"
        );
    }

    #[test]
    fn rendered_keys_are_escaped_and_read_back_exactly() {
        let keys = ["a&b<c>\"d'.txt", "cr\rkey", "日本語/😀", " spaced "];
        let plan = plan(DeleteRequest { quiet: false, objects: keys.iter().map(|k| object(k)).collect() });
        let node = NodeDeleteResult {
            deleted: keys.iter().map(|k| NodeDeleted { key: format!("photos/{k}"), ..Default::default() }).collect(),
            errors: Vec::new(),
        };
        let xml = render_delete_result(&plan, "photos", &node);
        assert!(xml.contains("<Key>a&amp;b&lt;c&gt;&quot;d&apos;.txt</Key>"), "{xml}");
        assert!(xml.contains("<Key>cr&#13;key</Key>"), "{xml}");
        let back = parse_node_delete_result(&xml).unwrap();
        assert_eq!(back.deleted.iter().map(|d| d.key.as_str()).collect::<Vec<_>>(), keys);
    }
}
