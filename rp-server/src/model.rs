//! Types that several layers share (storage, flows, HTTP, configuration), kept apart so
//! that none of those layers has to import another for them.

use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

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
