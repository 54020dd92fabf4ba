//! I6 in the core: a whole scenario logged at TRACE (core, reqwest, hyper, the server) holds no access token,
//! refresh token or password. Its own binary, because it installs the global subscriber.

#[path = "scenario/support.rs"]
#[allow(dead_code)]
mod support;

use std::io::Write;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use kage_core::ExposeSecret;
use kage_core::actions::Stat;
use kage_core::vault::CredentialStore;
use support::{Faults, Harness, RecordingSink, eventually, window};

#[derive(Clone, Default)]
struct Captured(Arc<Mutex<Vec<u8>>>);

impl Write for Captured {
    fn write(&mut self, bytes: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(bytes);
        Ok(bytes.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

#[tokio::test]
async fn i6_trace_logs_of_a_whole_scenario_hold_no_secret() {
    let captured = Captured::default();
    let writer = captured.clone();
    tracing_subscriber::fmt()
        .with_max_level(tracing::Level::TRACE)
        .with_ansi(false)
        .with_writer(move || writer.clone())
        .init();

    let h = Harness::start_with(|c| c.access_ttl = Duration::from_secs(11), Default::default()).await;
    let (w_main, w_alt) = (window("acct-1"), window("acct-2"));
    let main = h.sign_in(&w_main, "main").await;
    let alt = h.sign_in(&w_alt, "alt").await;
    let mut secrets = vec!["main-password".to_owned(), "alt-password".to_owned()];
    let mut remember = |core: &kage_core::Core, account| {
        let vault = h.vault.read(account).unwrap().unwrap().refresh_token.expose_secret().to_owned();
        secrets.push(vault);
        let _ = core;
    };
    remember(&h.core, &main);
    remember(&h.core, &alt);
    for account in [&main, &alt] {
        secrets.push(h.core.sessions.token_for(account).await.unwrap().secret.expose_secret().to_owned());
    }
    let sink: Arc<RecordingSink> = Arc::default();
    h.core.events.attach(&w_alt, sink.clone());
    h.core.client.train(&w_main, Stat::Strength).await.unwrap();
    h.core.client.transfer(&w_main, "alt", 3).await.unwrap();
    assert!(eventually(Duration::from_secs(5), || sink.updates().len() >= 2).await);

    tokio::time::sleep(Duration::from_millis(1200)).await; // tokens due: refresh
    h.core.client.profile(&w_main).await.unwrap();
    secrets.push(h.core.sessions.token_for(&main).await.unwrap().secret.expose_secret().to_owned());
    secrets.push(h.vault.read(&main).unwrap().unwrap().refresh_token.expose_secret().to_owned());
    h.garble_next_bearers(1);
    h.core.client.profile(&w_main).await.unwrap();
    h.set_faults(Faults { down: true, ..Faults::default() });
    h.core.sign_out(&w_alt).await.unwrap();
    h.set_faults(Faults::default());
    h.core.sign_out(&w_main).await.unwrap();

    let logs = String::from_utf8_lossy(&captured.0.lock().unwrap()).into_owned();
    assert!(logs.contains("TRACE") && logs.len() > 10_000, "the capture works: {} bytes", logs.len());
    for secret in &secrets {
        assert!(!logs.contains(secret.as_str()), "a secret ({} chars) appears in the logs", secret.len());
        for part in secret.split('.').filter(|p| p.len() > 20) {
            assert!(!logs.contains(part), "part of a token appears in the logs");
        }
    }
}
