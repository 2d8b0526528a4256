//! Helpers the platform formats share: time formats, credentials, section
//! look-ups and the visitor/author resolution every transcript needs.
use chrono::{DateTime, SecondsFormat, Utc};
use serde::Serialize;

use super::{JSON, RenderError, Rendered};
use crate::domain::event::{AuthorType, ChatMessage, Event, Visitor};
use crate::domain::integration::Integration;

/// `2016-06-01T18:41:16.856Z` (Rocket.Chat).
pub fn iso_millis(t: DateTime<Utc>) -> String {
    t.to_rfc3339_opts(SecondsFormat::Millis, true)
}

/// `2014-08-18T10:05:05Z` (LiveChat tickets).
pub fn iso_secs(t: DateTime<Utc>) -> String {
    t.to_rfc3339_opts(SecondsFormat::Secs, true)
}

/// Unix seconds (LiveChat).
pub fn unix_secs(t: DateTime<Utc>) -> i64 {
    t.timestamp()
}

/// Unix seconds with their fraction as a string, trailing zeros trimmed but
/// at least one decimal kept: `1307116657.1`, `1307116661.25`, `1307116600.0` (Olark).
pub fn unix_fraction(t: DateTime<Utc>) -> String {
    let millis = format!("{:03}", t.timestamp_subsec_millis());
    let trimmed = millis.trim_end_matches('0');
    let fraction = if trimmed.is_empty() { "0" } else { trimmed };
    format!("{}.{fraction}", t.timestamp())
}

/// The token a platform format carries: the configured one, else the secret.
pub fn token(integration: &Integration) -> &str {
    integration
        .format_options
        .token
        .as_deref()
        .unwrap_or_else(|| integration.secret.expose())
}

/// A section the format needs, or `RenderError::Missing` naming it.
pub fn need<'a, T>(section: &'a Option<T>, name: &'static str) -> Result<&'a T, RenderError> {
    section.as_ref().ok_or(RenderError::Missing(name))
}

/// The visitor as the format should show it: for `lead.captured`, the lead's
/// name, email and phone (the newest contact data) win over the visitor's.
pub fn visitor_with_lead(event: &Event) -> Option<Visitor> {
    let Some(lead) = &event.lead else {
        return event.visitor.clone();
    };
    let mut visitor = event.visitor.clone().unwrap_or_default();
    visitor.name = lead.name.clone().or(visitor.name);
    visitor.email = lead.email.clone().or(visitor.email);
    visitor.phone = lead.phone.clone().or(visitor.phone);
    for (k, v) in &lead.custom_fields {
        visitor.custom_fields.insert(k.clone(), v.clone());
    }
    Some(visitor)
}

/// The agent the event names by id: the current one or one of the chat's.
fn agent_by_id<'a>(event: &'a Event, id: &str) -> Option<&'a crate::domain::event::Agent> {
    event
        .agent
        .iter()
        .chain(event.chat.iter().flat_map(|c| c.agents.iter()))
        .find(|a| a.id == id)
}

/// A message author's handle: the message's own, else the visitor's or the
/// matching agent's.
pub fn author_username(event: &Event, m: &ChatMessage) -> Option<String> {
    if let Some(u) = &m.author_username {
        return Some(u.clone());
    }
    match m.author_type {
        AuthorType::Visitor => event.visitor.as_ref().and_then(|v| v.username.clone()),
        _ => m
            .author_id
            .as_deref()
            .and_then(|id| agent_by_id(event, id))
            .and_then(|a| a.username.clone()),
    }
}

/// A message author's display name: the message's own, else the visitor's or
/// the matching agent's, else the username.
pub fn author_name(event: &Event, m: &ChatMessage) -> Option<String> {
    if let Some(n) = &m.author_name {
        return Some(n.clone());
    }
    let known = match m.author_type {
        AuthorType::Visitor => event.visitor.as_ref().and_then(|v| v.name.clone()),
        _ => m
            .author_id
            .as_deref()
            .and_then(|id| agent_by_id(event, id))
            .and_then(|a| a.name.clone()),
    };
    known.or_else(|| author_username(event, m))
}

/// A JSON body with the format's own headers.
pub fn json(body: &impl Serialize, headers: Vec<(String, String)>) -> Rendered {
    Rendered {
        content_type: JSON,
        // Only structs and string-keyed maps are serialized: this cannot fail.
        body: serde_json::to_vec(body).unwrap_or_default(),
        headers,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    #[test]
    fn olark_fractions_keep_one_decimal_at_least() {
        let t = |ms| Utc.timestamp_millis_opt(ms).unwrap();
        assert_eq!(unix_fraction(t(1_307_116_657_100)), "1307116657.1");
        assert_eq!(unix_fraction(t(1_307_116_661_250)), "1307116661.25");
        assert_eq!(unix_fraction(t(1_307_116_661_007)), "1307116661.007");
        assert_eq!(unix_fraction(t(1_307_116_600_000)), "1307116600.0");
    }

    #[test]
    fn iso_formats_match_the_seeds() {
        let t = Utc.timestamp_millis_opt(1_464_806_476_856).unwrap();
        assert_eq!(iso_millis(t), "2016-06-01T18:41:16.856Z");
        assert_eq!(iso_secs(t), "2016-06-01T18:41:16Z");
        assert_eq!(unix_secs(t), 1_464_806_476);
    }
}
