//! Arbitrary bytes where the server parses input: JSON bodies, query strings, the Authorization and Cookie
//! headers, and JWT headers. Whatever arrives, the server does not panic and never answers 5xx; garbage gets a
//! 4xx. Requests go straight into the router (`tower::ServiceExt::oneshot`), in-process, so each case costs
//! microseconds and a few hundred cases per property fit in a plain `cargo test`.

use axum::Router;
use axum::body::Body;
use axum::http::{HeaderValue, Method, Request, StatusCode, header};
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use kage_server::api::{Access, ROUTES};
use kage_server::tokens::Audience;
use proptest::prelude::*;
use proptest::test_runner::{Config, TestRunner};
use tower::ServiceExt;

use crate::support::TestServer;

/// Cases per property; `KAGE_FUZZ_CASES` asks for more (or fewer).
fn cases() -> u32 {
    std::env::var("KAGE_FUZZ_CASES").ok().and_then(|n| n.parse().ok()).unwrap_or(1024)
}

struct Target {
    runtime: tokio::runtime::Runtime,
    server: TestServer,
    router: Router,
    token: String,
}

impl Target {
    fn start() -> Self {
        let runtime = tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build().unwrap();
        let server = runtime.block_on(TestServer::start());
        let token = runtime.block_on(server.main()).access_token;
        let router = kage_server::api::router(server.server.state.clone());
        Self { runtime, server, router, token }
    }

    fn status(&self, request: Request<Body>) -> StatusCode {
        self.runtime.block_on(self.router.clone().oneshot(request)).unwrap().status()
    }
}

fn runner() -> TestRunner {
    TestRunner::new(Config { cases: cases(), failure_persistence: None, ..Config::default() })
}

/// Bytes that are often almost JSON: JSON punctuation, keywords and field names mixed with anything.
fn jsonish() -> impl Strategy<Value = Vec<u8>> {
    let token = prop_oneof![
        Just(b"{".to_vec()),
        Just(b"}".to_vec()),
        Just(b"[".to_vec()),
        Just(b"]".to_vec()),
        Just(b":".to_vec()),
        Just(b",".to_vec()),
        Just(b"\"".to_vec()),
        Just(b"null".to_vec()),
        Just(b"1e999".to_vec()),
        Just(b"-0".to_vec()),
        Just(b"\"viewer_id\"".to_vec()),
        Just(b"\"amount\"".to_vec()),
        Just(b"\"to\"".to_vec()),
        Just(b"\"username\"".to_vec()),
        Just(b"\"\\ud800\"".to_vec()),
        prop::collection::vec(any::<u8>(), 0..8),
    ];
    prop::collection::vec(token, 0..40).prop_map(|tokens| tokens.concat())
}

fn body_bytes() -> impl Strategy<Value = Vec<u8>> {
    prop_oneof![prop::collection::vec(any::<u8>(), 0..256), jsonish()]
}

/// A JSON object (or nothing but whitespace, which counts as `{}`): only then may a body be accepted.
fn could_be_accepted(bytes: &[u8]) -> bool {
    bytes.iter().all(u8::is_ascii_whitespace)
        || serde_json::from_slice::<serde_json::Map<String, serde_json::Value>>(bytes).is_ok()
}

#[test]
fn arbitrary_json_bodies_get_a_4xx_never_a_5xx_or_a_panic() {
    let target = Target::start();
    let with_body: Vec<_> = ROUTES.iter().filter(|route| route.request.is_some()).collect();
    let strategy = (0..with_body.len(), body_bytes());
    runner()
        .run(&strategy, |(index, bytes)| {
            let route = with_body[index];
            let mut request = Request::builder()
                .method(route.method.clone())
                .uri(route.path)
                .header(header::CONTENT_TYPE, "application/json");
            if route.access == Access::Protected {
                request = request.header(header::AUTHORIZATION, format!("Bearer {}", target.token));
            }
            let status = target.status(request.body(Body::from(bytes.clone())).unwrap());
            prop_assert!(!status.is_server_error(), "{} {} answered {status}", route.method, route.path);
            if !could_be_accepted(&bytes) {
                prop_assert!(status.is_client_error(), "{} {} answered {status} to garbage", route.method, route.path);
            }
            Ok(())
        })
        .unwrap();
}

/// Query strings of arbitrary bytes, each percent-encoded or, if allowed in a URI, sent as it is.
fn query() -> impl Strategy<Value = String> {
    let piece = prop_oneof![
        any::<u8>().prop_map(|b| format!("%{b:02X}")),
        prop::sample::select(b"abcXYZ019-._~!$&'()*+,;=:@/?%".to_vec()).prop_map(|b| (b as char).to_string()),
        Just("viewer_id=".to_owned()),
        Just("&".to_owned()),
    ];
    prop::collection::vec(piece, 0..48).prop_map(|pieces| pieces.concat())
}

#[test]
fn arbitrary_query_strings_never_get_a_5xx_or_a_panic() {
    let target = Target::start();
    // Not the routes that end sessions: main's token must stay good for every case.
    let protected: Vec<_> =
        ROUTES.iter().filter(|route| route.access == Access::Protected && route.method != Method::DELETE).collect();
    let strategy = (0..protected.len(), query());
    runner()
        .run(&strategy, |(index, query)| {
            let route = protected[index];
            let uri = format!("{}?{query}", route.path);
            let Ok(request) = Request::builder()
                .method(route.method.clone())
                .uri(&uri)
                .header(header::AUTHORIZATION, format!("Bearer {}", target.token))
                .header(header::CONTENT_TYPE, "application/json")
                .body(Body::empty())
            else {
                return Ok(()); // not a URI at all: hyper would have refused it before the router
            };
            let status = target.status(request);
            prop_assert!(!status.is_server_error(), "{} {uri} answered {status}", route.method);
            // A viewer_id that is not main's own id is the viewer guard's 403.
            if query.split('&').any(|pair| pair.starts_with("viewer_id=")) {
                prop_assert!(status.is_client_error(), "{} {uri} answered {status}", route.method);
            }
            Ok(())
        })
        .unwrap();
    let response = target.status(
        Request::get("/v1/viewer")
            .header(header::AUTHORIZATION, format!("Bearer {}", target.token))
            .body(Body::empty())
            .unwrap(),
    );
    assert_eq!(response, StatusCode::OK, "main's session lived through the run, so the cases were authenticated");
}

/// JWT-shaped text: three base64url segments of arbitrary bytes, or a real-looking header over garbage.
fn jwt_like() -> impl Strategy<Value = String> {
    let segment = prop::collection::vec(any::<u8>(), 0..96).prop_map(|bytes| URL_SAFE_NO_PAD.encode(bytes));
    let header_json = (
        prop::sample::select(vec!["EdDSA", "none", "HS256", "RS256", "", "eddsa"]),
        prop::option::of(".{0,40}"),
        prop::option::of(".{0,12}"),
    )
        .prop_map(|(alg, kid, typ)| {
            let mut header = serde_json::json!({"alg": alg});
            if let Some(kid) = kid {
                header["kid"] = kid.into();
            }
            if let Some(typ) = typ {
                header["typ"] = typ.into();
            }
            URL_SAFE_NO_PAD.encode(header.to_string())
        });
    prop_oneof![
        (segment.clone(), segment.clone(), segment.clone()).prop_map(|(a, b, c)| format!("{a}.{b}.{c}")),
        (header_json, segment.clone(), segment).prop_map(|(a, b, c)| format!("{a}.{b}.{c}")),
        "[ -~]{0,120}",
    ]
}

/// Arbitrary header bytes, of those HTTP allows in a header value (visible ASCII, space, tab, and 0x80-0xFF).
fn header_bytes() -> impl Strategy<Value = Vec<u8>> {
    let byte = prop_oneof![0x20u8..=0x7e, 0x80u8..=0xff, Just(b'\t')];
    let any_bytes = prop::collection::vec(byte, 0..200);
    let bearer = jwt_like().prop_map(|token| format!("Bearer {token}").into_bytes());
    prop_oneof![any_bytes, bearer]
}

#[test]
fn arbitrary_authorization_and_cookie_headers_are_401_never_a_5xx_or_a_panic() {
    let target = Target::start();
    let strategy = (header_bytes(), any::<bool>());
    runner()
        .run(&strategy, |(bytes, as_cookie)| {
            let value = HeaderValue::from_bytes(&bytes).unwrap();
            let request = Request::builder().method(Method::GET).uri("/v1/viewer");
            let request = if as_cookie {
                let mut cookie = b"__session=".to_vec();
                cookie.extend_from_slice(&bytes);
                request.header(header::COOKIE, HeaderValue::from_bytes(&cookie).unwrap())
            } else {
                request.header(header::AUTHORIZATION, value)
            };
            let status = target.status(request.body(Body::empty()).unwrap());
            prop_assert_eq!(status, StatusCode::UNAUTHORIZED);
            Ok(())
        })
        .unwrap();
}

#[test]
fn arbitrary_jwts_are_refused_by_the_verifier_without_a_panic() {
    let target = Target::start();
    let tokens = &target.server.server.state.tokens;
    runner()
        .run(&jwt_like(), |token| {
            prop_assert!(tokens.verify(&token, Audience::Api).is_err());
            prop_assert!(tokens.verify(&token, Audience::Browser).is_err());
            Ok(())
        })
        .unwrap();
}
