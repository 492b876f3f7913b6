//! Finding users: by the start of their email (in the pool), username or `sub` (in
//! rp-server's own users), a page at a time.

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::{AdminError, AdminService};
use crate::store::users::{self, UserMatch};

/// A search, as the API's query string gives it.
#[derive(Debug, Clone, Deserialize, utoipa::IntoParams)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
#[into_params(parameter_in = Query, rename_all = "camelCase")]
pub struct UserSearchQuery {
    /// The start of an email (when it holds `@`; looked up in the pool), or of a
    /// username (any case) or `sub` (1-128 characters).
    pub q: String,
    /// `nextCursor` of the previous page.
    pub cursor: Option<String>,
    /// Page size, 1-60 (default 20).
    pub limit: Option<i64>,
}

/// One user found.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct UserSummary {
    pub sub: String,
    pub username: String,
    /// Known when the search was by email.
    pub email: Option<String>,
    /// Passkeys not revoked (0 for a pool user rp-server has never seen).
    pub active_passkeys: i64,
    pub last_used_at: Option<DateTime<Utc>>,
}

#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct UserSearch {
    pub users: Vec<UserSummary>,
    /// Pass as `cursor` for the next page; absent on the last.
    pub next_cursor: Option<String>,
}

/// Where a search stopped: after a user of ours, or at a page token of Cognito's.
#[derive(Debug, Serialize, Deserialize)]
#[serde(tag = "k", rename_all = "lowercase")]
enum Cursor {
    Users { username: String, sub: String },
    Pool { token: String },
}

impl Cursor {
    fn encode(&self) -> String {
        URL_SAFE_NO_PAD.encode(serde_json::to_vec(self).unwrap_or_default())
    }

    fn decode(raw: &str) -> Result<Self, AdminError> {
        URL_SAFE_NO_PAD
            .decode(raw)
            .ok()
            .and_then(|b| serde_json::from_slice(&b).ok())
            .ok_or_else(|| {
                AdminError::InvalidCursor("the cursor is not one this server issued".to_owned())
            })
    }
}

impl From<UserMatch> for UserSummary {
    fn from(m: UserMatch) -> Self {
        Self {
            sub: m.cognito_sub,
            username: m.username,
            email: None,
            active_passkeys: m.active_passkeys,
            last_used_at: m.last_used_at,
        }
    }
}

impl AdminService<'_> {
    /// Users whose email, username or `sub` starts with `q.q`: by email in the pool
    /// (`ListUsers` with `email ^= …`, Cognito's pages) when `q` holds `@`, else among
    /// the users rp-server knows (those who ever started a passkey ceremony).
    #[tracing::instrument(skip_all)]
    pub async fn search_users(&self, q: &UserSearchQuery) -> Result<UserSearch, AdminError> {
        let text = q.q.trim();
        if text.is_empty() || text.chars().count() > 128 {
            return Err(AdminError::Invalid(
                "`q` must be 1-128 characters".to_owned(),
            ));
        }
        let limit = q.limit.unwrap_or(20);
        if !(1..=60).contains(&limit) {
            return Err(AdminError::Invalid("`limit` must be 1-60".to_owned()));
        }
        let cursor = q.cursor.as_deref().map(Cursor::decode).transpose()?;
        if text.contains('@') {
            let cognito = self.cognito.ok_or_else(|| {
                AdminError::Invalid(
                    "searching by email needs RP_COGNITO_USER_POOL_ID; search by username or sub"
                        .to_owned(),
                )
            })?;
            let page = match cursor {
                None => None,
                Some(Cursor::Pool { token }) => Some(token),
                Some(Cursor::Users { .. }) => {
                    return Err(AdminError::InvalidCursor(
                        "the cursor belongs to another search".to_owned(),
                    ));
                }
            };
            let (found, next) = cognito
                .users_with_email_prefix(text, limit as i32, page)
                .await?;
            let subs: Vec<String> = found.iter().map(|u| u.sub.clone()).collect();
            let known = users::matches_by_sub(self.db, self.site, &subs).await?;
            let users = found
                .into_iter()
                .map(|u| {
                    let ours = known.iter().find(|m| m.cognito_sub == u.sub);
                    UserSummary {
                        active_passkeys: ours.map_or(0, |m| m.active_passkeys),
                        last_used_at: ours.and_then(|m| m.last_used_at),
                        sub: u.sub,
                        username: u.username,
                        email: u.email,
                    }
                })
                .collect();
            return Ok(UserSearch {
                users,
                next_cursor: next.map(|token| Cursor::Pool { token }.encode()),
            });
        }
        let after = match &cursor {
            None => None,
            Some(Cursor::Users { username, sub }) => Some((username.as_str(), sub.as_str())),
            Some(Cursor::Pool { .. }) => {
                return Err(AdminError::InvalidCursor(
                    "the cursor belongs to another search".to_owned(),
                ));
            }
        };
        let mut found = users::search(self.db, self.site, text, after, limit + 1).await?;
        let more = found.len() as i64 > limit;
        found.truncate(limit as usize);
        let next_cursor = more.then(|| found.last()).flatten().map(|m| {
            Cursor::Users {
                username: m.username.to_lowercase(),
                sub: m.cognito_sub.clone(),
            }
            .encode()
        });
        Ok(UserSearch {
            users: found.into_iter().map(UserSummary::from).collect(),
            next_cursor,
        })
    }
}
