//! What the commands print: credentials in the formats S3 tools read, grants, projects. Pure.
//!
//! Values are checked by the API layer to be printable ASCII without spaces (so they cannot break
//! a config file's line structure) and are quoted for the shell where they become shell words.

use serde_json::json;

use crate::auth::grant::Grant;
use crate::cli::api::{CreatedProject, Credentials};

/// The region S3 clients sign with; the gateway accepts it whatever its own region is named.
pub const REGION: &str = "us-east-1";
/// The aws CLI profile and the rclone remote the printed configuration defines.
pub const PROFILE: &str = "portico";

/// How `portico register` prints a credential.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    /// Everything below, with headings, for people.
    Text,
    /// `export AWS_...=...` lines only, for scripts.
    Env,
    /// `aws configure set` commands.
    Aws,
    /// An rclone remote.
    Rclone,
    /// `{"access_key_id", "secret_key", "endpoint"}`.
    Json,
}

impl Format {
    pub fn parse(text: &str) -> Option<Format> {
        Some(match text {
            "text" => Format::Text,
            "env" => Format::Env,
            "aws" => Format::Aws,
            "rclone" => Format::Rclone,
            "json" => Format::Json,
            _ => return None,
        })
    }
}

/// `value` as one POSIX shell word: bare when it has only characters no shell treats specially,
/// else in single quotes.
pub fn shell_quote(value: &str) -> String {
    let plain = |b: u8| b.is_ascii_alphanumeric() || b"_-./:,+=@%".contains(&b);
    if !value.is_empty() && value.bytes().all(plain) {
        value.to_string()
    } else {
        format!("'{}'", value.replace('\'', r"'\''"))
    }
}

pub fn env_exports(c: &Credentials) -> String {
    [
        ("AWS_ENDPOINT_URL", c.endpoint.as_str()),
        ("AWS_ACCESS_KEY_ID", c.access_key_id.as_str()),
        ("AWS_SECRET_ACCESS_KEY", c.secret_key.expose_secret()),
        ("AWS_REGION", REGION),
    ]
    .iter()
    .map(|(name, value)| format!("export {name}={}\n", shell_quote(value)))
    .collect()
}

/// `aws configure set` commands defining the `portico` profile (`endpoint_url` needs aws CLI
/// 2.13 or later). Path-style addressing works with every gateway setup; virtual-hosted style
/// needs wildcard DNS.
pub fn aws_commands(c: &Credentials) -> String {
    [
        ("aws_access_key_id", c.access_key_id.as_str()),
        ("aws_secret_access_key", c.secret_key.expose_secret()),
        ("region", REGION),
        ("endpoint_url", c.endpoint.as_str()),
        ("s3.addressing_style", "path"),
    ]
    .iter()
    .map(|(name, value)| format!("aws configure set {name} {} --profile {PROFILE}\n", shell_quote(value)))
    .collect()
}

/// The same profile as `~/.aws/credentials` and `~/.aws/config` sections.
pub fn aws_files(c: &Credentials) -> String {
    format!(
        "# ~/.aws/credentials\n[{PROFILE}]\naws_access_key_id = {}\naws_secret_access_key = {}\n\n\
         # ~/.aws/config\n[profile {PROFILE}]\nregion = {REGION}\nendpoint_url = {}\ns3 =\n    addressing_style = path\n",
        c.access_key_id,
        c.secret_key.expose_secret(),
        c.endpoint
    )
}

/// An rclone remote named `portico` (`provider = Other` uses path-style requests).
pub fn rclone_config(c: &Credentials) -> String {
    format!(
        "[{PROFILE}]\ntype = s3\nprovider = Other\naccess_key_id = {}\nsecret_access_key = {}\nendpoint = {}\n",
        c.access_key_id,
        c.secret_key.expose_secret(),
        c.endpoint
    )
}

pub fn credentials_json(c: &Credentials) -> String {
    let value = json!({
        "access_key_id": c.access_key_id,
        "secret_key": c.secret_key.expose_secret(),
        "endpoint": c.endpoint,
    });
    serde_json::to_string_pretty(&value).expect("JSON of strings") + "\n"
}

pub fn credentials_text(c: &Credentials) -> String {
    format!(
        "========== CREDENTIALS ==========\n\
         Access Key ID: {}\n\
         Secret Key:    {}\n\
         Endpoint:      {}\n\
         \n\
         ========== SHELL (sh, bash, zsh) ==========\n\
         {}\n\
         ========== AWS CLI (v2.13+; then: aws --profile {PROFILE} s3 ls) ==========\n\
         {}\n\
         {}\n\
         ========== RCLONE (~/.config/rclone/rclone.conf; then: rclone lsd {PROFILE}:) ==========\n\
         {}",
        c.access_key_id,
        c.secret_key.expose_secret(),
        c.endpoint,
        env_exports(c),
        aws_commands(c),
        aws_files(c),
        rclone_config(c),
    )
}

pub fn render_credentials(c: &Credentials, format: Format) -> String {
    match format {
        Format::Text => credentials_text(c),
        Format::Env => env_exports(c),
        Format::Aws => aws_commands(c),
        Format::Rclone => rclone_config(c),
        Format::Json => credentials_json(c),
    }
}

/// `grant inspect`: [`Grant::inspect`] as pretty JSON (never a key).
pub fn inspect_json(grant: &Grant) -> String {
    serde_json::to_string_pretty(&grant.inspect()).expect("JSON values serialize") + "\n"
}

/// A grant on a line of its own.
pub fn grant_line(grant: &str) -> String {
    format!("{grant}\n")
}

/// `project create`: the root grant, or with `json` the whole answer.
pub fn project_output(created: &CreatedProject, json: bool) -> String {
    if json {
        let value = json!({ "project": created.project, "access_grant": created.access_grant.expose_secret() });
        serde_json::to_string_pretty(&value).expect("JSON values serialize") + "\n"
    } else {
        grant_line(created.access_grant.expose_secret())
    }
}

#[cfg(test)]
mod tests {
    use serde_json::Value;

    use super::*;
    use crate::auth::secret::SecretKey;

    fn creds() -> Credentials {
        Credentials {
            access_key_id: "MXD2LWNND7XYTXBEQNMCC7GTG4CN".into(),
            secret_key: SecretKey::new("NoPgbIhbMoRTcYDvkunFfjD9ASWFocgWkXMZ6G0n"),
            endpoint: "https://s3.example.com".into(),
        }
    }

    #[test]
    fn env_format_is_export_lines_only() {
        assert_eq!(
            render_credentials(&creds(), Format::Env),
            "export AWS_ENDPOINT_URL=https://s3.example.com\n\
             export AWS_ACCESS_KEY_ID=MXD2LWNND7XYTXBEQNMCC7GTG4CN\n\
             export AWS_SECRET_ACCESS_KEY=NoPgbIhbMoRTcYDvkunFfjD9ASWFocgWkXMZ6G0n\n\
             export AWS_REGION=us-east-1\n"
        );
    }

    #[test]
    fn shell_words_are_quoted_when_needed() {
        assert_eq!(shell_quote("http://127.0.0.1:8787"), "http://127.0.0.1:8787");
        assert_eq!(shell_quote("a+b/c=="), "a+b/c==");
        assert_eq!(shell_quote(""), "''");
        assert_eq!(shell_quote("$(rm -rf ~)"), "'$(rm -rf ~)'");
        assert_eq!(shell_quote("it's"), r"'it'\''s'");
        assert_eq!(shell_quote("a;b`c`"), "'a;b`c`'");
        let mut odd = creds();
        odd.secret_key = SecretKey::new("x$HOME");
        assert!(env_exports(&odd).contains("export AWS_SECRET_ACCESS_KEY='x$HOME'\n"));
    }

    #[test]
    fn aws_format_configures_a_profile() {
        assert_eq!(
            render_credentials(&creds(), Format::Aws),
            "aws configure set aws_access_key_id MXD2LWNND7XYTXBEQNMCC7GTG4CN --profile portico\n\
             aws configure set aws_secret_access_key NoPgbIhbMoRTcYDvkunFfjD9ASWFocgWkXMZ6G0n --profile portico\n\
             aws configure set region us-east-1 --profile portico\n\
             aws configure set endpoint_url https://s3.example.com --profile portico\n\
             aws configure set s3.addressing_style path --profile portico\n"
        );
        let files = aws_files(&creds());
        assert!(files.contains(
            "[portico]\naws_access_key_id = MXD2LWNND7XYTXBEQNMCC7GTG4CN\n\
             aws_secret_access_key = NoPgbIhbMoRTcYDvkunFfjD9ASWFocgWkXMZ6G0n\n"
        ));
        assert!(files.contains("[profile portico]\nregion = us-east-1\nendpoint_url = https://s3.example.com\n"));
    }

    #[test]
    fn rclone_format_is_a_remote() {
        assert_eq!(
            render_credentials(&creds(), Format::Rclone),
            "[portico]\ntype = s3\nprovider = Other\naccess_key_id = MXD2LWNND7XYTXBEQNMCC7GTG4CN\n\
             secret_access_key = NoPgbIhbMoRTcYDvkunFfjD9ASWFocgWkXMZ6G0n\nendpoint = https://s3.example.com\n"
        );
    }

    #[test]
    fn json_format_round_trips() {
        let value: Value = serde_json::from_str(&render_credentials(&creds(), Format::Json)).unwrap();
        assert_eq!(
            value,
            json!({
                "access_key_id": "MXD2LWNND7XYTXBEQNMCC7GTG4CN",
                "secret_key": "NoPgbIhbMoRTcYDvkunFfjD9ASWFocgWkXMZ6G0n",
                "endpoint": "https://s3.example.com",
            })
        );
    }

    #[test]
    fn text_format_has_everything() {
        let text = render_credentials(&creds(), Format::Text);
        for part in [
            "Access Key ID: MXD2LWNND7XYTXBEQNMCC7GTG4CN\n",
            "Secret Key:    NoPgbIhbMoRTcYDvkunFfjD9ASWFocgWkXMZ6G0n\n",
            "Endpoint:      https://s3.example.com\n",
            &env_exports(&creds()),
            &aws_commands(&creds()),
            &aws_files(&creds()),
            &rclone_config(&creds()),
        ] {
            assert!(text.contains(part), "missing {part:?} in\n{text}");
        }
    }

    #[test]
    fn formats_parse_by_name() {
        for (name, format) in [
            ("text", Format::Text),
            ("env", Format::Env),
            ("aws", Format::Aws),
            ("rclone", Format::Rclone),
            ("json", Format::Json),
        ] {
            assert_eq!(Format::parse(name), Some(format));
        }
        assert_eq!(Format::parse("ENV"), None);
        assert_eq!(Format::parse("yaml"), None);
    }

    #[test]
    fn project_output_is_the_grant_or_the_whole_answer() {
        let created = CreatedProject {
            project: json!({"id": "acme", "node": "n1", "backend_bucket": "b", "encrypted": false, "created_at": 1}),
            access_grant: SecretKey::new("portico1root"),
        };
        assert_eq!(project_output(&created, false), "portico1root\n");
        let value: Value = serde_json::from_str(&project_output(&created, true)).unwrap();
        assert_eq!(value["access_grant"], "portico1root");
        assert_eq!(value["project"]["id"], "acme");
    }
}
