//! Per-integration hourly attempt counters, counted by the delivery log as it
//! records attempts and written once per consumer batch (one UpdateItem per
//! integration and hour: ADD to the outcomes' counts, SET the last attempt)
//! and read by the portal's health view in one Query:
//!
//! | item           | pk                          | sk                         | attributes |
//! |----------------|-----------------------------|----------------------------|------------|
//! | hourly counter | `S#{tenant}#{integration}`  | `H#{hour, RFC 3339}`       | succeeded, failed, last_at, last_ok, last_status_code, last_error_kind, expires_at (TTL) |
use async_trait::async_trait;
use aws_sdk_dynamodb::Client;
use aws_sdk_dynamodb::types::AttributeValue;
use chrono::{DateTime, SecondsFormat, Utc};
use std::collections::HashMap;
use std::sync::Mutex;

use super::keys::{EXPIRES_AT, PK, SK};
use super::{Item, epoch, is_condition_failure, s, string_attr, to_attribute, unavailable};
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

/// Attempts logged and not yet counted, per integration and hour: the
/// delivery log adds each attempt it records and writes them at the end of
/// the consumer's batch, one UpdateItem per integration and hour instead of
/// one per attempt.
#[derive(Default)]
pub struct Tally {
    pending: Mutex<HashMap<CounterKey, Counted>>,
}

/// An hourly counter: the integration (with its tenant) and the hour.
type CounterKey = (TenantId, IntegrationId, DateTime<Utc>);

#[derive(Default)]
struct Counted {
    succeeded: u64,
    failed: u64,
    last: Option<LastAttempt>,
}

impl Tally {
    /// Count `attempt` of `delivery`.
    pub fn add(&self, delivery: &Delivery, attempt: &Attempt) {
        let key = (
            delivery.tenant_id.clone(),
            delivery.integration_id.clone(),
            hour_of(attempt.started_at),
        );
        let ok = attempt.succeeded();
        let mut pending = self.pending.lock().unwrap_or_else(|p| p.into_inner());
        let counted = pending.entry(key).or_default();
        if ok {
            counted.succeeded += 1;
        } else {
            counted.failed += 1;
        }
        if counted
            .last
            .as_ref()
            .is_none_or(|l| l.at <= attempt.started_at)
        {
            counted.last = Some(LastAttempt {
                at: attempt.started_at,
                ok,
                status_code: attempt.status_code,
                error_kind: attempt.error_kind,
            });
        }
    }

    /// Write what was counted (each hour's item kept for `retention`);
    /// what could not be written is dropped with a warning: health figures
    /// never hold a delivery back.
    pub async fn flush(&self, client: &Client, table: &str, retention: chrono::Duration) {
        let pending = std::mem::take(&mut *self.pending.lock().unwrap_or_else(|p| p.into_inner()));
        let writes = pending.into_iter().map(|((tenant, integration, hour), counted)| async move {
            let written = write_counts(client, table, &tenant, &integration, hour, &counted, hour + retention).await;
            if let Err(e) = written {
                tracing::warn!(integration_id = %integration, error = %crate::telemetry::chain(&e), "attempts not counted in the health counters");
            }
        });
        futures::future::join_all(writes).await;
    }
}

async fn write_counts(
    client: &Client,
    table: &str,
    tenant: &TenantId,
    integration: &IntegrationId,
    hour: DateTime<Utc>,
    counted: &Counted,
    expires_at: DateTime<Utc>,
) -> Result<(), StoreError> {
    let mut request = client
        .update_item()
        .table_name(table)
        .key(PK, s(stats_pk(tenant, integration)))
        .key(SK, s(hour_sk(hour)))
        .expression_attribute_names("#ok_count", "succeeded")
        .expression_attribute_names("#failed_count", "failed")
        .expression_attribute_names("#exp", EXPIRES_AT)
        .expression_attribute_values(
            ":succeeded",
            AttributeValue::N(counted.succeeded.to_string()),
        )
        .expression_attribute_values(":failed", AttributeValue::N(counted.failed.to_string()))
        .expression_attribute_values(":exp", epoch(expires_at));
    let mut expression =
        "ADD #ok_count :succeeded, #failed_count :failed SET #exp = :exp".to_string();
    if let Some(last) = &counted.last {
        let null = || AttributeValue::Null(true);
        let status = last
            .status_code
            .map_or_else(null, |c| AttributeValue::N(c.to_string()));
        let kind = match last.error_kind {
            Some(k) => to_attribute(&k)?,
            None => null(),
        };
        // The last attempt only moves forward: a batch finishing late does
        // not replace a later one another consumer counted.
        expression.push_str(", #at = :at, #ok = :ok, #status = :status, #kind = :kind");
        request = request
            .expression_attribute_names("#at", "last_at")
            .expression_attribute_names("#ok", "last_ok")
            .expression_attribute_names("#status", "last_status_code")
            .expression_attribute_names("#kind", "last_error_kind")
            .expression_attribute_values(":at", to_attribute(&last.at)?)
            .expression_attribute_values(":ok", AttributeValue::Bool(last.ok))
            .expression_attribute_values(":status", status)
            .expression_attribute_values(":kind", kind)
            .condition_expression("attribute_not_exists(#at) OR #at <= :at");
    }
    let result = request.update_expression(expression).send().await;
    match result {
        Ok(_) => Ok(()),
        Err(err) if is_condition_failure(&err) => {
            // A later attempt is already the last one: count without it.
            let only_counts = Counted {
                succeeded: counted.succeeded,
                failed: counted.failed,
                last: None,
            };
            Box::pin(write_counts(
                client,
                table,
                tenant,
                integration,
                hour,
                &only_counts,
                expires_at,
            ))
            .await
        }
        Err(err) => Err(unavailable(err)),
    }
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

    #[test]
    fn a_batch_counts_once_per_integration_and_hour_with_its_latest_attempt() {
        use crate::domain::catalogue::EventType;
        use crate::domain::delivery::SendOutcome;
        use crate::domain::message::DeliveryJob;
        let tenant = TenantId::generate();
        let (a, b) = (IntegrationId::generate(), IntegrationId::generate());
        let t0 = Utc.with_ymd_and_hms(2026, 3, 2, 9, 10, 0).unwrap();
        let outcome = |code: u16| SendOutcome {
            status_code: Some(code),
            error_kind: (code >= 300).then_some(ErrorKind::HttpStatus),
            error: None,
            response_excerpt: None,
            duration: std::time::Duration::from_millis(3),
            retry_after: None,
        };
        let tally = Tally::default();
        for (integration, minute, code) in [
            (&a, 5, 200),
            (&a, 20, 500),
            (&a, 1, 200),
            (&b, 2, 200),
            (&a, 70, 200),
        ] {
            let job = DeliveryJob::first(
                &tenant,
                &crate::domain::ids::EventId::generate(),
                EventType::ChatClosed,
                integration,
                t0,
            );
            let at = t0 + chrono::Duration::minutes(minute);
            tally.add(
                &Delivery::pending(&job, at),
                &Attempt::from_outcome(1, at, &outcome(code)),
            );
        }
        let pending = tally.pending.lock().unwrap();
        // three items: a's 09:00 and 10:00 hours, b's 09:00 hour
        assert_eq!(pending.len(), 3);
        let nine = &pending[&(tenant.clone(), a.clone(), hour_of(t0))];
        assert_eq!((nine.succeeded, nine.failed), (2, 1));
        let last = nine.last.as_ref().unwrap();
        assert_eq!(
            (last.at, last.ok, last.status_code),
            (t0 + chrono::Duration::minutes(20), false, Some(500))
        );
    }
}
