//! Cognito's own passkeys, strictly: the pool's WebAuthn configuration (`[pools.web_authn]`:
//! relying party id, user verification) and sign-in policy (`allowed_first_auth_factors`),
//! `StartWebAuthnRegistration` / `CompleteWebAuthnRegistration` with a signed-in user's
//! access token, `ListWebAuthnCredentials`, `DeleteWebAuthnCredential`, and sign-in with
//! `USER_AUTH`'s `WEB_AUTHN` challenge. What Cognito's API reference says each call does
//! and refuses is in docs/cognito-standin.md. ES256 passkeys only (what every platform
//! authenticator makes); the attestation statement is not checked (Cognito asks for none).

use aws_lc_rs::signature::{ECDSA_P256_SHA256_ASN1, UnparsedPublicKey};
use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use chrono::{DateTime, Utc};
use serde_json::{Value, json};
use sha2::{Digest as _, Sha256};

use crate::Standin;
use crate::error::CognitoError;
use crate::pool::Pool;

/// A passkey registered with the pool itself.
#[derive(Debug, Clone)]
pub struct NativePasskey {
    pub id: Vec<u8>,
    /// The P-256 point, uncompressed (`04 || x || y`).
    pub public_key: Vec<u8>,
    pub counter: u32,
    pub transports: Vec<String>,
    pub attachment: Option<String>,
    pub created: DateTime<Utc>,
}

/// A registration begun and not yet completed: its challenge, for whom, until when.
#[derive(Debug, Clone)]
pub struct PendingRegistration {
    pub username: String,
    pub challenge: Vec<u8>,
    pub expires_at: DateTime<Utc>,
}

/// Passkeys one user may have (Cognito's quota).
const MAX_PASSKEYS: usize = 20;
const TIMEOUT_MS: u64 = 300_000;

fn b64(bytes: &[u8]) -> String {
    URL_SAFE_NO_PAD.encode(bytes)
}

fn unb64(s: &str) -> Option<Vec<u8>> {
    URL_SAFE_NO_PAD.decode(s.trim_end_matches('=')).ok()
}

fn random_challenge() -> Vec<u8> {
    let mut c = vec![0u8; 32];
    rand::RngCore::fill_bytes(&mut rand::rng(), &mut c);
    c
}

/// The pool's relying party, when passkeys are a first factor: else the error Cognito gives.
fn relying_party(p: &Pool) -> Result<(String, String), CognitoError> {
    if !p
        .config
        .allowed_first_auth_factors
        .iter()
        .any(|f| f == "WEB_AUTHN")
    {
        return Err(CognitoError::new(
            "WebAuthnNotEnabledException",
            "Passkey sign-in is not enabled for this user pool.",
        ));
    }
    let config = p.config.web_authn.as_ref().ok_or_else(|| {
        CognitoError::new(
            "WebAuthnConfigurationMissingException",
            "The user pool has no relying party configuration for passkeys.",
        )
    })?;
    Ok((
        config.relying_party_id.clone(),
        config.user_verification.clone(),
    ))
}

/// Whether `origin` may use passkeys of `rp_id`: https on the RP ID or a subdomain of it
/// (http only on localhost).
fn origin_allowed(origin: &str, rp_id: &str) -> bool {
    let Ok(url) = url::Url::parse(origin) else {
        return false;
    };
    let Some(host) = url.host_str() else {
        return false;
    };
    let on_domain = host == rp_id || host.ends_with(&format!(".{rp_id}"));
    on_domain && (url.scheme() == "https" || (url.scheme() == "http" && host == "localhost"))
}

/// The client data of a ceremony, checked: its type, challenge and origin.
fn client_data(
    encoded: Option<&str>,
    kind: &str,
    challenge: &[u8],
    rp_id: &str,
) -> Result<Vec<u8>, CognitoError> {
    let raw = encoded
        .and_then(unb64)
        .ok_or_else(|| CognitoError::invalid_parameter("The credential has no clientDataJSON."))?;
    let data: Value = serde_json::from_slice(&raw)
        .map_err(|_| CognitoError::invalid_parameter("The clientDataJSON is not JSON."))?;
    if data["type"] != kind {
        return Err(CognitoError::invalid_parameter(
            "The credential answers another kind of ceremony.",
        ));
    }
    if data["challenge"].as_str().and_then(unb64).as_deref() != Some(challenge) {
        return Err(CognitoError::new(
            "WebAuthnChallengeNotFoundException",
            "The passkey answer does not match a challenge of this user pool.",
        ));
    }
    if !origin_allowed(data["origin"].as_str().unwrap_or_default(), rp_id) {
        return Err(CognitoError::new(
            "WebAuthnOriginNotAllowedException",
            "The passkey's origin is not allowed for this user pool.",
        ));
    }
    Ok(raw)
}

/// Checks authenticator data's relying party and flags; returns the rest after the counter.
fn authenticator_data<'a>(
    data: &'a [u8],
    rp_id: &str,
    user_verification: &str,
) -> Result<(u8, u32, &'a [u8]), CognitoError> {
    if data.len() < 37 {
        return Err(CognitoError::invalid_parameter(
            "The authenticator data is too short.",
        ));
    }
    if data[..32] != Sha256::digest(rp_id.as_bytes())[..] {
        return Err(CognitoError::new(
            "WebAuthnRelyingPartyMismatchException",
            "The passkey belongs to another relying party.",
        ));
    }
    let flags = data[32];
    if flags & 0x01 == 0 {
        return Err(CognitoError::not_authorized("The user was not present."));
    }
    if user_verification == "required" && flags & 0x04 == 0 {
        return Err(CognitoError::not_authorized(
            "User verification is required.",
        ));
    }
    let counter = u32::from_be_bytes([data[33], data[34], data[35], data[36]]);
    Ok((flags, counter, &data[37..]))
}

/// The signed-in user's pool and username, from an access token.
fn signed_in(s: &Standin, input: &Value) -> Result<(String, String), CognitoError> {
    let (pool_id, claims) = crate::auth::access_token(s, input)?;
    if !claims["scope"].as_str().is_some_and(|scope| {
        scope
            .split(' ')
            .any(|x| x == "aws.cognito.signin.user.admin")
    }) {
        return Err(CognitoError::not_authorized(
            "Access Token does not have required scopes",
        ));
    }
    Ok((
        pool_id,
        claims["username"].as_str().unwrap_or_default().to_owned(),
    ))
}

/// `StartWebAuthnRegistration`: creation options for the signed-in user.
pub fn start_registration(s: &Standin, input: &Value) -> Result<Value, CognitoError> {
    let (pool_id, username) = signed_in(s, input)?;
    s.with_pool(&pool_id, |p| {
        let (rp_id, user_verification) = relying_party(p)?;
        let now = Utc::now();
        let user = p.user(&username)?;
        if user.passkeys.len() >= MAX_PASSKEYS {
            return Err(CognitoError::new(
                "LimitExceededException",
                "The user has the most passkeys they may register.",
            ));
        }
        let exclude: Vec<Value> = user
            .passkeys
            .iter()
            .map(|k| json!({ "type": "public-key", "id": b64(&k.id), "transports": k.transports }))
            .collect();
        let sub = user.attributes.get("sub").cloned().unwrap_or_default();
        let display = user
            .attributes
            .get("email")
            .cloned()
            .unwrap_or_else(|| user.username.clone());
        let challenge = random_challenge();
        p.pending_registrations.retain(|r| r.expires_at > now && r.username != username);
        p.pending_registrations.push(PendingRegistration {
            username: username.clone(),
            challenge: challenge.clone(),
            expires_at: now + chrono::Duration::milliseconds(TIMEOUT_MS as i64),
        });
        Ok(json!({
            "CredentialCreationOptions": {
                "challenge": b64(&challenge),
                "rp": { "id": rp_id, "name": rp_id },
                "user": { "id": b64(sub.as_bytes()), "name": username, "displayName": display },
                "pubKeyCredParams": [
                    { "type": "public-key", "alg": -7 },
                    { "type": "public-key", "alg": -257 },
                ],
                "timeout": TIMEOUT_MS,
                "excludeCredentials": exclude,
                "authenticatorSelection": { "residentKey": "required", "userVerification": user_verification },
            }
        }))
    })
}

/// `CompleteWebAuthnRegistration`: verifies the new passkey and keeps it.
pub fn complete_registration(s: &Standin, input: &Value) -> Result<Value, CognitoError> {
    let (pool_id, username) = signed_in(s, input)?;
    let credential = input
        .get("Credential")
        .ok_or_else(|| CognitoError::invalid_parameter("Credential is required."))?;
    s.with_pool(&pool_id, |p| {
        let (rp_id, user_verification) = relying_party(p)?;
        let now = Utc::now();
        // The challenge is spent whatever follows.
        let position = p
            .pending_registrations
            .iter()
            .position(|r| r.username == username && r.expires_at > now)
            .ok_or_else(|| {
                CognitoError::new(
                    "WebAuthnChallengeNotFoundException",
                    "No passkey registration is in progress for this user.",
                )
            })?;
        let pending = p.pending_registrations.remove(position);
        let response = &credential["response"];
        client_data(
            response["clientDataJSON"].as_str(),
            "webauthn.create",
            &pending.challenge,
            &rp_id,
        )?;
        let object = response["attestationObject"]
            .as_str()
            .and_then(unb64)
            .ok_or_else(|| {
                CognitoError::invalid_parameter("The credential has no attestationObject.")
            })?;
        let object: ciborium::Value = ciborium::from_reader(object.as_slice())
            .map_err(|_| CognitoError::invalid_parameter("The attestationObject is not CBOR."))?;
        let auth_data = object
            .as_map()
            .and_then(|m| {
                m.iter()
                    .find(|(k, _)| k.as_text() == Some("authData"))
                    .and_then(|(_, v)| v.as_bytes())
            })
            .ok_or_else(|| {
                CognitoError::invalid_parameter("The attestationObject has no authData.")
            })?;
        let (flags, counter, rest) = authenticator_data(auth_data, &rp_id, &user_verification)?;
        if flags & 0x40 == 0 || rest.len() < 18 {
            return Err(CognitoError::invalid_parameter(
                "The authenticator data holds no credential.",
            ));
        }
        let id_len = usize::from(u16::from_be_bytes([rest[16], rest[17]]));
        let id = rest
            .get(18..18 + id_len)
            .ok_or_else(|| CognitoError::invalid_parameter("The credential id is cut short."))?
            .to_vec();
        let public_key = es256_point(&rest[18 + id_len..])?;
        if p.users
            .iter()
            .any(|u| u.passkeys.iter().any(|k| k.id == id))
        {
            return Err(CognitoError::new(
                "WebAuthnCredentialNotSupportedException",
                "This passkey is registered already.",
            ));
        }
        let transports = response["transports"]
            .as_array()
            .map(|a| {
                a.iter()
                    .filter_map(|t| t.as_str().map(str::to_owned))
                    .collect()
            })
            .unwrap_or_default();
        let attachment = credential["authenticatorAttachment"]
            .as_str()
            .map(str::to_owned);
        let user = p.user_mut(&username)?;
        user.passkeys.push(NativePasskey {
            id,
            public_key,
            counter,
            transports,
            attachment,
            created: now,
        });
        Ok(json!({}))
    })
}

/// The uncompressed P-256 point of an ES256 COSE key; anything else is not supported.
fn es256_point(cose: &[u8]) -> Result<Vec<u8>, CognitoError> {
    let unsupported = || {
        CognitoError::new(
            "WebAuthnCredentialNotSupportedException",
            "The passkey's public key is not one this user pool supports.",
        )
    };
    let key: ciborium::Value = ciborium::from_reader(cose).map_err(|_| unsupported())?;
    let map = key.as_map().ok_or_else(unsupported)?;
    let get = |label: i128| {
        map.iter()
            .find(|(k, _)| k.as_integer().map(i128::from) == Some(label))
            .map(|(_, v)| v)
    };
    let int = |label| {
        get(label)
            .and_then(ciborium::Value::as_integer)
            .map(i128::from)
    };
    if int(1) != Some(2) || int(3) != Some(-7) || int(-1) != Some(1) {
        return Err(unsupported());
    }
    let (x, y) = match (
        get(-2).and_then(ciborium::Value::as_bytes),
        get(-3).and_then(ciborium::Value::as_bytes),
    ) {
        (Some(x), Some(y)) if x.len() == 32 && y.len() == 32 => (x, y),
        _ => return Err(unsupported()),
    };
    let mut point = vec![4];
    point.extend_from_slice(x);
    point.extend_from_slice(y);
    Ok(point)
}

/// `ListWebAuthnCredentials`: the signed-in user's passkeys.
pub fn list(s: &Standin, input: &Value) -> Result<Value, CognitoError> {
    let (pool_id, username) = signed_in(s, input)?;
    s.with_pool(&pool_id, |p| {
        let rp_id = p
            .config
            .web_authn
            .as_ref()
            .map(|w| w.relying_party_id.clone())
            .unwrap_or_default();
        let credentials: Vec<Value> = p
            .user(&username)?
            .passkeys
            .iter()
            .map(|k| {
                let mut c = json!({
                    "CredentialId": b64(&k.id),
                    "RelyingPartyId": rp_id,
                    "AuthenticatorTransports": k.transports,
                    "CreatedAt": k.created.timestamp(),
                });
                if let Some(a) = &k.attachment {
                    c["AuthenticatorAttachment"] = json!(a);
                }
                c
            })
            .collect();
        Ok(json!({ "Credentials": credentials }))
    })
}

/// `DeleteWebAuthnCredential`: one of the signed-in user's passkeys.
pub fn delete(s: &Standin, input: &Value) -> Result<Value, CognitoError> {
    let (pool_id, username) = signed_in(s, input)?;
    let id = crate::required(input, "CredentialId")?.to_owned();
    s.with_pool(&pool_id, |p| {
        let user = p.user_mut(&username)?;
        let before = user.passkeys.len();
        user.passkeys.retain(|k| b64(&k.id) != id);
        if user.passkeys.len() == before {
            return Err(CognitoError::resource_not_found(
                "The passkey does not exist.",
            ));
        }
        Ok(json!({}))
    })
}

/// The `WEB_AUTHN` challenge for `username`: request options for their passkeys, and
/// the challenge to keep in the session. `None` when they have none (or passkeys are off).
pub fn sign_in_options(p: &Pool, username: &str) -> Option<(Value, Vec<u8>)> {
    let (rp_id, user_verification) = relying_party(p).ok()?;
    let user = p.user(username).ok()?;
    if user.passkeys.is_empty() {
        return None;
    }
    let challenge = random_challenge();
    let allow: Vec<Value> = user
        .passkeys
        .iter()
        .map(|k| json!({ "type": "public-key", "id": b64(&k.id), "transports": k.transports }))
        .collect();
    let options = json!({
        "challenge": b64(&challenge),
        "rpId": rp_id,
        "timeout": TIMEOUT_MS,
        "userVerification": user_verification,
        "allowCredentials": allow,
    });
    Some((options, challenge))
}

/// Verifies the `CREDENTIAL` answer to a `WEB_AUTHN` challenge for `username`; moves the
/// passkey's counter on.
pub fn verify_sign_in(
    p: &mut Pool,
    username: &str,
    challenge: &[u8],
    answer: &str,
) -> Result<(), CognitoError> {
    let refused = || CognitoError::not_authorized("Incorrect username or passkey.");
    let (rp_id, user_verification) = relying_party(p)?;
    let credential: Value = serde_json::from_str(answer)
        .map_err(|_| CognitoError::invalid_parameter("CREDENTIAL is not JSON."))?;
    let response = &credential["response"];
    let client_data_json = client_data(
        response["clientDataJSON"].as_str(),
        "webauthn.get",
        challenge,
        &rp_id,
    )?;
    let auth_data = response["authenticatorData"]
        .as_str()
        .and_then(unb64)
        .ok_or_else(refused)?;
    let (_, counter, _) = authenticator_data(&auth_data, &rp_id, &user_verification)?;
    let signature = response["signature"]
        .as_str()
        .and_then(unb64)
        .ok_or_else(refused)?;
    let id = credential["rawId"]
        .as_str()
        .or(credential["id"].as_str())
        .and_then(unb64)
        .ok_or_else(refused)?;
    let user = p.user_mut(username)?;
    let key = user
        .passkeys
        .iter_mut()
        .find(|k| k.id == id)
        .ok_or_else(refused)?;
    let mut signed = auth_data.clone();
    signed.extend_from_slice(&Sha256::digest(&client_data_json));
    UnparsedPublicKey::new(&ECDSA_P256_SHA256_ASN1, &key.public_key)
        .verify(&signed, &signature)
        .map_err(|_| refused())?;
    if counter != 0 && counter <= key.counter {
        return Err(refused());
    }
    key.counter = counter;
    Ok(())
}

#[cfg(test)]
mod tests {
    #[test]
    fn origins_must_be_on_the_relying_party_over_https() {
        use super::origin_allowed;
        assert!(origin_allowed("https://example.com", "example.com"));
        assert!(origin_allowed("https://app.example.com", "example.com"));
        assert!(origin_allowed("http://localhost:8000", "localhost"));
        assert!(!origin_allowed("http://example.com", "example.com"));
        assert!(!origin_allowed(
            "https://example.com.evil.test",
            "example.com"
        ));
        assert!(!origin_allowed("https://badexample.com", "example.com"));
    }
}
