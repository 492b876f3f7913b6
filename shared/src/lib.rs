//! Types and logic that rp-server and the Cognito trigger Lambdas must agree on.
//!
//! - [`internal`]: the payloads of the `/internal/v1/*` API the triggers call;
//! - [`token`]: opaque tokens (nonces, enrolment tokens, secrets): generation, hashing, parsing;
//! - [`nonce`]: the nonce kind of token;
//! - [`credential_id`]: the one codec for credential ids (base64url);
//! - [`error`]: the JSON error body every endpoint answers with;
//! - [`triggers`]: the decisions of the Cognito custom-auth triggers.

pub mod credential_id;
pub mod error;
pub mod internal;
pub mod loopback;
pub mod nonce;
pub mod token;
pub mod triggers;
