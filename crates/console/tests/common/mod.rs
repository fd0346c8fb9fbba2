//! What the console tests share: an inventory with two real vetted models
//! (one with a hostile card and file name), four users, and the console
//! serving it on loopback.

#![allow(dead_code, clippy::unwrap_used, clippy::indexing_slicing)]

use std::path::{Path, PathBuf};
use std::sync::Arc;

use modelgate_console::{Console, ConsoleConfig, hash_password};
use modelgate_inventory::{Approval, Database, NewUser, Role, Store, VersionRef};
use modelgate_ops::AddVersion;
use modelgate_policy::Reviewer;
use modelgate_vet::VetOptions;

/// The store in `home`: SQLite, or a schema on the test PostgreSQL with
/// `MODELGATE_TEST_BACKEND=postgres` (see `modelgate_testdata::postgres`).
pub(crate) fn open_store(home: &std::path::Path) -> Store {
    match modelgate_testdata::postgres::backend_for(home) {
        Some(url) => Store::open_database(&Database::parse(&url).unwrap(), home).unwrap(),
        None => Store::open(home).unwrap(),
    }
}

pub(crate) const PASSWORD: &str = "correct horse battery staple";
pub(crate) const HOSTILE_CARD: &str = "<script>alert('card')</script>";
pub(crate) const HOSTILE_FILE: &str = "notes<img src=x onerror=alert(2)>.txt";
/// A team name as a gateway could record it from a config file: the usage
/// charts draw it as a label inside SVG.
pub(crate) const HOSTILE_TEAM: &str = "<script>alert(3)</script>";

/// Requests of the last three days, as the gateway's usage writer stores
/// them: two teams (one named with markup) on the two models, one error.
fn usage_records() -> Vec<modelgate_inventory::UsageRecord> {
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs();
    (0..30u64)
        .map(|i| modelgate_inventory::UsageRecord {
            at: modelgate_inventory::Timestamp::from_unix_seconds(now - (i % 3) * 86_400 - i * 60),
            request_id: format!("req-{i}"),
            key_id: None,
            team: if i % 3 == 0 { HOSTILE_TEAM } else { "search" }.to_string(),
            route: if i % 2 == 0 { "minilm" } else { "smollm2" }.to_string(),
            target: if i % 2 == 0 { "minilm@1" } else { "smollm2@1" }.to_string(),
            version: None,
            data_class: modelgate_inventory::DataClass::Internal,
            tokens_in: 20 + i,
            tokens_out: 40 + 2 * i,
            cost_micro_usd: 150 * i,
            latency_ms: 80 + 10 * i,
            ttft_ms: Some(30 + i),
            status: if i == 7 { 500 } else { 200 },
            error: None,
            prompt: None,
            answer: None,
        })
        .collect()
}

fn copy_dir(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for entry in std::fs::read_dir(from).unwrap() {
        let entry = entry.unwrap();
        let target = to.join(entry.file_name());
        if entry.file_type().unwrap().is_dir() {
            copy_dir(&entry.path(), &target);
        } else {
            std::fs::copy(entry.path(), target).unwrap();
        }
    }
}

/// The MiniLM snapshot with a card whose intended use carries a script and
/// a file whose name is markup.
fn hostile_snapshot(dir: &Path) -> PathBuf {
    let snapshot = dir.join("minilm");
    copy_dir(&modelgate_testdata::minilm(), &snapshot);
    let card = std::fs::read_to_string(snapshot.join("README.md")).unwrap();
    assert!(card.contains("Our model is intended to be used"));
    let card = card.replace(
        "Our model is intended to be used",
        &format!("{HOSTILE_CARD} Our model is intended to be used"),
    );
    std::fs::write(snapshot.join("README.md"), card).unwrap();
    std::fs::write(snapshot.join(HOSTILE_FILE), "just notes\n").unwrap();
    snapshot
}

fn add(store: &mut Store, text: &str, path: &Path) {
    modelgate_ops::add_version(
        store,
        &AddVersion {
            reference: text.parse().unwrap(),
            variant_of: None,
            path,
            by: "setup",
            vet: &VetOptions::default(),
            copy_progress: &modelgate_inventory::NoCopyProgress,
        },
    )
    .unwrap();
}

pub(crate) struct Site {
    pub(crate) dir: tempfile::TempDir,
    pub(crate) home: PathBuf,
    pub(crate) url: String,
}

/// An inventory with the two models (MiniLM approved and assigned to a
/// team, SmolLM2 a candidate waiting for governance), four users, and the
/// console serving it on loopback.
pub(crate) async fn site() -> Site {
    let dir = tempfile::tempdir().unwrap();
    let home = dir.path().join("home");
    let snapshot = hostile_snapshot(dir.path());
    let mut store = open_store(&home);
    add(&mut store, "minilm@1", &snapshot);
    add(&mut store, "smollm2@1", &modelgate_testdata::smollm2());
    let minilm: VersionRef = "minilm@1".parse().unwrap();
    store
        .approve(
            &minilm,
            &Approval {
                by: "setup".into(),
                ..Approval::default()
            },
        )
        .unwrap();
    store
        .assign("search", &minilm, "semantic search <b>beta</b>", "setup")
        .unwrap();
    store.insert_usage(&usage_records()).unwrap();
    let hash = hash_password(PASSWORD).unwrap();
    for (name, role) in [
        ("ada", Role::Admin),
        ("gil", Role::Reviewer(Reviewer::Governance)),
        ("lee", Role::Reviewer(Reviewer::Legal)),
        ("vic", Role::Viewer),
    ] {
        store
            .add_user(
                &NewUser {
                    name: name.into(),
                    role,
                    password_hash: hash.clone(),
                },
                "setup",
            )
            .unwrap();
    }
    let console = Console::new(store, ConsoleConfig::default());
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    tokio::spawn(modelgate_console::serve_alone(
        listener,
        Arc::clone(&console),
        std::future::pending(),
    ));
    Site { dir, home, url }
}

/// A second console over the same inventory as `site` (its own
/// connection), as another replica behind a load balancer; its URL.
pub(crate) async fn replica(site: &Site) -> String {
    let console = Console::new(open_store(&site.home), ConsoleConfig::default());
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    tokio::spawn(modelgate_console::serve_alone(
        listener,
        console,
        std::future::pending(),
    ));
    url
}
