//! Sealed sign-in ceremonies: the state of a usernameless sign-in travels in its
//! ceremony id, authenticated with a server key, so `POST /v1/authentication/options`
//! writes nothing. Single use is enforced when the ceremony is finished (its id is
//! recorded as spent until it expires). See docs/decisions/0008.
//!
//! Format: `s1.` + base64url(id ‖ expires-at ‖ state JSON) + `.` + base64url(HMAC-SHA256
//! over everything before the second dot). The state is not secret (its challenge is in
//! the options anyway); it must only be impossible to forge or alter.
//!
//! The Create trigger's username-first ceremonies are *concealed* as well as sealed
//! ([`Concealer`]): their state names the user and whether they have passkeys, which the
//! answer to a username must never tell (decision 0024).

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use chrono::{DateTime, Utc};
use hmac::{Hmac, Mac as _};
use sha2::Sha256;
use uuid::Uuid;
use webauthn_rs_core::proto::AuthenticationState;

const PREFIX: &str = "s1.";
/// The prefix of the Create trigger's concealed ceremonies.
pub const CONCEALED_PREFIX: &str = "c1.";
/// The prefix of the Create trigger's sealed challenges (their state: the user's `sub`).
pub const CHALLENGE_PREFIX: &str = "h1.";
const ID_LEN: usize = 16;
const TIME_LEN: usize = 8;

/// Appends the header both forms start with: the ceremony's id, then its expiry
/// (microseconds since the epoch, big-endian).
fn put_header(out: &mut Vec<u8>, id: Uuid, expires_at: DateTime<Utc>) {
    out.extend_from_slice(id.as_bytes());
    out.extend_from_slice(&expires_at.timestamp_micros().to_be_bytes());
}

/// The id and expiry [`put_header`] wrote, and what follows them.
fn split_header(bytes: &[u8]) -> Option<(Uuid, DateTime<Utc>, &[u8])> {
    let (id, rest) = bytes.split_at_checked(ID_LEN)?;
    let (time, rest) = rest.split_at_checked(TIME_LEN)?;
    let expires_at = DateTime::from_timestamp_micros(i64::from_be_bytes(time.try_into().ok()?))?;
    Some((Uuid::from_slice(id).ok()?, expires_at, rest))
}

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
        put_header(&mut payload, id, expires_at);
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
        let (id, expires_at, state) = split_header(&payload)?;
        Some(Unsealed {
            id,
            expires_at,
            state: serde_json::from_slice(state).ok()?,
        })
    }
}

/// Seals *and* conceals: AES-256-GCM-SIV over `id ‖ expires-at ‖ payload`, the payload
/// padded with spaces to at least [`Concealer::MIN_PLAINTEXT`] bytes and then to a
/// multiple of 64, so that what the payload says — and, for payloads of like size, its
/// length — is hidden from whoever holds the token. Format: prefix + base64url(nonce ‖
/// ciphertext ‖ tag), the prefix authenticated as associated data.
///
/// GCM-SIV because the 96-bit nonces are random and the key lives for years: a repeated
/// nonce under GCM would give the key's authenticator away, under GCM-SIV it only tells
/// whether two identical plaintexts were sealed.
pub struct Concealer {
    key: aws_lc_rs::aead::LessSafeKey,
    prefix: &'static str,
}

impl Concealer {
    /// Plaintexts shorter than this are padded up to it.
    pub const MIN_PLAINTEXT: usize = 320;
    const BLOCK: usize = 64;
    const NONCE_LEN: usize = aws_lc_rs::aead::NONCE_LEN;

    /// A concealer whose AES key is derived from `seal_key` (the key of [`Sealer`]) for
    /// this use and prefix only: no key is used by two algorithms.
    pub fn new(seal_key: &[u8], prefix: &'static str) -> anyhow::Result<Self> {
        let mut mac = crate::passkeys::keyed_mac(seal_key);
        mac.update(b"rp-server concealed ceremonies, AES-256-GCM-SIV key, ");
        mac.update(prefix.as_bytes());
        let derived = mac.finalize().into_bytes();
        let key = aws_lc_rs::aead::UnboundKey::new(&aws_lc_rs::aead::AES_256_GCM_SIV, &derived)
            .map_err(|_| anyhow::anyhow!("could not make the ceremonies' AES-256-GCM-SIV key"))?;
        Ok(Self {
            key: aws_lc_rs::aead::LessSafeKey::new(key),
            prefix,
        })
    }

    /// Whether `id` is in this concealed form.
    pub fn is_concealed(id: &str) -> bool {
        id.starts_with(CONCEALED_PREFIX)
    }

    /// `payload` must end in something that tolerates trailing spaces (JSON does).
    pub fn seal(
        &self,
        id: Uuid,
        expires_at: DateTime<Utc>,
        payload: &[u8],
    ) -> anyhow::Result<String> {
        use aws_lc_rs::aead::{Aad, Nonce};
        let unpadded = ID_LEN + TIME_LEN + payload.len();
        let padded = unpadded.max(Self::MIN_PLAINTEXT).div_ceil(Self::BLOCK) * Self::BLOCK;
        let mut nonce = [0u8; Self::NONCE_LEN];
        aws_lc_rs::rand::fill(&mut nonce)
            .map_err(|_| anyhow::anyhow!("the system's random source failed"))?;
        let mut sealed = Vec::with_capacity(Self::NONCE_LEN + padded + 16);
        sealed.extend_from_slice(&nonce);
        put_header(&mut sealed, id, expires_at);
        sealed.extend_from_slice(payload);
        sealed.resize(Self::NONCE_LEN + padded, b' ');
        let (_, plaintext) = sealed.split_at_mut(Self::NONCE_LEN);
        let tag = self
            .key
            .seal_in_place_separate_tag(
                Nonce::assume_unique_for_key(nonce),
                Aad::from(self.prefix.as_bytes()),
                plaintext,
            )
            .map_err(|_| anyhow::anyhow!("sealing a ceremony failed"))?;
        sealed.extend_from_slice(tag.as_ref());
        Ok(format!(
            "{}{}",
            self.prefix,
            URL_SAFE_NO_PAD.encode(&sealed)
        ))
    }

    /// The ceremony, if `sealed` is one this server concealed and nobody altered; its
    /// payload with the padding still on. Expiry is the caller's check.
    pub fn unseal(&self, sealed: &str) -> Option<Unsealed<Vec<u8>>> {
        use aws_lc_rs::aead::{Aad, Nonce};
        let encoded = sealed.strip_prefix(self.prefix)?;
        let mut bytes = URL_SAFE_NO_PAD.decode(encoded).ok()?;
        if bytes.len() < Self::NONCE_LEN + ID_LEN + TIME_LEN + 16 {
            return None;
        }
        let (nonce, ciphertext) = bytes.split_at_mut(Self::NONCE_LEN);
        let nonce = Nonce::try_assume_unique_for_key(nonce).ok()?;
        let plaintext = self
            .key
            .open_in_place(nonce, Aad::from(self.prefix.as_bytes()), ciphertext)
            .ok()?;
        let (id, expires_at, payload) = split_header(plaintext)?;
        Some(Unsealed {
            id,
            expires_at,
            state: payload.to_vec(),
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

    /// `opens` refuses `sealed` with any character after its prefix altered, truncated or
    /// extended.
    fn refuses_every_alteration(sealed: &str, prefix: &str, opens: impl Fn(&str) -> bool) {
        for i in prefix.len()..sealed.len() {
            let mut bytes = sealed.as_bytes().to_vec();
            bytes[i] = if bytes[i] == b'A' { b'B' } else { b'A' };
            let altered = String::from_utf8(bytes).unwrap();
            assert!(altered == sealed || !opens(&altered), "altered at {i}");
        }
        assert!(!opens(&sealed[..sealed.len() - 1]), "truncated");
        assert!(!opens(&format!("{sealed}A")), "extended");
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
        refuses_every_alteration(&sealed, PREFIX, |t| {
            sealer.unseal::<AuthenticationState>(t).is_some()
        });
        assert!(sealer.unseal::<AuthenticationState>("s1.").is_none());
        assert!(
            sealer
                .unseal::<AuthenticationState>(&id.to_string())
                .is_none()
        );
    }

    #[test]
    fn a_concealed_ceremony_opens_only_unaltered_and_with_its_key_and_tells_nothing() {
        let seal_key = [1u8; 32];
        let concealer = Concealer::new(&seal_key, CONCEALED_PREFIX).unwrap();
        let id = Uuid::new_v4();
        let at = DateTime::from_timestamp_micros(1_900_000_000_000_000).unwrap();
        let secret = b"{\"sub\":\"who-is-this-user\"}";
        let sealed = concealer.seal(id, at, secret).unwrap();
        assert!(Concealer::is_concealed(&sealed) && !Sealer::is_sealed(&sealed));
        let open = concealer.unseal(&sealed).unwrap();
        assert_eq!((open.id, open.expires_at), (id, at));
        assert_eq!(open.state.trim_ascii_end(), secret);

        // Nothing of the plaintext shows, and the same plaintext seals differently.
        let bytes = URL_SAFE_NO_PAD
            .decode(sealed.strip_prefix(CONCEALED_PREFIX).unwrap())
            .unwrap();
        assert!(!bytes.windows(12).any(|w| w == b"who-is-this-"));
        assert!(!bytes.windows(16).any(|w| w == id.as_bytes()));
        assert_ne!(concealer.seal(id, at, secret).unwrap(), sealed);

        // Payloads up to the padded size all give tokens of one length.
        let lengths: std::collections::BTreeSet<usize> =
            (0..=Concealer::MIN_PLAINTEXT - ID_LEN - TIME_LEN)
                .map(|n| concealer.seal(id, at, &vec![b'x'; n]).unwrap().len())
                .collect();
        assert_eq!(lengths.len(), 1, "{lengths:?}");

        // Another key, the sealer's own key used directly, another prefix, any altered
        // character, a truncated or extended token: refused.
        assert!(
            Concealer::new(&[2; 32], CONCEALED_PREFIX)
                .unwrap()
                .unseal(&sealed)
                .is_none()
        );
        assert!(
            Concealer::new(&seal_key, "d1.")
                .unwrap()
                .unseal(&sealed)
                .is_none()
        );
        let relabelled = sealed.replacen(CONCEALED_PREFIX, "d1.", 1);
        assert!(
            Concealer::new(&seal_key, "d1.")
                .unwrap()
                .unseal(&relabelled)
                .is_none()
        );
        assert!(
            Sealer::new(seal_key.to_vec())
                .unseal::<serde_json::Value>(&sealed)
                .is_none()
        );
        refuses_every_alteration(&sealed, CONCEALED_PREFIX, |t| concealer.unseal(t).is_some());
        assert!(concealer.unseal(CONCEALED_PREFIX).is_none());
        assert!(concealer.unseal(&id.to_string()).is_none());
    }
}
