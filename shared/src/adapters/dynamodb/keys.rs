//! The single-table key layout and the opaque pagination cursors.
//!
//! | item        | pk                       | sk              | gsi1pk   | gsi1sk                |
//! |-------------|--------------------------|-----------------|----------|-----------------------|
//! | tenant      | `T#{tenant}`             | `TENANT`        |          |                       |
//! | API key     | `K#{sha256 hex}`         | `KEY`           |          |                       |
//! | integration | `T#{tenant}`             | `I#{id}`        |          |                       |
//! | event       | `E#{tenant}#{event id}`  | `EVENT`         |          |                       |
//! | delivery    | `D#{id}`                 | `DELIVERY`      | `I#{int}`| `{created, ms, Z}#{id}`|
//! | attempt     | `D#{id}`                 | `A#{number:05}#{started_at}` |          |                       |
//! | portal session | `P#{token sha256 hex}` | `PORTAL`       |          |                       |
//! | its tenant's index | `T#{tenant}`         | `PS#{session id}` |       |                       |
//! | hourly attempt counter | `S#{tenant}#{int}` | `H#{hour}`   |          |                       |
//!
//! A delivery whose event has a chat is also in `gsi2`: `gsi2pk` =
//! `C#{tenant}#{chat id}`, `gsi2sk` = its `gsi1sk` (`chats.rs`). Portal
//! sessions are in `portal.rs`, the counters in `stats.rs`.
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use chrono::{DateTime, SecondsFormat, Utc};

use crate::domain::ids::{DeliveryId, EventId, IntegrationId, TenantId};

pub const PK: &str = "pk";
pub const SK: &str = "sk";
pub const GSI1: &str = "gsi1";
pub const GSI1PK: &str = "gsi1pk";
pub const GSI1SK: &str = "gsi1sk";
pub const EXPIRES_AT: &str = "expires_at";

pub const TENANT_SK: &str = "TENANT";
pub const KEY_SK: &str = "KEY";
pub const EVENT_SK: &str = "EVENT";
pub const DELIVERY_SK: &str = "DELIVERY";
pub const INTEGRATION_SK_PREFIX: &str = "I#";
pub const ATTEMPT_SK_PREFIX: &str = "A#";

pub fn tenant_pk(tenant: &TenantId) -> String {
    format!("T#{tenant}")
}

pub fn key_pk(key_hash: &str) -> String {
    format!("K#{key_hash}")
}

pub fn integration_sk(id: &IntegrationId) -> String {
    format!("{INTEGRATION_SK_PREFIX}{id}")
}

/// Tenant ids never contain `#`, so the event id after the second `#` is unambiguous.
pub fn event_pk(tenant: &TenantId, id: &EventId) -> String {
    format!("E#{tenant}#{id}")
}

pub fn delivery_pk(id: &DeliveryId) -> String {
    format!("D#{id}")
}

/// One item per HTTP attempt made: the start time (to the nanosecond) keeps
/// two consumers that got the same queue message twice from overwriting each
/// other's entry, so the log shows every request a receiver saw.
pub fn attempt_sk(number: u32, started_at: DateTime<Utc>) -> String {
    let at = started_at.to_rfc3339_opts(SecondsFormat::Nanos, true);
    format!("{ATTEMPT_SK_PREFIX}{number:05}#{at}")
}

pub fn integration_gsi1pk(id: &IntegrationId) -> String {
    format!("I#{id}")
}

/// A timestamp as it appears in sort keys: fixed width, so text order is time order.
pub fn sort_timestamp(at: DateTime<Utc>) -> String {
    at.to_rfc3339_opts(SecondsFormat::Millis, true)
}

pub fn delivery_gsi1sk(created_at: DateTime<Utc>, id: &DeliveryId) -> String {
    format!("{}#{id}", sort_timestamp(created_at))
}

/// A cursor that does not decode to a key of the expected shape.
#[derive(Debug, PartialEq, Eq)]
pub struct InvalidCursor;

fn encode(raw: &str) -> String {
    URL_SAFE_NO_PAD.encode(raw.as_bytes())
}

fn decode(cursor: &str) -> Result<String, InvalidCursor> {
    let bytes = URL_SAFE_NO_PAD
        .decode(cursor.as_bytes())
        .map_err(|_| InvalidCursor)?;
    String::from_utf8(bytes).map_err(|_| InvalidCursor)
}

/// The cursor of an integration listing: the last integration's sort key.
pub fn encode_integration_cursor(sk: &str) -> String {
    encode(sk)
}

/// The sort key to continue after; only ever an integration key.
pub fn decode_integration_cursor(cursor: &str) -> Result<String, InvalidCursor> {
    let sk = decode(cursor)?;
    let id = sk
        .strip_prefix(INTEGRATION_SK_PREFIX)
        .ok_or(InvalidCursor)?;
    IntegrationId::parse(id).map_err(|_| InvalidCursor)?;
    Ok(sk)
}

/// Where a delivery listing stopped: the index sort key and the table key of the last item.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DeliveryCursor {
    pub gsi1sk: String,
    pub pk: String,
}

pub fn encode_delivery_cursor(cursor: &DeliveryCursor) -> String {
    encode(&format!("{}\n{}", cursor.gsi1sk, cursor.pk))
}

/// Accepts only a `{timestamp}#{delivery id}` index key whose table key is that delivery's.
pub fn decode_delivery_cursor(cursor: &str) -> Result<DeliveryCursor, InvalidCursor> {
    let raw = decode(cursor)?;
    let (gsi1sk, pk) = raw.split_once('\n').ok_or(InvalidCursor)?;
    let (timestamp, id) = gsi1sk.split_once('#').ok_or(InvalidCursor)?;
    DateTime::parse_from_rfc3339(timestamp).map_err(|_| InvalidCursor)?;
    let id = DeliveryId::parse(id).map_err(|_| InvalidCursor)?;
    if pk != delivery_pk(&id) {
        return Err(InvalidCursor);
    }
    Ok(DeliveryCursor {
        gsi1sk: gsi1sk.to_string(),
        pk: pk.to_string(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    #[test]
    fn sort_timestamps_have_fixed_width_and_sort_by_time() {
        let a = Utc.with_ymd_and_hms(2024, 1, 2, 3, 4, 5).unwrap();
        let b = a + chrono::Duration::milliseconds(7);
        assert_eq!(sort_timestamp(a), "2024-01-02T03:04:05.000Z");
        assert_eq!(sort_timestamp(b), "2024-01-02T03:04:05.007Z");
        assert!(sort_timestamp(a) < sort_timestamp(b));
    }

    #[test]
    fn integration_cursors_round_trip_and_reject_other_keys() {
        // GIVEN the sort key of an integration
        let sk = integration_sk(&IntegrationId::parse("int_abc").unwrap());
        // WHEN it is turned into a cursor and back THEN it is unchanged
        let cursor = encode_integration_cursor(&sk);
        assert!(!cursor.contains('#'));
        assert_eq!(decode_integration_cursor(&cursor), Ok(sk));
        // AND cursors naming anything else are refused
        for bad in [
            encode("TENANT"),
            encode("I#not-an-id"),
            encode("A#00001"),
            "%%%".to_string(),
            URL_SAFE_NO_PAD.encode([0xff, 0xfe]),
        ] {
            assert_eq!(decode_integration_cursor(&bad), Err(InvalidCursor), "{bad}");
        }
    }

    #[test]
    fn delivery_cursors_round_trip_and_must_name_one_delivery() {
        let id = DeliveryId::parse("msg_1").unwrap();
        let at = Utc.with_ymd_and_hms(2024, 1, 2, 3, 4, 5).unwrap();
        let cursor = DeliveryCursor {
            gsi1sk: delivery_gsi1sk(at, &id),
            pk: delivery_pk(&id),
        };
        assert_eq!(
            decode_delivery_cursor(&encode_delivery_cursor(&cursor)),
            Ok(cursor.clone())
        );
        let other = DeliveryCursor {
            pk: "D#msg_2".into(),
            ..cursor.clone()
        };
        for bad in [
            encode_delivery_cursor(&other),
            encode(&cursor.gsi1sk),
            encode("yesterday#msg_1\nD#msg_1"),
            "not base64!".to_string(),
        ] {
            assert_eq!(decode_delivery_cursor(&bad), Err(InvalidCursor), "{bad}");
        }
    }

    #[test]
    fn attempt_keys_sort_by_number_then_time() {
        let t = DateTime::parse_from_rfc3339("2026-01-01T00:00:00.000000001Z")
            .unwrap()
            .with_timezone(&Utc);
        assert_eq!(attempt_sk(1, t), "A#00001#2026-01-01T00:00:00.000000001Z");
        assert!(attempt_sk(9, t) < attempt_sk(10, t));
        assert!(attempt_sk(1, t) < attempt_sk(1, t + chrono::Duration::nanoseconds(1)));
        assert!(attempt_sk(99_999, t).as_str() < DELIVERY_SK);
    }
}
