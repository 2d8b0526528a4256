//! Application services: what the four functions do, written against the
//! ports only, so they run the same on AWS, on the local stack and in unit
//! tests with in-memory adapters.
use std::sync::Arc;

use crate::domain::ValidationError;
use crate::ports::{
    AttemptStats, ChatDeliveries, DeliveryLog, EventStore, IntegrationStore, PortalSessionStore,
    QueueError, ReadAhead, SequenceStore, SourceStore, StoreError, TenantStore,
};

pub mod api_keys;
pub mod auth;
pub mod batch_reads;
pub mod cache;
pub mod caller;
pub mod catalogue;
pub mod deliveries;
pub mod dispatch;
pub mod failure;
pub mod intake;
pub mod integrations;
pub mod ordering;
#[cfg(test)]
mod ordering_tests;
pub mod outbound;
pub mod portal;
pub mod preview;
pub mod retry;
pub mod rocketchat_settings;
pub mod sources;
pub mod stats;
pub mod tenants;

/// The errors of the application layer; `api::ApiError` maps them to HTTP.
#[derive(Debug, thiserror::Error)]
pub enum AppError {
    #[error(transparent)]
    Invalid(#[from] ValidationError),
    #[error("missing or invalid API key")]
    Unauthorized,
    /// A portal token that expired or was revoked (401).
    #[error("the portal link has expired or was revoked")]
    PortalLinkEnded,
    /// An authenticated caller without the right (403): `code` is stable
    /// (`read_only`, `forbidden`).
    #[error("{message}")]
    Forbidden { code: &'static str, message: String },
    #[error("{0} not found")]
    NotFound(&'static str),
    #[error("{0}")]
    Conflict(String),
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error(transparent)]
    Queue(#[from] QueueError),
}

/// The stores, wired once per cold start.
#[derive(Clone)]
pub struct Stores {
    pub tenants: Arc<dyn TenantStore>,
    pub integrations: Arc<dyn IntegrationStore>,
    pub events: Arc<dyn EventStore>,
    pub deliveries: Arc<dyn DeliveryLog>,
    pub portal_sessions: Arc<dyn PortalSessionStore>,
    /// The hourly attempt counters the delivery log keeps.
    pub stats: Arc<dyn AttemptStats>,
    /// The delivery log by conversation.
    pub chats: Arc<dyn ChatDeliveries>,
    /// Sources and their URL tokens.
    pub sources: Arc<dyn SourceStore>,
    /// The chats' sequences of ordered integrations.
    pub sequences: Arc<dyn SequenceStore>,
    /// A dispatcher batch's reads, in one request.
    pub read_ahead: Arc<dyn ReadAhead>,
}
