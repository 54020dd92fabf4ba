//! A notification on the freedesktop notification service (Linux, the BSDs), waited on for its click, with
//! the activation token the service hands over with it (spec 1.2, `ActivationToken`).
//!
//! Why the token: a desktop that prevents focus stealing raises a window only for the program the player just
//! acted in. A click on a notification is such an act, but it happened in the notification service, not in
//! Kage; the token is the service's word for it, which Kage passes to the window it raises (GTK hands it to the
//! compositor: `xdg-activation` on Wayland, the startup-notification id on X11). Without it the desktop may
//! only flag the window. notify-rust, which tauri-plugin-notification uses, does not pass the token on, so
//! this speaks D-Bus itself (zbus, in the tree already for the keychain).

use std::collections::HashMap;

use zbus::blocking::{Connection, MessageIterator};
use zbus::zvariant::Value;

const SERVICE: &str = "org.freedesktop.Notifications";
const PATH: &str = "/org/freedesktop/Notifications";

/// What became of a notification: clicked (with the token, if the service sent one), or closed unclicked.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Ending {
    Clicked { activation_token: Option<String> },
    Closed,
}

/// Shows `summary` and `body` with a default action and waits until it is clicked or closed. Blocks: run it on
/// a thread of its own.
pub fn show_and_wait(connection: &Connection, summary: &str, body: &str) -> zbus::Result<Ending> {
    // Listening before asking, so no signal about this notification can come first.
    let rule = zbus::MatchRule::builder().msg_type(zbus::message::Type::Signal).interface(SERVICE)?.path(PATH)?.build();
    let signals = MessageIterator::for_match_rule(rule, connection, Some(16))?;
    let hints: HashMap<&str, Value> = HashMap::from([("desktop-entry", Value::from("kage"))]);
    let reply = connection.call_method(
        Some(SERVICE),
        PATH,
        Some(SERVICE),
        "Notify",
        &("Kage", 0u32, "", summary, body, vec!["default", "Show"], hints, -1i32),
    )?;
    let id: u32 = reply.body().deserialize()?;
    let mut activation_token = None;
    for message in signals {
        let message = message?;
        let member = message.header().member().map(|member| member.to_string()).unwrap_or_default();
        match member.as_str() {
            "ActivationToken" => {
                let (of, token): (u32, String) = message.body().deserialize()?;
                if of == id {
                    activation_token = Some(token);
                }
            }
            "ActionInvoked" => {
                let (of, action): (u32, String) = message.body().deserialize()?;
                if of == id && action == "default" {
                    return Ok(Ending::Clicked { activation_token });
                }
            }
            "NotificationClosed" => {
                let (of, _why): (u32, u32) = message.body().deserialize()?;
                if of == id {
                    return Ok(Ending::Closed);
                }
            }
            _ => {}
        }
    }
    Ok(Ending::Closed)
}
