//! Create and Verify against a real rp-server.

use std::time::{Duration, Instant};

use cognito_triggers::handle;
use serde_json::{Value, json};
use testkit::authenticator::SoftAuthenticator;

use crate::harness::{Rp, deps_for, fixture, only_response_changed};

fn create_event(sub: &str, username: &str) -> Value {
    fixture("guide/create.json", &[("sub", sub), ("username", username)])
}

fn verify_event(sub: &str, username: &str, answer: &str, challenge_id: &str) -> Value {
    fixture(
        "guide/verify.json",
        &[
            ("sub", sub),
            ("username", username),
            ("answer", answer),
            ("challengeId", challenge_id),
        ],
    )
}

fn challenge_id(create_output: &Value) -> String {
    create_output["response"]["privateChallengeParameters"]["challengeId"]
        .as_str()
        .unwrap()
        .to_owned()
}

async fn answer_correct(deps: &cognito_triggers::Deps, event: Value) -> bool {
    let out = handle(deps, event.clone()).await.unwrap();
    only_response_changed(&event, &out);
    out["response"]["answerCorrect"].as_bool().unwrap()
}

#[tokio::test]
async fn create_puts_options_in_public_and_the_challenge_id_in_private_parameters() {
    let rp = Rp::start().await;
    let mut authn = SoftAuthenticator::new();
    let (sub, username) = rp.user_with_passkey("alice", &mut authn).await;
    let input = create_event(&sub, &username);
    let out = handle(&rp.deps(), input.clone()).await.unwrap();
    only_response_changed(&input, &out);
    let response = &out["response"];
    assert_eq!(response["challengeMetadata"], "PASSKEY");
    let public = response["publicChallengeParameters"].as_object().unwrap();
    assert_eq!(
        public.keys().collect::<Vec<_>>(),
        ["ceremonyId", "publicKey"]
    );
    assert!(
        public.values().all(Value::is_string),
        "Cognito parameters are strings"
    );
    let options: Value = serde_json::from_str(public["publicKey"].as_str().unwrap()).unwrap();
    assert_eq!(options["rpId"], "example.test");
    assert_eq!(options["allowCredentials"].as_array().unwrap().len(), 1);
    let private = response["privateChallengeParameters"].as_object().unwrap();
    assert_eq!(private.keys().collect::<Vec<_>>(), ["challengeId"]);
    assert!(
        !public["publicKey"]
            .as_str()
            .unwrap()
            .contains(private["challengeId"].as_str().unwrap())
    );

    // An unknown user gets plausible options too.
    let ghost = fixture(
        "guide/create-user-not-found.json",
        &[("sub", ""), ("username", "ghost")],
    );
    let out = handle(&rp.deps(), ghost).await.unwrap();
    let options: Value = serde_json::from_str(
        out["response"]["publicChallengeParameters"]["publicKey"]
            .as_str()
            .unwrap(),
    )
    .unwrap();
    assert!(!options["allowCredentials"].as_array().unwrap().is_empty());
    // So does the fixture shipped with aws_lambda_events.
    let aws = fixture(
        "aws_lambda_events/example-cognito-event-userpools-create-auth-challenge-user-not-found.json",
        &[],
    );
    let out = handle(&rp.deps(), aws.clone()).await.unwrap();
    only_response_changed(&aws, &out);
    assert!(out["response"]["privateChallengeParameters"]["challengeId"].is_string());
}

#[tokio::test]
async fn a_real_nonce_redeems_and_everything_else_is_a_wrong_answer() {
    let rp = Rp::start().await;
    let deps = rp.deps();
    let mut a = SoftAuthenticator::new();
    let mut b = SoftAuthenticator::new();
    let (alice, alice_name) = rp.user_with_passkey("alice", &mut a).await;
    let (bob, bob_name) = rp.user_with_passkey("bob", &mut b).await;

    // Username first: Create → ceremony → Verify.
    let created = handle(&deps, create_event(&alice, &alice_name))
        .await
        .unwrap();
    let nonce = rp.answer(&created, &mut a).await;
    let cid = challenge_id(&created);
    assert!(answer_correct(&deps, verify_event(&alice, &alice_name, &nonce, &cid)).await);
    // Cognito retrying the same Verify: still correct.
    assert!(answer_correct(&deps, verify_event(&alice, &alice_name, &nonce, &cid)).await);
    // Replay in a new sign-in (new challenge): wrong.
    let again = handle(&deps, create_event(&alice, &alice_name))
        .await
        .unwrap();
    assert!(
        !answer_correct(
            &deps,
            verify_event(&alice, &alice_name, &nonce, &challenge_id(&again))
        )
        .await
    );

    // Passkey first: a usernameless nonce redeems with the challenge Create made.
    let nonce = rp.usernameless_nonce(&mut a).await;
    let created = handle(&deps, create_event(&alice, &alice_name))
        .await
        .unwrap();
    // Another user's nonce, in bob's sign-in.
    let bobs_challenge = handle(&deps, create_event(&bob, &bob_name)).await.unwrap();
    assert!(
        !answer_correct(
            &deps,
            verify_event(&bob, &bob_name, &nonce, &challenge_id(&bobs_challenge))
        )
        .await
    );
    // Another challenge id (not issued by rp-server).
    let fake_id = uuid::Uuid::new_v4().to_string();
    assert!(!answer_correct(&deps, verify_event(&alice, &alice_name, &nonce, &fake_id)).await);
    // Missing or malformed challenge id, malformed answers.
    let mut no_id = verify_event(&alice, &alice_name, &nonce, "x");
    no_id["request"]["privateChallengeParameters"] = json!({});
    assert!(!answer_correct(&deps, no_id).await);
    let mut numeric = verify_event(&alice, &alice_name, &nonce, &challenge_id(&created));
    numeric["request"]["challengeAnswer"] = json!(12345);
    assert!(!answer_correct(&deps, numeric).await);
    assert!(
        !answer_correct(
            &deps,
            verify_event(&alice, &alice_name, "", &challenge_id(&created))
        )
        .await
    );
    let mut not_found = verify_event(&alice, &alice_name, &nonce, &challenge_id(&created));
    not_found["request"]["userNotFound"] = json!(true);
    assert!(!answer_correct(&deps, not_found).await);
    // None of that spent it: the right call still works.
    assert!(
        answer_correct(
            &deps,
            verify_event(&alice, &alice_name, &nonce, &challenge_id(&created))
        )
        .await
    );

    // Expired.
    let nonce = rp.usernameless_nonce(&mut a).await;
    let created = handle(&deps, create_event(&alice, &alice_name))
        .await
        .unwrap();
    rp.clock.advance(Duration::from_secs(121));
    assert!(
        !answer_correct(
            &deps,
            verify_event(&alice, &alice_name, &nonce, &challenge_id(&created))
        )
        .await
    );
}

#[tokio::test]
async fn rp_server_down_or_slow_is_a_wrong_answer_within_the_timeout() {
    let rp = Rp::start().await;
    let mut a = SoftAuthenticator::new();
    let (alice, name) = rp.user_with_passkey("alice", &mut a).await;
    let created = handle(&rp.deps(), create_event(&alice, &name))
        .await
        .unwrap();
    let nonce = rp.answer(&created, &mut a).await;
    let event = verify_event(&alice, &name, &nonce, &challenge_id(&created));

    // Down: nothing listens on the port.
    let closed = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let down = format!("http://{}", closed.local_addr().unwrap());
    drop(closed);
    assert!(!answer_correct(&deps_for(&down, 500), event.clone()).await);
    let failed = handle(&deps_for(&down, 500), create_event(&alice, &name))
        .await
        .expect_err("Create fails loudly");
    // …to the log. Cognito and the app hear a constant sentence: no address, no cause.
    assert_eq!(failed.to_string(), cognito_triggers::FAILURE_MESSAGE);

    // Slow: answers after 3 s; the trigger gives up at RP_TIMEOUT_MS.
    let slow = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let slow_url = format!("http://{}", slow.local_addr().unwrap());
    tokio::spawn(async move {
        let app = axum::Router::new().fallback(|| async {
            tokio::time::sleep(Duration::from_secs(3)).await;
            axum::Json(json!({ "valid": true }))
        });
        let _ = axum::serve(slow, app).await;
    });
    let started = Instant::now();
    assert!(!answer_correct(&deps_for(&slow_url, 300), event.clone()).await);
    assert!(
        started.elapsed() < Duration::from_secs(2),
        "gave up in {:?}",
        started.elapsed()
    );

    // A server that answers 500, or garbage.
    let odd = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let odd_url = format!("http://{}", odd.local_addr().unwrap());
    tokio::spawn(async move {
        let app = axum::Router::new().route(
            "/internal/v1/nonces/redeem",
            axum::routing::post(|| async {
                (
                    axum::http::StatusCode::INTERNAL_SERVER_ERROR,
                    "{\"valid\":true}",
                )
            }),
        );
        let _ = axum::serve(odd, app).await;
    });
    assert!(!answer_correct(&deps_for(&odd_url, 500), event.clone()).await);

    // The real server still accepts it: none of the above spent the nonce.
    assert!(answer_correct(&rp.deps(), event).await);
}

#[tokio::test]
async fn a_wrong_service_token_is_a_wrong_answer() {
    let rp = Rp::start().await;
    let mut a = SoftAuthenticator::new();
    let (alice, name) = rp.user_with_passkey("alice", &mut a).await;
    let created = handle(&rp.deps(), create_event(&alice, &name))
        .await
        .unwrap();
    let nonce = rp.answer(&created, &mut a).await;
    let vars = [
        ("RP_SERVER_URL", rp.base.clone()),
        ("RP_SERVICE_TOKEN", "wrong-token".to_owned()),
    ];
    let config = cognito_triggers::Config::from_lookup(|k| {
        vars.iter().find(|(n, _)| *n == k).map(|(_, v)| v.clone())
    })
    .unwrap();
    let wrong = cognito_triggers::Deps::new(config).unwrap();
    assert!(
        !answer_correct(
            &wrong,
            verify_event(&alice, &name, &nonce, &challenge_id(&created))
        )
        .await
    );
}
