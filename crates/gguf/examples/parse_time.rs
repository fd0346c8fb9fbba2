//! Time `Gguf::parse` on one file: `cargo run --release -p modelgate-gguf
//! --example parse_time -- FILE.gguf`.

use std::time::Instant;

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let path = std::env::args()
        .nth(1)
        .ok_or("usage: parse_time FILE.gguf")?;
    let bytes = std::fs::read(&path)?;
    let mut times = Vec::new();
    let mut n_tensors = 0;
    for _ in 0..21 {
        let start = Instant::now();
        let gguf = modelgate_gguf::Gguf::parse(&bytes)?;
        times.push(start.elapsed());
        n_tensors = gguf.tensors.len();
    }
    times.sort();
    let median = times.get(times.len() / 2).copied().unwrap_or_default();
    println!("{path}: {n_tensors} tensors, median parse {median:?} over 21 runs");
    Ok(())
}
