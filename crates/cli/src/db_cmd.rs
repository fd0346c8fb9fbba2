//! `modelgate db`: where the inventory's schema stands, migrating it on
//! purpose (before starting new replicas on a shared database), and
//! copying an installation into a new database (SQLite to PostgreSQL).

use clap::Subcommand;
use modelgate_inventory::{Database, SchemaStatus, Store};
use serde_json::json;

use crate::cli::{Args, TextOrJson};
use crate::exit;
use crate::models_cmd::{database, explain, home_dir, print_json};

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
    /// Copy every record of one inventory into a new, empty database, in
    /// one transaction, then verify the copy's audit chain (as `audit
    /// verify` does): the way to move an installation from its SQLite
    /// file to PostgreSQL.
    ///
    /// Both databases are migrated to this build's schema first. The blob
    /// store stays in the data directory (--home). Stop the servers that
    /// write to the source while it runs, then start them with --database
    /// set to the target.
    ///
    /// Exit codes: 0 copied and verified; 1 the copy's chain does not
    /// verify (the source's problems came with it: run `audit verify` on
    /// the source); 2 the target is not empty or a URL is wrong.
    #[command(
        after_help = "Example:\n  modelgate db copy --from sqlite:///var/lib/modelgate/inventory.db \\\n    --to postgres://modelgate@db.internal/modelgate"
    )]
    Copy {
        /// The inventory to copy; default --database, or the SQLite file
        /// in the data directory.
        #[arg(long, value_name = "URL")]
        from: Option<String>,
        /// The new, empty database to copy into.
        #[arg(long, value_name = "URL")]
        to: String,
    },
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
    let home = home_dir(args)?;
    let json = db.format == TextOrJson::Json;
    if let DbCommand::Copy { from, to } = &db.command {
        return copy(args, &home, from.as_deref(), to, json);
    }
    let database = database(args, &home)?;
    let status =
        Store::database_status(&database).map_err(|e| explain(e, &database.to_string()))?;
    match db.command {
        DbCommand::Copy { .. } => Ok(exit::USAGE),
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
            drop(
                Store::open_database(&database, &home)
                    .map_err(|e| explain(e, &database.to_string()))?,
            );
            let after =
                Store::database_status(&database).map_err(|e| explain(e, &database.to_string()))?;
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

/// `db copy`: open both (migrating them), copy, verify, report.
fn copy(
    args: &Args,
    home: &std::path::Path,
    from: Option<&str>,
    to: &str,
    json: bool,
) -> anyhow::Result<u8> {
    let source_db = match from {
        Some(url) => Database::parse(url).map_err(|e| explain(e, "--from"))?,
        None => database(args, home)?,
    };
    let target_db = Database::parse(to).map_err(|e| explain(e, "--to"))?;
    if source_db == target_db {
        anyhow::bail!("--from and --to are the same database ({source_db}): copy into a new one");
    }
    let source =
        Store::open_database(&source_db, home).map_err(|e| explain(e, &source_db.to_string()))?;
    let mut target =
        Store::open_database(&target_db, home).map_err(|e| explain(e, &target_db.to_string()))?;
    eprintln!("modelgate db copy: {source_db} -> {target_db}");
    let started = std::time::Instant::now();
    let report = match source.copy_into(&mut target, |table, rows| {
        eprintln!("  {table}: {rows} rows");
    }) {
        Ok(report) => report,
        Err(error @ modelgate_inventory::Error::TargetNotEmpty { .. }) => {
            eprintln!("error: {}", explain(error, &target_db.to_string()));
            return Ok(exit::USAGE);
        }
        Err(error) => return Err(explain(error, &target_db.to_string())),
    };
    let rows: u64 = report.tables.iter().map(|(_, n)| n).sum();
    if json {
        print_json(&json!({
            "from": source_db.to_string(),
            "to": target_db.to_string(),
            "tables": report.tables.iter().map(|(t, n)| json!({"table": t, "rows": n})).collect::<Vec<_>>(),
            "rows": rows,
            "seconds": started.elapsed().as_secs_f64(),
            "audit": report.audit,
        }))?;
    } else if report.audit.ok {
        println!(
            "copied {rows} rows in {:.1} s; the audit chain verifies on the target ({} events)",
            started.elapsed().as_secs_f64(),
            report.audit.n_events
        );
    } else {
        println!(
            "copied {rows} rows, but the target's audit chain does NOT verify (first bad event: {}); run `modelgate audit verify` on the source",
            report
                .audit
                .first_bad
                .map_or_else(|| "-".to_string(), |seq| seq.to_string())
        );
        for problem in &report.audit.problems {
            println!(
                "  {}{}",
                problem
                    .seq
                    .map_or_else(String::new, |seq| format!("event {seq}: ")),
                problem.message
            );
        }
    }
    Ok(if report.audit.ok {
        exit::OK
    } else {
        exit::FAILED
    })
}
