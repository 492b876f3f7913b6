//! A user's own recent sign-ins and security events (`GET /v1/activity`): their audit
//! rows, newest first, with where each came from — nothing about anyone else, and none of
//! the events' internal details.

use chrono::{DateTime, Utc};
use serde::Serialize;
use utoipa::ToSchema;

use super::Context;
use crate::auth::CognitoUser;
use crate::store::audit::{self, EventFilter};

/// One event of the user's own.
#[derive(Debug, Clone, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct ActivityEvent {
    pub occurred_at: DateTime<Utc>,
    /// e.g. `authentication.succeeded`, `credential.registered`, `credential.revoked`.
    pub action: String,
    /// The passkey concerned (base64url), if any.
    pub credential_id: Option<String>,
    pub ip: Option<String>,
    pub user_agent: Option<String>,
    /// Done by an administrator (not who: their names are the operator's business).
    pub by_admin: bool,
}

#[derive(Debug, Clone, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct ActivityPage {
    pub events: Vec<ActivityEvent>,
    /// Pass as `cursor` for older events; absent on the last page.
    pub next_cursor: Option<String>,
}

#[derive(Debug, thiserror::Error)]
pub enum ActivityError {
    #[error("The cursor is not one this server issued.")]
    InvalidCursor,
    #[error(transparent)]
    Db(#[from] sqlx::Error),
}

/// The caller's events, newest first; `limit` 1-100 (default 20).
#[tracing::instrument(skip_all)]
pub async fn activity(
    cx: &Context,
    who: &CognitoUser,
    cursor: Option<&str>,
    limit: Option<i64>,
) -> Result<ActivityPage, ActivityError> {
    let limit = limit.unwrap_or(20).clamp(1, 100);
    let before = match cursor {
        Some(c) => Some(audit::decode_cursor(c).ok_or(ActivityError::InvalidCursor)?),
        None => None,
    };
    let rows = audit::events(
        &cx.db,
        &cx.site.id,
        &EventFilter {
            sub: Some(&who.sub),
            credential_id: None,
            action: None,
            actor: None,
            since: None,
            until: None,
            before,
            limit: limit + 1,
        },
    )
    .await?;
    let more = rows.len() as i64 > limit;
    let rows = &rows[..rows.len().min(limit as usize)];
    Ok(ActivityPage {
        next_cursor: more
            .then(|| {
                rows.last()
                    .map(|r| audit::encode_cursor(r.occurred_at, r.id))
            })
            .flatten(),
        events: rows
            .iter()
            .map(|r| {
                let by_admin = r.actor.starts_with("admin");
                ActivityEvent {
                    occurred_at: r.occurred_at,
                    action: r.action.clone(),
                    credential_id: r
                        .credential_id
                        .as_deref()
                        .map(rp_shared::credential_id::encode),
                    // An administrator's address and browser are not the user's to see.
                    ip: r.ip.clone().filter(|_| !by_admin),
                    user_agent: r.user_agent.clone().filter(|_| !by_admin),
                    by_admin,
                }
            })
            .collect(),
    })
}
