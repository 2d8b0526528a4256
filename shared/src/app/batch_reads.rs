//! What a dispatcher batch reads, read once before its jobs run: the events
//! in one batch read, each integration once and each tenant's status once,
//! where each job would otherwise make its own three reads. The reads are as strong and as recent
//! as the jobs' own (they happen at the same moment: the jobs of a batch
//! start together). A read that fails leaves its keys out, and the jobs
//! concerned then read for themselves.
use futures::future::join_all;
use std::borrow::Cow;
use std::collections::HashMap;

use crate::domain::ids::{IntegrationId, TenantId};
use crate::domain::integration::Integration;
use crate::domain::message::DeliveryJob;
use crate::domain::tenant::TenantStatus;
use crate::ports::{EventKey, EventStore, IntegrationStore, StoreError, StoredEvent, TenantStore};

type IntegrationKey = (TenantId, IntegrationId);

#[derive(Default)]
pub struct BatchReads {
    /// `None`: the events were not read (no batch, or the read failed).
    events: Option<HashMap<EventKey, StoredEvent>>,
    /// Each integration read, `None` inside when it does not exist.
    integrations: HashMap<IntegrationKey, Option<Integration>>,
    /// Each tenant's status read, `None` inside when the tenant does not exist.
    tenants: HashMap<TenantId, Option<TenantStatus>>,
}

impl BatchReads {
    /// Nothing read ahead: every job reads for itself.
    pub fn none() -> Self {
        Self::default()
    }

    pub async fn read(
        jobs: &[DeliveryJob],
        events: &dyn EventStore,
        integrations: &dyn IntegrationStore,
        tenants: &dyn TenantStore,
    ) -> Self {
        let event_keys = distinct(jobs, |j| (j.tenant_id.clone(), j.event_id.clone()));
        let integration_keys = distinct(jobs, |j| (j.tenant_id.clone(), j.integration_id.clone()));
        let tenant_keys = distinct(jobs, |j| j.tenant_id.clone());
        let integration_reads = join_all(
            integration_keys
                .iter()
                .map(|(tenant, id)| integrations.get(tenant, id)),
        );
        let tenant_reads = join_all(tenant_keys.iter().map(|id| status_of(tenants, id)));
        let (events, read, tenant_read) = futures::join!(
            events.get_many(&event_keys),
            integration_reads,
            tenant_reads
        );
        let events = events
            .inspect_err(|e| tracing::warn!(error = %crate::telemetry::chain(e), "batch read of events failed; each job reads its own"))
            .ok();
        let integrations = integration_keys
            .into_iter()
            .zip(read)
            .filter_map(|(key, result)| result.ok().map(|found| (key, found)))
            .collect();
        let tenants = tenant_keys
            .into_iter()
            .zip(tenant_read)
            .filter_map(|(key, result)| result.ok().map(|found| (key, found)))
            .collect();
        Self {
            events,
            integrations,
            tenants,
        }
    }

    /// The job's event, as read ahead (borrowed: the jobs of one event
    /// share it) or read now.
    pub async fn event(
        &self,
        job: &DeliveryJob,
        store: &dyn EventStore,
    ) -> Result<Option<Cow<'_, StoredEvent>>, StoreError> {
        match &self.events {
            Some(found) => Ok(found
                .get(&(job.tenant_id.clone(), job.event_id.clone()))
                .map(Cow::Borrowed)),
            None => Ok(store
                .get(&job.tenant_id, &job.event_id)
                .await?
                .map(Cow::Owned)),
        }
    }

    /// The job's integration, as read ahead or read now.
    pub async fn integration(
        &self,
        job: &DeliveryJob,
        store: &dyn IntegrationStore,
    ) -> Result<Option<Integration>, StoreError> {
        match self
            .integrations
            .get(&(job.tenant_id.clone(), job.integration_id.clone()))
        {
            Some(found) => Ok(found.clone()),
            None => store.get(&job.tenant_id, &job.integration_id).await,
        }
    }

    /// The status of the job's tenant (`None`: no such tenant), as read
    /// ahead or read now.
    pub async fn tenant_status(
        &self,
        job: &DeliveryJob,
        store: &dyn TenantStore,
    ) -> Result<Option<TenantStatus>, StoreError> {
        match self.tenants.get(&job.tenant_id) {
            Some(found) => Ok(*found),
            None => status_of(store, &job.tenant_id).await,
        }
    }
}

async fn status_of(
    store: &dyn TenantStore,
    id: &TenantId,
) -> Result<Option<TenantStatus>, StoreError> {
    Ok(store.get(id).await?.map(|t| t.status))
}

/// Each key of the jobs once.
fn distinct<K: Ord>(jobs: &[DeliveryJob], key: impl Fn(&DeliveryJob) -> K) -> Vec<K> {
    let mut keys: Vec<K> = jobs.iter().map(key).collect();
    keys.sort();
    keys.dedup();
    keys
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::adapters::memory::{MemoryEventStore, MemoryIntegrationStore, MemoryTenantStore};
    use crate::app::integrations::tests::integration_for;
    use crate::domain::catalogue::EventType;
    use crate::domain::event::Event;
    use crate::domain::ids::EventId;
    use chrono::Utc;
    use serde_json::json;
    use std::sync::atomic::Ordering;

    struct Stores {
        events: MemoryEventStore,
        integrations: MemoryIntegrationStore,
        tenants: MemoryTenantStore,
        integration: Integration,
    }

    /// An integration and the stored events `ids`.
    async fn stores(ids: &[&str]) -> Stores {
        let integration = integration_for(&TenantId::generate(), &[EventType::ChatClosed]);
        let integrations = MemoryIntegrationStore::default();
        integrations.create(&integration).await.unwrap();
        let events = MemoryEventStore::default();
        for id in ids {
            let event =
                Event::from_json(json!({"id": id, "type": "chat.closed", "chat": {"id": "c"}}))
                    .unwrap();
            let expires = Utc::now() + chrono::Duration::days(1);
            events
                .insert(integration.tenant_id(), &event, "t", expires)
                .await
                .unwrap();
        }
        Stores {
            events,
            integrations,
            tenants: MemoryTenantStore::default(),
            integration,
        }
    }

    fn job(s: &Stores, event: &str) -> DeliveryJob {
        let (event_id, i) = (EventId::parse(event).unwrap(), &s.integration);
        DeliveryJob::first(
            i.tenant_id(),
            &event_id,
            EventType::ChatClosed,
            i.id(),
            Utc::now(),
        )
    }

    fn reads(s: &Stores) -> (usize, usize, usize) {
        (
            s.events.reads.load(Ordering::SeqCst),
            s.integrations.reads.load(Ordering::SeqCst),
            s.tenants.reads.load(Ordering::SeqCst),
        )
    }

    #[tokio::test]
    async fn a_batch_reads_its_events_once_and_each_integration_once() {
        // GIVEN three jobs of one integration: two stored events, one gone
        let s = stores(&["e1", "e2"]).await;
        let jobs = [job(&s, "e1"), job(&s, "e2"), job(&s, "gone")];

        // WHEN the batch is read ahead
        let ahead = BatchReads::read(&jobs, &s.events, &s.integrations, &s.tenants).await;

        // THEN one event read, one integration read and one tenant read served all three
        assert_eq!(reads(&s), (1, 1, 1));
        for j in &jobs[..2] {
            let stored = ahead.event(j, &s.events).await.unwrap().unwrap();
            assert_eq!(stored.event.id, j.event_id);
            let found = ahead.integration(j, &s.integrations).await.unwrap();
            assert_eq!(found.unwrap().id(), s.integration.id());
            assert_eq!(ahead.tenant_status(j, &s.tenants).await.unwrap(), None);
        }
        // AND the event not stored is known absent without another read
        assert!(ahead.event(&jobs[2], &s.events).await.unwrap().is_none());
        assert_eq!(reads(&s), (1, 1, 1));
    }

    #[tokio::test]
    async fn when_the_batch_read_fails_each_job_reads_its_own_event() {
        let s = stores(&["e1", "e2"]).await;
        s.events.fail_batch_reads.store(true, Ordering::SeqCst);
        let jobs = [job(&s, "e1"), job(&s, "e2")];

        let ahead = BatchReads::read(&jobs, &s.events, &s.integrations, &s.tenants).await;

        for j in &jobs {
            let stored = ahead.event(j, &s.events).await.unwrap().unwrap();
            assert_eq!(stored.event.id, j.event_id);
        }
        // the failed batch read, then one read per job
        assert_eq!(reads(&s).0, 3);
    }

    #[tokio::test]
    async fn nothing_read_ahead_means_every_job_reads_for_itself() {
        let s = stores(&["e1"]).await;
        let j = job(&s, "e1");
        let none = BatchReads::none();
        assert!(none.event(&j, &s.events).await.unwrap().is_some());
        assert!(
            none.integration(&j, &s.integrations)
                .await
                .unwrap()
                .is_some()
        );
        assert_eq!(none.tenant_status(&j, &s.tenants).await.unwrap(), None);
        assert_eq!(reads(&s), (1, 1, 1));
    }
}
