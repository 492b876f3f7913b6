//! Sealed sign-in ceremonies: the state of a usernameless sign-in travels in its
//! ceremony id, authenticated with a server key, so `POST /v1/authentication/options`
//! writes nothing. Single use is enforced when the ceremony is finished (its id is
//! recorded as spent until it expires). See docs/decisions/0008.
//!
//! Format: `s1.` + base64url(id ‖ expires-at ‖ state JSON) + `.` + base64url(HMAC-SHA256
//! over everything before the second dot). The state is not secret (its challenge is in
//! the options anyway); it must only be impossible to forge or alter.

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use chrono::{DateTime, Utc};
use hmac::{Hmac, Mac as _};
use sha2::Sha256;
use uuid::Uuid;
use webauthn_rs_core::proto::AuthenticationState;

const PREFIX: &str = "s1.";
const ID_LEN: usize = 16;
const TIME_LEN: usize = 8;

/// The key sealed ceremonies are authenticated with (shared by every instance through
/// the database's server keys).
pub struct Sealer {
    key: Vec<u8>,
    prefix: &'static str,
}

/// An unsealed ceremony.
#[derive(Debug)]
pub struct Unsealed<T = AuthenticationState> {
    pub id: Uuid,
    pub expires_at: DateTime<Utc>,
    pub state: T,
}

impl Sealer {
    pub fn new(key: Vec<u8>) -> Self {
        Self {
            key,
            prefix: PREFIX,
        }
    }

    /// A sealer of other state under its own key and prefix (the OpenID provider's
    /// authorization requests: `o1.`), so that nothing sealed for one use opens as another.
    pub fn with_prefix(key: Vec<u8>, prefix: &'static str) -> Self {
        Self { key, prefix }
    }

    fn mac(&self) -> Hmac<Sha256> {
        crate::passkeys::keyed_mac(&self.key)
    }

    /// Whether `id` is in the sealed form (rather than a stored ceremony's UUID).
    pub fn is_sealed(id: &str) -> bool {
        id.starts_with(PREFIX)
    }

    pub fn seal<T: serde::Serialize>(
        &self,
        id: Uuid,
        expires_at: DateTime<Utc>,
        state: &T,
    ) -> Result<String, serde_json::Error> {
        let mut payload = Vec::with_capacity(ID_LEN + TIME_LEN + 160);
        payload.extend_from_slice(id.as_bytes());
        payload.extend_from_slice(&expires_at.timestamp_micros().to_be_bytes());
        serde_json::to_writer(&mut payload, state)?;
        let body = format!("{}{}", self.prefix, URL_SAFE_NO_PAD.encode(&payload));
        let mut mac = self.mac();
        mac.update(body.as_bytes());
        let tag = URL_SAFE_NO_PAD.encode(mac.finalize().into_bytes());
        Ok(format!("{body}.{tag}"))
    }

    /// The ceremony, if `sealed` is one this server sealed and nobody altered. Expiry is
    /// the caller's check (it needs the clock).
    pub fn unseal<T: serde::de::DeserializeOwned>(&self, sealed: &str) -> Option<Unsealed<T>> {
        let (body, tag) = sealed.rsplit_once('.')?;
        let payload = body.strip_prefix(self.prefix)?;
        let tag = URL_SAFE_NO_PAD.decode(tag).ok()?;
        let mut mac = self.mac();
        mac.update(body.as_bytes());
        // Constant-time comparison.
        mac.verify_slice(&tag).ok()?;
        let payload = URL_SAFE_NO_PAD.decode(payload).ok()?;
        if payload.len() <= ID_LEN + TIME_LEN {
            return None;
        }
        let (id, rest) = payload.split_at(ID_LEN);
        let (time, state) = rest.split_at(TIME_LEN);
        Some(Unsealed {
            id: Uuid::from_slice(id).ok()?,
            expires_at: DateTime::from_timestamp_micros(i64::from_be_bytes(time.try_into().ok()?))?,
            state: serde_json::from_slice(state).ok()?,
        })
    }
}

#[cfg(test)]
#[allow(clippy::panic, clippy::unwrap_used)]
mod tests {
    use super::*;

    fn state() -> AuthenticationState {
        // The JSON form webauthn-rs-core serialises; only its shape matters here.
        let json = serde_json::json!({
            "credentials": [],
            "policy": "required",
            "challenge": URL_SAFE_NO_PAD.encode([7u8; 32]),
            "appid": null,
            "allow_backup_eligible_upgrade": false,
        });
        serde_json::from_value(json).unwrap()
    }

    #[test]
    fn a_sealed_ceremony_opens_only_unaltered_and_with_its_key() {
        let sealer = Sealer::new(vec![1; 32]);
        let id = Uuid::new_v4();
        let at = DateTime::from_timestamp_micros(1_900_000_000_000_000).unwrap();
        let sealed = sealer.seal(id, at, &state()).unwrap();
        assert!(Sealer::is_sealed(&sealed));
        let open = sealer.unseal::<AuthenticationState>(&sealed).unwrap();
        assert_eq!((open.id, open.expires_at), (id, at));
        assert_eq!(
            serde_json::to_value(&open.state).ok(),
            serde_json::to_value(state()).ok()
        );

        // Another key, any altered character, a truncated or extended token: refused.
        assert!(
            Sealer::new(vec![2; 32])
                .unseal::<AuthenticationState>(&sealed)
                .is_none()
        );
        for i in PREFIX.len()..sealed.len() {
            let mut bytes = sealed.clone().into_bytes();
            bytes[i] = if bytes[i] == b'A' { b'B' } else { b'A' };
            let altered = String::from_utf8(bytes).unwrap();
            if altered != sealed {
                assert!(
                    sealer.unseal::<AuthenticationState>(&altered).is_none(),
                    "altered at {i}"
                );
            }
        }
        assert!(
            sealer
                .unseal::<AuthenticationState>(&sealed[..sealed.len() - 1])
                .is_none()
        );
        assert!(
            sealer
                .unseal::<AuthenticationState>(&format!("{sealed}A"))
                .is_none()
        );
        assert!(sealer.unseal::<AuthenticationState>("s1.").is_none());
        assert!(
            sealer
                .unseal::<AuthenticationState>(&id.to_string())
                .is_none()
        );
    }
}
