//! Email one-time codes over a real SMTP server on loopback: verified passkey-first
//! sign-up, and the rules of codes (attempts, expiry, resend, one live code, no
//! enumeration, nothing secret in the audit log).

use serde_json::json;
use testkit::authenticator::SoftAuthenticator;
use testkit::smtp::Mailbox;

use crate::harness::TestApp;
use crate::signup::{POOL, Pool, finish_signup, pool};

pub(crate) async fn spawn(p: &Pool, mail: &Mailbox) -> TestApp {
    spawn_adjusted(p, mail, |_| {}).await
}

/// A sign-up server with mail, then `adjust`ed.
pub(crate) async fn spawn_adjusted(
    p: &Pool,
    mail: &Mailbox,
    adjust: impl FnOnce(&mut rp_server::config::Config),
) -> TestApp {
    let cognito = rp_server::cognito::CognitoAdmin::new(p.client.clone(), POOL.to_owned());
    let smtp = mail.url.clone();
    TestApp::spawn_full(
        move |c| {
            c.signup_user_pool_id = Some(POOL.to_owned());
            c.email = Some(rp_server::config::EmailConfig {
                transport: rp_server::config::EmailTransport::Smtp(smtp.into()),
                from: "Example <no-reply@example.com>".to_owned(),
            });
            c.signup_verify_email = true;
            c.email_link_url = url::Url::parse("https://app.example.com/email").ok();
            adjust(c);
        },
        cognito,
    )
    .await
}

pub(crate) async fn send(app: &TestApp, email: &str, purpose: &str) -> testkit::rp::Response {
    app.post(
        "/v1/email/codes",
        None,
        &json!({ "email": email, "purpose": purpose }),
    )
    .await
}

/// Tries a sign-up code of the request `sent` (what `/v1/email/codes` answered).
pub(crate) async fn verify(
    app: &TestApp,
    email: &str,
    code: &str,
    sent: &serde_json::Value,
) -> testkit::rp::Response {
    app.post(
        "/v1/email/verify",
        None,
        &json!({ "email": email, "code": code, "purpose": "sign_up", "codeRequestId": sent["codeRequestId"] }),
    )
    .await
}

#[tokio::test]
async fn sign_up_needs_a_verified_email_and_marks_it_verified() {
    let (p, mail) = (pool("").await, Mailbox::start().await.unwrap());
    let app = spawn(&p, &mail).await;
    let email = "verified@example.test";

    // No proof, or a made-up one: refused before any passkey is made.
    for token in [
        None,
        Some("rpv_AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA"),
    ] {
        app.post(
            "/v1/signup/options",
            None,
            &json!({ "email": email, "signupToken": token }),
        )
        .await
        .expect_error(401, "EMAIL_NOT_VERIFIED");
    }

    let sent = send(&app, email, "sign_up").await.expect(202);
    assert!(sent["expiresAt"].is_string() && sent["resendAfter"].is_string());
    let message = mail.wait_for(email, 1).await.unwrap();
    let code = message.code().expect("a code in the subject");
    assert!(message.subject.ends_with("is your Example code"));
    assert!(message.raw.contains("text/html") && message.raw.contains("text/plain"));
    assert_eq!(
        message.link().as_deref(),
        Some(
            format!("https://app.example.com/email#code={code}&purpose=sign_up&email=verified%40example.test")
                .as_str()
        )
    );
    assert!(
        message
            .text()
            .contains(&format!("Your Example code is {code}"))
    );

    // A wrong code, then the right one.
    let wrong = if code == "000000" { "000001" } else { "000000" };
    verify(&app, email, wrong, &sent)
        .await
        .expect_error(422, "CODE_INVALID");
    let proof = verify(&app, email, &code, &sent).await.expect(200);
    let token = proof["signupToken"].as_str().unwrap().to_owned();
    assert!(token.starts_with("rpv_"));
    // A code works once.
    verify(&app, email, &code, &sent)
        .await
        .expect_error(410, "CODE_EXPIRED");

    // The proof is for this address only.
    app.post(
        "/v1/signup/options",
        None,
        &json!({ "email": "other@example.test", "signupToken": token }),
    )
    .await
    .expect_error(401, "EMAIL_NOT_VERIFIED");

    let options = app
        .post(
            "/v1/signup/options",
            None,
            &json!({ "email": email, "signupToken": token }),
        )
        .await
        .expect(200);
    let signed_up = finish_signup(&app, &options).await.expect(200);
    let user = p
        .client
        .admin_get_user()
        .user_pool_id(POOL)
        .username(signed_up["username"].as_str().unwrap())
        .send()
        .await
        .unwrap();
    assert!(
        user.user_attributes()
            .iter()
            .any(|a| a.name() == "email_verified" && a.value() == Some("true"))
    );

    // The token was spent by that sign-up.
    let again = app
        .post(
            "/v1/signup/options",
            None,
            &json!({ "email": "verified2@example.test", "signupToken": token }),
        )
        .await;
    again.expect_error(401, "EMAIL_NOT_VERIFIED");

    // Nothing secret in the audit log.
    let details: Vec<String> = sqlx::query_scalar(
        "SELECT details::text FROM audit_events WHERE action LIKE 'email.%' ORDER BY id",
    )
    .fetch_all(&app.state.db)
    .await
    .unwrap();
    assert!(details.len() >= 4, "{details:?}");
    assert!(
        details
            .iter()
            .all(|d| !d.contains(&code) && !d.contains(&token))
    );
}

#[tokio::test]
async fn codes_allow_five_guesses_expire_and_are_replaced() {
    let (p, mail) = (pool("").await, Mailbox::start().await.unwrap());
    let app = spawn(&p, &mail).await;
    let email = "guess@example.test";
    let first = send(&app, email, "sign_up").await.expect(202);
    let code = mail.wait_for(email, 1).await.unwrap().code().unwrap();
    let wrong = if code == "999999" { "999998" } else { "999999" };
    for _ in 0..5 {
        verify(&app, email, wrong, &first)
            .await
            .expect_error(422, "CODE_INVALID");
    }
    // Out of attempts: even the right code is dead.
    verify(&app, email, &code, &first)
        .await
        .expect_error(410, "CODE_EXPIRED");

    // A resend within a minute is refused with Retry-After; after it, a new code
    // replaces the old one.
    let r = send(&app, email, "sign_up").await;
    r.expect_error(429, "RATE_LIMITED");
    app.clock.advance(std::time::Duration::from_secs(61));
    let second_sent = send(&app, email, "sign_up").await.expect(202);
    let second = mail.wait_for(email, 2).await.unwrap().code().unwrap();
    app.clock.advance(std::time::Duration::from_secs(61));
    let third_sent = send(&app, email, "sign_up").await.expect(202);
    let third = mail.wait_for(email, 3).await.unwrap().code().unwrap();
    // The replaced request is gone, its code with it; the new request takes only its own.
    verify(&app, email, &second, &second_sent)
        .await
        .expect_error(410, "CODE_EXPIRED");
    if second != third {
        verify(&app, email, &second, &third_sent)
            .await
            .expect_error(422, "CODE_INVALID");
    }
    // Codes expire (RP_EMAIL_CODE_TTL_SECS, 600 by default).
    app.clock.advance(std::time::Duration::from_secs(601));
    verify(&app, email, &third, &third_sent)
        .await
        .expect_error(410, "CODE_EXPIRED");
}

#[tokio::test]
async fn a_taken_address_gets_a_notice_and_the_caller_learns_nothing() {
    let (p, mail) = (pool("").await, Mailbox::start().await.unwrap());
    let app = spawn(&p, &mail).await;
    // "taken@example.test" is the pool's seed user.
    let taken = send(&app, "taken@example.test", "sign_up")
        .await
        .expect(202);
    let free = send(&app, "free@example.test", "sign_up").await.expect(202);
    assert_eq!(
        taken.as_object().unwrap().keys().collect::<Vec<_>>(),
        free.as_object().unwrap().keys().collect::<Vec<_>>()
    );
    let notice = mail.wait_for("taken@example.test", 1).await.unwrap();
    assert_eq!(notice.code(), None);
    assert!(
        notice.subject.contains("already have"),
        "{}",
        notice.subject
    );
    assert!(
        mail.wait_for("free@example.test", 1)
            .await
            .unwrap()
            .code()
            .is_some()
    );

    // Email sign-in is off unless RP_EMAIL_SIGNIN says otherwise.
    send(&app, "taken@example.test", "sign_in")
        .await
        .expect_error(404, "EMAIL_SIGNIN_DISABLED");
}

#[tokio::test]
async fn each_address_and_each_client_has_a_daily_limit() {
    let (p, mail) = (pool("").await, Mailbox::start().await.unwrap());
    let app = spawn(&p, &mail).await;
    for _ in 0..rp_server::flows::email::PER_ADDRESS_PER_DAY {
        send(&app, "busy@example.test", "sign_up").await.expect(202);
        app.clock.advance(std::time::Duration::from_secs(61));
    }
    send(&app, "busy@example.test", "sign_up")
        .await
        .expect_error(429, "RATE_LIMITED");
    // A day later the address may ask again.
    app.clock.advance(std::time::Duration::from_secs(86_400));
    send(&app, "busy@example.test", "sign_up").await.expect(202);

    // One client asking for many addresses is stopped too.
    app.clock.advance(std::time::Duration::from_secs(86_400));
    for i in 0..rp_server::flows::email::PER_IP_PER_DAY {
        send(&app, &format!("spray{i}@example.test"), "sign_up")
            .await
            .expect(202);
    }
    send(&app, "one-more@example.test", "sign_up")
        .await
        .expect_error(429, "RATE_LIMITED");
}

/// A confirmed pool user with this email, verified or not; returns (username, sub).
pub(crate) async fn pool_user(p: &Pool, email: &str, verified: bool) -> (String, String) {
    let attribute = |n: &str, v: &str| {
        aws_sdk_cognitoidentityprovider::types::AttributeType::builder()
            .name(n)
            .value(v)
            .build()
            .unwrap()
    };
    let created = p
        .client
        .admin_create_user()
        .user_pool_id(POOL)
        .username(email)
        .user_attributes(attribute("email", email))
        .user_attributes(attribute(
            "email_verified",
            if verified { "true" } else { "false" },
        ))
        .message_action(aws_sdk_cognitoidentityprovider::types::MessageActionType::Suppress)
        .send()
        .await
        .unwrap();
    let user = created.user().unwrap();
    let sub = user
        .attributes()
        .iter()
        .find(|a| a.name() == "sub")
        .and_then(|a| a.value())
        .unwrap()
        .to_owned();
    (user.username().unwrap().to_owned(), sub)
}

pub(crate) async fn spawn_signin(
    p: &Pool,
    mail: &Mailbox,
    who: rp_server::config::EmailSignIn,
) -> TestApp {
    let cognito = rp_server::cognito::CognitoAdmin::new(p.client.clone(), POOL.to_owned());
    let smtp = mail.url.clone();
    TestApp::spawn_full(
        move |c| {
            c.cognito_user_pool_id = Some(POOL.to_owned());
            c.email = Some(rp_server::config::EmailConfig {
                transport: rp_server::config::EmailTransport::Smtp(smtp.into()),
                from: "no-reply@example.com".to_owned(),
            });
            c.email_signin = who;
        },
        cognito,
    )
    .await
}

pub(crate) async fn verify_signin(
    app: &TestApp,
    email: &str,
    code: &str,
    sent: &serde_json::Value,
) -> testkit::rp::Response {
    app.post(
        "/v1/email/verify",
        None,
        &json!({ "email": email, "code": code, "purpose": "sign_in", "codeRequestId": sent["codeRequestId"] }),
    )
    .await
}

/// Email sign-in ends in the same nonce a passkey earns, and the Verify trigger's
/// redemption accepts it; only a verified address of an existing account gets a code.
#[tokio::test]
async fn an_email_code_signs_in_through_the_same_nonce() {
    let (p, mail) = (pool("").await, Mailbox::start().await.unwrap());
    let app = spawn_signin(&p, &mail, rp_server::config::EmailSignIn::Any).await;
    let (username, sub) = pool_user(&p, "ivy@example.test", true).await;
    pool_user(&p, "unverified@example.test", false).await;

    let app = &app;
    let answers: Vec<serde_json::Value> = futures::future::join_all(
        [
            "ivy@example.test",
            "nobody@example.test",
            "unverified@example.test",
        ]
        .map(|e| async move { send(app, e, "sign_in").await.expect(202) }),
    )
    .await;
    assert!(answers.iter().all(|a| a["expiresAt"].is_string()));
    let code = mail
        .wait_for("ivy@example.test", 1)
        .await
        .unwrap()
        .code()
        .unwrap();
    let signed_in = verify_signin(app, "ivy@example.test", &code, &answers[0])
        .await
        .expect(200);
    assert_eq!(signed_in["username"], username.as_str());

    // The Verify trigger redeems it like a passkey's nonce (no credential to name).
    let challenge = crate::signup::pool_challenge(app, &sub, &username).await;
    let r = app
        .redeem(
            signed_in["nonce"].as_str().unwrap(),
            &sub,
            &challenge["challengeId"],
        )
        .await;
    assert_eq!(r["valid"], true, "{r}");
    assert!(r.get("credentialId").is_none_or(serde_json::Value::is_null));

    // The session that code began may add Ivy's first passkey, and nothing more.
    let ivy = testkit::rp::User {
        sub: sub.clone(),
        username: username.clone(),
    };
    let first = app.register(&ivy, &mut SoftAuthenticator::new()).await;
    let refused = app
        .post(
            "/v1/registration/options",
            Some(&app.token(&ivy)),
            &json!({}),
        )
        .await;
    refused.expect_error(401, "REAUTH_REQUIRED");
    assert_eq!(refused.body["error"]["details"]["factor"], "passkey");
    app.send(
        app.http
            .delete(app.url(&format!(
                "/v1/credentials/{}",
                first["id"].as_str().unwrap()
            )))
            .bearer_auth(app.token(&ivy)),
    )
    .await
    .expect_error(401, "REAUTH_REQUIRED");

    // Nothing went to the address without an account, or to the unverified one.
    app.delivered().await;
    assert_eq!(mail.count_for("nobody@example.test"), 0);
    assert_eq!(mail.count_for("unverified@example.test"), 0);
    assert!(
        app.audit_actions()
            .await
            .contains(&"email.code_verified".to_owned())
    );
}

/// With `RP_EMAIL_SIGNIN=no_passkey` a user with a passkey cannot be signed in by email
/// (the fallback never bypasses a passkey).
#[tokio::test]
async fn no_passkey_mode_refuses_users_with_a_passkey() {
    let (p, mail) = (pool("").await, Mailbox::start().await.unwrap());
    let app = spawn_signin(&p, &mail, rp_server::config::EmailSignIn::NoPasskey).await;
    let (username, sub) = pool_user(&p, "kit@example.test", true).await;
    let kit = testkit::rp::User { sub, username };
    app.register(&kit, &mut SoftAuthenticator::new()).await;
    send(&app, "kit@example.test", "sign_in").await.expect(202);
    app.delivered().await;
    assert_eq!(mail.count_for("kit@example.test"), 0);

    // Off by default.
    let off = spawn_signin(&p, &mail, rp_server::config::EmailSignIn::Off).await;
    send(&off, "kit@example.test", "sign_in")
        .await
        .expect_error(404, "EMAIL_SIGNIN_DISABLED");
}

/// A server that administers the stand-in pool and mails security notices to the mailbox.
pub(crate) async fn spawn_with_notices(p: &Pool, mail: &Mailbox) -> TestApp {
    let cognito = rp_server::cognito::CognitoAdmin::new(p.client.clone(), POOL.to_owned());
    let smtp = mail.url.clone();
    TestApp::spawn_full(
        move |c| {
            c.cognito_user_pool_id = Some(POOL.to_owned());
            c.email = Some(rp_server::config::EmailConfig {
                transport: rp_server::config::EmailTransport::Smtp(smtp.into()),
                from: "no-reply@example.com".to_owned(),
            });
            c.email_notify = true;
        },
        cognito,
    )
    .await
}

/// Security notices: a passkey added, deleted or revoked and an account reset each mail
/// the user's verified address, naming what happened and when.
#[tokio::test]
async fn account_changes_are_notified_by_email() {
    let (p, mail) = (pool("").await, Mailbox::start().await.unwrap());
    let app = spawn_with_notices(&p, &mail).await;
    let email = "nell@example.test";
    let (username, sub) = pool_user(&p, email, true).await;
    let nell = testkit::rp::User {
        sub: sub.clone(),
        username,
    };
    let admin = |path: String| {
        app.http
            .post(app.url(&path))
            .bearer_auth(crate::harness::ADMIN_TOKEN)
            .json(&json!({ "reason": "test" }))
    };

    let first = app.register(&nell, &mut SoftAuthenticator::new()).await;
    let added = mail.wait_for(email, 1).await.unwrap();
    assert_eq!(added.subject, "Security notice from Example");
    assert!(
        added.raw.contains("was added to your account"),
        "{}",
        added.raw
    );

    app.send(
        app.http
            .delete(app.url(&format!(
                "/v1/credentials/{}",
                first["id"].as_str().unwrap()
            )))
            .bearer_auth(app.token(&nell)),
    )
    .await
    .expect(204);
    assert!(
        mail.wait_for(email, 2)
            .await
            .unwrap()
            .raw
            .contains("was deleted")
    );

    let second = app.register(&nell, &mut SoftAuthenticator::new()).await;
    mail.wait_for(email, 3).await.unwrap();
    app.send(admin(format!(
        "/admin/v1/credentials/{}/revoke",
        second["id"].as_str().unwrap()
    )))
    .await
    .expect(200);
    assert!(
        mail.wait_for(email, 4)
            .await
            .unwrap()
            .raw
            .contains("revoked by an administrator")
    );

    app.send(admin(format!("/admin/v1/users/{sub}/reset")))
        .await
        .expect(200);
    assert!(
        mail.wait_for(email, 5)
            .await
            .unwrap()
            .raw
            .contains("was reset")
    );
}

/// The admin CLI's revocations and resets mail the user too, as the admin API's do (the
/// server itself sends no mail here: every notice below comes from the CLI).
#[tokio::test]
async fn cli_revocations_and_resets_are_notified_too() {
    let (p, mail) = (pool("").await, Mailbox::start().await.unwrap());
    let app = TestApp::spawn().await;
    let email = "olga@example.test";
    let (username, sub) = pool_user(&p, email, true).await;
    let olga = testkit::rp::User {
        sub: sub.clone(),
        username,
    };
    let passkey = app.register(&olga, &mut SoftAuthenticator::new()).await;
    let cli_with = |args: &[&str], extra: &[(&str, &str)]| {
        let mut command = app.admin_cli(args);
        command.envs(extra.iter().copied());
        command
            .env("RP_NAME", "Example")
            .env("RP_COGNITO_USER_POOL_ID", POOL)
            .env("AWS_ENDPOINT_URL", &p.url)
            .env("AWS_REGION", "eu-west-1")
            .env("AWS_ACCESS_KEY_ID", "AKIDLOCAL")
            .env("AWS_SECRET_ACCESS_KEY", "local-secret")
            .env("RP_EMAIL_TRANSPORT", "smtp")
            .env("RP_SMTP_URL", &mail.url)
            .env("RP_EMAIL_FROM", "no-reply@example.com");
        // The stand-in pool serves from this test's runtime: wait off it.
        async move {
            let out = tokio::task::spawn_blocking(move || command.output().unwrap())
                .await
                .unwrap();
            let said = String::from_utf8_lossy(&out.stderr).into_owned();
            assert!(out.status.success(), "{said}");
            said
        }
    };
    let cli = |args: &[&str]| cli_with(args, &[]);

    let said = cli(&["revoke", passkey["id"].as_str().unwrap()]).await;
    assert!(said.contains("security notice sent"), "{said}");
    let revoked = mail.wait_for(email, 1).await.unwrap();
    assert_eq!(revoked.subject, "Security notice from Example");
    assert!(
        revoked.raw.contains("revoked by an administrator"),
        "{}",
        revoked.raw
    );

    let said = cli(&["reset", "--sub", &sub]).await;
    assert!(said.contains("security notice sent"), "{said}");
    assert!(
        mail.wait_for(email, 2)
            .await
            .unwrap()
            .raw
            .contains("was reset")
    );

    // Off when asked, and nothing for a user without a verified address.
    cli_with(&["reset", "--sub", &sub], &[("RP_EMAIL_NOTIFY", "false")]).await;
    let (username, unverified) = pool_user(&p, "pat@example.test", false).await;
    let pat = testkit::rp::User {
        sub: unverified.clone(),
        username,
    };
    app.register(&pat, &mut SoftAuthenticator::new()).await;
    let said = cli(&["reset", "--sub", &unverified]).await;
    assert!(said.contains("no verified email"), "{said}");
    assert_eq!(mail.messages().len(), 2, "no other mail was sent");
}
