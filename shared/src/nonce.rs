//! One-time nonces: 256 bits from the OS CSPRNG, carried as unpadded base64url
//! (43 characters), stored server-side only as their SHA-256 hash.

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use rand::RngCore as _;
use sha2::{Digest as _, Sha256};

/// Entropy of a nonce in bytes.
pub const NONCE_BYTES: usize = 32;
/// Length of the encoded form.
pub const NONCE_ENCODED_LEN: usize = 43;

/// A freshly generated nonce. Its `Debug` form hides the value so it cannot reach a log.
pub struct Nonce(String);

impl Nonce {
    /// Draws a new nonce from the operating system's CSPRNG.
    pub fn generate() -> Self {
        let mut bytes = [0u8; NONCE_BYTES];
        rand::rngs::OsRng.fill_bytes(&mut bytes);
        Self(URL_SAFE_NO_PAD.encode(bytes))
    }

    /// The encoded value, to hand to the browser exactly once.
    pub fn expose(&self) -> &str {
        &self.0
    }

    /// The hash under which the nonce is stored.
    pub fn hash(&self) -> [u8; 32] {
        hash_encoded(&self.0)
    }
}

impl std::fmt::Debug for Nonce {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Nonce(<redacted>)")
    }
}

/// Hash of a nonce as presented by a client. Returns `None` when it cannot be one of
/// ours (wrong length or alphabet), so garbage never reaches the database.
pub fn parse_and_hash(presented: &str) -> Option<[u8; 32]> {
    let decoded = URL_SAFE_NO_PAD.decode(presented).ok()?;
    (decoded.len() == NONCE_BYTES && presented.len() == NONCE_ENCODED_LEN)
        .then(|| hash_encoded(presented))
}

fn hash_encoded(encoded: &str) -> [u8; 32] {
    Sha256::digest(encoded.as_bytes()).into()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nonces_are_256_bit_and_distinct() {
        let a = Nonce::generate();
        let b = Nonce::generate();
        assert_eq!(a.expose().len(), NONCE_ENCODED_LEN);
        assert_eq!(
            URL_SAFE_NO_PAD.decode(a.expose()).map(|v| v.len()),
            Ok(NONCE_BYTES)
        );
        assert_ne!(a.expose(), b.expose());
    }

    #[test]
    fn stored_hash_is_not_the_nonce_and_matches_presented_form() {
        let n = Nonce::generate();
        assert_ne!(n.hash().as_slice(), n.expose().as_bytes());
        assert_eq!(parse_and_hash(n.expose()), Some(n.hash()));
    }

    #[test]
    fn malformed_nonces_are_rejected_before_hashing() {
        assert_eq!(parse_and_hash(""), None);
        assert_eq!(parse_and_hash("not base64 !!"), None);
        assert_eq!(parse_and_hash(&"A".repeat(42)), None);
        assert_eq!(parse_and_hash(&"A".repeat(44)), None);
    }

    #[test]
    fn debug_does_not_reveal_the_value() {
        let n = Nonce::generate();
        assert!(!format!("{n:?}").contains(n.expose()));
    }
}
