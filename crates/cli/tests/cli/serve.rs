//! `modelgate serve` end to end: SmolLM2 (GGUF, llama.cpp) and
//! all-MiniLM-L6-v2 (sentence-transformers, candle) vetted, recorded and
//! approved in a fresh inventory, served on 4 slots, and driven by the real
//! `openai` Python SDK (tests/serve/openai_client.py): chat, streaming with
//! usage, completions, embeddings, JSON-schema output, typed errors, a
//! disconnect freeing its slot, 16 concurrent streams, a deprecation and a
//! revocation applied while serving. Then SIGTERM, and the audit trail.

use std::io::{BufRead, BufReader};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::Duration;

use super::inventory::{Inventory, fixtures, minilm_repo, path};

pub(super) fn python() -> PathBuf {
    std::env::var_os("MODELGATE_PYTHON").map(PathBuf::from).expect(
        "MODELGATE_PYTHON is not set: run the tests through scripts/test.sh, which makes the venv with the openai SDK",
    )
}

pub(super) fn repo_root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../..")
}

/// Adds and approves a version (with a recorded override when vet says
/// `needs-review`, as a reviewer would for a test model).
pub(super) fn add_and_approve(inventory: &Inventory, model: &str, name: &str) {
    let added = inventory.json(&["models", "add", model, "--name", name, "--version", "1.0"]);
    let id = format!("{name}@1.0");
    if added["decision"] == "approved" {
        inventory.expect(0, &["models", "approve", &id, "--by", "tester"]);
    } else {
        inventory.expect(
            0,
            &[
                "models",
                "approve",
                &id,
                "--by",
                "tester",
                "--override",
                "--note",
                "test model, reviewed by the test",
            ],
        );
    }
}

/// A running server; killed if the test fails before it stops.
pub(super) struct Server {
    child: Child,
    stderr: mpsc::Receiver<String>,
    log: Vec<String>,
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
    }
}

impl Server {
    pub(super) fn start(inventory: &Inventory, models: &str) -> (Server, String) {
        // The API alone: no keys (the gateway has its own test).
        let config = inventory.dir("serve-config").join("serve.toml");
        std::fs::write(&config, "[auth]\nanonymous = true\n").unwrap();
        Server::start_with(
            inventory,
            models,
            &["--config", super::inventory::path(&config)],
            &[],
        )
    }

    /// Starts `modelgate serve` with `extra` flags and environment.
    pub(super) fn start_with(
        inventory: &Inventory,
        models: &str,
        extra: &[&str],
        env: &[(&str, &str)],
    ) -> (Server, String) {
        let mut command = inventory.command(&[
            "serve",
            "--listen",
            "127.0.0.1:0",
            "--models",
            models,
            "--slots",
            "4",
            "--ctx",
            "2048",
            "--threads",
            "2",
        ]);
        command.args(extra);
        command.envs(env.iter().copied());
        let mut child = command
            .stderr(Stdio::piped())
            .stdout(Stdio::null())
            .spawn()
            .unwrap();
        let stderr = child.stderr.take().unwrap();
        let (tx, rx) = mpsc::channel();
        std::thread::spawn(move || {
            for line in BufReader::new(stderr).lines().map_while(Result::ok) {
                if tx.send(line).is_err() {
                    break;
                }
            }
        });
        let mut server = Server {
            child,
            stderr: rx,
            log: Vec::new(),
        };
        loop {
            let line = server
                .stderr
                .recv_timeout(Duration::from_secs(300))
                .unwrap_or_else(|_| {
                    panic!(
                        "modelgate serve did not get ready:\n{}",
                        server.log.join("\n")
                    )
                });
            server.log.push(line.clone());
            if let Some(rest) = line.strip_prefix("modelgate serve: ready on ") {
                let base = rest.split_whitespace().next().unwrap().to_owned();
                return (server, base);
            }
        }
    }

    /// Waits up to `limit` for a line of the server's log containing
    /// `needle`.
    pub(super) fn wait_for(&mut self, needle: &str, limit: Duration) -> bool {
        if self.log.iter().any(|l| l.contains(needle)) {
            return true;
        }
        let deadline = std::time::Instant::now() + limit;
        while let Some(left) = deadline.checked_duration_since(std::time::Instant::now()) {
            match self.stderr.recv_timeout(left) {
                Ok(line) => {
                    let found = line.contains(needle);
                    self.log.push(line);
                    if found {
                        return true;
                    }
                }
                Err(_) => return false,
            }
        }
        false
    }

    /// The server's process id.
    pub(super) fn pid(&self) -> u32 {
        self.child.id()
    }

    pub(super) fn stop(mut self) -> (i32, String) {
        let pid = self.child.id().to_string();
        assert!(
            Command::new("kill")
                .args(["-TERM", &pid])
                .status()
                .unwrap()
                .success()
        );
        let status = self.child.wait().unwrap();
        while let Ok(line) = self.stderr.recv_timeout(Duration::from_secs(5)) {
            self.log.push(line);
        }
        (status.code().unwrap_or(-1), self.log.join("\n"))
    }
}

#[test]
fn openai_sdk_against_modelgate_serve() {
    let python = python();
    let inventory = Inventory::new();
    let gguf = fixtures().join("smollm2/SmolLM2-135M-Instruct.Q4_1.gguf");
    assert!(
        gguf.is_file(),
        "run scripts/fixtures.sh: {} is missing",
        gguf.display()
    );
    add_and_approve(&inventory, path(&gguf), "smollm2");
    let minilm = minilm_repo(inventory.dir("minilm"));
    add_and_approve(&inventory, path(&minilm), "minilm");

    let (server, base) = Server::start(&inventory, "smollm2@1.0,minilm@1.0");
    let output = Command::new(&python)
        .arg(repo_root().join("tests/serve/openai_client.py"))
        .args([
            "--base-url",
            &base,
            "--chat",
            "smollm2@1.0",
            "--embed",
            "minilm@1.0",
        ])
        .args(["--modelgate", env!("CARGO_BIN_EXE_modelgate")])
        .arg("--home")
        .arg(inventory.home.path())
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&output.stdout);
    let stderr = String::from_utf8_lossy(&output.stderr);
    println!("{stdout}");
    let (code, log) = server.stop();
    assert!(
        output.status.success(),
        "the openai SDK checks failed:\n{stdout}\n{stderr}\nserver log:\n{log}"
    );
    assert!(stdout.contains("all checks passed"));
    assert_eq!(
        code, 0,
        "modelgate serve did not stop cleanly on SIGTERM:\n{log}"
    );
    assert!(
        log.contains("verify") && log.contains("mmap") && log.contains("warm-up"),
        "{log}"
    );

    // Loads, the revocation's unload and the unload at stop are audit events.
    let events = inventory.expect(0, &["audit", "log", "--format", "json"]);
    let events: Vec<serde_json::Value> = events
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    let has = |action: &str, subject: &str| {
        events
            .iter()
            .any(|e| e["action"] == action && e["subject"] == subject)
    };
    assert!(has("serve.loaded", "smollm2@1.0") && has("serve.loaded", "minilm@1.0"));
    assert!(has("version.revoked", "smollm2@1.0") && has("serve.unloaded", "smollm2@1.0"));
    assert!(has("serve.unloaded", "minilm@1.0"));
    inventory.expect(0, &["audit", "verify"]);
}

#[test]
fn serve_refuses_versions_that_are_not_approved() {
    let inventory = Inventory::new();
    let gguf = fixtures().join("smollm2/SmolLM2-135M-Instruct.Q4_1.gguf");
    inventory.expect(
        0,
        &[
            "models",
            "add",
            path(&gguf),
            "--name",
            "smollm2",
            "--version",
            "1.0",
        ],
    );
    let (code, _, stderr) = inventory.run(&[
        "serve",
        "--listen",
        "127.0.0.1:0",
        "--models",
        "smollm2@1.0",
    ]);
    assert_eq!(code, 2, "{stderr}");
    assert!(
        stderr
            .contains("smollm2@1.0 is candidate; only approved or production versions are served"),
        "{stderr}"
    );
    let events = inventory.expect(0, &["audit", "log", "--format", "json"]);
    assert!(events.contains("serve.refused"), "{events}");
}
