//! Security analysis of model artifacts: what runs when a model is loaded,
//! what reads or writes outside it, and what could not be verified.
//!
//! The scanner is pure over bytes: [`scan_loaded`] scans the files
//! `modelgate-formats` already read (the bytes a caller also hashes),
//! [`scan_paths`] asks `modelgate-formats` to read paths first, and
//! everything else takes bytes and returns [`Finding`]s. Each file is
//! dispatched by its content, never its name:
//!
//! - pickles (bare, inside PyTorch zips and legacy files, inside NumPy
//!   object arrays, behind compression) run through `modelgate-pickle`'s
//!   symbolic machine, and every import and call is judged against the data
//!   files in `rules/` ([`rules`]);
//! - containers (zip, tar, gzip/bz2/xz/lzma/zlib) are opened within
//!   [`Limits`](modelgate_formats::Limits) and their members scanned the
//!   same way, with the container's own anomalies reported;
//! - Keras Lambda layers, ONNX external data and custom domains, GGUF and
//!   safetensors header structure, chat templates ([`template`]), and
//!   repository code ([`python`]) each have rules.
//!
//! It fails closed: anything that cannot be parsed, or stops at a limit, is
//! a `high` finding, never silence. [`RULES`] lists every rule.
//!
//! ```no_run
//! let report = modelgate_scan::scan_paths(&["model.pt".into()], &Default::default()).unwrap();
//! for file in &report.files {
//!     for finding in &file.findings {
//!         println!("{} {} {}", file.path, finding.severity.name(), finding.message);
//!     }
//! }
//! ```

mod engine;
mod finding;
mod pickle;
pub mod python;
mod report;
pub mod rules;
pub mod template;

pub use engine::{Error, ScanOptions, scan_file, scan_loaded, scan_loaded_file, scan_paths};
pub use finding::{Finding, Location, Severity};
pub use report::{FileReport, RULES, Rule, ScanReport, Summary, rule, to_sarif};

/// Scan bytes already in memory, as if they were a file called `name`.
pub fn scan_bytes(bytes: &[u8], name: &str, options: &ScanOptions) -> (String, Vec<Finding>) {
    let mut findings = Vec::new();
    let format = engine::scan_bytes(bytes, name, true, 0, "", &options.limits, &mut findings);
    (format, findings)
}
