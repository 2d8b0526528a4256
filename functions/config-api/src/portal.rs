//! The portal page: its embedded files served under strict headers, and the
//! public base URL its links start with.
use chathooks::api::header;
use chathooks::config::sha256_hex;
use http::{HeaderValue, StatusCode};
use lambda_http::request::RequestContext;
use lambda_http::{Body, Request, RequestExt, Response};

use crate::ConfigApi;
use crate::portal_assets;

/// The page's Content-Security-Policy: everything from its own origin, no
/// inline script or style, embeddable only by `frame_ancestors`.
pub fn content_security_policy(frame_ancestors: &str) -> String {
    format!(
        "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; \
         connect-src 'self'; base-uri 'none'; form-action 'self'; frame-ancestors {frame_ancestors}"
    )
}

/// A file's entity tag: the start of its SHA-256.
pub fn etag(body: &[u8]) -> String {
    format!("\"{}\"", &sha256_hex(body)[..20])
}

/// Answer one portal file (`index.html` for `/portal`), or 404. Every file
/// is revalidated on each use (`no-cache` with an ETag, 304 when unchanged),
/// so the page and its modules never come from two deployments.
pub fn serve(api: &ConfigApi, req: &Request, path: &str) -> Response<Body> {
    let Some(asset) = portal_assets::find(path) else {
        return chathooks::api::ApiError::not_found("portal file").into_response();
    };
    let tag = etag(asset.body);
    let unchanged = header(req, "if-none-match")
        .is_some_and(|have| have.split(',').any(|t| t.trim() == tag || t.trim() == "*"));
    let mut response = if unchanged {
        let mut r = Response::new(Body::Empty);
        *r.status_mut() = StatusCode::NOT_MODIFIED;
        r
    } else {
        Response::new(Body::Binary(asset.body.to_vec()))
    };
    let csp = content_security_policy(&api.portal_frame_ancestors);
    let headers = response.headers_mut();
    for (name, value) in [
        ("content-type", asset.content_type),
        ("x-content-type-options", "nosniff"),
        ("referrer-policy", "no-referrer"),
        ("cache-control", "no-cache"),
    ] {
        headers.insert(name, HeaderValue::from_static(value));
    }
    if let Ok(value) = HeaderValue::from_str(&tag) {
        headers.insert("etag", value);
    }
    // The configured sources are checked at start-up (printable, no `;`).
    if let Ok(value) = HeaderValue::from_str(&csp) {
        headers.insert("content-security-policy", value);
    } else {
        headers.insert(
            "content-security-policy",
            HeaderValue::from_static("default-src 'none'; frame-ancestors 'none'"),
        );
    }
    response
}

/// A host as it may appear in a URL: letters, digits, `.`, `-`, `:` and
/// the brackets of an IPv6 literal.
fn plausible_host(host: &str) -> bool {
    !host.is_empty()
        && host.len() <= 253
        && host
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '-' | ':' | '[' | ']'))
}

/// The API's public base URL, for the links it hands out: the configured
/// `CHATHOOKS_PUBLIC_URL`; else API Gateway's domain name (and the stage's
/// path unless it is `$default`); else the `Host` header with
/// `X-Forwarded-Proto` (the local stack).
pub fn public_base(configured: Option<&str>, req: &Request) -> String {
    if let Some(url) = configured {
        return url.trim_end_matches('/').to_string();
    }
    if let Some(RequestContext::ApiGatewayV2(ctx)) = req.request_context_ref()
        && let Some(domain) = ctx.domain_name.as_deref().filter(|d| plausible_host(d))
    {
        let stage = match ctx.stage.as_deref() {
            None | Some("$default") | Some("") => String::new(),
            Some(stage) => format!("/{stage}"),
        };
        return format!("https://{domain}{stage}");
    }
    let host = header(req, "host").filter(|h| plausible_host(h));
    let proto = match header(req, "x-forwarded-proto") {
        Some(p) if p.eq_ignore_ascii_case("https") => "https",
        _ => "http",
    };
    match host {
        Some(host) => format!("{proto}://{host}"),
        None => format!("{proto}://localhost"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_base_comes_from_the_setting_then_the_gateway_then_the_host() {
        let gateway = |stage: &str| {
            let raw = format!(
                r#"{{"version":"2.0","routeKey":"ANY /{{proxy+}}","rawPath":"/v1/portal/sessions","rawQueryString":"",
                "headers":{{"host":"ignored.example"}},
                "requestContext":{{"accountId":"1","apiId":"abc","domainName":"abc.execute-api.eu-west-1.amazonaws.com",
                "domainPrefix":"abc","http":{{"method":"POST","path":"/v1/portal/sessions","protocol":"HTTP/1.1","sourceIp":"1.2.3.4","userAgent":"x"}},
                "requestId":"r","routeKey":"ANY /{{proxy+}}","stage":"{stage}","time":"01/Jan/2026:00:00:00 +0000","timeEpoch":0}},
                "isBase64Encoded":false}}"#
            );
            lambda_http::request::from_str(&raw).unwrap()
        };
        assert_eq!(
            public_base(None, &gateway("$default")),
            "https://abc.execute-api.eu-west-1.amazonaws.com"
        );
        assert_eq!(
            public_base(None, &gateway("prod")),
            "https://abc.execute-api.eu-west-1.amazonaws.com/prod"
        );
        assert_eq!(
            public_base(Some("https://hooks.example.com/"), &gateway("prod")),
            "https://hooks.example.com"
        );
        let local = http::Request::builder()
            .uri("/v1/portal/sessions")
            .header("host", "127.0.0.1:8080")
            .body(Body::Empty)
            .unwrap();
        assert_eq!(public_base(None, &local), "http://127.0.0.1:8080");
        let proxied = http::Request::builder()
            .header("host", "hooks.example.com")
            .header("x-forwarded-proto", "https")
            .body(Body::Empty)
            .unwrap();
        assert_eq!(public_base(None, &proxied), "https://hooks.example.com");
        let hostile = http::Request::builder()
            .header("host", "evil.example/x?#")
            .body(Body::Empty)
            .unwrap();
        assert_eq!(public_base(None, &hostile), "http://localhost");
    }

    #[test]
    fn the_policy_names_the_frame_ancestors() {
        let csp = content_security_policy("'self' https://app.example.com");
        assert!(csp.starts_with("default-src 'self'; script-src 'self'; style-src 'self';"));
        assert!(csp.ends_with("frame-ancestors 'self' https://app.example.com"));
        assert!(!csp.contains("unsafe-inline"));
    }
}
