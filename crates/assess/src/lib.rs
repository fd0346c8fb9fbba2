//! Evaluation use cases: is a model good enough on our data, at which size.
//!
//! # Purpose
//! The library functions behind `modelgate eval`, `eval divergence`, `eval
//! quant` and `quantize`, so that the CLI, the server and the console run
//! them the same way:
//! - [`run_suite`] runs a [`Suite`] on a GGUF in-process (generation through
//!   the serving engine and the model's own chat template; multiple choice
//!   and perplexity from logits through [`modelgate_engine::ScoringModel`]),
//!   or its generation cases against any OpenAI-compatible endpoint, and
//!   returns a [`RunReport`].
//! - [`divergence`] compares a candidate quantization with its base in one
//!   streaming pass over a corpus, both models side by side per window, no
//!   logits on disk.
//! - [`quantize_version`] writes quantized variants of a recorded version
//!   with llama.cpp's quantizer and records each as a variant of its source,
//!   inheriting its license and provenance.
//!
//! # Non-purpose
//! Parsing suites, judging assertions and the statistics are
//! `modelgate-eval`'s (pure); storing runs is the inventory's; rendering is
//! the edge's.

mod choice;
mod divergence;
mod error;
mod generation;
mod quant;
mod text;

use std::path::PathBuf;

pub use divergence::{DivergenceOptions, DivergenceReport, divergence};
pub use error::Error;
pub use generation::Endpoint;
pub use quant::{QuantizeRequest, Quantized, quantize_version, variant_reference};

use modelgate_eval::{Cases, RunInfo, RunReport, Suite, SuiteRef};
use serde_json::json;

/// How a run is set up. Every field is recorded with the run.
#[derive(Debug, Clone, PartialEq)]
pub struct Settings {
    /// CPU threads.
    pub threads: u32,
    /// Generation requests run at once (engine slots or concurrent calls).
    pub parallel: u32,
    /// Tokens of context per generation slot.
    pub context: u32,
    /// Tokens per decode when scoring (multiple choice).
    pub batch: u32,
    /// Sequences per decode when scoring (multiple choice).
    pub seqs: u32,
    /// Perplexity window, tokens.
    pub window: u32,
    /// Most perplexity windows (`None`: the whole corpus).
    pub chunks: Option<usize>,
    /// Run only the first N cases or items (overrides the suite's `limit`).
    pub limit: Option<usize>,
    /// Sampling seed for cases that give none.
    pub seed: u64,
    /// USD per million prompt and completion tokens, to price each case.
    pub price_per_mtok: Option<(f64, f64)>,
}

impl Default for Settings {
    fn default() -> Self {
        let threads = std::thread::available_parallelism().map_or(4, |n| n.get() as u32);
        Settings {
            threads,
            parallel: 4,
            context: 2048,
            batch: 2048,
            seqs: 64,
            window: 512,
            chunks: None,
            limit: None,
            seed: 42,
            price_per_mtok: None,
        }
    }
}

impl Settings {
    fn to_json(&self) -> serde_json::Value {
        json!({
            "threads": self.threads,
            "parallel": self.parallel,
            "context": self.context,
            "batch": self.batch,
            "seqs": self.seqs,
            "window": self.window,
            "chunks": self.chunks,
            "limit": self.limit,
            "price_per_mtok": self.price_per_mtok.map(|(i, o)| json!({"input": i, "output": o})),
            "engine": "llama.cpp (llama-cpp-2 0.1.160)",
        })
    }
}

/// Where a suite runs.
#[derive(Debug)]
pub enum Target {
    /// A GGUF file, run in-process (for a recorded version: its verified
    /// blob, see [`modelgate_serving::stored_gguf`]).
    Engine(PathBuf),
    /// An OpenAI-compatible endpoint (generation suites only).
    Endpoint(Box<Endpoint>),
}

/// Told how a long run is going.
pub trait Progress: Sync {
    /// A stage with `total` steps begins.
    fn begin(&self, _stage: &str, _total: u64) {}
    /// `n` more steps are done.
    fn advance(&self, _n: u64) {}
    /// The stage is over.
    fn finish(&self) {}
}

/// Reports nothing.
#[derive(Debug, Clone, Copy, Default)]
pub struct NoProgress;
impl Progress for NoProgress {}

/// Runs `suite` on `target`; `model` names it in the report (`NAME@VER`,
/// a path, or the endpoint's model id).
pub fn run_suite(
    suite: &Suite,
    target: &Target,
    model: &str,
    settings: &Settings,
    started: &str,
    progress: &dyn Progress,
) -> Result<RunReport, Error> {
    let clock = std::time::Instant::now();
    let limit = settings.limit.or(suite.limit);
    let take = |n: usize| limit.map_or(n, |l| l.min(n));
    let (cases, perplexity, target_name) = match (&suite.cases, target) {
        (Cases::Generation(cases), Target::Engine(path)) => {
            let cases = cases.get(..take(cases.len())).unwrap_or_default();
            (
                generation::on_engine(path, cases, settings, progress)?,
                None,
                "engine".to_owned(),
            )
        }
        (Cases::Generation(cases), Target::Endpoint(endpoint)) => {
            let cases = cases.get(..take(cases.len())).unwrap_or_default();
            (
                generation::on_endpoint(endpoint, cases, settings, progress)?,
                None,
                endpoint.url().to_owned(),
            )
        }
        (Cases::MultipleChoice(items), Target::Engine(path)) => {
            let items = items.get(..take(items.len())).unwrap_or_default();
            (
                choice::run(path, items, settings, progress)?,
                None,
                "engine".to_owned(),
            )
        }
        (Cases::Perplexity { text, .. }, Target::Engine(path)) => {
            let ppl = text::perplexity(path, text, settings, progress)?;
            (Vec::new(), Some(ppl), "engine".to_owned())
        }
        (_, Target::Endpoint(endpoint)) => {
            return Err(Error::Unsupported(format!(
                "suite {} is {}: only generation suites run against an endpoint ({}); run it on a GGUF instead",
                suite.name,
                suite.kind.as_str(),
                endpoint.url()
            )));
        }
    };
    let info = RunInfo {
        model: model.to_owned(),
        target: target_name,
        settings: settings.to_json(),
        seed: Some(settings.seed),
        started: started.to_owned(),
        duration_s: clock.elapsed().as_secs_f64(),
    };
    Ok(RunReport::new(
        SuiteRef::from_suite(suite),
        info,
        cases,
        perplexity,
        suite.threshold,
    ))
}
