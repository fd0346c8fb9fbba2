//! The KV-cache estimate on real GGUF files, against numbers worked out by
//! hand from llama.cpp's rules (see `context_estimate`):
//!
//! * SmolLM2-135M (the cached fixture): a plain llama model, 30 layers,
//!   3 KV heads of width 64: one cell of one layer is K + V =
//!   2 × 3 × 64 elements × 2 bytes (f16) = 768 bytes.
//! * A tiny Gemma 3 written by `scripts/testdata/make_swa_gguf.py` into the
//!   fixtures cache (`MODELGATE_PYTHON` runs it; `scripts/test.sh` sets
//!   it): 12 layers, 1 KV head of width 64, window 128, Gemma 3's pattern
//!   (layer il slides when il % 6 < 5): layers 5 and 11 are global, the
//!   other 10 slide. One cell of one layer is 2 × 1 × 64 × 2 = 256 bytes.
#![allow(clippy::unwrap_used, clippy::indexing_slicing)]

use std::path::{Path, PathBuf};
use std::sync::OnceLock;

use modelgate_formats::gguf::GgmlType;
use modelgate_formats::{LoadOptions, load};
use modelgate_inspect::{
    ArtifactFacts, ContextPlan, EstimateError, FlashAttn, InspectOptions, MemoryKind, Report,
    context_estimate, inspect,
};
use modelgate_testdata::{fixtures, smollm2};

fn report(path: &Path, context: Option<u64>) -> Report {
    let loaded = load(path, &LoadOptions::default()).unwrap();
    inspect(
        &loaded,
        &InspectOptions {
            context_length: context,
            machine_memory_bytes: None,
        },
    )
}

fn facts(path: &Path) -> ArtifactFacts {
    report(path, None).artifacts.into_iter().next().unwrap()
}

/// Generate the tiny Gemma 3 (`extra` arguments to the script) into the
/// fixtures cache under `name`.
fn generate(name: &str, extra: &[&str]) -> PathBuf {
    let python = std::env::var("MODELGATE_PYTHON").expect(
        "MODELGATE_PYTHON is not set: run the tests with scripts/test.sh, or set it to the interpreter scripts/venv.sh prints",
    );
    let script =
        Path::new(env!("CARGO_MANIFEST_DIR")).join("../../scripts/testdata/make_swa_gguf.py");
    let dir = fixtures().join("generated");
    std::fs::create_dir_all(&dir).unwrap();
    let out = dir.join(name);
    let status = std::process::Command::new(&python)
        .arg(&script)
        .arg(&out)
        .args(extra)
        .stdout(std::process::Stdio::null())
        .status()
        .unwrap_or_else(|e| panic!("cannot run {python}: {e}"));
    assert!(status.success(), "{} failed", script.display());
    out
}

/// The default tiny Gemma 3, generated once per test run.
fn gemma3() -> &'static Path {
    static PATH: OnceLock<PathBuf> = OnceLock::new();
    PATH.get_or_init(|| generate("gemma3-swa-tiny.gguf", &[]))
}

fn plan(n_ctx: u32) -> ContextPlan {
    ContextPlan::new(n_ctx)
}

#[test]
fn smollm2_has_no_sliding_window() {
    let facts = facts(&smollm2());
    assert_eq!(facts.sliding_window, None);
    assert_eq!(facts.swa_layers, Some(0));
    let layout = facts.kv_layout.as_ref().unwrap().as_ref().unwrap();
    assert_eq!(layout.memory, MemoryKind::Attention);
    assert_eq!(layout.layers.len(), 30);
    assert!(layout.layers.iter().all(|l| l.cached && !l.swa));
    // 3 KV heads × 64.
    assert!(
        layout
            .layers
            .iter()
            .all(|l| l.k_width == 192 && l.v_width == 192)
    );
}

#[test]
fn smollm2_kv_cache_at_its_own_context() {
    let facts = facts(&smollm2());
    let memory = context_estimate(&facts, &ContextPlan::default()).unwrap();
    // n_ctx 0 → the training context 8192, already a multiple of 256:
    // 30 layers × 768 bytes × 8192 cells.
    assert_eq!(memory.n_ctx, 8192);
    assert_eq!(memory.cells, 8192);
    assert_eq!(memory.swa_cells, 0);
    assert_eq!((memory.full_layers, memory.swa_layers), (30, 0));
    assert_eq!(memory.kv_bytes, 30 * 768 * 8192);
    assert_eq!(memory.kv_bytes, 188_743_680);
    assert_eq!(memory.k_bytes, memory.v_bytes);
    assert!(memory.not_counted.is_empty());
    // Inspect states the same number, per artifact and for the model.
    assert_eq!(facts.kv_cache_bytes, Some(188_743_680));
    let inspected = report(&smollm2(), None).memory.unwrap();
    assert_eq!(inspected.kv_cache_bytes, 188_743_680);
    assert_eq!(inspected.kv_cache_layout.unwrap(), memory);
}

#[test]
fn smollm2_cells_are_rounded_up_to_256() {
    let facts = facts(&smollm2());
    // 1000 → 1024 cells: 30 × 768 × 1024.
    let memory = context_estimate(&facts, &plan(1000)).unwrap();
    assert_eq!((memory.n_ctx, memory.cells), (1024, 1024));
    assert_eq!(memory.kv_bytes, 23_592_960);
    // inspect --context 1000 says the same.
    assert_eq!(
        report(&smollm2(), Some(1000))
            .memory
            .unwrap()
            .kv_cache_bytes,
        23_592_960
    );
}

#[test]
fn smollm2_sequences_get_a_stream_each() {
    let facts = facts(&smollm2());
    // 1000 → 1024 total; 1024 / 3 = 341 → 512 cells per sequence; the
    // total becomes 3 × 512 = 1536: 30 × 768 × 512 × 3 streams.
    let memory = context_estimate(
        &facts,
        &ContextPlan {
            n_seq_max: 3,
            ..plan(1000)
        },
    )
    .unwrap();
    assert_eq!(
        (memory.n_ctx, memory.n_ctx_seq, memory.n_streams),
        (1536, 512, 3)
    );
    assert_eq!(memory.kv_bytes, 35_389_440);
    // Unified: one stream of 1024 cells for all three.
    let unified = context_estimate(
        &facts,
        &ContextPlan {
            n_seq_max: 3,
            kv_unified: true,
            ..plan(1000)
        },
    )
    .unwrap();
    assert_eq!((unified.n_ctx_seq, unified.n_streams), (1024, 1));
    assert_eq!(unified.kv_bytes, 23_592_960);
}

#[test]
fn smollm2_cache_types_change_the_bytes_per_row() {
    let facts = facts(&smollm2());
    // Q8_0: 34 bytes per 32 elements, a 192-wide row is 6 blocks = 204 bytes;
    // K + V = 408 bytes per layer and cell: 30 × 408 × 8192.
    let q8 = ContextPlan {
        type_k: GgmlType::Q8_0,
        type_v: GgmlType::Q8_0,
        ..plan(8192)
    };
    assert_eq!(context_estimate(&facts, &q8).unwrap().kv_bytes, 100_270_080);
    // A quantized V cache needs flash attention; "auto" turns it on.
    let refused = ContextPlan {
        flash_attn: FlashAttn::Disabled,
        ..q8
    };
    assert_eq!(
        context_estimate(&facts, &refused).unwrap_err(),
        EstimateError::QuantizedVWithoutFlashAttn(GgmlType::Q8_0)
    );
    // F32: twice f16.
    let f32 = ContextPlan {
        type_k: GgmlType::F32,
        type_v: GgmlType::F32,
        ..plan(8192)
    };
    assert_eq!(
        context_estimate(&facts, &f32).unwrap().kv_bytes,
        2 * 188_743_680
    );
}

#[test]
fn gemma3_facts_show_the_sliding_window() {
    let facts = facts(gemma3());
    assert_eq!(facts.architecture.as_deref(), Some("gemma3"));
    assert_eq!(facts.layers, Some(12));
    assert_eq!(facts.sliding_window, Some(128));
    assert_eq!(facts.swa_layers, Some(10));
    let layout = facts.kv_layout.as_ref().unwrap().as_ref().unwrap();
    let global: Vec<usize> = (0..12).filter(|&il| !layout.layers[il].swa).collect();
    assert_eq!(global, [5, 11]);
    // key_length 64 (not 64 / 2 heads) × 1 KV head.
    assert!(
        layout
            .layers
            .iter()
            .all(|l| l.cached && l.k_width == 64 && l.v_width == 64)
    );
}

#[test]
fn gemma3_sliding_layers_hold_only_the_window() {
    let facts = facts(gemma3());
    let memory = context_estimate(&facts, &ContextPlan::default()).unwrap();
    // Context 4096 (the model's). Global layers: 4096 cells.
    // Sliding layers: min(4096, 128 window + 512 ubatch) = 640 → 768 cells.
    assert_eq!((memory.cells, memory.swa_cells), (4096, 768));
    assert_eq!((memory.full_layers, memory.swa_layers), (2, 10));
    // 2 × 256 × 4096 = 2,097,152 and 10 × 256 × 768 = 1,966,080.
    assert_eq!(memory.full_kv_bytes, 2_097_152);
    assert_eq!(memory.swa_kv_bytes, 1_966_080);
    assert_eq!(memory.kv_bytes, 4_063_232);
    // The old formula counted all 12 layers at 4096 cells: 12,582,912.
    assert_eq!(facts.kv_cache_bytes, Some(4_063_232));
    let inspected = report(gemma3(), None).memory.unwrap();
    assert_eq!(inspected.kv_cache_bytes, 4_063_232);
}

#[test]
fn gemma3_window_cache_per_sequence_or_unified() {
    let facts = facts(gemma3());
    // 8192 over 4 sequences, one stream each: 2048 cells per stream;
    // sliding: min(2048, 128 + 512) = 640 → 768 cells per stream.
    // 2 × 256 × 2048 × 4 = 4,194,304; 10 × 256 × 768 × 4 = 7,864,320.
    let streams = ContextPlan {
        n_seq_max: 4,
        ..plan(8192)
    };
    let memory = context_estimate(&facts, &streams).unwrap();
    assert_eq!(
        (memory.cells, memory.swa_cells, memory.n_streams),
        (2048, 768, 4)
    );
    assert_eq!(memory.full_kv_bytes, 4_194_304);
    assert_eq!(memory.swa_kv_bytes, 7_864_320);
    assert_eq!(memory.kv_bytes, 12_058_624);
    // Unified: one stream of 8192; the window covers every sequence:
    // min(8192, 128 × 4 + 512) = 1024 cells.
    // 2 × 256 × 8192 = 4,194,304; 10 × 256 × 1024 = 2,621,440.
    let unified = context_estimate(
        &facts,
        &ContextPlan {
            kv_unified: true,
            ..streams
        },
    )
    .unwrap();
    assert_eq!(
        (unified.cells, unified.swa_cells, unified.n_streams),
        (8192, 1024, 1)
    );
    assert_eq!(unified.kv_bytes, 6_815_744);
}

#[test]
fn gemma3_ubatch_and_swa_full_size_the_window_cache() {
    let facts = facts(gemma3());
    // n_ubatch 64: min(4096, 128 + 64) = 192 → 256 cells:
    // 2,097,152 + 10 × 256 × 256 = 2,752,512.
    let small = ContextPlan {
        n_ubatch: 64,
        ..plan(4096)
    };
    let memory = context_estimate(&facts, &small).unwrap();
    assert_eq!((memory.swa_cells, memory.kv_bytes), (256, 2_752_512));
    // swa_full: the sliding layers get the full context: 12 × 256 × 4096.
    let full = ContextPlan {
        swa_full: true,
        ..plan(4096)
    };
    let memory = context_estimate(&facts, &full).unwrap();
    assert_eq!((memory.swa_cells, memory.kv_bytes), (4096, 12_582_912));
    // A context smaller than window + ubatch: 300 → 512 cells; the window
    // cache is min(512, 128 + 300) = 428 → 512 too: 12 × 256 × 512.
    let tiny = context_estimate(&facts, &plan(300)).unwrap();
    assert_eq!((tiny.cells, tiny.swa_cells, tiny.n_ubatch), (512, 512, 300));
    assert_eq!(tiny.kv_bytes, 1_572_864);
}

#[test]
fn gemma3_pattern_key_chooses_the_sliding_layers() {
    // --pattern 3 --layers 6: layer il slides when il % 3 < 2: 0, 1, 3, 4
    // slide, 2 and 5 are global. At 4096: 2 × 256 × 4096 = 2,097,152 and
    // 4 × 256 × 768 = 786,432.
    let path = generate(
        "gemma3-swa-pattern3.gguf",
        &["--pattern", "3", "--layers", "6"],
    );
    let facts = facts(&path);
    assert_eq!(facts.swa_layers, Some(4));
    let memory = context_estimate(&facts, &plan(4096)).unwrap();
    assert_eq!((memory.full_layers, memory.swa_layers), (2, 4));
    assert_eq!(memory.kv_bytes, 2_097_152 + 786_432);
}

#[test]
fn non_gguf_artifacts_have_no_llama_cpp_estimate() {
    let report = report(&fixtures().join("minilm"), None);
    let safetensors = report
        .artifacts
        .iter()
        .find(|a| a.format == "safetensors")
        .unwrap();
    assert_eq!(
        context_estimate(safetensors, &plan(512)).unwrap_err(),
        EstimateError::NotGguf
    );
    assert_eq!(safetensors.sliding_window, None);
    // The textbook formula still applies: 2 × 6 × 12 × 32 × 512 × 2.
    let memory = report.memory.unwrap();
    assert_eq!(memory.kv_cache_bytes, 2 * 6 * 12 * 32 * 512 * 2);
    assert_eq!(memory.kv_cache_layout, None);
}
