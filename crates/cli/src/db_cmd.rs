//! `modelgate db`: where the inventory's schema stands, and migrating it on
//! purpose (before starting new replicas on a shared data directory).

use anyhow::Context;
use clap::Subcommand;
use modelgate_inventory::{SchemaStatus, Store};
use serde_json::json;

use crate::cli::{Args, TextOrJson};
use crate::exit;
use crate::models_cmd::{explain, print_json};

#[derive(Debug, clap::Args)]
pub(crate) struct DbArgs {
    /// Output format.
    #[arg(long, global = true, value_enum, default_value_t = TextOrJson::Text)]
    pub(crate) format: TextOrJson,

    #[command(subcommand)]
    pub(crate) command: DbCommand,
}

#[derive(Debug, Subcommand)]
pub(crate) enum DbCommand {
    /// The schema version of the inventory and the migrations this build
    /// would apply; changes nothing (the database is opened read-only).
    ///
    /// Exit codes: 0 up to date; 1 migrations pending (or no database
    /// yet); 2 the database is newer than this build.
    Status,
    /// Apply the pending migrations, all in one transaction.
    ///
    /// Every command that opens the inventory migrates it too; run this
    /// on purpose when several replicas share it, before starting the new
    /// version of any of them. A database migrated by a newer build is
    /// refused, never changed.
    Migrate,
}

fn home(args: &Args) -> anyhow::Result<std::path::PathBuf> {
    match &args.home {
        Some(home) => Ok(home.clone()),
        None => modelgate_inventory::default_home().context(
            "cannot find a data directory for the inventory: pass --home DIR or set MODELGATE_HOME",
        ),
    }
}

fn status_json(status: &SchemaStatus) -> serde_json::Value {
    json!({
        "database": status.path.display().to_string(),
        "exists": status.exists,
        "applied": status.applied,
        "known": status.known,
        "pending": status.pending.iter().map(|(v, n)| json!({"version": v, "name": n})).collect::<Vec<_>>(),
        "too_new": status.too_new(),
    })
}

pub(crate) fn db(args: &Args, db: &DbArgs) -> anyhow::Result<u8> {
    let home = home(args)?;
    let json = db.format == TextOrJson::Json;
    let status =
        Store::schema_status(&home).map_err(|e| explain(e, &home.display().to_string()))?;
    match db.command {
        DbCommand::Status => {
            if json {
                print_json(&status_json(&status))?;
            } else if status.too_new() {
                println!(
                    "{}: schema {} is newer than this modelgate's {}; run the modelgate that migrated it",
                    status.path.display(),
                    status.applied,
                    status.known
                );
            } else if !status.exists {
                println!(
                    "{}: no database yet; `modelgate db migrate` creates it at schema {}",
                    status.path.display(),
                    status.known
                );
            } else if status.pending.is_empty() {
                println!(
                    "{}: schema {} (up to date)",
                    status.path.display(),
                    status.applied
                );
            } else {
                println!(
                    "{}: schema {}; `modelgate db migrate` applies:",
                    status.path.display(),
                    status.applied
                );
                for (version, name) in &status.pending {
                    println!("  {version:04} {name}");
                }
            }
            Ok(if status.too_new() {
                exit::USAGE
            } else if status.pending.is_empty() && status.exists {
                exit::OK
            } else {
                exit::FAILED
            })
        }
        DbCommand::Migrate => {
            drop(Store::open(&home).map_err(|e| explain(e, &home.display().to_string()))?);
            let after =
                Store::schema_status(&home).map_err(|e| explain(e, &home.display().to_string()))?;
            if json {
                print_json(&json!({
                    "database": after.path.display().to_string(),
                    "from": status.applied,
                    "to": after.applied,
                    "applied": status.pending.iter().map(|(v, n)| json!({"version": v, "name": n})).collect::<Vec<_>>(),
                }))?;
            } else if status.pending.is_empty() {
                println!(
                    "{}: schema {} (up to date; nothing to do)",
                    after.path.display(),
                    after.applied
                );
            } else {
                println!(
                    "{}: schema {} -> {}",
                    after.path.display(),
                    status.applied,
                    after.applied
                );
                for (version, name) in &status.pending {
                    println!("  applied {version:04} {name}");
                }
            }
            Ok(exit::OK)
        }
    }
}
