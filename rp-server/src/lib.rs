//! rp-server: a self-hosted passkey relying party for Amazon Cognito.
//!
//! The app is a function of its state ([`http::app`]); [`Application::build`] wires
//! configuration, database, JWKS verifier and WebAuthn policy into that state and binds
//! the listener, so tests drive the same code on port 0.

pub mod admin;
pub mod audit;
pub mod auth;
pub mod authenticators;
pub mod ceremony;
pub mod cli;
pub mod clock;
pub mod cognito;
pub mod config;
pub mod cose;
pub mod flows;
pub mod http;
pub mod mail;
pub mod mds;
pub mod metrics;
pub mod model;
pub mod net;
pub mod oidc;
pub mod passkeys;
pub mod policy;
pub mod purge;
pub mod state;
pub mod store;
pub mod telemetry;

use std::net::SocketAddr;
use std::sync::Arc;

use anyhow::Context as _;
use secrecy::ExposeSecret as _;
use sqlx::postgres::{PgConnectOptions, PgPoolOptions};

use crate::clock::Clock;
use crate::config::Config;
use crate::http::ratelimit::RateLimiter;
pub use crate::state::AppState;

/// Opens a connection pool (lazily: the server starts even if the database is briefly
/// down, and `/readyz` says so). Requests wait at most `timeouts.acquire` for a
/// connection and Postgres cancels a statement after `timeouts.statement`; both answer
/// 503, inside the trigger's budget. A connection idle for `timeouts.test_after_idle` or
/// longer is pinged before a request gets it, and replaced if that fails (sqlx's own
/// test, off here, pings before every use).
pub fn connect_lazy(
    database_url: &secrecy::SecretString,
    max_connections: u32,
    timeouts: config::DbTimeouts,
) -> anyhow::Result<store::Db> {
    let options: PgConnectOptions = database_url
        .expose_secret()
        .parse::<PgConnectOptions>()
        .context("DATABASE_URL is not a valid Postgres connection string")?
        .options([(
            "statement_timeout",
            timeouts.statement.as_millis().to_string(),
        )]);
    let test_after_idle = timeouts.test_after_idle;
    Ok(PgPoolOptions::new()
        .max_connections(max_connections)
        .acquire_timeout(timeouts.acquire)
        .test_before_acquire(false)
        .before_acquire(move |conn, meta| {
            Box::pin(async move {
                if meta.idle_for >= test_after_idle {
                    sqlx::Connection::ping(conn).await?;
                }
                Ok(true)
            })
        })
        .connect_lazy_with(options))
}

/// Applies pending migrations.
pub async fn migrate(db: &store::Db) -> anyhow::Result<()> {
    store::migrate(db)
        .await
        .context("applying database migrations")?;
    Ok(())
}

/// Builds the sites of `configs` (each with its pool's admin client): with more than one,
/// the database's keys are made per site first (`store::sites`); sites from `[[site]]`
/// tables are routed by host and pool, the one site of an environment-only
/// configuration answers everything.
async fn build_sites(
    db: &store::Db,
    clock: &Clock,
    configs: Vec<(Config, Option<cognito::CognitoAdmin>)>,
) -> anyhow::Result<state::Sites> {
    if configs.len() > 1 && store::sites::allow_several(db).await? {
        tracing::info!("the database's keys are per site now (a second site is configured)");
    }
    let routed = configs.len() > 1 || configs.iter().any(|(c, _)| c.routed);
    let default = model::SiteId::DEFAULT;
    if routed
        && !configs.iter().any(|(c, _)| c.site.as_str() == default)
        && store::sites::has_users(db, default).await.unwrap_or(false)
    {
        tracing::error!(
            "the database has users of the site `default`, and no [[site]] table is `default`: their passkeys are served by no site. Give the site that took over from the one-site configuration `id = \"default\"`"
        );
    }
    let mut built = Vec::with_capacity(configs.len());
    for (site_config, cognito) in configs {
        // Boxed: the Cognito SDK's futures inside are deep enough to overflow the
        // compiler's layout queries of every caller otherwise.
        let site = Box::pin(flows::Site::build(&site_config, db, clock, cognito))
            .await
            .with_context(|| format!("site {}", site_config.site))?;
        built.push((
            Arc::new(site),
            config::sites::hosts(&site_config),
            config::sites::pool_id(&site_config.cognito_issuer).to_owned(),
        ));
    }
    Ok(if routed {
        state::Sites::new(built)
    } else {
        state::Sites::one(built.remove(0).0)
    })
}

/// Each configuration with the admin client of the pool it administers (sign-up, email
/// lookups, sign-out), from the AWS SDK's standard environment; none when it names none.
async fn with_pool_clients(configs: Vec<Config>) -> Vec<(Config, Option<cognito::CognitoAdmin>)> {
    let mut with_clients = Vec::with_capacity(configs.len());
    for config in configs {
        let cognito = match config
            .cognito_user_pool_id
            .as_ref()
            .or(config.signup_user_pool_id.as_ref())
        {
            Some(pool) => Some(cognito::CognitoAdmin::from_environment(pool.clone()).await),
            None => None,
        };
        with_clients.push((config, cognito));
    }
    with_clients
}

/// Replaces the sites `state` serves with those of `configs` (SIGHUP: the config file read
/// again), each with its pool's admin client from the AWS SDK's environment. Refused, the
/// sites in force kept, when a process-wide setting changed (those need a restart) or a
/// site cannot be built. Requests under way finish with the sites they started with; a
/// removed site's host and pool find no site from now on (404 `UNKNOWN_SITE`).
pub async fn reload_sites(state: AppState, configs: Vec<Config>) -> anyhow::Result<()> {
    reload_sites_with(state, with_pool_clients(configs).await).await
}

/// [`reload_sites`] with the pools' admin clients given (tests).
pub async fn reload_sites_with(
    state: AppState,
    configs: Vec<(Config, Option<cognito::CognitoAdmin>)>,
) -> anyhow::Result<()> {
    let (first, _) = configs.first().context("no site is configured")?;
    if let Some(key) = state.config.process_wide_change(first) {
        anyhow::bail!("`{key}` changed: it is process-wide, restart rp-server to apply it");
    }
    let sites = Box::pin(build_sites(&state.db, &state.clock, configs)).await?;
    let ids: Vec<String> = sites.all().iter().map(|s| s.id.to_string()).collect();
    state.sites.store(Arc::new(sites));
    tracing::info!(sites = %ids.join(", "), "sites reloaded");
    Ok(())
}

/// The kernel queue of connections not yet accepted (capped by `net.core.somaxconn`).
/// A burst of new connections — a deploy, a load balancer's reconnects, a flood — waits
/// there instead of having its SYNs dropped (which costs a client a 1 s retransmit).
pub const LISTEN_BACKLOG: u32 = 4096;

/// Binds a listener on `addr` with [`LISTEN_BACKLOG`] (the standard library's, and so
/// tokio's `bind`, is 128).
pub fn listen(addr: SocketAddr) -> std::io::Result<tokio::net::TcpListener> {
    let socket = if addr.is_ipv4() {
        tokio::net::TcpSocket::new_v4()?
    } else {
        tokio::net::TcpSocket::new_v6()?
    };
    socket.set_reuseaddr(true)?;
    socket.bind(addr)?;
    socket.listen(LISTEN_BACKLOG)
}

/// Serves `router` on `listener` until `shutdown`: at most `config.max_connections`
/// connections at once (more wait to be accepted, so descriptors never run out), each
/// closed when a client takes longer than `config.header_read_timeout` to send headers
/// or stays idle that long; on shutdown the listener closes and open connections finish
/// their requests (the caller bounds that with the grace period).
async fn serve(
    listener: tokio::net::TcpListener,
    router: axum::Router,
    shutdown: impl std::future::Future<Output = ()> + Send + 'static,
    config: &config::Config,
) -> anyhow::Result<()> {
    use hyper_util::rt::{TokioExecutor, TokioTimer};
    use hyper_util::server::conn::auto::Builder;

    let permits = Arc::new(tokio::sync::Semaphore::new(config.max_connections));
    let graceful = hyper_util::server::graceful::GracefulShutdown::new();
    let mut builder = Builder::new(TokioExecutor::new());
    builder
        .http1()
        .timer(TokioTimer::new())
        .header_read_timeout(config.header_read_timeout);
    builder
        .http2()
        .timer(TokioTimer::new())
        .keep_alive_interval(Some(config.header_read_timeout));
    let mut shutdown = std::pin::pin!(shutdown);
    loop {
        let permit = tokio::select! {
            permit = permits.clone().acquire_owned() => permit.context("connection permits closed")?,
            () = &mut shutdown => break,
        };
        let (stream, peer) = tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok(accepted) => accepted,
                Err(e) => {
                    // E.g. out of descriptors: wait rather than spin.
                    tracing::warn!(error = %e, "accepting a connection failed");
                    tokio::time::sleep(std::time::Duration::from_millis(50)).await;
                    continue;
                }
            },
            () = &mut shutdown => break,
        };
        connection(
            stream,
            peer,
            router.clone(),
            builder.clone(),
            graceful.watcher(),
            permit,
            config.header_read_timeout,
        );
    }
    drop(listener);
    graceful.shutdown().await;
    Ok(())
}

/// Serves one connection on its own task, holding `permit` until it closes.
fn connection(
    stream: tokio::net::TcpStream,
    peer: SocketAddr,
    router: axum::Router,
    builder: hyper_util::server::conn::auto::Builder<hyper_util::rt::TokioExecutor>,
    watcher: hyper_util::server::graceful::Watcher,
    permit: tokio::sync::OwnedSemaphorePermit,
    first_byte_within: std::time::Duration,
) {
    use hyper_util::rt::TokioIo;
    // Each request learns its peer (the rate limiter and audit log read it); the router
    // itself is shared, not rebuilt per connection.
    let service = hyper::service::service_fn(move |req: hyper::Request<hyper::body::Incoming>| {
        let mut req = req.map(axum::body::Body::new);
        req.extensions_mut()
            .insert(axum::extract::ConnectInfo(peer));
        http::scope_admin_path(&mut req);
        let mut router = router.clone();
        async move { tower_service::Service::call(&mut router, req).await }
    });
    tokio::spawn(async move {
        // A connection that sends nothing at all is closed too (hyper's header timer
        // starts with the first byte).
        let mut first = [0u8; 1];
        if !matches!(
            tokio::time::timeout(first_byte_within, stream.peek(&mut first)).await,
            Ok(Ok(n)) if n > 0
        ) {
            drop(permit);
            return;
        }
        let connection = builder
            .serve_connection_with_upgrades(TokioIo::new(stream), service)
            .into_owned();
        let _ = watcher.watch(connection).await;
        drop(permit);
    });
}

pub struct Application {
    listener: tokio::net::TcpListener,
    /// `RP_INTERNAL_LISTEN_ADDR`'s listener, when the private routes have their own.
    internal: Option<tokio::net::TcpListener>,
    state: AppState,
}

impl Application {
    /// Validates the environment, connects, migrates (unless disabled) and binds. The
    /// Cognito admin client of sign-up comes from the AWS SDK's standard environment.
    pub async fn build(config: Config, clock: Clock) -> anyhow::Result<Self> {
        Self::build_sites(vec![config], clock).await
    }

    /// As [`Application::build`], for every site of `configs` (`config::sites::configs`;
    /// the process-wide settings are the first's), each with its pool's admin client.
    pub async fn build_sites(configs: Vec<Config>, clock: Clock) -> anyhow::Result<Self> {
        let first = configs.first().context("no site is configured")?;
        let listener = listen(first.listen_addr)
            .with_context(|| format!("binding RP_LISTEN_ADDR {}", first.listen_addr))?;
        let internal = match first.internal_listen_addr {
            Some(addr) => Some(
                listen(addr).with_context(|| format!("binding RP_INTERNAL_LISTEN_ADDR {addr}"))?,
            ),
            None => None,
        };
        let sites = with_pool_clients(configs).await;
        Self::build_on_both_sites(listener, internal, sites, clock).await
    }

    /// As [`Application::build`], with the Cognito admin client given (tests point it
    /// at a stand-in).
    pub async fn build_with(
        config: Config,
        clock: Clock,
        cognito: Option<cognito::CognitoAdmin>,
    ) -> anyhow::Result<Self> {
        let listener = listen(config.listen_addr)
            .with_context(|| format!("binding RP_LISTEN_ADDR {}", config.listen_addr))?;
        Self::build_on(listener, config, clock, cognito).await
    }

    /// As [`Application::build_with`], serving the public routes on `listener`, which
    /// the caller bound (port 0, then learnt the address; `listen_addr` is not used).
    pub async fn build_on(
        listener: tokio::net::TcpListener,
        config: Config,
        clock: Clock,
        cognito: Option<cognito::CognitoAdmin>,
    ) -> anyhow::Result<Self> {
        let internal = match config.internal_listen_addr {
            Some(addr) => Some(
                listen(addr).with_context(|| format!("binding RP_INTERNAL_LISTEN_ADDR {addr}"))?,
            ),
            None => None,
        };
        Self::build_on_both(listener, internal, config, clock, cognito).await
    }

    /// As [`Application::build_on`], with the internal listener bound by the caller too
    /// (`internal_listen_addr` should name its address: the console's origin is there).
    pub async fn build_on_both(
        listener: tokio::net::TcpListener,
        internal: Option<tokio::net::TcpListener>,
        config: Config,
        clock: Clock,
        cognito: Option<cognito::CognitoAdmin>,
    ) -> anyhow::Result<Self> {
        Self::build_on_both_sites(listener, internal, vec![(config, cognito)], clock).await
    }

    /// As [`Application::build_on_both`], for several sites, each with its configuration
    /// and its pool's admin client; the process-wide settings are the first's. With more
    /// than one, the database's keys are made per site first (`store::sites`).
    pub async fn build_on_both_sites(
        listener: tokio::net::TcpListener,
        internal: Option<tokio::net::TcpListener>,
        sites: Vec<(Config, Option<cognito::CognitoAdmin>)>,
        clock: Clock,
    ) -> anyhow::Result<Self> {
        let config = sites.first().context("no site is configured")?.0.clone();
        let db = connect_lazy(
            &config.database_url,
            config.db_max_connections,
            config.db_timeouts,
        )?;
        // Readiness probes get a connection of their own: they never wait for, or take,
        // the ones requests need, and answer within a second.
        let probe = connect_lazy(
            &config.database_url,
            1,
            config::DbTimeouts {
                acquire: std::time::Duration::from_millis(900),
                statement: std::time::Duration::from_millis(900),
                ..config::DbTimeouts::default()
            },
        )?;
        if config.auto_migrate {
            migrate(&db).await?;
        }
        // This month's audit partition before the first request (see `ensure_ahead`); a
        // database not there yet is the purge's to retry, not a reason not to start.
        if let Err(e) = store::audit::partitions::ensure_ahead(&db, clock.now()).await {
            tracing::warn!(error = %e, "creating the audit log's partitions failed");
        }
        let sites = Box::pin(build_sites(&db, &clock, sites)).await?;
        let rate_limiter = RateLimiter::new(config.rate_limit_per_min).map(Arc::new);
        let ops_rate_limiter = RateLimiter::new(config.rate_limit_per_min).map(Arc::new);
        let state = AppState::new(state::Shared {
            config: Arc::new(config),
            db,
            probe,
            ready: Arc::default(),
            clock,
            metrics: metrics::handle(),
            rate_limiter,
            ops_rate_limiter,
            sites: arc_swap::ArcSwap::from_pointee(sites),
        });
        Ok(Self {
            listener,
            internal,
            state,
        })
    }

    pub fn local_addr(&self) -> std::io::Result<SocketAddr> {
        self.listener.local_addr()
    }

    /// The private listener's address, when there is one.
    pub fn internal_addr(&self) -> Option<SocketAddr> {
        self.internal.as_ref().and_then(|l| l.local_addr().ok())
    }

    pub fn state(&self) -> &AppState {
        &self.state
    }

    /// Serves until `shutdown` resolves, then drains in-flight requests. The purge of
    /// expired rows runs beside it.
    pub async fn run_until(
        self,
        shutdown: impl std::future::Future<Output = ()> + Send + 'static,
    ) -> anyhow::Result<()> {
        let purge = tokio::spawn(purge::run(self.state.clone()));
        let grace = self.state.config.shutdown_grace;
        // One shutdown signal for every listener, and for the grace period.
        let (stop, stopped) = tokio::sync::watch::channel(false);
        tokio::spawn(async move {
            shutdown.await;
            let _ = stop.send(true);
        });
        let on_stop = |mut rx: tokio::sync::watch::Receiver<bool>| async move {
            let _ = rx.wait_for(|stopped| *stopped).await;
        };
        let serving = async {
            match self.internal {
                None => {
                    let config = self.state.config.clone();
                    serve(
                        self.listener,
                        http::app(self.state),
                        on_stop(stopped.clone()),
                        &config,
                    )
                    .await
                }
                Some(internal) => {
                    let config = self.state.config.clone();
                    let (public, private) = http::apps(self.state);
                    let (a, b) = tokio::join!(
                        serve(self.listener, public, on_stop(stopped.clone()), &config),
                        serve(internal, private, on_stop(stopped.clone()), &config),
                    );
                    a.and(b)
                }
            }
        };
        // In-flight requests drain for at most the grace period: a client that never
        // finishes its request must not keep the process alive after SIGTERM.
        let give_up = async {
            on_stop(stopped.clone()).await;
            tokio::time::sleep(grace).await;
        };
        let result = tokio::select! {
            result = serving => result,
            () = give_up => {
                tracing::warn!(grace_secs = grace.as_secs(), "shutdown grace period over; exiting with connections still open");
                Ok(())
            }
        };
        purge.abort();
        result
    }
}
