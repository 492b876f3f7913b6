//! A local AWS Lambda for tests: it serves the Lambda *Runtime API* to a real function
//! process it starts (the same protocol Lambda speaks to a `provided.al2023` bootstrap),
//! and the Lambda *Invoke API* (`POST /2015-03-31/functions/<name>/invocations`) to
//! callers. A function error is answered as Lambda does: HTTP 200 with
//! `X-Amz-Function-Error: Unhandled` and the error document; a timeout likewise.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use axum::Router;
use axum::body::Bytes;
use axum::extract::{Path as UrlPath, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use tokio::sync::{Mutex, mpsc, oneshot};

enum Outcome {
    Ok(Bytes),
    Error(Bytes),
}

struct Invocation {
    id: String,
    payload: Bytes,
    deadline: SystemTime,
}

/// Answers to hold back: the next `count` invocations for `trigger_source` are answered
/// only after `delay`, though the function finished (a caller that stopped waiting
/// sees a timeout after the work was done).
struct Hold {
    trigger_source: String,
    count: usize,
    delay: Duration,
}

struct Shared {
    holds: std::sync::Mutex<Vec<Hold>>,
    /// Invocations so far, by the event's `triggerSource`.
    seen: std::sync::Mutex<HashMap<String, usize>>,
    function_name: String,
    timeout: Duration,
    queue_tx: mpsc::UnboundedSender<Invocation>,
    queue_rx: Mutex<mpsc::UnboundedReceiver<Invocation>>,
    waiting: Mutex<HashMap<String, oneshot::Sender<Outcome>>>,
    init_error: Mutex<Option<Bytes>>,
}

/// A running local Lambda with one function process.
pub struct LocalLambda {
    pub addr: SocketAddr,
    pub function_name: String,
    shared: Arc<Shared>,
    stop: Option<oneshot::Sender<()>>,
    _server: tokio::task::JoinHandle<()>,
}

impl LocalLambda {
    /// Serves the APIs and starts `binary` as the function, with `env` added to the
    /// variables Lambda sets. `timeout` is the function timeout (Cognito allows 5 s).
    pub async fn start(
        binary: &Path,
        function_name: &str,
        env: &[(&str, String)],
        timeout: Duration,
    ) -> anyhow::Result<Self> {
        let mut lambda = Self::serve(function_name, timeout).await?;
        lambda.spawn_function(binary, env)?;
        Ok(lambda)
    }

    /// Starts `binary` as the function of a local Lambda made with [`LocalLambda::serve`]
    /// (whose endpoint a caller may need to know before the function's settings are).
    pub fn spawn_function(&mut self, binary: &Path, env: &[(&str, String)]) -> anyhow::Result<()> {
        let function_name = self.function_name.as_str();
        let mut cmd = tokio::process::Command::new(binary);
        cmd.env("AWS_LAMBDA_RUNTIME_API", self.addr.to_string())
            .env("AWS_LAMBDA_FUNCTION_NAME", function_name)
            .env("AWS_LAMBDA_FUNCTION_MEMORY_SIZE", "128")
            .env("AWS_LAMBDA_FUNCTION_VERSION", "$LATEST")
            .env(
                "AWS_LAMBDA_LOG_GROUP_NAME",
                format!("/aws/lambda/{function_name}"),
            )
            .env("AWS_LAMBDA_LOG_STREAM_NAME", "local")
            .env("AWS_REGION", "eu-west-1")
            .kill_on_drop(true);
        for (k, v) in env {
            cmd.env(k, v);
        }
        let mut child = cmd.spawn()?;
        let (stop_tx, stop_rx) = oneshot::channel::<()>();
        let shared = self.shared.clone();
        // Like Lambda: a function process that exits fails its pending and later
        // invocations with Runtime.ExitError instead of letting them time out.
        tokio::spawn(async move {
            tokio::select! {
                status = child.wait() => {
                    let status = status.map(|s| s.to_string()).unwrap_or_else(|e| e.to_string());
                    let body = Bytes::from(serde_json::json!({
                        "errorType": "Runtime.ExitError",
                        "errorMessage": format!("Runtime exited with error: {status}"),
                    }).to_string());
                    *shared.init_error.lock().await = Some(body.clone());
                    for (_, tx) in shared.waiting.lock().await.drain() {
                        let _ = tx.send(Outcome::Error(body.clone()));
                    }
                }
                _ = stop_rx => {
                    let _ = child.kill().await;
                }
            }
        });
        self.stop = Some(stop_tx);
        Ok(())
    }

    /// Serves the APIs without starting a process (another process may poll it).
    pub async fn serve(function_name: &str, timeout: Duration) -> anyhow::Result<Self> {
        let (queue_tx, queue_rx) = mpsc::unbounded_channel();
        let shared = Arc::new(Shared {
            holds: std::sync::Mutex::new(Vec::new()),
            seen: std::sync::Mutex::new(HashMap::new()),
            function_name: function_name.to_owned(),
            timeout,
            queue_tx,
            queue_rx: Mutex::new(queue_rx),
            waiting: Mutex::new(HashMap::new()),
            init_error: Mutex::new(None),
        });
        let router_state = shared.clone();
        let router = Router::new()
            .route("/2015-03-31/functions/{name}/invocations", post(invoke))
            .route("/2018-06-01/runtime/invocation/next", get(next))
            .route(
                "/2018-06-01/runtime/invocation/{id}/response",
                post(respond),
            )
            .route("/2018-06-01/runtime/invocation/{id}/error", post(fail))
            .route("/2018-06-01/runtime/init/error", post(init_error))
            .with_state(router_state);
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
        let addr = listener.local_addr()?;
        let server = tokio::spawn(async move {
            let _ = axum::serve(listener, router).await;
        });
        Ok(Self {
            addr,
            function_name: function_name.to_owned(),
            shared,
            stop: None,
            _server: server,
        })
    }

    /// The Invoke API URL of the function.
    pub fn invoke_url(&self) -> String {
        format!(
            "http://{}/2015-03-31/functions/{}/invocations",
            self.addr, self.function_name
        )
    }

    /// The endpoint to give an AWS SDK Lambda client (or the Cognito stand-in).
    pub fn endpoint(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// Holds back the answers of the next `count` invocations whose event has this
    /// `triggerSource` for `delay` after the function returned them: the function did
    /// its work, but a caller with a shorter timeout gives up (and Cognito retries).
    pub fn hold_answers(&self, trigger_source: &str, count: usize, delay: Duration) {
        self.shared
            .holds
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .push(Hold {
                trigger_source: trigger_source.to_owned(),
                count,
                delay,
            });
    }

    /// How many invocations carried an event with this `triggerSource`.
    pub fn invocations(&self, trigger_source: &str) -> usize {
        self.shared
            .seen
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .get(trigger_source)
            .copied()
            .unwrap_or(0)
    }

    /// Stops the function process (dropping the `LocalLambda` does too).
    pub fn stop(&mut self) {
        if let Some(tx) = self.stop.take() {
            let _ = tx.send(());
        }
    }

    /// The error document the function failed to start with, if it did.
    pub async fn init_error(&self) -> Option<String> {
        self.shared
            .init_error
            .lock()
            .await
            .as_ref()
            .map(|b| String::from_utf8_lossy(b).into_owned())
    }
}

async fn invoke(
    State(s): State<Arc<Shared>>,
    UrlPath(name): UrlPath<String>,
    payload: Bytes,
) -> Response {
    if name != s.function_name {
        return (
            StatusCode::NOT_FOUND,
            [("x-amzn-errortype", "ResourceNotFoundException")],
            format!(r#"{{"Type":"User","message":"Function not found: {name}"}}"#),
        )
            .into_response();
    }
    if let Some(body) = s.init_error.lock().await.clone() {
        return function_error(body);
    }
    let source = serde_json::from_slice::<serde_json::Value>(&payload)
        .ok()
        .and_then(|v| v["triggerSource"].as_str().map(str::to_owned));
    if let Some(source) = &source {
        *s.seen
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .entry(source.clone())
            .or_default() += 1;
    }
    let hold = source.and_then(|source| {
        let mut holds = s.holds.lock().unwrap_or_else(|p| p.into_inner());
        let h = holds
            .iter_mut()
            .find(|h| h.trigger_source == source && h.count > 0)?;
        h.count -= 1;
        Some(h.delay)
    });
    let id = uuid::Uuid::new_v4().to_string();
    let (tx, rx) = oneshot::channel();
    s.waiting.lock().await.insert(id.clone(), tx);
    let _ = s.queue_tx.send(Invocation {
        id: id.clone(),
        payload,
        deadline: SystemTime::now() + s.timeout,
    });
    match tokio::time::timeout(s.timeout, rx).await {
        Ok(Ok(Outcome::Ok(body))) => {
            if let Some(delay) = hold {
                tokio::time::sleep(delay).await;
            }
            (
                StatusCode::OK,
                [("x-amz-executed-version", "$LATEST")],
                body,
            )
                .into_response()
        }
        Ok(Ok(Outcome::Error(body))) => function_error(body),
        Ok(Err(_)) | Err(_) => {
            s.waiting.lock().await.remove(&id);
            function_error(Bytes::from(format!(
                r#"{{"errorMessage":"Task timed out after {:.2} seconds","errorType":"Sandbox.Timedout"}}"#,
                s.timeout.as_secs_f64()
            )))
        }
    }
}

fn function_error(body: Bytes) -> Response {
    let mut r = (StatusCode::OK, body).into_response();
    r.headers_mut().insert(
        "x-amz-function-error",
        HeaderValue::from_static("Unhandled"),
    );
    r
}

async fn next(State(s): State<Arc<Shared>>) -> Response {
    let mut rx = s.queue_rx.lock().await;
    let Some(inv) = rx.recv().await else {
        return StatusCode::GONE.into_response();
    };
    let deadline_ms = inv
        .deadline
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_millis())
        .unwrap_or(0);
    let mut headers = HeaderMap::new();
    let mut put = |k: &'static str, v: String| {
        if let Ok(v) = HeaderValue::from_str(&v) {
            headers.insert(k, v);
        }
    };
    put("lambda-runtime-aws-request-id", inv.id);
    put("lambda-runtime-deadline-ms", deadline_ms.to_string());
    put(
        "lambda-runtime-invoked-function-arn",
        format!(
            "arn:aws:lambda:eu-west-1:000000000000:function:{}",
            s.function_name
        ),
    );
    put(
        "lambda-runtime-trace-id",
        "Root=1-00000000-000000000000000000000000;Sampled=0".to_owned(),
    );
    (StatusCode::OK, headers, inv.payload).into_response()
}

async fn respond(s: State<Arc<Shared>>, id: UrlPath<String>, body: Bytes) -> StatusCode {
    complete(s, id, Outcome::Ok(body)).await
}

async fn fail(s: State<Arc<Shared>>, id: UrlPath<String>, body: Bytes) -> StatusCode {
    complete(s, id, Outcome::Error(body)).await
}

/// Hands the function's result to the invocation waiting for it.
async fn complete(
    State(s): State<Arc<Shared>>,
    UrlPath(id): UrlPath<String>,
    outcome: Outcome,
) -> StatusCode {
    match s.waiting.lock().await.remove(&id) {
        Some(tx) => {
            let _ = tx.send(outcome);
            StatusCode::ACCEPTED
        }
        None => StatusCode::BAD_REQUEST,
    }
}

async fn init_error(State(s): State<Arc<Shared>>, body: Bytes) -> StatusCode {
    *s.init_error.lock().await = Some(body);
    StatusCode::ACCEPTED
}
