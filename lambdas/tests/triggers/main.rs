//! Tests of the Cognito triggers: golden tests on real Cognito event JSON, the handlers
//! against a real rp-server (real Postgres, real WebAuthn ceremonies), and the binary
//! running as a Lambda function behind the Invoke API.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod golden;
mod handlers;
mod harness;
mod runtime;
