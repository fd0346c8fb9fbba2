#![no_main]
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let _ = modelgate_pickle::disassemble(data);
    let disassembly = modelgate_pickle::disassemble_all(data);
    for pickle in &disassembly.pickles {
        let evaluation = modelgate_pickle::evaluate(pickle);
        for call in &evaluation.calls {
            let _ = evaluation.render_call(call);
        }
        if let Some(result) = evaluation.result {
            let _ = evaluation.display(result).to_string();
        }
    }
});
