//! Command-line arguments.

use std::path::PathBuf;

use clap::{Parser, Subcommand, ValueEnum};

const AFTER_HELP: &str = "\
Exit codes:
  0  success
  1  the command ran and the answer is no (inspect: a file could not be parsed)
  2  usage error, or a path that cannot be read

Environment:
  NO_COLOR  set to any value to disable colored output

Examples:
  modelgate inspect SmolLM2-135M-Instruct.Q4_1.gguf
  modelgate inspect ./all-MiniLM-L6-v2/ --format json
  modelgate inspect model.gguf --context 32768";

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
