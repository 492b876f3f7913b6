//! Types that several layers share (storage, flows, HTTP, configuration), kept apart so
//! that none of those layers has to import another for them.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use uuid::Uuid;

use crate::store::StoredCredential;

/// A site's stable id (`[a-z0-9-]{1,32}`): every stored row carries it, and one site's
/// rows are never another's. The configuration without `[[site]]` sections is the one
/// site [`SiteId::DEFAULT`].
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct SiteId(std::sync::Arc<str>);

impl SiteId {
    /// The id of the site an environment-only configuration (and every row stored before
    /// sites existed) belongs to.
    pub const DEFAULT: &'static str = "default";

    /// `id` when it is 1 to 32 characters of `a-z`, `0-9` and `-`.
    pub fn parse(id: &str) -> Result<Self, String> {
        let fits = (1..=32).contains(&id.len())
            && id
                .bytes()
                .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-');
        if fits {
            Ok(Self(id.into()))
        } else {
            Err(format!(
                "site id {id:?} must be 1 to 32 characters of a-z, 0-9 and -"
            ))
        }
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl Default for SiteId {
    fn default() -> Self {
        Self(Self::DEFAULT.into())
    }
}

impl std::fmt::Display for SiteId {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

/// A WebAuthn hint: which kind of authenticator the browser should steer the user to
/// (`PublicKeyCredentialHints`). Hints change the browser's UI, never what verifies.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema, clap::ValueEnum)]
#[serde(rename_all = "kebab-case")]
#[value(rename_all = "kebab-case")]
pub enum Hint {
    /// A removable security key.
    SecurityKey,
    /// This device's own authenticator.
    ClientDevice,
    /// A phone, through a QR code (hybrid transport).
    Hybrid,
}

/// How a sign-in was made, as its nonce records it (and the redemption carries it on to
/// the session that Cognito's tokens then belong to).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Factor {
    Passkey,
    /// An email one-time code.
    Email,
    /// A recovery code.
    Recovery,
}

impl Factor {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Passkey => "passkey",
            Self::Email => "email",
            Self::Recovery => "recovery",
        }
    }

    /// The factor a stored name names.
    pub fn parse(name: &str) -> Option<Self> {
        [Self::Passkey, Self::Email, Self::Recovery]
            .into_iter()
            .find(|f| f.as_str() == name)
    }
}

/// What clients see of a passkey.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct CredentialSummary {
    /// The credential id, base64url.
    pub id: String,
    pub nickname: Option<String>,
    pub created_at: DateTime<Utc>,
    pub last_used_at: Option<DateTime<Utc>>,
    /// Authenticator model id, when the authenticator disclosed one.
    pub aaguid: Option<Uuid>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub authenticator_name: Option<String>,
    /// The model's icon (a raster `data:` URI) from the FIDO metadata, when it has one.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub authenticator_icon: Option<String>,
    pub backup_eligible: bool,
    pub backup_state: bool,
    pub transports: Vec<String>,
}

impl CredentialSummary {
    /// With its model's icon from the FIDO metadata, when there is one.
    pub fn with_icon(mut self, mds: Option<&crate::mds::MetadataStore>) -> Self {
        self.authenticator_icon = crate::authenticators::icon(mds, self.aaguid);
        self
    }
}

impl From<&StoredCredential> for CredentialSummary {
    fn from(c: &StoredCredential) -> Self {
        Self {
            id: rp_shared::credential_id::encode(&c.credential_id),
            nickname: c.nickname.clone(),
            created_at: c.created_at,
            last_used_at: c.last_used_at,
            aaguid: c.aaguid,
            // The FIDO metadata's name when it listed the model, else the community list's.
            authenticator_name: c
                .metadata_description
                .clone()
                .or_else(|| crate::authenticators::name(c.aaguid)),
            authenticator_icon: None,
            backup_eligible: c.backup_eligible,
            backup_state: c.backup_state,
            transports: c.transports.clone(),
        }
    }
}

/// What admins see of a credential: what its owner sees, and more.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct AdminCredential {
    #[serde(flatten)]
    pub summary: CredentialSummary,
    pub user_sub: String,
    pub username: String,
    pub sign_count: i64,
    /// Whether user verification happened at the last use (or at registration).
    pub user_verified: Option<bool>,
    /// Its attestation chained to a root the FIDO metadata lists for its model.
    pub attested: bool,
    /// The model's latest status in the FIDO metadata at registration (its certification
    /// level, e.g. `FIDO_CERTIFIED_L2`).
    pub metadata_status: Option<String>,
    pub revoked_at: Option<DateTime<Utc>>,
    pub revoked_by: Option<String>,
    pub revoked_reason: Option<String>,
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::SiteId;

    #[test]
    fn site_ids_are_short_lowercase_words() {
        for good in ["default", "b", "eu-west-1", &"x".repeat(32)] {
            assert_eq!(SiteId::parse(good).unwrap().as_str(), good);
        }
        for bad in ["", "Default", "a_b", "a.b", "é", " a", &"x".repeat(33)] {
            assert!(SiteId::parse(bad).is_err(), "{bad:?}");
        }
        assert_eq!(SiteId::default().as_str(), SiteId::DEFAULT);
    }
}
