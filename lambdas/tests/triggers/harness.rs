//! A real rp-server on loopback with a fresh database, and trigger events shaped as
//! Cognito sends them.

use std::path::PathBuf;

use cognito_triggers::{Config, Deps};
use rp_server::clock::Clock;
use serde_json::{Value, json};
use testkit::authenticator::SoftAuthenticator;
use testkit::rp::TestRp;

pub use testkit::rp::{ORIGIN, SERVICE_TOKEN};

/// The shared in-process rp-server ([`TestRp`]) with what the trigger tests ask of it.
pub struct Rp {
    inner: TestRp,
    pub base: String,
    pub clock: Clock,
}

impl Rp {
    pub async fn start() -> Self {
        let inner = TestRp::spawn_with(|c| c.admin_token = None).await;
        Self {
            base: inner.base.clone(),
            clock: inner.clock.clone(),
            inner,
        }
    }

    pub async fn post(&self, path: &str, bearer: Option<&str>, body: &Value) -> (u16, Value) {
        let r = self.inner.post(path, bearer, body).await;
        (r.status, r.body)
    }

    /// Registers a passkey for a new user; returns the user's (sub, username).
    pub async fn user_with_passkey(
        &self,
        name: &str,
        authn: &mut SoftAuthenticator,
    ) -> (String, String) {
        let sub = uuid::Uuid::new_v4().to_string();
        let token = self.inner.idp.access_token(&sub, name).unwrap();
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
