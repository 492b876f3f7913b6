//! The pool's hosted endpoints, as Cognito documents them for a pool with a domain:
//! `/oauth2/authorize` (to an OIDC identity provider, `identity_provider=`), the
//! provider's return to `/oauth2/idpresponse` (its code exchanged, its ID token checked:
//! signature through its JWKS, `iss`, `aud`, `exp`, `nonce`), `/oauth2/token`
//! (authorization code with PKCE, refresh), `/oauth2/userInfo` and `/logout`; with the
//! API operations `CreateIdentityProvider` and `AdminLinkProviderForUser`. The endpoints
//! answer at `<public_url>/<pool id>/…`. What this relies on is in docs/cognito-standin.md.

use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;

use axum::Router;
use axum::body::Bytes;
use axum::extract::{Path, RawQuery, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{Html, IntoResponse, Response};
use axum::routing::get;
use base64::Engine as _;
use chrono::{DateTime, Utc};
use serde_json::{Value, json};
use sha2::Digest as _;

use crate::auth::{OAuthClaims, issue_tokens};
use crate::config::{ClientConfig, IdentityProviderConfig, PoolConfig};
use crate::error::CognitoError;
use crate::pool::{Pool, User, UserStatus, opaque_token};
use crate::{Standin, required};

/// Cognito's authorization codes live five minutes.
const CODE_TTL_SECS: i64 = 300;
/// How long a sign-in may stay at the identity provider.
const FEDERATION_TTL_SECS: i64 = 900;
/// At most this many federated identities link to one user (`LimitExceededException`).
const MAX_LINKS: usize = 5;

/// A pool's hosted-endpoint state.
#[derive(Default)]
pub struct PoolOAuth {
    pub providers: Vec<IdentityProviderConfig>,
    /// (provider, the provider's `sub`) → the pool user it signs in as.
    links: Vec<(String, String, String)>,
    federations: HashMap<String, Federation>,
    codes: HashMap<String, Code>,
}

impl PoolOAuth {
    pub fn new(config: &PoolConfig) -> Self {
        Self {
            providers: config.identity_providers.clone(),
            ..Default::default()
        }
    }
}

/// A sign-in sent to an identity provider, waiting for its return.
struct Federation {
    client_id: String,
    redirect_uri: String,
    state: Option<String>,
    nonce: Option<String>,
    code_challenge: Option<String>,
    scopes: Vec<String>,
    provider: String,
    provider_nonce: String,
    expires_at: DateTime<Utc>,
}

/// An authorization code of the pool.
struct Code {
    client_id: String,
    redirect_uri: String,
    code_challenge: Option<String>,
    username: String,
    scopes: Vec<String>,
    nonce: Option<String>,
    auth_time: i64,
    expires_at: DateTime<Utc>,
}

pub fn routes() -> Router<Arc<Standin>> {
    Router::new()
        .route("/{pool}/oauth2/authorize", get(authorize))
        .route("/{pool}/oauth2/idpresponse", get(idp_response))
        .route("/{pool}/oauth2/token", axum::routing::post(token))
        .route("/{pool}/oauth2/userInfo", get(user_info).post(user_info))
        .route("/{pool}/logout", get(logout))
}

/// The hosted endpoints' base URL of `pool` (its "domain").
pub fn domain_url(s: &Standin, pool: &str) -> String {
    format!("{}/{pool}", s.public_url)
}

fn query(raw: Option<&str>) -> BTreeMap<String, String> {
    let mut out = BTreeMap::new();
    for (k, v) in url::form_urlencoded::parse(raw.unwrap_or_default().as_bytes()) {
        out.entry(k.into_owned()).or_insert_with(|| v.into_owned());
    }
    out
}

/// Cognito's error page (it answers an unusable request with `/error?error=…`).
fn error_page(error: &str) -> Response {
    let body = format!(
        "<!doctype html><title>Error</title><h1>An error was encountered with the requested page.</h1><p id=\"error\">{error}</p>"
    );
    (StatusCode::BAD_REQUEST, Html(body)).into_response()
}

fn redirect(to: &str) -> Response {
    let mut r = StatusCode::FOUND.into_response();
    if let Ok(v) = HeaderValue::from_str(to) {
        r.headers_mut().insert(header::LOCATION, v);
    }
    r
}

fn with_params(base: &str, params: &[(&str, Option<&str>)]) -> String {
    let Ok(mut url) = url::Url::parse(base) else {
        return base.to_owned();
    };
    {
        let mut q = url.query_pairs_mut();
        for (k, v) in params {
            if let Some(v) = v {
                q.append_pair(k, v);
            }
        }
    }
    url.into()
}

/// The pool's config and client, if the pool has a domain and the client is one of its.
fn hosted(
    s: &Standin,
    pool: &str,
    client_id: &str,
) -> Result<(PoolConfig, ClientConfig), &'static str> {
    let config = s.pool_config(pool).map_err(|_| "invalid_request")?;
    if config.domain.is_none() {
        return Err("invalid_request");
    }
    let client = config
        .clients
        .iter()
        .find(|c| c.id == client_id)
        .cloned()
        .ok_or("invalid_request")?;
    Ok((config, client))
}

/// `GET /oauth2/authorize`.
async fn authorize(
    State(s): State<Arc<Standin>>,
    Path(pool): Path<String>,
    RawQuery(raw): RawQuery,
) -> Response {
    let q = query(raw.as_deref());
    let get = |k: &str| q.get(k).map(String::as_str).filter(|v| !v.is_empty());
    let Ok((_, client)) = hosted(&s, &pool, get("client_id").unwrap_or_default()) else {
        return error_page("invalid_request");
    };
    let Some(redirect_uri) =
        get("redirect_uri").filter(|r| client.callback_urls.iter().any(|c| c == r))
    else {
        return error_page("redirect_mismatch");
    };
    let state = get("state");
    let back = |error: &str| {
        redirect(&with_params(
            redirect_uri,
            &[("error", Some(error)), ("state", state)],
        ))
    };
    if !client.allowed_oauth_flows_user_pool_client {
        return back("unauthorized_client");
    }
    match get("response_type") {
        Some("code") if client.allowed_oauth_flows.iter().any(|f| f == "code") => {}
        Some("code") | Some("token") => return back("unauthorized_client"),
        Some(_) => return back("unsupported_response_type"),
        None => return back("invalid_request"),
    }
    let scopes: Vec<String> = match get("scope") {
        Some(scope) => scope
            .split(' ')
            .filter(|x| !x.is_empty())
            .map(str::to_owned)
            .collect(),
        None => client.allowed_oauth_scopes.clone(),
    };
    if scopes
        .iter()
        .any(|x| !client.allowed_oauth_scopes.contains(x))
    {
        return back("invalid_scope");
    }
    let code_challenge = match (get("code_challenge"), get("code_challenge_method")) {
        (None, None) => None,
        (Some(c), Some("S256")) => Some(c.to_owned()),
        _ => return back("invalid_request"),
    };
    let Some(provider_name) = get("identity_provider").or(get("idp_identifier")) else {
        // Managed login: the stand-in has no password page, only its providers' buttons.
        return managed_login(&s, &pool, &client, raw.as_deref().unwrap_or_default());
    };
    if !client
        .supported_identity_providers
        .iter()
        .any(|p| p == provider_name)
    {
        return back("invalid_request");
    }
    let provider = s.with_pool(&pool, |p| {
        Ok(p.oauth
            .providers
            .iter()
            .find(|i| i.name == provider_name)
            .cloned())
    });
    let Ok(Some(provider)) = provider else {
        return back("invalid_request");
    };
    let discovery = match discover(&provider.issuer).await {
        Ok(d) => d,
        Err(e) => {
            tracing::info!(error = %e, "the identity provider's discovery failed");
            return back("server_error");
        }
    };
    let Some(endpoint) = discovery["authorization_endpoint"].as_str() else {
        return back("server_error");
    };
    let our_state = opaque_token(64);
    let provider_nonce = opaque_token(32);
    let federation = Federation {
        client_id: client.id.clone(),
        redirect_uri: redirect_uri.to_owned(),
        state: state.map(str::to_owned),
        nonce: get("nonce").map(str::to_owned),
        code_challenge,
        scopes,
        provider: provider.name.clone(),
        provider_nonce: provider_nonce.clone(),
        expires_at: Utc::now() + chrono::Duration::seconds(FEDERATION_TTL_SECS),
    };
    let _ = s.with_pool(&pool, |p| {
        p.oauth.federations.insert(our_state.clone(), federation);
        Ok(())
    });
    let idp_response = format!("{}/oauth2/idpresponse", domain_url(&s, &pool));
    redirect(&with_params(
        endpoint,
        &[
            ("client_id", Some(&provider.client_id)),
            ("redirect_uri", Some(&idp_response)),
            ("response_type", Some("code")),
            ("scope", Some(&provider.authorize_scopes)),
            ("state", Some(&our_state)),
            ("nonce", Some(&provider_nonce)),
        ],
    ))
}

fn managed_login(s: &Standin, pool: &str, client: &ClientConfig, raw: &str) -> Response {
    let links: String = client
        .supported_identity_providers
        .iter()
        .filter(|p| *p != "COGNITO")
        .map(|p| {
            let href = format!(
                "{}/oauth2/authorize?{raw}&identity_provider={}",
                domain_url(s, pool),
                url::form_urlencoded::byte_serialize(p.as_bytes()).collect::<String>()
            );
            format!(
                "<p><a class=\"idp\" href=\"{}\">Sign in with {}</a></p>",
                escape(&href),
                escape(p)
            )
        })
        .collect();
    Html(format!(
        "<!doctype html><title>Sign in</title><h1>Sign in</h1>{links}"
    ))
    .into_response()
}

fn escape(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

async fn discover(issuer: &str) -> anyhow::Result<Value> {
    let url = format!(
        "{}/.well-known/openid-configuration",
        issuer.trim_end_matches('/')
    );
    let doc: Value = reqwest::get(&url).await?.error_for_status()?.json().await?;
    if doc["issuer"].as_str() != Some(issuer) {
        anyhow::bail!("the discovery document names another issuer");
    }
    Ok(doc)
}

/// `GET /oauth2/idpresponse`: the provider sends the browser back with a code.
async fn idp_response(
    State(s): State<Arc<Standin>>,
    Path(pool): Path<String>,
    RawQuery(raw): RawQuery,
) -> Response {
    let q = query(raw.as_deref());
    let federation = q.get("state").and_then(|state| {
        s.with_pool(&pool, |p| Ok(p.oauth.federations.remove(state)))
            .ok()
            .flatten()
    });
    let Some(f) = federation.filter(|f| f.expires_at > Utc::now()) else {
        return error_page("invalid_request");
    };
    let back = |params: &[(&str, Option<&str>)]| {
        let mut all = params.to_vec();
        all.push(("state", f.state.as_deref()));
        redirect(&with_params(&f.redirect_uri, &all))
    };
    if let Some(error) = q.get("error") {
        return back(&[
            ("error_description", Some(error)),
            ("error", Some("invalid_request")),
        ]);
    }
    let Some(code) = q.get("code") else {
        return back(&[("error", Some("invalid_request"))]);
    };
    let claims = match federated_claims(&s, &pool, &f, code).await {
        Ok(c) => c,
        Err(e) => {
            tracing::info!(error = %e, "the federated sign-in failed");
            return back(&[
                ("error_description", Some("Error in SAML/OIDC response")),
                ("error", Some("invalid_request")),
            ]);
        }
    };
    let issued = s.with_pool(&pool, |p| {
        let username = federated_user(p, &f.provider, &claims)?;
        let code = opaque_token(64);
        p.oauth.codes.insert(
            code.clone(),
            Code {
                client_id: f.client_id.clone(),
                redirect_uri: f.redirect_uri.clone(),
                code_challenge: f.code_challenge.clone(),
                username,
                scopes: f.scopes.clone(),
                nonce: f.nonce.clone(),
                auth_time: Utc::now().timestamp(),
                expires_at: Utc::now() + chrono::Duration::seconds(CODE_TTL_SECS),
            },
        );
        Ok(code)
    });
    match issued {
        Ok(code) => back(&[("code", Some(&code))]),
        Err(e) => back(&[
            ("error_description", Some(&e.message)),
            ("error", Some("invalid_request")),
        ]),
    }
}

/// Trades the provider's code for its tokens and returns the ID token's claims (checked:
/// signature, `iss`, `aud`, `exp`, `nonce`) with what userinfo adds.
async fn federated_claims(
    s: &Standin,
    pool: &str,
    f: &Federation,
    code: &str,
) -> anyhow::Result<serde_json::Map<String, Value>> {
    let provider = s
        .with_pool(pool, |p| {
            Ok(p.oauth
                .providers
                .iter()
                .find(|i| i.name == f.provider)
                .cloned())
        })
        .map_err(|e| anyhow::anyhow!(e.message))?
        .ok_or_else(|| anyhow::anyhow!("the provider is gone"))?;
    let discovery = discover(&provider.issuer).await?;
    let endpoint = |name: &str| {
        discovery[name]
            .as_str()
            .map(str::to_owned)
            .ok_or_else(|| anyhow::anyhow!("the discovery document has no {name}"))
    };
    let http = reqwest::Client::new();
    let mut form = vec![
        ("grant_type", "authorization_code".to_owned()),
        ("code", code.to_owned()),
        (
            "redirect_uri",
            format!("{}/oauth2/idpresponse", domain_url(s, pool)),
        ),
        ("client_id", provider.client_id.clone()),
    ];
    if let Some(secret) = &provider.client_secret {
        form.push(("client_secret", secret.clone()));
    }
    let body = url::form_urlencoded::Serializer::new(String::new())
        .extend_pairs(form.iter().map(|(k, v)| (*k, v.as_str())))
        .finish();
    let tokens: Value = http
        .post(endpoint("token_endpoint")?)
        .header(header::CONTENT_TYPE, "application/x-www-form-urlencoded")
        .body(body)
        .send()
        .await?
        .error_for_status()?
        .json()
        .await?;
    let id_token = tokens["id_token"]
        .as_str()
        .ok_or_else(|| anyhow::anyhow!("the provider answered no id_token"))?;
    let jwks: jsonwebtoken::jwk::JwkSet = http
        .get(endpoint("jwks_uri")?)
        .send()
        .await?
        .error_for_status()?
        .json()
        .await?;
    let header = jsonwebtoken::decode_header(id_token)?;
    let jwk = header
        .kid
        .as_deref()
        .and_then(|k| jwks.find(k))
        .ok_or_else(|| anyhow::anyhow!("the ID token's key is not in the provider's JWKS"))?;
    let mut validation = jsonwebtoken::Validation::new(header.alg);
    validation.set_issuer(&[&provider.issuer]);
    validation.set_audience(&[&provider.client_id]);
    validation.leeway = 0;
    let mut claims = jsonwebtoken::decode::<serde_json::Map<String, Value>>(
        id_token,
        &jsonwebtoken::DecodingKey::from_jwk(jwk)?,
        &validation,
    )?
    .claims;
    if claims.get("nonce").and_then(Value::as_str) != Some(f.provider_nonce.as_str()) {
        anyhow::bail!("the ID token's nonce is not the one sent");
    }
    if let (Some(access), Ok(userinfo)) = (
        tokens["access_token"].as_str(),
        endpoint("userinfo_endpoint"),
    ) {
        let info: Value = http
            .get(userinfo)
            .bearer_auth(access)
            .send()
            .await?
            .error_for_status()?
            .json()
            .await?;
        if info["sub"] != claims["sub"] {
            anyhow::bail!("userinfo names another sub");
        }
        if let Value::Object(extra) = info {
            for (k, v) in extra {
                claims.entry(k).or_insert(v);
            }
        }
    }
    Ok(claims)
}

/// The pool user a federated sign-in is: the user its identity is linked to, else the
/// federated user `<provider>_<sub>` (made at the first sign-in); mapped attributes
/// updated either way.
fn federated_user(
    p: &mut Pool,
    provider: &str,
    claims: &serde_json::Map<String, Value>,
) -> Result<String, CognitoError> {
    let sub = claims
        .get("sub")
        .and_then(Value::as_str)
        .ok_or_else(|| CognitoError::invalid_parameter("The ID token has no sub."))?
        .to_owned();
    let mapping = p
        .oauth
        .providers
        .iter()
        .find(|i| i.name == provider)
        .map(|i| i.attribute_mapping.clone())
        .unwrap_or_default();
    let mapped: BTreeMap<String, String> = mapping
        .iter()
        .filter_map(|(attribute, claim)| {
            let value = match claims.get(claim)? {
                Value::String(v) => v.clone(),
                Value::Bool(b) => b.to_string(),
                Value::Number(n) => n.to_string(),
                _ => return None,
            };
            Some((attribute.clone(), value))
        })
        .filter(|(attribute, _)| attribute != "sub" && attribute != "identities")
        .collect();
    let linked = p
        .oauth
        .links
        .iter()
        .find(|(name, value, _)| name == provider && *value == sub)
        .map(|(_, _, username)| username.clone());
    let username = linked.unwrap_or_else(|| format!("{provider}_{sub}"));
    let now = Utc::now();
    match p.find(&username) {
        Some(i) => {
            let user = &mut p.users[i];
            if !user.enabled {
                return Err(CognitoError::not_authorized("User is disabled."));
            }
            user.attributes.extend(mapped);
            user.modified = now;
        }
        None => {
            let mut attributes = mapped;
            attributes.insert(
                "identities".to_owned(),
                identities(&[(provider, &sub, now)]),
            );
            let mut user = User::new(username.clone(), attributes, now);
            user.status = UserStatus::ExternalProvider;
            p.users.push(user);
        }
    }
    Ok(username)
}

/// The `identities` attribute: the user's federated identities, as a JSON string.
fn identities(links: &[(&str, &str, DateTime<Utc>)]) -> String {
    let list: Vec<Value> = links
        .iter()
        .map(|(provider, user_id, at)| {
            json!({
                "userId": user_id,
                "providerName": provider,
                "providerType": "OIDC",
                "issuer": null,
                "primary": "false",
                "dateCreated": at.timestamp_millis().to_string(),
            })
        })
        .collect();
    Value::Array(list).to_string()
}

fn oauth_error(status: StatusCode, error: &str) -> Response {
    (status, axum::Json(json!({ "error": error }))).into_response()
}

/// `POST /oauth2/token`.
async fn token(
    State(s): State<Arc<Standin>>,
    Path(pool): Path<String>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let form = query(std::str::from_utf8(&body).ok());
    let get = |k: &str| form.get(k).map(String::as_str).filter(|v| !v.is_empty());
    let basic = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Basic "))
        .and_then(|b| {
            base64::engine::general_purpose::STANDARD
                .decode(b.trim())
                .ok()
        })
        .and_then(|b| String::from_utf8(b).ok())
        .and_then(|b| b.split_once(':').map(|(i, s)| (i.to_owned(), s.to_owned())));
    let (client_id, secret) = match &basic {
        Some((id, secret)) => (Some(id.as_str()), Some(secret.as_str())),
        None => (get("client_id"), get("client_secret")),
    };
    let Ok((_, client)) = hosted(&s, &pool, client_id.unwrap_or_default()) else {
        return oauth_error(StatusCode::BAD_REQUEST, "invalid_client");
    };
    if client.secret.as_deref() != secret {
        return oauth_error(StatusCode::BAD_REQUEST, "invalid_client");
    }
    if !client.allowed_oauth_flows_user_pool_client {
        return oauth_error(StatusCode::BAD_REQUEST, "unauthorized_client");
    }
    let issuer = s.issuer(&pool);
    let answer = match get("grant_type") {
        Some("authorization_code") => s.with_pool(&pool, |p| {
            let code = get("code").and_then(|c| p.oauth.codes.remove(c));
            let Some(code) = code.filter(|c| c.expires_at > Utc::now()) else {
                return Err(CognitoError::new("invalid_grant", ""));
            };
            if code.client_id != client.id
                || get("redirect_uri") != Some(code.redirect_uri.as_str())
            {
                return Err(CognitoError::new("invalid_grant", ""));
            }
            if let Some(challenge) = &code.code_challenge {
                let answered = get("code_verifier").is_some_and(|v| {
                    base64::engine::general_purpose::URL_SAFE_NO_PAD
                        .encode(sha2::Sha256::digest(v.as_bytes()))
                        == *challenge
                });
                if !answered {
                    return Err(CognitoError::new("invalid_grant", ""));
                }
            }
            let scope = code.scopes.join(" ");
            let tokens = issue_tokens(
                &s,
                p,
                &issuer,
                &code.username,
                &client.id,
                None,
                Some(OAuthClaims {
                    scope: &scope,
                    nonce: code.nonce.as_deref(),
                    auth_time: code.auth_time,
                }),
            )?;
            Ok(tokens)
        }),
        Some("refresh_token") => s.with_pool(&pool, |p| {
            let grant = get("refresh_token")
                .and_then(|t| p.refresh_tokens.get(t).cloned())
                .filter(|g| g.client_id == client.id)
                .ok_or_else(|| CognitoError::new("invalid_grant", ""))?;
            issue_tokens(
                &s,
                p,
                &issuer,
                &grant.username,
                &client.id,
                Some(&grant),
                None,
            )
        }),
        Some(_) => Err(CognitoError::new("unsupported_grant_type", "")),
        None => Err(CognitoError::new("invalid_request", "")),
    };
    match answer {
        Ok(r) => {
            let mut out = json!({
                "id_token": r["IdToken"],
                "access_token": r["AccessToken"],
                "expires_in": r["ExpiresIn"],
                "token_type": "Bearer",
            });
            if let Some(refresh) = r.get("RefreshToken") {
                out["refresh_token"] = refresh.clone();
            }
            axum::Json(out).into_response()
        }
        Err(e) if e.name.starts_with(|c: char| c.is_ascii_lowercase()) => {
            oauth_error(StatusCode::BAD_REQUEST, e.name)
        }
        Err(_) => oauth_error(StatusCode::BAD_REQUEST, "invalid_grant"),
    }
}

/// `GET|POST /oauth2/userInfo` with an access token of the hosted endpoints.
async fn user_info(
    State(s): State<Arc<Standin>>,
    Path(pool): Path<String>,
    headers: HeaderMap,
) -> Response {
    let token = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "))
        .unwrap_or_default();
    let claims = s
        .signer
        .verify(crate::tokens::Key::Access, token, &s.issuer(&pool));
    let Some(claims) = claims.filter(|c| c["token_use"] == "access") else {
        return oauth_error(StatusCode::UNAUTHORIZED, "invalid_token");
    };
    let username = claims["username"].as_str().unwrap_or_default().to_owned();
    let found = s.with_pool(&pool, |p| {
        let user = p.user(&username)?;
        let mut out = serde_json::Map::new();
        for (k, v) in &user.attributes {
            out.insert(k.clone(), json!(v));
        }
        out.insert("username".to_owned(), json!(user.username));
        Ok(Value::Object(out))
    });
    match found {
        Ok(v) => axum::Json(v).into_response(),
        Err(_) => oauth_error(StatusCode::UNAUTHORIZED, "invalid_token"),
    }
}

/// `GET /logout`: only to a registered sign-out URL.
async fn logout(
    State(s): State<Arc<Standin>>,
    Path(pool): Path<String>,
    RawQuery(raw): RawQuery,
) -> Response {
    let q = query(raw.as_deref());
    let Ok((_, client)) = hosted(
        &s,
        &pool,
        q.get("client_id").map(String::as_str).unwrap_or_default(),
    ) else {
        return error_page("invalid_request");
    };
    match q
        .get("logout_uri")
        .filter(|u| client.logout_urls.contains(u))
    {
        Some(to) => redirect(to),
        None => error_page("invalid_request"),
    }
}

/// `CreateIdentityProvider` (OIDC).
pub fn create_identity_provider(s: &Standin, input: &Value) -> Result<Value, CognitoError> {
    let pool_id = required(input, "UserPoolId")?.to_owned();
    let name = required(input, "ProviderName")?.to_owned();
    if required(input, "ProviderType")? != "OIDC" {
        return Err(CognitoError::invalid_parameter(
            "The stand-in supports only OIDC identity providers.",
        ));
    }
    let details = input.get("ProviderDetails").cloned().unwrap_or_default();
    let detail = |k: &str| details.get(k).and_then(Value::as_str).map(str::to_owned);
    let (Some(client_id), Some(issuer)) = (detail("client_id"), detail("oidc_issuer")) else {
        return Err(CognitoError::invalid_parameter(
            "ProviderDetails needs client_id and oidc_issuer.",
        ));
    };
    let issuer_url = url::Url::parse(&issuer)
        .map_err(|_| CognitoError::invalid_parameter("oidc_issuer is not a URL."))?;
    let loopback = matches!(
        issuer_url.host_str(),
        Some("localhost" | "127.0.0.1" | "[::1]")
    );
    if issuer_url.scheme() != "https" && !loopback {
        return Err(CognitoError::invalid_parameter(
            "oidc_issuer must be https.",
        ));
    }
    let attribute_mapping: BTreeMap<String, String> = input
        .get("AttributeMapping")
        .and_then(Value::as_object)
        .map(|m| {
            m.iter()
                .filter_map(|(k, v)| Some((k.clone(), v.as_str()?.to_owned())))
                .collect()
        })
        .unwrap_or_default();
    let provider = IdentityProviderConfig {
        name: name.clone(),
        client_id,
        client_secret: detail("client_secret"),
        issuer,
        authorize_scopes: detail("authorize_scopes").unwrap_or_else(|| "openid".to_owned()),
        attribute_mapping,
    };
    s.with_pool(&pool_id, |p| {
        if p.oauth.providers.iter().any(|i| i.name == name) {
            return Err(CognitoError::new(
                "DuplicateProviderException",
                format!("A provider with the name {name} already exists in this user pool."),
            ));
        }
        p.oauth.providers.push(provider.clone());
        Ok(json!({ "IdentityProvider": {
            "UserPoolId": pool_id,
            "ProviderName": provider.name,
            "ProviderType": "OIDC",
            "AttributeMapping": provider.attribute_mapping,
        }}))
    })
}

/// `AdminLinkProviderForUser`: an identity of one of the pool's providers, not yet used
/// to sign in, signs in as an existing user from now on.
pub fn admin_link_provider_for_user(s: &Standin, input: &Value) -> Result<Value, CognitoError> {
    let pool_id = required(input, "UserPoolId")?.to_owned();
    let destination = input.get("DestinationUser").cloned().unwrap_or_default();
    let source = input.get("SourceUser").cloned().unwrap_or_default();
    let field = |v: &Value, k: &str| {
        v.get(k)
            .and_then(Value::as_str)
            .unwrap_or_default()
            .to_owned()
    };
    if field(&destination, "ProviderName") != "Cognito" {
        return Err(CognitoError::invalid_parameter(
            "DestinationUser's ProviderName must be Cognito.",
        ));
    }
    let destination_name = field(&destination, "ProviderAttributeValue");
    let provider = field(&source, "ProviderName");
    let value = field(&source, "ProviderAttributeValue");
    if field(&source, "ProviderAttributeName") != "Cognito_Subject" {
        return Err(CognitoError::invalid_parameter(
            "The stand-in links by Cognito_Subject only.",
        ));
    }
    if value.is_empty() {
        return Err(CognitoError::invalid_parameter(
            "SourceUser needs a ProviderAttributeValue.",
        ));
    }
    s.with_pool(&pool_id, |p| {
        if !p.oauth.providers.iter().any(|i| i.name == provider) {
            return Err(CognitoError::invalid_parameter(format!(
                "The provider {provider} does not exist for User Pool {pool_id}"
            )));
        }
        let index = p.find(&destination_name).ok_or_else(CognitoError::user_not_found)?;
        if p.find(&format!("{provider}_{value}")).is_some() {
            return Err(CognitoError::invalid_parameter(
                "Merging is not currently supported, provide a SourceUser that has not been used to sign into the user pool.",
            ));
        }
        if p.oauth.links.iter().any(|(n, v, _)| *n == provider && *v == value) {
            return Err(CognitoError::new(
                "AliasExistsException",
                "The source user is already linked to a user.",
            ));
        }
        let username = p.users[index].username.clone();
        let mine: Vec<(String, String)> = p
            .oauth
            .links
            .iter()
            .filter(|(_, _, u)| *u == username)
            .map(|(n, v, _)| (n.clone(), v.clone()))
            .collect();
        if mine.len() >= MAX_LINKS {
            return Err(CognitoError::new(
                "LimitExceededException",
                "A user may have at most five linked identities.",
            ));
        }
        p.oauth.links.push((provider.clone(), value.clone(), username));
        let now = Utc::now();
        let mut all: Vec<(&str, &str, DateTime<Utc>)> =
            mine.iter().map(|(n, v)| (n.as_str(), v.as_str(), now)).collect();
        all.push((&provider, &value, now));
        let user = &mut p.users[index];
        user.attributes.insert("identities".to_owned(), identities(&all));
        Ok(json!({}))
    })
}
