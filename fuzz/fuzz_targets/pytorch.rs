#![no_main]
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let limits = modelgate_archive::Limits::default();
    if let Ok(checkpoint) = modelgate_pytorch::parse(data, &limits) {
        for tensor in &checkpoint.tensors {
            let _ = tensor.n_elements();
            let _ = tensor.element_size();
        }
    }
});
