//! Identify license texts and time `identify_text`.
//!
//! `cargo run --release -p modelgate-license --example identify` times
//! `identify_text` on a 12 KB license text (median of 51 runs) and prints how
//! every reference text identifies (score, runner-up, margin);
//! `... --example identify -- FILE...` identifies files instead.

use std::time::{Duration, Instant};

use modelgate_license::{identify_text, reference_ids, reference_text};

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let files: Vec<String> = std::env::args().skip(1).collect();
    if !files.is_empty() {
        for path in files {
            let text = String::from_utf8_lossy(&std::fs::read(&path)?).into_owned();
            let found = identify_text(&text);
            println!("{path}: {}", serde_json::to_string_pretty(&found)?);
        }
        return Ok(());
    }

    // Warm the reference index once, then time.
    let start = Instant::now();
    let _ = identify_text("warm up");
    println!("reference index built in {:?}", start.elapsed());

    // A 12 KB input: the Llama 3.1 license with the start of the Apache
    // license appended (so the embedded-window search runs too).
    let llama = reference_text("llama3.1").ok_or("no llama3.1 text")?;
    let apache = reference_text("apache-2.0").ok_or("no apache-2.0 text")?;
    let mut input = String::from(llama);
    input.push_str("\n\n");
    input.extend(apache.chars().take(12 * 1024 - llama.len()));
    let mut times: Vec<Duration> = Vec::new();
    let mut id = None;
    for _ in 0..51 {
        let start = Instant::now();
        let found = identify_text(&input);
        times.push(start.elapsed());
        id = found.id;
    }
    times.sort();
    let median = times.get(times.len() / 2).copied().unwrap_or_default();
    println!(
        "identify_text on {} bytes: {id:?}, median {median:?} over 51 runs",
        input.len()
    );

    println!(
        "\n{:<30} {:<30} {:>6} {:<30} {:>7}",
        "reference", "identified as", "score", "runner-up", "margin"
    );
    for id in reference_ids() {
        let text = reference_text(id).unwrap_or_default();
        let found = identify_text(text);
        println!(
            "{:<30} {:<30} {:>6.3} {:<30} {:>7.3}",
            id,
            found.id.as_deref().unwrap_or("-"),
            found.score,
            found.runner_up.as_deref().unwrap_or("-"),
            found.margin
        );
    }
    let mut pairs = modelgate_license::reference_similarity();
    pairs.sort_by(|a, b| b.2.total_cmp(&a.2));
    println!("\nmost similar reference pairs (Dice):");
    for (a, b, dice) in pairs.iter().take(15) {
        println!("  {a:<30} {b:<30} {dice:.3}");
    }
    Ok(())
}
