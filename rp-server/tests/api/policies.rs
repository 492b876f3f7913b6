//! Passkey policies: chosen by the access token's `cognito:groups` (first match in file
//! order, else the default), refusing at registration what they do not allow, and — with
//! `enforce_on_sign_in` — stored passkeys that no longer satisfy them.

use rp_server::policy::{Policies, Policy};
use serde_json::{Value, json};
use testkit::authenticator::SoftAuthenticator;
use uuid::Uuid;

use crate::harness::{ADMIN_TOKEN, TestApp, User};

const KEY: Uuid = Uuid::from_u128(0xcb69481e_8ff7_4039_93ec_0a2729a154a8);
const BAD: Uuid = Uuid::from_u128(0x0bad0bad_0bad_4bad_8bad_0bad0bad0bad);

fn policy(name: &str, groups: &[&str]) -> Policy {
    Policy {
        name: name.into(),
        groups: groups.iter().map(|g| g.to_string()).collect(),
        aaguids: vec![],
        deny_aaguids: vec![],
        device_bound: false,
        enforce_on_sign_in: false,
        attestation: false,
    }
}

fn authenticator(aaguid: Uuid, synced: bool) -> SoftAuthenticator {
    let mut a = SoftAuthenticator::new();
    a.aaguid = *aaguid.as_bytes();
    a.behaviour.backup_eligible = synced;
    a.behaviour.backup_state = synced;
    a
}

/// An access token for `user` naming these groups, as Cognito's would.
fn token(app: &TestApp, user: &User, groups: &[&str]) -> String {
    let mut claims = app.idp.access_claims(&user.sub, &user.username);
    if !groups.is_empty() {
        claims["cognito:groups"] = json!(groups);
    }
    app.idp.sign(&claims).unwrap()
}

async fn register(
    app: &TestApp,
    token: &str,
    authn: &mut SoftAuthenticator,
) -> (Value, testkit::rp::Response) {
    app.try_register(token, authn).await
}

/// One page of the policy report looks at a bounded number of passkeys: with few
/// violations among millions, a page that filled only with violations read them all in
/// one request, beyond its timeout. It ends early with a cursor instead, and following
/// the cursors finds every violation once.
#[tokio::test]
async fn a_policy_report_page_looks_at_a_bounded_number_of_passkeys() {
    let strict = Policy {
        device_bound: true,
        ..policy("admins", &["admins"])
    };
    let app = TestApp::spawn_with(|c| c.policies = Policies::new(vec![strict])).await;
    // 40,000 synced passkeys of 30,000 users; user 3's two break the admins' policy.
    app.seed_passkeys_in_bulk(30_000).await;
    sqlx::query("UPDATE users SET groups = '{admins}' WHERE cognito_sub = 'sub-3'")
        .execute(&app.state.db)
        .await
        .unwrap();
    let (mut found, mut pages, mut cursor) = (Vec::new(), 0, String::new());
    loop {
        let page = app
            .get(
                &format!("/admin/v1/policy-report?limit=500{cursor}"),
                Some(ADMIN_TOKEN),
            )
            .await
            .expect(200);
        pages += 1;
        found.extend(page["violations"].as_array().unwrap().iter().cloned());
        match page["nextCursor"].as_str() {
            Some(next) => cursor = format!("&cursor={next}"),
            None => break,
        }
    }
    // At most 20,000 passkeys a page (README, the admin API): 40,000 take three pages.
    assert_eq!(rp_server::admin::REPORT_PAGE_SCAN, 20_000);
    assert!(pages >= 2, "one page looked at every passkey");
    assert_eq!(found.len(), 2, "{found:?}");
    assert!(found.iter().all(|v| v["userSub"] == "sub-3"));
    assert_ne!(found[0]["credentialId"], found[1]["credentialId"]);
}

/// A page after a cursor reads about a page of passkeys however Postgres plans it. The
/// cursor was optional in SQL (`$1 IS NULL OR id > $1`), which a generic plan (Postgres's
/// choice for a statement prepared on a connection and run more than five times) cannot
/// turn into a key range: it read every passkey before the cursor, 16 s a page in the
/// middle of 2 M passkeys, beyond the statement timeout (503). Here plans are forced
/// generic and the rows Postgres fetched are counted.
#[tokio::test]
async fn a_page_after_a_cursor_reads_a_page_even_under_a_generic_plan() {
    use rp_server::store::credentials::{active_for_export, active_for_policies};
    let app = TestApp::spawn().await;
    // A registered passkey first: the seeded ones copy its stored key (the export reads it).
    app.register(&User::new("real"), &mut SoftAuthenticator::new())
        .await;
    app.seed_passkeys_in_bulk(30_000).await;
    let site = app.state.admin_site().id.clone();
    let mut tx = app.state.db.begin().await.unwrap();
    sqlx::query("SET LOCAL plan_cache_mode = force_generic_plan")
        .execute(&mut *tx)
        .await
        .unwrap();
    let middle: Vec<u8> = sqlx::query_scalar(
        "SELECT credential_id FROM credentials ORDER BY credential_id OFFSET 20000 LIMIT 1",
    )
    .fetch_one(&mut *tx)
    .await
    .unwrap();
    let before = crate::harness::rows_fetched(&mut tx, "credentials").await;
    let page = active_for_policies(&mut *tx, &site, Some(&middle), 100)
        .await
        .unwrap();
    assert_eq!(page.len(), 100);
    let policies = crate::harness::rows_fetched(&mut tx, "credentials").await - before;
    let before = crate::harness::rows_fetched(&mut tx, "credentials").await;
    let page = active_for_export(&mut *tx, &site, None, Some(&middle), 100)
        .await
        .unwrap();
    assert_eq!(page.len(), 100);
    let export = crate::harness::rows_fetched(&mut tx, "credentials").await - before;
    assert!(
        policies <= 1000 && export <= 1000,
        "rows of credentials read for a page of 100 after 20,000: policy report {policies}, export {export}"
    );
}

#[tokio::test]
async fn groups_choose_the_policy_and_registration_refuses_what_it_does_not_allow() {
    let staff = Policy {
        aaguids: vec![KEY],
        device_bound: true,
        ..policy("staff", &["admins", "finance"])
    };
    let everyone = Policy {
        deny_aaguids: vec![BAD],
        ..policy("everyone", &[])
    };
    let app = TestApp::spawn_with(|c| c.policies = Policies::new(vec![everyone, staff])).await;
    let admin = User::new("ada");
    let admin_token = token(&app, &admin, &["admins"]);
    let refused = |done: &testkit::rp::Response, policy: &str, rule: &str| {
        done.expect_error(422, "POLICY_VIOLATION");
        assert_eq!(
            done.body["error"]["details"],
            json!({ "policy": policy, "rule": rule })
        );
    };

    // Staff: only the listed model, and only device-bound; the options steer to a security key.
    let (options, done) = register(
        &app,
        &admin_token,
        &mut authenticator(Uuid::new_v4(), false),
    )
    .await;
    assert_eq!(options["publicKey"]["hints"], json!(["security-key"]));
    refused(&done, "staff", "aaguid");
    let (_, done) = register(&app, &admin_token, &mut authenticator(KEY, true)).await;
    refused(&done, "staff", "device_bound");
    let (_, done) = register(&app, &admin_token, &mut authenticator(KEY, false)).await;
    done.expect(201);

    // Everyone else: the default policy, which only denies one model.
    let bob = User::new("bob");
    let bob_token = token(&app, &bob, &["readers"]);
    let (options, done) = register(&app, &bob_token, &mut authenticator(BAD, true)).await;
    assert!(options["publicKey"].get("hints").is_none(), "{options}");
    refused(&done, "everyone", "aaguid");
    let (_, done) = register(&app, &bob_token, &mut authenticator(Uuid::new_v4(), true)).await;
    done.expect(201);

    let violations = app
        .audit_actions()
        .await
        .into_iter()
        .filter(|a| a == "policy.violation")
        .count();
    assert_eq!(violations, 3);
    let listed = app
        .get("/admin/v1/policies", Some(ADMIN_TOKEN))
        .await
        .expect(200);
    assert_eq!(listed["policies"][1]["name"], "staff");
    assert_eq!(listed["policies"][1]["deviceBound"], true);
    assert_eq!(listed["policies"][0]["groups"], json!([]));
}

#[tokio::test]
async fn without_policies_any_passkey_registers_as_before() {
    let app = TestApp::spawn().await;
    let user = User::new("cy");
    let (options, done) = register(
        &app,
        &token(&app, &user, &["admins"]),
        &mut authenticator(BAD, true),
    )
    .await;
    assert!(options["publicKey"].get("hints").is_none());
    done.expect(201);
}

/// A user moved into a stricter group (their latest token says so) can no longer sign in
/// with a passkey that group's policy refuses: usernameless is 422, and the Create
/// trigger's challenge leaves it out.
#[tokio::test]
async fn a_policy_enforced_at_sign_in_refuses_passkeys_that_no_longer_satisfy_it() {
    let strict = Policy {
        device_bound: true,
        enforce_on_sign_in: true,
        ..policy("admins", &["admins"])
    };
    let app = TestApp::spawn_with(|c| c.policies = Policies::new(vec![strict])).await;
    let user = User::new("dee");
    let mut synced = authenticator(Uuid::new_v4(), true);
    let (_, done) = register(&app, &token(&app, &user, &[]), &mut synced).await;
    done.expect(201);
    app.sign_in(&mut synced).await.expect(200);
    let credential_id = rp_shared::credential_id::encode(&synced.credentials[0].id);

    // Any request with a token naming the group records it.
    app.get("/v1/credentials", Some(&token(&app, &user, &["admins"])))
        .await
        .expect(200);
    let refused = app.sign_in(&mut synced).await;
    refused.expect_error(422, "POLICY_VIOLATION");
    assert_eq!(refused.body["error"]["details"]["rule"], "device_bound");
    let challenge = app.challenge(&user).await;
    let offered: Vec<&str> = challenge["publicKey"]["allowCredentials"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|c| c["id"].as_str())
        .collect();
    assert!(!offered.contains(&credential_id.as_str()), "{offered:?}");

    // Out of the group again: the passkey signs in.
    app.get("/v1/credentials", Some(&token(&app, &user, &[])))
        .await
        .expect(200);
    app.sign_in(&mut synced).await.expect(200);
}

/// The report lists exactly the active passkeys that break their user's current policy
/// (here: a user moved into a stricter group), page by page; revoking from it is one call;
/// the CLI reads the same report.
#[tokio::test]
async fn the_policy_report_lists_exactly_the_breaking_passkeys() {
    let strict = Policy {
        device_bound: true,
        ..policy("admins", &["admins"])
    };
    let app = TestApp::spawn_with(|c| c.policies = Policies::new(vec![strict])).await;
    let moved = User::new("eve");
    let (mut first, mut second) = (authenticator(KEY, true), authenticator(BAD, true));
    for authn in [&mut first, &mut second] {
        register(&app, &token(&app, &moved, &[]), authn)
            .await
            .1
            .expect(201);
    }
    let bystander = User::new("fay");
    register(
        &app,
        &token(&app, &bystander, &[]),
        &mut authenticator(KEY, true),
    )
    .await
    .1
    .expect(201);
    let admin = User::new("gil");
    register(
        &app,
        &token(&app, &admin, &["admins"]),
        &mut authenticator(KEY, false),
    )
    .await
    .1
    .expect(201);
    let report = |query: &str| {
        let path = format!("/admin/v1/policy-report{query}");
        let app = &app;
        async move { app.get(&path, Some(ADMIN_TOKEN)).await.expect(200) }
    };
    assert_eq!(
        report("").await["violations"],
        json!([]),
        "nobody breaks a policy yet"
    );

    // `eve` is an admin now: her synced passkeys break the admins' policy.
    app.get("/v1/credentials", Some(&token(&app, &moved, &["admins"])))
        .await
        .expect(200);
    let page = report("?limit=1").await;
    assert_eq!(page["violations"].as_array().unwrap().len(), 1);
    let cursor = page["nextCursor"].as_str().unwrap().to_owned();
    let rest = report(&format!("?limit=1&cursor={cursor}")).await;
    let mut listed: Vec<Value> = page["violations"].as_array().unwrap().clone();
    listed.extend(rest["violations"].as_array().unwrap().iter().cloned());
    let mut expected: Vec<String> = [&first, &second]
        .iter()
        .map(|a| rp_shared::credential_id::encode(&a.credentials[0].id))
        .collect();
    expected.sort();
    // In the order of the raw ids; compared here as a set.
    let mut ids: Vec<String> = listed
        .iter()
        .map(|v| v["credentialId"].as_str().unwrap().to_owned())
        .collect();
    ids.sort();
    assert_eq!(ids, expected);
    assert!(listed.iter().all(|v| v["userSub"] == moved.sub.as_str()
        && v["rule"] == "device_bound"
        && v["policy"] == "admins"));
    // The user's page in the console says the same: her policy, and which passkeys break it.
    let user = app
        .get(
            &format!("/admin/v1/users?sub={}", moved.sub),
            Some(ADMIN_TOKEN),
        )
        .await
        .expect(200);
    assert_eq!(user["policy"]["policy"], "admins");
    let mut breaches: Vec<String> = user["policy"]["breaches"]
        .as_array()
        .unwrap()
        .iter()
        .map(|b| {
            assert_eq!(b["rule"], "device_bound");
            b["credentialId"].as_str().unwrap().to_owned()
        })
        .collect();
    breaches.sort();
    assert_eq!(breaches, expected);
    let fine = app
        .get(
            &format!("/admin/v1/users?sub={}", admin.sub),
            Some(ADMIN_TOKEN),
        )
        .await
        .expect(200);
    assert_eq!(
        fine["policy"],
        json!({ "policy": "admins", "breaches": [] })
    );

    // The CLI, on the same database with the same policy.
    let out = app
        .admin_cli(&["--json", "policy-report"])
        .env(
            "RP_POLICY",
            r#"[{"name":"admins","groups":["admins"],"device_bound":true}]"#,
        )
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let cli: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(cli["violations"].as_array().unwrap().len(), 2);

    // Revoking from the report is one call each.
    for id in &expected {
        app.post(
            &format!("/admin/v1/credentials/{id}/revoke"),
            Some(ADMIN_TOKEN),
            &json!({ "reason": "policy" }),
        )
        .await
        .expect(200);
    }
    assert_eq!(report("").await["violations"], json!([]));
    app.get("/admin/v1/policy-report?cursor=%21%21", Some(ADMIN_TOKEN))
        .await
        .expect_error(400, "INVALID_CURSOR");
}
