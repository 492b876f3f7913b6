//! `TestApp`: the shared [`testkit::rp::TestRp`] (one rp-server per test, with its own
//! database, token issuer and clock), which this suite extends with its own helpers.

use std::ops::Deref;

use secrecy::ExposeSecret as _;

pub use testkit::rp::{ADMIN_TOKEN, ORIGIN, RP_ID, Response, SERVICE_TOKEN, TestRp, User};

pub struct TestApp(TestRp);

/// `token` with its character at `at` changed (an ASCII one: base64url and the like).
pub fn altered_at(token: &str, at: usize) -> String {
    let mut bytes = token.as_bytes().to_vec();
    bytes[at] = if bytes[at] == b'A' { b'B' } else { b'A' };
    String::from_utf8(bytes).unwrap()
}

/// Rows Postgres fetched so far in this transaction from the tables whose name starts with
/// `table` (its partitions too), by sequential and index scans: how much a statement read.
pub async fn rows_fetched(tx: &mut sqlx::PgConnection, table: &str) -> i64 {
    sqlx::query_scalar(
        "SELECT coalesce(sum(coalesce(seq_tup_read, 0) + coalesce(idx_tup_fetch, 0)), 0)::int8
           FROM pg_stat_xact_user_tables WHERE relname LIKE $1 || '%'",
    )
    .bind(table)
    .fetch_one(tx)
    .await
    .unwrap()
}

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

    /// Users 1 to `n` of the admin site and their passkeys, seeded in bulk by SQL (not the
    /// API; their stored key is a copy of a registered passkey's, or empty when there is none:
    /// they never sign in): user `g` has two passkeys with
    /// 32-byte ids over USB when `g` is a multiple of 3, else one with a 16-byte id,
    /// internal; its sub is `sub-g`. Then the table is analysed, as a database in service
    /// would be.
    pub async fn seed_passkeys_in_bulk(&self, n: u32) {
        // In bulk: longer than the app's statement timeout allows a request.
        let mut tx = self.state.db.begin().await.unwrap();
        sqlx::query("SET LOCAL statement_timeout = 0")
            .execute(&mut *tx)
            .await
            .unwrap();
        sqlx::query(
            "INSERT INTO users (id, site, cognito_sub, username, created_at, updated_at)
             SELECT gen_random_uuid(), $1, 'sub-' || g, 'user-' || g, now(), now()
               FROM generate_series(1, $2) g",
        )
        .bind(self.state.admin_site().id.as_str())
        .bind(i32::try_from(n).unwrap())
        .execute(&mut *tx)
        .await
        .unwrap();
        sqlx::query(
            "INSERT INTO credentials (credential_id, user_id, site, passkey, sign_count, backup_eligible,
                                      backup_state, transports, created_at)
             SELECT CASE WHEN two THEN decode(md5(random()::text) || md5(random()::text), 'hex')
                         ELSE decode(md5(random()::text), 'hex') END,
                    id, site, coalesce((SELECT passkey FROM credentials LIMIT 1), '{}'), 0, true, true,
                    CASE WHEN two THEN '{usb}'::text[] ELSE '{internal}' END, now()
               FROM (SELECT id, site, substr(cognito_sub, 5)::int % 3 = 0 AS two
                       FROM users WHERE cognito_sub LIKE 'sub-%') u
              CROSS JOIN LATERAL generate_series(1, CASE WHEN two THEN 2 ELSE 1 END)",
        )
        .execute(&mut *tx)
        .await
        .unwrap();
        sqlx::query("ANALYZE credentials, users")
            .execute(&mut *tx)
            .await
            .unwrap();
        tx.commit().await.unwrap();
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
