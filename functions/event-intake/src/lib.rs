//! The event-intake Lambda: `POST /v1/events`, one event or `{"events": [...]}`.
//! Answers 202 only once every delivery job is accepted by the queue.
use chathooks::api::{ApiError, authorization, body_bytes, json_response, require_json};
use chathooks::app::auth::authenticate;
use chathooks::app::intake::Intake;
use chathooks::domain::intake_body::parse_events;
use chathooks::ports::TenantStore;
use http::{Method, StatusCode};
use lambda_http::{Body, Request, Response};
use serde_json::json;
use std::sync::Arc;

pub struct IntakeApi {
    pub tenants: Arc<dyn TenantStore>,
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

/// Build the intake from the environment (cold start).
pub async fn init() -> Result<IntakeApi, chathooks::wiring::BoxError> {
    Ok(init_with(&chathooks::wiring::Wiring::from_env().await?))
}

/// Build the intake from explicit wiring (local runner, tests).
pub fn init_with(w: &chathooks::wiring::Wiring) -> IntakeApi {
    IntakeApi {
        intake: w.intake(),
        tenants: w.stores.tenants.clone(),
    }
}
