//! `modelgate sign` and `modelgate verify`: OpenSSF Model Signing (OMS)
//! signatures, interoperable with the `model-signing` Python package.

use std::io::Write;
use std::path::{Path, PathBuf};

use anyhow::Context;
use modelgate_ops::{Anchors, SignedByJson, SignerJson, Summary, VerifyReport};
use modelgate_signing::{
    Certificate, Error, HashOptions, PrivateKey, PublicKey, Serialization, Signer, VerifyOptions,
    default_signature_path,
};

use crate::cli::{Args, TextOrJson};
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

    /// Output format.
    #[arg(long, value_enum, default_value_t = TextOrJson::Text)]
    pub(crate) format: TextOrJson,
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

    /// Output format.
    #[arg(long, value_enum, default_value_t = TextOrJson::Text)]
    pub(crate) format: TextOrJson,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub(crate) enum SerializationArg {
    /// One SHA-256 per file (model_signing's default).
    Files,
    /// One SHA-256 per shard of each file, named path:start:end.
    Shards,
}

pub(crate) fn sign(args: &Args, sign_args: &SignArgs) -> anyhow::Result<u8> {
    let model = &sign_args.path;
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
        ignore_paths: modelgate_ops::ignored_paths(model, &sign_args.ignore_paths, &signature_path),
        ignore_git_paths: !sign_args.no_ignore_git_paths,
    };
    let bar = Bar::new("signing");
    let result = modelgate_ops::sign(model, &signer, &options, &signature_path, &bar);
    bar.finish();
    let signed = result.map_err(|error| {
        let hint = match &error {
            modelgate_ops::Error::Sign {
                source: Error::Symlink { .. },
                ..
            } => {
                "; pass --allow-symlinks to sign the files links point to (Hugging Face cache snapshots are links)"
            }
            modelgate_ops::Error::Sign {
                source: Error::SignatureTooLarge { .. },
                ..
            } => "; sign in files mode or with a larger --shard-size",
            _ => "",
        };
        anyhow::anyhow!("{}{hint}", error_chain(&error))
    })?;
    std::fs::write(&signature_path, &signed.bundle)
        .with_context(|| format!("cannot write {}", signature_path.display()))?;
    let report = signed.report;

    let mut stdout = std::io::stdout().lock();
    match sign_args.format {
        TextOrJson::Json => {
            serde_json::to_writer_pretty(&mut stdout, &report)?;
            writeln!(stdout)?;
        }
        TextOrJson::Text => {
            let style = Style::for_stdout(args.color);
            writeln!(
                stdout,
                "{} {}  ({})",
                style.paint(&style.bold("signed"), "32"),
                report.model,
                describe_summary(&report.summary)
            )?;
            writeln!(stdout, "  signer     {}", describe_signer(&report.signer))?;
            writeln!(stdout, "  signature  {}", report.signature)?;
        }
    }
    stdout.flush()?;
    Ok(exit::OK)
}

pub(crate) fn verify_command(args: &Args, verify_args: &VerifyArgs) -> anyhow::Result<u8> {
    let model = &verify_args.path;
    let keys = verify_args
        .public_key
        .iter()
        .map(|path| {
            PublicKey::from_pem(&read_text(path)?)
                .with_context(|| format!("{}: not a usable public key", path.display()))
        })
        .collect::<anyhow::Result<Vec<_>>>()?;
    let key_files: Vec<String> = verify_args
        .public_key
        .iter()
        .map(|path| path.display().to_string())
        .collect();
    let mut authorities = Vec::new();
    let mut authority_files = Vec::new();
    for path in &verify_args.certificate_chain {
        for certificate in read_certificates(path)? {
            authorities.push(certificate);
            authority_files.push(path.display().to_string());
        }
    }
    let anchors = if keys.is_empty() {
        Anchors::Authorities {
            certificates: &authorities,
            sources: &authority_files,
        }
    } else {
        Anchors::Keys {
            keys: &keys,
            sources: &key_files,
        }
    };
    let signature_path = verify_args
        .signature
        .clone()
        .unwrap_or_else(|| default_signature_path(model));
    let options = VerifyOptions {
        ignore_paths: modelgate_ops::ignored_paths(
            model,
            &verify_args.ignore_paths,
            &signature_path,
        ),
        ignore_git_paths: !verify_args.no_ignore_git_paths,
    };
    let bar = Bar::new("verifying");
    let result = modelgate_ops::verify_signature(model, &signature_path, anchors, &options, &bar);
    bar.finish();
    // A signature that does not verify is an answer (exit 1); an unreadable
    // model or signature file is an input error (exit 2).
    let check = result.map_err(|error| {
        let hint = match &error {
            modelgate_ops::Error::Verify {
                source: Error::Io { path, .. },
                ..
            } if *path == signature_path => {
                "; sign the model first (modelgate sign) or pass --signature with the publisher's signature file"
            }
            _ => "",
        };
        anyhow::anyhow!("{}{hint}", error_chain(&error))
    })?;
    let mut report = check.report;
    report.advice = check
        .failure
        .as_ref()
        .map(|failure| advice(failure, &signature_path));

    let mut stdout = std::io::stdout().lock();
    match verify_args.format {
        TextOrJson::Json => {
            serde_json::to_writer_pretty(&mut stdout, &report)?;
            writeln!(stdout)?;
        }
        TextOrJson::Text => verify_text(&mut stdout, &report, &Style::for_stdout(args.color))?,
    }
    stdout.flush()?;
    Ok(if report.verified {
        exit::OK
    } else {
        exit::FAILED
    })
}

/// An error and its sources, `: `-separated.
fn error_chain(error: &dyn std::error::Error) -> String {
    let mut text = error.to_string();
    let mut source = error.source();
    while let Some(cause) = source {
        text.push_str(": ");
        text.push_str(&cause.to_string());
        source = cause.source();
    }
    text
}

fn verify_text(out: &mut impl Write, report: &VerifyReport, style: &Style) -> std::io::Result<()> {
    if let (Some(summary), Some(signed_by)) = (&report.summary, &report.signed_by) {
        writeln!(
            out,
            "{} {}  ({})",
            style.paint(&style.bold("verified"), "32"),
            report.model,
            describe_summary(summary)
        )?;
        writeln!(out, "  signed by  {}", describe_signed_by(signed_by))?;
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

fn read_text(path: &Path) -> anyhow::Result<String> {
    std::fs::read_to_string(path).with_context(|| format!("cannot read {}", path.display()))
}

fn read_certificates(path: &Path) -> anyhow::Result<Vec<Certificate>> {
    Certificate::from_pem(&read_text(path)?)
        .with_context(|| format!("{}: not a PEM certificate file", path.display()))
}

fn describe_summary(summary: &Summary) -> String {
    let files = if summary.files == 1 { "file" } else { "files" };
    match summary.shard_size {
        None => format!(
            "{} {files}, {}",
            summary.files,
            render::bytes(summary.bytes)
        ),
        Some(shard_size) => format!(
            "{} {files} in {} {} of {shard_size} bytes, {}",
            summary.files,
            summary.resources,
            if summary.resources == 1 {
                "shard"
            } else {
                "shards"
            },
            render::bytes(summary.bytes)
        ),
    }
}

fn describe_signer(signer: &SignerJson) -> String {
    match signer {
        SignerJson::Key { hint } => {
            format!("key {}", hint.as_deref().unwrap_or("(no hint)"))
        }
        SignerJson::Certificate { chain } => chain
            .first()
            .map(|c| format!("certificate {} (issued by {})", c.subject, c.issuer))
            .unwrap_or_default(),
    }
}

fn describe_signed_by(signed_by: &SignedByJson) -> String {
    match signed_by {
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
