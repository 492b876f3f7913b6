//! The admin API (`/admin/v1/*`, `Authorization: Bearer <admin token>`): credential
//! management, account recovery, audit log, statistics. Off (404) when no admin token is
//! configured. The audit log names the admin by the token presented (`admin:api:<name>`:
//! `admin` for `RP_ADMIN_TOKEN`, the names of `RP_ADMIN_TOKENS`).

use axum::extract::FromRequestParts;
use axum::http::StatusCode;
use axum::http::request::Parts;
use rp_shared::error::ErrorCode;
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};
use uuid::Uuid;

use super::error::ApiError;
use super::extract::{Json, Path, Query};
use crate::AppState;
use crate::admin::{
    AdminCredential, AdminError, AdminService, AuditFilter, AuditPage, EnrolmentTokenView,
    IssuedEnrolmentToken, Stats, UserRef,
};
use crate::auth;
use crate::flows::Context;
use rp_shared::error::ErrorBody;

impl From<AdminError> for ApiError {
    fn from(e: AdminError) -> Self {
        match e {
            AdminError::UserNotFound => ApiError::not_found(
                ErrorCode::UserNotFound,
                "No such user (rp-server knows users once they start a registration).",
            ),
            AdminError::CredentialNotFound => {
                ApiError::not_found(ErrorCode::CredentialNotFound, "No such credential.")
            }
            AdminError::TokenNotFound => ApiError::not_found(
                ErrorCode::EnrolmentTokenNotFound,
                "No such enrolment token.",
            ),
            AdminError::Invalid(m) => ApiError::bad_request(ErrorCode::InvalidRequest, m),
            AdminError::InvalidCursor(m) => ApiError::bad_request(ErrorCode::InvalidCursor, m),
            AdminError::Db(e) => e.into(),
            AdminError::Cognito(e) => ApiError::Unavailable(anyhow::Error::new(e)),
        }
    }
}

/// An authenticated admin: the request's context and who the audit log names.
pub struct Admin {
    cx: Context,
    actor: String,
}

impl Admin {
    /// The admin service, acting for this admin at the request's site.
    fn service(&self) -> AdminService<'_> {
        AdminService::for_site(&self.cx, &self.actor)
    }
}

impl FromRequestParts<AppState> for Admin {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, ApiError> {
        let tokens = state.config.admin_identities();
        if tokens.is_empty() {
            return Err(ApiError::not_found(
                ErrorCode::AdminApiDisabled,
                "The admin API is off (neither RP_ADMIN_TOKEN nor RP_ADMIN_TOKENS is set).",
            ));
        }
        // The audit names the token's holder; nothing the caller sends can change it.
        match auth::bearer(&parts.headers).and_then(|t| auth::admin_named(t, &tokens)) {
            Some(name) => Ok(Self {
                cx: state.context(),
                actor: format!("admin:api:{name}"),
            }),
            None => Err(ApiError::Unauthorized("A valid admin token is required.")),
        }
    }
}

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct UserQuery {
    /// The user's Cognito `sub`.
    pub sub: Option<String>,
    /// The user's Cognito username (as in their access tokens).
    pub username: Option<String>,
    /// The user's email, looked up in the pool (needs `RP_COGNITO_USER_POOL_ID`).
    pub email: Option<String>,
}

#[derive(Debug, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct UserCredentials {
    pub user_sub: String,
    pub username: String,
    pub credentials: Vec<AdminCredential>,
}

/// A user's credentials (revoked ones included), by `sub`, `username` or `email`.
#[utoipa::path(get, path = "/admin/v1/users", tag = "admin", security(("admin" = [])), params(UserQuery),
    responses((status = 200, body = UserCredentials), (status = 400, body = ErrorBody), (status = 401, body = ErrorBody), (status = 404, body = ErrorBody)))]
pub async fn user(
    who: Admin,
    Query(q): Query<UserQuery>,
) -> Result<Json<UserCredentials>, ApiError> {
    let r = match (q.sub, q.username, q.email) {
        (Some(s), None, None) => UserRef::Sub(s),
        (None, Some(u), None) => UserRef::Username(u),
        (None, None, Some(e)) => UserRef::Email(e),
        _ => {
            return Err(ApiError::bad_request(
                ErrorCode::InvalidRequest,
                "Give exactly one of `sub`, `username` or `email`.",
            ));
        }
    };
    let (user, credentials) = who.service().credentials(&r).await?;
    Ok(Json(UserCredentials {
        user_sub: user.cognito_sub,
        username: user.username,
        credentials,
    }))
}

/// One credential.
#[utoipa::path(get, path = "/admin/v1/credentials/{id}", tag = "admin", security(("admin" = [])),
    params(("id" = String, Path, description = "Credential id, base64url")),
    responses((status = 200, body = AdminCredential), (status = 400, body = ErrorBody), (status = 401, body = ErrorBody), (status = 404, body = ErrorBody)))]
pub async fn credential(
    who: Admin,
    Path(id): Path<String>,
) -> Result<Json<AdminCredential>, ApiError> {
    Ok(Json(who.service().credential(&id).await?))
}

#[derive(Debug, Default, Deserialize, ToSchema)]
pub struct Reason {
    /// Why, for the audit log.
    #[serde(default)]
    pub reason: Option<String>,
}

/// Revokes one credential for good: it can never sign in or be registered again.
#[utoipa::path(post, path = "/admin/v1/credentials/{id}/revoke", tag = "admin", security(("admin" = [])),
    params(("id" = String, Path, description = "Credential id, base64url")), request_body = Reason,
    responses((status = 200, body = AdminCredential), (status = 400, body = ErrorBody), (status = 401, body = ErrorBody), (status = 404, body = ErrorBody)))]
pub async fn revoke(
    who: Admin,
    Path(id): Path<String>,
    Json(body): Json<Reason>,
) -> Result<Json<AdminCredential>, ApiError> {
    let revoked = who.service().revoke(&id, body.reason.as_deref()).await?;
    Ok(Json(revoked.credential))
}

#[derive(Debug, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct ResetResult {
    pub user_sub: String,
    /// The credential ids revoked.
    pub revoked: Vec<String>,
    /// Whether Cognito signed the user out everywhere (AdminUserGlobalSignOut): `done`,
    /// `failed` or `not_configured` (without `RP_COGNITO_USER_POOL_ID`). rp-server refuses
    /// the user's earlier access tokens either way.
    pub cognito_global_sign_out: String,
}

/// Account reset: revokes all of the user's credentials and pending enrolment tokens and
/// ends their sessions (earlier access tokens answer `SESSION_REVOKED`; Cognito signs the
/// user out when rp-server administers the pool).
#[utoipa::path(post, path = "/admin/v1/users/{sub}/reset", tag = "admin", security(("admin" = [])),
    params(("sub" = String, Path, description = "The user's Cognito sub")), request_body = Reason,
    responses((status = 200, body = ResetResult), (status = 401, body = ErrorBody), (status = 404, body = ErrorBody)))]
pub async fn reset(
    who: Admin,
    Path(sub): Path<String>,
    Json(body): Json<Reason>,
) -> Result<Json<ResetResult>, ApiError> {
    let outcome = who.service().reset(&sub, body.reason.as_deref()).await?;
    Ok(Json(ResetResult {
        user_sub: outcome.user.cognito_sub,
        revoked: outcome.revoked,
        cognito_global_sign_out: outcome.cognito_sign_out.to_owned(),
    }))
}

/// Unlocks email codes for the user: forgives every failed code verification of their
/// verified address (after `CODE_LOCKED`, or before it). Needs the user pool.
#[utoipa::path(post, path = "/admin/v1/users/{sub}/unlock", tag = "admin", security(("admin" = [])),
    params(("sub" = String, Path, description = "The user's Cognito sub")),
    responses((status = 200, body = crate::admin::Unlocked), (status = 400, body = ErrorBody),
        (status = 401, body = ErrorBody), (status = 404, body = ErrorBody)))]
pub async fn unlock(
    who: Admin,
    Path(sub): Path<String>,
) -> Result<Json<crate::admin::Unlocked>, ApiError> {
    Ok(Json(who.service().unlock(&sub).await?))
}

#[derive(Debug, Default, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct EnrolmentRequest {
    /// Lifetime in seconds (default `RP_ENROLMENT_TTL_SECS`, at most 7 days).
    #[serde(default)]
    pub ttl_secs: Option<u64>,
    /// The Cognito username, needed only for a user rp-server has never seen.
    #[serde(default)]
    pub username: Option<String>,
}

/// Issues a one-time enrolment token: the user's browser presents it instead of an
/// access token on `/v1/registration/*` to register a new passkey (account recovery).
/// The token is returned this once and stored only as a hash.
#[utoipa::path(post, path = "/admin/v1/users/{sub}/enrolment-tokens", tag = "admin", security(("admin" = [])),
    params(("sub" = String, Path, description = "The user's Cognito sub")), request_body = EnrolmentRequest,
    responses((status = 201, body = IssuedEnrolmentToken), (status = 400, body = ErrorBody), (status = 401, body = ErrorBody), (status = 404, body = ErrorBody)))]
pub async fn issue_enrolment(
    who: Admin,
    Path(sub): Path<String>,
    Json(body): Json<EnrolmentRequest>,
) -> Result<(StatusCode, Json<IssuedEnrolmentToken>), ApiError> {
    let issued = who
        .service()
        .issue_enrolment_token(&sub, body.username.as_deref(), body.ttl_secs)
        .await?;
    Ok((StatusCode::CREATED, Json(issued)))
}

#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct EnrolmentTokenList {
    pub tokens: Vec<EnrolmentTokenView>,
}

/// A user's enrolment tokens (without the tokens themselves).
#[utoipa::path(get, path = "/admin/v1/users/{sub}/enrolment-tokens", tag = "admin", security(("admin" = [])),
    params(("sub" = String, Path, description = "The user's Cognito sub")),
    responses((status = 200, body = EnrolmentTokenList), (status = 401, body = ErrorBody), (status = 404, body = ErrorBody)))]
pub async fn list_enrolment(
    who: Admin,
    Path(sub): Path<String>,
) -> Result<Json<EnrolmentTokenList>, ApiError> {
    Ok(Json(EnrolmentTokenList {
        tokens: who.service().enrolment_tokens(&sub).await?,
    }))
}

/// Revokes an enrolment token.
#[utoipa::path(post, path = "/admin/v1/enrolment-tokens/{id}/revoke", tag = "admin", security(("admin" = [])),
    params(("id" = Uuid, Path, description = "Enrolment token id")),
    responses((status = 200, body = EnrolmentTokenView), (status = 400, body = ErrorBody), (status = 401, body = ErrorBody), (status = 404, body = ErrorBody)))]
pub async fn revoke_enrolment(
    who: Admin,
    Path(id): Path<Uuid>,
) -> Result<Json<EnrolmentTokenView>, ApiError> {
    Ok(Json(who.service().revoke_enrolment_token(id).await?))
}

/// The audit log, newest first.
#[utoipa::path(get, path = "/admin/v1/audit-events", tag = "admin", security(("admin" = [])), params(AuditFilter),
    responses((status = 200, body = AuditPage), (status = 400, body = ErrorBody), (status = 401, body = ErrorBody)))]
pub async fn audit_events(
    who: Admin,
    Query(filter): Query<AuditFilter>,
) -> Result<Json<AuditPage>, ApiError> {
    Ok(Json(who.service().audit_log(&filter).await?))
}

/// The passkey policies in effect (`[[policy]]`), in file order: which groups each
/// applies to and what it requires.
#[utoipa::path(get, path = "/admin/v1/policies", tag = "admin", security(("admin" = [])),
    responses((status = 200, body = Object, description = "`{policies: [{name, groups, aaguids, denyAaguids, deviceBound, enforceOnSignIn}]}`; a policy without groups is the default"),
        (status = 401, body = ErrorBody)))]
pub async fn policies(who: Admin) -> Json<serde_json::Value> {
    Json(serde_json::json!({ "policies": who.cx.site.settings.policies.all() }))
}

/// Every active passkey that does not satisfy its user's current policy, with the rule
/// it breaks (paged); revoke one with `POST /admin/v1/credentials/{id}/revoke`.
#[utoipa::path(get, path = "/admin/v1/policy-report", tag = "admin", security(("admin" = [])), params(crate::admin::PolicyReportQuery),
    responses((status = 200, body = crate::admin::PolicyReport), (status = 400, body = ErrorBody), (status = 401, body = ErrorBody)))]
pub async fn policy_report(
    who: Admin,
    Query(q): Query<crate::admin::PolicyReportQuery>,
) -> Result<Json<crate::admin::PolicyReport>, ApiError> {
    Ok(Json(who.service().policy_report(&q).await?))
}

/// How many days of statistics.
#[derive(Debug, serde::Deserialize, utoipa::IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct DaysQuery {
    /// 1-400 (default 30); today is the last.
    pub days: Option<i64>,
}

/// Per UTC day: sign-ins by factor (passkey usernameless or username-first, email code,
/// recovery code), failures by reason, email codes sent. Finished days come from a daily
/// rollup of the audit log (made once per day in the background), today is counted live:
/// the cost does not grow with the log.
#[utoipa::path(get, path = "/admin/v1/stats/daily", tag = "admin", security(("admin" = [])), params(DaysQuery),
    responses((status = 200, body = crate::admin::DailyStats), (status = 400, body = ErrorBody), (status = 401, body = ErrorBody)))]
pub async fn daily_stats(
    who: Admin,
    Query(q): Query<DaysQuery>,
) -> Result<Json<crate::admin::DailyStats>, ApiError> {
    Ok(Json(who.service().daily_stats(q.days.unwrap_or(30)).await?))
}

/// Aggregate statistics.
#[utoipa::path(get, path = "/admin/v1/stats", tag = "admin", security(("admin" = [])),
    responses((status = 200, body = Stats), (status = 401, body = ErrorBody)))]
pub async fn stats(who: Admin) -> Result<Json<Stats>, ApiError> {
    Ok(Json(who.service().stats().await?))
}
