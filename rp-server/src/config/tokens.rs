//! The bearer tokens: the service token of the triggers and the admins' tokens.

use secrecy::{ExposeSecret as _, SecretString};

use super::{ConfigError, MIN_TOKEN_LEN, bad};

/// An admin token known by its holder's name (`RP_ADMIN_TOKENS`: `name=<hex SHA-256>`):
/// the audit log names the admin by the token presented, never by what the caller says.
#[derive(Clone, PartialEq, Eq)]
pub struct NamedToken {
    pub name: String,
    pub sha256: [u8; 32],
}

impl std::fmt::Debug for NamedToken {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("NamedToken")
            .field("name", &self.name)
            .finish_non_exhaustive()
    }
}

impl NamedToken {
    /// The entry for a plaintext token (`RP_ADMIN_TOKEN` is the name `admin`).
    pub fn plain(name: &str, token: &SecretString) -> Self {
        use sha2::Digest as _;
        Self {
            name: name.to_owned(),
            sha256: sha2::Sha256::digest(token.expose_secret().as_bytes()).into(),
        }
    }

    pub(super) fn parse(raw: &str) -> Result<Self, ConfigError> {
        let refuse = |why: &str| {
            bad(
                "RP_ADMIN_TOKENS",
                format!("`{}`: {why}", raw.split('=').next().unwrap_or_default()),
            )
        };
        let (name, hex) = raw
            .split_once('=')
            .ok_or_else(|| refuse("expected name=<hex SHA-256 of the token>"))?;
        let name = name.trim();
        if name.is_empty()
            || name.len() > 64
            || !name
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.' | '@'))
        {
            return Err(refuse(
                "a name is 1-64 letters, digits, `-`, `_`, `.` or `@`",
            ));
        }
        let sha256 = sha256_hex(hex)
            .ok_or_else(|| refuse("the hash must be 64 hex digits (sha256sum of the token)"))?;
        Ok(Self {
            name: name.to_owned(),
            sha256,
        })
    }
}

/// A SHA-256 hash written as 64 hex digits.
pub(super) fn sha256_hex(hex: &str) -> Option<[u8; 32]> {
    let hex = hex.trim();
    if hex.len() != 64 {
        return None;
    }
    let mut out = [0u8; 32];
    for (i, byte) in out.iter_mut().enumerate() {
        *byte = u8::from_str_radix(hex.get(2 * i..2 * i + 2)?, 16).ok()?;
    }
    Some(out)
}

pub(super) fn check_token(variable: &str, token: &SecretString) -> Result<(), ConfigError> {
    let t = token.expose_secret();
    if t.chars().count() < MIN_TOKEN_LEN {
        return Err(bad(
            variable,
            format!("must be at least {MIN_TOKEN_LEN} characters (try `openssl rand -hex 32`)"),
        ));
    }
    if t.chars().any(|c| c.is_whitespace() || c.is_control()) {
        return Err(bad(variable, "must not contain whitespace"));
    }
    Ok(())
}
