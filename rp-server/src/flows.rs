//! The flows: what rp-server does, between the HTTP layer (which only extracts, calls a
//! flow and maps its outcome) and the storage modules (which hold every SQL statement).
//! Each flow owns its transaction or combined statement, its policy and its audit
//! events, returns a typed outcome with its own error enum, and records its metrics once,
//! from that outcome. Decisions that need no I/O are plain functions with table tests.

pub mod activity;
pub mod ceremony;
pub mod challenge;
pub mod credentials;
pub mod email;
pub mod notices;
pub mod oidc;
pub mod recovery;
pub mod redemption;
pub mod registration;
pub mod sealed;
pub mod session;
pub mod sign_in;
pub mod signup;

mod context;

pub use context::{Context, Site, SiteSettings};
