//! The CLI's one error type: what went wrong, said for a person, and which exit code it earns.
//!
//! Messages never include a secret the user passed (a grant, an admin token, a secret key): they
//! name the argument instead, and answers from the server are redacted before being quoted.

use std::fmt;

/// Why a command failed, which decides the exit code.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ErrorKind {
    /// The command line or its input is wrong (exit code 2): nothing was sent.
    Usage,
    /// A request failed: no connection, a refusal, or an answer that makes no sense (exit code 1).
    Request,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CliError {
    pub kind: ErrorKind,
    pub message: String,
}

impl CliError {
    pub fn usage(message: impl Into<String>) -> Self {
        CliError { kind: ErrorKind::Usage, message: message.into() }
    }

    pub fn request(message: impl Into<String>) -> Self {
        CliError { kind: ErrorKind::Request, message: message.into() }
    }

    /// The process exit code: 2 for bad input, 1 for failed requests.
    pub fn exit_code(&self) -> u8 {
        match self.kind {
            ErrorKind::Usage => 2,
            ErrorKind::Request => 1,
        }
    }
}

impl fmt::Display for CliError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}

impl std::error::Error for CliError {}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn exit_codes_follow_the_kind() {
        assert_eq!(CliError::usage("bad").exit_code(), 2);
        assert_eq!(CliError::request("down").exit_code(), 1);
        assert_eq!(CliError::usage("bad flag").to_string(), "bad flag");
    }
}
