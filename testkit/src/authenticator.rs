//! A software passkey authenticator: keeps discoverable (resident) ES256 credentials
//! and answers `navigator.credentials.create()` / `.get()` options with the JSON a
//! browser's `PublicKeyCredential.toJSON()` produces. Knobs let tests misbehave the way
//! real authenticators and attackers do (no user verification, counter going
//! backwards, other origins, flipped backup flags).

use anyhow::{Context as _, anyhow, bail};
use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use ciborium::Value as Cbor;
use p256::ecdsa::signature::Signer as _;
use p256::ecdsa::{Signature, SigningKey};
use serde_json::{Value, json};
use sha2::{Digest as _, Sha256};

const UP: u8 = 0x01;
const UV: u8 = 0x04;
const BE: u8 = 0x08;
const BS: u8 = 0x10;
const AT: u8 = 0x40;

/// A passkey held by the authenticator.
pub struct ResidentCredential {
    pub id: Vec<u8>,
    pub rp_id: String,
    pub user_handle: Vec<u8>,
    pub user_name: String,
    key: SigningKey,
    pub counter: u32,
}

/// Behaviour of the next ceremonies.
#[derive(Clone, Debug)]
pub struct Behaviour {
    /// The UP flag (false: what a password manager's conditional create may answer).
    pub user_present: bool,
    pub user_verified: bool,
    pub backup_eligible: bool,
    pub backup_state: bool,
    /// Whether the counter increments on each use (false: stays 0, like synced passkeys).
    pub counting: bool,
    /// Whether assertions carry the user handle.
    pub return_user_handle: bool,
}

impl Default for Behaviour {
    fn default() -> Self {
        Self {
            user_present: true,
            user_verified: true,
            backup_eligible: true,
            backup_state: true,
            counting: true,
            return_user_handle: true,
        }
    }
}

/// The attestation statement new credentials carry.
#[derive(Clone, Default)]
pub enum Attestation {
    /// `fmt: "none"` (what browsers send when the relying party asks for none).
    #[default]
    None,
    /// `packed` self attestation: signed with the new credential's own key, no `x5c`.
    SelfPacked,
    /// `packed` full attestation: signed by a batch key whose certificate chains to a CA.
    Packed(std::sync::Arc<crate::attestation::AttestationCa>),
}

pub struct SoftAuthenticator {
    pub aaguid: [u8; 16],
    pub attestation: Attestation,
    pub credentials: Vec<ResidentCredential>,
    pub behaviour: Behaviour,
    /// Gives new credentials this id instead of a random one (a replay attack).
    pub reuse_credential_id: Option<Vec<u8>>,
}

/// The COSE_Key (ES256, P-256) of a key's public half, as attested data carries it.
fn cose_key_of(key: &SigningKey) -> anyhow::Result<Vec<u8>> {
    let point = key.verifying_key().to_sec1_point(false);
    let (x, y) = (
        point.x().ok_or_else(|| anyhow!("no x"))?.to_vec(),
        point.y().ok_or_else(|| anyhow!("no y"))?.to_vec(),
    );
    let cose_key = Cbor::Map(vec![
        (Cbor::Integer(1.into()), Cbor::Integer(2.into())),
        (Cbor::Integer(3.into()), Cbor::Integer((-7).into())),
        (Cbor::Integer((-1).into()), Cbor::Integer(1.into())),
        (Cbor::Integer((-2).into()), Cbor::Bytes(x)),
        (Cbor::Integer((-3).into()), Cbor::Bytes(y)),
    ]);
    let mut cose_bytes = Vec::new();
    ciborium::into_writer(&cose_key, &mut cose_bytes)?;
    Ok(cose_bytes)
}

impl ResidentCredential {
    /// Its public key as a COSE_Key: what another relying party stored, and exports.
    pub fn cose_public_key(&self) -> Vec<u8> {
        cose_key_of(&self.key).unwrap_or_default()
    }
}

fn b64(bytes: &[u8]) -> String {
    URL_SAFE_NO_PAD.encode(bytes)
}

fn unb64(s: &str) -> anyhow::Result<Vec<u8>> {
    URL_SAFE_NO_PAD
        .decode(s.trim_end_matches('='))
        .with_context(|| format!("not base64url: {s}"))
}

fn str_at<'a>(v: &'a Value, path: &str) -> anyhow::Result<&'a str> {
    v.pointer(path)
        .and_then(Value::as_str)
        .ok_or_else(|| anyhow!("options lack {path}"))
}

impl Default for SoftAuthenticator {
    fn default() -> Self {
        Self::new()
    }
}

impl SoftAuthenticator {
    pub fn new() -> Self {
        Self {
            // A made-up AAGUID so tests can check it is recorded.
            aaguid: *b"rp-test-authn-01",
            attestation: Attestation::None,
            credentials: Vec::new(),
            behaviour: Behaviour::default(),
            reuse_credential_id: None,
        }
    }

    fn flags(&self, extra: u8) -> u8 {
        let b = &self.behaviour;
        let mut f = extra;
        if b.user_present {
            f |= UP;
        }
        if b.user_verified {
            f |= UV;
        }
        if b.backup_eligible {
            f |= BE;
        }
        if b.backup_state {
            f |= BS;
        }
        f
    }

    /// Answers `PublicKeyCredentialCreationOptionsJSON` as `toJSON()` of the new credential.
    /// A passkey made at another relying party on `rp_id`, under its user handle: what a
    /// team brings when it moves to rp-server.
    pub fn passkey_made_elsewhere(
        &mut self,
        rp_id: &str,
        user_handle: &[u8],
        name: &str,
    ) -> anyhow::Result<&ResidentCredential> {
        let options = serde_json::json!({
            "rp": { "id": rp_id, "name": "the old relying party" },
            "user": { "id": b64(user_handle), "name": name, "displayName": name },
            "challenge": b64(b"a challenge of the old relying party"),
            "pubKeyCredParams": [{ "type": "public-key", "alg": -7 }],
        });
        self.create(&options, &format!("https://{rp_id}"))?;
        self.credentials
            .last()
            .ok_or_else(|| anyhow!("no credential was made"))
    }

    pub fn create(&mut self, options: &Value, origin: &str) -> anyhow::Result<Value> {
        let rp_id = str_at(options, "/rp/id")?.to_owned();
        let challenge = str_at(options, "/challenge")?;
        let user_handle = unb64(str_at(options, "/user/id")?)?;
        let user_name = str_at(options, "/user/name")?.to_owned();
        if let Some(excluded) = options.get("excludeCredentials").and_then(Value::as_array) {
            for e in excluded {
                let id = unb64(str_at(e, "/id")?)?;
                if self.credentials.iter().any(|c| c.id == id) {
                    bail!("InvalidStateError: an excluded credential is on this authenticator");
                }
            }
        }

        let key = <SigningKey as p256::elliptic_curve::Generate>::generate();
        let id = self.reuse_credential_id.clone().unwrap_or_else(|| {
            let mut id = vec![0u8; 32];
            rand::RngCore::fill_bytes(
                &mut rand::TryRngCore::unwrap_err(rand::rngs::OsRng),
                &mut id,
            );
            id
        });

        let cose_bytes = cose_key_of(&key)?;

        let counter = 0u32;
        let mut auth_data = Vec::new();
        auth_data.extend_from_slice(&Sha256::digest(rp_id.as_bytes()));
        auth_data.push(self.flags(AT));
        auth_data.extend_from_slice(&counter.to_be_bytes());
        auth_data.extend_from_slice(&self.aaguid);
        auth_data.extend_from_slice(&(id.len() as u16).to_be_bytes());
        auth_data.extend_from_slice(&id);
        auth_data.extend_from_slice(&cose_bytes);

        let client_data = json!({
            "type": "webauthn.create",
            "challenge": challenge,
            "origin": origin,
            "crossOrigin": false,
        })
        .to_string();
        // Packed statements sign authenticatorData ‖ SHA-256(clientDataJSON).
        let signed = [
            auth_data.as_slice(),
            &Sha256::digest(client_data.as_bytes()),
        ]
        .concat();
        let es256 = (Cbor::Text("alg".into()), Cbor::Integer((-7).into()));
        let (fmt, statement) = match &self.attestation {
            Attestation::None => ("none", vec![]),
            Attestation::SelfPacked => {
                let sig: Signature = key.sign(&signed);
                let sig = (
                    Cbor::Text("sig".into()),
                    Cbor::Bytes(sig.to_der().as_bytes().to_vec()),
                );
                ("packed", vec![es256, sig])
            }
            Attestation::Packed(ca) => {
                let sig: Signature = ca.leaf_key.sign(&signed);
                let sig = (
                    Cbor::Text("sig".into()),
                    Cbor::Bytes(sig.to_der().as_bytes().to_vec()),
                );
                let x5c = (
                    Cbor::Text("x5c".into()),
                    Cbor::Array(vec![Cbor::Bytes(ca.leaf_der.clone())]),
                );
                ("packed", vec![es256, sig, x5c])
            }
        };
        let attestation = Cbor::Map(vec![
            (Cbor::Text("fmt".into()), Cbor::Text(fmt.into())),
            (Cbor::Text("attStmt".into()), Cbor::Map(statement)),
            (
                Cbor::Text("authData".into()),
                Cbor::Bytes(auth_data.clone()),
            ),
        ]);
        let mut attestation_object = Vec::new();
        ciborium::into_writer(&attestation, &mut attestation_object)?;

        self.credentials.push(ResidentCredential {
            id: id.clone(),
            rp_id,
            user_handle,
            user_name,
            key,
            counter,
        });

        Ok(json!({
            "id": b64(&id),
            "rawId": b64(&id),
            "type": "public-key",
            "authenticatorAttachment": "platform",
            "response": {
                "clientDataJSON": b64(client_data.as_bytes()),
                "attestationObject": b64(&attestation_object),
                "authenticatorData": b64(&auth_data),
                "transports": ["hybrid", "internal"],
                "publicKeyAlgorithm": -7,
            },
            "clientExtensionResults": { "credProps": { "rk": true } },
        }))
    }

    /// Answers `PublicKeyCredentialRequestOptionsJSON` with the first matching
    /// credential (any resident one for the RP when `allowCredentials` is empty).
    pub fn get(&mut self, options: &Value, origin: &str) -> anyhow::Result<Value> {
        let rp_id = str_at(options, "/rpId")?.to_owned();
        let allowed: Vec<Vec<u8>> = options
            .get("allowCredentials")
            .and_then(Value::as_array)
            .map(|a| {
                a.iter()
                    .filter_map(|c| c.get("id")?.as_str().and_then(|s| unb64(s).ok()))
                    .collect()
            })
            .unwrap_or_default();
        let index = self
            .credentials
            .iter()
            .position(|c| c.rp_id == rp_id && (allowed.is_empty() || allowed.contains(&c.id)))
            .ok_or_else(|| {
                anyhow!("NotAllowedError: no credential for {rp_id} on this authenticator")
            })?;
        let id = self.credentials[index].id.clone();
        self.assert_with(&id, options, origin)
    }

    /// Signs an assertion with a specific credential, whatever the options allow.
    pub fn assert_with(
        &mut self,
        credential_id: &[u8],
        options: &Value,
        origin: &str,
    ) -> anyhow::Result<Value> {
        let challenge = str_at(options, "/challenge")?.to_owned();
        let flags = self.flags(0);
        let counting = self.behaviour.counting;
        let return_user_handle = self.behaviour.return_user_handle;
        let cred = self
            .credentials
            .iter_mut()
            .find(|c| c.id == credential_id)
            .ok_or_else(|| anyhow!("no such credential"))?;
        if counting {
            cred.counter += 1;
        }
        let mut auth_data = Vec::new();
        auth_data.extend_from_slice(&Sha256::digest(cred.rp_id.as_bytes()));
        auth_data.push(flags);
        auth_data.extend_from_slice(&cred.counter.to_be_bytes());

        let client_data = json!({
            "type": "webauthn.get",
            "challenge": challenge,
            "origin": origin,
            "crossOrigin": false,
        })
        .to_string();
        let mut signed = auth_data.clone();
        signed.extend_from_slice(&Sha256::digest(client_data.as_bytes()));
        let signature: Signature = cred.key.sign(&signed);
        let der = signature.to_der();

        Ok(json!({
            "id": b64(&cred.id),
            "rawId": b64(&cred.id),
            "type": "public-key",
            "authenticatorAttachment": "platform",
            "response": {
                "clientDataJSON": b64(client_data.as_bytes()),
                "authenticatorData": b64(&auth_data),
                "signature": b64(der.as_bytes()),
                "userHandle": if return_user_handle { Value::String(b64(&cred.user_handle)) } else { Value::Null },
            },
            "clientExtensionResults": {},
        }))
    }

    /// Sets the stored counter of a credential (to simulate a cloned authenticator).
    pub fn set_counter(&mut self, credential_id: &[u8], counter: u32) {
        if let Some(c) = self.credentials.iter_mut().find(|c| c.id == credential_id) {
            c.counter = counter;
        }
    }
}
