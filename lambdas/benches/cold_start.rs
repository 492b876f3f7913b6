//! Benchmark (prints figures; asserts nothing about speed): the `cognito-triggers`
//! binary's cold start (process start to first handled invoke, through the Lambda
//! Runtime and Invoke APIs) and its warm per-invoke time for triggers that make no
//! rp-server call (Define, PreSignUp), plus the handler alone, in process.
//!
//!     cargo bench -p cognito-triggers --bench cold_start
//!
//! Runs against the binary of the same profile (release for `cargo bench`).

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::path::Path;
use std::time::{Duration, Instant};

use serde_json::{Value, json};
use testkit::lambda::LocalLambda;

const COLD_RUNS: usize = 10;
const WARM_INVOKES: usize = 300;

fn define_event() -> Value {
    json!({
        "version": "1", "region": "eu-west-1", "userPoolId": "eu-west-1_Example", "userName": "alice",
        "callerContext": { "awsSdkVersion": "aws-sdk-js-3.614.0", "clientId": "client" },
        "triggerSource": "DefineAuthChallenge_Authentication",
        "request": {
            "userAttributes": { "sub": "8f6e3c1a-0000-4000-8000-000000000001", "cognito:user_status": "CONFIRMED" },
            "session": [{ "challengeName": "CUSTOM_CHALLENGE", "challengeResult": true, "challengeMetadata": "PASSKEY" }],
            "userNotFound": false
        },
        "response": {}
    })
}

fn pre_sign_up_event() -> Value {
    json!({
        "version": "1", "region": "eu-west-1", "userPoolId": "eu-west-1_Example", "userName": "alice",
        "callerContext": { "awsSdkVersion": "aws-sdk-js-3.614.0", "clientId": "client" },
        "triggerSource": "PreSignUp_SignUp",
        "request": { "userAttributes": { "email": "alice@example.test" } },
        "response": { "autoConfirmUser": false, "autoVerifyEmail": false, "autoVerifyPhone": false }
    })
}

fn stats(mut samples: Vec<Duration>) -> String {
    samples.sort();
    let pct = |p: f64| samples[((samples.len() as f64 - 1.0) * p).round() as usize];
    let mean = samples.iter().sum::<Duration>() / samples.len() as u32;
    format!(
        "n={:<4} mean={:>9.3?} p50={:>9.3?} p90={:>9.3?} max={:>9.3?}",
        samples.len(),
        mean,
        pct(0.5),
        pct(0.9),
        pct(1.0)
    )
}

async fn invoke(http: &reqwest::Client, lambda: &LocalLambda, event: &Value) {
    let r = http
        .post(lambda.invoke_url())
        .json(event)
        .send()
        .await
        .unwrap();
    assert!(r.headers().get("x-amz-function-error").is_none());
    let _: Value = r.json().await.unwrap();
}

#[tokio::main]
async fn main() {
    let binary = Path::new(env!("CARGO_BIN_EXE_cognito-triggers"));
    let http = reqwest::Client::new();
    let env = [
        ("AUTO_CONFIRM", "true".to_owned()),
        ("AWS_LAMBDA_LOG_LEVEL", "warn".to_owned()),
    ];

    let mut cold = Vec::new();
    for _ in 0..COLD_RUNS {
        let started = Instant::now();
        let lambda = LocalLambda::start(binary, "cognito-triggers", &env, Duration::from_secs(5))
            .await
            .unwrap();
        invoke(&http, &lambda, &define_event()).await;
        cold.push(started.elapsed());
    }

    let lambda = LocalLambda::start(binary, "cognito-triggers", &env, Duration::from_secs(5))
        .await
        .unwrap();
    invoke(&http, &lambda, &define_event()).await;
    let mut warm_define = Vec::new();
    let mut warm_signup = Vec::new();
    for _ in 0..WARM_INVOKES {
        let t = Instant::now();
        invoke(&http, &lambda, &define_event()).await;
        warm_define.push(t.elapsed());
        let t = Instant::now();
        invoke(&http, &lambda, &pre_sign_up_event()).await;
        warm_signup.push(t.elapsed());
    }

    let config =
        cognito_triggers::Config::from_lookup(|k| (k == "AUTO_CONFIRM").then(|| "true".to_owned()))
            .unwrap();
    let deps = cognito_triggers::Deps::new(config).unwrap();
    let mut in_process = Vec::new();
    for _ in 0..WARM_INVOKES * 10 {
        let t = Instant::now();
        let _ = cognito_triggers::handle(&deps, define_event())
            .await
            .unwrap();
        in_process.push(t.elapsed());
    }

    println!(
        "cognito-triggers ({})",
        if cfg!(debug_assertions) {
            "debug build"
        } else {
            "release build"
        }
    );
    println!(
        "  cold start, process start → first Define handled: {}",
        stats(cold)
    );
    println!(
        "  warm Define through the Invoke API:                {}",
        stats(warm_define)
    );
    println!(
        "  warm PreSignUp through the Invoke API:             {}",
        stats(warm_signup)
    );
    println!(
        "  Define handler alone, in process:                  {}",
        stats(in_process)
    );
}
