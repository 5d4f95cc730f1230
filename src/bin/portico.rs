//! `portico`: the operator's command-line tool.
//!
//! `portico dev-seed --project ID --node NAME --backend-bucket B [--expires-at UNIX]` prints, as
//! JSON, the KV entries of a project record and of a freshly registered credential for it
//! (`{"kv": [{"key", "value"}], "credential": {"access_key_id", "secret_key"}}`), ready for
//! `wrangler kv bulk put`. Records are sealed exactly as the worker reads them.

use std::process::ExitCode;
use std::time::{SystemTime, UNIX_EPOCH};

use portico::auth::credential::{generate_key_pair, kv_key, seal, CredentialRecord};
use portico::auth::grant::Grant;
use portico::config::binding::MASTER_SECRET;
use portico::storage::node::{project_kv_key, Project};
use serde_json::json;

const USAGE: &str =
    "usage: portico dev-seed --project ID --node NAME --backend-bucket BUCKET [--expires-at UNIX_SECONDS]";

fn random_bytes<const N: usize>() -> [u8; N] {
    let mut bytes = [0u8; N];
    getrandom::fill(&mut bytes).expect("the OS random source is available");
    bytes
}

fn now() -> i64 {
    SystemTime::now().duration_since(UNIX_EPOCH).expect("clock after 1970").as_secs() as i64
}

/// `--name value` pairs into a lookup.
fn flags(args: &[String]) -> Result<Vec<(String, String)>, String> {
    let mut out = Vec::new();
    let mut iter = args.iter();
    while let Some(flag) = iter.next() {
        let name = flag.strip_prefix("--").ok_or_else(|| format!("unexpected argument {flag:?}"))?;
        let value = iter.next().ok_or_else(|| format!("--{name} needs a value"))?;
        out.push((name.to_string(), value.clone()));
    }
    Ok(out)
}

fn required<'a>(flags: &'a [(String, String)], name: &str) -> Result<&'a str, String> {
    flags.iter().find(|(n, _)| n == name).map(|(_, v)| v.as_str()).ok_or_else(|| format!("--{name} is required"))
}

fn dev_seed(args: &[String]) -> Result<String, String> {
    let flags = flags(args)?;
    let project_id = required(&flags, "project")?;
    let node = required(&flags, "node")?;
    let backend_bucket = required(&flags, "backend-bucket")?;
    let expires_at = match flags.iter().find(|(n, _)| n == "expires-at") {
        Some((_, v)) => Some(v.parse::<i64>().map_err(|_| format!("--expires-at {v:?} is not a number of seconds"))?),
        None => None,
    };
    for (name, value) in [("project", project_id), ("node", node), ("backend-bucket", backend_bucket)] {
        if value.is_empty() || value.contains('/') {
            return Err(format!("--{name} must be non-empty and contain no '/'"));
        }
    }

    let now = now();
    let project = Project {
        id: project_id.to_string(),
        node: node.to_string(),
        backend_bucket: backend_bucket.to_string(),
        encrypted: false,
        created_at: now,
    };
    let mut pool: Vec<u8> = Vec::new();
    let mut random = || {
        if pool.is_empty() {
            pool = random_bytes::<256>().to_vec();
        }
        pool.pop().expect("refilled")
    };
    let (access_key_id, secret_key) = generate_key_pair(&mut random);
    // The worker verifies grants at registration only; a record's grant is trusted as stored. Minted
    // with the worker's master secret (when given) the grant can also be restricted and registered.
    let master_secret = match flags.iter().find(|(n, _)| n == "master-secret") {
        Some((_, v)) => v.as_bytes().to_vec(),
        None => std::env::var(MASTER_SECRET).map(String::into_bytes).unwrap_or_else(|_| random_bytes::<32>().to_vec()),
    };
    let grant = Grant::mint(&master_secret, project_id, random_bytes::<16>(), random_bytes::<32>())
        .map_err(|e| format!("cannot mint a grant for --project: {e}"))?;
    let record = CredentialRecord {
        secret_key: Some(secret_key.clone()),
        grant: grant.to_string(),
        public: false,
        expires_at,
        created_at: now,
    };
    let output = json!({
        "kv": [
            {"key": project_kv_key(project_id), "value": serde_json::to_string(&project).expect("project serializes")},
            {"key": kv_key(&access_key_id), "value": seal(&access_key_id, &record, random_bytes::<12>())},
        ],
        "credential": {"access_key_id": access_key_id, "secret_key": secret_key},
        "access_grant": grant.to_string(),
    });
    Ok(serde_json::to_string_pretty(&output).expect("json"))
}

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let result = match args.first().map(String::as_str) {
        Some("dev-seed") => dev_seed(&args[1..]),
        Some("-h" | "--help") | None => {
            println!("{USAGE}");
            return ExitCode::SUCCESS;
        }
        Some(other) => Err(format!("unknown command {other:?}\n{USAGE}")),
    };
    match result {
        Ok(out) => {
            println!("{out}");
            ExitCode::SUCCESS
        }
        Err(message) => {
            eprintln!("portico: {message}");
            ExitCode::from(2)
        }
    }
}
