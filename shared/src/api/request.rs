//! Reading requests (JSON bodies, query strings, auth headers) and writing
//! JSON responses, identically for API Gateway and the local runner.
use http::StatusCode;
use lambda_http::{Body, Request, Response};
use serde::Serialize;
use serde::de::DeserializeOwned;
use std::collections::HashMap;

use super::ApiError;

/// Largest accepted request body (the event size limit plus room for the envelope).
pub const MAX_BODY_BYTES: usize = 1024 * 1024;

pub fn json_response<T: Serialize>(status: StatusCode, value: &T) -> Response<Body> {
    let body = serde_json::to_string(value).unwrap_or_else(|_| "{}".into());
    let mut response = Response::new(Body::Text(body));
    *response.status_mut() = status;
    response.headers_mut().insert(
        http::header::CONTENT_TYPE,
        http::HeaderValue::from_static("application/json"),
    );
    response
}

pub fn header<'a>(req: &'a Request, name: &str) -> Option<&'a str> {
    req.headers().get(name).and_then(|v| v.to_str().ok())
}

pub fn authorization(req: &Request) -> Option<&str> {
    header(req, "authorization")
}

/// The query string as a map (last value wins), from the URI so API Gateway
/// and the local runner read it the same way.
pub fn query(req: &Request) -> HashMap<String, String> {
    req.uri()
        .query()
        .map(|q| form_urlencoded::parse(q.as_bytes()).into_owned().collect())
        .unwrap_or_default()
}

/// The raw body bytes, size-checked.
pub fn body_bytes(req: &Request) -> Result<&[u8], ApiError> {
    let bytes: &[u8] = req.body().as_ref();
    if bytes.len() > MAX_BODY_BYTES {
        return Err(ApiError::new(
            StatusCode::PAYLOAD_TOO_LARGE,
            "payload_too_large",
            format!(
                "request body is {} bytes; the limit is {MAX_BODY_BYTES}",
                bytes.len()
            ),
        ));
    }
    Ok(bytes)
}

/// 415 unless the body is declared JSON: `application/json` or a `+json`
/// type, parameters such as `charset` allowed.
pub fn require_json(req: &Request) -> Result<(), ApiError> {
    let content_type = header(req, "content-type").unwrap_or("");
    let essence = content_type
        .split(';')
        .next()
        .unwrap_or("")
        .trim()
        .to_ascii_lowercase();
    if essence == "application/json" || essence.ends_with("+json") {
        return Ok(());
    }
    Err(ApiError::new(
        StatusCode::UNSUPPORTED_MEDIA_TYPE,
        "unsupported_media_type",
        "send JSON with `Content-Type: application/json`",
    ))
}

/// Parse a JSON body: 415 for another content type, 413 when too large, 400
/// naming the field otherwise. An empty body reads as `{}`.
pub fn json_body<T: DeserializeOwned>(req: &Request) -> Result<T, ApiError> {
    let bytes = body_bytes(req)?;
    let empty = bytes.iter().all(u8::is_ascii_whitespace);
    if !empty {
        require_json(req)?;
    }
    let bytes: &[u8] = if empty { b"{}" } else { bytes };
    let mut de = serde_json::Deserializer::from_slice(bytes);
    serde_path_to_error::deserialize(&mut de).map_err(|e| {
        let path = e.path().to_string();
        let inner = e.into_inner();
        let mut err = ApiError::bad_request(format!("invalid JSON body: {inner}"));
        if path != "." && !path.is_empty() {
            err.message = format!("{path}: {inner}");
            err.field = Some(path);
        }
        err
    })
}

/// Parse an RFC 3339 timestamp from the query string.
pub fn query_time(
    q: &HashMap<String, String>,
    name: &str,
) -> Result<Option<chrono::DateTime<chrono::Utc>>, ApiError> {
    q.get(name)
        .map(|raw| {
            chrono::DateTime::parse_from_rfc3339(raw)
                .map(|t| t.with_timezone(&chrono::Utc))
                .map_err(|_| {
                    let mut e = ApiError::bad_request(format!(
                        "{name}: must be an RFC 3339 timestamp such as 2026-01-31T12:00:00Z"
                    ));
                    e.field = Some(name.to_string());
                    e
                })
        })
        .transpose()
}
