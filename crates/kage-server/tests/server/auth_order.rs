//! The authentication order, row by row (docs/design.md, I8; docs/protocol.md, "Authentication order"):
//! Authorization header first and alone; the fail-closed marker shuts the cookie path; the shared cookie only when
//! neither is present.

use reqwest::{Method, StatusCode};

use crate::support::{TestServer, body};

/// What a row sends. `None` leaves the header out.
struct Row {
    name: &'static str,
    authorization: Option<String>,
    cookie: Option<String>,
    marker: bool,
    /// `Ok(username)` the profile of whom comes back; `Err(code)` the 401's error code.
    expect: Result<&'static str, &'static str>,
}

#[tokio::test]
async fn i8_auth_order_header_first_then_marker_then_cookie_and_revoked_tokens_refused() {
    let server = TestServer::start().await;
    let main = server.main().await;
    // The shared jar: alt signed in last in the browser, so the cookie points at alt.
    let alt_cookie = server.browser_sign_in("alt", "alt-password").await;
    let revoked = server.main().await;
    let sign_out = server.request(Method::DELETE, "/v1/sessions/current").bearer_auth(&revoked.access_token);
    assert_eq!(sign_out.send().await.unwrap().status(), StatusCode::NO_CONTENT);

    let bearer = |token: &str| Some(format!("Bearer {token}"));
    let cookie = |value: &str| Some(format!("theme=dark; __session={value}"));
    let rows = [
        Row {
            name: "valid bearer",
            authorization: bearer(&main.access_token),
            cookie: None,
            marker: false,
            expect: Ok("main"),
        },
        Row { name: "nothing", authorization: None, cookie: None, marker: false, expect: Err("unauthenticated") },
        Row { name: "cookie only", authorization: None, cookie: cookie(&alt_cookie), marker: false, expect: Ok("alt") },
        Row {
            name: "bearer wins over cookie",
            authorization: bearer(&main.access_token),
            cookie: cookie(&alt_cookie),
            marker: false,
            expect: Ok("main"),
        },
        Row {
            name: "marker + cookie, no header",
            authorization: None,
            cookie: cookie(&alt_cookie),
            marker: true,
            expect: Err("unauthenticated"),
        },
        Row {
            name: "marker + bearer",
            authorization: bearer(&main.access_token),
            cookie: cookie(&alt_cookie),
            marker: true,
            expect: Ok("main"),
        },
        Row {
            name: "invalid bearer + valid cookie",
            authorization: bearer("eyJhbGciOiJFZERTQSJ9.e30.AAAA"),
            cookie: cookie(&alt_cookie),
            marker: false,
            expect: Err("invalid_token"),
        },
        Row {
            name: "Bearer null + valid cookie",
            authorization: Some("Bearer null".into()),
            cookie: cookie(&alt_cookie),
            marker: false,
            expect: Err("invalid_token"),
        },
        Row {
            name: "empty bearer + valid cookie",
            authorization: Some("Bearer ".into()),
            cookie: cookie(&alt_cookie),
            marker: false,
            expect: Err("invalid_token"),
        },
        Row {
            name: "other scheme + valid cookie",
            authorization: Some("Basic bWFpbjptYWluLXBhc3N3b3Jk".into()),
            cookie: cookie(&alt_cookie),
            marker: false,
            expect: Err("invalid_token"),
        },
        Row {
            name: "cookie token used as bearer",
            authorization: bearer(&alt_cookie),
            cookie: None,
            marker: false,
            expect: Err("invalid_token"),
        },
        Row {
            name: "bearer token used as cookie",
            authorization: None,
            cookie: cookie(&main.access_token),
            marker: false,
            expect: Err("invalid_token"),
        },
        Row {
            name: "revoked session's bearer + valid cookie",
            authorization: bearer(&revoked.access_token),
            cookie: cookie(&alt_cookie),
            marker: false,
            expect: Err("invalid_token"),
        },
    ];
    for row in rows {
        let mut request = server.request(Method::GET, "/v1/viewer");
        if let Some(value) = &row.authorization {
            request = request.header("authorization", value);
        }
        if let Some(value) = &row.cookie {
            request = request.header("cookie", value);
        }
        if row.marker {
            request = request.header("x-kage-auth-required", "1");
        }
        let response = request.send().await.unwrap();
        let status = response.status();
        let has_challenge = response.headers().contains_key("www-authenticate");
        let value = body(response).await;
        match row.expect {
            Ok(username) => {
                assert_eq!(status, StatusCode::OK, "{}: {value}", row.name);
                assert_eq!(value["username"], username, "{}", row.name);
            }
            Err(code) => {
                assert_eq!(status, StatusCode::UNAUTHORIZED, "{}: {value}", row.name);
                assert_eq!(value["error"], code, "{}", row.name);
                assert!(has_challenge, "{}: 401 without WWW-Authenticate", row.name);
            }
        }
    }
}

#[tokio::test]
async fn browser_cookie_is_last_sign_in_wins() {
    let server = TestServer::start().await;
    let first = server.browser_sign_in("main", "main-password").await;
    let last = server.browser_sign_in("alt", "alt-password").await;
    for (cookie, username) in [(first, "main"), (last, "alt")] {
        let response =
            server.request(Method::GET, "/v1/viewer").header("cookie", format!("__session={cookie}")).send().await;
        assert_eq!(body(response.unwrap()).await["username"], username);
    }
}

#[tokio::test]
async fn i8_a_cookie_sign_out_clears_the_cookie_and_ends_the_session() {
    let server = TestServer::start().await;
    let cookie = format!("__session={}", server.browser_sign_in("main", "main-password").await);
    let response = server.request(Method::DELETE, "/v1/sessions/current").header("cookie", &cookie).send().await;
    let response = response.unwrap();
    assert_eq!(response.status(), StatusCode::NO_CONTENT);
    assert!(response.headers()["set-cookie"].to_str().unwrap().contains("Max-Age=0"));
    let again = server.request(Method::GET, "/v1/viewer").header("cookie", &cookie).send().await.unwrap();
    assert_eq!(again.status(), StatusCode::UNAUTHORIZED);
}
