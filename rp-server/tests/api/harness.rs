//! `TestApp`: the shared [`testkit::rp::TestRp`] (one rp-server per test, with its own
//! database, token issuer and clock), which this suite extends with its own helpers.

use std::ops::Deref;

use secrecy::ExposeSecret as _;

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

    /// Waits until the site's mail queue has handed every message to the SMTP server.
    pub async fn delivered(&self) {
        self.state
            .admin_site()
            .email
            .as_ref()
            .expect("mail is configured")
            .outbox_empty()
            .await;
    }

    /// `rp-server admin <args>` on this app's database, as user `tester`, with nothing else
    /// from this process's environment.
    pub fn admin_cli(&self, args: &[&str]) -> std::process::Command {
        let mut command = std::process::Command::new(env!("CARGO_BIN_EXE_rp-server"));
        command
            .arg("admin")
            .args(args)
            .env_clear()
            .env(
                "DATABASE_URL",
                self.state.config.database_url.expose_secret(),
            )
            .env("USER", "tester");
        command
    }
}
