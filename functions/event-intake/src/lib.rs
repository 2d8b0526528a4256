//! The event-intake Lambda: `POST /v1/events`, one event or `{"events": [...]}`,
//! and `POST /in/{token}`, a platform's own webhook posted to a source.
//! Answers 2xx only once every delivery job is accepted by the queue.
use chathooks::api::{ApiError, authorization, body_bytes, header, json_response, require_json};
use chathooks::app::AppError;
use chathooks::app::auth::{admit, authenticate};
use chathooks::app::intake::Intake;
use chathooks::app::sources::{self, Post, Refused, SourceAnswer};
use chathooks::domain::event::MAX_EVENT_BYTES;
use chathooks::domain::intake_body::parse_events;
use chathooks::formats::rocketchat::TOKEN_HEADER;
use chathooks::ports::{SourceStore, TenantStore};
use http::{Method, StatusCode};
use lambda_http::{Body, Request, Response};
use serde_json::json;
use std::sync::Arc;

pub struct IntakeApi {
    pub tenants: Arc<dyn TenantStore>,
    pub sources: Arc<dyn SourceStore>,
    pub intake: Intake,
}

/// The handler Lambda calls, the local runner too. Never fails: every error
/// is an HTTP answer.
pub async fn handle(api: &IntakeApi, req: Request) -> Response<Body> {
    let metrics = &api.intake.metrics;
    let response = match accept(api, &req).await {
        Ok(response) => response,
        Err(e) => {
            metrics.count(
                chathooks::metrics::REQUESTS_REJECTED,
                &[("Reason", e.code)],
                1,
            );
            e.into_response()
        }
    };
    metrics.flush();
    response
}

async fn accept(api: &IntakeApi, req: &Request) -> Result<Response<Body>, ApiError> {
    if let Some(token) = req.uri().path().strip_prefix(sources::PATH_PREFIX) {
        return receive(api, req, token).await;
    }
    if req.uri().path() != "/v1/events" {
        return Err(ApiError::not_found("route"));
    }
    if req.method() != Method::POST {
        return Err(ApiError::method_not_allowed());
    }
    let tenant = authenticate(&*api.tenants, authorization(req)).await?;
    require_json(req)?;
    let (events, batch) = parse_events(body_bytes(req)?)?;
    let results = api.intake.accept(&tenant, &events).await?;
    if batch {
        return Ok(json_response(
            StatusCode::ACCEPTED,
            &json!({ "results": results }),
        ));
    }
    let result = &results[0];
    let status = if result.duplicate {
        StatusCode::OK
    } else {
        StatusCode::ACCEPTED
    };
    Ok(json_response(status, result))
}

/// `POST /in/{token}`: the source the URL names, the platform's credential,
/// the payload parsed into the canonical event, then the intake's own path.
/// A 200 with a small JSON body once queued (Rocket.Chat counts any other
/// status as a failure); the token is never logged.
async fn receive(api: &IntakeApi, req: &Request, token: &str) -> Result<Response<Body>, ApiError> {
    if req.method() != Method::POST {
        return Err(ApiError::method_not_allowed());
    }
    let now = chrono::Utc::now();
    let source = match sources::resolve(&*api.sources, token, now).await? {
        Ok(source) => source,
        Err(Refused::UnknownUrl) => return Err(AppError::Unauthorized.into()),
        Err(Refused::Deleted) => return Err(ApiError::not_found("source")),
    };
    let tenant = admit(
        api.tenants
            .get(&source.tenant_id)
            .await
            .map_err(AppError::from)?,
    )?;
    let post = Post {
        content_type: header(req, "content-type"),
        rocketchat_token: header(req, TOKEN_HEADER),
        authorization: authorization(req),
        body: body_bytes(req)?,
    };
    let event = sources::receive(&source, &post).inspect_err(|e| {
        if matches!(e, AppError::Unauthorized) {
            tracing::warn!(source_id = %source.id, platform = %source.platform, "a post to a source carried no valid credential");
        }
    })?;
    // The event a platform's payload makes must fit where any event does.
    let size = serde_json::to_vec(&event).map_or(usize::MAX, |json| json.len());
    if size > MAX_EVENT_BYTES {
        return Err(ApiError::new(
            StatusCode::PAYLOAD_TOO_LARGE,
            "payload_too_large",
            format!(
                "the event read from this payload is {size} bytes; the limit is {MAX_EVENT_BYTES}"
            ),
        ));
    }
    let results = api.intake.accept(&tenant.id, &[event]).await?;
    let result = &results[0];
    Ok(json_response(
        StatusCode::OK,
        &SourceAnswer {
            success: true,
            event_id: result.event_id.clone(),
            duplicate: result.duplicate,
        },
    ))
}

/// Build the intake from the environment (cold start).
pub async fn init() -> Result<IntakeApi, chathooks::wiring::BoxError> {
    Ok(init_with(&chathooks::wiring::Wiring::from_env().await?))
}

/// Build the intake from explicit wiring (local runner, tests).
pub fn init_with(w: &chathooks::wiring::Wiring) -> IntakeApi {
    IntakeApi {
        intake: w.intake(),
        tenants: w.stores.tenants.clone(),
        sources: w.stores.sources.clone(),
    }
}
