//! Each command offers only the output formats it has: its help lists
//! them, it accepts each, and any other is a usage error (exit 2) naming
//! the ones it has.

use std::process::{Command, Output};

fn modelgate(home: &std::path::Path, args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_modelgate"))
        .args(args)
        .env("NO_COLOR", "1")
        .env("MODELGATE_HOME", home)
        .env_remove("MODELGATE_POLICY")
        .output()
        .unwrap()
}

/// The `--format` entry of a short help text, on one line.
fn format_entry(help: &str) -> String {
    let mut entry = Vec::new();
    for line in help
        .lines()
        .skip_while(|line| !line.trim_start().starts_with("--format"))
    {
        if !entry.is_empty() && line.trim_start().starts_with('-') {
            break;
        }
        entry.push(line.trim());
    }
    entry.join(" ")
}

/// `command` (the arguments that reach it, a path and what else it needs)
/// offers `offered` (the first being the default) and refuses `refused`.
fn check(command: &[&str], offered: &[&str], refused: &[&str]) {
    let home = tempfile::tempdir().unwrap();
    let help = modelgate(home.path(), &[command, &["-h"]].concat());
    assert_eq!(help.status.code(), Some(0), "{command:?} -h");
    let entry = format_entry(&String::from_utf8_lossy(&help.stdout));
    let values = format!("[possible values: {}]", offered.join(", "));
    assert!(
        entry.contains(&values),
        "{command:?}: {entry:?} lacks {values}"
    );
    let default = format!("[default: {}]", offered[0]);
    assert!(
        entry.contains(&default),
        "{command:?}: {entry:?} lacks {default}"
    );

    for format in offered {
        let output = modelgate(home.path(), &[command, &["--format", format]].concat());
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert!(
            !stderr.contains("invalid value"),
            "{command:?} --format {format}: {stderr}"
        );
    }
    for format in refused {
        let output = modelgate(home.path(), &[command, &["--format", format]].concat());
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert_eq!(
            output.status.code(),
            Some(2),
            "{command:?} --format {format}: {stderr}"
        );
        assert!(
            stderr.contains(&format!("invalid value '{format}' for '--format <FORMAT>'"))
                && stderr.contains(&values),
            "{command:?} --format {format}: {stderr}"
        );
        assert!(
            output.stdout.is_empty(),
            "{command:?} --format {format} wrote output"
        );
    }
}

macro_rules! formats {
    ($($test:ident: [$($arg:expr),*] offers [$($ok:expr),*] refuses [$($bad:expr),*];)*) => {
        $(
            #[test]
            fn $test() {
                check(&[$($arg),*], &[$($ok),*], &[$($bad),*]);
            }
        )*
    };
}

formats! {
    inspect_writes_text_or_json:
        ["inspect", "no-such-model.gguf"] offers ["text", "json"] refuses ["sarif", "markdown", "yaml"];
    scan_writes_text_json_or_sarif:
        ["scan", "no-such-model.pt"] offers ["text", "json", "sarif"] refuses ["markdown"];
    vet_writes_text_json_or_markdown:
        ["vet", "no-such-model"] offers ["text", "json", "markdown"] refuses ["sarif"];
    bom_writes_cyclonedx_json_only:
        ["bom", "no-such-model"] offers ["json"] refuses ["text", "sarif", "markdown"];
    sign_writes_text_or_json:
        ["sign", "no-such-model", "--key", "no-such-key.pem"] offers ["text", "json"] refuses ["sarif", "markdown"];
    verify_writes_text_or_json:
        ["verify", "no-such-model", "--public-key", "no-such-key.pub"] offers ["text", "json"] refuses ["sarif", "markdown"];
    models_write_text_or_json:
        ["models", "list"] offers ["text", "json"] refuses ["sarif", "markdown"];
    models_subcommands_share_the_flag:
        ["models", "due"] offers ["text", "json"] refuses ["markdown"];
    teams_write_text_or_json:
        ["teams", "list"] offers ["text", "json"] refuses ["sarif", "markdown"];
    audit_writes_text_or_json:
        ["audit", "verify"] offers ["text", "json"] refuses ["sarif", "markdown"];
}

#[test]
fn the_format_follows_the_command_not_the_program() {
    let home = tempfile::tempdir().unwrap();
    // There is no program-wide --format any more: it belongs to commands.
    let output = modelgate(home.path(), &["--format", "json", "models", "list"]);
    assert_eq!(output.status.code(), Some(2));
    // The models group's flag reaches its subcommands either side.
    for args in [
        &["models", "--format", "json", "list"][..],
        &["models", "list", "--format", "json"][..],
    ] {
        let output = modelgate(home.path(), args);
        assert_eq!(
            output.status.code(),
            Some(0),
            "{args:?}: {}",
            String::from_utf8_lossy(&output.stderr)
        );
        assert_eq!(String::from_utf8_lossy(&output.stdout).trim(), "[]");
    }
}
