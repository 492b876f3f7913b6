//! The pool's hosted endpoints against a small OpenID provider written here: the way to
//! the provider and back, the checks of its ID token (signature, `iss`, `aud`, `exp`,
//! `nonce`), federated users and linking, the token endpoint's rules, and each refusal
//! where Cognito refuses.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use aws_sdk_cognitoidentityprovider::types::ProviderUserIdentifierType as Id;
use axum::extract::{Form, State};
use axum::routing::{get, post};
use base64::Engine as _;
use jsonwebtoken::{Algorithm, EncodingKey, Header};
use serde_json::{Value, json};
use sha2::Digest as _;

use crate::{POOL, Running, code, config_with, start};

const APP: &str = "https://app.example.test/callback";
const IDP_CLIENT: &str = "pool-at-idp";
const IDP_SECRET: &str = "idp-secret";

/// How the provider misbehaves in its ID token.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum Tamper {
    None,
    Audience,
    Issuer,
    Nonce,
    Expired,
    Signature,
}

struct Idp {
    issuer: String,
    key: EncodingKey,
    other_key: EncodingKey,
    jwk: Value,
    /// code → (sub, nonce)
    codes: Mutex<HashMap<String, (String, String)>>,
    tamper: Mutex<Tamper>,
}

fn rsa() -> (EncodingKey, Value) {
    use aws_lc_rs::encoding::AsDer as _;
    use aws_lc_rs::signature::KeyPair as _;
    let pair = aws_lc_rs::rsa::KeyPair::generate(aws_lc_rs::rsa::KeySize::Rsa2048).unwrap();
    let der: aws_lc_rs::encoding::Pkcs8V1Der = pair.as_der().unwrap();
    let b64 = base64::engine::general_purpose::STANDARD.encode(der.as_ref());
    let pem = format!("-----BEGIN PRIVATE KEY-----\n{b64}\n-----END PRIVATE KEY-----\n");
    let public = pair.public_key();
    let enc = |b: &[u8]| base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(b);
    let jwk = json!({
        "kty": "RSA", "kid": "k1", "alg": "RS256", "use": "sig",
        "n": enc(public.modulus().big_endian_without_leading_zero()),
        "e": enc(public.exponent().big_endian_without_leading_zero()),
    });
    (EncodingKey::from_rsa_pem(pem.as_bytes()).unwrap(), jwk)
}

async fn start_idp() -> Arc<Idp> {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let issuer = format!("http://127.0.0.1:{}", listener.local_addr().unwrap().port());
    let (key, jwk) = rsa();
    let (other_key, _) = rsa();
    let idp = Arc::new(Idp {
        issuer,
        key,
        other_key,
        jwk,
        codes: Mutex::new(HashMap::new()),
        tamper: Mutex::new(Tamper::None),
    });
    let app = axum::Router::new()
        .route("/.well-known/openid-configuration", get(discovery))
        .route(
            "/jwks",
            get(|State(i): State<Arc<Idp>>| async move { axum::Json(json!({ "keys": [i.jwk] })) }),
        )
        .route("/token", post(idp_token))
        // The access token is `at:<sub>`: userinfo answers for that user.
        .route(
            "/userinfo",
            get(|headers: axum::http::HeaderMap| async move {
                let sub = headers["authorization"]
                    .to_str()
                    .unwrap()
                    .trim_start_matches("Bearer at:")
                    .to_owned();
                axum::Json(
                    json!({ "sub": sub, "email": "fed@example.test", "email_verified": true }),
                )
            }),
        )
        .with_state(idp.clone());
    tokio::spawn(async move { axum::serve(listener, app).await });
    idp
}

async fn discovery(State(i): State<Arc<Idp>>) -> axum::Json<Value> {
    axum::Json(json!({
        "issuer": i.issuer,
        "authorization_endpoint": format!("{}/authorize", i.issuer),
        "token_endpoint": format!("{}/token", i.issuer),
        "userinfo_endpoint": format!("{}/userinfo", i.issuer),
        "jwks_uri": format!("{}/jwks", i.issuer),
    }))
}

async fn idp_token(
    State(i): State<Arc<Idp>>,
    Form(form): Form<HashMap<String, String>>,
) -> axum::response::Response {
    use axum::response::IntoResponse as _;
    if form.get("client_id").map(String::as_str) != Some(IDP_CLIENT)
        || form.get("client_secret").map(String::as_str) != Some(IDP_SECRET)
    {
        return (
            axum::http::StatusCode::UNAUTHORIZED,
            axum::Json(json!({ "error": "invalid_client" })),
        )
            .into_response();
    }
    let Some((sub, nonce)) = form
        .get("code")
        .and_then(|c| i.codes.lock().unwrap().remove(c))
    else {
        return (
            axum::http::StatusCode::BAD_REQUEST,
            axum::Json(json!({ "error": "invalid_grant" })),
        )
            .into_response();
    };
    let tamper = *i.tamper.lock().unwrap();
    let now = chrono::Utc::now().timestamp();
    let claims = json!({
        "iss": if tamper == Tamper::Issuer { "https://elsewhere.test" } else { i.issuer.as_str() },
        "aud": if tamper == Tamper::Audience { "someone-else" } else { IDP_CLIENT },
        "sub": sub,
        "nonce": if tamper == Tamper::Nonce { "another-nonce" } else { nonce.as_str() },
        "exp": if tamper == Tamper::Expired { now - 10 } else { now + 300 },
        "iat": now,
    });
    let mut header = Header::new(Algorithm::RS256);
    header.kid = Some("k1".into());
    let key = if tamper == Tamper::Signature {
        &i.other_key
    } else {
        &i.key
    };
    let id_token = jsonwebtoken::encode(&header, &claims, key).unwrap();
    axum::Json(json!({ "id_token": id_token, "access_token": format!("at:{sub}"), "token_type": "Bearer" }))
        .into_response()
}

fn pool_toml(idp: &Idp) -> String {
    format!(
        r#"username_attributes = ["email"]
domain = "hosted-test"
[[pools.identity_providers]]
name = "Passkeys"
client_id = "{IDP_CLIENT}"
client_secret = "{IDP_SECRET}"
issuer = "{}"
authorize_scopes = "openid email"
attribute_mapping = {{ email = "email", email_verified = "email_verified" }}
"#,
        idp.issuer
    )
}

const CLIENT_TOML: &str = r#"callback_urls = ["https://app.example.test/callback"]
logout_urls = ["https://app.example.test/"]
allowed_oauth_flows = ["code"]
allowed_oauth_scopes = ["openid", "email"]
allowed_oauth_flows_user_pool_client = true
supported_identity_providers = ["COGNITO", "Passkeys"]"#;

fn http() -> reqwest::Client {
    reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap()
}

async fn fetch(url: String) -> reqwest::Response {
    http().get(url).send().await.unwrap()
}

async fn post_form(url: String, body: impl Into<reqwest::Body>) -> reqwest::Response {
    http()
        .post(url)
        .header("content-type", "application/x-www-form-urlencoded")
        .body(body)
        .send()
        .await
        .unwrap()
}

fn params(location: &str) -> HashMap<String, String> {
    url::Url::parse(location)
        .unwrap()
        .query_pairs()
        .map(|(k, v)| (k.into_owned(), v.into_owned()))
        .collect()
}

const VERIFIER: &str = "dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk";

/// `/oauth2/authorize` → the provider (the test plays its sign-in) → `/oauth2/idpresponse`:
/// where the browser is sent back to.
async fn federate(s: &Running, idp: &Idp, sub: &str, extra: &str) -> reqwest::Response {
    let challenge =
        base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(sha2::Sha256::digest(VERIFIER));
    let r = http()
        .get(format!(
            "{}/{POOL}/oauth2/authorize?client_id={}&redirect_uri={}&response_type=code&scope=openid%20email&state=app-state&nonce=app-nonce&identity_provider=Passkeys&code_challenge={challenge}&code_challenge_method=S256{extra}",
            s.url,
            crate::CLIENT,
            url::form_urlencoded::byte_serialize(APP.as_bytes()).collect::<String>()
        ))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 302);
    let to = r.headers()["location"].to_str().unwrap().to_owned();
    assert!(to.starts_with(&format!("{}/authorize", idp.issuer)), "{to}");
    let p = params(&to);
    assert_eq!(p["client_id"], IDP_CLIENT);
    assert_eq!(
        p["redirect_uri"],
        format!("{}/{POOL}/oauth2/idpresponse", s.url)
    );
    let code = uuid::Uuid::new_v4().to_string();
    idp.codes
        .lock()
        .unwrap()
        .insert(code.clone(), (sub.to_owned(), p["nonce"].clone()));
    fetch(format!(
        "{}/{POOL}/oauth2/idpresponse?code={code}&state={}",
        s.url, p["state"]
    ))
    .await
}

async fn exchange(s: &Running, code: &str, verifier: Option<&str>) -> (u16, Value) {
    let mut form = vec![
        ("grant_type", "authorization_code"),
        ("client_id", crate::CLIENT),
        ("code", code),
        ("redirect_uri", APP),
    ];
    if let Some(v) = verifier {
        form.push(("code_verifier", v));
    }
    let body = url::form_urlencoded::Serializer::new(String::new())
        .extend_pairs(form)
        .finish();
    let r = post_form(format!("{}/{POOL}/oauth2/token", s.url), body).await;
    (r.status().as_u16(), r.json().await.unwrap())
}

fn claims(jwt: &str) -> Value {
    let part = jwt.split('.').nth(1).unwrap();
    serde_json::from_slice(
        &base64::engine::general_purpose::URL_SAFE_NO_PAD
            .decode(part)
            .unwrap(),
    )
    .unwrap()
}

fn back_code(r: &reqwest::Response) -> String {
    let p = params(r.headers()["location"].to_str().unwrap());
    assert_eq!(
        p.get("state").map(String::as_str),
        Some("app-state"),
        "{p:?}"
    );
    p.get("code")
        .cloned()
        .unwrap_or_else(|| panic!("no code: {p:?}"))
}

#[tokio::test]
async fn a_federated_sign_in_makes_a_user_and_a_linked_identity_signs_in_as_its_user() {
    let idp = start_idp().await;
    let s = start(config_with(&pool_toml(&idp), CLIENT_TOML), None).await;

    // Unlinked: a federated user `<provider>_<sub>` with the mapped attributes.
    let r = federate(&s, &idp, "idp-user-1", "").await;
    let first = back_code(&r);
    let (status, tokens) = exchange(&s, &first, Some(VERIFIER)).await;
    assert_eq!(status, 200, "{tokens}");
    let id = claims(tokens["id_token"].as_str().unwrap());
    assert_eq!(id["cognito:username"], "Passkeys_idp-user-1");
    assert_eq!(id["email"], "fed@example.test");
    assert_eq!(id["nonce"], "app-nonce");
    assert_eq!(id["identities"][0]["providerName"], "Passkeys");
    assert_eq!(
        claims(tokens["access_token"].as_str().unwrap())["scope"],
        "openid email"
    );
    // The code redeems once.
    assert_eq!(
        exchange(&s, &first, Some(VERIFIER)).await.1["error"],
        "invalid_grant"
    );
    // The refresh token keeps the grant's user and scopes.
    let body = format!(
        "grant_type=refresh_token&client_id={}&refresh_token={}",
        crate::CLIENT,
        tokens["refresh_token"].as_str().unwrap()
    );
    let refreshed: Value = post_form(format!("{}/{POOL}/oauth2/token", s.url), body)
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(
        claims(refreshed["id_token"].as_str().unwrap())["cognito:username"],
        "Passkeys_idp-user-1"
    );
    assert_eq!(
        claims(refreshed["access_token"].as_str().unwrap())["scope"],
        "openid email"
    );
    assert!(refreshed.get("refresh_token").is_none());
    // That identity was used: it cannot be linked any more.
    let link = |sub: &'static str| {
        s.client
            .admin_link_provider_for_user()
            .user_pool_id(POOL)
            .destination_user(
                Id::builder()
                    .provider_name("Cognito")
                    .provider_attribute_value("seed@example.test")
                    .build(),
            )
            .source_user(
                Id::builder()
                    .provider_name("Passkeys")
                    .provider_attribute_name("Cognito_Subject")
                    .provider_attribute_value(sub)
                    .build(),
            )
            .send()
    };
    let e = link("idp-user-1").await.unwrap_err();
    assert_eq!(code(&e), "InvalidParameterException");

    // Linked before its first use: the sign-in is the existing user's, every time.
    link("idp-user-2").await.unwrap();
    assert_eq!(
        code(&link("idp-user-2").await.unwrap_err()),
        "AliasExistsException"
    );
    let seed = s
        .client
        .admin_get_user()
        .user_pool_id(POOL)
        .username("seed@example.test")
        .send()
        .await
        .unwrap();
    for _ in 0..2 {
        let r = federate(&s, &idp, "idp-user-2", "").await;
        let (_, tokens) = exchange(&s, &back_code(&r), Some(VERIFIER)).await;
        let id = claims(tokens["id_token"].as_str().unwrap());
        assert_eq!(id["cognito:username"], seed.username());
        assert_eq!(id["identities"][0]["userId"], "idp-user-2");
    }
    // No federated user was made for the linked identity.
    let e = s
        .client
        .admin_get_user()
        .user_pool_id(POOL)
        .username("Passkeys_idp-user-2")
        .send()
        .await
        .unwrap_err();
    assert_eq!(code(&e), "UserNotFoundException");
}

#[tokio::test]
async fn the_providers_id_token_is_checked() {
    let idp = start_idp().await;
    let s = start(config_with(&pool_toml(&idp), CLIENT_TOML), None).await;
    for tamper in [
        Tamper::Audience,
        Tamper::Issuer,
        Tamper::Nonce,
        Tamper::Expired,
        Tamper::Signature,
    ] {
        *idp.tamper.lock().unwrap() = tamper;
        let r = federate(&s, &idp, "idp-user-1", "").await;
        let p = params(r.headers()["location"].to_str().unwrap());
        assert_eq!(
            p.get("error").map(String::as_str),
            Some("invalid_request"),
            "{tamper:?}: {p:?}"
        );
        assert!(!p.contains_key("code"), "{tamper:?}");
    }
    // A state the stand-in did not issue (or one already used) is an error page.
    let r = fetch(format!(
        "{}/{POOL}/oauth2/idpresponse?code=x&state=made-up",
        s.url
    ))
    .await;
    assert_eq!(r.status(), 400);
}

#[tokio::test]
async fn the_hosted_endpoints_refuse_what_cognito_refuses() {
    let idp = start_idp().await;
    let s = start(config_with(&pool_toml(&idp), CLIENT_TOML), None).await;
    let authorize = |q: String| {
        let url = format!("{}/{POOL}/oauth2/authorize?{q}", s.url);
        async move { fetch(url).await }
    };
    let app = url::form_urlencoded::byte_serialize(APP.as_bytes()).collect::<String>();
    let base = format!("client_id={}&redirect_uri={app}&state=st", crate::CLIENT);
    // Not a registered callback URL (exact match), or an unknown client: an error page.
    for q in [
        format!(
            "client_id={}&redirect_uri={app}%2F&response_type=code",
            crate::CLIENT
        ),
        format!("client_id=nobody&redirect_uri={app}&response_type=code"),
    ] {
        let r = authorize(q.clone()).await;
        assert_eq!(r.status(), 400, "{q}");
        assert!(r.headers().get("location").is_none());
    }
    // Anything else: back to the app with Cognito's error and the state.
    for (q, error) in [
        (
            format!("{base}&response_type=code&scope=openid%20phone"),
            "invalid_scope",
        ),
        (format!("{base}&response_type=token"), "unauthorized_client"),
        (
            format!("{base}&response_type=id_token"),
            "unsupported_response_type",
        ),
        (
            format!("{base}&response_type=code&identity_provider=Google"),
            "invalid_request",
        ),
        (
            format!("{base}&response_type=code&code_challenge=abc&code_challenge_method=plain"),
            "invalid_request",
        ),
    ] {
        let r = authorize(q.clone()).await;
        assert_eq!(r.status(), 302, "{q}");
        let p = params(r.headers()["location"].to_str().unwrap());
        assert_eq!(
            (p["error"].as_str(), p["state"].as_str()),
            (error, "st"),
            "{q}"
        );
    }
    // PKCE: a code bound to a challenge needs its verifier.
    let code = back_code(&federate(&s, &idp, "idp-user-1", "").await);
    assert_eq!(exchange(&s, &code, None).await.1["error"], "invalid_grant");
    let code = back_code(&federate(&s, &idp, "idp-user-1", "").await);
    assert_eq!(
        exchange(&s, &code, Some("x".repeat(43).as_str())).await.1["error"],
        "invalid_grant"
    );
    // Other grant types; a made-up code; a client with a secret that is not given.
    let form = |body: &'static str| {
        let url = format!("{}/{POOL}/oauth2/token", s.url);
        async move {
            let r = post_form(url, body).await;
            r.json::<Value>().await.unwrap()["error"]
                .as_str()
                .unwrap_or_default()
                .to_owned()
        }
    };
    assert_eq!(
        form("grant_type=client_credentials&client_id=standinclient").await,
        "unsupported_grant_type"
    );
    assert_eq!(
        form("grant_type=authorization_code&client_id=standinclient&code=made-up").await,
        "invalid_grant"
    );
    assert_eq!(
        form("grant_type=authorization_code&client_id=nobody&code=x").await,
        "invalid_client"
    );
    // Sign-out only to a registered URL.
    let out = fetch(format!(
        "{}/{POOL}/logout?client_id={}&logout_uri=https%3A%2F%2Fevil.test%2F",
        s.url,
        crate::CLIENT
    ))
    .await;
    assert_eq!(out.status(), 400);
    let out = fetch(format!(
        "{}/{POOL}/logout?client_id={}&logout_uri=https%3A%2F%2Fapp.example.test%2F",
        s.url,
        crate::CLIENT
    ))
    .await;
    assert_eq!(out.status(), 302);
}

#[tokio::test]
async fn identity_providers_are_created_once_and_a_pool_without_a_domain_has_no_hosted_endpoints() {
    let idp = start_idp().await;
    let s = start(config_with(r#"username_attributes = ["email"]"#, ""), None).await;
    let create = |name: &'static str| {
        s.client
            .create_identity_provider()
            .user_pool_id(POOL)
            .provider_name(name)
            .provider_type(aws_sdk_cognitoidentityprovider::types::IdentityProviderTypeType::Oidc)
            .provider_details("client_id", IDP_CLIENT)
            .provider_details("client_secret", IDP_SECRET)
            .provider_details("oidc_issuer", idp.issuer.as_str())
            .provider_details("authorize_scopes", "openid email")
            .attribute_mapping("email", "email")
            .send()
    };
    create("Passkeys").await.unwrap();
    assert_eq!(
        code(&create("Passkeys").await.unwrap_err()),
        "DuplicateProviderException"
    );
    let r = fetch(format!(
        "{}/{POOL}/oauth2/authorize?client_id={}&response_type=code",
        s.url,
        crate::CLIENT
    ))
    .await;
    assert_eq!(r.status(), 400);
    let doc: Value = fetch(format!("{}/{POOL}/.well-known/openid-configuration", s.url))
        .await
        .json()
        .await
        .unwrap();
    assert!(doc.get("authorization_endpoint").is_none(), "{doc}");
}
