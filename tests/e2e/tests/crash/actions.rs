//! The crash test's actions, each as a player does it through the page: sign in with "remember", open a saved
//! account (three ways), sign out, forget; and signing up throwaway players through the sandbox's HTTP API.

use super::*;

/// Switches to a window showing the sign-in screen, or opens a new one.
pub(crate) async fn to_sign_in_window(round: &Round<'_>) {
    match round.windows.iter().find(|w| w.signs_in()) {
        Some(window) => round.app.client.switch_to_window(window.handle.clone()).await.unwrap(),
        None => {
            let label = round.app.invoke("open_window", json!({ "accountId": null })).await;
            round.app.focus(label.as_str().expect("open_window gives the new window's label")).await;
        }
    }
    round.app.wait_for("view-signin").await;
}

/// Signs `player` in with "remember" from a sign-in screen.
pub(crate) async fn sign_in(round: &Round<'_>, player: &mut Player) -> Outcome {
    let app = round.app;
    to_sign_in_window(round).await;
    app.fill("signin-username", &player.name).await;
    app.fill("signin-password", &player.password).await;
    let remember = app.wait_for("signin-remember").await;
    if remember.prop("checked").await.unwrap().is_none_or(|v| v != "true") {
        remember.click().await.unwrap();
    }
    // Remembered already (main, alt, a throwaway signing in again): stays remembered whatever the kill cuts.
    // Otherwise it is remembered once the app shows its window.
    if player.saved != Saved::Yes {
        player.saved = Saved::CutShort;
    }
    let name = player.name.clone();
    round
        .timed(format!("sign-in {name}"), async {
            app.click("signin-submit").await;
            wait_until_shows(app, &name).await;
            player.saved = Saved::Yes;
        })
        .await
}

/// Opens a saved account, in one of the three ways a player can.
pub(crate) async fn open(round: &Round<'_>, player: &Player, how: Open) -> Outcome {
    let app = round.app;
    let name = &player.name;
    let id = round.saved.get(name).map(|(id, _)| id.clone());
    match how {
        Open::FromSignIn => to_sign_in_window(round).await,
        Open::Switch(window) => {
            app.client.switch_to_window(round.windows[window].handle.clone()).await.unwrap();
            app.click("account-menu").await;
            app.click("menu-switch").await;
        }
        Open::NewWindow => {}
    }
    round
        .timed(format!("open {name} ({how:?})"), async {
            match how {
                Open::FromSignIn => {
                    let css =
                        format!("[data-testid='saved-account'][data-username='{name}'] [data-testid='saved-open']");
                    app.client.find(Locator::Css(&css)).await.expect("listed").click().await.unwrap();
                }
                Open::Switch(_) => {
                    // The menu lists the other saved accounts as "<badge initial> <name>".
                    let xpath =
                        format!("//div[contains(@class, 'switch-list')]/button[contains(concat(., '|'), ' {name}|')]");
                    let item = loop {
                        if let Ok(item) = app.client.find(Locator::XPath(&xpath)).await {
                            break item;
                        }
                        tokio::time::sleep(Duration::from_millis(30)).await;
                    };
                    item.click().await.unwrap();
                }
                Open::NewWindow => {
                    let label = app.invoke("open_window", json!({ "accountId": id })).await;
                    app.focus(label.as_str().expect("a window label")).await;
                }
            }
            wait_until_shows(app, name).await;
        })
        .await
}

/// Signs a throwaway player out from the account menu of a window showing them.
pub(crate) async fn sign_out(round: &Round<'_>, player: &mut Player) -> Outcome {
    let app = round.app;
    let window = round.windows.iter().find(|w| w.username.as_ref() == Some(&player.name)).expect("shown");
    app.client.switch_to_window(window.handle.clone()).await.unwrap();
    app.click("account-menu").await;
    player.saved = Saved::CutShort;
    round
        .timed(format!("sign out {}", player.name), async {
            app.click("menu-sign-out").await;
            app.wait_for("view-signin").await;
            player.saved = Saved::No;
        })
        .await
}

/// Forgets a throwaway player (`forget_account`, what the saved list's "Forget" calls once confirmed).
pub(crate) async fn forget(round: &Round<'_>, player: &mut Player) -> Outcome {
    let id = round.saved[&player.name].0.clone();
    player.saved = Saved::CutShort;
    round
        .timed(format!("forget {}", player.name), async {
            let answer = round.app.invoke("forget_account", json!({ "accountId": id })).await;
            if answer.is_array() {
                player.saved = Saved::No;
            }
        })
        .await
}

/// A new throwaway player, signed up through the sandbox's HTTP API (the app has no sign-up screen).
pub(crate) fn sign_up(home: &Path, players: &mut Vec<Player>) -> usize {
    let name = format!("crash{}", players.iter().filter(|p| !p.demo).count() + 1);
    let body = json!({ "username": name, "password": THROWAWAY_PASSWORD });
    let (status, answer) = http_json(sandbox_port(home), "POST", "/v1/sign-up", &body).expect("sandbox answers");
    assert_eq!(status, 201, "sign-up of {name}: {answer}");
    players.push(Player { name, password: THROWAWAY_PASSWORD.into(), saved: Saved::No, demo: false });
    players.len() - 1
}
