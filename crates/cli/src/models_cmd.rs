//! `modelgate models`, `modelgate teams`, `modelgate audit` and
//! `modelgate bom --inventory`: the inventory (`modelgate-inventory`) at
//! the command line.

use std::io::Write;
use std::path::PathBuf;

use anyhow::Context;
use clap::Subcommand;
use modelgate_inventory::{
    Approval, Assignment, Database, Date, Error as InventoryError, SignOff, Stage, StageChange,
    Store, Transition, VersionRef, VersionSummary,
};
use modelgate_policy::Decision;
use serde::Serialize;

use crate::cli::{Args, OriginArgs, TextOrJson};
use crate::exit;

/// `modelgate models`: the subcommand and its output format.
#[derive(Debug, clap::Args)]
pub(crate) struct ModelsArgs {
    /// Output format.
    #[arg(long, global = true, value_enum, default_value_t = TextOrJson::Text)]
    pub(crate) format: TextOrJson,

    #[command(subcommand)]
    pub(crate) command: ModelsCommand,
}

/// `modelgate teams`: the subcommand and its output format.
#[derive(Debug, clap::Args)]
pub(crate) struct TeamsArgs {
    /// Output format.
    #[arg(long, global = true, value_enum, default_value_t = TextOrJson::Text)]
    pub(crate) format: TextOrJson,

    #[command(subcommand)]
    pub(crate) command: TeamsCommand,
}

/// `modelgate audit`: the subcommand and its output format (`log` writes
/// JSON lines).
#[derive(Debug, clap::Args)]
pub(crate) struct AuditArgs {
    /// Output format.
    #[arg(long, global = true, value_enum, default_value_t = TextOrJson::Text)]
    pub(crate) format: TextOrJson,

    #[command(subcommand)]
    pub(crate) command: AuditCommand,
}

#[derive(Debug, Subcommand)]
pub(crate) enum ModelsCommand {
    /// Vet a model and record it as a candidate version.
    ///
    /// Runs `modelgate vet` and stores the whole report as evidence: every
    /// file's SHA-256, format, parameters, quantization, license and terms,
    /// provenance, signature status, the verdict and the AI-BOM description.
    /// A version is immutable: new files are a new --version.
    #[command(disable_version_flag = true)]
    Add(AddArgs),
    /// Every version: stage, verdict, format, quantization, review date.
    List,
    /// A model's versions (NAME), or everything recorded about one
    /// (NAME@VERSION): files, provenance, history, variants, teams.
    Show {
        /// NAME or NAME@VERSION.
        #[arg(value_name = "NAME[@VERSION]")]
        target: String,
    },
    /// Approve a version (candidate → approved), or re-review an approved or
    /// production one (sets a new review-by date).
    ///
    /// The stored vet verdict decides: `approved` may be approved;
    /// `needs-review` only with a --sign-off from every reviewer it names;
    /// `rejected` only with --override --note WHY. Overrides and sign-offs
    /// are recorded in the audit trail.
    Approve(ApproveArgs),
    /// Record a reviewer's sign-off (or rejection) of a needs-review
    /// verdict, as the console's review form does.
    ///
    /// Recorded sign-offs count at `models approve`; a rejection stops it
    /// unless overridden with a note. A later review of the same kind
    /// replaces the earlier one; the audit trail keeps both.
    Review(crate::console_cmd::ReviewArgs),
    /// Put an approved version in production (approved → production).
    ///
    /// When the policy's [evaluation] section names suites
    /// (required_for_production), the version needs a stored passing run of
    /// each (`modelgate eval NAME@VER --suite FILE`), or --override --note WHY.
    Promote(PromoteArgs),
    /// Mark an approved or production version deprecated: teams should
    /// move off it.
    Deprecate(StageArgs),
    /// Revoke a version (from any stage) and list the teams it affects.
    Revoke(RevokeArgs),
    /// Check that the files on disk still match the recorded digests.
    Verify(ModelVerifyArgs),
    /// Approved and production versions whose review-by date has come.
    Due(DueArgs),
}

#[derive(Debug, clap::Args)]
pub(crate) struct AddArgs {
    /// A model file or repository directory.
    #[arg(value_name = "PATH")]
    pub(crate) path: PathBuf,

    /// The model's name in the inventory (e.g. `all-MiniLM-L6-v2`; `/` is
    /// allowed, `@` is not).
    #[arg(long, value_name = "NAME")]
    pub(crate) name: String,

    /// The version to record (e.g. `1.0`, `2024-06-q4`).
    #[arg(long, value_name = "VERSION")]
    pub(crate) version: String,

    /// This version is a variant (e.g. another quantization) of NAME@VERSION.
    #[arg(long, value_name = "NAME@VERSION")]
    pub(crate) variant_of: Option<String>,

    /// Who records it (default: $USER).
    #[arg(long, value_name = "WHO")]
    pub(crate) by: Option<String>,

    #[command(flatten)]
    pub(crate) origin: OriginArgs,
}

#[derive(Debug, clap::Args)]
pub(crate) struct ApproveArgs {
    /// The version.
    #[arg(value_name = "NAME@VERSION")]
    pub(crate) reference: String,

    /// Who approves.
    #[arg(long, value_name = "WHO", required = true)]
    pub(crate) by: String,

    /// When it must be reviewed again (YYYY-MM-DD, after today; default: a
    /// year from today).
    #[arg(long, value_name = "DATE")]
    pub(crate) review_by: Option<String>,

    /// Why (required with --override).
    #[arg(long, value_name = "TEXT")]
    pub(crate) note: Option<String>,

    /// Approve although the vet verdict does not allow it (recorded).
    #[arg(long = "override")]
    pub(crate) override_verdict: bool,

    /// A reviewer's sign-off on a needs-review verdict: ROLE=WHO, ROLE one
    /// of legal, security, governance. Repeat for each reviewer.
    #[arg(long = "sign-off", value_name = "ROLE=WHO")]
    pub(crate) sign_offs: Vec<String>,
}

#[derive(Debug, clap::Args)]
pub(crate) struct StageArgs {
    /// The version.
    #[arg(value_name = "NAME@VERSION")]
    pub(crate) reference: String,

    /// Who makes the change.
    #[arg(long, value_name = "WHO", required = true)]
    pub(crate) by: String,

    /// Why.
    #[arg(long, value_name = "TEXT")]
    pub(crate) note: Option<String>,
}

#[derive(Debug, clap::Args)]
pub(crate) struct PromoteArgs {
    #[command(flatten)]
    pub(crate) stage: StageArgs,

    /// Organisation policy (TOML) whose [evaluation] section gates
    /// production; default: the built-in policy (which requires none).
    #[arg(long, value_name = "FILE", env = "MODELGATE_POLICY")]
    pub(crate) policy: Option<PathBuf>,

    /// Promote although a required suite has no passing run (needs --note;
    /// recorded in the audit trail).
    #[arg(long = "override")]
    pub(crate) override_evaluation: bool,
}

#[derive(Debug, clap::Args)]
pub(crate) struct RevokeArgs {
    /// The version.
    #[arg(value_name = "NAME@VERSION")]
    pub(crate) reference: String,

    /// Who revokes it.
    #[arg(long, value_name = "WHO", required = true)]
    pub(crate) by: String,

    /// Why: the teams affected will read it.
    #[arg(long, value_name = "TEXT", required = true)]
    pub(crate) reason: String,
}

#[derive(Debug, clap::Args)]
pub(crate) struct ModelVerifyArgs {
    /// The version.
    #[arg(value_name = "NAME@VERSION")]
    pub(crate) reference: String,

    /// Where the files are now (default: the path recorded when it was added).
    #[arg(value_name = "PATH")]
    pub(crate) path: Option<PathBuf>,
}

#[derive(Debug, clap::Args)]
pub(crate) struct DueArgs {
    /// List what is due on or before this date (YYYY-MM-DD; default: today).
    #[arg(long, value_name = "DATE")]
    pub(crate) as_of: Option<String>,
}

#[derive(Debug, Subcommand)]
pub(crate) enum TeamsCommand {
    /// Record that TEAM uses NAME@VERSION (approved or production) for a
    /// purpose; assigning again replaces the purpose.
    Assign {
        /// The team.
        #[arg(value_name = "TEAM")]
        team: String,
        /// The version.
        #[arg(value_name = "NAME@VERSION")]
        reference: String,
        /// What the team uses it for.
        #[arg(long, value_name = "TEXT", required = true)]
        purpose: String,
        /// Who records it (default: $USER).
        #[arg(long, value_name = "WHO")]
        by: Option<String>,
    },
    /// Every team's versions, with their stage.
    List,
    #[command(flatten)]
    Gateway(crate::gateway_cmd::TeamGatewayCommand),
}

#[derive(Debug, Subcommand)]
pub(crate) enum AuditCommand {
    /// Every event of the audit trail, oldest first (JSON lines with
    /// --format json).
    Log,
    /// Check the hash chain and that the stored state matches it; name the
    /// first bad event.
    Verify,
}

/// The data directory: --home, MODELGATE_HOME, or the user's data dir.
pub(crate) fn home_dir(args: &Args) -> anyhow::Result<std::path::PathBuf> {
    match &args.home {
        Some(home) => Ok(home.clone()),
        None => modelgate_inventory::default_home().context(
            "cannot find a data directory for the inventory: pass --home DIR or set MODELGATE_HOME",
        ),
    }
}

/// The inventory's database: --database, MODELGATE_DATABASE_URL, or the
/// SQLite file in the data directory `home`.
pub(crate) fn database(args: &Args, home: &std::path::Path) -> anyhow::Result<Database> {
    match &args.database {
        Some(url) => Database::parse(url).map_err(|error| explain(error, "--database")),
        None => Ok(Database::in_home(home)),
    }
}

/// The inventory, opened (and migrated) where --home and --database say.
pub(crate) fn open_store(args: &Args) -> anyhow::Result<Store> {
    let home = home_dir(args)?;
    let database = database(args, &home)?;
    Store::open_database(&database, &home).map_err(|error| explain(error, &database.to_string()))
}

fn reference(text: &str) -> anyhow::Result<VersionRef> {
    text.parse::<VersionRef>()
        .map_err(|error| explain(error, text))
}

/// Who is at the keyboard, for commands whose --by is optional.
pub(crate) fn current_user() -> String {
    ["USER", "LOGNAME", "USERNAME"]
        .iter()
        .find_map(|name| std::env::var(name).ok().filter(|v| !v.trim().is_empty()))
        .unwrap_or_else(|| "unknown".to_string())
}

/// The library's error, with what to do about it.
pub(crate) fn explain(error: InventoryError, subject: &str) -> anyhow::Error {
    let hint = match &error {
        InventoryError::UnknownModel { .. } | InventoryError::UnknownVersion { .. } => {
            "see `modelgate models list`".to_string()
        }
        InventoryError::VersionExists { .. } => {
            "versions are immutable: record the new files under another --version".to_string()
        }
        InventoryError::IllegalTransition {
            reference,
            stage,
            transition,
        } => match (transition, stage) {
            (Transition::Promote, Stage::Candidate) => format!(
                "approve it first: modelgate models approve {reference} --by WHO"
            ),
            (_, Stage::Revoked | Stage::Deprecated) => format!(
                "a {stage} version stays {stage}; add the model again as a new version to use it"
            ),
            _ => "see `modelgate models show` for its history".to_string(),
        },
        InventoryError::NotAllowed { .. } => "fix what the verdict names and add a new version, or approve with --override --note WHY (recorded in the audit trail)".to_string(),
        InventoryError::MissingSignOff { missing, .. } => format!(
            "add --sign-off ROLE=WHO for each reviewer (e.g. --sign-off {}=alice), or --override --note WHY",
            missing.first().map_or("legal", |r| r.name())
        ),
        InventoryError::OverrideWithoutNote => "add --note WHY".to_string(),
        InventoryError::ReviewDateNotFuture { .. } | InventoryError::BadDate { .. } => {
            "give --review-by a date after today, as YYYY-MM-DD".to_string()
        }
        InventoryError::NotAssignable { stage, reference, .. } => match stage {
            Stage::Candidate => format!(
                "teams use approved or production versions: modelgate models approve {reference} --by WHO"
            ),
            _ => format!(
                "teams use approved or production versions: see `modelgate models show {}`",
                reference.name
            ),
        },
        InventoryError::Missing { field } => match *field {
            "approver" | "actor" | "revoker" => "pass --by WHO".to_string(),
            "reason" => "pass --reason TEXT".to_string(),
            "purpose" => "pass --purpose TEXT".to_string(),
            other => format!("give the {other}"),
        },
        InventoryError::BadReference { .. } => {
            "versions are written NAME@VERSION (e.g. all-MiniLM-L6-v2@1.0)".to_string()
        }
        InventoryError::BadName { kind, .. } => match *kind {
            "model name" | "version" | "team" => {
                "names are one line, at most 256 bytes, without '@' (it separates NAME@VERSION)"
                    .to_string()
            }
            _ => "use a shorter text without control characters".to_string(),
        },
        InventoryError::BadReviewer { .. } => {
            "write sign-offs as ROLE=WHO, e.g. --sign-off legal=alice".to_string()
        }
        InventoryError::SchemaTooNew { .. } => {
            "upgrade modelgate to use this inventory".to_string()
        }
        InventoryError::CreateHome { .. } => "check --home / MODELGATE_HOME".to_string(),
        InventoryError::Open { path, .. } if path.to_string_lossy().starts_with("postgres") => {
            "check --database / MODELGATE_DATABASE_URL and that the PostgreSQL server is up and reachable".to_string()
        }
        InventoryError::Open { .. } => "check --home / MODELGATE_HOME".to_string(),
        InventoryError::BadDatabase { .. } => {
            "write --database / MODELGATE_DATABASE_URL as postgres://USER@HOST:PORT/DB or sqlite:///PATH".to_string()
        }
        InventoryError::TargetNotEmpty { .. } => {
            "create an empty database for the copy (CREATE DATABASE ...), or point --to at one".to_string()
        }
        InventoryError::FileChanged { .. } => {
            "nothing was stored; find out what changes the files, then add the version again"
                .to_string()
        }
        InventoryError::Blob { .. } => {
            "check the space and permissions of the blob store under --home / MODELGATE_HOME"
                .to_string()
        }
        _ => return anyhow::Error::new(error).context(format!("inventory: {subject}")),
    };
    anyhow::anyhow!("{error}; {hint}")
}

pub(crate) fn print_json(value: &impl Serialize) -> anyhow::Result<()> {
    // Buffered: standard output flushes on every newline otherwise.
    let mut stdout = std::io::BufWriter::new(std::io::stdout().lock());
    serde_json::to_writer_pretty(&mut stdout, value)?;
    writeln!(stdout)?;
    stdout.flush()?;
    Ok(())
}

pub(crate) fn print_text(text: &str) -> anyhow::Result<()> {
    let mut stdout = std::io::stdout().lock();
    stdout.write_all(text.as_bytes())?;
    stdout.flush()?;
    Ok(())
}

pub(crate) fn models(args: &Args, models_args: &ModelsArgs) -> anyhow::Result<u8> {
    let json = models_args.format == TextOrJson::Json;
    match &models_args.command {
        ModelsCommand::Add(add_args) => add(args, add_args, json),
        ModelsCommand::List => {
            let versions = open_store(args)?.list().map_err(|e| explain(e, "list"))?;
            if json {
                print_json(&versions)?;
            } else if versions.is_empty() {
                print_text(
                    "The inventory is empty; add a model with `modelgate models add PATH --name NAME --version VER`.\n",
                )?;
            } else {
                print_text(&version_table(&versions))?;
            }
            Ok(exit::OK)
        }
        ModelsCommand::Show { target } => show(args, target, json),
        ModelsCommand::Approve(approve_args) => approve(args, approve_args, json),
        ModelsCommand::Review(review) => crate::console_cmd::review(args, review, json),
        ModelsCommand::Promote(promote_args) => promote(args, promote_args, json),
        ModelsCommand::Deprecate(stage_args) => {
            move_stage(args, stage_args, Store::deprecate, json)
        }
        ModelsCommand::Revoke(revoke) => {
            let r = reference(&revoke.reference)?;
            let revocation = open_store(args)?
                .revoke(&r, &revoke.by, &revoke.reason)
                .map_err(|e| explain(e, &revoke.reference))?;
            if json {
                print_json(&revocation)?;
                return Ok(exit::OK);
            }
            let mut text = format!(
                "{r}: {} → revoked by {}: {}\n",
                revocation.change.from.map_or("new", Stage::name),
                revocation.change.by,
                revocation.change.note.as_deref().unwrap_or_default()
            );
            if revocation.affected.is_empty() {
                text.push_str("No team is assigned to it.\n");
            } else {
                text.push_str(&format!(
                    "Affected teams ({}): tell them to move off it\n",
                    revocation.affected.len()
                ));
                text.push_str(&team_lines(&revocation.affected));
            }
            print_text(&text)?;
            Ok(exit::OK)
        }
        ModelsCommand::Verify(verify_args) => verify(args, verify_args, json),
        ModelsCommand::Due(due) => {
            let as_of = match &due.as_of {
                Some(text) => text.parse::<Date>().map_err(|e| explain(e, text))?,
                None => Date::today(),
            };
            let versions = open_store(args)?
                .due(as_of)
                .map_err(|e| explain(e, "due"))?;
            if json {
                print_json(&versions)?;
            } else if versions.is_empty() {
                print_text(&format!("Nothing is due for review by {as_of}.\n"))?;
            } else {
                let mut text = format!(
                    "Due for review by {as_of} (re-review with `modelgate models approve NAME@VER --by WHO --review-by DATE`):\n"
                );
                text.push_str(&version_table(&versions));
                print_text(&text)?;
            }
            Ok(exit::OK)
        }
    }
}

fn add(args: &Args, add_args: &AddArgs, json: bool) -> anyhow::Result<u8> {
    let r = VersionRef::new(&add_args.name, &add_args.version)
        .map_err(|e| explain(e, &add_args.name))?;
    let variant_of = add_args.variant_of.as_deref().map(reference).transpose()?;
    let by = add_args.by.clone().unwrap_or_else(current_user);
    let mut store = open_store(args)?;
    let bar = crate::progress::Bar::new("hashing");
    let vet_options = crate::vet_cmd::vet_options(&add_args.origin, &bar)?;
    let copy_bar = crate::progress::Bar::new("storing");
    let added = modelgate_ops::add_version(
        &mut store,
        &modelgate_ops::AddVersion {
            reference: r.clone(),
            variant_of,
            path: &add_args.path,
            by: &by,
            vet: &vet_options,
            copy_progress: &copy_bar,
        },
    );
    bar.finish();
    copy_bar.finish();
    let summary = added.map_err(|error| match error {
        modelgate_ops::Error::Inventory(error) => explain(error, &r.to_string()),
        other => {
            anyhow::Error::new(other).context(format!("cannot add {}", add_args.path.display()))
        }
    })?;
    if json {
        print_json(&summary)?;
        return Ok(exit::OK);
    }
    let mut text = format!(
        "Recorded {r} as a candidate: verdict {}, {} files ({} bytes), {}.\n",
        summary.decision.name(),
        summary.n_files,
        summary.total_bytes,
        shape(&summary)
    );
    text.push_str(&match summary.decision {
        Decision::Approved => {
            format!("Next: modelgate models approve {r} --by WHO\n")
        }
        Decision::NeedsReview => format!(
            "Next: reviews by {}, then modelgate models approve {r} --by WHO --sign-off ROLE=WHO ...\n",
            summary
                .reviewers
                .iter()
                .map(|r| r.name())
                .collect::<Vec<_>>()
                .join(", ")
        ),
        Decision::Rejected => {
            "The verdict is rejected: it cannot be approved without an override (see `modelgate vet` for why).\n".to_string()
        }
    });
    print_text(&text)?;
    Ok(exit::OK)
}

/// `promote` or `deprecate`: a stage change with only --by and --note.
fn move_stage(
    args: &Args,
    stage_args: &StageArgs,
    change: fn(&mut Store, &VersionRef, &str, Option<&str>) -> Result<StageChange, InventoryError>,
    json: bool,
) -> anyhow::Result<u8> {
    let r = reference(&stage_args.reference)?;
    let change = change(
        &mut open_store(args)?,
        &r,
        &stage_args.by,
        stage_args.note.as_deref(),
    )
    .map_err(|e| explain(e, &stage_args.reference))?;
    stage_change(&change, json)
}

fn promote(args: &Args, promote_args: &PromoteArgs, json: bool) -> anyhow::Result<u8> {
    let stage_args = &promote_args.stage;
    let r = reference(&stage_args.reference)?;
    let policy = crate::vet_cmd::load_policy(promote_args.policy.as_deref())?;
    let change = open_store(args)?
        .promote_with(
            &r,
            &modelgate_inventory::Promotion {
                by: stage_args.by.clone(),
                note: stage_args.note.clone(),
                evaluation: policy.evaluation.clone(),
                override_evaluation: promote_args.override_evaluation,
            },
        )
        .map_err(|e| explain(e, &stage_args.reference))?;
    stage_change(&change, json)
}

fn approve(args: &Args, approve_args: &ApproveArgs, json: bool) -> anyhow::Result<u8> {
    let r = reference(&approve_args.reference)?;
    let review_by = approve_args
        .review_by
        .as_deref()
        .map(|text| text.parse::<Date>().map_err(|e| explain(e, text)))
        .transpose()?;
    let sign_offs = approve_args
        .sign_offs
        .iter()
        .map(|text| text.parse::<SignOff>().map_err(|e| explain(e, text)))
        .collect::<anyhow::Result<Vec<_>>>()?;
    let change = open_store(args)?
        .approve(
            &r,
            &Approval {
                by: approve_args.by.clone(),
                review_by,
                note: approve_args.note.clone(),
                override_verdict: approve_args.override_verdict,
                sign_offs,
            },
        )
        .map_err(|e| explain(e, &approve_args.reference))?;
    stage_change(&change, json)
}

fn stage_change(change: &StageChange, json: bool) -> anyhow::Result<u8> {
    if json {
        print_json(change)?;
        return Ok(exit::OK);
    }
    let mut text = format!(
        "{}@{}: {} → {} by {}",
        change.name,
        change.version,
        change.from.map_or("new", Stage::name),
        change.to,
        change.by
    );
    if let Some(date) = &change.review_by {
        text.push_str(&format!(", review by {date}"));
    }
    if change.override_verdict {
        text.push_str(" (verdict overridden)");
    }
    if let Some(note) = &change.note {
        text.push_str(&format!(": {note}"));
    }
    text.push_str(&format!(" [audit event {}]\n", change.event_seq));
    print_text(&text)?;
    Ok(exit::OK)
}

fn show(args: &Args, target: &str, json: bool) -> anyhow::Result<u8> {
    let store = open_store(args)?;
    if !target.contains('@') {
        let model = store.model(target).map_err(|e| explain(e, target))?;
        if json {
            print_json(&model)?;
        } else {
            let mut text = format!("{} (since {})\n", model.name, model.created_at);
            text.push_str(&version_table(&model.versions));
            print_text(&text)?;
        }
        return Ok(exit::OK);
    }
    let r = reference(target)?;
    let detail = store.version(&r).map_err(|e| explain(e, target))?;
    if json {
        print_json(&detail)?;
        return Ok(exit::OK);
    }
    let s = &detail.summary;
    let mut text = format!("{r}  {}\n", s.stage);
    let mut row = |label: &str, value: &str| text.push_str(&format!("  {label:<13}{value}\n"));
    row("Model", &shape(s));
    row(
        "Verdict",
        &if s.reviewers.is_empty() {
            s.decision.name().to_string()
        } else {
            let who: Vec<&str> = s.reviewers.iter().map(|r| r.name()).collect();
            format!("{} by {}", s.decision.name(), who.join(", "))
        },
    );
    let license = match (&s.license, &detail.license_name) {
        (Some(id), Some(name)) => format!("{name} ({id})"),
        (Some(id), None) => id.clone(),
        _ => "unknown".to_string(),
    };
    row("License", &license);
    let p = &detail.provenance;
    row("Publisher", p.publisher.as_deref().unwrap_or("unknown"));
    row("Source", p.source.as_deref().unwrap_or("unknown"));
    row("Revision", p.revision.as_deref().unwrap_or("unknown"));
    if !p.base_models.is_empty() {
        row("Base models", &p.base_models.join(", "));
    }
    if !p.toolchain.is_empty() {
        row("Toolchain", &p.toolchain.join(", "));
    }
    row(
        "Signature",
        &match &detail.signer {
            Some(signer) => format!("{} ({signer})", s.signature),
            None => s.signature.clone(),
        },
    );
    row("Added", &format!("{} by {}", s.added_at, s.added_by));
    row("Vetted path", &detail.source_path);
    if let Some(date) = &s.review_by {
        row(
            "Review by",
            &format!("{date}{}", if s.review_due { " (DUE)" } else { "" }),
        );
    }
    text.push_str(&format!(
        "\nFiles ({}, {} bytes)\n",
        s.n_files, s.total_bytes
    ));
    for file in &detail.files {
        text.push_str(&format!(
            "  {}  {:>12}  {}\n",
            file.sha256, file.size, file.path
        ));
    }
    text.push_str("\nHistory\n");
    for change in &detail.history {
        text.push_str(&format!(
            "  {}  {:<10} → {:<10} by {}{}{}\n",
            change.at,
            change.from.map_or("", Stage::name),
            change.to.name(),
            change.by,
            if change.override_verdict {
                " (override)"
            } else {
                ""
            },
            change
                .note
                .as_deref()
                .map(|n| format!(": {n}"))
                .unwrap_or_default()
        ));
    }
    if !detail.variants.is_empty() {
        text.push_str("\nVariants\n");
        for variant in &detail.variants {
            text.push_str(&format!(
                "  {}@{}  {}  {} ({})\n",
                variant.name,
                variant.version,
                variant.quantization.as_deref().unwrap_or("-"),
                variant.stage,
                variant.link
            ));
        }
    }
    if !detail.assignments.is_empty() {
        text.push_str("\nTeams\n");
        text.push_str(&team_lines(&detail.assignments));
    }
    print_text(&text)?;
    Ok(exit::OK)
}

/// One line per team: its name and what it uses the version for.
fn team_lines(assignments: &[Assignment]) -> String {
    assignments
        .iter()
        .map(|a| format!("  {:<20} {}\n", a.team, a.purpose))
        .collect()
}

fn shape(summary: &VersionSummary) -> String {
    let mut parts = Vec::new();
    if let Some(format) = &summary.format {
        parts.push(format.clone());
    }
    if let Some(architecture) = &summary.architecture {
        parts.push(architecture.clone());
    }
    if let Some(parameters) = summary.parameters {
        parts.push(format!("{parameters} parameters"));
    }
    if let Some(quantization) = &summary.quantization {
        parts.push(quantization.clone());
    }
    if parts.is_empty() {
        "unknown format".to_string()
    } else {
        parts.join(", ")
    }
}

fn version_table(versions: &[VersionSummary]) -> String {
    let rows: Vec<[String; 7]> = versions
        .iter()
        .map(|v| {
            [
                format!("{}@{}", v.name, v.version),
                v.stage.name().to_string(),
                v.decision.name().to_string(),
                v.format.clone().unwrap_or_else(|| "-".into()),
                v.quantization.clone().unwrap_or_else(|| "-".into()),
                v.parameters.map_or_else(|| "-".into(), |p| p.to_string()),
                match (&v.review_by, v.review_due) {
                    (Some(date), true) => format!("{date} DUE"),
                    (Some(date), false) => date.clone(),
                    (None, _) => "-".into(),
                },
            ]
        })
        .collect();
    table(
        &[
            "VERSION",
            "STAGE",
            "VERDICT",
            "FORMAT",
            "QUANT",
            "PARAMETERS",
            "REVIEW BY",
        ],
        &rows,
    )
}

/// Left-aligned columns, two spaces apart.
pub(crate) fn table<const N: usize>(header: &[&str; N], rows: &[[String; N]]) -> String {
    let mut widths = header.map(str::len);
    for row in rows {
        for (width, cell) in widths.iter_mut().zip(row) {
            *width = (*width).max(cell.chars().count());
        }
    }
    let mut out = String::new();
    let mut line = |cells: Vec<&str>| {
        let mut text = String::new();
        for (idx, (cell, width)) in cells.iter().zip(widths).enumerate() {
            if idx + 1 == N {
                text.push_str(cell);
            } else {
                text.push_str(&format!("{cell:<width$}  "));
            }
        }
        out.push_str(text.trim_end());
        out.push('\n');
    };
    line(header.to_vec());
    for row in rows {
        line(row.iter().map(String::as_str).collect());
    }
    out
}

fn verify(args: &Args, verify_args: &ModelVerifyArgs, json: bool) -> anyhow::Result<u8> {
    let r = reference(&verify_args.reference)?;
    let store = open_store(args)?;
    let bar = crate::progress::Bar::new("hashing");
    let checked = modelgate_ops::verify_stored(&store, &r, verify_args.path.as_deref(), &bar);
    bar.finish();
    let verification = checked.map_err(|error| match error {
        modelgate_ops::Error::Inventory(error) => explain(error, &verify_args.reference),
        modelgate_ops::Error::Hash { path, .. } if !path.exists() => anyhow::anyhow!(
            "{} does not exist; give the model's current location: modelgate models verify {r} PATH",
            path.display()
        ),
        other => anyhow::Error::new(other),
    })?;
    let (verified, comparison, path) = (
        verification.verified,
        &verification.comparison,
        &verification.path,
    );
    if json {
        print_json(&verification)?;
    } else if verified {
        let copies = if verification.stored {
            ", and so do their stored copies"
        } else {
            " (not yet in the blob store: recorded before it existed)"
        };
        print_text(&format!(
            "{r}: {} files in {path} match the recorded digests{copies}\n",
            comparison.n_files,
        ))?;
    } else if comparison.matches() {
        let mut text = format!(
            "{r}: {path} matches, but the STORED COPIES DO NOT MATCH the recorded digests\n"
        );
        for problem in &verification.blob_problems {
            text.push_str(&format!("  {}: {}\n", problem.path, problem.problem));
        }
        text.push_str(
            "  the blob store was altered; add the model again as a new version from a vetted source\n",
        );
        print_text(&text)?;
    } else {
        let mut text = format!("{r}: {path} DOES NOT MATCH the recorded digests\n");
        for problem in &verification.blob_problems {
            text.push_str(&format!(
                "  stored   {}: {}\n",
                problem.path, problem.problem
            ));
        }
        for (label, paths) in [
            ("modified", &comparison.modified),
            ("added", &comparison.added),
            ("removed", &comparison.removed),
        ] {
            for file in paths {
                text.push_str(&format!("  {label:<9}{file}\n"));
            }
        }
        print_text(&text)?;
    }
    Ok(if verified { exit::OK } else { exit::FAILED })
}

pub(crate) fn teams(args: &Args, teams_args: &TeamsArgs) -> anyhow::Result<u8> {
    let json = teams_args.format == TextOrJson::Json;
    match &teams_args.command {
        TeamsCommand::Gateway(command) => {
            return crate::gateway_cmd::teams_gateway(args, teams_args.format, command);
        }
        TeamsCommand::Assign {
            team,
            reference: target,
            purpose,
            by,
        } => {
            let r = reference(target)?;
            let by = by.clone().unwrap_or_else(current_user);
            let assignment = open_store(args)?
                .assign(team, &r, purpose, &by)
                .map_err(|e| explain(e, target))?;
            if json {
                print_json(&assignment)?;
            } else {
                print_text(&format!(
                    "Team {} uses {r} ({}) for: {}\n",
                    assignment.team, assignment.stage, assignment.purpose
                ))?;
            }
        }
        TeamsCommand::List => {
            let assignments = open_store(args)?
                .assignments()
                .map_err(|e| explain(e, "teams"))?;
            if json {
                print_json(&assignments)?;
            } else if assignments.is_empty() {
                print_text(
                    "No team is assigned to a version; use `modelgate teams assign TEAM NAME@VER --purpose TEXT`.\n",
                )?;
            } else {
                let rows: Vec<[String; 4]> = assignments
                    .iter()
                    .map(|a| {
                        [
                            a.team.clone(),
                            format!("{}@{}", a.name, a.version),
                            match a.stage {
                                Stage::Revoked | Stage::Deprecated => {
                                    format!("{} (move off it)", a.stage)
                                }
                                stage => stage.name().to_string(),
                            },
                            a.purpose.clone(),
                        ]
                    })
                    .collect();
                print_text(&table(&["TEAM", "VERSION", "STAGE", "PURPOSE"], &rows))?;
            }
        }
    }
    Ok(exit::OK)
}

pub(crate) fn audit(args: &Args, audit_args: &AuditArgs) -> anyhow::Result<u8> {
    let json = audit_args.format == TextOrJson::Json;
    let store = open_store(args)?;
    match &audit_args.command {
        AuditCommand::Log => {
            let events = store.events().map_err(|e| explain(e, "audit log"))?;
            let mut stdout = std::io::BufWriter::new(std::io::stdout().lock());
            for event in &events {
                if json {
                    serde_json::to_writer(&mut stdout, event)?;
                    writeln!(stdout)?;
                } else {
                    writeln!(
                        stdout,
                        "{:>6}  {}  {:<18} {:<20} {}",
                        event.seq, event.at, event.action, event.subject, event.actor
                    )?;
                }
            }
            stdout.flush()?;
            Ok(exit::OK)
        }
        AuditCommand::Verify => {
            let report = store
                .verify_audit()
                .map_err(|e| explain(e, "audit verify"))?;
            if json {
                print_json(&report)?;
            } else if report.ok {
                print_text(&format!(
                    "Audit trail intact: {} events, head {}\n",
                    report.n_events,
                    report.head.as_deref().unwrap_or("(empty)")
                ))?;
            } else {
                let mut text = match report.first_bad {
                    Some(seq) => format!(
                        "AUDIT TRAIL TAMPERED: first bad event {seq} ({} problems in {} events)\n",
                        report.n_problems, report.n_events
                    ),
                    None => format!(
                        "AUDIT TRAIL DOES NOT MATCH THE INVENTORY ({} problems; the {} events chain correctly)\n",
                        report.n_problems, report.n_events
                    ),
                };
                for problem in &report.problems {
                    text.push_str(&format!("  {}\n", problem.message));
                }
                if report.n_problems > report.problems.len() as u64 {
                    text.push_str(&format!(
                        "  ... {} more (see --format json)\n",
                        report.n_problems - report.problems.len() as u64
                    ));
                }
                print_text(&text)?;
            }
            Ok(if report.ok { exit::OK } else { exit::FAILED })
        }
    }
}

/// `modelgate bom --inventory`: every approved and production version.
pub(crate) fn inventory_bom(
    args: &Args,
    options: &modelgate_bom::BomOptions,
) -> anyhow::Result<serde_json::Value> {
    let store = open_store(args)?;
    modelgate_ops::inventory_bom(&store, options).map_err(|error| match error {
        modelgate_ops::Error::Inventory(error) => explain(error, "bom"),
        other => anyhow::Error::new(other),
    })
}
