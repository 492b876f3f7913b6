//! The Create Auth Challenge trigger's request: a WebAuthn request restricted to the
//! user's passkeys, or stable fake options for an unknown user or one without passkeys
//! (so the answer never tells who has an account). One statement: the ceremony is not
//! stored but concealed into its id (decision 0024), so that a passkey-first sign-in,
//! which never answers it, leaves nothing to delete.

use rp_shared::internal::{ChallengeRequest, ChallengeResponse};
use uuid::Uuid;
use webauthn_rs_core::proto::AllowCredentials;

use super::Context;
use super::ceremony::{self, HasReason};
use super::sealed;
use crate::audit::{Action, Actor};
use crate::ceremony::{CeremonyKind, ConcealedChallenge};
use crate::store::challenges::{self, AllowedCredential, NewChallenge};

#[derive(Debug, thiserror::Error)]
pub enum ChallengeError {
    #[error("username is required.")]
    MissingUsername,
    #[error("userSub is longer than 255 bytes.")]
    SubTooLong,
    #[error(transparent)]
    Db(#[from] sqlx::Error),
    #[error(transparent)]
    Internal(#[from] anyhow::Error),
}

impl HasReason for ChallengeError {
    fn reason(&self) -> &'static str {
        match self {
            Self::MissingUsername | Self::SubTooLong => "invalid_request",
            Self::Db(_) => "storage",
            Self::Internal(_) => "internal",
        }
    }
}

#[tracing::instrument(skip_all)]
pub async fn issue(
    cx: &Context,
    req: &ChallengeRequest,
) -> Result<ChallengeResponse, ChallengeError> {
    Ok(issue_as(cx, req, Actor::Service).await?.response)
}

/// An issued challenge: the trigger's answer, and the challenge's own id (which the
/// answer carries sealed).
pub struct Issued {
    pub response: ChallengeResponse,
    pub challenge_id: Uuid,
}

/// As [`issue`], audited as `actor` (the OpenID provider's page issues username-first
/// challenges for an anonymous visitor).
pub async fn issue_as(
    cx: &Context,
    req: &ChallengeRequest,
    actor: Actor,
) -> Result<Issued, ChallengeError> {
    if req.username.trim().is_empty() {
        return Err(ChallengeError::MissingUsername);
    }
    if req.user_sub.len() > ConcealedChallenge::MAX_SUB_LEN {
        return Err(ChallengeError::SubTooLong);
    }
    let (mut options, auth_state) = cx
        .site
        .rp
        .start_authentication(Vec::new())
        .map_err(|e| anyhow::anyhow!("starting authentication: {e:?}"))?;
    let challenge_id = Uuid::new_v4();
    let ceremony_id = Uuid::new_v4();
    let now = cx.clock.now();
    let ceremony_expires_at = now + ceremony::ttl(cx);
    // The challenge outlives the ceremony by the nonce lifetime: the nonce is redeemed
    // against it after the ceremony finishes.
    let challenge_expires_at = ceremony_expires_at + ceremony::nonce_ttl(cx);
    let actor = actor.label();
    let allowed = challenges::issue(
        &cx.db,
        &cx.site.id,
        &NewChallenge {
            cognito_sub: &req.user_sub,
            user_not_found: req.user_not_found,
            created_at: now,
            audit: (
                &actor,
                Action::ChallengeIssued.as_str(),
                serde_json::json!({
                    "challengeId": challenge_id,
                    "userPoolId": req.user_pool_id,
                    "clientId": req.client_id,
                }),
            ),
        },
    )
    .await?;
    // Owned by the user only when they have passkeys, so nothing else can answer it.
    let ceremony = ConcealedChallenge {
        challenge_id,
        owner: allowed.first().map(|c| c.user_id),
        cognito_sub: req.user_sub.clone(),
        state: auth_state,
    };
    let sealed_id =
        cx.site
            .concealer
            .seal(ceremony_id, ceremony_expires_at, &ceremony.to_payload()?)?;
    crate::metrics::ceremony_started(&cx.site.id, CeremonyKind::Challenge.metric());
    let allowed = signing_in(cx, allowed);
    options.public_key.allow_credentials = if allowed.is_empty() {
        cx.site.rp.fake_allow_credentials(&req.username)
    } else {
        allowed.into_iter().map(allow).collect()
    };
    // The challenge is sealed into its id, not stored: the redemption needs to know that
    // this site issued it, to this user, and until when (decision 0024).
    let sealed_challenge = cx
        .site
        .challenges
        .seal(challenge_id, challenge_expires_at, &req.user_sub)
        .map_err(anyhow::Error::from)?;
    Ok(Issued {
        response: ChallengeResponse {
            challenge_id: sealed_challenge,
            ceremony_id: sealed_id,
            public_key: serde_json::to_value(&options.public_key).map_err(anyhow::Error::from)?,
        },
        challenge_id,
    })
}

/// What a trigger's `challengeId` names: a challenge this site sealed (decision 0024), or
/// a stored one's id (a plain UUID, issued by a release before).
pub enum Named {
    Sealed(sealed::Unsealed<String>),
    Stored(Uuid),
}

impl Named {
    /// Opens `challenge_id` (`None` for anything this site did not seal and no UUID):
    /// once per redemption, for the check and the audit alike.
    pub fn open(cx: &Context, challenge_id: &str) -> Option<Self> {
        match Uuid::parse_str(challenge_id) {
            Ok(stored) => Some(Self::Stored(stored)),
            Err(_) => cx.site.challenges.unseal(challenge_id).map(Self::Sealed),
        }
    }

    pub fn id(&self) -> Uuid {
        match self {
            Self::Sealed(open) => open.id,
            Self::Stored(id) => *id,
        }
    }

    /// Whether this site issued the challenge to `sub` and it has not expired.
    pub async fn issued_to(&self, cx: &Context, sub: &str) -> sqlx::Result<bool> {
        let now = cx.clock.now();
        match self {
            Self::Sealed(open) => Ok(open.state == sub && open.expires_at > now),
            Self::Stored(id) => challenges::issued(&cx.db, &cx.site.id, *id, sub, now).await,
        }
    }
}

/// The passkeys that may still sign in: those its user's policy, enforced at sign-in,
/// allows (all of them without such a policy).
fn signing_in(cx: &Context, allowed: Vec<AllowedCredential>) -> Vec<AllowedCredential> {
    let policies = &cx.site.settings.policies;
    if !policies.enforced_on_sign_in() {
        return allowed;
    }
    allowed
        .into_iter()
        .filter(|c| {
            let passkey = crate::policy::Passkey {
                aaguid: c.aaguid,
                backup_eligible: c.backup_eligible,
                attested: c.attested,
            };
            policies.violation(&c.user_groups, passkey, true).is_none()
        })
        .collect()
}

fn allow(c: AllowedCredential) -> AllowCredentials {
    crate::passkeys::allow_credential(c.credential_id, &c.transports)
}
