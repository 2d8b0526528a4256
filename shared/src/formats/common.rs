//! Helpers the platform formats share: time formats, credentials, section
//! look-ups and the visitor/author resolution every transcript needs.
use chrono::{DateTime, Datelike, SecondsFormat, Timelike, Utc};
use serde::{Serialize, Serializer};
use std::fmt;

use super::{JSON, RenderError, Rendered};
use crate::domain::event::{AuthorType, ChatMessage, Event, Visitor};
use crate::domain::integration::Integration;

/// `2016-06-01T18:41:16.856Z` (Rocket.Chat).
pub fn iso_millis(t: DateTime<Utc>) -> String {
    match rfc3339(t, SecondsFormat::Millis, &mut [0; 32]) {
        Some(text) => text.to_string(),
        None => t.to_rfc3339_opts(SecondsFormat::Millis, true),
    }
}

/// `2014-08-18T10:05:05Z` (LiveChat tickets).
pub fn iso_secs(t: DateTime<Utc>) -> String {
    t.to_rfc3339_opts(SecondsFormat::Secs, true)
}

/// Unix seconds (LiveChat).
pub fn unix_secs(t: DateTime<Utc>) -> i64 {
    t.timestamp()
}

/// A time as chrono's `Serialize` writes it (RFC 3339 with `Z` and the
/// shortest of no, 3, 6 or 9 decimals), without going through `fmt`.
pub fn serialize_time<S: Serializer>(t: &DateTime<Utc>, serializer: S) -> Result<S::Ok, S::Error> {
    match rfc3339(*t, SecondsFormat::AutoSi, &mut [0; 32]) {
        Some(text) => serializer.serialize_str(text),
        None => t.serialize(serializer),
    }
}

/// `t` as chrono's `to_rfc3339_opts(format, true)` writes it (its
/// `write_rfc3339`, a leap second as `:60`), for `Millis` and `AutoSi` and
/// four-digit years; `None` for the rest, which chrono then writes.
fn rfc3339(t: DateTime<Utc>, format: SecondsFormat, buf: &mut [u8; 32]) -> Option<&str> {
    let (date, time) = (t.date_naive(), t.time());
    let year = u32::try_from(date.year()).ok().filter(|y| *y <= 9999)?;
    let (hour, min, mut sec) = (time.hour(), time.minute(), time.second());
    let mut nano = time.nanosecond();
    if nano >= 1_000_000_000 {
        sec += 1;
        nano -= 1_000_000_000;
    }
    let (digits, fraction) = match format {
        SecondsFormat::Millis => (3, nano / 1_000_000),
        SecondsFormat::AutoSi if nano == 0 => (0, 0),
        SecondsFormat::AutoSi if nano % 1_000_000 == 0 => (3, nano / 1_000_000),
        SecondsFormat::AutoSi if nano % 1_000 == 0 => (6, nano / 1_000),
        SecondsFormat::AutoSi => (9, nano),
        _ => return None,
    };
    buf[..19].copy_from_slice(b"0000-00-00T00:00:00");
    let fields = [
        (0, year / 100),
        (2, year % 100),
        (5, date.month()),
        (8, date.day()),
        (11, hour),
        (14, min),
        (17, sec),
    ];
    for (at, value) in fields {
        buf[at] = b'0' + (value / 10) as u8;
        buf[at + 1] = b'0' + (value % 10) as u8;
    }
    let mut len = 19;
    if digits > 0 {
        buf[len] = b'.';
        len += 1 + digits;
        let mut rest = fraction;
        for b in buf[len - digits..len].iter_mut().rev() {
            *b = b'0' + (rest % 10) as u8;
            rest /= 10;
        }
    }
    buf[len] = b'Z';
    std::str::from_utf8(&buf[..=len]).ok()
}

/// Unix seconds with their fraction as a string, trailing zeros trimmed but
/// at least one decimal kept: `1307116657.1`, `1307116661.25`, `1307116600.0`
/// (Olark). Written where it goes (`Display`; `Serialize` as a string).
#[derive(Clone, Copy)]
pub struct UnixFraction(pub DateTime<Utc>);

impl UnixFraction {
    /// Written backwards from the end of `buf`: the millis padded to three
    /// digits, trailing zeros trimmed to one, a dot, the seconds.
    fn write(self, buf: &mut [u8; 32]) -> &str {
        let (secs, millis) = (self.0.timestamp(), self.0.timestamp_subsec_millis());
        let (mut fraction, mut digits) = (millis, if millis >= 1000 { 4 } else { 3 });
        while digits > 1 && fraction % 10 == 0 {
            fraction /= 10;
            digits -= 1;
        }
        let mut at = buf.len();
        let mut put = |digit: u8| {
            at -= 1;
            buf[at] = digit;
        };
        for _ in 0..digits {
            put(b'0' + (fraction % 10) as u8);
            fraction /= 10;
        }
        put(b'.');
        let mut whole = secs.unsigned_abs();
        loop {
            put(b'0' + (whole % 10) as u8);
            whole /= 10;
            if whole == 0 {
                break;
            }
        }
        if secs < 0 {
            put(b'-');
        }
        std::str::from_utf8(&buf[at..]).unwrap_or_default()
    }
}

impl fmt::Display for UnixFraction {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.write(&mut [0; 32]))
    }
}

impl Serialize for UnixFraction {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(self.write(&mut [0; 32]))
    }
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
    author_username_ref(event, m).map(str::to_string)
}

/// [`author_username`], borrowed.
pub fn author_username_ref<'a>(event: &'a Event, m: &'a ChatMessage) -> Option<&'a str> {
    if let Some(u) = &m.author_username {
        return Some(u);
    }
    match m.author_type {
        AuthorType::Visitor => event.visitor.as_ref().and_then(|v| v.username.as_deref()),
        _ => m
            .author_id
            .as_deref()
            .and_then(|id| agent_by_id(event, id))
            .and_then(|a| a.username.as_deref()),
    }
}

/// A message author's display name: the message's own, else the visitor's or
/// the matching agent's, else the username.
pub fn author_name(event: &Event, m: &ChatMessage) -> Option<String> {
    author_name_ref(event, m).map(str::to_string)
}

/// [`author_name`], borrowed.
pub fn author_name_ref<'a>(event: &'a Event, m: &'a ChatMessage) -> Option<&'a str> {
    if let Some(n) = &m.author_name {
        return Some(n);
    }
    let known = match m.author_type {
        AuthorType::Visitor => event.visitor.as_ref().and_then(|v| v.name.as_deref()),
        _ => m
            .author_id
            .as_deref()
            .and_then(|id| agent_by_id(event, id))
            .and_then(|a| a.name.as_deref()),
    };
    known.or_else(|| author_username_ref(event, m))
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

/// A form body of one field, `name=value`, encoded as
/// `application/x-www-form-urlencoded` (the bytes `form_urlencoded` writes)
/// in one pass, into a body sized for the worst case.
pub fn form_field(name: &str, value: &[u8]) -> Vec<u8> {
    let mut body = vec![0; 3 * (name.len() + value.len()) + 5];
    let mut at = form_encode(&mut body, name.as_bytes());
    body[at] = b'=';
    at += 1;
    at += form_encode(&mut body[at..], value);
    body.truncate(at);
    body
}

/// Writes `bytes` form-encoded at the start of `out` (which has room for
/// three bytes each and four more), returning the length written. Per byte,
/// one table look-up and one four-byte store whose excess the next overwrites.
/// Not inlined: inside a large caller the loop lost its registers and ran
/// at half speed.
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
/// rest `%XX`), padded to three, then its length. Cache-line aligned, so no
/// look-up straddles two lines.
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
    fn form_fields_are_encoded_as_form_urlencoded_does() {
        let every_byte: Vec<u8> = (0..=255).collect();
        let expected: String = form_urlencoded::byte_serialize(&every_byte).collect();
        assert_eq!(
            form_field("data", &every_byte),
            [b"data=", expected.as_bytes()].concat()
        );
        let json = r#"{"a b":"é\"x","n":[1,2.5]}"#;
        let pair = form_urlencoded::Serializer::new(String::new())
            .append_pair("data", json)
            .finish();
        assert_eq!(
            String::from_utf8(form_field("data", json.as_bytes())).unwrap(),
            pair
        );
    }

    /// Times across (and beyond) four-digit years, with every kind of
    /// fraction, and leap seconds.
    fn times() -> Vec<DateTime<Utc>> {
        let nanos = [
            0,
            5_000_000,
            120_000_000,
            7_000,
            123_456_000,
            1,
            999_999_999,
        ];
        let mut state = 7u64;
        let mut times: Vec<DateTime<Utc>> = (0..2000)
            .map(|i| {
                state = state
                    .wrapping_mul(6_364_136_223_846_793_005)
                    .wrapping_add(1);
                let secs = (state >> 20) as i64 % 253_402_300_800 - 62_167_219_200;
                Utc.timestamp_opt(secs, nanos[i % nanos.len()]).unwrap()
            })
            .collect();
        let leap = |y, nano| {
            let date = chrono::NaiveDate::from_ymd_opt(y, 12, 31).unwrap();
            let time = chrono::NaiveTime::from_hms_nano_opt(23, 59, 59, nano).unwrap();
            Utc.from_utc_datetime(&date.and_time(time))
        };
        times.extend([
            leap(2016, 1_000_000_000),
            leap(2016, 1_500_000_000),
            leap(1999, 1_000_000_007),
        ]);
        times.extend([
            leap(-1, 0),
            leap(10_000, 5_000_000),
            leap(0, 0),
            leap(9999, 0),
        ]);
        times
    }

    #[test]
    fn times_are_written_as_chrono_writes_them() {
        for t in times() {
            assert_eq!(
                iso_millis(t),
                t.to_rfc3339_opts(SecondsFormat::Millis, true)
            );
            let mut ours = serde_json::Serializer::new(Vec::new());
            serialize_time(&t, &mut ours).unwrap();
            assert_eq!(ours.into_inner(), serde_json::to_vec(&t).unwrap(), "{t:?}");
        }
    }

    #[test]
    fn unix_fractions_are_the_trimmed_millis() {
        for t in times() {
            let millis = format!("{:03}", t.timestamp_subsec_millis());
            let trimmed = millis.trim_end_matches('0');
            let fraction = if trimmed.is_empty() { "0" } else { trimmed };
            let expected = format!("{}.{fraction}", t.timestamp());
            assert_eq!(UnixFraction(t).to_string(), expected, "{t:?}");
        }
    }

    #[test]
    fn iso_formats_match_the_seeds() {
        let t = Utc.timestamp_millis_opt(1_464_806_476_856).unwrap();
        assert_eq!(iso_millis(t), "2016-06-01T18:41:16.856Z");
        assert_eq!(iso_secs(t), "2016-06-01T18:41:16Z");
        assert_eq!(unix_secs(t), 1_464_806_476);
    }
}
