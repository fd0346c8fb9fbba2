//! `modelgate serve`: the approved versions behind an OpenAI-compatible API.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use anyhow::{Context, bail};
use modelgate_engine::EngineConfig;
use modelgate_inventory::{ServingAction, VersionRef};
use modelgate_serving::{Catalog, LoadOptions, LoadProgress, Selection};
use serde::Deserialize;

use crate::cli::Args;

/// Flags of `modelgate serve`.
#[derive(Debug, clap::Args)]
pub(crate) struct ServeArgs {
    /// Address to listen on (port 0 picks a free port; the address is
    /// printed on stderr).
    #[arg(long, value_name = "ADDR")]
    pub(crate) listen: Option<SocketAddr>,

    /// Versions to serve: NAME@VERSION, or NAME for its production version
    /// (else its newest approved one). Comma-separated or repeated.
    #[arg(
        long,
        value_name = "NAME@VER,...",
        value_delimiter = ',',
        conflicts_with = "all_approved"
    )]
    pub(crate) models: Vec<String>,

    /// Serve every version at stage approved or production.
    #[arg(long)]
    pub(crate) all_approved: bool,

    /// Requests decoded together per model; more wait in a queue.
    #[arg(long, value_name = "N", value_parser = clap::value_parser!(u32).range(1..=256))]
    pub(crate) slots: Option<u32>,

    /// Tokens of context per slot.
    #[arg(long, value_name = "TOKENS", value_parser = clap::value_parser!(u32).range(16..))]
    pub(crate) ctx: Option<u32>,

    /// CPU threads per model (default: all cores).
    #[arg(long, value_name = "N", value_parser = clap::value_parser!(u32).range(1..=1024))]
    pub(crate) threads: Option<u32>,

    /// Server configuration (TOML); flags override it. See
    /// docs/serve.example.toml.
    #[arg(long, value_name = "FILE")]
    pub(crate) config: Option<PathBuf>,

    /// Who is serving, for the audit trail (default: $USER).
    #[arg(long, value_name = "NAME")]
    pub(crate) by: Option<String>,

    /// Do not mount the web console under /ui.
    #[arg(long)]
    pub(crate) no_console: bool,

    /// The console's cookies are Secure: it is reached over HTTPS.
    #[arg(long)]
    pub(crate) secure_cookies: bool,

    /// The policy whose [evaluation] section gates promotions made in the
    /// console.
    #[arg(long, value_name = "FILE")]
    pub(crate) policy: Option<PathBuf>,

    #[command(flatten)]
    pub(crate) sharing: SharingArgs,
}

/// Flags for several replicas of `modelgate serve` behind one load balancer.
#[derive(Debug, Clone, clap::Args)]
#[command(next_help_heading = "Replicas")]
pub(crate) struct SharingArgs {
    /// Count rate limits and budgets in this Redis, so every replica
    /// enforces one limit (redis://[user:password@]host:port[/db]; rediss://
    /// for TLS, with ?ssl_ca_certs=CA.pem, and ssl_certfile and ssl_keyfile
    /// for a client certificate). The
    /// replicas also tell each other there about revocations, key changes
    /// and config reloads, so they apply within a second instead of a poll.
    #[arg(
        long,
        value_name = "URL",
        env = "MODELGATE_REDIS_URL",
        hide_env_values = true
    )]
    pub(crate) redis: Option<String>,

    /// While Redis cannot be reached: `fail-closed` answers 503 with
    /// `x-should-retry: true`; `fallback` counts in each replica with every
    /// limit divided by --replicas. Either way a log line and the
    /// `modelgate_limiter_degraded` metric say so, and Redis is tried again
    /// every second.
    #[arg(
        long,
        value_name = "CHOICE",
        env = "MODELGATE_ON_REDIS_UNAVAILABLE",
        default_value = "fail-closed",
        value_parser = ["fail-closed", "fallback"]
    )]
    pub(crate) on_redis_unavailable: String,

    /// How many replicas share the limits (divides them under fallback).
    #[arg(
        long,
        value_name = "N",
        env = "MODELGATE_REPLICAS",
        default_value_t = 1,
        value_parser = clap::value_parser!(u32).range(1..=10_000)
    )]
    pub(crate) replicas: u32,

    /// Prefix of every Redis key and channel, so several installations can
    /// share one Redis.
    #[arg(
        long,
        value_name = "PREFIX",
        env = "MODELGATE_REDIS_PREFIX",
        default_value = modelgate_gateway::shared::DEFAULT_PREFIX
    )]
    pub(crate) redis_prefix: String,
}

/// How long a limits call to Redis may take before the replica counts
/// without it.
const REDIS_TIMEOUT: Duration = Duration::from_millis(250);

/// The limiter the flags ask for: Redis-backed when `--redis` is given.
/// Must run inside the server's runtime.
pub(crate) fn limiter(
    sharing: &SharingArgs,
) -> anyhow::Result<modelgate_gateway::limiter::Limiter> {
    use modelgate_gateway::limiter::{Limiter, OnUnavailable, Sharing};
    let Some(url) = &sharing.redis else {
        return Ok(Limiter::local());
    };
    let client =
        modelgate_gateway::shared::client(url, |path| std::fs::read(path)).context("--redis")?;
    let counters = modelgate_gateway::shared::SharedCounters::new(
        client,
        &sharing.redis_prefix,
        REDIS_TIMEOUT,
    )
    .context("--redis")?;
    let on_unavailable: OnUnavailable = sharing
        .on_redis_unavailable
        .parse()
        .map_err(|e: String| anyhow::anyhow!("--on-redis-unavailable: {e}"))?;
    Ok(Limiter::shared(Sharing {
        counters: Arc::new(counters),
        on_unavailable,
        replicas: sharing.replicas,
    }))
}

/// The configuration file: every key optional.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct ConfigFile {
    listen: Option<SocketAddr>,
    models: Option<Vec<String>>,
    all_approved: Option<bool>,
    slots: Option<u32>,
    ctx: Option<u32>,
    threads: Option<u32>,
    batch: Option<u32>,
    memory_budget_mib: Option<u64>,
    body_limit_kib: Option<usize>,
    body_timeout_seconds: Option<u64>,
    drain_seconds: Option<u64>,
    poll_seconds: Option<f64>,
    // The gateway (see modelgate_gateway::GatewayConfig); reloaded on SIGHUP.
    auth: Option<modelgate_gateway::AuthConfig>,
    #[serde(default)]
    providers: Vec<modelgate_upstream::ProviderConfig>,
    #[serde(default)]
    routes: Vec<modelgate_gateway::route::RouteConfig>,
    #[serde(default)]
    prices: Vec<modelgate_gateway::price::PriceConfig>,
    masking: Option<modelgate_gateway::MaskingConfig>,
    logging: Option<modelgate_gateway::LoggingConfig>,
    limits: Option<modelgate_gateway::LimitsConfig>,
    routing: Option<modelgate_gateway::RoutingConfig>,
    tracing: Option<modelgate_gateway::trace::TraceConfig>,
}

impl ConfigFile {
    fn gateway(&self) -> modelgate_gateway::GatewayConfig {
        modelgate_gateway::GatewayConfig {
            auth: self.auth.clone().unwrap_or_default(),
            providers: self.providers.clone(),
            routes: self.routes.clone(),
            prices: self.prices.clone(),
            masking: self.masking.clone().unwrap_or_default(),
            logging: self.logging.clone().unwrap_or_default(),
            limits: self.limits.clone().unwrap_or_default(),
            routing: self.routing.clone().unwrap_or_default(),
            tracing: self.tracing.clone().unwrap_or_default(),
        }
    }
}

/// The gateway's policy from a config file's sections.
fn policy_of(config: &ConfigFile) -> anyhow::Result<modelgate_gateway::Policy> {
    modelgate_gateway::Policy::new(&config.gateway(), |name| std::env::var(name).ok())
        .context("the gateway configuration is not usable (see docs/serve.example.toml)")
}

fn read_config(path: &Path) -> anyhow::Result<ConfigFile> {
    let text = std::fs::read_to_string(path)
        .with_context(|| format!("cannot read the config file {}", path.display()))?;
    toml::from_str(&text).with_context(|| {
        format!(
            "{} is not a valid serve configuration (see docs/serve.example.toml)",
            path.display()
        )
    })
}

struct Progress;

impl LoadProgress for Progress {
    fn step(&self, reference: &VersionRef, step: &str, took: Duration, detail: &str) {
        eprintln!(
            "  {reference}: {step:<8} {:>7.2} s  {detail}",
            took.as_secs_f64()
        );
    }
}

pub(crate) fn run(args: &Args, serve: &ServeArgs) -> anyhow::Result<u8> {
    let config = match &serve.config {
        Some(path) => read_config(path)?,
        None => ConfigFile::default(),
    };
    let listen = serve
        .listen
        .or(config.listen)
        .unwrap_or_else(|| SocketAddr::from(([127, 0, 0, 1], 8080)));
    let selection = if serve.all_approved
        || (serve.models.is_empty() && config.all_approved.unwrap_or(false))
    {
        Selection::AllApproved
    } else if !serve.models.is_empty() {
        Selection::Named(serve.models.clone())
    } else if let Some(models) = config.models.clone() {
        Selection::Named(models)
    } else if !config.routes.is_empty() {
        // A pure gateway: routes to upstreams, no local model.
        Selection::Named(Vec::new())
    } else {
        bail!(
            "name the versions to serve with --models NAME@VER,... or pass --all-approved (or configure [[routes]] to run as a pure gateway)"
        );
    };
    let gateway_config = config.gateway();
    let policy = policy_of(&config)?;
    let defaults = EngineConfig::default();
    let engine = EngineConfig {
        slots: serve.slots.or(config.slots).unwrap_or(defaults.slots),
        context: serve.ctx.or(config.ctx).unwrap_or(defaults.context),
        threads: serve.threads.or(config.threads).unwrap_or(defaults.threads),
        batch: config.batch.unwrap_or(defaults.batch),
    };
    let by = serve
        .by
        .clone()
        .or_else(|| std::env::var("USER").ok())
        .unwrap_or_else(|| "modelgate-serve".into());
    let server_config = modelgate_server::ServerConfig {
        body_limit: config
            .body_limit_kib
            .map_or(modelgate_server::ServerConfig::default().body_limit, |k| {
                k * 1024
            }),
        body_timeout: Duration::from_secs(config.body_timeout_seconds.unwrap_or(30)),
    };
    let drain = Duration::from_secs(config.drain_seconds.unwrap_or(30));
    let poll = Duration::from_secs_f64(config.poll_seconds.unwrap_or(2.0).clamp(0.2, 60.0));

    let mut store = crate::models_cmd::open_store(args)?;
    let versions = match &selection {
        Selection::Named(names) if names.is_empty() => Vec::new(),
        _ => modelgate_serving::select(&store, &selection)?,
    };
    if versions.is_empty() && config.routes.is_empty() {
        bail!(
            "no version is approved or in production; approve one with `modelgate models approve NAME@VER`"
        );
    }

    let _ = tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_env("MODELGATE_LOG")
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("warn,llama_cpp_2=off")),
        )
        .with_writer(std::io::stderr)
        .try_init();

    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .context("cannot start the async runtime")?;
    let catalog = Arc::new(Catalog::new());
    let (gateway, usage_writer) = {
        // The span exporter is a task on this runtime.
        let _entered = runtime.enter();
        let limiter = limiter(&serve.sharing)?;
        crate::gateway_cmd::start_gateway(&store, &gateway_config, policy, limiter)?
    };
    let notifier = match &serve.sharing.redis {
        Some(url) => Some(modelgate_gateway::notify::Notifier::new(
            modelgate_gateway::shared::client(url, |path| std::fs::read(path))
                .context("--redis")?,
            &serve.sharing.redis_prefix,
        )),
        None => None,
    };
    if let Some(sharing) = gateway.limiter.sharing() {
        let address = sharing.counters.address().to_owned();
        match runtime.block_on(sharing.counters.ping()) {
            Ok(()) => eprintln!(
                "modelgate serve: limits and budgets shared in redis at {address} ({} replica(s); {} while it is unreachable)",
                serve.sharing.replicas, serve.sharing.on_redis_unavailable
            ),
            Err(error) => eprintln!(
                "modelgate serve: redis does not answer yet ({error}); {} until it does",
                match sharing.on_unavailable {
                    modelgate_gateway::limiter::OnUnavailable::FailClosed =>
                        "requests are refused with 503",
                    modelgate_gateway::limiter::OnUnavailable::Fallback =>
                        "each replica counts its share of every limit",
                }
            ),
        }
    }
    if gateway_config.auth.anonymous {
        eprintln!(
            "modelgate serve: [auth] anonymous = true: every caller is served without a key; keep this on loopback"
        );
    }
    let state =
        modelgate_server::AppState::with_gateway(Arc::clone(&catalog), Some(Arc::clone(&gateway)));
    let listener = runtime
        .block_on(tokio::net::TcpListener::bind(listen))
        .with_context(|| format!("cannot listen on {listen}"))?;
    let address = listener
        .local_addr()
        .context("cannot read the listening address")?;
    let mut router = modelgate_server::router(Arc::clone(&state), &server_config);
    if !serve.no_console {
        // The console has its own connection to the same inventory.
        let mut console_config =
            crate::console_cmd::console_config(serve.secure_cookies, 30, serve.policy.as_deref())?;
        if let Some(notifier) = notifier.clone() {
            let handle = runtime.handle().clone();
            console_config.on_change = Some(modelgate_console::ChangeHook(Arc::new(move || {
                let _entered = handle.enter();
                notifier.publish_in_background(modelgate_gateway::notify::Notice::Inventory);
            })));
        }
        let console = modelgate_console::Console::new(
            store
                .reopen()
                .context("cannot open the inventory for the console")?,
            console_config,
        );
        router = router.nest(modelgate_console::MOUNT, modelgate_console::router(console));
    }

    // Listen at once (/health answers, /ready says "loading"), then load.
    let (stop_tx, stop_rx) = tokio::sync::oneshot::channel::<()>();
    let server_state = Arc::clone(&state);
    let server = runtime.spawn(async move {
        let shutdown = async move {
            tokio::select! {
                _ = stop_rx => {}
                () = termination() => {}
            }
        };
        modelgate_server::serve(listener, router, server_state, shutdown, drain).await
    });
    if !serve.no_console {
        eprintln!("modelgate serve: console on http://{address}/ui/");
    }
    eprintln!(
        "modelgate serve: listening on http://{address} (loading {} version(s))",
        versions.len()
    );

    let options = LoadOptions {
        engine: engine.clone(),
        memory_budget: config.memory_budget_mib.map(|m| m << 20),
        by: by.clone(),
        listen: address.to_string(),
        available_memory: crate::system::available_memory_bytes,
    };
    let mut refused = 0;
    for reference in &versions {
        eprintln!("loading {reference}");
        match modelgate_serving::load_version(&mut store, reference, &options, &Progress) {
            Ok(served) => {
                catalog.insert(served);
            }
            Err(error) => {
                refused += 1;
                eprintln!("  {reference}: refused: {error}");
            }
        }
    }
    if catalog.live().is_empty() && !versions.is_empty() {
        let _ = stop_tx.send(());
        let _ = runtime.block_on(server);
        bail!("no version could be loaded ({refused} refused; see above)");
    }
    state.set_ready();
    let routes: Vec<&str> = config.routes.iter().map(|r| r.name.as_str()).collect();
    if !routes.is_empty() {
        eprintln!("modelgate serve: routes {}", routes.join(", "));
    }
    // Wakes the governance poller early (a notice from another replica).
    let (wake_tx, wake_rx) = std::sync::mpsc::channel::<()>();
    let config_notices = Arc::new(tokio::sync::Notify::new());
    if let Some(notifier) = notifier.clone() {
        let config_notices = Arc::clone(&config_notices);
        runtime.spawn(
            notifier.listen(Duration::from_secs(1), move |notice| match notice {
                modelgate_gateway::notify::Notice::Inventory => {
                    let _ = wake_tx.send(());
                }
                modelgate_gateway::notify::Notice::Config => config_notices.notify_one(),
            }),
        );
    }
    if let Some(path) = serve.config.clone() {
        let gateway = Arc::clone(&gateway);
        runtime.spawn(reload_on_hangup(
            path,
            gateway,
            notifier.clone(),
            Arc::clone(&config_notices),
        ));
    }
    eprintln!(
        "modelgate serve: ready on http://{address}/v1 with {} ({} slots × {} tokens each)",
        catalog
            .live()
            .iter()
            .map(|s| s.id())
            .collect::<Vec<_>>()
            .join(", "),
        engine.slots,
        engine.context
    );

    // Stage changes made while serving: applied within one poll.
    let stop_poll = Arc::new(AtomicBool::new(false));
    let poll = poll.min(gateway.refresh_interval());
    let poller_store = store.reopen();
    let poller = {
        let catalog = Arc::clone(&catalog);
        let stop = Arc::clone(&stop_poll);
        let by = by.clone();
        let gateway = Arc::clone(&gateway);
        std::thread::Builder::new().name("governance".into()).spawn(move || {
            let mut store = match poller_store {
                Ok(store) => store,
                Err(error) => {
                    tracing::error!(%error, "governance poller cannot open the inventory; stage changes will not be applied");
                    return;
                }
            };
            while !stop.load(Ordering::SeqCst) {
                // A poll, or sooner when another replica says something
                // changed.
                if wake_rx.recv_timeout(poll).is_ok() {
                    while wake_rx.try_recv().is_ok() {}
                }
                if let Err(error) = modelgate_serving::sync(&mut store, &catalog, &by) {
                    tracing::error!(%error, "could not apply stage changes");
                }
                if let Err(error) = crate::gateway_cmd::refresh_access(&store, &gateway) {
                    tracing::error!(%error, "could not refresh keys and grants");
                }
            }
        })?
    };

    let result = runtime.block_on(server);
    stop_poll.store(true, Ordering::SeqCst);
    let _ = poller.join();
    eprintln!("modelgate serve: stopped; unloading");
    for served in catalog.live() {
        let details =
            serde_json::json!({"reason": "the server stopped", "listen": address.to_string()});
        if let Err(error) =
            store.record_serving(&served.reference, ServingAction::Unloaded, &by, details)
        {
            eprintln!("  {}: could not record the unload: {error}", served.id());
        }
    }
    drop(catalog);
    // Let the usage writer drain what is queued.
    drop(state);
    drop(gateway);
    crate::gateway_cmd::join_writer(usage_writer, Duration::from_secs(10));
    match result {
        Ok(Ok(())) => Ok(crate::exit::OK),
        Ok(Err(error)) => Err(error).context("the server failed"),
        Err(error) => Err(error).context("the server task failed"),
    }
}

/// Re-reads the config on SIGHUP, or when another replica says it reloaded
/// its own, and replaces the gateway's policy (routes, providers, prices,
/// masking); a config that does not check keeps the old policy. Requests
/// running keep the policy they started with. A reload from SIGHUP is
/// announced to the other replicas (with `--redis`).
async fn reload_on_hangup(
    path: PathBuf,
    gateway: Arc<modelgate_gateway::Gateway>,
    notifier: Option<modelgate_gateway::notify::Notifier>,
    notices: Arc<tokio::sync::Notify>,
) {
    #[cfg(unix)]
    let mut hangups = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::hangup()).ok();
    loop {
        #[cfg(unix)]
        let hangup = async {
            match hangups.as_mut() {
                Some(signal) => signal.recv().await.is_some(),
                None => std::future::pending::<bool>().await,
            }
        };
        #[cfg(not(unix))]
        let hangup = std::future::pending::<bool>();
        let from_signal = tokio::select! {
            got = hangup => {
                if !got {
                    return;
                }
                true
            }
            () = notices.notified() => false,
        };
        match read_config(&path).and_then(|c| policy_of(&c)) {
            Ok(policy) => {
                gateway.replace_policy(policy);
                eprintln!(
                    "modelgate serve: reloaded {}{}",
                    path.display(),
                    if from_signal {
                        ""
                    } else {
                        " (another replica reloaded)"
                    }
                );
                if from_signal && let Some(notifier) = &notifier {
                    notifier.publish_in_background(modelgate_gateway::notify::Notice::Config);
                }
            }
            Err(error) => eprintln!(
                "modelgate serve: kept the running configuration; {} does not check: {error:#}",
                path.display()
            ),
        }
    }
}

/// SIGTERM or Ctrl-C.
async fn termination() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let term = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut signal) => {
                signal.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let term = std::future::pending::<()>();
    tokio::select! {
        () = ctrl_c => {}
        () = term => {}
    }
}
