//! Cognito's JSON protocol: users, password sign-in, tokens, sign-out, errors, CORS.

use aws_sdk_cognitoidentityprovider::types::{AttributeType, AuthFlowType, MessageActionType};
use serde_json::Value;

use crate::{CLIENT, POOL, code, config, message, start};

fn attr(name: &str, value: &str) -> AttributeType {
    AttributeType::builder()
        .name(name)
        .value(value)
        .build()
        .unwrap()
}

fn claims(token: &str) -> Value {
    use base64::Engine as _;
    let payload = token.split('.').nth(1).unwrap();
    serde_json::from_slice(
        &base64::engine::general_purpose::URL_SAFE_NO_PAD
            .decode(payload)
            .unwrap(),
    )
    .unwrap()
}

#[tokio::test]
async fn sign_up_confirm_and_password_sign_in() {
    let s = start(config(""), None).await;
    let c = &s.client;
    let up = c
        .sign_up()
        .client_id(CLIENT)
        .username("bob@example.test")
        .password("Bob-password-1")
        .user_attributes(attr("email", "bob@example.test"))
        .send()
        .await
        .unwrap();
    assert!(!up.user_confirmed());
    let sub = up.user_sub().to_owned();
    // Email is the sign-in name; the username is a generated UUID, the sub.
    let stored = c
        .admin_get_user()
        .user_pool_id(POOL)
        .username("bob@example.test")
        .send()
        .await
        .unwrap();
    assert_eq!(stored.username(), sub);
    assert_eq!(stored.user_status().unwrap().as_str(), "UNCONFIRMED");

    let e = c
        .initiate_auth()
        .client_id(CLIENT)
        .auth_flow(AuthFlowType::UserPasswordAuth)
        .auth_parameters("USERNAME", "bob@example.test")
        .auth_parameters("PASSWORD", "Bob-password-1")
        .send()
        .await
        .unwrap_err();
    assert_eq!(code(&e), "UserNotConfirmedException");

    let e = c
        .confirm_sign_up()
        .client_id(CLIENT)
        .username("bob@example.test")
        .confirmation_code("000000x")
        .send()
        .await
        .unwrap_err();
    assert_eq!(code(&e), "CodeMismatchException");
    let code_sent = s
        .standin
        .confirmation_code(POOL, "bob@example.test")
        .unwrap();
    c.confirm_sign_up()
        .client_id(CLIENT)
        .username("bob@example.test")
        .confirmation_code(code_sent)
        .send()
        .await
        .unwrap();

    let auth = c
        .initiate_auth()
        .client_id(CLIENT)
        .auth_flow(AuthFlowType::UserPasswordAuth)
        .auth_parameters("USERNAME", "bob@example.test")
        .auth_parameters("PASSWORD", "Bob-password-1")
        .send()
        .await
        .unwrap();
    let result = auth.authentication_result().unwrap();
    let access = claims(result.access_token().unwrap());
    let id = claims(result.id_token().unwrap());
    assert_eq!(access["sub"], sub.as_str());
    assert_eq!(access["token_use"], "access");
    assert_eq!(access["client_id"], CLIENT);
    assert_eq!(access["username"], sub.as_str());
    assert_eq!(access["iss"], format!("{}/{POOL}", s.url));
    for k in [
        "auth_time",
        "iat",
        "exp",
        "jti",
        "origin_jti",
        "event_id",
        "scope",
    ] {
        assert!(!access[k].is_null(), "access token lacks {k}");
    }
    assert_eq!(id["token_use"], "id");
    assert_eq!(id["aud"], CLIENT);
    assert_eq!(id["email"], "bob@example.test");
    assert_eq!(id["email_verified"], true);
    assert_eq!(id["cognito:username"], sub.as_str());
    assert_eq!(id["origin_jti"], access["origin_jti"]);

    // The JWKS verifies the tokens: two keys, as in Cognito, one for ID tokens and one
    // for access tokens, each found by its kid.
    let jwks: jsonwebtoken::jwk::JwkSet =
        reqwest::get(format!("{}/{POOL}/.well-known/jwks.json", s.url))
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
    assert_eq!(jwks.keys.len(), 2);
    let mut v = jsonwebtoken::Validation::new(jsonwebtoken::Algorithm::RS256);
    v.set_issuer(&[format!("{}/{POOL}", s.url)]);
    v.validate_aud = false;
    let kid = |t: &str| jsonwebtoken::decode_header(t).unwrap().kid.unwrap();
    let (access_token, id_token) = (result.access_token().unwrap(), result.id_token().unwrap());
    assert_ne!(kid(access_token), kid(id_token));
    for token in [access_token, id_token] {
        let jwk = jwks.find(&kid(token)).unwrap();
        jsonwebtoken::decode::<Value>(
            token,
            &jsonwebtoken::DecodingKey::from_jwk(jwk).unwrap(),
            &v,
        )
        .unwrap();
    }
    let oidc: Value = reqwest::get(format!("{}/{POOL}/.well-known/openid-configuration", s.url))
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(oidc["issuer"], format!("{}/{POOL}", s.url));

    // GetUser, refresh, sign-out.
    let me = c
        .get_user()
        .access_token(result.access_token().unwrap())
        .send()
        .await
        .unwrap();
    assert_eq!(me.username(), sub);
    let refreshed = c
        .initiate_auth()
        .client_id(CLIENT)
        .auth_flow(AuthFlowType::RefreshTokenAuth)
        .auth_parameters("REFRESH_TOKEN", result.refresh_token().unwrap())
        .send()
        .await
        .unwrap();
    let refreshed = refreshed.authentication_result().unwrap();
    assert!(refreshed.refresh_token().is_none());
    assert_eq!(
        claims(refreshed.access_token().unwrap())["origin_jti"],
        access["origin_jti"]
    );

    c.global_sign_out()
        .access_token(refreshed.access_token().unwrap())
        .send()
        .await
        .unwrap();
    let e = c
        .get_user()
        .access_token(result.access_token().unwrap())
        .send()
        .await
        .unwrap_err();
    assert_eq!(
        (code(&e).as_str(), message(&e).as_str()),
        ("NotAuthorizedException", "Access Token has been revoked")
    );
    let e = c
        .initiate_auth()
        .client_id(CLIENT)
        .auth_flow(AuthFlowType::RefreshTokenAuth)
        .auth_parameters("REFRESH_TOKEN", result.refresh_token().unwrap())
        .send()
        .await
        .unwrap_err();
    assert_eq!(code(&e), "NotAuthorizedException");
}

#[tokio::test]
async fn wrong_passwords_unknown_users_and_duplicates() {
    let s = start(config(""), None).await;
    let c = &s.client;
    let sign_in = |user: &'static str, password: &'static str| {
        c.initiate_auth()
            .client_id(CLIENT)
            .auth_flow(AuthFlowType::UserPasswordAuth)
            .auth_parameters("USERNAME", user)
            .auth_parameters("PASSWORD", password)
            .send()
    };
    let e = sign_in("seed@example.test", "wrong-password")
        .await
        .unwrap_err();
    assert_eq!(
        (code(&e).as_str(), message(&e).as_str()),
        ("NotAuthorizedException", "Incorrect username or password.")
    );
    // PreventUserExistenceErrors: an unknown user looks like a wrong password.
    let e = sign_in("nobody@example.test", "whatever-1")
        .await
        .unwrap_err();
    assert_eq!(code(&e), "NotAuthorizedException");
    assert!(
        sign_in("seed@example.test", "Seed-password-1")
            .await
            .is_ok()
    );

    let e = c
        .sign_up()
        .client_id(CLIENT)
        .username("seed@example.test")
        .password("Another-password-1")
        .send()
        .await
        .unwrap_err();
    assert_eq!(code(&e), "UsernameExistsException");
    let e = c
        .admin_get_user()
        .user_pool_id(POOL)
        .username("nobody@example.test")
        .send()
        .await
        .unwrap_err();
    assert_eq!(
        (code(&e).as_str(), message(&e).as_str()),
        ("UserNotFoundException", "User does not exist.")
    );
    let e = c
        .admin_get_user()
        .user_pool_id("eu-west-1_Nope")
        .username("x")
        .send()
        .await
        .unwrap_err();
    assert_eq!(code(&e), "ResourceNotFoundException");
    let e = c
        .sign_up()
        .client_id("no-such-client")
        .username("a@b.c")
        .password("Password-1")
        .send()
        .await
        .unwrap_err();
    assert_eq!(code(&e), "ResourceNotFoundException");
    let e = c
        .get_user()
        .access_token("not-a-token")
        .send()
        .await
        .unwrap_err();
    assert_eq!(code(&e), "NotAuthorizedException");
}

#[tokio::test]
async fn admin_users_and_list_filters() {
    let s = start(config("[pools.password_policy]\nminimum_length = 12"), None).await;
    let c = &s.client;
    let created = c
        .admin_create_user()
        .user_pool_id(POOL)
        .username("carol@example.test")
        .user_attributes(attr("email", "carol@example.test"))
        .user_attributes(attr("email_verified", "true"))
        .message_action(MessageActionType::Suppress)
        .send()
        .await
        .unwrap();
    let user = created.user().unwrap();
    assert_eq!(
        user.user_status().unwrap().as_str(),
        "FORCE_CHANGE_PASSWORD"
    );
    let sub = user
        .attributes()
        .iter()
        .find(|a| a.name() == "sub")
        .unwrap()
        .value()
        .unwrap()
        .to_owned();
    assert_eq!(user.username().unwrap(), sub);
    let e = c
        .admin_create_user()
        .user_pool_id(POOL)
        .username("carol@example.test")
        .message_action(MessageActionType::Suppress)
        .send()
        .await
        .unwrap_err();
    assert_eq!(code(&e), "UsernameExistsException");

    let e = c
        .admin_set_user_password()
        .user_pool_id(POOL)
        .username(&sub)
        .password("short")
        .permanent(true)
        .send()
        .await
        .unwrap_err();
    assert_eq!(code(&e), "InvalidPasswordException");
    c.admin_set_user_password()
        .user_pool_id(POOL)
        .username(&sub)
        .password("Carol-long-password-1")
        .permanent(true)
        .send()
        .await
        .unwrap();
    assert_eq!(
        c.admin_get_user()
            .user_pool_id(POOL)
            .username("carol@example.test")
            .send()
            .await
            .unwrap()
            .user_status()
            .unwrap()
            .as_str(),
        "CONFIRMED"
    );

    let list = |filter: &'static str| c.list_users().user_pool_id(POOL).filter(filter).send();
    let by_email = list(r#"email = "carol@example.test""#).await.unwrap();
    assert_eq!(by_email.users().len(), 1);
    assert_eq!(list(r#"email ^= "carol""#).await.unwrap().users().len(), 1);
    assert_eq!(list(r#"email ^= "zzz""#).await.unwrap().users().len(), 0);
    let by_sub = c
        .list_users()
        .user_pool_id(POOL)
        .filter(format!(r#"sub = "{sub}""#))
        .send()
        .await
        .unwrap();
    assert_eq!(by_sub.users()[0].username().unwrap(), sub);
    assert_eq!(
        list(r#"cognito:user_status = "CONFIRMED""#)
            .await
            .unwrap()
            .users()
            .len(),
        2
    );
    let e = list("email = carol").await.unwrap_err();
    assert_eq!(code(&e), "InvalidParameterException");
    let all = c.list_users().user_pool_id(POOL).send().await.unwrap();
    assert_eq!(all.users().len(), 2);
    let paged = c
        .list_users()
        .user_pool_id(POOL)
        .limit(1)
        .send()
        .await
        .unwrap();
    assert_eq!(paged.users().len(), 1);
    let next = c
        .list_users()
        .user_pool_id(POOL)
        .limit(1)
        .pagination_token(paged.pagination_token().unwrap())
        .send()
        .await
        .unwrap();
    assert_eq!(next.users().len(), 1);
    assert!(next.pagination_token().is_none());

    c.admin_delete_user()
        .user_pool_id(POOL)
        .username(&sub)
        .send()
        .await
        .unwrap();
    assert_eq!(
        code(
            &c.admin_get_user()
                .user_pool_id(POOL)
                .username(&sub)
                .send()
                .await
                .unwrap_err()
        ),
        "UserNotFoundException"
    );
}

#[tokio::test]
async fn cors_on_every_answer_errors_included() {
    let s = start(config(""), None).await;
    let http = reqwest::Client::new();
    let pre = http
        .request(reqwest::Method::OPTIONS, format!("{}/", s.url))
        .header("origin", "http://localhost:5173")
        .header("access-control-request-method", "POST")
        .header(
            "access-control-request-headers",
            "content-type,x-amz-target,x-amz-user-agent",
        )
        .send()
        .await
        .unwrap();
    assert!(pre.status().is_success());
    assert_eq!(
        pre.headers()["access-control-allow-origin"],
        "http://localhost:5173"
    );
    let err = http
        .post(format!("{}/", s.url))
        .header("origin", "http://localhost:5173")
        .header("content-type", "application/x-amz-json-1.1")
        .header("x-amz-target", "AWSCognitoIdentityProviderService.InitiateAuth")
        .body(r#"{"ClientId":"standinclient","AuthFlow":"USER_PASSWORD_AUTH","AuthParameters":{"USERNAME":"seed@example.test","PASSWORD":"nope"}}"#)
        .send()
        .await
        .unwrap();
    assert_eq!(err.status(), 400);
    assert_eq!(
        err.headers()["access-control-allow-origin"],
        "http://localhost:5173"
    );
    assert!(
        err.headers()["x-amzn-errortype"]
            .to_str()
            .unwrap()
            .starts_with("NotAuthorizedException")
    );
    let body: Value = err.json().await.unwrap();
    assert_eq!(body["__type"], "NotAuthorizedException");
    let unknown = http
        .post(format!("{}/", s.url))
        .header("content-type", "application/x-amz-json-1.1")
        .header(
            "x-amz-target",
            "AWSCognitoIdentityProviderService.DescribeUserPool",
        )
        .body("{}")
        .send()
        .await
        .unwrap();
    assert_eq!(unknown.status(), 400);
}

/// User pool groups: `CreateGroup`, membership, `AdminListGroupsForUser`, and the
/// `cognito:groups` claim in both tokens (absent without groups, as Cognito omits it).
#[tokio::test]
async fn groups_and_the_cognito_groups_claim() {
    let s = start(config(""), None).await;
    let c = &s.client;
    let sign_in = || async {
        let r = c
            .initiate_auth()
            .client_id(CLIENT)
            .auth_flow(AuthFlowType::UserPasswordAuth)
            .auth_parameters("USERNAME", "seed@example.test")
            .auth_parameters("PASSWORD", "Seed-password-1")
            .send()
            .await
            .unwrap();
        let result = r.authentication_result().unwrap().clone();
        (
            claims(result.access_token().unwrap()),
            claims(result.id_token().unwrap()),
        )
    };
    let (access, id) = sign_in().await;
    assert!(access.get("cognito:groups").is_none() && id.get("cognito:groups").is_none());

    c.create_group()
        .user_pool_id(POOL)
        .group_name("admins")
        .send()
        .await
        .unwrap();
    let e = c
        .create_group()
        .user_pool_id(POOL)
        .group_name("admins")
        .send()
        .await
        .unwrap_err();
    assert_eq!(code(&e), "GroupExistsException");
    let add = |username: &'static str, group: &'static str| {
        c.admin_add_user_to_group()
            .user_pool_id(POOL)
            .username(username)
            .group_name(group)
            .send()
    };
    let e = add("seed@example.test", "nobody").await.unwrap_err();
    assert_eq!(code(&e), "ResourceNotFoundException");
    let e = add("ghost@example.test", "admins").await.unwrap_err();
    assert_eq!(code(&e), "UserNotFoundException");
    add("seed@example.test", "admins").await.unwrap();
    let (access, id) = sign_in().await;
    assert_eq!(access["cognito:groups"], serde_json::json!(["admins"]));
    assert_eq!(id["cognito:groups"], serde_json::json!(["admins"]));
    let listed = c
        .admin_list_groups_for_user()
        .user_pool_id(POOL)
        .username("seed@example.test")
        .send()
        .await
        .unwrap();
    assert_eq!(listed.groups()[0].group_name(), Some("admins"));
    c.admin_remove_user_from_group()
        .user_pool_id(POOL)
        .username("seed@example.test")
        .group_name("admins")
        .send()
        .await
        .unwrap();
    assert!(sign_in().await.0.get("cognito:groups").is_none());
}
