//! The forms that change something: a reviewer's review, an admin's stage
//! change, and revocation after seeing the teams it affects. Each calls the
//! inventory function the CLI calls, with the signed-in user as the actor.

use super::*;

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
    let viewer = form_viewer(&console, &headers, "/queue", &form.csrf).await?;
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
        .change(move |store| store.review(&target, &review))
        .await??;
    Ok(to_version(&reference))
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
    let viewer = form_viewer(&console, &headers, "/queue", &form.csrf).await?;
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
                .change(move |store| store.approve(&target, &approval).map(|_| ()))
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
                .change(move |store| store.promote_with(&target, &promotion).map(|_| ()))
                .await??;
        }
        "deprecate" => {
            console
                .change(move |store| store.deprecate(&target, &by, note.as_deref()).map(|_| ()))
                .await??;
        }
        other => {
            return Err(PageError::bad_request(format!(
                "{other:?} is not a stage change: approve, promote or deprecate (revoke has its own page)"
            )));
        }
    }
    Ok(to_version(&reference))
}

pub(crate) async fn revoke_confirm(
    State(console): State<Arc<Console>>,
    headers: HeaderMap,
    Query(query): Query<RefQuery>,
) -> Result<Markup> {
    let base = crate::MOUNT;
    let viewer = viewer(&console, &headers, &format!("{base}/catalogue")).await?;
    require_admin(&viewer, "revoke a version")?;
    let reference = parse_ref(&query.reference)?;
    let target = reference.clone();
    let detail = console
        .with_store(move |store| store.version(&target))
        .await??;
    let text = reference.to_string();
    Ok(page(
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
                a href=(version_link(&reference.name, &reference.version)) { "Cancel" }
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
    let viewer = form_viewer(&console, &headers, "/catalogue", &form.csrf).await?;
    require_admin(&viewer, "revoke a version")?;
    let reference = parse_ref(&form.reference)?;
    let target = reference.clone();
    let by = viewer.name.clone();
    console
        .change(move |store| store.revoke(&target, &by, &form.reason).map(|_| ()))
        .await??;
    Ok(to_version(&reference))
}
