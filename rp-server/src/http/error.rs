//! The one mapping from failures to HTTP answers. Every error body has the shape
//! `{"error":{"code","message"}}`; 5xx bodies carry no internal detail (that goes to the log).

use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use rp_shared::error::{ErrorBody, ErrorCode};

#[derive(Debug, thiserror::Error)]
pub enum ApiError {
    #[error("{message}")]
    BadRequest { code: ErrorCode, message: String },
    #[error("{0}")]
    Unauthorized(&'static str),
    /// 401 with its own code, for clients that react to it (e.g. `REAUTH_REQUIRED`).
    #[error("{message}")]
    UnauthorizedCode {
        code: ErrorCode,
        message: &'static str,
    },
    /// 403: authenticated, but not allowed (e.g. `NOT_AN_ADMIN`).
    #[error("{message}")]
    Forbidden {
        code: ErrorCode,
        message: &'static str,
    },
    #[error("{message}")]
    NotFound { code: ErrorCode, message: String },
    #[error("{message}")]
    Conflict { code: ErrorCode, message: String },
    #[error("{message}")]
    Gone { code: ErrorCode, message: String },
    #[error("{message}")]
    PayloadTooLarge { message: String },
    #[error("{message}")]
    UnsupportedMediaType { message: String },
    #[error("{message}")]
    VerificationFailed { code: ErrorCode, message: String },
    #[error("too many requests")]
    RateLimited { retry_after_secs: u64 },
    /// 408: the request, its body included, took longer than `RP_REQUEST_TIMEOUT_MS`.
    #[error("The request took too long; send it again at once.")]
    RequestTimeout,
    /// 429 with its own code (e.g. `CODE_LOCKED`), with `Retry-After` when it will pass.
    #[error("{message}")]
    Throttled {
        code: ErrorCode,
        message: String,
        retry_after_secs: Option<u64>,
    },
    #[error("service unavailable")]
    Unavailable(#[source] anyhow::Error),
    /// 503 naming what is unavailable (e.g. `JWKS_UNAVAILABLE`), with `Retry-After`.
    #[error("{message}")]
    DependencyUnavailable {
        code: ErrorCode,
        message: &'static str,
        #[source]
        error: anyhow::Error,
    },
    #[error("internal error")]
    Internal(#[source] anyhow::Error),
    /// Another error with `details` in its body (see [`ApiError::with_details`]).
    #[error("{inner}")]
    Detailed {
        inner: Box<ApiError>,
        details: serde_json::Value,
    },
}

impl ApiError {
    pub fn bad_request(code: ErrorCode, message: impl Into<String>) -> Self {
        Self::BadRequest {
            code,
            message: message.into(),
        }
    }
    pub fn not_found(code: ErrorCode, message: impl Into<String>) -> Self {
        Self::NotFound {
            code,
            message: message.into(),
        }
    }
    /// The 404 of a path rp-server does not serve (or serves only when configured).
    pub fn no_such_endpoint() -> Self {
        Self::not_found(ErrorCode::NotFound, "No such endpoint.")
    }
    pub fn conflict(code: ErrorCode, message: impl Into<String>) -> Self {
        Self::Conflict {
            code,
            message: message.into(),
        }
    }
    pub fn gone(code: ErrorCode, message: impl Into<String>) -> Self {
        Self::Gone {
            code,
            message: message.into(),
        }
    }
    pub fn verification(code: ErrorCode, message: impl Into<String>) -> Self {
        Self::VerificationFailed {
            code,
            message: message.into(),
        }
    }

    /// This error with facts for the client in `error.details`.
    pub fn with_details(self, details: serde_json::Value) -> Self {
        Self::Detailed {
            inner: Box::new(self),
            details,
        }
    }

    pub fn status(&self) -> StatusCode {
        match self {
            Self::Detailed { inner, .. } => inner.status(),
            Self::BadRequest { .. } => StatusCode::BAD_REQUEST,
            Self::Unauthorized(_) | Self::UnauthorizedCode { .. } => StatusCode::UNAUTHORIZED,
            Self::Forbidden { .. } => StatusCode::FORBIDDEN,
            Self::NotFound { .. } => StatusCode::NOT_FOUND,
            Self::Conflict { .. } => StatusCode::CONFLICT,
            Self::Gone { .. } => StatusCode::GONE,
            Self::PayloadTooLarge { .. } => StatusCode::PAYLOAD_TOO_LARGE,
            Self::UnsupportedMediaType { .. } => StatusCode::UNSUPPORTED_MEDIA_TYPE,
            Self::VerificationFailed { .. } => StatusCode::UNPROCESSABLE_ENTITY,
            Self::RateLimited { .. } | Self::Throttled { .. } => StatusCode::TOO_MANY_REQUESTS,
            Self::RequestTimeout => StatusCode::REQUEST_TIMEOUT,
            Self::Unavailable(_) | Self::DependencyUnavailable { .. } => {
                StatusCode::SERVICE_UNAVAILABLE
            }
            Self::Internal(_) => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }

    /// The stable code clients branch on.
    pub fn code(&self) -> ErrorCode {
        match self {
            Self::Detailed { inner, .. } => inner.code(),
            Self::BadRequest { code, .. }
            | Self::NotFound { code, .. }
            | Self::Conflict { code, .. }
            | Self::Gone { code, .. }
            | Self::VerificationFailed { code, .. }
            | Self::Throttled { code, .. }
            | Self::UnauthorizedCode { code, .. }
            | Self::Forbidden { code, .. }
            | Self::DependencyUnavailable { code, .. } => *code,
            Self::Unauthorized(_) => ErrorCode::Unauthenticated,
            Self::PayloadTooLarge { .. } => ErrorCode::PayloadTooLarge,
            Self::UnsupportedMediaType { .. } => ErrorCode::UnsupportedMediaType,
            Self::RateLimited { .. } => ErrorCode::RateLimited,
            Self::RequestTimeout => ErrorCode::RequestTimeout,
            Self::Unavailable(_) => ErrorCode::Unavailable,
            Self::Internal(_) => ErrorCode::Internal,
        }
    }
}

/// A counted limit's refusal: 429 `RATE_LIMITED`, or `CODE_LOCKED` with
/// `details.until` `window` (and `Retry-After`) or `unlock`.
impl From<crate::flows::email::Refusal> for ApiError {
    fn from(r: crate::flows::email::Refusal) -> Self {
        use crate::flows::email::Refusal;
        match r {
            Refusal::RateLimited(retry_after_secs) => Self::RateLimited { retry_after_secs },
            Refusal::Locked(retry_after_secs) => Self::Throttled {
                code: ErrorCode::CodeLocked,
                message: r.to_string(),
                retry_after_secs,
            }
            .with_details(serde_json::json!({
                "until": if retry_after_secs.is_some() { "window" } else { "unlock" }
            })),
        }
    }
}

impl From<crate::flows::credentials::ReauthRequired> for ApiError {
    fn from(e: crate::flows::credentials::ReauthRequired) -> Self {
        let error = Self::UnauthorizedCode {
            code: ErrorCode::ReauthRequired,
            message: if e.passkey {
                "Sign in with a passkey to change your passkeys: a code is not enough."
            } else {
                "Sign in again to change your passkeys."
            },
        };
        if e.passkey {
            error.with_details(serde_json::json!({ "factor": "passkey" }))
        } else {
            error
        }
    }
}

impl From<crate::flows::ceremony::CeremonyError> for ApiError {
    fn from(e: crate::flows::ceremony::CeremonyError) -> Self {
        use crate::flows::ceremony::CeremonyError;
        let code = match e {
            CeremonyError::NotFound => ErrorCode::CeremonyNotFound,
            CeremonyError::Expired => ErrorCode::CeremonyExpired,
        };
        Self::gone(code, e.to_string())
    }
}

/// 400 for a WebAuthn response that does not decode, 422 for one that does not verify.
impl From<crate::flows::ceremony::Rejection> for ApiError {
    fn from(r: crate::flows::ceremony::Rejection) -> Self {
        if r.malformed {
            Self::bad_request(r.code, r.message)
        } else {
            Self::verification(r.code, r.message)
        }
    }
}

/// Whether a database error means Postgres could not be reached or stopped serving (503,
/// try again) rather than a bug (500): pool timeouts, dropped connections, and SQLSTATE
/// classes 08 (connection exception) and 57 (operator intervention: shutdown, restart,
/// a cancelled statement — the statement timeout).
pub fn database_unavailable(e: &sqlx::Error) -> bool {
    match e {
        sqlx::Error::PoolTimedOut
        | sqlx::Error::PoolClosed
        | sqlx::Error::Io(_)
        | sqlx::Error::Tls(_)
        | sqlx::Error::Protocol(_)
        | sqlx::Error::WorkerCrashed => true,
        sqlx::Error::Database(db) => db
            .code()
            .is_some_and(|c| c.starts_with("08") || c.starts_with("57")),
        _ => false,
    }
}

impl From<sqlx::Error> for ApiError {
    fn from(e: sqlx::Error) -> Self {
        if database_unavailable(&e) {
            Self::Unavailable(e.into())
        } else {
            Self::Internal(e.into())
        }
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        // Details go with client errors (a refused passkey, a locked address).
        let (this, details) = match self {
            Self::Detailed { inner, details } => (*inner, Some(details)),
            other => (other, None),
        };
        this.respond(details)
    }
}

impl ApiError {
    fn respond(self, details: Option<serde_json::Value>) -> Response {
        let status = self.status();
        let message = match &self {
            Self::Unavailable(e) => {
                if e.chain().any(|c| {
                    matches!(
                        c.downcast_ref::<sqlx::Error>(),
                        Some(sqlx::Error::PoolTimedOut)
                    )
                }) {
                    metrics::counter!(crate::metrics::DB_ACQUIRE_TIMEOUTS).increment(1);
                }
                tracing::error!(error = %format!("{e:#}"), "dependency unavailable");
                "The service is temporarily unavailable; try again shortly.".to_owned()
            }
            Self::Internal(e) => {
                tracing::error!(error = %format!("{e:#}"), "internal error");
                "An internal error occurred.".to_owned()
            }
            Self::DependencyUnavailable { error, message, .. } => {
                tracing::error!(error = %format!("{error:#}"), "dependency unavailable");
                (*message).to_owned()
            }
            Self::RateLimited { .. } => "Too many requests; slow down.".to_owned(),
            other => other.to_string(),
        };
        let mut body = ErrorBody::new(self.code(), message);
        body.error.details = details;
        let mut response = (status, axum::Json(body)).into_response();
        match &self {
            Self::DependencyUnavailable { .. } => {
                response
                    .headers_mut()
                    .insert(header::RETRY_AFTER, HeaderValue::from_static("5"));
            }
            Self::Unavailable(_) => {
                response
                    .headers_mut()
                    .insert(header::RETRY_AFTER, HeaderValue::from_static("1"));
            }
            _ => {}
        }
        if let Self::RateLimited { retry_after_secs }
        | Self::Throttled {
            retry_after_secs: Some(retry_after_secs),
            ..
        } = self
        {
            response.headers_mut().insert(
                header::RETRY_AFTER,
                HeaderValue::from(retry_after_secs.max(1)),
            );
        }
        if let Self::Unauthorized(_) | Self::UnauthorizedCode { .. } = self {
            response
                .headers_mut()
                .insert(header::WWW_AUTHENTICATE, HeaderValue::from_static("Bearer"));
        }
        response
    }
}
