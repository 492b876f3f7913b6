//! One-time nonces: [`crate::token::Nonce`], 256 bits carried as unpadded base64url
//! (43 characters), stored server-side only as their SHA-256 hash.

pub use crate::token::Nonce;
pub use crate::token::{TOKEN_BYTES as NONCE_BYTES, TOKEN_ENCODED_LEN as NONCE_ENCODED_LEN};

/// Hash of a nonce as presented by a client; `None` when it cannot be one of ours.
pub fn parse_and_hash(presented: &str) -> Option<[u8; 32]> {
    Nonce::parse_and_hash(presented)
}
