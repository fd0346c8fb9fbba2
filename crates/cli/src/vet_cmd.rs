//! `modelgate vet` and `modelgate bom`.

use std::io::{IsTerminal, Write};
use std::path::Path;

use anyhow::Context;
use modelgate_policy::{Action, Decision, Policy, SignatureStatus};
use modelgate_provenance::Hints;
use modelgate_vet::{VetOptions, VetReport, vet};

use crate::cli::{Args, BomArgs, BomFormat, OriginArgs, VetArgs, VetFormat};
use crate::progress::Bar;
use crate::render::Style;
use crate::{exit, system};

/// The policy at `path`, or the built-in one.
pub(crate) fn load_policy(path: Option<&Path>) -> anyhow::Result<Policy> {
    let Some(path) = path else {
        return Ok(Policy::default());
    };
    let text = std::fs::read_to_string(path).with_context(|| {
        format!(
            "cannot read policy {}; check the path, or leave out --policy for the built-in default",
            path.display()
        )
    })?;
    Policy::from_toml(&text).with_context(|| {
        format!(
            "{}: fix the policy (see `modelgate vet --print-default-policy` for every key)",
            path.display()
        )
    })
}

fn options(origin: &OriginArgs) -> anyhow::Result<VetOptions> {
    let policy = load_policy(origin.policy.as_deref())?;
    let policy_dir = origin
        .policy
        .as_deref()
        .and_then(Path::parent)
        .map(Path::to_path_buf);
    Ok(VetOptions {
        policy,
        policy_dir,
        hints: Hints {
            publisher: origin.publisher.clone(),
            source: origin.source.clone(),
            revision: origin.revision.clone(),
            ..Hints::default()
        },
        signature: origin.signature.clone(),
        context_length: origin.context,
        machine_memory_bytes: system::total_memory_bytes(),
        progress: None,
    })
}

/// The vet options `origin` asks for, with hashing progress shown on `bar`.
pub(crate) fn vet_options(origin: &OriginArgs, bar: &Bar) -> anyhow::Result<VetOptions> {
    let mut options = options(origin)?;
    options.progress = Some(Box::new(bar.clone()));
    Ok(options)
}

fn run_vet(path: &Path, origin: &OriginArgs) -> anyhow::Result<VetReport> {
    let bar = Bar::new("hashing");
    let options = vet_options(origin, &bar)?;
    let report = vet(path, &options).map_err(anyhow::Error::new);
    bar.finish();
    report.with_context(|| format!("cannot vet {}", path.display()))
}

/// A BOM's serial number and time: a random version 4 UUID from the
/// operating system and the clock, here at the edge (`modelgate-bom` reads
/// neither).
pub(crate) fn fresh_bom_options() -> anyhow::Result<modelgate_bom::BomOptions> {
    let mut bytes = [0u8; 16];
    getrandom::fill(&mut bytes)
        .map_err(|error| anyhow::anyhow!("cannot draw a random BOM serial number: {error}"))?;
    Ok(modelgate_bom::BomOptions::new(
        modelgate_bom::SerialNumber::from_random_bytes(bytes),
        modelgate_bom::Timestamp::now(),
        env!("CARGO_PKG_VERSION"),
    ))
}

/// Write a BOM as pretty JSON to `output`, or to standard output.
pub(crate) fn write_bom(bom: &serde_json::Value, output: Option<&Path>) -> anyhow::Result<()> {
    let mut json = serde_json::to_string_pretty(bom)?;
    json.push('\n');
    match output {
        Some(output) => std::fs::write(output, json)
            .with_context(|| format!("cannot write {}", output.display()))?,
        None => {
            let mut stdout = std::io::stdout().lock();
            stdout.write_all(json.as_bytes())?;
            stdout.flush()?;
        }
    }
    Ok(())
}

pub(crate) fn run(args: &Args, vet_args: &VetArgs) -> anyhow::Result<u8> {
    let mut stdout = std::io::stdout().lock();
    if vet_args.print_default_policy {
        stdout.write_all(modelgate_policy::DEFAULT_POLICY_TOML.as_bytes())?;
        return Ok(exit::OK);
    }
    let Some(path) = &vet_args.path else {
        anyhow::bail!("give the model to vet: modelgate vet PATH");
    };
    let report = run_vet(path, &vet_args.origin)?;
    match vet_args.format {
        VetFormat::Json => {
            serde_json::to_writer_pretty(&mut stdout, &report)?;
            writeln!(stdout)?;
        }
        VetFormat::Markdown => stdout.write_all(modelgate_vet::markdown(&report).as_bytes())?,
        VetFormat::Text => text(&mut stdout, &report, &Style::for_stdout(args.color))?,
    }
    stdout.flush()?;
    Ok(match report.verdict.decision {
        Decision::Approved => exit::OK,
        Decision::Rejected => exit::FAILED,
        Decision::NeedsReview => exit::REVIEW,
    })
}

pub(crate) fn bom(args: &Args, bom_args: &BomArgs) -> anyhow::Result<u8> {
    match bom_args.format {
        BomFormat::Json => {}
    }
    let bom_options = fresh_bom_options()?;
    let bom = if bom_args.inventory {
        crate::models_cmd::inventory_bom(args, &bom_options)?
    } else {
        let Some(path) = &bom_args.path else {
            anyhow::bail!("give the model: modelgate bom PATH, or modelgate bom --inventory");
        };
        let bar = Bar::new("hashing");
        let vet_options = vet_options(&bom_args.origin, &bar)?;
        let bom = modelgate_ops::model_bom(path, &vet_options, &bom_options);
        bar.finish();
        bom.map_err(anyhow::Error::new)?
    };
    write_bom(&bom, bom_args.output.as_deref())?;
    Ok(exit::OK)
}

fn text(out: &mut impl Write, report: &VetReport, style: &Style) -> std::io::Result<()> {
    let verdict = &report.verdict;
    let decision = match verdict.decision {
        Decision::Approved => style.paint(&style.bold("APPROVED"), "32"),
        Decision::Rejected => style.paint(&style.bold("REJECTED"), "31"),
        Decision::NeedsReview => {
            let who: Vec<&str> = verdict.reviewers.iter().map(|r| r.name()).collect();
            style.paint(
                &style.bold(&format!("NEEDS REVIEW by {}", who.join(", "))),
                "33",
            )
        }
    };
    let model = &report.model;
    writeln!(out, "{}  {decision}", style.bold(&model.name))?;
    let mut shape = Vec::new();
    if let Some(format) = &model.format {
        shape.push(format.clone());
    }
    if let Some(architecture) = &model.architecture {
        shape.push(architecture.clone());
    }
    if let Some(parameters) = model.parameters {
        shape.push(format!("{parameters} parameters"));
    }
    if let Some(quantization) = &model.quantization {
        shape.push(quantization.clone());
    }
    writeln!(out, "  {}", shape.join(", "))?;
    writeln!(out)?;
    for reason in &verdict.reasons {
        let tag = match (reason.action, reason.reviewer) {
            (Action::Reject, _) => style.paint("REJECT ", "31"),
            (Action::Review, Some(who)) => style.paint(&format!("REVIEW ({})", who.name()), "33"),
            (Action::Review, None) => style.paint("REVIEW ", "33"),
            (Action::Allow, _) => style.paint("pass   ", "32"),
        };
        writeln!(out, "  {tag}  {}  {}", reason.rule, reason.message)?;
        for evidence in reason.evidence.iter().take(10) {
            writeln!(out, "           {}", style.dim(evidence))?;
        }
        if reason.evidence.len() > 10 {
            writeln!(
                out,
                "           {}",
                style.dim(&format!(
                    "... {} more (see --format json)",
                    reason.evidence.len() - 10
                ))
            )?;
        }
    }
    if !verdict.obligations.is_empty() {
        writeln!(out, "\nObligations if used:")?;
        for duty in &verdict.obligations {
            writeln!(out, "  - {duty}")?;
        }
    }
    writeln!(out)?;
    let license = match (&report.license.license, &report.license.terms) {
        (Some(id), Some(terms)) => format!("{} ({id})", terms.name),
        (Some(id), None) => id.clone(),
        _ => "unknown".to_string(),
    };
    writeln!(out, "License     {license}")?;
    for source in &report.license.sources {
        writeln!(
            out,
            "            {}",
            style.dim(&modelgate_vet::describe_license_source(source))
        )?;
    }
    writeln!(
        out,
        "Card        {}/100{}",
        report.card.score,
        if report.card.gaps.is_empty() {
            String::new()
        } else {
            format!(", {} gap(s)", report.card.gaps.len())
        }
    )?;
    for gap in &report.card.gaps {
        writeln!(out, "            {}", style.dim(&gap.message))?;
    }
    let fact = |fact: &Option<modelgate_provenance::Fact>| match fact {
        Some(f) => format!("{} {}", f.value, style.dim(&format!("({})", f.origin))),
        None => "unknown".to_string(),
    };
    writeln!(out, "Publisher   {}", fact(&report.provenance.publisher))?;
    writeln!(out, "Source      {}", fact(&report.provenance.source))?;
    writeln!(out, "Revision    {}", fact(&report.provenance.revision))?;
    for base in &report.provenance.base_models {
        writeln!(
            out,
            "Base model  {} {}",
            base.name,
            style.dim(&format!("({})", base.origin))
        )?;
    }
    let signature = match &report.signature.status {
        SignatureStatus::Unsigned => format!("unsigned (no {})", report.signature.path),
        SignatureStatus::Unchecked => {
            "signed; not checked (the policy lists no trusted keys)".to_string()
        }
        SignatureStatus::Verified { signer } => format!("verified with {signer}"),
        SignatureStatus::Invalid { reason } => format!("DOES NOT VERIFY: {reason}"),
    };
    writeln!(out, "Signature   {signature}")?;
    let s = &report.scan.summary;
    writeln!(
        out,
        "Scan        {} files: {} critical, {} high, {} medium, {} low",
        s.files, s.critical, s.high, s.medium, s.low
    )?;
    let total: u64 = report.files.iter().map(|f| f.size).sum();
    writeln!(
        out,
        "Files       {} ({}), SHA-256 in --format json",
        report.files.len(),
        crate::render::bytes(total)
    )?;
    if std::io::stdout().is_terminal() {
        writeln!(
            out,
            "\n{}",
            style.dim("--format markdown writes the record of this decision")
        )?;
    }
    Ok(())
}
