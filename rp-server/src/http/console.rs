//! The admin console: one static page and its bundle (built from `web/console/` into
//! `rp-server/console/` and compiled in), served at `/console/` on the internal listener
//! only. The page signs its admin in with a passkey through Cognito (the ceremony's two
//! calls are served beside it, same origin) and then calls the admin API with the
//! admin's access token in a header: no cookie, so no cross-site request can act.

use axum::Router;
use axum::extract::State;
use axum::http::header;
use axum::response::{IntoResponse, Response};

use crate::AppState;

const INDEX: &str = include_str!("../../console/index.html");
const SCRIPT: &str = include_str!("../../console/console.js");
const STYLE: &str = include_str!("../../console/console.css");

/// The console's routes (mounted only when `RP_CONSOLE` is on and there is an internal
/// listener).
pub fn routes(state: &AppState) -> Router<AppState> {
    use axum::routing::get;
    Router::new()
        .route(
            "/console",
            get(|| async { axum::response::Redirect::permanent("/console/") }),
        )
        .route("/console/", get(index))
        .route(
            "/console/console.js",
            get(|| async { asset(SCRIPT, "text/javascript; charset=utf-8") }),
        )
        .route(
            "/console/console.css",
            get(|| async { asset(STYLE, "text/css; charset=utf-8") }),
        )
        .route("/console/config.json", get(config))
        .layer(axum::middleware::from_fn_with_state(
            state.clone(),
            super::ratelimit::limit_ops,
        ))
}

/// The page, with a policy that allows only its own script and style and the pool's
/// Cognito endpoint, and no framing.
async fn index(
    State(state): State<AppState>,
    headers: axum::http::HeaderMap,
    uri: axum::http::Uri,
) -> Response {
    let csp = format!(
        "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; \
         connect-src 'self' {}; frame-ancestors 'none'; base-uri 'none'; form-action 'none'",
        cognito_endpoint(
            &state
                .admin_site_for(super::extract::host_of(&headers, &uri))
                .config
                .cognito_issuer
        )
    );
    let mut response =
        ([(header::CONTENT_TYPE, "text/html; charset=utf-8")], INDEX).into_response();
    super::protect_page(response.headers_mut(), Some(&csp));
    response
}

/// The page's script and style (and its configuration): revalidated, never framed or sniffed.
fn asset(body: &'static str, content_type: &'static str) -> Response {
    let mut response = ([(header::CONTENT_TYPE, content_type)], body).into_response();
    super::protect_page(response.headers_mut(), None);
    response
}

/// What the page needs to sign its admin in: Cognito's endpoint and the app client (of
/// the site the console administers: the one its host names, else the admin site).
async fn config(
    State(state): State<AppState>,
    headers: axum::http::HeaderMap,
    uri: axum::http::Uri,
) -> Response {
    let site = state.admin_site_for(super::extract::host_of(&headers, &uri));
    let c = &site.config;
    let mut response = axum::Json(serde_json::json!({
        "cognitoEndpoint": cognito_endpoint(&c.cognito_issuer),
        "clientId": c.console_client_id,
        "adminGroup": c.admin_group,
        "rpName": c.rp_name,
        // Where an enrolment link sends the user (the token in the fragment).
        "enrollUrl": c.passkey_enroll_url,
    }))
    .into_response();
    super::protect_page(response.headers_mut(), None);
    response
}

/// Cognito's API endpoint for the pool whose issuer this is: the issuer's origin
/// (`https://cognito-idp.<region>.amazonaws.com`, or a stand-in's).
fn cognito_endpoint(issuer: &str) -> String {
    url::Url::parse(issuer)
        .map(|u| u.origin().ascii_serialization())
        .unwrap_or_default()
}

#[cfg(test)]
mod tests {
    #[test]
    fn the_cognito_endpoint_is_the_issuers_origin() {
        assert_eq!(
            super::cognito_endpoint("https://cognito-idp.eu-west-1.amazonaws.com/eu-west-1_AbC"),
            "https://cognito-idp.eu-west-1.amazonaws.com"
        );
        assert_eq!(
            super::cognito_endpoint("http://localhost:9229/local_pool"),
            "http://localhost:9229"
        );
    }
}
