//! What a dispatcher batch reads, read once before its jobs run: each
//! event, each integration and each tenant's status once, in one request
//! ([`ReadAhead`]: one BatchGetItem on DynamoDB), where each job would
//! otherwise make its own three reads. The reads are as strong and as recent
//! as the jobs' own (they happen at the same moment: the jobs of a batch
//! start together). What the read ahead leaves out (it failed, or the store
//! left keys unprocessed) the jobs concerned read for themselves.
use async_trait::async_trait;
use futures::future::join_all;
use std::borrow::Cow;
use std::sync::Arc;

use crate::domain::integration::Integration;
use crate::domain::message::DeliveryJob;
use crate::domain::tenant::TenantStatus;
use crate::ports::{
    AheadItems, AheadKeys, EventStore, IntegrationStore, ReadAhead, StoreError, StoredEvent,
    TenantStore,
};

#[derive(Default)]
pub struct BatchReads {
    found: AheadItems,
}

impl BatchReads {
    /// Nothing read ahead: every job reads for itself.
    pub fn none() -> Self {
        Self::default()
    }

    /// The jobs' events, integrations and tenants' statuses, each once.
    pub async fn read(jobs: &[DeliveryJob], reader: &dyn ReadAhead) -> Self {
        if jobs.is_empty() {
            return Self::none();
        }
        let keys = AheadKeys {
            events: distinct(jobs, |j| (j.tenant_id.clone(), j.event_id.clone())),
            integrations: distinct(jobs, |j| (j.tenant_id.clone(), j.integration_id.clone())),
            tenants: distinct(jobs, |j| j.tenant_id.clone()),
        };
        match reader.read_ahead(&keys).await {
            Ok(found) => Self { found },
            Err(e) => {
                tracing::warn!(error = %crate::telemetry::chain(&e), "the batch's read ahead failed; each job reads its own");
                Self::none()
            }
        }
    }

    /// The job's event, as read ahead (borrowed: the jobs of one event
    /// share it) or read now.
    pub async fn event(
        &self,
        job: &DeliveryJob,
        store: &dyn EventStore,
    ) -> Result<Option<Cow<'_, StoredEvent>>, StoreError> {
        match self
            .found
            .events
            .get(&(job.tenant_id.clone(), job.event_id.clone()))
        {
            Some(found) => Ok(found.as_ref().map(Cow::Borrowed)),
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
            .found
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
        match self.found.tenants.get(&job.tenant_id) {
            Some(found) => Ok(*found),
            None => status_of(store, &job.tenant_id).await,
        }
    }
}

/// The read ahead made of each store's own reads, one per key, at once: for
/// stores that cannot read several kinds of item in one request (memory).
pub struct EachStoreReads {
    pub events: Arc<dyn EventStore>,
    pub integrations: Arc<dyn IntegrationStore>,
    pub tenants: Arc<dyn TenantStore>,
}

#[async_trait]
impl ReadAhead for EachStoreReads {
    async fn read_ahead(&self, keys: &AheadKeys) -> Result<AheadItems, StoreError> {
        let (events, integrations, tenants) = futures::join!(
            join_all(keys.events.iter().map(|(t, id)| self.events.get(t, id))),
            join_all(
                keys.integrations
                    .iter()
                    .map(|(t, id)| self.integrations.get(t, id))
            ),
            join_all(keys.tenants.iter().map(|id| status_of(&*self.tenants, id))),
        );
        Ok(AheadItems {
            events: read_ones(&keys.events, events),
            integrations: read_ones(&keys.integrations, integrations),
            tenants: read_ones(&keys.tenants, tenants),
        })
    }
}

/// The keys whose read succeeded, with what it found.
fn read_ones<K: Clone + std::hash::Hash + Eq, V>(
    keys: &[K],
    results: Vec<Result<Option<V>, StoreError>>,
) -> std::collections::HashMap<K, Option<V>> {
    keys.iter()
        .cloned()
        .zip(results)
        .filter_map(|(key, result)| result.ok().map(|found| (key, found)))
        .collect()
}

async fn status_of(
    store: &dyn TenantStore,
    id: &crate::domain::ids::TenantId,
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
    use crate::domain::ids::{EventId, TenantId};
    use chrono::Utc;
    use serde_json::json;
    use std::sync::atomic::{AtomicUsize, Ordering};

    struct Stores {
        events: Arc<MemoryEventStore>,
        integrations: Arc<MemoryIntegrationStore>,
        tenants: Arc<MemoryTenantStore>,
        integration: Integration,
    }

    impl Stores {
        fn each_store_reads(&self) -> EachStoreReads {
            EachStoreReads {
                events: self.events.clone(),
                integrations: self.integrations.clone(),
                tenants: self.tenants.clone(),
            }
        }
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
            events: Arc::new(events),
            integrations: Arc::new(integrations),
            tenants: Arc::new(MemoryTenantStore::default()),
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

    /// A read ahead that counts its requests and answers what `inner` does,
    /// or fails, or leaves out the events.
    struct Scripted {
        inner: EachStoreReads,
        requests: AtomicUsize,
        asked: std::sync::Mutex<Vec<AheadKeys>>,
        fail: bool,
        leave_out_events: bool,
    }

    impl Scripted {
        fn new(s: &Stores) -> Self {
            Self {
                inner: s.each_store_reads(),
                requests: AtomicUsize::new(0),
                asked: std::sync::Mutex::new(Vec::new()),
                fail: false,
                leave_out_events: false,
            }
        }
    }

    #[async_trait]
    impl ReadAhead for Scripted {
        async fn read_ahead(&self, keys: &AheadKeys) -> Result<AheadItems, StoreError> {
            self.requests.fetch_add(1, Ordering::SeqCst);
            self.asked.lock().unwrap().push(keys.clone());
            if self.fail {
                return Err(StoreError::Unavailable("scripted outage".into()));
            }
            let mut found = self.inner.read_ahead(keys).await?;
            if self.leave_out_events {
                found.events.clear();
            }
            Ok(found)
        }
    }

    #[tokio::test]
    async fn a_batch_asks_for_each_event_integration_and_tenant_once_in_one_request() {
        // GIVEN three jobs of one integration: two stored events, one gone, one event twice
        let s = stores(&["e1", "e2"]).await;
        let jobs = [job(&s, "e1"), job(&s, "e2"), job(&s, "gone"), job(&s, "e1")];
        let reader = Scripted::new(&s);

        // WHEN the batch is read ahead
        let ahead = BatchReads::read(&jobs, &reader).await;

        // THEN one request asked for each key once
        assert_eq!(reader.requests.load(Ordering::SeqCst), 1);
        let asked = reader.asked.lock().unwrap()[0].clone();
        assert_eq!(asked.events.len(), 3);
        assert_eq!(asked.integrations.len(), 1);
        assert_eq!(asked.tenants, vec![s.integration.tenant_id().clone()]);
        let before = reads(&s);
        // AND the jobs find what it found without reading again
        for j in &jobs[..2] {
            let stored = ahead.event(j, &*s.events).await.unwrap().unwrap();
            assert_eq!(stored.event.id, j.event_id);
            let found = ahead.integration(j, &*s.integrations).await.unwrap();
            assert_eq!(found.unwrap().id(), s.integration.id());
            assert_eq!(ahead.tenant_status(j, &*s.tenants).await.unwrap(), None);
        }
        // AND the event not stored is known absent without another read
        assert!(ahead.event(&jobs[2], &*s.events).await.unwrap().is_none());
        assert_eq!(reads(&s), before);
    }

    #[tokio::test]
    async fn a_lone_job_is_read_ahead_too() {
        let s = stores(&["e1"]).await;
        let reader = Scripted::new(&s);
        let ahead = BatchReads::read(&[job(&s, "e1")], &reader).await;
        assert_eq!(reader.requests.load(Ordering::SeqCst), 1);
        let before = reads(&s);
        assert!(
            ahead
                .event(&job(&s, "e1"), &*s.events)
                .await
                .unwrap()
                .is_some()
        );
        assert_eq!(reads(&s), before);
        // AND no jobs ask nothing
        BatchReads::read(&[], &reader).await;
        assert_eq!(reader.requests.load(Ordering::SeqCst), 1);
    }

    #[tokio::test]
    async fn when_the_read_ahead_fails_each_job_reads_its_own() {
        let s = stores(&["e1", "e2"]).await;
        let reader = Scripted {
            fail: true,
            ..Scripted::new(&s)
        };
        let jobs = [job(&s, "e1"), job(&s, "e2")];

        let ahead = BatchReads::read(&jobs, &reader).await;

        for j in &jobs {
            let stored = ahead.event(j, &*s.events).await.unwrap().unwrap();
            assert_eq!(stored.event.id, j.event_id);
            assert!(
                ahead
                    .integration(j, &*s.integrations)
                    .await
                    .unwrap()
                    .is_some()
            );
        }
        // one read per job of each
        assert_eq!(reads(&s), (2, 2, 0));
    }

    #[tokio::test]
    async fn what_the_read_ahead_left_out_its_job_reads() {
        // GIVEN a read ahead that found the integration and tenant but not the events
        let s = stores(&["e1"]).await;
        let reader = Scripted {
            leave_out_events: true,
            ..Scripted::new(&s)
        };
        let j = job(&s, "e1");
        let ahead = BatchReads::read(std::slice::from_ref(&j), &reader).await;
        let before = reads(&s);
        // THEN the job reads its event, and only its event
        assert!(ahead.event(&j, &*s.events).await.unwrap().is_some());
        assert!(
            ahead
                .integration(&j, &*s.integrations)
                .await
                .unwrap()
                .is_some()
        );
        assert_eq!(reads(&s), (before.0 + 1, before.1, before.2));
    }

    #[tokio::test]
    async fn nothing_read_ahead_means_every_job_reads_for_itself() {
        let s = stores(&["e1"]).await;
        let j = job(&s, "e1");
        let none = BatchReads::none();
        assert!(none.event(&j, &*s.events).await.unwrap().is_some());
        assert!(
            none.integration(&j, &*s.integrations)
                .await
                .unwrap()
                .is_some()
        );
        assert_eq!(none.tenant_status(&j, &*s.tenants).await.unwrap(), None);
        assert_eq!(reads(&s), (1, 1, 1));
    }
}
