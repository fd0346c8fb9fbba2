//! `modelgate sign` and `modelgate verify`: OpenSSF Model Signing (OMS)
//! signatures, interoperable with the `model-signing` Python package.

use std::io::Write;
use std::path::{Path, PathBuf};

use anyhow::Context;
use modelgate_signing::{
    Certificate, CertificateInfo, Error, HashOptions, Manifest, PrivateKey, PublicKey,
    Serialization, SignedBy, Signer, SignerInfo, Trust, VerifyOptions, default_signature_path,
    path_within_model, read_signature, sign_model, verify,
};
use serde::Serialize;

use crate::cli::{Args, OutputFormat};
use crate::exit;
use crate::progress::Bar;
use crate::render::{self, Style};

/// Arguments of `modelgate sign`.
#[derive(Debug, clap::Args)]
pub(crate) struct SignArgs {
    /// The model: a directory (every file under it) or a single file.
    #[arg(value_name = "PATH")]
    pub(crate) path: PathBuf,

    /// Private key, PEM (PKCS#8 or SEC1; ECDSA P-256, P-384 or P-521).
    #[arg(long, value_name = "KEY.pem")]
    pub(crate) key: PathBuf,

    /// Certificate method: the certificate of --key (PEM). Without it the
    /// signature names the key only (key method).
    #[arg(long, value_name = "CERT.pem")]
    pub(crate) signing_certificate: Option<PathBuf>,

    /// Certificate method: further certificates to include (intermediates,
    /// PEM, several per file allowed). Repeatable.
    #[arg(long, value_name = "CHAIN.pem", requires = "signing_certificate")]
    pub(crate) certificate_chain: Vec<PathBuf>,

    /// Where to write the signature [default: PATH/model.sig for a
    /// directory, PATH.sig for a file].
    #[arg(long, value_name = "FILE")]
    pub(crate) signature: Option<PathBuf>,

    /// One digest per file, or per --shard-size bytes of each file (large
    /// files then hash on every core).
    #[arg(long, value_enum, default_value_t = SerializationArg::Files)]
    pub(crate) serialization: SerializationArg,

    /// Shard size in bytes, for --serialization shards.
    #[arg(long, value_name = "BYTES", default_value_t = modelgate_signing::DEFAULT_SHARD_SIZE,
          value_parser = clap::value_parser!(u64).range(1..))]
    pub(crate) shard_size: u64,

    /// Leave this path out of the signature (relative to the current
    /// directory, as in model_signing). Repeatable.
    #[arg(long = "ignore-paths", value_name = "PATH")]
    pub(crate) ignore_paths: Vec<PathBuf>,

    /// Sign .git, .gitattributes, .github and .gitignore too (left out by
    /// default).
    #[arg(long)]
    pub(crate) no_ignore_git_paths: bool,

    /// Follow symbolic links (refused by default).
    #[arg(long)]
    pub(crate) allow_symlinks: bool,
}

/// Arguments of `modelgate verify`.
#[derive(Debug, clap::Args)]
pub(crate) struct VerifyArgs {
    /// The model: a directory or a single file.
    #[arg(value_name = "PATH")]
    pub(crate) path: PathBuf,

    /// Key method: a trusted public key (PEM). Repeatable: any of them may
    /// have signed.
    #[arg(
        long,
        value_name = "PUB.pem",
        required_unless_present = "certificate_chain",
        conflicts_with = "certificate_chain"
    )]
    pub(crate) public_key: Vec<PathBuf>,

    /// Certificate method: trusted CA certificates (PEM, several per file
    /// allowed). Repeatable.
    #[arg(long, value_name = "CA.pem")]
    pub(crate) certificate_chain: Vec<PathBuf>,

    /// The signature to check [default: PATH/model.sig for a directory,
    /// PATH.sig for a file].
    #[arg(long, value_name = "FILE")]
    pub(crate) signature: Option<PathBuf>,

    /// Leave this path out besides what the signature lists (relative to
    /// the current directory). Repeatable.
    #[arg(long = "ignore-paths", value_name = "PATH")]
    pub(crate) ignore_paths: Vec<PathBuf>,

    /// Check .git, .gitattributes, .github and .gitignore too.
    #[arg(long)]
    pub(crate) no_ignore_git_paths: bool,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub(crate) enum SerializationArg {
    /// One SHA-256 per file (model_signing's default).
    Files,
    /// One SHA-256 per shard of each file, named path:start:end.
    Shards,
}

pub(crate) fn sign(args: &Args, sign_args: &SignArgs) -> anyhow::Result<u8> {
    check_format(args)?;
    let model = &sign_args.path;
    std::fs::metadata(model).with_context(|| format!("cannot read {}", model.display()))?;
    let key_text = read_text(&sign_args.key)?;
    let key = PrivateKey::from_pem(&key_text)
        .with_context(|| format!("{}: not a usable signing key", sign_args.key.display()))?;
    let signer = match &sign_args.signing_certificate {
        None => Signer::with_key(key),
        Some(path) => {
            let signing_certificate = read_certificates(path)?.swap_remove(0);
            let mut chain = Vec::new();
            for path in &sign_args.certificate_chain {
                chain.extend(read_certificates(path)?);
            }
            Signer::with_certificate(key, signing_certificate, chain).with_context(|| {
                format!(
                    "{} does not certify {}",
                    path.display(),
                    sign_args.key.display()
                )
            })?
        }
    };
    let signature_path = sign_args
        .signature
        .clone()
        .unwrap_or_else(|| default_signature_path(model));
    let options = HashOptions {
        serialization: match sign_args.serialization {
            SerializationArg::Files => Serialization::Files,
            SerializationArg::Shards => Serialization::Shards {
                shard_size: sign_args.shard_size,
            },
        },
        allow_symlinks: sign_args.allow_symlinks,
        ignore_paths: ignore_paths(model, &sign_args.ignore_paths, &signature_path),
        ignore_git_paths: !sign_args.no_ignore_git_paths,
    };
    let bar = Bar::new("signing");
    let result = sign_model(model, &options, &signer, &bar);
    bar.finish();
    let (manifest, bundle) = result.map_err(|error| {
        let hint = match &error {
            Error::Symlink { .. } => {
                "; pass --allow-symlinks to sign the files links point to (Hugging Face cache snapshots are links)"
            }
            Error::SignatureTooLarge { .. } => "; sign in files mode or with a larger --shard-size",
            _ => "",
        };
        anyhow::anyhow!("cannot sign {}: {error}{hint}", model.display())
    })?;
    std::fs::write(&signature_path, &bundle)
        .with_context(|| format!("cannot write {}", signature_path.display()))?;

    let report = SignReport {
        model: model.display().to_string(),
        signature: signature_path.display().to_string(),
        summary: Summary::of(&manifest, model),
        signer: SignerJson::from_info(&signer.info()),
    };
    let mut stdout = std::io::stdout().lock();
    match args.format {
        OutputFormat::Json => {
            serde_json::to_writer_pretty(&mut stdout, &report)?;
            writeln!(stdout)?;
        }
        _ => {
            let style = Style::for_stdout(args.color);
            writeln!(
                stdout,
                "{} {}  ({})",
                style.paint(&style.bold("signed"), "32"),
                report.model,
                report.summary.describe()
            )?;
            writeln!(stdout, "  signer     {}", report.signer.describe())?;
            writeln!(stdout, "  signature  {}", report.signature)?;
        }
    }
    stdout.flush()?;
    Ok(exit::OK)
}

pub(crate) fn verify_command(args: &Args, verify_args: &VerifyArgs) -> anyhow::Result<u8> {
    check_format(args)?;
    let model = &verify_args.path;
    std::fs::metadata(model).with_context(|| format!("cannot read {}", model.display()))?;
    let keys = verify_args
        .public_key
        .iter()
        .map(|path| {
            PublicKey::from_pem(&read_text(path)?)
                .with_context(|| format!("{}: not a usable public key", path.display()))
        })
        .collect::<anyhow::Result<Vec<_>>>()?;
    let mut authorities = Vec::new();
    let mut authority_files = Vec::new();
    for path in &verify_args.certificate_chain {
        for certificate in read_certificates(path)? {
            authorities.push(certificate);
            authority_files.push(path.display().to_string());
        }
    }
    let trust = if keys.is_empty() {
        Trust::CertificateAuthorities(&authorities)
    } else {
        Trust::Keys(&keys)
    };
    let signature_path = verify_args
        .signature
        .clone()
        .unwrap_or_else(|| default_signature_path(model));
    let options = VerifyOptions {
        ignore_paths: ignore_paths(model, &verify_args.ignore_paths, &signature_path),
        ignore_git_paths: !verify_args.no_ignore_git_paths,
    };
    let bar = Bar::new("verifying");
    // An oversized signature file is a failed verification (exit 1), like
    // any other malformed one; an unreadable one is an input error (exit 2).
    let result = read_signature(&signature_path)
        .and_then(|bytes| verify(model, &bytes, trust, &options, &bar));
    bar.finish();

    let mut report = VerifyReport {
        model: model.display().to_string(),
        signature: signature_path.display().to_string(),
        verified: false,
        summary: None,
        signed_by: None,
        error: None,
        advice: None,
        modified: Vec::new(),
        added: Vec::new(),
        removed: Vec::new(),
    };
    match result {
        Ok(verified) => {
            report.verified = true;
            report.summary = Some(Summary::of(&verified.manifest, model));
            report.signed_by = Some(match &verified.signed_by {
                SignedBy::Key { key_index, hint } => SignedByJson::Key {
                    hint: hint.clone(),
                    public_key: verify_args
                        .public_key
                        .get(*key_index)
                        .map(|p| p.display().to_string())
                        .unwrap_or_default(),
                },
                SignedBy::Certificate {
                    chain,
                    anchor_index,
                } => SignedByJson::Certificate {
                    chain: chain.iter().map(CertificateJson::from).collect(),
                    trusted_file: authority_files
                        .get(*anchor_index)
                        .cloned()
                        .unwrap_or_default(),
                },
            });
        }
        Err(error) if error.is_verification_failure() => {
            report.advice = Some(advice(&error, &signature_path));
            if let Error::ModelMismatch(mismatch) = &error {
                report.modified.clone_from(&mismatch.modified);
                report.added.clone_from(&mismatch.added);
                report.removed.clone_from(&mismatch.removed);
            }
            report.error = Some(error.to_string());
        }
        Err(error) => {
            let hint = match &error {
                Error::Io { path, .. } if *path == signature_path => {
                    "; sign the model first (modelgate sign) or pass --signature with the publisher's signature file"
                }
                _ => "",
            };
            anyhow::bail!("cannot verify {}: {error}{hint}", model.display());
        }
    }

    let mut stdout = std::io::stdout().lock();
    match args.format {
        OutputFormat::Json => {
            serde_json::to_writer_pretty(&mut stdout, &report)?;
            writeln!(stdout)?;
        }
        _ => verify_text(&mut stdout, &report, &Style::for_stdout(args.color))?,
    }
    stdout.flush()?;
    Ok(if report.verified {
        exit::OK
    } else {
        exit::FAILED
    })
}

fn verify_text(out: &mut impl Write, report: &VerifyReport, style: &Style) -> std::io::Result<()> {
    if let (Some(summary), Some(signed_by)) = (&report.summary, &report.signed_by) {
        writeln!(
            out,
            "{} {}  ({})",
            style.paint(&style.bold("verified"), "32"),
            report.model,
            summary.describe()
        )?;
        writeln!(out, "  signed by  {}", signed_by.describe())?;
        writeln!(out, "  signature  {}", report.signature)?;
        return Ok(());
    }
    writeln!(
        out,
        "{} {}",
        style.paint(&style.bold("NOT VERIFIED"), "31"),
        report.model
    )?;
    for (label, files) in [
        ("modified", &report.modified),
        ("added", &report.added),
        ("removed", &report.removed),
    ] {
        for file in files {
            writeln!(
                out,
                "  {}  {file}",
                style.paint(&format!("{label:<8}"), "31")
            )?;
        }
    }
    if report.modified.is_empty()
        && report.added.is_empty()
        && report.removed.is_empty()
        && let Some(error) = &report.error
    {
        writeln!(out, "  {error}")?;
    }
    if let Some(advice) = &report.advice {
        writeln!(out, "{advice}")?;
    }
    Ok(())
}

/// What to do about a failed verification.
fn advice(error: &Error, signature: &Path) -> String {
    match error {
        Error::ModelMismatch(_) => {
            "These files are not what the publisher signed. Do not use this model: \
             download it again from its source, or get a new signature from the publisher if the \
             change is expected."
                .to_string()
        }
        Error::UntrustedKey { .. } => {
            "The signature was made with a key you did not trust. Get the \
             publisher's public key and pass it with --public-key, or reject the model."
                .to_string()
        }
        Error::UntrustedChain { .. } => {
            "The signing certificate is not trusted. Pass the publisher's CA \
             certificate with --certificate-chain, or reject the model."
                .to_string()
        }
        Error::WrongVerificationMaterial { found, .. } => format!(
            "The signature was made with {found}: verify with {}.",
            if found.contains("key") {
                "--public-key"
            } else {
                "--certificate-chain"
            }
        ),
        Error::Symlink { path } => format!(
            "The signature was made without following symbolic links, and {} is one. Verify a \
             copy of the model that holds the files themselves (a Hugging Face cache snapshot \
             is links: download with --local-dir), or ask the publisher to sign with symbolic \
             links allowed.",
            path.display()
        ),
        Error::BadSignature { .. } => format!(
            "{} does not match the statement it signs: it was altered or corrupted. Download it again \
             from the publisher.",
            signature.display()
        ),
        _ => format!(
            "{} is not a valid model signature. Download it again from the publisher, or ask for one \
             made with model-signing 1.x (key or certificate method).",
            signature.display()
        ),
    }
}

fn check_format(args: &Args) -> anyhow::Result<()> {
    if args.format == OutputFormat::Text || args.format == OutputFormat::Json {
        Ok(())
    } else {
        anyhow::bail!("sign and verify write --format text or json")
    }
}

/// The `--ignore-paths` that lie inside the model, and the signature file
/// when it does, relative to the model root.
fn ignore_paths(model: &Path, given: &[PathBuf], signature: &Path) -> Vec<String> {
    given
        .iter()
        .map(PathBuf::as_path)
        .chain([signature])
        .filter_map(|path| path_within_model(model, path))
        .collect()
}

fn read_text(path: &Path) -> anyhow::Result<String> {
    std::fs::read_to_string(path).with_context(|| format!("cannot read {}", path.display()))
}

fn read_certificates(path: &Path) -> anyhow::Result<Vec<Certificate>> {
    Certificate::from_pem(&read_text(path)?)
        .with_context(|| format!("{}: not a PEM certificate file", path.display()))
}

#[derive(Serialize)]
struct SignReport {
    model: String,
    signature: String,
    #[serde(flatten)]
    summary: Summary,
    signer: SignerJson,
}

#[derive(Serialize)]
struct VerifyReport {
    model: String,
    signature: String,
    verified: bool,
    #[serde(flatten, skip_serializing_if = "Option::is_none")]
    summary: Option<Summary>,
    #[serde(skip_serializing_if = "Option::is_none")]
    signed_by: Option<SignedByJson>,
    #[serde(skip_serializing_if = "Option::is_none")]
    error: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    advice: Option<String>,
    modified: Vec<String>,
    added: Vec<String>,
    removed: Vec<String>,
}

#[derive(Serialize)]
struct Summary {
    serialization: &'static str,
    #[serde(skip_serializing_if = "Option::is_none")]
    shard_size: Option<u64>,
    files: usize,
    resources: usize,
    bytes: u64,
    root_digest: String,
}

impl Summary {
    fn of(manifest: &Manifest, model: &Path) -> Summary {
        let files = manifest.files();
        let bytes = files
            .iter()
            .map(|file| {
                let path = if *file == "." {
                    model.to_path_buf()
                } else {
                    model.join(file)
                };
                std::fs::metadata(path).map(|m| m.len()).unwrap_or(0)
            })
            .sum();
        Summary {
            serialization: manifest.params.serialization.method(),
            shard_size: match manifest.params.serialization {
                Serialization::Files => None,
                Serialization::Shards { shard_size } => Some(shard_size),
            },
            files: files.len(),
            resources: manifest.resources.len(),
            bytes,
            root_digest: manifest.root_digest_hex(),
        }
    }

    fn describe(&self) -> String {
        let files = if self.files == 1 { "file" } else { "files" };
        match self.shard_size {
            None => format!("{} {files}, {}", self.files, render::bytes(self.bytes)),
            Some(shard_size) => format!(
                "{} {files} in {} {} of {shard_size} bytes, {}",
                self.files,
                self.resources,
                if self.resources == 1 {
                    "shard"
                } else {
                    "shards"
                },
                render::bytes(self.bytes)
            ),
        }
    }
}

#[derive(Serialize)]
#[serde(tag = "method", rename_all = "snake_case")]
enum SignerJson {
    Key { hint: Option<String> },
    Certificate { chain: Vec<CertificateJson> },
}

impl SignerJson {
    fn from_info(info: &SignerInfo) -> SignerJson {
        match info {
            SignerInfo::Certificate { chain } => SignerJson::Certificate {
                chain: chain.iter().map(CertificateJson::from).collect(),
            },
            SignerInfo::Key { hint } => SignerJson::Key { hint: hint.clone() },
            _ => SignerJson::Key { hint: None },
        }
    }

    fn describe(&self) -> String {
        match self {
            SignerJson::Key { hint } => {
                format!("key {}", hint.as_deref().unwrap_or("(no hint)"))
            }
            SignerJson::Certificate { chain } => chain
                .first()
                .map(|c| format!("certificate {} (issued by {})", c.subject, c.issuer))
                .unwrap_or_default(),
        }
    }
}

#[derive(Serialize)]
#[serde(tag = "method", rename_all = "snake_case")]
enum SignedByJson {
    Key {
        hint: String,
        public_key: String,
    },
    Certificate {
        chain: Vec<CertificateJson>,
        trusted_file: String,
    },
}

impl SignedByJson {
    fn describe(&self) -> String {
        match self {
            SignedByJson::Key { hint, public_key } => format!("key {hint} ({public_key})"),
            SignedByJson::Certificate {
                chain,
                trusted_file,
            } => {
                let subjects: Vec<&str> = chain.iter().map(|c| c.subject.as_str()).collect();
                format!("{} (trusted: {trusted_file})", subjects.join(" ← "))
            }
        }
    }
}

#[derive(Serialize)]
struct CertificateJson {
    subject: String,
    issuer: String,
    serial: String,
    sha256_fingerprint: String,
    not_before: u64,
    not_after: u64,
}

impl From<&CertificateInfo> for CertificateJson {
    fn from(info: &CertificateInfo) -> CertificateJson {
        CertificateJson {
            subject: info.subject.clone(),
            issuer: info.issuer.clone(),
            serial: info.serial.clone(),
            sha256_fingerprint: info.sha256_fingerprint.clone(),
            not_before: info.not_before,
            not_after: info.not_after,
        }
    }
}
