//! The config API's routes: one table drives both request routing and the
//! OpenAPI document, so a route cannot exist without being described.
use chathooks::app::api_keys::{ApiKeyList, CreatedApiKey, NewApiKey};
use chathooks::app::caller::Access;
use chathooks::app::catalogue::{EventTypeList, EventTypeSamples};
use chathooks::app::deliveries::DeliveryDetail;
use chathooks::app::integrations::{
    CreatedIntegration, IntegrationPatch, IntegrationView, NewIntegration, TestResult,
};
use chathooks::app::portal::{CreatedPortalSession, NewPortalSession, SessionView};
use chathooks::app::preview::{Preview, PreviewRequest};
use chathooks::app::rocketchat_settings::LivechatWebhookSettings;
use chathooks::app::sources::{
    CreatedSource, NewSource, RotateSource, RotatedSource, SourceAnswer, SourceList, SourceView,
};
use chathooks::app::stats::IntegrationStats;
use chathooks::app::tenants::{
    CreatedTenant, DeletionInProgress, NewTenant, TenantPage, TenantPatch, TenantView,
};
use chathooks::domain::catalogue::EventType;
use chathooks::domain::delivery::{Delivery, DeliveryStatus};
use http::Method;
use schemars::{JsonSchema, Schema, SchemaGenerator};

use crate::bodies::{
    self, DeliveryPage, EventsAnswer, EventsBody, IntegrationPage, Recovered, RocketChatSettings,
    RocketChatSuccess, RotatedSecret, SecretView,
};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RouteId {
    OpenApi,
    CreateTenant,
    ListTenants,
    GetTenant,
    UpdateTenant,
    DeleteTenant,
    CreateApiKey,
    ListApiKeys,
    RevokeApiKey,
    CreateIntegration,
    ListIntegrations,
    GetIntegration,
    UpdateIntegration,
    DeleteIntegration,
    GetSecret,
    RotateSecret,
    TestIntegration,
    PreviewIntegration,
    IntegrationStats,
    ListDeliveries,
    ListChatDeliveries,
    ListEventTypes,
    EventTypeSamples,
    CreatePortalSession,
    RevokePortalSessions,
    RevokePortalSession,
    GetPortalSession,
    PortalPage,
    PortalAsset,
    Recover,
    GetDelivery,
    RetryDelivery,
    IngestEvents,
    SetRocketchatSettings,
    GetRocketchatSettings,
    CreateSource,
    ListSources,
    GetSource,
    DeleteSource,
    RotateSourceUrl,
    ReceiveSourcePost,
}

/// How a route authenticates.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Auth {
    None,
    Admin,
    /// A tenant caller (`Authorization: Bearer` with an API key or a portal
    /// token), with the access the route needs (`Caller::allows`).
    Tenant(Access),
    /// Rocket.Chat's `X-Auth-Token` (an API key) and `X-User-Id` (its tenant id).
    RocketChat,
}

const PUBLIC: Auth = Auth::None;
const ADMIN: Auth = Auth::Admin;
const READ: Auth = Auth::Tenant(Access::Read);
const WRITE: Auth = Auth::Tenant(Access::Write);
const API_KEY: Auth = Auth::Tenant(Access::ApiKeyOnly);
const ROCKETCHAT: Auth = Auth::RocketChat;

/// Builds the schema of a body (a `$ref` to a component for named types).
pub type SchemaFn = fn(&mut SchemaGenerator) -> Schema;

fn schema_of<T: JsonSchema>(generator: &mut SchemaGenerator) -> Schema {
    generator.subschema_for::<T>()
}

/// The JSON body of type `T`, for the route table.
const fn body<T: JsonSchema>() -> Option<SchemaFn> {
    Some(schema_of::<T>)
}

/// Which function serves a route (API Gateway routes by path, template.yaml).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ServedBy {
    ConfigApi,
    EventIntake,
}

#[derive(Debug, Clone)]
pub struct Route {
    pub method: Method,
    pub pattern: &'static str,
    pub id: RouteId,
    pub auth: Auth,
    pub summary: &'static str,
    /// The JSON request body, if any.
    pub request: Option<SchemaFn>,
    /// Success status and its body.
    pub response: (u16, Option<SchemaFn>),
    /// Other success statuses answering the same body.
    pub also: &'static [u16],
    /// Query parameters: (name, description, schema).
    pub query: &'static [(&'static str, &'static str, SchemaFn)],
    pub served_by: ServedBy,
}

fn page_limit(_: &mut SchemaGenerator) -> Schema {
    schemars::json_schema!({"type": "integer", "minimum": 1, "maximum": 100})
}

fn timestamp(_: &mut SchemaGenerator) -> Schema {
    schemars::json_schema!({"type": "string", "format": "date-time"})
}

const LIST_QUERY: &[(&str, &str, SchemaFn)] = &[
    ("limit", "page size, 1-100 (default 50)", page_limit),
    (
        "cursor",
        "the `next_cursor` of the previous page",
        schema_of::<String>,
    ),
];
const DELIVERY_QUERY: &[(&str, &str, SchemaFn)] = &[
    ("limit", "page size, 1-100 (default 50)", page_limit),
    (
        "cursor",
        "the `next_cursor` of the previous page",
        schema_of::<String>,
    ),
    (
        "status",
        "pending, succeeded or failed",
        schema_of::<DeliveryStatus>,
    ),
    (
        "event_type",
        "an event type of the catalogue",
        schema_of::<EventType>,
    ),
    (
        "since",
        "RFC 3339: deliveries created at or after",
        timestamp,
    ),
    ("until", "RFC 3339: deliveries created before", timestamp),
    (
        "chat_id",
        "only the deliveries of this conversation (the event's `chat.id`)",
        schema_of::<String>,
    ),
];
const CHAT_QUERY: &[(&str, &str, SchemaFn)] = &[
    (
        "chat_id",
        "required: the conversation (the event's `chat.id`)",
        schema_of::<String>,
    ),
    ("limit", "page size, 1-100 (default 50)", page_limit),
    (
        "cursor",
        "the `next_cursor` of the previous page",
        schema_of::<String>,
    ),
    (
        "status",
        "pending, succeeded or failed",
        schema_of::<DeliveryStatus>,
    ),
    (
        "event_type",
        "an event type of the catalogue",
        schema_of::<EventType>,
    ),
    (
        "since",
        "RFC 3339: deliveries created at or after",
        timestamp,
    ),
    ("until", "RFC 3339: deliveries created before", timestamp),
];

const NONE: Option<SchemaFn> = None;

macro_rules! route {
    ($m:ident $p:literal => $id:ident, $auth:expr, $summary:literal, $req:expr, $status:literal $resp:expr, $q:expr) => {
        route!($m $p => $id, $auth, $summary, $req, $status $resp, $q, &[], ConfigApi)
    };
    ($m:ident $p:literal => $id:ident, $auth:expr, $summary:literal, $req:expr, $status:literal $resp:expr, $q:expr, $also:expr, $served:ident) => {
        Route {
            method: Method::$m,
            pattern: $p,
            id: RouteId::$id,
            auth: $auth,
            summary: $summary,
            request: $req,
            response: ($status, $resp),
            also: $also,
            query: $q,
            served_by: ServedBy::$served,
        }
    };
}

/// Every route of the HTTP API: the config API's, and the event intake's so
/// the OpenAPI document describes the whole API.
pub const ROUTES: &[Route] = &[
    route!(GET "/openapi.json" => OpenApi, PUBLIC, "This OpenAPI description", NONE, 200 NONE, &[]),
    route!(POST "/v1/tenants" => CreateTenant, ADMIN, "Create a tenant and its API key (shown once)", body::<NewTenant>(), 201 body::<CreatedTenant>(), &[]),
    route!(GET "/v1/tenants" => ListTenants, ADMIN, "List the tenants, oldest first", NONE, 200 body::<TenantPage>(), LIST_QUERY),
    route!(GET "/v1/tenants/{id}" => GetTenant, ADMIN, "Read a tenant and its status", NONE, 200 body::<TenantView>(), &[]),
    route!(PATCH "/v1/tenants/{id}" => UpdateTenant, ADMIN, "Suspend a tenant ({\"suspended\": true}: its keys answer 403, its events are refused, its pending deliveries stop) or lift the suspension", body::<TenantPatch>(), 200 body::<TenantView>(), &[]),
    route!(DELETE "/v1/tenants/{id}" => DeleteTenant, ADMIN, "Delete a tenant and purge everything it owns: 204 once done; 202 when the purge continues on the next call (call again)", NONE, 202 body::<DeletionInProgress>(), &[]),
    route!(POST "/v1/api-keys" => CreateApiKey, API_KEY, "Create an API key (shown once) with a name and an optional expiry", body::<NewApiKey>(), 201 body::<CreatedApiKey>(), &[]),
    route!(GET "/v1/api-keys" => ListApiKeys, API_KEY, "The tenant's API keys: name, prefix, dates, last use (never the keys)", NONE, 200 body::<ApiKeyList>(), &[]),
    route!(DELETE "/v1/api-keys/{id}" => RevokeApiKey, API_KEY, "Revoke an API key: refused from the next request on (the tenant's last key cannot be: 409)", NONE, 204 NONE, &[]),
    route!(POST "/v1/integrations" => CreateIntegration, WRITE, "Create an integration; its secret is shown once", body::<NewIntegration>(), 201 body::<CreatedIntegration>(), &[]),
    route!(GET "/v1/integrations" => ListIntegrations, READ, "List the tenant's integrations", NONE, 200 body::<IntegrationPage>(), LIST_QUERY),
    route!(GET "/v1/integrations/{id}" => GetIntegration, READ, "Read an integration", NONE, 200 body::<IntegrationView>(), &[]),
    route!(PATCH "/v1/integrations/{id}" => UpdateIntegration, WRITE, "Change an integration (partial update)", body::<IntegrationPatch>(), 200 body::<IntegrationView>(), &[]),
    route!(DELETE "/v1/integrations/{id}" => DeleteIntegration, WRITE, "Delete an integration; its pending retries stop", NONE, 204 NONE, &[]),
    route!(GET "/v1/integrations/{id}/secret" => GetSecret, WRITE, "Read the signing secret (and the previous one during a rotation's grace)", NONE, 200 body::<SecretView>(), &[]),
    route!(POST "/v1/integrations/{id}/secret/rotate" => RotateSecret, WRITE, "Rotate the secret; the old one keeps signing for the grace period", body::<bodies::RotateSecret>(), 200 body::<RotatedSecret>(), &[]),
    route!(POST "/v1/integrations/{id}/test" => TestIntegration, WRITE, "Send a webhook.test delivery now and report the result", NONE, 200 body::<TestResult>(), &[]),
    route!(POST "/v1/integrations/{id}/preview" => PreviewIntegration, WRITE, "The exact request a sample event of a type would make, signed; nothing is sent", body::<PreviewRequest>(), 200 body::<Preview>(), &[]),
    route!(GET "/v1/integrations/{id}/stats" => IntegrationStats, READ, "Health: the last attempt and the attempts of the last 24 hours", NONE, 200 body::<IntegrationStats>(), &[]),
    route!(GET "/v1/integrations/{id}/deliveries" => ListDeliveries, READ, "The integration's delivery log, newest first", NONE, 200 body::<DeliveryPage>(), DELIVERY_QUERY),
    route!(POST "/v1/integrations/{id}/recover" => Recover, WRITE, "Re-queue the failed deliveries of a time window", body::<bodies::Recover>(), 202 body::<Recovered>(), &[]),
    route!(GET "/v1/deliveries" => ListChatDeliveries, READ, "The deliveries of one conversation across the tenant's integrations, newest first", NONE, 200 body::<DeliveryPage>(), CHAT_QUERY),
    route!(GET "/v1/deliveries/{id}" => GetDelivery, READ, "One delivery with every attempt", NONE, 200 body::<DeliveryDetail>(), &[]),
    route!(POST "/v1/deliveries/{id}/retry" => RetryDelivery, WRITE, "Re-deliver now", NONE, 202 body::<Delivery>(), &[]),
    route!(GET "/v1/event-types" => ListEventTypes, READ, "The event catalogue: each type, its group, what triggers it, the formats that render it", NONE, 200 body::<EventTypeList>(), &[]),
    route!(GET "/v1/event-types/{type}/samples" => EventTypeSamples, READ, "A sample event of the type rendered by each format that can render it", NONE, 200 body::<EventTypeSamples>(), &[]),
    route!(POST "/v1/portal/sessions" => CreatePortalSession, API_KEY, "Start a portal session: a link to the portal for the tenant (the token is shown once)", body::<NewPortalSession>(), 201 body::<CreatedPortalSession>(), &[]),
    route!(DELETE "/v1/portal/sessions" => RevokePortalSessions, API_KEY, "Revoke every portal session of the tenant", NONE, 204 NONE, &[]),
    route!(DELETE "/v1/portal/sessions/{id}" => RevokePortalSession, API_KEY, "Revoke one portal session", NONE, 204 NONE, &[]),
    route!(GET "/v1/portal/session" => GetPortalSession, READ, "Who the caller is: the tenant, the scope and the expiry of a portal token", NONE, 200 body::<SessionView>(), &[]),
    route!(GET "/portal" => PortalPage, PUBLIC, "The portal page (HTML)", NONE, 200 NONE, &[]),
    route!(GET "/portal/{file}" => PortalAsset, PUBLIC, "One of the portal page's assets", NONE, 200 NONE, &[]),
    route!(POST "/v1/events" => IngestEvents, API_KEY, "Post one event or {\"events\": [...]}: 202 once queued, 200 for a repeated id", body::<EventsBody>(), 202 body::<EventsAnswer>(), &[], &[200], EventIntake),
    route!(POST "/api/v1/omnichannel/integrations" => SetRocketchatSettings, ROCKETCHAT, "Rocket.Chat-compatible webhook settings", body::<LivechatWebhookSettings>(), 200 body::<RocketChatSuccess>(), &[]),
    route!(GET "/api/v1/omnichannel/integrations" => GetRocketchatSettings, ROCKETCHAT, "Current Rocket.Chat-compatible webhook settings", NONE, 200 body::<RocketChatSettings>(), &[]),
    route!(POST "/v1/sources" => CreateSource, WRITE, "Create a source: a URL (shown once) a platform posts its own webhooks to, each fanned out to every integration", body::<NewSource>(), 201 body::<CreatedSource>(), &[]),
    route!(GET "/v1/sources" => ListSources, READ, "The tenant's sources (never their URLs nor secrets)", NONE, 200 body::<SourceList>(), &[]),
    route!(GET "/v1/sources/{id}" => GetSource, READ, "Read a source", NONE, 200 body::<SourceView>(), &[]),
    route!(DELETE "/v1/sources/{id}" => DeleteSource, WRITE, "Delete a source: its URLs answer 404 from the next post on", NONE, 204 NONE, &[]),
    route!(POST "/v1/sources/{id}/rotate" => RotateSourceUrl, WRITE, "A new URL for the source (shown once); the current one keeps working for the grace period", body::<RotateSource>(), 200 body::<RotatedSource>(), &[]),
    route!(POST "/in/{token}" => ReceiveSourcePost, PUBLIC, "A platform's own webhook (Rocket.Chat, LiveChat, Olark, AmplifyReach JSON or Olark's form post), checked against the source's secret, parsed into the canonical event and fanned out: 200 once queued", NONE, 200 body::<SourceAnswer>(), &[], &[], EventIntake),
];

pub enum Matched {
    Route(&'static Route, Vec<String>),
    /// The path exists, not with this method.
    WrongMethod,
    NotFound,
}

fn match_pattern(pattern: &str, path: &str) -> Option<Vec<String>> {
    let mut params = Vec::new();
    let mut want = pattern.trim_matches('/').split('/');
    let mut got = path
        .trim_end_matches('/')
        .trim_start_matches('/')
        .split('/');
    loop {
        match (want.next(), got.next()) {
            (None, None) => return Some(params),
            (Some(w), Some(g)) if w.starts_with('{') => {
                if g.is_empty() {
                    return None;
                }
                params.push(g.to_string());
            }
            (Some(w), Some(g)) if w == g => {}
            _ => return None,
        }
    }
}

pub fn find(method: &Method, path: &str) -> Matched {
    let mut path_exists = false;
    for route in ROUTES.iter().filter(|r| r.served_by == ServedBy::ConfigApi) {
        if let Some(params) = match_pattern(route.pattern, path) {
            if route.method == *method {
                return Matched::Route(route, params);
            }
            path_exists = true;
        }
    }
    if path_exists {
        Matched::WrongMethod
    } else {
        Matched::NotFound
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paths_with_ids_match_and_capture() {
        match find(&Method::POST, "/v1/integrations/int_1/secret/rotate") {
            Matched::Route(r, p) => {
                assert_eq!(r.id, RouteId::RotateSecret);
                assert_eq!(p, vec!["int_1"]);
            }
            _ => panic!("no match"),
        }
        assert!(matches!(
            find(&Method::PUT, "/v1/integrations/x"),
            Matched::WrongMethod
        ));
        assert!(matches!(
            find(&Method::GET, "/v1/nothing"),
            Matched::NotFound
        ));
        assert!(matches!(
            find(&Method::GET, "/v1/integrations//deliveries"),
            Matched::NotFound
        ));
    }

    #[test]
    fn every_change_needs_write_access_and_access_management_an_api_key() {
        for route in ROUTES {
            let Auth::Tenant(access) = route.auth else {
                continue;
            };
            let what = format!("{} {}", route.method, route.pattern);
            if route.method != Method::GET {
                assert_ne!(access, Access::Read, "{what} changes something");
            }
            if route.pattern.starts_with("/v1/portal/sessions")
                || route.pattern.starts_with("/v1/api-keys")
                || route.id == RouteId::IngestEvents
            {
                assert_eq!(access, Access::ApiKeyOnly, "{what}");
            }
        }
        let access = |id: RouteId| ROUTES.iter().find(|r| r.id == id).map(|r| r.auth).unwrap();
        // revealing the secret or a validly signed request is a write-level privilege
        assert_eq!(access(RouteId::GetSecret), WRITE);
        assert_eq!(access(RouteId::PreviewIntegration), WRITE);
        assert_eq!(access(RouteId::GetPortalSession), READ);
        assert_eq!(access(RouteId::IntegrationStats), READ);
        assert_eq!(access(RouteId::CreateTenant), ADMIN);
        for admin in [
            RouteId::ListTenants,
            RouteId::GetTenant,
            RouteId::UpdateTenant,
            RouteId::DeleteTenant,
        ] {
            assert_eq!(access(admin), ADMIN);
        }
        assert_eq!(access(RouteId::SetRocketchatSettings), ROCKETCHAT);
        assert_eq!(access(RouteId::PortalPage), PUBLIC);
    }

    #[test]
    fn every_pattern_is_unique() {
        for (i, a) in ROUTES.iter().enumerate() {
            for b in &ROUTES[i + 1..] {
                assert!(
                    !(a.method == b.method && a.pattern == b.pattern),
                    "{} {}",
                    a.method,
                    a.pattern
                );
            }
        }
    }
}
