//! `modelgate keys`, `modelgate usage`, the gateway half of `modelgate
//! teams`, and the gateway's start inside `modelgate serve`.

use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::Duration;

use anyhow::{Context, bail};
use clap::Subcommand;
use modelgate_gateway::auth::Access;
use modelgate_gateway::limits::{ScopeKind, month_of_unix};
use modelgate_gateway::usage::{UsageLog, UsageSettings};
use modelgate_gateway::{Gateway, GatewayConfig, Policy};
use modelgate_inventory::{DataClass, Date, Limits, NewKey, Store, UsageGroup, UsageQuery};
use serde_json::json;

use crate::cli::Args;
use crate::cli::TextOrJson;
use crate::models_cmd::{current_user, explain, open_store, print_json, print_text, table};

// ------------------------------------------------------------------ serve

/// The gateway of a server: its policy, the access snapshot, the budgets
/// spent so far this month and the usage writer.
pub(crate) fn start_gateway(
    store: &Store,
    config: &GatewayConfig,
    policy: Policy,
    limiter: modelgate_gateway::limiter::Limiter,
) -> anyhow::Result<(Arc<Gateway>, Option<JoinHandle<()>>)> {
    let access = load_access(store).map_err(anyhow::Error::msg)?;
    let sink = store
        .reopen()
        .context("the usage writer cannot open the inventory")?;
    let settings = UsageSettings {
        capacity: config.logging.queue.max(1),
        batch: config.logging.batch.max(1),
        retention_days: config.logging.retention_days,
        ..UsageSettings::default()
    };
    let (usage, writer) =
        UsageLog::start(sink, settings, Date::today).context("cannot start the usage writer")?;
    // Spans go to the OTLP endpoint from a task on the server's runtime
    // (the caller has entered it).
    let tracer =
        modelgate_gateway::trace::Tracer::start(&config.tracing).map(|(tracer, exporter)| {
            tokio::spawn(exporter);
            tracer
        });
    let gateway = Arc::new(
        Gateway::new(config.auth.clone(), policy, access, Some(usage))
            .with_tracer(tracer)
            .with_limiter(limiter),
    );
    // Budgets count the month's spend recorded before this start.
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs());
    let month = month_of_unix(now);
    let month_start = format!("{}-{:02}-01T00:00:00Z", month / 12, month % 12 + 1);
    let since = month_start
        .parse()
        .map_err(|e| anyhow::anyhow!("month start {month_start}: {e}"))?;
    let mut teams: std::collections::HashMap<String, u64> = std::collections::HashMap::new();
    for (key, team, spent) in store
        .spent_micro_usd(&since)
        .context("cannot read this month's spend")?
    {
        gateway
            .limiter
            .preload_spent(ScopeKind::Key, &key, month, spent);
        *teams.entry(team).or_default() += spent;
    }
    for (team, spent) in teams {
        gateway
            .limiter
            .preload_spent(ScopeKind::Team, &team, month, spent);
    }
    let generation = store
        .access_generation()
        .context("cannot read the inventory")?;
    let _ = gateway.refresh_access(generation, || Ok(Arc::clone(&gateway.access())));
    Ok((gateway, Some(writer)))
}

/// Every key, team limit, assignment and route grant, as the gateway needs
/// them.
fn load_access(store: &Store) -> Result<Arc<Access>, String> {
    let keys = store.keys(None, true).map_err(|e| e.to_string())?;
    let limits = store.all_team_limits().map_err(|e| e.to_string())?;
    let assignments = store
        .assigned_versions()
        .map_err(|e| e.to_string())?
        .into_iter()
        .map(|(team, reference)| (team, reference.to_string()))
        .collect();
    let grants = store.route_grants().map_err(|e| e.to_string())?;
    Ok(Access::new(keys, limits, assignments, grants))
}

/// Reloads keys and grants when the inventory changed.
pub(crate) fn refresh_access(store: &Store, gateway: &Gateway) -> Result<(), String> {
    let generation = store.access_generation().map_err(|e| e.to_string())?;
    if gateway.refresh_access(generation, || load_access(store))? {
        tracing::info!(generation, "keys and grants reloaded");
    }
    Ok(())
}

/// Waits up to `limit` for the usage writer to drain.
pub(crate) fn join_writer(writer: Option<JoinHandle<()>>, limit: Duration) {
    let Some(writer) = writer else { return };
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let _ = writer.join();
        let _ = tx.send(());
    });
    if rx.recv_timeout(limit).is_err() {
        eprintln!(
            "modelgate serve: the usage writer did not finish within {} s; the newest records may be missing",
            limit.as_secs()
        );
    }
}

// ------------------------------------------------------------------- keys

/// `modelgate keys`.
#[derive(Debug, clap::Args)]
pub(crate) struct KeysArgs {
    /// Output format.
    #[arg(long, global = true, value_enum, default_value_t = TextOrJson::Text)]
    pub(crate) format: TextOrJson,

    #[command(subcommand)]
    pub(crate) command: KeysCommand,
}

/// Limits settable on a key or a team.
#[derive(Debug, Clone, clap::Args)]
pub(crate) struct LimitArgs {
    /// Requests per minute.
    #[arg(long, value_name = "N")]
    pub(crate) rpm: Option<u32>,
    /// Tokens per minute (prompt + max_tokens reserved, then reconciled).
    #[arg(long, value_name = "N")]
    pub(crate) tpm: Option<u32>,
    /// Requests running at once.
    #[arg(long, value_name = "N")]
    pub(crate) max_parallel: Option<u32>,
    /// Monthly budget in USD (from the price table).
    #[arg(long, value_name = "USD")]
    pub(crate) budget_usd: Option<f64>,
}

impl LimitArgs {
    fn limits(&self) -> anyhow::Result<Limits> {
        let budget = match self.budget_usd {
            None => None,
            Some(usd) if usd.is_finite() && usd >= 0.0 => Some((usd * 1e6).round() as u64),
            Some(usd) => bail!("--budget-usd {usd}: a budget is a non-negative amount of USD"),
        };
        Ok(Limits {
            rpm: self.rpm,
            tpm: self.tpm,
            max_parallel: self.max_parallel,
            budget_micro_usd: budget,
        })
    }
}

#[derive(Debug, Subcommand)]
pub(crate) enum KeysCommand {
    /// Create a key for a team; the key is printed once and only its hash is
    /// kept.
    Create {
        /// The team the key belongs to.
        #[arg(long, value_name = "TEAM")]
        team: String,
        /// A label (which application uses it).
        #[arg(long, value_name = "LABEL")]
        name: Option<String>,
        /// Last day the key works (YYYY-MM-DD).
        #[arg(long, value_name = "DATE")]
        expires: Option<String>,
        #[command(flatten)]
        limits: LimitArgs,
        /// The most sensitive data its requests carry: public, internal,
        /// confidential or restricted (the last two never leave self-hosted
        /// targets).
        #[arg(long, value_name = "LEVEL", default_value = "internal")]
        data_class: String,
        /// Who creates it (default: $USER).
        #[arg(long, value_name = "WHO")]
        by: Option<String>,
    },
    /// Every key (id, team, label, limits, state); never the secret.
    List {
        /// Only this team's keys.
        #[arg(long, value_name = "TEAM")]
        team: Option<String>,
        /// Include revoked keys.
        #[arg(long)]
        all: bool,
    },
    /// One key.
    Show {
        /// The key's public id (the part after `mg-`).
        id: String,
    },
    /// Revoke a key; a running server refuses it within seconds.
    Revoke {
        /// The key's public id.
        id: String,
        /// Why (kept in the audit trail).
        #[arg(long, value_name = "TEXT", required = true)]
        reason: String,
        /// Who revokes it (default: $USER).
        #[arg(long, value_name = "WHO")]
        by: Option<String>,
    },
    /// Replace a key by a new one with the same team, limits and class; the
    /// old one stops working at once.
    Rotate {
        /// The key's public id.
        id: String,
        /// Who rotates it (default: $USER).
        #[arg(long, value_name = "WHO")]
        by: Option<String>,
    },
}

fn key_json(k: &modelgate_inventory::KeyRecord) -> serde_json::Value {
    json!({
        "id": k.id,
        "team": k.team,
        "name": k.name,
        "created_at": k.created_at.to_string(),
        "created_by": k.created_by,
        "expires_on": k.expires_on.map(|d| d.to_string()),
        "limits": k.limits,
        "data_class": k.data_class.to_string(),
        "revoked": k.revoked.as_ref().map(|r| json!({"at": r.at.to_string(), "by": r.by, "reason": r.reason})),
        "rotated_from": k.rotated_from,
    })
}

/// A new key's record with the key itself, for the one time it is shown.
fn with_secret(issued: &modelgate_inventory::IssuedKey) -> serde_json::Value {
    let mut value = key_json(&issued.record);
    if let Some(map) = value.as_object_mut() {
        map.insert("key".into(), json!(issued.secret.expose()));
    }
    value
}

fn limits_text(l: &Limits) -> String {
    let mut parts = Vec::new();
    if let Some(n) = l.rpm {
        parts.push(format!("{n} rpm"));
    }
    if let Some(n) = l.tpm {
        parts.push(format!("{n} tpm"));
    }
    if let Some(n) = l.max_parallel {
        parts.push(format!("{n} parallel"));
    }
    if let Some(n) = l.budget_micro_usd {
        parts.push(format!("${} / month", modelgate_gateway::limits::usd(n)));
    }
    if parts.is_empty() {
        "no limits".into()
    } else {
        parts.join(", ")
    }
}

pub(crate) fn keys(args: &Args, keys_args: &KeysArgs) -> anyhow::Result<u8> {
    let json = keys_args.format == TextOrJson::Json;
    let mut store = open_store(args)?;
    match &keys_args.command {
        KeysCommand::Create {
            team,
            name,
            expires,
            limits,
            data_class,
            by,
        } => {
            let data_class: DataClass = data_class.parse().map_err(|_| {
                anyhow::anyhow!(
                    "--data-class {data_class}: use public, internal, confidential or restricted"
                )
            })?;
            let expires_on = match expires {
                None => None,
                Some(text) => Some(
                    text.parse::<Date>()
                        .map_err(|e| anyhow::anyhow!("--expires {text}: {e} (use YYYY-MM-DD)"))?,
                ),
            };
            let new = NewKey {
                team: team.clone(),
                name: name.clone(),
                expires_on,
                limits: limits.limits()?,
                data_class,
            };
            let by = by.clone().unwrap_or_else(current_user);
            let issued = store.create_key(&new, &by).map_err(|e| explain(e, team))?;
            if json {
                print_json(&with_secret(&issued))?;
            } else {
                print_text(&format!(
                    "{}\n\nKey {} for team {} ({}, data class {}).\nThis is the only time the key is shown: store it in your secret manager.\n",
                    issued.secret.expose(),
                    issued.record.id,
                    issued.record.team,
                    limits_text(&issued.record.limits),
                    issued.record.data_class,
                ))?;
            }
        }
        KeysCommand::List { team, all } => {
            let keys = store
                .keys(team.as_deref(), *all)
                .map_err(|e| explain(e, "keys"))?;
            if json {
                print_json(&keys.iter().map(key_json).collect::<Vec<_>>())?;
            } else if keys.is_empty() {
                print_text("No keys; create one with `modelgate keys create --team TEAM`.\n")?;
            } else {
                let rows: Vec<[String; 6]> = keys
                    .iter()
                    .map(|k| {
                        [
                            k.id.clone(),
                            k.team.clone(),
                            k.name.clone().unwrap_or_default(),
                            limits_text(&k.limits),
                            k.data_class.to_string(),
                            match (&k.revoked, k.expires_on) {
                                (Some(r), _) => format!("revoked {}", Date::of(&r.at)),
                                (None, Some(d)) if d <= Date::today() => format!("expired {d}"),
                                (None, Some(d)) => format!("until {d}"),
                                (None, None) => "active".into(),
                            },
                        ]
                    })
                    .collect();
                print_text(&table(
                    &["ID", "TEAM", "NAME", "LIMITS", "CLASS", "STATE"],
                    &rows,
                ))?;
            }
        }
        KeysCommand::Show { id } => {
            let key = store.key(id).map_err(|e| explain(e, id))?;
            if json {
                print_json(&key_json(&key))?;
            } else {
                print_text(&format!(
                    "Key {}\n  team:       {}\n  name:       {}\n  created:    {} by {}\n  expires:    {}\n  limits:     {}\n  data class: {}\n  state:      {}\n",
                    key.id,
                    key.team,
                    key.name.as_deref().unwrap_or("-"),
                    key.created_at,
                    key.created_by,
                    key.expires_on
                        .map_or_else(|| "never".into(), |d| d.to_string()),
                    limits_text(&key.limits),
                    key.data_class,
                    key.revoked.as_ref().map_or_else(
                        || "active".to_owned(),
                        |r| format!("revoked {} by {}: {}", r.at, r.by, r.reason)
                    ),
                ))?;
            }
        }
        KeysCommand::Revoke { id, reason, by } => {
            let by = by.clone().unwrap_or_else(current_user);
            store
                .revoke_key(id, &by, reason)
                .map_err(|e| explain(e, id))?;
            if json {
                print_json(&json!({"id": id, "revoked": true, "reason": reason, "by": by}))?;
            } else {
                print_text(&format!(
                    "Revoked key {id}: {reason}\nA running server refuses it within seconds.\n"
                ))?;
            }
        }
        KeysCommand::Rotate { id, by } => {
            let by = by.clone().unwrap_or_else(current_user);
            let issued = store.rotate_key(id, &by).map_err(|e| explain(e, id))?;
            if json {
                print_json(&with_secret(&issued))?;
            } else {
                print_text(&format!(
                    "{}\n\nKey {} replaces {id} (now revoked) for team {}.\nThis is the only time the key is shown.\n",
                    issued.secret.expose(),
                    issued.record.id,
                    issued.record.team
                ))?;
            }
        }
    }
    Ok(crate::exit::OK)
}

// ----------------------------------------------------------------- teams

/// The gateway's `teams` subcommands.
#[derive(Debug, Subcommand)]
pub(crate) enum TeamGatewayCommand {
    /// Let TEAM call the gateway route ROUTE (a public model name from
    /// `[[routes]]`).
    Grant {
        /// The team.
        team: String,
        /// The route.
        route: String,
        /// Who grants it (default: $USER).
        #[arg(long, value_name = "WHO")]
        by: Option<String>,
    },
    /// Withdraw a route from a team.
    Ungrant {
        /// The team.
        team: String,
        /// The route.
        route: String,
        /// Who withdraws it (default: $USER).
        #[arg(long, value_name = "WHO")]
        by: Option<String>,
    },
    /// Limits shared by all of a team's keys (on top of each key's own).
    Limits {
        /// The team.
        team: String,
        #[command(flatten)]
        limits: LimitArgs,
        /// Who sets them (default: $USER).
        #[arg(long, value_name = "WHO")]
        by: Option<String>,
    },
}

pub(crate) fn teams_gateway(
    args: &Args,
    format: TextOrJson,
    command: &TeamGatewayCommand,
) -> anyhow::Result<u8> {
    let json = format == TextOrJson::Json;
    let mut store = open_store(args)?;
    match command {
        TeamGatewayCommand::Grant { team, route, by } => {
            let by = by.clone().unwrap_or_else(current_user);
            store
                .grant_route(team, route, &by)
                .map_err(|e| explain(e, team))?;
            if json {
                print_json(&json!({"team": team, "route": route, "granted": true}))?;
            } else {
                print_text(&format!("Team {team} may call the route {route}.\n"))?;
            }
        }
        TeamGatewayCommand::Ungrant { team, route, by } => {
            let by = by.clone().unwrap_or_else(current_user);
            store
                .revoke_route(team, route, &by)
                .map_err(|e| explain(e, team))?;
            if json {
                print_json(&json!({"team": team, "route": route, "granted": false}))?;
            } else {
                print_text(&format!(
                    "Team {team} may no longer call the route {route}.\n"
                ))?;
            }
        }
        TeamGatewayCommand::Limits { team, limits, by } => {
            let by = by.clone().unwrap_or_else(current_user);
            let limits = limits.limits()?;
            store
                .set_team_limits(team, limits, &by)
                .map_err(|e| explain(e, team))?;
            if json {
                print_json(&json!({"team": team, "limits": limits}))?;
            } else {
                print_text(&format!("Team {team}: {}\n", limits_text(&limits)))?;
            }
        }
    }
    Ok(crate::exit::OK)
}

// ----------------------------------------------------------------- usage

/// `modelgate usage`.
#[derive(Debug, clap::Args)]
pub(crate) struct UsageArgs {
    /// Only this team.
    #[arg(long, value_name = "TEAM")]
    pub(crate) team: Option<String>,
    /// Only this key (its public id).
    #[arg(long, value_name = "ID")]
    pub(crate) key: Option<String>,
    /// From this day (YYYY-MM-DD; default: 30 days ago).
    #[arg(long, value_name = "DATE")]
    pub(crate) since: Option<String>,
    /// Up to and including this day.
    #[arg(long, value_name = "DATE")]
    pub(crate) until: Option<String>,
    /// Group by.
    #[arg(long, value_enum, default_value_t = By::Day)]
    pub(crate) by: By,
    /// Output format.
    #[arg(long, value_enum, default_value_t = UsageFormat::Text)]
    pub(crate) format: UsageFormat,
}

#[derive(Debug, Clone, Copy, clap::ValueEnum)]
pub(crate) enum By {
    Day,
    Team,
    /// The target that served (a version or provider/model).
    Model,
    /// The public name the client asked for.
    Route,
    Key,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub(crate) enum UsageFormat {
    Text,
    Json,
    Csv,
}

fn date_arg(flag: &str, text: &Option<String>) -> anyhow::Result<Option<Date>> {
    text.as_ref()
        .map(|t| {
            t.parse::<Date>()
                .map_err(|e| anyhow::anyhow!("{flag} {t}: {e} (use YYYY-MM-DD)"))
        })
        .transpose()
}

pub(crate) fn usage(args: &Args, usage: &UsageArgs) -> anyhow::Result<u8> {
    let store = open_store(args)?;
    let query = UsageQuery {
        team: usage.team.clone(),
        key_id: usage.key.clone(),
        since: Some(
            date_arg("--since", &usage.since)?.unwrap_or_else(|| Date::today().add_days(-30)),
        ),
        until: date_arg("--until", &usage.until)?,
        by: match usage.by {
            By::Day => UsageGroup::Day,
            By::Team => UsageGroup::Team,
            By::Model => UsageGroup::Model,
            By::Route => UsageGroup::Route,
            By::Key => UsageGroup::Key,
        },
    };
    let rows = store
        .usage_report(&query)
        .map_err(|e| explain(e, "usage"))?;
    match usage.format {
        UsageFormat::Json => print_json(&rows)?,
        UsageFormat::Csv => {
            let mut out = String::from("group,requests,errors,tokens_in,tokens_out,cost_usd\n");
            for r in &rows {
                out.push_str(&format!(
                    "{},{},{},{},{},{}\n",
                    csv_field(&r.group),
                    r.requests,
                    r.errors,
                    r.tokens_in,
                    r.tokens_out,
                    modelgate_gateway::limits::usd(r.cost_micro_usd)
                ));
            }
            print_text(&out)?;
        }
        UsageFormat::Text => {
            if rows.is_empty() {
                print_text("No usage recorded in this period.\n")?;
            } else {
                let table_rows: Vec<[String; 6]> = rows
                    .iter()
                    .map(|r| {
                        [
                            r.group.clone(),
                            r.requests.to_string(),
                            r.errors.to_string(),
                            r.tokens_in.to_string(),
                            r.tokens_out.to_string(),
                            modelgate_gateway::limits::usd(r.cost_micro_usd),
                        ]
                    })
                    .collect();
                print_text(&table(
                    &[
                        "GROUP",
                        "REQUESTS",
                        "ERRORS",
                        "TOKENS IN",
                        "TOKENS OUT",
                        "COST USD",
                    ],
                    &table_rows,
                ))?;
            }
        }
    }
    Ok(crate::exit::OK)
}

fn csv_field(text: &str) -> String {
    if text.contains([',', '"', '\n']) {
        format!("\"{}\"", text.replace('"', "\"\""))
    } else {
        text.to_owned()
    }
}
