//! Adding a passkey: by a signed-in user, or by someone holding an admin's enrolment
//! token (account recovery). [`verify_new_passkey`] is the one registration finish,
//! shared with passkey-first sign-up.

use std::sync::Arc;

use chrono::{DateTime, Utc};
use rp_shared::token::EnrolmentToken;
use uuid::Uuid;
use webauthn_rs_core::proto::{RegisterPublicKeyCredential, RegistrationState};

use super::Context;
use super::ceremony::{self, CeremonyError, CeremonyOptions, HasReason, Rejection};
use super::credentials::{
    CredentialError, CredentialSummary, ReauthRequired, clean_nickname, code_session,
    require_recent_sign_in,
};
use super::notices::{self, Notice};
use crate::audit::{self, Action, Actor, ClientContext, Event};
use crate::auth::CognitoUser;
use crate::ceremony::{CeremonyKind, CeremonyState};
use crate::passkeys::aaguid_of;
use crate::store::{self, Inserted, StoredCredential, User};

/// Who may register a passkey: a signed-in user, or someone holding an enrolment token
/// an admin issued for account recovery (`Authorization: Bearer rpe_…`).
pub enum Registrant {
    Cognito(CognitoUser),
    Enrolment { token_id: Uuid, user: User },
}

#[derive(Debug, thiserror::Error)]
pub enum RegistrationError {
    #[error(transparent)]
    ReauthRequired(#[from] ReauthRequired),
    #[error(transparent)]
    Ceremony(#[from] CeremonyError),
    #[error("{0}")]
    InvalidNickname(String),
    #[error("{0}")]
    Rejected(Rejection),
    #[error("This passkey is already registered.")]
    Duplicate,
    #[error("The account has {0} passkeys, as many as it may have; delete one first.")]
    TooMany(u32),
    #[error("The enrolment token is not valid (unknown, used, revoked or expired).")]
    EnrolmentTokenInvalid,
    /// The attestation does not chain to a root the metadata lists for the model; the
    /// caller names the policy.
    #[error("The passkey's attestation is not trusted.")]
    AttestationNotTrusted,
    #[error("This passkey is not allowed by the account's passkey policy `{policy}` ({}).", rule.as_str())]
    PolicyViolation {
        policy: String,
        rule: crate::policy::Rule,
    },
    #[error(transparent)]
    Db(#[from] sqlx::Error),
    #[error(transparent)]
    Internal(#[from] anyhow::Error),
}

impl HasReason for RegistrationError {
    fn reason(&self) -> &'static str {
        match self {
            Self::ReauthRequired(_) => "reauth_required",
            Self::Ceremony(e) => e.reason(),
            Self::InvalidNickname(_) => "invalid_request",
            Self::Rejected(r) => r.reason,
            Self::Duplicate => "duplicate",
            Self::TooMany(_) => "too_many_passkeys",
            Self::EnrolmentTokenInvalid => "enrolment_token",
            Self::PolicyViolation { .. } | Self::AttestationNotTrusted => "policy_violation",
            Self::Db(_) => "storage",
            Self::Internal(_) => "internal",
        }
    }
}

impl From<CredentialError> for RegistrationError {
    fn from(e: CredentialError) -> Self {
        match e {
            CredentialError::Db(e) => Self::Db(e),
            CredentialError::ReauthRequired(e) => Self::ReauthRequired(e),
            other => Self::InvalidNickname(other.to_string()),
        }
    }
}

/// The registrant an enrolment token stands for, when it is usable (unknown, used,
/// revoked and expired tokens are all `None`).
#[tracing::instrument(skip_all)]
pub async fn enrolment_registrant(cx: &Context, token: &str) -> sqlx::Result<Option<Registrant>> {
    let Some(hash) = EnrolmentToken::parse_and_hash(token) else {
        return Ok(None);
    };
    let now = cx.clock.now();
    let Some(t) = store::enrolment::usable_enrolment_token(&cx.db, &cx.site.id, &hash, now).await?
    else {
        return Ok(None);
    };
    Ok(store::users::user_by_id(&cx.db, &cx.site.id, t.user_id)
        .await?
        .map(|user| Registrant::Enrolment {
            token_id: t.id,
            user,
        }))
}

/// A Cognito registrant's sign-in must be recent; the code that began it, if one did,
/// limits what it may add. Enrolment tokens stand for an admin's decision instead.
async fn session_of(
    cx: &Context,
    who: &Registrant,
) -> Result<Option<super::credentials::CodeSession>, RegistrationError> {
    match who {
        Registrant::Cognito(who) => {
            require_recent_sign_in(cx, who)?;
            Ok(code_session(cx, who).await?)
        }
        Registrant::Enrolment { .. } => Ok(None),
    }
}

/// Whether an account with `active` passkeys may get one more: a session begun with a
/// code may add one (see `CodeSession::may_add`), and nobody more than
/// `RP_MAX_PASSKEYS_PER_USER`.
fn may_add(
    cx: &Context,
    by_code: Option<super::credentials::CodeSession>,
    active: usize,
) -> Result<(), RegistrationError> {
    if by_code.is_some_and(|session| !session.may_add(active)) {
        return Err(ReauthRequired { passkey: true }.into());
    }
    let max = cx.site.settings.max_passkeys_per_user;
    if active >= max as usize {
        return Err(RegistrationError::TooMany(max));
    }
    Ok(())
}

/// Starts registering a passkey for the registrant.
#[tracing::instrument(skip_all)]
pub async fn options(
    cx: &Context,
    who: Registrant,
    nickname: Option<&str>,
    conditional: bool,
) -> Result<CeremonyOptions, RegistrationError> {
    let by_code = session_of(cx, &who).await?;
    let nickname = clean_nickname(nickname)?;
    let mut tx = cx.db.begin().await?;
    let (user, enrolment, groups) = match who {
        Registrant::Cognito(who) => {
            let user = store::users::upsert_user(
                &mut tx,
                &cx.site.id,
                &who.sub,
                &who.username,
                cx.clock.now(),
            )
            .await?;
            // Kept for the sign-ins to come, where there is no token to read them from.
            store::users::set_groups(&mut *tx, user.id, &who.groups).await?;
            (user, None, who.groups)
        }
        Registrant::Enrolment { user, token_id } => {
            let groups = store::users::groups_of(&mut *tx, user.id).await?;
            (user, Some(token_id), groups)
        }
    };
    let existing = store::credentials::credentials_of(&mut *tx, user.id).await?;
    may_add(cx, by_code, existing.len())?;
    let policy = cx.site.settings.policies.for_groups(&groups);
    let (options, reg_state) = cx
        .site
        .rp
        .start_registration(
            user.id,
            &user.username,
            existing.into_iter().map(|c| c.credential_id).collect(),
            policy.is_some_and(|p| p.attestation),
        )
        .map_err(|e| anyhow::anyhow!("starting registration: {e:?}"))?;
    let ceremony_state = match enrolment {
        None => CeremonyState::Registration {
            nickname,
            state: reg_state,
            conditional,
        },
        Some(token_id) => CeremonyState::Enrolment {
            token_id,
            nickname,
            state: reg_state,
        },
    };
    let ceremony_id = ceremony::start(cx, &mut *tx, Some(user.id), &ceremony_state).await?;
    tx.commit().await?;
    let mut public_key = serde_json::to_value(&options.public_key).map_err(anyhow::Error::from)?;
    // A policy that wants device-bound passkeys steers the browser to a security key.
    if policy.is_some_and(crate::policy::Policy::prefers_security_keys)
        && let Some(options) = public_key.as_object_mut()
    {
        options.insert("hints".to_owned(), serde_json::json!(["security-key"]));
    }
    // A silent upgrade cannot ask for verification; it is checked at the finish.
    if conditional
        && let Some(selection) = public_key
            .get_mut("authenticatorSelection")
            .and_then(serde_json::Value::as_object_mut)
    {
        selection.insert("userVerification".to_owned(), "preferred".into());
    }
    Ok(CeremonyOptions {
        ceremony_id: ceremony_id.to_string(),
        public_key,
    })
}

/// Finishes registering: verifies the authenticator's response and stores the passkey
/// (spending the enrolment token with it, atomically, when one was used).
#[tracing::instrument(skip_all)]
pub async fn verify(
    cx: &Context,
    who: &Registrant,
    client: &ClientContext,
    ceremony_id: Uuid,
    response: &RegisterPublicKeyCredential,
    nickname: Option<&str>,
) -> Result<CredentialSummary, RegistrationError> {
    let result = finish(cx, who, client, ceremony_id, response, nickname).await;
    ceremony::count(cx, CeremonyKind::Registration, &result);
    if let Ok(added) = &result {
        let sub = match who {
            Registrant::Cognito(u) => &u.sub,
            Registrant::Enrolment { user, .. } => &user.cognito_sub,
        };
        let name = notices::passkey_name(
            added.nickname.as_deref(),
            added.authenticator_name.as_deref(),
        );
        notices::send(cx, sub, Notice::PasskeyAdded { name }, added.created_at);
    }
    result
}

async fn finish(
    cx: &Context,
    who: &Registrant,
    client: &ClientContext,
    ceremony_id: Uuid,
    response: &RegisterPublicKeyCredential,
    nickname: Option<&str>,
) -> Result<CredentialSummary, RegistrationError> {
    let by_code = session_of(cx, who).await?;
    let override_nickname = clean_nickname(nickname)?;
    let (user, kind, presented_token) = match who {
        // No user row means no registration was ever started by this user.
        Registrant::Cognito(u) => (
            store::users::user_by_sub(&cx.db, &cx.site.id, &u.sub)
                .await?
                .ok_or(CeremonyError::NotFound)?,
            CeremonyKind::Registration,
            None,
        ),
        Registrant::Enrolment { token_id, user } => {
            (user.clone(), CeremonyKind::Enrolment, Some(*token_id))
        }
    };
    let groups = match who {
        Registrant::Cognito(u) => u.groups.clone(),
        Registrant::Enrolment { user, .. } => store::users::groups_of(&cx.db, user.id).await?,
    };
    let (reg_state, nickname, enrolment, conditional) =
        take_registration(cx, ceremony_id, kind, user.id).await?;
    // The token that started an enrolment ceremony must be the one finishing it.
    if enrolment != presented_token {
        return Err(CeremonyError::NotFound.into());
    }
    let now = cx.clock.now();
    let metadata = required_attestation(cx, &groups);
    let stored = verify_new_passkey(
        cx,
        &Finishing {
            kind: CeremonyKind::Registration,
            state: &reg_state,
            conditional,
            attestation: metadata
                .as_deref()
                .map(crate::mds::Metadata::attestation_cas),
        },
        response,
        user.id,
        override_nickname.or(nickname),
        now,
    );
    let stored = attested(cx, &groups, stored, Some(&user), client).await?;
    enforce_policy(cx, &groups, &stored, Some(&user), client).await?;
    store_registered(cx, client, &user, &stored, (enrolment, by_code)).await?;
    Ok(CredentialSummary::from(&stored))
}

/// The metadata whose roots the policy of a user in `groups` requires attestations to
/// chain to.
pub fn required_attestation(cx: &Context, groups: &[String]) -> Option<Arc<crate::mds::Metadata>> {
    let policy = cx.site.settings.policies.for_groups(groups)?;
    let store = cx.site.settings.mds.as_deref()?;
    policy.attestation.then(|| store.current())
}

/// A verified new passkey, or — when its attestation was not trusted under the
/// registrant's policy — that policy's refusal, audited.
pub async fn attested(
    cx: &Context,
    groups: &[String],
    verified: Result<StoredCredential, RegistrationError>,
    user: Option<&User>,
    client: &ClientContext,
) -> Result<StoredCredential, RegistrationError> {
    match verified {
        Err(RegistrationError::AttestationNotTrusted) => {
            let name = cx
                .site
                .settings
                .policies
                .for_groups(groups)
                .map(|p| p.name.clone())
                .unwrap_or_default();
            let rule = crate::policy::Rule::Attestation;
            let details = serde_json::json!({ "policy": name, "rule": rule, "at": "registration" });
            Err(refuse(cx, name, rule, details, user, client).await)
        }
        other => other,
    }
}

/// Refuses a new passkey its registrant's policy (chosen by `groups`) does not allow,
/// with an audit event naming the policy, the rule and the authenticator model.
pub async fn enforce_policy(
    cx: &Context,
    groups: &[String],
    stored: &StoredCredential,
    user: Option<&User>,
    client: &ClientContext,
) -> Result<(), RegistrationError> {
    let violation = cx
        .site
        .settings
        .policies
        .violation(groups, stored.policy_view(), false);
    let Some((policy, rule)) = violation else {
        return Ok(());
    };
    let details = serde_json::json!({
        "policy": policy.name,
        "rule": rule,
        "aaguid": stored.aaguid,
        "backupEligible": stored.backup_eligible,
        "at": "registration",
    });
    Err(refuse(cx, policy.name.clone(), rule, details, user, client).await)
}

/// A registration's refusal by policy `name`, audited as `policy.violation` with
/// `details`; a failure to write the audit row is the refusal instead.
async fn refuse(
    cx: &Context,
    name: String,
    rule: crate::policy::Rule,
    details: serde_json::Value,
    user: Option<&User>,
    client: &ClientContext,
) -> RegistrationError {
    let actor = user.map_or(Actor::Anonymous, |u| Actor::User(u.cognito_sub.clone()));
    let mut event = Event::new(actor, Action::PolicyViolation)
        .client(client)
        .details(details);
    if let Some(u) = user {
        event = event.user(u.id, &u.cognito_sub);
    }
    match audit::record(&cx.db, &cx.site.id, cx.clock.now(), event).await {
        Ok(()) => RegistrationError::PolicyViolation { policy: name, rule },
        Err(e) => e.into(),
    }
}

/// The registration or enrolment ceremony `ceremony_id` of `user_id`, consumed: its
/// state, nickname, enrolment token and whether it is a conditional create.
async fn take_registration(
    cx: &Context,
    ceremony_id: Uuid,
    kind: CeremonyKind,
    user_id: Uuid,
) -> Result<(RegistrationState, Option<String>, Option<Uuid>, bool), RegistrationError> {
    let taken = ceremony::take(cx, ceremony_id, &[kind], Some(user_id)).await??;
    Ok(match taken.state {
        CeremonyState::Registration {
            state,
            nickname,
            conditional,
        } => (state, nickname, None, conditional),
        CeremonyState::Enrolment {
            state,
            nickname,
            token_id,
        } => (state, nickname, Some(token_id), false),
        other => {
            return Err(
                anyhow::anyhow!("a {:?} ceremony taken as a registration", other.kind()).into(),
            );
        }
    })
}

/// The new passkey, the enrolment token it spends (if any) and their audit events, in
/// one transaction. `code_session`: the registrant's session began with a code, which
/// may add one passkey only.
async fn store_registered(
    cx: &Context,
    client: &ClientContext,
    user: &User,
    stored: &StoredCredential,
    (enrolment, code_session): (Option<Uuid>, Option<super::credentials::CodeSession>),
) -> Result<(), RegistrationError> {
    let now = cx.clock.now();
    let mut tx = cx.db.begin().await?;
    if let Some(token_id) = enrolment
        && !store::enrolment::use_enrolment_token(&mut *tx, token_id, now).await?
    {
        return Err(RegistrationError::EnrolmentTokenInvalid);
    }
    // Checked again at the finish, under the user's lock: ceremonies started in
    // parallel cannot all be finished past the limit.
    may_add(
        cx,
        code_session,
        store::credentials::active_locked(&mut tx, user.id).await?,
    )?;
    if let Some(session) = code_session
        && !store::users::weak_sign_in_added_passkey(&mut *tx, session.id, now).await?
    {
        return Err(ReauthRequired { passkey: true }.into());
    }
    if let Inserted::Duplicate =
        store::credentials::insert_credential(&mut tx, &cx.site.id, stored).await?
    {
        return Err(RegistrationError::Duplicate);
    }
    let actor = match enrolment {
        Some(id) => Actor::Enrolment(id),
        None => Actor::User(user.cognito_sub.clone()),
    };
    if let Some(token_id) = enrolment {
        audit::record(
            &mut *tx,
            &cx.site.id,
            now,
            Event::new(actor.clone(), Action::EnrolmentTokenUsed)
                .user(user.id, &user.cognito_sub)
                .credential(&stored.credential_id)
                .client(client)
                .details(serde_json::json!({ "tokenId": token_id })),
        )
        .await?;
    }
    audit::record(
        &mut *tx, &cx.site.id,
        now,
        Event::new(actor, Action::CredentialRegistered)
            .user(user.id, &user.cognito_sub)
            .credential(&stored.credential_id)
            .client(client)
            .details(serde_json::json!({ "aaguid": stored.aaguid, "backupEligible": stored.backup_eligible })),
    )
    .await?;
    tx.commit().await?;
    Ok(())
}

/// The one registration finish: verifies a new passkey against the ceremony's cx and
/// returns the row to store for `user_id` (not stored yet).
/// The registration ceremony a new passkey answers.
pub struct Finishing<'a> {
    pub kind: CeremonyKind,
    pub state: &'a webauthn_rs_core::proto::RegistrationState,
    /// Started as a silent upgrade (`mediation: "conditional"`): the only kind that may
    /// finish without user presence and verification.
    pub conditional: bool,
    /// The roots a policy requires the attestation to chain to (the FIDO metadata's).
    pub attestation: Option<&'a webauthn_attestation_ca::AttestationCaList>,
}

pub fn verify_new_passkey(
    cx: &Context,
    ceremony: &Finishing<'_>,
    response: &RegisterPublicKeyCredential,
    user_id: Uuid,
    nickname: Option<String>,
    now: DateTime<Utc>,
) -> Result<StoredCredential, RegistrationError> {
    let finished = match (ceremony.conditional, ceremony.attestation) {
        // A silent upgrade carries no attestation a policy could trust.
        (true, Some(_)) => Err(webauthn_rs_core::error::WebauthnError::AttestationNotVerifiable),
        (true, None) => cx
            .site
            .rp
            .finish_conditional_registration(response, ceremony.state),
        (false, cas) => cx
            .site
            .rp
            .finish_registration(response, ceremony.state, cas),
    };
    let passkey = finished.map_err(|e| {
        if ceremony.attestation.is_some() && crate::passkeys::untrusted_attestation(&e) {
            RegistrationError::AttestationNotTrusted
        } else {
            RegistrationError::Rejected(ceremony::rejection(ceremony.kind, &e))
        }
    })?;
    let transports = response
        .response
        .transports
        .as_deref()
        .unwrap_or_default()
        .iter()
        .filter_map(|t| serde_json::to_value(t).ok()?.as_str().map(str::to_owned))
        .filter(|t| t != "unknown")
        .collect();
    let aaguid = aaguid_of(&response.response.attestation_object);
    // What the FIDO metadata says of the model, when it is configured and lists it.
    let model = match (&cx.site.settings.mds, aaguid) {
        (Some(store), Some(a)) => store.current().model(a).cloned(),
        _ => None,
    };
    Ok(StoredCredential {
        credential_id: passkey.cred_id.to_vec(),
        user_id,
        user_handle: None,
        aaguid,
        sign_count: i64::from(passkey.counter),
        backup_eligible: passkey.backup_eligible,
        backup_state: passkey.backup_state,
        transports,
        user_verified: Some(passkey.user_verified),
        // Verified against the metadata's roots (a ceremony without them attests nothing).
        attested: ceremony.attestation.is_some(),
        metadata_description: model.as_ref().and_then(|m| m.description.clone()),
        metadata_status: model.and_then(|m| m.status),
        created_at: now,
        last_used_at: None,
        revoked: None,
        nickname,
        passkey,
    })
}
