//! Enrolment tokens: one-time tokens an admin issues so a user can register a passkey
//! again (account recovery).

use chrono::{DateTime, Duration, Utc};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use uuid::Uuid;

use super::{AdminError, AdminService, UserRef};
use crate::audit::{self, Action, Actor, Event};
use crate::store::{EnrolmentToken, enrolment, users};

/// What admins see of an enrolment token.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct EnrolmentTokenView {
    pub id: Uuid,
    pub user_sub: String,
    pub created_by: String,
    pub created_at: DateTime<Utc>,
    pub expires_at: DateTime<Utc>,
    pub used_at: Option<DateTime<Utc>>,
    pub revoked_at: Option<DateTime<Utc>>,
    /// `pending`, `used`, `revoked` or `expired`.
    pub status: String,
}

fn token_view(t: &EnrolmentToken, sub: &str, now: DateTime<Utc>) -> EnrolmentTokenView {
    let status = if t.used_at.is_some() {
        "used"
    } else if t.revoked_at.is_some() {
        "revoked"
    } else if t.expires_at <= now {
        "expired"
    } else {
        "pending"
    };
    EnrolmentTokenView {
        id: t.id,
        user_sub: sub.to_owned(),
        created_by: t.created_by.clone(),
        created_at: t.created_at,
        expires_at: t.expires_at,
        used_at: t.used_at,
        revoked_at: t.revoked_at,
        status: status.to_owned(),
    }
}

/// A new enrolment token; `token` is shown this once and stored only as a hash.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct IssuedEnrolmentToken {
    pub token: String,
    #[serde(flatten)]
    pub details: EnrolmentTokenView,
}

impl AdminService<'_> {
    /// Issues a one-time enrolment token for `sub`, living `ttl_secs` (default
    /// `RP_ENROLMENT_TTL_SECS`, at most 7 days). A user unknown to rp-server (no passkey
    /// ever) is created when `username` is given.
    #[tracing::instrument(skip_all)]
    pub async fn issue_enrolment_token(
        &self,
        sub: &str,
        username: Option<&str>,
        ttl_secs: Option<u64>,
    ) -> Result<IssuedEnrolmentToken, AdminError> {
        let ttl = match ttl_secs {
            Some(s) => Duration::seconds(i64::try_from(s).unwrap_or(i64::MAX).min(i64::MAX / 1000)),
            None => Duration::from_std(self.enrolment_ttl).unwrap_or(Duration::minutes(15)),
        };
        if ttl <= Duration::zero() || ttl > Duration::days(7) {
            return Err(AdminError::Invalid(
                "the lifetime must be between 1 second and 7 days".to_owned(),
            ));
        }
        let (actor, now) = (self.actor, self.now);
        let mut tx = self.db.begin().await?;
        let user = match (
            users::user_by_sub(&mut *tx, self.site, sub).await?,
            username,
        ) {
            (Some(u), _) => u,
            (None, Some(name)) if !name.trim().is_empty() => {
                users::upsert_user(&mut tx, self.site, sub, name.trim(), now).await?
            }
            (None, _) => return Err(AdminError::UserNotFound),
        };
        let token = rp_shared::token::EnrolmentToken::generate();
        let record = EnrolmentToken {
            id: Uuid::new_v4(),
            user_id: user.id,
            created_by: actor.to_owned(),
            created_at: now,
            expires_at: now + ttl,
            used_at: None,
            revoked_at: None,
        };
        enrolment::insert_enrolment_token(&mut *tx, self.site, &record, &token.hash()).await?;
        audit::record(
            &mut *tx,
            self.site,
            now,
            Event::new(Actor::Admin(actor.to_owned()), Action::EnrolmentTokenIssued)
                .user(user.id, &user.cognito_sub)
                .details(
                    serde_json::json!({ "tokenId": record.id, "expiresAt": record.expires_at }),
                ),
        )
        .await?;
        tx.commit().await?;
        Ok(IssuedEnrolmentToken {
            token: token.expose().to_owned(),
            details: token_view(&record, &user.cognito_sub, now),
        })
    }

    /// A user's enrolment tokens (never the tokens themselves).
    #[tracing::instrument(skip_all)]
    pub async fn enrolment_tokens(&self, sub: &str) -> Result<Vec<EnrolmentTokenView>, AdminError> {
        let user = self.find_user(&UserRef::Sub(sub.to_owned())).await?;
        Ok(enrolment::enrolment_tokens_of(self.db, user.id)
            .await?
            .iter()
            .map(|t| token_view(t, &user.cognito_sub, self.now))
            .collect())
    }

    #[tracing::instrument(skip_all)]
    pub async fn revoke_enrolment_token(&self, id: Uuid) -> Result<EnrolmentTokenView, AdminError> {
        let (actor, now) = (self.actor, self.now);
        let mut tx = self.db.begin().await?;
        let t = enrolment::revoke_enrolment_token(&mut *tx, self.site, id, now)
            .await?
            .ok_or(AdminError::TokenNotFound)?;
        let user = users::user_by_id(&mut *tx, self.site, t.user_id)
            .await?
            .ok_or(AdminError::TokenNotFound)?;
        audit::record(
            &mut *tx,
            self.site,
            now,
            Event::new(
                Actor::Admin(actor.to_owned()),
                Action::EnrolmentTokenRevoked,
            )
            .user(user.id, &user.cognito_sub)
            .details(serde_json::json!({ "tokenId": id })),
        )
        .await?;
        tx.commit().await?;
        Ok(token_view(&t, &user.cognito_sub, now))
    }
}
