//! Text rendering.

use std::io::{self, IsTerminal, Write};

use modelgate_inspect::{ArtifactFacts, MemoryEstimate, Report};

use crate::cli::ColorChoice;

/// Whether to emit ANSI styles.
pub(crate) struct Style {
    color: bool,
}

impl Style {
    /// Color on a terminal unless `NO_COLOR` is set (<https://no-color.org>), or as forced.
    pub(crate) fn for_stdout(choice: ColorChoice) -> Style {
        let color = match choice {
            ColorChoice::Always => true,
            ColorChoice::Never => false,
            ColorChoice::Auto => {
                std::env::var_os("NO_COLOR").is_none_or(|v| v.is_empty())
                    && io::stdout().is_terminal()
            }
        };
        Style { color }
    }

    pub(crate) fn bold(&self, text: &str) -> String {
        if self.color {
            format!("\x1b[1m{text}\x1b[0m")
        } else {
            text.to_string()
        }
    }

    /// Faint text, for evidence and origins.
    pub(crate) fn dim(&self, text: &str) -> String {
        self.paint(text, "2")
    }

    pub(crate) fn paint(&self, text: &str, code: &str) -> String {
        if self.color {
            format!("\x1b[{code}m{text}\x1b[0m")
        } else {
            text.to_string()
        }
    }
}

pub(crate) fn inspect_text(out: &mut impl Write, report: &Report, style: &Style) -> io::Result<()> {
    for (idx, facts) in report.artifacts.iter().enumerate() {
        if idx > 0 {
            writeln!(out)?;
        }
        artifact(out, facts, style)?;
    }
    if let Some(memory) = &report.memory {
        writeln!(out)?;
        memory_text(out, memory, style)?;
    }
    if !report.errors.is_empty() {
        writeln!(out)?;
        writeln!(out, "{}", style.paint(&style.bold("Errors"), "31"))?;
        for error in &report.errors {
            writeln!(out, "  {}", error.error)?;
        }
    }
    Ok(())
}

fn row(out: &mut impl Write, label: &str, value: impl std::fmt::Display) -> io::Result<()> {
    writeln!(out, "  {label:<16}{value}")
}

fn artifact(out: &mut impl Write, f: &ArtifactFacts, style: &Style) -> io::Result<()> {
    writeln!(out, "{}", style.bold(&f.path))?;
    let mut format = f.format.clone();
    if !f.compression.is_empty() {
        format = format!("{format} (inside {})", f.compression.join(" → "));
    }
    row(out, "format", format)?;
    row(out, "file size", bytes(f.file_bytes))?;
    if let Some(architecture) = &f.architecture {
        row(out, "architecture", architecture)?;
    }
    if let Some(parameters) = f.parameters {
        row(
            out,
            "parameters",
            format!("{} ({})", short_count(parameters), grouped(parameters)),
        )?;
    }
    if let Some(n) = f.n_tensors {
        row(out, "tensors", grouped(n))?;
    }
    if let Some(quantization) = &f.quantization {
        row(out, "quantization", quantization)?;
    }
    if !f.dtypes.is_empty() {
        let parts: Vec<String> = f
            .dtypes
            .iter()
            .map(|d| match d.bytes {
                Some(b) => format!("{} ×{} {}", d.dtype, d.tensors, bytes(b)),
                None => format!("{} ×{}", d.dtype, d.tensors),
            })
            .collect();
        row(
            out,
            "weights",
            format!("{} in {}", bytes(f.weights_bytes), parts.join(", ")),
        )?;
    }
    if let Some(context) = f.context_length {
        row(out, "context length", grouped(context))?;
    }
    if let Some(vocab) = f.vocab_size {
        row(out, "vocabulary", grouped(vocab))?;
    }
    if let Some(layers) = f.layers {
        row(out, "layers", layers)?;
    }
    if let Some(embedding) = f.embedding_length {
        row(out, "hidden size", embedding)?;
    }
    if f.attention_heads.is_some() || f.kv_heads.is_some() {
        let mut heads = Vec::new();
        if let Some(h) = f.attention_heads {
            heads.push(format!("{h} attention"));
        }
        if let Some(kv) = f.kv_heads {
            heads.push(format!("{kv} KV"));
        }
        if let Some(d) = f.head_dim {
            heads.push(format!("head dim {d}"));
        }
        row(out, "heads", heads.join(", "))?;
    }
    if f.format == "gguf" || f.architecture.is_some() {
        row(
            out,
            "chat template",
            if f.chat_template { "yes" } else { "no" },
        )?;
    }
    let m = &f.metadata;
    for (label, value) in [
        ("name", &m.name),
        ("organization", &m.organization),
        ("license", &m.license),
        ("base model", &m.base_model),
        ("quantized by", &m.quantized_by),
        ("toolchain", &m.toolchain),
    ] {
        if let Some(value) = value {
            row(out, label, value)?;
        }
    }
    if !f.runtimes.is_empty() {
        row(out, "runtimes", f.runtimes.join(", "))?;
    }
    for note in &f.notes {
        row(out, "note", note)?;
    }
    Ok(())
}

fn memory_text(out: &mut impl Write, m: &MemoryEstimate, style: &Style) -> io::Result<()> {
    let heading = match m.context_length {
        Some(context) => format!("Memory at context {}", grouped(context)),
        None => "Memory (context length unknown)".to_string(),
    };
    writeln!(out, "{}", style.bold(&heading))?;
    row(out, "weights", bytes(m.weights_bytes))?;
    row(out, "KV cache (f16)", bytes(m.kv_cache_bytes))?;
    let verdict = match (m.fits, m.machine_memory_bytes) {
        (Some(true), Some(machine)) => {
            style.paint(&format!("fits in this machine's {}", bytes(machine)), "32")
        }
        (Some(false), Some(machine)) => style.paint(
            &format!("does NOT fit in this machine's {}", bytes(machine)),
            "31",
        ),
        _ => String::new(),
    };
    row(
        out,
        "total",
        format!("{}  {verdict}", bytes(m.total_bytes)).trim_end(),
    )?;
    Ok(())
}

pub(crate) use modelgate_inspect::human_bytes as bytes;

/// `134515008` → `134.5M`.
fn short_count(n: u64) -> String {
    let value = n as f64;
    match n {
        0..1_000 => n.to_string(),
        1_000..1_000_000 => format!("{:.1}K", value / 1e3),
        1_000_000..1_000_000_000 => format!("{:.1}M", value / 1e6),
        1_000_000_000..1_000_000_000_000 => format!("{:.2}B", value / 1e9),
        _ => format!("{:.2}T", value / 1e12),
    }
}

/// `134515008` → `134,515,008`.
fn grouped(n: u64) -> String {
    let digits = n.to_string();
    let mut out = String::with_capacity(digits.len() + digits.len() / 3);
    for (idx, ch) in digits.chars().enumerate() {
        if idx > 0 && (digits.len() - idx).is_multiple_of(3) {
            out.push(',');
        }
        out.push(ch);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn human_numbers() {
        assert_eq!(bytes(512), "512 B");
        assert_eq!(bytes(1536), "1.5 KiB");
        assert_eq!(bytes(3 << 30), "3.0 GiB");
        assert_eq!(short_count(134_515_008), "134.5M");
        assert_eq!(grouped(134_515_008), "134,515,008");
        assert_eq!(grouped(12), "12");
    }
}
