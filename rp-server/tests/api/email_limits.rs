//! The limits that keep email codes from being ground down (security round 3, items 1, 2,
//! 4 and 5): failures counted per address across codes, codes bound to the request that
//! asked for them, limits that hold under bursts, a budget for sign-up codes, and resets
//! that void codes.

use std::time::Duration;

use serde_json::json;
use testkit::authenticator::SoftAuthenticator;
use testkit::smtp::Mailbox;

use crate::email::{pool_user, send, spawn, spawn_adjusted, spawn_signin, verify, verify_signin};
use crate::harness::TestApp;
use crate::signup::pool;

const DAY_AND_A_SECOND: Duration = Duration::from_secs(86_401);

/// A code that is not `code`.
fn other_than(code: &str) -> &'static str {
    if code == "123456" { "654321" } else { "123456" }
}

/// Asks for a sign-in code to `email` and answers (the request, the code mailed as the
/// `n`th message to it).
async fn sign_in_code(
    app: &TestApp,
    mail: &Mailbox,
    email: &str,
    n: usize,
) -> (serde_json::Value, String) {
    let sent = send(app, email, "sign_in").await.expect(202);
    let code = mail.wait_for(email, n).await.unwrap().code().unwrap();
    (sent, code)
}

fn retry_after(r: &testkit::rp::Response) -> Option<u64> {
    r.headers
        .get("retry-after")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse().ok())
}

/// Each new code used to bring five fresh guesses; now ten wrong codes in a day lock the
/// address, whichever codes they were against, and a locked address gets no code.
#[tokio::test]
async fn wrong_codes_lock_the_address_across_codes_for_a_day() {
    let (p, mail) = (pool("").await, Mailbox::start().await.unwrap());
    let app = spawn(&p, &mail).await;
    let email = "target@example.test";
    for n in 1..=2 {
        let sent = send(&app, email, "sign_up").await.expect(202);
        let code = mail.wait_for(email, n).await.unwrap().code().unwrap();
        for _ in 0..5 {
            verify(&app, email, other_than(&code), &sent)
                .await
                .expect_error(422, "CODE_INVALID");
        }
        app.clock.advance(Duration::from_secs(61));
    }
    // A third code: asked for and answered alike (no oracle), but not sent, and no code
    // is tried while the lock holds.
    let third = send(&app, email, "sign_up").await.expect(202);
    assert!(third["codeRequestId"].is_string());
    app.delivered().await;
    assert_eq!(mail.count_for(email), 2);
    let locked = verify(&app, email, "000000", &third).await;
    locked.expect_error(429, "CODE_LOCKED");
    assert_eq!(locked.body["error"]["details"]["until"], "window");
    let wait = retry_after(&locked).expect("Retry-After");
    assert!((86_000..=86_400).contains(&wait), "{wait}");
    assert!(
        app.audit_actions()
            .await
            .contains(&"email.code_locked".to_owned())
    );

    // When the day has passed, codes work again.
    app.clock.advance(DAY_AND_A_SECOND);
    let sent = send(&app, email, "sign_up").await.expect(202);
    let code = mail.wait_for(email, 3).await.unwrap().code().unwrap();
    verify(&app, email, &code, &sent).await.expect(200);
}

/// Fifty wrong codes in all lock the address until a passkey sign-in or an admin's
/// unlock, however many days they are spread over.
#[tokio::test]
async fn fifty_wrong_codes_lock_the_address_until_an_admin_unlocks_it() {
    let (p, mail) = (pool("").await, Mailbox::start().await.unwrap());
    let app = spawn_signin(&p, &mail, rp_server::config::EmailSignIn::Any).await;
    let email = "slow@example.test";
    let (_, sub) = pool_user(&p, email, true).await;
    app.register(
        &testkit::rp::User {
            sub: sub.clone(),
            username: email.to_owned(),
        },
        &mut SoftAuthenticator::new(),
    )
    .await;
    let mut n = 0;
    for _day in 0..5 {
        for _ in 0..2 {
            n += 1;
            let (sent, code) = sign_in_code(&app, &mail, email, n).await;
            for _ in 0..5 {
                verify_signin(&app, email, other_than(&code), &sent)
                    .await
                    .expect_error(422, "CODE_INVALID");
            }
            app.clock.advance(Duration::from_secs(61));
        }
        app.clock.advance(DAY_AND_A_SECOND);
    }
    // Days later, still locked: no code goes out and none is tried.
    let sent = send(&app, email, "sign_in").await.expect(202);
    app.delivered().await;
    assert_eq!(mail.count_for(email), n);
    let locked = verify_signin(&app, email, "000000", &sent).await;
    locked.expect_error(429, "CODE_LOCKED");
    assert_eq!(locked.body["error"]["details"]["until"], "unlock");
    assert_eq!(retry_after(&locked), None);

    // An admin's unlock forgives it.
    let unlocked = app
        .send(
            app.http
                .post(app.url(&format!("/admin/v1/users/{sub}/unlock")))
                .bearer_auth(crate::harness::ADMIN_TOKEN),
        )
        .await
        .expect(200);
    assert_eq!(unlocked["email"], email);
    assert_eq!(unlocked["hadFailures"], true);
    app.clock.advance(Duration::from_secs(61));
    let (sent, code) = sign_in_code(&app, &mail, email, n + 1).await;
    verify_signin(&app, email, &code, &sent).await.expect(200);
    assert!(
        app.audit_actions()
            .await
            .contains(&"email.unlocked".to_owned())
    );
}

/// Only the asker can try a code: the right code with another (or a made-up, or a
/// malformed) request id is refused like an expired one, and such hopeless attempts do
/// not count against the address — a guesser who did not ask cannot lock it either.
#[tokio::test]
async fn a_code_verifies_only_with_the_request_it_was_sent_for() {
    let (p, mail) = (pool("").await, Mailbox::start().await.unwrap());
    let app = spawn(&p, &mail).await;
    let email = "asker@example.test";
    let sent = send(&app, email, "sign_up").await.expect(202);
    let id = sent["codeRequestId"].as_str().unwrap();
    assert!(id.starts_with("rpq_"));
    let code = mail.wait_for(email, 1).await.unwrap().code().unwrap();
    let made_up = rp_shared::token::CodeRequestId::generate();
    for other in [made_up.expose(), "rpq_short", ""] {
        for _ in 0..7 {
            verify(&app, email, &code, &json!({ "codeRequestId": other }))
                .await
                .expect_error(410, "CODE_EXPIRED");
        }
    }
    // Without the id at all, the request is malformed.
    app.post(
        "/v1/email/verify",
        None,
        &json!({ "email": email, "code": code, "purpose": "sign_up" }),
    )
    .await
    .expect_error(400, "INVALID_REQUEST");
    // None of it touched the code or the address.
    verify(&app, email, &code, &sent).await.expect(200);
}

/// The per-client limits are counted under a lock: a burst of requests gets exactly
/// as many through as the limit allows, not one more.
#[tokio::test]
async fn bursts_get_exactly_the_limit_through() {
    let (p, mail) = (pool("").await, Mailbox::start().await.unwrap());
    // The burst queues for the test's five connections and for the counter's lock: on a
    // loaded machine that outlasts the default timeouts (503), which is not what this
    // test is about.
    let app = spawn_adjusted(&p, &mail, |c| {
        c.db_timeouts.acquire = Duration::from_secs(30);
        c.db_timeouts.statement = Duration::from_secs(30);
    })
    .await;
    let per_ip = rp_server::flows::email::PER_IP_PER_DAY;
    let statuses = futures::future::join_all((0..per_ip + 20).map(|i| {
        let app = &app;
        async move {
            send(app, &format!("burst{i}@example.test"), "sign_up")
                .await
                .status
        }
    }))
    .await;
    assert!(
        statuses.iter().all(|s| [202, 429].contains(s)),
        "{statuses:?}"
    );
    assert_eq!(statuses.iter().filter(|s| **s == 202).count(), per_ip);
    assert_eq!(statuses.iter().filter(|s| **s == 429).count(), 20);
    app.delivered().await;

    // Failed verifications per client (RP_EMAIL_MAX_FAILURES_PER_IP_DAY), in a burst.
    // (The same long timeouts: a 503 under load is not what this is about either.)
    let strict = spawn_adjusted(&p, &mail, |c| {
        c.email_max_failures_per_ip_day = 3;
        c.db_timeouts.acquire = Duration::from_secs(30);
        c.db_timeouts.statement = Duration::from_secs(30);
    })
    .await;
    let made_up = json!({ "codeRequestId": rp_shared::token::CodeRequestId::generate().expose() });
    let answers = futures::future::join_all((0..12).map(|i| {
        let (strict, made_up) = (&strict, &made_up);
        async move {
            verify(strict, &format!("guess{i}@example.test"), "123456", made_up)
                .await
                .code()
                .to_owned()
        }
    }))
    .await;
    assert_eq!(answers.iter().filter(|c| *c == "CODE_EXPIRED").count(), 3);
    assert_eq!(answers.iter().filter(|c| *c == "RATE_LIMITED").count(), 9);
}

/// Sign-up codes to addresses without an account cost the sender's reputation: they
/// have an hourly budget in all (RP_EMAIL_SIGNUP_MAX_PER_HOUR). The caller cannot tell.
#[tokio::test]
async fn sign_up_codes_to_new_addresses_have_an_hourly_budget() {
    let (p, mail) = (pool("").await, Mailbox::start().await.unwrap());
    let app = spawn_adjusted(&p, &mail, |c| c.email_signup_max_per_hour = 2).await;
    for n in 1..=3 {
        send(&app, &format!("new{n}@example.test"), "sign_up")
            .await
            .expect(202);
    }
    // An account's "you already have one" notice is not a sign-up code.
    send(&app, "taken@example.test", "sign_up")
        .await
        .expect(202);
    app.delivered().await;
    let sent: Vec<usize> = (1..=3)
        .map(|n| mail.count_for(&format!("new{n}@example.test")))
        .collect();
    assert_eq!(sent.iter().sum::<usize>(), 2, "{sent:?}");
    assert_eq!(mail.count_for("taken@example.test"), 1);
    app.clock.advance(Duration::from_secs(3601));
    send(&app, "new4@example.test", "sign_up").await.expect(202);
    assert!(
        mail.wait_for("new4@example.test", 1)
            .await
            .unwrap()
            .code()
            .is_some()
    );
}

/// An admin reset voids the codes mailed to the user's address.
#[tokio::test]
async fn a_reset_voids_the_users_email_codes() {
    let (p, mail) = (pool("").await, Mailbox::start().await.unwrap());
    let app = spawn_signin(&p, &mail, rp_server::config::EmailSignIn::Any).await;
    let email = "reset@example.test";
    let (username, sub) = pool_user(&p, email, true).await;
    app.register(
        &testkit::rp::User {
            sub: sub.clone(),
            username,
        },
        &mut SoftAuthenticator::new(),
    )
    .await;
    let (sent, code) = sign_in_code(&app, &mail, email, 1).await;
    let reset = app
        .send(
            app.http
                .post(app.url(&format!("/admin/v1/users/{sub}/reset")))
                .bearer_auth(crate::harness::ADMIN_TOKEN)
                .json(&json!({})),
        )
        .await
        .expect(200);
    assert_eq!(reset["userSub"], sub.as_str());
    verify_signin(&app, email, &code, &sent)
        .await
        .expect_error(410, "CODE_EXPIRED");
}
