//! `local-stack`: the whole product on one machine, no AWS account needed. One process
//! runs the Cognito stand-in (with the trigger handlers linked in, as Lambda would run
//! them) and rp-server against the Postgres in `DATABASE_URL` (`scripts/dev` starts a
//! private one).

use std::net::{Ipv4Addr, SocketAddr};
use std::path::PathBuf;
use std::sync::Arc;

use anyhow::Context as _;
use clap::Parser;
use cognito_standin::config::{
    ClientConfig, Config as StandinConfig, IdentityProviderConfig, PoolConfig, SeedUser,
    TriggerConfig,
};
use rp_server::clock::Clock;
use rp_server::cognito::PoolShape;
use rp_server::config::{Config as RpConfig, LogFormat, Origin, Required};
use secrecy::SecretString;

const POOL_ID: &str = "eu-west-1_LocalPool";
const CLIENT_ID: &str = "localclient";
/// The second site's pool and app client (a second site of the same rp-server, at
/// `b.localhost`).
const POOL_B_ID: &str = "eu-west-1_LocalPoolB";
const CLIENT_B_ID: &str = "localbclient";
const FUNCTION: &str = "cognito-triggers";
/// The demo's OAuth client at rp-server's OpenID provider (public: PKCE only).
const OIDC_CLIENT_ID: &str = "demo-app";
/// The user pool's identity provider that is rp-server, and the pool's client id there.
const IDP_NAME: &str = "Passkeys";
const POOL_AT_PROVIDER: &str = "cognito-pool";

/// Runs Postgres-backed rp-server, the Cognito stand-in and the triggers together.
#[derive(Parser)]
#[command(name = "local-stack", about)]
struct Cli {
    #[arg(long, env = "DATABASE_URL", hide_env_values = true)]
    database_url: String,
    /// rp-server's port (0: any free one; the URLs printed at start say which).
    #[arg(long, default_value_t = 8080)]
    rp_port: u16,
    /// The Cognito stand-in's port.
    #[arg(long, default_value_t = 9229)]
    cognito_port: u16,
    /// The demo page's port.
    #[arg(long, default_value_t = 8000)]
    demo_port: u16,
    /// rp-server's internal listener: the trigger and admin APIs and the console.
    #[arg(long, default_value_t = 8081)]
    internal_port: u16,
    /// The built web client and demo (`npm run build` in web/).
    #[arg(long, default_value = "web")]
    web_dir: PathBuf,
    /// Where the service and admin tokens are kept between runs.
    #[arg(long, default_value = "target/local-stack")]
    state_dir: PathBuf,
    /// How the local user pool names users (rp-server learns it from the pool, as it
    /// would from Cognito).
    #[arg(long, value_enum, default_value = "email_username")]
    pool_shape: rp_server::cognito::PoolShape,
    /// iOS apps that may use the local RP ID's passkeys (TEAMID.bundle.id, comma-separated).
    #[arg(long, env = "RP_APPLE_APP_IDS", value_delimiter = ',')]
    apple_app_ids: Vec<String>,
    /// Android apps that may use them (package.name:SHA256_FINGERPRINT, comma-separated);
    /// their `android:apk-key-hash:` origins are accepted, as in rp-server.
    #[arg(long, env = "RP_ANDROID_APPS", value_delimiter = ',')]
    android_apps: Vec<String>,
}

#[tokio::main]
async fn main() -> std::process::ExitCode {
    rp_server::telemetry::init(LogFormat::Pretty);
    match run(Cli::parse()).await {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("local-stack: {e:#}");
            std::process::ExitCode::FAILURE
        }
    }
}

fn secret_file(dir: &std::path::Path, name: &str) -> anyhow::Result<String> {
    let path = dir.join(name);
    if let Ok(s) = std::fs::read_to_string(&path) {
        let s = s.trim().to_owned();
        if s.len() >= rp_server::config::MIN_TOKEN_LEN {
            return Ok(s);
        }
    }
    std::fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
    let token = rp_shared::token::Secret::generate().expose().to_owned();
    std::fs::write(&path, &token).with_context(|| format!("writing {}", path.display()))?;
    Ok(token)
}

async fn run(cli: Cli) -> anyhow::Result<()> {
    let service_token = secret_file(&cli.state_dir, "service-token")?;
    let admin_token = secret_file(&cli.state_dir, "admin-token")?;
    // Every listener is bound first (a port of 0 takes any free one), so each URL below
    // names the port really in use, and nobody races for a port picked in advance.
    let bind = |port: u16, what: &'static str, flag: &'static str| async move {
        rp_server::listen(SocketAddr::from((Ipv4Addr::LOCALHOST, port)))
            .with_context(|| format!("binding the {what}'s port {port} (is it free? {flag})"))
    };
    let rp_listener = bind(cli.rp_port, "rp-server", "--rp-port").await?;
    let standin_listener = bind(cli.cognito_port, "Cognito stand-in", "--cognito-port").await?;
    let demo_listener = bind(cli.demo_port, "demo page", "--demo-port").await?;
    let internal_listener =
        bind(cli.internal_port, "rp-server internal", "--internal-port").await?;
    let (rp_port, cognito_port, demo_port) = (
        rp_listener.local_addr()?.port(),
        standin_listener.local_addr()?.port(),
        demo_listener.local_addr()?.port(),
    );
    let internal_addr = internal_listener.local_addr()?;
    // The console's origin: its admins sign in with their passkeys there.
    let console_url = format!("http://localhost:{}", internal_addr.port());
    let cognito_url = format!("http://localhost:{cognito_port}");
    // The pool's client secret at rp-server's OpenID provider (rp-server keeps its hash).
    let pool_secret = rp_shared::token::Secret::generate().expose().to_owned();
    let rp_url = format!("http://localhost:{rp_port}");
    let demo_url = format!("http://localhost:{demo_port}");

    // The triggers, linked in and configured as the Lambda function would be.
    let lookup = |k: &str| match k {
        // The internal API is served on the internal listener only.
        "RP_SERVER_URL" => Some(format!("http://{internal_addr}")),
        "RP_SERVICE_TOKEN" => Some(service_token.clone()),
        _ => None,
    };
    let deps = Arc::new(
        cognito_triggers::Deps::new(cognito_triggers::Config::from_lookup(lookup)?)
            .map_err(|e| anyhow::anyhow!("{e}"))?,
    );
    let handler: cognito_standin::triggers::InProcessHandler = Arc::new(move |event| {
        let deps = deps.clone();
        Box::pin(async move {
            cognito_triggers::handle(&deps, event)
                .await
                .map_err(|e| e.to_string())
        })
    });

    let mut standin_config = StandinConfig {
        listen: SocketAddr::from((Ipv4Addr::LOCALHOST, cognito_port)),
        public_url: Some(cognito_url.clone()),
        pools: vec![PoolConfig {
            id: POOL_ID.to_owned(),
            username_attributes: match cli.pool_shape {
                PoolShape::EmailUsername => vec!["email".to_owned()],
                _ => vec![],
            },
            alias_attributes: match cli.pool_shape {
                PoolShape::EmailAlias => vec!["email".to_owned()],
                _ => vec![],
            },
            token_ttl_secs: 3600,
            password_policy: Default::default(),
            unavailable_operations: vec![],
            triggers: TriggerConfig {
                lambda_endpoint: None,
                timeout_ms: 5000,
                attempts: 3,
                define_auth_challenge: Some(FUNCTION.to_owned()),
                create_auth_challenge: Some(FUNCTION.to_owned()),
                verify_auth_challenge_response: Some(FUNCTION.to_owned()),
                pre_sign_up: Some(FUNCTION.to_owned()),
            },
            clients: vec![ClientConfig {
                id: CLIENT_ID.to_owned(),
                name: Some("local web app".to_owned()),
                explicit_auth_flows: [
                    "ALLOW_CUSTOM_AUTH",
                    "ALLOW_USER_PASSWORD_AUTH",
                    "ALLOW_USER_SRP_AUTH",
                    "ALLOW_REFRESH_TOKEN_AUTH",
                    "ALLOW_USER_AUTH",
                ]
                .map(str::to_owned)
                .to_vec(),
                prevent_user_existence_errors: true,
                auth_session_validity: 3,
                auth_session_validity_secs_for_tests: None,
                secret: None,
                // The hosted endpoints: the demo signs in by redirect through them, to
                // rp-server's OpenID provider (identity provider `Passkeys`).
                callback_urls: vec![
                    format!("{demo_url}/hosted-callback"),
                    format!("{demo_url}/amplify-callback"),
                ],
                logout_urls: vec![format!("{demo_url}/")],
                allowed_oauth_flows: vec!["code".to_owned()],
                allowed_oauth_scopes: ["openid", "email", "profile"].map(str::to_owned).to_vec(),
                allowed_oauth_flows_user_pool_client: true,
                supported_identity_providers: vec!["COGNITO".to_owned(), IDP_NAME.to_owned()],
            }],
            domain: Some("local-pool".to_owned()),
            // Cognito's own passkeys too: users who have them move to rp-server's at
            // their next sign-in (the demo shows it).
            web_authn: Some(cognito_standin::config::WebAuthnConfig {
                relying_party_id: "localhost".to_owned(),
                user_verification: "required".to_owned(),
            }),
            allowed_first_auth_factors: vec!["PASSWORD".to_owned(), "WEB_AUTHN".to_owned()],
            identity_providers: vec![IdentityProviderConfig {
                name: IDP_NAME.to_owned(),
                client_id: POOL_AT_PROVIDER.to_owned(),
                client_secret: Some(pool_secret.clone()),
                issuer: rp_url.clone(),
                authorize_scopes: "openid email".to_owned(),
                attribute_mapping: [
                    ("email".to_owned(), "email".to_owned()),
                    ("email_verified".to_owned(), "email_verified".to_owned()),
                ]
                .into(),
            }],
            users: [("demo", "Demo-password-1"), ("legacy", "Legacy-password-1")]
                .into_iter()
                .map(|(name, password)| SeedUser {
                    // An email alias pool refuses email-like usernames.
                    username: match cli.pool_shape {
                        PoolShape::EmailAlias => name.to_owned(),
                        _ => format!("{name}@example.com"),
                    },
                    password: Some(password.to_owned()),
                    attributes: [
                        ("email".to_owned(), format!("{name}@example.com")),
                        ("email_verified".to_owned(), "true".to_owned()),
                    ]
                    .into(),
                })
                .collect(),
        }],
    };
    // The second site's pool: the same triggers, one app client, one user.
    let mut pool_b = standin_config.pools[0].clone();
    pool_b.id = POOL_B_ID.to_owned();
    pool_b.domain = None;
    pool_b.web_authn = None;
    pool_b.identity_providers = Vec::new();
    pool_b.clients.truncate(1);
    pool_b.clients[0].id = CLIENT_B_ID.to_owned();
    pool_b.clients[0].name = Some("the second site's web app".to_owned());
    pool_b.clients[0].callback_urls = Vec::new();
    pool_b.clients[0].logout_urls = Vec::new();
    pool_b.clients[0].allowed_oauth_flows = Vec::new();
    pool_b.clients[0].allowed_oauth_flows_user_pool_client = false;
    pool_b.clients[0].supported_identity_providers = vec!["COGNITO".to_owned()];
    pool_b.users.truncate(1);
    standin_config.pools.push(pool_b);
    let standin = cognito_standin::Server::on(standin_listener, standin_config, Some(handler))
        .context("starting the Cognito stand-in")?;

    let (stop_tx, stop_rx) = tokio::sync::watch::channel(false);
    let signal = |mut rx: tokio::sync::watch::Receiver<bool>| async move {
        let _ = rx.changed().await;
    };
    // Serving before rp-server starts: it asks the pool how it names users.
    let standin_task = tokio::spawn(standin.run(signal(stop_rx.clone())));

    let sdk = aws_config_for(&cognito_url).await;
    let issuer = format!("{cognito_url}/{POOL_ID}");
    let mut rp_config = RpConfig::new(Required {
        database_url: SecretString::from(cli.database_url.clone()),
        rp_id: "localhost".to_owned(),
        origins: vec![
            Origin::Web(url::Url::parse(&rp_url)?),
            Origin::Web(url::Url::parse(&demo_url)?),
            Origin::Web(url::Url::parse("http://localhost:5173")?),
            Origin::Web(url::Url::parse(&console_url)?),
        ],
        cognito_issuer: issuer.clone(),
        cognito_jwks_url: url::Url::parse(&format!(
            "http://127.0.0.1:{cognito_port}/{POOL_ID}/.well-known/jwks.json"
        ))?,
        cognito_client_ids: vec![CLIENT_ID.to_owned()],
        service_token: SecretString::from(service_token.clone()),
    });
    rp_config.listen_addr = SocketAddr::from((Ipv4Addr::LOCALHOST, rp_port));
    rp_config.internal_listen_addr = Some(internal_addr);
    // Enrolment links an admin issues in the console open the demo.
    rp_config.passkey_enroll_url = Some(url::Url::parse(&format!("{demo_url}/"))?);
    if !cli.apple_app_ids.is_empty() {
        // iOS apps sign in with the origin https://<RP_ID>, which RP_ORIGINS must list.
        rp_config
            .origins
            .push(Origin::Web(url::Url::parse("https://localhost")?));
    }
    rp_config.set_native_apps(&cli.apple_app_ids, &cli.android_apps)?;
    rp_config.rp_name = "Passkeys for Cognito (local)".to_owned();
    rp_config.admin_token = Some(SecretString::from(admin_token.clone()));
    rp_config.log_format = LogFormat::Pretty;
    rp_config.signup_user_pool_id = Some(POOL_ID.to_owned());
    rp_config.cognito_user_pool_id = Some(POOL_ID.to_owned());
    // rp-server's OpenID provider, with the demo as a public client (redirect sign-in).
    rp_config.oidc = Some(rp_server::config::OidcConfig {
        issuer: rp_url.clone(),
        keys: Arc::new(
            rp_server::oidc::keys::SigningKeys::from_pem(
                &rp_server::oidc::keys::generate_p256_pem().map_err(anyhow::Error::msg)?,
            )
            .map_err(anyhow::Error::msg)?,
        ),
        clients: vec![
            rp_server::config::OidcClient {
                client_id: OIDC_CLIENT_ID.to_owned(),
                secret_sha256: None,
                public: true,
                redirect_uris: vec![format!("{demo_url}/oidc-callback")],
                scopes: vec!["openid".to_owned(), "email".to_owned()],
                cognito_provider_name: None,
            },
            // The user pool, federating to rp-server; federated identities are linked to
            // the users' own Cognito users.
            rp_server::config::OidcClient {
                client_id: POOL_AT_PROVIDER.to_owned(),
                secret_sha256: Some(rp_server::oidc::sha256(pool_secret.as_bytes())),
                public: false,
                redirect_uris: vec![format!("{cognito_url}/{POOL_ID}/oauth2/idpresponse")],
                scopes: vec!["openid".to_owned(), "email".to_owned()],
                cognito_provider_name: Some(IDP_NAME.to_owned()),
            },
        ],
    });
    // Mail goes to a real SMTP server on loopback (aiosmtpd) whose mailbox the demo
    // page shows: verified sign-up, email sign-in and security notices, no account.
    let mailbox = match testkit::smtp::Mailbox::start().await {
        Ok(mailbox) => {
            rp_config.email = Some(rp_server::config::EmailConfig {
                transport: rp_server::config::EmailTransport::Smtp(SecretString::from(
                    mailbox.url.clone(),
                )),
                from: "Passkeys for Cognito <no-reply@localhost>".to_owned(),
            });
            rp_config.signup_verify_email = true;
            rp_config.email_signin = rp_server::config::EmailSignIn::Any;
            rp_config.email_notify = true;
            rp_config.email_link_url = Some(url::Url::parse(&demo_url)?);
            Some(Arc::new(mailbox))
        }
        Err(e) => {
            eprintln!(
                "local-stack: no mail ({e:#}); email codes are off. `python3 -m pip install aiosmtpd` turns them on."
            );
            None
        }
    };
    let admin = rp_server::cognito::CognitoAdmin::new(
        aws_sdk_cognitoidentityprovider::Client::new(&sdk),
        POOL_ID.to_owned(),
    );
    let demo_username = match cli.pool_shape {
        PoolShape::EmailAlias => "demo",
        _ => "demo@example.com",
    };
    make_admin(&sdk, demo_username).await?;
    // A second site of the same rp-server and database: its own pool, RP ID and host
    // (`b.localhost`, which browsers resolve to this machine), so the stack shows sites
    // apart; the first also answers on 127.0.0.1 (tools that call the API by address).
    rp_config.routed = true;
    rp_config.hosts = vec!["127.0.0.1".to_owned()];
    let mut site_b = rp_config.clone();
    site_b.site = rp_server::model::SiteId::parse("b").map_err(anyhow::Error::msg)?;
    site_b.rp_id = "b.localhost".to_owned();
    site_b.rp_name = "Second site (local)".to_owned();
    site_b.hosts = Vec::new();
    site_b.origins = vec![
        Origin::Web(url::Url::parse(&format!("http://b.localhost:{demo_port}"))?),
        Origin::Web(url::Url::parse(&format!("http://b.localhost:{rp_port}"))?),
        // Its console: the same page at its host.
        Origin::Web(url::Url::parse(&format!(
            "http://b.localhost:{}",
            internal_addr.port()
        ))?),
    ];
    site_b.console_client_id = CLIENT_B_ID.to_owned();
    site_b.cognito_issuer = format!("{cognito_url}/{POOL_B_ID}");
    site_b.cognito_jwks_url = url::Url::parse(&format!(
        "http://127.0.0.1:{cognito_port}/{POOL_B_ID}/.well-known/jwks.json"
    ))?;
    site_b.cognito_client_ids = vec![CLIENT_B_ID.to_owned()];
    site_b.signup_user_pool_id = Some(POOL_B_ID.to_owned());
    site_b.cognito_user_pool_id = Some(POOL_B_ID.to_owned());
    site_b.passkey_enroll_url = None;
    site_b.oidc = None;
    site_b.related_origins = Vec::new();
    let admin_b = rp_server::cognito::CognitoAdmin::new(
        aws_sdk_cognitoidentityprovider::Client::new(&sdk),
        POOL_B_ID.to_owned(),
    );
    let rp = rp_server::Application::build_on_both_sites(
        rp_listener,
        Some(internal_listener),
        vec![(rp_config, Some(admin)), (site_b, Some(admin_b))],
        Clock::system(),
    )
    .await
    .context("starting rp-server (is Postgres up?)")?;

    println!(
        "\n  local stack is up\n\n  \
         demo page          {demo_url}\n  \
         rp-server          {rp_url}\n  \
         console            {console_url}/console/   (the demo user is an admin: sign in with their passkey)\n  \
         internal API       http://{internal_addr}\n  \
         OpenAPI            {rp_url}/openapi.json\n  \
         OpenID provider    {rp_url}/.well-known/openid-configuration   (client {OIDC_CLIENT_ID})\n  \
         Cognito stand-in   {cognito_url}   (user pool {POOL_ID}, app client {CLIENT_ID})\n  \
         second site        http://b.localhost:{rp_port}   (RP ID b.localhost; user pool {POOL_B_ID}, app client {CLIENT_B_ID})\n  \
         issuer / JWKS      {issuer}/.well-known/jwks.json\n  \
         demo user          demo@example.com / Demo-password-1   (an admin of the console)\n  \
         legacy user        legacy@example.com / Legacy-password-1   (add a Cognito passkey, then sign in with it: it moves)\n  \
         tokens             {}/service-token, {}/admin-token\n\n  \
         Ctrl-C stops everything.\n",
        cli.state_dir.display(),
        cli.state_dir.display()
    );

    let demo = demo_router(&cli.web_dir, &rp_url, &cognito_url, mailbox)?;
    let demo_task = tokio::spawn({
        let stop = signal(stop_rx.clone());
        async move {
            axum::serve(demo_listener, demo)
                .with_graceful_shutdown(stop)
                .await
        }
    });
    let rp_task = tokio::spawn(rp.run_until(signal(stop_rx)));
    tokio::signal::ctrl_c()
        .await
        .context("waiting for Ctrl-C")?;
    let _ = stop_tx.send(true);
    let _ = standin_task.await;
    let _ = rp_task.await;
    let _ = demo_task.await;
    Ok(())
}

/// The demo page: `web/demo/index.html`, the built client under `/dist`, and
/// `/config.json` telling it where everything is.
fn demo_router(
    web: &std::path::Path,
    rp_url: &str,
    cognito_url: &str,
    mailbox: Option<Arc<testkit::smtp::Mailbox>>,
) -> anyhow::Result<axum::Router> {
    let index = web.join("demo/index.html");
    if !web.join("dist/demo.js").exists() {
        anyhow::bail!(
            "the demo is not built: run `npm ci && npm run build` in {} (scripts/dev does)",
            web.display()
        );
    }
    let config = serde_json::json!({
        "rpUrl": rp_url,
        "cognitoEndpoint": format!("{cognito_url}/"),
        "userPoolId": POOL_ID,
        "clientId": CLIENT_ID,
        "region": "eu-west-1",
        "mailbox": mailbox.is_some(),
        "oidcIssuer": rp_url,
        "oidcClientId": OIDC_CLIENT_ID,
        "hostedDomain": format!("{cognito_url}/{POOL_ID}"),
        "identityProvider": IDP_NAME,
    });
    // The local mailbox, newest first: what the demo page shows as "mail".
    let mail = move || {
        let mailbox = mailbox.clone();
        async move {
            let messages: Vec<serde_json::Value> = mailbox
                .map(|m| m.messages())
                .unwrap_or_default()
                .into_iter()
                .rev()
                .map(|m| serde_json::json!({ "to": m.to, "subject": m.subject, "text": m.text(), "link": m.link() }))
                .collect();
            axum::Json(serde_json::json!({ "messages": messages }))
        }
    };
    Ok(axum::Router::new()
        .route_service("/", tower_http::services::ServeFile::new(index))
        .route(
            "/config.json",
            axum::routing::get(move |headers: axum::http::HeaderMap| async move {
                axum::Json(site_config(config, &headers))
            }),
        )
        .route("/mailbox.json", axum::routing::get(mail))
        // Where the pool's hosted endpoints send the browser back (the demo finishes there).
        .route_service(
            "/hosted-callback",
            tower_http::services::ServeFile::new(web.join("demo/index.html")),
        )
        .route_service(
            "/amplify-callback",
            tower_http::services::ServeFile::new(web.join("demo/index.html")),
        )
        // Where rp-server's OpenID provider sends the browser back (the code is in the URL).
        .route(
            "/oidc-callback",
            axum::routing::get(|| async {
                axum::response::Html("<!doctype html><title>Signed in</title><p id=\"callback\">Back from the sign-in page.</p>")
            }),
        )
        .nest_service(
            "/dist",
            tower_http::services::ServeDir::new(web.join("dist")),
        ))
}

/// Puts the demo user in the console's admin group (`rp-admins`), so whoever signs in to
/// the demo as them can open the console.
/// The demo's configuration for the site its page was opened on: at `b.localhost`, the
/// second site's (its rp-server host, pool and client; no redirect sign-in), else the
/// first's.
fn site_config(
    mut config: serde_json::Value,
    headers: &axum::http::HeaderMap,
) -> serde_json::Value {
    let host = headers
        .get(axum::http::header::HOST)
        .and_then(|h| h.to_str().ok())
        .unwrap_or_default();
    if host.starts_with("b.localhost") {
        let rp_url = config["rpUrl"]
            .as_str()
            .unwrap_or_default()
            .replace("//localhost", "//b.localhost");
        config["rpUrl"] = rp_url.into();
        config["userPoolId"] = POOL_B_ID.into();
        config["clientId"] = CLIENT_B_ID.into();
        config["site"] = "b".into();
        for key in [
            "oidcIssuer",
            "oidcClientId",
            "hostedDomain",
            "identityProvider",
        ] {
            config[key] = serde_json::Value::Null;
        }
    } else {
        config["site"] = "default".into();
    }
    config
}

async fn make_admin(sdk: &aws_config::SdkConfig, username: &str) -> anyhow::Result<()> {
    let cognito = aws_sdk_cognitoidentityprovider::Client::new(sdk);
    let group = rp_server::config::DEFAULT_ADMIN_GROUP;
    cognito
        .create_group()
        .user_pool_id(POOL_ID)
        .group_name(group)
        .description("rp-server console admins")
        .send()
        .await
        .context("creating the admin group in the stand-in")?;
    cognito
        .admin_add_user_to_group()
        .user_pool_id(POOL_ID)
        .username(username)
        .group_name(group)
        .send()
        .await
        .context("adding the demo user to the admin group")?;
    Ok(())
}

/// SDK configuration that reaches the stand-in: it accepts any credentials.
async fn aws_config_for(endpoint: &str) -> aws_config::SdkConfig {
    aws_config::defaults(aws_config::BehaviorVersion::latest())
        .region(aws_config::Region::new("eu-west-1"))
        .credentials_provider(aws_sdk_cognitoidentityprovider::config::Credentials::new(
            "LOCALSTACKKEY",
            "local-stack-secret",
            None,
            None,
            "local-stack",
        ))
        .endpoint_url(endpoint)
        .load()
        .await
}
