//! Fresh Postgres databases per test, on the server named by `DATABASE_URL` (the test
//! command, `scripts/test`, starts a private cluster and sets it).

use anyhow::Context as _;
use sqlx::Connection as _;
use url::Url;

/// The server to create test databases on.
pub fn server_url() -> anyhow::Result<Url> {
    let raw = std::env::var("DATABASE_URL").context(
        "DATABASE_URL is not set: run the suite with `scripts/test` (it starts a private Postgres), \
         or point DATABASE_URL at a Postgres server where this user may CREATE DATABASE",
    )?;
    Url::parse(&raw).context("DATABASE_URL is not a URL")
}

/// A database of one test, dropped (connections and all) when this is dropped, so a
/// run leaves nothing behind under the server's data directory.
pub struct TestDatabase {
    pub url: String,
    name: String,
    server: Url,
}

impl Drop for TestDatabase {
    fn drop(&mut self) {
        let server = self.server.clone();
        let name = std::mem::take(&mut self.name);
        // Drop cannot await, and the test's runtime may be single-threaded: a thread of
        // its own, with a runtime of its own, does the dropping.
        let dropper = std::thread::spawn(move || {
            let Ok(runtime) = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
            else {
                return;
            };
            runtime.block_on(async move {
                if let Ok(mut conn) = sqlx::PgConnection::connect(server.as_str()).await {
                    let _ = sqlx::query(&format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)"))
                        .execute(&mut conn)
                        .await;
                    let _ = conn.close().await;
                }
            });
        });
        let _ = dropper.join();
    }
}

/// Creates an empty database with a unique name; it is dropped with the returned guard.
pub async fn fresh_database() -> anyhow::Result<TestDatabase> {
    let server = server_url()?;
    let name = format!("test_{}", uuid::Uuid::new_v4().simple());
    let mut conn = sqlx::PgConnection::connect(server.as_str())
        .await
        .with_context(|| format!("connecting to the test Postgres at {}", redact(&server)))?;
    sqlx::query(&format!("CREATE DATABASE {name}"))
        .execute(&mut conn)
        .await
        .context("CREATE DATABASE")?;
    conn.close().await.ok();
    let mut url = server.clone();
    url.set_path(&format!("/{name}"));
    Ok(TestDatabase {
        url: url.to_string(),
        name,
        server,
    })
}

fn redact(url: &Url) -> String {
    let mut u = url.clone();
    if u.password().is_some() {
        let _ = u.set_password(Some("***"));
    }
    u.to_string()
}
