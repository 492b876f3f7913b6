//! Two sites from one deployment, end to end: one `cognito-standin` with two user pools,
//! one `rp-server` with two `[[site]]` tables on one database, and one `cognito-triggers`
//! function serving both pools. Each pool's users register a passkey and sign in through
//! Cognito's custom authentication; nothing of one site works at the other.

use std::time::Duration;

use aws_sdk_cognitoidentityprovider as cip;
use cip::types::{AttributeType, AuthFlowType, ChallengeNameType, MessageActionType};
use serde_json::{Value, json};
use testkit::authenticator::SoftAuthenticator;
use testkit::lambda::LocalLambda;

use crate::stack::{Scratch, bin, cognito_client, start_rp_server, start_standin};

const SERVICE_TOKEN: &str = "e2e-sites-service-token-0123456789abcdef0123";

/// One site: its pool and app client, its RP ID and the origin its pages are on.
struct Site {
    pool: &'static str,
    client: &'static str,
    rp_id: &'static str,
    origin: &'static str,
}

const A: Site = Site {
    pool: "eu-west-1_SiteA",
    client: "siteaclient",
    rp_id: "localhost",
    origin: "http://localhost:8000",
};
const B: Site = Site {
    pool: "eu-west-1_SiteB",
    client: "sitebclient",
    rp_id: "b.example.test",
    origin: "https://app.b.example.test",
};

struct TwoSites {
    rp_url: String,
    /// rp-server's config file and process, to change the one and signal the other.
    rp_config: std::path::PathBuf,
    rp_pid: u32,
    /// The config file's top level and each site's table.
    tables: (String, String, String),
    cognito: cip::Client,
    http: reqwest::Client,
    _lambda: LocalLambda,
    _children: Vec<tokio::process::Child>,
    _dir: Scratch,
    _database: testkit::db::TestDatabase,
}

impl TwoSites {
    async fn start() -> Self {
        let database = testkit::db::fresh_database().await.unwrap();
        let scratch = Scratch::new("rp-e2e-sites-");
        let dir = scratch.path();
        let mut lambda = LocalLambda::serve("cognito-triggers", Duration::from_secs(30))
            .await
            .unwrap();
        let pool = |s: &Site| {
            format!(
                r#"
[[pools]]
id = "{pool}"
username_attributes = ["email"]
[pools.triggers]
lambda_endpoint = "{endpoint}"
timeout_ms = 5000
define_auth_challenge = "cognito-triggers"
create_auth_challenge = "cognito-triggers"
verify_auth_challenge_response = "cognito-triggers"
[[pools.clients]]
id = "{client}"
explicit_auth_flows = ["ALLOW_CUSTOM_AUTH", "ALLOW_USER_PASSWORD_AUTH", "ALLOW_REFRESH_TOKEN_AUTH"]
prevent_user_existence_errors = true
"#,
                pool = s.pool,
                client = s.client,
                endpoint = lambda.endpoint(),
            )
        };
        let (standin, cognito_url) = start_standin(
            &dir,
            &format!("listen = \"127.0.0.1:0\"\n{}{}", pool(&A), pool(&B)),
        )
        .await;

        let site = |id: &str, s: &Site| {
            format!(
                "[[site]]\nid = \"{id}\"\nrp_id = \"{}\"\norigins = [\"{}\"]\n\
                 cognito_issuer = \"{cognito_url}/{}\"\ncognito_client_ids = [\"{}\"]\n\n",
                s.rp_id, s.origin, s.pool, s.client
            )
        };
        let rp_config = dir.join("rp-server.toml");
        let tables = (
            format!("service_token = \"{SERVICE_TOKEN}\"\nrate_limit_per_min = 0\n\n"),
            site("default", &A),
            site("b", &B),
        );
        std::fs::write(&rp_config, format!("{}{}{}", tables.0, tables.1, tables.2)).unwrap();
        let mut rp = tokio::process::Command::new(bin("rp-server"));
        rp.arg("serve")
            .env_clear()
            .env("PATH", std::env::var("PATH").unwrap_or_default())
            .env("DATABASE_URL", &database.url)
            .env("RP_LISTEN_ADDR", "127.0.0.1:0")
            .env("RP_CONFIG_FILE", &rp_config)
            .env("RUST_LOG", "info");
        let (rp, rp_url) = start_rp_server(&dir, rp).await;
        let rp_pid = rp.id().unwrap();
        lambda
            .spawn_function(
                &bin("cognito-triggers"),
                &[
                    ("RP_SERVER_URL", rp_url.clone()),
                    ("RP_SERVICE_TOKEN", SERVICE_TOKEN.to_owned()),
                    ("AWS_LAMBDA_LOG_FORMAT", "JSON".to_owned()),
                ],
            )
            .unwrap();
        Self {
            rp_url,
            rp_config,
            rp_pid,
            tables,
            cognito: cognito_client(&cognito_url).await,
            http: reqwest::Client::new(),
            _lambda: lambda,
            _children: vec![standin, rp],
            _dir: scratch,
            _database: database,
        }
    }

    /// A POST to rp-server, at the host of `site`'s RP ID.
    async fn rp(
        &self,
        site: &Site,
        path: &str,
        bearer: Option<&str>,
        body: &Value,
    ) -> (u16, Value) {
        let mut req = self
            .http
            .post(format!("{}{path}", self.rp_url))
            .header(reqwest::header::HOST, site.rp_id)
            .json(body);
        if let Some(token) = bearer {
            req = req.bearer_auth(token);
        }
        let r = req.send().await.unwrap();
        let status = r.status().as_u16();
        (status, r.json().await.unwrap_or(Value::Null))
    }

    /// A password user of `site`'s pool who signed in and added a passkey at `site`.
    async fn user_with_passkey(&self, site: &Site, email: &str) -> (String, SoftAuthenticator) {
        let attribute =
            |n: &str, v: &str| AttributeType::builder().name(n).value(v).build().unwrap();
        self.cognito
            .admin_create_user()
            .user_pool_id(site.pool)
            .username(email)
            .user_attributes(attribute("email", email))
            .user_attributes(attribute("email_verified", "true"))
            .message_action(MessageActionType::Suppress)
            .send()
            .await
            .unwrap();
        self.cognito
            .admin_set_user_password()
            .user_pool_id(site.pool)
            .username(email)
            .password("Correct-Horse-9")
            .permanent(true)
            .send()
            .await
            .unwrap();
        let tokens = self
            .cognito
            .initiate_auth()
            .client_id(site.client)
            .auth_flow(AuthFlowType::UserPasswordAuth)
            .auth_parameters("USERNAME", email)
            .auth_parameters("PASSWORD", "Correct-Horse-9")
            .send()
            .await
            .unwrap();
        let token = tokens
            .authentication_result()
            .unwrap()
            .access_token()
            .unwrap()
            .to_owned();
        let mut authn = SoftAuthenticator::new();
        let (s, options) = self
            .rp(site, "/v1/registration/options", Some(&token), &json!({}))
            .await;
        assert_eq!(s, 200, "{options}");
        let credential = authn.create(&options["publicKey"], site.origin).unwrap();
        let (s, summary) = self
            .rp(
                site,
                "/v1/registration/verify",
                Some(&token),
                &json!({ "ceremonyId": options["ceremonyId"], "credential": credential }),
            )
            .await;
        assert_eq!(s, 201, "{summary}");
        (token, authn)
    }

    /// The browser's half at `site`: an assertion for `public_key` made at the site's
    /// origin, verified for `ceremony_id`; verify's answer (`nonce`, `username`).
    async fn answer(
        &self,
        site: &Site,
        public_key: &Value,
        ceremony_id: &Value,
        authn: &mut SoftAuthenticator,
    ) -> Value {
        let assertion = authn.get(public_key, site.origin).unwrap();
        let (s, body) = self
            .rp(
                site,
                "/v1/authentication/verify",
                None,
                &json!({ "ceremonyId": ceremony_id, "credential": assertion }),
            )
            .await;
        assert_eq!(s, 200, "{body}");
        body
    }

    /// Passkey first at `site`: the nonce and the username Cognito knows the user by.
    async fn usernameless(&self, site: &Site, authn: &mut SoftAuthenticator) -> (String, String) {
        let (s, options) = self
            .rp(site, "/v1/authentication/options", None, &json!({}))
            .await;
        assert_eq!(s, 200, "{options}");
        let body = self
            .answer(site, &options["publicKey"], &options["ceremonyId"], authn)
            .await;
        (
            body["nonce"].as_str().unwrap().to_owned(),
            body["username"].as_str().unwrap().to_owned(),
        )
    }

    /// `InitiateAuth(CUSTOM_AUTH)` for `username` in `site`'s pool: the session and the
    /// Create trigger's challenge parameters.
    async fn begin_custom(
        &self,
        site: &Site,
        username: &str,
    ) -> (String, std::collections::HashMap<String, String>) {
        let started = self
            .cognito
            .initiate_auth()
            .client_id(site.client)
            .auth_flow(AuthFlowType::CustomAuth)
            .auth_parameters("USERNAME", username)
            .send()
            .await
            .unwrap();
        (
            started.session().unwrap().to_owned(),
            started.challenge_parameters().unwrap().clone(),
        )
    }

    /// Answers the custom challenge of `session` with `nonce`: whether Cognito issued tokens.
    async fn respond(&self, site: &Site, session: &str, username: &str, nonce: &str) -> bool {
        self.cognito
            .respond_to_auth_challenge()
            .client_id(site.client)
            .challenge_name(ChallengeNameType::CustomChallenge)
            .session(session)
            .challenge_responses("USERNAME", username)
            .challenge_responses("ANSWER", nonce)
            .send()
            .await
            .is_ok_and(|r| r.authentication_result().is_some())
    }

    /// Cognito's custom authentication in `site`'s pool, answered with `nonce`: whether
    /// Cognito issued tokens.
    async fn custom_auth(&self, site: &Site, username: &str, nonce: &str) -> bool {
        let (session, _) = self.begin_custom(site, username).await;
        self.respond(site, &session, username, nonce).await
    }

    /// Username-first at `site`: Cognito's custom authentication starts, the Create trigger
    /// (through rp-server, routed by the pool) offers the user's passkeys, the browser
    /// answers at the site's host, and the nonce answers the challenge. Whether Cognito
    /// issued tokens.
    async fn username_first(
        &self,
        site: &Site,
        username: &str,
        authn: &mut SoftAuthenticator,
    ) -> bool {
        let (session, params) = self.begin_custom(site, username).await;
        let options: Value = serde_json::from_str(&params["publicKey"]).unwrap();
        assert_eq!(options["rpId"], site.rp_id);
        let body = self
            .answer(site, &options, &json!(params["ceremonyId"]), authn)
            .await;
        self.respond(site, &session, username, body["nonce"].as_str().unwrap())
            .await
    }
}

#[tokio::test]
async fn one_deployment_signs_in_two_pools_and_keeps_them_apart() {
    let stack = TwoSites::start().await;
    let (a_token, mut alice) = stack.user_with_passkey(&A, "alice@a.example").await;
    let (_, mut bob) = stack.user_with_passkey(&B, "bob@b.example").await;

    // Each signs in passkey-first at their site; each pool's triggers (one function)
    // redeem the nonce with rp-server, which routes them by the event's pool.
    let (nonce, username) = stack.usernameless(&A, &mut alice).await;
    assert!(stack.custom_auth(&A, &username, &nonce).await);
    let (b_nonce, b_username) = stack.usernameless(&B, &mut bob).await;
    // Username first too, at each site with its own pool's challenge.
    assert!(stack.username_first(&A, &username, &mut alice).await);
    assert!(stack.username_first(&B, &b_username, &mut bob).await);

    // A nonce of B's site answers no challenge of A's pool (A's user or B's name there).
    let (a_nonce, _) = stack.usernameless(&A, &mut alice).await;
    assert!(!stack.custom_auth(&A, &username, &b_nonce).await);
    // ... and B's own challenge still takes it, once; A's nonce is nothing in B's pool.
    assert!(!stack.custom_auth(&B, &b_username, &a_nonce).await);
    assert!(stack.custom_auth(&B, &b_username, &b_nonce).await);

    // A's access token is no token at B's host; Alice's passkey is unknown there.
    let refused = stack
        .http
        .get(format!("{}/v1/credentials", stack.rp_url))
        .header(reqwest::header::HOST, B.rp_id)
        .bearer_auth(&a_token)
        .send()
        .await
        .unwrap();
    assert_eq!(refused.status(), 401);
    let listed = stack
        .http
        .get(format!("{}/v1/credentials", stack.rp_url))
        .header(reqwest::header::HOST, A.rp_id)
        .bearer_auth(&a_token)
        .send()
        .await
        .unwrap();
    assert_eq!(listed.status(), 200);
    let (s, options) = stack
        .rp(&B, "/v1/authentication/options", None, &json!({}))
        .await;
    assert_eq!(s, 200);
    let (_, a_options) = stack
        .rp(&A, "/v1/authentication/options", None, &json!({}))
        .await;
    let assertion = alice.get(&a_options["publicKey"], A.origin).unwrap();
    let (s, body) = stack
        .rp(
            &B,
            "/v1/authentication/verify",
            None,
            &json!({ "ceremonyId": options["ceremonyId"], "credential": assertion }),
        )
        .await;
    assert_eq!(
        (s, body["error"]["code"].as_str()),
        (422, Some("UNKNOWN_CREDENTIAL"))
    );
}

/// SIGHUP: rp-server reads its config file again. The second site's table removed, its
/// host finds no site (404 `UNKNOWN_SITE`) while the first serves on; put back, it
/// serves again, its passkeys intact.
#[tokio::test]
async fn sighup_removes_and_adds_a_site_without_a_restart() {
    let stack = &TwoSites::start().await;
    let (_, mut bob) = stack.user_with_passkey(&B, "bob@b.example").await;
    let hang_up = || {
        let status = std::process::Command::new("kill")
            .args(["-HUP", &stack.rp_pid.to_string()])
            .status()
            .unwrap();
        assert!(status.success());
    };
    // The reload is asynchronous: ask until B's host answers `want` (at most 10 s).
    let b_options_until = |want: u16| async move {
        for _ in 0..400 {
            let (s, _) = stack
                .rp(&B, "/v1/authentication/options", None, &json!({}))
                .await;
            if s == want {
                return;
            }
            tokio::time::sleep(Duration::from_millis(25)).await;
        }
        panic!("B's host never answered {want}");
    };

    std::fs::write(
        &stack.rp_config,
        format!("{}{}", stack.tables.0, stack.tables.1),
    )
    .unwrap();
    hang_up();
    b_options_until(404).await;
    let (s, body) = stack
        .rp(&B, "/v1/authentication/options", None, &json!({}))
        .await;
    assert_eq!(
        (s, body["error"]["code"].as_str()),
        (404, Some("UNKNOWN_SITE"))
    );
    let (s, _) = stack
        .rp(&A, "/v1/authentication/options", None, &json!({}))
        .await;
    assert_eq!(s, 200);

    std::fs::write(
        &stack.rp_config,
        format!("{}{}{}", stack.tables.0, stack.tables.1, stack.tables.2),
    )
    .unwrap();
    hang_up();
    b_options_until(200).await;
    let (nonce, username) = stack.usernameless(&B, &mut bob).await;
    assert!(stack.custom_auth(&B, &username, &nonce).await);
}
