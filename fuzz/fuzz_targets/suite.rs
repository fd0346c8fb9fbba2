#![no_main]
//! Evaluation suites on hostile input: the TOML and the cases file (split at
//! the first NUL byte) never make the reader panic, and every assertion of
//! every case that loads is judged against hostile output without panicking.
use libfuzzer_sys::fuzz_target;
use modelgate_eval::{Cases, Observation, Suite, evaluate};

fuzz_target!(|data: &[u8]| {
    let (toml, cases) = match data.iter().position(|&b| b == 0) {
        Some(at) => (&data[..at], &data[at + 1..]),
        None => (data, &[][..]),
    };
    let Ok(toml) = std::str::from_utf8(toml) else {
        return;
    };
    let Ok(suite) = Suite::from_parts(toml, cases) else {
        return;
    };
    assert_eq!(suite.digest().len(), 64);
    if let Cases::Generation(cases) = &suite.cases {
        let output = String::from_utf8_lossy(data).into_owned();
        for case in cases.iter().take(16) {
            let outcome = evaluate(
                case,
                &Observation {
                    output: output.clone(),
                    latency_ms: 1.0,
                    cost_usd: None,
                },
            );
            assert!(outcome.score.is_finite() || case.asserts.is_empty());
        }
    }
});
