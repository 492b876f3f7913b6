//! The state of an in-flight WebAuthn ceremony, kept server-side between its start and
//! its finish (or, for sign-ins, sealed into its id: decisions 0008 and 0024). One enum for every kind, so a ceremony can only be finished by the flow
//! that started it and carries exactly what that flow needs. The user a ceremony belongs
//! to (its *owner*) is stored beside it, so finishing can require the same user.

use serde::{Deserialize, Serialize};
use uuid::Uuid;
use webauthn_rs_core::proto::{AuthenticationState, RegistrationState};

#[derive(Debug, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum CeremonyState {
    /// A signed-in user adding a passkey (the ceremony's owner).
    Registration {
        nickname: Option<String>,
        state: RegistrationState,
        /// Started with `mediation: "conditional"` (a silent upgrade): only such a
        /// ceremony may finish without user presence and verification.
        #[serde(default, skip_serializing_if = "std::ops::Not::not")]
        conditional: bool,
    },
    /// Someone holding an admin's enrolment token adding a passkey for its user (the
    /// ceremony's owner).
    Enrolment {
        token_id: Uuid,
        nickname: Option<String>,
        state: RegistrationState,
    },
    /// Passkey-first sign-up of someone who is not a Cognito user yet, with the WebAuthn
    /// user handle chosen for them.
    SignUp {
        email: String,
        user_handle: Uuid,
        state: RegistrationState,
        /// The hash of the `signupToken` that proved the address, spent when the
        /// sign-up finishes; `None` when sign-up does not verify addresses.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        verified_by: Option<Vec<u8>>,
    },
    /// A usernameless sign-in (`/v1/authentication/options`).
    SignIn { state: AuthenticationState },
    /// A username-first sign-in started by the Create Auth Challenge trigger; its owner
    /// is the user with passkeys it was issued for, none for an unknown user or one
    /// without passkeys (then nothing can answer it).
    Challenge {
        challenge_id: Uuid,
        /// The Cognito user it was issued for, as Cognito named them ("" if it did not).
        cognito_sub: String,
        state: AuthenticationState,
    },
}

/// The kinds, as stored in `ceremonies.kind` and used as metric labels' source.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CeremonyKind {
    Registration,
    Enrolment,
    SignUp,
    SignIn,
    Challenge,
}

impl CeremonyKind {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Registration => "registration",
            Self::Enrolment => "enrolment",
            Self::SignUp => "sign_up",
            Self::SignIn => "sign_in",
            Self::Challenge => "challenge",
        }
    }

    /// The `kind` label of the ceremony metrics (stable for dashboards).
    pub fn metric(self) -> &'static str {
        match self {
            Self::Registration | Self::Enrolment => "registration",
            Self::SignUp => "signup",
            Self::SignIn | Self::Challenge => "authentication",
        }
    }
}

impl CeremonyState {
    pub fn kind(&self) -> CeremonyKind {
        match self {
            Self::Registration { .. } => CeremonyKind::Registration,
            Self::Enrolment { .. } => CeremonyKind::Enrolment,
            Self::SignUp { .. } => CeremonyKind::SignUp,
            Self::SignIn { .. } => CeremonyKind::SignIn,
            Self::Challenge { .. } => CeremonyKind::Challenge,
        }
    }
}

/// A Create trigger's ceremony as its concealed id carries it (decision 0024), laid out
/// so that its length is the same for every user whose `sub` has the same length: the
/// challenge id, the owner (the nil UUID for none), the `sub` after its length, then the
/// WebAuthn state as JSON (whose length does not depend on the user: the state of a
/// trigger's ceremony names no passkeys).
#[derive(Debug)]
pub struct ConcealedChallenge {
    pub challenge_id: Uuid,
    /// The user with passkeys it was issued for; none for an unknown user or one without
    /// passkeys (then nothing can answer it).
    pub owner: Option<Uuid>,
    pub cognito_sub: String,
    pub state: AuthenticationState,
}

impl ConcealedChallenge {
    /// The longest `sub` a concealed ceremony carries (Cognito's are 36-byte UUIDs).
    pub const MAX_SUB_LEN: usize = u8::MAX as usize;

    pub fn to_payload(&self) -> anyhow::Result<Vec<u8>> {
        let sub = self.cognito_sub.as_bytes();
        let sub_len = u8::try_from(sub.len())
            .map_err(|_| anyhow::anyhow!("a sub longer than {} bytes", Self::MAX_SUB_LEN))?;
        let mut payload = Vec::with_capacity(16 + 16 + 1 + sub.len() + 192);
        payload.extend_from_slice(self.challenge_id.as_bytes());
        payload.extend_from_slice(self.owner.unwrap_or(Uuid::nil()).as_bytes());
        payload.push(sub_len);
        payload.extend_from_slice(sub);
        serde_json::to_writer(&mut payload, &self.state)?;
        Ok(payload)
    }

    /// The ceremony `payload` carries (trailing padding allowed), if it is one.
    pub fn from_payload(payload: &[u8]) -> Option<Self> {
        let (challenge_id, rest) = payload.split_at_checked(16)?;
        let (owner, rest) = rest.split_at_checked(16)?;
        let (sub_len, rest) = rest.split_first()?;
        let (sub, state) = rest.split_at_checked(usize::from(*sub_len))?;
        let owner = Uuid::from_slice(owner).ok()?;
        Some(Self {
            challenge_id: Uuid::from_slice(challenge_id).ok()?,
            owner: (!owner.is_nil()).then_some(owner),
            cognito_sub: String::from_utf8(sub.to_vec()).ok()?,
            state: serde_json::from_slice(state).ok()?,
        })
    }

    /// The stored form's state, for the flow that finishes both.
    pub fn into_state(self) -> (CeremonyState, Option<Uuid>) {
        (
            CeremonyState::Challenge {
                challenge_id: self.challenge_id,
                cognito_sub: self.cognito_sub,
                state: self.state,
            },
            self.owner,
        )
    }
}
