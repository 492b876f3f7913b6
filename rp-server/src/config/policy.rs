//! Passkey policies: `[[policy]]` tables in the config file (or `RP_POLICY`, a JSON array).

use serde::{Deserialize, Serialize};
use uuid::Uuid;

use super::settings::Settings;
use super::{ConfigError, bad};
use crate::policy::{Policies, Policy};

/// One policy as written.
#[derive(Debug, Clone, Default, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct PolicySettings {
    pub name: String,
    #[serde(default)]
    pub groups: Vec<String>,
    /// `none` (default) or `required`.
    #[serde(default)]
    pub attestation: Option<String>,
    #[serde(default)]
    pub aaguids: Vec<String>,
    #[serde(default)]
    pub deny_aaguids: Vec<String>,
    #[serde(default)]
    pub device_bound: bool,
    /// `required` (default).
    #[serde(default)]
    pub user_verification: Option<String>,
    #[serde(default)]
    pub enforce_on_sign_in: bool,
}

const VAR: &str = "RP_POLICY";

pub(super) fn policies(s: &Settings) -> Result<Policies, ConfigError> {
    let mut list: Vec<Policy> = Vec::new();
    for p in &s.policy {
        let name = p.name.trim();
        let named = |reason: String| bad(VAR, format!("policy `{name}`: {reason}"));
        if name.is_empty()
            || name.len() > 64
            || !name
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'))
        {
            return Err(bad(
                VAR,
                "a policy name is 1-64 letters, digits, `-`, `_` or `.`",
            ));
        }
        if list.iter().any(|q| q.name == name) {
            return Err(named("the name is used twice".into()));
        }
        match p.attestation.as_deref().map(str::trim) {
            None | Some("none") => {}
            Some("required") => {
                return Err(named(
                    "attestation = \"required\" needs attestation verified against the FIDO Metadata Service, which this version does not do yet; use aaguids (self-asserted models) meanwhile".into(),
                ));
            }
            Some(other) => {
                return Err(named(format!(
                    "attestation `{other}` is not none or required"
                )));
            }
        }
        match p.user_verification.as_deref().map(str::trim) {
            None | Some("required") => {}
            Some("preferred") => {
                return Err(named(
                    "user_verification = \"preferred\": rp-server requires user verification for every passkey".into(),
                ));
            }
            Some(other) => {
                return Err(named(format!(
                    "user_verification `{other}` is not required"
                )));
            }
        }
        let uuids = |raw: &[String], key: &str| -> Result<Vec<Uuid>, ConfigError> {
            raw.iter()
                .map(|a| {
                    Uuid::parse_str(a.trim())
                        .map_err(|_| named(format!("{key}: `{a}` is not an AAGUID (a UUID)")))
                })
                .collect()
        };
        let groups: Vec<String> = p
            .groups
            .iter()
            .map(|g| g.trim().to_owned())
            .filter(|g| !g.is_empty())
            .collect();
        if groups.is_empty() && list.iter().any(|q| q.groups.is_empty()) {
            return Err(named("a second default (a policy without groups)".into()));
        }
        list.push(Policy {
            name: name.to_owned(),
            groups,
            aaguids: uuids(&p.aaguids, "aaguids")?,
            deny_aaguids: uuids(&p.deny_aaguids, "deny_aaguids")?,
            device_bound: p.device_bound,
            enforce_on_sign_in: p.enforce_on_sign_in,
        });
    }
    Ok(Policies::new(list))
}
