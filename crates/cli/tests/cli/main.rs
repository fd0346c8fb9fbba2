//! The `modelgate` binary end to end, in one test target (one build, one
//! link): each module runs the real binary on real files and checks the
//! documented exit codes, text and JSON.
//!
//! - `analysis`: inspect, scan, vet and bom on the real models and corpora;
//! - `inventory`: models, teams, audit and bom --inventory in a fresh
//!   `--home` per test;
//! - `serve`: `modelgate serve` with real models, driven by the real
//!   `openai` Python SDK (tests/serve/openai_client.py);
//! - `gateway`: `modelgate serve` as a gateway (keys, grants, data classes,
//!   limits, budgets, routes with fallback, an Anthropic upstream, masking,
//!   usage, metrics) against mock upstreams, driven by the `openai` SDK;
//! - `sign`: sign and verify, with `model-signing`'s CLI in both directions;
//! - `formats`: each command's `--format` values, and the refusal of the
//!   others.
#![allow(clippy::unwrap_used, clippy::indexing_slicing, missing_docs)]

mod analysis;
mod console;
mod eval;
mod formats;
mod gateway;
mod inventory;
mod replicas;
mod serve;
mod sign;
