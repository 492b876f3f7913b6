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
    /// A P-256 credential nobody holds the private key of: assertions that cannot be
    /// checked against a real credential are checked against it, so the answer costs
    /// the same time whether or not a passkey exists.
    decoy: Credential,
    /// What real users' `allowCredentials` look like, for fake options.
    shapes: std::sync::RwLock<FakeShapes>,
    /// Keys the fake options given for unknown users, so they are stable per username.
    fake_key: Vec<u8>,
}

#[derive(Debug, thiserror::Error)]
#[error("invalid WebAuthn configuration: {0}")]
pub struct SetupError(String);

impl RelyingParty {
    pub fn new(config: &Config, fake_key: Vec<u8>) -> Result<Self, SetupError> {
        // RP_ORIGINS, and the related origins that may use RP_ID's passkeys.
        let origins = config
            .origins
            .iter()
            .map(|o| o.as_url())
            .chain(config.related_origins.iter().cloned().map(Ok))
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
        let decoy = serde_json::from_str(DECOY_CREDENTIAL)
            .map_err(|e| SetupError(format!("the decoy credential: {e}")))?;
        Ok(Self {
            core,
            fake_key,
            decoy,
            shapes: std::sync::RwLock::new(FakeShapes::default()),
        })
    }

    /// Options for registering a discoverable, user-verified passkey for `user_handle`,
    /// excluding the credentials the user already has.
    pub fn start_registration(
        &self,
        user_handle: Uuid,
        username: &str,
        exclude: Vec<Vec<u8>>,
        attested: bool,
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
            // A policy that requires attestation asks the authenticator for its statement.
            .attestation(if attested {
                AttestationConveyancePreference::Direct
            } else {
                AttestationConveyancePreference::None
            })
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

    /// Finishes a registration; with `attestation_cas`, the attestation must chain to one
    /// of them, for the model (AAGUID) the CA is listed for.
    pub fn finish_registration(
        &self,
        response: &RegisterPublicKeyCredential,
        state: &RegistrationState,
        attestation_cas: Option<&webauthn_attestation_ca::AttestationCaList>,
    ) -> Result<Credential, WebauthnError> {
        let credential = self
            .core
            .register_credential(response, state, attestation_cas)?;
        // Registration policy is UV-required, so core has already rejected a response
        // without UV; this guards against a policy change slipping through.
        if !credential.user_verified {
            return Err(WebauthnError::UserNotVerified);
        }
        Ok(credential)
    }

    /// Finishes a *conditional create* (WebAuthn Level 3): a password manager making a
    /// passkey without a prompt may answer with user presence and user verification
    /// both false. webauthn-rs-core refuses a registration without them, so the flags
    /// are checked here (decision 0009): when the attestation statement is `none` (it
    /// signs nothing, so the flags are not under a signature), core is shown the
    /// response with UP and UV set and verifies everything else as usual, and the
    /// credential records the UV the authenticator really reported. Any other
    /// attestation format must carry both flags itself.
    pub fn finish_conditional_registration(
        &self,
        response: &RegisterPublicKeyCredential,
        state: &RegistrationState,
    ) -> Result<Credential, WebauthnError> {
        let (shown, really_verified) = with_presence_flags(response)?;
        let mut credential = self.core.register_credential(&shown, state, None)?;
        credential.user_verified = really_verified;
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
    /// as many entries, of such id lengths and transports, as real users' passkeys have
    /// ([`FakeShapes`], learned from the database), each drawn with a server-keyed HMAC
    /// of the username, so asking twice for the same username gives the same answer and
    /// nothing tells it apart from a real user. The challenge itself is real;
    /// verification fails as for any unknown credential.
    pub fn fake_allow_credentials(&self, username: &str) -> Vec<AllowCredentials> {
        let normalised = username.trim().to_lowercase();
        let shapes = self
            .shapes
            .read()
            .unwrap_or_else(|p| p.into_inner())
            .clone();
        let draw = |what: &[u8], i: u8| -> f64 {
            let mac = self.fake_mac(&[what, normalised.as_bytes(), &[i]]);
            let mut first = [0u8; 8];
            first.copy_from_slice(&mac[..8]);
            (u64::from_be_bytes(first) >> 11) as f64 / (1u64 << 53) as f64
        };
        let count = pick(&shapes.per_user, draw(b"fake-count", 0))
            .unwrap_or(1)
            .clamp(1, 10);
        (0..count as u8)
            .map(|i| {
                let len = pick(&shapes.id_lengths, draw(b"fake-length", i))
                    .unwrap_or(16)
                    .clamp(16, 1023);
                let mut id = Vec::with_capacity(len);
                let mut block = 0u8;
                while id.len() < len {
                    id.extend_from_slice(&self.fake_mac(&[
                        b"fake-credential-id",
                        normalised.as_bytes(),
                        &[i, block],
                    ]));
                    block = block.wrapping_add(1);
                }
                id.truncate(len);
                let transports =
                    pick(&shapes.transports, draw(b"fake-transports", i)).unwrap_or_default();
                allow_credential(id, &transports)
            })
            .collect()
    }

    /// Which users' passkeys the shapes are learned from: a range of user ids around an
    /// anchor drawn from the fake options' key, so every instance of the site, before and
    /// after a restart, reads the same users.
    pub fn shape_sample(&self) -> ShapeSample {
        let mac = self.fake_mac(&[b"shape-sample"]);
        let mut anchor = [0u8; 16];
        anchor.copy_from_slice(&mac[..16]);
        ShapeSample {
            anchor: Uuid::from_bytes(anchor),
            users: crate::store::credentials::SHAPE_SAMPLE_USERS,
        }
    }

    /// Learns the shapes fake options copy from real users' passkeys.
    pub fn learn_shapes(&self, shapes: FakeShapes) {
        if shapes.per_user.is_empty() {
            return;
        }
        *self.shapes.write().unwrap_or_else(|p| p.into_inner()) = shapes;
    }

    fn fake_mac(&self, parts: &[&[u8]]) -> [u8; 32] {
        let mut mac = keyed_mac(&self.fake_key);
        for p in parts {
            mac.update(&(p.len() as u64).to_be_bytes());
            mac.update(p);
        }
        mac.finalize().into_bytes().into()
    }

    /// Spends the time of a signature check on an assertion that has no credential to be
    /// checked against (it always fails), so that answer takes as long as a real one.
    pub fn verify_against_decoy(
        &self,
        response: &PublicKeyCredential,
        mut state: AuthenticationState,
    ) {
        let mut decoy = self.decoy.clone();
        decoy.cred_id = response.raw_id.clone();
        state.set_allowed_credentials(vec![decoy]);
        let _ = self.core.authenticate_credential(response, &state);
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

/// Whether a registration failed because its attestation is not trusted (none, self,
/// a chain to no listed root, or a model the root is not listed for).
pub fn untrusted_attestation(e: &WebauthnError) -> bool {
    matches!(
        e,
        WebauthnError::AttestationNotVerifiable
            | WebauthnError::AttestationChainNotTrusted(_)
            | WebauthnError::AttestationUntrustedAaguid
            | WebauthnError::AttestationFormatMissingAaguid
            | WebauthnError::AttestationCertificateTrustStoreEmpty
            | WebauthnError::MissingAttestationCaList
            | WebauthnError::AttestationLeafCertMissing
    )
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

pub use crate::store::credentials::{FakeShapes, ShapeSample};

/// The value at quantile `u` (0 ≤ u < 1) of a weighted distribution.
fn pick<T: Clone>(weighted: &[(T, i64)], u: f64) -> Option<T> {
    let total: i64 = weighted.iter().map(|(_, w)| (*w).max(0)).sum();
    if total <= 0 {
        return None;
    }
    let mut target = u * total as f64;
    for (value, w) in weighted {
        target -= (*w).max(0) as f64;
        if target < 0.0 {
            return Some(value.clone());
        }
    }
    weighted.last().map(|(v, _)| v.clone())
}

/// An `allowCredentials` entry as the browser gets it: stored transports that are
/// transports (none: no hint).
pub fn allow_credential(id: Vec<u8>, transports: &[String]) -> AllowCredentials {
    let transports: Vec<AuthenticatorTransport> = transports
        .iter()
        .filter_map(|t| serde_json::from_value(serde_json::Value::String(t.clone())).ok())
        .collect();
    AllowCredentials {
        type_: "public-key".to_owned(),
        id,
        transports: (!transports.is_empty()).then_some(transports),
    }
}

/// The decoy: a public key whose private key was thrown away when it was made.
const DECOY_CREDENTIAL: &str = r#"{"cred": {"key": {"EC_EC2": {"x": "o82YexqZWDb2DCxTr6nTTZ_sL4xYBSOSHX5U9rxRo88", "y": "uTSffES3RMQUFMyssohFB5p6xLLcrpiEYslCob4-ZaM", "curve": "SECP256R1"}}, "type_": "ES256"}, "counter": 0, "cred_id": "_N1lVVC92P8rqrGW0jiJj0xgGKmookY-W_c-2cdTNkQ", "extensions": {"appid": "NotRequested", "cred_props": {"Unsigned": {"rk": true}}, "cred_protect": "Ignored", "hmac_create_secret": "NotRequested"}, "transports": null, "attestation": {"data": "None", "metadata": "None"}, "backup_state": true, "user_verified": true, "backup_eligible": true, "attestation_format": "none", "registration_policy": "required"}"#;

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

/// The response with UP and UV set in its authenticator data, and whether UV was set
/// originally. Only an attestation of format `none` (no signature over the data) may be
/// adjusted; another format must already carry both flags.
fn with_presence_flags(
    response: &RegisterPublicKeyCredential,
) -> Result<(RegisterPublicKeyCredential, bool), WebauthnError> {
    const UP: u8 = 0x01;
    const UV: u8 = 0x04;
    let malformed = || WebauthnError::ParseNOMFailure;
    let mut value: ciborium::Value =
        ciborium::from_reader(response.response.attestation_object.as_slice())
            .map_err(|_| malformed())?;
    let map = value.as_map_mut().ok_or_else(malformed)?;
    let format = map
        .iter()
        .find(|(k, _)| k.as_text() == Some("fmt"))
        .and_then(|(_, v)| v.as_text())
        .map(str::to_owned)
        .ok_or_else(malformed)?;
    let auth_data = map
        .iter_mut()
        .find(|(k, _)| k.as_text() == Some("authData"))
        .and_then(|(_, v)| v.as_bytes_mut())
        .filter(|d| d.len() > 32)
        .ok_or_else(malformed)?;
    let flags = auth_data[32];
    let really_verified = flags & UV != 0;
    if flags & (UP | UV) == UP | UV {
        return Ok((response.clone(), really_verified));
    }
    if format != "none" {
        return Err(WebauthnError::UserNotPresent);
    }
    auth_data[32] = flags | UP | UV;
    let mut encoded = Vec::new();
    ciborium::into_writer(&value, &mut encoded).map_err(|_| malformed())?;
    let mut shown = response.clone();
    shown.response.attestation_object = encoded;
    Ok((shown, really_verified))
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

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    /// An attestation response of this format whose authenticator data has these flags.
    fn response(format: &str, flags: u8) -> RegisterPublicKeyCredential {
        let mut auth_data = vec![0u8; 37];
        auth_data[32] = flags;
        let object = ciborium::Value::Map(vec![
            ("fmt".into(), format.into()),
            ("attStmt".into(), ciborium::Value::Map(vec![])),
            ("authData".into(), ciborium::Value::Bytes(auth_data)),
        ]);
        let mut bytes = Vec::new();
        ciborium::into_writer(&object, &mut bytes).unwrap();
        serde_json::from_value(serde_json::json!({
            "id": "AAAA", "rawId": "AAAA", "type": "public-key", "extensions": {},
            "response": {
                "attestationObject": base64::Engine::encode(&base64::engine::general_purpose::URL_SAFE_NO_PAD, &bytes),
                "clientDataJSON": "e30",
            },
        }))
        .unwrap()
    }

    fn flags_of(r: &RegisterPublicKeyCredential) -> u8 {
        let v: ciborium::Value =
            ciborium::from_reader(r.response.attestation_object.as_slice()).unwrap();
        let map = v.as_map().unwrap();
        map.iter()
            .find(|(k, _)| k.as_text() == Some("authData"))
            .unwrap()
            .1
            .as_bytes()
            .unwrap()[32]
    }

    #[test]
    fn only_unsigned_authenticator_data_has_its_flags_raised() {
        // `none`: raised for core, and the real UV reported.
        let (shown, verified) = with_presence_flags(&response("none", 0x00)).unwrap();
        assert_eq!(flags_of(&shown) & 0x05, 0x05);
        assert!(!verified);
        let (_, verified) = with_presence_flags(&response("none", 0x04)).unwrap();
        assert!(verified);
        // A signed format keeps what it signed: without the flags it is refused.
        assert!(matches!(
            with_presence_flags(&response("packed", 0x00)),
            Err(WebauthnError::UserNotPresent)
        ));
        let (shown, verified) = with_presence_flags(&response("packed", 0x05)).unwrap();
        assert_eq!(flags_of(&shown), 0x05);
        assert!(verified);
    }
}
