//! The HTTP API as one table of routes. The router, the OpenAPI document and the guard test all read
//! [`ROUTES`], so a route cannot exist without being described, and a protected route cannot exist without
//! being checked for the viewer guard.

use axum::Router;
use axum::extract::DefaultBodyLimit;
use axum::http::Method;
use axum::routing::{MethodRouter, delete, get, post};

use crate::AppState;
use crate::auth::BODY_LIMIT;
use crate::error::ApiError;

pub mod accounts;
pub mod events;
mod meta;
mod sessions;
mod viewer;
mod web_client;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Access {
    Public,
    /// Takes a [`crate::auth::Viewer`]: authenticated and viewer-guarded.
    Protected,
}

/// An answer a route gives besides its success and the answers every route of its kind gives (see
/// `openapi`): documented from here, so the description lists what the handler can really say.
pub struct Answer {
    pub status: u16,
    pub description: &'static str,
    /// The answer carries `Retry-After` (seconds).
    pub retry_after: bool,
}

const fn answer(status: u16, description: &'static str) -> Answer {
    Answer { status, description, retry_after: false }
}

const fn retry_later(status: u16, description: &'static str) -> Answer {
    Answer { status, description, retry_after: true }
}

const SIGN_IN_THROTTLED: Answer =
    retry_later(429, "`too_many_attempts`: too many failed sign-ins for this username, or at all, from this address");
/// With `--no-password-sign-in`, the routes that take a password refuse.
const PASSWORDS_OFF: Answer =
    answer(403, "`password_sign_in_disabled`: this server signs players in through its OpenID Connect provider only");
/// Routes that hash or check a password can be turned away while that work is at its bound (`passwords`).
const BUSY: Answer = retry_later(503, "`busy`: too much password work in progress");

pub struct Route {
    pub method: Method,
    pub path: &'static str,
    pub access: Access,
    pub summary: &'static str,
    /// Name of the request body's schema in the OpenAPI components, if the route takes a body.
    pub request: Option<&'static str>,
    /// Success status and the name of its body's schema (`None`: no body).
    pub response: (u16, Option<&'static str>),
    /// Route-specific error answers.
    pub errors: &'static [Answer],
    /// Takes an `Idempotency-Key` header (see `idempotency`).
    pub idempotent: bool,
    mount: fn() -> MethodRouter<AppState>,
}

pub static ROUTES: &[Route] = &[
    Route {
        method: Method::GET,
        path: "/healthz",
        access: Access::Public,
        summary: "Health check: 503 while an instance on PostgreSQL does not hear the other instances",
        request: None,
        response: (200, Some("Health")),
        errors: &[Answer {
            status: 503,
            description: "This instance does not hear the others' revocations yet: send players elsewhere",
            retry_after: true,
        }],
        idempotent: false,
        mount: || get(meta::healthz),
    },
    Route {
        method: Method::GET,
        path: "/.well-known/jwks.json",
        access: Access::Public,
        summary: "Public keys that verify access tokens (JWKS)",
        request: None,
        response: (200, Some("Jwks")),
        errors: &[],
        idempotent: false,
        mount: || get(meta::jwks),
    },
    Route {
        method: Method::GET,
        path: "/v1/auth-config",
        access: Access::Public,
        summary: "How to sign in here: whether passwords are taken, and the OpenID Connect provider (issuer, client \
                  id, audience, scopes) whose access tokens this server accepts",
        request: None,
        response: (200, Some("AuthConfig")),
        errors: &[],
        idempotent: false,
        mount: || get(meta::auth_config),
    },
    Route {
        method: Method::GET,
        path: "/openapi.json",
        access: Access::Public,
        summary: "This API description",
        request: None,
        response: (200, None),
        errors: &[],
        idempotent: false,
        mount: || get(meta::openapi),
    },
    Route {
        method: Method::POST,
        path: "/v1/sign-up",
        access: Access::Public,
        summary: "Create a player",
        request: Some("SignUpRequest"),
        response: (201, Some("SignedUp")),
        errors: &[
            answer(409, "`username_taken`"),
            PASSWORDS_OFF,
            retry_later(429, "`too_many_sign_ups`: too many sign-ups from this address"),
            BUSY,
        ],
        idempotent: false,
        mount: || post(accounts::sign_up),
    },
    Route {
        method: Method::POST,
        path: "/v1/sessions",
        access: Access::Public,
        summary: "Sign in: start a session, get an access token and a refresh token",
        request: Some("UsernamePassword"),
        response: (201, Some("SessionGrant")),
        errors: &[answer(401, "`wrong_credentials`"), PASSWORDS_OFF, SIGN_IN_THROTTLED, BUSY],
        idempotent: false,
        mount: || post(accounts::sign_in),
    },
    Route {
        method: Method::POST,
        path: "/v1/sessions/refresh",
        access: Access::Public,
        summary: "Trade a refresh token for a new access token and a new refresh token (the old one is spent)",
        request: Some("RefreshRequest"),
        response: (200, Some("SessionGrant")),
        errors: &[
            answer(
                401,
                "`invalid_grant`: unknown, revoked, or spent outside the grace period (which revokes the session)",
            ),
            retry_later(
                429,
                "`too_many_refreshes`: this address refreshed too often; the refresh token was not spent, so present \
                 it again after Retry-After",
            ),
        ],
        idempotent: false,
        mount: || post(accounts::refresh),
    },
    Route {
        method: Method::POST,
        path: "/v1/sessions/fork",
        access: Access::Protected,
        summary: "Fork the calling session: a new independent session of the same player (its own refresh token, \
                  the same absolute end), for moving an account to another computer. Bearer token only, never the \
                  cookie, and the body proves the calling session's live refresh token (else 401 `invalid_grant`). \
                  Ending the calling session ends its forks",
        request: Some("ForkRequest"),
        response: (201, Some("SessionGrant")),
        // A cookie-authenticated request gets the protected routes' 401 (`unauthenticated`): a cookie is ambient;
        // a refresh token that is not the calling session's live one, the same 401 with `invalid_grant`.
        errors: &[],
        idempotent: false,
        mount: || post(accounts::fork),
    },
    Route {
        method: Method::POST,
        path: "/v1/sessions/revoke",
        access: Access::Public,
        summary: "Revoke the session a refresh token belongs to (RFC 7009 style): 200 whether or not the token was known",
        request: Some("RefreshRequest"),
        response: (200, None),
        errors: &[],
        idempotent: false,
        mount: || post(accounts::revoke),
    },
    Route {
        method: Method::DELETE,
        path: "/v1/sessions/current",
        access: Access::Protected,
        summary: "Sign out: end the calling session; its tokens stop working at once",
        request: None,
        response: (204, None),
        errors: &[],
        idempotent: false,
        mount: || delete(accounts::sign_out),
    },
    Route {
        method: Method::GET,
        path: "/v1/sessions",
        access: Access::Protected,
        summary: "The player's live sessions (each signed-in device or browser), marking the calling one",
        request: None,
        response: (200, Some("SessionList")),
        errors: &[],
        idempotent: false,
        mount: || get(sessions::list),
    },
    Route {
        method: Method::DELETE,
        path: "/v1/sessions/{id}",
        access: Access::Protected,
        summary: "End one of the player's own sessions (for example one left on another computer) and the sessions \
                  forked from it, never the calling one",
        request: None,
        response: (204, None),
        errors: &[
            answer(400, "`malformed_path`: the id is not valid UTF-8"),
            answer(404, "`not_found`: no live session with this id belongs to the player"),
        ],
        idempotent: false,
        mount: || delete(sessions::end),
    },
    Route {
        method: Method::POST,
        path: "/v1/sessions/end-others",
        access: Access::Protected,
        summary: "End every one of the player's live sessions but the calling one (other computers, exports, browsers)",
        request: None,
        response: (200, Some("EndedOthers")),
        errors: &[],
        idempotent: false,
        mount: || post(sessions::end_others),
    },
    Route {
        method: Method::POST,
        path: "/v1/browser/sessions",
        access: Access::Public,
        summary: "Web sign-in: sets the shared __session cookie (last sign-in wins, as in a browser)",
        request: Some("UsernamePassword"),
        response: (201, Some("BrowserSession")),
        errors: &[answer(401, "`wrong_credentials`"), PASSWORDS_OFF, SIGN_IN_THROTTLED, BUSY],
        idempotent: false,
        mount: || post(accounts::browser_sign_in),
    },
    Route {
        method: Method::GET,
        path: "/v1/viewer",
        access: Access::Protected,
        summary: "The signed-in player's profile",
        request: None,
        response: (200, Some("Profile")),
        errors: &[answer(404, "`not_found`: the player no longer exists")],
        idempotent: false,
        mount: || get(viewer::profile),
    },
    Route {
        method: Method::POST,
        path: "/v1/viewer/train",
        access: Access::Protected,
        summary: "Train a stat: +1 to it and experience towards the next level",
        request: Some("TrainRequest"),
        response: (200, Some("Profile")),
        errors: &[answer(404, "`not_found`: the player no longer exists")],
        idempotent: true,
        mount: || post(viewer::train),
    },
    Route {
        method: Method::POST,
        path: "/v1/viewer/travel",
        access: Access::Protected,
        summary: "Travel to another village (costs ryo)",
        request: Some("TravelRequest"),
        response: (200, Some("Profile")),
        errors: &[
            answer(404, "`not_found`: the player no longer exists"),
            answer(409, "`already_there`, `insufficient_ryo`"),
        ],
        idempotent: true,
        mount: || post(viewer::travel),
    },
    Route {
        method: Method::POST,
        path: "/v1/transfers",
        access: Access::Protected,
        summary: "Send ryo to another player; answers with the sender's updated profile",
        request: Some("TransferRequest"),
        response: (200, Some("Profile")),
        errors: &[answer(404, "`not_found`: no player of that name"), answer(409, "`insufficient_ryo`")],
        idempotent: true,
        mount: || post(viewer::transfer),
    },
    Route {
        method: Method::POST,
        path: "/v1/actions/settle",
        access: Access::Protected,
        summary: "What became of an action whose answers were lost: its first answer, or, if it never arrived, \
                  `abandoned` (and a later arrival is refused with 409 `action_abandoned`)",
        request: Some("SettleRequest"),
        response: (200, Some("Settlement")),
        errors: &[answer(400, "`invalid_idempotency_key`: not 1 to 64 visible ASCII characters")],
        idempotent: false,
        mount: || post(viewer::settle),
    },
    Route {
        method: Method::GET,
        path: "/v1/events",
        access: Access::Protected,
        summary: "The signed-in player's events as Server-Sent Events",
        request: None,
        response: (200, None),
        errors: &[answer(429, "`too_many_streams`: the player already has 16 event streams open")],
        idempotent: false,
        mount: || get(events::stream),
    },
    Route {
        method: Method::GET,
        path: WEB_CLIENT_PATH,
        access: Access::Public,
        summary: "The game's own web client (an HTML page): signs in with the __session cookie and refetches the \
                  profile with it alone, every `refetch_ms` milliseconds (a query parameter the page reads; 300000 \
                  by default): the seed bug's client, for showing the bug in a browser",
        request: None,
        response: (200, None),
        errors: &[],
        idempotent: false,
        mount: || get(web_client::page),
    },
];

/// Where the web client page is served (see [`web_client`]).
pub const WEB_CLIENT_PATH: &str = "/play";

pub fn router(state: AppState) -> Router {
    ROUTES
        .iter()
        .fold(Router::new(), |router, route| router.route(route.path, (route.mount)()))
        .fallback(|| async { ApiError::NotFound("no such route".into()) })
        .method_not_allowed_fallback(|| async { ApiError::MethodNotAllowed })
        .layer(DefaultBodyLimit::max(BODY_LIMIT))
        .with_state(state)
}
