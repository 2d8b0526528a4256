//! Tenants: created, listed, suspended and deleted with the admin key.
//! Creating one makes its first API key.
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use std::time::{Duration, Instant};

use super::AppError;
use super::auth::{key_hash, new_api_key};
use crate::domain::ValidationError;
use crate::domain::api_key::{self, ApiKey};
use crate::domain::ids::{ApiKeyId, TenantId};
use crate::domain::tenant::TenantStatus;
use crate::ports::{Page, Tenant, TenantStore};

#[derive(Debug, Deserialize, Default, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct NewTenant {
    #[serde(default)]
    pub name: Option<String>,
}

/// The answer to a tenant creation: the API key is shown this once.
#[derive(Debug, Serialize, schemars::JsonSchema)]
pub struct CreatedTenant {
    pub id: TenantId,
    pub name: String,
    pub api_key: String,
    /// The id of that first key (`GET /v1/api-keys`).
    pub api_key_id: ApiKeyId,
    pub created_at: DateTime<Utc>,
}

/// A tenant as the admin routes show it.
#[derive(Debug, Serialize, schemars::JsonSchema)]
pub struct TenantView {
    pub id: TenantId,
    pub name: String,
    pub created_at: DateTime<Utc>,
    pub status: TenantStatus,
}

impl From<Tenant> for TenantView {
    fn from(t: Tenant) -> Self {
        Self {
            id: t.id,
            name: t.name,
            created_at: t.created_at,
            status: t.status,
        }
    }
}

#[derive(Debug, Serialize, schemars::JsonSchema)]
pub struct TenantPage {
    pub items: Vec<TenantView>,
    pub next_cursor: Option<String>,
}

/// `PATCH /v1/tenants/{id}`.
#[derive(Debug, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct TenantPatch {
    /// `true` suspends the tenant, `false` lifts the suspension.
    pub suspended: bool,
}

/// A deletion that ran out of its time budget: call `DELETE` again to continue.
#[derive(Debug, Serialize, schemars::JsonSchema)]
pub struct DeletionInProgress {
    pub id: TenantId,
    pub status: TenantStatus,
    /// Items removed by this call.
    pub deleted_items: usize,
}

pub enum Deletion {
    Done,
    InProgress(DeletionInProgress),
}

/// What the dispatcher does instead of sending a job of a tenant it may not
/// serve, given the tenant's status (`None`: no such tenant); `None`: the
/// tenant may be served. A suspended tenant's delivery
/// fails with the reason, logged; a tenant being deleted gets nothing
/// logged (its log is being purged). A tenant that is gone has no
/// integrations left either: the integration check refuses its jobs.
pub async fn refuse_delivery(
    status: Option<TenantStatus>,
    log: &dyn crate::ports::DeliveryLog,
    job: &crate::domain::message::DeliveryJob,
    now: DateTime<Utc>,
) -> Result<Option<super::dispatch::Outcome>, AppError> {
    use super::dispatch::Outcome;
    match status {
        Some(TenantStatus::Suspended) => {
            let reason = crate::domain::tenant::SUSPENDED_DELIVERY_REASON;
            super::failure::fail_without_attempt(log, job, reason, now).await?;
            Ok(Some(Outcome::Failed {
                reason: reason.into(),
            }))
        }
        Some(TenantStatus::Deleting) => Ok(Some(Outcome::Failed {
            reason: "the tenant is being deleted".into(),
        })),
        _ => Ok(None),
    }
}

pub async fn create(store: &dyn TenantStore, input: NewTenant) -> Result<CreatedTenant, AppError> {
    let name = input.name.unwrap_or_else(|| "tenant".into());
    if name.trim().is_empty() || name.len() > 200 || name.chars().any(char::is_control) {
        return Err(ValidationError::field(
            "name",
            "must be 1-200 characters without control characters",
        )
        .into());
    }
    let tenant = Tenant {
        id: TenantId::generate(),
        name,
        created_at: Utc::now(),
        status: TenantStatus::Active,
    };
    let secret = new_api_key();
    let first = ApiKey {
        id: ApiKeyId::generate(),
        tenant_id: tenant.id.clone(),
        name: "default".into(),
        prefix: api_key::shown_prefix(&secret),
        created_at: tenant.created_at,
        expires_at: None,
        last_used_at: None,
    };
    store.create(&tenant, &first, &key_hash(&secret)).await?;
    Ok(CreatedTenant {
        id: tenant.id,
        name: tenant.name,
        api_key: secret,
        api_key_id: first.id,
        created_at: tenant.created_at,
    })
}

fn parse_id(raw: &str) -> Result<TenantId, AppError> {
    TenantId::parse(raw).map_err(|_| AppError::NotFound("tenant"))
}

pub async fn list(
    store: &dyn TenantStore,
    cursor: Option<&str>,
    limit: usize,
) -> Result<TenantPage, AppError> {
    let Page { items, next_cursor } = store.list(cursor, limit).await?;
    Ok(TenantPage {
        items: items.into_iter().map(TenantView::from).collect(),
        next_cursor,
    })
}

pub async fn get(store: &dyn TenantStore, raw_id: &str) -> Result<TenantView, AppError> {
    let id = parse_id(raw_id)?;
    store
        .get(&id)
        .await?
        .map(TenantView::from)
        .ok_or(AppError::NotFound("tenant"))
}

/// Suspend or reactivate. A tenant being deleted cannot be (409).
pub async fn patch(
    store: &dyn TenantStore,
    raw_id: &str,
    patch: TenantPatch,
) -> Result<TenantView, AppError> {
    let id = parse_id(raw_id)?;
    match store.set_suspended(&id, patch.suspended).await? {
        None => Err(AppError::NotFound("tenant")),
        Some(TenantStatus::Deleting) => Err(AppError::Conflict(
            "the tenant is being deleted: finish the deletion (DELETE again)".into(),
        )),
        Some(_) => get(store, raw_id).await,
    }
}

/// Delete the tenant and purge everything it owns, for at most `budget`:
/// its keys stop at once (the tenant is marked first), then the purge runs
/// step by step; each step's progress is stored, so a call cut short (the
/// budget, a timeout) loses nothing and the next call continues.
pub async fn delete(
    store: &dyn TenantStore,
    raw_id: &str,
    budget: Duration,
) -> Result<Deletion, AppError> {
    let id = parse_id(raw_id)?;
    if !store.mark_deleting(&id).await? {
        return Err(AppError::NotFound("tenant"));
    }
    let started = Instant::now();
    let mut deleted = 0;
    loop {
        let step = store.purge_step(&id).await?;
        deleted += step.deleted;
        if step.done {
            tracing::info!(tenant_id = %id, deleted_items = deleted, "tenant deleted");
            return Ok(Deletion::Done);
        }
        if started.elapsed() >= budget {
            tracing::info!(tenant_id = %id, deleted_items = deleted, "tenant deletion continues on the next call");
            return Ok(Deletion::InProgress(DeletionInProgress {
                id,
                status: TenantStatus::Deleting,
                deleted_items: deleted,
            }));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    async fn status(store: &dyn TenantStore, id: &TenantId) -> Option<TenantStatus> {
        store.get(id).await.unwrap().map(|t| t.status)
    }
    use crate::adapters::memory::MemoryTenantStore;
    use crate::app::auth::tenant_for_key;

    #[tokio::test]
    async fn a_suspended_tenants_job_fails_logged_and_a_deleted_ones_logs_nothing() {
        use crate::adapters::memory::MemoryDeliveryLog;
        use crate::app::dispatch::Outcome;
        use crate::domain::delivery::DeliveryStatus;
        use crate::ports::DeliveryLog;
        let store = MemoryTenantStore::default();
        let log = MemoryDeliveryLog::default();
        let created = create(&store, NewTenant::default()).await.unwrap();
        let job = |n: &str| crate::domain::message::DeliveryJob {
            delivery_id: crate::domain::ids::DeliveryId::parse(n).unwrap(),
            tenant_id: created.id.clone(),
            integration_id: crate::domain::ids::IntegrationId::generate(),
            event_id: crate::domain::ids::EventId::generate(),
            event_type: crate::domain::catalogue::EventType::ChatClosed,
            attempt: 2,
            created_at: Utc::now(),
            acceptance_token: None,
            repeat: false,
            ordered: None,
        };
        // an active tenant's job goes on
        let active = refuse_delivery(
            status(&store, &created.id).await,
            &log,
            &job("msg_1"),
            Utc::now(),
        )
        .await;
        assert!(active.unwrap().is_none());
        // a suspended tenant's fails with the reason, in the log too
        store.set_suspended(&created.id, true).await.unwrap();
        let out = refuse_delivery(
            status(&store, &created.id).await,
            &log,
            &job("msg_1"),
            Utc::now(),
        )
        .await;
        assert!(
            matches!(out.unwrap(), Some(Outcome::Failed { reason }) if reason.contains("suspended"))
        );
        let (logged, _) = log
            .get(&created.id, &job("msg_1").delivery_id)
            .await
            .unwrap()
            .unwrap();
        assert_eq!(logged.status, DeliveryStatus::Failed);
        assert!(logged.last_error.unwrap().contains("suspended"));
        // a deleted tenant's is dropped without a trace
        store.mark_deleting(&created.id).await.unwrap();
        let out = refuse_delivery(
            status(&store, &created.id).await,
            &log,
            &job("msg_2"),
            Utc::now(),
        )
        .await;
        assert!(matches!(out.unwrap(), Some(Outcome::Failed { .. })));
        assert!(
            log.get(&created.id, &job("msg_2").delivery_id)
                .await
                .unwrap()
                .is_none()
        );
    }

    #[tokio::test]
    async fn a_created_tenant_is_listed_suspended_reactivated_and_deleted() {
        let store = MemoryTenantStore::default();
        let created = create(&store, NewTenant::default()).await.unwrap();
        let id = created.id.to_string();
        assert_eq!(get(&store, &id).await.unwrap().status, TenantStatus::Active);
        assert_eq!(list(&store, None, 10).await.unwrap().items.len(), 1);
        let view = patch(&store, &id, TenantPatch { suspended: true })
            .await
            .unwrap();
        assert_eq!(view.status, TenantStatus::Suspended);
        assert!(matches!(
            tenant_for_key(&store, Some(&created.api_key)).await,
            Err(AppError::Forbidden { .. })
        ));
        let view = patch(&store, &id, TenantPatch { suspended: false })
            .await
            .unwrap();
        assert_eq!(view.status, TenantStatus::Active);
        assert!(tenant_for_key(&store, Some(&created.api_key)).await.is_ok());
        assert!(matches!(
            delete(&store, &id, Duration::from_secs(5)).await.unwrap(),
            Deletion::Done
        ));
        assert!(matches!(
            get(&store, &id).await,
            Err(AppError::NotFound("tenant"))
        ));
        assert!(matches!(
            tenant_for_key(&store, Some(&created.api_key)).await,
            Err(AppError::Unauthorized)
        ));
        // deleting again, or an id that is not a tenant's, is a 404
        for raw in [id.as_str(), "int_1", "nonsense"] {
            assert!(matches!(
                delete(&store, raw, Duration::from_secs(5)).await,
                Err(AppError::NotFound("tenant"))
            ));
        }
    }
}
