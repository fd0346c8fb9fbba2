//! The size-quality chart, and the backends' plumbing.

use plotters::backend::RGBPixel;
use plotters::coord::Shift;
use plotters::coord::ranged1d::ValueFormatter;
use plotters::coord::types::RangedCoordf64;
use plotters::prelude::*;

use crate::font::FAMILY;
use crate::text::clean;
use crate::{ChartSpec, Error, HEIGHT, MAX_POINTS, QualityPoint, WIDTH};

/// The longest point label drawn, in characters.
const MAX_LABEL_CHARS: usize = 32;

/// The largest magnitude a quality may have: plotters cannot place ticks
/// on an axis whose span overflows.
pub(crate) const MAX_MAGNITUDE: f64 = 1e12;

/// The smallest quality a log axis takes.
const MIN_LOG_VALUE: f64 = 1e-12;

/// The longest title or axis name drawn, in characters.
pub(crate) const MAX_TITLE_CHARS: usize = 100;

const POINT_COLOR: RGBColor = RGBColor(31, 119, 180);
const CHOSEN_COLOR: RGBColor = RGBColor(214, 39, 40);
const LINE_COLOR: RGBColor = RGBColor(160, 160, 160);

/// Checked, cleaned input of a size-quality chart.
#[derive(Debug)]
pub(crate) struct SizeQuality {
    title: String,
    y_label: String,
    y_log: bool,
    /// (label, size in `unit`s, quality, chosen), sorted by size.
    points: Vec<(String, f64, f64, bool)>,
    unit: &'static str,
    x_max: f64,
    y_range: (f64, f64),
}

impl SizeQuality {
    pub(crate) fn new(points: &[QualityPoint], spec: &ChartSpec) -> Result<SizeQuality, Error> {
        if points.is_empty() {
            return Err(Error::Empty {
                chart: "size-quality chart",
                item: "point",
            });
        }
        if points.len() > MAX_POINTS {
            return Err(Error::TooMany {
                chart: "size-quality chart",
                item: "point",
                count: points.len(),
                limit: MAX_POINTS,
            });
        }
        let chosen: Vec<String> = points
            .iter()
            .filter(|point| point.chosen)
            .map(|point| clean(&point.label, MAX_LABEL_CHARS))
            .collect();
        if chosen.len() > 1 {
            return Err(Error::SeveralChosen { labels: chosen });
        }
        for point in points {
            let label = || clean(&point.label, MAX_LABEL_CHARS);
            if !point.quality.is_finite() {
                return Err(Error::NotFinite {
                    field: "quality",
                    label: label(),
                    value: point.quality,
                });
            }
            if point.quality.abs() > MAX_MAGNITUDE {
                return Err(Error::OutOfRange {
                    field: "quality",
                    label: label(),
                    value: point.quality,
                    expected: "the axis takes values from -1e12 to 1e12; rescale the measure",
                });
            }
            if spec.y_log && point.quality < MIN_LOG_VALUE {
                return Err(Error::OutOfRange {
                    field: "quality",
                    label: label(),
                    value: point.quality,
                    expected: "a log scale takes values from 1e-12 up; draw 0 or less on a linear scale",
                });
            }
        }
        let max_bytes = points
            .iter()
            .map(|point| point.size_bytes)
            .max()
            .unwrap_or(0);
        let (unit, divisor) = size_unit(max_bytes);
        let mut drawn: Vec<(String, f64, f64, bool)> = points
            .iter()
            .map(|point| {
                (
                    clean(&point.label, MAX_LABEL_CHARS),
                    point.size_bytes as f64 / divisor,
                    point.quality,
                    point.chosen,
                )
            })
            .collect();
        drawn.sort_by(|a, b| a.1.total_cmp(&b.1));
        let x_max = drawn.iter().map(|point| point.1).fold(0.0_f64, f64::max);
        // Room on the right for the last point's label.
        let x_max = if x_max > 0.0 { x_max * 1.2 } else { 1.0 };
        let (low, high) = drawn
            .iter()
            .fold((f64::INFINITY, f64::NEG_INFINITY), |acc, point| {
                (acc.0.min(point.2), acc.1.max(point.2))
            });
        let y_range = if spec.y_log {
            (low / 1.5, high * 1.5)
        } else {
            linear_range(low, high)
        };
        Ok(SizeQuality {
            title: clean(&spec.title, MAX_TITLE_CHARS),
            y_label: clean(&spec.y_label, MAX_TITLE_CHARS),
            y_log: spec.y_log,
            points: drawn,
            unit,
            x_max,
            y_range,
        })
    }

    pub(crate) fn svg(&self) -> Result<String, Error> {
        let mut svg = String::new();
        {
            let root = SVGBackend::with_string(&mut svg, (WIDTH, HEIGHT)).into_drawing_area();
            self.draw(&root)?;
            root.present().map_err(draw_error)?;
        }
        Ok(svg)
    }

    pub(crate) fn png(&self) -> Result<Vec<u8>, Error> {
        let mut pixels = vec![0_u8; WIDTH as usize * HEIGHT as usize * 3];
        {
            let backend =
                BitMapBackend::<RGBPixel>::with_buffer_and_format(&mut pixels, (WIDTH, HEIGHT))
                    .map_err(|error| Error::Draw(error.to_string()))?;
            let root = backend.into_drawing_area();
            self.draw(&root)?;
            root.present().map_err(draw_error)?;
        }
        encode_png(&pixels, WIDTH, HEIGHT)
    }

    fn draw<DB: DrawingBackend>(&self, root: &DrawingArea<DB, Shift>) -> Result<(), Error>
    where
        DB::ErrorType: 'static,
    {
        root.fill(&WHITE).map_err(draw_error)?;
        let mut builder = ChartBuilder::on(root);
        builder
            .caption(&self.title, (FAMILY, 22))
            .margin(16)
            .x_label_area_size(48)
            .y_label_area_size(72);
        let x_range = 0.0..self.x_max;
        let (low, high) = self.y_range;
        if self.y_log {
            let chart = builder
                .build_cartesian_2d(x_range, (low..high).log_scale())
                .map_err(draw_error)?;
            self.draw_body(chart)
        } else {
            let chart = builder
                .build_cartesian_2d(x_range, low..high)
                .map_err(draw_error)?;
            self.draw_body(chart)
        }
    }

    fn draw_body<DB, Y>(
        &self,
        mut chart: ChartContext<'_, DB, Cartesian2d<RangedCoordf64, Y>>,
    ) -> Result<(), Error>
    where
        DB: DrawingBackend,
        DB::ErrorType: 'static,
        Y: Ranged<ValueType = f64> + ValueFormatter<f64>,
    {
        chart
            .configure_mesh()
            .x_desc(format!("file size ({})", self.unit))
            .y_desc(self.y_label.as_str())
            .label_style((FAMILY, 14))
            .axis_desc_style((FAMILY, 15))
            .light_line_style(TRANSPARENT)
            .x_label_formatter(&|value| axis_number(*value))
            .draw()
            .map_err(draw_error)?;
        chart
            .draw_series(LineSeries::new(
                self.points.iter().map(|point| (point.1, point.2)),
                LINE_COLOR.stroke_width(1),
            ))
            .map_err(draw_error)?;
        chart
            .draw_series(self.points.iter().map(|(label, x, y, chosen)| {
                let (color, radius, size, text) = if *chosen {
                    (CHOSEN_COLOR, 7, 16, format!("{label} (chosen)"))
                } else {
                    (POINT_COLOR, 4, 14, label.clone())
                };
                EmptyElement::at((*x, *y))
                    + Circle::new((0, 0), radius, color.filled())
                    + Text::new(text, (8, -18), (FAMILY, size).into_font().color(&color))
            }))
            .map_err(draw_error)?;
        Ok(())
    }
}

/// A linear axis around `low..=high` with 15% of room on each side. The
/// span is kept to at least a millionth of the values' magnitude (and
/// 1e-9): plotters picks tick steps from the span, and a span at the edge
/// of f64 precision would give steps that do not advance.
fn linear_range(low: f64, high: f64) -> (f64, f64) {
    let magnitude = low.abs().max(high.abs());
    let min_span = (magnitude * 1e-6).max(1e-9);
    let (low, high) = if high - low < min_span {
        let middle = low / 2.0 + high / 2.0;
        (middle - min_span / 2.0, middle + min_span / 2.0)
    } else {
        (low, high)
    };
    let pad = (high - low) * 0.15;
    (low - pad, high + pad)
}

/// The unit sizes are drawn in: the largest binary unit the biggest size
/// reaches.
fn size_unit(max_bytes: u64) -> (&'static str, f64) {
    const KIB: f64 = 1024.0;
    let max = max_bytes as f64;
    if max >= KIB * KIB * KIB {
        ("GiB", KIB * KIB * KIB)
    } else if max >= KIB * KIB {
        ("MiB", KIB * KIB)
    } else if max >= KIB {
        ("KiB", KIB)
    } else {
        ("bytes", 1.0)
    }
}

/// An axis tick: no trailing `.0`, up to four significant decimals
/// otherwise (`50`, `0.65`, `1.25`).
pub(crate) fn axis_number(value: f64) -> String {
    let text = format!("{value:.4}");
    let trimmed = text.trim_end_matches('0').trim_end_matches('.');
    if trimmed == "-0" {
        "0".to_owned()
    } else {
        trimmed.to_owned()
    }
}

pub(crate) fn draw_error<E: std::error::Error + Send + Sync>(
    error: DrawingAreaErrorKind<E>,
) -> Error {
    Error::Draw(error.to_string())
}

/// 8-bit RGB pixels as a PNG file.
pub(crate) fn encode_png(pixels: &[u8], width: u32, height: u32) -> Result<Vec<u8>, Error> {
    let mut out = Vec::new();
    {
        let mut encoder = png::Encoder::new(&mut out, width, height);
        encoder.set_color(png::ColorType::Rgb);
        encoder.set_depth(png::BitDepth::Eight);
        encoder.set_compression(png::Compression::Balanced);
        let mut writer = encoder
            .write_header()
            .map_err(|error| Error::Encode(error.to_string()))?;
        writer
            .write_image_data(pixels)
            .map_err(|error| Error::Encode(error.to_string()))?;
        writer
            .finish()
            .map_err(|error| Error::Encode(error.to_string()))?;
    }
    Ok(out)
}
