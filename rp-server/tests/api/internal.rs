use serde_json::{Value, json};
use testkit::authenticator::SoftAuthenticator;

use crate::harness::{ADMIN_TOKEN, ORIGIN, SERVICE_TOKEN, TestApp, User, altered_at};

/// Username-first: the trigger's challenge → assertion → nonce.
async fn username_first(
    app: &TestApp,
    user: &User,
    authn: &mut SoftAuthenticator,
) -> (Value, String) {
    let challenge = app.challenge(user).await;
    let signed_in = app.answer(&challenge, authn, ORIGIN).await.expect(200);
    (challenge, signed_in["nonce"].as_str().unwrap().to_owned())
}

async fn passkey_first_nonce(app: &TestApp, authn: &mut SoftAuthenticator) -> String {
    let signed_in = app.sign_in(authn).await.expect(200);
    signed_in["nonce"].as_str().unwrap().to_owned()
}

#[tokio::test]
async fn internal_endpoints_require_the_service_token() {
    let app = TestApp::spawn().await;
    let body = json!({ "nonce": "x", "userSub": "s", "challengeId": uuid::Uuid::new_v4() });
    for token in [
        None,
        Some("wrong"),
        Some(ADMIN_TOKEN),
        Some(&SERVICE_TOKEN[..SERVICE_TOKEN.len() - 1]),
    ] {
        app.post("/internal/v1/nonces/redeem", token, &body)
            .await
            .expect_error(401, "UNAUTHENTICATED");
        app.post(
            "/internal/v1/challenges",
            token,
            &json!({ "userPoolId": "p", "clientId": "c", "userSub": "s", "username": "u" }),
        )
        .await
        .expect_error(401, "UNAUTHENTICATED");
    }
}

#[tokio::test]
async fn username_first_sign_in_redeems_once_per_challenge() {
    let app = TestApp::spawn().await;
    let alice = User::new("alice");
    let mut authn = SoftAuthenticator::new();
    let summary = app.register(&alice, &mut authn).await;

    let challenge = app.challenge(&alice).await;
    let allowed = challenge["publicKey"]["allowCredentials"]
        .as_array()
        .unwrap();
    assert_eq!(allowed.len(), 1);
    assert_eq!(allowed[0]["id"], summary["id"]);
    let (challenge, nonce) = username_first(&app, &alice, &mut authn).await;

    let ok = app
        .redeem(&nonce, &alice.sub, &challenge["challengeId"])
        .await;
    assert_eq!(ok["valid"], true);
    assert_eq!(ok["credentialId"], summary["id"]);
    // Cognito retrying the same Verify call: still valid.
    let retry = app
        .redeem(&nonce, &alice.sub, &challenge["challengeId"])
        .await;
    assert_eq!(retry["valid"], true);
    // Any other challenge, even one issued to alice: spent.
    let other = app.challenge(&alice).await;
    let replay = app.redeem(&nonce, &alice.sub, &other["challengeId"]).await;
    assert_eq!(replay, json!({ "valid": false, "reason": "already_used" }));

    let actions = app.audit_actions().await;
    for a in [
        "challenge.issued",
        "authentication.succeeded",
        "nonce.redeemed",
        "nonce.redeem_failed",
    ] {
        assert!(
            actions.contains(&a.to_owned()),
            "{a} missing from {actions:?}"
        );
    }
    assert_eq!(actions.iter().filter(|a| *a == "nonce.redeemed").count(), 1);
}

#[tokio::test]
async fn a_username_first_nonce_is_bound_to_its_challenge() {
    let app = TestApp::spawn().await;
    let alice = User::new("alice");
    let mut authn = SoftAuthenticator::new();
    app.register(&alice, &mut authn).await;
    let (_challenge, nonce) = username_first(&app, &alice, &mut authn).await;
    let second = app.challenge(&alice).await;
    let r = app.redeem(&nonce, &alice.sub, &second["challengeId"]).await;
    assert_eq!(r, json!({ "valid": false, "reason": "wrong_challenge" }));
}

#[tokio::test]
async fn a_passkey_first_nonce_redeems_with_the_next_challenge() {
    let app = TestApp::spawn().await;
    let alice = User::new("alice");
    let mut authn = SoftAuthenticator::new();
    app.register(&alice, &mut authn).await;
    let nonce = app.sign_in(&mut authn).await.expect(200)["nonce"]
        .as_str()
        .unwrap()
        .to_owned();
    let challenge = app.challenge(&alice).await;
    assert_eq!(
        app.redeem(&nonce, &alice.sub, &challenge["challengeId"])
            .await["valid"],
        true
    );
}

#[tokio::test]
async fn a_nonce_never_signs_in_another_user() {
    let app = TestApp::spawn().await;
    let (alice, mallory) = (User::new("alice"), User::new("mallory"));
    let mut a = SoftAuthenticator::new();
    let mut m = SoftAuthenticator::new();
    app.register(&alice, &mut a).await;
    app.register(&mallory, &mut m).await;
    let alices_nonce = app.sign_in(&mut a).await.expect(200)["nonce"]
        .as_str()
        .unwrap()
        .to_owned();
    // Mallory's own challenge, alice's nonce.
    let challenge = app.challenge(&mallory).await;
    let r = app
        .redeem(&alices_nonce, &mallory.sub, &challenge["challengeId"])
        .await;
    assert_eq!(r, json!({ "valid": false, "reason": "wrong_user" }));
    // Alice's challenge id claimed for mallory's sub.
    let alices_challenge = app.challenge(&alice).await;
    let r = app
        .redeem(
            &alices_nonce,
            &mallory.sub,
            &alices_challenge["challengeId"],
        )
        .await;
    assert_eq!(r["valid"], false);
    // The nonce is untouched and still works for alice.
    assert_eq!(
        app.redeem(&alices_nonce, &alice.sub, &alices_challenge["challengeId"])
            .await["valid"],
        true
    );
}

#[tokio::test]
async fn expired_unknown_and_malformed_nonces_fail() {
    let app = TestApp::spawn().await;
    let alice = User::new("alice");
    let mut authn = SoftAuthenticator::new();
    app.register(&alice, &mut authn).await;
    let nonce = app.sign_in(&mut authn).await.expect(200)["nonce"]
        .as_str()
        .unwrap()
        .to_owned();
    let challenge = app.challenge(&alice).await;

    let unknown = rp_shared::nonce::Nonce::generate();
    let r = app
        .redeem(unknown.expose(), &alice.sub, &challenge["challengeId"])
        .await;
    assert_eq!(r, json!({ "valid": false, "reason": "unknown" }));
    let r = app
        .redeem("garbage", &alice.sub, &challenge["challengeId"])
        .await;
    assert_eq!(r, json!({ "valid": false, "reason": "unknown" }));
    let r = app
        .redeem(&nonce, &alice.sub, &json!(uuid::Uuid::new_v4()))
        .await;
    assert_eq!(r, json!({ "valid": false, "reason": "wrong_challenge" }));

    app.clock.advance(std::time::Duration::from_secs(121));
    let r = app
        .redeem(&nonce, &alice.sub, &challenge["challengeId"])
        .await;
    assert_eq!(r, json!({ "valid": false, "reason": "expired" }));
}

#[tokio::test]
async fn fifty_concurrent_redemptions_of_one_nonce_succeed_once() {
    let app = TestApp::spawn().await;
    let alice = User::new("alice");
    let mut authn = SoftAuthenticator::new();
    app.register(&alice, &mut authn).await;
    let nonce = app.sign_in(&mut authn).await.expect(200)["nonce"]
        .as_str()
        .unwrap()
        .to_owned();
    let mut challenges = Vec::new();
    for _ in 0..50 {
        challenges.push(app.challenge(&alice).await["challengeId"].clone());
    }
    let results =
        futures::future::join_all(challenges.iter().map(|c| app.redeem(&nonce, &alice.sub, c)))
            .await;
    let valid: Vec<_> = results.iter().filter(|r| r["valid"] == true).collect();
    assert_eq!(valid.len(), 1, "{results:?}");
    assert!(
        results
            .iter()
            .filter(|r| r["valid"] == false)
            .all(|r| r["reason"] == "already_used")
    );

    // 50 concurrent retries of the winning challenge are all idempotently valid.
    let winner = challenges
        .iter()
        .zip(&results)
        .find(|(_, r)| r["valid"] == true)
        .map(|(c, _)| c.clone())
        .unwrap();
    let retries =
        futures::future::join_all((0..50).map(|_| app.redeem(&nonce, &alice.sub, &winner))).await;
    assert!(retries.iter().all(|r| r["valid"] == true));
    let redeemed: i64 =
        sqlx::query_scalar("SELECT count(*) FROM audit_events WHERE action = 'nonce.redeemed'")
            .fetch_one(&app.state.db)
            .await
            .unwrap();
    assert_eq!(redeemed, 1);
}

/// Strangers who know a username can send wrong answers to its custom challenge all
/// day; that must never lock the owner out: a valid nonce always redeems. The failures
/// stay visible (audited and counted).
#[tokio::test]
async fn failed_redemptions_never_lock_out_the_owner() {
    let app = TestApp::spawn().await;
    let alice = User::new("alice");
    let mut authn = SoftAuthenticator::new();
    app.register(&alice, &mut authn).await;
    let challenge = app.challenge(&alice).await;
    for _ in 0..25 {
        let guess = rp_shared::nonce::Nonce::generate();
        assert_eq!(
            app.redeem(guess.expose(), &alice.sub, &challenge["challengeId"])
                .await["reason"],
            "unknown"
        );
    }
    let nonce = app.sign_in(&mut authn).await.expect(200)["nonce"]
        .as_str()
        .unwrap()
        .to_owned();
    let r = app
        .redeem(&nonce, &alice.sub, &challenge["challengeId"])
        .await;
    assert_eq!(r["valid"], true, "{r}");
    let failed: i64 = sqlx::query_scalar(
        "SELECT count(*) FROM audit_events WHERE action = 'nonce.redeem_failed' AND cognito_sub = $1",
    )
    .bind(&alice.sub)
    .fetch_one(&app.state.db)
    .await
    .unwrap();
    assert_eq!(failed, 25);
    let metrics = app.get("/metrics", None).await;
    assert!(
        metrics
            .body
            .as_str()
            .unwrap_or_default()
            .contains("rp_nonce_redemptions_total{site=\"default\",outcome=\"unknown\"}"),
        "{}",
        metrics.body
    );
}

#[tokio::test]
async fn unknown_users_get_stable_plausible_options() {
    let app = TestApp::spawn().await;
    let alice = User::new("alice");
    let mut authn = SoftAuthenticator::new();
    app.register(&alice, &mut authn).await;
    let real = app.challenge(&alice).await;

    let app = &app;
    let ask = |username: &str, sub: &str, not_found: bool| {
        let body = json!({
            "userPoolId": testkit::idp::POOL_ID,
            "clientId": app.idp.client_id,
            "userSub": sub,
            "username": username,
            "userNotFound": not_found,
        });
        async move {
            app.post("/internal/v1/challenges", Some(SERVICE_TOKEN), &body)
                .await
                .expect(200)
        }
    };
    let ghost1 = ask("ghost@example.test", "", true).await;
    let ghost2 = ask("ghost@example.test", "", true).await;
    let other = ask("other@example.test", "", true).await;
    // A real Cognito user who has no passkey looks the same as one who does not exist.
    let nopasskey = ask("nopasskey", &uuid::Uuid::new_v4().to_string(), false).await;

    let ids = |v: &Value| -> Vec<Value> {
        v["publicKey"]["allowCredentials"]
            .as_array()
            .unwrap()
            .iter()
            .map(|c| c["id"].clone())
            .collect()
    };
    assert!(!ids(&ghost1).is_empty());
    assert_eq!(ids(&ghost1), ids(&ghost2), "stable per username");
    assert_ne!(ids(&ghost1), ids(&other));
    assert!(!ids(&nopasskey).is_empty());
    assert_ne!(
        ghost1["publicKey"]["challenge"],
        ghost2["publicKey"]["challenge"]
    );
    // Same shape as a real user's options.
    let keys = |v: &Value| -> Vec<String> {
        let mut k: Vec<String> = v["publicKey"]
            .as_object()
            .unwrap()
            .keys()
            .cloned()
            .collect();
        k.sort();
        k
    };
    assert_eq!(keys(&ghost1), keys(&real));
    assert_eq!(
        ghost1["publicKey"]["allowCredentials"][0]
            .as_object()
            .unwrap()
            .keys()
            .collect::<Vec<_>>(),
        real["publicKey"]["allowCredentials"][0]
            .as_object()
            .unwrap()
            .keys()
            .collect::<Vec<_>>()
    );
    // Answering a fake challenge with a real passkey fails like any wrong passkey.
    let assertion = authn
        .assert_with(
            &authn.credentials[0].id.clone(),
            &ghost1["publicKey"],
            ORIGIN,
        )
        .unwrap();
    app.post(
        "/v1/authentication/verify",
        None,
        &json!({ "ceremonyId": ghost1["ceremonyId"], "credential": assertion }),
    )
    .await
    .expect_error(422, "VERIFICATION_FAILED");
}

#[tokio::test]
async fn a_challenge_only_accepts_its_users_passkeys() {
    let app = TestApp::spawn().await;
    let (alice, bob) = (User::new("alice"), User::new("bob"));
    let mut a = SoftAuthenticator::new();
    let mut b = SoftAuthenticator::new();
    app.register(&alice, &mut a).await;
    app.register(&bob, &mut b).await;
    let challenge = app.challenge(&alice).await;
    let assertion = b
        .assert_with(
            &b.credentials[0].id.clone(),
            &challenge["publicKey"],
            ORIGIN,
        )
        .unwrap();
    app.post(
        "/v1/authentication/verify",
        None,
        &json!({ "ceremonyId": challenge["ceremonyId"], "credential": assertion }),
    )
    .await
    .expect_error(422, "VERIFICATION_FAILED");
}

/// Whoever knows a username can start its custom challenge; what the challenge answers
/// to a wrong assertion must not tell whether the user exists or has passkeys: an id
/// from fake options, another user's passkey and a real passkey id with a bad signature
/// all answer the same status, code and message (their timing: `scripts/bench`).
#[tokio::test]
async fn a_challenge_answers_alike_whoever_the_user_is() {
    let app = TestApp::spawn().await;
    let (alice, bob) = (User::new("alice"), User::new("bob"));
    let mut a = SoftAuthenticator::new();
    let mut b = SoftAuthenticator::new();
    app.register(&alice, &mut a).await;
    app.register(&bob, &mut b).await;
    let ghost = User::new("ghost");

    // An attacker's authenticator holding a key of its own under a chosen credential id.
    let forge = |id: Vec<u8>| {
        let mut m = SoftAuthenticator::new();
        m.reuse_credential_id = Some(id);
        m
    };
    let registration = app
        .post(
            "/v1/registration/options",
            Some(&app.token(&User::new("mallory"))),
            &json!({}),
        )
        .await
        .expect(200);
    let attempt = |challenge: Value, authn: &mut SoftAuthenticator, id: Vec<u8>| {
        let assertion = authn
            .assert_with(&id, &challenge["publicKey"], ORIGIN)
            .unwrap();
        json!({ "ceremonyId": challenge["ceremonyId"], "credential": assertion })
    };
    let alice_id = a.credentials[0].id.clone();
    let mut bad_signature = forge(alice_id.clone());
    bad_signature
        .create(&registration["publicKey"], ORIGIN)
        .unwrap();
    let ghost_options = app.challenge(&ghost).await;
    let ghost_id = rp_shared::credential_id::decode(
        ghost_options["publicKey"]["allowCredentials"][0]["id"]
            .as_str()
            .unwrap(),
    )
    .unwrap();
    let mut fake_holder = forge(ghost_id.clone());
    fake_holder
        .create(&registration["publicKey"], ORIGIN)
        .unwrap();

    let mut answers = Vec::new();
    for _ in 0..9 {
        let body = attempt(
            app.challenge(&alice).await,
            &mut bad_signature,
            alice_id.clone(),
        );
        answers.push(app.post("/v1/authentication/verify", None, &body).await);

        let body = attempt(
            app.challenge(&ghost).await,
            &mut fake_holder,
            ghost_id.clone(),
        );
        answers.push(app.post("/v1/authentication/verify", None, &body).await);
    }
    let b_id = b.credentials[0].id.clone();
    let body = attempt(app.challenge(&alice).await, &mut b, b_id);
    answers.push(app.post("/v1/authentication/verify", None, &body).await);
    for r in &answers {
        r.expect_error(422, "VERIFICATION_FAILED");
        assert_eq!(r.body, answers[0].body);
    }
    // How long each answer takes is measured by `scripts/bench` (its enumeration
    // report), not here: a timed test on a loaded machine fails for the wrong reason.
}

/// The Create trigger's ceremony travels in its id, concealed (decision 0024): nothing is
/// stored for it (a passkey-first sign-in never answers it), its id is as long for a
/// user with passkeys as for one without and for an unknown one and shows nothing of who
/// they are, and it still finishes once, unaltered.
#[tokio::test]
async fn a_trigger_ceremony_is_concealed_in_its_id_and_finishes_once() {
    use base64::Engine as _;
    let app = TestApp::spawn().await;
    let alice = User::new("alice");
    let mut authn = SoftAuthenticator::new();
    app.register(&alice, &mut authn).await;
    let alice_id: uuid::Uuid = sqlx::query_scalar("SELECT id FROM users WHERE cognito_sub = $1")
        .bind(&alice.sub)
        .fetch_one(&app.state.db)
        .await
        .unwrap();
    let nopasskey = User::new("nopasskey");
    let ghost = app
        .post(
            "/internal/v1/challenges",
            Some(SERVICE_TOKEN),
            &json!({
                "userPoolId": testkit::idp::POOL_ID,
                "clientId": app.idp.client_id,
                "username": "ghost@example.test",
                "userNotFound": true,
            }),
        )
        .await
        .expect(200);
    let real = app.challenge(&alice).await;
    let without = app.challenge(&nopasskey).await;

    assert_eq!(
        app.count("ceremonies").await,
        0,
        "a trigger's ceremony is not stored"
    );
    let id = |c: &Value| c["ceremonyId"].as_str().unwrap().to_owned();
    for c in [&real, &without, &ghost] {
        assert!(id(c).starts_with("c1."), "{}", id(c));
        assert_eq!(id(c).len(), id(&real).len(), "alike in length");
        let bytes = base64::engine::general_purpose::URL_SAFE_NO_PAD
            .decode(&id(c)[3..])
            .unwrap();
        for needle in [
            alice.sub.as_bytes(),
            nopasskey.sub.as_bytes(),
            alice_id.as_bytes(),
        ] {
            assert!(!bytes.windows(needle.len()).any(|w| w == needle));
        }
    }

    // Altered anywhere: not a ceremony. Answered: once.
    let assertion = authn.get(&real["publicKey"], ORIGIN).unwrap();
    let sealed = id(&real);
    for at in [4, sealed.len() / 2, sealed.len() - 2] {
        app.post(
            "/v1/authentication/verify",
            None,
            &json!({ "ceremonyId": altered_at(&sealed, at), "credential": assertion }),
        )
        .await
        .expect_error(410, "CEREMONY_NOT_FOUND");
    }
    let signed_in = app.answer(&real, &mut authn, ORIGIN).await.expect(200);
    let ok = app
        .redeem(
            signed_in["nonce"].as_str().unwrap(),
            &alice.sub,
            &real["challengeId"],
        )
        .await;
    assert_eq!(ok["valid"], true);
    app.answer(&real, &mut authn, ORIGIN)
        .await
        .expect_error(410, "CEREMONY_NOT_FOUND");
}

/// The Create trigger's challenge travels in its id, sealed (decision 0024): nothing is
/// stored, and a nonce redeems only with a challenge this site issued to the nonce's
/// user that has not expired — not an altered one, not another user's, not another
/// sealed thing of this site, not a made-up id, not one past its lifetime.
#[tokio::test]
async fn a_trigger_challenge_is_sealed_to_its_user_and_lifetime() {
    let app = TestApp::spawn().await;
    let (alice, bob) = (User::new("alice"), User::new("bob"));
    let mut authn = SoftAuthenticator::new();
    app.register(&alice, &mut authn).await;
    let first = passkey_first_nonce(&app, &mut authn).await;
    let challenge = app.challenge(&alice).await;
    assert_eq!(
        app.count("challenges").await,
        0,
        "a challenge is not stored"
    );
    let sealed = challenge["challengeId"].as_str().unwrap().to_owned();
    assert!(sealed.starts_with("h1."), "{sealed}");

    let usernameless = app
        .post("/v1/authentication/options", None, &json!({}))
        .await
        .expect(200)["ceremonyId"]
        .clone();
    for wrong in [
        json!(altered_at(&sealed, sealed.len() / 2)),
        app.challenge(&bob).await["challengeId"].clone(),
        usernameless,
        challenge["ceremonyId"].clone(),
        json!(sealed.replacen("h1.", "s1.", 1)),
        json!(uuid::Uuid::new_v4()),
    ] {
        assert_eq!(
            app.redeem(&first, &alice.sub, &wrong).await,
            json!({ "valid": false, "reason": "wrong_challenge" }),
            "{wrong}"
        );
    }
    assert_eq!(
        app.redeem(&first, &alice.sub, &challenge["challengeId"])
            .await["valid"],
        true
    );

    // Past its lifetime (the ceremony's and then the nonce's), a challenge is refused
    // as not issued, before the nonce's own expiry is looked at.
    let second = passkey_first_nonce(&app, &mut authn).await;
    let challenge = app.challenge(&alice).await;
    app.clock.advance(std::time::Duration::from_secs(3600));
    assert_eq!(
        app.redeem(&second, &alice.sub, &challenge["challengeId"])
            .await,
        json!({ "valid": false, "reason": "wrong_challenge" })
    );
}

/// Learning the shapes of stored passkeys scans every passkey of a site: with millions it
/// takes longer than the requests' statement timeout, and a start that could not read
/// them failed (found by the large benchmark). Here the scan waits behind a lock for
/// longer than the requests' 50 ms and still succeeds.
#[tokio::test]
async fn learning_the_shapes_outlasts_the_requests_statement_timeout() {
    let app = TestApp::spawn_with(|c| {
        c.db_timeouts.statement = std::time::Duration::from_millis(50);
    })
    .await;
    let db = app.state.db.clone();
    let site = app.state.admin_site().id.clone();
    let mut locker = db.begin().await.unwrap();
    sqlx::query("LOCK TABLE credentials IN ACCESS EXCLUSIVE MODE")
        .execute(&mut *locker)
        .await
        .unwrap();
    let sample = app.state.admin_site().rp.shape_sample();
    let learning = tokio::spawn({
        let db = db.clone();
        async move { rp_server::store::credentials::shapes(&db, &site, sample).await }
    });
    // Until Postgres says the scan has waited for the lock four times the requests'
    // timeout (asked every 10 ms; a cancelled scan ends the task instead).
    loop {
        assert!(
            !learning.is_finished(),
            "the scan ended while the table was locked: {:?}",
            learning.await.unwrap().map(|_| ())
        );
        let waited: bool = sqlx::query_scalar(
            "SELECT EXISTS (SELECT 1 FROM pg_stat_activity
                WHERE datname = current_database() AND wait_event_type = 'Lock'
                  AND query LIKE '%FROM credentials%' AND now() - query_start > interval '200 ms')",
        )
        .fetch_one(&db)
        .await
        .unwrap();
        if waited {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(10)).await;
    }
    locker.commit().await.unwrap();
    learning.await.unwrap().expect("the shapes were read");
}

/// The shapes are learned from a sample of users whatever the site's size (a range of
/// their random ids, fixed by the site's key): read at start and every ten minutes on
/// every instance, full scans took seconds at 2 M passkeys and grew with the site. The
/// sample's proportions are the site's, within sampling error; the three shapes come from
/// the same users; and the same anchor reads the same users again, so fake options do not
/// change with the luck of a new sample.
#[tokio::test]
async fn the_shapes_come_from_a_fixed_bounded_sample_of_users() {
    use rp_server::store::credentials::{ShapeSample, shapes};
    let app = TestApp::spawn().await;
    let db = &app.state.db;
    let site = app.state.admin_site().id.clone();
    // 4,000 users: every third has two passkeys with 32-byte ids over USB, the others one
    // with a 16-byte id, internal.
    app.seed_passkeys_in_bulk(4000).await;

    let everyone = ShapeSample {
        anchor: uuid::Uuid::new_v4(),
        users: 100_000,
    };
    let (all, read) = shapes(db, &site, everyone).await.unwrap();
    assert_eq!(
        (read.users, read.bits),
        (4000, 0),
        "a small site is read whole"
    );
    assert_eq!(all.per_user, [(1, 2667), (2, 1333)]);
    assert_eq!(all.id_lengths, [(16, 2667), (32, 1333)]);
    assert_eq!(
        all.transports,
        [
            (vec!["internal".to_owned()], 2667),
            (vec!["usb".to_owned()], 1333)
        ]
    );

    let sample = ShapeSample {
        anchor: uuid::Uuid::new_v4(),
        users: 256,
    };
    let (some, read) = shapes(db, &site, sample).await.unwrap();
    assert!(read.bits >= 2, "a range of ids, not all of them: {read:?}");
    assert!(
        (64..1000).contains(&read.users),
        "about the users asked for, not the site: {read:?}"
    );
    let count = |shape: &[(usize, i64)], of: usize| {
        shape.iter().find(|(n, _)| *n == of).map_or(0, |(_, c)| *c)
    };
    let twos = count(&some.per_user, 2);
    assert_eq!(twos + count(&some.per_user, 1), read.users as i64);
    assert_eq!(count(&some.id_lengths, 32), twos, "the same users' ids");
    assert_eq!(
        some.transports
            .iter()
            .find(|(t, _)| t == &["usb"])
            .map_or(0, |(_, c)| *c),
        twos,
        "the same users' transports"
    );
    let share = twos as f64 / read.users as f64;
    assert!(
        (share - 1.0 / 3.0).abs() < 0.15,
        "the site's proportions within sampling error: {share:.3} of {read:?}"
    );
    assert_eq!(
        shapes(db, &site, sample).await.unwrap(),
        (some, read),
        "the same anchor, the same users"
    );
}

/// Fake options for unknown users look like real users' options: as many entries, of the
/// id lengths and transports real passkeys have (learned from the database by the
/// background pass), and still stable per username.
#[tokio::test]
async fn fake_options_follow_the_shape_of_real_ones() {
    let app = TestApp::spawn().await;
    let (alice, bob) = (User::new("alice"), User::new("bob"));
    let mut a = SoftAuthenticator::new();
    let mut b = SoftAuthenticator::new();
    app.register(&alice, &mut a).await;
    app.register(&bob, &mut b).await;
    app.register(&bob, &mut SoftAuthenticator::new()).await; // bob has two
    rp_server::purge::learn_shapes(&app.state).await;

    let shape = |options: &Value| -> Vec<(usize, Value)> {
        options["publicKey"]["allowCredentials"]
            .as_array()
            .unwrap()
            .iter()
            .map(|c| {
                let id = rp_shared::credential_id::decode(c["id"].as_str().unwrap()).unwrap();
                (
                    id.len(),
                    c.get("transports").cloned().unwrap_or(Value::Null),
                )
            })
            .collect()
    };
    let real_entry = shape(&app.challenge(&alice).await)[0].clone();
    assert_eq!(shape(&app.challenge(&bob).await).len(), 2);
    let mut counts = std::collections::BTreeSet::new();
    for i in 0..40 {
        let ghost = User::new(&format!("ghost{i}@example.test"));
        let fake = shape(&app.challenge(&ghost).await);
        assert_eq!(
            fake,
            shape(&app.challenge(&ghost).await),
            "stable per username"
        );
        for entry in &fake {
            assert_eq!(
                entry, &real_entry,
                "id length and transports as real passkeys have"
            );
        }
        counts.insert(fake.len());
    }
    assert_eq!(counts, [1, 2].into(), "as many entries as real users have");
}

/// One account cannot poison the shapes fake options copy: it counts as one user (one
/// sample per user), and ids of odd lengths or transports no authenticator has are not
/// copied at all.
#[tokio::test]
async fn one_account_cannot_poison_the_fake_shapes() {
    let app = TestApp::spawn().await;
    for name in ["ann", "ben", "cat", "dan"] {
        app.register(&User::new(name), &mut SoftAuthenticator::new())
            .await;
    }
    // Mallory registers as many odd passkeys as she may: 200-byte ids, a made-up transport.
    let mallory = User::new("mallory");
    let token = app.token(&mallory);
    for i in 0..rp_server::config::DEFAULT_MAX_PASSKEYS_PER_USER {
        let mut odd = SoftAuthenticator::new();
        odd.reuse_credential_id = Some(vec![u8::try_from(i).unwrap(); 200]);
        let options = app
            .post("/v1/registration/options", Some(&token), &json!({}))
            .await
            .expect(200);
        let mut credential = odd.create(&options["publicKey"], ORIGIN).unwrap();
        credential["response"]["transports"] = json!(["evil", "internal"]);
        app.post(
            "/v1/registration/verify",
            Some(&token),
            &json!({ "ceremonyId": options["ceremonyId"], "credential": credential }),
        )
        .await
        .expect(201);
    }
    rp_server::purge::learn_shapes(&app.state).await;

    for i in 0..40 {
        let ghost = app
            .challenge(&User::new(&format!("ghost{i}@example.test")))
            .await;
        for entry in ghost["publicKey"]["allowCredentials"].as_array().unwrap() {
            let id = rp_shared::credential_id::decode(entry["id"].as_str().unwrap()).unwrap();
            assert_ne!(id.len(), 200, "an odd id length was copied");
            assert!(
                !entry["transports"].to_string().contains("evil"),
                "a made-up transport was copied: {entry}"
            );
        }
    }
}
