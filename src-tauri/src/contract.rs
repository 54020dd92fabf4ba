//! The contract between the shell and the page, written once, in Rust: every command's arguments and answer,
//! every channel message and the error codes. The page's TypeScript declarations
//! (`ui/src/generated/contract.ts`) are generated from these Rust types (`page_types.rs`), and a test fails
//! when that file is not what the types say now (`scripts/contract` rewrites it).
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
