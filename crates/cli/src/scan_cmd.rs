//! `modelgate scan`.

use std::io::Write;

use modelgate_scan::{ScanOptions, ScanReport, Severity, scan_paths, to_sarif};

use crate::cli::{Args, FailOn, ScanArgs, ScanFormat};
use crate::exit;
use crate::render::{self, Style};

pub(crate) fn run(args: &Args, scan_args: &ScanArgs) -> anyhow::Result<u8> {
    let threshold = match scan_args.fail_on {
        FailOn::Critical => Severity::Critical,
        FailOn::High => Severity::High,
        FailOn::Medium => Severity::Medium,
        FailOn::Low => Severity::Low,
    };
    let report = scan_paths(&scan_args.paths, &ScanOptions::default())
        .map_err(|e| anyhow::anyhow!("{e}; check the path exists and is readable"))?;
    let mut stdout = std::io::stdout().lock();
    match scan_args.format {
        ScanFormat::Json => {
            serde_json::to_writer_pretty(&mut stdout, &report)?;
            writeln!(stdout)?;
        }
        ScanFormat::Sarif => {
            serde_json::to_writer_pretty(
                &mut stdout,
                &to_sarif(&report, env!("CARGO_PKG_VERSION")),
            )?;
            writeln!(stdout)?;
        }
        ScanFormat::Text => {
            let style = Style::for_stdout(args.color);
            text(&mut stdout, &report, threshold, &style)?;
        }
    }
    stdout.flush()?;
    Ok(if report.fails(threshold) {
        exit::FAILED
    } else {
        exit::OK
    })
}

fn severity_label(severity: Severity, style: &Style) -> String {
    let label = format!("{:<8}", severity.name().to_uppercase());
    match severity {
        Severity::Critical => style.paint(&style.bold(&label), "31"),
        Severity::High => style.paint(&label, "31"),
        Severity::Medium => style.paint(&label, "33"),
        Severity::Low | Severity::Info => style.paint(&label, "36"),
    }
}

fn text(
    out: &mut impl Write,
    report: &ScanReport,
    threshold: Severity,
    style: &Style,
) -> std::io::Result<()> {
    for file in &report.files {
        let size = render::bytes(file.file_bytes);
        if file.findings.is_empty() {
            writeln!(
                out,
                "{}  ({}, {size})  {}",
                style.bold(&file.path),
                file.format,
                style.paint("clean", "32")
            )?;
            continue;
        }
        writeln!(out, "{}  ({}, {size})", style.bold(&file.path), file.format)?;
        for finding in &file.findings {
            let mut place = Vec::new();
            if let Some(member) = &finding.location.member {
                place.push(member.clone());
            }
            if let Some(index) = finding.location.pickle_index.filter(|i| *i > 0) {
                place.push(format!("pickle #{}", index + 1));
            }
            if let Some(offset) = finding.location.offset {
                place.push(format!("offset {offset}"));
            }
            if let Some(key) = &finding.location.key {
                place.push(key.clone());
            }
            if let Some(line) = finding.location.line {
                place.push(format!("line {line}"));
            }
            let place = if place.is_empty() {
                String::new()
            } else {
                format!("  [{}]", place.join(", "))
            };
            writeln!(
                out,
                "  {} {}{place}",
                severity_label(finding.severity, style),
                finding.rule
            )?;
            writeln!(out, "           {}", finding.message)?;
            if let Some(evidence) = &finding.evidence {
                writeln!(out, "           evidence: {}", style.paint(evidence, "35"))?;
            }
        }
    }
    let s = &report.summary;
    writeln!(out)?;
    writeln!(
        out,
        "{} files scanned, {} with findings: {} critical, {} high, {} medium, {} low",
        s.files, s.files_with_findings, s.critical, s.high, s.medium, s.low
    )?;
    let verdict = if report.fails(threshold) {
        style.paint(
            &style.bold(&format!("FAIL (findings at or above {})", threshold.name())),
            "31",
        )
    } else {
        style.paint(
            &style.bold(&format!("PASS (nothing at or above {})", threshold.name())),
            "32",
        )
    };
    writeln!(out, "{verdict}")
}
