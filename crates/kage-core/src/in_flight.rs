//! Which accounts have a request on its way whose answer will land in their cache: a window's profile or an
//! action. An event that says an account's profile changed may overtake the answer that carries the change
//! (the server announces a commit before it answers), and fetching the profile again then costs a request
//! whose answer is already coming. [`InFlight::settled`] lets the event wait a moment for it instead.

use std::collections::HashMap;
use std::sync::Mutex;

use tokio::sync::Notify;

use crate::account::AccountKey;
use crate::locks::Recover;

#[derive(Default)]
pub(crate) struct InFlight {
    counts: Mutex<HashMap<AccountKey, usize>>,
    done: Notify,
}

impl InFlight {
    /// Counts a request of `account` until the guard is dropped (answered, failed or cancelled).
    pub(crate) fn start(&self, account: &AccountKey) -> Guard<'_> {
        *self.counts().entry(account.clone()).or_default() += 1;
        Guard { in_flight: self, account: account.clone() }
    }

    /// Returns once `account` has no request on its way (at once if it has none).
    pub(crate) async fn settled(&self, account: &AccountKey) {
        loop {
            let done = self.done.notified();
            if !self.counts().contains_key(account) {
                return;
            }
            done.await;
        }
    }

    fn counts(&self) -> std::sync::MutexGuard<'_, HashMap<AccountKey, usize>> {
        self.counts.lock().recover()
    }
}

pub(crate) struct Guard<'a> {
    in_flight: &'a InFlight,
    account: AccountKey,
}

impl Drop for Guard<'_> {
    fn drop(&mut self) {
        let mut counts = self.in_flight.counts();
        if let Some(count) = counts.get_mut(&self.account) {
            *count -= 1;
            if *count == 0 {
                counts.remove(&self.account);
            }
        }
        drop(counts);
        self.in_flight.done.notify_waiters();
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;
    use crate::account::ServerOrigin;

    #[tokio::test]
    async fn settled_waits_for_the_accounts_last_request_only() {
        let origin = ServerOrigin::parse("http://127.0.0.1:1").unwrap();
        let (main, alt) = (AccountKey::new(origin.clone(), "main"), AccountKey::new(origin, "alt"));
        let in_flight = InFlight::default();
        in_flight.settled(&main).await; // nothing on its way: at once
        let first = in_flight.start(&main);
        let second = in_flight.start(&main);
        let _alt = in_flight.start(&alt);
        let quick = Duration::from_millis(30);
        assert!(tokio::time::timeout(quick, in_flight.settled(&main)).await.is_err(), "two on their way");
        drop(first);
        assert!(tokio::time::timeout(quick, in_flight.settled(&main)).await.is_err(), "one on its way");
        let waiting = in_flight.settled(&main);
        drop(second);
        assert!(tokio::time::timeout(quick, waiting).await.is_ok(), "alt's request does not hold main");
    }
}
