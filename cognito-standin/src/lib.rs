//! A local stand-in for an Amazon Cognito user pool, faithful enough that the official
//! clients (the AWS SDKs, boto3, Amplify JS) cannot tell the difference for the calls
//! this product uses: Cognito's JSON protocol (`POST /` with `X-Amz-Target`), its error
//! format, RS256 tokens with Cognito's claims and a JWKS, and the custom-auth trigger
//! state machine, calling real Lambda triggers. See `docs/cognito-standin.md` for where
//! it knowingly differs from Cognito.

pub mod auth;
pub mod config;
pub mod error;
pub mod oauth;
pub mod pool;
pub mod srp;
pub mod tokens;
pub mod triggers;
pub mod users;
pub mod webauthn;

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use anyhow::Context as _;
use axum::Router;
use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, HeaderName, HeaderValue, Method, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use serde_json::{Value, json};
use tower_http::cors::{AllowHeaders, AllowOrigin, CorsLayer};

use config::{Config, PoolConfig};
use error::CognitoError;
use pool::Pool;
use tokens::Signer;
use triggers::{InProcessHandler, InvokeError, Invoker};

/// The stand-in's state, shared by every request.
pub struct Standin {
    pub public_url: String,
    pools: Mutex<HashMap<String, Pool>>,
    invokers: HashMap<String, Invoker>,
    pub signer: Signer,
}

/// A running stand-in.
pub struct Server {
    pub addr: SocketAddr,
    pub standin: Arc<Standin>,
    listener: tokio::net::TcpListener,
}

impl Server {
    /// Binds `config.listen` and prepares the pools. `in_process` runs triggers of pools
    /// without a `lambda_endpoint`.
    pub async fn bind(
        config: Config,
        in_process: Option<InProcessHandler>,
    ) -> anyhow::Result<Self> {
        config.validate()?;
        let listener = tokio::net::TcpListener::bind(config.listen)
            .await
            .with_context(|| format!("binding {}", config.listen))?;
        Self::on(listener, config, in_process)
    }

    /// As [`Server::bind`], on a listener the caller bound (port 0, then learnt the
    /// address: nobody races for a port picked in advance).
    pub fn on(
        listener: tokio::net::TcpListener,
        config: Config,
        in_process: Option<InProcessHandler>,
    ) -> anyhow::Result<Self> {
        config.validate()?;
        let addr = listener.local_addr()?;
        let standin = Standin::new(&config, config.public_url(addr), in_process)?;
        Ok(Self {
            addr,
            standin: Arc::new(standin),
            listener,
        })
    }

    pub async fn run(
        self,
        shutdown: impl std::future::Future<Output = ()> + Send + 'static,
    ) -> anyhow::Result<()> {
        axum::serve(self.listener, router(self.standin))
            .with_graceful_shutdown(shutdown)
            .await
            .context("serving")
    }
}

impl Standin {
    pub fn new(
        config: &Config,
        public_url: String,
        in_process: Option<InProcessHandler>,
    ) -> anyhow::Result<Self> {
        let now = chrono::Utc::now();
        let mut invokers = HashMap::new();
        for p in &config.pools {
            let invoker = match (&p.triggers.lambda_endpoint, &in_process) {
                (Some(endpoint), _) => Some(Invoker::http(endpoint)?),
                (None, Some(handler)) => Some(Invoker::InProcess(handler.clone())),
                (None, None) => None,
            };
            if let Some(i) = invoker {
                invokers.insert(p.id.clone(), i);
            }
        }
        let mut pools = HashMap::new();
        for p in &config.pools {
            pools.insert(p.id.clone(), Pool::new(p.clone(), now)?);
        }
        Ok(Self {
            public_url,
            pools: Mutex::new(pools),
            invokers,
            signer: Signer::generate()?,
        })
    }

    /// The pending ConfirmSignUp code of a user (the stand-in logs it instead of
    /// emailing it; tests and the local stack read it here).
    pub fn confirmation_code(&self, pool_id: &str, username: &str) -> Option<String> {
        self.with_pool(pool_id, |p| Ok(p.user(username)?.confirmation_code.clone()))
            .ok()
            .flatten()
    }

    /// Whether `op` plays an outage (`unavailable_operations`) in the pool the request
    /// names (by `UserPoolId` or `ClientId`).
    fn unavailable(&self, op: &str, input: &Value) -> bool {
        let pool_id = match input.get("UserPoolId").and_then(Value::as_str) {
            Some(id) => Some(id.to_owned()),
            None => input
                .get("ClientId")
                .and_then(Value::as_str)
                .and_then(|c| self.pool_of_client(c).ok()),
        };
        pool_id.is_some_and(|id| {
            self.pools()
                .get(&id)
                .is_some_and(|p| p.config.unavailable_operations.iter().any(|o| o == op))
        })
    }

    pub fn issuer(&self, pool_id: &str) -> String {
        format!("{}/{pool_id}", self.public_url)
    }

    pub(crate) fn pools(&self) -> MutexGuard<'_, HashMap<String, Pool>> {
        self.pools.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Runs `f` on the pool with this id.
    pub(crate) fn with_pool<T>(
        &self,
        pool_id: &str,
        f: impl FnOnce(&mut Pool) -> Result<T, CognitoError>,
    ) -> Result<T, CognitoError> {
        let mut pools = self.pools();
        let pool = pools.get_mut(pool_id).ok_or_else(|| {
            CognitoError::resource_not_found(format!("User pool {pool_id} does not exist."))
        })?;
        f(pool)
    }

    /// The id of the pool that has this app client.
    pub(crate) fn pool_of_client(&self, client_id: &str) -> Result<String, CognitoError> {
        self.pools()
            .values()
            .find(|p| p.config.clients.iter().any(|c| c.id == client_id))
            .map(|p| p.config.id.clone())
            .ok_or_else(|| {
                CognitoError::resource_not_found(format!(
                    "User pool client {client_id} does not exist."
                ))
            })
    }

    pub(crate) fn pool_config(&self, pool_id: &str) -> Result<PoolConfig, CognitoError> {
        self.with_pool(pool_id, |p| Ok(p.config.clone()))
    }

    /// Calls a trigger the way Cognito does and maps its failures to Cognito's errors.
    /// `None` when the pool has no such trigger.
    pub(crate) async fn trigger(
        &self,
        pool: &PoolConfig,
        trigger: Trigger,
        event: Value,
    ) -> Result<Option<Value>, CognitoError> {
        let function = match trigger {
            Trigger::Define => &pool.triggers.define_auth_challenge,
            Trigger::Create => &pool.triggers.create_auth_challenge,
            Trigger::Verify => &pool.triggers.verify_auth_challenge_response,
            Trigger::PreSignUp => &pool.triggers.pre_sign_up,
        };
        let Some(function) = function else {
            return Ok(None);
        };
        let Some(invoker) = self.invokers.get(&pool.id) else {
            return Err(CognitoError::new(
                "UnexpectedLambdaException",
                format!(
                    "{} invocation failed: no Lambda endpoint is configured for pool {}",
                    trigger.name(),
                    pool.id
                ),
            ));
        };
        // Cognito retries an attempt that timed out or met a Lambda service error (not
        // one where the function itself failed), up to `attempts` in all.
        let timeout = Duration::from_millis(pool.triggers.timeout_ms);
        let mut attempt = 1;
        let outcome = loop {
            match invoker.invoke(function, event.clone(), timeout).await {
                Err(InvokeError::Unreachable(msg)) if attempt < pool.triggers.attempts => {
                    tracing::info!(trigger = trigger.name(), attempt, error = %msg, "retrying the trigger, as Cognito does");
                    attempt += 1;
                }
                other => break other,
            }
        };
        match outcome {
            Ok(v) if v.is_object() => Ok(Some(v)),
            Ok(_) | Err(InvokeError::InvalidResponse(_)) => Err(CognitoError::new(
                "InvalidLambdaResponseException",
                "Unrecognizable lambda output",
            )),
            Err(InvokeError::Function(msg)) => Err(CognitoError::new(
                "UserLambdaValidationException",
                format!("{} failed with error {msg}.", trigger.name()),
            )),
            Err(InvokeError::Unreachable(msg)) => Err(CognitoError::new(
                "UnexpectedLambdaException",
                format!("{} invocation failed due to error {msg}.", trigger.name()),
            )),
        }
    }

    /// The common header of every trigger event.
    pub(crate) fn event(
        &self,
        pool: &PoolConfig,
        trigger_source: &str,
        username: &str,
        client_id: Option<&str>,
        request: Value,
        response: Value,
    ) -> Value {
        json!({
            "version": "1",
            "triggerSource": trigger_source,
            "region": pool.region(),
            "userPoolId": pool.id,
            "userName": username,
            "callerContext": {
                "awsSdkVersion": "aws-sdk-unknown-unknown",
                "clientId": client_id.unwrap_or("CLIENT_ID_NOT_APPLICABLE"),
            },
            "request": request,
            "response": response,
        })
    }
}

#[derive(Debug, Clone, Copy)]
pub enum Trigger {
    Define,
    Create,
    Verify,
    PreSignUp,
}

impl Trigger {
    pub fn name(self) -> &'static str {
        match self {
            Self::Define => "DefineAuthChallenge",
            Self::Create => "CreateAuthChallenge",
            Self::Verify => "VerifyAuthChallengeResponse",
            Self::PreSignUp => "PreSignUp",
        }
    }
}

const TARGET_PREFIX: &str = "AWSCognitoIdentityProviderService.";

pub fn router(standin: Arc<Standin>) -> Router {
    let cors = CorsLayer::new()
        .allow_origin(AllowOrigin::mirror_request())
        .allow_methods([Method::POST, Method::GET, Method::OPTIONS])
        .allow_headers(AllowHeaders::mirror_request())
        .expose_headers([
            HeaderName::from_static("x-amzn-requestid"),
            HeaderName::from_static("x-amzn-errortype"),
            HeaderName::from_static("x-amzn-errormessage"),
            HeaderName::from_static("date"),
        ])
        .max_age(Duration::from_secs(300));
    Router::new()
        .route("/", post(api))
        .route("/health", get(|| async { "ok" }))
        .route("/{pool}/.well-known/jwks.json", get(jwks))
        .route(
            "/{pool}/.well-known/openid-configuration",
            get(openid_configuration),
        )
        .merge(oauth::routes())
        .layer(cors)
        .with_state(standin)
}

async fn api(State(standin): State<Arc<Standin>>, headers: HeaderMap, body: Bytes) -> Response {
    let request_id = uuid::Uuid::new_v4().to_string();
    let target = headers
        .get("x-amz-target")
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default();
    let result = match target.strip_prefix(TARGET_PREFIX) {
        None => Err(CognitoError::new("UnknownOperationException", "")),
        Some(op) => match serde_json::from_slice::<Value>(&body) {
            Ok(input) if input.is_object() => dispatch(&standin, op, input).await,
            _ => Err(CognitoError::new(
                "SerializationException",
                "Start of structure or map found where not expected.",
            )),
        },
    };
    let mut response = match result {
        Ok(output) => {
            let mut r = (StatusCode::OK, output.to_string()).into_response();
            r.headers_mut().insert(
                "content-type",
                HeaderValue::from_static("application/x-amz-json-1.1"),
            );
            r
        }
        Err(e) => {
            tracing::info!(operation = target, error = e.name, message = %e.message, "request failed");
            e.into_response()
        }
    };
    if let Ok(v) = HeaderValue::from_str(&request_id) {
        response.headers_mut().insert("x-amzn-requestid", v);
    }
    response
}

async fn dispatch(s: &Standin, op: &str, input: Value) -> Result<Value, CognitoError> {
    if s.unavailable(op, &input) {
        return Err(CognitoError::new(
            "InternalErrorException",
            "Internal server error.",
        ));
    }
    match op {
        "InitiateAuth" => auth::initiate_auth(s, &input, false).await,
        "AdminInitiateAuth" => auth::initiate_auth(s, &input, true).await,
        "RespondToAuthChallenge" => auth::respond_to_auth_challenge(s, &input, false).await,
        "AdminRespondToAuthChallenge" => auth::respond_to_auth_challenge(s, &input, true).await,
        "GetUser" => auth::get_user(s, &input),
        "StartWebAuthnRegistration" => webauthn::start_registration(s, &input),
        "CompleteWebAuthnRegistration" => webauthn::complete_registration(s, &input),
        "ListWebAuthnCredentials" => webauthn::list(s, &input),
        "DeleteWebAuthnCredential" => webauthn::delete(s, &input),
        "GlobalSignOut" => auth::global_sign_out(s, &input),
        "RevokeToken" => auth::revoke_token(s, &input),
        "SignUp" => users::sign_up(s, &input).await,
        "ConfirmSignUp" => users::confirm_sign_up(s, &input),
        "AdminCreateUser" => users::admin_create_user(s, &input).await,
        "AdminSetUserPassword" => users::admin_set_user_password(s, &input),
        "AdminGetUser" => users::admin_get_user(s, &input),
        "AdminUpdateUserAttributes" => users::admin_update_user_attributes(s, &input),
        "AdminDeleteUser" => users::admin_delete_user(s, &input),
        "AdminUserGlobalSignOut" => users::admin_user_global_sign_out(s, &input),
        "ListUsers" => users::list_users(s, &input),
        "DescribeUserPool" => users::describe_user_pool(s, &input),
        "DescribeUserPoolClient" => users::describe_user_pool_client(s, &input),
        "CreateIdentityProvider" => oauth::create_identity_provider(s, &input),
        "CreateGroup" => users::create_group(s, &input),
        "AdminAddUserToGroup" => users::admin_group_membership(s, &input, true),
        "AdminRemoveUserFromGroup" => users::admin_group_membership(s, &input, false),
        "AdminListGroupsForUser" => users::admin_list_groups_for_user(s, &input),
        "AdminLinkProviderForUser" => oauth::admin_link_provider_for_user(s, &input),
        other => Err(CognitoError::new(
            "UnknownOperationException",
            format!("The stand-in does not implement {other}."),
        )),
    }
}

async fn jwks(State(s): State<Arc<Standin>>, Path(pool): Path<String>) -> Response {
    if !s.pools().contains_key(&pool) {
        return (StatusCode::NOT_FOUND, "").into_response();
    }
    axum::Json(s.signer.jwks()).into_response()
}

async fn openid_configuration(State(s): State<Arc<Standin>>, Path(pool): Path<String>) -> Response {
    if !s.pools().contains_key(&pool) {
        return (StatusCode::NOT_FOUND, "").into_response();
    }
    let issuer = s.issuer(&pool);
    let hosted = s
        .pool_config(&pool)
        .is_ok_and(|c| c.domain.is_some())
        .then(|| oauth::domain_url(&s, &pool));
    let mut doc = json!({
        "issuer": issuer,
        "jwks_uri": format!("{issuer}/.well-known/jwks.json"),
        "id_token_signing_alg_values_supported": ["RS256"],
        "subject_types_supported": ["public"],
        "response_types_supported": ["code", "token"],
        "scopes_supported": ["openid", "email", "phone", "profile"],
        "token_endpoint_auth_methods_supported": ["client_secret_basic", "client_secret_post"],
    });
    // A pool with a domain: its hosted endpoints.
    if let Some(domain) = hosted {
        doc["authorization_endpoint"] = json!(format!("{domain}/oauth2/authorize"));
        doc["token_endpoint"] = json!(format!("{domain}/oauth2/token"));
        doc["userinfo_endpoint"] = json!(format!("{domain}/oauth2/userInfo"));
        doc["end_session_endpoint"] = json!(format!("{domain}/logout"));
    }
    axum::Json(doc).into_response()
}

/// Reads a required string parameter.
pub(crate) fn required<'a>(input: &'a Value, name: &str) -> Result<&'a str, CognitoError> {
    input
        .get(name)
        .and_then(Value::as_str)
        .filter(|s| !s.is_empty())
        .ok_or_else(|| CognitoError::invalid_parameter(format!("1 validation error detected: Value at '{}' failed to satisfy constraint: Member must not be null", lower_first(name))))
}

fn lower_first(s: &str) -> String {
    let mut c = s.chars();
    c.next()
        .map(|f| f.to_lowercase().chain(c).collect())
        .unwrap_or_default()
}

/// `[{Name, Value}]` → map.
pub(crate) fn attributes(input: &Value, name: &str) -> std::collections::BTreeMap<String, String> {
    input
        .get(name)
        .and_then(Value::as_array)
        .map(|a| {
            a.iter()
                .filter_map(|x| {
                    Some((
                        x.get("Name")?.as_str()?.to_owned(),
                        x.get("Value")?.as_str()?.to_owned(),
                    ))
                })
                .collect()
        })
        .unwrap_or_default()
}

/// An object of strings, or `{}`.
pub(crate) fn string_map(input: &Value, name: &str) -> Value {
    match input.get(name) {
        Some(Value::Object(m)) => Value::Object(
            m.iter()
                .filter(|(_, v)| v.is_string())
                .map(|(k, v)| (k.clone(), v.clone()))
                .collect(),
        ),
        _ => json!({}),
    }
}
