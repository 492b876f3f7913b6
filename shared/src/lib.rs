//! Types and logic that rp-server and the Cognito trigger Lambdas must agree on.
//!
//! - [`internal`]: the payloads of the `/internal/v1/*` API the triggers call;
//! - [`nonce`]: how one-time nonces are generated, encoded and hashed;
//! - [`error`]: the JSON error body every endpoint answers with;
//! - [`triggers`]: the decisions of the Cognito custom-auth triggers.

pub mod error;
pub mod internal;
pub mod nonce;
pub mod triggers;
