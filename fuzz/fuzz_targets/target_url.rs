//! The target URL validator on arbitrary strings, under every policy: it never
//! panics; an accepted URL is http(s) with a host, obeys the policy, round-trips
//! through its stored form, and never shows its password in displays.
#![no_main]
use chathooks::domain::ssrf::forbidden_reason;
use chathooks::domain::target_url::{TargetUrl, UrlPolicy};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Some((&flags, rest)) = data.split_first() else {
        return;
    };
    let Ok(raw) = std::str::from_utf8(rest) else {
        return;
    };
    let policy = UrlPolicy {
        allow_http: flags & 1 != 0,
        allow_private: flags & 2 != 0,
    };
    let Ok(url) = TargetUrl::parse(raw, policy) else {
        return;
    };
    let stored = url.expose();
    assert!(
        stored.starts_with("https://") || (policy.allow_http && stored.starts_with("http://")),
        "{stored}"
    );
    assert!(!url.host().is_empty(), "{stored}");
    if !policy.allow_private
        && let Some(ip) = url.literal_ip()
    {
        assert!(forbidden_reason(ip).is_none(), "{ip} accepted from {raw:?}");
    }
    let again = TargetUrl::parse(stored, policy).expect("the stored form parses again");
    assert_eq!(again, url);
    let json = serde_json::to_string(&url).expect("serializes");
    let back: TargetUrl = serde_json::from_str(&json).expect("the stored form deserializes");
    assert_eq!(back, url);
    if let Some((_, Some(password))) = url.credentials()
        && !password.is_empty()
    {
        assert!(url.redacted().contains(":***@"), "{}", url.redacted());
        assert_eq!(url.to_string(), url.redacted());
    }
});
