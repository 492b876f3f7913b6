//! Passkey-first sign-up against a real (stand-in) Cognito user pool.

use aws_sdk_cognitoidentityprovider as cip;
use serde_json::json;
use testkit::authenticator::SoftAuthenticator;

use crate::harness::{ORIGIN, SERVICE_TOKEN, TestApp};

pub(crate) const POOL: &str = "eu-west-1_SignupTest";

pub(crate) struct Pool {
    pub(crate) client: cip::Client,
    /// The stand-in's endpoint (for processes that reach it with the AWS SDK).
    pub(crate) url: String,
    _stop: tokio::sync::oneshot::Sender<()>,
}

/// A pool whose email is the username attribute (the shape most pools have).
pub(crate) async fn pool(extra: &str) -> Pool {
    pool_shaped("username_attributes = [\"email\"]", extra, "").await
}

/// A pool with this shape (`username_attributes`, `alias_attributes` or neither),
/// these other pool settings, and these settings of its client `client`.
pub(crate) async fn pool_shaped(shape: &str, extra: &str, client: &str) -> Pool {
    let config: cognito_standin::config::Config = toml::from_str(&format!(
        r#"
listen = "127.0.0.1:0"
[[pools]]
id = "{POOL}"
{shape}
{extra}
[[pools.clients]]
id = "client"
{client}
[[pools.users]]
username = "taken@example.test"
password = "Taken-password-1"
"#
    ))
    .unwrap();
    let server = cognito_standin::Server::bind(config, None).await.unwrap();
    let url = format!("http://{}", server.addr);
    let (tx, rx) = tokio::sync::oneshot::channel::<()>();
    tokio::spawn(server.run(async move {
        let _ = rx.await;
    }));
    Pool {
        client: sdk_client(&url).await,
        url,
        _stop: tx,
    }
}

/// What the Create Auth Challenge trigger asks for a user of the stand-in pool.
pub(crate) async fn pool_challenge(app: &TestApp, sub: &str, username: &str) -> serde_json::Value {
    app.post(
        "/internal/v1/challenges",
        Some(SERVICE_TOKEN),
        &json!({ "userPoolId": POOL, "clientId": "client", "userSub": sub, "username": username }),
    )
    .await
    .expect(200)
}

async fn sdk_client(url: &str) -> cip::Client {
    let sdk = aws_config::defaults(aws_config::BehaviorVersion::latest())
        .region(aws_config::Region::new("eu-west-1"))
        .credentials_provider(cip::config::Credentials::new(
            "AKIDLOCAL",
            "local-secret",
            None,
            None,
            "test",
        ))
        .endpoint_url(url)
        .load()
        .await;
    cip::Client::new(&sdk)
}

async fn spawn(p: &Pool) -> TestApp {
    TestApp::spawn_with_signup(
        rp_server::cognito::CognitoAdmin::new(p.client.clone(), POOL.to_owned()),
        POOL,
    )
    .await
}

async fn users_with_email(p: &Pool, email: &str) -> usize {
    p.client
        .list_users()
        .user_pool_id(POOL)
        .filter(format!("email = \"{email}\""))
        .send()
        .await
        .unwrap()
        .users()
        .len()
}

#[tokio::test]
async fn sign_up_creates_the_cognito_user_and_signs_in() {
    let p = pool("").await;
    let app = spawn(&p).await;
    let options = app
        .post(
            "/v1/signup/options",
            None,
            &json!({ "email": "  New.User@Example.test " }),
        )
        .await
        .expect(200);
    assert_eq!(
        options["publicKey"]["user"]["name"],
        "new.user@example.test"
    );
    assert_eq!(
        options["publicKey"]["authenticatorSelection"]["residentKey"],
        "required"
    );
    let mut authn = SoftAuthenticator::new();
    let credential = authn.create(&options["publicKey"], ORIGIN).unwrap();
    let signed_in = app
        .post(
            "/v1/signup/verify",
            None,
            &json!({ "ceremonyId": options["ceremonyId"], "credential": credential }),
        )
        .await
        .expect(200);
    let username = signed_in["username"].as_str().unwrap();

    // The Cognito user: confirmed, email set, username a UUID (email is the sign-in name).
    let user = p
        .client
        .admin_get_user()
        .user_pool_id(POOL)
        .username("new.user@example.test")
        .send()
        .await
        .unwrap();
    assert_eq!(user.username(), username);
    assert_eq!(user.user_status().unwrap().as_str(), "CONFIRMED");
    let sub = user
        .user_attributes()
        .iter()
        .find(|a| a.name() == "sub")
        .unwrap()
        .value()
        .unwrap()
        .to_owned();
    let email = user
        .user_attributes()
        .iter()
        .find(|a| a.name() == "email")
        .unwrap()
        .value()
        .unwrap()
        .to_owned();
    assert_eq!(email, "new.user@example.test");
    // Its password is unknown to everyone: not even an empty or guessable one works.
    let e = p
        .client
        .initiate_auth()
        .client_id("client")
        .auth_flow(cip::types::AuthFlowType::UserPasswordAuth)
        .auth_parameters("USERNAME", "new.user@example.test")
        .auth_parameters("PASSWORD", "Aa1!")
        .send()
        .await
        .unwrap_err();
    assert_eq!(
        e.as_service_error().unwrap().meta().code(),
        Some("NotAuthorizedException")
    );

    // The nonce redeems for the Cognito challenge of that user.
    let challenge = pool_challenge(&app, &sub, username).await;
    let r = app
        .redeem(
            signed_in["nonce"].as_str().unwrap(),
            &sub,
            &challenge["challengeId"],
        )
        .await;
    assert_eq!(r["valid"], true);
    // The passkey signs in again later, usernameless.
    assert_eq!(
        app.sign_in(&mut authn).await.expect(200)["username"],
        username
    );
    let actions = app.audit_actions().await;
    assert!(actions.contains(&"user.signed_up".to_owned()));
}

#[tokio::test]
async fn a_taken_email_is_refused_without_creating_anything() {
    let p = pool("").await;
    let app = spawn(&p).await;
    app.post(
        "/v1/signup/options",
        None,
        &json!({ "email": "taken@example.test" }),
    )
    .await
    .expect_error(409, "EMAIL_TAKEN");

    // Taken between options and verify.
    let options = app
        .post(
            "/v1/signup/options",
            None,
            &json!({ "email": "race@example.test" }),
        )
        .await
        .expect(200);
    let credential = SoftAuthenticator::new()
        .create(&options["publicKey"], ORIGIN)
        .unwrap();
    p.client
        .admin_create_user()
        .user_pool_id(POOL)
        .username("race@example.test")
        .user_attributes(
            cip::types::AttributeType::builder()
                .name("email")
                .value("race@example.test")
                .build()
                .unwrap(),
        )
        .message_action(cip::types::MessageActionType::Suppress)
        .send()
        .await
        .unwrap();
    app.post(
        "/v1/signup/verify",
        None,
        &json!({ "ceremonyId": options["ceremonyId"], "credential": credential }),
    )
    .await
    .expect_error(409, "EMAIL_TAKEN");
    assert_eq!(users_with_email(&p, "race@example.test").await, 1);
    assert_eq!(
        (
            app.count("users").await,
            app.count("credentials").await,
            app.count("nonces").await
        ),
        (0, 0, 0)
    );
}

#[tokio::test]
async fn a_cognito_failure_after_the_passkey_check_leaves_nothing_half_stored() {
    // AdminSetUserPassword fails (Cognito has an outage of that call) after
    // AdminCreateUser succeeded.
    let p = pool(r#"unavailable_operations = ["AdminSetUserPassword"]"#).await;
    let app = spawn(&p).await;
    let options = app
        .post(
            "/v1/signup/options",
            None,
            &json!({ "email": "half@example.test" }),
        )
        .await
        .expect(200);
    finish_signup(&app, &options)
        .await
        .expect_error(503, "UNAVAILABLE");
    assert_eq!(
        users_with_email(&p, "half@example.test").await,
        0,
        "the Cognito user was deleted again"
    );
    assert_eq!(
        (
            app.count("users").await,
            app.count("credentials").await,
            app.count("nonces").await
        ),
        (0, 0, 0)
    );
}

#[tokio::test]
async fn cognito_unreachable_is_a_503_and_bad_emails_a_400() {
    let closed = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}", closed.local_addr().unwrap());
    drop(closed);
    let app = TestApp::spawn_with_signup(
        rp_server::cognito::CognitoAdmin::new(sdk_client(&url).await, POOL.to_owned()),
        POOL,
    )
    .await;
    app.post(
        "/v1/signup/options",
        None,
        &json!({ "email": "x@example.test" }),
    )
    .await
    .expect_error(503, "UNAVAILABLE");
    for bad in [
        "",
        "no-at-sign",
        "a@b",
        "two@@example.test",
        "sp ace@example.test",
        "@example.test",
        "a@.test",
    ] {
        app.post("/v1/signup/options", None, &json!({ "email": bad }))
            .await
            .expect_error(400, "INVALID_EMAIL");
    }
}

#[tokio::test]
async fn sign_up_is_off_unless_enabled() {
    let app = TestApp::spawn().await;
    app.post(
        "/v1/signup/options",
        None,
        &json!({ "email": "a@example.test" }),
    )
    .await
    .expect_error(404, "SIGNUP_DISABLED");
}

/// An account reset must end the attacker's session too: rp-server refuses access tokens
/// issued before it (`SESSION_REVOKED`), and Cognito signs the user out everywhere
/// (AdminUserGlobalSignOut), so a refresh token cannot mint new ones.
#[tokio::test]
async fn an_account_reset_ends_the_users_sessions() {
    let p = pool("").await;
    let app = spawn(&p).await;
    // A Cognito session of the seeded user, with a refresh token.
    let auth = p
        .client
        .initiate_auth()
        .client_id("client")
        .auth_flow(cip::types::AuthFlowType::UserPasswordAuth)
        .auth_parameters("USERNAME", "taken@example.test")
        .auth_parameters("PASSWORD", "Taken-password-1")
        .send()
        .await
        .unwrap();
    let tokens = auth.authentication_result.unwrap();
    let refresh = tokens.refresh_token.unwrap();
    let me = p
        .client
        .get_user()
        .access_token(tokens.access_token.unwrap())
        .send()
        .await
        .unwrap();
    let sub = me
        .user_attributes
        .iter()
        .find(|a| a.name == "sub")
        .and_then(|a| a.value.clone())
        .unwrap();
    let user = testkit::rp::User {
        sub: sub.clone(),
        username: me.username.clone(),
    };
    let mut authn = SoftAuthenticator::new();
    app.register(&user, &mut authn).await;
    let before = app.token(&user);
    app.get("/v1/credentials", Some(&before)).await.expect(200);

    // (The server's clock is the test's: the reset happens a little later than `before`.)
    app.clock.advance(std::time::Duration::from_secs(5));
    let reset = app
        .send(
            app.http
                .post(app.url(&format!("/admin/v1/users/{sub}/reset")))
                .bearer_auth(crate::harness::ADMIN_TOKEN)
                .json(&json!({ "reason": "account takeover" })),
        )
        .await
        .expect(200);
    assert_eq!(reset["cognitoGlobalSignOut"], "done");
    assert_eq!(reset["revoked"].as_array().unwrap().len(), 1);

    // The token from before the reset is refused everywhere it was accepted.
    app.get("/v1/credentials", Some(&before))
        .await
        .expect_error(401, "SESSION_REVOKED");
    app.post("/v1/registration/options", Some(&before), &json!({}))
        .await
        .expect_error(401, "SESSION_REVOKED");
    // One from a sign-in after it works.
    let mut claims = app.idp.access_claims(&user.sub, &user.username);
    let later = testkit::idp::now_secs() + 10;
    claims["iat"] = json!(later);
    claims["auth_time"] = json!(later);
    app.get("/v1/credentials", Some(&app.idp.sign(&claims).unwrap()))
        .await
        .expect(200);
    // Cognito's refresh token no longer mints tokens.
    let refreshed = p
        .client
        .initiate_auth()
        .client_id("client")
        .auth_flow(cip::types::AuthFlowType::RefreshTokenAuth)
        .auth_parameters("REFRESH_TOKEN", refresh)
        .send()
        .await;
    let err = refreshed.unwrap_err().into_service_error();
    assert!(err.is_not_authorized_exception(), "{err:?}");
    let details: serde_json::Value =
        sqlx::query_scalar("SELECT details FROM audit_events WHERE action = 'account.reset'")
            .fetch_one(&app.state.db)
            .await
            .unwrap();
    assert_eq!(details["cognitoGlobalSignOut"], "done");
    assert!(details["sessionsEndedAt"].is_string());
}

async fn sign_up(app: &TestApp, email: &str) -> String {
    let options = app
        .post("/v1/signup/options", None, &json!({ "email": email }))
        .await
        .expect(200);
    let signed_in = finish_signup(app, &options).await.expect(200);
    signed_in["username"].as_str().unwrap().to_owned()
}

/// Creates the passkey (on a new authenticator) and finishes the sign-up started with
/// these options.
pub(crate) async fn finish_signup(
    app: &TestApp,
    options: &serde_json::Value,
) -> testkit::rp::Response {
    let credential = SoftAuthenticator::new()
        .create(&options["publicKey"], ORIGIN)
        .unwrap();
    app.post(
        "/v1/signup/verify",
        None,
        &json!({ "ceremonyId": options["ceremonyId"], "credential": credential }),
    )
    .await
}

/// A crash between AdminCreateUser and the commit would leave a confirmed Cognito user
/// without a passkey holding the email forever. The pending row recorded before Cognito
/// is asked lets the background sweep undo it once the ceremony could no longer finish;
/// a finished sign-up is never touched.
#[tokio::test]
async fn a_sign_up_that_never_finished_is_undone_by_the_sweep() {
    let p = pool("").await;
    let app = spawn(&p).await;
    let finished = sign_up(&app, "finished@example.test").await;
    assert_eq!(
        app.count("pending_signups").await,
        0,
        "finished: no row left"
    );

    // Two crashed sign-ups: one after Cognito answered (its username was recorded), one
    // while AdminCreateUser was under way (only the email is known).
    let now = app.clock.now();
    let ttl = chrono::Duration::seconds(300);
    for (email, record_username) in [("crashed@example.test", true), ("mid@example.test", false)] {
        let created = p
            .client
            .admin_create_user()
            .user_pool_id(POOL)
            .username(email)
            .user_attributes(
                cip::types::AttributeType::builder()
                    .name("email")
                    .value(email)
                    .build()
                    .unwrap(),
            )
            .message_action(cip::types::MessageActionType::Suppress)
            .send()
            .await
            .unwrap();
        let id = uuid::Uuid::new_v4();
        rp_server::store::signups::insert_pending(
            &app.state.db,
            &app.state.admin_site().id,
            id,
            email,
            now,
            now + ttl,
        )
        .await
        .unwrap();
        if record_username {
            let username = created.user().unwrap().username().unwrap();
            rp_server::store::signups::set_username(&app.state.db, id, username)
                .await
                .unwrap();
        }
    }
    // A stale row naming the finished user (as if its removal had been lost) must not
    // cost that user their account.
    rp_server::store::signups::insert_pending(
        &app.state.db,
        &app.state.admin_site().id,
        uuid::Uuid::new_v4(),
        "finished@example.test",
        now,
        now + ttl,
    )
    .await
    .unwrap();

    rp_server::purge::once(&app.state).await;
    assert_eq!(
        users_with_email(&p, "crashed@example.test").await,
        1,
        "not yet"
    );
    app.clock.advance(std::time::Duration::from_secs(301));
    rp_server::purge::once(&app.state).await;
    assert_eq!(users_with_email(&p, "crashed@example.test").await, 0);
    assert_eq!(users_with_email(&p, "mid@example.test").await, 0);
    assert_eq!(users_with_email(&p, "finished@example.test").await, 1);
    assert_eq!(app.count("pending_signups").await, 0);
    let abandoned: i64 = sqlx::query_scalar(
        "SELECT count(*) FROM audit_events WHERE action = 'user.signup_abandoned'",
    )
    .fetch_one(&app.state.db)
    .await
    .unwrap();
    assert_eq!(abandoned, 2);
    let known: i64 = sqlx::query_scalar("SELECT count(*) FROM users WHERE username = $1")
        .bind(&finished)
        .fetch_one(&app.state.db)
        .await
        .unwrap();
    assert_eq!(known, 1);
}

/// Sign-up on every pool shape: the Cognito username is the email where Cognito allows
/// it, and a UUID where the email is an alias (Cognito refuses an email-like username
/// there: before, every sign-up on such a pool failed after the passkey was made).
/// Each user then signs in passkey-first under that username, and an admin finds them
/// by email.
#[tokio::test]
async fn sign_up_names_users_as_each_pool_shape_requires() {
    for (shape, email_is_username) in [("alias_attributes = [\"email\"]", false), ("", true)] {
        let p = pool_shaped(shape, "", "").await;
        let app = spawn(&p).await;
        let email = "shape@example.test";
        let options = app
            .post("/v1/signup/options", None, &json!({ "email": email }))
            .await
            .expect(200);
        let mut authn = SoftAuthenticator::new();
        let credential = authn.create(&options["publicKey"], ORIGIN).unwrap();
        let signed_in = app
            .post(
                "/v1/signup/verify",
                None,
                &json!({ "ceremonyId": options["ceremonyId"], "credential": credential }),
            )
            .await
            .expect(200);
        let username = signed_in["username"].as_str().unwrap().to_owned();
        if email_is_username {
            assert_eq!(username, email, "{shape}");
        } else {
            assert!(
                uuid::Uuid::parse_str(&username).is_ok(),
                "{shape}: {username}"
            );
        }
        let user = p
            .client
            .admin_get_user()
            .user_pool_id(POOL)
            .username(&username)
            .send()
            .await
            .unwrap();
        assert_eq!(user.user_status().unwrap().as_str(), "CONFIRMED");
        assert!(
            user.user_attributes()
                .iter()
                .any(|a| a.name() == "email" && a.value() == Some(email)),
            "{shape}"
        );
        assert_eq!(
            app.sign_in(&mut authn).await.expect(200)["username"],
            username.as_str()
        );
        let found = app
            .send(
                app.http
                    .get(app.url(&format!("/admin/v1/users?email={email}")))
                    .bearer_auth(testkit::rp::ADMIN_TOKEN),
            )
            .await
            .expect(200);
        assert_eq!(found["username"], username.as_str());
        assert_eq!(found["credentials"].as_array().unwrap().len(), 1);
    }
}

/// At start rp-server compares its ceremony lifetime with each app client's
/// AuthSessionValidity, and says so when it cannot.
#[tokio::test]
async fn the_ceremony_lifetime_is_checked_against_the_session_validity() {
    let p = pool_shaped(
        "username_attributes = [\"email\"]",
        "",
        "auth_session_validity = 5",
    )
    .await;
    let admin = rp_server::cognito::CognitoAdmin::new(p.client.clone(), POOL.to_owned());
    assert_eq!(
        admin.shape().await.unwrap(),
        rp_server::cognito::PoolShape::EmailUsername
    );
    let clients = ["client".to_owned()];
    let warnings = |secs: u64| {
        rp_server::cognito::session_validity_warnings(
            std::time::Duration::from_secs(secs),
            &clients,
            Some(&admin),
        )
    };
    assert_eq!(warnings(300).await, Vec::<String>::new());
    let too_long = warnings(301).await;
    assert_eq!(too_long.len(), 1);
    assert!(
        too_long[0].contains(
            "RP_CEREMONY_TTL_SECS (301 s) outlasts app client client's AuthSessionValidity (5 min)"
        ),
        "{too_long:?}"
    );
    let unknown = rp_server::cognito::session_validity_warnings(
        std::time::Duration::from_secs(180),
        &["nosuchclient".to_owned()],
        Some(&admin),
    )
    .await;
    assert!(unknown[0].starts_with("cannot check"), "{unknown:?}");
    let without_pool = rp_server::cognito::session_validity_warnings(
        std::time::Duration::from_secs(60),
        &clients,
        None,
    )
    .await;
    assert!(without_pool[0].contains("without RP_COGNITO_USER_POOL_ID"));
}

/// Where the email is an alias, a verified email is one user's alias: creating a second
/// user with it verified is `AliasExistsException` in Cognito (and the stand-in), which
/// sign-up takes as `EMAIL_TAKEN` — never a second owner of the address, never a 503.
/// (rp-server's own check finds the address first; this is the answer when another
/// system created the user in between.)
#[tokio::test]
async fn an_alias_held_by_another_user_is_email_taken() {
    let p = pool_shaped(
        r#"alias_attributes = ["email"]"#,
        r#"
[[pools.users]]
username = "holder"
attributes = { email = "held@example.test", email_verified = "true" }
"#,
        "",
    )
    .await;
    let cognito = rp_server::cognito::CognitoAdmin::new(p.client.clone(), POOL.to_owned());
    let taken = cognito.create_user("held@example.test", true).await;
    assert!(
        matches!(taken, Err(rp_server::cognito::CognitoError::EmailTaken)),
        "{taken:?}"
    );
    // Unverified, it is no alias, and the address is free to prove.
    cognito
        .create_user("held@example.test", false)
        .await
        .unwrap();
}
