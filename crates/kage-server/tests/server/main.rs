//! kage-server over real HTTP on 127.0.0.1 against SQLite in a temp dir. One binary, one module per area.

mod support;

mod auth_order;
mod bad_input;
mod events;
mod files;
mod forks;
mod fuzz;
mod host_guard;
mod idempotency;
mod instances;
mod key_sealing;
mod memory;
mod notify_faults;
mod oidc;
mod openapi;
mod password_work;
mod refresh_grace;
mod revoke;
mod session_lifetimes;
mod sessions;
mod throttle;
mod timeouts;
mod transfers;
mod viewer_guard;
