//! The custom-auth state machine as Cognito runs it.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use aws_sdk_cognitoidentityprovider::types::{AuthFlowType, ChallengeNameType};
use serde_json::{Value, json};

use crate::{CLIENT, POOL, code, config, config_with, handler, message, start};

const TRIGGERS: &str = r#"
[pools.triggers]
define_auth_challenge = "t"
create_auth_challenge = "t"
verify_auth_challenge_response = "t"
"#;

type Seen = Arc<Mutex<Vec<Value>>>;

/// A question-and-answer custom challenge: "6*7" → "42", three tries.
fn quiz(seen: Seen) -> cognito_standin::triggers::InProcessHandler {
    handler(move |mut e: Value| {
        seen.lock().unwrap().push(e.clone());
        match e["triggerSource"].as_str().unwrap() {
            "DefineAuthChallenge_Authentication" => {
                let session = e["request"]["session"].as_array().unwrap().clone();
                let failures = session
                    .iter()
                    .filter(|r| r["challengeResult"] == false)
                    .count();
                if session.last().is_some_and(|r| r["challengeResult"] == true) {
                    e["response"] = json!({ "issueTokens": true, "failAuthentication": false });
                } else if failures >= 3 {
                    e["response"] = json!({ "issueTokens": false, "failAuthentication": true });
                } else {
                    e["response"] = json!({ "challengeName": "CUSTOM_CHALLENGE", "issueTokens": false, "failAuthentication": false });
                }
            }
            "CreateAuthChallenge_Authentication" => {
                e["response"] = json!({
                    "publicChallengeParameters": { "question": "6*7" },
                    "privateChallengeParameters": { "answer": "42" },
                    "challengeMetadata": "QUIZ",
                });
            }
            "VerifyAuthChallengeResponse_Authentication" => {
                let ok = e["request"]["challengeAnswer"]
                    == e["request"]["privateChallengeParameters"]["answer"];
                e["response"]["answerCorrect"] = json!(ok);
            }
            other => return Err(format!("unexpected {other}")),
        }
        Ok(e)
    })
}

#[tokio::test]
async fn a_custom_challenge_round_trip_with_cognitos_events() {
    let seen: Seen = Default::default();
    let s = start(config(TRIGGERS), Some(quiz(seen.clone()))).await;
    let c = &s.client;
    let started = c
        .initiate_auth()
        .client_id(CLIENT)
        .auth_flow(AuthFlowType::CustomAuth)
        .auth_parameters("USERNAME", "seed@example.test")
        .client_metadata("app", "test")
        .send()
        .await
        .unwrap();
    assert_eq!(
        started.challenge_name(),
        Some(&ChallengeNameType::CustomChallenge)
    );
    let params = started.challenge_parameters().unwrap();
    assert_eq!(params["question"], "6*7");
    assert!(
        !params.contains_key("answer"),
        "private parameters stay private"
    );
    let username = params["USERNAME"].clone();
    let sub = c
        .admin_get_user()
        .user_pool_id(POOL)
        .username("seed@example.test")
        .send()
        .await
        .unwrap()
        .username()
        .to_owned();
    assert_eq!(username, sub);

    let done = c
        .respond_to_auth_challenge()
        .client_id(CLIENT)
        .challenge_name(ChallengeNameType::CustomChallenge)
        .session(started.session().unwrap())
        .challenge_responses("USERNAME", &username)
        .challenge_responses("ANSWER", "42")
        .client_metadata("step", "answer")
        .send()
        .await
        .unwrap();
    assert!(
        done.authentication_result()
            .unwrap()
            .access_token()
            .is_some()
    );

    let events = seen.lock().unwrap().clone();
    let sources: Vec<&str> = events
        .iter()
        .map(|e| e["triggerSource"].as_str().unwrap())
        .collect();
    assert_eq!(
        sources,
        [
            "DefineAuthChallenge_Authentication",
            "CreateAuthChallenge_Authentication",
            "VerifyAuthChallengeResponse_Authentication",
            "DefineAuthChallenge_Authentication",
        ]
    );
    for e in &events {
        assert_eq!(e["version"], "1");
        assert_eq!(e["region"], "eu-west-1");
        assert_eq!(e["userPoolId"], POOL);
        assert_eq!(e["userName"], sub.as_str());
        assert_eq!(e["callerContext"]["clientId"], CLIENT);
        assert!(e["callerContext"]["awsSdkVersion"].is_string());
        assert_eq!(e["request"]["userAttributes"]["sub"], sub.as_str());
        assert_eq!(
            e["request"]["userAttributes"]["cognito:user_status"],
            "CONFIRMED"
        );
        assert_eq!(e["request"]["userNotFound"], false);
    }
    // As in Cognito: InitiateAuth's ClientMetadata reaches neither Define nor Create;
    // RespondToAuthChallenge's reaches Verify and the Define after it.
    assert!(events[0]["request"].get("clientMetadata").is_none());
    assert!(events[1]["request"].get("clientMetadata").is_none());
    assert_eq!(
        events[2]["request"]["clientMetadata"],
        json!({ "step": "answer" })
    );
    assert_eq!(
        events[3]["request"]["clientMetadata"],
        json!({ "step": "answer" })
    );
    assert_eq!(
        events[2]["request"]["privateChallengeParameters"]["answer"],
        "42"
    );
    assert_eq!(events[2]["request"]["challengeAnswer"], "42");
    assert_eq!(
        events[3]["request"]["session"],
        json!([{ "challengeName": "CUSTOM_CHALLENGE", "challengeResult": true, "challengeMetadata": "QUIZ" }])
    );
}

#[tokio::test]
async fn wrong_answers_reused_and_expired_sessions() {
    let s = start(
        config_with(
            &format!("username_attributes = [\"email\"]\n{TRIGGERS}"),
            "auth_session_validity_secs_for_tests = 1",
        ),
        Some(quiz(Default::default())),
    )
    .await;
    let c = &s.client;
    let begin = || {
        c.initiate_auth()
            .client_id(CLIENT)
            .auth_flow(AuthFlowType::CustomAuth)
            .auth_parameters("USERNAME", "seed@example.test")
            .send()
    };
    let answer = |session: String, answer: &'static str| {
        c.respond_to_auth_challenge()
            .client_id(CLIENT)
            .challenge_name(ChallengeNameType::CustomChallenge)
            .session(session)
            .challenge_responses("USERNAME", "seed@example.test")
            .challenge_responses("ANSWER", answer)
            .send()
    };
    let first = begin().await.unwrap();
    let s1 = first.session().unwrap().to_owned();
    let second = answer(s1.clone(), "41").await.unwrap();
    assert_eq!(
        second.challenge_name(),
        Some(&ChallengeNameType::CustomChallenge)
    );
    assert!(second.authentication_result().is_none());
    let s2 = second.session().unwrap().to_owned();
    assert_ne!(s1, s2);
    // A session is single use.
    let e = answer(s1, "42").await.unwrap_err();
    assert_eq!(
        (code(&e).as_str(), message(&e).as_str()),
        ("NotAuthorizedException", "Invalid session for the user.")
    );
    let third = answer(s2, "40").await.unwrap();
    let e = answer(third.session().unwrap().to_owned(), "39")
        .await
        .unwrap_err();
    assert_eq!(
        (code(&e).as_str(), message(&e).as_str()),
        ("NotAuthorizedException", "Incorrect username or password.")
    );

    // Sessions expire.
    let fresh = begin().await.unwrap();
    tokio::time::sleep(Duration::from_millis(1100)).await;
    let e = answer(fresh.session().unwrap().to_owned(), "42")
        .await
        .unwrap_err();
    assert_eq!(
        message(&e),
        "Invalid session for the user, session is expired."
    );
    // The wrong user's name with a valid session.
    let fresh = begin().await.unwrap();
    let e = c
        .respond_to_auth_challenge()
        .client_id(CLIENT)
        .challenge_name(ChallengeNameType::CustomChallenge)
        .session(fresh.session().unwrap())
        .challenge_responses("USERNAME", "someone-else@example.test")
        .challenge_responses("ANSWER", "42")
        .send()
        .await
        .unwrap_err();
    assert_eq!(message(&e), "Invalid session for the user.");
}

#[tokio::test]
async fn unknown_users_are_challenged_but_never_signed_in() {
    let seen: Seen = Default::default();
    let s = start(config(TRIGGERS), Some(quiz(seen.clone()))).await;
    let c = &s.client;
    let started = c
        .initiate_auth()
        .client_id(CLIENT)
        .auth_flow(AuthFlowType::CustomAuth)
        .auth_parameters("USERNAME", "ghost@example.test")
        .send()
        .await
        .unwrap();
    assert_eq!(
        started.challenge_parameters().unwrap()["USERNAME"],
        "ghost@example.test"
    );
    assert_eq!(seen.lock().unwrap()[0]["request"]["userNotFound"], true);
    let e = c
        .respond_to_auth_challenge()
        .client_id(CLIENT)
        .challenge_name(ChallengeNameType::CustomChallenge)
        .session(started.session().unwrap())
        .challenge_responses("USERNAME", "ghost@example.test")
        .challenge_responses("ANSWER", "42")
        .send()
        .await
        .unwrap_err();
    assert_eq!(code(&e), "NotAuthorizedException");

    // Without PreventUserExistenceErrors (a client's default, LEGACY) the unknown
    // user is named.
    let s = start(
        config_with(
            &format!("username_attributes = [\"email\"]\n{TRIGGERS}"),
            "",
        ),
        Some(quiz(Default::default())),
    )
    .await;
    let e = s
        .client
        .initiate_auth()
        .client_id(CLIENT)
        .auth_flow(AuthFlowType::CustomAuth)
        .auth_parameters("USERNAME", "ghost@example.test")
        .send()
        .await
        .unwrap_err();
    assert_eq!(code(&e), "UserNotFoundException");
}

#[tokio::test]
async fn admin_flows_run_the_same_machine() {
    let s = start(config(TRIGGERS), Some(quiz(Default::default()))).await;
    let c = &s.client;
    let started = c
        .admin_initiate_auth()
        .user_pool_id(POOL)
        .client_id(CLIENT)
        .auth_flow(AuthFlowType::CustomAuth)
        .auth_parameters("USERNAME", "seed@example.test")
        .send()
        .await
        .unwrap();
    let done = c
        .admin_respond_to_auth_challenge()
        .user_pool_id(POOL)
        .client_id(CLIENT)
        .challenge_name(ChallengeNameType::CustomChallenge)
        .session(started.session().unwrap())
        .challenge_responses("USERNAME", "seed@example.test")
        .challenge_responses("ANSWER", "42")
        .send()
        .await
        .unwrap();
    assert!(done.authentication_result().is_some());
}

#[tokio::test]
async fn failing_slow_and_confused_triggers() {
    let begin = |c: aws_sdk_cognitoidentityprovider::Client| async move {
        c.initiate_auth()
            .client_id(CLIENT)
            .auth_flow(AuthFlowType::CustomAuth)
            .auth_parameters("USERNAME", "seed@example.test")
            .send()
            .await
            .unwrap_err()
    };
    let crash = handler(|_| Err("boom".to_owned()));
    let s = start(config(TRIGGERS), Some(crash)).await;
    let e = begin(s.client.clone()).await;
    assert_eq!(code(&e), "UserLambdaValidationException");
    assert!(
        message(&e).contains("DefineAuthChallenge failed with error boom"),
        "{}",
        message(&e)
    );

    // A trigger that does not answer in time is tried three times, as Cognito does,
    // then the call fails.
    let attempts = Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let counted = attempts.clone();
    let slow: cognito_standin::triggers::InProcessHandler = Arc::new(move |e| {
        counted.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
        Box::pin(async move {
            tokio::time::sleep(Duration::from_secs(2)).await;
            Ok(e)
        })
    });
    let s = start(config(&format!("{TRIGGERS}timeout_ms = 200\n")), Some(slow)).await;
    assert_eq!(
        code(&begin(s.client.clone()).await),
        "UnexpectedLambdaException"
    );
    assert_eq!(attempts.load(std::sync::atomic::Ordering::SeqCst), 3);

    // Slow once, then quick: the retry carries the sign-in on.
    let calls = Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let first_slow: cognito_standin::triggers::InProcessHandler = {
        let calls = calls.clone();
        let quiz = quiz(Default::default());
        Arc::new(move |e| {
            let n = calls.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
            let quiz = quiz.clone();
            Box::pin(async move {
                if n == 0 {
                    tokio::time::sleep(Duration::from_secs(2)).await;
                }
                quiz(e).await
            })
        })
    };
    let s = start(
        config(&format!("{TRIGGERS}timeout_ms = 300\n")),
        Some(first_slow),
    )
    .await;
    let started = s
        .client
        .initiate_auth()
        .client_id(CLIENT)
        .auth_flow(AuthFlowType::CustomAuth)
        .auth_parameters("USERNAME", "seed@example.test")
        .send()
        .await
        .unwrap();
    assert_eq!(started.challenge_parameters().unwrap()["question"], "6*7");

    // A function error is the function's answer: not retried.
    let failures = Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let counted = failures.clone();
    let s = start(
        config(TRIGGERS),
        Some(handler(move |_| {
            counted.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
            Err("nope".to_owned())
        })),
    )
    .await;
    assert_eq!(
        code(&begin(s.client.clone()).await),
        "UserLambdaValidationException"
    );
    assert_eq!(failures.load(std::sync::atomic::Ordering::SeqCst), 1);

    // Output that is not an event.
    let s = start(config(TRIGGERS), Some(handler(|_| Ok(json!("hello"))))).await;
    let e = begin(s.client.clone()).await;
    assert_eq!(
        (code(&e).as_str(), message(&e).as_str()),
        (
            "InvalidLambdaResponseException",
            "Unrecognizable lambda output"
        )
    );

    let confused = handler(|mut e| {
        e["response"] = json!({ "challengeName": "SMS_MFA" });
        Ok(e)
    });
    let s = start(config(TRIGGERS), Some(confused)).await;
    assert_eq!(
        code(&begin(s.client.clone()).await),
        "InvalidLambdaResponseException"
    );

    // No triggers configured at all.
    let s = start(config(""), None).await;
    assert_eq!(
        code(&begin(s.client.clone()).await),
        "InvalidParameterException"
    );
}
