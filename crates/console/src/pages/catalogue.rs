//! The catalogue: approved and production versions, searched and filtered
//! over the cached `catalogue()`, 50 a page.

use super::*;

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub(crate) struct CatalogueQuery {
    q: String,
    license: String,
    commercial: String,
    task: String,
    size: String,
    quant: String,
    stage: String,
    team: String,
    page: usize,
}

fn size_class(parameters: Option<u64>) -> &'static str {
    match parameters {
        None => "unknown",
        Some(n) if n < 1_000_000_000 => "small",
        Some(n) if n < 15_000_000_000 => "medium",
        Some(_) => "large",
    }
}

/// The catalogue as the page filters it: the entries, what the search
/// looks in (lower-cased once), and the values each filter offers. Built
/// once per change of the inventory (`Console::catalogue`), not per request.
#[derive(Debug)]
pub(crate) struct Catalogue {
    entries: Vec<CatalogueEntry>,
    /// Per entry: name, version, architecture, purpose and license,
    /// lower-cased and joined by newlines.
    haystacks: Vec<String>,
    /// License families, commercial use, tasks, quantizations, teams.
    facets: [BTreeSet<String>; 5],
}

impl Catalogue {
    pub(crate) fn new(entries: Vec<CatalogueEntry>) -> Catalogue {
        let mut facets: [BTreeSet<String>; 5] = Default::default();
        let mut haystacks = Vec::with_capacity(entries.len());
        for entry in &entries {
            let [license, commercial, task, quant, team] = &mut facets;
            license.extend(entry.license_family.clone());
            commercial.extend(entry.commercial.clone());
            task.extend(entry.task.clone());
            quant.extend(entry.summary.quantization.clone());
            team.extend(entry.teams.iter().cloned());
            let summary = &entry.summary;
            let fields = [
                Some(summary.name.as_str()),
                Some(summary.version.as_str()),
                summary.architecture.as_deref(),
                entry.purpose.as_deref(),
                summary.license.as_deref(),
            ];
            let text: Vec<&str> = fields.into_iter().flatten().collect();
            haystacks.push(text.join("\n").to_lowercase());
        }
        Catalogue {
            entries,
            haystacks,
            facets,
        }
    }
}

fn matches(entry: &CatalogueEntry, haystack: &str, query: &CatalogueQuery, needle: &str) -> bool {
    let same = |wanted: &str, value: Option<&str>| {
        wanted.is_empty() || value.is_some_and(|v| v.eq_ignore_ascii_case(wanted))
    };
    let summary = &entry.summary;
    (needle.is_empty() || haystack.contains(needle))
        && same(&query.license, entry.license_family.as_deref())
        && same(&query.commercial, entry.commercial.as_deref())
        && same(&query.task, entry.task.as_deref())
        && same(&query.quant, summary.quantization.as_deref())
        && same(&query.stage, Some(summary.stage.name()))
        && (query.size.is_empty() || query.size == size_class(summary.parameters))
        && (query.team.is_empty() || entry.teams.contains(&query.team))
}

fn select(name: &str, label: &str, current: &str, options: &BTreeSet<String>) -> Markup {
    html! {
        label {
            (label)
            select name=(name) {
                option value="" { "any" }
                @for option in options {
                    option value=(option) selected[option == current] { (option) }
                }
            }
        }
    }
}

pub(crate) async fn catalogue(
    State(console): State<Arc<Console>>,
    headers: HeaderMap,
    Query(query): Query<CatalogueQuery>,
) -> Result<Markup> {
    let viewer = viewer(&console, &headers, &format!("{}/catalogue", crate::MOUNT)).await?;
    let entries = {
        let console2 = Arc::clone(&console);
        console
            .with_store(move |store| Console::catalogue(store, &console2.catalogue))
            .await??
    };
    Ok(render_catalogue(&viewer, &entries, &query))
}

pub(crate) fn render_catalogue(
    viewer: &Viewer,
    catalogue: &Catalogue,
    query: &CatalogueQuery,
) -> Markup {
    let base = crate::MOUNT;
    let entries = &catalogue.entries;
    let needle = query.q.trim().to_lowercase();
    let found: Vec<&CatalogueEntry> = entries
        .iter()
        .zip(&catalogue.haystacks)
        .filter(|(entry, haystack)| matches(entry, haystack, query, &needle))
        .map(|(entry, _)| entry)
        .collect();
    let pages = found.len().div_ceil(CATALOGUE_PAGE).max(1);
    let current = query.page.min(pages - 1);
    let shown = found
        .iter()
        .skip(current * CATALOGUE_PAGE)
        .take(CATALOGUE_PAGE);
    let [licenses, commercial, tasks, quants, teams] = &catalogue.facets;
    let stages: BTreeSet<String> = ["approved", "production"].map(String::from).into();
    let sizes: BTreeSet<String> = ["small", "medium", "large", "unknown"]
        .map(String::from)
        .into();
    let page_link = |n: usize| {
        format!(
            "{base}/catalogue?q={}&license={}&commercial={}&task={}&size={}&quant={}&stage={}&team={}&page={n}",
            encode(&query.q),
            encode(&query.license),
            encode(&query.commercial),
            encode(&query.task),
            encode(&query.size),
            encode(&query.quant),
            encode(&query.stage),
            encode(&query.team)
        )
    };
    page(
        "Catalogue",
        Some(viewer),
        Nav::Catalogue,
        html! {
            h1 { "Catalogue" }
            p.muted { "Versions approved for use or in production, with the evidence behind each." }
            form.filters method="get" action=(format!("{base}/catalogue"))
                hx-get=(format!("{base}/catalogue")) hx-target="#results" hx-select="#results"
                hx-swap="outerHTML" hx-push-url="true"
                hx-trigger="submit, input changed delay:300ms from:find input, change from:find select" {
                label { "Search" input type="search" name="q" value=(query.q) placeholder="name, architecture, purpose"; }
                (select("license", "License family", &query.license, licenses))
                (select("commercial", "Commercial use", &query.commercial, commercial))
                (select("task", "Task", &query.task, tasks))
                (select("size", "Size", &query.size, &sizes))
                (select("quant", "Quantization", &query.quant, quants))
                (select("stage", "Stage", &query.stage, &stages))
                (select("team", "Team", &query.team, teams))
                button type="submit" { "Filter" }
            }
            div #results {
            p { (found.len()) " of " (entries.len()) " versions" @if pages > 1 { ", page " (current + 1) " of " (pages) } }
            div.scroll {
                table.cards {
                    thead { tr {
                        th { "Model" } th { "Stage" } th { "For" } th.hide-narrow { "Size" }
                        th.hide-narrow { "Quant." } th { "License" } th.hide-narrow { "Commercial" }
                        th.hide-narrow { "Review by" } th { "Teams" }
                    } }
                    tbody {
                        @for entry in shown {
                            @let s = &entry.summary;
                            tr {
                                td { a href=(version_link(&s.name, &s.version)) { (s.name) "@" (s.version) } }
                                td { (stage_badge(s.stage)) }
                                td data-label="For" { (cut(or_dash(entry.purpose.as_deref()), 160)) @if let Some(task) = &entry.task { br; span.muted { (task) } } }
                                td.hide-narrow { (params(s.parameters)) br; span.muted { (bytes(s.total_bytes)) } }
                                td.hide-narrow { (or_dash(s.quantization.as_deref())) }
                                td data-label="License" { (or_dash(s.license.as_deref())) @if let Some(family) = &entry.license_family { " " span.muted { (family) } } }
                                td.hide-narrow { (or_dash(entry.commercial.as_deref())) }
                                td.hide-narrow class=[s.review_due.then_some("bad")] { (or_dash(s.review_by.as_deref())) @if s.review_due { " (due)" } }
                                td data-label="Teams" { @if entry.teams.is_empty() { "—" } @else { (entry.teams.join(", ")) } }
                            }
                        }
                    }
                }
            }
            @if pages > 1 {
                div.pager {
                    @if current > 0 { a href=(page_link(current - 1)) { "← Previous" } }
                    @if current + 1 < pages { a href=(page_link(current + 1)) { "Next →" } }
                }
            }
            }
        },
    )
}
