//! Golden tests: real Cognito event JSON in, the same event with our response out.

use cognito_triggers::{Config, Deps, handle};
use serde_json::{Value, json};

use crate::harness::{fixture, only_response_changed};

fn offline(auto_confirm: bool) -> Deps {
    let config =
        Config::from_lookup(|k| (k == "AUTO_CONFIRM" && auto_confirm).then(|| "true".to_owned()))
            .unwrap();
    Deps::new(config).unwrap()
}

async fn run(deps: &Deps, input: &Value) -> Value {
    let output = handle(deps, input.clone()).await.unwrap();
    only_response_changed(input, &output);
    output
}

const AWS: &str = "aws_lambda_events/example-cognito-event-userpools-";

#[tokio::test]
async fn define_golden() {
    let deps = offline(false);
    let vars = [
        ("sub", "8f6e3c1a-0000-4000-8000-000000000001"),
        ("username", "alice"),
    ];
    let challenge = json!({ "challengeName": "CUSTOM_CHALLENGE", "issueTokens": false, "failAuthentication": false });
    let tokens = json!({ "challengeName": null, "issueTokens": true, "failAuthentication": false });
    let fail = json!({ "challengeName": null, "issueTokens": false, "failAuthentication": true });
    let cases: Vec<(Value, Value)> = vec![
        (
            fixture("guide/define-empty-session.json", &vars),
            challenge.clone(),
        ),
        (
            fixture("guide/define-after-correct-answer.json", &vars),
            tokens,
        ),
        (
            fixture("guide/define-after-three-wrong-answers.json", &vars),
            fail.clone(),
        ),
        // userNotFound with a "correct" round: challenged again, never tokens.
        (
            fixture("guide/define-user-not-found.json", &vars),
            challenge,
        ),
        // A password (SRP) round in the session: never mixed with ours.
        (
            fixture(&format!("{AWS}define-auth-challenge.json"), &[]),
            fail.clone(),
        ),
        (
            fixture(
                &format!("{AWS}define-auth-challenge-optional-response-fields.json"),
                &[],
            ),
            fail.clone(),
        ),
        (
            fixture(
                &format!("{AWS}define-auth-challenge-user-not-found.json"),
                &[],
            ),
            fail,
        ),
    ];
    for (input, want) in cases {
        let out = run(&deps, &input).await;
        for (k, v) in want.as_object().unwrap() {
            if !v.is_null() || k != "challengeName" {
                assert_eq!(&out["response"][k], v, "{k} for {}", input["request"]);
            }
        }
    }
}

#[tokio::test]
async fn unknown_fields_survive() {
    let deps = offline(false);
    let input = fixture(
        "guide/define-empty-session.json",
        &[("sub", "s"), ("username", "u")],
    );
    let out = run(&deps, &input).await;
    assert_eq!(out["futureTopLevel"], json!({ "kept": [1, 2, 3] }));
    assert_eq!(out["request"]["futureRequestField"], "kept");
}

#[tokio::test]
async fn pre_sign_up_golden() {
    let input = fixture(&format!("{AWS}presignup.json"), &[]);
    // Default: sign-up exactly as Cognito would (the event comes back unchanged).
    assert_eq!(run(&offline(false), &input).await, input);
    // AUTO_CONFIRM confirms, and never vouches for an address nobody proved: not even
    // when the event arrives with the flags set.
    let out = run(&offline(true), &input).await;
    assert_eq!(out["response"]["autoConfirmUser"], true);
    assert_eq!(out["response"]["autoVerifyEmail"], false);
    assert_eq!(out["response"]["autoVerifyPhone"], false);

    let guide = fixture("guide/presignup.json", &[("sub", "s"), ("username", "u")]);
    let out = run(&offline(true), &guide).await;
    assert_eq!(
        out["response"],
        json!({ "autoConfirmUser": true, "autoVerifyEmail": false, "autoVerifyPhone": false })
    );
}

#[tokio::test]
async fn verify_without_rp_server_configuration_is_a_wrong_answer() {
    let deps = offline(false);
    for name in [
        "verify-auth-challenge.json",
        "verify-auth-challenge-null-answer-correct.json",
        "verify-auth-challenge-optional-answer-correct.json",
        "verify-auth-challenge-user-not-found.json",
    ] {
        let input = fixture(&format!("{AWS}{name}"), &[]);
        let out = run(&deps, &input).await;
        assert_eq!(out["response"]["answerCorrect"], false, "{name}");
    }
}

#[tokio::test]
async fn unsupported_or_malformed_events_are_errors() {
    let deps = offline(false);
    assert!(
        handle(
            &deps,
            json!({ "triggerSource": "PostConfirmation_ConfirmSignUp" })
        )
        .await
        .is_err()
    );
    assert!(handle(&deps, json!({})).await.is_err());
    assert!(
        handle(
            &deps,
            json!({ "triggerSource": "DefineAuthChallenge_Authentication", "request": 5 })
        )
        .await
        .is_err()
    );
    // Verify never errors: a malformed event is a wrong answer.
    let out = handle(
        &deps,
        json!({ "triggerSource": "VerifyAuthChallengeResponse_Authentication" }),
    )
    .await
    .unwrap();
    assert_eq!(out["response"]["answerCorrect"], false);
}
