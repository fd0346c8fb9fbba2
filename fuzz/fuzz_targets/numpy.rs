#![no_main]
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Ok(npy) = modelgate_numpy::Npy::parse(data) {
        let _ = npy.descr.to_string();
    }
    let limits = modelgate_archive::Limits {
        max_member_bytes: 1 << 20,
        ..Default::default()
    };
    let _ = modelgate_numpy::Npz::parse(data, &limits);
});
