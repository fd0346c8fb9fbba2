//! Signing in and out: the sign-in form (double-submit CSRF), the check of
//! the password against the inventory's argon2id hash within the failed
//! sign-in limit, the session cookie, and signing out.

use super::*;

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
    let counted = user_name.clone();
    let attempt = console
        .with_store(move |store| auth::begin_login(store, &counted, address))
        .await??;
    let Some(attempt) = attempt else {
        let body = login_page(
            expected,
            &next,
            Some(
                "Too many failed sign-ins for this user or from this address: wait 15 minutes and try again.",
            ),
        );
        return Ok((StatusCode::TOO_MANY_REQUESTS, body).into_response());
    };
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
        // The attempt stays counted: it is a failure.
        tracing::warn!(user = %user_name, ?address, "console sign-in failed");
        let body = login_page(expected, &next, Some("Wrong user name or password."));
        return Ok((StatusCode::UNAUTHORIZED, body).into_response());
    }
    let (id, csrf) = auth::Sessions::new_ids().map_err(|e| PageError::internal(e.to_string()))?;
    let sessions = console.sessions;
    let session_id = id.clone();
    console
        .with_store(move |store| {
            auth::login_succeeded(store, &attempt, &user_name)?;
            sessions.start(store, &session_id, &csrf, &user_name)
        })
        .await??;
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
    form_viewer(&console, &headers, "/catalogue", &form.csrf).await?;
    if let Some(id) = headers
        .get(header::COOKIE)
        .and_then(|v| v.to_str().ok())
        .and_then(|c| auth::cookie(c, SESSION_COOKIE))
    {
        let sessions = console.sessions;
        let id = id.to_owned();
        console
            .with_store(move |store| sessions.end(store, &id))
            .await??;
    }
    let mut response = Redirect::to(&format!("{}/login", crate::MOUNT)).into_response();
    if let Ok(value) = HeaderValue::from_str(&cookie_header(&console, SESSION_COOKIE, "", Some(0)))
    {
        response.headers_mut().insert(header::SET_COOKIE, value);
    }
    Ok(response)
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
