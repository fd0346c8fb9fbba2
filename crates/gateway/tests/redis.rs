//! The shared counters against a real Redis (Debian's `redis-server`,
//! started here on a free loopback port), with several `SharedCounters`
//! standing for several replicas, over plain TCP and over TLS
//! (`rediss://`, certificates made by `openssl`). Skipped when
//! `redis-server` is missing,
//! unless `MODELGATE_REQUIRE_REDIS` is set (as `scripts/test.sh` does).

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing)]

use std::process::Command;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use modelgate_gateway::limiter::{Limiter, OnUnavailable, Sharing};
use modelgate_gateway::limits::{Ask, Limits, Now, Permit, Refusal, Scope, ScopeKind};
use modelgate_gateway::metrics::Metrics;
use modelgate_gateway::notify::{Notice, Notifier};
use modelgate_gateway::shared::SharedCounters;
use modelgate_testdata::redis::{RedisServer, free_port};
use modelgate_testdata::tls::TestCerts;

fn url(port: u16) -> String {
    format!("redis://127.0.0.1:{port}")
}

/// A client for `url`, its certificate files read as the binary reads them.
fn client(url: &str) -> redis::Client {
    modelgate_gateway::shared::client(url, |path| std::fs::read(path)).unwrap()
}

fn replicas(port: u16, n: usize) -> Vec<Arc<SharedCounters>> {
    (0..n)
        .map(|_| {
            Arc::new(
                SharedCounters::new(client(&url(port)), "test:", Duration::from_millis(500))
                    .unwrap(),
            )
        })
        .collect()
}

fn key(limits: Limits) -> Vec<Scope> {
    vec![Scope {
        kind: ScopeKind::Key,
        id: "k1".into(),
        limits,
    }]
}

const MONTH: u32 = 24_323;

async fn admit(
    counters: &Arc<SharedCounters>,
    scopes: &[Scope],
    ask: Ask,
) -> Result<Permit, Refusal> {
    counters.admit(scopes, ask, MONTH).await.unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn three_replicas_admit_one_limit_of_requests_per_minute() {
    let Some(redis) = RedisServer::start() else {
        return;
    };
    let replicas = replicas(redis.port(), 3);
    let scopes = key(Limits {
        rpm: Some(100),
        ..Limits::default()
    });
    let mut admitted = 0;
    let mut refusals = Vec::new();
    for i in 0..300 {
        match admit(&replicas[i % 3], &scopes, Ask::default()).await {
            Ok(permit) => {
                admitted += 1;
                drop(permit);
            }
            Err(refusal) => refusals.push(refusal),
        }
    }
    assert_eq!(admitted, 100, "one limit of 100 over three replicas");
    match &refusals[0] {
        Refusal::Requests {
            kind,
            limit,
            retry_after,
        } => {
            assert_eq!((*kind, *limit), (ScopeKind::Key, 100));
            assert!(*retry_after > Duration::from_secs(50), "{retry_after:?}");
        }
        other => panic!("{other:?}"),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_admissions_from_three_replicas_never_pass_the_limit() {
    let Some(redis) = RedisServer::start() else {
        return;
    };
    let replicas = replicas(redis.port(), 3);
    let scopes = key(Limits {
        rpm: Some(50),
        ..Limits::default()
    });
    let mut tasks = Vec::new();
    for i in 0..150 {
        let counters = Arc::clone(&replicas[i % 3]);
        let scopes = scopes.clone();
        tasks.push(tokio::spawn(async move {
            counters
                .admit(&scopes, Ask::default(), MONTH)
                .await
                .unwrap()
                .is_ok()
        }));
    }
    let mut admitted = 0;
    for task in tasks {
        admitted += usize::from(task.await.unwrap());
    }
    assert_eq!(admitted, 50);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn token_reservations_are_replaced_by_what_was_used() {
    let Some(redis) = RedisServer::start() else {
        return;
    };
    let replicas = replicas(redis.port(), 2);
    let scopes = key(Limits {
        tpm: Some(1000),
        ..Limits::default()
    });
    let ask = Ask {
        tokens: 600,
        cost_micro_usd: 0,
    };
    let mut first = admit(&replicas[0], &scopes, ask).await.unwrap();
    // 600 reserved: another 600 does not fit, on any replica.
    match admit(&replicas[1], &scopes, ask).await {
        Err(Refusal::Tokens {
            limit: 1000,
            asked: 600,
            retry_after: Some(after),
            ..
        }) => assert!(
            after > Duration::from_secs(50) && after <= Duration::from_secs(60),
            "the first reservation leaves the window in about a minute: {after:?}"
        ),
        other => panic!("{other:?}"),
    }
    // It used 100: once released, 600 more fit.
    first.settle(100, 0);
    drop(first);
    let deadline = Instant::now() + Duration::from_secs(5);
    loop {
        match admit(&replicas[1], &scopes, ask).await {
            Ok(permit) => {
                assert_eq!(permit.headers().tokens.map(|t| t.1), Some(300));
                break;
            }
            Err(refusal) => {
                assert!(Instant::now() < deadline, "never released: {refusal:?}");
                tokio::time::sleep(Duration::from_millis(10)).await;
            }
        }
    }
    // More than the whole limit never fits.
    match admit(
        &replicas[0],
        &scopes,
        Ask {
            tokens: 1001,
            cost_micro_usd: 0,
        },
    )
    .await
    {
        Err(Refusal::Tokens {
            retry_after: None, ..
        }) => {}
        other => panic!("{other:?}"),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn parallel_slots_are_shared_and_freed_on_drop() {
    let Some(redis) = RedisServer::start() else {
        return;
    };
    let replicas = replicas(redis.port(), 2);
    let scopes = key(Limits {
        max_parallel: Some(2),
        ..Limits::default()
    });
    let a = admit(&replicas[0], &scopes, Ask::default()).await.unwrap();
    let _b = admit(&replicas[1], &scopes, Ask::default()).await.unwrap();
    match admit(&replicas[0], &scopes, Ask::default()).await {
        Err(Refusal::Parallel { limit: 2, .. }) => {}
        other => panic!("{other:?}"),
    }
    drop(a);
    let deadline = Instant::now() + Duration::from_secs(5);
    while admit(&replicas[1], &scopes, Ask::default()).await.is_err() {
        assert!(Instant::now() < deadline, "the slot was never freed");
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn budgets_overshoot_by_at_most_one_worst_case_across_replicas() {
    let Some(redis) = RedisServer::start() else {
        return;
    };
    let replicas = replicas(redis.port(), 3);
    let budget = 1_000_000;
    let worst = 300_000;
    let scopes = vec![
        Scope {
            kind: ScopeKind::Key,
            id: "k2".into(),
            limits: Limits::default(),
        },
        Scope {
            kind: ScopeKind::Team,
            id: "search".into(),
            limits: Limits {
                budget_micro_usd: Some(budget),
                ..Limits::default()
            },
        },
    ];
    // What the team spent before the counters held it.
    replicas[0]
        .preload_spent(ScopeKind::Team, "search", MONTH, 100_000)
        .await
        .unwrap();
    // Another replica's preload does not overwrite it.
    replicas[1]
        .preload_spent(ScopeKind::Team, "search", MONTH, 5)
        .await
        .unwrap();
    let ask = Ask {
        tokens: 10,
        cost_micro_usd: worst,
    };
    let mut running = Vec::new();
    let mut i = 0;
    let refusal = loop {
        match admit(&replicas[i % 3], &scopes, ask).await {
            Ok(permit) => running.push(permit),
            Err(refusal) => break refusal,
        }
        i += 1;
    };
    // 100k spent + 3 × 300k reserved = 1.0M ≥ budget after the third.
    assert_eq!(running.len(), 3);
    let reserved_total = 100_000 + worst * running.len() as u64;
    assert!(reserved_total < budget + worst);
    match refusal {
        Refusal::Budget {
            kind: ScopeKind::Team,
            limit_micro_usd,
            spent_micro_usd: 100_000,
        } => assert_eq!(limit_micro_usd, budget),
        other => panic!("{other:?}"),
    }
    // Each actually cost 250k: charged, reservations released.
    for mut permit in running {
        permit.settle(10, 250_000);
    }
    let deadline = Instant::now() + Duration::from_secs(5);
    loop {
        let (spent, reserved) = replicas[2]
            .spent(ScopeKind::Team, "search", MONTH)
            .await
            .unwrap();
        if (spent, reserved) == (850_000, 0) {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "spent {spent}, reserved {reserved}"
        );
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    // 850k + 300k worst case: one more is admitted, then none.
    let last = admit(&replicas[0], &scopes, ask).await.unwrap();
    assert!(admit(&replicas[1], &scopes, ask).await.is_err());
    drop(last);
}

fn limiter(port: u16, on_unavailable: OnUnavailable, metrics: &Metrics) -> Limiter {
    Limiter::shared(Sharing {
        counters: Arc::new(
            SharedCounters::new(client(&url(port)), "test:", Duration::from_millis(200)).unwrap(),
        ),
        on_unavailable,
        replicas: 3,
    })
    .with_metrics(metrics)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn without_redis_fail_closed_refuses_and_recovers_when_it_returns() {
    if Command::new("redis-server")
        .arg("--version")
        .output()
        .is_err()
    {
        assert!(
            std::env::var_os("MODELGATE_REQUIRE_REDIS").is_none(),
            "no redis-server; scripts/native-deps.sh installs it"
        );
        return;
    }
    let port = free_port();
    let metrics = Metrics::new();
    let limiter = limiter(port, OnUnavailable::FailClosed, &metrics);
    let scopes = key(Limits {
        rpm: Some(100),
        ..Limits::default()
    });
    match limiter.admit(&scopes, Ask::default(), Now::current()).await {
        Err(Refusal::Unavailable { reason }) => assert!(reason.contains("redis"), "{reason}"),
        other => panic!("{other:?}"),
    }
    assert!(limiter.degraded());
    let text = metrics.render();
    assert!(text.contains("modelgate_limiter_degraded 1"), "{text}");
    assert!(
        text.contains("modelgate_limiter_redis_errors_total 1"),
        "{text}"
    );

    // Redis comes up: within a probe interval, requests are admitted again.
    let _redis = RedisServer::start_on(port).unwrap();
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        match limiter.admit(&scopes, Ask::default(), Now::current()).await {
            Ok(_) => break,
            Err(Refusal::Unavailable { .. }) => {
                assert!(Instant::now() < deadline, "never recovered");
                tokio::time::sleep(Duration::from_millis(100)).await;
            }
            Err(other) => panic!("{other:?}"),
        }
    }
    assert!(!limiter.degraded());
    assert!(metrics.render().contains("modelgate_limiter_degraded 0"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn requests_without_limits_never_need_redis() {
    let metrics = Metrics::new();
    let limiter = limiter(free_port(), OnUnavailable::FailClosed, &metrics);
    for _ in 0..3 {
        limiter
            .admit(&key(Limits::default()), Ask::default(), Now::current())
            .await
            .unwrap();
    }
    assert!(!limiter.degraded());
    assert!(
        metrics
            .render()
            .contains("modelgate_limiter_redis_errors_total 0")
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn without_redis_fallback_counts_a_share_of_each_limit() {
    let port = free_port();
    let metrics = Metrics::new();
    let limiter = limiter(port, OnUnavailable::Fallback, &metrics);
    let scopes = key(Limits {
        rpm: Some(100),
        ..Limits::default()
    });
    let mut admitted = 0;
    for _ in 0..100 {
        if limiter
            .admit(&scopes, Ask::default(), Now::current())
            .await
            .is_ok()
        {
            admitted += 1;
        }
    }
    // 100 per minute over 3 replicas: 33 each.
    assert_eq!(admitted, 33);
    assert!(limiter.degraded());
    assert!(metrics.render().contains("modelgate_limiter_degraded 1"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn notices_reach_every_listener() {
    let Some(redis) = RedisServer::start() else {
        return;
    };
    let heard: Arc<Mutex<Vec<(usize, Notice)>>> = Arc::default();
    for listener in 0..2 {
        let heard = Arc::clone(&heard);
        let notifier = Notifier::new(client(&url(redis.port())), "test:");
        tokio::spawn(notifier.listen(Duration::from_millis(100), move |notice| {
            heard.lock().unwrap().push((listener, notice));
        }));
    }
    // Both subscribed (each hears one notice on subscribing).
    let deadline = Instant::now() + Duration::from_secs(5);
    while heard.lock().unwrap().len() < 2 {
        assert!(Instant::now() < deadline, "the listeners never subscribed");
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    let notifier = Notifier::new(client(&url(redis.port())), "test:");
    let told = tokio::task::spawn_blocking(move || notifier.publish_blocking(Notice::Config))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(told, 2);
    let deadline = Instant::now() + Duration::from_secs(5);
    loop {
        let configs = heard
            .lock()
            .unwrap()
            .iter()
            .filter(|(_, n)| *n == Notice::Config)
            .count();
        if configs == 2 {
            break;
        }
        assert!(Instant::now() < deadline, "heard {configs} of 2");
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}

/// `rediss://` on loopback with the test CA (`?ssl_ca_certs=`), plus
/// the client certificate when `client` is set.
fn tls_url(redis: &RedisServer, certs: &TestCerts, host: &str, client: bool) -> String {
    let mut url = format!(
        "rediss://{host}:{}/?ssl_ca_certs={}",
        redis.port(),
        certs.ca.display()
    );
    if client {
        url.push_str(&format!(
            "&ssl_certfile={}&ssl_keyfile={}",
            certs.client_cert.display(),
            certs.client_key.display()
        ));
    }
    url
}

/// What the counters at `url` say to one admission: the permit's fate,
/// or the error as text.
async fn try_admit(url: &str) -> Result<bool, String> {
    let counters = Arc::new(
        modelgate_gateway::shared::client(url, |path| std::fs::read(path))
            .and_then(|client| SharedCounters::new(client, "test:", Duration::from_secs(2)))
            .map_err(|e| e.to_string())?,
    );
    let scopes = key(Limits {
        rpm: Some(1),
        ..Limits::default()
    });
    counters
        .admit(&scopes, Ask::default(), MONTH)
        .await
        .map(|admitted| admitted.is_ok())
        .map_err(|e| format!("{e}: {:?}", std::error::Error::source(&e)))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn counters_and_notices_work_over_tls_with_the_servers_certificate_checked() {
    let dir = tempfile::tempdir().unwrap();
    let certs = TestCerts::make(dir.path());
    let Some(redis) = RedisServer::start_tls(&certs, false) else {
        return;
    };
    // Two replicas over TLS share one limit of 1 request a minute.
    for host in ["127.0.0.1", "localhost"] {
        let url = tls_url(&redis, &certs, host, false);
        let replicas: Vec<_> = (0..2)
            // Each pass under its own prefix.
            .map(|_| {
                Arc::new(SharedCounters::new(client(&url), host, Duration::from_secs(2)).unwrap())
            })
            .collect();
        let scopes = key(Limits {
            rpm: Some(1),
            ..Limits::default()
        });
        assert!(admit(&replicas[0], &scopes, Ask::default()).await.is_ok());
        assert!(admit(&replicas[1], &scopes, Ask::default()).await.is_err());
    }
    // Notices, published by the blocking client and heard by the async one.
    let url = tls_url(&redis, &certs, "127.0.0.1", false);
    let heard: Arc<Mutex<Vec<Notice>>> = Arc::default();
    let listener = Notifier::new(client(&url), "test:");
    let log = Arc::clone(&heard);
    tokio::spawn(listener.listen(Duration::from_millis(100), move |notice| {
        log.lock().unwrap().push(notice);
    }));
    let deadline = Instant::now() + Duration::from_secs(5);
    while heard.lock().unwrap().is_empty() {
        assert!(Instant::now() < deadline, "never subscribed over TLS");
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    let notifier = Notifier::new(client(&url), "test:");
    let told = tokio::task::spawn_blocking(move || notifier.publish_blocking(Notice::Config))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(told, 1);

    // The certificate is checked: not against a CA that did not sign it,
    // nor the system's CAs; and the server speaks no plain Redis.
    let other = url.replace(
        &certs.ca.display().to_string(),
        &certs.other_ca.display().to_string(),
    );
    let system = format!("rediss://127.0.0.1:{}", redis.port());
    for refused in [other, system] {
        let error = try_admit(&refused).await.unwrap_err();
        assert!(error.contains("UnknownIssuer"), "{refused}: {error}");
    }
    assert!(
        try_admit(&format!("redis://127.0.0.1:{}", redis.port()))
            .await
            .is_err()
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_client_certificate_is_presented_when_the_url_names_one() {
    let dir = tempfile::tempdir().unwrap();
    let certs = TestCerts::make(dir.path());
    let Some(redis) = RedisServer::start_tls(&certs, true) else {
        return;
    };
    assert!(
        try_admit(&tls_url(&redis, &certs, "127.0.0.1", false))
            .await
            .is_err(),
        "a server that wants a client certificate let a client in without one"
    );
    assert_eq!(
        try_admit(&tls_url(&redis, &certs, "127.0.0.1", true)).await,
        Ok(true)
    );
}

#[test]
fn tls_options_are_checked_before_any_connection() {
    let dir = tempfile::tempdir().unwrap();
    let missing = dir.path().join("missing.pem");
    let error = |url: &str| {
        modelgate_gateway::shared::client(url, |path| std::fs::read(path))
            .unwrap_err()
            .to_string()
    };
    let text = error(&format!(
        "rediss://127.0.0.1:1/?ssl_ca_certs={}",
        missing.display()
    ));
    assert!(
        text.contains("ssl_ca_certs") && text.contains("missing.pem"),
        "{text}"
    );
    let text = error("redis://127.0.0.1:1/?ssl_ca_certs=/x.pem");
    assert!(text.contains("write rediss://"), "{text}");
    let text = error("rediss://u:secret@127.0.0.1:1/?ssl_certfile=/x");
    assert!(
        text.contains("give both") && !text.contains("secret"),
        "{text}"
    );
}
