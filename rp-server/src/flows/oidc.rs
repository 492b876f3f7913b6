//! The OpenID provider's flows (decision 0014). The sign-in page is one more redeemer of
//! the nonces every sign-in already earns (a passkey, an email code): where the Verify
//! trigger redeems a nonce for a Cognito challenge, [`finish`] redeems it for an
//! authorization code. Then [`token`] trades the code for tokens once, and [`userinfo`]
//! answers for the access token.

use std::sync::Arc;

use chrono::{DateTime, Utc};
use rp_shared::nonce::Nonce;
use rp_shared::token::{AuthorizationCode, ProviderAccessToken};
use uuid::Uuid;

use super::Context;
use super::sealed::Sealer;
use crate::audit::{self, Action, Actor, ClientContext, Event};
use crate::config::{OidcClient, OidcConfig};
use crate::model::Factor;
use crate::oidc::request::{self, AuthorizationRequest, Refusal};
use crate::oidc::{Authentication, CODE_TTL, IdTokenClaims, REQUEST_TTL, TOKEN_TTL};
use crate::store::nonces;
use crate::store::oidc::{self as rows, CodeRedemption};

/// A site's provider: its settings and the key its authorization requests are sealed with.
pub struct Provider {
    pub config: OidcConfig,
    requests: Sealer,
}

impl Provider {
    pub fn new(config: OidcConfig, seal_key: Vec<u8>) -> Self {
        Self {
            config,
            requests: Sealer::with_prefix(seal_key, "o1."),
        }
    }

    pub fn issuer(&self) -> &str {
        &self.config.issuer
    }

    fn client(&self, id: &str) -> Option<&OidcClient> {
        self.config.clients.iter().find(|c| c.client_id == id)
    }

    /// The page's request from its cookie (`sealed`), if it is the one the page names
    /// (`request_id`), unaltered and unexpired.
    fn open(
        &self,
        sealed: Option<&str>,
        request_id: Uuid,
        now: DateTime<Utc>,
    ) -> Result<super::sealed::Unsealed<AuthorizationRequest>, FinishError> {
        sealed
            .and_then(|s| self.requests.unseal::<AuthorizationRequest>(s))
            .filter(|o| o.id == request_id && o.expires_at > now)
            .ok_or(FinishError::RequestExpired)
    }

    /// The cookie that carries a sealed request (`Max-Age` 0 with an empty value clears
    /// it): `__Host-` (Secure, path /, no domain) on https, `HttpOnly`, `SameSite=Lax`.
    pub fn cookie(&self, sealed: &str, max_age_secs: u64) -> String {
        let secure = if self.config.issuer.starts_with("https://") {
            "; Secure"
        } else {
            ""
        };
        format!(
            "{}={sealed}; Path=/; HttpOnly; SameSite=Lax; Max-Age={max_age_secs}{secure}",
            self.cookie_name()
        )
    }

    /// The sign-in page's cookie: `__Host-` (Secure, path /, no domain) on https.
    pub fn cookie_name(&self) -> &'static str {
        if self.config.issuer.starts_with("https://") {
            "__Host-rp-oidc"
        } else {
            "rp-oidc"
        }
    }
}

/// The provider of `cx`'s site, when it has one.
pub fn provider(cx: &Context) -> Option<&Arc<Provider>> {
    cx.site.oidc.as_ref()
}

/// A request the sign-in page may go on with.
#[derive(Debug)]
pub struct Authorization {
    pub request: AuthorizationRequest,
    /// Names the request on the page; the cookie holds it sealed under the same id.
    pub request_id: Uuid,
    pub sealed: String,
    /// Whether the page offers the email code.
    pub email_offered: bool,
}

/// Checks an authorization request (`query` is the raw query string) and seals it for
/// the page's cookie.
pub fn authorize(cx: &Context, provider: &Provider, query: &str) -> Result<Authorization, Refusal> {
    let result = request::check(query, &provider.config.clients);
    let client_label = |id: &str| metric_client(provider, id);
    let request = match result {
        Ok(r) => r,
        Err(refusal) => {
            let client = url::form_urlencoded::parse(query.as_bytes())
                .find(|(k, _)| k == "client_id")
                .map(|(_, v)| client_label(&v))
                .unwrap_or("unknown");
            crate::metrics::oidc(&cx.site.id, client, "authorize_refused");
            return Err(refusal);
        }
    };
    let request_id = Uuid::new_v4();
    let expires_at = cx.clock.now() + chrono::Duration::from_std(REQUEST_TTL).unwrap_or_default();
    let sealed = provider
        .requests
        .seal(request_id, expires_at, &request)
        .map_err(|_| Refusal::Page("The sign-in request could not be prepared."))?;
    crate::metrics::oidc(&cx.site.id, client_label(&request.client_id), "authorize");
    let email_offered = !request.passkey_required
        && cx.site.email.is_some()
        && cx.site.settings.email_signin != crate::config::EmailSignIn::Off;
    Ok(Authorization {
        request,
        request_id,
        sealed,
        email_offered,
    })
}

/// The client's id as a metric label: configured clients only, so labels stay bounded.
fn metric_client<'a>(provider: &'a Provider, id: &str) -> &'a str {
    provider
        .client(id)
        .map(|c| c.client_id.as_str())
        .unwrap_or("unknown")
}

#[derive(Debug, thiserror::Error)]
pub enum FinishError {
    #[error(
        "The sign-in request expired or was replaced by another; go back to the application and start again."
    )]
    RequestExpired,
    #[error(
        "This sign-in cannot be used here (spent, expired, or earned before the request); sign in again."
    )]
    SignInNotValid,
    #[error("The application asked for a passkey; an email code does not do.")]
    PasskeyRequired,
    #[error("Your account could not be connected to the application's user pool; try again later.")]
    LinkFailed,
    #[error("Enter your email or username (at most 256 characters).")]
    InvalidUsername,
    /// Cognito did not answer a lookup the page needed.
    #[error("The user pool is unavailable; try again shortly.")]
    Unavailable(#[source] anyhow::Error),
    #[error(transparent)]
    Db(#[from] sqlx::Error),
    #[error(transparent)]
    Internal(#[from] anyhow::Error),
}

/// Finishes the page's request (its `sealed` cookie, named by `request_id`) with the
/// nonce a sign-in on the page earned: issues an authorization code and answers where
/// to send the browser.
#[tracing::instrument(skip_all)]
pub async fn finish(
    cx: &Context,
    provider: &Provider,
    sealed: Option<&str>,
    request_id: Uuid,
    nonce: &str,
    client: &ClientContext,
) -> Result<String, FinishError> {
    let now = cx.clock.now();
    let opened = provider.open(sealed, request_id, now)?;
    let request = opened.state;
    let oidc_client = provider
        .client(&request.client_id)
        .filter(|c| c.redirect_uris.contains(&request.redirect_uri))
        .ok_or(FinishError::RequestExpired)?;
    let label = oidc_client.client_id.as_str();
    let hash = Nonce::parse_and_hash(nonce).ok_or(FinishError::SignInNotValid)?;
    let issued_at = opened.expires_at - chrono::Duration::from_std(REQUEST_TTL).unwrap_or_default();
    let redeemed = nonces::redeem_for_provider(
        &cx.db,
        &cx.site.id,
        &hash,
        request.challenge_id,
        issued_at,
        now,
    )
    .await?;
    let Some(signed_in) = redeemed else {
        crate::metrics::oidc(&cx.site.id, label, "sign_in_not_valid");
        return Err(FinishError::SignInNotValid);
    };
    let factor = Factor::parse(&signed_in.factor)
        .ok_or_else(|| anyhow::anyhow!("a nonce of factor {}", signed_in.factor))?;
    let how = Authentication {
        factor,
        device_bound: signed_in.backup_eligible == Some(false),
        user_verified: signed_in.user_verified == Some(true),
    };
    if request.passkey_required && factor != Factor::Passkey {
        deny(
            cx,
            now,
            label,
            Some((signed_in.user_id, &signed_in.cognito_sub)),
            "passkey_required",
            client,
        )
        .await?;
        return Err(FinishError::PasskeyRequired);
    }
    let email = match (
        &cx.site.cognito,
        request.scopes.iter().any(|s| s == "email"),
    ) {
        (Some(cognito), true) => cognito
            .verified_email_of(&signed_in.cognito_sub)
            .await
            .unwrap_or_else(|e| {
                tracing::warn!(error = %e, "could not read the user's email for the ID token");
                None
            }),
        _ => None,
    };
    if let Some(provider_name) = &oidc_client.cognito_provider_name {
        link(
            cx,
            signed_in.user_id,
            &signed_in.cognito_sub,
            provider_name,
            now,
        )
        .await?;
    }
    let code = AuthorizationCode::generate();
    let amr = how.amr();
    let mut tx = cx.db.begin().await?;
    rows::insert_code(
        &mut *tx,
        &cx.site.id,
        &rows::NewCode {
            hash: &code.hash(),
            client_id: &request.client_id,
            redirect_uri: &request.redirect_uri,
            code_challenge: request.code_challenge.as_deref(),
            nonce: request.nonce.as_deref(),
            scopes: &request.scopes,
            user_id: signed_in.user_id,
            cognito_sub: &signed_in.cognito_sub,
            auth_time: signed_in.created_at,
            amr: &amr,
            acr: how.acr(),
            email: email.as_deref(),
            created_at: now,
            expires_at: now + chrono::Duration::from_std(CODE_TTL).unwrap_or_default(),
        },
    )
    .await?;
    audit::record(
        &mut *tx,
        &cx.site.id,
        now,
        Event::new(
            Actor::User(signed_in.cognito_sub.clone()),
            Action::OidcCodeIssued,
        )
        .user(signed_in.user_id, &signed_in.cognito_sub)
        .client(client)
        .details(serde_json::json!({ "client": label, "acr": how.acr(), "amr": amr })),
    )
    .await?;
    tx.commit().await?;
    crate::metrics::oidc(&cx.site.id, label, "code_issued");
    let mut url = url::Url::parse(&request.redirect_uri).map_err(anyhow::Error::from)?;
    {
        let mut q = url.query_pairs_mut();
        q.append_pair("code", code.expose());
        if let Some(state) = &request.state {
            q.append_pair("state", state);
        }
        q.append_pair("iss", provider.issuer());
    }
    Ok(url.into())
}

/// Username-first on the page: a challenge restricted to the named user's passkeys (or
/// stable fake options for a name without any, exactly as the Create trigger answers),
/// and the page's request sealed again with the challenge, whose nonce may then finish it.
#[tracing::instrument(skip_all)]
pub async fn username_first(
    cx: &Context,
    provider: &Provider,
    sealed: Option<&str>,
    request_id: Uuid,
    username: &str,
) -> Result<(rp_shared::internal::ChallengeResponse, String), FinishError> {
    let opened = provider.open(sealed, request_id, cx.clock.now())?;
    let username = username.trim();
    if username.is_empty() || username.len() > 256 || username.chars().any(char::is_control) {
        return Err(FinishError::InvalidUsername);
    }
    let sub = owner_of(cx, username).await?;
    let challenge = super::challenge::issue_as(
        cx,
        &rp_shared::internal::ChallengeRequest {
            user_pool_id: cx
                .site
                .settings
                .signup_user_pool_id
                .clone()
                .unwrap_or_default(),
            client_id: opened.state.client_id.clone(),
            user_not_found: sub.is_none(),
            user_sub: sub.unwrap_or_default(),
            username: username.to_owned(),
        },
        Actor::Anonymous,
    )
    .await
    .map_err(|e| match e {
        super::challenge::ChallengeError::Db(e) => FinishError::Db(e),
        other => FinishError::Internal(anyhow::anyhow!(other)),
    })?;
    let mut request = opened.state;
    request.challenge_id = Some(challenge.challenge_id);
    let resealed = provider
        .requests
        .seal(request_id, opened.expires_at, &request)
        .map_err(anyhow::Error::from)?;
    Ok((challenge.response, resealed))
}

/// The Cognito `sub` a typed name belongs to: a user rp-server knows by that username,
/// else (for an address, with the pool administered) the one user whose verified email
/// it is.
async fn owner_of(cx: &Context, name: &str) -> Result<Option<String>, FinishError> {
    if let Some(user) = crate::store::users::user_by_username(&cx.db, &cx.site.id, name).await? {
        return Ok(Some(user.cognito_sub));
    }
    match (&cx.site.cognito, name.contains('@')) {
        (Some(cognito), true) => Ok(cognito
            .verified_owner_of(name)
            .await
            .map_err(|e| FinishError::Unavailable(anyhow::anyhow!(e)))?
            .map(|u| u.sub)),
        _ => Ok(None),
    }
}

/// Links the user's federated identity at the pool's provider `provider_name` once, before
/// the pool first sees it (Cognito refuses to link an identity it already made a user of).
async fn link(
    cx: &Context,
    user_id: Uuid,
    sub: &str,
    provider_name: &str,
    now: DateTime<Utc>,
) -> Result<(), FinishError> {
    if rows::is_linked(&cx.db, user_id, provider_name).await? {
        return Ok(());
    }
    let Some(cognito) = &cx.site.cognito else {
        tracing::warn!(
            "a client names a Cognito identity provider but RP_COGNITO_USER_POOL_ID is not set: nothing is linked"
        );
        return Ok(());
    };
    let user = crate::store::users::user_by_id(&cx.db, &cx.site.id, user_id)
        .await?
        .ok_or_else(|| anyhow::anyhow!("the signed-in user is gone"))?;
    if let Err(e) = cognito
        .link_provider(&user.username, provider_name, sub)
        .await
    {
        tracing::warn!(error = %e, "linking the federated identity failed");
        return Err(FinishError::LinkFailed);
    }
    rows::record_link(&cx.db, user_id, provider_name, now).await?;
    Ok(())
}

async fn deny(
    cx: &Context,
    now: DateTime<Utc>,
    client_label: &str,
    user: Option<(Uuid, &str)>,
    reason: &str,
    client: &ClientContext,
) -> sqlx::Result<()> {
    crate::metrics::oidc(&cx.site.id, client_label, reason);
    let mut event = Event::new(Actor::Anonymous, Action::OidcDenied)
        .client(client)
        .details(serde_json::json!({ "client": client_label, "reason": reason }));
    if let Some((id, sub)) = user {
        event = event.user(id, sub);
    }
    audit::record(&cx.db, &cx.site.id, now, event).await
}

/// How the client authenticated at the token endpoint.
#[derive(Debug, Default)]
pub struct ClientCredentials {
    pub client_id: Option<String>,
    pub secret: Option<String>,
    /// Credentials came both in the header and in the body.
    pub both_ways: bool,
}

/// The token request's parameters.
#[derive(Debug, Default)]
pub struct TokenRequest {
    pub grant_type: Option<String>,
    pub code: Option<String>,
    pub redirect_uri: Option<String>,
    pub code_verifier: Option<String>,
}

/// An error of the token endpoint (RFC 6749 §5.2).
#[derive(Debug, thiserror::Error)]
pub enum TokenError {
    #[error("{0}")]
    InvalidRequest(&'static str),
    #[error("{0}")]
    InvalidClient(&'static str),
    #[error("{0}")]
    InvalidGrant(&'static str),
    #[error("Only grant_type=authorization_code is supported.")]
    UnsupportedGrantType,
    #[error(transparent)]
    Db(#[from] sqlx::Error),
    #[error(transparent)]
    Internal(#[from] anyhow::Error),
}

impl TokenError {
    pub fn oauth_code(&self) -> &'static str {
        match self {
            Self::InvalidRequest(_) => "invalid_request",
            Self::InvalidClient(_) => "invalid_client",
            Self::InvalidGrant(_) => "invalid_grant",
            Self::UnsupportedGrantType => "unsupported_grant_type",
            Self::Db(_) | Self::Internal(_) => "server_error",
        }
    }
}

/// The token endpoint's answer.
#[derive(Debug, serde::Serialize)]
pub struct Tokens {
    pub access_token: String,
    pub token_type: &'static str,
    pub expires_in: u64,
    pub id_token: String,
    pub scope: String,
}

/// Trades a code for tokens: the client authenticates (its secret, or none for a public
/// client); the code is spent whatever follows, and must be unexpired, this client's,
/// for this redirect URI, and answered by the PKCE verifier it was bound to.
#[tracing::instrument(skip_all)]
pub async fn token(
    cx: &Context,
    provider: &Provider,
    credentials: &ClientCredentials,
    req: &TokenRequest,
    client: &ClientContext,
) -> Result<Tokens, TokenError> {
    let oidc_client = authenticate(provider, credentials)?;
    let label = oidc_client.client_id.as_str();
    if req.grant_type.as_deref() != Some("authorization_code") {
        return Err(match req.grant_type {
            None => TokenError::InvalidRequest("grant_type is required."),
            Some(_) => TokenError::UnsupportedGrantType,
        });
    }
    let code = req
        .code
        .as_deref()
        .ok_or(TokenError::InvalidRequest("code is required."))?;
    let invalid = TokenError::InvalidGrant(
        "The code is not valid (unknown, expired, used, or issued for another client, redirect URI or verifier).",
    );
    let Some(hash) = AuthorizationCode::parse_and_hash(code) else {
        crate::metrics::oidc(&cx.site.id, label, "code_invalid");
        return Err(invalid);
    };
    let now = cx.clock.now();
    let row = match rows::redeem_code(&cx.db, &cx.site.id, &hash, now).await? {
        CodeRedemption::Spent(row) => row,
        CodeRedemption::Reused { revoked_tokens } => {
            crate::metrics::oidc(&cx.site.id, label, "code_reused");
            audit::record(
                &cx.db, &cx.site.id,
                now,
                Event::new(Actor::Anonymous, Action::OidcDenied)
                    .client(client)
                    .details(serde_json::json!({ "client": label, "reason": "code_reused", "revokedTokens": revoked_tokens })),
            )
            .await?;
            return Err(invalid);
        }
        CodeRedemption::Unknown => {
            crate::metrics::oidc(&cx.site.id, label, "code_invalid");
            return Err(invalid);
        }
    };
    let why_not = if row.expires_at <= now {
        Some("code_expired")
    } else if row.client_id != oidc_client.client_id {
        Some("code_of_another_client")
    } else if req.redirect_uri.as_deref() != Some(row.redirect_uri.as_str()) {
        Some("redirect_uri_mismatch")
    } else {
        match (&row.code_challenge, &req.code_verifier) {
            (Some(challenge), Some(verifier)) if crate::oidc::pkce_answers(challenge, verifier) => {
                None
            }
            (None, None) => None,
            // A verifier for a code issued without a challenge is a downgrade attempt.
            _ => Some("pkce_mismatch"),
        }
    };
    if let Some(reason) = why_not {
        deny(
            cx,
            now,
            label,
            Some((row.user_id, &row.cognito_sub)),
            reason,
            client,
        )
        .await?;
        return Err(invalid);
    }
    issue(cx, provider, &row, &hash, client, now).await
}

/// The registered client the credentials prove, checked in constant time.
fn authenticate<'a>(
    provider: &'a Provider,
    credentials: &ClientCredentials,
) -> Result<&'a OidcClient, TokenError> {
    if credentials.both_ways {
        return Err(TokenError::InvalidRequest(
            "Use one client authentication method, not two.",
        ));
    }
    let refused = TokenError::InvalidClient("Client authentication failed.");
    let oidc_client = credentials
        .client_id
        .as_deref()
        .and_then(|id| provider.client(id))
        .ok_or(TokenError::InvalidClient("Client authentication failed."))?;
    match (&oidc_client.secret_sha256, &credentials.secret) {
        (None, None) if oidc_client.public => Ok(oidc_client),
        (Some(expected), Some(secret)) => {
            use sha2::Digest as _;
            let presented: [u8; 32] = sha2::Sha256::digest(secret.as_bytes()).into();
            if subtle::ConstantTimeEq::ct_eq(&presented[..], &expected[..]).into() {
                Ok(oidc_client)
            } else {
                Err(refused)
            }
        }
        _ => Err(refused),
    }
}

async fn issue(
    cx: &Context,
    provider: &Provider,
    row: &rows::CodeRow,
    code_hash: &[u8],
    client: &ClientContext,
    now: DateTime<Utc>,
) -> Result<Tokens, TokenError> {
    let ttl = chrono::Duration::from_std(TOKEN_TTL).unwrap_or_default();
    let email = row
        .email
        .as_deref()
        .filter(|_| row.scopes.iter().any(|s| s == "email"));
    let claims = IdTokenClaims {
        iss: provider.issuer(),
        sub: &row.cognito_sub,
        aud: &row.client_id,
        exp: (now + ttl).timestamp(),
        iat: now.timestamp(),
        auth_time: row.auth_time.timestamp(),
        nonce: row.nonce.as_deref(),
        amr: row.amr.iter().map(String::as_str).collect(),
        acr: &row.acr,
        azp: &row.client_id,
        email,
        email_verified: email.map(|_| true),
    };
    let id_token = provider
        .config
        .keys
        .sign(&claims)
        .map_err(|e| anyhow::anyhow!("signing the ID token: {e}"))?;
    let access = ProviderAccessToken::generate();
    let mut tx = cx.db.begin().await?;
    rows::insert_access_token(
        &mut *tx,
        &cx.site.id,
        &rows::NewAccessToken {
            hash: &access.hash(),
            code_hash,
            client_id: &row.client_id,
            user_id: row.user_id,
            cognito_sub: &row.cognito_sub,
            scopes: &row.scopes,
            email,
            expires_at: now + ttl,
        },
    )
    .await?;
    audit::record(
        &mut *tx,
        &cx.site.id,
        now,
        Event::new(
            Actor::User(row.cognito_sub.clone()),
            Action::OidcTokenIssued,
        )
        .user(row.user_id, &row.cognito_sub)
        .client(client)
        .details(serde_json::json!({ "client": row.client_id, "acr": row.acr })),
    )
    .await?;
    tx.commit().await?;
    crate::metrics::oidc(&cx.site.id, &row.client_id, "token_issued");
    Ok(Tokens {
        access_token: access.expose().to_owned(),
        token_type: "Bearer",
        expires_in: TOKEN_TTL.as_secs(),
        id_token,
        scope: row.scopes.join(" "),
    })
}

/// The claims `/oidc/userinfo` answers for a live access token; `None`: not valid.
pub async fn userinfo(cx: &Context, token: &str) -> sqlx::Result<Option<serde_json::Value>> {
    let Some(hash) = ProviderAccessToken::parse_and_hash(token) else {
        return Ok(None);
    };
    let Some(row) = rows::access_token(&cx.db, &cx.site.id, &hash, cx.clock.now()).await? else {
        return Ok(None);
    };
    let mut claims = serde_json::json!({ "sub": row.cognito_sub });
    if let (Some(email), true) = (&row.email, row.scopes.iter().any(|s| s == "email")) {
        claims["email"] = email.as_str().into();
        claims["email_verified"] = true.into();
    }
    Ok(Some(claims))
}
