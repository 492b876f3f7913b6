//! Bringing passkeys in (import) and taking them out (export): passkeys made under
//! another relying party's user handles sign in here, every bad line is refused by number
//! and reason, a dry run changes nothing, a re-run is idempotent, a crash mid-file loses
//! nothing, and export → import into an empty database restores sign-in.

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde_json::{Value, json};
use testkit::authenticator::SoftAuthenticator;

use crate::harness::{ADMIN_TOKEN, ORIGIN, RP_ID, TestApp, User};
use crate::signup::{POOL, pool};

fn b64(bytes: &[u8]) -> String {
    URL_SAFE_NO_PAD.encode(bytes)
}

/// The import line of `authn`'s last passkey, made elsewhere, for the user named by `user`.
fn record(authn: &SoftAuthenticator, user: Value) -> Value {
    let c = authn.credentials.last().unwrap();
    json!({
        "user": user,
        "credentialId": b64(&c.id),
        "publicKey": b64(&c.cose_public_key()),
        "signCount": c.counter,
        "userHandle": b64(&c.user_handle),
        "transports": ["internal", "hybrid"],
        "backupEligible": true,
        "backupState": true,
        "createdAt": "2025-06-01T10:00:00Z",
        "nickname": "From the old vendor",
    })
}

fn ndjson(lines: &[Value]) -> String {
    lines.iter().map(|l| format!("{l}\n")).collect()
}

impl TestApp {
    async fn import(&self, body: String, query: &str) -> testkit::rp::Response {
        self.send(
            self.http
                .post(self.url(&format!("/admin/v1/imports{query}")))
                .bearer_auth(ADMIN_TOKEN)
                .header("content-type", "application/x-ndjson")
                .body(body),
        )
        .await
    }

    async fn stored_credentials(&self) -> i64 {
        sqlx::query_scalar("SELECT count(*) FROM credentials")
            .fetch_one(&self.state.db)
            .await
            .unwrap()
    }
}

/// A pool user made with the SDK: (sub, username).
async fn pool_user(p: &crate::signup::Pool, email: &str) -> User {
    let made = p
        .client
        .admin_create_user()
        .user_pool_id(POOL)
        .username(email)
        .user_attributes(
            aws_sdk_cognitoidentityprovider::types::AttributeType::builder()
                .name("email")
                .value(email)
                .build()
                .unwrap(),
        )
        .send()
        .await
        .unwrap();
    let user = made.user().unwrap();
    User {
        sub: user
            .attributes()
            .iter()
            .find(|a| a.name() == "sub")
            .and_then(|a| a.value())
            .unwrap()
            .to_owned(),
        username: user.username().unwrap().to_owned(),
    }
}

async fn spawn_with_pool(p: &crate::signup::Pool) -> TestApp {
    let cognito = rp_server::cognito::CognitoAdmin::new(p.client.clone(), POOL.to_owned());
    TestApp::spawn_full(|c| c.cognito_user_pool_id = Some(POOL.to_owned()), cognito).await
}

#[tokio::test]
async fn passkeys_made_under_another_rps_user_handles_import_and_sign_in() {
    let p = pool("").await;
    let app = spawn_with_pool(&p).await;
    let (alice, bob, carol) = (
        pool_user(&p, "alice@example.test").await,
        pool_user(&p, "bob@example.test").await,
        pool_user(&p, "carol@example.test").await,
    );
    // Their passkeys, made at the old relying party under its own user handles.
    let mut devices: Vec<SoftAuthenticator> = (0..3).map(|_| SoftAuthenticator::new()).collect();
    for (i, device) in devices.iter_mut().enumerate() {
        device
            .passkey_made_elsewhere(RP_ID, format!("old-handle-{i}").as_bytes(), "someone")
            .unwrap();
    }
    let lines = [
        record(&devices[0], json!({ "sub": alice.sub })),
        record(&devices[1], json!({ "username": bob.username })),
        record(&devices[2], json!({ "email": "carol@example.test" })),
    ];
    let report = app.import(ndjson(&lines), "").await.expect(200);
    assert_eq!(
        (
            report["lines"].clone(),
            report["imported"].clone(),
            report["refused"].clone()
        ),
        (json!(3), json!(3), json!([])),
        "{report}"
    );

    // Usernameless: the authenticator returns the old handle, which finds the right user.
    for (device, user) in devices.iter_mut().zip([&alice, &bob, &carol]) {
        let signed_in = app.sign_in(device).await.expect(200);
        assert_eq!(signed_in["username"], user.username.as_str(), "{signed_in}");
    }
    // Username first: the Create trigger offers the imported passkey, which answers.
    let challenge = app.challenge(&alice).await;
    assert_eq!(
        challenge["publicKey"]["allowCredentials"][0]["id"],
        lines[0]["credentialId"]
    );
    app.answer(&challenge, &mut devices[0], ORIGIN)
        .await
        .expect(200);

    // Listed as the user's, named as the file said; the audit has one event per passkey.
    let listed = app
        .get("/v1/credentials", Some(&app.token(&alice)))
        .await
        .expect(200);
    assert_eq!(listed["credentials"][0]["nickname"], "From the old vendor");
    assert_eq!(
        listed["credentials"][0]["createdAt"],
        "2025-06-01T10:00:00Z"
    );
    let events = app
        .get(
            "/admin/v1/audit-events?action=credential.imported",
            Some(ADMIN_TOKEN),
        )
        .await
        .expect(200);
    assert_eq!(events["events"].as_array().unwrap().len(), 3);
    assert_eq!(events["events"][0]["actor"], "admin:api:admin");
    let finished = app
        .get(
            "/admin/v1/audit-events?action=import.finished",
            Some(ADMIN_TOKEN),
        )
        .await
        .expect(200);
    assert_eq!(finished["events"][0]["details"]["imported"], 3);

    // A passkey that presents our handle instead of the one it was made with is refused.
    let mut impostor = SoftAuthenticator::new();
    impostor
        .passkey_made_elsewhere(RP_ID, b"old-handle-9", "someone")
        .unwrap();
    let mut line = record(&impostor, json!({ "sub": alice.sub }));
    line["userHandle"] = json!(b64(b"another-handle"));
    app.import(ndjson(&[line]), "").await.expect(200);
    app.sign_in(&mut impostor)
        .await
        .expect_error(422, "UNKNOWN_CREDENTIAL");
}

#[tokio::test]
async fn every_bad_line_is_refused_by_number_a_dry_run_changes_nothing_and_a_rerun_is_idempotent() {
    let p = pool("").await;
    let app = spawn_with_pool(&p).await;
    let dora = pool_user(&p, "dora@example.test").await;
    // Someone else's passkey is stored already.
    let other = User::new("eve");
    let mut eves = SoftAuthenticator::new();
    app.register(&other, &mut eves).await;

    let mut device = SoftAuthenticator::new();
    let mut line = |user: Value| {
        device
            .passkey_made_elsewhere(RP_ID, b"old", "dora")
            .unwrap();
        record(&device, user)
    };
    let good = line(json!({ "sub": dora.sub }));
    let mut duplicate_of_eve = line(json!({ "sub": dora.sub }));
    duplicate_of_eve["credentialId"] = json!(b64(&eves.credentials[0].id));
    let mut rsa_pss = line(json!({ "sub": dora.sub }));
    rsa_pss["publicKey"] = json!(b64(&[0xa2, 0x01, 0x03, 0x03, 0x38, 0x24])); // kty RSA, alg PS256 (-37)
    let mut negative = line(json!({ "sub": dora.sub }));
    negative["signCount"] = json!(-1);
    let mut short_id = line(json!({ "sub": dora.sub }));
    short_id["credentialId"] = json!("AAAA");
    let nobody = line(json!({ "email": "nobody@example.test" }));
    let also_good = line(json!({ "username": dora.username }));
    let body = [
        good.to_string(),
        good.to_string(), // the same id again, in the file
        "{ not json".to_owned(),
        duplicate_of_eve.to_string(),
        rsa_pss.to_string(),
        "".to_owned(), // blank lines are skipped, but counted in the numbering
        negative.to_string(),
        short_id.to_string(),
        nobody.to_string(),
        also_good.to_string(),
    ]
    .join("\n");

    let before = app.stored_credentials().await;
    let dry = app.import(body.clone(), "?dryRun=true").await.expect(200);
    assert_eq!(dry["dryRun"], true);
    assert_eq!(dry["imported"], 2, "{dry}");
    assert_eq!(
        app.stored_credentials().await,
        before,
        "a dry run changes nothing"
    );

    let report = app.import(body.clone(), "").await.expect(200);
    let refused: Vec<(u64, String)> = report["refused"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| {
            (
                r["line"].as_u64().unwrap(),
                r["code"].as_str().unwrap().to_owned(),
            )
        })
        .collect();
    assert_eq!(
        refused,
        [
            (2, "DUPLICATE_IN_FILE".to_owned()),
            (3, "MALFORMED_LINE".to_owned()),
            (4, "CREDENTIAL_CONFLICT".to_owned()),
            (5, "UNSUPPORTED_ALGORITHM".to_owned()),
            (7, "INVALID_SIGN_COUNT".to_owned()),
            (8, "INVALID_CREDENTIAL_ID".to_owned()),
        ],
        "{report}"
    );
    assert!(
        report["refused"][3]["message"]
            .as_str()
            .unwrap()
            .contains("-37"),
        "the reason names the algorithm: {report}"
    );
    assert_eq!(report["usersNotFound"][0]["line"], 9);
    assert_eq!(report["usersNotFound"][0]["code"], "USER_NOT_FOUND");
    assert_eq!(
        (report["imported"].clone(), report["alreadyPresent"].clone()),
        (json!(2), json!(0))
    );
    assert_eq!(app.stored_credentials().await, before + 2);
    // Eve's passkey is untouched.
    app.sign_in(&mut eves).await.expect(200);

    // Again: nothing new, everything reported present.
    let again = app.import(body, "").await.expect(200);
    assert_eq!(
        (again["imported"].clone(), again["alreadyPresent"].clone()),
        (json!(0), json!(2))
    );
    assert_eq!(app.stored_credentials().await, before + 2);

    // With `createMissingUsers`, the unknown email becomes an (unverified) pool user.
    let created = app
        .import(ndjson(&[nobody]), "?createMissingUsers=true")
        .await
        .expect(200);
    assert_eq!(
        (created["imported"].clone(), created["usersCreated"].clone()),
        (json!(1), json!(1))
    );
    let made = p
        .client
        .list_users()
        .user_pool_id(POOL)
        .filter("email = \"nobody@example.test\"")
        .send()
        .await
        .unwrap();
    let attrs = made.users()[0].attributes();
    assert!(
        !attrs
            .iter()
            .any(|a| a.name() == "email_verified" && a.value() == Some("true")),
        "created unverified"
    );

    // Not NDJSON: 415, and nothing read.
    app.send(
        app.http
            .post(app.url("/admin/v1/imports"))
            .bearer_auth(ADMIN_TOKEN)
            .json(&json!({})),
    )
    .await
    .expect_error(415, "UNSUPPORTED_MEDIA_TYPE");
}

#[tokio::test]
async fn export_then_import_into_an_empty_database_restores_every_sign_in() {
    let p = pool("").await;
    let old = spawn_with_pool(&p).await;
    let mut devices = Vec::new();
    for email in ["fay@example.test", "gus@example.test"] {
        let user = pool_user(&p, email).await;
        let mut device = SoftAuthenticator::new();
        old.register(&user, &mut device).await;
        devices.push((user, device));
    }
    // One passkey came from elsewhere, with its own handle.
    let mut imported = SoftAuthenticator::new();
    imported
        .passkey_made_elsewhere(RP_ID, b"vendor-handle", "fay")
        .unwrap();
    old.import(
        ndjson(&[record(&imported, json!({ "sub": devices[0].0.sub }))]),
        "",
    )
    .await
    .expect(200);
    // A revoked passkey is not exported.
    let revoked_user = pool_user(&p, "hal@example.test").await;
    let mut revoked = SoftAuthenticator::new();
    let summary = old.register(&revoked_user, &mut revoked).await;
    old.post(
        &format!(
            "/admin/v1/credentials/{}/revoke",
            summary["id"].as_str().unwrap()
        ),
        Some(ADMIN_TOKEN),
        &json!({}),
    )
    .await
    .expect(200);

    let export = old
        .http
        .get(old.url("/admin/v1/exports"))
        .bearer_auth(ADMIN_TOKEN)
        .send()
        .await
        .unwrap();
    assert_eq!(export.headers()["content-type"], "application/x-ndjson");
    let text = export.text().await.unwrap();
    let lines: Vec<Value> = text
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(lines.len(), 3, "{text}");
    assert!(!text.contains("privateKey") && !text.contains("secret"));
    // One user's only.
    let one = old
        .http
        .get(old.url(&format!("/admin/v1/exports?sub={}", devices[1].0.sub)))
        .bearer_auth(ADMIN_TOKEN)
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert_eq!(one.lines().count(), 1);

    let new = spawn_with_pool(&p).await;
    let report = new.import(text, "").await.expect(200);
    assert_eq!(report["imported"], 3, "{report}");
    for (user, device) in devices.iter_mut() {
        let signed_in = new.sign_in(device).await.expect(200);
        assert_eq!(signed_in["username"], user.username.as_str());
    }
    new.sign_in(&mut imported).await.expect(200);
    new.sign_in(&mut revoked)
        .await
        .expect_error(422, "UNKNOWN_CREDENTIAL");
}

/// A crash mid-file loses nothing: each line is its own transaction, and a re-run
/// imports what is left and reports the rest present.
#[tokio::test]
async fn a_killed_import_continues_where_it_stopped() {
    let app = TestApp::spawn_with(|c| c.max_passkeys_per_user = 1000).await;
    // Users rp-server knows (the CLI here has no pool to ask).
    let users: Vec<User> = (0..3).map(|i| User::new(&format!("u{i}"))).collect();
    for u in &users {
        app.register(u, &mut SoftAuthenticator::new()).await;
    }
    let mut device = SoftAuthenticator::new();
    let total = 1500;
    let mut body = String::new();
    for i in 0..total {
        device
            .passkey_made_elsewhere(RP_ID, b"old", "someone")
            .unwrap();
        body.push_str(&record(&device, json!({ "sub": users[i % 3].sub })).to_string());
        body.push('\n');
    }
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("passkeys.jsonl");
    std::fs::write(&file, &body).unwrap();
    let before = app.stored_credentials().await;

    let mut first = app
        .admin_cli(&["import", file.to_str().unwrap()])
        .env("RP_MAX_PASSKEYS_PER_USER", "1000")
        .stdout(std::process::Stdio::null())
        .spawn()
        .unwrap();
    // Kill it once it has imported some, not all.
    let mut stopped_at = before;
    for _ in 0..2000 {
        stopped_at = app.stored_credentials().await;
        if stopped_at > before + 50 {
            break;
        }
        tokio::task::yield_now().await;
    }
    first.kill().unwrap();
    first.wait().unwrap();
    let stopped_at = app.stored_credentials().await.max(stopped_at);
    assert!(
        stopped_at > before,
        "it imported something before it was killed"
    );
    assert!(stopped_at < before + total as i64, "it was killed mid-file");

    let out = app
        .admin_cli(&["--json", "import", file.to_str().unwrap()])
        .env("RP_MAX_PASSKEYS_PER_USER", "1000")
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let report: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(app.stored_credentials().await, before + total as i64);
    assert_eq!(
        report["imported"].as_i64().unwrap() + report["alreadyPresent"].as_i64().unwrap(),
        total as i64
    );
    assert_eq!(
        report["alreadyPresent"].as_i64().unwrap(),
        stopped_at - before
    );
    // Usernameless sign-in with the last one imported.
    app.sign_in(&mut device).await.expect(200);
}

/// Clients moving users off Cognito's own passkeys report how many are left: the
/// statistics count users who have only those (best effort).
#[tokio::test]
async fn users_with_only_cognito_passkeys_are_counted_from_their_clients_reports() {
    let app = TestApp::spawn().await;
    let stats = || async {
        app.get("/admin/v1/stats", Some(ADMIN_TOKEN))
            .await
            .expect(200)["usersWithOnlyCognitoPasskeys"]
            .as_i64()
            .unwrap()
    };
    let (ann, ben) = (User::new("ann"), User::new("ben"));
    for u in [&ann, &ben] {
        let r = app
            .send(
                app.http
                    .put(app.url("/v1/cognito-passkeys"))
                    .bearer_auth(app.token(u))
                    .json(&json!({ "count": 2 })),
            )
            .await;
        assert_eq!(r.status, 204);
    }
    assert_eq!(stats().await, 2);
    // Ben moved: one of ours, and his client reports none left with Cognito.
    app.register(&ben, &mut SoftAuthenticator::new()).await;
    assert_eq!(stats().await, 1);
    app.send(
        app.http
            .put(app.url("/v1/cognito-passkeys"))
            .bearer_auth(app.token(&ann))
            .json(&json!({ "count": 21 })),
    )
    .await
    .expect_error(400, "INVALID_REQUEST");
    app.send(
        app.http
            .put(app.url("/v1/cognito-passkeys"))
            .json(&json!({ "count": 0 })),
    )
    .await
    .expect_error(401, "UNAUTHENTICATED");
}

/// An import mails no one unless asked: with `notify`, each user hears of the passkey
/// added to their account.
#[tokio::test]
async fn an_import_notifies_users_only_when_asked() {
    let (p, mail) = (
        pool("").await,
        testkit::smtp::Mailbox::start().await.unwrap(),
    );
    let app = crate::email::spawn_with_notices(&p, &mail).await;
    let (quiet, told) = ("quiet@example.test", "told@example.test");
    let mut lines = Vec::new();
    for email in [quiet, told] {
        let (_, sub) = crate::email::pool_user(&p, email, true).await;
        let mut device = SoftAuthenticator::new();
        device.passkey_made_elsewhere(RP_ID, b"old", email).unwrap();
        lines.push(record(&device, json!({ "sub": sub })));
    }
    app.import(ndjson(&lines[..1]), "").await.expect(200);
    app.import(ndjson(&lines[1..]), "?notify=true")
        .await
        .expect(200);
    let notice = mail.wait_for(told, 1).await.unwrap();
    assert!(
        notice.raw.contains("was added to your account"),
        "{}",
        notice.raw
    );
    assert_eq!(mail.count_for(quiet), 0, "no mail without `notify`");
}
