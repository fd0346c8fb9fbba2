//! Charts drawn on the server for modelgate's reports and web console.
//!
//! Purpose: turn a few numbers into a picture that needs nothing on the
//! reader's side. [`size_quality`] draws quantized variants of a model as
//! points of file size against a quality measure (accuracy, KL divergence,
//! perplexity), labelled with the variant's name, the chosen one
//! highlighted; the [`Chart`] it returns holds an SVG (for the console and
//! Markdown) and an 800×500 PNG (for places that take no SVG).
//! [`bar_chart`] draws labelled bars as SVG (usage by key, team or day).
//! Text in the PNG is rasterised with DejaVu Sans, embedded in the binary
//! (`assets/DejaVuSans.ttf`, Bitstream Vera / Arev license beside it), so
//! a chart looks the same on every machine and no system font is read.
//!
//! Non-purpose: computing what is drawn (the evaluation measures, the
//! gateway counts), files, and interactivity. Labels are untrusted text:
//! control characters are dropped, long ones cut, and the SVG writer
//! escapes `<`, `>`, `&` and quotes, so a label cannot inject markup.
//!
//! Main types: [`QualityPoint`], [`ChartSpec`], [`Chart`], [`Error`].
//!
//! ```
//! use modelgate_chart::{size_quality, ChartSpec, QualityPoint};
//!
//! let point = |label: &str, size_bytes, quality, chosen| QualityPoint {
//!     label: label.to_owned(), size_bytes, quality, chosen,
//! };
//! let chart = size_quality(
//!     &[
//!         point("Q8_0", 145_000_000, 0.662, false),
//!         point("Q4_K_M", 105_000_000, 0.655, true),
//!         point("Q2_K", 88_000_000, 0.601, false),
//!     ],
//!     &ChartSpec {
//!         title: "SmolLM2-135M: PIQA accuracy by size".to_owned(),
//!         y_label: "acc_norm".to_owned(),
//!         y_log: false,
//!     },
//! )?;
//! assert!(chart.svg().contains("Q4_K_M"));
//! assert!(chart.png().starts_with(b"\x89PNG\r\n\x1a\n"));
//! # Ok::<(), modelgate_chart::Error>(())
//! ```

mod bars;
mod draw;
mod font;
mod text;

pub use bars::bar_chart;

/// Width of a size-quality chart, pixels (and SVG user units).
pub const WIDTH: u32 = 800;

/// Height of a size-quality chart, pixels (and SVG user units).
pub const HEIGHT: u32 = 500;

/// The most points a size-quality chart draws.
pub const MAX_POINTS: usize = 256;

/// The most bars a bar chart draws.
pub const MAX_BARS: usize = 200;

/// One variant of a model on a size-quality chart.
#[derive(Debug, Clone, PartialEq)]
pub struct QualityPoint {
    /// The variant's name, drawn beside its point (e.g. `Q4_K_M`).
    pub label: String,
    /// The variant's file size in bytes (the x axis).
    pub size_bytes: u64,
    /// The quality measure (the y axis); finite, and above 0 on a log
    /// scale.
    pub quality: f64,
    /// Whether this is the variant picked; at most one point is.
    pub chosen: bool,
}

/// What a size-quality chart says around its points.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct ChartSpec {
    /// The caption.
    pub title: String,
    /// The y axis's name (the quality measure).
    pub y_label: String,
    /// Whether the y axis is logarithmic (for perplexity or KL divergence,
    /// which span orders of magnitude).
    pub y_log: bool,
}

/// A drawn chart, as SVG and as PNG.
#[derive(Debug, Clone, PartialEq)]
pub struct Chart {
    svg: String,
    png: Vec<u8>,
}

impl Chart {
    /// The chart as an SVG document ([`WIDTH`] × [`HEIGHT`]).
    pub fn svg(&self) -> &str {
        &self.svg
    }

    /// The chart as a PNG image ([`WIDTH`] × [`HEIGHT`], 8-bit RGB).
    pub fn png(&self) -> &[u8] {
        &self.png
    }

    /// The SVG text and the PNG bytes, taken out.
    pub fn into_parts(self) -> (String, Vec<u8>) {
        (self.svg, self.png)
    }
}

/// Draws `points` as file size against quality, each labelled, the chosen
/// one larger and in red, joined in order of size.
pub fn size_quality(points: &[QualityPoint], spec: &ChartSpec) -> Result<Chart, Error> {
    let prepared = draw::SizeQuality::new(points, spec)?;
    font::ensure_registered()?;
    Ok(Chart {
        svg: prepared.svg()?,
        png: prepared.png()?,
    })
}

/// Why a chart could not be drawn.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// Nothing to draw.
    #[error("{chart}: no data to draw; give at least one {item}")]
    Empty {
        /// Which chart.
        chart: &'static str,
        /// What it draws.
        item: &'static str,
    },
    /// More items than the chart can show legibly.
    #[error("{chart}: {count} {item}s, over the limit of {limit}; draw fewer")]
    TooMany {
        /// Which chart.
        chart: &'static str,
        /// What it draws.
        item: &'static str,
        /// How many were given.
        count: usize,
        /// The limit.
        limit: usize,
    },
    /// A value is NaN or infinite.
    #[error("{field} of `{label}` is {value}; give a finite number")]
    NotFinite {
        /// `quality` or `value`.
        field: &'static str,
        /// The point's or bar's label (cleaned).
        label: String,
        /// The value given.
        value: f64,
    },
    /// A value is out of the axis's range.
    #[error("{field} of `{label}` is {value}: {expected}")]
    OutOfRange {
        /// `quality` or `value`.
        field: &'static str,
        /// The point's or bar's label (cleaned).
        label: String,
        /// The value given.
        value: f64,
        /// What the axis takes, and what to do.
        expected: &'static str,
    },
    /// More than one point is marked chosen.
    #[error("several points are marked chosen ({}); mark at most one", labels.join(", "))]
    SeveralChosen {
        /// Their labels (cleaned).
        labels: Vec<String>,
    },
    /// The embedded font could not be loaded (a broken build).
    #[error("the embedded font could not be loaded; the build's assets/DejaVuSans.ttf is damaged")]
    Font,
    /// The drawing library failed.
    #[error("drawing the chart failed: {0}")]
    Draw(String),
    /// The PNG encoder failed.
    #[error("encoding the PNG failed: {0}")]
    Encode(String),
}
