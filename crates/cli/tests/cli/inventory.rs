//! `modelgate models`, `teams`, `audit` and `bom --inventory` end to end:
//! each test has its own inventory (MODELGATE_HOME in a temp dir) and
//! models assembled in a temp dir (the real MiniLM snapshot, a tiny
//! safetensors file, a pickle that imports os.system).

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use serde_json::Value;

/// An empty inventory and a work directory for models.
pub(super) struct Inventory {
    pub(super) home: tempfile::TempDir,
    work: tempfile::TempDir,
    /// The PostgreSQL database every command uses (MODELGATE_DATABASE_URL),
    /// or `None` for the SQLite file in `home`.
    pub(super) database: Option<String>,
}

impl Inventory {
    pub(super) fn new() -> Inventory {
        Inventory {
            home: tempfile::tempdir().unwrap(),
            work: tempfile::tempdir().unwrap(),
            database: None,
        }
    }

    /// An inventory in a new database on the test PostgreSQL, when there
    /// is one (`scripts/test.sh` starts it); else on SQLite.
    pub(super) fn on_postgres_if_available() -> Inventory {
        let mut inventory = Inventory::new();
        inventory.database = modelgate_testdata::postgres::server_url()
            .map(|base| modelgate_testdata::postgres::fresh_database(&base));
        inventory
    }

    pub(super) fn command(&self, args: &[&str]) -> Command {
        let mut command = Command::new(env!("CARGO_BIN_EXE_modelgate"));
        command
            .args(args)
            .env("MODELGATE_HOME", self.home.path())
            .env("NO_COLOR", "1")
            .env("USER", "tester");
        match &self.database {
            Some(url) => command.env("MODELGATE_DATABASE_URL", url),
            None => command.env_remove("MODELGATE_DATABASE_URL"),
        };
        command
    }

    /// Run modelgate; returns (exit code, stdout, stderr).
    pub(super) fn run(&self, args: &[&str]) -> (i32, String, String) {
        let output: Output = self.command(args).output().unwrap();
        (
            output.status.code().unwrap(),
            String::from_utf8_lossy(&output.stdout).into_owned(),
            String::from_utf8_lossy(&output.stderr).into_owned(),
        )
    }

    /// Run modelgate expecting `code`; returns stdout.
    pub(super) fn expect(&self, code: i32, args: &[&str]) -> String {
        let (actual, stdout, stderr) = self.run(args);
        assert_eq!(
            actual, code,
            "modelgate {args:?}\nstdout:\n{stdout}\nstderr:\n{stderr}"
        );
        stdout
    }

    /// `modelgate models add REPO --name NAME --version VERSION`, expecting
    /// exit 0.
    fn add(&self, repo: &Path, name: &str, version: &str) {
        self.expect(
            0,
            &[
                "models",
                "add",
                path(repo),
                "--name",
                name,
                "--version",
                version,
            ],
        );
    }

    /// Run modelgate with --format json expecting exit 0; returns the JSON.
    pub(super) fn json(&self, args: &[&str]) -> Value {
        let mut all = args.to_vec();
        all.extend(["--format", "json"]);
        let stdout = self.expect(0, &all);
        serde_json::from_str(&stdout).unwrap_or_else(|e| panic!("not JSON ({e}):\n{stdout}"))
    }

    /// Run a refused command: exit 2, stderr containing `message`, and the
    /// audit trail unchanged.
    fn refused(&self, args: &[&str], message: &str) {
        let before = self.n_events();
        let (code, stdout, stderr) = self.run(args);
        assert_eq!(
            code, 2,
            "modelgate {args:?}\nstdout:\n{stdout}\nstderr:\n{stderr}"
        );
        assert!(
            stderr.contains(message),
            "modelgate {args:?}: stderr lacks {message:?}:\n{stderr}"
        );
        assert_eq!(
            self.n_events(),
            before,
            "modelgate {args:?} changed the trail"
        );
    }

    fn n_events(&self) -> usize {
        self.expect(0, &["audit", "log", "--format", "json"])
            .lines()
            .count()
    }

    pub(super) fn dir(&self, name: &str) -> PathBuf {
        let dir = self.work.path().join(name);
        std::fs::create_dir_all(&dir).unwrap();
        dir
    }

    /// The database, opened as someone with access to the file would.
    fn database(&self) -> rusqlite::Connection {
        rusqlite::Connection::open(self.home.path().join("inventory.db")).unwrap()
    }
}

pub(super) fn fixtures() -> PathBuf {
    std::env::var_os("MODELGATE_FIXTURES")
        .map(PathBuf::from)
        .unwrap_or_else(|| {
            PathBuf::from(std::env::var_os("HOME").unwrap()).join(".cache/modelgate/fixtures")
        })
}

/// The real MiniLM snapshot: small files copied, weights symlinked (as in
/// a Hugging Face cache). Its vet verdict is `approved`.
pub(super) fn minilm_repo(dir: PathBuf) -> PathBuf {
    let minilm = fixtures().join("minilm");
    assert!(
        minilm.join("model.safetensors").is_file(),
        "real-model fixtures missing in {}: run scripts/fixtures.sh",
        minilm.display()
    );
    for entry in std::fs::read_dir(&minilm).unwrap() {
        let entry = entry.unwrap();
        let name = entry.file_name();
        if name == "model.safetensors" {
            std::os::unix::fs::symlink(entry.path(), dir.join(&name)).unwrap();
        } else if entry.file_type().unwrap().is_dir() {
            std::fs::create_dir_all(dir.join(&name)).unwrap();
            for inner in std::fs::read_dir(entry.path()).unwrap() {
                let inner = inner.unwrap();
                std::fs::copy(inner.path(), dir.join(&name).join(inner.file_name())).unwrap();
            }
        } else {
            std::fs::copy(entry.path(), dir.join(&name)).unwrap();
        }
    }
    dir
}

/// A one-tensor safetensors model with a config and notes: no license and
/// no card, so its verdict is `needs-review` by legal and governance.
fn tiny_repo(dir: PathBuf, seed: u8) -> PathBuf {
    let header = br#"{"w":{"dtype":"F32","shape":[2],"data_offsets":[0,8]}}"#;
    let mut bytes = (header.len() as u64).to_le_bytes().to_vec();
    bytes.extend_from_slice(header);
    bytes.extend_from_slice(&[seed; 8]);
    std::fs::write(dir.join("model.safetensors"), bytes).unwrap();
    std::fs::write(dir.join("config.json"), r#"{"model_type": "tiny"}"#).unwrap();
    std::fs::write(dir.join("notes.txt"), "made by the test\n").unwrap();
    dir
}

/// A pickle that imports os.system: its verdict is `rejected`.
fn evil_repo(dir: PathBuf) -> PathBuf {
    std::fs::write(dir.join("model.pkl"), b"cos\nsystem\n(S'echo pwned'\ntR.").unwrap();
    dir
}

pub(super) fn path(dir: &Path) -> &str {
    dir.to_str().unwrap()
}

#[test]
fn models_add_records_the_vet_evidence() {
    let inventory = Inventory::new();
    let repo = minilm_repo(inventory.dir("minilm"));
    let added = inventory.json(&[
        "models",
        "add",
        path(&repo),
        "--name",
        "all-MiniLM-L6-v2",
        "--version",
        "1.0",
        "--source",
        "sentence-transformers/all-MiniLM-L6-v2",
    ]);
    assert_eq!(added["stage"], "candidate");
    assert_eq!(added["decision"], "approved");
    assert_eq!(added["format"], "safetensors");
    assert_eq!(added["parameters"], 22_713_728);
    assert_eq!(added["n_files"], 12);
    assert_eq!(added["added_by"], "tester");

    let shown = inventory.json(&["models", "show", "all-MiniLM-L6-v2@1.0"]);
    let weights = shown["files"]
        .as_array()
        .unwrap()
        .iter()
        .find(|f| f["path"] == "model.safetensors")
        .unwrap();
    assert_eq!(weights["sha256"].as_str().unwrap().len(), 64);
    assert_eq!(weights["size"], 90_868_376);
    assert_eq!(shown["license"], "apache-2.0");
    assert_eq!(
        shown["provenance"]["source"],
        "sentence-transformers/all-MiniLM-L6-v2"
    );
    assert_eq!(
        shown["provenance"]["base_models"][0],
        "nreimers/MiniLM-L6-H384-uncased"
    );
    assert_eq!(shown["report"]["verdict"]["decision"], "approved");
    assert_eq!(shown["history"][0]["to"], "candidate");

    let list = inventory.json(&["models", "list"]);
    assert_eq!(list.as_array().unwrap().len(), 1);
    let model = inventory.json(&["models", "show", "all-MiniLM-L6-v2"]);
    assert_eq!(model["versions"][0]["version"], "1.0");
    let text = inventory.expect(0, &["models", "list"]);
    assert!(
        text.contains("all-MiniLM-L6-v2@1.0  candidate  approved  safetensors"),
        "{text}"
    );
}

#[test]
fn a_version_goes_through_its_stages_and_revoking_names_the_teams() {
    let inventory = Inventory::new();
    let repo = minilm_repo(inventory.dir("minilm"));
    inventory.add(&repo, "minilm", "1");
    let review_by = modelgate_inventory::Date::today().add_days(90).to_string();
    let approved = inventory.json(&[
        "models",
        "approve",
        "minilm@1",
        "--by",
        "bob",
        "--review-by",
        &review_by,
        "--note",
        "meets policy",
    ]);
    assert_eq!(approved["from"], "candidate");
    assert_eq!(approved["to"], "approved");
    assert_eq!(approved["review_by"], review_by.as_str());
    let promoted = inventory.expect(0, &["models", "promote", "minilm@1", "--by", "carol"]);
    assert!(
        promoted.contains("minilm@1: approved → production by carol"),
        "{promoted}"
    );
    inventory.expect(
        0,
        &[
            "teams",
            "assign",
            "search",
            "minilm@1",
            "--purpose",
            "semantic search",
        ],
    );
    inventory.expect(
        0,
        &[
            "teams",
            "assign",
            "support",
            "minilm@1",
            "--purpose",
            "ticket routing",
            "--by",
            "sue",
        ],
    );
    let teams = inventory.json(&["teams", "list"]);
    assert_eq!(teams.as_array().unwrap().len(), 2);
    assert_eq!(teams[1]["assigned_by"], "sue");

    let revoked = inventory.expect(
        0,
        &[
            "models",
            "revoke",
            "minilm@1",
            "--by",
            "dan",
            "--reason",
            "license withdrawn",
        ],
    );
    assert!(
        revoked.contains("production → revoked by dan: license withdrawn"),
        "{revoked}"
    );
    assert!(revoked.contains("Affected teams (2)"), "{revoked}");
    assert!(
        revoked.contains("search") && revoked.contains("support"),
        "{revoked}"
    );
    let teams = inventory.expect(0, &["teams", "list"]);
    assert!(teams.contains("revoked (move off it)"), "{teams}");

    let shown = inventory.json(&["models", "show", "minilm@1"]);
    let history: Vec<&str> = shown["history"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["to"].as_str().unwrap())
        .collect();
    assert_eq!(history, ["candidate", "approved", "production", "revoked"]);

    let log = inventory.expect(0, &["audit", "log", "--format", "json"]);
    let events: Vec<Value> = log
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    let actions: Vec<&str> = events
        .iter()
        .map(|e| e["action"].as_str().unwrap())
        .collect();
    assert_eq!(
        actions,
        [
            "version.added",
            "version.stored",
            "version.approved",
            "version.promoted",
            "team.assigned",
            "team.assigned",
            "version.revoked"
        ]
    );
    for (idx, event) in events.iter().enumerate() {
        assert_eq!(event["seq"], idx + 1);
        if idx > 0 {
            assert_eq!(event["prev_hash"], events[idx - 1]["hash"]);
        }
    }
    assert_eq!(events[6]["details"]["affected_teams"][1], "support");
    let verified = inventory.expect(0, &["audit", "verify"]);
    assert!(
        verified.starts_with("Audit trail intact: 7 events"),
        "{verified}"
    );
}

#[test]
fn refused_changes_exit_2_say_what_to_do_and_change_nothing() {
    let inventory = Inventory::new();
    let repo = tiny_repo(inventory.dir("tiny"), 1);
    inventory.add(&repo, "tiny", "1");
    inventory.refused(
        &["models", "promote", "tiny@1", "--by", "carol"],
        "cannot promote tiny@1: it is candidate, and promote needs approved; approve it first",
    );
    inventory.refused(
        &["models", "deprecate", "tiny@1", "--by", "carol"],
        "cannot deprecate tiny@1: it is candidate",
    );
    inventory.refused(&["models", "approve", "tiny@1"], "--by <WHO>");
    inventory.refused(
        &[
            "models",
            "approve",
            "tiny@1",
            "--by",
            " ",
            "--override",
            "--note",
            "x",
        ],
        "approver is empty; pass --by WHO",
    );
    inventory.refused(
        &["models", "approve", "tiny@2", "--by", "bob"],
        "no version tiny@2 in the inventory (its versions: 1); see `modelgate models list`",
    );
    inventory.refused(
        &["models", "approve", "tiny", "--by", "bob"],
        "is not NAME@VERSION",
    );
    inventory.refused(
        &[
            "models",
            "add",
            path(&repo),
            "--name",
            "tiny",
            "--version",
            "1",
        ],
        "tiny@1 is already in the inventory; versions are immutable",
    );
    inventory.refused(
        &["teams", "assign", "search", "tiny@1", "--purpose", "x"],
        "cannot assign tiny@1 to team search: it is candidate",
    );
    inventory.refused(
        &["models", "revoke", "tiny@1", "--by", "dan"],
        "--reason <TEXT>",
    );
    inventory.expect(
        0,
        &[
            "models", "revoke", "tiny@1", "--by", "dan", "--reason", "unused",
        ],
    );
    inventory.refused(
        &[
            "models",
            "approve",
            "tiny@1",
            "--by",
            "bob",
            "--override",
            "--note",
            "x",
        ],
        "cannot approve tiny@1: it is revoked",
    );
    inventory.refused(
        &[
            "models", "revoke", "tiny@1", "--by", "dan", "--reason", "again",
        ],
        "cannot revoke tiny@1: it is revoked",
    );
    inventory.expect(0, &["audit", "verify"]);
}

#[test]
fn approval_needs_the_verdict_sign_offs_or_a_recorded_override() {
    let inventory = Inventory::new();
    let evil = evil_repo(inventory.dir("evil"));
    let added = inventory.json(&[
        "models",
        "add",
        path(&evil),
        "--name",
        "evil",
        "--version",
        "1",
    ]);
    assert_eq!(added["decision"], "rejected");
    inventory.refused(
        &["models", "approve", "evil@1", "--by", "bob"],
        "cannot approve evil@1: the policy's verdict is rejected",
    );
    inventory.refused(
        &["models", "approve", "evil@1", "--by", "bob"],
        "or approve with --override --note WHY",
    );
    inventory.refused(
        &["models", "approve", "evil@1", "--by", "bob", "--override"],
        "an override of the verdict must say why; add --note WHY",
    );
    let overridden = inventory.json(&[
        "models",
        "approve",
        "evil@1",
        "--by",
        "bob",
        "--override",
        "--note",
        "sandboxed red-team use only (SEC-7)",
    ]);
    assert_eq!(overridden["override"], true);
    assert_eq!(overridden["note"], "sandboxed red-team use only (SEC-7)");

    let tiny = tiny_repo(inventory.dir("tiny"), 2);
    let added = inventory.json(&[
        "models",
        "add",
        path(&tiny),
        "--name",
        "tiny",
        "--version",
        "1",
    ]);
    assert_eq!(added["decision"], "needs-review");
    assert_eq!(
        added["reviewers"],
        serde_json::json!(["legal", "governance"])
    );
    inventory.refused(
        &[
            "models",
            "approve",
            "tiny@1",
            "--by",
            "bob",
            "--sign-off",
            "legal=lena",
        ],
        "the verdict needs review by legal, governance, and governance did not sign off",
    );
    inventory.refused(
        &[
            "models",
            "approve",
            "tiny@1",
            "--by",
            "bob",
            "--sign-off",
            "lawyer=lena",
        ],
        "\"lawyer\" is not a reviewer",
    );
    let approved = inventory.json(&[
        "models",
        "approve",
        "tiny@1",
        "--by",
        "bob",
        "--sign-off",
        "legal=lena",
        "--sign-off",
        "governance=gus",
    ]);
    assert_eq!(approved["sign_offs"][1]["reviewer"], "governance");
    assert_eq!(approved["sign_offs"][1]["by"], "gus");
    inventory.expect(0, &["audit", "verify"]);
}

#[test]
fn a_single_file_model_verifies_against_its_own_digest() {
    let inventory = Inventory::new();
    let file = inventory.dir("gguf").join("model.gguf");
    std::fs::copy(modelgate_testdata::smollm2(), &file).unwrap();
    inventory.add(&file, "smol", "1");
    let ok = inventory.expect(0, &["models", "verify", "smol@1"]);
    assert!(ok.contains("1 files in"), "{ok}");
    let json = inventory.json(&["models", "show", "smol@1"]);
    assert_eq!(json["files"][0]["path"], "model.gguf", "{json:#}");
    // One flipped byte at the end of the weights is a modified file.
    let mut bytes = std::fs::read(&file).unwrap();
    if let Some(last) = bytes.last_mut() {
        *last ^= 1;
    }
    std::fs::write(&file, bytes).unwrap();
    let text = inventory.expect(1, &["models", "verify", "smol@1"]);
    assert!(text.contains("modified model.gguf"), "{text}");
}

#[test]
fn models_verify_names_every_changed_file() {
    let inventory = Inventory::new();
    let repo = tiny_repo(inventory.dir("tiny"), 3);
    inventory.add(&repo, "tiny", "1");
    let ok = inventory.expect(0, &["models", "verify", "tiny@1"]);
    assert!(ok.contains("3 files in"), "{ok}");

    let copy = tiny_repo(inventory.dir("copy"), 3);
    std::fs::write(repo.join("config.json"), r#"{"model_type": "evil"}"#).unwrap();
    std::fs::write(repo.join("extra.py"), "import os\n").unwrap();
    std::fs::remove_file(repo.join("notes.txt")).unwrap();
    let text = inventory.expect(1, &["models", "verify", "tiny@1"]);
    assert!(text.contains("DOES NOT MATCH"), "{text}");
    assert!(text.contains("modified config.json"), "{text}");
    assert!(text.contains("added    extra.py"), "{text}");
    assert!(text.contains("removed  notes.txt"), "{text}");
    let json: Value = serde_json::from_str(
        &inventory.expect(1, &["models", "verify", "tiny@1", "--format", "json"]),
    )
    .unwrap();
    assert_eq!(json["verified"], false);
    assert_eq!(json["modified"], serde_json::json!(["config.json"]));
    assert_eq!(json["added"], serde_json::json!(["extra.py"]));
    assert_eq!(json["removed"], serde_json::json!(["notes.txt"]));
    // An untouched copy elsewhere still matches.
    inventory.expect(0, &["models", "verify", "tiny@1", path(&copy)]);
    inventory.refused(
        &["models", "verify", "tiny@1", "/nonexistent/model"],
        "does not exist",
    );
}

#[test]
fn due_lists_versions_past_their_review_date() {
    let inventory = Inventory::new();
    let today = modelgate_inventory::Date::today();
    for (idx, name) in ["a", "b", "c"].iter().enumerate() {
        let repo = tiny_repo(inventory.dir(name), 10 + idx as u8);
        inventory.add(&repo, name, "1");
    }
    let approve = |reference: &str, review_by: &str| {
        inventory.expect(
            0,
            &[
                "models",
                "approve",
                reference,
                "--by",
                "bob",
                "--review-by",
                review_by,
                "--sign-off",
                "legal=lena",
                "--sign-off",
                "governance=gus",
            ],
        )
    };
    approve("a@1", &today.add_days(10).to_string());
    approve("b@1", &today.add_days(200).to_string());
    inventory.refused(
        &[
            "models",
            "approve",
            "c@1",
            "--by",
            "bob",
            "--override",
            "--note",
            "x",
            "--review-by",
            &today.to_string(),
        ],
        "is not after today",
    );
    inventory.refused(
        &[
            "models",
            "approve",
            "c@1",
            "--by",
            "bob",
            "--review-by",
            "next week",
        ],
        "is not a date (YYYY-MM-DD)",
    );
    let none = inventory.expect(0, &["models", "due"]);
    assert!(none.starts_with("Nothing is due for review by"), "{none}");
    let due = inventory.json(&["models", "due", "--as-of", &today.add_days(10).to_string()]);
    let names: Vec<&str> = due
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v["name"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["a"]);
    assert_eq!(due[0]["review_due"], true);
    let later = inventory.json(&["models", "due", "--as-of", &today.add_days(365).to_string()]);
    assert_eq!(later.as_array().unwrap().len(), 2);
    let text = inventory.expect(
        0,
        &["models", "due", "--as-of", &today.add_days(365).to_string()],
    );
    assert!(text.contains("DUE"), "{text}");
}

#[test]
fn concurrent_adds_lose_nothing() {
    let inventory = Inventory::new();
    let n_processes = 6;
    let repos: Vec<PathBuf> = (0..n_processes)
        .map(|idx| tiny_repo(inventory.dir(&format!("m{idx}")), idx))
        .collect();
    let children: Vec<_> = repos
        .iter()
        .enumerate()
        .map(|(idx, repo)| {
            inventory
                .command(&[
                    "models",
                    "add",
                    path(repo),
                    "--name",
                    "parallel",
                    "--version",
                    &idx.to_string(),
                ])
                .stdout(std::process::Stdio::piped())
                .stderr(std::process::Stdio::piped())
                .spawn()
                .unwrap()
        })
        .collect();
    for child in children {
        let output = child.wait_with_output().unwrap();
        assert!(
            output.status.success(),
            "{}",
            String::from_utf8_lossy(&output.stderr)
        );
    }
    let list = inventory.json(&["models", "list"]);
    assert_eq!(list.as_array().unwrap().len(), usize::from(n_processes));
    let log = inventory.expect(0, &["audit", "log", "--format", "json"]);
    let seqs: Vec<u64> = log
        .lines()
        .map(|l| {
            serde_json::from_str::<Value>(l).unwrap()["seq"]
                .as_u64()
                .unwrap()
        })
        .collect();
    // Each add is two events: version.added and version.stored.
    assert_eq!(seqs, (1..=2 * u64::from(n_processes)).collect::<Vec<_>>());
    inventory.expect(0, &["audit", "verify"]);
}

/// An inventory with five changes in seven events: tiny@1 added (and
/// stored), approved, promoted; tiny@2 added (and stored); tiny@1 assigned.
fn five_events() -> Inventory {
    let inventory = Inventory::new();
    let one = tiny_repo(inventory.dir("one"), 1);
    let two = tiny_repo(inventory.dir("two"), 2);
    inventory.add(&one, "tiny", "1");
    inventory.expect(
        0,
        &[
            "models",
            "approve",
            "tiny@1",
            "--by",
            "bob",
            "--sign-off",
            "legal=l",
            "--sign-off",
            "governance=g",
        ],
    );
    inventory.expect(0, &["models", "promote", "tiny@1", "--by", "carol"]);
    inventory.add(&two, "tiny", "2");
    inventory.expect(
        0,
        &[
            "teams",
            "assign",
            "search",
            "tiny@1",
            "--purpose",
            "ranking",
        ],
    );
    inventory.expect(0, &["audit", "verify"]);
    inventory
}

/// Tamper with the trail as an attacker with the file can: drop the
/// append-only triggers, turn off foreign keys, run `sql`.
fn tamper(inventory: &Inventory, sql: &str) {
    inventory
        .database()
        .execute_batch(&format!(
            "PRAGMA foreign_keys = OFF;
             DROP TRIGGER events_no_update; DROP TRIGGER events_no_delete;
             {sql}"
        ))
        .unwrap();
}

fn first_bad(inventory: &Inventory) -> (Value, String) {
    let text = inventory.expect(1, &["audit", "verify"]);
    let json: Value =
        serde_json::from_str(&inventory.expect(1, &["audit", "verify", "--format", "json"]))
            .unwrap();
    (json["first_bad"].clone(), text)
}

#[test]
fn the_database_refuses_to_edit_or_delete_events() {
    let inventory = five_events();
    let db = inventory.database();
    let update = db.execute("UPDATE events SET actor = 'mallory' WHERE seq = 2", []);
    assert!(update.unwrap_err().to_string().contains("append-only"));
    let delete = db.execute("DELETE FROM events", []);
    assert!(delete.unwrap_err().to_string().contains("append-only"));
    inventory.expect(0, &["audit", "verify"]);
}

#[test]
fn audit_verify_names_an_edited_event() {
    let inventory = five_events();
    tamper(
        &inventory,
        "UPDATE events SET actor = 'mallory' WHERE seq = 3;",
    );
    let (first, text) = first_bad(&inventory);
    assert_eq!(first, 3, "{text}");
    assert!(
        text.starts_with("AUDIT TRAIL TAMPERED: first bad event 3"),
        "{text}"
    );
    assert!(
        text.contains("event 3 (version.approved tiny@1) was changed"),
        "{text}"
    );
}

#[test]
fn audit_verify_names_a_deleted_event() {
    let inventory = five_events();
    tamper(&inventory, "DELETE FROM events WHERE seq = 3;");
    let (first, text) = first_bad(&inventory);
    assert_eq!(first, 3, "{text}");
    assert!(text.contains("event 3 is missing"), "{text}");
}

#[test]
fn audit_verify_names_reordered_events() {
    let inventory = five_events();
    tamper(
        &inventory,
        "UPDATE events SET seq = -1 WHERE seq = 2;
         UPDATE events SET seq = 2 WHERE seq = 3;
         UPDATE events SET seq = 3 WHERE seq = -1;",
    );
    let (first, text) = first_bad(&inventory);
    assert_eq!(first, 2, "{text}");
}

#[test]
fn audit_verify_reports_a_value_of_the_wrong_type_as_tampering() {
    let inventory = five_events();
    tamper(&inventory, "UPDATE events SET actor = X'FF' WHERE seq = 2;");
    let (first, text) = first_bad(&inventory);
    assert_eq!(first, 2, "{text}");
    inventory.expect(0, &["audit", "log"]);
}

#[test]
fn audit_verify_finds_state_changed_behind_its_back() {
    let inventory = five_events();
    // Promote tiny@2 without an event, and drop the last event.
    tamper(
        &inventory,
        "UPDATE versions SET stage = 'production' WHERE version = '2';
         DELETE FROM events WHERE seq = 7;",
    );
    let text = inventory.expect(1, &["audit", "verify"]);
    assert!(
        text.starts_with("AUDIT TRAIL DOES NOT MATCH THE INVENTORY"),
        "{text}"
    );
    assert!(
        text.contains(
            "tiny@2 is production in the inventory, but the audit trail leaves it candidate"
        ),
        "{text}"
    );
    assert!(
        text.contains(
            "team search uses tiny@1 in the inventory, but the audit trail never assigned it"
        ),
        "{text}"
    );
}

#[test]
fn bom_inventory_lists_approved_and_production_versions() {
    let inventory = Inventory::new();
    let minilm = minilm_repo(inventory.dir("minilm"));
    let tiny = tiny_repo(inventory.dir("tiny"), 4);
    inventory.add(&minilm, "minilm", "1");
    inventory.add(&tiny, "tiny", "1");
    inventory.expect(0, &["models", "approve", "minilm@1", "--by", "bob"]);
    let bom = inventory.json(&["bom", "--inventory"]);
    assert_eq!(bom["bomFormat"], "CycloneDX");
    assert_eq!(bom["specVersion"], "1.6");
    let components = bom["components"].as_array().unwrap();
    assert_eq!(components.len(), 1, "only approved and production versions");
    let model = &components[0];
    assert_eq!(model["type"], "machine-learning-model");
    let properties: Vec<(&str, &str)> = model["properties"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| (p["name"].as_str().unwrap(), p["value"].as_str().unwrap()))
        .collect();
    assert!(
        properties.contains(&("modelgate:inventory-version", "minilm@1")),
        "{properties:?}"
    );
    assert!(
        properties.contains(&("modelgate:stage", "approved")),
        "{properties:?}"
    );
    assert!(
        properties.contains(&("modelgate:verdict", "approved")),
        "{properties:?}"
    );
    assert_eq!(model["components"].as_array().unwrap().len(), 12);

    let output = inventory.work.path().join("inventory.cdx.json");
    inventory.expect(0, &["bom", "--inventory", "--output", path(&output)]);
    let written: Value = serde_json::from_slice(&std::fs::read(&output).unwrap()).unwrap();
    assert_eq!(written["components"].as_array().unwrap().len(), 1);
    inventory.refused(&["bom"], "required arguments were not provided");
    inventory.refused(&["bom", "--inventory", path(&tiny)], "cannot be used with");
}

#[test]
fn home_flag_chooses_the_inventory() {
    let inventory = Inventory::new();
    let other = tempfile::tempdir().unwrap();
    let repo = tiny_repo(inventory.dir("tiny"), 5);
    let home = other.path().join("nested/home");
    inventory.expect(
        0,
        &[
            "--home",
            path(&home),
            "models",
            "add",
            path(&repo),
            "--name",
            "t",
            "--version",
            "1",
        ],
    );
    assert!(home.join("inventory.db").is_file());
    let empty = inventory.expect(0, &["models", "list"]);
    assert!(empty.starts_with("The inventory is empty"), "{empty}");
    let list = inventory.json(&["models", "list", "--home", path(&home)]);
    assert_eq!(list.as_array().unwrap().len(), 1);
}

#[test]
fn variant_of_links_another_version() {
    let inventory = Inventory::new();
    let f32 = tiny_repo(inventory.dir("f32"), 6);
    let other = tiny_repo(inventory.dir("other"), 7);
    inventory.add(&f32, "tiny", "1-f32");
    inventory.expect(
        0,
        &[
            "models",
            "add",
            path(&other),
            "--name",
            "tiny-q8",
            "--version",
            "1",
            "--variant-of",
            "tiny@1-f32",
        ],
    );
    let shown = inventory.json(&["models", "show", "tiny@1-f32"]);
    assert_eq!(shown["variants"][0]["name"], "tiny-q8");
    assert_eq!(shown["variants"][0]["link"], "has-variant");
    let shown = inventory.json(&["models", "show", "tiny-q8@1"]);
    assert_eq!(shown["variants"][0]["link"], "variant-of");
    inventory.refused(
        &[
            "models",
            "add",
            path(&other),
            "--name",
            "tiny-q4",
            "--version",
            "1",
            "--variant-of",
            "tiny@9",
        ],
        "no version tiny@9 in the inventory",
    );
}

#[test]
fn models_add_keeps_read_only_copies_and_verify_checks_them() {
    let inventory = Inventory::new();
    let repo = tiny_repo(inventory.dir("tiny"), 7);
    inventory.add(&repo, "tiny", "1");
    let shown = inventory.json(&["models", "show", "tiny@1"]);
    let files = shown["files"].as_array().unwrap();
    let sha_dir = inventory.home.path().join("blobs/sha256");
    for file in files {
        let blob = sha_dir.join(file["sha256"].as_str().unwrap());
        let stored = std::fs::read(&blob).unwrap();
        let source = std::fs::read(repo.join(file["path"].as_str().unwrap())).unwrap();
        assert_eq!(stored, source, "{file}");
        assert!(std::fs::metadata(&blob).unwrap().permissions().readonly());
    }
    let ok = inventory.expect(0, &["models", "verify", "tiny@1"]);
    assert!(ok.contains("and so do their stored copies"), "{ok}");
    let notes = files
        .iter()
        .find(|file| file["path"] == "notes.txt")
        .unwrap();
    let blob = sha_dir.join(notes["sha256"].as_str().unwrap());
    let mut permissions = std::fs::metadata(&blob).unwrap().permissions();
    #[allow(clippy::permissions_set_readonly_false)]
    permissions.set_readonly(false);
    std::fs::set_permissions(&blob, permissions).unwrap();
    std::fs::write(&blob, "tampered\n").unwrap();
    let text = inventory.expect(1, &["models", "verify", "tiny@1"]);
    assert!(text.contains("STORED COPIES DO NOT MATCH"), "{text}");
    assert!(text.contains("notes.txt: the stored copy"), "{text}");
    let json: Value = serde_json::from_str(
        &inventory.expect(1, &["models", "verify", "tiny@1", "--format", "json"]),
    )
    .unwrap();
    assert_eq!(json["verified"], false);
    assert_eq!(json["stored"], true);
    assert_eq!(json["blob_problems"][0]["path"], "notes.txt");
    std::fs::remove_file(&blob).unwrap();
    let text = inventory.expect(1, &["models", "verify", "tiny@1"]);
    assert!(text.contains("is missing"), "{text}");
}

#[test]
fn db_status_and_migrate_say_where_the_schema_stands() {
    let inventory = Inventory::new();
    let status = inventory.expect(1, &["db", "status"]);
    assert!(status.contains("no database yet"), "{status}");
    assert!(
        !inventory.home.path().join("inventory.db").exists(),
        "db status created the database"
    );

    let migrated = inventory.json(&["db", "migrate"]);
    assert_eq!(migrated["from"], 0);
    let known = migrated["to"].as_u64().unwrap();
    assert!(known >= 6, "{migrated}");
    assert_eq!(migrated["applied"].as_array().unwrap().len() as u64, known);
    let status = inventory.json(&["db", "status"]);
    assert_eq!(status["applied"], known);
    assert_eq!(status["pending"], serde_json::json!([]));
    let again = inventory.expect(0, &["db", "migrate"]);
    assert!(again.contains("nothing to do"), "{again}");

    // A database a newer modelgate migrated: named, and refused.
    let conn = rusqlite::Connection::open(inventory.home.path().join("inventory.db")).unwrap();
    conn.execute(
        "INSERT INTO schema_migrations (version, name, applied_at) VALUES (?1, 'from_the_future', '2027-01-01T00:00:00Z')",
        [i64::try_from(known).unwrap() + 1],
    )
    .unwrap();
    drop(conn);
    let status = inventory.expect(2, &["db", "status"]);
    assert!(status.contains("newer than this modelgate's"), "{status}");
    let (code, _, stderr) = inventory.run(&["models", "list"]);
    assert_eq!(code, 2);
    assert!(
        stderr.contains("newer than this modelgate's") && stderr.contains("upgrade"),
        "{stderr}"
    );
}

#[test]
fn an_installation_moves_to_postgres_with_db_copy_and_runs_there() {
    let Some(base) = modelgate_testdata::postgres::server_url() else {
        return;
    };
    let inventory = Inventory::new();
    let repo = minilm_repo(inventory.dir("minilm"));
    inventory.add(&repo, "minilm", "1");
    inventory.expect(0, &["models", "approve", "minilm@1", "--by", "bob"]);
    let key = crate::gateway::key(&inventory, "search", &["--rpm", "60"]);
    let target = modelgate_testdata::postgres::fresh_database(&base);

    let copied = inventory.json(&["db", "copy", "--to", &target]);
    assert_eq!(copied["audit"]["ok"], true, "{copied}");
    let events = copied["audit"]["n_events"].as_u64().unwrap();
    assert!(events >= 3, "{copied}");
    assert_eq!(copied["to"], target.as_str());

    // The same commands, on PostgreSQL.
    let on_pg = |args: &[&str]| {
        let mut all = vec!["--database", target.as_str()];
        all.extend_from_slice(args);
        all.iter().map(|s| (*s).to_owned()).collect::<Vec<_>>()
    };
    let args = on_pg(&["models", "list"]);
    let listed = inventory.json(&args.iter().map(String::as_str).collect::<Vec<_>>());
    assert_eq!(listed[0]["name"], "minilm", "{listed}");
    assert_eq!(listed[0]["stage"], "approved", "{listed}");
    let args = on_pg(&["keys", "list"]);
    let keys = inventory.json(&args.iter().map(String::as_str).collect::<Vec<_>>());
    assert!(key.contains(keys[0]["id"].as_str().unwrap()), "{keys}");
    let args = on_pg(&["models", "promote", "minilm@1", "--by", "carol"]);
    inventory.expect(0, &args.iter().map(String::as_str).collect::<Vec<_>>());
    let args = on_pg(&["audit", "verify"]);
    let verified = inventory.expect(0, &args.iter().map(String::as_str).collect::<Vec<_>>());
    assert!(verified.contains(&format!("{}", events + 1)), "{verified}");
    let args = on_pg(&["db", "status"]);
    let status = inventory.expect(0, &args.iter().map(String::as_str).collect::<Vec<_>>());
    assert!(status.contains("up to date"), "{status}");

    // Not twice, and not into a URL that is not a database.
    let (code, _, stderr) = inventory.run(&["db", "copy", "--to", &target]);
    assert_eq!(code, 2, "{stderr}");
    assert!(stderr.contains("already holds an inventory"), "{stderr}");
    let (code, _, stderr) = inventory.run(&["--database", "mysql://x/y", "models", "list"]);
    assert_eq!(code, 2, "{stderr}");
    assert!(stderr.contains("postgres://"), "{stderr}");
}
