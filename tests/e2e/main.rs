//! End-to-end tests: real processes on loopback — `rp-server` with a real Postgres, the
//! `cognito-standin` user pool, and the `cognito-triggers` binary behind the Lambda
//! Invoke API — driven by the official `aws-sdk-cognitoidentityprovider` client and a
//! software passkey authenticator, as a browser app would drive them.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod cognito;
mod failures;
mod flows;
mod sites;
mod stack;
