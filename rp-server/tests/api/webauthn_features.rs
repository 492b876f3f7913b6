//! The WebAuthn features of recent browsers: Related Origin Requests, the Signal API's
//! server side, hints.

use base64::Engine as _;
use serde_json::json;
use testkit::authenticator::SoftAuthenticator;

use crate::harness::{ORIGIN, TestApp, User};

const SHOP: &str = "https://example-shop.test";

#[tokio::test]
async fn related_origins_are_published_and_accepted() {
    let plain = TestApp::spawn().await;
    let r = plain
        .send(plain.http.get(plain.url("/.well-known/webauthn")))
        .await;
    r.expect_error(404, "NOT_FOUND");

    let app = TestApp::spawn_with(|c| {
        c.related_origins = vec![url::Url::parse(SHOP).unwrap()];
    })
    .await;
    let r = app
        .http
        .get(app.url("/.well-known/webauthn"))
        .header("origin", "https://elsewhere.test")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    assert_eq!(r.headers()["content-type"], "application/json");
    assert_eq!(r.headers()["access-control-allow-origin"], "*");
    let body: serde_json::Value = r.json().await.unwrap();
    assert_eq!(body, json!({ "origins": [SHOP] }));
    // From an origin the API's CORS allows too: still one header.
    let r = app
        .http
        .get(app.url("/.well-known/webauthn"))
        .header("origin", ORIGIN)
        .send()
        .await
        .unwrap();
    assert_eq!(
        r.headers()
            .get_all("access-control-allow-origin")
            .iter()
            .count(),
        1
    );

    // A passkey made on the related origin, used there and on the RP ID's own site.
    let user = User::new("ann@example.com");
    let mut authn = SoftAuthenticator::new();
    app.register_at(&user, &mut authn, SHOP).await;
    for origin in [SHOP, ORIGIN] {
        let signed_in = app.sign_in_at(&mut authn, origin).await.expect(200);
        assert_eq!(signed_in["username"], "ann@example.com");
    }

    // An origin on neither list is refused.
    app.sign_in_at(&mut authn, "https://example-shop.evil.test")
        .await
        .expect_error(422, "ORIGIN_NOT_ALLOWED");
}

/// What the client needs for the Signal API: a refused passkey's id and the RP ID in the
/// error, and the accepted list with the user handle in `GET /v1/credentials`.
#[tokio::test]
async fn refusals_and_the_passkey_list_carry_what_the_signal_api_needs() {
    let app = TestApp::spawn().await;
    let user = User::new("sig@example.com");
    let token = app.token(&user);
    let options = app
        .post("/v1/registration/options", Some(&token), &json!({}))
        .await
        .expect(200);
    let user_handle = options["publicKey"]["user"]["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let mut authn = SoftAuthenticator::new();
    let credential = authn.create(&options["publicKey"], ORIGIN).unwrap();
    let added = app
        .post(
            "/v1/registration/verify",
            Some(&token),
            &json!({ "ceremonyId": options["ceremonyId"], "credential": credential }),
        )
        .await
        .expect(201);
    let id = added["id"].as_str().unwrap().to_owned();

    let list = app
        .send(app.http.get(app.url("/v1/credentials")).bearer_auth(&token))
        .await
        .expect(200);
    assert_eq!(list["rpId"], crate::harness::RP_ID);
    assert_eq!(list["userId"], user_handle.as_str());
    assert_eq!(list["credentials"][0]["id"], id.as_str());

    // Deleted: the next sign-in with it is refused, naming it.
    app.send(
        app.http
            .delete(app.url(&format!("/v1/credentials/{id}")))
            .bearer_auth(&token),
    )
    .await
    .expect(204);
    let refused = app.sign_in(&mut authn).await;
    refused.expect_error(422, "CREDENTIAL_REVOKED");
    let body = &refused.body;
    assert_eq!(
        body["error"]["details"],
        json!({ "credentialId": id, "rpId": crate::harness::RP_ID })
    );

    // A passkey this server never saw: the same, as UNKNOWN_CREDENTIAL.
    let stranger = TestApp::spawn().await;
    let refused = stranger.sign_in(&mut authn).await;
    refused.expect_error(422, "UNKNOWN_CREDENTIAL");
    assert_eq!(
        refused.body["error"]["details"]["credentialId"],
        id.as_str()
    );
}

/// `RP_HINTS` adds WebAuthn hints to every ceremony's options; a request's own replace
/// them; without either the options carry none.
#[tokio::test]
async fn hints_come_from_the_setting_or_the_request() {
    use rp_server::flows::ceremony::Hint;
    let plain = TestApp::spawn().await;
    let options = plain
        .post("/v1/authentication/options", None, &json!({}))
        .await
        .expect(200);
    assert!(options["publicKey"].get("hints").is_none());

    let app = TestApp::spawn_with(|c| c.hints = vec![Hint::ClientDevice]).await;
    let options = app
        .post("/v1/authentication/options", None, &json!({}))
        .await
        .expect(200);
    assert_eq!(options["publicKey"]["hints"], json!(["client-device"]));
    let options = app
        .post(
            "/v1/authentication/options",
            None,
            &json!({ "hints": ["hybrid"] }),
        )
        .await
        .expect(200);
    assert_eq!(options["publicKey"]["hints"], json!(["hybrid"]));
    let token = app.token(&User::new("keys@example.com"));
    let options = app
        .post(
            "/v1/registration/options",
            Some(&token),
            &json!({ "hints": ["security-key", "client-device"] }),
        )
        .await
        .expect(200);
    assert_eq!(
        options["publicKey"]["hints"],
        json!(["security-key", "client-device"])
    );
    app.post(
        "/v1/authentication/options",
        None,
        &json!({ "hints": ["phone"] }),
    )
    .await
    .expect_error(400, "INVALID_REQUEST");
}

/// Conditional create (a silent upgrade after a password sign-in): only a ceremony
/// started with `mediation: "conditional"` may finish without user presence and
/// verification; every other keeps requiring both.
#[tokio::test]
async fn only_a_conditional_ceremony_accepts_a_passkey_made_without_a_prompt() {
    let app = TestApp::spawn().await;
    let user = User::new("upgrade@example.com");
    let token = app.token(&user);
    let register = |body: serde_json::Value, authn: SoftAuthenticator| {
        let token = token.clone();
        let app = &app;
        async move {
            let mut authn = authn;
            let options = app
                .post("/v1/registration/options", Some(&token), &body)
                .await
                .expect(200);
            let credential = authn.create(&options["publicKey"], ORIGIN).unwrap();
            let r = app
                .post(
                    "/v1/registration/verify",
                    Some(&token),
                    &json!({ "ceremonyId": options["ceremonyId"], "credential": credential }),
                )
                .await;
            (options, r, authn)
        }
    };
    let silent = || {
        let mut authn = SoftAuthenticator::new();
        authn.behaviour.user_present = false;
        authn.behaviour.user_verified = false;
        authn
    };

    // A normal ceremony refuses a passkey made without presence or verification.
    let (_, refused, _) = register(json!({}), silent()).await;
    assert_eq!(refused.status, 422, "{:?}", refused.body);

    // A conditional one accepts it, and asks for verification only as a preference.
    let (options, made, mut authn) =
        register(json!({ "mediation": "conditional" }), silent()).await;
    assert_eq!(
        options["publicKey"]["authenticatorSelection"]["userVerification"],
        "preferred"
    );
    let made = made.expect(201);
    let stored = app
        .send(
            app.http
                .get(app.url(&format!(
                    "/admin/v1/credentials/{}",
                    made["id"].as_str().unwrap()
                )))
                .bearer_auth(crate::harness::ADMIN_TOKEN),
        )
        .await
        .expect(200);
    assert_eq!(stored["userVerified"], false);

    // Signing in with it later still needs verification, as every sign-in does.
    authn.behaviour.user_present = true;
    authn.behaviour.user_verified = false;
    app.sign_in(&mut authn)
        .await
        .expect_error(422, "USER_VERIFICATION_REQUIRED");
    authn.behaviour.user_verified = true;
    app.sign_in(&mut authn).await.expect(200);

    // An unknown mediation is a malformed request.
    app.post(
        "/v1/registration/options",
        Some(&token),
        &json!({ "mediation": "silent" }),
    )
    .await
    .expect_error(400, "INVALID_REQUEST");
}

/// Native apps: the two files that let iOS and Android apps use the RP ID's passkeys,
/// each only when its setting is set, and a ceremony from an Android app's origin.
#[tokio::test]
async fn native_apps_get_their_well_known_files_and_their_origin() {
    let plain = TestApp::spawn().await;
    for path in [
        "/.well-known/apple-app-site-association",
        "/.well-known/assetlinks.json",
    ] {
        plain
            .send(plain.http.get(plain.url(path)))
            .await
            .expect_error(404, "NOT_FOUND");
    }

    let app_entry = rp_server::config::AndroidApp {
        package_name: "com.example.app".to_owned(),
        fingerprint: [0xAB; 32],
    };
    let origin = app_entry.origin();
    let app = TestApp::spawn_with(|c| {
        // As RP_APPLE_APP_IDS and RP_ANDROID_APPS are read at start; iOS apps' origin
        // https://<RP_ID> is in RP_ORIGINS.
        c.origins.push(rp_server::config::Origin::Web(
            url::Url::parse(&format!("https://{}", c.rp_id)).unwrap(),
        ));
        c.set_native_apps(
            &["ABCDE12345.com.example.app".to_owned()],
            &[format!("com.example.app:{}", vec!["AB"; 32].join(":"))],
        )
        .unwrap();
        assert_eq!(c.android_apps, [app_entry]);
    })
    .await;
    let aasa = app
        .http
        .get(app.url("/.well-known/apple-app-site-association"))
        .send()
        .await
        .unwrap();
    assert_eq!(aasa.status(), 200, "served directly, no redirect");
    assert_eq!(aasa.headers()["content-type"], "application/json");
    assert_eq!(
        aasa.json::<serde_json::Value>().await.unwrap(),
        json!({ "webcredentials": { "apps": ["ABCDE12345.com.example.app"] } })
    );
    let links = app
        .send(app.http.get(app.url("/.well-known/assetlinks.json")))
        .await
        .expect(200);
    assert_eq!(
        links,
        json!([{
            "relation": ["delegate_permission/common.get_login_creds"],
            "target": {
                "namespace": "android_app",
                "package_name": "com.example.app",
                "sha256_cert_fingerprints": [vec!["AB"; 32].join(":")],
            },
        }])
    );

    // A passkey made and used in the Android app.
    let mut authn = SoftAuthenticator::new();
    app.register_at(&User::new("droid@example.com"), &mut authn, &origin)
        .await;
    app.sign_in_at(&mut authn, &origin).await.expect(200);
    // The same passkey from the iOS app (synced): ASAuthorization's origin is https://<RP_ID>.
    app.sign_in_at(&mut authn, &format!("https://{}", testkit::rp::RP_ID))
        .await
        .expect(200);

    // Another app (another signing certificate) is not in RP_ANDROID_APPS: refused, even
    // with this user's passkey.
    let other = rp_server::config::AndroidApp {
        package_name: "com.example.app".to_owned(),
        fingerprint: [0xCD; 32],
    };
    app.sign_in_at(&mut authn, &other.origin())
        .await
        .expect_error(422, "ORIGIN_NOT_ALLOWED");
}

/// Attestation statements an authenticator sends are verified, even while rp-server asks
/// for none: `packed` self attestation and full attestation (an x5c chain to a CA) are
/// accepted as they verify; a statement whose signature does not is refused.
#[tokio::test]
async fn packed_attestation_statements_are_verified() {
    use testkit::attestation::AttestationCa;
    use testkit::authenticator::Attestation;
    let app = TestApp::spawn().await;
    let ca = std::sync::Arc::new(AttestationCa::new(*b"rp-test-authn-01").unwrap());
    for (name, attestation) in [
        ("self", Attestation::SelfPacked),
        ("full", Attestation::Packed(ca.clone())),
    ] {
        let user = User::new(name);
        let mut authn = SoftAuthenticator::new();
        authn.attestation = attestation;
        app.register(&user, &mut authn).await;
    }

    // The same full statement with its signature altered.
    let user = User::new("tampered");
    let token = app.token(&user);
    let mut authn = SoftAuthenticator::new();
    authn.attestation = Attestation::Packed(ca);
    let options = app
        .post("/v1/registration/options", Some(&token), &json!({}))
        .await
        .expect(200);
    let mut credential = authn.create(&options["publicKey"], ORIGIN).unwrap();
    let object = credential["response"]["attestationObject"]
        .as_str()
        .unwrap();
    let bytes = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(object)
        .unwrap();
    let mut cbor: ciborium::Value = ciborium::from_reader(bytes.as_slice()).unwrap();
    let statement = cbor
        .as_map_mut()
        .unwrap()
        .iter_mut()
        .find(|(k, _)| k.as_text() == Some("attStmt"))
        .unwrap();
    let sig = statement
        .1
        .as_map_mut()
        .unwrap()
        .iter_mut()
        .find(|(k, _)| k.as_text() == Some("sig"))
        .unwrap();
    if let ciborium::Value::Bytes(b) = &mut sig.1 {
        let last = b.len() - 1;
        b[last] ^= 1;
    }
    let mut altered = Vec::new();
    ciborium::into_writer(&cbor, &mut altered).unwrap();
    credential["response"]["attestationObject"] =
        json!(base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(&altered));
    let r = app
        .post(
            "/v1/registration/verify",
            Some(&token),
            &json!({ "ceremonyId": options["ceremonyId"], "credential": credential }),
        )
        .await;
    assert_eq!(r.status, 422, "{}", r.body);
}

/// `/.well-known/passkey-endpoints` tells password managers where to send users: 404
/// without the settings, the configured URLs (only those) with them, readable from any
/// origin.
#[tokio::test]
async fn passkey_endpoints_are_published_when_configured() {
    let plain = TestApp::spawn().await;
    plain
        .get("/.well-known/passkey-endpoints", None)
        .await
        .expect_error(404, "NOT_FOUND");
    let app = TestApp::spawn_with(|c| {
        c.passkey_enroll_url =
            Some(url::Url::parse("https://app.example.test/passkeys/new").unwrap());
        c.passkey_manage_url =
            Some(url::Url::parse("https://app.example.test/account/passkeys").unwrap());
    })
    .await;
    let r = app.get("/.well-known/passkey-endpoints", None).await;
    assert_eq!(r.headers["access-control-allow-origin"], "*");
    assert_eq!(
        r.expect(200),
        json!({
            "enroll": "https://app.example.test/passkeys/new",
            "manage": "https://app.example.test/account/passkeys",
        })
    );
    let only_manage = TestApp::spawn_with(|c| {
        c.passkey_manage_url = Some(url::Url::parse("https://app.example.test/account").unwrap());
    })
    .await;
    assert_eq!(
        only_manage
            .get("/.well-known/passkey-endpoints", None)
            .await
            .expect(200),
        json!({ "manage": "https://app.example.test/account" })
    );
}
