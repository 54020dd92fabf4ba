//! How groups and accounts are launched, from the accounts panel: the layout template each launch group opens
//! in (see `templates.rs`), and "Create shortcut", a desktop shortcut that runs `kage open <name>` for a saved
//! account or `kage open --group <name>` for a launch group (see `desktop_entry.rs` for what it holds and why).
//!
//! Takes a saved account's id like `open_saved` does (see `accounts.rs`): it picks an entry of this computer's
//! roster. The shortcut names the account by its alias, else by the name the panel shows (in streamer mode
//! `Account N`, never the username); the answer names the file only, not the folder (the home folder's path
//! holds the computer's user name).

use serde::{Deserialize, Serialize};
use tauri::{Manager, Runtime, State, WebviewWindow};
use ts_rs::TS;

use crate::contract::Args;
use crate::error::{CommandError, ErrorCode};
use crate::roster::RosterEntry;
use crate::state::AppState;
use crate::templates::Template;

/// One of the two: `accountId` (a saved account the player picked) or `group` (a launch group's name).
#[derive(Deserialize, TS)]
#[serde(rename_all = "camelCase")]
pub struct CreateShortcutArgs {
    pub account_id: Option<String>,
    pub group: Option<String>,
}

/// The shortcut made: what the desktop's menu calls it, and its file's name in the applications folder.
#[derive(Debug, Clone, Serialize, TS)]
#[serde(rename_all = "camelCase")]
pub struct ShortcutMade {
    pub menu_name: String,
    pub file_name: String,
}

/// A launch group and the template it opens in.
#[derive(Debug, Clone, Serialize, Deserialize, TS)]
pub struct GroupTemplate {
    pub group: String,
    pub template: Template,
}

#[derive(Deserialize, TS)]
pub struct SetGroupTemplateArgs {
    pub group: String,
    pub template: Template,
}

/// Every launch group with its template (remembered places for a group the player has not set one for).
#[tauri::command]
pub async fn group_templates(state: State<'_, AppState>) -> Result<Vec<GroupTemplate>, CommandError> {
    Ok(templates_of(&state))
}

fn templates_of(state: &AppState) -> Vec<GroupTemplate> {
    state
        .roster
        .groups()
        .into_iter()
        .map(|group| GroupTemplate { template: state.roster.group_template(&group), group })
        .collect()
}

/// Chooses the template `group` opens in from now on; answers every group's template.
#[tauri::command]
pub async fn set_group_template(
    state: State<'_, AppState>,
    args: Args<SetGroupTemplateArgs>,
) -> Result<Vec<GroupTemplate>, CommandError> {
    let Args(SetGroupTemplateArgs { group, template }) = args;
    if !state.roster.groups().contains(&group) {
        return Err(CommandError::new(ErrorCode::NotFound, "There is no launch group of that name."));
    }
    state.roster.set_group_template(&group, template).map_err(|error| {
        CommandError::new(ErrorCode::NotSaved, format!("The group's layout could not be saved: {error}"))
    })?;
    Ok(templates_of(&state))
}

/// The name a shortcut opens an account by: its alias, else the name the panel shows it by.
pub fn shortcut_name(entry: &RosterEntry, presenter: &crate::display::Presenter) -> String {
    match &entry.alias {
        Some(alias) => alias.clone(),
        None if presenter.streamer() => presenter.name(entry),
        None => entry.username.clone(),
    }
}

#[tauri::command]
pub async fn create_shortcut<R: Runtime>(
    window: WebviewWindow<R>,
    args: Args<CreateShortcutArgs>,
) -> Result<ShortcutMade, CommandError> {
    let Args(CreateShortcutArgs { account_id, group }) = args;
    let state = window.state::<AppState>();
    let name =
        match (account_id, group) {
            (Some(id), None) => {
                let entry = state
                    .roster
                    .find(&id)
                    .ok_or_else(|| CommandError::new(ErrorCode::NotFound, "That account is not saved here."))?;
                Opening::Account(shortcut_name(&entry, &state.presenter()))
            }
            (None, Some(group)) => {
                let group =
                    state.roster.groups().into_iter().find(|g| *g == group).ok_or_else(|| {
                        CommandError::new(ErrorCode::NotFound, "There is no launch group of that name.")
                    })?;
                Opening::Group(group)
            }
            _ => return Err(CommandError::invalid("Make a shortcut for one account or one group.")),
        };
    make(&name)
}

enum Opening {
    Account(String),
    Group(String),
}

#[cfg(all(unix, not(target_os = "macos")))]
fn make(name: &Opening) -> Result<ShortcutMade, CommandError> {
    use crate::desktop_entry::{Opens, Shortcut, applications_dir, this_program};
    let failed =
        |error: crate::desktop_entry::ShortcutError| CommandError::new(ErrorCode::ShortcutFailed, error.to_string());
    let opens = match name {
        Opening::Account(name) => Opens::Account(name),
        Opening::Group(name) => Opens::Group(name),
    };
    let shortcut = Shortcut::new(&this_program().map_err(failed)?, opens).map_err(failed)?;
    shortcut.write_into(&applications_dir().map_err(failed)?).map_err(failed)?;
    Ok(ShortcutMade { menu_name: shortcut.menu_name, file_name: shortcut.file_name })
}

/// Windows and macOS have no freedesktop menu: the player can point a shortcut of their own at `kage open`.
#[cfg(not(all(unix, not(target_os = "macos"))))]
fn make(name: &Opening) -> Result<ShortcutMade, CommandError> {
    let command = match name {
        Opening::Account(name) => format!("kage open \"{name}\""),
        Opening::Group(name) => format!("kage open --group \"{name}\""),
    };
    Err(CommandError::new(
        ErrorCode::NotOffered,
        format!("Kage makes shortcuts on Linux only for now; a shortcut of your own can run: {command}"),
    ))
}

#[cfg(test)]
mod tests {
    use kage_core::{AccountKey, ServerOrigin};

    use super::*;
    use crate::display::Presenter;

    #[test]
    fn a_shortcut_names_an_account_by_its_alias_and_never_by_its_username_in_streamer_mode() {
        let origin = ServerOrigin::parse("https://game.example").unwrap();
        let plain = RosterEntry::new(&AccountKey::new(origin.clone(), "u1"), "naruto");
        let aliased =
            RosterEntry { alias: Some("Scout".into()), ..RosterEntry::new(&AccountKey::new(origin, "u2"), "kiba") };
        let roster = vec![plain.clone(), aliased.clone()];
        let streamer = Presenter::new(true, false, roster.clone());
        assert_eq!(shortcut_name(&plain, &streamer), "Account 1");
        assert_eq!(shortcut_name(&aliased, &streamer), "Scout");
        let normal = Presenter::new(false, false, roster);
        assert_eq!(shortcut_name(&plain, &normal), "naruto");
        assert_eq!(shortcut_name(&aliased, &normal), "Scout", "the alias, which `kage open` finds first");
        for name in [shortcut_name(&plain, &streamer), shortcut_name(&aliased, &streamer)] {
            let shortcut = crate::desktop_entry::Shortcut::new(
                std::path::Path::new("/usr/bin/kage"),
                crate::desktop_entry::Opens::Account(&name),
            )
            .unwrap();
            for secret in ["naruto", "kiba", "u1", "u2", &plain.id, &aliased.id, "game.example"] {
                assert!(
                    !shortcut.text.contains(secret) && !shortcut.file_name.contains(secret),
                    "{secret} in {shortcut:?}"
                );
            }
        }
    }
}
