//! Cognito's own passkeys: registration with a signed-in user's access token, the list
//! and deletion, and `USER_AUTH` sign-in with the `WEB_AUTHN` challenge, with Cognito's
//! refusals (a software authenticator answers, over Cognito's JSON protocol).

use serde_json::{Value, json};
use testkit::authenticator::SoftAuthenticator;

use crate::{CLIENT, config_with, start};

const ORIGIN: &str = "https://app.example.test";

fn pool(first_factors: &str) -> cognito_standin::config::Config {
    let mut config = config_with(
        &format!(
            "username_attributes = [\"email\"]\nallowed_first_auth_factors = {first_factors}\n[pools.web_authn]\nrelying_party_id = \"example.test\"\nuser_verification = \"required\""
        ),
        "prevent_user_existence_errors = true",
    );
    config.pools[0].clients[0]
        .explicit_auth_flows
        .push("ALLOW_USER_AUTH".to_owned());
    config
}

/// One call of Cognito's JSON protocol: the answer, or the error's type and message.
async fn call(url: &str, target: &str, body: Value) -> Result<Value, (String, String)> {
    let r = reqwest::Client::new()
        .post(url)
        .header("content-type", "application/x-amz-json-1.1")
        .header(
            "x-amz-target",
            format!("AWSCognitoIdentityProviderService.{target}"),
        )
        .json(&body)
        .send()
        .await
        .unwrap();
    let ok = r.status().is_success();
    let v: Value = r.json().await.unwrap();
    if ok {
        Ok(v)
    } else {
        Err((
            v["__type"].as_str().unwrap_or_default().to_owned(),
            v["message"].as_str().unwrap_or_default().to_owned(),
        ))
    }
}

/// The error type of a call Cognito refuses.
async fn refusal(url: &str, target: &str, body: Value) -> String {
    call(url, target, body).await.unwrap_err().0
}

async fn password_token(url: &str) -> String {
    let r = call(
        url,
        "InitiateAuth",
        json!({ "ClientId": CLIENT, "AuthFlow": "USER_PASSWORD_AUTH",
                "AuthParameters": { "USERNAME": "seed@example.test", "PASSWORD": "Seed-password-1" } }),
    )
    .await
    .unwrap();
    r["AuthenticationResult"]["AccessToken"]
        .as_str()
        .unwrap()
        .to_owned()
}

async fn register(
    url: &str,
    token: &str,
    authn: &mut SoftAuthenticator,
    origin: &str,
) -> Result<Value, (String, String)> {
    let started = call(
        url,
        "StartWebAuthnRegistration",
        json!({ "AccessToken": token }),
    )
    .await?;
    let options = &started["CredentialCreationOptions"];
    assert_eq!(options["rp"]["id"], "example.test");
    assert_eq!(
        options["authenticatorSelection"]["userVerification"],
        "required"
    );
    let credential = authn.create(options, origin).unwrap();
    call(
        url,
        "CompleteWebAuthnRegistration",
        json!({ "AccessToken": token, "Credential": credential }),
    )
    .await
}

/// `InitiateAuth` with `USER_AUTH` for the seeded user, preferring the `WEB_AUTHN` challenge.
async fn user_auth(url: &str) -> Result<Value, (String, String)> {
    call(
        url,
        "InitiateAuth",
        json!({ "ClientId": CLIENT, "AuthFlow": "USER_AUTH",
                "AuthParameters": { "USERNAME": "seed@example.test", "PREFERRED_CHALLENGE": "WEB_AUTHN" } }),
    )
    .await
}

async fn web_authn_sign_in(
    url: &str,
    authn: &mut SoftAuthenticator,
) -> Result<Value, (String, String)> {
    let started = user_auth(url).await?;
    assert_eq!(started["ChallengeName"], "WEB_AUTHN", "{started}");
    let options: Value = serde_json::from_str(
        started["ChallengeParameters"]["CREDENTIAL_REQUEST_OPTIONS"]
            .as_str()
            .unwrap(),
    )
    .unwrap();
    let assertion = authn.get(&options, ORIGIN).unwrap();
    call(
        url,
        "RespondToAuthChallenge",
        json!({ "ClientId": CLIENT, "ChallengeName": "WEB_AUTHN", "Session": started["Session"],
                "ChallengeResponses": { "USERNAME": "seed@example.test", "CREDENTIAL": assertion.to_string() } }),
    )
    .await
}

#[tokio::test]
async fn a_user_registers_a_cognito_passkey_signs_in_with_it_and_deletes_it() {
    let s = start(pool(r#"["PASSWORD", "WEB_AUTHN"]"#), None).await;
    let token = password_token(&s.url).await;
    let mut authn = SoftAuthenticator::new();

    // Without a registration in progress, or from an origin off the relying party: refused.
    let mut other = SoftAuthenticator::new();
    let options = call(
        &s.url,
        "StartWebAuthnRegistration",
        json!({ "AccessToken": token }),
    )
    .await
    .unwrap();
    let off_site = other
        .create(&options["CredentialCreationOptions"], "https://evil.test")
        .unwrap();
    assert_eq!(
        refusal(
            &s.url,
            "CompleteWebAuthnRegistration",
            json!({ "AccessToken": token, "Credential": off_site })
        )
        .await,
        "WebAuthnOriginNotAllowedException"
    );
    assert_eq!(
        refusal(
            &s.url,
            "CompleteWebAuthnRegistration",
            json!({ "AccessToken": token, "Credential": off_site })
        )
        .await,
        "WebAuthnChallengeNotFoundException",
        "the challenge was spent by the refused attempt"
    );

    register(&s.url, &token, &mut authn, ORIGIN).await.unwrap();
    let listed = call(
        &s.url,
        "ListWebAuthnCredentials",
        json!({ "AccessToken": token }),
    )
    .await
    .unwrap();
    let credentials = listed["Credentials"].as_array().unwrap();
    assert_eq!(credentials.len(), 1);
    assert_eq!(credentials[0]["RelyingPartyId"], "example.test");
    let id = credentials[0]["CredentialId"].as_str().unwrap().to_owned();

    // USER_AUTH with the WEB_AUTHN challenge signs in; a forged signature does not.
    let signed_in = web_authn_sign_in(&s.url, &mut authn).await.unwrap();
    assert!(signed_in["AuthenticationResult"]["AccessToken"].is_string());
    let mut forger = SoftAuthenticator::new();
    forger.reuse_credential_id = Some(authn.credentials[0].id.clone());
    forger
        .passkey_made_elsewhere("example.test", b"someone", "seed")
        .unwrap();
    assert_eq!(
        web_authn_sign_in(&s.url, &mut forger).await.unwrap_err().0,
        "NotAuthorizedException",
        "the same credential id with another key"
    );

    // Deleted: gone from the list, and USER_AUTH no longer offers WEB_AUTHN.
    call(
        &s.url,
        "DeleteWebAuthnCredential",
        json!({ "AccessToken": token, "CredentialId": id }),
    )
    .await
    .unwrap();
    assert_eq!(
        refusal(
            &s.url,
            "DeleteWebAuthnCredential",
            json!({ "AccessToken": token, "CredentialId": id })
        )
        .await,
        "ResourceNotFoundException"
    );
    let listed = call(
        &s.url,
        "ListWebAuthnCredentials",
        json!({ "AccessToken": token }),
    )
    .await
    .unwrap();
    assert_eq!(listed["Credentials"], json!([]));
    let started = user_auth(&s.url).await.unwrap();
    assert_eq!(started["ChallengeName"], "SELECT_CHALLENGE");
    assert_eq!(
        started["AvailableChallenges"],
        json!(["PASSWORD", "PASSWORD_SRP"])
    );
}

#[tokio::test]
async fn passkeys_are_refused_where_the_pool_or_client_does_not_allow_them() {
    // The pool does not allow WEB_AUTHN as a first factor.
    let s = start(pool(r#"["PASSWORD"]"#), None).await;
    let token = password_token(&s.url).await;
    assert_eq!(
        refusal(
            &s.url,
            "StartWebAuthnRegistration",
            json!({ "AccessToken": token })
        )
        .await,
        "WebAuthnNotEnabledException"
    );
    // A client without ALLOW_USER_AUTH.
    let mut config = pool(r#"["PASSWORD", "WEB_AUTHN"]"#);
    config.pools[0].clients[0]
        .explicit_auth_flows
        .retain(|f| f != "ALLOW_USER_AUTH");
    let s = start(config, None).await;
    let (code, message) = call(
        &s.url,
        "InitiateAuth",
        json!({ "ClientId": CLIENT, "AuthFlow": "USER_AUTH",
                "AuthParameters": { "USERNAME": "seed@example.test" } }),
    )
    .await
    .unwrap_err();
    assert_eq!(code, "InvalidParameterException");
    assert!(message.contains("USER_AUTH"), "{message}");
    // No access token, no registration.
    assert_eq!(
        refusal(
            &s.url,
            "StartWebAuthnRegistration",
            json!({ "AccessToken": "not-a-token" })
        )
        .await,
        "NotAuthorizedException"
    );
}
