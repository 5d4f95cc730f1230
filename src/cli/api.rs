//! The gateway's JSON API as the CLI sees it: requests to build and answers to interpret, as pure
//! functions. [`Transport`] is the one seam to the network (`transport.rs` implements it with
//! ureq; tests use a fake), so every answer, including a missing connection or an HTML error page,
//! is turned into a [`CliError`] here.
//!
//! - `POST /v1/admin/projects` (admin bearer token) -> 201 `{"project": {...}, "access_grant"}`
//! - `POST /v1/access` `{"access_grant", "public"}` -> 200 `{"access_key_id", "secret_key", "endpoint"}`
//! - `DELETE /v1/access/<access key id>` (its secret key or the admin token) -> 204
//!
//! Failures carry `{"error": "message"}`. Messages quoted from an answer are cut to one short line
//! and have every secret the request carried replaced by `<redacted>`, so even an endpoint that
//! echoes requests back cannot make an error message print a grant or a token.

use std::fmt;

use serde_json::{json, Value};

use crate::auth::secret::SecretKey;
use crate::cli::CliError;

/// Longest piece of an answer quoted in an error message.
const MAX_QUOTED_CHARS: usize = 200;

/// A gateway base URL: `http` or `https`, a host, an optional path; no credentials, query or
/// fragment; no trailing slash.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Endpoint(String);

impl Endpoint {
    pub fn parse(text: &str) -> Result<Endpoint, String> {
        let text = text.trim();
        let (scheme, rest) = text.split_once("://").ok_or("--endpoint must start with http:// or https://")?;
        let scheme = scheme.to_ascii_lowercase();
        if scheme != "http" && scheme != "https" {
            return Err("--endpoint must start with http:// or https://".into());
        }
        let authority = rest.split('/').next().unwrap_or_default();
        if authority.contains('@') {
            return Err("--endpoint must not contain a user name or password".into());
        }
        if authority.is_empty() || authority.starts_with(':') {
            return Err("--endpoint has no host name".into());
        }
        if rest.contains(['?', '#']) || rest.chars().any(|c| c.is_whitespace() || c.is_control()) {
            return Err("--endpoint must be a plain URL, without spaces, query or fragment".into());
        }
        Ok(Endpoint(format!("{scheme}://{}", rest.trim_end_matches('/'))))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The URL of an API path (`path` starts with `/`).
    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.0)
    }

    /// Whether secrets sent here would cross the network unencrypted: plain HTTP to a host that
    /// is not this machine.
    pub fn is_cleartext_remote(&self) -> bool {
        let Some(rest) = self.0.strip_prefix("http://") else { return false };
        let authority = rest.split('/').next().unwrap_or_default();
        let host = if authority.starts_with('[') {
            authority.split(']').next().map(|h| &h[1..]).unwrap_or_default()
        } else {
            authority.rsplit_once(':').map_or(authority, |(host, _)| host)
        };
        let host = host.to_ascii_lowercase();
        let loopback = host == "localhost"
            || host.ends_with(".localhost")
            || host == "::1"
            || host.parse::<std::net::Ipv4Addr>().is_ok_and(|ip| ip.is_loopback());
        !loopback
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Method {
    Post,
    Delete,
}

impl Method {
    pub fn as_str(self) -> &'static str {
        match self {
            Method::Post => "POST",
            Method::Delete => "DELETE",
        }
    }
}

/// One API request. `Debug` hides the bearer token and the body (which may hold a grant).
pub struct ApiRequest {
    pub method: Method,
    pub url: String,
    pub bearer: Option<SecretKey>,
    /// A JSON body, sent with `Content-Type: application/json`.
    pub json_body: Option<String>,
    /// Every secret this request carries, to redact from whatever the answer quotes.
    pub secrets: Vec<SecretKey>,
}

impl fmt::Debug for ApiRequest {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ApiRequest")
            .field("method", &self.method)
            .field("url", &self.url)
            .field("bearer", &self.bearer.as_ref().map(|_| "<redacted>"))
            .field("json_body", &self.json_body.as_ref().map(|_| "<redacted>"))
            .finish()
    }
}

/// An HTTP answer, whatever its status.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ApiResponse {
    pub status: u16,
    pub content_type: Option<String>,
    /// The `Location` header of a redirect (redirects are never followed: they would resend
    /// secrets to a place the user did not name).
    pub location: Option<String>,
    pub body: Vec<u8>,
}

/// Sends requests. `Err` means no HTTP answer at all (DNS, connection, TLS, timeout); the message
/// must not contain the request's secrets.
pub trait Transport {
    fn send(&self, request: &ApiRequest) -> Result<ApiResponse, String>;
}

/// A new project's fields, as sent to the API.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewProject {
    pub id: Option<String>,
    pub node: String,
    pub backend_bucket: String,
    pub encrypted: bool,
}

pub fn create_project_request(endpoint: &Endpoint, admin_token: &SecretKey, project: &NewProject) -> ApiRequest {
    let mut body = json!({
        "node": project.node,
        "backend_bucket": project.backend_bucket,
        "encrypted": project.encrypted,
    });
    if let Some(id) = &project.id {
        body["id"] = json!(id);
    }
    ApiRequest {
        method: Method::Post,
        url: endpoint.url("/v1/admin/projects"),
        bearer: Some(admin_token.clone()),
        json_body: Some(body.to_string()),
        secrets: vec![admin_token.clone()],
    }
}

pub fn register_request(endpoint: &Endpoint, grant: &SecretKey, public: bool) -> ApiRequest {
    ApiRequest {
        method: Method::Post,
        url: endpoint.url("/v1/access"),
        bearer: None,
        json_body: Some(json!({ "access_grant": grant.expose_secret(), "public": public }).to_string()),
        secrets: vec![grant.clone()],
    }
}

/// `access_key_id` must already be checked to be URL-safe ([`valid_access_key_id`]).
pub fn revoke_request(endpoint: &Endpoint, access_key_id: &str, bearer: &SecretKey) -> ApiRequest {
    ApiRequest {
        method: Method::Delete,
        url: endpoint.url(&format!("/v1/access/{access_key_id}")),
        bearer: Some(bearer.clone()),
        json_body: None,
        secrets: vec![bearer.clone()],
    }
}

/// An access key id the CLI will put in a URL path: 1 to 128 ASCII letters and digits.
pub fn valid_access_key_id(id: &str) -> bool {
    (1..=128).contains(&id.len()) && id.bytes().all(|b| b.is_ascii_alphanumeric())
}

/// A registered credential. `Debug` hides the secret key.
#[derive(Debug, Clone)]
pub struct Credentials {
    pub access_key_id: String,
    pub secret_key: SecretKey,
    pub endpoint: String,
}

/// A created project: the project record as the gateway returned it, and its root grant.
#[derive(Debug, Clone)]
pub struct CreatedProject {
    pub project: Value,
    pub access_grant: SecretKey,
}

/// Send `request`, turning a missing answer into a request error that names the endpoint.
pub fn send(transport: &dyn Transport, request: &ApiRequest, what: &str) -> Result<ApiResponse, CliError> {
    transport.send(request).map_err(|e| {
        CliError::request(format!(
            "{what} failed: no answer from {}: {}",
            origin(&request.url),
            quote(&e, &request.secrets)
        ))
    })
}

pub fn parse_create_project(response: &ApiResponse, request: &ApiRequest) -> Result<CreatedProject, CliError> {
    const WHAT: &str = "creating the project";
    if response.status != 200 && response.status != 201 {
        return Err(failure(response, request, WHAT));
    }
    let body = json_object(response, request, WHAT)?;
    let access_grant = body.get("access_grant").and_then(Value::as_str).filter(|g| is_token(g));
    let project = body.get("project").filter(|p| p.is_object());
    match (access_grant, project) {
        (Some(grant), Some(project)) => {
            Ok(CreatedProject { project: project.clone(), access_grant: SecretKey::new(grant) })
        }
        _ => Err(unexpected(request, WHAT, "it lacks \"project\" or \"access_grant\"")),
    }
}

pub fn parse_register(
    response: &ApiResponse,
    request: &ApiRequest,
    endpoint: &Endpoint,
) -> Result<Credentials, CliError> {
    const WHAT: &str = "registering the grant";
    if response.status != 200 && response.status != 201 {
        return Err(failure(response, request, WHAT));
    }
    let body = json_object(response, request, WHAT)?;
    let field = |name: &str| body.get(name).and_then(Value::as_str).filter(|v| is_token(v));
    let (Some(access_key_id), Some(secret_key)) = (field("access_key_id"), field("secret_key")) else {
        return Err(unexpected(request, WHAT, "it lacks a usable \"access_key_id\" or \"secret_key\""));
    };
    let s3_endpoint = match body.get("endpoint").and_then(Value::as_str).filter(|e| !e.is_empty()) {
        None => endpoint.as_str().to_string(),
        Some(given) => match Endpoint::parse(given) {
            Ok(parsed) if !given.contains(char::is_whitespace) => parsed.as_str().to_string(),
            _ => return Err(unexpected(request, WHAT, "its \"endpoint\" is not an http(s) URL")),
        },
    };
    Ok(Credentials {
        access_key_id: access_key_id.to_string(),
        secret_key: SecretKey::new(secret_key),
        endpoint: s3_endpoint,
    })
}

pub fn check_revoke(response: &ApiResponse, request: &ApiRequest) -> Result<(), CliError> {
    match response.status {
        200 | 202 | 204 => Ok(()),
        _ => Err(failure(response, request, "revoking the access key")),
    }
}

/// Printable ASCII without spaces: safe in a config file, a shell word after quoting, a header.
fn is_token(value: &str) -> bool {
    !value.is_empty() && value.bytes().all(|b| b.is_ascii_graphic())
}

fn json_object(
    response: &ApiResponse,
    request: &ApiRequest,
    what: &str,
) -> Result<serde_json::Map<String, Value>, CliError> {
    match serde_json::from_slice::<Value>(&response.body) {
        Ok(Value::Object(map)) => Ok(map),
        _ => Err(unexpected(
            request,
            what,
            &format!("HTTP {} but {}", response.status, describe_body(response, request)),
        )),
    }
}

fn unexpected(request: &ApiRequest, what: &str, why: &str) -> CliError {
    CliError::request(format!(
        "{what} failed: unexpected answer from {}: {why}; is --endpoint a portico gateway?",
        origin(&request.url)
    ))
}

/// The error of a non-success answer: the server's `{"error"}` message when there is one, a hint
/// for the statuses a user can act on, and never a secret.
fn failure(response: &ApiResponse, request: &ApiRequest, what: &str) -> CliError {
    let status = response.status;
    if (300..400).contains(&status) {
        let to = response.location.as_deref().map(|l| quote(l, &request.secrets));
        return CliError::request(match to {
            Some(to) => {
                format!("{what} failed: {} redirects to {to}; use that address as --endpoint", origin(&request.url))
            }
            None => format!("{what} failed: HTTP {status} redirect from {}", origin(&request.url)),
        });
    }
    let server_message = serde_json::from_slice::<Value>(&response.body)
        .ok()
        .and_then(|body| body.get("error").and_then(Value::as_str).map(|m| quote(m, &request.secrets)));
    let hint = match (status, request.method) {
        (401, _) => Some("the admin token or secret key was not accepted"),
        (403, Method::Delete) => Some("neither the credential's secret key nor the admin token was given"),
        (403, _) => Some("not allowed"),
        (404, Method::Delete) if is_json(response) => Some("no such access key"),
        (404, _) => Some("this endpoint has no such API; is --endpoint a portico gateway?"),
        (409, _) => Some("a project with this id already exists"),
        (413, _) => Some("the request is too large"),
        _ => None,
    };
    let detail = match (server_message, hint) {
        (Some(message), _) => message,
        (None, Some(hint)) if is_json(response) => hint.to_string(),
        (None, Some(hint)) => format!("{hint} ({})", describe_body(response, request)),
        (None, None) => describe_body(response, request),
    };
    CliError::request(format!("{what} failed: HTTP {status} from {}: {detail}", origin(&request.url)))
}

fn is_json(response: &ApiResponse) -> bool {
    serde_json::from_slice::<Value>(&response.body).is_ok()
}

/// What an unusable body looked like, briefly: empty, or its type and first line.
fn describe_body(response: &ApiResponse, request: &ApiRequest) -> String {
    if response.body.is_empty() {
        return "an empty answer".to_string();
    }
    let content_type =
        response.content_type.as_deref().map(|t| quote(t, &[])).unwrap_or_else(|| "no content type".into());
    let text = String::from_utf8_lossy(&response.body);
    let first_line = text.lines().map(str::trim).find(|l| !l.is_empty()).unwrap_or_default();
    format!(
        "a non-JSON answer ({content_type}, {} bytes): {}",
        response.body.len(),
        quote(first_line, &request.secrets)
    )
}

/// `text` made safe to print: secrets redacted, control characters replaced, cut short.
pub fn quote(text: &str, secrets: &[SecretKey]) -> String {
    let mut text = text.to_string();
    for secret in secrets {
        let secret = secret.expose_secret();
        if !secret.is_empty() {
            text = text.replace(secret, "<redacted>");
            // A secret the answer escaped as JSON or URL-encoded would pass the plain replacement.
            let escaped = serde_json::to_string(secret).unwrap_or_default();
            text = text.replace(escaped.trim_matches('"'), "<redacted>");
            text = text.replace(&crate::http::uri_encode(secret, false), "<redacted>");
        }
    }
    let mut cleaned: String =
        text.chars().map(|c| if c.is_control() { ' ' } else { c }).take(MAX_QUOTED_CHARS + 1).collect();
    if cleaned.chars().count() > MAX_QUOTED_CHARS {
        cleaned = cleaned.chars().take(MAX_QUOTED_CHARS).collect::<String>() + "...";
    }
    cleaned
}

/// `scheme://host[:port]` of a URL: where a request went, without its path.
fn origin(url: &str) -> &str {
    let after_scheme = url.find("://").map_or(0, |i| i + 3);
    let end = url[after_scheme..].find('/').map_or(url.len(), |i| after_scheme + i);
    &url[..end]
}

#[cfg(test)]
mod tests {
    use super::*;

    const GRANT: &str = "portico1AQAEsecretgrantbytes";

    fn endpoint() -> Endpoint {
        Endpoint::parse("https://s3.example.com/").unwrap()
    }

    fn response(status: u16, content_type: &str, body: &str) -> ApiResponse {
        ApiResponse { status, content_type: Some(content_type.into()), location: None, body: body.as_bytes().to_vec() }
    }

    fn register() -> ApiRequest {
        register_request(&endpoint(), &SecretKey::new(GRANT), false)
    }

    #[test]
    fn endpoints_are_plain_http_urls() {
        assert_eq!(endpoint().as_str(), "https://s3.example.com");
        assert_eq!(endpoint().url("/v1/access"), "https://s3.example.com/v1/access");
        assert_eq!(Endpoint::parse(" HTTP://127.0.0.1:8787 ").unwrap().as_str(), "http://127.0.0.1:8787");
        assert_eq!(Endpoint::parse("https://h.example/gw//").unwrap().url("/v1/x"), "https://h.example/gw/v1/x");
        for bad in
            ["s3.example.com", "ftp://h", "https://", "https://:80", "https://u:p@h", "https://h/?x", "https://h/a b"]
        {
            let err = Endpoint::parse(bad).unwrap_err();
            assert!(err.starts_with("--endpoint"), "{bad}: {err}");
            assert!(!err.contains("u:p"), "{err}");
        }
    }

    #[test]
    fn cleartext_warning_spares_loopback() {
        for (url, cleartext) in [
            ("http://127.0.0.1:8787", false),
            ("http://localhost:8787", false),
            ("http://[::1]:8787", false),
            ("http://s3.localhost", false),
            ("https://s3.example.com", false),
            ("http://s3.example.com", true),
            ("http://10.0.0.1:80", true),
        ] {
            assert_eq!(Endpoint::parse(url).unwrap().is_cleartext_remote(), cleartext, "{url}");
        }
    }

    #[test]
    fn requests_carry_what_the_api_expects() {
        let admin = SecretKey::new("admin-token");
        let project =
            NewProject { id: Some("acme".into()), node: "n1".into(), backend_bucket: "b".into(), encrypted: false };
        let request = create_project_request(&endpoint(), &admin, &project);
        assert_eq!(request.method, Method::Post);
        assert_eq!(request.url, "https://s3.example.com/v1/admin/projects");
        assert_eq!(request.bearer.as_ref().unwrap().expose_secret(), "admin-token");
        let body: Value = serde_json::from_str(request.json_body.as_ref().unwrap()).unwrap();
        assert_eq!(body, json!({"id": "acme", "node": "n1", "backend_bucket": "b", "encrypted": false}));
        let without_id = create_project_request(&endpoint(), &admin, &NewProject { id: None, ..project });
        let body: Value = serde_json::from_str(without_id.json_body.as_ref().unwrap()).unwrap();
        assert!(body.get("id").is_none());

        let request = register_request(&endpoint(), &SecretKey::new(GRANT), true);
        assert_eq!(request.url, "https://s3.example.com/v1/access");
        assert!(request.bearer.is_none());
        let body: Value = serde_json::from_str(request.json_body.as_ref().unwrap()).unwrap();
        assert_eq!(body, json!({"access_grant": GRANT, "public": true}));
        let debug = format!("{request:?}");
        assert!(!debug.contains(GRANT) && debug.contains("<redacted>"), "{debug}");

        let request = revoke_request(&endpoint(), "AKID123", &SecretKey::new("s3cret"));
        assert_eq!(request.method, Method::Delete);
        assert_eq!(request.url, "https://s3.example.com/v1/access/AKID123");
        assert!(request.json_body.is_none());
        assert!(!format!("{request:?}").contains("s3cret"));
    }

    #[test]
    fn access_key_ids_are_url_safe() {
        assert!(valid_access_key_id("MXD2LWNND7XYTXBEQNMCC7GTG4CN"));
        for bad in ["", "../admin", "a b", "a%2F", &"A".repeat(129)] {
            assert!(!valid_access_key_id(bad), "{bad}");
        }
    }

    #[test]
    fn a_registration_answer_becomes_credentials() {
        let answer = response(
            200,
            "application/json",
            r#"{"access_key_id": "AKID", "secret_key": "SECRET", "endpoint": "https://gw.example.com/"}"#,
        );
        let creds = parse_register(&answer, &register(), &endpoint()).unwrap();
        assert_eq!(creds.access_key_id, "AKID");
        assert_eq!(creds.secret_key.expose_secret(), "SECRET");
        assert_eq!(creds.endpoint, "https://gw.example.com");
        // No endpoint in the answer: the one the request went to.
        let answer = response(200, "application/json", r#"{"access_key_id": "AKID", "secret_key": "SECRET"}"#);
        assert_eq!(parse_register(&answer, &register(), &endpoint()).unwrap().endpoint, "https://s3.example.com");
        assert!(!format!("{:?}", parse_register(&answer, &register(), &endpoint()).unwrap()).contains("SECRET"));
    }

    #[test]
    fn unusable_success_answers_are_request_errors() {
        for body in [
            "<html>hello</html>",
            "",
            "[1, 2]",
            r#"{"access_key_id": "AKID"}"#,
            r#"{"access_key_id": "AKID", "secret_key": "with space"}"#,
            r#"{"access_key_id": "AKID", "secret_key": "S", "endpoint": "javascript:alert(1)"}"#,
            r#"{"access_key_id": "AKID", "secret_key": "S", "endpoint": "https://h/\nexport X=1"}"#,
        ] {
            let err = parse_register(&response(200, "text/html", body), &register(), &endpoint()).unwrap_err();
            assert_eq!(err.exit_code(), 1, "{body}");
            assert!(err.message.contains("unexpected answer from https://s3.example.com"), "{err}");
        }
        let err = parse_register(&response(200, "text/html", "<html>\n<title>Hi</title>"), &register(), &endpoint())
            .unwrap_err();
        assert!(err.message.contains("a non-JSON answer (text/html, 24 bytes): <html>"), "{err}");
    }

    #[test]
    fn api_errors_quote_the_server_but_never_the_secrets() {
        let echo = format!(r#"{{"error": "bad grant {GRANT}"}}"#);
        let err = parse_register(&response(400, "application/json", &echo), &register(), &endpoint()).unwrap_err();
        assert_eq!(err.exit_code(), 1);
        assert_eq!(
            err.message,
            "registering the grant failed: HTTP 400 from https://s3.example.com: bad grant <redacted>"
        );
        // An echo server quoting the request body as HTML.
        let html = format!("<pre>{{\"access_grant\":\"{GRANT}\"}}</pre>");
        let err = parse_register(&response(500, "text/html", &html), &register(), &endpoint()).unwrap_err();
        assert!(!err.message.contains(GRANT) && err.message.contains("<redacted>"), "{err}");
        let too_big = parse_register(&response(413, "text/plain", ""), &register(), &endpoint()).unwrap_err();
        assert!(too_big.message.contains("HTTP 413") && too_big.message.contains("too large"), "{too_big}");
        let long = format!(r#"{{"error": "{}"}}"#, "x".repeat(1000));
        let err = parse_register(&response(400, "application/json", &long), &register(), &endpoint()).unwrap_err();
        assert!(err.message.len() < 400 && err.message.ends_with("..."), "{err}");
    }

    #[test]
    fn redirects_are_reported_not_followed() {
        let mut answer = response(301, "text/html", "moved");
        answer.location = Some("https://s3.example.com/v1/access".into());
        let err = parse_register(&answer, &register(), &endpoint()).unwrap_err();
        assert!(err.message.contains("redirects to https://s3.example.com/v1/access; use that address"), "{err}");
    }

    #[test]
    fn project_answers() {
        let admin = SecretKey::new("admin-token");
        let project =
            NewProject { id: Some("acme".into()), node: "n1".into(), backend_bucket: "b".into(), encrypted: false };
        let request = create_project_request(&endpoint(), &admin, &project);
        let answer = response(
            201,
            "application/json",
            r#"{"project": {"id": "acme", "node": "n1"}, "access_grant": "portico1xyz"}"#,
        );
        let created = parse_create_project(&answer, &request).unwrap();
        assert_eq!(created.access_grant.expose_secret(), "portico1xyz");
        assert_eq!(created.project["id"], "acme");
        for (status, body, expected) in [
            (409, r#"{"error": "project acme exists"}"#, "HTTP 409 from https://s3.example.com: project acme exists"),
            (409, "{}", "a project with this id already exists"),
            (401, "", "the admin token or secret key was not accepted (an empty answer)"),
            (404, "Not Found", "no such API; is --endpoint a portico gateway? (a non-JSON answer"),
            (502, "<html>Bad gateway</html>", "HTTP 502 from https://s3.example.com: a non-JSON answer"),
            (201, "{\"project\": {}}", "unexpected answer"),
            (201, "not json", "unexpected answer"),
        ] {
            let err = parse_create_project(&response(status, "text/html", body), &request).unwrap_err();
            assert_eq!(err.exit_code(), 1);
            assert!(err.message.contains(expected), "{status} {body}: {err}");
            assert!(!err.message.contains("admin-token"));
        }
    }

    #[test]
    fn revocation_answers() {
        let request = revoke_request(&endpoint(), "AKID", &SecretKey::new("s3cret"));
        assert_eq!(check_revoke(&response(204, "", ""), &request), Ok(()));
        let not_found = check_revoke(&response(404, "application/json", r#"{"error": "not found"}"#), &request);
        assert!(not_found.unwrap_err().message.contains("HTTP 404 from https://s3.example.com: not found"));
        let forbidden = check_revoke(&response(403, "application/json", "{}"), &request).unwrap_err();
        assert!(forbidden.message.contains("HTTP 403") && forbidden.message.contains("secret key"), "{forbidden}");
    }

    #[test]
    fn transport_failures_name_the_endpoint_only() {
        struct Down;
        impl Transport for Down {
            fn send(&self, request: &ApiRequest) -> Result<ApiResponse, String> {
                Err(format!("connection refused while sending {}", request.json_body.as_ref().unwrap()))
            }
        }
        let err = send(&Down, &register(), "registering the grant").unwrap_err();
        assert_eq!(err.exit_code(), 1);
        assert!(err
            .message
            .starts_with("registering the grant failed: no answer from https://s3.example.com: connection refused"));
        assert!(!err.message.contains(GRANT), "{err}");
    }

    #[test]
    fn quoting_removes_control_characters() {
        assert_eq!(quote("a\nb\x1b[31mc", &[]), "a b [31mc");
        assert_eq!(quote("key=a%2Fb", &[SecretKey::new("a/b")]), "key=<redacted>");
        assert_eq!(origin("http://h:1/v1/access/X"), "http://h:1");
        assert_eq!(origin("http://h:1"), "http://h:1");
    }
}
