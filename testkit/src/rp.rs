//! `TestRp`: one in-process rp-server per test, with its own database (dropped with
//! it), token issuer and manual clock, and the requests tests make again and again.
//! Shared by the API suite and the trigger suite.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::net::SocketAddr;

use rp_server::clock::Clock;
use rp_server::config::{Config, LogFormat, Origin, Required};
use rp_server::{AppState, Application};
use secrecy::SecretString;
use serde_json::{Value, json};

use crate::authenticator::SoftAuthenticator;
use crate::idp::TokenIssuer;

pub const RP_ID: &str = "example.test";
pub const ORIGIN: &str = "https://app.example.test";
/// The second site of [`TestRp::spawn_two_sites`].
pub const OTHER_RP_ID: &str = "other.test";
pub const OTHER_ORIGIN: &str = "https://app.other.test";
pub const SERVICE_TOKEN: &str = "service-token-0123456789abcdef0123456789";
pub const ADMIN_TOKEN: &str = "admin-token-0123456789abcdef0123456789ab";

pub struct TestRp {
    pub base: String,
    /// The private listener's base URL, when `internal_listen_addr` was set.
    pub internal_base: Option<String>,
    pub http: reqwest::Client,
    pub idp: TokenIssuer,
    pub state: AppState,
    pub clock: Clock,
    _shutdown: std::sync::Arc<tokio::sync::oneshot::Sender<()>>,
    /// Last: dropped (with the database) after the server was told to stop.
    _db: std::sync::Arc<crate::db::TestDatabase>,
}

pub struct Response {
    pub status: u16,
    pub headers: reqwest::header::HeaderMap,
    pub body: Value,
}

impl Response {
    pub fn code(&self) -> &str {
        self.body
            .pointer("/error/code")
            .and_then(Value::as_str)
            .unwrap_or("")
    }
    #[track_caller]
    pub fn expect(self, status: u16) -> Value {
        assert_eq!(
            self.status, status,
            "unexpected status; body: {}",
            self.body
        );
        self.body
    }
    #[track_caller]
    pub fn expect_error(&self, status: u16, code: &str) {
        assert_eq!(
            self.status, status,
            "unexpected status; body: {}",
            self.body
        );
        assert_eq!(
            self.code(),
            code,
            "unexpected error code; body: {}",
            self.body
        );
        assert!(
            self.body
                .pointer("/error/message")
                .and_then(Value::as_str)
                .is_some_and(|m| !m.is_empty()),
            "error without message: {}",
            self.body
        );
    }
}

/// The configuration every test starts from: the committed test key's issuer, two
/// allowed app clients, a web and an Android origin, the admin API on, no rate limit.
pub fn base_config(idp: &TokenIssuer, database_url: String) -> Config {
    let mut config = Config::new(Required {
        database_url: SecretString::from(database_url),
        rp_id: RP_ID.to_owned(),
        origins: vec![
            Origin::Web(url(ORIGIN)),
            Origin::Android("android:apk-key-hash:test_hash-1".to_owned()),
        ],
        cognito_issuer: idp.issuer.clone(),
        cognito_jwks_url: url(&idp.jwks_url),
        cognito_client_ids: vec![idp.client_id.clone(), "otherclient".to_owned()],
        service_token: SecretString::from(SERVICE_TOKEN.to_owned()),
    });
    config.db_max_connections = 20;
    config.listen_addr = SocketAddr::from(([127, 0, 0, 1], 0));
    config.rp_name = "Example".to_owned();
    config.admin_token = Some(SecretString::from(ADMIN_TOKEN.to_owned()));
    config.rate_limit_per_min = 0;
    config.log_format = LogFormat::Pretty;
    config
}

#[allow(clippy::expect_used)]
fn url(s: &str) -> url::Url {
    url::Url::parse(s).expect("a test URL")
}

impl TestRp {
    pub async fn spawn() -> Self {
        Self::spawn_with(|_| {}).await
    }

    pub async fn spawn_with(adjust: impl FnOnce(&mut Config)) -> Self {
        Self::spawn_full(adjust, None).await
    }

    /// With passkey-first sign-up on, creating users in `cognito`'s pool.
    pub async fn spawn_with_signup(
        cognito: rp_server::cognito::CognitoAdmin,
        pool_id: &str,
    ) -> Self {
        let pool_id = pool_id.to_owned();
        Self::spawn_full(
            move |c| c.signup_user_pool_id = Some(pool_id),
            Some(cognito),
        )
        .await
    }

    /// With `adjust` applied to the configuration and this Cognito admin client.
    pub async fn spawn_full(
        adjust: impl FnOnce(&mut Config),
        cognito: Option<rp_server::cognito::CognitoAdmin>,
    ) -> Self {
        let idp = TokenIssuer::start().await.expect("token issuer");
        let db = crate::db::fresh_database().await.expect("test database");
        let mut config = base_config(&idp, db.url.clone());
        adjust(&mut config);
        let clock = Clock::manual(chrono::Utc::now());
        let app = Application::build_with(config, clock.clone(), cognito)
            .await
            .expect("build app");
        let addr: SocketAddr = app.local_addr().unwrap();
        let internal_base = app.internal_addr().map(|a| format!("http://{a}"));
        let state = app.state().clone();
        let (tx, rx) = tokio::sync::oneshot::channel::<()>();
        tokio::spawn(app.run_until(async move {
            let _ = rx.await;
        }));
        Self {
            base: format!("http://{addr}"),
            internal_base,
            http: reqwest::Client::builder()
                .user_agent("rp-server-tests/1")
                .build()
                .unwrap(),
            idp,
            state,
            clock,
            _shutdown: std::sync::Arc::new(tx),
            _db: std::sync::Arc::new(db),
        }
    }

    /// One rp-server serving two sites on one database: the first is [`base_config`]'s
    /// (`example.test`, pool [`crate::idp::POOL_ID`]), the second `other`
    /// (`other.test`, origin [`OTHER_ORIGIN`], a pool of its own), `adjust` applied to
    /// each by its id. Each handle talks to its site by host name (both resolve to the
    /// server's loopback address) and signs its own pool's tokens.
    pub async fn spawn_two_sites(adjust: impl Fn(&str, &mut Config)) -> (Self, Self) {
        let db = crate::db::fresh_database().await.expect("test database");
        let idp_a = TokenIssuer::start().await.expect("token issuer");
        let idp_b = TokenIssuer::start_for_pool("eu-west-1_OtherPool")
            .await
            .expect("token issuer");
        let mut a = base_config(&idp_a, db.url.clone());
        adjust(rp_server::model::SiteId::DEFAULT, &mut a);
        let mut b = base_config(&idp_b, db.url.clone());
        b.site = rp_server::model::SiteId::parse("other").expect("site id");
        b.rp_id = OTHER_RP_ID.to_owned();
        b.rp_name = "Other".to_owned();
        b.origins = vec![Origin::Web(url(OTHER_ORIGIN))];
        adjust("other", &mut b);
        let clock = Clock::manual(chrono::Utc::now());
        let listener = rp_server::listen(a.listen_addr).expect("listen");
        let app = Application::build_on_both_sites(
            listener,
            None,
            vec![(a, None), (b, None)],
            clock.clone(),
        )
        .await
        .expect("build app");
        let addr: SocketAddr = app.local_addr().unwrap();
        let state = app.state().clone();
        let (tx, rx) = tokio::sync::oneshot::channel::<()>();
        tokio::spawn(app.run_until(async move {
            let _ = rx.await;
        }));
        let host_a = url(ORIGIN).host_str().unwrap_or_default().to_owned();
        let host_b = url(OTHER_ORIGIN).host_str().unwrap_or_default().to_owned();
        let http = reqwest::Client::builder()
            .user_agent("rp-server-tests/1")
            .resolve(&host_a, addr)
            .resolve(&host_b, addr)
            .build()
            .unwrap();
        let (shutdown, db) = (std::sync::Arc::new(tx), std::sync::Arc::new(db));
        let handle = |host: &str, idp: TokenIssuer| Self {
            base: format!("http://{host}:{}", addr.port()),
            internal_base: None,
            http: http.clone(),
            idp,
            state: state.clone(),
            clock: clock.clone(),
            _shutdown: shutdown.clone(),
            _db: db.clone(),
        };
        (handle(&host_a, idp_a), handle(&host_b, idp_b))
    }

    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base)
    }

    pub async fn send(&self, req: reqwest::RequestBuilder) -> Response {
        let r = req.send().await.expect("request");
        let status = r.status().as_u16();
        let headers = r.headers().clone();
        let text = r.text().await.unwrap();
        let body = if text.is_empty() {
            Value::Null
        } else {
            serde_json::from_str(&text).unwrap_or(Value::String(text))
        };
        Response {
            status,
            headers,
            body,
        }
    }

    pub async fn post(&self, path: &str, bearer: Option<&str>, body: &Value) -> Response {
        let mut req = self.http.post(self.url(path)).json(body);
        if let Some(b) = bearer {
            req = req.bearer_auth(b);
        }
        self.send(req).await
    }

    pub async fn get(&self, path: &str, bearer: Option<&str>) -> Response {
        let mut req = self.http.get(self.url(path));
        if let Some(b) = bearer {
            req = req.bearer_auth(b);
        }
        self.send(req).await
    }

    pub fn token(&self, user: &User) -> String {
        self.idp.access_token(&user.sub, &user.username).unwrap()
    }

    /// Registers a new passkey on `authn` for `user`; returns the credential summary.
    pub async fn register(&self, user: &User, authn: &mut SoftAuthenticator) -> Value {
        self.register_at(user, authn, ORIGIN).await
    }

    /// Registers a new passkey from a page (or app) at `origin`.
    pub async fn register_at(
        &self,
        user: &User,
        authn: &mut SoftAuthenticator,
        origin: &str,
    ) -> Value {
        let token = self.token(user);
        let options = self
            .post(
                "/v1/registration/options",
                Some(&token),
                &json!({ "nickname": "Laptop" }),
            )
            .await
            .expect(200);
        let credential = authn.create(&options["publicKey"], origin).unwrap();
        self.post(
            "/v1/registration/verify",
            Some(&token),
            &json!({ "ceremonyId": options["ceremonyId"], "credential": credential }),
        )
        .await
        .expect(201)
    }

    /// Starts and finishes a registration with this access token: the options and the
    /// verify response as it came (a refusal included).
    pub async fn try_register(
        &self,
        token: &str,
        authn: &mut SoftAuthenticator,
    ) -> (Value, Response) {
        let options = self
            .post("/v1/registration/options", Some(token), &json!({}))
            .await
            .expect(200);
        let credential = authn.create(&options["publicKey"], ORIGIN).unwrap();
        let done = self
            .post(
                "/v1/registration/verify",
                Some(token),
                &json!({ "ceremonyId": options["ceremonyId"], "credential": credential }),
            )
            .await;
        (options, done)
    }

    /// Usernameless sign-in; returns the raw verify response.
    pub async fn sign_in(&self, authn: &mut SoftAuthenticator) -> Response {
        self.sign_in_at(authn, ORIGIN).await
    }

    /// Usernameless sign-in from a page (or app) at `origin`.
    pub async fn sign_in_at(&self, authn: &mut SoftAuthenticator, origin: &str) -> Response {
        let options = self
            .post("/v1/authentication/options", None, &json!({}))
            .await
            .expect(200);
        self.answer(&options, authn, origin).await
    }

    /// Answers sign-in options (`/v1/authentication/options`' or a Create trigger's
    /// challenge) with an assertion made at `origin`.
    pub async fn answer(
        &self,
        options: &Value,
        authn: &mut SoftAuthenticator,
        origin: &str,
    ) -> Response {
        let assertion = authn.get(&options["publicKey"], origin).unwrap();
        self.post(
            "/v1/authentication/verify",
            None,
            &json!({ "ceremonyId": options["ceremonyId"], "credential": assertion }),
        )
        .await
    }

    /// The Create trigger's request for `user`'s challenge, as the Lambda sends it.
    pub fn challenge_request(&self, user: &User) -> Value {
        json!({
            "userPoolId": self.idp.pool_id,
            "clientId": self.idp.client_id,
            "userSub": user.sub,
            "username": user.username,
            "userNotFound": false,
        })
    }

    /// What the Create Auth Challenge trigger asks for.
    pub async fn challenge(&self, user: &User) -> Value {
        self.post(
            "/internal/v1/challenges",
            Some(SERVICE_TOKEN),
            &self.challenge_request(user),
        )
        .await
        .expect(200)
    }

    pub async fn redeem(&self, nonce: &str, sub: &str, challenge_id: &Value) -> Value {
        self.post(
            "/internal/v1/nonces/redeem",
            Some(SERVICE_TOKEN),
            &json!({ "nonce": nonce, "userSub": sub, "challengeId": challenge_id }),
        )
        .await
        .expect(200)
    }

    /// The rows in a table (or partition) now.
    pub async fn count(&self, table: &str) -> i64 {
        sqlx::query_scalar(&format!("SELECT count(*) FROM {table}"))
            .fetch_one(&self.state.db)
            .await
            .unwrap()
    }

    pub async fn audit_actions(&self) -> Vec<String> {
        sqlx::query_scalar("SELECT action FROM audit_events ORDER BY id")
            .fetch_all(&self.state.db)
            .await
            .unwrap()
    }
}

#[derive(Clone, Debug)]
pub struct User {
    pub sub: String,
    pub username: String,
}

impl User {
    pub fn new(name: &str) -> Self {
        Self {
            sub: uuid::Uuid::new_v4().to_string(),
            username: name.to_owned(),
        }
    }
}

/// A flow context on a fresh database, with no HTTP server: the site [`base_config`]
/// describes, for tests that call flows and the admin service directly.
pub struct TestContext {
    pub cx: rp_server::flows::Context,
    pub idp: TokenIssuer,
    pub clock: Clock,
    _db: crate::db::TestDatabase,
}

impl TestContext {
    pub async fn new() -> Self {
        Self::with(|_| {}).await
    }

    /// With `adjust` applied to the configuration first.
    pub async fn with(adjust: impl FnOnce(&mut Config)) -> Self {
        let idp = TokenIssuer::start().await.expect("token issuer");
        let db = crate::db::fresh_database().await.expect("test database");
        let mut config = base_config(&idp, db.url.clone());
        adjust(&mut config);
        let pool = rp_server::connect_lazy(&config.database_url, 5, config.db_timeouts)
            .expect("database pool");
        let clock = Clock::manual(chrono::Utc::now());
        let site = rp_server::flows::Site::build(&config, &pool, &clock, None)
            .await
            .expect("build the site");
        Self {
            cx: rp_server::flows::Context {
                db: pool,
                clock: clock.clone(),
                site: std::sync::Arc::new(site),
            },
            idp,
            clock,
            _db: db,
        }
    }

    /// A context for another site, `id`, on the same database, clock and token issuer:
    /// the same RP ID, origins and pool unless `adjust` changes them, so that only the
    /// site's id sets the two apart. The returned context shares this one's database,
    /// which must outlive it.
    pub async fn another_site(
        &self,
        id: &str,
        adjust: impl FnOnce(&mut Config),
    ) -> rp_server::flows::Context {
        rp_server::store::sites::allow_several(&self.cx.db)
            .await
            .expect("keys for several sites");
        let mut config = base_config(&self.idp, self._db.url.clone());
        config.site = rp_server::model::SiteId::parse(id).expect("a site id");
        adjust(&mut config);
        let site = rp_server::flows::Site::build(&config, &self.cx.db, &self.clock, None)
            .await
            .expect("build the site");
        rp_server::flows::Context {
            db: self.cx.db.clone(),
            clock: self.clock.clone(),
            site: std::sync::Arc::new(site),
        }
    }

    /// `user` as a verified access token would name them, signed in just now.
    pub fn signed_in(&self, user: &User) -> rp_server::auth::CognitoUser {
        let now = self.clock.now().timestamp();
        rp_server::auth::CognitoUser {
            sub: user.sub.clone(),
            username: user.username.clone(),
            client_id: self.idp.client_id.clone(),
            auth_time: Some(now),
            issued_at: Some(now),
            groups: Vec::new(),
        }
    }
}
