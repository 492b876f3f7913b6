//! Access-token checks on the browser-facing endpoints.

use axum::response::IntoResponse as _;
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

/// A JWKS endpoint we control: it serves the pool's key, or stalls, or fails, and counts
/// the fetches.
struct Jwks {
    mode: std::sync::atomic::AtomicU8,
    fetches: std::sync::atomic::AtomicUsize,
}

const SERVE: u8 = 0;
const STALL: u8 = 1;
const FAIL: u8 = 2;

async fn jwks_server(mode: u8) -> (std::sync::Arc<Jwks>, String) {
    use std::sync::atomic::Ordering;
    let control = std::sync::Arc::new(Jwks {
        mode: mode.into(),
        fetches: 0.into(),
    });
    let keys = json!({ "keys": [SigningKey::pool("test-key-1").unwrap().jwk()] });
    let c = control.clone();
    let router = axum::Router::new().route(
        "/jwks.json",
        axum::routing::get(move || {
            let (c, keys) = (c.clone(), keys.clone());
            async move {
                c.fetches.fetch_add(1, Ordering::SeqCst);
                match c.mode.load(Ordering::SeqCst) {
                    STALL => {
                        tokio::time::sleep(std::time::Duration::from_secs(3)).await;
                        axum::Json(keys).into_response()
                    }
                    FAIL => axum::http::StatusCode::INTERNAL_SERVER_ERROR.into_response(),
                    _ => axum::Json(keys).into_response(),
                }
            }
        }),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}/jwks.json", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, router).await.ok() });
    (control, url)
}

/// Anyone can send tokens with random `kid`s to make rp-server refetch the JWKS. A
/// request whose key is cached must never wait for that (the JWKS stalls 3 s here), the
/// refresh is single-flight, and when no key can be had the answer is 503, not 401.
#[tokio::test]
async fn a_stalled_or_failing_jwks_never_holds_up_or_fails_valid_tokens() {
    use std::sync::atomic::Ordering;
    let (jwks, url) = jwks_server(SERVE).await;
    let app = TestApp::spawn_with(|c| {
        c.cognito_jwks_url = url::Url::parse(&url).unwrap();
        c.jwks_min_refresh = std::time::Duration::from_millis(200);
    })
    .await;
    let u = User::new("u");
    let valid = app.token(&u);
    app.get("/v1/credentials", Some(&valid)).await.expect(200);
    assert_eq!(jwks.fetches.load(Ordering::SeqCst), 1);

    tokio::time::sleep(std::time::Duration::from_millis(300)).await;
    jwks.mode.store(STALL, Ordering::SeqCst);
    let unknown = SigningKey::impostor("rotated-kid")
        .unwrap()
        .sign(&app.idp.access_claims(&u.sub, &u.username))
        .unwrap();
    let app = &app;
    let flood = futures::future::join_all(
        (0..20).map(|_| async { app.get("/v1/credentials", Some(&unknown)).await.status }),
    );
    let valid_during_flood = async {
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
        let started = std::time::Instant::now();
        let r = app.get("/v1/credentials", Some(&valid)).await;
        (r.status, started.elapsed())
    };
    let (flooded, (status, took)) = tokio::join!(flood, valid_during_flood);
    assert_eq!(status, 200);
    assert!(
        took < std::time::Duration::from_millis(1500),
        "a cached key waited {took:?} for a stalled refresh"
    );
    assert!(flooded.iter().all(|s| *s == 401), "{flooded:?}");
    assert_eq!(
        jwks.fetches.load(Ordering::SeqCst),
        2,
        "refreshes are single-flight"
    );

    // A JWKS that cannot be fetched: valid tokens get 503 JWKS_UNAVAILABLE, not 401.
    let (_failing, url) = jwks_server(FAIL).await;
    let down = TestApp::spawn_with(|c| c.cognito_jwks_url = url::Url::parse(&url).unwrap()).await;
    let r = down.get("/v1/credentials", Some(&down.token(&u))).await;
    r.expect_error(503, "JWKS_UNAVAILABLE");
    assert!(r.headers.contains_key("retry-after"));
}
