//! Child processes that bind port 0 and say where they listen: nobody picks a "free" port
//! in advance and hands it over (another process may take it in between).

use std::net::SocketAddr;
use std::path::Path;
use std::process::Stdio;
use std::time::Duration;

use anyhow::{Context as _, anyhow};
use tokio::io::{AsyncBufReadExt as _, AsyncWriteExt as _, BufReader};
use tokio::process::{Child, Command};

/// Starts `command` with its standard output copied, line by line, into `log` (standard
/// error goes to `log` with `.err` added), and returns once a line yields what `find`
/// looks for, typically the address the child bound. Fails if the child exits or says
/// nothing of the kind within `within`.
pub async fn spawn_until<T: Send + 'static>(
    mut command: Command,
    log: &Path,
    find: impl Fn(&str) -> Option<T> + Send + 'static,
    within: Duration,
) -> anyhow::Result<(Child, T)> {
    let err_log = std::fs::File::create(log.with_extension("err"))?;
    let mut child = command
        .stdout(Stdio::piped())
        .stderr(Stdio::from(err_log))
        .kill_on_drop(true)
        .spawn()
        .context("starting the child process")?;
    let stdout = child.stdout.take().ok_or_else(|| anyhow!("no stdout"))?;
    let mut out = tokio::fs::File::create(log).await?;
    let (found_tx, found_rx) = tokio::sync::oneshot::channel();
    tokio::spawn(async move {
        let mut lines = BufReader::new(stdout).lines();
        let mut found_tx = Some(found_tx);
        while let Ok(Some(line)) = lines.next_line().await {
            if found_tx.is_some()
                && let Some(value) = find(&line)
                && let Some(tx) = found_tx.take()
            {
                let _ = tx.send(value);
            }
            let _ = out.write_all(line.as_bytes()).await;
            let _ = out.write_all(b"\n").await;
        }
    });
    match tokio::time::timeout(within, found_rx).await {
        Ok(Ok(value)) => Ok((child, value)),
        Ok(Err(_)) => Err(anyhow!(
            "the child exited ({:?}) before saying where it listens; see {}",
            child.try_wait().ok().flatten(),
            log.display()
        )),
        Err(_) => Err(anyhow!(
            "the child did not say where it listens within {within:?}; see {}",
            log.display()
        )),
    }
}

/// The address in rp-server's JSON start-up line (`"message":"rp-server listening"`).
pub fn rp_server_addr(line: &str) -> Option<SocketAddr> {
    let v: serde_json::Value = serde_json::from_str(line).ok()?;
    if v.get("message")?.as_str()? != "rp-server listening" {
        return None;
    }
    v.get("addr")?.as_str()?.parse().ok()
}

/// The address in the stand-in's start-up line (`cognito-standin listening on http://…`).
pub fn standin_addr(line: &str) -> Option<SocketAddr> {
    line.strip_prefix("cognito-standin listening on http://")?
        .trim()
        .parse()
        .ok()
}
