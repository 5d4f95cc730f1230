//! The `portico` command line (native only): create projects, restrict and inspect access grants
//! offline, register grants as S3 credentials and revoke them, in the spirit of Storj's
//! `uplink share --register`.
//!
//! Everything but the network is pure and unit-tested: [`args`] parses the command line into a
//! [`args::Command`], [`when`] reads times, [`restrict`] builds caveats, [`api`] builds the JSON
//! API's requests and interprets its answers, [`output`] formats what is printed, and [`run`]
//! carries out a command with the clock, standard input and a [`api::Transport`] passed in.
//! [`transport`] is the thin ureq layer; `src/bin/portico.rs` wires them to the process.

pub mod api;
pub mod args;
pub mod error;
pub mod help;
pub mod output;
pub mod restrict;
pub mod run;
pub mod transport;
pub mod when;

pub use error::{CliError, ErrorKind};
pub use run::{run, Context, Outcome};
