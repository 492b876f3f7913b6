//! The admin API (`/admin/v1/*`): credential management, account recovery, audit log,
//! statistics. `Authorization: Bearer` an admin token (automation) or the Cognito access
//! token of a member of `RP_ADMIN_GROUP` (the console). Off (404) when there is neither
//! an admin token nor the console. The audit log names the admin by the token presented
//! (`admin:api:<name>`: `admin` for `RP_ADMIN_TOKEN`, the names of `RP_ADMIN_TOKENS`) or
//! by their Cognito identity (`admin:cognito:<sub> <email>`).

use axum::extract::FromRequestParts;
use axum::http::StatusCode;
use axum::http::request::Parts;
use axum::response::IntoResponse as _;
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

/// An authenticated admin: the request's context, who the audit log names, and how
/// they proved it.
pub struct Admin {
    cx: Context,
    actor: String,
    /// A member of `RP_ADMIN_GROUP` by their access token: when they signed in. `None`
    /// for an admin token (automation has no sign-in to be fresh).
    member_auth_time: Option<Option<i64>>,
}

impl Admin {
    /// The admin service, acting for this admin at the request's site.
    fn service(&self) -> AdminService<'_> {
        AdminService::for_site(&self.cx, &self.actor)
    }

    /// The service for a destructive action (revoke, reset, enrolment, unlock): a
    /// member's sign-in must be no older than `RP_REAUTH_MAX_AGE_SECS`, else 401
    /// `REAUTH_REQUIRED` and the console asks for their passkey again.
    fn destructive(&self) -> Result<AdminService<'_>, ApiError> {
        if let Some(auth_time) = self.member_auth_time {
            let settings = &self.cx.site.settings;
            if !crate::flows::credentials::recently_signed_in(
                auth_time,
                self.cx.clock.now(),
                settings.reauth_max_age,
            ) {
                return Err(ApiError::UnauthorizedCode {
                    code: ErrorCode::ReauthRequired,
                    message: "Sign in again with your passkey to do this.",
                });
            }
        }
        Ok(self.service())
    }
}

impl FromRequestParts<AppState> for Admin {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, ApiError> {
        let sites = state.sites();
        if !sites.any_admin_api() {
            return Err(ApiError::not_found(
                ErrorCode::AdminApiDisabled,
                "The admin API is off (no RP_ADMIN_TOKEN, RP_ADMIN_TOKENS or console).",
            ));
        }
        let token = auth::bearer(&parts.headers).ok_or(ApiError::Unauthorized(
            "An admin token or an admin's Cognito access token is required.",
        ))?;
        // The site: the one the path names (`/admin/v1/sites/{site}/…`), else the one the
        // Host names (the console on a site's host), else the admin site.
        let host = super::extract::host_of(&parts.headers, &parts.uri);
        let site = match parts.extensions.get::<super::AdminScope>() {
            Some(super::AdminScope(id)) => {
                sites.by_id(id).ok_or_else(super::extract::unknown_site)?
            }
            None => sites.for_host(host).unwrap_or(sites.admin()),
        };
        // The audit names the token's holder; nothing the caller sends can change it. A
        // token is the site's own or a global one (its configuration holds both).
        if let Some(name) = auth::admin_named(token, &site.config.admin_identities()) {
            return Ok(Self {
                cx: state.context(site),
                actor: format!("admin:api:{name}"),
                member_auth_time: None,
            });
        }
        // The site's admin group (each pool has its own groups).
        let Some(group) = site.config.admin_group.as_deref() else {
            return Err(ApiError::Unauthorized("A valid admin token is required."));
        };
        if !auth::looks_like_jwt(token) {
            return Err(ApiError::Unauthorized(
                "A valid admin token or an admin's Cognito access token is required.",
            ));
        }
        // Membership is read from the token: a member removed from the group keeps
        // access only until the token expires (Cognito's own access-token lifetime).
        // A member of the admin group in the site's own pool: the token verifies only there.
        let cx = state.context(site);
        let user = super::identity::cognito_user(&cx, token).await?;
        if !user.groups.iter().any(|g| g == group) {
            tracing::info!(sub = %user.sub, "admin API refused: not in the admin group");
            return Err(ApiError::Forbidden {
                code: ErrorCode::NotAnAdmin,
                message: "You are signed in, but not a member of the admin group.",
            });
        }
        let actor = crate::admin::member_actor(&cx, &user.sub).await;
        Ok(Self {
            cx,
            actor,
            member_auth_time: Some(user.auth_time),
        })
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
    /// The passkey policy the user is under and the active passkeys that break it
    /// (absent without policies).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub policy: Option<crate::admin::UserPolicyState>,
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
    let service = who.service();
    let (user, credentials) = service.credentials(&r).await?;
    let policy = service.policy_state(&user, &credentials).await?;
    Ok(Json(UserCredentials {
        user_sub: user.cognito_sub,
        username: user.username,
        credentials,
        policy,
    }))
}

/// Finds users by the start of their email (in the pool), username or `sub`, a page
/// at a time.
#[utoipa::path(get, path = "/admin/v1/users/search", tag = "admin", security(("admin" = [])), params(crate::admin::UserSearchQuery),
    responses((status = 200, body = crate::admin::UserSearch), (status = 400, body = ErrorBody), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody)))]
pub async fn search_users(
    who: Admin,
    Query(q): Query<crate::admin::UserSearchQuery>,
) -> Result<Json<crate::admin::UserSearch>, ApiError> {
    Ok(Json(who.service().search_users(&q).await?))
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
    let revoked = who
        .destructive()?
        .revoke(&id, body.reason.as_deref())
        .await?;
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
    let outcome = who
        .destructive()?
        .reset(&sub, body.reason.as_deref())
        .await?;
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
    Ok(Json(who.destructive()?.unlock(&sub).await?))
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
        .destructive()?
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
    Ok(Json(who.destructive()?.revoke_enrolment_token(id).await?))
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

/// The audit log as CSV (`text/csv`, a header row, then the events matching the same
/// filters as `/admin/v1/audit-events`, newest first; `cursor` and `limit` are ignored):
/// streamed from the database 500 rows at a time, never buffered whole.
#[utoipa::path(get, path = "/admin/v1/audit-events.csv", tag = "admin", security(("admin" = [])), params(AuditFilter),
    responses((status = 200, content_type = "text/csv", body = String, description = "occurred_at, actor, action, user_sub, credential_id, ip, user_agent, details"),
        (status = 400, body = ErrorBody), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody)))]
pub async fn audit_csv(
    who: Admin,
    Query(filter): Query<AuditFilter>,
) -> Result<axum::response::Response, ApiError> {
    let rows = crate::admin::audit_csv(who.cx.db.clone(), who.cx.site.id.clone(), filter)?;
    Ok(download(
        "text/csv; charset=utf-8",
        "audit-events.csv",
        "the audit CSV export",
        rows,
    ))
}

/// A file streamed to the admin as it is read (`Content-Disposition: attachment`, not
/// cached). A failure after the first bytes can only cut the body short: it is logged.
fn download(
    content_type: &'static str,
    filename: &'static str,
    what: &'static str,
    chunks: impl futures::Stream<Item = Result<Vec<u8>, crate::admin::AdminError>> + Send + 'static,
) -> axum::response::Response {
    use axum::http::header;
    use futures::TryStreamExt as _;
    let chunks = chunks.inspect_err(move |e| {
        tracing::warn!(error = %e, "{what} stopped early");
    });
    (
        [
            (header::CONTENT_TYPE, content_type.to_owned()),
            (
                header::CONTENT_DISPOSITION,
                format!("attachment; filename=\"{filename}\""),
            ),
            (header::CACHE_CONTROL, "no-store".to_owned()),
        ],
        axum::body::Body::from_stream(chunks),
    )
        .into_response()
}

/// Imports passkeys made under this RP ID elsewhere: a JSON Lines body
/// (`Content-Type: application/x-ndjson`, one passkey record per line, the README's
/// format), read as it arrives. Each line is imported whole or not at all; a re-run
/// reports what is present already. The answer is the report: counts, and every refused
/// line with its number, code and reason. Large files: `rp-server admin import` (the
/// request timeout bounds this call; what it imported stays).
#[utoipa::path(post, path = "/admin/v1/imports", tag = "admin", security(("admin" = [])), params(crate::admin::ImportOptions),
    request_body(content = String, content_type = "application/x-ndjson", description = "One passkey record per line"),
    responses((status = 200, body = crate::admin::ImportReport), (status = 400, body = ErrorBody), (status = 401, body = ErrorBody),
        (status = 403, body = ErrorBody), (status = 415, body = ErrorBody)))]
pub async fn import(
    who: Admin,
    Query(options): Query<crate::admin::ImportOptions>,
    request: axum::extract::Request,
) -> Result<Json<crate::admin::ImportReport>, ApiError> {
    use futures::StreamExt as _;
    let ndjson = request
        .headers()
        .get(axum::http::header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.split(';').next())
        .is_some_and(|m| m.trim().eq_ignore_ascii_case("application/x-ndjson"));
    if !ndjson {
        return Err(ApiError::UnsupportedMediaType {
            message: "Expected `Content-Type: application/x-ndjson` (one passkey record per line)."
                .to_owned(),
        });
    }
    let service = who.destructive()?;
    let mut importer = service.importer(options);
    let mut lines = crate::admin::Lines::new();
    let mut body = request.into_body().into_data_stream();
    while let Some(chunk) = body.next().await {
        let chunk = chunk.map_err(|_| {
            ApiError::bad_request(
                ErrorCode::InvalidRequest,
                "The request body could not be read.",
            )
        })?;
        lines.feed(&mut importer, &chunk).await?;
    }
    lines.finish(&mut importer).await?;
    Ok(Json(importer.finish().await?))
}

#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct ExportQuery {
    /// Only this user's passkeys (Cognito `sub`).
    pub sub: Option<String>,
}

/// Every active passkey (or one user's) as JSON Lines in the import format — public data
/// only (credential id, public key, counter, user handle, flags, names): leaving is as
/// easy as arriving. Streamed 500 passkeys a statement.
#[utoipa::path(get, path = "/admin/v1/exports", tag = "admin", security(("admin" = [])), params(ExportQuery),
    responses((status = 200, content_type = "application/x-ndjson", body = String, description = "One passkey record per line"),
        (status = 401, body = ErrorBody), (status = 403, body = ErrorBody)))]
pub async fn export(
    who: Admin,
    Query(q): Query<ExportQuery>,
) -> Result<axum::response::Response, ApiError> {
    Ok(download(
        "application/x-ndjson",
        "passkeys.jsonl",
        "the passkey export",
        crate::admin::export(who.cx.db.clone(), who.cx.site.id.clone(), q.sub),
    ))
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
