//! The `rp-server` command: `serve`, `migrate`, `config` and `admin`.

use clap::{CommandFactory as _, FromArgMatches as _, Parser, Subcommand};

/// mimalloc: a sign-in makes many small, short-lived allocations (HTTP, JSON, CBOR), and
/// glibc's allocator spent about 8 % of rp-server's CPU on them (see README, Performance).
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;
use rp_server::clock::Clock;
use rp_server::config::{ConfigFile, DatabaseConfig, Layered, LogFormat};

/// Self-hosted passkey (WebAuthn) relying party for Amazon Cognito.
///
/// Settings come from the environment (`RP_*`) and, beneath it, an optional TOML file
/// (`RP_CONFIG_FILE` or `--config`); `rp-server serve --help` lists them all.
#[derive(Parser)]
#[command(name = "rp-server", version, about, long_about = None)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Serve the HTTP API (applies pending migrations first unless RP_AUTO_MIGRATE=false).
    Serve(ConfigFile),
    /// Apply pending database migrations and exit.
    Migrate(ConfigFile),
    /// Print the effective configuration (secrets redacted), where each value came from,
    /// and whether `serve` would accept it.
    Config(ConfigFile),
    /// Manage credentials with direct database access (list, revoke, reset, enrol, audit, stats).
    Admin(Box<rp_server::cli::AdminArgs>),
    /// Print a new P-256 private key (PKCS#8 PEM) for RP_OIDC_SIGNING_KEY, and nothing else.
    OidcKey,
    /// The FIDO Metadata Service BLOB.
    #[command(subcommand)]
    Mds(MdsCommand),
}

#[derive(Subcommand)]
enum MdsCommand {
    /// Download the BLOB, verify it (against RP_FIDO_MDS_ROOT_CERT, or the FIDO Alliance's
    /// root) and only then write it to RP_FIDO_MDS_FILE (or --out).
    Refresh {
        #[command(flatten)]
        file: ConfigFile,
        /// Where to download it from.
        #[arg(long, default_value = rp_server::mds::FIDO_MDS_URL)]
        url: String,
        /// Where to write it [default: RP_FIDO_MDS_FILE].
        #[arg(long)]
        out: Option<std::path::PathBuf>,
    },
}

#[tokio::main]
async fn main() -> std::process::ExitCode {
    let command = Cli::command().mut_subcommand("serve", |serve| {
        serve.after_long_help(rp_server::config::settings::help())
    });
    let cli = match Cli::from_arg_matches(&command.get_matches()) {
        Ok(cli) => cli,
        Err(e) => e.exit(),
    };
    match run(cli).await {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(e) => {
            tracing::error!(error = %format!("{e:#}"), "rp-server failed");
            eprintln!("rp-server: {e:#}");
            std::process::ExitCode::FAILURE
        }
    }
}

async fn run(cli: Cli) -> anyhow::Result<()> {
    match cli.command {
        Command::Serve(file) => {
            let layered = Layered::from_process(file.path.as_deref())?;
            let configs = rp_server::config::sites::configs(&layered)?;
            rp_server::telemetry::init(configs[0].log_format);
            if configs.len() > 1 {
                let ids: Vec<String> = configs.iter().map(|c| c.site.to_string()).collect();
                tracing::info!(sites = %ids.join(", "), "serving several sites");
            }
            // Boxed: the server's futures are deep enough (SES, Cognito clients) to overflow the
            // compiler's layout query when nested inline in `main`'s future.
            let app = Box::pin(rp_server::Application::build_sites(
                configs,
                Clock::system(),
            ))
            .await?;
            // Tests and tools that start rp-server on port 0 read the addresses here.
            match app.internal_addr() {
                Some(internal) => {
                    tracing::info!(addr = %app.local_addr()?, internal_addr = %internal, "rp-server listening")
                }
                None => tracing::info!(addr = %app.local_addr()?, "rp-server listening"),
            }
            // Beside the server, not spawned: the sites' futures (the AWS SDK's inside) are
            // not provably Send, and this one never needs another thread.
            let reloads = Box::pin(reload_on_hangup(app.state().clone(), file.path.clone()));
            tokio::select! {
                served = Box::pin(app.run_until(shutdown_signal())) => served,
                never = reloads => match never {},
            }
        }
        Command::Config(file) => {
            let layered = Layered::from_process(file.path.as_deref())?;
            print!("{}", layered.describe());
            let configs = rp_server::config::sites::configs(&layered)?;
            if configs.len() > 1 {
                for c in &configs {
                    println!(
                        "# site {}: rp_id {}, pool {}, hosts {}",
                        c.site,
                        c.rp_id,
                        rp_server::config::sites::pool_id(&c.cognito_issuer),
                        rp_server::config::sites::hosts(c).join(" ")
                    );
                }
            }
            println!("# valid: `rp-server serve` accepts this configuration");
            Ok(())
        }
        Command::Admin(args) => Box::pin(rp_server::cli::run(*args)).await,
        Command::Mds(MdsCommand::Refresh { file, url, out }) => {
            let layered = Layered::from_process(file.path.as_deref())?;
            let s = &layered.settings;
            let out = out
                .or_else(|| s.fido_mds_file.as_ref().map(std::path::PathBuf::from))
                .ok_or_else(|| anyhow::anyhow!("give --out or set RP_FIDO_MDS_FILE"))?;
            let root = rp_server::config::mds_root_of(s)?;
            let m = rp_server::mds::refresh(&url, &root, &out).await?;
            println!(
                "{}: BLOB {} verified and written (next update {})",
                out.display(),
                m.number,
                m.next_update
            );
            Ok(())
        }
        Command::OidcKey => {
            print!(
                "{}",
                rp_server::oidc::keys::generate_p256_pem().map_err(anyhow::Error::msg)?
            );
            Ok(())
        }
        Command::Migrate(file) => {
            let layered = Layered::from_process(file.path.as_deref())?;
            let db = DatabaseConfig::from_settings(&layered.settings)?;
            rp_server::telemetry::init(LogFormat::Pretty);
            let pool = rp_server::connect_lazy(&db.url, 1, db.timeouts)?;
            rp_server::migrate(&pool).await?;
            tracing::info!("migrations applied");
            Ok(())
        }
    }
}

async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let terminate = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let terminate = std::future::pending::<()>();
    tokio::select! {
        () = ctrl_c => {},
        () = terminate => {},
    }
    tracing::info!("shutting down");
}

/// On SIGHUP, reads the configuration again (the file and the environment) and replaces
/// the sites: adding, changing or removing a `[[site]]` table needs no restart. A reload
/// that fails — a bad file, a changed process-wide setting, a site that cannot be built —
/// is logged and changes nothing.
async fn reload_on_hangup(
    state: rp_server::AppState,
    file: Option<std::path::PathBuf>,
) -> std::convert::Infallible {
    use tokio::signal::unix::{SignalKind, signal};
    let Ok(mut hangups) = signal(SignalKind::hangup()) else {
        tracing::warn!("cannot listen for SIGHUP: the sites reload only with a restart");
        return std::future::pending().await;
    };
    while hangups.recv().await.is_some() {
        let configs = Layered::from_process(file.as_deref())
            .and_then(|layered| rp_server::config::sites::configs(&layered));
        let reloaded = match configs {
            Ok(configs) => Box::pin(rp_server::reload_sites(state.clone(), configs)).await,
            Err(e) => Err(e.into()),
        };
        if let Err(e) = reloaded {
            tracing::error!(error = %format!("{e:#}"), "reload refused: the sites in force stay");
        }
    }
    std::future::pending().await
}
