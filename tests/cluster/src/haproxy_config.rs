//! The balancer's configuration, as a production deployment of several kage-server instances would have it,
//! with the reasons next to each choice. Only the health-check timing is test-specific (faster than anyone
//! would run it in production), so that failover happens within a test's patience.

use std::fmt::Write;
use std::net::SocketAddr;
use std::path::Path;
use std::time::Duration;

/// What can be tuned per balancer; [`Default`] is the production-like setting.
#[derive(Debug, Clone)]
pub struct HaproxyOptions {
    /// The frontend's port; `None`: a free one. Chosen up front by [`crate::Cluster`], whose instances need the
    /// balancer's URL (their tokens' issuer) before the balancer starts.
    pub port: Option<u16>,
    /// The log's name in `target/cluster/` (without `.log`); `None`: `haproxy-<port>`.
    pub log_name: Option<String>,
    /// Silence allowed on the client side of a request or response (`timeout client`).
    pub client_timeout: Duration,
    /// Silence allowed on the server side (`timeout server`); an event stream must send something sooner.
    pub server_timeout: Duration,
    /// Resend an action with an Idempotency-Key to another instance when the first one failed it without a
    /// word (a crash), as the production setting does. Off, the balancer resends only safe and idempotent
    /// methods (nginx's default for POST is the same): the client gets the lost answer and must resend itself.
    pub resend_actions: bool,
}

impl Default for HaproxyOptions {
    fn default() -> Self {
        Self {
            port: None,
            log_name: None,
            client_timeout: Duration::from_secs(60),
            server_timeout: Duration::from_secs(60),
            resend_actions: true,
        }
    }
}

/// The backend's name in the config and in `show stat`.
pub const BACKEND: &str = "instances";

/// The name the balancer gives backend `index`: the index of the instance in [`crate::Cluster`].
pub fn server_name(index: usize) -> String {
    format!("instance-{index}")
}

pub fn render(options: &HaproxyOptions, frontend: SocketAddr, admin_socket: &Path, backends: &[SocketAddr]) -> String {
    let client = millis(options.client_timeout);
    let server = millis(options.server_timeout);
    let admin = admin_socket.display();
    let replayable = if options.resend_actions { "replay_safe || has_idempotency_key" } else { "replay_safe" };
    let mut config = format!(
        "\
global
    # `show stat` for Haproxy::server_states, and `disable server` etc. for whoever debugs a run.
    stats socket {admin} mode 600 level admin
    # Traffic and state changes go to stderr, which is the log file: a failed test shows every request, the
    # server that took it, its retries and the check results.
    log stderr format raw local0 info

defaults
    mode http
    log global
    option httplog
    # Connections that carry no request (the harness's own probe of whether it listens yet) are not traffic.
    option dontlognull
    # Loopback connects in microseconds; a server that takes a second to accept is as good as down.
    timeout connect 1s
    # Silence allowed on either side of a running request. Event streams (GET /v1/events) are plain HTTP
    # responses that never end, not tunnels: HAProxy applies these two timeouts to them, not `timeout tunnel`.
    # kage-server writes an SSE comment at least every 15 s (a third of its idle timeout), well within them.
    timeout client {client}
    timeout server {server}
    # Only for upgraded connections (WebSocket); kage has none today, and one would be long-lived.
    timeout tunnel 1h
    timeout http-request 10s
    timeout http-keep-alive 10s
    timeout queue 5s
    # A check may take longer than its interval below: a busy instance answering /healthz in 300 ms is up.
    timeout check 1s

frontend kage
    bind {frontend}
    # The instances run with --trust-forwarded-for: per-address limits see the player, not the balancer.
    option forwardfor
    # Each action's Idempotency-Key and whether its answer was a replay, in its request's log line
    # (`{{<key>}} {{true}}` before the request line): which actions were resent, and which of those an instance
    # answered from the idempotency record (the first try had been carried out, its answer lost). The key is
    # not a credential: it only names an action of a player whose token the request carries.
    capture request header Idempotency-Key len 64
    capture response header Idempotent-Replayed len 5
    default_backend {BACKEND}

backend {BACKEND}
    balance roundrobin
    option httpchk GET /healthz
    http-check expect status 200
    # Which instance answered, for tests and for whoever reads a client's log.
    http-response set-header X-Kage-Backend %s
    # A request that fails to reach an instance is retried, each time on another instance (`redispatch 1`;
    # the default would wait and retry the dead one until the last attempt).
    option redispatch 1
    retries 3
    # conn-failure: the connection failed, the request was never sent: always safe to resend.
    # empty-response: the request was sent and the instance closed without a byte of answer (it crashed, or
    # closed an idle keep-alive connection just as the request arrived). It may have done the work, so only
    # requests that may be replayed get this retry: safe and idempotent methods, and actions with an
    # Idempotency-Key. The key's record is written in the action's own transaction, so with a database the
    # instances share (PostgreSQL) the instance that gets the replay answers from it instead of acting twice.
    # Sign-up, sign-in and refresh carry no key: they are sent once, and a client retries them itself.
    retry-on conn-failure empty-response
    acl replay_safe method GET HEAD OPTIONS PUT DELETE
    acl has_idempotency_key req.hdr(idempotency-key) -m found
    # (HaproxyOptions::resend_actions off: keyed actions are not resent either; the client must do it.)
    http-request disable-l7-retry unless {replayable}
    # Test timing: a dead instance is out after two failed checks 200 ms apart, a restarted one is back after
    # one good check. Production would check every few seconds; tests would then wait as long.
    default-server check inter 200ms fall 2 rise 1
"
    );
    for (index, addr) in backends.iter().enumerate() {
        let _ = writeln!(config, "    server {} {addr}", server_name(index));
    }
    config
}

fn millis(duration: Duration) -> String {
    format!("{}ms", duration.as_millis().max(1))
}
