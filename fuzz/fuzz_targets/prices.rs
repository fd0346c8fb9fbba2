#![no_main]
//! A user's price table on hostile input: parsing never panics, and a table
//! that parses gives finite, non-negative prices.
use libfuzzer_sys::fuzz_target;
use modelgate_cost::PriceTable;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    if let Ok(table) = PriceTable::parse(text, "fuzz") {
        for price in table.prices() {
            let blend = modelgate_cost::Blend::default();
            let usd = price.usd_per_mtok(blend);
            assert!(usd.is_finite() && usd >= 0.0, "{usd}");
        }
    }
});
