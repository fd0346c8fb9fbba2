#![no_main]
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let limits = modelgate_archive::Limits {
        max_member_bytes: 1 << 20,
        ..Default::default()
    };
    if let Ok(checkpoint) = modelgate_pytorch::parse(data, &limits) {
        for tensor in &checkpoint.tensors {
            let _ = tensor.n_elements();
        }
    }
});
