//! `modelgate eval`, `modelgate quantize` and `modelgate cost`: is a model
//! good enough on our data, at which size, at what price.

use std::io::IsTerminal;
use std::path::{Path, PathBuf};
use std::time::Duration;

use anyhow::Context;
use indicatif::{ProgressBar, ProgressStyle};
use modelgate_assess::{DivergenceOptions, DivergenceReport, Settings, Target};
use modelgate_engine::QuantType;
use modelgate_eval::{PairedComparison, RunReport, Suite};
use modelgate_inventory::{EvalRunFilter, NewEvalRun, VersionRef};
use serde_json::{Value, json};

use crate::cli::{Args, OriginArgs};
use crate::exit;
use crate::models_cmd::{current_user, explain, open_store};

/// `modelgate eval`.
#[derive(Debug, clap::Args)]
#[command(args_conflicts_with_subcommands = true, subcommand_negates_reqs = true)]
pub(crate) struct EvalArgs {
    #[command(subcommand)]
    pub(crate) command: Option<EvalCommand>,
    #[command(flatten)]
    pub(crate) run: RunArgs,
}

#[derive(Debug, clap::Subcommand)]
pub(crate) enum EvalCommand {
    /// Stored runs, newest first.
    List(ListArgs),
    /// One stored run, whole.
    Show(ShowArgs),
    /// Two stored runs of one suite: a paired test on the items both ran.
    Compare(CompareArgs),
    /// How far a quantized GGUF strays from its base on a text corpus: KL
    /// divergence, same top token, perplexity of both.
    Divergence(DivergenceArgs),
    /// Every variant of a model against the highest-precision one: size, KL
    /// divergence, same top token, perplexity, suite accuracy, tokens/s; picks
    /// the smallest that meets the thresholds and draws size against quality.
    Quant(QuantArgs),
}

/// How a run is set up: flags of `modelgate eval MODEL --suite FILE`.
#[derive(Debug, clap::Args)]
pub(crate) struct RunArgs {
    /// NAME@VERSION of a recorded version (its verified GGUF; the run is
    /// stored with it), or a GGUF file.
    #[arg(value_name = "MODEL", required = true)]
    pub(crate) model: Option<String>,
    /// The suite: a TOML file naming its cases or corpus.
    #[arg(long, value_name = "FILE", required = true)]
    pub(crate) suite: Option<PathBuf>,
    /// Run generation cases against this OpenAI-compatible endpoint
    /// (its base URL, e.g. https://api.openai.com/v1) instead of in-process.
    #[arg(long, value_name = "URL", requires = "endpoint_model")]
    pub(crate) endpoint: Option<String>,
    /// The model id to ask the endpoint for.
    #[arg(long = "model", value_name = "ID", id = "endpoint_model")]
    pub(crate) endpoint_model: Option<String>,
    /// Environment variable holding the endpoint's API key.
    #[arg(long, value_name = "VAR", default_value = "OPENAI_API_KEY")]
    pub(crate) api_key_env: String,
    /// Output format.
    #[arg(long, value_enum, default_value_t = Format::Text)]
    pub(crate) format: Format,
    /// Also write the report (in --format) to this file.
    #[arg(long, value_name = "FILE")]
    pub(crate) output: Option<PathBuf>,
    /// Run only the first N cases or items.
    #[arg(long, value_name = "N")]
    pub(crate) limit: Option<usize>,
    /// CPU threads (default: all cores).
    #[arg(long, value_name = "N")]
    pub(crate) threads: Option<u32>,
    /// Generation requests at once.
    #[arg(long, value_name = "N", default_value_t = 4)]
    pub(crate) parallel: u32,
    /// Tokens per decode when scoring choices.
    #[arg(long, value_name = "N", default_value_t = 2048)]
    pub(crate) batch: u32,
    /// Sequences per decode when scoring choices.
    #[arg(long, value_name = "N", default_value_t = 64)]
    pub(crate) seqs: u32,
    /// Perplexity window, tokens.
    #[arg(long, value_name = "N", default_value_t = 512)]
    pub(crate) window: u32,
    /// Most perplexity windows.
    #[arg(long, value_name = "N")]
    pub(crate) chunks: Option<usize>,
    /// Sampling seed for cases that give none.
    #[arg(long, value_name = "N", default_value_t = 42)]
    pub(crate) seed: u64,
    /// USD per million prompt and completion tokens, to price each case
    /// (for max-cost assertions and cost per 1,000 requests).
    #[arg(long, value_name = "IN,OUT", value_parser = parse_price)]
    pub(crate) price: Option<(f64, f64)>,
    /// Do not store the run with the version.
    #[arg(long)]
    pub(crate) no_record: bool,
    /// Who records the run (default: $USER).
    #[arg(long, value_name = "NAME")]
    pub(crate) by: Option<String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub(crate) enum Format {
    Text,
    Json,
    Markdown,
    Junit,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub(crate) enum ListFormat {
    Text,
    Json,
}

#[derive(Debug, clap::Args)]
pub(crate) struct ListArgs {
    /// Only runs of this NAME or NAME@VERSION.
    #[arg(value_name = "MODEL")]
    pub(crate) model: Option<String>,
    /// Only runs of this suite.
    #[arg(long, value_name = "NAME")]
    pub(crate) suite: Option<String>,
    #[arg(long, value_enum, default_value_t = ListFormat::Text)]
    pub(crate) format: ListFormat,
}

#[derive(Debug, clap::Args)]
pub(crate) struct ShowArgs {
    /// The run's id (see `modelgate eval list`).
    pub(crate) id: i64,
    #[arg(long, value_enum, default_value_t = Format::Text)]
    pub(crate) format: Format,
}

#[derive(Debug, clap::Args)]
pub(crate) struct CompareArgs {
    /// The first run's id.
    pub(crate) a: i64,
    /// The second run's id.
    pub(crate) b: i64,
    #[arg(long, value_enum, default_value_t = ListFormat::Text)]
    pub(crate) format: ListFormat,
}

#[derive(Debug, clap::Args)]
pub(crate) struct DivergenceArgs {
    /// The base GGUF (the highest precision).
    pub(crate) base: PathBuf,
    /// The candidate GGUF (a quantization of the same model).
    pub(crate) candidate: PathBuf,
    /// A UTF-8 text file.
    #[arg(long, value_name = "FILE")]
    pub(crate) corpus: PathBuf,
    /// Window, tokens.
    #[arg(long = "ctx", value_name = "N", default_value_t = 512)]
    pub(crate) window: u32,
    /// Most windows.
    #[arg(long, value_name = "N")]
    pub(crate) chunks: Option<usize>,
    /// CPU threads (default: all cores).
    #[arg(long, value_name = "N")]
    pub(crate) threads: Option<u32>,
    #[arg(long, value_enum, default_value_t = ListFormat::Text)]
    pub(crate) format: ListFormat,
}

#[derive(Debug, clap::Args)]
pub(crate) struct QuantArgs {
    /// The model's NAME: every recorded GGUF version of it is a variant.
    pub(crate) name: String,
    /// A UTF-8 text file for divergence and perplexity.
    #[arg(long, value_name = "FILE")]
    pub(crate) corpus: PathBuf,
    /// Also run this suite on every variant (its accuracy is a column).
    #[arg(long, value_name = "FILE")]
    pub(crate) suite: Option<PathBuf>,
    /// The policy whose [evaluation.quantization] sets the thresholds
    /// (default: the built-in policy: KLD 0.1, top-1 0.85).
    #[arg(long, value_name = "FILE")]
    pub(crate) policy: Option<PathBuf>,
    /// Most mean KL divergence a variant may have (overrides the policy).
    #[arg(long, value_name = "X")]
    pub(crate) max_kld: Option<f64>,
    /// Least fraction of positions with the base's top token (overrides
    /// the policy).
    #[arg(long, value_name = "P")]
    pub(crate) min_top1: Option<f64>,
    /// Least suite score (pass rate, acc_norm) a variant may have
    /// (overrides the policy).
    #[arg(long, value_name = "A")]
    pub(crate) min_accuracy: Option<f64>,
    /// Window, tokens.
    #[arg(long = "ctx", value_name = "N", default_value_t = 512)]
    pub(crate) window: u32,
    /// Most windows.
    #[arg(long, value_name = "N", default_value_t = 20)]
    pub(crate) chunks: usize,
    /// Limit the suite to its first N cases.
    #[arg(long, value_name = "N")]
    pub(crate) limit: Option<usize>,
    /// CPU threads (default: all cores).
    #[arg(long, value_name = "N")]
    pub(crate) threads: Option<u32>,
    /// Write the table (JSON) and the chart (PNG and SVG) into this folder.
    #[arg(long, value_name = "DIR")]
    pub(crate) out: Option<PathBuf>,
    #[arg(long, value_enum, default_value_t = ListFormat::Text)]
    pub(crate) format: ListFormat,
}

/// `modelgate quantize`.
#[derive(Debug, clap::Args)]
pub(crate) struct QuantizeArgs {
    /// NAME@VERSION of the recorded source (a GGUF, best F16 or BF16).
    #[arg(value_name = "NAME@VERSION")]
    pub(crate) reference: String,
    /// Types to write, comma-separated (Q8_0,Q6_K,Q5_K_M,Q4_K_M,Q4_0,Q2_K,
    /// F16, ...); each becomes NAME@VERSION-<type>.
    #[arg(long, value_name = "TYPES", value_delimiter = ',', required = true)]
    pub(crate) to: Vec<QuantType>,
    /// Quantize a source that is already quantized (its lost precision
    /// stays lost).
    #[arg(long)]
    pub(crate) allow_requantize: bool,
    /// CPU threads (default: all cores).
    #[arg(long, value_name = "N", default_value_t = 0)]
    pub(crate) threads: u32,
    /// Who records the variants (default: $USER).
    #[arg(long, value_name = "NAME")]
    pub(crate) by: Option<String>,
    #[command(flatten)]
    pub(crate) origin: OriginArgs,
    #[arg(long, value_enum, default_value_t = ListFormat::Text)]
    pub(crate) format: ListFormat,
}

/// `modelgate cost`.
#[derive(Debug, clap::Args)]
pub(crate) struct CostArgs {
    /// NAME@VERSION whose stored runs give its measured tokens/s.
    pub(crate) model: String,
    /// What the hardware costs per hour, USD.
    #[arg(long, value_name = "USD")]
    pub(crate) hardware_usd_hour: f64,
    /// Fraction of the hours the hardware does useful work (0 < U <= 1).
    #[arg(long, value_name = "U", default_value_t = 0.5)]
    pub(crate) utilization: f64,
    /// Tokens/s to assume instead of the stored runs' measurement.
    #[arg(long, value_name = "N")]
    pub(crate) tokens_per_s: Option<f64>,
    /// API models to compare with (provider/model or model; default: all in
    /// the price table).
    #[arg(long, value_name = "MODEL", value_delimiter = ',')]
    pub(crate) compare: Vec<String>,
    /// Monthly volumes, tokens (default: 10M, 100M, 1B, 10B).
    #[arg(long, value_name = "TOKENS", value_delimiter = ',')]
    pub(crate) volume: Vec<u64>,
    /// A price table of the same shape as the built-in one, whose entries
    /// replace or add to it.
    #[arg(long, value_name = "FILE")]
    pub(crate) prices: Option<PathBuf>,
    /// Share of prompt tokens in the traffic (the rest is generated).
    #[arg(long, value_name = "SHARE", default_value_t = 0.75)]
    pub(crate) input_share: f64,
    #[arg(long, value_enum, default_value_t = ListFormat::Text)]
    pub(crate) format: ListFormat,
}

fn parse_price(text: &str) -> Result<(f64, f64), String> {
    let (a, b) = text
        .split_once(',')
        .ok_or("give two prices, IN,OUT (USD per million tokens)")?;
    let parse = |s: &str| {
        s.trim()
            .parse::<f64>()
            .ok()
            .filter(|v| v.is_finite() && *v >= 0.0)
            .ok_or(format!("{s:?} is not a price in USD per million tokens"))
    };
    Ok((parse(a)?, parse(b)?))
}

/// A progress bar on standard error when it is a terminal.
struct Bar(Option<ProgressBar>);

impl Bar {
    fn new() -> Bar {
        Bar(std::io::stderr().is_terminal().then(|| ProgressBar::new(0)))
    }
}

impl modelgate_assess::Progress for Bar {
    fn begin(&self, stage: &str, total: u64) {
        if let Some(bar) = &self.0 {
            bar.reset();
            bar.set_length(total);
            let template = format!("{stage} {{bar:40}} {{pos}}/{{len}} {{per_sec}} eta {{eta}}");
            if let Ok(style) = ProgressStyle::with_template(&template) {
                bar.set_style(style);
            }
        }
    }
    fn advance(&self, n: u64) {
        if let Some(bar) = &self.0 {
            bar.inc(n);
        }
    }
    fn finish(&self) {
        if let Some(bar) = &self.0 {
            bar.finish_and_clear();
        }
    }
}

fn threads(given: Option<u32>) -> u32 {
    given.unwrap_or_else(|| std::thread::available_parallelism().map_or(4, |n| n.get() as u32))
}

fn load_suite(path: &Path) -> anyhow::Result<Suite> {
    Suite::load(path).map_err(anyhow::Error::new)
}

/// A model argument: a recorded version, or a file.
enum Model {
    Version(VersionRef),
    File(PathBuf),
}

fn model_arg(text: &str) -> Model {
    if modelgate_formats::is_file(Path::new(text)) {
        return Model::File(PathBuf::from(text));
    }
    match text.parse::<VersionRef>() {
        Ok(r) if text.contains('@') => Model::Version(r),
        _ => Model::File(PathBuf::from(text)),
    }
}

pub(crate) fn eval(args: &Args, eval: &EvalArgs) -> anyhow::Result<u8> {
    match &eval.command {
        Some(EvalCommand::List(list)) => list_runs(args, list),
        Some(EvalCommand::Show(show)) => show_run(args, show),
        Some(EvalCommand::Compare(compare)) => compare_runs(args, compare),
        Some(EvalCommand::Divergence(d)) => divergence(d),
        Some(EvalCommand::Quant(q)) => quant(args, q),
        None => run(args, &eval.run),
    }
}

fn run(args: &Args, run: &RunArgs) -> anyhow::Result<u8> {
    let (Some(model), Some(suite_path)) = (&run.model, &run.suite) else {
        anyhow::bail!("give a model and --suite FILE (see `modelgate eval --help`)");
    };
    let suite = load_suite(suite_path)?;
    let settings = Settings {
        threads: threads(run.threads),
        parallel: run.parallel.max(1),
        batch: run.batch,
        seqs: run.seqs,
        window: run.window,
        chunks: run.chunks,
        limit: run.limit,
        seed: run.seed,
        price_per_mtok: run.price,
        ..Settings::default()
    };
    let by = run.by.clone().unwrap_or_else(current_user);
    let started = modelgate_vocab::Timestamp::now().to_string();
    let bar = Bar::new();
    let (report, version) = if let Some(url) = &run.endpoint {
        let mut config = modelgate_upstream::ProviderConfig::new(
            "eval",
            modelgate_upstream::ProviderKind::Openai,
            url.clone(),
        );
        config.api_key_env = Some(run.api_key_env.clone());
        let provider = modelgate_upstream::Provider::new(config, |name| std::env::var(name).ok())
            .with_context(|| format!("cannot use the endpoint {url}"))?;
        let id = run.endpoint_model.clone().unwrap_or_default();
        let endpoint =
            modelgate_assess::Endpoint::new(provider, url, &id, Duration::from_secs(300));
        let target = Target::Endpoint(Box::new(endpoint));
        let report = modelgate_assess::run_suite(&suite, &target, &id, &settings, &started, &bar)?;
        (report, None)
    } else {
        match model_arg(model) {
            Model::File(path) => {
                let report = modelgate_assess::run_suite(
                    &suite,
                    &Target::Engine(path.clone()),
                    &path.display().to_string(),
                    &settings,
                    &started,
                    &bar,
                )?;
                (report, None)
            }
            Model::Version(reference) => {
                let mut store = open_store(args)?;
                let path = modelgate_serving::stored_gguf(&mut store, &reference, &by)
                    .with_context(|| format!("cannot evaluate {reference}"))?;
                let report = modelgate_assess::run_suite(
                    &suite,
                    &Target::Engine(path),
                    &reference.to_string(),
                    &settings,
                    &started,
                    &bar,
                )?;
                (report, Some((store, reference)))
            }
        }
    };
    let rendered = render(&report, run.format)?;
    print!("{rendered}");
    if let Some(output) = &run.output {
        std::fs::write(output, &rendered)
            .with_context(|| format!("cannot write {}", output.display()))?;
    }
    if let (Some((mut store, reference)), false) = (version, run.no_record) {
        let recorded = store
            .record_eval_run(&reference, &new_run(&report)?, &by)
            .map_err(|e| explain(e, &reference.to_string()))?;
        if run.format == Format::Text {
            println!(
                "Recorded as run {} of {reference} (see `modelgate eval show {}`).",
                recorded.id, recorded.id
            );
        }
    }
    Ok(if report.threshold_met {
        exit::OK
    } else {
        exit::FAILED
    })
}

fn new_run(report: &RunReport) -> anyhow::Result<NewEvalRun> {
    Ok(NewEvalRun {
        suite_name: report.suite.name.clone(),
        suite_digest: report.suite.digest.clone(),
        kind: report
            .suite
            .kind
            .as_str()
            .parse()
            .map_err(|e| explain(e, "suite kind"))?,
        target: report.target.clone(),
        settings: report.settings.clone(),
        seed: report.seed,
        started: modelgate_vocab::Timestamp::parse(&report.started)
            .with_context(|| format!("the run's start time {:?}", report.started))?,
        threshold_met: report.threshold.map(|_| report.threshold_met),
        summary: serde_json::to_value(&report.summary)?,
        report: serde_json::to_value(report)?,
    })
}

fn render(report: &RunReport, format: Format) -> anyhow::Result<String> {
    Ok(match format {
        Format::Text => modelgate_eval::render_text(report),
        Format::Markdown => modelgate_eval::render_markdown(report),
        Format::Junit => modelgate_eval::render_junit(report),
        Format::Json => {
            let mut json = modelgate_eval::render_json(report)?;
            json.push('\n');
            json
        }
    })
}

fn print_json(value: &impl serde::Serialize) -> anyhow::Result<()> {
    println!("{}", serde_json::to_string_pretty(value)?);
    Ok(())
}

fn list_runs(args: &Args, list: &ListArgs) -> anyhow::Result<u8> {
    let store = open_store(args)?;
    let mut filter = EvalRunFilter::default();
    if let Some(model) = &list.model {
        match model.parse::<VersionRef>() {
            Ok(r) if model.contains('@') => filter.version = Some(r),
            _ => filter.model = Some(model.clone()),
        }
    }
    filter.suite.clone_from(&list.suite);
    let runs = store
        .eval_runs(filter)
        .map_err(|e| explain(e, "eval runs"))?;
    if list.format == ListFormat::Json {
        print_json(&runs)?;
        return Ok(exit::OK);
    }
    if runs.is_empty() {
        println!("No stored runs. Run one with `modelgate eval NAME@VER --suite FILE`.");
        return Ok(exit::OK);
    }
    println!(
        "{:>5}  {:<28} {:<20} {:<16} {:>8} {:>6}  started",
        "id", "version", "suite", "kind", "score", "met"
    );
    for run in &runs {
        let score = headline(&run.summary);
        println!(
            "{:>5}  {:<28} {:<20} {:<16} {:>8} {:>6}  {}",
            run.id,
            run.reference.to_string(),
            run.suite_name,
            run.kind,
            score,
            match run.threshold_met {
                Some(true) => "yes",
                Some(false) => "no",
                None => "-",
            },
            run.started
        );
    }
    Ok(exit::OK)
}

/// The number a run is judged by: acc_norm, perplexity or pass rate.
fn headline(summary: &Value) -> String {
    if let Some(v) = summary.get("acc_norm").and_then(Value::as_f64) {
        format!("{:.1}%", v * 100.0)
    } else if let Some(v) = summary.get("perplexity").and_then(Value::as_f64) {
        format!("ppl {v:.2}")
    } else if let Some(v) = summary.get("pass_rate").and_then(Value::as_f64) {
        format!("{:.1}%", v * 100.0)
    } else {
        "-".into()
    }
}

fn stored_report(args: &Args, id: i64) -> anyhow::Result<RunReport> {
    let store = open_store(args)?;
    let run = store
        .eval_run(id)
        .map_err(|e| explain(e, &format!("run {id}")))?;
    serde_json::from_value(run.report)
        .with_context(|| format!("run {id}: the stored report cannot be read"))
}

fn show_run(args: &Args, show: &ShowArgs) -> anyhow::Result<u8> {
    let report = stored_report(args, show.id)?;
    print!("{}", render(&report, show.format)?);
    Ok(exit::OK)
}

fn compare_runs(args: &Args, compare: &CompareArgs) -> anyhow::Result<u8> {
    let a = stored_report(args, compare.a)?;
    let b = stored_report(args, compare.b)?;
    if a.suite.name != b.suite.name {
        anyhow::bail!(
            "run {} is of suite {} and run {} of suite {}: compare runs of one suite",
            compare.a,
            a.suite.name,
            compare.b,
            b.suite.name
        );
    }
    let pairs = |r: &RunReport| -> Vec<(String, bool)> {
        r.cases.iter().map(|c| (c.id.clone(), c.passed)).collect()
    };
    let cmp = PairedComparison::new(&pairs(&a), &pairs(&b));
    let same_digest = a.suite.digest == b.suite.digest;
    if compare.format == ListFormat::Json {
        print_json(&json!({
            "a": {"id": compare.a, "model": a.model, "summary": a.summary},
            "b": {"id": compare.b, "model": b.model, "summary": b.summary},
            "suite": a.suite.name,
            "same_suite_digest": same_digest,
            "paired": cmp,
        }))?;
        return Ok(exit::OK);
    }
    println!(
        "Suite {}{}",
        a.suite.name,
        if same_digest {
            ""
        } else {
            " (the suite files differ between the runs)"
        }
    );
    println!(
        "  A: run {} of {}: {}",
        compare.a,
        a.model,
        headline(&serde_json::to_value(&a.summary)?)
    );
    println!(
        "  B: run {} of {}: {}",
        compare.b,
        b.model,
        headline(&serde_json::to_value(&b.summary)?)
    );
    println!(
        "Shared items: {}; both pass {}, both fail {}, only A {}, only B {}.",
        cmp.shared, cmp.both_pass, cmp.both_fail, cmp.only_a, cmp.only_b
    );
    println!(
        "McNemar exact test: p = {:.4}: {}.",
        cmp.p_value,
        if cmp.significant {
            "the difference is significant at the 5% level"
        } else {
            "the difference is not significant at the 5% level"
        }
    );
    Ok(exit::OK)
}

fn read_corpus(path: &Path) -> anyhow::Result<String> {
    let bytes = modelgate_formats::read_small_file(path, 256 << 20)
        .with_context(|| format!("cannot read the corpus {}", path.display()))?
        .with_context(|| format!("{}: no such file", path.display()))?;
    String::from_utf8(bytes).with_context(|| format!("{}: the corpus is not UTF-8", path.display()))
}

fn print_divergence(d: &DivergenceReport) {
    println!(
        "{} vs {}: {} positions in {} windows of {}",
        d.candidate.display(),
        d.base.display(),
        d.tokens,
        d.chunks,
        d.window
    );
    println!(
        "KL divergence mean {:.6}, median {:.6}, p99 {:.6}; same top token {:.2}%",
        d.kld_mean,
        d.kld_median,
        d.kld_p99,
        d.same_top1 * 100.0
    );
    println!(
        "perplexity base {:.4}, candidate {:.4}; {:.1} s",
        d.ppl_base, d.ppl_candidate, d.duration_s
    );
}

fn divergence(d: &DivergenceArgs) -> anyhow::Result<u8> {
    let text = read_corpus(&d.corpus)?;
    let report = modelgate_assess::divergence(
        &d.base,
        &d.candidate,
        &text,
        DivergenceOptions {
            window: d.window,
            chunks: d.chunks,
            threads: threads(d.threads),
        },
        &Bar::new(),
    )?;
    match d.format {
        ListFormat::Json => print_json(&report)?,
        ListFormat::Text => print_divergence(&report),
    }
    Ok(exit::OK)
}

#[derive(Debug, serde::Serialize)]
struct QuantRow {
    version: String,
    quantization: Option<String>,
    size_bytes: u64,
    kld_mean: f64,
    kld_p99: f64,
    same_top1: f64,
    perplexity: f64,
    tokens_per_s: f64,
    accuracy: Option<f64>,
    meets: bool,
    chosen: bool,
}

/// The thresholds of one `eval quant` run: each flag given, else the
/// policy's `[evaluation.quantization]`.
fn quant_thresholds(q: &QuantArgs) -> anyhow::Result<modelgate_policy::QuantizationThresholds> {
    let policy = crate::vet_cmd::load_policy(q.policy.as_deref())?;
    let mut thresholds = policy.evaluation.quantization;
    if let Some(max_kld) = q.max_kld {
        thresholds.max_kld = max_kld;
    }
    if let Some(min_top1) = q.min_top1 {
        thresholds.min_top1 = min_top1;
    }
    if q.min_accuracy.is_some() {
        thresholds.min_accuracy = q.min_accuracy;
    }
    let fraction = |v: f64| v.is_finite() && (0.0..=1.0).contains(&v);
    if !(thresholds.max_kld.is_finite() && thresholds.max_kld >= 0.0) {
        anyhow::bail!("--max-kld must be a number of 0 or more (nats)");
    }
    if !fraction(thresholds.min_top1) || thresholds.min_accuracy.is_some_and(|a| !fraction(a)) {
        anyhow::bail!("--min-top1 and --min-accuracy are fractions from 0 to 1");
    }
    Ok(thresholds)
}

fn quant(args: &Args, q: &QuantArgs) -> anyhow::Result<u8> {
    let thresholds = quant_thresholds(q)?;
    let mut store = open_store(args)?;
    let by = current_user();
    let overview = store.model(&q.name).map_err(|e| explain(e, &q.name))?;
    let text = read_corpus(&q.corpus)?;
    let suite = q.suite.as_deref().map(load_suite).transpose()?;
    let mut variants = Vec::new();
    for summary in &overview.versions {
        if summary.format.as_deref() != Some("gguf") {
            continue;
        }
        let reference = VersionRef::new(&summary.name, &summary.version)
            .map_err(|e| explain(e, &summary.name))?;
        let path = modelgate_serving::stored_gguf(&mut store, &reference, &by)
            .with_context(|| format!("cannot read {reference}"))?;
        let size = std::fs::metadata(&path)
            .map(|m| m.len())
            .unwrap_or(summary.total_bytes);
        variants.push((reference, summary.quantization.clone(), path, size));
    }
    if variants.len() < 2 {
        anyhow::bail!(
            "{} has {} GGUF version(s); make variants first with `modelgate quantize {}@VER --to Q8_0,Q4_K_M`",
            q.name,
            variants.len(),
            q.name
        );
    }
    // The base: the largest file, the highest precision.
    variants.sort_by_key(|v| std::cmp::Reverse(v.3));
    let Some((base_ref, _, base, _)) = variants.first().cloned() else {
        anyhow::bail!("{} has no GGUF version", q.name);
    };
    let bar = Bar::new();
    let mut rows = Vec::new();
    for (reference, quantization, path, size) in &variants {
        eprintln!("{reference}: divergence from {base_ref}");
        let d = modelgate_assess::divergence(
            &base,
            path,
            &text,
            DivergenceOptions {
                window: q.window,
                chunks: Some(q.chunks),
                threads: threads(q.threads),
            },
            &bar,
        )?;
        let accuracy = match &suite {
            Some(suite) => {
                let settings = Settings {
                    threads: threads(q.threads),
                    limit: q.limit,
                    ..Settings::default()
                };
                let started = modelgate_vocab::Timestamp::now().to_string();
                let report = modelgate_assess::run_suite(
                    suite,
                    &Target::Engine(path.clone()),
                    &reference.to_string(),
                    &settings,
                    &started,
                    &bar,
                )?;
                let score = report.summary.acc_norm.unwrap_or(report.summary.pass_rate);
                store
                    .record_eval_run(reference, &new_run(&report)?, &by)
                    .map_err(|e| explain(e, &reference.to_string()))?;
                Some(score)
            }
            None => None,
        };
        let meets = d.kld_mean <= thresholds.max_kld
            && d.same_top1 >= thresholds.min_top1
            && thresholds
                .min_accuracy
                .is_none_or(|min| accuracy.is_some_and(|a| a >= min));
        rows.push(QuantRow {
            version: reference.to_string(),
            quantization: quantization.clone(),
            size_bytes: *size,
            kld_mean: d.kld_mean,
            kld_p99: d.kld_p99,
            same_top1: d.same_top1,
            perplexity: d.ppl_candidate,
            tokens_per_s: d.candidate_tokens_per_s,
            accuracy,
            meets,
            chosen: false,
        });
    }
    let chosen = rows
        .iter()
        .enumerate()
        .filter(|(_, r)| r.meets)
        .min_by_key(|(_, r)| r.size_bytes)
        .map(|(i, _)| i);
    if let Some(i) = chosen
        && let Some(row) = rows.get_mut(i)
    {
        row.chosen = true;
    }
    if let Some(out) = &q.out {
        write_quant_outputs(out, &q.name, &rows)?;
    }
    match q.format {
        ListFormat::Json => print_json(&json!({
            "model": q.name,
            "base": base_ref.to_string(),
            "thresholds": {"max_kld": thresholds.max_kld, "min_top1": thresholds.min_top1, "min_accuracy": thresholds.min_accuracy},
            "variants": rows,
            "chosen": chosen.and_then(|i| rows.get(i)).map(|r| r.version.clone()),
        }))?,
        ListFormat::Text => {
            println!(
                "{:<28} {:<10} {:>10} {:>10} {:>10} {:>7} {:>9} {:>8} {:>8}",
                "version", "type", "MiB", "KLD mean", "KLD p99", "top-1", "ppl", "tok/s", "acc"
            );
            for r in &rows {
                println!(
                    "{:<28} {:<10} {:>10.1} {:>10.5} {:>10.5} {:>6.2}% {:>9.3} {:>8.0} {:>8}{}",
                    r.version,
                    r.quantization.as_deref().unwrap_or("-"),
                    r.size_bytes as f64 / (1 << 20) as f64,
                    r.kld_mean,
                    r.kld_p99,
                    r.same_top1 * 100.0,
                    r.perplexity,
                    r.tokens_per_s,
                    r.accuracy
                        .map_or("-".into(), |a| format!("{:.1}%", a * 100.0)),
                    if r.chosen {
                        "  <- chosen"
                    } else if r.meets {
                        "  meets"
                    } else {
                        ""
                    }
                );
            }
            match chosen.and_then(|i| rows.get(i)) {
                Some(r) => println!("Smallest variant that meets the thresholds: {}.", r.version),
                None => println!(
                    "No variant meets the thresholds (KLD <= {}, top-1 >= {}).",
                    thresholds.max_kld, thresholds.min_top1
                ),
            }
        }
    }
    Ok(if chosen.is_some() {
        exit::OK
    } else {
        exit::FAILED
    })
}

fn write_quant_outputs(out: &Path, name: &str, rows: &[QuantRow]) -> anyhow::Result<()> {
    std::fs::create_dir_all(out).with_context(|| format!("cannot create {}", out.display()))?;
    let points: Vec<modelgate_chart::QualityPoint> = rows
        .iter()
        .map(|r| modelgate_chart::QualityPoint {
            label: r.quantization.clone().unwrap_or_else(|| r.version.clone()),
            size_bytes: r.size_bytes,
            quality: r.kld_mean.max(1e-6),
            chosen: r.chosen,
        })
        .collect();
    let chart = modelgate_chart::size_quality(
        &points,
        &modelgate_chart::ChartSpec {
            title: format!("{name}: size against KL divergence from the base"),
            y_label: "mean KL divergence (log)".into(),
            y_log: true,
        },
    )?;
    let write = |file: &str, bytes: &[u8]| {
        let path = out.join(file);
        std::fs::write(&path, bytes).with_context(|| format!("cannot write {}", path.display()))
    };
    write("quant.json", serde_json::to_string_pretty(rows)?.as_bytes())?;
    write("quant.svg", chart.svg().as_bytes())?;
    write("quant.png", chart.png())?;
    eprintln!(
        "Wrote quant.json, quant.svg and quant.png in {}",
        out.display()
    );
    Ok(())
}

pub(crate) fn quantize(args: &Args, q: &QuantizeArgs) -> anyhow::Result<u8> {
    let source = q
        .reference
        .parse::<VersionRef>()
        .map_err(|e| explain(e, &q.reference))?;
    let by = q.by.clone().unwrap_or_else(current_user);
    let mut store = open_store(args)?;
    let hash_bar = crate::progress::Bar::new("hashing");
    let vet = crate::vet_cmd::vet_options(&q.origin, &hash_bar)?;
    let copy_bar = crate::progress::Bar::new("storing");
    let work = tempfile::Builder::new()
        .prefix("modelgate-quantize-")
        .tempdir_in(store.blobs().root())
        .context("cannot create a work folder beside the blob store")?;
    let bar = Bar(std::io::stderr().is_terminal().then(|| ProgressBar::new(0)));
    let mut current: Option<QuantType> = None;
    let done = modelgate_assess::quantize_version(
        &mut store,
        &modelgate_assess::QuantizeRequest {
            source: source.clone(),
            to: q.to.clone(),
            allow_requantize: q.allow_requantize,
            threads: q.threads,
            work_dir: work.path(),
            by: &by,
            vet: &vet,
            copy_progress: &copy_bar,
        },
        &mut |to, p| {
            if current != Some(to) {
                current = Some(to);
                modelgate_assess::Progress::begin(&bar, &format!("{to}"), p.total as u64);
                if bar.0.is_none() {
                    eprintln!("{source} -> {to}: {} tensors", p.total);
                }
            }
            modelgate_assess::Progress::advance(&bar, 1);
        },
    );
    modelgate_assess::Progress::finish(&bar);
    hash_bar.finish();
    copy_bar.finish();
    let done = done.map_err(|e| match e {
        modelgate_assess::Error::Inventory(e) => explain(e, &source.to_string()),
        other => anyhow::Error::new(other).context(format!("cannot quantize {source}")),
    })?;
    if q.format == ListFormat::Json {
        let rows: Vec<Value> = done
            .iter()
            .map(|d| json!({"type": d.to.name(), "version": d.version}))
            .collect();
        print_json(&rows)?;
        return Ok(exit::OK);
    }
    for d in &done {
        println!(
            "Recorded {}@{} ({}, {} bytes) as a variant of {source}: verdict {}.",
            d.version.name,
            d.version.version,
            d.to,
            d.version.total_bytes,
            d.version.decision.name()
        );
    }
    println!(
        "Compare them with `modelgate eval quant {} --corpus FILE`.",
        source.name
    );
    Ok(exit::OK)
}

pub(crate) fn cost(args: &Args, c: &CostArgs) -> anyhow::Result<u8> {
    let reference = c
        .model
        .parse::<VersionRef>()
        .map_err(|e| explain(e, &c.model))?;
    let tokens_per_s = match c.tokens_per_s {
        Some(t) => t,
        None => {
            let store = open_store(args)?;
            let runs = store
                .eval_runs(EvalRunFilter {
                    version: Some(reference.clone()),
                    ..EvalRunFilter::default()
                })
                .map_err(|e| explain(e, &reference.to_string()))?;
            runs.iter()
                .filter(|r| r.target == "engine")
                .find_map(|r| r.summary.get("tokens_per_s").and_then(Value::as_f64))
                .with_context(|| {
                    format!(
                        "{reference} has no stored generation run with a measured tokens/s: run `modelgate eval {reference} --suite FILE` with a generation suite, or give --tokens-per-s"
                    )
                })?
        }
    };
    let self_hosted =
        modelgate_cost::SelfHosted::new(c.hardware_usd_hour, tokens_per_s, c.utilization)?;
    let mut table = modelgate_cost::PriceTable::builtin()?;
    if let Some(path) = &c.prices {
        let file = std::fs::File::open(path)
            .with_context(|| format!("cannot read the price table {}", path.display()))?;
        let user = modelgate_cost::PriceTable::load(file, &path.display().to_string())?;
        table = table.merge(user);
    }
    let apis: Vec<modelgate_cost::ApiPrice> = if c.compare.is_empty() {
        table.prices().to_vec()
    } else {
        c.compare
            .iter()
            .map(|id| table.get(id).cloned())
            .collect::<Result<_, _>>()?
    };
    let volumes = if c.volume.is_empty() {
        modelgate_cost::DEFAULT_VOLUMES.to_vec()
    } else {
        c.volume.clone()
    };
    let blend = modelgate_cost::Blend::new(c.input_share)?;
    let report = modelgate_cost::compare(&self_hosted, &apis, blend, &volumes);
    match c.format {
        ListFormat::Json => print_json(&json!({
            "model": reference.to_string(),
            "tokens_per_s": tokens_per_s,
            "report": report,
        }))?,
        ListFormat::Text => {
            println!("{reference} at {tokens_per_s:.1} tokens/s measured");
            print!("{}", report.render_text());
        }
    }
    Ok(exit::OK)
}
