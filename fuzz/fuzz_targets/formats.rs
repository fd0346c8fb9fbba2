#![no_main]
//! The whole reader stack behind content sniffing: every format, every
//! compression layer, with small limits so bombs are cut short.
use libfuzzer_sys::fuzz_target;
use modelgate_formats::{Limits, load_bytes, sniff};

fuzz_target!(|data: &[u8]| {
    let limits = Limits {
        max_member_bytes: 1 << 20,
        max_total_bytes: 4 << 20,
        max_ratio: 100,
        max_members: 1000,
        max_depth: 3,
        ..Limits::default()
    };
    for name in ["model.bin", "model.onnx", "model.pkl", "model.joblib", "x.index.json"] {
        let _ = sniff(data, name);
        let _ = load_bytes(data, name, &limits);
    }
});
