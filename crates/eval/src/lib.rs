//! Evaluation suites and their scoring: the pure half of `modelgate eval`.
//!
//! Purpose: read a suite (a TOML file in the user's repository naming a JSONL
//! cases file or a text corpus, see [`suite`]), check generated answers with
//! promptfoo-style assertions ([`mod@assert`]), score multiple-choice items the
//! way lm-evaluation-harness does ([`choice`]), compute KL divergence,
//! same-top-1 agreement and perplexity from logits rows ([`divergence`]),
//! give intervals and paired tests ([`stats`]), and turn a run into a report
//! rendered as text, Markdown, JUnit XML or JSON ([`report`]).
//!
//! Non-purpose: running anything. No engine, no HTTP client, no database and
//! no clock: the runner (the CLI with the engine or an endpoint) generates
//! answers and logits, measures time and cost, and stores reports; this crate
//! only reads suite files and does the arithmetic.
//!
//! Main types: [`Suite`] (with [`Cases`], [`GenerationCase`], [`ChoiceItem`]),
//! [`Assertion`] and [`evaluate`] → [`CaseOutcome`], [`ChoiceScore`] and
//! [`score_item`] → [`ItemScore`], [`DivergenceAccumulator`] →
//! [`DivergenceSummary`], [`PerplexityAccumulator`], [`PairedComparison`],
//! [`RunReport`] with [`Summary`].
//!
//! Suite files, in short (`kind` is `generation`, `multiple_choice` or
//! `perplexity`; `format` is `modelgate` or `olmo`):
//!
//! ```text
//! name = "support-bot"
//! kind = "generation"
//! cases = "cases.jsonl"        # or corpus = "corpus.txt" for perplexity
//! threshold = 0.8
//! [defaults]
//! max_tokens = 256
//! system = "You are a support agent."
//! ```
//!
//! Generation lines: `{"id", "prompt" | "messages", "system", "max_tokens",
//! "temperature", "seed", "assert": [{"type", "value", "threshold",
//! "weight"}], "threshold"}`; multiple-choice lines: `{"id", "context",
//! "choices", "gold"}`.
//!
//! ```
//! use modelgate_eval::{Cases, Observation, Suite, evaluate};
//! let suite = Suite::from_parts(
//!     "name = \"refunds\"\nkind = \"generation\"\ncases = \"cases.jsonl\"\n",
//!     br#"{"id": "r1", "prompt": "Can I get my money back?", "assert": [{"type": "icontains", "value": "refund"}]}"#,
//! )?;
//! let Cases::Generation(cases) = &suite.cases else { unreachable!() };
//! let seen = Observation { output: "Yes, a Refund is possible.".into(), latency_ms: 120.0, cost_usd: None };
//! let outcome = evaluate(&cases[0], &seen);
//! assert!(outcome.passed);
//! assert_eq!(outcome.assertions[0].reason, "expected output to contain \"refund\" (ignoring case)");
//! # Ok::<(), modelgate_eval::SuiteError>(())
//! ```

pub mod assert;
pub mod choice;
pub mod divergence;
pub mod report;
pub mod stats;
pub mod suite;

pub use assert::{
    Assertion, AssertionError, AssertionKind, AssertionOutcome, AssertionValue, CaseOutcome,
    Observation, evaluate,
};
pub use choice::{ChoiceScore, ItemScore, score_item};
pub use divergence::{
    DivergenceAccumulator, DivergenceError, DivergenceSummary, PerplexityAccumulator,
    log_softmax_into,
};
pub use report::{
    CaseResult, RunInfo, RunReport, SuiteRef, Summary, render_json, render_junit, render_markdown,
    render_text,
};
pub use stats::{PairedComparison, mcnemar_exact, percentile, wilson};
pub use suite::{
    Cases, CasesFormat, ChoiceItem, GenerationCase, GenerationDefaults, Message, Role, Suite,
    SuiteError, SuiteKind,
};
