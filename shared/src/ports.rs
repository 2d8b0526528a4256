//! Ports: what the application needs from the outside world, one narrow
//! async trait per capability. Adapters implement them on DynamoDB, SQS and
//! HTTP; `adapters::memory` implements them in memory for unit tests.
use async_trait::async_trait;
use chrono::{DateTime, Utc};
use std::collections::HashMap;
use std::time::Duration;

use crate::domain::api_key::ApiKey;
use crate::domain::catalogue::EventType;
pub use crate::domain::delivery::SendOutcome;
use crate::domain::delivery::{Attempt, Delivery, DeliveryStatus, ErrorKind};
use crate::domain::event::Event;
use crate::domain::ids::{ApiKeyId, DeliveryId, EventId, IntegrationId, PortalSessionId, TenantId};
use crate::domain::integration::Integration;
use crate::domain::message::{DeliveryJob, QueueMessage};
use crate::domain::target_url::TargetUrl;
use crate::domain::tenant::TenantStatus;

pub type BoxError = Box<dyn std::error::Error + Send + Sync>;

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("the store is unavailable")]
    Unavailable(#[source] BoxError),
    #[error("a stored item could not be read: {0}")]
    Corrupt(String),
    #[error("the pagination cursor is not valid")]
    BadCursor,
    #[error("the item already exists")]
    AlreadyExists,
    /// A request of ours the store's client refused to build or a value
    /// that does not map to an item: a bug, not an outage.
    #[error("the store request could not be made")]
    Internal(#[source] BoxError),
}

/// Where the functions' metrics go, as EMF lines (`crate::metrics`): stdout
/// on Lambda, memory in the local stack and tests.
pub trait MetricsSink: Send + Sync {
    /// One complete EMF JSON object (no newline).
    fn write_line(&self, line: &str);
}

#[derive(Debug, thiserror::Error)]
#[error("the queue is unavailable")]
pub struct QueueError(#[source] pub BoxError);

/// One page of a listing; `next_cursor` is opaque to callers.
#[derive(Debug, Clone, PartialEq)]
pub struct Page<T> {
    pub items: Vec<T>,
    pub next_cursor: Option<String>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Tenant {
    pub id: TenantId,
    pub name: String,
    pub created_at: DateTime<Utc>,
    pub status: TenantStatus,
}

/// An API key item as the lookup by hash finds it.
#[derive(Debug, Clone, PartialEq)]
pub enum StoredKey {
    /// A key with its id, name and dates.
    Named(ApiKey),
    /// A key stored before keys had names: only its tenant is known; the
    /// first request with it adopts it as a named key (`adopt_key`).
    Unnamed(TenantId),
}

impl StoredKey {
    pub fn tenant(&self) -> &TenantId {
        match self {
            Self::Named(key) => &key.tenant_id,
            Self::Unnamed(tenant) => tenant,
        }
    }
}

/// The key a hash names, then its tenant: two strong reads, one after the
/// other (`TenantStore::key_with_tenant` without a better way).
pub async fn key_then_tenant<S: TenantStore + ?Sized>(
    store: &S,
    key_hash: &str,
) -> Result<Option<(StoredKey, Option<Tenant>)>, StoreError> {
    let Some(key) = store.key_by_hash(key_hash).await? else {
        return Ok(None);
    };
    let tenant = store.get(key.tenant()).await?;
    Ok(Some((key, tenant)))
}

/// What revoking a key did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Revoked {
    Revoked,
    /// The tenant has no such key.
    NotFound,
    /// It is the tenant's last key: kept.
    LastKey,
}

/// What adding a key did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Added {
    Added,
    /// The tenant already holds `MAX_KEYS_PER_TENANT` keys.
    TooMany,
    /// The tenant is not active (suspended, being deleted or gone).
    TenantNotActive,
}

/// How far one purge step got.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PurgeProgress {
    /// Items deleted by this step.
    pub deleted: usize,
    /// Nothing of the tenant remains, the tenant item included.
    pub done: bool,
}

#[async_trait]
pub trait TenantStore: Send + Sync {
    /// Store a tenant and its first API key (under the key's SHA-256 hex).
    async fn create(
        &self,
        tenant: &Tenant,
        first_key: &ApiKey,
        key_hash: &str,
    ) -> Result<(), StoreError>;
    /// The key a hash names, read strongly so a revocation counts at once;
    /// expired keys are returned (the caller checks).
    async fn key_by_hash(&self, key_hash: &str) -> Result<Option<StoredKey>, StoreError>;
    /// The key a hash names and its tenant (`None` inside when the tenant is
    /// gone), both read strongly, as `key_by_hash` then `get`. One request
    /// when the store already knows which tenant the key belongs to.
    async fn key_with_tenant(
        &self,
        key_hash: &str,
    ) -> Result<Option<(StoredKey, Option<Tenant>)>, StoreError> {
        key_then_tenant(self, key_hash).await
    }
    /// Give an unnamed key (`StoredKey::Unnamed`) its id, name and dates and
    /// list it with the tenant's keys; nothing when it already has them.
    async fn adopt_key(&self, key: &ApiKey, key_hash: &str) -> Result<(), StoreError>;
    /// Record a use of the key at `at`, unless one was recorded less than a
    /// minute before (a conditional write: concurrent requests write once).
    async fn touch_key(&self, key_hash: &str, at: DateTime<Utc>) -> Result<(), StoreError>;
    /// The tenant, read strongly.
    async fn get(&self, id: &TenantId) -> Result<Option<Tenant>, StoreError>;
    /// Every tenant, oldest first.
    async fn list(&self, cursor: Option<&str>, limit: usize) -> Result<Page<Tenant>, StoreError>;
    /// Suspend or reactivate; `None` when there is no such tenant. A tenant
    /// being deleted stays so (its status is answered unchanged).
    async fn set_suspended(
        &self,
        id: &TenantId,
        suspended: bool,
    ) -> Result<Option<TenantStatus>, StoreError>;
    /// Add a key to an active tenant holding fewer than `max` keys.
    async fn add_key(&self, key: &ApiKey, key_hash: &str, max: usize) -> Result<Added, StoreError>;
    /// The tenant's named keys, oldest first.
    async fn list_keys(&self, tenant: &TenantId) -> Result<Vec<ApiKey>, StoreError>;
    /// Revoke one of the tenant's keys, unless it is its last.
    async fn revoke_key(&self, tenant: &TenantId, id: &ApiKeyId) -> Result<Revoked, StoreError>;
    /// Mark the tenant as being deleted (its keys stop at once); `false`
    /// when there is no such tenant.
    async fn mark_deleting(&self, id: &TenantId) -> Result<bool, StoreError>;
    /// One bounded step of purging a tenant marked as being deleted: it
    /// continues where the last step stopped (kept in the store, so a step
    /// cut short by a timeout loses nothing) and removes the tenant item
    /// itself once nothing else of it remains.
    async fn purge_step(&self, id: &TenantId) -> Result<PurgeProgress, StoreError>;
}

#[async_trait]
pub trait IntegrationStore: Send + Sync {
    async fn create(&self, integration: &Integration) -> Result<(), StoreError>;
    async fn get(
        &self,
        tenant: &TenantId,
        id: &IntegrationId,
    ) -> Result<Option<Integration>, StoreError>;
    /// The tenant's integrations in id (= creation) order.
    async fn list(
        &self,
        tenant: &TenantId,
        cursor: Option<&str>,
        limit: usize,
    ) -> Result<Page<Integration>, StoreError>;
    /// Replace `previous` (as read) with `next`, only while the stored
    /// integration is still `previous` as far as the engine's own writes go
    /// (`updated_at`, `enabled`, `failing_since`): a change made meanwhile,
    /// such as the dispatcher disabling it, is never written over. `false`
    /// when it changed or no longer exists: read it again.
    async fn replace(&self, previous: &Integration, next: &Integration)
    -> Result<bool, StoreError>;
    /// `false` when it did not exist.
    async fn delete(&self, tenant: &TenantId, id: &IntegrationId) -> Result<bool, StoreError>;
    /// Set or clear the start of the integration's current failure run
    /// (a targeted update that cannot clobber a concurrent change of settings).
    async fn set_failing_since(
        &self,
        tenant: &TenantId,
        id: &IntegrationId,
        since: Option<DateTime<Utc>>,
    ) -> Result<(), StoreError>;
    /// Disable the integration with the reason shown to the tenant.
    async fn disable(
        &self,
        tenant: &TenantId,
        id: &IntegrationId,
        reason: &str,
        at: DateTime<Utc>,
    ) -> Result<(), StoreError>;
}

/// What a conditional insert of an event found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum InsertOutcome {
    /// First time seen: stored with the caller's acceptance token.
    New,
    /// Already stored, under the acceptance token of whoever stored it.
    Duplicate { token: String },
}

/// An accepted event as stored, with the token of the intake request whose
/// delivery jobs are the valid ones (see [`crate::domain::message::DeliveryJob::token`]).
#[derive(Debug, Clone, PartialEq)]
pub struct StoredEvent {
    pub event: Event,
    pub acceptance_token: Option<String>,
    /// When the intake first stored it.
    pub received_at: Option<DateTime<Utc>>,
}

#[async_trait]
pub trait EventStore: Send + Sync {
    /// Store the event unless its (tenant, id) is already stored, in one
    /// conditional write. `token` marks the jobs this intake request queues.
    async fn insert(
        &self,
        tenant: &TenantId,
        event: &Event,
        token: &str,
        expires_at: DateTime<Utc>,
    ) -> Result<InsertOutcome, StoreError>;
    /// Move a stored event from token `from` to token `to` (a repeat of the
    /// event re-queues its jobs under `to`; jobs still queued under `from`
    /// then stand down). `false` when the token is no longer `from`.
    async fn retoken(
        &self,
        tenant: &TenantId,
        id: &EventId,
        from: &str,
        to: &str,
    ) -> Result<bool, StoreError>;
    /// Delete the event if it still carries `token` (an intake undoing its
    /// own insert after the queue refused the jobs).
    async fn remove(&self, tenant: &TenantId, id: &EventId, token: &str) -> Result<(), StoreError>;
    async fn get(&self, tenant: &TenantId, id: &EventId)
    -> Result<Option<StoredEvent>, StoreError>;
}

/// A stored event's key: the tenant and the event id.
pub type EventKey = (TenantId, EventId);

/// An integration's key: its tenant and its id.
pub type IntegrationKey = (TenantId, IntegrationId);

/// What a dispatcher batch reads before its jobs run: each event, each
/// integration and each tenant's status once.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct AheadKeys {
    pub events: Vec<EventKey>,
    pub integrations: Vec<IntegrationKey>,
    pub tenants: Vec<TenantId>,
}

/// What a read ahead found. A key with `None` is known not to be stored; a
/// key missing was not read (the job concerned reads it for itself).
#[derive(Debug, Clone, Default)]
pub struct AheadItems {
    pub events: HashMap<EventKey, Option<StoredEvent>>,
    pub integrations: HashMap<IntegrationKey, Option<Integration>>,
    pub tenants: HashMap<TenantId, Option<TenantStatus>>,
}

/// The read ahead of a dispatcher batch, as strong as each store's own
/// reads (strongly consistent), in as few requests as the store allows.
#[async_trait]
pub trait ReadAhead: Send + Sync {
    async fn read_ahead(&self, keys: &AheadKeys) -> Result<AheadItems, StoreError>;
}

#[derive(Debug, Clone, Default)]
pub struct DeliveryQuery {
    pub status: Option<DeliveryStatus>,
    pub event_type: Option<EventType>,
    /// Only deliveries created in [since, until).
    pub since: Option<DateTime<Utc>>,
    pub until: Option<DateTime<Utc>>,
    pub cursor: Option<String>,
    pub limit: usize,
}

#[async_trait]
pub trait DeliveryLog: Send + Sync {
    /// Store an attempt and the delivery's new state. The state is not
    /// written over one with more attempts (an attempt finishing after a
    /// later one); the attempt is logged either way. Readers never see the
    /// state without its attempt (`delivery::attempts_shown_with`).
    async fn record_attempt(
        &self,
        delivery: &Delivery,
        attempt: &Attempt,
    ) -> Result<(), StoreError>;
    /// Write the attempts recorded since the last call into the hourly
    /// health counters (`AttemptStats`): a consumer calls it once per batch,
    /// so counting costs one write per integration and hour, not per attempt.
    /// Best effort: what cannot be written is dropped with a warning.
    async fn flush_counts(&self) {}
    /// Write the delivery's state as is (fixtures and tools; the engine's
    /// writes go through `record_attempt` and `update_unless_moved`).
    async fn put_delivery(&self, delivery: &Delivery) -> Result<(), StoreError>;
    /// Write a state decided from what the log showed with `seen_attempts`
    /// attempts (re-queued by hand, failed without an attempt), unless the
    /// log has moved on meanwhile: a job may run and log its attempt before
    /// this write lands, and its outcome must not be overwritten. A delivery
    /// not in the log yet has 0 attempts. `false` when the newer state stays.
    async fn update_unless_moved(
        &self,
        delivery: &Delivery,
        seen_attempts: u32,
    ) -> Result<bool, StoreError>;
    /// The delivery with its attempts, oldest first; `None` for another tenant's.
    async fn get(
        &self,
        tenant: &TenantId,
        id: &DeliveryId,
    ) -> Result<Option<(Delivery, Vec<Attempt>)>, StoreError>;
    /// An integration's deliveries, newest first.
    async fn list(
        &self,
        tenant: &TenantId,
        integration: &IntegrationId,
        query: &DeliveryQuery,
    ) -> Result<Page<Delivery>, StoreError>;
}

/// One message to enqueue, visible after `delay_seconds` (0-900).
#[derive(Debug, Clone)]
pub struct OutgoingMessage {
    pub body: QueueMessage,
    pub delay_seconds: u32,
}

#[async_trait]
pub trait JobQueue: Send + Sync {
    /// Enqueue all messages; `Ok` only once the queue accepted every one.
    async fn send(&self, messages: &[OutgoingMessage]) -> Result<(), QueueError>;
}

/// An HTTP request ready to go out: rendered, signed, with its headers.
#[derive(Clone)]
pub struct OutboundRequest {
    pub url: TargetUrl,
    pub headers: Vec<(String, String)>,
    pub body: bytes::Bytes,
    pub timeout: Duration,
}

#[async_trait]
pub trait WebhookSender: Send + Sync {
    async fn send(&self, request: &OutboundRequest) -> SendOutcome;
}

/// The clock, so time-dependent logic can be tested.
pub trait Clock: Send + Sync {
    fn now(&self) -> DateTime<Utc>;
}

pub struct SystemClock;

impl Clock for SystemClock {
    fn now(&self) -> DateTime<Utc> {
        Utc::now()
    }
}

/// A portal session as stored: its token is kept only as a SHA-256 hash.
#[derive(Debug, Clone, PartialEq)]
pub struct PortalSession {
    pub id: PortalSessionId,
    pub tenant_id: TenantId,
    pub read_only: bool,
    pub created_at: DateTime<Utc>,
    /// Refused from this instant on, whether or not TTL has removed it yet.
    pub expires_at: DateTime<Utc>,
}

#[async_trait]
pub trait PortalSessionStore: Send + Sync {
    /// Store a new session under the SHA-256 (hex) of its token.
    async fn create(&self, session: &PortalSession, token_hash: &str) -> Result<(), StoreError>;
    /// The session a token hash names, read strongly so a revocation counts
    /// at once. Expired sessions still stored are returned: the caller checks.
    async fn by_token_hash(&self, token_hash: &str) -> Result<Option<PortalSession>, StoreError>;
    /// Revoke one of the tenant's sessions; `false` when the tenant has no such session.
    async fn revoke(&self, tenant: &TenantId, id: &PortalSessionId) -> Result<bool, StoreError>;
    /// Revoke every session of the tenant; answers how many there were.
    async fn revoke_all(&self, tenant: &TenantId) -> Result<usize, StoreError>;
}

/// The last attempt an integration made, as its hourly counter keeps it.
#[derive(Debug, Clone, PartialEq, serde::Serialize, schemars::JsonSchema)]
pub struct LastAttempt {
    pub at: DateTime<Utc>,
    pub ok: bool,
    pub status_code: Option<u16>,
    pub error_kind: Option<ErrorKind>,
}

/// One hour of an integration's attempts.
#[derive(Debug, Clone, PartialEq)]
pub struct HourlyAttempts {
    /// The start of the hour (UTC).
    pub hour: DateTime<Utc>,
    pub succeeded: u64,
    pub failed: u64,
    /// The attempt logged last in that hour.
    pub last: Option<LastAttempt>,
}

/// The per-integration hourly attempt counters the delivery log keeps as it
/// records attempts (`DeliveryLog::flush_counts`), so health is read
/// without scanning the log.
#[async_trait]
pub trait AttemptStats: Send + Sync {
    /// The integration's newest `hours` hourly counters that exist, newest
    /// first, in one read.
    async fn recent_hours(
        &self,
        tenant: &TenantId,
        integration: &IntegrationId,
        hours: usize,
    ) -> Result<Vec<HourlyAttempts>, StoreError>;
}

/// The deliveries of one conversation (the event's `chat.id`), across the
/// tenant's integrations.
#[async_trait]
pub trait ChatDeliveries: Send + Sync {
    /// Newest first, filtered by `query` and, when given, one integration.
    async fn list_for_chat(
        &self,
        tenant: &TenantId,
        chat_id: &str,
        integration: Option<&IntegrationId>,
        query: &DeliveryQuery,
    ) -> Result<Page<Delivery>, StoreError>;
}

/// The start of the hour `at` falls in: the key of its hourly counter.
pub fn hour_of(at: DateTime<Utc>) -> DateTime<Utc> {
    let secs = at.timestamp();
    DateTime::from_timestamp(secs - secs.rem_euclid(3600), 0).unwrap_or(at)
}

impl LastAttempt {
    pub fn of(attempt: &Attempt) -> Self {
        Self {
            at: attempt.started_at,
            ok: attempt.succeeded(),
            status_code: attempt.status_code,
            error_kind: attempt.error_kind,
        }
    }
}

/// What a source URL's token names.
#[derive(Debug, Clone, PartialEq)]
pub enum SourceLookup {
    /// A source's current URL token, or the one its last rotation replaced
    /// (`Source::previous_token`: the caller checks its expiry).
    Live(crate::domain::source::Source),
    /// The token of a source deleted less than `DELETED_KEPT` ago.
    Deleted,
}

/// Sources (`domain::source`): a source item per source, and one item per
/// URL token naming it, looked up by the token's SHA-256.
#[async_trait]
pub trait SourceStore: Send + Sync {
    /// Store a new source and its URL token.
    async fn create(&self, source: &crate::domain::source::Source) -> Result<(), StoreError>;
    /// The tenant's source, read strongly; `None` for another tenant's.
    async fn get(
        &self,
        tenant: &TenantId,
        id: &crate::domain::source::SourceId,
    ) -> Result<Option<crate::domain::source::Source>, StoreError>;
    /// The tenant's sources, oldest first.
    async fn list(
        &self,
        tenant: &TenantId,
    ) -> Result<Vec<crate::domain::source::Source>, StoreError>;
    /// Replace `previous` (as read) with `next` (`Source::rotated`): `next`'s
    /// token works at once, `previous`'s current one until
    /// `next.previous_token` expires (at once when it has none), and a token
    /// `previous` still kept from an earlier rotation stops. `false` when the
    /// source changed meanwhile or is gone: read it again.
    async fn rotate(
        &self,
        previous: &crate::domain::source::Source,
        next: &crate::domain::source::Source,
    ) -> Result<bool, StoreError>;
    /// Delete the tenant's source: its tokens answer `Deleted` until
    /// `deleted_until`. `false` when the tenant has no such source.
    async fn delete(
        &self,
        tenant: &TenantId,
        id: &crate::domain::source::SourceId,
        deleted_until: DateTime<Utc>,
    ) -> Result<bool, StoreError>;
    /// What the token with this SHA-256 (hex) names, read strongly.
    async fn by_token_hash(&self, token_hash: &str) -> Result<Option<SourceLookup>, StoreError>;
}

/// The chats' delivery sequences of ordered integrations
/// (`domain::sequence`): one per integration and chat, in position order.
#[async_trait]
pub trait SequenceStore: Send + Sync {
    /// Put deliveries in their sequences (not parked); `Ok` once all are stored.
    async fn append(
        &self,
        entries: &[crate::domain::sequence::SequenceEntry],
        expires_at: DateTime<Utc>,
    ) -> Result<(), StoreError>;
    /// The first entry of the job's sequence, read strongly.
    async fn head(
        &self,
        tenant: &TenantId,
        integration: &IntegrationId,
        chat: &str,
    ) -> Result<Option<crate::domain::sequence::SequenceEntry>, StoreError>;
    /// Mark `entry` parked, only while `head` is still in the sequence (one
    /// atomic write): `false` when `head` has left meanwhile (or `entry`
    /// has), so the caller looks at the head again. Whoever removes `head`
    /// afterwards sees the mark (`remove` then `head`, both strong).
    async fn park(
        &self,
        entry: &crate::domain::sequence::SequenceEntry,
        head: &crate::domain::sequence::SequenceEntry,
    ) -> Result<bool, StoreError>;
    /// Clear the mark once its job was sent again; nothing when the entry is gone.
    async fn unpark(
        &self,
        entry: &crate::domain::sequence::SequenceEntry,
    ) -> Result<(), StoreError>;
    /// Take the job's delivery out of its sequence; nothing when it is not in it.
    async fn remove(&self, job: &DeliveryJob) -> Result<(), StoreError>;
    /// The integration's entries of one chat (`Some`) or of every chat, in
    /// sequence order per chat.
    async fn entries(
        &self,
        tenant: &TenantId,
        integration: &IntegrationId,
        chat: Option<&str>,
    ) -> Result<Vec<crate::domain::sequence::SequenceEntry>, StoreError>;
}
