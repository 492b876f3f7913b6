//! Two sites on one database (decision 0020): every row carries its site, and nothing one
//! site stores — a passkey, a nonce, a challenge, a ceremony, an enrolment token, a limit,
//! an audit event — is found, spent or counted at another. The two sites here share the RP
//! ID, the origins and the pool, so that only the site's id sets them apart: each refusal
//! is the storage's, not a signature's or an origin's.

use futures::TryStreamExt as _;
use rp_server::admin::{AdminError, AdminService, AuditFilter, ImportOptions, UserRef};
use rp_server::audit::ClientContext;
use rp_server::flows::ceremony::CeremonyRef;
use rp_server::flows::registration::{self, Registrant};
use rp_server::flows::sign_in::{self, SignInError};
use rp_server::flows::{Context, challenge, credentials, redemption};
use rp_shared::internal::{ChallengeRequest, RedeemFailure, RedeemRequest};
use serde_json::json;
use testkit::authenticator::SoftAuthenticator;
use testkit::rp::{ORIGIN, TestContext, User};

fn client() -> ClientContext {
    ClientContext {
        ip: Some("192.0.2.9".parse().unwrap()),
        user_agent: Some("sites-test".to_owned()),
    }
}

async fn register(t: &TestContext, cx: &Context, user: &User, authn: &mut SoftAuthenticator) {
    let options = registration::options(cx, Registrant::Cognito(t.signed_in(user)), None, false)
        .await
        .unwrap();
    let created = authn.create(&options.public_key, ORIGIN).unwrap();
    registration::verify(
        cx,
        &Registrant::Cognito(t.signed_in(user)),
        &client(),
        options.ceremony_id.parse().unwrap(),
        &serde_json::from_value(created).unwrap(),
        None,
    )
    .await
    .unwrap();
}

/// A usernameless sign-in: options from `asked`, the assertion verified at `answered`.
async fn sign_in_across(
    asked: &Context,
    answered: &Context,
    authn: &mut SoftAuthenticator,
) -> Result<rp_server::flows::ceremony::SignInNonce, SignInError> {
    let options = sign_in::options(asked).await.unwrap();
    let assertion = authn.get(&options.public_key, ORIGIN).unwrap();
    let ceremony: CeremonyRef = serde_json::from_value(json!(options.ceremony_id)).unwrap();
    sign_in::verify(
        answered,
        &ceremony,
        &serde_json::from_value(assertion).unwrap(),
        &client(),
    )
    .await
}

fn challenge_for(t: &TestContext, user: &User) -> ChallengeRequest {
    ChallengeRequest {
        user_pool_id: testkit::idp::POOL_ID.to_owned(),
        client_id: t.idp.client_id.clone(),
        user_sub: user.sub.clone(),
        username: user.username.clone(),
        user_not_found: false,
    }
}

#[tokio::test]
async fn a_passkey_nonce_and_ceremony_of_one_site_mean_nothing_at_another() {
    let t = TestContext::new().await;
    let a = &t.cx;
    let b = t.another_site("b", |_| {}).await;
    let alice = User::new("alice");
    let mut authn = SoftAuthenticator::new();
    register(&t, a, &alice, &mut authn).await;

    // A's passkey is unknown at B, and A's sealed ceremony does not open there.
    assert!(matches!(
        sign_in_across(&b, &b, &mut authn).await,
        Err(SignInError::UnknownCredential)
    ));
    assert!(matches!(
        sign_in_across(a, &b, &mut authn).await,
        Err(SignInError::Ceremony(_))
    ));
    // B knows nothing of the user: no passkeys, not even the user.
    assert!(
        credentials::list(&b, &t.signed_in(&alice))
            .await
            .unwrap()
            .credentials
            .is_empty()
    );

    // A nonce earned at A: B's Create trigger challenge cannot redeem it, nor can A's
    // challenge id presented at B.
    let nonce = sign_in_across(a, a, &mut authn).await.unwrap().nonce;
    let at_b = challenge::issue(&b, &challenge_for(&t, &alice))
        .await
        .unwrap();
    let at_a = challenge::issue(a, &challenge_for(&t, &alice))
        .await
        .unwrap();
    for (challenge_id, refusal) in [
        (at_b.challenge_id, RedeemFailure::Unknown),
        (at_a.challenge_id, RedeemFailure::WrongChallenge),
    ] {
        let tried = redemption::redeem(
            &b,
            &RedeemRequest {
                nonce: nonce.clone(),
                user_sub: alice.sub.clone(),
                challenge_id,
                email: None,
            },
        )
        .await
        .unwrap();
        assert!(!tried.valid);
        assert_eq!(tried.reason, Some(refusal));
    }
    // At A it still redeems, once.
    let redeem = RedeemRequest {
        nonce,
        user_sub: alice.sub.clone(),
        challenge_id: at_a.challenge_id,
        email: None,
    };
    assert!(redemption::redeem(a, &redeem).await.unwrap().valid);
}

async fn events(admin: &AdminService<'_>, action: &str) -> Vec<rp_server::admin::AuditEventView> {
    admin
        .audit_log(&AuditFilter {
            action: Some(action.to_owned()),
            limit: Some(10),
            ..Default::default()
        })
        .await
        .unwrap()
        .events
}

#[tokio::test]
async fn one_sites_admin_sees_and_changes_nothing_of_another() {
    let t = TestContext::new().await;
    let a = &t.cx;
    let b = t.another_site("b", |_| {}).await;
    let (alice, bob) = (User::new("alice"), User::new("bob"));
    let mut authn = SoftAuthenticator::new();
    register(&t, a, &alice, &mut authn).await;
    sign_in_across(a, a, &mut authn).await.unwrap();
    register(&t, &b, &bob, &mut SoftAuthenticator::new()).await;

    let admin_a = AdminService::for_site(a, "admin:api:a");
    let admin_b = AdminService::for_site(&b, "admin:api:b");
    let (_, alices) = admin_a
        .credentials(&UserRef::Sub(alice.sub.clone()))
        .await
        .unwrap();
    assert_eq!(alices.len(), 1);
    let id = alices[0].summary.id.clone();

    // B's admin: Alice is not a user of B, her passkey no passkey of B.
    assert!(matches!(
        admin_b.find_user(&UserRef::Sub(alice.sub.clone())).await,
        Err(AdminError::UserNotFound)
    ));
    assert!(matches!(
        admin_b.credential(&id).await,
        Err(AdminError::CredentialNotFound)
    ));
    assert!(matches!(
        admin_b.revoke(&id, None).await,
        Err(AdminError::CredentialNotFound)
    ));
    assert!(matches!(
        admin_b.issue_enrolment_token(&alice.sub, None, None).await,
        Err(AdminError::UserNotFound)
    ));
    let searched = admin_b
        .search_users(&rp_server::admin::UserSearchQuery {
            q: "alice".to_owned(),
            cursor: None,
            limit: None,
        })
        .await
        .unwrap();
    assert!(searched.users.is_empty(), "{:?}", searched.users);

    // Statistics and the audit log are each site's own.
    let (stats_a, stats_b) = (
        admin_a.stats().await.unwrap(),
        admin_b.stats().await.unwrap(),
    );
    assert_eq!(
        (stats_a.active_credentials, stats_b.active_credentials),
        (1, 1)
    );
    assert_eq!(
        (
            events(&admin_a, "authentication.succeeded").await.len(),
            events(&admin_b, "authentication.succeeded").await.len()
        ),
        (1, 0)
    );
    let registered_at_b = events(&admin_b, "credential.registered").await;
    assert_eq!(registered_at_b.len(), 1);
    assert_eq!(
        registered_at_b[0].user_sub.as_deref(),
        Some(bob.sub.as_str())
    );

    // A's enrolment token opens nothing at B (and still does at A); B's admin cannot
    // revoke it.
    let issued = admin_a
        .issue_enrolment_token(&alice.sub, None, None)
        .await
        .unwrap();
    assert!(
        registration::enrolment_registrant(&b, &issued.token)
            .await
            .unwrap()
            .is_none()
    );
    assert!(matches!(
        admin_b.revoke_enrolment_token(issued.details.id).await,
        Err(AdminError::TokenNotFound)
    ));
    assert!(
        registration::enrolment_registrant(a, &issued.token)
            .await
            .unwrap()
            .is_some()
    );

    // A's passkey still signs in at A.
    sign_in_across(a, a, &mut authn).await.unwrap();
}

/// Credential ids are unique per site, not across sites: the same passkey imported into two
/// sites (two pools behind one RP ID) signs in at each, and revoking it at one leaves the
/// other's alone.
#[tokio::test]
async fn the_same_passkey_lives_at_two_sites_independently() {
    let t = TestContext::new().await;
    let a = &t.cx;
    let b = t.another_site("b", |_| {}).await;
    let alice = User::new("alice");
    let mut authn = SoftAuthenticator::new();
    register(&t, a, &alice, &mut authn).await;

    let exported: Vec<u8> = rp_server::admin::export(a.db.clone(), a.site.id.clone(), None)
        .try_concat()
        .await
        .unwrap();
    // Alice is a user of B's pool too (the import needs her known there).
    rp_server::store::users::upsert_user(
        &mut b.db.acquire().await.unwrap(),
        &b.site.id,
        &alice.sub,
        &alice.username,
        t.clock.now(),
    )
    .await
    .unwrap();
    let admin_b = AdminService::for_site(&b, "admin:api:b");
    let mut importer = admin_b.importer(ImportOptions::default());
    for (n, line) in String::from_utf8(exported).unwrap().lines().enumerate() {
        importer.line(n as u64 + 1, line).await.unwrap();
    }
    let report = importer.finish().await.unwrap();
    assert_eq!(report.imported, 1, "{report:?}");

    let at_b = sign_in_across(&b, &b, &mut authn).await.unwrap();
    assert_eq!(at_b.username, "alice");
    let id = AdminService::for_site(a, "admin:api:a")
        .credentials(&UserRef::Sub(alice.sub.clone()))
        .await
        .unwrap()
        .1[0]
        .summary
        .id
        .clone();
    admin_b.revoke(&id, Some("lost at b")).await.unwrap();
    assert!(matches!(
        sign_in_across(&b, &b, &mut authn).await,
        Err(SignInError::CredentialRevoked)
    ));
    sign_in_across(a, a, &mut authn).await.unwrap();
}

/// Rate limits and email-code locks are per site: an address locked at A is not at B.
#[tokio::test]
async fn limits_are_counted_per_site() {
    use rp_server::flows::email::limits::{Failures, Refusal};
    use rp_server::store::limits;
    let t = TestContext::new().await;
    let b = t.another_site("b", |_| {}).await;
    let email = "erin@example.test";
    let key = vec![rp_server::flows::email::limits::failures_of_address(email)];
    let now = t.clock.now();
    let mut tx = t.cx.db.begin().await.unwrap();
    limits::lock(&mut tx, &t.cx.site.id, &key, now)
        .await
        .unwrap();
    for _ in 0..rp_server::flows::email::limits::FAILURES_PER_ADDRESS_IN_ALL {
        limits::hit(
            &mut tx,
            &t.cx.site.id,
            &key,
            true,
            chrono::Duration::days(1),
            now,
        )
        .await
        .unwrap();
    }
    tx.commit().await.unwrap();
    let locked = |cx: Context| async move {
        let mut tx = cx.db.begin().await.unwrap();
        matches!(
            Failures::lock(&mut tx, &cx.site.id, &client(), email, 1000, now)
                .await
                .unwrap(),
            Err(Refusal::Locked(None))
        )
    };
    assert!(locked(t.cx.clone()).await);
    assert!(!locked(b.clone()).await);
    // B's counter is B's alone: locking it finds one, never hit.
    let mut tx = b.db.begin().await.unwrap();
    let counters = limits::lock(&mut tx, &b.site.id, &key, now).await.unwrap();
    assert_eq!(counters.len(), 1);
    assert_eq!((counters[0].total, counters[0].hits.len()), (0, 0));
    tx.commit().await.unwrap();
    assert!(
        limits::peek(&b.db, &b.site.id, &key[0])
            .await
            .unwrap()
            .is_some_and(|c| c.total == 0)
    );
}
