//! The FIDO Metadata Service (MDS3) BLOB: a JWS whose `x5c` chain must lead to a pinned
//! root (GlobalSign Root R3 for the FIDO Alliance's BLOB), listing authenticator models
//! by AAGUID with the roots their attestation certificates chain to and their status.
//! [`Metadata::verify`] checks the BLOB and keeps what policies need: the attestation CA
//! list webauthn-rs verifies registrations against (models whose latest status is a
//! compromise left out) and each model's description and status. Decision 0016.

use std::collections::{BTreeMap, HashMap};
use std::time::SystemTime;

use base64::Engine as _;
use crypto_glue::der::Decode as _;
use crypto_glue::x509::{Certificate, X509Store};
use serde::Deserialize;
use uuid::Uuid;
use webauthn_attestation_ca::{AttestationCaList, AttestationCaListBuilder};

/// The root the FIDO Alliance's BLOB chains to (GlobalSign Root CA - R3).
pub const FIDO_MDS_ROOT: &str = include_str!("../data/globalsign-root-r3.pem");

/// Latest statuses under which a model's attestation is not trusted.
const REFUSED: [&str; 5] = [
    "REVOKED",
    "USER_VERIFICATION_BYPASS",
    "ATTESTATION_KEY_COMPROMISE",
    "USER_KEY_REMOTE_COMPROMISE",
    "USER_KEY_PHYSICAL_COMPROMISE",
];

#[derive(Debug, thiserror::Error)]
pub enum MdsError {
    #[error("the BLOB is not a JWS (three base64url parts)")]
    NotJws,
    #[error("the BLOB's header is malformed or has no x5c chain")]
    Header,
    #[error("a certificate of the BLOB's x5c chain does not parse")]
    Certificate,
    #[error("the BLOB's certificate chain does not lead to the trusted root ({0:?})")]
    Untrusted(crypto_glue::x509::X509VerificationError),
    #[error("the BLOB's signature does not verify")]
    Signature,
    #[error("the BLOB's algorithm {0} is not RS256 or ES256")]
    Algorithm(String),
    #[error("the BLOB's payload is malformed: {0}")]
    Payload(String),
    #[error("the trusted root is not a PEM certificate")]
    Root,
}

/// One authenticator model as the metadata describes it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Model {
    pub description: Option<String>,
    /// The model's icon: a `data:image/png` (or jpeg, gif, webp) URI of at most
    /// [`MAX_ICON_LEN`] characters; anything else the metadata says is left out.
    pub icon: Option<String>,
    /// The latest status report's status (e.g. `FIDO_CERTIFIED_L1`, `REVOKED`).
    pub status: Option<String>,
    /// Whether its attestation is refused (its latest status is a compromise).
    pub refused: bool,
}

/// The longest icon kept (a data URI of about 48 KB of image).
pub const MAX_ICON_LEN: usize = 65_536;

/// Whether an icon is safe to hand to pages as an `<img>` source: a base64 data URI of a
/// raster image (no SVG: it is a document that may carry script), not too large.
fn safe_icon(icon: &str) -> bool {
    icon.len() <= MAX_ICON_LEN
        && ["png", "jpeg", "gif", "webp"]
            .iter()
            .any(|kind| icon.starts_with(&format!("data:image/{kind};base64,")))
        && icon.split_once(',').is_some_and(|(_, data)| {
            data.bytes()
                .all(|b| b.is_ascii_alphanumeric() || b"+/=".contains(&b))
        })
}

/// A verified BLOB.
pub struct Metadata {
    /// The BLOB's serial number (`no`).
    pub number: u64,
    pub next_update: String,
    models: HashMap<Uuid, Model>,
    cas: AttestationCaList,
}

impl std::fmt::Debug for Metadata {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Metadata")
            .field("number", &self.number)
            .field("models", &self.models.len())
            .finish_non_exhaustive()
    }
}

#[derive(Deserialize)]
struct Header {
    alg: String,
    x5c: Vec<String>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct Payload {
    no: u64,
    next_update: String,
    entries: Vec<Entry>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct Entry {
    aaguid: Option<Uuid>,
    metadata_statement: Option<Statement>,
    #[serde(default)]
    status_reports: Vec<StatusReport>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct Statement {
    description: Option<String>,
    icon: Option<String>,
    #[serde(default)]
    attestation_root_certificates: Vec<String>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct StatusReport {
    status: String,
    effective_date: Option<String>,
}

/// The certificate in a PEM text.
pub fn root_from_pem(pem_text: &str) -> Result<Certificate, MdsError> {
    let block = pem::parse(pem_text).map_err(|_| MdsError::Root)?;
    if block.tag() != "CERTIFICATE" {
        return Err(MdsError::Root);
    }
    Certificate::from_der(block.contents()).map_err(|_| MdsError::Root)
}

impl Metadata {
    /// Verifies `blob` (the JWS as downloaded) against `root` at `now` and reads it.
    pub fn verify(blob: &str, root: &Certificate, now: SystemTime) -> Result<Self, MdsError> {
        let blob = blob.trim();
        let mut parts = blob.split('.');
        let (Some(header), Some(_), Some(_), None) =
            (parts.next(), parts.next(), parts.next(), parts.next())
        else {
            return Err(MdsError::NotJws);
        };
        let header: Header = base64::engine::general_purpose::URL_SAFE_NO_PAD
            .decode(header)
            .ok()
            .and_then(|h| serde_json::from_slice(&h).ok())
            .ok_or(MdsError::Header)?;
        let chain = header
            .x5c
            .iter()
            .map(|c| {
                base64::engine::general_purpose::STANDARD
                    .decode(c)
                    .ok()
                    .and_then(|der| Certificate::from_der(&der).ok())
                    .ok_or(MdsError::Certificate)
            })
            .collect::<Result<Vec<_>, _>>()?;
        let (leaf, intermediates) = chain.split_first().ok_or(MdsError::Header)?;
        let mut store = X509Store::new(std::slice::from_ref(root));
        store.leaf_basic_constraints_required(false);
        store
            .verify(leaf, intermediates, now)
            .map_err(MdsError::Untrusted)?;
        let payload = verify_signature(blob, &header.alg, leaf)?;
        let payload: Payload =
            serde_json::from_value(payload).map_err(|e| MdsError::Payload(e.to_string()))?;
        Self::read(payload)
    }

    fn read(payload: Payload) -> Result<Self, MdsError> {
        let mut models = HashMap::new();
        let mut cas = AttestationCaListBuilder::new();
        for entry in payload.entries {
            let Some(aaguid) = entry.aaguid else {
                continue; // U2F and UAF models are named otherwise; passkeys have AAGUIDs.
            };
            let latest = entry
                .status_reports
                .iter()
                .max_by(|a, b| a.effective_date.cmp(&b.effective_date));
            let status = latest.map(|r| r.status.clone());
            let refused = status.as_deref().is_some_and(|s| REFUSED.contains(&s));
            let description = entry
                .metadata_statement
                .as_ref()
                .and_then(|m| m.description.clone());
            if !refused {
                for root in entry
                    .metadata_statement
                    .iter()
                    .flat_map(|m| &m.attestation_root_certificates)
                {
                    let der = base64::engine::general_purpose::STANDARD
                        .decode(root)
                        .map_err(|_| {
                            MdsError::Payload(format!("a root of {aaguid} is not base64"))
                        })?;
                    cas.insert_device_der(
                        &der,
                        aaguid,
                        description.clone().unwrap_or_default(),
                        BTreeMap::new(),
                    )
                    .map_err(|e| MdsError::Payload(format!("a root of {aaguid}: {e}")))?;
                }
            }
            let icon = entry
                .metadata_statement
                .as_ref()
                .and_then(|m| m.icon.clone())
                .filter(|i| safe_icon(i));
            models.insert(
                aaguid,
                Model {
                    description,
                    icon,
                    status,
                    refused,
                },
            );
        }
        Ok(Self {
            number: payload.no,
            next_update: payload.next_update,
            models,
            cas: cas.build(),
        })
    }

    /// What the metadata says of a model.
    pub fn model(&self, aaguid: Uuid) -> Option<&Model> {
        self.models.get(&aaguid)
    }

    /// The roots attested passkeys must chain to (per model).
    pub fn attestation_cas(&self) -> &AttestationCaList {
        &self.cas
    }
}

/// The metadata in force, and the file it came from: re-read when the file changes (the
/// background task looks every minute), kept as it was when the new file does not verify.
pub struct MetadataStore {
    current: std::sync::RwLock<std::sync::Arc<Metadata>>,
    source: Option<Source>,
}

struct Source {
    path: std::path::PathBuf,
    root: Certificate,
    modified: std::sync::Mutex<Option<SystemTime>>,
}

impl std::fmt::Debug for MetadataStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("MetadataStore")
            .field("current", &*self.current())
            .finish_non_exhaustive()
    }
}

impl MetadataStore {
    /// Reads and verifies the BLOB at `path` against `root`.
    pub fn load(path: &std::path::Path, root: Certificate) -> Result<Self, String> {
        let modified = std::fs::metadata(path).and_then(|m| m.modified()).ok();
        let metadata = read_verified(path, &root)?;
        Ok(Self {
            current: std::sync::RwLock::new(std::sync::Arc::new(metadata)),
            source: Some(Source {
                path: path.to_owned(),
                root,
                modified: std::sync::Mutex::new(modified),
            }),
        })
    }

    /// Metadata that never changes (tests).
    pub fn fixed(metadata: Metadata) -> Self {
        Self {
            current: std::sync::RwLock::new(std::sync::Arc::new(metadata)),
            source: None,
        }
    }

    pub fn current(&self) -> std::sync::Arc<Metadata> {
        self.current
            .read()
            .unwrap_or_else(|p| p.into_inner())
            .clone()
    }

    /// Re-reads the file if it changed since it was last read: `Ok(true)` when a new BLOB
    /// verified and is now in force; an error (and the old metadata kept) when it did not.
    pub fn reload_if_changed(&self) -> Result<bool, String> {
        let Some(source) = &self.source else {
            return Ok(false);
        };
        let modified = std::fs::metadata(&source.path)
            .and_then(|m| m.modified())
            .map_err(|e| format!("cannot read {}: {e}", source.path.display()))?;
        let mut seen = source.modified.lock().unwrap_or_else(|p| p.into_inner());
        if *seen == Some(modified) {
            return Ok(false);
        }
        *seen = Some(modified);
        let metadata = read_verified(&source.path, &source.root)?;
        *self.current.write().unwrap_or_else(|p| p.into_inner()) = std::sync::Arc::new(metadata);
        Ok(true)
    }
}

/// The BLOB in the file at `path`, verified against `root` now.
fn read_verified(path: &std::path::Path, root: &Certificate) -> Result<Metadata, String> {
    let blob = std::fs::read_to_string(path)
        .map_err(|e| format!("cannot read {}: {e}", path.display()))?;
    Metadata::verify(&blob, root, SystemTime::now()).map_err(|e| format!("{}: {e}", path.display()))
}

/// Where the FIDO Alliance publishes the BLOB.
pub const FIDO_MDS_URL: &str = "https://mds3.fidoalliance.org/";

/// Downloads the BLOB at `url`, verifies it against `root` and only then writes it to
/// `out` (through a temporary file and a rename, so a reader never sees half of it).
pub async fn refresh(
    url: &str,
    root: &Certificate,
    out: &std::path::Path,
) -> anyhow::Result<Metadata> {
    use anyhow::Context as _;
    let blob = reqwest::Client::builder()
        .user_agent(concat!("rp-server/", env!("CARGO_PKG_VERSION")))
        .build()?
        .get(url)
        .send()
        .await
        .with_context(|| format!("downloading {url}"))?
        .error_for_status()
        .with_context(|| format!("downloading {url}"))?
        .text()
        .await?;
    let metadata = Metadata::verify(&blob, root, SystemTime::now()).with_context(|| {
        format!(
            "the BLOB from {url} is not trusted; {} is unchanged",
            out.display()
        )
    })?;
    let partial = out.with_extension("partial");
    std::fs::write(&partial, blob.trim())
        .with_context(|| format!("writing {}", partial.display()))?;
    std::fs::rename(&partial, out).with_context(|| format!("replacing {}", out.display()))?;
    Ok(metadata)
}

/// The JWS payload, once its signature verified with the leaf certificate's key.
fn verify_signature(
    blob: &str,
    alg: &str,
    leaf: &Certificate,
) -> Result<serde_json::Value, MdsError> {
    use jsonwebtoken::{Algorithm, DecodingKey, Validation};
    let spki = &leaf.tbs_certificate().subject_public_key_info();
    let key_bytes = spki.subject_public_key.raw_bytes();
    let (algorithm, key) = match alg {
        "RS256" => (Algorithm::RS256, DecodingKey::from_rsa_der(key_bytes)),
        "ES256" => (Algorithm::ES256, DecodingKey::from_ec_der(key_bytes)),
        other => return Err(MdsError::Algorithm(other.to_owned())),
    };
    let mut validation = Validation::new(algorithm);
    validation.required_spec_claims.clear();
    validation.validate_exp = false;
    validation.validate_aud = false;
    jsonwebtoken::decode::<serde_json::Value>(blob, &key, &validation)
        .map(|d| d.claims)
        .map_err(|_| MdsError::Signature)
}

#[cfg(test)]
mod icon_tests {
    #[test]
    fn only_small_raster_data_uris_are_kept_as_icons() {
        assert!(super::safe_icon("data:image/png;base64,iVBORw0KGgo="));
        assert!(super::safe_icon("data:image/webp;base64,UklGRg=="));
        for unsafe_icon in [
            "data:image/svg+xml;base64,PHN2Zz48c2NyaXB0Lz48L3N2Zz4=",
            "https://example.com/icon.png",
            "data:image/png,<script>",
            "data:image/png;base64,iVBOR\"onerror=\"x",
            "javascript:alert(1)",
        ] {
            assert!(!super::safe_icon(unsafe_icon), "{unsafe_icon}");
        }
        let huge = format!("data:image/png;base64,{}", "A".repeat(super::MAX_ICON_LEN));
        assert!(!super::safe_icon(&huge));
    }
}
