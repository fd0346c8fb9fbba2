//! Command-line arguments.

use std::path::PathBuf;

use clap::{Parser, Subcommand, ValueEnum};

const AFTER_HELP: &str = "\
Formats: every command takes --format; each offers its own (see its --help):
  text and json everywhere, sarif for scan, markdown for vet, json only for bom.

Exit codes:
  0  success (vet: approved)
  1  the command ran and the answer is no (inspect: a file could not be parsed;
     scan: findings at or above --fail-on; vet: rejected)
  2  usage error, or a path that cannot be read
  3  vet: needs review
  (models verify: 1 when files changed; audit verify: 1 when the trail was
  tampered with; models approve/promote/...: 2 when the change is refused)

Environment:
  NO_COLOR        set to any value to disable colored output
  MODELGATE_HOME  the inventory's data directory (like --home)

Examples:
  modelgate inspect SmolLM2-135M-Instruct.Q4_1.gguf
  modelgate inspect ./all-MiniLM-L6-v2/ --format json
  modelgate inspect model.gguf --context 32768
  modelgate scan ./downloads/ --fail-on medium
  modelgate scan pytorch_model.bin --format sarif > scan.sarif
  modelgate vet ./all-MiniLM-L6-v2 --policy policy.toml --format markdown > record.md
  modelgate bom ./all-MiniLM-L6-v2 > model.cdx.json
  modelgate models add ./all-MiniLM-L6-v2 --name all-MiniLM-L6-v2 --version 1.0
  modelgate models approve all-MiniLM-L6-v2@1.0 --by alice
  modelgate audit verify";

/// Inspect, scan and vet open-weight AI models before they reach production.
#[derive(Debug, Parser)]
#[command(name = "modelgate", version, about, after_help = AFTER_HELP, propagate_version = true)]
pub(crate) struct Args {
    /// When to color text output.
    #[arg(long, global = true, value_enum, default_value_t = ColorChoice::Auto)]
    pub(crate) color: ColorChoice,

    /// The inventory's data directory (models, teams, audit); default
    /// $XDG_DATA_HOME/modelgate or ~/.local/share/modelgate.
    #[arg(long, global = true, value_name = "DIR", env = "MODELGATE_HOME")]
    pub(crate) home: Option<PathBuf>,

    /// Where the inventory's records are: `postgres://USER[:PASSWORD]@HOST[:PORT]/DB`
    /// to share them between replicas on several hosts, or
    /// `sqlite:///PATH`; default the SQLite file `inventory.db` in the data
    /// directory (which keeps the blob store either way). TLS as psql reads
    /// it: `?sslmode=verify-full&sslrootcert=CA.pem` (also disable, prefer,
    /// the default, require, verify-ca; sslcert and sslkey for a client
    /// certificate).
    #[arg(
        long,
        global = true,
        value_name = "URL",
        env = "MODELGATE_DATABASE_URL",
        hide_env_values = true
    )]
    pub(crate) database: Option<String>,

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
Memory: weights as stored, plus the f16 KV cache at --context (default: the
model's own context length), compared with this machine's memory. For GGUF
models it is the cache llama.cpp allocates: cells rounded up to 256, and
sliding-window layers (Gemma 2/3, gpt-oss, Cohere 2, ...) holding only
their window; otherwise 2 × layers × kv_heads × head_dim × context × 2 bytes.

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

    /// May we use this model? License, card, provenance, signature and
    /// security, judged by the organisation's policy.
    ///
    /// Runs inspect and scan, identifies the license from every source (card
    /// front matter, LICENSE/NOTICE/USE_POLICY files, GGUF and safetensors
    /// metadata) by text similarity and looks up its terms, reviews the model
    /// card's completeness, gathers provenance (publisher, source, revision,
    /// base models, toolchain), computes SHA-256 digests of every file and
    /// verifies `model.sig` against the policy's trusted keys. The policy then
    /// gives the verdict: approved, needs-review (naming who must review:
    /// legal, security, governance) or rejected, each reason tied to its rule
    /// and evidence.
    #[command(after_help = "\
Policy: without --policy the built-in default applies (permissive licenses
allowed, non-commercial denied, other licenses and pickle formats reviewed,
high scan findings rejected). Print it, with a comment on every key, with
  modelgate vet --print-default-policy > policy.toml

Formats: text (default), json (the full report, for scripts and the
inventory), markdown (the record of the decision, to attach to a ticket).

Exit codes: 0 approved; 1 rejected; 3 needs review; 2 usage error, unreadable
path or invalid policy.

Examples:
  modelgate vet ./all-MiniLM-L6-v2
  modelgate vet model.gguf --policy policy.toml --format markdown > record.md
  modelgate vet ./snapshot --source https://huggingface.co/org/model --revision abc123 --format json")]
    Vet(VetArgs),

    /// Write a CycloneDX 1.6 AI-BOM (JSON) for a model.
    ///
    /// The model is a `machine-learning-model` component with its SHA-256,
    /// license (SPDX id, or name and link for AI licenses), model card
    /// (parameters, evaluation results from `model-index`, considerations),
    /// base models as pedigree, and one component per file with its digest.
    /// The facts come from the same analysis as `modelgate vet`.
    #[command(after_help = "\
Inventory: --inventory writes one BOM of every approved and production
version in the inventory (see `modelgate models`), from the facts stored when
each was added, with modelgate:inventory-version and modelgate:stage
properties.

Exit codes: 0 written; 2 usage error or unreadable path.

Examples:
  modelgate bom ./all-MiniLM-L6-v2 > all-MiniLM-L6-v2.cdx.json
  modelgate bom model.gguf --output model.cdx.json
  modelgate bom --inventory --output inventory.cdx.json")]
    Bom(BomArgs),

    /// Sign a model: an OpenSSF Model Signing (OMS) signature, `model.sig`.
    ///
    /// Hashes every file (or every shard of every file) with SHA-256, in
    /// parallel, and signs the list as an in-toto statement in a Sigstore
    /// bundle, the format of the `model-signing` Python package (v1.x), whose
    /// `verify key` and `verify certificate` commands check it. Key method:
    /// --key alone. Certificate method: --key with --signing-certificate and
    /// its --certificate-chain. .git, .gitattributes, .github, .gitignore and
    /// the signature itself are left out.
    #[command(after_help = "\
Keys: ECDSA P-256, P-384 or P-521, PEM (PKCS#8 or SEC1), unencrypted. Make one:
  openssl ecparam -name prime256v1 -genkey -noout | openssl pkcs8 -topk8 -nocrypt -out key.pem
  openssl ec -in key.pem -pubout -out key.pub

Shards: --serialization shards names entries path:start:end and hashes the
shards of a large file on every core; model_signing verifies them through its
Python API (its CLI hashes files only).

JSON (--format json): {\"model\", \"signature\", \"serialization\", \"shard_size\",
\"files\", \"resources\", \"bytes\", \"root_digest\", \"signer\": {\"method\": \"key\",
\"hint\"} or {\"method\": \"certificate\", \"chain\": [{\"subject\", \"issuer\", ...}]}}

Exit codes: 0 signed; 2 usage error, unreadable path or key.

Examples:
  modelgate sign ./my-model --key key.pem
  modelgate sign ./my-model --key key.pem --serialization shards --shard-size 500000000
  modelgate sign model.gguf --key signer.pem --signing-certificate signer.crt \\
      --certificate-chain intermediate.crt --signature model.gguf.sig")]
    Sign(crate::sign_cmd::SignArgs),

    /// Verify a model against its OMS signature (`model.sig`).
    ///
    /// Checks the signature with a trusted public key (--public-key) or
    /// certificate authority (--certificate-chain), then hashes the model the
    /// way the signature says (files or shards, ignored paths) and compares:
    /// every modified, added and removed file is named. Reads signatures made
    /// by `model-signing` (v1.x, key and certificate methods) or `modelgate
    /// sign`. Certificates are checked as model_signing does: the chain must
    /// reach a trusted certificate and be valid when the signing certificate
    /// was issued, which must allow digitalSignature or codeSigning.
    #[command(after_help = "\
JSON (--format json): {\"model\", \"signature\", \"verified\", \"serialization\",
\"shard_size\", \"files\", \"resources\", \"bytes\", \"root_digest\",
\"signed_by\": {\"method\", ...}, \"error\", \"advice\", \"modified\": [...],
\"added\": [...], \"removed\": [...]}

Exit codes: 0 verified; 1 not verified (a file was modified, added or removed,
a symbolic link the signature does not allow was met, or the signature is
invalid, untrusted, malformed or too large); 2 usage error, or an unreadable
model, signature, key or certificate file.

Examples:
  modelgate verify ./my-model --public-key publisher.pub
  modelgate verify model.gguf --certificate-chain ca.crt --signature model.gguf.sig
  modelgate verify ./snapshot --public-key a.pub --public-key b.pub --format json")]
    Verify(crate::sign_cmd::VerifyArgs),

    /// The model inventory: versions, their evidence, approvals and stages.
    ///
    /// Each version is vetted when added and keeps the vet report as
    /// evidence. Stages: candidate → approved → production → deprecated, or
    /// revoked from any stage; each change records who, when and why, and
    /// is appended to a hash-chained audit trail in the same transaction.
    /// The inventory is an SQLite database in --home (MODELGATE_HOME).
    #[command(after_help = "\
Approval: the stored vet verdict decides. approved: --by is enough;
needs-review: a sign-off from every reviewer it names (--sign-off ROLE=WHO,
or recorded beforehand with `models review` or in the web console; a
recorded rejection stops it unless overridden); rejected: only --override
--note WHY. Each approval sets a review-by date (default a
year); `models due` lists versions past it.

JSON (--format json): list/due: [{\"name\", \"version\", \"stage\", \"decision\",
\"reviewers\", \"format\", \"quantization\", \"parameters\", \"review_by\",
\"review_due\", ...}]; show NAME@VER adds \"files\", \"provenance\", \"history\",
\"variants\", \"assignments\", \"report\"; approve/promote/deprecate: the stage
change {\"from\", \"to\", \"by\", \"at\", \"note\", \"override\", \"event_seq\"};
revoke: {\"change\", \"affected\": [teams]}; verify: {\"verified\", \"modified\",
\"added\", \"removed\"}.

Exit codes: 0 done; 1 models verify: a file was modified, added or removed;
2 usage error, unknown version, or a refused change (illegal stage change,
missing approver, verdict not allowing approval): nothing is changed.

Examples:
  modelgate models add ./all-MiniLM-L6-v2 --name all-MiniLM-L6-v2 --version 1.0
  modelgate models add ./smollm2-q8.gguf --name smollm2 --version 1.0-q8 --variant-of smollm2@1.0-q4
  modelgate models approve all-MiniLM-L6-v2@1.0 --by alice --review-by 2027-06-30
  modelgate models approve llama@3.1 --by bob --sign-off legal=lena --sign-off governance=gus
  modelgate models review llama@3.1 --role legal --by lena --note \"terms fine for internal use\"
  modelgate models promote all-MiniLM-L6-v2@1.0 --by carol
  modelgate models revoke all-MiniLM-L6-v2@1.0 --by dan --reason \"CVE-2026-1234\"
  modelgate models verify all-MiniLM-L6-v2@1.0
  modelgate models due --as-of 2027-01-01 --format json")]
    Models(crate::models_cmd::ModelsArgs),

    /// Which team uses which version, for what.
    #[command(after_help = "\
Only approved and production versions can be assigned; `models revoke` lists
the teams a revocation affects.

Exit codes: 0 done; 2 usage error, unknown version, or a version that is not
approved or in production.

Examples:
  modelgate teams assign search all-MiniLM-L6-v2@1.0 --purpose \"semantic search\"
  modelgate teams list --format json")]
    Teams(crate::models_cmd::TeamsArgs),

    /// The audit trail of every inventory change, chained by SHA-256.
    #[command(after_help = "\
Each event carries the SHA-256 of the previous event and its own canonical
JSON (sorted keys, no spaces, without \"hash\"); `audit verify` recomputes the
chain, names the first edited, removed or reordered event, and checks that
the stored versions and assignments are what the trail says. The database
also refuses UPDATE and DELETE on events.

Exit codes: 0 intact; 1 tampering found; 2 usage error or unreadable store.

Examples:
  modelgate audit log --format json > audit.jsonl
  modelgate audit verify")]
    Audit(crate::models_cmd::AuditArgs),

    /// Serve approved versions behind an OpenAI-compatible API.
    ///
    /// Loads only versions at stage approved or production, only from the
    /// inventory's blob store, after re-hashing every file against the digest
    /// vet recorded (a version recorded before the store existed is imported
    /// first). GGUF models run in-process on llama.cpp with continuous
    /// batching over --slots; sentence-transformers snapshots serve
    /// embeddings. Stage changes made while it runs apply within seconds:
    /// a revoked version is unloaded and answered with 403 and the reason; a
    /// deprecated one answers with a Deprecation header. Loads, unloads and
    /// refusals are audit events.
    #[command(after_help = "\
Endpoints: POST /v1/chat/completions, /v1/completions, /v1/embeddings;
GET /v1/models, /v1/models/{id}, /health, /ready, /metrics (Prometheus). Model
ids are NAME@VERSION, or NAME for its production version (else its newest
approved one), or a route's name from [[routes]].

Gateway: every /v1 request needs a key (`modelgate keys create`; Authorization:
Bearer mg-...), unless [auth] anonymous = true. A team calls only the versions
assigned to it (`teams assign`) and the routes granted to it (`teams grant`):
401 without a valid key, 403 naming why otherwise. Limits per key and team
(`keys create --rpm --tpm --max-parallel --budget-usd`, `teams limits`) answer
429 with x-ratelimit-* and retry-after-ms; a spent budget is 429
insufficient_quota with x-should-retry: false. Routes send a model name to
local versions and upstream providers (OpenAI-compatible or Anthropic) in
order, falling back on connect errors, timeouts, 429 and 5xx; personal data is
masked before it leaves for an external provider; one usage record per request
(`modelgate usage`). SIGHUP reloads routes, providers, prices and masking.

Memory: before loading, weights + KV cache (--ctx × --slots, as llama.cpp
allocates it, sliding-window layers included) are checked against available
memory and memory_budget_mib; a model that does not fit is refused with the
numbers.

Stopping: SIGTERM or Ctrl-C stops accepting, lets running streams finish for
drain_seconds (default 30), then exits.

Logging: MODELGATE_LOG=info (a tracing filter) on stderr.

Examples:
  modelgate serve --models SmolLM2@1.0,all-MiniLM-L6-v2@1.0 --listen 127.0.0.1:8080
  modelgate serve --all-approved --slots 8 --ctx 4096
  modelgate serve --config serve.toml
  modelgate serve --config serve.toml --listen 127.0.0.1:8081 --redis redis://127.0.0.1:6379 --replicas 3
  curl http://127.0.0.1:8080/v1/chat/completions -H \"authorization: Bearer $KEY\" \\
    -H 'content-type: application/json' \\
    -d '{\"model\": \"SmolLM2\", \"messages\": [{\"role\": \"user\", \"content\": \"Hi\"}]}'")]
    Serve(crate::serve_cmd::ServeArgs),

    /// API keys for the gateway in `modelgate serve`.
    ///
    /// A key belongs to a team, carries limits (requests and tokens per
    /// minute, parallel requests, a monthly budget in USD) and a data class.
    /// It is printed once as mg-<id>-<secret>; the inventory keeps only the
    /// SHA-256 of the secret. Every change is an audit event, and a running
    /// server sees it within seconds.
    #[command(after_help = "\
Data classes: public < internal < confidential < restricted. Requests of a
confidential or restricted key (or raised to it by the x-modelgate-data-class
header) never leave self-hosted targets.

Examples:
  modelgate keys create --team search --name wiki-bot --rpm 600 --tpm 200000 --budget-usd 50
  modelgate keys create --team legal --data-class confidential --expires 2027-06-30
  modelgate keys list --team search --format json
  modelgate keys revoke 7f3k2m9q1xab --reason \"leaked in a CI log\"
  modelgate keys rotate 7f3k2m9q1xab")]
    Keys(crate::gateway_cmd::KeysArgs),

    /// People who sign in to the web console, and their roles.
    #[command(after_help = "\
Roles: viewer (reads everything, changes nothing); reviewer:legal,
reviewer:security, reviewer:governance (sign off or reject the review of
their own kind on versions whose verdict asks for it); admin (approves,
promotes, deprecates, revokes, manages keys). Passwords are stored as
argon2id hashes; every change is an audit event (user.*).

Exit codes: 0 done; 2 usage error, unknown or existing user, weak password.

Examples:
  modelgate users add ada --role admin
  printf '%s\\n' \"$PW\" | modelgate users add lena --role reviewer:legal --password-stdin
  modelgate users role vic viewer
  modelgate users list --format json")]
    Users(crate::console_cmd::UsersArgs),

    /// The web console alone, when no model is to be served.
    ///
    /// The catalogue of approved models with their evidence, the review
    /// queue, the audit trail, usage and keys, under /ui. `modelgate serve`
    /// mounts the same console beside the API.
    #[command(after_help = "\
Sign in with a user from `modelgate users add`. Changes made in the console
are the audit events the CLI writes, with the signed-in user as the actor.
Sessions: HttpOnly SameSite=Strict cookies (add --secure-cookies behind
TLS), ended after --idle-minutes; failed sign-ins are limited to 5 per user
and per address in 15 minutes, counted in the inventory (one limit for every
replica on a shared --database).

Examples:
  modelgate console --listen 127.0.0.1:8090
  modelgate console --policy policy.toml --secure-cookies")]
    Console(crate::console_cmd::ConsoleArgs),

    /// The inventory database's schema: its status, and migrating it.
    #[command(after_help = "\
Examples:
  modelgate db status
  modelgate db status --format json
  modelgate db migrate          # before starting a new version of the replicas")]
    Db(crate::db_cmd::DbArgs),

    /// Requests, tokens and cost recorded by the gateway, grouped by day,
    /// team, model or key.
    #[command(after_help = "\
Examples:
  modelgate usage --by team
  modelgate usage --team search --since 2026-11-01 --by model --format csv > usage.csv
  modelgate usage --by key --format json")]
    Usage(crate::gateway_cmd::UsageArgs),

    /// Is it good enough on our data? Run a suite on a model and judge it.
    ///
    /// A suite is a TOML file and its cases (JSONL), kept in your repository:
    /// generation cases with promptfoo-style assertions, multiple-choice items
    /// scored by log-likelihood (acc, acc_norm as lm-evaluation-harness, and
    /// acc_per_token as llama.cpp's evaluator), or a text corpus for
    /// perplexity. MODEL is NAME@VERSION (the run is stored with the version
    /// as an audit event) or a GGUF file; runs in-process on the embedded
    /// llama.cpp engine, or generation cases against any OpenAI-compatible
    /// --endpoint.
    #[command(after_help = "\
Assertions: equals, contains, icontains, contains-any, contains-all,
icontains-any, icontains-all, starts-with, regex, is-json (optionally with a
JSON Schema), is-refusal, latency, max-cost; any of them negated with not-,
with weights and a per-case threshold.

Ready-made suites (ARC-Easy, HellaSwag, PIQA, GSM8K, a Shakespeare corpus):
  scripts/eval-data.sh     prints the folder they are written to

Exit codes: 0 the suite's threshold is met (or it has none); 1 it is not;
2 usage error, unreadable suite or model.

Examples:
  modelgate eval smollm2@1.0 --suite suites/support/suite.toml
  modelgate eval model.gguf --suite hellaswag/suite.toml --limit 500 --format json
  modelgate eval x --suite support.toml --endpoint https://api.openai.com/v1 --model gpt-4o-mini --format junit > eval.xml
  modelgate eval list smollm2
  modelgate eval compare 3 7
  modelgate eval divergence base-f16.gguf q4_k_m.gguf --corpus shakespeare.txt --chunks 20
  modelgate eval quant smollm2 --corpus corpus.txt --max-kld 0.05 --out report/")]
    Eval(Box<crate::eval_cmd::EvalArgs>),

    /// Quantize a recorded GGUF version into smaller variants with llama.cpp's
    /// quantizer; each is vetted and recorded as NAME@VERSION-<type>, a
    /// variant of its source that inherits its license and provenance.
    #[command(after_help = "\
Examples:
  modelgate quantize smollm2@1.0-f16 --to Q8_0,Q6_K,Q5_K_M,Q4_K_M,Q4_0,Q2_K
  modelgate quantize smollm2@1.0 --to F16 --allow-requantize")]
    Quantize(crate::eval_cmd::QuantizeArgs),

    /// What a model costs self-hosted against proprietary APIs: per million
    /// tokens, per month at each volume, and the crossover volume.
    ///
    /// Tokens/s come from the version's stored runs (or --tokens-per-s);
    /// API prices from a dated table with sources, overridable with --prices.
    #[command(after_help = "\
Examples:
  modelgate cost smollm2@1.0 --hardware-usd-hour 0.50
  modelgate cost smollm2@1.0 --hardware-usd-hour 1.2 --compare gpt-4o-mini,claude-3-5-haiku --volume 100000000,1000000000 --format json")]
    Cost(crate::eval_cmd::CostArgs),
}

/// Flags shared by `vet` and `bom`: the policy and what is known about the
/// model's origin.
#[derive(Debug, clap::Args)]
pub(crate) struct OriginArgs {
    /// Organisation policy (TOML); default: the built-in policy.
    #[arg(long, value_name = "FILE", env = "MODELGATE_POLICY")]
    pub(crate) policy: Option<PathBuf>,

    /// Signature file to verify (default: PATH/model.sig for a directory,
    /// PATH.sig for a single file).
    #[arg(long, value_name = "FILE")]
    pub(crate) signature: Option<PathBuf>,

    /// Who published the model, when the files do not say.
    #[arg(long, value_name = "NAME")]
    pub(crate) publisher: Option<String>,

    /// Where the model was downloaded from (URL or hub repository id).
    #[arg(long, value_name = "URL")]
    pub(crate) source: Option<String>,

    /// The revision (commit) downloaded.
    #[arg(long, value_name = "REV")]
    pub(crate) revision: Option<String>,

    /// Context length for the memory estimate (default: the model's own).
    #[arg(long, value_name = "TOKENS", value_parser = clap::value_parser!(u64).range(1..))]
    pub(crate) context: Option<u64>,
}

#[derive(Debug, clap::Args)]
pub(crate) struct VetArgs {
    /// A model file or repository directory.
    #[arg(value_name = "PATH", required_unless_present = "print_default_policy")]
    pub(crate) path: Option<PathBuf>,

    #[command(flatten)]
    pub(crate) origin: OriginArgs,

    /// Print the built-in policy, with a comment on every key, and exit.
    #[arg(long, exclusive = true)]
    pub(crate) print_default_policy: bool,

    /// Output format.
    #[arg(long, value_enum, default_value_t = VetFormat::Text)]
    pub(crate) format: VetFormat,
}

#[derive(Debug, clap::Args)]
pub(crate) struct BomArgs {
    /// A model file or repository directory.
    #[arg(value_name = "PATH", required_unless_present = "inventory")]
    pub(crate) path: Option<PathBuf>,

    /// Every approved and production version in the inventory instead of
    /// one model.
    #[arg(long, conflicts_with = "path")]
    pub(crate) inventory: bool,

    #[command(flatten)]
    pub(crate) origin: OriginArgs,

    /// Write the BOM to this file instead of standard output.
    #[arg(long, short, value_name = "FILE")]
    pub(crate) output: Option<PathBuf>,

    /// Output format (CycloneDX 1.6 JSON is the only one).
    #[arg(long, value_enum, default_value_t = BomFormat::Json)]
    pub(crate) format: BomFormat,
}

#[derive(Debug, clap::Args)]
pub(crate) struct ScanArgs {
    /// Model files or directories (walked recursively, in parallel).
    #[arg(required = true, value_name = "PATH")]
    pub(crate) paths: Vec<PathBuf>,

    /// Lowest severity that fails the scan (exit 1).
    #[arg(long, value_enum, default_value_t = FailOn::High, value_name = "SEVERITY")]
    pub(crate) fail_on: FailOn,

    /// Output format.
    #[arg(long, value_enum, default_value_t = ScanFormat::Text)]
    pub(crate) format: ScanFormat,
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

    /// Output format.
    #[arg(long, value_enum, default_value_t = TextOrJson::Text)]
    pub(crate) format: TextOrJson,
}

/// `--format` of the commands that write text or JSON: inspect, sign,
/// verify, models, teams, audit.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub(crate) enum TextOrJson {
    /// A readable summary.
    Text,
    /// JSON, the interface scripts rely on.
    Json,
}

/// `--format` of `scan`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub(crate) enum ScanFormat {
    /// A readable summary.
    Text,
    /// JSON, the interface scripts rely on.
    Json,
    /// SARIF 2.1.0, for code-scanning dashboards.
    Sarif,
}

/// `--format` of `vet`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub(crate) enum VetFormat {
    /// A readable summary.
    Text,
    /// The full report as JSON, for scripts and the inventory.
    Json,
    /// Markdown, the record of the decision.
    Markdown,
}

/// `--format` of `bom`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub(crate) enum BomFormat {
    /// CycloneDX 1.6 JSON.
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
