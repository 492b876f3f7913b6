//! The WebAuthn features of recent browsers: Related Origin Requests.

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
    let token = app.token(&user);
    let options = app
        .post("/v1/registration/options", Some(&token), &json!({}))
        .await
        .expect(200);
    let mut authn = SoftAuthenticator::new();
    let credential = authn.create(&options["publicKey"], SHOP).unwrap();
    app.post(
        "/v1/registration/verify",
        Some(&token),
        &json!({ "ceremonyId": options["ceremonyId"], "credential": credential }),
    )
    .await
    .expect(201);
    for origin in [SHOP, ORIGIN] {
        let options = app
            .post("/v1/authentication/options", None, &json!({}))
            .await
            .expect(200);
        let assertion = authn.get(&options["publicKey"], origin).unwrap();
        let signed_in = app
            .post(
                "/v1/authentication/verify",
                None,
                &json!({ "ceremonyId": options["ceremonyId"], "credential": assertion }),
            )
            .await
            .expect(200);
        assert_eq!(signed_in["username"], "ann@example.com");
    }

    // An origin on neither list is refused.
    let options = app
        .post("/v1/authentication/options", None, &json!({}))
        .await
        .expect(200);
    let assertion = authn
        .get(&options["publicKey"], "https://example-shop.evil.test")
        .unwrap();
    app.post(
        "/v1/authentication/verify",
        None,
        &json!({ "ceremonyId": options["ceremonyId"], "credential": assertion }),
    )
    .await
    .expect_error(422, "ORIGIN_NOT_ALLOWED");
}
