//! Integration tests for modelgate-eval: one target, one module per area.

#![allow(clippy::unwrap_used, clippy::indexing_slicing, missing_docs)]

mod assertions;
mod choice;
mod divergence;
mod report;
mod stats;
mod suite;

use std::io::Write;
use std::path::PathBuf;

/// A temp dir holding `suite.toml` with `toml` and the given data files;
/// returns the dir (keep it alive) and the TOML's path.
pub fn suite_dir(toml: &str, files: &[(&str, &[u8])]) -> (tempfile::TempDir, PathBuf) {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("suite.toml");
    std::fs::write(&path, toml).unwrap();
    for (name, bytes) in files {
        let file = dir.path().join(name);
        if let Some(parent) = file.parent() {
            std::fs::create_dir_all(parent).unwrap();
        }
        std::fs::write(file, bytes).unwrap();
    }
    (dir, path)
}

/// `bytes` gzip-compressed.
pub fn gzip(bytes: &[u8]) -> Vec<u8> {
    let mut encoder = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
    encoder.write_all(bytes).unwrap();
    encoder.finish().unwrap()
}
