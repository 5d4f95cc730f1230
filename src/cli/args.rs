//! The command line into a [`Command`]: a small option parser (`--name value`, `--name=value`,
//! switches, repeatable options, `--` ends options, `-` is a value) and one function per command
//! that checks everything that can be checked without the clock or the network.
//!
//! Error messages name options but never repeat a secret: an unexpected extra argument may be a
//! grant pasted twice, and `--admin-token=...` misspelt still carries the token.

use crate::auth::secret::SecretKey;
use crate::cli::api::{valid_access_key_id, Endpoint, NewProject};
use crate::cli::help;
use crate::cli::output::Format;
use crate::cli::restrict::Restriction;
use crate::cli::when::parse_time;
use crate::cli::CliError;

/// Where a grant comes from.
#[derive(Debug, Clone)]
pub enum GrantInput {
    /// `-`: read it from standard input.
    Stdin,
    /// Given on the command line.
    Text(SecretKey),
}

#[derive(Debug, Clone)]
pub struct ProjectCreate {
    pub endpoint: Endpoint,
    pub admin_token: SecretKey,
    pub project: NewProject,
    /// Print the whole answer as JSON instead of the grant alone.
    pub json: bool,
}

#[derive(Debug, Clone)]
pub struct Register {
    pub grant: GrantInput,
    pub endpoint: Endpoint,
    pub public: bool,
    pub format: Format,
}

#[derive(Debug, Clone)]
pub struct Revoke {
    pub access_key_id: String,
    pub endpoint: Endpoint,
    /// The credential's secret key or the admin token.
    pub bearer: SecretKey,
}

/// One parsed command line.
#[derive(Debug, Clone)]
pub enum Command {
    /// Print this help text and succeed.
    Help(&'static str),
    ProjectCreate(ProjectCreate),
    GrantRestrict {
        grant: GrantInput,
        restriction: Restriction,
    },
    GrantInspect {
        grant: GrantInput,
    },
    Register(Register),
    Revoke(Revoke),
}

/// What the environment contributes to the command line.
#[derive(Default)]
pub struct Env {
    /// `PORTICO_ADMIN_TOKEN`.
    pub admin_token: Option<String>,
}

/// Parse the arguments after the program name.
pub fn parse_command(args: &[String], env: &Env) -> Result<Command, CliError> {
    let words: Vec<&str> = args.iter().map(String::as_str).collect();
    match words.as_slice() {
        [] | ["-h" | "--help" | "help"] => Ok(Command::Help(help::MAIN)),
        ["help", topic @ ..] => Ok(Command::Help(help_for(topic))),
        ["project"] | ["project", "-h" | "--help"] => Ok(Command::Help(help::PROJECT)),
        ["project", "create", rest @ ..] => project_create(rest, env),
        ["project", other, ..] => Err(unknown_subcommand("project", other, "create")),
        ["grant"] | ["grant", "-h" | "--help"] => Ok(Command::Help(help::GRANT)),
        ["grant", "restrict", rest @ ..] => grant_restrict(rest),
        ["grant", "inspect", rest @ ..] => grant_inspect(rest),
        ["grant", other, ..] => Err(unknown_subcommand("grant", other, "restrict, inspect")),
        ["register", rest @ ..] => register(rest),
        ["revoke", rest @ ..] => revoke(rest, env),
        [other, ..] => Err(CliError::usage(format!(
            "unknown command {:?}; commands: project create, grant restrict, grant inspect, register, revoke \
             (portico --help)",
            short(other)
        ))),
    }
}

fn help_for(topic: &[&str]) -> &'static str {
    match topic {
        ["project", "create", ..] => help::PROJECT_CREATE,
        ["project", ..] => help::PROJECT,
        ["grant", "restrict", ..] => help::GRANT_RESTRICT,
        ["grant", "inspect", ..] => help::GRANT_INSPECT,
        ["grant", ..] => help::GRANT,
        ["register", ..] => help::REGISTER,
        ["revoke", ..] => help::REVOKE,
        _ => help::MAIN,
    }
}

fn unknown_subcommand(command: &str, given: &str, known: &str) -> CliError {
    CliError::usage(format!("unknown command `{command} {}`; expected {command} {known}", short(given)))
}

/// A word from the command line shown in an error: only if it is short and plain (a grant or a
/// token is neither).
fn short(word: &str) -> String {
    if word.len() <= 24 && word.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_') {
        word.to_string()
    } else {
        "<argument>".to_string()
    }
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Arity {
    Switch,
    One,
    Many,
}

struct Opt {
    name: &'static str,
    arity: Arity,
}

const fn switch(name: &'static str) -> Opt {
    Opt { name, arity: Arity::Switch }
}

const fn one(name: &'static str) -> Opt {
    Opt { name, arity: Arity::One }
}

const fn many(name: &'static str) -> Opt {
    Opt { name, arity: Arity::Many }
}

/// The options and positional arguments of one command.
#[derive(Default)]
struct Parsed {
    positionals: Vec<String>,
    values: Vec<(&'static str, String)>,
    switches: Vec<&'static str>,
    help: bool,
}

impl Parsed {
    fn switch(&self, name: &str) -> bool {
        self.switches.contains(&name)
    }

    fn one(&self, name: &str) -> Option<&str> {
        self.values.iter().find(|(n, _)| *n == name).map(|(_, v)| v.as_str())
    }

    fn many(&self, name: &str) -> Vec<String> {
        let mut out: Vec<String> = Vec::new();
        for (_, value) in self.values.iter().filter(|(n, _)| *n == name) {
            if !out.contains(value) {
                out.push(value.clone());
            }
        }
        out
    }

    fn required(&self, name: &str, command: &str) -> Result<&str, CliError> {
        self.one(name).ok_or_else(|| usage(command, format!("--{name} is required")))
    }

    /// Exactly the named positional arguments, in order.
    fn positionals<const N: usize>(&self, names: [&str; N], command: &str) -> Result<[String; N], CliError> {
        if self.positionals.len() > N {
            return Err(usage(
                command,
                format!("unexpected extra argument (argument {} after `portico {command}`)", N + 1),
            ));
        }
        if self.positionals.len() < N {
            return Err(usage(command, format!("{} is required", names[self.positionals.len()])));
        }
        Ok(std::array::from_fn(|i| self.positionals[i].clone()))
    }
}

fn usage(command: &str, message: impl std::fmt::Display) -> CliError {
    CliError::usage(format!("{message} (see `portico {command} --help`)"))
}

fn parse_options(args: &[&str], opts: &[Opt], command: &str) -> Result<Parsed, CliError> {
    let mut parsed = Parsed::default();
    let before_dashes = args.iter().take_while(|a| **a != "--");
    if before_dashes.clone().any(|a| *a == "-h" || *a == "--help") {
        parsed.help = true;
        return Ok(parsed);
    }
    let mut iter = args.iter();
    let mut options_ended = false;
    while let Some(&arg) = iter.next() {
        if options_ended || arg == "-" || !arg.starts_with('-') {
            parsed.positionals.push(arg.to_string());
            continue;
        }
        if arg == "--" {
            options_ended = true;
            continue;
        }
        let body = arg.strip_prefix("--").ok_or_else(|| usage(command, "options are written --name"))?;
        let (name, inline) = match body.split_once('=') {
            Some((name, value)) => (name, Some(value)),
            None => (body, None),
        };
        let opt = opts
            .iter()
            .find(|o| o.name == name)
            .ok_or_else(|| usage(command, format!("unknown option --{}", short(name))))?;
        match opt.arity {
            Arity::Switch => {
                if inline.is_some() {
                    return Err(usage(command, format!("--{name} takes no value")));
                }
                parsed.switches.push(opt.name);
            }
            Arity::One | Arity::Many => {
                let value = match inline {
                    Some(value) => value,
                    None => match iter.next() {
                        Some(value) if !value.starts_with("--") => value,
                        _ => return Err(usage(command, format!("--{name} needs a value"))),
                    },
                };
                if opt.arity == Arity::One && parsed.one(name).is_some() {
                    return Err(usage(command, format!("--{name} is given more than once")));
                }
                parsed.values.push((opt.name, value.to_string()));
            }
        }
    }
    Ok(parsed)
}

fn endpoint(parsed: &Parsed, command: &str) -> Result<Endpoint, CliError> {
    Endpoint::parse(parsed.required("endpoint", command)?).map_err(|e| usage(command, e))
}

fn grant_input(text: String) -> GrantInput {
    if text == "-" {
        GrantInput::Stdin
    } else {
        GrantInput::Text(SecretKey::new(text))
    }
}

/// A secret from an option or, failing that, the environment; never empty.
fn secret_option(parsed: &Parsed, name: &str, env: Option<&String>) -> Option<SecretKey> {
    let value = parsed.one(name).map(str::to_string).or_else(|| env.cloned())?;
    let value = value.trim();
    (!value.is_empty()).then(|| SecretKey::new(value))
}

fn valid_project_id(id: &str) -> bool {
    (1..=63).contains(&id.len()) && id.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
}

fn project_create(args: &[&str], env: &Env) -> Result<Command, CliError> {
    const COMMAND: &str = "project create";
    let opts = [
        one("endpoint"),
        one("admin-token"),
        one("node"),
        one("backend-bucket"),
        one("id"),
        switch("encrypted"),
        switch("json"),
    ];
    let parsed = parse_options(args, &opts, COMMAND)?;
    if parsed.help {
        return Ok(Command::Help(help::PROJECT_CREATE));
    }
    parsed.positionals([], COMMAND)?;
    let endpoint = endpoint(&parsed, COMMAND)?;
    let admin_token = secret_option(&parsed, "admin-token", env.admin_token.as_ref())
        .ok_or_else(|| usage(COMMAND, "--admin-token or $PORTICO_ADMIN_TOKEN is required"))?;
    let id = parsed.one("id").map(str::to_string);
    if id.as_deref().is_some_and(|id| !valid_project_id(id)) {
        return Err(usage(COMMAND, "--id must be 1 to 63 characters of a-z, 0-9 and '-'"));
    }
    let plain = |name: &str| -> Result<String, CliError> {
        let value = parsed.required(name, COMMAND)?;
        if value.is_empty() || value.contains('/') || value.chars().any(|c| c.is_whitespace() || c.is_control()) {
            return Err(usage(COMMAND, format!("--{name} must be a non-empty name without '/' or spaces")));
        }
        Ok(value.to_string())
    };
    let project = NewProject {
        id,
        node: plain("node")?,
        backend_bucket: plain("backend-bucket")?,
        encrypted: parsed.switch("encrypted"),
    };
    Ok(Command::ProjectCreate(ProjectCreate { endpoint, admin_token, project, json: parsed.switch("json") }))
}

fn grant_restrict(args: &[&str]) -> Result<Command, CliError> {
    const COMMAND: &str = "grant restrict";
    let opts = [
        switch("readonly"),
        switch("writeonly"),
        switch("no-delete"),
        switch("no-list"),
        many("bucket"),
        many("prefix"),
        one("not-before"),
        one("not-after"),
    ];
    let parsed = parse_options(args, &opts, COMMAND)?;
    if parsed.help {
        return Ok(Command::Help(help::GRANT_RESTRICT));
    }
    let [grant] = parsed.positionals(["GRANT"], COMMAND)?;
    let time = |name: &str| {
        parsed.one(name).map(|text| parse_time(text).map_err(|e| usage(COMMAND, format!("--{name}: {e}")))).transpose()
    };
    let restriction = Restriction {
        readonly: parsed.switch("readonly"),
        writeonly: parsed.switch("writeonly"),
        no_delete: parsed.switch("no-delete"),
        no_list: parsed.switch("no-list"),
        buckets: parsed.many("bucket"),
        prefixes: parsed.many("prefix"),
        not_before: time("not-before")?,
        not_after: time("not-after")?,
    };
    restriction.validate().map_err(|e| usage(COMMAND, e))?;
    Ok(Command::GrantRestrict { grant: grant_input(grant), restriction })
}

fn grant_inspect(args: &[&str]) -> Result<Command, CliError> {
    const COMMAND: &str = "grant inspect";
    let parsed = parse_options(args, &[], COMMAND)?;
    if parsed.help {
        return Ok(Command::Help(help::GRANT_INSPECT));
    }
    let [grant] = parsed.positionals(["GRANT"], COMMAND)?;
    Ok(Command::GrantInspect { grant: grant_input(grant) })
}

fn register(args: &[&str]) -> Result<Command, CliError> {
    const COMMAND: &str = "register";
    let opts = [one("endpoint"), switch("public"), one("format")];
    let parsed = parse_options(args, &opts, COMMAND)?;
    if parsed.help {
        return Ok(Command::Help(help::REGISTER));
    }
    let [grant] = parsed.positionals(["GRANT"], COMMAND)?;
    let endpoint = endpoint(&parsed, COMMAND)?;
    let format = match parsed.one("format") {
        None => Format::Text,
        Some(name) => Format::parse(name).ok_or_else(|| {
            usage(COMMAND, format!("--format {:?} is not one of text, env, aws, rclone, json", short(name)))
        })?,
    };
    Ok(Command::Register(Register { grant: grant_input(grant), endpoint, public: parsed.switch("public"), format }))
}

fn revoke(args: &[&str], env: &Env) -> Result<Command, CliError> {
    const COMMAND: &str = "revoke";
    let opts = [one("endpoint"), one("secret-key"), one("admin-token")];
    let parsed = parse_options(args, &opts, COMMAND)?;
    if parsed.help {
        return Ok(Command::Help(help::REVOKE));
    }
    let [access_key_id] = parsed.positionals(["ACCESS_KEY_ID"], COMMAND)?;
    if !valid_access_key_id(&access_key_id) {
        return Err(usage(COMMAND, "ACCESS_KEY_ID must be 1 to 128 letters and digits"));
    }
    let endpoint = endpoint(&parsed, COMMAND)?;
    if parsed.one("secret-key").is_some() && parsed.one("admin-token").is_some() {
        return Err(usage(COMMAND, "give --secret-key or --admin-token, not both"));
    }
    let bearer = match parsed.one("secret-key") {
        Some(_) => secret_option(&parsed, "secret-key", None),
        None => secret_option(&parsed, "admin-token", env.admin_token.as_ref()),
    }
    .ok_or_else(|| usage(COMMAND, "--secret-key, --admin-token or $PORTICO_ADMIN_TOKEN is required"))?;
    Ok(Command::Revoke(Revoke { access_key_id, endpoint, bearer }))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cli::when::TimeSpec;

    const GRANT: &str = "portico1AQAEYWNtZTE2TLzNc7VKLau8";

    fn parse(line: &str) -> Result<Command, CliError> {
        parse_with(line, &Env::default())
    }

    fn parse_with(line: &str, env: &Env) -> Result<Command, CliError> {
        let args: Vec<String> = line.split_whitespace().map(str::to_string).collect();
        parse_command(&args, env)
    }

    fn usage_error(line: &str) -> String {
        let err = parse(line).expect_err(line);
        assert_eq!(err.exit_code(), 2, "{line}: {err}");
        err.message
    }

    #[test]
    fn help_everywhere() {
        for (line, text) in [
            ("", help::MAIN),
            ("--help", help::MAIN),
            ("-h", help::MAIN),
            ("help", help::MAIN),
            ("help register", help::REGISTER),
            ("help grant restrict", help::GRANT_RESTRICT),
            ("project", help::PROJECT),
            ("project create --help", help::PROJECT_CREATE),
            ("grant", help::GRANT),
            ("grant restrict --readonly --help", help::GRANT_RESTRICT),
            ("grant inspect -h", help::GRANT_INSPECT),
            ("register x --format nope --help", help::REGISTER),
            ("revoke --help", help::REVOKE),
        ] {
            match parse(line) {
                Ok(Command::Help(shown)) => assert_eq!(shown, text, "{line}"),
                other => panic!("{line}: {other:?}"),
            }
        }
    }

    #[test]
    fn grant_restrict_collects_every_option() {
        let line = format!(
            "grant restrict {GRANT} --readonly --no-list --bucket photos --bucket=videos --bucket photos \
             --prefix 2024/ --prefix=shared/ --not-before 2026-12-01T00:00:00Z --not-after=7d"
        );
        let Ok(Command::GrantRestrict { grant: GrantInput::Text(grant), restriction }) = parse(&line) else {
            panic!("{line}");
        };
        assert_eq!(grant.expose_secret(), GRANT);
        assert_eq!(
            restriction,
            Restriction {
                readonly: true,
                writeonly: false,
                no_delete: false,
                no_list: true,
                buckets: vec!["photos".into(), "videos".into()],
                prefixes: vec!["2024/".into(), "shared/".into()],
                not_before: Some(TimeSpec::At(1_796_083_200)),
                not_after: Some(TimeSpec::FromNow(7 * 86_400)),
            }
        );
        assert!(matches!(
            parse("grant restrict - --writeonly"),
            Ok(Command::GrantRestrict { grant: GrantInput::Stdin, .. })
        ));
        // After `--` everything is positional, even what looks like an option.
        let args: Vec<String> = ["grant", "restrict", "--readonly", "--", "-x"].iter().map(|s| s.to_string()).collect();
        let Ok(Command::GrantRestrict { grant: GrantInput::Text(grant), .. }) = parse_command(&args, &Env::default())
        else {
            panic!()
        };
        assert_eq!(grant.expose_secret(), "-x");
    }

    #[test]
    fn argument_errors_are_usage_errors() {
        for (line, expected) in [
            ("frobnicate", "unknown command \"frobnicate\""),
            ("project delete", "unknown command `project delete`"),
            ("grant widen x", "unknown command `grant widen`"),
            ("grant restrict", "GRANT is required"),
            ("grant restrict x", "nothing to restrict"),
            ("grant restrict x --readonly --writeonly", "--readonly and --writeonly together allow nothing"),
            ("grant restrict x --bucket", "--bucket needs a value"),
            ("grant restrict x --bucket --readonly", "--bucket needs a value"),
            ("grant restrict x --readonly=yes", "--readonly takes no value"),
            ("grant restrict x --read-only", "unknown option --read-only"),
            ("grant restrict x -r", "options are written --name"),
            ("grant restrict x --not-after soon", "--not-after: \"soon\" is not a time"),
            ("grant restrict x --not-after 1h --not-after 2h", "--not-after is given more than once"),
            ("grant restrict x --bucket UPPER", "--bucket \"UPPER\""),
            ("grant inspect", "GRANT is required"),
            ("register", "GRANT is required"),
            ("register x", "--endpoint is required"),
            ("register x --endpoint s3.example.com", "--endpoint must start with http:// or https://"),
            ("register x --endpoint https://h --format yaml", "--format \"yaml\" is not one of"),
            (
                "project create --endpoint https://h --node n --backend-bucket b",
                "--admin-token or $PORTICO_ADMIN_TOKEN",
            ),
            ("project create --endpoint https://h --admin-token t --backend-bucket b", "--node is required"),
            (
                "project create --endpoint https://h --admin-token t --node n --backend-bucket a/b",
                "--backend-bucket must",
            ),
            (
                "project create --endpoint https://h --admin-token t --node n --backend-bucket b --id Acme",
                "--id must be",
            ),
            (
                "project create --endpoint https://h --admin-token t --node n --backend-bucket b extra",
                "unexpected extra",
            ),
            ("revoke --endpoint https://h --secret-key s", "ACCESS_KEY_ID is required"),
            ("revoke ../x --endpoint https://h --secret-key s", "ACCESS_KEY_ID must be"),
            ("revoke AKID --endpoint https://h", "--secret-key, --admin-token or $PORTICO_ADMIN_TOKEN is required"),
            ("revoke AKID --endpoint https://h --secret-key s --admin-token t", "not both"),
        ] {
            let message = usage_error(line);
            assert!(message.contains(expected), "{line}: {message}");
        }
        assert!(usage_error("grant inspect x y").contains("(see `portico grant inspect --help`)"));
    }

    #[test]
    fn errors_never_repeat_secrets() {
        for line in [
            format!("grant inspect {GRANT} {GRANT}"),
            format!("register {GRANT} {GRANT} --endpoint https://h"),
            format!("grant restrict {GRANT} --admin-tokn={GRANT}"),
            GRANT.to_string(),
            format!("grant {GRANT}"),
            format!("register {GRANT} --endpoint https://{GRANT}@h"),
            format!("register x --endpoint https://h --format {GRANT}"),
            format!("revoke {GRANT}/x --endpoint https://h --secret-key s"),
        ] {
            let message = usage_error(&line);
            assert!(!message.contains(&GRANT[10..]), "{line}: {message}");
        }
    }

    #[test]
    fn admin_token_from_the_environment() {
        let env = Env { admin_token: Some("from-env".into()) };
        let line = "project create --endpoint https://h --node n --backend-bucket b --id acme --json";
        let Ok(Command::ProjectCreate(create)) = parse_with(line, &env) else { panic!() };
        assert_eq!(create.admin_token.expose_secret(), "from-env");
        assert_eq!(
            create.project,
            NewProject { id: Some("acme".into()), node: "n".into(), backend_bucket: "b".into(), encrypted: false }
        );
        assert!(create.json);
        let Ok(Command::ProjectCreate(create)) = parse_with(&format!("{line} --admin-token flag"), &env) else {
            panic!()
        };
        assert_eq!(create.admin_token.expose_secret(), "flag");
        let empty = Env { admin_token: Some(String::new()) };
        assert!(parse_with(line, &empty).is_err());

        let Ok(Command::Revoke(revoke)) = parse_with("revoke AKID --endpoint https://h/", &env) else { panic!() };
        assert_eq!((revoke.bearer.expose_secret(), revoke.access_key_id.as_str()), ("from-env", "AKID"));
        assert_eq!(revoke.endpoint.as_str(), "https://h");
        let Ok(Command::Revoke(revoke)) = parse_with("revoke AKID --endpoint https://h --secret-key s", &env) else {
            panic!()
        };
        assert_eq!(revoke.bearer.expose_secret(), "s");
    }

    #[test]
    fn register_defaults_and_formats() {
        let Ok(Command::Register(r)) = parse(&format!("register {GRANT} --endpoint http://127.0.0.1:8787")) else {
            panic!()
        };
        assert_eq!((r.format, r.public, r.endpoint.as_str()), (Format::Text, false, "http://127.0.0.1:8787"));
        let Ok(Command::Register(r)) = parse("register - --endpoint https://h --public --format env") else { panic!() };
        assert_eq!((r.format, r.public), (Format::Env, true));
        assert!(matches!(r.grant, GrantInput::Stdin));
    }

    #[test]
    fn debug_output_hides_secrets() {
        let env = Env { admin_token: Some("tok-secret".into()) };
        for line in [
            format!("register {GRANT} --endpoint https://h"),
            "project create --endpoint https://h --node n --backend-bucket b".to_string(),
            "revoke AKID --endpoint https://h".to_string(),
        ] {
            let debug = format!("{:?}", parse_with(&line, &env).unwrap());
            assert!(!debug.contains(GRANT) && !debug.contains("tok-secret"), "{debug}");
        }
    }
}
