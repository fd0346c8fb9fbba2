//! `modelgate users`, `models review` and `modelgate console`: the console's
//! people made from a terminal, a reviewer's sign-off recorded the way the
//! console records it, and the console started on its own.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::process::Stdio;
use std::time::Duration;

use super::inventory::{Inventory, fixtures, path};

#[test]
fn users_are_added_with_roles_and_reviews_count_at_approval() {
    let inventory = Inventory::new();
    // A generated password is printed once; a piped one is taken as given.
    let ada = inventory.json(&["users", "add", "ada", "--role", "admin"]);
    assert_eq!(ada["role"], "admin");
    assert!(ada["password"].as_str().unwrap().len() >= 20, "{ada}");
    let mut child = inventory
        .command(&[
            "users",
            "add",
            "gil",
            "--role",
            "reviewer:governance",
            "--password-stdin",
        ])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    child
        .stdin
        .take()
        .unwrap()
        .write_all(b"a long enough passphrase\n")
        .unwrap();
    let output = child.wait_with_output().unwrap();
    assert!(output.status.success(), "{output:?}");
    assert!(String::from_utf8_lossy(&output.stdout).contains("added gil (reviewer:governance)"));
    // Refusals: an unknown role, a short password, a taken name.
    let (code, _, stderr) = inventory.run(&["users", "add", "x", "--role", "owner"]);
    assert_eq!(code, 2);
    assert!(stderr.contains("is not a role"), "{stderr}");
    let (code, _, stderr) = inventory.run(&["users", "add", "ada", "--role", "viewer"]);
    assert_eq!(code, 2);
    assert!(stderr.contains("user ada already exists"), "{stderr}");
    let users = inventory.json(&["users", "list"]);
    assert_eq!(users.as_array().unwrap().len(), 2);
    assert!(
        users.to_string().find("argon2").is_none(),
        "hashes never printed"
    );

    // SmolLM2 has no card: its verdict asks for a governance review.
    let gguf = fixtures().join("smollm2/SmolLM2-135M-Instruct.Q4_1.gguf");
    let added = inventory.json(&[
        "models",
        "add",
        path(&gguf),
        "--name",
        "smollm2",
        "--version",
        "1",
    ]);
    assert_eq!(added["decision"], "needs-review");
    let (code, _, stderr) = inventory.run(&["models", "approve", "smollm2@1", "--by", "ada"]);
    assert_eq!(code, 2, "{stderr}");
    let (code, _, stderr) = inventory.run(&[
        "models",
        "review",
        "smollm2@1",
        "--role",
        "governance",
        "--by",
        "gil",
        "--reject",
    ]);
    assert_eq!(code, 2);
    assert!(stderr.contains("a rejection must say why"), "{stderr}");
    let review = inventory.json(&[
        "models",
        "review",
        "smollm2@1",
        "--role",
        "governance",
        "--by",
        "gil",
        "--note",
        "internal use only",
    ]);
    assert_eq!(review["outcome"], "signed-off");
    let approved = inventory.json(&["models", "approve", "smollm2@1", "--by", "ada"]);
    assert_eq!(approved["to"], "approved", "{approved}");
    assert_eq!(approved["sign_offs"][0]["by"], "gil");
    inventory.expect(0, &["audit", "verify"]);
}

#[test]
fn the_console_runs_alone_and_asks_for_a_sign_in() {
    let inventory = Inventory::new();
    let mut child = inventory
        .command(&["console", "--listen", "127.0.0.1:0"])
        .stderr(Stdio::piped())
        .stdout(Stdio::null())
        .spawn()
        .unwrap();
    let stderr = child.stderr.take().unwrap();
    let mut lines = BufReader::new(stderr).lines();
    let mut log = Vec::new();
    let address = loop {
        let line = lines
            .next()
            .expect("the console printed its address")
            .unwrap();
        log.push(line.clone());
        if let Some(rest) = line.strip_prefix("modelgate console: http://") {
            break rest.trim_end_matches("/ui/").to_string();
        }
    };
    assert!(log.iter().any(|l| l.contains("no user yet")), "{log:?}");
    let mut stream = TcpStream::connect(&address).unwrap();
    stream
        .set_read_timeout(Some(Duration::from_secs(10)))
        .unwrap();
    stream
        .write_all(
            format!("GET /ui/catalogue HTTP/1.1\r\nHost: {address}\r\nConnection: close\r\n\r\n")
                .as_bytes(),
        )
        .unwrap();
    let mut response = String::new();
    stream.read_to_string(&mut response).unwrap();
    let _ = child.kill();
    let _ = child.wait();
    assert!(response.starts_with("HTTP/1.1 303"), "{response}");
    assert!(response.contains("location: /ui/login?next="), "{response}");
}
