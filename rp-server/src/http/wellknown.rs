//! The well-known files that let others use RP_ID's passkeys: `/.well-known/webauthn`
//! (related origins, WebAuthn Level 3), `/.well-known/apple-app-site-association` (iOS
//! apps), `/.well-known/assetlinks.json` (Android apps) and
//! `/.well-known/passkey-endpoints` (where password managers send users). Browsers and the platforms
//! fetch them from `https://<RP_ID>/…`; each answers 404 when its setting is unset, and each
//! is the `Host`'s site's.

use axum::http::header;
use axum::response::{IntoResponse, Response};
use rp_shared::error::ErrorBody;
use serde::Serialize;
use utoipa::ToSchema;

use super::error::ApiError;
use crate::flows::Context;

#[derive(Debug, Serialize, ToSchema)]
pub struct RelatedOrigins {
    /// Origins, besides RP_ID's own, whose pages may create and use its passkeys.
    pub origins: Vec<String>,
}

/// The related origins (`RP_RELATED_ORIGINS`); 404 when there are none.
#[utoipa::path(get, path = "/.well-known/webauthn", tag = "operations",
    responses((status = 200, body = RelatedOrigins, content_type = "application/json"),
        (status = 404, body = ErrorBody, description = "no related origins are configured")))]
pub async fn webauthn(cx: Context) -> Result<Response, ApiError> {
    let config = &cx.site.config;
    if config.related_origins.is_empty() {
        return Err(ApiError::no_such_endpoint());
    }
    let origins = config
        .related_origins
        .iter()
        .map(|o| o.origin().ascii_serialization())
        .collect();
    Ok((
        [(header::ACCESS_CONTROL_ALLOW_ORIGIN, "*")],
        axum::Json(RelatedOrigins { origins }),
    )
        .into_response())
}

#[derive(Debug, Serialize, ToSchema)]
pub struct AppleAppSiteAssociation {
    pub webcredentials: WebCredentials,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct WebCredentials {
    /// `TEAMID.bundle.id` of each app.
    pub apps: Vec<String>,
}

/// The iOS apps that may use the passkeys (`RP_APPLE_APP_IDS`); 404 without.
#[utoipa::path(get, path = "/.well-known/apple-app-site-association", tag = "operations",
    responses((status = 200, body = AppleAppSiteAssociation, content_type = "application/json"),
        (status = 404, body = ErrorBody, description = "no iOS apps are configured")))]
pub async fn apple_app_site_association(
    cx: Context,
) -> Result<axum::Json<AppleAppSiteAssociation>, ApiError> {
    let config = &cx.site.config;
    if config.apple_app_ids.is_empty() {
        return Err(ApiError::no_such_endpoint());
    }
    Ok(axum::Json(AppleAppSiteAssociation {
        webcredentials: WebCredentials {
            apps: config.apple_app_ids.clone(),
        },
    }))
}

/// One Digital Asset Links statement.
#[derive(Debug, Serialize, ToSchema)]
pub struct AssetLink {
    pub relation: Vec<String>,
    pub target: AndroidTarget,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct AndroidTarget {
    pub namespace: String,
    pub package_name: String,
    /// `AB:CD:…`.
    pub sha256_cert_fingerprints: Vec<String>,
}

/// The Android apps that may use the passkeys (`RP_ANDROID_APPS`); 404 without.
#[utoipa::path(get, path = "/.well-known/assetlinks.json", tag = "operations",
    responses((status = 200, body = Vec<AssetLink>, content_type = "application/json"),
        (status = 404, body = ErrorBody, description = "no Android apps are configured")))]
pub async fn assetlinks(cx: Context) -> Result<axum::Json<Vec<AssetLink>>, ApiError> {
    let config = &cx.site.config;
    if config.android_apps.is_empty() {
        return Err(ApiError::no_such_endpoint());
    }
    Ok(axum::Json(
        config
            .android_apps
            .iter()
            .map(|app| AssetLink {
                relation: vec!["delegate_permission/common.get_login_creds".to_owned()],
                target: AndroidTarget {
                    namespace: "android_app".to_owned(),
                    package_name: app.package_name.clone(),
                    sha256_cert_fingerprints: vec![app.fingerprint_hex()],
                },
            })
            .collect(),
    ))
}

/// The W3C passkey endpoints: where a password manager sends a user to create a passkey
/// and to manage theirs.
#[derive(Debug, Serialize, ToSchema)]
pub struct PasskeyEndpoints {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub enroll: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub manage: Option<String>,
}

/// `RP_PASSKEY_ENROLL_URL` and `RP_PASSKEY_MANAGE_URL`; 404 when neither is set.
#[utoipa::path(get, path = "/.well-known/passkey-endpoints", tag = "operations",
    responses((status = 200, body = PasskeyEndpoints, content_type = "application/json"),
        (status = 404, body = ErrorBody, description = "no passkey endpoints are configured")))]
pub async fn passkey_endpoints(cx: Context) -> Result<Response, ApiError> {
    let config = &cx.site.config;
    let (enroll, manage) = (&config.passkey_enroll_url, &config.passkey_manage_url);
    if enroll.is_none() && manage.is_none() {
        return Err(ApiError::no_such_endpoint());
    }
    Ok((
        [(header::ACCESS_CONTROL_ALLOW_ORIGIN, "*")],
        axum::Json(PasskeyEndpoints {
            enroll: enroll.as_ref().map(|u| u.to_string()),
            manage: manage.as_ref().map(|u| u.to_string()),
        }),
    )
        .into_response())
}
