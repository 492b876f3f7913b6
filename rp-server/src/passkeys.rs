//! The WebAuthn relying party: builds options and verifies responses with
//! `webauthn-rs-core`. It holds no per-ceremony state; callers persist the states it
//! returns. Policy lives here: passkeys are discoverable (resident key required) with
//! user verification required, attestation is not requested, and origins come only
//! from configuration.

use hmac::{Hmac, Mac as _};
use sha2::Sha256;
use uuid::Uuid;
use webauthn_rs_core::WebauthnCore;
use webauthn_rs_core::error::WebauthnError;
use webauthn_rs_core::proto::{
    AllowCredentials, AttestationConveyancePreference, AuthenticationResult, AuthenticationState,
    AuthenticatorTransport, COSEAlgorithm, CreationChallengeResponse, CredProtect, Credential,
    CredentialProtectionPolicy, PublicKeyCredential, RegisterPublicKeyCredential,
    RegistrationState, RequestChallengeResponse, RequestRegistrationExtensions,
    UserVerificationPolicy,
};

use crate::config::Config;

pub struct RelyingParty {
    core: WebauthnCore,
    /// Keys the fake options given for unknown users, so they are stable per username.
    fake_key: Vec<u8>,
}

#[derive(Debug, thiserror::Error)]
#[error("invalid WebAuthn configuration: {0}")]
pub struct SetupError(String);

impl RelyingParty {
    pub fn new(config: &Config, fake_key: Vec<u8>) -> Result<Self, SetupError> {
        let origins = config
            .origins
            .iter()
            .map(|o| o.as_url())
            .collect::<Result<Vec<_>, _>>()
            .map_err(|e| SetupError(e.to_string()))?;
        let core = WebauthnCore::new_unsafe_experts_only(
            &config.rp_name,
            &config.rp_id,
            origins,
            config.ceremony_ttl,
            Some(false),
            Some(false),
        );
        Ok(Self { core, fake_key })
    }

    /// Options for registering a discoverable, user-verified passkey for `user_handle`,
    /// excluding the credentials the user already has.
    pub fn start_registration(
        &self,
        user_handle: Uuid,
        username: &str,
        exclude: Vec<Vec<u8>>,
    ) -> Result<(CreationChallengeResponse, RegistrationState), WebauthnError> {
        let extensions = RequestRegistrationExtensions {
            cred_protect: Some(CredProtect {
                credential_protection_policy: CredentialProtectionPolicy::UserVerificationRequired,
                // Enforcing makes some authenticators fail outright; UV is enforced by us.
                enforce_credential_protection_policy: Some(false),
            }),
            uvm: Some(true),
            cred_props: Some(true),
            min_pin_length: None,
            hmac_create_secret: None,
        };
        let builder = self
            .core
            .new_challenge_register_builder(user_handle.as_bytes(), username, username)?
            .attestation(AttestationConveyancePreference::None)
            // Only what webauthn-rs-core can verify (it has no EdDSA verifier).
            .credential_algorithms(vec![COSEAlgorithm::ES256, COSEAlgorithm::RS256])
            .require_resident_key(true)
            .authenticator_attachment(None)
            .user_verification_policy(UserVerificationPolicy::Required)
            .reject_synchronised_authenticators(false)
            .exclude_credentials(Some(exclude).filter(|e| !e.is_empty()))
            .extensions(Some(extensions));
        self.core.generate_challenge_register(builder)
    }

    pub fn finish_registration(
        &self,
        response: &RegisterPublicKeyCredential,
        state: &RegistrationState,
    ) -> Result<Credential, WebauthnError> {
        let credential = self.core.register_credential(response, state, None)?;
        // Registration policy is UV-required, so core has already rejected a response
        // without UV; this guards against a policy change slipping through.
        if !credential.user_verified {
            return Err(WebauthnError::UserNotVerified);
        }
        Ok(credential)
    }

    /// Options for signing in with `credentials`; an empty list asks for a
    /// discoverable credential (usernameless sign-in).
    pub fn start_authentication(
        &self,
        credentials: Vec<Credential>,
    ) -> Result<(RequestChallengeResponse, AuthenticationState), WebauthnError> {
        let builder = self
            .core
            .new_challenge_authenticate_builder(
                credentials,
                Some(UserVerificationPolicy::Required),
            )?
            .allow_backup_eligible_upgrade(false);
        self.core.generate_challenge_authenticate(builder)
    }

    /// Plausible `allowCredentials` for a user who does not exist or has no passkey:
    /// one or two credential ids derived from the username with a server key, so asking
    /// twice for the same username gives the same ids and nothing tells it apart from a
    /// real user. The challenge itself is real; verification fails as for any unknown
    /// credential.
    pub fn fake_allow_credentials(&self, username: &str) -> Vec<AllowCredentials> {
        let normalised = username.trim().to_lowercase();
        let seed = self.fake_mac(&[b"fake-credentials", normalised.as_bytes()]);
        let count = 1 + usize::from(seed[0] % 2);
        (0..count)
            .map(|i| {
                let id = self.fake_mac(&[b"fake-credential-id", normalised.as_bytes(), &[i as u8]]);
                AllowCredentials {
                    type_: "public-key".to_owned(),
                    id: id[..if seed[1].is_multiple_of(2) { 16 } else { 32 }].to_vec(),
                    transports: Some(vec![
                        AuthenticatorTransport::Hybrid,
                        AuthenticatorTransport::Internal,
                    ]),
                }
            })
            .collect()
    }

    fn fake_mac(&self, parts: &[&[u8]]) -> [u8; 32] {
        let mut mac = keyed_mac(&self.fake_key);
        for p in parts {
            mac.update(&(p.len() as u64).to_be_bytes());
            mac.update(p);
        }
        mac.finalize().into_bytes().into()
    }

    /// Verifies an assertion against the one credential it claims to come from.
    pub fn finish_authentication(
        &self,
        response: &PublicKeyCredential,
        mut state: AuthenticationState,
        credential: Credential,
    ) -> Result<AuthenticationResult, WebauthnError> {
        state.set_allowed_credentials(vec![credential]);
        self.core.authenticate_credential(response, &state)
    }
}

/// HMAC-SHA256 keyed with a server key.
pub fn keyed_mac(key: &[u8]) -> Hmac<Sha256> {
    match <Hmac<Sha256> as hmac::digest::KeyInit>::new_from_slice(key) {
        Ok(mac) => mac,
        Err(_) => unreachable_hmac(),
    }
}

#[allow(clippy::panic)]
fn unreachable_hmac() -> Hmac<Sha256> {
    panic!("HMAC-SHA256 accepts keys of any length")
}

/// The AAGUID from a registration's attestation object (`authData` bytes 37..53 when
/// attested credential data is present). webauthn-rs-core keeps it only for attested
/// registrations; we want it for every passkey, to name the authenticator.
pub fn aaguid_of(attestation_object: &[u8]) -> Option<Uuid> {
    let value: ciborium::Value = ciborium::from_reader(attestation_object).ok()?;
    let map = value.as_map()?;
    let auth_data = map
        .iter()
        .find(|(k, _)| k.as_text() == Some("authData"))?
        .1
        .as_bytes()?;
    const ATTESTED_CREDENTIAL_DATA: u8 = 0x40;
    if auth_data.len() < 53 || auth_data[32] & ATTESTED_CREDENTIAL_DATA == 0 {
        return None;
    }
    let aaguid = Uuid::from_slice(&auth_data[37..53]).ok()?;
    (!aaguid.is_nil()).then_some(aaguid)
}

/// A short, stable name for a WebAuthn error in logs and metrics, and the API code a
/// client sees. Details stay in the server log.
pub fn classify(e: &WebauthnError) -> (&'static str, &'static str) {
    match e {
        WebauthnError::CredentialPossibleCompromise => (
            "counter_regression",
            "The authenticator's signature counter went backwards; the credential may be cloned.",
        ),
        WebauthnError::InvalidRPOrigin => (
            "origin",
            "The response came from an origin that is not allowed.",
        ),
        WebauthnError::InvalidRPIDHash => {
            ("rp_id", "The response is for a different relying party.")
        }
        WebauthnError::MismatchedChallenge => (
            "challenge",
            "The response does not answer this ceremony's challenge.",
        ),
        WebauthnError::UserNotVerified => (
            "user_verification",
            "User verification (PIN or biometrics) is required.",
        ),
        WebauthnError::UserNotPresent => ("user_presence", "User presence is required."),
        WebauthnError::CredentialNotFound => {
            ("unknown_credential", "This passkey is not registered.")
        }
        WebauthnError::CredentialAlteredAlgFromRequest => (
            "policy",
            "The credential does not meet the registration policy.",
        ),
        WebauthnError::CredentialBackupEligibilityInconsistent
        | WebauthnError::CredentialMayNotBeHardwareBound => (
            "backup_flags",
            "The authenticator's backup flags are inconsistent with the registered credential.",
        ),
        _ => (
            "invalid_response",
            "The WebAuthn response could not be verified.",
        ),
    }
}
