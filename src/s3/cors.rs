//! Bucket CORS: the PutBucketCors / GetBucketCors document, and how S3 answers a preflight
//! (`OPTIONS`) and an actual cross-origin request with it.
//!
//! Three pure pieces, no runtime types:
//! - [`parse_cors_configuration`] reads and validates a PutBucketCors body as S3 does;
//!   [`CorsConfiguration::to_xml`] writes the GetBucketCors answer. The configuration derives
//!   serde so it can live in the bucket record (JSON).
//! - [`preflight`] answers an `OPTIONS` request: the headers of a 200, or the S3 error.
//! - [`response_headers`] gives the headers to add to an actual request's response (success or
//!   error) when the bucket has a configuration.
//!
//! Matching, as S3 does it: the first rule whose AllowedOrigin matches the `Origin` header
//! (case-sensitive, at most one `*` matching any run of characters, the empty one included),
//! whose AllowedMethod lists the method (exact, upper case), and, for a preflight, whose
//! AllowedHeader entries cover every name in `Access-Control-Request-Headers` (ASCII
//! case-insensitive, one `*` each) wins. Later rules are never consulted.

use serde::{Deserialize, Serialize};

use super::error::{S3Error, S3Result};
use super::xml::XmlWriter;
use super::xml_reader::{read_request, Child};
use crate::s3_error;

/// Most rules one configuration may hold (S3: "up to 100 rules").
pub const MAX_CORS_RULES: usize = 100;

/// Longest rule ID, in characters (S3: "cannot be longer than 255 characters").
pub const MAX_RULE_ID_CHARS: usize = 255;

/// Largest PutBucketCors body S3 accepts ("The document is limited to 64 KB in size").
pub const MAX_CORS_CONFIGURATION_BYTES: usize = 64 * 1024;

/// Largest MaxAgeSeconds: the value is a signed 32-bit integer in S3's schema.
pub const MAX_AGE_SECONDS_LIMIT: u32 = i32::MAX as u32;

/// The only methods a rule may allow, and a preflight may ask for.
pub const CORS_METHODS: [&str; 5] = ["GET", "PUT", "HEAD", "POST", "DELETE"];

/// The `Vary` value S3 sends with every CORS answer: the response depends on all three.
pub const CORS_VARY: &str = "Origin, Access-Control-Request-Headers, Access-Control-Request-Method";

const ORIGIN_NEEDED: &str = "Insufficient information. Origin request header needed.";
const CORS_NOT_ENABLED: &str = "CORSResponse: CORS is not enabled for this bucket.";
const BUCKET_NOT_FOUND: &str = "CORSResponse: Bucket not found";
// "evalution" is S3's spelling, kept so clients comparing messages see the same text.
const REQUEST_NOT_ALLOWED: &str =
    "CORSResponse: This CORS request is not allowed. This is usually because the evalution \
     of Origin, request method / Access-Control-Request-Method or Access-Control-Request-Headers are not whitelisted \
     by the resource's CORS spec.";

/// A bucket's CORS configuration: 1..=100 rules, in the order given, each validated.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CorsConfiguration {
    pub rules: Vec<CorsRule>,
}

/// One `<CORSRule>`. Values are kept exactly as sent (case and whitespace), as S3 gives them back.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CorsRule {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub id: Option<String>,
    /// At least one; each with at most one `*`.
    #[serde(rename = "origins")]
    pub allowed_origins: Vec<String>,
    /// At least one; each one of [`CORS_METHODS`].
    #[serde(rename = "methods")]
    pub allowed_methods: Vec<String>,
    /// Each with at most one `*`.
    #[serde(rename = "headers", default, skip_serializing_if = "Vec::is_empty")]
    pub allowed_headers: Vec<String>,
    /// Without `*`.
    #[serde(rename = "expose", default, skip_serializing_if = "Vec::is_empty")]
    pub expose_headers: Vec<String>,
    #[serde(rename = "max_age", default, skip_serializing_if = "Option::is_none")]
    pub max_age_seconds: Option<u32>,
}

fn malformed() -> S3Error {
    s3_error!(MalformedXML)
}

/// Parse and validate a PutBucketCors body as S3 does.
///
/// MalformedXML, checked over the whole document first: not UTF-8 or not well-formed XML,
/// another root than `CORSConfiguration`, an element S3's schema does not know, no rule or
/// more than 100, a rule without AllowedOrigin or AllowedMethod, ID or MaxAgeSeconds twice, an
/// ID longer than 255 characters, a MaxAgeSeconds that is not an integer in 0..=2^31-1.
/// InvalidRequest, then, rule by rule (methods, origins, allowed headers, expose headers): an
/// AllowedMethod other than GET, PUT, HEAD, POST, DELETE; an AllowedOrigin or AllowedHeader
/// with more than one `*`; an ExposeHeader with a `*`. A body over 64 KiB is
/// MaxMessageLengthExceeded.
pub fn parse_cors_configuration(body: &[u8]) -> S3Result<CorsConfiguration> {
    if body.len() > MAX_CORS_CONFIGURATION_BYTES {
        return Err(s3_error!(MaxMessageLengthExceeded));
    }
    let text = std::str::from_utf8(body).map_err(|_| malformed())?;
    let text = text.strip_prefix('\u{feff}').unwrap_or(text).trim_start();
    // The reader's own wording means nothing to an S3 client: answer with S3's message.
    let children = read_request(text, "CORSConfiguration").map_err(|_| malformed())?;

    let mut rules = Vec::new();
    for child in &children {
        if child.name != "CORSRule" {
            return Err(malformed());
        }
        rules.push(rule_from_xml(child)?);
        if rules.len() > MAX_CORS_RULES {
            return Err(malformed());
        }
    }
    if rules.is_empty() {
        return Err(malformed());
    }
    let configuration = CorsConfiguration { rules };
    configuration.validate()?;
    Ok(configuration)
}

/// The structure of one rule; only MalformedXML here, the values are checked by `validate`.
fn rule_from_xml(rule: &Child) -> S3Result<CorsRule> {
    let mut parsed = CorsRule {
        id: None,
        allowed_origins: Vec::new(),
        allowed_methods: Vec::new(),
        allowed_headers: Vec::new(),
        expose_headers: Vec::new(),
        max_age_seconds: None,
    };
    for (name, text) in &rule.fields {
        let text = text.to_string();
        match *name {
            "ID" => {
                if parsed.id.is_some() || text.chars().count() > MAX_RULE_ID_CHARS {
                    return Err(malformed());
                }
                parsed.id = Some(text);
            }
            "AllowedOrigin" => parsed.allowed_origins.push(text),
            "AllowedMethod" => parsed.allowed_methods.push(text),
            "AllowedHeader" => parsed.allowed_headers.push(text),
            "ExposeHeader" => parsed.expose_headers.push(text),
            "MaxAgeSeconds" => {
                if parsed.max_age_seconds.is_some() {
                    return Err(malformed());
                }
                parsed.max_age_seconds = Some(parse_max_age(&text).ok_or_else(malformed)?);
            }
            _ => return Err(malformed()),
        }
    }
    if parsed.allowed_origins.is_empty() || parsed.allowed_methods.is_empty() {
        return Err(malformed());
    }
    Ok(parsed)
}

/// An xs:int that is not negative: decimal digits (leading zeros allowed), surrounding
/// whitespace collapsed as XML Schema does.
fn parse_max_age(text: &str) -> Option<u32> {
    let digits = text.trim_matches(|c: char| c.is_ascii_whitespace());
    if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let digits = digits.trim_start_matches('0');
    if digits.len() > 10 {
        return None;
    }
    let value: u64 = if digits.is_empty() { 0 } else { digits.parse().ok()? };
    u32::try_from(value).ok().filter(|&value| value <= MAX_AGE_SECONDS_LIMIT)
}

fn has_more_than_one_wildcard(value: &str) -> bool {
    value.matches('*').count() > 1
}

impl CorsConfiguration {
    /// The InvalidRequest checks of PutBucketCors, rule by rule in document order, each rule's
    /// methods first, then origins, allowed headers and expose headers.
    pub fn validate(&self) -> S3Result<()> {
        for rule in &self.rules {
            if let Some(method) = rule.allowed_methods.iter().find(|method| !CORS_METHODS.contains(&method.as_str())) {
                return Err(s3_error!(
                    InvalidRequest,
                    "Found unsupported HTTP method in CORS config. Unsupported method is {method}"
                ));
            }
            if let Some(origin) = rule.allowed_origins.iter().find(|origin| has_more_than_one_wildcard(origin)) {
                return Err(s3_error!(
                    InvalidRequest,
                    "AllowedOrigin \"{origin}\" can not have more than one wildcard."
                ));
            }
            if let Some(header) = rule.allowed_headers.iter().find(|header| has_more_than_one_wildcard(header)) {
                return Err(s3_error!(
                    InvalidRequest,
                    "AllowedHeader \"{header}\" can not have more than one wildcard."
                ));
            }
            if let Some(header) = rule.expose_headers.iter().find(|header| header.contains('*')) {
                return Err(s3_error!(
                    InvalidRequest,
                    "ExposeHeader \"{header}\" contains wildcard. We currently do not support wildcard for ExposeHeader."
                ));
            }
        }
        Ok(())
    }

    /// The GetBucketCors answer. Elements of a rule come in S3's order: ID, AllowedMethod,
    /// AllowedOrigin, AllowedHeader, MaxAgeSeconds, ExposeHeader.
    pub fn to_xml(&self) -> String {
        let mut xml = XmlWriter::new("CORSConfiguration");
        for rule in &self.rules {
            xml.open("CORSRule");
            xml.optional_element("ID", rule.id.as_deref());
            for method in &rule.allowed_methods {
                xml.element("AllowedMethod", method);
            }
            for origin in &rule.allowed_origins {
                xml.element("AllowedOrigin", origin);
            }
            for header in &rule.allowed_headers {
                xml.element("AllowedHeader", header);
            }
            if let Some(seconds) = rule.max_age_seconds {
                xml.element("MaxAgeSeconds", &seconds.to_string());
            }
            for header in &rule.expose_headers {
                xml.element("ExposeHeader", header);
            }
            xml.close();
        }
        xml.finish()
    }

    /// The first rule allowing this origin and method and every one of the request headers
    /// (lower-cased names, as [`request_header_names`] gives them). An actual request passes no
    /// headers: S3 checks AllowedHeader on preflights only.
    pub fn matching_rule(&self, origin: &str, method: &str, request_headers: &[String]) -> Option<&CorsRule> {
        self.rules.iter().find(|rule| {
            rule.allows_origin(origin)
                && rule.allows_method(method)
                && request_headers.iter().all(|header| rule.allows_header(header))
        })
    }
}

impl CorsRule {
    /// Case-sensitive, one `*` standing for any run of characters.
    pub fn allows_origin(&self, origin: &str) -> bool {
        self.allowed_origins.iter().any(|pattern| wildcard_match(pattern, origin))
    }

    /// Exact: HTTP methods are case-sensitive and S3 allows upper-case ones only.
    pub fn allows_method(&self, method: &str) -> bool {
        self.allowed_methods.iter().any(|allowed| allowed == method)
    }

    /// ASCII case-insensitive, one `*` standing for any run of characters.
    pub fn allows_header(&self, header: &str) -> bool {
        let header = header.to_ascii_lowercase();
        self.allowed_headers.iter().any(|pattern| wildcard_match(&pattern.to_ascii_lowercase(), &header))
    }

    /// `*` is answered when the rule lists the literal `*` among its origins (as Ceph RGW does;
    /// S3 answers `*` for a rule of `*`), the request's origin otherwise.
    fn allow_origin_value<'a>(&self, origin: &'a str) -> &'a str {
        if self.allowed_origins.iter().any(|pattern| pattern == "*") {
            "*"
        } else {
            origin
        }
    }

    /// The headers S3 answers for this rule, in S3's order. `allow_headers` is only given for
    /// a preflight that named headers.
    fn answer(&self, origin: &str, allow_headers: Option<String>) -> Vec<(String, String)> {
        let allow_origin = self.allow_origin_value(origin);
        let mut headers = vec![
            ("access-control-allow-origin".to_string(), allow_origin.to_string()),
            ("access-control-allow-methods".to_string(), self.allowed_methods.join(", ")),
        ];
        if let Some(allow_headers) = allow_headers {
            headers.push(("access-control-allow-headers".to_string(), allow_headers));
        }
        if !self.expose_headers.is_empty() {
            headers.push(("access-control-expose-headers".to_string(), self.expose_headers.join(", ")));
        }
        if let Some(seconds) = self.max_age_seconds {
            headers.push(("access-control-max-age".to_string(), seconds.to_string()));
        }
        if allow_origin != "*" {
            headers.push(("access-control-allow-credentials".to_string(), "true".to_string()));
        }
        headers.push(vary());
        headers
    }
}

fn vary() -> (String, String) {
    ("vary".to_string(), CORS_VARY.to_string())
}

/// `prefix*suffix` matches a value starting with prefix and ending with suffix, without the two
/// overlapping; a pattern without `*` matches itself only.
fn wildcard_match(pattern: &str, value: &str) -> bool {
    match pattern.split_once('*') {
        None => pattern == value,
        Some((prefix, suffix)) => {
            value.len() >= prefix.len() + suffix.len() && value.starts_with(prefix) && value.ends_with(suffix)
        }
    }
}

/// The names of an `Access-Control-Request-Headers` value: split at commas, trimmed,
/// lower-cased, empty items dropped, in the order sent.
pub fn request_header_names(value: &str) -> Vec<String> {
    value
        .split(',')
        .map(|name| name.trim_matches(|c: char| c == ' ' || c == '\t'))
        .filter(|name| !name.is_empty())
        .map(str::to_ascii_lowercase)
        .collect()
}

/// Answer a preflight (`OPTIONS` on a bucket or object) of an existing bucket, as S3 does.
///
/// `config` is the bucket's configuration (`None`: never set or deleted); the other arguments
/// are the request's `Origin`, `Access-Control-Request-Method` and
/// `Access-Control-Request-Headers` headers. On success the answer is a 200 with an empty body
/// and these headers. The errors, in the order S3 checks:
/// - no (or an empty) Origin: 400 BadRequest "Insufficient information. Origin request header
///   needed.";
/// - no configuration: 403 AccessForbidden "CORSResponse: CORS is not enabled for this bucket.";
/// - no Access-Control-Request-Method, or one S3 does not allow in a rule: 400 BadRequest
///   "Invalid Access-Control-Request-Method: <method, or null>";
/// - no rule matches: 403 AccessForbidden "CORSResponse: This CORS request is not allowed. ...".
pub fn preflight(
    config: Option<&CorsConfiguration>,
    origin: Option<&str>,
    request_method: Option<&str>,
    request_headers: Option<&str>,
) -> S3Result<Vec<(String, String)>> {
    let origin = origin.filter(|origin| !origin.is_empty()).ok_or_else(|| s3_error!(BadRequest, "{ORIGIN_NEEDED}"))?;
    let config = config.ok_or_else(|| s3_error!(AccessForbidden, "{CORS_NOT_ENABLED}"))?;
    let method = match request_method {
        Some(method) if CORS_METHODS.contains(&method) => method,
        Some(method) => return Err(s3_error!(BadRequest, "Invalid Access-Control-Request-Method: {method}")),
        None => return Err(s3_error!(BadRequest, "Invalid Access-Control-Request-Method: null")),
    };
    let names = request_headers.map(request_header_names).unwrap_or_default();
    let rule = config
        .matching_rule(origin, method, &names)
        .ok_or_else(|| s3_error!(AccessForbidden, "{REQUEST_NOT_ALLOWED}"))?;
    let allow_headers = if names.is_empty() { None } else { Some(names.join(", ")) };
    Ok(rule.answer(origin, allow_headers))
}

/// The error for a preflight naming a bucket that does not exist: 400 BadRequest without an
/// Origin (S3 checks that first), else 403 AccessForbidden "CORSResponse: Bucket not found".
pub fn preflight_without_bucket(origin: Option<&str>) -> S3Error {
    match origin {
        Some(origin) if !origin.is_empty() => s3_error!(AccessForbidden, "{BUCKET_NOT_FOUND}"),
        _ => s3_error!(BadRequest, "{ORIGIN_NEEDED}"),
    }
}

/// Headers to add to the response of an actual (not preflight) request on a bucket, success or
/// error alike.
///
/// `method` is the method the rules are matched against: S3 uses the request's
/// `Access-Control-Request-Method` header when one is sent, the request's own method otherwise.
/// Allowed headers are not checked on actual requests.
///
/// Without a configuration: nothing. With one: the matching rule's headers (as a preflight's,
/// without Access-Control-Allow-Headers), and `Vary` always, also when no rule matches or no
/// Origin was sent. S3 leaves `Vary` out then; portico sends it so that a cache in front (the
/// edge cache, a CDN) never serves an answer stored for one origin to another.
pub fn response_headers(
    config: Option<&CorsConfiguration>,
    origin: Option<&str>,
    method: &str,
) -> Vec<(String, String)> {
    let Some(config) = config else {
        return Vec::new();
    };
    let origin = origin.unwrap_or_default();
    match config.matching_rule(origin, method, &[]) {
        Some(rule) if !origin.is_empty() => {
            let mut headers = rule.answer(origin, None);
            expose_always(&mut headers);
            headers
        }
        _ => vec![vary()],
    }
}

/// Response headers a browser script needs from S3 (multipart uploads read ETag; SDKs read the
/// request id and checksums). S3 exposes only what a rule lists, which leaves browser uploaders
/// broken until someone adds `<ExposeHeader>ETag</ExposeHeader>`; portico exposes these to any
/// origin a rule admits, besides the rule's own.
pub const ALWAYS_EXPOSED: &[&str] = &[
    "ETag",
    "x-amz-request-id",
    "x-amz-id-2",
    "x-amz-version-id",
    "x-amz-delete-marker",
    "x-amz-checksum-crc32",
    "x-amz-checksum-crc32c",
    "x-amz-checksum-crc64nvme",
    "x-amz-checksum-sha1",
    "x-amz-checksum-sha256",
    "x-amz-mp-parts-count",
    "Content-Range",
    "Accept-Ranges",
];

fn expose_always(headers: &mut Vec<(String, String)>) {
    let position = headers.iter().position(|(name, _)| name == "access-control-expose-headers");
    let mut exposed: Vec<String> = match position {
        Some(i) => headers[i].1.split(',').map(|h| h.trim().to_string()).filter(|h| !h.is_empty()).collect(),
        None => Vec::new(),
    };
    for name in ALWAYS_EXPOSED {
        if !exposed.iter().any(|h| h.eq_ignore_ascii_case(name)) {
            exposed.push(name.to_string());
        }
    }
    let value = exposed.join(", ");
    match position {
        Some(i) => headers[i].1 = value,
        // Expose-Headers sits after Allow-Methods (and Allow-Headers), as S3 orders them.
        None => headers.insert(2, ("access-control-expose-headers".to_string(), value)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::s3::error::S3ErrorCode;
    use crate::s3::xml::S3_XMLNS;

    fn configuration_xml(rules: &[&str]) -> String {
        let rules: String = rules.iter().map(|rule| format!("<CORSRule>{rule}</CORSRule>")).collect();
        format!("<CORSConfiguration xmlns=\"{S3_XMLNS}\">{rules}</CORSConfiguration>")
    }

    fn parse(rules: &[&str]) -> S3Result<CorsConfiguration> {
        parse_cors_configuration(configuration_xml(rules).as_bytes())
    }

    fn rule(origins: &[&str], methods: &[&str]) -> CorsRule {
        CorsRule {
            id: None,
            allowed_origins: origins.iter().map(|s| s.to_string()).collect(),
            allowed_methods: methods.iter().map(|s| s.to_string()).collect(),
            allowed_headers: Vec::new(),
            expose_headers: Vec::new(),
            max_age_seconds: None,
        }
    }

    /// The Expose-Headers value of an actual response: the rule's own, then ALWAYS_EXPOSED.
    fn exposed(configured: &[&str]) -> String {
        let mut names: Vec<&str> = configured.to_vec();
        names.extend(ALWAYS_EXPOSED.iter().filter(|n| !configured.iter().any(|c| c.eq_ignore_ascii_case(n))));
        names.join(", ")
    }

    fn strings(values: &[&str]) -> Vec<String> {
        values.iter().map(|s| s.to_string()).collect()
    }

    fn pairs(values: &[(&str, &str)]) -> Vec<(String, String)> {
        values.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect()
    }

    const MINIMAL: &str = "<AllowedOrigin>https://example.com</AllowedOrigin><AllowedMethod>GET</AllowedMethod>";

    // --- Parsing -------------------------------------------------------------------------

    /// The PutBucketCors example of the S3 API reference.
    const AWS_PUT_EXAMPLE: &str = r#"<CORSConfiguration>
 <CORSRule>
   <AllowedOrigin>http://www.example.com</AllowedOrigin>

   <AllowedMethod>PUT</AllowedMethod>
   <AllowedMethod>POST</AllowedMethod>
   <AllowedMethod>DELETE</AllowedMethod>

   <AllowedHeader>*</AllowedHeader>
 </CORSRule>
 <CORSRule>
   <AllowedOrigin>*</AllowedOrigin>
   <AllowedMethod>GET</AllowedMethod>
   <AllowedHeader>*</AllowedHeader>
   <MaxAgeSeconds>3000</MaxAgeSeconds>
 </CORSRule>
</CORSConfiguration>"#;

    #[test]
    fn parses_the_aws_put_bucket_cors_example() {
        let config = parse_cors_configuration(AWS_PUT_EXAMPLE.as_bytes()).unwrap();
        assert_eq!(
            config,
            CorsConfiguration {
                rules: vec![
                    CorsRule {
                        allowed_headers: strings(&["*"]),
                        ..rule(&["http://www.example.com"], &["PUT", "POST", "DELETE"])
                    },
                    CorsRule {
                        allowed_headers: strings(&["*"]),
                        max_age_seconds: Some(3000),
                        ..rule(&["*"], &["GET"])
                    },
                ]
            }
        );
    }

    #[test]
    fn parses_the_aws_user_guide_example_with_namespace_and_declaration() {
        let body = format!(
            r#"<?xml version="1.0" encoding="UTF-8"?>
<CORSConfiguration xmlns="{S3_XMLNS}">
  <CORSRule>
    <ID>example-rule</ID>
    <AllowedOrigin>http://www.example1.com</AllowedOrigin>
    <AllowedMethod>PUT</AllowedMethod>
    <AllowedMethod>POST</AllowedMethod>
    <AllowedMethod>DELETE</AllowedMethod>
    <AllowedHeader>*</AllowedHeader>
    <MaxAgeSeconds>3000</MaxAgeSeconds>
    <ExposeHeader>x-amz-server-side-encryption</ExposeHeader>
    <ExposeHeader>x-amz-request-id</ExposeHeader>
    <ExposeHeader>x-amz-id-2</ExposeHeader>
  </CORSRule>
</CORSConfiguration>"#
        );
        let config = parse_cors_configuration(body.as_bytes()).unwrap();
        assert_eq!(
            config.rules,
            vec![CorsRule {
                id: Some("example-rule".into()),
                allowed_headers: strings(&["*"]),
                expose_headers: strings(&["x-amz-server-side-encryption", "x-amz-request-id", "x-amz-id-2"]),
                max_age_seconds: Some(3000),
                ..rule(&["http://www.example1.com"], &["PUT", "POST", "DELETE"])
            }]
        );
    }

    #[test]
    fn accepts_prefixes_any_element_order_a_byte_order_mark_and_entities() {
        let expected = CorsConfiguration {
            rules: vec![CorsRule {
                id: Some("a<b>&\"c\"".into()),
                allowed_headers: strings(&["Content-Type"]),
                max_age_seconds: Some(42),
                ..rule(&["https://example.com", "HTTPS://Example.org"], &["GET", "HEAD"])
            }],
        };
        let prefixed = format!(
            "<s3:CORSConfiguration xmlns:s3=\"{S3_XMLNS}\"><s3:CORSRule>\
             <s3:AllowedOrigin>https://example.com</s3:AllowedOrigin><s3:AllowedMethod>GET</s3:AllowedMethod>\
             <s3:AllowedOrigin>HTTPS://Example.org</s3:AllowedOrigin><s3:AllowedMethod>HEAD</s3:AllowedMethod>\
             <s3:AllowedHeader>Content-Type</s3:AllowedHeader><s3:MaxAgeSeconds>0042</s3:MaxAgeSeconds>\
             <s3:ID>a&lt;b&gt;&amp;&quot;c&quot;</s3:ID></s3:CORSRule></s3:CORSConfiguration>"
        );
        assert_eq!(parse_cors_configuration(prefixed.as_bytes()).unwrap(), expected);
        let unprefixed = "\u{feff}<?xml version=\"1.0\"?>\n<CORSConfiguration><!-- site --><CORSRule>\
             <MaxAgeSeconds> 42 </MaxAgeSeconds><ID>a&lt;b&gt;&amp;\"c\"</ID>\
             <AllowedMethod>GET</AllowedMethod><AllowedOrigin><![CDATA[https://example.com]]></AllowedOrigin>\
             <AllowedHeader>Content-Type</AllowedHeader><AllowedMethod>HEAD</AllowedMethod>\
             <AllowedOrigin>HTTPS://Example.org</AllowedOrigin></CORSRule></CORSConfiguration>";
        assert_eq!(parse_cors_configuration(unprefixed.as_bytes()).unwrap(), expected);
    }

    #[test]
    fn keeps_values_exactly_as_sent() {
        let config =
            parse(&["<AllowedOrigin> https://example.com\n</AllowedOrigin><AllowedMethod>GET</AllowedMethod>\
             <AllowedHeader> X-Amz-Date </AllowedHeader><ExposeHeader>GET</ExposeHeader>"])
            .unwrap();
        assert_eq!(config.rules[0].allowed_origins, strings(&[" https://example.com\n"]));
        assert_eq!(config.rules[0].allowed_headers, strings(&[" X-Amz-Date "]));
        assert_eq!(config.rules[0].expose_headers, strings(&["GET"]));
    }

    #[test]
    fn accepts_the_limits() {
        let id = "i".repeat(MAX_RULE_ID_CHARS);
        let config = parse(&[&format!("{MINIMAL}<ID>{id}</ID><MaxAgeSeconds>2147483647</MaxAgeSeconds>")]).unwrap();
        assert_eq!(config.rules[0].id.as_deref(), Some(id.as_str()));
        assert_eq!(config.rules[0].max_age_seconds, Some(2_147_483_647));
        // 255 characters, more bytes.
        let id = "é".repeat(MAX_RULE_ID_CHARS);
        assert!(parse(&[&format!("{MINIMAL}<ID>{id}</ID>")]).is_ok());

        let config = parse(&[MINIMAL; MAX_CORS_RULES]).unwrap();
        assert_eq!(config.rules.len(), MAX_CORS_RULES);
        // Zero, every method, one wildcard anywhere, an empty origin, an empty ID.
        let config = parse(&[
            "<AllowedOrigin>*</AllowedOrigin><AllowedOrigin>https://*.example.com</AllowedOrigin>\
             <AllowedOrigin>http://localhost:*</AllowedOrigin><AllowedOrigin></AllowedOrigin>\
             <AllowedMethod>GET</AllowedMethod><AllowedMethod>PUT</AllowedMethod><AllowedMethod>POST</AllowedMethod>\
             <AllowedMethod>DELETE</AllowedMethod><AllowedMethod>HEAD</AllowedMethod>\
             <AllowedHeader>*</AllowedHeader><AllowedHeader>x-amz-*</AllowedHeader><AllowedHeader>*-type</AllowedHeader>\
             <ID></ID><MaxAgeSeconds>0</MaxAgeSeconds>",
        ])
        .unwrap();
        let rule = &config.rules[0];
        assert_eq!(rule.allowed_origins, strings(&["*", "https://*.example.com", "http://localhost:*", ""]));
        assert_eq!(rule.allowed_methods, strings(&CORS_METHODS_IN_DOCUMENT_ORDER));
        assert_eq!(rule.id.as_deref(), Some(""));
        assert_eq!(rule.max_age_seconds, Some(0));
    }

    const CORS_METHODS_IN_DOCUMENT_ORDER: [&str; 5] = ["GET", "PUT", "POST", "DELETE", "HEAD"];

    #[test]
    fn malformed_documents_are_malformed_xml() {
        let id256 = format!("{MINIMAL}<ID>{}</ID>", "i".repeat(256));
        let bodies = [
            String::new(),
            "not xml".into(),
            "<CORSConfiguration>".into(),
            format!("<CORSConfiguration><CORSRule>{MINIMAL}</CORSConfiguration>"),
            format!("<CORSRules><CORSRule>{MINIMAL}</CORSRule></CORSRules>"),
            format!("<corsconfiguration><CORSRule>{MINIMAL}</CORSRule></corsconfiguration>"),
            format!("<CORSRule>{MINIMAL}</CORSRule>"),
            "<CORSConfiguration/>".into(),
            configuration_xml(&[]),
            format!("<CORSConfiguration>{MINIMAL}</CORSConfiguration>"),
            format!("<CORSConfiguration><Rule>{MINIMAL}</Rule></CORSConfiguration>"),
            format!("<CORSConfiguration><CORSRule>{MINIMAL}</CORSRule><Owner>me</Owner></CORSConfiguration>"),
            configuration_xml(&[""]),
            configuration_xml(&["<AllowedMethod>GET</AllowedMethod>"]),
            configuration_xml(&["<AllowedOrigin>*</AllowedOrigin>"]),
            configuration_xml(&[MINIMAL, "<AllowedMethod>GET</AllowedMethod>"]),
            configuration_xml(&[&format!("{MINIMAL}<AllowedHeaders>*</AllowedHeaders>")]),
            configuration_xml(&[&format!("{MINIMAL}<allowedheader>*</allowedheader>")]),
            configuration_xml(&[&format!("{MINIMAL}<MaxAgeSeconds></MaxAgeSeconds>")]),
            configuration_xml(&[&format!("{MINIMAL}<MaxAgeSeconds>hour</MaxAgeSeconds>")]),
            configuration_xml(&[&format!("{MINIMAL}<MaxAgeSeconds>-1</MaxAgeSeconds>")]),
            configuration_xml(&[&format!("{MINIMAL}<MaxAgeSeconds>+1</MaxAgeSeconds>")]),
            configuration_xml(&[&format!("{MINIMAL}<MaxAgeSeconds>1.5</MaxAgeSeconds>")]),
            configuration_xml(&[&format!("{MINIMAL}<MaxAgeSeconds>2147483648</MaxAgeSeconds>")]),
            configuration_xml(&[&format!("{MINIMAL}<MaxAgeSeconds>99999999999999999999</MaxAgeSeconds>")]),
            configuration_xml(&[&format!("{MINIMAL}<MaxAgeSeconds>1</MaxAgeSeconds><MaxAgeSeconds>1</MaxAgeSeconds>")]),
            configuration_xml(&[&format!("{MINIMAL}<ID>a</ID><ID>b</ID>")]),
            configuration_xml(&[&id256]),
            configuration_xml(&[MINIMAL; MAX_CORS_RULES + 1]),
            format!("<CORSConfiguration>text<CORSRule>{MINIMAL}</CORSRule></CORSConfiguration>"),
            configuration_xml(&[&format!("{MINIMAL}text")]),
            configuration_xml(&[&format!("<CORSRule>{MINIMAL}</CORSRule>")]),
            configuration_xml(&["<AllowedOrigin><Origin>*</Origin></AllowedOrigin><AllowedMethod>GET</AllowedMethod>"]),
            configuration_xml(&[&format!("{MINIMAL}<Status/>")]),
        ];
        for body in &bodies {
            let err = parse_cors_configuration(body.as_bytes()).unwrap_err();
            assert_eq!(err, s3_error!(MalformedXML), "{body}");
            assert_eq!(err.status(), 400);
        }
        let err = parse_cors_configuration(b"<CORSConfiguration>\xff</CORSConfiguration>").unwrap_err();
        assert_eq!(err.code, S3ErrorCode::MalformedXML);
    }

    #[test]
    fn structure_is_checked_before_values() {
        // A bad method next to a structural fault, even in a later rule, is MalformedXML.
        let bad_method = "<AllowedOrigin>*</AllowedOrigin><AllowedMethod>PATCH</AllowedMethod>";
        for rules in [
            vec![bad_method, "<AllowedOrigin>*</AllowedOrigin>"],
            vec![bad_method, &format!("{MINIMAL}<MaxAgeSeconds>x</MaxAgeSeconds>")],
        ] {
            assert_eq!(parse(&rules).unwrap_err().code, S3ErrorCode::MalformedXML, "{rules:?}");
        }
    }

    #[test]
    fn unsupported_methods_are_invalid_request() {
        for method in ["OPTIONS", "PATCH", "TRACE", "get", " GET", "GET,PUT", "*", ""] {
            let rules = format!(
                "<AllowedOrigin>*</AllowedOrigin><AllowedMethod>GET</AllowedMethod>\
                 <AllowedMethod>{method}</AllowedMethod>"
            );
            let err = parse(&[MINIMAL, &rules]).unwrap_err();
            assert_eq!(
                err,
                s3_error!(
                    InvalidRequest,
                    "Found unsupported HTTP method in CORS config. Unsupported method is {method}"
                ),
                "{method:?}"
            );
            assert_eq!(err.status(), 400);
        }
    }

    #[test]
    fn wildcards_beyond_one_are_invalid_request() {
        let cases = [
            (
                "<AllowedOrigin>https://*.example.*</AllowedOrigin><AllowedMethod>GET</AllowedMethod>".to_string(),
                "AllowedOrigin \"https://*.example.*\" can not have more than one wildcard.",
            ),
            (
                "<AllowedOrigin>*</AllowedOrigin><AllowedOrigin>**</AllowedOrigin><AllowedMethod>GET</AllowedMethod>"
                    .to_string(),
                "AllowedOrigin \"**\" can not have more than one wildcard.",
            ),
            (
                format!("{MINIMAL}<AllowedHeader>x-amz-*</AllowedHeader><AllowedHeader>x-*-meta-*</AllowedHeader>"),
                "AllowedHeader \"x-*-meta-*\" can not have more than one wildcard.",
            ),
            (
                format!("{MINIMAL}<ExposeHeader>ETag</ExposeHeader><ExposeHeader>x-amz-*</ExposeHeader>"),
                "ExposeHeader \"x-amz-*\" contains wildcard. We currently do not support wildcard for ExposeHeader.",
            ),
            (
                "<AllowedOrigin>*&lt;&amp;*</AllowedOrigin><AllowedMethod>GET</AllowedMethod>".to_string(),
                "AllowedOrigin \"*<&*\" can not have more than one wildcard.",
            ),
        ];
        for (rule, message) in cases {
            assert_eq!(parse(&[MINIMAL, &rule]).unwrap_err(), s3_error!(InvalidRequest, "{message}"), "{rule}");
        }
    }

    #[test]
    fn invalid_request_reports_the_first_fault_methods_then_origins_then_headers() {
        let all_bad = "<ExposeHeader>*</ExposeHeader><AllowedHeader>*-*</AllowedHeader>\
                       <AllowedOrigin>*.*</AllowedOrigin><AllowedMethod>PATCH</AllowedMethod>";
        assert!(parse(&[all_bad]).unwrap_err().message.contains("Unsupported method is PATCH"));
        let no_method_fault = "<ExposeHeader>*</ExposeHeader><AllowedHeader>*-*</AllowedHeader>\
                               <AllowedOrigin>*.*</AllowedOrigin><AllowedMethod>GET</AllowedMethod>";
        assert!(parse(&[no_method_fault]).unwrap_err().message.starts_with("AllowedOrigin \"*.*\""));
        let header_fault = format!("<ExposeHeader>*</ExposeHeader><AllowedHeader>*-*</AllowedHeader>{MINIMAL}");
        assert!(parse(&[&header_fault]).unwrap_err().message.starts_with("AllowedHeader \"*-*\""));
        // The first rule with a fault decides, whatever the later rules hold.
        let first = format!("{MINIMAL}<ExposeHeader>x-*</ExposeHeader>");
        let later = "<AllowedOrigin>*</AllowedOrigin><AllowedMethod>PATCH</AllowedMethod>";
        assert!(parse(&[MINIMAL, &first, later]).unwrap_err().message.starts_with("ExposeHeader \"x-*\""));
    }

    #[test]
    fn an_oversized_body_is_refused_before_parsing() {
        let mut body = configuration_xml(&[MINIMAL]).into_bytes();
        body.resize(MAX_CORS_CONFIGURATION_BYTES + 1, b' ');
        assert_eq!(parse_cors_configuration(&body).unwrap_err().code, S3ErrorCode::MaxMessageLengthExceeded);
        body.truncate(MAX_CORS_CONFIGURATION_BYTES);
        assert!(parse_cors_configuration(&body).is_ok());
    }

    // --- Serializing -----------------------------------------------------------------------

    #[test]
    fn writes_the_get_bucket_cors_document() {
        let config = CorsConfiguration {
            rules: vec![
                CorsRule {
                    id: Some("rule <1>".into()),
                    allowed_headers: strings(&["Authorization", "x-amz-*"]),
                    expose_headers: strings(&["ETag", "x-amz-request-id"]),
                    max_age_seconds: Some(3000),
                    ..rule(&["https://example.com", "https://*.example.org"], &["GET", "PUT"])
                },
                rule(&["*"], &["HEAD"]),
            ],
        };
        assert_eq!(
            config.to_xml(),
            format!(
                "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<CORSConfiguration xmlns=\"{S3_XMLNS}\">\
                 <CORSRule><ID>rule &lt;1&gt;</ID>\
                 <AllowedMethod>GET</AllowedMethod><AllowedMethod>PUT</AllowedMethod>\
                 <AllowedOrigin>https://example.com</AllowedOrigin><AllowedOrigin>https://*.example.org</AllowedOrigin>\
                 <AllowedHeader>Authorization</AllowedHeader><AllowedHeader>x-amz-*</AllowedHeader>\
                 <MaxAgeSeconds>3000</MaxAgeSeconds>\
                 <ExposeHeader>ETag</ExposeHeader><ExposeHeader>x-amz-request-id</ExposeHeader></CORSRule>\
                 <CORSRule><AllowedMethod>HEAD</AllowedMethod><AllowedOrigin>*</AllowedOrigin></CORSRule>\
                 </CORSConfiguration>"
            )
        );
    }

    #[test]
    fn xml_round_trips() {
        let config = parse_cors_configuration(AWS_PUT_EXAMPLE.as_bytes()).unwrap();
        let xml = config.to_xml();
        assert_eq!(parse_cors_configuration(xml.as_bytes()).unwrap(), config);
        // A document in S3's own form comes back byte for byte.
        assert_eq!(parse_cors_configuration(xml.as_bytes()).unwrap().to_xml(), xml);

        let awkward = CorsConfiguration {
            rules: vec![
                CorsRule {
                    id: Some("<ID> & \"quotes\" 'apostrophes' ]]> é 日本".into()),
                    allowed_headers: strings(&["<x-header>"]),
                    expose_headers: strings(&["&amp;"]),
                    max_age_seconds: Some(0),
                    ..rule(&["https://example.com/?a=1&b=2", ""], &["DELETE", "DELETE"])
                },
                CorsRule { id: Some(String::new()), ..rule(&["*"], &["GET"]) },
            ],
        };
        assert_eq!(parse_cors_configuration(awkward.to_xml().as_bytes()).unwrap(), awkward);
    }

    #[test]
    fn storage_form_is_compact_json_and_round_trips() {
        let config = CorsConfiguration {
            rules: vec![
                rule(&["*"], &["GET"]),
                CorsRule {
                    id: Some("site".into()),
                    allowed_headers: strings(&["*"]),
                    expose_headers: strings(&["ETag"]),
                    max_age_seconds: Some(600),
                    ..rule(&["https://example.com"], &["PUT"])
                },
            ],
        };
        let json = serde_json::to_string(&config).unwrap();
        assert_eq!(
            json,
            r#"{"rules":[{"origins":["*"],"methods":["GET"]},{"id":"site","origins":["https://example.com"],"methods":["PUT"],"headers":["*"],"expose":["ETag"],"max_age":600}]}"#
        );
        assert_eq!(serde_json::from_str::<CorsConfiguration>(&json).unwrap(), config);
    }

    // --- Matching --------------------------------------------------------------------------

    #[test]
    fn origin_patterns_match_as_s3_does() {
        let cases = [
            ("*", "https://example.com", true),
            ("*", "null", true),
            ("https://example.com", "https://example.com", true),
            ("https://example.com", "http://example.com", false),
            ("https://example.com", "https://example.com:443", false),
            ("https://example.com", "https://example.com/", false),
            ("https://example.com", "https://www.example.com", false),
            // Case-sensitive, both ways.
            ("https://example.com", "https://EXAMPLE.com", false),
            ("https://Example.com", "https://example.com", false),
            ("https://Example.com", "https://Example.com", true),
            ("https://*.example.com", "https://www.example.com", true),
            ("https://*.example.com", "https://a.b.example.com", true),
            ("https://*.example.com", "https://WWW.example.com", true),
            ("https://*.example.com", "https://.example.com", true),
            ("https://*.example.com", "https://example.com", false),
            ("https://*.example.com", "http://www.example.com", false),
            ("https://*.example.com", "https://www.example.com.evil", false),
            ("https://*.example.com", "https://www.Example.com", false),
            ("http://localhost:*", "http://localhost:3000", true),
            ("http://localhost:*", "http://localhost", false),
            ("http*://example.com", "https://example.com", true),
            // The ceph s3-tests cases: anchored both ends, `*` may match nothing.
            ("*suffix", "foo.suffix", true),
            ("*suffix", "foo.suffix.get", false),
            ("start*end", "startend", true),
            ("start*end", "start12end", true),
            ("start*end", "0start12end", false),
            ("prefix*", "prefix", true),
            ("prefix*", "bla.prefix", false),
            // Prefix and suffix never overlap.
            ("ab*ba", "aba", false),
            ("a*a", "aa", true),
            ("a*a", "a", false),
            ("", "", true),
            ("", "https://example.com", false),
        ];
        for (pattern, origin, expected) in cases {
            assert_eq!(rule(&[pattern], &["GET"]).allows_origin(origin), expected, "{pattern:?} vs {origin:?}");
        }
    }

    #[test]
    fn methods_match_exactly() {
        let rule = rule(&["*"], &["GET", "PUT"]);
        assert!(rule.allows_method("GET"));
        assert!(rule.allows_method("PUT"));
        for method in ["HEAD", "get", "OPTIONS", "", "GET "] {
            assert!(!rule.allows_method(method), "{method:?}");
        }
    }

    #[test]
    fn headers_match_case_insensitively_with_one_wildcard() {
        let cases: [(&[&str], &str, bool); 14] = [
            (&["content-type"], "content-type", true),
            (&["Content-Type"], "content-type", true),
            (&["CONTENT-TYPE"], "cOnTeNt-TyPe", true),
            (&["content-type"], "content-length", false),
            (&["*"], "authorization", true),
            (&["X-Amz-*"], "x-amz-date", true),
            (&["x-amz-*"], "X-AMZ-DATE", true),
            (&["x-amz-*"], "x-amz-", true),
            (&["x-amz-*"], "x-amz", false),
            (&["x-amz-*"], "x-amzn-trace-id", false),
            (&["x-amz-*"], "my-x-amz-date", false),
            (&["*-type"], "content-type", true),
            (&["x-*-id"], "x-id", false),
            (&[], "content-type", false),
        ];
        for (allowed, header, expected) in cases {
            let rule = CorsRule { allowed_headers: strings(allowed), ..rule(&["*"], &["GET"]) };
            assert_eq!(rule.allows_header(header), expected, "{allowed:?} vs {header:?}");
        }
    }

    #[test]
    fn request_header_names_are_split_trimmed_and_lower_cased() {
        assert_eq!(
            request_header_names("Content-Type,X-Amz-Date ,  x-amz-meta-Name\t"),
            strings(&["content-type", "x-amz-date", "x-amz-meta-name"])
        );
        assert_eq!(request_header_names(""), Vec::<String>::new());
        assert_eq!(request_header_names(" , ,"), Vec::<String>::new());
    }

    #[test]
    fn the_first_matching_rule_wins() {
        let exact = CorsRule { id: Some("exact".into()), ..rule(&["https://example.com"], &["GET", "PUT"]) };
        let pattern = CorsRule {
            id: Some("pattern".into()),
            allowed_headers: strings(&["*"]),
            ..rule(&["https://*.com"], &["GET"])
        };
        let any = CorsRule { id: Some("any".into()), ..rule(&["*"], &["GET", "HEAD"]) };
        let id = |rules: &[&CorsRule], method: &str, headers: &[&str]| {
            let config = CorsConfiguration { rules: rules.iter().map(|rule| (*rule).clone()).collect() };
            config.matching_rule("https://example.com", method, &strings(headers)).and_then(|rule| rule.id.clone())
        };
        assert_eq!(id(&[&exact, &pattern, &any], "GET", &[]).as_deref(), Some("exact"));
        assert_eq!(id(&[&any, &pattern, &exact], "GET", &[]).as_deref(), Some("any"));
        assert_eq!(id(&[&pattern, &exact, &any], "PUT", &[]).as_deref(), Some("exact"));
        assert_eq!(id(&[&exact, &pattern, &any], "HEAD", &[]).as_deref(), Some("any"));
        assert_eq!(id(&[&exact, &pattern, &any], "GET", &["x-amz-date"]).as_deref(), Some("pattern"));
        assert_eq!(id(&[&exact, &pattern, &any], "DELETE", &[]), None);
        // Origin, method and headers must all match within one rule.
        let origin_only = rule(&["https://example.com"], &["PUT"]);
        let method_only = rule(&["https://example.org"], &["GET"]);
        assert_eq!(id(&[&origin_only, &method_only], "GET", &[]), None);
    }

    // --- Preflight -------------------------------------------------------------------------

    fn site_config() -> CorsConfiguration {
        CorsConfiguration {
            rules: vec![
                CorsRule {
                    id: Some("site".into()),
                    allowed_headers: strings(&["Content-Type", "x-amz-*"]),
                    expose_headers: strings(&["ETag", "x-amz-request-id"]),
                    max_age_seconds: Some(3000),
                    ..rule(&["https://example.com", "https://*.example.com"], &["GET", "PUT", "DELETE"])
                },
                rule(&["*"], &["GET", "HEAD"]),
            ],
        }
    }

    #[test]
    fn preflight_answers_the_matching_rule_exactly() {
        let config = site_config();
        let answer = preflight(
            Some(&config),
            Some("https://example.com"),
            Some("PUT"),
            Some("Content-Type,X-Amz-Date ,  x-amz-meta-Name"),
        );
        assert_eq!(
            answer.unwrap(),
            pairs(&[
                ("access-control-allow-origin", "https://example.com"),
                ("access-control-allow-methods", "GET, PUT, DELETE"),
                ("access-control-allow-headers", "content-type, x-amz-date, x-amz-meta-name"),
                ("access-control-expose-headers", "ETag, x-amz-request-id"),
                ("access-control-max-age", "3000"),
                ("access-control-allow-credentials", "true"),
                ("vary", CORS_VARY),
            ])
        );
        // Without requested headers (or only empty items), no Access-Control-Allow-Headers.
        for request_headers in [None, Some(""), Some(" , ")] {
            let answer = preflight(Some(&config), Some("https://app.example.com"), Some("DELETE"), request_headers);
            assert_eq!(
                answer.unwrap(),
                pairs(&[
                    ("access-control-allow-origin", "https://app.example.com"),
                    ("access-control-allow-methods", "GET, PUT, DELETE"),
                    ("access-control-expose-headers", "ETag, x-amz-request-id"),
                    ("access-control-max-age", "3000"),
                    ("access-control-allow-credentials", "true"),
                    ("vary", CORS_VARY),
                ])
            );
        }
    }

    #[test]
    fn preflight_answers_star_without_credentials_for_a_star_rule() {
        let config = site_config();
        let public = pairs(&[
            ("access-control-allow-origin", "*"),
            ("access-control-allow-methods", "GET, HEAD"),
            ("vary", CORS_VARY),
        ]);
        // An origin only the second rule allows, and a method only the second rule allows.
        assert_eq!(preflight(Some(&config), Some("https://example.org"), Some("GET"), None).unwrap(), public);
        assert_eq!(preflight(Some(&config), Some("https://example.com"), Some("HEAD"), None).unwrap(), public);
        // The literal `*` next to specific origins still answers `*`.
        let mixed = CorsConfiguration { rules: vec![rule(&["https://example.com", "*"], &["GET"])] };
        let answer = preflight(Some(&mixed), Some("https://example.com"), Some("GET"), None).unwrap();
        assert_eq!(answer[0], ("access-control-allow-origin".into(), "*".into()));
        assert!(answer.iter().all(|(name, _)| name != "access-control-allow-credentials"));
        // A wildcard pattern echoes the origin and allows credentials.
        let pattern = CorsConfiguration { rules: vec![rule(&["http*"], &["GET"])] };
        assert_eq!(
            preflight(Some(&pattern), Some("https://example.com"), Some("GET"), None).unwrap(),
            pairs(&[
                ("access-control-allow-origin", "https://example.com"),
                ("access-control-allow-methods", "GET"),
                ("access-control-allow-credentials", "true"),
                ("vary", CORS_VARY),
            ])
        );
    }

    #[test]
    fn preflight_without_origin_is_bad_request_before_anything_else() {
        let config = site_config();
        for (config, origin, method) in [
            (Some(&config), None, Some("GET")),
            (Some(&config), Some(""), Some("GET")),
            (Some(&config), None, None),
            (None, None, Some("PATCH")),
        ] {
            let err = preflight(config, origin, method, Some("content-type")).unwrap_err();
            assert_eq!(err, s3_error!(BadRequest, "Insufficient information. Origin request header needed."));
            assert_eq!(err.status(), 400);
        }
    }

    #[test]
    fn preflight_without_configuration_is_access_forbidden() {
        for method in [Some("GET"), None, Some("PATCH")] {
            let err = preflight(None, Some("https://example.com"), method, None).unwrap_err();
            assert_eq!(err, s3_error!(AccessForbidden, "CORSResponse: CORS is not enabled for this bucket."));
            assert_eq!(err.status(), 403);
        }
    }

    #[test]
    fn preflight_with_a_bad_method_is_bad_request() {
        let config = site_config();
        for (method, shown) in [
            (None, "null"),
            (Some(""), ""),
            (Some("PATCH"), "PATCH"),
            (Some("OPTIONS"), "OPTIONS"),
            (Some("get"), "get"),
        ] {
            let err = preflight(Some(&config), Some("https://example.com"), method, None).unwrap_err();
            assert_eq!(err, s3_error!(BadRequest, "Invalid Access-Control-Request-Method: {shown}"));
        }
    }

    #[test]
    fn preflight_no_rule_matching_is_access_forbidden() {
        let config = site_config();
        let not_allowed = s3_error!(
            AccessForbidden,
            "CORSResponse: This CORS request is not allowed. This is usually because the evalution of Origin, \
             request method / Access-Control-Request-Method or Access-Control-Request-Headers are not whitelisted \
             by the resource's CORS spec."
        );
        for (origin, method, headers) in [
            ("https://example.org", "PUT", None),
            ("https://EXAMPLE.com", "PUT", None),
            ("https://example.com", "POST", None),
            ("https://example.com", "PUT", Some("content-type, authorization")),
            // The `*` rule has no AllowedHeader: it allows no requested header.
            ("https://example.org", "GET", Some("content-type")),
        ] {
            let err = preflight(Some(&config), Some(origin), Some(method), headers).unwrap_err();
            assert_eq!(err, not_allowed, "{origin} {method} {headers:?}");
            assert_eq!(err.status(), 403);
        }
    }

    #[test]
    fn preflight_on_a_missing_bucket() {
        assert_eq!(
            preflight_without_bucket(Some("https://example.com")),
            s3_error!(AccessForbidden, "CORSResponse: Bucket not found")
        );
        assert_eq!(preflight_without_bucket(None).code, S3ErrorCode::BadRequest);
        assert_eq!(preflight_without_bucket(Some("")).code, S3ErrorCode::BadRequest);
    }

    // --- Actual requests -------------------------------------------------------------------

    #[test]
    fn actual_requests_get_the_matching_rule_headers_without_allow_headers() {
        let config = site_config();
        assert_eq!(
            response_headers(Some(&config), Some("https://example.com"), "PUT"),
            pairs(&[
                ("access-control-allow-origin", "https://example.com"),
                ("access-control-allow-methods", "GET, PUT, DELETE"),
                ("access-control-expose-headers", &exposed(&["ETag", "x-amz-request-id"])),
                ("access-control-max-age", "3000"),
                ("access-control-allow-credentials", "true"),
                ("vary", CORS_VARY),
            ])
        );
        assert_eq!(
            response_headers(Some(&config), Some("https://example.org"), "HEAD"),
            pairs(&[
                ("access-control-allow-origin", "*"),
                ("access-control-allow-methods", "GET, HEAD"),
                ("access-control-expose-headers", &exposed(&[])),
                ("vary", CORS_VARY),
            ])
        );
    }

    #[test]
    fn actual_requests_without_a_match_get_vary_only() {
        let config = site_config();
        let vary_only = pairs(&[("vary", CORS_VARY)]);
        for (origin, method) in [
            (Some("https://example.org"), "PUT"),
            (Some("https://EXAMPLE.com"), "PUT"),
            (Some("https://example.com"), "POST"),
            (Some("https://example.com"), "get"),
            (Some(""), "GET"),
            (None, "GET"),
        ] {
            assert_eq!(response_headers(Some(&config), origin, method), vary_only, "{origin:?} {method}");
        }
    }

    #[test]
    fn actual_requests_without_configuration_get_nothing() {
        assert_eq!(response_headers(None, Some("https://example.com"), "GET"), Vec::new());
        assert_eq!(response_headers(None, None, "GET"), Vec::new());
    }

    #[test]
    fn actual_requests_ignore_allowed_headers() {
        let with = CorsConfiguration {
            rules: vec![CorsRule {
                allowed_headers: strings(&["x-amz-*"]),
                ..rule(&["https://example.com"], &["GET"])
            }],
        };
        let without = CorsConfiguration { rules: vec![rule(&["https://example.com"], &["GET"])] };
        let expected = pairs(&[
            ("access-control-allow-origin", "https://example.com"),
            ("access-control-allow-methods", "GET"),
            ("access-control-expose-headers", &exposed(&[])),
            ("access-control-allow-credentials", "true"),
            ("vary", CORS_VARY),
        ]);
        assert_eq!(response_headers(Some(&with), Some("https://example.com"), "GET"), expected);
        assert_eq!(response_headers(Some(&without), Some("https://example.com"), "GET"), expected);
    }

    #[test]
    fn a_parsed_configuration_drives_both_answers() {
        let config = parse_cors_configuration(AWS_PUT_EXAMPLE.as_bytes()).unwrap();
        assert_eq!(
            preflight(Some(&config), Some("http://www.example.com"), Some("PUT"), Some("content-type")).unwrap(),
            pairs(&[
                ("access-control-allow-origin", "http://www.example.com"),
                ("access-control-allow-methods", "PUT, POST, DELETE"),
                ("access-control-allow-headers", "content-type"),
                ("access-control-allow-credentials", "true"),
                ("vary", CORS_VARY),
            ])
        );
        assert_eq!(
            response_headers(Some(&config), Some("https://anyone.test"), "GET"),
            pairs(&[
                ("access-control-allow-origin", "*"),
                ("access-control-allow-methods", "GET"),
                ("access-control-expose-headers", &exposed(&[])),
                ("access-control-max-age", "3000"),
                ("vary", CORS_VARY),
            ])
        );
    }
}
