#![no_main]
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let _ = modelgate_hf::ModelConfig::parse(data);
    let _ = modelgate_hf::GenerationConfig::parse(data);
    let _ = modelgate_hf::TokenizerConfig::parse(data);
    let _ = modelgate_hf::ChatTemplate::from_file("chat_template.json", data);
    let card = modelgate_hf::ModelCard::parse(&String::from_utf8_lossy(data));
    let _ = card.section("uses");
    // The card review walks sections and front matter the card controls.
    let _ = modelgate_card::review(&card);
});
