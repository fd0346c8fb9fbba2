//! Three `modelgate serve` replicas sharing one inventory (in PostgreSQL,
//! on the server `scripts/test.sh` starts; SQLite without one) and one
//! Redis (Debian's `redis-server`, started here on loopback), driven by the real
//! `openai` SDK (tests/replicas/replicas_client.py) and each replica's web
//! console: one requests-per-minute limit and one budget across replicas, a
//! key revoked with the CLI, a config reload and a version revoked in one
//! replica's console reaching every replica within 5 s, a replica
//! killed mid-stream losing no usage record of a completed request, and
//! concurrent approvals and key creations (CLI processes and the three
//! consoles) leaving one verified audit chain,
//! and Redis stopped (503, fail-closed) and started again (served again
//! without a restart).

use std::process::Command;
use std::time::Duration;

use modelgate_testdata::redis::RedisServer;

use super::gateway::{Mocks, key};
use super::inventory::{Inventory, fixtures, path};
use super::serve::{Server, add_and_approve, python, repo_root};

fn config(mocks: &Mocks) -> String {
    format!(
        r#"
# Polling is slow on purpose: a change seen within 5 s came by Redis.
poll_seconds = 30

[auth]
refresh_seconds = 5

[[providers]]
name = "mock-openai"
kind = "openai"
base_url = "http://127.0.0.1:{openai}/v1"
api_key_env = "MODELGATE_TEST_UPSTREAM_KEY"
timeout_ms = 5000

[[routes]]
name = "mock"
[[routes.targets]]
provider = "mock-openai"
model = "echo"

[[prices]]
model = "mock-openai/echo"
input_per_mtok = 100
output_per_mtok = 100
"#,
        openai = mocks.openai,
    )
}

#[test]
fn three_replicas_share_limits_changes_and_one_audit_chain() {
    let Some(redis) = RedisServer::start() else {
        return;
    };
    let redis_url = redis.url();
    let inventory = Inventory::on_postgres_if_available();
    println!(
        "inventory: {}",
        if inventory.database.is_some() {
            "PostgreSQL"
        } else {
            "SQLite"
        }
    );
    let gguf = fixtures().join("smollm2/SmolLM2-135M-Instruct.Q4_1.gguf");
    assert!(gguf.is_file(), "run scripts/fixtures.sh");
    add_and_approve(&inventory, path(&gguf), "smollm2");
    // Candidates for the concurrent approvals.
    for i in 0..3 {
        inventory.json(&[
            "models",
            "add",
            path(&gguf),
            "--name",
            &format!("extra{i}"),
            "--version",
            "1.0",
        ]);
    }
    let ada = inventory.json(&["users", "add", "ada", "--role", "admin"]);
    let keys = serde_json::json!({
        "ada_password": ada["password"],
        "rpm": key(&inventory, "search", &["--rpm", "100"]),
        "rpm2": key(&inventory, "search", &["--rpm", "100"]),
        "budget": key(&inventory, "search", &["--budget-usd", "0.02"]),
        "revoked": key(&inventory, "search", &[]),
        "plain": key(&inventory, "search", &[]),
        "stream": key(&inventory, "search", &[]),
        "limited": key(&inventory, "search", &["--rpm", "1000"]),
    });
    inventory.expect(
        0,
        &[
            "teams",
            "assign",
            "search",
            "smollm2@1.0",
            "--purpose",
            "replica test",
        ],
    );
    inventory.expect(0, &["teams", "grant", "search", "mock"]);

    let mocks = Mocks::start();
    let config_path = inventory.dir("replicas").join("serve.toml");
    std::fs::write(&config_path, config(&mocks)).unwrap();
    let keys_path = inventory.dir("replicas").join("keys.json");
    std::fs::write(&keys_path, keys.to_string()).unwrap();

    let mut servers = Vec::new();
    let mut bases = Vec::new();
    for _ in 0..3 {
        let (server, base) = Server::start_with(
            &inventory,
            "smollm2@1.0",
            &[
                "--config",
                path(&config_path),
                "--redis",
                &redis_url,
                "--replicas",
                "3",
            ],
            &[("MODELGATE_TEST_UPSTREAM_KEY", "sk-mock-upstream-key")],
        );
        servers.push(server);
        bases.push(base);
    }
    let pids: Vec<String> = servers.iter().map(|s| s.pid().to_string()).collect();
    let output = Command::new(python())
        .arg(repo_root().join("tests/replicas/replicas_client.py"))
        .args(["--base-urls", &bases.join(",")])
        .args(["--keys", path(&keys_path)])
        .args(["--modelgate", env!("CARGO_BIN_EXE_modelgate")])
        .arg("--home")
        .arg(inventory.home.path())
        .args(["--config", path(&config_path)])
        .args(["--pids", &pids.join(",")])
        .args(["--redis", &redis_url])
        .args(
            inventory
                .database
                .as_deref()
                .map(|url| vec!["--database", url])
                .unwrap_or_default(),
        )
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&output.stdout);
    let stderr = String::from_utf8_lossy(&output.stderr);
    println!("{stdout}");
    // The reload came to the second replica from the first, through Redis.
    let heard_reload = servers[1].wait_for("another replica reloaded", Duration::from_secs(2));
    let killed = servers.pop();
    drop(killed);
    let mut logs = Vec::new();
    for server in servers {
        let (code, log) = server.stop();
        logs.push(log.clone());
        assert_eq!(code, 0, "a replica did not stop cleanly:\n{log}");
    }
    assert!(
        output.status.success(),
        "the replica checks failed:\n{stdout}\n{stderr}\nreplica logs:\n{}",
        logs.join("\n---\n")
    );
    assert!(stdout.contains("all checks passed"));
    assert!(heard_reload, "{}", logs.join("\n---\n"));
    inventory.expect(0, &["audit", "verify"]);
}
