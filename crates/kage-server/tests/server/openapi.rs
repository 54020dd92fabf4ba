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

#[test]
fn protocol_doc_names_every_route() {
    let doc = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/../../docs/protocol.md"))
        .expect("docs/protocol.md exists");
    for route in ROUTES {
        let line = format!("{} {}", route.method, route.path);
        assert!(doc.contains(&line), "docs/protocol.md does not mention `{line}`");
    }
}
