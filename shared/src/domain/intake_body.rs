//! The body of `POST /v1/events`: one event object, or `{"events": [...]}`.
//! Plain parsing, no I/O: the intake answers its errors, the fuzz target
//! runs it on arbitrary bytes.
use serde_json::value::RawValue;
use std::borrow::Cow;
use std::collections::BTreeMap;

use super::ValidationError;
use super::event::{Event, MAX_BATCH_EVENTS, MAX_EVENT_BYTES};

/// Why a body was refused.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum BodyError {
    /// Not an event or a batch of events; the error names the field.
    Invalid(ValidationError),
    /// An event's text is over [`MAX_EVENT_BYTES`]; `index` is its place in a batch.
    TooLarge { size: usize, index: Option<usize> },
}

impl From<ValidationError> for BodyError {
    fn from(e: ValidationError) -> Self {
        BodyError::Invalid(e)
    }
}

impl std::fmt::Display for BodyError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            BodyError::Invalid(e) => e.fmt(f),
            BodyError::TooLarge { size, .. } => write!(
                f,
                "an event is {size} bytes; the limit is {MAX_EVENT_BYTES}"
            ),
        }
    }
}

impl std::error::Error for BodyError {}

const JSON_WHITESPACE: &[char] = &[' ', '\t', '\n', '\r'];

/// Why a body that is not a JSON object with string keys was refused.
fn body_error(text: &str) -> BodyError {
    BodyError::Invalid(ValidationError::general(
        match serde_json::from_str::<serde::de::IgnoredAny>(text) {
            Err(e) => format!("the body is not valid JSON: {e}"),
            Ok(_) => "the body must be an event object or {\"events\": [...]}".to_string(),
        },
    ))
}

/// The events of a body: one event object, or `{"events": [...]}`.
///
/// One pass over the text for its shape (the top-level keys, each value
/// kept as a raw slice), then each event parsed straight from its slice:
/// the size limit applies to the event's text as sent.
pub fn parse_events(bytes: &[u8]) -> Result<(Vec<Event>, bool), BodyError> {
    let text = std::str::from_utf8(bytes).map_err(|e| {
        BodyError::Invalid(ValidationError::general(format!(
            "the body is not valid JSON: not UTF-8 ({e})"
        )))
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
            return Err(BodyError::TooLarge {
                size,
                index: batch.then_some(i),
            });
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::event::MAX_EVENT_BYTES;

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
        let BodyError::Invalid(err) = err else {
            panic!("{err:?}")
        };
        assert_eq!(err.field.as_deref(), Some("events[1].chat"));
    }

    #[test]
    fn bad_bodies_are_invalid_and_huge_events_too_large() {
        let invalid = |body: &[u8]| matches!(parse_events(body), Err(BodyError::Invalid(_)));
        assert!(invalid(b"[1]"));
        assert!(invalid(b"{"));
        assert!(invalid(br#"{"events":[]}"#));
        let big = format!(
            r#"{{"type":"offline_message","offline_message":{{"message":"{}","sent_at":"2020-01-01T00:00:00Z"}}}}"#,
            "x".repeat(MAX_EVENT_BYTES)
        );
        assert!(matches!(
            parse_events(big.as_bytes()),
            Err(BodyError::TooLarge { index: None, .. })
        ));
        let dup =
            br#"{"events":[{"id":"a","type":"webhook.test"},{"id":"a","type":"webhook.test"}]}"#;
        assert!(parse_events(dup).unwrap_err().to_string().contains("twice"));
    }
}
