//! Recovery codes (security round 3, item 12): made by a signed-in user, each signs in
//! once, for a session that may add one passkey and nothing else; wrong codes lock the
//! account like wrong email codes; a reset voids them; each use is notified.

use std::time::Duration;

use serde_json::{Value, json};
use testkit::authenticator::SoftAuthenticator;
use testkit::smtp::Mailbox;

use crate::harness::{TestApp, User};

async fn make_codes(app: &TestApp, user: &User) -> Vec<String> {
    make_codes_with(app, &app.token(user)).await
}

async fn make_codes_with(app: &TestApp, token: &str) -> Vec<String> {
    let made = app
        .post("/v1/recovery-codes", Some(token), &json!({}))
        .await
        .expect(201);
    made["codes"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c.as_str().unwrap().to_owned())
        .collect()
}

async fn recover(app: &TestApp, username: &str, code: &str) -> testkit::rp::Response {
    app.post(
        "/v1/recovery/verify",
        None,
        &json!({ "username": username, "code": code }),
    )
    .await
}

/// The Create and Verify triggers for `user`, with the nonce a code earned.
async fn redeem(app: &TestApp, user: &User, signed_in: &Value) {
    let challenge = app.challenge(user).await;
    let r = app
        .redeem(
            signed_in["nonce"].as_str().unwrap(),
            &user.sub,
            &challenge["challengeId"],
        )
        .await;
    assert_eq!(r["valid"], true, "{r}");
}

async fn remaining(app: &TestApp, user: &User) -> i64 {
    app.get("/v1/recovery-codes", Some(&app.token(user)))
        .await
        .expect(200)["remaining"]
        .as_i64()
        .unwrap()
}

/// Make codes → lose the passkey → a code signs in once → that session adds one new
/// passkey, and nothing else → the codes count down; a new set voids the old.
#[tokio::test]
async fn a_recovery_code_signs_in_once_for_one_new_passkey() {
    let app = TestApp::spawn().await;
    let rita = User::new("rita");
    let mut laptop = SoftAuthenticator::new();
    let first = app.register(&rita, &mut laptop).await;
    assert_eq!(remaining(&app, &rita).await, 0);
    let codes = make_codes(&app, &rita).await;
    assert_eq!(codes.len(), 10);
    assert_eq!(
        codes.iter().collect::<std::collections::HashSet<_>>().len(),
        10
    );
    assert_eq!(remaining(&app, &rita).await, 10);

    // The laptop is lost. Case and dashes do not matter.
    let typed = codes[0].to_uppercase().replace('-', " ");
    let signed_in = recover(&app, "rita", &typed).await.expect(200);
    assert_eq!(signed_in["username"], "rita");
    redeem(&app, &rita, &signed_in).await;
    let recovery_token = app.token(&rita);
    assert_eq!(remaining(&app, &rita).await, 9);

    // That session adds one passkey; not a second, and it renames and deletes nothing,
    // nor makes codes.
    app.register(&rita, &mut SoftAuthenticator::new()).await;
    for refused in [
        app.post(
            "/v1/registration/options",
            Some(&recovery_token),
            &json!({}),
        )
        .await,
        app.post("/v1/recovery-codes", Some(&recovery_token), &json!({}))
            .await,
        app.send(
            app.http
                .delete(app.url(&format!(
                    "/v1/credentials/{}",
                    first["id"].as_str().unwrap()
                )))
                .bearer_auth(&recovery_token),
        )
        .await,
    ] {
        refused.expect_error(401, "REAUTH_REQUIRED");
        assert_eq!(refused.body["error"]["details"]["factor"], "passkey");
    }

    // Once only; a wrong code is wrong.
    recover(&app, "rita", &codes[0])
        .await
        .expect_error(410, "CODE_EXPIRED");
    recover(&app, "rita", "0000-0000-0000")
        .await
        .expect_error(422, "CODE_INVALID");

    // A passkey sign-in a minute later (its tokens say so) may make a new set, which
    // voids the old one.
    app.clock.advance(Duration::from_secs(60));
    let nonce = app.sign_in(&mut laptop).await.expect(200);
    redeem(&app, &rita, &nonce).await;
    let mut claims = app.idp.access_claims(&rita.sub, &rita.username);
    claims["auth_time"] = app.clock.now().timestamp().into();
    let fresh = make_codes_with(&app, &app.idp.sign(&claims).unwrap()).await;
    recover(&app, "rita", &codes[1])
        .await
        .expect_error(422, "CODE_INVALID");
    assert!(recover(&app, "rita", &fresh[0]).await.status == 200);
    let actions = app.audit_actions().await;
    for action in [
        "recovery.codes_created",
        "recovery.code_used",
        "recovery.code_failed",
    ] {
        assert!(
            actions.contains(&action.to_owned()),
            "{action}: {actions:?}"
        );
    }
}

/// Wrong recovery codes count against the account's lock (the one email codes share):
/// ten in a day lock it. An account that does not exist is answered alike.
#[tokio::test]
async fn wrong_recovery_codes_lock_the_account() {
    let app = TestApp::spawn().await;
    let sam = User::new("sam");
    app.register(&sam, &mut SoftAuthenticator::new()).await;
    let codes = make_codes(&app, &sam).await;
    // An account that does not exist is answered word for word as a wrong code.
    let nobody = recover(&app, "nobody", "0000-0000-0000").await;
    nobody.expect_error(422, "CODE_INVALID");
    let wrong = recover(&app, "sam", "0000-0000-0000").await;
    assert_eq!((nobody.status, &nobody.body), (wrong.status, &wrong.body));
    for _ in 1..rp_server::flows::email::limits::FAILURES_PER_ADDRESS_PER_DAY {
        recover(&app, "sam", "0000-0000-0000")
            .await
            .expect_error(422, "CODE_INVALID");
    }
    let locked = recover(&app, "sam", &codes[0]).await;
    locked.expect_error(429, "CODE_LOCKED");
    assert!(locked.headers.contains_key("retry-after"));
    app.clock.advance(Duration::from_secs(86_401));
    recover(&app, "sam", &codes[0]).await.expect(200);
}

/// An admin reset voids the user's recovery codes.
#[tokio::test]
async fn a_reset_voids_recovery_codes() {
    let app = TestApp::spawn().await;
    let tom = User::new("tom");
    app.register(&tom, &mut SoftAuthenticator::new()).await;
    let codes = make_codes(&app, &tom).await;
    app.send(
        app.http
            .post(app.url(&format!("/admin/v1/users/{}/reset", tom.sub)))
            .bearer_auth(crate::harness::ADMIN_TOKEN)
            .json(&json!({})),
    )
    .await
    .expect(200);
    recover(&app, "tom", &codes[0])
        .await
        .expect_error(422, "CODE_INVALID");
}

/// Each use is notified to the account's verified address; the account may be named by
/// that address.
#[tokio::test]
async fn a_recovery_code_used_is_notified() {
    let (p, mail) = (
        crate::signup::pool("").await,
        Mailbox::start().await.unwrap(),
    );
    let app = crate::email::spawn_adjusted(&p, &mail, |c| {
        c.cognito_user_pool_id = Some(crate::signup::POOL.to_owned());
        c.email_notify = true;
    })
    .await;
    let email = "una@example.test";
    let (username, sub) = crate::email::pool_user(&p, email, true).await;
    let una = User { sub, username };
    app.register(&una, &mut SoftAuthenticator::new()).await;
    let codes = make_codes(&app, &una).await;
    let signed_in = recover(&app, email, &codes[3]).await.expect(200);
    assert_eq!(signed_in["username"], una.username.as_str());
    // Two notices: the passkey added, then this one (delivered in the background, so in
    // either order).
    mail.wait_for(email, 2).await.unwrap();
    let notices: Vec<_> = mail
        .messages()
        .into_iter()
        .filter(|m| m.to.contains(email))
        .collect();
    let notice = notices
        .iter()
        .find(|m| m.raw.contains("A recovery code was used"))
        .expect("a recovery notice");
    assert!(notice.raw.contains("9 left"), "{}", notice.raw);
    assert!(notices.iter().all(|m| !m.raw.contains(&codes[3])));
}
