#![no_main]
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Ok(gguf) = modelgate_gguf::Gguf::parse(data) {
        let _ = gguf.n_parameters();
        let _ = gguf.bytes_by_type();
        let _ = gguf.overlapping_tensors();
        let _ = gguf.duplicate_names();
        let _ = gguf.architecture();
    }
});
