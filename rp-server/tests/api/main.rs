//! Black-box tests of rp-server: a real server on a loopback port, a fresh Postgres
//! database per test, real WebAuthn ceremonies with a software authenticator and
//! RSA-signed access tokens verified through a JWKS served over HTTP.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
// Test futures nest the whole server start-up (rp-server's layers and flows) deeply.
#![recursion_limit = "256"]

mod harness;

mod admin;
mod attestation;
mod authentication;
mod bad_input;
mod config;
mod console;
mod credentials;
mod email;
mod email_limits;
mod flows;
mod internal;
mod layers;
mod oidc;
mod operations;
mod policies;
mod recovery;
mod registration;
mod signup;
mod sites;
mod tokens;
mod transfer;
mod webauthn_features;
