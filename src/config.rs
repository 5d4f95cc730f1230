//! Operator configuration, read from Worker vars and secrets once per request.

use crate::s3::addressing::BaseDomains;
use crate::storage::node::Nodes;

/// Names of the Worker bindings portico reads.
pub mod binding {
    /// KV namespace holding credential records and projects.
    pub const KV: &str = "PORTICO_KV";
    /// JSON object of storage nodes (a secret: it holds the nodes' keys).
    pub const NODES: &str = "PORTICO_NODES";
    /// Comma-separated base domains for virtual-hosted addressing.
    pub const BASE_DOMAINS: &str = "PORTICO_BASE_DOMAINS";
    /// Region reported to clients (GetBucketLocation, x-amz-bucket-region).
    pub const REGION: &str = "PORTICO_REGION";
    /// Secret from which every project's grant root key is derived.
    pub const MASTER_SECRET: &str = "PORTICO_MASTER_SECRET";
    /// Bearer token of the operator's admin API (project creation).
    pub const ADMIN_TOKEN: &str = "PORTICO_ADMIN_TOKEN";
    /// Endpoint URL returned by credential registration; defaults to the request's origin.
    pub const PUBLIC_ENDPOINT: &str = "PORTICO_PUBLIC_ENDPOINT";
    /// Which AES-GCM implementation encrypts object records: `webcrypto` (default) or `wasm`.
    pub const CRYPTO: &str = "PORTICO_CRYPTO";
}

/// Where bulk AES-256-GCM runs. Both produce identical bytes; WebCrypto is the runtime's native
/// code and measured ~30x faster than RustCrypto in wasm (docs/BENCHMARKS.md), which stays as a
/// switchable alternative for runtimes without WebCrypto and for the benchmark comparison.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum CryptoPath {
    #[default]
    WebCrypto,
    Wasm,
}

impl CryptoPath {
    fn parse(value: &str) -> Result<Self, String> {
        match value.trim().to_ascii_lowercase().as_str() {
            "" | "webcrypto" => Ok(CryptoPath::WebCrypto),
            "wasm" => Ok(CryptoPath::Wasm),
            _ => Err(format!("{} must be \"webcrypto\" or \"wasm\"", binding::CRYPTO)),
        }
    }
}

/// The shortest master secret accepted: grants are only as strong as it.
pub const MIN_MASTER_SECRET_LEN: usize = 32;

#[derive(Clone)]
pub struct Config {
    pub nodes: Nodes,
    pub base_domains: BaseDomains,
    pub region: String,
    pub master_secret: Vec<u8>,
    pub admin_token: Option<String>,
    pub public_endpoint: Option<String>,
    pub crypto: CryptoPath,
}

impl std::fmt::Debug for Config {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Config")
            .field("nodes", &self.nodes)
            .field("base_domains", &self.base_domains)
            .field("region", &self.region)
            .field("master_secret", &"<redacted>")
            .field("admin_token", &self.admin_token.as_ref().map(|_| "<redacted>"))
            .field("public_endpoint", &self.public_endpoint)
            .field("crypto", &self.crypto)
            .finish()
    }
}

impl Config {
    /// Build from a lookup of var/secret values by name. Errors name the missing or bad setting
    /// (never its value: the nodes secret holds credentials).
    pub fn from_lookup(lookup: impl Fn(&str) -> Option<String>) -> Result<Config, String> {
        let nodes_json = lookup(binding::NODES).ok_or_else(|| format!("{} is not configured", binding::NODES))?;
        let master_secret =
            lookup(binding::MASTER_SECRET).ok_or_else(|| format!("{} is not configured", binding::MASTER_SECRET))?;
        if master_secret.len() < MIN_MASTER_SECRET_LEN {
            return Err(format!("{} must be at least {MIN_MASTER_SECRET_LEN} characters", binding::MASTER_SECRET));
        }
        Ok(Config {
            nodes: Nodes::parse(&nodes_json)?,
            master_secret: master_secret.into_bytes(),
            admin_token: lookup(binding::ADMIN_TOKEN).filter(|t| !t.is_empty()),
            public_endpoint: lookup(binding::PUBLIC_ENDPOINT).filter(|e| !e.is_empty()),
            base_domains: BaseDomains::parse(&lookup(binding::BASE_DOMAINS).unwrap_or_default()),
            crypto: CryptoPath::parse(&lookup(binding::CRYPTO).unwrap_or_default())?,
            region: lookup(binding::REGION).filter(|r| !r.is_empty()).unwrap_or_else(|| "us-east-1".to_string()),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_settings_with_defaults() {
        let config = Config::from_lookup(|name| match name {
            binding::NODES => {
                Some(r#"{"n": {"endpoint": "http://h:1", "access_key_id": "a", "secret_access_key": "s"}}"#.into())
            }
            binding::BASE_DOMAINS => Some("s3.example.com".into()),
            binding::MASTER_SECRET => Some("m".repeat(32)),
            binding::ADMIN_TOKEN => Some("admin-token".into()),
            _ => None,
        })
        .unwrap();
        assert_eq!(config.region, "us-east-1");
        assert_eq!(config.base_domains.bucket_of_host("b.s3.example.com").as_deref(), Some("b"));
        assert!(config.nodes.get("n").is_some());
        assert_eq!(config.public_endpoint, None);
        assert_eq!(config.crypto, CryptoPath::WebCrypto);
        let shown = format!("{config:?}");
        assert!(!shown.contains("mmmm") && !shown.contains("admin-token"), "{shown}");
    }

    #[test]
    fn the_crypto_path_is_chosen_by_name() {
        let config = |value: &'static str| {
            Config::from_lookup(move |name| match name {
                binding::NODES => Some("{}".into()),
                binding::MASTER_SECRET => Some("m".repeat(32)),
                binding::CRYPTO => Some(value.into()),
                _ => None,
            })
        };
        assert_eq!(config("wasm").unwrap().crypto, CryptoPath::Wasm);
        assert_eq!(config("WebCrypto").unwrap().crypto, CryptoPath::WebCrypto);
        assert!(config("openssl").unwrap_err().contains("PORTICO_CRYPTO"));
    }

    #[test]
    fn short_master_secrets_are_refused() {
        let err = Config::from_lookup(|name| match name {
            binding::NODES => Some("{}".into()),
            binding::MASTER_SECRET => Some("short".into()),
            _ => None,
        })
        .unwrap_err();
        assert!(err.contains("PORTICO_MASTER_SECRET") && !err.contains("short"), "{err}");
    }

    #[test]
    fn missing_nodes_is_an_error_naming_the_setting() {
        let err = Config::from_lookup(|_| None).unwrap_err();
        assert!(err.contains("PORTICO_NODES"));
    }
}
