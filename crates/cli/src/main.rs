//! `modelgate`: take open-weight models into production safely.
//!
//! The binary parses arguments into a checked configuration, calls the
//! library crates, renders their results and maps outcomes to the exit codes
//! documented in `--help`.

mod cli;
mod console_cmd;
mod db_cmd;
mod eval_cmd;
mod gateway_cmd;
mod inspect_cmd;
mod models_cmd;
mod progress;
mod render;
mod scan_cmd;
mod serve_cmd;
mod sign_cmd;
mod system;
mod vet_cmd;

use std::io::Write;
use std::process::ExitCode;

use clap::Parser;

/// Exit codes, documented in `--help`.
pub(crate) mod exit {
    /// Success.
    pub(crate) const OK: u8 = 0;
    /// The command ran and the answer is "no" (an input failed to parse; later: findings, rejection).
    pub(crate) const FAILED: u8 = 1;
    /// Usage error or a path that cannot be read.
    pub(crate) const USAGE: u8 = 2;
    /// `vet`: the model needs review.
    pub(crate) const REVIEW: u8 = 3;
}

fn main() -> ExitCode {
    let args = match cli::Args::try_parse() {
        Ok(args) => args,
        Err(error) => {
            // clap prints help/version on stdout with exit 0, usage errors on stderr with 2.
            let _ = error.print();
            return ExitCode::from(if error.use_stderr() {
                exit::USAGE
            } else {
                exit::OK
            });
        }
    };
    match run(&args) {
        Ok(code) => ExitCode::from(code),
        Err(error) => {
            if is_broken_pipe(&error) {
                return ExitCode::from(exit::OK);
            }
            let mut stderr = std::io::stderr().lock();
            let _ = writeln!(stderr, "error: {error:#}");
            ExitCode::from(exit::USAGE)
        }
    }
}

fn run(args: &cli::Args) -> anyhow::Result<u8> {
    let Some(url) = replicas_to_tell(&args.command) else {
        return dispatch(args);
    };
    let before = last_event(args);
    let code = dispatch(args)?;
    if code == exit::OK && last_event(args) != before {
        tell_replicas(&url);
    }
    Ok(code)
}

/// The Redis of running replicas to tell about a change, when
/// `MODELGATE_REDIS_URL` names one and the command may change keys,
/// grants, users or stages (every such change is an audit event).
fn replicas_to_tell(command: &cli::Command) -> Option<String> {
    matches!(
        command,
        cli::Command::Models(_)
            | cli::Command::Teams(_)
            | cli::Command::Keys(_)
            | cli::Command::Users(_)
    )
    .then(|| std::env::var("MODELGATE_REDIS_URL").ok())
    .flatten()
}

/// The inventory's newest audit event, if it can be read.
fn last_event(args: &cli::Args) -> Option<u64> {
    models_cmd::open_store(args).ok()?.last_event_seq().ok()
}

/// Tells running replicas that the inventory changed (they would otherwise
/// see it at their next poll).
fn tell_replicas(url: &str) {
    let prefix = std::env::var("MODELGATE_REDIS_PREFIX")
        .unwrap_or_else(|_| modelgate_gateway::shared::DEFAULT_PREFIX.to_owned());
    let told = modelgate_gateway::shared::client(url, |path| std::fs::read(path))
        .map_err(|e| e.to_string())
        .and_then(|client| {
            modelgate_gateway::notify::Notifier::new(client, &prefix)
                .publish_blocking(modelgate_gateway::notify::Notice::Inventory)
        });
    if let Err(error) = told {
        eprintln!(
            "note: could not tell the running replicas through redis ({error}); they apply the change at their next poll"
        );
    }
}

fn dispatch(args: &cli::Args) -> anyhow::Result<u8> {
    match &args.command {
        cli::Command::Inspect(inspect) => inspect_cmd::run(args, inspect),
        cli::Command::Scan(scan) => scan_cmd::run(args, scan),
        cli::Command::Sign(sign) => sign_cmd::sign(args, sign),
        cli::Command::Verify(verify) => sign_cmd::verify_command(args, verify),
        cli::Command::Vet(vet) => vet_cmd::run(args, vet),
        cli::Command::Bom(bom) => vet_cmd::bom(args, bom),
        cli::Command::Models(models) => models_cmd::models(args, models),
        cli::Command::Teams(teams) => models_cmd::teams(args, teams),
        cli::Command::Audit(audit) => models_cmd::audit(args, audit),
        cli::Command::Serve(serve) => serve_cmd::run(args, serve),
        cli::Command::Keys(keys) => gateway_cmd::keys(args, keys),
        cli::Command::Users(users) => console_cmd::users(args, users),
        cli::Command::Console(console) => console_cmd::console(args, console),
        cli::Command::Usage(usage) => gateway_cmd::usage(args, usage),
        cli::Command::Db(db) => db_cmd::db(args, db),
        cli::Command::Eval(eval) => eval_cmd::eval(args, eval),
        cli::Command::Quantize(q) => eval_cmd::quantize(args, q),
        cli::Command::Cost(c) => eval_cmd::cost(args, c),
    }
}

fn is_broken_pipe(error: &anyhow::Error) -> bool {
    error.chain().any(|cause| {
        cause
            .downcast_ref::<std::io::Error>()
            .is_some_and(|e| e.kind() == std::io::ErrorKind::BrokenPipe)
    })
}
