//! Turns parsed model artifacts into the facts a user needs before running a
//! model: what it is, how big it is, and what it will take to run.
//!
//! Purpose: from [`modelgate_formats::Loaded`] (already parsed, headers only)
//! compute per artifact the format, architecture, exact parameter count (from
//! tensor shapes), bytes per dtype or quantization type, context length,
//! vocabulary, layers, attention and KV heads, chat template, embedded
//! metadata and the runtimes that can load it; then a memory estimate:
//! weights, a KV cache at a chosen context, and whether it fits. For GGUF
//! models the KV cache is the one llama.cpp allocates, sliding-window
//! layers included ([`context_estimate`], which `modelgate serve` also uses
//! to admit a model for a planned context before loading it).
//!
//! Non-purpose: reading files (the caller loads), judging safety or licenses
//! (later analysers), rendering (the CLI renders [`Report`] as text or JSON).
//! This crate is pure: the machine's memory size is an input, not a probe.
//!
//! Main types: [`Report`], [`ArtifactFacts`], [`MemoryEstimate`],
//! [`InspectOptions`]; the entry point is [`inspect`]. For a context plan:
//! [`ContextPlan`] → [`context_estimate`] → [`ContextMemory`].
//!
//! ```no_run
//! use modelgate_formats::{load, LoadOptions};
//! use modelgate_inspect::{inspect, InspectOptions};
//! let loaded = load(std::path::Path::new("SmolLM2.gguf"), &LoadOptions::default())?;
//! let report = inspect(&loaded, &InspectOptions { context_length: Some(4096), machine_memory_bytes: None });
//! println!("{} parameters", report.artifacts[0].parameters.unwrap_or(0));
//! # Ok::<(), modelgate_formats::Error>(())
//! ```

mod facts;
pub mod kv_layout;
mod memory;
mod runtimes;

pub use facts::{ArtifactFacts, DtypeBytes, EmbeddedMetadata, artifact_facts};
pub use kv_layout::{KvLayer, KvLayout, LayoutError, MemoryKind, SwaKind, kv_layout};
pub use memory::{
    ContextMemory, ContextPlan, EstimateError, FlashAttn, MemoryEstimate, context_estimate,
    human_bytes, kv_cache_bytes, layout_estimate,
};

use modelgate_formats::Loaded;
use serde::Serialize;

/// What [`inspect`] assumes about the deployment.
#[derive(Debug, Clone, Default)]
pub struct InspectOptions {
    /// Context length for the KV-cache estimate; `None` uses the model's own.
    pub context_length: Option<u64>,
    /// Memory of the machine the model would run on, for the "fits" answer.
    pub machine_memory_bytes: Option<u64>,
}

/// The answer to "what is this, how big is it, what will it take to run?".
///
/// This is modelgate's JSON interface for `inspect`: field names are stable.
#[derive(Debug, Clone, Serialize)]
pub struct Report {
    /// One entry per parsed file, sorted by path.
    pub artifacts: Vec<ArtifactFacts>,
    /// The memory needed to run the model's primary variant; `None` when
    /// nothing under the path holds weights.
    pub memory: Option<MemoryEstimate>,
    /// Files that could not be read or parsed.
    pub errors: Vec<FileError>,
}

/// A file that could not be read or parsed.
#[derive(Debug, Clone, Serialize)]
pub struct FileError {
    /// The file.
    pub path: String,
    /// The reader's message, naming the offset or field.
    pub error: String,
}

/// Inspect everything [`modelgate_formats::load`] found under a path.
pub fn inspect(loaded: &Loaded, options: &InspectOptions) -> Report {
    let artifacts: Vec<ArtifactFacts> = loaded
        .artifacts
        .iter()
        .map(|artifact| artifact_facts(artifact, &loaded.snapshot))
        .collect();
    let memory = memory::estimate(&artifacts, options);
    let errors = loaded
        .failures
        .iter()
        .map(|failure| FileError {
            path: failure.path.display().to_string(),
            error: error_chain(&failure.error),
        })
        .collect();
    Report {
        artifacts,
        memory,
        errors,
    }
}

/// An error's message followed by its sources, `: `-separated, without repeats
/// (thiserror's `transparent` variants repeat their source's message).
fn error_chain(error: &dyn std::error::Error) -> String {
    let mut message = error.to_string();
    let mut source = error.source();
    while let Some(cause) = source {
        let text = cause.to_string();
        if !message.contains(&text) {
            message.push_str(": ");
            message.push_str(&text);
        }
        source = cause.source();
    }
    message
}
