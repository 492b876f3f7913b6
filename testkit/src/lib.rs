//! Test support shared by the workspace's suites. Everything here is real: a software
//! authenticator that produces genuine WebAuthn responses, RSA-signed Cognito-shaped
//! tokens served with a JWKS over loopback HTTP, and fresh databases on a real Postgres.

pub mod authenticator;
pub mod db;
pub mod idp;
pub mod lambda;
