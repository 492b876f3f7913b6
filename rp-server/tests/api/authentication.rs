use serde_json::json;
use sha2::Digest as _;
use testkit::authenticator::SoftAuthenticator;

use crate::harness::{ORIGIN, TestApp, User, altered_at};

#[tokio::test]
async fn usernameless_sign_in_yields_a_nonce_stored_only_as_a_hash() {
    let app = TestApp::spawn().await;
    let alice = User::new("alice@example.test");
    let mut authn = SoftAuthenticator::new();
    app.register(&alice, &mut authn).await;

    let options = app
        .post("/v1/authentication/options", None, &json!({}))
        .await
        .expect(200);
    assert_eq!(options["publicKey"]["allowCredentials"], json!([]));
    assert_eq!(options["publicKey"]["userVerification"], "required");
    let assertion = authn.get(&options["publicKey"], ORIGIN).unwrap();
    let signed_in = app
        .post(
            "/v1/authentication/verify",
            None,
            &json!({ "ceremonyId": options["ceremonyId"], "credential": assertion }),
        )
        .await
        .expect(200);
    assert_eq!(signed_in["username"], alice.username);
    let nonce = signed_in["nonce"].as_str().unwrap();
    assert_eq!(nonce.len(), 43, "256-bit nonce, base64url");
    let expires: chrono::DateTime<chrono::Utc> =
        signed_in["expiresAt"].as_str().unwrap().parse().unwrap();
    assert_eq!((expires - app.clock.now()).num_seconds(), 120);

    let stored: Vec<Vec<u8>> = sqlx::query_scalar("SELECT nonce_hash FROM nonces")
        .fetch_all(&app.state.db)
        .await
        .unwrap();
    assert_eq!(
        stored,
        vec![sha2::Sha256::digest(nonce.as_bytes()).to_vec()]
    );
    let dump: String = sqlx::query_scalar("SELECT string_agg(t::text, '') FROM nonces t")
        .fetch_one(&app.state.db)
        .await
        .unwrap();
    assert!(!dump.contains(nonce));

    // The use is recorded.
    let listed = app
        .get("/v1/credentials", Some(&app.token(&alice)))
        .await
        .expect(200);
    assert!(listed["credentials"][0]["lastUsedAt"].is_string());
    let actions = app.audit_actions().await;
    assert!(actions.contains(&"authentication.succeeded".to_owned()));
}

#[tokio::test]
async fn an_authentication_ceremony_finishes_once_and_expires() {
    let app = TestApp::spawn().await;
    let mut authn = SoftAuthenticator::new();
    app.register(&User::new("u"), &mut authn).await;

    let options = app
        .post("/v1/authentication/options", None, &json!({}))
        .await
        .expect(200);
    let assertion = authn.get(&options["publicKey"], ORIGIN).unwrap();
    let body = json!({ "ceremonyId": options["ceremonyId"], "credential": assertion });
    app.post("/v1/authentication/verify", None, &body)
        .await
        .expect(200);
    app.post("/v1/authentication/verify", None, &body)
        .await
        .expect_error(410, "CEREMONY_NOT_FOUND");

    let options = app
        .post("/v1/authentication/options", None, &json!({}))
        .await
        .expect(200);
    let assertion = authn.get(&options["publicKey"], ORIGIN).unwrap();
    app.clock.advance(std::time::Duration::from_secs(301));
    app.post(
        "/v1/authentication/verify",
        None,
        &json!({ "ceremonyId": options["ceremonyId"], "credential": assertion }),
    )
    .await
    .expect_error(410, "CEREMONY_EXPIRED");
}

/// A usernameless ceremony travels sealed in its id: altering any part of it (to pick
/// another challenge or a later expiry) makes it unknown, and it still finishes once.
#[tokio::test]
async fn a_sealed_ceremony_cannot_be_altered_or_replayed() {
    let app = TestApp::spawn().await;
    let mut authn = SoftAuthenticator::new();
    app.register(&User::new("u"), &mut authn).await;
    let options = app
        .post("/v1/authentication/options", None, &json!({}))
        .await
        .expect(200);
    let sealed = options["ceremonyId"].as_str().unwrap().to_owned();
    let assertion = authn.get(&options["publicKey"], ORIGIN).unwrap();
    for at in [4, sealed.len() / 2, sealed.len() - 2] {
        app.post(
            "/v1/authentication/verify",
            None,
            &json!({ "ceremonyId": altered_at(&sealed, at), "credential": assertion }),
        )
        .await
        .expect_error(410, "CEREMONY_NOT_FOUND");
    }
    // Twenty concurrent finishes of one ceremony: exactly one signs in.
    let body = json!({ "ceremonyId": sealed, "credential": assertion });
    let app = &app;
    let tries = futures::future::join_all(
        (0..20).map(|_| async { app.post("/v1/authentication/verify", None, &body).await }),
    )
    .await;
    assert_eq!(tries.iter().filter(|r| r.status == 200).count(), 1);
    for r in tries.iter().filter(|r| r.status != 200) {
        r.expect_error(410, "CEREMONY_NOT_FOUND");
    }
}

#[tokio::test]
async fn a_counter_going_backwards_is_rejected() {
    let app = TestApp::spawn().await;
    let mut authn = SoftAuthenticator::new();
    let summary = app.register(&User::new("u"), &mut authn).await;
    app.sign_in(&mut authn).await.expect(200);
    app.sign_in(&mut authn).await.expect(200); // counter now 2
    let id = rp_shared::credential_id::decode(summary["id"].as_str().unwrap()).unwrap();
    authn.set_counter(&id, 0); // a clone that has only signed once
    app.sign_in(&mut authn)
        .await
        .expect_error(422, "COUNTER_REGRESSION");
    let count: i64 = sqlx::query_scalar("SELECT sign_count FROM credentials")
        .fetch_one(&app.state.db)
        .await
        .unwrap();
    assert_eq!(count, 2, "the stored counter is not moved back");
    assert!(
        app.audit_actions()
            .await
            .contains(&"authentication.failed".to_owned())
    );
}

#[tokio::test]
async fn concurrent_sign_ins_cannot_race_the_counter_back() {
    let app = TestApp::spawn().await;
    let mut authn = SoftAuthenticator::new();
    app.register(&User::new("u"), &mut authn).await;
    // Two assertions with the same counter value (a cloned key used twice at once).
    let o1 = app
        .post("/v1/authentication/options", None, &json!({}))
        .await
        .expect(200);
    let o2 = app
        .post("/v1/authentication/options", None, &json!({}))
        .await
        .expect(200);
    let a1 = authn.get(&o1["publicKey"], ORIGIN).unwrap();
    let id = authn.credentials[0].id.clone();
    authn.set_counter(&id, 0);
    let a2 = authn.get(&o2["publicKey"], ORIGIN).unwrap();
    let b1 = json!({ "ceremonyId": o1["ceremonyId"], "credential": a1 });
    let b2 = json!({ "ceremonyId": o2["ceremonyId"], "credential": a2 });
    let (r1, r2) = tokio::join!(
        app.post("/v1/authentication/verify", None, &b1),
        app.post("/v1/authentication/verify", None, &b2),
    );
    let ok = [r1.status, r2.status].iter().filter(|s| **s == 200).count();
    assert_eq!(
        ok, 1,
        "exactly one of two same-counter assertions succeeds: {} / {}",
        r1.body, r2.body
    );
}

#[tokio::test]
async fn synced_passkeys_without_a_counter_keep_working() {
    let app = TestApp::spawn().await;
    let mut authn = SoftAuthenticator::new();
    authn.behaviour.counting = false;
    app.register(&User::new("u"), &mut authn).await;
    app.sign_in(&mut authn).await.expect(200);
    app.sign_in(&mut authn).await.expect(200);
}

#[tokio::test]
async fn backup_eligibility_cannot_change() {
    let app = TestApp::spawn().await;
    let mut authn = SoftAuthenticator::new();
    authn.behaviour.backup_eligible = false;
    authn.behaviour.backup_state = false;
    app.register(&User::new("u"), &mut authn).await;
    authn.behaviour.backup_eligible = true;
    app.sign_in(&mut authn)
        .await
        .expect_error(422, "BACKUP_FLAGS_INCONSISTENT");
}

#[tokio::test]
async fn origin_and_user_verification_are_enforced() {
    let app = TestApp::spawn().await;
    let mut authn = SoftAuthenticator::new();
    app.register(&User::new("u"), &mut authn).await;

    let options = app
        .post("/v1/authentication/options", None, &json!({}))
        .await
        .expect(200);
    let assertion = authn
        .get(&options["publicKey"], "https://app.example.test.evil.test")
        .unwrap();
    app.post(
        "/v1/authentication/verify",
        None,
        &json!({ "ceremonyId": options["ceremonyId"], "credential": assertion }),
    )
    .await
    .expect_error(422, "ORIGIN_NOT_ALLOWED");

    authn.behaviour.user_verified = false;
    app.sign_in(&mut authn)
        .await
        .expect_error(422, "USER_VERIFICATION_REQUIRED");
}

#[tokio::test]
async fn the_user_handle_must_match_the_passkeys_owner() {
    let app = TestApp::spawn().await;
    let mut authn = SoftAuthenticator::new();
    app.register(&User::new("victim"), &mut authn).await;
    let mut other = SoftAuthenticator::new();
    app.register(&User::new("attacker"), &mut other).await;
    // The attacker's authenticator claims the victim's user handle: refused, and
    // answered exactly as a passkey this server never saw (status, code, message and
    // details but the id), so the answer does not tell that the id exists.
    other.credentials[0].user_handle = authn.credentials[0].user_handle.clone();
    let mismatch = app.sign_in(&mut other).await;
    mismatch.expect_error(422, "UNKNOWN_CREDENTIAL");
    let mut stranger = SoftAuthenticator::new();
    TestApp::spawn()
        .await
        .register(&User::new("elsewhere"), &mut stranger)
        .await;
    let unknown = app.sign_in(&mut stranger).await;
    let without_id = |r: &testkit::rp::Response| {
        let mut body = r.body.clone();
        body["error"]["details"]["credentialId"] = serde_json::Value::Null;
        (r.status, body)
    };
    assert_eq!(without_id(&mismatch), without_id(&unknown));
    // Without a user handle a usernameless sign-in cannot name the user.
    let mut silent = SoftAuthenticator::new();
    app.register(&User::new("silent"), &mut silent).await;
    silent.behaviour.return_user_handle = false;
    app.sign_in(&mut silent)
        .await
        .expect_error(422, "UNKNOWN_CREDENTIAL");
}

#[tokio::test]
async fn an_unknown_credential_is_refused() {
    let app = TestApp::spawn().await;
    let mut stranger = SoftAuthenticator::new();
    // Registered elsewhere (another RP deployment with the same RP ID), never here.
    let other = TestApp::spawn().await;
    other.register(&User::new("x"), &mut stranger).await;
    app.sign_in(&mut stranger)
        .await
        .expect_error(422, "UNKNOWN_CREDENTIAL");
}

#[tokio::test]
async fn a_signature_from_another_key_fails() {
    let app = TestApp::spawn().await;
    let mut authn = SoftAuthenticator::new();
    app.register(&User::new("u"), &mut authn).await;
    // Same credential id and user handle, different private key.
    let mut forger = SoftAuthenticator::new();
    forger.reuse_credential_id = Some(authn.credentials[0].id.clone());
    let other = TestApp::spawn().await;
    other.register(&User::new("u"), &mut forger).await;
    forger.credentials[0].user_handle = authn.credentials[0].user_handle.clone();
    forger.credentials[0].counter = 100;
    app.sign_in(&mut forger)
        .await
        .expect_error(422, "VERIFICATION_FAILED");
}
