//! `/.well-known/webauthn`: the related origins that may use RP_ID's passkeys (WebAuthn
//! Level 3, Related Origin Requests). Browsers fetch it from `https://<RP_ID>/…`.

use axum::extract::State;
use axum::http::header;
use axum::response::{IntoResponse, Response};
use rp_shared::error::{ErrorBody, ErrorCode};
use serde::Serialize;
use utoipa::ToSchema;

use super::error::ApiError;
use crate::AppState;

#[derive(Debug, Serialize, ToSchema)]
pub struct RelatedOrigins {
    /// Origins, besides RP_ID's own, whose pages may create and use its passkeys.
    pub origins: Vec<String>,
}

/// The related origins (`RP_RELATED_ORIGINS`); 404 when there are none.
#[utoipa::path(get, path = "/.well-known/webauthn", tag = "operations",
    responses((status = 200, body = RelatedOrigins, content_type = "application/json"),
        (status = 404, body = ErrorBody, description = "no related origins are configured")))]
pub async fn webauthn(State(state): State<AppState>) -> Result<Response, ApiError> {
    if state.config.related_origins.is_empty() {
        return Err(ApiError::not_found(
            ErrorCode::NotFound,
            "No such endpoint.",
        ));
    }
    let origins = state
        .config
        .related_origins
        .iter()
        .map(|o| o.origin().ascii_serialization())
        .collect();
    Ok((
        [(header::ACCESS_CONTROL_ALLOW_ORIGIN, "*")],
        axum::Json(RelatedOrigins { origins }),
    )
        .into_response())
}
