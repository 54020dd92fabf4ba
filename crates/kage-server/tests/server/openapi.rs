//! `/openapi.json` and `docs/protocol.md` describe every route in the table, and nothing else.

use std::collections::BTreeSet;

use kage_server::api::{Access, ROUTES};
use serde_json::Value;

use crate::support::{TestServer, body};

#[tokio::test]
async fn openapi_describes_exactly_the_route_table() {
    let server = TestServer::start().await;
    let document = body(server.http.get(server.url("/openapi.json")).send().await.unwrap()).await;
    let documented: BTreeSet<(String, String)> = document["paths"]
        .as_object()
        .unwrap()
        .iter()
        .flat_map(|(path, item)| item.as_object().unwrap().keys().map(move |m| (m.to_uppercase(), path.clone())))
        .collect();
    let routed: BTreeSet<(String, String)> =
        ROUTES.iter().map(|r| (r.method.as_str().to_owned(), r.path.to_owned())).collect();
    assert_eq!(documented, routed);

    // Every schema reference resolves.
    let text = document.to_string();
    let schemas = document["components"]["schemas"].as_object().unwrap();
    for reference in text.split("#/components/schemas/").skip(1) {
        let name = reference.split('"').next().unwrap();
        assert!(schemas.contains_key(name), "dangling $ref {name}");
    }
    assert!(matches!(document["openapi"], Value::String(ref v) if v.starts_with("3.1")));
}

#[tokio::test]
async fn openapi_lists_each_routes_own_error_answers() {
    let server = TestServer::start().await;
    let document = body(server.http.get(server.url("/openapi.json")).send().await.unwrap()).await;
    for route in ROUTES {
        let operation = &document["paths"][route.path][route.method.as_str().to_lowercase()];
        for answer in route.errors {
            let response = &operation["responses"][answer.status.to_string()];
            let description = response["description"].as_str().unwrap_or_default();
            assert!(description.contains(answer.description), "{} {} {}", route.method, route.path, answer.status);
            // Every protected route may also answer 429 `too_many_new_players` and 503
            // `identity_provider_unavailable`, both with Retry-After, under the same status.
            let shared = route.access == Access::Protected && matches!(answer.status, 429 | 503);
            assert_eq!(
                response["headers"]["Retry-After"].is_object(),
                answer.retry_after || shared,
                "Retry-After on {} {} {}",
                route.method,
                route.path,
                answer.status
            );
        }
    }
    for route in ROUTES {
        let operation = &document["paths"][route.path][route.method.as_str().to_lowercase()];
        let takes_key = operation["parameters"]
            .as_array()
            .is_some_and(|parameters| parameters.iter().any(|p| p["name"] == "Idempotency-Key" && p["in"] == "header"));
        assert_eq!(takes_key, route.idempotent, "Idempotency-Key on {} {}", route.method, route.path);
        if route.idempotent {
            let responses = &operation["responses"];
            assert!(responses["400"]["description"].as_str().unwrap().contains("invalid_idempotency_key"));
            assert!(responses["422"]["description"].as_str().unwrap().contains("idempotency_key_reused"));
            assert!(responses["409"]["description"].as_str().unwrap().contains("action_abandoned"));
            assert!(responses["200"]["headers"]["Idempotent-Replayed"].is_object());
        }
    }
    let idempotent: Vec<&str> = ROUTES.iter().filter(|r| r.idempotent).map(|r| r.path).collect();
    assert_eq!(idempotent, ["/v1/viewer/train", "/v1/viewer/travel", "/v1/transfers"]);
    let sign_in = &document["paths"]["/v1/sessions"]["post"]["responses"];
    assert!(sign_in["429"]["headers"]["Retry-After"].is_object(), "{sign_in}");
}

#[test]
fn protocol_doc_names_every_route() {
    let doc = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/../../docs/protocol.md"))
        .expect("docs/protocol.md exists");
    for route in ROUTES {
        let line = format!("{} {}", route.method, route.path);
        assert!(doc.contains(&line), "docs/protocol.md does not mention `{line}`");
    }
}

#[tokio::test]
async fn openapi_documents_the_answers_any_request_can_get() {
    let server = TestServer::start().await;
    let document = body(server.http.get(server.url("/openapi.json")).send().await.unwrap()).await;
    for route in ROUTES {
        let operation = &document["paths"][route.path][route.method.as_str().to_lowercase()];
        let responses = &operation["responses"];
        let name = format!("{} {}", route.method, route.path);
        assert!(responses["421"].is_object(), "421 (sandbox Host check) on {name}");
        let timeout = &responses["503"];
        assert!(timeout["description"].as_str().unwrap().contains("`timeout`"), "503 timeout on {name}");
        assert!(timeout["headers"]["Retry-After"].is_object(), "Retry-After on the 503 of {name}");
        if route.access == kage_server::api::Access::Protected {
            for status in ["400", "401", "403"] {
                assert!(responses[status].is_object(), "{status} on protected {name}");
            }
            assert!(operation["security"].is_array(), "security schemes on {name}");
        }
        if let Some(schema) = route.request {
            // A body is required exactly when its schema requires a field (an empty body counts as `{}`).
            let requires_fields = document["components"]["schemas"][schema]["required"].as_array().is_some();
            assert_eq!(operation["requestBody"]["required"], requires_fields, "requestBody.required on {name}");
        }
        for parameter in route.path.split('/').filter_map(|s| s.strip_prefix('{')?.strip_suffix('}')) {
            let declared = operation["parameters"]
                .as_array()
                .into_iter()
                .flatten()
                .any(|p| p["name"] == parameter && p["in"] == "path");
            assert!(declared, "path parameter {parameter} of {name}");
        }
    }
}
