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

mod audit;
mod catalogue;
mod changes;
mod login;
mod queue;
mod usage;
mod version;

pub(crate) use audit::audit;
pub(crate) use catalogue::{Catalogue, catalogue};
pub(crate) use changes::{review, revoke, revoke_confirm, stage};
pub(crate) use login::{login, login_form, logout};
pub(crate) use queue::queue;
pub(crate) use usage::{create_key, keys, revoke_key, usage};
pub(crate) use version::version;

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

#[derive(Debug, Deserialize)]
pub(crate) struct RefQuery {
    #[serde(rename = "ref", default)]
    reference: String,
}

// Who is asking

/// The signed-in viewer, or a redirect to the sign-in page.
async fn viewer(console: &Arc<Console>, headers: &HeaderMap, uri_path: &str) -> Result<Viewer> {
    let base = crate::MOUNT;
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
    let sessions = console.sessions;
    let id = id.to_owned();
    let found = console
        .with_store(
            move |store| -> std::result::Result<_, modelgate_inventory::Error> {
                let Some(session) = sessions.get(store, &id)? else {
                    return Ok(None);
                };
                match store.user(&session.user)? {
                    Some(user) if user.disabled_at.is_none() => Ok(Some((session, user))),
                    _ => {
                        sessions.end(store, &id)?;
                        Ok(None)
                    }
                }
            },
        )
        .await??;
    match found {
        Some((session, user)) => Ok(Viewer {
            name: user.name,
            role: user.role,
            csrf: session.csrf,
        }),
        None => Err(sign_in()),
    }
}

/// The signed-in user who posted a form, after its CSRF token was
/// checked; `back` (a console path) is where signing in returns to.
async fn form_viewer(
    console: &Arc<Console>,
    headers: &HeaderMap,
    back: &str,
    csrf: &str,
) -> Result<Viewer> {
    let viewer = viewer(console, headers, &format!("{}{back}", crate::MOUNT)).await?;
    check_csrf(&viewer, csrf)?;
    Ok(viewer)
}

/// Back to a version's page after changing it.
fn to_version(reference: &VersionRef) -> Response {
    Redirect::to(&version_link(&reference.name, &reference.version)).into_response()
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
const HTMX: &str = include_str!("../../assets/htmx-2.0.4.min.js");

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
