//! In-memory implementations of the ports, for unit tests of the application
//! services (never used by a function or an integration test).
use async_trait::async_trait;
use chrono::{DateTime, Utc};
use std::collections::{BTreeMap, HashMap};
use std::sync::Mutex;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};

use crate::domain::delivery::{Attempt, Delivery, attempts_shown_with};
use crate::domain::event::Event;
use crate::domain::ids::{DeliveryId, EventId, IntegrationId, TenantId};
use crate::domain::integration::Integration;
use crate::ports::*;

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
}

#[derive(Default)]
pub struct MemoryTenantStore {
    tenants: Mutex<BTreeMap<TenantId, Tenant>>,
    /// Keys by hash.
    keys: Mutex<HashMap<String, StoredKey>>,
    /// Conditional writes of `last_used_at` made (`touch_key`).
    pub touches: AtomicUsize,
    /// Tenants read (`get`).
    pub reads: AtomicUsize,
}

impl MemoryTenantStore {
    /// Store a key the way keys were stored before they had names.
    pub fn insert_unnamed_key(&self, tenant: &TenantId, key_hash: &str) {
        lock(&self.keys).insert(key_hash.into(), StoredKey::Unnamed(tenant.clone()));
    }

    fn count_named(&self, tenant: &TenantId) -> usize {
        lock(&self.keys)
            .values()
            .filter(|k| matches!(k, StoredKey::Named(key) if &key.tenant_id == tenant))
            .count()
    }
}

#[async_trait]
impl TenantStore for MemoryTenantStore {
    async fn create(
        &self,
        tenant: &Tenant,
        first_key: &crate::domain::api_key::ApiKey,
        key_hash: &str,
    ) -> Result<(), StoreError> {
        let mut keys = lock(&self.keys);
        let mut tenants = lock(&self.tenants);
        if keys.contains_key(key_hash) || tenants.contains_key(&tenant.id) {
            return Err(StoreError::AlreadyExists);
        }
        keys.insert(key_hash.to_string(), StoredKey::Named(first_key.clone()));
        tenants.insert(tenant.id.clone(), tenant.clone());
        Ok(())
    }

    async fn key_by_hash(&self, key_hash: &str) -> Result<Option<StoredKey>, StoreError> {
        Ok(lock(&self.keys).get(key_hash).cloned())
    }

    async fn adopt_key(
        &self,
        key: &crate::domain::api_key::ApiKey,
        key_hash: &str,
    ) -> Result<(), StoreError> {
        let mut keys = lock(&self.keys);
        if let Some(stored @ StoredKey::Unnamed(_)) = keys.get_mut(key_hash) {
            *stored = StoredKey::Named(key.clone());
        }
        Ok(())
    }

    async fn touch_key(&self, key_hash: &str, at: DateTime<Utc>) -> Result<(), StoreError> {
        let mut keys = lock(&self.keys);
        if let Some(StoredKey::Named(key)) = keys.get_mut(key_hash)
            && key.needs_touch(at)
        {
            key.last_used_at = Some(at);
            self.touches.fetch_add(1, Ordering::SeqCst);
        }
        Ok(())
    }

    async fn get(&self, id: &TenantId) -> Result<Option<Tenant>, StoreError> {
        self.reads.fetch_add(1, Ordering::SeqCst);
        Ok(lock(&self.tenants).get(id).cloned())
    }

    async fn list(&self, cursor: Option<&str>, limit: usize) -> Result<Page<Tenant>, StoreError> {
        let after = cursor
            .map(|c| TenantId::parse(c).map_err(|_| StoreError::BadCursor))
            .transpose()?;
        let tenants = lock(&self.tenants);
        let mut items: Vec<Tenant> = tenants
            .values()
            .filter(|t| after.as_ref().is_none_or(|a| &t.id > a))
            .take(limit + 1)
            .cloned()
            .collect();
        let next_cursor = (items.len() > limit).then(|| {
            items.truncate(limit);
            items[limit - 1].id.to_string()
        });
        Ok(Page { items, next_cursor })
    }

    async fn set_suspended(
        &self,
        id: &TenantId,
        suspended: bool,
    ) -> Result<Option<crate::domain::tenant::TenantStatus>, StoreError> {
        use crate::domain::tenant::TenantStatus;
        let mut tenants = lock(&self.tenants);
        let Some(tenant) = tenants.get_mut(id) else {
            return Ok(None);
        };
        if tenant.status != TenantStatus::Deleting {
            tenant.status = if suspended {
                TenantStatus::Suspended
            } else {
                TenantStatus::Active
            };
        }
        Ok(Some(tenant.status))
    }

    async fn add_key(
        &self,
        key: &crate::domain::api_key::ApiKey,
        key_hash: &str,
        max: usize,
    ) -> Result<Added, StoreError> {
        let active = lock(&self.tenants)
            .get(&key.tenant_id)
            .is_some_and(|t| t.status == crate::domain::tenant::TenantStatus::Active);
        if !active {
            return Ok(Added::TenantNotActive);
        }
        if self.count_named(&key.tenant_id) >= max {
            return Ok(Added::TooMany);
        }
        let mut keys = lock(&self.keys);
        if keys.contains_key(key_hash) {
            return Err(StoreError::AlreadyExists);
        }
        keys.insert(key_hash.to_string(), StoredKey::Named(key.clone()));
        Ok(Added::Added)
    }

    async fn list_keys(
        &self,
        tenant: &TenantId,
    ) -> Result<Vec<crate::domain::api_key::ApiKey>, StoreError> {
        let mut keys: Vec<_> = lock(&self.keys)
            .values()
            .filter_map(|k| match k {
                StoredKey::Named(key) if &key.tenant_id == tenant => Some(key.clone()),
                _ => None,
            })
            .collect();
        keys.sort_by(|a, b| (a.created_at, &a.id).cmp(&(b.created_at, &b.id)));
        Ok(keys)
    }

    async fn revoke_key(
        &self,
        tenant: &TenantId,
        id: &crate::domain::ids::ApiKeyId,
    ) -> Result<Revoked, StoreError> {
        let count = self.count_named(tenant);
        let mut keys = lock(&self.keys);
        let Some(hash) = keys.iter().find_map(|(hash, k)| match k {
            StoredKey::Named(key) if &key.tenant_id == tenant && &key.id == id => {
                Some(hash.clone())
            }
            _ => None,
        }) else {
            return Ok(Revoked::NotFound);
        };
        if count <= 1 {
            return Ok(Revoked::LastKey);
        }
        keys.remove(&hash);
        Ok(Revoked::Revoked)
    }

    async fn mark_deleting(&self, id: &TenantId) -> Result<bool, StoreError> {
        let mut tenants = lock(&self.tenants);
        let Some(tenant) = tenants.get_mut(id) else {
            return Ok(false);
        };
        tenant.status = crate::domain::tenant::TenantStatus::Deleting;
        Ok(true)
    }

    async fn purge_step(&self, id: &TenantId) -> Result<PurgeProgress, StoreError> {
        let mut keys = lock(&self.keys);
        let before = keys.len();
        keys.retain(|_, k| k.tenant() != id);
        let mut deleted = before - keys.len();
        if lock(&self.tenants).remove(id).is_some() {
            deleted += 1;
        }
        Ok(PurgeProgress {
            deleted,
            done: true,
        })
    }
}

#[derive(Default)]
pub struct MemoryIntegrationStore {
    items: Mutex<BTreeMap<(TenantId, IntegrationId), Integration>>,
    /// Read requests (`get`) served so far.
    pub reads: AtomicUsize,
}

impl MemoryIntegrationStore {
    pub fn all(&self) -> Vec<Integration> {
        lock(&self.items).values().cloned().collect()
    }
}

#[async_trait]
impl IntegrationStore for MemoryIntegrationStore {
    async fn create(&self, i: &Integration) -> Result<(), StoreError> {
        let key = (i.tenant_id().clone(), i.id().clone());
        let mut items = lock(&self.items);
        if items.contains_key(&key) {
            return Err(StoreError::AlreadyExists);
        }
        items.insert(key, i.clone());
        Ok(())
    }

    async fn get(
        &self,
        tenant: &TenantId,
        id: &IntegrationId,
    ) -> Result<Option<Integration>, StoreError> {
        self.reads.fetch_add(1, Ordering::SeqCst);
        Ok(lock(&self.items)
            .get(&(tenant.clone(), id.clone()))
            .cloned())
    }

    async fn list(
        &self,
        tenant: &TenantId,
        cursor: Option<&str>,
        limit: usize,
    ) -> Result<Page<Integration>, StoreError> {
        let after = cursor
            .map(IntegrationId::parse)
            .transpose()
            .map_err(|_| StoreError::BadCursor)?;
        let items: Vec<Integration> = lock(&self.items)
            .values()
            .filter(|i| i.tenant_id() == tenant)
            .filter(|i| after.as_ref().is_none_or(|a| i.id() > a))
            .take(limit + 1)
            .cloned()
            .collect();
        let more = items.len() > limit;
        let items: Vec<Integration> = items.into_iter().take(limit).collect();
        let next_cursor = more
            .then(|| items.last().map(|i| i.id().to_string()))
            .flatten();
        Ok(Page { items, next_cursor })
    }

    async fn replace(&self, previous: &Integration, i: &Integration) -> Result<bool, StoreError> {
        let key = (i.tenant_id().clone(), i.id().clone());
        let mut items = lock(&self.items);
        match items.get_mut(&key) {
            Some(slot)
                if (slot.updated_at(), slot.enabled(), slot.failing_since())
                    == (
                        previous.updated_at(),
                        previous.enabled(),
                        previous.failing_since(),
                    ) =>
            {
                *slot = i.clone();
                Ok(true)
            }
            _ => Ok(false),
        }
    }

    async fn delete(&self, tenant: &TenantId, id: &IntegrationId) -> Result<bool, StoreError> {
        Ok(lock(&self.items)
            .remove(&(tenant.clone(), id.clone()))
            .is_some())
    }

    async fn set_failing_since(
        &self,
        tenant: &TenantId,
        id: &IntegrationId,
        since: Option<DateTime<Utc>>,
    ) -> Result<(), StoreError> {
        if let Some(i) = lock(&self.items).get_mut(&(tenant.clone(), id.clone())) {
            i.set_failing_since(since);
        }
        Ok(())
    }

    async fn disable(
        &self,
        tenant: &TenantId,
        id: &IntegrationId,
        reason: &str,
        at: DateTime<Utc>,
    ) -> Result<(), StoreError> {
        if let Some(i) = lock(&self.items).get_mut(&(tenant.clone(), id.clone())) {
            i.disable(reason, at);
        }
        Ok(())
    }
}

#[derive(Default)]
pub struct MemoryEventStore {
    events: Mutex<HashMap<(TenantId, EventId), StoredEvent>>,
    /// Read requests served so far.
    pub reads: AtomicUsize,
}

#[async_trait]
impl EventStore for MemoryEventStore {
    async fn insert(
        &self,
        tenant: &TenantId,
        event: &Event,
        token: &str,
        _expires_at: DateTime<Utc>,
    ) -> Result<InsertOutcome, StoreError> {
        let mut events = lock(&self.events);
        let key = (tenant.clone(), event.id.clone());
        if let Some(stored) = events.get(&key) {
            return Ok(match stored.acceptance_token.as_deref() {
                Some(t) if t == token => InsertOutcome::New,
                other => InsertOutcome::Duplicate {
                    token: other.unwrap_or_default().to_string(),
                },
            });
        }
        events.insert(
            key,
            StoredEvent {
                event: event.clone(),
                acceptance_token: Some(token.to_string()),
                received_at: Some(Utc::now()),
            },
        );
        Ok(InsertOutcome::New)
    }

    async fn retoken(
        &self,
        tenant: &TenantId,
        id: &EventId,
        from: &str,
        to: &str,
    ) -> Result<bool, StoreError> {
        let mut events = lock(&self.events);
        match events.get_mut(&(tenant.clone(), id.clone())) {
            Some(stored) if stored.acceptance_token.as_deref().is_none_or(|t| t == from) => {
                stored.acceptance_token = Some(to.to_string());
                Ok(true)
            }
            _ => Ok(false),
        }
    }

    async fn remove(&self, tenant: &TenantId, id: &EventId, token: &str) -> Result<(), StoreError> {
        let mut events = lock(&self.events);
        let key = (tenant.clone(), id.clone());
        if events
            .get(&key)
            .is_some_and(|e| e.acceptance_token.as_deref() == Some(token))
        {
            events.remove(&key);
        }
        Ok(())
    }

    async fn get(
        &self,
        tenant: &TenantId,
        id: &EventId,
    ) -> Result<Option<StoredEvent>, StoreError> {
        self.reads.fetch_add(1, Ordering::SeqCst);
        Ok(lock(&self.events)
            .get(&(tenant.clone(), id.clone()))
            .cloned())
    }
}

/// (tenant, integration, hour): an hourly attempt counter's key.
type HourKey = (TenantId, IntegrationId, DateTime<Utc>);

#[derive(Default)]
pub struct MemoryDeliveryLog {
    deliveries: Mutex<BTreeMap<DeliveryId, (Delivery, Vec<Attempt>)>>,
    /// The hourly attempt counters, by (tenant, integration, hour).
    hours: Mutex<BTreeMap<HourKey, HourlyAttempts>>,
}

impl MemoryDeliveryLog {
    /// The deliveries `keep` selects that match `q`, newest first, one page
    /// (the cursor is an offset).
    fn page_of(
        &self,
        q: &DeliveryQuery,
        keep: impl Fn(&Delivery) -> bool,
    ) -> Result<Page<Delivery>, StoreError> {
        let mut items: Vec<Delivery> = lock(&self.deliveries)
            .values()
            .map(|(d, _)| d)
            .filter(|d| keep(d))
            .filter(|d| q.status.is_none_or(|s| d.status == s))
            .filter(|d| q.event_type.is_none_or(|t| d.event_type == t))
            .filter(|d| q.since.is_none_or(|s| d.created_at >= s))
            .filter(|d| q.until.is_none_or(|u| d.created_at < u))
            .cloned()
            .collect();
        items.sort_by(|a, b| b.created_at.cmp(&a.created_at).then(b.id.cmp(&a.id)));
        let skip: usize = q
            .cursor
            .as_deref()
            .map(|c| c.parse().map_err(|_| StoreError::BadCursor))
            .transpose()?
            .unwrap_or(0);
        let limit = q.limit.max(1);
        let page: Vec<Delivery> = items.iter().skip(skip).take(limit).cloned().collect();
        let next_cursor = (skip + limit < items.len()).then(|| (skip + limit).to_string());
        Ok(Page {
            items: page,
            next_cursor,
        })
    }

    /// The hourly counter of the attempt's integration and hour, as the DynamoDB log keeps it.
    fn count_attempt(&self, d: &Delivery, a: &Attempt) {
        let hour = hour_of(a.started_at);
        let mut hours = lock(&self.hours);
        let entry = hours
            .entry((d.tenant_id.clone(), d.integration_id.clone(), hour))
            .or_insert_with(|| HourlyAttempts {
                hour,
                succeeded: 0,
                failed: 0,
                last: None,
            });
        if a.succeeded() {
            entry.succeeded += 1;
        } else {
            entry.failed += 1;
        }
        entry.last = Some(LastAttempt::of(a));
    }

    pub fn snapshot(&self, id: &DeliveryId) -> Option<(Delivery, Vec<Attempt>)> {
        lock(&self.deliveries).get(id).cloned()
    }
}

#[async_trait]
impl DeliveryLog for MemoryDeliveryLog {
    async fn record_attempt(&self, d: &Delivery, a: &Attempt) -> Result<(), StoreError> {
        self.count_attempt(d, a);
        let mut all = lock(&self.deliveries);
        let entry = all
            .entry(d.id.clone())
            .or_insert_with(|| (d.clone(), Vec::new()));
        if entry.0.attempts <= d.attempts {
            entry.0 = d.clone();
        }
        entry
            .1
            .retain(|x| (x.number, x.started_at) != (a.number, a.started_at));
        entry.1.push(a.clone());
        entry.1.sort_by_key(|x| (x.number, x.started_at));
        Ok(())
    }

    async fn put_delivery(&self, d: &Delivery) -> Result<(), StoreError> {
        let mut all = lock(&self.deliveries);
        all.entry(d.id.clone())
            .and_modify(|e| e.0 = d.clone())
            .or_insert_with(|| (d.clone(), Vec::new()));
        Ok(())
    }

    async fn update_unless_moved(
        &self,
        d: &Delivery,
        seen_attempts: u32,
    ) -> Result<bool, StoreError> {
        let mut all = lock(&self.deliveries);
        match all.get_mut(&d.id) {
            Some(entry) if entry.0.attempts == seen_attempts => {
                entry.0 = d.clone();
                Ok(true)
            }
            None if seen_attempts == 0 => {
                all.insert(d.id.clone(), (d.clone(), Vec::new()));
                Ok(true)
            }
            _ => Ok(false),
        }
    }

    async fn get(
        &self,
        tenant: &TenantId,
        id: &DeliveryId,
    ) -> Result<Option<(Delivery, Vec<Attempt>)>, StoreError> {
        Ok(lock(&self.deliveries)
            .get(id)
            .filter(|(d, _)| &d.tenant_id == tenant)
            .map(|(d, attempts)| (d.clone(), attempts_shown_with(d, attempts.clone()))))
    }

    async fn list(
        &self,
        tenant: &TenantId,
        integration: &IntegrationId,
        q: &DeliveryQuery,
    ) -> Result<Page<Delivery>, StoreError> {
        self.page_of(q, |d| {
            &d.tenant_id == tenant && &d.integration_id == integration
        })
    }
}

/// A queue that keeps what was sent; `fail` makes every send fail.
#[derive(Default)]
pub struct MemoryQueue {
    pub sent: Mutex<Vec<OutgoingMessage>>,
    pub fail: AtomicBool,
}

impl MemoryQueue {
    pub fn take(&self) -> Vec<OutgoingMessage> {
        std::mem::take(&mut *lock(&self.sent))
    }
}

#[async_trait]
impl JobQueue for MemoryQueue {
    async fn send(&self, messages: &[OutgoingMessage]) -> Result<(), QueueError> {
        if self.fail.load(Ordering::SeqCst) {
            return Err(QueueError("memory queue set to fail".into()));
        }
        lock(&self.sent).extend(messages.iter().cloned());
        Ok(())
    }
}

/// A sender that answers from a script of outcomes (then repeats the last one).
pub struct ScriptedSender {
    script: Mutex<Vec<SendOutcome>>,
    pub requests: Mutex<Vec<OutboundRequest>>,
}

impl ScriptedSender {
    pub fn new(script: Vec<SendOutcome>) -> Self {
        Self {
            script: Mutex::new(script),
            requests: Mutex::new(Vec::new()),
        }
    }

    pub fn status(code: u16) -> SendOutcome {
        let ok = (200..300).contains(&code);
        SendOutcome {
            status_code: Some(code),
            error_kind: (!ok).then_some(crate::domain::delivery::ErrorKind::HttpStatus),
            error: (!ok).then(|| format!("HTTP {code}")),
            response_excerpt: None,
            duration: std::time::Duration::from_millis(3),
            retry_after: None,
        }
    }

    pub fn request_count(&self) -> usize {
        lock(&self.requests).len()
    }
}

#[async_trait]
impl WebhookSender for ScriptedSender {
    async fn send(&self, request: &OutboundRequest) -> SendOutcome {
        lock(&self.requests).push(request.clone());
        let mut script = lock(&self.script);
        if script.len() > 1 {
            script.remove(0)
        } else {
            script
                .first()
                .cloned()
                .unwrap_or_else(|| ScriptedSender::status(200))
        }
    }
}

/// A clock the test moves by hand.
pub struct ManualClock(pub Mutex<DateTime<Utc>>);

impl ManualClock {
    pub fn at(t: DateTime<Utc>) -> Self {
        Self(Mutex::new(t))
    }
    pub fn advance(&self, d: chrono::Duration) {
        *lock(&self.0) += d;
    }
}

impl Clock for ManualClock {
    fn now(&self) -> DateTime<Utc> {
        *lock(&self.0)
    }
}

/// Portal sessions by token hash.
#[derive(Default)]
pub struct MemoryPortalSessionStore {
    sessions: Mutex<HashMap<String, PortalSession>>,
}

impl MemoryPortalSessionStore {
    /// Whether a session is stored under this key (tests check what is kept).
    pub fn holds_hash(&self, key: &str) -> bool {
        lock(&self.sessions).contains_key(key)
    }
}

#[async_trait]
impl PortalSessionStore for MemoryPortalSessionStore {
    async fn create(&self, session: &PortalSession, token_hash: &str) -> Result<(), StoreError> {
        let mut sessions = lock(&self.sessions);
        if sessions.contains_key(token_hash) {
            return Err(StoreError::AlreadyExists);
        }
        sessions.insert(token_hash.to_string(), session.clone());
        Ok(())
    }

    async fn by_token_hash(&self, token_hash: &str) -> Result<Option<PortalSession>, StoreError> {
        Ok(lock(&self.sessions).get(token_hash).cloned())
    }

    async fn revoke(
        &self,
        tenant: &TenantId,
        id: &crate::domain::ids::PortalSessionId,
    ) -> Result<bool, StoreError> {
        let mut sessions = lock(&self.sessions);
        let before = sessions.len();
        sessions.retain(|_, s| !(&s.tenant_id == tenant && &s.id == id));
        Ok(sessions.len() < before)
    }

    async fn revoke_all(&self, tenant: &TenantId) -> Result<usize, StoreError> {
        let mut sessions = lock(&self.sessions);
        let before = sessions.len();
        sessions.retain(|_, s| &s.tenant_id != tenant);
        Ok(before - sessions.len())
    }
}

#[async_trait]
impl AttemptStats for MemoryDeliveryLog {
    async fn recent_hours(
        &self,
        tenant: &TenantId,
        integration: &IntegrationId,
        hours: usize,
    ) -> Result<Vec<HourlyAttempts>, StoreError> {
        Ok(lock(&self.hours)
            .iter()
            .rev()
            .filter(|((t, i, _), _)| t == tenant && i == integration)
            .take(hours)
            .map(|(_, h)| h.clone())
            .collect())
    }
}

#[async_trait]
impl ChatDeliveries for MemoryDeliveryLog {
    async fn list_for_chat(
        &self,
        tenant: &TenantId,
        chat_id: &str,
        integration: Option<&IntegrationId>,
        q: &DeliveryQuery,
    ) -> Result<Page<Delivery>, StoreError> {
        self.page_of(q, |d| {
            &d.tenant_id == tenant
                && d.chat_id.as_deref() == Some(chat_id)
                && integration.is_none_or(|i| &d.integration_id == i)
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::catalogue::EventType;
    use crate::domain::message::DeliveryJob;

    fn delivery(tenant: &TenantId, integration: &IntegrationId, chat: Option<&str>) -> Delivery {
        let job = DeliveryJob::first(
            tenant,
            &EventId::generate(),
            EventType::ChatClosed,
            integration,
            Utc::now(),
        );
        Delivery {
            chat_id: chat.map(str::to_string),
            ..Delivery::pending(&job, Utc::now())
        }
    }

    #[tokio::test]
    async fn a_conversation_lists_across_integrations_for_its_tenant_only() {
        let log = MemoryDeliveryLog::default();
        let (tenant, other) = (TenantId::generate(), TenantId::generate());
        let (a, b) = (IntegrationId::generate(), IntegrationId::generate());
        for d in [
            delivery(&tenant, &a, Some("c-1")),
            delivery(&tenant, &b, Some("c-1")),
            delivery(&tenant, &a, Some("c-2")),
            delivery(&tenant, &a, None),
            delivery(&other, &a, Some("c-1")),
        ] {
            log.put_delivery(&d).await.unwrap();
        }
        let q = DeliveryQuery {
            limit: 10,
            ..Default::default()
        };
        let all = log.list_for_chat(&tenant, "c-1", None, &q).await.unwrap();
        assert_eq!(all.items.len(), 2);
        assert!(all.items.iter().all(|d| d.tenant_id == tenant));
        let one = log
            .list_for_chat(&tenant, "c-1", Some(&b), &q)
            .await
            .unwrap();
        assert_eq!(one.items.len(), 1);
        assert_eq!(one.items[0].integration_id, b);
        let paged = DeliveryQuery { limit: 1, ..q };
        let first = log
            .list_for_chat(&tenant, "c-1", None, &paged)
            .await
            .unwrap();
        assert!(first.next_cursor.is_some());
    }
}

/// A token's source, and until when it answers "deleted" once the source is.
type SourceToken = (crate::domain::source::SourceId, Option<DateTime<Utc>>);

/// Sources and the tokens naming them (a token of a deleted source keeps
/// its tombstone).
#[derive(Default)]
pub struct MemorySourceStore {
    sources: Mutex<BTreeMap<crate::domain::source::SourceId, crate::domain::source::Source>>,
    /// By token hash.
    tokens: Mutex<HashMap<String, SourceToken>>,
}

impl MemorySourceStore {
    /// Whether any token is stored under this key (tests check what is kept).
    pub fn holds_token_hash(&self, key: &str) -> bool {
        lock(&self.tokens).contains_key(key)
    }
}

#[async_trait]
impl SourceStore for MemorySourceStore {
    async fn create(&self, source: &crate::domain::source::Source) -> Result<(), StoreError> {
        let mut sources = lock(&self.sources);
        let mut tokens = lock(&self.tokens);
        if sources.contains_key(&source.id) || tokens.contains_key(&source.token_hash) {
            return Err(StoreError::AlreadyExists);
        }
        tokens.insert(source.token_hash.clone(), (source.id.clone(), None));
        sources.insert(source.id.clone(), source.clone());
        Ok(())
    }

    async fn get(
        &self,
        tenant: &TenantId,
        id: &crate::domain::source::SourceId,
    ) -> Result<Option<crate::domain::source::Source>, StoreError> {
        Ok(lock(&self.sources)
            .get(id)
            .filter(|s| &s.tenant_id == tenant)
            .cloned())
    }

    async fn list(
        &self,
        tenant: &TenantId,
    ) -> Result<Vec<crate::domain::source::Source>, StoreError> {
        Ok(lock(&self.sources)
            .values()
            .filter(|s| &s.tenant_id == tenant)
            .cloned()
            .collect())
    }

    async fn rotate(
        &self,
        previous: &crate::domain::source::Source,
        next: &crate::domain::source::Source,
    ) -> Result<bool, StoreError> {
        let mut sources = lock(&self.sources);
        let mut tokens = lock(&self.tokens);
        match sources.get(&previous.id) {
            Some(stored) if stored == previous => {}
            _ => return Ok(false),
        }
        if tokens.contains_key(&next.token_hash) {
            return Err(StoreError::AlreadyExists);
        }
        if let Some(older) = &previous.previous_token {
            tokens.remove(&older.hash);
        }
        if next.previous_token.is_none() {
            tokens.remove(&previous.token_hash);
        }
        tokens.insert(next.token_hash.clone(), (next.id.clone(), None));
        sources.insert(next.id.clone(), next.clone());
        Ok(true)
    }

    async fn delete(
        &self,
        tenant: &TenantId,
        id: &crate::domain::source::SourceId,
        deleted_until: DateTime<Utc>,
    ) -> Result<bool, StoreError> {
        let mut sources = lock(&self.sources);
        if sources.get(id).is_none_or(|s| &s.tenant_id != tenant) {
            return Ok(false);
        }
        sources.remove(id);
        for (source, until) in lock(&self.tokens).values_mut() {
            if source == id {
                *until = Some(deleted_until);
            }
        }
        Ok(true)
    }

    async fn by_token_hash(&self, token_hash: &str) -> Result<Option<SourceLookup>, StoreError> {
        let Some((id, deleted)) = lock(&self.tokens).get(token_hash).cloned() else {
            return Ok(None);
        };
        if deleted.is_some() {
            return Ok(Some(SourceLookup::Deleted));
        }
        Ok(lock(&self.sources)
            .get(&id)
            .cloned()
            .map(SourceLookup::Live))
    }
}

/// The chats' sequences, keyed like the table's: integration, chat, position.
#[derive(Default)]
pub struct MemorySequenceStore {
    entries: Mutex<BTreeMap<SequenceKey, crate::domain::sequence::SequenceEntry>>,
}

type SequenceKey = (
    TenantId,
    IntegrationId,
    String,
    crate::domain::sequence::Position,
    DeliveryId,
);

fn sequence_key(job: &crate::domain::message::DeliveryJob) -> Option<SequenceKey> {
    let o = job.ordered.as_ref()?;
    Some((
        job.tenant_id.clone(),
        job.integration_id.clone(),
        o.chat.clone(),
        o.position,
        job.delivery_id.clone(),
    ))
}

impl MemorySequenceStore {
    /// Every stored entry, in key order.
    pub fn all(&self) -> Vec<crate::domain::sequence::SequenceEntry> {
        lock(&self.entries).values().cloned().collect()
    }
}

#[async_trait]
impl SequenceStore for MemorySequenceStore {
    async fn append(
        &self,
        entries: &[crate::domain::sequence::SequenceEntry],
        _expires_at: DateTime<Utc>,
    ) -> Result<(), StoreError> {
        let mut all = lock(&self.entries);
        for e in entries {
            if let Some(key) = sequence_key(&e.job) {
                all.insert(key, e.clone());
            }
        }
        Ok(())
    }

    async fn head(
        &self,
        tenant: &TenantId,
        integration: &IntegrationId,
        chat: &str,
    ) -> Result<Option<crate::domain::sequence::SequenceEntry>, StoreError> {
        Ok(lock(&self.entries)
            .iter()
            .find(|((t, i, c, ..), _)| t == tenant && i == integration && c == chat)
            .map(|(_, e)| e.clone()))
    }

    async fn park(
        &self,
        entry: &crate::domain::sequence::SequenceEntry,
        head: &crate::domain::sequence::SequenceEntry,
    ) -> Result<bool, StoreError> {
        let mut all = lock(&self.entries);
        let (Some(mine), Some(theirs)) = (sequence_key(&entry.job), sequence_key(&head.job)) else {
            return Ok(false);
        };
        if !all.contains_key(&theirs) {
            return Ok(false);
        }
        match all.get_mut(&mine) {
            Some(e) => {
                e.parked = true;
                Ok(true)
            }
            None => Ok(false),
        }
    }

    async fn unpark(
        &self,
        entry: &crate::domain::sequence::SequenceEntry,
    ) -> Result<(), StoreError> {
        if let Some(key) = sequence_key(&entry.job)
            && let Some(e) = lock(&self.entries).get_mut(&key)
        {
            e.parked = false;
        }
        Ok(())
    }

    async fn remove(&self, job: &crate::domain::message::DeliveryJob) -> Result<(), StoreError> {
        if let Some(key) = sequence_key(job) {
            lock(&self.entries).remove(&key);
        }
        Ok(())
    }

    async fn entries(
        &self,
        tenant: &TenantId,
        integration: &IntegrationId,
        chat: Option<&str>,
    ) -> Result<Vec<crate::domain::sequence::SequenceEntry>, StoreError> {
        Ok(lock(&self.entries)
            .iter()
            .filter(|((t, i, c, ..), _)| {
                t == tenant && i == integration && chat.is_none_or(|chat| c == chat)
            })
            .map(|(_, e)| e.clone())
            .collect())
    }
}
