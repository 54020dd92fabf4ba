//! The player's actions, and those whose outcome is not known yet.
//!
//! An action's tries all carry one idempotency key (I12). When every try's answer was lost after the request
//! may have reached the server, the window cannot be told "it failed": it may have gone through. It is told
//! "not confirmed" ([`crate::client::ClientError::Unconfirmed`]), and the action is kept here with its key
//! until the server says what became of it (`POST /v1/actions/settle`, see docs/protocol.md): its first
//! answer, or, if it never arrived, that it never will. The account's windows are then told which
//! ([`crate::events::WindowUpdate::ActionSettled`]), so no player is left to guess and do it twice.

use std::sync::Mutex;

use serde::{Deserialize, Serialize};
use tokio::sync::Notify;
use ts_rs::TS;

use crate::account::AccountKey;
use crate::locks::Recover;

/// A stat a player trains.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, TS)]
#[serde(rename_all = "lowercase")]
pub enum Stat {
    Strength,
    Agility,
    Chakra,
}

/// What the player asked a window to do.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, TS)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum Action {
    Train {
        stat: Stat,
    },
    Travel {
        village: String,
    },
    /// Sends `amount` ryo to the player named `to`.
    Transfer {
        to: String,
        amount: i64,
    },
}

/// What became of an action that was not confirmed.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, TS)]
#[serde(tag = "result", rename_all = "snake_case")]
pub enum Outcome {
    /// It was carried out.
    Done,
    /// It arrived and the server refused it (`message` is the server's sentence for the player).
    Refused { message: String },
    /// It never arrived, and the server will not carry it out if it still does.
    NotDone,
    /// The server cannot say (it has no `POST /v1/actions/settle`): the refetched profile is all there is to go by.
    Unknown,
}

struct Unconfirmed {
    account: AccountKey,
    action: Action,
    key: String,
}

/// Actions not confirmed yet, per account. Not kept across a restart: an action is carried out at once or not
/// at all, so after a restart the refetched profile shows what happened.
#[derive(Default)]
pub struct UnconfirmedActions {
    actions: Mutex<Vec<Unconfirmed>>,
    added: Notify,
}

impl UnconfirmedActions {
    pub(crate) fn add(&self, account: &AccountKey, action: Action, key: String) {
        self.lock().push(Unconfirmed { account: account.clone(), action, key });
        self.added.notify_one();
    }

    /// The account's actions still waiting for an answer.
    pub fn of(&self, account: &AccountKey) -> Vec<Action> {
        self.lock().iter().filter(|u| u.account == *account).map(|u| u.action.clone()).collect()
    }

    /// Every action waiting, as (account, key).
    pub(crate) fn waiting(&self) -> Vec<(AccountKey, String)> {
        self.lock().iter().map(|u| (u.account.clone(), u.key.clone())).collect()
    }

    /// Removes the action sent with `key`, returning it.
    pub(crate) fn settled(&self, account: &AccountKey, key: &str) -> Option<Action> {
        let mut actions = self.lock();
        let index = actions.iter().position(|u| u.account == *account && u.key == key)?;
        Some(actions.remove(index).action)
    }

    /// Returns once an action was added since the last call (at once if one was added meanwhile).
    pub(crate) async fn added(&self) {
        self.added.notified().await;
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Vec<Unconfirmed>> {
        self.actions.lock().recover()
    }
}
