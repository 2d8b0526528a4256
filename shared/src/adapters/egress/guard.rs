//! The SSRF guard at send time: every address a target host resolves to is
//! checked, and reqwest then connects only to the addresses returned here, so
//! a DNS answer that changes between check and connect (rebinding) cannot
//! slip past. Literal-IP hosts skip the resolver and are checked by `check_ip`.
use std::fmt;
use std::net::{IpAddr, SocketAddr};

use reqwest::dns::{Addrs, Name, Resolve, Resolving};

use crate::domain::ssrf::forbidden_reason;

/// A target refused because it is (or resolves to) a forbidden address.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RefusedTarget {
    /// The host name, when the address came from resolving one.
    resolved_from: Option<String>,
    ip: IpAddr,
    reason: &'static str,
}

impl fmt::Display for RefusedTarget {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let (ip, reason) = (self.ip, self.reason);
        match &self.resolved_from {
            Some(host) => write!(f, "refused: {host} resolves to {ip}, a {reason}"),
            None => write!(f, "refused: {ip} is a {reason}"),
        }
    }
}

impl std::error::Error for RefusedTarget {}

/// The host name could not be resolved to any address.
#[derive(Debug, thiserror::Error)]
#[error("{host} could not be resolved")]
pub struct LookupFailed {
    host: String,
    #[source]
    source: Option<std::io::Error>,
}

/// Refuse a literal IP target that is forbidden.
pub fn check_ip(ip: IpAddr) -> Result<(), RefusedTarget> {
    match forbidden_reason(ip) {
        Some(reason) => Err(RefusedTarget {
            resolved_from: None,
            ip,
            reason,
        }),
        None => Ok(()),
    }
}

/// Refuse a host when ANY of its addresses is forbidden.
pub fn check_resolved(host: &str, addrs: &[SocketAddr]) -> Result<(), RefusedTarget> {
    for addr in addrs {
        if let Some(reason) = forbidden_reason(addr.ip()) {
            return Err(RefusedTarget {
                resolved_from: Some(host.to_string()),
                ip: addr.ip(),
                reason,
            });
        }
    }
    Ok(())
}

/// reqwest's resolver: the system resolver (tokio `lookup_host`) plus the guard.
pub struct GuardedResolver {
    pub allow_private: bool,
}

impl Resolve for GuardedResolver {
    fn resolve(&self, name: Name) -> Resolving {
        let host = name.as_str().to_string();
        let allow_private = self.allow_private;
        Box::pin(async move {
            let found = tokio::net::lookup_host((host.clone(), 0)).await;
            let addrs: Vec<SocketAddr> = match found {
                Ok(found) => found.collect(),
                Err(e) => {
                    let source = Some(e);
                    return Err(LookupFailed { host, source }.into());
                }
            };
            if addrs.is_empty() {
                return Err(LookupFailed { host, source: None }.into());
            }
            if !allow_private {
                check_resolved(&host, &addrs)?;
            }
            Ok(Box::new(addrs.into_iter()) as Addrs)
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn addrs(ips: &[&str]) -> Vec<SocketAddr> {
        ips.iter()
            .map(|ip| SocketAddr::new(ip.parse().unwrap(), 0))
            .collect()
    }

    #[test]
    fn one_private_address_among_public_ones_refuses_the_host() {
        // GIVEN a host resolving to a public and a private address
        let found = addrs(&["93.184.216.34", "10.0.0.1"]);
        // WHEN it is checked
        let err = check_resolved("example.internal", &found).unwrap_err();
        // THEN it is refused, naming the host, the address and why
        assert_eq!(
            err.to_string(),
            "refused: example.internal resolves to 10.0.0.1, a private address"
        );
    }

    #[test]
    fn public_addresses_pass() {
        let found = addrs(&["93.184.216.34", "2606:4700:4700::1111"]);
        assert_eq!(check_resolved("example.com", &found), Ok(()));
    }

    #[test]
    fn literal_ips_are_checked_in_every_family() {
        let err = check_ip("169.254.169.254".parse().unwrap()).unwrap_err();
        assert_eq!(
            err.to_string(),
            "refused: 169.254.169.254 is a link-local address (cloud metadata)"
        );
        assert!(check_ip("::ffff:127.0.0.1".parse().unwrap()).is_err());
        assert!(check_ip("8.8.8.8".parse().unwrap()).is_ok());
    }

    #[tokio::test]
    async fn the_resolver_refuses_a_name_that_resolves_to_loopback() {
        let resolver = GuardedResolver {
            allow_private: false,
        };
        let name: Name = "localhost".parse().unwrap();
        let err = match resolver.resolve(name).await {
            Ok(_) => panic!("localhost must be refused"),
            Err(e) => e,
        };
        assert!(err.downcast_ref::<RefusedTarget>().is_some(), "{err}");
    }

    #[tokio::test]
    async fn the_resolver_lets_loopback_through_when_private_targets_are_allowed() {
        let resolver = GuardedResolver {
            allow_private: true,
        };
        let name: Name = "localhost".parse().unwrap();
        let found: Vec<SocketAddr> = match resolver.resolve(name).await {
            Ok(addrs) => addrs.collect(),
            Err(e) => panic!("{e}"),
        };
        assert!(found.iter().all(|a| a.ip().is_loopback()), "{found:?}");
    }
}
