//! Invoking the pool's Lambda triggers, as Cognito does: through the Lambda Invoke API
//! at a configured endpoint, or in-process (the local stack links the handler library).
//! A function error (`X-Amz-Function-Error`) is a trigger failure; no answer within the
//! trigger timeout, or a Lambda service error (HTTP 429 or 5xx without a function
//! error), is an unexpected Lambda failure, which Cognito retries.

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::time::Duration;

use serde_json::Value;

/// Why a trigger call did not produce an event.
#[derive(Debug, Clone)]
pub enum InvokeError {
    /// The function ran and failed (→ `UserLambdaValidationException`).
    Function(String),
    /// The function could not be reached, timed out, or Lambda answered a service error
    /// (→ `UnexpectedLambdaException`); Cognito tries again.
    Unreachable(String),
    /// The function answered something that is not an event (→ `InvalidLambdaResponseException`).
    InvalidResponse(String),
}

pub type InProcessFuture = Pin<Box<dyn Future<Output = Result<Value, String>> + Send>>;
/// An in-process trigger: the handler library's entry point.
pub type InProcessHandler = Arc<dyn Fn(Value) -> InProcessFuture + Send + Sync>;

#[derive(Clone)]
pub enum Invoker {
    Http {
        endpoint: String,
        client: reqwest::Client,
    },
    InProcess(InProcessHandler),
}

impl Invoker {
    pub fn http(endpoint: &str) -> anyhow::Result<Self> {
        Ok(Self::Http {
            endpoint: endpoint.trim_end_matches('/').to_owned(),
            client: reqwest::Client::builder().build()?,
        })
    }

    pub async fn invoke(
        &self,
        function: &str,
        event: Value,
        timeout: Duration,
    ) -> Result<Value, InvokeError> {
        match self {
            // Spawned: like a real function, an attempt Cognito stopped waiting for runs
            // on to its end.
            Self::InProcess(handler) => {
                match tokio::time::timeout(timeout, tokio::spawn(handler(event))).await {
                    Ok(Ok(Ok(v))) => Ok(v),
                    Ok(Ok(Err(e))) => Err(InvokeError::Function(e)),
                    Ok(Err(panicked)) => Err(InvokeError::Function(panicked.to_string())),
                    Err(_) => Err(InvokeError::Unreachable(format!(
                        "Socket timeout while invoking Lambda function {function}"
                    ))),
                }
            }
            Self::Http { endpoint, client } => {
                let url = format!("{endpoint}/2015-03-31/functions/{function}/invocations");
                let sent = client.post(url).json(&event).timeout(timeout).send().await;
                let response = match sent {
                    Ok(r) => r,
                    Err(e) if e.is_timeout() => {
                        return Err(InvokeError::Unreachable(format!(
                            "Socket timeout while invoking Lambda function {function}"
                        )));
                    }
                    Err(e) => return Err(InvokeError::Unreachable(e.without_url().to_string())),
                };
                let status = response.status();
                let function_error = response.headers().contains_key("x-amz-function-error");
                let body = response
                    .text()
                    .await
                    .map_err(|e| InvokeError::Unreachable(e.to_string()))?;
                if function_error {
                    let message = serde_json::from_str::<Value>(&body)
                        .ok()
                        .and_then(|v| {
                            v.get("errorMessage")
                                .and_then(Value::as_str)
                                .map(str::to_owned)
                        })
                        .unwrap_or(body);
                    return Err(InvokeError::Function(message));
                }
                if !status.is_success() {
                    return Err(InvokeError::Unreachable(format!(
                        "Lambda answered HTTP {status}"
                    )));
                }
                if body.trim().is_empty() {
                    return Err(InvokeError::InvalidResponse("empty output".to_owned()));
                }
                serde_json::from_str(&body)
                    .map_err(|e| InvokeError::InvalidResponse(format!("invalid JSON: {e}")))
            }
        }
    }
}
