//! The flows and the admin service called directly, with no HTTP server: a
//! [`testkit::rp::TestContext`] on a real Postgres database, real WebAuthn ceremonies with
//! the software authenticator. What the API tests prove through HTTP, these prove of the
//! flows themselves, so a flow can be changed and tested without the HTTP layer.

use rp_server::admin::{AdminError, AdminService, NoticeOutcome, Notices, UserRef};
use rp_server::audit::ClientContext;
use rp_server::flows::ceremony::CeremonyRef;
use rp_server::flows::registration::{self, Registrant, RegistrationError};
use rp_server::flows::sign_in::{self, SignInError};
use rp_server::flows::{challenge, credentials, redemption};
use rp_shared::internal::{ChallengeRequest, RedeemFailure, RedeemRequest};
use serde_json::json;
use testkit::authenticator::SoftAuthenticator;
use testkit::rp::{ORIGIN, TestContext, User};

fn client() -> ClientContext {
    ClientContext {
        ip: Some("192.0.2.7".parse().unwrap()),
        user_agent: Some("flow-test".to_owned()),
    }
}

/// Registers a passkey on `authn` for `user` through the registration flow.
async fn register(t: &TestContext, user: &User, authn: &mut SoftAuthenticator) -> String {
    let who = Registrant::Cognito(t.signed_in(user));
    let options = registration::options(
        &t.cx,
        Registrant::Cognito(t.signed_in(user)),
        Some("Laptop"),
        false,
    )
    .await
    .unwrap();
    let created = authn.create(&options.public_key, ORIGIN).unwrap();
    let ceremony = options.ceremony_id.parse().unwrap();
    let summary = registration::verify(
        &t.cx,
        &who,
        &client(),
        ceremony,
        &serde_json::from_value(created).unwrap(),
        None,
    )
    .await
    .unwrap();
    assert_eq!(summary.nickname.as_deref(), Some("Laptop"));
    summary.id
}

/// A usernameless sign-in through the sign-in flow.
async fn sign_in(
    t: &TestContext,
    authn: &mut SoftAuthenticator,
) -> Result<rp_server::flows::ceremony::SignInNonce, SignInError> {
    let options = sign_in::options(&t.cx).await.unwrap();
    let assertion = authn.get(&options.public_key, ORIGIN).unwrap();
    let ceremony: CeremonyRef = serde_json::from_value(json!(options.ceremony_id)).unwrap();
    sign_in::verify(
        &t.cx,
        &ceremony,
        &serde_json::from_value(assertion).unwrap(),
        &client(),
    )
    .await
}

#[tokio::test]
async fn a_passkey_registers_signs_in_and_its_nonce_redeems_once() {
    let t = TestContext::new().await;
    let alice = User::new("alice");
    let mut authn = SoftAuthenticator::new();
    register(&t, &alice, &mut authn).await;

    let signed_in = sign_in(&t, &mut authn).await.unwrap();
    assert_eq!(signed_in.username, "alice");
    // Cognito then asks for a challenge (the Create trigger) and redeems the nonce.
    let issued = challenge::issue(
        &t.cx,
        &ChallengeRequest {
            user_pool_id: testkit::idp::POOL_ID.to_owned(),
            client_id: t.idp.client_id.clone(),
            user_sub: alice.sub.clone(),
            username: alice.username.clone(),
            user_not_found: false,
        },
    )
    .await
    .unwrap();
    let redeem = RedeemRequest {
        nonce: signed_in.nonce.clone(),
        user_sub: alice.sub.clone(),
        challenge_id: issued.challenge_id,
        email: None,
        user_pool_id: None,
    };
    assert!(redemption::redeem(&t.cx, &redeem).await.unwrap().valid);
    // Another challenge cannot spend it again; another user never could.
    let other = RedeemRequest {
        challenge_id: uuid::Uuid::new_v4().to_string(),
        ..redeem.clone()
    };
    let again = redemption::redeem(&t.cx, &other).await.unwrap();
    assert!(!again.valid);
    assert_eq!(again.reason, Some(RedeemFailure::WrongChallenge));
}

#[tokio::test]
async fn passkey_changes_need_a_recent_sign_in() {
    let t = TestContext::new().await;
    let bob = User::new("bob");
    let id = register(&t, &bob, &mut SoftAuthenticator::new()).await;
    let fresh = t.signed_in(&bob);
    t.clock.advance(std::time::Duration::from_secs(3600));
    // An hour later the same session may rename, but neither add nor delete.
    let renamed = credentials::rename(&t.cx, &fresh, &client(), &id, Some("Work key"))
        .await
        .unwrap();
    assert_eq!(renamed.nickname.as_deref(), Some("Work key"));
    assert!(matches!(
        credentials::delete(&t.cx, &fresh, &client(), &id).await,
        Err(credentials::CredentialError::ReauthRequired(_))
    ));
    assert!(matches!(
        registration::options(&t.cx, Registrant::Cognito(fresh), None, false).await,
        Err(RegistrationError::ReauthRequired(_))
    ));
    credentials::delete(&t.cx, &t.signed_in(&bob), &client(), &id)
        .await
        .unwrap();
    assert!(
        credentials::list(&t.cx, &t.signed_in(&bob))
            .await
            .unwrap()
            .credentials
            .is_empty()
    );
}

#[tokio::test]
async fn the_admin_service_validates_audits_and_revokes() {
    let t = TestContext::new().await;
    let carol = User::new("carol");
    let mut authn = SoftAuthenticator::new();
    let id = register(&t, &carol, &mut authn).await;
    let admin = AdminService::for_site(&t.cx, "admin:api:alice");
    assert!(
        matches!(admin.notices, Notices::Off),
        "no mail in this site"
    );

    let too_long = "x".repeat(rp_server::admin::MAX_REASON + 1);
    assert!(matches!(
        admin.revoke(&id, Some(&too_long)).await,
        Err(AdminError::Invalid(_))
    ));
    assert!(matches!(
        admin.revoke("not base64!", None).await,
        Err(AdminError::Invalid(_))
    ));
    let revoked = admin.revoke(&id, Some("lost laptop")).await.unwrap();
    assert_eq!(
        revoked.credential.revoked_by.as_deref(),
        Some("admin:api:alice")
    );
    assert_eq!(revoked.notice, NoticeOutcome::Off);
    assert!(matches!(
        sign_in(&t, &mut authn).await,
        Err(SignInError::CredentialRevoked)
    ));

    let log = admin
        .audit_log(&rp_server::admin::AuditFilter {
            action: Some("credential.revoked".to_owned()),
            limit: Some(10),
            ..Default::default()
        })
        .await
        .unwrap();
    assert_eq!(log.events.len(), 1);
    assert_eq!(log.events[0].actor, "admin:api:alice");
    assert_eq!(log.events[0].details["reason"], "lost laptop");

    // Enrolment tokens: the site's default lifetime, at most 7 days.
    let issued = admin
        .issue_enrolment_token(&carol.sub, None, None)
        .await
        .unwrap();
    let lifetime = issued.details.expires_at - issued.details.created_at;
    assert_eq!(lifetime.num_seconds(), 900);
    assert!(matches!(
        admin
            .issue_enrolment_token(&carol.sub, None, Some(8 * 86_400))
            .await,
        Err(AdminError::Invalid(_))
    ));
    let reset = admin.reset(&carol.sub, None).await.unwrap();
    assert_eq!(reset.cognito_sign_out, "not_configured");
    let tokens = admin.enrolment_tokens(&carol.sub).await.unwrap();
    assert_eq!(
        tokens[0].status, "revoked",
        "a reset revokes pending tokens"
    );
    assert!(
        matches!(
            admin
                .find_user(&UserRef::Email("carol@example.test".into()))
                .await,
            Err(AdminError::Invalid(_))
        ),
        "email lookups need the pool"
    );
}

/// A reset voids every nonce the user earned before it, an email code's (which names no
/// passkey the reset could revoke) included.
#[tokio::test]
async fn a_reset_voids_the_users_unredeemed_nonces() {
    let t = TestContext::new().await;
    let dave = User::new("dave");
    register(&t, &dave, &mut SoftAuthenticator::new()).await;
    let nonce = email_code_nonce(&t, &dave).await;
    AdminService::for_site(&t.cx, "admin:api:alice")
        .reset(&dave.sub, Some("takeover"))
        .await
        .unwrap();
    let issued = challenge::issue(
        &t.cx,
        &ChallengeRequest {
            user_pool_id: testkit::idp::POOL_ID.to_owned(),
            client_id: t.idp.client_id.clone(),
            user_sub: dave.sub.clone(),
            username: dave.username.clone(),
            user_not_found: false,
        },
    )
    .await
    .unwrap();
    let redeemed = redemption::redeem(
        &t.cx,
        &RedeemRequest {
            nonce: nonce.expose().to_owned(),
            user_sub: dave.sub.clone(),
            challenge_id: issued.challenge_id,
            email: None,
            user_pool_id: None,
        },
    )
    .await
    .unwrap();
    assert!(!redeemed.valid, "a nonce from before the reset signed in");
    assert_eq!(redeemed.reason, Some(RedeemFailure::Expired));
}

/// What /v1/email/verify stores for an email-code sign-in of a known user: a nonce that
/// names no passkey.
async fn email_code_nonce(t: &TestContext, who: &User) -> rp_shared::nonce::Nonce {
    let user = rp_server::store::users::user_by_sub(&t.cx.db, &t.cx.site.id, &who.sub)
        .await
        .unwrap()
        .unwrap();
    let nonce = rp_shared::nonce::Nonce::generate();
    let now = t.clock.now();
    rp_server::store::nonces::insert_nonce(
        &t.cx.db,
        &t.cx.site.id,
        &rp_server::store::nonces::NewNonce {
            hash: &nonce.hash(),
            user_id: user.id,
            cognito_sub: &who.sub,
            credential_id: None,
            factor: rp_server::model::Factor::Email,
            bound_challenge_id: None,
            created_at: now,
            expires_at: now + chrono::Duration::minutes(2),
        },
    )
    .await
    .unwrap();
    nonce
}

/// Cognito's Create and Verify triggers for `who`: a challenge, then the redemption of
/// `nonce` (with the verified `email` the trigger passes). Whether it was valid.
async fn redeemed(t: &TestContext, who: &User, nonce: String, email: Option<&str>) -> bool {
    let issued = challenge::issue(
        &t.cx,
        &ChallengeRequest {
            user_pool_id: testkit::idp::POOL_ID.to_owned(),
            client_id: t.idp.client_id.clone(),
            user_sub: who.sub.clone(),
            username: who.username.clone(),
            user_not_found: false,
        },
    )
    .await
    .unwrap();
    let r = RedeemRequest {
        nonce,
        user_sub: who.sub.clone(),
        challenge_id: issued.challenge_id,
        email: email.map(str::to_owned),
        user_pool_id: None,
    };
    redemption::redeem(&t.cx, &r).await.unwrap().valid
}

/// Counts, at `at`, as many failed codes against `email` at the context's site as lock
/// the address for good.
pub(crate) async fn fail_for_good(
    cx: &rp_server::flows::Context,
    email: &str,
    at: chrono::DateTime<chrono::Utc>,
) {
    use rp_server::flows::email::limits::{FAILURES_PER_ADDRESS_IN_ALL, failures_of_address};
    use rp_server::store::limits;
    let key = vec![failures_of_address(email)];
    let mut tx = cx.db.begin().await.unwrap();
    limits::lock(&mut tx, &cx.site.id, &key, at).await.unwrap();
    for _ in 0..FAILURES_PER_ADDRESS_IN_ALL {
        limits::hit(
            &mut tx,
            &cx.site.id,
            &key,
            true,
            chrono::Duration::days(1),
            at,
        )
        .await
        .unwrap();
    }
    tx.commit().await.unwrap();
}

/// Whether email codes to `email` are locked for good (fifty failures in all).
async fn locked_for_good(t: &TestContext, email: &str) -> bool {
    use rp_server::flows::email::limits::{Failures, Refusal};
    let mut tx = t.cx.db.begin().await.unwrap();
    let now = t.cx.clock.now();
    matches!(
        Failures::lock(&mut tx, &t.cx.site.id, &client(), email, 1000, now)
            .await
            .unwrap(),
        Err(Refusal::Locked(None))
    )
}

/// A passkey sign-in is another factor: once the Verify trigger redeems its nonce (with
/// the user's verified email), the address's failed codes in all are forgiven. A
/// redemption without a passkey (an email code's) forgives nothing.
#[tokio::test]
async fn a_passkey_sign_in_forgives_the_addresss_failed_codes() {
    let t = TestContext::new().await;
    let erin = User::new("erin");
    let mut authn = SoftAuthenticator::new();
    register(&t, &erin, &mut authn).await;
    let email = "erin@example.test";
    // Fifty failures, spread over days long past (the day's window is empty).
    fail_for_good(&t.cx, email, t.cx.clock.now() - chrono::Duration::days(30)).await;
    assert!(locked_for_good(&t, email).await);

    // An email code's nonce (no credential) forgives nothing.
    let code_nonce = email_code_nonce(&t, &erin).await;
    assert!(redeemed(&t, &erin, code_nonce.expose().to_owned(), Some(email)).await);
    assert!(locked_for_good(&t, email).await);

    // A passkey's does, given the address (in any case).
    let signed_in = sign_in(&t, &mut authn).await.unwrap();
    assert!(redeemed(&t, &erin, signed_in.nonce, Some("Erin@Example.test")).await);
    assert!(!locked_for_good(&t, email).await);
}

/// A session that began with an email code proves a mailbox, not the account: it may
/// add the first passkey of an account that has none (recovery), and nothing else — no
/// second passkey, no rename, no delete — however recent. A passkey sign-in later may.
#[tokio::test]
async fn an_email_code_session_may_only_add_a_first_passkey() {
    use rp_server::flows::credentials::CredentialError;
    let t = TestContext::new().await;
    let fay = User::new("fay");
    let mut laptop = SoftAuthenticator::new();
    let first = register(&t, &fay, &mut laptop).await;
    // Fay signs in with an email code; Cognito issues tokens right after the redemption.
    assert!(
        redeemed(
            &t,
            &fay,
            email_code_nonce(&t, &fay).await.expose().to_owned(),
            None
        )
        .await
    );
    t.clock.advance(std::time::Duration::from_secs(2));
    let by_code = t.signed_in(&fay);
    let refused =
        |e: &RegistrationError| matches!(e, RegistrationError::ReauthRequired(r) if r.passkey);
    let e = registration::options(&t.cx, Registrant::Cognito(by_code.clone()), None, false)
        .await
        .unwrap_err();
    assert!(refused(&e), "{e:?}");
    for e in [
        credentials::delete(&t.cx, &by_code, &client(), &first)
            .await
            .unwrap_err(),
        credentials::rename(&t.cx, &by_code, &client(), &first, Some("Mine"))
            .await
            .unwrap_err(),
    ] {
        assert!(
            matches!(e, CredentialError::ReauthRequired(r) if r.passkey),
            "{e:?}"
        );
    }

    // Ten seconds later Fay signs in with her passkey: tokens of that sign-in are the
    // passkey's session, while the code's session stays what it was.
    t.clock.advance(std::time::Duration::from_secs(10));
    let by_passkey = sign_in(&t, &mut laptop).await.unwrap();
    assert!(redeemed(&t, &fay, by_passkey.nonce, None).await);
    credentials::rename(&t.cx, &t.signed_in(&fay), &client(), &first, Some("Laptop"))
        .await
        .unwrap();
    let e = credentials::rename(&t.cx, &by_code, &client(), &first, Some("Mine"))
        .await
        .unwrap_err();
    assert!(
        matches!(e, CredentialError::ReauthRequired(r) if r.passkey),
        "{e:?}"
    );

    // Without a passkey (it was lost), the same kind of session may add one: recovery.
    let gil = User::new("gil");
    t.clock.advance(std::time::Duration::from_secs(60));
    // Gil has no passkey yet: rp-server knows him only from his email sign-in.
    rp_server::store::users::upsert_user(
        &mut t.cx.db.acquire().await.unwrap(),
        &t.cx.site.id,
        &gil.sub,
        &gil.username,
        t.clock.now(),
    )
    .await
    .unwrap();
    assert!(
        redeemed(
            &t,
            &gil,
            email_code_nonce(&t, &gil).await.expose().to_owned(),
            None
        )
        .await
    );
    register(&t, &gil, &mut SoftAuthenticator::new()).await;
    let e = registration::options(&t.cx, Registrant::Cognito(t.signed_in(&gil)), None, false)
        .await
        .unwrap_err();
    assert!(refused(&e), "{e:?}");

    // A passkey sign-in a minute later is a session of its own: it may change passkeys.
    t.clock.advance(std::time::Duration::from_secs(60));
    let signed_in = sign_in(&t, &mut laptop).await.unwrap();
    assert!(redeemed(&t, &fay, signed_in.nonce, None).await);
    credentials::rename(&t.cx, &t.signed_in(&fay), &client(), &first, Some("Mine"))
        .await
        .unwrap();
}

/// An address's failures in all are forgotten 90 days after the last one, so counters
/// for made-up addresses do not pile up for ever.
#[tokio::test]
async fn failures_in_all_are_forgotten_after_ninety_quiet_days() {
    let t = TestContext::new().await;
    let email = "quiet@example.test";
    let then = t.cx.clock.now();
    fail_for_good(&t.cx, email, then).await;
    assert!(locked_for_good(&t, email).await);
    // The purge keeps it for 89 days, and drops it after 90.
    rp_server::store::purge_expired(&t.cx.db, then + chrono::Duration::days(89), 1000)
        .await
        .unwrap();
    assert!(locked_for_good(&t, email).await);
    rp_server::store::purge_expired(&t.cx.db, then + chrono::Duration::days(90), 1000)
        .await
        .unwrap();
    assert!(!locked_for_good(&t, email).await);
}

/// Until a second site is configured, the tables keep their first keys beside the
/// per-site ones (migration 0027), and an `ON CONFLICT` that names only the per-site key
/// gives way on that key alone: two requests creating the same row at once made one of
/// them fail with a unique violation on the other key (a 500 — seen as an email-code
/// request failing beside two others). The rows created on demand — a limit's counter,
/// a user — give way on every key: many first requests at once all succeed and agree.
#[tokio::test]
async fn rows_created_on_demand_survive_concurrent_first_requests() {
    use rp_server::store::{limits, users};
    let t = TestContext::new().await;
    let (db, site, now) = (&t.cx.db, &t.cx.site.id, t.clock.now());
    for round in 0..20 {
        let key = vec![format!("race:{round}")];
        let sub = format!("race-sub-{round}");
        let counters = futures::future::join_all((0..6).map(|_| async {
            let mut tx = db.begin().await?;
            let counters = limits::lock(&mut tx, site, &key, now).await?;
            tx.commit().await?;
            Ok::<_, sqlx::Error>(counters.len())
        }))
        .await;
        let ids = futures::future::join_all((0..6).map(|n| {
            let sub = sub.clone();
            async move {
                let mut tx = db.begin().await?;
                let user =
                    users::upsert_user(&mut tx, site, &sub, &format!("name-{n}"), now).await?;
                tx.commit().await?;
                Ok::<_, sqlx::Error>(user.id)
            }
        }))
        .await;
        for c in &counters {
            assert!(matches!(c, Ok(1)), "round {round}: {c:?}");
        }
        let first = ids[0]
            .as_ref()
            .unwrap_or_else(|e| panic!("round {round}: {e:?}"));
        for id in &ids {
            assert_eq!(id.as_ref().ok(), Some(first), "round {round}: {id:?}");
        }
    }
}
