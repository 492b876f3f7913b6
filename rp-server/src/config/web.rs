//! The web side of the settings: the RP ID, its origins, related origins and native
//! apps.

use url::Url;

use super::settings::{Settings, entries, text};
use super::{Config, ConfigError, bad};

/// An allowed origin, as WebAuthn compares them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Origin {
    /// `https://app.example.com` (or `http://` for local development).
    Web(Url),
    /// `android:apk-key-hash:<base64url sha256 of the signing certificate>`.
    Android(String),
}

impl Origin {
    pub fn as_url(&self) -> Result<Url, url::ParseError> {
        match self {
            Self::Web(url) => Ok(url.clone()),
            Self::Android(s) => Url::parse(s),
        }
    }
}

impl Config {
    /// Sets the native apps allowed to use the RP ID's passkeys (`RP_APPLE_APP_IDS`,
    /// `RP_ANDROID_APPS`), validated as at start, and accepts the origins their
    /// ceremonies carry without repeating them in `RP_ORIGINS`: each Android app's
    /// `android:apk-key-hash:`, and for iOS apps `https://<RP_ID>` (what ASAuthorization
    /// puts in clientDataJSON, whichever app asks).
    pub fn set_native_apps(
        &mut self,
        apple_app_ids: &[String],
        android: &[String],
    ) -> Result<(), ConfigError> {
        self.apple_app_ids = self::apple_app_ids(apple_app_ids)?;
        self.android_apps = android_apps(android)?;
        let derived: Vec<Origin> = self
            .android_apps
            .iter()
            .map(|app| Origin::Android(app.origin()))
            .collect();
        // iOS apps sign in with the origin https://<RP_ID>: a web origin like any other,
        // which only RP_ORIGINS may trust (listing an app must not open the site's origin
        // to ceremonies on its own). Without it the apps could never sign in: say so.
        if !self.apple_app_ids.is_empty() {
            let site = Url::parse(&format!("https://{}", self.rp_id))
                .map_err(|e| bad("RP_ID", format!("not a host for an https origin ({e})")))?;
            if !self.origins.contains(&Origin::Web(site.clone())) {
                return Err(bad(
                    "RP_APPLE_APP_IDS",
                    format!(
                        "iOS apps sign in with the origin {}; add it to RP_ORIGINS",
                        site.origin().ascii_serialization()
                    ),
                ));
            }
        }
        for origin in derived {
            if !self.origins.contains(&origin) {
                self.origins.push(origin);
            }
        }
        Ok(())
    }
}

/// `rp_id`: a bare domain, lower-cased.
pub(super) fn validate_rp_id(raw: &str) -> Result<String, ConfigError> {
    let id = raw.trim().to_ascii_lowercase();
    if id.is_empty() {
        return Err(bad("RP_ID", "must not be empty"));
    }
    if id.contains("://") || id.contains('/') || id.contains(':') {
        return Err(bad(
            "RP_ID",
            "must be a bare domain such as example.com (no scheme, port or path)",
        ));
    }
    match url::Host::parse(&id) {
        Ok(url::Host::Domain(_)) => Ok(id),
        Ok(_) => Err(bad("RP_ID", "must be a domain name, not an IP address")),
        Err(e) => Err(bad("RP_ID", format!("not a valid domain ({e})"))),
    }
}

/// An Android app allowed to use the RP ID's passkeys.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AndroidApp {
    pub package_name: String,
    /// The signing certificate's SHA-256, 32 bytes.
    pub fingerprint: [u8; 32],
}

impl AndroidApp {
    /// `AB:CD:…`, as assetlinks.json lists it.
    pub fn fingerprint_hex(&self) -> String {
        self.fingerprint
            .iter()
            .map(|b| format!("{b:02X}"))
            .collect::<Vec<_>>()
            .join(":")
    }

    /// `android:apk-key-hash:<base64url of the fingerprint>`, the origin its passkey
    /// ceremonies carry.
    pub fn origin(&self) -> String {
        format!(
            "android:apk-key-hash:{}",
            rp_shared::credential_id::encode(&self.fingerprint)
        )
    }
}

/// `RP_APPLE_APP_IDS`: `TEAMID.bundle.id`, a ten-character team id.
fn apple_app_ids(raw: &[String]) -> Result<Vec<String>, ConfigError> {
    raw.iter()
        .map(|r| r.trim())
        .filter(|r| !r.is_empty())
        .map(|id| {
            let valid = id.split_once('.').is_some_and(|(team, bundle)| {
                team.len() == 10
                    && team.chars().all(|c| c.is_ascii_uppercase() || c.is_ascii_digit())
                    && !bundle.is_empty()
                    && bundle
                        .chars()
                        .all(|c| c.is_ascii_alphanumeric() || c == '.' || c == '-')
            });
            if valid {
                Ok(id.to_owned())
            } else {
                Err(bad(
                    "RP_APPLE_APP_IDS",
                    format!("`{id}` is not TEAMID.bundle.id (a ten-character team id, then the bundle id)"),
                ))
            }
        })
        .collect()
}

/// `RP_ANDROID_APPS`: `package.name:AB:CD:…` (32 colon-separated hex bytes).
fn android_apps(raw: &[String]) -> Result<Vec<AndroidApp>, ConfigError> {
    raw.iter()
        .map(|r| r.trim())
        .filter(|r| !r.is_empty())
        .map(|entry| {
            let refuse = |why: &str| bad("RP_ANDROID_APPS", format!("`{entry}`: {why}"));
            let (package, hex) = entry
                .split_once(':')
                .ok_or_else(|| refuse("expected package.name:SHA256_FINGERPRINT"))?;
            let segment_ok = |s: &str| {
                s.chars().next().is_some_and(|c| c.is_ascii_alphabetic())
                    && s.chars().all(|c| c.is_ascii_alphanumeric() || c == '_')
            };
            if !(package.contains('.') && package.split('.').all(segment_ok)) {
                return Err(refuse("not an Android package name (like com.example.app)"));
            }
            let bytes: Vec<u8> = hex
                .split(':')
                .map(|h| {
                    (h.len() == 2)
                        .then(|| u8::from_str_radix(h, 16).ok())
                        .flatten()
                })
                .collect::<Option<_>>()
                .ok_or_else(|| refuse("the fingerprint must be 32 colon-separated hex bytes"))?;
            let fingerprint: [u8; 32] = bytes.try_into().map_err(|_| {
                refuse("the fingerprint must be 32 colon-separated hex bytes (SHA-256)")
            })?;
            Ok(AndroidApp {
                package_name: package.to_owned(),
                fingerprint,
            })
        })
        .collect()
}

/// WebAuthn Level 3's limit on distinct registrable-domain labels in a related origins
/// list: a browser stops reading the list after this many.
pub const MAX_RELATED_ORIGIN_LABELS: usize = 5;

/// `RP_RELATED_ORIGINS`: https origins (no path), within the label limit.
pub(super) fn related_origins(raw: &[String]) -> Result<Vec<Url>, ConfigError> {
    let mut origins = Vec::new();
    let mut labels: Vec<String> = Vec::new();
    for raw in raw.iter().map(|r| r.trim()).filter(|r| !r.is_empty()) {
        let url = Url::parse(raw)
            .map_err(|e| bad("RP_RELATED_ORIGINS", format!("`{raw}` is not a URL ({e})")))?;
        if url.scheme() != "https"
            || url.path() != "/"
            || url.query().is_some()
            || url.fragment().is_some()
        {
            return Err(bad(
                "RP_RELATED_ORIGINS",
                format!("`{raw}`: a related origin is https://host[:port], nothing more"),
            ));
        }
        let host = url.host_str().unwrap_or_default();
        let label = registrable_label(host).ok_or_else(|| {
            bad(
                "RP_RELATED_ORIGINS",
                format!("`{raw}`: its host is not under a public suffix"),
            )
        })?;
        if !labels.contains(&label) {
            labels.push(label);
        }
        origins.push(url);
    }
    if labels.len() > MAX_RELATED_ORIGIN_LABELS {
        return Err(bad(
            "RP_RELATED_ORIGINS",
            format!(
                "names {} distinct registrable-domain labels ({}); browsers read at most {MAX_RELATED_ORIGIN_LABELS}",
                labels.len(),
                labels.join(", ")
            ),
        ));
    }
    Ok(origins)
}

/// The label of a host's registrable domain (`shop.example.co.uk` → `example`), as the
/// WebAuthn spec counts related origins.
pub fn registrable_label(host: &str) -> Option<String> {
    let domain = psl::domain_str(host)?;
    let suffix = psl::suffix_str(host)?;
    let label = domain.strip_suffix(suffix)?.trim_end_matches('.');
    (!label.is_empty()).then(|| label.to_lowercase())
}

pub(super) fn parse_origin(raw: &str, rp_id: &str) -> Result<Origin, ConfigError> {
    if let Some(hash) = raw.strip_prefix("android:apk-key-hash:") {
        let ok = !hash.is_empty()
            && hash
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_');
        return if ok {
            Ok(Origin::Android(raw.to_owned()))
        } else {
            Err(bad(
                "RP_ORIGINS",
                format!("`{raw}`: the apk key hash must be unpadded base64url"),
            ))
        };
    }
    let url =
        Url::parse(raw).map_err(|e| bad("RP_ORIGINS", format!("`{raw}` is not a URL ({e})")))?;
    if !matches!(url.scheme(), "https" | "http") {
        return Err(bad(
            "RP_ORIGINS",
            format!("`{raw}`: only https/http and android:apk-key-hash: origins are allowed"),
        ));
    }
    // A page served over plain http can be altered on the way, and with it every ceremony
    // it runs: only a page on this machine (local development) may be http.
    if url.scheme() == "http" && !rp_shared::loopback::is_loopback(&url) {
        return Err(bad(
            "RP_ORIGINS",
            format!(
                "`{raw}`: an origin must be https (http only for a loopback host such as localhost)"
            ),
        ));
    }
    if url.path() != "/" || url.query().is_some() || url.fragment().is_some() {
        return Err(bad(
            "RP_ORIGINS",
            format!("`{raw}`: an origin has no path, query or fragment"),
        ));
    }
    let host = url.host_str().unwrap_or_default();
    if host != rp_id && !host.ends_with(&format!(".{rp_id}")) {
        return Err(bad(
            "RP_ORIGINS",
            format!("`{raw}`: its host must be RP_ID ({rp_id}) or a subdomain of it"),
        ));
    }
    Ok(Origin::Web(url))
}

/// `origins`: at least one, each on the RP ID.
pub(super) fn origins(s: &Settings, rp_id: &str) -> Result<Vec<Origin>, ConfigError> {
    let origins = entries(&s.origins)
        .map(|o| parse_origin(o, rp_id))
        .collect::<Result<Vec<_>, _>>()?;
    if origins.is_empty() {
        return Err(bad("RP_ORIGINS", "at least one origin is required"));
    }
    Ok(origins)
}

/// `rp_id`, required.
pub(super) fn rp_id(s: &Settings) -> Result<String, ConfigError> {
    validate_rp_id(text(&s.rp_id).ok_or_else(|| bad("RP_ID", "is required"))?)
}

/// An optional page URL: absolute, https (http only for a loopback host), no fragment.
pub(super) fn page_url(variable: &str, raw: &Option<String>) -> Result<Option<Url>, ConfigError> {
    let Some(raw) = text(raw) else {
        return Ok(None);
    };
    let url = Url::parse(raw).map_err(|e| bad(variable, format!("`{raw}` is not a URL ({e})")))?;
    super::check_https(variable, &url)?;
    if url.fragment().is_some() {
        return Err(bad(variable, "has a fragment"));
    }
    Ok(Some(url))
}
