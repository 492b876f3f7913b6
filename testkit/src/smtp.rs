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
    /// The decoded text/plain part (or the whole body of a single-part message).
    pub fn text(&self) -> String {
        let raw = self.raw.replace("\r\n", "\n");
        let parts: Vec<&str> = match boundary(&raw) {
            Some(b) => raw.split(&format!("--{b}")).collect(),
            None => vec![raw.as_str()],
        };
        for part in parts {
            let (head, body) = part
                .trim_start_matches('\n')
                .split_once("\n\n")
                .unwrap_or((part, ""));
            let content_type = header(head, "Content-Type")
                .unwrap_or_default()
                .to_lowercase();
            if !(content_type.is_empty() || content_type.starts_with("text/plain")) {
                continue;
            }
            let encoding = header(head, "Content-Transfer-Encoding")
                .unwrap_or_default()
                .to_lowercase();
            return match encoding.as_str() {
                "quoted-printable" => quoted_printable(body),
                "base64" => {
                    use base64::Engine as _;
                    let compact: String = body.split_whitespace().collect();
                    base64::engine::general_purpose::STANDARD
                        .decode(compact)
                        .map(|b| String::from_utf8_lossy(&b).into_owned())
                        .unwrap_or_default()
                }
                _ => body.to_owned(),
            };
        }
        String::new()
    }

    /// The first link in the text part.
    pub fn link(&self) -> Option<String> {
        let text = self.text();
        let start = text.find("https://").or_else(|| text.find("http://"))?;
        Some(text[start..].split_whitespace().next()?.to_owned())
    }

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

/// The multipart boundary of a message, if it has one.
fn boundary(raw: &str) -> Option<String> {
    let content_type = header(raw, "Content-Type")?;
    let b = content_type.split("boundary=").nth(1)?;
    Some(b.split(';').next()?.trim().trim_matches('"').to_owned())
}

/// Decodes quoted-printable text (soft line breaks, `=XX` escapes).
fn quoted_printable(body: &str) -> String {
    let joined = body.replace("=\n", "");
    let bytes = joined.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'='
            && i + 2 < bytes.len() + 1
            && let Some(hex) = joined.get(i + 1..i + 3)
            && let Ok(b) = u8::from_str_radix(hex, 16)
        {
            out.push(b);
            i += 3;
            continue;
        }
        out.push(bytes[i]);
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
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
