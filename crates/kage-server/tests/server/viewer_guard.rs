//! The viewer guard on every protected route (I8), found by walking the route table the router is built
//! from, so a route added later is covered without anyone remembering to add it here.

use kage_server::api::{Access, ROUTES};
use reqwest::StatusCode;
use serde_json::json;

use crate::support::{TestServer, body};

#[tokio::test]
async fn i8_every_protected_route_rejects_another_players_viewer_id() {
    let server = TestServer::start().await;
    let protected: Vec<_> = ROUTES.iter().filter(|route| route.access == Access::Protected).collect();
    assert!(protected.len() >= 6, "the table lists the protected routes");
    for route in protected {
        // Fresh sessions per route: the sign-out route ends the session it is called with.
        let main = server.main().await;
        let alt = server.alt().await;
        let method = reqwest::Method::from_bytes(route.method.as_str().as_bytes()).unwrap();
        let with_query = |viewer_id: &str| {
            server
                .request(method.clone(), &format!("{}?viewer_id={viewer_id}", route.path))
                .bearer_auth(&main.access_token)
        };
        let response = with_query(&alt.user_id).send().await.unwrap();
        let status = response.status();
        assert_eq!(status, StatusCode::FORBIDDEN, "{} {} with alt's viewer_id in the query", route.method, route.path);
        assert_eq!(body(response).await["error"], "viewer_mismatch");

        if route.request.is_some() {
            let response = server
                .request(method.clone(), route.path)
                .bearer_auth(&main.access_token)
                .json(&json!({"viewer_id": alt.user_id}))
                .send()
                .await
                .unwrap();
            assert_eq!(
                response.status(),
                StatusCode::FORBIDDEN,
                "{} {} with alt's viewer_id in the body",
                route.method,
                route.path
            );
            // Query and body must both hold: a matching query does not excuse a mismatching body.
            let response = server
                .request(method.clone(), &format!("{}?viewer_id={}", route.path, main.user_id))
                .bearer_auth(&main.access_token)
                .json(&json!({"viewer_id": alt.user_id}))
                .send()
                .await
                .unwrap();
            assert_eq!(response.status(), StatusCode::FORBIDDEN, "{} {} body mismatch", route.method, route.path);
        }

        // Control: the player's own id passes the guard (whatever the route then answers).
        let own = with_query(&main.user_id).send().await.unwrap();
        assert_ne!(own.status(), StatusCode::FORBIDDEN, "{} {} with main's own viewer_id", route.method, route.path);
        assert_ne!(own.status(), StatusCode::UNAUTHORIZED, "{} {}", route.method, route.path);
    }
}

#[tokio::test]
async fn i8_a_viewer_id_given_twice_must_match_both_times() {
    let server = TestServer::start().await;
    let main = server.main().await;
    let alt = server.alt().await;
    let path = format!("/v1/viewer?viewer_id={}&viewer_id={}", main.user_id, alt.user_id);
    assert_eq!(server.get_as(&path, &main.access_token).await.status(), StatusCode::FORBIDDEN);
}

#[tokio::test]
async fn i8_every_protected_route_requires_a_credential() {
    let server = TestServer::start().await;
    for route in ROUTES.iter().filter(|route| route.access == Access::Protected) {
        let method = reqwest::Method::from_bytes(route.method.as_str().as_bytes()).unwrap();
        let response = server.request(method, route.path).send().await.unwrap();
        assert_eq!(response.status(), StatusCode::UNAUTHORIZED, "{} {}", route.method, route.path);
    }
}

#[tokio::test]
async fn public_routes_answer_without_a_credential() {
    let server = TestServer::start().await;
    for route in ROUTES.iter().filter(|route| route.access == Access::Public) {
        let method = reqwest::Method::from_bytes(route.method.as_str().as_bytes()).unwrap();
        let response = server.request(method, route.path).send().await.unwrap();
        assert_ne!(response.status(), StatusCode::UNAUTHORIZED, "{} {}", route.method, route.path);
        assert_ne!(response.status(), StatusCode::NOT_FOUND, "{} {}", route.method, route.path);
        assert_ne!(response.status(), StatusCode::METHOD_NOT_ALLOWED, "{} {}", route.method, route.path);
    }
}
