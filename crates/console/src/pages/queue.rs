//! The review queue: what waits for the signed-in reviewer's kind of
//! review, candidates ready to decide, and review dates that have come.

use super::*;

pub(crate) async fn queue(
    State(console): State<Arc<Console>>,
    headers: HeaderMap,
) -> Result<Markup> {
    let base = crate::MOUNT;
    let viewer = viewer(&console, &headers, &format!("{base}/queue")).await?;
    let kind = viewer.role.reviewer();
    let (waiting, list) = console
        .with_store(
            move |store| -> std::result::Result<_, modelgate_inventory::Error> {
                Ok((store.review_queue(kind)?, store.list()?))
            },
        )
        .await??;
    let ready: Vec<_> = list
        .iter()
        .filter(|s| s.stage == Stage::Candidate)
        .filter(|s| {
            !waiting
                .iter()
                .any(|(w, _)| w.name == s.name && w.version == s.version)
        })
        .collect();
    let due: Vec<_> = list.iter().filter(|s| s.review_due).collect();
    let heading = match kind {
        Some(kind) => format!("Waiting for your {} review", kind.name()),
        None => "Waiting for review".to_string(),
    };
    Ok(page(
        "Reviews",
        Some(&viewer),
        Nav::Queue,
        html! {
            h1 { (heading) }
            @if waiting.is_empty() { p.muted { "Nothing waits for review." } } @else {
                div.scroll { table { thead { tr { th { "Version" } th { "Needs" } th { "Recorded" } th { "Added" } th { "License" } } }
                    tbody { @for (s, reviews) in &waiting { tr {
                        td { a href=(version_link(&s.name, &s.version)) { (s.name) "@" (s.version) } }
                        td { (s.reviewers.iter().map(|r| r.name()).collect::<Vec<_>>().join(", ")) }
                        td { @for r in reviews { (r.reviewer.name()) ": " (r.outcome.name()) " " } }
                        td { (s.added_at) } td { (or_dash(s.license.as_deref())) }
                    } } } } }
            }
            @if viewer.role.is_admin() {
                h2 { "Candidates without open reviews" }
                @if ready.is_empty() { p.muted { "None." } } @else {
                    ul { @for s in &ready { li { a href=(version_link(&s.name, &s.version)) { (s.name) "@" (s.version) } " — verdict " (s.decision.name()) } } }
                }
            }
            h2 { "Review date has come" }
            @if due.is_empty() { p.muted { "None." } } @else {
                ul { @for s in &due { li { a href=(version_link(&s.name, &s.version)) { (s.name) "@" (s.version) } " — review by " (or_dash(s.review_by.as_deref())) } } }
            }
        },
    ))
}
