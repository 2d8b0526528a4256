//! Helpers the platform formats share: time formats, credentials, section
//! look-ups, and the fallbacks that keep every payload's key set whole when
//! the event lacks the data (FORMATS.md, "Every key, always").
use chrono::{DateTime, SecondsFormat, Utc};
use serde::{Serialize, Serializer};
use std::fmt;

use super::{JSON, RenderError, Rendered};
use crate::domain::event::{Agent, AuthorType, Chat, ChatMessage, Event, Visitor};
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

/// Unix seconds with their millisecond fraction, trailing zeros trimmed but
/// at least one decimal kept: `1307116657.1`, `1307116661.25`,
/// `1307116600.0` (Olark). `Serialize` writes it as a string.
#[derive(Clone, Copy)]
pub struct UnixFraction(pub DateTime<Utc>);

impl fmt::Display for UnixFraction {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut fraction = self.0.timestamp_subsec_millis();
        // A leap second's millis run past 999.
        let mut digits = if fraction >= 1000 { 4 } else { 3 };
        while digits > 1 && fraction.is_multiple_of(10) {
            fraction /= 10;
            digits -= 1;
        }
        write!(f, "{}.{fraction:0digits$}", self.0.timestamp())
    }
}

impl Serialize for UnixFraction {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_str(self)
    }
}

/// The token a platform format carries: the configured one, else the secret.
pub fn token(integration: &Integration) -> &str {
    integration
        .format_options()
        .token
        .as_deref()
        .unwrap_or_else(|| integration.secret().expose())
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

/// An optional text, `""` when absent.
pub fn or_empty(value: &Option<String>) -> &str {
    value.as_deref().unwrap_or_default()
}

/// A person's handle where the platform wants a username: the username,
/// else the id, else the name, else `""`.
pub fn handle<'a>(
    username: Option<&'a str>,
    id: Option<&'a str>,
    name: Option<&'a str>,
) -> &'a str {
    username.or(id).or(name).unwrap_or_default()
}

/// The agent the event names by id: the current one or one of the chat's.
fn agent_by_id<'a>(event: &'a Event, id: &str) -> Option<&'a Agent> {
    event
        .agent
        .iter()
        .chain(event.chat.iter().flat_map(|c| c.agents.iter()))
        .find(|a| a.id == id)
}

/// Who wrote a message: the message's own fields, each missing one taken
/// from the visitor (visitor messages) or from the agent with the author's
/// id (agent, supervisor and bot messages). System messages have no author.
pub struct Author<'a> {
    pub id: Option<&'a str>,
    pub name: Option<&'a str>,
    pub username: Option<&'a str>,
}

impl<'a> Author<'a> {
    pub fn of(event: &'a Event, m: &'a ChatMessage) -> Self {
        let (id, name, username) = match m.author_type {
            AuthorType::Visitor => match &event.visitor {
                Some(v) => (
                    Some(v.id.as_str()),
                    v.name.as_deref(),
                    v.username.as_deref(),
                ),
                None => (None, None, None),
            },
            AuthorType::System => (None, None, None),
            AuthorType::Agent | AuthorType::Supervisor | AuthorType::Bot => {
                match m.author_id.as_deref().and_then(|id| agent_by_id(event, id)) {
                    Some(a) => (
                        Some(a.id.as_str()),
                        a.name.as_deref(),
                        a.username.as_deref(),
                    ),
                    None => (None, None, None),
                }
            }
        };
        Author {
            id: m.author_id.as_deref().or(id),
            name: m.author_name.as_deref().or(name),
            username: m.author_username.as_deref().or(username),
        }
    }

    /// The username, else the id, else the name, else `""`.
    pub fn handle(&self) -> &'a str {
        handle(self.username, self.id, self.name)
    }

    /// The name to show: the name, else the username.
    pub fn display_name(&self) -> Option<&'a str> {
        self.name.or(self.username)
    }
}

/// Every message the event carries: the chat's, then the event's own.
fn all_messages<'a>(
    event: &'a Event,
    chat: Option<&'a Chat>,
) -> impl Iterator<Item = &'a ChatMessage> {
    chat.into_iter()
        .flat_map(|c| c.messages.iter())
        .chain(event.message.iter())
}

/// When the chat started: its own start, else its first message, else when
/// the event happened.
pub fn chat_started_at(event: &Event, chat: Option<&Chat>) -> DateTime<Utc> {
    chat.and_then(|c| c.started_at)
        .or_else(|| all_messages(event, chat).map(|m| m.sent_at).min())
        .unwrap_or(event.occurred_at)
}

/// The chat's last message time: its own, else its latest message's.
pub fn last_message_at(event: &Event, chat: Option<&Chat>) -> Option<DateTime<Utc>> {
    chat.and_then(|c| c.last_message_at)
        .or_else(|| all_messages(event, chat).map(|m| m.sent_at).max())
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

/// A form body of one field, `name=value`, as
/// `application/x-www-form-urlencoded` (the bytes `form_urlencoded` writes,
/// checked by a test). Hand-written because the crate's serializer missed the
/// render + sign target: Olark's 2.5 KB transcript took 18.4 µs with it and
/// 8.0 µs with this table-driven pass (criterion, `render_and_sign/olark`,
/// quiet machine; the target is 10 µs).
pub fn form_field(name: &str, value: &str) -> Vec<u8> {
    let mut body = vec![0; 3 * (name.len() + value.len()) + 5];
    let mut at = form_encode(&mut body, name.as_bytes());
    body[at] = b'=';
    at += 1;
    at += form_encode(&mut body[at..], value.as_bytes());
    body.truncate(at);
    body
}

/// Writes `bytes` form-encoded at the start of `out` (which has room for
/// three bytes each and four more), returning the length written. Per byte,
/// one table look-up and one four-byte store whose excess the next overwrites.
#[inline(never)]
fn form_encode(out: &mut [u8], bytes: &[u8]) -> usize {
    let mut at = 0;
    for &b in bytes {
        let code = FORM_CODES.0[usize::from(b)];
        out[at..at + 4].copy_from_slice(&code);
        at += usize::from(code[3]);
    }
    at
}

/// Per byte: its form encoding (unreserved bytes as is, space as `+`, the
/// rest `%XX`), padded to three, then its length.
#[repr(align(64))]
struct FormCodes([[u8; 4]; 256]);

static FORM_CODES: FormCodes = FormCodes({
    const HEX: &[u8; 16] = b"0123456789ABCDEF";
    let mut codes = [[0; 4]; 256];
    let mut i = 0;
    while i < 256 {
        let b = i as u8;
        codes[i] = match b {
            b'*' | b'-' | b'.' | b'0'..=b'9' | b'A'..=b'Z' | b'_' | b'a'..=b'z' => [b, 0, 0, 1],
            b' ' => [b'+', 0, 0, 1],
            _ => [b'%', HEX[(b >> 4) as usize], HEX[(b & 15) as usize], 3],
        };
        i += 1;
    }
    codes
});

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    #[test]
    fn olark_fractions_keep_one_decimal_at_least() {
        let t = |ms| Utc.timestamp_millis_opt(ms).unwrap();
        let unix_fraction = |t| UnixFraction(t).to_string();
        assert_eq!(unix_fraction(t(1_307_116_657_100)), "1307116657.1");
        assert_eq!(unix_fraction(t(1_307_116_661_250)), "1307116661.25");
        assert_eq!(unix_fraction(t(1_307_116_661_007)), "1307116661.007");
        assert_eq!(unix_fraction(t(1_307_116_600_000)), "1307116600.0");
        assert_eq!(unix_fraction(t(1_307_116_600_020)), "1307116600.02");
        assert_eq!(unix_fraction(t(1_307_116_600_999)), "1307116600.999");
        assert_eq!(unix_fraction(t(-1_500)), "-2.5");
        assert_eq!(
            serde_json::to_string(&UnixFraction(t(1_307_116_661_250))).unwrap(),
            "\"1307116661.25\""
        );
    }

    #[test]
    fn unix_fractions_are_the_trimmed_millis_leap_seconds_included() {
        let leap = |nano| {
            let date = chrono::NaiveDate::from_ymd_opt(2016, 12, 31).unwrap();
            let time = chrono::NaiveTime::from_hms_nano_opt(23, 59, 59, nano).unwrap();
            Utc.from_utc_datetime(&date.and_time(time))
        };
        for (nano, fraction) in [
            (1_000_000_000, "1"),
            (1_500_000_000, "15"),
            (1_007_000_000, "1007"),
        ] {
            assert_eq!(
                UnixFraction(leap(nano)).to_string(),
                format!("1483228799.{fraction}")
            );
        }
    }

    #[test]
    fn form_fields_are_form_urlencoded() {
        let json = r#"{"a b":"é\"x","n":[1,2.5],"*-._~":"+%&="}"#;
        let body = form_field("data", json);
        let fields: Vec<(String, String)> = form_urlencoded::parse(&body)
            .map(|(k, v)| (k.into_owned(), v.into_owned()))
            .collect();
        assert_eq!(fields, [("data".to_string(), json.to_string())]);
        assert!(body.starts_with(b"data=%7B%22a+b%22"), "{body:?}");
        // Byte for byte what the crate's serializer writes, for every character.
        let every: String = (0u32..0x800).filter_map(char::from_u32).collect();
        let expected = form_urlencoded::Serializer::new(String::new())
            .append_pair("data", &every)
            .finish();
        assert_eq!(
            String::from_utf8(form_field("data", &every)).unwrap(),
            expected
        );
    }

    #[test]
    fn iso_formats_match_the_seeds() {
        let t = Utc.timestamp_millis_opt(1_464_806_476_856).unwrap();
        assert_eq!(iso_millis(t), "2016-06-01T18:41:16.856Z");
        assert_eq!(iso_secs(t), "2016-06-01T18:41:16Z");
        assert_eq!(unix_secs(t), 1_464_806_476);
    }

    #[test]
    fn a_message_author_is_completed_from_the_visitor_or_the_matching_agent() {
        let event = Event::from_json(serde_json::json!({
            "type": "chat.closed",
            "visitor": {"id": "v1", "name": "Mary"},
            "agent": {"id": "a1", "username": "ann"},
            "chat": {"id": "c", "agents": [{"id": "a2", "name": "Bob"}], "messages": [
                {"author_type": "visitor", "text": "", "sent_at": "2024-01-01T00:00:00Z"},
                {"author_type": "agent", "author_id": "a1", "text": "", "sent_at": "2024-01-01T00:00:00Z"},
                {"author_type": "bot", "author_id": "a2", "text": "", "sent_at": "2024-01-01T00:00:00Z"},
                {"author_type": "agent", "author_id": "a9", "text": "", "sent_at": "2024-01-01T00:00:00Z"},
                {"author_type": "system", "text": "", "sent_at": "2024-01-01T00:00:00Z"}
            ]}
        }))
        .unwrap();
        let messages = &event.chat.as_ref().unwrap().messages;
        let got: Vec<(&str, Option<&str>)> = messages
            .iter()
            .map(|m| Author::of(&event, m))
            .map(|a| (a.handle(), a.display_name()))
            .collect();
        assert_eq!(
            got,
            [
                ("v1", Some("Mary")),
                ("ann", Some("ann")),
                ("a2", Some("Bob")),
                ("a9", None),
                ("", None)
            ]
        );
    }
}
