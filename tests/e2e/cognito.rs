//! The product on every shape of user pool, and under Cognito's own behaviour: trigger
//! retries, session lifetimes.

use std::time::Duration;

use serde_json::json;
use testkit::authenticator::SoftAuthenticator;

use crate::stack::{Options, Shape, Stack, claims};

/// Sign-up, passkey-first sign-in, a password user adding a passkey, and username-first
/// sign-in with the name that user types, on a pool of this shape.
async fn every_flow_on(shape: Shape) {
    let stack = Stack::start_with(Options {
        shape,
        ..Options::default()
    })
    .await;

    // Passkey-first sign-up, signed in at once with its nonce.
    let mut authn = SoftAuthenticator::new();
    let signed_up = stack
        .sign_up(&json!({ "email": "new@example.test" }), &mut authn)
        .await;
    let username = signed_up["username"].as_str().unwrap().to_owned();
    match shape {
        Shape::EmailAlias => assert!(!username.contains('@'), "{username}"),
        Shape::Username => assert_eq!(username, "new@example.test"),
        Shape::EmailUsername => {}
    }
    let (session, _) = stack.begin_custom(&username).await;
    let first = stack
        .answer(&session, &username, signed_up["nonce"].as_str().unwrap())
        .await
        .unwrap();
    let id = claims(first.authentication_result().unwrap().id_token().unwrap());
    assert_eq!(id["email"], "new@example.test");
    assert_eq!(id["cognito:username"], username.as_str());

    // Back later with the passkey alone.
    let (nonce, again) = stack.usernameless(&mut authn).await;
    assert_eq!(again, username);
    let (session, _) = stack.begin_custom(&again).await;
    assert!(
        stack
            .answer(&session, &again, &nonce)
            .await
            .unwrap()
            .authentication_result()
            .is_some()
    );

    // A password user adds a passkey, then signs in username-first with what they type:
    // the email where it signs in (username attribute, or verified alias), the username
    // in a plain pool.
    let name = stack
        .password_user("olga@example.test", "Olga-password-1")
        .await;
    let typed = match shape {
        Shape::EmailUsername | Shape::EmailAlias => "olga@example.test",
        Shape::Username => "olga",
    };
    let tokens = stack.password_sign_in(typed, "Olga-password-1").await;
    let mut olga = SoftAuthenticator::new();
    stack
        .register_passkey(tokens.access_token().unwrap(), &mut olga)
        .await;
    let (session, params) = stack.begin_custom(typed).await;
    assert_eq!(params["USERNAME"], name);
    let nonce = stack.answer_challenge(&params, &mut olga).await;
    let done = stack.answer(&session, typed, &nonce).await.unwrap();
    let access = claims(
        done.authentication_result()
            .unwrap()
            .access_token()
            .unwrap(),
    );
    assert_eq!(access["username"], name.as_str());

    // An admin finds both users by email, whatever the shape.
    for (email, expected) in [
        ("new@example.test", &username),
        ("olga@example.test", &name),
    ] {
        let r = stack
            .http
            .get(format!("{}/admin/v1/users?email={email}", stack.rp_url))
            .bearer_auth(crate::stack::ADMIN_TOKEN)
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 200, "{shape:?} {email}");
        let body: serde_json::Value = r.json().await.unwrap();
        assert_eq!(body["username"], expected.as_str());
    }
}

#[tokio::test]
async fn every_flow_on_a_pool_where_the_email_is_the_username() {
    every_flow_on(Shape::EmailUsername).await;
}

#[tokio::test]
async fn every_flow_on_a_pool_where_the_email_is_an_alias() {
    every_flow_on(Shape::EmailAlias).await;
}

#[tokio::test]
async fn every_flow_on_a_pool_of_plain_usernames() {
    every_flow_on(Shape::Username).await;
}

/// Cognito retries a Verify it stopped waiting for. The first attempt already redeemed
/// the nonce; the retry redeems it again for the same challenge (idempotent per
/// challenge) and the user is signed in.
#[tokio::test]
async fn a_retried_verify_still_signs_the_user_in() {
    let stack = Stack::start_with(Options {
        trigger_timeout_ms: 1000,
        ..Options::default()
    })
    .await;
    let (username, mut authn) = stack
        .user_with_passkey("vera@example.test", "Vera-password-1")
        .await;

    let (nonce, _) = stack.usernameless(&mut authn).await;
    let (session, _) = stack.begin_custom(&username).await;
    stack.lambda.hold_answers(
        "VerifyAuthChallengeResponse_Authentication",
        1,
        Duration::from_millis(1500),
    );
    let done = stack.answer(&session, &username, &nonce).await.unwrap();
    assert!(done.authentication_result().is_some());
    // Verify ran twice (the first answer came too late) for one sign-in.
    assert_eq!(
        stack
            .lambda
            .invocations("VerifyAuthChallengeResponse_Authentication"),
        2
    );
}

/// Cognito retries a Create it stopped waiting for; the challenge of the retry is the
/// one the user answers, and they sign in.
#[tokio::test]
async fn a_slow_create_does_not_leave_the_user_stuck() {
    let stack = Stack::start_with(Options {
        trigger_timeout_ms: 1000,
        ..Options::default()
    })
    .await;
    let (_, mut authn) = stack
        .user_with_passkey("cleo@example.test", "Cleo-password-1")
        .await;

    stack.lambda.hold_answers(
        "CreateAuthChallenge_Authentication",
        1,
        Duration::from_millis(1500),
    );
    let (session, params) = stack.begin_custom("cleo@example.test").await;
    let nonce = stack.answer_challenge(&params, &mut authn).await;
    let done = stack
        .answer(&session, "cleo@example.test", &nonce)
        .await
        .unwrap();
    assert!(done.authentication_result().is_some());
    assert_eq!(
        stack
            .lambda
            .invocations("CreateAuthChallenge_Authentication"),
        2
    );
}

/// With mail on, on a pool where the email is an alias: sign-up proves the address with
/// a code (so Cognito marks it verified and it signs in username-first at once), and a
/// new device with no passkey signs in by email code, through the real triggers.
#[tokio::test]
async fn verified_sign_up_and_email_sign_in_on_an_alias_pool() {
    let stack = Stack::start_with(Options {
        shape: Shape::EmailAlias,
        email: true,
        ..Options::default()
    })
    .await;
    let email = "mo@example.test";
    // Asks for a code, reads the `n`th message to the address, and answers with its code.
    let by_email = |purpose: &'static str, n: usize| {
        let stack = &stack;
        async move {
            let (s, sent) = stack
                .rp(
                    "/v1/email/codes",
                    None,
                    &json!({ "email": email, "purpose": purpose }),
                )
                .await;
            assert_eq!(s, 202);
            let mail = stack.mail.as_ref().unwrap();
            let code = mail
                .wait_for(email, n)
                .await
                .unwrap()
                .code()
                .expect("a code");
            let (s, verified) = stack
                .rp(
                    "/v1/email/verify",
                    None,
                    &json!({ "email": email, "code": code, "purpose": purpose, "codeRequestId": sent["codeRequestId"] }),
                )
                .await;
            assert_eq!(s, 200, "{verified}");
            verified
        }
    };

    // Sign-up: code → signupToken → passkey → signed in.
    let proof = by_email("sign_up", 1).await;
    let mut phone = SoftAuthenticator::new();
    let signed_up = stack
        .sign_up(
            &json!({ "email": email, "signupToken": proof["signupToken"] }),
            &mut phone,
        )
        .await;
    let username = signed_up["username"].as_str().unwrap().to_owned();

    // The alias is verified, so the email signs in username-first straight away.
    let (session, params) = stack.begin_custom(email).await;
    assert_eq!(params["USERNAME"], username);
    let nonce = stack.answer_challenge(&params, &mut phone).await;
    let done = stack.answer(&session, email, &nonce).await.unwrap();
    let id = claims(done.authentication_result().unwrap().id_token().unwrap());
    assert_eq!(id["email_verified"], true);

    // A new laptop with no passkey: an email code, then Cognito as for a passkey.
    let signed_in = by_email("sign_in", 2).await;
    assert_eq!(signed_in["username"], username.as_str());
    let (session, _) = stack.begin_custom(&username).await;
    let done = stack
        .answer(&session, &username, signed_in["nonce"].as_str().unwrap())
        .await
        .unwrap();
    let token = done
        .authentication_result()
        .unwrap()
        .access_token()
        .unwrap()
        .to_owned();
    let access = claims(&token);
    assert_eq!(access["username"], username.as_str());
    // That session began with a code: it cannot add a second passkey to the account
    // (told apart from a passkey session by the redemption Cognito's auth_time follows).
    let (status, refused) = stack
        .rp("/v1/registration/options", Some(&token), &json!({}))
        .await;
    assert_eq!(status, 401, "{refused}");
    assert_eq!(refused["error"]["details"]["factor"], "passkey");
}
