//! The state of an in-flight WebAuthn ceremony, kept server-side between its start and
//! its finish. One enum for every kind, so a ceremony can only be finished by the flow
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
