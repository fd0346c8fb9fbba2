//! The console's heaviest pages on a large inventory: 10,000 versions and
//! about 100,000 audit events (each version added, approved, promoted and
//! assigned to seven teams), served on loopback and fetched by a signed-in
//! client one request at a time. Prints p50 and p99 of each page's time
//! (client-measured on loopback: an upper bound of the server's time) and
//! its size, against the goals (p99 under 50 ms, under 150 KB); it never
//! fails on them.
//!
//! The first request of each page is timed apart: it builds the
//! catalogue's cache and runs `audit verify` over the whole trail, which
//! later requests reuse until the trail grows.
//!
//! `cargo bench -p modelgate-console --bench pages`
//! (`BENCH_VERSIONS=N` to change the size, `BENCH_REQUESTS=N` the requests
//! per page).

#![allow(missing_docs, clippy::indexing_slicing)]

use std::sync::Arc;
use std::time::{Duration, Instant};

use modelgate_console::{Console, ConsoleConfig, hash_password};
use modelgate_inventory::{
    Approval, Date, FileRecord, NewUser, NewVersion, Role, Store, VersionRef,
};
use modelgate_policy::Decision;

const TEAMS_PER_VERSION: usize = 7;
const PASSWORD: &str = "benchmark password";

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let n_versions: usize = env("BENCH_VERSIONS", 10_000);
    let n_requests: usize = env("BENCH_REQUESTS", 200);
    let dir = tempfile::tempdir()?;
    let mut store = Store::open(dir.path())?;
    let started = Instant::now();
    fill(&mut store, n_versions)?;
    store.add_user(
        &NewUser {
            name: "bench".into(),
            role: Role::Admin,
            password_hash: hash_password(PASSWORD)?,
        },
        "bench",
    )?;
    let n_events = store.last_event_seq()?;
    println!(
        "console: {n_versions} versions, {n_events} events written in {:.1} s",
        started.elapsed().as_secs_f64()
    );
    let middle = n_events / 2;
    let console = Console::new(store, ConsoleConfig::default());
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()?;
    runtime.block_on(async move {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
        let url = format!("http://{}", listener.local_addr()?);
        tokio::spawn(modelgate_console::serve_alone(
            listener,
            Arc::clone(&console),
            std::future::pending(),
        ));
        let client = sign_in(&url).await?;
        let pages = [
            ("catalogue, first page", "/ui/catalogue".to_string()),
            (
                "catalogue, search",
                "/ui/catalogue?q=model-12&quant=Q8_0".to_string(),
            ),
            ("catalogue, page 100", "/ui/catalogue?page=100".to_string()),
            ("audit, newest", "/ui/audit".to_string()),
            ("audit, older page", format!("/ui/audit?before={middle}")),
            (
                "audit, by action",
                "/ui/audit?action=version.promoted".to_string(),
            ),
            ("version", "/ui/version?ref=model-1200%401.4800".to_string()),
        ];
        println!(
            "{:<24} {:>9} {:>9} {:>9} {:>9}   goal p99 < 50 ms, page < 150 KB",
            "page", "first ms", "p50 ms", "p99 ms", "KB"
        );
        for (name, path) in pages {
            let target = format!("{url}{path}");
            let (first, size) = fetch(&client, &target).await?;
            let mut times = Vec::with_capacity(n_requests);
            for _ in 0..n_requests {
                times.push(fetch(&client, &target).await?.0);
            }
            times.sort();
            let p50 = percentile(&times, 0.50);
            let p99 = percentile(&times, 0.99);
            let verdict = if p99 < Duration::from_millis(50) && size < 150 * 1024 {
                "meets"
            } else {
                "MISSES"
            };
            println!(
                "{name:<24} {:>9.1} {:>9.2} {:>9.2} {:>9.1}   {verdict}",
                ms(first),
                ms(p50),
                ms(p99),
                size as f64 / 1024.0
            );
        }
        Ok::<(), Box<dyn std::error::Error>>(())
    })?;
    Ok(())
}

fn env(name: &str, default: usize) -> usize {
    std::env::var(name)
        .ok()
        .and_then(|n| n.parse().ok())
        .unwrap_or(default)
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1e3
}

fn percentile(sorted: &[Duration], q: f64) -> Duration {
    let idx = ((sorted.len() as f64 - 1.0) * q).round() as usize;
    sorted.get(idx).copied().unwrap_or_default()
}

async fn sign_in(url: &str) -> Result<reqwest::Client, Box<dyn std::error::Error>> {
    let client = reqwest::Client::builder()
        .cookie_store(true)
        .redirect(reqwest::redirect::Policy::none())
        .build()?;
    let page = client
        .get(format!("{url}/ui/login"))
        .send()
        .await?
        .text()
        .await?;
    let marker = "name=\"csrf\" value=\"";
    let start = page
        .find(marker)
        .ok_or("no CSRF token on the sign-in page")?
        + marker.len();
    let csrf = page
        .get(start..start + 64)
        .ok_or("short CSRF token")?
        .to_string();
    let response = client
        .post(format!("{url}/ui/login"))
        .form(&[("user", "bench"), ("password", PASSWORD), ("csrf", &csrf)])
        .send()
        .await?;
    if response.status() != reqwest::StatusCode::SEE_OTHER {
        return Err(format!("sign-in failed: {}", response.status()).into());
    }
    Ok(client)
}

async fn fetch(
    client: &reqwest::Client,
    url: &str,
) -> Result<(Duration, usize), Box<dyn std::error::Error>> {
    let started = Instant::now();
    let response = client.get(url).send().await?;
    if !response.status().is_success() {
        return Err(format!("{url}: {}", response.status()).into());
    }
    let body = response.bytes().await?;
    Ok((started.elapsed(), body.len()))
}

/// Versions as the inventory bench makes them, with licenses, tasks and
/// purposes for the catalogue's filters.
fn fill(store: &mut Store, n_versions: usize) -> Result<(), modelgate_inventory::Error> {
    let review_by = Date::today().add_days(180);
    store.transaction(|batch| {
        for idx in 0..n_versions {
            let reference = VersionRef::new(&format!("model-{}", idx / 4), &format!("1.{idx}"))?;
            batch.add_version(&synthetic(reference.clone(), idx), "bench")?;
            batch.approve(
                &reference,
                &Approval {
                    by: "reviewer".into(),
                    review_by: Some(review_by),
                    ..Approval::default()
                },
            )?;
            batch.promote(&reference, "release", None)?;
            for team_idx in 0..TEAMS_PER_VERSION {
                batch.assign(
                    &format!("team-{}", (idx + team_idx) % 50),
                    &reference,
                    "synthetic load",
                    "bench",
                )?;
            }
        }
        Ok(())
    })
}

fn synthetic(reference: VersionRef, idx: usize) -> NewVersion {
    let mut new = NewVersion::new(reference, Decision::Approved);
    new.source_path = format!("/models/{idx}");
    new.format = Some("gguf".into());
    new.architecture = Some("llama".into());
    new.quantization = Some(["Q4_1", "Q8_0", "F16"][idx % 3].into());
    new.parameters = Some(134_515_008 * (1 + idx as u64 % 60));
    new.license = Some(["apache-2.0", "llama3.1", "cc-by-nc-4.0"][idx % 3].into());
    let family = ["permissive", "vendor-community", "non-commercial"][idx % 3];
    let commercial = ["yes", "conditional", "no"][idx % 3];
    new.license_terms = Some(serde_json::json!({"family": family, "commercial": commercial}));
    new.description.description = Some("A small instruction-tuned model".into());
    new.description.parameters.task =
        Some(["text-generation", "feature-extraction"][idx % 2].into());
    new.description.considerations.use_cases =
        vec!["Drafting replies to customer questions".into()];
    new.files = ["model.gguf", "README.md", "LICENSE"]
        .iter()
        .enumerate()
        .map(|(file_idx, path)| FileRecord {
            path: (*path).into(),
            size: 1_000 * (file_idx as u64 + 1),
            sha256: format!("{:064x}", idx * 3 + file_idx),
        })
        .collect();
    new.report = serde_json::json!({
        "verdict": {"decision": "approved", "reasons": [
            {"rule": "license.allowed", "action": "allow", "message": "on the allowed list", "evidence": ["general.license"]}
        ], "obligations": ["Keep the notices"]},
        "model": {"name": format!("model-{idx}"), "format": "gguf"},
    });
    new
}
