//! Bar charts, as SVG.

use plotters::coord::Shift;
use plotters::prelude::*;
use plotters::style::text_anchor::{HPos, Pos, VPos};

use crate::draw::{MAX_MAGNITUDE, MAX_TITLE_CHARS, axis_number, draw_error};
use crate::font::{FAMILY, ensure_registered};
use crate::text::clean;
use crate::{Error, MAX_BARS};

/// Width of a bar chart, SVG user units.
const BAR_WIDTH: u32 = 800;

/// Height of a bar chart, SVG user units.
const BAR_HEIGHT: u32 = 400;

/// The longest bar label drawn, in characters.
const MAX_BAR_LABEL_CHARS: usize = 24;

const BAR_COLOR: RGBColor = RGBColor(31, 119, 180);

/// Draws one bar per `(label, value)`, in the order given, as an SVG
/// document of 800 × 400. Values must be finite, from 0 to 1e12 (counts,
/// tokens, dollars); each bar carries its value above it.
pub fn bar_chart<L: AsRef<str>>(title: &str, bars: &[(L, f64)]) -> Result<String, Error> {
    if bars.is_empty() {
        return Err(Error::Empty {
            chart: "bar chart",
            item: "bar",
        });
    }
    if bars.len() > MAX_BARS {
        return Err(Error::TooMany {
            chart: "bar chart",
            item: "bar",
            count: bars.len(),
            limit: MAX_BARS,
        });
    }
    let mut drawn: Vec<(String, f64)> = Vec::with_capacity(bars.len());
    for (label, value) in bars {
        let label = clean(label.as_ref(), MAX_BAR_LABEL_CHARS);
        if !value.is_finite() {
            return Err(Error::NotFinite {
                field: "value",
                label,
                value: *value,
            });
        }
        if *value < 0.0 || *value > MAX_MAGNITUDE {
            return Err(Error::OutOfRange {
                field: "value",
                label,
                value: *value,
                expected: "bars take values from 0 to 1e12; rescale the unit (thousands, millions)",
            });
        }
        drawn.push((label, *value));
    }
    ensure_registered()?;
    let title = clean(title, MAX_TITLE_CHARS);
    let max = drawn.iter().map(|bar| bar.1).fold(0.0_f64, f64::max);
    // A floor under the axis keeps plotters' tick steps above f64 precision.
    let y_max = (max * 1.15).max(1e-9);

    let mut svg = String::new();
    {
        let root = SVGBackend::with_string(&mut svg, (BAR_WIDTH, BAR_HEIGHT)).into_drawing_area();
        draw_bars(&root, &title, &drawn, y_max)?;
        root.present().map_err(draw_error)?;
    }
    Ok(svg)
}

/// Draws the checked bars on any backend.
pub(crate) fn draw_bars<DB: DrawingBackend>(
    root: &DrawingArea<DB, Shift>,
    title: &str,
    drawn: &[(String, f64)],
    y_max: f64,
) -> Result<(), Error>
where
    DB::ErrorType: 'static,
{
    root.fill(&WHITE).map_err(draw_error)?;
    let mut chart = ChartBuilder::on(root)
        .caption(title, (FAMILY, 20))
        .margin(16)
        .x_label_area_size(40)
        .y_label_area_size(64)
        // plotters' integer ranges are inclusive: 0..n-1 is n segments.
        .build_cartesian_2d(
            (0..drawn.len().saturating_sub(1)).into_segmented(),
            0.0..y_max,
        )
        .map_err(draw_error)?;
    chart
        .configure_mesh()
        .disable_x_mesh()
        .light_line_style(TRANSPARENT)
        .x_labels(drawn.len())
        .x_label_formatter(&|position| match position {
            SegmentValue::CenterOf(idx) => {
                drawn.get(*idx).map(|bar| bar.0.clone()).unwrap_or_default()
            }
            _ => String::new(),
        })
        .y_label_formatter(&|value| axis_number(*value))
        .label_style((FAMILY, 13))
        .draw()
        .map_err(draw_error)?;
    chart
        .draw_series(drawn.iter().enumerate().map(|(idx, (_, value))| {
            let mut bar = Rectangle::new(
                [
                    (SegmentValue::Exact(idx), 0.0),
                    (SegmentValue::Exact(idx + 1), *value),
                ],
                BAR_COLOR.filled(),
            );
            bar.set_margin(0, 0, 6, 6);
            bar
        }))
        .map_err(draw_error)?;
    chart
        .draw_series(drawn.iter().enumerate().map(|(idx, (_, value))| {
            Text::new(
                value_text(*value),
                (SegmentValue::CenterOf(idx), *value),
                (FAMILY, 12)
                    .into_font()
                    .color(&BLACK)
                    .pos(Pos::new(HPos::Center, VPos::Bottom)),
            )
        }))
        .map_err(draw_error)?;
    Ok(())
}

/// A bar's value: whole numbers with thousands separators, else two
/// decimals.
fn value_text(value: f64) -> String {
    if value.fract() == 0.0 && value < 1e15 {
        let digits = format!("{value:.0}");
        let mut grouped = String::new();
        for (idx, digit) in digits.chars().enumerate() {
            if idx > 0 && (digits.len() - idx) % 3 == 0 {
                grouped.push(',');
            }
            grouped.push(digit);
        }
        grouped
    } else {
        format!("{value:.2}")
    }
}
