//! `rp-bench`: drives full passkey sign-ins against a real rp-server process and a real
//! Postgres, and prints what one sign-in costs. `scripts/bench` builds it in release,
//! starts a private Postgres with `pg_stat_statements` and runs it.
//!
//! A *full sign-in* is the four requests one passkey-first sign-in costs the server in
//! production: `POST /v1/authentication/options`, `POST /v1/authentication/verify` (a
//! real P-256 assertion from the testkit authenticator), then what Cognito's triggers
//! send: `POST /internal/v1/challenges` (Create) and `POST /internal/v1/nonces/redeem`
//! (Verify).
//!
//! `--sites N` serves N sites from one rp-server (`[[site]]` tables, a pool each), the users
//! spread over them, each request naming its site by `Host` and each trigger call by pool.
//!
//! Closed loop (default): `--concurrency` virtual users sign in back to back for
//! `--duration` seconds; the throughput is the capacity. Open loop (`--rate R`): a sign-in
//! starts every 1/R s whether or not earlier ones finished, and its latency counts from
//! when it was due, so a stalled server shows as latency instead of hiding it.

mod signature;
mod triggers;

use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use anyhow::{Context as _, anyhow, bail, ensure};
use clap::Parser;
use serde_json::{Value, json};
use sqlx::Connection as _;
use testkit::authenticator::SoftAuthenticator;
use testkit::idp::{POOL_ID, TokenIssuer};
use tokio::sync::Mutex;

const RP_ID: &str = "bench.example";
const ORIGIN: &str = "https://bench.example";
const SERVICE_TOKEN: &str = "bench-service-token-0123456789abcdef0123";

#[derive(Parser, Debug)]
#[command(
    about = "Full passkey sign-ins against rp-server: throughput, latency, CPU and SQL per sign-in"
)]
struct Args {
    /// Users to enrol, one passkey each.
    #[arg(long, default_value_t = 64)]
    users: usize,
    /// Users seeded in bulk beside them (SQL, not the API), with `--filler-passkeys` each
    /// and `--filler-audit` audit rows in all: sign-ins against a database of that size.
    #[arg(long, default_value_t = 0)]
    filler_users: u64,
    /// Passkeys of each filler user.
    #[arg(long, default_value_t = 2)]
    filler_passkeys: u32,
    /// Audit rows seeded in bulk, spread over the last 13 months (each in its month's
    /// partition).
    #[arg(long, default_value_t = 0)]
    filler_audit: u64,
    /// Concurrent virtual users (closed loop).
    #[arg(long, default_value_t = 32)]
    concurrency: usize,
    /// Offered sign-ins per second (open loop) instead of a closed loop.
    #[arg(long)]
    rate: Option<f64>,
    /// Measured seconds.
    #[arg(long, default_value_t = 10.0)]
    duration: f64,
    /// Unmeasured seconds of the same load first (connections, caches, JIT-free warm-up).
    #[arg(long, default_value_t = 2.0)]
    warmup: f64,
    /// The rp-server binary to run.
    #[arg(long, default_value = "target/release/rp-server")]
    rp_server: PathBuf,
    /// Sites the rp-server serves (`[[site]]` tables in a config file: a pool, an RP ID
    /// and a host each), the users spread over them; every request names its site by
    /// `Host`, every trigger call by its pool. 1: today's environment-only configuration.
    #[arg(long, default_value_t = 1)]
    sites: usize,
    /// rp-server processes on the one database; every request goes to the next one in
    /// turn (as a load balancer would send them), so one sign-in's four requests meet
    /// different processes.
    #[arg(long, default_value_t = 1)]
    instances: usize,
    /// More environment for rp-server, `NAME=value` (repeatable): settings to compare, or
    /// `TOKIO_WORKER_THREADS`.
    #[arg(long = "server-env", value_name = "NAME=value")]
    server_env: Vec<String>,
    /// rp-server's database pool size.
    #[arg(long, default_value_t = 10)]
    db_connections: u32,
    /// Also list the SQL statements of the measured window, by calls.
    #[arg(long)]
    statements: bool,
    /// Also measure the cognito-triggers function (a real process behind a local Lambda):
    /// its cold start and each trigger's warm latency, rp-server included.
    #[arg(long)]
    triggers: bool,
    /// The function binary `--triggers` runs.
    #[arg(long, default_value = "target/release/cognito-triggers")]
    triggers_binary: PathBuf,
    /// Sign-ins, one after another, that `--triggers` drives through the function warm.
    #[arg(long, default_value_t = 300)]
    trigger_sign_ins: usize,
    /// After the load, purge audit events older than this many days as rp-server's
    /// retention does (whole partitions dropped, the rest of the cutoff's month deleted)
    /// and report what it took.
    #[arg(long, value_name = "DAYS")]
    purge_older_than_days: Option<u32>,
    /// Where rp-server's log goes.
    #[arg(long, default_value = "target/bench/rp-server.log")]
    log: PathBuf,
    /// Use the database NAME and keep it: created and seeded by the first run, reused
    /// (seeding skipped) by later runs with the same filler options, so a large database's
    /// seeding is paid once. Drop it with `DROP DATABASE NAME` when done.
    #[arg(long, value_name = "NAME")]
    keep_database: Option<String>,
}

/// What a kept database says it was seeded with (its comment, written once seeding
/// finished: a database whose seeding failed half-way says nothing and is not reused).
fn seed_label(args: &Args) -> String {
    format!(
        "rp-bench seed: {} filler users with {} passkeys each, {} audit rows",
        args.filler_users, args.filler_passkeys, args.filler_audit
    )
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let args = Args::parse();
    ensure!(args.users > 0, "--users must be at least 1");
    ensure!(args.concurrency > 0, "--concurrency must be at least 1");
    ensure!(args.instances > 0, "--instances must be at least 1");
    ensure!(args.duration > 0.0, "--duration must be positive");
    if let Some(rate) = args.rate {
        ensure!(rate > 0.0, "--rate must be positive");
    }
    let server = testkit::db::server_url()?;
    let mut admin = sqlx::PgConnection::connect(server.as_str())
        .await
        .context("connecting to DATABASE_URL")?;

    // A database of its own, dropped at the end; or the kept one, reused when it holds
    // what these options would seed.
    let (name, seed_as) = match &args.keep_database {
        None => (
            format!("bench_{}", uuid::Uuid::new_v4().simple()),
            Seed::Fresh,
        ),
        Some(name) => {
            ensure!(
                !name.is_empty()
                    && name.len() <= 63
                    && name.starts_with(|c: char| c.is_ascii_lowercase() || c == '_')
                    && name
                        .chars()
                        .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_'),
                "--keep-database takes a name of lower-case letters, digits and _ (at most 63)"
            );
            ensure!(
                args.purge_older_than_days.is_none(),
                "--purge-older-than-days changes the database: not with --keep-database"
            );
            let comment: Option<Option<String>> = sqlx::query_scalar(
                "SELECT shobj_description(oid, 'pg_database') FROM pg_database WHERE datname = $1",
            )
            .bind(name)
            .fetch_optional(&mut admin)
            .await?;
            let seed_as = match comment {
                None => Seed::Kept,
                Some(Some(said)) if said == seed_label(&args) => Seed::Reused,
                Some(said) => bail!(
                    "database {name} exists but was not seeded with these filler options (it says: {}); drop it (DROP DATABASE {name}) or choose another name",
                    said.as_deref()
                        .unwrap_or("nothing: its seeding did not finish")
                ),
            };
            (name.clone(), seed_as)
        }
    };
    if seed_as != Seed::Reused {
        sqlx::query(&format!("CREATE DATABASE {name}"))
            .execute(&mut admin)
            .await?;
    }
    let mut db_url = server.clone();
    db_url.set_path(&format!("/{name}"));
    let result = run(&args, db_url.as_str(), &name, seed_as).await;
    if seed_as == Seed::Fresh {
        sqlx::query(&format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)"))
            .execute(&mut admin)
            .await
            .ok();
    }
    result
}

/// How this run's database came to be.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Seed {
    /// Made for this run, dropped after it.
    Fresh,
    /// Made for this run and kept: labelled once seeded.
    Kept,
    /// Kept by an earlier run with the same filler options: not seeded again.
    Reused,
}

async fn run(args: &Args, db_url: &str, name: &str, seed_as: Seed) -> anyhow::Result<()> {
    let mut stats_db = sqlx::PgConnection::connect(db_url).await?;
    sqlx::query("CREATE EXTENSION IF NOT EXISTS pg_stat_statements")
        .execute(&mut stats_db)
        .await?;
    sqlx::query("SELECT pg_stat_statements_reset()")
        .execute(&mut stats_db)
        .await
        .context(
            "pg_stat_statements is not loaded: start Postgres with \
             shared_preload_libraries=pg_stat_statements (scripts/bench does)",
        )?;
    let durability: String = sqlx::query_scalar(
        "SELECT format('synchronous_commit %s, fsync %s', current_setting('synchronous_commit'), current_setting('fsync'))",
    )
    .fetch_one(&mut stats_db)
    .await?;
    let backend: i32 = sqlx::query_scalar("SELECT pg_backend_pid()")
        .fetch_one(&mut stats_db)
        .await?;
    let postmaster = proc_stat(backend as u32)
        .context("reading the Postgres backend's /proc entry (is Postgres on this machine?)")?
        .ppid;

    ensure!(args.sites >= 1, "--sites must be at least 1");
    let mut sites = Vec::with_capacity(args.sites);
    for i in 0..args.sites {
        sites.push(BenchSite::start(i, args.sites).await?);
    }
    let idp = &sites[0].idp;
    if let Some(dir) = args.log.parent() {
        std::fs::create_dir_all(dir)?;
    }
    let config_file = match args.sites {
        1 => None,
        _ => {
            let path = args.log.with_extension("sites.toml");
            std::fs::write(&path, sites_file(&sites))?;
            Some(path)
        }
    };
    let http = reqwest::Client::builder()
        .pool_max_idle_per_host(4 * args.concurrency)
        .build()?;
    let mut servers = Vec::with_capacity(args.instances);
    let mut bases = Vec::with_capacity(args.instances);
    let mut slowest_start = Duration::ZERO;
    for i in 0..args.instances {
        let log = match i {
            0 => args.log.clone(),
            i => args.log.with_extension(format!("{}.log", i + 1)),
        };
        let started = Instant::now();
        let (server, base) =
            start_server(args, db_url, idp, config_file.as_deref(), &log, &http).await?;
        slowest_start = slowest_start.max(started.elapsed());
        servers.push(server);
        bases.push(base);
    }
    let server_pids = servers
        .iter()
        .map(|s| s.id().ok_or_else(|| anyhow!("rp-server exited at once")))
        .collect::<anyhow::Result<Vec<_>>>()?;

    let client_id = idp.client_id.clone();
    let ctx = Arc::new(Ctx {
        http,
        bases,
        next: AtomicUsize::new(0),
        client_id,
        sites,
    });
    let users = enrol(&ctx, args.users).await?;
    match seed_as {
        Seed::Reused => eprintln!("reusing database {name} ({})", seed_label(args)),
        Seed::Fresh | Seed::Kept if args.filler_users > 0 || args.filler_audit > 0 => {
            seed(&mut stats_db, db_url, args).await?
        }
        Seed::Fresh | Seed::Kept => {}
    }
    // Statistics as autovacuum keeps them in service: without them, the plans the server's
    // connections settle on in the first seconds think every table empty (a passkey looked
    // up by its site alone, then filtered), until autovacuum's ANALYZE replans them part
    // way through the measured window.
    sqlx::query("ANALYZE").execute(&mut stats_db).await?;
    if seed_as == Seed::Kept {
        sqlx::query(&format!(
            "COMMENT ON DATABASE {name} IS '{}'",
            seed_label(args)
        ))
        .execute(&mut stats_db)
        .await?;
    }
    eprintln!(
        "enrolled {} users; warming up for {} s",
        users.len(),
        args.warmup
    );
    if args.warmup > 0.0 {
        load(args, &ctx, &users, Duration::from_secs_f64(args.warmup)).await;
    }

    let rp_before = cpu_ticks_of(&server_pids)?;
    let pg_before = postgres_cpu_ticks(postmaster)?;
    let own_before = cpu_ticks_of(&[std::process::id()])?;
    sqlx::query("SELECT pg_stat_statements_reset()")
        .execute(&mut stats_db)
        .await?;
    let started = Instant::now();
    let outcome = load(args, &ctx, &users, Duration::from_secs_f64(args.duration)).await;
    let elapsed = started.elapsed().as_secs_f64();
    let rp_after = cpu_ticks_of(&server_pids)?;
    let pg_after = postgres_cpu_ticks(postmaster)?;
    let own_after = cpu_ticks_of(&[std::process::id()])?;
    let statements = statements(&mut stats_db).await?;
    let peak_rss_kib = server_pids
        .iter()
        .map(|&pid| peak_rss_kib(pid))
        .collect::<anyhow::Result<Vec<_>>>()?
        .into_iter()
        .max()
        .unwrap_or(0);
    // After the measured window: its requests must not count in the CPU per sign-in.
    let enumeration = enumeration_timing(&ctx, &ctx.sites[0].idp, &users[0]).await?;

    report(
        args,
        &outcome,
        elapsed,
        Usage {
            rp_ticks: rp_after - rp_before,
            pg_ticks: pg_after - pg_before,
            own_ticks: own_after - own_before,
            peak_rss_kib,
            start: slowest_start,
            durability,
        },
        &statements,
    );
    println!(
        "  wrong-passkey answer real user p50 {:.2} ms, unknown user p50 {:.2} ms (gap {:.2} ms, {} each; \
         the answers themselves are identical: API test internal::a_challenge_answers_alike_whoever_the_user_is)",
        ms(enumeration.real),
        ms(enumeration.unknown),
        ms(enumeration.real.abs_diff(enumeration.unknown)),
        ENUMERATION_ROUNDS,
    );
    // After the load too: CPU-bound, on a thread of its own.
    let check = tokio::task::spawn_blocking(signature::measure).await??;
    println!(
        "  signature check      webauthn-rs {:.3} ms, aws-lc-rs {:.3} ms per ES256 check \
         (rp-server makes one per sign-in with the first: webauthn-rs-core offers no other provider)",
        ms(check.webauthn_rs),
        ms(check.aws_lc_rs),
    );
    if args.triggers {
        // The function is measured on the first site's pool (one Lambda serves each pool
        // alike).
        let first_sites: Vec<_> = users.iter().filter(|u| u.site == 0).cloned().collect();
        let figures = triggers::measure(
            &args.triggers_binary,
            &ctx,
            ctx.base(),
            &first_sites,
            args.trigger_sign_ins,
        )
        .await?;
        println!(
            "  cognito-triggers ({} sign-ins warm, one process; from the invoke to the answer):",
            args.trigger_sign_ins
        );
        for (name, samples) in figures.rows {
            println!("    {name:<34} {}", percentiles(samples));
        }
    }
    if let Some(days) = args.purge_older_than_days {
        purge(db_url, days).await?;
    }
    for server in &mut servers {
        server.start_kill().ok();
    }
    ensure!(
        outcome.ok > 0,
        "no sign-in succeeded; first error: {}",
        outcome.first_error.as_deref().unwrap_or("none")
    );
    Ok(())
}

/// How long a Create trigger's challenge takes to refuse a wrong answer, for a real user
/// (a forged signature under their passkey's id) and for an unknown user (a key under the
/// fake options' id): an attacker comparing the two must learn nothing, so the medians
/// must be close. Measured here, after the load, never in a timed unit test.
struct Enumeration {
    real: Duration,
    unknown: Duration,
}

const ENUMERATION_ROUNDS: usize = 25;

/// p50, p99 and max of latency samples, in milliseconds.
fn percentiles(mut samples: Vec<Duration>) -> String {
    samples.sort();
    let at = |p: f64| {
        let rank = ((p / 100.0) * samples.len() as f64).ceil() as usize;
        samples
            .get(rank.clamp(1, samples.len().max(1)) - 1)
            .map_or(0.0, |d| ms(*d))
    };
    format!(
        "n {:>4}  p50 {:>7.2} ms  p99 {:>7.2} ms  max {:>7.2} ms",
        samples.len(),
        at(50.0),
        at(99.0),
        at(100.0)
    )
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1000.0
}

async fn enumeration_timing(
    ctx: &Ctx,
    idp: &TokenIssuer,
    real: &BenchUser,
) -> anyhow::Result<Enumeration> {
    // Registration options of a throwaway user give the forgers a key of their own.
    let token = idp.access_token(&uuid::Uuid::new_v4().to_string(), "forger@bench.example")?;
    let registration = ctx
        .post("/v1/registration/options", Some(&token), &json!({}))
        .await?;
    let forge = |id: Vec<u8>| -> anyhow::Result<SoftAuthenticator> {
        let mut authn = SoftAuthenticator::new();
        authn.reuse_credential_id = Some(id);
        authn.create(&registration["publicKey"], ORIGIN)?;
        Ok(authn)
    };
    let real_id = real.authn.lock().await.credentials[0].id.clone();
    let ghost = uuid::Uuid::new_v4().to_string();
    let challenge = |sub: String, username: String| async move {
        ctx.post(
            "/internal/v1/challenges",
            Some(SERVICE_TOKEN),
            &json!({ "userPoolId": POOL_ID, "clientId": ctx.client_id, "userSub": sub,
                     "username": username, "userNotFound": false }),
        )
        .await
    };
    let ghost_options = challenge(ghost.clone(), "ghost@bench.example".to_owned()).await?;
    let ghost_id = rp_shared::credential_id::decode(
        ghost_options["publicKey"]["allowCredentials"][0]["id"]
            .as_str()
            .unwrap_or_default(),
    )
    .ok_or_else(|| anyhow!("fake options without an allowCredentials id"))?;
    let (mut bad_signature, mut fake_holder) = (forge(real_id.clone())?, forge(ghost_id.clone())?);
    let mut times = (Vec::new(), Vec::new());
    for _ in 0..ENUMERATION_ROUNDS {
        for (sub, name, authn, id, into) in [
            (
                real.sub.clone(),
                "real",
                &mut bad_signature,
                &real_id,
                &mut times.0,
            ),
            (
                ghost.clone(),
                "ghost@bench.example",
                &mut fake_holder,
                &ghost_id,
                &mut times.1,
            ),
        ] {
            let c = challenge(sub, name.to_owned()).await?;
            let assertion = authn.assert_with(id, &c["publicKey"], ORIGIN)?;
            let body = json!({ "ceremonyId": c["ceremonyId"], "credential": assertion });
            let started = Instant::now();
            let answer = ctx
                .at(
                    0,
                    ctx.http
                        .post(format!("{}/v1/authentication/verify", ctx.base())),
                )
                .json(&body)
                .send()
                .await?;
            into.push(started.elapsed());
            ensure!(
                answer.status() == 422,
                "a wrong answer got {}",
                answer.status()
            );
        }
    }
    let median = |v: &mut Vec<Duration>| {
        v.sort();
        v[v.len() / 2]
    };
    Ok(Enumeration {
        real: median(&mut times.0),
        unknown: median(&mut times.1),
    })
}

struct Ctx {
    http: reqwest::Client,
    /// One per rp-server process.
    bases: Vec<String>,
    next: AtomicUsize,
    client_id: String,
    /// The first is the one the enumeration timing and the triggers use.
    sites: Vec<BenchSite>,
}

struct BenchUser {
    sub: String,
    /// Index into [`Ctx::sites`].
    site: usize,
    authn: Mutex<SoftAuthenticator>,
}

/// One site of the benchmark: its pool (a token issuer of its own) and, with several
/// sites, the host its requests name.
struct BenchSite {
    idp: TokenIssuer,
    rp_id: String,
    origin: String,
    /// `None` with one site: requests name no host in particular, as before sites.
    host: Option<String>,
}

impl BenchSite {
    /// Site `i` of `n`: the first is today's (`bench.example`, the test pool), the
    /// others `bench<i>.example` with pools of their own.
    async fn start(i: usize, n: usize) -> anyhow::Result<Self> {
        let (rp_id, idp) = match i {
            0 => (RP_ID.to_owned(), TokenIssuer::start().await?),
            i => (
                format!("bench{i}.example"),
                TokenIssuer::start_for_pool(&format!("eu-west-1_Bench{i:03}")).await?,
            ),
        };
        Ok(Self {
            origin: format!("https://{rp_id}"),
            host: (n > 1).then(|| rp_id.clone()),
            rp_id,
            idp,
        })
    }
}

/// The config file of several sites: one `[[site]]` table each (the first is `default`).
fn sites_file(sites: &[BenchSite]) -> String {
    let mut out = String::new();
    for (i, site) in sites.iter().enumerate() {
        let id = if i == 0 {
            "default".to_owned()
        } else {
            format!("s{i}")
        };
        out.push_str(&format!(
            "[[site]]\nid = \"{id}\"\nrp_id = \"{}\"\norigins = [\"{}\"]\ncognito_issuer = \"{}\"\n\
             cognito_jwks_url = \"{}\"\ncognito_client_ids = [\"{}\"]\n\n",
            site.rp_id, site.origin, site.idp.issuer, site.idp.jwks_url, site.idp.client_id
        ));
    }
    out
}

impl Ctx {
    /// The next process's address, in turn.
    fn base(&self) -> &str {
        &self.bases[self.next.fetch_add(1, Ordering::Relaxed) % self.bases.len()]
    }

    /// `req` naming site `site` by its host (with several sites).
    fn at(&self, site: usize, req: reqwest::RequestBuilder) -> reqwest::RequestBuilder {
        match &self.sites[site].host {
            Some(host) => req.header(reqwest::header::HOST, host),
            None => req,
        }
    }

    /// A POST to the first site.
    async fn post(&self, path: &str, bearer: Option<&str>, body: &Value) -> anyhow::Result<Value> {
        self.post_at(0, path, bearer, body).await
    }

    /// A POST to site `site`.
    async fn post_at(
        &self,
        site: usize,
        path: &str,
        bearer: Option<&str>,
        body: &Value,
    ) -> anyhow::Result<Value> {
        let mut req = self
            .at(site, self.http.post(format!("{}{path}", self.base())))
            .json(body);
        if let Some(token) = bearer {
            req = req.bearer_auth(token);
        }
        let response = req.send().await.with_context(|| format!("POST {path}"))?;
        let status = response.status();
        let body: Value = response
            .json()
            .await
            .with_context(|| format!("POST {path}: {status} without a JSON body"))?;
        if !status.is_success() {
            bail!("POST {path}: {status} {body}");
        }
        Ok(body)
    }
}

/// Starts one rp-server on the benchmark's database and waits until it is ready; returns
/// the process and its base URL.
async fn start_server(
    args: &Args,
    db_url: &str,
    idp: &TokenIssuer,
    config_file: Option<&std::path::Path>,
    log: &std::path::Path,
    http: &reqwest::Client,
) -> anyhow::Result<(tokio::process::Child, String)> {
    let mut command = tokio::process::Command::new(&args.rp_server);
    command
        .arg("serve")
        .env_clear()
        .env("PATH", std::env::var_os("PATH").unwrap_or_default())
        .env("DATABASE_URL", db_url)
        .env("RP_LISTEN_ADDR", "127.0.0.1:0")
        .env("RP_SERVICE_TOKEN", SERVICE_TOKEN)
        .env("RP_RATE_LIMIT_PER_MIN", "0")
        .env("RP_DB_MAX_CONNECTIONS", args.db_connections.to_string());
    match config_file {
        Some(file) => {
            command.env("RP_CONFIG_FILE", file);
        }
        None => {
            command
                .env("RP_ID", RP_ID)
                .env("RP_ORIGINS", ORIGIN)
                .env("RP_COGNITO_ISSUER", &idp.issuer)
                .env("RP_COGNITO_JWKS_URL", &idp.jwks_url)
                .env("RP_COGNITO_CLIENT_IDS", &idp.client_id);
        }
    }
    for pair in &args.server_env {
        let (name, value) = pair
            .split_once('=')
            .ok_or_else(|| anyhow!("--server-env takes NAME=value, not {pair:?}"))?;
        command.env(name, value);
    }
    // rp-server binds port 0 and says where: no port is picked in advance.
    let (mut server, addr) = testkit::child::spawn_until(
        command,
        log,
        testkit::child::rp_server_addr,
        Duration::from_secs(60),
    )
    .await
    .with_context(|| {
        format!(
            "starting {} (build it with `cargo build --release -p rp-server`)",
            args.rp_server.display()
        )
    })?;
    let base = format!("http://{addr}");
    wait_ready(http, &base, &mut server, log).await?;
    Ok((server, base))
}

/// CPU ticks of the processes, together.
fn cpu_ticks_of(pids: &[u32]) -> anyhow::Result<u64> {
    pids.iter()
        .map(|&pid| proc_stat(pid).map(|s| s.cpu_ticks()))
        .sum()
}

async fn wait_ready(
    http: &reqwest::Client,
    base: &str,
    server: &mut tokio::process::Child,
    log: &std::path::Path,
) -> anyhow::Result<()> {
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        if let Some(status) = server.try_wait()? {
            bail!("rp-server exited ({status}); see {}", log.display());
        }
        let ready = http
            .get(format!("{base}/readyz"))
            .send()
            .await
            .is_ok_and(|r| r.status().is_success());
        if ready {
            return Ok(());
        }
        if Instant::now() > deadline {
            bail!("rp-server not ready after 30 s; see {}", log.display());
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// Registers one passkey for each of `n` users through the API, eight at a time; user `i`
/// is site `i mod sites`'s.
async fn enrol(ctx: &Arc<Ctx>, n: usize) -> anyhow::Result<Vec<Arc<BenchUser>>> {
    let mut users = Vec::with_capacity(n);
    for chunk in (0..n).collect::<Vec<_>>().chunks(8) {
        let mut set = tokio::task::JoinSet::new();
        for &i in chunk {
            let sub = uuid::Uuid::new_v4().to_string();
            let site = i % ctx.sites.len();
            let token = ctx.sites[site]
                .idp
                .access_token(&sub, &format!("user{i}@bench.example"))?;
            let ctx = ctx.clone();
            set.spawn(async move {
                let mut authn = SoftAuthenticator::new();
                let options = ctx
                    .post_at(site, "/v1/registration/options", Some(&token), &json!({}))
                    .await?;
                let credential = authn.create(&options["publicKey"], &ctx.sites[site].origin)?;
                ctx.post_at(
                    site,
                    "/v1/registration/verify",
                    Some(&token),
                    &json!({ "ceremonyId": options["ceremonyId"], "credential": credential }),
                )
                .await?;
                anyhow::Ok(Arc::new(BenchUser {
                    sub,
                    site,
                    authn: Mutex::new(authn),
                }))
            });
        }
        while let Some(done) = set.join_next().await {
            users.push(done.context("enrolment task")??);
        }
    }
    Ok(users)
}

/// The browser's half of a sign-in: options, then a real assertion to verify. Returns
/// verify's answer (the username and the nonce).
async fn passkey_sign_in(ctx: &Ctx, user: &BenchUser) -> anyhow::Result<Value> {
    // The authenticator is held until verify: its counter must reach the server in order.
    let mut authn = user.authn.lock().await;
    let options = ctx
        .post_at(user.site, "/v1/authentication/options", None, &json!({}))
        .await?;
    let assertion = authn.get(&options["publicKey"], &ctx.sites[user.site].origin)?;
    ctx.post_at(
        user.site,
        "/v1/authentication/verify",
        None,
        &json!({ "ceremonyId": options["ceremonyId"], "credential": assertion }),
    )
    .await
}

/// One full sign-in, as a browser and Cognito's triggers would make it.
async fn sign_in(ctx: &Ctx, user: &BenchUser) -> anyhow::Result<()> {
    let signed_in = passkey_sign_in(ctx, user).await?;
    let pool = &ctx.sites[user.site].idp.pool_id;
    let challenge = ctx
        .post(
            "/internal/v1/challenges",
            Some(SERVICE_TOKEN),
            &json!({
                "userPoolId": pool,
                "clientId": ctx.client_id,
                "userSub": user.sub,
                "username": signed_in["username"],
                "userNotFound": false,
            }),
        )
        .await?;
    let redeemed = ctx
        .post(
            "/internal/v1/nonces/redeem",
            Some(SERVICE_TOKEN),
            &json!({
                "nonce": signed_in["nonce"],
                "userSub": user.sub,
                "challengeId": challenge["challengeId"],
                "userPoolId": pool,
            }),
        )
        .await?;
    ensure!(redeemed["valid"] == true, "redemption refused: {redeemed}");
    Ok(())
}

#[derive(Default)]
struct Outcome {
    /// Latency of each successful sign-in, in microseconds.
    latencies_us: Vec<u64>,
    ok: u64,
    failed: u64,
    first_error: Option<String>,
}

impl Outcome {
    fn record(&mut self, latency: Duration, result: anyhow::Result<()>) {
        match result {
            Ok(()) => {
                self.ok += 1;
                self.latencies_us.push(latency.as_micros() as u64);
            }
            Err(e) => {
                self.failed += 1;
                self.first_error.get_or_insert_with(|| format!("{e:#}"));
            }
        }
    }

    fn merge(&mut self, other: Outcome) {
        self.latencies_us.extend(other.latencies_us);
        self.ok += other.ok;
        self.failed += other.failed;
        if self.first_error.is_none() {
            self.first_error = other.first_error;
        }
    }
}

async fn load(args: &Args, ctx: &Arc<Ctx>, users: &[Arc<BenchUser>], span: Duration) -> Outcome {
    match args.rate {
        None => closed_loop(args.concurrency, ctx, users, span).await,
        Some(rate) => open_loop(rate, ctx, users, span).await,
    }
}

async fn closed_loop(
    concurrency: usize,
    ctx: &Arc<Ctx>,
    users: &[Arc<BenchUser>],
    span: Duration,
) -> Outcome {
    let end = Instant::now() + span;
    let mut set = tokio::task::JoinSet::new();
    for worker in 0..concurrency {
        let ctx = ctx.clone();
        let users = users.to_vec();
        set.spawn(async move {
            let mut outcome = Outcome::default();
            let mut i = worker;
            while Instant::now() < end {
                let user = &users[i % users.len()];
                i += concurrency;
                let started = Instant::now();
                let result = sign_in(&ctx, user).await;
                outcome.record(started.elapsed(), result);
            }
            outcome
        });
    }
    let mut total = Outcome::default();
    while let Some(done) = set.join_next().await {
        if let Ok(outcome) = done {
            total.merge(outcome);
        }
    }
    total
}

async fn open_loop(rate: f64, ctx: &Arc<Ctx>, users: &[Arc<BenchUser>], span: Duration) -> Outcome {
    let interval = Duration::from_secs_f64(1.0 / rate);
    let start = tokio::time::Instant::now();
    let mut set = tokio::task::JoinSet::new();
    let mut n: u32 = 0;
    loop {
        let due = start + interval * n;
        if due >= start + span {
            break;
        }
        tokio::time::sleep_until(due).await;
        let ctx = ctx.clone();
        let user = users[n as usize % users.len()].clone();
        set.spawn(async move {
            let result = sign_in(&ctx, &user).await;
            // From when it was due, not when it started: no coordinated omission.
            (due.elapsed(), result)
        });
        n += 1;
    }
    let mut total = Outcome::default();
    while let Some(done) = set.join_next().await {
        if let Ok((latency, result)) = done {
            total.record(latency, result);
        }
    }
    total
}

struct Usage {
    rp_ticks: u64,
    pg_ticks: u64,
    /// This process's own: the load generator's, on the same cores as what it measures.
    own_ticks: u64,
    peak_rss_kib: u64,
    /// From spawning an rp-server to its first ready answer, the slowest process's.
    start: Duration,
    /// Postgres's durability settings, which move its CPU per commit.
    durability: String,
}

fn report(
    args: &Args,
    outcome: &Outcome,
    elapsed: f64,
    usage: Usage,
    statements: &[(String, i64, f64)],
) {
    let mut latencies = outcome.latencies_us.clone();
    latencies.sort_unstable();
    let percentile = |p: f64| -> f64 {
        if latencies.is_empty() {
            return 0.0;
        }
        let rank = ((p / 100.0) * latencies.len() as f64).ceil() as usize;
        latencies[rank.clamp(1, latencies.len()) - 1] as f64 / 1000.0
    };
    let ok = outcome.ok.max(1) as f64;
    let tick_ms = 1000.0 / clock_ticks_per_sec();
    let rp_ms = usage.rp_ticks as f64 * tick_ms / ok;
    let pg_ms = usage.pg_ticks as f64 * tick_ms / ok;
    let own_ms = usage.own_ticks as f64 * tick_ms / ok;
    let total_statements: i64 = statements.iter().map(|(_, calls, _)| calls).sum();
    let load = match args.rate {
        Some(rate) => format!("open loop, {rate} sign-ins/s offered"),
        None => format!("closed loop, {} concurrent", args.concurrency),
    };
    let processes = match args.instances {
        1 => String::new(),
        n => format!(", {n} rp-server processes"),
    };
    let processes = match args.sites {
        1 => processes,
        n => format!("{processes}, {n} sites"),
    };
    println!(
        "rp-bench: {} users, {load}{processes}, {elapsed:.1} s measured",
        args.users
    );
    println!(
        "  full sign-ins        {} ok, {} failed",
        outcome.ok, outcome.failed
    );
    println!(
        "  throughput           {:.0} sign-ins/s",
        outcome.ok as f64 / elapsed
    );
    println!(
        "  latency              p50 {:.1} ms, p90 {:.1} ms, p99 {:.1} ms, max {:.1} ms",
        percentile(50.0),
        percentile(90.0),
        percentile(99.0),
        percentile(100.0)
    );
    println!(
        "  CPU per sign-in      rp-server {rp_ms:.2} ms + Postgres {pg_ms:.2} ms = {:.2} ms",
        rp_ms + pg_ms
    );
    println!(
        "  load generator       rp-bench {own_ms:.2} ms per sign-in (not counted above; on the same cores, so what rp-server and Postgres could not use)"
    );
    println!(
        "  SQL per sign-in      {:.2} statements",
        total_statements as f64 / ok
    );
    println!(
        "  rp-server peak RSS   {:.1} MB (the largest process)",
        usage.peak_rss_kib as f64 / 1024.0
    );
    println!(
        "  rp-server start      {:.0} ms to ready (the slowest process, on the database as this run found it)",
        ms(usage.start)
    );
    println!("  Postgres             {}", usage.durability);
    if let Some(e) = &outcome.first_error {
        println!("  first error          {e}");
    }
    if args.statements {
        println!("  statements by calls (per sign-in; Postgres's execution time per call):");
        for (query, calls, exec_ms) in statements {
            let query: String = query.split_whitespace().collect::<Vec<_>>().join(" ");
            let short: String = query.chars().take(96).collect();
            println!(
                "    {:>6.2}  {:>6.3} ms  {short}",
                *calls as f64 / ok,
                exec_ms / (*calls).max(1) as f64
            );
        }
    }
}

/// Fills the database in bulk, in Postgres itself (generate_series; nothing through the
/// API): filler users, their passkeys (copies of an enrolled passkey's stored key under
/// random ids: they never sign in), and audit rows; then VACUUM and a checkpoint (every
/// run analyses its database right after, seeded or not). Reports the time taken.
async fn seed(db: &mut sqlx::PgConnection, db_url: &str, args: &Args) -> anyhow::Result<()> {
    let started = Instant::now();
    // The audit rows spread over the last 13 months (the default retention, 400 days),
    // each in its month's partition, as a server running for a year would have them.
    {
        use rp_server::store::audit::partitions;
        let pool = sqlx::PgPool::connect(db_url).await?;
        let this = partitions::month_of(chrono::Utc::now());
        partitions::ensure(&pool, this - chrono::Months::new(13), this).await?;
        pool.close().await;
    }
    sqlx::query(
        "INSERT INTO users (id, cognito_sub, username, created_at, updated_at)
         SELECT gen_random_uuid(), 'filler-' || g, 'filler-' || g, now(), now()
           FROM generate_series(1, $1::bigint) g",
    )
    .bind(args.filler_users as i64)
    .execute(&mut *db)
    .await?;
    sqlx::query(
        "INSERT INTO credentials (credential_id, user_id, passkey, sign_count, backup_eligible,
                                  backup_state, transports, created_at)
         SELECT decode(md5(random()::text) || md5(random()::text), 'hex'), u.id,
                (SELECT passkey FROM credentials LIMIT 1), 0, true, true, '{internal,hybrid}', now()
           FROM users u CROSS JOIN generate_series(1, $1::int)
          WHERE u.cognito_sub LIKE 'filler-%'",
    )
    .bind(args.filler_passkeys as i32)
    .execute(&mut *db)
    .await?;
    sqlx::query(
        "INSERT INTO audit_events (occurred_at, actor, action, user_id, cognito_sub, credential_id, ip, details)
         SELECT now() - random() * interval '395 days', 'service', 'nonce.redeemed', gen_random_uuid(),
                'filler-' || (g % greatest($2::bigint, 1)), decode(md5(g::text) || md5((g + 1)::text), 'hex'),
                '203.0.113.7'::inet, jsonb_build_object('challengeId', gen_random_uuid())
           FROM generate_series(1, $1::bigint) g",
    )
    .bind(args.filler_audit as i64)
    .bind(args.filler_users as i64)
    .execute(&mut *db)
    .await?;
    // A database in service has been vacuumed and checkpointed since its rows arrived;
    // without this the first minutes measure the bulk load's aftermath (hint bits,
    // autovacuum, the checkpoint), not the steady state. No ANALYZE here: the run's own,
    // after this, would sample a large database a second time.
    sqlx::query("VACUUM").execute(&mut *db).await?;
    sqlx::query("CHECKPOINT").execute(&mut *db).await?;
    let size: String =
        sqlx::query_scalar("SELECT pg_size_pretty(pg_database_size(current_database()))")
            .fetch_one(&mut *db)
            .await?;
    eprintln!(
        "seeded {} filler users with {} passkeys each and {} audit rows in {:.1} s (database {size})",
        args.filler_users,
        args.filler_passkeys,
        args.filler_audit,
        started.elapsed().as_secs_f64()
    );
    Ok(())
}

/// Retention's purge of the audit log, timed: rp-server's own code, on the benchmark's
/// database.
async fn purge(db_url: &str, days: u32) -> anyhow::Result<()> {
    let pool = sqlx::PgPool::connect(db_url).await?;
    let before: i64 = sqlx::query_scalar("SELECT count(*) FROM audit_events")
        .fetch_one(&pool)
        .await?;
    let cutoff = chrono::Utc::now() - chrono::Duration::days(i64::from(days));
    // The two halves timed apart: dropping whole months, then the batched deletion of
    // the cutoff's month (what `purge_audit` does in this order).
    let started = Instant::now();
    let dropped = rp_server::store::audit::partitions::drop_before(&pool, cutoff).await?;
    let dropping = started.elapsed();
    let started = Instant::now();
    let (_, deleted) = rp_server::store::purge_audit(&pool, cutoff, 1000).await?;
    let deleting = started.elapsed();
    let after: i64 = sqlx::query_scalar("SELECT count(*) FROM audit_events")
        .fetch_one(&pool)
        .await?;
    pool.close().await;
    println!(
        "  audit purge (older than {days} days): {} of {before} rows gone — {} partitions dropped in {:.1} ms, {deleted} rows of the cutoff's month deleted in batches in {:.1} ms",
        before - after,
        dropped.len(),
        ms(dropping),
        ms(deleting)
    );
    Ok(())
}

async fn statements(db: &mut sqlx::PgConnection) -> anyhow::Result<Vec<(String, i64, f64)>> {
    Ok(sqlx::query_as(
        "SELECT query, calls, total_exec_time FROM pg_stat_statements
          WHERE dbid = (SELECT oid FROM pg_database WHERE datname = current_database())
            AND query NOT ILIKE '%pg_stat_statements%'
          ORDER BY calls DESC, query",
    )
    .fetch_all(db)
    .await?)
}

struct ProcStat {
    ppid: u32,
    utime: u64,
    stime: u64,
    cutime: u64,
    cstime: u64,
}

impl ProcStat {
    fn cpu_ticks(&self) -> u64 {
        self.utime + self.stime
    }
}

fn proc_stat(pid: u32) -> anyhow::Result<ProcStat> {
    let raw = std::fs::read_to_string(format!("/proc/{pid}/stat"))?;
    // The command name may hold spaces and parentheses; fields follow the last ')'.
    let rest = raw
        .rsplit_once(')')
        .map(|(_, r)| r)
        .ok_or_else(|| anyhow!("unexpected /proc/{pid}/stat"))?;
    let fields: Vec<&str> = rest.split_whitespace().collect();
    let field = |n: usize| -> anyhow::Result<u64> {
        // `rest` starts at field 3 (state); field n is at index n - 3.
        fields
            .get(n - 3)
            .ok_or_else(|| anyhow!("short /proc/{pid}/stat"))?
            .parse()
            .map_err(Into::into)
    };
    Ok(ProcStat {
        ppid: field(4)? as u32,
        utime: field(14)?,
        stime: field(15)?,
        cutime: field(16)?,
        cstime: field(17)?,
    })
}

/// CPU of the whole Postgres server: the postmaster, its live children (backends,
/// writers, autovacuum) and the children it has already reaped.
fn postgres_cpu_ticks(postmaster: u32) -> anyhow::Result<u64> {
    let main = proc_stat(postmaster)?;
    let mut ticks = main.cpu_ticks() + main.cutime + main.cstime;
    for entry in std::fs::read_dir("/proc")? {
        let Some(pid) = entry?
            .file_name()
            .to_str()
            .and_then(|s| s.parse::<u32>().ok())
        else {
            continue;
        };
        if let Ok(stat) = proc_stat(pid)
            && stat.ppid == postmaster
        {
            ticks += stat.cpu_ticks();
        }
    }
    Ok(ticks)
}

fn peak_rss_kib(pid: u32) -> anyhow::Result<u64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status"))?;
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmHWM:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .ok_or_else(|| anyhow!("no VmHWM in /proc/{pid}/status"))
}

/// USER_HZ, the unit of /proc's CPU times: 100 on every Linux architecture we run on.
fn clock_ticks_per_sec() -> f64 {
    100.0
}
