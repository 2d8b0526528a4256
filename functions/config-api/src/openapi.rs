//! The OpenAPI 3.1 document, generated from the route table: every body's
//! schema is derived (schemars, JSON Schema 2020-12) from the Rust type the
//! handler reads or answers, so the document cannot drift from the API.
use chathooks::api::schema::ErrorBody;
use schemars::SchemaGenerator;
use schemars::generate::SchemaSettings;
use serde_json::{Map, Value, json};

use crate::routes::{Auth, ROUTES, ServedBy};
use chathooks::app::caller::Access;

const COMPONENTS: &str = "#/components/schemas/";

fn generator(serialize: bool) -> SchemaGenerator {
    let settings = SchemaSettings::draft2020_12().with(|s| {
        s.definitions_path = "/components/schemas".into();
        s.meta_schema = None;
    });
    if serialize {
        settings.for_serialize().into_generator()
    } else {
        settings.for_deserialize().into_generator()
    }
}

/// Rewrite `$ref`s to renamed components.
fn rename_refs(value: &mut Value, renames: &[(String, String)]) {
    match value {
        Value::Object(map) => {
            if let Some(Value::String(r)) = map.get_mut("$ref")
                && let Some(name) = r.strip_prefix(COMPONENTS)
                && let Some((_, new)) = renames.iter().find(|(old, _)| old == name)
            {
                *r = format!("{COMPONENTS}{new}");
            }
            map.values_mut().for_each(|v| rename_refs(v, renames));
        }
        Value::Array(items) => items.iter_mut().for_each(|v| rename_refs(v, renames)),
        _ => {}
    }
}

fn json_content(schema: Value) -> Value {
    json!({"application/json": {"schema": schema}})
}

fn error_response(description: &str) -> Value {
    json!({"description": description, "content": json_content(json!({"$ref": format!("{COMPONENTS}Error")}))})
}

pub fn document() -> Value {
    // Requests are read (deserialize contract: defaulted fields are optional),
    // responses written (serialize contract: skipped-when-empty fields are
    // optional). A type whose two schemas differ gets a `...Response` twin.
    let mut requests = generator(false);
    let mut responses = generator(true);
    let request_schemas: Vec<Option<Value>> = ROUTES
        .iter()
        .map(|r| r.request.map(|f| f(&mut requests).to_value()))
        .collect();
    let mut response_schemas: Vec<Option<Value>> = ROUTES
        .iter()
        .map(|r| r.response.1.map(|f| f(&mut responses).to_value()))
        .collect();
    let query_schemas: Vec<Vec<Value>> = ROUTES
        .iter()
        .map(|r| {
            r.query
                .iter()
                .map(|(_, _, f)| f(&mut requests).to_value())
                .collect()
        })
        .collect();
    let mut error = responses.subschema_for::<ErrorBody>().to_value();
    let mut schemas = requests.take_definitions(true);
    let mut response_defs = responses.take_definitions(true);
    let mut renames: Vec<(String, String)> = response_defs
        .iter()
        .filter(|(name, schema)| schemas.get(*name).is_some_and(|s| s != *schema))
        .map(|(name, _)| (name.clone(), format!("{name}Response")))
        .collect();
    renames.push(("ErrorBody".into(), "Error".into()));
    for (_, schema) in response_defs.iter_mut() {
        rename_refs(schema, &renames);
    }
    for schema in response_schemas.iter_mut().flatten() {
        rename_refs(schema, &renames);
    }
    rename_refs(&mut error, &renames);
    for (name, schema) in response_defs {
        let name = renames
            .iter()
            .find(|(old, _)| *old == name)
            .map_or(name, |(_, new)| new.clone());
        schemas.insert(name, schema);
    }

    let mut paths = Map::new();
    for (((route, request), response), query_schemas) in ROUTES
        .iter()
        .zip(request_schemas)
        .zip(response_schemas)
        .zip(query_schemas)
    {
        let mut op = Map::new();
        op.insert("summary".into(), json!(route.summary));
        op.insert("operationId".into(), json!(format!("{:?}", route.id)));
        let mut parameters: Vec<Value> = route
            .pattern
            .split('/')
            .filter(|s| s.starts_with('{'))
            .map(|s| json!({"name": s.trim_matches(['{', '}']), "in": "path", "required": true, "schema": {"type": "string"}}))
            .collect();
        parameters.extend(route.query.iter().zip(query_schemas).map(|((name, description, _), schema)| {
            json!({"name": name, "in": "query", "required": false, "description": description, "schema": schema})
        }));
        if !parameters.is_empty() {
            op.insert("parameters".into(), Value::Array(parameters));
        }
        if let Some(schema) = request {
            op.insert(
                "requestBody".into(),
                json!({"required": true, "content": json_content(schema)}),
            );
        }
        let mut answers = Map::new();
        let (status, _) = route.response;
        for status in std::iter::once(status).chain(route.also.iter().copied()) {
            answers.insert(
                status.to_string(),
                match &response {
                    Some(schema) => {
                        json!({"description": "success", "content": json_content(schema.clone())})
                    }
                    None => json!({"description": "success"}),
                },
            );
        }
        answers.insert(
            "400".into(),
            error_response("invalid request, naming the field"),
        );
        if route.auth != Auth::None {
            answers.insert(
                "401".into(),
                error_response("missing or invalid key, or an expired or revoked portal token"),
            );
        }
        const SUSPENDED: &str = "`tenant_suspended`: the tenant is suspended";
        match route.auth {
            // The intake knows no portal token: it answers 401 to one.
            Auth::Tenant(Access::ApiKeyOnly) if route.served_by == ServedBy::ConfigApi => {
                answers.insert(
                    "403".into(),
                    error_response(&format!(
                        "`forbidden`: a portal token cannot do this; {SUSPENDED}"
                    )),
                );
            }
            Auth::Tenant(Access::Write) => {
                answers.insert(
                    "403".into(),
                    error_response(&format!(
                        "`read_only`: the portal token is read-only; {SUSPENDED}"
                    )),
                );
            }
            Auth::Tenant(_) | Auth::RocketChat => {
                answers.insert("403".into(), error_response(SUSPENDED));
            }
            _ => {}
        }
        if route.id == crate::routes::RouteId::DeleteTenant {
            answers.insert(
                "204".into(),
                json!({"description": "deleted: nothing of the tenant remains"}),
            );
        }
        if route.pattern.contains('{') {
            answers.insert(
                "404".into(),
                error_response("not found, or another tenant's: the two are indistinguishable"),
            );
        }
        if route.id == crate::routes::RouteId::ReceiveSourcePost {
            answers.insert(
                "401".into(),
                error_response("no source has this URL, or the platform's credential is missing or wrong: nothing was queued"),
            );
            answers.insert("403".into(), error_response(SUSPENDED));
            answers.insert(
                "404".into(),
                error_response("the source was deleted: nothing was queued"),
            );
            answers.insert("413".into(), error_response("body too large"));
        }
        if route.request.is_some() {
            answers.insert("413".into(), error_response("body too large"));
            answers.insert("415".into(), error_response("not JSON"));
        }
        answers.insert(
            "default".into(),
            error_response("any other error (405, 409, 503: nothing was accepted, 500)"),
        );
        op.insert("responses".into(), Value::Object(answers));
        let security = match route.auth {
            Auth::Admin => json!([{"adminKey": []}]),
            Auth::Tenant(Access::ApiKeyOnly) => json!([{"apiKey": []}]),
            Auth::Tenant(_) => json!([{"apiKey": []}, {"portalToken": []}]),
            Auth::RocketChat => json!([{"rocketchatToken": [], "rocketchatUser": []}]),
            Auth::None => json!([]),
        };
        op.insert("security".into(), security);
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
        "openapi": "3.1.0",
        "info": {"title": "chathooks", "version": env!("CARGO_PKG_VERSION"), "description": "Outbound webhooks for live-chat events. Errors are {\"error\": {\"code\", \"message\", \"field\"?}}."},
        "paths": paths,
        "components": {
            "schemas": schemas,
            "securitySchemes": {
                "apiKey": {"type": "http", "scheme": "bearer", "description": "a tenant API key (`chk_...`)"},
                "adminKey": {"type": "http", "scheme": "bearer", "description": "the deployment's admin key"},
                "portalToken": {"type": "http", "scheme": "bearer", "description": "a portal session's token (`chp_...`); a read-only one is refused (403 `read_only`) on every change, the secret and the preview"},
                "rocketchatToken": {"type": "apiKey", "in": "header", "name": "X-Auth-Token", "description": "a tenant API key"},
                "rocketchatUser": {"type": "apiKey", "in": "header", "name": "X-User-Id", "description": "the key's tenant id"}
            }
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

    fn refs<'a>(value: &'a Value, out: &mut Vec<&'a str>) {
        match value {
            Value::Object(map) => {
                if let Some(Value::String(r)) = map.get("$ref") {
                    out.push(r);
                }
                map.values().for_each(|v| refs(v, out));
            }
            Value::Array(items) => items.iter().for_each(|v| refs(v, out)),
            _ => {}
        }
    }

    #[test]
    fn every_ref_resolves_and_every_component_is_real() {
        let doc = document();
        let mut found = Vec::new();
        refs(&doc, &mut found);
        assert!(found.len() > 20, "expected real $refs, got {found:?}");
        for r in found {
            let pointer = r.strip_prefix('#').unwrap();
            assert!(doc.pointer(pointer).is_some(), "unresolved $ref {r}");
        }
        let schemas = doc["components"]["schemas"].as_object().unwrap();
        for (name, schema) in schemas {
            assert_ne!(
                schema,
                &json!({"type": "object", "title": name}),
                "{name} is a placeholder"
            );
            assert!(
                schema.get("type").is_some()
                    || schema.get("anyOf").is_some()
                    || schema.get("oneOf").is_some()
                    || schema.get("enum").is_some()
                    || schema.get("$ref").is_some(),
                "{name}: {schema}"
            );
        }
        // the DTOs the issue names have their own component, with their fields
        let props = |name: &str| schemas[name]["properties"].as_object().unwrap().clone();
        assert!(props("NewIntegration").contains_key("retry_policy"));
        assert!(props("IntegrationView").contains_key("disabled_reason"));
        assert!(props("CreatedIntegration").contains_key("secret"));
        assert!(!props("IntegrationView").contains_key("secret"));
        assert!(props("DeliveryDetail").contains_key("attempts"));
        // ordered delivery: the setting everywhere an integration is, and why a delivery waits
        for dto in ["NewIntegration", "IntegrationPatch", "IntegrationView"] {
            assert!(props(dto).contains_key("ordering"), "{dto}");
        }
        let ordering = schemas["Ordering"].to_string();
        assert!(
            ordering.contains(r#""none""#) && ordering.contains(r#""chat""#),
            "{ordering}"
        );
        assert!(props("Delivery").contains_key("waiting_for"));
        assert!(props("Event").contains_key("type"));
        assert!(props("LivechatWebhookSettings").contains_key("LivechatWebhookOnClose"));
        assert_eq!(
            schemas["NewIntegration"]["additionalProperties"],
            json!(false)
        );
    }

    #[test]
    fn the_document_has_openapi_3_1_structure() {
        let doc = document();
        assert_eq!(doc["openapi"], "3.1.0");
        assert!(doc["info"]["title"].is_string() && doc["info"]["version"].is_string());
        let schemes = doc["components"]["securitySchemes"].as_object().unwrap();
        let mut operation_ids = std::collections::HashSet::new();
        for (path, item) in doc["paths"].as_object().unwrap() {
            assert!(path.starts_with('/'), "{path}");
            for (method, op) in item.as_object().unwrap() {
                assert!(
                    ["get", "post", "patch", "delete", "put"].contains(&method.as_str()),
                    "{method}"
                );
                assert!(operation_ids.insert(op["operationId"].as_str().unwrap().to_string()));
                let responses = op["responses"].as_object().unwrap();
                assert!(!responses.is_empty());
                for (status, response) in responses {
                    assert!(
                        status == "default"
                            || status.parse::<u16>().is_ok_and(|s| (100..600).contains(&s)),
                        "{status}"
                    );
                    assert!(
                        response["description"].is_string(),
                        "{path} {method} {status}"
                    );
                }
                // every path template parameter is declared
                let declared: Vec<&str> = op["parameters"]
                    .as_array()
                    .map(|p| {
                        p.iter()
                            .filter(|p| p["in"] == "path")
                            .map(|p| p["name"].as_str().unwrap())
                            .collect()
                    })
                    .unwrap_or_default();
                for segment in path.split('/').filter(|s| s.starts_with('{')) {
                    assert!(
                        declared.contains(&segment.trim_matches(['{', '}'])),
                        "{path}"
                    );
                }
                for requirement in op["security"].as_array().unwrap() {
                    for scheme in requirement.as_object().unwrap().keys() {
                        assert!(schemes.contains_key(scheme), "{scheme}");
                    }
                }
                if let Some(body) = op.get("requestBody") {
                    assert!(body["content"]["application/json"]["schema"].is_object());
                }
            }
        }
        // the intake's route is described too
        assert!(doc["paths"]["/v1/events"]["post"]["requestBody"].is_object());
    }

    #[test]
    fn nullable_fields_allow_null() {
        let doc = document();
        let schemas = &doc["components"]["schemas"];
        let view = &schemas["IntegrationView"]["properties"]["disabled_reason"];
        assert!(
            view.to_string().contains("\"null\""),
            "disabled_reason is serialized as null: {view}"
        );
        let page = &schemas["IntegrationPage"]["properties"]["next_cursor"];
        assert!(page.to_string().contains("\"null\""), "{page}");
    }

    #[test]
    #[ignore = "prints the document"]
    fn print_document() {
        println!("{}", serde_json::to_string_pretty(&document()).unwrap());
    }
}
