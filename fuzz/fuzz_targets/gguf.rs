#![no_main]
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    match modelgate_gguf::Gguf::parse(data) {
        Ok(gguf) => {
            let _ = gguf.n_parameters();
            let _ = gguf.bytes_by_type();
            let _ = gguf.overlapping_tensors();
            let _ = gguf.duplicate_keys();
            let _ = gguf.duplicate_tensor_names();
            let _ = gguf.duplicate_keys();
            let _ = gguf.duplicate_tensor_names();
            let _ = gguf.architecture();
            let _ = gguf.get_u64("general.file_type");
            let _ = gguf.get_str("tokenizer.chat_template");
            // Every tensor's data range was checked against the input.
            for tensor in &gguf.tensors {
                let end = gguf.data_offset + tensor.offset + tensor.n_bytes;
                assert!(end <= data.len() as u64);
            }
        }
        Err(error) => {
            let _ = error.to_string();
            assert!(error.offset() <= data.len() as u64);
        }
    }
});
