//! The stand-in driven by the official `aws-sdk-cognitoidentityprovider` client, with
//! in-process triggers written here, so protocol and state machine are tested on their
//! own (the product's own triggers are exercised by the end-to-end suite).

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod custom_auth;
mod hosted;
mod passkeys;
mod protocol;
mod strict;

use std::sync::Arc;
use std::time::Duration;

use aws_sdk_cognitoidentityprovider as cip;
use cognito_standin::config::Config;
use cognito_standin::triggers::InProcessHandler;
use cognito_standin::{Server, Standin};
use serde_json::Value;

pub const POOL: &str = "eu-west-1_StandinTest";
pub const CLIENT: &str = "standinclient";

pub struct Running {
    pub url: String,
    pub client: cip::Client,
    pub standin: Arc<Standin>,
    _stop: tokio::sync::oneshot::Sender<()>,
}

/// A pool whose email is the username attribute, and whose client hides user
/// existence (`PreventUserExistenceErrors: ENABLED`).
pub fn config(extra_pool_toml: &str) -> Config {
    config_with(
        &format!("username_attributes = [\"email\"]\n{extra_pool_toml}"),
        "prevent_user_existence_errors = true",
    )
}

/// A pool with these settings (its shape included) and its client with these.
pub fn config_with(pool_toml: &str, client_toml: &str) -> Config {
    let text = format!(
        r#"
listen = "127.0.0.1:0"
[[pools]]
id = "{POOL}"
{pool_toml}
[[pools.clients]]
id = "{CLIENT}"
explicit_auth_flows = ["ALLOW_CUSTOM_AUTH", "ALLOW_USER_PASSWORD_AUTH", "ALLOW_USER_SRP_AUTH", "ALLOW_REFRESH_TOKEN_AUTH", "ALLOW_ADMIN_USER_PASSWORD_AUTH"]
{client_toml}
[[pools.users]]
username = "seed@example.test"
password = "Seed-password-1"
attributes = {{ email_verified = "true" }}
"#
    );
    toml::from_str(&text).unwrap()
}

pub async fn start(config: Config, handler: Option<InProcessHandler>) -> Running {
    let server = Server::bind(config, handler).await.unwrap();
    let url = format!("http://{}", server.addr);
    let standin = server.standin.clone();
    let (tx, rx) = tokio::sync::oneshot::channel::<()>();
    tokio::spawn(server.run(async move {
        let _ = rx.await;
    }));
    let sdk = aws_config::defaults(aws_config::BehaviorVersion::latest())
        .region(aws_config::Region::new("eu-west-1"))
        .credentials_provider(cip::config::Credentials::new(
            "AKIDLOCAL",
            "local-secret",
            None,
            None,
            "test",
        ))
        .endpoint_url(&url)
        .timeout_config(
            aws_config::timeout::TimeoutConfig::builder()
                .operation_timeout(Duration::from_secs(15))
                .build(),
        )
        .load()
        .await;
    Running {
        url,
        client: cip::Client::new(&sdk),
        standin,
        _stop: tx,
    }
}

/// An in-process trigger from a closure.
pub fn handler(
    f: impl Fn(Value) -> Result<Value, String> + Send + Sync + 'static,
) -> InProcessHandler {
    let f = Arc::new(f);
    Arc::new(move |event| {
        let f = f.clone();
        Box::pin(async move { f(event) })
    })
}

/// The error code of an SDK error.
pub fn code<E: cip::error::ProvideErrorMetadata + std::fmt::Debug>(
    e: &cip::error::SdkError<E>,
) -> String {
    e.as_service_error()
        .and_then(|s| s.code())
        .map(str::to_owned)
        .unwrap_or_else(|| format!("not a service error: {e:?}"))
}

pub fn message<E: cip::error::ProvideErrorMetadata>(e: &cip::error::SdkError<E>) -> String {
    e.as_service_error()
        .and_then(|s| s.message())
        .unwrap_or_default()
        .to_owned()
}
