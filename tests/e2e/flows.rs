//! The sign-in flows of the product, end to end.

use serde_json::json;
use testkit::authenticator::SoftAuthenticator;

use crate::stack::{POOL, Stack, claims};

#[tokio::test]
async fn password_user_adds_a_passkey_then_signs_in_passkey_first() {
    let stack = Stack::start().await;
    let username = stack
        .password_user("alice@example.test", "Alice-password-1")
        .await;
    let tokens = stack
        .password_sign_in("alice@example.test", "Alice-password-1")
        .await;
    let mut authn = SoftAuthenticator::new();
    stack
        .register_passkey(tokens.access_token().unwrap(), &mut authn)
        .await;

    // One prompt: discoverable assertion, then Cognito with the nonce.
    let (nonce, signed_in_as) = stack.usernameless(&mut authn).await;
    assert_eq!(signed_in_as, username);
    let (session, params) = stack.begin_custom(&signed_in_as).await;
    assert_eq!(params["USERNAME"], username);
    let done = stack.answer(&session, &signed_in_as, &nonce).await.unwrap();
    let result = done.authentication_result().expect("tokens");
    let access = claims(result.access_token().unwrap());
    let sub = stack
        .cognito
        .admin_get_user()
        .user_pool_id(POOL)
        .username(&username)
        .send()
        .await
        .unwrap()
        .user_attributes()
        .iter()
        .find(|a| a.name() == "sub")
        .unwrap()
        .value()
        .unwrap()
        .to_owned();
    assert_eq!(access["sub"], sub.as_str());
    assert_eq!(
        claims(result.id_token().unwrap())["email"],
        "alice@example.test"
    );

    // rp-server accepts Cognito's access token from this sign-in.
    let listed = stack
        .http
        .get(format!("{}/v1/credentials", stack.rp_url))
        .bearer_auth(result.access_token().unwrap())
        .send()
        .await
        .unwrap();
    assert_eq!(listed.status(), 200);
    let listed: serde_json::Value = listed.json().await.unwrap();
    assert_eq!(listed["credentials"].as_array().unwrap().len(), 1);
    assert!(listed["credentials"][0]["lastUsedAt"].is_string());
}

#[tokio::test]
async fn username_first_sign_in() {
    let stack = Stack::start().await;
    stack
        .password_user("bob@example.test", "Bob-password-1")
        .await;
    let tokens = stack
        .password_sign_in("bob@example.test", "Bob-password-1")
        .await;
    let mut authn = SoftAuthenticator::new();
    stack
        .register_passkey(tokens.access_token().unwrap(), &mut authn)
        .await;

    // Cognito first, with the email: the options arrive in the challenge parameters.
    let (session, params) = stack.begin_custom("bob@example.test").await;
    let options: serde_json::Value = serde_json::from_str(&params["publicKey"]).unwrap();
    assert_eq!(options["allowCredentials"].as_array().unwrap().len(), 1);
    assert!(
        !params.contains_key("challengeId"),
        "the challenge id stays private"
    );
    let nonce = stack.answer_challenge(&params, &mut authn).await;
    let done = stack
        .answer(&session, "bob@example.test", &nonce)
        .await
        .unwrap();
    assert!(done.authentication_result().is_some());
}

#[tokio::test]
async fn sign_up_signed_in_sign_out_then_passkey_first_sign_in() {
    let stack = Stack::start().await;
    let mut authn = SoftAuthenticator::new();
    let signed_up = stack
        .sign_up(&json!({ "email": "carol@example.test" }), &mut authn)
        .await;
    let username = signed_up["username"].as_str().unwrap();

    // Signed in at once with the nonce from sign-up.
    let (session, _) = stack.begin_custom(username).await;
    let first = stack
        .answer(&session, username, signed_up["nonce"].as_str().unwrap())
        .await
        .unwrap();
    let first = first.authentication_result().expect("tokens after sign-up");
    assert_eq!(
        claims(first.id_token().unwrap())["email"],
        "carol@example.test"
    );

    // Sign out everywhere: the tokens stop working.
    stack
        .cognito
        .global_sign_out()
        .access_token(first.access_token().unwrap())
        .send()
        .await
        .unwrap();
    let e = stack
        .cognito
        .get_user()
        .access_token(first.access_token().unwrap())
        .send()
        .await
        .unwrap_err();
    assert_eq!(crate::stack::error_code(&e).0, "NotAuthorizedException");

    // Back with the passkey alone.
    let (nonce, again) = stack.usernameless(&mut authn).await;
    assert_eq!(again, username);
    let (session, _) = stack.begin_custom(&again).await;
    let second = stack.answer(&session, &again, &nonce).await.unwrap();
    let second = second.authentication_result().expect("tokens");
    let me = stack
        .cognito
        .get_user()
        .access_token(second.access_token().unwrap())
        .send()
        .await
        .unwrap();
    assert_eq!(me.username(), username);
}

/// The calls the product relies on through boto3 too (Python's official SDK), and SRP
/// through pycognito's independent implementation of Cognito's variant.
#[tokio::test]
async fn boto3_drives_the_stand_in() {
    let stack = Stack::start().await;
    stack
        .password_user("dave@example.test", "Dave-password-1")
        .await;
    let script = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("boto3_smoke.py");
    let out = tokio::process::Command::new("python3")
        .arg(&script)
        .env("COGNITO_URL", &stack.cognito_url)
        .env("POOL_ID", POOL)
        .env("CLIENT_ID", crate::stack::CLIENT)
        .env("SECRET_CLIENT_ID", crate::stack::SECRET_CLIENT)
        .env("CLIENT_SECRET", crate::stack::CLIENT_SECRET)
        .output()
        .await
        .expect("python3 is required for this test");
    assert!(
        out.status.success(),
        "boto3 smoke test failed:\n{}\n{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}

/// A passkey policy chosen by the stand-in's groups: the `cognito:groups` of Cognito's own
/// access token (after `AdminAddUserToGroup`) makes registration refuse a synced passkey,
/// and — enforced at sign-in — the synced passkey registered before stops signing in.
#[tokio::test]
async fn a_group_policy_through_cognito_groups() {
    let stack = Stack::start_with(crate::stack::Options {
        policy: Some(
            r#"[{"name":"admins","groups":["admins"],"device_bound":true,"enforce_on_sign_in":true}]"#
                .to_owned(),
        ),
        ..Default::default()
    })
    .await;
    let (username, mut synced) = stack
        .user_with_passkey("ann@example.test", "Ann-password-1")
        .await;

    let c = &stack.cognito;
    c.create_group()
        .user_pool_id(POOL)
        .group_name("admins")
        .send()
        .await
        .unwrap();
    c.admin_add_user_to_group()
        .user_pool_id(POOL)
        .username(&username)
        .group_name("admins")
        .send()
        .await
        .unwrap();
    let tokens = stack
        .password_sign_in("ann@example.test", "Ann-password-1")
        .await;
    let access = tokens.access_token().unwrap();
    assert_eq!(claims(access)["cognito:groups"], json!(["admins"]));
    let (s, options) = stack
        .rp("/v1/registration/options", Some(access), &json!({}))
        .await;
    assert_eq!(s, 200);
    assert_eq!(options["publicKey"]["hints"], json!(["security-key"]));
    let mut another_synced = SoftAuthenticator::new();
    let credential = another_synced
        .create(&options["publicKey"], crate::stack::ORIGIN)
        .unwrap();
    let (s, refused) = stack
        .rp(
            "/v1/registration/verify",
            Some(access),
            &json!({ "ceremonyId": options["ceremonyId"], "credential": credential }),
        )
        .await;
    assert_eq!(
        (s, refused["error"]["code"].as_str()),
        (422, Some("POLICY_VIOLATION")),
        "{refused}"
    );
    let mut key = SoftAuthenticator::new();
    key.behaviour.backup_eligible = false;
    key.behaviour.backup_state = false;
    stack.register_passkey(access, &mut key).await;

    // The synced passkey from before no longer signs in; the security key does.
    let (_, options) = stack
        .rp("/v1/authentication/options", None, &json!({}))
        .await;
    let assertion = synced
        .get(&options["publicKey"], crate::stack::ORIGIN)
        .unwrap();
    let (s, body) = stack
        .rp(
            "/v1/authentication/verify",
            None,
            &json!({ "ceremonyId": options["ceremonyId"], "credential": assertion }),
        )
        .await;
    assert_eq!(
        (s, body["error"]["details"]["rule"].as_str()),
        (422, Some("device_bound")),
        "{body}"
    );
    let (_, signed_in_as) = stack.usernameless(&mut key).await;
    assert_eq!(signed_in_as, username);

    // At sign-in the groups come from Cognito (no token is involved): out of the group,
    // the synced passkey signs in again, with no token of the user's seen in between.
    c.admin_remove_user_from_group()
        .user_pool_id(POOL)
        .username(&username)
        .group_name("admins")
        .send()
        .await
        .unwrap();
    let (_, signed_in_as) = stack.usernameless(&mut synced).await;
    assert_eq!(signed_in_as, username);
}
