//! Access-token checks on the browser-facing endpoints.

use serde_json::json;
use testkit::idp::{SigningKey, now_secs, unsigned_token};

use crate::harness::{TestApp, User};

#[tokio::test]
async fn only_valid_access_tokens_of_allowed_clients_are_accepted() {
    let app = TestApp::spawn().await;
    let u = User::new("u");
    let good = app.idp.access_claims(&u.sub, &u.username);
    app.get("/v1/credentials", Some(&app.idp.sign(&good).unwrap()))
        .await
        .expect(200);

    let mutate = |f: &dyn Fn(&mut serde_json::Value)| {
        let mut c = good.clone();
        f(&mut c);
        app.idp.sign(&c).unwrap()
    };
    // Same kid, different key: the signature does not verify.
    let impostor = SigningKey::impostor(&app.idp.key.kid)
        .unwrap()
        .sign(&good)
        .unwrap();
    // An unknown kid (fetching the JWKS again does not find it).
    let unknown_kid = SigningKey::impostor("other-kid")
        .unwrap()
        .sign(&good)
        .unwrap();
    let mut tampered = app.idp.sign(&good).unwrap();
    tampered.insert(tampered.len() / 2, 'x');

    let cases: Vec<(&str, String)> = vec![
        ("bad signature", impostor),
        ("unknown kid", unknown_kid),
        ("tampered", tampered),
        (
            "wrong iss",
            mutate(&|c| {
                c["iss"] = json!("https://cognito-idp.eu-west-1.amazonaws.com/eu-west-1_Other")
            }),
        ),
        ("id token", mutate(&|c| c["token_use"] = json!("id"))),
        (
            "unknown client",
            mutate(&|c| c["client_id"] = json!("not-our-client")),
        ),
        (
            "no client",
            mutate(&|c| {
                c.as_object_mut().unwrap().remove("client_id");
            }),
        ),
        ("expired", mutate(&|c| c["exp"] = json!(now_secs() - 3600))),
        (
            "no exp",
            mutate(&|c| {
                c.as_object_mut().unwrap().remove("exp");
            }),
        ),
        ("alg none", unsigned_token(&good)),
        ("garbage", "not.a.jwt".to_owned()),
    ];
    for (name, token) in cases {
        let r = app.get("/v1/credentials", Some(&token)).await;
        assert_eq!(r.status, 401, "{name}: {}", r.body);
        assert_eq!(r.code(), "UNAUTHENTICATED", "{name}");
        assert_eq!(r.headers["www-authenticate"], "Bearer");
    }
    app.get("/v1/credentials", None)
        .await
        .expect_error(401, "UNAUTHENTICATED");
    let r = app
        .send(
            app.http
                .get(app.url("/v1/credentials"))
                .header("authorization", "Basic dTpw"),
        )
        .await;
    r.expect_error(401, "UNAUTHENTICATED");

    // Tokens of every allowed client work.
    let other_client = mutate(&|c| c["client_id"] = json!("otherclient"));
    app.get("/v1/credentials", Some(&other_client))
        .await
        .expect(200);
}

#[tokio::test]
async fn the_username_comes_from_the_token_and_follows_renames() {
    let app = TestApp::spawn().await;
    let mut u = User::new("before");
    let mut authn = testkit::authenticator::SoftAuthenticator::new();
    app.register(&u, &mut authn).await;
    u.username = "after".to_owned();
    app.post("/v1/registration/options", Some(&app.token(&u)), &json!({}))
        .await
        .expect(200);
    assert_eq!(
        app.sign_in(&mut authn).await.expect(200)["username"],
        "after"
    );
}
