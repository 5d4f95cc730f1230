//! Carrying out a parsed [`Command`]. The clock, standard input and the network come in through
//! [`Context`], so every command runs in unit tests with a fixed time and a fake transport.

use crate::auth::grant::Grant;
use crate::auth::secret::SecretKey;
use crate::cli::api::{self, Transport};
use crate::cli::args::{Command, GrantInput, ProjectCreate, Register, Revoke};
use crate::cli::output::{self, grant_line};
use crate::cli::restrict::{expired_at, restrict};
use crate::cli::when::format_rfc3339;
use crate::cli::CliError;

/// What a command needs from the outside world.
pub struct Context<'a> {
    /// Unix seconds, read once by `main`.
    pub now: i64,
    /// Reads all of standard input (called only for a `-` grant).
    pub read_stdin: &'a mut dyn FnMut() -> std::io::Result<String>,
    pub transport: &'a dyn Transport,
}

/// What a successful command prints.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct Outcome {
    /// For standard output, complete with its final newline.
    pub stdout: String,
    /// For standard error, one line each: advice that does not stop the command.
    pub warnings: Vec<String>,
}

impl Outcome {
    fn print(stdout: String) -> Self {
        Outcome { stdout, warnings: Vec::new() }
    }
}

pub fn run(command: Command, ctx: &mut Context<'_>) -> Result<Outcome, CliError> {
    match command {
        Command::Help(text) => Ok(Outcome::print(text.to_string())),
        Command::GrantInspect { grant } => {
            let (_, grant) = read_grant(grant, ctx)?;
            Ok(Outcome::print(output::inspect_json(&grant)))
        }
        Command::GrantRestrict { grant, restriction } => {
            let (_, grant) = read_grant(grant, ctx)?;
            let mut warnings = restriction.warnings();
            if let Some(expired) = expired_at(&grant, ctx.now) {
                warnings
                    .push(format!("GRANT expired at {}: the restricted grant allows nothing", format_rfc3339(expired)));
            }
            let restricted = restrict(&grant, &restriction, ctx.now)?;
            Ok(Outcome { stdout: grant_line(&restricted.to_string()), warnings })
        }
        Command::Register(register_command) => register(register_command, ctx),
        Command::ProjectCreate(create) => project_create(create, ctx),
        Command::Revoke(revoke_command) => revoke(revoke_command, ctx),
    }
}

/// The grant's text (trimmed) and the parsed grant. Errors never quote the text.
fn read_grant(input: GrantInput, ctx: &mut Context<'_>) -> Result<(SecretKey, Grant), CliError> {
    let text = match input {
        GrantInput::Text(text) => SecretKey::new(text.expose_secret().trim()),
        GrantInput::Stdin => {
            let read = (ctx.read_stdin)()
                .map_err(|e| CliError::usage(format!("cannot read GRANT from standard input: {e}")))?;
            let text = SecretKey::new(read.trim());
            if text.expose_secret().is_empty() {
                return Err(CliError::usage("no grant on standard input"));
            }
            text
        }
    };
    let grant = Grant::parse(text.expose_secret())
        .map_err(|e| CliError::usage(format!("GRANT is not a valid access grant: {e}")))?;
    Ok((text, grant))
}

fn cleartext_warning(endpoint: &api::Endpoint, what: &str) -> Vec<String> {
    if endpoint.is_cleartext_remote() {
        vec![format!("{} is plain HTTP: {what} crosses the network unencrypted", endpoint.as_str())]
    } else {
        Vec::new()
    }
}

fn register(command: Register, ctx: &mut Context<'_>) -> Result<Outcome, CliError> {
    let (text, grant) = read_grant(command.grant, ctx)?;
    if let Some(expired) = expired_at(&grant, ctx.now) {
        return Err(CliError::usage(format!("GRANT expired at {}", format_rfc3339(expired))));
    }
    let mut warnings = cleartext_warning(&command.endpoint, "the grant and the new secret key");
    let request = api::register_request(&command.endpoint, &text, command.public);
    let response = api::send(ctx.transport, &request, "registering the grant")?;
    let credentials = api::parse_register(&response, &request, &command.endpoint)?;
    if command.public {
        warnings.push(format!(
            "access key {} is public: anyone who knows it can read what the grant allows",
            credentials.access_key_id
        ));
    }
    Ok(Outcome { stdout: output::render_credentials(&credentials, command.format), warnings })
}

fn project_create(command: ProjectCreate, ctx: &mut Context<'_>) -> Result<Outcome, CliError> {
    let warnings = cleartext_warning(&command.endpoint, "the admin token and the root grant");
    let request = api::create_project_request(&command.endpoint, &command.admin_token, &command.project);
    let response = api::send(ctx.transport, &request, "creating the project")?;
    let created = api::parse_create_project(&response, &request)?;
    Ok(Outcome { stdout: output::project_output(&created, command.json), warnings })
}

fn revoke(command: Revoke, ctx: &mut Context<'_>) -> Result<Outcome, CliError> {
    let warnings = cleartext_warning(&command.endpoint, "the secret key or admin token");
    let request = api::revoke_request(&command.endpoint, &command.access_key_id, &command.bearer);
    let response = api::send(ctx.transport, &request, "revoking the access key")?;
    api::check_revoke(&response, &request)?;
    Ok(Outcome { stdout: format!("revoked {}\n", command.access_key_id), warnings })
}

#[cfg(test)]
mod tests {
    use std::cell::RefCell;

    use serde_json::{json, Value};

    use super::*;
    use crate::auth::grant::{Action, Caveat, Denied, Permission};
    use crate::cli::api::{ApiRequest, ApiResponse, Method};
    use crate::cli::args::{parse_command, Env};

    const MASTER: &[u8] = b"a master secret for cli run tests";
    const NOW: i64 = 1_800_000_000;

    fn root() -> Grant {
        Grant::mint(MASTER, "acme", [5; 16], [6; 32]).unwrap()
    }

    /// A request as the fake saw it: method, URL, bearer token, body.
    type Seen = (Method, String, Option<String>, Option<String>);

    /// Answers every request with one canned response (or no connection), recording requests.
    struct Fake {
        answer: Result<ApiResponse, String>,
        seen: RefCell<Vec<Seen>>,
    }

    impl Fake {
        fn answering(status: u16, body: &str) -> Self {
            let response = ApiResponse {
                status,
                content_type: Some("application/json".into()),
                location: None,
                body: body.as_bytes().to_vec(),
            };
            Fake { answer: Ok(response), seen: RefCell::new(Vec::new()) }
        }

        fn down() -> Self {
            Fake { answer: Err("Connection refused (os error 111)".into()), seen: RefCell::new(Vec::new()) }
        }
    }

    impl Transport for Fake {
        fn send(&self, request: &ApiRequest) -> Result<ApiResponse, String> {
            self.seen.borrow_mut().push((
                request.method,
                request.url.clone(),
                request.bearer.as_ref().map(|b| b.expose_secret().to_string()),
                request.json_body.clone(),
            ));
            self.answer.clone()
        }
    }

    fn run_line(args: &[&str], stdin: &str, transport: &Fake) -> Result<Outcome, CliError> {
        let args: Vec<String> = args.iter().map(|s| s.to_string()).collect();
        let command = parse_command(&args, &Env::default())?;
        let stdin = stdin.to_string();
        let mut read_stdin = move || Ok(stdin.clone());
        run(command, &mut Context { now: NOW, read_stdin: &mut read_stdin, transport })
    }

    #[test]
    fn restrict_then_inspect_offline() {
        let offline = Fake::down();
        let root_text = root().to_string();
        let args = [
            "grant",
            "restrict",
            &root_text,
            "--readonly",
            "--bucket",
            "photos",
            "--prefix",
            "2024/",
            "--not-after",
            "1h",
        ];
        let restricted = run_line(&args, "", &offline).unwrap();
        assert!(restricted.warnings.is_empty(), "{:?}", restricted.warnings);
        assert!(restricted.stdout.ends_with('\n') && restricted.stdout.lines().count() == 1);
        let grant = Grant::parse(restricted.stdout.trim()).unwrap();
        grant.verify(MASTER).unwrap();
        assert_eq!(grant.authorize(&Action::object(Permission::Read, "photos", "2024/x"), NOW), Ok(()));
        assert_eq!(grant.authorize(&Action::object(Permission::Read, "other", "2024/x"), NOW), Err(Denied::Bucket));
        assert_eq!(
            grant.authorize(&Action::object(Permission::Write, "photos", "2024/x"), NOW),
            Err(Denied::Operation(Permission::Write))
        );
        assert_eq!(grant.caveats[0].not_after, Some(NOW + 3600));

        // The restricted grant read back from stdin, and inspected.
        let inspected = run_line(&["grant", "inspect", "-"], &format!("\n{}\n", restricted.stdout), &offline).unwrap();
        let value: Value = serde_json::from_str(&inspected.stdout).unwrap();
        assert_eq!(value["project"], "acme");
        assert_eq!(value["key_scope"], json!({"type": "bucket", "bucket": "photos"}));
        assert_eq!(value["caveats"][0]["prefixes"], json!(["2024/"]));
        assert!(!inspected.stdout.contains(&crate::http::hex(&[6; 32])));
        assert!(offline.seen.borrow().is_empty(), "offline commands send nothing");
    }

    #[test]
    fn bad_grants_are_usage_errors_that_do_not_quote_them() {
        let offline = Fake::down();
        let mut tampered = root().to_string();
        tampered.push('A');
        for (args, stdin) in [
            (vec!["grant", "inspect", "portico1garbage-but-secret"], ""),
            (vec!["grant", "inspect", tampered.as_str()], ""),
            (vec!["grant", "restrict", "not-a-grant-secret", "--readonly"], ""),
            (vec!["grant", "inspect", "-"], "  \n"),
            (vec!["register", "-", "--endpoint", "https://h"], "portico1garbage-but-secret"),
        ] {
            let err = run_line(&args, stdin, &offline).unwrap_err();
            assert_eq!(err.exit_code(), 2, "{args:?}: {err}");
            assert!(!err.message.contains("secret") && !err.message.contains(&tampered), "{err}");
        }
        assert!(offline.seen.borrow().is_empty());
    }

    #[test]
    fn restricting_an_expired_grant_warns() {
        let expired = root().restrict(Caveat { not_after: Some(NOW - 1), ..Caveat::default() }).unwrap().to_string();
        let outcome = run_line(&["grant", "restrict", &expired, "--no-delete"], "", &Fake::down()).unwrap();
        assert!(outcome.warnings[0].contains("expired at 2027-01-15T07:59:59Z"), "{:?}", outcome.warnings);
        let err = run_line(&["register", &expired, "--endpoint", "https://h"], "", &Fake::down()).unwrap_err();
        assert_eq!(err.exit_code(), 2);
        assert!(err.message.contains("expired"));
    }

    #[test]
    fn register_sends_the_grant_and_prints_credentials() {
        let api = Fake::answering(
            200,
            r#"{"access_key_id": "AKIDEXAMPLE", "secret_key": "SECRETEXAMPLE", "endpoint": "https://s3.example.com"}"#,
        );
        let grant = root().to_string();
        let outcome =
            run_line(&["register", "-", "--endpoint", "https://gw.example.com", "--format", "env"], &grant, &api)
                .unwrap();
        assert_eq!(
            outcome.stdout,
            "export AWS_ENDPOINT_URL=https://s3.example.com\nexport AWS_ACCESS_KEY_ID=AKIDEXAMPLE\n\
             export AWS_SECRET_ACCESS_KEY=SECRETEXAMPLE\nexport AWS_REGION=us-east-1\n"
        );
        assert!(outcome.warnings.is_empty());
        let (method, url, bearer, body) = api.seen.borrow()[0].clone();
        assert_eq!((method, url.as_str(), bearer), (Method::Post, "https://gw.example.com/v1/access", None));
        let body: Value = serde_json::from_str(body.as_ref().unwrap()).unwrap();
        assert_eq!(body, json!({"access_grant": grant, "public": false}));

        let public =
            run_line(&["register", &grant, "--endpoint", "http://gw.example.com", "--public"], "", &api).unwrap();
        assert!(public.stdout.contains("Secret Key:    SECRETEXAMPLE"));
        assert_eq!(public.warnings.len(), 2, "{:?}", public.warnings);
        assert!(public.warnings[0].contains("plain HTTP"));
        assert!(public.warnings[1].contains("public"));
    }

    #[test]
    fn register_without_a_gateway_fails_cleanly() {
        let grant = root().to_string();
        let args = ["register", &grant, "--endpoint", "http://127.0.0.1:9"];
        let down = run_line(&args, "", &Fake::down()).unwrap_err();
        assert_eq!(down.exit_code(), 1);
        assert_eq!(
            down.message,
            "registering the grant failed: no answer from http://127.0.0.1:9: Connection refused (os error 111)"
        );
        let html = run_line(&args, "", &Fake::answering(200, "<!doctype html><p>It works!</p>")).unwrap_err();
        assert_eq!(html.exit_code(), 1);
        assert!(html.message.contains("unexpected answer from http://127.0.0.1:9"), "{html}");
        let refused = run_line(&args, "", &Fake::answering(400, r#"{"error": "access_grant failed verification"}"#));
        let refused = refused.unwrap_err();
        assert_eq!(refused.exit_code(), 1);
        assert!(refused.message.ends_with("HTTP 400 from http://127.0.0.1:9: access_grant failed verification"));
        for err in [down, html, refused] {
            assert!(!err.message.contains(&grant));
        }
    }

    #[test]
    fn project_create_prints_the_root_grant() {
        let answer = json!({
            "project": {"id": "acme", "node": "n1", "backend_bucket": "b", "encrypted": false, "created_at": NOW},
            "access_grant": root().to_string(),
        });
        let api = Fake::answering(201, &answer.to_string());
        let args = [
            "project",
            "create",
            "--endpoint",
            "https://gw",
            "--admin-token",
            "tok",
            "--node",
            "n1",
            "--backend-bucket",
            "b",
        ];
        let outcome = run_line(&args, "", &api).unwrap();
        assert_eq!(outcome.stdout, format!("{}\n", root().to_string()));
        let (method, url, bearer, _) = api.seen.borrow()[0].clone();
        assert_eq!(
            (method, url.as_str(), bearer.as_deref()),
            (Method::Post, "https://gw/v1/admin/projects", Some("tok"))
        );

        let mut with_json = args.to_vec();
        with_json.push("--json");
        let value: Value = serde_json::from_str(&run_line(&with_json, "", &api).unwrap().stdout).unwrap();
        assert_eq!(value, answer);

        let conflict = run_line(&args, "", &Fake::answering(409, r#"{"error": "project acme already exists"}"#));
        let conflict = conflict.unwrap_err();
        assert_eq!(conflict.exit_code(), 1);
        assert!(conflict.message.contains("409") && conflict.message.contains("already exists"), "{conflict}");
        let down = run_line(&args, "", &Fake::down()).unwrap_err();
        assert!(down.message.starts_with("creating the project failed: no answer from https://gw"), "{down}");
        let text = run_line(&args, "", &Fake::answering(200, "ok")).unwrap_err();
        assert!(text.message.contains("unexpected answer"), "{text}");
        for err in [conflict, down, text] {
            assert!(!err.message.contains("tok "), "{err}");
        }
    }

    #[test]
    fn revoke_uses_the_bearer_given() {
        let api = Fake::answering(204, "");
        let args = ["revoke", "AKID", "--endpoint", "https://gw", "--secret-key", "s3cret"];
        assert_eq!(run_line(&args, "", &api).unwrap().stdout, "revoked AKID\n");
        let (method, url, bearer, body) = api.seen.borrow()[0].clone();
        assert_eq!(
            (method, url.as_str(), bearer.as_deref(), body),
            (Method::Delete, "https://gw/v1/access/AKID", Some("s3cret"), None)
        );
        let missing = run_line(&args, "", &Fake::answering(404, r#"{"error": "no such access key"}"#)).unwrap_err();
        assert_eq!(missing.exit_code(), 1);
        assert!(missing.message.contains("HTTP 404"), "{missing}");
    }

    #[test]
    fn help_prints_to_stdout() {
        let outcome = run_line(&["grant", "restrict", "--help"], "", &Fake::down()).unwrap();
        assert!(outcome.stdout.starts_with("usage: portico grant restrict GRANT"));
    }
}
