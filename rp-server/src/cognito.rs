//! The Cognito admin calls of passkey-first sign-up, through the official SDK.

use aws_sdk_cognitoidentityprovider as cip;
use cip::types::{AttributeType, MessageActionType};
use rand::RngCore as _;

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
}

impl CognitoAdmin {
    pub fn new(client: cip::Client, user_pool_id: String) -> Self {
        Self {
            client,
            user_pool_id,
        }
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

    /// Users whose `email` attribute is `email` (at most `limit`).
    pub async fn users_with_email(
        &self,
        email: &str,
        limit: i32,
    ) -> Result<Vec<PoolUser>, CognitoError> {
        let filter = format!(
            "email = \"{}\"",
            email.replace('\\', "\\\\").replace('"', "\\\"")
        );
        let found = self
            .client
            .list_users()
            .user_pool_id(&self.user_pool_id)
            .filter(filter)
            .limit(limit)
            .send()
            .await
            .map_err(|e| failed("ListUsers", e))?;
        Ok(found
            .users()
            .iter()
            .map(|u| PoolUser {
                created: u
                    .user_create_date()
                    .and_then(|d| chrono::DateTime::from_timestamp(d.secs(), 0)),
                username: u.username().unwrap_or_default().to_owned(),
                sub: sub_of(u.attributes()),
            })
            .collect())
    }

    /// Creates a confirmed user with this email and a long random permanent password
    /// nobody knows (so the account exists for CUSTOM_AUTH but has no usable password).
    /// If the password cannot be set the half-made user is deleted again.
    pub async fn create_user(&self, email: &str) -> Result<CreatedUser, CognitoError> {
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
        let created = self
            .client
            .admin_create_user()
            .user_pool_id(&self.user_pool_id)
            .username(email)
            .user_attributes(attribute("email", email)?)
            .message_action(MessageActionType::Suppress)
            .send()
            .await
            .map_err(|e| match e.as_service_error() {
                Some(cip::operation::admin_create_user::AdminCreateUserError::UsernameExistsException(_)) => {
                    CognitoError::EmailTaken
                }
                _ => failed("AdminCreateUser", e),
            })?;
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

/// The `sub` attribute among a user's attributes ("" when absent).
fn sub_of(attributes: &[AttributeType]) -> String {
    attributes
        .iter()
        .find(|a| a.name() == "sub")
        .and_then(|a| a.value())
        .unwrap_or_default()
        .to_owned()
}

/// 64 random base64url characters plus one of each class most password policies ask for.
fn unusable_password() -> String {
    use base64::Engine as _;
    let mut bytes = [0u8; 48];
    rand::rngs::OsRng.fill_bytes(&mut bytes);
    format!(
        "{}Aa1!",
        base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes)
    )
}
