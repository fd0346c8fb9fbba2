//! Command-line arguments.

use std::path::PathBuf;

use clap::{Parser, Subcommand, ValueEnum};

const AFTER_HELP: &str = "\
Exit codes:
  0  success
  1  the command ran and the answer is no (inspect: a file could not be parsed;
     scan: findings at or above --fail-on)
  2  usage error, or a path that cannot be read

Environment:
  NO_COLOR  set to any value to disable colored output

Examples:
  modelgate inspect SmolLM2-135M-Instruct.Q4_1.gguf
  modelgate inspect ./all-MiniLM-L6-v2/ --format json
  modelgate inspect model.gguf --context 32768
  modelgate scan ./downloads/ --fail-on medium
  modelgate scan pytorch_model.bin --format sarif > scan.sarif";

/// Inspect, scan and vet open-weight AI models before they reach production.
#[derive(Debug, Parser)]
#[command(name = "modelgate", version, about, after_help = AFTER_HELP, propagate_version = true)]
pub(crate) struct Args {
    /// Output format: a readable summary, or JSON for scripts.
    #[arg(long, global = true, value_enum, default_value_t = OutputFormat::Text)]
    pub(crate) format: OutputFormat,

    /// When to color text output.
    #[arg(long, global = true, value_enum, default_value_t = ColorChoice::Auto)]
    pub(crate) color: ColorChoice,

    #[command(subcommand)]
    pub(crate) command: Command,
}

#[derive(Debug, Subcommand)]
pub(crate) enum Command {
    /// What a model artifact is, how big it is, and what it takes to run.
    ///
    /// Reads headers only (never loads weights or runs code) for GGUF,
    /// safetensors (and shards), ONNX, PyTorch (zip, legacy, tar), pickle,
    /// NumPy (.npy/.npz), Keras (.keras/.h5), compressed streams, and Hugging
    /// Face snapshot directories. Formats are recognised by content, not by
    /// file extension.
    #[command(after_help = "\
Memory: weights as stored, plus an f16 KV cache of
  2 × layers × kv_heads × head_dim × context × 2 bytes
at --context (default: the model's own context length), compared with this
machine's memory.

JSON (--format json): {\"artifacts\": [{\"path\", \"format\", \"architecture\",
\"parameters\", \"context_length\", ...}], \"memory\": {\"weights_bytes\",
\"kv_cache_bytes\", \"total_bytes\", \"fits\", ...}, \"errors\": [...]}

Exit codes: 0 every file parsed; 1 a file could not be parsed (see \"errors\");
2 usage error or unreadable path.

Examples:
  modelgate inspect model.gguf
  modelgate inspect ./snapshot-dir --context 4096 --format json")]
    Inspect(InspectArgs),

    /// Security scan: what runs, or reaches outside the model, when it loads.
    ///
    /// Every file is judged by its content. Pickles (bare, in PyTorch
    /// checkpoints, in NumPy object arrays, behind compression) are run on a
    /// symbolic machine and every import and call is checked against
    /// allow and deny lists; archives are opened within size, ratio and depth
    /// limits; Keras Lambda layers, ONNX external data, GGUF and safetensors
    /// headers, chat templates (template injection), and repository code
    /// (trust_remote_code) each have rules. Anything that cannot be parsed or
    /// stops at a limit is a high finding: the scan fails closed.
    #[command(after_help = "\
Severities: critical > high > medium > low > info. --fail-on sets the lowest
severity that makes the scan fail (default: high).

JSON (--format json): {\"files\": [{\"path\", \"format\", \"file_bytes\",
\"findings\": [{\"rule\", \"severity\", \"message\", \"location\": {\"member\",
\"offset\", \"pickle_index\", \"key\", \"line\"}, \"evidence\"}]}], \"summary\": {...}}
SARIF (--format sarif): SARIF 2.1.0 for code-scanning dashboards.

Exit codes: 0 nothing at or above --fail-on; 1 findings at or above it
(including files that could not be parsed); 2 usage error or unreadable path.

Examples:
  modelgate scan pytorch_model.bin
  modelgate scan ./snapshot/ --fail-on medium --format json
  modelgate scan model.pkl --format sarif > model.sarif")]
    Scan(ScanArgs),
}

#[derive(Debug, clap::Args)]
pub(crate) struct ScanArgs {
    /// Model files or directories (walked recursively, in parallel).
    #[arg(required = true, value_name = "PATH")]
    pub(crate) paths: Vec<PathBuf>,

    /// Lowest severity that fails the scan (exit 1).
    #[arg(long, value_enum, default_value_t = FailOn::High, value_name = "SEVERITY")]
    pub(crate) fail_on: FailOn,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub(crate) enum FailOn {
    /// Only critical findings fail.
    Critical,
    /// High or critical.
    High,
    /// Medium and above.
    Medium,
    /// Low and above.
    Low,
}

#[derive(Debug, clap::Args)]
pub(crate) struct InspectArgs {
    /// Model files or snapshot directories.
    #[arg(required = true, value_name = "PATH")]
    pub(crate) paths: Vec<PathBuf>,

    /// Context length for the KV-cache estimate (default: the model's own).
    #[arg(long, value_name = "TOKENS", value_parser = clap::value_parser!(u64).range(1..))]
    pub(crate) context: Option<u64>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub(crate) enum OutputFormat {
    /// A readable summary.
    Text,
    /// JSON, the interface scripts rely on.
    Json,
    /// SARIF 2.1.0 (scan only).
    Sarif,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub(crate) enum ColorChoice {
    /// Color when writing to a terminal and NO_COLOR is unset.
    Auto,
    /// Always color.
    Always,
    /// Never color.
    Never,
}
