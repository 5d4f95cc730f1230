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
}

#[derive(Debug, Clone)]
pub struct Config {
    pub nodes: Nodes,
    pub base_domains: BaseDomains,
    pub region: String,
}

impl Config {
    /// Build from a lookup of var/secret values by name. Errors name the missing or bad setting
    /// (never its value: the nodes secret holds credentials).
    pub fn from_lookup(lookup: impl Fn(&str) -> Option<String>) -> Result<Config, String> {
        let nodes_json = lookup(binding::NODES).ok_or_else(|| format!("{} is not configured", binding::NODES))?;
        Ok(Config {
            nodes: Nodes::parse(&nodes_json)?,
            base_domains: BaseDomains::parse(&lookup(binding::BASE_DOMAINS).unwrap_or_default()),
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
            _ => None,
        })
        .unwrap();
        assert_eq!(config.region, "us-east-1");
        assert_eq!(config.base_domains.bucket_of_host("b.s3.example.com").as_deref(), Some("b"));
        assert!(config.nodes.get("n").is_some());
    }

    #[test]
    fn missing_nodes_is_an_error_naming_the_setting() {
        let err = Config::from_lookup(|_| None).unwrap_err();
        assert!(err.contains("PORTICO_NODES"));
    }
}
