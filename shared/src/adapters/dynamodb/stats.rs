//! Per-integration hourly attempt counters, written by the delivery log with
//! every attempt it records (one UpdateItem: ADD to the outcome's count, SET
//! the last attempt) and read by the portal's health view in one Query:
//!
//! | item           | pk                          | sk                         | attributes |
//! |----------------|-----------------------------|----------------------------|------------|
//! | hourly counter | `S#{tenant}#{integration}`  | `H#{hour, RFC 3339}`       | succeeded, failed, last_at, last_ok, last_status_code, last_error_kind, expires_at (TTL) |
use async_trait::async_trait;
use aws_sdk_dynamodb::Client;
use aws_sdk_dynamodb::types::AttributeValue;
use chrono::{DateTime, SecondsFormat, Utc};

use super::keys::{EXPIRES_AT, PK, SK};
use super::{Item, epoch, s, string_attr, to_attribute, unavailable};
use crate::domain::delivery::{Attempt, Delivery, ErrorKind};
use crate::domain::ids::{IntegrationId, TenantId};
use crate::ports::{AttemptStats, HourlyAttempts, LastAttempt, StoreError, hour_of};

pub const HOUR_SK_PREFIX: &str = "H#";

pub fn stats_pk(tenant: &TenantId, integration: &IntegrationId) -> String {
    format!("S#{tenant}#{integration}")
}

pub fn hour_sk(hour: DateTime<Utc>) -> String {
    format!(
        "{HOUR_SK_PREFIX}{}",
        hour.to_rfc3339_opts(SecondsFormat::Secs, true)
    )
}

/// Count one logged attempt in its integration's hourly counter, kept
/// until `expires_at`.
pub async fn count_attempt(
    client: &Client,
    table: &str,
    delivery: &Delivery,
    attempt: &Attempt,
    expires_at: DateTime<Utc>,
) -> Result<(), StoreError> {
    let hour = hour_of(attempt.started_at);
    let outcome = if attempt.succeeded() {
        "succeeded"
    } else {
        "failed"
    };
    let null = || AttributeValue::Null(true);
    let status = attempt
        .status_code
        .map_or_else(null, |c| AttributeValue::N(c.to_string()));
    let kind = match attempt.error_kind {
        Some(k) => to_attribute(&k)?,
        None => null(),
    };
    client
        .update_item()
        .table_name(table)
        .key(PK, s(stats_pk(&delivery.tenant_id, &delivery.integration_id)))
        .key(SK, s(hour_sk(hour)))
        .update_expression(
            "ADD #count :one SET #at = :at, #ok = :ok, #status = :status, #kind = :kind, #exp = :exp",
        )
        .expression_attribute_names("#count", outcome)
        .expression_attribute_names("#at", "last_at")
        .expression_attribute_names("#ok", "last_ok")
        .expression_attribute_names("#status", "last_status_code")
        .expression_attribute_names("#kind", "last_error_kind")
        .expression_attribute_names("#exp", EXPIRES_AT)
        .expression_attribute_values(":one", AttributeValue::N("1".into()))
        .expression_attribute_values(":at", to_attribute(&attempt.started_at)?)
        .expression_attribute_values(":ok", AttributeValue::Bool(attempt.succeeded()))
        .expression_attribute_values(":status", status)
        .expression_attribute_values(":kind", kind)
        .expression_attribute_values(":exp", epoch(expires_at))
        .send()
        .await
        .map_err(unavailable)?;
    Ok(())
}

fn number(item: &Item, name: &str) -> u64 {
    match item.get(name) {
        Some(AttributeValue::N(n)) => n.parse().unwrap_or(0),
        _ => 0,
    }
}

fn hour_from_item(item: &Item) -> Result<HourlyAttempts, StoreError> {
    const WHAT: &str = "attempt counter";
    let corrupt = |field: &str| StoreError::Corrupt(format!("{WHAT}: `{field}` is not valid"));
    let sk = string_attr(item, SK, WHAT)?;
    let hour = sk
        .strip_prefix(HOUR_SK_PREFIX)
        .and_then(|t| DateTime::parse_from_rfc3339(t).ok())
        .ok_or_else(|| corrupt(SK))?
        .with_timezone(&Utc);
    let last = match item.get("last_at") {
        Some(AttributeValue::S(at)) => Some(LastAttempt {
            at: DateTime::parse_from_rfc3339(at)
                .map_err(|_| corrupt("last_at"))?
                .with_timezone(&Utc),
            ok: matches!(item.get("last_ok"), Some(AttributeValue::Bool(true))),
            status_code: match item.get("last_status_code") {
                Some(AttributeValue::N(n)) => n.parse().ok(),
                _ => None,
            },
            error_kind: match item.get("last_error_kind") {
                Some(AttributeValue::S(k)) => {
                    serde_json::from_value::<ErrorKind>(serde_json::Value::String(k.clone())).ok()
                }
                _ => None,
            },
        }),
        _ => None,
    };
    Ok(HourlyAttempts {
        hour,
        succeeded: number(item, "succeeded"),
        failed: number(item, "failed"),
        last,
    })
}

pub struct DynamoDbAttemptStats {
    client: Client,
    table: String,
}

impl DynamoDbAttemptStats {
    pub fn new(client: Client, table: impl Into<String>) -> Self {
        Self {
            client,
            table: table.into(),
        }
    }
}

#[async_trait]
impl AttemptStats for DynamoDbAttemptStats {
    async fn recent_hours(
        &self,
        tenant: &TenantId,
        integration: &IntegrationId,
        hours: usize,
    ) -> Result<Vec<HourlyAttempts>, StoreError> {
        let out = self
            .client
            .query()
            .table_name(&self.table)
            .key_condition_expression("pk = :pk AND begins_with(sk, :prefix)")
            .expression_attribute_values(":pk", s(stats_pk(tenant, integration)))
            .expression_attribute_values(":prefix", s(HOUR_SK_PREFIX))
            .scan_index_forward(false)
            .limit(i32::try_from(hours.max(1)).unwrap_or(i32::MAX))
            .send()
            .await
            .map_err(unavailable)?;
        out.items
            .unwrap_or_default()
            .iter()
            .map(hour_from_item)
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    #[test]
    fn hour_keys_sort_by_time_and_map_back() {
        let a = Utc.with_ymd_and_hms(2026, 3, 2, 9, 0, 0).unwrap();
        let b = Utc.with_ymd_and_hms(2026, 3, 2, 10, 0, 0).unwrap();
        assert_eq!(hour_sk(a), "H#2026-03-02T09:00:00Z");
        assert!(hour_sk(a) < hour_sk(b));
        let item: Item = [
            (SK.to_string(), s(hour_sk(b))),
            ("succeeded".to_string(), AttributeValue::N("3".into())),
            ("last_at".to_string(), s("2026-03-02T10:05:00Z")),
            ("last_ok".to_string(), AttributeValue::Bool(false)),
            ("last_status_code".to_string(), AttributeValue::Null(true)),
            ("last_error_kind".to_string(), s("timeout")),
        ]
        .into();
        let h = hour_from_item(&item).unwrap();
        assert_eq!((h.hour, h.succeeded, h.failed), (b, 3, 0));
        let last = h.last.unwrap();
        assert!(!last.ok);
        assert_eq!(last.status_code, None);
        assert_eq!(last.error_kind, Some(ErrorKind::Timeout));
    }
}
