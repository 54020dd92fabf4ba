//! kage-core against a real kage-server over loopback HTTP (SQLite in a temp dir), one module per invariant.

mod oidc_support;
mod support;

mod events;
mod handover;
mod lost_answers;
mod model;
mod no_false_sign_out;
mod oidc;
mod oidc_providers;
mod own_data;
mod own_token;
mod proxies;
mod proxy;
mod refresh;
mod server_sessions;
mod sign_out;
