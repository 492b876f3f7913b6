//! `TestApp`: the shared [`testkit::rp::TestRp`] (one rp-server per test, with its own
//! database, token issuer and clock), which this suite extends with its own helpers.

use std::ops::Deref;

pub use testkit::rp::{ADMIN_TOKEN, ORIGIN, RP_ID, Response, SERVICE_TOKEN, TestRp, User};

pub struct TestApp(TestRp);

impl Deref for TestApp {
    type Target = TestRp;
    fn deref(&self) -> &TestRp {
        &self.0
    }
}

impl TestApp {
    pub async fn spawn() -> Self {
        Self(TestRp::spawn().await)
    }

    pub async fn spawn_with(adjust: impl FnOnce(&mut rp_server::config::Config)) -> Self {
        Self(TestRp::spawn_with(adjust).await)
    }

    /// With `adjust` applied to the configuration and this Cognito admin client.
    pub async fn spawn_full(
        adjust: impl FnOnce(&mut rp_server::config::Config),
        cognito: rp_server::cognito::CognitoAdmin,
    ) -> Self {
        Self(TestRp::spawn_full(adjust, Some(cognito)).await)
    }

    /// With passkey-first sign-up on, creating users in `cognito`'s pool.
    pub async fn spawn_with_signup(
        cognito: rp_server::cognito::CognitoAdmin,
        pool_id: &str,
    ) -> Self {
        Self(TestRp::spawn_with_signup(cognito, pool_id).await)
    }
}
