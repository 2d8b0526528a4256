//! An integration's health for the portal: its last attempt and the
//! attempts of the last 24 hours by outcome, read from the hourly counters
//! the delivery log keeps as it records attempts (one query of at most 25
//! small items; the log itself is never scanned).
use chrono::{DateTime, Duration, Utc};
use serde::Serialize;

use super::AppError;
use crate::domain::ids::{IntegrationId, TenantId};
use crate::ports::{AttemptStats, HourlyAttempts, IntegrationStore, LastAttempt, hour_of};

/// Hourly counters read: the current hour and the 24 before it.
pub const HOURS_READ: usize = 25;

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, schemars::JsonSchema)]
pub struct Counts {
    pub succeeded: u64,
    pub failed: u64,
}

#[derive(Debug, Serialize, schemars::JsonSchema)]
pub struct IntegrationStats {
    pub integration_id: IntegrationId,
    /// The newest attempt; null when none was made within the log's retention.
    pub last_attempt: Option<LastAttempt>,
    /// Attempts by outcome, counted by the hour: the current hour and the 24
    /// full hours before it.
    pub last_24h: Counts,
}

/// Sum the counters of the window ending at `now`; the last attempt from
/// the newest counter that has one, whatever its age.
pub fn summarize(
    integration_id: IntegrationId,
    hours: &[HourlyAttempts],
    now: DateTime<Utc>,
) -> IntegrationStats {
    let current = hour_of(now);
    let oldest = current - Duration::hours(HOURS_READ as i64 - 1);
    let mut counts = Counts::default();
    for h in hours
        .iter()
        .filter(|h| h.hour >= oldest && h.hour <= current)
    {
        counts.succeeded += h.succeeded;
        counts.failed += h.failed;
    }
    let last_attempt = hours
        .iter()
        .filter_map(|h| h.last.clone())
        .max_by_key(|l| l.at);
    IntegrationStats {
        integration_id,
        last_attempt,
        last_24h: counts,
    }
}

/// The stats of one of the tenant's integrations; another tenant's is 404.
pub async fn integration_stats(
    integrations: &dyn IntegrationStore,
    stats: &dyn AttemptStats,
    tenant: &TenantId,
    id: &str,
    now: DateTime<Utc>,
) -> Result<IntegrationStats, AppError> {
    let id = IntegrationId::parse(id).map_err(|_| AppError::NotFound("integration"))?;
    let (found, hours) = futures::try_join!(
        integrations.get(tenant, &id),
        stats.recent_hours(tenant, &id, HOURS_READ)
    )?;
    found.ok_or(AppError::NotFound("integration"))?;
    Ok(summarize(id, &hours, now))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::adapters::memory::{MemoryDeliveryLog, MemoryIntegrationStore};
    use crate::app::integrations::tests::integration_for;
    use crate::domain::catalogue::EventType;
    use crate::domain::delivery::ErrorKind;
    use crate::domain::delivery::{Attempt, Delivery};
    use crate::domain::ids::EventId;
    use crate::domain::message::DeliveryJob;
    use crate::ports::{DeliveryLog, SendOutcome};
    use chrono::TimeZone;

    fn at(h: u32, m: u32) -> DateTime<Utc> {
        Utc.with_ymd_and_hms(2026, 3, 2, h, m, 0).unwrap()
    }

    #[test]
    fn hours_start_on_the_hour() {
        assert_eq!(hour_of(at(10, 59)), at(10, 0));
        assert_eq!(hour_of(at(10, 0)), at(10, 0));
        assert_eq!(
            hour_of(at(10, 0) - chrono::Duration::nanoseconds(1)),
            at(9, 0)
        );
    }

    #[test]
    fn the_window_is_the_current_hour_and_the_24_before() {
        let now = Utc.with_ymd_and_hms(2026, 3, 3, 12, 30, 0).unwrap();
        let hour = |back: i64, succeeded: u64, failed: u64| HourlyAttempts {
            hour: hour_of(now) - Duration::hours(back),
            succeeded,
            failed,
            last: None,
        };
        let mut newest = hour(0, 1, 0);
        newest.last = Some(LastAttempt {
            at: now,
            ok: true,
            status_code: Some(200),
            error_kind: None,
        });
        let hours = vec![newest, hour(3, 2, 1), hour(24, 10, 5), hour(25, 100, 100)];
        let s = summarize(IntegrationId::generate(), &hours, now);
        assert_eq!(
            s.last_24h,
            Counts {
                succeeded: 13,
                failed: 6
            }
        );
        assert_eq!(s.last_attempt.unwrap().status_code, Some(200));
        // an integration quiet for days still shows its last attempt
        let mut old = hour(72, 1, 0);
        old.last = Some(LastAttempt {
            at: now - Duration::hours(72),
            ok: false,
            status_code: Some(500),
            error_kind: Some(ErrorKind::HttpStatus),
        });
        let s = summarize(IntegrationId::generate(), &[old], now);
        assert_eq!(s.last_24h, Counts::default());
        assert_eq!(s.last_attempt.unwrap().status_code, Some(500));
    }

    #[tokio::test]
    async fn logged_attempts_are_counted_by_outcome_for_their_tenant_only() {
        let integrations = MemoryIntegrationStore::default();
        let log = MemoryDeliveryLog::default();
        let tenant = TenantId::generate();
        let hook = integration_for(&tenant, &[EventType::ChatClosed]);
        integrations.create(&hook).await.unwrap();
        let now = Utc::now();
        for (n, code) in [(1u32, 500u16), (2, 200), (1, 200)] {
            let event = EventId::generate();
            let job = DeliveryJob::first(&tenant, &event, EventType::ChatClosed, hook.id(), now);
            let mut d = Delivery::pending(&job, now);
            d.attempts = n;
            let outcome: SendOutcome = crate::adapters::memory::ScriptedSender::status(code);
            log.record_attempt(&d, &Attempt::from_outcome(n, now, &outcome))
                .await
                .unwrap();
        }
        let s = integration_stats(&integrations, &log, &tenant, hook.id().as_str(), now)
            .await
            .unwrap();
        assert_eq!(
            s.last_24h,
            Counts {
                succeeded: 2,
                failed: 1
            }
        );
        assert!(s.last_attempt.is_some());
        // another tenant asking for it gets 404
        let other = TenantId::generate();
        assert!(matches!(
            integration_stats(&integrations, &log, &other, hook.id().as_str(), now).await,
            Err(AppError::NotFound(_))
        ));
    }
}
