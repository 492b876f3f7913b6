//! `--triggers`: the `cognito-triggers` function as Lambda runs it — a real function
//! process behind testkit's local Lambda (the Runtime API it polls, the Invoke API Cognito
//! calls) — against the benchmark's rp-server.
//!
//! - Cold start: a new function process each time, from its start to its first answer: a
//!   Define (no rp-server call), then its first Create (its first connection to
//!   rp-server).
//! - Warm: one process, sign-ins one after another, each as Cognito drives it — Define,
//!   Create, then Verify with the nonce of a real passkey sign-in — timed per trigger from
//!   the event's invoke to the answer, rp-server's work included.

use std::path::Path;
use std::time::{Duration, Instant};

use anyhow::{Context as _, bail, ensure};
use serde_json::{Value, json};
use testkit::idp::POOL_ID;
use testkit::lambda::LocalLambda;

use crate::{BenchUser, Ctx, SERVICE_TOKEN};

const COLD_STARTS: usize = 10;

/// Latency samples of one kind, by name.
pub struct Figures {
    pub rows: Vec<(&'static str, Vec<Duration>)>,
}

pub async fn measure(
    binary: &Path,
    ctx: &Ctx,
    rp_url: &str,
    users: &[std::sync::Arc<BenchUser>],
    warm_sign_ins: usize,
) -> anyhow::Result<Figures> {
    ensure!(
        binary.exists(),
        "{} not found (build it with `cargo build --release -p cognito-triggers`)",
        binary.display()
    );
    let env = [
        ("RP_SERVER_URL", rp_url.to_owned()),
        ("RP_SERVICE_TOKEN", SERVICE_TOKEN.to_owned()),
        ("AWS_LAMBDA_LOG_LEVEL", "warn".to_owned()),
    ];
    let start = || LocalLambda::start(binary, "cognito-triggers", &env, Duration::from_secs(5));

    let (mut cold_define, mut cold_create) = (Vec::new(), Vec::new());
    for i in 0..COLD_STARTS {
        let user = &users[i % users.len()];
        let started = Instant::now();
        let lambda = start().await?;
        invoke(ctx, &lambda, &define(ctx, user, "alice")).await?;
        cold_define.push(started.elapsed());
        let started = Instant::now();
        invoke(ctx, &lambda, &create(ctx, user, "alice")).await?;
        cold_create.push(started.elapsed());
    }

    let lambda = start().await?;
    invoke(ctx, &lambda, &define(ctx, &users[0], "alice")).await?;
    let (mut warm_define, mut warm_create, mut warm_verify) = (Vec::new(), Vec::new(), Vec::new());
    for i in 0..warm_sign_ins {
        let user = &users[i % users.len()];
        let signed_in = crate::passkey_sign_in(ctx, user).await?;
        let username = signed_in["username"].as_str().unwrap_or_default();
        let t = Instant::now();
        let defined = invoke(ctx, &lambda, &define(ctx, user, username)).await?;
        warm_define.push(t.elapsed());
        ensure!(
            defined["response"]["challengeName"] == "CUSTOM_CHALLENGE",
            "Define did not challenge: {defined}"
        );
        let t = Instant::now();
        let created = invoke(ctx, &lambda, &create(ctx, user, username)).await?;
        warm_create.push(t.elapsed());
        let challenge_id = created["response"]["privateChallengeParameters"]["challengeId"].clone();
        let t = Instant::now();
        let verified = invoke(
            ctx,
            &lambda,
            &verify(ctx, user, username, &challenge_id, &signed_in["nonce"]),
        )
        .await?;
        warm_verify.push(t.elapsed());
        ensure!(
            verified["response"]["answerCorrect"] == true,
            "Verify refused a good answer: {verified}"
        );
    }
    Ok(Figures {
        rows: vec![
            ("cold start → first Define", cold_define),
            ("cold start's first Create", cold_create),
            ("warm Define", warm_define),
            ("warm Create (rp-server included)", warm_create),
            ("warm Verify (rp-server included)", warm_verify),
        ],
    })
}

async fn invoke(ctx: &Ctx, lambda: &LocalLambda, event: &Value) -> anyhow::Result<Value> {
    let answer = ctx
        .http
        .post(lambda.invoke_url())
        .json(event)
        .send()
        .await
        .context("invoking the function")?;
    if answer.headers().contains_key("x-amz-function-error") {
        bail!("the function failed: {}", answer.text().await?);
    }
    Ok(answer.json().await?)
}

/// The parts every Cognito trigger event shares.
fn event(ctx: &Ctx, user: &BenchUser, username: &str, source: &str, mut request: Value) -> Value {
    request["userAttributes"] = json!({ "sub": user.sub, "cognito:user_status": "CONFIRMED" });
    json!({
        "version": "1", "region": "eu-west-1", "userPoolId": POOL_ID, "userName": username,
        "callerContext": { "awsSdkVersion": "aws-sdk-js-3.614.0", "clientId": ctx.client_id },
        "triggerSource": source,
        "request": request,
        "response": {}
    })
}

fn define(ctx: &Ctx, user: &BenchUser, username: &str) -> Value {
    event(
        ctx,
        user,
        username,
        "DefineAuthChallenge_Authentication",
        json!({ "session": [], "userNotFound": false }),
    )
}

fn create(ctx: &Ctx, user: &BenchUser, username: &str) -> Value {
    event(
        ctx,
        user,
        username,
        "CreateAuthChallenge_Authentication",
        json!({ "challengeName": "CUSTOM_CHALLENGE", "session": [], "userNotFound": false }),
    )
}

fn verify(
    ctx: &Ctx,
    user: &BenchUser,
    username: &str,
    challenge_id: &Value,
    nonce: &Value,
) -> Value {
    event(
        ctx,
        user,
        username,
        "VerifyAuthChallengeResponse_Authentication",
        json!({
            "privateChallengeParameters": { "challengeId": challenge_id },
            "challengeAnswer": nonce,
            "userNotFound": false
        }),
    )
}
