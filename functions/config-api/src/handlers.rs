//! One function per route: authenticate, parse, call the application, answer.
use chathooks::api::*;
use chathooks::app::auth::{is_admin, tenant_for_key};
use chathooks::app::caller::{Caller, identify};
use chathooks::app::integrations::{IntegrationView, test_send};
use chathooks::app::{
    AppError, api_keys, catalogue, preview, rocketchat_settings, sources, stats, tenants,
};
use chathooks::domain::ValidationError;
use chathooks::domain::delivery::DeliveryStatus;
use chathooks::domain::ids::TenantId;
use chathooks::ports::DeliveryQuery;
use http::StatusCode;
use lambda_http::{Body, Request, Response};
use serde_json::json;

use crate::ConfigApi;
use crate::bodies::*;
use crate::routes::{Auth, Route, RouteId};
use chathooks::app::portal::SessionView;
use chathooks::app::preview::PreviewRequest;

type Answer = Result<Response<Body>, ApiError>;

/// How long one `DELETE /v1/tenants/{id}` purges before answering 202 (the
/// function's timeout is 30 s, API Gateway's 29 s).
const TENANT_DELETE_BUDGET: std::time::Duration = std::time::Duration::from_secs(20);

pub async fn dispatch(api: &ConfigApi, route: &Route, params: &[String], req: &Request) -> Answer {
    // The caller, resolved once; the route's rule decides what it may do.
    let caller = match route.auth {
        Auth::None => None,
        Auth::Admin => {
            let accepted: Vec<&str> = [&api.admin_key_hash, &api.previous_admin_key_hash]
                .into_iter()
                .filter_map(|h| h.as_deref())
                .collect();
            if !is_admin(&accepted, authorization(req)) {
                return Err(ApiError::unauthorized());
            }
            None
        }
        Auth::Tenant(access) => {
            let caller = identify(&*api.stores.tenants, &api.portal, authorization(req)).await?;
            caller.allows(access)?;
            Some(caller)
        }
        Auth::RocketChat => Some(Caller::ApiKey(rocketchat_user(api, req).await?)),
    };
    let id = params.first().map(String::as_str).unwrap_or_default();
    let tenant = caller.as_ref().map(Caller::tenant);
    let t = || tenant.ok_or_else(ApiError::unauthorized);
    use RouteId::*;
    match route.id {
        OpenApi => Ok(json_response(StatusCode::OK, &crate::openapi::document())),
        PortalPage => Ok(crate::portal::serve(api, req, "index.html")),
        PortalAsset => Ok(crate::portal::serve(api, req, id)),
        CreatePortalSession => {
            let base = crate::portal::public_base(api.public_url.as_deref(), req);
            let created = api.portal.create(t()?, json_body(req)?, &base).await?;
            Ok(json_response(StatusCode::CREATED, &created))
        }
        RevokePortalSession => {
            api.portal.revoke(t()?, id).await?;
            Ok(no_content())
        }
        RevokePortalSessions => {
            api.portal.revoke_all(t()?).await?;
            Ok(no_content())
        }
        GetPortalSession => {
            let view = match caller.as_ref() {
                Some(Caller::Portal(session)) => SessionView {
                    tenant_id: session.tenant_id.clone(),
                    read_only: session.read_only,
                    expires_at: Some(session.expires_at),
                },
                _ => SessionView {
                    tenant_id: t()?.clone(),
                    read_only: false,
                    expires_at: None,
                },
            };
            Ok(json_response(StatusCode::OK, &view))
        }
        PreviewIntegration => {
            let body: PreviewRequest = json_body(req)?;
            let i = api.integrations.get(t()?, id).await?;
            let p = preview::preview(&i, &body.event_type, chrono::Utc::now())?;
            Ok(json_response(StatusCode::OK, &p))
        }
        IntegrationStats => {
            let s = stats::integration_stats(
                &*api.stores.integrations,
                &*api.stores.stats,
                t()?,
                id,
                chrono::Utc::now(),
            )
            .await?;
            Ok(json_response(StatusCode::OK, &s))
        }
        ListEventTypes => Ok(json_response(StatusCode::OK, &catalogue::event_types())),
        EventTypeSamples => Ok(json_response(StatusCode::OK, &catalogue::samples(id)?)),
        CreateTenant => {
            let created = tenants::create(&*api.stores.tenants, json_body(req)?).await?;
            Ok(json_response(StatusCode::CREATED, &created))
        }
        ListTenants => {
            let q = query(req);
            let page = tenants::list(
                &*api.stores.tenants,
                q.get("cursor").map(String::as_str),
                limit(&q)?.unwrap_or(50),
            )
            .await?;
            Ok(json_response(StatusCode::OK, &page))
        }
        GetTenant => {
            let view = tenants::get(&*api.stores.tenants, id).await?;
            Ok(json_response(StatusCode::OK, &view))
        }
        UpdateTenant => {
            let view = tenants::patch(&*api.stores.tenants, id, json_body(req)?).await?;
            Ok(json_response(StatusCode::OK, &view))
        }
        DeleteTenant => {
            match tenants::delete(&*api.stores.tenants, id, TENANT_DELETE_BUDGET).await? {
                tenants::Deletion::Done => Ok(no_content()),
                tenants::Deletion::InProgress(progress) => {
                    Ok(json_response(StatusCode::ACCEPTED, &progress))
                }
            }
        }
        CreateApiKey => {
            let created = api_keys::create(
                &*api.stores.tenants,
                t()?,
                json_body(req)?,
                chrono::Utc::now(),
            )
            .await?;
            Ok(json_response(StatusCode::CREATED, &created))
        }
        ListApiKeys => {
            let keys = api_keys::list(&*api.stores.tenants, t()?).await?;
            Ok(json_response(StatusCode::OK, &keys))
        }
        RevokeApiKey => {
            api_keys::revoke(&*api.stores.tenants, t()?, id).await?;
            Ok(no_content())
        }
        CreateIntegration => {
            let created = api.integrations.create(t()?, json_body(req)?).await?;
            Ok(json_response(StatusCode::CREATED, &created))
        }
        ListIntegrations => {
            let q = query(req);
            let page = api
                .integrations
                .list(t()?, q.get("cursor").map(String::as_str), limit(&q)?)
                .await?;
            Ok(json_response(
                StatusCode::OK,
                &IntegrationPage {
                    items: page.items,
                    next_cursor: page.next_cursor,
                },
            ))
        }
        GetIntegration => {
            let i = api.integrations.get(t()?, id).await?;
            Ok(json_response(StatusCode::OK, &IntegrationView::from(&i)))
        }
        UpdateIntegration => {
            let view = api.integrations.update(t()?, id, json_body(req)?).await?;
            Ok(json_response(StatusCode::OK, &view))
        }
        DeleteIntegration => {
            api.integrations.delete(t()?, id).await?;
            Ok(no_content())
        }
        GetSecret => {
            let i = api.integrations.get(t()?, id).await?;
            Ok(json_response(
                StatusCode::OK,
                &SecretView::of(&i, chrono::Utc::now()),
            ))
        }
        RotateSecret => {
            let body: crate::bodies::RotateSecret = json_body(req)?;
            let grace = body.grace_hours.map(|h| {
                if h > 24 * 7 {
                    Err(ValidationError::field(
                        "grace_hours",
                        "must be at most 168 (7 days)",
                    ))
                } else {
                    Ok(chrono::Duration::hours(h as i64))
                }
            });
            let grace = grace.transpose()?;
            let (_, secret, previous_expires_at) = api
                .integrations
                .rotate_secret(t()?, id, body.secret, grace)
                .await?;
            Ok(json_response(
                StatusCode::OK,
                &RotatedSecret {
                    secret: secret.expose().to_string(),
                    previous_secret_expires_at: previous_expires_at,
                },
            ))
        }
        TestIntegration => {
            let i = api.integrations.get(t()?, id).await?;
            let now = api.integrations.clock.now();
            let result = test_send(&i, &*api.sender, &*api.stores.deliveries, now).await?;
            Ok(json_response(StatusCode::OK, &result))
        }
        ListDeliveries => {
            let q = query(req);
            let query = delivery_query(&q)?;
            let page = match chat_id(&q)? {
                None => api.deliveries.list(t()?, id, query).await?,
                Some(chat) => {
                    let i = api.integrations.get(t()?, id).await?;
                    api.stores
                        .chats
                        .list_for_chat(t()?, &chat, Some(i.id()), &query)
                        .await
                        .map_err(AppError::from)?
                }
            };
            Ok(json_response(
                StatusCode::OK,
                &DeliveryPage {
                    items: page.items,
                    next_cursor: page.next_cursor,
                },
            ))
        }
        ListChatDeliveries => {
            let q = query(req);
            let chat = chat_id(&q)?.ok_or_else(|| {
                ValidationError::field(
                    "chat_id",
                    "required: the conversation's id (the event's `chat.id`)",
                )
            })?;
            let query = delivery_query(&q)?;
            let page = api
                .stores
                .chats
                .list_for_chat(t()?, &chat, None, &query)
                .await
                .map_err(AppError::from)?;
            Ok(json_response(
                StatusCode::OK,
                &DeliveryPage {
                    items: page.items,
                    next_cursor: page.next_cursor,
                },
            ))
        }
        Recover => {
            let body: crate::bodies::Recover = json_body(req)?;
            let since = parse_time("since", &body.since)?;
            let until = body
                .until
                .as_deref()
                .map(|u| parse_time("until", u))
                .transpose()?;
            let count = api.deliveries.recover(t()?, id, since, until).await?;
            Ok(json_response(
                StatusCode::ACCEPTED,
                &Recovered { requeued: count },
            ))
        }
        GetDelivery => {
            let detail = api.deliveries.get(t()?, id).await?;
            Ok(json_response(StatusCode::OK, &detail))
        }
        RetryDelivery => {
            let d = api.deliveries.retry(t()?, id).await?;
            Ok(json_response(StatusCode::ACCEPTED, &d))
        }
        // Served by the event-intake function; `routes::find` never matches them here.
        IngestEvents | ReceiveSourcePost => Err(ApiError::not_found("route")),
        CreateSource => {
            let base = crate::portal::public_base(api.public_url.as_deref(), req);
            let created = sources::create(
                &*api.stores.sources,
                t()?,
                json_body(req)?,
                &base,
                chrono::Utc::now(),
            )
            .await?;
            Ok(json_response(StatusCode::CREATED, &created))
        }
        ListSources => {
            let list = sources::list(&*api.stores.sources, t()?, chrono::Utc::now()).await?;
            Ok(json_response(StatusCode::OK, &list))
        }
        GetSource => {
            let view = sources::get(&*api.stores.sources, t()?, id, chrono::Utc::now()).await?;
            Ok(json_response(StatusCode::OK, &view))
        }
        DeleteSource => {
            sources::delete(&*api.stores.sources, t()?, id, chrono::Utc::now()).await?;
            Ok(no_content())
        }
        RotateSourceUrl => {
            let base = crate::portal::public_base(api.public_url.as_deref(), req);
            let rotated = sources::rotate(
                &*api.stores.sources,
                t()?,
                id,
                json_body(req)?,
                &base,
                chrono::Utc::now(),
            )
            .await?;
            Ok(json_response(StatusCode::OK, &rotated))
        }
        SetRocketchatSettings => {
            rocketchat_settings::apply(&api.integrations, t()?, json_body(req)?).await?;
            Ok(json_response(
                StatusCode::OK,
                &RocketChatSuccess { success: true },
            ))
        }
        GetRocketchatSettings => {
            let settings = rocketchat_settings::current(&api.integrations, t()?).await?;
            Ok(json_response(
                StatusCode::OK,
                &RocketChatSettings {
                    success: true,
                    settings,
                },
            ))
        }
    }
}

fn no_content() -> Response<Body> {
    let mut r = Response::new(Body::Empty);
    *r.status_mut() = StatusCode::NO_CONTENT;
    r
}

/// Rocket.Chat's auth: `X-Auth-Token` is a tenant API key and `X-User-Id` must be its tenant id.
async fn rocketchat_user(api: &ConfigApi, req: &Request) -> Result<TenantId, ApiError> {
    let tenant = tenant_for_key(&*api.stores.tenants, header(req, "x-auth-token")).await?;
    match header(req, "x-user-id") {
        Some(user) if user == tenant.as_str() => Ok(tenant),
        _ => Err(AppError::Unauthorized.into()),
    }
}

/// The delivery log's filters and paging from the query string.
fn delivery_query(
    q: &std::collections::HashMap<String, String>,
) -> Result<DeliveryQuery, ApiError> {
    Ok(DeliveryQuery {
        status: q.get("status").map(|s| parse_status(s)).transpose()?,
        event_type: q
            .get("event_type")
            .map(|s| {
                s.parse()
                    .map_err(|e: ValidationError| ValidationError::field("event_type", e.message))
            })
            .transpose()?,
        since: query_time(q, "since")?,
        until: query_time(q, "until")?,
        cursor: q.get("cursor").cloned(),
        limit: limit(q)?.unwrap_or(50),
    })
}

/// `chat_id`, when given: a conversation id as the intake accepts it (1-1024 bytes).
fn chat_id(q: &std::collections::HashMap<String, String>) -> Result<Option<String>, ApiError> {
    match q.get("chat_id") {
        None => Ok(None),
        Some(c) if c.trim().is_empty() || c.len() > 1024 => Err(ValidationError::field(
            "chat_id",
            "must be a conversation id of 1-1024 bytes",
        )
        .into()),
        Some(c) => Ok(Some(c.clone())),
    }
}

fn limit(q: &std::collections::HashMap<String, String>) -> Result<Option<usize>, ApiError> {
    q.get("limit")
        .map(|raw| match raw.parse::<usize>() {
            Ok(n) if (1..=100).contains(&n) => Ok(n),
            _ => {
                Err(ValidationError::field("limit", "must be a whole number from 1 to 100").into())
            }
        })
        .transpose()
}

fn parse_status(raw: &str) -> Result<DeliveryStatus, ApiError> {
    serde_json::from_value(json!(raw)).map_err(|_| {
        ValidationError::field("status", "must be pending, succeeded or failed").into()
    })
}

fn parse_time(field: &str, raw: &str) -> Result<chrono::DateTime<chrono::Utc>, ApiError> {
    chrono::DateTime::parse_from_rfc3339(raw)
        .map(|t| t.with_timezone(&chrono::Utc))
        .map_err(|_| {
            ValidationError::field(
                field,
                "must be an RFC 3339 timestamp such as 2026-01-31T12:00:00Z",
            )
            .into()
        })
}
