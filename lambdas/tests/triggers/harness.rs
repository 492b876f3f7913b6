//! A real rp-server on loopback with a fresh database, and trigger events shaped as
//! Cognito sends them.

use std::path::PathBuf;
use std::time::Duration;

use cognito_triggers::{Config, Deps};
use rp_server::clock::Clock;
use rp_server::config::{LogFormat, Origin};
use secrecy::SecretString;
use serde_json::{Value, json};
use testkit::authenticator::SoftAuthenticator;
use testkit::idp::TokenIssuer;

pub const ORIGIN: &str = "https://app.example.test";
pub const SERVICE_TOKEN: &str = "service-token-0123456789abcdef0123456789";

pub struct Rp {
    pub base: String,
    pub http: reqwest::Client,
    pub idp: TokenIssuer,
    pub clock: Clock,
    _stop: tokio::sync::oneshot::Sender<()>,
}

impl Rp {
    pub async fn start() -> Self {
        let idp = TokenIssuer::start().await.unwrap();
        let config = rp_server::config::Config {
            database_url: SecretString::from(testkit::db::fresh_database().await.unwrap()),
            db_max_connections: 10,
            listen_addr: "127.0.0.1:0".parse().unwrap(),
            rp_id: "example.test".to_owned(),
            rp_name: "Example".to_owned(),
            origins: vec![Origin::Web(url::Url::parse(ORIGIN).unwrap())],
            cognito_issuer: idp.issuer.clone(),
            cognito_jwks_url: url::Url::parse(&idp.jwks_url).unwrap(),
            cognito_client_ids: vec![idp.client_id.clone()],
            service_token: SecretString::from(SERVICE_TOKEN.to_owned()),
            admin_token: None,
            ceremony_ttl: Duration::from_secs(300),
            nonce_ttl: Duration::from_secs(120),
            enrolment_ttl: Duration::from_secs(900),
            rate_limit_per_min: 0,
            trusted_proxies: vec![],
            auto_migrate: true,
            log_format: LogFormat::Pretty,
            signup_user_pool_id: None,
        };
        let clock = Clock::manual(chrono::Utc::now());
        let app = rp_server::Application::build(config, clock.clone())
            .await
            .unwrap();
        let base = format!("http://{}", app.local_addr().unwrap());
        let (tx, rx) = tokio::sync::oneshot::channel::<()>();
        tokio::spawn(app.run_until(async move {
            let _ = rx.await;
        }));
        Self {
            base,
            http: reqwest::Client::new(),
            idp,
            clock,
            _stop: tx,
        }
    }

    pub async fn post(&self, path: &str, bearer: Option<&str>, body: &Value) -> (u16, Value) {
        let mut req = self.http.post(format!("{}{path}", self.base)).json(body);
        if let Some(b) = bearer {
            req = req.bearer_auth(b);
        }
        let r = req.send().await.unwrap();
        let status = r.status().as_u16();
        (status, r.json().await.unwrap_or(Value::Null))
    }

    /// Registers a passkey for a new user; returns the user's (sub, username).
    pub async fn user_with_passkey(
        &self,
        name: &str,
        authn: &mut SoftAuthenticator,
    ) -> (String, String) {
        let sub = uuid::Uuid::new_v4().to_string();
        let token = self.idp.access_token(&sub, name).unwrap();
        let (s, options) = self
            .post("/v1/registration/options", Some(&token), &json!({}))
            .await;
        assert_eq!(s, 200, "{options}");
        let credential = authn.create(&options["publicKey"], ORIGIN).unwrap();
        let (s, body) = self
            .post(
                "/v1/registration/verify",
                Some(&token),
                &json!({ "ceremonyId": options["ceremonyId"], "credential": credential }),
            )
            .await;
        assert_eq!(s, 201, "{body}");
        (sub, name.to_owned())
    }

    /// What the browser does with Create's public parameters: the passkey ceremony,
    /// ending in a nonce.
    pub async fn answer(&self, create_output: &Value, authn: &mut SoftAuthenticator) -> String {
        let params = &create_output["response"]["publicChallengeParameters"];
        let options: Value = serde_json::from_str(params["publicKey"].as_str().unwrap()).unwrap();
        let assertion = authn.get(&options, ORIGIN).unwrap();
        let (s, body) = self
            .post(
                "/v1/authentication/verify",
                None,
                &json!({ "ceremonyId": params["ceremonyId"], "credential": assertion }),
            )
            .await;
        assert_eq!(s, 200, "{body}");
        body["nonce"].as_str().unwrap().to_owned()
    }

    /// A passkey-first nonce (usernameless ceremony).
    pub async fn usernameless_nonce(&self, authn: &mut SoftAuthenticator) -> String {
        let (_, options) = self
            .post("/v1/authentication/options", None, &json!({}))
            .await;
        let assertion = authn.get(&options["publicKey"], ORIGIN).unwrap();
        let (s, body) = self
            .post(
                "/v1/authentication/verify",
                None,
                &json!({ "ceremonyId": options["ceremonyId"], "credential": assertion }),
            )
            .await;
        assert_eq!(s, 200, "{body}");
        body["nonce"].as_str().unwrap().to_owned()
    }

    pub fn deps(&self) -> Deps {
        deps_for(&self.base, 2000)
    }
}

pub fn deps_for(url: &str, timeout_ms: u64) -> Deps {
    let vars = [
        ("RP_SERVER_URL", url.to_owned()),
        ("RP_SERVICE_TOKEN", SERVICE_TOKEN.to_owned()),
        ("RP_TIMEOUT_MS", timeout_ms.to_string()),
    ];
    let config =
        Config::from_lookup(|k| vars.iter().find(|(n, _)| *n == k).map(|(_, v)| v.clone()))
            .unwrap();
    Deps::new(config).unwrap()
}

pub fn fixture_path(rel: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures")
        .join(rel)
}

/// A fixture with `{{name}}` placeholders filled.
pub fn fixture(rel: &str, vars: &[(&str, &str)]) -> Value {
    let mut text = std::fs::read_to_string(fixture_path(rel)).unwrap();
    for (k, v) in vars {
        text = text.replace(&format!("{{{{{k}}}}}"), v);
    }
    serde_json::from_str(&text).unwrap()
}

/// Asserts that `output` equals `input` everywhere but `response`.
#[track_caller]
pub fn only_response_changed(input: &Value, output: &Value) {
    let strip = |v: &Value| {
        let mut v = v.clone();
        v.as_object_mut().unwrap().remove("response");
        v
    };
    assert_eq!(
        strip(input),
        strip(output),
        "the handler changed more than `response`"
    );
}
