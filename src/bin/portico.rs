//! `portico`: the operator's and users' command-line tool. The commands live in
//! `portico::cli` (pure, unit-tested); this file reads the arguments, the environment, the clock
//! and standard input once, runs a command and maps its result to an exit code: 0 success, 1 a
//! failed request, 2 bad input. Run `portico --help`.

use std::io::{Read, Write};
use std::process::ExitCode;
use std::time::{SystemTime, UNIX_EPOCH};

use portico::cli::args::{parse_command, Env};
use portico::cli::transport::UreqTransport;
use portico::cli::{run, CliError, Context};
use portico::config::binding::ADMIN_TOKEN;

/// Most bytes read from standard input for a `-` grant (a grant is at most 8 KiB).
const MAX_STDIN_BYTES: u64 = 64 * 1024;

fn now() -> i64 {
    SystemTime::now().duration_since(UNIX_EPOCH).expect("clock after 1970").as_secs() as i64
}

fn fail(error: &CliError) -> ExitCode {
    eprintln!("portico: {error}");
    ExitCode::from(error.exit_code())
}

fn read_stdin() -> std::io::Result<String> {
    let mut text = String::new();
    std::io::stdin().take(MAX_STDIN_BYTES).read_to_string(&mut text)?;
    Ok(text)
}

fn main() -> ExitCode {
    let args: Vec<String> = match std::env::args_os().skip(1).map(|a| a.into_string()).collect() {
        Ok(args) => args,
        Err(_) => return fail(&CliError::usage("arguments must be valid UTF-8")),
    };
    let now = now();
    let env = Env { admin_token: std::env::var(ADMIN_TOKEN).ok() };
    let command = match parse_command(&args, &env) {
        Ok(command) => command,
        Err(error) => return fail(&error),
    };
    let transport = UreqTransport::new();
    let mut stdin = read_stdin;
    match run(command, &mut Context { now, read_stdin: &mut stdin, transport: &transport }) {
        Ok(outcome) => {
            for warning in &outcome.warnings {
                eprintln!("portico: warning: {warning}");
            }
            let mut stdout = std::io::stdout().lock();
            match stdout.write_all(outcome.stdout.as_bytes()).and_then(|()| stdout.flush()) {
                Ok(()) => ExitCode::SUCCESS,
                Err(e) => {
                    eprintln!("portico: cannot write the output: {e}");
                    ExitCode::from(1)
                }
            }
        }
        Err(error) => fail(&error),
    }
}
