//! One version's record, rendered for people from the stored vet report,
//! with its reviews, evaluation runs and history, and the forms the
//! signed-in user may use on it.

use super::*;

/// Everything the version page shows, read in one visit to the store.
struct VersionPage {
    detail: modelgate_inventory::VersionDetail,
    reviews: Vec<modelgate_inventory::Review>,
    runs: Vec<modelgate_inventory::EvalRunSummary>,
}

pub(crate) async fn version(
    State(console): State<Arc<Console>>,
    headers: HeaderMap,
    Query(query): Query<RefQuery>,
) -> Result<Markup> {
    let path = format!("{}/version?ref={}", crate::MOUNT, encode(&query.reference));
    let viewer = viewer(&console, &headers, &path).await?;
    let reference = parse_ref(&query.reference)?;
    let data = console
        .with_store(
            move |store| -> std::result::Result<VersionPage, modelgate_inventory::Error> {
                Ok(VersionPage {
                    detail: store.version(&reference)?,
                    reviews: store.reviews(&reference)?,
                    runs: store.eval_runs(EvalRunFilter {
                        version: Some(reference.clone()),
                        ..EvalRunFilter::default()
                    })?,
                })
            },
        )
        .await??;
    Ok(render_version(&viewer, &data))
}

fn text_of(value: &Value) -> String {
    match value {
        Value::String(s) => s.clone(),
        Value::Null => String::new(),
        other => other.to_string(),
    }
}

fn list_of<'a>(value: &'a Value, key: &str) -> &'a [Value] {
    value
        .get(key)
        .and_then(Value::as_array)
        .map_or(&[], Vec::as_slice)
}

fn field<'a>(value: &'a Value, path: &[&str]) -> Option<&'a Value> {
    path.iter()
        .try_fold(value, |v, key| v.get(key))
        .filter(|v| !v.is_null())
}

fn percent(value: Option<&Value>) -> String {
    value
        .and_then(Value::as_f64)
        .map_or("—".to_string(), |v| format!("{:.1}%", v * 100.0))
}

fn render_version(viewer: &Viewer, data: &VersionPage) -> Markup {
    let base = crate::MOUNT;
    let detail = &data.detail;
    let s = &detail.summary;
    let report = &detail.report;
    let verdict = report.get("verdict").unwrap_or(&Value::Null);
    let reference = format!("{}@{}", s.name, s.version);
    let asked_of_me = viewer
        .role
        .reviewer()
        .filter(|kind| s.reviewers.contains(kind))
        .filter(|_| {
            matches!(
                s.stage,
                Stage::Candidate | Stage::Approved | Stage::Production
            )
        });
    let findings: Vec<(&Value, &Value)> =
        list_of(report.get("scan").unwrap_or(&Value::Null), "files")
            .iter()
            .flat_map(|file| {
                list_of(file, "findings")
                    .iter()
                    .map(move |finding| (file, finding))
            })
            .collect();
    let chart = eval_chart(&data.runs);
    page(
        &reference,
        Some(viewer),
        Nav::Catalogue,
        html! {
            h1 { (reference) " " (stage_badge(s.stage)) }
            dl.facts {
                dt { "Verdict" } dd class=(match s.decision.name() { "approved" => "ok", "rejected" => "bad", _ => "act-review" }) {
                    (s.decision.name())
                    @if !s.reviewers.is_empty() {
                        " — needs review by " (s.reviewers.iter().map(|r| r.name()).collect::<Vec<_>>().join(", "))
                    }
                }
                dt { "Format" } dd { (or_dash(s.format.as_deref())) " · " (or_dash(s.architecture.as_deref())) " · " (params(s.parameters)) " parameters · " (or_dash(s.quantization.as_deref())) }
                dt { "Size" } dd { (bytes(s.total_bytes)) " in " (s.n_files) " files" }
                dt { "Added" } dd { (s.added_at) " by " (s.added_by) }
                dt { "Stage" } dd { (s.stage.name()) " since " (s.stage_at) " by " (s.stage_by) @if let Some(note) = &detail.stage_note { " — " (note) } }
                dt { "Review by" } dd class=[s.review_due.then_some("bad")] { (or_dash(s.review_by.as_deref())) @if s.review_due { " (due)" } }
                dt { "Signature" } dd { (s.signature) @if let Some(signer) = &detail.signer { " by " (signer) } }
                dt { "Vetted from" } dd.mono { (detail.source_path) }
            }

            @if let Some(kind) = asked_of_me {
                h2 { "Your review (" (kind.name()) ")" }
                @let mine = data.reviews.iter().find(|r| r.reviewer == kind);
                @if let Some(review) = mine {
                    p { "You recorded: " strong { (review.outcome.name()) } " by " (review.by) " at " (review.at) @if let Some(note) = &review.note { " — " (note) } }
                }
                form.actions method="post" action=(format!("{base}/review")) {
                    (csrf_field(viewer))
                    input type="hidden" name="ref" value=(reference);
                    label { "Note (required to reject)" textarea name="note" {} }
                    button type="submit" name="outcome" value="signed-off" { "Sign off" }
                    button.danger type="submit" name="outcome" value="rejected" { "Reject" }
                }
            }
            @if viewer.role.is_admin() {
                h2 { "Decide" }
                (admin_actions(viewer, &reference, s.stage))
            }

            h2 { "Why: the verdict's reasons" }
            div.scroll { table {
                thead { tr { th { "Rule" } th { "Outcome" } th { "Reason" } th { "Evidence" } } }
                tbody { @for reason in list_of(verdict, "reasons") {
                    @let action = text_of(reason.get("action").unwrap_or(&Value::Null));
                    tr {
                        td.mono { (text_of(reason.get("rule").unwrap_or(&Value::Null))) }
                        td class=(format!("act-{action}")) { (action) @if let Some(r) = field(reason, &["reviewer"]) { " (" (text_of(r)) ")" } }
                        td { (text_of(reason.get("message").unwrap_or(&Value::Null))) }
                        td.mono { @for e in list_of(reason, "evidence") { (text_of(e)) br; } }
                    }
                } }
            } }

            h2 { "Reviews" }
            @if data.reviews.is_empty() { p.muted { "No review recorded." } } @else {
                table { thead { tr { th { "Review" } th { "Outcome" } th { "By" } th { "When" } th { "Note" } } }
                    tbody { @for review in &data.reviews { tr {
                        td { (review.reviewer.name()) }
                        td class=(if review.outcome == ReviewOutcome::Rejected { "bad" } else { "ok" }) { (review.outcome.name()) }
                        td { (review.by) } td { (review.at) } td { (or_dash(review.note.as_deref())) }
                    } } } }
            }

            h2 { "License" }
            @let license = report.get("license").unwrap_or(&Value::Null);
            @let terms = license.get("terms").unwrap_or(&Value::Null);
            dl.facts {
                dt { "License" } dd { (or_dash(detail.license_name.as_deref().or(s.license.as_deref()))) }
                dt { "Decided by" } dd.mono { (text_of(license.get("decided_by").unwrap_or(&Value::Null))) }
                dt { "Family" } dd { (text_of(terms.get("family").unwrap_or(&Value::Null))) }
                dt { "Commercial use" } dd { (text_of(terms.get("commercial").unwrap_or(&Value::Null))) }
                @if let Some(limit) = field(terms, &["monthly_active_users_limit"]) { dt { "User limit" } dd { (text_of(limit)) " monthly active users" } }
                @if let Some(summary) = field(terms, &["summary"]) { dt { "Summary" } dd { (text_of(summary)) } }
                @if let Some(url) = field(terms, &["source_url"]) { dt { "Text" } dd.mono { (text_of(url)) } }
            }
            @let obligations = list_of(verdict, "obligations");
            @if !obligations.is_empty() {
                p { strong { "Obligations" } }
                ul { @for o in obligations { li { (text_of(o)) } } }
            }
            @let evidence = list_of(terms, "evidence");
            @if !evidence.is_empty() {
                details { summary { "Quoted evidence (" (evidence.len()) ")" }
                    ul { @for e in evidence { li { strong { (text_of(e.get("field").unwrap_or(&Value::Null))) } ": “" (text_of(e.get("quote").unwrap_or(&Value::Null))) "”" } } }
                }
            }

            h2 { "Model card" }
            @let card = report.get("card").unwrap_or(&Value::Null);
            p { "Score " (text_of(card.get("score").unwrap_or(&Value::Null))) @if card.get("present") == Some(&Value::Bool(false)) { " — no card" } }
            @let considerations = card.get("considerations").unwrap_or(&Value::Null);
            dl.facts {
                @for (key, label) in [("use_cases", "Intended uses"), ("out_of_scope", "Out of scope"), ("limitations", "Limitations")] {
                    dt { (label) } dd { (or_dash(Some(text_of(considerations.get(key).unwrap_or(&Value::Null)).as_str()))) }
                }
            }
            @let gaps = list_of(card, "gaps");
            @if !gaps.is_empty() { ul { @for gap in gaps { li { (text_of(gap.get("message").unwrap_or(&Value::Null))) } } } }

            h2 { "Provenance" }
            @let provenance = report.get("provenance").unwrap_or(&Value::Null);
            table { thead { tr { th { "Fact" } th { "Value" } th { "Read from" } } }
                tbody {
                    @for key in ["name", "publisher", "source", "revision", "quantized_by"] {
                        @if let Some(fact) = field(provenance, &[key]) {
                            tr { td { (key) } td { (text_of(fact.get("value").unwrap_or(&Value::Null))) } td.mono { (text_of(fact.get("origin").unwrap_or(&Value::Null))) } }
                        }
                    }
                    @for key in ["base_models", "toolchain"] {
                        @for fact in list_of(provenance, key) {
                            tr { td { (key) } td { (text_of(fact.get("value").unwrap_or(&Value::Null))) } td.mono { (text_of(fact.get("origin").unwrap_or(&Value::Null))) } }
                        }
                    }
                }
            }
            @let conflicts = list_of(provenance, "conflicts");
            @if !conflicts.is_empty() { div.notice { "Conflicts: " @for c in conflicts { (text_of(c)) " " } } }

            h2 { "Security scan" }
            @if findings.is_empty() { p.ok { "No findings." } } @else {
                div.scroll { table { thead { tr { th { "Severity" } th { "Rule" } th { "Finding" } th { "Where" } th { "Evidence" } } }
                    tbody { @for (file, finding) in &findings {
                        @let severity = text_of(finding.get("severity").unwrap_or(&Value::Null));
                        tr {
                            td class=(format!("sev-{severity}")) { (severity) }
                            td.mono { (text_of(finding.get("rule").unwrap_or(&Value::Null))) }
                            td { (text_of(finding.get("message").unwrap_or(&Value::Null))) }
                            td.mono { (text_of(file.get("path").unwrap_or(&Value::Null))) br; (text_of(finding.get("location").unwrap_or(&Value::Null))) }
                            td.mono { (text_of(finding.get("evidence").unwrap_or(&Value::Null))) }
                        }
                    } } } }
            }

            h2 { "Files" }
            div.scroll { table { thead { tr { th { "Path" } th { "Size" } th { "SHA-256" } } }
                tbody { @for file in &detail.files { tr { td.mono { (file.path) } td { (bytes(file.size)) } td.mono { (file.sha256) } } } } } }

            @if !detail.variants.is_empty() {
                h2 { "Variants" }
                table { thead { tr { th { "Version" } th { "Quantization" } th { "Stage" } th { "Link" } } }
                    tbody { @for v in &detail.variants { tr {
                        td { a href=(version_link(&v.name, &v.version)) { (v.name) "@" (v.version) } }
                        td { (or_dash(v.quantization.as_deref())) } td { (stage_badge(v.stage)) } td { (v.link) }
                    } } } }
            }

            h2 { "Evaluation runs" }
            @if data.runs.is_empty() { p.muted { "No stored run. Run " code { "modelgate eval " (reference) " --suite FILE" } "." } } @else {
                @if let Some(svg) = &chart { div.charts { figure { (PreEscaped(svg)) } } }
                div.scroll { table { thead { tr { th { "Run" } th { "Suite" } th { "Kind" } th { "Pass rate" } th { "Accuracy" } th { "Threshold" } th { "When" } } }
                    tbody { @for run in &data.runs { tr {
                        td { (run.id) } td { (run.suite_name) } td { (run.kind.name()) }
                        td { (percent(run.summary.get("pass_rate"))) }
                        td { @if let Some(acc) = field(&run.summary, &["acc_norm"]) { "acc_norm " (percent(Some(acc))) } @else if let Some(ppl) = field(&run.summary, &["perplexity"]) { "ppl " (text_of(ppl)) } @else { "—" } }
                        td class=(match run.threshold_met { Some(true) => "ok", Some(false) => "bad", None => "" }) { (match run.threshold_met { Some(true) => "met", Some(false) => "not met", None => "none" }) }
                        td { (run.recorded_at) " by " (run.recorded_by) }
                    } } } } }
            }

            h2 { "Teams using it" }
            @if detail.assignments.is_empty() { p.muted { "None." } } @else {
                ul { @for a in &detail.assignments { li { strong { (a.team) } ": " (a.purpose) span.muted { " (since " (a.assigned_at) ")" } } } }
            }

            h2 { "Stage history" }
            table { thead { tr { th { "When" } th { "From" } th { "To" } th { "By" } th { "Note" } th { "Sign-offs" } } }
                tbody { @for change in &detail.history { tr {
                    td { (change.at) } td { @if let Some(from) = change.from { (from.name()) } @else { "—" } } td { (change.to.name()) }
                    td { (change.by) } td { (or_dash(change.note.as_deref())) @if change.override_verdict { " (override)" } }
                    td { @for so in &change.sign_offs { (so.reviewer.name()) "=" (so.by) " " } }
                } } } }
            p { a href=(format!("{base}/audit?subject={}", encode(&reference))) { "Every audit event about " (reference) } }
        },
    )
}

fn eval_chart(runs: &[modelgate_inventory::EvalRunSummary]) -> Option<String> {
    let bars: Vec<(String, f64)> = runs
        .iter()
        .rev()
        .take(20)
        .filter_map(|run| {
            let rate = run.summary.get("pass_rate")?.as_f64()?;
            Some((format!("#{} {}", run.id, run.suite_name), rate * 100.0))
        })
        .collect();
    if bars.is_empty() {
        return None;
    }
    modelgate_chart::bar_chart("Pass rate (%) of stored runs", &bars).ok()
}

fn admin_actions(viewer: &Viewer, reference: &str, stage: Stage) -> Markup {
    let base = crate::MOUNT;
    let action = |name: &str, label: &str, help: &str, extra: Markup| {
        html! {
            form method="post" action=(format!("{base}/stage")) {
                (csrf_field(viewer))
                input type="hidden" name="ref" value=(reference);
                input type="hidden" name="action" value=(name);
                p { strong { (label) } br; span.muted { (help) } }
                (extra)
                label { "Note" textarea name="note" {} }
                button type="submit" { (label) }
            }
        }
    };
    html! {
        div.actions {
            @if matches!(stage, Stage::Candidate | Stage::Approved | Stage::Production) {
                (action("approve", if stage == Stage::Candidate { "Approve" } else { "Re-review" },
                    "Uses the recorded reviews as sign-offs.",
                    html! {
                        label { "Review by (YYYY-MM-DD, default a year)" input type="text" name="review_by"; }
                        label { input type="checkbox" name="override" value="on"; " Override the verdict (say why in the note)" }
                    }))
            }
            @if stage == Stage::Approved {
                (action("promote", "Promote to production", "Needs the evaluations the policy names.",
                    html! { label { input type="checkbox" name="override" value="on"; " Override missing evaluations (say why)" } }))
            }
            @if matches!(stage, Stage::Approved | Stage::Production) {
                (action("deprecate", "Deprecate", "Teams should move off it.", html! {}))
            }
            @if stage != Stage::Revoked {
                form method="get" action=(format!("{base}/revoke")) {
                    input type="hidden" name="ref" value=(reference);
                    p { strong { "Revoke" } br; span.muted { "Stops it everywhere; shows the teams affected first." } }
                    button.danger type="submit" { "Revoke…" }
                }
            }
        }
    }
}
