#![no_main]
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let _ = modelgate_safetensors::SafeTensors::parse(data);
    if let Ok((st, anomalies)) = modelgate_safetensors::SafeTensors::parse_lenient(data) {
        let _ = st.n_parameters();
        let _ = st.bytes_by_dtype();
        for anomaly in anomalies {
            let _ = anomaly.to_string();
        }
    }
    if let Ok(index) = modelgate_safetensors::ShardIndex::parse(data) {
        let _ = index.unsafe_shard_paths();
    }
});
