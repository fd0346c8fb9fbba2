//! What serving a model costs: self-hosted hardware against the list prices
//! of proprietary APIs.
//!
//! Purpose: the arithmetic behind `modelgate cost`. [`SelfHosted`] turns an
//! hourly hardware price, a measured throughput and an expected utilization
//! into a price per million tokens, a monthly capacity per instance and a
//! monthly bill at a volume (whole instances: a machine is rented by the
//! hour whether it is busy or not). [`ApiPrice`] is one provider's list
//! price, blended over input and output tokens by a [`Blend`].
//! [`compare`] puts both side by side at the volumes asked for and finds
//! the crossover, the monthly volume above which one self-hosted instance
//! costs less than the API. [`PriceTable`] holds the dated list prices
//! shipped in `crates/cost/data/api-prices.toml` (each with its source), read from a
//! user's file of the same shape, or both merged.
//!
//! Non-purpose: measuring anything. Throughput comes from the caller (the
//! evaluation's tokens/s, a benchmark); the crate reads no model, runs no
//! engine and never reaches the network. Prices are list prices: no batch
//! or cached-input discounts, no long-context tiers, no committed-use
//! deals, no power, staff or egress costs. It opens no file:
//! [`PriceTable::load`] reads a price file from a reader the caller opened.
//!
//! Main types: [`SelfHosted`], [`ApiPrice`], [`Blend`], [`PriceTable`],
//! [`CostReport`] (serialisable; [`CostReport::render_text`] prints an
//! aligned table) and [`Error`].
//!
//! ```
//! use modelgate_cost::{compare, Blend, PriceTable, SelfHosted};
//!
//! // $2/h for a machine that serves 500 tokens/s, busy half the time.
//! let gpu = SelfHosted::new(2.0, 500.0, 0.5)?;
//! assert!((gpu.usd_per_mtok() - 2.0 / (500.0 * 3600.0 * 0.5) * 1e6).abs() < 1e-9);
//!
//! let table = PriceTable::builtin()?;
//! let gpt = table.get("openai/gpt-4o")?.clone();
//! let report = compare(&gpu, &[gpt], Blend::default(), &[10_000_000, 1_000_000_000]);
//! assert_eq!(report.apis.len(), 1);
//! println!("{}", report.render_text());
//! # Ok::<(), modelgate_cost::Error>(())
//! ```

mod close;
mod price;
mod report;
mod self_hosted;

pub use price::{ApiPrice, Blend, PriceTable};
pub use report::{
    ApiComparison, ApiMonth, CostReport, DEFAULT_VOLUMES, SelfHostedMonth, SelfHostedSummary,
    compare,
};
pub use self_hosted::{HOURS_PER_MONTH, SelfHosted};

/// Why a cost could not be computed or a price table not read.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// A number given for the self-hosted setup or the blend is out of
    /// range (zero, negative, NaN, infinite or absurdly large).
    #[error("{field} is {value}: {expected}")]
    InvalidNumber {
        /// The parameter, as the CLI and the docs name it.
        field: &'static str,
        /// The value given.
        value: f64,
        /// The range it must be in, and what to give instead.
        expected: &'static str,
    },
    /// A price built by hand is invalid.
    #[error("price for `{id}`: {problem}")]
    InvalidPrice {
        /// `provider/model`, as given.
        id: String,
        /// What is wrong and what to do.
        problem: String,
    },
    /// A price file could not be read.
    #[error("cannot read price file {origin}")]
    Read {
        /// The file's path.
        origin: String,
        /// The I/O error.
        #[source]
        source: std::io::Error,
    },
    /// A price file is larger than any price table should be.
    #[error(
        "price file {origin} is over {limit} bytes; a price table is a few kilobytes, check the path"
    )]
    TooLarge {
        /// The file's path.
        origin: String,
        /// The limit, [`PriceTable::MAX_FILE_BYTES`].
        limit: u64,
    },
    /// A price table is not TOML of the expected shape.
    #[error(
        "price table {origin} is not a list of [[prices]] with provider, model, input_usd_per_mtok, output_usd_per_mtok, as_of, source: {message}"
    )]
    Parse {
        /// Where the table came from (a path, or `built-in`).
        origin: String,
        /// The TOML reader's message, with line and column.
        message: String,
    },
    /// One entry of a price table is invalid.
    #[error("price table {origin}, [[prices]] entry {number} (`{id}`): {problem}")]
    InvalidEntry {
        /// Where the table came from.
        origin: String,
        /// The entry's number, counting from 1.
        number: usize,
        /// The entry's `provider/model`.
        id: String,
        /// What is wrong and what to do.
        problem: String,
    },
    /// A price table lists the same model twice.
    #[error("price table {origin} lists `{id}` twice; keep one entry")]
    DuplicateEntry {
        /// Where the table came from.
        origin: String,
        /// The repeated `provider/model`.
        id: String,
    },
    /// A price table has more entries than [`PriceTable::MAX_ENTRIES`].
    #[error("price table {origin} has more than {limit} entries")]
    TooManyEntries {
        /// Where the table came from.
        origin: String,
        /// The limit.
        limit: usize,
    },
    /// No price for the model asked for.
    #[error("no price for `{query}`{}", close::hint(close))]
    UnknownModel {
        /// The name asked for.
        query: String,
        /// The table's ids that look like it, closest first.
        close: Vec<String>,
    },
    /// A bare model name matches entries of several providers.
    #[error("`{query}` is listed by several providers: {}; write provider/model", candidates.join(", "))]
    AmbiguousModel {
        /// The name asked for.
        query: String,
        /// The matching `provider/model` ids.
        candidates: Vec<String>,
    },
}
