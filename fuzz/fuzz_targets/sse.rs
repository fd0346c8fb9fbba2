#![no_main]
//! The SSE parser on hostile bytes: it never panics, the way the bytes are
//! split between reads never changes the outcome, and each event's data
//! goes through the Anthropic stream translator.
use libfuzzer_sys::fuzz_target;
use modelgate_upstream::StreamTranslator;
use modelgate_upstream::sse::{SseError, SseEvent, SseLimits, SseParser};

fn parse(limits: SseLimits, pieces: &[&[u8]]) -> Result<Vec<SseEvent>, SseError> {
    let mut parser = SseParser::with_limits(limits);
    let mut events = Vec::new();
    for piece in pieces {
        events.extend(parser.push(piece)?);
    }
    Ok(events)
}

fuzz_target!(|data: &[u8]| {
    let Some((&split_seed, input)) = data.split_first() else {
        return;
    };
    // Small caps so that the fuzzer reaches them.
    let limits = SseLimits {
        max_line_bytes: 512,
        max_event_bytes: 2048,
    };
    let whole = parse(limits, &[input]);
    let step = usize::from(split_seed % 17) + 1;
    let pieces: Vec<&[u8]> = input.chunks(step).collect();
    assert_eq!(whole, parse(limits, &pieces), "split every {step} bytes");
    if let Ok(events) = whole {
        let mut translator = StreamTranslator::new(0);
        for event in &events {
            if translator.on_event(&event.data).is_err() {
                break;
            }
        }
    }
});
