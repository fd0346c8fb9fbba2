//! Stage changes made while serving: applied within one poll.

use modelgate_inventory::{ServingAction, Stage, Store};
use serde_json::json;

use crate::catalog::Catalog;
use crate::error::ServeError;

/// A stage change applied to a loaded version.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Change {
    /// `NAME@VERSION`.
    pub id: String,
    /// Stage it was served at.
    pub from: Stage,
    /// Stage it is at now.
    pub to: Stage,
}

/// Reads the stage of every loaded version and applies what changed:
/// revoked versions are unloaded (requests get 403 with the revocation's
/// reason) and recorded as `serve.unloaded`; deprecated ones stay loaded and
/// are marked, so answers carry a `Deprecation` header.
pub fn sync(store: &mut Store, catalog: &Catalog, by: &str) -> Result<Vec<Change>, ServeError> {
    let mut changes = Vec::new();
    for served in catalog.live() {
        let detail = store.version(&served.reference)?;
        let now = detail.summary.stage;
        let before = served.stage();
        if now == before {
            continue;
        }
        if let Ok(mut stage) = served.stage.write() {
            *stage = now;
        }
        let id = served.id();
        if matches!(now, Stage::Revoked | Stage::Candidate) {
            let reason = detail
                .stage_note
                .clone()
                .unwrap_or_else(|| "no reason was recorded".to_owned());
            catalog.revoke(&id, reason.clone());
            store.record_serving(
                &served.reference,
                ServingAction::Unloaded,
                by,
                json!({"stage": now.name(), "reason": reason}),
            )?;
            tracing::warn!(%id, stage = now.name(), "unloaded: its stage changed while serving");
        } else {
            tracing::info!(%id, from = before.name(), to = now.name(), "stage changed while serving");
        }
        changes.push(Change {
            id,
            from: before,
            to: now,
        });
    }
    Ok(changes)
}
