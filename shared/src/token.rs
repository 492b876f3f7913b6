//! Opaque tokens: 256 bits from the OS CSPRNG, carried as an optional prefix plus
//! unpadded base64url, stored server-side only as their SHA-256 hash. One type for every
//! kind (nonces, enrolment tokens, service secrets); the kind fixes the prefix, so a
//! token of one kind is never taken for another.

use std::marker::PhantomData;

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use rand::{RngCore as _, TryRngCore as _};
use sha2::{Digest as _, Sha256};

/// Entropy of a token in bytes.
pub const TOKEN_BYTES: usize = 32;
/// Length of the encoded random part.
pub const TOKEN_ENCODED_LEN: usize = 43;

/// A kind of token: what it is called and the prefix that tells it apart.
pub trait TokenKind {
    const PREFIX: &'static str;
}

/// One-time answers to Cognito's custom challenge (no prefix: Cognito passes them on).
pub struct NonceKind;
impl TokenKind for NonceKind {
    const PREFIX: &'static str = "";
}

/// Admin-issued account-recovery tokens that stand in for an access token.
pub struct EnrolmentKind;
impl TokenKind for EnrolmentKind {
    const PREFIX: &'static str = "rpe_";
}

/// Shared secrets such as the service and admin tokens of a local stack.
pub struct SecretKind;
impl TokenKind for SecretKind {
    const PREFIX: &'static str = "rps_";
}

/// Proof that an address received a sign-up code (`/v1/email/verify` → `/v1/signup/*`).
pub struct SignupTokenKind;
impl TokenKind for SignupTokenKind {
    const PREFIX: &'static str = "rpv_";
}

/// Names the code request a code answers (`/v1/email/codes` → `/v1/email/verify`): only
/// the asker holds it, so only the asker can try the code.
pub struct CodeRequestKind;
impl TokenKind for CodeRequestKind {
    const PREFIX: &'static str = "rpq_";
}

/// The OpenID provider's authorization codes (60 s, one redemption).
pub struct AuthorizationCodeKind;
impl TokenKind for AuthorizationCodeKind {
    const PREFIX: &'static str = "rpc_";
}

/// The OpenID provider's opaque access tokens (they open `/oidc/userinfo` only).
pub struct ProviderAccessTokenKind;
impl TokenKind for ProviderAccessTokenKind {
    const PREFIX: &'static str = "rpa_";
}

/// A freshly generated token. Its `Debug` form hides the value so it cannot reach a log.
pub struct OpaqueToken<K> {
    encoded: String,
    kind: PhantomData<K>,
}

pub type Nonce = OpaqueToken<NonceKind>;
pub type EnrolmentToken = OpaqueToken<EnrolmentKind>;
pub type Secret = OpaqueToken<SecretKind>;
pub type SignupToken = OpaqueToken<SignupTokenKind>;
pub type CodeRequestId = OpaqueToken<CodeRequestKind>;
pub type AuthorizationCode = OpaqueToken<AuthorizationCodeKind>;
pub type ProviderAccessToken = OpaqueToken<ProviderAccessTokenKind>;

impl<K: TokenKind> OpaqueToken<K> {
    /// Draws a new token from the operating system's CSPRNG.
    pub fn generate() -> Self {
        let mut bytes = [0u8; TOKEN_BYTES];
        rand::rngs::OsRng.unwrap_err().fill_bytes(&mut bytes);
        Self {
            encoded: format!("{}{}", K::PREFIX, URL_SAFE_NO_PAD.encode(bytes)),
            kind: PhantomData,
        }
    }

    /// The encoded value, to hand over exactly once.
    pub fn expose(&self) -> &str {
        &self.encoded
    }

    /// The hash under which the token is stored.
    pub fn hash(&self) -> [u8; 32] {
        hash_encoded(&self.encoded)
    }

    /// Whether `presented` claims to be of this kind (has its prefix). Only meaningful
    /// for kinds with a prefix.
    pub fn claims_kind(presented: &str) -> bool {
        !K::PREFIX.is_empty() && presented.starts_with(K::PREFIX)
    }

    /// Hash of a token as presented by a client. `None` when it cannot be one of this
    /// kind (wrong prefix, length or alphabet), so garbage never reaches the database.
    pub fn parse_and_hash(presented: &str) -> Option<[u8; 32]> {
        let random = presented.strip_prefix(K::PREFIX)?;
        let decoded = URL_SAFE_NO_PAD.decode(random).ok()?;
        (decoded.len() == TOKEN_BYTES && random.len() == TOKEN_ENCODED_LEN)
            .then(|| hash_encoded(presented))
    }
}

impl<K> std::fmt::Debug for OpaqueToken<K> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("OpaqueToken(<redacted>)")
    }
}

fn hash_encoded(encoded: &str) -> [u8; 32] {
    Sha256::digest(encoded.as_bytes()).into()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens_are_256_bit_distinct_and_prefixed_by_kind() {
        let a = Nonce::generate();
        let b = Nonce::generate();
        assert_eq!(a.expose().len(), TOKEN_ENCODED_LEN);
        assert_eq!(
            URL_SAFE_NO_PAD.decode(a.expose()).map(|v| v.len()),
            Ok(TOKEN_BYTES)
        );
        assert_ne!(a.expose(), b.expose());
        let e = EnrolmentToken::generate();
        assert!(e.expose().starts_with("rpe_"));
        assert_eq!(e.expose().len(), 4 + TOKEN_ENCODED_LEN);
        assert!(EnrolmentToken::claims_kind(e.expose()));
        assert!(!Nonce::claims_kind(a.expose()));
    }

    #[test]
    fn stored_hash_is_not_the_token_and_matches_presented_form() {
        let n = Nonce::generate();
        assert_ne!(n.hash().as_slice(), n.expose().as_bytes());
        assert_eq!(Nonce::parse_and_hash(n.expose()), Some(n.hash()));
        let e = EnrolmentToken::generate();
        assert_eq!(EnrolmentToken::parse_and_hash(e.expose()), Some(e.hash()));
    }

    #[test]
    fn malformed_or_foreign_tokens_are_rejected_before_hashing() {
        assert_eq!(Nonce::parse_and_hash(""), None);
        assert_eq!(Nonce::parse_and_hash("not base64 !!"), None);
        assert_eq!(Nonce::parse_and_hash(&"A".repeat(42)), None);
        assert_eq!(Nonce::parse_and_hash(&"A".repeat(44)), None);
        let e = EnrolmentToken::generate();
        // An enrolment token is not a nonce, nor a nonce an enrolment token.
        assert_eq!(Nonce::parse_and_hash(e.expose()), None);
        assert_eq!(
            EnrolmentToken::parse_and_hash(Nonce::generate().expose()),
            None
        );
        assert_eq!(Secret::parse_and_hash(e.expose()), None);
    }

    #[test]
    fn debug_does_not_reveal_the_value() {
        let n = Nonce::generate();
        assert!(!format!("{n:?}").contains(n.expose()));
    }
}
