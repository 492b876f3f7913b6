//! `cognito-standin --config <file>`: serves the pools of the file. Triggers are invoked
//! through each pool's `lambda_endpoint` (the Lambda Invoke API).

use std::path::PathBuf;

use clap::Parser;
use cognito_standin::config::Config;

/// A local stand-in for Amazon Cognito user pools.
#[derive(Parser)]
#[command(name = "cognito-standin", version, about)]
struct Cli {
    /// The TOML configuration (pools, clients, triggers, seed users).
    #[arg(long, env = "STANDIN_CONFIG")]
    config: PathBuf,
    /// Overrides `listen` from the file.
    #[arg(long, env = "STANDIN_LISTEN")]
    listen: Option<std::net::SocketAddr>,
}

#[tokio::main]
async fn main() -> std::process::ExitCode {
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info")),
        )
        .init();
    let cli = Cli::parse();
    let result = async {
        let mut config = Config::load(&cli.config)?;
        if let Some(l) = cli.listen {
            config.listen = l;
        }
        let server = cognito_standin::Server::bind(config, None).await?;
        println!("cognito-standin listening on http://{}", server.addr);
        tracing::info!(addr = %server.addr, url = %server.standin.public_url, "cognito-standin listening");
        server
            .run(async {
                let _ = tokio::signal::ctrl_c().await;
            })
            .await
    }
    .await;
    match result {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("cognito-standin: {e:#}");
            std::process::ExitCode::FAILURE
        }
    }
}
