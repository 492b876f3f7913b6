//! Test support shared by the workspace's suites. Everything here is real: a software
//! authenticator that produces genuine WebAuthn responses, RSA-signed Cognito-shaped
//! tokens served with a JWKS over loopback HTTP, fresh databases on a real Postgres, and
//! an in-process rp-server on top of them ([`rp::TestRp`]), a local Lambda, and an SMTP
//! server on loopback ([`smtp::Mailbox`]).

pub mod attestation;
pub mod authenticator;
pub mod child;
pub mod db;
pub mod idp;
pub mod lambda;
pub mod pg;
pub mod rp;
pub mod smtp;
