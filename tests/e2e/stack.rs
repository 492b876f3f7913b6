//! Starts the product's real binaries for one test.

use std::path::{Path, PathBuf};
use std::time::Duration;

use aws_sdk_cognitoidentityprovider as cip;
use cip::types::{
    AttributeType, AuthFlowType, AuthenticationResultType, ChallengeNameType, MessageActionType,
};
use serde_json::{Value, json};
use testkit::authenticator::SoftAuthenticator;
use testkit::child::spawn_until;
use testkit::lambda::LocalLambda;

pub const POOL: &str = "eu-west-1_E2ePool";
pub const CLIENT: &str = "e2eclient";
pub const ORIGIN: &str = "http://localhost:8000";
pub const SERVICE_TOKEN: &str = "e2e-service-token-0123456789abcdef0123456789";
pub const ADMIN_TOKEN: &str = "e2e-admin-token-0123456789abcdef0123456789ab";
/// A second, confidential app client: its calls need `SECRET_HASH`.
pub const SECRET_CLIENT: &str = "e2esecretclient";
pub const CLIENT_SECRET: &str = "e2e-client-secret-0123456789abcdef";

/// How the pool names users: the three shapes Cognito pools come in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Shape {
    /// `UsernameAttributes: [email]`.
    EmailUsername,
    /// `AliasAttributes: [email]`.
    EmailAlias,
    /// Plain usernames.
    Username,
}

impl Shape {
    fn toml(self) -> &'static str {
        match self {
            Self::EmailUsername => r#"username_attributes = ["email"]"#,
            Self::EmailAlias => r#"alias_attributes = ["email"]"#,
            Self::Username => "",
        }
    }
}

/// How a test wants its stack.
pub struct Options {
    pub nonce_ttl_secs: u64,
    /// Overrides where the trigger function reaches rp-server (to break it).
    pub triggers_rp_url: Option<String>,
    pub triggers_timeout_ms: u64,
    /// Cognito's wait for one attempt of a trigger.
    pub trigger_timeout_ms: u64,
    pub shape: Shape,
    /// Mail through a real SMTP server on loopback: verified sign-up and email sign-in.
    pub email: bool,
    /// `RP_POLICY`: passkey policies as a JSON array.
    pub policy: Option<String>,
}

impl Default for Options {
    fn default() -> Self {
        Self {
            nonce_ttl_secs: 120,
            triggers_rp_url: None,
            triggers_timeout_ms: 2000,
            trigger_timeout_ms: 5000,
            shape: Shape::EmailUsername,
            email: false,
            policy: None,
        }
    }
}

pub struct Stack {
    pub rp_url: String,
    pub cognito_url: String,
    pub cognito: cip::Client,
    pub http: reqwest::Client,
    pub shape: Shape,
    pub lambda: LocalLambda,
    /// With `Options::email`.
    pub mail: Option<testkit::smtp::Mailbox>,
    _children: Vec<tokio::process::Child>,
    _dir: Scratch,
    /// Last: dropped once the processes using it are gone.
    _database: testkit::db::TestDatabase,
}

/// The processes' configuration and output: removed with the stack, kept (and named on
/// stderr) when a test fails, to read what the processes said.
pub(crate) struct Scratch(Option<tempfile::TempDir>);

impl Scratch {
    /// A fresh temporary directory named with `prefix`.
    pub(crate) fn new(prefix: &str) -> Self {
        Self(Some(
            tempfile::Builder::new().prefix(prefix).tempdir().unwrap(),
        ))
    }

    pub(crate) fn path(&self) -> PathBuf {
        self.0
            .as_ref()
            .map(|d| d.path().to_path_buf())
            .unwrap_or_default()
    }
}

impl Drop for Scratch {
    fn drop(&mut self) {
        if std::thread::panicking()
            && let Some(dir) = self.0.take()
        {
            eprintln!("the processes' output is kept in {}", dir.keep().display());
        }
    }
}

/// The stand-in with this configuration file's text, in `dir`: the process and its URL.
pub(crate) async fn start_standin(dir: &Path, config: &str) -> (tokio::process::Child, String) {
    let config_path = dir.join("standin.toml");
    std::fs::write(&config_path, config).unwrap();
    let mut standin = tokio::process::Command::new(bin("cognito-standin"));
    standin.arg("--config").arg(&config_path);
    let (standin, addr) = spawn_until(
        standin,
        &dir.join("standin.out"),
        testkit::child::standin_addr,
        Duration::from_secs(30),
    )
    .await
    .unwrap();
    (standin, format!("http://{addr}"))
}

/// rp-server as `command` starts it, its output in `dir`: the process and its URL.
pub(crate) async fn start_rp_server(
    dir: &Path,
    command: tokio::process::Command,
) -> (tokio::process::Child, String) {
    let (rp, addr) = spawn_until(
        command,
        &dir.join("rp-server.out"),
        testkit::child::rp_server_addr,
        Duration::from_secs(60),
    )
    .await
    .unwrap();
    (rp, format!("http://{addr}"))
}

/// The AWS SDK's Cognito client, pointed at the stand-in.
pub(crate) async fn cognito_client(cognito_url: &str) -> cip::Client {
    let sdk = aws_config::defaults(aws_config::BehaviorVersion::latest())
        .region(aws_config::Region::new("eu-west-1"))
        .credentials_provider(cip::config::Credentials::new(
            "AKIDE2E",
            "e2e-secret",
            None,
            None,
            "e2e",
        ))
        .endpoint_url(cognito_url)
        .load()
        .await;
    cip::Client::new(&sdk)
}

pub fn bin(name: &str) -> PathBuf {
    // target/debug/deps/e2e-<hash> → target/debug/<name>
    let exe = std::env::current_exe().unwrap();
    let dir = exe.parent().and_then(Path::parent).unwrap();
    let path = dir.join(name);
    assert!(
        path.exists(),
        "{} is missing: build the workspace's binaries first (scripts/test does)",
        path.display()
    );
    path
}

impl Stack {
    pub async fn start() -> Self {
        Self::start_with(Options::default()).await
    }

    pub async fn start_with(o: Options) -> Self {
        let database = testkit::db::fresh_database().await.unwrap();
        let scratch = Scratch::new("rp-e2e-");
        let dir = scratch.path();
        // Every process binds port 0 and says where it listens, so the order is: the
        // local Lambda's APIs, the stand-in (which needs them), rp-server (which needs the
        // stand-in), and last the function (which needs rp-server).
        let mut lambda = LocalLambda::serve("cognito-triggers", Duration::from_secs(30))
            .await
            .unwrap();

        let config = format!(
            r#"
listen = "127.0.0.1:0"
[[pools]]
id = "{POOL}"
{shape}
[pools.triggers]
lambda_endpoint = "{endpoint}"
timeout_ms = {timeout}
define_auth_challenge = "cognito-triggers"
create_auth_challenge = "cognito-triggers"
verify_auth_challenge_response = "cognito-triggers"
pre_sign_up = "cognito-triggers"
[[pools.clients]]
id = "{CLIENT}"
explicit_auth_flows = ["ALLOW_CUSTOM_AUTH", "ALLOW_USER_PASSWORD_AUTH", "ALLOW_USER_SRP_AUTH", "ALLOW_REFRESH_TOKEN_AUTH"]
prevent_user_existence_errors = true
[[pools.clients]]
id = "{SECRET_CLIENT}"
explicit_auth_flows = ["ALLOW_CUSTOM_AUTH", "ALLOW_USER_SRP_AUTH", "ALLOW_REFRESH_TOKEN_AUTH"]
prevent_user_existence_errors = true
secret = "{CLIENT_SECRET}"
"#,
            shape = o.shape.toml(),
            endpoint = lambda.endpoint(),
            timeout = o.trigger_timeout_ms,
        );
        let (standin, cognito_url) = start_standin(&dir, &config).await;

        let mail = if o.email {
            Some(testkit::smtp::Mailbox::start().await.unwrap())
        } else {
            None
        };
        let mut rp = tokio::process::Command::new(bin("rp-server"));
        rp.arg("serve").env_clear();
        if let Some(policy) = &o.policy {
            rp.env("RP_POLICY", policy);
        }
        if let Some(mail) = &mail {
            rp.env("RP_EMAIL_TRANSPORT", "smtp")
                .env("RP_SMTP_URL", &mail.url)
                .env("RP_EMAIL_FROM", "Passkeys <no-reply@example.test>")
                .env("RP_EMAIL_SIGNIN", "any");
        }
        rp.env("PATH", std::env::var("PATH").unwrap_or_default())
            .env("DATABASE_URL", &database.url)
            .env("RP_LISTEN_ADDR", "127.0.0.1:0")
            .env("RP_ID", "localhost")
            .env("RP_ORIGINS", ORIGIN)
            .env("RP_COGNITO_ISSUER", format!("{cognito_url}/{POOL}"))
            .env("RP_COGNITO_CLIENT_IDS", format!("{CLIENT},{SECRET_CLIENT}"))
            .env("RP_SERVICE_TOKEN", SERVICE_TOKEN)
            .env("RP_ADMIN_TOKEN", ADMIN_TOKEN)
            .env("RP_NONCE_TTL_SECS", o.nonce_ttl_secs.to_string())
            .env("RP_RATE_LIMIT_PER_MIN", "0")
            .env("RP_SIGNUP_ENABLED", "true")
            .env("RP_COGNITO_USER_POOL_ID", POOL)
            .env("AWS_REGION", "eu-west-1")
            .env("AWS_ACCESS_KEY_ID", "AKIDE2E")
            .env("AWS_SECRET_ACCESS_KEY", "e2e-secret")
            .env("AWS_ENDPOINT_URL_COGNITO_IDENTITY_PROVIDER", &cognito_url)
            .env("RUST_LOG", "info");
        let (rp, rp_url) = start_rp_server(&dir, rp).await;

        lambda
            .spawn_function(
                &bin("cognito-triggers"),
                &[
                    (
                        "RP_SERVER_URL",
                        o.triggers_rp_url.clone().unwrap_or_else(|| rp_url.clone()),
                    ),
                    ("RP_SERVICE_TOKEN", SERVICE_TOKEN.to_owned()),
                    ("RP_TIMEOUT_MS", o.triggers_timeout_ms.to_string()),
                    ("AWS_LAMBDA_LOG_FORMAT", "JSON".to_owned()),
                ],
            )
            .unwrap();

        Self {
            rp_url,
            cognito: cognito_client(&cognito_url).await,
            cognito_url,
            http: reqwest::Client::new(),
            shape: o.shape,
            lambda,
            mail,
            _children: vec![standin, rp],
            _dir: scratch,
            _database: database,
        }
    }

    pub async fn rp(&self, path: &str, bearer: Option<&str>, body: &Value) -> (u16, Value) {
        let mut req = self.http.post(format!("{}{path}", self.rp_url)).json(body);
        if let Some(b) = bearer {
            req = req.bearer_auth(b);
        }
        let r = req.send().await.unwrap();
        (r.status().as_u16(), r.json().await.unwrap_or(Value::Null))
    }

    /// A confirmed user with a password and a verified email, as an existing Cognito
    /// user would be, named as the pool's shape requires: the email where it is the
    /// username attribute, the email's local part otherwise. Returns the username.
    pub async fn password_user(&self, email: &str, password: &str) -> String {
        let name = match self.shape {
            Shape::EmailUsername => email.to_owned(),
            Shape::EmailAlias | Shape::Username => email.split('@').next().unwrap().to_owned(),
        };
        let attribute =
            |n: &str, v: &str| AttributeType::builder().name(n).value(v).build().unwrap();
        let created = self
            .cognito
            .admin_create_user()
            .user_pool_id(POOL)
            .username(&name)
            .user_attributes(attribute("email", email))
            .user_attributes(attribute("email_verified", "true"))
            .message_action(MessageActionType::Suppress)
            .send()
            .await
            .unwrap();
        self.cognito
            .admin_set_user_password()
            .user_pool_id(POOL)
            .username(&name)
            .password(password)
            .permanent(true)
            .send()
            .await
            .unwrap();
        created.user().unwrap().username().unwrap().to_owned()
    }

    /// A password user (see [`Stack::password_user`]) who signed in and added a passkey:
    /// their username and their authenticator.
    pub async fn user_with_passkey(
        &self,
        email: &str,
        password: &str,
    ) -> (String, SoftAuthenticator) {
        let username = self.password_user(email, password).await;
        let tokens = self.password_sign_in(email, password).await;
        let mut authn = SoftAuthenticator::new();
        self.register_passkey(tokens.access_token().unwrap(), &mut authn)
            .await;
        (username, authn)
    }

    pub async fn password_sign_in(&self, email: &str, password: &str) -> AuthenticationResultType {
        self.cognito
            .initiate_auth()
            .client_id(CLIENT)
            .auth_flow(AuthFlowType::UserPasswordAuth)
            .auth_parameters("USERNAME", email)
            .auth_parameters("PASSWORD", password)
            .send()
            .await
            .unwrap()
            .authentication_result()
            .unwrap()
            .clone()
    }

    pub async fn register_passkey(
        &self,
        access_token: &str,
        authn: &mut SoftAuthenticator,
    ) -> Value {
        let (s, options) = self
            .rp("/v1/registration/options", Some(access_token), &json!({}))
            .await;
        assert_eq!(s, 200, "{options}");
        let credential = authn.create(&options["publicKey"], ORIGIN).unwrap();
        let (s, summary) = self
            .rp(
                "/v1/registration/verify",
                Some(access_token),
                &json!({ "ceremonyId": options["ceremonyId"], "credential": credential }),
            )
            .await;
        assert_eq!(s, 201, "{summary}");
        summary
    }

    /// Passkey-first sign-up with this `/v1/signup/options` body (`email`, and the
    /// `signupToken` where addresses are verified), the passkey made on `authn`: the
    /// verify answer, `{nonce, username, …}`.
    pub async fn sign_up(&self, body: &Value, authn: &mut SoftAuthenticator) -> Value {
        let (s, options) = self.rp("/v1/signup/options", None, body).await;
        assert_eq!(s, 200, "{body}: {options}");
        let credential = authn.create(&options["publicKey"], ORIGIN).unwrap();
        let (s, signed_up) = self
            .rp(
                "/v1/signup/verify",
                None,
                &json!({ "ceremonyId": options["ceremonyId"], "credential": credential }),
            )
            .await;
        assert_eq!(s, 200, "{body}: {signed_up}");
        signed_up
    }

    /// Passkey first: a discoverable assertion → `{nonce, username}`.
    pub async fn usernameless(&self, authn: &mut SoftAuthenticator) -> (String, String) {
        let (_, options) = self
            .rp("/v1/authentication/options", None, &json!({}))
            .await;
        let assertion = authn.get(&options["publicKey"], ORIGIN).unwrap();
        let (s, body) = self
            .rp(
                "/v1/authentication/verify",
                None,
                &json!({ "ceremonyId": options["ceremonyId"], "credential": assertion }),
            )
            .await;
        assert_eq!(s, 200, "{body}");
        (
            body["nonce"].as_str().unwrap().to_owned(),
            body["username"].as_str().unwrap().to_owned(),
        )
    }

    /// `InitiateAuth(CUSTOM_AUTH)` → (session, challenge parameters).
    pub async fn begin_custom(
        &self,
        username: &str,
    ) -> (String, std::collections::HashMap<String, String>) {
        let r = self
            .cognito
            .initiate_auth()
            .client_id(CLIENT)
            .auth_flow(AuthFlowType::CustomAuth)
            .auth_parameters("USERNAME", username)
            .send()
            .await
            .unwrap();
        assert_eq!(
            r.challenge_name(),
            Some(&ChallengeNameType::CustomChallenge)
        );
        (
            r.session().unwrap().to_owned(),
            r.challenge_parameters().unwrap().clone(),
        )
    }

    pub async fn answer(
        &self,
        session: &str,
        username: &str,
        answer: &str,
    ) -> Result<
        cip::operation::respond_to_auth_challenge::RespondToAuthChallengeOutput,
        cip::error::SdkError<
            cip::operation::respond_to_auth_challenge::RespondToAuthChallengeError,
        >,
    > {
        self.cognito
            .respond_to_auth_challenge()
            .client_id(CLIENT)
            .challenge_name(ChallengeNameType::CustomChallenge)
            .session(session)
            .challenge_responses("USERNAME", username)
            .challenge_responses("ANSWER", answer)
            .send()
            .await
    }

    /// The browser's part of username-first: answer the options in the challenge
    /// parameters, get a nonce.
    pub async fn answer_challenge(
        &self,
        params: &std::collections::HashMap<String, String>,
        authn: &mut SoftAuthenticator,
    ) -> String {
        let options: Value = serde_json::from_str(&params["publicKey"]).unwrap();
        let assertion = authn.get(&options, ORIGIN).unwrap();
        let (s, body) = self
            .rp(
                "/v1/authentication/verify",
                None,
                &json!({ "ceremonyId": params["ceremonyId"], "credential": assertion }),
            )
            .await;
        assert_eq!(s, 200, "{body}");
        body["nonce"].as_str().unwrap().to_owned()
    }
}

pub fn claims(token: &str) -> Value {
    use base64::Engine as _;
    let payload = token.split('.').nth(1).unwrap();
    serde_json::from_slice(
        &base64::engine::general_purpose::URL_SAFE_NO_PAD
            .decode(payload)
            .unwrap(),
    )
    .unwrap()
}

pub fn error_code<E: cip::error::ProvideErrorMetadata + std::fmt::Debug>(
    e: &cip::error::SdkError<E>,
) -> (String, String) {
    let s = e
        .as_service_error()
        .unwrap_or_else(|| panic!("not a service error: {e:?}"));
    (
        s.code().unwrap_or_default().to_owned(),
        s.message().unwrap_or_default().to_owned(),
    )
}
