//! The URL a webhook is sent to, validated once so a bad one cannot exist.
use serde::{Deserialize, Serialize};
use std::fmt;
use std::net::IpAddr;
use url::{Host, Url};

use super::ValidationError;
use super::ssrf::forbidden_reason;

pub const MAX_URL_LEN: usize = 2048;

/// What a deployment allows in target URLs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct UrlPolicy {
    pub allow_http: bool,
    pub allow_private: bool,
}

impl UrlPolicy {
    pub const STRICT: UrlPolicy = UrlPolicy {
        allow_http: false,
        allow_private: false,
    };
}

/// A validated absolute http(s) URL. Credentials in it (`https://user:pw@host/`)
/// are sent as HTTP Basic auth and redacted in every display.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct TargetUrl(Url);

impl TargetUrl {
    /// Parse and check against the deployment's policy.
    pub fn parse(raw: &str, policy: UrlPolicy) -> Result<Self, ValidationError> {
        let url = Self::parse_shape(raw)?;
        if url.0.scheme() == "http" && !policy.allow_http {
            return Err(ValidationError::general(
                "must use https (plain http is not allowed by this deployment)",
            ));
        }
        if !policy.allow_private
            && let Some(ip) = url.literal_ip()
            && let Some(reason) = forbidden_reason(ip)
        {
            return Err(ValidationError::general(format!(
                "points at a {reason}, which webhooks may not target"
            )));
        }
        Ok(url)
    }

    /// Shape checks only (scheme, host, length): for URLs already stored.
    fn parse_shape(raw: &str) -> Result<Self, ValidationError> {
        if raw.len() > MAX_URL_LEN {
            return Err(ValidationError::general(format!(
                "must be at most {MAX_URL_LEN} characters"
            )));
        }
        // WHATWG parsing would read `https:///x` as host `x`: require the authority literally.
        let authority_ok = raw
            .split_once("://")
            .is_some_and(|(_, rest)| !rest.starts_with(['/', '\\']) && !rest.is_empty());
        if !authority_ok {
            return Err(ValidationError::general(
                "must be an absolute http(s) URL with a host (https://host/path)",
            ));
        }
        let url = Url::parse(raw)
            .map_err(|e| ValidationError::general(format!("is not an absolute URL ({e})")))?;
        // Percent-encoding can lengthen it: the stored form must fit too, or it
        // could not be read back.
        if url.as_str().len() > MAX_URL_LEN {
            return Err(ValidationError::general(format!(
                "must be at most {MAX_URL_LEN} characters once percent-encoded"
            )));
        }
        if !matches!(url.scheme(), "http" | "https") {
            return Err(ValidationError::general(format!(
                "scheme `{}` is not allowed; use https",
                url.scheme()
            )));
        }
        match url.host() {
            None => return Err(ValidationError::general("must have a host")),
            Some(Host::Domain("")) => {
                return Err(ValidationError::general("must have a host"));
            }
            _ => {}
        }
        if url.fragment().is_some() {
            return Err(ValidationError::general("must not have a #fragment"));
        }
        Ok(Self(url))
    }

    /// The host as a literal IP address, when it is one.
    pub fn literal_ip(&self) -> Option<IpAddr> {
        match self.0.host()? {
            Host::Ipv4(v4) => Some(IpAddr::V4(v4)),
            Host::Ipv6(v6) => Some(IpAddr::V6(v6)),
            Host::Domain(_) => None,
        }
    }

    pub fn host(&self) -> &str {
        self.0.host_str().unwrap_or_default()
    }

    /// Basic-auth credentials, when the URL carries them (user, password).
    pub fn credentials(&self) -> Option<(String, Option<String>)> {
        if self.0.username().is_empty() && self.0.password().is_none() {
            return None;
        }
        let decode = |s: &str| {
            url::form_urlencoded::parse(format!("x={s}").as_bytes())
                .next()
                .map(|(_, v)| v.into_owned())
                .unwrap_or_default()
        };
        Some((decode(self.0.username()), self.0.password().map(decode)))
    }

    /// The URL to send to: without the credentials (they go in the header).
    pub fn without_credentials(&self) -> Url {
        let mut u = self.0.clone();
        let _ = u.set_username("");
        let _ = u.set_password(None);
        u
    }

    /// The URL as stored (with credentials). Only for the store and the sender.
    pub fn expose(&self) -> &str {
        self.0.as_str()
    }

    /// For API responses and logs: the password replaced by `***`.
    pub fn redacted(&self) -> String {
        if self.0.password().is_none() {
            return self.0.to_string();
        }
        let mut u = self.0.clone();
        let _ = u.set_password(Some("***"));
        u.to_string().replace("%2A%2A%2A", "***")
    }
}

impl TryFrom<String> for TargetUrl {
    type Error = ValidationError;
    /// Deserializing a stored URL only re-checks its shape: the policy was
    /// applied when it was accepted, and the sender's guard applies at send time.
    fn try_from(raw: String) -> Result<Self, Self::Error> {
        Self::parse_shape(&raw)
    }
}

impl From<TargetUrl> for String {
    fn from(u: TargetUrl) -> String {
        u.0.into()
    }
}

impl fmt::Debug for TargetUrl {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "TargetUrl({})", self.redacted())
    }
}

impl fmt::Display for TargetUrl {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.redacted())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const OPEN: UrlPolicy = UrlPolicy {
        allow_http: true,
        allow_private: true,
    };

    #[test]
    fn accepts_https_with_host() {
        let u = TargetUrl::parse("https://hooks.example.com/a?b=c", UrlPolicy::STRICT).unwrap();
        assert_eq!(u.host(), "hooks.example.com");
    }

    #[test]
    fn rejects_bad_schemes_and_missing_hosts() {
        for raw in [
            "javascript:alert(1)",
            "file:///etc/passwd",
            "ftp://example.com/",
            "https://",
            "/relative",
            "example.com",
            "https:///path",
            "mailto:a@b.c",
        ] {
            assert!(
                TargetUrl::parse(raw, OPEN).is_err(),
                "{raw} should be rejected"
            );
        }
        let long = format!("https://example.com/{}", "a".repeat(MAX_URL_LEN));
        assert!(TargetUrl::parse(&long, OPEN).is_err());
        // Short enough as sent, too long once percent-encoded (found by fuzzing).
        let expands = format!("https://example.com/{}", "x y".repeat(500));
        assert!(TargetUrl::parse(&expands, OPEN).is_err());
    }

    #[test]
    fn plain_http_needs_the_policy() {
        assert!(TargetUrl::parse("http://example.com/", UrlPolicy::STRICT).is_err());
        assert!(TargetUrl::parse("http://example.com/", OPEN).is_ok());
    }

    #[test]
    fn literal_private_addresses_need_the_policy_in_every_spelling() {
        for raw in [
            "https://127.0.0.1/",
            "https://10.0.0.1/",
            "https://169.254.169.254/latest",
            "https://[::1]/",
            "https://[::ffff:127.0.0.1]/",
            "https://2130706433/",
            "https://0177.0.0.1/",
            "https://0x7f.0.0.1/",
            "https://127.1/",
        ] {
            let err = TargetUrl::parse(raw, UrlPolicy::STRICT).unwrap_err();
            assert!(err.message.contains("may not target"), "{raw}: {err}");
            assert!(TargetUrl::parse(raw, OPEN).is_ok(), "{raw}");
        }
    }

    #[test]
    fn credentials_are_split_out_and_redacted() {
        let u = TargetUrl::parse(
            "https://livechat:p%40ss@www.my-website.com/hook",
            UrlPolicy::STRICT,
        )
        .unwrap();
        assert_eq!(
            u.credentials(),
            Some(("livechat".into(), Some("p@ss".into())))
        );
        assert_eq!(u.redacted(), "https://livechat:***@www.my-website.com/hook");
        assert_eq!(
            u.without_credentials().as_str(),
            "https://www.my-website.com/hook"
        );
        assert!(!format!("{u:?} {u}").contains("p%40ss"));
    }
}
