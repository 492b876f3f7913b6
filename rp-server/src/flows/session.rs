//! Sessions an account reset has ended: their access tokens are refused everywhere.

use chrono::{DateTime, Utc};

use super::Context;
use crate::auth::CognitoUser;
use crate::store;

#[derive(Debug, thiserror::Error)]
pub enum SessionError {
    #[error("This session has been ended; sign in again.")]
    Revoked,
    #[error(transparent)]
    Db(#[from] sqlx::Error),
}

/// Whether a token issued at `issued_at` belongs to a session ended at `not_before`.
/// Token times have whole seconds, so a token from the very second of the reset is
/// refused too, as is one without `iat`.
pub fn ended(issued_at: Option<i64>, not_before: Option<DateTime<Utc>>) -> bool {
    match (not_before, issued_at) {
        (None, _) => false,
        (Some(_), None) => true,
        (Some(nb), Some(iat)) => iat <= nb.timestamp(),
    }
}

/// Refuses the token of a session an account reset has ended.
#[tracing::instrument(skip_all)]
pub async fn check(cx: &Context, who: &CognitoUser) -> Result<(), SessionError> {
    let not_before =
        store::users::sessions_not_before(&cx.db, &cx.site.id, &who.sub, &who.groups).await?;
    if ended(who.issued_at, not_before) {
        return Err(SessionError::Revoked);
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens_of_ended_sessions_are_refused() {
        let reset = DateTime::from_timestamp(1_900_000_000, 500_000_000);
        let t = 1_900_000_000;
        assert!(!ended(Some(t - 10), None));
        assert!(!ended(None, None));
        assert!(ended(Some(t - 10), reset));
        assert!(ended(Some(t), reset), "the second of the reset");
        assert!(!ended(Some(t + 1), reset));
        assert!(ended(None, reset));
    }
}
