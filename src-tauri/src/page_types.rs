//! Writes the page's TypeScript (`ui/src/generated/contract.ts`) from the Rust types of the contract (see
//! `contract.rs` for what the contract is and why ts-rs writes it), and checks that the committed file is what
//! the types say now.

use ts_rs::{Config, TS};

/// One declared type: its TypeScript name, its declaration, and the names of the types it refers to.
#[cfg_attr(not(test), allow(dead_code))]
struct Declaration {
    name: String,
    text: String,
    refers_to: Vec<String>,
}

/// The types the page's contract declares.
fn declarations(cfg: &Config) -> Vec<Declaration> {
    use crate::commands::{
        SavedAccount, WindowState, accounts, actions, launching, moving, overview, profile, sessions, settings, web,
        web_settings, web_sign_in, windows,
    };
    use crate::error::{CommandError, ErrorCode};
    use crate::sink::{AccountUpdate, PageUpdate};
    use kage_core::actions::{Action, Outcome, Stat};
    use kage_core::model::{AccountProfile, Profile, Rules, Stats};
    use kage_core::sessions::AccountStatus;

    fn decl<T: TS + ?Sized + 'static>(cfg: &Config) -> Declaration {
        Declaration {
            name: T::ident(cfg),
            text: format!("{}export {}", T::docs().unwrap_or_default(), T::decl(cfg)),
            refers_to: T::dependencies(cfg).into_iter().map(|dependency| dependency.ts_name).collect(),
        }
    }
    vec![
        decl::<ErrorCode>(cfg),
        decl::<CommandError>(cfg),
        decl::<AccountStatus>(cfg),
        decl::<Stat>(cfg),
        decl::<Stats>(cfg),
        decl::<Rules>(cfg),
        decl::<Profile>(cfg),
        decl::<AccountProfile>(cfg),
        decl::<Action>(cfg),
        decl::<Outcome>(cfg),
        decl::<SavedAccount>(cfg),
        decl::<kage_core::offline::OfflineCause>(cfg),
        decl::<WindowState>(cfg),
        decl::<PageUpdate>(cfg),
        decl::<AccountUpdate>(cfg),
        decl::<crate::state::KeychainNote>(cfg),
        decl::<accounts::DemoPlayer>(cfg),
        decl::<accounts::ServerInfo>(cfg),
        decl::<crate::roster::AccountSettings>(cfg),
        decl::<crate::prefs::Prefs>(cfg),
        decl::<settings::PrefsApplied>(cfg),
        decl::<crate::moving::Exported>(cfg),
        decl::<crate::moving::Imported>(cfg),
        decl::<accounts::SignInArgs>(cfg),
        decl::<accounts::SignInBrowserArgs>(cfg),
        decl::<accounts::SavedAccountArgs>(cfg),
        decl::<profile::SubscribeArgs>(cfg),
        decl::<profile::WatchDisplayArgs>(cfg),
        decl::<actions::TrainArgs>(cfg),
        decl::<actions::TravelArgs>(cfg),
        decl::<actions::TransferArgs>(cfg),
        decl::<windows::OpenWindowArgs>(cfg),
        decl::<windows::OpenAccountsArgs>(cfg),
        decl::<windows::FocusAccountArgs>(cfg),
        decl::<windows::CycleWindowsArgs>(cfg),
        decl::<launching::CreateShortcutArgs>(cfg),
        decl::<launching::ShortcutMade>(cfg),
        decl::<crate::templates::Template>(cfg),
        decl::<launching::GroupTemplate>(cfg),
        decl::<launching::SetGroupTemplateArgs>(cfg),
        decl::<settings::UpdateAccountArgs>(cfg),
        decl::<settings::SetPrefsArgs>(cfg),
        decl::<moving::ExportArgs>(cfg),
        decl::<moving::ImportArgs>(cfg),
        decl::<kage_core::server_sessions::SessionRelation>(cfg),
        decl::<kage_core::server_sessions::AccountSession>(cfg),
        decl::<sessions::EndSessionArgs>(cfg),
        decl::<web::WebGameView>(cfg),
        decl::<web::WebAccountView>(cfg),
        decl::<web::AddWebGameArgs>(cfg),
        decl::<web::WebGameArgs>(cfg),
        decl::<web::WebGameOriginsArgs>(cfg),
        decl::<web::AddWebAccountArgs>(cfg),
        decl::<web::RenameWebAccountArgs>(cfg),
        decl::<web::WebAccountProxyArgs>(cfg),
        decl::<web::OpenWebAccountArgs>(cfg),
        decl::<web::WebAccountArgs>(cfg),
        decl::<web_sign_in::WebSignInView>(cfg),
        decl::<web_sign_in::SaveWebSignInArgs>(cfg),
        decl::<web_sign_in::WebSignInArgs>(cfg),
        decl::<crate::roster::WebAccountSettings>(cfg),
        decl::<web_settings::WebAccountSettingsArgs>(cfg),
        decl::<crate::overview::TileState>(cfg),
        decl::<crate::overview::TileKind>(cfg),
        decl::<crate::overview::Tile>(cfg),
        decl::<crate::overview::OverviewOptions>(cfg),
        decl::<crate::overview::OverviewSnapshot>(cfg),
        decl::<crate::overview::OverviewMessage>(cfg),
        decl::<overview::OverviewTilesArgs>(cfg),
        decl::<overview::OverviewActivateArgs>(cfg),
        decl::<overview::OverviewReorderArgs>(cfg),
    ]
}

/// How ts-rs writes our types: every integer the page sees (ryo, versions, counts) fits a JS number.
pub fn config() -> Config {
    Config::new().with_large_int("number")
}

/// The whole of `ui/src/generated/contract.ts`.
pub fn typescript() -> String {
    let cfg = config();
    let mut out = String::from(
        "// Generated from the Rust types by src-tauri/src/page_types.rs: do not edit. After changing a type the\n\
         // page sees, run scripts/contract.\n\
         import type { Channel } from \"@tauri-apps/api/core\";\n",
    );
    for declaration in declarations(&cfg) {
        out.push('\n');
        out.push_str(declaration.text.trim_end());
        out.push('\n');
    }
    out.push_str("\n/** Every command the page may call: its arguments (`null`: none) and its answer. */\n");
    out.push_str("export type Commands = {\n");
    for command in crate::commands::contract(&cfg) {
        let args = command.args.as_deref().unwrap_or("null");
        out.push_str(&format!("  {}: {{ args: {args}; result: {} }};\n", command.name, command.result));
    }
    out.push_str("};\n");
    out
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeSet;
    use std::path::PathBuf;

    use super::*;

    fn generated_file() -> PathBuf {
        PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../ui/src/generated/contract.ts")
    }

    /// The page compiles against exactly what the shell sends: `scripts/test` fails on a stale file.
    #[test]
    fn the_pages_contract_is_generated_from_the_rust_types() {
        let fresh = typescript();
        if std::env::var_os("KAGE_WRITE_CONTRACT").is_some() {
            std::fs::write(generated_file(), &fresh).expect("write the contract");
        }
        let committed = std::fs::read_to_string(generated_file()).unwrap_or_default();
        assert!(
            committed == fresh,
            "ui/src/generated/contract.ts is not what the Rust types say: run scripts/contract and commit it"
        );
    }

    /// Every type a declared type or a command names is declared too, so the file stands alone.
    #[test]
    fn the_contract_declares_every_type_it_names() {
        let cfg = config();
        let declarations = declarations(&cfg);
        let declared: BTreeSet<&str> = declarations.iter().map(|d| d.name.as_str()).collect();
        let mut named: Vec<String> = declarations.iter().flat_map(|d| d.refers_to.clone()).collect();
        for command in crate::commands::contract(&cfg) {
            let words = [command.args.unwrap_or_default(), command.result].join(" ");
            named.extend(words.split(|c: char| !c.is_ascii_alphanumeric()).map(str::to_owned));
        }
        let builtin = ["", "Array", "boolean", "null", "number", "string"];
        let missing: Vec<_> = named
            .iter()
            .filter(|name| !declared.contains(name.as_str()) && !builtin.contains(&name.as_str()))
            .collect();
        assert!(missing.is_empty(), "named but not declared: {missing:?}");
    }
}
