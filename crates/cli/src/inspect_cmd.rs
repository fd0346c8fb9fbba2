//! `modelgate inspect`.

use std::io::Write;

use anyhow::Context;
use modelgate_formats::{LoadOptions, load};
use modelgate_inspect::{InspectOptions, Report, inspect};

use crate::cli::{Args, InspectArgs, TextOrJson};
use crate::render::{self, Style};
use crate::{exit, system};

pub(crate) fn run(args: &Args, inspect_args: &InspectArgs) -> anyhow::Result<u8> {
    let options = InspectOptions {
        context_length: inspect_args.context,
        machine_memory_bytes: system::total_memory_bytes(),
    };
    let mut merged = Report {
        artifacts: Vec::new(),
        memory: None,
        errors: Vec::new(),
    };
    for path in &inspect_args.paths {
        let loaded = load(path, &LoadOptions::default()).with_context(|| {
            format!(
                "cannot inspect {}; check the path exists and is readable",
                path.display()
            )
        })?;
        let report = inspect(&loaded, &options);
        if report.artifacts.is_empty() && report.errors.is_empty() {
            anyhow::bail!(
                "{}: no model artifact found (formats are recognised by content: GGUF, safetensors, ONNX, PyTorch, pickle, NumPy, Keras, and archives of them)",
                path.display()
            );
        }
        merged.artifacts.extend(report.artifacts);
        merged.errors.extend(report.errors);
        if merged.memory.is_none() {
            merged.memory = report.memory;
        }
    }

    let mut stdout = std::io::stdout().lock();
    match inspect_args.format {
        TextOrJson::Json => {
            serde_json::to_writer_pretty(&mut stdout, &merged)?;
            writeln!(stdout)?;
        }
        TextOrJson::Text => {
            let style = Style::for_stdout(args.color);
            render::inspect_text(&mut stdout, &merged, &style)?;
        }
    }
    stdout.flush()?;
    Ok(if merged.errors.is_empty() {
        exit::OK
    } else {
        exit::FAILED
    })
}
