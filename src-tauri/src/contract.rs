//! The contract between the shell and the page, written once, in Rust: every command's arguments and answer,
//! every channel message and the error codes. The page's TypeScript declarations
//! (`ui/src/generated/contract.ts`) are generated from these Rust types, and a test fails when that file is
//! not what the types say now (`cargo test -p kage-app contract`; `KAGE_WRITE_CONTRACT=1` rewrites it).
//!
//! **Why ts-rs.** Two well-known generators exist. `tauri-specta` would also generate the `invoke` calls, but
//! for Tauri 2 it is still a release candidate (2.0.0-rc.x, on specta 2.0.0-rc.x), and the project pins every
//! Tauri crate and plugin to "2", which a pre-release does not match; its release candidates have also changed
//! their API between themselves. `ts-rs` is stable (12.x), small (a derive and a trait, no runtime part), well
//! kept, reads serde's attributes (`rename_all`, `tag`, `flatten`), and knows nothing of Tauri, so kage-core
//! derives it on its own types without learning of the shell. What ts-rs does not do, the command table
//! below does: it names each command's arguments and answer, and the compiler checks them against the
//! command functions themselves ([`answers`]), so the table cannot drift from the commands it describes.
//!
//! How a command takes its arguments: one struct per command, through [`Args`], which reads the whole
//! argument object the page sent (`invoke("train", { stat })`) into that struct. The page's wire format is the
//! one Tauri's per-parameter arguments had (camelCase keys), so the generated type is exactly what the command
//! reads.

use std::future::Future;

use serde::de::DeserializeOwned;
use tauri::Runtime;
use tauri::ipc::{CommandArg, CommandItem, InvokeBody, InvokeError};
use ts_rs::{Config, TS};

use crate::error::CommandError;

/// A command's arguments: the page's whole argument object, read as `T`. Bad arguments get a
/// [`CommandError`] with `invalid_input` and a sentence, as every other refusal does.
pub struct Args<T>(pub T);

impl<'de, R: Runtime, T: DeserializeOwned> CommandArg<'de, R> for Args<T> {
    fn from_command(command: CommandItem<'de, R>) -> Result<Self, InvokeError> {
        let refused = |why: String| {
            InvokeError::from(CommandError::invalid(format!("Kage could not read this request ({why}).")))
        };
        match command.message.payload() {
            InvokeBody::Json(value) => T::deserialize(value).map(Args).map_err(|error| refused(error.to_string())),
            InvokeBody::Raw(_) => Err(refused("bytes where arguments were expected".into())),
        }
    }
}

/// Implemented by a command function that answers `Result<T, CommandError>` and takes its arguments as
/// `Args<A>` last (`A = ()`: no arguments); `Params` is only there to tell arities apart.
pub trait Answers<Params, A, T> {}

macro_rules! answers_without_args {
    ($($param:ident),*) => {
        impl<F, Fut, T, $($param),*> Answers<($($param,)*), (), T> for F
        where
            F: Fn($($param),*) -> Fut,
            Fut: Future<Output = Result<T, CommandError>>,
        {
        }
    };
}

macro_rules! answers_with_args {
    ($($param:ident),*) => {
        impl<F, Fut, T, A, $($param),*> Answers<($($param,)*), Args<A>, T> for F
        where
            F: Fn($($param,)* Args<A>) -> Fut,
            Fut: Future<Output = Result<T, CommandError>>,
        {
        }
    };
}

answers_without_args!();
answers_without_args!(P0);
answers_without_args!(P0, P1);
answers_without_args!(P0, P1, P2);
answers_with_args!();
answers_with_args!(P0);
answers_with_args!(P0, P1);

/// Compiles only if `command` takes `A` (as `Args<A>`, or nothing for `()`) and answers `T`.
pub fn answers<Params, A, T, F: Answers<Params, A, T>>(_command: &F) {}

/// One command as the page sees it.
pub struct CommandSpec {
    pub name: &'static str,
    /// The TypeScript name of its arguments, `None` when it takes none.
    pub args: Option<String>,
    /// The TypeScript name of its answer.
    pub result: String,
}

/// Declares the app's commands once: what the handler serves, and what the page's contract says of each
/// (arguments, answer), checked against the functions. `name<R>` marks a command generic over the runtime.
macro_rules! commands {
    ($($module:ident :: $name:ident $(<$runtime:ident>)? ($($args:ty)?) -> $result:ty;)*) => {
        pub fn handler<R: tauri::Runtime>() -> impl Fn(tauri::ipc::Invoke<R>) -> bool + Send + Sync + 'static {
            tauri::generate_handler![$($module::$name),*]
        }

        /// Every command, with its arguments and answer as TypeScript names.
        pub fn contract(cfg: &ts_rs::Config) -> Vec<$crate::contract::CommandSpec> {
            vec![$($crate::contract::CommandSpec {
                name: stringify!($name),
                args: None$(.or(Some(<$args as ts_rs::TS>::name(cfg))))?,
                result: <$result as ts_rs::TS>::name(cfg),
            }),*]
        }

        /// Never called: it compiles only while each command takes and answers what the table says.
        #[allow(dead_code)]
        fn table_matches_commands<R: tauri::Runtime>() {
            $($crate::contract::answers::<_, $crate::contract::table_args!($($args)?), $result, _>(
                &$module::$name$(::<$runtime>)?,
            );)*
        }
    };
}
pub(crate) use commands;

/// `Args<A>` for a command with arguments `A`, `()` for one without.
macro_rules! table_args {
    () => {
        ()
    };
    ($args:ty) => {
        $crate::contract::Args<$args>
    };
}
pub(crate) use table_args;

/// One declared type: its TypeScript name, its declaration, and the names of the types it refers to.
#[cfg_attr(not(test), allow(dead_code))]
struct Declaration {
    name: String,
    text: String,
    refers_to: Vec<String>,
}

/// The types the page's contract declares.
fn declarations(cfg: &Config) -> Vec<Declaration> {
    use crate::commands::{SavedAccount, WindowState, accounts, actions, moving, profile, settings, windows};
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
        decl::<settings::UpdateAccountArgs>(cfg),
        decl::<settings::SetPrefsArgs>(cfg),
        decl::<moving::ExportArgs>(cfg),
        decl::<moving::ImportArgs>(cfg),
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
        "// Generated from the Rust types by src-tauri/src/contract.rs: do not edit. After changing a type the page\n\
         // sees, run `KAGE_WRITE_CONTRACT=1 cargo test -p kage-app --lib contract` (scripts/contract).\n\
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
