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

/// Creates an empty database with a unique name and returns its URL.
pub async fn fresh_database() -> anyhow::Result<String> {
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
    let mut url = server;
    url.set_path(&format!("/{name}"));
    Ok(url.to_string())
}

fn redact(url: &Url) -> String {
    let mut u = url.clone();
    if u.password().is_some() {
        let _ = u.set_password(Some("***"));
    }
    u.to_string()
}
