use serde_json::json;
use testkit::authenticator::SoftAuthenticator;

use crate::harness::{ORIGIN, TestApp, User};

#[tokio::test]
async fn health_readiness_and_request_ids() {
    let app = TestApp::spawn().await;
    let r = app.get("/healthz", None).await;
    assert_eq!(r.status, 200);
    assert!(r.headers.contains_key("x-request-id"));
    assert_eq!(
        app.get("/readyz", None).await.expect(200),
        json!({ "status": "ready" })
    );
    app.state.db.close().await;
    app.get("/readyz", None)
        .await
        .expect_error(503, "UNAVAILABLE");
}

/// A request id the caller chose is kept only from a trusted proxy: anyone else could
/// write a chosen string, or another request's id, into the logs.
#[tokio::test]
async fn a_request_id_is_taken_only_from_trusted_proxies() {
    async fn id_of(app: &TestApp, sent: &str) -> String {
        let r = app
            .send(
                app.http
                    .get(app.url("/healthz"))
                    .header("x-request-id", sent),
            )
            .await;
        r.headers["x-request-id"].to_str().unwrap().to_owned()
    }
    let app = TestApp::spawn().await;
    let made = id_of(&app, "chosen-by-the-caller").await;
    assert_ne!(made, "chosen-by-the-caller");
    assert!(uuid::Uuid::parse_str(&made).is_ok(), "{made}");

    let behind_proxy =
        TestApp::spawn_with(|c| c.trusted_proxies = vec!["127.0.0.0/8".parse().unwrap()]).await;
    assert_eq!(id_of(&behind_proxy, "lb-1234").await, "lb-1234");
    // Even a proxy's id must be short, printable ASCII.
    let long = "x".repeat(200);
    assert_ne!(id_of(&behind_proxy, &long).await, long);
}

#[tokio::test]
async fn openapi_describes_every_endpoint() {
    let app = TestApp::spawn().await;
    let doc = app.get("/openapi.json", None).await.expect(200);
    let paths = doc["paths"].as_object().unwrap();
    for (path, method) in [
        ("/v1/registration/options", "post"),
        ("/v1/registration/verify", "post"),
        ("/v1/authentication/options", "post"),
        ("/v1/authentication/verify", "post"),
        ("/v1/credentials", "get"),
        ("/v1/credentials/{id}", "patch"),
        ("/v1/credentials/{id}", "delete"),
        ("/internal/v1/challenges", "post"),
        ("/internal/v1/nonces/redeem", "post"),
        ("/healthz", "get"),
        ("/readyz", "get"),
        ("/metrics", "get"),
    ] {
        assert!(
            paths.get(path).and_then(|p| p.get(method)).is_some(),
            "{method} {path} missing"
        );
    }
    assert!(doc["components"]["securitySchemes"]["service"].is_object());
}

#[tokio::test]
async fn metrics_count_ceremonies_redemptions_and_latency() {
    let app = TestApp::spawn().await;
    let u = User::new("u");
    let mut authn = SoftAuthenticator::new();
    app.register(&u, &mut authn).await;
    let nonce = app.sign_in(&mut authn).await.expect(200)["nonce"]
        .as_str()
        .unwrap()
        .to_owned();
    let c = app.challenge(&u).await;
    app.redeem(&nonce, &u.sub, &c["challengeId"]).await;
    // A registration answered to a ceremony that does not exist counts as a failure.
    let options = app
        .post("/v1/registration/options", Some(&app.token(&u)), &json!({}))
        .await
        .expect(200);
    let credential = SoftAuthenticator::new()
        .create(&options["publicKey"], ORIGIN)
        .unwrap();
    let body = json!({ "ceremonyId": uuid::Uuid::new_v4(), "credential": credential });
    app.post("/v1/registration/verify", Some(&app.token(&u)), &body)
        .await
        .expect_error(410, "CEREMONY_NOT_FOUND");
    let r = app.send(app.http.get(app.url("/metrics"))).await;
    assert_eq!(r.status, 200);
    let text = r.body.as_str().unwrap().to_owned();
    for needle in [
        "rp_ceremonies_started_total{site=\"default\",kind=\"registration\"}",
        "rp_ceremonies_finished_total{site=\"default\",kind=\"authentication\"}",
        "rp_ceremonies_failed_total{site=\"default\",kind=\"registration\",reason=\"unknown_ceremony\"}",
        "rp_nonce_redemptions_total{site=\"default\",outcome=\"valid\"}",
        "rp_http_request_duration_seconds_bucket",
        "route=\"/v1/authentication/verify\"",
    ] {
        assert!(text.contains(needle), "{needle} missing from metrics");
    }
}

/// The requests' database pool is in the metrics — connections in use and idle, its
/// limit — and a request that waited for a connection in vain is counted (answering 503):
/// what an operator sizes `RP_DB_MAX_CONNECTIONS` by (deploy guide, *Connections*).
#[tokio::test]
async fn metrics_show_the_database_pool_and_waits_for_it() {
    let app = TestApp::spawn_with(|c| {
        c.db_max_connections = 2;
        c.db_timeouts.acquire = std::time::Duration::from_millis(100);
    })
    .await;
    let u = User::new("u");
    app.register(&u, &mut SoftAuthenticator::new()).await;
    let metrics = || async {
        let r = app.send(app.http.get(app.url("/metrics"))).await;
        assert_eq!(r.status, 200);
        r.body.as_str().unwrap().to_owned()
    };
    // Rendered before the first wait too (at zero in a process of its own).
    let timeouts = |text: &str| -> u64 {
        text.lines()
            .find_map(|l| l.strip_prefix("rp_db_acquire_timeouts_total "))
            .expect("the counter is not rendered")
            .trim()
            .parse()
            .unwrap()
    };
    let before = timeouts(&metrics().await);

    // Both connections held elsewhere: a trigger's challenge waits for one, then 503.
    let held = (
        app.state.db.acquire().await.unwrap(),
        app.state.db.acquire().await.unwrap(),
    );
    let challenge = app.challenge_request(&u);
    let token = Some(crate::harness::SERVICE_TOKEN);
    app.post("/internal/v1/challenges", token, &challenge)
        .await
        .expect_error(503, "UNAVAILABLE");
    let text = metrics().await;
    for line in [
        "rp_db_connections{state=\"in_use\"} 2",
        "rp_db_connections{state=\"idle\"} 0",
        "rp_db_connections_max 2",
    ] {
        assert!(
            text.lines().any(|l| l == line),
            "{line} missing from metrics"
        );
    }
    assert!(
        timeouts(&text) > before,
        "the wait for a connection was not counted"
    );

    // Released (sqlx returns a connection to the pool in a task of its own, so the gauges
    // catch up a moment later): the next challenge is served.
    drop(held);
    app.post("/internal/v1/challenges", token, &challenge)
        .await
        .expect(200);
}

#[tokio::test]
async fn browser_endpoints_are_rate_limited_per_ip() {
    let app = TestApp::spawn_with(|c| c.rate_limit_per_min = 5).await;
    for _ in 0..5 {
        app.post("/v1/authentication/options", None, &json!({}))
            .await
            .expect(200);
    }
    let r = app
        .post("/v1/authentication/options", None, &json!({}))
        .await;
    r.expect_error(429, "RATE_LIMITED");
    let retry: u64 = r.headers["retry-after"].to_str().unwrap().parse().unwrap();
    assert!(retry >= 1);
    // Liveness is not limited; readiness is, at the same rate but with a quota of its
    // own: the browser-API quota this client used up does not fail its readiness check.
    app.get("/healthz", None).await.expect(200);
    app.get("/readyz", None).await.expect(200);
    // The OpenAPI document shares readiness's quota.
    for path in ["/readyz", "/openapi.json"] {
        let app = TestApp::spawn_with(|c| c.rate_limit_per_min = 2).await;
        for _ in 0..2 {
            app.get(path, None).await.expect(200);
        }
        app.get(path, None).await.expect_error(429, "RATE_LIMITED");
    }
}

#[tokio::test]
async fn cors_allows_configured_origins_only() {
    let app = TestApp::spawn().await;
    let preflight = |origin: &str| {
        app.http
            .request(
                reqwest::Method::OPTIONS,
                app.url("/v1/authentication/options"),
            )
            .header("origin", origin)
            .header("access-control-request-method", "POST")
            .header("access-control-request-headers", "content-type")
    };
    let ok = app.send(preflight(ORIGIN)).await;
    assert_eq!(ok.headers["access-control-allow-origin"], ORIGIN);
    let bad = app.send(preflight("https://evil.test")).await;
    assert!(!bad.headers.contains_key("access-control-allow-origin"));
}

#[tokio::test]
async fn expired_rows_are_purged_in_the_background() {
    let app = TestApp::spawn().await;
    let u = User::new("u");
    let mut authn = SoftAuthenticator::new();
    app.register(&u, &mut authn).await;
    app.sign_in(&mut authn).await.expect(200); // leaves a nonce and a spent sealed ceremony
    app.challenge(&u).await; // leaves nothing: its challenge and ceremony are sealed into their ids
    app.post(
        "/v1/registration/options",
        Some(&app.token(&u)),
        &serde_json::json!({}),
    )
    .await
    .expect(200); // leaves a ceremony
    let count = |table: &'static str| app.count(table);
    assert_eq!(
        rp_server::purge::once(&app.state).await,
        0,
        "nothing has expired yet"
    );
    assert_eq!(
        (
            count("ceremonies").await,
            count("spent_ceremonies").await,
            count("challenges").await,
            count("nonces").await
        ),
        (1, 1, 0, 1)
    );
    app.clock.advance(std::time::Duration::from_secs(3600));
    app.sign_in(&mut authn).await.expect(200); // fresh, must survive
    assert_eq!(rp_server::purge::once(&app.state).await, 3);
    assert_eq!(
        (
            count("ceremonies").await,
            count("spent_ceremonies").await,
            count("challenges").await,
            count("nonces").await
        ),
        (0, 1, 0, 1)
    );
}

/// Unauthenticated requests write audit rows; they must not pile up forever.
#[tokio::test]
async fn audit_events_past_the_retention_are_purged() {
    let app = TestApp::spawn_with(|c| {
        c.audit_retention = Some(std::time::Duration::from_secs(86_400));
    })
    .await;
    let u = User::new("u");
    let mut authn = SoftAuthenticator::new();
    app.register(&u, &mut authn).await; // credential.registered
    app.clock
        .advance(std::time::Duration::from_secs(2 * 86_400));
    app.sign_in(&mut authn).await.expect(200); // authentication.succeeded, now
    rp_server::purge::once(&app.state).await;
    assert_eq!(app.audit_actions().await, ["authentication.succeeded"]);

    // Retention off (RP_AUDIT_RETENTION_DAYS=0): nothing is purged, however old.
    let keep = TestApp::spawn_with(|c| c.audit_retention = None).await;
    keep.register(&u, &mut authn).await;
    keep.clock
        .advance(std::time::Duration::from_secs(4000 * 86_400));
    rp_server::purge::once(&keep.state).await;
    assert_eq!(keep.audit_actions().await, ["credential.registered"]);
}

/// The audit log is partitioned by month: the months ahead exist before their events,
/// events of a month nobody created (a clock far ahead) wait in the default partition
/// and move into their month when it is made, and retention drops a month whole.
#[tokio::test]
async fn audit_months_are_made_ahead_and_dropped_whole_past_the_retention() {
    use rp_server::store::audit::partitions::{self, Partition, month_of};
    let app = TestApp::spawn_with(|c| {
        c.audit_retention = Some(std::time::Duration::from_secs(40 * 86_400));
    })
    .await;
    let first = month_of(app.clock.now());
    let u = User::new("u");
    let mut authn = SoftAuthenticator::new();
    rp_server::purge::ensure_audit_partitions(&app.state).await;
    let made = partitions::list(&app.state.db).await.unwrap();
    for ahead in 0..=partitions::MONTHS_AHEAD {
        let m = first + chrono::Months::new(ahead);
        assert!(made.contains(&Partition::Month(m)), "{m} missing: {made:?}");
    }
    app.register(&u, &mut authn).await; // credential.registered, this month
    assert_eq!(app.count(&Partition::Month(first).name()).await, 1);

    // 100 days on, before any pass: the sign-in's events have no month yet.
    app.clock
        .advance(std::time::Duration::from_secs(100 * 86_400));
    app.sign_in(&mut authn).await.expect(200);
    // (100 days from any day of a month is past the two months after it.)
    let strays = app.count("audit_events_default").await;
    assert!(strays > 0);
    let now_month = month_of(app.clock.now());
    rp_server::purge::once(&app.state).await;
    assert_eq!(app.count("audit_events_default").await, 0);
    assert_eq!(app.count(&Partition::Month(now_month).name()).await, strays);
    // The first month ended more than 40 days ago: its partition is gone, not emptied.
    let left = partitions::list(&app.state.db).await.unwrap();
    assert!(!left.contains(&Partition::Month(first)), "{left:?}");
    let gone: bool = sqlx::query_scalar("SELECT to_regclass($1) IS NULL")
        .bind(Partition::Month(first).name())
        .fetch_one(&app.state.db)
        .await
        .unwrap();
    assert!(gone);
    let actions = app.audit_actions().await;
    assert!(
        !actions.contains(&"credential.registered".to_owned()),
        "{actions:?}"
    );
    assert!(
        actions.contains(&"authentication.succeeded".to_owned()),
        "{actions:?}"
    );
}

/// The migrations up to `last`, as a release that ended there applied them.
fn migrations_until(last: i64) -> sqlx::migrate::Migrator {
    sqlx::migrate::Migrator {
        migrations: rp_server::store::MIGRATOR
            .iter()
            .filter(|m| m.version <= last)
            .cloned()
            .collect::<Vec<_>>()
            .into(),
        ignore_missing: false,
        locking: true,
        no_tx: false,
    }
}

/// Migrations 0023-0027 (sites): every existing row becomes the default site's, no index
/// is left invalid, and the old global keys stay (an older release's ON CONFLICT clauses
/// name them) until a second site is configured; then the keys lead with the site (a
/// credential id or a sub may repeat at another site, never at one). Two instances starting at once both come up: one applies
/// the migrations, the other polls for the lock instead of waiting on it (a waiting
/// statement's snapshot would hold up the concurrent index builds).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sites_make_existing_rows_the_default_sites() {
    let db = testkit::db::empty_database().await.unwrap();
    let pool = sqlx::PgPool::connect(&db.url).await.unwrap();
    migrations_until(22).run(&pool).await.unwrap();
    sqlx::query(
        "WITH u AS (
            INSERT INTO users (id, cognito_sub, username, created_at, updated_at)
            SELECT gen_random_uuid(), 'sub-' || g, 'user' || g, now(), now() FROM generate_series(1, 50) g
            RETURNING id
         )
         INSERT INTO credentials (credential_id, user_id, passkey, sign_count, backup_eligible, backup_state, created_at)
         SELECT uuid_send(gen_random_uuid()), id, '{}', 0, true, true, now() FROM u",
    )
    .execute(&pool)
    .await
    .unwrap();

    let (one, other) = tokio::join!(rp_server::migrate(&pool), rp_server::migrate(&pool));
    one.unwrap();
    other.unwrap();

    let scalar = |sql: &'static str| {
        let pool = pool.clone();
        async move {
            sqlx::query_scalar::<_, i64>(sql)
                .fetch_one(&pool)
                .await
                .unwrap()
        }
    };
    assert_eq!(
        scalar("SELECT count(*) FROM users WHERE site = 'default'").await,
        50
    );
    assert_eq!(
        scalar("SELECT count(*) FROM credentials WHERE site = 'default'").await,
        50
    );
    assert_eq!(
        scalar("SELECT count(*) FROM pg_index WHERE NOT indisvalid").await,
        0
    );
    assert_eq!(
        scalar("SELECT count(*) FROM _sqlx_migrations WHERE success").await,
        rp_server::store::MIGRATOR.iter().count() as i64
    );
    let key: Vec<String> = sqlx::query_scalar(
        "SELECT a.attname::text FROM pg_index i
           JOIN pg_attribute a ON a.attrelid = i.indrelid AND a.attnum = ANY(i.indkey)
          WHERE i.indexrelid = 'credentials_pkey'::regclass ORDER BY array_position(i.indkey, a.attnum)",
    )
    .fetch_all(&pool)
    .await
    .unwrap();
    assert_eq!(
        key,
        ["credential_id"],
        "the old keys stay for an older release"
    );
    let copy = |site: &'static str| {
        let pool = pool.clone();
        async move {
            sqlx::query(
                "INSERT INTO credentials (site, credential_id, user_id, passkey, sign_count, backup_eligible, backup_state, created_at)
                 SELECT $1, credential_id, user_id, passkey, 0, true, true, now() FROM credentials LIMIT 1",
            )
            .bind(site)
            .execute(&pool)
            .await
        }
    };
    assert!(
        copy("b").await.is_err(),
        "unique across sites until a second one"
    );
    // What a release older than sites says in its ON CONFLICT clauses still works.
    for older in [
        "INSERT INTO users (id, cognito_sub, username, created_at, updated_at)
         VALUES (gen_random_uuid(), 'sub-1', 'renamed', now(), now())
         ON CONFLICT (cognito_sub) DO UPDATE SET username = EXCLUDED.username",
        "INSERT INTO credentials (credential_id, user_id, passkey, sign_count, backup_eligible, backup_state, created_at)
         SELECT credential_id, user_id, passkey, 0, true, true, now() FROM credentials LIMIT 1
         ON CONFLICT (credential_id) DO NOTHING",
        "INSERT INTO email_codes (email, purpose, code_hash, request_hash, created_at, expires_at)
         VALUES ('a@example.test', 'sign_in', '\\x00', '\\x00', now(), now())
         ON CONFLICT (email, purpose) DO UPDATE SET attempts = 0",
        "INSERT INTO limit_counters (key, expires_at) VALUES ('k', now()) ON CONFLICT (key) DO NOTHING",
    ] {
        sqlx::query(older).execute(&pool).await.unwrap();
    }
    assert!(
        !rp_server::store::sites::allows_several(&pool)
            .await
            .unwrap()
    );
    assert!(rp_server::store::sites::allow_several(&pool).await.unwrap());
    assert!(!rp_server::store::sites::allow_several(&pool).await.unwrap());
    copy("b").await.unwrap();
    assert!(copy("default").await.is_err(), "unique within a site");
    let subs = |site: &'static str| {
        let pool = pool.clone();
        async move {
            sqlx::query(
                "INSERT INTO users (site, id, cognito_sub, username, created_at, updated_at)
                 SELECT $1, gen_random_uuid(), cognito_sub, username, now(), now() FROM users LIMIT 1",
            )
            .bind(site)
            .execute(&pool)
            .await
        }
    };
    subs("b").await.unwrap();
    assert!(
        subs("default").await.is_err(),
        "a sub is unique within a site"
    );
    pool.close().await;
}

/// Migration 0022 makes an existing audit table the "before" partition of the partitioned
/// one: every row kept, its indexes attached rather than rebuilt, ids continuing from the
/// same sequence, which survives when retention drops the old table.
#[tokio::test]
async fn partitioning_keeps_an_existing_audit_log_whole() {
    use rp_server::store::audit::partitions::{self, Partition, month_of};
    let db = testkit::db::empty_database().await.unwrap();
    let pool = sqlx::PgPool::connect(&db.url).await.unwrap();
    let all = &rp_server::store::MIGRATOR;
    migrations_until(21).run(&pool).await.unwrap();
    sqlx::query(
        "INSERT INTO audit_events (occurred_at, actor, action, cognito_sub, details)
         SELECT now() - g * interval '30 minutes', 'service', 'nonce.redeemed', 'sub-' || g % 7, '{}'
           FROM generate_series(1, 3000) g",
    )
    .execute(&pool)
    .await
    .unwrap();
    let last_id: i64 = sqlx::query_scalar("SELECT max(id) FROM audit_events")
        .fetch_one(&pool)
        .await
        .unwrap();

    all.run(&pool).await.unwrap();

    let scalar = |sql: &'static str| {
        let pool = pool.clone();
        async move {
            sqlx::query_scalar::<_, i64>(sql)
                .fetch_one(&pool)
                .await
                .unwrap()
        }
    };
    assert_eq!(
        scalar("SELECT count(*) FROM pg_class WHERE relname = 'audit_events' AND relkind = 'p'")
            .await,
        1
    );
    let old = Partition::Before(month_of(chrono::Utc::now()) + chrono::Months::new(2));
    assert_eq!(
        partitions::list(&pool).await.unwrap(),
        [old.clone(), Partition::Default]
    );
    assert_eq!(scalar("SELECT count(*) FROM audit_events").await, 3000);
    let indexes_of = |table: String| {
        let pool = pool.clone();
        async move {
            sqlx::query_scalar::<_, i64>(
                "SELECT count(*) FROM pg_index WHERE indrelid = to_regclass($1) AND indisvalid",
            )
            .bind(table)
            .fetch_one(&pool)
            .await
            .unwrap()
        }
    };
    // The old primary key and its three indexes, no fourth built by the attachment; the
    // partitioned table's three are valid (every partition has its part).
    assert_eq!(indexes_of(old.name()).await, 4);
    assert_eq!(indexes_of("audit_events".into()).await, 3);
    assert_eq!(scalar("SELECT count(*) FROM pg_constraint WHERE conname = 'audit_events_before_partitioning' AND convalidated").await, 1);
    assert_eq!(
        scalar("SELECT count(*) FROM pg_class WHERE relname = 'audit_partitioning_bound'").await,
        0
    );

    let insert = "INSERT INTO audit_events (occurred_at, actor, action) VALUES (now(), 'service', 'x') RETURNING id";
    assert!(scalar(insert).await > last_id);
    let dropped = partitions::drop_before(&pool, old.end().unwrap())
        .await
        .unwrap();
    assert_eq!(dropped, [old]);
    assert_eq!(
        scalar("SELECT count(*) FROM audit_events").await,
        0,
        "this month's row was in the old table too"
    );
    assert!(scalar(insert).await > last_id + 1);
    pool.close().await;
}

/// A pooled connection Postgres closed while it sat idle (a failover, a proxy's idle
/// timeout) is tested before a request gets it and replaced: the request succeeds. Only a
/// connection idle for `test_after_idle` is tested (one ping, not one per statement); here
/// that is every connection, so the test needs no waiting.
#[tokio::test]
async fn a_connection_closed_while_idle_is_replaced_before_a_request_gets_it() {
    use sqlx::Row as _;
    let app =
        TestApp::spawn_with(|c| c.db_timeouts.test_after_idle = std::time::Duration::ZERO).await;
    let u = User::new("u");
    let mut authn = SoftAuthenticator::new();
    app.register(&u, &mut authn).await;
    // Several idle connections in the pool.
    let token = app.token(&u);
    let listed =
        futures::future::join_all((0..4).map(|_| app.get("/v1/credentials", Some(&token)))).await;
    assert!(listed.iter().all(|r| r.status == 200));

    // Every other backend of this database closed by Postgres, from a connection taken
    // out of the pool; pg_terminate_backend waits (up to 5 s) until each is gone.
    let mut killer = app.state.db.acquire().await.unwrap().detach();
    let closed = sqlx::query(
        "SELECT count(*) FILTER (WHERE pg_terminate_backend(pid, 5000)) AS closed
           FROM pg_stat_activity
          WHERE datname = current_database() AND pid <> pg_backend_pid()",
    )
    .fetch_one(&mut killer)
    .await
    .unwrap()
    .get::<i64, _>("closed");
    assert!(closed >= 1, "no pooled connection to close");

    let r = app.get("/v1/credentials", Some(&token)).await;
    assert_eq!(r.status, 200, "{}", r.body);
    app.sign_in(&mut authn).await.expect(200);
}

/// `pg_ctl restart -m fast` under load: requests that meet the dead connections answer
/// 503 with `Retry-After` (SQLSTATE 57P01 used to be a 500), the pool recovers on its
/// own, and `/readyz` answers at once while Postgres is down.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_postgres_restart_answers_503_never_500() {
    let cluster = std::sync::Arc::new(testkit::pg::Cluster::start().unwrap());
    let url = cluster.url();
    let app = TestApp::spawn_with(move |c| c.database_url = secrecy::SecretString::from(url)).await;
    let u = User::new("u");
    app.register(&u, &mut SoftAuthenticator::new()).await;

    let app = &app;
    let u = &u;
    let load = async {
        let mut statuses = Vec::new();
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(3);
        while std::time::Instant::now() < deadline {
            let tries = futures::future::join_all((0..4).map(|_| async {
                let r = app
                    .post(
                        "/internal/v1/challenges",
                        Some(crate::harness::SERVICE_TOKEN),
                        &app.challenge_request(u),
                    )
                    .await;
                if r.status == 503 {
                    assert!(r.headers.contains_key("retry-after"), "{:?}", r.headers);
                }
                r.status
            }))
            .await;
            statuses.extend(tries);
        }
        statuses
    };
    let restart = {
        let cluster = cluster.clone();
        async move {
            tokio::time::sleep(std::time::Duration::from_millis(500)).await;
            tokio::task::spawn_blocking(move || cluster.restart_fast().unwrap())
                .await
                .unwrap();
        }
    };
    let (statuses, ()) = tokio::join!(load, restart);
    assert!(!statuses.contains(&500), "{statuses:?}");
    assert!(
        statuses.iter().all(|s| *s == 200 || *s == 503),
        "{statuses:?}"
    );
    // Recovered: the pool reconnects by itself.
    let mut ready = false;
    for _ in 0..50 {
        if app.get("/readyz", None).await.status == 200 {
            ready = true;
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
        // Past the second a probe's answer is reused for.
        app.clock.advance(std::time::Duration::from_secs(1));
    }
    assert!(ready);
    app.challenge(u).await;

    // Postgres down: readiness says so within a second.
    let c = cluster.clone();
    tokio::task::spawn_blocking(move || c.stop().unwrap())
        .await
        .unwrap();
    // Its last answer is reused for a second (a flood of /readyz pings Postgres at most
    // once a second), then a new probe tells.
    app.get("/readyz", None).await.expect(200);
    app.clock.advance(std::time::Duration::from_secs(1));
    let started = std::time::Instant::now();
    app.get("/readyz", None)
        .await
        .expect_error(503, "UNAVAILABLE");
    assert!(started.elapsed() < std::time::Duration::from_millis(1500));
    let r = app.get("/v1/credentials", Some(&app.token(u))).await;
    assert_eq!(r.status, 503, "{}", r.body);
}

/// With RP_INTERNAL_LISTEN_ADDR, the internal API, the admin API and the metrics are
/// served only on the private listener and answer 404 on the public one; the browser
/// API stays public. (The deployment exposes only the public listener.) The console,
/// off here, brings the two calls of its admins' sign-in to the private listener
/// (`console::the_console_is_served_on_the_internal_listener_only_with_a_strict_policy`).
#[tokio::test]
async fn internal_admin_and_metrics_can_live_on_a_private_listener() {
    let app = TestApp::spawn_with(|c| {
        c.internal_listen_addr = Some("127.0.0.1:0".parse().unwrap());
        c.console = false;
    })
    .await;
    let private = app.internal_base.clone().unwrap();
    let u = User::new("u");
    app.register(&u, &mut SoftAuthenticator::new()).await;
    let challenge = app.challenge_request(&u);
    let service = crate::harness::SERVICE_TOKEN;
    let admin = crate::harness::ADMIN_TOKEN;

    // Public: the private routes do not exist.
    app.post("/internal/v1/challenges", Some(service), &challenge)
        .await
        .expect_error(404, "NOT_FOUND");
    app.send(app.http.get(app.url("/admin/v1/stats")).bearer_auth(admin))
        .await
        .expect_error(404, "NOT_FOUND");
    app.get("/metrics", None)
        .await
        .expect_error(404, "NOT_FOUND");
    app.post("/v1/authentication/options", None, &json!({}))
        .await
        .expect(200);
    app.get("/healthz", None).await.expect(200);
    app.get("/openapi.json", None).await.expect(200);

    // Private: they do, and the browser API does not.
    let on_private = |path: &str| format!("{private}{path}");
    let r = app
        .send(
            app.http
                .post(on_private("/internal/v1/challenges"))
                .bearer_auth(service)
                .json(&challenge),
        )
        .await;
    r.expect(200);
    app.send(
        app.http
            .get(on_private("/admin/v1/stats"))
            .bearer_auth(admin),
    )
    .await
    .expect(200);
    let metrics = app.send(app.http.get(on_private("/metrics"))).await;
    assert_eq!(metrics.status, 200);
    app.send(app.http.get(on_private("/readyz")))
        .await
        .expect(200);
    app.send(
        app.http
            .post(on_private("/v1/authentication/options"))
            .json(&json!({})),
    )
    .await
    .expect_error(404, "NOT_FOUND");
}

/// A client that sends half a request must not keep the process alive after the
/// shutdown signal: in-flight requests drain for at most RP_SHUTDOWN_GRACE_SECS.
#[tokio::test]
async fn shutdown_ends_within_the_grace_period_despite_a_stalled_client() {
    use tokio::io::AsyncWriteExt as _;
    let idp = testkit::idp::TokenIssuer::start().await.unwrap();
    let db = testkit::db::fresh_database().await.unwrap();
    let mut config = testkit::rp::base_config(&idp, db.url.clone());
    config.shutdown_grace = std::time::Duration::from_secs(1);
    let app = rp_server::Application::build_with(config, rp_server::clock::Clock::system(), None)
        .await
        .unwrap();
    let addr = app.local_addr().unwrap();
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let server = tokio::spawn(app.run_until(async move {
        let _ = stopped.await;
    }));
    // Half a request: the body never comes.
    let mut stalled = tokio::net::TcpStream::connect(addr).await.unwrap();
    stalled
        .write_all(
            b"POST /v1/authentication/options HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 10\r\n\r\n{",
        )
        .await
        .unwrap();
    tokio::time::sleep(std::time::Duration::from_millis(200)).await;
    let started = std::time::Instant::now();
    stop.send(()).unwrap();
    let finished = tokio::time::timeout(std::time::Duration::from_secs(10), server).await;
    assert!(
        finished.is_ok(),
        "still serving 10 s after the shutdown signal"
    );
    assert!(started.elapsed() < std::time::Duration::from_secs(5));
    drop(stalled);
}

/// The document lists every status the server answers with and the one list of error
/// codes, so clients can rely on them.
#[tokio::test]
async fn the_openapi_document_lists_every_status_and_error_code() {
    let app = TestApp::spawn().await;
    let doc = app.get("/openapi.json", None).await.expect(200);
    let stateless = ["/healthz", "/metrics", "/v1/authentication/options"];
    let mut operations = 0;
    for (path, item) in doc["paths"].as_object().unwrap() {
        for (method, op) in item.as_object().unwrap() {
            if !["get", "post", "put", "patch", "delete"].contains(&method.as_str()) {
                continue;
            }
            operations += 1;
            let has = |status: &str| op["responses"].get(status).is_some();
            if op.get("requestBody").is_some() {
                for status in ["400", "413", "415"] {
                    assert!(has(status), "{method} {path} lacks {status}");
                }
            }
            if !stateless.contains(&path.as_str()) {
                assert!(has("503"), "{method} {path} lacks 503");
            }
            if path.starts_with("/v1/") {
                assert!(has("429"), "{method} {path} lacks 429");
            }
        }
    }
    assert!(operations > 20);
    assert!(
        doc["paths"]["/v1/credentials/{id}"]["delete"]["responses"]
            .get("400")
            .is_some()
    );
    let listed: Vec<&str> = doc["components"]["schemas"]["ErrorCode"]["enum"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c.as_str().unwrap())
        .collect();
    for code in rp_shared::error::ErrorCode::ALL {
        assert!(
            listed.contains(&code.as_str()),
            "{} not listed",
            code.as_str()
        );
    }
}

/// Slow or idle clients cannot hold connections: one that does not finish its headers,
/// or idles, is closed after RP_HEADER_READ_TIMEOUT_SECS; and at most
/// RP_MAX_CONNECTIONS are served at once, so the process cannot run out of descriptors
/// (a request waits for a slot instead, and gets it once the idle ones are closed).
#[tokio::test]
async fn slow_and_idle_clients_are_closed_and_connections_are_bounded() {
    use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};
    let app = TestApp::spawn_with(|c| {
        c.header_read_timeout = std::time::Duration::from_secs(1);
        c.max_connections = 2;
    })
    .await;
    let addr = app.base.trim_start_matches("http://").to_owned();

    // Half the headers, then nothing: closed after about a second.
    let mut slow = tokio::net::TcpStream::connect(&addr).await.unwrap();
    slow.write_all(b"GET /healthz HTTP/1.1\r\nHost: x\r\n")
        .await
        .unwrap();
    let started = std::time::Instant::now();
    let mut buf = Vec::new();
    let read = tokio::time::timeout(
        std::time::Duration::from_secs(5),
        slow.read_to_end(&mut buf),
    )
    .await;
    assert!(read.is_ok(), "a slow client kept its connection");
    assert!(started.elapsed() < std::time::Duration::from_secs(4));

    // A kept-alive connection that idles after its answer: closed after about a second.
    let mut kept = tokio::net::TcpStream::connect(&addr).await.unwrap();
    kept.write_all(b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n")
        .await
        .unwrap();
    let mut answer = [0u8; 512];
    let n = kept.read(&mut answer).await.unwrap();
    assert!(answer[..n].starts_with(b"HTTP/1.1 200"));
    let started = std::time::Instant::now();
    let mut rest = Vec::new();
    let read = tokio::time::timeout(
        std::time::Duration::from_secs(5),
        kept.read_to_end(&mut rest),
    )
    .await;
    assert!(read.is_ok(), "an idle kept-alive connection stayed open");
    assert!(started.elapsed() < std::time::Duration::from_secs(4));

    // Two idle connections take both slots; a request waits, then gets through once
    // they are closed.
    let idle: Vec<tokio::net::TcpStream> =
        futures::future::join_all((0..2).map(|_| tokio::net::TcpStream::connect(addr.clone())))
            .await
            .into_iter()
            .map(Result::unwrap)
            .collect();
    tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    let started = std::time::Instant::now();
    let r = tokio::time::timeout(
        std::time::Duration::from_secs(10),
        reqwest::Client::new().get(app.url("/healthz")).send(),
    )
    .await;
    let r = r.expect("no answer within 10 s");
    assert_eq!(
        r.map(|r| r.status().as_u16()).map_err(|e| format!("{e:?}")),
        Ok(200)
    );
    assert!(
        started.elapsed() >= std::time::Duration::from_millis(500),
        "served beyond the bound: {:?}",
        started.elapsed()
    );
    drop(idle);
}

/// Opens a connection from `source` (its port chosen by the caller: letting the kernel
/// pick one for a bound socket is slow by the thousand) that sends a request's headers
/// and one byte of a 4 KiB body, then nothing.
async fn slow_body(
    server: std::net::SocketAddr,
    source: std::net::SocketAddr,
) -> tokio::net::TcpStream {
    use tokio::io::AsyncWriteExt as _;
    let socket = tokio::net::TcpSocket::new_v4().unwrap();
    socket.set_reuseaddr(true).unwrap();
    socket.bind(source).unwrap();
    let mut stream = socket.connect(server).await.unwrap();
    stream
        .write_all(
            b"POST /v1/authentication/verify HTTP/1.1\r\nHost: rp\r\nContent-Type: application/json\r\nContent-Length: 4096\r\n\r\n{",
        )
        .await
        .unwrap();
    stream
}

/// The status line the server eventually answers on `stream` (within 10 s).
async fn status_of(mut stream: tokio::net::TcpStream) -> Option<u16> {
    use tokio::io::AsyncReadExt as _;
    let mut head = [0u8; 12];
    tokio::time::timeout(
        std::time::Duration::from_secs(10),
        stream.read_exact(&mut head),
    )
    .await
    .ok()?
    .ok()?;
    std::str::from_utf8(&head[9..12]).ok()?.parse().ok()
}

/// Two thousand connections that send a body slowly (from another address) hold
/// nothing for long: `/readyz` answers within a second meanwhile, sign-ins go on, and
/// every slow request is cut off at `RP_REQUEST_TIMEOUT_MS` (408) or refused by the
/// rate limit (429).
#[tokio::test]
async fn slow_bodies_starve_neither_readiness_nor_sign_ins() {
    let app = TestApp::spawn_with(|c| c.request_timeout = std::time::Duration::from_secs(2)).await;
    let server: std::net::SocketAddr = app.base.trim_start_matches("http://").parse().unwrap();
    let attacker: std::net::IpAddr = "127.0.0.2".parse().unwrap();
    let first_port = 20_000 + u16::from(rand::random::<u8>()) * 64;
    let mut slow = Vec::new();
    for batch in 0..20u16 {
        let ports = (0..100u16).map(|i| first_port + batch * 100 + i);
        slow.extend(
            futures::future::join_all(
                ports.map(|port| slow_body(server, std::net::SocketAddr::new(attacker, port))),
            )
            .await,
        );
    }
    assert_eq!(slow.len(), 2000);

    for _ in 0..3 {
        let started = std::time::Instant::now();
        let ready = app.get("/readyz", None).await.expect(200);
        assert_eq!(ready["status"], "ready");
        assert!(
            started.elapsed() < std::time::Duration::from_secs(1),
            "{:?}",
            started.elapsed()
        );
    }
    let user = User::new("steady@example.test");
    let mut authn = SoftAuthenticator::new();
    app.register(&user, &mut authn).await;
    app.sign_in(&mut authn).await.expect(200);

    let statuses = futures::future::join_all(slow.into_iter().map(status_of)).await;
    let count = |s: u16| statuses.iter().filter(|x| **x == Some(s)).count();
    assert!(count(408) > 0, "no slow request was cut off");
    assert_eq!(
        count(408) + count(429),
        2000,
        "{:?}",
        statuses
            .iter()
            .filter(|s| !matches!(s, Some(408 | 429)))
            .take(5)
            .collect::<Vec<_>>()
    );
}
