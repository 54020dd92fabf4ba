//! `GET /play`: the reference game's own web client, one static page (`web_client.html`, plain HTML and
//! JavaScript, no build step). It signs in through the cookie route (`POST /v1/browser/sessions`) and refetches
//! the profile with nothing but that cookie, on a timer that `?refetch_ms=` shortens: the seed bug's web client as
//! it was (docs/design.md, "The bug Kage exists to make impossible"), so the bug can be shown in a real browser,
//! and so Kage's web partitions (I13) can be shown to stop it with a site that was not written for Kage.
//!
//! The page's script is inline, allowed by its hash in the Content-Security-Policy and nothing else: no other
//! script runs on this origin's page, and the page talks only to this origin.

use std::sync::LazyLock;

use axum::http::{HeaderValue, header};
use axum::response::{IntoResponse, Response};
use base64::Engine;
use sha2::{Digest, Sha256};

const PAGE: &str = include_str!("web_client.html");

/// The policy the page is served with: its own inline script and style (by hash), requests to its own origin.
static POLICY: LazyLock<HeaderValue> = LazyLock::new(|| {
    let policy = format!(
        "default-src 'none'; script-src '{}'; style-src '{}'; connect-src 'self'; form-action 'none'; \
         frame-ancestors 'none'; base-uri 'none'",
        inline_hash(PAGE, "script"),
        inline_hash(PAGE, "style")
    );
    HeaderValue::from_str(&policy).expect("ASCII")
});

/// The CSP source of the one `<tag>` element's content in `page`: `sha256-<base64>`.
fn inline_hash(page: &str, tag: &str) -> String {
    let open = format!("<{tag}>");
    let start = page.find(&open).expect("the page has the element") + open.len();
    let end = start + page[start..].find(&format!("</{tag}>")).expect("closed");
    let digest = Sha256::digest(&page.as_bytes()[start..end]);
    format!("sha256-{}", base64::engine::general_purpose::STANDARD.encode(digest))
}

pub async fn page() -> Response {
    (
        [
            (header::CONTENT_TYPE, HeaderValue::from_static("text/html; charset=utf-8")),
            (header::CONTENT_SECURITY_POLICY, POLICY.clone()),
            (header::CACHE_CONTROL, HeaderValue::from_static("no-cache")),
            (header::X_CONTENT_TYPE_OPTIONS, HeaderValue::from_static("nosniff")),
            (header::REFERRER_POLICY, HeaderValue::from_static("no-referrer")),
        ],
        PAGE,
    )
        .into_response()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_policy_allows_exactly_the_pages_own_script_and_style() {
        let policy = POLICY.to_str().unwrap();
        assert_eq!(PAGE.matches("<script>").count(), 1, "one inline script, the one the policy names");
        assert_eq!(PAGE.matches("<style>").count(), 1);
        assert!(!PAGE.contains("<script "), "no script element with attributes (src=) beside it");
        assert!(policy.contains(&inline_hash(PAGE, "script")), "{policy}");
        assert!(!policy.contains("unsafe-inline"), "{policy}");
    }
}
