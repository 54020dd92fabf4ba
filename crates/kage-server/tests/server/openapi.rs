//! `/openapi.json` and `docs/protocol.md` describe every route in the table, and nothing else.

use std::collections::BTreeSet;

use kage_server::api::ROUTES;
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
            assert_eq!(
                response["headers"]["Retry-After"].is_object(),
                answer.retry_after,
                "Retry-After on {} {} {}",
                route.method,
                route.path,
                answer.status
            );
        }
    }
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
