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
        (at_a.challenge_id.clone(), RedeemFailure::WrongChallenge),
    ] {
        let tried = redemption::redeem(
            &b,
            &RedeemRequest {
                nonce: nonce.clone(),
                user_sub: alice.sub.clone(),
                challenge_id,
                email: None,
                user_pool_id: None,
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
        user_pool_id: None,
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
    crate::flows::fail_for_good(&t.cx, email, now).await;
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

/// One rp-server, two sites (`example.test` and `other.test`, a pool each), one database:
/// the `Host` picks the site of a public request and the event's pool that of a
/// trigger's; nothing of one works at the other.
mod one_server {
    use reqwest::header::{HOST, ORIGIN as ORIGIN_HEADER};
    use serde_json::json;
    use testkit::authenticator::SoftAuthenticator;
    use testkit::rp::{ORIGIN, OTHER_ORIGIN, SERVICE_TOKEN, TestRp, User};

    async fn redeem(
        rp: &TestRp,
        user: &User,
        nonce: &str,
        challenge_id: &serde_json::Value,
        pool: Option<&str>,
    ) -> testkit::rp::Response {
        let mut body = json!({ "nonce": nonce, "userSub": user.sub, "challengeId": challenge_id });
        if let Some(pool) = pool {
            body["userPoolId"] = json!(pool);
        }
        rp.post("/internal/v1/nonces/redeem", Some(SERVICE_TOKEN), &body)
            .await
    }

    #[tokio::test]
    async fn each_host_is_its_own_site_and_each_pool_its_own_triggers() {
        let (a, b) = TestRp::spawn_two_sites(|_, _| {}).await;
        let (alice, bob) = (User::new("alice"), User::new("bob"));
        let (mut alices, mut bobs) = (SoftAuthenticator::new(), SoftAuthenticator::new());
        a.register(&alice, &mut alices).await;
        b.register_at(&bob, &mut bobs, OTHER_ORIGIN).await;

        // Each signs in at their own site.
        a.sign_in(&mut alices).await.expect(200);
        let bobs_nonce = b.sign_in_at(&mut bobs, OTHER_ORIGIN).await.expect(200)["nonce"]
            .as_str()
            .unwrap()
            .to_owned();
        // Alice's passkey, answering B's options (as a page of A's would): unknown at B.
        let options = b
            .post("/v1/authentication/options", None, &json!({}))
            .await
            .expect(200);
        assert_eq!(options["publicKey"]["rpId"], "other.test");
        let at_a = a
            .post("/v1/authentication/options", None, &json!({}))
            .await
            .expect(200);
        let assertion = alices.get(&at_a["publicKey"], ORIGIN).unwrap();
        b.post(
            "/v1/authentication/verify",
            None,
            &json!({ "ceremonyId": options["ceremonyId"], "credential": assertion }),
        )
        .await
        .expect_error(422, "UNKNOWN_CREDENTIAL");

        // A's access token is no token at B (another pool's issuer), and the reverse.
        b.get("/v1/credentials", Some(&a.token(&alice)))
            .await
            .expect_error(401, "UNAUTHENTICATED");
        a.get("/v1/credentials", Some(&b.token(&bob)))
            .await
            .expect_error(401, "UNAUTHENTICATED");
        let listed = b
            .get("/v1/credentials", Some(&b.token(&bob)))
            .await
            .expect(200);
        assert_eq!(listed["credentials"].as_array().unwrap().len(), 1);

        // Triggers: B's nonce redeems only for B's pool, an unknown pool is no site, and
        // a trigger that names no pool cannot be routed.
        let challenge = b.challenge(&bob).await;
        let at_a = redeem(
            &a,
            &bob,
            &bobs_nonce,
            &challenge["challengeId"],
            Some("eu-west-1_TestPool"),
        )
        .await;
        assert_eq!(at_a.expect(200)["valid"], false);
        redeem(
            &a,
            &bob,
            &bobs_nonce,
            &challenge["challengeId"],
            Some("eu-west-1_Nobody"),
        )
        .await
        .expect_error(404, "UNKNOWN_SITE");
        redeem(&a, &bob, &bobs_nonce, &challenge["challengeId"], None)
            .await
            .expect_error(404, "UNKNOWN_SITE");
        let valid = redeem(
            &a,
            &bob,
            &bobs_nonce,
            &challenge["challengeId"],
            Some("eu-west-1_OtherPool"),
        )
        .await;
        assert_eq!(
            valid.expect(200)["valid"],
            true,
            "any host: the pool decides"
        );

        // The counters say which site.
        let metrics = a.get("/metrics", None).await;
        let text = metrics.body.as_str().unwrap_or_default();
        for needle in [
            "rp_ceremonies_finished_total{site=\"default\",kind=\"authentication\"}",
            "rp_ceremonies_finished_total{site=\"other\",kind=\"authentication\"}",
            "rp_nonce_redemptions_total{site=\"other\",outcome=\"valid\"}",
        ] {
            assert!(text.contains(needle), "{needle} missing from {text}");
        }
    }

    #[tokio::test]
    async fn a_host_no_site_answers_on_is_refused_and_cors_follows_the_host() {
        let (a, b) = TestRp::spawn_two_sites(|_, _| {}).await;
        let port = a.base.rsplit(':').next().unwrap().to_owned();
        for host in [format!("127.0.0.1:{port}"), "app.nowhere.test".to_owned()] {
            let r = a
                .send(
                    a.http
                        .post(a.url("/v1/authentication/options"))
                        .header(HOST, host)
                        .json(&json!({})),
                )
                .await;
            r.expect_error(404, "UNKNOWN_SITE");
        }
        // A's page may call A, not B; B's page B.
        let preflight = |rp: &TestRp, origin: &'static str| {
            rp.http
                .request(
                    reqwest::Method::OPTIONS,
                    rp.url("/v1/authentication/options"),
                )
                .header(ORIGIN_HEADER, origin)
                .header("Access-Control-Request-Method", "POST")
        };
        let allowed = |r: &testkit::rp::Response| {
            r.headers
                .get("access-control-allow-origin")
                .map(|v| v.to_str().unwrap().to_owned())
        };
        assert_eq!(
            allowed(&a.send(preflight(&a, ORIGIN)).await).as_deref(),
            Some(ORIGIN)
        );
        assert_eq!(allowed(&a.send(preflight(&a, OTHER_ORIGIN)).await), None);
        assert_eq!(
            allowed(&b.send(preflight(&b, OTHER_ORIGIN)).await).as_deref(),
            Some(OTHER_ORIGIN)
        );
        assert_eq!(allowed(&b.send(preflight(&b, ORIGIN)).await), None);
    }

    /// Admin tokens: a site's own open only that site (`/admin/v1/sites/{site}/…`, or the
    /// unscoped paths for `default`); a global one every site. What an admin lists,
    /// counts, audits and exports is the site's alone.
    #[tokio::test]
    async fn each_sites_admin_sees_only_its_site_and_a_global_token_each() {
        use rp_server::config::NamedToken;
        use testkit::rp::ADMIN_TOKEN;
        const A_ADMIN: &str = "a-admin-token-0123456789abcdef01234567";
        const B_ADMIN: &str = "b-admin-token-0123456789abcdef01234567";
        let (a, b) = TestRp::spawn_two_sites(|id, c| {
            let (name, token) = match id {
                "default" => ("a-admin", A_ADMIN),
                _ => ("b-admin", B_ADMIN),
            };
            c.admin_tokens = vec![NamedToken::plain(
                name,
                &secrecy::SecretString::from(token.to_owned()),
            )];
        })
        .await;
        let (alice, bob) = (User::new("alice"), User::new("bob"));
        a.register(&alice, &mut SoftAuthenticator::new()).await;
        b.register_at(&bob, &mut SoftAuthenticator::new(), OTHER_ORIGIN)
            .await;
        let user = |path: &str, who: &User| format!("{path}?sub={}", who.sub);

        // B's admin, on B's paths: Bob, never Alice.
        let found = b
            .get(&user("/admin/v1/sites/other/users", &bob), Some(B_ADMIN))
            .await
            .expect(200);
        assert_eq!(found["credentials"].as_array().unwrap().len(), 1);
        b.get(&user("/admin/v1/sites/other/users", &alice), Some(B_ADMIN))
            .await
            .expect_error(404, "USER_NOT_FOUND");
        // B's token opens nothing of A's: neither the unscoped paths nor A's scoped ones.
        for path in ["/admin/v1/users", "/admin/v1/sites/default/users"] {
            a.get(&user(path, &alice), Some(B_ADMIN))
                .await
                .expect_error(401, "UNAUTHENTICATED");
        }
        // Counts, the audit log and the export are each site's own.
        for (rp, path, token) in [
            (&a, "/admin/v1", A_ADMIN),
            (&b, "/admin/v1/sites/other", B_ADMIN),
        ] {
            let stats = rp
                .get(&format!("{path}/stats"), Some(token))
                .await
                .expect(200);
            assert_eq!(stats["activeCredentials"], 1, "{stats}");
            let audit = rp
                .get(
                    &format!("{path}/audit-events?action=credential.registered"),
                    Some(token),
                )
                .await
                .expect(200);
            assert_eq!(audit["events"].as_array().unwrap().len(), 1, "{audit}");
            let export = rp
                .send(
                    rp.http
                        .get(rp.url(&format!("{path}/exports")))
                        .bearer_auth(token),
                )
                .await;
            assert_eq!(export.status, 200);
            // One line (a lone JSON line reads back as that object).
            let lines = match &export.body {
                serde_json::Value::String(text) => text.lines().count(),
                serde_json::Value::Null => 0,
                _ => 1,
            };
            assert_eq!(lines, 1, "{}", export.body);
        }
        let exported = a
            .send(a.http.get(a.url("/admin/v1/exports")).bearer_auth(A_ADMIN))
            .await;
        assert!(exported.body.to_string().contains(&alice.sub));
        assert!(!exported.body.to_string().contains(&bob.sub));

        // Unscoped paths act on the site the Host names (the console on a site's host is
        // that site's): at B's host, B's token is B's admin, A's is nobody.
        let at_b = b
            .get(&user("/admin/v1/users", &bob), Some(B_ADMIN))
            .await
            .expect(200);
        assert_eq!(at_b["credentials"].as_array().unwrap().len(), 1);
        b.get("/admin/v1/stats", Some(A_ADMIN))
            .await
            .expect_error(401, "UNAUTHENTICATED");
        // The console's page and configuration follow the same rule: a host no site
        // answers on (the internal balancer's) is the admin site's.
        let console_site = |host: &str| a.state.admin_site_for(Some(host)).id.to_string();
        assert_eq!(console_site("app.other.test:8081"), "other");
        assert_eq!(console_site("rp-internal.vpc:8081"), "default");

        // The global token (RP_ADMIN_TOKEN) opens both; a site nobody has is no site.
        a.get(
            &user("/admin/v1/sites/other/users", &bob),
            Some(ADMIN_TOKEN),
        )
        .await
        .expect(200);
        a.get(&user("/admin/v1/users", &alice), Some(ADMIN_TOKEN))
            .await
            .expect(200);
        a.get("/admin/v1/sites/nowhere/stats", Some(ADMIN_TOKEN))
            .await
            .expect_error(404, "UNKNOWN_SITE");
    }

    /// A site removed from the configuration (and the process started again): its host
    /// and its pool find no site, so its ceremonies and nonces in flight fail cleanly with
    /// `UNKNOWN_SITE`, while the remaining site — still from a `[[site]]` table, so still
    /// routed by host — serves on.
    #[tokio::test]
    async fn a_removed_sites_requests_in_flight_fail_with_unknown_site() {
        let (a, b) = TestRp::spawn_two_sites(|_, _| {}).await;
        let bob = User::new("bob");
        let mut bobs = SoftAuthenticator::new();
        b.register_at(&bob, &mut bobs, OTHER_ORIGIN).await;
        let options = b
            .post("/v1/authentication/options", None, &json!({}))
            .await
            .expect(200);
        let assertion = bobs.get(&options["publicKey"], OTHER_ORIGIN).unwrap();
        let nonce = b.sign_in_at(&mut bobs, OTHER_ORIGIN).await.expect(200)["nonce"].clone();
        let challenge = b.challenge(&bob).await;

        let mut only_a = (*a.state.sites().by_id("default").unwrap().config).clone();
        only_a.routed = true;
        let listener = rp_server::listen(([127, 0, 0, 1], 0).into()).unwrap();
        let app = rp_server::Application::build_on_both_sites(
            listener,
            None,
            vec![(only_a, None)],
            a.clock.clone(),
        )
        .await
        .unwrap();
        let base = format!("http://{}", app.local_addr().unwrap());
        let (_stop, stopped) = tokio::sync::oneshot::channel::<()>();
        tokio::spawn(app.run_until(async move {
            let _ = stopped.await;
        }));
        let http = reqwest::Client::new();
        let post =
            |host: &'static str, path: &str, bearer: Option<&str>, body: serde_json::Value| {
                let mut req = http
                    .post(format!("{base}{path}"))
                    .header(HOST, host)
                    .json(&body);
                if let Some(token) = bearer {
                    req = req.bearer_auth(token);
                }
                a.send(req)
            };
        post(
            "app.other.test",
            "/v1/authentication/verify",
            None,
            json!({ "ceremonyId": options["ceremonyId"], "credential": assertion }),
        )
        .await
        .expect_error(404, "UNKNOWN_SITE");
        post(
            "app.example.test",
            "/internal/v1/nonces/redeem",
            Some(SERVICE_TOKEN),
            json!({ "nonce": nonce, "userSub": bob.sub, "challengeId": challenge["challengeId"],
                    "userPoolId": "eu-west-1_OtherPool" }),
        )
        .await
        .expect_error(404, "UNKNOWN_SITE");
        post(
            "app.example.test",
            "/v1/authentication/options",
            None,
            json!({}),
        )
        .await
        .expect(200);
    }

    /// `rp-server admin --site <id>` administers that site's rows only: Bob is B's user,
    /// unknown to the default site.
    #[tokio::test]
    async fn the_cli_administers_the_site_it_names() {
        use secrecy::ExposeSecret as _;
        let (a, b) = TestRp::spawn_two_sites(|_, _| {}).await;
        let bob = User::new("bob");
        b.register_at(&bob, &mut SoftAuthenticator::new(), OTHER_ORIGIN)
            .await;
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("rp-server.toml");
        std::fs::write(
            &file,
            "[[site]]\nid = \"default\"\n\n[[site]]\nid = \"other\"\n",
        )
        .unwrap();
        let cli = |site: Option<&str>| {
            let mut command = std::process::Command::new(env!("CARGO_BIN_EXE_rp-server"));
            command
                .arg("admin")
                .arg("--config")
                .arg(&file)
                .env_clear()
                .env("DATABASE_URL", a.state.config.database_url.expose_secret())
                .env("USER", "tester");
            if let Some(site) = site {
                command.args(["--site", site]);
            }
            command.args(["--json", "list", "--sub", &bob.sub]);
            command.output().unwrap()
        };
        let at_b = cli(Some("other"));
        assert!(
            at_b.status.success(),
            "{}",
            String::from_utf8_lossy(&at_b.stderr)
        );
        let listed: serde_json::Value = serde_json::from_slice(&at_b.stdout).unwrap();
        assert_eq!(listed.as_array().map(Vec::len), Some(1), "{listed}");
        assert_eq!(listed[0]["userSub"], bob.sub.as_str());
        let at_default = cli(None);
        assert!(!at_default.status.success());
        assert!(
            String::from_utf8_lossy(&at_default.stderr).contains("no such user"),
            "{}",
            String::from_utf8_lossy(&at_default.stderr)
        );
        let nowhere = cli(Some("nowhere"));
        assert!(!nowhere.status.success());
        assert!(String::from_utf8_lossy(&nowhere.stderr).contains("no [[site]] table has the id"));
    }

    /// A reload (what SIGHUP does with the file read again) replaces the sites: a removed
    /// site's host and pool are 404 `UNKNOWN_SITE` at once, adding it back serves it again
    /// with its passkeys; a reload that changes a process-wide setting is refused and
    /// changes nothing.
    #[tokio::test]
    async fn a_reload_removes_and_adds_sites_and_refuses_process_wide_changes() {
        let (a, b) = TestRp::spawn_two_sites(|_, _| {}).await;
        let bob = User::new("bob");
        let mut bobs = SoftAuthenticator::new();
        b.register_at(&bob, &mut bobs, OTHER_ORIGIN).await;
        let config_of = |id: &str| (*a.state.sites().by_id(id).unwrap().config).clone();
        // As `[[site]]` tables give them: routed by host even when one is left.
        let (mut site_a, mut site_b) = (config_of("default"), config_of("other"));
        site_a.routed = true;
        site_b.routed = true;

        rp_server::reload_sites_with(a.state.clone(), vec![(site_a.clone(), None)])
            .await
            .unwrap();
        b.post("/v1/authentication/options", None, &json!({}))
            .await
            .expect_error(404, "UNKNOWN_SITE");
        a.post("/v1/authentication/options", None, &json!({}))
            .await
            .expect(200);

        rp_server::reload_sites_with(
            a.state.clone(),
            vec![(site_a.clone(), None), (site_b.clone(), None)],
        )
        .await
        .unwrap();
        b.sign_in_at(&mut bobs, OTHER_ORIGIN).await.expect(200);

        let mut changed = site_a.clone();
        changed.service_token =
            secrecy::SecretString::from("another-service-token-0123456789abcdef".to_owned());
        let refused = rp_server::reload_sites_with(
            a.state.clone(),
            vec![(changed, None), (site_b.clone(), None)],
        )
        .await
        .unwrap_err();
        assert!(refused.to_string().contains("service_token"), "{refused}");
        b.sign_in_at(&mut bobs, OTHER_ORIGIN).await.expect(200);
    }
}
