//! Extractors whose rejections use the API's error shape.

use rp_shared::error::ErrorCode;
use std::net::IpAddr;

use axum::extract::rejection::PathRejection;
use axum::extract::{FromRequest, FromRequestParts, Request};
use axum::http::request::Parts;
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde::Serialize;
use serde::de::DeserializeOwned;

use super::error::ApiError;

/// JSON body extractor and responder: malformed, mistyped or oversized bodies answer
/// 400/413/415 in the API's error shape, never axum's plain-text rejections.
#[derive(Debug, Clone, Copy, Default)]
pub struct Json<T>(pub T);

impl<S, T> FromRequest<S> for Json<T>
where
    T: DeserializeOwned,
    S: Send + Sync,
{
    type Rejection = ApiError;

    async fn from_request(req: Request, state: &S) -> Result<Self, Self::Rejection> {
        if !json_content_type(req.headers()) {
            return Err(ApiError::UnsupportedMediaType {
                message: "Expected `Content-Type: application/json`.".to_owned(),
            });
        }
        let body = axum::body::Bytes::from_request(req, state)
            .await
            .map_err(|rejection| {
                if rejection.status() == StatusCode::PAYLOAD_TOO_LARGE {
                    ApiError::PayloadTooLarge {
                        message: "The request body is too large.".to_owned(),
                    }
                } else {
                    ApiError::bad_request(
                        ErrorCode::InvalidRequest,
                        "The request body could not be read.",
                    )
                }
            })?;
        if has_escaped_control(&body) {
            return Err(invalid_text());
        }
        serde_json::from_slice(&body).map(Json).map_err(|e| {
            if e.is_data() {
                // serde's message names the field and the expected type; it never echoes values back.
                ApiError::bad_request(
                    ErrorCode::InvalidRequest,
                    format!("The request body does not match the schema: {e}"),
                )
            } else {
                ApiError::bad_request(
                    ErrorCode::MalformedJson,
                    "The request body is not valid JSON.",
                )
            }
        })
    }
}

fn json_content_type(headers: &axum::http::HeaderMap) -> bool {
    headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.split(';').next())
        .map(|m| m.trim().to_ascii_lowercase())
        .is_some_and(|m| {
            m == "application/json" || (m.starts_with("application/") && m.ends_with("+json"))
        })
}

fn invalid_text() -> ApiError {
    ApiError::bad_request(
        ErrorCode::InvalidText,
        "Text in a request may not contain NUL or other control characters.",
    )
}

/// Whether a JSON body escapes a control character other than tab, line feed and
/// carriage return (`\u0000` to `\u001f`) anywhere: no field of ours takes one, and
/// Postgres refuses NUL in text. (Raw control characters are invalid JSON already.)
fn has_escaped_control(body: &[u8]) -> bool {
    body.windows(6).enumerate().any(|(i, w)| {
        w[0] == b'\\'
            && w[1] == b'u'
            && w[2] == b'0'
            && w[3] == b'0'
            && (w[4] == b'0' || w[4] == b'1')
            && w[5].is_ascii_hexdigit()
            && !matches!(&w[4..6], b"09" | b"0a" | b"0A" | b"0d" | b"0D")
            // An escaped backslash before it makes it literal text, not an escape.
            && body[..i].iter().rev().take_while(|b| **b == b'\\').count() % 2 == 0
    })
}

/// Whether percent-encoded URL text (a path or a query) encodes a control character.
fn has_encoded_control(raw: &str) -> bool {
    let b = raw.as_bytes();
    b.windows(3)
        .any(|w| w[0] == b'%' && (w[1] == b'0' || w[1] == b'1') && w[2].is_ascii_hexdigit())
        || raw.bytes().any(|c| c.is_ascii_control())
}

impl<T: Serialize> IntoResponse for Json<T> {
    fn into_response(self) -> Response {
        axum::Json(self.0).into_response()
    }
}

/// Path parameters, with rejections in the API's error shape.
pub struct Path<T>(pub T);

impl<S, T> FromRequestParts<S> for Path<T>
where
    T: DeserializeOwned + Send,
    S: Send + Sync,
{
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
        if has_encoded_control(parts.uri.path()) {
            return Err(invalid_text());
        }
        match axum::extract::Path::<T>::from_request_parts(parts, state).await {
            Ok(axum::extract::Path(v)) => Ok(Path(v)),
            Err(e @ PathRejection::FailedToDeserializePathParams(_)) => {
                Err(ApiError::bad_request(ErrorCode::InvalidPath, e.body_text()))
            }
            Err(_) => Err(ApiError::bad_request(
                ErrorCode::InvalidPath,
                "Invalid path.",
            )),
        }
    }
}

/// Query parameters, with rejections in the API's error shape.
pub struct Query<T>(pub T);

impl<S, T> FromRequestParts<S> for Query<T>
where
    T: DeserializeOwned,
    S: Send + Sync,
{
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
        if parts.uri.query().is_some_and(has_encoded_control) {
            return Err(invalid_text());
        }
        axum::extract::Query::<T>::from_request_parts(parts, state)
            .await
            .map(|axum::extract::Query(v)| Query(v))
            .map_err(|e| ApiError::bad_request(ErrorCode::InvalidRequest, e.body_text()))
    }
}

pub use crate::audit::ClientContext;

/// The client IP the middleware resolved; stored in request extensions.
#[derive(Debug, Clone, Copy)]
pub struct ClientIp(pub IpAddr);

impl<S: Send + Sync> FromRequestParts<S> for ClientContext {
    type Rejection = std::convert::Infallible;

    async fn from_request_parts(parts: &mut Parts, _state: &S) -> Result<Self, Self::Rejection> {
        let ip = parts.extensions.get::<ClientIp>().map(|c| c.0);
        let user_agent = parts
            .headers
            .get(header::USER_AGENT)
            .and_then(|v| v.to_str().ok())
            .map(|s| s.chars().take(512).collect());
        Ok(Self { ip, user_agent })
    }
}

/// The context of the request's flows: the site its `Host` names (with one site, that
/// one), the database and the clock. No site on that host: 404 `UNKNOWN_SITE`.
impl axum::extract::FromRequestParts<crate::AppState> for crate::flows::Context {
    type Rejection = ApiError;

    async fn from_request_parts(
        parts: &mut axum::http::request::Parts,
        state: &crate::AppState,
    ) -> Result<Self, Self::Rejection> {
        site_of(parts, state).map(|site| state.context(&site))
    }
}

/// The host a request names: its `Host` header, else its URI's authority (HTTP/2's
/// `:authority`). Every choice of a site by host reads it here.
pub fn host_of<'r>(
    headers: &'r axum::http::HeaderMap,
    uri: &'r axum::http::Uri,
) -> Option<&'r str> {
    headers
        .get(header::HOST)
        .and_then(|h| h.to_str().ok())
        .or_else(|| uri.host())
}

/// The site a public request's host names.
pub fn site_of(
    parts: &axum::http::request::Parts,
    state: &crate::AppState,
) -> Result<std::sync::Arc<crate::flows::Site>, ApiError> {
    state
        .sites()
        .for_host(host_of(&parts.headers, &parts.uri))
        .cloned()
        .ok_or_else(unknown_site)
}

/// 404 `UNKNOWN_SITE`.
pub fn unknown_site() -> ApiError {
    ApiError::not_found(
        ErrorCode::UnknownSite,
        "No site of this deployment answers on this host.",
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn control_characters_are_found_in_json_and_urls() {
        assert!(has_escaped_control(br#"{"userSub":"a\u0000b"}"#));
        assert!(has_escaped_control(br#"{"reason":"\u001F"}"#));
        assert!(!has_escaped_control(
            br#"{"reason":"line\nbreak\u000a\u0009"}"#
        ));
        assert!(!has_escaped_control(br#"{"reason":"a literal \\u0000"}"#));
        assert!(!has_escaped_control(br#"{"nickname":"\u00e9t\u00e9"}"#));
        assert!(has_encoded_control("/admin/v1/users/a%00b/reset"));
        assert!(has_encoded_control("sub=%1f"));
        assert!(!has_encoded_control("sub=abc%20def&username=%C3%A9"));
    }
}
