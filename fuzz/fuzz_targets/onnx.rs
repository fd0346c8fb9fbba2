#![no_main]
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let _ = modelgate_onnx::looks_like_onnx(data);
    match modelgate_onnx::OnnxModel::parse(data) {
        Ok(model) => {
            let _ = model.n_parameters();
            let _ = model.unsafe_external_paths();
            let _ = model.external_tensors().count();
        }
        Err(err) => {
            let _ = err.to_string();
        }
    }
});
