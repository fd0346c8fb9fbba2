//! The console's handlers: who is asking (session → user → role), what
//! they may do, the inventory call, and the page. Reads run on a blocking
//! thread with the inventory; every change is the inventory function the
//! CLI calls, with the signed-in user as the actor.

use std::collections::BTreeSet;
use std::net::SocketAddr;
use std::sync::Arc;

use axum::Form;
use axum::extract::{ConnectInfo, Query, Request, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Redirect, Response};
use maud::{Markup, PreEscaped, html};
use modelgate_inventory::{
    Approval, AuditReport, CatalogueEntry, DataClass, Date, EvalRunFilter, EventQuery, NewKey,
    NewReview, Promotion, ReviewOutcome, Stage, Store, UsageGroup, UsageQuery, VersionRef,
};
use serde::Deserialize;
use serde_json::Value;

use crate::auth::{self, LOGIN_CSRF_COOKIE, SESSION_COOKIE};
use crate::views::{
    Nav, Viewer, bytes, csrf_field, encode, or_dash, page, params, stage_badge, version_link,
};
use crate::{Console, views};

/// Rows on one catalogue page.
pub(crate) const CATALOGUE_PAGE: usize = 50;

/// Events on one audit page.
pub(crate) const AUDIT_PAGE: usize = 100;

pub(crate) type Result<T> = std::result::Result<T, PageError>;

/// Why a page could not be shown.
#[derive(Debug)]
pub(crate) enum PageError {
    /// Not signed in: go to the sign-in page, then back.
    SignIn { next: String },
    /// A refusal or failure with its status and a message for people.
    Status(StatusCode, String),
}

impl PageError {
    pub(crate) fn internal(message: String) -> PageError {
        tracing::error!(%message, "console error");
        PageError::Status(StatusCode::INTERNAL_SERVER_ERROR, message)
    }

    fn forbidden(message: impl Into<String>) -> PageError {
        PageError::Status(StatusCode::FORBIDDEN, message.into())
    }

    fn bad_request(message: impl Into<String>) -> PageError {
        PageError::Status(StatusCode::BAD_REQUEST, message.into())
    }
}

impl From<modelgate_inventory::Error> for PageError {
    fn from(error: modelgate_inventory::Error) -> PageError {
        use modelgate_inventory::Error as E;
        match error {
            E::Database { .. }
            | E::Open { .. }
            | E::Corrupt { .. }
            | E::Blob { .. }
            | E::Migration { .. }
            | E::SchemaTooNew { .. }
            | E::CreateHome { .. } => PageError::internal(error.to_string()),
            E::UnknownVersion { .. } | E::UnknownKey { .. } | E::UnknownUser { .. } => {
                PageError::Status(StatusCode::NOT_FOUND, error.to_string())
            }
            // Every other variant is a refusal of what was asked, worded
            // for the person who asked it.
            other => PageError::Status(StatusCode::CONFLICT, other.to_string()),
        }
    }
}

impl IntoResponse for PageError {
    fn into_response(self) -> Response {
        match self {
            PageError::SignIn { next } => Redirect::to(&next).into_response(),
            PageError::Status(status, message) => {
                let title = status.canonical_reason().unwrap_or("Error");
                let body = page(
                    crate::MOUNT,
                    title,
                    None,
                    Nav::None,
                    html! {
                        h1 { (status.as_u16()) " " (title) }
                        div.error { (message) }
                        p { a href=(format!("{}/catalogue", crate::MOUNT)) { "Back to the catalogue" } }
                    },
                );
                (status, body).into_response()
            }
        }
    }
}

// ---------------------------------------------------------------------------
// Who is asking

/// The signed-in viewer, or a redirect to the sign-in page.
async fn viewer(console: &Arc<Console>, headers: &HeaderMap, uri_path: &str) -> Result<Viewer> {
    let base = crate::MOUNT.to_string();
    let sign_in = || PageError::SignIn {
        next: format!("{base}/login?next={}", encode(uri_path)),
    };
    let cookies = headers
        .get(header::COOKIE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("");
    let Some(id) = auth::cookie(cookies, SESSION_COOKIE) else {
        return Err(sign_in());
    };
    let Some(session) = console.sessions.get(id) else {
        return Err(sign_in());
    };
    let name = session.user.clone();
    let user = console.with_store(move |store| store.user(&name)).await??;
    match user {
        Some(user) if user.disabled_at.is_none() => Ok(Viewer {
            name: user.name,
            role: user.role,
            csrf: session.csrf,
        }),
        _ => {
            console.sessions.end(id);
            Err(sign_in())
        }
    }
}

/// A form's CSRF token must be the session's.
fn check_csrf(viewer: &Viewer, given: &str) -> Result<()> {
    if auth::tokens_match(&viewer.csrf, given) {
        Ok(())
    } else {
        Err(PageError::forbidden(
            "the form's CSRF token is missing or wrong (the page is old, or the form came from another site): reload the page and try again",
        ))
    }
}

fn require_admin(viewer: &Viewer, doing: &str) -> Result<()> {
    if viewer.role.is_admin() {
        Ok(())
    } else {
        Err(PageError::forbidden(format!(
            "only an admin may {doing}; you are signed in as {} ({})",
            viewer.name,
            viewer.role.name()
        )))
    }
}

fn parse_ref(text: &str) -> Result<VersionRef> {
    text.parse::<VersionRef>().map_err(|_| {
        PageError::bad_request(format!("{text:?} is not a version: give NAME@VERSION"))
    })
}

// ---------------------------------------------------------------------------
// Headers every response carries

/// Security headers on every console response: a Content-Security-Policy
/// that allows scripts and styles only from the console's own files (htmx
/// and the style sheet), nothing inline, no frames;
/// no sniffing; no caching of pages that show inventory data.
pub(crate) async fn security_headers(request: Request, next: Next) -> Response {
    let mut response = next.run(request).await;
    let headers = response.headers_mut();
    headers.insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static(
            "default-src 'none'; script-src 'self'; connect-src 'self'; style-src 'self'; img-src 'self' data:; form-action 'self'; frame-ancestors 'none'; base-uri 'none'",
        ),
    );
    headers.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    headers.insert(
        header::REFERRER_POLICY,
        HeaderValue::from_static("same-origin"),
    );
    headers
        .entry(header::CACHE_CONTROL)
        .or_insert(HeaderValue::from_static("no-store"));
    response
}

pub(crate) async fn style() -> Response {
    (
        [
            (header::CONTENT_TYPE, "text/css; charset=utf-8"),
            (header::CACHE_CONTROL, "public, max-age=3600"),
        ],
        views::STYLE,
    )
        .into_response()
}

/// htmx, vendored (`assets/README.md`).
const HTMX: &str = include_str!("../assets/htmx-2.0.4.min.js");

pub(crate) async fn htmx() -> Response {
    (
        [
            (header::CONTENT_TYPE, "text/javascript; charset=utf-8"),
            (header::CACHE_CONTROL, "public, max-age=86400"),
        ],
        HTMX,
    )
        .into_response()
}

pub(crate) async fn not_found() -> PageError {
    PageError::Status(
        StatusCode::NOT_FOUND,
        "no such page; the console's pages are the catalogue, reviews, audit, usage and keys"
            .to_string(),
    )
}

pub(crate) async fn home() -> Redirect {
    Redirect::to(&format!("{}/catalogue", crate::MOUNT))
}

// ---------------------------------------------------------------------------
// Signing in and out

/// The client's address, when the server recorded it (`ConnectInfo`).
pub(crate) struct ClientAddr(Option<std::net::IpAddr>);

impl<S: Send + Sync> axum::extract::FromRequestParts<S> for ClientAddr {
    type Rejection = std::convert::Infallible;

    async fn from_request_parts(
        parts: &mut axum::http::request::Parts,
        _state: &S,
    ) -> std::result::Result<ClientAddr, Self::Rejection> {
        Ok(ClientAddr(
            parts
                .extensions
                .get::<ConnectInfo<SocketAddr>>()
                .map(|ConnectInfo(addr)| addr.ip()),
        ))
    }
}

#[derive(Debug, Deserialize)]
pub(crate) struct NextQuery {
    #[serde(default)]
    next: String,
}

/// Only a path inside the console is a place to go back to.
fn safe_next(base: &str, next: &str) -> String {
    let inside = next.starts_with(&format!("{base}/"))
        && !next.contains("//")
        && !next.contains('\\')
        && !next.chars().any(char::is_control);
    if inside {
        next.to_string()
    } else {
        format!("{base}/catalogue")
    }
}

fn cookie_header(console: &Console, name: &str, value: &str, max_age: Option<u64>) -> String {
    let secure = if console.config.secure_cookies {
        "; Secure"
    } else {
        ""
    };
    let age = max_age.map_or(String::new(), |age| format!("; Max-Age={age}"));
    format!(
        "{name}={value}; Path={}; HttpOnly; SameSite=Strict{secure}{age}",
        crate::MOUNT
    )
}

fn login_page(token: &str, next: &str, message: Option<&str>) -> Markup {
    let base = crate::MOUNT;
    page(
        base,
        "Sign in",
        None,
        Nav::None,
        html! {
            h1 { "Sign in" }
            @if let Some(message) = message { div.error { (message) } }
            form.filters method="post" action=(format!("{base}/login")) {
                input type="hidden" name="csrf" value=(token);
                input type="hidden" name="next" value=(next);
                label { "User name" input type="text" name="user" autocomplete="username" required; }
                label { "Password" input type="password" name="password" autocomplete="current-password" required; }
                button type="submit" { "Sign in" }
            }
            p.muted { "Accounts are made with " code { "modelgate users add NAME --role ROLE" } "." }
        },
    )
}

pub(crate) async fn login_form(
    State(console): State<Arc<Console>>,
    Query(query): Query<NextQuery>,
) -> Result<Response> {
    let token = auth::random_token().map_err(|e| PageError::internal(e.to_string()))?;
    let next = safe_next(crate::MOUNT, &query.next);
    let set = cookie_header(&console, LOGIN_CSRF_COOKIE, &token, Some(3600));
    Ok(([(header::SET_COOKIE, set)], login_page(&token, &next, None)).into_response())
}

#[derive(Deserialize)]
pub(crate) struct LoginForm {
    #[serde(default)]
    user: String,
    #[serde(default)]
    password: String,
    #[serde(default)]
    csrf: String,
    #[serde(default)]
    next: String,
}

pub(crate) async fn login(
    State(console): State<Arc<Console>>,
    ClientAddr(address): ClientAddr,
    headers: HeaderMap,
    Form(form): Form<LoginForm>,
) -> Result<Response> {
    let cookies = headers
        .get(header::COOKIE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("");
    let expected = auth::cookie(cookies, LOGIN_CSRF_COOKIE).unwrap_or("");
    if expected.is_empty() || !auth::tokens_match(expected, &form.csrf) {
        return Err(PageError::forbidden(
            "the sign-in form's CSRF token is missing or wrong: open the sign-in page again",
        ));
    }
    let next = safe_next(crate::MOUNT, &form.next);
    let user_name = form.user.trim().to_string();
    if !console.logins.allowed(&user_name, address) {
        let body = login_page(
            expected,
            &next,
            Some(
                "Too many failed sign-ins for this user or from this address: wait 15 minutes and try again.",
            ),
        );
        return Ok((StatusCode::TOO_MANY_REQUESTS, body).into_response());
    }
    let lookup = user_name.clone();
    let password = form.password;
    let verified = console
        .with_store(
            move |store| -> std::result::Result<bool, modelgate_inventory::Error> {
                let user = store.user(&lookup)?;
                Ok(match user {
                    Some(user) if user.disabled_at.is_none() => {
                        auth::verify_password(&user.password_hash, &password)
                    }
                    // The same work for an unknown or disabled user.
                    _ => {
                        auth::verify_password(auth::decoy_hash(), &password);
                        false
                    }
                })
            },
        )
        .await??;
    if !verified {
        console.logins.failed(&user_name, address);
        tracing::warn!(user = %user_name, ?address, "console sign-in failed");
        let body = login_page(expected, &next, Some("Wrong user name or password."));
        return Ok((StatusCode::UNAUTHORIZED, body).into_response());
    }
    console.logins.succeeded(&user_name);
    let (id, _) = console
        .sessions
        .start(&user_name)
        .map_err(|e| PageError::internal(e.to_string()))?;
    let mut response = Redirect::to(&next).into_response();
    let headers = response.headers_mut();
    for value in [
        cookie_header(&console, SESSION_COOKIE, &id, None),
        cookie_header(&console, LOGIN_CSRF_COOKIE, "", Some(0)),
    ] {
        if let Ok(value) = HeaderValue::from_str(&value) {
            headers.append(header::SET_COOKIE, value);
        }
    }
    Ok(response)
}

#[derive(Deserialize)]
pub(crate) struct CsrfForm {
    #[serde(default)]
    csrf: String,
}

pub(crate) async fn logout(
    State(console): State<Arc<Console>>,
    headers: HeaderMap,
    Form(form): Form<CsrfForm>,
) -> Result<Response> {
    let viewer = viewer(&console, &headers, "/").await?;
    check_csrf(&viewer, &form.csrf)?;
    if let Some(id) = headers
        .get(header::COOKIE)
        .and_then(|v| v.to_str().ok())
        .and_then(|c| auth::cookie(c, SESSION_COOKIE))
    {
        console.sessions.end(id);
    }
    let mut response = Redirect::to(&format!("{}/login", crate::MOUNT)).into_response();
    if let Ok(value) = HeaderValue::from_str(&cookie_header(&console, SESSION_COOKIE, "", Some(0)))
    {
        response.headers_mut().insert(header::SET_COOKIE, value);
    }
    Ok(response)
}

// ---------------------------------------------------------------------------
// Catalogue

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

fn matches(entry: &CatalogueEntry, query: &CatalogueQuery, needle: &str) -> bool {
    let same = |wanted: &str, value: Option<&str>| {
        wanted.is_empty() || value.is_some_and(|v| v.eq_ignore_ascii_case(wanted))
    };
    let summary = &entry.summary;
    let text_match = needle.is_empty()
        || [
            Some(summary.name.as_str()),
            Some(summary.version.as_str()),
            summary.architecture.as_deref(),
            entry.purpose.as_deref(),
            summary.license.as_deref(),
        ]
        .into_iter()
        .flatten()
        .any(|field| field.to_lowercase().contains(needle));
    text_match
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
    Ok(render_catalogue(crate::MOUNT, &viewer, &entries, &query))
}

pub(crate) fn render_catalogue(
    base: &str,
    viewer: &Viewer,
    entries: &[CatalogueEntry],
    query: &CatalogueQuery,
) -> Markup {
    let mut facets: [BTreeSet<String>; 5] = Default::default();
    for entry in entries {
        let [license, commercial, task, quant, team] = &mut facets;
        license.extend(entry.license_family.clone());
        commercial.extend(entry.commercial.clone());
        task.extend(entry.task.clone());
        quant.extend(entry.summary.quantization.clone());
        team.extend(entry.teams.iter().cloned());
    }
    let needle = query.q.trim().to_lowercase();
    let found: Vec<&CatalogueEntry> = entries
        .iter()
        .filter(|entry| matches(entry, query, &needle))
        .collect();
    let pages = found.len().div_ceil(CATALOGUE_PAGE).max(1);
    let current = query.page.min(pages - 1);
    let shown = found
        .iter()
        .skip(current * CATALOGUE_PAGE)
        .take(CATALOGUE_PAGE);
    let [licenses, commercial, tasks, quants, teams] = &facets;
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
        base,
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
                                td { a href=(version_link(base, &s.name, &s.version)) { (s.name) "@" (s.version) } }
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

// ---------------------------------------------------------------------------
// Version

#[derive(Debug, Deserialize)]
pub(crate) struct RefQuery {
    #[serde(rename = "ref", default)]
    reference: String,
}

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
    Ok(render_version(crate::MOUNT, &viewer, &data))
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

fn render_version(base: &str, viewer: &Viewer, data: &VersionPage) -> Markup {
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
        base,
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
                (admin_actions(base, viewer, &reference, s.stage))
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
                        td { a href=(version_link(base, &v.name, &v.version)) { (v.name) "@" (v.version) } }
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

fn admin_actions(base: &str, viewer: &Viewer, reference: &str, stage: Stage) -> Markup {
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

// ---------------------------------------------------------------------------
// Changes

#[derive(Deserialize)]
pub(crate) struct ReviewForm {
    #[serde(default)]
    csrf: String,
    #[serde(rename = "ref", default)]
    reference: String,
    #[serde(default)]
    outcome: String,
    #[serde(default)]
    note: String,
}

pub(crate) async fn review(
    State(console): State<Arc<Console>>,
    headers: HeaderMap,
    Form(form): Form<ReviewForm>,
) -> Result<Response> {
    let viewer = viewer(&console, &headers, &format!("{}/queue", crate::MOUNT)).await?;
    check_csrf(&viewer, &form.csrf)?;
    let reference = parse_ref(&form.reference)?;
    let Some(kind) = viewer.role.reviewer() else {
        return Err(PageError::forbidden(format!(
            "only a reviewer signs off a review; you are {} ({})",
            viewer.name,
            viewer.role.name()
        )));
    };
    let outcome = match form.outcome.as_str() {
        "signed-off" => ReviewOutcome::SignedOff,
        "rejected" => ReviewOutcome::Rejected,
        other => {
            return Err(PageError::bad_request(format!(
                "{other:?} is not an outcome: signed-off or rejected"
            )));
        }
    };
    let review = NewReview {
        reviewer: kind,
        outcome,
        by: viewer.name.clone(),
        note: Some(form.note),
    };
    let target = reference.clone();
    console
        .with_store(move |store| store.review(&target, &review))
        .await??;
    Ok(Redirect::to(&version_link(
        crate::MOUNT,
        &reference.name,
        &reference.version,
    ))
    .into_response())
}

#[derive(Deserialize)]
pub(crate) struct StageForm {
    #[serde(default)]
    csrf: String,
    #[serde(rename = "ref", default)]
    reference: String,
    #[serde(default)]
    action: String,
    #[serde(default)]
    note: String,
    #[serde(default, rename = "override")]
    override_: String,
    #[serde(default)]
    review_by: String,
}

pub(crate) async fn stage(
    State(console): State<Arc<Console>>,
    headers: HeaderMap,
    Form(form): Form<StageForm>,
) -> Result<Response> {
    let viewer = viewer(&console, &headers, &format!("{}/queue", crate::MOUNT)).await?;
    check_csrf(&viewer, &form.csrf)?;
    require_admin(&viewer, &format!("{} a version", form.action))?;
    let reference = parse_ref(&form.reference)?;
    let note = Some(form.note.clone()).filter(|n| !n.trim().is_empty());
    let override_ = form.override_ == "on";
    let by = viewer.name.clone();
    let target = reference.clone();
    match form.action.as_str() {
        "approve" => {
            let review_by = match form.review_by.trim() {
                "" => None,
                text => Some(text.parse::<Date>().map_err(|_| {
                    PageError::bad_request(format!("review-by date {text:?} is not YYYY-MM-DD"))
                })?),
            };
            let approval = Approval {
                by,
                review_by,
                note,
                override_verdict: override_,
                sign_offs: Vec::new(),
            };
            console
                .with_store(move |store| store.approve(&target, &approval).map(|_| ()))
                .await??;
        }
        "promote" => {
            let promotion = Promotion {
                by,
                note,
                evaluation: console.config.evaluation.clone(),
                override_evaluation: override_,
            };
            console
                .with_store(move |store| store.promote_with(&target, &promotion).map(|_| ()))
                .await??;
        }
        "deprecate" => {
            console
                .with_store(move |store| store.deprecate(&target, &by, note.as_deref()).map(|_| ()))
                .await??;
        }
        other => {
            return Err(PageError::bad_request(format!(
                "{other:?} is not a stage change: approve, promote or deprecate (revoke has its own page)"
            )));
        }
    }
    Ok(Redirect::to(&version_link(
        crate::MOUNT,
        &reference.name,
        &reference.version,
    ))
    .into_response())
}

pub(crate) async fn revoke_confirm(
    State(console): State<Arc<Console>>,
    headers: HeaderMap,
    Query(query): Query<RefQuery>,
) -> Result<Markup> {
    let base = crate::MOUNT.to_string();
    let viewer = viewer(&console, &headers, &format!("{base}/catalogue")).await?;
    require_admin(&viewer, "revoke a version")?;
    let reference = parse_ref(&query.reference)?;
    let target = reference.clone();
    let detail = console
        .with_store(move |store| store.version(&target))
        .await??;
    let text = reference.to_string();
    Ok(page(
        &base,
        "Revoke",
        Some(&viewer),
        Nav::None,
        html! {
            h1 { "Revoke " (text) "?" }
            @if detail.assignments.is_empty() {
                p { "No team is recorded as using it." }
            } @else {
                div.notice {
                    p { strong { (detail.assignments.len()) " team(s) use it and must stop:" } }
                    ul { @for a in &detail.assignments { li { strong { (a.team) } ": " (a.purpose) } } }
                }
            }
            p { "A revoked version is unloaded by every server within one poll and can never be approved again." }
            form method="post" action=(format!("{base}/revoke")) {
                (csrf_field(&viewer))
                input type="hidden" name="ref" value=(text);
                label { "Reason (required)" textarea name="reason" required {} }
                button.danger type="submit" { "Revoke " (text) }
                " "
                a href=(version_link(&base, &reference.name, &reference.version)) { "Cancel" }
            }
        },
    ))
}

#[derive(Deserialize)]
pub(crate) struct RevokeForm {
    #[serde(default)]
    csrf: String,
    #[serde(rename = "ref", default)]
    reference: String,
    #[serde(default)]
    reason: String,
}

pub(crate) async fn revoke(
    State(console): State<Arc<Console>>,
    headers: HeaderMap,
    Form(form): Form<RevokeForm>,
) -> Result<Response> {
    let viewer = viewer(&console, &headers, &format!("{}/catalogue", crate::MOUNT)).await?;
    check_csrf(&viewer, &form.csrf)?;
    require_admin(&viewer, "revoke a version")?;
    let reference = parse_ref(&form.reference)?;
    let target = reference.clone();
    let by = viewer.name.clone();
    console
        .with_store(move |store| store.revoke(&target, &by, &form.reason).map(|_| ()))
        .await??;
    Ok(Redirect::to(&version_link(
        crate::MOUNT,
        &reference.name,
        &reference.version,
    ))
    .into_response())
}

// ---------------------------------------------------------------------------
// Review queue

pub(crate) async fn queue(
    State(console): State<Arc<Console>>,
    headers: HeaderMap,
) -> Result<Markup> {
    let base = crate::MOUNT.to_string();
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
        &base,
        "Reviews",
        Some(&viewer),
        Nav::Queue,
        html! {
            h1 { (heading) }
            @if waiting.is_empty() { p.muted { "Nothing waits for review." } } @else {
                div.scroll { table { thead { tr { th { "Version" } th { "Needs" } th { "Recorded" } th { "Added" } th { "License" } } }
                    tbody { @for (s, reviews) in &waiting { tr {
                        td { a href=(version_link(&base, &s.name, &s.version)) { (s.name) "@" (s.version) } }
                        td { (s.reviewers.iter().map(|r| r.name()).collect::<Vec<_>>().join(", ")) }
                        td { @for r in reviews { (r.reviewer.name()) ": " (r.outcome.name()) " " } }
                        td { (s.added_at) } td { (or_dash(s.license.as_deref())) }
                    } } } } }
            }
            @if viewer.role.is_admin() {
                h2 { "Candidates without open reviews" }
                @if ready.is_empty() { p.muted { "None." } } @else {
                    ul { @for s in &ready { li { a href=(version_link(&base, &s.name, &s.version)) { (s.name) "@" (s.version) } " — verdict " (s.decision.name()) } } }
                }
            }
            h2 { "Review date has come" }
            @if due.is_empty() { p.muted { "None." } } @else {
                ul { @for s in &due { li { a href=(version_link(&base, &s.name, &s.version)) { (s.name) "@" (s.version) } " — review by " (or_dash(s.review_by.as_deref())) } } }
            }
        },
    ))
}

// ---------------------------------------------------------------------------
// Audit

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
    let base = crate::MOUNT.to_string();
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
    Ok(render_audit(
        &base, &viewer, &query, &events, total, &report,
    ))
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
    base: &str,
    viewer: &Viewer,
    query: &AuditQuery,
    events: &[modelgate_inventory::Event],
    total: u64,
    report: &AuditReport,
) -> Markup {
    let next = events
        .last()
        .map(|e| e.seq)
        .filter(|_| events.len() == AUDIT_PAGE);
    page(
        base,
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

/// At most `max` characters of `text`, with an ellipsis when cut.
fn cut(text: &str, max: usize) -> String {
    if text.chars().count() > max {
        let mut out: String = text.chars().take(max).collect();
        out.push('…');
        out
    } else {
        text.to_string()
    }
}

/// An event's details, cut for a table cell.
fn summarise(details: &Value) -> String {
    cut(&details.to_string(), 240)
}

// ---------------------------------------------------------------------------
// Usage and keys

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
    let base = crate::MOUNT.to_string();
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
        &base,
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
    let base = crate::MOUNT.to_string();
    let viewer = viewer(&console, &headers, &format!("{base}/keys")).await?;
    let keys = console.with_store(|store| store.keys(None, true)).await??;
    Ok(render_keys(&base, &viewer, &keys, None))
}

fn render_keys(
    base: &str,
    viewer: &Viewer,
    keys: &[modelgate_inventory::KeyRecord],
    issued: Option<(&str, &str)>,
) -> Markup {
    let today = Date::today();
    page(
        base,
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
    let base = crate::MOUNT.to_string();
    let viewer = viewer(&console, &headers, &format!("{base}/keys")).await?;
    check_csrf(&viewer, &form.csrf)?;
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
        .with_store(
            move |store| -> std::result::Result<_, modelgate_inventory::Error> {
                let issued = store.create_key(&new, &by)?;
                Ok((issued, store.keys(None, true)?))
            },
        )
        .await??;
    let body = render_keys(
        &base,
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
    let base = crate::MOUNT.to_string();
    let viewer = viewer(&console, &headers, &format!("{base}/keys")).await?;
    check_csrf(&viewer, &form.csrf)?;
    require_admin(&viewer, "revoke an API key")?;
    let by = viewer.name.clone();
    console
        .with_store(move |store| store.revoke_key(&form.id, &by, &form.reason).map(|_| ()))
        .await??;
    Ok(Redirect::to(&format!("{base}/keys")).into_response())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_paths_inside_the_console_are_followed_after_sign_in() {
        assert_eq!(safe_next("/ui", "/ui/queue"), "/ui/queue");
        for hostile in [
            "https://evil.example/",
            "//evil.example/ui/",
            "/ui//evil",
            "/uix",
            "/ui\\..",
            "javascript:alert(1)",
        ] {
            assert_eq!(safe_next("/ui", hostile), "/ui/catalogue", "{hostile}");
        }
    }
}
