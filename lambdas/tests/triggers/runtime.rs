//! The real `cognito-triggers` binary as a Lambda function, invoked through the Lambda
//! Invoke API, as Cognito invokes it.

use std::path::Path;
use std::time::Duration;

use serde_json::{Value, json};
use testkit::authenticator::SoftAuthenticator;
use testkit::lambda::LocalLambda;

use crate::harness::{Rp, SERVICE_TOKEN, fixture};

async fn invoke(lambda: &LocalLambda, event: &Value) -> (Option<String>, Value) {
    let r = reqwest::Client::new()
        .post(lambda.invoke_url())
        .json(event)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    let error = r
        .headers()
        .get("x-amz-function-error")
        .map(|v| v.to_str().unwrap().to_owned());
    (error, r.json().await.unwrap())
}

#[tokio::test]
async fn one_warm_function_serves_a_whole_sign_in() {
    let rp = Rp::start().await;
    let mut authn = SoftAuthenticator::new();
    let (sub, username) = rp.user_with_passkey("alice", &mut authn).await;
    let lambda = LocalLambda::start(
        Path::new(env!("CARGO_BIN_EXE_cognito-triggers")),
        "cognito-triggers",
        &[
            ("RP_SERVER_URL", rp.base.clone()),
            ("RP_SERVICE_TOKEN", SERVICE_TOKEN.to_owned()),
            ("AWS_LAMBDA_LOG_FORMAT", "JSON".to_owned()),
        ],
        Duration::from_secs(5),
    )
    .await
    .unwrap();
    let vars = [("sub", sub.as_str()), ("username", username.as_str())];

    let (err, defined) = invoke(&lambda, &fixture("guide/define-empty-session.json", &vars)).await;
    assert_eq!(err, None);
    assert_eq!(defined["response"]["challengeName"], "CUSTOM_CHALLENGE");
    assert_eq!(defined["futureTopLevel"], json!({ "kept": [1, 2, 3] }));

    let (err, created) = invoke(&lambda, &fixture("guide/create.json", &vars)).await;
    assert_eq!(err, None, "{created}");
    let nonce = rp.answer(&created, &mut authn).await;
    let cid = created["response"]["privateChallengeParameters"]["challengeId"]
        .as_str()
        .unwrap();
    let verify = fixture(
        "guide/verify.json",
        &[
            ("sub", &sub),
            ("username", &username),
            ("answer", &nonce),
            ("challengeId", cid),
        ],
    );
    let (err, verified) = invoke(&lambda, &verify).await;
    assert_eq!(err, None);
    assert_eq!(verified["response"]["answerCorrect"], true);

    let (_, tokens) = invoke(
        &lambda,
        &fixture("guide/define-after-correct-answer.json", &vars),
    )
    .await;
    assert_eq!(tokens["response"]["issueTokens"], true);

    // An event the function does not handle is a function error, as Lambda reports it,
    // with the one constant message Cognito passes on (the details are in the log).
    let (err, body) = invoke(&lambda, &json!({ "triggerSource": "CustomMessage_SignUp" })).await;
    assert_eq!(err.as_deref(), Some("Unhandled"));
    assert_eq!(
        body["errorMessage"].as_str(),
        Some(cognito_triggers::FAILURE_MESSAGE)
    );
}

#[tokio::test]
async fn a_misconfigured_function_fails_at_init() {
    let lambda = LocalLambda::start(
        Path::new(env!("CARGO_BIN_EXE_cognito-triggers")),
        "cognito-triggers",
        &[("MAX_ATTEMPTS", "many".to_owned())],
        Duration::from_secs(5),
    )
    .await
    .unwrap();
    let (err, body) = invoke(
        &lambda,
        &fixture(
            "guide/define-empty-session.json",
            &[("sub", "s"), ("username", "u")],
        ),
    )
    .await;
    assert!(err.is_some(), "{body}");
}
