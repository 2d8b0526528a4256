//! The config API's routes: one table drives both request routing and the
//! OpenAPI document, so a route cannot exist without being described.
use http::Method;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RouteId {
    OpenApi,
    CreateTenant,
    CreateIntegration,
    ListIntegrations,
    GetIntegration,
    UpdateIntegration,
    DeleteIntegration,
    GetSecret,
    RotateSecret,
    TestIntegration,
    ListDeliveries,
    Recover,
    GetDelivery,
    RetryDelivery,
    SetRocketchatSettings,
    GetRocketchatSettings,
}

/// How a route authenticates.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Auth {
    None,
    Admin,
    Tenant,
    /// Rocket.Chat's `X-Auth-Token` (an API key) and `X-User-Id` (its tenant id).
    RocketChat,
}

#[derive(Debug, Clone)]
pub struct Route {
    pub method: Method,
    pub pattern: &'static str,
    pub id: RouteId,
    pub auth: Auth,
    pub summary: &'static str,
    /// Component name of the JSON request body, if any.
    pub request: Option<&'static str>,
    /// Success status and the component name of its body.
    pub response: (u16, Option<&'static str>),
    /// Query parameters: (name, description).
    pub query: &'static [(&'static str, &'static str)],
}

const LIST_QUERY: &[(&str, &str)] = &[
    ("limit", "page size, 1-100 (default 50)"),
    ("cursor", "the `next_cursor` of the previous page"),
];
const DELIVERY_QUERY: &[(&str, &str)] = &[
    ("limit", "page size, 1-100 (default 50)"),
    ("cursor", "the `next_cursor` of the previous page"),
    ("status", "pending, succeeded or failed"),
    ("event_type", "an event type of the catalogue"),
    ("since", "RFC 3339: deliveries created at or after"),
    ("until", "RFC 3339: deliveries created before"),
];

macro_rules! route {
    ($m:ident $p:literal => $id:ident, $auth:ident, $summary:literal, $req:expr, $status:literal $resp:expr, $q:expr) => {
        Route {
            method: Method::$m,
            pattern: $p,
            id: RouteId::$id,
            auth: Auth::$auth,
            summary: $summary,
            request: $req,
            response: ($status, $resp),
            query: $q,
        }
    };
}

pub const ROUTES: &[Route] = &[
    route!(GET "/openapi.json" => OpenApi, None, "This OpenAPI description", None, 200 None, &[]),
    route!(POST "/v1/tenants" => CreateTenant, Admin, "Create a tenant and its API key (shown once)", Some("NewTenant"), 201 Some("CreatedTenant"), &[]),
    route!(POST "/v1/integrations" => CreateIntegration, Tenant, "Create an integration; its secret is shown once", Some("NewIntegration"), 201 Some("CreatedIntegration"), &[]),
    route!(GET "/v1/integrations" => ListIntegrations, Tenant, "List the tenant's integrations", None, 200 Some("IntegrationPage"), LIST_QUERY),
    route!(GET "/v1/integrations/{id}" => GetIntegration, Tenant, "Read an integration", None, 200 Some("Integration"), &[]),
    route!(PATCH "/v1/integrations/{id}" => UpdateIntegration, Tenant, "Change an integration (partial update)", Some("IntegrationPatch"), 200 Some("Integration"), &[]),
    route!(DELETE "/v1/integrations/{id}" => DeleteIntegration, Tenant, "Delete an integration; its pending retries stop", None, 204 None, &[]),
    route!(GET "/v1/integrations/{id}/secret" => GetSecret, Tenant, "Read the signing secret", None, 200 Some("Secret"), &[]),
    route!(POST "/v1/integrations/{id}/secret/rotate" => RotateSecret, Tenant, "Rotate the secret; the old one keeps signing for the grace period", Some("RotateSecret"), 200 Some("Secret"), &[]),
    route!(POST "/v1/integrations/{id}/test" => TestIntegration, Tenant, "Send a webhook.test delivery now and report the result", None, 200 Some("TestResult"), &[]),
    route!(GET "/v1/integrations/{id}/deliveries" => ListDeliveries, Tenant, "The integration's delivery log, newest first", None, 200 Some("DeliveryPage"), DELIVERY_QUERY),
    route!(POST "/v1/integrations/{id}/recover" => Recover, Tenant, "Re-queue the failed deliveries of a time window", Some("Recover"), 202 Some("Recovered"), &[]),
    route!(GET "/v1/deliveries/{id}" => GetDelivery, Tenant, "One delivery with every attempt", None, 200 Some("DeliveryDetail"), &[]),
    route!(POST "/v1/deliveries/{id}/retry" => RetryDelivery, Tenant, "Re-deliver now", None, 202 Some("Delivery"), &[]),
    route!(POST "/api/v1/omnichannel/integrations" => SetRocketchatSettings, RocketChat, "Rocket.Chat-compatible webhook settings", Some("LivechatWebhookSettings"), 200 Some("RocketChatSuccess"), &[]),
    route!(GET "/api/v1/omnichannel/integrations" => GetRocketchatSettings, RocketChat, "Current Rocket.Chat-compatible webhook settings", None, 200 Some("LivechatWebhookSettingsResponse"), &[]),
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
    for route in ROUTES {
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
