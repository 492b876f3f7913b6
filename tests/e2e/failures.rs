//! What must not sign anyone in, and how Cognito reports it.

use std::time::Duration;

use serde_json::json;
use testkit::authenticator::SoftAuthenticator;

use crate::stack::{Options, Stack, error_code};

async fn user_with_passkey(stack: &Stack, email: &str) -> (String, SoftAuthenticator) {
    stack.user_with_passkey(email, "Some-password-1").await
}

/// A wrong answer gets another challenge (and no tokens) until the third.
async fn refused(stack: &Stack, session: &str, username: &str, answer: &str) -> String {
    let r = stack.answer(session, username, answer).await.unwrap();
    assert!(
        r.authentication_result().is_none(),
        "tokens for a bad answer"
    );
    r.session().unwrap().to_owned()
}

#[tokio::test]
async fn replayed_foreign_and_wrong_answers_and_reused_sessions() {
    let stack = Stack::start().await;
    let (alice, mut a) = user_with_passkey(&stack, "alice@example.test").await;
    let (bob, mut b) = user_with_passkey(&stack, "bob@example.test").await;

    // Alice signs in once.
    let (nonce, _) = stack.usernameless(&mut a).await;
    let (session, _) = stack.begin_custom(&alice).await;
    assert!(
        stack
            .answer(&session, &alice, &nonce)
            .await
            .unwrap()
            .authentication_result()
            .is_some()
    );

    // Replaying her nonce in a new sign-in, then bob's nonce, then garbage: three wrong
    // answers and the sign-in fails.
    let (bobs_nonce, _) = stack.usernameless(&mut b).await;
    let (session, _) = stack.begin_custom(&alice).await;
    let session = refused(&stack, &session, &alice, &nonce).await;
    let session = refused(&stack, &session, &alice, &bobs_nonce).await;
    let e = stack
        .answer(&session, &alice, "not-a-nonce")
        .await
        .unwrap_err();
    assert_eq!(
        error_code(&e),
        (
            "NotAuthorizedException".to_owned(),
            "Incorrect username or password.".to_owned()
        )
    );

    // Bob's nonce was not spent by alice's attempt: it still signs *bob* in.
    let (session, _) = stack.begin_custom(&bob).await;
    assert!(
        stack
            .answer(&session, &bob, &bobs_nonce)
            .await
            .unwrap()
            .authentication_result()
            .is_some()
    );

    // A Session is single use.
    let (fresh, _) = stack.usernameless(&mut a).await;
    let (session, _) = stack.begin_custom(&alice).await;
    let next = refused(&stack, &session, &alice, "wrong").await;
    let e = stack.answer(&session, &alice, &fresh).await.unwrap_err();
    assert_eq!(
        error_code(&e),
        (
            "NotAuthorizedException".to_owned(),
            "Invalid session for the user.".to_owned()
        )
    );
    // ...and the nonce still works in the live session.
    assert!(
        stack
            .answer(&next, &alice, &fresh)
            .await
            .unwrap()
            .authentication_result()
            .is_some()
    );
}

#[tokio::test]
async fn unknown_users_are_challenged_like_real_ones() {
    let stack = Stack::start().await;
    let (session, params) = stack.begin_custom("nobody@example.test").await;
    let options: serde_json::Value = serde_json::from_str(&params["publicKey"]).unwrap();
    assert!(!options["allowCredentials"].as_array().unwrap().is_empty());
    let session = refused(&stack, &session, "nobody@example.test", "anything").await;
    let session = refused(&stack, &session, "nobody@example.test", "anything").await;
    let e = stack
        .answer(&session, "nobody@example.test", "anything")
        .await
        .unwrap_err();
    assert_eq!(error_code(&e).0, "NotAuthorizedException");
}

#[tokio::test]
async fn a_crashing_trigger_is_a_user_lambda_validation_error() {
    // The trigger cannot reach rp-server, so Create fails (a function error).
    let closed = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let dead = format!("http://{}", closed.local_addr().unwrap());
    drop(closed);
    let stack = Stack::start_with(Options {
        triggers_rp_url: Some(dead),
        triggers_timeout_ms: 300,
        ..Options::default()
    })
    .await;
    stack
        .password_user("erin@example.test", "Erin-password-1")
        .await;
    let e = stack
        .cognito
        .initiate_auth()
        .client_id(crate::stack::CLIENT)
        .auth_flow(aws_sdk_cognitoidentityprovider::types::AuthFlowType::CustomAuth)
        .auth_parameters("USERNAME", "erin@example.test")
        .send()
        .await
        .unwrap_err();
    let (code, message) = error_code(&e);
    assert_eq!(code, "UserLambdaValidationException", "{message}");
    // What the app sees is the trigger's constant sentence, never why it failed.
    // (cognito_triggers::FAILURE_MESSAGE)
    assert_eq!(
        message,
        "CreateAuthChallenge failed with error Passkey sign-in is unavailable; try again later."
    );
}

#[tokio::test]
async fn a_trigger_slower_than_cognito_waits_is_an_unexpected_lambda_error() {
    // rp-server that never answers in time; the trigger waits 2.5 s, Cognito only 1 s.
    let slow = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let slow_url = format!("http://{}", slow.local_addr().unwrap());
    tokio::spawn(async move {
        let app = axum::Router::new().fallback(|| async {
            tokio::time::sleep(Duration::from_secs(10)).await;
            axum::Json(json!({}))
        });
        let _ = axum::serve(slow, app).await;
    });
    let stack = Stack::start_with(Options {
        triggers_rp_url: Some(slow_url),
        triggers_timeout_ms: 2500,
        trigger_timeout_ms: 1000,
        ..Options::default()
    })
    .await;
    stack
        .password_user("frank@example.test", "Frank-password-1")
        .await;
    let e = stack
        .cognito
        .initiate_auth()
        .client_id(crate::stack::CLIENT)
        .auth_flow(aws_sdk_cognitoidentityprovider::types::AuthFlowType::CustomAuth)
        .auth_parameters("USERNAME", "frank@example.test")
        .send()
        .await
        .unwrap_err();
    assert_eq!(error_code(&e).0, "UnexpectedLambdaException");
}
