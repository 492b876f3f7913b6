//! Cognito's error wire format: `{"__type": "<Name>", "message": "..."}` with the name
//! also in `x-amzn-ErrorType`, and the status codes Cognito uses.

use axum::http::{HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use serde_json::json;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CognitoError {
    pub name: &'static str,
    pub message: String,
}

impl CognitoError {
    pub fn new(name: &'static str, message: impl Into<String>) -> Self {
        Self {
            name,
            message: message.into(),
        }
    }
    pub fn not_authorized(message: impl Into<String>) -> Self {
        Self::new("NotAuthorizedException", message)
    }
    pub fn bad_credentials() -> Self {
        Self::not_authorized("Incorrect username or password.")
    }
    pub fn invalid_session() -> Self {
        Self::not_authorized("Invalid session for the user.")
    }
    pub fn user_not_found() -> Self {
        Self::new("UserNotFoundException", "User does not exist.")
    }
    pub fn invalid_parameter(message: impl Into<String>) -> Self {
        Self::new("InvalidParameterException", message)
    }
    pub fn resource_not_found(message: impl Into<String>) -> Self {
        Self::new("ResourceNotFoundException", message)
    }

    pub fn status(&self) -> StatusCode {
        match self.name {
            "InternalErrorException" => StatusCode::INTERNAL_SERVER_ERROR,
            "UnknownOperationException" => StatusCode::BAD_REQUEST,
            _ => StatusCode::BAD_REQUEST,
        }
    }
}

impl From<crate::srp::SrpError> for CognitoError {
    fn from(e: crate::srp::SrpError) -> Self {
        Self::new("InternalErrorException", e.to_string())
    }
}

impl IntoResponse for CognitoError {
    fn into_response(self) -> Response {
        let body = json!({ "__type": self.name, "message": self.message }).to_string();
        let mut r = (self.status(), body).into_response();
        let h = r.headers_mut();
        h.insert(
            "content-type",
            HeaderValue::from_static("application/x-amz-json-1.1"),
        );
        if let Ok(v) = HeaderValue::from_str(&format!("{}:", self.name)) {
            h.insert("x-amzn-errortype", v);
        }
        r
    }
}
