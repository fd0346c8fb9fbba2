//! The charts as a reader gets them: SVG that parses, PNG that decodes.

#![allow(clippy::unwrap_used, clippy::indexing_slicing)]

use modelgate_chart::{
    ChartSpec, Error, HEIGHT, MAX_POINTS, QualityPoint, WIDTH, bar_chart, size_quality,
};

fn point(label: &str, size_bytes: u64, quality: f64, chosen: bool) -> QualityPoint {
    QualityPoint {
        label: label.to_owned(),
        size_bytes,
        quality,
        chosen,
    }
}

fn spec(title: &str, y_log: bool) -> ChartSpec {
    ChartSpec {
        title: title.to_owned(),
        y_label: "acc_norm".to_owned(),
        y_log,
    }
}

fn variants() -> Vec<QualityPoint> {
    vec![
        point("F16", 270_000_000, 0.668, false),
        point("Q8_0", 145_000_000, 0.663, false),
        point("Q4_K_M", 105_000_000, 0.655, true),
        point("Q2_K", 88_000_000, 0.601, false),
    ]
}

/// Checks that `svg` is well-formed XML as far as a chart needs: one
/// `<svg>` root, tags balanced, attribute quotes paired, and every `&` in
/// text or attributes starting an entity.
fn assert_well_formed(svg: &str) {
    assert!(
        svg.trim_start().starts_with("<svg"),
        "no <svg root: {}",
        &svg[..80.min(svg.len())]
    );
    let mut stack: Vec<&str> = Vec::new();
    let mut n_roots = 0;
    let mut rest = svg;
    while let Some(start) = rest.find('<') {
        assert_entities(&rest[..start]);
        let after = &rest[start + 1..];
        let end = after.find('>').expect("unclosed tag");
        let tag = &after[..end];
        if let Some(name) = tag.strip_prefix('/') {
            assert_eq!(stack.pop(), Some(name.trim()), "mismatched </{name}>");
        } else {
            assert_eq!(tag.matches('"').count() % 2, 0, "unpaired quote in <{tag}>");
            assert!(!tag.contains('<'), "raw < inside <{tag}>");
            assert_entities(tag);
            let name = tag.split_whitespace().next().unwrap().trim_end_matches('/');
            if stack.is_empty() {
                n_roots += 1;
                assert_eq!(name, "svg");
            }
            if !tag.ends_with('/') {
                stack.push(name);
            }
        }
        rest = &after[end + 1..];
    }
    assert_entities(rest);
    assert!(rest.trim().is_empty(), "text after the root: {rest:?}");
    assert!(stack.is_empty(), "unclosed: {stack:?}");
    assert_eq!(n_roots, 1);
}

fn assert_entities(text: &str) {
    for (idx, _) in text.match_indices('&') {
        let entity = &text[idx..];
        assert!(
            ["&lt;", "&gt;", "&amp;", "&quot;", "&apos;", "&#"]
                .iter()
                .any(|known| entity.starts_with(known)),
            "bare & in {text:?}"
        );
    }
}

/// Width and height from the IHDR chunk, read by hand.
fn ihdr_size(png: &[u8]) -> (u32, u32) {
    assert_eq!(&png[..8], b"\x89PNG\r\n\x1a\n");
    assert_eq!(&png[8..16], b"\0\0\0\x0dIHDR");
    let width = u32::from_be_bytes(png[16..20].try_into().unwrap());
    let height = u32::from_be_bytes(png[20..24].try_into().unwrap());
    (width, height)
}

/// The PNG decoded to 8-bit RGB rows.
fn decode(png: &[u8]) -> (png::OutputInfo, Vec<u8>) {
    let decoder = png::Decoder::new(std::io::Cursor::new(png));
    let mut reader = decoder.read_info().unwrap();
    let mut pixels = vec![0; reader.output_buffer_size().unwrap()];
    let info = reader.next_frame(&mut pixels).unwrap();
    pixels.truncate(info.buffer_size());
    (info, pixels)
}

#[test]
fn size_quality_svg_names_every_variant_and_the_choice() {
    let chart = size_quality(&variants(), &spec("SmolLM2-135M on PIQA", false)).unwrap();
    let svg = chart.svg();
    assert_well_formed(svg);
    assert!(
        svg.contains(&format!("width=\"{WIDTH}\"")),
        "{}",
        &svg[..200]
    );
    assert!(svg.contains(&format!("height=\"{HEIGHT}\"")));
    for label in [
        "F16",
        "Q8_0",
        "Q2_K",
        "Q4_K_M (chosen)",
        "SmolLM2-135M on PIQA",
        "acc_norm",
        "file size (MiB)",
    ] {
        assert!(svg.contains(label), "{label} missing");
    }
    // The chosen point is drawn in the highlight colour, the others not.
    let circles = |colour: &str| {
        svg.lines()
            .filter(|line| {
                line.starts_with("<circle") && line.contains(&format!("fill=\"{colour}\""))
            })
            .count()
    };
    assert_eq!(circles("#D62728"), 1);
    assert_eq!(circles("#1F77B4"), 3);
}

#[test]
fn size_quality_png_decodes_to_the_stated_size() {
    let chart = size_quality(&variants(), &spec("SmolLM2-135M on PIQA", false)).unwrap();
    let png = chart.png();
    assert_eq!(ihdr_size(png), (WIDTH, HEIGHT));
    let (info, pixels) = decode(png);
    assert_eq!((info.width, info.height), (WIDTH, HEIGHT));
    assert_eq!(info.color_type, png::ColorType::Rgb);
    assert_eq!(pixels.len(), WIDTH as usize * HEIGHT as usize * 3);
    let rgb: Vec<&[u8]> = pixels.chunks_exact(3).collect();
    // The chosen point's fill colour is there.
    assert!(
        rgb.iter().any(|pixel| *pixel == [214, 39, 40]),
        "no highlighted point"
    );
    assert!(
        rgb.iter().any(|pixel| *pixel == [31, 119, 180]),
        "no plain point"
    );
    // The caption (top 40 rows) holds dark text pixels: the embedded font
    // rasterised something.
    let caption_dark = rgb[..WIDTH as usize * 40]
        .iter()
        .filter(|pixel| pixel.iter().all(|&channel| channel < 100))
        .count();
    assert!(caption_dark > 50, "caption has {caption_dark} dark pixels");
    let untitled = size_quality(&variants(), &spec("", false)).unwrap();
    let (_, untitled_pixels) = decode(untitled.png());
    let untitled_dark = untitled_pixels[..WIDTH as usize * 40 * 3]
        .chunks_exact(3)
        .filter(|pixel| pixel.iter().all(|&channel| channel < 100))
        .count();
    assert!(untitled_dark < caption_dark);
}

#[test]
fn untrusted_labels_are_escaped() {
    let points = vec![
        point("<script>alert(1)</script>", 100, 1.0, false),
        point("Q4 & \"friends\" 'x'", 200, 2.0, true),
        point("line\nbreak\u{0}\u{1b}[31m", 300, 3.0, false),
    ];
    let chart = size_quality(&points, &spec("<b>title</b> & more", false)).unwrap();
    let svg = chart.svg();
    assert_well_formed(svg);
    assert!(!svg.contains("<script"), "markup injected");
    assert!(!svg.contains("<b>"));
    assert!(svg.contains("&lt;script&gt;alert(1)&lt;/script&gt;"));
    assert!(svg.contains("Q4 &amp; &quot;friends&quot; &apos;x&apos; (chosen)"));
    assert!(svg.contains("&lt;b&gt;title&lt;/b&gt; &amp; more"));
    assert!(svg.contains("line break[31m"));
    assert!(!svg.contains('\u{0}') && !svg.contains('\u{1b}'));
    assert_eq!(ihdr_size(chart.png()), (WIDTH, HEIGHT));

    let bars = bar_chart("<i>usage</i>", &[("<script>", 3.0), ("a & b", 4.0)]).unwrap();
    assert_well_formed(&bars);
    assert!(!bars.contains("<script") && !bars.contains("<i>"));
    assert!(bars.contains("&lt;script&gt;") && bars.contains("a &amp; b"));
}

#[test]
fn log_scale_draws_values_spanning_orders_of_magnitude() {
    let points = vec![
        point("Q8_0", 145_000_000, 0.002, false),
        point("Q4_K_M", 105_000_000, 0.05, true),
        point("Q2_K", 88_000_000, 1.3, false),
    ];
    let log_spec = ChartSpec {
        title: "KL divergence from F16".to_owned(),
        y_label: "mean KL (nats)".to_owned(),
        y_log: true,
    };
    let chart = size_quality(&points, &log_spec).unwrap();
    assert_well_formed(chart.svg());
    assert!(chart.svg().contains("mean KL (nats)"));
    assert_eq!(ihdr_size(chart.png()), (WIDTH, HEIGHT));
}

#[test]
fn bad_input_is_an_error() {
    assert!(matches!(
        size_quality(&[], &spec("t", false)),
        Err(Error::Empty { .. })
    ));
    for bad in [f64::NAN, f64::INFINITY, f64::NEG_INFINITY] {
        let error = size_quality(&[point("Q4_0", 1, bad, false)], &spec("t", false)).unwrap_err();
        assert!(matches!(error, Error::NotFinite { .. }), "{error}");
        assert!(error.to_string().contains("Q4_0"), "{error}");
    }
    let error = size_quality(&[point("Q4_0", 1, 0.0, false)], &spec("t", true)).unwrap_err();
    assert!(matches!(error, Error::OutOfRange { .. }), "{error}");
    // Magnitudes an axis cannot span are refused, not drawn for ever.
    for (quality, y_log) in [
        (f64::MAX, false),
        (-1e13, false),
        (1e-13, true),
        (1e13, true),
    ] {
        let error = size_quality(&[point("x", 1, quality, false)], &spec("t", y_log)).unwrap_err();
        assert!(
            matches!(error, Error::OutOfRange { .. }),
            "{quality}: {error}"
        );
    }
    assert!(size_quality(&[point("x", 1, 1e-12, false)], &spec("t", true)).is_ok());
    let error = size_quality(
        &[point("a", 1, 1.0, true), point("b", 2, 2.0, true)],
        &spec("t", false),
    )
    .unwrap_err();
    assert_eq!(
        error.to_string(),
        "several points are marked chosen (a, b); mark at most one"
    );
    let many: Vec<QualityPoint> = (0..=MAX_POINTS as u64)
        .map(|idx| point("p", idx, 1.0, false))
        .collect();
    assert!(matches!(
        size_quality(&many, &spec("t", false)),
        Err(Error::TooMany { .. })
    ));

    let no_bars: &[(&str, f64)] = &[];
    assert!(matches!(bar_chart("t", no_bars), Err(Error::Empty { .. })));
    assert!(matches!(
        bar_chart("t", &[("a", f64::NAN)]),
        Err(Error::NotFinite { .. })
    ));
    assert!(matches!(
        bar_chart("t", &[("a", -1.0)]),
        Err(Error::OutOfRange { .. })
    ));
    assert!(matches!(
        bar_chart("t", &[("a", 1e13)]),
        Err(Error::OutOfRange { .. })
    ));
    assert!(bar_chart("t", &[("a", 1e12), ("b", 5e-324)]).is_ok());
}

#[test]
fn odd_but_valid_input_draws() {
    let cases: Vec<Vec<QualityPoint>> = vec![
        vec![point("only", 1234, 0.5, true)],
        vec![
            point("zero", 0, 0.0, false),
            point("also zero", 0, 0.0, false),
        ],
        vec![
            point("same", 10, -3.0, false),
            point("same too", 10, -3.0, false),
        ],
        vec![
            point("huge", u64::MAX, 1e12, false),
            point("tiny", 1, -1e12, false),
        ],
        // Spans at the edge of f64 precision: tick steps must still advance.
        vec![point("a", 1, 1.0, false), point("b", 2, 1.0 + 1e-15, false)],
        vec![point("a", 1, 1e-12, false), point("b", 2, 1e-12, false)],
        vec![
            point("日本語 ラベル", 5_000_000_000, 1.0, false),
            point("emoji 🚀🚀🚀", 6_000_000_000, 2.0, false),
            point("עברית مرحبا", 7_000_000_000, 3.0, false),
            point(&"long".repeat(100), 8_000_000_000, 4.0, false),
        ],
    ];
    for points in cases {
        let chart = size_quality(&points, &spec(&"title ".repeat(50), false)).unwrap();
        assert_well_formed(chart.svg());
        assert_eq!(ihdr_size(chart.png()), (WIDTH, HEIGHT));
    }
    let giant = size_quality(&[point("g", 5_000_000_000, 1.0, false)], &spec("t", false)).unwrap();
    assert!(giant.svg().contains("file size (GiB)"));
}

#[test]
fn bar_chart_labels_and_values() {
    let labels = ["2026-12-01", "2026-12-02", "2026-12-03"];
    let bars: Vec<(String, f64)> = labels
        .iter()
        .zip([1200.0, 0.0, 345.5])
        .map(|(label, value)| (label.to_string(), value))
        .collect();
    let svg = bar_chart("Tokens per day", &bars).unwrap();
    assert_well_formed(&svg);
    for text in [
        "Tokens per day",
        "2026-12-01",
        "2026-12-02",
        "2026-12-03",
        "1,200",
        "345.50",
    ] {
        assert!(svg.contains(text), "{text} missing");
    }
    // One filled rectangle per bar, in the bar colour.
    let n_bars = svg
        .lines()
        .filter(|line| {
            line.starts_with("<rect") && (line.contains("#1F77B4") || line.contains("#1f77b4"))
        })
        .count();
    assert_eq!(n_bars, 3, "{svg}");
    let all_zero = bar_chart("none yet", &[("a", 0.0), ("b", 0.0)]).unwrap();
    assert_well_formed(&all_zero);
    let one = bar_chart("one", &[("only", 7.0)]).unwrap();
    assert_well_formed(&one);
    assert!(one.contains("only") && one.contains(">\n7\n<"), "{one}");
}
