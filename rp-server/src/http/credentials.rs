//! A signed-in user's own passkeys: list, rename, delete ([`crate::flows::credentials`]).

use axum::response::Response;
use rp_shared::error::ErrorCode;
use serde::Deserialize;
use utoipa::ToSchema;

use super::error::ApiError;
use super::extract::{ClientContext, Json, Path};
use super::identity::SignedIn;
use super::no_content;
use crate::flows::Context;
use crate::flows::credentials::{self, CredentialError, CredentialSummary, Passkeys};
use rp_shared::error::ErrorBody;

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RenameRequest {
    /// New nickname; null or empty clears it.
    pub nickname: Option<String>,
}

/// Which page of the caller's activity.
#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
#[into_params(parameter_in = Query, rename_all = "camelCase")]
pub struct ActivityQuery {
    /// `nextCursor` of the previous page.
    pub cursor: Option<String>,
    /// Events per page, 1-100 (default 20).
    pub limit: Option<i64>,
}

/// The caller's own recent sign-ins and security events, newest first (their audit
/// rows: nothing about anyone else, no internal details; an administrator's address is
/// not shown).
#[utoipa::path(get, path = "/v1/activity", tag = "credentials", security(("cognito" = [])),
    params(ActivityQuery),
    responses((status = 200, body = crate::flows::activity::ActivityPage), (status = 400, body = ErrorBody),
        (status = 401, body = ErrorBody)))]
pub async fn activity(
    cx: Context,
    SignedIn(who): SignedIn,
    super::extract::Query(q): super::extract::Query<ActivityQuery>,
) -> Result<Json<crate::flows::activity::ActivityPage>, ApiError> {
    use crate::flows::activity::{self, ActivityError};
    activity::activity(&cx, &who, q.cursor.as_deref(), q.limit)
        .await
        .map(Json)
        .map_err(|e| match e {
            ActivityError::InvalidCursor => {
                ApiError::bad_request(ErrorCode::InvalidCursor, e.to_string())
            }
            ActivityError::Db(e) => e.into(),
        })
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CognitoPasskeysReport {
    /// How many passkeys the caller still has with Cognito itself (0-20; 0 once moved).
    pub count: u8,
}

/// The caller's client reports how many passkeys they still have with Cognito itself
/// while moving them to rp-server's (`migrateFromCognitoPasskeys`): best effort, for
/// the statistics (`usersWithOnlyCognitoPasskeys`).
#[utoipa::path(put, path = "/v1/cognito-passkeys", tag = "credentials", security(("cognito" = [])),
    request_body = CognitoPasskeysReport,
    responses((status = 204, description = "Recorded"), (status = 400, body = ErrorBody), (status = 401, body = ErrorBody)))]
pub async fn report_cognito_passkeys(
    cx: Context,
    SignedIn(who): SignedIn,
    Json(body): Json<CognitoPasskeysReport>,
) -> Result<Response, ApiError> {
    if body.count > 20 {
        return Err(ApiError::bad_request(
            ErrorCode::InvalidRequest,
            "`count` is at most 20 (Cognito's limit of passkeys per user).",
        ));
    }
    credentials::report_cognito_passkeys(&cx, &who, body.count).await?;
    Ok(no_content())
}

/// The caller's passkeys.
#[utoipa::path(get, path = "/v1/credentials", tag = "credentials", security(("cognito" = [])),
    responses((status = 200, body = Passkeys), (status = 401, body = ErrorBody)))]
pub async fn list(cx: Context, SignedIn(who): SignedIn) -> Result<Json<Passkeys>, ApiError> {
    Ok(Json(credentials::list(&cx, &who).await?))
}

/// Renames one of the caller's passkeys.
#[utoipa::path(patch, path = "/v1/credentials/{id}", tag = "credentials", security(("cognito" = [])),
    params(("id" = String, Path, description = "Credential id, base64url")),
    request_body = RenameRequest,
    responses((status = 200, body = CredentialSummary), (status = 400, body = ErrorBody),
        (status = 401, body = ErrorBody), (status = 404, body = ErrorBody)))]
pub async fn rename(
    cx: Context,
    SignedIn(who): SignedIn,
    client: ClientContext,
    Path(id): Path<String>,
    Json(body): Json<RenameRequest>,
) -> Result<Json<CredentialSummary>, ApiError> {
    let renamed = credentials::rename(&cx, &who, &client, &id, body.nickname.as_deref()).await?;
    Ok(Json(renamed))
}

/// Deletes one of the caller's passkeys: it is revoked for good (it can neither sign in
/// nor be registered again). Another user's passkey answers 404, exactly as a passkey
/// that does not exist.
#[utoipa::path(delete, path = "/v1/credentials/{id}", tag = "credentials", security(("cognito" = [])),
    params(("id" = String, Path, description = "Credential id, base64url")),
    responses((status = 204), (status = 401, body = ErrorBody), (status = 404, body = ErrorBody)))]
pub async fn delete(
    cx: Context,
    SignedIn(who): SignedIn,
    client: ClientContext,
    Path(id): Path<String>,
) -> Result<Response, ApiError> {
    credentials::delete(&cx, &who, &client, &id).await?;
    Ok(no_content())
}

impl From<CredentialError> for ApiError {
    fn from(e: CredentialError) -> Self {
        let message = e.to_string();
        match e {
            CredentialError::InvalidNickname(_) => {
                ApiError::bad_request(ErrorCode::InvalidNickname, message)
            }
            CredentialError::InvalidId => {
                ApiError::bad_request(ErrorCode::InvalidCredentialId, message)
            }
            CredentialError::NotFound => {
                ApiError::not_found(ErrorCode::CredentialNotFound, message)
            }
            CredentialError::ReauthRequired(e) => e.into(),
            CredentialError::Db(e) => e.into(),
        }
    }
}
