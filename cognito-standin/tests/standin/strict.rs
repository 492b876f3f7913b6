//! Where Cognito refuses, the stand-in refuses the same way: each pool shape's rules
//! for usernames, PreSignUp's flags, the password policy, Cognito's messages, and the
//! settings rp-server reads at start.

use std::sync::{Arc, Mutex};

use aws_sdk_cognitoidentityprovider::types::{AttributeType, AuthFlowType, MessageActionType};
use serde_json::{Value, json};

use crate::{CLIENT, POOL, code, config_with, handler, message, start};

fn attr(name: &str, value: &str) -> AttributeType {
    AttributeType::builder()
        .name(name)
        .value(value)
        .build()
        .unwrap()
}

#[tokio::test]
async fn each_pool_shape_refuses_the_usernames_cognito_refuses() {
    // Email as an alias: a username may not look like an email.
    let s = start(config_with(r#"alias_attributes = ["email"]"#, ""), None).await;
    let c = &s.client;
    let alias_refusal = (
        "InvalidParameterException".to_owned(),
        "Username cannot be of email format, since user pool is configured for email alias."
            .to_owned(),
    );
    let e = c
        .admin_create_user()
        .user_pool_id(POOL)
        .username("ann@example.test")
        .user_attributes(attr("email", "ann@example.test"))
        .message_action(MessageActionType::Suppress)
        .send()
        .await
        .unwrap_err();
    assert_eq!((code(&e), message(&e)), alias_refusal);
    let e = c
        .sign_up()
        .client_id(CLIENT)
        .username("ann@example.test")
        .password("Ann-password-1")
        .send()
        .await
        .unwrap_err();
    assert_eq!((code(&e), message(&e)), alias_refusal);
    // A plain username with the email as an attribute is fine; the alias signs in only
    // once verified.
    c.admin_create_user()
        .user_pool_id(POOL)
        .username("ann")
        .user_attributes(attr("email", "ann@example.test"))
        .message_action(MessageActionType::Suppress)
        .send()
        .await
        .unwrap();
    c.admin_set_user_password()
        .user_pool_id(POOL)
        .username("ann")
        .password("Ann-password-1")
        .permanent(true)
        .send()
        .await
        .unwrap();
    let sign_in = |name: &'static str| {
        c.initiate_auth()
            .client_id(CLIENT)
            .auth_flow(AuthFlowType::UserPasswordAuth)
            .auth_parameters("USERNAME", name)
            .auth_parameters("PASSWORD", "Ann-password-1")
            .send()
    };
    assert!(sign_in("ann").await.is_ok());
    assert_eq!(
        code(&sign_in("ann@example.test").await.unwrap_err()),
        "UserNotFoundException"
    );

    // Email as the username attribute: the username must be an email.
    let s = start(config_with(r#"username_attributes = ["email"]"#, ""), None).await;
    let e = s
        .client
        .admin_create_user()
        .user_pool_id(POOL)
        .username("ann")
        .message_action(MessageActionType::Suppress)
        .send()
        .await
        .unwrap_err();
    assert_eq!(
        (code(&e).as_str(), message(&e).as_str()),
        ("InvalidParameterException", "Username should be an email.")
    );

    // Plain usernames: either is a username, and the email does not sign in.
    let s = start(config_with("", ""), None).await;
    for name in ["ann", "ann@example.test"] {
        s.client
            .admin_create_user()
            .user_pool_id(POOL)
            .username(name)
            .user_attributes(attr("email", "ann@example.test"))
            .user_attributes(attr("email_verified", "true"))
            .message_action(MessageActionType::Suppress)
            .send()
            .await
            .unwrap();
    }
}

#[tokio::test]
async fn pre_sign_up_flags_do_not_apply_to_admin_create_user() {
    let seen: Arc<Mutex<Vec<Value>>> = Default::default();
    let recorded = seen.clone();
    let eager = handler(move |mut e: Value| {
        recorded.lock().unwrap().push(e.clone());
        e["response"] =
            json!({ "autoConfirmUser": true, "autoVerifyEmail": true, "autoVerifyPhone": true });
        Ok(e)
    });
    let s = start(
        config_with(
            "username_attributes = [\"email\"]\n[pools.triggers]\npre_sign_up = \"t\"",
            "",
        ),
        Some(eager),
    )
    .await;
    let created = s
        .client
        .admin_create_user()
        .user_pool_id(POOL)
        .username("eve@example.test")
        .user_attributes(attr("email", "eve@example.test"))
        .message_action(MessageActionType::Suppress)
        .validation_data(attr("captcha", "ok"))
        .send()
        .await
        .unwrap();
    let user = created.user().unwrap();
    assert_eq!(
        user.user_status().unwrap().as_str(),
        "FORCE_CHANGE_PASSWORD"
    );
    assert!(
        !user
            .attributes()
            .iter()
            .any(|a| a.name() == "email_verified"),
        "Cognito ignores autoVerifyEmail for PreSignUp_AdminCreateUser"
    );
    let event = seen.lock().unwrap()[0].clone();
    assert_eq!(event["triggerSource"], "PreSignUp_AdminCreateUser");
    // ValidationData is a list of {Name, Value} on the wire and a map in the event.
    assert_eq!(
        event["request"]["validationData"],
        json!({ "captcha": "ok" })
    );

    // SignUp honours them.
    let up = s
        .client
        .sign_up()
        .client_id(CLIENT)
        .username("sam@example.test")
        .password("Sam-password-1")
        .user_attributes(attr("email", "sam@example.test"))
        .send()
        .await
        .unwrap();
    assert!(up.user_confirmed());
}

#[tokio::test]
async fn the_password_policy_and_cognitos_messages() {
    let s = start(config_with(r#"username_attributes = ["email"]"#, ""), None).await;
    let c = &s.client;
    for (password, why) in [
        ("Sh0rt!", "Password not long enough"),
        ("No-digits-here", "Password must have numeric characters"),
        ("NoSymbols123", "Password must have symbol characters"),
        ("no-upper-123", "Password must have uppercase characters"),
        ("NO-LOWER-123", "Password must have lowercase characters"),
    ] {
        let e = c
            .sign_up()
            .client_id(CLIENT)
            .username("pat@example.test")
            .password(password)
            .send()
            .await
            .unwrap_err();
        assert_eq!(
            (code(&e), message(&e)),
            (
                "InvalidPasswordException".to_owned(),
                format!("Password did not conform with policy: {why}")
            ),
            "{password}"
        );
    }
    // A space inside counts as a symbol.
    c.sign_up()
        .client_id(CLIENT)
        .username("pat@example.test")
        .password("Inner space 1")
        .send()
        .await
        .unwrap();

    // A missing USERNAME, in Cognito's words.
    let e = c
        .initiate_auth()
        .client_id(CLIENT)
        .auth_flow(AuthFlowType::CustomAuth)
        .auth_parameters("ANSWER", "x")
        .send()
        .await
        .unwrap_err();
    assert_eq!(
        (code(&e).as_str(), message(&e).as_str()),
        (
            "InvalidParameterException",
            "Missing required parameter USERNAME"
        )
    );
}

#[tokio::test]
async fn describe_calls_report_the_pool_and_client_settings() {
    let s = start(
        config_with(
            "alias_attributes = [\"email\"]\n[pools.password_policy]\nminimum_length = 14",
            "auth_session_validity = 7",
        ),
        None,
    )
    .await;
    let pool = s
        .client
        .describe_user_pool()
        .user_pool_id(POOL)
        .send()
        .await
        .unwrap();
    let pool = pool.user_pool().unwrap();
    assert_eq!(pool.alias_attributes().len(), 1);
    assert!(pool.username_attributes().is_empty());
    assert_eq!(
        pool.policies()
            .unwrap()
            .password_policy()
            .unwrap()
            .minimum_length(),
        Some(14)
    );
    let client = s
        .client
        .describe_user_pool_client()
        .user_pool_id(POOL)
        .client_id(CLIENT)
        .send()
        .await
        .unwrap();
    let client = client.user_pool_client().unwrap();
    assert_eq!(client.auth_session_validity(), Some(7));
    // A client created through the API does not hide user existence unless told to.
    assert_eq!(
        client.prevent_user_existence_errors().unwrap().as_str(),
        "LEGACY"
    );
}

/// Where the email is an alias, a verified email is one user's alias only:
/// `AdminCreateUser` and `AdminUpdateUserAttributes` that would give a second user the
/// same verified email are `AliasExistsException`; `AdminCreateUser`'s
/// `ForceAliasCreation` moves the alias instead (the first user's email is then
/// unverified); `AdminUpdateUserAttributes` has no such parameter.
#[tokio::test]
async fn a_verified_email_is_one_users_alias() {
    let s = start(config_with(r#"alias_attributes = ["email"]"#, ""), None).await;
    let c = &s.client;
    let create = |name: &'static str, verified: bool, force: bool| {
        c.admin_create_user()
            .user_pool_id(POOL)
            .username(name)
            .user_attributes(attr("email", "shared@example.test"))
            .user_attributes(attr(
                "email_verified",
                if verified { "true" } else { "false" },
            ))
            .force_alias_creation(force)
            .message_action(MessageActionType::Suppress)
            .send()
    };
    let verified_of = |name: &'static str| async move {
        c.admin_get_user()
            .user_pool_id(POOL)
            .username(name)
            .send()
            .await
            .unwrap()
            .user_attributes()
            .iter()
            .find(|a| a.name() == "email_verified")
            .and_then(|a| a.value())
            .map(str::to_owned)
    };
    create("first", true, false).await.unwrap();
    let e = create("second", true, false).await.unwrap_err();
    assert_eq!(
        (code(&e).as_str(), message(&e).as_str()),
        (
            "AliasExistsException",
            "An account with the email already exists."
        )
    );
    // Unverified, the same address is no alias: allowed.
    create("second", false, false).await.unwrap();
    // Verifying it by an update is the same claim.
    let e = c
        .admin_update_user_attributes()
        .user_pool_id(POOL)
        .username("second")
        .user_attributes(attr("email_verified", "true"))
        .send()
        .await
        .unwrap_err();
    assert_eq!(code(&e), "AliasExistsException");
    // A forced creation moves the alias.
    create("third", true, true).await.unwrap();
    assert_eq!(verified_of("first").await.as_deref(), Some("false"));
    assert_eq!(verified_of("third").await.as_deref(), Some("true"));
    // Now free, the second user's email may be verified.
    c.admin_update_user_attributes()
        .user_pool_id(POOL)
        .username("second")
        .user_attributes(attr("email", "second@example.test"))
        .user_attributes(attr("email_verified", "true"))
        .send()
        .await
        .unwrap();
    assert_eq!(verified_of("second").await.as_deref(), Some("true"));

    // A new email through an update is unverified unless the call says otherwise, and
    // `sub` never changes.
    c.admin_update_user_attributes()
        .user_pool_id(POOL)
        .username("third")
        .user_attributes(attr("email", "moved@example.test"))
        .send()
        .await
        .unwrap();
    assert_eq!(verified_of("third").await.as_deref(), Some("false"));
    let e = c
        .admin_update_user_attributes()
        .user_pool_id(POOL)
        .username("third")
        .user_attributes(attr("sub", "00000000-0000-0000-0000-000000000000"))
        .send()
        .await
        .unwrap_err();
    assert_eq!(code(&e), "InvalidParameterException");
}
