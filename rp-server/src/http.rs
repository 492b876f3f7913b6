//! The HTTP layer: routes, middleware and the OpenAPI document. Handlers only extract,
//! call one flow ([`crate::flows`], [`crate::admin`]) and map its outcome.

pub mod admin;
pub mod authentication;
pub mod console;
pub mod credentials;
pub mod email;
pub mod error;
pub mod extract;
pub mod identity;
pub mod internal;
pub mod oidc;
pub mod ops;
pub mod ratelimit;
pub mod recovery;
pub mod registration;
pub mod signup;
pub mod wellknown;

use rp_shared::error::ErrorCode;
use std::time::Instant;

use axum::Router;
use axum::extract::{DefaultBodyLimit, MatchedPath, Request};
use axum::http::{HeaderName, HeaderValue, Method, header};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use tower_http::cors::{AllowOrigin, CorsLayer};
use tower_http::request_id::{MakeRequestUuid, PropagateRequestIdLayer, SetRequestIdLayer};
use tower_http::trace::TraceLayer;
use utoipa::openapi::security::{HttpAuthScheme, HttpBuilder, SecurityScheme};
use utoipa::{Modify, OpenApi};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::AppState;
use crate::config::Origin;
use error::ApiError;

/// Largest request body accepted. A WebAuthn response is a few KiB; anything near this
/// limit is not one.
pub const BODY_LIMIT: usize = 64 * 1024;

const REQUEST_ID: HeaderName = HeaderName::from_static("x-request-id");

#[derive(OpenApi)]
#[openapi(
    info(
        title = "rp-server",
        description = "Self-hosted passkey (WebAuthn) relying party for Amazon Cognito. Errors are `{\"error\":{\"code\",\"message\"}}`.",
    ),
    modifiers(&SecuritySchemes),
    tags(
        (name = "registration", description = "Adding passkeys (Cognito access token)"),
        (name = "authentication", description = "Signing in with a passkey; yields a one-time nonce for Cognito"),
        (name = "credentials", description = "A user's own passkeys (Cognito access token)"),
        (name = "signup", description = "Passkey-first sign-up (when RP_SIGNUP_ENABLED=true)"),
        (name = "email", description = "Email one-time codes: verified sign-up (when RP_EMAIL_TRANSPORT is set)"),
        (name = "recovery", description = "Recovery codes: ten one-time codes a user makes to sign in without a passkey or an admin"),
        (name = "internal", description = "Called by the Cognito trigger Lambdas (service token)"),
        (name = "admin", description = "Credential administration (RP_ADMIN_TOKEN)"),
        (name = "operations", description = "Health, readiness, metrics"),
    )
)]
struct ApiDoc;

struct SecuritySchemes;

impl Modify for SecuritySchemes {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        let components = openapi.components.get_or_insert_with(Default::default);
        let bearer = |description: &str| {
            SecurityScheme::Http(
                HttpBuilder::new()
                    .scheme(HttpAuthScheme::Bearer)
                    .description(Some(description))
                    .build(),
            )
        };
        components.add_security_scheme(
            "cognito",
            bearer("A Cognito access token of an allowed app client"),
        );
        components.add_security_scheme(
            "service",
            bearer("RP_SERVICE_TOKEN, held by the trigger Lambdas"),
        );
        components.add_security_scheme("admin", bearer("RP_ADMIN_TOKEN"));
        components.add_security_scheme(
            "enrolment",
            bearer("A one-time enrolment token (rpe_…) an admin issued for account recovery"),
        );
    }
}

/// The site an admin request's path names: `/admin/v1/sites/{site}/…` is `/admin/v1/…`
/// acting on that site (the admin extractor reads it; an id no site has is 404
/// `UNKNOWN_SITE`). The unscoped paths act on the admin site (`default`, else the first).
#[derive(Debug, Clone)]
pub struct AdminScope(pub String);

/// Rewrites `/admin/v1/sites/{site}/rest` to `/admin/v1/rest` (the query kept) and records
/// the site in the request's extensions, before routing: every admin route is served
/// under both paths without being declared twice. Any other path is left alone.
pub fn scope_admin_path<B>(req: &mut axum::http::Request<B>) {
    const PREFIX: &str = "/admin/v1/sites/";
    let Some((site, rest)) = req
        .uri()
        .path()
        .strip_prefix(PREFIX)
        .and_then(|r| r.split_once('/'))
    else {
        return;
    };
    let path = match req.uri().query() {
        Some(q) => format!("/admin/v1/{rest}?{q}"),
        None => format!("/admin/v1/{rest}"),
    };
    let site = site.to_owned();
    let mut parts = req.uri().clone().into_parts();
    let Ok(path) = path.parse() else {
        return;
    };
    parts.path_and_query = Some(path);
    if let Ok(uri) = axum::http::Uri::from_parts(parts) {
        *req.uri_mut() = uri;
        req.extensions_mut().insert(AdminScope(site));
    }
}

/// The whole application as a function of its state, on one listener (local
/// development, tests).
pub fn app(state: AppState) -> Router {
    let (public, private) = routers(&state);
    finish(public.merge(private), &state)
}

/// The application split in two: what the internet may reach (`/v1/*`, health and
/// readiness, the OpenAPI document) and what only the VPC may (`/internal/*`,
/// `/admin/*`, `/metrics`, plus health and readiness for its load balancer). Each answers
/// 404 for the other's paths.
pub fn apps(state: AppState) -> (Router, Router) {
    let (public, private) = routers(&state);
    let (health, _) = health(&state).split_for_parts();
    let private = private.merge(health);
    let private = if state.config.console_on() {
        private.merge(console_routes(&state))
    } else {
        private
    };
    (finish(public, &state), finish(private, &state))
}

/// The console and the two calls of its admins' passkey sign-in (the browser API's own
/// handlers and rate limit, on the console's origin).
fn console_routes(state: &AppState) -> Router<AppState> {
    use axum::routing::post;
    let sign_in = Router::new()
        .route("/v1/authentication/options", post(authentication::options))
        .route("/v1/authentication/verify", post(authentication::verify))
        .layer(middleware::from_fn_with_state(
            state.clone(),
            ratelimit::limit,
        ));
    console::routes(state).merge(sign_in)
}

/// Liveness and readiness; `/readyz` is rate-limited per client at the browser API's
/// rate, with a quota of its own (it answers from a probe cached for a second, but a
/// flood still costs).
fn health(state: &AppState) -> OpenApiRouter<AppState> {
    OpenApiRouter::new().routes(routes!(ops::healthz)).merge(
        OpenApiRouter::new()
            .routes(routes!(ops::readyz))
            .layer(middleware::from_fn_with_state(
                state.clone(),
                ratelimit::limit_ops,
            )),
    )
}

/// The public and the private routes (without layers), and the OpenAPI document of both
/// served on the public side.
fn routers(state: &AppState) -> (Router<AppState>, Router<AppState>) {
    let browser = OpenApiRouter::new()
        .routes(routes!(registration::options))
        .routes(routes!(registration::verify))
        .routes(routes!(authentication::options))
        .routes(routes!(authentication::verify))
        .routes(routes!(credentials::list))
        .routes(routes!(credentials::activity))
        .routes(routes!(credentials::report_cognito_passkeys))
        .routes(routes!(credentials::rename, credentials::delete))
        .routes(routes!(signup::options))
        .routes(routes!(signup::verify))
        .routes(routes!(email::codes))
        .routes(routes!(email::verify))
        .routes(routes!(recovery::create, recovery::status))
        .routes(routes!(recovery::verify))
        .layer(middleware::from_fn_with_state(
            state.clone(),
            ratelimit::limit,
        ));
    let internal = OpenApiRouter::new()
        .routes(routes!(internal::challenges))
        .routes(routes!(internal::redeem));
    let admin = OpenApiRouter::new()
        .routes(routes!(admin::user))
        .routes(routes!(admin::search_users))
        .routes(routes!(admin::credential))
        .routes(routes!(admin::revoke))
        .routes(routes!(admin::reset))
        .routes(routes!(admin::unlock))
        .routes(routes!(admin::issue_enrolment, admin::list_enrolment))
        .routes(routes!(admin::revoke_enrolment))
        .routes(routes!(admin::audit_events))
        .routes(routes!(admin::audit_csv))
        .routes(routes!(admin::import))
        .routes(routes!(admin::export))
        .routes(routes!(admin::stats))
        .routes(routes!(admin::policies))
        .routes(routes!(admin::policy_report))
        .routes(routes!(admin::daily_stats));
    let metrics = OpenApiRouter::new().routes(routes!(ops::metrics));

    let (public, public_doc) = OpenApiRouter::with_openapi(ApiDoc::openapi())
        .merge(browser)
        .merge(health(state))
        .routes(routes!(wellknown::webauthn))
        .routes(routes!(wellknown::apple_app_site_association))
        .routes(routes!(wellknown::assetlinks))
        .routes(routes!(wellknown::passkey_endpoints))
        .split_for_parts();
    let (private, private_doc) = OpenApiRouter::new()
        .merge(internal)
        .merge(admin)
        .merge(metrics)
        .split_for_parts();
    let mut openapi = public_doc;
    openapi.merge(private_doc);
    document_common_errors(&mut openapi);
    let openapi = std::sync::Arc::new(openapi);
    let public = public.merge(provider(state)).route(
        "/openapi.json",
        axum::routing::get(move || {
            let openapi = openapi.clone();
            async move { axum::Json(openapi.as_ref().clone()) }
        })
        .layer(middleware::from_fn_with_state(
            state.clone(),
            ratelimit::limit_ops,
        )),
    );
    (public, private)
}

/// The OpenID provider's endpoints (404 `PROVIDER_OFF` without `RP_OIDC_ISSUER`). Not in
/// the OpenAPI document: OpenID Connect Discovery describes them. What browsers call (the
/// page and its calls) is rate-limited per client like the browser API; what relying
/// parties call server to server (discovery, keys, token, userinfo) is not: Cognito and
/// load balancers call from a few shared addresses for all their users, and each of those
/// calls does nothing costly without a 256-bit secret, code or token.
fn provider(state: &AppState) -> Router<AppState> {
    use axum::routing::{get, post};
    let page = Router::new()
        .route("/oidc/authorize", get(oidc::authorize))
        .route("/oidc/authorize/options", post(oidc::username_first))
        .route("/oidc/authorize/finish", post(oidc::finish))
        .layer(middleware::from_fn_with_state(
            state.clone(),
            ratelimit::limit,
        ));
    Router::new()
        .route("/.well-known/openid-configuration", get(oidc::discovery))
        .route("/oidc/jwks", get(oidc::jwks))
        .route("/oidc/token", post(oidc::token))
        .route("/oidc/userinfo", get(oidc::userinfo).post(oidc::userinfo))
        .merge(page)
}

/// Adds the answers every operation of a kind can give, so the document lists every
/// status the server returns: 400/413/415 wherever there is a JSON body (malformed,
/// too large, not JSON), 429 on the rate-limited browser API, and 503 wherever a
/// database (or Cognito) is behind the answer. All in the one error shape, whose `code`
/// is one of `ErrorCode`.
fn document_common_errors(openapi: &mut utoipa::openapi::OpenApi) {
    for (path, item) in openapi.paths.paths.iter_mut() {
        for operation in [
            &mut item.get,
            &mut item.post,
            &mut item.put,
            &mut item.patch,
            &mut item.delete,
        ]
        .into_iter()
        .flatten()
        {
            for (status, description) in common_errors(path, operation.request_body.is_some()) {
                operation
                    .responses
                    .responses
                    .entry(status.to_owned())
                    .or_insert_with(|| error_response(description));
            }
        }
    }
}

/// An error answer in the API's shape (`ErrorBody`).
fn error_response(description: &str) -> utoipa::openapi::RefOr<utoipa::openapi::Response> {
    use utoipa::openapi::{ContentBuilder, Ref, RefOr, ResponseBuilder};
    RefOr::T(
        ResponseBuilder::new()
            .description(description)
            .content(
                "application/json",
                ContentBuilder::new()
                    .schema(Some(Ref::from_schema_name("ErrorBody")))
                    .build(),
            )
            .build(),
    )
}

/// The errors any operation on `path` may answer besides its own: body errors when it
/// takes one, bad parameters, the rate limit on `/v1/`, and 503 where it needs Postgres.
fn common_errors(path: &str, has_body: bool) -> Vec<(&'static str, &'static str)> {
    // Answers without touching the database (the usernameless options are sealed).
    let stateless = ["/healthz", "/metrics", "/v1/authentication/options"];
    let mut errors = Vec::new();
    if has_body {
        errors.push(("400", "Malformed JSON (`MALFORMED_JSON`), a body that does not match the schema (`INVALID_REQUEST`) or a control character in text (`INVALID_TEXT`)"));
        errors.push((
            "413",
            "The body is larger than 64 KiB (`PAYLOAD_TOO_LARGE`)",
        ));
        errors.push((
            "415",
            "The body is not `application/json` (`UNSUPPORTED_MEDIA_TYPE`)",
        ));
    }
    if path.contains('{') || path.contains("/admin/") {
        errors.push(("400", "A malformed path or query parameter (`INVALID_PATH`, `INVALID_CREDENTIAL_ID`, `INVALID_TEXT`)"));
    }
    if path.starts_with("/v1/") {
        errors.push((
            "429",
            "Too many requests from this client (`RATE_LIMITED`, with `Retry-After`)",
        ));
    }
    if !stateless.contains(&path) {
        errors.push((
            "503",
            "Postgres (or Cognito) is unavailable (`UNAVAILABLE`, with `Retry-After`)",
        ));
    }
    errors
}

/// The layers every router gets: latency, 404s in the API's shape, body limit, CORS,
/// client IP, request ids and tracing.
fn finish(router: Router<AppState>, state: &AppState) -> Router {
    router
        .route_layer(middleware::from_fn(record_latency))
        .fallback(|| async { ApiError::no_such_endpoint() })
        .method_not_allowed_fallback(|| async {
            ApiError::not_found(ErrorCode::MethodNotAllowed, "This endpoint does not accept that method.")
        })
        .layer(DefaultBodyLimit::max(BODY_LIMIT))
        // The whole request, its body included: a slow body cannot hold a connection
        // (and what it holds) for longer than RP_REQUEST_TIMEOUT_MS.
        .layer(middleware::from_fn_with_state(state.clone(), request_timeout))
        // Outermost of the app's own layers, so preflights and every error carry CORS headers.
        .layer(cors(state))
        .layer(middleware::from_fn_with_state(state.clone(), ratelimit::resolve_client_ip))
        .layer(PropagateRequestIdLayer::new(REQUEST_ID))
        .layer(TraceLayer::new_for_http().make_span_with(|req: &Request| {
            let id = req.headers().get(REQUEST_ID).and_then(|v| v.to_str().ok()).unwrap_or("");
            // The path only: query strings may carry tokens in misbehaving clients.
            tracing::info_span!("request", method = %req.method(), path = %req.uri().path(), request_id = %id)
        }))
        .layer(SetRequestIdLayer::new(REQUEST_ID, MakeRequestUuid))
        .layer(middleware::from_fn_with_state(state.clone(), ratelimit::trust_request_id))
        .with_state(state.clone())
}

/// CORS for the web origins of the site the request's `Host` names (none for a host no
/// site answers on): one site's pages are not another's callers. Read from the sites in
/// force at each request (a reload changes them).
fn cors(state: &AppState) -> CorsLayer {
    let state = state.clone();
    let allowed = move |origin: &HeaderValue, parts: &axum::http::request::Parts| {
        let host = extract::host_of(&parts.headers, &parts.uri);
        let Ok(origin) = origin.to_str() else {
            return false;
        };
        state.sites.load().for_host(host).is_some_and(|site| {
            site.config.origins.iter().any(|o| match o {
                Origin::Web(url) => url.origin().ascii_serialization() == origin,
                Origin::Android(_) => false,
            })
        })
    };
    CorsLayer::new()
        .allow_origin(AllowOrigin::predicate(allowed))
        .allow_methods([
            Method::GET,
            Method::POST,
            Method::PUT,
            Method::PATCH,
            Method::DELETE,
        ])
        .allow_headers([header::AUTHORIZATION, header::CONTENT_TYPE])
        .expose_headers([REQUEST_ID, header::RETRY_AFTER])
        .max_age(std::time::Duration::from_secs(600))
}

async fn request_timeout(
    axum::extract::State(state): axum::extract::State<AppState>,
    req: Request,
    next: Next,
) -> Response {
    match tokio::time::timeout(state.config.request_timeout, next.run(req)).await {
        Ok(response) => response,
        Err(_) => {
            metrics::counter!(crate::metrics::REQUEST_TIMEOUTS).increment(1);
            ApiError::RequestTimeout.into_response()
        }
    }
}

async fn record_latency(req: Request, next: Next) -> Response {
    let started = Instant::now();
    let method = req.method().as_str().to_owned();
    let route = req
        .extensions()
        .get::<MatchedPath>()
        .map(|p| p.as_str().to_owned())
        .unwrap_or_else(|| "unmatched".to_owned());
    let response = next.run(req).await;
    metrics::histogram!(
        crate::metrics::HTTP_DURATION,
        "method" => method,
        "route" => route,
        "status" => response.status().as_u16().to_string(),
    )
    .record(started.elapsed().as_secs_f64());
    response
}

/// The headers of a page rp-server serves (the sign-in page, the console): its content
/// policy, no framing, no sniffing, no referrer, nothing cached.
pub(crate) fn protect_page(headers: &mut axum::http::HeaderMap, csp: Option<&str>) {
    if let Some(v) = csp.and_then(|c| HeaderValue::from_str(c).ok()) {
        headers.insert(header::CONTENT_SECURITY_POLICY, v);
    }
    headers.insert(header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    headers.insert(
        header::REFERRER_POLICY,
        HeaderValue::from_static("no-referrer"),
    );
    headers.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
}

/// Used by handlers for an empty-but-valid response.
pub fn no_content() -> Response {
    axum::http::StatusCode::NO_CONTENT.into_response()
}
