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
    // The streaming evaluator, with small limits so that collection,
    // deferral and the switch to fetched memo entries all run.
    let limits = modelgate_pickle::EvalLimits {
        max_live_values: 4096,
        kept_items: 4,
        memo_budget: 16,
        time_budget: None,
    };
    modelgate_pickle::evaluate_stream_each(data, &limits, |evaluation| {
        for call in &evaluation.calls {
            let _ = evaluation.render_call(call);
        }
        if let Some(result) = evaluation.result {
            let _ = evaluation.render(result);
        }
    });
});
