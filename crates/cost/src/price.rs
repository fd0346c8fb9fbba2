//! Proprietary APIs' list prices, and the table that holds them.

use std::io::Read;

use serde::{Deserialize, Serialize};

use crate::{Error, close};

/// The table shipped with modelgate: `crates/cost/data/api-prices.toml`.
const BUILTIN_TABLE: &str = include_str!("../data/api-prices.toml");

/// The longest provider or model name accepted, in bytes.
const MAX_NAME_BYTES: usize = 128;

/// The longest `as_of`, `source` or `note` accepted, in bytes.
const MAX_TEXT_BYTES: usize = 2000;

/// The share of input and output tokens in a workload, to blend a price
/// per input token and a price per output token into one price per token.
///
/// The default, [`Blend::DEFAULT_INPUT_SHARE`] = 0.75 (three input tokens
/// for each output token), is the ratio public price comparisons commonly
/// blend at, and fits chat with system prompts and retrieved context.
/// Generation-heavy work (long answers, code) has a lower input share;
/// classification and extraction a higher one.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct Blend {
    input_share: f64,
}

impl Blend {
    /// The input share assumed when none is given.
    pub const DEFAULT_INPUT_SHARE: f64 = 0.75;

    /// A blend with `input_share` of the tokens being input (prompt)
    /// tokens and the rest output, `0 ≤ input_share ≤ 1`.
    pub fn new(input_share: f64) -> Result<Blend, Error> {
        if !(input_share.is_finite() && (0.0..=1.0).contains(&input_share)) {
            return Err(Error::InvalidNumber {
                field: "input_share",
                value: input_share,
                expected: "give the share of input (prompt) tokens, from 0 to 1 (0.75 = three input tokens per output token)",
            });
        }
        Ok(Blend { input_share })
    }

    /// The share of input (prompt) tokens.
    pub fn input_share(self) -> f64 {
        self.input_share
    }

    /// The share of output (generated) tokens.
    pub fn output_share(self) -> f64 {
        1.0 - self.input_share
    }

    /// The blended price: `input × share + output × (1 − share)`.
    pub fn usd_per_mtok(self, input_usd_per_mtok: f64, output_usd_per_mtok: f64) -> f64 {
        input_usd_per_mtok * self.input_share + output_usd_per_mtok * self.output_share()
    }

    /// The throughput over this mix of tokens when prompt processing and
    /// generation run at different speeds: the time per token is the
    /// weighted sum of each kind's time, `1 / (share_in / prompt +
    /// share_out / generated)`.
    pub fn throughput(
        self,
        prompt_tokens_per_s: f64,
        generated_tokens_per_s: f64,
    ) -> Result<f64, Error> {
        for (field, value) in [
            ("prompt_tokens_per_s", prompt_tokens_per_s),
            ("generated_tokens_per_s", generated_tokens_per_s),
        ] {
            if !(value.is_finite() && value > 0.0) {
                return Err(Error::InvalidNumber {
                    field,
                    value,
                    expected: "give the measured speed in tokens per second, a number above 0",
                });
            }
        }
        Ok(1.0
            / (self.input_share / prompt_tokens_per_s
                + self.output_share() / generated_tokens_per_s))
    }
}

impl Default for Blend {
    fn default() -> Self {
        Blend {
            input_share: Blend::DEFAULT_INPUT_SHARE,
        }
    }
}

/// One proprietary API's list price for one model, with where it came
/// from.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ApiPrice {
    provider: String,
    model: String,
    input_usd_per_mtok: f64,
    output_usd_per_mtok: f64,
    as_of: String,
    source: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    note: Option<String>,
}

impl ApiPrice {
    /// Checks a price: names of letters, digits and `._:-` (the model may
    /// also hold `/`), prices finite and ≥ 0 and not both 0, `as_of` a
    /// `YYYY-MM-DD` date, `source` non-empty.
    pub fn new(
        provider: &str,
        model: &str,
        input_usd_per_mtok: f64,
        output_usd_per_mtok: f64,
        as_of: &str,
        source: &str,
    ) -> Result<ApiPrice, Error> {
        let row = PriceRow {
            provider: provider.to_owned(),
            model: model.to_owned(),
            input_usd_per_mtok,
            output_usd_per_mtok,
            as_of: as_of.to_owned(),
            source: source.to_owned(),
            note: None,
        };
        check_row(&row).map_err(|problem| Error::InvalidPrice {
            id: format!("{provider}/{model}"),
            problem,
        })?;
        Ok(row.into_price())
    }

    /// The same price with a note (where it was checked, caveats).
    pub fn with_note(mut self, note: &str) -> Result<ApiPrice, Error> {
        check_text("note", note).map_err(|problem| Error::InvalidPrice {
            id: self.id(),
            problem,
        })?;
        self.note = Some(note.to_owned());
        Ok(self)
    }

    /// `provider/model`.
    pub fn id(&self) -> String {
        format!("{}/{}", self.provider, self.model)
    }

    /// The provider, e.g. `openai`.
    pub fn provider(&self) -> &str {
        &self.provider
    }

    /// The provider's model id, e.g. `gpt-4o`.
    pub fn model(&self) -> &str {
        &self.model
    }

    /// USD per million input (prompt) tokens.
    pub fn input_usd_per_mtok(&self) -> f64 {
        self.input_usd_per_mtok
    }

    /// USD per million output (generated) tokens.
    pub fn output_usd_per_mtok(&self) -> f64 {
        self.output_usd_per_mtok
    }

    /// The date the price was last confirmed, `YYYY-MM-DD`.
    pub fn as_of(&self) -> &str {
        &self.as_of
    }

    /// The provider's pricing page (or, in a user's file, any reference).
    pub fn source(&self) -> &str {
        &self.source
    }

    /// Where the price was checked, and caveats.
    pub fn note(&self) -> Option<&str> {
        self.note.as_deref()
    }

    /// USD per million tokens of the blend.
    pub fn usd_per_mtok(&self, blend: Blend) -> f64 {
        blend.usd_per_mtok(self.input_usd_per_mtok, self.output_usd_per_mtok)
    }

    /// The monthly bill at a volume: linear in tokens.
    pub fn monthly_usd(&self, blend: Blend, tokens_per_month: u64) -> f64 {
        self.usd_per_mtok(blend) * tokens_per_month as f64 / 1e6
    }
}

/// A table of API prices, unique by `provider/model` (compared without
/// regard to case).
#[derive(Debug, Clone, PartialEq)]
pub struct PriceTable {
    prices: Vec<ApiPrice>,
}

/// A price file: `[[prices]]` entries.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct PriceFile {
    #[serde(default)]
    prices: Vec<PriceRow>,
}

/// One `[[prices]]` entry, unchecked.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct PriceRow {
    provider: String,
    model: String,
    input_usd_per_mtok: f64,
    output_usd_per_mtok: f64,
    as_of: String,
    source: String,
    #[serde(default)]
    note: Option<String>,
}

impl PriceRow {
    fn into_price(self) -> ApiPrice {
        ApiPrice {
            provider: self.provider,
            model: self.model,
            input_usd_per_mtok: self.input_usd_per_mtok,
            output_usd_per_mtok: self.output_usd_per_mtok,
            as_of: self.as_of,
            source: self.source,
            note: self.note,
        }
    }
}

impl PriceTable {
    /// The largest price file read, in bytes.
    pub const MAX_FILE_BYTES: u64 = 1 << 20;

    /// The most entries a table may hold.
    pub const MAX_ENTRIES: usize = 10_000;

    /// The table shipped with modelgate (`crates/cost/data/api-prices.toml`).
    pub fn builtin() -> Result<PriceTable, Error> {
        PriceTable::parse(BUILTIN_TABLE, "built-in")
    }

    /// Reads a table from TOML text; `origin` names it in errors.
    pub fn parse(text: &str, origin: &str) -> Result<PriceTable, Error> {
        let file: PriceFile = toml::from_str(text).map_err(|error| Error::Parse {
            origin: origin.to_owned(),
            message: error.to_string().trim_end().to_owned(),
        })?;
        if file.prices.len() > PriceTable::MAX_ENTRIES {
            return Err(Error::TooManyEntries {
                origin: origin.to_owned(),
                limit: PriceTable::MAX_ENTRIES,
            });
        }
        let mut prices: Vec<ApiPrice> = Vec::with_capacity(file.prices.len());
        for (idx, row) in file.prices.into_iter().enumerate() {
            check_row(&row).map_err(|problem| Error::InvalidEntry {
                origin: origin.to_owned(),
                number: idx + 1,
                id: format!("{}/{}", row.provider, row.model),
                problem,
            })?;
            let price = row.into_price();
            if prices.iter().any(|known| same_id(known, &price)) {
                return Err(Error::DuplicateEntry {
                    origin: origin.to_owned(),
                    id: price.id(),
                });
            }
            prices.push(price);
        }
        Ok(PriceTable { prices })
    }

    /// Reads a user's price file (same shape as `crates/cost/data/api-prices.toml`)
    /// from `reader`, at most [`PriceTable::MAX_FILE_BYTES`]; `origin`
    /// (the path) names it in errors. The caller opens the file: only the
    /// edges touch the file system.
    pub fn load(reader: impl Read, origin: &str) -> Result<PriceTable, Error> {
        let mut bytes = Vec::new();
        reader
            .take(PriceTable::MAX_FILE_BYTES + 1)
            .read_to_end(&mut bytes)
            .map_err(|source| Error::Read {
                origin: origin.to_owned(),
                source,
            })?;
        if bytes.len() as u64 > PriceTable::MAX_FILE_BYTES {
            return Err(Error::TooLarge {
                origin: origin.to_owned(),
                limit: PriceTable::MAX_FILE_BYTES,
            });
        }
        let text = String::from_utf8(bytes).map_err(|error| Error::Parse {
            origin: origin.to_owned(),
            message: format!(
                "not UTF-8 text (invalid byte at offset {})",
                error.utf8_error().valid_up_to()
            ),
        })?;
        PriceTable::parse(&text, origin)
    }

    /// This table with `overrides` applied: an override replaces the entry
    /// with the same `provider/model`, in place; new ones are appended.
    pub fn merge(mut self, overrides: PriceTable) -> PriceTable {
        for price in overrides.prices {
            match self.prices.iter_mut().find(|known| same_id(known, &price)) {
                Some(known) => *known = price,
                None => self.prices.push(price),
            }
        }
        self
    }

    /// The price of `query`: `provider/model`, or a bare model name when
    /// only one provider lists it; case does not matter. An unknown name's
    /// error lists the closest ids.
    pub fn get(&self, query: &str) -> Result<&ApiPrice, Error> {
        let wanted = query.trim();
        if let Some(price) = self
            .prices
            .iter()
            .find(|price| price.id().eq_ignore_ascii_case(wanted))
        {
            return Ok(price);
        }
        let by_model: Vec<&ApiPrice> = self
            .prices
            .iter()
            .filter(|price| price.model.eq_ignore_ascii_case(wanted))
            .collect();
        match by_model.as_slice() {
            [one] => Ok(one),
            [] => {
                let ids: Vec<(String, &str)> = self
                    .prices
                    .iter()
                    .map(|price| (price.id(), price.model.as_str()))
                    .collect();
                Err(Error::UnknownModel {
                    query: wanted.to_owned(),
                    close: close::close_names(
                        wanted,
                        ids.iter().map(|(id, model)| (id.as_str(), *model)),
                    ),
                })
            }
            several => Err(Error::AmbiguousModel {
                query: wanted.to_owned(),
                candidates: several.iter().map(|price| price.id()).collect(),
            }),
        }
    }

    /// All prices, in the table's order.
    pub fn prices(&self) -> &[ApiPrice] {
        &self.prices
    }
}

fn same_id(a: &ApiPrice, b: &ApiPrice) -> bool {
    a.provider.eq_ignore_ascii_case(&b.provider) && a.model.eq_ignore_ascii_case(&b.model)
}

/// What is wrong with an entry, if anything.
fn check_row(row: &PriceRow) -> Result<(), String> {
    check_name("provider", &row.provider, false)?;
    check_name("model", &row.model, true)?;
    for (field, value) in [
        ("input_usd_per_mtok", row.input_usd_per_mtok),
        ("output_usd_per_mtok", row.output_usd_per_mtok),
    ] {
        if !(value.is_finite() && value >= 0.0) {
            return Err(format!(
                "{field} is {value}; give USD per million tokens, a number ≥ 0"
            ));
        }
    }
    if row.input_usd_per_mtok == 0.0 && row.output_usd_per_mtok == 0.0 {
        return Err(
            "both prices are 0; a free model needs no comparison, remove the entry".to_owned(),
        );
    }
    check_date(&row.as_of)?;
    check_text("source", &row.source)?;
    if row.source.trim().is_empty() {
        return Err("source is empty; give the provider's pricing page".to_owned());
    }
    if let Some(note) = &row.note {
        check_text("note", note)?;
    }
    Ok(())
}

fn check_name(field: &str, name: &str, allow_slash: bool) -> Result<(), String> {
    if name.is_empty() || name.len() > MAX_NAME_BYTES {
        return Err(format!(
            "{field} must be 1 to {MAX_NAME_BYTES} characters long"
        ));
    }
    let allowed = |c: char| {
        c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | ':' | '-') || (allow_slash && c == '/')
    };
    if let Some(bad) = name.chars().find(|&c| !allowed(c)) {
        return Err(format!(
            "{field} {name:?} holds {bad:?}; use letters, digits and . _ : -{}",
            if allow_slash { " /" } else { "" }
        ));
    }
    Ok(())
}

fn check_text(field: &str, text: &str) -> Result<(), String> {
    if text.len() > MAX_TEXT_BYTES {
        return Err(format!(
            "{field} is over {MAX_TEXT_BYTES} bytes; shorten it"
        ));
    }
    if text.chars().any(char::is_control) {
        return Err(format!(
            "{field} holds a control character; keep it to one plain line"
        ));
    }
    Ok(())
}

/// `YYYY-MM-DD`, month 1–12, day 1–31.
fn check_date(text: &str) -> Result<(), String> {
    let problem = || format!("as_of {text:?} is not a date; write YYYY-MM-DD");
    let bytes = text.as_bytes();
    let [y1, y2, y3, y4, b'-', m1, m2, b'-', d1, d2] = bytes else {
        return Err(problem());
    };
    let digits = [y1, y2, y3, y4, m1, m2, d1, d2];
    if !digits.iter().all(|b| b.is_ascii_digit()) {
        return Err(problem());
    }
    let month = (m1 - b'0') * 10 + (m2 - b'0');
    let day = (d1 - b'0') * 10 + (d2 - b'0');
    if !(1..=12).contains(&month) || !(1..=31).contains(&day) {
        return Err(problem());
    }
    Ok(())
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::indexing_slicing)]
mod tests {
    use super::*;

    const ONE: &str = r#"
[[prices]]
provider = "acme"
model = "fast-1"
input_usd_per_mtok = 1.0
output_usd_per_mtok = 3.0
as_of = "2026-01-02"
source = "https://acme.example/pricing"
"#;

    #[test]
    fn builtin_table_is_complete_and_sourced() {
        let table = PriceTable::builtin().unwrap();
        for id in [
            "openai/gpt-4o",
            "openai/gpt-4o-mini",
            "openai/gpt-4.1",
            "openai/gpt-4.1-mini",
            "openai/gpt-4.1-nano",
            "anthropic/claude-3-5-haiku",
            "anthropic/claude-sonnet-4",
            "anthropic/claude-opus-4",
            "google/gemini-2.0-flash",
            "google/gemini-2.5-flash",
            "google/gemini-2.5-pro",
            "mistral/mistral-small-2506",
            "mistral/mistral-large-2411",
        ] {
            assert!(table.get(id).is_ok(), "{id} missing");
        }
        for price in table.prices() {
            assert!(
                price.source().starts_with("https://"),
                "{}: {}",
                price.id(),
                price.source()
            );
            assert!(price.note().is_some(), "{} has no note", price.id());
            assert!(
                price.output_usd_per_mtok() >= price.input_usd_per_mtok(),
                "{}: output cheaper than input, swapped?",
                price.id()
            );
        }
        // Spot checks against the list prices.
        let gpt = table.get("gpt-4o").unwrap();
        assert_eq!(
            (gpt.input_usd_per_mtok(), gpt.output_usd_per_mtok()),
            (2.5, 10.0)
        );
        let opus = table.get("anthropic/claude-opus-4").unwrap();
        assert_eq!(
            (opus.input_usd_per_mtok(), opus.output_usd_per_mtok()),
            (15.0, 75.0)
        );
    }

    #[test]
    fn blend_and_monthly_cost() {
        let price = ApiPrice::new("acme", "fast-1", 1.0, 3.0, "2026-01-02", "x").unwrap();
        // 0.75 × 1 + 0.25 × 3 = 1.5.
        assert_eq!(price.usd_per_mtok(Blend::default()), 1.5);
        // Even split: 2.
        assert_eq!(price.usd_per_mtok(Blend::new(0.5).unwrap()), 2.0);
        // 200M tokens at $1.5 per 1M = $300.
        assert_eq!(price.monthly_usd(Blend::default(), 200_000_000), 300.0);
        assert_eq!(price.monthly_usd(Blend::default(), 0), 0.0);
    }

    #[test]
    fn blended_throughput() {
        // 3/4 of the tokens at 1,000/s and 1/4 at 50/s: 0.00075 + 0.005 s
        // per token → 1 / 0.00575 ≈ 173.9 tokens/s.
        let speed = Blend::default().throughput(1000.0, 50.0).unwrap();
        assert!((speed - 1.0 / 0.00575).abs() < 1e-9);
        assert!(Blend::default().throughput(0.0, 50.0).is_err());
        assert!(Blend::new(1.01).is_err());
        assert!(Blend::new(f64::NAN).is_err());
    }

    #[test]
    fn merge_replaces_same_ids_and_appends_new_ones() {
        let defaults = PriceTable::builtin().unwrap();
        let n_defaults = defaults.prices().len();
        let overrides = PriceTable::parse(
            &format!(
                "{ONE}\n[[prices]]\nprovider = \"OpenAI\"\nmodel = \"GPT-4o\"\n\
                 input_usd_per_mtok = 1.25\noutput_usd_per_mtok = 5.0\n\
                 as_of = \"2026-11-01\"\nsource = \"our contract\"\n"
            ),
            "overrides.toml",
        )
        .unwrap();
        let merged = defaults.merge(overrides);
        assert_eq!(merged.prices().len(), n_defaults + 1);
        let gpt = merged.get("openai/gpt-4o").unwrap();
        assert_eq!(gpt.input_usd_per_mtok(), 1.25);
        assert_eq!(gpt.source(), "our contract");
        assert_eq!(
            merged.get("acme/fast-1").unwrap().output_usd_per_mtok(),
            3.0
        );
    }

    #[test]
    fn load_reads_a_file_and_names_it_in_errors() {
        let load = |bytes: &[u8]| PriceTable::load(bytes, "prices.toml");
        assert_eq!(load(ONE.as_bytes()).unwrap().prices().len(), 1);

        let message = load(ONE.replace("1.0", "-1.0").as_bytes())
            .unwrap_err()
            .to_string();
        assert!(message.contains("prices.toml"), "{message}");
        assert!(message.contains("entry 1"), "{message}");
        assert!(message.contains("input_usd_per_mtok is -1"), "{message}");

        let big = vec![b' '; PriceTable::MAX_FILE_BYTES as usize + 1];
        assert!(matches!(load(&big).unwrap_err(), Error::TooLarge { .. }));
        // Exactly at the limit is read (and is an empty table).
        let at_limit = vec![b' '; PriceTable::MAX_FILE_BYTES as usize];
        assert!(load(&at_limit).unwrap().prices().is_empty());

        assert!(matches!(
            load(b"\xff\xfe").unwrap_err(),
            Error::Parse { .. }
        ));

        struct Failing;
        impl Read for Failing {
            fn read(&mut self, _: &mut [u8]) -> std::io::Result<usize> {
                Err(std::io::Error::other("disk on fire"))
            }
        }
        let error = PriceTable::load(Failing, "prices.toml").unwrap_err();
        assert!(matches!(error, Error::Read { .. }));
        assert_eq!(
            std::error::Error::source(&error).map(ToString::to_string),
            Some("disk on fire".to_owned())
        );
    }

    #[test]
    fn bad_entries_are_rejected() {
        let cases = [
            (ONE.replace("1.0", "nan"), "input_usd_per_mtok is NaN"),
            (ONE.replace("3.0", "-3.0"), "output_usd_per_mtok is -3"),
            (
                ONE.replace("1.0", "0.0").replace("3.0", "0.0"),
                "both prices are 0",
            ),
            (ONE.replace("2026-01-02", "Jan 2026"), "not a date"),
            (ONE.replace("2026-01-02", "2026-13-02"), "not a date"),
            (ONE.replace("fast-1", "fast 1"), "holds ' '"),
            (ONE.replace("\"acme\"", "\"ac/me\""), "holds '/'"),
            (
                ONE.replace("https://acme.example/pricing", " "),
                "source is empty",
            ),
            (ONE.replace("fast-1", &"x".repeat(200)), "1 to 128"),
        ];
        for (text, expected) in cases {
            let message = PriceTable::parse(&text, "t.toml").unwrap_err().to_string();
            assert!(message.contains(expected), "{expected:?} not in {message}");
        }
        let unknown_field = ONE.replace("as_of", "date");
        assert!(matches!(
            PriceTable::parse(&unknown_field, "t.toml").unwrap_err(),
            Error::Parse { .. }
        ));
        let twice = format!("{ONE}{}", ONE.replace("acme", "ACME"));
        assert!(matches!(
            PriceTable::parse(&twice, "t.toml").unwrap_err(),
            Error::DuplicateEntry { .. }
        ));
        assert!(ApiPrice::new("acme", "m", f64::INFINITY, 1.0, "2026-01-01", "s").is_err());
    }

    #[test]
    fn lookups_suggest_close_names() {
        let table = PriceTable::builtin().unwrap();
        assert_eq!(table.get("GPT-4O").unwrap().id(), "openai/gpt-4o");
        let error = table.get("gpt4o").unwrap_err();
        let message = error.to_string();
        assert!(message.contains("did you mean openai/gpt-4o"), "{message}");
        let error = table.get("claude-sonet-4").unwrap_err();
        assert!(
            error.to_string().contains("anthropic/claude-sonnet-4"),
            "{error}"
        );
        let nothing = table.get("llama-3-70b").unwrap_err();
        assert!(matches!(nothing, Error::UnknownModel { ref close, .. } if close.is_empty()));

        let two =
            PriceTable::parse(&format!("{ONE}{}", ONE.replace("acme", "other")), "t.toml").unwrap();
        assert!(matches!(
            two.get("fast-1").unwrap_err(),
            Error::AmbiguousModel { .. }
        ));
        assert_eq!(two.get("other/fast-1").unwrap().provider(), "other");
    }
}
