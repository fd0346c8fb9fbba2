#![no_main]
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let limits = modelgate_archive::Limits {
        max_member_bytes: 1 << 20,
        ..Default::default()
    };
    if let Ok(model) = modelgate_keras::KerasModel::parse(data, &limits) {
        let _ = model.layers.len();
    }
});
