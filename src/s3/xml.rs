//! XML request parsing and response documents.
//!
//! Responses are written as strings with [`XmlWriter`]: element names are `'static` (never user
//! data) and all text goes through [`escape`]. Documents are read with `xml_reader`, client
//! requests and node answers alike.

use super::error::S3Result;
use super::xml_reader::{only_child, read_request};
use crate::s3_error;

/// The namespace S3 puts on the root element of every response document.
pub const S3_XMLNS: &str = "http://s3.amazonaws.com/doc/2006-03-01/";

/// The declaration that starts every response document.
pub const XML_DECLARATION: &str = "<?xml version=\"1.0\" encoding=\"UTF-8\"?>";

/// Escape text for an XML element or attribute value.
///
/// Control characters other than tab and line feed become character references: a raw CR would
/// be turned into LF by the client's parser (so a key containing one would come back altered),
/// and other C0 controls may not appear raw at all. Strict XML 1.0 parsers refuse even the
/// references, which is why AWS advises `encoding-type=url` for such keys.
pub fn escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    escape_into(text, &mut out);
    out
}

/// `escape`, appended to `out`. Runs of bytes that need nothing are copied whole (a listing
/// escapes every key, ETag and date it writes); everything to replace is ASCII.
pub fn escape_into(text: &str, out: &mut String) {
    let mut plain_from = 0;
    for (at, byte) in text.bytes().enumerate() {
        let replacement = match byte {
            b'&' => "&amp;",
            b'<' => "&lt;",
            b'>' => "&gt;",
            b'"' => "&quot;",
            b'\'' => "&apos;",
            b'\t' | b'\n' => continue,
            0..0x20 => CONTROL_REFERENCES[byte as usize],
            _ => continue,
        };
        out.push_str(&text[plain_from..at]);
        out.push_str(replacement);
        plain_from = at + 1;
    }
    out.push_str(&text[plain_from..]);
}

/// Character references for the control characters below 0x20 (tab and newline stay as they are).
const CONTROL_REFERENCES: [&str; 32] = [
    "&#0;", "&#1;", "&#2;", "&#3;", "&#4;", "&#5;", "&#6;", "&#7;", "&#8;", "&#9;", "&#10;", "&#11;", "&#12;", "&#13;",
    "&#14;", "&#15;", "&#16;", "&#17;", "&#18;", "&#19;", "&#20;", "&#21;", "&#22;", "&#23;", "&#24;", "&#25;",
    "&#26;", "&#27;", "&#28;", "&#29;", "&#30;", "&#31;",
];

/// Builds one response document: the declaration, a root element carrying the S3 namespace, and
/// nested elements. Open elements are tracked so every document comes out balanced.
#[derive(Debug)]
pub struct XmlWriter {
    out: String,
    open: Vec<&'static str>,
    /// Length of `out` right after the root start tag, to self-close an empty root.
    root_start_end: usize,
}

impl XmlWriter {
    /// Start a document whose root element is `root`.
    pub fn new(root: &'static str) -> Self {
        Self::with_capacity(root, 512)
    }

    /// `new`, with room for a document of about `bytes` (a long listing), so it is not copied
    /// over and over as it grows.
    pub fn with_capacity(root: &'static str, bytes: usize) -> Self {
        let mut out = String::with_capacity(bytes);
        out.push_str(XML_DECLARATION);
        out.push('\n');
        out.push('<');
        out.push_str(root);
        out.push_str(" xmlns=\"");
        out.push_str(S3_XMLNS);
        out.push_str("\">");
        let root_start_end = out.len();
        XmlWriter { out, open: vec![root], root_start_end }
    }

    /// Open a child element of the current element.
    pub fn open(&mut self, name: &'static str) -> &mut Self {
        self.out.push('<');
        self.out.push_str(name);
        self.out.push('>');
        self.open.push(name);
        self
    }

    /// Close the innermost open element (never the root: `finish` does that).
    pub fn close(&mut self) -> &mut Self {
        if self.open.len() > 1 {
            let name = self.open.pop().unwrap_or_default();
            self.push_end_tag(name);
        }
        self
    }

    /// Escaped text inside the current element.
    pub fn text(&mut self, text: &str) -> &mut Self {
        escape_into(text, &mut self.out);
        self
    }

    /// `<name>text</name>` with the text escaped.
    pub fn element(&mut self, name: &'static str, text: &str) -> &mut Self {
        self.open(name).text(text).close()
    }

    /// `<name>text</name>` when there is a value, nothing otherwise.
    pub fn optional_element(&mut self, name: &'static str, text: Option<&str>) -> &mut Self {
        if let Some(text) = text {
            self.element(name, text);
        }
        self
    }

    /// Close every open element and return the document. A root without content is written as
    /// `<Root xmlns="..."/>`, as S3 does.
    pub fn finish(mut self) -> String {
        if self.open.len() == 1 && self.out.len() == self.root_start_end {
            self.out.pop();
            self.out.push_str("/>");
            return self.out;
        }
        while let Some(name) = self.open.pop() {
            self.push_end_tag(name);
        }
        self.out
    }

    fn push_end_tag(&mut self, name: &str) {
        self.out.push_str("</");
        self.out.push_str(name);
        self.out.push('>');
    }
}

pub use crate::time::{iso8601_millis, parse_iso8601_millis};

/// The owner S3 names in bucket and object listings.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Owner {
    pub id: String,
    pub display_name: String,
}

impl Owner {
    /// `<Owner><ID>..</ID><DisplayName>..</DisplayName></Owner>` inside the current element.
    pub fn write_to(&self, xml: &mut XmlWriter) {
        xml.open("Owner").element("ID", &self.id).element("DisplayName", &self.display_name).close();
    }
}

/// One bucket in a ListBuckets answer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BucketEntry {
    pub name: String,
    pub created_unix_millis: u64,
}

/// The ListBuckets (`GET /`) answer.
pub fn list_all_my_buckets(owner: &Owner, buckets: &[BucketEntry]) -> String {
    let mut xml = XmlWriter::new("ListAllMyBucketsResult");
    owner.write_to(&mut xml);
    xml.open("Buckets");
    for bucket in buckets {
        xml.open("Bucket")
            .element("Name", &bucket.name)
            .element("CreationDate", &iso8601_millis(bucket.created_unix_millis))
            .close();
    }
    xml.close();
    xml.finish()
}

/// The GetBucketLocation answer. S3 answers buckets in us-east-1 with an empty element (pass
/// `""` or `"us-east-1"`); clients map that back to us-east-1.
pub fn location_constraint(location: &str) -> String {
    let mut xml = XmlWriter::new("LocationConstraint");
    if location != "us-east-1" {
        xml.text(location);
    }
    xml.finish()
}

/// The GetBucketVersioning answer for a bucket whose versioning was never enabled: an empty
/// configuration, exactly as S3 sends it.
pub fn versioning_configuration() -> String {
    XmlWriter::new("VersioningConfiguration").finish()
}

/// Parse a CreateBucket request body into its location constraint, the one part portico uses:
/// `None` when the body is empty or the element is absent or empty. Anything that is not a
/// well-formed `CreateBucketConfiguration` document, or names its location twice, is MalformedXML.
pub fn parse_create_bucket_configuration(body: &[u8]) -> S3Result<Option<String>> {
    let text = std::str::from_utf8(body).map_err(|_| s3_error!(MalformedXML))?;
    if text.trim().is_empty() {
        return Ok(None);
    }
    // The reader's own wording means nothing to an S3 client: answer with S3's message.
    let children = read_request(text, "CreateBucketConfiguration").map_err(|_| s3_error!(MalformedXML))?;
    let location = only_child(&children, "LocationConstraint").map_err(|_| s3_error!(MalformedXML))?;
    Ok(location.map(str::trim).filter(|location| !location.is_empty()).map(str::to_string))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::s3::error::S3ErrorCode;

    const DECL: &str = "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n";

    #[test]
    fn escapes_markup_quotes_and_control_characters() {
        assert_eq!(escape("a<b>&\"c'"), "a&lt;b&gt;&amp;&quot;c&apos;");
        assert_eq!(escape("tab\tline\ncr\r\u{1}"), "tab\tline\ncr&#13;&#1;");
        assert_eq!(escape("日本語/ü"), "日本語/ü");
        assert_eq!(escape("日&本\u{1f}"), "日&amp;本&#31;");
        assert_eq!(escape(""), "");
        for byte in 0u8..0x20 {
            let text = char::from(byte).to_string();
            let expected = if byte == b'\t' || byte == b'\n' { text.clone() } else { format!("&#{byte};") };
            assert_eq!(escape(&text), expected);
        }
    }

    #[test]
    fn writer_nests_escapes_and_closes_everything() {
        let mut xml = XmlWriter::new("Root");
        xml.open("A").element("B", "x&y").optional_element("C", None);
        xml.optional_element("D", Some("<"));
        assert_eq!(xml.finish(), format!("{DECL}<Root xmlns=\"{S3_XMLNS}\"><A><B>x&amp;y</B><D>&lt;</D></A></Root>"));
    }

    #[test]
    fn writer_never_closes_the_root_early_and_self_closes_an_empty_root() {
        let mut xml = XmlWriter::new("Root");
        xml.close().close();
        assert_eq!(xml.finish(), format!("{DECL}<Root xmlns=\"{S3_XMLNS}\"/>"));
        let mut xml = XmlWriter::new("Root");
        xml.element("Empty", "");
        assert_eq!(xml.finish(), format!("{DECL}<Root xmlns=\"{S3_XMLNS}\"><Empty></Empty></Root>"));
    }

    #[test]
    fn formats_timestamps_like_s3() {
        assert_eq!(iso8601_millis(0), "1970-01-01T00:00:00.000Z");
        assert_eq!(iso8601_millis(1_576_107_167_000), "2019-12-11T23:32:47.000Z");
        assert_eq!(iso8601_millis(1_641_394_898_314), "2022-01-05T15:01:38.314Z");
        // Leap days and century rules.
        assert_eq!(iso8601_millis(951_782_400_000), "2000-02-29T00:00:00.000Z");
        assert_eq!(iso8601_millis(1_709_251_199_999), "2024-02-29T23:59:59.999Z");
        assert_eq!(iso8601_millis(4_107_542_400_000), "2100-03-01T00:00:00.000Z");
        assert_eq!(iso8601_millis(253_402_300_799_999), "9999-12-31T23:59:59.999Z");
    }

    #[test]
    fn list_all_my_buckets_matches_the_s3_shape() {
        let owner = Owner { id: "project-1".into(), display_name: "Ann & Co".into() };
        let buckets = [
            BucketEntry { name: "photos".into(), created_unix_millis: 1_576_107_167_000 },
            BucketEntry { name: "logs.2024".into(), created_unix_millis: 1_641_394_898_314 },
        ];
        assert_eq!(
            list_all_my_buckets(&owner, &buckets),
            format!(
                "{DECL}<ListAllMyBucketsResult xmlns=\"{S3_XMLNS}\">\
                 <Owner><ID>project-1</ID><DisplayName>Ann &amp; Co</DisplayName></Owner>\
                 <Buckets>\
                 <Bucket><Name>photos</Name><CreationDate>2019-12-11T23:32:47.000Z</CreationDate></Bucket>\
                 <Bucket><Name>logs.2024</Name><CreationDate>2022-01-05T15:01:38.314Z</CreationDate></Bucket>\
                 </Buckets></ListAllMyBucketsResult>"
            )
        );
    }

    #[test]
    fn list_all_my_buckets_without_buckets_keeps_an_empty_list() {
        let xml = list_all_my_buckets(&Owner::default(), &[]);
        assert!(xml.ends_with("<Buckets></Buckets></ListAllMyBucketsResult>"), "{xml}");
    }

    #[test]
    fn location_constraint_is_empty_for_us_east_1() {
        let empty = format!("{DECL}<LocationConstraint xmlns=\"{S3_XMLNS}\"/>");
        assert_eq!(location_constraint(""), empty);
        assert_eq!(location_constraint("us-east-1"), empty);
        assert_eq!(
            location_constraint("eu-west-1"),
            format!("{DECL}<LocationConstraint xmlns=\"{S3_XMLNS}\">eu-west-1</LocationConstraint>")
        );
    }

    #[test]
    fn versioning_configuration_is_empty() {
        assert_eq!(versioning_configuration(), format!("{DECL}<VersioningConfiguration xmlns=\"{S3_XMLNS}\"/>"));
    }

    #[test]
    fn create_bucket_configuration_reads_the_location_constraint() {
        let body = format!(
            "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n\
             <CreateBucketConfiguration xmlns=\"{S3_XMLNS}\">\n\
               <LocationConstraint>eu-central-1</LocationConstraint>\n\
             </CreateBucketConfiguration>"
        );
        let location = parse_create_bucket_configuration(body.as_bytes()).unwrap();
        assert_eq!(location.as_deref(), Some("eu-central-1"));

        // Namespace prefixes and elements portico ignores (directory buckets) are accepted.
        let body = "<s3:CreateBucketConfiguration xmlns:s3=\"http://s3.amazonaws.com/doc/2006-03-01/\">\
                    <s3:LocationConstraint> garage </s3:LocationConstraint>\
                    <Location><Name>usw2-az1</Name><Type>AvailabilityZone</Type></Location>\
                    </s3:CreateBucketConfiguration>";
        let location = parse_create_bucket_configuration(body.as_bytes()).unwrap();
        assert_eq!(location.as_deref(), Some("garage"));
    }

    #[test]
    fn create_bucket_configuration_tolerates_empty_bodies_and_elements() {
        for body in [
            "",
            "  \r\n",
            "<CreateBucketConfiguration/>",
            "<CreateBucketConfiguration><LocationConstraint/></CreateBucketConfiguration>",
            "<CreateBucketConfiguration><LocationConstraint> </LocationConstraint>\
             </CreateBucketConfiguration>",
        ] {
            assert_eq!(parse_create_bucket_configuration(body.as_bytes()), Ok(None), "{body:?}");
        }
    }

    #[test]
    fn malformed_create_bucket_configuration_is_malformed_xml() {
        for body in [
            &b"not xml"[..],
            b"<CreateBucketConfiguration><LocationConstraint>eu</CreateBucketConfiguration>",
            b"<CreateBucketConfiguration>",
            b"<Other><LocationConstraint>eu</LocationConstraint></Other>",
            b"<CreateBucketConfiguration><LocationConstraint>a</LocationConstraint>\
              <LocationConstraint>b</LocationConstraint></CreateBucketConfiguration>",
            b"\xff\xfe<",
        ] {
            let err = parse_create_bucket_configuration(body).unwrap_err();
            assert_eq!(err.code, S3ErrorCode::MalformedXML, "{:?}", String::from_utf8_lossy(body));
            assert_eq!(err.status(), 400);
        }
    }
}
