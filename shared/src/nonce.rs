//! One-time nonces: [`crate::token::Nonce`], 256 bits carried as unpadded base64url
//! (43 characters), stored server-side only as their SHA-256 hash.

pub use crate::token::Nonce;
