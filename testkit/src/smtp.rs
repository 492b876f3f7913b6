//! A real SMTP server on loopback for tests: aiosmtpd (Python's asyncio SMTP server,
//! `pip install aiosmtpd`; scripts/test installs it) with its Maildir handler, and a
//! reader for what it received.

use std::path::PathBuf;
use std::time::Duration;

use anyhow::Context as _;

/// A message as delivered.
#[derive(Debug, Clone)]
pub struct Received {
    pub to: String,
    pub subject: String,
    /// The whole message, headers and MIME parts as sent.
    pub raw: String,
}

impl Received {
    /// The six-digit code of a code message (its subject starts with it).
    pub fn code(&self) -> Option<String> {
        let first = self.subject.split_whitespace().next()?;
        (first.len() == 6 && first.bytes().all(|b| b.is_ascii_digit())).then(|| first.to_owned())
    }
}

pub struct Mailbox {
    /// `smtp://127.0.0.1:<port>`, for `RP_SMTP_URL`.
    pub url: String,
    dir: PathBuf,
    _server: tokio::process::Child,
}

impl Mailbox {
    /// Starts the server on a free loopback port; ready when it accepts connections.
    pub async fn start() -> anyhow::Result<Self> {
        let port = std::net::TcpListener::bind("127.0.0.1:0")?
            .local_addr()?
            .port();
        let dir = std::env::temp_dir().join(format!("mailbox-{}", uuid::Uuid::new_v4().simple()));
        for sub in ["tmp", "new", "cur"] {
            std::fs::create_dir_all(dir.join(sub))?;
        }
        let mut server = tokio::process::Command::new("python3")
            .args(["-m", "aiosmtpd", "-n", "-l"])
            .arg(format!("127.0.0.1:{port}"))
            .args(["-c", "aiosmtpd.handlers.Mailbox"])
            .arg(&dir)
            .kill_on_drop(true)
            .spawn()
            .context("starting aiosmtpd (python3 -m pip install aiosmtpd)")?;
        for _ in 0..200 {
            if tokio::net::TcpStream::connect(("127.0.0.1", port))
                .await
                .is_ok()
            {
                return Ok(Self {
                    url: format!("smtp://127.0.0.1:{port}"),
                    dir,
                    _server: server,
                });
            }
            if let Some(status) = server.try_wait()? {
                anyhow::bail!(
                    "aiosmtpd exited with {status} (is it installed? python3 -m pip install aiosmtpd)"
                );
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        anyhow::bail!("aiosmtpd did not start listening on port {port}")
    }

    /// Every message received so far, oldest first.
    pub fn messages(&self) -> Vec<Received> {
        let mut files: Vec<(std::time::SystemTime, PathBuf)> = ["new", "cur"]
            .iter()
            .filter_map(|d| std::fs::read_dir(self.dir.join(d)).ok())
            .flatten()
            .filter_map(Result::ok)
            .filter_map(|e| Some((e.metadata().ok()?.modified().ok()?, e.path())))
            .collect();
        files.sort();
        files
            .into_iter()
            .filter_map(|(_, path)| std::fs::read_to_string(path).ok())
            .map(|raw| Received {
                to: header(&raw, "To").unwrap_or_default(),
                subject: header(&raw, "Subject").unwrap_or_default(),
                raw,
            })
            .collect()
    }

    /// Waits (up to 10 s) until `to` has received `count` messages, and returns the last.
    pub async fn wait_for(&self, to: &str, count: usize) -> anyhow::Result<Received> {
        for _ in 0..200 {
            let mine: Vec<Received> = self
                .messages()
                .into_iter()
                .filter(|m| m.to.contains(to))
                .collect();
            if mine.len() >= count {
                return Ok(mine[count - 1].clone());
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        anyhow::bail!("{to} did not receive message {count} within 10 s")
    }

    /// How many messages `to` has received.
    pub fn count_for(&self, to: &str) -> usize {
        self.messages().iter().filter(|m| m.to.contains(to)).count()
    }
}

impl Drop for Mailbox {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

/// A header's value (unfolded) from a raw message.
fn header(raw: &str, name: &str) -> Option<String> {
    let raw = raw.replace("\r\n", "\n");
    let head = raw.split("\n\n").next().unwrap_or(&raw);
    let mut value: Option<String> = None;
    for line in head.lines() {
        if let Some(v) = value.as_mut() {
            if line.starts_with([' ', '\t']) {
                v.push(' ');
                v.push_str(line.trim());
                continue;
            }
            break;
        }
        if let Some((k, v)) = line.split_once(':')
            && k.eq_ignore_ascii_case(name)
        {
            value = Some(v.trim().to_owned());
        }
    }
    value
}
