//! Passkey policies: `[[policy]]` tables in the config file (or `RP_POLICY`, a JSON array).

use serde::{Deserialize, Serialize};
use uuid::Uuid;

use super::settings::{Settings, text};
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

/// The FIDO metadata BLOB (`fido_mds_file`), verified now against the FIDO Alliance's
/// root or `fido_mds_root_cert`; and whether that other root was used.
pub(super) fn mds(s: &Settings) -> Result<(Option<crate::mds::MetadataStore>, bool), ConfigError> {
    let Some(path) = text(&s.fido_mds_file) else {
        if text(&s.fido_mds_root_cert).is_some() {
            return Err(bad(
                "RP_FIDO_MDS_ROOT_CERT",
                "is set without RP_FIDO_MDS_FILE",
            ));
        }
        return Ok((None, false));
    };
    let (root, custom) = mds_root(s)?;
    let store = crate::mds::MetadataStore::load(std::path::Path::new(path), root)
        .map_err(|e| bad("RP_FIDO_MDS_FILE", e))?;
    Ok((Some(store), custom))
}

/// The root the metadata BLOB must chain to: `fido_mds_root_cert`, or the FIDO
/// Alliance's; and whether it is the former.
pub(super) fn mds_root(
    s: &Settings,
) -> Result<(crypto_glue::x509::Certificate, bool), ConfigError> {
    let (root_pem, custom) = match text(&s.fido_mds_root_cert) {
        Some(root) => (
            std::fs::read_to_string(root)
                .map_err(|e| bad("RP_FIDO_MDS_ROOT_CERT", format!("cannot read {root}: {e}")))?,
            true,
        ),
        None => (crate::mds::FIDO_MDS_ROOT.to_owned(), false),
    };
    let root = crate::mds::root_from_pem(&root_pem)
        .map_err(|e| bad("RP_FIDO_MDS_ROOT_CERT", e.to_string()))?;
    Ok((root, custom))
}

pub(super) fn policies(s: &Settings, have_metadata: bool) -> Result<Policies, ConfigError> {
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
        let attestation = match p.attestation.as_deref().map(str::trim) {
            None | Some("none") => false,
            Some("required") if have_metadata => true,
            Some("required") => {
                return Err(named(
                    "attestation = \"required\" needs the FIDO metadata (RP_FIDO_MDS_FILE; `rp-server mds refresh` downloads it)".into(),
                ));
            }
            Some(other) => {
                return Err(named(format!(
                    "attestation `{other}` is not none or required"
                )));
            }
        };
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
            attestation,
        });
    }
    Ok(Policies::new(list))
}
