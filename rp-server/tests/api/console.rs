//! The console's server side: admins by Cognito group, fresh sign-ins for destructive
//! actions, finding users, the audit log's actor filter and CSV export, and the console
//! page itself (internal listener only, strict CSP).

use serde_json::{Value, json};
use testkit::authenticator::SoftAuthenticator;

use crate::harness::{ADMIN_TOKEN, TestApp, User};
use crate::signup::{POOL, pool};

/// An access token for `user` naming these groups and this sign-in time, as Cognito's would.
fn token(app: &TestApp, user: &User, groups: &[&str], signed_in_secs_ago: i64) -> String {
    let mut claims = app.idp.access_claims(&user.sub, &user.username);
    claims["cognito:groups"] = json!(groups);
    claims["auth_time"] = json!(claims["auth_time"].as_i64().unwrap() - signed_in_secs_ago);
    app.idp.sign(&claims).unwrap()
}

/// Every operation of the admin API, from the OpenAPI document, with a path that exists
/// for any id (the authorisation answer comes before the lookup).
async fn admin_operations(app: &TestApp) -> Vec<(String, String)> {
    let doc = app.get("/openapi.json", None).await.expect(200);
    let mut ops = Vec::new();
    for (path, item) in doc["paths"].as_object().unwrap() {
        if !path.starts_with("/admin/") {
            continue;
        }
        let concrete = path
            .replace("{id}", "00000000-0000-4000-8000-000000000000")
            .replace("{sub}", "someone");
        for method in item.as_object().unwrap().keys() {
            ops.push((method.clone(), concrete.clone()));
        }
    }
    assert!(ops.len() >= 15, "the admin API's operations: {ops:?}");
    ops
}

async fn call(app: &TestApp, method: &str, path: &str, bearer: &str) -> testkit::rp::Response {
    let req = match method {
        "get" => app.http.get(app.url(path)),
        "post" => app.http.post(app.url(path)).json(&json!({})),
        other => panic!("unexpected method {other}"),
    };
    app.send(req.bearer_auth(bearer)).await
}

#[tokio::test]
async fn members_of_the_admin_group_use_the_admin_api_and_nobody_else_does() {
    let app = TestApp::spawn().await;
    let admin = User::new("ada");
    let other = User::new("bob");
    let member = token(&app, &admin, &["staff", "rp-admins"], 0);
    app.get("/admin/v1/stats", Some(&member)).await.expect(200);

    // Signed in, valid token, but not in the group: 403 on every admin operation, before
    // anything is looked up or changed.
    for groups in [
        &[][..],
        &["staff"][..],
        &["RP-ADMINS"][..],
        &["rp-admins-x"][..],
    ] {
        let outsider = token(&app, &other, groups, 0);
        for (method, path) in admin_operations(&app).await {
            call(&app, &method, &path, &outsider)
                .await
                .expect_error(403, "NOT_AN_ADMIN");
        }
    }
    // A token of a client not allowed, an expired one, or an unsigned one is no admin.
    let mut claims = app.idp.access_claims(&admin.sub, &admin.username);
    claims["cognito:groups"] = json!(["rp-admins"]);
    claims["exp"] = json!(claims["iat"].as_i64().unwrap() - 120);
    let expired = app.idp.sign(&claims).unwrap();
    let unsigned = testkit::idp::unsigned_token(&claims);
    for bad in [expired, unsigned] {
        app.get("/admin/v1/stats", Some(&bad))
            .await
            .expect_error(401, "UNAUTHENTICATED");
    }

    // Another group named by RP_ADMIN_GROUP; none at all turns membership off.
    let renamed = TestApp::spawn_with(|c| c.admin_group = Some("helpdesk".to_owned())).await;
    let in_helpdesk = token(&renamed, &admin, &["helpdesk"], 0);
    renamed
        .get("/admin/v1/stats", Some(&in_helpdesk))
        .await
        .expect(200);
    let member_elsewhere = token(&renamed, &admin, &["rp-admins"], 0);
    renamed
        .get("/admin/v1/stats", Some(&member_elsewhere))
        .await
        .expect_error(403, "NOT_AN_ADMIN");
    let nobody = TestApp::spawn_with(|c| c.admin_group = None).await;
    let member = token(&nobody, &admin, &["rp-admins"], 0);
    nobody
        .get("/admin/v1/stats", Some(&member))
        .await
        .expect_error(401, "UNAUTHENTICATED");
}

#[tokio::test]
async fn an_admins_ended_session_ends_their_admin_access() {
    let app = TestApp::spawn().await;
    let admin = User::new("ada");
    let member = token(&app, &admin, &["rp-admins"], 0);
    app.register(&admin, &mut SoftAuthenticator::new()).await;
    app.clock.advance(std::time::Duration::from_secs(5));
    app.post(
        &format!("/admin/v1/users/{}/reset", admin.sub),
        Some(ADMIN_TOKEN),
        &json!({}),
    )
    .await
    .expect(200);
    app.get("/admin/v1/stats", Some(&member))
        .await
        .expect_error(401, "SESSION_REVOKED");
}

#[tokio::test]
async fn destructive_actions_need_a_fresh_sign_in_and_name_the_admin() {
    let p = pool("").await;
    let cognito = rp_server::cognito::CognitoAdmin::new(p.client.clone(), POOL.to_owned());
    let app =
        TestApp::spawn_full(|c| c.cognito_user_pool_id = Some(POOL.to_owned()), cognito).await;
    // The admin is a pool user with a verified email: the audit names them by it.
    let created = p
        .client
        .admin_create_user()
        .user_pool_id(POOL)
        .username("ada@example.test")
        .user_attributes(attr("email", "ada@example.test"))
        .user_attributes(attr("email_verified", "true"))
        .send()
        .await
        .unwrap();
    let sub = created
        .user()
        .unwrap()
        .attributes()
        .iter()
        .find(|a| a.name() == "sub")
        .and_then(|a| a.value())
        .unwrap()
        .to_owned();
    let admin = User {
        sub,
        username: "ada@example.test".to_owned(),
    };
    let user = User::new("carol");
    let passkey = app.register(&user, &mut SoftAuthenticator::new()).await;
    let id = passkey["id"].as_str().unwrap();

    let stale = token(&app, &admin, &["rp-admins"], 3600);
    // Reading needs no fresh sign-in.
    app.get(&format!("/admin/v1/users?sub={}", user.sub), Some(&stale))
        .await
        .expect(200);
    let destructive = [
        format!("/admin/v1/credentials/{id}/revoke"),
        format!("/admin/v1/users/{}/reset", user.sub),
        format!("/admin/v1/users/{}/unlock", user.sub),
        format!("/admin/v1/users/{}/enrolment-tokens", user.sub),
        "/admin/v1/enrolment-tokens/00000000-0000-4000-8000-000000000000/revoke".to_owned(),
    ];
    for path in &destructive {
        app.post(path, Some(&stale), &json!({ "reason": "stale" }))
            .await
            .expect_error(401, "REAUTH_REQUIRED");
    }
    // Nothing happened.
    let listed = app
        .get(
            &format!("/admin/v1/users?sub={}", user.sub),
            Some(ADMIN_TOKEN),
        )
        .await
        .expect(200);
    assert_eq!(listed["credentials"][0]["revokedAt"], Value::Null);
    // Admin tokens (automation) have no sign-in to be fresh: they are not asked.

    let fresh = token(&app, &admin, &["rp-admins"], 10);
    app.post(
        &destructive[0],
        Some(&fresh),
        &json!({ "reason": "lost laptop" }),
    )
    .await
    .expect(200);
    let events = app
        .get(
            "/admin/v1/audit-events?action=credential.revoked",
            Some(ADMIN_TOKEN),
        )
        .await
        .expect(200);
    assert_eq!(
        events["events"][0]["actor"],
        format!("admin:cognito:{} ada@example.test", admin.sub),
        "the audit names the admin by sub and verified email, from Cognito"
    );
    // The actor filter finds the admin's actions by the start of that name.
    let mine = app
        .get(
            &format!("/admin/v1/audit-events?actor=admin:cognito:{}", admin.sub),
            Some(&fresh),
        )
        .await
        .expect(200);
    assert_eq!(mine["events"].as_array().unwrap().len(), 1);
    let none = app
        .get("/admin/v1/audit-events?actor=admin:api:", Some(&fresh))
        .await
        .expect(200);
    assert_eq!(none["events"], json!([]));
}

fn attr(name: &str, value: &str) -> aws_sdk_cognitoidentityprovider::types::AttributeType {
    aws_sdk_cognitoidentityprovider::types::AttributeType::builder()
        .name(name)
        .value(value)
        .build()
        .unwrap()
}

#[tokio::test]
async fn admins_find_users_by_the_start_of_their_username_sub_or_email() {
    let p = pool("").await;
    let cognito = rp_server::cognito::CognitoAdmin::new(p.client.clone(), POOL.to_owned());
    let app =
        TestApp::spawn_full(|c| c.cognito_user_pool_id = Some(POOL.to_owned()), cognito).await;
    let mut users = Vec::new();
    for name in ["Alice", "alina", "al_x", "bob", "al%"] {
        let u = User::new(name);
        app.register(&u, &mut SoftAuthenticator::new()).await;
        users.push(u);
    }
    let search = |q: &str, cursor: Option<&str>, limit: i64| {
        let mut url = reqwest::Url::parse(&app.url("/admin/v1/users/search")).unwrap();
        url.query_pairs_mut()
            .append_pair("q", q)
            .append_pair("limit", &limit.to_string());
        if let Some(c) = cursor {
            url.query_pairs_mut().append_pair("cursor", c);
        }
        app.send(app.http.get(url).bearer_auth(ADMIN_TOKEN))
    };
    let names = |page: &Value| -> Vec<String> {
        page["users"]
            .as_array()
            .unwrap()
            .iter()
            .map(|u| u["username"].as_str().unwrap().to_owned())
            .collect()
    };
    // Any case, in username order; `_` and `%` are letters, not patterns.
    let page = search("AL", None, 10).await.expect(200);
    assert_eq!(names(&page), ["al%", "al_x", "Alice", "alina"]);
    assert_eq!(page["users"][0]["activePasskeys"], 1);
    assert_eq!(page["nextCursor"], Value::Null);
    assert_eq!(names(&search("al_", None, 10).await.expect(200)), ["al_x"]);
    assert_eq!(names(&search("al%", None, 10).await.expect(200)), ["al%"]);
    // Paged.
    let first = search("al", None, 3).await.expect(200);
    assert_eq!(names(&first), ["al%", "al_x", "Alice"]);
    let cursor = first["nextCursor"].as_str().unwrap();
    let second = search("al", Some(cursor), 3).await.expect(200);
    assert_eq!(names(&second), ["alina"]);
    assert_eq!(second["nextCursor"], Value::Null);
    // By the start of the sub.
    let bob = &users[3];
    let by_sub = search(&bob.sub[..8], None, 10).await.expect(200);
    assert!(names(&by_sub).contains(&"bob".to_owned()));

    // By the start of an email: in the pool, with its passkey count when rp-server
    // knows the user; Cognito's pages carry on where the first stopped.
    for email in ["zoe@example.test", "zoe@example.org", "zora@example.test"] {
        p.client
            .admin_create_user()
            .user_pool_id(POOL)
            .username(email)
            .user_attributes(attr("email", email))
            .send()
            .await
            .unwrap();
    }
    assert_eq!(
        search("zo", None, 10).await.expect(200)["users"],
        json!([]),
        "without @ it is a username or sub"
    );
    let found = search("zora@", None, 10).await.expect(200);
    assert_eq!(found["users"].as_array().unwrap().len(), 1);
    assert_eq!(found["users"][0]["email"], "zora@example.test");
    assert_eq!(found["users"][0]["activePasskeys"], 0);
    let first = search("zoe@", None, 1).await.expect(200);
    assert_eq!(first["users"].as_array().unwrap().len(), 1);
    let next = search("zoe@", first["nextCursor"].as_str(), 1)
        .await
        .expect(200);
    assert_eq!(next["users"].as_array().unwrap().len(), 1);
    assert_ne!(next["users"][0]["sub"], first["users"][0]["sub"]);

    // Bad input is refused clearly.
    search("", None, 10)
        .await
        .expect_error(400, "INVALID_REQUEST");
    search("a", None, 61)
        .await
        .expect_error(400, "INVALID_REQUEST");
    search("a", Some("bogus"), 10)
        .await
        .expect_error(400, "INVALID_CURSOR");
    search("a@", Some(cursor), 10)
        .await
        .expect_error(400, "INVALID_CURSOR");
}

#[tokio::test]
async fn the_audit_csv_export_streams_every_matching_event_and_defuses_formulas() {
    let app = TestApp::spawn().await;
    let user = User::new("mallory");
    // The user agent is the client's to choose: a formula in it must stay text.
    let token = app.token(&user);
    let options = app
        .post("/v1/registration/options", Some(&token), &json!({}))
        .await
        .expect(200);
    let mut authn = SoftAuthenticator::new();
    let credential = authn
        .create(&options["publicKey"], crate::harness::ORIGIN)
        .unwrap();
    app.send(
        app.http
            .post(app.url("/v1/registration/verify"))
            .bearer_auth(&token)
            .header("user-agent", "=HYPERLINK(\"http://evil\",\"x\")")
            .json(&json!({ "ceremonyId": options["ceremonyId"], "credential": credential })),
    )
    .await
    .expect(201);
    // More events than one read of the export (500), so it takes several.
    sqlx::query(
        "INSERT INTO audit_events (occurred_at, actor, action, cognito_sub, details)
         SELECT now() - make_interval(secs => g), 'service', 'nonce.redeemed', $1, '{}'::jsonb
           FROM generate_series(1, 1234) g",
    )
    .bind(&user.sub)
    .execute(&app.state.db)
    .await
    .unwrap();

    let app = &app;
    let export = |query: &str| {
        let url = app.url(&format!("/admin/v1/audit-events.csv{query}"));
        async move {
            let r = app
                .http
                .get(url)
                .bearer_auth(ADMIN_TOKEN)
                .send()
                .await
                .unwrap();
            assert_eq!(r.status(), 200);
            assert_eq!(r.headers()["content-type"], "text/csv; charset=utf-8");
            assert!(
                r.headers().get("content-length").is_none(),
                "streamed, not buffered"
            );
            r.text().await.unwrap()
        }
    };
    let all = export("").await;
    let mut reader = csv::Reader::from_reader(all.as_bytes());
    assert_eq!(
        reader.headers().unwrap().iter().collect::<Vec<_>>(),
        [
            "occurred_at",
            "actor",
            "action",
            "user_sub",
            "credential_id",
            "ip",
            "user_agent",
            "details"
        ]
    );
    let rows: Vec<csv::StringRecord> = reader.records().map(Result::unwrap).collect();
    let stored: i64 = sqlx::query_scalar("SELECT count(*) FROM audit_events")
        .fetch_one(&app.state.db)
        .await
        .unwrap();
    assert!(stored > 1234);
    assert_eq!(rows.len() as i64, stored, "every event, once");
    // Newest first, without a gap or a repeat between reads.
    let times: Vec<&str> = rows.iter().map(|r| r.get(0).unwrap()).collect();
    assert!(times.windows(2).all(|w| w[0] >= w[1]));
    let registered = rows
        .iter()
        .find(|r| r.get(2) == Some("credential.registered"))
        .unwrap();
    assert_eq!(
        registered.get(6),
        Some("'=HYPERLINK(\"http://evil\",\"x\")")
    );

    // The export is the filtered view: the same rows as the paged API.
    let filtered = export("?action=credential.registered").await;
    let rows: Vec<csv::StringRecord> = csv::Reader::from_reader(filtered.as_bytes())
        .records()
        .map(Result::unwrap)
        .collect();
    let page = app
        .get(
            "/admin/v1/audit-events?action=credential.registered",
            Some(ADMIN_TOKEN),
        )
        .await
        .expect(200);
    assert_eq!(rows.len(), page["events"].as_array().unwrap().len());
    assert_eq!(rows[0].get(4), page["events"][0]["credentialId"].as_str());

    app.send(
        app.http
            .get(app.url("/admin/v1/audit-events.csv?credentialId=***"))
            .bearer_auth(ADMIN_TOKEN),
    )
    .await
    .expect_error(400, "INVALID_REQUEST");
}

#[tokio::test]
async fn the_console_is_served_on_the_internal_listener_only_with_a_strict_policy() {
    let app = TestApp::spawn_with(|c| {
        c.internal_listen_addr = Some("127.0.0.1:0".parse().unwrap());
        // The console alone turns the admin API on.
        c.admin_token = None;
    })
    .await;
    let private = app.internal_base.clone().unwrap();
    let page = app
        .http
        .get(format!("{private}/console/"))
        .send()
        .await
        .unwrap();
    assert_eq!(page.status(), 200);
    let csp = page.headers()["content-security-policy"]
        .to_str()
        .unwrap()
        .to_owned();
    for directive in [
        "default-src 'none'",
        "script-src 'self'",
        "frame-ancestors 'none'",
        "base-uri 'none'",
    ] {
        assert!(csp.contains(directive), "{csp}");
    }
    assert!(
        !csp.contains("unsafe-inline") && !csp.contains("unsafe-eval"),
        "{csp}"
    );
    assert_eq!(page.headers()["x-frame-options"], "DENY");
    let html = page.text().await.unwrap();
    assert!(
        !html.contains("<script>") && !html.contains(" style="),
        "no inline script or style"
    );
    let config: Value = app
        .http
        .get(format!("{private}/console/config.json"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(config["clientId"], app.idp.client_id);
    assert_eq!(config["adminGroup"], "rp-admins");
    for asset in ["console.js", "console.css"] {
        let r = app
            .http
            .get(format!("{private}/console/{asset}"))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 200, "{asset}");
        assert_eq!(r.headers()["x-content-type-options"], "nosniff");
    }
    // The admin's sign-in ceremony is served on the console's origin.
    let options = app
        .http
        .post(format!("{private}/v1/authentication/options"))
        .json(&json!({}))
        .send()
        .await
        .unwrap();
    assert_eq!(options.status(), 200);
    // A member of the group uses the admin API there; the public listener has neither.
    let admin = token(&app, &User::new("ada"), &["rp-admins"], 0);
    let stats = app
        .http
        .get(format!("{private}/admin/v1/stats"))
        .bearer_auth(&admin)
        .send()
        .await
        .unwrap();
    assert_eq!(stats.status(), 200);
    app.get("/console/", None)
        .await
        .expect_error(404, "NOT_FOUND");
    app.get("/admin/v1/stats", Some(&admin))
        .await
        .expect_error(404, "NOT_FOUND");

    // RP_CONSOLE=off: no console, and without an admin token no admin API either.
    let off = TestApp::spawn_with(|c| {
        c.internal_listen_addr = Some("127.0.0.1:0".parse().unwrap());
        c.admin_token = None;
        c.console = false;
    })
    .await;
    let private = off.internal_base.clone().unwrap();
    for path in [
        "/console/",
        "/console/config.json",
        "/v1/authentication/options",
    ] {
        let r = off
            .http
            .get(format!("{private}{path}"))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 404, "{path}");
    }
    let r = off
        .http
        .get(format!("{private}/admin/v1/stats"))
        .bearer_auth(token(&off, &User::new("ada"), &["rp-admins"], 0))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 404);
}
