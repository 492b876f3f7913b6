//! rp-server as an OpenID provider: discovery and keys, the authorization request's
//! refusals, the sign-in page and its finish, the token endpoint's rules (single use,
//! PKCE, client authentication, redirect URI, expiry) and userinfo.

use std::sync::Arc;
use std::time::Duration;

use jsonwebtoken::{DecodingKey, Validation, jwk::JwkSet};
use reqwest::header;
use rp_server::config::{OidcClient, OidcConfig, Origin};
use rp_server::oidc::keys::{SigningKeys, generate_p256_pem};
use serde_json::{Value, json};
use sha2::Digest as _;
use testkit::authenticator::SoftAuthenticator;

use crate::harness::{ADMIN_TOKEN, TestApp, User};

const ISSUER: &str = "https://id.example.test";
const POOL_REDIRECT: &str = "https://auth.example.test/oauth2/idpresponse";
const SPA_REDIRECT: &str = "https://app.example.test/callback";
const POOL_SECRET: &str = "pool-client-secret-0123456789abcdef";
const VERIFIER: &str = "dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk";
const CHALLENGE: &str = "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM";

fn provider(keys_pem: &str) -> OidcConfig {
    OidcConfig {
        issuer: ISSUER.to_owned(),
        keys: Arc::new(SigningKeys::from_pem(keys_pem).unwrap()),
        clients: vec![
            OidcClient {
                client_id: "pool".into(),
                secret_sha256: Some(sha2::Sha256::digest(POOL_SECRET.as_bytes()).into()),
                public: false,
                redirect_uris: vec![POOL_REDIRECT.into()],
                scopes: vec!["openid".into(), "email".into(), "profile".into()],
                cognito_provider_name: None,
            },
            OidcClient {
                client_id: "spa".into(),
                secret_sha256: None,
                public: true,
                redirect_uris: vec![SPA_REDIRECT.into()],
                scopes: vec!["openid".into()],
                cognito_provider_name: None,
            },
        ],
    }
}

async fn spawn_with_keys(keys_pem: String) -> TestApp {
    TestApp::spawn_with(move |c| {
        c.oidc = Some(provider(&keys_pem));
        c.origins
            .push(Origin::Web(url::Url::parse(ISSUER).unwrap()));
    })
    .await
}

async fn spawn() -> TestApp {
    spawn_with_keys(generate_p256_pem().unwrap()).await
}

/// A client that does not follow redirects (the tests read them).
fn http() -> reqwest::Client {
    reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap()
}

fn pool_query(extra: &str) -> String {
    format!(
        "client_id=pool&redirect_uri={}&response_type=code&scope=openid%20email&state=st-1&nonce=n-1{extra}",
        urlencode(POOL_REDIRECT)
    )
}

fn spa_query(extra: &str) -> String {
    format!(
        "client_id=spa&redirect_uri={}&response_type=code&scope=openid&code_challenge={CHALLENGE}&code_challenge_method=S256{extra}",
        urlencode(SPA_REDIRECT)
    )
}

fn urlencode(s: &str) -> String {
    url::form_urlencoded::byte_serialize(s.as_bytes()).collect()
}

/// An open sign-in page: its request id and its cookie (`name=value`).
struct Page {
    request_id: String,
    cookie: String,
    html: String,
}

async fn open_page(app: &TestApp, query: &str) -> Page {
    let r = http()
        .get(app.url(&format!("/oidc/authorize?{query}")))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    let set_cookie = r.headers()[header::SET_COOKIE].to_str().unwrap().to_owned();
    let csp = r.headers()[header::CONTENT_SECURITY_POLICY]
        .to_str()
        .unwrap()
        .to_owned();
    let html = r.text().await.unwrap();
    // The cookie binds the request to this browser: HttpOnly, SameSite=Lax, Secure on https.
    for attribute in ["HttpOnly", "SameSite=Lax", "Secure", "Path=/"] {
        assert!(set_cookie.contains(attribute), "{set_cookie}");
    }
    assert!(set_cookie.starts_with("__Host-rp-oidc="), "{set_cookie}");
    // Scripts run only with this response's nonce; no framing.
    let nonce = csp
        .split("'nonce-")
        .nth(1)
        .unwrap()
        .split('\'')
        .next()
        .unwrap();
    assert!(html.contains(&format!("<script nonce=\"{nonce}\">")));
    assert!(
        csp.contains("frame-ancestors 'none'") && !csp.contains("unsafe-inline"),
        "{csp}"
    );
    let request_id = html
        .split("data-request=\"")
        .nth(1)
        .unwrap()
        .split('"')
        .next()
        .unwrap()
        .to_owned();
    Page {
        request_id,
        cookie: set_cookie.split(';').next().unwrap().to_owned(),
        html,
    }
}

/// A usernameless passkey sign-in on the provider's page: the nonce it earns.
async fn sign_in_on_page(app: &TestApp, authn: &mut SoftAuthenticator) -> String {
    let r = app.sign_in_at(authn, ISSUER).await.expect(200);
    r["nonce"].as_str().unwrap().to_owned()
}

async fn finish(app: &TestApp, page: &Page, nonce: &str) -> testkit::rp::Response {
    app.send(
        app.http
            .post(app.url("/oidc/authorize/finish"))
            .header(header::COOKIE, &page.cookie)
            .json(&json!({ "requestId": page.request_id, "nonce": nonce })),
    )
    .await
}

/// The query parameters of a redirect.
fn params(location: &str) -> std::collections::HashMap<String, String> {
    url::Url::parse(location)
        .unwrap()
        .query_pairs()
        .map(|(k, v)| (k.into_owned(), v.into_owned()))
        .collect()
}

async fn code_for(app: &TestApp, authn: &mut SoftAuthenticator, query: &str) -> String {
    let page = open_page(app, query).await;
    let nonce = sign_in_on_page(app, authn).await;
    let to = finish(app, &page, &nonce).await.expect(200);
    let p = params(to["redirectTo"].as_str().unwrap());
    p["code"].clone()
}

async fn token(
    app: &TestApp,
    form: &[(&str, &str)],
    basic: Option<(&str, &str)>,
) -> (u16, Value, reqwest::header::HeaderMap) {
    let body = url::form_urlencoded::Serializer::new(String::new())
        .extend_pairs(form)
        .finish();
    let mut req = http()
        .post(app.url("/oidc/token"))
        .header(header::CONTENT_TYPE, "application/x-www-form-urlencoded")
        .body(body);
    if let Some((id, secret)) = basic {
        req = req.basic_auth(id, Some(secret));
    }
    let r = req.send().await.unwrap();
    let status = r.status().as_u16();
    let headers = r.headers().clone();
    (status, r.json().await.unwrap(), headers)
}

async fn pool_token(app: &TestApp, code: &str) -> (u16, Value) {
    let (status, body, headers) = token(
        app,
        &[
            ("grant_type", "authorization_code"),
            ("code", code),
            ("redirect_uri", POOL_REDIRECT),
        ],
        Some(("pool", POOL_SECRET)),
    )
    .await;
    if status == 200 {
        assert_eq!(headers[header::CACHE_CONTROL], "no-store");
    }
    (status, body)
}

async fn claims_of(app: &TestApp, id_token: &str, audience: &str) -> Value {
    let jwks: JwkSet = app
        .get("/oidc/jwks", None)
        .await
        .expect(200)
        .to_string()
        .parse::<Value>()
        .map(|v| serde_json::from_value(v).unwrap())
        .unwrap();
    let header = jsonwebtoken::decode_header(id_token).unwrap();
    let jwk = jwks.find(header.kid.as_deref().unwrap()).unwrap();
    let mut v = Validation::new(header.alg);
    v.set_issuer(&[ISSUER]);
    v.set_audience(&[audience]);
    jsonwebtoken::decode::<Value>(id_token, &DecodingKey::from_jwk(jwk).unwrap(), &v)
        .unwrap()
        .claims
}

async fn registered(app: &TestApp, name: &str) -> (User, SoftAuthenticator) {
    let user = User::new(name);
    let mut authn = SoftAuthenticator::new();
    app.register(&user, &mut authn).await;
    (user, authn)
}

#[tokio::test]
async fn the_provider_is_off_without_an_issuer_and_discoverable_with_one() {
    let off = TestApp::spawn().await;
    for path in [
        "/.well-known/openid-configuration",
        "/oidc/jwks",
        "/oidc/authorize",
    ] {
        off.get(path, None).await.expect_error(404, "PROVIDER_OFF");
    }

    let app = spawn().await;
    let doc = app
        .get("/.well-known/openid-configuration", None)
        .await
        .expect(200);
    assert_eq!(doc["issuer"], ISSUER);
    assert_eq!(
        doc["authorization_endpoint"],
        format!("{ISSUER}/oidc/authorize")
    );
    assert_eq!(doc["token_endpoint"], format!("{ISSUER}/oidc/token"));
    assert_eq!(doc["jwks_uri"], format!("{ISSUER}/oidc/jwks"));
    assert_eq!(doc["response_types_supported"], json!(["code"]));
    assert_eq!(doc["code_challenge_methods_supported"], json!(["S256"]));
    assert_eq!(
        doc["id_token_signing_alg_values_supported"],
        json!(["ES256"])
    );
    let jwks = app.get("/oidc/jwks", None).await.expect(200);
    let key = &jwks["keys"][0];
    assert_eq!(
        (
            key["kty"].as_str(),
            key["alg"].as_str(),
            key["use"].as_str()
        ),
        (Some("EC"), Some("ES256"), Some("sig"))
    );
    assert!(key.get("d").is_none(), "a private part in the JWKS: {key}");
}

/// The whole flow for a confidential client, and the code's single use: a second
/// redemption fails and revokes the access token the first one earned.
#[tokio::test]
async fn a_passkey_sign_in_yields_an_id_token_and_a_code_redeems_once() {
    let app = spawn().await;
    let (user, mut authn) = registered(&app, "ann").await;
    let before = app.clock.now().timestamp();
    let page = open_page(&app, &pool_query("&login_hint=ann%40example.test")).await;
    assert!(page.html.contains("value=\"ann@example.test\""));
    let nonce = sign_in_on_page(&app, &mut authn).await;
    let done = finish(&app, &page, &nonce).await;
    assert_eq!(
        done.headers[header::SET_COOKIE]
            .to_str()
            .unwrap()
            .split(';')
            .next(),
        Some("__Host-rp-oidc="),
        "the finished request's cookie is cleared"
    );
    let to = done.expect(200)["redirectTo"].as_str().unwrap().to_owned();
    assert!(to.starts_with(POOL_REDIRECT), "{to}");
    let p = params(&to);
    assert_eq!((p["state"].as_str(), p["iss"].as_str()), ("st-1", ISSUER));
    assert!(p["code"].starts_with("rpc_"));

    let (status, tokens) = pool_token(&app, &p["code"]).await;
    assert_eq!(status, 200, "{tokens}");
    assert_eq!(tokens["token_type"], "Bearer");
    let claims = claims_of(&app, tokens["id_token"].as_str().unwrap(), "pool").await;
    assert_eq!(claims["sub"], user.sub.as_str());
    assert_eq!(claims["nonce"], "n-1");
    assert_eq!(claims["azp"], "pool");
    assert_eq!(claims["acr"], rp_server::oidc::ACR_PASSKEY);
    // The soft authenticator's passkeys are synced (backup eligible) and verify the user.
    assert_eq!(claims["amr"], json!(["swk", "user", "mfa"]));
    assert!(claims["auth_time"].as_i64().unwrap() >= before);

    let access = tokens["access_token"].as_str().unwrap().to_owned();
    let info = app.get("/oidc/userinfo", Some(&access)).await.expect(200);
    assert_eq!(info["sub"], user.sub.as_str());

    // Again: invalid_grant, and what the first redemption earned stops working.
    let (status, again) = pool_token(&app, &p["code"]).await;
    assert_eq!(
        (status, again["error"].as_str()),
        (400, Some("invalid_grant"))
    );
    assert_eq!(app.get("/oidc/userinfo", Some(&access)).await.status, 401);
    let actions = app.audit_actions().await;
    for action in ["oidc.code_issued", "oidc.token_issued", "oidc.denied"] {
        assert!(
            actions.iter().any(|a| a == action),
            "{action} missing from {actions:?}"
        );
    }
}

#[tokio::test]
async fn refused_authorization_requests() {
    let app = spawn().await;
    // An unknown client or an unregistered redirect URI: an error page, never a redirect.
    for query in [
        "client_id=nobody&redirect_uri=https%3A%2F%2Fapp.example.test%2Fcallback&response_type=code&scope=openid".to_owned(),
        spa_query("").replace("callback", "elsewhere"),
    ] {
        let r = http().get(app.url(&format!("/oidc/authorize?{query}"))).send().await.unwrap();
        assert_eq!(r.status(), 400, "{query}");
        assert!(r.headers().get(header::LOCATION).is_none());
        assert!(r.headers().get(header::SET_COOKIE).is_none());
    }
    // Anything else goes back to the client with the error, its state and our issuer.
    for (query, error) in [
        (
            pool_query("").replace("response_type=code", "response_type=token"),
            "unsupported_response_type",
        ),
        (
            spa_query("").replace(
                &format!("&code_challenge={CHALLENGE}&code_challenge_method=S256"),
                "",
            ),
            "invalid_request",
        ),
        (pool_query("&prompt=none"), "login_required"),
        (
            pool_query("").replace("openid%20email", "email"),
            "invalid_scope",
        ),
    ] {
        let r = http()
            .get(app.url(&format!("/oidc/authorize?{query}")))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 302, "{query}");
        let p = params(r.headers()[header::LOCATION].to_str().unwrap());
        assert_eq!(p["error"], error, "{query}");
        assert_eq!(p["iss"], ISSUER);
        if query.contains("state=") {
            assert_eq!(p["state"], "st-1");
        }
        assert!(r.headers().get(header::SET_COOKIE).is_none());
    }
}

/// The page's request is bound to its browser and its time: no cookie, another
/// request's id, an expired request, or a sign-in made before the request (or spent
/// already) finishes nothing.
#[tokio::test]
async fn a_finish_needs_this_browsers_request_and_a_fresh_sign_in() {
    let app = spawn().await;
    let (user, mut authn) = registered(&app, "bo").await;

    let early = sign_in_on_page(&app, &mut authn).await;
    app.clock.advance(Duration::from_secs(1));
    let page = open_page(&app, &pool_query("&prompt=login&max_age=0")).await;
    // A sign-in that predates the request is not a new one (prompt=login, max_age).
    finish(&app, &page, &early)
        .await
        .expect_error(410, "SIGN_IN_NOT_VALID");

    let nonce = sign_in_on_page(&app, &mut authn).await;
    let no_cookie = app
        .post(
            "/oidc/authorize/finish",
            None,
            &json!({ "requestId": page.request_id, "nonce": nonce }),
        )
        .await;
    no_cookie.expect_error(410, "SIGN_IN_REQUEST_EXPIRED");
    let other = Page {
        request_id: uuid::Uuid::new_v4().to_string(),
        cookie: page.cookie.clone(),
        html: String::new(),
    };
    finish(&app, &other, &nonce)
        .await
        .expect_error(410, "SIGN_IN_REQUEST_EXPIRED");
    let forged = Page {
        request_id: page.request_id.clone(),
        cookie: format!("{}x", page.cookie),
        html: String::new(),
    };
    finish(&app, &forged, &nonce)
        .await
        .expect_error(410, "SIGN_IN_REQUEST_EXPIRED");
    finish(&app, &page, &nonce).await.expect(200);
    // The nonce is spent now: not for this request again, nor for Cognito.
    finish(&app, &page, &nonce)
        .await
        .expect_error(410, "SIGN_IN_NOT_VALID");
    let challenge = app.challenge(&user).await;
    let r = app
        .redeem(&nonce, &user.sub, &challenge["challengeId"])
        .await;
    assert_eq!(
        (r["valid"].as_bool(), r["reason"].as_str()),
        (Some(false), Some("already_used")),
        "{r}"
    );

    let late = open_page(&app, &pool_query("")).await;
    app.clock
        .advance(rp_server::oidc::REQUEST_TTL + Duration::from_secs(1));
    let nonce = sign_in_on_page(&app, &mut authn).await;
    finish(&app, &late, &nonce)
        .await
        .expect_error(410, "SIGN_IN_REQUEST_EXPIRED");
}

#[tokio::test]
async fn pkce_binds_a_public_clients_code_to_its_verifier() {
    let app = spawn().await;
    let (_user, mut authn) = registered(&app, "cy").await;
    let exchange = |code: String, verifier: Option<&'static str>| {
        let app = &app;
        async move {
            let mut form = vec![
                ("grant_type", "authorization_code"),
                ("client_id", "spa"),
                ("redirect_uri", SPA_REDIRECT),
            ];
            form.push(("code", code.as_str()));
            if let Some(v) = verifier {
                form.push(("code_verifier", v));
            }
            let (status, body, _) = token(app, &form, None).await;
            (status, body["error"].as_str().map(str::to_owned))
        }
    };
    let code = code_for(&app, &mut authn, &spa_query("")).await;
    assert_eq!(
        exchange(code, None).await,
        (400, Some("invalid_grant".into()))
    );
    let code = code_for(&app, &mut authn, &spa_query("")).await;
    let wrong = "eBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk";
    assert_eq!(
        exchange(code, Some(wrong)).await,
        (400, Some("invalid_grant".into()))
    );
    let code = code_for(&app, &mut authn, &spa_query("")).await;
    assert_eq!(exchange(code, Some(VERIFIER)).await, (200, None));

    // A verifier for a code issued without a challenge is refused (no downgrade).
    let code = code_for(&app, &mut authn, &pool_query("")).await;
    let (status, body, _) = token(
        &app,
        &[
            ("grant_type", "authorization_code"),
            ("code", &code),
            ("redirect_uri", POOL_REDIRECT),
            ("code_verifier", VERIFIER),
        ],
        Some(("pool", POOL_SECRET)),
    )
    .await;
    assert_eq!(
        (status, body["error"].as_str()),
        (400, Some("invalid_grant"))
    );
}

#[tokio::test]
async fn the_token_endpoint_checks_client_redirect_uri_and_expiry() {
    let app = spawn().await;
    let (_user, mut authn) = registered(&app, "di").await;

    // A wrong secret, or none: invalid_client (401, with a Basic challenge).
    let code = code_for(&app, &mut authn, &pool_query("")).await;
    let (status, _, headers) = token(
        &app,
        &[
            ("grant_type", "authorization_code"),
            ("code", &code),
            ("redirect_uri", POOL_REDIRECT),
        ],
        Some(("pool", "not-the-secret")),
    )
    .await;
    assert_eq!(status, 401);
    assert!(headers.contains_key(header::WWW_AUTHENTICATE));
    let grant = [
        ("grant_type", "authorization_code"),
        ("code", code.as_str()),
    ];
    let with = |extra: &[(&'static str, &'static str)]| {
        let mut form = grant.to_vec();
        form.extend_from_slice(extra);
        form
    };
    type Form<'a> = Vec<(&'a str, &'a str)>;
    type Refusal<'a> = (Form<'a>, Option<(&'a str, &'a str)>, (u16, &'a str));
    let refusals: Vec<Refusal> = vec![
        (
            with(&[("redirect_uri", POOL_REDIRECT), ("client_id", "pool")]),
            None,
            (401, "invalid_client"),
        ),
        // Both methods at once.
        (
            with(&[
                ("redirect_uri", POOL_REDIRECT),
                ("client_secret", POOL_SECRET),
            ]),
            Some(("pool", POOL_SECRET)),
            (400, "invalid_request"),
        ),
        // A public client presenting a secret.
        (
            with(&[("client_id", "spa"), ("client_secret", "x")]),
            None,
            (401, "invalid_client"),
        ),
        (
            vec![("grant_type", "refresh_token")],
            Some(("pool", POOL_SECRET)),
            (400, "unsupported_grant_type"),
        ),
        (
            with(&[("redirect_uri", POOL_REDIRECT)]),
            Some(("nobody", "x")),
            (401, "invalid_client"),
        ),
    ];
    for (form, basic, want) in refusals {
        let (status, body, _) = token(&app, &form, basic).await;
        assert_eq!(
            (status, body["error"].as_str().unwrap_or_default()),
            want,
            "{form:?}"
        );
    }
    // client_secret_post works like Basic.
    let (status, body, _) = token(
        &app,
        &[
            ("grant_type", "authorization_code"),
            ("code", &code),
            ("redirect_uri", POOL_REDIRECT),
            ("client_id", "pool"),
            ("client_secret", POOL_SECRET),
        ],
        None,
    )
    .await;
    assert_eq!(status, 200, "{body}");

    // Another redirect URI than the code's; another client's code; an expired code.
    let code = code_for(&app, &mut authn, &pool_query("")).await;
    let (status, body, _) = token(
        &app,
        &[
            ("grant_type", "authorization_code"),
            ("code", &code),
            ("redirect_uri", "https://auth.example.test/other"),
        ],
        Some(("pool", POOL_SECRET)),
    )
    .await;
    assert_eq!(
        (status, body["error"].as_str()),
        (400, Some("invalid_grant"))
    );
    let code = code_for(&app, &mut authn, &pool_query("")).await;
    let (status, body, _) = token(
        &app,
        &[
            ("grant_type", "authorization_code"),
            ("code", &code),
            ("client_id", "spa"),
            ("redirect_uri", POOL_REDIRECT),
            ("code_verifier", VERIFIER),
        ],
        None,
    )
    .await;
    assert_eq!(
        (status, body["error"].as_str()),
        (400, Some("invalid_grant"))
    );
    let code = code_for(&app, &mut authn, &pool_query("")).await;
    app.clock
        .advance(rp_server::oidc::CODE_TTL + Duration::from_secs(1));
    assert_eq!(pool_token(&app, &code).await.1["error"], "invalid_grant");
    assert_eq!(
        pool_token(&app, "rpc_made-up").await.1["error"],
        "invalid_grant"
    );
}

/// `acr_values` naming only the passkey level refuses a code's sign-in; without it, a
/// recovery code's sign-in is described as one.
#[tokio::test]
async fn a_passkey_level_request_refuses_a_code_sign_in() {
    let app = spawn().await;
    let (user, _authn) = registered(&app, "ed").await;
    let made = app
        .post("/v1/recovery-codes", Some(&app.token(&user)), &json!({}))
        .await
        .expect(201);
    let codes: Vec<String> = made["codes"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c.as_str().unwrap().to_owned())
        .collect();
    let recover = |code: String| {
        let app = &app;
        let username = user.username.clone();
        async move {
            app.post(
                "/v1/recovery/verify",
                None,
                &json!({ "username": username, "code": code }),
            )
            .await
            .expect(200)["nonce"]
                .as_str()
                .unwrap()
                .to_owned()
        }
    };
    let page = open_page(
        &app,
        &pool_query("&acr_values=urn%3Arp-server%3Aacr%3Apasskey"),
    )
    .await;
    assert!(
        !page.html.contains("id=\"email-start\""),
        "the email code is not offered"
    );
    let nonce = recover(codes[0].clone()).await;
    finish(&app, &page, &nonce)
        .await
        .expect_error(422, "PASSKEY_REQUIRED");

    let page = open_page(&app, &pool_query("")).await;
    let nonce = recover(codes[1].clone()).await;
    let to = finish(&app, &page, &nonce).await.expect(200);
    let code = params(to["redirectTo"].as_str().unwrap())["code"].clone();
    let tokens = pool_token(&app, &code).await.1;
    let claims = claims_of(&app, tokens["id_token"].as_str().unwrap(), "pool").await;
    assert_eq!(claims["acr"], rp_server::oidc::ACR_RECOVERY_CODE);
    assert_eq!(claims["amr"], json!(["otp"]));
}

/// Two keys: the first signs, both are published (a rotation publishes the new key
/// before it signs, and keeps the old one while its tokens live).
#[tokio::test]
async fn key_rotation_publishes_both_keys_and_signs_with_the_first() {
    let new = generate_p256_pem().unwrap();
    let old = generate_p256_pem().unwrap();
    let app = spawn_with_keys(format!("{new}{old}")).await;
    let jwks = app.get("/oidc/jwks", None).await.expect(200);
    assert_eq!(jwks["keys"].as_array().unwrap().len(), 2);
    let (_user, mut authn) = registered(&app, "fay").await;
    let code = code_for(&app, &mut authn, &pool_query("")).await;
    let tokens = pool_token(&app, &code).await.1;
    let kid = jsonwebtoken::decode_header(tokens["id_token"].as_str().unwrap())
        .unwrap()
        .kid;
    assert_eq!(kid.as_deref(), jwks["keys"][0]["kid"].as_str());
    claims_of(&app, tokens["id_token"].as_str().unwrap(), "pool").await;
}

/// An account reset voids the provider's unspent codes and live access tokens.
#[tokio::test]
async fn an_account_reset_voids_codes_and_access_tokens() {
    let app = spawn().await;
    let (user, mut authn) = registered(&app, "gus").await;
    let code = code_for(&app, &mut authn, &pool_query("")).await;
    let tokens = pool_token(&app, &code).await.1;
    let access = tokens["access_token"].as_str().unwrap().to_owned();
    let unspent = code_for(&app, &mut authn, &pool_query("")).await;
    app.post(
        &format!("/admin/v1/users/{}/reset", user.sub),
        Some(ADMIN_TOKEN),
        &json!({ "reason": "lost laptop" }),
    )
    .await
    .expect(200);
    assert_eq!(pool_token(&app, &unspent).await.1["error"], "invalid_grant");
    assert_eq!(app.get("/oidc/userinfo", Some(&access)).await.status, 401);
}

/// Username-first on the page: options restricted to the named user's passkeys (fake
/// ones for an unknown name, alike in shape); the challenge is sealed into the request's
/// cookie, so only its nonce — not a trigger's, and not with the cookie from before —
/// finishes this request.
#[tokio::test]
async fn username_first_on_the_page_is_bound_to_its_request() {
    let app = spawn().await;
    let (user, mut authn) = registered(&app, "hal").await;
    let page = open_page(&app, &pool_query(&format!("&login_hint={}", user.username))).await;
    let app = &app;
    let options = |p: &Page, username: &str| {
        let req = app
            .http
            .post(app.url("/oidc/authorize/options"))
            .header(header::COOKIE, &p.cookie)
            .json(&json!({ "requestId": p.request_id, "username": username }));
        async move { app.send(req).await }
    };
    let unknown = options(&page, "nobody-here").await;
    let fake = unknown.body["publicKey"]["allowCredentials"]
        .as_array()
        .unwrap()
        .len();
    assert!(fake >= 1, "{}", unknown.body);

    let started = options(&page, &user.username).await;
    assert_eq!(started.status, 200, "{}", started.body);
    let resealed = Page {
        request_id: page.request_id.clone(),
        cookie: started.headers[header::SET_COOKIE]
            .to_str()
            .unwrap()
            .split(';')
            .next()
            .unwrap()
            .to_owned(),
        html: String::new(),
    };
    let allowed = started.body["publicKey"]["allowCredentials"]
        .as_array()
        .unwrap();
    assert_eq!(allowed.len(), 1);
    let assertion = authn.get(&started.body["publicKey"], ISSUER).unwrap();
    let nonce = app
        .post(
            "/v1/authentication/verify",
            None,
            &json!({ "ceremonyId": started.body["ceremonyId"], "credential": assertion }),
        )
        .await
        .expect(200)["nonce"]
        .as_str()
        .unwrap()
        .to_owned();
    // The cookie from before the challenge does not name it: the bound nonce is refused.
    finish(app, &page, &nonce)
        .await
        .expect_error(410, "SIGN_IN_NOT_VALID");
    let to = finish(app, &resealed, &nonce).await.expect(200);
    assert!(params(to["redirectTo"].as_str().unwrap()).contains_key("code"));

    // A nonce bound to a Cognito trigger's challenge never finishes a provider request.
    let page = open_page(app, &pool_query("")).await;
    let challenge = app.challenge(&user).await;
    let assertion = authn.get(&challenge["publicKey"], ISSUER).unwrap();
    let bound = app
        .post(
            "/v1/authentication/verify",
            None,
            &json!({ "ceremonyId": challenge["ceremonyId"], "credential": assertion }),
        )
        .await
        .expect(200)["nonce"]
        .as_str()
        .unwrap()
        .to_owned();
    finish(app, &page, &bound)
        .await
        .expect_error(410, "SIGN_IN_NOT_VALID");
    // No cookie, no challenge.
    app.post(
        "/oidc/authorize/options",
        None,
        &json!({ "requestId": page.request_id, "username": "hal" }),
    )
    .await
    .expect_error(410, "SIGN_IN_REQUEST_EXPIRED");
}

/// What browsers call on the provider is rate-limited per client; what relying parties
/// call server to server (Cognito and load balancers, from a few shared addresses for all
/// their users) is not.
#[tokio::test]
async fn the_page_is_rate_limited_per_client_and_the_token_endpoint_is_not() {
    let key = generate_p256_pem().unwrap();
    let app = TestApp::spawn_with(move |c| {
        c.oidc = Some(provider(&key));
        c.origins
            .push(Origin::Web(url::Url::parse(ISSUER).unwrap()));
        c.rate_limit_per_min = 3;
    })
    .await;
    for _ in 0..3 {
        open_page(&app, &pool_query("")).await;
    }
    let r = http()
        .get(app.url(&format!("/oidc/authorize?{}", pool_query(""))))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 429);
    for _ in 0..10 {
        let (status, body) = pool_token(&app, "rpc_made-up").await;
        assert_eq!(
            (status, body["error"].as_str()),
            (400, Some("invalid_grant"))
        );
        app.get("/oidc/jwks", None).await.expect(200);
    }
}
