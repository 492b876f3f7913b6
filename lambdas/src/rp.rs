//! The client of rp-server's internal API, built once per container.

use std::time::Duration;

use rp_shared::internal::{ChallengeRequest, ChallengeResponse, RedeemRequest, RedeemResponse};
use secrecy::{ExposeSecret as _, SecretString};
use serde::Serialize;
use serde::de::DeserializeOwned;
use url::Url;

use crate::config::Config;

#[derive(Debug, thiserror::Error)]
pub enum CallError {
    #[error("RP_SERVER_URL / RP_SERVICE_TOKEN are not configured")]
    NotConfigured,
    #[error("rp-server did not answer within {0:?}")]
    Timeout(Duration),
    #[error("rp-server answered HTTP {0}")]
    Status(u16),
    #[error("rp-server's answer could not be decoded: {0}")]
    Decode(String),
    #[error("could not reach rp-server: {0}")]
    Transport(String),
}

pub struct RpClient {
    base: Option<(Url, SecretString)>,
    http: reqwest::Client,
    timeout: Duration,
}

impl RpClient {
    pub fn new(config: &Config) -> Result<Self, reqwest::Error> {
        let http = reqwest::Client::builder()
            .timeout(config.timeout)
            .connect_timeout(config.timeout)
            .user_agent(concat!("cognito-triggers/", env!("CARGO_PKG_VERSION")))
            .build()?;
        Ok(Self {
            base: config
                .rp_server_url
                .clone()
                .zip(config.service_token.clone()),
            http,
            timeout: config.timeout,
        })
    }

    pub async fn challenge(&self, req: &ChallengeRequest) -> Result<ChallengeResponse, CallError> {
        self.post("internal/v1/challenges", req).await
    }

    pub async fn redeem(&self, req: &RedeemRequest) -> Result<RedeemResponse, CallError> {
        self.post("internal/v1/nonces/redeem", req).await
    }

    async fn post<B: Serialize, T: DeserializeOwned>(
        &self,
        path: &str,
        body: &B,
    ) -> Result<T, CallError> {
        let (base, token) = self.base.as_ref().ok_or(CallError::NotConfigured)?;
        let mut url = base.clone();
        if !url.path().ends_with('/') {
            url.set_path(&format!("{}/", url.path()));
        }
        let url = url
            .join(path)
            .map_err(|e| CallError::Transport(e.to_string()))?;
        let response = self
            .http
            .post(url)
            .bearer_auth(token.expose_secret())
            .json(body)
            .send()
            .await
            .map_err(|e| self.classify(e))?;
        let status = response.status();
        if !status.is_success() {
            return Err(CallError::Status(status.as_u16()));
        }
        response.json::<T>().await.map_err(|e| {
            if e.is_timeout() {
                CallError::Timeout(self.timeout)
            } else {
                CallError::Decode(e.without_url().to_string())
            }
        })
    }

    fn classify(&self, e: reqwest::Error) -> CallError {
        if e.is_timeout() {
            CallError::Timeout(self.timeout)
        } else {
            CallError::Transport(e.without_url().to_string())
        }
    }
}
