//! Self-hosting against APIs, side by side.

use serde::Serialize;

use crate::{ApiPrice, Blend, HOURS_PER_MONTH, SelfHosted};

/// Monthly volumes compared when the caller names none: 10M, 100M, 1B and
/// 10B tokens a month.
pub const DEFAULT_VOLUMES: [u64; 4] = [10_000_000, 100_000_000, 1_000_000_000, 10_000_000_000];

/// Self-hosting against each API at the volumes asked for.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct CostReport {
    /// The self-hosted deployment and its bills.
    pub self_hosted: SelfHostedSummary,
    /// The share of input tokens the API prices are blended at.
    pub input_share: f64,
    /// One row per API, in the order given.
    pub apis: Vec<ApiComparison>,
}

/// The self-hosted side of a [`CostReport`].
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct SelfHostedSummary {
    /// One instance's price per hour, USD.
    pub hardware_usd_hour: f64,
    /// One instance's throughput when busy, tokens per second.
    pub tokens_per_s: f64,
    /// The share of the month an instance is busy.
    pub utilization: f64,
    /// USD per million tokens at that utilization.
    pub usd_per_mtok: f64,
    /// Tokens one instance serves a month at that utilization.
    pub tokens_per_month_per_instance: u64,
    /// What one instance costs a month (730 hours).
    pub usd_per_instance_month: f64,
    /// The bill at each volume.
    pub monthly: Vec<SelfHostedMonth>,
}

/// The self-hosted bill at one volume.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct SelfHostedMonth {
    /// The volume, tokens a month.
    pub tokens_per_month: u64,
    /// Instances needed.
    pub instances: u64,
    /// USD a month.
    pub usd: f64,
}

/// One API against self-hosting.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ApiComparison {
    /// `provider/model`.
    pub id: String,
    /// USD per million input tokens.
    pub input_usd_per_mtok: f64,
    /// USD per million output tokens.
    pub output_usd_per_mtok: f64,
    /// USD per million tokens of the blend.
    pub usd_per_mtok: f64,
    /// When the price was last confirmed.
    pub as_of: String,
    /// Where the price comes from.
    pub source: String,
    /// The API's bill at each volume.
    pub monthly: Vec<ApiMonth>,
    /// The volume (tokens a month) above which one self-hosted instance
    /// costs less than this API; `None` when it never does within one
    /// instance's capacity.
    pub crossover_tokens_per_month: Option<u64>,
    /// The crossover explained.
    pub note: String,
}

/// An API's bill at one volume.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ApiMonth {
    /// The volume, tokens a month.
    pub tokens_per_month: u64,
    /// USD a month.
    pub usd: f64,
    /// Whether self-hosting costs less at this volume.
    pub self_hosted_cheaper: bool,
}

/// Compares `self_hosted` with each of `apis` at each of `volumes` (tokens
/// a month), blending API prices with `blend`.
///
/// The crossover is where one instance's fixed monthly cost `F =
/// hardware_usd_hour × 730` equals the API's bill `p × v / 1e6`: `v* = F ×
/// 1e6 / p`. Self-hosting wins above `v*` as long as one instance can serve
/// the volume, so there is a crossover only when `v*` is below one
/// instance's capacity, which is the same as the API's blended price being
/// above self-hosting's price per million tokens. With `n` instances the
/// break-even is `n × v*`, so past one instance's capacity there are bands
/// where the API is cheaper again; the per-volume rows show the real
/// comparison.
pub fn compare(
    self_hosted: &SelfHosted,
    apis: &[ApiPrice],
    blend: Blend,
    volumes: &[u64],
) -> CostReport {
    let monthly = volumes
        .iter()
        .map(|&tokens_per_month| SelfHostedMonth {
            tokens_per_month,
            instances: self_hosted.instances_for(tokens_per_month),
            usd: self_hosted.monthly_usd(tokens_per_month),
        })
        .collect();
    let apis = apis
        .iter()
        .map(|api| compare_one(self_hosted, api, blend, volumes))
        .collect();
    CostReport {
        self_hosted: SelfHostedSummary {
            hardware_usd_hour: self_hosted.hardware_usd_hour(),
            tokens_per_s: self_hosted.tokens_per_s(),
            utilization: self_hosted.utilization(),
            usd_per_mtok: self_hosted.usd_per_mtok(),
            tokens_per_month_per_instance: self_hosted.tokens_per_month(),
            usd_per_instance_month: self_hosted.instance_usd_per_month(),
            monthly,
        },
        input_share: blend.input_share(),
        apis,
    }
}

fn compare_one(
    self_hosted: &SelfHosted,
    api: &ApiPrice,
    blend: Blend,
    volumes: &[u64],
) -> ApiComparison {
    let usd_per_mtok = api.usd_per_mtok(blend);
    let monthly = volumes
        .iter()
        .map(|&tokens_per_month| {
            let usd = api.monthly_usd(blend, tokens_per_month);
            ApiMonth {
                tokens_per_month,
                usd,
                self_hosted_cheaper: self_hosted.monthly_usd(tokens_per_month) < usd,
            }
        })
        .collect();
    let capacity = self_hosted.tokens_per_month();
    let fixed = self_hosted.instance_usd_per_month();
    let break_even = if usd_per_mtok > 0.0 {
        fixed * 1e6 / usd_per_mtok
    } else {
        f64::INFINITY
    };
    // Whole tokens above the break-even: floor(v*) is the last volume at
    // which the API costs no more than the instance.
    let crossover = (break_even.floor() < capacity as f64).then_some(break_even.floor() as u64);
    let note = match crossover {
        Some(tokens) => format!(
            "one instance (${}/month) costs less than the API from {} tokens/month up to its capacity of {}; \
             with n instances, from n × {} to n × {}",
            money(fixed),
            tokens_text(tokens.saturating_add(1)),
            tokens_text(capacity),
            tokens_text(tokens),
            tokens_text(capacity),
        ),
        None => format!(
            "the API at ${}/1M tokens costs less than self-hosting's ${}/1M even with every instance full \
             ({} tokens/month each at {}% utilization): self-hosting is never cheaper; it needs more \
             tokens/s, higher utilization or cheaper hardware",
            price_text(usd_per_mtok),
            price_text(self_hosted.usd_per_mtok()),
            tokens_text(capacity),
            percent(self_hosted.utilization()),
        ),
    };
    ApiComparison {
        id: api.id(),
        input_usd_per_mtok: api.input_usd_per_mtok(),
        output_usd_per_mtok: api.output_usd_per_mtok(),
        usd_per_mtok,
        as_of: api.as_of().to_owned(),
        source: api.source().to_owned(),
        monthly,
        crossover_tokens_per_month: crossover,
        note,
    }
}

impl CostReport {
    /// The report as an aligned plain-text table, with the notes and
    /// assumptions under it.
    pub fn render_text(&self) -> String {
        let summary = &self.self_hosted;
        let mut out = format!(
            "Self-hosted: ${}/hour per instance, {} tokens/s, {}% utilization\n\
             \x20 ${} per 1M tokens; one instance serves {} tokens/month for ${}/month\n\n",
            price_text(summary.hardware_usd_hour),
            number_text(summary.tokens_per_s),
            percent(summary.utilization),
            price_text(summary.usd_per_mtok),
            tokens_text(summary.tokens_per_month_per_instance),
            money(summary.usd_per_instance_month),
        );

        let mut header = vec!["".to_owned(), "$/1M".to_owned(), "as of".to_owned()];
        header.extend(
            summary
                .monthly
                .iter()
                .map(|month| format!("{}/month", tokens_text(month.tokens_per_month))),
        );
        header.push("crossover".to_owned());
        let mut rows = vec![header];

        let mut own = vec![
            "self-hosted".to_owned(),
            price_text(summary.usd_per_mtok),
            String::new(),
        ];
        own.extend(summary.monthly.iter().map(|month| {
            format!(
                "${} ({}×)",
                money(month.usd),
                number_text(month.instances as f64)
            )
        }));
        own.push(String::new());
        rows.push(own);

        for api in &self.apis {
            let mut row = vec![
                api.id.clone(),
                price_text(api.usd_per_mtok),
                api.as_of.clone(),
            ];
            row.extend(api.monthly.iter().map(|month| {
                let marker = if month.self_hosted_cheaper { " *" } else { "" };
                format!("${}{marker}", money(month.usd))
            }));
            row.push(match api.crossover_tokens_per_month {
                Some(tokens) => format!("> {}", tokens_text(tokens)),
                None => "never".to_owned(),
            });
            rows.push(row);
        }
        out.push_str(&align(&rows));

        out.push_str(&format!(
            "\nAPI prices blended at {}% input, {}% output tokens; * = self-hosting is cheaper at that volume.\n\
             Crossover: tokens/month above which one self-hosted instance costs less than the API.\n\
             A month is {} hours; self-hosting is billed in whole instances, busy or not.\n",
            percent(self.input_share),
            percent(1.0 - self.input_share),
            HOURS_PER_MONTH,
        ));
        if !self.apis.is_empty() {
            out.push_str("\nNotes:\n");
            for api in &self.apis {
                out.push_str(&format!("  {}: {}\n", api.id, api.note));
            }
            out.push_str("\nSources:\n");
            for api in &self.apis {
                out.push_str(&format!("  {}: {} ({})\n", api.id, api.source, api.as_of));
            }
        }
        out
    }
}

/// Columns padded to their widest cell: the first left-aligned, the rest
/// right-aligned, two spaces apart.
fn align(rows: &[Vec<String>]) -> String {
    let n_columns = rows.iter().map(Vec::len).max().unwrap_or(0);
    let widths: Vec<usize> = (0..n_columns)
        .map(|column| {
            rows.iter()
                .filter_map(|row| row.get(column))
                .map(|cell| cell.chars().count())
                .max()
                .unwrap_or(0)
        })
        .collect();
    let mut out = String::new();
    for row in rows {
        let mut line = String::new();
        for (column, (cell, width)) in row.iter().zip(&widths).enumerate() {
            if column == 0 {
                line.push_str(&format!("{cell:<width$}"));
            } else {
                line.push_str(&format!("  {cell:>width$}"));
            }
        }
        out.push_str(line.trim_end());
        out.push('\n');
    }
    out
}

/// Whole dollars with thousands separators under $1,000 shown with cents:
/// `12,345`, `43.75`, `0.05`.
fn money(usd: f64) -> String {
    if !usd.is_finite() {
        return usd.to_string();
    }
    if usd.abs() >= 1000.0 {
        group_thousands(usd.round())
    } else {
        format!("{usd:.2}")
    }
}

/// A price per million tokens or per hour: up to four decimals, at least
/// two, trailing zeros dropped.
fn price_text(usd: f64) -> String {
    if usd.abs() >= 1000.0 {
        return money(usd);
    }
    let text = format!("{usd:.4}");
    let trimmed = text.trim_end_matches('0');
    match trimmed.split_once('.') {
        Some((_, decimals)) if decimals.len() < 2 => format!("{usd:.2}"),
        _ => trimmed.to_owned(),
    }
}

/// `1,234` for whole numbers, else one decimal.
fn number_text(value: f64) -> String {
    if value.fract() == 0.0 && value.abs() < 1e15 {
        group_thousands(value)
    } else {
        format!("{value:.1}")
    }
}

fn group_thousands(value: f64) -> String {
    let digits = format!("{:.0}", value.abs());
    let mut grouped = String::new();
    for (idx, digit) in digits.chars().enumerate() {
        if idx > 0 && (digits.len() - idx) % 3 == 0 {
            grouped.push(',');
        }
        grouped.push(digit);
    }
    if value < 0.0 {
        format!("-{grouped}")
    } else {
        grouped
    }
}

/// Tokens in K, M, B or T with at most one decimal: `10M`, `1.3B`.
fn tokens_text(tokens: u64) -> String {
    let value = tokens as f64;
    for (scale, suffix) in [(1e12, "T"), (1e9, "B"), (1e6, "M"), (1e3, "K")] {
        if value >= scale {
            let scaled = format!("{:.1}", value / scale);
            return format!("{}{suffix}", scaled.trim_end_matches(".0"));
        }
    }
    tokens.to_string()
}

fn percent(share: f64) -> String {
    let text = format!("{:.1}", share * 100.0);
    text.trim_end_matches(".0").to_owned()
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::indexing_slicing)]
mod tests {
    use super::*;

    fn gpu() -> SelfHosted {
        // $3.60/h, 1,000 tokens/s, half busy: $2 per 1M, 1.314B tokens a
        // month per instance, $2,628 a month per instance.
        SelfHosted::new(3.6, 1000.0, 0.5).unwrap()
    }

    fn api(input: f64, output: f64) -> ApiPrice {
        ApiPrice::new(
            "acme",
            "m",
            input,
            output,
            "2026-01-02",
            "https://acme.example",
        )
        .unwrap()
    }

    #[test]
    fn crossover_when_the_api_costs_more_per_token() {
        // Blended 0.75 × 4 + 0.25 × 12 = $6 per 1M.
        let report = compare(
            &gpu(),
            &[api(4.0, 12.0)],
            Blend::default(),
            &[100_000_000, 500_000_000, 1_314_000_000, 2_000_000_000],
        );
        let row = &report.apis[0];
        assert_eq!(row.usd_per_mtok, 6.0);
        // v* = 2,628 × 1e6 / 6 = 438,000,000 tokens.
        assert_eq!(row.crossover_tokens_per_month, Some(438_000_000));
        let usd: Vec<f64> = row.monthly.iter().map(|month| month.usd).collect();
        assert_eq!(usd, [600.0, 3000.0, 7884.0, 12000.0]);
        let cheaper: Vec<bool> = row
            .monthly
            .iter()
            .map(|month| month.self_hosted_cheaper)
            .collect();
        // 100M: $2,628 vs $600; 500M: $2,628 vs $3,000; 1.314B: $2,628 vs
        // $7,884; 2B: two instances, $5,256 vs $12,000.
        assert_eq!(cheaper, [false, true, true, true]);
        let own: Vec<(u64, f64)> = report
            .self_hosted
            .monthly
            .iter()
            .map(|month| (month.instances, month.usd))
            .collect();
        assert_eq!(own, [(1, 2628.0), (1, 2628.0), (1, 2628.0), (2, 5256.0)]);
        assert!(row.note.contains("from 438M tokens/month"), "{}", row.note);
    }

    #[test]
    fn crossover_sits_exactly_at_the_break_even() {
        // $6 per 1M: at 438,000,000 tokens both cost $2,628; one more token
        // and the instance is cheaper.
        let report = compare(
            &gpu(),
            &[api(4.0, 12.0)],
            Blend::default(),
            &[438_000_000, 438_001_000],
        );
        let row = &report.apis[0];
        assert!(!row.monthly[0].self_hosted_cheaper);
        assert!(row.monthly[1].self_hosted_cheaper);
    }

    #[test]
    fn no_crossover_when_the_api_is_cheaper_per_token() {
        // Blended $1.50 per 1M, under self-hosting's $2: v* = 1.752B tokens,
        // above one instance's 1.314B.
        let report = compare(&gpu(), &[api(1.0, 3.0)], Blend::default(), &DEFAULT_VOLUMES);
        let row = &report.apis[0];
        assert_eq!(row.crossover_tokens_per_month, None);
        assert!(row.note.contains("never cheaper"), "{}", row.note);
        assert!(row.monthly.iter().all(|month| !month.self_hosted_cheaper));
    }

    #[test]
    fn text_table_is_aligned() {
        let report = compare(
            &gpu(),
            &[api(4.0, 12.0), api(1.0, 3.0)],
            Blend::default(),
            &[10_000_000, 1_000_000_000],
        );
        let text = report.render_text();
        assert!(
            text.contains("$2 per 1M") || text.contains("$2.00 per 1M"),
            "{text}"
        );
        let table: Vec<&str> = text
            .lines()
            .skip_while(|line| !line.contains("$/1M"))
            .take(4)
            .collect();
        assert_eq!(table.len(), 4, "{text}");
        assert!(table[0].contains("10M/month") && table[0].contains("1B/month"));
        assert!(table[1].starts_with("self-hosted"));
        assert!(table[2].contains("> 438M"), "{text}");
        assert!(table[3].ends_with("never"), "{text}");
        // Right-aligned columns end where their header ends.
        let header_as_of_end = table[0].find("as of").unwrap() + "as of".len();
        assert_eq!(
            &table[2][header_as_of_end - 10..header_as_of_end],
            "2026-01-02"
        );
        assert!(text.contains("https://acme.example"));
    }

    #[test]
    fn report_serialises() {
        let report = compare(&gpu(), &[api(4.0, 12.0)], Blend::default(), &[1]);
        let json = serde_json::to_value(&report).unwrap();
        assert_eq!(json["apis"][0]["crossover_tokens_per_month"], 438_000_000);
        assert_eq!(
            json["self_hosted"]["tokens_per_month_per_instance"],
            1_314_000_000u64
        );
        assert_eq!(json["input_share"], 0.75);
    }

    #[test]
    fn number_formats() {
        assert_eq!(money(12345.4), "12,345");
        assert_eq!(money(43.75), "43.75");
        assert_eq!(money(1_000_000.0), "1,000,000");
        assert_eq!(price_text(2.0), "2.00");
        assert_eq!(price_text(0.075), "0.075");
        assert_eq!(price_text(1.23456), "1.2346");
        assert_eq!(tokens_text(10_000_000), "10M");
        assert_eq!(tokens_text(1_314_000_000), "1.3B");
        assert_eq!(tokens_text(999), "999");
        assert_eq!(percent(0.5), "50");
        assert_eq!(percent(0.125), "12.5");
    }
}
