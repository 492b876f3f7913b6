//! The `rp-server` command: `serve` and `migrate`.

use clap::{Parser, Subcommand};
use rp_server::clock::Clock;
use rp_server::config::{Config, DatabaseArgs, LogFormat, ServeArgs};

/// Self-hosted passkey (WebAuthn) relying party for Amazon Cognito.
///
/// Every setting is an environment variable (shown in brackets) or the equivalent flag.
#[derive(Parser)]
#[command(name = "rp-server", version, about, long_about = None)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Serve the HTTP API (applies pending migrations first unless RP_AUTO_MIGRATE=false).
    Serve(Box<ServeArgs>),
    /// Apply pending database migrations and exit.
    Migrate(DatabaseArgs),
    /// Manage credentials with direct database access (list, revoke, reset, enrol, audit, stats).
    Admin(Box<rp_server::cli::AdminArgs>),
}

#[tokio::main]
async fn main() -> std::process::ExitCode {
    match run(Cli::parse()).await {
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
        Command::Serve(args) => {
            let format = args.log_format;
            let config = Config::try_from(*args)?;
            rp_server::telemetry::init(format);
            let app = rp_server::Application::build(config, Clock::system()).await?;
            tracing::info!(addr = %app.local_addr()?, "rp-server listening");
            app.run_until(shutdown_signal()).await
        }
        Command::Admin(args) => rp_server::cli::run(*args).await,
        Command::Migrate(db) => {
            rp_server::telemetry::init(LogFormat::Pretty);
            let pool = rp_server::connect_lazy(&db.database_url, 1, db.timeouts()?)?;
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
