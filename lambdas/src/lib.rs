//! Cognito custom-auth triggers backed by rp-server: Define, Create and Verify Auth
//! Challenge, and PreSignUp, in one handler that dispatches on `triggerSource` (so one
//! warm function can serve a whole sign-in; the same binary can also be deployed once
//! per trigger).
//!
//! Every handler returns the event it was given with only `response` changed: it reads
//! a typed view of the event (`aws_lambda_events`) and writes its answer into the
//! original JSON, so fields this code does not know survive untouched.

pub mod config;
pub mod rp;

use std::collections::HashMap;

use aws_lambda_events::event::cognito::{
    CognitoEventUserPoolsCreateAuthChallenge, CognitoEventUserPoolsDefineAuthChallenge,
    CognitoEventUserPoolsPreSignup, CognitoEventUserPoolsVerifyAuthChallenge,
};
use rp_shared::internal::{ChallengeRequest, RedeemRequest};
use rp_shared::triggers::{self, CHALLENGE_METADATA, CUSTOM_CHALLENGE, DefineOutcome, Round};
use serde_json::{Value, json};

pub use config::Config;
use rp::RpClient;

/// The error type the Lambda runtime reports to Cognito (which then fails the sign-in
/// with `UserLambdaValidationException`).
pub type Error = lambda_runtime::Error;

/// What a handler needs, built once per container.
pub struct Deps {
    pub config: Config,
    pub rp: RpClient,
}

impl Deps {
    pub fn new(config: Config) -> Result<Self, Error> {
        let rp = RpClient::new(&config)?;
        Ok(Self { config, rp })
    }
}

/// Names the private challenge parameter that carries rp-server's challenge id.
pub const CHALLENGE_ID_PARAM: &str = "challengeId";

/// What Cognito (and through it the app, in `… failed with error <message>`) hears of
/// any failure: one constant sentence (Cognito adds the full stop). Why it failed — an rp-server address, a status, a
/// parse error — goes to the function's log only.
pub const FAILURE_MESSAGE: &str = "Passkey sign-in is unavailable; try again later";

/// Handles any supported trigger event. A failure is logged in detail and answered with
/// [`FAILURE_MESSAGE`].
pub async fn handle(deps: &Deps, event: Value) -> Result<Value, Error> {
    handle_event(deps, event).await.map_err(|e| {
        tracing::error!(error = %e, "trigger failed");
        Error::from(FAILURE_MESSAGE)
    })
}

async fn handle_event(deps: &Deps, event: Value) -> Result<Value, Error> {
    let source = event
        .get("triggerSource")
        .and_then(Value::as_str)
        .unwrap_or_default()
        .to_owned();
    match source.split('_').next().unwrap_or_default() {
        "DefineAuthChallenge" => define(deps, event),
        "CreateAuthChallenge" => create(deps, event).await,
        "VerifyAuthChallengeResponse" => Ok(verify(deps, event).await),
        "PreSignUp" => pre_sign_up(deps, event),
        _ => Err(format!("unsupported triggerSource `{source}`").into()),
    }
}

/// Merges `fields` into the event's `response` object.
fn respond(mut event: Value, fields: Value) -> Value {
    if let Some(obj) = event.as_object_mut() {
        let response = obj.entry("response").or_insert_with(|| json!({}));
        if !response.is_object() {
            *response = json!({});
        }
        if let (Some(r), Value::Object(f)) = (response.as_object_mut(), fields) {
            r.extend(f);
        }
    }
    event
}

fn rounds(
    session: &[Option<aws_lambda_events::event::cognito::CognitoEventUserPoolsChallengeResult>],
) -> Vec<Round> {
    session
        .iter()
        .map(|r| match r {
            Some(r) => Round {
                challenge_name: r.challenge_name.clone().unwrap_or_default(),
                challenge_result: r.challenge_result,
            },
            // A null round is unexpected: make it one that fails the sign-in.
            None => Round {
                challenge_name: String::new(),
                challenge_result: false,
            },
        })
        .collect()
}

/// Define Auth Challenge: see [`rp_shared::triggers::define`].
pub fn define(deps: &Deps, event: Value) -> Result<Value, Error> {
    let typed: CognitoEventUserPoolsDefineAuthChallenge = serde_json::from_value(event.clone())?;
    let outcome = triggers::define(
        &rounds(&typed.request.session),
        typed.request.user_not_found,
        deps.config.max_attempts,
    );
    tracing::info!(outcome = ?outcome, rounds = typed.request.session.len(), "define auth challenge");
    Ok(respond(
        event,
        match outcome {
            DefineOutcome::Challenge => {
                json!({ "challengeName": CUSTOM_CHALLENGE, "issueTokens": false, "failAuthentication": false })
            }
            DefineOutcome::IssueTokens => {
                json!({ "issueTokens": true, "failAuthentication": false })
            }
            DefineOutcome::Fail => json!({ "issueTokens": false, "failAuthentication": true }),
        },
    ))
}

/// Create Auth Challenge: asks rp-server for a WebAuthn request for this user. The
/// ceremony id and the options are public (the browser needs them; values are strings,
/// so the options are JSON-encoded); the challenge id stays private.
pub async fn create(deps: &Deps, event: Value) -> Result<Value, Error> {
    let typed: CognitoEventUserPoolsCreateAuthChallenge = serde_json::from_value(event.clone())?;
    let request = &typed.request;
    if request.challenge_name.as_deref() != Some(CUSTOM_CHALLENGE) {
        return Err(format!("unexpected challengeName {:?}", request.challenge_name).into());
    }
    let header = &typed.cognito_event_user_pools_header;
    let user_sub = if request.user_not_found {
        String::new()
    } else {
        request
            .user_attributes
            .get("sub")
            .cloned()
            .unwrap_or_default()
    };
    let ask = ChallengeRequest {
        user_pool_id: header.user_pool_id.clone().unwrap_or_default(),
        client_id: header.caller_context.client_id.clone().unwrap_or_default(),
        user_not_found: request.user_not_found || user_sub.is_empty(),
        user_sub,
        username: header.user_name.clone().unwrap_or_default(),
    };
    let challenge = deps
        .rp
        .challenge(&ask)
        .await
        .map_err(|e| Error::from(format!("rp-server did not issue a challenge: {e}")))?;
    let public_key = serde_json::to_string(&challenge.public_key)?;
    let public: HashMap<&str, String> = HashMap::from([
        ("ceremonyId", challenge.ceremony_id),
        ("publicKey", public_key),
    ]);
    let private: HashMap<&str, String> =
        HashMap::from([(CHALLENGE_ID_PARAM, challenge.challenge_id)]);
    tracing::info!("create auth challenge");
    Ok(respond(
        event,
        json!({
            "publicChallengeParameters": public,
            "privateChallengeParameters": private,
            "challengeMetadata": CHALLENGE_METADATA,
        }),
    ))
}

/// Verify Auth Challenge Response: the answer is correct only when rp-server redeems
/// the nonce for this user and challenge. Anything else (timeouts, errors, a missing
/// challenge id, malformed events) is a wrong answer. The nonce is never logged.
pub async fn verify(deps: &Deps, event: Value) -> Value {
    let correct = match check_answer(deps, &event).await {
        Ok(()) => true,
        Err(why) => {
            tracing::warn!(reason = %why, "challenge answer refused");
            false
        }
    };
    if correct {
        tracing::info!("challenge answer accepted");
    }
    respond(event, json!({ "answerCorrect": correct }))
}

async fn check_answer(deps: &Deps, event: &Value) -> Result<(), String> {
    let typed: CognitoEventUserPoolsVerifyAuthChallenge =
        serde_json::from_value(event.clone()).map_err(|e| format!("malformed event: {e}"))?;
    let request = &typed.request;
    if request.user_not_found {
        return Err("user not found".to_owned());
    }
    let nonce = match &request.challenge_answer {
        Some(Value::String(s)) if !s.is_empty() => s.clone(),
        _ => return Err("no answer".to_owned()),
    };
    let challenge_id = request
        .private_challenge_parameters
        .get(CHALLENGE_ID_PARAM)
        .filter(|c| !c.is_empty())
        .cloned()
        .ok_or("no challenge id in privateChallengeParameters")?;
    let user_sub = request
        .user_attributes
        .get("sub")
        .filter(|s| !s.is_empty())
        .cloned()
        .ok_or("no sub in userAttributes")?;
    let email = (request
        .user_attributes
        .get("email_verified")
        .map(String::as_str)
        == Some("true"))
    .then(|| request.user_attributes.get("email").cloned())
    .flatten();
    let answer = deps
        .rp
        .redeem(&RedeemRequest {
            nonce,
            user_sub,
            challenge_id,
            email,
            user_pool_id: typed.cognito_event_user_pools_header.user_pool_id.clone(),
        })
        .await
        .map_err(|e| e.to_string())?;
    if answer.valid {
        Ok(())
    } else {
        Err(format!(
            "rp-server: {}",
            answer.reason.map(|r| r.as_str()).unwrap_or("invalid")
        ))
    }
}

/// PreSignUp: leaves sign-up as Cognito would, unless `AUTO_CONFIRM=true`, which
/// confirms the user. It never marks an email or phone number verified: a PreSignUp
/// trigger has not seen the address proven, and with self-service `SignUp` open anyone
/// could otherwise register someone else's address as verified. (Cognito ignores these
/// flags for `PreSignUp_AdminCreateUser` anyway; rp-server's own sign-up sets
/// `email_verified` through AdminCreateUser's attributes where it has proven the address.)
pub fn pre_sign_up(deps: &Deps, event: Value) -> Result<Value, Error> {
    let _typed: CognitoEventUserPoolsPreSignup = serde_json::from_value(event.clone())?;
    if !deps.config.auto_confirm {
        return Ok(event);
    }
    Ok(respond(
        event,
        json!({ "autoConfirmUser": true, "autoVerifyEmail": false, "autoVerifyPhone": false }),
    ))
}
