//! The event-intake Lambda: `POST /v1/events`, one event or `{"events": [...]}`.
//! Answers 202 only once every delivery job is accepted by the queue.
use chathooks::api::{ApiError, authorization, body_bytes, json_response, require_json};
use chathooks::app::auth::authenticate;
use chathooks::app::intake::Intake;
use chathooks::domain::ValidationError;
use chathooks::domain::event::{Event, MAX_BATCH_EVENTS, MAX_EVENT_BYTES};
use chathooks::ports::TenantStore;
use http::{Method, StatusCode};
use lambda_http::{Body, Request, Response};
use serde_json::json;
use serde_json::value::RawValue;
use std::borrow::Cow;
use std::collections::BTreeMap;
use std::sync::Arc;

pub struct IntakeApi {
    pub tenants: Arc<dyn TenantStore>,
    pub intake: Intake,
}

/// The handler Lambda calls, the local runner too. Never fails: every error
/// is an HTTP answer.
pub async fn handle(api: &IntakeApi, req: Request) -> Response<Body> {
    match accept(api, &req).await {
        Ok(response) => response,
        Err(e) => e.into_response(),
    }
}

const JSON_WHITESPACE: &[char] = &[' ', '\t', '\n', '\r'];

/// Why a body that is not a JSON object with string keys was refused.
fn body_error(text: &str) -> ApiError {
    match serde_json::from_str::<serde::de::IgnoredAny>(text) {
        Err(e) => ApiError::bad_request(format!("the body is not valid JSON: {e}")),
        Ok(_) => ApiError::bad_request("the body must be an event object or {\"events\": [...]}"),
    }
}

/// The events of a body: one event object, or `{"events": [...]}`.
///
/// One pass over the text for its shape (the top-level keys, each value
/// kept as a raw slice), then each event parsed straight from its slice:
/// the size limit applies to the event's text as sent.
pub fn parse_events(bytes: &[u8]) -> Result<(Vec<Event>, bool), ApiError> {
    let text = std::str::from_utf8(bytes).map_err(|e| {
        ApiError::bad_request(format!("the body is not valid JSON: not UTF-8 ({e})"))
    })?;
    // The common case in one pass; the error is worked out only on failure.
    let top: BTreeMap<Cow<'_, str>, &RawValue> =
        serde_json::from_str(text).map_err(|_| body_error(text))?;
    let batch = top.contains_key("events") && !top.contains_key("type");
    let items: Vec<&str> = if batch {
        if top.len() > 1 {
            return Err(
                ValidationError::general("a batch body has only the `events` field").into(),
            );
        }
        let events = top.get("events").map_or("", |raw| raw.get());
        serde_json::from_str::<Vec<&RawValue>>(events)
            .map_err(|_| ValidationError::field("events", "must be an array of events"))?
            .into_iter()
            .map(RawValue::get)
            .collect()
    } else {
        vec![text.trim_matches(JSON_WHITESPACE)]
    };
    if batch && (items.is_empty() || items.len() > MAX_BATCH_EVENTS) {
        return Err(ValidationError::field(
            "events",
            format!("must hold 1-{MAX_BATCH_EVENTS} events"),
        )
        .into());
    }
    let mut events = Vec::with_capacity(items.len());
    for (i, item) in items.into_iter().enumerate() {
        let at = |e: ValidationError| {
            if batch {
                e.under(&format!("events[{i}]"))
            } else {
                e
            }
        };
        let size = item.len();
        if size > MAX_EVENT_BYTES {
            let mut err = ApiError::new(
                StatusCode::PAYLOAD_TOO_LARGE,
                "payload_too_large",
                format!("an event is {size} bytes; the limit is {MAX_EVENT_BYTES}"),
            );
            err.field = batch.then(|| format!("events[{i}]"));
            return Err(err);
        }
        events.push(Event::parse(item).map_err(at)?);
    }
    let mut seen = std::collections::HashSet::with_capacity(events.len());
    if let Some(dup) = events.iter().find(|e| !seen.insert(&e.id)) {
        return Err(ValidationError::field(
            "events",
            format!("event id `{}` appears twice in the batch", dup.id),
        )
        .into());
    }
    Ok((events, batch))
}

async fn accept(api: &IntakeApi, req: &Request) -> Result<Response<Body>, ApiError> {
    if req.uri().path() != "/v1/events" {
        return Err(ApiError::not_found("route"));
    }
    if req.method() != Method::POST {
        return Err(ApiError::method_not_allowed());
    }
    let tenant = authenticate(&*api.tenants, authorization(req)).await?;
    require_json(req)?;
    let (events, batch) = parse_events(body_bytes(req)?)?;
    let results = api.intake.accept(&tenant, &events).await?;
    if batch {
        return Ok(json_response(
            StatusCode::ACCEPTED,
            &json!({ "results": results }),
        ));
    }
    let result = &results[0];
    let status = if result.duplicate {
        StatusCode::OK
    } else {
        StatusCode::ACCEPTED
    };
    Ok(json_response(status, result))
}

/// Build the intake from the environment (cold start).
pub async fn init() -> Result<IntakeApi, chathooks::wiring::BoxError> {
    Ok(init_with(&chathooks::wiring::Wiring::from_env().await?))
}

/// Build the intake from explicit wiring (local runner, tests).
pub fn init_with(w: &chathooks::wiring::Wiring) -> IntakeApi {
    IntakeApi {
        intake: w.intake(),
        tenants: w.stores.tenants.clone(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn single_and_batch_bodies_parse() {
        let (one, batch) = parse_events(br#"{"type":"webhook.test"}"#).unwrap();
        assert_eq!((one.len(), batch), (1, false));
        let (many, batch) =
            parse_events(br#"{"events":[{"type":"webhook.test"},{"type":"webhook.test"}]}"#)
                .unwrap();
        assert_eq!((many.len(), batch), (2, true));
    }

    #[test]
    fn batch_errors_name_the_event_index() {
        let err = parse_events(br#"{"events":[{"type":"webhook.test"},{"type":"chat.closed"}]}"#)
            .unwrap_err();
        assert_eq!(err.field.as_deref(), Some("events[1].chat"));
        assert_eq!(err.status, StatusCode::BAD_REQUEST);
    }

    #[test]
    fn bad_bodies_are_400_and_huge_events_413() {
        assert_eq!(
            parse_events(b"[1]").unwrap_err().status,
            StatusCode::BAD_REQUEST
        );
        assert_eq!(
            parse_events(b"{").unwrap_err().status,
            StatusCode::BAD_REQUEST
        );
        assert_eq!(
            parse_events(br#"{"events":[]}"#).unwrap_err().status,
            StatusCode::BAD_REQUEST
        );
        let big = format!(
            r#"{{"type":"offline_message","offline_message":{{"message":"{}","sent_at":"2020-01-01T00:00:00Z"}}}}"#,
            "x".repeat(MAX_EVENT_BYTES)
        );
        assert_eq!(
            parse_events(big.as_bytes()).unwrap_err().status,
            StatusCode::PAYLOAD_TOO_LARGE
        );
        let dup =
            br#"{"events":[{"id":"a","type":"webhook.test"},{"id":"a","type":"webhook.test"}]}"#;
        assert!(parse_events(dup).unwrap_err().message.contains("twice"));
    }
}
