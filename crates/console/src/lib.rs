//! modelgate's web console: the face of the platform for the people who
//! decide whether a model may be used and will not run a CLI.
//!
//! # Purpose
//!
//! Server-rendered HTML pages over the same inventory, through the same
//! library functions, as the `modelgate` CLI:
//!
//! - **Catalogue** (`/ui/catalogue`): approved and production versions,
//!   searchable and filtered by license family, commercial use, task, size,
//!   quantization, stage and team.
//! - **Version** (`/ui/version?ref=NAME@VERSION`): the vet record for
//!   people (verdict and reasons, license terms and obligations, card gaps,
//!   provenance with the source of each fact, scan findings, files and
//!   digests, signature, variants, evaluation runs, reviews, stage history).
//! - **Review queue** (`/ui/queue`): what waits for the signed-in
//!   reviewer's role; sign off or reject with a note. Admins approve,
//!   promote, deprecate and revoke (revoke names the affected teams before
//!   it is confirmed).
//! - **Audit** (`/ui/audit`): the trail, filtered and paged, with the
//!   chain's verification status.
//! - **Usage** (`/ui/usage`) and **keys** (`/ui/keys`): requests, tokens,
//!   cost and latency by team, model and day, as SVG charts; admins create
//!   keys (the secret is shown once) and revoke them.
//!
//! Every change is the inventory call the CLI makes, so it writes the same
//! audit event, with the signed-in user as the actor. A viewer changes
//! nothing (403); a reviewer records reviews of their own kind only.
//!
//! # Security
//!
//! Sessions are in HttpOnly, `SameSite=Strict` cookies (`Secure` when the
//! console is told it sits behind TLS), expire when idle, and every form
//! carries a CSRF token checked in constant time. Failed sign-ins are
//! limited per user name and per address, counted in the inventory so the
//! limit holds across replicas. Passwords are argon2id hashes.
//! Every untrusted text (model cards, licenses, file names, notes) is
//! escaped by the templates (maud escapes everything not marked
//! pre-escaped; the only pre-escaped markup is SVG the chart crate built
//! and escaped). Every response carries a strict Content-Security-Policy:
//! scripts and styles only from the console's own files (htmx and the
//! style sheet), no inline script or style, no eval, no frames.
//!
//! # Non-purpose
//!
//! No JavaScript is needed: every page reads and works with plain links and
//! forms; htmx (vendored, served by the console itself) only swaps search
//! results in place. It loads no model and serves no API; `modelgate serve` mounts it under
//! `/ui` beside the API, and `modelgate console` runs it alone.
//!
//! # Main types
//!
//! [`Console`] (the shared state: the inventory, sessions, the catalogue
//! cache), [`ConsoleConfig`], [`router`], [`hash_password`].

mod auth;
mod pages;
mod views;

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::Router;
use axum::routing::{get, post};
use modelgate_inventory::Store;
use modelgate_policy::EvaluationPolicy;

pub use auth::{
    LOGIN_CSRF_COOKIE, LOGIN_WINDOW, MAX_FAILED_LOGINS, MAX_PASSWORD_BYTES, MIN_PASSWORD_CHARS,
    SESSION_COOKIE, hash_password, verify_password,
};

/// Why a console operation failed.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// A password shorter than the minimum.
    #[error("a password must have at least {min} characters; choose a longer one (a passphrase)")]
    WeakPassword {
        /// The minimum.
        min: usize,
    },
    /// A password longer than the maximum.
    #[error("a password may have at most {max} bytes")]
    LongPassword {
        /// The maximum.
        max: usize,
    },
    /// The system's random source failed.
    #[error("cannot draw random bytes: {reason}")]
    Random {
        /// Why.
        reason: String,
    },
    /// Hashing failed.
    #[error("cannot hash the password: {reason}")]
    Hash {
        /// Why.
        reason: String,
    },
    /// The inventory refused or failed.
    #[error(transparent)]
    Inventory(#[from] modelgate_inventory::Error),
}

/// How the console runs.
#[derive(Debug, Clone)]
pub struct ConsoleConfig {
    /// Mark cookies `Secure`: the console is reached over HTTPS (directly
    /// or through a proxy that terminates TLS).
    pub secure_cookies: bool,
    /// A session ends after this long without a request.
    pub idle_timeout: Duration,
    /// The evaluations a promotion to production needs (the policy's
    /// `[evaluation]`), as `models promote --policy` applies them.
    pub evaluation: EvaluationPolicy,
    /// Called after every change the console made to the inventory (a
    /// server uses it to tell its other replicas at once).
    pub on_change: Option<ChangeHook>,
}

/// A function called after each change; see [`ConsoleConfig::on_change`].
#[derive(Clone)]
pub struct ChangeHook(pub Arc<dyn Fn() + Send + Sync>);

impl std::fmt::Debug for ChangeHook {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("ChangeHook")
    }
}

/// Where the console is mounted: its links, redirects and cookies' path
/// start with it. [`router`]'s routes are nested under it.
pub const MOUNT: &str = "/ui";

impl Default for ConsoleConfig {
    fn default() -> ConsoleConfig {
        ConsoleConfig {
            secure_cookies: false,
            idle_timeout: Duration::from_secs(30 * 60),
            evaluation: EvaluationPolicy::default(),
            on_change: None,
        }
    }
}

/// The console's shared state.
pub struct Console {
    config: ConsoleConfig,
    store: Mutex<Store>,
    sessions: auth::Sessions,
    /// The catalogue as of an event number and a day (review-due flags
    /// change at midnight): rebuilt only when the trail grew.
    catalogue: Mutex<Option<CachedCatalogue>>,
    /// `audit verify`'s report as of an event number.
    audit: Mutex<Option<(u64, Arc<modelgate_inventory::AuditReport>)>>,
}

impl std::fmt::Debug for Console {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Console")
            .field("config", &self.config)
            .finish_non_exhaustive()
    }
}

struct CachedCatalogue {
    seq: u64,
    day: String,
    entries: Arc<pages::Catalogue>,
}

impl Console {
    /// A console over the inventory in `home` (its own connection).
    pub fn open(home: &Path, config: ConsoleConfig) -> Result<Arc<Console>, Error> {
        Ok(Console::new(Store::open(home)?, config))
    }

    /// A console over an open inventory.
    pub fn new(store: Store, config: ConsoleConfig) -> Arc<Console> {
        Arc::new(Console {
            sessions: auth::Sessions::new(config.idle_timeout),
            config,
            store: Mutex::new(store),
            catalogue: Mutex::new(None),
            audit: Mutex::new(None),
        })
    }

    /// The inventory's database file.
    pub fn database(&self) -> PathBuf {
        self.lock_store().path().to_path_buf()
    }

    fn lock_store(&self) -> std::sync::MutexGuard<'_, Store> {
        // A panic mid-query leaves the connection usable: every change is
        // its own transaction, rolled back when it was not committed.
        self.store
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// Run `job` with the inventory on a blocking thread.
    async fn with_store<T: Send + 'static>(
        self: &Arc<Self>,
        job: impl FnOnce(&mut Store) -> T + Send + 'static,
    ) -> Result<T, pages::PageError> {
        let console = Arc::clone(self);
        tokio::task::spawn_blocking(move || job(&mut console.lock_store()))
            .await
            .map_err(|e| pages::PageError::internal(format!("the console's worker failed: {e}")))
    }

    /// Run `change` with the inventory on a blocking thread, and call the
    /// change hook when it succeeded.
    async fn change<T: Send + 'static, E: Send + 'static>(
        self: &Arc<Self>,
        change: impl FnOnce(&mut Store) -> std::result::Result<T, E> + Send + 'static,
    ) -> Result<std::result::Result<T, E>, pages::PageError> {
        let result = self.with_store(change).await?;
        if result.is_ok()
            && let Some(hook) = &self.config.on_change
        {
            (hook.0)();
        }
        Ok(result)
    }

    /// The catalogue, from the cache when nothing changed since it was
    /// read.
    fn catalogue(
        store: &Store,
        cache: &Mutex<Option<CachedCatalogue>>,
    ) -> pages::Result<Arc<pages::Catalogue>> {
        let seq = store.last_event_seq()?;
        let day = modelgate_inventory::Date::today().to_string();
        let mut cache = cache
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        if let Some(cached) = cache.as_ref()
            && cached.seq == seq
            && cached.day == day
        {
            return Ok(Arc::clone(&cached.entries));
        }
        let entries = Arc::new(pages::Catalogue::new(store.catalogue()?));
        *cache = Some(CachedCatalogue {
            seq,
            day,
            entries: Arc::clone(&entries),
        });
        Ok(entries)
    }
}

/// The console's routes, to nest under [`MOUNT`] (`/ui`).
/// Handlers read the client's address from axum's `ConnectInfo` when the
/// server provides it (for the sign-in limit); without it, failures are
/// counted per user name only.
pub fn router(console: Arc<Console>) -> Router {
    Router::new()
        .route("/", get(pages::home))
        .route("/style.css", get(pages::style))
        .route("/htmx.min.js", get(pages::htmx))
        .route("/login", get(pages::login_form).post(pages::login))
        .route("/logout", post(pages::logout))
        .route("/catalogue", get(pages::catalogue))
        .route("/version", get(pages::version))
        .route("/queue", get(pages::queue))
        .route("/audit", get(pages::audit))
        .route("/usage", get(pages::usage))
        .route("/keys", get(pages::keys))
        .route("/review", post(pages::review))
        .route("/stage", post(pages::stage))
        .route("/revoke", get(pages::revoke_confirm).post(pages::revoke))
        .route("/keys/create", post(pages::create_key))
        .route("/keys/revoke", post(pages::revoke_key))
        .fallback(pages::not_found)
        .layer(axum::middleware::from_fn(pages::security_headers))
        .with_state(console)
}

/// Serve the console alone on `listener` under [`MOUNT`] until `shutdown`
/// resolves (`modelgate console`).
pub async fn serve_alone(
    listener: tokio::net::TcpListener,
    console: Arc<Console>,
    shutdown: impl std::future::Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    let base = crate::MOUNT.to_string();
    let app = Router::new().nest(&base, router(console)).route(
        "/",
        get(move || {
            let to = format!("{base}/catalogue");
            async move { axum::response::Redirect::to(&to) }
        }),
    );
    axum::serve(
        listener,
        app.into_make_service_with_connect_info::<SocketAddr>(),
    )
    .with_graceful_shutdown(shutdown)
    .await
}
