use serde_json::json;
use testkit::authenticator::SoftAuthenticator;

use crate::harness::{ORIGIN, RP_ID, TestApp, User};

#[tokio::test]
async fn registers_a_discoverable_user_verified_passkey() {
    let app = TestApp::spawn().await;
    let alice = User::new("alice@example.test");
    let token = app.token(&alice);
    let options = app
        .post("/v1/registration/options", Some(&token), &json!({}))
        .await
        .expect(200);
    let pk = &options["publicKey"];
    assert_eq!(pk["rp"]["id"], RP_ID);
    assert_eq!(pk["authenticatorSelection"]["residentKey"], "required");
    assert_eq!(pk["authenticatorSelection"]["requireResidentKey"], true);
    assert_eq!(pk["authenticatorSelection"]["userVerification"], "required");
    assert_eq!(pk["attestation"], "none");
    // The user handle is our random id, never the username or sub.
    let handle = pk["user"]["id"].as_str().unwrap();
    assert!(!handle.is_empty());
    assert_ne!(handle, alice.username);
    let stored: uuid::Uuid = sqlx::query_scalar("SELECT id FROM users WHERE cognito_sub = $1")
        .bind(&alice.sub)
        .fetch_one(&app.state.db)
        .await
        .unwrap();
    assert_eq!(
        rp_shared::credential_id::decode(handle).unwrap(),
        stored.as_bytes()
    );

    let mut authn = SoftAuthenticator::new();
    let credential = authn.create(pk, ORIGIN).unwrap();
    let summary = app
        .post(
            "/v1/registration/verify",
            Some(&token),
            &json!({ "ceremonyId": options["ceremonyId"], "credential": credential, "nickname": "Phone" }),
        )
        .await
        .expect(201);
    assert_eq!(summary["id"], credential["id"]);
    assert_eq!(summary["nickname"], "Phone");
    assert_eq!(summary["backupEligible"], true);
    assert_eq!(summary["backupState"], true);
    assert_eq!(summary["transports"], json!(["hybrid", "internal"]));
    assert_eq!(
        summary["aaguid"],
        uuid::Uuid::from_bytes(authn.aaguid).to_string()
    );
    assert!(summary["lastUsedAt"].is_null());

    // A second registration excludes the first passkey.
    let again = app
        .post("/v1/registration/options", Some(&token), &json!({}))
        .await
        .expect(200);
    assert_eq!(
        again["publicKey"]["excludeCredentials"][0]["id"],
        credential["id"]
    );
    assert!(authn.create(&again["publicKey"], ORIGIN).is_err());

    assert!(
        app.audit_actions()
            .await
            .contains(&"credential.registered".to_owned())
    );
}

#[tokio::test]
async fn a_ceremony_finishes_once() {
    let app = TestApp::spawn().await;
    let bob = User::new("bob");
    let token = app.token(&bob);
    let options = app
        .post("/v1/registration/options", Some(&token), &json!({}))
        .await
        .expect(200);
    let mut authn = SoftAuthenticator::new();
    let credential = authn.create(&options["publicKey"], ORIGIN).unwrap();
    let body = json!({ "ceremonyId": options["ceremonyId"], "credential": credential });
    app.post("/v1/registration/verify", Some(&token), &body)
        .await
        .expect(201);
    app.post("/v1/registration/verify", Some(&token), &body)
        .await
        .expect_error(410, "CEREMONY_NOT_FOUND");
}

#[tokio::test]
async fn a_failed_finish_still_consumes_the_ceremony() {
    let app = TestApp::spawn().await;
    let bob = User::new("bob");
    let token = app.token(&bob);
    let options = app
        .post("/v1/registration/options", Some(&token), &json!({}))
        .await
        .expect(200);
    let mut authn = SoftAuthenticator::new();
    let bad = authn
        .create(&options["publicKey"], "https://evil.test")
        .unwrap();
    app.post(
        "/v1/registration/verify",
        Some(&token),
        &json!({ "ceremonyId": options["ceremonyId"], "credential": bad }),
    )
    .await
    .expect_error(422, "ORIGIN_NOT_ALLOWED");
    let good = authn.create(&options["publicKey"], ORIGIN).unwrap();
    app.post(
        "/v1/registration/verify",
        Some(&token),
        &json!({ "ceremonyId": options["ceremonyId"], "credential": good }),
    )
    .await
    .expect_error(410, "CEREMONY_NOT_FOUND");
}

#[tokio::test]
async fn an_expired_ceremony_is_refused() {
    let app = TestApp::spawn().await;
    let carol = User::new("carol");
    let token = app.token(&carol);
    let options = app
        .post("/v1/registration/options", Some(&token), &json!({}))
        .await
        .expect(200);
    let mut authn = SoftAuthenticator::new();
    let credential = authn.create(&options["publicKey"], ORIGIN).unwrap();
    app.clock.advance(std::time::Duration::from_secs(301));
    app.post(
        "/v1/registration/verify",
        Some(&token),
        &json!({ "ceremonyId": options["ceremonyId"], "credential": credential }),
    )
    .await
    .expect_error(410, "CEREMONY_EXPIRED");
}

#[tokio::test]
async fn another_user_cannot_finish_my_ceremony() {
    let app = TestApp::spawn().await;
    let (victim, attacker) = (User::new("victim"), User::new("attacker"));
    let options = app
        .post(
            "/v1/registration/options",
            Some(&app.token(&victim)),
            &json!({}),
        )
        .await
        .expect(200);
    // The attacker has a user row of their own too.
    app.post(
        "/v1/registration/options",
        Some(&app.token(&attacker)),
        &json!({}),
    )
    .await
    .expect(200);
    let mut authn = SoftAuthenticator::new();
    let credential = authn.create(&options["publicKey"], ORIGIN).unwrap();
    app.post(
        "/v1/registration/verify",
        Some(&app.token(&attacker)),
        &json!({ "ceremonyId": options["ceremonyId"], "credential": credential }),
    )
    .await
    .expect_error(410, "CEREMONY_NOT_FOUND");
    // ...and the victim's ceremony is intact.
    app.post(
        "/v1/registration/verify",
        Some(&app.token(&victim)),
        &json!({ "ceremonyId": options["ceremonyId"], "credential": credential }),
    )
    .await
    .expect(201);
}

#[tokio::test]
async fn user_verification_is_required() {
    let app = TestApp::spawn().await;
    let dave = User::new("dave");
    let token = app.token(&dave);
    let options = app
        .post("/v1/registration/options", Some(&token), &json!({}))
        .await
        .expect(200);
    let mut authn = SoftAuthenticator::new();
    authn.behaviour.user_verified = false;
    let credential = authn.create(&options["publicKey"], ORIGIN).unwrap();
    app.post(
        "/v1/registration/verify",
        Some(&token),
        &json!({ "ceremonyId": options["ceremonyId"], "credential": credential }),
    )
    .await
    .expect_error(422, "USER_VERIFICATION_REQUIRED");
}

#[tokio::test]
async fn android_app_origins_from_the_allow_list_work() {
    let app = TestApp::spawn().await;
    let erin = User::new("erin");
    let token = app.token(&erin);
    let options = app
        .post("/v1/registration/options", Some(&token), &json!({}))
        .await
        .expect(200);
    let mut authn = SoftAuthenticator::new();
    let credential = authn
        .create(&options["publicKey"], "android:apk-key-hash:test_hash-1")
        .unwrap();
    app.post(
        "/v1/registration/verify",
        Some(&token),
        &json!({ "ceremonyId": options["ceremonyId"], "credential": credential }),
    )
    .await
    .expect(201);
    let options = app
        .post("/v1/registration/options", Some(&token), &json!({}))
        .await
        .expect(200);
    let mut other = SoftAuthenticator::new();
    let credential = other
        .create(&options["publicKey"], "android:apk-key-hash:someone_else")
        .unwrap();
    app.post(
        "/v1/registration/verify",
        Some(&token),
        &json!({ "ceremonyId": options["ceremonyId"], "credential": credential }),
    )
    .await
    .expect_error(422, "ORIGIN_NOT_ALLOWED");
}

#[tokio::test]
async fn the_same_credential_cannot_be_registered_twice() {
    let app = TestApp::spawn().await;
    let (a, b) = (User::new("a"), User::new("b"));
    let first = app.register(&a, &mut SoftAuthenticator::new()).await;
    // An authenticator that answers b's ceremony with a's credential id.
    let options = app
        .post("/v1/registration/options", Some(&app.token(&b)), &json!({}))
        .await
        .expect(200);
    let mut reusing = SoftAuthenticator::new();
    reusing.reuse_credential_id = rp_shared::credential_id::decode(first["id"].as_str().unwrap());
    let dup = reusing.create(&options["publicKey"], ORIGIN).unwrap();
    app.post(
        "/v1/registration/verify",
        Some(&app.token(&b)),
        &json!({ "ceremonyId": options["ceremonyId"], "credential": dup }),
    )
    .await
    .expect_error(409, "CREDENTIAL_EXISTS");
    let owner: String =
        sqlx::query_scalar("SELECT u.username FROM credentials c JOIN users u ON u.id = c.user_id")
            .fetch_one(&app.state.db)
            .await
            .unwrap();
    assert_eq!(owner, "a");
}

/// At most `RP_MAX_PASSKEYS_PER_USER` active passkeys: one more is refused when its
/// ceremony starts, and ceremonies started in parallel below the limit cannot all finish
/// past it. Deleting (or an admin revoking) one makes room.
#[tokio::test]
async fn an_account_has_at_most_max_passkeys() {
    let app = TestApp::spawn_with(|c| c.max_passkeys_per_user = 2).await;
    let gus = User::new("gus@example.test");
    let token = app.token(&gus);
    let first = app.register(&gus, &mut SoftAuthenticator::new()).await;

    // Two ceremonies begun with one place left: only one finishes.
    let mut started = Vec::new();
    for _ in 0..2 {
        let options = app
            .post("/v1/registration/options", Some(&token), &json!({}))
            .await
            .expect(200);
        let credential = SoftAuthenticator::new()
            .create(&options["publicKey"], ORIGIN)
            .unwrap();
        started.push(json!({ "ceremonyId": options["ceremonyId"], "credential": credential }));
    }
    let finished = futures::future::join_all(
        started
            .iter()
            .map(|body| app.post("/v1/registration/verify", Some(&token), body)),
    )
    .await;
    let mut statuses: Vec<u16> = finished.iter().map(|r| r.status).collect();
    statuses.sort();
    assert_eq!(statuses, [201, 409]);
    let refused = finished.iter().find(|r| r.status == 409).unwrap();
    refused.expect_error(409, "TOO_MANY_PASSKEYS");
    assert_eq!(refused.body["error"]["details"]["max"], 2);

    // Full: refused before a ceremony starts.
    app.post("/v1/registration/options", Some(&token), &json!({}))
        .await
        .expect_error(409, "TOO_MANY_PASSKEYS");

    // An admin can still revoke one; then there is room again.
    app.send(
        app.http
            .post(app.url(&format!(
                "/admin/v1/credentials/{}/revoke",
                first["id"].as_str().unwrap()
            )))
            .bearer_auth(crate::harness::ADMIN_TOKEN)
            .json(&json!({})),
    )
    .await
    .expect(200);
    app.register(&gus, &mut SoftAuthenticator::new()).await;
}
