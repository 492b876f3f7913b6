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

/// Creates a database with a unique name and the current schema, copied from a migrated
/// template (migrating each test's database took most of a short test's time); it is
/// dropped with the returned guard.
pub async fn fresh_database() -> anyhow::Result<TestDatabase> {
    create(true).await
}

/// Creates an empty database with a unique name (no schema: for tests of the migrations
/// themselves); dropped with the returned guard.
pub async fn empty_database() -> anyhow::Result<TestDatabase> {
    create(false).await
}

async fn create(migrated: bool) -> anyhow::Result<TestDatabase> {
    let server = server_url()?;
    let name = format!("test_{}", uuid::Uuid::new_v4().simple());
    let mut conn = sqlx::PgConnection::connect(server.as_str())
        .await
        .with_context(|| format!("connecting to the test Postgres at {}", redact(&server)))?;
    let sql = if migrated {
        let template = template(&mut conn, &server).await?;
        format!("CREATE DATABASE {name} TEMPLATE {template}")
    } else {
        format!("CREATE DATABASE {name}")
    };
    sqlx::query(&sql)
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

/// The migrated template test databases are copied from, made once per server and schema:
/// its name carries a digest of the migrations, and an advisory lock makes parallel test
/// processes wait for the one that makes it. It is built under another name and renamed
/// when complete, so a process killed half-way leaves no half-made template behind.
async fn template(conn: &mut sqlx::PgConnection, server: &Url) -> anyhow::Result<String> {
    use std::hash::{Hash as _, Hasher as _};
    let mut digest = std::hash::DefaultHasher::new();
    for m in rp_server::store::MIGRATOR.iter() {
        (m.version, &m.checksum[..]).hash(&mut digest);
    }
    let name = format!("test_template_{:016x}", digest.finish());
    const LOCK: i64 = 0x7270_7465_6d70; // "rptemp"
    sqlx::query("SELECT pg_advisory_lock($1)")
        .bind(LOCK)
        .execute(&mut *conn)
        .await?;
    let made = make_template(conn, server, &name).await;
    sqlx::query("SELECT pg_advisory_unlock($1)")
        .bind(LOCK)
        .execute(&mut *conn)
        .await?;
    made.map(|()| name)
}

async fn make_template(
    conn: &mut sqlx::PgConnection,
    server: &Url,
    name: &str,
) -> anyhow::Result<()> {
    let exists: bool =
        sqlx::query_scalar("SELECT EXISTS (SELECT 1 FROM pg_database WHERE datname = $1)")
            .bind(name)
            .fetch_one(&mut *conn)
            .await?;
    if exists {
        return Ok(());
    }
    let building = format!("{name}_building");
    sqlx::query(&format!("DROP DATABASE IF EXISTS {building} WITH (FORCE)"))
        .execute(&mut *conn)
        .await?;
    sqlx::query(&format!("CREATE DATABASE {building}"))
        .execute(&mut *conn)
        .await
        .context("CREATE DATABASE (template)")?;
    let mut url = server.clone();
    url.set_path(&format!("/{building}"));
    let mut db = sqlx::PgConnection::connect(url.as_str()).await?;
    rp_server::store::MIGRATOR
        .run(&mut db)
        .await
        .context("migrating the template database")?;
    db.close().await?;
    sqlx::query(&format!("ALTER DATABASE {building} RENAME TO {name}"))
        .execute(&mut *conn)
        .await?;
    Ok(())
}

fn redact(url: &Url) -> String {
    let mut u = url.clone();
    if u.password().is_some() {
        let _ = u.set_password(Some("***"));
    }
    u.to_string()
}
