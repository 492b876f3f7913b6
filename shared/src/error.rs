//! The JSON error body of every rp-server endpoint:
//! `{"error":{"code":"SNAKE_OR_UPPER_CODE","message":"..."}}`.

use serde::{Deserialize, Serialize};

/// The outer error envelope.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct ErrorBody {
    pub error: ErrorDetail,
}

/// A stable machine-readable code and a human-readable message.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct ErrorDetail {
    /// Stable error code, e.g. `CEREMONY_EXPIRED`. Clients branch on this.
    pub code: String,
    /// Human-readable explanation. Never contains secrets or internal detail.
    pub message: String,
}

impl ErrorBody {
    pub fn new(code: impl Into<String>, message: impl Into<String>) -> Self {
        Self {
            error: ErrorDetail {
                code: code.into(),
                message: message.into(),
            },
        }
    }
}
