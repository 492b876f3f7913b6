use serde_json::json;
use testkit::authenticator::SoftAuthenticator;

use crate::harness::{TestApp, User};

#[tokio::test]
async fn users_see_rename_and_delete_only_their_own_passkeys() {
    let app = TestApp::spawn().await;
    let (alice, bob) = (User::new("alice"), User::new("bob"));
    let mut a = SoftAuthenticator::new();
    let mut b = SoftAuthenticator::new();
    let alices = app.register(&alice, &mut a).await;
    let bobs = app.register(&bob, &mut b).await;
    let (at, bt) = (app.token(&alice), app.token(&bob));

    let list = app.get("/v1/credentials", Some(&at)).await.expect(200);
    assert_eq!(list["credentials"].as_array().unwrap().len(), 1);
    assert_eq!(list["credentials"][0]["id"], alices["id"]);
    let empty = app
        .get("/v1/credentials", Some(&app.token(&User::new("nobody"))))
        .await
        .expect(200);
    // A user who never registered has no user handle yet.
    assert_eq!(
        empty,
        json!({ "credentials": [], "rpId": crate::harness::RP_ID })
    );

    let path = |id: &serde_json::Value| format!("/v1/credentials/{}", id.as_str().unwrap());
    let renamed = app
        .send(
            app.http
                .patch(app.url(&path(&alices["id"])))
                .bearer_auth(&at)
                .json(&json!({ "nickname": "  Work key " })),
        )
        .await
        .expect(200);
    assert_eq!(renamed["nickname"], "Work key");
    let cleared = app
        .send(
            app.http
                .patch(app.url(&path(&alices["id"])))
                .bearer_auth(&at)
                .json(&json!({ "nickname": null })),
        )
        .await
        .expect(200);
    assert!(cleared["nickname"].is_null());
    app.send(
        app.http
            .patch(app.url(&path(&alices["id"])))
            .bearer_auth(&at)
            .json(&json!({ "nickname": "x".repeat(65) })),
    )
    .await
    .expect_error(400, "INVALID_NICKNAME");

    // Bob cannot touch alice's passkey; it looks like it does not exist.
    app.send(
        app.http
            .patch(app.url(&path(&alices["id"])))
            .bearer_auth(&bt)
            .json(&json!({ "nickname": "mine" })),
    )
    .await
    .expect_error(404, "CREDENTIAL_NOT_FOUND");
    app.send(
        app.http
            .delete(app.url(&path(&alices["id"])))
            .bearer_auth(&bt),
    )
    .await
    .expect_error(404, "CREDENTIAL_NOT_FOUND");
    app.send(
        app.http
            .delete(app.url("/v1/credentials/AAAA"))
            .bearer_auth(&bt),
    )
    .await
    .expect_error(404, "CREDENTIAL_NOT_FOUND");
    app.send(
        app.http
            .delete(app.url("/v1/credentials/not*base64"))
            .bearer_auth(&bt),
    )
    .await
    .expect_error(400, "INVALID_CREDENTIAL_ID");

    let r = app
        .send(
            app.http
                .delete(app.url(&path(&bobs["id"])))
                .bearer_auth(&bt),
        )
        .await;
    assert_eq!(r.status, 204);
    // A deleted passkey no longer signs in.
    app.sign_in(&mut b)
        .await
        .expect_error(422, "CREDENTIAL_REVOKED");
    app.sign_in(&mut a).await.expect(200);

    let actions = app.audit_actions().await;
    assert!(actions.contains(&"credential.renamed".to_owned()));
    assert!(actions.contains(&"credential.deleted".to_owned()));
}

#[tokio::test]
async fn every_state_change_is_audited_with_who_and_where() {
    let app = TestApp::spawn().await;
    let alice = User::new("alice");
    let mut a = SoftAuthenticator::new();
    app.register(&alice, &mut a).await;
    let row: (String, String, Option<String>, Option<String>, Option<Vec<u8>>) = sqlx::query_as(
        "SELECT actor, action, host(ip), user_agent, credential_id FROM audit_events WHERE action = 'credential.registered'",
    )
    .fetch_one(&app.state.db)
    .await
    .unwrap();
    assert_eq!(row.0, format!("user:{}", alice.sub));
    assert_eq!(row.2.as_deref(), Some("127.0.0.1"));
    assert!(row.3.is_some());
    assert_eq!(row.4.as_deref(), Some(a.credentials[0].id.as_slice()));
}

/// A stolen or leaked access token must not be enough to add an attacker's passkey or
/// delete the owner's: both need a sign-in within RP_REAUTH_MAX_AGE_SECS (900 s).
#[tokio::test]
async fn adding_or_deleting_a_passkey_needs_a_recent_sign_in() {
    let app = TestApp::spawn().await;
    let u = User::new("u");
    let mut authn = SoftAuthenticator::new();
    let summary = app.register(&u, &mut authn).await; // a fresh token: allowed
    let id = summary["id"].as_str().unwrap();

    let mut claims = app.idp.access_claims(&u.sub, &u.username);
    claims["auth_time"] = json!(testkit::idp::now_secs() - 3600);
    let stale = app.idp.sign(&claims).unwrap();
    app.post("/v1/registration/options", Some(&stale), &json!({}))
        .await
        .expect_error(401, "REAUTH_REQUIRED");
    let fresh = app.token(&u);
    let options = app
        .post("/v1/registration/options", Some(&fresh), &json!({}))
        .await
        .expect(200);
    let credential = SoftAuthenticator::new()
        .create(&options["publicKey"], crate::harness::ORIGIN)
        .unwrap();
    app.post(
        "/v1/registration/verify",
        Some(&stale),
        &json!({ "ceremonyId": options["ceremonyId"], "credential": credential }),
    )
    .await
    .expect_error(401, "REAUTH_REQUIRED");
    let r = app
        .send(
            app.http
                .delete(app.url(&format!("/v1/credentials/{id}")))
                .bearer_auth(&stale),
        )
        .await;
    r.expect_error(401, "REAUTH_REQUIRED");
    let mut no_auth_time = claims.clone();
    no_auth_time.as_object_mut().unwrap().remove("auth_time");
    let r = app
        .send(
            app.http
                .delete(app.url(&format!("/v1/credentials/{id}")))
                .bearer_auth(app.idp.sign(&no_auth_time).unwrap()),
        )
        .await;
    r.expect_error(401, "REAUTH_REQUIRED");
    // Reading and renaming stay open to the older session; the passkey is still there.
    app.get("/v1/credentials", Some(&stale)).await.expect(200);
    app.send(
        app.http
            .patch(app.url(&format!("/v1/credentials/{id}")))
            .bearer_auth(&stale)
            .json(&json!({ "nickname": "Old laptop" })),
    )
    .await
    .expect(200);

    // RP_REAUTH_MAX_AGE_SECS=0 turns the check off.
    let off = TestApp::spawn_with(|c| c.reauth_max_age = None).await;
    let mut claims = off.idp.access_claims(&u.sub, &u.username);
    claims["auth_time"] = json!(testkit::idp::now_secs() - 86_400);
    let old = off.idp.sign(&claims).unwrap();
    off.post("/v1/registration/options", Some(&old), &json!({}))
        .await
        .expect(200);
}

/// `/v1/activity`: the caller's own events, newest first and paged, with where each came
/// from — an administrator's address excepted — and nothing of anyone else's.
#[tokio::test]
async fn users_see_their_own_activity_only() {
    let app = TestApp::spawn().await;
    let (ann, bob) = (User::new("ann"), User::new("bob"));
    let mut ann_key = SoftAuthenticator::new();
    let added = app.register(&ann, &mut ann_key).await;
    app.sign_in(&mut ann_key).await.expect(200);
    app.register(&bob, &mut SoftAuthenticator::new()).await;
    let id = added["id"].as_str().unwrap();
    app.post(
        &format!("/admin/v1/credentials/{id}/revoke"),
        Some(crate::harness::ADMIN_TOKEN),
        &json!({ "reason": "lost" }),
    )
    .await
    .expect(200);

    let token = app.token(&ann);
    let page = app.get("/v1/activity", Some(&token)).await.expect(200);
    let actions: Vec<&str> = page["events"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["action"].as_str().unwrap())
        .collect();
    assert_eq!(
        actions,
        [
            "credential.revoked",
            "authentication.succeeded",
            "credential.registered"
        ]
    );
    let revoked = &page["events"][0];
    assert_eq!(
        (revoked["byAdmin"].as_bool(), revoked["ip"].is_null()),
        (Some(true), true)
    );
    assert_eq!(page["events"][1]["byAdmin"], false);
    assert!(page["events"][1]["userAgent"].is_string());
    assert!(
        page["events"]
            .as_array()
            .unwrap()
            .iter()
            .all(|e| e.get("details").is_none())
    );

    let first = app
        .get("/v1/activity?limit=2", Some(&token))
        .await
        .expect(200);
    assert_eq!(first["events"].as_array().unwrap().len(), 2);
    let cursor = first["nextCursor"].as_str().unwrap();
    let rest = app
        .get(
            &format!("/v1/activity?limit=2&cursor={cursor}"),
            Some(&token),
        )
        .await
        .expect(200);
    assert_eq!(rest["events"][0]["action"], "credential.registered");
    assert!(rest["nextCursor"].is_null());

    app.get("/v1/activity?cursor=%21", Some(&token))
        .await
        .expect_error(400, "INVALID_CURSOR");
    app.get("/v1/activity", None)
        .await
        .expect_error(401, "UNAUTHENTICATED");
}
