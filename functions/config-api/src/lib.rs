//! The config-api Lambda: tenants, integrations, secrets, test-sends, the
//! delivery log, Rocket.Chat-compatible settings, portal sessions and the
//! portal page, and the OpenAPI document.
pub mod bodies;
pub mod handlers;
pub mod openapi;
pub mod portal;
pub mod portal_assets;
pub mod routes;

use chathooks::api::ApiError;
use chathooks::app::Stores;
use chathooks::app::deliveries::Deliveries;
use chathooks::app::integrations::Integrations;
use chathooks::app::portal::Portal;
use chathooks::ports::WebhookSender;
use lambda_http::{Body, Request, Response};
use std::sync::Arc;

use routes::Matched;

/// Everything the config API needs, built once per cold start.
pub struct ConfigApi {
    pub stores: Stores,
    pub integrations: Integrations,
    pub deliveries: Deliveries,
    pub sender: Arc<dyn WebhookSender>,
    /// SHA-256 of the admin key; `None` disables tenant creation.
    pub admin_key_hash: Option<String>,
    /// SHA-256 of the admin key being rotated out, accepted beside it.
    pub previous_admin_key_hash: Option<String>,
    pub portal: Portal,
    /// The API's public base URL, when configured (else derived per request).
    pub public_url: Option<String>,
    /// The portal page's CSP `frame-ancestors` sources.
    pub portal_frame_ancestors: String,
}

/// The handler Lambda calls, the local runner too. Never fails: every error
/// is an HTTP answer, and a 5xx carries no internal detail.
pub async fn handle(api: &ConfigApi, req: Request) -> Response<Body> {
    let result = match routes::find(req.method(), req.uri().path()) {
        Matched::Route(route, params) => handlers::dispatch(api, route, &params, &req).await,
        Matched::WrongMethod => Err(ApiError::method_not_allowed()),
        Matched::NotFound => Err(ApiError::not_found("route")),
    };
    result.unwrap_or_else(ApiError::into_response)
}

/// Build the config API from the environment (cold start).
pub async fn init() -> Result<ConfigApi, chathooks::wiring::BoxError> {
    Ok(init_with(&chathooks::wiring::Wiring::from_env().await?))
}

/// Build the config API from explicit wiring (local runner, tests).
pub fn init_with(w: &chathooks::wiring::Wiring) -> ConfigApi {
    ConfigApi {
        sender: w.sender(),
        integrations: w.integrations(),
        deliveries: w.deliveries(),
        admin_key_hash: w.config.admin_key_hash.clone(),
        previous_admin_key_hash: w.config.previous_admin_key_hash.clone(),
        portal: w.portal(),
        public_url: w.config.public_url.clone(),
        portal_frame_ancestors: w.config.portal_frame_ancestors.clone(),
        stores: w.stores.clone(),
    }
}
