//! The admin API and CLI: credential management, account recovery, audit log, stats.

use serde_json::{Value, json};
use testkit::authenticator::SoftAuthenticator;

use crate::harness::{ADMIN_TOKEN, ORIGIN, SERVICE_TOKEN, TestApp, User};

const GPM: &str = "ea9b8d66-4d01-1d21-3ce4-b6b48cb575d4";

fn gpm_authenticator() -> SoftAuthenticator {
    let mut a = SoftAuthenticator::new();
    a.aaguid = *uuid::Uuid::parse_str(GPM).unwrap().as_bytes();
    a
}

impl TestApp {
    async fn admin_get(&self, path: &str) -> crate::harness::Response {
        self.send(
            self.http
                .get(self.url(path))
                .bearer_auth(ADMIN_TOKEN)
                .header("x-admin-actor", "alice@ops"),
        )
        .await
    }
    async fn admin_post(&self, path: &str, body: &Value) -> crate::harness::Response {
        self.send(
            self.http
                .post(self.url(path))
                .bearer_auth(ADMIN_TOKEN)
                .header("x-admin-actor", "alice@ops")
                .json(body),
        )
        .await
    }
}

#[tokio::test]
async fn the_admin_api_needs_its_token_and_is_off_without_one() {
    let app = TestApp::spawn().await;
    for token in [None, Some("wrong-token"), Some(SERVICE_TOKEN)] {
        let mut req = app.http.get(app.url("/admin/v1/stats"));
        if let Some(t) = token {
            req = req.bearer_auth(t);
        }
        app.send(req).await.expect_error(401, "UNAUTHENTICATED");
    }
    app.admin_get("/admin/v1/stats").await.expect(200);

    // Named tokens: the audit names the holder of the token presented, and a name the
    // caller sends changes nothing.
    let alice_token = "alice-0123456789abcdef0123456789abcdef";
    let named = TestApp::spawn_with(|c| {
        c.admin_token = None;
        c.admin_tokens = vec![
            rp_server::config::NamedToken::plain("alice", &alice_token.to_owned().into()),
            rp_server::config::NamedToken::plain(
                "bob",
                &"bob-0123456789abcdef0123456789abcdef".to_owned().into(),
            ),
        ];
    })
    .await;
    named
        .send(
            named
                .http
                .get(named.url("/admin/v1/stats"))
                .bearer_auth(ADMIN_TOKEN),
        )
        .await
        .expect_error(401, "UNAUTHENTICATED");
    let alice = User::new("alice");
    named
        .send(
            named
                .http
                .post(named.url(&format!("/admin/v1/users/{}/enrolment-tokens", alice.sub)))
                .bearer_auth(alice_token)
                .header("x-admin-actor", "bob")
                .json(&json!({"username": alice.username})),
        )
        .await
        .expect(201);
    let log = named
        .send(
            named
                .http
                .get(named.url("/admin/v1/audit-events?action=enrolment_token.issued"))
                .bearer_auth(alice_token),
        )
        .await
        .expect(200);
    assert_eq!(log["events"][0]["actor"], "admin:api:alice", "{log}");

    let off = TestApp::spawn_with(|c| c.admin_token = None).await;
    off.send(
        off.http
            .get(off.url("/admin/v1/stats"))
            .bearer_auth(ADMIN_TOKEN),
    )
    .await
    .expect_error(404, "ADMIN_API_DISABLED");
}

#[tokio::test]
async fn list_get_and_revoke_credentials() {
    let app = TestApp::spawn().await;
    let alice = User::new("alice");
    let mut authn = gpm_authenticator();
    let summary = app.register(&alice, &mut authn).await;
    assert_eq!(summary["authenticatorName"], "Google Password Manager");
    app.sign_in(&mut authn).await.expect(200);

    let by_sub = app
        .admin_get(&format!("/admin/v1/users?sub={}", alice.sub))
        .await
        .expect(200);
    let by_name = app
        .admin_get("/admin/v1/users?username=alice")
        .await
        .expect(200);
    assert_eq!(by_sub, by_name);
    let c = &by_sub["credentials"][0];
    assert_eq!(c["id"], summary["id"]);
    assert_eq!(c["authenticatorName"], "Google Password Manager");
    assert_eq!(c["aaguid"], GPM);
    assert_eq!(c["signCount"], 1);
    assert_eq!(c["userVerified"], true);
    assert!(c["lastUsedAt"].is_string());
    assert!(c["revokedAt"].is_null());

    app.admin_get("/admin/v1/users?sub=nobody")
        .await
        .expect_error(404, "USER_NOT_FOUND");
    app.admin_get("/admin/v1/users")
        .await
        .expect_error(400, "INVALID_REQUEST");
    app.admin_get("/admin/v1/users?sub=a&username=b")
        .await
        .expect_error(400, "INVALID_REQUEST");
    let id = summary["id"].as_str().unwrap();
    assert_eq!(
        app.admin_get(&format!("/admin/v1/credentials/{id}"))
            .await
            .expect(200)["userSub"],
        alice.sub.as_str()
    );
    app.admin_get("/admin/v1/credentials/AAAA")
        .await
        .expect_error(404, "CREDENTIAL_NOT_FOUND");
    app.admin_get("/admin/v1/credentials/not*base64")
        .await
        .expect_error(400, "INVALID_REQUEST");

    // A nonce issued before the revocation must not redeem after it.
    let pending = app.sign_in(&mut authn).await.expect(200)["nonce"]
        .as_str()
        .unwrap()
        .to_owned();
    let revoked = app
        .admin_post(
            &format!("/admin/v1/credentials/{id}/revoke"),
            &json!({ "reason": "lost phone" }),
        )
        .await
        .expect(200);
    assert!(revoked["revokedAt"].is_string());
    assert_eq!(revoked["revokedBy"], "admin:api:admin");
    assert_eq!(revoked["revokedReason"], "lost phone");
    let challenge = app.challenge(&alice).await;
    assert_eq!(
        app.redeem(&pending, &alice.sub, &challenge["challengeId"])
            .await["valid"],
        false
    );

    // It never signs in again, is gone from the user's list and the Create trigger's
    // options, and the same credential id cannot be registered again.
    app.sign_in(&mut authn)
        .await
        .expect_error(422, "CREDENTIAL_REVOKED");
    assert_eq!(
        app.get("/v1/credentials", Some(&app.token(&alice)))
            .await
            .expect(200)["credentials"],
        json!([])
    );
    let ids: Vec<&Value> = challenge["publicKey"]["allowCredentials"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| &c["id"])
        .collect();
    assert!(!ids.contains(&&summary["id"]));
    let options = app
        .post(
            "/v1/registration/options",
            Some(&app.token(&alice)),
            &json!({}),
        )
        .await
        .expect(200);
    let mut replay = SoftAuthenticator::new();
    replay.reuse_credential_id = rp_shared::credential_id::decode(id);
    let again = replay.create(&options["publicKey"], ORIGIN).unwrap();
    app.post(
        "/v1/registration/verify",
        Some(&app.token(&alice)),
        &json!({ "ceremonyId": options["ceremonyId"], "credential": again }),
    )
    .await
    .expect_error(409, "CREDENTIAL_EXISTS");
    app.admin_post("/admin/v1/credentials/AAAA/revoke", &json!({}))
        .await
        .expect_error(404, "CREDENTIAL_NOT_FOUND");

    let log = app
        .admin_get("/admin/v1/audit-events?action=credential.revoked")
        .await
        .expect(200);
    assert_eq!(log["events"][0]["actor"], "admin:api:admin");
    assert_eq!(log["events"][0]["credentialId"], summary["id"]);
}

async fn register_with(
    app: &TestApp,
    bearer: &str,
    authn: &mut SoftAuthenticator,
) -> crate::harness::Response {
    let options = app
        .post("/v1/registration/options", Some(bearer), &json!({}))
        .await;
    if options.status != 200 {
        return options;
    }
    let credential = authn.create(&options.body["publicKey"], ORIGIN).unwrap();
    app.post(
        "/v1/registration/verify",
        Some(bearer),
        &json!({ "ceremonyId": options.body["ceremonyId"], "credential": credential }),
    )
    .await
}

#[tokio::test]
async fn account_recovery_end_to_end() {
    let app = TestApp::spawn().await;
    let bob = User::new("bob");
    let mut old = SoftAuthenticator::new();
    app.register(&bob, &mut old).await;

    // Bob lost his device: reset, then a one-time enrolment token.
    let reset = app
        .admin_post(
            &format!("/admin/v1/users/{}/reset", bob.sub),
            &json!({ "reason": "lost device" }),
        )
        .await
        .expect(200);
    assert_eq!(reset["revoked"].as_array().unwrap().len(), 1);
    let issued = app
        .admin_post(
            &format!("/admin/v1/users/{}/enrolment-tokens", bob.sub),
            &json!({}),
        )
        .await
        .expect(201);
    let token = issued["token"].as_str().unwrap().to_owned();
    assert!(token.starts_with("rpe_"));
    assert_eq!(issued["status"], "pending");
    let expires: chrono::DateTime<chrono::Utc> =
        issued["expiresAt"].as_str().unwrap().parse().unwrap();
    assert_eq!((expires - app.clock.now()).num_minutes(), 15);
    // Stored only as a hash.
    let stored: Vec<u8> = sqlx::query_scalar("SELECT token_hash FROM enrolment_tokens")
        .fetch_one(&app.state.db)
        .await
        .unwrap();
    assert_ne!(stored, token.as_bytes());

    // Bob registers a new passkey with the token, and signs in with it.
    let mut new = SoftAuthenticator::new();
    register_with(&app, &token, &mut new).await.expect(201);
    assert_eq!(app.sign_in(&mut new).await.expect(200)["username"], "bob");
    // The token cannot be used twice; the old passkey no longer signs in.
    register_with(&app, &token, &mut SoftAuthenticator::new())
        .await
        .expect_error(401, "UNAUTHENTICATED");
    app.sign_in(&mut old)
        .await
        .expect_error(422, "CREDENTIAL_REVOKED");

    let tokens = app
        .admin_get(&format!("/admin/v1/users/{}/enrolment-tokens", bob.sub))
        .await
        .expect(200);
    assert_eq!(tokens["tokens"][0]["status"], "used");
    assert!(tokens["tokens"][0].get("token").is_none());

    // A revoked or expired token is refused.
    let second = app
        .admin_post(
            &format!("/admin/v1/users/{}/enrolment-tokens", bob.sub),
            &json!({ "ttlSecs": 60 }),
        )
        .await
        .expect(201);
    let revoked = app
        .admin_post(
            &format!(
                "/admin/v1/enrolment-tokens/{}/revoke",
                second["id"].as_str().unwrap()
            ),
            &json!({}),
        )
        .await
        .expect(200);
    assert_eq!(revoked["status"], "revoked");
    register_with(
        &app,
        second["token"].as_str().unwrap(),
        &mut SoftAuthenticator::new(),
    )
    .await
    .expect_error(401, "UNAUTHENTICATED");
    let third = app
        .admin_post(
            &format!("/admin/v1/users/{}/enrolment-tokens", bob.sub),
            &json!({ "ttlSecs": 60 }),
        )
        .await
        .expect(201);
    app.clock.advance(std::time::Duration::from_secs(61));
    register_with(
        &app,
        third["token"].as_str().unwrap(),
        &mut SoftAuthenticator::new(),
    )
    .await
    .expect_error(401, "UNAUTHENTICATED");
    app.admin_post(
        &format!("/admin/v1/enrolment-tokens/{}/revoke", uuid::Uuid::new_v4()),
        &json!({}),
    )
    .await
    .expect_error(404, "ENROLMENT_TOKEN_NOT_FOUND");

    // A user rp-server has never seen needs their username to get a token.
    app.admin_post("/admin/v1/users/never-seen/enrolment-tokens", &json!({}))
        .await
        .expect_error(404, "USER_NOT_FOUND");
    let fresh = app
        .admin_post(
            "/admin/v1/users/never-seen/enrolment-tokens",
            &json!({ "username": "carol" }),
        )
        .await
        .expect(201);
    register_with(
        &app,
        fresh["token"].as_str().unwrap(),
        &mut SoftAuthenticator::new(),
    )
    .await
    .expect(201);

    let actions: Vec<String> = app.audit_actions().await;
    for a in [
        "account.reset",
        "enrolment_token.issued",
        "enrolment_token.used",
        "enrolment_token.revoked",
    ] {
        assert!(actions.contains(&a.to_owned()), "{a} missing");
    }
}

#[tokio::test]
async fn audit_log_filters_and_pages_newest_first() {
    let app = TestApp::spawn().await;
    let alice = User::new("alice");
    let mut authn = SoftAuthenticator::new();
    let summary = app.register(&alice, &mut authn).await;
    for _ in 0..4 {
        app.sign_in(&mut authn).await.expect(200);
        app.clock.advance(std::time::Duration::from_secs(1));
    }
    let mut seen = Vec::new();
    let mut cursor: Option<String> = None;
    loop {
        let path = match &cursor {
            Some(c) => format!(
                "/admin/v1/audit-events?sub={}&limit=2&cursor={c}",
                alice.sub
            ),
            None => format!("/admin/v1/audit-events?sub={}&limit=2", alice.sub),
        };
        let page = app.admin_get(&path).await.expect(200);
        for e in page["events"].as_array().unwrap() {
            seen.push((
                e["occurredAt"].as_str().unwrap().to_owned(),
                e["id"].as_i64().unwrap(),
            ));
        }
        match page["nextCursor"].as_str() {
            Some(c) => cursor = Some(c.to_owned()),
            None => break,
        }
    }
    assert_eq!(seen.len(), 5, "one registration and four sign-ins");
    let mut sorted = seen.clone();
    sorted.sort_by(|a, b| b.cmp(a));
    assert_eq!(seen, sorted, "newest first, no repeats");

    let path = format!(
        "/admin/v1/audit-events?action=authentication.succeeded&credentialId={}",
        summary["id"].as_str().unwrap()
    );
    assert_eq!(
        app.admin_get(&path).await.expect(200)["events"]
            .as_array()
            .unwrap()
            .len(),
        4
    );
    let until = (app.clock.now() - chrono::Duration::seconds(2))
        .to_rfc3339_opts(chrono::SecondsFormat::Secs, true);
    let early = app
        .admin_get(&format!(
            "/admin/v1/audit-events?sub={}&until={until}",
            alice.sub
        ))
        .await
        .expect(200);
    assert_eq!(early["events"].as_array().unwrap().len(), 3);
    app.admin_get("/admin/v1/audit-events?cursor=bm9wZQ")
        .await
        .expect_error(400, "INVALID_CURSOR");
    app.admin_get("/admin/v1/audit-events?cursor=!!!")
        .await
        .expect_error(400, "INVALID_CURSOR");
    app.admin_get("/admin/v1/audit-events?since=yesterday")
        .await
        .expect_error(400, "INVALID_REQUEST");
}

/// One user's events are read through the index on subs however Postgres plans the
/// statement. The filters were optional in SQL (`$1 IS NULL OR cognito_sub = $1`), which a
/// generic plan cannot use an index for: it read the log newest first to the end for a
/// user with old events (`/v1/activity` and the console's audit search). Here plans are
/// forced generic and the rows Postgres fetched are counted.
#[tokio::test]
async fn one_users_events_are_read_by_their_index_under_a_generic_plan() {
    use rp_server::store::audit::{EventFilter, events};
    let app = TestApp::spawn().await;
    let db = &app.state.db;
    let site = app.state.admin_site().id.clone();
    // 20,000 recent events of others, and two of `rare` at the start of the month.
    let mut tx = db.begin().await.unwrap();
    for sql in [
        "SET LOCAL statement_timeout = 0",
        "INSERT INTO audit_events (occurred_at, actor, action, cognito_sub, details)
         SELECT now() - random() * interval '1 minute', 'service', 'nonce.redeemed', 'sub-' || g, '{}'
           FROM generate_series(1, 20000) g",
        "INSERT INTO audit_events (occurred_at, actor, action, cognito_sub, details)
         SELECT date_trunc('month', now()) + g * interval '1 second', 'service', 'nonce.redeemed', 'rare', '{}'
           FROM generate_series(1, 2) g",
        "ANALYZE audit_events",
    ] {
        sqlx::query(sql).execute(&mut *tx).await.unwrap();
    }
    tx.commit().await.unwrap();

    let mut tx = db.begin().await.unwrap();
    sqlx::query("SET LOCAL plan_cache_mode = force_generic_plan")
        .execute(&mut *tx)
        .await
        .unwrap();
    let before = crate::harness::rows_fetched(&mut tx, "audit_events").await;
    let filter = EventFilter {
        sub: Some("rare"),
        limit: 50,
        ..Default::default()
    };
    // Twice: the second run of a statement on a connection is the generic plan's.
    for _ in 0..2 {
        assert_eq!(events(&mut *tx, &site, &filter).await.unwrap().len(), 2);
    }
    let read = crate::harness::rows_fetched(&mut tx, "audit_events").await - before;
    assert!(
        read <= 100,
        "rows of the audit log read for 2 events of one user: {read}"
    );
}

#[tokio::test]
async fn stats_count_users_authenticators_and_sign_ins() {
    let app = TestApp::spawn().await;
    let mut a = gpm_authenticator();
    let mut b = SoftAuthenticator::new();
    app.register(&User::new("a"), &mut a).await;
    app.register(&User::new("b"), &mut b).await;
    app.sign_in(&mut a).await.expect(200);
    app.sign_in(&mut a).await.expect(200);
    app.sign_in(&mut b).await.expect(200);
    let s = app.admin_get("/admin/v1/stats").await.expect(200);
    assert_eq!(s["usersWithPasskeys"], 2);
    assert_eq!(s["activeCredentials"], 2);
    let names: Vec<&str> = s["credentialsByAuthenticator"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|x| x["name"].as_str())
        .collect();
    assert_eq!(names, ["Google Password Manager"]);
    let days = s["signInsPerDay"].as_array().unwrap();
    assert_eq!(days.len(), 1);
    assert_eq!(days[0]["signIns"], 3);
    assert!(
        s.get("sample").is_none(),
        "a small site is counted exactly: {s}"
    );
}

/// At a million users the statistics' full counts took seconds, beyond the requests'
/// statement timeout: `GET /admin/v1/stats` answered 503 on the large benchmark database.
/// A large site's passkey figures are now counted over a fixed sample of users and scaled
/// up, and the answer says so; a small one's stay exact.
#[tokio::test]
async fn stats_of_a_large_site_are_estimated_from_a_fixed_sample() {
    use rp_server::store::credentials::figures;
    let app = TestApp::spawn().await;
    // 40,000 users (53,333 passkeys); the passkeys of every fifth user revoked.
    app.seed_passkeys_in_bulk(40_000).await;
    let db = &app.state.db;
    let mut tx = db.begin().await.unwrap();
    for sql in [
        "SET LOCAL statement_timeout = 0",
        "UPDATE credentials SET revoked_at = now() WHERE user_id IN
           (SELECT id FROM users WHERE substr(cognito_sub, 5)::int % 5 = 0)",
        "ANALYZE credentials",
    ] {
        sqlx::query(sql).execute(&mut *tx).await.unwrap();
    }
    tx.commit().await.unwrap();
    let site = app.state.admin_site().id.clone();
    // Users 1..=40,000; multiples of 3 have two passkeys; multiples of 5 none usable.
    let (users, active, revoked) = (32_000.0, 42_667.0, 10_666.0);

    let (exact, read) = figures(db, &site, uuid::Uuid::new_v4(), 1_000_000)
        .await
        .unwrap();
    assert_eq!(read.bits, 0);
    assert_eq!(
        (exact.users_with_passkeys, exact.active, exact.revoked),
        (32_000, 42_667, 10_666)
    );

    let s = app.admin_get("/admin/v1/stats").await.expect(200);
    let sample = &s["sample"];
    let fraction = sample["fraction"]
        .as_f64()
        .expect("the answer says it estimates");
    assert!(fraction < 1.0, "{s}");
    let sampled = sample["users"].as_f64().unwrap();
    assert!(
        (sampled / fraction / users - 1.0).abs() < 0.05,
        "the sample's users are that share of the site's: {s}"
    );
    for (name, truth) in [
        ("usersWithPasskeys", users),
        ("activeCredentials", active),
        ("revokedCredentials", revoked),
    ] {
        let estimate = s[name].as_f64().unwrap();
        assert!(
            (estimate / truth - 1.0).abs() < 0.05,
            "{name}: {estimate} for {truth} (a standard error of about 1 %): {s}"
        );
    }
    let again = app.admin_get("/admin/v1/stats").await.expect(200);
    assert_eq!(
        again["activeCredentials"], s["activeCredentials"],
        "the same users"
    );
}

#[tokio::test]
async fn the_cli_runs_the_same_operations() {
    let app = TestApp::spawn().await;
    let alice = User::new("alice");
    let mut authn = gpm_authenticator();
    let summary = app.register(&alice, &mut authn).await;
    let cli = |args: &[&str]| {
        let out = app.admin_cli(args).output().unwrap();
        assert!(
            out.status.success(),
            "{args:?}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8(out.stdout).unwrap()
    };
    let listed: Value =
        serde_json::from_str(&cli(&["--json", "list", "--sub", &alice.sub])).unwrap();
    assert_eq!(listed[0]["id"], summary["id"]);
    let text = cli(&["list", "--username", "alice"]);
    assert!(text.contains("Google Password Manager"), "{text}");

    let id = summary["id"].as_str().unwrap();
    cli(&["revoke", id, "--reason", "stolen"]);
    app.sign_in(&mut authn)
        .await
        .expect_error(422, "CREDENTIAL_REVOKED");
    let issued: Value = serde_json::from_str(&cli(&[
        "--json",
        "enrol",
        "--sub",
        &alice.sub,
        "--ttl-secs",
        "300",
    ]))
    .unwrap();
    register_with(
        &app,
        issued["token"].as_str().unwrap(),
        &mut SoftAuthenticator::new(),
    )
    .await
    .expect(201);
    let log: Value =
        serde_json::from_str(&cli(&["--json", "audit", "--action", "credential.revoked"])).unwrap();
    assert_eq!(log["events"][0]["actor"], "admin:cli:tester");
    let stats: Value = serde_json::from_str(&cli(&["--json", "stats"])).unwrap();
    assert_eq!(stats["revokedCredentials"], 1);
    assert!(cli(&["stats"]).contains("users with passkeys: 1"));

    let bad = app.admin_cli(&["show", "AAAA"]).output().unwrap();
    assert!(!bad.status.success());
    assert!(String::from_utf8_lossy(&bad.stderr).contains("no such credential"));
}

/// Today's statistics count live only the events since the last finished hour: counted
/// from midnight, a busy day's millions of events outlasted the statement timeout by the
/// afternoon (85 ms for 203 K events on the development machine). The finished hours are
/// rolled up in the background; the counts are the same before and after, and the query
/// then reads only the current hour's events.
#[tokio::test]
async fn today_is_counted_from_the_hourly_rollup_and_the_last_hour_live() {
    use rp_server::store::audit::daily;
    let app = TestApp::spawn().await;
    let (db, site) = (&app.state.db, app.state.admin_site().id.clone());
    // Tomorrow, 05:30 UTC: five finished hours today.
    let now = app.clock.now();
    let at = (now.date_naive() + chrono::Days::new(1))
        .and_hms_opt(5, 30, 0)
        .unwrap()
        .and_utc();
    app.clock.advance((at - now).to_std().unwrap());
    rp_server::purge::ensure_audit_partitions(&app.state).await;
    // 20,000 sign-ins at 01:10, 10,000 at 03:20, 7 at 05:10 (the current hour).
    for (minutes, n) in [(70, 20_000), (200, 10_000), (310, 7)] {
        sqlx::query(
            "INSERT INTO audit_events (occurred_at, actor, action, cognito_sub, details, site)
             SELECT $1, 'service', 'authentication.succeeded', 'sub-' || g, '{\"usernameless\": true}', $3
               FROM generate_series(1, $2) g",
        )
        .bind(at.date_naive().and_hms_opt(0, 0, 0).unwrap().and_utc() + chrono::Duration::minutes(minutes))
        .bind(n)
        .bind(site.as_str())
        .execute(db)
        .await
        .unwrap();
    }
    sqlx::query("ANALYZE audit_events")
        .execute(db)
        .await
        .unwrap();
    let today = || async {
        app.get("/admin/v1/stats/daily?days=1", Some(ADMIN_TOKEN))
            .await
            .expect(200)["days"][0]["signIns"]["passkeyUsernameless"]
            .clone()
    };
    assert_eq!(today().await, 30_007, "all live before the rollup");
    rp_server::purge::roll_up_hours(&app.state).await;
    let hourly: i64 = sqlx::query_scalar("SELECT count(*) FROM audit_hourly_done")
        .fetch_one(db)
        .await
        .unwrap();
    assert_eq!(hourly, 5, "00:00 to 04:00, not the current hour");
    assert_eq!(
        today().await,
        30_007,
        "the same from the rollup and the last hour"
    );
    let stats = app.admin_get("/admin/v1/stats").await.expect(200);
    assert_eq!(stats["signInsPerDay"][0]["signIns"], 30_007);

    let mut tx = db.begin().await.unwrap();
    let before = crate::harness::rows_fetched(&mut tx, "audit_events").await;
    daily(&mut *tx, &site, at.date_naive(), at).await.unwrap();
    let read = crate::harness::rows_fetched(&mut tx, "audit_events").await - before;
    assert!(
        read <= 50,
        "events read to count today: {read} (the current hour has 7)"
    );
}

/// The console's daily statistics: sign-ins by factor and failures by reason per UTC day,
/// finished days from the background rollup (they survive the audit purge), today live.
#[tokio::test]
async fn daily_statistics_by_factor_from_the_rollup_and_today() {
    let app = TestApp::spawn().await;
    let user = User::new("dora");
    let mut authn = SoftAuthenticator::new();
    app.register(&user, &mut authn).await;
    let day = std::time::Duration::from_secs(86_400);

    // Two days ago: two usernameless sign-ins and a wrong recovery code.
    app.sign_in(&mut authn).await.expect(200);
    app.sign_in(&mut authn).await.expect(200);
    app.post(
        "/v1/recovery/verify",
        None,
        &json!({ "username": user.username, "code": "aaaa-bbbb-cccc" }),
    )
    .await;
    app.clock.advance(day);
    // Yesterday: one username-first sign-in.
    let challenge = app.challenge(&user).await;
    app.answer(&challenge, &mut authn, crate::harness::ORIGIN)
        .await
        .expect(200);
    app.clock.advance(day);
    // Today: one more usernameless sign-in, counted live.
    app.sign_in(&mut authn).await.expect(200);

    rp_server::purge::roll_up_days(&app.state).await;
    // The rolled-up days no longer need their events.
    sqlx::query("DELETE FROM audit_events WHERE occurred_at < $1")
        .bind(app.clock.now() - chrono::Duration::hours(1))
        .execute(&app.state.db)
        .await
        .unwrap();

    let stats = app
        .get("/admin/v1/stats/daily?days=3", Some(ADMIN_TOKEN))
        .await
        .expect(200);
    let days = stats["days"].as_array().unwrap();
    assert_eq!(days.len(), 3);
    assert_eq!(days[2]["day"], app.clock.now().date_naive().to_string());
    let sign_ins = |i: usize| days[i]["signIns"].clone();
    assert_eq!(sign_ins(0)["passkeyUsernameless"], 2);
    assert_eq!(sign_ins(1)["passkeyUsernameFirst"], 1);
    assert_eq!(sign_ins(2)["passkeyUsernameless"], 1);
    let failures: i64 = days[0]["failures"]
        .as_object()
        .unwrap()
        .iter()
        .filter(|(k, _)| k.starts_with("recovery.code_failed"))
        .map(|(_, v)| v.as_i64().unwrap())
        .sum();
    assert_eq!(failures, 1, "{}", days[0]);
    // Rolling up again changes nothing.
    rp_server::purge::roll_up_days(&app.state).await;
    let again = app
        .get("/admin/v1/stats/daily?days=3", Some(ADMIN_TOKEN))
        .await
        .expect(200);
    assert_eq!(again, stats);
    app.get("/admin/v1/stats/daily?days=x", Some(ADMIN_TOKEN))
        .await
        .expect_error(400, "INVALID_REQUEST");
}
