//! A user pool's state: users, auth sessions, refresh tokens. In memory only; a restart
//! starts again from the configuration's seed users.

use std::collections::{BTreeMap, HashMap, HashSet};

use chrono::{DateTime, Utc};
use rand::{RngCore as _, TryRngCore as _};
use serde_json::{Value, json};
use sha2::{Digest as _, Sha256};

use crate::config::PoolConfig;
use crate::error::CognitoError;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum UserStatus {
    Unconfirmed,
    Confirmed,
    ForceChangePassword,
    /// A user made by a federated sign-in (`EXTERNAL_PROVIDER`).
    ExternalProvider,
}

impl UserStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Unconfirmed => "UNCONFIRMED",
            Self::Confirmed => "CONFIRMED",
            Self::ForceChangePassword => "FORCE_CHANGE_PASSWORD",
            Self::ExternalProvider => "EXTERNAL_PROVIDER",
        }
    }
}

#[derive(Debug, Clone)]
pub struct User {
    pub username: String,
    /// Includes `sub`.
    pub attributes: BTreeMap<String, String>,
    password: Option<(Vec<u8>, [u8; 32])>,
    /// The password's SRP verifier (`USER_SRP_AUTH`).
    pub srp: Option<crate::srp::Verifier>,
    pub status: UserStatus,
    pub enabled: bool,
    pub created: DateTime<Utc>,
    pub modified: DateTime<Utc>,
    pub confirmation_code: Option<String>,
    /// The user pool groups the user is in (`cognito:groups` in their tokens).
    pub groups: std::collections::BTreeSet<String>,
    /// Passkeys registered with the pool itself (Cognito's own passkeys).
    pub passkeys: Vec<crate::webauthn::NativePasskey>,
}

impl User {
    pub fn new(
        username: String,
        mut attributes: BTreeMap<String, String>,
        now: DateTime<Utc>,
    ) -> Self {
        attributes
            .entry("sub".to_owned())
            .or_insert_with(|| uuid::Uuid::new_v4().to_string());
        Self {
            username,
            attributes,
            password: None,
            srp: None,
            status: UserStatus::Unconfirmed,
            enabled: true,
            created: now,
            modified: now,
            confirmation_code: None,
            groups: Default::default(),
            passkeys: Vec::new(),
        }
    }

    pub fn sub(&self) -> &str {
        self.attributes
            .get("sub")
            .map(String::as_str)
            .unwrap_or_default()
    }

    /// Sets the password, and its SRP verifier for `pool_name` (the pool id after its
    /// `<region>_`).
    pub fn set_password(
        &mut self,
        pool_name: &str,
        password: &str,
    ) -> Result<(), crate::srp::SrpError> {
        let mut salt = vec![0u8; 16];
        rand::rngs::OsRng.unwrap_err().fill_bytes(&mut salt);
        let hash = hash_password(&salt, password);
        self.srp = Some(crate::srp::Verifier::new(
            pool_name,
            &self.username,
            password,
        )?);
        self.password = Some((salt, hash));
        Ok(())
    }

    pub fn password_matches(&self, password: &str) -> bool {
        self.password
            .as_ref()
            .is_some_and(|(salt, hash)| hash_password(salt, password) == *hash)
    }

    /// `[{Name, Value}]`, as Cognito lists attributes.
    pub fn attribute_list(&self) -> Value {
        Value::Array(
            self.attributes
                .iter()
                .map(|(k, v)| json!({ "Name": k, "Value": v }))
                .collect(),
        )
    }

    /// Cognito's `UserType` (as in ListUsers / AdminCreateUser).
    pub fn user_type(&self) -> Value {
        json!({
            "Username": self.username,
            "Attributes": self.attribute_list(),
            "UserCreateDate": epoch(self.created),
            "UserLastModifiedDate": epoch(self.modified),
            "Enabled": self.enabled,
            "UserStatus": self.status.as_str(),
        })
    }
}

pub fn epoch(t: DateTime<Utc>) -> f64 {
    t.timestamp_millis() as f64 / 1000.0
}

// A stand-in keeps passwords only for its own lifetime; a salted SHA-256 is enough here
// (real Cognito never reveals how it stores them).
fn hash_password(salt: &[u8], password: &str) -> [u8; 32] {
    let mut h = Sha256::new();
    h.update(salt);
    h.update(password.as_bytes());
    h.finalize().into()
}

/// One answered round of a custom-auth sign-in.
#[derive(Debug, Clone)]
pub struct Round {
    pub challenge_name: String,
    pub challenge_result: bool,
    pub challenge_metadata: Option<String>,
}

impl Round {
    pub fn to_json(&self) -> Value {
        json!({
            "challengeName": self.challenge_name,
            "challengeResult": self.challenge_result,
            "challengeMetadata": self.challenge_metadata,
        })
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SessionKind {
    Custom,
    /// `USER_AUTH`: a `WEB_AUTHN` challenge, or the choice among the first factors.
    WebAuthn,
    SelectChallenge,
    NewPasswordRequired,
    PasswordVerifier,
}

/// An issued `Session`: single use, expires.
#[derive(Debug, Clone)]
pub struct AuthSession {
    pub kind: SessionKind,
    pub client_id: String,
    /// The real username, or the name given when the user does not exist.
    pub username: String,
    pub user_not_found: bool,
    pub rounds: Vec<Round>,
    pub private_parameters: Value,
    pub challenge_metadata: Option<String>,
    /// `PASSWORD_VERIFIER`: what the proof is checked against.
    pub srp: Option<SrpSession>,
    pub expires_at: DateTime<Utc>,
}

/// A `PASSWORD_VERIFIER` in progress: the server's round, the client's `SRP_A`, and the
/// verifier used (a decoy for a user who does not exist).
#[derive(Debug, Clone)]
pub struct SrpSession {
    pub round: crate::srp::ServerRound,
    pub a_hex: String,
    pub verifier: crate::srp::Verifier,
}

#[derive(Debug, Clone)]
pub struct RefreshGrant {
    pub username: String,
    pub client_id: String,
    pub origin_jti: String,
    pub auth_time: i64,
    /// The OAuth scopes of a grant the hosted endpoints started.
    pub scope: Option<String>,
}

pub struct Pool {
    pub config: PoolConfig,
    /// The hosted endpoints' state: providers, links, sign-ins in flight, codes.
    pub oauth: crate::oauth::PoolOAuth,
    pub users: Vec<User>,
    pub sessions: HashMap<String, AuthSession>,
    pub refresh_tokens: HashMap<String, RefreshGrant>,
    /// `origin_jti`s of revoked sessions: their access tokens no longer work.
    pub revoked: HashSet<String>,
    /// The pool's groups (`CreateGroup`).
    pub groups: std::collections::BTreeSet<String>,
    /// Passkey registrations begun (`StartWebAuthnRegistration`) and not yet completed.
    pub pending_registrations: Vec<crate::webauthn::PendingRegistration>,
}

impl Pool {
    pub fn new(config: PoolConfig, now: DateTime<Utc>) -> Result<Self, crate::srp::SrpError> {
        let mut pool = Self {
            oauth: crate::oauth::PoolOAuth::new(&config),
            config,
            users: Vec::new(),
            sessions: HashMap::new(),
            refresh_tokens: HashMap::new(),
            revoked: HashSet::new(),
            groups: Default::default(),
            pending_registrations: Vec::new(),
        };
        for seed in pool.config.users.clone() {
            let mut attributes = seed.attributes.clone();
            let username = pool.username_for(&seed.username, &mut attributes);
            let mut user = User::new(username, attributes, now);
            if let Some(p) = &seed.password {
                user.set_password(pool.config.name(), p)?;
            }
            user.status = UserStatus::Confirmed;
            pool.users.push(user);
        }
        Ok(pool)
    }

    pub fn uses_email_as_username(&self) -> bool {
        self.config.username_attributes.iter().any(|a| a == "email")
    }

    pub fn has_email_alias(&self) -> bool {
        self.config.alias_attributes.iter().any(|a| a == "email")
    }

    /// Refuses a new user's `Username` the way Cognito does for this pool's shape: an
    /// email where the email is the username attribute, anything *but* an email-looking
    /// name where the email is an alias.
    pub fn check_new_username(&self, name: &str) -> Result<(), CognitoError> {
        if self.uses_email_as_username() && !looks_like_email(name) {
            return Err(CognitoError::invalid_parameter(
                "Username should be an email.",
            ));
        }
        if self.has_email_alias() && looks_like_email(name) {
            return Err(CognitoError::invalid_parameter(
                "Username cannot be of email format, since user pool is configured for email alias.",
            ));
        }
        Ok(())
    }

    /// The app client with this id.
    pub fn client(&self, client_id: &str) -> Result<&crate::config::ClientConfig, CognitoError> {
        self.config
            .clients
            .iter()
            .find(|c| c.id == client_id)
            .ok_or_else(|| CognitoError::resource_not_found("User pool client does not exist."))
    }

    /// `PreventUserExistenceErrors: ENABLED` on this client.
    pub fn hides_user_existence(&self, client_id: &str) -> bool {
        self.client(client_id)
            .is_ok_and(|c| c.prevent_user_existence_errors)
    }

    /// The stored username for a new user given `name` at sign-up: in pools where the
    /// email is a username attribute, `name` is the email and the username is the sub.
    pub fn username_for(&self, name: &str, attributes: &mut BTreeMap<String, String>) -> String {
        if self.uses_email_as_username() && looks_like_email(name) {
            attributes
                .entry("email".to_owned())
                .or_insert_with(|| name.to_owned());
            attributes
                .entry("sub".to_owned())
                .or_insert_with(|| uuid::Uuid::new_v4().to_string())
                .clone()
        } else {
            name.to_owned()
        }
    }

    /// Finds a user by username, or by email / sub where the pool's settings allow.
    pub fn find(&self, name: &str) -> Option<usize> {
        let name_lc = name.to_lowercase();
        if let Some(i) = self
            .users
            .iter()
            .position(|u| u.username.to_lowercase() == name_lc)
        {
            return Some(i);
        }
        let email_signs_in = self.uses_email_as_username();
        let email_alias = self.has_email_alias();
        if email_signs_in || email_alias {
            let found = self.users.iter().position(|u| {
                u.attributes
                    .get("email")
                    .is_some_and(|e| e.to_lowercase() == name_lc)
                    && (email_signs_in
                        || u.attributes.get("email_verified").map(String::as_str) == Some("true"))
            });
            if found.is_some() {
                return found;
            }
        }
        if email_signs_in {
            return self.users.iter().position(|u| u.sub() == name);
        }
        None
    }

    /// Ends every session of `username`: its refresh tokens go, and the access tokens
    /// minted from them stop working.
    pub fn sign_out_everywhere(&mut self, username: &str) {
        let mut gone = Vec::new();
        self.refresh_tokens.retain(|_, g| {
            let mine = g.username == username;
            if mine {
                gone.push(g.origin_jti.clone());
            }
            !mine
        });
        self.revoked.extend(gone);
    }

    pub fn user(&self, name: &str) -> Result<&User, CognitoError> {
        self.find(name)
            .map(|i| &self.users[i])
            .ok_or_else(CognitoError::user_not_found)
    }

    pub fn user_mut(&mut self, name: &str) -> Result<&mut User, CognitoError> {
        match self.find(name) {
            Some(i) => Ok(&mut self.users[i]),
            None => Err(CognitoError::user_not_found()),
        }
    }

    /// Where the email is an alias, a verified email is one user's alias only: claiming
    /// `email` as verified for `username` (`None`: a user about to be created) is
    /// `AliasExistsException` when another user holds it verified — unless `force`
    /// (`ForceAliasCreation`), which moves the alias: the other user's email is no longer
    /// verified and no longer signs them in.
    pub fn claim_email_alias(
        &mut self,
        email: &str,
        username: Option<&str>,
        force: bool,
    ) -> Result<(), CognitoError> {
        if !self.has_email_alias() {
            return Ok(());
        }
        let email = email.to_lowercase();
        let holder = self.users.iter().position(|u| {
            Some(u.username.as_str()) != username
                && u.attributes
                    .get("email")
                    .is_some_and(|e| e.to_lowercase() == email)
                && u.attributes.get("email_verified").map(String::as_str) == Some("true")
        });
        match holder {
            None => Ok(()),
            Some(_) if !force => Err(CognitoError::new(
                "AliasExistsException",
                "An account with the email already exists.",
            )),
            Some(i) => {
                let previous = &mut self.users[i];
                previous
                    .attributes
                    .insert("email_verified".to_owned(), "false".to_owned());
                previous.modified = chrono::Utc::now();
                Ok(())
            }
        }
    }

    pub fn email_taken(&self, email: &str, except: Option<&str>) -> bool {
        let email = email.to_lowercase();
        self.users.iter().any(|u| {
            Some(u.username.as_str()) != except
                && u.attributes
                    .get("email")
                    .is_some_and(|e| e.to_lowercase() == email)
        })
    }

    pub fn client_allows(&self, client_id: &str, flow: &str) -> Result<(), CognitoError> {
        let client = self.client(client_id)?;
        if client.explicit_auth_flows.iter().any(|f| f == flow) {
            Ok(())
        } else {
            Err(CognitoError::invalid_parameter(format!(
                "{} flow not enabled for this client",
                flow.trim_start_matches("ALLOW_")
            )))
        }
    }

    /// Cognito's password policy: length, then each required character class, with
    /// Cognito's messages. Its symbols are `^ $ * . [ ] { } ( ) ? - " ! @ # % & / \ , > < ' : ; | _ ~ ` + =`
    /// and a space that is neither first nor last.
    pub fn check_password_policy(&self, password: &str) -> Result<(), CognitoError> {
        let policy = &self.config.password_policy;
        let refuse = |why: &str| {
            Err(CognitoError::new(
                "InvalidPasswordException",
                format!("Password did not conform with policy: {why}"),
            ))
        };
        let count = password.chars().count();
        if count > 256 {
            return Err(CognitoError::invalid_parameter(
                "1 validation error detected: Value at 'password' failed to satisfy constraint: Member must have length less than or equal to 256",
            ));
        }
        if count < policy.minimum_length {
            return refuse("Password not long enough");
        }
        const SYMBOLS: &str = "^$*.[]{}()?-\"!@#%&/\\,><':;|_~`+=";
        let inner_space = password.trim() == password && password.contains(' ');
        if policy.require_numbers && !password.chars().any(|c| c.is_ascii_digit()) {
            return refuse("Password must have numeric characters");
        }
        if policy.require_symbols && !(password.chars().any(|c| SYMBOLS.contains(c)) || inner_space)
        {
            return refuse("Password must have symbol characters");
        }
        if policy.require_uppercase && !password.chars().any(|c| c.is_ascii_uppercase()) {
            return refuse("Password must have uppercase characters");
        }
        if policy.require_lowercase && !password.chars().any(|c| c.is_ascii_lowercase()) {
            return refuse("Password must have lowercase characters");
        }
        Ok(())
    }

    pub fn purge_expired(&mut self, now: DateTime<Utc>) {
        self.sessions.retain(|_, s| s.expires_at > now);
    }
}

/// Whether Cognito takes `name` for an email address (`local@domain`).
pub fn looks_like_email(name: &str) -> bool {
    name.split_once('@').is_some_and(|(local, domain)| {
        !local.is_empty() && !domain.is_empty() && !domain.contains('@')
    })
}

/// An opaque random token (sessions, refresh tokens).
pub fn opaque_token(bytes: usize) -> String {
    use base64::Engine as _;
    let mut b = vec![0u8; bytes];
    rand::rngs::OsRng.unwrap_err().fill_bytes(&mut b);
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(b)
}

/// Parses a ListUsers filter: `attr = "value"`, `attr ^= "prefix"`, or empty.
pub fn parse_filter(filter: &str) -> Result<Option<(String, bool, String)>, CognitoError> {
    let f = filter.trim();
    if f.is_empty() {
        return Ok(None);
    }
    let invalid = || CognitoError::invalid_parameter("Error while parsing filter.");
    let (attr, rest, prefix) = if let Some((a, r)) = f.split_once("^=") {
        (a, r, true)
    } else if let Some((a, r)) = f.split_once('=') {
        (a, r, false)
    } else {
        return Err(invalid());
    };
    let attr = attr.trim().trim_matches('"').to_owned();
    let value = rest.trim();
    if value.len() < 2 || !value.starts_with('"') || !value.ends_with('"') {
        return Err(invalid());
    }
    let value = value[1..value.len() - 1].replace("\\\"", "\"");
    const SEARCHABLE: &[&str] = &[
        "username",
        "email",
        "phone_number",
        "name",
        "given_name",
        "family_name",
        "preferred_username",
        "cognito:user_status",
        "status",
        "sub",
    ];
    if !SEARCHABLE.contains(&attr.as_str()) {
        return Err(CognitoError::invalid_parameter(format!(
            "Invalid search attribute: {attr}"
        )));
    }
    Ok(Some((attr, prefix, value)))
}

pub fn filter_matches(user: &User, attr: &str, prefix: bool, value: &str) -> bool {
    let actual = match attr {
        "username" => Some(user.username.clone()),
        "cognito:user_status" => Some(user.status.as_str().to_owned()),
        "status" => Some(if user.enabled { "Enabled" } else { "Disabled" }.to_owned()),
        other => user.attributes.get(other).cloned(),
    };
    actual.is_some_and(|a| {
        if prefix {
            a.starts_with(value)
        } else {
            a == value
        }
    })
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn filters() {
        assert_eq!(parse_filter("").unwrap(), None);
        assert_eq!(
            parse_filter(r#"email = "a@b.c""#).unwrap(),
            Some(("email".into(), false, "a@b.c".into()))
        );
        assert_eq!(
            parse_filter(r#"username ^= "al""#).unwrap(),
            Some(("username".into(), true, "al".into()))
        );
        assert!(parse_filter("email = a@b.c").is_err());
        assert!(parse_filter(r#"password = "x""#).is_err());
        assert!(parse_filter("nonsense").is_err());
    }
}
