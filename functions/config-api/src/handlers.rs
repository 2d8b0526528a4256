//! One function per route: authenticate, parse, call the application, answer.
use chathooks::api::*;
use chathooks::app::auth::{authenticate, is_admin, tenant_for_key};
use chathooks::app::integrations::{IntegrationView, test_send};
use chathooks::app::{AppError, rocketchat_settings, tenants};
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

type Answer = Result<Response<Body>, ApiError>;

pub async fn dispatch(api: &ConfigApi, route: &Route, params: &[String], req: &Request) -> Answer {
    let tenant = match route.auth {
        Auth::None => None,
        Auth::Admin => {
            if !is_admin(api.admin_key_hash.as_deref(), authorization(req)) {
                return Err(ApiError::unauthorized());
            }
            None
        }
        Auth::Tenant => Some(authenticate(&*api.stores.tenants, authorization(req)).await?),
        Auth::RocketChat => Some(rocketchat_user(api, req).await?),
    };
    let id = params.first().map(String::as_str).unwrap_or_default();
    let tenant = tenant.as_ref();
    let t = || tenant.ok_or_else(ApiError::unauthorized);
    use RouteId::*;
    match route.id {
        OpenApi => Ok(json_response(StatusCode::OK, &crate::openapi::document())),
        CreateTenant => {
            let created = tenants::create(&*api.stores.tenants, json_body(req)?).await?;
            Ok(json_response(StatusCode::CREATED, &created))
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
            let mut r = Response::new(Body::Empty);
            *r.status_mut() = StatusCode::NO_CONTENT;
            Ok(r)
        }
        GetSecret => {
            let i = api.integrations.get(t()?, id).await?;
            Ok(json_response(
                StatusCode::OK,
                &SecretView {
                    secret: i.secret.expose().to_string(),
                },
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
            let result = test_send(&i, &*api.sender, &*api.stores.deliveries).await?;
            Ok(json_response(StatusCode::OK, &result))
        }
        ListDeliveries => {
            let q = query(req);
            let query = DeliveryQuery {
                status: q.get("status").map(|s| parse_status(s)).transpose()?,
                event_type: q
                    .get("event_type")
                    .map(|s| {
                        s.parse().map_err(|e: ValidationError| {
                            ValidationError::field("event_type", e.message)
                        })
                    })
                    .transpose()?,
                since: query_time(&q, "since")?,
                until: query_time(&q, "until")?,
                cursor: q.get("cursor").cloned(),
                limit: limit(&q)?.unwrap_or(50),
            };
            let page = api.deliveries.list(t()?, id, query).await?;
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
        // Served by the event-intake function; `routes::find` never matches it here.
        IngestEvents => Err(ApiError::not_found("route")),
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

/// Rocket.Chat's auth: `X-Auth-Token` is a tenant API key and `X-User-Id` must be its tenant id.
async fn rocketchat_user(api: &ConfigApi, req: &Request) -> Result<TenantId, ApiError> {
    let tenant = tenant_for_key(&*api.stores.tenants, header(req, "x-auth-token")).await?;
    match header(req, "x-user-id") {
        Some(user) if user == tenant.as_str() => Ok(tenant),
        _ => Err(AppError::Unauthorized.into()),
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
