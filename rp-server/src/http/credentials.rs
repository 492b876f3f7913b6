//! A signed-in user's own passkeys: list, rename, delete.

use axum::extract::State;
use axum::response::Response;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use uuid::Uuid;

use super::error::ApiError;
use super::extract::{ClientContext, Json, Path};
use super::identity::SignedIn;
use super::{b64url, from_b64url, no_content};
use crate::AppState;
use crate::audit::{self, Action, Actor, Event};
use crate::store::{self, StoredCredential};
use rp_shared::error::ErrorBody;

/// Longest nickname accepted, in characters.
pub const MAX_NICKNAME: usize = 64;

/// What clients see of a passkey.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct CredentialSummary {
    /// The credential id, base64url.
    pub id: String,
    pub nickname: Option<String>,
    pub created_at: DateTime<Utc>,
    pub last_used_at: Option<DateTime<Utc>>,
    /// Authenticator model id, when the authenticator disclosed one.
    pub aaguid: Option<Uuid>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub authenticator_name: Option<String>,
    pub backup_eligible: bool,
    pub backup_state: bool,
    pub transports: Vec<String>,
}

impl From<&StoredCredential> for CredentialSummary {
    fn from(c: &StoredCredential) -> Self {
        Self {
            id: b64url(&c.credential_id),
            nickname: c.nickname.clone(),
            created_at: c.created_at,
            last_used_at: c.last_used_at,
            aaguid: c.aaguid,
            authenticator_name: crate::authenticators::name(c.aaguid),
            backup_eligible: c.backup_eligible,
            backup_state: c.backup_state,
            transports: c.transports.clone(),
        }
    }
}

#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct CredentialList {
    pub credentials: Vec<CredentialSummary>,
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RenameRequest {
    /// New nickname; null or empty clears it.
    pub nickname: Option<String>,
}

/// Checks and normalises a nickname: trimmed, at most [`MAX_NICKNAME`] characters, no
/// control characters; empty means none.
pub fn clean_nickname(raw: Option<&str>) -> Result<Option<String>, ApiError> {
    let Some(n) = raw.map(str::trim).filter(|n| !n.is_empty()) else {
        return Ok(None);
    };
    if n.chars().count() > MAX_NICKNAME {
        return Err(ApiError::bad_request(
            "INVALID_NICKNAME",
            format!("A nickname has at most {MAX_NICKNAME} characters."),
        ));
    }
    if n.chars().any(char::is_control) {
        return Err(ApiError::bad_request(
            "INVALID_NICKNAME",
            "A nickname cannot contain control characters.",
        ));
    }
    Ok(Some(n.to_owned()))
}

fn credential_id(raw: &str) -> Result<Vec<u8>, ApiError> {
    from_b64url(raw).ok_or_else(|| {
        ApiError::bad_request(
            "INVALID_CREDENTIAL_ID",
            "The credential id must be base64url.",
        )
    })
}

fn not_found() -> ApiError {
    ApiError::not_found("CREDENTIAL_NOT_FOUND", "No such passkey.")
}

/// The caller's passkeys.
#[utoipa::path(get, path = "/v1/credentials", tag = "credentials", security(("cognito" = [])),
    responses((status = 200, body = CredentialList), (status = 401, body = ErrorBody)))]
pub async fn list(
    State(state): State<AppState>,
    SignedIn(who): SignedIn,
) -> Result<Json<CredentialList>, ApiError> {
    let credentials = match store::user_by_sub(&state.db, &who.sub).await? {
        Some(user) => store::credentials_of(&state.db, user.id).await?,
        None => Vec::new(),
    };
    Ok(Json(CredentialList {
        credentials: credentials.iter().map(CredentialSummary::from).collect(),
    }))
}

/// Renames one of the caller's passkeys.
#[utoipa::path(patch, path = "/v1/credentials/{id}", tag = "credentials", security(("cognito" = [])),
    params(("id" = String, Path, description = "Credential id, base64url")),
    request_body = RenameRequest,
    responses((status = 200, body = CredentialSummary), (status = 400, body = ErrorBody),
        (status = 401, body = ErrorBody), (status = 404, body = ErrorBody)))]
pub async fn rename(
    State(state): State<AppState>,
    SignedIn(who): SignedIn,
    client: ClientContext,
    Path(id): Path<String>,
    Json(body): Json<RenameRequest>,
) -> Result<Json<CredentialSummary>, ApiError> {
    let id = credential_id(&id)?;
    let nickname = clean_nickname(body.nickname.as_deref())?;
    let user = store::user_by_sub(&state.db, &who.sub)
        .await?
        .ok_or_else(not_found)?;
    let now = state.clock.now();
    let mut tx = state.db.begin().await?;
    let renamed = store::rename_credential(&mut tx, user.id, &id, nickname.as_deref())
        .await?
        .ok_or_else(not_found)?;
    audit::record(
        &mut *tx,
        now,
        Event::new(Actor::User(who.sub.clone()), Action::CredentialRenamed)
            .user(user.id, &user.cognito_sub)
            .credential(&id)
            .client(&client)
            .details(serde_json::json!({ "nickname": nickname })),
    )
    .await?;
    tx.commit().await?;
    Ok(Json(CredentialSummary::from(&renamed)))
}

/// Deletes one of the caller's passkeys: it is revoked for good (it can neither sign in
/// nor be registered again). Another user's passkey answers 404, exactly as a passkey
/// that does not exist.
#[utoipa::path(delete, path = "/v1/credentials/{id}", tag = "credentials", security(("cognito" = [])),
    params(("id" = String, Path, description = "Credential id, base64url")),
    responses((status = 204), (status = 401, body = ErrorBody), (status = 404, body = ErrorBody)))]
pub async fn delete(
    State(state): State<AppState>,
    SignedIn(who): SignedIn,
    client: ClientContext,
    Path(id): Path<String>,
) -> Result<Response, ApiError> {
    let id = credential_id(&id)?;
    let user = store::user_by_sub(&state.db, &who.sub)
        .await?
        .ok_or_else(not_found)?;
    let now = state.clock.now();
    let mut tx = state.db.begin().await?;
    let revoked = store::revoke_credentials(
        &mut tx,
        store::RevokeWhich::One(&id, Some(user.id)),
        &format!("user:{}", who.sub),
        Some("deleted by the user"),
        now,
    )
    .await?;
    if revoked.is_empty() {
        return Err(not_found());
    }
    audit::record(
        &mut *tx,
        now,
        Event::new(Actor::User(who.sub.clone()), Action::CredentialDeleted)
            .user(user.id, &user.cognito_sub)
            .credential(&id)
            .client(&client),
    )
    .await?;
    tx.commit().await?;
    Ok(no_content())
}
