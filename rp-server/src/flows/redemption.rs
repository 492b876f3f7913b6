//! The Verify Auth Challenge trigger's request: redeem a nonce for a Cognito challenge,
//! atomically and in one statement. Retrying with the same challenge id succeeds again
//! (Cognito retries triggers); any other challenge id or user, a spent, expired or
//! revoked nonce fails. A valid nonce always redeems, whatever failed before it: a
//! 256-bit nonce cannot be guessed, so failures are audited and counted, never used to
//! lock a user out.

use chrono::{DateTime, Utc};
use rp_shared::internal::{RedeemFailure, RedeemRequest, RedeemResponse};
use rp_shared::nonce::Nonce;
use uuid::Uuid;

use super::Context;
use super::challenge::Named;
use super::email::limits::failures_of_address;
use super::signup::clean_email;
use crate::audit::{Action, Actor, Event};
use crate::store::nonces::{self, NonceRow};

/// Why a nonce did not redeem now, from what the redemption statement saw.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Verdict {
    /// Cognito retrying the call that redeemed it: valid again, with its credential
    /// (none for an email code).
    AlreadyRedeemedHere(Option<Vec<u8>>),
    Failed(RedeemFailure),
    /// It looked redeemable, so a concurrent call redeemed it first: look again.
    LostRace,
}

/// The decision, in order, for a challenge issued to this user (one that was not fails
/// first, as `wrong_challenge`): the nonce must exist and be this user's; a retry of the
/// redeeming challenge is valid again while the nonce lives; otherwise spent, expired,
/// bound to another challenge, or its credential revoked.
pub fn why_not(
    nonce: Option<&NonceRow>,
    sub: &str,
    challenge_id: Uuid,
    now: DateTime<Utc>,
) -> Verdict {
    let Some(n) = nonce else {
        return Verdict::Failed(RedeemFailure::Unknown);
    };
    if n.cognito_sub != sub {
        Verdict::Failed(RedeemFailure::WrongUser)
    } else if n.redeemed_challenge_id == Some(challenge_id) && n.expires_at > now {
        Verdict::AlreadyRedeemedHere(n.credential_id.clone())
    } else if n.redeemed {
        Verdict::Failed(RedeemFailure::AlreadyUsed)
    } else if n.expires_at <= now {
        Verdict::Failed(RedeemFailure::Expired)
    } else if n.bound_challenge_id.is_some_and(|b| b != challenge_id) {
        Verdict::Failed(RedeemFailure::WrongChallenge)
    } else if n.credential_revoked {
        Verdict::Failed(RedeemFailure::Unknown)
    } else {
        Verdict::LostRace
    }
}

#[tracing::instrument(skip_all)]
pub async fn redeem(cx: &Context, req: &RedeemRequest) -> sqlx::Result<RedeemResponse> {
    let now = cx.clock.now();
    let challenge = Named::open(cx, &req.challenge_id);
    let outcome = attempt(cx, req, challenge.as_ref(), now).await?;
    let response = match outcome {
        Ok(credential_id) => {
            crate::metrics::nonce_redemption(&cx.site.id, "valid");
            RedeemResponse {
                valid: true,
                reason: None,
                credential_id: credential_id.map(|c| rp_shared::credential_id::encode(&c)),
            }
        }
        Err(reason) => {
            crate::metrics::nonce_redemption(&cx.site.id, reason.as_str());
            let challenge_id = challenge.as_ref().map(Named::id);
            tracing::info!(reason = reason.as_str(), challenge_id = ?challenge_id, "nonce redemption refused");
            if !req.user_sub.is_empty() {
                crate::audit::record(
                    &cx.db, &cx.site.id,
                    now,
                    Event::new(Actor::Service, Action::NonceRedeemFailed)
                        .cognito_sub(&req.user_sub)
                        .details(serde_json::json!({ "reason": reason.as_str(), "challengeId": challenge_id })),
                )
                .await?;
            }
            RedeemResponse {
                valid: false,
                reason: Some(reason),
                credential_id: None,
            }
        }
    };
    Ok(response)
}

async fn attempt(
    cx: &Context,
    req: &RedeemRequest,
    challenge: Option<&Named>,
    now: DateTime<Utc>,
) -> sqlx::Result<Result<Option<Vec<u8>>, RedeemFailure>> {
    let Some(hash) = Nonce::parse_and_hash(&req.nonce) else {
        return Ok(Err(RedeemFailure::Unknown));
    };
    // The challenge must have been issued by this site to this user, and not expired.
    let challenge_id = match challenge {
        Some(c) if c.issued_to(cx, &req.user_sub).await? => c.id(),
        _ => return Ok(Err(RedeemFailure::WrongChallenge)),
    };
    let actor = Actor::Service.label();
    // A passkey sign-in is another factor: in the same statement, it forgives the
    // failed email codes of the user's verified address in all (the day's window stays).
    let forgive = req
        .email
        .as_deref()
        .and_then(|e| clean_email(e).ok())
        .map(|e| failures_of_address(&e));
    let r = nonces::redeem(
        &cx.db,
        &cx.site.id,
        &nonces::Redeem {
            hash: &hash,
            sub: &req.user_sub,
            challenge_id,
            now,
            audit: (&actor, Action::NonceRedeemed.as_str()),
            forgive: forgive.as_deref(),
        },
    )
    .await?;
    if let Some(credential_id) = r.redeemed {
        return Ok(Ok(credential_id));
    }
    let verdict = match why_not(r.nonce.as_ref(), &req.user_sub, challenge_id, now) {
        // The statement's snapshot predates the winner's commit; read what it did.
        Verdict::LostRace => {
            let now_row = nonces::nonce(&cx.db, &cx.site.id, &hash).await?;
            match why_not(now_row.as_ref(), &req.user_sub, challenge_id, now) {
                Verdict::LostRace => Verdict::Failed(RedeemFailure::Unknown),
                settled => settled,
            }
        }
        settled => settled,
    };
    Ok(match verdict {
        Verdict::AlreadyRedeemedHere(credential_id) => Ok(credential_id),
        Verdict::Failed(reason) => Err(reason),
        Verdict::LostRace => Err(RedeemFailure::Unknown),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn why_a_redemption_failed() {
        let now = chrono::Utc::now();
        let later = now + chrono::Duration::seconds(60);
        let earlier = now - chrono::Duration::seconds(1);
        let this = Uuid::new_v4();
        let other = Uuid::new_v4();
        let row =
            |sub: &str, redeemed: Option<Uuid>, bound: Option<Uuid>, expires, revoked| NonceRow {
                cognito_sub: sub.to_owned(),
                credential_id: Some(vec![7]),
                bound_challenge_id: bound,
                redeemed_challenge_id: redeemed,
                redeemed: redeemed.is_some(),
                expires_at: expires,
                credential_revoked: revoked,
            };
        use RedeemFailure::*;
        // Spent by the OpenID provider's page: no challenge, but spent all the same.
        let spent_by_provider = NonceRow {
            redeemed: true,
            ..row("alice", None, None, later, false)
        };
        let cases: Vec<(Option<NonceRow>, Verdict)> = vec![
            (Some(spent_by_provider), Verdict::Failed(AlreadyUsed)),
            (None, Verdict::Failed(Unknown)),
            (
                Some(row("bob", None, None, later, false)),
                Verdict::Failed(WrongUser),
            ),
            (
                Some(row("alice", Some(this), None, later, false)),
                Verdict::AlreadyRedeemedHere(Some(vec![7])),
            ),
            // A retry after the nonce's lifetime is no longer valid.
            (
                Some(row("alice", Some(this), None, earlier, false)),
                Verdict::Failed(AlreadyUsed),
            ),
            (
                Some(row("alice", Some(other), None, later, false)),
                Verdict::Failed(AlreadyUsed),
            ),
            (
                Some(row("alice", None, None, earlier, false)),
                Verdict::Failed(Expired),
            ),
            (
                Some(row("alice", None, Some(other), later, false)),
                Verdict::Failed(WrongChallenge),
            ),
            (
                Some(row("alice", None, Some(this), later, true)),
                Verdict::Failed(Unknown),
            ),
            (
                Some(row("alice", None, Some(this), later, false)),
                Verdict::LostRace,
            ),
            (
                Some(row("alice", None, None, later, false)),
                Verdict::LostRace,
            ),
        ];
        for (nonce, want) in cases {
            assert_eq!(
                why_not(nonce.as_ref(), "alice", this, now),
                want,
                "{nonce:?}"
            );
        }
    }
}
