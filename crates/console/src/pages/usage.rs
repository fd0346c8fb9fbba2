//! Usage by team, model and day (tables and SVG charts), and API keys:
//! listed for everyone, created (the secret shown once) and revoked by
//! admins.

use super::*;

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub(crate) struct UsageParams {
    days: Option<i64>,
}

pub(crate) async fn usage(
    State(console): State<Arc<Console>>,
    headers: HeaderMap,
    Query(params_): Query<UsageParams>,
) -> Result<Markup> {
    let base = crate::MOUNT;
    let viewer = viewer(&console, &headers, &format!("{base}/usage")).await?;
    let days = params_.days.unwrap_or(30).clamp(1, 366);
    let since = Date::today().add_days(1 - days);
    let reports = console
        .with_store(
            move |store| -> std::result::Result<_, modelgate_inventory::Error> {
                let mut out = Vec::new();
                for by in [UsageGroup::Team, UsageGroup::Model, UsageGroup::Day] {
                    out.push(store.usage_report(&UsageQuery {
                        since: Some(since),
                        by,
                        ..UsageQuery::default()
                    })?);
                }
                Ok(out)
            },
        )
        .await??;
    let [by_team, by_model, by_day] = <[Vec<modelgate_inventory::UsageRow>; 3]>::try_from(reports)
        .map_err(|_| PageError::internal("usage reports missing".to_string()))?;
    let chart = |title: &str,
                 rows: &[modelgate_inventory::UsageRow],
                 value: &dyn Fn(&modelgate_inventory::UsageRow) -> f64| {
        let bars: Vec<(String, f64)> = rows
            .iter()
            .take(40)
            .map(|r| (r.group.clone(), value(r)))
            .collect();
        if bars.is_empty() {
            None
        } else {
            modelgate_chart::bar_chart(title, &bars).ok()
        }
    };
    let charts: Vec<String> = [
        chart("Requests by team", &by_team, &|r| r.requests as f64),
        chart("Cost (USD) by model", &by_model, &|r| {
            r.cost_micro_usd as f64 / 1e6
        }),
        chart("Tokens by day", &by_day, &|r| {
            (r.tokens_in + r.tokens_out) as f64
        }),
        chart("Latency p95 (ms) by model", &by_model, &|r| {
            r.latency_p95_ms.unwrap_or(0) as f64
        }),
    ]
    .into_iter()
    .flatten()
    .collect();
    let table = |title: &str, rows: &[modelgate_inventory::UsageRow]| {
        html! {
            h2 { (title) }
            div.scroll { table {
                thead { tr { th { "Group" } th { "Requests" } th { "Errors" } th { "Tokens in" } th { "Tokens out" } th { "Cost (USD)" } th { "p50 ms" } th { "p95 ms" } } }
                tbody { @for r in rows { tr {
                    td { (r.group) } td { (r.requests) } td { (r.errors) } td { (r.tokens_in) } td { (r.tokens_out) }
                    td { (format!("{:.4}", r.cost_micro_usd as f64 / 1e6)) }
                    td { (r.latency_p50_ms.map_or("—".into(), |v| v.to_string())) } td { (r.latency_p95_ms.map_or("—".into(), |v| v.to_string())) }
                } } }
            } }
        }
    };
    Ok(page(
        "Usage",
        Some(&viewer),
        Nav::Usage,
        html! {
            h1 { "Usage, last " (days) " days" }
            p.muted { "From the gateway's usage records (" code { "modelgate usage" } " reads the same)." }
            @if charts.is_empty() { p.muted { "No request recorded in this period." } } @else {
                div.charts { @for svg in &charts { figure { (PreEscaped(svg)) } } }
            }
            (table("By team", &by_team))
            (table("By model", &by_model))
            (table("By day", &by_day))
        },
    ))
}

pub(crate) async fn keys(
    State(console): State<Arc<Console>>,
    headers: HeaderMap,
) -> Result<Markup> {
    let base = crate::MOUNT;
    let viewer = viewer(&console, &headers, &format!("{base}/keys")).await?;
    let keys = console.with_store(|store| store.keys(None, true)).await??;
    Ok(render_keys(&viewer, &keys, None))
}

fn render_keys(
    viewer: &Viewer,
    keys: &[modelgate_inventory::KeyRecord],
    issued: Option<(&str, &str)>,
) -> Markup {
    let base = crate::MOUNT;
    let today = Date::today();
    page(
        "Keys",
        Some(viewer),
        Nav::Keys,
        html! {
            h1 { "API keys" }
            @if let Some((id, secret)) = issued {
                div.notice {
                    p { strong { "Key " (id) " was created. Copy it now: it is shown this once and only its hash is kept." } }
                    div.secret { (secret) }
                }
            }
            @if viewer.role.is_admin() {
                form.filters method="post" action=(format!("{base}/keys/create")) {
                    (csrf_field(viewer))
                    label { "Team" input type="text" name="team" required; }
                    label { "Name" input type="text" name="name"; }
                    label { "Data class" select name="data_class" {
                        @for class in ["public", "internal", "confidential", "restricted"] { option value=(class) selected[class == "internal"] { (class) } }
                    } }
                    button type="submit" { "Create key" }
                }
            }
            div.scroll { table {
                thead { tr { th { "Id" } th { "Team" } th { "Name" } th { "Data class" } th { "Status" } th { "Created" } @if viewer.role.is_admin() { th { "" } } } }
                tbody { @for key in keys { tr {
                    td.mono { (key.id) } td { (key.team) } td { (or_dash(key.name.as_deref())) } td { (key.data_class.name()) }
                    td { (key.status(today).name()) } td { (key.created_at.as_str()) " by " (key.created_by) }
                    @if viewer.role.is_admin() { td {
                        @if key.revoked.is_none() {
                            form method="post" action=(format!("{base}/keys/revoke")) {
                                (csrf_field(viewer))
                                input type="hidden" name="id" value=(key.id);
                                input type="text" name="reason" placeholder="reason" required;
                                button.danger type="submit" { "Revoke" }
                            }
                        }
                    } }
                } } }
            } }
        },
    )
}

#[derive(Deserialize)]
pub(crate) struct CreateKeyForm {
    #[serde(default)]
    csrf: String,
    #[serde(default)]
    team: String,
    #[serde(default)]
    name: String,
    #[serde(default)]
    data_class: String,
}

pub(crate) async fn create_key(
    State(console): State<Arc<Console>>,
    headers: HeaderMap,
    Form(form): Form<CreateKeyForm>,
) -> Result<Response> {
    let viewer = form_viewer(&console, &headers, "/keys", &form.csrf).await?;
    require_admin(&viewer, "create an API key")?;
    let data_class: DataClass = form
        .data_class
        .parse()
        .map_err(|e: modelgate_inventory::Error| PageError::bad_request(e.to_string()))?;
    let mut new = NewKey::new(form.team.trim());
    new.name = Some(form.name.trim().to_string()).filter(|n| !n.is_empty());
    new.data_class = data_class;
    let by = viewer.name.clone();
    let (issued, keys) = console
        .change(
            move |store| -> std::result::Result<_, modelgate_inventory::Error> {
                let issued = store.create_key(&new, &by)?;
                Ok((issued, store.keys(None, true)?))
            },
        )
        .await??;
    let body = render_keys(
        &viewer,
        &keys,
        Some((&issued.record.id, issued.secret.expose())),
    );
    Ok((StatusCode::CREATED, body).into_response())
}

#[derive(Deserialize)]
pub(crate) struct RevokeKeyForm {
    #[serde(default)]
    csrf: String,
    #[serde(default)]
    id: String,
    #[serde(default)]
    reason: String,
}

pub(crate) async fn revoke_key(
    State(console): State<Arc<Console>>,
    headers: HeaderMap,
    Form(form): Form<RevokeKeyForm>,
) -> Result<Response> {
    let base = crate::MOUNT;
    let viewer = form_viewer(&console, &headers, "/keys", &form.csrf).await?;
    require_admin(&viewer, "revoke an API key")?;
    let by = viewer.name.clone();
    console
        .change(move |store| store.revoke_key(&form.id, &by, &form.reason).map(|_| ()))
        .await??;
    Ok(Redirect::to(&format!("{base}/keys")).into_response())
}
