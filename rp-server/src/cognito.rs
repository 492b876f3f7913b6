//! The Cognito admin calls of passkey-first sign-up, account resets and admin lookups,
//! through the official SDK; and what rp-server learns of the pool at start (how it
//! names users, how long its app clients' sign-in sessions last).

use aws_sdk_cognitoidentityprovider as cip;
use cip::types::{AttributeType, MessageActionType};
use rand::{RngCore as _, TryRngCore as _};

/// How a user pool names its users, which decides the `Username` sign-up sends.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Deserialize, clap::ValueEnum)]
#[serde(rename_all = "snake_case")]
#[value(rename_all = "snake_case")]
pub enum PoolShape {
    /// `UsernameAttributes: [email]`: the email is the sign-in name; Cognito makes the
    /// username a UUID. Sign-up sends the email as `Username`.
    EmailUsername,
    /// `AliasAttributes: [email]`: a username may not look like an email, and the email
    /// signs in only once verified. Sign-up sends a new UUID as `Username`.
    EmailAlias,
    /// Plain usernames (no email sign-in). Sign-up sends the email as `Username`, so
    /// the user can still type it to sign in.
    Username,
}

impl PoolShape {
    /// The shape `DescribeUserPool` reports.
    pub fn of(username_attributes: &[String], alias_attributes: &[String]) -> Self {
        let has = |v: &[String]| v.iter().any(|a| a.eq_ignore_ascii_case("email"));
        if has(username_attributes) {
            Self::EmailUsername
        } else if has(alias_attributes) {
            Self::EmailAlias
        } else {
            Self::Username
        }
    }

    /// The `Username` to create a user with this email under.
    pub fn username_for(self, email: &str) -> String {
        match self {
            Self::EmailUsername | Self::Username => email.to_owned(),
            Self::EmailAlias => uuid::Uuid::new_v4().to_string(),
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Self::EmailUsername => "email_username",
            Self::EmailAlias => "email_alias",
            Self::Username => "username",
        }
    }
}

/// A user created in the pool.
#[derive(Debug, Clone)]
pub struct CreatedUser {
    pub username: String,
    pub sub: String,
}

/// A user of the pool as a listing shows it.
#[derive(Debug, Clone)]
pub struct PoolUser {
    pub username: String,
    pub sub: String,
    pub email: Option<String>,
    /// `email_verified` is true.
    pub email_verified: bool,
    pub enabled: bool,
    pub created: Option<chrono::DateTime<chrono::Utc>>,
}

#[derive(Debug, thiserror::Error)]
pub enum CognitoError {
    #[error("a user with this email already exists")]
    EmailTaken,
    #[error("Cognito {operation} failed: {detail}")]
    Failed {
        operation: &'static str,
        detail: String,
    },
}

fn failed<E: std::fmt::Debug + cip::error::ProvideErrorMetadata>(
    operation: &'static str,
    e: cip::error::SdkError<E>,
) -> CognitoError {
    let detail = match e.as_service_error() {
        Some(s) => format!("{}: {}", s.code().unwrap_or("?"), s.message().unwrap_or("")),
        None => format!("{e}"),
    };
    CognitoError::Failed { operation, detail }
}

pub struct CognitoAdmin {
    client: cip::Client,
    user_pool_id: String,
    /// `RP_COGNITO_POOL_SHAPE`, or what `DescribeUserPool` said once asked (at start,
    /// or at the first sign-up if Cognito could not be reached then).
    shape: tokio::sync::OnceCell<PoolShape>,
}

impl CognitoAdmin {
    pub fn new(client: cip::Client, user_pool_id: String) -> Self {
        Self {
            client,
            user_pool_id,
            shape: tokio::sync::OnceCell::new(),
        }
    }

    /// Takes the pool's shape from `RP_COGNITO_POOL_SHAPE` instead of asking Cognito.
    pub fn with_shape(self, shape: Option<PoolShape>) -> Self {
        Self {
            shape: tokio::sync::OnceCell::new_with(shape),
            ..self
        }
    }

    /// How the pool names users: the setting, or else Cognito's answer to
    /// `DescribeUserPool` (asked once).
    pub async fn shape(&self) -> Result<PoolShape, CognitoError> {
        self.shape
            .get_or_try_init(|| async {
                let pool = self.describe().await?;
                let names = |v: &[cip::types::UsernameAttributeType]| {
                    v.iter().map(|a| a.as_str().to_owned()).collect::<Vec<_>>()
                };
                let aliases = |v: &[cip::types::AliasAttributeType]| {
                    v.iter().map(|a| a.as_str().to_owned()).collect::<Vec<_>>()
                };
                Ok(PoolShape::of(
                    &names(pool.username_attributes()),
                    &aliases(pool.alias_attributes()),
                ))
            })
            .await
            .copied()
    }

    /// How many users the pool has, as Cognito estimates it (`DescribeUserPool`).
    pub async fn estimated_users(&self) -> Result<i64, CognitoError> {
        Ok(i64::from(
            self.describe().await?.estimated_number_of_users(),
        ))
    }

    async fn describe(&self) -> Result<cip::types::UserPoolType, CognitoError> {
        self.client
            .describe_user_pool()
            .user_pool_id(&self.user_pool_id)
            .send()
            .await
            .map_err(|e| failed("DescribeUserPool", e))?
            .user_pool
            .ok_or_else(|| CognitoError::Failed {
                operation: "DescribeUserPool",
                detail: "no pool in the answer".to_owned(),
            })
    }

    /// An app client's `AuthSessionValidity`: how long Cognito keeps a custom-auth
    /// session, in minutes (Cognito's default, 3, when the answer leaves it out).
    pub async fn session_validity_minutes(&self, client_id: &str) -> Result<u32, CognitoError> {
        let described = self
            .client
            .describe_user_pool_client()
            .user_pool_id(&self.user_pool_id)
            .client_id(client_id)
            .send()
            .await
            .map_err(|e| failed("DescribeUserPoolClient", e))?;
        Ok(described
            .user_pool_client()
            .and_then(|c| c.auth_session_validity())
            .and_then(|m| u32::try_from(m).ok())
            .unwrap_or(3))
    }

    /// From the SDK's standard sources: `AWS_REGION`, the credential chain, and
    /// `AWS_ENDPOINT_URL_COGNITO_IDENTITY_PROVIDER` (or `AWS_ENDPOINT_URL`).
    pub async fn from_environment(user_pool_id: String) -> Self {
        let config = aws_config::defaults(aws_config::BehaviorVersion::latest())
            .load()
            .await;
        Self::new(cip::Client::new(&config), user_pool_id)
    }

    pub async fn email_taken(&self, email: &str) -> Result<bool, CognitoError> {
        Ok(!self.users_with_email(email, 1).await?.is_empty())
    }

    /// The verified email of the user with this `sub`, if they have one.
    pub async fn verified_email_of(&self, sub: &str) -> Result<Option<String>, CognitoError> {
        Ok(self
            .user_with_sub(sub)
            .await?
            .filter(|u| u.email_verified)
            .and_then(|u| u.email))
    }

    /// [`CognitoAdmin::verified_email_of`], remembered for five minutes in `cache`.
    pub async fn verified_email_cached(
        &self,
        cache: &EmailCache,
        sub: &str,
    ) -> Result<Option<String>, CognitoError> {
        if let Some(email) = cache.get(sub) {
            return Ok(email);
        }
        let email = self.verified_email_of(sub).await?;
        cache.put(sub, email.clone());
        Ok(email)
    }

    /// The one enabled user whose *verified* email this is; `None` when there is no
    /// such user or several (a code mailed there must not pick one of them).
    pub async fn verified_owner_of(&self, email: &str) -> Result<Option<PoolUser>, CognitoError> {
        let mut eligible: Vec<PoolUser> = self
            .users_with_email(email, 10)
            .await?
            .into_iter()
            .filter(|u| u.email_verified && u.enabled)
            .collect();
        Ok((eligible.len() == 1).then(|| eligible.remove(0)))
    }

    /// Users whose `email` attribute is `email` (at most `limit`).
    pub async fn users_with_email(
        &self,
        email: &str,
        limit: i32,
    ) -> Result<Vec<PoolUser>, CognitoError> {
        // Boxed: the SDK's futures are deep, and the CLI's `main` holds this one among
        // many (the compiler's layout queries overflow otherwise).
        Ok(
            Box::pin(self.list_users(equals_filter("email", email), limit, None))
                .await?
                .0,
        )
    }

    /// The pool user with this `sub`, if there is one.
    pub async fn user_with_sub(&self, sub: &str) -> Result<Option<PoolUser>, CognitoError> {
        self.first_user(equals_filter("sub", sub)).await
    }

    /// The pool user with this username, if any (`ListUsers` on `username`, so one
    /// permission covers every lookup; an alias is not a username).
    pub async fn user_named(&self, username: &str) -> Result<Option<PoolUser>, CognitoError> {
        self.first_user(equals_filter("username", username)).await
    }

    /// The first user `filter` matches. Boxed: the SDK's futures are deep, and the CLI's
    /// `main` holds these among many (the compiler's layout queries overflow otherwise).
    async fn first_user(&self, filter: String) -> Result<Option<PoolUser>, CognitoError> {
        Ok(Box::pin(self.list_users(filter, 1, None)).await?.0.pop())
    }

    /// Users whose `email` starts with `prefix` (at most `limit`, after Cognito's
    /// pagination token `page`), and the token of the next page.
    pub async fn users_with_email_prefix(
        &self,
        prefix: &str,
        limit: i32,
        page: Option<String>,
    ) -> Result<(Vec<PoolUser>, Option<String>), CognitoError> {
        Box::pin(self.list_users(prefix_filter("email", prefix), limit, page)).await
    }

    async fn list_users(
        &self,
        filter: String,
        limit: i32,
        page: Option<String>,
    ) -> Result<(Vec<PoolUser>, Option<String>), CognitoError> {
        let found = self
            .client
            .list_users()
            .user_pool_id(&self.user_pool_id)
            .filter(filter)
            .limit(limit)
            .set_pagination_token(page)
            .send()
            .await
            .map_err(|e| failed("ListUsers", e))?;
        let users = found
            .users()
            .iter()
            .map(|u| {
                let attribute = |name: &str| {
                    u.attributes()
                        .iter()
                        .find(|a| a.name() == name)
                        .and_then(|a| a.value())
                };
                PoolUser {
                    created: u
                        .user_create_date()
                        .and_then(|d| chrono::DateTime::from_timestamp(d.secs(), 0)),
                    username: u.username().unwrap_or_default().to_owned(),
                    sub: sub_of(u.attributes()),
                    email: attribute("email").map(str::to_owned),
                    email_verified: attribute("email_verified") == Some("true"),
                    enabled: u.enabled(),
                }
            })
            .collect();
        Ok((users, found.pagination_token().map(str::to_owned)))
    }

    /// Creates a confirmed user with this email (marked verified when sign-up proved it
    /// with a code), named as the pool's shape requires, and
    /// a long random permanent password nobody knows (so the account exists for
    /// CUSTOM_AUTH but has no usable password). If the password cannot be set the
    /// half-made user is deleted again.
    pub async fn create_user(
        &self,
        email: &str,
        email_verified: bool,
    ) -> Result<CreatedUser, CognitoError> {
        let shape = self.shape().await?;
        let attribute = |name: &str, value: &str| {
            AttributeType::builder()
                .name(name)
                .value(value)
                .build()
                .map_err(|e| CognitoError::Failed {
                    operation: "AdminCreateUser",
                    detail: e.to_string(),
                })
        };
        let mut attributes = vec![attribute("email", email)?];
        if email_verified {
            attributes.push(attribute("email_verified", "true")?);
        }
        let created = self
            .client
            .admin_create_user()
            .user_pool_id(&self.user_pool_id)
            .username(shape.username_for(email))
            .set_user_attributes(Some(attributes))
            .message_action(MessageActionType::Suppress)
            .send()
            .await
            .map_err(create_failed)?;
        let user = created.user().ok_or_else(|| CognitoError::Failed {
            operation: "AdminCreateUser",
            detail: "no user in the answer".to_owned(),
        })?;
        let username = user.username().unwrap_or_default().to_owned();
        let sub = sub_of(user.attributes());
        let created = CreatedUser { username, sub };
        if created.username.is_empty() || created.sub.is_empty() {
            self.delete_user(&created.username).await;
            return Err(CognitoError::Failed {
                operation: "AdminCreateUser",
                detail: "the answer lacks the username or sub".to_owned(),
            });
        }
        let set = self
            .client
            .admin_set_user_password()
            .user_pool_id(&self.user_pool_id)
            .username(&created.username)
            .password(unusable_password())
            .permanent(true)
            .send()
            .await;
        if let Err(e) = set {
            self.delete_user(&created.username).await;
            return Err(failed("AdminSetUserPassword", e));
        }
        Ok(created)
    }

    /// The groups `username` is in (`AdminListGroupsForUser`, every page).
    pub async fn groups_of(&self, username: &str) -> Result<Vec<String>, CognitoError> {
        let mut groups = Vec::new();
        let mut next: Option<String> = None;
        loop {
            let page = self
                .client
                .admin_list_groups_for_user()
                .user_pool_id(&self.user_pool_id)
                .username(username)
                .limit(60)
                .set_next_token(next.take())
                .send()
                .await
                .map_err(|e| failed("AdminListGroupsForUser", e))?;
            groups.extend(
                page.groups()
                    .iter()
                    .filter_map(|g| g.group_name().map(str::to_owned)),
            );
            match page.next_token() {
                Some(t) if !t.is_empty() => next = Some(t.to_owned()),
                _ => return Ok(groups),
            }
        }
    }

    /// Links the user's federated identity at the pool's OIDC identity provider
    /// `provider` (whose `sub` is the user's own Cognito `sub`) to the user `username`, so
    /// that a sign-in through that provider yields this user's tokens, not a new user's.
    pub async fn link_provider(
        &self,
        username: &str,
        provider: &str,
        sub: &str,
    ) -> Result<(), CognitoError> {
        use cip::types::ProviderUserIdentifierType as Id;
        self.client
            .admin_link_provider_for_user()
            .user_pool_id(&self.user_pool_id)
            .destination_user(
                Id::builder()
                    .provider_name("Cognito")
                    .provider_attribute_value(username)
                    .build(),
            )
            .source_user(
                Id::builder()
                    .provider_name(provider)
                    .provider_attribute_name("Cognito_Subject")
                    .provider_attribute_value(sub)
                    .build(),
            )
            .send()
            .await
            .map_err(|e| failed("AdminLinkProviderForUser", e))?;
        Ok(())
    }

    /// Signs the user out everywhere: their refresh tokens (and the access tokens minted
    /// from them) stop working.
    pub async fn global_sign_out(&self, username: &str) -> Result<(), CognitoError> {
        self.client
            .admin_user_global_sign_out()
            .user_pool_id(&self.user_pool_id)
            .username(username)
            .send()
            .await
            .map_err(|e| failed("AdminUserGlobalSignOut", e))?;
        Ok(())
    }

    /// Deletes a user; one that is already gone counts as deleted.
    pub async fn try_delete_user(&self, username: &str) -> Result<(), CognitoError> {
        match self
            .client
            .admin_delete_user()
            .user_pool_id(&self.user_pool_id)
            .username(username)
            .send()
            .await
        {
            Ok(_) => Ok(()),
            Err(e)
                if e.as_service_error()
                    .is_some_and(|s| s.is_user_not_found_exception()) =>
            {
                Ok(())
            }
            Err(e) => Err(failed("AdminDeleteUser", e)),
        }
    }

    /// Best-effort removal of a user this server just created (undoing a sign-up that
    /// could not be finished). Failure is logged; the sign-up sweep tries again later.
    pub async fn delete_user(&self, username: &str) -> bool {
        if username.is_empty() {
            return false;
        }
        match self.try_delete_user(username).await {
            Ok(()) => true,
            Err(e) => {
                tracing::error!(username, error = %e, "could not undo a half-finished sign-up; the sign-up sweep will retry");
                false
            }
        }
    }
}

/// What is wrong, or cannot be checked, about the ceremony lifetime against each app
/// client's `AuthSessionValidity`: a username-first ceremony outliving the Cognito
/// session it answers fails at Cognito after the user has touched the authenticator.
/// Each line names the setting to change; rp-server logs them as warnings at start.
pub async fn session_validity_warnings(
    ceremony_ttl: std::time::Duration,
    client_ids: &[String],
    admin: Option<&CognitoAdmin>,
) -> Vec<String> {
    let secs = ceremony_ttl.as_secs();
    let Some(admin) = admin else {
        return vec![format!(
            "cannot check RP_CEREMONY_TTL_SECS ({secs} s) against the app clients' AuthSessionValidity without RP_COGNITO_USER_POOL_ID; keep it at most the clients' session validity (Cognito's default is 3 minutes)"
        )];
    };
    let mut warnings = Vec::new();
    for client in client_ids {
        match admin.session_validity_minutes(client).await {
            Ok(minutes) if secs > u64::from(minutes) * 60 => warnings.push(format!(
                "RP_CEREMONY_TTL_SECS ({secs} s) outlasts app client {client}'s AuthSessionValidity ({minutes} min): a username-first sign-in slower than that fails at Cognito; lower RP_CEREMONY_TTL_SECS to {} or raise AuthSessionValidity",
                u64::from(minutes) * 60
            )),
            Ok(_) => {}
            Err(e) => warnings.push(format!(
                "cannot check RP_CEREMONY_TTL_SECS against app client {client}'s AuthSessionValidity ({e}); allow cognito-idp:DescribeUserPoolClient, or keep it at most the client's session validity (Cognito's default is 3 minutes)"
            )),
        }
    }
    warnings
}

/// A `ListUsers` filter matching `attribute` exactly, the value quoted as Cognito's
/// filter syntax wants (backslash and double quote escaped).
fn equals_filter(attribute: &str, value: &str) -> String {
    filter(attribute, "=", value)
}

fn prefix_filter(attribute: &str, prefix: &str) -> String {
    filter(attribute, "^=", prefix)
}

/// A ListUsers filter, the value quoted and escaped.
fn filter(attribute: &str, operator: &str, value: &str) -> String {
    format!(
        "{attribute} {operator} \"{}\"",
        value.replace('\\', "\\\\").replace('"', "\\\"")
    )
}

/// The `sub` attribute among a user's attributes ("" when absent).
fn sub_of(attributes: &[AttributeType]) -> String {
    attributes
        .iter()
        .find(|a| a.name() == "sub")
        .and_then(|a| a.value())
        .unwrap_or_default()
        .to_owned()
}

/// A password no one knows that every policy Cognito allows accepts: 128 characters
/// (a policy asks for at most 99; Cognito takes up to 256) from the OS random
/// generator, with a lowercase letter, an uppercase letter, a digit and one of
/// Cognito's symbols guaranteed.
fn unusable_password() -> String {
    use base64::Engine as _;
    let mut bytes = [0u8; 93];
    rand::rngs::OsRng.unwrap_err().fill_bytes(&mut bytes);
    format!(
        "{}aA1^",
        base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes)
    )
}

/// What an `AdminCreateUser` failure means for sign-up: the email is another user's
/// username, or (where it is an alias) another user's verified alias, which is never
/// moved (no `ForceAliasCreation`) — `EmailTaken`; anything else a failure. The SDK does
/// not model `AliasExistsException` for this operation: it arrives by its code.
fn create_failed(
    e: cip::error::SdkError<cip::operation::admin_create_user::AdminCreateUserError>,
) -> CognitoError {
    use cip::error::ProvideErrorMetadata as _;
    use cip::operation::admin_create_user::AdminCreateUserError as E;
    match e.as_service_error() {
        Some(E::UsernameExistsException(_)) => CognitoError::EmailTaken,
        Some(other) if other.code() == Some("AliasExistsException") => CognitoError::EmailTaken,
        _ => failed("AdminCreateUser", e),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_unusable_password_meets_every_policy_cognito_allows() {
        for _ in 0..100 {
            let p = unusable_password();
            assert_eq!(p.chars().count(), 128);
            assert!(p.chars().any(|c| c.is_ascii_lowercase()));
            assert!(p.chars().any(|c| c.is_ascii_uppercase()));
            assert!(p.chars().any(|c| c.is_ascii_digit()));
            assert!(
                p.chars()
                    .any(|c| "^$*.[]{}()?-\"!@#%&/\\,><':;|_~`+=".contains(c))
            );
        }
        assert_ne!(unusable_password(), unusable_password());
    }

    #[test]
    fn usernames_follow_the_pool_shape() {
        let s = |u: &[&str], a: &[&str]| {
            let v = |x: &[&str]| x.iter().map(|s| (*s).to_owned()).collect::<Vec<_>>();
            PoolShape::of(&v(u), &v(a))
        };
        assert_eq!(s(&["email"], &[]), PoolShape::EmailUsername);
        assert_eq!(s(&["phone_number", "email"], &[]), PoolShape::EmailUsername);
        assert_eq!(s(&[], &["email"]), PoolShape::EmailAlias);
        assert_eq!(s(&[], &["preferred_username"]), PoolShape::Username);
        assert_eq!(s(&[], &[]), PoolShape::Username);
        assert_eq!(PoolShape::EmailUsername.username_for("a@b.c"), "a@b.c");
        assert_eq!(PoolShape::Username.username_for("a@b.c"), "a@b.c");
        let alias = PoolShape::EmailAlias.username_for("a@b.c");
        assert!(!alias.contains('@') && uuid::Uuid::parse_str(&alias).is_ok());
    }
}

/// Verified emails by `sub`, for five minutes: how the audit names console admins without
/// asking Cognito on each of their requests. At most [`EmailCache::CAPACITY`] entries
/// (emptied when full: the admins of one deployment are few).
#[derive(Default)]
pub struct EmailCache(
    std::sync::Mutex<std::collections::HashMap<String, (Option<String>, std::time::Instant)>>,
);

impl EmailCache {
    pub const CAPACITY: usize = 1024;
    const TTL: std::time::Duration = std::time::Duration::from_secs(300);

    fn get(&self, sub: &str) -> Option<Option<String>> {
        let map = self.0.lock().unwrap_or_else(|p| p.into_inner());
        map.get(sub)
            .filter(|(_, at)| at.elapsed() < Self::TTL)
            .map(|(email, _)| email.clone())
    }

    fn put(&self, sub: &str, email: Option<String>) {
        let mut map = self.0.lock().unwrap_or_else(|p| p.into_inner());
        if map.len() >= Self::CAPACITY {
            map.clear();
        }
        map.insert(sub.to_owned(), (email, std::time::Instant::now()));
    }
}
