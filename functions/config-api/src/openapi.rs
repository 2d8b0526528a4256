//! The OpenAPI 3 document, generated from the route table.
use serde_json::{Map, Value, json};

use crate::routes::{Auth, ROUTES};

/// Component schemas of the request and response bodies.
fn components() -> Map<String, Value> {
    let mut names: Vec<&str> = ROUTES
        .iter()
        .flat_map(|r| [r.request, r.response.1])
        .flatten()
        .collect();
    names.sort_unstable();
    names.dedup();
    let mut schemas = Map::new();
    for name in names {
        schemas.insert(name.to_string(), json!({"type": "object", "title": name}));
    }
    schemas.insert(
        "Error".into(),
        json!({
            "type": "object",
            "required": ["error"],
            "properties": {"error": {
                "type": "object",
                "required": ["code", "message"],
                "properties": {
                    "code": {"type": "string"},
                    "message": {"type": "string"},
                    "field": {"type": "string"}
                }
            }}
        }),
    );
    schemas
}

fn error_response(description: &str) -> Value {
    json!({"description": description, "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}}})
}

pub fn document() -> Value {
    let mut paths = Map::new();
    for route in ROUTES {
        let mut op = Map::new();
        op.insert("summary".into(), json!(route.summary));
        op.insert("operationId".into(), json!(format!("{:?}", route.id)));
        let mut parameters: Vec<Value> = route
            .pattern
            .split('/')
            .filter(|s| s.starts_with('{'))
            .map(|s| json!({"name": s.trim_matches(['{', '}']), "in": "path", "required": true, "schema": {"type": "string"}}))
            .collect();
        parameters.extend(route.query.iter().map(|(name, description)| {
            json!({"name": name, "in": "query", "required": false, "description": description, "schema": {"type": "string"}})
        }));
        if route.auth == Auth::RocketChat {
            for name in ["X-Auth-Token", "X-User-Id"] {
                parameters.push(json!({"name": name, "in": "header", "required": true, "schema": {"type": "string"}}));
            }
        }
        if !parameters.is_empty() {
            op.insert("parameters".into(), Value::Array(parameters));
        }
        if let Some(req) = route.request {
            op.insert(
                "requestBody".into(),
                json!({"required": true, "content": {"application/json": {"schema": {"$ref": format!("#/components/schemas/{req}")}}}}),
            );
        }
        let mut responses = Map::new();
        let (status, body) = route.response;
        responses.insert(
            status.to_string(),
            match body {
                Some(b) => json!({"description": "success", "content": {"application/json": {"schema": {"$ref": format!("#/components/schemas/{b}")}}}}),
                None => json!({"description": "success"}),
            },
        );
        responses.insert("400".into(), error_response("invalid request"));
        if route.auth != Auth::None {
            responses.insert("401".into(), error_response("missing or invalid key"));
        }
        if route.pattern.contains('{') {
            responses.insert(
                "404".into(),
                error_response("not found, or another tenant's"),
            );
        }
        if route.request.is_some() {
            responses.insert("413".into(), error_response("body too large"));
            responses.insert("415".into(), error_response("not JSON"));
        }
        op.insert("responses".into(), Value::Object(responses));
        match route.auth {
            Auth::Admin | Auth::Tenant => {
                op.insert("security".into(), json!([{"bearer": []}]));
            }
            Auth::None | Auth::RocketChat => {}
        }
        let entry = paths
            .entry(route.pattern.to_string())
            .or_insert_with(|| json!({}));
        if let Value::Object(methods) = entry {
            methods.insert(
                route.method.as_str().to_ascii_lowercase(),
                Value::Object(op),
            );
        }
    }
    json!({
        "openapi": "3.0.3",
        "info": {"title": "chathooks", "version": env!("CARGO_PKG_VERSION"), "description": "Outbound webhooks for live-chat events."},
        "paths": paths,
        "components": {
            "schemas": components(),
            "securitySchemes": {"bearer": {"type": "http", "scheme": "bearer"}}
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_route_is_described() {
        let doc = document();
        for route in ROUTES {
            let op = &doc["paths"][route.pattern][route.method.as_str().to_ascii_lowercase()];
            assert!(
                op.is_object(),
                "{} {} missing from the OpenAPI document",
                route.method,
                route.pattern
            );
            assert_eq!(op["summary"], route.summary);
        }
    }
}
