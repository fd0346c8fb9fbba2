//! The audit trail, paged newest first and filtered, with `audit verify`'s
//! result (computed once per trail head).

use super::*;

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub(crate) struct AuditQuery {
    action: String,
    subject: String,
    actor: String,
    before: Option<u64>,
}

pub(crate) async fn audit(
    State(console): State<Arc<Console>>,
    headers: HeaderMap,
    Query(query): Query<AuditQuery>,
) -> Result<Markup> {
    let base = crate::MOUNT;
    let viewer = viewer(&console, &headers, &format!("{base}/audit")).await?;
    let event_query = EventQuery {
        action_prefix: Some(query.action.clone()),
        subject: Some(query.subject.clone()),
        actor: Some(query.actor.clone()),
        before_seq: query.before,
        limit: AUDIT_PAGE,
    };
    let console2 = Arc::clone(&console);
    let ((events, total), report) = console
        .with_store(
            move |store| -> std::result::Result<_, modelgate_inventory::Error> {
                Ok((
                    store.events_page(&event_query)?,
                    verified(store, &console2)?,
                ))
            },
        )
        .await??;
    Ok(render_audit(&viewer, &query, &events, total, &report))
}

/// `audit verify`, once per trail head: re-hashing the whole trail on
/// every page view would cost as much as the trail is long.
fn verified(
    store: &Store,
    console: &Console,
) -> std::result::Result<Arc<AuditReport>, modelgate_inventory::Error> {
    let seq = store.last_event_seq()?;
    let mut cache = console
        .audit
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner);
    if let Some((cached_seq, report)) = cache.as_ref()
        && *cached_seq == seq
    {
        return Ok(Arc::clone(report));
    }
    let report = Arc::new(store.verify_audit()?);
    *cache = Some((seq, Arc::clone(&report)));
    Ok(report)
}

pub(crate) fn render_audit(
    viewer: &Viewer,
    query: &AuditQuery,
    events: &[modelgate_inventory::Event],
    total: u64,
    report: &AuditReport,
) -> Markup {
    let base = crate::MOUNT;
    let next = events
        .last()
        .map(|e| e.seq)
        .filter(|_| events.len() == AUDIT_PAGE);
    page(
        "Audit",
        Some(viewer),
        Nav::Audit,
        html! {
            h1 { "Audit trail" }
            @if report.ok {
                p.ok { "Chain verified: " (report.n_events) " events, every hash and link intact, stored state matches. Head " span.mono { (report.head.as_deref().unwrap_or("—")) } }
            } @else {
                div.error {
                    p { strong { "Verification failed: " (report.n_problems) " problem(s)" } @if let Some(first) = report.first_bad { ", first bad event " (first) } }
                    ul { @for problem in report.problems.iter().take(20) { li { (problem.message) } } }
                }
            }
            form.filters method="get" action=(format!("{base}/audit"))
                hx-get=(format!("{base}/audit")) hx-target="#results" hx-select="#results"
                hx-swap="outerHTML" hx-push-url="true"
                hx-trigger="submit, input changed delay:300ms from:find input" {
                label { "Action starts with" input type="text" name="action" value=(query.action) placeholder="version."; }
                label { "Subject" input type="text" name="subject" value=(query.subject) placeholder="NAME@VERSION"; }
                label { "Actor" input type="text" name="actor" value=(query.actor); }
                button type="submit" { "Filter" }
            }
            div #results {
            p { (total) " matching events" }
            div.scroll { table {
                thead { tr { th { "#" } th { "When" } th { "Actor" } th { "Action" } th { "Subject" } th.hide-narrow { "Details" } } }
                tbody { @for event in events { tr {
                    td { (event.seq) } td { (event.at) } td { (event.actor) } td.mono { (event.action) }
                    td { (event.subject) }
                    td.mono.hide-narrow { (summarise(&event.details)) }
                } } }
            } }
            @if let Some(before) = next {
                div.pager { a href=(format!("{base}/audit?action={}&subject={}&actor={}&before={before}", encode(&query.action), encode(&query.subject), encode(&query.actor))) { "Older →" } }
            }
            }
        },
    )
}

/// An event's details, cut for a table cell.
fn summarise(details: &Value) -> String {
    cut(&details.to_string(), 240)
}
