//! `modelgate serve` as the gateway: real mock upstreams (an OpenAI-shaped
//! and an Anthropic-shaped HTTP server, tests/gateway/mock_upstreams.py),
//! SmolLM2 served locally, keys and grants made with the CLI, and the real
//! `openai` SDK as the client (tests/gateway/gateway_client.py): 401, 403 by
//! team and by data class, 429 with headers, a budget refusal the SDK does
//! not retry, fallback from a failing upstream to the local engine, an
//! Anthropic stream returned as OpenAI chunks, personal data masked on the
//! way out and in the usage log, a cut stream ending in an error event,
//! metrics, and a key revoked while the server runs.

use std::io::{BufRead, BufReader, Write};
use std::process::{Command, Stdio};

use super::inventory::{Inventory, fixtures, path};
use super::serve::{Server, add_and_approve, python, repo_root};

/// The mock upstreams, stopped when dropped.
pub(super) struct Mocks {
    child: std::process::Child,
    pub(super) openai: u16,
    anthropic: u16,
}

impl Mocks {
    pub(super) fn start() -> Mocks {
        let mut child = Command::new(python())
            .arg(repo_root().join("tests/gateway/mock_upstreams.py"))
            .args(["--lifetime", "900"])
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .spawn()
            .unwrap();
        let mut line = String::new();
        BufReader::new(child.stdout.take().unwrap())
            .read_line(&mut line)
            .unwrap();
        let ports: serde_json::Value = serde_json::from_str(&line)
            .unwrap_or_else(|e| panic!("mock_upstreams.py printed {line:?}: {e}"));
        Mocks {
            child,
            openai: u16::try_from(ports["openai"].as_u64().unwrap()).unwrap(),
            anthropic: u16::try_from(ports["anthropic"].as_u64().unwrap()).unwrap(),
        }
    }
}

impl Drop for Mocks {
    fn drop(&mut self) {
        if let Some(mut stdin) = self.child.stdin.take() {
            let _ = stdin.write_all(b"");
        }
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn config(mocks: &Mocks) -> String {
    format!(
        r#"
[auth]
refresh_seconds = 0.5

[[providers]]
name = "mock-openai"
kind = "openai"
base_url = "http://127.0.0.1:{openai}/v1"
api_key_env = "MODELGATE_TEST_UPSTREAM_KEY"
timeout_ms = 5000

[[providers]]
name = "mock-anthropic"
kind = "anthropic"
base_url = "http://127.0.0.1:{anthropic}"
api_key_env = "MODELGATE_TEST_UPSTREAM_KEY"

[[routes]]
name = "mock"
[[routes.targets]]
provider = "mock-openai"
model = "echo"

[[routes]]
name = "fallback"
[[routes.targets]]
provider = "mock-openai"
model = "fail500"
[[routes.targets]]
local = "smollm2@1.0"

[[routes]]
name = "claude"
[[routes.targets]]
provider = "mock-anthropic"
model = "claude-mock"

[[routes]]
name = "flaky"
[[routes.targets]]
provider = "mock-openai"
model = "fail429"

[[routes]]
name = "cut"
[[routes.targets]]
provider = "mock-openai"
model = "cut"

[[prices]]
model = "mock-openai/echo"
input_per_mtok = 10000
output_per_mtok = 10000

[masking]
external = "mask"
restore = true

[logging]
prompts = true
retention_days = 30

[routing]
retries = 1
backoff_ms = 20

[tracing]
otlp_endpoint = "http://127.0.0.1:{openai}"
"#,
        openai = mocks.openai,
        anthropic = mocks.anthropic
    )
}

/// A key for `team` made with the CLI.
pub(super) fn key(inventory: &Inventory, team: &str, extra: &[&str]) -> String {
    let mut args = vec!["keys", "create", "--team", team];
    args.extend_from_slice(extra);
    let created = inventory.json(&args);
    created["key"].as_str().unwrap().to_owned()
}

#[test]
fn openai_sdk_through_the_gateway() {
    let inventory = Inventory::new();
    let gguf = fixtures().join("smollm2/SmolLM2-135M-Instruct.Q4_1.gguf");
    assert!(
        gguf.is_file(),
        "run scripts/fixtures.sh: {} is missing",
        gguf.display()
    );
    add_and_approve(&inventory, path(&gguf), "smollm2");

    let keys = serde_json::json!({
        "search": key(&inventory, "search", &["--rpm", "1000", "--tpm", "1000000"]),
        "other": key(&inventory, "other", &[]),
        "legal": key(&inventory, "legal", &["--data-class", "confidential"]),
        "tight": key(&inventory, "search", &["--rpm", "2"]),
        "budget": key(&inventory, "search", &["--budget-usd", "0.01"]),
        "revoke": key(&inventory, "search", &[]),
        "tpm": key(&inventory, "search", &["--tpm", "1000"]),
        "spend": key(&inventory, "search", &["--budget-usd", "1"]),
    });
    for team in ["search", "legal"] {
        inventory.expect(
            0,
            &[
                "teams",
                "assign",
                team,
                "smollm2@1.0",
                "--purpose",
                "gateway test",
            ],
        );
        for route in ["mock", "fallback", "claude", "cut", "flaky"] {
            inventory.expect(0, &["teams", "grant", team, route]);
        }
    }
    inventory.expect(0, &["teams", "grant", "other", "claude"]);
    let listed = inventory.json(&["keys", "list"]);
    assert_eq!(listed.as_array().unwrap().len(), 8);
    assert!(
        !listed
            .to_string()
            .contains(keys["search"].as_str().unwrap()),
        "keys list shows a secret"
    );

    let mocks = Mocks::start();
    let config_path = inventory.dir("gateway").join("serve.toml");
    std::fs::write(&config_path, config(&mocks)).unwrap();
    let keys_path = inventory.dir("gateway").join("keys.json");
    std::fs::write(&keys_path, keys.to_string()).unwrap();

    let (server, base) = Server::start_with(
        &inventory,
        "smollm2@1.0",
        &["--config", path(&config_path)],
        &[("MODELGATE_TEST_UPSTREAM_KEY", "sk-mock-upstream-key")],
    );
    let output = Command::new(python())
        .arg(repo_root().join("tests/gateway/gateway_client.py"))
        .args(["--base-url", &base])
        .args(["--keys", path(&keys_path)])
        .args([
            "--mock-openai",
            &format!("http://127.0.0.1:{}", mocks.openai),
        ])
        .args(["--modelgate", env!("CARGO_BIN_EXE_modelgate")])
        .arg("--home")
        .arg(inventory.home.path())
        .args(["--config", path(&config_path)])
        .args(["--server-pid", &server.pid().to_string()])
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&output.stdout);
    let stderr = String::from_utf8_lossy(&output.stderr);
    println!("{stdout}");
    let (code, log) = server.stop();
    assert!(
        output.status.success(),
        "the gateway checks failed:\n{stdout}\n{stderr}\nserver log:\n{log}"
    );
    assert!(stdout.contains("all checks passed"));
    assert_eq!(code, 0, "modelgate serve did not stop cleanly:\n{log}");

    // Key changes are audit events, without the secret.
    let events = inventory.expect(0, &["audit", "log", "--format", "json"]);
    assert!(events.contains("key.created") && events.contains("key.revoked"));
    assert!(!events.contains(keys["search"].as_str().unwrap()));
    inventory.expect(0, &["audit", "verify"]);
}
