//! When a request whose answer was lost is sent again. The server may have acted on it, so only requests whose
//! repetition the server answers as the first (a mutation's idempotency key, I12; a refresh token presented
//! again within the server's grace period, I11) are resent, and never forever.

use std::time::Duration;

/// When a request whose answer was lost is sent again (a mutation with the same idempotency key, so at most one
/// of its tries is carried out; a refresh with the same token, which the grace period answers with the same
/// successor): always once, as soon as possible; then, while [`Resends::WITHIN`] has not passed
/// since its first try, after each of [`Resends::PAUSES`]. The pauses give a balancer time to take a crashed
/// server out of the way, or give back the token a refresh lost to the same outage could not; the time bound
/// keeps an answer that stalls (each try waits the whole request timeout) from being waited for more than twice.
pub(crate) struct Resends {
    started: std::time::Instant,
    sent: usize,
}

impl Resends {
    const WITHIN: Duration = Duration::from_secs(2);
    const PAUSES: [Duration; 3] = [Duration::ZERO, Duration::from_millis(200), Duration::from_millis(600)];

    pub(crate) fn new() -> Self {
        Self { started: std::time::Instant::now(), sent: 0 }
    }

    /// Whether a resend was already decided on (the first try's answer was lost).
    pub(crate) fn sent_any(&self) -> bool {
        self.sent > 0
    }

    /// Whether to send again; if so, waits the pause before it.
    pub(crate) async fn next(&mut self) -> bool {
        let Some(pause) = Self::PAUSES.get(self.sent) else { return false };
        if self.sent > 0 && self.started.elapsed() >= Self::WITHIN {
            return false;
        }
        self.sent += 1;
        tokio::time::sleep(*pause).await;
        true
    }
}
