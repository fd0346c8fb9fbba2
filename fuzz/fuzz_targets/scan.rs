#![no_main]
//! The scanner over arbitrary bytes: every format's checks, containers
//! opened within small limits, and the template and Python analysers.
use libfuzzer_sys::fuzz_target;
use modelgate_scan::{ScanOptions, scan_bytes};

fuzz_target!(|data: &[u8]| {
    let mut options = ScanOptions::default();
    options.limits.max_member_bytes = 1 << 20;
    options.limits.max_total_bytes = 4 << 20;
    let _ = scan_bytes(data, "model.bin", &options);
    let text = String::from_utf8_lossy(data);
    let _ = modelgate_scan::template::analyse(&text, "fuzz");
    let _ = modelgate_scan::python::analyse(&text, "fuzz.py");
});
