//! The time every expiry is measured against. Production uses the system clock; tests
//! use a manual clock they can move forward, so expiry is tested without sleeping.

use std::sync::{Arc, Mutex};

use chrono::{DateTime, Utc};

#[derive(Clone, Debug, Default)]
pub struct Clock(Option<Arc<Mutex<DateTime<Utc>>>>);

impl Clock {
    /// The system clock.
    pub fn system() -> Self {
        Self(None)
    }

    /// A clock that stands still until [`Clock::advance`] moves it.
    pub fn manual(start: DateTime<Utc>) -> Self {
        Self(Some(Arc::new(Mutex::new(start))))
    }

    pub fn now(&self) -> DateTime<Utc> {
        match &self.0 {
            None => Utc::now(),
            Some(t) => *t.lock().unwrap_or_else(|p| p.into_inner()),
        }
    }

    /// Moves a manual clock forward; the system clock ignores it.
    pub fn advance(&self, by: std::time::Duration) {
        if let Some(t) = &self.0 {
            let mut guard = t.lock().unwrap_or_else(|p| p.into_inner());
            *guard += chrono::Duration::from_std(by).unwrap_or(chrono::Duration::MAX);
        }
    }
}
