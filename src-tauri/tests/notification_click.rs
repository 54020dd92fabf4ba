//! A click on a notification raises the account's window with the notification service's activation token
//! (issue 18, item 5). The service here is a D-Bus service of the test's own on a private bus
//! (`dbus-daemon` of the machine, the freedesktop notification interface as its spec 1.2 writes it): it answers
//! `Notify`, then sends `ActivationToken` and `ActionInvoked` as a desktop's service does for a click.
#![cfg(all(unix, not(target_os = "macos")))]

use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};

use kage_app::notify::freedesktop::{Ending, show_and_wait};
use zbus::blocking::{Connection, MessageIterator};

struct Bus(Child);

impl Drop for Bus {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// A private session bus, and its address; `None` (the test skips) without `dbus-daemon`.
fn private_bus() -> Option<(Bus, String)> {
    let mut child = Command::new("dbus-daemon")
        .args(["--session", "--nofork", "--print-address=1"])
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .ok()?;
    let mut address = String::new();
    BufReader::new(child.stdout.take()?).read_line(&mut address).ok()?;
    Some((Bus(child), address.trim().to_owned()))
}

fn connect(address: &str) -> Connection {
    zbus::blocking::connection::Builder::address(address).unwrap().build().unwrap()
}

/// The notification service: answers one `Notify` with id 7, then reports a click on it, token first (or, with
/// `closed`, that it was dismissed).
fn serve_one(service: Connection, token: Option<&'static str>, closed: bool) -> std::thread::JoinHandle<()> {
    service.request_name("org.freedesktop.Notifications").unwrap();
    std::thread::spawn(move || {
        let calls = MessageIterator::from(&service);
        for message in calls {
            let message = message.unwrap();
            let header = message.header();
            if header.member().map(|m| m.as_str()) != Some("Notify") {
                continue;
            }
            service.reply(&header, &7u32).unwrap();
            let path = "/org/freedesktop/Notifications";
            let interface = "org.freedesktop.Notifications";
            // Another notification's signals first: they must not be taken for this one's.
            service.emit_signal(None::<()>, path, interface, "ActionInvoked", &(6u32, "default")).unwrap();
            if closed {
                service.emit_signal(None::<()>, path, interface, "NotificationClosed", &(7u32, 2u32)).unwrap();
            } else {
                if let Some(token) = token {
                    service.emit_signal(None::<()>, path, interface, "ActivationToken", &(7u32, token)).unwrap();
                }
                service.emit_signal(None::<()>, path, interface, "ActionInvoked", &(7u32, "default")).unwrap();
            }
            return;
        }
    })
}

#[test]
fn a_click_on_a_notification_comes_back_with_the_services_activation_token() {
    let Some((_bus, address)) = private_bus() else {
        eprintln!("SKIPPED: no dbus-daemon on this machine");
        return;
    };
    let service = serve_one(connect(&address), Some("kage-test-token_TIME42"), false);
    let ending = show_and_wait(&connect(&address), "Alt · Kage", "Alt received 25 ryo from Main").unwrap();
    assert_eq!(ending, Ending::Clicked { activation_token: Some("kage-test-token_TIME42".into()) });
    service.join().unwrap();

    // A service older than spec 1.2 sends no token: still a click.
    let service = serve_one(connect(&address), None, false);
    let ending = show_and_wait(&connect(&address), "Alt · Kage", "…").unwrap();
    assert_eq!(ending, Ending::Clicked { activation_token: None });
    service.join().unwrap();

    // Dismissed: nothing is raised.
    let service = serve_one(connect(&address), None, true);
    assert_eq!(show_and_wait(&connect(&address), "Alt · Kage", "…").unwrap(), Ending::Closed);
    service.join().unwrap();
}
