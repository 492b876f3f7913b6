//! The OpenID provider's endpoints ([`crate::flows::oidc`]): discovery, JWKS, the
//! sign-in page (`/oidc/authorize`) and its finish, the token endpoint and userinfo.
//! All answer 404 `PROVIDER_OFF` when `RP_OIDC_ISSUER` is not set. The page and its
//! errors are HTML; the token endpoint speaks RFC 6749 §5.2; the page's finish speaks
//! the API's JSON.

use std::sync::Arc;

use askama::Template as _;
use axum::body::Bytes;
use axum::extract::RawQuery;
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use base64::Engine as _;
use rp_shared::error::ErrorCode;
use serde::Deserialize;
use uuid::Uuid;

use super::error::ApiError;
use super::extract::{ClientContext, Json};
use crate::flows::Context;
use crate::flows::oidc::{
    self, ClientCredentials, FinishError, Provider, TokenError, TokenRequest,
};
use crate::oidc::request::{Refusal, error_redirect};

fn provider(cx: &Context) -> Result<Arc<Provider>, ApiError> {
    oidc::provider(cx).cloned().ok_or_else(|| {
        ApiError::not_found(
            ErrorCode::ProviderOff,
            "The OpenID provider is off (no RP_OIDC_ISSUER).",
        )
    })
}

/// `GET /.well-known/openid-configuration`.
pub async fn discovery(cx: Context) -> Result<Response, ApiError> {
    let p = provider(&cx)?;
    let doc = crate::oidc::discovery(p.issuer(), &p.config.keys.algorithms());
    Ok(cacheable(axum::Json(doc).into_response()))
}

/// `GET /oidc/jwks`: every configured key, the signing one first.
pub async fn jwks(cx: Context) -> Result<Response, ApiError> {
    let p = provider(&cx)?;
    Ok(cacheable(axum::Json(p.config.keys.jwks()).into_response()))
}

/// Public documents: cached for five minutes (a rotated key is published before it signs).
fn cacheable(mut response: Response) -> Response {
    response.headers_mut().insert(
        header::CACHE_CONTROL,
        HeaderValue::from_static("public, max-age=300"),
    );
    response
}

#[derive(askama::Template)]
#[template(path = "oidc/signin.html")]
struct SignInPage<'a> {
    rp_name: &'a str,
    client_id: &'a str,
    request_id: Uuid,
    login_hint: &'a str,
    email_offered: bool,
    csp_nonce: &'a str,
    script: &'a str,
}

#[derive(askama::Template)]
#[template(path = "oidc/error.html")]
struct ErrorPage<'a> {
    message: &'a str,
}

const SCRIPT: &str = include_str!("../../templates/oidc/signin.js");

/// `GET /oidc/authorize`: the sign-in page, with a cookie that binds the request to this
/// browser; or an error page (unknown client or redirect URI), or the error sent back
/// to the client's redirect URI.
pub async fn authorize(cx: Context, RawQuery(query): RawQuery) -> Result<Response, ApiError> {
    let p = provider(&cx)?;
    let authorization = match oidc::authorize(&cx, &p, query.as_deref().unwrap_or_default()) {
        Ok(a) => a,
        Err(Refusal::Page(message)) => return Ok(error_page(StatusCode::BAD_REQUEST, message)),
        Err(Refusal::Redirect {
            redirect_uri,
            state,
            error,
            description,
        }) => {
            let to = error_redirect(
                &redirect_uri,
                p.issuer(),
                state.as_deref(),
                error,
                description,
            );
            return Ok(redirect(&to));
        }
    };
    let csp_nonce =
        base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(rand::random::<[u8; 16]>());
    let page = SignInPage {
        rp_name: &cx.site.settings.rp_name,
        client_id: &authorization.request.client_id,
        request_id: authorization.request_id,
        login_hint: authorization
            .request
            .login_hint
            .as_deref()
            .unwrap_or_default(),
        email_offered: authorization.email_offered,
        csp_nonce: &csp_nonce,
        script: SCRIPT,
    };
    let html = page.render().map_err(|e| ApiError::Internal(e.into()))?;
    let cookie = request_cookie(&p, &authorization.sealed);
    let mut response = html_response(StatusCode::OK, html, &csp_nonce);
    if let Ok(v) = HeaderValue::from_str(&cookie) {
        response.headers_mut().insert(header::SET_COOKIE, v);
    }
    Ok(response)
}

fn error_page(status: StatusCode, message: &str) -> Response {
    let html = ErrorPage { message }
        .render()
        .unwrap_or_else(|_| "Cannot sign in.".to_owned());
    html_response(status, html, "")
}

/// HTML under a strict policy: scripts and styles only with this response's nonce, no
/// other origin, no framing, nothing cached.
fn html_response(status: StatusCode, html: String, csp_nonce: &str) -> Response {
    let csp = if csp_nonce.is_empty() {
        "default-src 'none'; frame-ancestors 'none'; base-uri 'none'; form-action 'none'".to_owned()
    } else {
        format!(
            "default-src 'none'; script-src 'nonce-{csp_nonce}'; style-src 'nonce-{csp_nonce}'; connect-src 'self'; img-src 'self'; frame-ancestors 'none'; base-uri 'none'; form-action 'none'"
        )
    };
    let mut response = (status, axum::response::Html(html)).into_response();
    super::protect_page(response.headers_mut(), Some(&csp));
    response
}

fn redirect(to: &str) -> Response {
    let mut response = StatusCode::FOUND.into_response();
    if let Ok(v) = HeaderValue::from_str(to) {
        response.headers_mut().insert(header::LOCATION, v);
    }
    response
        .headers_mut()
        .insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    response
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct FinishRequest {
    pub request_id: Uuid,
    pub nonce: String,
}

/// `POST /oidc/authorize/finish`: the page trades a sign-in's nonce for where to send
/// the browser (the client's redirect URI with the code).
pub async fn finish(
    cx: Context,
    client: ClientContext,
    headers: HeaderMap,
    Json(body): Json<FinishRequest>,
) -> Result<Response, ApiError> {
    let p = provider(&cx)?;
    let sealed = cookie(&headers, p.cookie_name());
    let to = oidc::finish(
        &cx,
        &p,
        sealed.as_deref(),
        body.request_id,
        &body.nonce,
        &client,
    )
    .await
    .map_err(finish_error)?;
    let mut response = axum::Json(serde_json::json!({ "redirectTo": to })).into_response();
    // The request is finished: its cookie goes.
    if let Ok(v) = HeaderValue::from_str(&p.cookie("", 0)) {
        response.headers_mut().insert(header::SET_COOKIE, v);
    }
    Ok(response)
}

impl From<FinishError> for ApiError {
    fn from(e: FinishError) -> Self {
        finish_error(e)
    }
}

fn finish_error(e: FinishError) -> ApiError {
    let message = e.to_string();
    match e {
        FinishError::RequestExpired => ApiError::gone(ErrorCode::SignInRequestExpired, message),
        FinishError::SignInNotValid => ApiError::gone(ErrorCode::SignInNotValid, message),
        FinishError::PasskeyRequired => ApiError::verification(ErrorCode::PasskeyRequired, message),
        FinishError::InvalidUsername => ApiError::bad_request(ErrorCode::InvalidRequest, message),
        FinishError::LinkFailed => ApiError::Unavailable(anyhow::anyhow!(message)),
        FinishError::Unavailable(e) => ApiError::Unavailable(e),
        FinishError::Db(e) => e.into(),
        FinishError::Internal(e) => ApiError::Internal(e),
    }
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct UsernameFirstRequest {
    pub request_id: Uuid,
    pub username: String,
}

/// `POST /oidc/authorize/options`: username-first on the page. Options restricted to the
/// named user's passkeys (fake ones for a name without any: the answer never tells),
/// and the request's cookie sealed again with the challenge.
pub async fn username_first(
    cx: Context,
    headers: HeaderMap,
    Json(body): Json<UsernameFirstRequest>,
) -> Result<Response, ApiError> {
    let p = provider(&cx)?;
    let sealed = cookie(&headers, p.cookie_name());
    let (challenge, resealed) =
        oidc::username_first(&cx, &p, sealed.as_deref(), body.request_id, &body.username).await?;
    let mut response = axum::Json(serde_json::json!({
        "ceremonyId": challenge.ceremony_id,
        "publicKey": challenge.public_key,
    }))
    .into_response();
    if let Ok(v) = HeaderValue::from_str(&request_cookie(&p, &resealed)) {
        response.headers_mut().insert(header::SET_COOKIE, v);
    }
    Ok(response)
}

/// The cookie that binds a request to the browser, for as long as the request lives.
fn request_cookie(p: &Provider, sealed: &str) -> String {
    p.cookie(sealed, crate::oidc::REQUEST_TTL.as_secs())
}

/// The value of cookie `name`.
fn cookie(headers: &HeaderMap, name: &str) -> Option<String> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|pair| pair.trim().split_once('='))
        .find(|(k, _)| *k == name)
        .map(|(_, v)| v.to_owned())
}

/// `POST /oidc/token` (form-encoded): the authorization code grant.
pub async fn token(
    cx: Context,
    client: ClientContext,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Response, ApiError> {
    let p = provider(&cx)?;
    let basic = headers.contains_key(header::AUTHORIZATION);
    let result = match token_request(&headers, &body) {
        Ok((credentials, req)) => oidc::token(&cx, &p, &credentials, &req, &client).await,
        Err(e) => Err(e),
    };
    Ok(match result {
        Ok(tokens) => no_store(axum::Json(tokens).into_response()),
        Err(TokenError::Db(e)) => return Err(e.into()),
        Err(e) => {
            let status = match &e {
                TokenError::InvalidClient(_) => StatusCode::UNAUTHORIZED,
                TokenError::Internal(_) => StatusCode::INTERNAL_SERVER_ERROR,
                _ => StatusCode::BAD_REQUEST,
            };
            if let TokenError::Internal(err) = &e {
                tracing::error!(error = %err, "token endpoint failed");
            }
            let description = match &e {
                TokenError::Internal(_) => "The server failed; details are in its log.".to_owned(),
                other => other.to_string(),
            };
            let mut response = no_store(
                (
                    status,
                    axum::Json(serde_json::json!({ "error": e.oauth_code(), "error_description": description })),
                )
                    .into_response(),
            );
            if status == StatusCode::UNAUTHORIZED && basic {
                response.headers_mut().insert(
                    header::WWW_AUTHENTICATE,
                    HeaderValue::from_static("Basic realm=\"oidc\""),
                );
            }
            response
        }
    })
}

fn no_store(mut response: Response) -> Response {
    let h = response.headers_mut();
    h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    h.insert(header::PRAGMA, HeaderValue::from_static("no-cache"));
    response
}

/// The client's credentials (HTTP Basic, or `client_id`/`client_secret` in the body) and
/// the grant's parameters; a repeated parameter or a body that is not a form is refused.
fn token_request(
    headers: &HeaderMap,
    body: &[u8],
) -> Result<(ClientCredentials, TokenRequest), TokenError> {
    let form = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| {
            v.split(';')
                .next()
                .unwrap_or_default()
                .trim()
                .eq_ignore_ascii_case("application/x-www-form-urlencoded")
        });
    if !form {
        return Err(TokenError::InvalidRequest(
            "The body must be application/x-www-form-urlencoded.",
        ));
    }
    let params = crate::oidc::Params::parse(body);
    if params.repeated {
        return Err(TokenError::InvalidRequest("A parameter is repeated."));
    }
    let take = |name: &str| params.get(name).map(str::to_owned);
    let body_id = take("client_id");
    let body_secret = take("client_secret");
    let mut credentials = match basic_credentials(headers)? {
        Some((id, secret)) => ClientCredentials {
            both_ways: body_secret.is_some() || body_id.as_ref().is_some_and(|b| *b != id),
            client_id: Some(id),
            secret: Some(secret),
        },
        None => ClientCredentials {
            client_id: body_id,
            secret: body_secret,
            both_ways: false,
        },
    };
    if credentials.secret.as_deref() == Some("") {
        credentials.secret = None;
    }
    Ok((
        credentials,
        TokenRequest {
            grant_type: take("grant_type"),
            code: take("code"),
            redirect_uri: take("redirect_uri"),
            code_verifier: take("code_verifier"),
        },
    ))
}

/// HTTP Basic client credentials: both parts form-urlencoded (RFC 6749 §2.3.1).
fn basic_credentials(headers: &HeaderMap) -> Result<Option<(String, String)>, TokenError> {
    let Some(value) = headers.get(header::AUTHORIZATION) else {
        return Ok(None);
    };
    let refused = TokenError::InvalidClient("Client authentication failed.");
    let encoded = value
        .to_str()
        .ok()
        .and_then(|v| {
            v.strip_prefix("Basic ")
                .or_else(|| v.strip_prefix("basic "))
        })
        .ok_or(TokenError::InvalidClient("Client authentication failed."))?;
    let decoded = base64::engine::general_purpose::STANDARD
        .decode(encoded.trim())
        .ok()
        .and_then(|b| String::from_utf8(b).ok())
        .ok_or(TokenError::InvalidClient("Client authentication failed."))?;
    let (id, secret) = decoded.split_once(':').ok_or(refused)?;
    let unescape = |s: &str| {
        url::form_urlencoded::parse(format!("x={s}").as_bytes())
            .next()
            .map(|(_, v)| v.into_owned())
            .unwrap_or_default()
    };
    Ok(Some((unescape(id), unescape(secret))))
}

/// `GET` or `POST /oidc/userinfo` with the access token as a bearer token.
pub async fn userinfo(cx: Context, headers: HeaderMap) -> Result<Response, ApiError> {
    provider(&cx)?;
    let claims = match crate::auth::bearer(&headers) {
        Some(token) => oidc::userinfo(&cx, token).await?,
        None => None,
    };
    Ok(match claims {
        Some(claims) => no_store(axum::Json(claims).into_response()),
        None => {
            let mut response = StatusCode::UNAUTHORIZED.into_response();
            response.headers_mut().insert(
                header::WWW_AUTHENTICATE,
                HeaderValue::from_static("Bearer error=\"invalid_token\""),
            );
            response
        }
    })
}
