//! The Markdown record of a vet decision, fit to attach to a ticket.
//!
//! Every value that came from the model (names, card text, messages quoting
//! file contents) is escaped: a hostile model card cannot inject HTML,
//! links or table cells into the record.

use std::fmt::Write;

use modelgate_policy::{Action, Decision, SignatureStatus};

use modelgate_inspect::human_bytes as bytes;

use crate::VetReport;

/// Most scan findings listed individually.
const MAX_FINDINGS_LISTED: usize = 200;
/// Longest untrusted value written into one cell or line, in characters.
const MAX_CELL_CHARS: usize = 1000;
/// Most files listed individually.
const MAX_FILES_LISTED: usize = 500;

/// Escape untrusted text for a Markdown table cell or list item.
fn esc(text: &str) -> String {
    let mut out = String::with_capacity(text.len().min(2 * MAX_CELL_CHARS));
    let mut chars = text.chars();
    for c in chars.by_ref().take(MAX_CELL_CHARS) {
        match c {
            '\n' | '\r' | '\t' => out.push(' '),
            '|' => out.push_str("\\|"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '&' => out.push_str("&amp;"),
            '`' | '*' | '_' | '[' | ']' | '#' | '\\' | '!' => {
                out.push('\\');
                out.push(c);
            }
            c if c.is_control() => {}
            c => out.push(c),
        }
    }
    if chars.next().is_some() {
        out.push('…');
    }
    out
}

fn opt<T: ToString>(value: &Option<T>) -> String {
    value
        .as_ref()
        .map(|v| esc(&v.to_string()))
        .unwrap_or_else(|| "—".to_string())
}

/// Render a report as Markdown.
pub fn markdown(report: &VetReport) -> String {
    let mut out = String::new();
    // Writing to a String cannot fail.
    let _ = render(&mut out, report);
    out
}

fn decision_line(report: &VetReport) -> String {
    match report.verdict.decision {
        Decision::Approved => "**APPROVED**".to_string(),
        Decision::Rejected => "**REJECTED**".to_string(),
        Decision::NeedsReview => {
            let who: Vec<&str> = report.verdict.reviewers.iter().map(|r| r.name()).collect();
            format!("**NEEDS REVIEW** by {}", who.join(", "))
        }
    }
}

fn render(out: &mut String, report: &VetReport) -> std::fmt::Result {
    let model = &report.model;
    writeln!(out, "# Model vetting record: {}", esc(&model.name))?;
    writeln!(out)?;
    writeln!(out, "Decision: {}", decision_line(report))?;
    writeln!(out)?;
    writeln!(out, "| | |")?;
    writeln!(out, "|---|---|")?;
    writeln!(out, "| Path | {} |", esc(&report.path))?;
    writeln!(out, "| Format | {} |", opt(&model.format))?;
    writeln!(out, "| Architecture | {} |", opt(&model.architecture))?;
    writeln!(out, "| Parameters | {} |", opt(&model.parameters))?;
    writeln!(out, "| Quantization | {} |", opt(&model.quantization))?;
    writeln!(out, "| Context length | {} |", opt(&model.context_length))?;
    writeln!(
        out,
        "| Memory to run | {} |",
        model.memory_bytes.map(bytes).unwrap_or_else(|| "—".into())
    )?;
    let license = match (&report.license.license, &report.license.terms) {
        (Some(id), Some(terms)) => format!("{} (`{}`)", esc(&terms.name), esc(id)),
        (Some(id), None) => format!("`{}`", esc(id)),
        _ => "unknown".to_string(),
    };
    writeln!(out, "| License | {license} |")?;
    let fact = |fact: &Option<modelgate_provenance::Fact>| match fact {
        Some(f) => format!("{} (from {})", esc(&f.value), esc(&f.origin)),
        None => "unknown".to_string(),
    };
    writeln!(
        out,
        "| Publisher | {} |",
        fact(&report.provenance.publisher)
    )?;
    writeln!(out, "| Source | {} |", fact(&report.provenance.source))?;
    writeln!(out, "| Revision | {} |", fact(&report.provenance.revision))?;
    let signature = match &report.signature.status {
        SignatureStatus::Unsigned => "unsigned".to_string(),
        SignatureStatus::Unchecked => {
            "signed, not checked (no trusted key in the policy)".to_string()
        }
        SignatureStatus::Verified { signer } => format!("verified with {}", esc(signer)),
        SignatureStatus::Invalid { reason } => format!("**does not verify**: {}", esc(reason)),
    };
    writeln!(out, "| Signature | {signature} |")?;
    writeln!(out, "| Model card | {}/100 |", report.card.score)?;
    let s = &report.scan.summary;
    writeln!(
        out,
        "| Security scan | {} files: {} critical, {} high, {} medium, {} low |",
        s.files, s.critical, s.high, s.medium, s.low
    )?;
    writeln!(
        out,
        "| Vetted by | modelgate {} |",
        esc(&report.tool_version)
    )?;
    writeln!(out)?;

    writeln!(out, "## Reasons")?;
    writeln!(out)?;
    for reason in &report.verdict.reasons {
        let tag = match (reason.action, reason.reviewer) {
            (Action::Reject, _) => "**REJECT**".to_string(),
            (Action::Review, Some(who)) => format!("**REVIEW ({})**", who.name()),
            (Action::Review, None) => "**REVIEW**".to_string(),
            (Action::Allow, _) => "pass".to_string(),
        };
        writeln!(out, "- {tag} `{}`: {}", reason.rule, esc(&reason.message))?;
        for evidence in &reason.evidence {
            writeln!(out, "  - {}", esc(evidence))?;
        }
    }
    writeln!(out)?;

    if !report.verdict.obligations.is_empty() {
        writeln!(out, "## Obligations if used")?;
        writeln!(out)?;
        for duty in &report.verdict.obligations {
            writeln!(out, "- {}", esc(duty))?;
        }
        writeln!(out)?;
    }

    writeln!(out, "## License")?;
    writeln!(out)?;
    if report.license.sources.is_empty() {
        writeln!(
            out,
            "No license is stated in the card, license files or metadata."
        )?;
    } else {
        writeln!(out, "| Source | States | Identified as | Score |")?;
        writeln!(out, "|---|---|---|---|")?;
        for source in &report.license.sources {
            writeln!(
                out,
                "| {} | {} | {} | {} |",
                esc(&source.location),
                esc(&source.declared),
                opt(&source.resolved),
                source
                    .score
                    .map(|s| format!("{s:.2}"))
                    .unwrap_or_else(|| "—".into())
            )?;
        }
    }
    for conflict in &report.license.conflicts {
        writeln!(out, "\n- Conflict: {}", esc(&conflict.message))?;
    }
    if let Some(terms) = &report.license.terms {
        writeln!(
            out,
            "\nTerms of {}: commercial use {}; {}",
            esc(&terms.name),
            esc(&format!("{:?}", terms.commercial).to_lowercase()),
            esc(&terms.summary)
        )?;
    }
    writeln!(out)?;

    writeln!(out, "## Model card")?;
    writeln!(out)?;
    writeln!(out, "Completeness {}/100.", report.card.score)?;
    writeln!(out)?;
    writeln!(out, "| Question | Answered | Where |")?;
    writeln!(out, "|---|---|---|")?;
    for check in &report.card.checks {
        writeln!(
            out,
            "| {} | {} | {} |",
            esc(&check.name),
            if check.filled { "yes" } else { "**no**" },
            opt(&check.found_in)
        )?;
    }
    if !report.card.gaps.is_empty() {
        writeln!(out)?;
        for gap in &report.card.gaps {
            writeln!(out, "- Gap: {}", esc(&gap.message))?;
        }
    }
    writeln!(out)?;

    writeln!(out, "## Provenance")?;
    writeln!(out)?;
    let p = &report.provenance;
    writeln!(out, "- Name: {}", fact(&p.name))?;
    writeln!(out, "- Quantized by: {}", fact(&p.quantized_by))?;
    if p.base_models.is_empty() {
        writeln!(out, "- Base model: none stated")?;
    }
    for base in &p.base_models {
        let relation = base
            .relation
            .as_deref()
            .map(|r| format!(" ({})", esc(r)))
            .unwrap_or_default();
        writeln!(
            out,
            "- Base model: {}{relation} (from {})",
            esc(&base.name),
            esc(&base.origin)
        )?;
    }
    for tool in &p.toolchain {
        writeln!(
            out,
            "- Toolchain: {} (from {})",
            esc(&tool.value),
            esc(&tool.origin)
        )?;
    }
    for conflict in &p.conflicts {
        writeln!(out, "- Conflict: {}", esc(conflict))?;
    }
    writeln!(out)?;

    writeln!(out, "## Security findings")?;
    writeln!(out)?;
    let findings: Vec<_> = report
        .scan
        .files
        .iter()
        .flat_map(|file| file.findings.iter().map(move |finding| (file, finding)))
        .collect();
    if findings.is_empty() {
        writeln!(out, "None.")?;
    } else {
        writeln!(out, "| Severity | Rule | File | Finding |")?;
        writeln!(out, "|---|---|---|---|")?;
        for (file, finding) in findings.iter().take(MAX_FINDINGS_LISTED) {
            writeln!(
                out,
                "| {} | `{}` | {} | {} |",
                finding.severity.name(),
                finding.rule,
                esc(&file.path),
                esc(&finding.message)
            )?;
        }
        if findings.len() > MAX_FINDINGS_LISTED {
            writeln!(
                out,
                "\n{} more findings: see the JSON report.",
                findings.len() - MAX_FINDINGS_LISTED
            )?;
        }
    }
    writeln!(out)?;

    writeln!(out, "## Files")?;
    writeln!(out)?;
    writeln!(out, "| File | Size | SHA-256 |")?;
    writeln!(out, "|---|---|---|")?;
    for file in report.files.iter().take(MAX_FILES_LISTED) {
        writeln!(
            out,
            "| {} | {} | `{}` |",
            esc(&file.path),
            bytes(file.size),
            file.sha256
        )?;
    }
    if report.files.len() > MAX_FILES_LISTED {
        writeln!(
            out,
            "\n{} more files: see the JSON report.",
            report.files.len() - MAX_FILES_LISTED
        )?;
    }
    writeln!(out)?;
    writeln!(out, "<details><summary>Policy applied</summary>")?;
    writeln!(out)?;
    writeln!(out, "```json")?;
    writeln!(
        out,
        "{}",
        serde_json::to_string_pretty(&report.policy)
            .unwrap_or_default()
            .replace("```", "'''")
    )?;
    writeln!(out, "```")?;
    writeln!(out)?;
    writeln!(out, "</details>")?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hostile_text_cannot_break_out() {
        assert_eq!(
            esc("a|b\n<script>[x](http://e)`c`"),
            "a\\|b &lt;script&gt;\\[x\\](http://e)\\`c\\`"
        );
        let long = esc(&"x".repeat(MAX_CELL_CHARS + 5));
        assert_eq!(long.chars().count(), MAX_CELL_CHARS + 1);
        assert!(long.ends_with('…'));
    }
}
