//! The applications table: under applicant and target (R-APP).

use super::Store;
use crate::domain::account::{Realm, account_key};
use crate::domain::application::Application;
use crate::error::ApiError;

impl Store {
    /// The applications an account made or received, newest first (one query).
    pub async fn applications_of(&self, account: &str, limit: i32) -> Result<Vec<Application>, ApiError> {
        self.newest(&self.tables.applications, &account_key(Realm::Utokyo, account), limit).await
    }
}
