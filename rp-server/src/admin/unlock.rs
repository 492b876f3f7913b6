//! Email codes from the admin's side: unlocking an address that wrong codes locked
//! ([`crate::flows::email::limits`]).

use serde::Serialize;
use utoipa::ToSchema;

use super::{AdminError, AdminService, UserRef};
use crate::audit::{self, Action, Event};
use crate::flows::email::limits::failures_of_address;
use crate::store;

/// What an unlock did.
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct Unlocked {
    pub user_sub: String,
    /// The address whose failed code verifications were forgiven.
    pub email: String,
    /// Whether it had any (`false`: nothing was locked or counted).
    pub had_failures: bool,
}

impl AdminService<'_> {
    /// The user's verified address, as Cognito has it (`None` without a pool or address).
    pub(super) async fn verified_email(&self, sub: &str) -> Option<String> {
        let cognito = self.cognito?;
        match cognito.verified_email_of(sub).await {
            Ok(email) => email,
            Err(e) => {
                tracing::error!(error = %e, %sub, "could not read the user's email from Cognito");
                None
            }
        }
    }

    /// Forgives every failed email-code verification of the user's verified address, so
    /// codes work again at once (the per-day and the lifetime lock both end).
    #[tracing::instrument(skip_all)]
    pub async fn unlock(&self, sub: &str) -> Result<Unlocked, AdminError> {
        let user = self.find_user(&UserRef::Sub(sub.to_owned())).await?;
        if self.cognito.is_none() {
            return Err(AdminError::Invalid(
                "unlocking needs the user pool (RP_COGNITO_USER_POOL_ID) to find the user's address".to_owned(),
            ));
        }
        let email = self
            .verified_email(&user.cognito_sub)
            .await
            .ok_or_else(|| {
                AdminError::Invalid("the user has no verified email address in Cognito".to_owned())
            })?;
        let mut tx = self.db.begin().await?;
        let had_failures =
            store::limits::clear(&mut *tx, self.site, &failures_of_address(&email)).await?;
        audit::record(
            &mut *tx,
            self.site,
            self.now,
            Event::new(self.admin(), Action::EmailUnlocked)
                .user(user.id, &user.cognito_sub)
                .details(serde_json::json!({ "email": email, "hadFailures": had_failures })),
        )
        .await?;
        tx.commit().await?;
        Ok(Unlocked {
            user_sub: user.cognito_sub,
            email,
            had_failures,
        })
    }
}
