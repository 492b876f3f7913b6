//! Sign-in: the auth flows, the custom-auth trigger state machine, tokens, sign-out.

use std::collections::BTreeMap;

use chrono::{Duration, Utc};
use serde_json::{Value, json};

use crate::config::PoolConfig;
use crate::error::CognitoError;
use crate::pool::{
    AuthSession, Pool, RefreshGrant, Round, SessionKind, SrpSession, UserStatus, opaque_token,
};
use crate::{Standin, Trigger, required, string_map};
use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;

const CUSTOM_CHALLENGE: &str = "CUSTOM_CHALLENGE";

/// A required entry of `AuthParameters` or `ChallengeResponses`, refused as Cognito
/// refuses it.
fn param<'a>(map: &'a Value, name: &str) -> Result<&'a str, CognitoError> {
    map.get(name)
        .and_then(Value::as_str)
        .filter(|v| !v.is_empty())
        .ok_or_else(|| {
            CognitoError::invalid_parameter(format!("Missing required parameter {name}"))
        })
}

/// `SECRET_HASH = base64(HMAC-SHA256(client secret, username ‖ client id))`, required
/// from a client with a secret and refused from one without.
pub(crate) fn check_secret_hash(
    p: &Pool,
    client_id: &str,
    username: &str,
    given: Option<&Value>,
) -> Result<(), CognitoError> {
    use base64::Engine as _;
    use hmac::Mac as _;
    let client = p.client(client_id)?;
    let given = given.and_then(Value::as_str);
    match (&client.secret, given) {
        (None, None) => Ok(()),
        (None, Some(_)) => Err(CognitoError::not_authorized(format!(
            "Client {client_id} is not configured with a secret."
        ))),
        (Some(_), None) => Err(CognitoError::not_authorized(format!(
            "Client {client_id} is configured with secret but SECRET_HASH was not received"
        ))),
        (Some(secret), Some(given)) => {
            let mut mac = hmac::Hmac::<sha2::Sha256>::new_from_slice(secret.as_bytes())
                .map_err(|e| CognitoError::new("InternalErrorException", e.to_string()))?;
            mac.update(username.as_bytes());
            mac.update(client_id.as_bytes());
            let ok = base64::engine::general_purpose::STANDARD
                .decode(given)
                .is_ok_and(|g| mac.verify_slice(&g).is_ok());
            if ok {
                Ok(())
            } else {
                Err(CognitoError::not_authorized(format!(
                    "Unable to verify secret hash for client {client_id}"
                )))
            }
        }
    }
}

/// Who a custom-auth sign-in is for, as read at its start.
struct Subject {
    username: String,
    attributes: BTreeMap<String, String>,
    user_not_found: bool,
}

/// `InitiateAuth` / `AdminInitiateAuth`.
pub async fn initiate_auth(s: &Standin, input: &Value, admin: bool) -> Result<Value, CognitoError> {
    let client_id = required(input, "ClientId")?.to_owned();
    let pool_id = s.pool_of_client(&client_id)?;
    if admin && required(input, "UserPoolId")? != pool_id {
        return Err(CognitoError::resource_not_found(
            "User pool client does not exist.",
        ));
    }
    let flow = required(input, "AuthFlow")?;
    let params = input
        .get("AuthParameters")
        .cloned()
        .unwrap_or_else(|| json!({}));
    // Cognito does not pass InitiateAuth's ClientMetadata to Define and Create (only
    // to PreSignUp-like triggers this stand-in does not run here).
    match flow {
        "CUSTOM_AUTH" => {
            let name = param(&params, "USERNAME")?.to_owned();
            s.with_pool(&pool_id, |p| {
                p.client_allows(&client_id, "ALLOW_CUSTOM_AUTH")?;
                check_secret_hash(p, &client_id, &name, params.get("SECRET_HASH"))
            })?;
            let subject = s.with_pool(&pool_id, |p| match p.find(&name) {
                Some(i) => {
                    let u = &p.users[i];
                    if !u.enabled {
                        return Err(CognitoError::not_authorized("User is disabled."));
                    }
                    if u.status == UserStatus::Unconfirmed {
                        return Err(CognitoError::new("UserNotConfirmedException", "User is not confirmed."));
                    }
                    Ok(Subject {
                        username: u.username.clone(),
                        attributes: with_status(&u.attributes, u.status),
                        user_not_found: false,
                    })
                }
                None if p.hides_user_existence(&client_id) => Ok(Subject {
                    username: name.clone(),
                    attributes: BTreeMap::new(),
                    user_not_found: true,
                }),
                None => Err(CognitoError::user_not_found()),
            })?;
            let pool = s.pool_config(&pool_id)?;
            if pool.triggers.define_auth_challenge.is_none() {
                return Err(CognitoError::invalid_parameter(
                    "Custom auth lambda trigger is not configured for the user pool.",
                ));
            }
            custom_round(s, &pool, &client_id, subject, Vec::new(), None).await
        }
        "USER_AUTH" => {
            let name = param(&params, "USERNAME")?.to_owned();
            let preferred = params
                .get("PREFERRED_CHALLENGE")
                .and_then(Value::as_str)
                .map(str::to_owned);
            s.with_pool(&pool_id, |p| {
                p.client_allows(&client_id, "ALLOW_USER_AUTH")?;
                check_secret_hash(p, &client_id, &name, params.get("SECRET_HASH"))?;
                let (username, found) = match p.find(&name) {
                    Some(i) => {
                        let u = &p.users[i];
                        if !u.enabled {
                            return Err(CognitoError::not_authorized("User is disabled."));
                        }
                        (u.username.clone(), true)
                    }
                    None if p.hides_user_existence(&client_id) => (name.clone(), false),
                    None => return Err(CognitoError::user_not_found()),
                };
                let passkey = if found {
                    crate::webauthn::sign_in_options(p, &username)
                } else {
                    None
                };
                if let (Some("WEB_AUTHN"), Some((options, challenge))) = (preferred.as_deref(), &passkey) {
                    let session = new_session(
                        p,
                        SessionKind::WebAuthn,
                        &client_id,
                        &username,
                        false,
                        Vec::new(),
                        json!({ "challenge": URL_SAFE_NO_PAD.encode(challenge) }),
                        None,
                    );
                    return Ok(json!({
                        "ChallengeName": "WEB_AUTHN",
                        "Session": session,
                        "ChallengeParameters": {
                            "USERNAME": username,
                            "CREDENTIAL_REQUEST_OPTIONS": options.to_string(),
                        },
                    }));
                }
                // Otherwise the user picks among the first factors the pool allows and
                // they can answer (an unknown user sees the password ones).
                let mut available = Vec::new();
                for factor in &p.config.allowed_first_auth_factors {
                    match factor.as_str() {
                        "PASSWORD" => available.extend(["PASSWORD", "PASSWORD_SRP"]),
                        "WEB_AUTHN" if passkey.is_some() => available.push("WEB_AUTHN"),
                        _ => {}
                    }
                }
                let session = new_session(
                    p,
                    SessionKind::SelectChallenge,
                    &client_id,
                    &username,
                    !found,
                    Vec::new(),
                    json!({}),
                    None,
                );
                Ok(json!({
                    "ChallengeName": "SELECT_CHALLENGE",
                    "Session": session,
                    "AvailableChallenges": available,
                    "ChallengeParameters": { "USERNAME": username },
                }))
            })
        }
        "USER_SRP_AUTH" => {
            let name = param(&params, "USERNAME")?.to_owned();
            let a_hex = param(&params, "SRP_A")?.to_owned();
            s.with_pool(&pool_id, |p| {
                p.client_allows(&client_id, "ALLOW_USER_SRP_AUTH")?;
                check_secret_hash(p, &client_id, &name, params.get("SECRET_HASH"))?;
                let pool_name = p.config.name().to_owned();
                let (username, verifier, found) = match p.find(&name) {
                    Some(i) => {
                        let u = &p.users[i];
                        if !u.enabled {
                            return Err(CognitoError::not_authorized("User is disabled."));
                        }
                        let verifier = u
                            .srp
                            .clone()
                            .map_or_else(|| crate::srp::Verifier::decoy(&pool_name, &u.username), Ok)?;
                        (u.username.clone(), verifier, true)
                    }
                    None if p.hides_user_existence(&client_id) => {
                        (name.clone(), crate::srp::Verifier::decoy(&pool_name, &name)?, false)
                    }
                    None => return Err(CognitoError::user_not_found()),
                };
                let round = crate::srp::ServerRound::start(&verifier)?;
                let params = json!({
                    "SALT": verifier.salt_hex,
                    "SRP_B": round.b_pub_hex,
                    "SECRET_BLOCK": round.secret_block,
                    "USER_ID_FOR_SRP": username,
                    "USERNAME": username,
                });
                // Cognito answers PASSWORD_VERIFIER without a Session: the client's
                // answer names the round by its secret block (the key kept here).
                let session = new_session(p, SessionKind::PasswordVerifier, &client_id, &username, !found, Vec::new(), json!({}), None);
                if let Some(mut sess) = p.sessions.remove(&session) {
                    sess.srp = Some(SrpSession { round: round.clone(), a_hex, verifier });
                    p.sessions.insert(round.secret_block.clone(), sess);
                }
                Ok(json!({
                    "ChallengeName": "PASSWORD_VERIFIER",
                    "ChallengeParameters": params,
                }))
            })
        }
        "USER_PASSWORD_AUTH" | "ADMIN_USER_PASSWORD_AUTH" | "ADMIN_NO_SRP_AUTH" => {
            let allow = if admin { "ALLOW_ADMIN_USER_PASSWORD_AUTH" } else { "ALLOW_USER_PASSWORD_AUTH" };
            if admin == (flow == "USER_PASSWORD_AUTH") {
                return Err(CognitoError::invalid_parameter(format!("Unsupported auth flow {flow} for this operation.")));
            }
            s.with_pool(&pool_id, |p| {
                p.client_allows(&client_id, allow)?;
                let name = param(&params, "USERNAME")?;
                let password = param(&params, "PASSWORD")?;
                check_secret_hash(p, &client_id, name, params.get("SECRET_HASH"))?;
                let Some(i) = p.find(name) else {
                    return Err(if p.hides_user_existence(&client_id) {
                        CognitoError::bad_credentials()
                    } else {
                        CognitoError::user_not_found()
                    });
                };
                let user = &p.users[i];
                if !user.password_matches(password) {
                    return Err(CognitoError::bad_credentials());
                }
                if !user.enabled {
                    return Err(CognitoError::not_authorized("User is disabled."));
                }
                let username = user.username.clone();
                password_verified(s, p, &username, &client_id)
            })
        }
        "REFRESH_TOKEN_AUTH" | "REFRESH_TOKEN" => s.with_pool(&pool_id, |p| {
            p.client_allows(&client_id, "ALLOW_REFRESH_TOKEN_AUTH")?;
            let token = param(&params, "REFRESH_TOKEN")?;
            let invalid = || CognitoError::not_authorized("Invalid Refresh Token");
            let grant = p.refresh_tokens.get(token).cloned().ok_or_else(invalid)?;
            if grant.client_id != client_id || p.revoked.contains(&grant.origin_jti) {
                return Err(invalid());
            }
            let user = p.user(&grant.username).map_err(|_| invalid())?;
            if !user.enabled {
                return Err(CognitoError::not_authorized("User is disabled."));
            }
            let issuer = s.issuer(&p.config.id);
            Ok(json!({ "ChallengeParameters": {}, "AuthenticationResult": issue_tokens(s, p, &issuer, &grant.username, &client_id, Some(&grant), None)? }))
        }),
        other => Err(CognitoError::invalid_parameter(format!(
            "Unsupported auth flow {other} in the Cognito stand-in."
        ))),
    }
}

/// After a correct password (plain or SRP): the user's status decides — tokens, a new
/// password first, or not confirmed yet.
fn password_verified(
    s: &Standin,
    p: &mut Pool,
    username: &str,
    client_id: &str,
) -> Result<Value, CognitoError> {
    let user = p.user(username)?;
    match user.status {
        UserStatus::Unconfirmed => Err(CognitoError::new(
            "UserNotConfirmedException",
            "User is not confirmed.",
        )),
        UserStatus::ForceChangePassword => {
            let username = user.username.clone();
            let attributes: BTreeMap<_, _> = user
                .attributes
                .iter()
                .filter(|(k, _)| k.as_str() != "sub")
                .map(|(k, v)| (k.clone(), v.clone()))
                .collect();
            let session = new_session(
                p,
                SessionKind::NewPasswordRequired,
                client_id,
                &username,
                false,
                Vec::new(),
                json!({}),
                None,
            );
            Ok(json!({
                "ChallengeName": "NEW_PASSWORD_REQUIRED",
                "Session": session,
                "ChallengeParameters": {
                    "USER_ID_FOR_SRP": username,
                    "requiredAttributes": "[]",
                    "userAttributes": serde_json::to_string(&attributes).unwrap_or_default(),
                },
            }))
        }
        UserStatus::Confirmed => {
            let username = user.username.clone();
            let issuer = s.issuer(&p.config.id);
            Ok(
                json!({ "ChallengeParameters": {}, "AuthenticationResult": issue_tokens(s, p, &issuer, &username, client_id, None, None)? }),
            )
        }
        // A federated user has no password of the pool's.
        UserStatus::ExternalProvider => Err(CognitoError::bad_credentials()),
    }
}

fn with_status(
    attributes: &BTreeMap<String, String>,
    status: UserStatus,
) -> BTreeMap<String, String> {
    let mut a = attributes.clone();
    a.insert("cognito:user_status".to_owned(), status.as_str().to_owned());
    a
}

#[allow(clippy::too_many_arguments)]
fn new_session(
    p: &mut Pool,
    kind: SessionKind,
    client_id: &str,
    username: &str,
    user_not_found: bool,
    rounds: Vec<Round>,
    private_parameters: Value,
    challenge_metadata: Option<String>,
) -> String {
    let now = Utc::now();
    p.purge_expired(now);
    let lifetime = p
        .client(client_id)
        .map(|c| c.session_lifetime_secs())
        .unwrap_or(180);
    let id = opaque_token(96);
    p.sessions.insert(
        id.clone(),
        AuthSession {
            kind,
            client_id: client_id.to_owned(),
            username: username.to_owned(),
            user_not_found,
            rounds,
            private_parameters,
            challenge_metadata,
            srp: None,
            expires_at: now + Duration::seconds(lifetime as i64),
        },
    );
    id
}

/// One turn of Cognito's custom-auth loop: Define decides; then tokens, failure, or
/// Create makes the next challenge.
async fn custom_round(
    s: &Standin,
    pool: &PoolConfig,
    client_id: &str,
    subject: Subject,
    rounds: Vec<Round>,
    // Only RespondToAuthChallenge's reaches Define and Create.
    client_metadata: Option<&Value>,
) -> Result<Value, CognitoError> {
    let session_json: Vec<Value> = rounds.iter().map(Round::to_json).collect();
    let mut define_request = json!({
        "userAttributes": subject.attributes,
        "session": session_json,
        "userNotFound": subject.user_not_found,
    });
    if let Some(m) = client_metadata {
        define_request["clientMetadata"] = m.clone();
    }
    let define_event = s.event(
        pool,
        "DefineAuthChallenge_Authentication",
        &subject.username,
        Some(client_id),
        define_request,
        json!({ "challengeName": null, "issueTokens": null, "failAuthentication": null }),
    );
    let defined = s
        .trigger(pool, Trigger::Define, define_event)
        .await?
        .ok_or_else(|| {
            CognitoError::invalid_parameter(
                "Custom auth lambda trigger is not configured for the user pool.",
            )
        })?;
    let response = &defined["response"];
    let flag = |k: &str| response.get(k).and_then(Value::as_bool).unwrap_or(false);
    if flag("issueTokens") && !flag("failAuthentication") {
        if subject.user_not_found {
            return Err(CognitoError::bad_credentials());
        }
        return s.with_pool(&pool.id, |p| {
            let issuer = s.issuer(&p.config.id);
            Ok(json!({ "ChallengeParameters": {}, "AuthenticationResult": issue_tokens(s, p, &issuer, &subject.username, client_id, None, None)? }))
        });
    }
    if flag("failAuthentication") {
        return Err(CognitoError::bad_credentials());
    }
    match response.get("challengeName").and_then(Value::as_str) {
        Some(CUSTOM_CHALLENGE) => {}
        Some(other) => {
            return Err(CognitoError::new(
                "InvalidLambdaResponseException",
                format!(
                    "Invalid lambda response: the stand-in only runs CUSTOM_CHALLENGE, not {other}."
                ),
            ));
        }
        None => {
            return Err(CognitoError::new(
                "InvalidLambdaResponseException",
                "Invalid lambda response received: no challengeName, issueTokens or failAuthentication.",
            ));
        }
    }

    let mut create_request = json!({
        "userAttributes": subject.attributes,
        "challengeName": CUSTOM_CHALLENGE,
        "session": session_json,
        "userNotFound": subject.user_not_found,
    });
    if let Some(m) = client_metadata {
        create_request["clientMetadata"] = m.clone();
    }
    let create_event = s.event(
        pool,
        "CreateAuthChallenge_Authentication",
        &subject.username,
        Some(client_id),
        create_request,
        json!({ "publicChallengeParameters": null, "privateChallengeParameters": null, "challengeMetadata": null }),
    );
    let created = s
        .trigger(pool, Trigger::Create, create_event)
        .await?
        .ok_or_else(|| {
            CognitoError::invalid_parameter(
                "Custom auth lambda trigger is not configured for the user pool.",
            )
        })?;
    let response = &created["response"];
    let strings = |k: &str| -> Result<serde_json::Map<String, Value>, CognitoError> {
        match response.get(k) {
            None | Some(Value::Null) => Ok(Default::default()),
            Some(Value::Object(m)) if m.values().all(Value::is_string) => Ok(m.clone()),
            Some(_) => Err(CognitoError::new(
                "InvalidLambdaResponseException",
                format!("Invalid lambda response received: {k} values must be strings."),
            )),
        }
    };
    let mut public = strings("publicChallengeParameters")?;
    let private = strings("privateChallengeParameters")?;
    let metadata = response
        .get("challengeMetadata")
        .and_then(Value::as_str)
        .map(str::to_owned);
    public.insert(
        "USERNAME".to_owned(),
        Value::String(subject.username.clone()),
    );
    let session = s.with_pool(&pool.id, |p| {
        Ok(new_session(
            p,
            SessionKind::Custom,
            client_id,
            &subject.username,
            subject.user_not_found,
            rounds,
            Value::Object(private),
            metadata,
        ))
    })?;
    Ok(json!({
        "ChallengeName": CUSTOM_CHALLENGE,
        "Session": session,
        "ChallengeParameters": public,
    }))
}

/// `RespondToAuthChallenge` / `AdminRespondToAuthChallenge`.
pub async fn respond_to_auth_challenge(
    s: &Standin,
    input: &Value,
    admin: bool,
) -> Result<Value, CognitoError> {
    let client_id = required(input, "ClientId")?.to_owned();
    let pool_id = s.pool_of_client(&client_id)?;
    if admin && required(input, "UserPoolId")? != pool_id {
        return Err(CognitoError::resource_not_found(
            "User pool client does not exist.",
        ));
    }
    let challenge_name = required(input, "ChallengeName")?.to_owned();
    let responses = input
        .get("ChallengeResponses")
        .cloned()
        .unwrap_or_else(|| json!({}));
    // A PASSWORD_VERIFIER answer needs no Session: its secret block names the round.
    let session_id = match input.get("Session").and_then(Value::as_str) {
        Some(id) if !id.is_empty() => id.to_owned(),
        _ if challenge_name == "PASSWORD_VERIFIER" => {
            param(&responses, "PASSWORD_CLAIM_SECRET_BLOCK")?.to_owned()
        }
        _ => required(input, "Session")?.to_owned(),
    };
    let client_metadata = string_map(input, "ClientMetadata");
    let given_username = param(&responses, "USERNAME")?.to_owned();

    // Sessions are single use: taken out whatever happens next.
    let (session, subject) = s.with_pool(&pool_id, |p| {
        check_secret_hash(p, &client_id, &given_username, responses.get("SECRET_HASH"))?;
        let now = Utc::now();
        let session = p
            .sessions
            .remove(&session_id)
            .ok_or_else(CognitoError::invalid_session)?;
        if session.client_id != client_id {
            return Err(CognitoError::invalid_session());
        }
        if session.expires_at <= now {
            return Err(CognitoError::not_authorized(
                "Invalid session for the user, session is expired.",
            ));
        }
        let subject = if session.user_not_found {
            if !given_username.eq_ignore_ascii_case(&session.username) {
                return Err(CognitoError::invalid_session());
            }
            Subject {
                username: session.username.clone(),
                attributes: BTreeMap::new(),
                user_not_found: true,
            }
        } else {
            let same = p
                .find(&given_username)
                .is_some_and(|i| p.users[i].username == session.username);
            if !same {
                return Err(CognitoError::invalid_session());
            }
            let u = p.user(&session.username)?;
            Subject {
                username: u.username.clone(),
                attributes: with_status(&u.attributes, u.status),
                user_not_found: false,
            }
        };
        Ok((session, subject))
    })?;

    match session.kind {
        SessionKind::WebAuthn => {
            if challenge_name != "WEB_AUTHN" {
                return Err(CognitoError::invalid_parameter("Incorrect challenge name."));
            }
            let answer = param(&responses, "CREDENTIAL")?;
            let challenge = session.private_parameters["challenge"]
                .as_str()
                .and_then(|c| URL_SAFE_NO_PAD.decode(c).ok())
                .ok_or_else(CognitoError::invalid_session)?;
            s.with_pool(&pool_id, |p| {
                crate::webauthn::verify_sign_in(p, &subject.username, &challenge, answer)?;
                let issuer = s.issuer(&p.config.id);
                Ok(json!({ "ChallengeParameters": {}, "AuthenticationResult": issue_tokens(s, p, &issuer, &subject.username, &client_id, None, None)? }))
            })
        }
        SessionKind::SelectChallenge => {
            if challenge_name != "SELECT_CHALLENGE" {
                return Err(CognitoError::invalid_parameter("Incorrect challenge name."));
            }
            if param(&responses, "ANSWER")? != "WEB_AUTHN" {
                return Err(CognitoError::invalid_parameter(
                    "The stand-in answers SELECT_CHALLENGE with WEB_AUTHN only: sign in with a password through USER_PASSWORD_AUTH or USER_SRP_AUTH.",
                ));
            }
            s.with_pool(&pool_id, |p| {
                let Some((options, challenge)) = (!subject.user_not_found)
                    .then(|| crate::webauthn::sign_in_options(p, &subject.username))
                    .flatten()
                else {
                    return Err(CognitoError::not_authorized(
                        "Incorrect username or passkey.",
                    ));
                };
                let session = new_session(
                    p,
                    SessionKind::WebAuthn,
                    &client_id,
                    &subject.username,
                    false,
                    Vec::new(),
                    json!({ "challenge": URL_SAFE_NO_PAD.encode(&challenge) }),
                    None,
                );
                Ok(json!({
                    "ChallengeName": "WEB_AUTHN",
                    "Session": session,
                    "ChallengeParameters": {
                        "USERNAME": subject.username,
                        "CREDENTIAL_REQUEST_OPTIONS": options.to_string(),
                    },
                }))
            })
        }
        SessionKind::NewPasswordRequired => {
            if challenge_name != "NEW_PASSWORD_REQUIRED" {
                return Err(CognitoError::invalid_parameter("Incorrect challenge name."));
            }
            let new_password = param(&responses, "NEW_PASSWORD")?;
            s.with_pool(&pool_id, |p| {
                p.check_password_policy(new_password)?;
                let pool_name = p.config.name().to_owned();
                let user = p.user_mut(&subject.username)?;
                user.set_password(&pool_name, new_password)?;
                user.status = UserStatus::Confirmed;
                user.modified = Utc::now();
                let issuer = s.issuer(&p.config.id);
                Ok(json!({ "ChallengeParameters": {}, "AuthenticationResult": issue_tokens(s, p, &issuer, &subject.username, &client_id, None, None)? }))
            })
        }
        SessionKind::PasswordVerifier => {
            if challenge_name != "PASSWORD_VERIFIER" {
                return Err(CognitoError::invalid_parameter("Incorrect challenge name."));
            }
            let signature = param(&responses, "PASSWORD_CLAIM_SIGNATURE")?;
            let block = param(&responses, "PASSWORD_CLAIM_SECRET_BLOCK")?;
            let timestamp = param(&responses, "TIMESTAMP")?;
            let srp = session
                .srp
                .clone()
                .ok_or_else(CognitoError::invalid_session)?;
            if block != srp.round.secret_block {
                return Err(CognitoError::invalid_session());
            }
            s.with_pool(&pool_id, |p| {
                let proved = srp
                    .round
                    .verify(
                        &srp.verifier,
                        p.config.name(),
                        &session.username,
                        &srp.a_hex,
                        timestamp,
                        signature,
                    )
                    .map_err(|e| match e {
                        crate::srp::VerifyError::BadA => {
                            CognitoError::invalid_parameter("SRP_A cannot be 0 mod N.")
                        }
                    })?;
                if !proved || subject.user_not_found {
                    return Err(CognitoError::bad_credentials());
                }
                password_verified(s, p, &subject.username, &client_id)
            })
        }
        SessionKind::Custom => {
            if challenge_name != CUSTOM_CHALLENGE {
                return Err(CognitoError::invalid_parameter("Incorrect challenge name."));
            }
            let answer = param(&responses, "ANSWER")?.to_owned();
            let pool = s.pool_config(&pool_id)?;
            let verify_event = s.event(
                &pool,
                "VerifyAuthChallengeResponse_Authentication",
                &subject.username,
                Some(&client_id),
                json!({
                    "userAttributes": subject.attributes,
                    "privateChallengeParameters": session.private_parameters,
                    "challengeAnswer": answer,
                    "clientMetadata": client_metadata,
                    "userNotFound": subject.user_not_found,
                }),
                json!({ "answerCorrect": null }),
            );
            let verified = s
                .trigger(&pool, Trigger::Verify, verify_event)
                .await?
                .ok_or_else(|| {
                    CognitoError::invalid_parameter(
                        "Custom auth lambda trigger is not configured for the user pool.",
                    )
                })?;
            let correct = verified["response"]
                .get("answerCorrect")
                .and_then(Value::as_bool)
                .ok_or_else(|| {
                    CognitoError::new(
                        "InvalidLambdaResponseException",
                        "Invalid lambda response received: answerCorrect is not a boolean.",
                    )
                })?;
            let mut rounds = session.rounds;
            rounds.push(Round {
                challenge_name: CUSTOM_CHALLENGE.to_owned(),
                challenge_result: correct,
                challenge_metadata: session.challenge_metadata,
            });
            custom_round(
                s,
                &pool,
                &client_id,
                subject,
                rounds,
                Some(&client_metadata),
            )
            .await
        }
    }
}

/// What the hosted endpoints add to tokens: the OAuth scopes granted, the app's `nonce`,
/// and when the user signed in.
pub(crate) struct OAuthClaims<'a> {
    pub scope: &'a str,
    pub nonce: Option<&'a str>,
    pub auth_time: i64,
}

/// Mints `AuthenticationResult`. A refresh grant is continued (same `origin_jti`, no new
/// refresh token) or a new one is started.
pub(crate) fn issue_tokens(
    s: &Standin,
    p: &mut Pool,
    issuer: &str,
    username: &str,
    client_id: &str,
    refresh: Option<&RefreshGrant>,
    oauth: Option<OAuthClaims<'_>>,
) -> Result<Value, CognitoError> {
    let user = p.user(username)?.clone();
    let now = Utc::now().timestamp();
    let ttl = p.config.token_ttl_secs as i64;
    let origin_jti = refresh
        .map(|g| g.origin_jti.clone())
        .unwrap_or_else(|| uuid::Uuid::new_v4().to_string());
    let auth_time = refresh
        .map(|g| g.auth_time)
        .or(oauth.as_ref().map(|o| o.auth_time))
        .unwrap_or(now);
    let event_id = uuid::Uuid::new_v4().to_string();

    let mut id_claims = serde_json::Map::new();
    for (k, v) in &user.attributes {
        let value = if k.ends_with("_verified") {
            Value::Bool(v == "true")
        } else if k == "identities" {
            // Stored as a JSON string; the ID token carries the array.
            serde_json::from_str(v).unwrap_or_else(|_| Value::String(v.clone()))
        } else {
            Value::String(v.clone())
        };
        id_claims.insert(k.clone(), value);
    }
    for (k, v) in [
        ("iss", json!(issuer)),
        ("cognito:username", json!(user.username)),
        ("origin_jti", json!(origin_jti)),
        ("aud", json!(client_id)),
        ("event_id", json!(event_id)),
        ("token_use", json!("id")),
        ("auth_time", json!(auth_time)),
        ("exp", json!(now + ttl)),
        ("iat", json!(now)),
        ("jti", json!(uuid::Uuid::new_v4())),
    ] {
        id_claims.insert(k.to_owned(), v);
    }
    if let Some(nonce) = oauth.as_ref().and_then(|o| o.nonce) {
        id_claims.insert("nonce".to_owned(), json!(nonce));
    }
    // Cognito names the user's groups in both tokens, and omits the claim without any.
    let groups: Vec<&String> = user.groups.iter().collect();
    if !groups.is_empty() {
        id_claims.insert("cognito:groups".to_owned(), json!(groups));
    }
    let access_claims = json!({
        "sub": user.sub(),
        "iss": issuer,
        "client_id": client_id,
        "origin_jti": origin_jti,
        "event_id": event_id,
        "token_use": "access",
        "scope": oauth
            .as_ref()
            .map(|o| o.scope)
            .or(refresh.and_then(|g| g.scope.as_deref()))
            .unwrap_or("aws.cognito.signin.user.admin"),
        "auth_time": auth_time,
        "exp": now + ttl,
        "iat": now,
        "jti": uuid::Uuid::new_v4(),
        "username": user.username,
    });
    let mut access_claims = access_claims;
    if !groups.is_empty() {
        access_claims["cognito:groups"] = json!(groups);
    }
    let sign = |key: crate::tokens::Key, c: &Value| {
        s.signer
            .sign(key, c)
            .map_err(|e| CognitoError::new("InternalErrorException", e.to_string()))
    };
    let mut result = json!({
        "AccessToken": sign(crate::tokens::Key::Access, &access_claims)?,
        "IdToken": sign(crate::tokens::Key::Id, &Value::Object(id_claims))?,
        "ExpiresIn": ttl,
        "TokenType": "Bearer",
    });
    if refresh.is_none() {
        let token = opaque_token(128);
        p.refresh_tokens.insert(
            token.clone(),
            RefreshGrant {
                username: user.username.clone(),
                client_id: client_id.to_owned(),
                origin_jti,
                auth_time,
                scope: oauth.as_ref().map(|o| o.scope.to_owned()),
            },
        );
        result["RefreshToken"] = json!(token);
    }
    Ok(result)
}

/// The pool and claims of a valid, unrevoked access token.
pub(crate) fn access_token(s: &Standin, input: &Value) -> Result<(String, Value), CognitoError> {
    let token = required(input, "AccessToken")?;
    let pool_ids: Vec<String> = s.pools().keys().cloned().collect();
    for pool_id in pool_ids {
        let issuer = s.issuer(&pool_id);
        if let Some(claims) = s.signer.verify(crate::tokens::Key::Access, token, &issuer) {
            if claims["token_use"] != "access" {
                return Err(CognitoError::not_authorized("Invalid Access Token"));
            }
            let origin = claims["origin_jti"].as_str().unwrap_or_default().to_owned();
            let revoked = s.with_pool(&pool_id, |p| Ok(p.revoked.contains(&origin)))?;
            if revoked {
                return Err(CognitoError::not_authorized(
                    "Access Token has been revoked",
                ));
            }
            return Ok((pool_id, claims));
        }
    }
    Err(CognitoError::not_authorized("Invalid Access Token"))
}

/// `GetUser`.
pub fn get_user(s: &Standin, input: &Value) -> Result<Value, CognitoError> {
    let (pool_id, claims) = access_token(s, input)?;
    let username = claims["username"].as_str().unwrap_or_default().to_owned();
    s.with_pool(&pool_id, |p| {
        let u = p.user(&username)?;
        Ok(json!({ "Username": u.username, "UserAttributes": u.attribute_list() }))
    })
}

/// `GlobalSignOut`: every refresh token of the user, and the access tokens minted from
/// them, stop working.
pub fn global_sign_out(s: &Standin, input: &Value) -> Result<Value, CognitoError> {
    let (pool_id, claims) = access_token(s, input)?;
    let username = claims["username"].as_str().unwrap_or_default().to_owned();
    let origin = claims["origin_jti"].as_str().unwrap_or_default().to_owned();
    s.with_pool(&pool_id, |p| {
        p.revoked.insert(origin);
        p.sign_out_everywhere(&username);
        Ok(json!({}))
    })
}

/// `RevokeToken`: a refresh token, and the access tokens minted from it.
pub fn revoke_token(s: &Standin, input: &Value) -> Result<Value, CognitoError> {
    let token = required(input, "Token")?.to_owned();
    let client_id = required(input, "ClientId")?.to_owned();
    let pool_id = s.pool_of_client(&client_id)?;
    s.with_pool(&pool_id, |p| {
        if let Some(grant) = p.refresh_tokens.get(&token).cloned() {
            if grant.client_id != client_id {
                return Err(CognitoError::new(
                    "UnauthorizedException",
                    "Invalid client for this token.",
                ));
            }
            p.refresh_tokens.remove(&token);
            p.revoked.insert(grant.origin_jti);
        }
        Ok(json!({}))
    })
}
