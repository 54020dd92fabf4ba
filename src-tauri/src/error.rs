//! The one error a command returns: a stable `code` for the page to branch on and a `message` written for the
//! player. Core errors are turned into these here, at the edge, and nowhere else.

use kage_core::authority::AuthError;
use kage_core::client::ClientError;
use kage_core::sessions::{SignInError, TokenError};
use serde::Serialize;
use ts_rs::TS;

/// What went wrong, for the page to branch on: the same enum in TypeScript (`ErrorCode` in the generated
/// contract), so a code the page tests for is one the shell can send.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, TS)]
#[serde(rename_all = "snake_case")]
pub enum ErrorCode {
    AlreadyThere,
    BadAnswer,
    BrowserSignIn,
    Busy,
    Cancelled,
    ExportFailed,
    ImportDamaged,
    ImportFailed,
    InsufficientRyo,
    InvalidInput,
    KeychainLocked,
    NoBrowser,
    NoScreen,
    NotFound,
    NotOffered,
    NotSaved,
    Offline,
    OtherAccount,
    Outdated,
    PathNotAllowed,
    RateLimited,
    Refused,
    ServerMoved,
    ShortcutFailed,
    SignOutIncomplete,
    SignedOut,
    Superseded,
    Throttled,
    TimedOut,
    Unconfirmed,
    Unreachable,
    Window,
    WrongAccount,
    WrongCredentials,
    WrongPassphrase,
}

/// As the page sees it (`"not_found"`): lets tests compare a code with the text of an answer.
impl PartialEq<&str> for ErrorCode {
    fn eq(&self, other: &&str) -> bool {
        serde_json::to_value(self).is_ok_and(|value| value == *other)
    }
}

#[derive(Debug, Clone, Serialize, PartialEq, Eq, TS)]
pub struct CommandError {
    pub code: ErrorCode,
    pub message: String,
}

impl CommandError {
    pub fn new(code: ErrorCode, message: impl Into<String>) -> Self {
        Self { code, message: message.into() }
    }

    pub fn invalid(message: impl Into<String>) -> Self {
        Self::new(ErrorCode::InvalidInput, message)
    }

    pub fn busy() -> Self {
        Self::new(ErrorCode::Busy, "That is already on its way.")
    }
}

impl std::fmt::Display for CommandError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.message)
    }
}

impl From<TokenError> for CommandError {
    fn from(error: TokenError) -> Self {
        match error {
            TokenError::SignedOut => Self::new(ErrorCode::SignedOut, "This account is signed out. Sign in again."),
            TokenError::Offline(_) => {
                Self::new(ErrorCode::Offline, "The game server cannot be reached. Showing saved data.")
            }
            TokenError::Keychain(message) => Self::new(ErrorCode::KeychainLocked, message),
            TokenError::WrongSubject => {
                Self::new(ErrorCode::WrongAccount, "The server answered for another account; nothing was shown.")
            }
            TokenError::Superseded => Self::new(ErrorCode::Superseded, "The account changed meanwhile. Try again."),
            TokenError::RateLimited { retry_after } => rate_limited(retry_after),
        }
    }
}

impl From<ClientError> for CommandError {
    fn from(error: ClientError) -> Self {
        match error {
            ClientError::NotPinned => Self::new(ErrorCode::SignedOut, "This window is not signed in to an account."),
            ClientError::Token(error) => error.into(),
            ClientError::Unreachable(_) => {
                Self::new(ErrorCode::Offline, "The game server cannot be reached. Showing saved data.")
            }
            ClientError::Refused { message, code, .. } => Self::new(refused_code(&code), message),
            ClientError::WrongAccount => {
                Self::new(ErrorCode::WrongAccount, "The server answered for another account; nothing was shown.")
            }
            ClientError::Outdated => Self::new(ErrorCode::Outdated, "This window changed account meanwhile."),
            ClientError::Malformed(_) => {
                Self::new(ErrorCode::BadAnswer, "The game server sent an answer Kage cannot read.")
            }
            ClientError::RateLimited { retry_after } => rate_limited(retry_after),
            ClientError::Unconfirmed => Self::new(
                ErrorCode::Unconfirmed,
                "The game server did not confirm this. Kage is finding out whether it went through and will tell you \
                 here; don't do it again until then.",
            ),
        }
    }
}

/// The server asked Kage to slow down: a wait, never "signed out" (I11).
fn rate_limited(retry_after: std::time::Duration) -> CommandError {
    let secs = retry_after.as_secs_f64().ceil().max(1.0) as u64;
    CommandError::new(
        ErrorCode::RateLimited,
        format!("The game server asked Kage to wait {secs} s. Kage tries again then."),
    )
}

impl From<kage_core::ProxyError> for CommandError {
    fn from(error: kage_core::ProxyError) -> Self {
        Self::invalid(format!("That proxy cannot be used: {error}."))
    }
}

impl From<kage_core::oidc::OidcError> for CommandError {
    fn from(error: kage_core::oidc::OidcError) -> Self {
        use kage_core::oidc::OidcError;
        match error {
            OidcError::OtherAccount { signed_in_as, expected } => Self::new(
                ErrorCode::OtherAccount,
                format!(
                    "You signed in as {signed_in_as} in the browser; this window is for {expected}. Sign in as {expected} there, or use another window."
                ),
            ),
            OidcError::TimedOut { .. } => Self::new(
                ErrorCode::TimedOut,
                "The browser sign-in was not finished in time. Start it again when you are ready.",
            ),
            OidcError::Cancelled => Self::new(ErrorCode::Cancelled, "The browser sign-in was cancelled."),
            OidcError::NotOffered => {
                Self::new(ErrorCode::NotOffered, "This server does not offer signing in with the browser.")
            }
            OidcError::Unreachable(_) => Self::new(ErrorCode::Unreachable, "The identity provider cannot be reached."),
            OidcError::Throttled { retry_after_secs } => Self::new(
                ErrorCode::RateLimited,
                format!("The identity provider asked Kage to wait {retry_after_secs} s. Try again then."),
            ),
            OidcError::Proxy(error) => error.into(),
            other => Self::new(ErrorCode::BrowserSignIn, format!("Browser sign-in failed: {other}.")),
        }
    }
}

/// The server's codes the page may branch on; anything else is passed on as a plain refusal.
fn refused_code(code: &str) -> ErrorCode {
    match code {
        "insufficient_ryo" => ErrorCode::InsufficientRyo,
        "not_found" => ErrorCode::NotFound,
        "invalid_amount" | "invalid_body" | "unknown_village" | "self_transfer" => ErrorCode::InvalidInput,
        "already_there" => ErrorCode::AlreadyThere,
        "invalid_token" | "unauthenticated" => ErrorCode::SignedOut,
        _ => ErrorCode::Refused,
    }
}

impl From<SignInError> for CommandError {
    fn from(error: SignInError) -> Self {
        match error {
            SignInError::OtherAccount => {
                Self::new(ErrorCode::OtherAccount, "That sign-in was for a different account than this window's.")
            }
            SignInError::Proxy(error) => error.into(),
            SignInError::Auth(error) => match error {
                AuthError::WrongCredentials => {
                    Self::new(ErrorCode::WrongCredentials, "The username or password is wrong.")
                }
                AuthError::Throttled { retry_after_secs } => Self::new(
                    ErrorCode::Throttled,
                    format!("Too many failed sign-ins. Try again in {retry_after_secs} seconds."),
                ),
                AuthError::Unreachable(_) => Self::new(ErrorCode::Unreachable, "The game server cannot be reached."),
                AuthError::Server { status: 422, message } => Self::invalid(message),
                AuthError::Server { message, .. } => Self::new(ErrorCode::Refused, message),
                AuthError::Rejected => Self::new(ErrorCode::SignedOut, "The session has ended. Sign in again."),
                AuthError::Malformed(_) | AuthError::WrongSubject => {
                    Self::new(ErrorCode::BadAnswer, "The game server's sign-in answer could not be trusted.")
                }
            },
        }
    }
}
