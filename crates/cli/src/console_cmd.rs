//! `modelgate users`, `modelgate console` and `modelgate models review`:
//! the people of the web console, the console on its own, and the
//! reviewer's sign-off from a terminal (the same inventory call the
//! console's review form makes).

use std::io::BufRead;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

use anyhow::{Context, bail};
use clap::Subcommand;
use modelgate_console::{Console, ConsoleConfig, MIN_PASSWORD_CHARS, hash_password};
use modelgate_inventory::{NewReview, NewUser, ReviewOutcome, Role};
use modelgate_policy::Reviewer;

use crate::cli::{Args, TextOrJson};
use crate::exit;
use crate::models_cmd::{current_user, explain, open_store, print_json, print_text};

#[derive(Debug, clap::Args)]
pub(crate) struct UsersArgs {
    /// Output format.
    #[arg(long, global = true, value_enum, default_value_t = TextOrJson::Text)]
    pub(crate) format: TextOrJson,

    #[command(subcommand)]
    pub(crate) command: UsersCommand,
}

#[derive(Debug, Subcommand)]
pub(crate) enum UsersCommand {
    /// Add a console user with a role.
    ///
    /// Without --password-stdin a random password is made and printed once;
    /// the user changes it with `users password`.
    Add {
        /// The user name they sign in with.
        name: String,
        /// viewer, reviewer:legal, reviewer:security, reviewer:governance or
        /// admin.
        #[arg(long, value_name = "ROLE", value_parser = parse_role)]
        role: Role,
        /// Read the password from the first line of standard input.
        #[arg(long)]
        password_stdin: bool,
        /// Who adds them (default: $USER).
        #[arg(long, value_name = "WHO")]
        by: Option<String>,
    },
    /// Every user, their role and whether they are disabled.
    List,
    /// Change a user's role.
    Role {
        /// The user.
        name: String,
        /// The new role.
        #[arg(value_parser = parse_role)]
        role: Role,
        /// Who changes it (default: $USER).
        #[arg(long, value_name = "WHO")]
        by: Option<String>,
    },
    /// Set a user's password (read from the first line of standard input).
    Password {
        /// The user.
        name: String,
        /// Who changes it (default: $USER).
        #[arg(long, value_name = "WHO")]
        by: Option<String>,
    },
    /// Disable a user: they can no longer sign in (their record stays).
    Disable {
        /// The user.
        name: String,
        /// Who disables them (default: $USER).
        #[arg(long, value_name = "WHO")]
        by: Option<String>,
    },
}

fn parse_role(text: &str) -> Result<Role, String> {
    text.parse::<Role>().map_err(|e| e.to_string())
}

fn read_password_line() -> anyhow::Result<String> {
    let mut line = String::new();
    std::io::stdin()
        .lock()
        .read_line(&mut line)
        .context("cannot read the password from standard input")?;
    let password = line.trim_end_matches(['\r', '\n']).to_string();
    if password.is_empty() {
        bail!(
            "standard input held no password: pipe it in, e.g. `printf '%s\\n' \"$PW\" | modelgate users add ...`"
        );
    }
    Ok(password)
}

/// A random password: 18 bytes as base64url-like text (24 characters).
fn random_password() -> anyhow::Result<String> {
    const ALPHABET: &[u8] = b"ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnopqrstuvwxyz23456789";
    let mut bytes = [0u8; 24];
    getrandom::fill(&mut bytes).map_err(|e| anyhow::anyhow!("cannot draw random bytes: {e}"))?;
    Ok(bytes
        .iter()
        .map(|b| {
            let idx = usize::from(*b) % ALPHABET.len();
            ALPHABET.get(idx).map_or('x', |c| char::from(*c))
        })
        .collect())
}

pub(crate) fn users(args: &Args, users: &UsersArgs) -> anyhow::Result<u8> {
    let json = users.format == TextOrJson::Json;
    let mut store = open_store(args)?;
    match &users.command {
        UsersCommand::Add {
            name,
            role,
            password_stdin,
            by,
        } => {
            let (password, generated) = if *password_stdin {
                (read_password_line()?, false)
            } else {
                (random_password()?, true)
            };
            let hash = hash_password(&password).with_context(|| {
                format!("the password was refused (at least {MIN_PASSWORD_CHARS} characters)")
            })?;
            let by = by.clone().unwrap_or_else(current_user);
            let user = store
                .add_user(
                    &NewUser {
                        name: name.clone(),
                        role: *role,
                        password_hash: hash,
                    },
                    &by,
                )
                .map_err(|e| explain(e, name))?;
            if json {
                let mut value = serde_json::to_value(&user)?;
                if generated && let Some(object) = value.as_object_mut() {
                    object.insert("password".into(), password.clone().into());
                }
                print_json(&value)?;
            } else if generated {
                print_text(&format!(
                    "added {} ({}); password (shown once): {password}\n",
                    user.name, user.role
                ))?;
            } else {
                print_text(&format!("added {} ({})\n", user.name, user.role))?;
            }
        }
        UsersCommand::List => {
            let list = store.users().map_err(|e| explain(e, "users"))?;
            if json {
                print_json(&list)?;
            } else if list.is_empty() {
                print_text("No user. Add one: modelgate users add NAME --role admin\n")?;
            } else {
                let mut text = String::new();
                for user in &list {
                    text.push_str(&format!(
                        "{:<24} {:<20} added {} by {}{}\n",
                        user.name,
                        user.role.name(),
                        user.created_at,
                        user.created_by,
                        user.disabled_at
                            .as_deref()
                            .map_or(String::new(), |at| format!(", disabled {at}"))
                    ));
                }
                print_text(&text)?;
            }
        }
        UsersCommand::Role { name, role, by } => {
            let by = by.clone().unwrap_or_else(current_user);
            let user = store
                .set_user_role(name, *role, &by)
                .map_err(|e| explain(e, name))?;
            finish(
                json,
                &user,
                &format!("{} is now {}\n", user.name, user.role),
            )?;
        }
        UsersCommand::Password { name, by } => {
            let password = read_password_line()?;
            let hash = hash_password(&password)?;
            let by = by.clone().unwrap_or_else(current_user);
            let user = store
                .set_password(name, &hash, &by)
                .map_err(|e| explain(e, name))?;
            finish(
                json,
                &user,
                &format!("{}'s password was changed\n", user.name),
            )?;
        }
        UsersCommand::Disable { name, by } => {
            let by = by.clone().unwrap_or_else(current_user);
            let user = store
                .disable_user(name, &by)
                .map_err(|e| explain(e, name))?;
            finish(json, &user, &format!("{} is disabled\n", user.name))?;
        }
    }
    Ok(exit::OK)
}

fn finish(json: bool, value: &impl serde::Serialize, text: &str) -> anyhow::Result<()> {
    if json {
        print_json(value)
    } else {
        print_text(text)
    }
}

#[derive(Debug, clap::Args)]
pub(crate) struct ConsoleArgs {
    /// Where to listen.
    #[arg(long, value_name = "ADDR", default_value = "127.0.0.1:8090")]
    pub(crate) listen: SocketAddr,

    /// Mark cookies Secure: the console is reached over HTTPS (directly or
    /// through a proxy that terminates TLS).
    #[arg(long)]
    pub(crate) secure_cookies: bool,

    /// Minutes without a request before a session ends.
    #[arg(long, value_name = "MINUTES", default_value_t = 30)]
    pub(crate) idle_minutes: u64,

    /// The policy whose [evaluation] section gates promotions to production.
    #[arg(long, value_name = "FILE")]
    pub(crate) policy: Option<PathBuf>,
}

/// The console's settings from the command line (also used by `serve`).
pub(crate) fn console_config(
    secure_cookies: bool,
    idle_minutes: u64,
    policy: Option<&std::path::Path>,
) -> anyhow::Result<ConsoleConfig> {
    let policy = crate::vet_cmd::load_policy(policy)?;
    Ok(ConsoleConfig {
        secure_cookies,
        idle_timeout: Duration::from_secs(idle_minutes.clamp(1, 24 * 60) * 60),
        evaluation: policy.evaluation,
        on_change: None,
    })
}

pub(crate) fn console(args: &Args, console_args: &ConsoleArgs) -> anyhow::Result<u8> {
    let store = open_store(args)?;
    if store.users().map_err(|e| explain(e, "users"))?.is_empty() {
        eprintln!(
            "modelgate console: no user yet; add one with `modelgate users add NAME --role admin`"
        );
    }
    let config = console_config(
        console_args.secure_cookies,
        console_args.idle_minutes,
        console_args.policy.as_deref(),
    )?;
    let console = Console::new(store, config);
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .context("cannot start the async runtime")?;
    runtime.block_on(async move {
        let listener = tokio::net::TcpListener::bind(console_args.listen)
            .await
            .with_context(|| format!("cannot listen on {}", console_args.listen))?;
        let address = listener.local_addr()?;
        eprintln!("modelgate console: http://{address}/ui/");
        modelgate_console::serve_alone(listener, console, async {
            let _ = tokio::signal::ctrl_c().await;
        })
        .await
        .context("the console stopped")
    })?;
    Ok(exit::OK)
}

#[derive(Debug, clap::Args)]
pub(crate) struct ReviewArgs {
    /// The version.
    #[arg(value_name = "NAME@VERSION")]
    pub(crate) reference: String,

    /// Which review: legal, security or governance.
    #[arg(long, value_name = "ROLE", value_parser = parse_reviewer)]
    pub(crate) role: Reviewer,

    /// Who reviews.
    #[arg(long, value_name = "WHO", required = true)]
    pub(crate) by: String,

    /// Reject instead of signing off (a note is required).
    #[arg(long)]
    pub(crate) reject: bool,

    /// Why.
    #[arg(long, value_name = "TEXT")]
    pub(crate) note: Option<String>,
}

fn parse_reviewer(text: &str) -> Result<Reviewer, String> {
    match text {
        "legal" => Ok(Reviewer::Legal),
        "security" => Ok(Reviewer::Security),
        "governance" => Ok(Reviewer::Governance),
        other => Err(format!(
            "{other:?} is not a review: legal, security or governance"
        )),
    }
}

pub(crate) fn review(args: &Args, review: &ReviewArgs, json: bool) -> anyhow::Result<u8> {
    let reference = review
        .reference
        .parse()
        .map_err(|e| explain(e, &review.reference))?;
    let recorded = open_store(args)?
        .review(
            &reference,
            &NewReview {
                reviewer: review.role,
                outcome: if review.reject {
                    ReviewOutcome::Rejected
                } else {
                    ReviewOutcome::SignedOff
                },
                by: review.by.clone(),
                note: review.note.clone(),
            },
        )
        .map_err(|e| explain(e, &review.reference))?;
    finish(
        json,
        &recorded,
        &format!(
            "{}@{}: {} review {} by {}\n",
            recorded.name,
            recorded.version,
            recorded.reviewer.name(),
            recorded.outcome.name(),
            recorded.by
        ),
    )?;
    Ok(exit::OK)
}
