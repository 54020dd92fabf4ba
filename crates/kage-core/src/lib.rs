//! kage-core: where each window's account session lives. No Tauri here: the desktop shell adapts its
//! windows to [`WindowLabel`]s and calls in; everything below is plain Rust, tested against a real server.
//!
//! The seed bug needed three things: an ambient credential, a cache without the account in its key, and a
//! background refetch that used whichever account was "current". None of them exists here:
//! - there is no current account: every call names a window, and the window's pin names the account;
//! - the only HTTP client ([`client::Client`]) has no cookie store and attaches the pinned account's token;
//! - the cache ([`cache::ProfileCache`]) is partitioned by [`AccountKey`] and checks what it stores.

pub mod account;
pub mod actions;
pub mod authority;
pub mod cache;
pub mod client;
pub mod core;
pub mod events;
pub mod export;
mod in_flight;
pub mod locks;
pub mod model;
pub mod offline;
pub mod oidc;
pub mod overview;
pub mod proxy;
mod resends;
pub mod retry_after;
pub mod server_sessions;
pub mod sessions;
pub mod sse;
pub mod transport;
pub mod vault;
pub mod windows;

pub use crate::core::{Core, CoreConfig, Reach, WindowView};
pub use account::{AccountKey, OriginError, ServerOrigin, WindowLabel};
pub use proxy::{ProxyError, ProxyUrl};
pub use secrecy::{ExposeSecret, SecretString};
