//! Typed configuration, read from the environment once at cold start.
use sha2::{Digest, Sha256};
use std::time::Duration;

use crate::domain::target_url::UrlPolicy;

#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("environment variable {0} is required but not set")]
    Missing(&'static str),
    #[error("environment variable {name} is invalid: {reason}")]
    Invalid { name: &'static str, reason: String },
}

/// Everything the functions read from the environment. Each function uses
/// the part it needs; unset optional values take their documented defaults.
#[derive(Clone)]
pub struct Config {
    /// `CHATHOOKS_TABLE`: the DynamoDB table.
    pub table: String,
    /// `CHATHOOKS_DELIVERY_QUEUE_URL`.
    pub delivery_queue_url: String,
    /// `CHATHOOKS_RETRY_QUEUE_URL`.
    pub retry_queue_url: String,
    /// SHA-256 (hex) of `CHATHOOKS_ADMIN_KEY`; the key itself is not kept.
    pub admin_key_hash: Option<String>,
    /// The admin key being rotated out, accepted beside the current one
    /// (`CHATHOOKS_ADMIN_KEY_PREVIOUS`), as a hash.
    pub previous_admin_key_hash: Option<String>,
    /// `CHATHOOKS_ALLOW_PRIVATE_TARGETS` (default false): switches the SSRF guard off.
    pub allow_private_targets: bool,
    /// `CHATHOOKS_ALLOW_HTTP` (default false): plain-http target URLs.
    pub allow_http: bool,
    /// `CHATHOOKS_RETENTION_DAYS` (default 30): events and delivery logs.
    pub retention: chrono::Duration,
    /// `CHATHOOKS_INTEGRATION_CACHE_SECONDS` (default 5): warm-Lambda cache of a tenant's integrations.
    pub integration_cache_ttl: Duration,
    /// `CHATHOOKS_MAX_QUEUE_DELAY_SECONDS` (default 900, SQS's maximum): the hop size of long retries.
    pub max_queue_delay: u32,
    /// `CHATHOOKS_DISABLE_AFTER_HOURS` (default 120 = 5 days) of failures without success.
    pub disable_after: chrono::Duration,
    /// `CHATHOOKS_RETRY_AFTER_CAP_SECONDS` (default 86400): the most a `Retry-After` can postpone.
    pub retry_after_cap: Duration,
    /// `CHATHOOKS_SECRET_GRACE_HOURS` (default 24): old secret validity after a rotation.
    pub secret_grace: chrono::Duration,
    /// `CHATHOOKS_MAX_RECEIVE_COUNT` (default 5): the queues' maxReceiveCount; on the last
    /// receive a delivery that still cannot be processed is marked failed before it dead-letters.
    pub max_receive_count: u32,
    /// `CHATHOOKS_PUBLIC_URL` (default: derived from each request): the API's public
    /// base URL (`https://hooks.example.com`), the start of every portal link.
    pub public_url: Option<String>,
    /// `CHATHOOKS_PORTAL_FRAME_ANCESTORS` (default `'none'`): the CSP `frame-ancestors`
    /// sources allowed to embed the portal, space-separated (the chat product's origins).
    pub portal_frame_ancestors: String,
}

/// Where configuration values come from: the process environment, or a map
/// (the local runner and tests, which run several stacks in one process).
pub trait Lookup {
    fn get(&self, name: &str) -> Option<String>;
}

pub struct ProcessEnv;

impl Lookup for ProcessEnv {
    fn get(&self, name: &str) -> Option<String> {
        std::env::var(name).ok()
    }
}

impl Lookup for std::collections::HashMap<String, String> {
    fn get(&self, name: &str) -> Option<String> {
        std::collections::HashMap::get(self, name).cloned()
    }
}

fn var(env: &dyn Lookup, name: &'static str) -> Option<String> {
    env.get(name).filter(|v| !v.is_empty())
}

fn required(env: &dyn Lookup, name: &'static str) -> Result<String, ConfigError> {
    var(env, name).ok_or(ConfigError::Missing(name))
}

fn number(env: &dyn Lookup, name: &'static str, default: u64) -> Result<u64, ConfigError> {
    match var(env, name) {
        None => Ok(default),
        Some(v) => v.parse().map_err(|_| ConfigError::Invalid {
            name,
            reason: format!("`{v}` is not a whole number"),
        }),
    }
}

fn flag(env: &dyn Lookup, name: &'static str) -> Result<bool, ConfigError> {
    match var(env, name).as_deref() {
        None | Some("false") | Some("0") => Ok(false),
        Some("true") | Some("1") => Ok(true),
        Some(other) => Err(ConfigError::Invalid {
            name,
            reason: format!("`{other}` is not true/false"),
        }),
    }
}

/// An absolute http(s) base URL without query, fragment or trailing slash.
fn public_url(raw: &str) -> Result<String, ConfigError> {
    let invalid = |reason: &str| ConfigError::Invalid {
        name: "CHATHOOKS_PUBLIC_URL",
        reason: reason.to_string(),
    };
    let trimmed = raw.trim().trim_end_matches('/');
    let rest = trimmed
        .strip_prefix("https://")
        .or_else(|| trimmed.strip_prefix("http://"))
        .ok_or_else(|| invalid("must start with https:// (or http://)"))?;
    if rest.is_empty()
        || rest.starts_with('/')
        || rest
            .chars()
            .any(|c| c.is_whitespace() || c.is_control() || matches!(c, '?' | '#' | '"' | '\\'))
    {
        return Err(invalid(
            "must be a base URL such as https://hooks.example.com, without query or fragment",
        ));
    }
    Ok(trimmed.to_string())
}

/// CSP source expressions: printable, no `;` or `,` (which would end the directive).
fn frame_ancestors(raw: &str) -> Result<String, ConfigError> {
    let sources: Vec<&str> = raw.split_whitespace().collect();
    if sources.is_empty()
        || sources.iter().any(|s| {
            s.chars()
                .any(|c| !c.is_ascii_graphic() || c == ';' || c == ',')
        })
    {
        return Err(ConfigError::Invalid {
            name: "CHATHOOKS_PORTAL_FRAME_ANCESTORS",
            reason: "must be space-separated CSP sources such as 'self' https://app.example.com"
                .into(),
        });
    }
    Ok(sources.join(" "))
}

pub fn sha256_hex(data: &[u8]) -> String {
    hex::encode(Sha256::digest(data))
}

impl Config {
    pub fn from_env() -> Result<Self, ConfigError> {
        Self::from_lookup(&ProcessEnv)
    }

    pub fn from_lookup(env: &dyn Lookup) -> Result<Self, ConfigError> {
        let max_queue_delay = number(env, "CHATHOOKS_MAX_QUEUE_DELAY_SECONDS", 900)?;
        if !(1..=900).contains(&max_queue_delay) {
            return Err(ConfigError::Invalid {
                name: "CHATHOOKS_MAX_QUEUE_DELAY_SECONDS",
                reason: "must be 1-900".into(),
            });
        }
        let public_url = match var(env, "CHATHOOKS_PUBLIC_URL") {
            None => None,
            Some(url) => Some(public_url(&url)?),
        };
        let portal_frame_ancestors = match var(env, "CHATHOOKS_PORTAL_FRAME_ANCESTORS") {
            None => "'none'".to_string(),
            Some(sources) => frame_ancestors(&sources)?,
        };
        Ok(Self {
            public_url,
            portal_frame_ancestors,
            max_receive_count: number(env, "CHATHOOKS_MAX_RECEIVE_COUNT", 5)?.clamp(1, 1000) as u32,
            table: required(env, "CHATHOOKS_TABLE")?,
            delivery_queue_url: required(env, "CHATHOOKS_DELIVERY_QUEUE_URL")?,
            retry_queue_url: required(env, "CHATHOOKS_RETRY_QUEUE_URL")?,
            admin_key_hash: var(env, "CHATHOOKS_ADMIN_KEY").map(|k| sha256_hex(k.as_bytes())),
            previous_admin_key_hash: var(env, "CHATHOOKS_ADMIN_KEY_PREVIOUS")
                .map(|k| sha256_hex(k.as_bytes())),
            allow_private_targets: flag(env, "CHATHOOKS_ALLOW_PRIVATE_TARGETS")?,
            allow_http: flag(env, "CHATHOOKS_ALLOW_HTTP")?,
            retention: chrono::Duration::days(number(env, "CHATHOOKS_RETENTION_DAYS", 30)? as i64),
            integration_cache_ttl: Duration::from_secs(number(
                env,
                "CHATHOOKS_INTEGRATION_CACHE_SECONDS",
                5,
            )?),
            max_queue_delay: max_queue_delay as u32,
            disable_after: chrono::Duration::hours(number(
                env,
                "CHATHOOKS_DISABLE_AFTER_HOURS",
                120,
            )? as i64),
            retry_after_cap: Duration::from_secs(number(
                env,
                "CHATHOOKS_RETRY_AFTER_CAP_SECONDS",
                86_400,
            )?),
            secret_grace: chrono::Duration::hours(
                number(env, "CHATHOOKS_SECRET_GRACE_HOURS", 24)? as i64
            ),
        })
    }

    pub fn url_policy(&self) -> UrlPolicy {
        UrlPolicy {
            allow_http: self.allow_http,
            allow_private: self.allow_private_targets,
        }
    }
}

/// Never prints the admin key hash.
impl std::fmt::Debug for Config {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Config")
            .field("table", &self.table)
            .field("delivery_queue_url", &self.delivery_queue_url)
            .field("retry_queue_url", &self.retry_queue_url)
            .field("admin_key_set", &self.admin_key_hash.is_some())
            .field("allow_private_targets", &self.allow_private_targets)
            .field("allow_http", &self.allow_http)
            .finish_non_exhaustive()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    fn env(pairs: &[(&str, &str)]) -> HashMap<String, String> {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    const BASE: [(&str, &str); 3] = [
        ("CHATHOOKS_TABLE", "t"),
        ("CHATHOOKS_DELIVERY_QUEUE_URL", "d"),
        ("CHATHOOKS_RETRY_QUEUE_URL", "r"),
    ];

    #[test]
    fn defaults_apply_and_the_guard_is_on() {
        let c = Config::from_lookup(&env(&BASE)).unwrap();
        assert!(!c.allow_private_targets);
        assert_eq!(c.max_queue_delay, 900);
        assert_eq!(c.disable_after, chrono::Duration::days(5));
    }

    #[test]
    fn a_missing_variable_is_named() {
        let err = Config::from_lookup(&env(&BASE[..2])).unwrap_err();
        assert!(err.to_string().contains("CHATHOOKS_RETRY_QUEUE_URL"));
        let mut bad = BASE.to_vec();
        bad.push(("CHATHOOKS_ALLOW_PRIVATE_TARGETS", "yes"));
        assert!(
            Config::from_lookup(&env(&bad))
                .unwrap_err()
                .to_string()
                .contains("CHATHOOKS_ALLOW_PRIVATE_TARGETS")
        );
    }

    #[test]
    fn the_portal_settings_are_checked() {
        let c = Config::from_lookup(&env(&BASE)).unwrap();
        assert_eq!(c.public_url, None);
        assert_eq!(c.portal_frame_ancestors, "'none'");
        let mut vars = BASE.to_vec();
        vars.push(("CHATHOOKS_PUBLIC_URL", "https://hooks.example.com/prod/"));
        vars.push((
            "CHATHOOKS_PORTAL_FRAME_ANCESTORS",
            " 'self'  https://app.example.com ",
        ));
        let c = Config::from_lookup(&env(&vars)).unwrap();
        assert_eq!(
            c.public_url.as_deref(),
            Some("https://hooks.example.com/prod")
        );
        assert_eq!(c.portal_frame_ancestors, "'self' https://app.example.com");
        for (name, bad) in [
            ("CHATHOOKS_PUBLIC_URL", "hooks.example.com"),
            ("CHATHOOKS_PUBLIC_URL", "https://x/?a=1"),
            ("CHATHOOKS_PUBLIC_URL", "https://"),
            ("CHATHOOKS_PORTAL_FRAME_ANCESTORS", "'self'; script-src *"),
            (
                "CHATHOOKS_PORTAL_FRAME_ANCESTORS",
                "https://a.example, https://b.example",
            ),
        ] {
            let mut vars = BASE.to_vec();
            vars.push((name, bad));
            let err = Config::from_lookup(&env(&vars)).unwrap_err().to_string();
            assert!(err.contains(name), "{bad}: {err}");
        }
    }

    #[test]
    fn the_admin_key_is_kept_only_as_a_hash() {
        let mut vars = BASE.to_vec();
        vars.push(("CHATHOOKS_ADMIN_KEY", "super-secret-admin-key"));
        let c = Config::from_lookup(&env(&vars)).unwrap();
        assert_eq!(
            c.admin_key_hash.as_deref(),
            Some(sha256_hex(b"super-secret-admin-key").as_str())
        );
        assert!(!format!("{c:?}").contains("super-secret"));
    }
}
