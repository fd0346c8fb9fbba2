//! Time encoding a batch of 32 short sentences.
//!
//! ```text
//! cargo run -p modelgate-embed --release --example encode_batch -- DIR [ROUNDS]
//! ```
//!
//! DIR is a sentence-transformers snapshot (all-MiniLM-L6-v2: the `minilm`
//! directory under what `scripts/fixtures.sh` prints).

use std::path::PathBuf;
use std::time::Instant;

use modelgate_embed::{EmbedInput, SentenceEncoder};

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let mut args = std::env::args().skip(1);
    let dir = PathBuf::from(args.next().ok_or("usage: encode_batch DIR [ROUNDS]")?);
    let rounds: usize = args.next().map_or(Ok(10), |r| r.parse())?;

    let start = Instant::now();
    let encoder = SentenceEncoder::load(&dir)?;
    println!("load: {:.0} ms", start.elapsed().as_secs_f64() * 1e3);

    let subjects = ["The cat", "A programmer", "My neighbour", "The committee"];
    let verbs = ["reads", "ignores", "rewrites", "celebrates"];
    let objects = ["the report.", "a long novel.", "the old code."];
    let sentences: Vec<String> = (0..32)
        .map(|i| {
            let s = subjects.get(i % 4).copied().unwrap_or_default();
            let v = verbs.get((i / 4) % 4).copied().unwrap_or_default();
            let o = objects.get(i % 3).copied().unwrap_or_default();
            format!("{s} {v} {o}")
        })
        .collect();
    let inputs: Vec<EmbedInput<'_>> = sentences.iter().map(EmbedInput::from).collect();

    encoder.encode(&inputs)?; // warm-up
    let mut times = Vec::with_capacity(rounds);
    let mut tokens = 0;
    for _ in 0..rounds {
        let start = Instant::now();
        let out = encoder.encode(&inputs)?;
        times.push(start.elapsed().as_secs_f64() * 1e3);
        tokens = out.total_tokens();
    }
    times.sort_by(f64::total_cmp);
    let median = times.get(times.len() / 2).copied().unwrap_or_default();
    let best = times.first().copied().unwrap_or_default();
    println!(
        "batch of {} sentences ({tokens} tokens), {rounds} rounds: median {median:.1} ms, \
         best {best:.1} ms, {:.0} sentences/s",
        inputs.len(),
        inputs.len() as f64 / (median / 1e3)
    );
    Ok(())
}
