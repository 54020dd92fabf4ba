//! The contract between the shell and the page, as the page meets it: status messages carry the window's
//! state, profiles carry the server's rules, the transfer checks answer once for both the check and the
//! transfer, and bad arguments get a code and a sentence like every other refusal.

mod support;

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use kage_app::sink::{AccountUpdate, ChannelSink};
use kage_app::state::AppState;
use kage_core::WindowLabel;
use serde_json::{Value, json};
use tauri::Manager;
use tauri::ipc::{Channel, InvokeResponseBody};
use tauri::test::MockRuntime;

use support::{TestApp, invoke, sign_in};

/// Connects a channel to `window` as its page's `subscribe` would, keeping every message it is sent.
fn listen(app: &TestApp, window: &tauri::WebviewWindow<MockRuntime>) -> Arc<Mutex<Vec<Value>>> {
    let heard: Arc<Mutex<Vec<Value>>> = Arc::default();
    let keep = heard.clone();
    let channel = Channel::<AccountUpdate>::new(move |body| {
        if let InvokeResponseBody::Json(text) = body {
            keep.lock().unwrap().push(serde_json::from_str(&text).unwrap());
        }
        Ok(())
    });
    let sink = ChannelSink { channel, window: window.clone() };
    app.app.state::<AppState>().core.events.attach(&WindowLabel::new(window.label()), Arc::new(sink));
    heard
}

async fn heard_within(heard: &Mutex<Vec<Value>>, limit: Duration, wanted: impl Fn(&Value) -> bool) -> Option<Value> {
    let deadline = Instant::now() + limit;
    loop {
        if let Some(found) = heard.lock().unwrap().iter().find(|m| wanted(m)).cloned() {
            return Some(found);
        }
        if Instant::now() > deadline {
            return None;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// The page paints a status change from the message alone: it carries the state `window_state` would answer.
#[tokio::test(flavor = "multi_thread")]
async fn a_status_message_carries_the_windows_whole_state() {
    let app = TestApp::start().await;
    let (first, second) = (app.window("acct-1"), app.window("acct-2"));
    let main = sign_in(&first, "main")["account"]["id"].as_str().unwrap().to_owned();
    sign_in(&second, "alt");
    let heard = listen(&app, &first);

    // The accounts panel of alt's window signs main out: main's window is told, with its state.
    invoke(&second, "sign_out_account", json!({"accountId": main})).unwrap();
    let signed_out = |m: &Value| m["kind"] == "status" && m["status"] == "signed_out";
    let message = heard_within(&heard, Duration::from_secs(5), signed_out).await.expect("a status message");
    assert_eq!(message["account"], main.as_str(), "{message}");
    let state = invoke(&first, "window_state", json!({})).unwrap();
    assert_eq!(message["state"], state, "the message's state is the window's");
    assert_eq!((state["account"]["id"].as_str(), state["status"].as_str()), (Some(main.as_str()), Some("signed_out")));
}

/// The page shows the server's villages, travel cost and levels: they come with every profile, cached ones too.
#[tokio::test(flavor = "multi_thread")]
async fn every_profile_the_page_gets_carries_the_servers_rules() {
    let app = TestApp::start().await;
    let window = app.window("acct-1");
    sign_in(&window, "main");
    let rules = serde_json::to_value(kage_server::game::Rules::default()).unwrap();
    assert_eq!(rules["travel_cost"], 20, "{rules}");
    let fresh = invoke(&window, "refresh_profile", json!({})).unwrap();
    assert_eq!(fresh["profile"]["rules"], rules, "{fresh}");
    let travelled = invoke(&window, "travel", json!({"village": "Sand"})).unwrap();
    assert_eq!(travelled["profile"]["rules"], rules);
    let cached = invoke(&window, "window_state", json!({})).unwrap();
    assert_eq!(cached["profile"]["rules"], rules, "the cached copy keeps them for offline");
}

/// One set of checks and sentences: the page asks `check_transfer` before its confirmation, and gets exactly
/// what `transfer` would answer, without anything being sent.
#[tokio::test(flavor = "multi_thread")]
async fn checking_a_transfer_answers_as_the_transfer_would_and_sends_nothing() {
    let app = TestApp::start().await;
    let window = app.window("acct-1");
    sign_in(&window, "main");
    for (to, amount) in
        [(" ", json!("5")), ("alt", json!("ten")), ("alt", json!(-3)), ("alt", json!("0")), ("alt", json!(2.5))]
    {
        let args = json!({"to": to, "amount": amount});
        let checked = invoke(&window, "check_transfer", args.clone()).unwrap_err();
        let sent = invoke(&window, "transfer", args).unwrap_err();
        assert_eq!(checked, sent, "{to:?} {amount}");
        assert_eq!(checked["code"], "invalid_input");
    }
    assert_eq!(invoke(&window, "check_transfer", json!({"to": "alt", "amount": " 40 "})), Ok(Value::Null));
    assert_eq!(invoke(&window, "refresh_profile", json!({})).unwrap()["profile"]["ryo"], 1000, "nothing moved");
}

/// Arguments that do not fit a command's contract get a code and a sentence, not a bare string.
#[tokio::test(flavor = "multi_thread")]
async fn arguments_outside_the_contract_are_refused_with_a_sentence() {
    let app = TestApp::start().await;
    let window = app.window("acct-1");
    sign_in(&window, "main");
    for (command, args) in
        [("train", json!({"stat": "luck"})), ("travel", json!({})), ("focus_account", json!({"position": "x"}))]
    {
        let error = invoke(&window, command, args).unwrap_err();
        assert_eq!(error["code"], "invalid_input", "{command}: {error}");
        assert!(error["message"].as_str().unwrap().starts_with("Kage could not read this request"), "{error}");
    }
}
