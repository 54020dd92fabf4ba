//! `with-postgres <command> [args...]`: runs the command with a throwaway PostgreSQL server up and its URL in
//! `KAGE_TEST_POSTGRES` (the `postgres` database, to create test databases from), then stops the server and
//! exits with the command's status. `scripts/test` runs kage-server's tests through it a second time, so the
//! same tests prove the PostgreSQL path.

use std::process::{Command, ExitCode};

use kage_cluster::Postgres;

fn main() -> ExitCode {
    let mut args = std::env::args_os().skip(1);
    let Some(program) = args.next() else {
        eprintln!("usage: with-postgres <command> [args...]");
        return ExitCode::from(2);
    };
    let postgres = match Postgres::start_named("with-postgres") {
        Ok(postgres) => postgres,
        Err(error) => {
            eprintln!("with-postgres: {error}");
            return ExitCode::FAILURE;
        }
    };
    let status = Command::new(&program).args(args).env("KAGE_TEST_POSTGRES", postgres.url("postgres")).status();
    drop(postgres);
    match status {
        Ok(status) if status.success() => ExitCode::SUCCESS,
        Ok(status) => ExitCode::from(u8::try_from(status.code().unwrap_or(1)).unwrap_or(1)),
        Err(error) => {
            eprintln!("with-postgres: cannot run {}: {error}", program.to_string_lossy());
            ExitCode::FAILURE
        }
    }
}
