//! Where a request points: path-style (`host/bucket/key`) or virtual-hosted
//! (`bucket.base-domain/key`), with the operator's configurable base domains.

use crate::http::{percent_decode, RequestHead};

/// The bucket and key a request addresses, both decoded.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Target {
    pub bucket: Option<String>,
    pub key: Option<String>,
    pub style: AddressingStyle,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AddressingStyle {
    Path,
    VirtualHost,
}

/// The base domains under which `bucket.<domain>` names a bucket. A host equal to a base domain,
/// or matching none of them (an IP, `localhost:8787`), is addressed path-style.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct BaseDomains(Vec<String>);

impl BaseDomains {
    /// Parse a comma-separated list such as `s3.example.com, s3.localhost`.
    pub fn parse(list: &str) -> Self {
        BaseDomains(
            list.split(',')
                .map(|d| d.trim().trim_start_matches('.').to_ascii_lowercase())
                .filter(|d| !d.is_empty())
                .collect(),
        )
    }

    /// The bucket named by a virtual host, if the host is `<bucket>.<base domain>`. The longest
    /// matching base domain wins, so `s3.example.com` and `example.com` can both be configured.
    pub fn bucket_of_host(&self, host_name: &str) -> Option<String> {
        self.0
            .iter()
            .filter_map(|domain| {
                let prefix = host_name.strip_suffix(domain.as_str())?.strip_suffix('.')?;
                (!prefix.is_empty()).then(|| (domain.len(), prefix.to_string()))
            })
            .max_by_key(|(len, _)| *len)
            .map(|(_, bucket)| bucket)
    }
}

/// Resolve the bucket and key of a request. The key keeps every character of the decoded path
/// after the bucket, including repeated and trailing slashes: S3 never normalizes keys.
pub fn resolve(head: &RequestHead, domains: &BaseDomains) -> Target {
    let path = head.raw_path.strip_prefix('/').unwrap_or(&head.raw_path);
    if let Some(bucket) = domains.bucket_of_host(&head.host_name()) {
        return Target {
            bucket: Some(bucket),
            key: non_empty(percent_decode(path)),
            style: AddressingStyle::VirtualHost,
        };
    }
    let (bucket, key) = match path.split_once('/') {
        Some((bucket, key)) => (bucket, Some(key)),
        None => (path, None),
    };
    Target {
        bucket: non_empty(percent_decode(bucket)),
        key: key.and_then(|k| non_empty(percent_decode(k))),
        style: AddressingStyle::Path,
    }
}

fn non_empty(s: String) -> Option<String> {
    (!s.is_empty()).then_some(s)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn head(host: &str, path: &str) -> RequestHead {
        RequestHead { method: "GET".into(), host: host.into(), raw_path: path.into(), ..Default::default() }
    }

    fn target(bucket: Option<&str>, key: Option<&str>, style: AddressingStyle) -> Target {
        Target { bucket: bucket.map(Into::into), key: key.map(Into::into), style }
    }

    #[test]
    fn path_style_on_ip_localhost_and_base_domain() {
        let domains = BaseDomains::parse("s3.example.com, localhost");
        use AddressingStyle::Path;
        assert_eq!(resolve(&head("127.0.0.1:8787", "/"), &domains), target(None, None, Path));
        assert_eq!(resolve(&head("127.0.0.1:8787", "/b"), &domains), target(Some("b"), None, Path));
        assert_eq!(resolve(&head("127.0.0.1:8787", "/b/"), &domains), target(Some("b"), None, Path));
        assert_eq!(resolve(&head("s3.example.com", "/b/k/x"), &domains), target(Some("b"), Some("k/x"), Path));
        assert_eq!(resolve(&head("localhost:8787", "/b/a%20b"), &domains), target(Some("b"), Some("a b"), Path));
    }

    #[test]
    fn virtual_host_style_under_base_domains() {
        let domains = BaseDomains::parse("s3.example.com,example.com,localhost");
        use AddressingStyle::VirtualHost;
        assert_eq!(
            resolve(&head("photos.s3.example.com", "/a/b.jpg"), &domains),
            target(Some("photos"), Some("a/b.jpg"), VirtualHost)
        );
        assert_eq!(
            resolve(&head("PHOTOS.S3.EXAMPLE.COM:443", "/"), &domains),
            target(Some("photos"), None, VirtualHost)
        );
        assert_eq!(
            resolve(&head("my.dotted.bucket.example.com", "/k"), &domains),
            target(Some("my.dotted.bucket"), Some("k"), VirtualHost)
        );
        assert_eq!(resolve(&head("b.localhost:8787", "/k"), &domains), target(Some("b"), Some("k"), VirtualHost));
    }

    #[test]
    fn keys_keep_slashes_and_encoded_characters() {
        let domains = BaseDomains::default();
        let t = resolve(&head("h", "/b//double//slash/"), &domains);
        assert_eq!(t.key.as_deref(), Some("/double//slash/"));
        let t = resolve(&head("h", "/b/a%2Fb%3Fc%25"), &domains);
        assert_eq!(t.key.as_deref(), Some("a/b?c%"));
    }

    #[test]
    fn longest_base_domain_wins() {
        let domains = BaseDomains::parse("example.com,s3.example.com");
        assert_eq!(domains.bucket_of_host("b.s3.example.com").as_deref(), Some("b"));
        assert_eq!(domains.bucket_of_host("s3.example.com").as_deref(), Some("s3"));
        assert_eq!(domains.bucket_of_host("notexample.com"), None);
    }
}
