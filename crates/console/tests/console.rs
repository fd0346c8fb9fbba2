//! The console over HTTP on real vetted models: the all-MiniLM-L6-v2
//! snapshot with a hostile model card and file name, and SmolLM2 (no card,
//! so its verdict asks for a governance review). Signs in as each role and
//! checks what each may see and do, CSRF refusals, the sign-in limit (one
//! limit for two replicas, even for tries sent at once), that
//! every change is the CLI's audit event with the user as the actor, and
//! that untrusted text is escaped everywhere.

#![allow(clippy::unwrap_used, clippy::indexing_slicing, missing_docs)]

mod common;

use common::{PASSWORD, Site, open_store, replica, site};
use reqwest::StatusCode;
use reqwest::redirect::Policy;

fn client() -> reqwest::Client {
    reqwest::Client::builder()
        .cookie_store(true)
        .redirect(Policy::none())
        .build()
        .unwrap()
}

/// The value of `name="NAME" value="..."` in a page (the first one).
fn hidden(page: &str, name: &str) -> String {
    let marker = format!("name=\"{name}\" value=\"");
    let start = page
        .find(&marker)
        .unwrap_or_else(|| panic!("no {name} in {page}"))
        + marker.len();
    let end = start + page[start..].find('"').unwrap();
    page[start..end].to_string()
}

/// Sign in; returns the client (its cookie jar holds the session).
async fn sign_in(site: &Site, user: &str) -> reqwest::Client {
    let client = client();
    let form = client
        .get(format!("{}/ui/login", site.url))
        .send()
        .await
        .unwrap();
    assert_eq!(form.status(), StatusCode::OK);
    let set_cookie = form.headers()["set-cookie"].to_str().unwrap().to_string();
    assert!(set_cookie.contains("HttpOnly") && set_cookie.contains("SameSite=Strict"));
    let page = form.text().await.unwrap();
    let csrf = hidden(&page, "csrf");
    let response = client
        .post(format!("{}/ui/login", site.url))
        .form(&[
            ("user", user),
            ("password", PASSWORD),
            ("csrf", &csrf),
            ("next", "/ui/queue"),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::SEE_OTHER, "{user}");
    assert_eq!(response.headers()["location"], "/ui/queue");
    let session = response
        .headers()
        .get_all("set-cookie")
        .iter()
        .map(|v| v.to_str().unwrap().to_string())
        .find(|c| c.starts_with("mg_session="))
        .unwrap();
    assert!(session.contains("HttpOnly") && session.contains("SameSite=Strict"));
    client
}

/// The sign-in form's CSRF token, from the page (its cookie is now in
/// `client`).
async fn login_csrf(client: &reqwest::Client, site: &Site) -> String {
    let page = client
        .get(format!("{}/ui/login", site.url))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    hidden(&page, "csrf")
}

async fn get(client: &reqwest::Client, site: &Site, path: &str) -> (StatusCode, String) {
    let response = client
        .get(format!("{}{path}", site.url))
        .send()
        .await
        .unwrap();
    let status = response.status();
    (status, response.text().await.unwrap())
}

async fn post(
    client: &reqwest::Client,
    site: &Site,
    path: &str,
    form: &[(&str, &str)],
) -> (StatusCode, String) {
    let response = client
        .post(format!("{}{path}", site.url))
        .form(form)
        .send()
        .await
        .unwrap();
    let status = response.status();
    (status, response.text().await.unwrap())
}

fn events(site: &Site) -> Vec<(String, String, String)> {
    open_store(&site.home)
        .events()
        .unwrap()
        .into_iter()
        .map(|e| (e.actor, e.action, e.subject))
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pages_need_a_session_and_sign_in_follows_only_console_paths() {
    let site = site().await;
    let anonymous = client();
    for path in [
        "/ui/catalogue",
        "/ui/queue",
        "/ui/audit",
        "/ui/usage",
        "/ui/keys",
    ] {
        let response = anonymous
            .get(format!("{}{path}", site.url))
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), StatusCode::SEE_OTHER, "{path}");
        let location = response.headers()["location"].to_str().unwrap();
        assert!(location.starts_with("/ui/login?next="), "{location}");
    }
    // Wrong password, then a sign-in form posted without its token.
    let client = client();
    let csrf = login_csrf(&client, &site).await;
    let (status, body) = post(
        &client,
        &site,
        "/ui/login",
        &[
            ("user", "vic"),
            ("password", "wrong password!!"),
            ("csrf", &csrf),
        ],
    )
    .await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    assert!(body.contains("Wrong user name or password"));
    let (status, _) = post(
        &client,
        &site,
        "/ui/login",
        &[("user", "vic"), ("password", PASSWORD)],
    )
    .await;
    assert_eq!(status, StatusCode::FORBIDDEN);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn failed_sign_ins_are_limited() {
    let site = site().await;
    let client = client();
    let csrf = login_csrf(&client, &site).await;
    let mut statuses = Vec::new();
    for _ in 0..modelgate_console::MAX_FAILED_LOGINS + 1 {
        let (status, _) = post(
            &client,
            &site,
            "/ui/login",
            &[
                ("user", "ada"),
                ("password", "guess guess guess"),
                ("csrf", &csrf),
            ],
        )
        .await;
        statuses.push(status);
    }
    assert!(
        statuses[..modelgate_console::MAX_FAILED_LOGINS]
            .iter()
            .all(|s| *s == StatusCode::UNAUTHORIZED)
    );
    assert_eq!(statuses.last(), Some(&StatusCode::TOO_MANY_REQUESTS));
    // Even the right password is refused now.
    let (status, _) = post(
        &client,
        &site,
        "/ui/login",
        &[("user", "ada"), ("password", PASSWORD), ("csrf", &csrf)],
    )
    .await;
    assert_eq!(status, StatusCode::TOO_MANY_REQUESTS);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_replicas_count_one_limit_even_for_tries_sent_at_once() {
    let site = site().await;
    let urls = [site.url.clone(), replica(&site).await];
    let client = client();
    // The sign-in form's token is a double-submit cookie, good on both.
    let csrf = login_csrf(&client, &site).await;
    let max = modelgate_console::MAX_FAILED_LOGINS;
    // Twice the limit, all at once, alternating between the replicas:
    // counted per process, each would let `max` through.
    let tries: Vec<_> = (0..2 * max)
        .map(|n| {
            let request = client.post(format!("{}/ui/login", urls[n % 2])).form(&[
                ("user", "gil"),
                ("password", "guess guess guess"),
                ("csrf", csrf.as_str()),
            ]);
            tokio::spawn(async move { request.send().await.unwrap().status() })
        })
        .collect();
    let mut statuses = Vec::new();
    for attempt in tries {
        statuses.push(attempt.await.unwrap());
    }
    let wrong = statuses
        .iter()
        .filter(|s| **s == StatusCode::UNAUTHORIZED)
        .count();
    let refused = statuses
        .iter()
        .filter(|s| **s == StatusCode::TOO_MANY_REQUESTS)
        .count();
    assert_eq!((wrong, refused), (max, max), "{statuses:?}");
    // The right password is refused on either replica now.
    for url in &urls {
        let status = client
            .post(format!("{url}/ui/login"))
            .form(&[("user", "gil"), ("password", PASSWORD), ("csrf", &csrf)])
            .send()
            .await
            .unwrap()
            .status();
        assert_eq!(status, StatusCode::TOO_MANY_REQUESTS, "{url}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_viewer_reads_everything_and_changes_nothing() {
    let site = site().await;
    let vic = sign_in(&site, "vic").await;
    let (status, catalogue) = get(&vic, &site, "/ui/catalogue?q=minilm").await;
    assert_eq!(status, StatusCode::OK);
    assert!(catalogue.contains("minilm@1"));
    assert!(catalogue.contains("search"), "the team using it");
    assert!(
        !catalogue.contains("smollm2@1"),
        "a candidate is not in the catalogue"
    );
    let (_, filtered) = get(&vic, &site, "/ui/catalogue?commercial=no").await;
    assert!(filtered.contains("0 of 1 versions"), "{filtered}");
    let (status, version) = get(&vic, &site, "/ui/version?ref=minilm%401").await;
    assert_eq!(status, StatusCode::OK);
    assert!(version.contains("model.safetensors"));
    assert!(
        !version.contains("name=\"action\""),
        "no admin forms for a viewer"
    );
    let csrf = hidden(&version, "csrf");
    let before = events(&site).len();
    for (path, form) in [
        (
            "/ui/stage",
            vec![("ref", "smollm2@1"), ("action", "approve")],
        ),
        ("/ui/revoke", vec![("ref", "minilm@1"), ("reason", "no")]),
        (
            "/ui/keys/create",
            vec![("team", "search"), ("data_class", "internal")],
        ),
        (
            "/ui/review",
            vec![("ref", "smollm2@1"), ("outcome", "signed-off")],
        ),
    ] {
        let mut form = form;
        form.push(("csrf", &csrf));
        let (status, body) = post(&vic, &site, path, &form).await;
        assert_eq!(status, StatusCode::FORBIDDEN, "{path}: {body}");
    }
    assert_eq!(events(&site).len(), before, "nothing was written");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_reviewer_signs_off_their_own_review_and_the_trail_names_them() {
    let site = site().await;
    let gil = sign_in(&site, "gil").await;
    let (_, queue) = get(&gil, &site, "/ui/queue").await;
    assert!(queue.contains("Waiting for your governance review"));
    assert!(queue.contains("smollm2@1"));
    let (_, version) = get(&gil, &site, "/ui/version?ref=smollm2%401").await;
    assert!(version.contains("Your review (governance)"));
    let csrf = hidden(&version, "csrf");
    // Without the token: refused, nothing written.
    let (status, _) = post(
        &gil,
        &site,
        "/ui/review",
        &[("ref", "smollm2@1"), ("outcome", "signed-off")],
    )
    .await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    let (status, _) = post(
        &gil,
        &site,
        "/ui/review",
        &[
            ("ref", "smollm2@1"),
            ("outcome", "signed-off"),
            ("note", "card gap accepted"),
            ("csrf", &csrf),
        ],
    )
    .await;
    assert_eq!(status, StatusCode::SEE_OTHER);
    let last = events(&site).pop().unwrap();
    assert_eq!(
        last,
        ("gil".into(), "review.signed_off".into(), "smollm2@1".into())
    );
    let (_, queue) = get(&gil, &site, "/ui/queue").await;
    assert!(queue.contains("Nothing waits for review"));
    let (_, audit) = get(&gil, &site, "/ui/audit?action=review.").await;
    assert!(audit.contains("Chain verified"));
    assert!(audit.contains("review.signed_off"));
    // A legal reviewer cannot sign a review the verdict does not ask of them.
    let lee = sign_in(&site, "lee").await;
    let (_, page) = get(&lee, &site, "/ui/catalogue").await;
    let csrf = hidden(&page, "csrf");
    let (status, body) = post(
        &lee,
        &site,
        "/ui/review",
        &[
            ("ref", "smollm2@1"),
            ("outcome", "signed-off"),
            ("csrf", &csrf),
        ],
    )
    .await;
    assert_eq!(status, StatusCode::CONFLICT);
    assert!(body.contains("does not ask for a legal review"), "{body}");
    // The admin approves with the recorded sign-off, then revokes after
    // seeing the affected teams.
    let ada = sign_in(&site, "ada").await;
    let (_, page) = get(&ada, &site, "/ui/version?ref=smollm2%401").await;
    let csrf = hidden(&page, "csrf");
    let (status, body) = post(
        &ada,
        &site,
        "/ui/stage",
        &[("ref", "smollm2@1"), ("action", "approve"), ("csrf", &csrf)],
    )
    .await;
    assert_eq!(status, StatusCode::SEE_OTHER, "{body}");
    let (_, confirm) = get(&ada, &site, "/ui/revoke?ref=minilm%401").await;
    assert!(confirm.contains("1 team(s) use it"), "{confirm}");
    assert!(confirm.contains("search"));
    let (status, _) = post(
        &ada,
        &site,
        "/ui/revoke",
        &[
            ("ref", "minilm@1"),
            ("reason", "license changed upstream"),
            ("csrf", &csrf),
        ],
    )
    .await;
    assert_eq!(status, StatusCode::SEE_OTHER);
    let actions: Vec<(String, String)> = events(&site)
        .into_iter()
        .rev()
        .take(2)
        .map(|(actor, action, _)| (actor, action))
        .collect();
    assert_eq!(
        actions,
        [
            ("ada".to_string(), "version.revoked".to_string()),
            ("ada".to_string(), "version.approved".to_string())
        ]
    );
    let store = open_store(&site.home);
    let smol = store.version(&"smollm2@1".parse().unwrap()).unwrap();
    assert_eq!(smol.history.last().unwrap().sign_offs[0].by, "gil");
    assert!(store.verify_audit().unwrap().ok);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_admin_creates_a_key_and_sees_its_secret_once() {
    let site = site().await;
    let ada = sign_in(&site, "ada").await;
    let (_, page) = get(&ada, &site, "/ui/keys").await;
    let csrf = hidden(&page, "csrf");
    let (status, created) = post(
        &ada,
        &site,
        "/ui/keys/create",
        &[
            ("team", "search"),
            ("name", "ci"),
            ("data_class", "internal"),
            ("csrf", &csrf),
        ],
    )
    .await;
    assert_eq!(status, StatusCode::CREATED);
    let start = created.find("<div class=\"secret\">").unwrap() + "<div class=\"secret\">".len();
    let secret = &created[start..start + created[start..].find('<').unwrap()];
    assert!(
        modelgate_inventory::parse_presented(secret).is_some(),
        "{secret}"
    );
    let (_, again) = get(&ada, &site, "/ui/keys").await;
    assert!(!again.contains(secret), "the secret is shown once");
    let store = open_store(&site.home);
    let key = &store.keys(Some("search"), false).unwrap()[0];
    assert_eq!(key.created_by, "ada");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn untrusted_text_is_escaped_on_every_page() {
    let site = site().await;
    let ada = sign_in(&site, "ada").await;
    let mut pages = Vec::new();
    for path in [
        "/ui/catalogue",
        "/ui/version?ref=minilm%401",
        "/ui/queue",
        "/ui/audit",
        "/ui/usage",
        "/ui/keys",
        "/ui/revoke?ref=minilm%401",
    ] {
        let response = ada.get(format!("{}{path}", site.url)).send().await.unwrap();
        assert_eq!(response.status(), StatusCode::OK, "{path}");
        let csp = response.headers()["content-security-policy"]
            .to_str()
            .unwrap()
            .to_string();
        assert!(csp.contains("default-src 'none'"), "{csp}");
        let body = response.text().await.unwrap();
        assert!(body.len() < 150 * 1024, "{path}: {} bytes", body.len());
        pages.push((path, body));
    }
    let all: String = pages.iter().map(|(_, body)| body.as_str()).collect();
    // The hostile card, file name and purpose reached the pages, escaped.
    assert!(all.contains("&lt;script&gt;alert('card')&lt;/script&gt;"));
    assert!(all.contains("notes&lt;img src=x onerror=alert(2)&gt;.txt"));
    assert!(all.contains("semantic search &lt;b&gt;beta&lt;/b&gt;"));
    // The usage page's charts and tables name the hostile team, escaped
    // (in the SVG too, the one markup the console does not escape itself).
    let usage = &pages
        .iter()
        .find(|(path, _)| *path == "/ui/usage")
        .unwrap()
        .1;
    assert!(usage.contains("<svg"), "the usage charts are drawn");
    assert!(
        usage.contains("&lt;script&gt;alert(3)&lt;/script&gt;"),
        "{usage}"
    );
    assert!(usage.contains("smollm2@1") && usage.contains("minilm@1"));
    for (path, body) in &pages {
        // The one script is the console's own htmx file.
        assert_eq!(body.matches("<script").count(), 1, "{path}");
        assert!(
            body.contains("<script src=\"/ui/htmx.min.js\" defer></script>"),
            "{path}"
        );
        assert!(!body.contains("<img"), "{path}");
        assert!(!body.contains("<b>beta"), "{path}");
    }
}
